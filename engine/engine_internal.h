/*
 * engine_internal.h: the engine's private structures shared by engine.c (engine and action
 * registry), run.c (the scheduler), unit.c (what a worker does with one unit) and actions.c.
 *
 * Ownership of run state: the scheduler thread owns every field of wf_run below the
 * "scheduler-owned" line; workers read only the immutable parts (workflow, contexts, rendered
 * env, task item lists, which are never changed while units run) and talk back through the
 * completion queue.
 */
#ifndef WF_ENGINE_INTERNAL_H
#define WF_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "wf_slurm.h"
#include "wf_store.h"
#include "wf_workflow.h"

#include "wfengine.h"

/* A growable FIFO of task or unit indices (the ready list, a task's retries). */
typedef struct wf_u32_fifo {
    uint32_t *v;
    size_t head, len, cap;
} wf_u32_fifo;

typedef struct wf_action_entry {
    char *name;
    wf_action_fn fn;
    void *user;
} wf_action_entry;

struct wf_engine {
    wf_engine_options opts;
    wf_action_entry *actions;
    size_t n_actions, cap_actions;
};

/* The registered action called name, or NULL. */
const wf_action_entry *wf__engine_find_action(const wf_engine *e, const char *name);
/* Registers an action in the reserved core namespace (for actions.c). */
int wf__engine_add_core_action(wf_engine *e, const char *name, wf_action_fn fn);
/* Registers core.noop, core.echo, core.fail, core.sleep and core.value. */
void wf__actions_register_core(wf_engine *e);

/* One unit of work: a task attempt, or an item (or batch) attempt. Kept small: the item is
 * not copied, it is found by index in the task's item list. */
typedef struct wf_unit {
    uint32_t attempt;  /* attempts started so far */
    uint8_t status;    /* wf_status */
    uint8_t reused;    /* taken from the resumed run */
    uint8_t cached;    /* taken from the cache */
    uint8_t started;   /* the current attempt's UNIT_START was emitted */
    int32_t exit_code; /* of the last attempt, -1 if none */
    int64_t start_ms, end_ms;
} wf_unit;

/* A job handed to a worker, and the completion it sends back. */
typedef struct wf_job {
    uint32_t task;
    uint32_t unit;
    uint32_t attempt;
} wf_job;

/* A worker sends the scheduler one for every unit it starts (status RUNNING, only job set:
 * a start notice, see worker_main) and one when the unit ends (any other status). */
typedef struct wf_completion {
    wf_job job;
    wf_status status; /* SUCCEEDED, FAILED, SKIPPED (item `when` false) or CANCELLED */
    bool timed_out;
    int exit_code;
    json_object *value; /* owned */
    char *out, *err;    /* captured stdout/stderr (owned, may be NULL) */
    char *error;        /* owned, may be NULL */
    char *log;          /* action log text (owned, may be NULL) */
    int64_t start_ms, end_ms;
    /* With a store, filled by the worker (blobs already written): */
    char *result_json; /* masked compact JSON of the result when small, else NULL (owned) */
    char result_hash[WF_SHA256_HEX_LEN + 1]; /* blob of a large result, or "" */
    char stdout_hash[WF_SHA256_HEX_LEN + 1];
    char stderr_hash[WF_SHA256_HEX_LEN + 1];
    char item_hash[WF_SHA256_HEX_LEN + 1]; /* "" for a task without items */
    bool cached;                           /* the result came from the cache */
} wf_completion;

typedef struct wf_task_state {
    wf_status status;
    uint32_t pending_deps;
    bool ready_queued; /* in the ready list */
    bool started;
    bool stop_items;         /* task fail-fast tripped: start no new items */
    atomic_bool stop_queued; /* the same, for workers: queued jobs of the task end cancelled */
    wf_ctx *ctx;             /* the task's context (vars as published so far) */
    /* with-items: the expanded list, read by workers. Lent (items_own NULL) when it is a
     * constant of the workflow or a value already in the context (`<< task.x.items >>`),
     * so a run neither copies nor touches its reference counts; else items_own owns it. */
    const json_object *items;
    json_object *items_own;
    size_t n_units;
    wf_unit *units;
    size_t next_unit;    /* first unit never started */
    wf_u32_fifo retries; /* units whose retry delay has passed */
    size_t running, ended;
    size_t waiting_retry;        /* units waiting for their retry delay */
    json_object **values;        /* value per unit (owned until the task ends) */
    char **item_errors;          /* with-items: error per failed unit, allocated on first failure */
    char *plain_out, *plain_err; /* a plain task's captured stdout/stderr */
    char *error;                 /* why the task failed/skipped (owned) */
    int64_t start_ms, end_ms;
    wf_result *result; /* published result (a reference) */
    /* --resume: what the resumed run has for this task (borrowed from wf_run.reuse_doc):
     * the unit object of a plain task, or an array of unit objects by item index. */
    json_object *reuse;
    /* --resume: the task ran again in this run (a unit of it ran instead of being taken from
     * the resumed run, or a task it depends on ran again), so its dependents run again too. */
    bool rerun;
    bool slurm; /* its units run on Slurm (never on the workers) */
    /* A task with env: the run's env_base without the names the task sets (pointers into
     * wf_run.envp; owned array, NULL for a task without env, which uses the run's). */
    const char **env_base;
    size_t n_env_base;
} wf_task_state;

typedef struct wf_timer {
    int64_t due_ms;
    wf_job job;
} wf_timer;

/* How long a completion may wait for the scheduler when nothing about it is urgent. */
#define WF__SCHED_TICK_MS 2

struct wf_run {
    wf_engine *engine;
    const wf_workflow *wf;
    wf_run_options opts;
    char run_id[64];
    int concurrency;
    wf_ctx *root;          /* inputs, vars, env, results */
    char **envp;           /* inherited environment + workflow env, NULL-terminated (owned) */
    json_object *env_json; /* the same as an object (owned by root's context copy) */
    bool fail_fast;        /* workflow fail-fast (file or options) */
    char **secrets;        /* text of the secret inputs' values, masked as *** in output */
    size_t n_secrets;
    wf_store *store;        /* borrowed, or NULL */
    char resume_id[64];     /* --resume: the run resumed (opts.resume_run points here) */
    json_object *reuse_doc; /* --resume: the succeeded units of the resumed run (owned) */
    bool store_failed;      /* the store failed: the run was stopped */
    wf_slurm *slurm;        /* the Slurm executor, when a task uses it */
    size_t n_envp;
    /* envp without the variables the engine sets for every unit (WF_RUN_ID, WF_TASK,
     * WF_INDEX, WF_ITEM): what a unit's environment starts with (borrowed pointers into
     * envp; the array is owned). See wf__unit_env_prepare. */
    const char **env_base;
    size_t n_env_base;
    json_object *outputs; /* after the run */
    int64_t start_ms, start_wall_ms, end_ms;

    /* Threads. */
    pthread_t scheduler;
    pthread_t *workers;
    size_t n_workers;
    int cancel_pipe[2]; /* readable end polled by every process and action */
    atomic_bool cancel_requested;
    atomic_bool stop_queued; /* the run is stopping: queued jobs end cancelled, unstarted */

    /* Jobs (scheduler -> workers) and completions (workers -> scheduler). */
    pthread_mutex_t lock;
    pthread_cond_t jobs_cond; /* workers wait for jobs */
    pthread_cond_t done_cond; /* the scheduler waits for completions, cancel or timers */
    wf_job *jobs;
    size_t jobs_head, jobs_len, jobs_cap;
    wf_completion *done; /* completions and start notices, in the order they happened */
    size_t done_len, done_cap;
    size_t done_starts; /* how many of done are start notices */
    /* When the scheduler will look at done by itself (monotonic ms): 0 while it is awake,
     * INT64_MAX while it waits for a wake-up. */
    int64_t sched_wake_ms;
    bool sched_woken; /* a worker signalled done_cond since the scheduler last woke */
    bool shutting_down;

    /* ---- scheduler-owned ---- */
    wf_task_state *tasks;
    wf_u32_fifo ready; /* FIFO of task indices with units to start */
    wf_timer *timers;  /* min-heap by due_ms */
    size_t n_timers, cap_timers;
    uint32_t *settle; /* tasks whose dependencies all ended, to be handled */
    size_t n_settle;
    size_t running;        /* units handed to workers (queued or running), not completed */
    size_t dispatch_limit; /* at most this many handed to workers at once */
    size_t tasks_ended;
    size_t units_done, units_total;
    bool stopping; /* cancel or workflow fail-fast: start nothing new */
    bool failfast_tripped;
    wf_status status;
};

/* Computes env_base for the run and for each task with env (once per run, before any
 * unit runs), so that a unit's environment is a copy of pointers plus its own variables. */
void wf__unit_env_prepare(wf_run *r);
/* Frees what wf__unit_env_prepare allocated. */
void wf__unit_env_release(wf_run *r);

/* Runs one job on a worker thread and fills c (which the caller has zeroed, with c->job
 * set). Never fails: problems become a FAILED completion with an error message. */
void wf__unit_execute(wf_run *r, const wf_job *job, wf_completion *c);

/* Expands a matrix (cartesian product, first key outermost; exclude then include) into a
 * list of objects. */
int wf__matrix_expand(const wf_task *task, const wf_ctx *ctx, json_object **out, wf_error *err);

/* text with every secret value replaced by ***, or NULL when it holds none (owned). Only
 * reads the run's immutable secret list: safe on any thread. */
char *wf__run_mask(const wf_run *r, const char *text);

/* Wall-clock ms of a monotonic wf_now_ms() time of this run. */
int64_t wf__run_wall_ms(const wf_run *r, int64_t mono_ms);

/* For a Slurm element: evaluates the item's `when` and renders the script (/bin/sh text),
 * the environment and the workdir (all owned by the caller). Returns false when the unit
 * ends here: c is then SKIPPED (when was false) or FAILED (a template error), its store data
 * written. */
bool wf__unit_prepare_slurm(wf_run *r, const wf_job *job, char **script, char ***envp,
                            char **workdir, wf_completion *c);
/* Turns what Slurm reported for an element into a completion (takes res's strings): the
 * output converted to the result, store data written. Called on the Slurm poller thread. */
void wf__unit_finish_slurm(wf_run *r, wf_slurm_result *res, wf_completion *c);

/* Turns captured stdout into a result per the task's output mode. On bad JSON returns
 * WF_EINVAL with *error set to a message quoting the start of stdout. */
int wf__output_convert(wf_output_mode mode, const char *out, json_object **value, char **error);

#endif
