/*
 * describe.c: introspection for tools, the model's JSON view: the workflow's name and a
 * description of what it holds (wfengine.h), whole or task by task (the top part, then one
 * task at a time, so that a tool walking 100,000 tasks holds one task's JSON at a time). The
 * CLI draws `graph`, the `run --dry-run` plan and JUnit's test cases from it, so an embedding
 * program can do the same.
 */
#include <stdint.h>

#include "loader_internal.h"
#include "wfengine.h"

/* Adds a key the object does not have yet, a string literal: json-c neither looks it up nor
 * copies it (13 keys a task; a plan of 100,000 tasks describes each once). */
static void put(json_object *o, const char *key, json_object *v)
{
    if (json_object_object_add_ex(
            o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY) != 0)
        wf_oom(sizeof(struct lh_entry));
}

static json_object *str_or_null(const char *s)
{
    return s != NULL ? json_object_new_string(s) : NULL;
}

static json_object *tpl_or_null(const wf_tpl *t)
{
    return t != NULL ? json_object_new_string(wf_tpl_source(t)) : NULL;
}

static json_object *describe_items(const wf_task *task)
{
    json_object *o, *keys;

    if (task->items_kind == WF_ITEMS_NONE)
        return NULL;
    o = json_object_new_object();
    put(o, "kind", json_object_new_string(task->items_kind == WF_ITEMS_LIST ? "list" : "matrix"));
    if (task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_LIST)
        put(o, "count", json_object_new_int64((int64_t)task->items->n));
    else if (task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_CONST &&
             json_object_is_type(task->items->constant, json_type_array))
        put(o, "count",
            json_object_new_int64((int64_t)json_object_array_length(task->items->constant)));
    else
        put(o, "count", NULL);
    put(o, "expr",
        task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_TEMPLATE
            ? tpl_or_null(task->items->tpl)
            : NULL);
    put(o, "pipeline", json_object_new_boolean(task->pipeline));
    keys = json_object_new_array();
    for (size_t k = 0; k < wf_task_extra_of(task)->n_matrix; k++)
        json_object_array_add(keys, json_object_new_string(wf_task_extra_of(task)->matrix[k].name));
    put(o, "keys", keys);
    return o;
}

static json_object *describe_task(const wf_workflow *wf, const wf_task *task)
{
    json_object *o = json_object_new_object(), *needs = json_object_new_array();

    put(o, "name", json_object_new_string(task->name));
    /* Where the task's key is, for tools that point at it (GitHub annotations). */
    put(o, "line", json_object_new_int(task->mark.line));
    put(o, "col", json_object_new_int(task->mark.column));
    put(o, "description", str_or_null(task->description));
    for (size_t d = 0; d < task->n_deps; d++)
        json_object_array_add(needs, json_object_new_string(wf->tasks[task->deps[d]].name));
    put(o, "needs", needs);
    put(o, "with_items", describe_items(task));
    put(o, "when", tpl_or_null(task->when));
    put(o, "run", tpl_or_null(task->run));
    if (task->run_argv != NULL) {
        json_object *argv = json_object_new_array();

        for (size_t a = 0; a < task->run_argc; a++)
            json_object_array_add(argv, tpl_or_null(task->run_argv[a]));
        put(o, "argv", argv);
    } else {
        put(o, "argv", NULL);
    }
    put(o, "action", str_or_null(task->action));
    put(o, "uses", str_or_null(wf_task_extra_of(task)->uses));
    /* Where a run task's units go as the file says (null for actions and uses tasks, which
     * run in wfengine). */
    put(o, "executor",
        task->action != NULL || wf_task_extra_of(task)->uses != NULL ? NULL
        : task->executor == WF_EXECUTOR_SLURM ? json_object_new_string("slurm")
                                              : json_object_new_string("local"));
    put(o, "called",
        wf_task_extra_of(task)->called != NULL
            ? wf_workflow_describe(wf_task_extra_of(task)->called)
            : NULL);
    return o;
}

const char *wf_workflow_name(const wf_workflow *wf)
{
    return wf->name;
}

const wf_errlist *wf_workflow_warnings(const wf_workflow *wf)
{
    return &wf->warnings;
}

size_t wf_workflow_task_count(const wf_workflow *wf)
{
    return wf->n_tasks;
}

const char *wf_workflow_task_name(const wf_workflow *wf, size_t i)
{
    return i < wf->n_tasks ? wf->tasks[i].name : NULL;
}

size_t wf_workflow_task_in_order(const wf_workflow *wf, size_t i)
{
    return i < wf->n_tasks ? wf->topo_order[i] : SIZE_MAX;
}

json_object *wf_workflow_describe_task(const wf_workflow *wf, size_t i)
{
    return i < wf->n_tasks ? describe_task(wf, &wf->tasks[i]) : NULL;
}

json_object *wf_workflow_describe_inputs(const wf_workflow *wf)
{
    json_object *inputs = json_object_new_array();

    for (size_t i = 0; i < wf->n_inputs; i++) {
        const wf_input_spec *in = &wf->inputs[i];
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(in->name));
        json_object_object_add(o, "type", json_object_new_string(wf__input_type_name(in->type)));
        json_object_object_add(o, "required", json_object_new_boolean(!in->has_default));
        json_object_object_add(o, "secret", json_object_new_boolean(in->secret));
        json_object_object_add(o, "description", str_or_null(in->description));
        json_object_object_add(o, "default",
                               in->has_default ? wf_json_copy(in->default_value) : NULL);
        json_object_object_add(o, "enum", in->enum_values ? wf_json_copy(in->enum_values) : NULL);
        json_object_array_add(inputs, o);
    }
    return inputs;
}

json_object *wf_workflow_describe_top(const wf_workflow *wf)
{
    char sha[WF_SHA256_HEX_LEN + 1];
    json_object *doc = json_object_new_object(), *outputs = json_object_new_array();

    json_object_object_add(doc, "name", json_object_new_string(wf->name));
    json_object_object_add(doc, "description", str_or_null(wf->description));
    json_object_object_add(doc, "path", str_or_null(wf->path));
    wf_workflow_sha256_hex(wf, sha);
    json_object_object_add(doc, "sha256", json_object_new_string(sha));
    json_object_object_add(doc, "inputs", wf_workflow_describe_inputs(wf));
    for (size_t o = 0; o < wf->n_outputs; o++)
        json_object_array_add(outputs, json_object_new_string(wf->outputs[o].name));
    json_object_object_add(doc, "outputs", outputs);
    return doc;
}

/* The top part with "tasks" and "order" put in before "outputs", where they always were. */
json_object *wf_workflow_describe(const wf_workflow *wf)
{
    json_object *doc = wf_workflow_describe_top(wf), *outputs = NULL;
    json_object *tasks = json_object_new_array(), *order = json_object_new_array();

    json_object_object_get_ex(doc, "outputs", &outputs);
    json_object_get(outputs);
    json_object_object_del(doc, "outputs");
    for (size_t t = 0; t < wf->n_tasks; t++) {
        json_object_array_add(tasks, describe_task(wf, &wf->tasks[t]));
        json_object_array_add(order, json_object_new_string(wf->tasks[wf->topo_order[t]].name));
    }
    json_object_object_add(doc, "tasks", tasks);
    json_object_object_add(doc, "order", order);
    json_object_object_add(doc, "outputs", outputs);
    return doc;
}
