/*
 * result.c: what a run leaves behind: its rendered `outputs` and the result document of
 * wf_run_result_json (every task, item and attempt count, secrets masked).
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

void wf__render_outputs(wf_run *r)
{
    r->outputs = json_object_new_object();
    for (size_t i = 0; i < r->wf->n_outputs; i++) {
        const wf_named_vnode *o = &r->wf->outputs[i];
        json_object *v = NULL;
        wf_error err;
        int rc;

        wf_error_init(&err);
        rc = wf_vnode_eval(o->value, r->root, &v, &err);
        if (rc != WF_OK) {
            char *msg = wf_xasprintf("output '%s' is null: %s", o->name,
                                     err.message ? err.message : wf_strerror(rc));

            wf__emit_simple(r, WF_EVENT_WARNING, NULL, msg);
            free(msg);
            wf_error_release(&err);
            v = NULL;
        }
        json_object_object_add(r->outputs, o->name, v);
    }
}

const json_object *wf_run_outputs(const wf_run *r)
{
    return r->outputs;
}

/* Item idx of a task: its exit code, duration and error where it keeps them (see
 * wf_unit_detail: a task of more than WF__DETAIL_ALL items keeps them for the items that
 * failed; the others' duration is null). */
static json_object *unit_json(const wf_task_state *ts, uint32_t idx)
{
    const wf_unit *u = &ts->units[idx];
    const wf_unit_detail *d = wf__detail_get(ts, idx);
    int exit_code = wf__unit_exit_code(ts, idx);
    json_object *o = json_object_new_object();

    json_object_object_add(o, "index", json_object_new_int64(idx));
    json_object_object_add(o, "status", json_object_new_string(wf_status_name(u->status)));
    json_object_object_add(o, "attempts", json_object_new_int((int)wf__unit_attempts(ts, idx)));
    json_object_object_add(o, "exit_code", exit_code >= 0 ? json_object_new_int(exit_code) : NULL);
    json_object_object_add(o, "duration_ms",
                           d != NULL && d->end_ms >= d->start_ms && d->start_ms > 0
                               ? json_object_new_int64(d->end_ms - d->start_ms)
                               : NULL);
    if (d != NULL && d->error != NULL)
        json_object_object_add(o, "error", json_object_new_string(d->error));
    if (u->flags & WF__U_CACHED)
        json_object_object_add(o, "cached", json_object_new_boolean(1));
    if (u->flags & WF__U_REUSED)
        json_object_object_add(o, "reused", json_object_new_boolean(1));
    return o;
}

json_object *wf_run_outputs_json(const wf_run *r)
{
    json_object *o = r->outputs ? wf_json_copy(r->outputs) : NULL;

    wf__mask_json(r, o);
    return o;
}

json_object *wf_run_result_json(const wf_run *r)
{
    json_object *doc = json_object_new_object(), *tasks = json_object_new_object();

    json_object_object_add(doc, "run_id", json_object_new_string(r->run_id));
    json_object_object_add(doc, "workflow", json_object_new_string(r->wf->name));
    json_object_object_add(doc, "status", json_object_new_string(wf_status_name(r->status)));
    json_object_object_add(doc, "duration_ms", json_object_new_int64(r->end_ms - r->start_ms));
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task *task = &r->wf->tasks[t];
        const wf_task_state *ts = &r->tasks[t];
        json_object *o;

        if (ts->excluded)
            continue; /* not a target nor needed by one: not part of this run */
        o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string(wf_status_name(ts->status)));
        if (ts->result != NULL && ts->result->ignored_failure)
            json_object_object_add(o, "continue_on_error", json_object_new_boolean(1));
        json_object_object_add(o, "duration_ms", json_object_new_int64(ts->end_ms - ts->start_ms));
        if (task->items_kind == WF_ITEMS_NONE && ts->n_units == 1) {
            int exit_code = wf__unit_exit_code(ts, 0);

            json_object_object_add(o, "attempts",
                                   json_object_new_int((int)wf__unit_attempts(ts, 0)));
            if (ts->units[0].flags & WF__U_CACHED)
                json_object_object_add(o, "cached", json_object_new_boolean(1));
            if (ts->units[0].flags & WF__U_REUSED)
                json_object_object_add(o, "reused", json_object_new_boolean(1));
            json_object_object_add(o, "exit_code",
                                   exit_code >= 0 ? json_object_new_int(exit_code) : NULL);
        }
        if (ts->error != NULL)
            json_object_object_add(o, "error", json_object_new_string(ts->error));
        /* Large results stay references (json-c's writer prints their values), except where
         * secrets must be masked in them. */
        json_object_object_add(o, "result",
                               ts->result == NULL  ? NULL
                               : r->n_secrets == 0 ? wf_json_copy_refs(ts->result->value)
                                                   : wf_json_copy(ts->result->value));
        if (task->items_kind != WF_ITEMS_NONE) {
            json_object *items = json_object_new_array_ext((int)ts->n_units);

            for (size_t i = 0; i < ts->n_units; i++) {
                json_object *u = unit_json(ts, (uint32_t)i);
                char label_buf[WF__LABEL_MAX + 1];
                const char *label = wf__unit_label(r, (uint32_t)t, (uint32_t)i, label_buf);

                if (label != NULL)
                    json_object_object_add(u, "label", json_object_new_string(label));
                json_object_array_add(items, u);
            }
            json_object_object_add(o, "items", items);
        }
        json_object_object_add(tasks, task->name, o);
    }
    json_object_object_add(doc, "tasks", tasks);
    json_object_object_add(doc, "outputs", r->outputs ? wf_json_copy(r->outputs) : NULL);
    if (r->refs != NULL) {
        wf_ref_stats st;
        json_object *m = json_object_new_object();

        wf_ref_cache_stats(r->refs, &st);
        json_object_object_add(m, "budget", json_object_new_int64((int64_t)st.budget));
        json_object_object_add(m, "peak", json_object_new_int64((int64_t)st.peak));
        json_object_object_add(m, "loads", json_object_new_int64((int64_t)st.loads));
        json_object_object_add(m, "evictions", json_object_new_int64((int64_t)st.evictions));
        json_object_object_add(doc, "results_memory", m);
    }
    wf__mask_json(r, doc);
    return doc;
}
