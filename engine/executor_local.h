/*
 * executor_local.h: the local executor, a pool of worker threads that run units on this
 * machine: `run` commands as child processes (wf_proc.h) and in-process actions.
 *
 * At most `workers` units execute at once because there are that many threads, and each
 * unit weighs its task's `cpus` (wf_task_state.cpus, clamped to `workers`): a worker takes
 * the job at the head of the queue only when the weights of the running units plus its own
 * fit in `workers`, else it waits for running ones to end (first come, first served: a
 * heavy job is never passed by lighter ones, so it cannot starve). The
 * executor's limit (wf_executor.limit) lets the scheduler keep more jobs queued ahead of
 * them: a worker that finishes takes its next job at once instead of waiting for the
 * scheduler to wake up (without it every in-process unit costs two thread wake-ups). In a
 * run with a pipelined task the limit is `workers`: nothing is queued ahead, so the scheduler
 * picks each next unit when a worker is free (the deepest pipeline stage first).
 *
 * A worker hands back its completion and a start notice for its next job in one push;
 * start notices are sent only when want_starts (someone listens to UNIT_START). A job
 * queued before cancel_task/cancel_all ends CANCELLED without starting. cancel_all also
 * writes the cancel pipe that every running process and action polls.
 */
#ifndef WF_EXECUTOR_LOCAL_H
#define WF_EXECUTOR_LOCAL_H

#include "executor.h"

/* A pool of `workers` threads (capped at 1024). The start operation starts one, and fails
 * when it cannot; the others start when jobs are queued and no worker is idle (a thread
 * that cannot be created then leaves the pool smaller: its jobs wait for the others). Never
 * returns NULL (out of memory exits). */
wf_executor *wf_executor_local_new(size_t workers, bool want_starts);

#endif
