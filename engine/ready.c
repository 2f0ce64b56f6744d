/*
 * ready.c: the ready queue and the retry timers, owned by the scheduler thread. Tasks with
 * units to start wait in a FIFO (served round-robin); pipelined tasks wait in a FIFO per
 * pipeline depth, served first and deepest first, so that a free worker carries an item
 * further down its chain rather than start a new first-stage item (depth first: items finish
 * early and in a steady stream). A failed attempt with retries left waits
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
    size_t depth = r->wf->tasks[t].pipe_depth;

    if (r->tasks[t].ready_queued)
        return;
    if (depth == 0) {
        wf__fifo_push(&r->ready, t);
    } else {
        if (depth > r->n_ready_deep) {
            r->ready_deep = wf_xrealloc(r->ready_deep, depth * sizeof(*r->ready_deep));
            memset(r->ready_deep + r->n_ready_deep, 0,
                   (depth - r->n_ready_deep) * sizeof(*r->ready_deep));
            r->n_ready_deep = depth;
        }
        wf__fifo_push(&r->ready_deep[depth - 1], t);
    }
    r->tasks[t].ready_queued = true;
    r->ready_len++;
}

/* The FIFO the next ready task comes from: the deepest non-empty one. */
static wf_u32_fifo *next_fifo(const wf_run *r)
{
    for (size_t d = r->n_ready_deep; d > 0; d--)
        if (r->ready_deep[d - 1].len > 0)
            return &r->ready_deep[d - 1];
    return (wf_u32_fifo *)&r->ready;
}

uint32_t wf__ready_peek(const wf_run *r)
{
    const wf_u32_fifo *q = next_fifo(r);

    return q->v[q->head];
}

uint32_t wf__ready_pop(wf_run *r)
{
    uint32_t t = wf__fifo_pop(next_fifo(r));

    r->tasks[t].ready_queued = false;
    r->ready_len--;
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
    return ts->retries.len > 0 || ts->fed.len > 0 || ts->next_unit < ts->n_units;
}

bool wf__task_at_limit(const wf_run *r, uint32_t t)
{
    int limit = r->tasks[t].concurrency;

    return limit > 0 && r->tasks[t].running >= (size_t)limit;
}
