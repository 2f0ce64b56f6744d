/*
 * --junit FILE: the run as JUnit XML, built from the run's events (cli.h says what becomes a
 * testcase). The layout is the one Jenkins, GitLab and GitHub test reporters read:
 * <testsuites><testsuite><testcase classname name time><failure|skipped/></testcase>.
 * Text from processes is arbitrary bytes: invalid UTF-8 and characters XML 1.0 forbids are
 * replaced by U+FFFD, so the file always parses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* The failure text keeps this many of the last lines of stderr. */
#define STDERR_TAIL_LINES 50

typedef struct junit_case {
    int64_t index; /* -1: the task itself */
    wf_status status;
    int64_t duration_ms;
    int attempts, exit_code;
    char *message; /* the error or skip reason, or NULL */
    char *stderr_tail;
} junit_case;

typedef struct junit_task {
    char *name;
    junit_case *cases;
    size_t n_cases, cap_cases;
    size_t n_items; /* with-items: units once expanded */
    bool ended;
    wf_status status;
    char *message;
} junit_task;

struct wf_cli_junit {
    char *workflow;
    char *run_id;
    time_t started;
    int64_t duration_ms;
    junit_task *tasks; /* in the order of their first event */
    size_t n_tasks, cap_tasks;
    json_object *by_name; /* task name -> index into tasks */
};

bool wf_cli_junit_check_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? wf_xstrndup(path, (size_t)(slash - path)) : wf_xstrdup(".");
    bool ok = access(dir[0] ? dir : "/", W_OK) == 0;

    if (!ok)
        wf_cli_errorf("run: --junit %s: cannot write in %s: %s", path, dir[0] ? dir : "/",
                      strerror(errno));
    free(dir);
    return ok;
}

static junit_task *task_of(wf_cli_junit *j, const char *name)
{
    json_object *idx = NULL;
    junit_task *t;

    if (json_object_object_get_ex(j->by_name, name, &idx))
        return &j->tasks[json_object_get_int64(idx)];
    if (j->n_tasks == j->cap_tasks) {
        j->cap_tasks = j->cap_tasks ? j->cap_tasks * 2 : 16;
        j->tasks = wf_xrealloc(j->tasks, j->cap_tasks * sizeof(*j->tasks));
    }
    json_object_object_add(j->by_name, name, json_object_new_int64((int64_t)j->n_tasks));
    t = &j->tasks[j->n_tasks++];
    memset(t, 0, sizeof(*t));
    t->name = wf_xstrdup(name);
    return t;
}

wf_cli_junit *wf_cli_junit_new(const wf_workflow *wf)
{
    wf_cli_junit *j = wf_xcalloc(1, sizeof(*j));
    json_object *doc = wf_workflow_describe(wf), *tasks = NULL, *name = NULL;

    j->workflow = wf_xstrdup(wf_workflow_name(wf));
    j->by_name = json_object_new_object();
    j->started = time(NULL);
    /* Testcases come in file order, whatever order the tasks ran in. */
    json_object_object_get_ex(doc, "tasks", &tasks);
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        if (json_object_object_get_ex(json_object_array_get_idx(tasks, i), "name", &name))
            task_of(j, json_object_get_string(name));
    }
    json_object_put(doc);
    return j;
}

static junit_case *add_case(junit_task *t, int64_t index, wf_status status)
{
    junit_case *c;

    if (t->n_cases == t->cap_cases) {
        t->cap_cases = t->cap_cases ? t->cap_cases * 2 : 4;
        t->cases = wf_xrealloc(t->cases, t->cap_cases * sizeof(*t->cases));
    }
    c = &t->cases[t->n_cases++];
    memset(c, 0, sizeof(*c));
    c->index = index;
    c->status = status;
    c->exit_code = -1;
    return c;
}

/* The last lines of text, without trailing newlines; NULL for empty text. */
static char *tail_of(const char *text)
{
    size_t len = text ? strlen(text) : 0;
    int lines = 0;
    size_t start = 0;

    while (len > 0 && text[len - 1] == '\n')
        len--;
    if (len == 0)
        return NULL;
    for (size_t i = len; i > 0; i--) {
        if (text[i - 1] == '\n' && ++lines == STDERR_TAIL_LINES) {
            start = i;
            break;
        }
    }
    return wf_xstrndup(text + start, len - start);
}

void wf_cli_junit_event(wf_cli_junit *j, const wf_event *ev)
{
    junit_task *t;
    junit_case *c;

    switch (ev->kind) {
    case WF_EVENT_RUN_START:
        free(j->run_id);
        j->run_id = wf_xstrdup(ev->message ? ev->message : "");
        j->started = time(NULL);
        break;
    case WF_EVENT_TASK_START:
        task_of(j, ev->task)->n_items = ev->n_items;
        break;
    case WF_EVENT_UNIT_END:
        t = task_of(j, ev->task);
        c = add_case(t, ev->index, ev->status);
        c->duration_ms = ev->duration_ms;
        c->attempts = ev->attempt;
        c->exit_code = ev->exit_code;
        c->message = ev->message ? wf_xstrdup(ev->message) : NULL;
        if (ev->status == WF_STATUS_FAILED)
            c->stderr_tail = tail_of(ev->stderr_text);
        break;
    case WF_EVENT_TASK_END:
        t = task_of(j, ev->task);
        t->ended = true;
        t->status = ev->status;
        t->n_items = ev->n_items;
        free(t->message);
        t->message = ev->message ? wf_xstrdup(ev->message) : NULL;
        /* A task that ran no unit (skipped, cancelled before it started, its item list
         * could not be evaluated, or an empty list) is one testcase of its own. */
        if (t->n_cases == 0 && ev->n_items == 0) {
            c = add_case(t, -1, ev->status);
            c->duration_ms = ev->status == WF_STATUS_SUCCEEDED ? ev->duration_ms : 0;
            c->message = t->message ? wf_xstrdup(t->message) : NULL;
        }
        break;
    case WF_EVENT_RUN_END:
        j->duration_ms = ev->duration_ms;
        break;
    default:
        break;
    }
}

/* ---- writing ----------------------------------------------------------------------------- */

/* Appends s as XML character data (attr: inside a double-quoted attribute). */
static void xml_text(wf_strbuf *sb, const char *s, bool attr)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");

    while (*p != '\0') {
        size_t n = wf_cli_utf8_len(p);

        if (n == 0 || (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r')) {
            wf_strbuf_adds(sb, "\xEF\xBF\xBD"); /* U+FFFD */
            p++;
            continue;
        }
        if (*p == '&')
            wf_strbuf_adds(sb, "&amp;");
        else if (*p == '<')
            wf_strbuf_adds(sb, "&lt;");
        else if (*p == '>')
            wf_strbuf_adds(sb, "&gt;");
        else if (attr && *p == '"')
            wf_strbuf_adds(sb, "&quot;");
        else if (attr && *p == '\n')
            wf_strbuf_adds(sb, "&#10;");
        else if (attr && *p == '\t')
            wf_strbuf_adds(sb, "&#9;");
        else if (*p == '\r')
            wf_strbuf_adds(sb, "&#13;");
        else
            wf_strbuf_add(sb, p, n);
        p += n;
    }
}

static int by_index(const void *a, const void *b)
{
    const junit_case *x = a, *y = b;

    return (x->index > y->index) - (x->index < y->index);
}

static void add_case_xml(wf_strbuf *sb, const wf_cli_junit *j, const junit_task *t,
                         const junit_case *c)
{
    wf_strbuf_adds(sb, "    <testcase classname=\"");
    xml_text(sb, j->workflow, true);
    wf_strbuf_addc(sb, '.');
    xml_text(sb, t->name, true);
    wf_strbuf_adds(sb, "\" name=\"");
    xml_text(sb, t->name, true);
    if (c->index >= 0)
        wf_strbuf_addf(sb, "[%lld]", (long long)c->index);
    wf_strbuf_addf(sb, "\" time=\"%.3f\"", (double)c->duration_ms / 1000.0);
    if (c->status == WF_STATUS_SUCCEEDED) {
        wf_strbuf_adds(sb, "/>\n");
        return;
    }
    wf_strbuf_adds(sb, ">\n");
    if (c->status == WF_STATUS_FAILED) {
        wf_strbuf_adds(sb, "      <failure message=\"");
        xml_text(sb, c->message ? c->message : "failed", true);
        wf_strbuf_adds(sb, "\" type=\"");
        if (c->exit_code >= 0)
            wf_strbuf_addf(sb, "exit code %d", c->exit_code);
        else
            wf_strbuf_adds(sb, "failed");
        wf_strbuf_adds(sb, "\">");
        if (c->attempts > 1)
            wf_strbuf_addf(sb, "after %d attempts\n", c->attempts);
        if (c->stderr_tail != NULL) {
            wf_strbuf_adds(sb, "stderr (last lines):\n");
            xml_text(sb, c->stderr_tail, false);
            wf_strbuf_addc(sb, '\n');
        }
        wf_strbuf_adds(sb, "</failure>\n");
    } else {
        wf_strbuf_adds(sb, "      <skipped message=\"");
        if (c->status == WF_STATUS_CANCELLED)
            wf_strbuf_adds(sb, "cancelled");
        if (c->status == WF_STATUS_CANCELLED && c->message != NULL)
            wf_strbuf_adds(sb, ": ");
        xml_text(sb, c->message, true);
        wf_strbuf_adds(sb, "\"/>\n");
    }
    wf_strbuf_adds(sb, "    </testcase>\n");
}

bool wf_cli_junit_write(wf_cli_junit *j, const char *path)
{
    wf_strbuf sb = WF_STRBUF_INIT, cases = WF_STRBUF_INIT;
    size_t tests = 0, failures = 0, skipped = 0;
    char stamp[32], host[256] = "localhost";
    struct tm tm;
    char *tmp = wf_xasprintf("%s.tmp", path);
    FILE *f = NULL;
    bool ok = false;

    for (size_t i = 0; i < j->n_tasks; i++) {
        junit_task *t = &j->tasks[i];

        /* A task the run never reached (it stopped first) is one skipped testcase. */
        if (!t->ended && t->n_cases == 0)
            add_case(t, -1, WF_STATUS_CANCELLED)->message = wf_xstrdup("not started");

        /* Items that never started (the run stopped first) are testcases too, skipped. */
        if (t->ended && t->n_items > 0) {
            bool *seen = wf_xcalloc(t->n_items, sizeof(bool));

            for (size_t c = 0; c < t->n_cases; c++) {
                if (t->cases[c].index >= 0 && (size_t)t->cases[c].index < t->n_items)
                    seen[t->cases[c].index] = true;
            }
            for (size_t k = 0; k < t->n_items; k++) {
                if (!seen[k])
                    add_case(t, (int64_t)k, WF_STATUS_CANCELLED)->message =
                        wf_xstrdup("not started");
            }
            free(seen);
        }
        qsort(t->cases, t->n_cases, sizeof(*t->cases), by_index);
        for (size_t c = 0; c < t->n_cases; c++) {
            tests++;
            failures += t->cases[c].status == WF_STATUS_FAILED;
            skipped += t->cases[c].status == WF_STATUS_SKIPPED ||
                       t->cases[c].status == WF_STATUS_CANCELLED;
            add_case_xml(&cases, j, t, &t->cases[c]);
        }
    }
    gmtime_r(&j->started, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (gethostname(host, sizeof(host) - 1) != 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    wf_strbuf_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    wf_strbuf_adds(&sb, "<testsuites name=\"wfengine\"");
    wf_strbuf_addf(&sb,
                   " tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\">\n",
                   tests, failures, skipped, (double)j->duration_ms / 1000.0);
    wf_strbuf_adds(&sb, "  <testsuite name=\"");
    xml_text(&sb, j->workflow, true);
    wf_strbuf_addf(&sb,
                   "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\"",
                   tests, failures, skipped, (double)j->duration_ms / 1000.0);
    wf_strbuf_addf(&sb, " timestamp=\"%s\" hostname=\"", stamp);
    xml_text(&sb, host, true);
    wf_strbuf_adds(&sb, "\">\n    <properties>\n      <property name=\"run_id\" value=\"");
    xml_text(&sb, j->run_id ? j->run_id : "", true);
    wf_strbuf_adds(&sb, "\"/>\n    </properties>\n");
    wf_strbuf_add(&sb, cases.buf ? cases.buf : "", cases.len);
    wf_strbuf_adds(&sb, "  </testsuite>\n</testsuites>\n");

    f = fopen(tmp, "w");
    if (f == NULL || fwrite(sb.buf, 1, sb.len, f) != sb.len) {
        wf_cli_errorf("run: --junit %s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    if (fclose(f) != 0) {
        f = NULL;
        wf_cli_errorf("run: --junit %s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    f = NULL;
    if (rename(tmp, path) != 0) {
        wf_cli_errorf("run: --junit %s: cannot rename %s: %s", path, tmp, strerror(errno));
        goto out;
    }
    ok = true;
out:
    if (f != NULL)
        fclose(f);
    if (!ok)
        unlink(tmp);
    free(tmp);
    wf_strbuf_release(&cases);
    wf_strbuf_release(&sb);
    return ok;
}

void wf_cli_junit_free(wf_cli_junit *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->n_tasks; i++) {
        for (size_t c = 0; c < j->tasks[i].n_cases; c++) {
            free(j->tasks[i].cases[c].message);
            free(j->tasks[i].cases[c].stderr_tail);
        }
        free(j->tasks[i].cases);
        free(j->tasks[i].message);
        free(j->tasks[i].name);
    }
    free(j->tasks);
    json_object_put(j->by_name);
    free(j->run_id);
    free(j->workflow);
    free(j);
}
