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
void wf__reuse_unit(wf_run *r, uint32_t t, uint32_t idx, json_object *rec)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    wf_completion c;
    json_object *v = NULL;
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
    if (json_object_object_get_ex(rec, "item_hash", &v) && v != NULL)
        snprintf(c.item_hash, sizeof(c.item_hash), "%s", json_object_get_string(v));
    v = NULL;
    json_object_object_get_ex(rec, "result", &v);
    wf_json_write(&sb, v);
    if (sb.len <= WF_STORE_INLINE_MAX) {
        c.result_json = wf_strbuf_detach(&sb, NULL);
    } else {
        wf_error err;

        wf_error_init(&err);
        wf_store_put_blob(r->store, sb.buf, sb.len, c.result_hash, &err);
        wf_error_release(&err);
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

/* --resume for a with-items task: items whose item is unchanged and that succeeded in the
 * resumed run are taken from it. Returns how many. */
size_t wf__reuse_items(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    size_t n = 0, len = json_object_array_length(ts->reuse);
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; i < len && i < ts->n_units; i++) {
        json_object *rec = json_object_array_get_idx(ts->reuse, i), *h = NULL, *own = NULL;
        const json_object *item = NULL;
        char digest[WF_SHA256_HEX_LEN + 1];

        if (rec == NULL || !json_object_object_get_ex(rec, "item_hash", &h) || h == NULL)
            continue;
        if (!wf__items_get(ts->items, i, &item, &own, NULL))
            continue; /* it cannot be read: it runs, and fails saying why */
        wf_strbuf_reset(&sb);
        wf_json_write(&sb, item);
        json_object_put(own);
        wf_sha256_hex(wf_strbuf_str(&sb), sb.len, digest);
        if (strcmp(digest, json_object_get_string(h)) != 0)
            continue;
        wf__reuse_unit(r, t, (uint32_t)i, rec);
        n++;
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
    if (r->wf->tasks[t].items_kind != WF_ITEMS_NONE || r->wf->tasks[t].called != NULL)
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

/* --resume: what the resumed run has, per task. */
int wf__load_reuse(wf_run *r, wf_errlist *errs)
{
    json_object *units = NULL, *holder;
    wf_error err;

    if (r->opts.resume_run == NULL)
        return WF_OK;
    wf_error_init(&err);
    if (wf_store_succeeded_units(r->store, r->opts.resume_run, &units, &err) != WF_OK) {
        wf_error_move(wf_errlist_add(errs), &err);
        return WF_ESTORE;
    }
    /* Keep the units and the per-task arrays alive together for the whole run. */
    r->reuse_doc = json_object_new_object();
    holder = json_object_new_array();
    json_object_object_add(r->reuse_doc, "units", units);
    json_object_object_add(r->reuse_doc, "by_task", holder);
    for (size_t i = 0; i < json_object_array_length(units); i++) {
        json_object *u = json_object_array_get_idx(units, i), *v = NULL;
        const wf_task *task;
        long t;
        int64_t index;
        const char *name;

        if (!json_object_object_get_ex(u, "task", &v))
            continue;
        name = json_object_get_string(v);
        /* A called workflow's run takes its own units: those under its prefix. */
        if (r->prefix != NULL) {
            size_t plen = strlen(r->prefix);

            if (strncmp(name, r->prefix, plen) != 0)
                continue;
            name += plen;
        }
        t = wf_workflow_task_index(r->wf, name);
        if (t < 0)
            continue; /* the task is gone from the workflow */
        task = &r->wf->tasks[t];
        index = json_object_object_get_ex(u, "index", &v) ? json_object_get_int64(v) : -1;
        if (task->items_kind == WF_ITEMS_NONE && index < 0) {
            r->tasks[t].reuse = u;
        } else if (task->items_kind != WF_ITEMS_NONE && index >= 0 && index < INT32_MAX) {
            if (r->tasks[t].reuse == NULL) {
                r->tasks[t].reuse = json_object_new_array();
                json_object_array_add(holder, r->tasks[t].reuse);
            }
            json_object_array_put_idx(r->tasks[t].reuse, (size_t)index, json_object_get(u));
        }
    }
    wf_error_release(&err);
    return WF_OK;
}
