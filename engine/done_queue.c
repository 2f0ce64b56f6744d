/*
 * done_queue.c: the completion queue, the one way from executors (any thread) to the
 * scheduler thread, and when to wake the scheduler.
 *
 * The scheduler is not woken for every completion. After handling some it sleeps for at most
 * a tick (WF__SCHED_TICK_MS), and a completion wakes it only if it will not look by itself
 * within a tick, if the executor is about to run dry, or if something is urgent (a failure:
 * fail-fast and retries must act at once; an in-process action: they can end microseconds
 * apart, and a dependency graph of them would starve while ready tasks wait to be found).
 * A wake-up is two context switches, which beside a 0.4 ms process is what the engine costs.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run_internal.h"

void wf__done_queue_init(wf_done_queue *q)
{
    pthread_condattr_t cattr;

    memset(q, 0, sizeof(*q));
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &cattr);
    pthread_condattr_destroy(&cattr);
}

void wf__done_queue_release(wf_done_queue *q)
{
    for (size_t i = 0; i < q->len; i++) {
        wf_completion *c = &q->v[i];

        if (c->status == WF_STATUS_RUNNING) {
            if (c->job.task == UINT32_MAX)
                wf__fwd_event_free(c->event);
            continue;
        }
        json_object_put(c->value);
        free(c->out);
        free(c->err);
        free(c->error);
        free(c->log);
        free(c->warning);
        free(c->result_json);
    }
    free(q->v);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->cond);
}

wf_done_queue *wf__run_done_queue(wf_run *r)
{
    return &r->done;
}

/* Makes room for one more entry; the caller holds q->lock. */
static wf_completion *slot_locked(wf_done_queue *q)
{
    if (q->len == q->cap) {
        q->cap = q->cap ? q->cap * 2 : 64;
        q->v = wf_xrealloc(q->v, q->cap * sizeof(*q->v));
    }
    return &q->v[q->len++];
}

void wf_done_queue_push(wf_done_queue *q, const wf_completion *c, const wf_job *started,
                        size_t jobs_ahead)
{
    bool wake = false, signal = false;

    if (c == NULL && started == NULL)
        return;
    pthread_mutex_lock(&q->lock);
    if (c != NULL) {
        *slot_locked(q) = *c;
        /* Urgent: a failure, an action, or an executor that holds no more jobs than the
         * completions waiting to be handled (each of which may free a slot for one more). */
        wake = c->status != WF_STATUS_SUCCEEDED || c->exit_code < 0 ||
               jobs_ahead <= q->len - q->starts;
    }
    if (started != NULL) {
        wf_completion *n = slot_locked(q);

        /* Only job and status are read from a start notice. */
        n->job = *started;
        n->status = WF_STATUS_RUNNING;
        q->starts++;
    }
    /* Not urgent (a start, a success): wake the scheduler only when it would not look by
     * itself within a tick; without that a long unit would be shown queued until it ended. */
    if (q->wake_ms != 0 && !q->woken && (wake || q->wake_ms > wf_now_ms() + WF__SCHED_TICK_MS))
        signal = q->woken = true;
    pthread_mutex_unlock(&q->lock);
    /* After the lock is let go: a scheduler woken while we hold it would wake only to block
     * on the lock and be woken again, two context switches more (B8). */
    if (signal)
        pthread_cond_signal(&q->cond);
}

void wf__done_queue_push_event(wf_done_queue *q, wf_fwd_event *fe)
{
    wf_completion *n;
    bool signal = false;

    pthread_mutex_lock(&q->lock);
    n = slot_locked(q);
    n->job.task = UINT32_MAX;
    n->status = WF_STATUS_RUNNING;
    n->event = fe;
    q->starts++;
    /* Like a start notice: shown within a tick, no wake-up of its own otherwise. */
    if (q->wake_ms != 0 && !q->woken && q->wake_ms > wf_now_ms() + WF__SCHED_TICK_MS)
        signal = q->woken = true;
    pthread_mutex_unlock(&q->lock);
    /* After the lock is let go: a scheduler woken while we hold it would wake only to block
     * on the lock and be woken again, two context switches more (B8). */
    if (signal)
        pthread_cond_signal(&q->cond);
}

void wf__done_queue_wake(wf_done_queue *q)
{
    pthread_mutex_lock(&q->lock);
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t wf__done_queue_take(wf_done_queue *q, int64_t due_ms, bool tick, const atomic_bool *cancel,
                           wf_completion **batch, size_t *cap)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    while (q->len == 0 && !(cancel != NULL && atomic_load(cancel))) {
        int64_t now = wf_now_ms(), due = due_ms;
        struct timespec ts;

        if (due <= now)
            break;
        if (tick && now + WF__SCHED_TICK_MS < due)
            due = now + WF__SCHED_TICK_MS;
        q->wake_ms = due;
        q->woken = false; /* about to wait: the next push that matters must signal */
        if (due == INT64_MAX) {
            pthread_cond_wait(&q->cond, &q->lock);
            continue;
        }
        ts.tv_sec = (time_t)(due / 1000);
        ts.tv_nsec = (long)(due % 1000) * 1000000;
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
            tick = false;
    }
    q->wake_ms = 0; /* awake: it looks at the queue before it waits again */
    q->woken = false;
    /* Swap the buffer out so executors can keep adding while the scheduler handles it. */
    n = q->len;
    if (n > 0) {
        wf_completion *tmp = q->v;
        size_t tmp_cap = q->cap;

        q->v = *batch;
        q->cap = *cap;
        *batch = tmp;
        *cap = tmp_cap;
        q->len = 0;
        q->starts = 0;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}
