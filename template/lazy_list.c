/*
 * lazy_list.c: with-items lists the engine reads one item at a time instead of building them
 * (wf_tpl_lazy_list): `range(...)` and `file_lines(...)` written as the whole with-items
 * value, and a task's result that is a list by reference (wf_tpl_list_ref). Also the function
 * file_lines itself, which only means something there, and the load-time checks of its
 * misuse (and of `lines('items.txt')`, which a user meant as file_lines).
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

#define FN WF__TPL_FN

/* How many numbers range(lo, hi) gives (0 when hi <= lo), or -1 past INT64_MAX. */
int64_t wf__tpl_range_count(int64_t lo, int64_t hi)
{
    int64_t count;

    if (hi <= lo)
        return 0;
    count = (int64_t)((uint64_t)hi - (uint64_t)lo);
    return count < 0 ? -1 : count;
}

FN(f_file_lines)
{
    (void)a;
    (void)nargs;
    (void)out;
    return wf__tpl_fail(e, call, WF_EINVAL,
                        "file_lines is read by the engine as a whole with-items list "
                        "(with-items: << file_lines('items.txt') >>), not inside an expression");
}

/* Calls whose constant argument is surely a mistake, refused now rather than run. `lines`
 * splits a string, so `lines('items.txt')` (or `'items.txt' | lines`) is the one item
 * "items.txt", never the file's lines: a user who read "<< lines('items.txt') >>" about
 * with-items meant file_lines. A constant without a line break gives the same one-item list
 * whatever it names, so it is refused with both rewrites. file_lines of a constant that is
 * not a non-empty string would fail every run when the task starts. */
int wf__tpl_check_const_arg(parser *p, const builtin *b, node *const *args, size_t nargs,
                            uint32_t name_pos)
{
    const json_object *a;
    size_t len = 0;
    const char *s;

    if (nargs < 1 || args[0]->kind != N_LIT ||
        (b->fn != wf__tpl_f_lines && b->fn != wf__tpl_f_file_lines))
        return WF_OK;
    a = args[0]->lit; /* NULL: null */
    if (b->fn == wf__tpl_f_file_lines) {
        if (tpl_is(a, json_type_string) && json_object_get_string_len(a) > 0)
            return WF_OK;
        return wf__tpl_perr(p, args[0]->start, WF_ETYPE,
                            "file_lines: expects a path (a non-empty string), got %s",
                            tpl_is(a, json_type_string) ? "an empty string" : wf__tpl_a_type(a));
    }
    if (!tpl_is(a, json_type_string))
        return WF_OK;
    s = tpl_str(a, &len);
    if (len == 0 || memchr(s, '\n', len) != NULL || memchr(s, '\r', len) != NULL)
        return WF_OK;
    return wf__tpl_perr(p, name_pos, WF_EINVAL,
                        "lines of the text '%.*s' is always the one item [\"%.*s\"] (lines splits "
                        "a string; it does not read a file); to read the lines of a file write "
                        "file_lines('%.*s') as the whole with-items value (with-items: << "
                        "file_lines('%.*s') >>), or write ['%.*s'] for a one-item list",
                        (int)(len > 64 ? 64 : len), s, (int)(len > 64 ? 64 : len), s,
                        (int)(len > 64 ? 64 : len), s, (int)(len > 64 ? 64 : len), s,
                        (int)(len > 64 ? 64 : len), s);
}

/* What other tools call reading a file's lines (Python's readlines, Nextflow's readLines and
 * file(), Terraform's file(), Ansible's lookup('file') and with_lines): all mean file_lines. */
bool wf__tpl_reads_a_file(const char *word)
{
    static const char *const names[] = { "readlines", "readLines",  "read_lines", "readfile",
                                         "read_file", "file",       "fromfile",   "lines_of",
                                         "lookup",    "with_lines", "cat",        "open" };

    for (size_t i = 0; i < WF_ARRAY_LEN(names); i++)
        if (strcmp(word, names[i]) == 0)
            return true;
    return false;
}

static const node *lazy_call(const wf_tpl *t)
{
    const node *n = t->kind == WF_TPL_VALUE ? t->value : NULL;

    if (n == NULL || n->kind != N_CALL)
        return NULL;
    if (n->fn->fn != wf__tpl_f_range && n->fn->fn != wf__tpl_f_file_lines)
        return NULL;
    return n;
}

bool wf_tpl_is_lazy_list(const wf_tpl *t)
{
    return lazy_call(t) != NULL;
}

int wf_tpl_lazy_list(const wf_tpl *t, const wf_ctx *ctx, size_t cap, wf_tpl_list *out,
                     wf_error *err)
{
    const node *n = lazy_call(t);
    ev e = { t, ctx, err, 0 };
    tval a[2] = { TVAL_NULL, TVAL_NULL };
    int rc = WF_OK;

    memset(out, 0, sizeof(*out));
    if (n == NULL)
        return WF_OK;
    for (size_t i = 0; i < n->nargs && rc == WF_OK; i++)
        rc = wf__tpl_eval_node(&e, n->args[i], &a[i]);
    if (rc != WF_OK)
        goto out;
    if (n->fn->fn == wf__tpl_f_file_lines) {
        if (!tpl_is(a[0].j, json_type_string) || json_object_get_string_len(a[0].j) == 0) {
            rc = wf__tpl_type_error(&e, n, a, n->nargs);
            goto out;
        }
        out->kind = WF_TPL_LIST_FILE_LINES;
        out->path = wf_xstrdup(tpl_str(a[0].j, NULL));
    } else {
        int64_t lo = 0, hi = 0, count;
        double d;

        if (wf__tpl_num(a[0].j, n->nargs == 1 ? &hi : &lo, &d) != 1 ||
            (n->nargs == 2 && wf__tpl_num(a[1].j, &hi, &d) != 1)) {
            rc = wf__tpl_type_error(&e, n, a, n->nargs);
            goto out;
        }
        count = wf__tpl_range_count(lo, hi);
        if (count < 0 || (uint64_t)count > cap) {
            rc = wf__tpl_fail(&e, n, WF_ERANGE, "range: %lld numbers is more than the %zu allowed",
                              (long long)((double)hi - (double)lo), cap);
            goto out;
        }
        out->kind = WF_TPL_LIST_RANGE;
        out->lo = lo;
        out->n = (size_t)count;
    }
out:
    for (size_t i = 0; i < 2; i++)
        tval_release(&a[i]);
    return rc;
}

const char *wf_tpl_file_lines_const(const wf_tpl *t)
{
    const node *n = lazy_call(t);

    if (n == NULL || n->fn->fn != wf__tpl_f_file_lines || n->nargs != 1 ||
        n->args[0]->kind != N_LIT || !tpl_is(n->args[0]->lit, json_type_string))
        return NULL;
    return tpl_str(n->args[0]->lit, NULL);
}

const json_object *wf_tpl_list_ref(const wf_tpl *t, const wf_ctx *ctx)
{
    const node *n = t->kind == WF_TPL_VALUE ? t->value : NULL;
    const wf_result *r;
    uint64_t len;

    if (n == NULL || n->kind != N_TASK)
        return NULL;
    r = wf_results_get(wf_ctx_results(ctx), n->key);
    return r != NULL && wf_ref_list_len(r->value, &len) ? r->value : NULL;
}
