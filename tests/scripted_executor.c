/*
 * scripted_executor.c: the scripted test executor (scripted_executor.h). It holds the script
 * (rules), the jobs held in flight and the record, all under one mutex that the scheduler
 * thread (the operations) and the test thread (release, waits) share.
 */
#include "scripted_executor.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "run_internal.h"

typedef struct rule {
    char *task; /* NULL: any */
    int64_t unit;
    uint32_t attempt;
    scripted_outcome o; /* o.value and o.error point to owned copies */
} rule;

typedef struct held_job {
    wf_job job;
    bool started;
    bool survive_cancel;
} held_job;

struct scripted_executor {
    wf_executor base;
    /* The script (set before the run, read on the scheduler thread only after). */
    size_t limit;
    int start_code;
    char *start_message;
    rule dflt;
    rule *rules;
    size_t n_rules;

    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled whenever the record or the held jobs change */
    wf_done_queue *done; /* from start to stop, else NULL */
    char **task_names;   /* copied at start: the record outlives the run */
    size_t n_tasks;
    held_job *held;
    size_t n_held, cap_held;
    scripted_record *log;
    size_t n_log, cap_log;
    size_t counts[SCRIPTED_N_KINDS];
    size_t batches;
    size_t in_flight, max_in_flight;
    size_t *task_in_flight, *task_max_in_flight; /* per task */
    size_t held_at_stop;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? wf_xstrdup(s) : NULL;
}

static void rule_set(rule *ru, const char *task, int64_t unit, uint32_t attempt, scripted_outcome o)
{
    ru->task = dup_or_null(task);
    ru->unit = unit;
    ru->attempt = attempt;
    ru->o = o;
    ru->o.value = dup_or_null(o.value);
    ru->o.error = dup_or_null(o.error);
}

static void rule_release(rule *ru)
{
    free(ru->task);
    free((char *)ru->o.value);
    free((char *)ru->o.error);
}

/* Appends a record; the caller holds the lock. */
static scripted_record *record_locked(scripted_executor *sx, scripted_kind kind, const wf_job *job)
{
    scripted_record *rec;

    if (sx->n_log == sx->cap_log) {
        sx->cap_log = sx->cap_log ? sx->cap_log * 2 : 64;
        sx->log = wf_xrealloc(sx->log, sx->cap_log * sizeof(*sx->log));
    }
    rec = &sx->log[sx->n_log++];
    memset(rec, 0, sizeof(*rec));
    rec->kind = kind;
    if (job != NULL)
        rec->job = *job;
    rec->ms = wf_now_ms();
    sx->counts[kind]++;
    pthread_cond_broadcast(&sx->cond);
    return rec;
}

static const char *task_name(const scripted_executor *sx, uint32_t t)
{
    return t < sx->n_tasks ? sx->task_names[t] : "?";
}

static const scripted_outcome *decide(const scripted_executor *sx, const wf_job *job)
{
    for (size_t i = 0; i < sx->n_rules; i++) {
        const rule *ru = &sx->rules[i];

        if ((ru->task == NULL || strcmp(ru->task, task_name(sx, job->task)) == 0) &&
            (ru->unit < 0 || (uint32_t)ru->unit == job->unit) &&
            (ru->attempt == 0 || ru->attempt == job->attempt))
            return &ru->o;
    }
    return &sx->dflt.o;
}

static void notice_locked(scripted_executor *sx, const wf_job *job)
{
    record_locked(sx, SCRIPTED_NOTICE, job);
    wf_done_queue_push(sx->done, NULL, job, 0);
}

/* Pushes job's completion as status (o gives the value, exit code and error of a success or
 * a failure); the caller holds the lock. */
static void complete_locked(scripted_executor *sx, const wf_job *job, wf_status status,
                            const scripted_outcome *o)
{
    wf_completion c;

    memset(&c, 0, sizeof(c));
    c.job = *job;
    c.status = status;
    c.exit_code = -1;
    c.start_ms = c.end_ms = wf_now_ms();
    if (status == WF_STATUS_SUCCEEDED) {
        if (o->value == NULL) {
            c.value = json_object_new_int64(job->unit);
        } else {
            c.value = json_tokener_parse(o->value);
            if (c.value == NULL && strcmp(o->value, "null") != 0) {
                fprintf(stderr, "scripted executor: the value %s is not JSON\n", o->value);
                abort();
            }
        }
    } else if (status == WF_STATUS_FAILED) {
        c.exit_code = o->exit_code != 0 ? o->exit_code : 1;
        c.error = wf_xstrdup(o->error != NULL ? o->error : "scripted failure");
    }
    /* Recorded first: its time is then no later than when the scheduler can see it. */
    record_locked(sx, SCRIPTED_COMPLETE, job)->status = status;
    wf_done_queue_push(sx->done, &c, NULL, 0);
    sx->in_flight--;
    sx->task_in_flight[job->task]--;
}

static wf_status status_of(scripted_action a)
{
    switch (a) {
    case SCRIPTED_SUCCEED:
        return WF_STATUS_SUCCEEDED;
    case SCRIPTED_FAIL:
        return WF_STATUS_FAILED;
    case SCRIPTED_SKIP:
        return WF_STATUS_SKIPPED;
    case SCRIPTED_HOLD:
        break;
    }
    fprintf(stderr, "scripted executor: HOLD is not an outcome to end a job with\n");
    abort();
}

/* Takes held job i out of the held list (keeping the others in the order they came). */
static held_job take_held_locked(scripted_executor *sx, size_t i)
{
    held_job h = sx->held[i];

    memmove(&sx->held[i], &sx->held[i + 1], (sx->n_held - i - 1) * sizeof(*sx->held));
    sx->n_held--;
    return h;
}

/* The held job of task's unit, or -1. */
static long find_held_locked(const scripted_executor *sx, const char *task, uint32_t unit)
{
    for (size_t i = 0; i < sx->n_held; i++) {
        if (sx->held[i].job.unit == unit && strcmp(task_name(sx, sx->held[i].job.task), task) == 0)
            return (long)i;
    }
    return -1;
}

/* ---- the operations (scheduler thread) -------------------------------------------------- */

static int sx_start(wf_executor *ex, wf_run *r, wf_error *err)
{
    scripted_executor *sx = (scripted_executor *)ex;
    size_t n = r->wf->n_tasks;

    pthread_mutex_lock(&sx->lock);
    record_locked(sx, SCRIPTED_START, NULL);
    sx->done = wf__run_done_queue(r);
    sx->n_tasks = n;
    sx->task_names = wf_xcalloc(n ? n : 1, sizeof(char *));
    for (size_t t = 0; t < n; t++)
        sx->task_names[t] = wf_xstrdup(r->wf->tasks[t].name);
    sx->task_in_flight = wf_xcalloc(n ? n : 1, sizeof(size_t));
    sx->task_max_in_flight = wf_xcalloc(n ? n : 1, sizeof(size_t));
    sx->base.limit = sx->limit;
    pthread_mutex_unlock(&sx->lock);
    if (sx->start_code != WF_OK) {
        wf_error_set(err, sx->start_code, NULL, 0, 0, "%s", sx->start_message);
        return sx->start_code;
    }
    return WF_OK;
}

static void sx_submit(wf_executor *ex, const wf_job *jobs, size_t n)
{
    scripted_executor *sx = (scripted_executor *)ex;
    size_t batch;

    pthread_mutex_lock(&sx->lock);
    batch = sx->batches++;
    /* The whole batch is in flight at once: record it before anything of it completes. */
    for (size_t i = 0; i < n; i++) {
        uint32_t t = jobs[i].task;

        record_locked(sx, SCRIPTED_SUBMIT, &jobs[i])->batch = batch;
        sx->in_flight++;
        if (++sx->task_in_flight[t] > sx->task_max_in_flight[t])
            sx->task_max_in_flight[t] = sx->task_in_flight[t];
    }
    if (sx->in_flight > sx->max_in_flight)
        sx->max_in_flight = sx->in_flight;
    for (size_t i = 0; i < n; i++) {
        const scripted_outcome *o = decide(sx, &jobs[i]);

        if (o->start)
            notice_locked(sx, &jobs[i]);
        if (o->action == SCRIPTED_HOLD) {
            if (sx->n_held == sx->cap_held) {
                sx->cap_held = sx->cap_held ? sx->cap_held * 2 : 16;
                sx->held = wf_xrealloc(sx->held, sx->cap_held * sizeof(*sx->held));
            }
            sx->held[sx->n_held++] = (held_job){ .job = jobs[i],
                                                 .started = o->start,
                                                 .survive_cancel = o->survive_cancel };
        } else {
            complete_locked(sx, &jobs[i], status_of(o->action), o);
        }
    }
    pthread_cond_broadcast(&sx->cond);
    pthread_mutex_unlock(&sx->lock);
}

/* A cancelled job's completion has no value, exit code or error to take from an outcome. */
static const scripted_outcome no_details = { .action = SCRIPTED_FAIL };

/* Held jobs of task t (all tasks: t == UINT32_MAX) that have not started end CANCELLED; with
 * all, so do started ones that do not survive a cancel. */
static void cancel_held_locked(scripted_executor *sx, uint32_t t, bool all)
{
    size_t i = 0;

    while (i < sx->n_held) {
        held_job *h = &sx->held[i];
        bool ends =
            (t == UINT32_MAX || h->job.task == t) && (!h->started || (all && !h->survive_cancel));

        if (ends) {
            held_job gone = take_held_locked(sx, i);

            complete_locked(sx, &gone.job, WF_STATUS_CANCELLED, &no_details);
        } else {
            i++;
        }
    }
}

static void sx_cancel_task(wf_executor *ex, uint32_t t)
{
    scripted_executor *sx = (scripted_executor *)ex;
    wf_job job = { .task = t };

    pthread_mutex_lock(&sx->lock);
    record_locked(sx, SCRIPTED_CANCEL_TASK, &job);
    cancel_held_locked(sx, t, false);
    pthread_mutex_unlock(&sx->lock);
}

static void sx_cancel_all(wf_executor *ex)
{
    scripted_executor *sx = (scripted_executor *)ex;

    pthread_mutex_lock(&sx->lock);
    record_locked(sx, SCRIPTED_CANCEL_ALL, NULL);
    cancel_held_locked(sx, UINT32_MAX, true);
    pthread_mutex_unlock(&sx->lock);
}

static void sx_stop(wf_executor *ex)
{
    scripted_executor *sx = (scripted_executor *)ex;

    pthread_mutex_lock(&sx->lock);
    record_locked(sx, SCRIPTED_STOP, NULL);
    /* The scheduler stops its executors once every task has ended, so nothing should be
     * held; what is cannot be reported any more (the run is about to be freed). */
    sx->held_at_stop += sx->n_held;
    sx->n_held = 0;
    sx->done = NULL;
    pthread_mutex_unlock(&sx->lock);
}

static const wf_executor_ops scripted_ops = {
    .start = sx_start,
    .submit = sx_submit,
    .cancel_task = sx_cancel_task,
    .cancel_all = sx_cancel_all,
    .stop = sx_stop,
};

/* ---- the test's side ------------------------------------------------------------------------ */

scripted_executor *scripted_executor_new(void)
{
    scripted_executor *sx = wf_xcalloc(1, sizeof(*sx));

    sx->base.ops = &scripted_ops;
    sx->base.name = "scripted";
    sx->base.caps = WF_EXEC_PROCESSES | WF_EXEC_ACTIONS;
    rule_set(&sx->dflt, NULL, -1, 0, (scripted_outcome){ .action = SCRIPTED_SUCCEED });
    pthread_mutex_init(&sx->lock, NULL);
    pthread_cond_init(&sx->cond, NULL);
    return sx;
}

void scripted_executor_free(scripted_executor *sx)
{
    if (sx == NULL)
        return;
    rule_release(&sx->dflt);
    for (size_t i = 0; i < sx->n_rules; i++)
        rule_release(&sx->rules[i]);
    free(sx->rules);
    for (size_t t = 0; t < sx->n_tasks; t++)
        free(sx->task_names[t]);
    free(sx->task_names);
    free(sx->task_in_flight);
    free(sx->task_max_in_flight);
    free(sx->held);
    free(sx->log);
    free(sx->start_message);
    pthread_mutex_destroy(&sx->lock);
    pthread_cond_destroy(&sx->cond);
    free(sx);
}

wf_executor *scripted_executor_base(scripted_executor *sx)
{
    return &sx->base;
}

void scripted_executor_set_limit(scripted_executor *sx, size_t limit)
{
    sx->limit = limit;
}

void scripted_executor_set_caps(scripted_executor *sx, unsigned caps)
{
    sx->base.caps = caps;
}

void scripted_executor_fail_start(scripted_executor *sx, int code, const char *message)
{
    sx->start_code = code;
    free(sx->start_message);
    sx->start_message = wf_xstrdup(message);
}

void scripted_executor_default(scripted_executor *sx, scripted_outcome o)
{
    rule_release(&sx->dflt);
    rule_set(&sx->dflt, NULL, -1, 0, o);
}

void scripted_executor_on(scripted_executor *sx, const char *task, int64_t unit, uint32_t attempt,
                          scripted_outcome o)
{
    sx->rules = wf_xrealloc(sx->rules, (sx->n_rules + 1) * sizeof(*sx->rules));
    rule_set(&sx->rules[sx->n_rules++], task, unit, attempt, o);
}

/* Ends held job i with o; the caller holds the lock. */
static void release_locked(scripted_executor *sx, size_t i, const scripted_outcome *o)
{
    held_job h = take_held_locked(sx, i);

    if (o->start && !h.started)
        notice_locked(sx, &h.job);
    complete_locked(sx, &h.job, status_of(o->action), o);
}

bool scripted_executor_release(scripted_executor *sx, const char *task, uint32_t unit,
                               scripted_outcome o)
{
    long i;

    pthread_mutex_lock(&sx->lock);
    i = sx->done != NULL ? find_held_locked(sx, task, unit) : -1;
    if (i >= 0)
        release_locked(sx, (size_t)i, &o);
    pthread_mutex_unlock(&sx->lock);
    return i >= 0;
}

bool scripted_executor_release_oldest(scripted_executor *sx, scripted_outcome o, wf_job *job)
{
    bool any;

    pthread_mutex_lock(&sx->lock);
    any = sx->done != NULL && sx->n_held > 0;
    if (any) {
        if (job != NULL)
            *job = sx->held[0].job;
        release_locked(sx, 0, &o);
    }
    pthread_mutex_unlock(&sx->lock);
    return any;
}

bool scripted_executor_notice(scripted_executor *sx, const char *task, uint32_t unit)
{
    long i;

    pthread_mutex_lock(&sx->lock);
    i = sx->done != NULL ? find_held_locked(sx, task, unit) : -1;
    if (i >= 0 && sx->held[i].started)
        i = -1;
    if (i >= 0) {
        sx->held[i].started = true;
        notice_locked(sx, &sx->held[i].job);
    }
    pthread_mutex_unlock(&sx->lock);
    return i >= 0;
}

size_t scripted_executor_held(scripted_executor *sx)
{
    size_t n;

    pthread_mutex_lock(&sx->lock);
    n = sx->n_held;
    pthread_mutex_unlock(&sx->lock);
    return n;
}

size_t scripted_executor_count(scripted_executor *sx, scripted_kind kind)
{
    size_t n;

    pthread_mutex_lock(&sx->lock);
    n = sx->counts[kind];
    pthread_mutex_unlock(&sx->lock);
    return n;
}

/* Waits on sx->cond until *counter >= n; the caller holds the lock. */
static bool wait_locked(scripted_executor *sx, const size_t *counter, size_t n, int timeout_ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    while (*counter < n) {
        if (pthread_cond_timedwait(&sx->cond, &sx->lock, &deadline) == ETIMEDOUT)
            return *counter >= n;
    }
    return true;
}

bool scripted_executor_wait_held(scripted_executor *sx, size_t n, int timeout_ms)
{
    bool ok;

    pthread_mutex_lock(&sx->lock);
    ok = wait_locked(sx, &sx->n_held, n, timeout_ms);
    pthread_mutex_unlock(&sx->lock);
    return ok;
}

bool scripted_executor_wait(scripted_executor *sx, scripted_kind kind, size_t n, int timeout_ms)
{
    bool ok;

    pthread_mutex_lock(&sx->lock);
    ok = wait_locked(sx, &sx->counts[kind], n, timeout_ms);
    pthread_mutex_unlock(&sx->lock);
    return ok;
}

const scripted_record *scripted_executor_log(const scripted_executor *sx, size_t *n)
{
    *n = sx->n_log;
    return sx->log;
}

long scripted_executor_task(const scripted_executor *sx, const char *task)
{
    for (size_t t = 0; t < sx->n_tasks; t++) {
        if (strcmp(sx->task_names[t], task) == 0)
            return (long)t;
    }
    return -1;
}

long scripted_executor_find(const scripted_executor *sx, scripted_kind kind, const char *task,
                            int64_t unit, uint32_t attempt)
{
    long t = task != NULL ? scripted_executor_task(sx, task) : -1;

    if (task != NULL && t < 0)
        return -1;
    for (size_t i = 0; i < sx->n_log; i++) {
        const scripted_record *rec = &sx->log[i];

        if (rec->kind == kind && (t < 0 || rec->job.task == (uint32_t)t) &&
            (unit < 0 || rec->job.unit == (uint32_t)unit) &&
            (attempt == 0 || rec->job.attempt == attempt))
            return (long)i;
    }
    return -1;
}

size_t scripted_executor_max_in_flight(const scripted_executor *sx, const char *task)
{
    long t;

    if (task == NULL)
        return sx->max_in_flight;
    t = scripted_executor_task(sx, task);
    return t >= 0 ? sx->task_max_in_flight[t] : 0;
}

size_t scripted_executor_held_at_stop(const scripted_executor *sx)
{
    return sx->held_at_stop;
}
