/*
 * check_api: the embedding API as a program sees it, through the installed headers alone
 * (wfengine.h, wf_store.h): the plan that `run --dry-run` prints from wf_workflow_describe
 * (whole, and task by task as the CLI walks it), and resuming a recorded run with
 * wf_resume_prepare as `run --resume` does.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "wf_store.h"

#include "wfengine.h"

/* ---- helpers ---------------------------------------------------------------------------- */

static wf_workflow *load(const char *name, const char *text)
{
    wf_workflow *wf = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string(name, text, strlen(text), &wf, &errs) != WF_OK) {
        for (size_t i = 0; i < errs.len; i++)
            wf_error_print(stderr, &errs.items[i]);
    }
    wf_errlist_release(&errs);
    ck_assert_ptr_nonnull(wf);
    return wf;
}

static json_object *member(json_object *o, const char *key)
{
    json_object *v = NULL;

    ck_assert_msg(json_object_object_get_ex(o, key, &v), "no key '%s' in %s", key,
                  json_object_to_json_string(o));
    return v;
}

static json_object *task_named(json_object *doc, const char *name)
{
    json_object *tasks = member(doc, "tasks");

    for (size_t t = 0; t < json_object_array_length(tasks); t++) {
        json_object *task = json_object_array_get_idx(tasks, t);

        if (strcmp(json_object_get_string(member(task, "name")), name) == 0)
            return task;
    }
    ck_abort_msg("no task '%s'", name);
    return NULL;
}

static const char *str(json_object *o, const char *key)
{
    return json_object_get_string(member(o, key));
}

/* ---- the plan --------------------------------------------------------------------------- */

static const char plan_wf[] = "version: 1\n"
                              "tasks:\n"
                              "  last:\n"
                              "    action: core.noop\n"
                              "    needs: [fan, grid]\n"
                              "  fan:\n"
                              "    with-items: << task.first.result >>\n"
                              "    run: echo << item >>\n"
                              "  grid:\n"
                              "    with-items:\n"
                              "      matrix: {os: [linux, mac], cc: [gcc, clang, tcc]}\n"
                              "    run: [cc, << item.cc >>]\n"
                              "    when: << item.os == 'linux' >>\n"
                              "    needs: [plain]\n"
                              "  plain:\n"
                              "    with-items: [1, 2, 3]\n"
                              "    run: echo << item >>\n"
                              "  first:\n"
                              "    action: core.value\n"
                              "    input: {value: [1, 2]}\n";

START_TEST(plan_order_and_tasks)
{
    wf_workflow *wf = load("plan.yaml", plan_wf);
    json_object *doc = wf_workflow_describe(wf), *order = member(doc, "order");
    json_object *items;
    size_t pos[5] = { 0 };
    static const char *const names[] = { "last", "fan", "grid", "plain", "first" };

    ck_assert_str_eq(str(doc, "name"), "plan");
    ck_assert_int_eq((int)json_object_array_length(order), 5);
    for (size_t i = 0; i < 5; i++) {
        for (size_t n = 0; n < 5; n++) {
            if (strcmp(json_object_get_string(json_object_array_get_idx(order, i)), names[n]) == 0)
                pos[n] = i;
        }
    }
    /* "order" is a dependency order: every task after what it needs. */
    ck_assert(pos[4] < pos[1] && pos[3] < pos[2] && pos[1] < pos[0] && pos[2] < pos[0]);
    ck_assert_str_eq(json_object_to_json_string(member(task_named(doc, "last"), "needs")),
                     "[ \"fan\", \"grid\" ]");
    /* A dependency read off a template counts as one. */
    ck_assert_str_eq(json_object_to_json_string(member(task_named(doc, "fan"), "needs")),
                     "[ \"first\" ]");

    items = member(task_named(doc, "fan"), "with_items");
    ck_assert_str_eq(str(items, "kind"), "list");
    ck_assert(json_object_is_type(member(items, "count"), json_type_null));
    ck_assert_str_eq(str(items, "expr"), "<< task.first.result >>");

    /* A list with no template inside is one constant: its length is known all the same. */
    items = member(task_named(doc, "plain"), "with_items");
    ck_assert_int_eq(json_object_get_int(member(items, "count")), 3);
    ck_assert(json_object_is_type(member(items, "expr"), json_type_null));

    items = member(task_named(doc, "grid"), "with_items");
    ck_assert_str_eq(str(items, "kind"), "matrix");
    ck_assert_int_eq((int)json_object_array_length(member(items, "keys")), 2);
    ck_assert_str_eq(str(task_named(doc, "grid"), "when"), "<< item.os == 'linux' >>");
    ck_assert(json_object_is_type(member(task_named(doc, "grid"), "run"), json_type_null));
    ck_assert_str_eq(json_object_to_json_string(member(task_named(doc, "grid"), "argv")),
                     "[ \"cc\", \"<< item.cc >>\" ]");
    ck_assert_str_eq(str(task_named(doc, "first"), "action"), "core.value");
    ck_assert(json_object_is_type(member(task_named(doc, "first"), "with_items"), json_type_null));
    /* Where each task's name is in the file. */
    ck_assert_int_eq(json_object_get_int(member(task_named(doc, "last"), "line")), 3);
    ck_assert_int_eq(json_object_get_int(member(task_named(doc, "last"), "col")), 3);
    ck_assert_int_eq(json_object_get_int(member(task_named(doc, "first"), "line")), 18);
    json_object_put(doc);
    wf_workflow_free(wf);
}
END_TEST

/* The describe and the plan given task by task are exactly the whole ones, piece by piece
 * (what `run --dry-run` prints from them), inputs and outputs in the top part. */
START_TEST(plan_streamed_equals_whole)
{
    static const char text[] = "version: 1\n"
                               "name: streamed\n"
                               "inputs:\n"
                               "  n: {type: integer, default: 2, description: how many}\n"
                               "  tag: {type: string, enum: [a, b], default: a}\n"
                               "tasks:\n"
                               "  b:\n"
                               "    with-items: << range(inputs.n) >>\n"
                               "    run: echo << item >> << inputs.tag >>\n"
                               "    needs: [a]\n"
                               "  a:\n"
                               "    run: echo << inputs.n >>\n"
                               "    when: << inputs.tag == 'a' >>\n"
                               "  c:\n"
                               "    action: core.value\n"
                               "    input: {value: << task.b.result >>}\n"
                               "outputs:\n"
                               "  out: << task.c.result >>\n";
    wf_workflow *wf = load("streamed.yaml", text);
    json_object *doc = wf_workflow_describe(wf), *top = wf_workflow_describe_top(wf);
    json_object *tasks = member(doc, "tasks"), *order = member(doc, "order");
    json_object *whole = NULL, *expect_top = json_object_new_object(), *inputs;
    size_t n = wf_workflow_task_count(wf);
    wf_engine *e = wf_engine_new(NULL);
    wf_run_options opts = { 0 };
    wf_plan *plan = NULL;
    wf_errlist errs;

    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(json_object_array_length(tasks), n);
    json_object_object_foreach(doc, key, value)
    {
        if (strcmp(key, "tasks") != 0 && strcmp(key, "order") != 0)
            json_object_object_add(expect_top, key, json_object_get(value));
    }
    ck_assert_str_eq(json_object_to_json_string(top), json_object_to_json_string(expect_top));
    inputs = wf_workflow_describe_inputs(wf);
    ck_assert_uint_gt(json_object_array_length(inputs), 0);
    ck_assert_str_eq(json_object_to_json_string(inputs),
                     json_object_to_json_string(member(doc, "inputs")));
    json_object_put(inputs);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_run_plan(e, wf, &opts, &whole, &errs), WF_OK);
    ck_assert_int_eq(wf_plan_open(e, wf, &opts, &plan, &errs), WF_OK);
    for (size_t i = 0; i < n; i++) {
        json_object *task = wf_workflow_describe_task(wf, i), *known = wf_plan_task(plan, i);
        size_t t = wf_workflow_task_in_order(wf, i);

        ck_assert_str_eq(json_object_to_json_string(task),
                         json_object_to_json_string(json_object_array_get_idx(tasks, i)));
        ck_assert_str_eq(wf_workflow_task_name(wf, i), str(task, "name"));
        ck_assert_str_eq(wf_workflow_task_name(wf, t),
                         json_object_get_string(json_object_array_get_idx(order, i)));
        ck_assert_str_eq(json_object_to_json_string(known),
                         json_object_to_json_string(
                             member(member(whole, "tasks"), wf_workflow_task_name(wf, i))));
        json_object_put(known);
        json_object_put(task);
    }
    /* What the inputs decide is there: b's items, a's command and condition. */
    ck_assert_str_eq(json_object_to_json_string(member(member(whole, "tasks"), "b")),
                     "{ \"items\": [ 0, 1 ] }");
    ck_assert_str_eq(json_object_to_json_string(member(member(whole, "tasks"), "a")),
                     "{ \"when\": true, \"run\": \"echo 2\" }");
    ck_assert_ptr_null(wf_workflow_describe_task(wf, n));
    ck_assert_ptr_null(wf_workflow_task_name(wf, n));
    ck_assert_ptr_null(wf_plan_task(plan, n));
    ck_assert_uint_eq(wf_workflow_task_in_order(wf, n), SIZE_MAX);
    wf_plan_free(plan);
    json_object_put(whole);
    json_object_put(expect_top);
    json_object_put(top);
    json_object_put(doc);
    wf_errlist_release(&errs);
    wf_engine_free(e);
    wf_workflow_free(wf);
}
END_TEST

/* A plan whose inputs do not bind is refused as wf_run_plan refuses it, with nothing open. */
START_TEST(plan_open_refuses_bad_inputs)
{
    wf_workflow *wf = load("req.yaml", "version: 1\n"
                                       "inputs:\n"
                                       "  n: {type: integer}\n"
                                       "tasks:\n"
                                       "  a: {run: echo << inputs.n >>}\n");
    wf_engine *e = wf_engine_new(NULL);
    wf_run_options opts = { 0 };
    wf_plan *plan = (wf_plan *)&opts;
    wf_errlist errs;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_plan_open(e, wf, &opts, &plan, &errs), WF_EINVAL);
    ck_assert_ptr_null(plan);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_ptr_nonnull(strstr(errs.items[0].message, "'n'"));
    wf_errlist_release(&errs);
    wf_engine_free(e);
    wf_workflow_free(wf);
}
END_TEST

/* ---- resume ----------------------------------------------------------------------------- */

static const char resume_wf[] = "version: 1\n"
                                "name: greet\n"
                                "inputs:\n"
                                "  who: {type: string, default: nobody}\n"
                                "  times: {type: integer, default: 1}\n"
                                "  token: {type: string, secret: true, default: none}\n"
                                "  gone: {type: string, default: g}\n"
                                "tasks:\n"
                                "  hello:\n"
                                "    action: core.value\n"
                                "    input: {value: << inputs.who >>}\n";

/* The same workflow without the input `gone`: another file, the same name. */
static const char changed_wf[] = "version: 1\n"
                                 "name: greet\n"
                                 "inputs:\n"
                                 "  who: {type: string, default: nobody}\n"
                                 "  times: {type: integer, default: 1}\n"
                                 "  token: {type: string, secret: true, default: none}\n"
                                 "tasks:\n"
                                 "  hello:\n"
                                 "    action: core.value\n"
                                 "    input: {value: << inputs.who >>}\n";

static const char other_wf[] = "version: 1\n"
                               "name: other\n"
                               "tasks:\n"
                               "  hello: {action: core.noop}\n";

static char store_dir[] = "/tmp/check_api.XXXXXX";
static wf_store *store;
static char recorded[64]; /* the id of the run setup() recorded */

static void count_reused(const wf_event *ev, void *user)
{
    if (ev->kind == WF_EVENT_UNIT_END && ev->reused)
        (*(int *)user)++;
}

/* Runs wf with the store and opts' inputs; returns the run's status. */
static wf_status run_recorded(const wf_workflow *wf, wf_run_options *opts, char id[64])
{
    wf_engine *engine = wf_engine_new(NULL);
    wf_run *run = NULL;
    wf_errlist errs;
    wf_status st;

    wf_errlist_init(&errs);
    opts->store = store;
    ck_assert_int_eq(wf_run_start(engine, wf, opts, &run, &errs), WF_OK);
    st = wf_run_wait(run);
    if (id != NULL)
        snprintf(id, 64, "%s", wf_run_id(run));
    wf_run_free(run);
    wf_engine_free(engine);
    wf_errlist_release(&errs);
    return st;
}

static void setup(void)
{
    wf_workflow *wf;
    wf_run_options opts = { 0 };
    json_object *inputs = json_object_new_object();
    wf_error err;

    ck_assert_ptr_nonnull(mkdtemp(store_dir));
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(store_dir, &store, &err), WF_OK);
    wf_error_release(&err);
    wf = load("greet.yaml", resume_wf);
    json_object_object_add(inputs, "who", json_object_new_string("ada"));
    json_object_object_add(inputs, "times", json_object_new_int(3));
    json_object_object_add(inputs, "token", json_object_new_string("hunter2"));
    json_object_object_add(inputs, "gone", json_object_new_string("kept"));
    opts.inputs = inputs;
    ck_assert_int_eq(run_recorded(wf, &opts, recorded), WF_STATUS_SUCCEEDED);
    json_object_put(inputs);
    wf_workflow_free(wf);
}

static void teardown(void)
{
    wf_error err;
    char *cmd;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_close(store, &err), WF_OK);
    wf_error_release(&err);
    store = NULL;
    cmd = wf_xasprintf("rm -rf '%s'", store_dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    strcpy(store_dir + strlen(store_dir) - 6, "XXXXXX");
}

static void assert_empty(const wf_resume *res)
{
    ck_assert_str_eq(res->run_id, "");
    ck_assert_ptr_null(res->inputs);
    ck_assert_ptr_null(res->warning);
}

START_TEST(resume_takes_recorded_inputs_but_not_secrets)
{
    wf_workflow *wf = load("greet.yaml", resume_wf);
    json_object *given = json_object_new_object(), *v = NULL;
    wf_resume res;
    wf_error err;
    char prefix[3] = "";

    wf_error_init(&err);
    json_object_object_add(given, "who", json_object_new_string("grace")); /* overrides */
    ck_assert_int_eq(wf_resume_prepare(store, "last", wf, given, true, false, &res, &err), WF_OK);
    ck_assert_str_eq(res.run_id, recorded);
    ck_assert(!res.other_workflow && !res.file_changed);
    ck_assert_ptr_null(res.warning);
    ck_assert(res.inputs_from_strings);
    ck_assert_str_eq(str(res.inputs, "who"), "grace");
    ck_assert_int_eq(json_object_get_int(member(res.inputs, "times")), 3); /* typed, as stored */
    ck_assert_str_eq(str(res.inputs, "gone"), "kept");
    /* A secret was recorded as ***: taking that would run with the wrong value. */
    ck_assert(!json_object_object_get_ex(res.inputs, "token", &v));
    ck_assert(json_object_object_length(given) == 1); /* the given inputs are only read */
    wf_resume_release(&res);
    wf_resume_release(&res); /* again: harmless */

    /* A prefix of the id works like the id; a secret given again is kept. */
    json_object_object_add(given, "token", json_object_new_string("hunter2"));
    prefix[0] = recorded[0];
    prefix[1] = recorded[1];
    ck_assert_int_eq(wf_resume_prepare(store, prefix, wf, given, false, false, &res, &err), WF_OK);
    ck_assert_str_eq(res.run_id, recorded);
    ck_assert_str_eq(str(res.inputs, "token"), "hunter2");
    wf_resume_release(&res);
    json_object_put(given);
    wf_error_release(&err);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(resume_drops_inputs_the_file_no_longer_declares)
{
    wf_workflow *wf = load("greet.yaml", changed_wf);
    json_object *v = NULL;
    wf_resume res;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_resume_prepare(store, recorded, wf, NULL, false, true, &res, &err), WF_OK);
    ck_assert(res.file_changed && !res.other_workflow);
    ck_assert_ptr_nonnull(res.warning);
    ck_assert_ptr_nonnull(strstr(res.warning, "greet.yaml has changed since run "));
    ck_assert_ptr_nonnull(strstr(res.warning, "... then, "));
    ck_assert(!json_object_object_get_ex(res.inputs, "gone", &v));
    ck_assert_str_eq(str(res.inputs, "who"), "ada");
    wf_resume_release(&res);
    wf_error_release(&err);
    wf_workflow_free(wf);
}
END_TEST

/* Refusals: the error, what did not fit, and nothing to release. */
static const struct refusal {
    const char *run;  /* NULL: the recorded run */
    const char *text; /* the workflow to resume with */
    const char *file; /* its name */
    int rc;
    bool other_workflow, file_changed;
    const char *message; /* a part of the error */
} refusals[] = {
    { "nope", resume_wf, "greet.yaml", WF_ENOENT, false, false, "no run matches 'nope' in " },
    { NULL, changed_wf, "greet.yaml", WF_EINVAL, false, true, "greet.yaml has changed since run " },
    { NULL, other_wf, "other.yaml", WF_EINVAL, true, true,
      "is of workflow 'greet', not 'other' (other.yaml)" },
};

START_TEST(resume_refusals)
{
    const struct refusal *c = &refusals[_i];
    wf_workflow *wf = load(c->file, c->text);
    wf_resume res;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(
        wf_resume_prepare(store, c->run ? c->run : recorded, wf, NULL, false, false, &res, &err),
        c->rc);
    ck_assert_int_eq(err.code, c->rc);
    ck_assert_msg(strstr(err.message, c->message) != NULL, "'%s' lacks '%s'", err.message,
                  c->message);
    ck_assert(res.other_workflow == c->other_workflow);
    ck_assert(res.file_changed == c->file_changed);
    assert_empty(&res);
    wf_resume_release(&res);
    wf_error_release(&err);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(resume_last_of_an_empty_store)
{
    char dir[] = "/tmp/check_api_empty.XXXXXX";
    wf_workflow *wf = load("greet.yaml", resume_wf);
    wf_store *empty = NULL;
    wf_resume res;
    wf_error err;
    char *cmd;

    ck_assert_ptr_nonnull(mkdtemp(dir));
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(dir, &empty, &err), WF_OK);
    ck_assert_int_eq(wf_resume_prepare(empty, "last", wf, NULL, false, false, &res, &err),
                     WF_ENOENT);
    ck_assert_ptr_nonnull(err.message);
    assert_empty(&res);
    wf_error_release(&err);
    ck_assert_int_eq(wf_store_close(empty, &err), WF_OK);
    cmd = wf_xasprintf("rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    wf_workflow_free(wf);
}
END_TEST

/* What an embedding program does for `run --resume`: the run takes the recorded unit. */
START_TEST(resumed_run_reuses_what_succeeded)
{
    wf_workflow *wf = load("greet.yaml", resume_wf);
    wf_run_options opts = { 0 };
    wf_resume res;
    wf_error err;
    int reused = 0;
    char id[64];

    wf_error_init(&err);
    ck_assert_int_eq(wf_resume_prepare(store, "last", wf, NULL, false, false, &res, &err), WF_OK);
    opts.resume_run = res.run_id;
    opts.inputs = res.inputs;
    opts.inputs_from_strings = res.inputs_from_strings;
    opts.on_event = count_reused;
    opts.user = &reused;
    ck_assert_int_eq(run_recorded(wf, &opts, id), WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(reused, 1);
    ck_assert_str_ne(id, recorded);
    wf_resume_release(&res);
    wf_error_release(&err);
    wf_workflow_free(wf);
}
END_TEST

static Suite *api_suite(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("plan");

    tcase_add_test(tc, plan_order_and_tasks);
    tcase_add_test(tc, plan_streamed_equals_whole);
    tcase_add_test(tc, plan_open_refuses_bad_inputs);
    suite_add_tcase(s, tc);
    tc = tcase_create("resume");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, resume_takes_recorded_inputs_but_not_secrets);
    tcase_add_test(tc, resume_drops_inputs_the_file_no_longer_declares);
    tcase_add_loop_test(tc, resume_refusals, 0, (int)(sizeof(refusals) / sizeof(refusals[0])));
    tcase_add_test(tc, resume_last_of_an_empty_store);
    tcase_add_test(tc, resumed_run_reuses_what_succeeded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(api_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
