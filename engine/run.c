/*
 * Runs: start, the scheduler thread, the worker pool, cancellation and the result document.
 *
 * One scheduler thread owns all scheduling state (task states, units, the ready list, retry
 * timers): no lock protects it because no other thread touches it. Workers take jobs from one
 * queue and put completions on another; both queues share one mutex, held only to move a few
 * pointers. A completed edge costs O(1): a dependent's pending counter is decremented, and it
 * joins the ready list when the counter reaches zero. Nothing scans all tasks or all units.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine_internal.h"

extern char **environ;

/* ---- events -------------------------------------------------------------------------- */

/* ---- secrets -------------------------------------------------------------------------- */

/* Values of `secret: true` inputs shorter than this are not masked: masking "a" or "1" would
 * garble every line without protecting anything. */
#define MIN_SECRET_LEN 3

static void collect_secrets(wf_run *r, const json_object *inputs)
{
    const wf_workflow *wf = r->wf;

    for (size_t i = 0; i < wf->n_inputs; i++) {
        json_object *v = NULL;
        wf_strbuf sb = WF_STRBUF_INIT;

        if (!wf->inputs[i].secret ||
            !json_object_object_get_ex((json_object *)inputs, wf->inputs[i].name, &v) || v == NULL)
            continue;
        wf_tpl_text_form(&sb, v);
        if (sb.len < MIN_SECRET_LEN) {
            wf_strbuf_release(&sb);
            continue;
        }
        r->secrets = wf_xrealloc(r->secrets, (r->n_secrets + 1) * sizeof(char *));
        r->secrets[r->n_secrets++] = wf_strbuf_detach(&sb, NULL);
    }
}

char *wf__run_mask(const wf_run *r, const char *text)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    bool found = false;

    if (text == NULL || r->n_secrets == 0)
        return NULL;
    wf_strbuf_adds(&sb, text);
    for (size_t i = 0; i < r->n_secrets; i++) {
        size_t slen = strlen(r->secrets[i]);
        char *hit = strstr(sb.buf, r->secrets[i]);

        while (hit != NULL) {
            wf_strbuf out = WF_STRBUF_INIT;

            found = true;
            wf_strbuf_add(&out, sb.buf, (size_t)(hit - sb.buf));
            wf_strbuf_adds(&out, "***");
            wf_strbuf_adds(&out, hit + slen);
            wf_strbuf_release(&sb);
            sb = out;
            hit = strstr(sb.buf, r->secrets[i]);
        }
    }
    if (!found) {
        wf_strbuf_release(&sb);
        return NULL;
    }
    return wf_strbuf_detach(&sb, NULL);
}

/* Masks every string inside v in place (v is owned by the caller and not shared). */
static void mask_json(const wf_run *r, json_object *v)
{
    if (r->n_secrets == 0 || v == NULL)
        return;
    if (json_object_is_type(v, json_type_string)) {
        char *m = wf__run_mask(r, json_object_get_string(v));

        if (m != NULL) {
            json_object_set_string(v, m);
            free(m);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            mask_json(r, json_object_array_get_idx(v, i));
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, child)
        {
            (void)key;
            mask_json(r, child);
        }
    }
}

static void emit(wf_run *r, wf_event *ev)
{
    char *message, *err_text, *out_text;

    if (r->opts.on_event == NULL)
        return;
    ev->units_done = r->units_done;
    ev->units_total = r->units_total;
    message = wf__run_mask(r, ev->message);
    err_text = wf__run_mask(r, ev->stderr_text);
    out_text = wf__run_mask(r, ev->stdout_text);
    if (message != NULL)
        ev->message = message;
    if (err_text != NULL)
        ev->stderr_text = err_text;
    if (out_text != NULL)
        ev->stdout_text = out_text;
    r->opts.on_event(ev, r->opts.user);
    free(message);
    free(err_text);
    free(out_text);
}

static void emit_simple(wf_run *r, wf_event_kind kind, const char *task, const char *message)
{
    wf_event ev = { .kind = kind, .task = task, .index = -1, .exit_code = -1, .message = message };

    emit(r, &ev);
}

/* ---- records ---------------------------------------------------------------------------- */

int64_t wf__run_wall_ms(const wf_run *r, int64_t mono_ms)
{
    return r->start_wall_ms + (mono_ms - r->start_ms);
}

static void record_unit(wf_run *r, uint32_t t, uint32_t idx, const wf_completion *c, int attempt,
                        bool reused)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_store_unit_rec rec = { 0 };
    char *error = NULL;

    if (r->store == NULL)
        return;
    error = wf__run_mask(r, c->error);
    rec.run_id = r->run_id;
    rec.task = task->name;
    rec.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    rec.attempt = attempt;
    rec.status = c->status;
    rec.started_ms = wf__run_wall_ms(r, c->start_ms);
    rec.ended_ms = wf__run_wall_ms(r, c->end_ms);
    rec.exit_code = c->exit_code;
    rec.error = error ? error : c->error;
    rec.result_json = c->result_json;
    rec.result_hash = c->result_hash;
    rec.stdout_hash = c->stdout_hash;
    rec.stderr_hash = c->stderr_hash;
    rec.item_hash = c->item_hash[0] ? c->item_hash : NULL;
    rec.cached = c->cached;
    rec.reused = reused;
    wf_store_record_unit(r->store, &rec);
    free(error);
}

static void record_task(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    const wf_task_state *ts = &r->tasks[t];
    wf_store_task_rec rec = { 0 };
    char *error;

    if (r->store == NULL)
        return;
    error = wf__run_mask(r, ts->error);
    rec.run_id = r->run_id;
    rec.task = task->name;
    rec.status = ts->status;
    rec.started_ms = wf__run_wall_ms(r, ts->start_ms);
    rec.ended_ms = ts->end_ms > 0 ? wf__run_wall_ms(r, ts->end_ms) : 0;
    rec.error = error ? error : ts->error;
    rec.with_items = task->items_kind != WF_ITEMS_NONE;
    rec.position = task->index;
    rec.n_items = rec.with_items ? ts->n_units : 0;
    wf_store_record_task(r->store, &rec);
    free(error);
}

/* ---- small queues -------------------------------------------------------------------- */

static void fifo_push(wf_u32_fifo *q, uint32_t x)
{
    if (q->len == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        uint32_t *v = wf_xmalloc(cap * sizeof(*v));

        for (size_t i = 0; i < q->len; i++)
            v[i] = q->v[(q->head + i) % q->cap];
        free(q->v);
        q->v = v;
        q->head = 0;
        q->cap = cap;
    }
    q->v[(q->head + q->len) % q->cap] = x;
    q->len++;
}

static uint32_t fifo_pop(wf_u32_fifo *q)
{
    uint32_t x = q->v[q->head];

    q->head = (q->head + 1) % q->cap;
    q->len--;
    return x;
}

static void ready_push(wf_run *r, uint32_t t)
{
    if (r->tasks[t].ready_queued)
        return;
    fifo_push(&r->ready, t);
    r->tasks[t].ready_queued = true;
}

static uint32_t ready_pop(wf_run *r)
{
    uint32_t t = fifo_pop(&r->ready);

    r->tasks[t].ready_queued = false;
    return t;
}

/* Retry timers: a binary min-heap on due_ms. */
static void timer_push(wf_run *r, int64_t due, wf_job job)
{
    size_t i;

    if (r->n_timers == r->cap_timers) {
        r->cap_timers = r->cap_timers ? r->cap_timers * 2 : 16;
        r->timers = wf_xrealloc(r->timers, r->cap_timers * sizeof(*r->timers));
    }
    i = r->n_timers++;
    while (i > 0 && r->timers[(i - 1) / 2].due_ms > due) {
        r->timers[i] = r->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    r->timers[i].due_ms = due;
    r->timers[i].job = job;
}

static wf_timer timer_pop(wf_run *r)
{
    wf_timer top = r->timers[0], last = r->timers[--r->n_timers];
    size_t i = 0;

    for (;;) {
        size_t c = 2 * i + 1;

        if (c >= r->n_timers)
            break;
        if (c + 1 < r->n_timers && r->timers[c + 1].due_ms < r->timers[c].due_ms)
            c++;
        if (r->timers[c].due_ms >= last.due_ms)
            break;
        r->timers[i] = r->timers[c];
        i = c;
    }
    if (r->n_timers > 0)
        r->timers[i] = last;
    return top;
}

/* ---- task life cycle ----------------------------------------------------------------- */

static void task_finish(wf_run *r, uint32_t t, wf_status status, char *error_take);

/* Sets stopping: nothing new starts; running processes and actions see the cancel pipe. */
static void begin_stop(wf_run *r)
{
    if (r->stopping)
        return;
    r->stopping = true;
    atomic_store(&r->stop_queued, true);
    if (r->slurm != NULL)
        wf_slurm_cancel_all(r->slurm);
    if (write(r->cancel_pipe[1], "x", 1) < 0) {
        /* The pipe cannot be full (one byte is ever written); nothing more to do. */
    }
}

static int64_t retry_delay(const wf_retry *rt, uint32_t retry_number)
{
    double d = (double)rt->delay_ms;

    if (rt->backoff == WF_BACKOFF_LINEAR)
        d *= retry_number;
    else if (rt->backoff == WF_BACKOFF_EXPONENTIAL)
        d *= (double)(1ull << (retry_number - 1 > 40 ? 40 : retry_number - 1));
    if (rt->max_delay_ms > 0 && d > (double)rt->max_delay_ms)
        d = (double)rt->max_delay_ms;
    return d > 9e15 ? (int64_t)9e15 : (int64_t)d;
}

static bool has_startable(const wf_run *r, const wf_task_state *ts)
{
    if (r->stopping || ts->stop_items)
        return false;
    return ts->retries.len > 0 || ts->next_unit < ts->n_units;
}

static bool task_at_limit(const wf_run *r, uint32_t t)
{
    int limit = r->wf->tasks[t].concurrency;

    return limit > 0 && r->tasks[t].running >= (size_t)limit;
}

/* Ends the task if nothing of it runs, waits or can start any more. */
static void task_maybe_finish(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    bool any_failed = false, any_cancelled = false;

    if (ts->status != WF_STATUS_RUNNING || ts->running > 0 || ts->waiting_retry > 0 ||
        has_startable(r, ts))
        return;
    for (size_t i = 0; i < ts->n_units; i++) {
        wf_unit *u = &ts->units[i];

        if (u->status == WF_STATUS_PENDING || u->status == WF_STATUS_RUNNING) {
            u->status = WF_STATUS_CANCELLED;
            ts->ended++;
            r->units_done++;
        }
        any_failed |= u->status == WF_STATUS_FAILED;
        any_cancelled |= u->status == WF_STATUS_CANCELLED;
    }
    if (task->items_kind == WF_ITEMS_NONE)
        task_finish(r, t, (wf_status)ts->units[0].status, NULL);
    else
        task_finish(r, t,
                    any_failed ? WF_STATUS_FAILED
                               : (any_cancelled ? WF_STATUS_CANCELLED : WF_STATUS_SUCCEEDED),
                    NULL);
}

/* Skips units that were settled out of order (taken from the resumed run). */
static void advance_next(wf_task_state *ts)
{
    while (ts->next_unit < ts->n_units && ts->units[ts->next_unit].status != WF_STATUS_PENDING)
        ts->next_unit++;
}

/* --resume: settles unit idx with what the resumed run recorded for it. */
static void reuse_unit(wf_run *r, uint32_t t, uint32_t idx, json_object *rec)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    wf_completion c;
    json_object *v = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_event ev = { .kind = WF_EVENT_UNIT_END, .task = task->name, .reused = true };

    memset(&c, 0, sizeof(c));
    c.status = WF_STATUS_SUCCEEDED;
    c.start_ms = c.end_ms = wf_now_ms();
    c.exit_code =
        json_object_object_get_ex(rec, "exit_code", &v) && v != NULL ? json_object_get_int(v) : -1;
    if (json_object_object_get_ex(rec, "stdout_hash", &v) && v != NULL)
        snprintf(c.stdout_hash, sizeof(c.stdout_hash), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(rec, "stderr_hash", &v) && v != NULL)
        snprintf(c.stderr_hash, sizeof(c.stderr_hash), "%s", json_object_get_string(v));
    if (json_object_object_get_ex(rec, "item_hash", &v) && v != NULL)
        snprintf(c.item_hash, sizeof(c.item_hash), "%s", json_object_get_string(v));
    v = NULL;
    json_object_object_get_ex(rec, "result", &v);
    wf_json_write(&sb, v);
    if (sb.len <= WF_STORE_INLINE_MAX) {
        c.result_json = wf_strbuf_detach(&sb, NULL);
    } else {
        wf_error err;

        wf_error_init(&err);
        wf_store_put_blob(r->store, sb.buf, sb.len, c.result_hash, &err);
        wf_error_release(&err);
    }
    record_unit(r, t, idx, &c, 1, true);
    ts->units[idx].status = WF_STATUS_SUCCEEDED;
    ts->units[idx].reused = 1;
    ts->units[idx].exit_code = c.exit_code;
    ts->values[idx] = wf_json_copy(v);
    ts->ended++;
    r->units_done++;
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    ev.status = WF_STATUS_SUCCEEDED;
    ev.exit_code = c.exit_code;
    emit(r, &ev);
    free(c.result_json);
    wf_strbuf_release(&sb);
}

/* --resume for a with-items task: items whose item is unchanged and that succeeded in the
 * resumed run are taken from it. Returns how many. */
static size_t reuse_items(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    size_t n = 0, len = json_object_array_length(ts->reuse);
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; i < len && i < ts->n_units; i++) {
        json_object *rec = json_object_array_get_idx(ts->reuse, i), *h = NULL;
        char digest[WF_SHA256_HEX_LEN + 1];

        if (rec == NULL || !json_object_object_get_ex(rec, "item_hash", &h) || h == NULL)
            continue;
        wf_strbuf_reset(&sb);
        wf_json_write(&sb, json_object_array_get_idx(ts->items, i));
        wf_sha256_hex(wf_strbuf_str(&sb), sb.len, digest);
        if (strcmp(digest, json_object_get_string(h)) != 0)
            continue;
        reuse_unit(r, t, (uint32_t)i, rec);
        n++;
    }
    wf_strbuf_release(&sb);
    advance_next(ts);
    return n;
}

/* Creates n units for the task and, with queue, puts it on the ready list. */
static void task_add_units(wf_run *r, uint32_t t, size_t n, bool queue)
{
    wf_task_state *ts = &r->tasks[t];

    ts->n_units = n;
    ts->units = wf_xcalloc(n ? n : 1, sizeof(*ts->units));
    ts->values = wf_xcalloc(n ? n : 1, sizeof(*ts->values));
    for (size_t i = 0; i < n; i++)
        ts->units[i].exit_code = -1;
    r->units_total += n;
    /* A with-items task is recorded as running now, so that a run killed before the task
     * ends still shows it with the items it recorded. (A plain task's one unit is recorded
     * when it ends, with the task: one record fewer per task on the hot path.) */
    if (r->wf->tasks[t].items_kind != WF_ITEMS_NONE)
        record_task(r, t);
    if (queue)
        ready_push(r, t);
}

/* Evaluates the task's item list (a literal or template list, or a matrix) into ts->items,
 * lent where it can be (see wf_task_state). */
static int expand_items(wf_run *r, uint32_t t, char **error)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_error err;
    const json_object *list = NULL;
    json_object *own = NULL;
    int rc;

    wf_error_init(&err);
    if (task->items_kind == WF_ITEMS_MATRIX) {
        rc = wf__matrix_expand(task, ts->ctx, &own, &err);
        list = own;
    } else {
        rc = wf_vnode_eval_borrow(task->items, ts->ctx, &list, &own, &err);
    }
    if (rc != WF_OK) {
        *error = wf_xasprintf("with-items: %s", err.message ? err.message : wf_strerror(rc));
        wf_error_release(&err);
        return rc;
    }
    if (!json_object_is_type(list, json_type_array)) {
        const char *src = task->items->kind == WF_VNODE_TEMPLATE ? wf_tpl_source(task->items->tpl)
                                                                 : "the with-items value";

        *error = wf_xasprintf("with-items: '%s' gave %s, not a list", src, wf_json_type_name(list));
        json_object_put(own);
        return WF_ETYPE;
    }
    if (json_object_array_length(list) > WF_MAX_ITEMS) {
        *error = wf_xasprintf("with-items: the list has %zu items, more than the %d a task may "
                              "expand to; split it into several tasks",
                              json_object_array_length(list), WF_MAX_ITEMS);
        json_object_put(own);
        return WF_ERANGE;
    }
    if (task->batch_size > 0) {
        size_t n = json_object_array_length(list);
        json_object *batches =
            json_object_new_array_ext((int)((n + task->batch_size - 1) / task->batch_size));

        for (size_t i = 0; i < n; i += (size_t)task->batch_size) {
            json_object *b = json_object_new_array();

            /* Copies, not references: a lent list's reference counts are not ours. */
            for (size_t j = i; j < n && j < i + (size_t)task->batch_size; j++)
                json_object_array_add(b, wf_json_copy(json_object_array_get_idx(list, j)));
            json_object_array_add(batches, b);
        }
        json_object_put(own);
        own = batches;
        list = batches;
    }
    ts->items = list;
    ts->items_own = own;
    return WF_OK;
}

/* Why the task is skipped because of its dependencies, or NULL. */
static char *dependency_problem(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];

    for (size_t i = 0; i < task->n_deps; i++) {
        const wf_task_state *d = &r->tasks[task->deps[i]];

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

/* A task whose dependencies have all ended: skip it, or expand it and queue its units. */
static void task_ready(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
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
        ts->reuse = NULL;
    }
    if (r->stopping) {
        task_finish(r, t, WF_STATUS_CANCELLED,
                    wf_xstrdup(r->failfast_tripped ? "not started: fail-fast"
                                                   : "not started: the run was stopped"));
        return;
    }
    why = dependency_problem(r, t);
    if (why != NULL && !task->when_uses_status) {
        task_finish(r, t, WF_STATUS_SKIPPED, why);
        return;
    }
    free(why);
    if (ts->reuse != NULL && task->items_kind == WF_ITEMS_NONE) {
        task_add_units(r, t, 1, false);
        reuse_unit(r, t, 0, ts->reuse);
        task_finish(r, t, WF_STATUS_SUCCEEDED, NULL);
        return;
    }
    wf_error_init(&err);
    if (task->when != NULL && task->items_kind == WF_ITEMS_NONE) {
        bool yes = false;
        int rc = wf_tpl_eval_bool(task->when, ts->ctx, &yes, &err);

        if (rc != WF_OK) {
            task_finish(r, t, WF_STATUS_FAILED,
                        wf_xasprintf("when: %s", err.message ? err.message : wf_strerror(rc)));
            wf_error_release(&err);
            return;
        }
        if (!yes) {
            task_finish(r, t, WF_STATUS_SKIPPED, wf_xstrdup("when was false"));
            return;
        }
    }
    if (task->items_kind == WF_ITEMS_NONE) {
        task_add_units(r, t, 1, true);
    } else {
        char *error = NULL;
        wf_event ev = { .kind = WF_EVENT_TASK_START, .task = task->name, .index = -1 };

        if (expand_items(r, t, &error) != WF_OK) {
            task_finish(r, t, WF_STATUS_FAILED, error);
            return;
        }
        ev.n_items = json_object_array_length(ts->items);
        if (ev.n_items == 0) {
            emit(r, &ev);
            task_finish(r, t, WF_STATUS_SUCCEEDED, NULL);
            return;
        }
        task_add_units(r, t, ev.n_items, false);
        if (ts->reuse != NULL) {
            size_t reused = reuse_items(r, t);
            char *msg = wf_xasprintf("%zu reused from run %s", reused, r->opts.resume_run);

            ev.message = msg;
            emit(r, &ev);
            free(msg);
        } else {
            emit(r, &ev);
        }
        if (has_startable(r, ts))
            ready_push(r, t);
        else
            task_maybe_finish(r, t);
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

            emit_simple(r, WF_EVENT_WARNING, task->name, msg);
            free(msg);
            wf_error_release(&err);
            continue;
        }
        res = wf_result_new(WF_STATUS_SUCCEEDED, v);
        if (wf_results_publish(vars, task->publish[i].name, res) != WF_OK) {
            char *msg = wf_xasprintf("var '%s' was already published; keeping the first value",
                                     task->publish[i].name);

            emit_simple(r, WF_EVENT_WARNING, task->name, msg);
            free(msg);
        }
        wf_result_unref(res);
    }
}

static void task_finish(wf_run *r, uint32_t t, wf_status status, char *error_take)
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
        /* The list of item results in item order, null where an item did not succeed. */
        value = json_object_new_array_ext((int)ts->n_units);
        for (size_t i = 0; i < ts->n_units; i++) {
            json_object_array_add(value, ts->values[i]);
            ts->values[i] = NULL;
        }
    } else if (task->items_kind == WF_ITEMS_NONE && status == WF_STATUS_SUCCEEDED) {
        value = ts->values ? ts->values[0] : NULL;
        if (ts->values)
            ts->values[0] = NULL;
    }
    res = wf_result_new(status, value);
    res->ignored_failure = status == WF_STATUS_FAILED && task->continue_on_error;
    if (ts->error != NULL)
        res->error = wf_xstrdup(ts->error);
    if (task->items_kind == WF_ITEMS_NONE && ts->n_units == 1) {
        res->exit_code = ts->units[0].exit_code;
        res->stdout_text = ts->plain_out;
        res->stderr_text = ts->plain_err;
        ts->plain_out = ts->plain_err = NULL;
    } else if (task->items_kind != WF_ITEMS_NONE) {
        res->n_items = ts->n_units;
        res->item_status = wf_xmalloc((ts->n_units ? ts->n_units : 1) * sizeof(wf_status));
        for (size_t i = 0; i < ts->n_units; i++)
            res->item_status[i] = (wf_status)ts->units[i].status;
    }
    ts->result = res;
    wf_results_publish(wf_ctx_results(r->root), task->name, res);
    if (status == WF_STATUS_SUCCEEDED)
        publish_vars(r, t);
    r->tasks_ended++;
    record_task(r, t);
    ev.status = status;
    ev.duration_ms = ts->end_ms - ts->start_ms;
    ev.message = ts->error;
    ev.n_items = task->items_kind != WF_ITEMS_NONE ? ts->n_units : 0;
    ev.attempt =
        task->items_kind == WF_ITEMS_NONE && ts->n_units == 1 ? (int)ts->units[0].attempt : 0;
    emit(r, &ev);
    if (status == WF_STATUS_FAILED && !task->continue_on_error && r->fail_fast &&
        !r->failfast_tripped) {
        r->failfast_tripped = true;
        begin_stop(r);
    }
    /* O(1) per edge: dependents whose last dependency this was become ready. */
    for (size_t i = 0; i < task->n_dependents; i++) {
        uint32_t d = (uint32_t)task->dependents[i];

        if (--r->tasks[d].pending_deps == 0)
            r->settle[r->n_settle++] = d;
    }
}

/* Handles tasks that became ready, iteratively (a long chain of skips must not recurse). */
static void settle(wf_run *r)
{
    while (r->n_settle > 0)
        task_ready(r, r->settle[--r->n_settle]);
}

/* ---- dispatch and completions -------------------------------------------------------- */

static void push_jobs(wf_run *r, const wf_job *jobs, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&r->lock);
    if (r->jobs_len + n > r->jobs_cap) {
        size_t cap = r->jobs_cap ? r->jobs_cap : 64;
        wf_job *q;

        while (cap < r->jobs_len + n)
            cap *= 2;
        q = wf_xmalloc(cap * sizeof(*q));
        for (size_t i = 0; i < r->jobs_len; i++)
            q[i] = r->jobs[(r->jobs_head + i) % (r->jobs_cap ? r->jobs_cap : 1)];
        free(r->jobs);
        r->jobs = q;
        r->jobs_head = 0;
        r->jobs_cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        r->jobs[(r->jobs_head + r->jobs_len + i) % r->jobs_cap] = jobs[i];
    r->jobs_len += n;
    if (n == 1)
        pthread_cond_signal(&r->jobs_cond);
    else
        pthread_cond_broadcast(&r->jobs_cond);
    pthread_mutex_unlock(&r->lock);
}

/* The executor started the current attempt of unit idx of task t: a worker took its job, or
 * Slurm accepted it. Emits UNIT_START (on the scheduler thread, like every event). */
static void unit_started(wf_run *r, uint32_t t, uint32_t idx, uint32_t attempt)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_unit *u = &r->tasks[t].units[idx];
    wf_event ev = { .kind = WF_EVENT_UNIT_START, .task = task->name, .exit_code = -1 };

    if (u->attempt != attempt || u->status != WF_STATUS_RUNNING)
        return; /* cannot happen: an attempt ends after it starts, on the same queue */
    u->started = 1;
    ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    ev.attempt = (int)attempt;
    ev.max_attempts = task->retry.count + 1;
    emit(r, &ev);
}

/* ---- Slurm ------------------------------------------------------------------------------ */

/* A unit that ends before it is submitted (its `when` was false, a template error, sbatch
 * refused it) is completed at once. */
static void complete(wf_run *r, wf_completion *c);

static void complete_now(wf_run *r, wf_completion *c)
{
    r->tasks[c->job.task].running++;
    complete(r, c);
}

/* The rendered `slurm:` options of a unit, as compact JSON (for grouping) and as the value. */
static json_object *slurm_options(wf_run *r, const wf_job *job, wf_error *err)
{
    const wf_task *task = &r->wf->tasks[job->task];
    const wf_task_state *ts = &r->tasks[job->task];
    json_object *v = NULL;
    wf_ctx *ctx;

    if (task->slurm == NULL)
        return json_object_new_object();
    ctx = ts->items != NULL
              ? wf_ctx_with_item(ts->ctx, json_object_array_get_idx(ts->items, job->unit),
                                 (int64_t)job->unit)
              : wf_ctx_ref(ts->ctx);
    if (wf_vnode_eval(task->slurm, ctx, &v, err) != WF_OK)
        v = NULL;
    wf_ctx_unref(ctx);
    return v;
}

/* Reads the wf_slurm_opts of an options object; strings stay borrowed from it. */
static void slurm_opts_of(json_object *o, wf_slurm_opts *opts, wf_strbuf *time_buf,
                          wf_strbuf *mem_buf, const char ***extra)
{
    json_object *v = NULL;

    memset(opts, 0, sizeof(*opts));
    *extra = NULL;
    if (json_object_object_get_ex(o, "partition", &v) && v != NULL)
        opts->partition = json_object_get_string(v);
    if (json_object_object_get_ex(o, "time", &v) && v != NULL) {
        wf_tpl_text_form(time_buf, v);
        opts->time = wf_strbuf_str(time_buf);
    }
    if (json_object_object_get_ex(o, "cpus", &v) && v != NULL)
        opts->cpus = json_object_get_int(v);
    if (json_object_object_get_ex(o, "mem", &v) && v != NULL) {
        wf_tpl_text_form(mem_buf, v);
        opts->mem = wf_strbuf_str(mem_buf);
    }
    if (json_object_object_get_ex(o, "extra", &v) && json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);

        *extra = wf_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            (*extra)[i] = json_object_get_string(json_object_array_get_idx(v, i));
        opts->extra = *extra;
    }
}

typedef struct slurm_batch {
    char *opts_text;
    json_object *opts;
    wf_slurm_element *elems;
    char **scripts, ***envps, **workdirs;
    size_t n, cap;
} slurm_batch;

/* Submits every unit of task t that can start now (retries first) as job arrays: one per
 * distinct set of rendered `slurm:` options (one in the usual case). */
static void slurm_submit_pending(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task *task = &r->wf->tasks[t];
    slurm_batch *batches = NULL;
    size_t n_batches = 0;

    while (has_startable(r, ts)) {
        uint32_t u;
        wf_job job;
        wf_completion c;
        wf_error err;
        json_object *o;
        wf_strbuf text = WF_STRBUF_INIT;
        slurm_batch *b = NULL;
        char *script, **envp, *workdir;
        wf_event ev = { .kind = WF_EVENT_UNIT_QUEUED, .task = task->name, .exit_code = -1 };

        if (ts->retries.len > 0) {
            u = fifo_pop(&ts->retries);
        } else {
            u = (uint32_t)ts->next_unit++;
            advance_next(ts);
        }
        ts->units[u].attempt++;
        ts->units[u].status = WF_STATUS_RUNNING;
        ts->units[u].started = 0;
        if (ts->units[u].start_ms == 0)
            ts->units[u].start_ms = wf_now_ms();
        job.task = t;
        job.unit = u;
        job.attempt = ts->units[u].attempt;
        memset(&c, 0, sizeof(c));
        c.job = job;
        /* Queued as soon as it is taken, so that every attempt that ends without starting
         * (its `when` was false, a template error, sbatch refused it) was queued first. */
        ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)u : -1;
        ev.attempt = (int)job.attempt;
        ev.max_attempts = task->retry.count + 1;
        emit(r, &ev);
        if (!wf__unit_prepare_slurm(r, &job, &script, &envp, &workdir, &c)) {
            complete_now(r, &c);
            continue;
        }
        wf_error_init(&err);
        o = slurm_options(r, &job, &err);
        if (o == NULL) {
            c.status = WF_STATUS_FAILED;
            c.error = wf_xasprintf("slurm: %s", err.message ? err.message : "bad options");
            wf_error_release(&err);
            free(script);
            free(workdir);
            free(envp);
            complete_now(r, &c);
            continue;
        }
        wf_error_release(&err);
        wf_json_write(&text, o);
        for (size_t i = 0; i < n_batches && b == NULL; i++) {
            if (strcmp(batches[i].opts_text, wf_strbuf_str(&text)) == 0)
                b = &batches[i];
        }
        if (b == NULL) {
            batches = wf_xrealloc(batches, (n_batches + 1) * sizeof(*batches));
            b = &batches[n_batches++];
            memset(b, 0, sizeof(*b));
            b->opts_text = wf_strbuf_detach(&text, NULL);
            b->opts = o;
        } else {
            json_object_put(o);
        }
        wf_strbuf_release(&text);
        if (b->n == b->cap) {
            b->cap = b->cap ? b->cap * 2 : 16;
            b->elems = wf_xrealloc(b->elems, b->cap * sizeof(*b->elems));
            b->scripts = wf_xrealloc(b->scripts, b->cap * sizeof(char *));
            b->envps = wf_xrealloc(b->envps, b->cap * sizeof(char **));
            b->workdirs = wf_xrealloc(b->workdirs, b->cap * sizeof(char *));
        }
        b->scripts[b->n] = script;
        b->envps[b->n] = envp;
        b->workdirs[b->n] = workdir;
        b->elems[b->n].unit = u;
        b->elems[b->n].attempt = job.attempt;
        b->elems[b->n].script = script;
        b->elems[b->n].envp = (const char *const *)envp;
        b->elems[b->n].workdir = workdir;
        b->n++;
        ts->running++;
    }
    for (size_t i = 0; i < n_batches; i++) {
        slurm_batch *b = &batches[i];
        wf_slurm_opts opts;
        wf_strbuf time_buf = WF_STRBUF_INIT, mem_buf = WF_STRBUF_INIT;
        const char **extra = NULL;
        wf_error err;

        wf_error_init(&err);
        slurm_opts_of(b->opts, &opts, &time_buf, &mem_buf, &extra);
        if (wf_slurm_submit(r->slurm, t, task->name, b->elems, b->n,
                            task->items_kind != WF_ITEMS_NONE, task->concurrency, &opts,
                            task->timeout_ms, &err) == WF_OK) {
            /* Slurm has the elements: for the engine they started (Slurm's own queue is
             * not followed; the recorded start is when the poller first saw one running). */
            for (size_t k = 0; k < b->n; k++)
                unit_started(r, t, b->elems[k].unit, b->elems[k].attempt);
        } else {
            /* sbatch refused: every element of this submission fails with its message. */
            for (size_t k = 0; k < b->n; k++) {
                wf_completion c;

                memset(&c, 0, sizeof(c));
                c.job.task = t;
                c.job.unit = b->elems[k].unit;
                c.job.attempt = b->elems[k].attempt;
                c.status = WF_STATUS_FAILED;
                c.exit_code = -1;
                c.start_ms = c.end_ms = wf_now_ms();
                c.error = wf_xasprintf("sbatch: %s", err.message ? err.message : "failed");
                complete(r, &c);
            }
        }
        wf_error_release(&err);
        wf_strbuf_release(&time_buf);
        wf_strbuf_release(&mem_buf);
        free(extra);
        for (size_t k = 0; k < b->n; k++) {
            free(b->scripts[k]);
            free(b->workdirs[k]);
            free(b->envps[k]);
        }
        free(b->elems);
        free(b->scripts);
        free(b->envps);
        free(b->workdirs);
        free(b->opts_text);
        json_object_put(b->opts);
    }
    free(batches);
}

static void dispatch(wf_run *r)
{
    wf_job batch[64];
    size_t n = 0;

    while (!r->stopping && r->ready.len > 0 &&
           (r->running < r->dispatch_limit || r->tasks[r->ready.v[r->ready.head]].slurm)) {
        uint32_t t = ready_pop(r), u;
        wf_task_state *ts = &r->tasks[t];
        const wf_task *task = &r->wf->tasks[t];
        wf_event ev = { .kind = WF_EVENT_UNIT_QUEUED, .task = task->name, .exit_code = -1 };

        if (ts->slurm) {
            slurm_submit_pending(r, t);
            continue;
        }
        if (!has_startable(r, ts) || task_at_limit(r, t))
            continue; /* re-queued when one of its units completes */
        if (ts->retries.len > 0) {
            u = fifo_pop(&ts->retries);
        } else {
            u = (uint32_t)ts->next_unit++;
            advance_next(ts);
        }
        ts->units[u].attempt++;
        ts->units[u].status = WF_STATUS_RUNNING;
        ts->units[u].started = 0;
        if (ts->units[u].start_ms == 0)
            ts->units[u].start_ms = wf_now_ms();
        ts->running++;
        r->running++;
        batch[n].task = t;
        batch[n].unit = u;
        batch[n].attempt = ts->units[u].attempt;
        n++;
        ev.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)u : -1;
        ev.attempt = (int)ts->units[u].attempt;
        ev.max_attempts = task->retry.count + 1;
        emit(r, &ev);
        /* Round-robin: a task with more to start goes to the back of the line. */
        if (has_startable(r, ts) && !task_at_limit(r, t))
            ready_push(r, t);
        if (n == WF_ARRAY_LEN(batch)) {
            push_jobs(r, batch, n);
            n = 0;
        }
    }
    push_jobs(r, batch, n);
}

/* --resume: whether the resumed run has a success of unit idx (which then did not run as
 * it was there, since it was not taken from it). */
static bool had_success(const wf_task_state *ts, uint32_t idx)
{
    if (ts->reuse == NULL)
        return false;
    if (!json_object_is_type(ts->reuse, json_type_array))
        return true;
    return idx < json_object_array_length(ts->reuse) &&
           json_object_array_get_idx(ts->reuse, idx) != NULL;
}

static void complete(wf_run *r, wf_completion *c)
{
    uint32_t t = c->job.task, idx = c->job.unit;
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_unit *u = &ts->units[idx];
    bool items = task->items_kind != WF_ITEMS_NONE;
    wf_event ev = { .task = task->name, .index = items ? (int64_t)idx : -1 };

    ts->running--;
    if (!ts->slurm)
        r->running--;
    /* A unit of it ran: its dependents cannot be taken from a resumed run. An item skipped
     * because its `when` is false, and that had no success to take from the resumed run, was
     * decided from what it was decided from there (nothing it depends on ran again, or rerun
     * is already set): skipped there too, it changes nothing its dependents read. */
    if (c->status != WF_STATUS_SKIPPED || had_success(ts, idx))
        ts->rerun = true;
    u->exit_code = c->exit_code;
    /* The unit started when a worker took its job, not when the job was queued. */
    if (u->attempt == 1 && c->start_ms > 0)
        u->start_ms = c->start_ms;
    record_unit(r, t, idx, c, (int)u->attempt, false);
    ev.attempt = (int)u->attempt;
    ev.max_attempts = task->retry.count + 1;
    ev.exit_code = c->exit_code;
    ev.started = u->started;
    u->started = 0;
    if (c->log != NULL)
        emit_simple(r, WF_EVENT_LOG, task->name, c->log);
    if (c->status == WF_STATUS_FAILED && !r->stopping &&
        u->attempt <= (uint32_t)task->retry.count) {
        int64_t delay = retry_delay(&task->retry, u->attempt);

        u->status = WF_STATUS_PENDING;
        ts->waiting_retry++;
        timer_push(r, wf_now_ms() + delay, c->job);
        ev.kind = WF_EVENT_UNIT_RETRY;
        ev.delay_ms = delay;
        ev.status = WF_STATUS_FAILED;
        ev.message = c->error;
        emit(r, &ev);
        json_object_put(c->value);
        goto out;
    }
    u->status = (uint8_t)c->status;
    u->cached = c->cached;
    u->end_ms = c->end_ms;
    ts->ended++;
    r->units_done++;
    if (c->status == WF_STATUS_SUCCEEDED) {
        ts->values[idx] = c->value;
    } else {
        json_object_put(c->value);
        if (c->error != NULL) {
            if (!items) {
                free(ts->error);
                ts->error = c->error;
            } else {
                if (ts->item_errors == NULL)
                    ts->item_errors = wf_xcalloc(ts->n_units, sizeof(char *));
                ts->item_errors[idx] = c->error;
            }
            c->error = NULL;
        }
    }
    if (!items) {
        ts->plain_out = c->out;
        ts->plain_err = c->err;
        c->out = c->err = NULL;
    }
    ev.kind = WF_EVENT_UNIT_END;
    ev.status = c->status;
    ev.cached = c->cached;
    ev.duration_ms = c->end_ms - c->start_ms;
    ev.message = items && ts->item_errors ? ts->item_errors[idx] : (items ? NULL : ts->error);
    ev.stderr_text = items ? c->err : ts->plain_err;
    ev.stdout_text = items ? c->out : ts->plain_out;
    emit(r, &ev);
    if (c->status == WF_STATUS_FAILED && items && task->fail_fast) {
        ts->stop_items = true;
        atomic_store(&ts->stop_queued, true);
    }
    if (c->status == WF_STATUS_FAILED && !task->continue_on_error && r->fail_fast &&
        !r->failfast_tripped) {
        r->failfast_tripped = true;
        begin_stop(r);
    }
out:
    free(c->out);
    free(c->err);
    free(c->error);
    free(c->log);
    free(c->result_json);
    if (has_startable(r, ts) && !task_at_limit(r, t))
        ready_push(r, t);
    task_maybe_finish(r, t);
}

/* After a stop: drop pending retries (those units end as cancelled) and end the tasks that
 * have nothing running. */
static void drain_after_stop(wf_run *r)
{
    while (r->n_timers > 0) {
        wf_timer tm = timer_pop(r);

        r->tasks[tm.job.task].waiting_retry--;
    }
    while (r->ready.len > 0) {
        uint32_t t = ready_pop(r);

        task_maybe_finish(r, t);
    }
    for (size_t t = 0; t < r->wf->n_tasks; t++)
        task_maybe_finish(r, (uint32_t)t);
}

static void fire_timers(wf_run *r, int64_t now)
{
    while (r->n_timers > 0 && r->timers[0].due_ms <= now) {
        wf_timer tm = timer_pop(r);
        wf_task_state *ts = &r->tasks[tm.job.task];

        ts->waiting_retry--;
        fifo_push(&ts->retries, tm.job.unit);
        if (!task_at_limit(r, tm.job.task))
            ready_push(r, tm.job.task);
    }
}

/* ---- the result ---------------------------------------------------------------------- */

static void render_outputs(wf_run *r)
{
    r->outputs = json_object_new_object();
    for (size_t i = 0; i < r->wf->n_outputs; i++) {
        const wf_named_vnode *o = &r->wf->outputs[i];
        json_object *v = NULL;
        wf_error err;
        int rc;

        wf_error_init(&err);
        rc = wf_vnode_eval(o->value, r->root, &v, &err);
        if (rc != WF_OK) {
            char *msg = wf_xasprintf("output '%s' is null: %s", o->name,
                                     err.message ? err.message : wf_strerror(rc));

            emit_simple(r, WF_EVENT_WARNING, NULL, msg);
            free(msg);
            wf_error_release(&err);
            v = NULL;
        }
        json_object_object_add(r->outputs, o->name, v);
    }
}

static wf_status final_status(const wf_run *r)
{
    if (r->store_failed)
        return WF_STATUS_FAILED;
    if (atomic_load(&r->cancel_requested))
        return WF_STATUS_CANCELLED;
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task_state *ts = &r->tasks[t];

        if (ts->status == WF_STATUS_FAILED && !r->wf->tasks[t].continue_on_error)
            return WF_STATUS_FAILED;
        if (ts->status == WF_STATUS_CANCELLED && r->failfast_tripped)
            return WF_STATUS_FAILED;
    }
    return WF_STATUS_SUCCEEDED;
}

/* ---- threads ------------------------------------------------------------------------- */

/* Makes room for one more entry in done; the caller holds r->lock. */
static wf_completion *done_slot_locked(wf_run *r)
{
    if (r->done_len == r->done_cap) {
        r->done_cap = r->done_cap ? r->done_cap * 2 : 64;
        r->done = wf_xrealloc(r->done, r->done_cap * sizeof(*r->done));
    }
    return &r->done[r->done_len++];
}

/* Tells the scheduler that a worker starts job (a start notice: the scheduler emits
 * UNIT_START when it takes it); the caller holds r->lock. The notice goes on the completion
 * queue, behind the completion this worker handed back under the same lock: the scheduler
 * therefore sees each worker's units start and end in order, and never more units started
 * and not ended than there are workers. A start is not urgent, so the scheduler is woken
 * only when it would not look by itself within a tick (it waits for a unit to end); without
 * the wake-up a long unit would be shown queued until it ended. */
static void add_start_locked(wf_run *r, const wf_job *job)
{
    wf_completion *c = done_slot_locked(r);

    /* Only job and status are read from a start notice. */
    c->job = *job;
    c->status = WF_STATUS_RUNNING;
    r->done_starts++;
    if (r->sched_wake_ms != 0 && !r->sched_woken &&
        r->sched_wake_ms > wf_now_ms() + WF__SCHED_TICK_MS) {
        r->sched_woken = true;
        pthread_cond_signal(&r->done_cond);
    }
}

/* Appends a completion for the scheduler; the caller holds r->lock. */
static void add_completion_locked(wf_run *r, const wf_completion *c)
{
    *done_slot_locked(r) = *c;
    /* Wake the sleeping scheduler (once: sched_woken) unless it will look by itself within
     * WF__SCHED_TICK_MS and nothing is urgent: while units end one after the other, it then
     * takes them a tick's worth at a time instead of waking for each (a wake-up is two
     * context switches, which beside a 0.4 ms process is what the engine costs). Only process
     * units (exit_code >= 0) wait for the tick: in-process actions can end microseconds apart
     * (core.noop), and a dependency graph of them would starve while ready tasks wait to be
     * found. A failure (fail-fast, retries) is urgent, and so is a job queue that holds no
     * more than the completions waiting plus one job per worker. */
    if (r->sched_wake_ms != 0 && !r->sched_woken &&
        (c->status != WF_STATUS_SUCCEEDED || c->exit_code < 0 ||
         r->jobs_len <= r->done_len - r->done_starts + r->n_workers ||
         r->sched_wake_ms > wf_now_ms() + WF__SCHED_TICK_MS)) {
        r->sched_woken = true;
        pthread_cond_signal(&r->done_cond);
    }
}

/* The Slurm poller's callback: one element ended. */
static void slurm_done(wf_slurm_result *res, void *user)
{
    wf_run *r = user;
    wf_completion c;

    memset(&c, 0, sizeof(c));
    wf__unit_finish_slurm(r, res, &c);
    pthread_mutex_lock(&r->lock);
    add_completion_locked(r, &c);
    pthread_mutex_unlock(&r->lock);
}

static void *worker_main(void *arg)
{
    wf_run *r = arg;
    wf_completion c;
    bool have = false;

    for (;;) {
        wf_job job;

        pthread_mutex_lock(&r->lock);
        if (have) {
            /* Hand the completion back and take the next job under one lock. */
            add_completion_locked(r, &c);
            have = false;
        }
        while (r->jobs_len == 0 && !r->shutting_down)
            pthread_cond_wait(&r->jobs_cond, &r->lock);
        if (r->jobs_len == 0) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        job = r->jobs[r->jobs_head];
        r->jobs_head = (r->jobs_head + 1) % r->jobs_cap;
        r->jobs_len--;
        /* A job queued before a stop ends cancelled without starting (wf__unit_execute). No
         * one listens for starts without an event callback: then no notice is sent. */
        if (r->opts.on_event != NULL && !atomic_load(&r->stop_queued) &&
            !atomic_load(&r->tasks[job.task].stop_queued))
            add_start_locked(r, &job);
        pthread_mutex_unlock(&r->lock);

        memset(&c, 0, sizeof(c));
        c.job = job;
        wf__unit_execute(r, &job, &c);
        have = true;
    }
}

static void *scheduler_main(void *arg)
{
    wf_run *r = arg;
    wf_completion *batch = NULL;
    size_t batch_cap = 0;
    wf_event ev = { .kind = WF_EVENT_RUN_START, .index = -1, .message = r->run_id };
    size_t n = 0; /* completions handled in the last round */
    bool tick;

    emit(r, &ev);
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        if (r->tasks[t].pending_deps == 0)
            r->settle[r->n_settle++] = (uint32_t)t;
    }
    /* Tasks become ready in file order. */
    for (size_t i = 0, j = r->n_settle; i < j / 2; i++) {
        uint32_t tmp = r->settle[i];

        r->settle[i] = r->settle[j - 1 - i];
        r->settle[j - 1 - i] = tmp;
    }
    settle(r);
    while (r->tasks_ended < r->wf->n_tasks) {
        dispatch(r);
        if (r->tasks_ended == r->wf->n_tasks)
            break;
        pthread_mutex_lock(&r->lock);
        /* After handling completions, the next wait ends after a tick at the latest (workers
         * then need not wake us: see add_completion_locked); after a tick with nothing to do,
         * it lasts until a worker wakes us or a retry timer is due. */
        tick = n > 0;
        while (r->done_len == 0 && !(atomic_load(&r->cancel_requested) && !r->stopping)) {
            int64_t now = wf_now_ms(), due = INT64_MAX;
            struct timespec ts;

            if (r->n_timers > 0) {
                due = r->timers[0].due_ms;
                if (due <= now)
                    break;
            }
            if (tick && now + WF__SCHED_TICK_MS < due)
                due = now + WF__SCHED_TICK_MS;
            r->sched_wake_ms = due;
            if (due == INT64_MAX) {
                pthread_cond_wait(&r->done_cond, &r->lock);
                continue;
            }
            ts.tv_sec = (time_t)(due / 1000);
            ts.tv_nsec = (long)(due % 1000) * 1000000;
            if (pthread_cond_timedwait(&r->done_cond, &r->lock, &ts) == ETIMEDOUT)
                tick = false;
        }
        r->sched_wake_ms = 0; /* awake: it looks at done before it waits again */
        r->sched_woken = false;
        /* Swap the completion buffer out so workers can keep adding while we handle it. */
        n = r->done_len;
        if (n > 0) {
            wf_completion *tmp = r->done;
            size_t cap = r->done_cap;

            r->done = batch;
            r->done_cap = batch_cap;
            batch = tmp;
            batch_cap = cap;
            r->done_len = 0;
            r->done_starts = 0;
        }
        pthread_mutex_unlock(&r->lock);
        if (atomic_load(&r->cancel_requested))
            begin_stop(r);
        for (size_t i = 0; i < n; i++) {
            if (batch[i].status == WF_STATUS_RUNNING)
                unit_started(r, batch[i].job.task, batch[i].job.unit, batch[i].job.attempt);
            else
                complete(r, &batch[i]);
        }
        if (r->store != NULL && !r->store_failed && wf_store_failed(r->store)) {
            r->store_failed = true;
            emit_simple(r, WF_EVENT_WARNING, NULL,
                        "the store cannot be written: stopping the run (nothing new starts)");
            begin_stop(r);
        }
        fire_timers(r, wf_now_ms());
        if (r->stopping)
            drain_after_stop(r);
        settle(r);
    }
    free(batch);
    wf_slurm_free(r->slurm);
    r->slurm = NULL;
    r->end_ms = wf_now_ms();
    render_outputs(r);
    r->status = final_status(r);
    if (r->store != NULL) {
        wf_strbuf sb = WF_STRBUF_INIT;
        char *masked;
        wf_error err;

        wf_json_write(&sb, r->outputs);
        masked = wf__run_mask(r, wf_strbuf_str(&sb));
        wf_store_record_run_end(r->store, r->run_id, r->status, wf__run_wall_ms(r, r->end_ms),
                                masked ? masked : wf_strbuf_str(&sb));
        free(masked);
        wf_strbuf_release(&sb);
        /* Everything of the run is committed before wf_run_wait returns. */
        wf_error_init(&err);
        if (wf_store_flush(r->store, &err) != WF_OK)
            r->store_failed = true;
        wf_error_release(&err);
    }
    ev.kind = WF_EVENT_RUN_END;
    ev.status = r->status;
    ev.duration_ms = r->end_ms - r->start_ms;
    ev.message = NULL;
    emit(r, &ev);
    pthread_mutex_lock(&r->lock);
    r->shutting_down = true;
    pthread_cond_broadcast(&r->jobs_cond);
    pthread_mutex_unlock(&r->lock);
    for (size_t i = 0; i < r->n_workers; i++)
        pthread_join(r->workers[i], NULL);
    return NULL;
}

/* ---- start ---------------------------------------------------------------------------- */

static void make_run_id(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    unsigned char rnd[3] = { 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            rnd[0] = (unsigned char)getpid();
        close(fd);
    }
    gmtime_r(&now, &tm);
    snprintf(out, n, "%04d%02d%02d-%02d%02d%02d-%02x%02x%02x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2]);
}

static void errlist_add_at(wf_errlist *errs, const wf_workflow *wf, wf_mark m, int code,
                           const char *msg)
{
    wf_error *e = wf_errlist_add(errs);

    wf_error_set(e, code, wf->path, m.line, m.column, "%s", msg);
    wf_error_set_source_line(e, wf->source, wf->source_len);
}

/* The process environment plus the workflow's env, as a JSON object (for env.NAME) and as
 * an envp array (for processes). */
static int build_env(wf_run *r, json_object *inputs, wf_errlist *errs)
{
    const wf_workflow *wf = r->wf;
    json_object *env = json_object_new_object();
    wf_ctx_init init = { 0 };
    wf_ctx *ctx;
    size_t n = 0;
    int rc = WF_OK;

    for (char **e = environ; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        char *name;

        if (eq == NULL)
            continue;
        name = wf_xstrndup(*e, (size_t)(eq - *e));
        json_object_object_add(env, name, json_object_new_string(eq + 1));
        free(name);
    }
    init.inputs = wf_json_copy(inputs);
    init.env = wf_json_copy(env);
    init.workflow_name = wf->name;
    init.run_id = r->run_id;
    ctx = wf_ctx_new(&init);
    for (size_t i = 0; i < wf->n_env; i++) {
        wf_strbuf sb = WF_STRBUF_INIT;
        wf_error err;

        wf_error_init(&err);
        if (wf_tpl_render(wf->env[i].tpl, ctx, &sb, &err) != WF_OK) {
            char *msg = wf_xasprintf("env %s: %s", wf->env[i].name, err.message);

            errlist_add_at(errs, wf, wf->env[i].mark, err.code, msg);
            free(msg);
            rc = WF_EINVAL;
        } else {
            json_object_object_add(env, wf->env[i].name,
                                   json_object_new_string(sb.buf ? sb.buf : ""));
        }
        wf_strbuf_release(&sb);
        wf_error_release(&err);
    }
    wf_ctx_unref(ctx);
    n = (size_t)json_object_object_length(env);
    r->envp = wf_xcalloc(n + 1, sizeof(char *));
    r->n_envp = 0;
    json_object_object_foreach(env, k, v)
    {
        r->envp[r->n_envp++] = wf_xasprintf("%s=%s", k, json_object_get_string(v));
    }
    r->env_json = env;
    return rc;
}

/* Evaluates vars in file order; each sees inputs, env and the vars before it. */
static int build_root(wf_run *r, json_object *inputs, wf_errlist *errs)
{
    const wf_workflow *wf = r->wf;
    json_object *vars = json_object_new_object();
    wf_ctx_init init = { 0 };
    int rc = WF_OK;

    init.inputs = inputs;
    init.env = wf_json_copy(r->env_json);
    init.vars = wf_json_copy(vars);
    init.workflow_name = wf->name;
    init.run_id = r->run_id;
    r->root = wf_ctx_new(&init);
    for (size_t i = 0; i < wf->n_vars; i++) {
        json_object *v = NULL;
        wf_error err;
        wf_ctx *next;

        wf_error_init(&err);
        if (wf_vnode_eval(wf->vars[i].value, r->root, &v, &err) != WF_OK) {
            char *msg = wf_xasprintf("vars.%s: %s", wf->vars[i].name,
                                     err.message ? err.message : wf_strerror(err.code));
            wf_mark m = wf->vars[i].value->mark;

            errlist_add_at(errs, wf, m.line ? m : wf->vars[i].mark, err.code, msg);
            free(msg);
            wf_error_release(&err);
            rc = WF_EINVAL;
            continue;
        }
        json_object_object_add(vars, wf->vars[i].name, v);
        next = wf_ctx_with_vars(r->root, wf_json_copy(vars));
        wf_ctx_unref(r->root);
        r->root = next;
    }
    json_object_put(vars);
    return rc;
}

static int check_actions(const wf_engine *e, const wf_workflow *wf, wf_errlist *errs)
{
    int rc = WF_OK;

    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        if (task->action != NULL && wf__engine_find_action(e, task->action) == NULL) {
            char *msg = wf_xasprintf("task '%s': unknown action '%s'%s", task->name, task->action,
                                     strncmp(task->action, "core.", 5) == 0
                                         ? " (the built-in actions are core.noop, core.echo, "
                                           "core.fail, core.sleep and core.value)"
                                         : " (an embedding program must register it)");

            errlist_add_at(errs, wf, task->run_mark.line ? task->run_mark : task->mark, WF_EUNKNOWN,
                           msg);
            free(msg);
            rc = WF_EINVAL;
        }
    }
    return rc;
}

/* --resume: what the resumed run has, per task. */
static int load_reuse(wf_run *r, wf_errlist *errs)
{
    json_object *units = NULL, *holder;
    wf_error err;

    if (r->opts.resume_run == NULL)
        return WF_OK;
    wf_error_init(&err);
    if (wf_store_succeeded_units(r->store, r->opts.resume_run, &units, &err) != WF_OK) {
        wf_error_move(wf_errlist_add(errs), &err);
        return WF_ESTORE;
    }
    /* Keep the units and the per-task arrays alive together for the whole run. */
    r->reuse_doc = json_object_new_object();
    holder = json_object_new_array();
    json_object_object_add(r->reuse_doc, "units", units);
    json_object_object_add(r->reuse_doc, "by_task", holder);
    for (size_t i = 0; i < json_object_array_length(units); i++) {
        json_object *u = json_object_array_get_idx(units, i), *v = NULL;
        const wf_task *task;
        long t;
        int64_t index;

        if (!json_object_object_get_ex(u, "task", &v))
            continue;
        t = wf_workflow_task_index(r->wf, json_object_get_string(v));
        if (t < 0)
            continue; /* the task is gone from the workflow */
        task = &r->wf->tasks[t];
        index = json_object_object_get_ex(u, "index", &v) ? json_object_get_int64(v) : -1;
        if (task->items_kind == WF_ITEMS_NONE && index < 0) {
            r->tasks[t].reuse = u;
        } else if (task->items_kind != WF_ITEMS_NONE && index >= 0 && index < INT32_MAX) {
            if (r->tasks[t].reuse == NULL) {
                r->tasks[t].reuse = json_object_new_array();
                json_object_array_add(holder, r->tasks[t].reuse);
            }
            json_object_array_put_idx(r->tasks[t].reuse, (size_t)index, json_object_get(u));
        }
    }
    wf_error_release(&err);
    return WF_OK;
}

/* Marks the tasks that run on Slurm and, if there are any, checks that Slurm answers and
 * starts its executor: a missing sbatch or a silent cluster is an error before anything
 * runs. */
static int start_slurm(wf_run *r, wf_errlist *errs)
{
    bool any = false;
    wf_error err;
    char *dir, cwd[4096];

    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task *task = &r->wf->tasks[t];

        r->tasks[t].slurm =
            task->action == NULL && (task->executor == WF_EXECUTOR_SLURM || r->opts.slurm_all);
        any |= r->tasks[t].slurm;
    }
    if (!any)
        return WF_OK;
    wf_error_init(&err);
    if (wf_slurm_check(&err) != WF_OK) {
        wf_error_move(wf_errlist_add(errs), &err);
        return WF_EEXEC;
    }
    /* Job files must be reachable from the nodes: an absolute path. */
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(cwd, sizeof(cwd), ".");
    if (r->opts.slurm_dir != NULL)
        dir = r->opts.slurm_dir[0] == '/' ? wf_xstrdup(r->opts.slurm_dir)
                                          : wf_xasprintf("%s/%s", cwd, r->opts.slurm_dir);
    else if (r->store != NULL && wf_store_dir(r->store)[0] == '/')
        dir = wf_xasprintf("%s/slurm/%s", wf_store_dir(r->store), r->run_id);
    else if (r->store != NULL)
        dir = wf_xasprintf("%s/%s/slurm/%s", cwd, wf_store_dir(r->store), r->run_id);
    else
        dir = wf_xasprintf("%s/.wfengine-slurm/%s", cwd, r->run_id);
    r->slurm = wf_slurm_new(dir, 0, r->opts.slurm_keep_files, slurm_done, r, &err);
    free(dir);
    if (r->slurm == NULL) {
        wf_error_move(wf_errlist_add(errs), &err);
        return WF_EEXEC;
    }
    return WF_OK;
}

static void record_run_start(wf_run *r)
{
    const wf_workflow *wf = r->wf;
    json_object *inputs = wf_json_copy(wf_ctx_inputs(r->root));
    wf_store_run_rec rec = { 0 };
    wf_strbuf sb = WF_STRBUF_INIT;

    /* Secret inputs are stored as *** (their values never reach the disk). */
    for (size_t i = 0; i < wf->n_inputs; i++) {
        if (wf->inputs[i].secret && json_object_object_get_ex(inputs, wf->inputs[i].name, NULL))
            json_object_object_add(inputs, wf->inputs[i].name, json_object_new_string("***"));
    }
    wf_json_write(&sb, inputs);
    rec.run_id = r->run_id;
    rec.workflow = wf->name;
    rec.file_path = wf->path;
    rec.file_sha256 = wf->sha256;
    rec.inputs_json = wf_strbuf_str(&sb);
    rec.resumed_from = r->opts.resume_run;
    rec.started_ms = r->start_wall_ms;
    wf_store_record_run_start(r->store, &rec);
    wf_strbuf_release(&sb);
    json_object_put(inputs);
}

static long cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? n : 1;
}

void wf_run_free(wf_run *r)
{
    if (r == NULL)
        return;
    wf__unit_env_release(r);
    for (size_t t = 0; r->tasks != NULL && t < r->wf->n_tasks; t++) {
        wf_task_state *ts = &r->tasks[t];

        for (size_t i = 0; ts->values != NULL && i < ts->n_units; i++)
            json_object_put(ts->values[i]);
        for (size_t i = 0; ts->item_errors != NULL && i < ts->n_units; i++)
            free(ts->item_errors[i]);
        free(ts->item_errors);
        free(ts->values);
        free(ts->units);
        free(ts->retries.v);
        free(ts->error);
        free(ts->plain_out);
        free(ts->plain_err);
        json_object_put(ts->items_own);
        wf_ctx_unref(ts->ctx);
        wf_result_unref(ts->result);
    }
    free(r->tasks);
    for (size_t i = 0; r->envp != NULL && i < r->n_envp; i++)
        free(r->envp[i]);
    free(r->envp);
    json_object_put(r->env_json);
    json_object_put(r->outputs);
    json_object_put(r->reuse_doc);
    wf_slurm_free(r->slurm);
    wf_ctx_unref(r->root);
    free(r->workers);
    free(r->jobs);
    free(r->done);
    free(r->ready.v);
    free(r->timers);
    free(r->settle);
    for (size_t i = 0; i < r->n_secrets; i++)
        free(r->secrets[i]);
    free(r->secrets);
    if (r->cancel_pipe[0] >= 0) {
        close(r->cancel_pipe[0]);
        close(r->cancel_pipe[1]);
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->jobs_cond);
    pthread_cond_destroy(&r->done_cond);
    free(r);
}

int wf_run_start(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, wf_run **out,
                 wf_errlist *errs)
{
    wf_run *r = wf_xcalloc(1, sizeof(*r));
    json_object *inputs = NULL;
    pthread_condattr_t cattr;
    size_t n_workers;
    bool bad_inputs, bad_actions;

    *out = NULL;
    r->engine = e;
    r->wf = wf;
    if (opts != NULL)
        r->opts = *opts;
    r->cancel_pipe[0] = r->cancel_pipe[1] = -1;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->done_cond, &cattr);
    pthread_condattr_destroy(&cattr);
    pthread_cond_init(&r->jobs_cond, NULL);
    if (r->opts.run_id != NULL)
        snprintf(r->run_id, sizeof(r->run_id), "%s", r->opts.run_id);
    else
        make_run_id(r->run_id, sizeof(r->run_id));
    r->opts.run_id = NULL;

    /* Both checks run so that every problem is reported at once. */
    bad_inputs = wf_workflow_bind_inputs(wf, r->opts.inputs, r->opts.inputs_from_strings, &inputs,
                                         errs) != WF_OK;
    bad_actions = check_actions(e, wf, errs) != WF_OK;
    if (bad_inputs || bad_actions) {
        json_object_put(inputs);
        wf_run_free(r);
        return WF_EINVAL;
    }
    r->opts.inputs = NULL;
    collect_secrets(r, inputs);
    if (build_env(r, inputs, errs) != WF_OK || build_root(r, inputs, errs) != WF_OK) {
        if (r->root == NULL)
            json_object_put(inputs);
        wf_run_free(r);
        return WF_EINVAL;
    }
    if (pipe(r->cancel_pipe) != 0) {
        wf_error_set(wf_errlist_add(errs), WF_EIO, NULL, 0, 0, "cannot create a pipe: %s",
                     strerror(errno));
        wf_run_free(r);
        return WF_EIO;
    }
    fcntl(r->cancel_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(r->cancel_pipe[1], F_SETFD, FD_CLOEXEC);

    r->concurrency = r->opts.concurrency > 0 ? r->opts.concurrency
                     : wf->concurrency > 0   ? wf->concurrency
                                             : (int)cpu_count();
    r->fail_fast = wf->fail_fast || r->opts.fail_fast;
    r->tasks = wf_xcalloc(wf->n_tasks ? wf->n_tasks : 1, sizeof(*r->tasks));
    r->settle = wf_xmalloc((wf->n_tasks ? wf->n_tasks : 1) * sizeof(*r->settle));
    for (size_t t = 0; t < wf->n_tasks; t++)
        r->tasks[t].pending_deps = (uint32_t)wf->tasks[t].n_deps;
    wf__unit_env_prepare(r);
    r->store = r->opts.store;
    if (r->opts.resume_run != NULL) {
        snprintf(r->resume_id, sizeof(r->resume_id), "%s", r->opts.resume_run);
        r->opts.resume_run = r->resume_id;
    }
    if (r->store != NULL && load_reuse(r, errs) != WF_OK) {
        wf_run_free(r);
        return WF_ESTORE;
    }
    if (start_slurm(r, errs) != WF_OK) {
        wf_run_free(r);
        return WF_EEXEC;
    }
    r->start_ms = wf_now_ms();
    r->start_wall_ms = wf_wall_ms();
    if (r->store != NULL)
        record_run_start(r);

    /* Workers: as many as units may run at once (capped: beyond that, a unit waits for a
     * free worker, which only matters for runs of thousands of sleeping processes). */
    n_workers = (size_t)r->concurrency > 1024 ? 1024 : (size_t)r->concurrency;
    r->workers = wf_xcalloc(n_workers, sizeof(*r->workers));
    for (size_t i = 0; i < n_workers; i++) {
        if (pthread_create(&r->workers[i], NULL, worker_main, r) != 0)
            break;
        r->n_workers++;
    }
    if ((size_t)r->concurrency > r->n_workers)
        r->concurrency = (int)r->n_workers;
    /* At most `concurrency` units run at once because there are that many workers. The
     * scheduler keeps a few more jobs queued ahead of them, so that a worker that finishes
     * takes its next job at once instead of waiting for the scheduler to wake up: without it
     * every in-process unit costs two thread wake-ups. Per-task limits count queued jobs. */
    r->dispatch_limit = r->n_workers + (r->n_workers * 4 > 256 ? r->n_workers * 4 : 256);
    if (r->n_workers == 0 || pthread_create(&r->scheduler, NULL, scheduler_main, r) != 0) {
        pthread_mutex_lock(&r->lock);
        r->shutting_down = true;
        pthread_cond_broadcast(&r->jobs_cond);
        pthread_mutex_unlock(&r->lock);
        for (size_t i = 0; i < r->n_workers; i++)
            pthread_join(r->workers[i], NULL);
        wf_error_set(wf_errlist_add(errs), WF_EIO, NULL, 0, 0, "cannot start threads");
        wf_run_free(r);
        return WF_EIO;
    }
    *out = r;
    return WF_OK;
}

wf_status wf_run_wait(wf_run *r)
{
    pthread_join(r->scheduler, NULL);
    return r->status;
}

bool wf_run_store_failed(const wf_run *r, wf_error *err)
{
    if (!r->store_failed)
        return false;
    if (err != NULL)
        wf_store_flush(r->store, err);
    return true;
}

void wf_run_cancel(wf_run *r)
{
    atomic_store(&r->cancel_requested, true);
    pthread_mutex_lock(&r->lock);
    pthread_cond_signal(&r->done_cond);
    pthread_mutex_unlock(&r->lock);
}

const char *wf_run_id(const wf_run *r)
{
    return r->run_id;
}

const json_object *wf_run_outputs(const wf_run *r)
{
    return r->outputs;
}

static json_object *unit_json(const wf_unit *u, int64_t index, const char *error)
{
    json_object *o = json_object_new_object();

    if (index >= 0)
        json_object_object_add(o, "index", json_object_new_int64(index));
    json_object_object_add(o, "status", json_object_new_string(wf_status_name(u->status)));
    json_object_object_add(o, "attempts", json_object_new_int((int)u->attempt));
    json_object_object_add(o, "exit_code",
                           u->exit_code >= 0 ? json_object_new_int(u->exit_code) : NULL);
    json_object_object_add(o, "duration_ms",
                           u->end_ms >= u->start_ms && u->start_ms > 0
                               ? json_object_new_int64(u->end_ms - u->start_ms)
                               : NULL);
    if (error != NULL)
        json_object_object_add(o, "error", json_object_new_string(error));
    if (u->cached)
        json_object_object_add(o, "cached", json_object_new_boolean(1));
    if (u->reused)
        json_object_object_add(o, "reused", json_object_new_boolean(1));
    return o;
}

json_object *wf_run_result_json(const wf_run *r)
{
    json_object *doc = json_object_new_object(), *tasks = json_object_new_object();

    json_object_object_add(doc, "run_id", json_object_new_string(r->run_id));
    json_object_object_add(doc, "workflow", json_object_new_string(r->wf->name));
    json_object_object_add(doc, "status", json_object_new_string(wf_status_name(r->status)));
    json_object_object_add(doc, "duration_ms", json_object_new_int64(r->end_ms - r->start_ms));
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task *task = &r->wf->tasks[t];
        const wf_task_state *ts = &r->tasks[t];
        json_object *o = json_object_new_object();

        json_object_object_add(o, "status", json_object_new_string(wf_status_name(ts->status)));
        if (task->continue_on_error && ts->status == WF_STATUS_FAILED)
            json_object_object_add(o, "continue_on_error", json_object_new_boolean(1));
        json_object_object_add(o, "duration_ms", json_object_new_int64(ts->end_ms - ts->start_ms));
        if (task->items_kind == WF_ITEMS_NONE && ts->n_units == 1) {
            json_object_object_add(o, "attempts", json_object_new_int((int)ts->units[0].attempt));
            if (ts->units[0].cached)
                json_object_object_add(o, "cached", json_object_new_boolean(1));
            if (ts->units[0].reused)
                json_object_object_add(o, "reused", json_object_new_boolean(1));
            json_object_object_add(
                o, "exit_code",
                ts->units[0].exit_code >= 0 ? json_object_new_int(ts->units[0].exit_code) : NULL);
        }
        if (ts->error != NULL)
            json_object_object_add(o, "error", json_object_new_string(ts->error));
        json_object_object_add(o, "result", ts->result ? wf_json_copy(ts->result->value) : NULL);
        if (task->items_kind != WF_ITEMS_NONE) {
            json_object *items = json_object_new_array_ext((int)ts->n_units);

            for (size_t i = 0; i < ts->n_units; i++)
                json_object_array_add(items,
                                      unit_json(&ts->units[i], (int64_t)i,
                                                ts->item_errors ? ts->item_errors[i] : NULL));
            json_object_object_add(o, "items", items);
        }
        json_object_object_add(tasks, task->name, o);
    }
    json_object_object_add(doc, "tasks", tasks);
    json_object_object_add(doc, "outputs", r->outputs ? wf_json_copy(r->outputs) : NULL);
    mask_json(r, doc);
    return doc;
}
