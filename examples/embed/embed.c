/*
 * A program that uses wfengine as its task runner: it registers an action (demo.square),
 * loads a workflow that fans out over a list with it, runs it with an input, prints progress
 * from the event callback, and prints the result document and the outputs. Like `wfengine
 * run`, it can print the plan instead of running (--plan), record the run in a store
 * (--store DIR) and resume a recorded run (--resume RUN|last).
 *
 * Build against an installed wfengine:
 *   cc -o embed embed.c $(pkg-config --cflags --libs wfengine)
 * Run: ./embed [COUNT] [--plan] [--store DIR [--resume RUN|last]]
 *      (exit status 0 when the run succeeded)
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wf_store.h>
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
    if (ev->kind != WF_EVENT_UNIT_END)
        return;
    /* index is -1 for a task without with-items: it has one unit, named by the task alone. */
    fprintf(stderr, "[%zu/%zu] %s", ev->units_done, ev->units_total, ev->task);
    if (ev->index >= 0 && ev->n_units > 1) /* a span of items taken from the resumed run */
        fprintf(stderr, "[%lld..%lld]", (long long)ev->index,
                (long long)ev->index + (long long)ev->n_units - 1);
    else if (ev->index >= 0)
        fprintf(stderr, "[%lld]", (long long)ev->index);
    fprintf(stderr, " %s%s%s\n", wf_status_name(ev->status), ev->ignored ? ", ignored" : "",
            ev->reused ? " (reused from the resumed run)" : "");
}

/* --plan: the tasks in dependency order with what each waits for, from the workflow's
 * description (what `wfengine run --dry-run` prints is drawn from it too). */
static void print_plan(const wf_workflow *wf)
{
    json_object *doc = wf_workflow_describe(wf), *order = NULL, *tasks = NULL;

    json_object_object_get_ex(doc, "order", &order);
    json_object_object_get_ex(doc, "tasks", &tasks);
    for (size_t i = 0; i < json_object_array_length(order); i++) {
        const char *name = json_object_get_string(json_object_array_get_idx(order, i));

        for (size_t t = 0; t < json_object_array_length(tasks); t++) {
            json_object *task = json_object_array_get_idx(tasks, t), *v = NULL;

            json_object_object_get_ex(task, "name", &v);
            if (strcmp(json_object_get_string(v), name) != 0)
                continue;
            json_object_object_get_ex(task, "needs", &v);
            printf("plan: %s after %s\n", name,
                   json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        }
    }
    json_object_put(doc);
}

int main(int argc, char **argv)
{
    demo d = { 0 };
    wf_engine *engine = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_store *store = NULL;
    wf_resume resume = { 0 };
    wf_errlist errs;
    wf_error err;
    wf_run_options opts = { 0 };
    json_object *inputs = json_object_new_object(), *doc = NULL;
    const char *count = NULL, *store_dir = NULL, *resume_run = NULL;
    bool plan = false;
    wf_status st = WF_STATUS_FAILED;

    wf_errlist_init(&errs);
    wf_error_init(&err);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--plan") == 0)
            plan = true;
        else if (strcmp(argv[i], "--store") == 0 && i + 1 < argc)
            store_dir = argv[++i];
        else if (strcmp(argv[i], "--resume") == 0 && i + 1 < argc)
            resume_run = argv[++i];
        else
            count = argv[i];
    }
    if (wf_engine_register_action(engine, "demo.square", square, &d) != WF_OK)
        goto out;
    if (wf_workflow_load_string("embed-demo.yaml", workflow, strlen(workflow), &wf, &errs) != WF_OK)
        goto out;
    if (plan) {
        print_plan(wf);
        st = WF_STATUS_SUCCEEDED;
        goto out;
    }
    /* "-i count=N" semantics: a string converted to the input's declared type. Without it,
     * the input's default (or, resuming, the recorded run's value). */
    if (count != NULL)
        json_object_object_add(inputs, "count", json_object_new_string(count));
    opts.inputs = inputs;
    opts.inputs_from_strings = true;
    opts.on_event = on_event;
    if (store_dir != NULL) {
        if (wf_store_open(store_dir, &store, &err) != WF_OK)
            goto out;
        opts.store = store; /* borrowed: closed after the run is freed */
    }
    if (resume_run != NULL && store != NULL) {
        /* As `wfengine run --resume`: the recorded run must be of this workflow, and its
         * inputs (secrets excepted) are taken under the given ones. */
        if (wf_resume_prepare(store, resume_run, wf, inputs, true, false, &resume, &err) != WF_OK)
            goto out;
        opts.resume_run = resume.run_id;
        opts.inputs = resume.inputs;
        opts.inputs_from_strings = resume.inputs_from_strings;
    }
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
    if (err.message != NULL)
        fprintf(stderr, "embed: %s\n", err.message);
    json_object_put(doc);
    wf_run_free(run);
    if (wf_store_close(store, &err) != WF_OK) { /* the run's records are written by now */
        fprintf(stderr, "embed: %s\n", err.message);
        st = WF_STATUS_FAILED;
    }
    wf_resume_release(&resume);
    wf_workflow_free(wf);
    wf_engine_free(engine);
    json_object_put(inputs);
    wf_error_release(&err);
    wf_errlist_release(&errs);
    return st == WF_STATUS_SUCCEEDED ? 0 : 1;
}
