/*
 * dispatch.c: the scheduler thread. It alone owns the run's scheduling state (run_internal.h).
 * Each round it hands ready units to their executors (round-robin over the ready tasks,
 * deepest pipeline stage first (ready.c), under each executor's limit and each task's
 * `concurrency`), waits on the completion queue (at most until the next retry timer), and feeds
 * what came back to the state machine (tasks.c). When every task has ended it stops the executors
 * and records the run's end.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* Hands every startable unit of task t to an executor that takes a task's units at once
 * (WF_EXEC_ARRAYS): it applies the task's concurrency itself. */
static void dispatch_whole_task(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    wf_job *jobs = NULL;
    size_t n = 0, cap = 0;

    while (wf__has_startable(r, ts)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            jobs = wf_xrealloc(jobs, cap * sizeof(*jobs));
        }
        jobs[n++] = wf__take_unit(r, t);
    }
    if (n > 0)
        ts->exec->ops->submit(ts->exec, jobs, n);
    free(jobs);
}

static void flush(wf_executor *ex, const wf_job *jobs, size_t n)
{
    if (n > 0)
        ex->ops->submit(ex, jobs, n);
}

static void dispatch(wf_run *r)
{
    wf_job batch[64];
    size_t n = 0;
    wf_executor *batch_ex = NULL;

    while (!r->stopping && r->ready_len > 0) {
        uint32_t t = wf__ready_peek(r);
        wf_task_state *ts = &r->tasks[t];
        wf_executor *ex = ts->exec;

        if (ex->caps & WF_EXEC_ARRAYS) {
            wf__ready_pop(r);
            dispatch_whole_task(r, t);
            continue;
        }
        if (ex->limit > 0 && ex->in_flight >= ex->limit)
            break; /* the head of the line waits for its executor */
        wf__ready_pop(r);
        if (!wf__has_startable(r, ts) || wf__task_at_limit(r, t))
            continue; /* re-queued when one of its units completes */
        if (ex != batch_ex) {
            flush(batch_ex, batch, n);
            n = 0;
            batch_ex = ex;
        }
        batch[n++] = wf__take_unit(r, t);
        /* Round-robin: a task with more to start goes to the back of the line. */
        if (wf__has_startable(r, ts) && !wf__task_at_limit(r, t))
            wf__ready_push(r, t);
        if (n == WF_ARRAY_LEN(batch)) {
            flush(batch_ex, batch, n);
            n = 0;
        }
    }
    flush(batch_ex, batch, n);
}

/* Stops every executor (each waits for what it was handed; nothing is by now). */
static void stop_executors(wf_run *r)
{
    for (size_t i = 0; i < r->n_executors; i++)
        r->executors[i]->ops->stop(r->executors[i]);
    r->n_executors = 0;
}

/* When the scheduler must wake at the latest: the next retry timer, or the workflow's
 * timeout. */
static int64_t next_due(const wf_run *r)
{
    int64_t due = r->n_timers > 0 ? r->timers[0].due_ms : INT64_MAX;

    if (r->wf->timeout_ms > 0 && !r->timed_out && r->start_ms + r->wf->timeout_ms < due)
        due = r->start_ms + r->wf->timeout_ms;
    return due;
}

static void timeout_warning(wf_run *r)
{
    wf_strbuf d = WF_STRBUF_INIT;
    char *msg;

    wf_duration_format(&d, r->wf->timeout_ms);
    msg = wf_xasprintf("the workflow's timeout of %s passed: stopping the run", wf_strbuf_str(&d));
    wf__emit_simple(r, WF_EVENT_WARNING, NULL, msg);
    free(msg);
    wf_strbuf_release(&d);
}

void *wf__scheduler_main(void *arg)
{
    wf_run *r = arg;
    wf_completion *batch = NULL;
    size_t batch_cap = 0;
    wf_event ev = { .kind = WF_EVENT_RUN_START, .index = -1, .message = r->run_id };
    size_t n = 0; /* completions handled in the last round */

    wf__emit(r, &ev);
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        if (r->tasks[t].pending_deps == 0)
            r->settle[r->n_settle++] = (uint32_t)t;
    }
    /* Tasks become ready in file order. */
    for (size_t i = 0, j = r->n_settle; i < j / 2; i++) {
        uint32_t tmp = r->settle[i];

        r->settle[i] = r->settle[j - 1 - i];
        r->settle[j - 1 - i] = tmp;
    }
    wf__settle(r);
    while (r->tasks_ended < r->wf->n_tasks) {
        dispatch(r);
        if (r->tasks_ended == r->wf->n_tasks)
            break;
        /* After handling completions, the next wait ends after a tick at the latest
         * (executors then need not wake us: see done_queue.c); after a tick with nothing to
         * do, it lasts until an executor wakes us or a retry timer is due. */
        n = wf__done_queue_take(&r->done, next_due(r), n > 0,
                                r->stopping ? NULL : &r->cancel_requested, &batch, &batch_cap);
        if (atomic_load(&r->cancel_requested))
            wf__run_stop(r);
        if (r->wf->timeout_ms > 0 && !r->timed_out &&
            wf_now_ms() >= r->start_ms + r->wf->timeout_ms) {
            r->timed_out = true;
            timeout_warning(r);
            wf__run_stop(r);
        }
        for (size_t i = 0; i < n; i++) {
            if (batch[i].status == WF_STATUS_RUNNING && batch[i].job.task == UINT32_MAX)
                wf__emit_forwarded(r, batch[i].event);
            else if (batch[i].status == WF_STATUS_RUNNING)
                wf__unit_started(r, &batch[i].job);
            else
                wf__unit_complete(r, &batch[i]);
        }
        if (r->store != NULL && !r->store_failed && wf_store_failed(r->store)) {
            r->store_failed = true;
            wf__emit_simple(r, WF_EVENT_WARNING, NULL,
                            "the store cannot be written: stopping the run (nothing new starts)");
            wf__run_stop(r);
        }
        if (!r->store_failed && atomic_load(&r->disk_error) != NULL) {
            r->store_failed = true;
            wf__emit_simple(r, WF_EVENT_WARNING, NULL,
                            "a file cannot be written: stopping the run (nothing new starts)");
            wf__run_stop(r);
        }
        wf__fire_timers(r, wf_now_ms());
        if (r->stopping)
            wf__drain_after_stop(r);
        wf__settle(r);
    }
    free(batch);
    stop_executors(r);
    r->end_ms = wf_now_ms();
    wf__render_outputs(r);
    r->status = wf__final_status(r);
    wf__record_run_end(r);
    ev.kind = WF_EVENT_RUN_END;
    ev.status = r->status;
    ev.duration_ms = r->end_ms - r->start_ms;
    ev.message = NULL;
    wf__emit(r, &ev);
    return NULL;
}
