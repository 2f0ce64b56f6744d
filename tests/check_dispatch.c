/* The scheduler's own unit tests (engine/dispatch.c, tasks.c, ready.c), run against the
 * scripted executor (scripted_executor.h) through wf__run_start_on: no process and no action
 * runs. Dependency order, item order, the executor's limit and a task's concurrency,
 * round-robin, whole-task submission, retries, skips, fail-fast, cancellation, start notices,
 * and the executor's life (started once, stopped once, also when the run does not start).
 * Every run is also checked for the contract's invariants (harness_wait). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>

#include "run_internal.h"
#include "scripted_executor.h"

/* Generous: a correct scheduler reacts within milliseconds; a broken one never does. */
#define WAIT_MS 10000

static const scripted_outcome SUCCEED = { .action = SCRIPTED_SUCCEED };
static const scripted_outcome FAIL = { .action = SCRIPTED_FAIL, .error = "failed on purpose" };
static const scripted_outcome HOLD = { .action = SCRIPTED_HOLD };
static const scripted_outcome HOLD_STARTED = { .action = SCRIPTED_HOLD, .start = true };

/* ---- the harness: a workflow string run on a scripted executor ------------------------- */

typedef struct event_rec {
    wf_event_kind kind;
    char task[32];
    int64_t index;
    int attempt;
    bool started, ignored;
    wf_status status;
    size_t units_done, units_total;
} event_rec;

typedef struct harness {
    wf_engine *engine;
    wf_workflow *wf;
    wf_run *run;
    scripted_executor *sx;
    wf_errlist errs;
    wf_status status;
    json_object *doc;
    /* Events, appended on the scheduler thread; the test reads them under lock. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    event_rec *events;
    size_t n_events, cap_events;
    bool ended; /* RUN_END was emitted */
} harness;

static void on_event(const wf_event *ev, void *user)
{
    harness *h = user;
    event_rec *e;

    pthread_mutex_lock(&h->lock);
    if (h->n_events == h->cap_events) {
        h->cap_events = h->cap_events ? h->cap_events * 2 : 64;
        h->events = wf_xrealloc(h->events, h->cap_events * sizeof(*h->events));
    }
    e = &h->events[h->n_events++];
    memset(e, 0, sizeof(*e));
    e->kind = ev->kind;
    snprintf(e->task, sizeof(e->task), "%s", ev->task ? ev->task : "");
    e->index = ev->index;
    e->attempt = ev->attempt;
    e->started = ev->started;
    e->status = ev->status;
    e->ignored = ev->ignored;
    e->units_done = ev->units_done;
    e->units_total = ev->units_total;
    if (ev->kind == WF_EVENT_RUN_END)
        h->ended = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
}

static void harness_init(harness *h)
{
    memset(h, 0, sizeof(*h));
    h->engine = wf_engine_new(NULL);
    h->sx = scripted_executor_new();
    wf_errlist_init(&h->errs);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
}

/* Loads yaml and starts it on h->sx (configure the script before); returns the start's code. */
static int harness_start(harness *h, const char *yaml, const wf_run_options *opts)
{
    wf_run_options o = { 0 };

    if (opts != NULL)
        o = *opts;
    o.on_event = on_event;
    o.user = h;
    if (wf_workflow_load_string("t.yaml", yaml, strlen(yaml), &h->wf, &h->errs) != WF_OK) {
        for (size_t i = 0; i < h->errs.len; i++)
            wf_error_print(stderr, &h->errs.items[i]);
        ck_abort_msg("the workflow did not load");
    }
    return wf__run_start_on(h->engine, h->wf, &o, scripted_executor_base(h->sx), &h->run, &h->errs);
}

/* Waits until an event of kind about task's index has been emitted; false after WAIT_MS. */
static bool harness_wait_event(harness *h, wf_event_kind kind, const char *task, int64_t index)
{
    struct timespec deadline;
    bool found = false;
    size_t seen = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += WAIT_MS / 1000;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        for (; seen < h->n_events && !found; seen++) {
            const event_rec *e = &h->events[seen];

            found = e->kind == kind && strcmp(e->task, task) == 0 && e->index == index;
        }
        if (found || pthread_cond_timedwait(&h->cond, &h->lock, &deadline) != 0)
            break;
    }
    pthread_mutex_unlock(&h->lock);
    return found;
}

static const char *task_name(const harness *h, uint32_t t)
{
    return h->wf->tasks[t].name;
}

/* A job's records, in order, are one SUBMIT, at most one NOTICE, one COMPLETE. */
static void check_job_life(const harness *h, const scripted_record *log, size_t n, size_t submit)
{
    const wf_job *job = &log[submit].job;
    int notices = 0, completes = 0, submits = 0;

    for (size_t i = 0; i < n; i++) {
        const scripted_record *rec = &log[i];

        if ((rec->kind != SCRIPTED_SUBMIT && rec->kind != SCRIPTED_NOTICE &&
             rec->kind != SCRIPTED_COMPLETE) ||
            rec->job.task != job->task || rec->job.unit != job->unit ||
            rec->job.attempt != job->attempt)
            continue;
        submits += rec->kind == SCRIPTED_SUBMIT;
        notices += rec->kind == SCRIPTED_NOTICE;
        completes += rec->kind == SCRIPTED_COMPLETE;
        ck_assert_msg(i >= submit && (rec->kind == SCRIPTED_COMPLETE || completes == 0),
                      "%s[%u] attempt %u: records out of order", task_name(h, job->task), job->unit,
                      job->attempt);
    }
    ck_assert_msg(submits == 1 && notices <= 1 && completes == 1,
                  "%s[%u] attempt %u: %d submits, %d notices, %d completions",
                  task_name(h, job->task), job->unit, job->attempt, submits, notices, completes);
}

/* Waits for the run's end (failing the test if it does not come), reads its result, and
 * checks what must hold of every run: the executor was started once, first, and stopped
 * once, last, with nothing held; every job handed over was completed exactly once, after its
 * submit and its start notice (if any); and the scheduler's count of jobs in flight is back
 * to zero. */
static wf_status harness_wait(harness *h)
{
    struct timespec deadline;
    const scripted_record *log;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += 3 * WAIT_MS / 1000;
    pthread_mutex_lock(&h->lock);
    while (!h->ended && pthread_cond_timedwait(&h->cond, &h->lock, &deadline) == 0) {
    }
    pthread_mutex_unlock(&h->lock);
    /* A run that never ends leaves its scheduler thread waiting: the test process (forked
     * by Check) ends with the failure. */
    ck_assert_msg(h->ended, "the run did not end");
    h->status = wf_run_wait(h->run);
    h->doc = wf_run_result_json(h->run);

    log = scripted_executor_log(h->sx, &n);
    ck_assert_int_eq(scripted_executor_count(h->sx, SCRIPTED_START), 1);
    ck_assert_int_eq(scripted_executor_count(h->sx, SCRIPTED_STOP), 1);
    ck_assert_int_eq(log[0].kind, SCRIPTED_START);
    ck_assert_int_eq(log[n - 1].kind, SCRIPTED_STOP);
    ck_assert_int_eq(scripted_executor_held_at_stop(h->sx), 0);
    for (size_t i = 0; i < n; i++) {
        if (log[i].kind == SCRIPTED_SUBMIT)
            check_job_life(h, log, n, i);
    }
    ck_assert_int_eq(scripted_executor_base(h->sx)->in_flight, 0);
    return h->status;
}

static void harness_free(harness *h)
{
    json_object_put(h->doc);
    wf_run_free(h->run);
    /* Freeing the run does not stop the executor again. */
    ck_assert_int_le(scripted_executor_count(h->sx, SCRIPTED_STOP), 1);
    wf_workflow_free(h->wf);
    scripted_executor_free(h->sx);
    wf_engine_free(h->engine);
    wf_errlist_release(&h->errs);
    free(h->events);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
}

/* The compact JSON at a path like "tasks.a.result" of the result document (a static
 * buffer). */
static const char *at(const harness *h, const char *path)
{
    static char buf[4096];
    char *copy = strdup(path), *save = NULL;
    json_object *v = h->doc;

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

static long find(const harness *h, scripted_kind kind, const char *task, int64_t unit,
                 uint32_t attempt)
{
    return scripted_executor_find(h->sx, kind, task, unit, attempt);
}

/* How many jobs of task (NULL: any) were submitted. */
static size_t submits_of(const harness *h, const char *task)
{
    size_t n, count = 0;
    const scripted_record *log = scripted_executor_log(h->sx, &n);
    long t = task != NULL ? scripted_executor_task(h->sx, task) : -1;

    for (size_t i = 0; i < n; i++)
        count += log[i].kind == SCRIPTED_SUBMIT && (t < 0 || log[i].job.task == (uint32_t)t);
    return count;
}

/* The position of the first submit after position from, or -1. */
static long submit_after(const harness *h, long from)
{
    size_t n;
    const scripted_record *log = scripted_executor_log(h->sx, &n);

    for (size_t i = from < 0 ? 0 : (size_t)from + 1; i < n; i++) {
        if (log[i].kind == SCRIPTED_SUBMIT)
            return (long)i;
    }
    return -1;
}

/* Events of kind about task (index -2: any index). */
static int count_events(harness *h, wf_event_kind kind, const char *task, int64_t index)
{
    int count = 0;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n_events; i++) {
        const event_rec *e = &h->events[i];

        count +=
            e->kind == kind && strcmp(e->task, task) == 0 && (index == -2 || e->index == index);
    }
    pthread_mutex_unlock(&h->lock);
    return count;
}

/* The position of the first event of kind about task's index, or -1. */
static long find_event(harness *h, wf_event_kind kind, const char *task, int64_t index)
{
    long pos = -1;

    pthread_mutex_lock(&h->lock);
    for (size_t i = 0; i < h->n_events && pos < 0; i++) {
        const event_rec *e = &h->events[i];

        if (e->kind == kind && strcmp(e->task, task) == 0 && e->index == index)
            pos = (long)i;
    }
    pthread_mutex_unlock(&h->lock);
    return pos;
}

/* Releases n held jobs, oldest first, each with o, waiting for each to be handed over. */
static void release_in_turn(harness *h, size_t n, scripted_outcome o)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(scripted_executor_wait_held(h->sx, 1, WAIT_MS),
                      "job %zu of %zu was never handed over", i + 1, n);
        ck_assert(scripted_executor_release_oldest(h->sx, o, NULL));
    }
}

/* ---- order ------------------------------------------------------------------------------ */

static const struct order_case {
    const char *what, *yaml;
} order_cases[] = {
    { "a chain", "version: 1\n"
                 "tasks:\n"
                 "  c: {needs: [b], action: core.noop}\n"
                 "  b: {needs: [a], action: core.noop}\n"
                 "  a: {action: core.noop}\n" },
    { "a diamond", "version: 1\n"
                   "tasks:\n"
                   "  a: {action: core.noop}\n"
                   "  b: {needs: [a], action: core.noop}\n"
                   "  c: {needs: [a], with-items: [1, 2, 3], action: core.noop}\n"
                   "  d: {needs: [b, c], action: core.noop}\n"
                   "  e: {action: core.noop}\n" },
    { "dependencies read off templates",
      "version: 1\n"
      "tasks:\n"
      "  a: {action: core.noop}\n"
      "  b: {action: core.value, input: {value: '<< task.a >>'}}\n"
      "  c: {with-items: '<< [task.b, task.a, 1] >>', action: core.noop}\n" },
};

/* A task is never handed over before every task it depends on has completed, whether units
 * complete inside submit (mode 0) or are held and released one by one (mode 1). */
START_TEST(dependents_wait_for_their_dependencies)
{
    const struct order_case *oc = &order_cases[_i / 2];
    bool held = _i % 2 == 1;
    size_t units = 0;
    harness h;

    harness_init(&h);
    if (held)
        scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h, oc->yaml, NULL), WF_OK);
    for (size_t t = 0; t < h.wf->n_tasks; t++)
        units += h.wf->tasks[t].items_kind == WF_ITEMS_NONE ? 1 : 3;
    if (held)
        release_in_turn(&h, units, SUCCEED);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(submits_of(&h, NULL), units);
    for (size_t t = 0; t < h.wf->n_tasks; t++) {
        const wf_task *task = &h.wf->tasks[t];
        long first = find(&h, SCRIPTED_SUBMIT, task->name, -1, 0);

        ck_assert_msg(first >= 0, "%s: %s never handed over", oc->what, task->name);
        for (size_t d = 0; d < task->n_deps; d++) {
            const char *dep = task_name(&h, (uint32_t)task->deps[d]);
            size_t n;
            const scripted_record *log = scripted_executor_log(h.sx, &n);
            long dep_task = scripted_executor_task(h.sx, dep);

            /* Every unit of the dependency completed before the first unit of the task. */
            for (size_t i = (size_t)first; i < n; i++)
                ck_assert_msg(
                    !(log[i].kind == SCRIPTED_COMPLETE && log[i].job.task == (uint32_t)dep_task),
                    "%s: %s handed over before %s completed", oc->what, task->name, dep);
        }
    }
    harness_free(&h);
}
END_TEST

static const int release_orders[][6] = {
    { 0, 1, 2, 3, 4, 5 },
    { 5, 4, 3, 2, 1, 0 },
    { 3, 0, 5, 1, 4, 2 },
};

/* An item's result lands at its index whatever order the items complete in. */
START_TEST(item_results_in_item_order)
{
    const int *order = release_orders[_i];
    harness h;

    harness_init(&h);
    scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [a, b, c, d, e, f], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait_held(h.sx, 6, WAIT_MS));
    for (int i = 0; i < 6; i++) {
        char value[16];

        snprintf(value, sizeof(value), "%d", order[i] * 10);
        ck_assert(scripted_executor_release(
            h.sx, "t", (uint32_t)order[i],
            (scripted_outcome){ .action = SCRIPTED_SUCCEED, .value = value }));
    }
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(&h, "tasks.t.result"), "[0,10,20,30,40,50]");
    harness_free(&h);
}
END_TEST

/* The run's unit count is right from RUN_START when the lists are literal: a task without
 * items is 1, a with-items task its items, a task skipped before expanding 1 (ended); a
 * list read from a result counts 1 until its task expands. A failure under
 * continue-on-error is reported as ignored, on its unit and its task. */
START_TEST(unit_counts_and_ignored_failures)
{
    harness h;
    size_t first_total, last_total = 0, last_done = 0;
    bool ignored_unit = false, ignored_task = false, other_ignored = false;

    harness_init(&h);
    scripted_executor_default(h.sx, SUCCEED);
    scripted_executor_on(h.sx, "bad", -1, 0, FAIL);
    scripted_executor_on(h.sx, "soft", 1, 0, FAIL);
    ck_assert_int_eq(
        harness_start(&h,
                      "version: 1\n"
                      "tasks:\n"
                      "  bad: {action: core.noop}\n"
                      "  skipped: {needs: [bad], with-items: [1, 2, 3], action: core.noop}\n"
                      "  soft: {continue-on-error: true, with-items: [a, b], action: core.noop}\n"
                      "  list: {action: core.noop}\n"
                      "  later: {with-items: '<< [1, 2, 3, 4] >>', needs: [list], "
                      "action: core.noop}\n",
                      NULL),
        WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);
    ck_assert_uint_gt(h.n_events, 0);
    ck_assert_int_eq(h.events[0].kind, WF_EVENT_RUN_START);
    /* bad 1 + skipped 3 + soft 2 + list 1 + later 1 (its list is a template) */
    first_total = h.events[0].units_total;
    ck_assert_uint_eq(first_total, 8);
    for (size_t i = 0; i < h.n_events; i++) {
        const event_rec *e = &h.events[i];

        ck_assert_uint_le(e->units_done, e->units_total);
        ck_assert_uint_ge(e->units_done, last_done);
        last_done = e->units_done;
        last_total = e->units_total;
        if (e->kind == WF_EVENT_UNIT_END && strcmp(e->task, "soft") == 0 && e->index == 1)
            ignored_unit = e->ignored && e->status == WF_STATUS_FAILED;
        else if (e->kind == WF_EVENT_TASK_END && strcmp(e->task, "soft") == 0)
            ignored_task = e->ignored && e->status == WF_STATUS_FAILED;
        else if (e->ignored)
            other_ignored = true;
    }
    /* skipped counts 1 once it ends without units; later 4 once expanded. */
    ck_assert_uint_eq(last_total, 1 + 1 + 2 + 1 + 4);
    ck_assert_uint_eq(last_done, last_total);
    ck_assert(ignored_unit);
    ck_assert(ignored_task);
    ck_assert(!other_ignored);
    harness_free(&h);
}
END_TEST

/* Two fan-outs ready at once are served in turn, one unit each, all in one submit when
 * nothing limits them, and in turn as slots free up under a limit. */
START_TEST(ready_fan_outs_take_turns)
{
    size_t limit = _i == 0 ? 0 : 2, n;
    const scripted_record *log;
    int k = 0;
    harness h;

    harness_init(&h);
    scripted_executor_set_limit(h.sx, limit);
    if (limit > 0)
        scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {with-items: [1, 2, 3, 4], action: core.noop}\n"
                                   "  b: {with-items: [1, 2, 3, 4], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    if (limit > 0)
        release_in_turn(&h, 8, SUCCEED);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    log = scripted_executor_log(h.sx, &n);
    for (size_t i = 0; i < n; i++) {
        if (log[i].kind != SCRIPTED_SUBMIT)
            continue;
        ck_assert_msg(strcmp(task_name(&h, log[i].job.task), k % 2 == 0 ? "a" : "b") == 0 &&
                          log[i].job.unit == (uint32_t)(k / 2),
                      "submit %d was %s[%u]", k, task_name(&h, log[i].job.task), log[i].job.unit);
        if (limit == 0)
            ck_assert_int_eq(log[i].batch, 0);
        k++;
    }
    ck_assert_int_eq(k, 8);
    harness_free(&h);
}
END_TEST

/* ---- limits ----------------------------------------------------------------------------- */

static const struct limit_case {
    const char *tasks; /* under `tasks:` */
    size_t limit;      /* the executor's, 0: none */
    size_t units;
    size_t max_all, max_a; /* jobs in flight at most, and reached: overall, of task a */
} limit_cases[] = {
    { "  a: {with-items: '<< range(12) >>', action: core.noop}\n", 3, 12, 3, 3 },
    { "  a: {with-items: '<< range(5) >>', action: core.noop}\n", 1, 5, 1, 1 },
    { "  a: {with-items: '<< range(10) >>', concurrency: 2, action: core.noop}\n", 4, 10, 2, 2 },
    { "  a: {with-items: '<< range(10) >>', concurrency: 5, action: core.noop}\n", 2, 10, 2, 2 },
    { "  a: {with-items: '<< range(10) >>', concurrency: 3, action: core.noop}\n", 0, 10, 3, 3 },
    { "  a: {with-items: '<< range(6) >>', concurrency: 1, action: core.noop}\n"
      "  b: {with-items: '<< range(6) >>', action: core.noop}\n",
      3, 12, 3, 1 },
};

/* With every job held until the test releases it (oldest first), never more are in flight
 * than the executor's limit, nor of a task than its concurrency, and both are reached. */
START_TEST(limit_and_concurrency_are_never_exceeded)
{
    const struct limit_case *lc = &limit_cases[_i];
    char yaml[512];
    harness h;

    harness_init(&h);
    scripted_executor_set_limit(h.sx, lc->limit);
    scripted_executor_default(h.sx, HOLD);
    snprintf(yaml, sizeof(yaml), "version: 1\ntasks:\n%s", lc->tasks);
    ck_assert_int_eq(harness_start(&h, yaml, NULL), WF_OK);
    release_in_turn(&h, lc->units, SUCCEED);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(submits_of(&h, NULL), lc->units);
    ck_assert_int_eq(scripted_executor_max_in_flight(h.sx, NULL), lc->max_all);
    ck_assert_int_eq(scripted_executor_max_in_flight(h.sx, "a"), lc->max_a);
    harness_free(&h);
}
END_TEST

/* An executor with WF_EXEC_ARRAYS gets every startable unit of a task in one submit of that
 * task alone, with neither the task's concurrency nor the executor's limit applied. */
START_TEST(arrays_take_a_whole_task_at_once)
{
    size_t n;
    const scripted_record *log;
    long a, b;
    harness h;

    harness_init(&h);
    scripted_executor_set_caps(h.sx, WF_EXEC_PROCESSES | WF_EXEC_ARRAYS);
    scripted_executor_set_limit(h.sx, 1);
    scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(
        harness_start(&h,
                      "version: 1\n"
                      "tasks:\n"
                      "  a: {with-items: '<< range(5) >>', concurrency: 2, run: 'true'}\n"
                      "  b: {with-items: '<< range(3) >>', run: 'true'}\n"
                      "  c: {needs: [a], run: 'true'}\n",
                      NULL),
        WF_OK);
    ck_assert(scripted_executor_wait_held(h.sx, 8, WAIT_MS));
    release_in_turn(&h, 9, SUCCEED);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(scripted_executor_max_in_flight(h.sx, "a"), 5);
    ck_assert_int_eq(scripted_executor_max_in_flight(h.sx, NULL), 8);
    log = scripted_executor_log(h.sx, &n);
    a = find(&h, SCRIPTED_SUBMIT, "a", 0, 1);
    b = find(&h, SCRIPTED_SUBMIT, "b", 0, 1);
    for (size_t i = 0; i < n; i++) {
        if (log[i].kind != SCRIPTED_SUBMIT)
            continue;
        /* One batch per task, holding only that task's units. */
        if (log[i].batch == log[a].batch)
            ck_assert_str_eq(task_name(&h, log[i].job.task), "a");
        if (log[i].batch == log[b].batch)
            ck_assert_str_eq(task_name(&h, log[i].job.task), "b");
        if (strcmp(task_name(&h, log[i].job.task), "a") == 0)
            ck_assert_int_eq(log[i].batch, log[a].batch);
        if (strcmp(task_name(&h, log[i].job.task), "b") == 0)
            ck_assert_int_eq(log[i].batch, log[b].batch);
    }
    ck_assert_int_ne(log[a].batch, log[b].batch);
    harness_free(&h);
}
END_TEST

/* ---- retries ---------------------------------------------------------------------------- */

static const struct retry_case {
    const char *retry;  /* the task's retry */
    uint32_t fails;     /* attempts that fail before one succeeds */
    uint32_t attempts;  /* attempts handed over */
    const char *status; /* the task's */
    int64_t delays[3];  /* the least time between attempt k's completion and k+1's submit */
} retry_cases[] = {
    { "{count: 2, delay: 60ms}", 2, 3, "\"succeeded\"", { 60, 60 } },
    { "{count: 3, delay: 20ms, backoff: linear}", 3, 4, "\"succeeded\"", { 20, 40, 60 } },
    { "{count: 2, delay: 20ms, backoff: exponential}", 2, 3, "\"succeeded\"", { 20, 40 } },
    { "{count: 3, delay: 40ms, backoff: exponential, max-delay: 50ms}",
      3,
      4,
      "\"succeeded\"",
      { 40, 50, 50 } },
    { "1", 5, 2, "\"failed\"", { 0 } },
    { "{count: 2, delay: 10ms}", 9, 3, "\"failed\"", { 10, 10 } },
};

/* A failed attempt is handed over again, with the next attempt number, only once its delay
 * has passed; when the retries run out the unit and its task fail. */
START_TEST(retries_wait_their_delay_then_give_up)
{
    const struct retry_case *rc = &retry_cases[_i];
    char yaml[256], attempts[16];
    size_t n;
    const scripted_record *log;
    harness h;

    harness_init(&h);
    for (uint32_t k = 1; k <= rc->fails; k++)
        scripted_executor_on(h.sx, "t", 0, k, FAIL);
    snprintf(yaml, sizeof(yaml), "version: 1\ntasks:\n  t: {retry: %s, action: core.noop}\n",
             rc->retry);
    ck_assert_int_eq(harness_start(&h, yaml, NULL), WF_OK);
    ck_assert_int_eq(harness_wait(&h),
                     rc->fails < rc->attempts ? WF_STATUS_SUCCEEDED : WF_STATUS_FAILED);
    ck_assert_str_eq(at(&h, "tasks.t.status"), rc->status);
    snprintf(attempts, sizeof(attempts), "%u", rc->attempts);
    ck_assert_str_eq(at(&h, "tasks.t.attempts"), attempts);
    ck_assert_int_eq(submits_of(&h, "t"), rc->attempts);
    ck_assert_int_eq(count_events(&h, WF_EVENT_UNIT_RETRY, "t", -1), (int)rc->attempts - 1);
    log = scripted_executor_log(h.sx, &n);
    for (uint32_t k = 1; k < rc->attempts; k++) {
        long done = find(&h, SCRIPTED_COMPLETE, "t", 0, k);
        long next = find(&h, SCRIPTED_SUBMIT, "t", 0, k + 1);

        ck_assert(done >= 0 && next > done);
        ck_assert_msg(log[next].ms - log[done].ms >= rc->delays[k - 1],
                      "attempt %u handed over %lld ms after attempt %u failed, before its "
                      "delay of %lld ms",
                      k + 1, (long long)(log[next].ms - log[done].ms), k,
                      (long long)rc->delays[k - 1]);
    }
    harness_free(&h);
}
END_TEST

/* Items retry one by one: item k fails k times, and only its own attempts are repeated. */
START_TEST(item_retries_are_per_item)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", 1, 1, FAIL);
    scripted_executor_on(h.sx, "t", 2, 1, FAIL);
    scripted_executor_on(h.sx, "t", 2, 2, FAIL);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [x, y, z], retry: 2, action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(&h, "tasks.t.result"), "[0,1,2]");
    ck_assert_str_eq(at(&h, "tasks.t.items.0.attempts"), "1");
    ck_assert_str_eq(at(&h, "tasks.t.items.1.attempts"), "2");
    ck_assert_str_eq(at(&h, "tasks.t.items.2.attempts"), "3");
    ck_assert_int_eq(submits_of(&h, "t"), 6);
    harness_free(&h);
}
END_TEST

/* A retry goes before the units of its task never started: with concurrency 1, item 0's
 * second attempt is handed over before item 1's first. */
START_TEST(a_retry_goes_first)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", 0, 1, FAIL);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [x, y, z], concurrency: 1, retry: 1, "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_int_lt(find(&h, SCRIPTED_SUBMIT, "t", 0, 2), find(&h, SCRIPTED_SUBMIT, "t", 1, 1));
    ck_assert_int_lt(find(&h, SCRIPTED_SUBMIT, "t", 1, 1), find(&h, SCRIPTED_SUBMIT, "t", 2, 1));
    harness_free(&h);
}
END_TEST

/* A stop does not wait for retry delays: a unit waiting an hour for its retry ends cancelled
 * at once when the run is cancelled (case 0) or when another task trips the workflow's
 * fail-fast (case 1). */
START_TEST(a_stop_drops_pending_retries)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", -1, 0, FAIL);
    scripted_executor_on(h.sx, "bad", -1, 0, FAIL);
    scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "fail-fast: true\n"
                                   "tasks:\n"
                                   "  t: {retry: {count: 1, delay: 1h}, action: core.noop}\n"
                                   "  gate: {action: core.noop}\n"
                                   "  bad: {needs: [gate], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(harness_wait_event(&h, WF_EVENT_UNIT_RETRY, "t", -1));
    /* gate is queued: the cancel ends it; else its success lets bad fail. */
    if (_i == 0)
        wf_run_cancel(h.run);
    else
        ck_assert(scripted_executor_release(h.sx, "gate", 0, SUCCEED));
    ck_assert_int_eq(harness_wait(&h), _i == 0 ? WF_STATUS_CANCELLED : WF_STATUS_FAILED);
    ck_assert_int_eq(submits_of(&h, "t"), 1);
    ck_assert_str_eq(at(&h, "tasks.t.status"), "\"cancelled\"");
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_CANCEL_ALL), 1);
    harness_free(&h);
}
END_TEST

/* ---- failures ----------------------------------------------------------------------------- */

/* A failed task's dependents are skipped, transitively, without being handed over; a task that
 * asks for always() still runs, and so do tasks that do not depend on it. */
START_TEST(failures_skip_their_dependents)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "a", -1, 0, FAIL);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {action: core.noop}\n"
                                   "  b: {needs: [a], action: core.noop}\n"
                                   "  c: {needs: [b], with-items: [1, 2], action: core.noop}\n"
                                   "  d: {action: core.noop}\n"
                                   "  e: {needs: [c], when: '<< always() >>', action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);
    ck_assert_str_eq(at(&h, "tasks.a.status"), "\"failed\"");
    ck_assert_str_eq(at(&h, "tasks.b.status"), "\"skipped\"");
    ck_assert_str_eq(at(&h, "tasks.c.status"), "\"skipped\"");
    ck_assert_str_eq(at(&h, "tasks.d.status"), "\"succeeded\"");
    ck_assert_str_eq(at(&h, "tasks.e.status"), "\"succeeded\"");
    ck_assert_int_eq(submits_of(&h, "b"), 0);
    ck_assert_int_eq(submits_of(&h, "c"), 0);
    ck_assert_int_eq(submits_of(&h, "d"), 1);
    ck_assert_int_eq(submits_of(&h, "e"), 1);
    ck_assert_int_eq(count_events(&h, WF_EVENT_TASK_END, "c", -1), 1);
    harness_free(&h);
}
END_TEST

/* A task that fails with continue-on-error lets its dependents run, and the run succeeds. An
 * item skipped by the executor (its `when` was false) does not fail its task. */
START_TEST(continue_on_error_and_skipped_items)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "a", -1, 0, FAIL);
    scripted_executor_on(h.sx, "s", 1, 0, (scripted_outcome){ .action = SCRIPTED_SKIP });
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {action: core.noop, continue-on-error: true}\n"
                                   "  b: {needs: [a], action: core.noop}\n"
                                   "  s: {with-items: [1, 2, 3], action: core.noop}\n"
                                   "  u: {needs: [s], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(&h, "tasks.a.status"), "\"failed\"");
    ck_assert_str_eq(at(&h, "tasks.b.status"), "\"succeeded\"");
    ck_assert(find(&h, SCRIPTED_SUBMIT, "b", 0, 1) > find(&h, SCRIPTED_COMPLETE, "a", 0, 1));
    ck_assert_str_eq(at(&h, "tasks.s.status"), "\"succeeded\"");
    ck_assert_str_eq(at(&h, "tasks.s.items.1.status"), "\"skipped\"");
    ck_assert_str_eq(at(&h, "tasks.s.result"), "[0,null,2]");
    ck_assert_int_eq(submits_of(&h, "u"), 1);
    harness_free(&h);
}
END_TEST

/* Task fail-fast: when an item fails for good, the executor is told to cancel the task's
 * queued units (they end cancelled without starting), a running one goes on, no new unit
 * of the task is handed over, and other tasks go on. */
START_TEST(task_fail_fast_cancels_the_task_only)
{
    long cancel;
    size_t n;
    const scripted_record *log;
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", 0, 0, HOLD_STARTED);
    scripted_executor_on(h.sx, "t", 1, 0, FAIL);
    scripted_executor_on(h.sx, "t", -1, 0, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t:\n"
                                   "    with-items: '<< range(10) >>'\n"
                                   "    concurrency: 4\n"
                                   "    fail-fast: true\n"
                                   "    action: core.noop\n"
                                   "  other: {action: core.noop}\n"
                                   "  after: {needs: [other], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_CANCEL_TASK, 1, WAIT_MS));
    /* Units 2 and 3 were queued: cancelled by cancel_task. Unit 0 runs on. */
    ck_assert_int_eq(scripted_executor_held(h.sx), 1);
    ck_assert(scripted_executor_release(h.sx, "t", 0, SUCCEED));
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);

    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_CANCEL_TASK), 1);
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_CANCEL_ALL), 0);
    cancel = find(&h, SCRIPTED_CANCEL_TASK, NULL, -1, 0);
    log = scripted_executor_log(h.sx, &n);
    ck_assert_int_eq(log[cancel].job.task, scripted_executor_task(h.sx, "t"));
    ck_assert(find(&h, SCRIPTED_COMPLETE, "t", 1, 1) < cancel);
    for (long i = cancel; i < (long)n; i++)
        ck_assert_msg(log[i].kind != SCRIPTED_SUBMIT ||
                          log[i].job.task != (uint32_t)scripted_executor_task(h.sx, "t"),
                      "t[%u] handed over after cancel_task", log[i].job.unit);
    ck_assert_int_eq(submits_of(&h, "t"), 4);
    ck_assert_int_eq(log[find(&h, SCRIPTED_COMPLETE, "t", 2, 1)].status, WF_STATUS_CANCELLED);
    ck_assert_int_eq(log[find(&h, SCRIPTED_COMPLETE, "t", 3, 1)].status, WF_STATUS_CANCELLED);
    ck_assert_str_eq(at(&h, "tasks.t.status"), "\"failed\"");
    ck_assert_str_eq(at(&h, "tasks.t.result"), "[0,null,null,null,null,null,null,null,null,null]");
    ck_assert_str_eq(at(&h, "tasks.t.items.0.status"), "\"succeeded\"");
    ck_assert_str_eq(at(&h, "tasks.t.items.1.status"), "\"failed\"");
    ck_assert_str_eq(at(&h, "tasks.t.items.2.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.t.items.9.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.other.status"), "\"succeeded\"");
    ck_assert_str_eq(at(&h, "tasks.after.status"), "\"succeeded\"");
    harness_free(&h);
}
END_TEST

/* Workflow fail-fast: the first failure stops the run once (one cancel_all), nothing new is
 * handed over, queued and running jobs end cancelled, a job that survives the cancel is
 * waited for, and tasks not started end cancelled. Case 0: two failures in one submit; case
 * 1: wf_run_cancel on top of the tripped fail-fast (still one cancel_all; the run is then
 * cancelled). */
START_TEST(workflow_fail_fast_stops_once)
{
    char yaml[512];
    long cancel;
    size_t n;
    const scripted_record *log;
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "bad", -1, 0, FAIL);
    scripted_executor_on(h.sx, "bad2", -1, 0, FAIL);
    scripted_executor_on(h.sx, "slow", -1, 0, HOLD_STARTED);
    scripted_executor_on(
        h.sx, "stubborn", -1, 0,
        (scripted_outcome){ .action = SCRIPTED_HOLD, .start = true, .survive_cancel = true });
    scripted_executor_on(h.sx, "many", -1, 0, HOLD);
    snprintf(yaml, sizeof(yaml),
             "version: 1\n"
             "fail-fast: true\n"
             "tasks:\n"
             "  slow: {action: core.noop}\n"
             "  stubborn: {action: core.noop}\n"
             "  many: {with-items: [1, 2, 3], concurrency: 1, action: core.noop}\n"
             "  bad: {action: core.noop}\n"
             "%s"
             "  later: {needs: [slow], when: '<< always() >>', action: core.noop}\n",
             _i == 0 ? "  bad2: {action: core.noop}\n" : "");
    ck_assert_int_eq(harness_start(&h, yaml, NULL), WF_OK);
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_CANCEL_ALL, 1, WAIT_MS));
    ck_assert_int_eq(scripted_executor_held(h.sx), 1); /* stubborn */
    /* The scheduler sees the cancel before it can end: stubborn's completion is still to come. */
    if (_i == 1)
        wf_run_cancel(h.run);
    ck_assert(scripted_executor_release(h.sx, "stubborn", 0, SUCCEED));
    ck_assert_int_eq(harness_wait(&h), _i == 0 ? WF_STATUS_FAILED : WF_STATUS_CANCELLED);

    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_CANCEL_ALL), 1);
    cancel = find(&h, SCRIPTED_CANCEL_ALL, NULL, -1, 0);
    ck_assert_int_eq(submit_after(&h, cancel), -1);
    log = scripted_executor_log(h.sx, &n);
    ck_assert_int_eq(log[find(&h, SCRIPTED_COMPLETE, "slow", 0, 1)].status, WF_STATUS_CANCELLED);
    ck_assert_int_eq(log[find(&h, SCRIPTED_COMPLETE, "many", 0, 1)].status, WF_STATUS_CANCELLED);
    ck_assert_int_eq(submits_of(&h, "many"), 1);
    ck_assert_int_eq(submits_of(&h, "later"), 0);
    ck_assert_str_eq(at(&h, "tasks.bad.status"), "\"failed\"");
    ck_assert_str_eq(at(&h, "tasks.slow.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.stubborn.status"), "\"succeeded\"");
    ck_assert_str_eq(at(&h, "tasks.many.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.later.status"), "\"cancelled\"");
    harness_free(&h);
}
END_TEST

/* wf_run_cancel: cancel_all once, nothing new handed over (the rest of a fan-out, the
 * dependents), jobs that survive the cancel are waited for; the run is cancelled. Case 0:
 * the held jobs end at the cancel; case 1: they survive it and are released afterwards. */
START_TEST(run_cancel_stops_everything_once)
{
    bool survive = _i == 1;
    long cancel;
    harness h;

    harness_init(&h);
    scripted_executor_default(
        h.sx,
        (scripted_outcome){ .action = SCRIPTED_HOLD, .start = true, .survive_cancel = survive });
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [1, 2, 3, 4], concurrency: 2, "
                                   "action: core.noop}\n"
                                   "  after: {needs: [t], when: '<< always() >>', "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait_held(h.sx, 2, WAIT_MS));
    wf_run_cancel(h.run);
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_CANCEL_ALL, 1, WAIT_MS));
    if (survive) {
        ck_assert_int_eq(scripted_executor_held(h.sx), 2);
        wf_run_cancel(h.run); /* a second cancel does not cancel again */
        release_in_turn(&h, 2, SUCCEED);
    }
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_CANCELLED);
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_CANCEL_ALL), 1);
    cancel = find(&h, SCRIPTED_CANCEL_ALL, NULL, -1, 0);
    ck_assert_int_eq(submit_after(&h, cancel), -1);
    ck_assert_int_eq(submits_of(&h, "t"), 2);
    ck_assert_int_eq(submits_of(&h, "after"), 0);
    ck_assert_str_eq(at(&h, "tasks.t.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.t.items.0.status"), survive ? "\"succeeded\"" : "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.t.items.3.status"), "\"cancelled\"");
    ck_assert_str_eq(at(&h, "tasks.after.status"), "\"cancelled\"");
    harness_free(&h);
}
END_TEST

/* ---- start notices ------------------------------------------------------------------------ */

/* UNIT_START follows the executor's start notice: one per notice, after the unit's
 * UNIT_QUEUED and before its UNIT_END (which then says started); none without a notice.
 * Case 0: notices at submit; case 1: none; case 2: unit 1's notice sent later by the test,
 * and no UNIT_START before it. */
START_TEST(unit_start_follows_the_start_notice)
{
    harness h;

    harness_init(&h);
    if (_i == 0)
        scripted_executor_default(h.sx, (scripted_outcome){ .start = true });
    if (_i == 2)
        scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [1, 2, 3], action: core.noop}\n",
                                   NULL),
                     WF_OK);
    if (_i == 2) {
        ck_assert(scripted_executor_wait_held(h.sx, 3, WAIT_MS));
        ck_assert(harness_wait_event(&h, WF_EVENT_UNIT_QUEUED, "t", 2));
        ck_assert_int_eq(count_events(&h, WF_EVENT_UNIT_START, "t", -2), 0);
        ck_assert(scripted_executor_notice(h.sx, "t", 1));
        ck_assert(harness_wait_event(&h, WF_EVENT_UNIT_START, "t", 1));
        release_in_turn(&h, 3, SUCCEED);
    }
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    for (int64_t i = 0; i < 3; i++) {
        bool started = _i == 0 || (_i == 2 && i == 1);
        long queued = find_event(&h, WF_EVENT_UNIT_QUEUED, "t", i);
        long start = find_event(&h, WF_EVENT_UNIT_START, "t", i);
        long end = find_event(&h, WF_EVENT_UNIT_END, "t", i);

        ck_assert_int_eq(count_events(&h, WF_EVENT_UNIT_START, "t", i), started ? 1 : 0);
        ck_assert(queued >= 0 && end > queued);
        if (started)
            ck_assert(start > queued && start < end);
        ck_assert_int_eq(h.events[end].started, started);
    }
    harness_free(&h);
}
END_TEST

/* ---- the executor's life ------------------------------------------------------------------- */

static const struct refused_case {
    const char *what, *yaml;
} refused_cases[] = {
    { "a required input not given", "version: 1\n"
                                    "inputs: {n: {type: integer}}\n"
                                    "tasks:\n"
                                    "  a: {action: core.noop}\n" },
    { "an unknown action", "version: 1\ntasks:\n  a: {action: no.such}\n" },
};

/* A run refused before it starts (bad inputs, unknown action) still stops its executor,
 * once, without starting it or handing it anything. */
START_TEST(a_refused_run_stops_its_executor)
{
    harness h;

    harness_init(&h);
    ck_assert_int_eq(harness_start(&h, refused_cases[_i].yaml, NULL), WF_EINVAL);
    ck_assert_ptr_null(h.run);
    ck_assert_int_ge(h.errs.len, 1);
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_START), 0);
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_STOP), 1);
    ck_assert_int_eq(submits_of(&h, NULL), 0);
    harness_free(&h);
}
END_TEST

/* An executor that cannot start: the run does not start, the executor's error is returned,
 * it is stopped once and handed nothing, and no event is emitted. */
START_TEST(an_executor_that_cannot_start)
{
    harness h;

    harness_init(&h);
    scripted_executor_fail_start(h.sx, WF_EIO, "no cluster here");
    ck_assert_int_eq(harness_start(&h, "version: 1\ntasks:\n  a: {action: core.noop}\n", NULL),
                     WF_EIO);
    ck_assert_ptr_null(h.run);
    ck_assert_int_eq(h.errs.len, 1);
    ck_assert_int_eq(h.errs.items[0].code, WF_EIO);
    ck_assert_str_eq(h.errs.items[0].message, "no cluster here");
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_START), 1);
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_STOP), 1);
    ck_assert_int_eq(submits_of(&h, NULL), 0);
    ck_assert_int_eq(h.n_events, 0);
    harness_free(&h);
}
END_TEST

/* ---- retries after a task's fail-fast ------------------------------------------------------ */

/* A unit still running when its task's fail-fast trips, and then failing with retries left,
 * must not hang the run: it is not retried (nothing new of the task may start). Before the
 * fix it was put on a retry timer; when the timer fired the task could not start it and
 * nothing ended the task, so the run waited forever (`wfengine run` too). */
START_TEST(retry_after_task_fail_fast_ends_the_run)
{
    long cancel;
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", 0, 1, HOLD_STARTED);
    scripted_executor_on(h.sx, "t", 1, 0, FAIL);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [0, 1], fail-fast: true, retry: 1, "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_CANCEL_TASK, 1, WAIT_MS));
    ck_assert(scripted_executor_release(h.sx, "t", 0, FAIL));
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);
    ck_assert_str_eq(at(&h, "tasks.t.status"), "\"failed\"");
    cancel = find(&h, SCRIPTED_CANCEL_TASK, NULL, -1, 0);
    ck_assert_int_eq(submit_after(&h, cancel), -1);
    harness_free(&h);
}
END_TEST

/* The same when the unit is already waiting for its retry delay as the task's fail-fast trips:
 * the timer fires into a task that cannot start anything, which must then end. (If the
 * machine is so slow that the retry is handed over first, the test passes without showing
 * the bug; it cannot fail spuriously.) */
START_TEST(retry_timer_after_task_fail_fast_ends_the_run)
{
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "t", -1, 1, HOLD);
    scripted_executor_on(h.sx, "t", 1, 2, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  t: {with-items: [0, 1], fail-fast: true, "
                                   "retry: {count: 1, delay: 300ms}, action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait_held(h.sx, 2, WAIT_MS));
    ck_assert(scripted_executor_release(h.sx, "t", 1, FAIL));
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_SUBMIT, 3, WAIT_MS));
    /* Unit 0 now waits 300 ms for its retry while unit 1 fails for good. */
    ck_assert(scripted_executor_release(h.sx, "t", 0, FAIL));
    ck_assert(scripted_executor_release(h.sx, "t", 1, FAIL));
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);
    ck_assert_str_eq(at(&h, "tasks.t.status"), "\"failed\"");
    harness_free(&h);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A test case with a timeout well above WAIT_MS, so that a wait that fails is reported as
 * such rather than as a timeout. */
/* ---- pipelines -------------------------------------------------------------------------- */

/* Item 2 of a pipelined task is handed over as soon as item 2 of its source succeeded,
 * while the source's other items are still held; its results stay in item order. */
START_TEST(pipeline_item_starts_before_its_source_ends)
{
    harness h;
    long b2;

    harness_init(&h);
    scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {with-items: '<< range(4) >>', action: core.noop}\n"
                                   "  b: {with-items: '<< task.a >>', pipeline: true, "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert(scripted_executor_wait_held(h.sx, 4, WAIT_MS));
    ck_assert(scripted_executor_release(
        h.sx, "a", 2, (scripted_outcome){ .action = SCRIPTED_SUCCEED, .value = "20" }));
    ck_assert(scripted_executor_wait(h.sx, SCRIPTED_SUBMIT, 5, WAIT_MS));
    b2 = find(&h, SCRIPTED_SUBMIT, "b", 2, 1);
    ck_assert_int_ge(b2, 0);
    ck_assert_int_eq(find(&h, SCRIPTED_SUBMIT, "b", -1, 0), b2); /* the first of b */
    ck_assert_int_eq(scripted_executor_count(h.sx, SCRIPTED_COMPLETE), 1);
    ck_assert_int_eq(count_events(&h, WF_EVENT_TASK_END, "a", -1), 0);
    release_in_turn(&h, 7, SUCCEED); /* a[0], a[1], a[3], then b's */
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(at(&h, "tasks.a.result"), "[0,1,20,3]");
    ck_assert_str_eq(at(&h, "tasks.b.result"), "[0,1,2,3]");
    harness_free(&h);
}
END_TEST

/* One worker (limit 1), a chain of three pipelined stages: a free worker carries an item
 * through every stage before it starts the next first-stage item (depth first). */
START_TEST(pipeline_goes_depth_first)
{
    static const char *const want[] = { "a", "b", "c" };
    const scripted_record *log;
    size_t n;
    int k = 0;
    harness h;

    harness_init(&h);
    scripted_executor_set_limit(h.sx, 1);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  c: {with-items: '<< task.b >>', pipeline: true, "
                                   "action: core.noop}\n"
                                   "  a: {with-items: [x, y, z], action: core.noop}\n"
                                   "  b: {with-items: '<< task.a >>', pipeline: true, "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    log = scripted_executor_log(h.sx, &n);
    for (size_t i = 0; i < n; i++) {
        if (log[i].kind != SCRIPTED_SUBMIT)
            continue;
        ck_assert_msg(strcmp(task_name(&h, log[i].job.task), want[k % 3]) == 0 &&
                          log[i].job.unit == (uint32_t)(k / 3),
                      "submit %d was %s[%u]", k, task_name(&h, log[i].job.task), log[i].job.unit);
        k++;
    }
    ck_assert_int_eq(k, 9);
    ck_assert_str_eq(at(&h, "tasks.c.result"), "[0,1,2]");
    harness_free(&h);
}
END_TEST

/* A source item that fails (after its retry) skips the items downstream of it, stage after
 * stage, naming the source item; the other items go on; a pipelined task whose `when` calls
 * a status function runs that item anyway (its item is null). */
START_TEST(pipeline_failed_source_item_skips_downstream)
{
    long pos;
    harness h;

    harness_init(&h);
    scripted_executor_on(h.sx, "a", 1, 0, FAIL);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {with-items: [x, y, z], retry: {count: 1, delay: 1ms}, "
                                   "action: core.noop}\n"
                                   "  b: {with-items: '<< task.a >>', pipeline: true, "
                                   "action: core.noop}\n"
                                   "  c: {with-items: '<< task.b >>', pipeline: true, "
                                   "action: core.noop}\n"
                                   "  d: {with-items: '<< task.a >>', pipeline: true, "
                                   "when: '<< always() >>', action: core.noop}\n",
                                   NULL),
                     WF_OK);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_FAILED);
    ck_assert_int_ge(find(&h, SCRIPTED_SUBMIT, "a", 1, 2), 0); /* retried once */
    ck_assert_int_eq(find(&h, SCRIPTED_SUBMIT, "b", 1, 0), -1);
    ck_assert_int_eq(find(&h, SCRIPTED_SUBMIT, "c", 1, 0), -1);
    ck_assert_int_ge(find(&h, SCRIPTED_SUBMIT, "d", 1, 1), 0);
    pos = find_event(&h, WF_EVENT_UNIT_END, "b", 1);
    ck_assert_int_ge(pos, 0);
    ck_assert_int_eq(h.events[pos].status, WF_STATUS_SKIPPED);
    pos = find_event(&h, WF_EVENT_UNIT_END, "c", 1);
    ck_assert_int_ge(pos, 0);
    ck_assert_int_eq(h.events[pos].status, WF_STATUS_SKIPPED);
    ck_assert_str_eq(at(&h, "tasks.b.result"), "[0,null,2]");
    ck_assert_str_eq(at(&h, "tasks.c.result"), "[0,null,2]");
    ck_assert_str_eq(at(&h, "tasks.d.result"), "[0,1,2]");
    ck_assert_str_eq(at(&h, "tasks.b.status"), "\"succeeded\"");
    harness_free(&h);
}
END_TEST

/* An executor that takes a task's units at once (Slurm arrays) gets a pipelined task's units
 * as they become startable: several small submits, every unit once. */
START_TEST(pipeline_on_arrays_trickles)
{
    harness h;

    harness_init(&h);
    scripted_executor_set_caps(h.sx, WF_EXEC_PROCESSES | WF_EXEC_ACTIONS | WF_EXEC_ARRAYS);
    scripted_executor_default(h.sx, HOLD);
    ck_assert_int_eq(harness_start(&h,
                                   "version: 1\n"
                                   "tasks:\n"
                                   "  a: {with-items: '<< range(4) >>', action: core.noop}\n"
                                   "  b: {with-items: '<< task.a >>', pipeline: true, "
                                   "action: core.noop}\n",
                                   NULL),
                     WF_OK);
    release_in_turn(&h, 8, SUCCEED);
    ck_assert_int_eq(harness_wait(&h), WF_STATUS_SUCCEEDED);
    ck_assert_int_eq(submits_of(&h, "b"), 4);
    ck_assert_str_eq(at(&h, "tasks.b.result"), "[0,1,2,3]");
    harness_free(&h);
}
END_TEST

static TCase *new_tcase(const char *name)
{
    TCase *tc = tcase_create(name);

    tcase_set_timeout(tc, 60);
    return tc;
}

static Suite *dispatch_suite(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc;

    tc = new_tcase("order");
    tcase_add_loop_test(tc, dependents_wait_for_their_dependencies, 0, 2 * N(order_cases));
    tcase_add_loop_test(tc, item_results_in_item_order, 0, N(release_orders));
    tcase_add_loop_test(tc, ready_fan_outs_take_turns, 0, 2);
    tcase_add_test(tc, unit_counts_and_ignored_failures);
    suite_add_tcase(s, tc);

    tc = new_tcase("limits");
    tcase_add_loop_test(tc, limit_and_concurrency_are_never_exceeded, 0, N(limit_cases));
    tcase_add_test(tc, arrays_take_a_whole_task_at_once);
    suite_add_tcase(s, tc);

    tc = new_tcase("retries");
    tcase_add_loop_test(tc, retries_wait_their_delay_then_give_up, 0, N(retry_cases));
    tcase_add_test(tc, item_retries_are_per_item);
    tcase_add_test(tc, a_retry_goes_first);
    tcase_add_loop_test(tc, a_stop_drops_pending_retries, 0, 2);
    suite_add_tcase(s, tc);

    tc = new_tcase("failures");
    tcase_add_test(tc, failures_skip_their_dependents);
    tcase_add_test(tc, continue_on_error_and_skipped_items);
    tcase_add_test(tc, task_fail_fast_cancels_the_task_only);
    tcase_add_loop_test(tc, workflow_fail_fast_stops_once, 0, 2);
    tcase_add_loop_test(tc, run_cancel_stops_everything_once, 0, 2);
    suite_add_tcase(s, tc);

    tc = new_tcase("events");
    tcase_add_loop_test(tc, unit_start_follows_the_start_notice, 0, 3);
    suite_add_tcase(s, tc);

    tc = new_tcase("life");
    tcase_add_loop_test(tc, a_refused_run_stops_its_executor, 0, N(refused_cases));
    tcase_add_test(tc, an_executor_that_cannot_start);
    suite_add_tcase(s, tc);

    tc = new_tcase("pipelines");
    tcase_add_test(tc, pipeline_item_starts_before_its_source_ends);
    tcase_add_test(tc, pipeline_goes_depth_first);
    tcase_add_test(tc, pipeline_failed_source_item_skips_downstream);
    tcase_add_test(tc, pipeline_on_arrays_trickles);
    suite_add_tcase(s, tc);

    tc = new_tcase("retry_after_fail_fast");
    tcase_add_test(tc, retry_after_task_fail_fast_ends_the_run);
    tcase_add_test(tc, retry_timer_after_task_fail_fast_ends_the_run);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dispatch_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
