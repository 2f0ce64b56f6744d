/*
 * record.c: what a run tells the world, on the scheduler thread: events to the embedding
 * program (wf_event, with every secret masked as ***) and records to the store (units,
 * tasks, the run), queued for the store's writer thread.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

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
void wf__mask_json(const wf_run *r, json_object *v)
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
            wf__mask_json(r, json_object_array_get_idx(v, i));
    } else if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, key, child)
        {
            (void)key;
            wf__mask_json(r, child);
        }
    }
}

const char *wf__task_display_name(const wf_run *r, const wf_task *task, wf_strbuf *buf)
{
    if (r->prefix == NULL)
        return task->name;
    wf_strbuf_adds(buf, r->prefix);
    wf_strbuf_adds(buf, task->name);
    return wf_strbuf_str(buf);
}

void wf__emit(wf_run *r, wf_event *ev)
{
    char *task = NULL;
    const char *name = ev->task;

    if (r->opts.on_event == NULL)
        return;
    if (r->prefix != NULL && ev->task != NULL) {
        task = wf_xasprintf("%s%s", r->prefix, ev->task);
        ev->task = task;
    } else if (r->prefix != NULL && ev->kind == WF_EVENT_WARNING) {
        /* A called workflow's own warning (an output that is null) is its caller's. */
        task = wf_xstrndup(r->prefix, strlen(r->prefix) - 1);
        ev->task = task;
    }
    wf__emit_named(r, ev);
    ev->task = name; /* the caller may emit ev again */
    free(task);
}

void wf__emit_named(wf_run *r, wf_event *ev)
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

void wf__emit_simple(wf_run *r, wf_event_kind kind, const char *task, const char *message)
{
    wf_event ev = { .kind = kind, .task = task, .index = -1, .exit_code = -1, .message = message };

    wf__emit(r, &ev);
}

int64_t wf__run_wall_ms(const wf_run *r, int64_t mono_ms)
{
    return r->start_wall_ms + (mono_ms - r->start_ms);
}

void wf__record_unit(wf_run *r, uint32_t t, uint32_t idx, const wf_completion *c, int attempt,
                     bool reused)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_store_unit_rec rec = { 0 };
    wf_strbuf name = WF_STRBUF_INIT;
    char *error = NULL;
    char label_buf[WF__LABEL_MAX + 1];

    if (r->store == NULL)
        return;
    error = wf__run_mask(r, c->error);
    rec.run_id = r->run_id;
    rec.task = wf__task_display_name(r, task, &name);
    rec.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)idx : -1;
    rec.attempt = attempt;
    rec.status = c->status;
    rec.started_ms = wf__run_wall_ms(r, c->start_ms);
    rec.ended_ms = wf__run_wall_ms(r, c->end_ms);
    rec.exit_code = c->exit_code;
    rec.error = error ? error : c->error;
    rec.result_json = c->result_json;
    rec.result_hash = c->result_hash;
    rec.result_from = c->result_from;
    rec.stdout_hash = c->stdout_hash;
    rec.stderr_hash = c->stderr_hash;
    rec.item_hash = c->item_hash[0] ? c->item_hash : NULL;
    rec.cached = c->cached;
    rec.reused = reused;
    rec.ignored = c->ignored;
    rec.label = wf__unit_label(r, t, idx, label_buf);
    if (wf__result_counted(c))
        rec.has_lines = wf__result_lines(c->value, &rec.result_lines);
    wf_store_record_unit(r->store, &rec);
    wf_strbuf_release(&name);
    free(error);
}

json_object *wf__stored_ref(wf_run *r, const char *hash, wf_output_mode mode, uint64_t size,
                            uint64_t lines, const char *label)
{
    char *path = wf_store_blob_path(r->store, hash);
    json_object *marker = wf_ref_new(
        r->refs, path, hash, mode, size,
        wf_ref_mem_estimate(mode, size, mode == WF_OUTPUT_LINES ? lines : size / 8), label, NULL);

    if (mode == WF_OUTPUT_LINES)
        wf_ref_set_lines(marker, lines);
    else if (mode == WF_OUTPUT_JSON && lines != WF_STORE_NOT_A_LIST)
        wf_ref_set_json_array_len(marker, lines);
    free(path);
    return marker;
}

bool wf__result_counted(const wf_completion *c)
{
    return c->result_from != NULL &&
           (strcmp(c->result_from, "lines") == 0 || strcmp(c->result_from, "json") == 0);
}

bool wf__result_lines(const json_object *value, uint64_t *lines)
{
    if (wf_ref_list_len(value, lines))
        return true;
    if (!json_object_is_type(value, json_type_array) || wf_ref_is(value))
        return false;
    *lines = json_object_array_length(value);
    return true;
}

void wf__record_task(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    const wf_task_state *ts = &r->tasks[t];
    wf_store_task_rec rec = { 0 };
    wf_strbuf name = WF_STRBUF_INIT, source = WF_STRBUF_INIT;
    char *error, key[40];

    if (r->store == NULL)
        return;
    error = wf__run_mask(r, ts->error);
    rec.items_key = wf__items_key(ts->items, key, sizeof(key));
    rec.run_id = r->run_id;
    rec.task = wf__task_display_name(r, task, &name);
    if (task->pipeline)
        rec.source = wf__task_display_name(r, &r->wf->tasks[task->pipe_source], &source);
    rec.status = ts->status;
    rec.started_ms = wf__run_wall_ms(r, ts->start_ms);
    rec.ended_ms = ts->end_ms > 0 ? wf__run_wall_ms(r, ts->end_ms) : 0;
    rec.error = error ? error : ts->error;
    rec.with_items = task->items_kind != WF_ITEMS_NONE;
    /* A called workflow's tasks are shown after the task that called them. */
    rec.position = r->caller != NULL ? r->position : task->index;
    rec.n_items = rec.with_items ? ts->n_units : 0;
    rec.ignored =
        ts->status == WF_STATUS_FAILED && ts->result != NULL && ts->result->ignored_failure;
    wf_store_record_task(r->store, &rec);
    wf_strbuf_release(&name);
    wf_strbuf_release(&source);
    free(error);
}

void wf__record_run_start(wf_run *r)
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
    rec.file_text = wf->source; /* hashed by the store's writer thread */
    rec.inputs_json = wf_strbuf_str(&sb);
    rec.resumed_from = r->opts.resume_run;
    rec.started_ms = r->start_wall_ms;
    wf_store_record_run_start(r->store, &rec);
    wf_strbuf_release(&sb);
    json_object_put(inputs);
}

void wf__record_run_end(wf_run *r)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *masked;
    wf_error err;

    /* A called workflow's run is part of its caller's, which records the end. */
    if (r->store == NULL || r->caller != NULL)
        return;
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
