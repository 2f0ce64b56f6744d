/*
 * GitHub Actions: when the CLI runs under GITHUB_ACTIONS=true, each task's output is folded
 * into a ::group:: when the task ends (with workflow commands stopped inside it, so a task
 * cannot forge annotations by printing "::..."), and every failure gets an ::error
 * annotation. The text comes from events, so secrets are already masked; control bytes are
 * shown as text (wf_cli_add_safe).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Folding keeps at most this much of a task's output, and of each stream of a unit. */
#define GROUP_CAP       (1024 * 1024)
#define UNIT_STREAM_CAP (64 * 1024)
/* Lines of stderr in an ::error annotation. */
#define ANNOTATION_LINES 20

/* A task whose output is being kept until it ends. */
typedef struct gh_task {
    char *name;
    wf_strbuf output;
} gh_task;

struct wf_cli_github {
    bool quiet;
    char stop_token[40]; /* the ::stop-commands:: token around task output */
    gh_task *tasks;
    size_t n_tasks, cap_tasks;
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

/* The last `max` lines of text (all of it if shorter). */
static const char *tail_lines(const char *text, int max)
{
    size_t len = strlen(text);
    int lines = 0;

    while (len > 0 && text[len - 1] == '\n')
        len--;
    for (size_t i = len; i > 0; i--) {
        if (text[i - 1] == '\n' && ++lines == max)
            return text + i;
    }
    return text;
}

/* An ::error annotation for a failed unit or task. */
static void gh_annotate(const wf_event *ev, wf_strbuf *out)
{
    wf_strbuf title = WF_STRBUF_INIT, msg = WF_STRBUF_INIT;

    wf_strbuf_addf(&title, "wfengine: %s", ev->task);
    if (ev->index >= 0)
        wf_strbuf_addf(&title, "[%lld]", (long long)ev->index);
    wf_strbuf_adds(&title, " failed");
    wf_cli_add_safe(&msg, ev->message ? ev->message : "failed");
    if (ev->stderr_text != NULL && ev->stderr_text[0] != '\0') {
        wf_strbuf_adds(&msg, "\n");
        wf_cli_add_safe(&msg, tail_lines(ev->stderr_text, ANNOTATION_LINES));
        while (msg.len > 0 && msg.buf[msg.len - 1] == '\n')
            msg.buf[--msg.len] = '\0';
    }
    wf_strbuf_adds(out, "::error title=");
    gh_escape(out, wf_strbuf_str(&title), true);
    wf_strbuf_adds(out, "::");
    gh_escape(out, wf_strbuf_str(&msg), false);
    wf_strbuf_addc(out, '\n');
    wf_strbuf_release(&msg);
    wf_strbuf_release(&title);
}

/* Keeps a unit's output for its task's group (the tail when it is long). */
static void gh_keep(gh_task *t, const wf_event *ev, const char *stream, const char *text)
{
    size_t len;

    if (text == NULL || text[0] == '\0' || t->output.len >= GROUP_CAP)
        return;
    len = strlen(text);
    wf_strbuf_addf(&t->output, "--- %s", ev->task);
    if (ev->index >= 0)
        wf_strbuf_addf(&t->output, "[%lld]", (long long)ev->index);
    wf_strbuf_addf(&t->output, " %s", stream);
    if (len > UNIT_STREAM_CAP) {
        wf_strbuf_addf(&t->output, " (last %d KiB of %zu bytes)", UNIT_STREAM_CAP / 1024, len);
        text += len - UNIT_STREAM_CAP;
        /* Start at a character, not inside one. */
        while (((unsigned char)*text & 0xC0) == 0x80)
            text++;
    }
    wf_strbuf_adds(&t->output, " ---\n");
    wf_cli_add_safe(&t->output, text);
    if (t->output.buf[t->output.len - 1] != '\n')
        wf_strbuf_addc(&t->output, '\n');
}

/* Prints a task's kept output as a group; workflow commands inside it are stopped, so a task
 * cannot forge annotations or change the job's state by printing "::...". */
static void gh_group(wf_cli_github *g, gh_task *t, const wf_event *ev, wf_strbuf *out)
{
    if (t->output.len == 0 || (g->quiet && ev->status != WF_STATUS_FAILED))
        return;
    wf_strbuf_adds(out, "::group::");
    gh_escape(out, ev->task, false);
    wf_strbuf_addf(out, " (%s", wf_status_name(ev->status));
    if (ev->n_items > 0)
        wf_strbuf_addf(out, ", %zu items", ev->n_items);
    wf_strbuf_adds(out, "): output\n");
    wf_strbuf_addf(out, "::stop-commands::%s\n", g->stop_token);
    wf_strbuf_add(out, t->output.buf, t->output.len);
    if (t->output.len >= GROUP_CAP)
        wf_strbuf_adds(out, "--- (more output not shown here; see `wfengine logs`) ---\n");
    wf_strbuf_addf(out, "::%s::\n", g->stop_token);
    wf_strbuf_adds(out, "::endgroup::\n");
}

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

/* ---- the interface ----------------------------------------------------------------------- */

wf_cli_github *wf_cli_github_new(bool quiet)
{
    const char *gha = getenv("GITHUB_ACTIONS");
    wf_cli_github *g;

    if (gha == NULL || strcmp(gha, "true") != 0)
        return NULL;
    g = wf_xcalloc(1, sizeof(*g));
    g->quiet = quiet;
    make_token(g->stop_token);
    return g;
}

static gh_task *find_task(wf_cli_github *g, const char *name, bool create)
{
    gh_task *t;

    for (size_t i = 0; i < g->n_tasks; i++) {
        if (strcmp(g->tasks[i].name, name) == 0)
            return &g->tasks[i];
    }
    if (!create)
        return NULL;
    if (g->n_tasks == g->cap_tasks) {
        g->cap_tasks = g->cap_tasks ? g->cap_tasks * 2 : 16;
        g->tasks = wf_xrealloc(g->tasks, g->cap_tasks * sizeof(*g->tasks));
    }
    t = &g->tasks[g->n_tasks++];
    memset(t, 0, sizeof(*t));
    t->name = wf_xstrdup(name);
    return t;
}

void wf_cli_github_event(wf_cli_github *g, const wf_event *ev, wf_strbuf *out)
{
    gh_task *t;

    switch (ev->kind) {
    case WF_EVENT_UNIT_END:
        if (ev->status == WF_STATUS_FAILED)
            gh_annotate(ev, out);
        t = find_task(g, ev->task, true);
        gh_keep(t, ev, "stdout", ev->stdout_text);
        gh_keep(t, ev, "stderr", ev->stderr_text);
        break;
    case WF_EVENT_TASK_END:
        /* A task that failed without running a unit (its list or `when` could not be
         * evaluated); failed units were annotated as they ended. */
        if (ev->status == WF_STATUS_FAILED && ev->n_items == 0 && ev->attempt == 0)
            gh_annotate(ev, out);
        t = find_task(g, ev->task, false);
        if (t != NULL) {
            size_t i = (size_t)(t - g->tasks);

            gh_group(g, t, ev, out);
            free(t->name);
            wf_strbuf_release(&t->output);
            memmove(&g->tasks[i], &g->tasks[i + 1], (g->n_tasks - i - 1) * sizeof(*g->tasks));
            g->n_tasks--;
        }
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
        free(g->tasks[i].name);
        wf_strbuf_release(&g->tasks[i].output);
    }
    free(g->tasks);
    free(g);
}
