/*
 * report_data.c: what the parts of `wfengine report` (report.c, report_timeline.c) read from
 * the run document: the statuses with their names and colours, the tasks and their units
 * (one per task without items or per item, at its latest attempt), the counts and the span
 * of the timeline, and HTML escaping of anything that came from the run.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Ordered so that a higher value is worse: a merged bar takes the colour of its worst unit. */
const char *const wf_cli_report_st_names[WF_CLI_N_ST] = { "succeeded",   "skipped",   "running",
                                                          "interrupted", "cancelled", "failed" };
const char *const wf_cli_report_st_colors[WF_CLI_N_ST] = { "#2da44e", "#8c959f", "#0969da",
                                                           "#8250df", "#d4790a", "#cf222e" };
/* The order statuses are listed in on the page. */
const int wf_cli_report_st_order[WF_CLI_N_ST] = { WF_CLI_ST_SUCCEEDED, WF_CLI_ST_FAILED,
                                                  WF_CLI_ST_CANCELLED, WF_CLI_ST_SKIPPED,
                                                  WF_CLI_ST_RUNNING,   WF_CLI_ST_INTERRUPTED };

int wf_cli_report_st_parse(const char *s)
{
    for (int i = 0; i < WF_CLI_N_ST; i++) {
        if (s != NULL && strcmp(s, wf_cli_report_st_names[i]) == 0)
            return i;
    }
    return WF_CLI_ST_RUNNING; /* no status yet: a unit of a run that was killed */
}

bool wf_cli_report_get_bool(json_object *o, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Appends at most max bytes of s (whole characters; 0: all), escaped for HTML text and
 * attributes alike. Bytes that are not UTF-8 and control characters become U+FFFD, so text
 * from processes can neither break the markup nor the encoding. */
void wf_cli_report_esc_n(wf_strbuf *sb, const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)(s != NULL ? s : "");
    const unsigned char *start = p;

    while (*p != '\0') {
        size_t n = wf_cli_utf8_len(p);

        if (max > 0 && (size_t)(p - start) + (n ? n : 1) > max) {
            wf_strbuf_adds(sb, "\xE2\x80\xA6"); /* … */
            return;
        }
        if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7F) {
            wf_strbuf_adds(sb, "\xEF\xBF\xBD"); /* U+FFFD */
            p++;
            continue;
        }
        switch (*p) {
        case '&':
            wf_strbuf_adds(sb, "&amp;");
            break;
        case '<':
            wf_strbuf_adds(sb, "&lt;");
            break;
        case '>':
            wf_strbuf_adds(sb, "&gt;");
            break;
        case '"':
            wf_strbuf_adds(sb, "&quot;");
            break;
        case '\'':
            wf_strbuf_adds(sb, "&#39;");
            break;
        default:
            wf_strbuf_add(sb, p, n);
            break;
        }
        p += n;
    }
}

void wf_cli_report_esc(wf_strbuf *sb, const char *s)
{
    wf_cli_report_esc_n(sb, s, 0);
}

/* NAME or NAME[INDEX], escaped. */
void wf_cli_report_esc_unit(wf_strbuf *sb, const char *task, int64_t index)
{
    wf_cli_report_esc(sb, task);
    if (index >= 0)
        wf_strbuf_addf(sb, "[%lld]", (long long)index);
}

/* ---- the run, read once ------------------------------------------------------------------ */

size_t wf_cli_report_n_tasks(const wf_cli_report_run *r)
{
    return r->tasks != NULL ? json_object_array_length(r->tasks) : 0;
}

json_object *wf_cli_report_task_units(json_object *task)
{
    json_object *units = NULL;

    if (!json_object_object_get_ex(task, "units", &units) || units == NULL ||
        !json_object_is_type(units, json_type_array))
        return NULL;
    return units;
}

size_t wf_cli_report_n_task_units(json_object *task)
{
    json_object *units = wf_cli_report_task_units(task);

    return units != NULL ? json_object_array_length(units) : 0;
}

/* Units come by index then attempt: the attempts of the unit at k are units[k..returned]. */
size_t wf_cli_report_unit_last(json_object *units, size_t k)
{
    size_t n = json_object_array_length(units);
    int64_t index = wf_cli_json_int(json_object_array_get_idx(units, k), "index", -1);

    while (k + 1 < n &&
           wf_cli_json_int(json_object_array_get_idx(units, k + 1), "index", -1) == index)
        k++;
    return k;
}

void wf_cli_report_count(wf_cli_report_run *r)
{
    int64_t end = wf_cli_json_int(r->doc, "ended_ms", 0);

    r->t0 = wf_cli_json_int(r->doc, "started_ms", 0);
    r->t1 = end > r->t0 ? end : r->t0;
    for (size_t i = 0; i < wf_cli_report_n_tasks(r); i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i),
                    *units = wf_cli_report_task_units(t);
        size_t n = wf_cli_report_n_task_units(t);

        r->task_counts[wf_cli_report_st_parse(wf_cli_json_str(t, "status"))]++;
        if (wf_cli_json_int(t, "ended_ms", 0) > r->t1)
            r->t1 = wf_cli_json_int(t, "ended_ms", 0);
        if (n == 0) {
            r->unit_counts[wf_cli_report_st_parse(wf_cli_json_str(t, "status"))]++;
            r->n_units++;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            json_object *u = json_object_array_get_idx(units, k);
            size_t last = wf_cli_report_unit_last(units, k);

            if (wf_cli_json_int(u, "ended_ms", 0) > r->t1)
                r->t1 = wf_cli_json_int(u, "ended_ms", 0);
            /* Clocks step: keep every bar inside the plot. */
            if (wf_cli_json_int(u, "started_ms", 0) > 0 &&
                wf_cli_json_int(u, "started_ms", 0) < r->t0)
                r->t0 = wf_cli_json_int(u, "started_ms", 0);
            if (k == last) {
                r->unit_counts[wf_cli_report_st_parse(wf_cli_json_str(u, "status"))]++;
                r->n_units++;
                if (wf_cli_json_int(u, "index", -1) >= 0)
                    r->n_items++;
            }
            r->n_attempts++;
        }
    }
}

/* "3 succeeded, 1 failed" from counts, in the page's order; "" when all are zero. */
void wf_cli_report_add_counts(wf_strbuf *sb, const int64_t counts[WF_CLI_N_ST], bool badges)
{
    bool first = true;

    for (int i = 0; i < WF_CLI_N_ST; i++) {
        int s = wf_cli_report_st_order[i];

        if (counts[s] == 0)
            continue;
        if (badges)
            wf_strbuf_addf(sb, "<span class=\"badge s-%s\">%lld %s</span> ",
                           wf_cli_report_st_names[s], (long long)counts[s],
                           wf_cli_report_st_names[s]);
        else
            wf_strbuf_addf(sb, "%s%lld %s", first ? "" : ", ", (long long)counts[s],
                           wf_cli_report_st_names[s]);
        first = false;
    }
}
