/*
 * executor.h: the contract between the scheduler and what runs units (executors).
 *
 * The scheduler (dispatch.c) decides WHAT runs and WHEN: it hands jobs (a task's unit and
 * attempt) to an executor and learns what became of them through the run's completion queue
 * (wf_done_queue). An executor decides HOW: the local worker pool (executor_local.h) runs
 * processes and in-process actions on threads; the Slurm executor (executor_slurm.h) runs
 * processes as Slurm job arrays; tests add their own (tests/scripted_executor.c) without
 * touching the scheduler. The scheduler calls nothing but the operations below.
 *
 * Threads and ownership:
 * - Every operation is called on the scheduler thread only (start and stop included), never
 *   concurrently, so an executor needs no lock for what only its operations touch. stop is
 *   called exactly once, last, also when start failed or never ran (a run refused before
 *   its executors started).
 * - An executor reports back from ANY thread it likes, and only through wf_done_queue_push:
 *   one start notice when a job really starts (optional: without it the unit is shown queued
 *   until it ends) and exactly one completion per job handed to it, whatever happens (run,
 *   failed, skipped by an item's `when`, cancelled before it started, refused by a cluster).
 *   A job's start notice must be pushed before its completion. The completion's strings and
 *   value are handed over to the scheduler. Pushing from inside submit, cancel_task or
 *   cancel_all (on the scheduler thread) is fine: the scheduler reads the queue afterwards.
 * - An executor may read the run's immutable parts from any thread (r->wf, r->tasks[t].ctx
 *   and .items, the rendered env, r->opts, r->store; see run_internal.h) and must not touch
 *   anything else of the run: all scheduling state is the scheduler thread's.
 * - A job handed over is the executor's until its completion is pushed; stop() waits for
 *   that (or cancels and reports what is left) and frees the executor.
 */
#ifndef WF_EXECUTOR_H
#define WF_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_common.h"
#include "wf_context.h"

typedef struct wf_run wf_run;

/* One unit attempt handed to an executor: unit `unit` of task `task` (an index into the
 * workflow's tasks), its attempt number (1 for the first). */
typedef struct wf_job {
    uint32_t task;
    uint32_t unit;
    uint32_t attempt;
} wf_job;

/* What became of a job. Filled by the executor (engine/unit.c does it for processes and
 * actions); every pointer is owned and handed to the scheduler with the completion. */
typedef struct wf_completion {
    wf_job job;
    wf_status status; /* SUCCEEDED, FAILED, SKIPPED (item `when` false) or CANCELLED */
    bool timed_out;
    int exit_code;      /* of a process, -1 for an action or when there was none */
    json_object *value; /* the unit's result (owned) */
    char *out, *err;    /* captured stdout/stderr (owned, may be NULL) */
    /* Bytes of the whole stdout when it spilled to a file (out then holds only its last
     * WF_PROC_SPILL_THRESHOLD bytes, and stdout_hash names it), else 0. */
    uint64_t out_spilled;
    char *error;   /* owned, may be NULL */
    char *log;     /* action log text (owned, may be NULL) */
    char *warning; /* lines the scheduler emits as WF_EVENT_WARNING (owned, may be NULL) */
    int64_t start_ms, end_ms;
    /* With a store, filled by the executor (blobs already written): */
    char *result_json; /* masked compact JSON of the result when small, else NULL (owned) */
    char result_hash[WF_SHA256_HEX_LEN + 1]; /* blob of a large result, or "" */
    /* A large result that is stdout converted by the task's output mode is not written again:
     * result_hash stays "" and this names the mode ("text", "json", "lines"; static), so the
     * store reads it back from stdout_hash's blob. NULL otherwise. */
    const char *result_from;
    /* Set by the executor: value is stdout converted by the task's output mode (not a
     * $WF_RESULT file, an action's result, or a cache hit). */
    bool result_is_stdout;
    char stdout_hash[WF_SHA256_HEX_LEN + 1];
    char stderr_hash[WF_SHA256_HEX_LEN + 1];
    char item_hash[WF_SHA256_HEX_LEN + 1]; /* "" for a task without items */
    bool cached;                           /* the result came from the cache */
    /* FAILED in a way that another attempt cannot fix (a cluster refused the request as
     * invalid): the task's `retry` does not apply. */
    bool no_retry;
    bool ignored; /* FAILED under continue-on-error (set by the scheduler, not executors) */
    /* Not a completion but an event of a called workflow's run on its way to the caller's
     * scheduler (engine/unit_uses.c): marked by status WF_STATUS_RUNNING and job.task
     * UINT32_MAX, read only then (owned). Executors never set it. */
    struct wf_fwd_event *event;
} wf_completion;

/* ---- the completion queue (engine/done_queue.c) ----------------------------------------- */

/* The run's one queue from executors to the scheduler. Thread-safe. */
typedef struct wf_done_queue wf_done_queue;

/* The run's completion queue (valid from the executor's start to its stop). */
wf_done_queue *wf__run_done_queue(wf_run *r);

/* Hands the scheduler, in this order, c (a completion, or NULL) and a start notice for
 * `started` (or NULL), under one lock acquisition. Any thread. c is copied and its pointers
 * are taken over. jobs_ahead: how many jobs the executor holds queued beyond what it can
 * start at once (0 when it cannot tell): the scheduler is woken at once when that is no more
 * than the completions it has not handled yet (the executor is about to run dry), and
 * otherwise only for what is urgent (a failure, an in-process action) or when it would not
 * look by itself within a tick. */
void wf_done_queue_push(wf_done_queue *q, const wf_completion *c, const wf_job *started,
                        size_t jobs_ahead);

/* ---- executors ------------------------------------------------------------------------- */

/* What an executor can do (wf_executor.caps). */
enum {
    WF_EXEC_PROCESSES = 1u << 0, /* runs `run` commands */
    WF_EXEC_ACTIONS = 1u << 1,   /* runs in-process actions */
    /* Takes every startable unit of a task at once (one job array) and applies the task's
     * `concurrency` itself: the scheduler then does not hold a task's first units back for
     * its limit. (A retry still waits until fewer than `concurrency` of the task's units are
     * handed out, so that several arrays of one task stay within it together.) */
    WF_EXEC_ARRAYS = 1u << 2,
};

typedef struct wf_executor wf_executor;

typedef struct wf_executor_ops {
    /* Starts the executor for run r (threads, a cluster check...). WF_OK, or an error code
     * with err saying what failed; the run then does not start (stop is still called). */
    int (*start)(wf_executor *ex, wf_run *r, wf_error *err);
    /* Hands over jobs[0..n). With WF_EXEC_ARRAYS all jobs are of one task. Never fails: a
     * job that cannot run comes back as a FAILED completion. */
    void (*submit)(wf_executor *ex, const wf_job *jobs, size_t n);
    /* Jobs of task t handed over and not started yet end CANCELLED without starting (the
     * task's fail-fast tripped); running ones go on. */
    void (*cancel_task)(wf_executor *ex, uint32_t t);
    /* The run stops: jobs not started end CANCELLED, running ones are stopped (processes
     * killed, actions see their cancel fd, cluster jobs cancelled). Returns at once. */
    void (*cancel_all)(wf_executor *ex);
    /* Waits until every job handed over has been reported, then frees the executor (its
     * threads joined, its files removed). Called once, also after a failed start. */
    void (*stop)(wf_executor *ex);
} wf_executor_ops;

struct wf_executor {
    const wf_executor_ops *ops;
    const char *name; /* "local", "slurm", ... (messages, docs) */
    unsigned caps;    /* WF_EXEC_* */
    /* At most this many jobs handed to it and not completed (0: no limit). Set by start. */
    size_t limit;
    /* Scheduler-owned: jobs handed over and not completed. */
    size_t in_flight;
};

#endif
