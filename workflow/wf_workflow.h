/*
 * wf_workflow.h: the workflow model, the YAML loader that builds it, input binding and matrix
 * expansion: the one header of workflow/, for the engine that runs a model, the CLI and the
 * tests. It names nothing of a run. (Not installed: embedders use include/wfengine.h, which
 * declares wf_workflow opaque, with the load, free and describe functions defined here.)
 *
 * A wf_workflow is immutable once loaded: every template is compiled, task defaults are folded
 * into each task, and the dependency graph (deps and dependents, as task indices) is built and
 * checked for unknown names and cycles. Any number of runs may share one wf_workflow, from any
 * thread, as long as it outlives them.
 *
 * Errors: loading collects every error of the file into a wf_errlist (each with the file name,
 * 1-based line and column, the source line and a message that says what would be right), in
 * file order, and returns WF_EINVAL if there were any. Nothing is half-loaded: on failure *out
 * is NULL.
 */
#ifndef WF_WORKFLOW_H
#define WF_WORKFLOW_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"
#include "wf_template.h"

typedef struct wf_mark {
    int line, column; /* 1-based position in the workflow file; 0 if unknown */
} wf_mark;

/* ---- value trees: YAML values whose strings may be templates ------------------------ */

typedef enum wf_vnode_kind {
    WF_VNODE_CONST,    /* a value with no template inside: `constant` (NULL is null) */
    WF_VNODE_TEMPLATE, /* a string with << >>: `tpl` */
    WF_VNODE_LIST,     /* children[0..n) */
    WF_VNODE_MAP,      /* keys[i] -> children[i], in file order */
} wf_vnode_kind;

typedef struct wf_vnode {
    wf_vnode_kind kind;
    wf_mark mark;
    json_object *constant; /* CONST: owned, read-only */
    wf_tpl *tpl;           /* TEMPLATE: owned */
    size_t n;
    char **keys;                /* MAP: owned */
    struct wf_vnode **children; /* LIST and MAP: owned */
} wf_vnode;

/* Evaluates the tree against ctx into a fresh json value (owned, NULL for null; shares
 * nothing with the tree or ctx). On failure returns the template's error code with err set
 * (position inside the template; the caller adds task and item). Thread-safe. */
int wf_vnode_eval(const wf_vnode *n, const wf_ctx *ctx, json_object **out, wf_error *err);
/* The same, lending rather than copying what the tree or ctx already holds (a constant, or
 * a template that only looks a value up): see wf_tpl_eval_borrow for what *value and *owned
 * receive and the rules for a lent value. */
int wf_vnode_eval_borrow(const wf_vnode *n, const wf_ctx *ctx, const json_object **value,
                         json_object **owned, wf_error *err);
void wf_vnode_free(wf_vnode *n);

/* ---- the model ---------------------------------------------------------------------- */

typedef enum wf_input_type {
    WF_INPUT_ANY = 0,
    WF_INPUT_STRING,
    WF_INPUT_INTEGER,
    WF_INPUT_NUMBER,
    WF_INPUT_BOOLEAN,
    WF_INPUT_ARRAY,
    WF_INPUT_OBJECT,
} wf_input_type;

typedef struct wf_input_spec {
    char *name;
    wf_mark mark;
    wf_input_type type;
    bool has_default;
    json_object *default_value; /* owned; may be NULL (null) even when has_default */
    /* A default written as a template (`default: << env.DEPLOY_ENV ?? "dev" >>`): evaluated
     * against the environment when the inputs are bound; it reads only env. NULL otherwise. */
    wf_tpl *default_tpl;
    bool secret;
    json_object *enum_values; /* owned list, or NULL */
    char *description;        /* may be NULL */
} wf_input_spec;

typedef enum wf_backoff {
    WF_BACKOFF_CONSTANT = 0,
    WF_BACKOFF_LINEAR,
    WF_BACKOFF_EXPONENTIAL,
} wf_backoff;

typedef struct wf_retry {
    int count;            /* extra attempts after the first; 0 = no retry */
    wf_backoff backoff;   /* constant: delay; linear: delay*k; exponential: delay*2^(k-1) */
    int64_t delay_ms;     /* delay before the first retry */
    int64_t max_delay_ms; /* cap on the delay; 0 = no cap */
} wf_retry;

typedef struct wf_named_tpl {
    char *name;
    wf_mark mark;
    wf_tpl *tpl; /* owned */
} wf_named_tpl;

typedef struct wf_named_vnode {
    char *name;
    wf_mark mark;
    wf_vnode *value; /* owned */
} wf_named_vnode;

typedef enum wf_items_kind { WF_ITEMS_NONE = 0, WF_ITEMS_LIST, WF_ITEMS_MATRIX } wf_items_kind;

typedef enum wf_executor_kind { WF_EXECUTOR_LOCAL = 0, WF_EXECUTOR_SLURM } wf_executor_kind;

typedef struct wf_workflow wf_workflow;

/* What a task rarely sets, kept out of line so that a task that sets none of it (most tasks of
 * a big generated workflow) pays one pointer for it (wf_task.extra). */
typedef struct wf_task_extra {
    /* uses: another workflow file run as this task (once per item), its result the called
     * workflow's outputs object. The file is loaded, checked and owned with this workflow. */
    char *uses;          /* the path as written (relative to this workflow's file) */
    wf_workflow *called; /* owned */
    wf_vnode *with;      /* the called workflow's inputs: a map (templates allowed), or NULL */

    /* with-items as a matrix (items_kind WF_ITEMS_MATRIX) */
    wf_named_vnode *matrix; /* key -> list value, in file order */
    size_t n_matrix;
    wf_vnode *matrix_include; /* list of objects, or NULL */
    wf_vnode *matrix_exclude; /* list of objects, or NULL */

    /* concurrency / batch-size / cpus written as a template (then the task's int is 0):
     * evaluated when the task starts, to an integer >= 1. NULL when written as a number. */
    wf_tpl *concurrency_tpl, *batch_size_tpl, *cpus_tpl;
    /* continue-on-error written as a template (`<< item.experimental >>`): evaluated for
     * each unit that fails, in its item's context; NULL when written as a boolean. */
    wf_tpl *continue_on_error_tpl;

    /* cache: as a map (the task's `cache` flag says whether it is cached at all) */
    wf_tpl *cache_key;    /* or NULL */
    char **cache_sources; /* globs */
    size_t n_cache_sources;
    char **cache_generates; /* globs inside the workdir: files stored with the entry */
    size_t n_cache_generates;
} wf_task_extra;

/* One task (the fields of 4 bytes or less are paired so that a 100,000-task workflow holds
 * little padding; what few tasks set is in extra). */
typedef struct wf_task {
    char *name;
    wf_mark mark; /* of the task's key */
    size_t index; /* position in the file (display order) */
    char *description;

    /* What it does: exactly one of run (string), run_argv (list), action and uses. */
    wf_tpl *run;       /* compiled with WF_TPL_SHELL */
    wf_tpl **run_argv; /* each element one argument, not quoted, not split */
    size_t run_argc;
    char *action;     /* "core.echo", "ns.name" */
    wf_vnode *input;  /* the action's input map, or NULL */
    wf_mark run_mark; /* of the run/action/uses value */

    /* with-items */
    wf_items_kind items_kind;
    bool fail_fast;
    /* `pipeline: true`: the items are another with-items task's results taken one by one
     * (`with-items: << task.S >>`): item i starts once item i of S succeeded. pipe_source is
     * S's index (validate.c), pipe_depth the number of pipelined links from the chain's first
     * task (0 for a task that is not pipelined). */
    bool pipeline;
    wf_vnode *items; /* LIST: a literal list (may hold templates) or one template */
    wf_mark items_mark;
    int concurrency; /* items of this task at once; 0 = only the global limit */
    int batch_size;  /* 0 = no batching */
    /* `label:` (WF_TPL_CSTRING, reads item), or NULL: names each item in progress, show,
     * logs, JUnit, GitHub and the report. Only with with-items, never with batch-size. */
    wf_tpl *label;
    size_t pipe_source;
    size_t pipe_depth;

    /* Conditions and error handling */
    wf_tpl *when; /* WF_TPL_EXPR, or NULL */
    wf_retry retry;
    int64_t timeout_ms; /* per attempt; 0 = none */
    /* `max-output`: bytes of stdout a unit may write (on disk); more fails it. 0: the run's
     * default (--max-output, the top-level max-output, the engine's stdout_cap). */
    uint64_t max_output;

    /* Process settings (run tasks). Defaults are already folded in. */
    wf_output_mode output;
    bool when_uses_status; /* when calls always()/status()/failed()/...: it alone decides */
    bool continue_on_error;
    bool cache;        /* cache: (used by the store) */
    wf_named_tpl *env; /* task env (after workflow defaults.env), in file order */
    size_t n_env;
    wf_tpl *workdir; /* or NULL */
    wf_tpl *shell;   /* or NULL: /bin/sh -c */

    wf_named_tpl *publish; /* var -> template, evaluated after success */
    size_t n_publish;

    char **env_files; /* the task's env-file paths (resolved as the workflow's); may be NULL */

    /* cpus: how many of the local pool's workers (-j) each unit counts for; 0: not given
     * (it counts 1). On Slurm it is --cpus-per-task unless slurm.cpus says. written as a
     * template: extra->cpus_tpl (then cpus is 0). */
    int cpus;
    wf_executor_kind executor;

    wf_vnode *slurm; /* the task's own slurm options map, or NULL */

    /* The graph: indices into wf_workflow.tasks, sorted, no duplicates. */
    size_t *deps;
    size_t n_deps;
    size_t *dependents;
    size_t n_dependents;

    /* What few tasks set (uses, matrix, cache, templated counts): NULL when none is; read it
     * through wf_task_extra_of. */
    wf_task_extra *extra;
} wf_task;

/* The extra of a task, or a shared one with every field NULL or 0 when it has none. Borrowed,
 * valid while the workflow lives. */
extern const wf_task_extra wf__task_extra_none; /* loader.c: all NULL and 0 */
static inline const wf_task_extra *wf_task_extra_of(const wf_task *t)
{
    return t->extra != NULL ? t->extra : &wf__task_extra_none;
}

typedef struct wf_workflow {
    char *path;        /* as given; "<string>" for a string */
    char *name;        /* `name`, or the file name without extension */
    char *description; /* may be NULL */
    char *source;      /* the file's text (owned), for error carets */
    size_t source_len; /* wf_workflow_sha256_hex hashes source[0..source_len) */

    wf_input_spec *inputs;
    size_t n_inputs;
    wf_named_vnode *vars; /* in file order: each may read inputs, env and earlier vars */
    size_t n_vars;
    wf_named_tpl *env; /* workflow env, in file order */
    size_t n_env;
    int concurrency; /* 0 = the number of CPUs */
    bool fail_fast;
    int64_t timeout_ms; /* the whole run's time limit (top-level `timeout`); 0: none */
    /* `memory`: bytes of results the run keeps in memory (the result cache); 0: the default
     * (wf_run_options.memory wins). */
    uint64_t memory;
    /* `max-output`: the default of the tasks' max-output; 0: the engine's. */
    uint64_t max_output;
    /* The top-level `slurm:` map: defaults for every task that runs on Slurm (a task's own
     * keys win, key by key); its templates read inputs, env and vars only. NULL: none. */
    wf_vnode *slurm;
    /* env-file: dotenv files read when the run starts, paths resolved against the workflow
     * file's directory; NULL-terminated (NULL: none). */
    char **env_files;

    wf_task *tasks; /* in file order */
    size_t n_tasks;
    size_t *topo_order; /* task indices in a dependency order (for display and checks) */
    /* wf_workflow_task_index's index (internal, built by validation): an open-addressing
     * table of task index + 1 by name (name_mask + 1 slots, 0 empty); by_name, the task
     * indices sorted by name, only when two tasks have the same name as a C string (a key
     * cut short by a NUL byte: an error), for the binary search that decided those before. */
    uint32_t *name_slots;
    size_t name_mask;
    size_t *by_name;

    wf_named_vnode *outputs;
    size_t n_outputs;
    /* What loads but is likely a mistake (another tool's template syntax), each
     * "warning: ..." at its place; sorted. */
    wf_errlist warnings;
} wf_workflow;

/* Reads a dotenv file (NAME=VALUE lines, `export ` allowed, # comments, '...' literal and
 * "..." with \n \t \r \\ \" \$ escapes; nothing expanded) into into (later names win).
 * Returns WF_OK, WF_EIO (unreadable, one error), or WF_EINVAL with an error per bad line
 * (file:line:col, source line for the caret). Thread-safe. */
int wf_dotenv_read(const char *path, json_object *into, wf_errlist *errs);

/* The keys of a `slurm:` map (a task's, the workflow's top-level one, the site
 * configuration's), NULL-terminated. `memory` is another spelling of `mem`. */
extern const char *const wf_slurm_keys[];
/* What is wrong with the value v of `slurm.KEY` (a constant of the file, or what a template
 * rendered), or NULL when sbatch can take it: partition, account, qos and constraint are
 * strings; time a string ("01:30:00") or minutes >= 0; cpus an integer >= 1; gpus an
 * integer >= 1 or a string ("a100:2"); mem/memory a string ("4G") or megabytes >= 1; extra
 * a list of strings. A string (but extra's) must not be empty, start with '-' (sbatch would
 * read an option) or hold a control character such as a newline. The message is owned and
 * names the key ("'slurm.qos' is empty: ..."). Thread-safe. */
char *wf_slurm_value_problem(const char *key, const json_object *v);
/* Reads the site configuration file (see wfengine.h). */
int wf_site_config_load(const char *path, json_object **slurm, wf_errlist *errs);

/* Loads and validates a workflow file. See the header comment for errors; also WF_EIO (one
 * error naming the path and the cause) when the file cannot be read. The files its tasks
 * name in `uses:` are loaded with it (relative to its directory), recursively: their errors
 * come after the caller's, at their own file:line:col, each ending with "(via uses: at
 * FILE:LINE:COL, ...)"; a file that calls itself through others is an error naming the
 * chain, and at most WF_MAX_CALLED_FILES files are loaded under one workflow. */
int wf_workflow_load_file(const char *path, wf_workflow **out, wf_errlist *errs);
/* The same for text in memory; name is used in error messages and as the default name. */
int wf_workflow_load_string(const char *name, const char *text, size_t len, wf_workflow **out,
                            wf_errlist *errs);
void wf_workflow_free(wf_workflow *wf);
/* The SHA-256 of the file's bytes, in lowercase hex, into out. Computed at each call, not at
 * load: a run leaves it to the store's writer thread (B8). Thread-safe. */
void wf_workflow_sha256_hex(const wf_workflow *wf, char out[WF_SHA256_HEX_LEN + 1]);

/* Index of the task called name, or -1. */
long wf_workflow_task_index(const wf_workflow *wf, const char *name);

/* Binds inputs: given is an object of name -> value (NULL: none). With from_strings, string
 * values are converted to the declared type (`-i n=3` is 3 for type integer; array/object
 * parse JSON; boolean takes true/false). Defaults fill what is not given; unknown names,
 * missing required inputs, values of the wrong type and values outside `enum` are errors
 * (one per input, naming it). On success *out is a new object (owned). */
int wf_workflow_bind_inputs(const wf_workflow *wf, const json_object *given, bool from_strings,
                            json_object **out, wf_errlist *errs);

/* A task's matrix (items_kind WF_ITEMS_MATRIX) read one combination at a time: the cartesian
 * product of the axes (each evaluated against ctx, first key outermost, the last axis changing
 * fastest), minus the combinations that match an `exclude` entry, then the `include` entries
 * by GitHub Actions' rules (each entry's keys are added to every remaining combination whose
 * matrix values it does not contradict; one that fits none is a combination of its own,
 * after the others). Internal to wfengine (hence wf__): the run and the dry run use it.
 *
 * wf__matrix_open evaluates the axes, exclude and include into *out (owned: wf__matrix_free;
 * it shares nothing with task or ctx, but task must outlive it). Memory: the evaluated lists,
 * plus, with exclude, 1.5 bits per combination of the product; never a list of the
 * combinations. With exclude or include it walks the product once (O(combinations x (exclude
 * + include entries)), no allocation per combination). On failure *out is NULL and err is
 * set: the template's code when an axis, exclude or include fails to evaluate, WF_ETYPE when
 * one is not a list, WF_ERANGE when the product plus include is over WF_MAX_ITEMS (checked
 * before the walk). */
typedef struct wf_matrix wf_matrix;
int wf__matrix_open(const wf_task *task, const wf_ctx *ctx, wf_matrix **out, wf_error *err);
/* How many combinations (items) m has. */
size_t wf__matrix_count(const wf_matrix *m);
/* Combination i (< wf__matrix_count) as a new value (owned). O(axes + include entries), plus
 * O(log combinations) with exclude. Thread-safe: m is only read. */
json_object *wf__matrix_get(const wf_matrix *m, size_t i);
void wf__matrix_free(wf_matrix *m);
/* All of m's combinations as one list (*out owned; NULL on failure, with err as for
 * wf__matrix_open). For tests and small matrices: the run reads them one at a time. */
int wf__matrix_expand(const wf_task *task, const wf_ctx *ctx, json_object **out, wf_error *err);

#endif
