/*
 * --junit FILE: the run as JUnit XML, built from the run's events (cli.h says what becomes a
 * testcase). The layout is the one Jenkins (the xunit plugin's schema,
 * tests/e2e/data/jenkins-junit-10.xsd), GitLab and GitHub test reporters read:
 * <testsuites><testsuite><testcase classname name time> with <failure>, <skipped>,
 * <rerunFailure>/<flakyFailure> for earlier failed attempts, <system-out>/<system-err>.
 * What processes wrote is shown as wf_cli_add_safe shows it on the terminal (control bytes
 * as \xHH), and any character XML 1.0 forbids that is left becomes U+FFFD, so the file
 * always parses.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* A failure's text: the last lines of stderr, at most this many and this many bytes. */
#define FAILURE_LINES 50
#define FAILURE_CAP   (8 * 1024)
/* <system-out>/<system-err> of a failed testcase: the tail of the stream, at most this. */
#define STREAM_CAP (64 * 1024)
/* What the whole report keeps of processes' output (failure texts and streams); failures
 * past it have their error message only, and say so. */
#define OUTPUT_BUDGET (16 * 1024 * 1024)

/* An earlier failed attempt of a unit (UNIT_RETRY). */
typedef struct junit_rerun {
    int64_t index;
    int attempt, exit_code;
    char *message;
    char *out, *err; /* tails of the attempt's stdout and stderr, shown safe; may be NULL */
    size_t out_cut, err_cut;
} junit_rerun;

typedef struct junit_case {
    int64_t index; /* -1: the task itself */
    wf_status status;
    bool ignored;        /* a failure under continue-on-error */
    bool output_dropped; /* the report's output budget was used up */
    int64_t duration_ms;
    int attempts, exit_code;
    char *label;             /* the item's label, shown safe; or NULL */
    char *message;           /* the error or the reason it was skipped or cancelled, or NULL */
    char *failure_text;      /* the last lines of stderr, shown safe; or NULL */
    char *out, *err;         /* tails of stdout and stderr, shown safe; or NULL */
    size_t out_cut, err_cut; /* bytes before those tails that were left out */
} junit_case;

typedef struct junit_task {
    char *name;
    junit_case *cases;
    size_t n_cases, cap_cases;
    junit_rerun *reruns; /* in the order they happened */
    size_t n_reruns, cap_reruns;
    size_t n_items; /* with-items: units once expanded */
    bool ended;
    bool left_out; /* not part of the run (wfengine run FILE TASK...): no testcase */
    wf_status status;
    char *message;
} junit_task;

struct wf_cli_junit {
    char *workflow;
    char *run_id;
    char *stop_reason; /* the first reason a unit or task was cancelled, or NULL */
    time_t started;
    int64_t duration_ms;
    size_t output_left; /* of OUTPUT_BUDGET */
    junit_task *tasks;  /* in the order of their first event */
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
    j->output_left = OUTPUT_BUDGET;
    /* Testcases come in file order, whatever order the tasks ran in. */
    json_object_object_get_ex(doc, "tasks", &tasks);
    for (size_t i = 0; i < json_object_array_length(tasks); i++) {
        if (json_object_object_get_ex(json_object_array_get_idx(tasks, i), "name", &name))
            task_of(j, json_object_get_string(name));
    }
    json_object_put(doc);
    return j;
}

void wf_cli_junit_leave_out(wf_cli_junit *j, const char *task)
{
    task_of(j, task)->left_out = true;
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

static char *safe_dup(const char *s)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    if (s == NULL)
        return NULL;
    wf_cli_add_safe(&sb, s);
    return wf_strbuf_detach(&sb, NULL);
}

/* The tail of text (max_lines lines, 0: any, within max_bytes), shown safe and taken from the
 * report's output budget; NULL for empty text or when the budget is used up (then *dropped).
 * *cut: the bytes left out before the tail. */
static char *keep_tail(wf_cli_junit *j, const char *text, int max_lines, size_t max_bytes,
                       size_t *cut, bool *dropped)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    const char *start;

    if (text == NULL || text[0] == '\0')
        return NULL;
    if (j->output_left == 0) {
        *dropped = true;
        return NULL;
    }
    if (max_bytes > j->output_left)
        max_bytes = j->output_left;
    start = wf_cli_tail_start(text, max_lines, max_bytes);
    if (cut != NULL)
        *cut = (size_t)(start - text);
    wf_cli_add_safe(&sb, start);
    while (sb.len > 0 && sb.buf[sb.len - 1] == '\n')
        sb.buf[--sb.len] = '\0';
    if (sb.len == 0) {
        wf_strbuf_release(&sb);
        return NULL;
    }
    /* Shown safe, the text may have grown (\xHH): the budget counts what is kept. */
    j->output_left -= sb.len < j->output_left ? sb.len : j->output_left;
    return wf_strbuf_detach(&sb, NULL);
}

static void add_rerun(wf_cli_junit *j, junit_task *t, const wf_event *ev)
{
    junit_rerun *r;
    bool dropped = false;

    if (t->n_reruns == t->cap_reruns) {
        t->cap_reruns = t->cap_reruns ? t->cap_reruns * 2 : 4;
        t->reruns = wf_xrealloc(t->reruns, t->cap_reruns * sizeof(*t->reruns));
    }
    r = &t->reruns[t->n_reruns++];
    r->index = ev->index;
    r->attempt = ev->attempt;
    r->exit_code = ev->exit_code;
    r->message = safe_dup(ev->message);
    r->out = keep_tail(j, ev->stdout_text, FAILURE_LINES, FAILURE_CAP, &r->out_cut, &dropped);
    r->err = keep_tail(j, ev->stderr_text, FAILURE_LINES, FAILURE_CAP, &r->err_cut, &dropped);
}

/* Remembers the first reason a unit or task was cancelled: it says why the run stopped, for
 * what never started and so has no event of its own. */
static void note_stop(wf_cli_junit *j, const wf_event *ev)
{
    if (ev->status == WF_STATUS_CANCELLED && ev->message != NULL && j->stop_reason == NULL)
        j->stop_reason = safe_dup(ev->message);
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
    case WF_EVENT_UNIT_RETRY:
        add_rerun(j, task_of(j, ev->task), ev);
        break;
    case WF_EVENT_UNIT_END:
        t = task_of(j, ev->task);
        /* A span of units taken from the resumed run comes as one event: a case each. */
        for (size_t k = 1; k < ev->n_units; k++)
            add_case(t, ev->index + (int64_t)k, ev->status)->exit_code = ev->exit_code;
        c = add_case(t, ev->index, ev->status);
        c->duration_ms = ev->duration_ms;
        c->attempts = ev->attempt;
        c->exit_code = ev->exit_code;
        c->ignored = ev->status == WF_STATUS_FAILED && ev->ignored;
        c->message = safe_dup(ev->message);
        c->label = safe_dup(ev->label);
        note_stop(j, ev);
        if (ev->status == WF_STATUS_FAILED) {
            c->failure_text =
                keep_tail(j, ev->stderr_text, FAILURE_LINES, FAILURE_CAP, NULL, &c->output_dropped);
            c->out = keep_tail(j, ev->stdout_text, 0, STREAM_CAP, &c->out_cut, &c->output_dropped);
            c->err = keep_tail(j, ev->stderr_text, 0, STREAM_CAP, &c->err_cut, &c->output_dropped);
        }
        break;
    case WF_EVENT_TASK_END:
        t = task_of(j, ev->task);
        t->ended = true;
        t->status = ev->status;
        t->n_items = ev->n_items;
        free(t->message);
        t->message = safe_dup(ev->message);
        note_stop(j, ev);
        /* A task that ran no unit (skipped, cancelled before it started, its item list
         * could not be evaluated, or an empty list) is one testcase of its own. */
        if (t->n_cases == 0 && ev->n_items == 0) {
            c = add_case(t, -1, ev->status);
            c->duration_ms = ev->status == WF_STATUS_SUCCEEDED ? ev->duration_ms : 0;
            c->ignored = ev->status == WF_STATUS_FAILED && ev->ignored;
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

static int by_index_attempt(const void *a, const void *b)
{
    const junit_rerun *x = a, *y = b;

    if (x->index != y->index)
        return (x->index > y->index) - (x->index < y->index);
    return (x->attempt > y->attempt) - (x->attempt < y->attempt);
}

/* "exit code N", or what failed when there is no exit code. */
static void add_type(wf_strbuf *sb, int exit_code)
{
    if (exit_code >= 0)
        wf_strbuf_addf(sb, "exit code %d", exit_code);
    else
        wf_strbuf_adds(sb, "failed");
}

/* <system-out> or <system-err>: a stream's tail, saying what was cut before it. */
static void add_stream_xml(wf_strbuf *sb, const char *tag, const char *text, size_t cut)
{
    if (text == NULL)
        return;
    wf_strbuf_addf(sb, "      <%s>", tag);
    if (cut > 0)
        wf_strbuf_addf(sb, "[... %zu bytes before these not shown]\n", cut);
    xml_text(sb, text, false);
    wf_strbuf_addf(sb, "\n</%s>\n", tag);
}

/* The reason a unit was skipped or cancelled, never empty: a cancelled one says what
 * stopped it. */
static void add_reason(wf_strbuf *sb, const junit_case *c)
{
    const char *m = c->message;

    if (c->status == WF_STATUS_SKIPPED) {
        xml_text(sb, m != NULL && m[0] != '\0' ? m : "skipped (no reason recorded)", true);
        return;
    }
    /* The engine's reasons say "not started: ..." or "cancelled ...": no "cancelled:" on
     * top of those. */
    if (m == NULL || m[0] == '\0')
        m = "the run stopped before it ended";
    if (strncmp(m, "not started", 11) != 0 && strncmp(m, "cancelled", 9) != 0)
        wf_strbuf_adds(sb, "cancelled: ");
    xml_text(sb, m, true);
}

/* The testcase of unit c; reruns are c's earlier failed attempts (n of them). */
static void add_case_xml(wf_strbuf *sb, const wf_cli_junit *j, const junit_task *t,
                         const junit_case *c, const junit_rerun *reruns, size_t n)
{
    bool failed = c->status == WF_STATUS_FAILED && !c->ignored;

    wf_strbuf_adds(sb, "    <testcase classname=\"");
    xml_text(sb, j->workflow, true);
    wf_strbuf_addc(sb, '.');
    xml_text(sb, t->name, true);
    wf_strbuf_adds(sb, "\" name=\"");
    xml_text(sb, t->name, true);
    if (c->index >= 0)
        wf_strbuf_addf(sb, "[%lld]", (long long)c->index);
    if (c->index >= 0 && c->label != NULL) {
        wf_strbuf_adds(sb, " (");
        xml_text(sb, c->label, true);
        wf_strbuf_addc(sb, ')');
    }
    /* The schema's time has no sign: a clock step must not make the file invalid. */
    wf_strbuf_addf(sb, "\" time=\"%.3f\"",
                   (double)(c->duration_ms > 0 ? c->duration_ms : 0) / 1000.0);
    if (c->status == WF_STATUS_SUCCEEDED && n == 0) {
        wf_strbuf_adds(sb, "/>\n");
        return;
    }
    wf_strbuf_adds(sb, ">\n");
    if (failed) {
        wf_strbuf_adds(sb, "      <failure message=\"");
        xml_text(sb, c->message ? c->message : "failed", true);
        wf_strbuf_adds(sb, "\" type=\"");
        add_type(sb, c->exit_code);
        wf_strbuf_adds(sb, "\">");
        if (c->attempts > 1)
            wf_strbuf_addf(sb, "after %d attempts\n", c->attempts);
        if (c->failure_text != NULL) {
            wf_strbuf_adds(sb, "stderr (last lines):\n");
            xml_text(sb, c->failure_text, false);
            wf_strbuf_addc(sb, '\n');
        }
        wf_strbuf_adds(sb, "</failure>\n");
    } else if (c->ignored) {
        /* Not a failure of the run (continue-on-error): reporters count it as skipped, and
         * the message says it failed. */
        wf_strbuf_adds(sb, "      <skipped type=\"ignored\" message=\"failed, ignored "
                           "(continue-on-error): ");
        xml_text(sb, c->message ? c->message : "failed", true);
        wf_strbuf_adds(sb, "\"/>\n");
    } else if (c->status != WF_STATUS_SUCCEEDED) {
        wf_strbuf_adds(sb, "      <skipped message=\"");
        add_reason(sb, c);
        wf_strbuf_adds(sb, "\"/>\n");
    }
    /* Earlier attempts: flaky when the unit passed in the end, reruns when it did not. */
    for (size_t r = 0; r < n; r++) {
        const char *tag = c->status == WF_STATUS_SUCCEEDED ? "flakyFailure" : "rerunFailure";

        wf_strbuf_addf(sb, "      <%s message=\"", tag);
        xml_text(sb, reruns[r].message ? reruns[r].message : "failed", true);
        wf_strbuf_adds(sb, "\" type=\"");
        add_type(sb, reruns[r].exit_code);
        wf_strbuf_addf(sb, "\">attempt %d\n", reruns[r].attempt);
        add_stream_xml(sb, "system-out", reruns[r].out, reruns[r].out_cut);
        add_stream_xml(sb, "system-err", reruns[r].err, reruns[r].err_cut);
        wf_strbuf_addf(sb, "      </%s>\n", tag);
    }
    add_stream_xml(sb, "system-out", c->out, c->out_cut);
    add_stream_xml(sb, "system-err", c->err, c->err_cut);
    if (c->output_dropped)
        wf_strbuf_addf(sb,
                       "      <system-err>[output not kept: this report holds at most %d "
                       "MiB of it]</system-err>\n",
                       OUTPUT_BUDGET / (1024 * 1024));
    wf_strbuf_adds(sb, "    </testcase>\n");
}

/* Why units of t that have no event never started. The engine reports no event for them, so
 * the reason is pieced together: the task's own reason when it was cancelled, else what the
 * run's other cancelled units and tasks said stopped it ("cancelled while running: the run
 * was stopped" -> "not started: the run was stopped"), else the fail-fast its own failure
 * tripped. Owned. */
static char *not_started_reason(const wf_cli_junit *j, const junit_task *t)
{
    const char *why;

    if (t->status == WF_STATUS_CANCELLED && t->message != NULL)
        return wf_xstrdup(t->message);
    if (j->stop_reason != NULL) {
        why = strstr(j->stop_reason, ": ");
        return wf_xasprintf("not started: %s", why != NULL ? why + 2 : j->stop_reason);
    }
    for (size_t c = 0; c < t->n_cases; c++) {
        if (t->cases[c].status == WF_STATUS_FAILED && !t->cases[c].ignored)
            return t->cases[c].index >= 0
                       ? wf_xasprintf("not started: fail-fast (%s[%lld] failed)", t->name,
                                      (long long)t->cases[c].index)
                       : wf_xasprintf("not started: fail-fast (task '%s' failed)", t->name);
    }
    return wf_xstrdup("not started: the run stopped first");
}

/* Adds a testcase for every unit that has no event: what the run never reached. */
static void add_not_started(const wf_cli_junit *j, junit_task *t)
{
    char *why;

    if (!t->ended && t->n_cases == 0) {
        add_case(t, -1, WF_STATUS_CANCELLED)->message = not_started_reason(j, t);
        return;
    }
    if (t->ended && t->n_items > 0) {
        bool *seen = wf_xcalloc(t->n_items, sizeof(bool));

        why = not_started_reason(j, t);
        for (size_t c = 0; c < t->n_cases; c++) {
            if (t->cases[c].index >= 0 && (size_t)t->cases[c].index < t->n_items)
                seen[t->cases[c].index] = true;
        }
        for (size_t k = 0; k < t->n_items; k++) {
            if (!seen[k])
                add_case(t, (int64_t)k, WF_STATUS_CANCELLED)->message = wf_xstrdup(why);
        }
        free(why);
        free(seen);
    }
}

bool wf_cli_junit_write(wf_cli_junit *j, const char *path)
{
    wf_strbuf sb = WF_STRBUF_INIT, cases = WF_STRBUF_INIT;
    size_t tests = 0, failures = 0, skipped = 0, ignored = 0;
    char stamp[32], host[256] = "localhost";
    struct tm tm;
    char *tmp = wf_xasprintf("%s.tmp", path);
    double secs = (double)(j->duration_ms > 0 ? j->duration_ms : 0) / 1000.0;
    FILE *f = NULL;
    bool ok = false;

    for (size_t i = 0; i < j->n_tasks; i++) {
        junit_task *t = &j->tasks[i];
        size_t r = 0;

        if (t->left_out)
            continue;
        add_not_started(j, t);
        /* qsort must not get NULL, even for no elements. */
        if (t->n_cases > 0)
            qsort(t->cases, t->n_cases, sizeof(*t->cases), by_index);
        if (t->n_reruns > 0)
            qsort(t->reruns, t->n_reruns, sizeof(*t->reruns), by_index_attempt);
        for (size_t c = 0; c < t->n_cases; c++) {
            const junit_case *jc = &t->cases[c];
            size_t first;

            while (r < t->n_reruns && t->reruns[r].index < jc->index)
                r++;
            first = r;
            while (r < t->n_reruns && t->reruns[r].index == jc->index)
                r++;
            tests++;
            failures += jc->status == WF_STATUS_FAILED && !jc->ignored;
            ignored += jc->ignored;
            skipped +=
                jc->status == WF_STATUS_SKIPPED || jc->status == WF_STATUS_CANCELLED || jc->ignored;
            add_case_xml(&cases, j, t, jc, t->reruns + first, r - first);
        }
    }
    gmtime_r(&j->started, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    if (gethostname(host, sizeof(host) - 1) != 0)
        strcpy(host, "localhost");
    host[sizeof(host) - 1] = '\0';
    wf_strbuf_adds(&sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    /* The schema has no skipped count on <testsuites>: the suite has it. */
    wf_strbuf_addf(&sb,
                   "<testsuites name=\"wfengine\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" "
                   "time=\"%.3f\">\n",
                   tests, failures, secs);
    wf_strbuf_adds(&sb, "  <testsuite name=\"");
    xml_text(&sb, j->workflow, true);
    wf_strbuf_addf(&sb,
                   "\" tests=\"%zu\" failures=\"%zu\" errors=\"0\" skipped=\"%zu\" time=\"%.3f\"",
                   tests, failures, skipped, secs);
    wf_strbuf_addf(&sb, " timestamp=\"%s\" hostname=\"", stamp);
    xml_text(&sb, host, true);
    wf_strbuf_adds(&sb, "\">\n    <properties>\n      <property name=\"run_id\" value=\"");
    xml_text(&sb, j->run_id ? j->run_id : "", true);
    wf_strbuf_addf(&sb,
                   "\"/>\n      <property name=\"ignored_failures\" value=\"%zu\"/>\n"
                   "    </properties>\n",
                   ignored);
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
            free(j->tasks[i].cases[c].label);
            free(j->tasks[i].cases[c].failure_text);
            free(j->tasks[i].cases[c].out);
            free(j->tasks[i].cases[c].err);
        }
        for (size_t r = 0; r < j->tasks[i].n_reruns; r++) {
            free(j->tasks[i].reruns[r].message);
            free(j->tasks[i].reruns[r].out);
            free(j->tasks[i].reruns[r].err);
        }
        free(j->tasks[i].reruns);
        free(j->tasks[i].cases);
        free(j->tasks[i].message);
        free(j->tasks[i].name);
    }
    free(j->tasks);
    json_object_put(j->by_name);
    free(j->run_id);
    free(j->stop_reason);
    free(j->workflow);
    free(j);
}
