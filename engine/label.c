/*
 * label.c: the label that names each item of a with-items task (issue 18): the task's
 * `label:` template rendered once per item when the task expands (scheduler thread; only for
 * tasks that have one), or else, on demand and without allocating, a short rendering of a
 * scalar item (a string, number or boolean). Labels are one line of printable text, at most
 * WF__LABEL_MAX bytes, with secrets masked: safe to print as they are in a terminal; XML and
 * HTML writers still escape them like any text.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* A scalar item is shown as its label only when it is at most this long (a long string is
 * no name for an item). */
#define AUTO_LABEL_MAX 32

/* Copies the first max bytes of text at most (cut on a UTF-8 character boundary, "..." then
 * marks the cut) into buf, with control bytes replaced by '?'. Returns buf, or NULL when
 * nothing is left. */
static const char *clean_into(char *buf, size_t max, const char *text, size_t len)
{
    size_t n = len;
    bool cut = false;

    if (n > max) {
        n = max - 3;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
        cut = true;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)text[i];

        buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
    }
    if (cut) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return n > 0 ? buf : NULL;
}

/* Renders the label of item i into ts->labels[i]; on failure returns the error (owned). */
static char *render_one(wf_run *r, uint32_t t, size_t i)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    json_object *own = NULL;
    char *error = NULL;
    wf_ctx *ctx = wf__unit_ctx(r, t, (uint32_t)i, &own, &error);
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;
    int rc;

    if (ctx == NULL) {
        char *msg = wf_xasprintf("label of %s[%zu]: %s", task->name, i, error);

        free(error);
        return msg;
    }
    wf_error_init(&err);
    rc = wf_tpl_render(task->label, ctx, &sb, &err);
    wf_ctx_unref(ctx);
    json_object_put(own);
    if (rc != WF_OK) {
        error = wf_xasprintf("label of %s[%zu]: %s", task->name, i,
                             err.message ? err.message : wf_strerror(rc));
    } else {
        char *masked = wf__run_mask(r, wf_strbuf_str(&sb));
        const char *text = masked ? masked : wf_strbuf_str(&sb);
        char buf[WF__LABEL_MAX + 1];

        if (clean_into(buf, WF__LABEL_MAX, text, strlen(text)) != NULL)
            ts->labels[i] = wf_xstrdup(buf);
        free(masked);
    }
    wf_error_release(&err);
    wf_strbuf_release(&sb);
    return error;
}

void wf__labels_render(wf_run *r, uint32_t t)
{
    const wf_task *task = &r->wf->tasks[t];
    wf_task_state *ts = &r->tasks[t];
    size_t n = ts->items ? ts->items->n_units : 0, failed = 0;
    char *first_error = NULL;

    if (task->label == NULL || n == 0)
        return;
    ts->labels = wf_xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        char *error = render_one(r, t, i);

        if (error != NULL && failed++ == 0)
            first_error = error;
        else
            free(error);
    }
    if (failed > 0) {
        char *msg = failed == 1
                        ? wf_xasprintf("%s; that item is named by its index", first_error)
                        : wf_xasprintf("%s (and %zu more items); those items are named by their "
                                       "index",
                                       first_error, failed - 1);

        wf__emit_simple(r, WF_EVENT_WARNING, task->name, msg);
        free(msg);
    }
    free(first_error);
}

void wf__label_render_one(wf_run *r, uint32_t t, size_t i)
{
    char *error;

    if (r->tasks[t].labels == NULL)
        return;
    error = render_one(r, t, i);
    if (error != NULL) {
        char *msg = wf_xasprintf("%s; that item is named by its index", error);

        wf__emit_simple(r, WF_EVENT_WARNING, r->wf->tasks[t].name, msg);
        free(msg);
        free(error);
    }
}

void wf__labels_free(wf_task_state *ts)
{
    for (size_t i = 0; ts->labels != NULL && i < ts->n_units; i++)
        free(ts->labels[i]);
    free(ts->labels);
    ts->labels = NULL;
}

const char *wf__unit_label(const wf_run *r, uint32_t t, uint32_t idx, char *buf)
{
    const wf_task *task = &r->wf->tasks[t];
    const wf_task_state *ts = &r->tasks[t];
    const json_object *item;
    json_object *own = NULL;
    const char *text, *label = NULL;
    size_t len;

    if (ts->labels != NULL)
        return idx < ts->n_units ? ts->labels[idx] : NULL;
    if (task->label != NULL || ts->batch_size > 0 || ts->items == NULL || idx >= ts->items->n_units)
        return NULL;
    /* `with-items: << range(n) >>`: an item that is its own index says nothing more. */
    if (ts->items->kind == WF_ITEMS_SRC_RANGE && ts->items->lo == 0)
        return NULL;
    if (!wf__items_get(ts->items, idx, &item, &own, NULL))
        return NULL;
    /* An earlier task's result by reference is over 64 KiB: far too long for a label. */
    if (wf_ref_is(item))
        goto out;
    switch (json_object_get_type(item)) {
    case json_type_string:
    case json_type_int:
    case json_type_double:
    case json_type_boolean:
        break;
    default:
        goto out;
    }
    if (json_object_is_type(item, json_type_int) && json_object_get_int64(item) == (int64_t)idx)
        goto out;
    text = json_object_get_string((json_object *)item);
    len = strlen(text);
    if (len > AUTO_LABEL_MAX)
        goto out;
    if (r->n_secrets > 0) {
        char *masked = wf__run_mask(r, text);

        if (masked != NULL) {
            clean_into(buf, WF__LABEL_MAX, masked, strlen(masked));
            free(masked);
            label = buf[0] ? buf : NULL;
            goto out;
        }
    }
    label = clean_into(buf, WF__LABEL_MAX, text, len);
out:
    json_object_put(own);
    return label;
}
