/*
 * GitHub Actions: when the CLI runs under GITHUB_ACTIONS=true, each task's output is folded
 * into a ::group:: when the task ends (with workflow commands stopped inside it, so a task
 * cannot forge annotations by printing "::..."); failures, ignored failures and retries are
 * annotated (::error, ::warning, ::notice) at the task's line in the workflow file; and when
 * the run ends a Markdown summary is appended to $GITHUB_STEP_SUMMARY. The text comes from
 * events, so secrets are already masked; control bytes are shown as text (wf_cli_add_safe),
 * as in the terminal and the JUnit report.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* A group keeps at most this much of a task's output (failed units' first, then the latest
 * of the others), and of each stream of a unit (its tail). */
#define GROUP_CAP       (1024 * 1024)
#define UNIT_STREAM_CAP (64 * 1024)
/* An annotation's message: the error, then the last lines of stderr (at most this much). */
#define ANNOTATION_LINES 20
#define ANNOTATION_CAP   (8 * 1024)
/* Error messages are cut to this many bytes in annotations and the summary. */
#define MESSAGE_CAP 1024
/* GitHub shows 10 error, 10 warning and 10 notice annotations per step and drops the rest
 * (actions/toolkit, docs/problem-matchers.md, "Limitations"); past that, one line says how
 * many more there were. */
#define ANNOTATIONS_PER_KIND 10
/* The step summary details this many failed units (the rest are counted), each with this
 * many lines of stderr, and lists this many tasks. */
#define SUMMARY_FAILURES  20
#define SUMMARY_TAIL      20
#define SUMMARY_TAIL_CAP  (4 * 1024)
#define SUMMARY_MAX_TASKS 100

enum { KIND_ERROR, KIND_WARNING, KIND_NOTICE, N_KINDS };
static const char *const kind_names[N_KINDS] = { "error", "warning", "notice" };

/* A unit's output kept for its task's group (already shown safe, with its headings). */
typedef struct gh_chunk {
    int64_t index;
    char *text;
    size_t len;
} gh_chunk;

/* Chunks in the order they came; the oldest are dropped first (head moves on). */
typedef struct gh_chunks {
    gh_chunk *v;
    size_t head, n, cap;
} gh_chunks;

typedef struct gh_task {
    char *name;
    int line, col;       /* of the task's name in the workflow file; 0: unknown */
    gh_chunks failed;    /* output of failed units (ignored ones too) */
    gh_chunks others;    /* output of the rest */
    size_t kept;         /* bytes in both */
    size_t dropped;      /* units whose output did not fit */
    size_t unit_ends;    /* units told by UNIT_END events */
    size_t n_items;      /* with-items: its units once expanded */
    bool ended, ignored; /* TASK_END seen; it was a failure under continue-on-error */
    wf_status status;
    int64_t duration_ms;
} gh_task;

/* A failed unit, for the step summary. */
typedef struct gh_failure {
    char *task;
    int64_t index;
    bool ignored;
    int attempts;
    int64_t duration_ms;
    char *label;       /* the item's label, shown safe, or NULL */
    char *message;     /* shown safe */
    char *stderr_tail; /* shown safe, or NULL */
} gh_failure;

struct wf_cli_github {
    bool quiet;
    char stop_token[40]; /* the ::stop-commands:: token around task output */
    char *file;          /* the workflow file as GitHub names it (relative to the
                            workspace), or NULL when there is none */
    char *workflow;      /* its name */
    char *store_dir;     /* where the run is recorded, or NULL */
    char *run_id;
    gh_task *tasks; /* in file order */
    size_t n_tasks;
    json_object *by_name; /* task name -> index into tasks */
    int annotated[N_KINDS], more[N_KINDS];
    /* Units by how they ended (a task that ended without units counts as one). */
    size_t n_succeeded, n_failed, n_ignored, n_skipped, n_cancelled, n_retries;
    gh_failure failures[SUMMARY_FAILURES];
    size_t n_failures; /* detailed in failures[] */
};

/* Escapes workflow-command data (property values too when prop): %, CR, LF, and : , */
static void gh_escape(wf_strbuf *sb, const char *s, bool prop)
{
    for (; *s != '\0'; s++) {
        if (*s == '%')
            wf_strbuf_adds(sb, "%25");
        else if (*s == '\r')
            wf_strbuf_adds(sb, "%0D");
        else if (*s == '\n')
            wf_strbuf_adds(sb, "%0A");
        else if (prop && *s == ':')
            wf_strbuf_adds(sb, "%3A");
        else if (prop && *s == ',')
            wf_strbuf_adds(sb, "%2C");
        else
            wf_strbuf_addc(sb, *s);
    }
}

/* Appends the tail of text (lines, within cap bytes) shown safe, without final newlines. */
static void add_tail(wf_strbuf *sb, const char *text, int lines, size_t cap)
{
    wf_cli_add_safe(sb, wf_cli_tail_start(text, lines, cap));
    while (sb->len > 0 && sb->buf[sb->len - 1] == '\n')
        sb->buf[--sb->len] = '\0';
}

/* Appends an error message shown safe, its first MESSAGE_CAP bytes when it is longer. */
static void add_message(wf_strbuf *sb, const char *message)
{
    size_t len, n;
    char *head;

    if (message == NULL || message[0] == '\0') {
        wf_strbuf_adds(sb, "failed");
        return;
    }
    len = strlen(message);
    if (len <= MESSAGE_CAP) {
        wf_cli_add_safe(sb, message);
        return;
    }
    /* Cut between characters. */
    n = MESSAGE_CAP;
    while (n > 0 && ((unsigned char)message[n] & 0xC0) == 0x80)
        n--;
    head = wf_xstrndup(message, n);
    wf_cli_add_safe(sb, head);
    wf_strbuf_adds(sb, " [...]");
    free(head);
}

static gh_task *task_of(wf_cli_github *g, const char *name)
{
    json_object *idx = NULL;

    if (name == NULL || !json_object_object_get_ex(g->by_name, name, &idx))
        return NULL;
    return &g->tasks[json_object_get_int64(idx)];
}

static void unit_name(wf_strbuf *sb, const wf_event *ev)
{
    wf_cli_unit_name(sb, ev->task, ev->index, ev->label);
}

/* An annotation of the given kind at ev's task, unless the kind's quota is used up. */
static void gh_annotate(wf_cli_github *g, int kind, const wf_event *ev, const char *what,
                        const wf_strbuf *msg, wf_strbuf *out)
{
    const gh_task *t = task_of(g, ev->task);
    wf_strbuf title = WF_STRBUF_INIT;

    if (g->annotated[kind] == ANNOTATIONS_PER_KIND) {
        g->more[kind]++;
        return;
    }
    g->annotated[kind]++;
    wf_strbuf_adds(&title, "wfengine: ");
    unit_name(&title, ev);
    wf_strbuf_addf(&title, " %s", what);
    wf_strbuf_addf(out, "::%s ", kind_names[kind]);
    if (g->file != NULL && t != NULL && t->line > 0) {
        wf_strbuf_adds(out, "file=");
        gh_escape(out, g->file, true);
        wf_strbuf_addf(out, ",line=%d,col=%d,", t->line, t->col);
    }
    wf_strbuf_adds(out, "title=");
    gh_escape(out, wf_strbuf_str(&title), true);
    wf_strbuf_adds(out, "::");
    gh_escape(out, wf_strbuf_str(msg), false);
    wf_strbuf_addc(out, '\n');
    wf_strbuf_release(&title);
}

/* The annotation of a failed unit or task: an error, or a warning when it is ignored. */
static void gh_annotate_failure(wf_cli_github *g, const wf_event *ev, wf_strbuf *out)
{
    wf_strbuf msg = WF_STRBUF_INIT;

    add_message(&msg, ev->message);
    if (ev->stderr_text != NULL && ev->stderr_text[0] != '\0') {
        wf_strbuf_addc(&msg, '\n');
        add_tail(&msg, ev->stderr_text, ANNOTATION_LINES, ANNOTATION_CAP);
        while (msg.len > 0 && msg.buf[msg.len - 1] == '\n')
            msg.buf[--msg.len] = '\0';
    }
    if (ev->ignored)
        gh_annotate(g, KIND_WARNING, ev, "failed (ignored: continue-on-error)", &msg, out);
    else
        gh_annotate(g, KIND_ERROR, ev, "failed", &msg, out);
    wf_strbuf_release(&msg);
}

static void gh_annotate_retry(wf_cli_github *g, const wf_event *ev, wf_strbuf *out)
{
    wf_strbuf msg = WF_STRBUF_INIT;

    wf_strbuf_addf(&msg, "attempt %d of %d failed: ", ev->attempt, ev->max_attempts);
    add_message(&msg, ev->message);
    wf_strbuf_adds(&msg, "; retrying in ");
    wf_duration_format(&msg, ev->delay_ms);
    gh_annotate(g, KIND_NOTICE, ev, "retried", &msg, out);
    wf_strbuf_release(&msg);
}

/* ---- groups ------------------------------------------------------------------------------ */

static void chunks_push(gh_chunks *c, gh_chunk chunk)
{
    if (c->head > 0 && c->head >= c->n / 2) {
        /* Most of the array is dropped chunks: move the live ones down. */
        memmove(c->v, c->v + c->head, (c->n - c->head) * sizeof(*c->v));
        c->n -= c->head;
        c->head = 0;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 8;
        c->v = wf_xrealloc(c->v, c->cap * sizeof(*c->v));
    }
    c->v[c->n++] = chunk;
}

/* Drops the oldest chunk of c; false when it has none. */
static bool chunks_drop(gh_task *t, gh_chunks *c)
{
    if (c->head == c->n)
        return false;
    t->kept -= c->v[c->head].len;
    t->dropped++;
    free(c->v[c->head].text);
    c->head++;
    return true;
}

static void chunks_release(gh_chunks *c)
{
    for (size_t i = c->head; i < c->n; i++)
        free(c->v[i].text);
    free(c->v);
    memset(c, 0, sizeof(*c));
}

static void add_stream(wf_strbuf *sb, const wf_event *ev, const char *stream, const char *text)
{
    size_t len;

    if (text == NULL || text[0] == '\0')
        return;
    len = strlen(text);
    if (strcmp(stream, "stdout") == 0 && ev->stdout_bytes > len)
        len = (size_t)ev->stdout_bytes; /* text is the tail of a stdout kept on disk */
    wf_strbuf_adds(sb, "--- ");
    unit_name(sb, ev);
    wf_strbuf_addf(sb, " %s", stream);
    if (len > UNIT_STREAM_CAP)
        wf_strbuf_addf(sb, " (last %d KiB of %zu bytes)", UNIT_STREAM_CAP / 1024, len);
    wf_strbuf_adds(sb, " ---\n");
    wf_cli_add_safe(sb, wf_cli_tail_start(text, 0, UNIT_STREAM_CAP));
    if (sb->buf[sb->len - 1] != '\n')
        wf_strbuf_addc(sb, '\n');
}

/* Keeps a unit's output for its task's group. Past GROUP_CAP the oldest output of units that
 * did not fail goes first, then the oldest of failed ones: the group keeps the tail. */
static void gh_keep(gh_task *t, const wf_event *ev)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    gh_chunk chunk = { .index = ev->index };

    add_stream(&sb, ev, "stdout", ev->stdout_text);
    add_stream(&sb, ev, "stderr", ev->stderr_text);
    if (sb.len == 0)
        return;
    chunk.text = wf_strbuf_detach(&sb, &chunk.len);
    chunks_push(ev->status == WF_STATUS_FAILED ? &t->failed : &t->others, chunk);
    t->kept += chunk.len;
    while (t->kept > GROUP_CAP && (chunks_drop(t, &t->others) || chunks_drop(t, &t->failed)))
        ;
}

static int by_index(const void *a, const void *b)
{
    const gh_chunk *x = a, *y = b;

    return (x->index > y->index) - (x->index < y->index);
}

static void add_chunks(wf_strbuf *out, gh_chunks *c)
{
    if (c->head == c->n)
        return; /* also when c->v is NULL, which qsort must not get */
    qsort(c->v + c->head, c->n - c->head, sizeof(*c->v), by_index);
    for (size_t i = c->head; i < c->n; i++)
        wf_strbuf_add(out, c->v[i].text, c->v[i].len);
}

/* Prints a task's kept output as a group, failed units first, each part in index order;
 * workflow commands inside it are stopped, so a task cannot forge annotations or change the
 * job's state by printing "::...". */
static void gh_group(wf_cli_github *g, gh_task *t, const wf_event *ev, wf_strbuf *out)
{
    if (t->kept == 0 || (g->quiet && ev->status != WF_STATUS_FAILED))
        return;
    wf_strbuf_adds(out, "::group::");
    gh_escape(out, ev->task, false);
    wf_strbuf_addf(out, " (%s", wf_status_name(ev->status));
    if (ev->n_items > 0)
        wf_strbuf_addf(out, ", %zu items", ev->n_items);
    wf_strbuf_adds(out, "): output\n");
    wf_strbuf_addf(out, "::stop-commands::%s\n", g->stop_token);
    if (t->dropped > 0)
        wf_strbuf_addf(out,
                       "--- the output of %zu earlier unit%s is not shown here (a group keeps "
                       "the last %d MiB, failures first; see `wfengine logs`) ---\n",
                       t->dropped, t->dropped == 1 ? "" : "s", GROUP_CAP / (1024 * 1024));
    add_chunks(out, &t->failed);
    add_chunks(out, &t->others);
    wf_strbuf_addf(out, "::%s::\n", g->stop_token);
    wf_strbuf_adds(out, "::endgroup::\n");
}

/* ---- the step summary -------------------------------------------------------------------- */

/* Appends s as Markdown text on one line: ASCII punctuation backslash-escaped (so neither
 * Markdown nor HTML in it is interpreted), line breaks as spaces. s is shown safe already. */
static void md_text(wf_strbuf *sb, const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\n' || *s == '\r' || *s == '\t')
            wf_strbuf_addc(sb, ' ');
        else if (strchr("\\`*_{}[]()<>#+-.!|~&\"'", *s) != NULL) {
            wf_strbuf_addc(sb, '\\');
            wf_strbuf_addc(sb, *s);
        } else
            wf_strbuf_addc(sb, *s);
    }
}

/* Appends text as a fenced code block: the fence is longer than any run of backticks in it,
 * so the text cannot end the block. */
static void md_code(wf_strbuf *sb, const char *text)
{
    size_t run = 0, longest = 0, fence;

    for (const char *p = text; *p != '\0'; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    fence = longest < 3 ? 3 : longest + 1;
    for (size_t i = 0; i < fence; i++)
        wf_strbuf_addc(sb, '`');
    wf_strbuf_adds(sb, "text\n");
    wf_strbuf_adds(sb, text);
    wf_strbuf_addc(sb, '\n');
    for (size_t i = 0; i < fence; i++)
        wf_strbuf_addc(sb, '`');
    wf_strbuf_addc(sb, '\n');
}

/* Appends text as a Markdown code span (shown as is): the delimiter is longer than any run
 * of backticks in it. */
static void md_span(wf_strbuf *sb, const char *text)
{
    size_t run = 0, longest = 0;

    for (const char *p = text; *p != '\0'; p++) {
        run = *p == '`' ? run + 1 : 0;
        if (run > longest)
            longest = run;
    }
    for (size_t i = 0; i <= longest; i++)
        wf_strbuf_addc(sb, '`');
    wf_strbuf_addc(sb, ' ');
    for (const char *p = text; *p != '\0'; p++)
        wf_strbuf_addc(sb, *p == '\n' || *p == '\r' ? ' ' : *p);
    wf_strbuf_addc(sb, ' ');
    for (size_t i = 0; i <= longest; i++)
        wf_strbuf_addc(sb, '`');
}

static void note_failure(wf_cli_github *g, const wf_event *ev)
{
    gh_failure *f;
    wf_strbuf sb = WF_STRBUF_INIT;

    if (g->n_failures == SUMMARY_FAILURES)
        return;
    f = &g->failures[g->n_failures++];
    f->task = wf_xstrdup(ev->task);
    f->index = ev->index;
    if (ev->label != NULL) {
        wf_cli_add_safe(&sb, ev->label);
        f->label = wf_strbuf_detach(&sb, NULL);
    }
    f->ignored = ev->ignored;
    f->attempts = ev->attempt;
    f->duration_ms = ev->duration_ms;
    add_message(&sb, ev->message);
    f->message = wf_strbuf_detach(&sb, NULL);
    if (ev->stderr_text != NULL && ev->stderr_text[0] != '\0') {
        add_tail(&sb, ev->stderr_text, SUMMARY_TAIL, SUMMARY_TAIL_CAP);
        if (sb.len > 0)
            f->stderr_tail = wf_strbuf_detach(&sb, NULL);
    }
    wf_strbuf_release(&sb);
}

static void add_count(wf_strbuf *sb, size_t n, const char *what, bool *first)
{
    if (n == 0)
        return;
    wf_strbuf_addf(sb, "%s%zu %s", *first ? "" : ", ", n, what);
    *first = false;
}

static void summary_failure(wf_strbuf *md, const wf_cli_github *g, const gh_failure *f)
{
    const gh_task *t = task_of((wf_cli_github *)g, f->task);

    wf_strbuf_addf(md, "- **`%s", f->task);
    if (f->index >= 0)
        wf_strbuf_addf(md, "[%lld]", (long long)f->index);
    wf_strbuf_adds(md, "`**");
    if (f->label != NULL) {
        wf_strbuf_adds(md, " \\(");
        md_text(md, f->label);
        wf_strbuf_adds(md, "\\)");
    }
    if (f->ignored)
        wf_strbuf_adds(md, " (ignored: continue\\-on\\-error)");
    wf_strbuf_adds(md, ": ");
    md_text(md, f->message);
    wf_strbuf_adds(md, " \\(");
    if (f->attempts > 1)
        wf_strbuf_addf(md, "after %d attempts, ", f->attempts);
    wf_duration_format(md, f->duration_ms);
    if (g->file != NULL && t != NULL && t->line > 0) {
        wf_strbuf_adds(md, ", ");
        md_text(md, g->file);
        wf_strbuf_addf(md, " line %d", t->line);
    }
    wf_strbuf_adds(md, "\\)\n");
    if (f->stderr_tail != NULL) {
        wf_strbuf_adds(md, "\n<details><summary>stderr (last lines)</summary>\n\n");
        md_code(md, f->stderr_tail);
        wf_strbuf_adds(md, "\n</details>\n\n");
    }
}

/* The run as Markdown, for $GITHUB_STEP_SUMMARY. */
static void build_summary(const wf_cli_github *g, const wf_event *ev, wf_strbuf *md)
{
    size_t failed_total = g->n_failed + g->n_ignored;
    bool first = true;

    wf_strbuf_adds(md, "### wfengine: ");
    md_text(md, g->workflow);
    wf_strbuf_addf(md, " %s\n\n", wf_status_name(ev->status));
    wf_strbuf_adds(md, "Run ");
    md_span(md, g->run_id ? g->run_id : "");
    wf_strbuf_addf(md, ": **%s** in ", wf_status_name(ev->status));
    wf_duration_format(md, ev->duration_ms);
    wf_strbuf_adds(md, "; ");
    add_count(md, g->n_succeeded, "succeeded", &first);
    add_count(md, g->n_failed, "failed", &first);
    add_count(md, g->n_ignored, "failed (ignored)", &first);
    add_count(md, g->n_skipped, "skipped", &first);
    add_count(md, g->n_cancelled, "cancelled", &first);
    if (first)
        wf_strbuf_adds(md, "no units");
    if (g->n_retries > 0)
        wf_strbuf_addf(md, "; %zu retr%s", g->n_retries, g->n_retries == 1 ? "y" : "ies");
    wf_strbuf_adds(md, ".\n\n");
    if (failed_total > 0) {
        wf_strbuf_adds(md, "#### Failures\n\n");
        /* Failures of the run first, then the ignored ones. */
        for (int ignored = 0; ignored < 2; ignored++) {
            for (size_t i = 0; i < g->n_failures; i++) {
                if (g->failures[i].ignored == (ignored == 1))
                    summary_failure(md, g, &g->failures[i]);
            }
        }
        if (failed_total > g->n_failures)
            wf_strbuf_addf(md, "- and %zu more failures\n", failed_total - g->n_failures);
        wf_strbuf_addc(md, '\n');
    }
    wf_strbuf_adds(md, "#### Tasks\n\n| task | status | units | duration |\n|---|---|---|---|\n");
    for (size_t i = 0; i < g->n_tasks && i < SUMMARY_MAX_TASKS; i++) {
        const gh_task *t = &g->tasks[i];

        wf_strbuf_addf(md, "| `%s` | %s%s | %zu | ", t->name,
                       t->ended ? wf_status_name(t->status) : "not started",
                       t->ignored ? ", ignored" : "", t->n_items > 0 ? t->n_items : 1);
        if (t->ended)
            wf_duration_format(md, t->duration_ms);
        wf_strbuf_adds(md, " |\n");
    }
    if (g->n_tasks > SUMMARY_MAX_TASKS)
        wf_strbuf_addf(md, "\nand %zu more tasks.\n", g->n_tasks - SUMMARY_MAX_TASKS);
    wf_strbuf_addc(md, '\n');
    if (g->store_dir != NULL && g->run_id != NULL) {
        wf_strbuf cmd = WF_STRBUF_INIT;

        wf_strbuf_addf(&cmd, "wfengine report %s -o report.html --store ", g->run_id);
        wf_cli_add_safe(&cmd, g->store_dir);
        wf_strbuf_adds(md, "Every unit's output and the timeline: ");
        md_span(md, wf_strbuf_str(&cmd));
        wf_strbuf_reset(&cmd);
        wf_strbuf_addf(&cmd, "wfengine logs %s TASK[INDEX]", g->run_id);
        wf_strbuf_adds(md, "; one unit's output: ");
        md_span(md, wf_strbuf_str(&cmd));
        wf_strbuf_adds(md, ".\n\n");
        wf_strbuf_release(&cmd);
    } else {
        wf_strbuf_adds(md, "The run was not recorded (`--no-store`): `wfengine report` needs a "
                           "recorded run.\n\n");
    }
}

/* Appends the summary to $GITHUB_STEP_SUMMARY when it is set; a file that cannot be written
 * is a warning in out, never a failed run. */
static void write_summary(const wf_cli_github *g, const wf_event *ev, wf_strbuf *out)
{
    const char *path = getenv("GITHUB_STEP_SUMMARY");
    wf_strbuf md = WF_STRBUF_INIT;
    int fd;
    size_t done = 0;

    if (path == NULL || path[0] == '\0')
        return;
    build_summary(g, ev, &md);
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    while (fd >= 0 && done < md.len) {
        ssize_t n = write(fd, md.buf + done, md.len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd < 0 || done < md.len || close(fd) != 0) {
        wf_strbuf_adds(out, "wfengine: warning: cannot write the step summary to ");
        wf_cli_add_safe(out, path);
        wf_strbuf_addf(out, " ($GITHUB_STEP_SUMMARY): %s\n", strerror(errno));
        if (fd >= 0 && done < md.len)
            close(fd);
    }
    wf_strbuf_release(&md);
}

/* ---- the interface ----------------------------------------------------------------------- */

static void make_token(char out[40])
{
    unsigned char bytes[16] = { 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, bytes, sizeof(bytes)) : -1;
    uint64_t mix = (uint64_t)wf_now_ns() ^ ((uint64_t)getpid() << 32);

    if (fd >= 0)
        close(fd);
    for (size_t i = 0; i < sizeof(bytes); i++) {
        if (n != (ssize_t)sizeof(bytes))
            bytes[i] ^= (unsigned char)(mix >> (8 * (i % 8)));
        snprintf(out + 2 * i, 3, "%02x", bytes[i]);
    }
}

/* The workflow file as GitHub names files in annotations: relative to the repository
 * ($GITHUB_WORKSPACE) when it is inside it, else as given; NULL when there is no file. */
static char *annotation_path(const char *path)
{
    const char *ws = getenv("GITHUB_WORKSPACE");
    char cwd[PATH_MAX];
    char *abs, *rel = NULL;
    size_t n;

    if (path == NULL || path[0] == '<')
        return NULL;
    while (path[0] == '.' && path[1] == '/')
        path += 2;
    if (ws == NULL || ws[0] != '/')
        return wf_xstrdup(path);
    if (path[0] == '/')
        abs = wf_xstrdup(path);
    else if (getcwd(cwd, sizeof(cwd)) != NULL)
        abs = wf_xasprintf("%s/%s", cwd, path);
    else
        return wf_xstrdup(path);
    n = strlen(ws);
    while (n > 1 && ws[n - 1] == '/')
        n--;
    if (strncmp(abs, ws, n) == 0 && abs[n] == '/')
        rel = wf_xstrdup(abs + n + 1);
    free(abs);
    return rel != NULL ? rel : wf_xstrdup(path);
}

wf_cli_github *wf_cli_github_new(const wf_workflow *wf, const char *store_dir, bool quiet)
{
    const char *gha = getenv("GITHUB_ACTIONS");
    json_object *doc, *tasks = NULL;
    wf_cli_github *g;

    if (gha == NULL || strcmp(gha, "true") != 0)
        return NULL;
    g = wf_xcalloc(1, sizeof(*g));
    g->quiet = quiet;
    make_token(g->stop_token);
    doc = wf_workflow_describe(wf);
    g->file = annotation_path(wf_cli_json_str(doc, "path"));
    g->workflow = wf_xstrdup(wf_workflow_name(wf));
    g->store_dir = store_dir ? wf_xstrdup(store_dir) : NULL;
    g->by_name = json_object_new_object();
    json_object_object_get_ex(doc, "tasks", &tasks);
    g->n_tasks = json_object_array_length(tasks);
    g->tasks = wf_xcalloc(g->n_tasks ? g->n_tasks : 1, sizeof(*g->tasks));
    for (size_t i = 0; i < g->n_tasks; i++) {
        json_object *t = json_object_array_get_idx(tasks, i);

        g->tasks[i].name = wf_xstrdup(wf_cli_json_str(t, "name"));
        g->tasks[i].line = (int)wf_cli_json_int(t, "line", 0);
        g->tasks[i].col = (int)wf_cli_json_int(t, "col", 0);
        json_object_object_add(g->by_name, g->tasks[i].name, json_object_new_int64((int64_t)i));
    }
    json_object_put(doc);
    return g;
}

/* Counts a unit (or a task that ended without units) by how it ended. */
static void count(wf_cli_github *g, wf_status status, bool ignored, size_t n)
{
    if (status == WF_STATUS_SUCCEEDED)
        g->n_succeeded += n;
    else if (status == WF_STATUS_FAILED && ignored)
        g->n_ignored += n;
    else if (status == WF_STATUS_FAILED)
        g->n_failed += n;
    else if (status == WF_STATUS_SKIPPED)
        g->n_skipped += n;
    else
        g->n_cancelled += n;
}

static void task_end(wf_cli_github *g, gh_task *t, const wf_event *ev, wf_strbuf *out)
{
    t->ended = true;
    t->status = ev->status;
    t->ignored = ev->ignored;
    t->duration_ms = ev->duration_ms;
    t->n_items = ev->n_items;
    if (t->unit_ends == 0 && ev->n_items == 0) {
        /* It ran no unit: skipped, cancelled, or failed before it could (its item list or
         * `when` could not be evaluated); failed units were annotated as they ended. */
        count(g, ev->status, ev->ignored, ev->n_units > 0 ? ev->n_units : 1);
        if (ev->status == WF_STATUS_FAILED) {
            gh_annotate_failure(g, ev, out);
            note_failure(g, ev);
        }
    } else if (ev->n_items > t->unit_ends) {
        count(g, WF_STATUS_CANCELLED, false, ev->n_items - t->unit_ends); /* never started */
    }
    gh_group(g, t, ev, out);
    chunks_release(&t->failed);
    chunks_release(&t->others);
    t->kept = 0;
}

/* "wfengine: 4 more failures not annotated (...)", when n > 0. */
static void add_more(wf_strbuf *out, int n, const char *one, const char *many, int kind)
{
    if (n > 0)
        wf_strbuf_addf(out,
                       "wfengine: %d more %s not annotated (GitHub shows %d %s annotations per "
                       "step; the groups above have their output)\n",
                       n, n == 1 ? one : many, ANNOTATIONS_PER_KIND, kind_names[kind]);
}

void wf_cli_github_event(wf_cli_github *g, const wf_event *ev, wf_strbuf *out)
{
    gh_task *t = task_of(g, ev->task);

    switch (ev->kind) {
    case WF_EVENT_RUN_START:
        free(g->run_id);
        g->run_id = wf_xstrdup(ev->message ? ev->message : "");
        break;
    case WF_EVENT_UNIT_RETRY:
        g->n_retries++;
        gh_annotate_retry(g, ev, out);
        break;
    case WF_EVENT_UNIT_END:
        count(g, ev->status, ev->ignored, 1);
        if (ev->status == WF_STATUS_FAILED) {
            gh_annotate_failure(g, ev, out);
            note_failure(g, ev);
        }
        if (t != NULL) {
            t->unit_ends += ev->n_units > 0 ? ev->n_units : 1;
            gh_keep(t, ev);
        }
        break;
    case WF_EVENT_TASK_END:
        if (t != NULL)
            task_end(g, t, ev, out);
        break;
    case WF_EVENT_RUN_END:
        /* What the annotation limits left out, on one line each. */
        add_more(out, g->more[KIND_ERROR], "failure", "failures", KIND_ERROR);
        add_more(out, g->more[KIND_WARNING], "ignored failure", "ignored failures", KIND_WARNING);
        add_more(out, g->more[KIND_NOTICE], "retry", "retries", KIND_NOTICE);
        write_summary(g, ev, out);
        break;
    default:
        break;
    }
}

void wf_cli_github_free(wf_cli_github *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->n_tasks; i++) {
        chunks_release(&g->tasks[i].failed);
        chunks_release(&g->tasks[i].others);
        free(g->tasks[i].name);
    }
    for (size_t i = 0; i < g->n_failures; i++) {
        free(g->failures[i].task);
        free(g->failures[i].label);
        free(g->failures[i].message);
        free(g->failures[i].stderr_tail);
    }
    free(g->tasks);
    json_object_put(g->by_name);
    free(g->run_id);
    free(g->store_dir);
    free(g->workflow);
    free(g->file);
    free(g);
}
