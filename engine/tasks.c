/*
 * tasks.c: the task and unit state machine, on the scheduler thread. A task whose
 * dependencies have all ended is handled once (skipped, cancelled, skipped by its `when`, or
 * expanded into units: expand.c); a unit's completion moves it to its final state or to a
 * retry; a task ends when nothing of it runs, waits or can start, publishes its result and
 * vars, and makes its dependents ready: O(1) per edge.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* Sets stopping: nothing new starts; every executor cancels what it has (running processes
 * and actions see the cancel pipe, cluster jobs are cancelled). */
void wf__run_stop(wf_run *r)
{
    if (r->stopping)
        return;
    r->stopping = true;
    for (size_t i = 0; i < r->n_executors; i++)
        r->executors[i]->ops->cancel_all(r->executors[i]);
}

/* Ends the task if nothing of it runs, waits or can start any more. */
void wf__task_maybe_finish(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    bool any_failed = false, any_cancelled = false;

    if (ts->status != WF_STATUS_RUNNING || ts->running > 0 || ts->waiting_retry > 0 ||
        wf__has_startable(r, ts))
        return;
    /* A pipelined task waits for its source's items, unless nothing of it may start now. */
    if (ts->unfed > 0 && !r->stopping && !ts->stop_items)
        return;
    for (size_t i = 0; i < ts->n_units; i++) {
        wf_unit *u = &ts->units[i];

        if (u->status == WF_STATUS_PENDING || u->status == WF_STATUS_RUNNING) {
            u->status = WF_STATUS_CANCELLED;
            ts->ended++;
            r->units_done++;
            wf__pipe_feed(r, t, (uint32_t)i);
        }
        any_failed |= u->status == WF_STATUS_FAILED;
        any_cancelled |= u->status == WF_STATUS_CANCELLED;
    }
    if (task->items_kind == WF_ITEMS_NONE)
        wf__task_finish(r, t, (wf_status)ts->units[0].status, NULL);
    else
        wf__task_finish(r, t,
                        any_failed ? WF_STATUS_FAILED
                                   : (any_cancelled ? WF_STATUS_CANCELLED : WF_STATUS_SUCCEEDED),
                        NULL);
}

char *wf__cancel_reason(const wf_run *r, const wf_task_state *ts, bool started)
{
    const char *when = started ? "cancelled while running" : "not started";

    if (ts->stop_items)
        return wf_xasprintf("%s: fail-fast of this task (item %lld failed)", when,
                            (long long)ts->stop_item);
    if (r->failfast_tripped)
        return wf_xasprintf("%s: fail-fast (task '%s' failed)", when,
                            r->wf->tasks[r->failfast_task].name);
    if (r->timed_out) {
        wf_strbuf d = WF_STRBUF_INIT;
        char *msg;

        wf_duration_format(&d, r->wf->timeout_ms);
        msg = wf_xasprintf("%s: the workflow's timeout of %s passed", when, wf_strbuf_str(&d));
        wf_strbuf_release(&d);
        return msg;
    }
    return wf_xasprintf("%s: the run was stopped", when);
}

/* Why the task is skipped because of its dependencies, or NULL. */
static char *dependency_problem(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];

    for (size_t i = 0; i < task->n_deps; i++) {
        const wf_task_state *d = &r->tasks[task->deps[i]];

        /* A pipeline source that expanded is judged item by item (pipeline.c). */
        if (wf__pipe_waits_on(r, t, (uint32_t)task->deps[i]))
            continue;
        if (!wf_result_ok(d->result))
            return wf_xasprintf("dependency '%s' %s", r->wf->tasks[task->deps[i]].name,
                                wf_status_name(d->status));
    }
    return NULL;
}

/* --resume: whether a task t depends on (by needs, a task.X reference or a status function)
 * ran again in this run. */
static bool dependency_reran(const wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];

    for (size_t i = 0; i < task->n_deps; i++) {
        if (r->tasks[task->deps[i]].rerun)
            return true;
    }
    return false;
}

/* A task's concurrency or batch-size written as a template: an integer >= 1, or the task
 * fails with *error saying what it gave. */
static bool eval_count(const wf_tpl *tpl, const wf_ctx *ctx, const char *what, int *out,
                       char **error)
{
    json_object *v = NULL;
    wf_error err;
    int64_t n = 0;
    bool ok;

    wf_error_init(&err);
    if (wf_tpl_eval(tpl, ctx, &v, &err) != WF_OK) {
        *error = wf_xasprintf("%s: %s", what, err.message ? err.message : "cannot evaluate");
        wf_error_release(&err);
        return false;
    }
    ok = json_object_is_type(v, json_type_int) && (n = json_object_get_int64(v)) >= 1 &&
         n <= INT32_MAX;
    if (!ok && json_object_is_type(v, json_type_string)) {
        /* `-i parallel=4` for a string input: the text of a whole number is fine. */
        char *end = NULL;
        long long x = strtoll(json_object_get_string(v), &end, 10);

        ok = end != json_object_get_string(v) && *end == '\0' && x >= 1 && x <= INT32_MAX;
        n = x;
    }
    if (ok)
        *out = (int)n;
    else
        *error = wf_xasprintf("%s: '%s' gave %s, not an integer of at least 1", what,
                              wf_tpl_source(tpl), json_object_to_json_string(v));
    json_object_put(v);
    return ok;
}

/* A unit asks for more cpus than the pool has workers (-j): the pool runs it alone. */
static void cpus_warning(wf_run *r, uint32_t t)
{
    char *msg = wf_xasprintf("task '%s' has cpus: %d, more than the %d units that run at once "
                             "(-j): each of its units runs alone",
                             r->wf->tasks[t].name, r->tasks[t].cpus, r->concurrency);

    wf__emit_simple(r, WF_EVENT_WARNING, r->wf->tasks[t].name, msg);
    free(msg);
}

/* A task whose dependencies have all ended: skip it, or expand it and queue its units. */
void wf__task_ready(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    const wf_task_extra *x = wf_task_extra_of(task);
    wf_task_state *ts = &r->tasks[t];
    char *why = NULL;
    wf_error err;

    ts->status = WF_STATUS_RUNNING;
    ts->start_ms = wf_now_ms();
    ts->ctx = wf_ctx_ref(r->root);
    /* --resume: what the resumed run stored for this task was computed from its dependencies'
     * results there. One of them ran again, so what the task reads (a result, a status, an
     * item list) may have changed: nothing of it is reused, and its own dependents run again
     * in turn, whether it runs, fails or is skipped now. */
    if (r->opts.resume_run != NULL && dependency_reran(r, t)) {
        ts->rerun = true;
        ts->deps_reran = true;
        ts->reuse = NULL;
    }
    if (r->stopping) {
        wf__task_finish(r, t, WF_STATUS_CANCELLED, wf__cancel_reason(r, ts, false));
        return;
    }
    why = dependency_problem(r, t);
    if (why != NULL && !task->when_uses_status) {
        wf__task_finish(r, t, WF_STATUS_SKIPPED, why);
        return;
    }
    free(why);
    ts->concurrency = task->concurrency;
    ts->batch_size = task->batch_size;
    ts->cpus = task->cpus > 0 ? task->cpus : 1;
    if ((x->concurrency_tpl != NULL &&
         !eval_count(x->concurrency_tpl, ts->ctx, "concurrency", &ts->concurrency, &why)) ||
        (x->cpus_tpl != NULL && !eval_count(x->cpus_tpl, ts->ctx, "cpus", &ts->cpus, &why)) ||
        (x->batch_size_tpl != NULL &&
         !eval_count(x->batch_size_tpl, ts->ctx, "batch-size", &ts->batch_size, &why))) {
        wf__task_finish(r, t, WF_STATUS_FAILED, why);
        return;
    }
    if (ts->cpus > r->concurrency && !(ts->exec->caps & WF_EXEC_ARRAYS))
        cpus_warning(r, t);
    if (ts->reuse != NULL && task->items_kind == WF_ITEMS_NONE) {
        wf__task_add_units(r, t, 1, false);
        wf__reuse_unit(r, t, 0, ts->reuse->spans[0].rec, NULL);
        wf__task_finish(r, t, WF_STATUS_SUCCEEDED, NULL);
        return;
    }
    wf_error_init(&err);
    if (task->when != NULL && task->items_kind == WF_ITEMS_NONE) {
        bool yes = false;
        int rc = wf_tpl_eval_bool(task->when, ts->ctx, &yes, &err);

        if (rc != WF_OK) {
            wf__task_finish(r, t, WF_STATUS_FAILED,
                            wf_xasprintf("when: %s", err.message ? err.message : wf_strerror(rc)));
            wf_error_release(&err);
            return;
        }
        if (!yes) {
            wf__task_finish(r, t, WF_STATUS_SKIPPED, wf_xstrdup("when was false"));
            return;
        }
    }
    if (task->items_kind == WF_ITEMS_NONE) {
        wf__task_add_units(r, t, 1, true);
    } else {
        char *error = NULL;
        wf_event ev = { .kind = WF_EVENT_TASK_START, .task = task->name, .index = -1 };

        if (task->pipeline) {
            ev.n_items = wf__pipe_expand(r, t);
        } else if (wf__expand_items(r, t, &error) != WF_OK) {
            wf__task_finish(r, t, WF_STATUS_FAILED, error);
            return;
        } else {
            ev.n_items = ts->items->n_units;
        }
        if (ev.n_items == 0) {
            wf__emit(r, &ev);
            wf__task_finish(r, t, WF_STATUS_SUCCEEDED, NULL);
            return;
        }
        wf__task_add_units(r, t, ev.n_items, false);
        if (task->pipeline) {
            wf_strbuf src = WF_STRBUF_INIT;

            ev.source = wf__task_display_name(r, &r->wf->tasks[task->pipe_source], &src);
            wf__emit(r, &ev);
            wf_strbuf_release(&src);
            wf__pipe_start(r, t);
            return;
        }
        if (ts->reuse != NULL) {
            size_t reused = wf__reuse_items(r, t);
            char *msg = wf_xasprintf("%zu reused from run %s", reused, r->opts.resume_run);

            ev.message = msg;
            wf__emit(r, &ev);
            free(msg);
        } else {
            wf__emit(r, &ev);
        }
        wf__pipe_open(r, t);
        if (wf__has_startable(r, ts))
            wf__ready_push(r, t);
        else
            wf__task_maybe_finish(r, t);
    }
}

/* Evaluates the task's publish map into the published vars. */
static void publish_vars(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_results *vars = wf_ctx_published_vars(r->root);

    for (size_t i = 0; i < task->n_publish; i++) {
        json_object *v = NULL;
        wf_error err;
        wf_result *res;
        int rc;

        wf_error_init(&err);
        rc = wf_tpl_eval(task->publish[i].tpl, r->tasks[t].ctx, &v, &err);
        if (rc != WF_OK) {
            char *msg = wf_xasprintf("publish %s: %s", task->publish[i].name,
                                     err.message ? err.message : wf_strerror(rc));

            wf__emit_simple(r, WF_EVENT_WARNING, task->name, msg);
            free(msg);
            wf_error_release(&err);
            continue;
        }
        res = wf_result_new(WF_STATUS_SUCCEEDED, v);
        if (wf_results_publish(vars, task->publish[i].name, res) != WF_OK) {
            char *msg = wf_xasprintf("var '%s' was already published; keeping the first value",
                                     task->publish[i].name);

            wf__emit_simple(r, WF_EVENT_WARNING, task->name, msg);
            free(msg);
        }
        wf_result_unref(res);
    }
}

/* Whether a failure of the task's unit idx (-1: of the task itself, before it has units) is
 * ignored: continue-on-error, evaluated for that unit when it is a template. A template that
 * cannot be evaluated ignores nothing. */
static bool ignores_failure(const wf_run *r, uint32_t t, int64_t idx)
{
    const wf_task *task = &r->wf->tasks[t];
    const wf_task_state *ts = &r->tasks[t];
    wf_ctx *ctx;
    json_object *own = NULL;
    wf_error err;
    bool yes = false;

    if (wf_task_extra_of(task)->continue_on_error_tpl == NULL)
        return task->continue_on_error;
    if (idx >= 0)
        ctx = wf__unit_ctx(r, t, (uint32_t)idx, &own, NULL);
    else
        ctx = wf_ctx_ref(ts->ctx);
    if (ctx == NULL)
        return false; /* its item cannot be read any more */
    wf_error_init(&err);
    if (wf_tpl_eval_bool(wf_task_extra_of(task)->continue_on_error_tpl, ctx, &yes, &err) != WF_OK)
        yes = false;
    wf_error_release(&err);
    wf_ctx_unref(ctx);
    json_object_put(own);
    return yes;
}

/* A failed task's failure is ignored when every unit that failed was (continue-on-error per
 * unit), or, when it failed before having units, when continue-on-error says so for it. */
static bool task_ignored(const wf_run *r, uint32_t t)
{
    const wf_task_state *ts = &r->tasks[t];
    bool any_failed = false;

    for (size_t i = 0; i < ts->n_units; i++) {
        if (ts->units[i].status != WF_STATUS_FAILED)
            continue;
        any_failed = true;
        if (!(ts->units[i].flags & WF__U_IGNORED))
            return false;
    }
    return any_failed || ignores_failure(r, t, -1);
}

void wf__task_finish(wf_run *r, uint32_t t, wf_status status, char *error_take)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_result *res;
    json_object *value = NULL;
    wf_event ev = { .kind = WF_EVENT_TASK_END, .task = task->name, .index = -1 };

    if (ts->ctx == NULL)
        ts->ctx = wf_ctx_ref(r->root);
    ts->status = status;
    ts->end_ms = wf_now_ms();
    if (ts->start_ms == 0)
        ts->start_ms = ts->end_ms;
    if (error_take != NULL) {
        free(ts->error);
        ts->error = error_take;
    }
    if (task->items_kind != WF_ITEMS_NONE && status != WF_STATUS_SKIPPED &&
        (ts->items != NULL || status == WF_STATUS_SUCCEEDED)) {
        /* The list of item results in item order, null where an item did not succeed: the
         * values array as it is, made as long as the list. */
        value = ts->values;
        ts->values = NULL;
        if (ts->values_log != NULL) {
            char *why = NULL;

            value = wf__values_log_publish(ts->values_log, &why);
            ts->values_log = NULL;
            wf__run_disk_failed(r, why);
        } else if (value == NULL)
            value = wf_json_check(json_object_new_array_ext((int)(ts->n_units ? ts->n_units : 1)));
        if (!wf_ref_is(value) && json_object_array_length(value) < ts->n_units &&
            json_object_array_put_idx(value, ts->n_units - 1, NULL) != 0)
            wf_oom(ts->n_units * sizeof(void *));
    } else if (task->items_kind == WF_ITEMS_NONE && status == WF_STATUS_SUCCEEDED) {
        value = json_object_get((json_object *)wf__unit_value(ts, 0));
    }
    /* A task that ends without units (skipped, cancelled, failed before expanding, an empty
     * list) is one unit of the run's count, ended. */
    if (ts->n_units == 0) {
        r->units_total = r->units_total - ts->planned + 1;
        ts->planned = 1;
        r->units_done++;
    }
    res = wf_result_new(status, value);
    res->ignored_failure = status == WF_STATUS_FAILED && task_ignored(r, t);
    if (ts->error != NULL)
        res->error = wf_xstrdup(ts->error);
    if (task->items_kind == WF_ITEMS_NONE && ts->n_units == 1) {
        res->exit_code = wf__unit_exit_code(ts, 0);
        res->stdout_text = ts->plain_out;
        res->stderr_text = ts->plain_err;
        ts->plain_out = ts->plain_err = NULL;
    } else if (task->items_kind != WF_ITEMS_NONE) {
        res->n_items = ts->n_units;
        size_t same = 0;

        while (same < ts->n_units && ts->units[same].status == ts->units[0].status)
            same++;
        if (same > 0 && same == ts->n_units) {
            res->item_status_all = ts->units[0].status;
        } else if (ts->n_units > 0) {
            res->item_status = wf_xmalloc(ts->n_units);
            for (size_t i = 0; i < ts->n_units; i++)
                res->item_status[i] = ts->units[i].status;
        }
    }
    ts->result = res;
    wf_results_publish(wf_ctx_results(r->root), task->name, res);
    if (status == WF_STATUS_SUCCEEDED)
        publish_vars(r, t);
    r->tasks_ended++;
    wf__record_task(r, t);
    ev.status = status;
    ev.ignored = res->ignored_failure;
    ev.duration_ms = ts->end_ms - ts->start_ms;
    ev.message = ts->error;
    ev.n_items = task->items_kind != WF_ITEMS_NONE ? ts->n_units : 0;
    ev.attempt =
        task->items_kind == WF_ITEMS_NONE && ts->n_units == 1 ? (int)wf__unit_attempts(ts, 0) : 0;
    wf__emit(r, &ev);
    if (status == WF_STATUS_FAILED && !res->ignored_failure && r->fail_fast &&
        !r->failfast_tripped) {
        r->failfast_tripped = true;
        r->failfast_task = t;
        wf__run_stop(r);
    }
    /* O(1) per edge: dependents whose last dependency this was become ready. */
    for (size_t i = 0; i < task->n_dependents; i++) {
        uint32_t d = (uint32_t)task->dependents[i];

        if (wf__pipe_waits_on(r, d, t))
            continue; /* it stopped waiting when t expanded */
        if (--r->tasks[d].pending_deps == 0)
            r->settle[r->n_settle++] = d;
    }
}

/* Handles tasks that became ready, iteratively (a long chain of skips must not recurse). */
void wf__settle(wf_run *r)
{
    while (r->n_settle > 0)
        wf__task_ready(r, r->settle[--r->n_settle]);
}

/* The executor started the current attempt of a unit (a worker took its job, a cluster
 * accepted it). Emits UNIT_START (on the scheduler thread, like every event). */
void wf__unit_started(wf_run *r, const wf_job *job)
{
    const wf_task *task = &r->wf->tasks[job->task];
    wf_task_state *ts = &r->tasks[job->task];
    wf_unit *u = &ts->units[job->unit];
    wf_event ev = { .kind = WF_EVENT_UNIT_START, .task = task->name, .exit_code = -1 };
    char label_buf[WF__LABEL_MAX + 1];

    if (wf__unit_attempts(ts, job->unit) != job->attempt || u->status != WF_STATUS_RUNNING)
        return; /* cannot happen: an attempt ends after it starts, on the same queue */
    u->flags |= WF__U_STARTED;
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)job->unit : -1;
    ev.label = wf__unit_label(r, job->task, job->unit, label_buf);
    ev.attempt = (int)job->attempt;
    ev.max_attempts = task->retry.count + 1;
    wf__emit(r, &ev);
}

wf_job wf__take_unit(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    wf_event ev = { .kind = WF_EVENT_UNIT_QUEUED, .task = task->name, .exit_code = -1 };
    char label_buf[WF__LABEL_MAX + 1];
    wf_job job;
    wf_unit *u;

    if (ts->retries.len > 0) {
        job.unit = wf__fifo_pop(&ts->retries);
    } else if (ts->fed.len > 0) {
        job.unit = wf__fifo_pop(&ts->fed);
    } else {
        job.unit = (uint32_t)ts->next_unit++;
        wf__advance_next(ts);
    }
    u = &ts->units[job.unit];
    job.attempt = wf__unit_attempt_add(ts, job.unit);
    u->status = WF_STATUS_RUNNING;
    u->flags &= (uint8_t)~WF__U_STARTED;
    if (wf__detail_all(ts)) {
        wf_unit_detail *d = wf__detail_put(ts, job.unit);

        if (d->start_ms == 0)
            d->start_ms = wf_now_ms();
    }
    ts->running++;
    ts->exec->in_flight++;
    job.task = t;
    /* Queued as soon as it is taken, so that every attempt that ends without starting (its
     * `when` was false, a template error, a cluster refused it) was queued first. */
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)job.unit : -1;
    ev.label = wf__unit_label(r, t, job.unit, label_buf);
    ev.attempt = (int)job.attempt;
    ev.max_attempts = task->retry.count + 1;
    wf__emit(r, &ev);
    return job;
}

/* --resume: whether the resumed run has a success of unit idx (which then did not run as
 * it was there, since it was not taken from it). */
static bool had_success(const wf_task_state *ts, uint32_t idx)
{
    return wf__reuse_has(ts, idx);
}

void wf__unit_complete(wf_run *r, wf_completion *c)
{
    uint32_t t = c->job.task, idx = c->job.unit;
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_unit *u = &ts->units[idx];
    wf_unit_detail *d = wf__detail_get(ts, idx);
    uint32_t attempt = wf__unit_attempts(ts, idx);
    bool items = task->items_kind != WF_ITEMS_NONE;
    wf_event ev = { .task = task->name, .index = items ? (int64_t)idx : -1 };
    char label_buf[WF__LABEL_MAX + 1];

    ts->running--;
    ts->exec->in_flight--;
    /* A unit of it ran: its dependents cannot be taken from a resumed run. An item skipped
     * because its `when` is false, and that had no success to take from the resumed run, was
     * decided from what it was decided from there (nothing it depends on ran again, or rerun
     * is already set): skipped there too, it changes nothing its dependents read. */
    if (c->status != WF_STATUS_SKIPPED || had_success(ts, idx))
        ts->rerun = true;
    /* A unit of a big task keeps a detail once an attempt of it failed or was cancelled, or
     * when its exit code is one its flags cannot say (an item skipped by its `when` does not:
     * its reason is in its event and record). */
    if (d == NULL && (c->status == WF_STATUS_FAILED || c->status == WF_STATUS_CANCELLED ||
                      (c->exit_code != 0 && c->exit_code != -1)))
        d = wf__detail_put(ts, idx);
    if (d != NULL) {
        d->exit_code = c->exit_code;
        /* The unit started when a worker took its job, not when the job was queued. */
        if ((attempt == 1 || d->start_ms == 0) && c->start_ms > 0)
            d->start_ms = c->start_ms;
    }
    u->flags = (uint8_t)((u->flags & ~WF__U_EXIT0) | (c->exit_code == 0 ? WF__U_EXIT0 : 0));
    ev.label = wf__unit_label(r, t, idx, label_buf);
    ev.attempt = (int)attempt;
    ev.max_attempts = task->retry.count + 1;
    ev.exit_code = c->exit_code;
    ev.started = (u->flags & WF__U_STARTED) != 0;
    u->flags &= (uint8_t)~WF__U_STARTED;
    /* A cancelled unit says what stopped it (the executor only knows that it was). */
    if (c->status == WF_STATUS_CANCELLED && !c->timed_out) {
        free(c->error);
        c->error = wf__cancel_reason(r, ts, ev.started);
    }
    c->ignored = c->status == WF_STATUS_FAILED &&
                 ignores_failure(r, t, task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1);
    wf__record_unit(r, t, idx, c, (int)attempt, false);
    if (c->log != NULL)
        wf__emit_simple(r, WF_EVENT_LOG, task->name, c->log);
    for (char *w = c->warning, *nl; w != NULL; w = nl ? nl + 1 : NULL) {
        nl = strchr(w, '\n');
        if (nl != NULL)
            *nl = '\0';
        wf__emit_simple(r, WF_EVENT_WARNING, task->name, w);
    }
    /* No retry once nothing new may start: the run stops, or the task's fail-fast tripped. */
    if (c->status == WF_STATUS_FAILED && !r->stopping && !ts->stop_items && !c->no_retry &&
        attempt <= (uint32_t)task->retry.count) {
        int64_t delay = wf__retry_delay(&task->retry, attempt);

        u->status = WF_STATUS_PENDING;
        ts->waiting_retry++;
        wf__timer_push(r, wf_now_ms() + delay, c->job);
        ev.kind = WF_EVENT_UNIT_RETRY;
        ev.delay_ms = delay;
        ev.status = WF_STATUS_FAILED;
        ev.message = c->error;
        ev.stderr_text = c->err;
        ev.stdout_text = c->out;
        ev.stdout_bytes = c->out_spilled;
        wf__emit(r, &ev);
        json_object_put(c->value);
        goto out;
    }
    u->status = (uint8_t)c->status;
    u->flags = (uint8_t)((u->flags & ~(WF__U_CACHED | WF__U_IGNORED)) |
                         (c->cached ? WF__U_CACHED : 0) | (c->ignored ? WF__U_IGNORED : 0));
    if (d != NULL)
        d->end_ms = c->end_ms;
    ts->ended++;
    r->units_done++;
    if (c->status == WF_STATUS_SUCCEEDED) {
        wf__unit_value_set(r, ts, idx, c->value);
    } else {
        json_object_put(c->value);
        if (c->error != NULL) {
            if (!items) {
                free(ts->error);
                ts->error = c->error;
                c->error = NULL;
            } else if (d != NULL) {
                free(d->error);
                d->error = c->error;
                c->error = NULL;
            }
        }
    }
    if (!items) {
        ts->plain_out = c->out;
        ts->plain_err = c->err;
        c->out = c->err = NULL;
    }
    ev.kind = WF_EVENT_UNIT_END;
    ev.status = c->status;
    ev.ignored = c->ignored;
    ev.cached = c->cached;
    ev.duration_ms = c->end_ms - c->start_ms;
    ev.message = items ? (d != NULL ? d->error : c->error) : ts->error;
    ev.stderr_text = items ? c->err : ts->plain_err;
    ev.stdout_text = items ? c->out : ts->plain_out;
    ev.stdout_bytes = c->out_spilled;
    wf__emit(r, &ev);
    if (c->status == WF_STATUS_FAILED && !c->ignored && items && task->fail_fast) {
        ts->stop_items = true;
        ts->stop_item = (int64_t)idx;
        ts->exec->ops->cancel_task(ts->exec, t);
    }
    if (c->status == WF_STATUS_FAILED && !c->ignored && r->fail_fast && !r->failfast_tripped) {
        r->failfast_tripped = true;
        r->failfast_task = t;
        wf__run_stop(r);
    }
    wf__pipe_feed(r, t, idx);
out:
    free(c->out);
    free(c->err);
    free(c->error);
    free(c->log);
    free(c->warning);
    free(c->result_json);
    if (wf__has_startable(r, ts) && !wf__task_at_limit(r, t))
        wf__ready_push(r, t);
    wf__task_maybe_finish(r, t);
}

/* Moves the units whose retry delay has passed to their task's retries. A task that can no
 * longer start them (its fail-fast tripped while they waited) ends now if nothing else of it
 * runs: those units end cancelled, as retries dropped by a stop do. */
void wf__fire_timers(wf_run *r, int64_t now)
{
    while (r->n_timers > 0 && r->timers[0].due_ms <= now) {
        wf_timer tm = wf__timer_pop(r);
        wf_task_state *ts = &r->tasks[tm.job.task];

        ts->waiting_retry--;
        wf__fifo_push(&ts->retries, tm.job.unit);
        if (!wf__has_startable(r, ts))
            wf__task_maybe_finish(r, tm.job.task);
        else if (!wf__task_at_limit(r, tm.job.task))
            wf__ready_push(r, tm.job.task);
    }
}

/* After a stop: drop pending retries (those units end as cancelled) and end the tasks that
 * have nothing running. */
void wf__drain_after_stop(wf_run *r)
{
    while (r->n_timers > 0) {
        wf_timer tm = wf__timer_pop(r);

        r->tasks[tm.job.task].waiting_retry--;
    }
    while (r->ready_len > 0) {
        uint32_t t = wf__ready_pop(r);

        wf__task_maybe_finish(r, t);
    }
    for (size_t t = 0; t < r->wf->n_tasks; t++)
        wf__task_maybe_finish(r, (uint32_t)t);
}

wf_status wf__final_status(const wf_run *r)
{
    if (r->store_failed || atomic_load(&((wf_run *)r)->disk_error) != NULL)
        return WF_STATUS_FAILED;
    if (atomic_load(&r->cancel_requested))
        return WF_STATUS_CANCELLED;
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task_state *ts = &r->tasks[t];

        if (ts->status == WF_STATUS_FAILED && !(ts->result && ts->result->ignored_failure))
            return WF_STATUS_FAILED;
        if (ts->status == WF_STATUS_CANCELLED && (r->failfast_tripped || r->timed_out))
            return WF_STATUS_FAILED;
    }
    return WF_STATUS_SUCCEEDED;
}
