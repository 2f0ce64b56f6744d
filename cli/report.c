/*
 * wfengine report: one recorded run as a single self-contained HTML page (docs/cli.md): a
 * summary, a table of every task and item, and a timeline drawn as inline SVG. The page has no
 * scripts and refers to nothing outside itself, so it can be attached to a CI job, mailed or
 * opened offline. It is made only from the store (wf_store_run_json), and holds nothing that
 * depends on when it was made, so the same run always gives the same page. This file writes
 * the page's header and table and runs the command; report_timeline.c draws the timeline and
 * report_data.c reads the run for both.
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

static const char report_help[] =
    "usage: wfengine report RUN|last -o FILE.html [--store DIR]\n"
    "\n"
    "Writes one recorded run as a self-contained HTML page (no scripts, nothing fetched):\n"
    "the run's summary, a table of every task and item (NAME[INDEX]) with status, attempts,\n"
    "start, duration, exit code and error, and a timeline of when each unit ran. -o - writes\n"
    "the page to stdout. RUN is a run id or a unique prefix of one.\n"
    "\n"
    "Examples:\n"
    "  wfengine report last -o report.html\n"
    "  wfengine report 20261123-1930 -o - > run.html\n";

/* The table lists at most this many items; the rest are counted per task, so that a run of a
 * hundred thousand items still gives a page a browser opens at once. */
#define MAX_TABLE_UNITS 5000

static void add_duration(wf_strbuf *sb, int64_t start, int64_t end)
{
    if (start > 0 && end >= start)
        wf_duration_format(sb, end - start);
}

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

static const char css[] =
    "*{box-sizing:border-box}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:#1f2328;background:#fff;margin:0 auto;padding:20px 24px;max-width:1240px}"
    "h1{font-size:22px;margin:0 0 12px}h2{font-size:17px;margin:28px 0 8px}"
    "code,.mono{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,Consolas,monospace;"
    "font-size:12.5px}"
    "dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:3px 16px;margin:0}"
    "dl.meta dt{color:#59636e}dl.meta dd{margin:0;overflow-wrap:anywhere}"
    ".badge{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;"
    "font-size:12px;font-weight:600;margin:0 4px 2px 0;white-space:nowrap}"
    ".status{font-size:14px;padding:2px 10px}"
    ".s-succeeded{background:#2da44e}.s-failed{background:#cf222e}"
    ".s-cancelled{background:#d4790a}.s-skipped{background:#8c959f}"
    ".s-running{background:#0969da}.s-interrupted{background:#8250df}"
    ".t-succeeded{color:#1a7f37}.t-failed{color:#cf222e;font-weight:600}"
    ".t-cancelled{color:#bc4c00}.t-skipped{color:#6e7781}.t-running{color:#0969da}"
    ".t-interrupted{color:#8250df}"
    ".note{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;"
    "margin:8px 0}"
    ".legend{margin:4px 0 6px;font-size:12.5px;color:#59636e}"
    ".legend i{display:inline-block;width:11px;height:11px;border-radius:2px;"
    "vertical-align:-1px;margin:2px 4px 0 0}.legend i~i{margin-left:12px}"
    ".timeline{border:1px solid #d0d7de;border-radius:6px;overflow-x:auto}"
    ".timeline svg{display:block;width:100%;height:auto;min-width:760px}"
    "svg text{font-family:system-ui,'DejaVu Sans',sans-serif;font-size:12px;fill:#1f2328}"
    "svg .tick{font-size:11px;fill:#59636e}svg .why{font-size:11px;fill:#6e7781;"
    "font-style:italic}"
    "table{border-collapse:collapse;width:100%;font-size:13px}"
    "th,td{text-align:left;padding:3px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}"
    "th{position:sticky;top:0;background:#f6f8fa;border-bottom:1px solid #d0d7de}"
    "td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "td.err{overflow-wrap:anywhere;max-width:420px}"
    "tr.task td{background:#f6f8fa;font-weight:600;border-top:1px solid #d0d7de}"
    "tr.unit td:first-child{padding-left:22px}"
    "tr.more td{color:#59636e;font-style:italic}"
    ".mark{font-size:11px;color:#59636e;border:1px solid #d0d7de;border-radius:8px;"
    "padding:0 5px;margin-left:4px;font-weight:400}"
    "footer{margin-top:24px;color:#6e7781;font-size:12px}";

static void write_header(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out;
    const char *workflow = wf_cli_json_str(r->doc, "workflow"),
               *status = wf_cli_json_str(r->doc, "status");
    const char *resumed = wf_cli_json_str(r->doc, "resumed_from"),
               *sha = wf_cli_json_str(r->doc, "file_sha256");
    int64_t start = wf_cli_json_int(r->doc, "started_ms", 0),
            end = wf_cli_json_int(r->doc, "ended_ms", 0);

    wf_strbuf_adds(sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                       "<title>wfengine run ");
    wf_cli_report_esc(sb, r->run_id);
    wf_strbuf_adds(sb, " (");
    wf_cli_report_esc(sb, workflow);
    wf_strbuf_addf(sb, ")</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
    wf_cli_report_esc(sb, workflow != NULL ? workflow : "workflow");
    wf_strbuf_addf(sb, " <span class=\"badge status s-%s\" id=\"run-status\">%s</span></h1>\n",
                   wf_cli_report_st_names[wf_cli_report_st_parse(status)],
                   wf_cli_report_st_names[wf_cli_report_st_parse(status)]);
    if (wf_cli_report_st_parse(status) == WF_CLI_ST_INTERRUPTED) {
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
        add_duration(sb, start, end);
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

/* ---- the table --------------------------------------------------------------------------- */

/* One row of the table for the attempts units[first..last] of one unit. */
static void write_unit_row(wf_cli_report_run *r, const char *task, json_object *units, size_t first,
                           size_t last, bool item)
{
    wf_strbuf *sb = &r->out;
    json_object *u = json_object_array_get_idx(units, last);
    int status = wf_cli_report_st_parse(wf_cli_json_str(u, "status"));
    int64_t start = wf_cli_json_int(u, "started_ms", 0), code = wf_cli_json_int(u, "exit_code", -1);

    wf_strbuf_addf(sb, "<tr class=\"%s\"><td>", item ? "unit" : "task-unit");
    wf_cli_report_esc_unit(sb, task, wf_cli_json_int(u, "index", -1));
    if (wf_cli_report_get_bool(u, "cached"))
        wf_strbuf_adds(sb, "<span class=\"mark\">cached</span>");
    if (wf_cli_report_get_bool(u, "reused"))
        wf_strbuf_adds(sb, "<span class=\"mark\">reused</span>");
    wf_strbuf_addf(sb, "</td><td class=\"t-%s\">%s</td><td class=\"num\"",
                   wf_cli_report_st_names[status], wf_cli_report_st_names[status]);
    if (last > first) {
        /* Earlier attempts are in the cell's tooltip (and on the timeline). */
        wf_strbuf_adds(sb, " title=\"");
        for (size_t k = first; k < last; k++) {
            json_object *a = json_object_array_get_idx(units, k);

            wf_strbuf_addf(
                sb, "%sattempt %lld: %s", k > first ? "&#10;" : "",
                (long long)wf_cli_json_int(a, "attempt", 1),
                wf_cli_report_st_names[wf_cli_report_st_parse(wf_cli_json_str(a, "status"))]);
            if (wf_cli_json_str(a, "error") != NULL) {
                wf_strbuf_adds(sb, ", ");
                wf_cli_report_esc_n(sb, wf_cli_json_str(a, "error"), 200);
            }
        }
        wf_strbuf_adds(sb, "\"");
    }
    wf_strbuf_addf(sb, ">%lld</td><td class=\"num\">", (long long)wf_cli_json_int(u, "attempt", 1));
    if (start > 0) {
        wf_strbuf_adds(sb, "+");
        wf_duration_format(sb, start - r->t0);
    }
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    add_duration(sb, start, wf_cli_json_int(u, "ended_ms", 0));
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    if (code >= 0)
        wf_strbuf_addf(sb, "%lld", (long long)code);
    wf_strbuf_adds(sb, "</td><td class=\"err\">");
    wf_cli_report_esc(sb, wf_cli_json_str(u, "error"));
    wf_strbuf_adds(sb, "</td></tr>\n");
}

/* The row of a task itself: a with-items task's summary, or a task that has no units. */
static void write_task_row(wf_cli_report_run *r, json_object *t, bool has_units)
{
    wf_strbuf *sb = &r->out;
    int status = wf_cli_report_st_parse(wf_cli_json_str(t, "status"));
    int64_t start = wf_cli_json_int(t, "started_ms", 0), n_items = wf_cli_json_int(t, "n_items", 0);

    wf_strbuf_adds(sb, "<tr class=\"task\"><td>");
    wf_cli_report_esc(sb, wf_cli_json_str(t, "name"));
    if (n_items > 0 || wf_cli_report_get_bool(t, "with_items"))
        wf_strbuf_addf(sb, " <span class=\"mark\">%lld item%s</span>", (long long)n_items,
                       n_items == 1 ? "" : "s");
    wf_strbuf_addf(sb, "</td><td class=\"t-%s\">%s</td><td class=\"num\">%s</td><td class=\"num\">",
                   wf_cli_report_st_names[status], wf_cli_report_st_names[status],
                   has_units ? "" : "0");
    if (start > 0) {
        wf_strbuf_adds(sb, "+");
        wf_duration_format(sb, start - r->t0);
    }
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    add_duration(sb, start, wf_cli_json_int(t, "ended_ms", 0));
    wf_strbuf_adds(sb, "</td><td class=\"num\"></td><td class=\"err\">");
    wf_cli_report_esc(sb, wf_cli_json_str(t, "error"));
    wf_strbuf_adds(sb, "</td></tr>\n");
}

static void write_table(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out;
    int64_t listed = 0;

    wf_strbuf_adds(sb, "<section id=\"units\">\n<h2>Tasks and items</h2>\n");
    if (r->n_items > MAX_TABLE_UNITS) {
        wf_strbuf_addf(sb,
                       "<p class=\"note\" id=\"truncated\">This run has %lld items: the table "
                       "lists the first %d and counts the others per task (<code>wfengine "
                       "show ",
                       (long long)r->n_items, MAX_TABLE_UNITS);
        wf_cli_report_esc(sb, r->run_id);
        wf_strbuf_adds(sb, "</code> lists every one). The timeline shows them all.</p>\n");
    }
    wf_strbuf_adds(sb, "<table id=\"units-table\">\n<thead><tr><th>Task / item</th>"
                       "<th>Status</th><th>Attempts</th><th>Start</th><th>Duration</th>"
                       "<th>Exit</th><th>Error</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < wf_cli_report_n_tasks(r); i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i),
                    *units = wf_cli_report_task_units(t);
        const char *name = wf_cli_json_str(t, "name");
        size_t n = wf_cli_report_n_task_units(t), k = 0;
        bool items =
            wf_cli_report_get_bool(t, "with_items") || wf_cli_json_int(t, "n_items", 0) > 0;
        int64_t more_counts[WF_CLI_N_ST] = { 0 }, more = 0, more_first = -1, more_last = -1;

        if (items || n == 0)
            write_task_row(r, t, n > 0);
        while (k < n) {
            size_t last = wf_cli_report_unit_last(units, k);
            json_object *u = json_object_array_get_idx(units, last);
            bool item = wf_cli_json_int(u, "index", -1) >= 0;

            if (item && listed >= MAX_TABLE_UNITS) {
                more_counts[wf_cli_report_st_parse(wf_cli_json_str(u, "status"))]++;
                if (more++ == 0)
                    more_first = wf_cli_json_int(u, "index", -1);
                more_last = wf_cli_json_int(u, "index", -1);
            } else {
                write_unit_row(r, name, units, k, last, item);
                if (item)
                    listed++;
            }
            k = last + 1;
        }
        if (more > 0) {
            wf_strbuf_addf(sb, "<tr class=\"more\"><td colspan=\"7\">%lld more item%s of ",
                           (long long)more, more == 1 ? "" : "s");
            wf_cli_report_esc(sb, name);
            wf_strbuf_adds(sb, " not listed (");
            wf_cli_report_esc_unit(sb, name, more_first);
            wf_strbuf_adds(sb, " to ");
            wf_cli_report_esc_unit(sb, name, more_last);
            wf_strbuf_adds(sb, "): ");
            wf_cli_report_add_counts(sb, more_counts, false);
            wf_strbuf_adds(sb, "</td></tr>\n");
        }
    }
    wf_strbuf_adds(sb, "</tbody>\n</table>\n</section>\n");
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
        wf_store_run_json(store, id, &doc, &err) != WF_OK) {
        wf_cli_errorf("report: %s", err.message);
        status = err.code == WF_ESTORE ? WF_EXIT_STORE : WF_EXIT_USAGE;
        goto out;
    }
    r.doc = doc;
    r.run_id = id;
    if (json_object_object_get_ex(doc, "tasks", &r.tasks) &&
        !json_object_is_type(r.tasks, json_type_array))
        r.tasks = NULL;
    wf_strbuf_init(&r.out);
    wf_cli_report_count(&r);
    write_header(&r);
    wf_cli_report_write_timeline(&r);
    write_table(&r);
    wf_strbuf_addf(&r.out,
                   "<footer>Made by wfengine %s from the run store. This page is self-contained: "
                   "no scripts, nothing loaded from elsewhere.</footer>\n</body>\n</html>\n",
                   WF_VERSION);
    if (!write_out(output, r.out.buf, r.out.len))
        status = WF_EXIT_USAGE;
    else if (strcmp(output, "-") != 0)
        fprintf(stderr, "wfengine: wrote the report of run %s (%lld units) to %s\n", id,
                (long long)r.n_units, output);
    wf_strbuf_release(&r.out);
out:
    json_object_put(doc);
    wf_error_release(&err);
    return wf_cli_close_store(store, status);
}
