/*
 * executor_local.c: the local worker pool (executor_local.h). Jobs wait in one FIFO under
 * the pool's mutex, held only to move a few words; a worker that finishes a unit pops its
 * next job, then hands back the completion and the next job's start notice in one push to
 * the completion queue. One worker starts with the pool; the others when jobs wait and no
 * worker is idle, so a run of one unit starts one thread for it, not `workers`.
 */
#include "executor_local.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"

typedef struct local_executor {
    wf_executor base;
    wf_run *run;
    wf_done_queue *done;
    bool want_starts;
    size_t want_workers;
    pthread_t *workers;
    size_t n_workers;   /* the pool's size: what the weights count against */
    size_t n_started;   /* threads started so far (under lock after local_start), <= n_workers */
    int cancel_pipe[2]; /* readable end polled by every process and action */
    atomic_bool stop_queued;   /* the run is stopping: queued jobs end cancelled, unstarted */
    atomic_bool *task_stopped; /* the same per task (its fail-fast tripped) */

    pthread_mutex_t lock;
    pthread_cond_t cond; /* workers wait for jobs, or for room for the head job */
    wf_job *jobs;        /* a ring */
    size_t head, len, cap;
    size_t busy;     /* the weights (cpus) of the units workers are running */
    size_t waiting;  /* workers waiting on cond */
    size_t starting; /* workers started that have not looked for a job yet */
    bool shutting_down;
} local_executor;

/* What a job counts against the workers: its task's cpus, at most all of them (a unit that
 * asks for more runs alone; the scheduler warned when the task started). */
static size_t job_weight(const local_executor *x, const wf_job *job)
{
    size_t w = (size_t)x->run->tasks[job->task].cpus;

    return w < 1 ? 1 : w > x->n_workers ? x->n_workers : w;
}

/* A job can be taken now: there is one, and its weight fits beside the running units'. With
 * every weight 1 this is just len > 0 (a worker looking for a job runs nothing). */
static bool can_take(const local_executor *x)
{
    return x->len > 0 && x->busy + job_weight(x, &x->jobs[x->head]) <= x->n_workers;
}

static void *worker_main(void *arg)
{
    local_executor *x = arg;
    wf_completion c;
    bool have = false;
    size_t mine = 0; /* the weight of the unit this worker ran last */
    bool first = true;

    for (;;) {
        wf_job job;
        size_t ahead;
        bool cancelled;

        pthread_mutex_lock(&x->lock);
        if (first)
            x->starting--;
        first = false;
        x->busy -= mine;
        mine = 0;
        if (x->waiting > 0 && x->len > 0)
            pthread_cond_broadcast(&x->cond); /* room for a heavier head job, maybe */
        if (have && !can_take(x)) {
            /* Nothing to take next: hand the completion back before waiting. */
            pthread_mutex_unlock(&x->lock);
            wf_done_queue_push(x->done, &c, NULL, 0);
            have = false;
            pthread_mutex_lock(&x->lock);
        }
        while (!can_take(x) && !(x->len == 0 && x->shutting_down)) {
            x->waiting++;
            pthread_cond_wait(&x->cond, &x->lock);
            x->waiting--;
        }
        if (x->len == 0) {
            pthread_mutex_unlock(&x->lock);
            return NULL;
        }
        ahead = x->len > x->n_workers ? x->len - x->n_workers : 0;
        job = x->jobs[x->head];
        x->head = (x->head + 1) % x->cap;
        x->len--;
        mine = job_weight(x, &job);
        x->busy += mine;
        pthread_mutex_unlock(&x->lock);

        /* A job queued before a stop ends cancelled without starting (wf__unit_execute). No
         * one listens for starts without an event callback: then no notice is sent. */
        cancelled = atomic_load(&x->stop_queued) || atomic_load(&x->task_stopped[job.task]);
        wf_done_queue_push(x->done, have ? &c : NULL, x->want_starts && !cancelled ? &job : NULL,
                           ahead);
        memset(&c, 0, sizeof(c));
        c.job = job;
        wf__unit_execute(x->run, &job, x->cancel_pipe[0], cancelled, &c);
        have = true;
    }
}

static void local_shutdown(local_executor *x)
{
    size_t started;

    pthread_mutex_lock(&x->lock);
    x->shutting_down = true;
    started = x->n_started;
    pthread_cond_broadcast(&x->cond);
    pthread_mutex_unlock(&x->lock);
    for (size_t i = 0; i < started; i++)
        pthread_join(x->workers[i], NULL);
    x->n_workers = x->n_started = 0;
}

/* With lock held: starts workers while jobs wait beyond the idle ones. A thread that cannot
 * be created leaves the pool smaller (the first one was checked by local_start). */
static void grow(local_executor *x)
{
    while (x->n_started < x->n_workers && x->len > x->waiting + x->starting &&
           pthread_create(&x->workers[x->n_started], NULL, worker_main, x) == 0) {
        x->n_started++;
        x->starting++;
    }
}

static int local_start(wf_executor *ex, wf_run *r, wf_error *err)
{
    local_executor *x = (local_executor *)ex;
    size_t n = x->want_workers;

    x->run = r;
    x->done = wf__run_done_queue(r);
    x->task_stopped = wf_xcalloc(r->wf->n_tasks ? r->wf->n_tasks : 1, sizeof(atomic_bool));
    if (pipe(x->cancel_pipe) != 0) {
        x->cancel_pipe[0] = x->cancel_pipe[1] = -1;
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot create a pipe: %s", strerror(errno));
        return WF_EIO;
    }
    fcntl(x->cancel_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(x->cancel_pipe[1], F_SETFD, FD_CLOEXEC);
    x->workers = wf_xcalloc(n ? n : 1, sizeof(*x->workers));
    /* One worker now (a pool that cannot have one fails here), the rest by grow. The lock
     * keeps it from counting itself before it is counted. */
    pthread_mutex_lock(&x->lock);
    if (pthread_create(&x->workers[0], NULL, worker_main, x) != 0) {
        pthread_mutex_unlock(&x->lock);
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot start threads");
        return WF_EIO;
    }
    x->n_started = x->starting = 1;
    x->n_workers = n ? n : 1;
    pthread_mutex_unlock(&x->lock);
    /* A few more jobs queued than workers (see executor_local.h): B4 went from 31,000 to
     * about 1,000,000 in-process units/s with them. */
    x->base.limit = x->n_workers + (x->n_workers * 4 > 256 ? x->n_workers * 4 : 256);
    /* With pipelines, no job queued ahead: the scheduler chooses each next unit when a worker
     * is free, so that the deepest stage goes first (depth first, ready.c). */
    for (size_t t = 0; t < r->wf->n_tasks; t++)
        if (r->wf->tasks[t].pipeline)
            x->base.limit = x->n_workers;
    return WF_OK;
}

static void local_submit(wf_executor *ex, const wf_job *jobs, size_t n)
{
    local_executor *x = (local_executor *)ex;

    if (n == 0)
        return;
    pthread_mutex_lock(&x->lock);
    if (x->len + n > x->cap) {
        size_t cap = x->cap ? x->cap : 64;
        wf_job *q;

        while (cap < x->len + n)
            cap *= 2;
        q = wf_xmalloc(cap * sizeof(*q));
        for (size_t i = 0; i < x->len; i++)
            q[i] = x->jobs[(x->head + i) % x->cap];
        free(x->jobs);
        x->jobs = q;
        x->head = 0;
        x->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        x->jobs[(x->head + x->len + i) % x->cap] = jobs[i];
    x->len += n;
    grow(x);
    pthread_mutex_unlock(&x->lock);
    /* After the lock is let go: a worker woken while we hold it would block on it at once
     * and be woken again (B8). */
    if (n == 1)
        pthread_cond_signal(&x->cond);
    else
        pthread_cond_broadcast(&x->cond);
}

static void local_cancel_task(wf_executor *ex, uint32_t t)
{
    local_executor *x = (local_executor *)ex;

    atomic_store(&x->task_stopped[t], true);
}

static void local_cancel_all(wf_executor *ex)
{
    local_executor *x = (local_executor *)ex;

    atomic_store(&x->stop_queued, true);
    if (x->cancel_pipe[1] >= 0 && write(x->cancel_pipe[1], "x", 1) < 0) {
        /* The pipe cannot be full (one byte is ever written); nothing more to do. */
    }
}

static void local_stop(wf_executor *ex)
{
    local_executor *x = (local_executor *)ex;

    local_shutdown(x);
    if (x->cancel_pipe[0] >= 0) {
        close(x->cancel_pipe[0]);
        close(x->cancel_pipe[1]);
    }
    pthread_mutex_destroy(&x->lock);
    pthread_cond_destroy(&x->cond);
    free(x->workers);
    free(x->jobs);
    free(x->task_stopped);
    free(x);
}

static const wf_executor_ops local_ops = {
    .start = local_start,
    .submit = local_submit,
    .cancel_task = local_cancel_task,
    .cancel_all = local_cancel_all,
    .stop = local_stop,
};

wf_executor *wf_executor_local_new(size_t workers, bool want_starts)
{
    local_executor *x = wf_xcalloc(1, sizeof(*x));

    x->base.ops = &local_ops;
    x->base.name = "local";
    x->base.caps = WF_EXEC_PROCESSES | WF_EXEC_ACTIONS;
    x->want_workers = workers > 1024 ? 1024 : (workers ? workers : 1);
    x->want_starts = want_starts;
    x->cancel_pipe[0] = x->cancel_pipe[1] = -1;
    pthread_mutex_init(&x->lock, NULL);
    pthread_cond_init(&x->cond, NULL);
    return &x->base;
}
