/*
 * expand.c: a task's units. A with-items task's list (a literal, a template, a matrix,
 * batches) is evaluated when its dependencies are done (dynamic expansion) into an item
 * source (items.h): lent rather than copied where it can be, and never built at all for
 * `<< range(...) >>` and `<< file_lines(...) >>`; --resume settles the units that the resumed
 * run has (an unchanged item that succeeded there) without running them.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* Skips units that were settled out of order (taken from the resumed run). */
void wf__advance_next(wf_task_state *ts)
{
    while (ts->next_unit < ts->n_units && ts->units[ts->next_unit].status != WF_STATUS_PENDING)
        ts->next_unit++;
}

/* What a span of the resumed run recorded that each of its units takes. */
typedef struct reused_rec {
    int exit_code;
    const json_object *result; /* borrowed from the span's record; NULL is JSON null */
} reused_rec;

static reused_rec reused_rec_of(json_object *rec)
{
    reused_rec rr = { .exit_code = -1 };
    json_object *v = NULL;

    if (json_object_object_get_ex(rec, "exit_code", &v) && v != NULL)
        rr.exit_code = json_object_get_int(v);
    v = NULL;
    json_object_object_get_ex(rec, "result", &v);
    rr.result = v;
    return rr;
}

/* The result of u (a run of one unit: ranges hold no blob results), a reference to its blob
 * when the store left it unread (WF_STORE_RESULTS_UNREAD), else a copy of the value. Owned. */
static json_object *reused_result(wf_run *r, const wf_store_reused *u)
{
    wf_output_mode mode = WF_OUTPUT_JSON; /* a result blob is the value's JSON */
    const char *hash = u->result_hash;
    json_object *marker;
    char *label;

    if (!u->result_unread)
        return wf_json_copy_refs(u->result);
    if (u->result_from != NULL && wf_output_mode_parse(u->result_from, &mode) &&
        (hash == NULL || hash[0] == '\0'))
        hash = u->stdout_hash;
    label = u->first >= 0 ? wf_xasprintf("task '%s' item %lld (run %s)", u->task,
                                         (long long)u->first, r->opts.resume_run)
                          : wf_xasprintf("task '%s' (run %s)", u->task, r->opts.resume_run);
    marker = wf__stored_ref(r, hash, mode, u->result_size, u->result_lines, label);
    free(label);
    return marker;
}

/* --resume: unit idx takes what the resumed run recorded for it: its state, exit code and
 * value, counted as ended. Nothing recorded, no event. */
static void settle_reused(wf_run *r, uint32_t t, uint32_t idx, const reused_rec *rr)
{
    wf_task_state *ts = &r->tasks[t];

    ts->units[idx].status = WF_STATUS_SUCCEEDED;
    ts->units[idx].flags |= WF__U_REUSED | (rr->exit_code == 0 ? WF__U_EXIT0 : 0);
    if (wf__detail_all(ts) || (rr->exit_code != 0 && rr->exit_code != -1))
        wf__detail_put(ts, idx)->exit_code = rr->exit_code;
    if (rr->result != NULL)
        wf__unit_value_set(r, ts, idx, wf_json_copy_refs(rr->result));
    ts->ended++;
    r->units_done++;
}

void wf__reuse_unit(wf_run *r, uint32_t t, uint32_t idx, json_object *rec, const char *item_hash)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_completion c;
    json_object *v = NULL, *from = NULL;
    wf_output_mode mode;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_event ev = { .kind = WF_EVENT_UNIT_END, .task = task->name, .reused = true, .n_units = 1 };
    char label_buf[WF__LABEL_MAX + 1];
    reused_rec rr;

    memset(&c, 0, sizeof(c));
    c.status = WF_STATUS_SUCCEEDED;
    c.start_ms = c.end_ms = wf_now_ms();
    rr = reused_rec_of(rec);
    settle_reused(r, t, idx, &rr);
    c.exit_code = rr.exit_code;
    if (json_object_object_get_ex(rec, "stdout_hash", &v) && v != NULL)
        snprintf(c.stdout_hash, sizeof(c.stdout_hash), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(rec, "stderr_hash", &v) && v != NULL)
        snprintf(c.stderr_hash, sizeof(c.stderr_hash), "%s", json_object_get_string(v));
    if (item_hash != NULL)
        snprintf(c.item_hash, sizeof(c.item_hash), "%s", item_hash);
    v = NULL;
    json_object_object_get_ex(rec, "result", &v);
    if (json_object_object_get_ex(rec, "result_from", &from) && from != NULL &&
        wf_output_mode_parse(json_object_get_string(from), &mode)) {
        /* Recorded as a blob converted (the stdout's, or a large $WF_RESULT's): the new
         * record says the same (no copy). */
        c.result_from = wf_output_mode_name(mode);
        if (json_object_object_get_ex(rec, "result_hash", &from) && from != NULL &&
            json_object_get_string_len(from) == WF_SHA256_HEX_LEN)
            snprintf(c.result_hash, sizeof(c.result_hash), "%s", json_object_get_string(from));
    } else if (json_object_object_get_ex(rec, "result_hash", &from) && from != NULL &&
               json_object_get_string_len(from) == WF_SHA256_HEX_LEN) {
        snprintf(c.result_hash, sizeof(c.result_hash), "%s", json_object_get_string(from));
    } else {
        wf_json_write(&sb, v);
        if (sb.len <= WF_STORE_INLINE_MAX) {
            c.result_json = wf_strbuf_detach(&sb, NULL);
        } else {
            wf_error err;

            wf_error_init(&err);
            wf_store_put_blob(r->store, sb.buf, sb.len, c.result_hash, &err);
            wf_error_release(&err);
        }
    }
    wf__record_unit(r, t, idx, &c, 1, true);
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    ev.label = wf__unit_label(r, t, idx, label_buf);
    ev.status = WF_STATUS_SUCCEEDED;
    ev.exit_code = c.exit_code;
    wf__emit(r, &ev);
    free(c.result_json);
    wf_strbuf_release(&sb);
}

/* --resume: units first..last of a with-items task, settled from the resumed run already,
 * recorded as one span (the store copies what the resumed run has for them) and told as one
 * UNIT_END (n_units). exit_code: the first unit's. */
static void reused_span(wf_run *r, uint32_t t, int64_t first, int64_t last, int exit_code)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_event ev = { .kind = WF_EVENT_UNIT_END, .task = task->name, .reused = true };
    wf_strbuf name = WF_STRBUF_INIT;

    if (r->store != NULL)
        wf_store_record_reused(r->store, r->run_id, wf__task_display_name(r, task, &name),
                               r->opts.resume_run, first, last, wf__run_wall_ms(r, wf_now_ms()));
    wf_strbuf_release(&name);
    ev.index = first;
    ev.n_units = (size_t)(last - first + 1);
    ev.status = WF_STATUS_SUCCEEDED;
    ev.exit_code = exit_code;
    wf__emit(r, &ev);
}

/* The span of rt that holds unit idx, or NULL (binary search). */
static const wf__reuse_span *find_span(const wf__reuse_task *rt, int64_t idx)
{
    size_t lo = 0, hi = rt != NULL ? rt->n : 0;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (rt->spans[mid].last < idx)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < (rt != NULL ? rt->n : 0) && rt->spans[lo].first <= idx ? &rt->spans[lo] : NULL;
}

bool wf__reuse_has(const wf_task_state *ts, uint32_t idx)
{
    if (ts->reuse == NULL)
        return false;
    /* A plain task's one span is -1..-1. */
    if (ts->reuse->n == 1 && ts->reuse->spans[0].first < 0)
        return true;
    return find_span(ts->reuse, idx) != NULL;
}

/* Whether item idx of the task is the one the span recorded: the SHA256 of its compact JSON
 * starts with the recorded digest. With hex, its digest in hex goes there. */
static bool same_item(wf_run *r, uint32_t t, const unsigned char *digests, int64_t first,
                      uint32_t idx, wf_strbuf *sb, wf_sha256 *h, char hex[WF_SHA256_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char d[WF_SHA256_LEN];
    const json_object *item = NULL;
    json_object *own = NULL;

    const wf_items *items = r->tasks[t].items;
    char num[24], *p = num + sizeof(num);
    const char *text;
    size_t len;

    if (digests == NULL)
        return false;
    if (items->kind == WF_ITEMS_SRC_RANGE && items->batch == 0) {
        /* Item idx of a range is lo + idx, whose compact JSON is its decimal digits: written
         * here, so that checking 10,000,000 of them makes no JSON value and no printf. */
        int64_t v = items->lo + (int64_t)idx;
        uint64_t m = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

        do {
            *--p = (char)('0' + m % 10);
            m /= 10;
        } while (m > 0);
        if (v < 0)
            *--p = '-';
        text = p;
        len = (size_t)(num + sizeof(num) - p);
    } else {
        if (!wf__items_get(r->tasks[t].items, idx, &item, &own, NULL))
            return false; /* it cannot be read: it runs, and fails saying why */
        wf_strbuf_reset(sb);
        wf_json_write(sb, item);
        json_object_put(own);
        text = wf_strbuf_str(sb);
        len = sb->len;
    }
    wf_sha256_digest(h, text, len, d);
    if (memcmp(d, digests + (size_t)(idx - first) * WF_STORE_DIGEST_LEN, WF_STORE_DIGEST_LEN) != 0)
        return false;
    for (int i = 0; hex != NULL && i < WF_SHA256_LEN; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    if (hex != NULL)
        hex[WF_SHA256_HEX_LEN] = '\0';
    return true;
}

bool wf__reuse_take(wf_run *r, uint32_t t, uint32_t idx)
{
    const wf__reuse_span *sp = find_span(r->tasks[t].reuse, idx);
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_sha256 *h = wf_sha256_new();
    char hex[WF_SHA256_HEX_LEN + 1];
    bool same = sp != NULL && same_item(r, t, sp->digests, sp->first, idx, &sb, h, hex);

    wf_sha256_free(h);
    wf_strbuf_release(&sb);
    if (same)
        wf__reuse_unit(r, t, idx, sp->rec, hex);
    return same;
}

/* wf__reuse_items's walk over the resumed run's succeeded units of one task. */
typedef struct reuse_walk {
    wf_run *r;
    uint32_t t;
    size_t n;
    wf_strbuf sb;
    wf_sha256 *h;
    int64_t first, last; /* the span of reused units not yet told (first -1: none) */
    int exit_code;       /* its first unit's */
    bool same_items;     /* the resumed run had the same list (its items_key): none compared */
} reuse_walk;

/* wf_store_succeeded_each's callback: settles the units of u whose item is unchanged. */
static int reuse_run_of_units(const wf_store_reused *u, void *ctx)
{
    reuse_walk *w = ctx;
    wf_task_state *ts = &w->r->tasks[w->t];
    json_object *result = reused_result(w->r, u);
    reused_rec rr = { .exit_code = u->exit_code, .result = result };

    for (int64_t i = u->first < 0 ? 0 : u->first; i <= u->last && (size_t)i < ts->n_units; i++) {
        if (ts->units[i].status != WF_STATUS_PENDING ||
            (!w->same_items &&
             !same_item(w->r, w->t, u->digests, u->first, (uint32_t)i, &w->sb, w->h, NULL)))
            continue;
        settle_reused(w->r, w->t, (uint32_t)i, &rr);
        w->n++;
        if (i != w->last + 1) {
            if (w->first >= 0)
                reused_span(w->r, w->t, w->first, w->last, w->exit_code);
            w->first = i;
            w->exit_code = rr.exit_code;
        }
        w->last = i;
    }
    json_object_put(result);
    return WF_OK;
}

/* Whether the resumed run recorded the same item list for task t as it has now (the same
 * items_key: wf__items_key), so that no item needs comparing. */
static bool same_items(wf_run *r, uint32_t t, const char *name)
{
    char buf[40], *then = NULL;
    const char *now = wf__items_key(r->tasks[t].items, buf, sizeof(buf));
    wf_error err;
    bool same;

    if (now == NULL)
        return false;
    wf_error_init(&err);
    same = wf_store_task_items_key(r->store, r->opts.resume_run, name, &then, &err) == WF_OK &&
           then != NULL && strcmp(then, now) == 0;
    wf_error_release(&err);
    free(then);
    return same;
}

/* --resume for a with-items task: items whose item is unchanged and that succeeded in the
 * resumed run are taken from it, settled one by one in memory (a few bytes each) and
 * recorded and told by span of consecutive indices. The item digests are read from the store
 * now, a run of units at a time, not kept from the start of the run (8 bytes an item); none
 * are read or computed when the resumed run recorded the same list (a range: same_items).
 * Returns how many. */
size_t wf__reuse_items(wf_run *r, uint32_t t)
{
    reuse_walk w = { .r = r, .t = t, .sb = WF_STRBUF_INIT, .first = -1, .last = -2 };
    wf_strbuf name = WF_STRBUF_INIT;
    const char *tname;
    wf_error err;

    w.h = wf_sha256_new();
    wf_error_init(&err);
    tname = wf__task_display_name(r, &r->wf->tasks[t], &name);
    w.same_items = same_items(r, t, tname);
    if (wf_store_succeeded_each(r->store, r->opts.resume_run, tname,
                                WF_STORE_RESULTS_UNREAD | (w.same_items ? WF_STORE_NO_DIGESTS : 0),
                                reuse_run_of_units, &w, &err) != WF_OK) {
        /* What was not settled runs again. */
        char *msg = wf_xasprintf("cannot read what run %s has of the task (its items run "
                                 "again): %s",
                                 r->opts.resume_run, err.message ? err.message : "?");

        wf__emit_simple(r, WF_EVENT_WARNING, r->wf->tasks[t].name, msg);
        free(msg);
    }
    if (w.first >= 0)
        reused_span(r, t, w.first, w.last, w.exit_code);
    wf_error_release(&err);
    wf_strbuf_release(&name);
    wf_sha256_free(w.h);
    wf_strbuf_release(&w.sb);
    wf__advance_next(&r->tasks[t]);
    return w.n;
}

size_t wf__planned_units(const wf_task *task)
{
    size_t n = 1;

    if (task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_LIST)
        n = task->items->n;
    else if (task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_CONST &&
             json_object_is_type(task->items->constant, json_type_array))
        n = json_object_array_length(task->items->constant);
    if (task->batch_size > 0)
        n = (n + (size_t)task->batch_size - 1) / (size_t)task->batch_size;
    return n > 0 ? n : 1;
}

/* Creates n units for the task and, with queue, puts it on the ready list. */
void wf__task_add_units(wf_run *r, uint32_t t, size_t n, bool queue)
{
    wf_task_state *ts = &r->tasks[t];

    ts->n_units = n;
    ts->units = wf_xcalloc(n ? n : 1, sizeof(*ts->units));
    /* A large fan-out's results go to a file. Where none can be made, the run stops (a full
     * disk, exit 3): holding them in memory instead would break the memory budget. Until it
     * has stopped, they are kept in memory. */
    if (n > WF__VALUES_INLINE && r->wf->tasks[t].items_kind != WF_ITEMS_NONE) {
        char *why = NULL;

        ts->values_log = wf__values_log_new(r, t, n, &why);
        wf__run_disk_failed(r, why);
    }
    r->units_total = r->units_total - ts->planned + n;
    ts->planned = n;
    /* A with-items task is recorded as running now, so that a run killed before the task
     * ends still shows it with the items it recorded. (A plain task's one unit is recorded
     * when it ends, with the task: one record fewer per task on the hot path.) A `uses:`
     * task too: the tasks of the workflow it calls are then shown after it. */
    if (r->wf->tasks[t].items_kind != WF_ITEMS_NONE ||
        wf_task_extra_of(&r->wf->tasks[t])->called != NULL)
        wf__record_task(r, t);
    if (queue)
        wf__ready_push(r, t);
}

int wf__lazy_items(const wf_run *r, const wf_task *task, const wf_ctx *ctx, wf_items **src,
                   char **error)
{
    const json_object *ref;
    wf_tpl_list list;
    wf_error err;
    char *path, *why = NULL;
    const char *slash;
    int rc;

    *src = NULL;
    if (task->items_kind != WF_ITEMS_LIST || task->items->kind != WF_VNODE_TEMPLATE)
        return WF_OK;
    ref = wf_tpl_list_ref(task->items->tpl, ctx);
    if (ref != NULL) {
        uint64_t len = 0;

        /* Lines are capped where they are made; a JSON list by reference is not. */
        if (wf_ref_list_len(ref, &len) && len > WF_MAX_ITEMS) {
            *error = wf_xasprintf("with-items: the list has %llu items, more than the %d a task "
                                  "may expand to; split it into several tasks",
                                  (unsigned long long)len, WF_MAX_ITEMS);
            return WF_ERANGE;
        }
        *src = wf__items_ref(ref);
        return WF_OK;
    }
    if (!wf_tpl_is_lazy_list(task->items->tpl))
        return WF_OK;
    wf_error_init(&err);
    rc = wf_tpl_lazy_list(task->items->tpl, ctx, WF_MAX_ITEMS, &list, &err);
    if (rc != WF_OK) {
        *error = wf_xasprintf("with-items: %s", err.message ? err.message : wf_strerror(rc));
        wf_error_release(&err);
        return rc;
    }
    if (list.kind == WF_TPL_LIST_RANGE) {
        *src = wf__items_range(list.lo, list.n);
        return WF_OK;
    }
    slash = strrchr(r->wf->path, '/');
    path = list.path[0] == '/' || slash == NULL
               ? wf_xstrdup(list.path)
               : wf_xasprintf("%.*s/%s", (int)(slash - r->wf->path), r->wf->path, list.path);
    *src = wf__items_file(path, WF_MAX_ITEMS, &why);
    if (*src == NULL) {
        *error = wf_xasprintf("with-items: file_lines('%s'): %s", list.path, why);
        rc = WF_EINVAL;
    }
    free(why);
    free(path);
    free(list.path);
    return rc;
}

/* Evaluates the task's item list (a literal or template list, a matrix, a range or a file's
 * lines) into ts->items, lent where it can be (see wf_task_state). */
int wf__expand_items(wf_run *r, uint32_t t, char **error)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_error err;
    const json_object *list = NULL;
    json_object *own = NULL;
    wf_items *src = NULL;
    int rc;

    rc = wf__lazy_items(r, task, ts->ctx, &src, error);
    if (rc != WF_OK)
        return rc;
    if (src != NULL)
        goto done;
    wf_error_init(&err);
    if (task->items_kind == WF_ITEMS_MATRIX) {
        wf_matrix *m = NULL;

        /* Computed per item: a 10,000,000-combination matrix is never a list in memory. */
        rc = wf__matrix_open(task, ts->ctx, &m, &err);
        if (rc == WF_OK) {
            src = wf__items_matrix(m);
            goto done;
        }
    } else {
        rc = wf_vnode_eval_borrow(task->items, ts->ctx, &list, &own, &err);
    }
    if (rc != WF_OK) {
        *error = wf_xasprintf("with-items: %s", err.message ? err.message : wf_strerror(rc));
        wf_error_release(&err);
        return rc;
    }
    if (!json_object_is_type(list, json_type_array)) {
        const char *src_text = task->items->kind == WF_VNODE_TEMPLATE
                                   ? wf_tpl_source(task->items->tpl)
                                   : "the with-items value";

        const char *hint = json_object_is_type(list, json_type_object)
                               ? "; make a list of it with | items (key and value pairs), "
                                 "| values or | keys"
                           : json_object_is_type(list, json_type_string)
                               ? "; make a list of it with | lines or | split(\",\")"
                               : "";

        *error = wf_xasprintf("with-items (%s:%d:%d): '%s' gave %s, not a list%s", r->wf->path,
                              task->items_mark.line, task->items_mark.column, src_text,
                              wf_json_type_name(list), hint);
        json_object_put(own);
        return WF_ETYPE;
    }
    if (json_object_array_length(list) > WF_MAX_ITEMS) {
        *error = wf_xasprintf("with-items: the list has %zu items, more than the %d a task may "
                              "expand to; split it into several tasks",
                              json_object_array_length(list), WF_MAX_ITEMS);
        json_object_put(own);
        return WF_ERANGE;
    }
    src = wf__items_json(list, own);
done:
    if (ts->batch_size > 0)
        wf__items_set_batch(src, (size_t)ts->batch_size);
    ts->items = src;
    wf__labels_render(r, t);
    return WF_OK;
}

/* wf_store_succeeded_each's callback: files a run of units under its task. */
static int collect_reused(const wf_store_reused *u, void *ctx)
{
    wf_run *r = ctx;
    const char *name = u->task;
    const wf_task *task;
    wf__reuse_task *rt;
    wf__reuse_span *sp;
    json_object *rec;
    long t;

    /* A called workflow's run takes its own units: those under its prefix. */
    if (r->prefix != NULL) {
        size_t plen = strlen(r->prefix);

        if (strncmp(name, r->prefix, plen) != 0)
            return WF_OK;
        name += plen;
    }
    t = wf_workflow_task_index(r->wf, name);
    if (t < 0)
        return WF_OK; /* the task is gone from the workflow */
    task = &r->wf->tasks[t];
    if ((task->items_kind == WF_ITEMS_NONE) != (u->first < 0) || u->last >= INT32_MAX)
        return WF_OK;
    rt = &r->reuse_tasks[t];
    if (task->items_kind == WF_ITEMS_NONE)
        rt->n = 0; /* the latest attempt's, as before: one unit */
    /* A with-items task that is not pipelined reads its units again when it expands
     * (wf__reuse_items): here it only needs which indexes succeeded, so it keeps no record
     * and runs of units that follow each other are one span. A run of 1,000,000 units with
     * results of their own (rows, not ranges, in the store) held a JSON record and a span per
     * unit: 1.26 GB at --resume. */
    if (task->items_kind != WF_ITEMS_NONE && !task->pipeline) {
        if (rt->n > 0 && rt->spans[rt->n - 1].rec == NULL &&
            rt->spans[rt->n - 1].last + 1 == u->first) {
            rt->spans[rt->n - 1].last = u->last;
            r->tasks[t].reuse = rt;
            return WF_OK;
        }
    }
    if (rt->n == rt->cap) {
        rt->cap = rt->cap ? rt->cap * 2 : 4;
        rt->spans = wf_xrealloc(rt->spans, rt->cap * sizeof(*rt->spans));
    }
    sp = &rt->spans[rt->n++];
    sp->first = u->first;
    sp->last = u->last;
    sp->digests = NULL;
    /* A pipelined task takes its items one by one as they come (wf__reuse_take): it keeps
     * the digests. Any other reads them again when it expands (wf__reuse_items). */
    if (u->digests != NULL && task->pipeline) {
        size_t len = (size_t)(u->last - u->first + 1) * WF_STORE_DIGEST_LEN;

        sp->digests = wf_xmalloc(len);
        memcpy(sp->digests, u->digests, len);
    }
    sp->rec = NULL;
    r->tasks[t].reuse = rt;
    if (task->items_kind != WF_ITEMS_NONE && !task->pipeline)
        return WF_OK;
    rec = json_object_new_object();
    json_object_object_add(rec, "result", reused_result(r, u));
    json_object_object_add(rec, "stdout_hash", json_object_new_string(u->stdout_hash));
    json_object_object_add(rec, "stderr_hash", json_object_new_string(u->stderr_hash));
    json_object_object_add(rec, "exit_code", json_object_new_int(u->exit_code));
    if (u->result_hash[0] != '\0')
        json_object_object_add(rec, "result_hash", json_object_new_string(u->result_hash));
    if (u->result_from != NULL)
        json_object_object_add(rec, "result_from", json_object_new_string(u->result_from));
    sp->rec = rec;
    r->tasks[t].reuse = rt;
    return WF_OK;
}

/* --resume: what the resumed run has, per task. */
int wf__load_reuse(wf_run *r, wf_errlist *errs)
{
    unsigned flags = WF_STORE_RESULTS_UNREAD | WF_STORE_NO_DIGESTS;
    wf_error err;

    if (r->opts.resume_run == NULL)
        return WF_OK;
    /* Only a pipelined task keeps digests from here (collect_reused): without one, none are
     * read (8 bytes a unit of the resumed run). */
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        if (r->wf->tasks[t].pipeline)
            flags &= ~WF_STORE_NO_DIGESTS;
    }
    wf_error_init(&err);
    r->reuse_tasks = wf_xcalloc(r->wf->n_tasks ? r->wf->n_tasks : 1, sizeof(*r->reuse_tasks));
    if (wf_store_succeeded_each(r->store, r->opts.resume_run, NULL, flags, collect_reused, r,
                                &err) != WF_OK) {
        wf_error_move(wf_errlist_add(errs), &err);
        return WF_ESTORE;
    }
    wf_error_release(&err);
    return WF_OK;
}

void wf__reuse_free(wf_run *r)
{
    for (size_t t = 0; r->reuse_tasks != NULL && t < r->wf->n_tasks; t++) {
        for (size_t k = 0; k < r->reuse_tasks[t].n; k++) {
            free(r->reuse_tasks[t].spans[k].digests);
            json_object_put(r->reuse_tasks[t].spans[k].rec);
        }
        free(r->reuse_tasks[t].spans);
    }
    free(r->reuse_tasks);
    r->reuse_tasks = NULL;
}
