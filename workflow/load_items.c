/*
 * load_items.c: a task's `with-items` -> wf_task (see loader_internal.h): a literal list or
 * one template, or a matrix with include and exclude beside it or inside it (as GitHub
 * writes them). Split from load_task.c, which calls wf__ld_parse_items.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

static const char *const ITEMS_KEYS[] = { "matrix", "include", "exclude", NULL };

/* A list, or one template that yields a list. */
static wf_vnode *list_or_tpl(wf__ld *c, const wf__ynode *n, const char *what, size_t ti)
{
    if (n->type == WF__Y_LIST || (n->type == WF__Y_STRING && n->has_tpl))
        return wf__ld_build_vnode(c, n, WF__ROLE_ITEMS, ti);
    wf__ld_type_error(c, n, what, "a list or one template that yields a list");
    return NULL;
}

static void check_object_list(wf__ld *c, const wf__ynode *n, const char *what)
{
    if (n->type != WF__Y_LIST)
        return;
    for (size_t k = 0; k < n->n; k++)
        if (n->items[k]->type != WF__Y_MAP && !n->items[k]->has_tpl)
            wf__ld_type_error(c, n->items[k], what, "a map like {key: value}");
}

static bool is_nested_key(const char *key)
{
    return strcmp(key, "include") == 0 || strcmp(key, "exclude") == 0;
}

/* `matrix: {os: [..], include: [..]}` as GitHub writes it: *beside gets the nested entry
 * (an error when both are given) and it is not counted among the axes. */
static void nested_matrix_key(wf__ld *c, const wf__ynode *m, const char *key,
                              const wf__ynode **beside, size_t *axes)
{
    const wf__ynode *k = NULL, *v = wf__ld_get(m, key, &k);

    if (v == NULL)
        return;
    (*axes)--;
    if (*beside != NULL)
        wf__loader_error(c->L, k->mark, WF_EINVAL,
                         "'%s' is given twice, inside 'matrix' (as GitHub writes it) and beside "
                         "it; keep one",
                         key);
    else
        *beside = v;
}

/* When every axis is written out as a list, the number of combinations is known now: a
 * matrix over the cap is a load-time error, before a run allocates any of it. (Axes given by
 * a template are checked when the run expands them.) */
static void check_matrix_size(wf__ld *c, const wf__ynode *m, const wf__ynode *include)
{
    size_t total = 1, extra = include != NULL && include->type == WF__Y_LIST ? include->n : 0;
    wf_error e;

    for (size_t k = 0; k < m->n; k++) {
        if (is_nested_key(m->keys[k]->text))
            continue;
        if (m->items[k]->type != WF__Y_LIST)
            return;
        if (__builtin_mul_overflow(total, m->items[k]->n, &total))
            total = SIZE_MAX;
    }
    if (total <= WF_MAX_ITEMS && extra <= WF_MAX_ITEMS - total)
        return;
    wf_error_init(&e);
    wf__matrix_too_large(m->mark, total, extra, &e);
    wf__loader_error(c->L, m->mark, e.code, "%s", e.message);
    wf_error_release(&e);
}

void wf__ld_parse_items(wf__ld *c, wf_task *t, const wf__ynode *n)
{
    const wf__ynode *m, *inc, *exc;
    wf_task_extra *x;

    t->items_mark = n->mark;
    if (n->type == WF__Y_LIST || (n->type == WF__Y_STRING && n->has_tpl)) {
        if (n->type == WF__Y_LIST && n->n > WF_MAX_ITEMS)
            wf__loader_error(c->L, n->mark, WF_ERANGE,
                             "with-items has %zu items, more than the %d a task may expand to; "
                             "split it into several tasks",
                             (size_t)n->n, WF_MAX_ITEMS);
        t->items_kind = WF_ITEMS_LIST;
        t->items = wf__ld_build_vnode(c, n, WF__ROLE_ITEMS, t->index);
        return;
    }
    if (n->type != WF__Y_MAP) {
        wf__ld_type_error(c, n, "with-items",
                          "a list, one template that yields a list (like << task.x >>), or "
                          "{matrix: {key: [..]}}");
        return;
    }
    t->items_kind = WF_ITEMS_MATRIX;
    x = wf__task_extra(t);
    wf__ld_check_keys(c, n, ITEMS_KEYS, "with-items");
    m = wf__ld_get(n, "matrix", NULL);
    inc = wf__ld_get(n, "include", NULL);
    exc = wf__ld_get(n, "exclude", NULL);
    if (m == NULL) {
        wf__loader_error(c->L, n->mark, WF_EMISSING,
                         inc != NULL ? "'with-items' as a map needs 'matrix': {key: [values], "
                                       "...}; a matrix of include entries alone is a list: "
                                       "with-items: [{os: linux}, {os: mac}]"
                                     : "'with-items' as a map needs 'matrix': {key: [values], "
                                       "...}");
    } else if (wf__ld_expect_map(c, m, "matrix")) {
        size_t axes = m->n;

        /* GitHub nests include and exclude in the matrix (strategy.matrix.include): the same
         * as beside it, never an axis named include. */
        nested_matrix_key(c, m, "include", &inc, &axes);
        nested_matrix_key(c, m, "exclude", &exc, &axes);
        if (axes == 0)
            wf__loader_error(c->L, m->mark, WF_EINVAL, "'matrix' needs at least one key%s",
                             inc != NULL ? " besides include; a matrix of include entries "
                                           "alone is a list: with-items: [{os: linux}, ...]"
                                         : "");
        x->matrix = wf_xcalloc(m->n + 1, sizeof(*x->matrix));
        for (size_t k = 0; k < m->n; k++) {
            wf_vnode *val;

            if (is_nested_key(m->keys[k]->text))
                continue;
            val = list_or_tpl(c, m->items[k], m->keys[k]->text, t->index);

            if (val == NULL)
                continue;
            x->matrix[x->n_matrix].name = wf_xstrdup(m->keys[k]->text);
            x->matrix[x->n_matrix].mark = m->keys[k]->mark;
            x->matrix[x->n_matrix].value = val;
            x->n_matrix++;
        }
    }
    if (inc != NULL) {
        check_object_list(c, inc, "include");
        x->matrix_include = list_or_tpl(c, inc, "include", t->index);
    }
    if (m != NULL && m->type == WF__Y_MAP)
        check_matrix_size(c, m, inc);
    if (exc != NULL) {
        check_object_list(c, exc, "exclude");
        x->matrix_exclude = list_or_tpl(c, exc, "exclude", t->index);
    }
}
