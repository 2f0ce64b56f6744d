/*
 * wfengine report: one recorded run as a single self-contained HTML page (docs/cli.md): a
 * summary, a table of every task and item, and a timeline drawn as inline SVG. The page has no
 * scripts and refers to nothing outside itself, so it can be attached to a CI job, mailed or
 * opened offline. It is made only from the store (wf_store_run_json), and holds nothing that
 * depends on when it was made, so the same run always gives the same page.
 */
#include <errno.h>
#include <math.h>
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
/* Lanes a task's row of the timeline is packed into; more overlapping units share lanes. */
#define MAX_LANES 48
/* Timeline geometry (SVG user units, scaled to the page's width). */
#define LABEL_W   190.0
#define PLOT_W    970.0
#define RIGHT_PAD 20.0
#define AXIS_H    26.0
#define ROW_PAD   4.0
/* Units narrower than one unit of width are merged with their neighbours in the same lane into
 * one bar of at most MERGE_W: this bounds the number of bars per lane by the plot's width. */
#define MERGE_W 4.0
/* The narrowest bar drawn. */
#define MIN_BAR_W 1.5

enum { ST_SUCCEEDED, ST_SKIPPED, ST_RUNNING, ST_INTERRUPTED, ST_CANCELLED, ST_FAILED, N_ST };

/* Ordered so that a higher value is worse: a merged bar takes the colour of its worst unit. */
static const char *const st_names[N_ST] = { "succeeded",   "skipped",   "running",
                                            "interrupted", "cancelled", "failed" };
static const char *const st_colors[N_ST] = { "#2da44e", "#8c959f", "#0969da",
                                             "#8250df", "#d4790a", "#cf222e" };
/* The order statuses are listed in on the page. */
static const int st_order[N_ST] = { ST_SUCCEEDED, ST_FAILED,  ST_CANCELLED,
                                    ST_SKIPPED,   ST_RUNNING, ST_INTERRUPTED };

static int st_parse(const char *s)
{
    for (int i = 0; i < N_ST; i++) {
        if (s != NULL && strcmp(s, st_names[i]) == 0)
            return i;
    }
    return ST_RUNNING; /* no status yet: a unit of a run that was killed */
}

static bool get_bool(json_object *o, const char *key)
{
    json_object *v = NULL;

    return json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* Appends at most max bytes of s (whole characters; 0: all), escaped for HTML text and
 * attributes alike. Bytes that are not UTF-8 and control characters become U+FFFD, so text
 * from processes can neither break the markup nor the encoding. */
static void esc_n(wf_strbuf *sb, const char *s, size_t max)
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

static void esc(wf_strbuf *sb, const char *s)
{
    esc_n(sb, s, 0);
}

/* NAME or NAME[INDEX], escaped. */
static void esc_unit(wf_strbuf *sb, const char *task, int64_t index)
{
    esc(sb, task);
    if (index >= 0)
        wf_strbuf_addf(sb, "[%lld]", (long long)index);
}

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

/* ---- the run, read once ------------------------------------------------------------------ */

/* One attempt of a unit, as drawn on the timeline. */
typedef struct bar {
    int64_t start, end;
    int64_t index;
    int attempt, attempts; /* this one, and how many the unit had */
    int status;
    bool cached, reused;
    const char *error;
    int lane;
} bar;

typedef struct report {
    json_object *doc;
    const char *run_id;
    json_object *tasks; /* borrowed from doc; may be NULL */
    int64_t t0, t1;     /* the span of the timeline, wall ms */
    /* Units: one per task without items or per item (its latest attempt), or the task itself
     * when it has no units (skipped before it ran). */
    int64_t unit_counts[N_ST], task_counts[N_ST], n_units, n_attempts;
    int64_t n_items; /* units that are items of a with-items task */
    wf_strbuf out;
} report;

static size_t n_tasks(const report *r)
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

static size_t n_task_units(json_object *task)
{
    json_object *units = task_units(task);

    return units != NULL ? json_object_array_length(units) : 0;
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

static void count(report *r)
{
    int64_t end = wf_cli_json_int(r->doc, "ended_ms", 0);

    r->t0 = wf_cli_json_int(r->doc, "started_ms", 0);
    r->t1 = end > r->t0 ? end : r->t0;
    for (size_t i = 0; i < n_tasks(r); i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i), *units = task_units(t);
        size_t n = n_task_units(t);

        r->task_counts[st_parse(wf_cli_json_str(t, "status"))]++;
        if (wf_cli_json_int(t, "ended_ms", 0) > r->t1)
            r->t1 = wf_cli_json_int(t, "ended_ms", 0);
        if (n == 0) {
            r->unit_counts[st_parse(wf_cli_json_str(t, "status"))]++;
            r->n_units++;
            continue;
        }
        for (size_t k = 0; k < n; k++) {
            json_object *u = json_object_array_get_idx(units, k);
            size_t last = unit_last(units, k);

            if (wf_cli_json_int(u, "ended_ms", 0) > r->t1)
                r->t1 = wf_cli_json_int(u, "ended_ms", 0);
            /* Clocks step: keep every bar inside the plot. */
            if (wf_cli_json_int(u, "started_ms", 0) > 0 &&
                wf_cli_json_int(u, "started_ms", 0) < r->t0)
                r->t0 = wf_cli_json_int(u, "started_ms", 0);
            if (k == last) {
                r->unit_counts[st_parse(wf_cli_json_str(u, "status"))]++;
                r->n_units++;
                if (wf_cli_json_int(u, "index", -1) >= 0)
                    r->n_items++;
            }
            r->n_attempts++;
        }
    }
}

/* "3 succeeded, 1 failed" from counts, in the page's order; "" when all are zero. */
static void add_counts(wf_strbuf *sb, const int64_t counts[N_ST], bool badges)
{
    bool first = true;

    for (int i = 0; i < N_ST; i++) {
        int s = st_order[i];

        if (counts[s] == 0)
            continue;
        if (badges)
            wf_strbuf_addf(sb, "<span class=\"badge s-%s\">%lld %s</span> ", st_names[s],
                           (long long)counts[s], st_names[s]);
        else
            wf_strbuf_addf(sb, "%s%lld %s", first ? "" : ", ", (long long)counts[s], st_names[s]);
        first = false;
    }
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

static void write_header(report *r)
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
    esc(sb, r->run_id);
    wf_strbuf_adds(sb, " (");
    esc(sb, workflow);
    wf_strbuf_addf(sb, ")</title>\n<style>%s</style>\n</head>\n<body>\n<header>\n<h1>", css);
    esc(sb, workflow != NULL ? workflow : "workflow");
    wf_strbuf_addf(sb, " <span class=\"badge status s-%s\" id=\"run-status\">%s</span></h1>\n",
                   st_names[st_parse(status)], st_names[st_parse(status)]);
    if (st_parse(status) == ST_INTERRUPTED) {
        /* The store found the run's process gone (store/owner.c): say how to go on. */
        json_object *owner = NULL;

        wf_strbuf_adds(sb, "<p class=\"note\" id=\"interrupted\">This run was interrupted: the "
                           "process that ran it");
        if (json_object_object_get_ex(r->doc, "owner", &owner) && owner != NULL) {
            wf_strbuf_addf(sb, " (pid %lld on ", (long long)wf_cli_json_int(owner, "pid", -1));
            esc(sb, wf_cli_json_str(owner, "host"));
            wf_strbuf_adds(sb, ")");
        }
        wf_strbuf_adds(sb, " is gone. Continue it with <code>");
        esc(sb, wf_cli_json_str(r->doc, "resume_hint"));
        wf_strbuf_adds(sb, "</code>.</p>\n");
    }
    wf_strbuf_adds(sb, "<dl class=\"meta\">\n<dt>run</dt><dd class=\"mono\">");
    esc(sb, r->run_id);
    wf_strbuf_adds(sb, "</dd>\n<dt>started</dt><dd>");
    add_time(sb, start);
    wf_strbuf_adds(sb, "</dd>\n<dt>duration</dt><dd>");
    if (end > 0)
        add_duration(sb, start, end);
    else
        wf_strbuf_adds(sb, "- (the run did not end)");
    wf_strbuf_adds(sb, "</dd>\n<dt>file</dt><dd><code>");
    esc(sb, wf_cli_json_str(r->doc, "file"));
    wf_strbuf_adds(sb, "</code></dd>\n<dt>sha256</dt><dd class=\"mono\">");
    esc(sb, sha != NULL ? sha : "-");
    wf_strbuf_adds(sb, "</dd>\n");
    if (resumed != NULL) {
        wf_strbuf_adds(sb, "<dt>resumes</dt><dd class=\"mono\">");
        esc(sb, resumed);
        wf_strbuf_adds(sb, "</dd>\n");
    }
    wf_strbuf_addf(sb, "<dt>tasks</dt><dd>%zu: ", n_tasks(r));
    add_counts(sb, r->task_counts, true);
    wf_strbuf_addf(sb, "</dd>\n<dt>units</dt><dd id=\"unit-counts\">%lld: ", (long long)r->n_units);
    add_counts(sb, r->unit_counts, true);
    if (r->n_attempts > 0)
        wf_strbuf_addf(sb, " <span class=\"t-skipped\">(%lld attempt%s in all)</span>",
                       (long long)r->n_attempts, r->n_attempts == 1 ? "" : "s");
    wf_strbuf_adds(sb, "</dd>\n</dl>\n</header>\n");
}

/* ---- the timeline ------------------------------------------------------------------------ */

static int bar_cmp_start(const void *a, const void *b)
{
    const bar *x = a, *y = b;

    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->attempt - y->attempt;
}

static int bar_cmp_lane(const void *a, const void *b)
{
    const bar *x = a, *y = b;

    if (x->lane != y->lane)
        return x->lane - y->lane;
    return bar_cmp_start(a, b);
}

/* Packs bars (sorted by start) into lanes where they do not overlap, first fit, a bar taking
 * at least min_ms (what the narrowest drawn bar covers, so that an instant unit is not hidden
 * under the next one); past MAX_LANES a bar goes into the lane that frees up first, over what
 * is there. Returns the number of lanes. O(n * MAX_LANES). */
static int pack_lanes(bar *bars, size_t n, int64_t min_ms)
{
    int64_t ends[MAX_LANES];
    int lanes = 0;

    for (size_t i = 0; i < n; i++) {
        int best = -1;

        for (int l = 0; l < lanes && best < 0; l++) {
            if (ends[l] <= bars[i].start)
                best = l;
        }
        if (best < 0 && lanes < MAX_LANES)
            best = lanes++;
        if (best < 0) {
            best = 0;
            for (int l = 1; l < lanes; l++) {
                if (ends[l] < ends[best])
                    best = l;
            }
        }
        bars[i].lane = best;
        ends[best] = bars[i].end - bars[i].start >= min_ms ? bars[i].end : bars[i].start + min_ms;
    }
    return lanes;
}

static double x_of(const report *r, int64_t ms)
{
    double span = (double)(r->t1 - r->t0);

    return LABEL_W + (span > 0 ? (double)(ms - r->t0) / span * PLOT_W : 0.0);
}

/* The bars of one task: every attempt of every unit that started. Owned; *n their number. */
static bar *task_bars(json_object *task, size_t *n)
{
    json_object *units = task_units(task);
    size_t total = n_task_units(task), k = 0;
    bar *bars = wf_xcalloc(total > 0 ? total : 1, sizeof(*bars));

    *n = 0;
    while (k < total) {
        size_t last = unit_last(units, k);
        int attempts = (int)(last - k + 1);

        for (; k <= last; k++) {
            json_object *u = json_object_array_get_idx(units, k);
            bar *b = &bars[*n];

            b->start = wf_cli_json_int(u, "started_ms", 0);
            b->end = wf_cli_json_int(u, "ended_ms", 0);
            if (b->start <= 0)
                continue; /* never started: nothing to draw */
            if (b->end < b->start)
                b->end = b->start;
            b->index = wf_cli_json_int(u, "index", -1);
            b->attempt = (int)wf_cli_json_int(u, "attempt", 1);
            b->attempts = attempts > b->attempt ? attempts : b->attempt;
            b->status = st_parse(wf_cli_json_str(u, "status"));
            b->cached = get_bool(u, "cached");
            b->reused = get_bool(u, "reused");
            b->error = wf_cli_json_str(u, "error");
            (*n)++;
        }
    }
    return bars;
}

/* Draws the bars [from, to) of one lane as one rect: one unit's attempt, or thin ones merged
 * (coloured by the worst status among them). */
static void draw_bar(wf_strbuf *sb, const report *r, const char *task, const bar *bars, size_t from,
                     size_t to, double y, double h)
{
    int64_t counts[N_ST] = { 0 }, start = bars[from].start, end = bars[from].end;
    int worst = 0;
    bool faded = true;
    double x0, x1;

    for (size_t i = from; i < to; i++) {
        counts[bars[i].status]++;
        if (bars[i].status > worst)
            worst = bars[i].status;
        if (bars[i].end > end)
            end = bars[i].end;
        faded = faded && (bars[i].cached || bars[i].reused);
    }
    x0 = x_of(r, start);
    x1 = x_of(r, end);
    if (x1 - x0 < MIN_BAR_W)
        x1 = x0 + MIN_BAR_W; /* an instant unit is still visible */
    wf_strbuf_addf(sb,
                   "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"%s\"%s%s><title>",
                   x0, y, x1 - x0, h, st_colors[worst], faded ? " fill-opacity=\"0.45\"" : "",
                   /* A white edge separates bars that touch; thin ones would lose their
                    * colour to it. */
                   x1 - x0 >= 4.0 ? " stroke=\"#fff\" stroke-width=\"0.6\"" : "");
    if (to - from == 1) {
        const bar *b = &bars[from];

        esc_unit(sb, task, b->index);
        wf_strbuf_addf(sb, ": %s, ", st_names[b->status]);
        wf_duration_format(sb, b->end - b->start);
        wf_strbuf_adds(sb, " from +");
        wf_duration_format(sb, b->start - r->t0);
        if (b->attempts > 1)
            wf_strbuf_addf(sb, ", attempt %d of %d", b->attempt, b->attempts);
        if (b->cached)
            wf_strbuf_adds(sb, ", cached");
        if (b->reused)
            wf_strbuf_adds(sb, ", reused");
        if (b->error != NULL) {
            wf_strbuf_adds(sb, " \xE2\x80\x94 ");
            esc_n(sb, b->error, 300);
        }
    } else {
        esc_unit(sb, task, bars[from].index);
        wf_strbuf_adds(sb, " \xE2\x80\xA6 ");
        esc_unit(sb, task, bars[to - 1].index);
        wf_strbuf_addf(sb, ": %zu attempts from +", to - from);
        wf_duration_format(sb, start - r->t0);
        wf_strbuf_adds(sb, " to +");
        wf_duration_format(sb, end - r->t0);
        wf_strbuf_adds(sb, " (");
        add_counts(sb, counts, false);
        wf_strbuf_adds(sb, ")");
    }
    wf_strbuf_adds(sb, "</title></rect>\n");
}

/* Draws one task's row: its background and label into bg, its bars into fg. Returns the
 * row's height. */
static double draw_row(const report *r, size_t i, double y, wf_strbuf *bg, wf_strbuf *fg)
{
    json_object *t = json_object_array_get_idx(r->tasks, i);
    const char *name = wf_cli_json_str(t, "name"), *why = wf_cli_json_str(t, "error");
    int status = st_parse(wf_cli_json_str(t, "status"));
    size_t n = 0, from = 0;
    bar *bars = task_bars(t, &n);
    int lanes;
    double lane_h, gap, row_h;

    qsort(bars, n, sizeof(*bars), bar_cmp_start);
    lanes = pack_lanes(bars, n, (int64_t)ceil((double)(r->t1 - r->t0) * MIN_BAR_W / PLOT_W));
    /* A few lanes get full-height bars; many share a bounded height, down to 2 units each. */
    lane_h = lanes <= 4 ? 14.0 : fmax(2.0, 64.0 / lanes);
    gap = lane_h >= 6.0 ? 2.0 : 0.0;
    row_h = fmax(24.0, lanes * (lane_h + gap) - gap + 2 * ROW_PAD);

    wf_strbuf_addf(bg, "<rect x=\"0\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n", y,
                   LABEL_W + PLOT_W + RIGHT_PAD, row_h, i % 2 ? "#ffffff" : "#f6f8fa");
    wf_strbuf_addf(bg, "<text class=\"task\" x=\"8\" y=\"%.1f\" dominant-baseline=\"middle\">",
                   y + row_h / 2);
    esc_n(bg, name, 26);
    wf_strbuf_adds(bg, "<title>");
    esc(bg, name);
    wf_strbuf_addf(bg, ": %s", st_names[status]);
    if (wf_cli_json_int(t, "n_items", 0) > 0)
        wf_strbuf_addf(bg, ", %lld items", (long long)wf_cli_json_int(t, "n_items", 0));
    if (lanes > 1)
        wf_strbuf_addf(bg, " in %d lanes", lanes);
    wf_strbuf_adds(bg, "</title></text>\n");
    if (n == 0) {
        /* Nothing ran (skipped, or its item list failed): say why in the row. */
        wf_strbuf_addf(fg,
                       "<text class=\"why\" x=\"%.1f\" y=\"%.1f\" "
                       "dominant-baseline=\"middle\">%s",
                       LABEL_W + 6, y + row_h / 2, st_names[status]);
        if (why != NULL) {
            wf_strbuf_adds(fg, ": ");
            esc_n(fg, why, 120);
        }
        wf_strbuf_adds(fg, "</text>\n");
    }
    qsort(bars, n, sizeof(*bars), bar_cmp_lane);
    while (from < n) {
        size_t to = from + 1;

        /* Bars under a unit wide merge with the thin bars after them in their lane while
         * the merged bar stays under MERGE_W: at most about PLOT_W / MERGE_W of those per
         * lane, however many units there are. */
        if (x_of(r, bars[from].end) - x_of(r, bars[from].start) < 1.0) {
            while (to < n && bars[to].lane == bars[from].lane &&
                   x_of(r, bars[to].end) - x_of(r, bars[to].start) < 1.0 &&
                   x_of(r, bars[to].end) - x_of(r, bars[from].start) < MERGE_W)
                to++;
        }
        draw_bar(fg, r, name, bars, from, to, y + ROW_PAD + bars[from].lane * (lane_h + gap),
                 lane_h);
        from = to;
    }
    free(bars);
    return row_h;
}

/* A step of 1, 2 or 5 times a power of ten giving about eight ticks over span_s seconds, and
 * the decimals its labels need. */
static double tick_step(double span_s, int *decimals)
{
    double raw = span_s / 8.0, mag, norm, step;

    if (raw < 0.001)
        raw = 0.001;
    mag = pow(10.0, floor(log10(raw)));
    norm = raw / mag;
    step = (norm < 1.5 ? 1.0 : norm < 3.5 ? 2.0 : norm < 7.5 ? 5.0 : 10.0) * mag;
    *decimals = step >= 1.0 ? 0 : (int)ceil(-log10(step) - 1e-9);
    return step;
}

static void write_timeline(report *r)
{
    wf_strbuf *sb = &r->out, bg = WF_STRBUF_INIT, fg = WF_STRBUF_INIT;
    double y = AXIS_H, width = LABEL_W + PLOT_W + RIGHT_PAD;
    double span_s = (double)(r->t1 - r->t0) / 1000.0, step;
    int decimals;

    wf_strbuf_adds(sb, "<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"legend\">"
                       "One row per task; its units are packed into lanes within the row, each "
                       "attempt drawn from its start to its end (hover a bar for details).<br>");
    for (int i = 0; i < N_ST; i++)
        wf_strbuf_addf(sb, "<i style=\"background:%s\"></i>%s", st_colors[st_order[i]],
                       st_names[st_order[i]]);
    wf_strbuf_adds(sb, "<i style=\"background:#2da44e;opacity:.45\"></i>cached or reused</div>\n");

    for (size_t i = 0; i < n_tasks(r); i++)
        y += draw_row(r, i, y, &bg, &fg);
    if (n_tasks(r) == 0) {
        wf_strbuf_addf(&fg, "<text class=\"why\" x=\"%.1f\" y=\"%.1f\">no tasks recorded</text>\n",
                       LABEL_W + 6, y + 16);
        y += 24;
    }

    wf_strbuf_addf(
        sb,
        "<div class=\"timeline\"><svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" height=\"%.0f\" role=\"img\" "
        "aria-label=\"timeline of the run\">\n",
        width, y + 4, width, y + 4);
    wf_strbuf_adds(sb, wf_strbuf_str(&bg));
    /* The axis: ticks over the plot, in seconds since the run started. */
    step = tick_step(span_s, &decimals);
    for (int k = 0;; k++) {
        double s = k * step, x = LABEL_W + (span_s > 0 ? s / span_s * PLOT_W : 0.0);
        char label[32];
        size_t len;

        if (s > span_s * 1.0001 && k > 0)
            break;
        /* "0s", "0.5s", "1.25s": the decimals the step needs, without trailing zeros. */
        len = (size_t)snprintf(label, sizeof(label), "%.*f", decimals, s);
        if (strchr(label, '.') != NULL) {
            while (len > 0 && label[len - 1] == '0')
                label[--len] = '\0';
            if (len > 0 && label[len - 1] == '.')
                label[--len] = '\0';
        }
        wf_strbuf_addf(sb,
                       "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                       "stroke-width=\"1\"/><text class=\"tick\" x=\"%.1f\" y=\"%.1f\" "
                       "text-anchor=\"%s\">%ss</text>\n",
                       x, AXIS_H - 6, x, y, k == 0 ? "#8c959f" : "#d8dee4", x, AXIS_H - 10,
                       k == 0 ? "start" : "middle", label);
        if (span_s <= 0)
            break;
    }
    wf_strbuf_adds(sb, wf_strbuf_str(&fg));
    wf_strbuf_adds(sb, "</svg></div>\n</section>\n");
    wf_strbuf_release(&bg);
    wf_strbuf_release(&fg);
}

/* ---- the table --------------------------------------------------------------------------- */

/* One row of the table for the attempts units[first..last] of one unit. */
static void write_unit_row(report *r, const char *task, json_object *units, size_t first,
                           size_t last, bool item)
{
    wf_strbuf *sb = &r->out;
    json_object *u = json_object_array_get_idx(units, last);
    int status = st_parse(wf_cli_json_str(u, "status"));
    int64_t start = wf_cli_json_int(u, "started_ms", 0), code = wf_cli_json_int(u, "exit_code", -1);

    wf_strbuf_addf(sb, "<tr class=\"%s\"><td>", item ? "unit" : "task-unit");
    esc_unit(sb, task, wf_cli_json_int(u, "index", -1));
    if (get_bool(u, "cached"))
        wf_strbuf_adds(sb, "<span class=\"mark\">cached</span>");
    if (get_bool(u, "reused"))
        wf_strbuf_adds(sb, "<span class=\"mark\">reused</span>");
    wf_strbuf_addf(sb, "</td><td class=\"t-%s\">%s</td><td class=\"num\"", st_names[status],
                   st_names[status]);
    if (last > first) {
        /* Earlier attempts are in the cell's tooltip (and on the timeline). */
        wf_strbuf_adds(sb, " title=\"");
        for (size_t k = first; k < last; k++) {
            json_object *a = json_object_array_get_idx(units, k);

            wf_strbuf_addf(sb, "%sattempt %lld: %s", k > first ? "&#10;" : "",
                           (long long)wf_cli_json_int(a, "attempt", 1),
                           st_names[st_parse(wf_cli_json_str(a, "status"))]);
            if (wf_cli_json_str(a, "error") != NULL) {
                wf_strbuf_adds(sb, ", ");
                esc_n(sb, wf_cli_json_str(a, "error"), 200);
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
    esc(sb, wf_cli_json_str(u, "error"));
    wf_strbuf_adds(sb, "</td></tr>\n");
}

/* The row of a task itself: a with-items task's summary, or a task that has no units. */
static void write_task_row(report *r, json_object *t, bool has_units)
{
    wf_strbuf *sb = &r->out;
    int status = st_parse(wf_cli_json_str(t, "status"));
    int64_t start = wf_cli_json_int(t, "started_ms", 0), n_items = wf_cli_json_int(t, "n_items", 0);

    wf_strbuf_adds(sb, "<tr class=\"task\"><td>");
    esc(sb, wf_cli_json_str(t, "name"));
    if (n_items > 0 || get_bool(t, "with_items"))
        wf_strbuf_addf(sb, " <span class=\"mark\">%lld item%s</span>", (long long)n_items,
                       n_items == 1 ? "" : "s");
    wf_strbuf_addf(sb, "</td><td class=\"t-%s\">%s</td><td class=\"num\">%s</td><td class=\"num\">",
                   st_names[status], st_names[status], has_units ? "" : "0");
    if (start > 0) {
        wf_strbuf_adds(sb, "+");
        wf_duration_format(sb, start - r->t0);
    }
    wf_strbuf_adds(sb, "</td><td class=\"num\">");
    add_duration(sb, start, wf_cli_json_int(t, "ended_ms", 0));
    wf_strbuf_adds(sb, "</td><td class=\"num\"></td><td class=\"err\">");
    esc(sb, wf_cli_json_str(t, "error"));
    wf_strbuf_adds(sb, "</td></tr>\n");
}

static void write_table(report *r)
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
        esc(sb, r->run_id);
        wf_strbuf_adds(sb, "</code> lists every one). The timeline shows them all.</p>\n");
    }
    wf_strbuf_adds(sb, "<table id=\"units-table\">\n<thead><tr><th>Task / item</th>"
                       "<th>Status</th><th>Attempts</th><th>Start</th><th>Duration</th>"
                       "<th>Exit</th><th>Error</th></tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n_tasks(r); i++) {
        json_object *t = json_object_array_get_idx(r->tasks, i), *units = task_units(t);
        const char *name = wf_cli_json_str(t, "name");
        size_t n = n_task_units(t), k = 0;
        bool items = get_bool(t, "with_items") || wf_cli_json_int(t, "n_items", 0) > 0;
        int64_t more_counts[N_ST] = { 0 }, more = 0, more_first = -1, more_last = -1;

        if (items || n == 0)
            write_task_row(r, t, n > 0);
        while (k < n) {
            size_t last = unit_last(units, k);
            json_object *u = json_object_array_get_idx(units, last);
            bool item = wf_cli_json_int(u, "index", -1) >= 0;

            if (item && listed >= MAX_TABLE_UNITS) {
                more_counts[st_parse(wf_cli_json_str(u, "status"))]++;
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
            esc(sb, name);
            wf_strbuf_adds(sb, " not listed (");
            esc_unit(sb, name, more_first);
            wf_strbuf_adds(sb, " to ");
            esc_unit(sb, name, more_last);
            wf_strbuf_adds(sb, "): ");
            add_counts(sb, more_counts, false);
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
    report r = { 0 };
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
    count(&r);
    write_header(&r);
    write_timeline(&r);
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
