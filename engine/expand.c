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

/* --resume: settles unit idx with what the resumed run recorded for it. */
void wf__reuse_unit(wf_run *r, uint32_t t, uint32_t idx, json_object *rec, const char *item_hash)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    wf_completion c;
    json_object *v = NULL, *from = NULL;
    wf_output_mode mode;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_event ev = { .kind = WF_EVENT_UNIT_END, .task = task->name, .reused = true };
    char label_buf[WF__LABEL_MAX + 1];

    memset(&c, 0, sizeof(c));
    c.status = WF_STATUS_SUCCEEDED;
    c.start_ms = c.end_ms = wf_now_ms();
    c.exit_code =
        json_object_object_get_ex(rec, "exit_code", &v) && v != NULL ? json_object_get_int(v) : -1;
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
        /* Recorded as the stdout blob converted: the new record says the same (no copy). */
        c.result_from = wf_output_mode_name(mode);
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
    ts->units[idx].status = WF_STATUS_SUCCEEDED;
    ts->units[idx].flags |= WF__U_REUSED | (c.exit_code == 0 ? WF__U_EXIT0 : 0);
    if (wf__detail_all(ts) || (c.exit_code != 0 && c.exit_code != -1))
        wf__detail_put(ts, idx)->exit_code = c.exit_code;
    wf__unit_value_set(ts, idx, wf_json_copy(v));
    ts->ended++;
    r->units_done++;
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    ev.label = wf__unit_label(r, t, idx, label_buf);
    ev.status = WF_STATUS_SUCCEEDED;
    ev.exit_code = c.exit_code;
    wf__emit(r, &ev);
    free(c.result_json);
    wf_strbuf_release(&sb);
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
 * (into hex) starts with the recorded digest. */
static bool same_item(wf_run *r, uint32_t t, const wf__reuse_span *sp, uint32_t idx, wf_strbuf *sb,
                      char hex[WF_SHA256_HEX_LEN + 1])
{
    const unsigned char *d;
    const json_object *item = NULL;
    json_object *own = NULL;

    if (sp->digests == NULL)
        return false;
    if (!wf__items_get(r->tasks[t].items, idx, &item, &own, NULL))
        return false; /* it cannot be read: it runs, and fails saying why */
    d = sp->digests + (size_t)(idx - sp->first) * WF_STORE_DIGEST_LEN;
    wf_strbuf_reset(sb);
    wf_json_write(sb, item);
    json_object_put(own);
    wf_sha256_hex(wf_strbuf_str(sb), sb->len, hex);
    for (int i = 0; i < WF_STORE_DIGEST_LEN; i++) {
        static const char digits[] = "0123456789abcdef";

        if (hex[2 * i] != digits[d[i] >> 4] || hex[2 * i + 1] != digits[d[i] & 15])
            return false;
    }
    return true;
}

bool wf__reuse_take(wf_run *r, uint32_t t, uint32_t idx)
{
    const wf__reuse_span *sp = find_span(r->tasks[t].reuse, idx);
    wf_strbuf sb = WF_STRBUF_INIT;
    char hex[WF_SHA256_HEX_LEN + 1];
    bool same = sp != NULL && same_item(r, t, sp, idx, &sb, hex);

    wf_strbuf_release(&sb);
    if (same)
        wf__reuse_unit(r, t, idx, sp->rec, hex);
    return same;
}

/* --resume for a with-items task: items whose item is unchanged and that succeeded in the
 * resumed run are taken from it. Returns how many. */
size_t wf__reuse_items(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf__reuse_task *rt = ts->reuse;
    size_t n = 0;
    wf_strbuf sb = WF_STRBUF_INIT;
    char hex[WF_SHA256_HEX_LEN + 1];

    for (size_t k = 0; rt != NULL && k < rt->n; k++) {
        const wf__reuse_span *sp = &rt->spans[k];

        for (int64_t i = sp->first < 0 ? 0 : sp->first; i <= sp->last && (size_t)i < ts->n_units;
             i++) {
            if (!same_item(r, t, sp, (uint32_t)i, &sb, hex))
                continue;
            wf__reuse_unit(r, t, (uint32_t)i, sp->rec, hex);
            n++;
        }
    }
    wf_strbuf_release(&sb);
    wf__advance_next(ts);
    return n;
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
    wf_tpl_list list;
    wf_error err;
    char *path, *why = NULL;
    const char *slash;
    int rc;

    *src = NULL;
    if (task->items_kind != WF_ITEMS_LIST || task->items->kind != WF_VNODE_TEMPLATE ||
        !wf_tpl_is_lazy_list(task->items->tpl))
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
        rc = wf__matrix_expand(task, ts->ctx, &own, &err);
        list = own;
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
    if (rt->n == rt->cap) {
        rt->cap = rt->cap ? rt->cap * 2 : 4;
        rt->spans = wf_xrealloc(rt->spans, rt->cap * sizeof(*rt->spans));
    }
    sp = &rt->spans[rt->n++];
    sp->first = u->first;
    sp->last = u->last;
    sp->digests = NULL;
    if (u->digests != NULL) {
        size_t len = (size_t)(u->last - u->first + 1) * WF_STORE_DIGEST_LEN;

        sp->digests = wf_xmalloc(len);
        memcpy(sp->digests, u->digests, len);
    }
    rec = json_object_new_object();
    json_object_object_add(rec, "result", json_object_get(u->result));
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
    wf_error err;

    if (r->opts.resume_run == NULL)
        return WF_OK;
    wf_error_init(&err);
    r->reuse_tasks = wf_xcalloc(r->wf->n_tasks ? r->wf->n_tasks : 1, sizeof(*r->reuse_tasks));
    if (wf_store_succeeded_each(r->store, r->opts.resume_run, NULL, collect_reused, r, &err) !=
        WF_OK) {
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
