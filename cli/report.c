/*
 * wfengine report: one recorded run as a single self-contained HTML page (docs/cli.md): a
 * summary, filters, the failures first (every unit that did not succeed, with the tails of its
 * output), a timeline drawn as inline SVG, and a table of every task and item with fan-outs
 * folded. The page refers to nothing outside itself (its CSS and its one script are inline),
 * so it can be attached to a CI job, mailed or opened offline. It is made only from the store
 * (wf_store_run_json and the output blobs), and holds nothing that depends on when it was
 * made, so the same run always gives the same page. This file runs the command and writes the
 * header and the filters; report_failures.c, report_timeline.c and report_table.c write the
 * sections, report_script.c holds the CSS and the script, report_data.c reads the run.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wf_store.h"

#include "cli.h"

/* What the page reads of a task, at most: its first units (more than the table lists, so a
 * run of that size reads whole, as before), and its failures after those. */
#define REPORT_UNITS    20000
#define REPORT_FAILURES 10000

static const char report_help[] =
    "usage: wfengine report RUN|last -o FILE.html [--store DIR]\n"
    "\n"
    "Writes one recorded run as a self-contained HTML page (nothing fetched, works offline):\n"
    "the run's summary; every unit that failed, was cancelled or had its failure ignored, with\n"
    "the tails of its stdout and stderr; a timeline of when each attempt ran; a table of every\n"
    "task and item (NAME[INDEX], fan-outs folded) with status, attempts, start, duration, exit\n"
    "code, error or skip reason; filters by status and text. REPORT.html#TASK/INDEX opens one\n"
    "unit, #status=failed,ignored&q=TEXT a filter. -o - writes the page to stdout. RUN is a\n"
    "run id or a unique prefix of one.\n"
    "\n"
    "Examples:\n"
    "  wfengine report last -o report.html\n"
    "  wfengine report 20261123-1930 -o - > run.html\n";

static void add_time(wf_strbuf *sb, int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char buf[64];

    if (ms <= 0 || localtime_r(&t, &tm) == NULL ||
        strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z", &tm) == 0) {
        wf_strbuf_adds(sb, "-");
        return;
    }
    wf_strbuf_adds(sb, buf);
}

/* ---- the page ---------------------------------------------------------------------------- */

static void write_header(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out;
    const char *workflow = wf_cli_json_str(r->doc, "workflow");
    const char *resumed = wf_cli_json_str(r->doc, "resumed_from"),
               *sha = wf_cli_json_str(r->doc, "file_sha256");
    int64_t start = wf_cli_json_int(r->doc, "started_ms", 0),
            end = wf_cli_json_int(r->doc, "ended_ms", 0);
    int run_state = wf_cli_report_state(r->doc);

    wf_strbuf_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>wfengine run ");
    wf_cli_report_esc(sb, r->run_id);
    wf_strbuf_adds(sb, " (");
    wf_cli_report_esc(sb, workflow);
    wf_strbuf_adds(sb, ")</title>\n<style>");
    wf_cli_report_add_parts(sb, wf_cli_report_css);
    wf_strbuf_adds(sb, "</style>\n<noscript><style>tbody.fan tr.unit,tbody.fan tr.more"
                       "{display:table-row!important}#filters,button.tg{display:none}</style>"
                       "</noscript>\n</head>\n<body>\n<header>\n<h1>");
    wf_cli_report_esc(sb, workflow != NULL ? workflow : "workflow");
    wf_strbuf_addf(sb, " <span class=\"badge status s-%s\" id=\"run-status\">%s</span></h1>\n",
                   wf_cli_report_st_keys[run_state], wf_cli_report_st_labels[run_state]);
    if (run_state == WF_CLI_ST_RUNNING) {
        wf_strbuf_adds(sb, "<p class=\"note\" id=\"still-running\">This run has not ended: the "
                           "page shows what it had recorded when the page was made. Units "
                           "without a status are shown as running.</p>\n");
    }
    if (run_state == WF_CLI_ST_INTERRUPTED) {
        /* The store found the run's process gone (store/owner.c): say how to go on. */
        json_object *owner = NULL;

        wf_strbuf_adds(sb, "<p class=\"note\" id=\"interrupted\">This run was interrupted: the "
                           "process that ran it");
        if (json_object_object_get_ex(r->doc, "owner", &owner) && owner != NULL) {
            wf_strbuf_addf(sb, " (pid %lld on ", (long long)wf_cli_json_int(owner, "pid", -1));
            wf_cli_report_esc(sb, wf_cli_json_str(owner, "host"));
            wf_strbuf_adds(sb, ")");
        }
        wf_strbuf_adds(sb, " is gone. Continue it with <code>");
        wf_cli_report_esc(sb, wf_cli_json_str(r->doc, "resume_hint"));
        wf_strbuf_adds(sb, "</code>.</p>\n");
    }
    wf_strbuf_adds(sb, "<dl class=\"meta\">\n<dt>run</dt><dd class=\"mono\">");
    wf_cli_report_esc(sb, r->run_id);
    wf_strbuf_adds(sb, "</dd>\n<dt>started</dt><dd>");
    add_time(sb, start);
    wf_strbuf_adds(sb, "</dd>\n<dt>duration</dt><dd>");
    if (end > 0)
        wf_cli_report_add_duration(sb, start, end);
    else
        wf_strbuf_adds(sb, "- (the run did not end)");
    wf_strbuf_adds(sb, "</dd>\n<dt>file</dt><dd><code>");
    wf_cli_report_esc(sb, wf_cli_json_str(r->doc, "file"));
    wf_strbuf_adds(sb, "</code></dd>\n<dt>sha256</dt><dd class=\"mono\">");
    wf_cli_report_esc(sb, sha != NULL ? sha : "-");
    wf_strbuf_adds(sb, "</dd>\n");
    if (resumed != NULL) {
        wf_strbuf_adds(sb, "<dt>resumes</dt><dd class=\"mono\">");
        wf_cli_report_esc(sb, resumed);
        wf_strbuf_adds(sb, "</dd>\n");
    }
    wf_strbuf_addf(sb, "<dt>tasks</dt><dd>%zu: ", wf_cli_report_n_tasks(r));
    wf_cli_report_add_counts(sb, r->task_counts, true);
    wf_strbuf_addf(sb, "</dd>\n<dt>units</dt><dd id=\"unit-counts\">%lld: ", (long long)r->n_units);
    wf_cli_report_add_counts(sb, r->unit_counts, true);
    if (r->n_attempts > 0)
        wf_strbuf_addf(sb, " <span class=\"t-skipped\">(%lld attempt%s in all)</span>",
                       (long long)r->n_attempts, r->n_attempts == 1 ? "" : "s");
    wf_strbuf_adds(sb, "</dd>\n</dl>\n</header>\n");
}

/* The filters the script runs: a checkbox per state some unit is in, and a text box. */
static void write_filters(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out;

    wf_strbuf_adds(sb, "<form id=\"filters\" role=\"search\" onsubmit=\"return false\">"
                       "<span>Show:</span>");
    for (int i = 0; i < WF_CLI_N_ST; i++) {
        int s = wf_cli_report_st_order[i];

        if (r->unit_counts[s] > 0)
            wf_strbuf_addf(sb,
                           "<label class=\"t-%s\"><input type=\"checkbox\" value=\"%s\" "
                           "checked> %s (%lld)</label>",
                           wf_cli_report_st_keys[s], wf_cli_report_st_keys[s],
                           wf_cli_report_st_labels[s], (long long)r->unit_counts[s]);
    }
    wf_strbuf_adds(sb, "<input type=\"search\" id=\"q\" placeholder=\"filter: name, error, "
                       "output\" aria-label=\"filter by text\"><span id=\"shown\"></span></form>\n"
                       "<p class=\"note\" id=\"hash-note\" hidden></p>\n");
}

/* ---- the command ------------------------------------------------------------------------- */

/* Writes data to path ("-": stdout) through path.tmp renamed into place, so that a reader
 * never sees half a page. Prints the error, naming path, and returns false when it cannot. */
static bool write_out(const char *path, const char *data, size_t len)
{
    char *tmp = NULL;
    FILE *f = NULL;
    int saved = 0;

    if (strcmp(path, "-") == 0) {
        if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            wf_cli_errorf("report: cannot write to stdout: %s", strerror(errno));
            return false;
        }
        return true;
    }
    tmp = wf_xasprintf("%s.tmp", path);
    f = fopen(tmp, "w");
    if (f == NULL) {
        saved = errno;
        goto out;
    }
    if (fwrite(data, 1, len, f) != len)
        saved = errno != 0 ? errno : EIO;
    if (fclose(f) != 0 && saved == 0)
        saved = errno;
    if (saved == 0 && rename(tmp, path) != 0)
        saved = errno;
    if (saved != 0)
        unlink(tmp);
out:
    if (saved != 0)
        wf_cli_errorf("report: cannot write %s: %s", path, strerror(saved));
    free(tmp);
    return saved == 0;
}

/* The run as the page needs it, bounded whatever its size: the first REPORT_UNITS units
 * of each task, then its failed units after those up to REPORT_FAILURES (a 10M-unit run
 * with a few failures at its end shows them). Each task keeps "counts" (from the store's
 * summary) and, when units were left unread, "next_index" (the first one). */
static int read_run(wf_store *store, const char *id, json_object **doc, wf_error *err)
{
    wf_store_page first = { .limit = REPORT_UNITS },
                  failed = { .limit = REPORT_FAILURES, .status = "failed" };
    json_object *more = NULL, *tasks, *more_tasks;
    int rc = wf_store_run_page_json(store, id, &first, doc, err);

    if (rc != WF_OK)
        return rc;
    tasks = json_object_object_get(*doc, "tasks");
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        if (wf_cli_json_int(json_object_array_get_idx(tasks, i), "next_index", -1) >= 0) {
            rc = wf_store_run_page_json(store, id, &failed, &more, err);
            break;
        }
    }
    if (rc != WF_OK || more == NULL)
        return rc;
    more_tasks = json_object_object_get(more, "tasks");
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        json_object *t = json_object_array_get_idx(tasks, i),
                    *mt = json_object_array_get_idx(more_tasks, i),
                    *units = json_object_object_get(t, "units"),
                    *mu = json_object_object_get(mt, "units");
        int64_t next = wf_cli_json_int(t, "next_index", -1);

        /* The same tasks in the same order: one snapshot each, of a run that only grows. */
        if (next < 0 || mt == NULL || wf_cli_json_str(t, "name") == NULL ||
            wf_cli_json_str(mt, "name") == NULL ||
            strcmp(wf_cli_json_str(t, "name"), wf_cli_json_str(mt, "name")) != 0)
            continue;
        for (size_t k = 0; k < json_object_array_length(mu); k++) {
            json_object *u = json_object_array_get_idx(mu, k);

            if (wf_cli_json_int(u, "index", -1) >= next)
                json_object_array_add(units, json_object_get(u));
        }
    }
    json_object_put(more);
    return WF_OK;
}

int wf_cli_report(int argc, char **argv)
{
    const char *store_dir = NULL, *output = NULL, *spec = NULL;
    wf_store *store = NULL;
    json_object *doc = NULL;
    wf_cli_report_run r = { 0 };
    char id[64];
    wf_error err;
    int status;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

        if (wf_cli_is_help(arg)) {
            fputs(report_help, stdout);
            return WF_EXIT_OK;
        }
        if ((strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0 ||
             strcmp(arg, "--store") == 0) &&
            val == NULL) {
            wf_cli_errorf("report: %s needs a value (see wfengine report --help)", arg);
            return WF_EXIT_USAGE;
        }
        if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
            output = val;
            i++;
        } else if (strcmp(arg, "--store") == 0) {
            store_dir = val;
            i++;
        } else if (arg[0] == '-' && arg[1] != '\0') {
            wf_cli_errorf("report: unknown option '%s' (see wfengine report --help)", arg);
            return WF_EXIT_USAGE;
        } else if (spec == NULL) {
            spec = arg;
        } else {
            wf_cli_errorf("report: unexpected argument '%s' (see wfengine report --help)", arg);
            return WF_EXIT_USAGE;
        }
    }
    if (spec == NULL || output == NULL) {
        if (spec != NULL)
            wf_cli_errorf("report: -o FILE.html is required (-o - writes to stdout)");
        fputs(report_help, stderr);
        return WF_EXIT_USAGE;
    }
    if (output[0] == '\0') {
        wf_cli_errorf("report: -o needs a file name (-o - writes to stdout)");
        return WF_EXIT_USAGE;
    }
    status = wf_cli_open_existing_store(store_dir, &store);
    if (status != WF_EXIT_OK)
        return status;
    wf_error_init(&err);
    if (wf_store_resolve_run(store, spec, id, &err) != WF_OK ||
        read_run(store, id, &doc, &err) != WF_OK) {
        wf_cli_errorf("report: %s", err.message);
        status = err.code == WF_ESTORE ? WF_EXIT_STORE : WF_EXIT_USAGE;
        goto out;
    }
    r.doc = doc;
    r.run_id = id;
    if (json_object_object_get_ex(doc, "tasks", &r.tasks) &&
        !json_object_is_type(r.tasks, json_type_array))
        r.tasks = NULL;
    r.store = store;
    r.budget_problems = WF_CLI_REPORT_BUDGET_PROBLEMS;
    r.budget_ok = WF_CLI_REPORT_BUDGET_OK;
    wf_strbuf_init(&r.out);
    wf_cli_report_read(&r);
    write_header(&r);
    write_filters(&r);
    wf_cli_report_write_failures(&r);
    wf_cli_report_write_timeline(&r);
    wf_cli_report_write_table(&r);
    wf_strbuf_addf(&r.out,
                   "<footer>Made by wfengine %s from the run store. This page is self-contained: "
                   "its style and its one script are inline, nothing is loaded from elsewhere."
                   "</footer>\n<script>\n",
                   WF_VERSION);
    wf_cli_report_add_parts(&r.out, wf_cli_report_js);
    wf_strbuf_adds(&r.out, "</script>\n</body>\n</html>\n");
    if (!write_out(output, r.out.buf, r.out.len))
        status = WF_EXIT_USAGE;
    else if (strcmp(output, "-") != 0)
        fprintf(stderr, "wfengine: wrote the report of run %s (%lld units) to %s\n", id,
                (long long)r.n_units, output);
    wf_strbuf_release(&r.out);
    wf_cli_report_release(&r);
out:
    json_object_put(doc);
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}
