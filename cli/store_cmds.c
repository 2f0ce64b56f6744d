/* The commands that read the run store: runs, show, logs, gc. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wf_store.h"

#include "cli.h"

static void format_time(char *buf, size_t n, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms <= 0) {
        snprintf(buf, n, "-");
        return;
    }
    localtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm);
}

static void print_json(json_object *doc)
{
    puts(json_object_to_json_string_ext(doc,
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Common options: --store DIR and --json; returns the index of the first other argument. */
typedef struct store_args {
    const char *store;
    bool json;
    const char *pos[3];
    int n_pos;
    int limit;
    int attempt;
    bool want_stderr;
    int keep_runs;
    int64_t offset;     /* show: units from this index on */
    const char *status; /* show: only units whose latest attempt has it (--status, --failed) */
} store_args;

/* The statuses a unit can end with, for --status. */
static const char *const unit_statuses[] = { "succeeded", "failed", "skipped", "cancelled" };

static bool valid_unit_status(const char *s)
{
    for (size_t i = 0; i < WF_ARRAY_LEN(unit_statuses); i++) {
        if (strcmp(s, unit_statuses[i]) == 0)
            return true;
    }
    return false;
}

static int parse_store_args(const char *cmd, const char *help, int argc, char **argv, store_args *a,
                            int max_pos)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        char *end;

        if (wf_cli_is_help(arg)) {
            fputs(help, stdout);
            return 1;
        }
        if (strcmp(arg, "--store") == 0 && val != NULL) {
            a->store = val;
            i++;
        } else if (strcmp(arg, "--json") == 0) {
            a->json = true;
        } else if (strcmp(arg, "--stderr") == 0 && strcmp(cmd, "logs") == 0) {
            a->want_stderr = true;
        } else if ((strcmp(arg, "--failed") == 0 || strcmp(arg, "--status") == 0) &&
                   strcmp(cmd, "show") == 0) {
            const char *want = arg[2] == 'f' ? "failed" : val;

            if (arg[2] == 's' && (val == NULL || !valid_unit_status(val))) {
                wf_cli_errorf("%s: --status takes one of succeeded, failed, skipped, cancelled "
                              "(got %s%s%s)",
                              cmd, val ? "'" : "nothing", val ? val : "", val ? "'" : "");
                return -1;
            }
            /* One status per listing: the last one silently winning hid the other. */
            if (a->status != NULL && strcmp(a->status, want) != 0) {
                wf_cli_errorf("%s: --status %s and --%s%s%s: give one status (--failed is "
                              "--status failed)",
                              cmd, a->status, arg[2] == 'f' ? "failed" : "status",
                              arg[2] == 'f' ? "" : " ", arg[2] == 'f' ? "" : want);
                return -1;
            }
            a->status = want;
            if (arg[2] == 'f')
                continue;
            i++;
        } else if ((strcmp(arg, "--limit") == 0 || strcmp(arg, "--offset") == 0) &&
                   strcmp(cmd, "show") == 0) {
            long long v;

            if (val == NULL) {
                wf_cli_errorf("%s: %s needs a number", cmd, arg);
                return -1;
            }
            v = strtoll(val, &end, 10);
            if (*end != '\0' || end == val || v < 0 || v > 1000000000000LL) {
                wf_cli_errorf("%s: %s takes a whole number ≥ 0 (got '%s')", cmd, arg, val);
                return -1;
            }
            if (arg[2] == 'l')
                a->limit = (int)(v > 1000000000 ? 1000000000 : v);
            else
                a->offset = v;
            i++;
        } else if ((strcmp(arg, "--limit") == 0 && strcmp(cmd, "runs") == 0) ||
                   (strcmp(arg, "--attempt") == 0 && strcmp(cmd, "logs") == 0) ||
                   (strcmp(arg, "--keep-runs") == 0 && strcmp(cmd, "gc") == 0)) {
            if (val == NULL) {
                wf_cli_errorf("%s: %s needs a number", cmd, arg);
                return -1;
            }
            n = strtol(val, &end, 10);
            if (*end != '\0' || n < (strcmp(arg, "--keep-runs") == 0 ? 0 : 1) || n > 1000000000) {
                wf_cli_errorf("%s: %s takes a whole number%s (got '%s')", cmd, arg,
                              strcmp(arg, "--keep-runs") == 0 ? " ≥ 0" : " ≥ 1", val);
                return -1;
            }
            if (arg[2] == 'l')
                a->limit = (int)n;
            else if (arg[2] == 'a')
                a->attempt = (int)n;
            else
                a->keep_runs = (int)n;
            i++;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            wf_cli_errorf("%s: unknown option '%s' (see wfengine %s --help)", cmd, arg, cmd);
            return -1;
        } else if (a->n_pos < max_pos) {
            a->pos[a->n_pos++] = arg;
        } else {
            wf_cli_errorf("%s: unexpected argument '%s' (see wfengine %s --help)", cmd, arg, cmd);
            return -1;
        }
    }
    return 0;
}

/* ---- runs --------------------------------------------------------------------------------- */

static const char runs_help[] =
    "usage: wfengine runs [--limit N] [--json] [--store DIR]\n"
    "\n"
    "Lists the recorded runs, newest first: id, workflow, status, start, duration and how\n"
    "many tasks ended how. --json prints them as a JSON array (docs/cli.md).\n"
    "\n"
    "Examples:\n"
    "  wfengine runs --limit 5\n"
    "  wfengine runs --json | jq '.[0].run_id'\n";

int wf_cli_runs(int argc, char **argv)
{
    store_args a = { .limit = 20 };
    wf_store *store = NULL;
    json_object *runs = NULL;
    wf_error err;
    int rc = parse_store_args("runs", runs_help, argc, argv, &a, 0), status;

    if (rc != 0)
        return rc > 0 ? WF_EXIT_OK : WF_EXIT_USAGE;
    status = wf_cli_open_existing_store(a.store, &store);
    if (status != WF_EXIT_OK)
        return status;
    wf_error_init(&err);
    if (wf_store_runs_json(store, a.limit, &runs, &err) != WF_OK) {
        wf_cli_errorf("runs: %s", err.message);
        status = WF_EXIT_STORE;
        goto out;
    }
    if (a.json) {
        print_json(runs);
        goto out;
    }
    if (json_object_array_length(runs) == 0) {
        printf("no runs recorded in %s\n", wf_store_dir(store));
        goto out;
    }
    printf("%-26s %-20s %-11s %-19s %9s  %s\n", "RUN", "WORKFLOW", "STATUS", "STARTED", "DURATION",
           "TASKS");
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        json_object *r = json_object_array_get_idx(runs, i), *tasks = NULL;
        char started[32];
        wf_strbuf dur = WF_STRBUF_INIT, counts = WF_STRBUF_INIT;
        int64_t d = wf_cli_json_int(r, "duration_ms", -1);

        format_time(started, sizeof(started), wf_cli_json_int(r, "started_ms", 0));
        if (d >= 0)
            wf_duration_format(&dur, d);
        else
            wf_strbuf_adds(&dur, "-");
        if (json_object_object_get_ex(r, "tasks", &tasks) && tasks != NULL) {
            /* Only the statuses that occur: seven counts, mostly 0, would hide the one
             * that matters. */
            int64_t ignored = wf_cli_json_int(tasks, "ignored", 0);

            json_object_object_foreach(tasks, st, n)
            {
                if (json_object_get_int64(n) == 0 || strcmp(st, "ignored") == 0)
                    continue;
                wf_strbuf_addf(&counts, "%s%lld %s", counts.len ? ", " : "",
                               (long long)json_object_get_int64(n), st);
                /* A failure under continue-on-error did not fail the run: say so. */
                if (strcmp(st, "failed") != 0 || ignored <= 0)
                    continue;
                if (ignored == json_object_get_int64(n))
                    wf_strbuf_adds(&counts, " (ignored)");
                else
                    wf_strbuf_addf(&counts, " (%lld ignored)", (long long)ignored);
            }
        }
        printf("%-26s %-20s %-11s %-19s %9s  %s\n", wf_cli_json_str(r, "run_id"),
               wf_cli_json_str(r, "workflow"),
               wf_cli_json_str(r, "status") ? wf_cli_json_str(r, "status") : "running", started,
               wf_strbuf_str(&dur), counts.len ? wf_strbuf_str(&counts) : "-");
        wf_strbuf_release(&dur);
        wf_strbuf_release(&counts);
    }
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        json_object *r = json_object_array_get_idx(runs, i);
        const char *hint = wf_cli_json_str(r, "resume_hint");

        if (hint != NULL)
            printf("%s was interrupted (the process that ran it is gone); continue it with: %s\n",
                   wf_cli_json_str(r, "run_id"), hint);
    }
out:
    json_object_put(runs);
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}

/* ---- show --------------------------------------------------------------------------------- */

/* How many units of each task show lists unless --limit says otherwise. */
#define SHOW_LIMIT 1000

static const char show_help[] =
    "usage: wfengine show RUN|last [--failed | --status S] [--limit N] [--offset I] [--json]\n"
    "                     [--store DIR]\n"
    "\n"
    "Shows one recorded run: every task, how many of its units ended how, and its items\n"
    "(NAME[INDEX]) with their status, attempts, duration, exit code and error: at most N\n"
    "per task (default 1000; 0: all), from index I on. RUN is a run id or a unique prefix.\n"
    "--failed (--status failed) lists only the units whose last attempt failed; S is one of\n"
    "succeeded, failed, skipped, cancelled.\n"
    "\n"
    "Examples:\n"
    "  wfengine show last\n"
    "  wfengine show last --failed\n"
    "  wfengine show last --offset 5000 --limit 100\n"
    "  wfengine show 20261123-1930 --json\n";

/* What is known of the process of a run recorded as running. */
static void print_owner(json_object *doc)
{
    json_object *owner = NULL, *alive = NULL;
    const char *status = wf_cli_json_str(doc, "status"),
               *hint = wf_cli_json_str(doc, "resume_hint");
    wf_strbuf who = WF_STRBUF_INIT;

    if (status == NULL || (strcmp(status, "running") != 0 && strcmp(status, "interrupted") != 0))
        return;
    if (json_object_object_get_ex(doc, "owner", &owner) && owner != NULL)
        wf_strbuf_addf(&who, "pid %lld on %s", (long long)wf_cli_json_int(owner, "pid", -1),
                       wf_cli_json_str(owner, "host") ? wf_cli_json_str(owner, "host") : "?");
    else
        wf_strbuf_adds(&who, "recorded by an older wfengine, without its pid");
    json_object_object_get_ex(doc, "owner_alive", &alive);
    if (strcmp(status, "interrupted") == 0)
        printf("  interrupted: the process that ran it (%s) is gone; continue it with:\n"
               "    %s\n",
               wf_strbuf_str(&who), hint ? hint : "wfengine run FILE --resume RUN");
    else if (alive != NULL)
        printf("  running in %s\n", wf_strbuf_str(&who));
    else
        printf("  recorded as running (%s); whether that process is still there cannot be "
               "checked from this host\n",
               wf_strbuf_str(&who));
    wf_strbuf_release(&who);
}

static void print_unit_line(const char *name, int64_t index, json_object *unit, int attempts)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    int64_t start = wf_cli_json_int(unit, "started_ms", 0),
            end = wf_cli_json_int(unit, "ended_ms", 0);
    int64_t code = wf_cli_json_int(unit, "exit_code", -1);
    const char *err = wf_cli_json_str(unit, "error");

    wf_strbuf_adds(&sb, "    ");
    wf_cli_unit_name(&sb, name, index, wf_cli_json_str(unit, "label"));
    printf("%-32s %-10s", wf_strbuf_str(&sb), wf_cli_status_text(unit));
    wf_strbuf_reset(&sb);
    if (end >= start && start > 0)
        wf_duration_format(&sb, end - start);
    printf(" %3d attempt%s %8s", attempts, attempts == 1 ? " " : "s", wf_strbuf_str(&sb));
    if (code >= 0)
        printf("  exit %lld", (long long)code);
    if (json_object_get_boolean(json_object_object_get(unit, "cached")))
        printf("  (cached)");
    if (json_object_get_boolean(json_object_object_get(unit, "reused")))
        printf("  (reused)");
    if (err != NULL)
        printf("  %s", err);
    printf("\n");
    wf_strbuf_release(&sb);
}

/* ---- show --json --limit 0: streamed ------------------------------------------------------ */

/* Writes v's pretty JSON (without its last `drop` bytes) as the value at nesting depth
 * `depth` of a pretty document: json-c indents by two spaces a level, so v's own text, with
 * 2 * depth spaces after each line ending, is what it writes for v inside the document (a
 * line ending never occurs inside a JSON string: it is escaped). */
static void put_nested(json_object *v, int depth, size_t drop)
{
    size_t len;
    const char *text = json_object_to_json_string_length(
        v, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    const char *p = text, *end = text + (len > drop ? len - drop : 0);

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;

        fwrite(p, 1, (size_t)(stop - p), stdout);
        if (nl != NULL)
            printf("%*s", 2 * depth, "");
        p = stop;
    }
}

static int put_unit(json_object *unit, void *ud)
{
    bool *first = ud;

    fputs(*first ? "\n        " : ",\n        ", stdout);
    *first = false;
    put_nested(unit, 4, 0);
    return ferror(stdout) ? WF_EIO : WF_OK;
}

/* `show --json --limit 0`: doc (the run and its tasks, listed without units) printed as
 * print_json prints the whole document, each task's units read and written one at a time
 * (the same text, in memory one unit at a time whatever the run's size). */
static int print_json_streamed(wf_store *store, const char *id, json_object *doc,
                               const wf_store_page *page, wf_error *err)
{
    json_object *tasks = NULL;
    int rc = WF_OK;

    json_object_object_get_ex(doc, "tasks", &tasks);
    tasks = json_object_get(tasks);
    json_object_object_del(doc, "tasks");
    /* The run's fields, without the closing "\n}", then its tasks (the last field). */
    put_nested(doc, 0, 2);
    fputs(",\n  \"tasks\":[", stdout);
    for (size_t i = 0; i < json_object_array_length(tasks) && rc == WF_OK; i++) {
        json_object *t = json_object_array_get_idx(tasks, i);
        bool first = true;

        fputs(i > 0 ? ",\n    " : "\n    ", stdout);
        put_nested(t, 2, 2);
        fputs(",\n      \"units\":[", stdout);
        rc = wf_store_task_units_each(store, id, wf_cli_json_str(t, "name"), page, put_unit, &first,
                                      err);
        /* json-c closes an empty array the same way: "[", a line ending, the indent, "]". */
        fputs("\n      ],\n      \"next_index\":null\n    }", stdout);
    }
    fputs("\n  ]\n}\n", stdout);
    json_object_put(tasks);
    if (rc == WF_EIO)
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot write the output: %s", strerror(errno));
    return rc;
}

/* "    3 succeeded, 1 failed" for a task's units (only the statuses that occur). */
static void print_counts(json_object *t)
{
    json_object *counts = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;

    if (!json_object_object_get_ex(t, "counts", &counts) || counts == NULL)
        return;
    json_object_object_foreach(counts, st, n)
    {
        if (json_object_get_int64(n) != 0)
            wf_strbuf_addf(&sb, "%s%lld %s", sb.len ? ", " : "",
                           (long long)json_object_get_int64(n), st);
    }
    if (sb.len > 0)
        printf("    units: %s\n", wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
}

/* "... more from index I: wfengine show ID --offset I", with the options that chose this
 * page (--limit, --status, --store), so that the command shows the next one. */
static void print_next_page(const store_args *a, const char *id, int64_t next)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_addf(&sb, "    ... more from index %lld: wfengine show %s --offset %lld",
                   (long long)next, id, (long long)next);
    if (a->limit != SHOW_LIMIT)
        wf_strbuf_addf(&sb, " --limit %d", a->limit);
    if (a->status != NULL)
        wf_strbuf_addf(&sb, " --status %s", a->status);
    if (a->store != NULL) {
        wf_strbuf_adds(&sb, " --store ");
        wf_cli_shell_word(&sb, a->store);
    }
    printf("%s\n", wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
}

int wf_cli_show(int argc, char **argv)
{
    store_args a = { .limit = SHOW_LIMIT, .offset = 0 };
    wf_store_page page;
    wf_store *store = NULL;
    json_object *doc = NULL, *tasks = NULL;
    char id[64];
    wf_error err;
    int rc = parse_store_args("show", show_help, argc, argv, &a, 1), status;

    if (rc != 0)
        return rc > 0 ? WF_EXIT_OK : WF_EXIT_USAGE;
    if (a.n_pos != 1) {
        fputs(show_help, stderr);
        return WF_EXIT_USAGE;
    }
    status = wf_cli_open_existing_store(a.store, &store);
    if (status != WF_EXIT_OK)
        return status;
    wf_error_init(&err);
    page.offset = a.offset;
    /* Every unit as JSON: the tasks now, their units streamed. */
    page.limit = a.json && a.limit == 0 ? -1 : a.limit;
    page.status = a.status;
    if (wf_store_resolve_run(store, a.pos[0], id, &err) != WF_OK ||
        wf_store_run_page_json(store, id, &page, &doc, &err) != WF_OK) {
        wf_cli_errorf("show: %s", err.message);
        status = err.code == WF_ESTORE ? WF_EXIT_STORE : WF_EXIT_USAGE;
        goto out;
    }
    if (a.json && a.limit == 0) {
        page.limit = 0;
        if (print_json_streamed(store, id, doc, &page, &err) != WF_OK) {
            wf_cli_errorf("show: %s", err.message);
            status = err.code == WF_EIO ? WF_EXIT_FAILED : WF_EXIT_STORE;
        }
        goto out;
    }
    if (a.json) {
        print_json(doc);
        goto out;
    }
    {
        char started[32];
        wf_strbuf dur = WF_STRBUF_INIT;
        int64_t d = wf_cli_json_int(doc, "duration_ms", -1);

        format_time(started, sizeof(started), wf_cli_json_int(doc, "started_ms", 0));
        if (d >= 0)
            wf_duration_format(&dur, d);
        printf("run %s  %s  %s\n", id, wf_cli_json_str(doc, "workflow"),
               wf_cli_json_str(doc, "status") ? wf_cli_json_str(doc, "status") : "running");
        print_owner(doc);
        printf("  file %s (sha256 %.12s...)\n", wf_cli_json_str(doc, "file"),
               wf_cli_json_str(doc, "file_sha256") ? wf_cli_json_str(doc, "file_sha256") : "?");
        printf("  started %s, took %s\n", started, dur.len ? wf_strbuf_str(&dur) : "-");
        if (wf_cli_json_str(doc, "resumed_from") != NULL)
            printf("  resumes run %s\n", wf_cli_json_str(doc, "resumed_from"));
        wf_strbuf_release(&dur);
    }
    if (json_object_object_get_ex(doc, "tasks", &tasks) && tasks != NULL) {
        bool whole = a.offset == 0 && a.status == NULL;

        for (size_t i = 0; i < json_object_array_length(tasks); i++) {
            json_object *t = json_object_array_get_idx(tasks, i), *units = NULL;
            const char *name = wf_cli_json_str(t, "name");
            size_t n;

            printf("  %-30s %s", name, wf_cli_status_text(t));
            if (wf_cli_json_int(t, "n_items", 0) > 0)
                printf("  (%lld item%s%s%s)", (long long)wf_cli_json_int(t, "n_items", 0),
                       wf_cli_json_int(t, "n_items", 0) == 1 ? "" : "s",
                       wf_cli_json_str(t, "source") ? ", pipelined from " : "",
                       wf_cli_json_str(t, "source") ? wf_cli_json_str(t, "source") : "");
            if (wf_cli_json_str(t, "error") != NULL)
                printf("  %s", wf_cli_json_str(t, "error"));
            printf("\n");
            if (json_object_get_boolean(json_object_object_get(t, "with_items")))
                print_counts(t);
            if (!json_object_object_get_ex(t, "units", &units) || units == NULL)
                continue;
            /* Units come by index then attempt: print the last attempt of each. */
            n = json_object_array_length(units);
            if (n == 0 && a.offset > 0 && a.offset >= wf_cli_json_int(t, "n_items", 0) &&
                wf_cli_json_int(t, "n_items", 0) > 0)
                printf("    (no items from index %lld: its items are 0 to %lld)\n",
                       (long long)a.offset, (long long)wf_cli_json_int(t, "n_items", 0) - 1);
            for (size_t k = 0; k < n; k++) {
                json_object *u = json_object_array_get_idx(units, k);
                json_object *next = k + 1 < n ? json_object_array_get_idx(units, k + 1) : NULL;
                int64_t index = wf_cli_json_int(u, "index", -1);

                if (next != NULL && wf_cli_json_int(next, "index", -1) == index)
                    continue;
                print_unit_line(name, index, u, (int)wf_cli_json_int(u, "attempt", 1));
            }
            whole = whole && wf_cli_json_int(t, "next_index", -1) < 0;
            if (wf_cli_json_int(t, "next_index", -1) >= 0)
                print_next_page(&a, id, wf_cli_json_int(t, "next_index", -1));
        }
        /* Pipelines follow items through stages: only when every unit is listed. */
        if (whole)
            wf_cli_print_pipelines(tasks);
    }
out:
    json_object_put(doc);
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}

/* ---- logs --------------------------------------------------------------------------------- */

static const char logs_help[] =
    "usage: wfengine logs RUN|last TASK[ITEM] [--attempt K] [--stderr] [--store DIR]\n"
    "\n"
    "Prints the stdout (or with --stderr the stderr) a task or an item wrote, as recorded:\n"
    "the latest attempt, or attempt K. Secrets appear as ***. An item is named by its index\n"
    "or its label: TASK[3], TASK.3, TASK[linux-amd64] or TASK.linux-amd64 (quote [ ] for\n"
    "the shell).\n"
    "\n"
    "Examples:\n"
    "  wfengine logs last build\n"
    "  wfengine logs last 'check_health[3]' --stderr --attempt 1\n"
    "  wfengine logs last build.linux-amd64\n"
    "  wfengine logs last 'deploy[2]/migrate'   (a task of a workflow called by `uses:`)\n";

/* Splits spec (TASK, TASK[ITEM], TASK.ITEM; the form progress lines show, "TASK[3] (LABEL)",
 * is TASK[3]) into *task (owned) and *item (owned, NULL for none). A task of a called
 * workflow is CALLER[2]/TASK: the item is in the part after the last '/'. False when it is
 * none of those. */
static bool split_unit_spec(const char *spec, char **task, char **item)
{
    const char *slash = strrchr(spec, '/');
    const char *last = slash != NULL ? slash + 1 : spec;
    size_t n = (size_t)(last - spec) + strcspn(last, "[.");
    const char *rest = spec + n;

    *task = wf_xstrndup(spec, n);
    *item = NULL;
    if (*rest == '\0')
        return n > 0;
    if (*rest == '.') {
        *item = wf_xstrdup(rest + 1);
    } else {
        const char *close = strchr(rest, ']');

        if (close == NULL || (close[1] != '\0' && strncmp(close + 1, " (", 2) != 0))
            return false;
        *item = wf_xstrndup(rest + 1, (size_t)(close - rest - 1));
    }
    return n > 0 && (*item)[0] != '\0';
}

/* Whether s is a whole number ≥ 0 (then *out is it). */
static bool parse_index(const char *s, int64_t *out)
{
    char *end = NULL;

    if (*s < '0' || *s > '9')
        return false;
    *out = strtoll(s, &end, 10);
    return *end == '\0' && *out >= 0;
}

/* The index of the unit of task whose label is label in the stored run: one seek in the
 * store. On failure, err says which labels there are (the closest one first, or a list):
 * only then is the whole run read. */
static int index_of_label(wf_store *store, const char *run_id, const char *task, const char *label,
                          int64_t *index, wf_error *err)
{
    json_object *doc = NULL, *tasks, *units = NULL;
    const char **labels = NULL;
    size_t n = 0;
    int rc = wf_store_label_index(store, run_id, task, label, index, err);

    if (rc != WF_ENOENT)
        return rc;
    wf_error_release(err);
    wf_error_init(err);
    rc = wf_store_run_json(store, run_id, &doc, err);
    if (rc != WF_OK)
        return rc;
    tasks = json_object_object_get(doc, "tasks");
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        json_object *t = json_object_array_get_idx(tasks, i);
        const char *name = wf_cli_json_str(t, "name");

        if (name != NULL && strcmp(name, task) == 0)
            units = json_object_object_get(t, "units");
    }
    labels = wf_xcalloc(json_object_array_length(units) + 1, sizeof(char *));
    for (size_t i = 0; i < json_object_array_length(units); i++) {
        json_object *u = json_object_array_get_idx(units, i);
        const char *l = wf_cli_json_str(u, "label");

        if (l == NULL)
            continue;
        if (strcmp(l, label) == 0) {
            *index = wf_cli_json_int(u, "index", -1);
            goto out;
        }
        if (n == 0 || strcmp(labels[n - 1], l) != 0) /* attempts of one unit are adjacent */
            labels[n++] = l;
    }
    rc = WF_ENOENT;
    if (units == NULL) {
        wf_error_set(err, rc, NULL, 0, 0, "run %s has no task '%s'", run_id, task);
    } else if (n == 0) {
        wf_error_set(err, rc, NULL, 0, 0,
                     "task '%s' of run %s has no item labels; name the item by its index: "
                     "%s[N]",
                     task, run_id, task);
    } else {
        const char *close = wf_closest(label, labels);
        wf_strbuf sb = WF_STRBUF_INIT;

        for (size_t i = 0; i < n && i < 10; i++) {
            wf_strbuf_adds(&sb, i ? ", " : "");
            wf_cli_add_safe(&sb, labels[i]);
        }
        if (n > 10)
            wf_strbuf_addf(&sb, ", ... (%zu in all)", n);
        if (close != NULL)
            wf_error_set(err, rc, NULL, 0, 0,
                         "task '%s' has no item labelled '%s'; did you mean "
                         "'%s[%s]'?",
                         task, label, task, close);
        else
            wf_error_set(err, rc, NULL, 0, 0, "task '%s' has no item labelled '%s'; its labels: %s",
                         task, label, wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
out:
    free(labels);
    json_object_put(doc);
    return rc;
}

int wf_cli_logs(int argc, char **argv)
{
    store_args a = { 0 };
    wf_store *store = NULL;
    char id[64], *task = NULL, *item = NULL, *data = NULL;
    int64_t index = -1;
    size_t len = 0;
    wf_error err;
    int rc = parse_store_args("logs", logs_help, argc, argv, &a, 2), status;

    if (rc != 0)
        return rc > 0 ? WF_EXIT_OK : WF_EXIT_USAGE;
    if (a.n_pos != 2) {
        fputs(logs_help, stderr);
        return WF_EXIT_USAGE;
    }
    if (!split_unit_spec(a.pos[1], &task, &item)) {
        wf_cli_errorf("logs: '%s' is not TASK, TASK[ITEM] or TASK.ITEM (ITEM an index or a "
                      "label)",
                      a.pos[1]);
        free(task);
        free(item);
        return WF_EXIT_USAGE;
    }
    status = wf_cli_open_existing_store(a.store, &store);
    if (status != WF_EXIT_OK) {
        free(task);
        free(item);
        return status;
    }
    wf_error_init(&err);
    if (wf_store_resolve_run(store, a.pos[0], id, &err) != WF_OK ||
        (item != NULL && !parse_index(item, &index) &&
         index_of_label(store, id, task, item, &index, &err) != WF_OK) ||
        wf_store_unit_output(store, id, task, index, a.attempt, a.want_stderr, &data, &len, &err) !=
            WF_OK) {
        wf_cli_errorf("logs: %s", err.message);
        status = err.code == WF_ESTORE ? WF_EXIT_STORE : WF_EXIT_USAGE;
        goto out;
    }
    fwrite(data, 1, len, stdout);
out:
    free(data);
    free(task);
    free(item);
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}

/* ---- gc ----------------------------------------------------------------------------------- */

static const char gc_help[] =
    "usage: wfengine gc [--keep-runs N] [--store DIR]\n"
    "\n"
    "Deletes all but the newest N runs (default 50) and every stored output or result that\n"
    "no remaining run or cache entry refers to, and says how much it freed.\n"
    "\n"
    "Example:\n"
    "  wfengine gc --keep-runs 10\n";

int wf_cli_gc(int argc, char **argv)
{
    store_args a = { .keep_runs = 50 };
    wf_store *store = NULL;
    wf_store_gc_stats stats = { 0 };
    wf_error err;
    int rc = parse_store_args("gc", gc_help, argc, argv, &a, 0), status;

    if (rc != 0)
        return rc > 0 ? WF_EXIT_OK : WF_EXIT_USAGE;
    status = wf_cli_store_exists(wf_cli_store_dir(a.store));
    if (status == WF_EXIT_OK)
        status = wf_cli_open_store(a.store, &store);
    if (status != WF_EXIT_OK)
        return status;
    wf_error_init(&err);
    if (wf_store_gc(store, a.keep_runs, &stats, &err) != WF_OK) {
        wf_cli_errorf("gc: %s", err.message);
        status = WF_EXIT_STORE;
    } else {
        printf("deleted %lld run%s and %lld blob%s, freed %lld bytes; kept %lld blob%s\n",
               (long long)stats.runs_deleted, stats.runs_deleted == 1 ? "" : "s",
               (long long)stats.blobs_deleted, stats.blobs_deleted == 1 ? "" : "s",
               (long long)stats.bytes_freed, (long long)stats.blobs_kept,
               stats.blobs_kept == 1 ? "" : "s");
    }
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}
