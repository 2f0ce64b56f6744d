/*
 * report_data.c: what the parts of `wfengine report` (report*.c) read from the run document:
 * the states a unit is shown in with their names and colours, the run's units (one per task
 * without items, per item, or per task that has none) read once into an array, the counts and
 * the span of the timeline, and HTML escaping of anything that came from the run.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Ordered so that a higher value is worse: a merged bar takes the colour of its worst unit. */
const char *const wf_cli_report_st_keys[WF_CLI_N_ST] = { "succeeded", "retried", "skipped",
                                                         "ignored",   "running", "interrupted",
                                                         "cancelled", "failed" };
const char *const wf_cli_report_st_labels[WF_CLI_N_ST] = { "succeeded", "failed, retried",
                                                           "skipped",   "failed, ignored",
                                                           "running",   "interrupted",
                                                           "cancelled", "failed" };
const char *const wf_cli_report_st_colors[WF_CLI_N_ST] = { "#2da44e", "#ee9aa0", "#8c959f",
                                                           "#bf8700", "#0969da", "#8250df",
                                                           "#d4790a", "#cf222e" };
/* The order states are listed in on the page. */
const int wf_cli_report_st_order[WF_CLI_N_ST] = { WF_CLI_ST_SUCCEEDED,   WF_CLI_ST_FAILED,
                                                  WF_CLI_ST_IGNORED,     WF_CLI_ST_CANCELLED,
                                                  WF_CLI_ST_SKIPPED,     WF_CLI_ST_RUNNING,
                                                  WF_CLI_ST_INTERRUPTED, WF_CLI_ST_RETRIED };

int wf_cli_report_state(json_object *o)
{
    const char *s = wf_cli_json_str(o, "status");

    if (s == NULL)
        return WF_CLI_ST_RUNNING; /* no status yet: a unit of a run that was killed */
    if (strcmp(s, "failed") == 0)
        return wf_cli_report_get_bool(o, "ignored") ? WF_CLI_ST_IGNORED : WF_CLI_ST_FAILED;
    for (int i = 0; i < WF_CLI_N_ST; i++) {
        if (i != WF_CLI_ST_RETRIED && i != WF_CLI_ST_IGNORED &&
            strcmp(s, wf_cli_report_st_keys[i]) == 0)
            return i;
    }
    return WF_CLI_ST_RUNNING;
}

int wf_cli_report_attempt_state(const wf_cli_report_unit *u, size_t k)
{
    int state;

    if (u->units == NULL)
        return u->state;
    state = wf_cli_report_state(json_object_array_get_idx(u->units, k));
    return k < u->last && (state == WF_CLI_ST_FAILED || state == WF_CLI_ST_IGNORED)
               ? WF_CLI_ST_RETRIED
               : state;
}

json_object *wf_cli_report_unit_json(const wf_cli_report_unit *u)
{
    return u->units != NULL ? json_object_array_get_idx(u->units, u->last) : u->task;
}

bool wf_cli_report_unit_started(const wf_cli_report_unit *u)
{
    return wf_cli_json_int(wf_cli_report_unit_json(u), "started_ms", 0) > 0;
}

const char *wf_cli_report_unit_task(const wf_cli_report_unit *u)
{
    return wf_cli_json_str(u->task, "name");
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

void wf_cli_report_esc_unit_named(wf_strbuf *sb, const wf_cli_report_unit *u)
{
    const char *label = u->index >= 0 && u->units != NULL
                            ? wf_cli_json_str(wf_cli_report_unit_json(u), "label")
                            : NULL;

    wf_cli_report_esc_unit(sb, wf_cli_report_unit_task(u), u->index);
    if (label != NULL && label[0] != '\0') {
        wf_strbuf_adds(sb, " <span class=\"label\">(");
        wf_cli_report_esc(sb, label);
        wf_strbuf_adds(sb, ")</span>");
    }
}

void wf_cli_report_esc_anchor(wf_strbuf *sb, const char *task, int64_t index)
{
    wf_cli_report_esc(sb, task);
    if (index >= 0)
        wf_strbuf_addf(sb, "/%lld", (long long)index);
}

/* ---- the run, read once ------------------------------------------------------------------ */

size_t wf_cli_report_n_tasks(const wf_cli_report_run *r)
{
    return r->tasks != NULL ? json_object_array_length(r->tasks) : 0;
}

static json_object *task_units(json_object *task)
{
    json_object *units = NULL;

    if (!json_object_object_get_ex(task, "units", &units) || units == NULL ||
        !json_object_is_type(units, json_type_array))
        return NULL;
    return units;
}

/* Units come by index then attempt: the attempts of the unit at k are units[k..returned]. */
static size_t unit_last(json_object *units, size_t k)
{
    size_t n = json_object_array_length(units);
    int64_t index = wf_cli_json_int(json_object_array_get_idx(units, k), "index", -1);

    while (k + 1 < n &&
           wf_cli_json_int(json_object_array_get_idx(units, k + 1), "index", -1) == index)
        k++;
    return k;
}

/* Widens the timeline's span to [start, end] (clocks step: every bar stays inside the plot). */
static void widen(wf_cli_report_run *r, json_object *o)
{
    int64_t start = wf_cli_json_int(o, "started_ms", 0), end = wf_cli_json_int(o, "ended_ms", 0);

    if (start > 0 && start < r->t0)
        r->t0 = start;
    if (end > r->t1)
        r->t1 = end;
}

/* The report state of a unit status of the store's counts. */
static int count_state(const char *status)
{
    if (strcmp(status, "failed") == 0)
        return WF_CLI_ST_FAILED;
    for (int i = 0; i < WF_CLI_N_ST; i++) {
        if (strcmp(status, wf_cli_report_st_keys[i]) == 0)
            return i;
    }
    return WF_CLI_ST_RUNNING;
}

/* Task i's units that the store counts but the page did not read (a task with more units
 * than the report reads): into r->task_unread by state and the totals. Returns how many. */
static int64_t count_unread(wf_cli_report_run *r, size_t i, json_object *t)
{
    json_object *counts = NULL;
    int64_t total = 0;

    r->task_unread_from[i] = wf_cli_json_int(t, "next_index", -1);
    if (r->task_unread_from[i] < 0 || !json_object_object_get_ex(t, "counts", &counts))
        return 0;
    json_object_object_foreach(counts, status, n)
    {
        int64_t unread = json_object_get_int64(n);

        for (size_t j = r->task_first[i]; j < r->n_unit_rows; j++) {
            const char *s = wf_cli_json_str(wf_cli_report_unit_json(&r->units[j]), "status");

            unread -= r->units[j].index >= 0 && s != NULL && strcmp(s, status) == 0;
        }
        if (unread <= 0)
            continue;
        r->task_unread[i][count_state(status)] += unread;
        r->unit_counts[count_state(status)] += unread;
        r->n_units += unread;
        r->n_items += unread;
        total += unread;
    }
    return total;
}

void wf_cli_report_read(wf_cli_report_run *r)
{
    int64_t end = wf_cli_json_int(r->doc, "ended_ms", 0);
    size_t n_tasks = wf_cli_report_n_tasks(r), cap = 0;

    r->t0 = wf_cli_json_int(r->doc, "started_ms", 0);
    r->t1 = end > r->t0 ? end : r->t0;
    r->task_first = wf_xcalloc(n_tasks + 1, sizeof(*r->task_first));
    r->task_missing = wf_xcalloc(n_tasks + 1, sizeof(*r->task_missing));
    r->task_unread = wf_xcalloc(n_tasks + 1, sizeof(*r->task_unread));
    r->task_unread_from = wf_xcalloc(n_tasks + 1, sizeof(*r->task_unread_from));
    r->running = wf_cli_report_state(r->doc) == WF_CLI_ST_RUNNING;
    for (size_t i = 0; i < n_tasks; i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i), *units = task_units(t);
        size_t n = units != NULL ? json_object_array_length(units) : 0;

        r->task_first[i] = r->n_unit_rows;
        r->task_unread_from[i] = -1;
        r->task_counts[wf_cli_report_state(t)]++;
        widen(r, t);
        /* A task with no unit is one, unless it has items (counted as missing below). */
        bool placeholder = n == 0 && !(wf_cli_report_get_bool(t, "with_items") &&
                                       wf_cli_json_int(t, "n_items", 0) > 0);

        for (size_t k = 0; k < n || (k == 0 && placeholder);) {
            wf_cli_report_unit *u;

            if (r->n_unit_rows == cap) {
                cap = cap ? cap * 2 : 64;
                r->units = wf_xrealloc(r->units, cap * sizeof(*r->units));
            }
            u = &r->units[r->n_unit_rows++];
            u->task = t;
            u->units = n > 0 ? units : NULL;
            u->first = k;
            u->last = n > 0 ? unit_last(units, k) : 0;
            u->index =
                n > 0 ? wf_cli_json_int(json_object_array_get_idx(units, k), "index", -1) : -1;
            u->state = wf_cli_report_state(wf_cli_report_unit_json(u));
            r->unit_counts[u->state]++;
            r->n_units++;
            if (u->index >= 0)
                r->n_items++;
            for (; k <= u->last && n > 0; k++) {
                widen(r, json_object_array_get_idx(units, k));
                r->n_attempts++;
            }
            if (n == 0)
                break;
        }
        if (wf_cli_report_get_bool(t, "with_items")) {
            int64_t recorded = 0;

            for (size_t j = r->task_first[i]; j < r->n_unit_rows; j++)
                recorded += r->units[j].index >= 0;
            recorded += count_unread(r, i, t);
            if (wf_cli_json_int(t, "n_items", 0) > recorded)
                r->task_missing[i] = wf_cli_json_int(t, "n_items", 0) - recorded;
            if (!r->running) {
                r->unit_counts[wf_cli_report_missing_state(r, i)] += r->task_missing[i];
                r->n_units += r->task_missing[i];
                r->n_items += r->task_missing[i];
            }
        }
    }
    r->task_first[n_tasks] = r->n_unit_rows;
}

void wf_cli_report_release(wf_cli_report_run *r)
{
    free(r->units);
    free(r->task_first);
    free(r->task_missing);
    free(r->task_unread);
    free(r->task_unread_from);
    r->task_missing = NULL;
    r->task_unread = NULL;
    r->task_unread_from = NULL;
    r->units = NULL;
    r->task_first = NULL;
}

int wf_cli_report_missing_state(const wf_cli_report_run *r, size_t i)
{
    int task = wf_cli_report_state(json_object_array_get_idx(r->tasks, i));

    if (r->running)
        return WF_CLI_ST_RUNNING;
    if (task == WF_CLI_ST_INTERRUPTED || task == WF_CLI_ST_SKIPPED)
        return task;
    return WF_CLI_ST_CANCELLED;
}

void wf_cli_report_add_missing(const wf_cli_report_run *r, size_t i, wf_strbuf *sb, int64_t *first,
                               int64_t *last)
{
    int64_t n = wf_cli_json_int(json_object_array_get_idx(r->tasks, i), "n_items", 0), from = -1;
    bool *seen = wf_xcalloc(n > 0 ? (size_t)n : 1, sizeof(*seen)), any = false;

    *first = *last = -1;
    for (size_t j = r->task_first[i]; j < r->task_first[i + 1]; j++) {
        if (r->units[j].index >= 0 && r->units[j].index < n)
            seen[r->units[j].index] = true;
    }
    for (int64_t k = 0; k <= n; k++) {
        if (k < n && !seen[k]) {
            if (from < 0)
                from = k;
            if (*first < 0)
                *first = k;
            *last = k;
            continue;
        }
        if (from < 0)
            continue;
        wf_strbuf_addf(sb, "%s%lld", any ? ", " : "", (long long)from);
        if (k - 1 > from)
            wf_strbuf_addf(sb, "-%lld", (long long)(k - 1));
        any = true;
        from = -1;
    }
    free(seen);
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
                           wf_cli_report_st_keys[s], (long long)counts[s],
                           wf_cli_report_st_labels[s]);
        else
            wf_strbuf_addf(sb, "%s%lld %s", first ? "" : ", ", (long long)counts[s],
                           wf_cli_report_st_labels[s]);
        first = false;
    }
}

void wf_cli_report_add_duration(wf_strbuf *sb, int64_t start, int64_t end)
{
    if (start > 0 && end >= start)
        wf_duration_format(sb, end - start);
}

void wf_cli_report_add_offset(const wf_cli_report_run *r, wf_strbuf *sb, int64_t start)
{
    if (start > 0) {
        wf_strbuf_adds(sb, "+");
        wf_duration_format(sb, start - r->t0);
    }
}
