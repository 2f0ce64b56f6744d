/*
 * report_table.c: the table of `wfengine report` (see report.c): one <tbody> per task. A task
 * without items is one row; a with-items task (a fan-out) is a summary row with its counts per
 * state, its item rows folded under it (the page's script unfolds them). Each row: status,
 * attempts (each earlier one listed), start, duration, exit code, error or skip reason, and the
 * tails of the output of a unit that succeeded (a unit that did not has them in the failures
 * section, which the row links to). Past MAX_TABLE_UNITS items that succeeded, were skipped or
 * never started, the table lists only the units that did not (wf_cli_report_unit_kept), up to
 * MAX_TABLE_KEPT of those, and counts the rest per task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The table lists at most this many items that succeeded, were skipped or never started; the
 * rest are counted per task, so that a run of a hundred thousand items still gives a page a
 * browser opens at once. Units that failed are listed whatever their number. */
#define MAX_TABLE_UNITS 5000

/* Units that did not succeed are listed past that, up to this many; every one of those the
 * table leaves out is in the failures section. */
#define MAX_TABLE_KEPT 5000

#define N_COLUMNS  8
#define WF_STR_(x) #x
#define WF_STR(x)  WF_STR_(x)

/* One unit's row. */
static void write_unit_row(wf_cli_report_run *r, const wf_cli_report_unit *u)
{
    wf_strbuf *sb = &r->out;
    json_object *a = wf_cli_report_unit_json(u);
    const char *task = wf_cli_report_unit_task(u), *key = wf_cli_report_st_keys[u->state];
    int64_t start = wf_cli_json_int(a, "started_ms", 0), code = wf_cli_json_int(a, "exit_code", -1);
    /* Units the failures section lists have their anchor and their output there. */
    bool in_failures = wf_cli_report_unit_kept(u) || u->state == WF_CLI_ST_CANCELLED;

    wf_strbuf_addf(sb, "<tr class=\"unit%s\" data-s=\"%s\"", u->index >= 0 ? " item" : "", key);
    if (!in_failures) {
        wf_strbuf_adds(sb, " id=\"");
        wf_cli_report_esc_anchor(sb, task, u->index);
        wf_strbuf_adds(sb, "\"");
    }
    wf_strbuf_adds(sb, "><td class=\"name\"><a href=\"#");
    wf_cli_report_esc_anchor(sb, task, u->index);
    wf_strbuf_adds(sb, "\">");
    wf_cli_report_esc_unit_named(sb, u);
    wf_strbuf_adds(sb, "</a>");
    if (wf_cli_report_get_bool(a, "cached"))
        wf_strbuf_adds(sb, "<span class=\"mark\">cached</span>");
    if (wf_cli_report_get_bool(a, "reused"))
        wf_strbuf_adds(sb, "<span class=\"mark\">reused</span>");
    wf_strbuf_addf(sb, "</td><td class=\"t-%s\">%s</td><td class=\"num\">", key,
                   wf_cli_report_st_labels[u->state]);
    if (u->units != NULL && u->last > u->first) {
        wf_strbuf_addf(sb, "<details class=\"att\"><summary>%zu</summary>", u->last - u->first + 1);
        wf_cli_report_write_attempts(r, sb, u);
        wf_strbuf_adds(sb, "</details>");
    } else if (u->units != NULL) {
        wf_strbuf_adds(sb, "1");
    } else {
        wf_strbuf_adds(sb, "0");
    }
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    wf_cli_report_add_offset(r, sb, start);
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    wf_cli_report_add_duration(sb, start, wf_cli_json_int(a, "ended_ms", 0));
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    if (code >= 0)
        wf_strbuf_addf(sb, "%lld", (long long)code);
    wf_strbuf_adds(sb, "</td><td class=\"err\">");
    wf_cli_report_esc_n(sb, wf_cli_json_str(a, "error"), 2000);
    wf_strbuf_adds(sb, "</td><td class=\"out\">");
    if (in_failures) {
        const char *o = wf_cli_json_str(a, "stdout_hash"), *e = wf_cli_json_str(a, "stderr_hash");

        if ((o != NULL && o[0] != '\0') || (e != NULL && e[0] != '\0')) {
            wf_strbuf_adds(sb, "<a href=\"#");
            wf_cli_report_esc_anchor(sb, task, u->index);
            wf_strbuf_adds(sb, "\">in Failures</a>");
        }
    } else if (!wf_cli_report_write_tails(r, sb, u, WF_CLI_REPORT_TAIL_OK, &r->budget_ok, false)) {
        r->ok_logs_left_out++;
        wf_strbuf_adds(sb, "<span class=\"t-skipped\">not included</span>");
    }
    wf_strbuf_adds(sb, "</td></tr>\n");
}

/* The summary row of a fan-out: its counts per state, and the button that unfolds it. */
static void write_task_row(wf_cli_report_run *r, size_t i)
{
    wf_strbuf *sb = &r->out;
    json_object *t = json_object_array_get_idx(r->tasks, i);
    const char *name = wf_cli_json_str(t, "name");
    int state = wf_cli_report_state(t);
    int64_t start = wf_cli_json_int(t, "started_ms", 0), n_items = wf_cli_json_int(t, "n_items", 0);
    int64_t counts[WF_CLI_N_ST] = { 0 };

    for (size_t j = r->task_first[i]; j < r->task_first[i + 1]; j++)
        counts[r->units[j].state]++;
    if (!r->running)
        counts[wf_cli_report_missing_state(r, i)] += r->task_missing[i];
    for (int k = 0; k < WF_CLI_N_ST; k++)
        counts[k] += r->task_unread[i][k];
    wf_strbuf_addf(sb, "<tr class=\"task\" data-s=\"%s\" id=\"", wf_cli_report_st_keys[state]);
    wf_cli_report_esc_anchor(sb, name, -1);
    wf_strbuf_adds(sb, "\"><td class=\"name\"><button type=\"button\" class=\"tg\" "
                       "aria-expanded=\"false\" title=\"show or hide the items\">"
                       "\xE2\x96\xB8</button><a href=\"#");
    wf_cli_report_esc_anchor(sb, name, -1);
    wf_strbuf_adds(sb, "\">");
    wf_cli_report_esc(sb, name);
    wf_strbuf_addf(sb, "</a> <span class=\"mark\">%lld item%s", (long long)n_items,
                   n_items == 1 ? "" : "s");
    if (wf_cli_json_str(t, "source") != NULL) {
        wf_strbuf_adds(sb, ", pipelined from ");
        wf_cli_report_esc(sb, wf_cli_json_str(t, "source"));
    }
    wf_strbuf_addf(sb,
                   "</span></td><td class=\"t-%s\">%s</td>"
                   "<td class=\"num\"></td><td class=\"num\">",
                   wf_cli_report_st_keys[state], wf_cli_report_st_labels[state]);
    wf_cli_report_add_offset(r, sb, start);
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    wf_cli_report_add_duration(sb, start, wf_cli_json_int(t, "ended_ms", 0));
    wf_strbuf_adds(sb, "</td><td class=\"num\"></td><td class=\"err\" colspan=\"2\">"
                       "<span class=\"counts\">");
    wf_cli_report_add_counts(sb, counts, true);
    wf_strbuf_adds(sb, "</span>");
    wf_cli_report_esc_n(sb, wf_cli_json_str(t, "error"), 2000);
    wf_strbuf_adds(sb, "</td></tr>\n");
}

/* What happened to items without a record, by wf_cli_report_missing_state. */
static const char *missing_words(int state)
{
    switch (state) {
    case WF_CLI_ST_RUNNING:
        return "not ended yet";
    case WF_CLI_ST_INTERRUPTED:
        return "did not end before the run's process died";
    case WF_CLI_ST_SKIPPED:
        return "skipped with the task";
    default:
        return "never started";
    }
}

/* Counts what the cap left out of one task, and the row that says so. */
typedef struct left_out {
    int64_t counts[WF_CLI_N_ST], n, first, last;
} left_out;

static void write_more_row(wf_cli_report_run *r, const char *name, const left_out *m)
{
    wf_strbuf *sb = &r->out;

    wf_strbuf_addf(sb, "<tr class=\"more\"><td colspan=\"%d\">%lld more item%s of ", N_COLUMNS,
                   (long long)m->n, m->n == 1 ? "" : "s");
    wf_cli_report_esc(sb, name);
    wf_strbuf_adds(sb, " not listed (");
    wf_cli_report_esc_unit(sb, name, m->first);
    wf_strbuf_adds(sb, " to ");
    wf_cli_report_esc_unit(sb, name, m->last);
    wf_strbuf_adds(sb, "): ");
    wf_cli_report_add_counts(sb, m->counts, false);
    wf_strbuf_adds(sb, "</td></tr>\n");
}

void wf_cli_report_write_table(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out;
    int64_t listed = 0, kept = 0, listed_kept = 0;

    for (size_t j = 0; j < r->n_unit_rows; j++)
        kept += r->units[j].index >= 0 && wf_cli_report_unit_kept(&r->units[j]);
    wf_strbuf_adds(sb, "<section id=\"units\">\n<h2>Tasks and items</h2>\n");
    if (r->n_items - kept > MAX_TABLE_UNITS || kept > MAX_TABLE_KEPT) {
        wf_strbuf_addf(sb,
                       "<p class=\"note\" id=\"truncated\">This run has %lld items: the table "
                       "lists every one that failed, was interrupted or was cancelled after it "
                       "started (%lld%s), the first %d of the others, and counts the rest per "
                       "task (<code>wfengine show ",
                       (long long)r->n_items, (long long)kept,
                       kept > MAX_TABLE_KEPT
                           ? ": the first " WF_STR(MAX_TABLE_KEPT) ", and Failures lists every one"
                           : "",
                       MAX_TABLE_UNITS);
        wf_cli_report_esc(sb, r->run_id);
        wf_strbuf_adds(sb, "</code> lists every one). The timeline shows them all.</p>\n");
    }
    wf_strbuf_adds(sb, "<table id=\"units-table\">\n<thead><tr><th>Task / item</th>"
                       "<th>Status</th><th>Attempts</th><th>Start</th><th>Duration</th>"
                       "<th>Exit</th><th>Error or reason</th><th>Output</th></tr></thead>\n");
    for (size_t i = 0; i < wf_cli_report_n_tasks(r); i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i);
        const char *name = wf_cli_json_str(t, "name");
        size_t from = r->task_first[i], to = r->task_first[i + 1];
        bool fan = (to > from && r->units[from].index >= 0) || r->task_missing[i] > 0;
        left_out more = { .first = -1 };

        wf_strbuf_adds(sb, fan ? "<tbody class=\"grp fan\">\n" : "<tbody class=\"grp\">\n");
        if (fan)
            write_task_row(r, i);
        for (size_t j = from; j < to; j++) {
            const wf_cli_report_unit *u = &r->units[j];

            bool keep = wf_cli_report_unit_kept(u);

            if (u->index >= 0 &&
                (keep ? listed_kept >= MAX_TABLE_KEPT : listed >= MAX_TABLE_UNITS)) {
                more.counts[u->state]++;
                if (more.n++ == 0)
                    more.first = u->index;
                more.last = u->index;
                continue;
            }
            write_unit_row(r, u);
            listed += u->index >= 0 && !keep;
            listed_kept += u->index >= 0 && keep;
        }
        if (more.n > 0)
            write_more_row(r, name, &more);
        if (r->task_unread_from[i] >= 0) {
            int64_t n = 0;

            for (int k = 0; k < WF_CLI_N_ST; k++)
                n += r->task_unread[i][k];
            wf_strbuf_addf(sb, "<tr class=\"more\"><td colspan=\"%d\">%lld more item%s of ",
                           N_COLUMNS, (long long)n, n == 1 ? "" : "s");
            wf_cli_report_esc(sb, name);
            wf_strbuf_addf(sb, " from index %lld on, not read for this page (",
                           (long long)r->task_unread_from[i]);
            wf_cli_report_add_counts(sb, r->task_unread[i], false);
            wf_strbuf_addf(sb, "): <code>wfengine show %s --offset %lld</code></td></tr>\n",
                           r->run_id, (long long)r->task_unread_from[i]);
        }
        if (r->task_missing[i] > 0) {
            wf_strbuf idx = WF_STRBUF_INIT;
            int64_t first, last;

            wf_cli_report_add_missing(r, i, &idx, &first, &last);
            wf_strbuf_addf(sb, "<tr class=\"more\"><td colspan=\"%d\">%lld item%s of ", N_COLUMNS,
                           (long long)r->task_missing[i], r->task_missing[i] == 1 ? "" : "s");
            wf_cli_report_esc(sb, name);
            wf_strbuf_addf(sb, " %s (no record in the store): ",
                           missing_words(wf_cli_report_missing_state(r, i)));
            wf_strbuf_adds(sb, wf_strbuf_str(&idx));
            wf_strbuf_adds(sb, "</td></tr>\n");
            wf_strbuf_release(&idx);
        }
        wf_strbuf_adds(sb, "</tbody>\n");
    }
    wf_strbuf_adds(sb, "</table>\n");
    if (r->ok_logs_left_out > 0) {
        wf_strbuf_addf(sb,
                       "<p class=\"note\" id=\"logs-left-out\">The page holds at most %d KiB of "
                       "the output of units that succeeded: %lld of them show \"not included\". "
                       "<code>wfengine logs ",
                       WF_CLI_REPORT_BUDGET_OK / 1024, (long long)r->ok_logs_left_out);
        wf_cli_report_esc(sb, r->run_id);
        wf_strbuf_adds(sb, " TASK[INDEX]</code> prints any unit's output.</p>\n");
    }
    wf_strbuf_adds(sb, "</section>\n");
}
