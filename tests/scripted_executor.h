/*
 * scripted_executor.h: an executor (engine/executor.h) for the scheduler's unit tests. It
 * starts no process and no thread: the test scripts what becomes of each job (task, unit,
 * attempt) it is handed, and reads back what the scheduler asked of it (every submit, with
 * its batch; every start notice and completion it pushed; every cancel_task, cancel_all and
 * stop) and how many jobs were in flight at most, overall and per task.
 *
 * A job's outcome is decided when it is submitted, by the first matching rule
 * (scripted_executor_on) or else the default (success with the unit's index):
 * - SUCCEED, FAIL, SKIP: completed at once, inside submit;
 * - HOLD: in flight until the test ends it (scripted_executor_release), or until a cancel
 *   ends it as the contract says (cancel_task: when it was not started; cancel_all: unless
 *   survive_cancel, which stands for a process that is slow to die).
 * With `start`, a start notice is pushed first: for a held job at submit, so that it counts
 * as running (cancel_task leaves it alone); scripted_executor_notice starts one later.
 *
 * Threads: the operations are called on the scheduler thread (executor.h). The contract lets
 * an executor report from any thread, the scheduler's own included, so outcomes decided at
 * submit are pushed right there (the push only queues: the scheduler looks at the queue
 * before it waits), as are the CANCELLED completions of cancel_task and cancel_all; held
 * jobs are completed from the test thread. One mutex guards everything both threads touch
 * and is held across each push, so the record's order is the order in which the scheduler
 * receives things (a start notice always before its completion). That cannot deadlock: the
 * scheduler holds the completion queue's lock only inside the queue, never while it calls an
 * operation.
 *
 * Each record is written just before its push, its time too, so the time from a failed
 * attempt's completion to its retry's submit is never shorter than the delay the scheduler
 * waited.
 *
 * Life cycle, and where it differs from the contract: stop records the call and drops any
 * job still held (a scheduler bug: scripted_executor_held_at_stop counts them) but does not
 * free the object, which the test owns so that it can read the record after the run; the
 * test frees it with scripted_executor_free after wf_run_free. stop may come without start
 * (wf__run_start_on refused the run before starting its executor). One executor serves one
 * run.
 *
 * Failure: none; out of memory ends the process (wf_common.h). A malformed script (a SUCCEED
 * value that is not JSON, a HOLD given to release) aborts the test with a message.
 */
#ifndef WF_SCRIPTED_EXECUTOR_H
#define WF_SCRIPTED_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "executor.h"

typedef struct scripted_executor scripted_executor;

typedef enum scripted_action {
    SCRIPTED_SUCCEED, /* SUCCEEDED with `value` */
    SCRIPTED_FAIL,    /* FAILED with `exit_code` and `error` */
    SCRIPTED_SKIP,    /* SKIPPED (as an item whose `when` was false) */
    SCRIPTED_HOLD,    /* in flight until released or cancelled */
} scripted_action;

/* What becomes of a job. {0} is a success with the unit's index as its result. Strings are
 * copied by the functions that take an outcome. */
typedef struct scripted_outcome {
    scripted_action action;
    const char *value;   /* SUCCEED: the result as JSON text; NULL: the unit's index */
    int exit_code;       /* FAIL: the exit code (0 is reported as 1); otherwise -1 is reported */
    const char *error;   /* FAIL: the message; NULL: "scripted failure" */
    bool start;          /* push a start notice before the completion (HOLD: at submit) */
    bool survive_cancel; /* HOLD: cancel_all leaves it in flight (the test releases it) */
} scripted_outcome;

/* What the record holds, in the order it happened (under the executor's lock). */
typedef enum scripted_kind {
    SCRIPTED_START,       /* the start operation */
    SCRIPTED_SUBMIT,      /* one job of a submit (batch: which submit call, from 0) */
    SCRIPTED_NOTICE,      /* a start notice pushed for job */
    SCRIPTED_COMPLETE,    /* a completion pushed for job, with status */
    SCRIPTED_CANCEL_TASK, /* cancel_task(task) */
    SCRIPTED_CANCEL_ALL,  /* cancel_all */
    SCRIPTED_STOP,        /* stop */
    SCRIPTED_N_KINDS
} scripted_kind;

typedef struct scripted_record {
    scripted_kind kind;
    wf_job job;       /* SUBMIT, NOTICE, COMPLETE; CANCEL_TASK: job.task */
    size_t batch;     /* SUBMIT */
    wf_status status; /* COMPLETE */
    int64_t ms;       /* wf_now_ms() when it happened */
} scripted_record;

/* A new executor: caps PROCESSES | ACTIONS, no limit, start succeeds. Never NULL. */
scripted_executor *scripted_executor_new(void);
/* Frees sx (NULL is fine). Call after the run that used it has been freed. */
void scripted_executor_free(scripted_executor *sx);
/* The executor to pass to wf__run_start_on (which takes it over until stop; sx stays the
 * test's). */
wf_executor *scripted_executor_base(scripted_executor *sx);

/* ---- the script: before the run -------------------------------------------------------- */

/* The limit start sets (wf_executor.limit; 0: none). */
void scripted_executor_set_limit(scripted_executor *sx, size_t limit);
/* Replaces the caps (WF_EXEC_*). */
void scripted_executor_set_caps(scripted_executor *sx, unsigned caps);
/* Makes start fail with code and message. */
void scripted_executor_fail_start(scripted_executor *sx, int code, const char *message);
/* The outcome of a job no rule matches. */
void scripted_executor_default(scripted_executor *sx, scripted_outcome o);
/* A rule: jobs of task (NULL: any), unit (-1: any) and attempt (0: any) end as o. Rules are
 * tried in the order they were added; the first that matches decides. */
void scripted_executor_on(scripted_executor *sx, const char *task, int64_t unit, uint32_t attempt,
                          scripted_outcome o);

/* ---- during the run: the test thread --------------------------------------------------- */

/* Ends the held job of task's unit with o (not HOLD), pushing its start notice first when
 * o.start and it had none. Returns false when no such job is held (or stop was called). */
bool scripted_executor_release(scripted_executor *sx, const char *task, uint32_t unit,
                               scripted_outcome o);
/* Ends the job held longest with o; its job in *job (may be NULL). False when none is held. */
bool scripted_executor_release_oldest(scripted_executor *sx, scripted_outcome o, wf_job *job);
/* Pushes a start notice for task's held unit, which then counts as running. False when no
 * such job is held or it was started already. */
bool scripted_executor_notice(scripted_executor *sx, const char *task, uint32_t unit);
/* Jobs held now. */
size_t scripted_executor_held(scripted_executor *sx);
/* Waits until at least n jobs are held; false after timeout_ms. */
bool scripted_executor_wait_held(scripted_executor *sx, size_t n, int timeout_ms);
/* Records of a kind so far. */
size_t scripted_executor_count(scripted_executor *sx, scripted_kind kind);
/* Waits until at least n records of kind exist; false after timeout_ms. */
bool scripted_executor_wait(scripted_executor *sx, scripted_kind kind, size_t n, int timeout_ms);

/* ---- what happened: read after the run (wf_run_wait) ------------------------------------ */

/* The record (borrowed, valid until sx changes) and its length. */
const scripted_record *scripted_executor_log(const scripted_executor *sx, size_t *n);
/* The position in the record of the first record of kind about task's unit and attempt
 * (unit -1, attempt 0: any), or -1. task NULL: any task (CANCEL_ALL, STOP, START). */
long scripted_executor_find(const scripted_executor *sx, scripted_kind kind, const char *task,
                            int64_t unit, uint32_t attempt);
/* The index of a task by name in the workflow run (after start), or -1. */
long scripted_executor_task(const scripted_executor *sx, const char *task);
/* The most jobs handed over and not completed at once: overall, or of one task (NULL: all). */
size_t scripted_executor_max_in_flight(const scripted_executor *sx, const char *task);
/* Jobs still held when stop was called (0 unless the scheduler stopped too early). */
size_t scripted_executor_held_at_stop(const scripted_executor *sx);

#endif
