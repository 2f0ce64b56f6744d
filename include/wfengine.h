/*
 * wfengine.h: the embedding API. The wfengine command line is built on this header alone, so
 * whatever the CLI can do, an embedding program can do.
 *
 * Life cycle: create an engine (wf_engine_new), register your actions, load workflows
 * (wf_workflow_load_file/_string), start runs (wf_run_start), wait for them (wf_run_wait),
 * read the result (wf_run_result_json), free the run, then the workflow, then the engine.
 * A workflow must outlive its runs; an engine must outlive its workflows' runs.
 *
 * Threads: each run has one scheduler thread and a pool of worker threads (as many as the run's
 * concurrency). Event callbacks are called on the scheduler thread, one at a time, in order.
 * Action callbacks are called on worker threads, possibly several at once (also for the same
 * action), so they must be thread-safe. wf_run_cancel may be called from any thread, but not
 * from a signal handler: block the signals and sigwait() in a thread of your own (the CLI's
 * main thread does it while the run goes on, woken at RUN_END by a SIGUSR1 its event callback
 * sends it). The process must ignore or block SIGPIPE (wf_engine_new blocks it in the calling
 * thread; threads created later inherit that).
 *
 * Errors: functions return WF_OK (0) or a negative WF_E* code (see wf_strerror); those that
 * take a wf_error fill it with a message for the user. Out of memory ends the process with a
 * message and _exit(4), never abort(); sizes from input are capped first (WF_MAX_* in
 * wf_common.h, docs/workflow-format.md "Limits").
 *
 * JSON: values are json-c objects. Values handed to you are borrowed and read-only (they may
 * be shared with other threads: do not json_object_get/put them, do not serialize them with
 * json_object_to_json_string, which writes a cache into the object). Values you return are
 * taken over by the engine and must not be shared with anything else.
 */
#ifndef WFENGINE_H
#define WFENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"

typedef struct wf_engine wf_engine;
typedef struct wf_workflow wf_workflow;
typedef struct wf_run wf_run;
typedef struct wf_store wf_store; /* the run store: see wf_store.h (wf_store_open) */

/* ---- the engine ---------------------------------------------------------------------- */

typedef struct wf_engine_options {
    /* Grace period between SIGTERM and SIGKILL when a process is stopped; 0: 5 s. */
    int64_t kill_grace_ms;
    /* stdout_cap: the default of `max-output`, the bytes of stdout a unit may write (kept on
     * disk beyond 64 KiB: a store blob, or a file in the run's spill directory); a unit that
     * writes more fails. 0: 1 GiB. stderr_cap: the bytes of stderr kept in memory per unit
     * (the rest is dropped); 0: 16 MiB. */
    size_t stdout_cap, stderr_cap;
} wf_engine_options;

/* A new engine with the built-in actions (core.noop, core.echo, core.fail, core.sleep,
 * core.value) registered. opts may be NULL for defaults. Never NULL. */
wf_engine *wf_engine_new(const wf_engine_options *opts);
/* Frees the engine. Every run started on it must have been freed. NULL is fine. */
void wf_engine_free(wf_engine *e);

/* Makes sure that nothing a unit's process started outlives the unit, also a process that
 * left its process group (setsid, a daemon's double fork), which the group kill at the end
 * of every unit cannot reach. Process-wide, not tied to an engine, and off unless called:
 * the wfengine CLI calls it; an embedding program decides, because it changes how the
 * whole process treats children:
 * - the process becomes a child subreaper (prctl PR_SET_CHILD_SUBREAPER), and so does every
 *   process a run starts from then on: orphans stay below their unit's process while it
 *   lives, and come to this process's main thread when it ends;
 * - whenever a unit's process ends, every child of the main thread is taken for such a
 *   leftover: it gets SIGKILL (with the process group it leads) and is reaped.
 * So call it only if the main thread starts no child processes of its own (other threads
 * may; runs may be started from the main thread), stays alive while runs are in progress,
 * and nothing in the process reaps children it did not start (waitpid(-1, ...)). Call it
 * before the first run; calling it again is harmless. Not inherited by fork().
 * Returns WF_OK, or WF_EIO with err set (a kernel without subreapers, before 3.4, or
 * without /proc/PID/task/TID/children); then nothing changed and runs work as before.
 * Whether or not it is called, every process a run starts directly is killed by the kernel
 * if this process dies, even by SIGKILL (PR_SET_PDEATHSIG); see docs/embedding.md. */
int wf_reap_orphans(wf_error *err);

/* ---- actions ------------------------------------------------------------------------- */

/* What an action is called with. All borrowed, valid during the call. */
typedef struct wf_action_call {
    const char *action;       /* "ns.name" */
    const char *task;         /* the task's name */
    int64_t index;            /* the item's index, or -1 for a task without with-items */
    int attempt;              /* 1 for the first attempt */
    const char *run_id;       /* the run's id */
    const json_object *input; /* the rendered input (an object, or NULL when none) */
    int64_t deadline_ms;      /* wf_now_ms() time at which the attempt times out, or 0 */
    int cancel_fd;            /* becomes readable when the unit must stop (poll it) */
} wf_action_call;

/* What an action answers. The engine owns what is put here after the call returns. */
typedef struct wf_action_reply {
    json_object *result; /* the result (NULL is JSON null), taken over */
    char *error;         /* on failure: what went wrong (malloc'd; may stay NULL) */
    char *log;           /* text to show and keep as the unit's stdout (malloc'd), or NULL */
    bool timed_out;      /* set when the action stopped because deadline_ms passed */
    bool cancelled;      /* set when the action stopped because cancel_fd was readable */
} wf_action_reply;

/* An action: returns WF_OK on success; any other code fails the unit (with reply->error as
 * the message). Called on worker threads, possibly concurrently: must be thread-safe. */
typedef int (*wf_action_fn)(const wf_action_call *call, wf_action_reply *reply, void *user);

/* Registers an action under name ("ns.name": letters, digits, _ and -, one dot at least;
 * the "core." namespace is reserved). Returns WF_OK, WF_EINVAL for a bad name, or WF_EEXIST.
 * Register actions before loading workflows that use them: the loader checks action names
 * against the engine the workflow is run on when the run starts (an unknown action is an
 * error before anything runs). Not thread-safe with runs in progress. */
int wf_engine_register_action(wf_engine *e, const char *name, wf_action_fn fn, void *user);

/* ---- workflows ------------------------------------------------------------------------ */

/* Loads and validates a workflow (every error of the file is appended to errs, each as
 * file:line:col with a message). Returns WF_OK with an owned *out, WF_EINVAL when the file
 * has errors, WF_EIO when it cannot be read. Thread-safe. */
int wf_workflow_load_file(const char *path, wf_workflow **out, wf_errlist *errs);
int wf_workflow_load_string(const char *name, const char *text, size_t len, wf_workflow **out,
                            wf_errlist *errs);
void wf_workflow_free(wf_workflow *wf);
/* The workflow's name: its `name`, else the file name without its extension. Borrowed, valid
 * while wf lives. */
const char *wf_workflow_name(const wf_workflow *wf);
/* What loaded but is likely not what the author meant (another tool's template syntax such
 * as GitHub's `${{ inputs.x }}`, which would reach the shell as text): each a wf_error whose
 * message starts with "warning: ", with file:line:col and the source line, sorted. Borrowed,
 * valid while wf lives; empty when there is nothing to say. */
const wf_errlist *wf_workflow_warnings(const wf_workflow *wf);
/* What the workflow holds, for tools (graphs, plans, editors), as a new JSON document (owned
 * by the caller): {"name", "description", "path", "sha256", "inputs": [{"name", "type",
 * "required", "secret", "description", "default" (null when required), "enum": [VALUE...] |
 * null}], "tasks": [{"name", "line", "col", "description",
 * "needs": [NAME...], "with_items": null | {"kind": "list" | "matrix", "count": N | null,
 * "expr": TEXT | null, "pipeline": BOOL, "keys": [KEY...]}, "when": TEXT | null,
 * "run": TEXT | null,
 * "argv": [TEXT...] | null, "action": NAME | null, "uses": PATH | null, "called": null |
 * {the called workflow described the same way}, "executor": "local" | "slurm" | null (a run
 * task's, as the file says)}], "order": [NAME...], "outputs": [NAME...]}.
 * Tasks are in file order; "needs" lists every dependency (explicit and read off templates);
 * "order" is a dependency order; templates are given as written; "line" and "col" are where
 * the task's name is in the file (1-based; 0 when not known). Keys are only ever added.
 * Thread-safe; O(size). */
json_object *wf_workflow_describe(const wf_workflow *wf);
/* The same description part by part, for a tool that walks a big workflow without holding
 * all of it as JSON (`run --dry-run` of 100,000 tasks): wf_workflow_describe_top is the
 * document without "tasks" and "order" (owned; O(inputs + outputs), and the file's size for
 * "sha256"); wf_workflow_task_count is the length of "tasks"; wf_workflow_describe_task(wf, i) is
 * "tasks"[i] (owned; file order; NULL when i >= the count); wf_workflow_task_name(wf, i) its "name"
 * (borrowed, valid while wf lives; NULL out of range); wf_workflow_task_in_order(wf, i) is the file
 * index of the task named by "order"[i] (SIZE_MAX out of range); wf_workflow_describe_inputs is
 * "inputs" (owned; O(inputs): "sha256" hashes the whole file, and a program that only checks
 * its inputs need not). Each gives exactly what wf_workflow_describe holds at that place.
 * Thread-safe. */
json_object *wf_workflow_describe_top(const wf_workflow *wf);
json_object *wf_workflow_describe_inputs(const wf_workflow *wf);
size_t wf_workflow_task_count(const wf_workflow *wf);
json_object *wf_workflow_describe_task(const wf_workflow *wf, size_t i);
const char *wf_workflow_task_name(const wf_workflow *wf, size_t i);
size_t wf_workflow_task_in_order(const wf_workflow *wf, size_t i);

/* Reads a JSON or YAML file (YAML 1.2 core schema, like workflow files; sizes capped as for
 * them) into a value, for wf_run_options.inputs (`wfengine run --inputs FILE`). Returns
 * WF_OK with an owned *out, or WF_EIO (unreadable) or WF_EINVAL (syntax) with every error
 * (file:line:col) appended to errs and *out NULL. Thread-safe. */
int wf_yaml_load_value_file(const char *path, json_object **out, wf_errlist *errs);

/* Reads a site configuration file (`wfengine run` reads $WFENGINE_CONFIG, else
 * $XDG_CONFIG_HOME/wfengine/config.yaml or ~/.config/wfengine/config.yaml): YAML, a map whose
 * only key today is `slurm:`, the site's defaults for every task that runs on Slurm (the keys
 * of a task's `slurm:`, constants only; docs/slurm.md). Returns WF_OK with *slurm that map as
 * JSON (owned; NULL when the file has none), for wf_run_options.slurm_defaults; WF_EIO when
 * the file cannot be read, WF_EINVAL with every error (file:line:col) appended to errs.
 * Thread-safe. */
int wf_site_config_load(const char *path, json_object **slurm, wf_errlist *errs);

/* ---- runs ---------------------------------------------------------------------------- */

/* The life of a unit attempt (a task's, or an item's; attempt counts from 1):
 *   UNIT_QUEUED -> [UNIT_START] -> UNIT_RETRY (a failed attempt; the next one is queued
 *                                  after delay_ms) or UNIT_END (the unit's last attempt)
 * UNIT_QUEUED: the scheduler handed the attempt to its executor; it waits for a free worker
 *   (at most `concurrency` units run at once, and a few hundred more may be queued ahead).
 * UNIT_START: the executor really started it: a worker took it and goes on to evaluate the
 *   item's `when`, render the command and run the process or the action. With concurrency N
 *   at most N units run on workers between UNIT_START and their UNIT_RETRY/UNIT_END, at any
 *   event. On Slurm: the element was submitted (sbatch accepted it); the time it then waits
 *   in Slurm's queue is not reported as an event (the recorded start is when the element was
 *   first seen running). UNIT_QUEUED comes last in this enum because it was added last: a
 *   callback must ignore kinds it does not know.
 * An attempt that ends before it starts (queued before a stop or a task fail-fast; on Slurm,
 * an item whose `when` was false, a template error, or sbatch refusing) has no UNIT_START:
 * its UNIT_RETRY/UNIT_END says started == false. A unit taken from a resumed run has only
 * its UNIT_END (reused; one event per span of such units: n_units). A start is reported on
 * the scheduler thread like every event, so it may reach the callback shortly (up to a couple
 * of milliseconds) after the worker began. */
typedef enum wf_event_kind {
    WF_EVENT_RUN_START,   /* message: the run id */
    WF_EVENT_TASK_START,  /* a with-items task was expanded: n_items */
    WF_EVENT_UNIT_START,  /* a unit attempt started running (see above) */
    WF_EVENT_UNIT_RETRY,  /* a unit attempt failed and will be retried after delay_ms */
    WF_EVENT_UNIT_END,    /* a unit ended for good: status, exit_code, message (error) */
    WF_EVENT_TASK_END,    /* a task ended: status, message (error or skip reason) */
    WF_EVENT_LOG,         /* message: text an action logged (core.echo) */
    WF_EVENT_WARNING,     /* message: something the user should know (an output is null) */
    WF_EVENT_RUN_END,     /* status: the run's */
    WF_EVENT_UNIT_QUEUED, /* a unit attempt was queued for its executor (see above) */
} wf_event_kind;

typedef struct wf_event {
    wf_event_kind kind;
    /* NULL for run events. A task of a workflow called with `uses:` is CALLER/TASK, or
     * CALLER[I]/TASK for item I (a part per level of calls); its events come in this run's
     * stream, and its units run in a pool of its own (so the bound of `concurrency` started
     * units holds per called run, not across them). */
    const char *task;
    int64_t index;       /* item index, or -1 */
    int attempt;         /* 1-based; 0 when not about a unit. TASK_END of a task without
                            with-items: the attempts its unit made (0: it never ran) */
    int max_attempts;    /* attempts allowed (1 + retries) */
    wf_status status;    /* UNIT_END, TASK_END, RUN_END */
    int exit_code;       /* UNIT_END: the process's, or -1 */
    int64_t duration_ms; /* UNIT_END, TASK_END, RUN_END */
    int64_t delay_ms;    /* UNIT_RETRY */
    size_t n_items;      /* TASK_START of a with-items task: its number of units */
    /* Progress: units ended / in the run. The total is known from RUN_START for tasks without
     * items (1 each) and literal item lists; a list read from inputs or results counts 1
     * until its task expands, then its length. A task that ends without units (skipped,
     * cancelled, or failed before expanding) counts 1, ended. */
    size_t units_done, units_total;
    const char *message;     /* borrowed, may be NULL */
    bool cached;             /* UNIT_END: the result came from the cache */
    bool reused;             /* UNIT_END: the result came from the run being resumed */
    const char *stderr_text; /* UNIT_RETRY, UNIT_END of a process: its stderr, or NULL */
    /* UNIT_RETRY, UNIT_END: what the attempt wrote to stdout (an action: its log), or NULL.
     * Like message and stderr_text, the values of secret inputs are replaced by "***". */
    const char *stdout_text;
    /* UNIT_RETRY, UNIT_END: the bytes the attempt wrote to stdout when stdout_text holds only
     * its last 64 KiB (a larger stdout is kept on disk: wfengine logs prints it), else 0. */
    uint64_t stdout_bytes;
    /* UNIT_RETRY, UNIT_END: the attempt had its UNIT_START (false: it ended while queued, or
     * was taken from the resumed run). */
    bool started;
    /* UNIT_END, TASK_END: a failure under continue-on-error (status FAILED): it does not fail
     * the run, and dependents run. Recorded in the store as "ignored". */
    bool ignored;
    /* UNIT_QUEUED, UNIT_START, UNIT_RETRY, UNIT_END of an item: its label, or NULL. The
     * task's `label:` rendered for the item, else the item itself when it is a short scalar
     * (a string of at most 32 bytes, a number, a boolean) unless it is an integer equal to its
     * index (`<< range(n) >>`); NULL when it is neither, for a
     * task without items or with batch-size, and for an item whose `label:` failed (one
     * WF_EVENT_WARNING then names the task and the item). One line of printable text (control
     * bytes are '?'), at most 64 bytes (cut with "..."), secrets masked. Recorded in the
     * store with the unit ("label"). */
    const char *label;
    /* TASK_START of a pipelined task (`pipeline: true`): the task whose results it takes item
     * by item (named as `task` is); NULL otherwise. */
    const char *source;
    /* UNIT_END with reused: the units it stands for, index .. index + n_units - 1. A resumed
     * with-items task tells each span of consecutive items it takes from the resumed run with
     * one event (no label; attempt 0), not one per item, so that taking 10,000,000 units
     * costs a few events; a task without items, or an item a pipeline takes, has its own
     * (n_units 1). 0 in every other event, which is about one unit (or none). */
    size_t n_units;
} wf_event;

/* Called on the run's scheduler thread, one event at a time. Must not block for long: the
 * run waits while it runs. The event and its strings are valid during the call only. */
typedef void (*wf_event_fn)(const wf_event *ev, void *user);

typedef struct wf_run_options {
    /* Inputs by name: typed values (from_strings false) or strings to convert to the declared
     * types (from_strings true, as `-i name=value`). Borrowed; NULL: none. */
    const json_object *inputs;
    bool inputs_from_strings;
    int concurrency;    /* units at once; 0: the workflow's `concurrency`, else the CPU count */
    bool fail_fast;     /* force workflow fail-fast on */
    const char *run_id; /* NULL: a new id (time and random) */
    /* Where to record the run (NULL: nowhere). Borrowed: it must stay open until the run
     * has been freed. With a store: every attempt of every unit, its output and result are
     * recorded; `cache:` tasks reuse stored results; and resume_run can be set. */
    wf_store *store;
    /* With a store: the id of an earlier run of this workflow to resume. Units whose latest
     * attempt succeeded there (and, for items, whose item is unchanged) are taken from it
     * instead of running; everything else runs, and so does every task that depends (needs,
     * task.X, a status function, its item list) on a task of which a unit ran, transitively
     * (docs/store.md, "Resume"). NULL: a fresh run. */
    const char *resume_run;
    bool no_cache; /* ignore cache hits (results are still stored for later runs) */
    /* Run every `run` task on Slurm (as `--executor slurm`), not only those that say
     * `executor: slurm`. Actions always run in process. */
    bool slurm_all;
    /* Run every task locally (as `--executor local`), also those that say `executor:
     * slurm`; their `slurm:` options are then ignored. Wins over slurm_all. */
    bool local_all;
    /* The site's Slurm defaults (wf_site_config_load), under the workflow's top-level
     * `slurm:` and each task's own (which win, key by key). Borrowed; NULL: none. */
    const json_object *slurm_defaults;
    /* Where Slurm job files go (must be visible to the compute nodes). NULL: under the
     * store's directory (slurm/RUN_ID), else .wfengine-slurm/RUN_ID in the current one. */
    const char *slurm_dir;
    /* Keep the Slurm job files (each element's command, environment and output, 0600) after
     * the run instead of deleting them as elements end, for debugging (`--keep-job-files`).
     * They may hold secrets in clear. */
    bool slurm_keep_files;
    wf_event_fn on_event;
    void *user;
    /* dotenv files read when the run starts (`--env-file`), after the workflow's own
     * `env-file` and before its `env`: NULL-terminated paths (relative to the current
     * directory), borrowed; NULL: none. A file that cannot be read or has a malformed line is
     * an error (file:line:col) and nothing starts. */
    const char *const *env_files;
    /* Targets (`wfengine run FILE TASK...`): the names of the tasks to run (borrowed; NULL or
     * n_targets 0: every task). The run then holds exactly these tasks and those they depend
     * on, transitively (needs, task.X, status functions); the others are left out: they do
     * not run, send no events, are not recorded and are absent from the result document's
     * "tasks", and an output that reads one is null (with a WARNING event, as for any output
     * that cannot be evaluated). An unknown name makes wf_run_start fail with WF_EINVAL. */
    const char *const *targets;
    size_t n_targets;
    /* With targets and resume_run (`--only TASK`): the targets run again, and every task
     * they depend on is taken from the resumed run instead of running. A dependency of
     * which nothing succeeded there makes wf_run_start fail with WF_EINVAL (errs says which);
     * items of it that did not succeed there run. */
    bool targets_only;
    /* Bytes of results the run keeps in memory (`--memory`): large results (stdout over
     * 64 KiB) are kept on disk and loaded through a cache of this size; a value that must be
     * loaded whole and is larger fails what needs it. 0: the workflow's `memory:`, else
     * 256 MiB. */
    uint64_t memory;
    /* The default `max-output` of tasks without their own (`--max-output`), winning over the
     * workflow's top-level one. 0: the workflow's, else the engine's stdout_cap. */
    uint64_t max_output;
} wf_run_options;

/* Binds the inputs, computes vars and env, and starts the run on its own threads. On a bad
 * input (missing, wrong type, not in enum, unknown name) or an unknown action, returns
 * WF_EINVAL with every problem appended to errs and nothing started. WF_ESTORE when the store
 * cannot be read for --resume, or the spill directory for large outputs cannot be made under
 * $TMPDIR (errs says which). */
int wf_run_start(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, wf_run **out,
                 wf_errlist *errs);
/* What a dry run can know before anything runs (`wfengine run --dry-run`): binds opts'
 * inputs as wf_run_start does (a bad or missing input: WF_EINVAL with every problem appended
 * to errs) and evaluates, per task, what reads only inputs, env and vars: a with-items
 * task's item list (a matrix: its combinations), and a task without items' `when` and
 * rendered `run` command. Returns WF_OK with an owned *out = {"tasks": {NAME: {"items":
 * [...], "when": BOOL, "run": TEXT}}}, where "items" of `<< range(...) >>` and
 * `<< file_lines(...) >>` holds only the first 20 items and then "items_total" is the
 * number of items (the list is never built); a key is absent when it reads a task's result
 * (known only when the run gets there) or the task has no such thing; secret inputs masked
 * as ***. Runs nothing and records nothing (opts' store, targets and callbacks are unused).
 * Thread-safe. */
int wf_run_plan(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, json_object **out,
                wf_errlist *errs);
/* The same plan task by task (a dry run of 100,000 tasks holds one task's plan at a time):
 * wf_plan_open binds the inputs as wf_run_plan does (same errors, *out NULL on failure);
 * wf_plan_task(p, i) is what wf_run_plan's "tasks" holds for the task of file index i
 * (owned; NULL when i is out of range); wf_plan_free frees (NULL is fine). A wf_plan is used
 * from one thread at a time and must not outlive wf. */
typedef struct wf_plan wf_plan;
int wf_plan_open(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, wf_plan **out,
                 wf_errlist *errs);
json_object *wf_plan_task(wf_plan *p, size_t i);
void wf_plan_free(wf_plan *p);
/* Waits until the run has ended and returns its status: WF_STATUS_SUCCEEDED, FAILED or
 * CANCELLED. Call it once, from one thread. */
wf_status wf_run_wait(wf_run *r);
/* After wf_run_wait: true when the run was stopped because it could not write to disk: its
 * store failed (a write error, a full disk), or a file it keeps results in outside the store
 * could not be written (the spill directory with --no-store, a large fan-out's results file);
 * err (may be NULL) receives that error, which names the path, the cause and what to do. The
 * run ended failed; the CLI exits with 3. */
bool wf_run_store_failed(const wf_run *r, wf_error *err);
/* Asks the run to stop: nothing new starts, running processes get SIGTERM then SIGKILL,
 * running units and everything not started end as cancelled. Returns at once. Thread-safe;
 * calling it again is harmless. */
void wf_run_cancel(wf_run *r);
/* The run's id (borrowed, valid while r lives). */
const char *wf_run_id(const wf_run *r);
/* After wf_run_wait: the result document (owned by the caller): {"run_id", "workflow",
 * "status", "duration_ms", "tasks": {NAME: {"status", "attempts", "exit_code", "duration_ms",
 * "error", "result", "items": [...]}}, "outputs": {...}, "results_memory": {"budget", "peak",
 * "loads", "evictions"}}. docs/cli.md describes it. A large result in it (stdout over
 * 64 KiB) is a json-c string whose serializer prints the value: print the document with
 * json_object_to_json_string*, or read such a value through wf_json_copy (wf_context.h),
 * before wf_run_free (which removes a --no-store run's files: a value read later is null). */
json_object *wf_run_result_json(const wf_run *r);
/* After wf_run_wait: the workflow outputs (borrowed, read-only; an object). */
const json_object *wf_run_outputs(const wf_run *r);
/* After wf_run_wait: the workflow outputs as wf_run_result_json gives them (secrets masked;
 * owned by the caller), without building the rest of the document (whose size grows with
 * the items of the run). */
json_object *wf_run_outputs_json(const wf_run *r);
/* Frees a run that has been waited for. NULL is fine. */
void wf_run_free(wf_run *r);

/* ---- resuming a run ------------------------------------------------------------------ */

/* What a new attempt of a recorded run starts with (wf_resume_prepare). */
typedef struct wf_resume {
    /* The full id of the run to resume: set wf_run_options.resume_run to it. */
    char run_id[64];
    /* The inputs to run with (set wf_run_options.inputs and inputs_from_strings to these):
     * the recorded run's, minus its secrets (never stored: they must be given again) and
     * minus inputs the workflow no longer declares, with the given ones on top. Owned. */
    json_object *inputs;
    bool inputs_from_strings;
    /* What did not fit; both are filled whenever the run could be read, also on failure. */
    bool other_workflow; /* the run is of a workflow with another name */
    bool file_changed;   /* the workflow's file (its sha256) is not the run's */
    /* With force and file_changed: "FILE has changed since run ID (sha256 OLD... then,
     * NEW... now)", for the user; else NULL. Owned. */
    char *warning;
} wf_resume;

/* Prepares a new attempt of a recorded run, as `wfengine run --resume RUN` does: finds run
 * in store ("last" for the newest run, a run id, or a unique prefix of one), checks that it
 * is a run of wf (the same workflow name, the same file bytes), and merges its inputs with
 * the given ones (borrowed; NULL: none; from_strings as in wf_run_options). Then start the
 * run with opts.store = store, opts.resume_run = out->run_id, opts.inputs = out->inputs,
 * opts.inputs_from_strings = out->inputs_from_strings.
 * Returns WF_OK with *out filled (release it with wf_resume_release). Fails, with err set
 * and out holding no resources, with the store's error (WF_ENOENT: no such run, or no runs
 * for "last"; WF_EINVAL: an ambiguous prefix; WF_ESTORE) or with WF_EINVAL when the run does
 * not fit wf and force is false: err says why ("run ID is of workflow 'A', not 'B' (FILE)",
 * or "FILE has changed since run ID (sha256 OLD... then, NEW... now)"), and
 * out->other_workflow / out->file_changed say which. With force a run that does not fit is
 * resumed anyway (out->warning says what changed). FILE is the path wf was loaded from.
 * Thread-safety: that of the store (one thread at a time per wf_store); wf is only read. */
int wf_resume_prepare(wf_store *store, const char *run, const wf_workflow *wf,
                      const json_object *inputs, bool inputs_from_strings, bool force,
                      wf_resume *out, wf_error *err);
/* Frees what out holds and empties it. Calling it again is harmless. */
void wf_resume_release(wf_resume *r);

#endif
