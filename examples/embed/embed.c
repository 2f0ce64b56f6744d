/*
 * A program that uses wfengine as its task runner: it registers an action (demo.square),
 * loads a workflow that fans out over a list with it, runs it with an input, prints progress
 * from the event callback, and prints the result document and the outputs.
 *
 * Build against an installed wfengine:
 *   cc -o embed embed.c $(pkg-config --cflags --libs wfengine)
 * Run: ./embed [COUNT]      (exit status 0 when the run succeeded)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wfengine.h>

static const char workflow[] = "version: 1\n"
                               "name: embed-demo\n"
                               "inputs:\n"
                               "  count: {type: integer, default: 5}\n"
                               "tasks:\n"
                               "  numbers:\n"
                               "    action: core.value\n"
                               "    input:\n"
                               "      value: << range(1, inputs.count + 1) >>\n"
                               "  squares:\n"
                               "    with-items: << task.numbers >>\n"
                               "    action: demo.square\n"
                               "    input:\n"
                               "      n: << item >>\n"
                               "  total:\n"
                               "    action: core.value\n"
                               "    input:\n"
                               "      value: << task.squares | map('square') | sum >>\n"
                               "outputs:\n"
                               "  squares: << task.squares | map('square') >>\n"
                               "  total: << task.total >>\n";

/* The action's state: shared by every call, so it is atomic (calls run on several worker
 * threads at once). */
typedef struct demo {
    atomic_int calls;
} demo;

/* demo.square: {n: NUMBER} -> {n, square}. The input is borrowed and read-only; the result
 * is a new object the engine takes over. */
static int square(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    demo *d = user;
    json_object *n = NULL;
    int64_t v;

    atomic_fetch_add(&d->calls, 1);
    if (call->input == NULL || !json_object_object_get_ex((json_object *)call->input, "n", &n) ||
        !json_object_is_type(n, json_type_int)) {
        reply->error = strdup("demo.square needs an integer input 'n'");
        return WF_EINVAL;
    }
    v = json_object_get_int64(n);
    reply->result = json_object_new_object();
    json_object_object_add(reply->result, "n", json_object_new_int64(v));
    json_object_object_add(reply->result, "square", json_object_new_int64(v * v));
    return WF_OK;
}

/* Events arrive on the run's scheduler thread, one at a time. */
static void on_event(const wf_event *ev, void *user)
{
    (void)user;
    if (ev->kind == WF_EVENT_UNIT_END)
        fprintf(stderr, "[%zu/%zu] %s[%lld] %s\n", ev->units_done, ev->units_total, ev->task,
                (long long)ev->index, wf_status_name(ev->status));
}

int main(int argc, char **argv)
{
    demo d = { 0 };
    wf_engine *engine = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    wf_run_options opts = { 0 };
    json_object *inputs = json_object_new_object(), *doc = NULL;
    wf_status st = WF_STATUS_FAILED;

    wf_errlist_init(&errs);
    if (wf_engine_register_action(engine, "demo.square", square, &d) != WF_OK)
        goto out;
    if (wf_workflow_load_string("embed-demo.yaml", workflow, strlen(workflow), &wf, &errs) != WF_OK)
        goto out;
    /* "-i count=N" semantics: a string converted to the input's declared type. */
    json_object_object_add(inputs, "count", json_object_new_string(argc > 1 ? argv[1] : "5"));
    opts.inputs = inputs;
    opts.inputs_from_strings = true;
    opts.on_event = on_event;
    if (wf_run_start(engine, wf, &opts, &run, &errs) != WF_OK)
        goto out;
    st = wf_run_wait(run);
    doc = wf_run_result_json(run);
    printf("status: %s, demo.square called %d times\n", wf_status_name(st), atomic_load(&d.calls));
    printf("outputs: %s\n", json_object_to_json_string_ext(json_object_object_get(doc, "outputs"),
                                                           JSON_C_TO_STRING_PLAIN));
out:
    for (size_t i = 0; i < errs.len; i++)
        wf_error_print(stderr, &errs.items[i]);
    json_object_put(doc);
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(engine);
    json_object_put(inputs);
    wf_errlist_release(&errs);
    return st == WF_STATUS_SUCCEEDED ? 0 : 1;
}
