/*
 * Progress on stderr: the event lines run_lines.c makes (plain), a live display redrawn in
 * place at the bottom of a terminal with those lines above it (tty); under GitHub Actions what
 * github.c makes of the events too (cli.h says what each mode shows).
 *
 * The live display is a block of lines, each cut to the terminal's width so that none wraps:
 * then the cursor is always exactly `drawn_lines` lines below the block's first line, and
 * erasing it is "cursor up N, clear to the end of the screen". Everything that goes to the
 * terminal (event lines, the block) is written under one mutex with one write(2), so a redraw
 * never lands in the middle of a line. Tasks' own output is captured by the engine and never
 * reaches the terminal while the display is up.
 *
 * What units wrote (stderr tails, error messages, logs) is shown through wf_cli_add_safe: a process
 * must not be able to clear the screen, set the window title, plant a hyperlink or move the cursor
 * over the display by printing escape sequences.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Redraw period of the live display, and its most task lines. */
#define TICK_MS        100
#define MAX_TASK_LINES 8

typedef struct active_task {
    char *name;
    int64_t started_ms; /* when its first unit started; 0 before */
    size_t queued;      /* units queued for a worker (UNIT_QUEUED), not started yet */
    size_t running;     /* units running now (UNIT_START, not ended) */
    size_t n_items;     /* with-items: its units once expanded; 0 otherwise */
    size_t done;        /* units ended */
    char *last_label;   /* the label of the item that started last, or NULL */
    bool pipelined;     /* its items come one by one from another task (`pipeline: true`) */
} active_task;

struct wf_cli_progress {
    wf_cli_progress_mode mode; /* resolved: TTY, PLAIN or NONE */
    bool quiet, verbose;
    wf_cli_github *github; /* github.c, under GITHUB_ACTIONS=true; else NULL */
    int64_t start_ms;

    pthread_mutex_t lock; /* everything below, and the terminal */
    pthread_cond_t wake;
    pthread_t ticker;
    bool ticker_started, stop;
    bool started;    /* an event was seen: until then there is nothing true to draw */
    bool finished;   /* RUN_END seen: the display is gone for good */
    int drawn_lines; /* lines of the live display on the screen now */
    size_t units_done, units_total;
    size_t failures, ignored; /* failed units (and tasks that failed without one); ignored: of
                                 them, those under continue-on-error, not counted as failures */
    active_task *tasks;       /* in the order they started */
    size_t n_tasks, cap_tasks;
};

int wf_cli_progress_parse(const char *s)
{
    static const char *const names[] = { "auto", "tty", "plain", "none" };

    for (size_t i = 0; i < WF_ARRAY_LEN(names); i++) {
        if (strcmp(s, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

/* ---- output ------------------------------------------------------------------------------ */

static void write_all(const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(STDERR_FILENO, buf, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return; /* stderr is gone: nothing useful is left to do with progress */
        buf += n;
        len -= (size_t)n;
    }
}

static int term_columns(void)
{
    struct winsize ws;
    const char *env = getenv("COLUMNS");

    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    if (env != NULL && atoi(env) > 0)
        return atoi(env);
    return 80;
}

/* Appends s cut to at most max columns (counting UTF-8 characters, not bytes). */
static void add_cut(wf_strbuf *sb, const char *s, int max)
{
    int cols = 0;
    const char *p = s;

    while (*p != '\0' && *p != '\n') {
        if (((unsigned char)*p & 0xC0) != 0x80) {
            if (cols == max)
                break;
            cols++;
        }
        p++;
    }
    wf_strbuf_add(sb, s, (size_t)(p - s));
}

static void add_secs(wf_strbuf *sb, int64_t ms)
{
    if (ms < 60000)
        wf_strbuf_addf(sb, "%.1fs", (double)ms / 1000.0);
    else
        wf_strbuf_addf(sb, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
}

/* Erases the live display (the cursor ends where its first line was). Lock held. */
static void add_erase(wf_cli_progress *p, wf_strbuf *out)
{
    if (p->drawn_lines > 0)
        wf_strbuf_addf(out, "\033[%dA", p->drawn_lines);
    if (p->drawn_lines > 0)
        wf_strbuf_adds(out, "\r\033[J");
    p->drawn_lines = 0;
}

/* Draws the live display: a headline, then the running tasks, oldest first. Lock held. */
/* A task has a line while units of it run, and a pipelined stage that started also while it
 * waits for its source's next items: every stage of a chain keeps its count in view. */
static bool shown_line(const active_task *t)
{
    return t->running > 0 || (t->pipelined && t->started_ms > 0 && t->done < t->n_items);
}

static void add_block(wf_cli_progress *p, wf_strbuf *out)
{
    int cols = term_columns() - 1;
    int64_t now = wf_now_ms(), elapsed = now - p->start_ms;
    size_t running = 0, queued = 0, shown = 0;
    wf_strbuf line = WF_STRBUF_INIT;

    if (!p->started || p->finished)
        return;
    for (size_t i = 0; i < p->n_tasks; i++) {
        running += p->tasks[i].running;
        queued += p->tasks[i].queued;
    }
    wf_strbuf_addf(&line, "[%zu/%zu units] %zu running, ", p->units_done, p->units_total, running);
    if (queued > 0)
        wf_strbuf_addf(&line, "%zu queued, ", queued);
    wf_strbuf_addf(&line, "%zu failed, ", p->failures);
    if (p->ignored > 0)
        wf_strbuf_addf(&line, "%zu ignored, ", p->ignored);
    add_secs(&line, elapsed);
    wf_strbuf_adds(&line, " elapsed");
    if (p->units_done > 0 && p->units_total > p->units_done) {
        wf_strbuf_adds(&line, ", about ");
        add_secs(&line,
                 elapsed * (int64_t)(p->units_total - p->units_done) / (int64_t)p->units_done);
        wf_strbuf_adds(&line, " left");
    }
    add_cut(out, wf_strbuf_str(&line), cols);
    wf_strbuf_addc(out, '\n');
    p->drawn_lines = 1;
    for (size_t i = 0; i < p->n_tasks; i++) {
        const active_task *t = &p->tasks[i];

        if (!shown_line(t))
            continue;
        if (shown == MAX_TASK_LINES) {
            size_t more = 0;

            for (size_t j = i; j < p->n_tasks; j++)
                more += shown_line(&p->tasks[j]);
            wf_strbuf_reset(&line);
            wf_strbuf_addf(&line, "  ... and %zu more running task%s", more, more == 1 ? "" : "s");
            add_cut(out, wf_strbuf_str(&line), cols);
            wf_strbuf_addc(out, '\n');
            p->drawn_lines++;
            break;
        }
        wf_strbuf_reset(&line);
        wf_strbuf_addf(&line, "  %-24s ", t->name);
        add_secs(&line, now - t->started_ms);
        if (t->n_items > 0)
            wf_strbuf_addf(&line, "  %zu/%zu items, %zu running", t->done, t->n_items, t->running);
        if (t->n_items > 0 && t->queued > 0)
            wf_strbuf_addf(&line, ", %zu queued", t->queued);
        if (t->n_items > 0 && t->last_label != NULL) {
            wf_strbuf_adds(&line, ", last started ");
            wf_cli_add_safe(&line, t->last_label);
        }
        add_cut(out, wf_strbuf_str(&line), cols);
        wf_strbuf_addc(out, '\n');
        p->drawn_lines++;
        shown++;
    }
    wf_strbuf_release(&line);
}

/* Prints text (whole lines): above the live display in tty mode. Lock held. */
static void emit_locked(wf_cli_progress *p, const char *text)
{
    wf_strbuf out = WF_STRBUF_INIT;

    if (p->mode == WF_PROGRESS_TTY)
        add_erase(p, &out);
    wf_strbuf_adds(&out, text);
    if (p->mode == WF_PROGRESS_TTY)
        add_block(p, &out);
    write_all(out.buf ? out.buf : "", out.len);
    wf_strbuf_release(&out);
}

static void *ticker_main(void *arg)
{
    wf_cli_progress *p = arg;

    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&p->wake, &p->lock, &ts);
        if (!p->stop && !p->finished)
            emit_locked(p, "");
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- state ------------------------------------------------------------------------------- */

static active_task *find_task(wf_cli_progress *p, const char *name, bool create)
{
    active_task *t;

    for (size_t i = 0; i < p->n_tasks; i++) {
        if (strcmp(p->tasks[i].name, name) == 0)
            return &p->tasks[i];
    }
    if (!create)
        return NULL;
    if (p->n_tasks == p->cap_tasks) {
        p->cap_tasks = p->cap_tasks ? p->cap_tasks * 2 : 16;
        p->tasks = wf_xrealloc(p->tasks, p->cap_tasks * sizeof(*p->tasks));
    }
    t = &p->tasks[p->n_tasks++];
    memset(t, 0, sizeof(*t));
    t->name = wf_xstrdup(name);
    return t;
}

static void drop_task(wf_cli_progress *p, active_task *t)
{
    size_t i = (size_t)(t - p->tasks);

    free(t->name);
    free(t->last_label);
    memmove(&p->tasks[i], &p->tasks[i + 1], (p->n_tasks - i - 1) * sizeof(*p->tasks));
    p->n_tasks--;
}

/* An attempt of one of t's units ended: it was running, or (never started) queued. */
static void attempt_ended(active_task *t, const wf_event *ev)
{
    size_t *n = ev->started ? &t->running : &t->queued;

    if (*n > 0)
        (*n)--;
}

/* ---- the interface ----------------------------------------------------------------------- */

wf_cli_progress *wf_cli_progress_new(wf_cli_progress_mode mode, bool quiet, bool verbose,
                                     int64_t start_ms, const wf_workflow *wf, const char *store_dir)
{
    wf_cli_progress *p = wf_xcalloc(1, sizeof(*p));
    const char *term = getenv("TERM");

    if (mode == WF_PROGRESS_AUTO)
        mode = isatty(STDERR_FILENO) && term != NULL && strcmp(term, "dumb") != 0
                   ? WF_PROGRESS_TTY
                   : WF_PROGRESS_PLAIN;
    p->mode = mode;
    p->quiet = quiet;
    p->verbose = verbose;
    p->github = mode != WF_PROGRESS_NONE ? wf_cli_github_new(wf, store_dir, quiet) : NULL;
    p->start_ms = start_ms;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (mode == WF_PROGRESS_TTY)
        p->ticker_started = pthread_create(&p->ticker, NULL, ticker_main, p) == 0;
    return p;
}

void wf_cli_progress_event(wf_cli_progress *p, const wf_event *ev)
{
    active_task *t = NULL;

    pthread_mutex_lock(&p->lock);
    p->started = true;
    p->units_done = ev->units_done;
    p->units_total = ev->units_total;
    if (p->github != NULL) {
        wf_strbuf gh = WF_STRBUF_INIT;

        wf_cli_github_event(p->github, ev, &gh);
        if (gh.len > 0)
            emit_locked(p, wf_strbuf_str(&gh));
        wf_strbuf_release(&gh);
    }
    switch (ev->kind) {
    case WF_EVENT_TASK_START:
        t = find_task(p, ev->task, true);
        t->n_items = ev->n_items;
        t->pipelined = ev->source != NULL;
        break;
    case WF_EVENT_UNIT_QUEUED:
        find_task(p, ev->task, true)->queued++;
        break;
    case WF_EVENT_UNIT_START:
        t = find_task(p, ev->task, true);
        if (t->started_ms == 0)
            t->started_ms = wf_now_ms();
        if (t->queued > 0)
            t->queued--;
        t->running++;
        if (ev->label != NULL) {
            free(t->last_label);
            t->last_label = wf_xstrdup(ev->label);
        }
        break;
    case WF_EVENT_UNIT_RETRY:
        t = find_task(p, ev->task, false);
        if (t != NULL)
            attempt_ended(t, ev);
        break;
    case WF_EVENT_UNIT_END:
        t = find_task(p, ev->task, true);
        if (!ev->reused)
            attempt_ended(t, ev);
        t->done += ev->n_units > 0 ? ev->n_units : 1; /* a span of reused units is one event */
        if (ev->status == WF_STATUS_FAILED)
            (*(ev->ignored ? &p->ignored : &p->failures))++;
        break;
    case WF_EVENT_TASK_END:
        /* A task that failed without running a unit (its list or `when` could not be
         * evaluated) counts as one failure; failed units were counted as they ended. */
        if (ev->status == WF_STATUS_FAILED && ev->n_items == 0 && ev->attempt == 0)
            (*(ev->ignored ? &p->ignored : &p->failures))++;
        t = find_task(p, ev->task, false);
        if (t != NULL)
            drop_task(p, t);
        break;
    case WF_EVENT_RUN_END:
        if (p->mode == WF_PROGRESS_TTY) {
            wf_strbuf out = WF_STRBUF_INIT;

            add_erase(p, &out);
            write_all(out.buf ? out.buf : "", out.len);
            wf_strbuf_release(&out);
        }
        p->finished = true;
        break;
    default:
        break;
    }
    pthread_mutex_unlock(&p->lock);
}

/* Whether the mode shows the line the run printer made for ev. */
static bool shows(const wf_cli_progress *p, const wf_event *ev)
{
    if (p->mode == WF_PROGRESS_NONE)
        return ev->kind == WF_EVENT_WARNING;
    if (p->mode != WF_PROGRESS_TTY || p->verbose)
        return true;
    /* The live display counts starts and items that went well; a terminal shows the rest. */
    if (ev->kind == WF_EVENT_UNIT_QUEUED || ev->kind == WF_EVENT_UNIT_START ||
        ev->kind == WF_EVENT_TASK_START)
        return false;
    return !(ev->kind == WF_EVENT_UNIT_END && ev->index >= 0 &&
             (ev->status == WF_STATUS_SUCCEEDED || ev->status == WF_STATUS_SKIPPED));
}

void wf_cli_progress_print(wf_cli_progress *p, const wf_event *ev, const char *lines)
{
    wf_strbuf safe = WF_STRBUF_INIT;

    if (lines[0] == '\0' || !shows(p, ev))
        return;
    wf_cli_add_safe(&safe, lines);
    pthread_mutex_lock(&p->lock);
    emit_locked(p, wf_strbuf_str(&safe));
    pthread_mutex_unlock(&p->lock);
    wf_strbuf_release(&safe);
}

void wf_cli_progress_note(wf_cli_progress *p, const char *text)
{
    pthread_mutex_lock(&p->lock);
    emit_locked(p, text);
    pthread_mutex_unlock(&p->lock);
}

void wf_cli_progress_free(wf_cli_progress *p)
{
    wf_strbuf out = WF_STRBUF_INIT;

    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    if (p->ticker_started)
        pthread_join(p->ticker, NULL);
    add_erase(p, &out);
    write_all(out.buf ? out.buf : "", out.len);
    wf_strbuf_release(&out);
    for (size_t i = 0; i < p->n_tasks; i++) {
        free(p->tasks[i].name);
        free(p->tasks[i].last_label);
    }
    wf_cli_github_free(p->github);
    free(p->tasks);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
