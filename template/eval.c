/*
 * eval.c: evaluating the expressions of a compiled template: paths into the context and
 * into values, operators, lists and objects, calls to the builtins, and the errors and caps
 * every part of the evaluation shares. Values from the context and the template's constants
 * are borrowed and only read (see tpl_internal.h); anything computed is owned by the
 * evaluation that made it. Nothing here parses the template or writes to shared state.
 * render.c holds the public entry points that drive it.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

/* How many keys a "key not found" message lists before it says how many more there are. */
#define MAX_KEYS_LISTED 20

static int vfail(ev *e, uint32_t pos, int code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static int vfail(ev *e, uint32_t pos, int code, const char *fmt, va_list ap)
{
    if (e->quiet > 0 || e->err == NULL)
        return code;
    return wf__tpl_verror(e->err, e->t->src, pos, code, fmt, ap);
}

int wf__tpl_fail_at(ev *e, uint32_t pos, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(e, pos, code, fmt, ap);
    va_end(ap);
    return rc;
}

int wf__tpl_fail(ev *e, const node *n, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = vfail(e, n->pos, code, fmt, ap);
    va_end(ap);
    return rc;
}

int wf__tpl_check_list(ev *e, const node *n, const char *what, size_t len)
{
    if (len <= WF_MAX_LIST_LEN)
        return WF_OK;
    if (len == SIZE_MAX)
        return wf__tpl_fail(e, n, WF_ERANGE,
                            "%s would make a list of more elements than memory can hold; a "
                            "list may have at most %d",
                            what, WF_MAX_LIST_LEN);
    return wf__tpl_fail(e, n, WF_ERANGE,
                        "%s would make a list of %zu elements, more than the %d allowed", what, len,
                        WF_MAX_LIST_LEN);
}

int wf__tpl_check_string(ev *e, const node *n, const char *what, size_t len)
{
    if (len <= WF_MAX_STRING_LEN)
        return WF_OK;
    if (len == SIZE_MAX)
        return wf__tpl_fail(e, n, WF_ERANGE,
                            "%s would make a string longer than memory can hold; a string may "
                            "have at most %zu bytes (64 MiB)",
                            what, WF_MAX_STRING_LEN);
    return wf__tpl_fail(e, n, WF_ERANGE,
                        "%s would make a string of %zu bytes, more than the %zu allowed (64 MiB)",
                        what, len, WF_MAX_STRING_LEN);
}

json_object *wf__tpl_detach(tval *v)
{
    json_object *r;

    if (v->own == NULL) {
        r = wf_json_copy(v->j);
        tval_release(v);
        return r;
    }
    if (v->j == v->own) {
        r = v->own;
    } else {
        /* An inner value of an object only this evaluation holds: take a reference to it
         * and let the rest go (owned values are never shared, so the counts are ours). */
        r = json_object_get((json_object *)(uintptr_t)v->j);
        json_object_put(v->own);
    }
    v->own = NULL;
    v->j = NULL;
    return r;
}

bool wf__tpl_truthy(const json_object *j)
{
    switch (j == NULL ? json_type_null : json_object_get_type(j)) {
    case json_type_null:
        return false;
    case json_type_boolean:
        return json_object_get_boolean(j);
    case json_type_int:
        return json_object_get_int64(j) != 0 || json_object_get_uint64(j) != 0;
    case json_type_double:
        return json_object_get_double(j) != 0.0;
    case json_type_string:
        return json_object_get_string_len(j) > 0;
    case json_type_array:
        return json_object_array_length(j) > 0;
    case json_type_object:
        return json_object_object_length(j) > 0;
    }
    return false;
}

const char *wf__tpl_a_type(const json_object *j)
{
    switch (j == NULL ? json_type_null : json_object_get_type(j)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "a boolean";
    case json_type_int:
        return "an integer";
    case json_type_double:
        return "a number";
    case json_type_string:
        return "a string";
    case json_type_array:
        return "a list";
    case json_type_object:
        return "an object";
    }
    return "a value";
}

int wf__tpl_num(const json_object *j, int64_t *i, double *d)
{
    if (j == NULL)
        return 0;
    switch (json_object_get_type(j)) {
    case json_type_int:
        *i = json_object_get_int64(j);
        /* json-c keeps integers above INT64_MAX as uint64; they are decimals to us. */
        if (*i == INT64_MAX && json_object_get_uint64(j) > (uint64_t)INT64_MAX) {
            *d = (double)json_object_get_uint64(j);
            return 2;
        }
        return 1;
    case json_type_double:
        *d = json_object_get_double(j);
        return 2;
    default:
        return 0;
    }
}

int wf__tpl_new_double(ev *e, const node *n, double d, tval *out)
{
    if (!isfinite(d))
        return wf__tpl_fail(e, n, WF_ERANGE, "the result is too large to be a number");
    tval_take(out, json_object_new_double(d));
    return WF_OK;
}

static void set_bool(ev *e, bool b, tval *out)
{
    *out = (tval)TVAL_NULL;
    out->j = b ? e->t->c_true : e->t->c_false;
}

/* The text of node n's expression, for messages: "task.fetch.items". */
#define SRC_ARGS(e, n) (int)((n)->end - (n)->start), (e)->t->src + (n)->start

/* ---- paths ---------------------------------------------------------------------- */

static void list_keys(wf_strbuf *sb, const json_object *obj)
{
    struct lh_entry *ent = json_object_get_object(obj)->head;
    size_t n = 0, total = (size_t)json_object_object_length(obj);

    for (; ent != NULL && n < MAX_KEYS_LISTED; ent = ent->next, n++) {
        if (n > 0)
            wf_strbuf_adds(sb, ", ");
        wf_strbuf_adds(sb, (const char *)ent->k);
    }
    if (total > n)
        wf_strbuf_addf(sb, " and %zu more", total - n);
}

static int missing_key(ev *e, const node *n, const tval *base, const char *key)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    const char *holder = base->at_root ? "the result" : "the object";
    int rc;

    if (e->quiet > 0)
        return WF_EMISSING;
    if (n->a->kind == N_INPUTS)
        holder = "inputs";
    else if (n->a->kind == N_ENV)
        holder = "env";
    if (json_object_object_length(base->j) == 0) {
        wf_strbuf_addf(&sb, "%s is empty", holder);
    } else {
        wf_strbuf_addf(&sb, "%s has keys: ", holder);
        list_keys(&sb, base->j);
    }
    rc = wf__tpl_fail(e, n, WF_EMISSING, "%.*s: key '%s' not found; %s", SRC_ARGS(e, n), key,
                      wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
    return rc;
}

/* Field or index access on something that is not an object or list. */
static int bad_base(ev *e, const node *n, const tval *base, bool want_list)
{
    const wf_result *r = base->res;

    if (base->j == NULL && r != NULL && base->at_root) {
        if (r->status == WF_STATUS_SUCCEEDED)
            return wf__tpl_fail(e, n, WF_EMISSING, "%.*s: the result of task '%s' is null",
                                SRC_ARGS(e, n), base->task);
        return wf__tpl_fail(e, n, WF_EMISSING, "%.*s: task '%s' %s, so its result is null",
                            SRC_ARGS(e, n), base->task,
                            r->status == WF_STATUS_FAILED      ? "failed"
                            : r->status == WF_STATUS_SKIPPED   ? "was skipped"
                            : r->status == WF_STATUS_CANCELLED ? "was cancelled"
                                                               : "has not finished");
    }
    if (base->j == NULL)
        return wf__tpl_fail(e, n, WF_EMISSING, "%.*s: %.*s is null", SRC_ARGS(e, n),
                            SRC_ARGS(e, n->a));
    /* task.a.stdout, task.a.outputs.result (Argo), task.a.exit_code: the result is the
     * output itself, and the rest has functions. */
    if (r != NULL && base->at_root && tpl_is(base->j, json_type_string) && n->op == GET_KEY &&
        n->key != NULL &&
        (strcmp(n->key, "stdout") == 0 || strcmp(n->key, "stderr") == 0 ||
         strcmp(n->key, "exit_code") == 0 || strcmp(n->key, "outputs") == 0 ||
         strcmp(n->key, "output") == 0 || strcmp(n->key, "result") == 0))
        return wf__tpl_fail(e, n, WF_ETYPE,
                            "%.*s: task.%s is the output of task '%s' itself (text: its "
                            "stdout without the last newline), not an object with fields; "
                            "stdout('%s'), stderr('%s') and exit_code('%s') give the rest",
                            SRC_ARGS(e, n), base->task, base->task, base->task, base->task,
                            base->task);
    if (r != NULL && base->at_root && tpl_is(base->j, json_type_string))
        return wf__tpl_fail(e, n, WF_ETYPE,
                            "%.*s: the result of task '%s' is a string, because its output is "
                            "text; set `output: json` on task '%s' to read fields of its JSON "
                            "output",
                            SRC_ARGS(e, n), base->task, base->task);
    return wf__tpl_fail(e, n, WF_ETYPE, "%.*s: %.*s is %s, not %s", SRC_ARGS(e, n),
                        SRC_ARGS(e, n->a), wf__tpl_a_type(base->j),
                        want_list ? "a list" : "an object");
}

/* Makes out the child j of base, carrying base's ownership and provenance along. */
static void child_of(tval *base, const json_object *j, tval *out)
{
    out->j = j;
    out->own = base->own;
    out->pin = base->pin;
    out->res = base->res;
    out->task = base->task;
    out->at_root = false;
    base->own = NULL;
    base->pin = NULL;
}

static int get_key(ev *e, const node *n, tval *base, const char *key, tval *out)
{
    json_object *child = NULL;

    if (!tpl_is(base->j, json_type_object)) {
        if (tpl_is(base->j, json_type_array))
            return wf__tpl_fail(e, n, WF_ETYPE,
                                "%.*s: %.*s is a list, not an object; use an index like [0], "
                                "or map(\"%s\") to read '%s' of every element",
                                SRC_ARGS(e, n), SRC_ARGS(e, n->a), key, key);
        return bad_base(e, n, base, false);
    }
    if (!json_object_object_get_ex(base->j, key, &child))
        return missing_key(e, n, base, key);
    child_of(base, child, out);
    return wf__tpl_resolve(e, n, out);
}

static int out_of_range(ev *e, const node *n, int64_t idx, uint64_t len)
{
    if (len == 0)
        return wf__tpl_fail(e, n, WF_EMISSING, "%.*s: index %lld out of range; the list is empty",
                            SRC_ARGS(e, n), (long long)idx);
    return wf__tpl_fail(e, n, WF_EMISSING,
                        "%.*s: index %lld out of range; the list has %llu item%s", SRC_ARGS(e, n),
                        (long long)idx, (unsigned long long)len, len == 1 ? "" : "s");
}

/* [idx] of a lines result by reference: that line, read from its file (the list is not
 * loaded). */
static int get_line(ev *e, const node *n, tval *base, int64_t idx, uint64_t lines, tval *out)
{
    json_object *line = NULL;
    char *error = NULL;
    int64_t k = idx < 0 ? idx + (int64_t)lines : idx;
    int rc;

    if (k < 0 || (uint64_t)k >= lines)
        return out_of_range(e, n, idx, lines);
    rc = wf_ref_list_get(base->j, (uint64_t)k, &line, &error);
    if (rc != WF_OK) {
        rc = wf__tpl_fail(e, n, rc, "%s", error);
        free(error);
        return rc;
    }
    tval_take(out, line);
    return WF_OK;
}

static int get_index(ev *e, const node *n, tval *base, int64_t idx, tval *out)
{
    size_t len;
    int64_t k = idx;
    uint64_t lines;

    if (wf_ref_list_len(base->j, &lines))
        return get_line(e, n, base, idx, lines, out);
    if (!tpl_is(base->j, json_type_array)) {
        if (tpl_is(base->j, json_type_object))
            return wf__tpl_fail(e, n, WF_ETYPE,
                                "%.*s: %.*s is an object, not a list; use a key in quotes",
                                SRC_ARGS(e, n), SRC_ARGS(e, n->a));
        return bad_base(e, n, base, true);
    }
    len = json_object_array_length(base->j);
    if (k < 0)
        k += (int64_t)len;
    if (k < 0 || (uint64_t)k >= len)
        return out_of_range(e, n, idx, len);
    child_of(base, json_object_array_get_idx(base->j, (size_t)k), out);
    return wf__tpl_resolve(e, n, out);
}

static int eval_get(ev *e, const node *n, tval *out)
{
    tval base = TVAL_NULL, key = TVAL_NULL;
    int rc;

    rc = wf__tpl_eval_lazy(e, n->a, &base);
    if (rc != WF_OK)
        goto out;
    /* Only an index reads a lines result by reference without loading it. */
    if (n->op == GET_KEY)
        rc = wf__tpl_resolve_lines(e, n->a, &base);
    if (rc != WF_OK)
        goto out;
    if (n->op == GET_KEY) {
        rc = get_key(e, n, &base, n->key, out);
    } else if (n->op == GET_IDX) {
        rc = get_index(e, n, &base, n->idx, out);
    } else {
        int64_t i;
        double d;

        rc = wf__tpl_eval_node(e, n->b, &key);
        if (rc != WF_OK)
            goto out;
        if (tpl_is(key.j, json_type_string)) {
            rc = wf__tpl_resolve_lines(e, n->a, &base);
            if (rc == WF_OK)
                rc = get_key(e, n, &base, tpl_str(key.j, NULL), out);
        } else if (wf__tpl_num(key.j, &i, &d) == 1)
            rc = get_index(e, n, &base, i, out);
        else
            rc = wf__tpl_fail(e, n, WF_ETYPE,
                              "%.*s: an index must be an integer or a key a string, got %s",
                              SRC_ARGS(e, n), wf__tpl_a_type(key.j));
    }
out:
    tval_release(&key);
    tval_release(&base);
    return rc;
}

static int eval_var(ev *e, const node *n, tval *out)
{
    const wf_result *r = wf_results_get(wf_ctx_published_vars(e->ctx), n->key);
    const json_object *vars = wf_ctx_vars(e->ctx);
    json_object *v = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;
    int rc;

    /* A var a task published wins over the workflow's var of the same name. */
    if (r != NULL) {
        out->j = r->value;
        return WF_OK;
    }
    if (vars != NULL && json_object_object_get_ex(vars, n->key, &v)) {
        out->j = v;
        return WF_OK;
    }
    if (e->quiet > 0)
        return WF_EMISSING;
    if (vars == NULL || json_object_object_length(vars) == 0)
        return wf__tpl_fail(e, n, WF_EMISSING, "%.*s: no var '%s'; the workflow has no vars",
                            SRC_ARGS(e, n), n->key);
    list_keys(&sb, vars);
    rc = wf__tpl_fail(e, n, WF_EMISSING, "%.*s: no var '%s'; the vars are: %s", SRC_ARGS(e, n),
                      n->key, wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
    return rc;
}

static int eval_item(ev *e, const node *n, tval *out)
{
    const json_object *item = NULL;
    int64_t index = 0;

    if (!wf_ctx_item(e->ctx, &item, &index))
        return wf__tpl_fail(e, n, WF_EUNKNOWN, "'%s' is only defined in a task with with-items",
                            n->kind == N_ITEM ? "item" : "index");
    if (n->kind == N_ITEM) {
        out->j = item;
        return wf__tpl_resolve(e, n, out);
    }
    tval_take(out, json_object_new_int64(index));
    return WF_OK;
}

/* ---- operators ------------------------------------------------------------------ */

static const char *const op_text[] = {
    [OP_ADD] = "+", [OP_SUB] = "-", [OP_MUL] = "*",         [OP_DIV] = "/", [OP_MOD] = "%",
    [OP_EQ] = "==", [OP_NE] = "!=", [OP_LT] = "<",          [OP_LE] = "<=", [OP_GT] = ">",
    [OP_GE] = ">=", [OP_IN] = "in", [OP_NOT_IN] = "not in",
};

static int op_type_error(ev *e, const node *n, const tval *l, const tval *r, const char *want)
{
    return wf__tpl_fail(e, n, WF_ETYPE, "'%s' expects %s, got %s and %s", op_text[n->op], want,
                        wf_json_type_name(l->j), wf_json_type_name(r->j));
}

static int arith_int(ev *e, const node *n, int64_t a, int64_t b, tval *out)
{
    int64_t r = 0;
    bool ovf = false;

    switch (n->op) {
    case OP_ADD:
        ovf = __builtin_add_overflow(a, b, &r);
        break;
    case OP_SUB:
        ovf = __builtin_sub_overflow(a, b, &r);
        break;
    case OP_MUL:
        ovf = __builtin_mul_overflow(a, b, &r);
        break;
    case OP_DIV:
        if (b == 0)
            return wf__tpl_fail(e, n, WF_ERANGE, "division by zero");
        /* INT64_MIN / -1 does not fit; the decimal path below gives the right value. */
        if (b == -1 && a == INT64_MIN)
            return wf__tpl_new_double(e, n, -(double)a, out);
        if (a % b != 0)
            return wf__tpl_new_double(e, n, (double)a / (double)b, out);
        r = a / b;
        break;
    case OP_MOD:
        if (b == 0)
            return wf__tpl_fail(e, n, WF_ERANGE, "modulo by zero");
        r = b == -1 ? 0 : a % b;
        /* Like Python and Jinja, the result has the sign of the divisor. */
        if (r != 0 && ((r < 0) != (b < 0)))
            r += b;
        break;
    default:
        break;
    }
    if (ovf) {
        double da = (double)a, db = (double)b;

        return wf__tpl_new_double(e, n,
                                  n->op == OP_ADD   ? da + db
                                  : n->op == OP_SUB ? da - db
                                                    : da * db,
                                  out);
    }
    tval_take(out, json_object_new_int64(r));
    return WF_OK;
}

static int arith_double(ev *e, const node *n, double a, double b, tval *out)
{
    double r = 0;

    switch (n->op) {
    case OP_ADD:
        r = a + b;
        break;
    case OP_SUB:
        r = a - b;
        break;
    case OP_MUL:
        r = a * b;
        break;
    case OP_DIV:
        if (b == 0)
            return wf__tpl_fail(e, n, WF_ERANGE, "division by zero");
        r = a / b;
        break;
    case OP_MOD:
        if (b == 0)
            return wf__tpl_fail(e, n, WF_ERANGE, "modulo by zero");
        r = fmod(a, b);
        if (r != 0 && ((r < 0) != (b < 0)))
            r += b;
        break;
    default:
        break;
    }
    return wf__tpl_new_double(e, n, r, out);
}

static int concat(ev *e, const node *n, tval *l, tval *r, tval *out)
{
    if (tpl_is(l->j, json_type_string) && tpl_is(r->j, json_type_string)) {
        wf_strbuf sb = WF_STRBUF_INIT;
        size_t la, lb;
        const char *a = tpl_str(l->j, &la), *b = tpl_str(r->j, &lb);
        int rc = wf__tpl_check_string(e, n, "'+'", tpl_add(la, lb));

        if (rc != WF_OK)
            return rc;
        wf_strbuf_grow(&sb, la + lb);
        wf_strbuf_add(&sb, a, la);
        wf_strbuf_add(&sb, b, lb);
        tval_take(out, wf_json_check(json_object_new_string_len(sb.buf, (int)sb.len)));
        wf_strbuf_release(&sb);
        return WF_OK;
    }
    if (tpl_is(l->j, json_type_array) && tpl_is(r->j, json_type_array)) {
        size_t la = json_object_array_length(l->j), lb = json_object_array_length(r->j);
        int rc = wf__tpl_check_list(e, n, "'+'", tpl_add(la, lb));
        json_object *arr;

        if (rc != WF_OK)
            return rc;
        arr = wf_json_check(json_object_new_array_ext((int)(la + lb)));
        for (size_t i = 0; i < la; i++)
            wf_json_push(arr, wf_json_copy(json_object_array_get_idx(l->j, i)));
        for (size_t i = 0; i < lb; i++)
            wf_json_push(arr, wf_json_copy(json_object_array_get_idx(r->j, i)));
        tval_take(out, arr);
        return WF_OK;
    }
    return op_type_error(e, n, l, r, "two numbers, two strings or two lists");
}

static int cmp_order(ev *e, const node *n, const tval *l, const tval *r, int *c)
{
    int64_t ia = 0, ib = 0;
    double da = 0, db = 0;
    int ka = wf__tpl_num(l->j, &ia, &da), kb = wf__tpl_num(r->j, &ib, &db);

    if (ka == 1 && kb == 1) {
        *c = ia < ib ? -1 : ia > ib;
        return WF_OK;
    }
    if (ka != 0 && kb != 0) {
        if (ka == 1)
            da = (double)ia;
        if (kb == 1)
            db = (double)ib;
        *c = da < db ? -1 : da > db;
        return WF_OK;
    }
    if (tpl_is(l->j, json_type_string) && tpl_is(r->j, json_type_string)) {
        size_t la, lb;
        const char *a = tpl_str(l->j, &la), *b = tpl_str(r->j, &lb);
        int m = memcmp(a, b, la < lb ? la : lb);

        *c = m != 0 ? (m < 0 ? -1 : 1) : (la < lb ? -1 : la > lb);
        return WF_OK;
    }
    return op_type_error(e, n, l, r, "two numbers or two strings");
}

/* `x in c`: an element of a list, a substring of a string, a key of an object. */
static int contains(ev *e, const node *n, const json_object *c, const json_object *x, bool *res,
                    const char *who)
{
    if (tpl_is(c, json_type_array)) {
        size_t len = json_object_array_length(c);

        *res = false;
        for (size_t i = 0; i < len && !*res; i++)
            *res = wf_json_equal(json_object_array_get_idx(c, i), x);
        return WF_OK;
    }
    if (tpl_is(c, json_type_string) && tpl_is(x, json_type_string)) {
        size_t lc, lx;
        const char *sc = tpl_str(c, &lc), *sx = tpl_str(x, &lx);

        *res = false;
        for (size_t i = 0; i + lx <= lc && !*res; i++)
            *res = memcmp(sc + i, sx, lx) == 0;
        return WF_OK;
    }
    if (tpl_is(c, json_type_object) && tpl_is(x, json_type_string)) {
        *res = json_object_object_get_ex(c, tpl_str(x, NULL), NULL);
        return WF_OK;
    }
    if (who != NULL)
        return wf__tpl_fail(e, n, WF_ETYPE,
                            "%s: expects a list, a string and a string, or an object and a "
                            "string key, got %s and %s",
                            who, wf_json_type_name(c), wf_json_type_name(x));
    return wf__tpl_fail(e, n, WF_ETYPE,
                        "'%s' expects a value in a list, a string in a string, or a key in an "
                        "object, got %s %s %s",
                        op_text[n->op], wf_json_type_name(x), op_text[n->op], wf_json_type_name(c));
}

int wf__tpl_contains(ev *e, const node *n, const json_object *c, const json_object *x, bool *res)
{
    return contains(e, n, c, x, res, n->fn->name);
}

static int eval_bin(ev *e, const node *n, tval *out)
{
    tval l = TVAL_NULL, r = TVAL_NULL;
    int64_t ia = 0, ib = 0;
    double da = 0, db = 0;
    int rc, ka, kb, c = 0;
    bool b = false;

    rc = wf__tpl_eval_node(e, n->a, &l);
    if (rc != WF_OK)
        goto out;
    rc = wf__tpl_eval_node(e, n->b, &r);
    if (rc != WF_OK)
        goto out;
    switch (n->op) {
    case OP_ADD:
    case OP_SUB:
    case OP_MUL:
    case OP_DIV:
    case OP_MOD:
        ka = wf__tpl_num(l.j, &ia, &da);
        kb = wf__tpl_num(r.j, &ib, &db);
        if (ka == 1 && kb == 1) {
            rc = arith_int(e, n, ia, ib, out);
        } else if (ka != 0 && kb != 0) {
            rc = arith_double(e, n, ka == 1 ? (double)ia : da, kb == 1 ? (double)ib : db, out);
        } else if (n->op == OP_ADD) {
            rc = concat(e, n, &l, &r, out);
        } else {
            rc = op_type_error(e, n, &l, &r, "two numbers");
        }
        goto out;
    case OP_EQ:
    case OP_NE:
        set_bool(e, wf_json_equal(l.j, r.j) == (n->op == OP_EQ), out);
        goto out;
    case OP_IN:
    case OP_NOT_IN:
        rc = contains(e, n, r.j, l.j, &b, NULL);
        if (rc == WF_OK)
            set_bool(e, b == (n->op == OP_IN), out);
        goto out;
    default:
        rc = cmp_order(e, n, &l, &r, &c);
        if (rc != WF_OK)
            goto out;
        switch (n->op) {
        case OP_LT:
            b = c < 0;
            break;
        case OP_LE:
            b = c <= 0;
            break;
        case OP_GT:
            b = c > 0;
            break;
        default:
            b = c >= 0;
            break;
        }
        set_bool(e, b, out);
        goto out;
    }
out:
    tval_release(&r);
    tval_release(&l);
    return rc;
}

/* The left side of ?? and default(): a missing key or index, or null, gives way to the
 * right side. Other errors (wrong types, unknown tasks) are reported as usual. */
static int eval_fallback(ev *e, const node *a, const node *b, tval *out)
{
    int rc;

    e->quiet++;
    rc = wf__tpl_eval_node(e, a, out);
    e->quiet--;
    if (rc == WF_OK && out->j != NULL)
        return WF_OK;
    if (rc == WF_OK) {
        tval_release(out);
    } else if (rc != WF_EMISSING) {
        /* Evaluation is pure: running it again, not quietly, gives the same error with its
         * message. */
        if (e->quiet == 0)
            rc = wf__tpl_eval_node(e, a, out);
        return rc;
    }
    *out = (tval)TVAL_NULL;
    return wf__tpl_eval_node(e, b, out);
}

static int eval_list(ev *e, const node *n, tval *out)
{
    json_object *arr = wf_json_check(json_object_new_array_ext((int)n->nargs));
    int rc = WF_OK;

    for (size_t i = 0; i < n->nargs; i++) {
        tval v = TVAL_NULL;

        rc = wf__tpl_eval_node(e, n->args[i], &v);
        if (rc != WF_OK)
            goto out;
        wf_json_push(arr, wf__tpl_detach(&v));
    }
    tval_take(out, arr);
    arr = NULL;
out:
    json_object_put(arr);
    return rc;
}

static int eval_object(ev *e, const node *n, tval *out)
{
    json_object *obj = json_object_new_object();
    int rc = WF_OK;

    for (size_t i = 0; i < n->nargs; i++) {
        tval v = TVAL_NULL;

        rc = wf__tpl_eval_node(e, n->args[i], &v);
        if (rc != WF_OK)
            goto out;
        json_object_object_add(obj, n->keys[i], wf__tpl_detach(&v));
    }
    tval_take(out, obj);
    obj = NULL;
out:
    json_object_put(obj);
    return rc;
}

static int eval_call(ev *e, const node *n, tval *out)
{
    tval args[WF_TPL_MAX_ARGS];
    size_t done = 0;
    uint64_t lines;
    int rc = WF_OK;

    if (n->fn->flags & B_LAZY)
        return eval_fallback(e, n->args[0], n->args[1], out);
    for (; done < n->nargs; done++) {
        args[done] = (tval)TVAL_NULL;
        /* length needs no item of a with-items result loaded, nor a lines result by
         * reference (its lines were counted when it was kept). */
        if (n->fn->fn == wf__tpl_f_length)
            rc = wf__tpl_eval_lazy(e, n->args[done], &args[done]);
        else
            rc = wf__tpl_eval_node(e, n->args[done], &args[done]);
        if (rc != WF_OK)
            goto out;
    }
    if (n->fn->fn == wf__tpl_f_length && n->nargs == 1 && wf_ref_list_len(args[0].j, &lines)) {
        tval_take(out, json_object_new_int64((int64_t)lines));
        goto out;
    }
    rc = n->fn->fn(e, n, args, n->nargs, out);
out:
    for (size_t i = 0; i < done; i++)
        tval_release(&args[i]);
    return rc;
}

int wf__tpl_resolve(ev *e, const node *n, tval *v)
{
    const json_object *value;
    char *error = NULL;
    int rc;

    if (!wf_ref_is(v->j))
        return WF_OK;
    if (v->pin != NULL) {
        /* Already holding one pin (a reference inside a copy): take a copy of this one. */
        json_object *copy = wf_json_copy(v->j);

        tval_release(v);
        tval_take(v, copy);
        return WF_OK;
    }
    rc = wf_ref_pin(v->j, &value, &error);
    if (rc != WF_OK) {
        rc = wf__tpl_fail(e, n, rc, "%s", error);
        free(error);
        return rc;
    }
    v->pin = v->j;
    v->j = value;
    return WF_OK;
}

int wf__tpl_resolve_lines(ev *e, const node *n, tval *v)
{
    uint64_t lines;

    if (!wf_ref_list_len(v->j, &lines))
        return WF_OK;
    return wf__tpl_resolve(e, n, v);
}

/* A with-items result read whole: a list holding the item values, loaded (a copy, owned by
 * the evaluation), when some are references; as it is when none is. Refused when the items
 * it would load add up to more than the memory budget. */
static int load_items(ev *e, const node *n, tval *out)
{
    size_t len = json_object_array_length(out->j), refs = 0;
    uint64_t need = 0, budget = 0;
    json_object *list;
    wf_ref_info info;

    for (size_t i = 0; i < len; i++) {
        if (wf_ref_get_info(json_object_array_get_idx(out->j, i), &info)) {
            refs++;
            need += info.mem;
            budget = info.budget;
        }
    }
    if (refs == 0)
        return WF_OK;
    if (need > budget) {
        wf_strbuf a = WF_STRBUF_INIT, b = WF_STRBUF_INIT;
        int rc;

        wf_size_format(&a, need);
        wf_size_format(&b, budget);
        rc = wf__tpl_fail(e, n, WF_ERANGE,
                          "task '%s': its %zu item results are needed whole here, about %s in "
                          "memory, more than the memory budget for results (%s); raise it "
                          "with --memory or `memory:`, or read parts of it (| length, [index])",
                          n->key, len, a.buf, b.buf);
        wf_strbuf_release(&a);
        wf_strbuf_release(&b);
        return rc;
    }
    list = wf_json_copy(out->j);
    out->j = list;
    out->own = list;
    return WF_OK;
}

int wf__tpl_eval_lazy(ev *e, const node *n, tval *out)
{
    uint64_t lines;

    if (n->kind != N_TASK)
        return wf__tpl_eval_node(e, n, out);
    {
        const wf_result *r = wf_results_get(wf_ctx_results(e->ctx), n->key);

        *out = (tval)TVAL_NULL;
        if (r == NULL)
            return wf__tpl_fail(e, n, WF_EUNKNOWN, "task '%s' has not run", n->key);
        out->j = r->value;
        out->res = r;
        out->task = n->key;
        out->at_root = true;
        /* A plain task's value by reference is loaded whole; a list is left as it is, and so
         * is a lines result by reference (read by index or length; the callers that need it
         * whole load it with wf__tpl_resolve_lines). */
        if (wf_ref_list_len(out->j, &lines))
            return WF_OK;
        return wf__tpl_resolve(e, n, out);
    }
}

int wf__tpl_eval_node(ev *e, const node *n, tval *out)
{
    tval a = TVAL_NULL;
    int64_t i;
    double d;
    bool yes;
    int rc;

    *out = (tval)TVAL_NULL;
    switch (n->kind) {
    case N_LIT:
        out->j = n->lit;
        return WF_OK;
    case N_LIST:
        return eval_list(e, n, out);
    case N_OBJECT:
        return eval_object(e, n, out);
    case N_INPUTS:
        out->j = wf_ctx_inputs(e->ctx);
        return WF_OK;
    case N_ENV:
        out->j = wf_ctx_env(e->ctx);
        return WF_OK;
    case N_WORKFLOW: {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(wf_ctx_workflow_name(e->ctx)));
        json_object_object_add(o, "run_id", json_object_new_string(wf_ctx_run_id(e->ctx)));
        tval_take(out, o);
        return WF_OK;
    }
    case N_WF_NAME:
        tval_take(out, json_object_new_string(wf_ctx_workflow_name(e->ctx)));
        return WF_OK;
    case N_WF_RUN_ID:
        tval_take(out, json_object_new_string(wf_ctx_run_id(e->ctx)));
        return WF_OK;
    case N_VAR:
        return eval_var(e, n, out);
    case N_TASK:
        rc = wf__tpl_eval_lazy(e, n, out);
        if (rc == WF_OK)
            rc = wf__tpl_resolve_lines(e, n, out);
        if (rc == WF_OK && tpl_is(out->j, json_type_array))
            rc = load_items(e, n, out);
        return rc;
    case N_ITEM:
    case N_INDEX:
        return eval_item(e, n, out);
    case N_GET:
        return eval_get(e, n, out);
    case N_NEG:
        rc = wf__tpl_eval_node(e, n->a, &a);
        if (rc != WF_OK)
            return rc;
        switch (wf__tpl_num(a.j, &i, &d)) {
        case 1:
            if (i == INT64_MIN)
                rc = wf__tpl_new_double(e, n, -(double)i, out);
            else
                tval_take(out, json_object_new_int64(-i));
            break;
        case 2:
            rc = wf__tpl_new_double(e, n, -d, out);
            break;
        default:
            rc = wf__tpl_fail(e, n, WF_ETYPE, "'-' expects a number, got %s",
                              wf_json_type_name(a.j));
            break;
        }
        tval_release(&a);
        return rc;
    case N_NOT:
        rc = wf__tpl_eval_node(e, n->a, &a);
        if (rc != WF_OK)
            return rc;
        set_bool(e, !wf__tpl_truthy(a.j), out);
        tval_release(&a);
        return WF_OK;
    case N_BIN:
        return eval_bin(e, n, out);
    case N_AND:
    case N_OR:
        /* Like Python and Jinja: the operand that decided, not a boolean. */
        rc = wf__tpl_eval_node(e, n->a, out);
        if (rc != WF_OK || wf__tpl_truthy(out->j) == (n->kind == N_OR))
            return rc;
        tval_release(out);
        return wf__tpl_eval_node(e, n->b, out);
    case N_COAL:
        return eval_fallback(e, n->a, n->b, out);
    case N_COND:
        rc = wf__tpl_eval_node(e, n->a, out);
        if (rc != WF_OK)
            return rc;
        yes = wf__tpl_truthy(out->j);
        tval_release(out);
        return wf__tpl_eval_node(e, yes ? n->b : n->args[0], out);
    case N_CALL:
        return eval_call(e, n, out);
    }
    return WF_EINVAL;
}
