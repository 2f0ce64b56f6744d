/*
 * report_failures.c: the failures-first section of `wfengine report` (see report.c): every
 * unit that failed, was interrupted, was cancelled or had its failure ignored, real failures
 * first, each with its error, its earlier attempts and the tails of its stdout and stderr.
 * The list is never cut short; units cancelled before they started (a fail-fast or a stop)
 * are folded into one entry per task and reason, which still names every index. Also the
 * tails themselves (read from the store's blobs), which the table uses for units that
 * succeeded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_store.h"

#include "cli.h"

/* True for the states the section lists. */
static bool is_problem(int state)
{
    return state == WF_CLI_ST_FAILED || state == WF_CLI_ST_INTERRUPTED ||
           state == WF_CLI_ST_CANCELLED || state == WF_CLI_ST_IGNORED;
}

/* ---- output tails ------------------------------------------------------------------------ */

static void add_size(wf_strbuf *sb, size_t n)
{
    if (n < 1024)
        wf_strbuf_addf(sb, "%zu byte%s", n, n == 1 ? "" : "s");
    else if (n < 1024 * 1024)
        wf_strbuf_addf(sb, "%.1f KiB", (double)n / 1024.0);
    else
        wf_strbuf_addf(sb, "%.1f MiB", (double)n / (1024.0 * 1024.0));
}

static size_t count_lines(const char *s, size_t len)
{
    size_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += s[i] == '\n';
    return n + (len > 0 && s[len - 1] != '\n');
}

/* Where the tail of at most cap bytes of s starts: at a line's start when one is in it, else
 * at a character's. */
static size_t tail_start(const char *s, size_t len, size_t cap)
{
    size_t at;
    const char *nl;

    if (len <= cap)
        return 0;
    at = len - cap;
    nl = memchr(s + at, '\n', len - at - 1);
    if (nl != NULL)
        return (size_t)(nl - s) + 1;
    while (at < len && ((unsigned char)s[at] & 0xC0) == 0x80)
        at++;
    return at;
}

/* Appends s[0..len) for a <pre>: terminal escape sequences (colours, titles) dropped, "\r\n"
 * and a lone "\r" as a new line, then HTML-escaped. */
static void add_log_text(wf_strbuf *sb, const char *s, size_t len)
{
    wf_strbuf clean = WF_STRBUF_INIT;

    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\x1b' && i + 1 < len && s[i + 1] == '[') {
            i += 2; /* CSI: parameters, then one final byte in @..~ */
            while (i < len && !((unsigned char)s[i] >= 0x40 && (unsigned char)s[i] <= 0x7E))
                i++;
        } else if (s[i] == '\x1b' && i + 1 < len && s[i + 1] == ']') {
            i += 2; /* OSC: up to BEL or ESC \ */
            while (i < len && s[i] != '\a' && !(s[i] == '\x1b' && i + 1 < len && s[i + 1] == '\\'))
                i++;
            if (i < len && s[i] == '\x1b')
                i++;
        } else if (s[i] == '\r') {
            if (i + 1 >= len || s[i + 1] != '\n')
                wf_strbuf_adds(&clean, "\n");
        } else {
            wf_strbuf_add(&clean, &s[i], 1);
        }
    }
    wf_cli_report_esc(sb, wf_strbuf_str(&clean));
    wf_strbuf_release(&clean);
}

/* One stream's tail, read from its blob. */
typedef struct tail {
    const char *name; /* "stdout" or "stderr" */
    char *data;       /* the whole blob (owned), or NULL */
    size_t len, from; /* its length, and where the shown tail starts */
    char *error;      /* why it could not be read (owned), or NULL */
} tail;

static void tail_read(wf_cli_report_run *r, json_object *a, tail *t, size_t cap)
{
    const char *hash =
        wf_cli_json_str(a, strcmp(t->name, "stdout") == 0 ? "stdout_hash" : "stderr_hash");
    wf_error err;

    if (hash == NULL || hash[0] == '\0' || r->store == NULL)
        return;
    wf_error_init(&err);
    if (wf_store_get_blob(r->store, hash, &t->data, &t->len, &err) != WF_OK) {
        t->error = wf_xstrdup(err.message);
        t->data = NULL;
        t->len = 0;
    } else {
        t->from = tail_start(t->data, t->len, cap);
    }
    wf_error_release(&err);
}

static void tail_write(wf_cli_report_run *r, wf_strbuf *sb, const wf_cli_report_unit *u,
                       const tail *t, bool open)
{
    size_t shown = t->len - t->from;

    if (t->error != NULL) {
        wf_strbuf_addf(sb, "<p class=\"lost\">%s: not readable: ", t->name);
        wf_cli_report_esc(sb, t->error);
        wf_strbuf_adds(sb, "</p>\n");
        return;
    }
    if (t->len == 0)
        return;
    wf_strbuf_addf(sb, "<details class=\"log\"%s><summary>%s <span class=\"mark\">%zu line%s, ",
                   open ? " open" : "", t->name, count_lines(t->data, t->len),
                   count_lines(t->data, t->len) == 1 ? "" : "s");
    add_size(sb, t->len);
    wf_strbuf_adds(sb, "</span>");
    if (t->from > 0)
        wf_strbuf_adds(sb, " <span class=\"trunc\">truncated</span>");
    wf_strbuf_adds(sb, "</summary><pre>");
    if (t->from > 0) {
        wf_strbuf_adds(sb, "<span class=\"trunc\">\xE2\x80\xA6 truncated: the first ");
        add_size(sb, t->from);
        wf_strbuf_addf(sb, " (%zu lines) are not shown, the last ", count_lines(t->data, t->from));
        add_size(sb, shown);
        wf_strbuf_adds(sb, " are; all of it: <code>wfengine logs ");
        wf_cli_report_esc(sb, r->run_id);
        wf_strbuf_adds(sb, " ");
        wf_cli_report_esc_unit(sb, wf_cli_report_unit_task(u), u->index);
        wf_strbuf_addf(sb, "%s</code></span>\n", strcmp(t->name, "stderr") == 0 ? " --stderr" : "");
    }
    add_log_text(sb, t->data + t->from, shown);
    wf_strbuf_adds(sb, "</pre></details>\n");
}

bool wf_cli_report_write_tails(wf_cli_report_run *r, wf_strbuf *sb, const wf_cli_report_unit *u,
                               size_t cap, size_t *budget, bool open)
{
    tail ts[2] = { { .name = "stderr" }, { .name = "stdout" } };
    json_object *a = wf_cli_report_unit_json(u);
    size_t need;
    bool fits;

    if (u->units == NULL)
        return true; /* a task that never had a unit wrote nothing */
    for (int i = 0; i < 2; i++)
        tail_read(r, a, &ts[i], cap);
    need = (ts[0].len - ts[0].from) + (ts[1].len - ts[1].from);
    fits = need <= *budget;
    if (fits) {
        *budget -= need;
        for (int i = 0; i < 2; i++) {
            tail_write(r, sb, u, &ts[i], open && (i == 0 || ts[0].len == 0));
        }
    }
    for (int i = 0; i < 2; i++) {
        free(ts[i].data);
        free(ts[i].error);
    }
    return fits;
}

/* ---- the section ------------------------------------------------------------------------- */

/* The earlier attempts of u, one line each: "attempt 1: failed, retried, exit code 3, 12ms". */
void wf_cli_report_write_attempts(wf_cli_report_run *r, wf_strbuf *sb, const wf_cli_report_unit *u)
{
    (void)r;
    if (u->units == NULL || u->last == u->first)
        return;
    wf_strbuf_adds(sb, "<ol class=\"attempts\">");
    for (size_t k = u->first; k < u->last; k++) {
        json_object *a = json_object_array_get_idx(u->units, k);
        int state = wf_cli_report_attempt_state(u, k);
        int64_t code = wf_cli_json_int(a, "exit_code", -1);

        wf_strbuf_addf(sb, "<li>attempt %lld: <span class=\"t-%s\">%s</span>",
                       (long long)wf_cli_json_int(a, "attempt", 1), wf_cli_report_st_keys[state],
                       wf_cli_report_st_labels[state]);
        if (code >= 0)
            wf_strbuf_addf(sb, ", exit %lld", (long long)code);
        if (wf_cli_json_int(a, "started_ms", 0) > 0) {
            wf_strbuf_adds(sb, ", ");
            wf_cli_report_add_duration(sb, wf_cli_json_int(a, "started_ms", 0),
                                       wf_cli_json_int(a, "ended_ms", 0));
        }
        if (wf_cli_json_str(a, "error") != NULL &&
            !(code >= 0 && strncmp(wf_cli_json_str(a, "error"), "exit code ", 10) == 0)) {
            wf_strbuf_adds(sb, " \xE2\x80\x94 ");
            wf_cli_report_esc_n(sb, wf_cli_json_str(a, "error"), 500);
        }
        wf_strbuf_adds(sb, "</li>");
    }
    wf_strbuf_adds(sb, "</ol>\n");
}

/* Entries past this many are one line each (name, state, the error's start): the list stays
 * whole, and a run where 100,000 units failed still gives a page a browser opens. */
#define FULL_ENTRIES 1000

/* One unit's entry as one line of text. */
static void write_compact_entry(wf_cli_report_run *r, const wf_cli_report_unit *u)
{
    wf_strbuf *sb = &r->out;
    const char *task = wf_cli_report_unit_task(u),
               *error = wf_cli_json_str(wf_cli_report_unit_json(u), "error");

    wf_strbuf_addf(sb, "<li class=\"fail c\" data-s=\"%s\" id=\"", wf_cli_report_st_keys[u->state]);
    wf_cli_report_esc_anchor(sb, task, u->index);
    wf_strbuf_adds(sb, "\">");
    wf_cli_report_esc_unit_named(sb, u);
    wf_strbuf_addf(sb, " \xC2\xB7 %s", wf_cli_report_st_labels[u->state]);
    if (error != NULL) {
        wf_strbuf_adds(sb, " \xC2\xB7 ");
        wf_cli_report_esc_n(sb, error, 200);
    }
    wf_strbuf_adds(sb, "</li>\n");
}

/* One unit's entry. open: unfold its first log. */
static void write_entry(wf_cli_report_run *r, const wf_cli_report_unit *u, bool open)
{
    wf_strbuf *sb = &r->out;
    json_object *a = wf_cli_report_unit_json(u);
    const char *task = wf_cli_report_unit_task(u), *error = wf_cli_json_str(a, "error");
    int64_t code = wf_cli_json_int(a, "exit_code", -1), start = wf_cli_json_int(a, "started_ms", 0);
    size_t attempts = u->units != NULL ? u->last - u->first + 1 : 0;

    wf_strbuf_addf(sb, "<li class=\"fail\" data-s=\"%s\" id=\"", wf_cli_report_st_keys[u->state]);
    wf_cli_report_esc_anchor(sb, task, u->index);
    wf_strbuf_adds(sb, "\"><div class=\"fh\"><a class=\"u\" href=\"#");
    wf_cli_report_esc_anchor(sb, task, u->index);
    wf_strbuf_adds(sb, "\">");
    wf_cli_report_esc_unit_named(sb, u);
    wf_strbuf_addf(sb, "</a> <span class=\"badge s-%s\">%s</span><span class=\"facts\">",
                   wf_cli_report_st_keys[u->state], wf_cli_report_st_labels[u->state]);
    if (code >= 0)
        wf_strbuf_addf(sb, " exit %lld \xC2\xB7", (long long)code);
    if (start > 0) {
        wf_strbuf_adds(sb, " ran ");
        wf_cli_report_add_duration(sb, start, wf_cli_json_int(a, "ended_ms", 0));
        wf_strbuf_adds(sb, " from ");
        wf_cli_report_add_offset(r, sb, start);
    } else {
        wf_strbuf_adds(sb, " never started");
    }
    if (attempts > 1)
        wf_strbuf_addf(sb, " \xC2\xB7 %zu attempts", attempts);
    wf_strbuf_adds(sb, "</span></div>\n");
    if (error != NULL) {
        wf_strbuf_adds(sb, "<div class=\"ferr\">");
        wf_cli_report_esc_n(sb, error, 4000);
        wf_strbuf_adds(sb, "</div>\n");
    }
    wf_cli_report_write_attempts(r, sb, u);
    if (!wf_cli_report_write_tails(r, sb, u, WF_CLI_REPORT_TAIL_PROBLEM, &r->budget_problems,
                                   open)) {
        wf_strbuf_adds(sb, "<p class=\"lost\">Output not included: the page holds at most ");
        add_size(sb, WF_CLI_REPORT_BUDGET_PROBLEMS);
        wf_strbuf_adds(sb, " of the tails of failures. <code>wfengine logs ");
        wf_cli_report_esc(sb, r->run_id);
        wf_strbuf_adds(sb, " ");
        wf_cli_report_esc_unit(sb, task, u->index);
        wf_strbuf_adds(sb, "</code> shows it.</p>\n");
    }
    wf_strbuf_adds(sb, "</li>\n");
}

/* Units that were cancelled before they started, u[0..n) of one task with the same reason,
 * folded into one entry naming their indexes. */
static void write_folded(wf_cli_report_run *r, const wf_cli_report_unit *u, size_t n)
{
    wf_strbuf *sb = &r->out;
    const char *task = wf_cli_report_unit_task(u),
               *why = wf_cli_json_str(wf_cli_report_unit_json(u), "error");

    wf_strbuf_adds(sb, "<li class=\"fail fold\" data-s=\"cancelled\" data-task=\"");
    wf_cli_report_esc(sb, task);
    wf_strbuf_addf(sb, "\" data-from=\"%lld\" data-to=\"%lld\"><div class=\"fh\">",
                   (long long)u[0].index, (long long)u[n - 1].index);
    wf_cli_report_esc_unit(sb, task, u[0].index);
    wf_strbuf_adds(sb, " \xE2\x80\xA6 ");
    wf_cli_report_esc_unit(sb, task, u[n - 1].index);
    wf_strbuf_addf(sb,
                   " <span class=\"badge s-cancelled\">cancelled</span><span class=\"facts\">"
                   " %zu items never started</span></div>\n",
                   n);
    if (why != NULL) {
        wf_strbuf_adds(sb, "<div class=\"ferr\">");
        wf_cli_report_esc_n(sb, why, 4000);
        wf_strbuf_adds(sb, "</div>\n");
    }
    if ((int64_t)n != u[n - 1].index - u[0].index + 1) {
        /* Not a plain range: name every index. */
        wf_strbuf_adds(sb, "<div class=\"idx\">indexes:");
        for (size_t i = 0; i < n; i++)
            wf_strbuf_addf(sb, " %lld", (long long)u[i].index);
        wf_strbuf_adds(sb, "</div>\n");
    }
    wf_strbuf_adds(sb, "</li>\n");
}

static bool foldable(const wf_cli_report_unit *u)
{
    return u->state == WF_CLI_ST_CANCELLED && u->index >= 0 && !wf_cli_report_unit_started(u);
}

bool wf_cli_report_unit_kept(const wf_cli_report_unit *u)
{
    return is_problem(u->state) &&
           !(u->state == WF_CLI_ST_CANCELLED && !wf_cli_report_unit_started(u));
}

static bool same_reason(const wf_cli_report_unit *a, const wf_cli_report_unit *b)
{
    const char *x = wf_cli_json_str(wf_cli_report_unit_json(a), "error"),
               *y = wf_cli_json_str(wf_cli_report_unit_json(b), "error");

    return a->task == b->task && (x == y || (x != NULL && y != NULL && strcmp(x, y) == 0));
}

/* The items of task i that have no record (they never started), as one entry. */
static void write_missing(wf_cli_report_run *r, size_t i)
{
    wf_strbuf *sb = &r->out, idx = WF_STRBUF_INIT;
    json_object *t = json_object_array_get_idx(r->tasks, i);
    const char *task = wf_cli_json_str(t, "name");
    int state = wf_cli_report_missing_state(r, i);
    bool died = state == WF_CLI_ST_INTERRUPTED;
    int64_t first, last;

    wf_cli_report_add_missing(r, i, &idx, &first, &last);
    wf_strbuf_addf(sb, "<li class=\"fail fold\" data-s=\"%s\" data-task=\"",
                   wf_cli_report_st_keys[state]);
    wf_cli_report_esc(sb, task);
    wf_strbuf_addf(sb,
                   "\" data-from=\"%lld\" data-to=\"%lld\"><div class=\"fh\"><a class=\"u\" "
                   "href=\"#",
                   (long long)first, (long long)last);
    wf_cli_report_esc_anchor(sb, task, -1);
    wf_strbuf_adds(sb, "\">");
    wf_cli_report_esc(sb, task);
    wf_strbuf_addf(sb,
                   "</a> <span class=\"badge s-%s\">%s</span><span class=\"facts\"> %lld of its "
                   "%lld items %s</span></div>\n<div class=\"ferr\">",
                   wf_cli_report_st_keys[state], wf_cli_report_st_labels[state],
                   (long long)r->task_missing[i], (long long)wf_cli_json_int(t, "n_items", 0),
                   died ? "did not end" : "never started");
    if (wf_cli_json_str(t, "error") != NULL) {
        wf_cli_report_esc_n(sb, wf_cli_json_str(t, "error"), 4000);
        wf_strbuf_adds(sb, "; ");
    }
    wf_strbuf_adds(sb, died ? "the store has no record of them: they were running or had not "
                              "started when the run's process died"
                            : "the store has no record of them: the run stopped starting new "
                              "work (fail-fast, a failure, a stop or the end of the process)");
    wf_strbuf_adds(sb, "</div>\n<div class=\"idx\">indexes: ");
    wf_strbuf_adds(sb, wf_strbuf_str(&idx));
    wf_strbuf_adds(sb, "</div>\n</li>\n");
    wf_strbuf_release(&idx);
}

void wf_cli_report_write_failures(wf_cli_report_run *r)
{
    /* Real failures first, then what stopped short, then what was let fail. */
    static const int passes[] = { WF_CLI_ST_FAILED, WF_CLI_ST_INTERRUPTED, WF_CLI_ST_CANCELLED,
                                  WF_CLI_ST_IGNORED };
    wf_strbuf *sb = &r->out;
    int64_t counts[WF_CLI_N_ST] = { 0 }, total = 0;
    int opened = 0;
    size_t entries = 0;

    for (int s = 0; s < WF_CLI_N_ST; s++) {
        if (is_problem(s)) {
            counts[s] = r->unit_counts[s];
            total += counts[s];
        }
    }
    wf_strbuf_adds(sb, "<section id=\"failures\">\n<h2>Failures</h2>\n");
    if (total == 0) {
        wf_strbuf_adds(sb, "<p class=\"none\">No unit failed, was cancelled or had its failure "
                           "ignored.</p>\n</section>\n");
        return;
    }
    wf_strbuf_addf(sb, "<p class=\"legend\">%lld unit%s: ", (long long)total,
                   total == 1 ? "" : "s");
    wf_cli_report_add_counts(sb, counts, true);
    wf_strbuf_adds(sb, "\xE2\x80\x94 every one, real failures first (units cancelled before "
                       "they started are folded per task and reason).</p>\n"
                       "<ol class=\"failures\">\n");
    for (size_t p = 0; p < sizeof(passes) / sizeof(passes[0]); p++) {
        for (size_t i = 0; i < r->n_unit_rows;) {
            const wf_cli_report_unit *u = &r->units[i];
            size_t n = 1;

            if (u->state != passes[p]) {
                i++;
                continue;
            }
            while (foldable(u) && i + n < r->n_unit_rows && foldable(&u[n]) &&
                   same_reason(u, &u[n]))
                n++;
            if (n > 1) {
                write_folded(r, u, n);
            } else if (entries >= FULL_ENTRIES) {
                if (entries++ == FULL_ENTRIES) {
                    wf_strbuf_addf(sb,
                                   "<li class=\"c-note\">The units below are listed one "
                                   "line each (the first %d have their logs): <code>"
                                   "wfengine logs ",
                                   FULL_ENTRIES);
                    wf_cli_report_esc(sb, r->run_id);
                    wf_strbuf_adds(sb, " TASK[INDEX]</code> prints any unit's output.</li>\n");
                }
                write_compact_entry(r, u);
            } else {
                /* The first few real failures show their log unfolded. */
                write_entry(r, u, passes[p] == WF_CLI_ST_FAILED && opened < 5);
                opened += passes[p] == WF_CLI_ST_FAILED;
                entries++;
            }
            i += n;
        }
        for (size_t i = 0; !r->running && i < wf_cli_report_n_tasks(r); i++) {
            if (r->task_missing[i] > 0 && wf_cli_report_missing_state(r, i) == passes[p])
                write_missing(r, i);
        }
    }
    wf_strbuf_adds(sb, "</ol>\n</section>\n");
}
