/*
 * unit_uses.c: a unit of a `uses:` task. It runs the called workflow as a nested run on the
 * same engine and store, on the worker that took the unit: the nested run has the caller's
 * run id, records its tasks under a prefix ("build/", "build[3]/") instead of a run of its
 * own, resumes and caches like any run, masks the caller's secrets too, and hands its events
 * to the caller's scheduler thread through the caller's completion queue, so that the
 * embedding program still sees one run's events, one at a time, in order. The unit's result
 * is the called workflow's outputs object.
 *
 * Threads: wf__unit_run_uses runs on a worker of the caller (it waits for the nested run,
 * polling the caller's cancel fd and the task's deadline); forward() runs on the nested
 * run's scheduler thread; wf__emit_forwarded on the caller's.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"
#include "unit_internal.h"

/* What forward() needs: where events go, and the pipe that says the nested run ended. */
typedef struct uses_call {
    wf_run *caller;
    int done[2];
} uses_call;

static char *dup_or_null(const char *s)
{
    return s != NULL ? wf_xstrdup(s) : NULL;
}

void wf__fwd_event_free(wf_fwd_event *fe)
{
    if (fe == NULL)
        return;
    free(fe->task);
    free(fe->message);
    free(fe->stderr_text);
    free(fe->stdout_text);
    free(fe->label);
    free(fe);
}

void wf__emit_forwarded(wf_run *r, wf_fwd_event *fe)
{
    wf__emit_named(r, &fe->ev);
    wf__fwd_event_free(fe);
}

/* The nested run's event callback (its scheduler thread). Its names are already prefixed
 * and its texts masked (wf__emit); the caller's wf__emit fills in the caller's counts. */
static void forward(const wf_event *ev, void *user)
{
    uses_call *u = user;
    wf_fwd_event *fe;

    if (ev->kind == WF_EVENT_RUN_END) {
        /* The pipe cannot be full: one byte is ever written. */
        if (write(u->done[1], "x", 1) < 0)
            (void)errno;
        return;
    }
    if (ev->kind == WF_EVENT_RUN_START || u->caller->opts.on_event == NULL)
        return;
    fe = wf_xcalloc(1, sizeof(*fe));
    fe->ev = *ev;
    fe->ev.task = fe->task = dup_or_null(ev->task);
    fe->ev.message = fe->message = dup_or_null(ev->message);
    fe->ev.stderr_text = fe->stderr_text = dup_or_null(ev->stderr_text);
    fe->ev.stdout_text = fe->stdout_text = dup_or_null(ev->stdout_text);
    fe->ev.label = fe->label = dup_or_null(ev->label);
    wf__done_queue_push_event(&u->caller->done, fe);
}

/* "task 'build/compile' failed: exit code 2": the first task in file order whose failure
 * failed the nested run. */
static char *failure_of(const wf_run *n)
{
    for (size_t t = 0; t < n->wf->n_tasks; t++) {
        const wf_task *task = &n->wf->tasks[t];
        const wf_task_state *ts = &n->tasks[t];

        if (ts->status == WF_STATUS_FAILED && !task->continue_on_error)
            return wf_xasprintf("task '%s%s' failed: %s", n->prefix, task->name,
                                ts->error ? ts->error : "failed");
    }
    return wf_xasprintf("%s failed", n->wf->path);
}

/* Waits for the nested run, cancelling it when the caller stops (cancel_fd) or the task's
 * timeout passes. */
static wf_status wait_nested(wf_run *n, const uses_call *u, int cancel_fd, int64_t deadline,
                             bool *timed_out)
{
    struct pollfd fds[2] = { { .fd = u->done[0], .events = POLLIN },
                             { .fd = cancel_fd, .events = POLLIN } };

    for (;;) {
        int64_t now = wf_now_ms();
        int wait = -1;

        if (deadline > 0)
            wait = deadline > now ? (int)(deadline - now < 60000 ? deadline - now : 60000) : 0;
        if (poll(fds, cancel_fd >= 0 ? 2 : 1, wait) < 0 && errno != EINTR)
            break;
        if (fds[0].revents != 0)
            break;
        if (fds[1].revents != 0) {
            wf_run_cancel(n);
            break;
        }
        if (deadline > 0 && wf_now_ms() >= deadline) {
            *timed_out = true;
            wf_run_cancel(n);
            break;
        }
    }
    return wf_run_wait(n);
}

void wf__unit_run_uses(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                       int cancel_fd, wf_completion *c)
{
    uses_call u = { .caller = r, .done = { -1, -1 } };
    wf_run_options opts = { 0 };
    json_object *inputs = NULL;
    wf_errlist errs;
    wf_error err;
    wf_run *n = NULL;
    char *prefix;
    bool timed_out = false;
    wf_status st;

    wf_errlist_init(&errs);
    wf_error_init(&err);
    if (wf_task_extra_of(task)->with != NULL &&
        wf_vnode_eval(wf_task_extra_of(task)->with, ctx, &inputs, &err) != WF_OK) {
        wf__unit_fail(c, "with", &err);
        goto out;
    }
    if (pipe(u.done) != 0) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("cannot create a pipe: %s", strerror(errno));
        goto out;
    }
    fcntl(u.done[0], F_SETFD, FD_CLOEXEC);
    fcntl(u.done[1], F_SETFD, FD_CLOEXEC);
    opts.inputs = inputs;
    opts.concurrency = r->concurrency;
    opts.fail_fast = r->opts.fail_fast;
    opts.run_id = r->run_id;
    opts.store = r->store;
    /* Inside, a resume takes what succeeded under the same name, which is right only when
     * the call is the same: nothing the calling task reads ran again. */
    opts.resume_run = r->tasks[job->task].deps_reran ? NULL : r->opts.resume_run;
    opts.no_cache = r->opts.no_cache;
    opts.slurm_all = r->opts.slurm_all;
    opts.local_all = r->opts.local_all;
    opts.slurm_defaults = r->opts.slurm_defaults;
    opts.slurm_dir = r->opts.slurm_dir;
    opts.slurm_keep_files = r->opts.slurm_keep_files;
    opts.on_event = forward;
    opts.user = &u;
    if (task->items_kind != WF_ITEMS_NONE)
        prefix = wf_xasprintf("%s%s[%u]/", r->prefix ? r->prefix : "", task->name, job->unit);
    else
        prefix = wf_xasprintf("%s%s/", r->prefix ? r->prefix : "", task->name);
    if (wf__run_start_called(r->engine, wf_task_extra_of(task)->called, &opts, r, prefix,
                             r->caller != NULL ? r->position : task->index, &n, &errs) != WF_OK) {
        wf_strbuf sb = WF_STRBUF_INIT;

        wf_strbuf_addf(&sb, "%s cannot start: ", wf_task_extra_of(task)->uses);
        for (size_t i = 0; i < errs.len; i++) {
            if (i > 0)
                wf_strbuf_adds(&sb, "; ");
            wf_strbuf_adds(&sb, errs.items[i].message ? errs.items[i].message : "error");
        }
        c->status = WF_STATUS_FAILED;
        c->error = wf_strbuf_detach(&sb, NULL);
        goto out;
    }
    st = wait_nested(n, &u, cancel_fd, task->timeout_ms > 0 ? c->start_ms + task->timeout_ms : 0,
                     &timed_out);
    c->end_ms = wf_now_ms();
    if (timed_out) {
        c->status = WF_STATUS_FAILED;
        c->timed_out = true;
        c->error = wf_xasprintf("timed out after %lldms", (long long)task->timeout_ms);
    } else if (st == WF_STATUS_SUCCEEDED) {
        c->status = WF_STATUS_SUCCEEDED;
        c->value = wf_json_copy(wf_run_outputs(n));
    } else if (st == WF_STATUS_CANCELLED) {
        c->status = WF_STATUS_CANCELLED;
        c->error = wf_xstrdup("cancelled");
    } else {
        c->status = WF_STATUS_FAILED;
        c->error = failure_of(n);
    }
out:
    wf_run_free(n);
    json_object_put(inputs);
    if (u.done[0] >= 0)
        close(u.done[0]);
    if (u.done[1] >= 0)
        close(u.done[1]);
    wf_errlist_release(&errs);
    wf_error_release(&err);
}
