/*
 * render.c: the public ways to evaluate a compiled template (wf_template.h): render it to
 * text (with shell quoting for WF_TPL_SHELL and the NUL check for C strings), evaluate it to
 * a value (owned, borrowed or a boolean), and render a simple command straight to an argv.
 * Each sets up one evaluation and walks the template's parts; eval.c evaluates the
 * expressions and text.c writes the values.
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

/* ---- the public entry points ---------------------------------------------------- */

/* A value rendered into text that becomes a C string must not hold a NUL: the process would
 * see it cut short there, silently. out[from..] is what expr rendered. */
static int check_nul(ev *e, const node *expr, const wf_strbuf *out, size_t from)
{
    if (out->len == from || memchr(out->buf + from, '\0', out->len - from) == NULL)
        return WF_OK;
    return wf__tpl_fail(e, expr, WF_EINVAL,
                        "%.*s holds a NUL byte (\\u0000), which a command line, a variable or a "
                        "path cannot carry; remove it (| replace('\\u0000', '')) or pass the "
                        "data in a file",
                        (int)(expr->end - expr->start), e->t->src + expr->start);
}

/* Writes v where the shell context of p puts it (WF_TPL_SHELL, not raw). */
static int render_shell(ev *e, const part *p, const json_object *v, wf_strbuf *out)
{
    switch (p->sh) {
    case SH_WORD: {
        size_t before = out->len;

        if (p->mode == PM_QUOTE)
            wf_tpl_text_form(out, v);
        else
            wf__tpl_shell_form(out, v);
        if (p->keep_word && out->len == before)
            wf_strbuf_add(out, "''", 2);
        return WF_OK;
    }
    case SH_SQUOTE:
    case SH_DQUOTE:
        wf__tpl_shell_quoted(out, v, p->sh);
        return WF_OK;
    case SH_ARITH:
        if (!tpl_is(v, json_type_int) && !tpl_is(v, json_type_double))
            return wf__tpl_fail(e, p->expr, WF_ETYPE,
                                "inside $(( )) a value must be a number, got %s",
                                wf__tpl_a_type(v));
        wf_tpl_text_form(out, v);
        return WF_OK;
    case SH_COMMENT:
        return WF_OK;
    }
    return WF_EINVAL;
}

/* Appends the value of one `<< >>` (part p) of an interpolation. */
static int render_expr(ev *e, const part *p, wf_strbuf *out)
{
    tval v = TVAL_NULL;
    size_t before = out->len;
    int64_t index;
    int rc;

    /* `index` is in most with-items commands: its digits need no json object, and no quotes
     * in shell mode. */
    if (p->expr->kind == N_INDEX && p->sh != SH_COMMENT && wf_ctx_item(e->ctx, NULL, &index)) {
        wf__tpl_append_int(out, index);
        return WF_OK;
    }
    rc = wf__tpl_eval_node(e, p->expr, &v);
    if (rc != WF_OK)
        return rc;
    if ((e->t->flags & WF_TPL_SHELL) && p->mode != PM_RAW)
        rc = render_shell(e, p, v.j, out);
    else
        wf_tpl_text_form(out, v.j);
    tval_release(&v);
    if (rc == WF_OK && (e->t->flags & (WF_TPL_SHELL | WF_TPL_CSTRING)))
        rc = check_nul(e, p->expr, out, before);
    /* Each value is capped already; this caps what many of them add up to (the value is in
     * memory once already, so the text of one part costs at most a few times its size). */
    if (rc == WF_OK && out->len > WF_MAX_STRING_LEN)
        rc = wf__tpl_check_string(e, p->expr, "the rendered text", out->len);
    return rc;
}

int wf_tpl_render(const wf_tpl *t, const wf_ctx *ctx, wf_strbuf *out, wf_error *err)
{
    ev e = { t, ctx, err, 0 };
    int rc = WF_OK;

    switch (t->kind) {
    case WF_TPL_LITERAL:
        wf_strbuf_add(out, t->literal, t->literal_len);
        return WF_OK;
    case WF_TPL_VALUE:
        return render_expr(&e, &t->parts[t->value_part], out);
    case WF_TPL_INTERP:
        for (size_t i = 0; i < t->nparts && rc == WF_OK; i++) {
            const part *p = &t->parts[i];

            if (p->expr == NULL)
                wf_strbuf_add(out, p->text, p->len);
            else
                rc = render_expr(&e, p, out);
        }
        return rc;
    }
    return WF_EINVAL;
}

int wf_tpl_eval(const wf_tpl *t, const wf_ctx *ctx, json_object **out, wf_error *err)
{
    ev e = { t, ctx, err, 0 };
    wf_strbuf sb = WF_STRBUF_INIT;
    tval v = TVAL_NULL;
    int rc = WF_OK;

    *out = NULL;
    switch (t->kind) {
    case WF_TPL_LITERAL:
        *out = json_object_new_string_len(t->literal, (int)t->literal_len);
        break;
    case WF_TPL_VALUE:
        rc = wf__tpl_eval_node(&e, t->value, &v);
        if (rc == WF_OK)
            *out = wf__tpl_detach(&v);
        break;
    case WF_TPL_INTERP:
        rc = wf_tpl_render(t, ctx, &sb, err);
        if (rc == WF_OK)
            *out = json_object_new_string_len(wf_strbuf_str(&sb), (int)sb.len);
        break;
    }
    wf_strbuf_release(&sb);
    tval_release(&v);
    return rc;
}

int wf_tpl_eval_borrow(const wf_tpl *t, const wf_ctx *ctx, const json_object **value,
                       json_object **owned, wf_error *err)
{
    ev e = { t, ctx, err, 0 };
    tval v = TVAL_NULL;
    int rc;

    *value = NULL;
    *owned = NULL;
    if (t->kind != WF_TPL_VALUE) {
        rc = wf_tpl_eval(t, ctx, owned, err);
        *value = *owned;
        return rc;
    }
    /* A with-items task's results are lent as they are: references stay references (each
     * item is loaded when a unit reads it). */
    rc = wf__tpl_eval_lazy(&e, t->value, &v);
    if (rc == WF_OK)
        rc = wf__tpl_resolve_lines(&e, t->value, &v);
    if (rc == WF_OK && v.own == NULL && v.pin == NULL) {
        *value = v.j;
    } else if (rc == WF_OK) {
        /* Owned, or a loaded value the cache may drop once unpinned: a copy of its own. */
        *owned = wf__tpl_detach(&v);
        *value = *owned;
    }
    tval_release(&v);
    return rc;
}

int wf_tpl_eval_bool(const wf_tpl *t, const wf_ctx *ctx, bool *out, wf_error *err)
{
    ev e = { t, ctx, err, 0 };
    wf_strbuf sb = WF_STRBUF_INIT;
    tval v = TVAL_NULL;
    int rc = WF_OK;

    *out = false;
    switch (t->kind) {
    case WF_TPL_LITERAL:
        *out = t->literal_len > 0;
        break;
    case WF_TPL_VALUE:
        rc = wf__tpl_eval_node(&e, t->value, &v);
        if (rc == WF_OK)
            *out = wf__tpl_truthy(v.j);
        break;
    case WF_TPL_INTERP:
        rc = wf_tpl_render(t, ctx, &sb, err);
        *out = rc == WF_OK && sb.len > 0;
        break;
    }
    wf_strbuf_release(&sb);
    tval_release(&v);
    return rc;
}

/* ---- argv for simple commands ----------------------------------------------------- */

typedef struct words {
    char **v;
    size_t n, cap;
    wf_strbuf cur;
    bool in_word;
} words;

static void end_word(words *w)
{
    if (!w->in_word)
        return;
    if (w->n + 2 > w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->v = wf_xrealloc(w->v, w->cap * sizeof(*w->v));
    }
    wf_strbuf_add(&w->cur, "", 0);
    w->v[w->n++] = wf_strbuf_detach(&w->cur, NULL);
    w->in_word = false;
}

static int word_value(ev *e, const node *expr, words *w, const json_object *v)
{
    size_t before = w->cur.len;

    w->in_word = true;
    wf_tpl_text_form(&w->cur, v);
    return check_nul(e, expr, &w->cur, before);
}

int wf_tpl_render_argv(const wf_tpl *t, const wf_ctx *ctx, char ***argv_out, wf_error *err)
{
    ev e = { t, ctx, err, 0 };
    words w = { NULL, 0, 0, WF_STRBUF_INIT, false };
    int64_t index;
    int rc = WF_OK;

    *argv_out = NULL;
    if (!t->simple) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "not a simple command");
        return WF_EINVAL;
    }
    for (size_t i = 0; i < t->nparts; i++) {
        const part *p = &t->parts[i];
        tval v = TVAL_NULL;

        if (p->expr == NULL) {
            /* Whole runs of word characters at a time, not one character per call. */
            for (size_t k = 0, j; k < p->len; k = j) {
                if (p->text[k] == ' ' || p->text[k] == '\t') {
                    end_word(&w);
                    j = k + 1;
                    continue;
                }
                for (j = k; j < p->len && p->text[j] != ' ' && p->text[j] != '\t'; j++)
                    ;
                wf_strbuf_add(&w.cur, p->text + k, j - k);
                w.in_word = true;
            }
            continue;
        }
        if (p->expr->kind == N_INDEX && wf_ctx_item(ctx, NULL, &index)) {
            wf__tpl_append_int(&w.cur, index);
            w.in_word = true;
            continue;
        }
        /* quote(x) reaches the shell as the words of x, so x's words are what runs. */
        rc = wf__tpl_eval_node(&e, p->mode == PM_QUOTE ? p->inner : p->expr, &v);
        if (rc != WF_OK)
            goto out;
        if (tpl_is(v.j, json_type_array)) {
            size_t len = json_object_array_length(v.j);
            bool first = true;

            for (size_t k = 0; k < len; k++) {
                const json_object *el = json_object_array_get_idx(v.j, k);

                if (el == NULL)
                    continue;
                if (!first)
                    end_word(&w);
                first = false;
                rc = word_value(&e, p->expr, &w, el);
                if (rc != WF_OK)
                    break;
            }
        } else if (v.j != NULL) {
            rc = word_value(&e, p->expr, &w, v.j);
        }
        tval_release(&v);
        if (rc != WF_OK)
            goto out;
    }
    end_word(&w);
    if (w.n + 1 > w.cap) {
        w.cap = w.n + 1;
        w.v = wf_xrealloc(w.v, w.cap * sizeof(*w.v));
    }
    w.v[w.n] = NULL;
    *argv_out = w.v;
    w.v = NULL;
    w.n = 0;
out:
    for (size_t i = 0; i < w.n; i++)
        free(w.v[i]);
    free(w.v);
    wf_strbuf_release(&w.cur);
    return rc;
}

void wf_tpl_argv_free(char **argv)
{
    if (argv == NULL)
        return;
    for (size_t i = 0; argv[i] != NULL; i++)
        free(argv[i]);
    free(argv);
}
