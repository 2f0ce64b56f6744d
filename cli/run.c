/* wfengine run FILE: run a workflow, print progress on stderr and results on stdout. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_store.h"

#include "cli.h"

static const char help[] =
    "usage: wfengine run FILE [TASK]... [--only TASK]... [-i NAME=VALUE]...\n"
    "                    [--inputs FILE.json|yaml] [--env-file FILE]... [-j N]\n"
    "                    [--fail-fast] [--dry-run] [--json] [-q|-v]\n"
    "                    [--store DIR | --no-store] [--resume RUN|last [--force]] [--no-cache]\n"
    "                    [--executor local|slurm] [--keep-job-files]\n"
    "                    [--memory SIZE] [--max-output SIZE]\n"
    "                    [--junit FILE] [--progress auto|tty|plain|none]\n"
    "\n"
    "Runs the workflow in FILE, or with TASK... those tasks and the tasks they need (the\n"
    "others are left out; wfengine list FILE shows the tasks). Progress goes to stderr\n"
    "(docs/cli.md); the workflow's outputs go to stdout, or with --json the result document\n"
    "(run_id, status, tasks, outputs), for a failed run too.\n"
    "The run is recorded in the store (.wfengine/ in the current directory): see wfengine\n"
    "runs, show, logs and gc.\n"
    "\n"
    "Options:\n"
    "  --only TASK             run just TASK (again), taking the results of the tasks it\n"
    "                          needs from the last run in the store\n"
    "  -i, --input NAME=VALUE  set an input (converted to its declared type)\n"
    "  --inputs FILE           read inputs from a JSON or YAML object (-i wins over it)\n"
    "  --env-file FILE         read NAME=VALUE lines (dotenv) into the run's environment,\n"
    "                          after the workflow's env-file, before its env (repeatable)\n"
    "  -j, --jobs N            run at most N units at once (default: the workflow's\n"
    "                          `concurrency`, else the number of CPUs)\n"
    "  --fail-fast             on the first failure start nothing new and stop what runs\n"
    "  --dry-run               check the inputs and print the plan (item lists, when and\n"
    "                          commands that read only inputs, evaluated); run nothing,\n"
    "                          record nothing\n"
    "  --json                  print the result document on stdout\n"
    "  -q, --quiet             print only failures, the summary and the recap\n"
    "  -v, --verbose           fold nothing (a line per item), print when each unit starts,\n"
    "                          and the output of failures in full\n"
    "  --store DIR             record the run in DIR (default: $WFENGINE_STORE, else .wfengine)\n"
    "  --no-store              record nothing (no resume, no cache)\n"
    "  --resume RUN|last       a new attempt of an earlier run: what succeeded there is taken\n"
    "                          from the store, everything else runs (same inputs, except\n"
    "                          secrets, which must be given again; -i overrides)\n"
    "  --force                 resume even though the workflow file has changed\n"
    "  --no-cache              run `cache:` tasks even when the store has their result\n"
    "  --executor local|slurm  where `run` tasks run: slurm sends every one to the Slurm\n"
    "                          cluster (docs/slurm.md); local runs every one here, slurm:\n"
    "                          options ignored; default: as each task says\n"
    "  --keep-job-files        keep the Slurm job files (commands, environments, outputs;\n"
    "                          they may hold secrets) after the run, for debugging\n"
    "  --memory SIZE           RAM for results kept on disk (default 256MiB, memory:)\n"
    "  --max-output SIZE       stdout a unit may write (default 1GiB, max-output:)\n"
    "  --junit FILE            write a JUnit XML report: one testcase per task or item\n"
    "  --progress MODE         auto (default): a live display on a terminal, else plain;\n"
    "                          tty; plain: event lines, a fan-out's successes counted every\n"
    "                          tenth of its items or 5 s; none: only warnings.\n"
    "                          With GITHUB_ACTIONS=true: ::group:: and ::error lines too\n"
    "\n";
/* The rest of the help (one string literal may hold at most 4095 bytes in C99). */
static const char help_end[] =
    "Exit status: 0 success, 1 the workflow failed, 2 usage or validation error (nothing ran),\n"
    "3 the store cannot be used, 4 out of memory, 130 stopped by SIGINT, SIGTERM or SIGHUP\n"
    "(running children and what they started were ended; resume with --resume last).\n"
    "\n"
    "Examples:\n"
    "  wfengine run workflows/hello.yaml\n"
    "  wfengine run workflows/matrix-build.yaml build\n"
    "  wfengine run workflows/matrix-build.yaml --only package\n"
    "  wfengine run workflows/health-check.yaml -i region=eu-west-1 -j 4 --json\n"
    "  wfengine run workflows/failure-handling.yaml --resume last\n"
    "  wfengine run workflows/matrix-build.yaml --junit report.xml --progress plain\n";

typedef struct signal_watch signal_watch;

typedef struct run_cli {
    const char *file;
    json_object *inputs;      /* name -> string from -i */
    json_object *file_inputs; /* typed, from --inputs (NULL: none) */
    const char **targets;     /* TASK... then --only TASK... (owned array, borrowed names) */
    size_t n_targets;
    bool only;           /* the targets came from --only */
    size_t n_positional; /* how many came as TASK... */
    int jobs;
    bool fail_fast, dry_run, json, quiet, verbose;
    bool no_store, force, no_cache, keep_job_files;
    uint64_t memory, max_output; /* --memory, --max-output; 0: not given */
    bool slurm, local;           /* --executor slurm, --executor local */
    const char *store_dir;       /* --store, else WFENGINE_STORE, else .wfengine */
    const char *resume;          /* --resume RUN|last */
    int64_t start_ms;
    const char *junit_path;    /* --junit */
    const char *env_files[17]; /* --env-file (at most 16), NULL-terminated */
    size_t n_env_files;
    int progress_mode;         /* --progress: a wf_cli_progress_mode */
    wf_cli_progress *progress; /* progress.c: where the events' lines go */
    wf_cli_lines *lines;       /* run_lines.c: what the events print */
    wf_cli_junit *junit;       /* junit.c: the report, when --junit */
    signal_watch *watch;       /* told when the run has ended */
} run_cli;

/* ---- signals --------------------------------------------------------------------------- */

/* SIGINT, SIGTERM and SIGHUP are blocked in every thread, and the main thread, which has
 * nothing else to do while the run goes on, waits for them with the run's end (SIGUSR1, sent
 * to it alone once RUN_END has been printed) and asks the run to stop: wf_run_cancel is not
 * async-signal-safe, so no handler calls it, and no thread is started for this (a thread is
 * a tenth of a millisecond of a one-task run: B8). SIGHUP (the terminal or the ssh
 * connection closed) is a stop like the others: left at its default it would kill us with
 * the units still running and the run recorded as running. */
struct signal_watch {
    pthread_t main;            /* the thread that waits */
    atomic_bool ended;         /* RUN_END came: a SIGUSR1 from elsewhere is not the end */
    wf_cli_progress *progress; /* the message goes above the live display, never through it */
    sigset_t set;
    int got; /* the first stop signal, or 0 */
};

/* Waits for the run's end, asking it to stop at the first stop signal (the later ones change
 * nothing: the run is already stopping). */
static void wait_for_end(signal_watch *w, wf_run *run)
{
    for (;;) {
        int sig = sigwaitinfo(&w->set, NULL);

        if (sig < 0)
            continue; /* EINTR: a stop signal is blocked, so something else (a debugger) */
        if (sig == SIGUSR1) {
            if (atomic_load(&w->ended))
                return;
            continue;
        }
        if (w->got != 0)
            continue;
        w->got = sig;
        wf_cli_progress_note(w->progress,
                             sig == SIGINT   ? "wfengine: interrupted: stopping (ending running "
                                               "tasks)\n"
                             : sig == SIGHUP ? "wfengine: hangup: stopping (ending running tasks)\n"
                                             : "wfengine: terminated: stopping (ending running "
                                               "tasks)\n");
        wf_run_cancel(run);
    }
}

/* ---- progress -------------------------------------------------------------------------- */

static void on_event(const wf_event *ev, void *user)
{
    run_cli *cli = user;
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_cli_progress_event(cli->progress, ev);
    if (cli->junit != NULL)
        wf_cli_junit_event(cli->junit, ev);
    wf_cli_lines_event(cli->lines, ev, &sb);
    if (sb.len > 0)
        wf_cli_progress_print(cli->progress, ev, wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
    /* The run's last event (a called workflow's RUN_END never reaches this callback). */
    if (ev->kind == WF_EVENT_RUN_END && cli->watch != NULL) {
        atomic_store(&cli->watch->ended, true);
        pthread_kill(cli->watch->main, SIGUSR1);
    }
}

/* ---- inputs ---------------------------------------------------------------------------- */

static int add_input(run_cli *cli, const char *arg)
{
    const char *eq = strchr(arg, '=');
    char *name;

    if (eq == NULL || eq == arg) {
        wf_cli_errorf("run: -i takes NAME=VALUE (got '%s')", arg);
        return WF_EINVAL;
    }
    name = wf_xstrndup(arg, (size_t)(eq - arg));
    json_object_object_add(cli->inputs, name, json_object_new_string(eq + 1));
    free(name);
    return WF_OK;
}

static int read_inputs_file(run_cli *cli, const char *path)
{
    json_object *obj = NULL;
    wf_errlist errs;

    if (cli->file_inputs != NULL) {
        wf_cli_errorf("run: --inputs once (put every input in one file; -i adds to it)");
        return WF_EINVAL;
    }
    wf_errlist_init(&errs);
    if (wf_yaml_load_value_file(path, &obj, &errs) != WF_OK) {
        wf_cli_print_errors(&errs);
        wf_errlist_release(&errs);
        return WF_EINVAL;
    }
    wf_errlist_release(&errs);
    if (!json_object_is_type(obj, json_type_object)) {
        wf_cli_errorf("run: --inputs %s: expected an object of input names to values, got %s", path,
                      wf_json_type_name(obj));
        json_object_put(obj);
        return WF_EINVAL;
    }
    cli->file_inputs = obj;
    return WF_OK;
}

/* The inputs to run with: those of --inputs (typed), with -i on top. Without -i they stay
 * typed; with -i the whole object is "from strings", which converts only the strings (a
 * typed value from the file is kept as it is). *from_strings says which. Owned. */
static json_object *merged_inputs(const run_cli *cli, bool *from_strings)
{
    json_object *all;

    if (cli->file_inputs == NULL) {
        *from_strings = true;
        return json_object_get(cli->inputs);
    }
    *from_strings = json_object_object_length(cli->inputs) > 0;
    all = wf_json_copy(cli->file_inputs);
    json_object_object_foreach(cli->inputs, name, value)
    {
        json_object_object_add(all, name, json_object_get(value));
    }
    return all;
}

static void add_target(run_cli *cli, const char *name)
{
    cli->targets = wf_xrealloc(cli->targets, (cli->n_targets + 1) * sizeof(*cli->targets));
    cli->targets[cli->n_targets++] = name;
}

/* ---- dry run --------------------------------------------------------------------------- */

/* The plan is drawn from wf_workflow_describe_task(), the embedding API's view of the file:
 * the tasks in dependency order (wf_workflow_task_in_order), each with what it waits for and
 * what it runs, and from wf_plan_task(): what of it the inputs already decide. Both come one
 * task at a time and are printed and dropped, so that a plan of 100,000 tasks never holds
 * them all as JSON. */

/* At most this many items of a list known before the run are printed, then a count. */
#define PLAN_MAX_ITEMS 20

static void print_plan_items(json_object *list, size_t n, const char *kind)
{
    printf("    with-items: %s%zu %s\n", kind, n, kind[0] ? "combinations" : "items");
    for (size_t i = 0; i < n && i < PLAN_MAX_ITEMS; i++)
        printf("      %s\n", json_object_to_json_string_ext(json_object_array_get_idx(list, i),
                                                            JSON_C_TO_STRING_SPACED |
                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
    if (n > PLAN_MAX_ITEMS)
        printf("      ... (%zu more)\n", n - PLAN_MAX_ITEMS);
}

/* One task of the plan: task is its wf_workflow_describe_task(), known what wf_plan_task()
 * evaluated for it with the given inputs (NULL: nothing). */
static void print_task_plan(json_object *task, json_object *known, const run_cli *cli)
{
    const char *executor = wf_cli_json_str(task, "executor");

    json_object *needs = NULL, *items = NULL, *argv = NULL, *v = NULL;
    size_t n_needs;

    printf("  %s", wf_cli_json_str(task, "name"));
    json_object_object_get_ex(task, "needs", &needs);
    n_needs = json_object_array_length(needs);
    if (n_needs > 0) {
        printf("  (after");
        for (size_t d = 0; d < n_needs; d++)
            printf("%s %s", d ? "," : "",
                   json_object_get_string(json_object_array_get_idx(needs, d)));
        printf(")");
    }
    printf("\n");
    if (json_object_object_get_ex(task, "with_items", &items) && items != NULL) {
        bool matrix = strcmp(wf_cli_json_str(items, "kind"), "matrix") == 0;
        json_object *keys = NULL;

        json_object_object_get_ex(items, "keys", &keys);
        if (json_object_object_get_ex(known, "items", &v))
            print_plan_items(
                v,
                (size_t)wf_cli_json_int(known, "items_total", (int64_t)json_object_array_length(v)),
                matrix ? "matrix of " : "");
        else if (matrix)
            printf("    with-items: matrix of %zu keys (known when it runs)\n",
                   json_object_array_length(keys));
        else if (wf_cli_json_int(items, "count", -1) >= 0)
            printf("    with-items: %lld items (known when it runs)\n",
                   (long long)wf_cli_json_int(items, "count", -1));
        else if (wf_cli_json_str(items, "expr") != NULL)
            printf("    with-items: %s (%s)\n", wf_cli_json_str(items, "expr"),
                   json_object_get_boolean(json_object_object_get(items, "pipeline"))
                       ? "pipeline: item by item, as its source's items succeed"
                       : "known when it runs");
    }
    if (wf_cli_json_str(task, "when") != NULL) {
        printf("    when: %s", wf_cli_json_str(task, "when"));
        if (json_object_object_get_ex(known, "when", &v))
            printf("  (%s)", json_object_get_boolean(v) ? "true: it runs" : "false: skipped");
        printf("\n");
    }
    if (json_object_object_get_ex(known, "run", &v)) {
        printf("    run: %s\n", json_object_get_string(v));
    } else if (wf_cli_json_str(task, "run") != NULL) {
        printf("    run: %s\n", wf_cli_json_str(task, "run"));
    } else if (json_object_object_get_ex(task, "argv", &argv) && argv != NULL) {
        printf("    run:");
        for (size_t a = 0; a < json_object_array_length(argv); a++)
            printf(" [%s]", json_object_get_string(json_object_array_get_idx(argv, a)));
        printf("\n");
    } else if (wf_cli_json_str(task, "uses") != NULL) {
        json_object *called = NULL, *ctasks = NULL;

        printf("    uses: %s", wf_cli_json_str(task, "uses"));
        if (json_object_object_get_ex(task, "called", &called) && called != NULL &&
            json_object_object_get_ex(called, "tasks", &ctasks)) {
            printf(" (workflow %s:", wf_cli_json_str(called, "name"));
            for (size_t t = 0; t < json_object_array_length(ctasks); t++)
                printf(" %s", wf_cli_json_str(json_object_array_get_idx(ctasks, t), "name"));
            printf(")");
        }
        printf("\n");
    } else {
        printf("    action: %s\n", wf_cli_json_str(task, "action"));
    }
    if (executor != NULL && strcmp(executor, "slurm") == 0 && cli->local)
        printf("    executor: local (--executor local: the file's executor: slurm and its "
               "slurm: options are ignored)\n");
    else if (executor != NULL && strcmp(executor, "slurm") == 0)
        printf("    executor: slurm\n");
    else if (executor != NULL && cli->slurm)
        printf("    executor: slurm (--executor slurm)\n");
}

/* With targets: marks in want (by file index) every task the target start needs (the run's
 * tasks), by_name mapping each name to its index; iterative, since a chain of dependencies
 * may be long. Returns how many it marked. */
static size_t mark_wanted(const wf_workflow *wf, json_object *by_name, bool *want, size_t start)
{
    size_t *stack = wf_xmalloc(sizeof(*stack)), n = 1, marked = 0;

    stack[0] = start;
    while (n > 0) {
        size_t cur = stack[--n], n_needs;
        json_object *task, *needs = NULL;

        if (want[cur])
            continue;
        want[cur] = true;
        marked++;
        task = wf_workflow_describe_task(wf, cur);
        json_object_object_get_ex(task, "needs", &needs);
        n_needs = json_object_array_length(needs);
        stack = wf_xrealloc(stack, (n + n_needs + 1) * sizeof(*stack));
        for (size_t d = 0; d < n_needs; d++) {
            json_object *index = NULL;

            json_object_object_get_ex(
                by_name, json_object_get_string(json_object_array_get_idx(needs, d)), &index);
            stack[n++] = (size_t)json_object_get_int64(index);
        }
        json_object_put(task);
    }
    free(stack);
    return marked;
}

static void print_plan(const wf_workflow *wf, const run_cli *cli, wf_plan *plan)
{
    size_t n = wf_workflow_task_count(wf);
    bool *want = NULL;

    if (cli->n_targets > 0) {
        json_object *by_name = json_object_new_object();
        size_t n_want = 0;

        want = wf_xcalloc(n, sizeof(*want));
        for (size_t t = 0; t < n; t++)
            json_object_object_add(by_name, wf_workflow_task_name(wf, t),
                                   json_object_new_int64((int64_t)t));
        for (size_t i = 0; i < cli->n_targets; i++) {
            json_object *index = NULL;

            json_object_object_get_ex(by_name, cli->targets[i], &index);
            n_want += mark_wanted(wf, by_name, want, (size_t)json_object_get_int64(index));
        }
        json_object_put(by_name);
        printf("workflow %s (%zu of %zu tasks: %s%s and what %s)\n", wf_workflow_name(wf), n_want,
               n, cli->targets[0], cli->n_targets > 1 ? ", ..." : "",
               cli->n_targets > 1 ? "they need" : "it needs");
    } else {
        printf("workflow %s (%zu task%s)\n", wf_workflow_name(wf), n, n == 1 ? "" : "s");
    }
    for (size_t i = 0; i < n; i++) {
        size_t t = wf_workflow_task_in_order(wf, i);
        json_object *task, *known;

        if (want != NULL && !want[t])
            continue;
        task = wf_workflow_describe_task(wf, t);
        known = wf_plan_task(plan, t);
        print_task_plan(task, known, cli);
        json_object_put(known);
        json_object_put(task);
    }
    free(want);
}

/* ---- the site configuration ------------------------------------------------------------- */

static bool doc_has_slurm_task(json_object *doc);

/* Whether a described task (or a task of the workflow it calls) says `executor: slurm`. */
static bool task_on_slurm(json_object *task)
{
    const char *executor = wf_cli_json_str(task, "executor");
    json_object *called = NULL;

    if (executor != NULL && strcmp(executor, "slurm") == 0)
        return true;
    return json_object_object_get_ex(task, "called", &called) && called != NULL &&
           doc_has_slurm_task(called);
}

/* The same for every task of a described (called) workflow. */
static bool doc_has_slurm_task(json_object *doc)
{
    json_object *tasks = NULL;

    json_object_object_get_ex(doc, "tasks", &tasks);
    for (size_t t = 0; t < json_object_array_length(tasks); t++)
        if (task_on_slurm(json_object_array_get_idx(tasks, t)))
            return true;
    return false;
}

/* The same for the workflow, one task's description at a time. */
static bool has_slurm_task(const wf_workflow *wf)
{
    bool found = false;

    for (size_t t = 0; t < wf_workflow_task_count(wf) && !found; t++) {
        json_object *task = wf_workflow_describe_task(wf, t);

        found = task_on_slurm(task);
        json_object_put(task);
    }
    return found;
}

/* The site's Slurm defaults (docs/slurm.md, "Site defaults"): read only when a task will run
 * on Slurm, from $WFENGINE_CONFIG (which must exist), else $XDG_CONFIG_HOME/wfengine/
 * config.yaml or ~/.config/wfengine/config.yaml when there is one. False (errors printed)
 * when the file cannot be read or has errors. */
static bool load_site_config(const run_cli *cli, const wf_workflow *wf, json_object **slurm)
{
    const char *named = getenv("WFENGINE_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    char *path = NULL;
    wf_errlist errs;
    bool ok;

    *slurm = NULL;
    if (cli->local || (!cli->slurm && !has_slurm_task(wf)))
        return true;
    if (named != NULL && named[0] != '\0') {
        path = wf_xstrdup(named);
    } else {
        if (xdg != NULL && xdg[0] == '/')
            path = wf_xasprintf("%s/wfengine/config.yaml", xdg);
        else if (home != NULL && home[0] != '\0')
            path = wf_xasprintf("%s/.config/wfengine/config.yaml", home);
        if (path == NULL || (access(path, F_OK) != 0 && errno == ENOENT)) {
            free(path);
            return true; /* no configuration: nothing to read */
        }
    }
    wf_errlist_init(&errs);
    ok = wf_site_config_load(path, slurm, &errs) == WF_OK;
    if (!ok)
        wf_cli_print_errors(&errs);
    wf_errlist_release(&errs);
    free(path);
    return ok;
}

/* ---- targets and inputs, checked before anything starts --------------------------------- */

/* Every TASK given is a task of the file; an unknown one is reported with the closest name.
 * Returns true when all are known. */
static bool check_targets(const run_cli *cli, const wf_workflow *wf)
{
    size_t n = wf_workflow_task_count(wf);
    const char **names;
    bool ok = true;

    if (cli->n_targets == 0)
        return true;
    names = wf_xcalloc(n + 1, sizeof(*names));
    for (size_t t = 0; t < n; t++)
        names[t] = wf_workflow_task_name(wf, t);
    for (size_t i = 0; i < cli->n_targets; i++) {
        const char *near = NULL;
        bool found = false;

        for (size_t t = 0; t < n && !found; t++)
            found = strcmp(names[t], cli->targets[i]) == 0;
        if (found)
            continue;
        ok = false;
        near = wf_closest(cli->targets[i], names);
        if (near != NULL)
            wf_cli_errorf("run: %s has no task '%s'; did you mean '%s'? (wfengine list %s)",
                          cli->file, cli->targets[i], near, cli->file);
        else
            wf_cli_errorf("run: %s has no task '%s' (wfengine list %s shows its tasks)", cli->file,
                          cli->targets[i], cli->file);
    }
    free(names);
    return ok;
}

/* Every required input has a value in inputs; for one that has none, says how to give it,
 * with its type, enum and description. Returns true when none is missing. */
static bool check_required_inputs(json_object *specs, const json_object *inputs)
{
    bool ok = true;

    for (size_t i = 0; i < json_object_array_length(specs); i++) {
        json_object *in = json_object_array_get_idx(specs, i), *req = NULL, *en = NULL;
        const char *name = wf_cli_json_str(in, "name"), *desc = wf_cli_json_str(in, "description");
        wf_strbuf sb = WF_STRBUF_INIT;

        json_object_object_get_ex(in, "required", &req);
        if (!json_object_get_boolean(req) ||
            json_object_object_get_ex((json_object *)inputs, name, NULL))
            continue;
        ok = false;
        wf_strbuf_addf(&sb, "run: input '%s' is required (%s", name, wf_cli_json_str(in, "type"));
        if (json_object_object_get_ex(in, "enum", &en) && en != NULL) {
            wf_strbuf_adds(&sb, ", one of:");
            for (size_t k = 0; k < json_object_array_length(en); k++)
                wf_strbuf_addf(&sb, "%s %s", k ? "," : "",
                               json_object_to_json_string_ext(json_object_array_get_idx(en, k),
                                                              JSON_C_TO_STRING_PLAIN));
        }
        wf_strbuf_addf(&sb, ")%s%s; give it with -i %s=VALUE", desc ? ": " : "", desc ? desc : "",
                       name);
        wf_cli_errorf("%s", wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
    return ok;
}

/* ---- after the run ------------------------------------------------------------------------ */

/* The workflow's outputs on stdout, one `NAME: VALUE` line each (the value as compact JSON,
 * a string as itself; secrets masked), after the progress on stderr. Nothing when it
 * declares none. */
static void print_outputs(const wf_run *run)
{
    json_object *outputs = wf_run_outputs_json(run); /* secrets masked */

    if (outputs == NULL || json_object_object_length(outputs) == 0) {
        json_object_put(outputs);
        return;
    }
    printf("outputs:\n");
    json_object_object_foreach(outputs, name, value)
    {
        const char *text =
            json_object_is_type(value, json_type_string)
                ? json_object_get_string(value)
                : json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE);

        printf("  %s: %s\n", name, text);
    }
    json_object_put(outputs);
}

/* Tasks that targets left out of the run (absent from its result document's "tasks") get no
 * JUnit testcase. */
static void leave_out_of_junit(const run_cli *cli, const wf_run *run, const wf_workflow *wf)
{
    json_object *result = wf_run_result_json(run), *in_run = NULL;

    json_object_object_get_ex(result, "tasks", &in_run);
    for (size_t t = 0; t < wf_workflow_task_count(wf); t++) {
        const char *name = wf_workflow_task_name(wf, t);

        if (!json_object_object_get_ex(in_run, name, NULL))
            wf_cli_junit_leave_out(cli->junit, name);
    }
    json_object_put(result);
}

/* ---- resume ---------------------------------------------------------------------------- */

/* --resume: wf_resume_prepare checks that the run fits the workflow file and merges its
 * inputs under the given ones; this adds what the user can do about a refusal. Returns an
 * exit status, 0 when res is ready. */
static int prepare_resume(const run_cli *cli, const wf_workflow *wf, wf_store *store,
                          wf_resume *res)
{
    wf_error err;
    int status = WF_EXIT_USAGE;
    bool from_strings = true;
    json_object *inputs = merged_inputs(cli, &from_strings);
    int rc;

    /* --only takes the results of what it needs from the last run, also after the file was
     * edited (the usual reason to run one task again); the warning says so. */
    const char *which = cli->only ? "last" : cli->resume;

    wf_error_init(&err);
    rc = wf_resume_prepare(store, which, wf, inputs, from_strings, cli->force || cli->only, res,
                           &err);
    json_object_put(inputs);
    if (rc != WF_OK) {
        if (cli->only && rc == WF_ENOENT)
            wf_cli_errorf("run: --only %s takes what it needs from the last run, and the store "
                          "has no run yet: run the workflow first (wfengine run %s)",
                          cli->targets[0], cli->file);
        else if (cli->only)
            wf_cli_errorf("run: --only: %s", err.message);
        else if (res->other_workflow)
            wf_cli_errorf("run: %s; use --force to resume it anyway", err.message);
        else if (res->file_changed)
            wf_cli_errorf("run: %s; use --force to resume with the changed file", err.message);
        else
            wf_cli_errorf("run: --resume %s: %s", cli->resume, err.message);
        goto out;
    }
    if (cli->only && res->other_workflow) {
        wf_cli_errorf("run: --only: the last run in the store (%s) is of another workflow; run "
                      "%s first",
                      res->run_id, cli->file);
        wf_resume_release(res);
        goto out;
    }
    if (res->warning != NULL && cli->only)
        fprintf(stderr, "wfengine: %s; taking what %s needs from it anyway (--only)\n",
                res->warning, cli->targets[0]);
    else if (res->warning != NULL)
        fprintf(stderr, "wfengine: %s; resuming anyway (--force)\n", res->warning);
    status = WF_EXIT_OK;
out:
    wf_error_release(&err);
    return status;
}

/* ---- the command ----------------------------------------------------------------------- */

static int parse_args(run_cli *cli, int argc, char **argv)
{
    const char *missing_for = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (val == NULL)
            missing_for = a;

        if (wf_cli_is_help(a)) {
            fputs(help, stdout);
            fputs(help_end, stdout);
            return 1;
        } else if (strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0) {
            if (val == NULL || add_input(cli, val) != WF_OK)
                goto missing;
            i++;
        } else if (strncmp(a, "-i", 2) == 0 && a[2] != '\0') {
            if (add_input(cli, a + 2) != WF_OK)
                return -1;
        } else if (strcmp(a, "--env-file") == 0) {
            if (val == NULL)
                goto missing;
            if (cli->n_env_files == WF_ARRAY_LEN(cli->env_files) - 1) {
                wf_cli_errorf("run: --env-file may be given at most %zu times",
                              WF_ARRAY_LEN(cli->env_files) - 1);
                return -1;
            }
            cli->env_files[cli->n_env_files++] = val;
            i++;
        } else if (strcmp(a, "--inputs") == 0) {
            if (val == NULL || read_inputs_file(cli, val) != WF_OK)
                goto missing;
            i++;
        } else if (strcmp(a, "-j") == 0 || strcmp(a, "--jobs") == 0 ||
                   (strncmp(a, "-j", 2) == 0 && a[2] != '\0')) {
            const char *num = a[1] == 'j' && a[2] != '\0' ? a + 2 : val;
            char *end = NULL;
            long n = num ? strtol(num, &end, 10) : 0;

            if (num == NULL || *end != '\0' || n < 1 || n > 100000) {
                wf_cli_errorf("run: -j takes a number of units from 1 to 100000 (got '%s')",
                              num ? num : "");
                return -1;
            }
            cli->jobs = (int)n;
            if (num == val)
                i++;
        } else if (strcmp(a, "--only") == 0) {
            if (val == NULL)
                goto missing;
            cli->only = true;
            add_target(cli, val);
            i++;
        } else if (strcmp(a, "--fail-fast") == 0) {
            cli->fail_fast = true;
        } else if (strcmp(a, "--dry-run") == 0) {
            cli->dry_run = true;
        } else if (strcmp(a, "--json") == 0) {
            cli->json = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            cli->quiet = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            cli->verbose = true;
        } else if (strcmp(a, "--no-store") == 0) {
            cli->no_store = true;
        } else if (strcmp(a, "--store") == 0) {
            if (val == NULL)
                goto missing;
            cli->store_dir = val;
            i++;
        } else if (strcmp(a, "--resume") == 0) {
            if (val == NULL)
                goto missing;
            cli->resume = val;
            i++;
        } else if (strcmp(a, "--force") == 0) {
            cli->force = true;
        } else if (strcmp(a, "--no-cache") == 0) {
            cli->no_cache = true;
        } else if (strcmp(a, "--memory") == 0 || strcmp(a, "--max-output") == 0) {
            uint64_t *size = a[2] == 'm' && a[3] == 'e' ? &cli->memory : &cli->max_output;
            char *msg = NULL;

            if (val == NULL)
                goto missing;
            if (wf_size_parse(val, size, &msg) != WF_OK || *size == 0) {
                wf_cli_errorf("run: %s: %s", a, msg ? msg : "must be at least 1 byte");
                free(msg);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--keep-job-files") == 0) {
            cli->keep_job_files = true;
        } else if (strcmp(a, "--executor") == 0) {
            if (val == NULL)
                goto missing;
            cli->slurm = strcmp(val, "slurm") == 0;
            cli->local = strcmp(val, "local") == 0;
            if (!cli->slurm && !cli->local) {
                wf_cli_errorf("run: --executor takes local or slurm (got '%s')", val);
                return -1;
            }
            i++;
        } else if (strcmp(a, "--junit") == 0) {
            if (val == NULL)
                goto missing;
            cli->junit_path = val;
            i++;
        } else if (strcmp(a, "--progress") == 0) {
            if (val == NULL)
                goto missing;
            cli->progress_mode = wf_cli_progress_parse(val);
            if (cli->progress_mode < 0) {
                wf_cli_errorf("run: --progress takes auto, tty, plain or none (got '%s')", val);
                return -1;
            }
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            return wf_cli_unknown_run_option(a);
        } else if (cli->file == NULL) {
            cli->file = a;
        } else {
            add_target(cli, a);
            cli->n_positional++;
        }
    }
    if (cli->file == NULL) {
        fputs(help, stderr);
        fputs(help_end, stderr);
        return -1;
    }
    if (cli->only && cli->n_positional > 0) {
        wf_cli_errorf("run: give tasks either as TASK... or with --only, not both");
        return -1;
    }
    if (cli->only && (cli->no_store || cli->resume != NULL)) {
        wf_cli_errorf("run: --only takes what it needs from the last run: it cannot be used "
                      "with %s",
                      cli->no_store ? "--no-store" : "--resume");
        return -1;
    }
    if (cli->no_store && (cli->store_dir != NULL || cli->resume != NULL)) {
        wf_cli_errorf("run: --no-store cannot be used with %s",
                      cli->resume ? "--resume" : "--store");
        return -1;
    }
    return 0;
missing:
    if (missing_for != NULL)
        wf_cli_errorf("run: %s needs a value", missing_for);
    return -1;
}

int wf_cli_run(int argc, char **argv)
{
    run_cli cli = { 0 };
    wf_engine *engine = NULL;
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;
    wf_run_options opts = { 0 };
    wf_store *store = NULL;
    wf_resume resume = { 0 };
    wf_error store_err, reap_err, disk_err;
    wf_strbuf resume_hint = WF_STRBUF_INIT;
    signal_watch watch = { 0 };
    int status = WF_EXIT_USAGE, rc;
    wf_status st;
    json_object *specs = NULL, *inputs = NULL, *site_slurm = NULL;
    bool from_strings = true;

    wf_errlist_init(&errs);
    wf_error_init(&store_err);
    wf_error_init(&disk_err);
    cli.inputs = json_object_new_object();
    rc = parse_args(&cli, argc, argv);
    if (rc != 0) {
        status = rc > 0 ? WF_EXIT_OK : WF_EXIT_USAGE;
        goto out;
    }
    if (cli.junit_path != NULL && !cli.dry_run && !wf_cli_junit_check_path(cli.junit_path))
        goto out;
    wf = wf_cli_load(cli.file);
    if (wf == NULL)
        goto out;
    /* Only the inputs: the tasks are described one at a time where needed. */
    specs = wf_workflow_describe_inputs(wf);
    if (!check_targets(&cli, wf))
        goto out;
    inputs = merged_inputs(&cli, &from_strings);
    if (cli.dry_run) {
        wf_plan *plan = NULL;

        if (!check_required_inputs(specs, inputs))
            goto out;
        engine = wf_engine_new(NULL);
        opts.inputs = inputs;
        opts.inputs_from_strings = from_strings;
        opts.env_files = cli.n_env_files > 0 ? cli.env_files : NULL;
        if (wf_plan_open(engine, wf, &opts, &plan, &errs) != WF_OK) {
            wf_cli_print_errors(&errs);
            goto out;
        }
        print_plan(wf, &cli, plan);
        wf_plan_free(plan);
        status = WF_EXIT_OK;
        goto out;
    }
    /* Block the stop signals before any thread exists (the store's writer is the first), so
     * that all threads inherit the mask and only this one receives them (wait_for_end). A
     * signal that is ignored (as bash does for background jobs) still reaches sigwaitinfo
     * while it is blocked. */
    sigemptyset(&watch.set);
    sigaddset(&watch.set, SIGINT);
    sigaddset(&watch.set, SIGTERM);
    sigaddset(&watch.set, SIGHUP);
    sigaddset(&watch.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &watch.set, NULL);
    watch.main = pthread_self();
    atomic_init(&watch.ended, false);
    if (!cli.no_store) {
        status = wf_cli_open_store(cli.store_dir, &store);
        if (status != WF_EXIT_OK)
            goto out;
        status = WF_EXIT_USAGE;
        if ((cli.resume != NULL || cli.only) &&
            prepare_resume(&cli, wf, store, &resume) != WF_EXIT_OK)
            goto out;
    }
    if (resume.inputs != NULL) {
        json_object_put(inputs);
        inputs = json_object_get(resume.inputs);
        from_strings = resume.inputs_from_strings;
    }
    if (!check_required_inputs(specs, inputs) || !load_site_config(&cli, wf, &site_slurm))
        goto out;
    /* Before the first unit starts: what a unit leaves behind (a setsid'd or double-forked
     * process) is then ours to kill and reap when the unit ends (docs/cli.md, "Stopping"). */
    wf_error_init(&reap_err);
    if (wf_reap_orphans(&reap_err) != WF_OK)
        fprintf(stderr, "wfengine: warning: %s\n", reap_err.message);
    wf_error_release(&reap_err);
    engine = wf_engine_new(NULL);
    cli.start_ms = wf_now_ms();
    cli.progress = wf_cli_progress_new(cli.progress_mode, cli.quiet, cli.verbose, cli.start_ms, wf,
                                       store != NULL ? wf_store_dir(store) : NULL);
    cli.lines = wf_cli_lines_new(cli.quiet, cli.verbose, cli.start_ms);
    if (cli.junit_path != NULL)
        cli.junit = wf_cli_junit_new(wf);
    opts.inputs = inputs;
    opts.inputs_from_strings = from_strings;
    opts.targets = cli.targets;
    opts.n_targets = cli.n_targets;
    opts.targets_only = cli.only;
    opts.concurrency = cli.jobs;
    opts.fail_fast = cli.fail_fast;
    opts.on_event = on_event;
    opts.env_files = cli.n_env_files > 0 ? cli.env_files : NULL;
    opts.user = &cli;
    watch.progress = cli.progress;
    cli.watch = &watch;
    opts.store = store;
    opts.resume_run = resume.run_id[0] ? resume.run_id : NULL;
    opts.no_cache = cli.no_cache;
    opts.memory = cli.memory;
    opts.max_output = cli.max_output;
    opts.slurm_all = cli.slurm;
    opts.local_all = cli.local;
    opts.slurm_keep_files = cli.keep_job_files;
    opts.slurm_defaults = site_slurm;
    rc = wf_run_start(engine, wf, &opts, &run, &errs);
    if (rc != WF_OK) {
        wf_cli_print_errors(&errs);
        status = rc == WF_ESTORE ? WF_EXIT_STORE : WF_EXIT_USAGE;
        goto out;
    }
    wait_for_end(&watch, run);
    st = wf_run_wait(run);
    wf_cli_progress_free(cli.progress);
    cli.progress = NULL;
    if (cli.junit != NULL && cli.n_targets > 0)
        leave_out_of_junit(&cli, run, wf);
    if (cli.junit != NULL && !wf_cli_junit_write(cli.junit, cli.junit_path) &&
        st == WF_STATUS_SUCCEEDED)
        st = WF_STATUS_FAILED; /* a CI job must not pass without the report it asked for */
    if (cli.json) {
        json_object *result = wf_run_result_json(run);

        puts(json_object_to_json_string_ext(result, JSON_C_TO_STRING_PRETTY |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(result);
    } else {
        print_outputs(run);
    }
    status = st == WF_STATUS_SUCCEEDED   ? WF_EXIT_OK
             : watch.got != 0            ? WF_EXIT_SIGNAL
             : st == WF_STATUS_CANCELLED ? WF_EXIT_SIGNAL
                                         : WF_EXIT_FAILED;
    /* A file outside the store that could not be written (a failed store says so when it is
     * closed, below). */
    if ((store == NULL || !wf_store_failed(store)) && wf_run_store_failed(run, &disk_err)) {
        wf_cli_errorf("%s", disk_err.message);
        status = WF_EXIT_STORE;
    }
    /* A store that failed during the run (a full disk) keeps what it committed: the run goes
     * on from there, by its id ("last" may be an earlier run if this one was never
     * committed: then --resume says so, and the run is simply run again). */
    if (store != NULL && wf_store_failed(store)) {
        wf_strbuf_addf(&resume_hint, "wfengine: once there is room in %s, continue the run: ",
                       wf_store_dir(store));
        wf_cli_resume_command(&resume_hint, cli.file, wf_run_id(run), cli.store_dir);
    }
    if (store != NULL && cli.progress_mode != WF_PROGRESS_NONE && !wf_run_store_failed(run, NULL) &&
        (!cli.quiet || st != WF_STATUS_SUCCEEDED)) {
        wf_cli_run_place place = { .run_id = wf_run_id(run),
                                   .store_dir = wf_store_dir(store),
                                   .store_arg = cli.store_dir,
                                   .file = cli.file,
                                   .succeeded = st == WF_STATUS_SUCCEEDED };
        wf_strbuf sb = WF_STRBUF_INIT;

        wf_cli_lines_pointers(cli.lines, &sb, &place);
        fputs(wf_strbuf_str(&sb), stderr);
        wf_strbuf_release(&sb);
    }
out:
    wf_cli_progress_free(cli.progress);
    wf_cli_lines_free(cli.lines);
    wf_cli_junit_free(cli.junit);
    wf_run_free(run);
    if (wf_store_close(store, &store_err) != WF_OK) {
        wf_cli_errorf("the store cannot be used: %s", store_err.message);
        fputs(wf_strbuf_str(&resume_hint), stderr);
        status = WF_EXIT_STORE;
    }
    wf_strbuf_release(&resume_hint);
    wf_error_release(&store_err);
    wf_error_release(&disk_err);
    wf_resume_release(&resume);
    wf_workflow_free(wf);
    wf_engine_free(engine);
    json_object_put(cli.inputs);
    json_object_put(cli.file_inputs);
    json_object_put(inputs);
    json_object_put(specs);
    json_object_put(site_slurm);
    free(cli.targets);
    wf_errlist_release(&errs);
    return status;
}
