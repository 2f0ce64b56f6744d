/*
 * report_timeline.c: the timeline of `wfengine report` (see report.c), drawn as inline SVG:
 * one row per task, each attempt of a unit a bar from its start to its end in the colour of
 * its status, overlapping units packed into lanes, narrow neighbours merged into one bar so
 * that a run of any size draws a bounded number of elements, and a time axis. It reads the
 * run through report_data.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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

static double x_of(const wf_cli_report_run *r, int64_t ms)
{
    double span = (double)(r->t1 - r->t0);

    return LABEL_W + (span > 0 ? (double)(ms - r->t0) / span * PLOT_W : 0.0);
}

/* The bars of task i: every attempt of every unit that started, an earlier failed attempt as
 * "failed, retried". Owned; *n their number. */
static bar *task_bars(const wf_cli_report_run *r, size_t i, size_t *n)
{
    size_t from = r->task_first[i], to = r->task_first[i + 1], total = 0;
    bar *bars;

    for (size_t j = from; j < to; j++)
        total += r->units[j].units != NULL ? r->units[j].last - r->units[j].first + 1 : 0;
    bars = wf_xcalloc(total > 0 ? total : 1, sizeof(*bars));
    *n = 0;
    for (size_t j = from; j < to; j++) {
        const wf_cli_report_unit *u = &r->units[j];

        for (size_t k = u->first; u->units != NULL && k <= u->last; k++) {
            json_object *a = json_object_array_get_idx(u->units, k);
            bar *b = &bars[*n];

            b->start = wf_cli_json_int(a, "started_ms", 0);
            b->end = wf_cli_json_int(a, "ended_ms", 0);
            if (b->start <= 0)
                continue; /* never started: nothing to draw */
            if (b->end < b->start)
                b->end = b->start;
            b->index = u->index;
            b->attempt = (int)wf_cli_json_int(a, "attempt", 1);
            b->attempts = (int)(u->last - u->first + 1);
            if (b->attempts < b->attempt)
                b->attempts = b->attempt;
            b->status = wf_cli_report_attempt_state(u, k);
            b->cached = wf_cli_report_get_bool(a, "cached");
            b->reused = wf_cli_report_get_bool(a, "reused");
            b->error = wf_cli_json_str(a, "error");
            (*n)++;
        }
    }
    return bars;
}

/* Draws the bars [from, to) of one lane as one rect: one unit's attempt, or thin ones merged
 * (coloured by the worst status among them). */
static void draw_bar(wf_strbuf *sb, const wf_cli_report_run *r, const char *task, const bar *bars,
                     size_t from, size_t to, double y, double h)
{
    int64_t counts[WF_CLI_N_ST] = { 0 }, start = bars[from].start, end = bars[from].end;
    int worst = 0;
    bool faded = true, link;
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
    /* A bar of one unit that did not succeed links to its entry in the failures. */
    link = to - from == 1 && bars[from].status >= WF_CLI_ST_IGNORED &&
           bars[from].status != WF_CLI_ST_RUNNING;
    if (link) {
        wf_strbuf_adds(sb, "<a href=\"#");
        wf_cli_report_esc_anchor(sb, task, bars[from].index);
        wf_strbuf_adds(sb, "\">");
    }
    wf_strbuf_addf(sb,
                   "<rect class=\"bar\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                   "fill=\"%s\"%s%s><title>",
                   x0, y, x1 - x0, h, wf_cli_report_st_colors[worst],
                   faded ? " fill-opacity=\"0.45\"" : "",
                   /* A white edge separates bars that touch; thin ones would lose their
                    * colour to it. */
                   x1 - x0 >= 4.0 ? " stroke=\"#fff\" stroke-width=\"0.6\"" : "");
    if (to - from == 1) {
        const bar *b = &bars[from];

        wf_cli_report_esc_unit(sb, task, b->index);
        wf_strbuf_addf(sb, ": %s, ", wf_cli_report_st_labels[b->status]);
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
            wf_cli_report_esc_n(sb, b->error, 300);
        }
    } else {
        wf_cli_report_esc_unit(sb, task, bars[from].index);
        wf_strbuf_adds(sb, " \xE2\x80\xA6 ");
        wf_cli_report_esc_unit(sb, task, bars[to - 1].index);
        wf_strbuf_addf(sb, ": %zu attempts from +", to - from);
        wf_duration_format(sb, start - r->t0);
        wf_strbuf_adds(sb, " to +");
        wf_duration_format(sb, end - r->t0);
        wf_strbuf_adds(sb, " (");
        wf_cli_report_add_counts(sb, counts, false);
        wf_strbuf_adds(sb, ")");
    }
    wf_strbuf_adds(sb, link ? "</title></rect></a>\n" : "</title></rect>\n");
}

/* Draws one task's row: its background and label into bg, its bars into fg. Returns the
 * row's height. */
static double draw_row(const wf_cli_report_run *r, size_t i, double y, wf_strbuf *bg, wf_strbuf *fg)
{
    json_object *t = json_object_array_get_idx(r->tasks, i);
    const char *name = wf_cli_json_str(t, "name"), *why = wf_cli_json_str(t, "error");
    int status = wf_cli_report_state(t);
    size_t n = 0, from = 0;
    bar *bars = task_bars(r, i, &n);
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
    wf_strbuf_adds(bg, "<a href=\"#");
    wf_cli_report_esc_anchor(bg, name, -1);
    wf_strbuf_addf(bg, "\"><text class=\"task\" x=\"8\" y=\"%.1f\" dominant-baseline=\"middle\">",
                   y + row_h / 2);
    wf_cli_report_esc_n(bg, name, 26);
    wf_strbuf_adds(bg, "<title>");
    wf_cli_report_esc(bg, name);
    wf_strbuf_addf(bg, ": %s", wf_cli_report_st_labels[status]);
    if (wf_cli_json_int(t, "n_items", 0) > 0)
        wf_strbuf_addf(bg, ", %lld item%s", (long long)wf_cli_json_int(t, "n_items", 0),
                       wf_cli_json_int(t, "n_items", 0) == 1 ? "" : "s");
    if (lanes > 1)
        wf_strbuf_addf(bg, " in %d lanes", lanes);
    wf_strbuf_adds(bg, "</title></text></a>\n");
    if (n == 0) {
        /* Nothing ran (skipped, or its item list failed): say why in the row. */
        wf_strbuf_addf(fg,
                       "<text class=\"why\" x=\"%.1f\" y=\"%.1f\" "
                       "dominant-baseline=\"middle\">%s",
                       LABEL_W + 6, y + row_h / 2, wf_cli_report_st_labels[status]);
        if (why != NULL) {
            wf_strbuf_adds(fg, ": ");
            wf_cli_report_esc_n(fg, why, 120);
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

void wf_cli_report_write_timeline(wf_cli_report_run *r)
{
    wf_strbuf *sb = &r->out, bg = WF_STRBUF_INIT, fg = WF_STRBUF_INIT;
    double y = AXIS_H, width = LABEL_W + PLOT_W + RIGHT_PAD;
    double span_s = (double)(r->t1 - r->t0) / 1000.0, step;
    int decimals;

    wf_strbuf_adds(sb, "<section id=\"timeline\">\n<h2>Timeline</h2>\n<div class=\"legend\">"
                       "One row per task; its units are packed into lanes within the row, each "
                       "attempt drawn from its start to its end (hover a bar for details).<br>");
    for (int i = 0; i < WF_CLI_N_ST; i++)
        wf_strbuf_addf(sb, "<i style=\"background:%s\"></i>%s",
                       wf_cli_report_st_colors[wf_cli_report_st_order[i]],
                       wf_cli_report_st_labels[wf_cli_report_st_order[i]]);
    wf_strbuf_adds(sb, "<i style=\"background:#2da44e;opacity:.45\"></i>cached or reused</div>\n");

    for (size_t i = 0; i < wf_cli_report_n_tasks(r); i++)
        y += draw_row(r, i, y, &bg, &fg);
    if (wf_cli_report_n_tasks(r) == 0) {
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
