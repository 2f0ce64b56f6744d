/*
 * run_internal.h: a run's state, shared by the files of the run. The path of a run:
 *
 *   run.c       wf_run_start/wait/cancel/free: the run's life, its threads and executors
 *   setup.c     run id, secrets, environment, root context (inputs, env, vars), actions
 *   tasks.c     the task and unit state machine (ready, skipped, finished, retried)
 *   expand.c    a task's units: with-items lists, batches, units taken from --resume
 *   items.c     a with-items list read one item at a time (a JSON list, a range, a file)
 *   unit_detail.c  a unit's state beyond its 4 dense bytes (sparse details, values)
 *   ready.c     the ready queue (round-robin, deepest pipeline stage first), retry timers
 *   pipeline.c  pipelined tasks: item i of a stage starts when item i of its source ended
 *   dispatch.c  the scheduler thread: hands units to executors, takes their completions
 *   executor_local.c / executor_slurm.c   run units (executor.h); unit.c runs one unit
 *   unit_uses.c a `uses:` unit: the called workflow as a nested run (caller, prefix below)
 *   done_queue.c the completion queue from executors to the scheduler
 *   record.c    events and store records (secrets masked)
 *   result.c    outputs and the result document
 *
 * Ownership: the scheduler thread owns every field of wf_run below the "scheduler-owned"
 * line, and every wf_task_state field not marked otherwise; no lock protects them because
 * no other thread touches them. Executors read only the immutable parts (workflow, contexts,
 * rendered env, task item lists, which never change while units run) and report through the
 * completion queue (executor.h).
 */
#ifndef WF_RUN_INTERNAL_H
#define WF_RUN_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "wf_store.h"
#include "wf_workflow.h"

#include "engine_internal.h"
#include "executor.h"
#include "items.h"
#include "unit_values.h"
#include "wfengine.h"

/* A growable FIFO of task or unit indices (the ready list, a task's retries). */
typedef struct wf_u32_fifo {
    uint32_t *v;
    size_t head, len, cap;
} wf_u32_fifo;

/* One unit of work: a task attempt, or an item (or batch) attempt. Dense: 4 bytes per unit
 * whatever the task's size (a 10,000,000-item task's units take 40 MB). The item is not
 * copied (it is read from the task's item source by index); what more a unit has (its exit
 * code, times, error, an attempt count past 65,534) is in the task's sparse details, kept
 * only where they say something (unit_detail.c). */
typedef struct wf_unit {
    uint8_t status;   /* wf_status */
    uint8_t flags;    /* WF__U_* */
    uint16_t attempt; /* attempts started so far; WF__U_ATTEMPT_MAX: see its detail */
} wf_unit;

enum {
    WF__U_REUSED = 1 << 0,  /* taken from the resumed run */
    WF__U_CACHED = 1 << 1,  /* taken from the cache */
    WF__U_STARTED = 1 << 2, /* the current attempt's UNIT_START was emitted */
    WF__U_IGNORED = 1 << 3, /* it failed under continue-on-error */
    WF__U_EXIT0 = 1 << 4,   /* its last attempt exited 0 (a unit without detail: else -1) */
};
#define WF__U_ATTEMPT_MAX UINT16_MAX

/* What a unit has beyond wf_unit: every unit of a task of at most WF__DETAIL_ALL units has
 * one from its first attempt on; in a bigger task, only a unit with a failed attempt (from
 * that failure on), one that did not succeed, or one past WF__U_ATTEMPT_MAX attempts. */
typedef struct wf_unit_detail {
    uint32_t idx;      /* the unit; UINT32_MAX: a free slot of the map */
    int32_t exit_code; /* of the last attempt, -1 if none */
    uint32_t attempt;  /* attempts, once wf_unit.attempt is WF__U_ATTEMPT_MAX */
    int64_t start_ms, end_ms;
    char *error; /* with-items: why it failed, was skipped or cancelled (owned), or NULL */
} wf_unit_detail;

#define WF__DETAIL_ALL 65536

/* A task's details by unit index: open addressing, linear probing, power-of-two capacity. */
typedef struct wf_detail_map {
    wf_unit_detail *v;
    size_t len, cap;
} wf_detail_map;

typedef struct wf_task_state {
    wf_status status;
    uint32_t pending_deps;
    bool ready_queued; /* in the ready list */
    bool started;
    bool stop_items; /* task fail-fast tripped: start no new items */
    /* pipeline.c: a pipelined task's units whose source item arrived, not yet started
     * (started before next_unit, which a pipelined task never uses), and how many still wait
     * for their source item; pipe_opened: its pipelined dependents were told its units. */
    wf_u32_fifo fed;
    size_t unfed;
    bool pipe_opened;
    wf_executor *exec; /* what runs its units (set up before the run starts, then read-only) */
    wf_ctx *ctx;       /* the task's context (vars as published so far) */
    /* with-items: the item list, read by executors one item at a time (items.h): a JSON
     * list lent when it is a constant of the workflow or a value already in the context
     * (`<< task.x.items >>`), a range, or a file's lines. Owned; NULL without with-items. */
    wf_items *items;
    size_t n_units;
    size_t planned;    /* units counted in units_total for it (wf__planned_units, then n_units) */
    int concurrency;   /* its items at once (0: no limit of its own), known when it starts */
    int batch_size;    /* items per unit (0: one), known when it starts */
    int cpus;          /* what each unit counts against -j (>= 1), known when it starts */
    int64_t stop_item; /* with stop_items: the item whose failure tripped it */
    wf_unit *units;
    size_t next_unit;    /* first unit never started */
    wf_u32_fifo retries; /* units whose retry delay has passed */
    size_t running, ended;
    size_t waiting_retry; /* units waiting for their retry delay */
    /* The units' values, a JSON array by unit index created at the first value that is not
     * null (owned until the task ends, when it becomes the task's result as it is); for a
     * task of more than WF__VALUES_INLINE units, a file instead (unit_values.h; owned until
     * the task ends, when it becomes the task's result, a list by reference). */
    json_object *values;
    wf_values_log *values_log;
    wf_detail_map details;       /* see wf_unit_detail */
    char **labels;               /* `label:` per unit (NULL where it failed), or NULL (label.c) */
    char *plain_out, *plain_err; /* a plain task's captured stdout/stderr */
    char *error;                 /* why the task failed/skipped (owned) */
    int64_t start_ms, end_ms;
    wf_result *result; /* published result (a reference) */
    /* --resume: what the resumed run has for this task (borrowed from wf_run.reuse_tasks),
     * or NULL. */
    struct wf__reuse_task *reuse;
    /* --resume: the task ran again in this run (a unit of it ran instead of being taken from
     * the resumed run, or a task it depends on ran again), so its dependents run again too. */
    bool rerun;
    /* --resume: a task it depends on ran again (set when it becomes ready, before any of its
     * units is handed out, then read-only: executors read it). A `uses:` unit then runs the
     * called workflow afresh, since what it is called with may have changed. */
    bool deps_reran;
    /* Left out of the run by wf_run_options.targets (targets.c): it never becomes ready
     * (pending_deps cannot reach 0), counts as ended from the start, and is not recorded. */
    bool excluded;
    /* A task with env: the run's env_base without the names the task sets (pointers into
     * wf_run.envp; owned array, NULL for a task without env, which uses the run's). */
    char **file_env; /* the task's env-file entries NAME=VALUE (owned), NULL-terminated, or NULL */
    const char **env_base;
    size_t n_env_base;
} wf_task_state;

typedef struct wf_timer {
    int64_t due_ms;
    wf_job job;
} wf_timer;

/* How long a completion may wait for the scheduler when nothing about it is urgent. */
#define WF__SCHED_TICK_MS 2

/* The completion queue (done_queue.c): executors push, the scheduler takes all at once. */
struct wf_done_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* the scheduler waits for completions, a cancel or a timer */
    wf_completion *v;    /* completions and start notices, in the order they happened */
    size_t len, cap;
    size_t starts; /* how many of v are start notices */
    /* When the scheduler will look at v by itself (monotonic ms): 0 while it is awake,
     * INT64_MAX while it waits for a wake-up. */
    int64_t wake_ms;
    bool woken; /* signalled since the scheduler last woke */
};

/* An event of a called workflow's run, copied to reach the caller's scheduler thread
 * (unit_uses.c pushes it, dispatch.c emits it): ev's strings point at the owned copies. */
typedef struct wf_fwd_event {
    wf_event ev;
    char *task, *message, *stderr_text, *stdout_text, *label;
} wf_fwd_event;

struct wf_run {
    wf_engine *engine;
    const wf_workflow *wf;
    wf_run_options opts;
    char run_id[64];
    int concurrency; /* units that may run at once on this machine (the local pool's workers) */
    wf_ctx *root;    /* inputs, vars, env, results */
    char **envp;     /* inherited environment + workflow env, NULL-terminated (owned) */
    json_object *env_json; /* the same as an object (owned by root's context copy) */
    bool fail_fast;        /* workflow fail-fast (file or options) */
    char **secrets;        /* text of the secret inputs' values, masked as *** in output */
    size_t n_secrets;
    wf_store *store; /* borrowed, or NULL */
    /* Results by reference (context/ref.c): the cache of loaded large values (a reference),
     * and the directory where stdout spills when it cannot go to the store's blobs
     * (--no-store, or a run with secrets, whose blobs are masked): made when the run starts,
     * removed with everything in it by wf_run_free. NULL when not needed. */
    wf_ref_cache *refs;
    char *spill_dir;
    char resume_id[64]; /* --resume: the run resumed (opts.resume_run points here) */
    /* --resume: the succeeded units of the resumed run, one entry per task (owned). */
    struct wf__reuse_task *reuse_tasks;
    bool store_failed; /* the store failed, or disk_error was set: the run was stopped */
    /* The first write to disk outside the store that failed (a full spill directory, a
     * fan-out's results file): its message (owned), set once by wf__run_disk_failed from any
     * thread. The scheduler then stops the run as for a failed store (exit 3). */
    _Atomic(char *) disk_error;
    size_t n_envp;
    /* envp without the variables the engine sets for every unit (WF_RUN_ID, WF_TASK,
     * WF_INDEX, WF_ITEM): what a unit's environment starts with (borrowed pointers into
     * envp; the array is owned). See wf__unit_env_prepare. */
    const char **env_base;
    size_t n_env_base;
    json_object *outputs; /* after the run */
    /* A called workflow's run (a unit of a `uses:` task, unit_uses.c): the caller's run, and
     * what its task names are prefixed with in events and records ("build/", "build[3]/";
     * owned). It shares the caller's run id and store but records no run of its own. Both
     * NULL for a run started through wfengine.h. */
    wf_run *caller;
    char *prefix;
    size_t position; /* with caller: the top-level calling task's place in its file (show) */
    int64_t start_ms, start_wall_ms, end_ms;

    /* Executors (started before the scheduler, stopped by it when the run ends). */
    wf_executor **executors;
    size_t n_executors;
    pthread_t scheduler;
    atomic_bool cancel_requested;
    wf_done_queue done;

    /* ---- scheduler-owned ---- */
    wf_task_state *tasks;
    wf_u32_fifo ready; /* FIFO of task indices with units to start (pipe_depth 0) */
    /* The same for pipelined tasks, by pipe_depth - 1: served first, deepest first (ready.c) */
    wf_u32_fifo *ready_deep;
    size_t n_ready_deep, ready_len; /* ready_len: tasks in all the ready FIFOs */
    wf_timer *timers;               /* min-heap by due_ms */
    size_t n_timers, cap_timers;
    uint32_t *settle; /* tasks whose dependencies all ended, to be handled */
    size_t n_settle;
    size_t tasks_ended;
    size_t units_done, units_total;
    bool stopping; /* cancel or workflow fail-fast: start nothing new */
    bool failfast_tripped;
    uint32_t failfast_task; /* with failfast_tripped: the task whose failure tripped it */
    bool timed_out;         /* the workflow's `timeout` passed: the run was stopped */
    wf_status status;
};

/* ---- run.c ---------------------------------------------------------------------------- */

/* unit_spill.c: the run's result cache (budget: opts.memory, the workflow's memory:, 256 MiB)
 * and, without a store or with secrets, its spill directory under $TMPDIR. WF_EIO (errs says
 * why) when the directory cannot be made. */
int wf__spill_open(wf_run *r, wf_errlist *errs);
/* Drops the cache and removes the spill directory with its files (after the results). */
void wf__spill_close(wf_run *r);
/* What to do after a write to the spill or blobs directory failed (static text, for the end
 * of a message): make room, and then --resume or run again. */
const char *wf__spill_advice(const wf_run *r);
/* A write to disk that the run needs failed (message_take, owned; NULL is ignored): the first
 * one is kept and the scheduler stops the run, which ends failed with wf_run_store_failed
 * true (exit 3). Later ones are dropped. Any thread. */
void wf__run_disk_failed(wf_run *r, char *message_take);

/* wf_run_start with every task on executor ex (taken over: its stop is called), for tests of
 * the scheduler (tests/scripted_executor.c). */
int wf__run_start_on(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts,
                     wf_executor *ex, wf_run **out, wf_errlist *errs);

/* A called workflow's run: wf_run_start as a unit of caller (prefix taken: see wf_run). */
int wf__run_start_called(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts,
                         wf_run *caller, char *prefix_take, size_t position, wf_run **out,
                         wf_errlist *errs);

/* ---- setup.c -------------------------------------------------------------------------- */

void wf__make_run_id(char *out, size_t n);
/* Adds an error at m in the workflow file. */
void wf__errlist_add_at(wf_errlist *errs, const wf_workflow *wf, wf_mark m, int code,
                        const char *msg);
/* The text of the secret inputs' values (for masking). */
void wf__collect_secrets(wf_run *r, const json_object *inputs);
/* The process environment plus the workflow's env, as r->env_json and r->envp. */
int wf__build_env(wf_run *r, json_object *inputs, wf_errlist *errs);
/* The root context: inputs (taken), env, and vars in file order. */
int wf__build_root(wf_run *r, json_object *inputs, wf_errlist *errs);
/* Every action a task names is registered. */
int wf__check_actions(const wf_engine *e, const wf_workflow *wf, wf_errlist *errs);

/* ---- targets.c ------------------------------------------------------------------------ */

/* wf_run_options.targets: leaves out every task the targets do not need (excluded, ended
 * from the start, out of units_total) and, with targets_only, takes the targets' dependencies
 * from the resumed run (call after wf__load_reuse). Every problem (an unknown target, a
 * dependency with nothing to take) is appended to errs; returns WF_OK or WF_EINVAL. Does
 * nothing without targets. */
int wf__apply_targets(wf_run *r, wf_errlist *errs);

/* ---- record.c: events and store records (scheduler thread, except wf__run_mask) -------- */

/* text with every secret value replaced by ***, or NULL when it holds none (owned). Only
 * reads the run's immutable secret list: safe on any thread. */
char *wf__run_mask(const wf_run *r, const char *text);
/* Masks every string inside v in place (v is owned by the caller and not shared). */
void wf__mask_json(const wf_run *r, json_object *v);
/* Calls the event callback (if any) with ev, its texts masked and its counts filled (and,
 * in a called workflow's run, its task name prefixed). */
void wf__emit(wf_run *r, wf_event *ev);
/* The same for an event whose task name is complete already (a called workflow's). */
void wf__emit_named(wf_run *r, wf_event *ev);
/* A task's name as events and records give it: with the run's prefix, if any, in buf (which
 * the caller releases). Borrowed: valid while buf and the task live. */
const char *wf__task_display_name(const wf_run *r, const wf_task *task, wf_strbuf *buf);
void wf__emit_simple(wf_run *r, wf_event_kind kind, const char *task, const char *message);
/* Wall-clock ms of a monotonic wf_now_ms() time of this run. */
int64_t wf__run_wall_ms(const wf_run *r, int64_t mono_ms);
void wf__record_unit(wf_run *r, uint32_t t, uint32_t idx, const wf_completion *c, int attempt,
                     bool reused);
void wf__record_task(wf_run *r, uint32_t t);
/* A reference (a new marker, owned) to the store's blob hash, whose value is its bytes
 * (size) converted by mode, loaded through the run's result cache when a template needs it
 * whole; label names it in errors. lines: for mode lines, how many (a lines list); for json,
 * the items of the array it is as recorded (a list by reference, scanned at its first item
 * read), or WF_STORE_NOT_A_LIST (a whole value). */
json_object *wf__stored_ref(wf_run *r, const char *hash, wf_output_mode mode, uint64_t size,
                            uint64_t lines, const char *label);
/* The length of an `output: lines` result, or of a json one that is an array (a list by
 * reference or an array), for its record: true with *lines, false when value is neither. */
bool wf__result_lines(const json_object *value, uint64_t *lines);
/* Whether c's result is one whose length its record keeps (wf_store_unit_rec.result_lines):
 * the stdout converted by `output: lines` or `output: json`. */
bool wf__result_counted(const wf_completion *c);
void wf__record_run_start(wf_run *r);
/* Records the run's end and flushes the store (store_failed set when that fails). */
void wf__record_run_end(wf_run *r);

/* ---- ready.c: ready queue and retry timers -------------------------------------------- */

void wf__fifo_push(wf_u32_fifo *q, uint32_t x);
uint32_t wf__fifo_pop(wf_u32_fifo *q);
/* Puts task t on the ready list (once), in the FIFO of its pipeline depth. */
void wf__ready_push(wf_run *r, uint32_t t);
/* The next ready task (the deepest pipeline stage first, then round-robin), taken off the
 * list, or only looked at. Call only when r->ready_len > 0. */
uint32_t wf__ready_pop(wf_run *r);
uint32_t wf__ready_peek(const wf_run *r);
void wf__timer_push(wf_run *r, int64_t due, wf_job job);
wf_timer wf__timer_pop(wf_run *r);
/* Whether a unit of the task can start now (retries or units never started). */
bool wf__has_startable(const wf_run *r, const wf_task_state *ts);
/* The task has as many units handed out as its `concurrency` allows. */
bool wf__task_at_limit(const wf_run *r, uint32_t t);
/* The delay before retry number retry_number (1 for the first) under the policy. */
int64_t wf__retry_delay(const wf_retry *rt, uint32_t retry_number);

/* ---- unit_detail.c: what units have beyond wf_unit ------------------------------------- */

/* Unit idx's detail, or NULL. */
wf_unit_detail *wf__detail_get(const wf_task_state *ts, uint32_t idx);
/* Unit idx's detail, created (exit code -1, no times, no error) when it has none. */
wf_unit_detail *wf__detail_put(wf_task_state *ts, uint32_t idx);
/* Whether every unit of the task keeps a detail (see wf_unit_detail). */
bool wf__detail_all(const wf_task_state *ts);
void wf__detail_free(wf_task_state *ts);
/* Unit idx's attempts, exit code (-1: none) and error (borrowed, or NULL). */
uint32_t wf__unit_attempts(const wf_task_state *ts, uint32_t idx);
int wf__unit_exit_code(const wf_task_state *ts, uint32_t idx);
const char *wf__unit_error(const wf_task_state *ts, uint32_t idx);
/* Counts a new attempt of unit idx; returns the count. */
uint32_t wf__unit_attempt_add(wf_task_state *ts, uint32_t idx);
/* Unit idx's value (borrowed: the task's values array holds it), or NULL; NULL too for a task
 * whose values are in a file (wf__unit_value_copy reads those). */
const json_object *wf__unit_value(const wf_task_state *ts, uint32_t idx);
/* Keeps v_take as unit idx's value (NULL: none). A value that cannot be written to the
 * task's results file (a full disk) fails the run (wf__run_disk_failed). */
void wf__unit_value_set(wf_run *r, wf_task_state *ts, uint32_t idx, json_object *v_take);
/* Unit idx's value as a new value (owned; references shared, not loaded) whether it is in the
 * values array or the file, or NULL (none, or a file that cannot be read back). */
json_object *wf__unit_value_copy(const wf_task_state *ts, uint32_t idx);
/* A context for unit idx (its item from the task's item source, when it has one): *own is
 * what the caller puts after unreffing the context (NULL if nothing). Returns NULL when the
 * item cannot be read (*error says why, owned, when error is not NULL). Any thread. */
wf_ctx *wf__unit_ctx(const wf_run *r, uint32_t t, uint32_t idx, json_object **own, char **error);

/* ---- expand.c: a task's units ------------------------------------------------------------ */

/* The units a task counts for in units_total before it expands: the length of a literal item
 * list (in batches with batch-size), else 1 (a list read from inputs or results is counted
 * when the task expands; a task that ends without units counts 1). */
size_t wf__planned_units(const wf_task *task);
/* Skips units that were settled out of order (taken from the resumed run). */
void wf__advance_next(wf_task_state *ts);
/* Creates n units for the task and, with queue, puts it on the ready list. */
void wf__task_add_units(wf_run *r, uint32_t t, size_t n, bool queue);
/* `with-items: << range(...) >>`, `<< file_lines(...) >>` or `<< task.NAME >>` of a list by
 * reference (a lines result, a large fan-out's results: read an item at a time) evaluated in ctx: a
 * source read one item at a time in *src (owned; NULL when the task's items are another template or
 * no template). A file's path is relative to the directory of the workflow file, like `uses:` and
 * `env-file:`. On failure returns its code and *error (owned) says why. */
int wf__lazy_items(const wf_run *r, const wf_task *task, const wf_ctx *ctx, wf_items **src,
                   char **error);
/* How many items of such a list a dry run shows (wf_run_plan). */
#define WF__PLAN_ITEMS 20
/* Evaluates the task's item list into ts->items; on failure *error says why (owned). */
int wf__expand_items(wf_run *r, uint32_t t, char **error);
/* --resume: what the resumed run has for a task, read from the store as runs of units
 * (wf_store_succeeded_each): a span is consecutive succeeded units that share their result
 * and outputs. A plain task has one span, -1..-1. A pipelined task's spans keep the first
 * bytes of each one's item hash (WF_STORE_DIGEST_LEN bytes per item); any other with-items
 * task reads them again from the store when it expands (wf__reuse_items), so what is kept
 * from the start of the run is one record per span, however the units were stored (a range
 * of the store is one span). */
typedef struct wf__reuse_span {
    int64_t first, last;
    unsigned char *digests; /* (last - first + 1) * WF_STORE_DIGEST_LEN, or NULL: none */
    /* {"result", "stdout_hash", "stderr_hash", "exit_code"} for a task without items; NULL in
     * a with-items task (wf__reuse_items reads the units again as the task expands; a pipelined
     * one reads them by windows as its items come: wf__reuse_window) */
    json_object *rec;
} wf__reuse_span;
/* A pipelined task's records of the resumed run, read a window at a time as its items come
 * (wf__reuse_take): runs of units by first index, each with its record. */
typedef struct wf__reuse_window {
    struct wf__reuse_run {
        int64_t first, last;
        json_object *rec;
    } * runs;
    size_t n, cap;
} wf__reuse_window;
typedef struct wf__reuse_task {
    wf__reuse_span *spans; /* by first index */
    size_t n, cap;
    wf__reuse_window win; /* pipelined tasks */
    wf_sha256 *h;         /* pipelined tasks: hashes the items taken (made at the first) */
} wf__reuse_task;

/* --resume: settles unit idx with rec (a span's record); item_hash is its item's SHA256
 * (hex) or NULL. */
void wf__reuse_unit(wf_run *r, uint32_t t, uint32_t idx, json_object *rec, const char *item_hash);
/* --resume: whether the resumed run has a success of unit idx of the task (O(log spans)). */
bool wf__reuse_has(const wf_task_state *ts, uint32_t idx);
/* --resume: takes unit idx from the resumed run when it succeeded there with the same item
 * (ts->items[idx] already set). True when it was taken. */
bool wf__reuse_take(wf_run *r, uint32_t t, uint32_t idx);
/* --resume: takes the unchanged items that succeeded in the resumed run. Returns how many. */
size_t wf__reuse_items(wf_run *r, uint32_t t);
/* --resume: reads what the resumed run has, per task. */
int wf__load_reuse(wf_run *r, wf_errlist *errs);
/* Frees what wf__load_reuse read. */
void wf__reuse_free(wf_run *r);

/* ---- pipeline.c: pipelined tasks (scheduler thread) ------------------------------------ */

/* Source task s has expanded: its pipelined dependents stop waiting for it (they need their
 * other dependencies only). */
void wf__pipe_open(wf_run *r, uint32_t s);
/* Whether task t no longer counts dep among its pending dependencies (dep is t's pipeline
 * source and has expanded): dep's end must not count down t's pending_deps again. */
bool wf__pipe_waits_on(const wf_run *r, uint32_t t, uint32_t dep);
/* Pipelined task t is ready: its item list (nulls, filled as source items end) and labels.
 * Returns its number of units: its source's. */
size_t wf__pipe_expand(wf_run *r, uint32_t t);
/* After wf__task_add_units: feeds the units whose source item already ended, opens t for
 * its own pipelined dependents. */
void wf__pipe_start(wf_run *r, uint32_t t);
/* Unit idx of task s reached its final state: feeds (or skips) unit idx of each task
 * pipelined from s that has expanded. */
void wf__pipe_feed(wf_run *r, uint32_t s, uint32_t idx);

/* ---- label.c: item labels (scheduler thread) ------------------------------------------- */

/* Longest label in bytes (a longer one is cut, ending in "..."). */
#define WF__LABEL_MAX 64
/* With `label:`: renders it for every item of the expanded task into ts->labels. An item
 * whose label fails has none (it is named by its index), and one WF_EVENT_WARNING names the
 * task, the first such item and the error. Nothing for a task without `label:`. */
void wf__labels_render(wf_run *r, uint32_t t);
void wf__labels_free(wf_task_state *ts);
/* A pipelined task's label for item i, once the item arrived (a warning when it fails). */
void wf__label_render_one(wf_run *r, uint32_t t, size_t i);
/* The label of unit idx (borrowed from ts->labels or written to buf, which holds
 * WF__LABEL_MAX + 1 bytes), or NULL: a task without items, a failed label, or, without
 * `label:`, an item that is not a short scalar. */
const char *wf__unit_label(const wf_run *r, uint32_t t, uint32_t idx, char *buf);

/* ---- tasks.c: the state machine ----------------------------------------------------------- */

/* What stopped a cancelled unit or task (started: it was running), for the user. Owned. */
char *wf__cancel_reason(const wf_run *r, const wf_task_state *ts, bool started);
/* Stops the run: nothing new starts, every executor cancels what it has. */
void wf__run_stop(wf_run *r);
/* Takes the task's next unit to start (a retry first) and marks it running: its attempt is
 * counted and UNIT_QUEUED emitted. Call only when wf__has_startable. */
wf_job wf__take_unit(wf_run *r, uint32_t t);
/* A task whose dependencies have all ended: skip it, or expand it and queue its units. */
void wf__task_ready(wf_run *r, uint32_t t);
/* Handles tasks that became ready, iteratively. */
void wf__settle(wf_run *r);
/* Ends the task if nothing of it runs, waits or can start any more. */
void wf__task_maybe_finish(wf_run *r, uint32_t t);
void wf__task_finish(wf_run *r, uint32_t t, wf_status status, char *error_take);
/* An executor started attempt job->attempt of the unit: emits UNIT_START. */
void wf__unit_started(wf_run *r, const wf_job *job);
/* A completion from an executor (its strings and value taken). */
void wf__unit_complete(wf_run *r, wf_completion *c);
/* Moves the units whose retry delay has passed to their task's retries (or ends a task
 * that can no longer start them). */
void wf__fire_timers(wf_run *r, int64_t now);
/* After a stop: drops pending retries and ends the tasks that have nothing running. */
void wf__drain_after_stop(wf_run *r);
wf_status wf__final_status(const wf_run *r);

/* ---- dispatch.c: the scheduler thread ----------------------------------------------------- */

void *wf__scheduler_main(void *arg);

/* ---- unit_uses.c: a `uses:` unit (a worker thread) and its events (the scheduler) ------- */

/* Runs the called workflow of a `uses:` unit as a nested run and fills c like
 * wf__unit_execute: its result is the called workflow's outputs; a failure names the task
 * that failed in it; cancel_fd (or the task's timeout) cancels the nested run. */
void wf__unit_run_uses(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                       int cancel_fd, wf_completion *c);
/* On the scheduler thread: emits a called workflow's event (taken and freed). */
void wf__emit_forwarded(wf_run *r, wf_fwd_event *fe);
void wf__fwd_event_free(wf_fwd_event *fe);

/* ---- done_queue.c (the scheduler's side) -------------------------------------------------- */

void wf__done_queue_init(wf_done_queue *q);
void wf__done_queue_release(wf_done_queue *q);
/* Hands the scheduler an event of a called workflow's run (taken), after everything pushed
 * before it. Any thread. */
void wf__done_queue_push_event(wf_done_queue *q, wf_fwd_event *fe);
/* Wakes the scheduler (a cancel). */
void wf__done_queue_wake(wf_done_queue *q);
/* Waits until the queue holds something, the deadline due_ms (monotonic, INT64_MAX: none)
 * has passed, or *cancel is set (cancel may be NULL); with tick, waits at most a tick (the
 * scheduler just handled completions and looks again soon: executors need not wake it). Then swaps
 * the queue's contents into *batch (capacity *cap) and returns how many. */
size_t wf__done_queue_take(wf_done_queue *q, int64_t due_ms, bool tick, const atomic_bool *cancel,
                           wf_completion **batch, size_t *cap);

/* ---- result.c ----------------------------------------------------------------------------- */

/* Renders the workflow's outputs against the final context into r->outputs. */
void wf__render_outputs(wf_run *r);

/* ---- unit.c: what executing one unit means (any executor thread) ---------------------------- */

/* Computes env_base for the run and for each task with env (once per run, before any
 * unit runs), so that a unit's environment is a copy of pointers plus its own variables. */
void wf__unit_env_prepare(wf_run *r);
/* Frees what wf__unit_env_prepare allocated. */
void wf__unit_env_release(wf_run *r);

/* Runs one job (a process or an action) and fills c (which the caller has zeroed, with
 * c->job set). cancel_fd: readable once the run stops (processes and actions poll it);
 * cancelled: the job was cancelled before it started (it ends CANCELLED without running).
 * Never fails: problems become a FAILED completion with an error message. */
void wf__unit_execute(wf_run *r, const wf_job *job, int cancel_fd, bool cancelled,
                      wf_completion *c);

/* For an executor that runs units elsewhere (a cluster): evaluates the item's `when`,
 * renders the unit as a /bin/sh script, its full environment and its workdir (all owned by
 * the caller; workdir NULL for the current directory), and, for a `cache:` task with a
 * store, computes its cache key (the same as a local unit's) into cache_key ("" when the
 * task is not cached) and looks it up. Returns false when the unit ends here: c is then
 * SKIPPED (its `when` was false), FAILED (a template error) or SUCCEEDED and cached (a cache
 * hit: nothing to submit), its store data written. On true, c->warning may hold warnings of
 * the lookup (a source glob that matched nothing) for the unit's completion. Any thread. */
bool wf__unit_render_script(wf_run *r, const wf_job *job, char **script, char ***envp,
                            char **workdir, char cache_key[WF_SHA256_HEX_LEN + 1],
                            wf_completion *c);
/* Completes c for a unit run elsewhere, whose job, status, exit code, out, err, error and
 * times the executor filled: converts stdout to the result per the task's output mode (a
 * failure when it cannot be parsed; `where` names the job in that message) and writes the
 * store data; a success is recorded in the cache under cache_key (NULL or "": not cached;
 * workdir: where its generated files are, as wf__unit_render_script gave it). out_path: the
 * file of a stdout too large to be read into c->out (c->out is then its tail), taken by reference
 * as a local unit's large stdout is (wf__spill_adopt_file: linked or copied, never read whole);
 * result or result_path: what the job wrote to $WF_RESULT, in memory or (large) as a file taken the
 * same way. Either over the task's max-output fails the unit naming the task, item and cap. The
 * files must stay until it returns. Any thread. */
void wf__unit_finish_remote(wf_run *r, wf_completion *c, const char *out_path, const char *result,
                            const char *result_path, const char *where, const char *cache_key,
                            const char *workdir);

#endif
