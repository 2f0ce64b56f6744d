/*
 * plan.c: wf_run_plan, what a dry run can know before anything runs: the inputs bound as a
 * run binds them, and per task what reads only inputs, env and vars (its item list, its
 * `when`, its rendered command), whole (wf_run_plan) or task by task (wf_plan). Uses the run's
 * set-up (setup.c) on a run that never starts.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* The first WF__PLAN_ITEMS items of src in "items" and, when there are more, how many in
 * "items_total" (src is freed). */
static void plan_first_items(wf_items *src, json_object *o)
{
    json_object *first = json_object_new_array();

    for (size_t i = 0; i < src->n_items && i < WF__PLAN_ITEMS; i++) {
        const json_object *item = NULL;
        json_object *own = NULL;

        if (!wf__items_get(src, i, &item, &own, NULL))
            break;
        json_object_array_add(first, own != NULL ? own : wf_json_copy(item));
    }
    json_object_object_add(o, "items", first);
    if (src->n_items > WF__PLAN_ITEMS)
        json_object_object_add(o, "items_total", json_object_new_int64((int64_t)src->n_items));
    wf__items_free(src);
}

/* `<< range(...) >>` or `<< file_lines(...) >>`: described without building the list (a
 * missing file leaves "items" out: the run says why). Returns false for another template. */
static bool plan_lazy(wf_run *r, const wf_task *task, json_object *o)
{
    wf_items *src = NULL;
    char *error = NULL;

    if (task->items->kind != WF_VNODE_TEMPLATE || !wf_tpl_is_lazy_list(task->items->tpl))
        return false;
    if (wf__lazy_items(r, task, r->root, &src, &error) != WF_OK) {
        free(error);
        return true;
    }
    plan_first_items(src, o);
    return true;
}

/* What of task t can be evaluated in the root context (no task result is there: a template
 * that reads one fails, and the key is left out). */
static json_object *plan_task(wf_run *r, const wf_task *task)
{
    json_object *o = json_object_new_object(), *items = NULL;
    wf_error err;

    wf_error_init(&err);
    if (task->items_kind == WF_ITEMS_MATRIX) {
        wf_matrix *m = NULL;

        /* As for a range: the first combinations and how many, computed one at a time. */
        if (wf__matrix_open(task, r->root, &m, &err) == WF_OK)
            plan_first_items(wf__items_matrix(m), o);
    } else if (task->items_kind == WF_ITEMS_LIST && plan_lazy(r, task, o)) {
        /* described without building the list */
    } else if (task->items_kind == WF_ITEMS_LIST) {
        if (wf_vnode_eval(task->items, r->root, &items, &err) == WF_OK &&
            json_object_is_type(items, json_type_array))
            json_object_object_add(o, "items", items);
        else
            json_object_put(items);
    } else {
        bool yes = false;
        wf_strbuf sb = WF_STRBUF_INIT;

        if (task->when != NULL) {
            wf_error_release(&err);
            if (wf_tpl_eval_bool(task->when, r->root, &yes, &err) == WF_OK)
                json_object_object_add(o, "when", json_object_new_boolean(yes));
        }
        if (task->run != NULL) {
            wf_error_release(&err);
            if (wf_tpl_render(task->run, r->root, &sb, &err) == WF_OK)
                json_object_object_add(o, "run", json_object_new_string(wf_strbuf_str(&sb)));
        }
        wf_strbuf_release(&sb);
    }
    wf_error_release(&err);
    wf__mask_json(r, o);
    return o;
}

struct wf_plan {
    wf_run *run; /* never started: its root context is what the templates read */
};

int wf_plan_open(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, wf_plan **out,
                 wf_errlist *errs)
{
    wf_run *r = wf_xcalloc(1, sizeof(*r));
    json_object *inputs = NULL;

    *out = NULL;
    r->engine = e;
    r->wf = wf;
    if (opts != NULL)
        r->opts = *opts;
    wf__done_queue_init(&r->done);
    snprintf(r->run_id, sizeof(r->run_id), "dry-run");
    if (wf_workflow_bind_inputs(wf, r->opts.inputs, r->opts.inputs_from_strings, &inputs, errs) !=
        WF_OK) {
        json_object_put(inputs);
        wf_run_free(r);
        return WF_EINVAL;
    }
    wf__collect_secrets(r, inputs);
    if (wf__build_env(r, inputs, errs) != WF_OK || wf__build_root(r, inputs, errs) != WF_OK) {
        if (r->root == NULL)
            json_object_put(inputs);
        wf_run_free(r);
        return WF_EINVAL;
    }
    *out = wf_xcalloc(1, sizeof(**out));
    (*out)->run = r;
    return WF_OK;
}

json_object *wf_plan_task(wf_plan *p, size_t i)
{
    return i < p->run->wf->n_tasks ? plan_task(p->run, &p->run->wf->tasks[i]) : NULL;
}

void wf_plan_free(wf_plan *p)
{
    if (p == NULL)
        return;
    wf_run_free(p->run);
    free(p);
}

int wf_run_plan(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, json_object **out,
                wf_errlist *errs)
{
    wf_plan *p = NULL;
    json_object *tasks;

    *out = NULL;
    if (wf_plan_open(e, wf, opts, &p, errs) != WF_OK)
        return WF_EINVAL;
    tasks = json_object_new_object();
    for (size_t t = 0; t < wf->n_tasks; t++)
        json_object_object_add(tasks, wf->tasks[t].name, wf_plan_task(p, t));
    *out = json_object_new_object();
    json_object_object_add(*out, "tasks", tasks);
    wf_plan_free(p);
    return WF_OK;
}
