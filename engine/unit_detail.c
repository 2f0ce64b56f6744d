/*
 * unit_detail.c: what a unit has beyond its 4 bytes of wf_unit (run_internal.h): its exit
 * code, times and error in a task's sparse map of details, its value in the task's values
 * array, its item through the task's item source. Scheduler thread, except wf__unit_ctx.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

static size_t slot_of(uint32_t idx, size_t cap)
{
    /* Fibonacci hashing: consecutive indices spread over the table. */
    return (size_t)(((uint64_t)idx * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

wf_unit_detail *wf__detail_get(const wf_task_state *ts, uint32_t idx)
{
    const wf_detail_map *m = &ts->details;

    if (m->len == 0)
        return NULL;
    for (size_t i = slot_of(idx, m->cap);; i = (i + 1) & (m->cap - 1)) {
        if (m->v[i].idx == idx)
            return &m->v[i];
        if (m->v[i].idx == UINT32_MAX)
            return NULL;
    }
}

static void map_grow(wf_detail_map *m)
{
    wf_detail_map bigger = { .cap = m->cap ? m->cap * 2 : 64 };

    bigger.v = wf_xmalloc(bigger.cap * sizeof(*bigger.v));
    for (size_t i = 0; i < bigger.cap; i++)
        bigger.v[i].idx = UINT32_MAX;
    for (size_t i = 0; i < m->cap; i++) {
        size_t j;

        if (m->v[i].idx == UINT32_MAX)
            continue;
        for (j = slot_of(m->v[i].idx, bigger.cap); bigger.v[j].idx != UINT32_MAX;
             j = (j + 1) & (bigger.cap - 1))
            ;
        bigger.v[j] = m->v[i];
    }
    bigger.len = m->len;
    free(m->v);
    *m = bigger;
}

wf_unit_detail *wf__detail_put(wf_task_state *ts, uint32_t idx)
{
    wf_detail_map *m = &ts->details;
    wf_unit_detail *d = wf__detail_get(ts, idx);
    size_t i;

    if (d != NULL)
        return d;
    if ((m->len + 1) * 4 > m->cap * 3) /* at most 3/4 full */
        map_grow(m);
    for (i = slot_of(idx, m->cap); m->v[i].idx != UINT32_MAX; i = (i + 1) & (m->cap - 1))
        ;
    m->len++;
    d = &m->v[i];
    memset(d, 0, sizeof(*d));
    d->idx = idx;
    d->exit_code = -1;
    return d;
}

bool wf__detail_all(const wf_task_state *ts)
{
    return ts->n_units <= WF__DETAIL_ALL;
}

void wf__detail_free(wf_task_state *ts)
{
    for (size_t i = 0; i < ts->details.cap; i++)
        if (ts->details.v[i].idx != UINT32_MAX)
            free(ts->details.v[i].error);
    free(ts->details.v);
    memset(&ts->details, 0, sizeof(ts->details));
}

uint32_t wf__unit_attempts(const wf_task_state *ts, uint32_t idx)
{
    const wf_unit_detail *d;

    if (ts->units[idx].attempt < WF__U_ATTEMPT_MAX)
        return ts->units[idx].attempt;
    d = wf__detail_get(ts, idx);
    return d != NULL ? d->attempt : WF__U_ATTEMPT_MAX;
}

uint32_t wf__unit_attempt_add(wf_task_state *ts, uint32_t idx)
{
    wf_unit *u = &ts->units[idx];
    wf_unit_detail *d;

    if (u->attempt + 1 < WF__U_ATTEMPT_MAX)
        return ++u->attempt;
    d = wf__detail_put(ts, idx);
    if (u->attempt < WF__U_ATTEMPT_MAX) {
        d->attempt = u->attempt;
        u->attempt = WF__U_ATTEMPT_MAX;
    }
    return ++d->attempt;
}

int wf__unit_exit_code(const wf_task_state *ts, uint32_t idx)
{
    const wf_unit_detail *d = wf__detail_get(ts, idx);

    if (d != NULL)
        return d->exit_code;
    return (ts->units[idx].flags & WF__U_EXIT0) ? 0 : -1;
}

const char *wf__unit_error(const wf_task_state *ts, uint32_t idx)
{
    const wf_unit_detail *d = wf__detail_get(ts, idx);

    return d != NULL ? d->error : NULL;
}

const json_object *wf__unit_value(const wf_task_state *ts, uint32_t idx)
{
    return ts->values != NULL ? json_object_array_get_idx(ts->values, idx) : NULL;
}

void wf__unit_value_set(wf_run *r, wf_task_state *ts, uint32_t idx, json_object *v_take)
{
    if (ts->values_log != NULL) {
        wf__run_disk_failed(r, wf__values_log_put(ts->values_log, idx, v_take));
        return;
    }
    if (v_take == NULL && ts->values == NULL)
        return;
    if (ts->values == NULL)
        ts->values = wf_json_check(json_object_new_array_ext((int)ts->n_units));
    /* put_idx fills the gap before idx with nulls; it frees what idx held. */
    if (json_object_array_put_idx(ts->values, idx, v_take) != 0)
        wf_oom(sizeof(void *) * (idx + 1));
}

json_object *wf__unit_value_copy(const wf_task_state *ts, uint32_t idx)
{
    json_object *v;
    char *error = NULL;

    if (ts->values_log == NULL)
        return wf_json_copy_refs(wf__unit_value(ts, idx));
    v = wf__values_log_get(ts->values_log, idx, &error);
    free(error);
    return v;
}

wf_ctx *wf__unit_ctx(const wf_run *r, uint32_t t, uint32_t idx, json_object **own, char **error)
{
    const wf_task_state *ts = &r->tasks[t];
    const json_object *item = NULL;

    *own = NULL;
    if (ts->items == NULL)
        return wf_ctx_ref(ts->ctx);
    if (!wf__items_get(ts->items, idx, &item, own, error))
        return NULL;
    return wf_ctx_with_item(ts->ctx, item, (int64_t)idx);
}
