/*
 * pipeline.c: pipelined tasks (`pipeline: true`, scheduler thread). A pipelined task T takes
 * the results of its source task S (`with-items: << task.S >>`) item by item: T expands as
 * soon as S has expanded (and T's other dependencies have ended), to as many units as S has,
 * and unit i of T waits until unit i of S ends. Then it is fed: S's result becomes T's item i
 * and the unit joins T's `fed` FIFO (startable), or, when S's unit did not succeed, T's unit
 * is skipped ("source item 3 of 'a' failed") and that skip feeds T's own pipelined
 * dependents in turn, unless T's `when` calls a status function (it then runs with a null
 * item and its `when` decides). The chain's depth orders the ready list (ready.c).
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

static bool piped_from(const wf_run *r, uint32_t t, uint32_t s)
{
    const wf_task *task = &r->wf->tasks[t];

    return task->pipeline && task->pipe_source == s;
}

bool wf__pipe_waits_on(const wf_run *r, uint32_t t, uint32_t dep)
{
    return piped_from(r, t, dep) && r->tasks[dep].pipe_opened;
}

void wf__pipe_open(wf_run *r, uint32_t s)
{
    const wf_task *task = &r->wf->tasks[s];

    r->tasks[s].pipe_opened = true;
    for (size_t i = 0; i < task->n_dependents; i++) {
        uint32_t d = (uint32_t)task->dependents[i];

        if (piped_from(r, d, s) && --r->tasks[d].pending_deps == 0)
            r->settle[r->n_settle++] = d;
    }
}

/* Source unit i's result (owned; references shared): from the source's values while it runs,
 * from its published result once it ended. */
static json_object *source_value(const wf_run *r, uint32_t s, size_t i)
{
    const wf_task_state *ss = &r->tasks[s];
    json_object *v = wf__unit_value_copy(ss, (uint32_t)i);
    char *error = NULL;
    uint64_t len;

    if (v != NULL || ss->result == NULL)
        return v;
    if (wf_ref_list_len(ss->result->value, &len)) {
        wf_ref_list_get(ss->result->value, i, &v, &error);
        free(error);
        return v;
    }
    if (json_object_is_type(ss->result->value, json_type_array))
        return wf_json_copy_refs(json_object_array_get_idx(ss->result->value, i));
    return NULL;
}

/* Unit idx of T ends skipped without running: its source item did not succeed. */
static void skip_unit(wf_run *r, uint32_t t, uint32_t idx, wf_status source_status)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_completion c;
    wf_event ev = { .kind = WF_EVENT_UNIT_END, .task = task->name, .index = idx };
    char label_buf[WF__LABEL_MAX + 1];

    memset(&c, 0, sizeof(c));
    c.status = WF_STATUS_SKIPPED;
    c.exit_code = -1;
    c.start_ms = c.end_ms = wf_now_ms();
    c.error = wf_xasprintf("source item %u of '%s' %s", idx, r->wf->tasks[task->pipe_source].name,
                           wf_status_name(source_status));
    wf__record_unit(r, t, idx, &c, 0, false);
    ts->units[idx].status = WF_STATUS_SKIPPED;
    if (wf__detail_all(ts)) {
        wf_unit_detail *d = wf__detail_put(ts, idx);

        d->end_ms = c.end_ms;
        free(d->error);
        d->error = c.error;
    }
    ts->ended++;
    r->units_done++;
    ev.label = wf__unit_label(r, t, idx, label_buf);
    ev.status = WF_STATUS_SKIPPED;
    ev.exit_code = -1;
    ev.message = c.error;
    wf__emit(r, &ev);
    if (!wf__detail_all(ts))
        free(c.error);
}

/* Source unit idx of T's source ended: T's unit idx gets its item, or is skipped. */
static void feed_one(wf_run *r, uint32_t t, uint32_t idx)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    wf_status src = (wf_status)r->tasks[task->pipe_source].units[idx].status;

    if (ts->status != WF_STATUS_RUNNING || ts->units == NULL || idx >= ts->n_units ||
        ts->units[idx].status != WF_STATUS_PENDING || r->stopping)
        return;
    ts->unfed--;
    if (src == WF_STATUS_SUCCEEDED) {
        if (ts->items->kind == WF_ITEMS_SRC_PIPE)
            wf__items_pipe_fed(ts->items, idx);
        else
            json_object_array_put_idx(ts->items->own, idx, source_value(r, task->pipe_source, idx));
        wf__label_render_one(r, t, idx);
        if (wf__reuse_take(r, t, idx)) {
            wf__pipe_feed(r, t, idx);
            wf__task_maybe_finish(r, t);
            return;
        }
    } else if (!task->when_uses_status) {
        skip_unit(r, t, idx, src);
        wf__pipe_feed(r, t, idx);
        wf__task_maybe_finish(r, t);
        return;
    }
    wf__fifo_push(&ts->fed, idx);
    if (!wf__task_at_limit(r, t) && wf__has_startable(r, ts))
        wf__ready_push(r, t);
}

void wf__pipe_feed(wf_run *r, uint32_t s, uint32_t idx)
{
    const wf_task *task = &r->wf->tasks[s];

    for (size_t i = 0; i < task->n_dependents; i++) {
        uint32_t d = (uint32_t)task->dependents[i];

        if (piped_from(r, d, s))
            feed_one(r, d, idx);
    }
}

size_t wf__pipe_expand(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    const wf_task_state *ss = &r->tasks[task->pipe_source];
    size_t n = ss->n_units;
    json_object *list;

    if (task->label != NULL && n > 0)
        ts->labels = wf_xcalloc(n, sizeof(char *));
    /* A large source keeps its item results in a file (unit_values.c): the items are read
     * from it, a byte an item saying which arrived. */
    if (ss->values_log != NULL) {
        ts->items = wf__items_pipe(ss->values_log, n);
        return n;
    }
    /* A small one: the items arrive one by one (feed_one), nulls until then. */
    list = wf_json_check(json_object_new_array_ext((int)(n ? n : 1)));
    if (n > 0 && json_object_array_put_idx(list, n - 1, NULL) != 0)
        wf_oom(n * sizeof(void *));
    ts->items = wf__items_json(list, list);
    return n;
}

void wf__pipe_start(wf_run *r, uint32_t t)
{
    wf_task_state *ts = &r->tasks[t];
    const wf_task_state *ss = &r->tasks[r->wf->tasks[t].pipe_source];

    ts->next_unit = ts->n_units; /* units start from `fed`, in the order items arrive */
    ts->unfed = ts->n_units;
    wf__pipe_open(r, t);
    for (uint32_t i = 0; i < ts->n_units && ts->status == WF_STATUS_RUNNING; i++) {
        wf_status st = (wf_status)ss->units[i].status;

        if (st != WF_STATUS_PENDING && st != WF_STATUS_RUNNING)
            feed_one(r, t, i);
    }
}
