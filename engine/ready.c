/*
 * ready.c: the ready queue and the retry timers, owned by the scheduler thread. Tasks with
 * units to start wait in a FIFO (served round-robin); a failed attempt with retries left waits
 * in a min-heap of timers until its delay (the retry policy: fixed, linear or exponential,
 * capped) has passed, then joins its task's retry FIFO. Whether a task can start a unit now
 * (something left to start, under its `concurrency`) is decided here too.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

void wf__fifo_push(wf_u32_fifo *q, uint32_t x)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint32_t *v = wf_xmalloc(cap * sizeof(*v));

        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len) % q->cap] = x;
    q->len++;
}

uint32_t wf__fifo_pop(wf_u32_fifo *q)
{
    uint32_t x = q->v[q->head];

    q->head = (q->head + 1) % q->cap;
    q->len--;
    return x;
}

void wf__ready_push(wf_run *r, uint32_t t)
{
    if (r->tasks[t].ready_queued)
        return;
    wf__fifo_push(&r->ready, t);
    r->tasks[t].ready_queued = true;
}

uint32_t wf__ready_pop(wf_run *r)
{
    uint32_t t = wf__fifo_pop(&r->ready);

    r->tasks[t].ready_queued = false;
    return t;
}

/* Retry timers: a binary min-heap on due_ms. */
void wf__timer_push(wf_run *r, int64_t due, wf_job job)
{
    size_t i;

    if (r->n_timers == r->cap_timers) {
        r->cap_timers = r->cap_timers ? r->cap_timers * 2 : 16;
        r->timers = wf_xrealloc(r->timers, r->cap_timers * sizeof(*r->timers));
    }
    i = r->n_timers++;
    while (i > 0 && r->timers[(i - 1) / 2].due_ms > due) {
        r->timers[i] = r->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->timers[i].due_ms = due;
    r->timers[i].job = job;
}

wf_timer wf__timer_pop(wf_run *r)
{
    wf_timer top = r->timers[0], last = r->timers[--r->n_timers];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= r->n_timers)
            break;
        if (c + 1 < r->n_timers && r->timers[c + 1].due_ms < r->timers[c].due_ms)
            c++;
        if (r->timers[c].due_ms >= last.due_ms)
            break;
        r->timers[i] = r->timers[c];
        i = c;
    }
    if (r->n_timers > 0)
        r->timers[i] = last;
    return top;
}

int64_t wf__retry_delay(const wf_retry *rt, uint32_t retry_number)
{
    double d = (double)rt->delay_ms;

    if (rt->backoff == WF_BACKOFF_LINEAR)
        d *= retry_number;
    else if (rt->backoff == WF_BACKOFF_EXPONENTIAL)
        d *= (double)(1ull << (retry_number - 1 > 40 ? 40 : retry_number - 1));
    if (rt->max_delay_ms > 0 && d > (double)rt->max_delay_ms)
        d = (double)rt->max_delay_ms;
    return d > 9e15 ? (int64_t)9e15 : (int64_t)d;
}

bool wf__has_startable(const wf_run *r, const wf_task_state *ts)
{
    if (r->stopping || ts->stop_items)
        return false;
    return ts->retries.len > 0 || ts->next_unit < ts->n_units;
}

bool wf__task_at_limit(const wf_run *r, uint32_t t)
{
    int limit = r->tasks[t].concurrency;

    return limit > 0 && r->tasks[t].running >= (size_t)limit;
}
