/* Scheduling rules, through the embedding API (wfengine.h) with actions registered by the
 * test: item order and nulls, skip propagation, status functions, retries, fail-fast,
 * concurrency limits, publish, outputs, cancellation, events (a unit's queue, start and end). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "run_internal.h"

/* ---- test actions --------------------------------------------------------------------- */

typedef struct probe {
    atomic_int in_flight, max_in_flight, calls;
    atomic_int called[64]; /* calls per index */
} probe;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

    nanosleep(&ts, NULL);
}

static int64_t input_int(const wf_action_call *call, const char *key, int64_t dflt)
{
    json_object *v = NULL;

    if (call->input == NULL || !json_object_object_get_ex((json_object *)call->input, key, &v))
        return dflt;
    return json_object_get_int64(v);
}

/* Counts calls and concurrency; sleeps input.ms; fails when input.fail is true or when the
 * attempt is below input.succeed_on; returns input.value or the index. */
static int probe_action(const wf_action_call *call, wf_action_reply *reply, void *user)
{
    probe *p = user;
    int now = atomic_fetch_add(&p->in_flight, 1) + 1, max = atomic_load(&p->max_in_flight);
    json_object *v = NULL;

    while (now > max && !atomic_compare_exchange_weak(&p->max_in_flight, &max, now)) {
    }
    atomic_fetch_add(&p->calls, 1);
    if (call->index >= 0 && call->index < 64)
        atomic_fetch_add(&p->called[call->index], 1);
    sleep_ms((int)input_int(call, "ms", 0));
    atomic_fetch_sub(&p->in_flight, 1);
    if (input_int(call, "fail", 0) || call->attempt < input_int(call, "succeed_on", 1)) {
        reply->error = strdup("probe failed on purpose");
        return WF_EFAILED;
    }
    if (call->input != NULL && json_object_object_get_ex((json_object *)call->input, "value", &v))
        reply->result = wf_json_copy(v);
    else
        reply->result = json_object_new_int64(call->index);
    return WF_OK;
}

/* ---- running a workflow string -------------------------------------------------------- */

typedef struct outcome {
    wf_status status;
    json_object *doc;
    int task_ends, unit_ends, warnings, retries;
    char last_warning[512];
} outcome;

static void on_event(const wf_event *ev, void *user)
{
    outcome *o = user;

    if (ev->kind == WF_EVENT_TASK_END)
        o->task_ends++;
    if (ev->kind == WF_EVENT_UNIT_END)
        o->unit_ends++;
    if (ev->kind == WF_EVENT_UNIT_RETRY)
        o->retries++;
    if (ev->kind == WF_EVENT_WARNING) {
        o->warnings++;
        snprintf(o->last_warning, sizeof(o->last_warning), "%s", ev->message);
    }
}

static probe the_probe;

static outcome run_yaml(const char *yaml, int concurrency)
{
    wf_engine *e = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    wf_run_options opts = { 0 };
    outcome o = { 0 };

    memset(&the_probe, 0, sizeof(the_probe));
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_engine_register_action(e, "test.probe", probe_action, &the_probe), WF_OK);
    if (wf_workflow_load_string("t.yaml", yaml, strlen(yaml), &wf, &errs) != WF_OK) {
        for (size_t i = 0; i < errs.len; i++)
            wf_error_print(stderr, &errs.items[i]);
        ck_abort_msg("workflow did not load");
    }
    opts.concurrency = concurrency;
    opts.on_event = on_event;
    opts.user = &o;
    ck_assert_int_eq(wf_run_start(e, wf, &opts, &run, &errs), WF_OK);
    o.status = wf_run_wait(run);
    o.doc = wf_run_result_json(run);
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
    return o;
}

/* The compact JSON of doc at a path like "tasks.a.result" (owned by a static buffer). */
static const char *at(json_object *doc, const char *path)
{
    static char buf[4096];
    char *copy = strdup(path), *save = NULL;
    json_object *v = doc;

    for (char *k = strtok_r(copy, ".", &save); k != NULL; k = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(v, json_type_array))
            v = json_object_array_get_idx(v, (size_t)atoi(k));
        else if (!json_object_object_get_ex(v, k, &v))
            v = NULL;
    }
    free(copy);
    snprintf(buf, sizeof(buf), "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    return buf;
}

/* ---- tests ----------------------------------------------------------------------------- */

START_TEST(items_in_order_with_nulls)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  t:\n"
                         "    with-items: [5, 1, 3, 0]\n"
                         "    action: test.probe\n"
                         "    input: {ms: '<< item * 3 >>', fail: '<< index == 2 >>', value: "
                         "'<< item >>'}\n",
                         4);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "tasks.t.result"), "[5,1,null,0]");
    ck_assert_str_eq(at(o.doc, "tasks.t.status"), "\"failed\"");
    ck_assert_str_eq(at(o.doc, "tasks.t.items.2.status"), "\"failed\"");
    ck_assert_str_eq(at(o.doc, "tasks.t.items.2.error"), "\"probe failed on purpose\"");
    ck_assert_int_eq(o.unit_ends, 4);
    ck_assert_int_eq(o.task_ends, 1);
    json_object_put(o.doc);
}
END_TEST

START_TEST(skip_propagation_and_status_functions)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  a: {action: core.fail, input: {message: boom}}\n"
                         "  b: {needs: [a], action: core.noop}\n"
                         "  c: {needs: [b], action: core.noop}\n"
                         "  d:\n"
                         "    needs: [c]\n"
                         "    when: << always() >>\n"
                         "    action: core.value\n"
                         "    input: {value: \"<< [failed('a'), status('b'), status('c'), "
                         "succeeded('a')] >>\"}\n"
                         "  e:\n"
                         "    when: << failed('a') >>\n"
                         "    action: core.value\n"
                         "    input: {value: ran}\n"
                         "  f: {when: \"<< succeeded('a') >>\", action: core.noop}\n",
                         2);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "tasks.a.error"), "\"boom\"");
    ck_assert_str_eq(at(o.doc, "tasks.b.status"), "\"skipped\"");
    ck_assert_str_eq(at(o.doc, "tasks.c.status"), "\"skipped\"");
    ck_assert_str_eq(at(o.doc, "tasks.d.result"), "[true,\"skipped\",\"skipped\",false]");
    ck_assert_str_eq(at(o.doc, "tasks.e.result"), "\"ran\"");
    ck_assert_str_eq(at(o.doc, "tasks.f.status"), "\"skipped\"");
    ck_assert_int_eq(o.task_ends, 6);
    json_object_put(o.doc);
}
END_TEST

START_TEST(continue_on_error_counts_as_success)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  a: {action: core.fail, continue-on-error: true}\n"
                         "  b: {needs: [a], action: core.value, input: {value: "
                         "\"<< status('a') >>\"}}\n",
                         2);

    ck_assert_int_eq(o.status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(o.doc, "tasks.b.result"), "\"failed\"");
    json_object_put(o.doc);
}
END_TEST

START_TEST(retries_until_success_with_backoff)
{
    int64_t start = wf_now_ms();
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  a:\n"
                         "    action: test.probe\n"
                         "    input: {succeed_on: 3}\n"
                         "    retry: {count: 3, delay: 40ms, backoff: exponential}\n"
                         "  b:\n"
                         "    action: test.probe\n"
                         "    input: {succeed_on: 5}\n"
                         "    retry: 1\n",
                         2);
    int64_t elapsed = wf_now_ms() - start;

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "tasks.a.status"), "\"succeeded\"");
    ck_assert_str_eq(at(o.doc, "tasks.a.attempts"), "3");
    ck_assert_str_eq(at(o.doc, "tasks.b.status"), "\"failed\"");
    ck_assert_str_eq(at(o.doc, "tasks.b.attempts"), "2");
    ck_assert_int_eq(o.retries, 3);
    /* Delays of 40 ms then 80 ms must have been waited (a lower bound, not a speed test). */
    ck_assert_int_ge(elapsed, 120);
    json_object_put(o.doc);
}
END_TEST

START_TEST(item_retries_are_per_item)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  t:\n"
                         "    with-items: [1, 2, 3]\n"
                         "    action: test.probe\n"
                         "    input: {succeed_on: '<< item >>'}\n"
                         "    retry: 2\n",
                         2);

    ck_assert_int_eq(o.status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(o.doc, "tasks.t.items.0.attempts"), "1");
    ck_assert_str_eq(at(o.doc, "tasks.t.items.1.attempts"), "2");
    ck_assert_str_eq(at(o.doc, "tasks.t.items.2.attempts"), "3");
    ck_assert_int_eq(atomic_load(&the_probe.calls), 6);
    json_object_put(o.doc);
}
END_TEST

static const int limit_cases[][3] = {
    /* global -j, task concurrency (0: none), max allowed */
    { 4, 2, 2 },
    { 3, 0, 3 },
    { 1, 5, 1 },
    { 8, 3, 3 },
};

START_TEST(concurrency_limits_never_exceeded)
{
    char yaml[512];
    outcome o;

    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "tasks:\n"
             "  t:\n"
             "    with-items: << range(24) >>\n"
             "%s"
             "    action: test.probe\n"
             "    input: {ms: 3}\n",
             limit_cases[_i][1] ? (limit_cases[_i][1] == 2   ? "    concurrency: 2\n"
                                   : limit_cases[_i][1] == 3 ? "    concurrency: 3\n"
                                                             : "    concurrency: 5\n")
                                : "");
    o = run_yaml(yaml, limit_cases[_i][0]);
    ck_assert_int_eq(o.status, WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(atomic_load(&the_probe.calls), 24);
    ck_assert_int_le(atomic_load(&the_probe.max_in_flight), limit_cases[_i][2]);
    json_object_put(o.doc);
}
END_TEST

START_TEST(task_fail_fast_starts_no_new_items)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  t:\n"
                         "    with-items: << range(10) >>\n"
                         "    concurrency: 1\n"
                         "    fail-fast: true\n"
                         "    action: test.probe\n"
                         "    input: {fail: '<< index == 3 >>'}\n"
                         "  other: {action: core.value, input: {value: 1}}\n",
                         4);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_int_eq(atomic_load(&the_probe.calls), 4);
    ck_assert_str_eq(at(o.doc, "tasks.t.items.9.status"), "\"cancelled\"");
    ck_assert_str_eq(at(o.doc, "tasks.t.result"), "[0,1,2,null,null,null,null,null,null,null]");
    ck_assert_str_eq(at(o.doc, "tasks.other.status"), "\"succeeded\"");
    json_object_put(o.doc);
}
END_TEST

START_TEST(workflow_fail_fast_cancels_the_rest)
{
    outcome o = run_yaml("version: 1\n"
                         "fail-fast: true\n"
                         "tasks:\n"
                         "  bad: {action: core.fail}\n"
                         "  slow: {action: core.sleep, input: {seconds: 30}}\n"
                         "  later: {needs: [slow], when: '<< always() >>', action: core.noop}\n",
                         4);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "tasks.slow.status"), "\"cancelled\"");
    ck_assert_str_eq(at(o.doc, "tasks.later.status"), "\"cancelled\"");
    json_object_put(o.doc);
}
END_TEST

START_TEST(publish_and_outputs)
{
    outcome o = run_yaml("version: 1\n"
                         "vars: {base: 10}\n"
                         "tasks:\n"
                         "  a:\n"
                         "    action: core.value\n"
                         "    input: {value: {n: 32}}\n"
                         "    publish: {answer: '<< task.a.n + vars.base >>'}\n"
                         "  b:\n"
                         "    needs: [a]\n"
                         "    action: core.value\n"
                         "    input: {value: '<< vars.answer >>'}\n"
                         "  c: {action: core.fail}\n"
                         "outputs:\n"
                         "  answer: << task.b >>\n"
                         "  broken: << task.c.x >>\n",
                         2);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "outputs"), "{\"answer\":42,\"broken\":null}");
    ck_assert_int_eq(o.warnings, 1);
    ck_assert_msg(strstr(o.last_warning, "broken") != NULL, "warning: %s", o.last_warning);
    json_object_put(o.doc);
}
END_TEST

START_TEST(empty_and_bad_item_lists)
{
    outcome o = run_yaml("version: 1\n"
                         "tasks:\n"
                         "  src: {action: core.value, input: {value: {list: [], n: 3}}}\n"
                         "  empty: {with-items: << task.src.list >>, action: test.probe}\n"
                         "  bad: {with-items: << task.src.n >>, action: test.probe}\n",
                         2);

    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_str_eq(at(o.doc, "tasks.empty.status"), "\"succeeded\"");
    ck_assert_str_eq(at(o.doc, "tasks.empty.result"), "[]");
    ck_assert_str_eq(at(o.doc, "tasks.bad.status"), "\"failed\"");
    ck_assert_str_eq(at(o.doc, "tasks.bad.error"),
                     "\"with-items (t.yaml:5:21): '<< task.src.n >>' gave integer, not a list\"");
    ck_assert_int_eq(atomic_load(&the_probe.calls), 0);
    json_object_put(o.doc);
}
END_TEST

START_TEST(long_chain_of_skips_does_not_recurse)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    outcome o;

    wf_strbuf_adds(&sb, "version: 1\ntasks:\n  t0: {action: core.fail}\n");
    for (int i = 1; i < 3000; i++)
        wf_strbuf_addf(&sb, "  t%d: {needs: [t%d], action: core.noop}\n", i, i - 1);
    o = run_yaml(wf_strbuf_str(&sb), 2);
    ck_assert_int_eq(o.status, WF_STATUS_FAILED);
    ck_assert_int_eq(o.task_ends, 3000);
    ck_assert_str_eq(at(o.doc, "tasks.t2999.status"), "\"skipped\"");
    json_object_put(o.doc);
    wf_strbuf_release(&sb);
}
END_TEST

static void *cancel_soon(void *arg)
{
    sleep_ms(100);
    wf_run_cancel(arg);
    return NULL;
}

START_TEST(cancel_stops_everything)
{
    const char *yaml =
        "version: 1\n"
        "tasks:\n"
        "  nap: {with-items: [1, 2, 3, 4], action: core.sleep, input: {seconds: 30}}\n"
        "  after: {needs: [nap], when: '<< always() >>', action: core.noop}\n";
    wf_engine *e = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    wf_run_options opts = { .concurrency = 2 };
    pthread_t th;
    json_object *doc;
    int64_t start = wf_now_ms();

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_string("c.yaml", yaml, strlen(yaml), &wf, &errs), WF_OK);
    ck_assert_int_eq(wf_run_start(e, wf, &opts, &run, &errs), WF_OK);
    pthread_create(&th, NULL, cancel_soon, run);
    ck_assert_int_eq(wf_run_wait(run), WF_STATUS_CANCELLED);
    pthread_join(th, NULL);
    ck_assert_int_lt(wf_now_ms() - start, 10000);
    doc = wf_run_result_json(run);
    ck_assert_str_eq(at(doc, "tasks.nap.status"), "\"cancelled\"");
    ck_assert_str_eq(at(doc, "tasks.after.status"), "\"cancelled\"");
    json_object_put(doc);
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
}
END_TEST

/* ---- the life of a unit in events ------------------------------------------------------ */

/* What a run's unit events said, checked as they come (on the scheduler thread; the test
 * asserts on the counts afterwards). */
typedef struct life {
    int state[64];   /* per item: 0 none, 1 queued, 2 started */
    int attempt[64]; /* per item: the attempt of the last event */
    int queued, started, retried, ended, ended_unstarted;
    int running, max_running; /* started and not ended, at any event */
    int out_of_order;         /* events that do not follow queued -> start -> retry/end */
} life;

static void on_life_event(const wf_event *ev, void *user)
{
    life *l = user;
    int i = (int)ev->index;

    if (ev->kind != WF_EVENT_UNIT_QUEUED && ev->kind != WF_EVENT_UNIT_START &&
        ev->kind != WF_EVENT_UNIT_RETRY && ev->kind != WF_EVENT_UNIT_END)
        return;
    if (i < 0 || i >= 64) {
        l->out_of_order++;
        return;
    }
    switch (ev->kind) {
    case WF_EVENT_UNIT_QUEUED:
        l->queued++;
        if (l->state[i] != 0 || ev->attempt != l->attempt[i] + 1)
            l->out_of_order++;
        l->state[i] = 1;
        l->attempt[i] = ev->attempt;
        break;
    case WF_EVENT_UNIT_START:
        l->started++;
        if (l->state[i] != 1 || ev->attempt != l->attempt[i])
            l->out_of_order++;
        l->state[i] = 2;
        if (++l->running > l->max_running)
            l->max_running = l->running;
        break;
    default: /* RETRY, END */
        if (ev->kind == WF_EVENT_UNIT_RETRY)
            l->retried++;
        else
            l->ended++;
        if (l->state[i] == 0 || ev->attempt != l->attempt[i] || ev->started != (l->state[i] == 2))
            l->out_of_order++;
        if (l->state[i] == 2)
            l->running--;
        else
            l->ended_unstarted++;
        l->state[i] = 0;
        break;
    }
}

static const struct life_case {
    const char *what, *task; /* the task's body, under `t:` */
    int jobs, items;
    int max_running;       /* at most this many started and not ended at any event */
    int attempts, retries; /* units queued and started; retries */
} life_cases[] = {
    { "processes: the issue's 10 x sleep 0.3 with -j 2", "    run: sleep 0.3\n", 2, 10, 2, 10, 0 },
    { "in-process actions", "    action: test.probe\n    input: {ms: 5}\n", 3, 40, 3, 40, 0 },
    { "a task limit below -j", "    concurrency: 2\n    action: test.probe\n    input: {ms: 5}\n",
      4, 16, 2, 16, 0 },
    { "retries: every attempt is queued and started again",
      "    retry: {count: 2, delay: 1ms}\n    action: test.probe\n    input: {succeed_on: 3}\n", 2,
      6, 2, 18, 12 },
};

/* UNIT_START is when a worker takes the unit, not when it is queued: with -j N at most N
 * units are started and not ended at any event, and each attempt is queued, started and
 * ended, in that order. */
START_TEST(units_start_when_a_worker_takes_them)
{
    const struct life_case *lc = &life_cases[_i];
    char yaml[512];
    wf_engine *e = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    life l;
    wf_run_options opts = { .concurrency = lc->jobs, .on_event = on_life_event, .user = &l };

    memset(&l, 0, sizeof(l));
    memset(&the_probe, 0, sizeof(the_probe));
    wf_errlist_init(&errs);
    snprintf(yaml, sizeof(yaml), "version: 1\ntasks:\n  t:\n    with-items: << range(%d) >>\n%s",
             lc->items, lc->task);
    ck_assert_int_eq(wf_engine_register_action(e, "test.probe", probe_action, &the_probe), WF_OK);
    ck_assert_int_eq(wf_workflow_load_string("l.yaml", yaml, strlen(yaml), &wf, &errs), WF_OK);
    ck_assert_int_eq(wf_run_start(e, wf, &opts, &run, &errs), WF_OK);
    ck_assert_int_eq(wf_run_wait(run), WF_STATUS_SUCCEEDED);
    ck_assert_msg(l.max_running <= lc->max_running,
                  "%s: %d units started and not ended at once, more than %d", lc->what,
                  l.max_running, lc->max_running);
    ck_assert_msg(l.out_of_order == 0, "%s: %d events out of order", lc->what, l.out_of_order);
    ck_assert_int_eq(l.queued, lc->attempts);
    ck_assert_int_eq(l.started, lc->attempts);
    ck_assert_int_eq(l.retried, lc->retries);
    ck_assert_int_eq(l.ended, lc->items);
    ck_assert_int_eq(l.ended_unstarted, 0);
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
}
END_TEST

/* Units still queued when the run is stopped end cancelled without a UNIT_START. */
START_TEST(queued_units_cancelled_never_start)
{
    const char *yaml = "version: 1\n"
                       "tasks:\n"
                       "  nap: {with-items: [1, 2, 3, 4], action: core.sleep, "
                       "input: {seconds: 30}}\n";
    wf_engine *e = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    life l;
    wf_run_options opts = { .concurrency = 1, .on_event = on_life_event, .user = &l };
    pthread_t th;

    memset(&l, 0, sizeof(l));
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_string("q.yaml", yaml, strlen(yaml), &wf, &errs), WF_OK);
    ck_assert_int_eq(wf_run_start(e, wf, &opts, &run, &errs), WF_OK);
    pthread_create(&th, NULL, cancel_soon, run);
    ck_assert_int_eq(wf_run_wait(run), WF_STATUS_CANCELLED);
    pthread_join(th, NULL);
    ck_assert_int_eq(l.out_of_order, 0);
    ck_assert_int_eq(l.queued, 4);
    ck_assert_int_eq(l.started, 1);
    ck_assert_int_eq(l.ended, 4);
    ck_assert_int_eq(l.ended_unstarted, 3);
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
}
END_TEST

START_TEST(unknown_action_is_refused_before_running)
{
    const char *yaml = "version: 1\ntasks:\n  a:\n    action: nope.missing\n";
    wf_engine *e = wf_engine_new(NULL);
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_string("u.yaml", yaml, strlen(yaml), &wf, &errs), WF_OK);
    ck_assert_int_eq(wf_run_start(e, wf, NULL, &run, &errs), WF_EINVAL);
    ck_assert_ptr_null(run);
    ck_assert_int_eq(errs.len, 1);
    ck_assert_str_eq(errs.items[0].message,
                     "task 'a': unknown action 'nope.missing' (an embedding program must "
                     "register it)");
    ck_assert_int_eq(errs.items[0].line, 4);
    ck_assert_int_eq(wf_engine_register_action(e, "core.mine", probe_action, NULL), WF_EINVAL);
    ck_assert_int_eq(wf_engine_register_action(e, "bad name", probe_action, NULL), WF_EINVAL);
    ck_assert_int_eq(wf_engine_register_action(e, "my.act", probe_action, NULL), WF_OK);
    ck_assert_int_eq(wf_engine_register_action(e, "my.act", probe_action, NULL), WF_EEXIST);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
}
END_TEST

static Suite *scheduler_suite(void)
{
    Suite *s = suite_create("scheduler");
    TCase *tc = tcase_create("rules");

    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, items_in_order_with_nulls);
    tcase_add_test(tc, skip_propagation_and_status_functions);
    tcase_add_test(tc, continue_on_error_counts_as_success);
    tcase_add_test(tc, retries_until_success_with_backoff);
    tcase_add_test(tc, item_retries_are_per_item);
    tcase_add_loop_test(tc, concurrency_limits_never_exceeded, 0,
                        (int)(sizeof(limit_cases) / sizeof(limit_cases[0])));
    tcase_add_test(tc, task_fail_fast_starts_no_new_items);
    tcase_add_test(tc, workflow_fail_fast_cancels_the_rest);
    tcase_add_test(tc, publish_and_outputs);
    tcase_add_test(tc, empty_and_bad_item_lists);
    tcase_add_test(tc, long_chain_of_skips_does_not_recurse);
    tcase_add_test(tc, cancel_stops_everything);
    tcase_add_test(tc, unknown_action_is_refused_before_running);
    suite_add_tcase(s, tc);
    tc = tcase_create("events");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, units_start_when_a_worker_takes_them, 0,
                        (int)(sizeof(life_cases) / sizeof(life_cases[0])));
    tcase_add_test(tc, queued_units_cancelled_never_start);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(scheduler_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
