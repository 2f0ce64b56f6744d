/*
 * The lines `wfengine run` prints for its events (the whole of plain mode; what tty mode
 * prints above its live display), the recap of failures at the end of a run and the commands
 * that show and continue it (cli.h says what each line holds).
 *
 * What a fan-out does is folded, so that a run of 10,000 items prints pages, not 10,000
 * lines: successes into a count every tenth of the task's items or every FOLD_MS (whichever
 * comes first; the task's end line carries the last count), skipped items into one line per
 * task and reason, items that never started (a stop, a fail-fast) into one line per task and
 * reason, items that a cluster refused with one message (a refused job array) into the first
 * one's line and a count. Other failures, retries and task ends are always printed; -v prints
 * every line.
 *
 * Only the scheduler thread calls in (events come one at a time), so there is no lock. The
 * text is returned raw: progress.c makes what units wrote safe for the terminal.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

/* A count of a fan-out's successes at least every tenth of its items or every FOLD_MS. */
#define FOLD_STEPS 10
#define FOLD_MS    5000
/* The tail of a failed unit's stdout and stderr: at most TAIL_LINES lines and TAIL_BYTES
 * bytes of each (-v: all of it). */
#define TAIL_LINES 10
#define TAIL_BYTES 4096
/* The recap lists at most RECAP_MAX failures (and as many ignored ones), each with at most
 * RECAP_LINE_BYTES of the line that says what went wrong. */
#define RECAP_MAX        20
#define RECAP_LINE_BYTES 200
/* A task's folded lines name at most REASONS_MAX reasons each; the rest are counted together
 * (a reason that named its item would otherwise make a line per item again). */
#define REASONS_MAX 8

typedef struct reason_count {
    char *reason;
    size_t n;
} reason_count;

typedef struct reason_list {
    reason_count *items;
    size_t len, cap;
} reason_list;

/* A task between its first event and its TASK_END. */
typedef struct open_task {
    char *name;
    size_t n_items;                                        /* with-items: its units; 0 otherwise */
    size_t ended, ok, failed, ignored, skipped, cancelled; /* its units so far */
    size_t cached;                                         /* of the ok ones, from the cache */
    size_t next_count;     /* `ended` at which the next count line is due */
    int64_t last_line_ms;  /* when its last count line (or its start) was printed */
    reason_list skips;     /* skipped items, by reason */
    reason_list unstarted; /* cancelled before they started, by reason */
    /* Failed because a cluster refused them ("not submitted: ..."), by message: the first of
     * each is printed, the others counted (n) and folded. */
    reason_list unsubmitted;
} open_task;

typedef struct recap_list {
    char *units[RECAP_MAX]; /* "NAME[INDEX]: error: the line that says what went wrong" */
    char *first_unit;       /* the first failure that has output to show (wfengine logs) */
    size_t n;               /* all of them, listed or not */
} recap_list;

struct wf_cli_lines {
    bool quiet, verbose;
    int64_t start_ms;
    open_task *tasks;
    size_t n_tasks, cap_tasks;
    recap_list failed, ignored;
    size_t cached; /* units whose result came from the cache, for the run's summary */
};

/* ---- helpers ----------------------------------------------------------------------------- */

static void unit_name(wf_strbuf *sb, const wf_event *ev)
{
    wf_cli_unit_name(sb, ev->task, ev->index, ev->label);
}

/* Where a cut at most max bytes before end (and not before text) may start: at a line's
 * start if one is that close, else at a UTF-8 character's start. */
static const char *cut_start(const char *text, const char *end, size_t max)
{
    const char *p, *nl;

    if ((size_t)(end - text) <= max)
        return text;
    p = end - max;
    nl = memchr(p, '\n', (size_t)(end - p));
    if (nl != NULL && nl + 1 < end)
        return nl + 1;
    while (p < end && ((unsigned char)*p & 0xC0) == 0x80)
        p++;
    return p;
}

/* The last TAIL_LINES lines and TAIL_BYTES bytes of text (all of it when whole), each line
 * indented and marked; "..." first when something was left out. */
static void add_tail(wf_strbuf *sb, const char *text, bool whole)
{
    const char *end = text + strlen(text), *start;
    int lines = 0;

    while (end > text && end[-1] == '\n')
        end--;
    start = end;
    while (!whole && start > text) {
        if (start[-1] == '\n' && ++lines == TAIL_LINES)
            break;
        start--;
    }
    if (!whole)
        start = cut_start(start, end, TAIL_BYTES);
    if (start > text)
        wf_strbuf_adds(sb, "      ...\n");
    for (const char *p = start; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl : end;

        wf_strbuf_adds(sb, "      | ");
        wf_strbuf_add(sb, p, (size_t)(stop - p));
        wf_strbuf_addc(sb, '\n');
        p = nl ? nl + 1 : end;
    }
}

/* A failed unit's output: the tail of stdout (headed, when there is any), then of stderr
 * (headed too when stdout was shown). */
static void add_output(wf_strbuf *sb, const wf_event *ev, bool whole)
{
    bool out = ev->stdout_text != NULL && ev->stdout_text[0] != '\0';
    bool err = ev->stderr_text != NULL && ev->stderr_text[0] != '\0';

    if (out) {
        wf_strbuf_adds(sb, "      --- stdout ---\n");
        add_tail(sb, ev->stdout_text, whole);
    }
    if (out && err)
        wf_strbuf_adds(sb, "      --- stderr ---\n");
    if (err)
        add_tail(sb, ev->stderr_text, whole);
}

/* Whether the line p..end mentions an error or a failure ("error:", "FAILED", "failure"). */
static bool says_error(const char *p, const char *end)
{
    for (; p < end; p++) {
        if ((end - p >= 5 && strncasecmp(p, "error", 5) == 0) ||
            (end - p >= 4 && strncasecmp(p, "fail", 4) == 0))
            return true;
    }
    return false;
}

/* The line of what a unit wrote that best says what went wrong: the first that mentions an
 * error (stderr, then stdout), else the last line of stderr. NULL when it wrote nothing. */
static char *telling_line(const wf_event *ev)
{
    const char *texts[2] = { ev->stderr_text, ev->stdout_text };
    const char *last = NULL, *last_end = NULL;

    for (size_t k = 0; k < 2; k++) {
        for (const char *p = texts[k]; p != NULL && *p != '\0';) {
            const char *nl = strchr(p, '\n');
            const char *end = nl ? nl : p + strlen(p);

            if (says_error(p, end))
                return wf_xstrndup(p, (size_t)(end - p));
            if (k == 0 && strspn(p, " \t\r") < (size_t)(end - p)) {
                last = p;
                last_end = end;
            }
            p = nl ? nl + 1 : end;
        }
    }
    return last ? wf_xstrndup(last, (size_t)(last_end - last)) : NULL;
}

static void recap_add(recap_list *l, const wf_event *ev, bool has_unit)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *line = has_unit ? telling_line(ev) : NULL;

    if (l->first_unit == NULL && has_unit && (line != NULL || ev->stdout_text != NULL)) {
        /* Without the label: it goes into a command line (`wfengine logs RUN task[3]`). */
        wf_cli_unit_name(&sb, ev->task, ev->index, NULL);
        l->first_unit = wf_strbuf_detach(&sb, NULL);
    }
    if (l->n++ >= RECAP_MAX) {
        free(line);
        return;
    }
    unit_name(&sb, ev);
    wf_strbuf_addf(&sb, ": %s", ev->message ? ev->message : "failed");
    if (line != NULL) {
        const char *from = line + strspn(line, " \t");
        size_t len = strlen(from), keep = len;

        if (keep > RECAP_LINE_BYTES) {
            keep = RECAP_LINE_BYTES;
            while (keep > 0 && ((unsigned char)from[keep] & 0xC0) == 0x80)
                keep--; /* whole characters only */
        }
        if (keep > 0) {
            wf_strbuf_adds(&sb, ": ");
            wf_strbuf_add(&sb, from, keep);
            wf_strbuf_adds(&sb, keep < len ? "..." : "");
        }
    }
    free(line);
    l->units[l->n - 1] = wf_strbuf_detach(&sb, NULL);
}

static void recap_release(recap_list *l)
{
    for (size_t i = 0; i < l->n && i < RECAP_MAX; i++)
        free(l->units[i]);
    free(l->first_unit);
}

static void reasons_add(reason_list *l, const char *reason, size_t n)
{
    static const char other[] = "other reasons (wfengine show lists each item's)";

    if (reason == NULL)
        reason = "no reason given";
    for (size_t i = 0; i < l->len; i++) {
        if (strcmp(l->items[i].reason, reason) == 0) {
            l->items[i].n += n;
            return;
        }
    }
    if (l->len >= REASONS_MAX - 1 && strcmp(reason, other) != 0) {
        reasons_add(l, other, n);
        return;
    }
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->items = wf_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    l->items[l->len].reason = wf_xstrdup(reason);
    l->items[l->len++].n = n;
}

static void reasons_release(reason_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->items[i].reason);
    free(l->items);
}

static open_task *find_task(wf_cli_lines *l, const char *name)
{
    open_task *t;

    for (size_t i = 0; i < l->n_tasks; i++) {
        if (strcmp(l->tasks[i].name, name) == 0)
            return &l->tasks[i];
    }
    if (l->n_tasks == l->cap_tasks) {
        l->cap_tasks = l->cap_tasks ? l->cap_tasks * 2 : 16;
        l->tasks = wf_xrealloc(l->tasks, l->cap_tasks * sizeof(*l->tasks));
    }
    t = &l->tasks[l->n_tasks++];
    memset(t, 0, sizeof(*t));
    t->name = wf_xstrdup(name);
    t->last_line_ms = wf_now_ms();
    return t;
}

static void drop_task(wf_cli_lines *l, open_task *t)
{
    size_t i = (size_t)(t - l->tasks);

    free(t->name);
    reasons_release(&t->skips);
    reasons_release(&t->unstarted);
    reasons_release(&t->unsubmitted);
    memmove(&l->tasks[i], &l->tasks[i + 1], (l->n_tasks - i - 1) * sizeof(*l->tasks));
    l->n_tasks--;
}

static void add_stamp(const wf_cli_lines *l, wf_strbuf *out)
{
    wf_strbuf_addf(out, "[%7.2fs] ", (double)(wf_now_ms() - l->start_ms) / 1000.0);
}

/* The folded lines of t: its skipped items and those that never started, by reason. */
static void add_folds(const wf_cli_lines *l, const open_task *t, wf_strbuf *out)
{
    for (size_t i = 0; i < t->skips.len; i++) {
        if (l->quiet)
            break;
        add_stamp(l, out);
        wf_strbuf_addf(out, "skipped  %s: %zu item%s skipped: %s\n", t->name, t->skips.items[i].n,
                       t->skips.items[i].n == 1 ? "" : "s", t->skips.items[i].reason);
    }
    for (size_t i = 0; i < t->unstarted.len; i++) {
        add_stamp(l, out);
        wf_strbuf_addf(out, "cancelled %s: %zu item%s not started: %s\n", t->name,
                       t->unstarted.items[i].n, t->unstarted.items[i].n == 1 ? "" : "s",
                       t->unstarted.items[i].reason);
    }
    for (size_t i = 0; i < t->unsubmitted.len; i++) {
        if (t->unsubmitted.items[i].n == 0)
            continue;
        add_stamp(l, out);
        wf_strbuf_addf(out, "FAILED   %s: %zu more item%s not submitted for the same reason\n",
                       t->name, t->unsubmitted.items[i].n,
                       t->unsubmitted.items[i].n == 1 ? "" : "s");
    }
}

/* " (N items)", with what did not succeed when some did not, and what came from the cache:
 * the task's last count. */
static void add_item_counts(const open_task *t, const wf_event *ev, wf_strbuf *out)
{
    const struct {
        size_t n;
        const char *what;
    } counts[] = {
        { t->ok, "ok" },
        { t->failed, "failed" },
        { t->ignored, "failed (ignored)" },
        { t->skipped, "skipped" },
        { t->cancelled, "cancelled" },
    };
    const char *sep = ": ";

    wf_strbuf_addf(out, " (%zu item%s", ev->n_items, ev->n_items == 1 ? "" : "s");
    for (size_t i = 0; i < WF_ARRAY_LEN(counts) && t->ok != ev->n_items; i++) {
        if (counts[i].n == 0)
            continue;
        wf_strbuf_addf(out, "%s%zu %s", sep, counts[i].n, counts[i].what);
        sep = ", ";
    }
    if (t->cached > 0)
        wf_strbuf_addf(out, "%s%zu from the cache", sep, t->cached);
    wf_strbuf_addc(out, ')');
}

/* ---- events ------------------------------------------------------------------------------ */

/* UNIT_END of an item that went well or was skipped, or that never started: counted and
 * folded (unless -v). Returns true when it is done with ev. */
static bool fold_unit(wf_cli_lines *l, open_task *t, const wf_event *ev, wf_strbuf *out)
{
    int64_t now;

    if (l->verbose || ev->index < 0 || ev->reused)
        return false;
    if (ev->status == WF_STATUS_SKIPPED) {
        reasons_add(&t->skips, ev->message, 1);
        return true;
    }
    if (ev->status == WF_STATUS_CANCELLED && !ev->started) {
        const char *why = ev->message;

        /* The engine says "not started: WHY"; the folded line says "N items not started". */
        if (why != NULL && strncmp(why, "not started: ", 13) == 0)
            why += 13;
        reasons_add(&t->unstarted, why, 1);
        return true;
    }
    if (ev->status != WF_STATUS_SUCCEEDED)
        return false;
    now = wf_now_ms();
    if (l->quiet || t->n_items == 0 || t->ended >= t->n_items ||
        (t->ended < t->next_count && now - t->last_line_ms < FOLD_MS))
        return true;
    add_stamp(l, out);
    wf_strbuf_addf(out, "ok       %s: %zu/%zu items done [%zu/%zu units]\n", t->name, t->ended,
                   t->n_items, ev->units_done, ev->units_total);
    while (t->next_count <= t->ended)
        t->next_count += (t->n_items + FOLD_STEPS - 1) / FOLD_STEPS;
    t->last_line_ms = now;
    return true;
}

/* Whether ev is an item that a cluster refused with the same message as one printed before
 * (a refused array fails all its items at once): counted, to be folded into one line. */
static bool refused_again(const wf_cli_lines *l, open_task *t, const wf_event *ev)
{
    static const char prefix[] = "not submitted: ";

    if (l->verbose || ev->index < 0 || ev->started || ev->message == NULL ||
        strncmp(ev->message, prefix, sizeof(prefix) - 1) != 0)
        return false;
    for (size_t i = 0; i < t->unsubmitted.len; i++) {
        if (strcmp(t->unsubmitted.items[i].reason, ev->message) == 0) {
            t->unsubmitted.items[i].n++;
            return true;
        }
    }
    reasons_add(&t->unsubmitted, ev->message, 0);
    return false;
}

/* Counts ev in its task (and the recap); true when the unit's own line is to be printed. */
static bool count_unit(wf_cli_lines *l, open_task *t, const wf_event *ev)
{
    size_t n = ev->n_units > 0 ? ev->n_units : 1; /* a span of reused units is one event */

    t->ended += n;
    switch (ev->status) {
    case WF_STATUS_SUCCEEDED:
        t->ok += n;
        t->cached += ev->cached;
        break;
    case WF_STATUS_FAILED:
        (*(ev->ignored ? &t->ignored : &t->failed))++;
        if (refused_again(l, t, ev))
            return false;
        recap_add(ev->ignored ? &l->ignored : &l->failed, ev, true);
        return true;
    case WF_STATUS_SKIPPED:
        t->skipped++;
        break;
    case WF_STATUS_CANCELLED:
        t->cancelled++;
        return ev->index >= 0; /* a plain task's is reported by TASK_END */
    default:
        break;
    }
    if (ev->reused)
        return l->verbose; /* taken from the resumed run: summarized by TASK_START / TASK_END */
    if (ev->cached)
        return !l->quiet;
    /* A plain task's success or skip is reported by TASK_END. */
    return !l->quiet && ev->index >= 0;
}

static void unit_end(wf_cli_lines *l, const wf_event *ev, wf_strbuf *out)
{
    open_task *t = find_task(l, ev->task);

    if (!count_unit(l, t, ev) || fold_unit(l, t, ev, out))
        return;
    add_stamp(l, out);
    if (ev->reused || ev->cached) {
        wf_strbuf_adds(out, ev->reused ? "reused   " : "cached   ");
        unit_name(out, ev);
        wf_strbuf_adds(out, ev->reused ? "\n" : " (result from the cache)\n");
    } else if (ev->status == WF_STATUS_SUCCEEDED || ev->status == WF_STATUS_SKIPPED) {
        wf_strbuf_adds(out, ev->status == WF_STATUS_SUCCEEDED ? "ok       " : "skipped  ");
        unit_name(out, ev);
        wf_strbuf_adds(out, " (");
        wf_duration_format(out, ev->duration_ms);
        wf_strbuf_addc(out, ')');
        if (ev->status == WF_STATUS_SKIPPED && ev->message != NULL)
            wf_strbuf_addf(out, ": %s", ev->message);
        wf_strbuf_addc(out, '\n');
    } else {
        wf_strbuf_adds(out, ev->status != WF_STATUS_FAILED ? "cancelled "
                            : ev->ignored                  ? "FAILED (ignored) "
                                                           : "FAILED   ");
        unit_name(out, ev);
        if (ev->message)
            wf_strbuf_addf(out, ": %s", ev->message);
        wf_strbuf_addc(out, '\n');
        if (ev->status == WF_STATUS_FAILED)
            add_output(out, ev, l->verbose);
    }
}

static void task_end(wf_cli_lines *l, const wf_event *ev, wf_strbuf *out)
{
    open_task *t = find_task(l, ev->task);
    bool ignored = ev->ignored;

    /* Items the engine had not queued yet when the task was stopped end without an event of
     * their own: they did not start either, for the reason their queued siblings give. */
    if (ev->n_items > t->ended) {
        t->cancelled += ev->n_items - t->ended;
        reasons_add(&t->unstarted,
                    t->unstarted.len > 0 ? t->unstarted.items[0].reason : "the task was stopped",
                    ev->n_items - t->ended);
        t->ended = ev->n_items;
    }
    add_folds(l, t, out);
    /* A task that failed without running a unit (its item list or `when` could not be
     * evaluated) is a failure of its own; failed units were counted as they ended. */
    if (ev->status == WF_STATUS_FAILED && ev->n_items == 0 && ev->attempt == 0)
        recap_add(ignored ? &l->ignored : &l->failed, ev, false);
    if (l->quiet && ev->status != WF_STATUS_FAILED)
        goto out;
    /* A plain task that ran and failed was reported with its unit (and its output). */
    if (ev->status == WF_STATUS_FAILED && ev->n_items == 0 && ev->attempt > 0)
        goto out;
    add_stamp(l, out);
    switch (ev->status) {
    case WF_STATUS_SUCCEEDED:
        wf_strbuf_adds(out, "ok       ");
        break;
    case WF_STATUS_FAILED:
        wf_strbuf_adds(out, ignored ? "FAILED (ignored) " : "FAILED   ");
        break;
    case WF_STATUS_SKIPPED:
        wf_strbuf_adds(out, "skipped  ");
        break;
    default:
        wf_strbuf_adds(out, "cancelled ");
        break;
    }
    wf_strbuf_adds(out, ev->task);
    if (ev->n_items > 0)
        add_item_counts(t, ev, out);
    if (ev->status == WF_STATUS_SUCCEEDED || ev->status == WF_STATUS_FAILED) {
        wf_strbuf_adds(out, " in ");
        wf_duration_format(out, ev->duration_ms);
    }
    if (ev->message)
        wf_strbuf_addf(out, ": %s", ev->message);
    wf_strbuf_addc(out, '\n');
out:
    drop_task(l, t);
}

/* The recap after the run's last line: what failed, and what failed but was ignored. */
static void add_recap(const wf_cli_lines *l, wf_strbuf *out)
{
    const recap_list *lists[2] = { &l->failed, &l->ignored };
    const char *heads[2] = { "failed", "failed, ignored (continue-on-error)" };

    for (size_t k = 0; k < 2; k++) {
        const recap_list *r = lists[k];

        if (r->n == 0)
            continue;
        wf_strbuf_addf(out, "%zu %s:\n", r->n, heads[k]);
        for (size_t i = 0; i < r->n && i < RECAP_MAX; i++)
            wf_strbuf_addf(out, "  %s\n", r->units[i]);
        if (r->n > RECAP_MAX)
            wf_strbuf_addf(out, "  ... and %zu more\n", r->n - RECAP_MAX);
    }
}

/* ---- the interface ----------------------------------------------------------------------- */

wf_cli_lines *wf_cli_lines_new(bool quiet, bool verbose, int64_t start_ms)
{
    wf_cli_lines *l = wf_xcalloc(1, sizeof(*l));

    l->quiet = quiet;
    l->verbose = verbose;
    l->start_ms = start_ms;
    return l;
}

void wf_cli_lines_event(wf_cli_lines *l, const wf_event *ev, wf_strbuf *out)
{
    open_task *t;

    switch (ev->kind) {
    case WF_EVENT_RUN_START:
        if (l->quiet)
            break;
        add_stamp(l, out);
        wf_strbuf_addf(out, "run %s\n", ev->message);
        break;
    case WF_EVENT_TASK_START:
        t = find_task(l, ev->task);
        t->n_items = ev->n_items;
        t->next_count = (ev->n_items + FOLD_STEPS - 1) / FOLD_STEPS;
        t->last_line_ms = wf_now_ms();
        if (l->quiet)
            break;
        add_stamp(l, out);
        wf_strbuf_addf(out, "%s: %zu item%s", ev->task, ev->n_items, ev->n_items == 1 ? "" : "s");
        if (ev->source != NULL)
            wf_strbuf_addf(out, ", pipelined from %s", ev->source);
        wf_strbuf_addc(out, '\n');
        break;
    case WF_EVENT_UNIT_QUEUED:
        break; /* counted by the live display; a line for it would be noise */
    case WF_EVENT_UNIT_START:
        if (!l->verbose)
            break;
        add_stamp(l, out);
        wf_strbuf_adds(out, "start    ");
        unit_name(out, ev);
        if (ev->attempt > 1)
            wf_strbuf_addf(out, " (attempt %d/%d)", ev->attempt, ev->max_attempts);
        wf_strbuf_addc(out, '\n');
        break;
    case WF_EVENT_UNIT_RETRY:
        add_stamp(l, out);
        wf_strbuf_adds(out, "retry    ");
        unit_name(out, ev);
        wf_strbuf_addf(out, ": %s; attempt %d/%d in ", ev->message ? ev->message : "failed",
                       ev->attempt + 1, ev->max_attempts);
        wf_duration_format(out, ev->delay_ms);
        wf_strbuf_addc(out, '\n');
        break;
    case WF_EVENT_UNIT_END:
        l->cached += ev->cached;
        unit_end(l, ev, out);
        break;
    case WF_EVENT_TASK_END:
        task_end(l, ev, out);
        break;
    case WF_EVENT_LOG:
        if (l->quiet)
            break;
        add_stamp(l, out);
        wf_strbuf_addf(out, "%s: %s\n", ev->task, ev->message);
        break;
    case WF_EVENT_WARNING:
        add_stamp(l, out);
        if (ev->task != NULL)
            wf_strbuf_addf(out, "warning: %s: %s\n", ev->task, ev->message);
        else
            wf_strbuf_addf(out, "warning: %s\n", ev->message);
        break;
    case WF_EVENT_RUN_END:
        /* Tasks the run never ended (it should end them all) still get their folded lines. */
        while (l->n_tasks > 0) {
            add_folds(l, &l->tasks[0], out);
            drop_task(l, &l->tasks[0]);
        }
        add_stamp(l, out);
        wf_strbuf_addf(out, "%s in ", wf_status_name(ev->status));
        wf_duration_format(out, ev->duration_ms);
        wf_strbuf_addf(out, " (%zu unit%s", ev->units_done, ev->units_done == 1 ? "" : "s");
        if (l->cached > 0)
            wf_strbuf_addf(out, ", %zu cached", l->cached);
        wf_strbuf_adds(out, ")\n");
        add_recap(l, out);
        break;
    }
}

void wf_cli_shell_word(wf_strbuf *sb, const char *s)
{
    if (s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "0123456789_-./=:@%+,") == strlen(s)) {
        wf_strbuf_adds(sb, s);
        return;
    }
    wf_strbuf_addc(sb, '\'');
    for (const char *p = s; *p != '\0'; p++) {
        if (*p == '\'')
            wf_strbuf_adds(sb, "'\\''");
        else
            wf_strbuf_addc(sb, *p);
    }
    wf_strbuf_addc(sb, '\'');
}

void wf_cli_resume_command(wf_strbuf *out, const char *file, const char *resume,
                           const char *store_arg)
{
    wf_strbuf_adds(out, "wfengine run ");
    wf_cli_shell_word(out, file);
    wf_strbuf_adds(out, " --resume ");
    wf_cli_shell_word(out, resume);
    if (store_arg != NULL) {
        wf_strbuf_adds(out, " --store ");
        wf_cli_shell_word(out, store_arg);
    }
    wf_strbuf_addc(out, '\n');
}

void wf_cli_lines_pointers(const wf_cli_lines *l, wf_strbuf *out, const wf_cli_run_place *place)
{
    wf_strbuf store = WF_STRBUF_INIT;
    const char *unit = l->failed.first_unit ? l->failed.first_unit : l->ignored.first_unit;

    if (place->store_arg != NULL) {
        wf_strbuf_adds(&store, " --store ");
        wf_cli_shell_word(&store, place->store_arg);
    }
    wf_strbuf_addf(out, "wfengine: recorded as run %s in %s (wfengine show %s%s)\n", place->run_id,
                   place->store_dir, place->run_id, wf_strbuf_str(&store));
    if (place->succeeded)
        goto out;
    if (unit != NULL) {
        wf_strbuf_addf(out, "wfengine: the whole output of %s: wfengine logs %s ", unit,
                       place->run_id);
        wf_cli_shell_word(out, unit);
        wf_strbuf_addf(out, "%s (--stderr: its stderr)\n", wf_strbuf_str(&store));
    }
    wf_strbuf_addf(out, "wfengine: the run as a web page: wfengine report %s -o report.html%s\n",
                   place->run_id, wf_strbuf_str(&store));
    wf_strbuf_adds(out, "wfengine: run what did not succeed again: ");
    wf_cli_resume_command(out, place->file, "last", place->store_arg);
out:
    wf_strbuf_release(&store);
}

void wf_cli_lines_free(wf_cli_lines *l)
{
    if (l == NULL)
        return;
    while (l->n_tasks > 0)
        drop_task(l, &l->tasks[0]);
    free(l->tasks);
    recap_release(&l->failed);
    recap_release(&l->ignored);
    free(l);
}
