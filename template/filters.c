/* The filters and functions of the template language. Each takes its arguments already
 * evaluated (the value before `|` first) and either returns an owned new value or passes on a
 * borrowed part of an argument. Arity was checked at compile time; types are checked here. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

#define FN(name) static int name(ev *e, const node *call, tval *a, size_t nargs, tval *out)
#define UNUSED_ARGS \
    (void)e;        \
    (void)call;     \
    (void)a;        \
    (void)nargs;    \
    (void)out

static bool is_type(const tval *v, enum json_type t)
{
    return tpl_is(v->j, t);
}

/* out becomes j, a part of from, carrying from's ownership along. */
static void pass_on(tval *from, const json_object *j, tval *out)
{
    out->j = j;
    out->own = from->own;
    from->own = NULL;
}

static void new_string(tval *out, const char *s, size_t len)
{
    tval_take(out, wf_json_check(json_object_new_string_len(s, (int)len)));
}

/* An empty list with room for n elements (n within WF_MAX_LIST_LEN, or a length json-c
 * already holds). */
static json_object *new_list(size_t n)
{
    return wf_json_check(json_object_new_array_ext(n > 0 ? (int)n : 1));
}

static void new_bool(ev *e, bool b, tval *out)
{
    out->j = b ? e->t->c_true : e->t->c_false;
}

static size_t alen(const tval *v)
{
    return json_object_array_length(v->j);
}

static const json_object *aget(const tval *v, size_t i)
{
    return json_object_array_get_idx(v->j, i);
}

int wf__tpl_type_error(ev *e, const node *call, const tval *args, size_t nargs)
{
    wf_strbuf got = WF_STRBUF_INIT;
    int rc;

    for (size_t i = 0; i < nargs; i++) {
        if (i > 0)
            wf_strbuf_adds(&got, i + 1 == nargs ? " and " : ", ");
        wf_strbuf_adds(&got, wf_json_type_name(args[i].j));
    }
    rc = wf__tpl_fail(e, call, WF_ETYPE, "%s: expects %s, got %s", call->fn->name, call->fn->takes,
                      wf_strbuf_str(&got));
    wf_strbuf_release(&got);
    return rc;
}

/* An element of a list argument has the wrong type. */
static int elem_error(ev *e, const node *call, const json_object *el, size_t i)
{
    return wf__tpl_fail(e, call, WF_ETYPE, "%s: expects %s, got a list with %s at index %zu",
                        call->fn->name, call->fn->takes, wf_json_type_name(el), i);
}

/* ---- collections ------------------------------------------------------------------ */

FN(f_length)
{
    int64_t n = 0;

    (void)nargs;
    if (is_type(&a[0], json_type_string)) {
        size_t len;
        const char *s = tpl_str(a[0].j, &len);

        /* Characters, not bytes: count every byte that does not continue a UTF-8 sequence. */
        for (size_t i = 0; i < len; i++)
            n += ((unsigned char)s[i] & 0xC0) != 0x80;
    } else if (is_type(&a[0], json_type_array)) {
        n = (int64_t)alen(&a[0]);
    } else if (is_type(&a[0], json_type_object)) {
        n = json_object_object_length(a[0].j);
    } else {
        return wf__tpl_type_error(e, call, a, 1);
    }
    tval_take(out, json_object_new_int64(n));
    return WF_OK;
}

static int kv_list(ev *e, const node *call, tval *a, tval *out, int what)
{
    json_object *arr;
    struct lh_entry *ent;

    if (!is_type(&a[0], json_type_object))
        return wf__tpl_type_error(e, call, a, 1);
    arr = new_list((size_t)json_object_object_length(a[0].j));
    for (ent = json_object_get_object(a[0].j)->head; ent != NULL; ent = ent->next) {
        const char *k = (const char *)ent->k;
        const json_object *v = (const json_object *)ent->v;

        if (what == 0) {
            wf_json_push(arr, json_object_new_string(k));
        } else if (what == 1) {
            wf_json_push(arr, wf_json_copy(v));
        } else {
            json_object *kv = json_object_new_object();

            json_object_object_add(kv, "key", json_object_new_string(k));
            json_object_object_add(kv, "value", wf_json_copy(v));
            wf_json_push(arr, kv);
        }
    }
    tval_take(out, arr);
    return WF_OK;
}

FN(f_keys)
{
    (void)nargs;
    return kv_list(e, call, a, out, 0);
}

FN(f_values)
{
    (void)nargs;
    return kv_list(e, call, a, out, 1);
}

FN(f_items)
{
    (void)nargs;
    return kv_list(e, call, a, out, 2);
}

static int first_last(ev *e, const node *call, tval *a, tval *out, bool last)
{
    size_t n;

    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = alen(&a[0]);
    if (n == 0)
        return wf__tpl_fail(e, call, WF_EMISSING, "%s: the list is empty", call->fn->name);
    pass_on(&a[0], aget(&a[0], last ? n - 1 : 0), out);
    return WF_OK;
}

FN(f_first)
{
    (void)nargs;
    return first_last(e, call, a, out, false);
}

FN(f_last)
{
    (void)nargs;
    return first_last(e, call, a, out, true);
}

FN(f_reverse)
{
    (void)nargs;
    if (is_type(&a[0], json_type_array)) {
        size_t n = alen(&a[0]);
        json_object *arr = new_list(n);

        for (size_t i = n; i > 0; i--)
            wf_json_push(arr, wf_json_copy(aget(&a[0], i - 1)));
        tval_take(out, arr);
        return WF_OK;
    }
    if (is_type(&a[0], json_type_string)) {
        size_t len, i;
        const char *s = tpl_str(a[0].j, &len);
        char *r = wf_xmalloc(len + 1);

        /* Reverse by characters: copy each UTF-8 sequence whole. */
        i = len;
        for (size_t k = 0; k < len;) {
            size_t cl = 1;

            while (k + cl < len && ((unsigned char)s[k + cl] & 0xC0) == 0x80)
                cl++;
            i -= cl;
            memcpy(r + i, s + k, cl);
            k += cl;
        }
        new_string(out, r, len);
        free(r);
        return WF_OK;
    }
    return wf__tpl_type_error(e, call, a, 1);
}

typedef struct sort_el {
    const json_object *j;
    size_t idx;
    int64_t i;
    double d;
    int kind; /* 1 int, 2 decimal, 3 string */
} sort_el;

static int cmp_sort_el(const void *pa, const void *pb)
{
    const sort_el *x = pa, *y = pb;
    int c = 0;

    if (x->kind == 3) {
        size_t lx, ly;
        const char *sx = tpl_str(x->j, &lx), *sy = tpl_str(y->j, &ly);
        int m = memcmp(sx, sy, lx < ly ? lx : ly);

        c = m != 0 ? m : (lx < ly ? -1 : lx > ly);
    } else if (x->kind == 1 && y->kind == 1) {
        c = x->i < y->i ? -1 : x->i > y->i;
    } else {
        double dx = x->kind == 1 ? (double)x->i : x->d, dy = y->kind == 1 ? (double)y->i : y->d;

        c = dx < dy ? -1 : dx > dy;
    }
    /* The original position breaks ties, which makes the sort stable. */
    if (c == 0)
        c = x->idx < y->idx ? -1 : x->idx > y->idx;
    return c;
}

/* Reads the elements of a list that must be all numbers or all strings. */
static int order_elems(ev *e, const node *call, tval *a, sort_el **out)
{
    size_t n = alen(&a[0]);
    sort_el *v = wf_xcalloc(n ? n : 1, sizeof(*v));
    int kind0 = 0;

    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k);
        int kind = wf__tpl_num(el, &v[k].i, &v[k].d);

        if (kind == 0 && tpl_is(el, json_type_string))
            kind = 3;
        if (kind == 0 || (k > 0 && (kind == 3) != (kind0 == 3))) {
            free(v);
            return elem_error(e, call, el, k);
        }
        kind0 = kind;
        v[k].j = el;
        v[k].idx = k;
        v[k].kind = kind;
    }
    *out = v;
    return WF_OK;
}

FN(f_sort)
{
    sort_el *v = NULL;
    json_object *arr;
    size_t n;
    int rc;

    (void)nargs;
    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    rc = order_elems(e, call, a, &v);
    if (rc != WF_OK)
        return rc;
    n = alen(&a[0]);
    qsort(v, n, sizeof(*v), cmp_sort_el);
    arr = new_list(n);
    for (size_t k = 0; k < n; k++)
        wf_json_push(arr, wf_json_copy(v[k].j));
    free(v);
    tval_take(out, arr);
    return WF_OK;
}

static int min_max(ev *e, const node *call, tval *a, tval *out, int sign)
{
    sort_el *v = NULL;
    size_t n, best = 0;
    int rc;

    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = alen(&a[0]);
    if (n == 0)
        return wf__tpl_fail(e, call, WF_EMISSING, "%s: the list is empty", call->fn->name);
    rc = order_elems(e, call, a, &v);
    if (rc != WF_OK)
        return rc;
    for (size_t k = 1; k < n; k++) {
        /* Ties keep the first: compare without the index tie-break. */
        sort_el x = v[k], y = v[best];

        x.idx = y.idx = 0;
        if (cmp_sort_el(&x, &y) * sign > 0)
            best = k;
    }
    pass_on(&a[0], v[best].j, out);
    free(v);
    return WF_OK;
}

FN(f_min)
{
    (void)nargs;
    return min_max(e, call, a, out, -1);
}

FN(f_max)
{
    (void)nargs;
    return min_max(e, call, a, out, 1);
}

/* A hash consistent with wf_json_equal: 1 and 1.0 hash alike, key order does not matter. */
static uint64_t value_hash(const json_object *j)
{
    uint64_t h = 1469598103934665603ull;
    int64_t i;
    double d;
    size_t len;
    const char *s;

    switch (j == NULL ? json_type_null : json_object_get_type(j)) {
    case json_type_null:
        return 1;
    case json_type_boolean:
        return json_object_get_boolean(j) ? 2 : 3;
    case json_type_int:
    case json_type_double: {
        uint64_t bits;

        if (wf__tpl_num(j, &i, &d) == 1)
            d = (double)i;
        if (d == 0)
            d = 0; /* -0.0 equals 0.0 */
        memcpy(&bits, &d, sizeof(bits));
        return bits * 0x9E3779B97F4A7C15ull;
    }
    case json_type_string:
        s = tpl_str(j, &len);
        for (size_t k = 0; k < len; k++)
            h = (h ^ (unsigned char)s[k]) * 1099511628211ull;
        return h;
    case json_type_array:
        len = json_object_array_length(j);
        h = 7;
        for (size_t k = 0; k < len; k++)
            h = h * 31 + value_hash(json_object_array_get_idx(j, k));
        return h;
    case json_type_object: {
        struct lh_entry *ent = json_object_get_object(j)->head;

        h = 11;
        for (; ent != NULL; ent = ent->next) {
            uint64_t kh = 1469598103934665603ull;

            for (s = ent->k; *s != '\0'; s++)
                kh = (kh ^ (unsigned char)*s) * 1099511628211ull;
            h += (kh ^ value_hash(ent->v)) * 0x9E3779B97F4A7C15ull;
        }
        return h;
    }
    }
    return 0;
}

FN(f_unique)
{
    size_t n, cap = 16, *slots;
    json_object *arr;

    (void)nargs;
    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = alen(&a[0]);
    while (cap < 2 * n)
        cap *= 2;
    /* Open addressing over element indices (+1; 0 is empty): O(n) expected. */
    slots = wf_xcalloc(cap, sizeof(*slots));
    arr = new_list(0);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k);
        size_t s = (size_t)value_hash(el) & (cap - 1);
        bool seen = false;

        while (slots[s] != 0 && !seen) {
            seen = wf_json_equal(aget(&a[0], slots[s] - 1), el);
            s = (s + 1) & (cap - 1);
        }
        if (seen)
            continue;
        slots[s] = k + 1;
        wf_json_push(arr, wf_json_copy(el));
    }
    free(slots);
    tval_take(out, arr);
    return WF_OK;
}

FN(f_flatten)
{
    json_object *arr;
    size_t n, total = 0;
    int rc;

    (void)nargs;
    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = alen(&a[0]);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k);

        total = tpl_add(total, tpl_is(el, json_type_array) ? json_object_array_length(el) : 1);
    }
    rc = wf__tpl_check_list(e, call, "flatten", total);
    if (rc != WF_OK)
        return rc;
    arr = new_list(total);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k);

        if (tpl_is(el, json_type_array)) {
            size_t m = json_object_array_length(el);

            for (size_t q = 0; q < m; q++)
                wf_json_push(arr, wf_json_copy(json_object_array_get_idx(el, q)));
        } else {
            wf_json_push(arr, wf_json_copy(el));
        }
    }
    tval_take(out, arr);
    return WF_OK;
}

FN(f_join)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    const char *sep = "";
    size_t seplen = 0, n;
    int rc;

    if (!is_type(&a[0], json_type_array) || (nargs > 1 && !is_type(&a[1], json_type_string)))
        return wf__tpl_type_error(e, call, a, nargs);
    if (nargs > 1)
        sep = tpl_str(a[1].j, &seplen);
    n = alen(&a[0]);
    /* The separators alone are known now; each element's text is checked as it is added,
     * so the buffer never holds more than the cap plus one element's text. */
    rc = wf__tpl_check_string(e, call, "join",
                              n > 1 && seplen > SIZE_MAX / (n - 1) ? SIZE_MAX
                                                                   : (n > 1 ? n - 1 : 0) * seplen);
    if (rc != WF_OK)
        return rc;
    wf_strbuf_add(&sb, "", 0);
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            wf_strbuf_add(&sb, sep, seplen);
        wf_tpl_text_form(&sb, aget(&a[0], k));
        if (sb.len > WF_MAX_STRING_LEN) {
            /* What the whole would be is unknown without building it: name a lower bound. */
            size_t got = sb.len;

            wf_strbuf_release(&sb);
            return wf__tpl_fail(e, call, WF_ERANGE,
                                "join would make a string of more than %zu bytes (%zu of %zu "
                                "elements joined), more than the %zu allowed (64 MiB)",
                                got, k + 1, n, (size_t)WF_MAX_STRING_LEN);
        }
    }
    new_string(out, sb.buf, sb.len);
    wf_strbuf_release(&sb);
    return WF_OK;
}

FN(f_split)
{
    size_t len, seplen, start = 0, pieces = 1;
    int rc;
    const char *s, *sep;
    json_object *arr;

    (void)nargs;
    if (!is_type(&a[0], json_type_string) || !is_type(&a[1], json_type_string))
        return wf__tpl_type_error(e, call, a, 2);
    s = tpl_str(a[0].j, &len);
    sep = tpl_str(a[1].j, &seplen);
    if (seplen == 0)
        return wf__tpl_fail(e, call, WF_EINVAL, "split: the separator is empty");
    for (size_t i = 0; i + seplen <= len;) {
        if (memcmp(s + i, sep, seplen) == 0) {
            pieces++;
            i += seplen;
        } else {
            i++;
        }
    }
    rc = wf__tpl_check_list(e, call, "split", pieces);
    if (rc != WF_OK)
        return rc;
    arr = new_list(pieces);
    for (size_t i = 0; i + seplen <= len;) {
        if (memcmp(s + i, sep, seplen) == 0) {
            wf_json_push(arr, json_object_new_string_len(s + start, (int)(i - start)));
            i += seplen;
            start = i;
        } else {
            i++;
        }
    }
    wf_json_push(arr, json_object_new_string_len(s + start, (int)(len - start)));
    tval_take(out, arr);
    return WF_OK;
}

FN(f_lines)
{
    size_t len, start = 0, count = 0;
    int rc;
    const char *s;
    json_object *arr;

    (void)nargs;
    if (!is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    s = tpl_str(a[0].j, &len);
    for (const char *p = s, *end = s + len; p < end; p++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));

        count++;
        if (nl == NULL)
            break;
        p = nl;
    }
    rc = wf__tpl_check_list(e, call, "lines", count);
    if (rc != WF_OK)
        return rc;
    arr = new_list(count);
    while (start < len) {
        const char *nl = memchr(s + start, '\n', len - start);
        size_t end = nl != NULL ? (size_t)(nl - s) : len, stop = end;

        if (stop > start && s[stop - 1] == '\r')
            stop--;
        wf_json_push(arr, json_object_new_string_len(s + start, (int)(stop - start)));
        start = end + 1;
    }
    tval_take(out, arr);
    return WF_OK;
}

/* ---- strings ---------------------------------------------------------------------- */

static int change_case(ev *e, const node *call, tval *a, tval *out, bool up)
{
    size_t len;
    const char *s;
    char *r;

    if (!is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    s = tpl_str(a[0].j, &len);
    r = wf_xmalloc(len + 1);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (up && c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        else if (!up && c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        r[i] = c;
    }
    new_string(out, r, len);
    free(r);
    return WF_OK;
}

FN(f_upper)
{
    (void)nargs;
    return change_case(e, call, a, out, true);
}

FN(f_lower)
{
    (void)nargs;
    return change_case(e, call, a, out, false);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

FN(f_trim)
{
    size_t len, b = 0;
    const char *s;

    (void)nargs;
    if (!is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    s = tpl_str(a[0].j, &len);
    while (b < len && is_space(s[b]))
        b++;
    while (len > b && is_space(s[len - 1]))
        len--;
    new_string(out, s + b, len - b);
    return WF_OK;
}

FN(f_replace)
{
    size_t len, la, lb, hits = 0, size;
    int rc;
    const char *s, *x, *y;
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)nargs;
    if (!is_type(&a[0], json_type_string) || !is_type(&a[1], json_type_string) ||
        !is_type(&a[2], json_type_string))
        return wf__tpl_type_error(e, call, a, 3);
    s = tpl_str(a[0].j, &len);
    x = tpl_str(a[1].j, &la);
    y = tpl_str(a[2].j, &lb);
    if (la == 0)
        return wf__tpl_fail(e, call, WF_EINVAL, "replace: the text to replace is empty");
    /* The result's size, counted before building it: len + hits * (lb - la). */
    for (size_t i = 0; i + la <= len;) {
        if (memcmp(s + i, x, la) == 0) {
            hits++;
            i += la;
        } else {
            i++;
        }
    }
    if (lb > la)
        size = hits > 0 && lb - la > SIZE_MAX / hits ? SIZE_MAX : tpl_add(len, hits * (lb - la));
    else
        size = len - hits * (la - lb);
    rc = wf__tpl_check_string(e, call, "replace", size);
    if (rc != WF_OK)
        return rc;
    wf_strbuf_grow(&sb, size);
    for (size_t i = 0; i < len;) {
        if (i + la <= len && memcmp(s + i, x, la) == 0) {
            wf_strbuf_add(&sb, y, lb);
            i += la;
        } else {
            wf_strbuf_addc(&sb, s[i]);
            i++;
        }
    }
    new_string(out, sb.buf, sb.len);
    wf_strbuf_release(&sb);
    return WF_OK;
}

static int affix(ev *e, const node *call, tval *a, tval *out, bool start)
{
    size_t len, lp;
    const char *s, *p;

    if (!is_type(&a[0], json_type_string) || !is_type(&a[1], json_type_string))
        return wf__tpl_type_error(e, call, a, 2);
    s = tpl_str(a[0].j, &len);
    p = tpl_str(a[1].j, &lp);
    new_bool(e, lp <= len && memcmp(start ? s : s + len - lp, p, lp) == 0, out);
    return WF_OK;
}

FN(f_startswith)
{
    (void)nargs;
    return affix(e, call, a, out, true);
}

FN(f_endswith)
{
    (void)nargs;
    return affix(e, call, a, out, false);
}

FN(f_contains)
{
    bool r = false;
    int rc;

    (void)nargs;
    rc = wf__tpl_contains(e, call, a[0].j, a[1].j, &r);
    if (rc == WF_OK)
        new_bool(e, r, out);
    return rc;
}

/* ---- conversions ------------------------------------------------------------------ */

/* Whether s is a decimal number as JSON writes it, with optional spaces around it. */
static bool numeric_text(const char *s, size_t len, bool *has_frac)
{
    size_t i = 0, digits = 0;

    *has_frac = false;
    while (i < len && is_space(s[i]))
        i++;
    while (len > i && is_space(s[len - 1]))
        len--;
    if (i < len && (s[i] == '-' || s[i] == '+'))
        i++;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
        digits++;
    if (i < len && s[i] == '.') {
        *has_frac = true;
        for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            digits++;
    }
    if (digits == 0)
        return false;
    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        size_t ed = 0;

        *has_frac = true;
        i++;
        if (i < len && (s[i] == '-' || s[i] == '+'))
            i++;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
            ed++;
        if (ed == 0)
            return false;
    }
    return i == len;
}

/* A copy of a string without NULs cut short: strtod/strtoll need a C string. */
static char *cstr(const json_object *j, size_t *len)
{
    const char *s = tpl_str(j, len);

    return wf_xstrndup(s, *len);
}

FN(f_int)
{
    int64_t i;
    double d;

    (void)nargs;
    switch (wf__tpl_num(a[0].j, &i, &d)) {
    case 1:
        pass_on(&a[0], a[0].j, out);
        return WF_OK;
    case 2:
        if (!(d > -9223372036854775808.0 - 1 && d < 9223372036854775808.0))
            return wf__tpl_fail(e, call, WF_ERANGE, "int: the number is too large for an integer");
        tval_take(out, json_object_new_int64((int64_t)d));
        return WF_OK;
    default:
        break;
    }
    if (is_type(&a[0], json_type_boolean)) {
        tval_take(out, json_object_new_int64(json_object_get_boolean(a[0].j) ? 1 : 0));
        return WF_OK;
    }
    if (is_type(&a[0], json_type_string)) {
        size_t len;
        bool frac;
        char *s = cstr(a[0].j, &len);
        long long v;
        int rc = WF_OK;

        if (strlen(s) != len || !numeric_text(s, len, &frac) || frac) {
            rc = wf__tpl_fail(e, call, WF_EINVAL, "int: \"%.40s\" is not an integer", s);
        } else {
            errno = 0;
            v = strtoll(s, NULL, 10);
            if (errno == ERANGE)
                rc = wf__tpl_fail(e, call, WF_ERANGE, "int: \"%.40s\" is too large", s);
            else
                tval_take(out, json_object_new_int64((int64_t)v));
        }
        free(s);
        return rc;
    }
    return wf__tpl_type_error(e, call, a, 1);
}

FN(f_float)
{
    int64_t i;
    double d;

    (void)nargs;
    switch (wf__tpl_num(a[0].j, &i, &d)) {
    case 1:
        return wf__tpl_new_double(e, call, (double)i, out);
    case 2:
        pass_on(&a[0], a[0].j, out);
        return WF_OK;
    default:
        break;
    }
    if (is_type(&a[0], json_type_boolean))
        return wf__tpl_new_double(e, call, json_object_get_boolean(a[0].j) ? 1.0 : 0.0, out);
    if (is_type(&a[0], json_type_string)) {
        size_t len;
        bool frac;
        char *s = cstr(a[0].j, &len);
        int rc;

        if (strlen(s) != len || !numeric_text(s, len, &frac))
            rc = wf__tpl_fail(e, call, WF_EINVAL, "float: \"%.40s\" is not a number", s);
        else
            rc = wf__tpl_new_double(e, call, strtod(s, NULL), out);
        free(s);
        return rc;
    }
    return wf__tpl_type_error(e, call, a, 1);
}

/* The text of a value becomes a string unless it is over the cap. The text of a value that
 * exists is at most a few times its size in memory, so it is measured, not predicted. */
static int text_result(ev *e, const node *call, wf_strbuf *sb, tval *out)
{
    int rc = wf__tpl_check_string(e, call, call->fn->name, sb->len);

    if (rc == WF_OK)
        new_string(out, sb->buf, sb->len);
    wf_strbuf_release(sb);
    return rc;
}

FN(f_string)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)e;
    (void)call;
    (void)nargs;
    if (is_type(&a[0], json_type_string)) {
        pass_on(&a[0], a[0].j, out);
        return WF_OK;
    }
    wf_strbuf_add(&sb, "", 0);
    wf_tpl_text_form(&sb, a[0].j);
    return text_result(e, call, &sb, out);
}

static bool word_is(const char *s, size_t len, const char *w)
{
    size_t n = strlen(w);

    if (n != len)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != w[i])
            return false;
    }
    return true;
}

FN(f_bool)
{
    static const char *const yes[] = { "true", "yes", "on", "1", NULL };
    static const char *const no[] = { "false", "no", "off", "0", "", NULL };

    (void)nargs;
    if (is_type(&a[0], json_type_string)) {
        size_t len;
        const char *s = tpl_str(a[0].j, &len);

        for (size_t i = 0; yes[i] != NULL; i++) {
            if (word_is(s, len, yes[i])) {
                new_bool(e, true, out);
                return WF_OK;
            }
        }
        for (size_t i = 0; no[i] != NULL; i++) {
            if (word_is(s, len, no[i])) {
                new_bool(e, false, out);
                return WF_OK;
            }
        }
        return wf__tpl_fail(e, call, WF_EINVAL,
                            "bool: \"%.40s\" is not true/false, yes/no, on/off or 1/0", s);
    }
    new_bool(e, wf__tpl_truthy(a[0].j), out);
    return WF_OK;
}

FN(f_json)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)e;
    (void)call;
    (void)nargs;
    wf_json_write(&sb, a[0].j);
    return text_result(e, call, &sb, out);
}

FN(f_fromjson)
{
    json_tokener *tok;
    json_object *v;
    size_t len, off;
    const char *s;
    int rc = WF_OK;

    (void)nargs;
    if (!is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    s = tpl_str(a[0].j, &len);
    tok = json_tokener_new();
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, s, (int)len);
    off = json_tokener_get_parse_end(tok);
    if (json_tokener_get_error(tok) == json_tokener_continue) {
        rc = wf__tpl_fail(e, call, WF_EINVAL, "fromjson: invalid JSON: unexpected end of text");
        goto out;
    }
    if (json_tokener_get_error(tok) != json_tokener_success) {
        rc = wf__tpl_fail(e, call, WF_EINVAL, "fromjson: invalid JSON at offset %zu: %s", off,
                          json_tokener_error_desc(json_tokener_get_error(tok)));
        goto out;
    }
    while (off < len && is_space(s[off]))
        off++;
    if (off < len) {
        rc = wf__tpl_fail(e, call, WF_EINVAL,
                          "fromjson: invalid JSON at offset %zu: text after the value", off);
        goto out;
    }
    tval_take(out, v);
    v = NULL;
out:
    json_object_put(v);
    json_tokener_free(tok);
    return rc;
}

FN(f_quote)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)e;
    (void)call;
    (void)nargs;
    wf_strbuf_add(&sb, "", 0);
    wf__tpl_shell_form(&sb, a[0].j);
    new_string(out, sb.buf, sb.len);
    wf_strbuf_release(&sb);
    return WF_OK;
}

FN(f_raw)
{
    (void)e;
    (void)call;
    (void)nargs;
    pass_on(&a[0], a[0].j, out);
    return WF_OK;
}

/* ---- paths over lists --------------------------------------------------------------- */

/* Follows a dotted path ("a.b", "servers.0.name") inside v. Returns the value, or sets *what
 * to why it is not there. */
static bool walk(const json_object *v, const char *path, size_t plen, const json_object **out,
                 const char **what)
{
    size_t i = 0;

    while (i <= plen) {
        const char *seg = path + i, *dot = memchr(seg, '.', plen - i);
        size_t n = dot != NULL ? (size_t)(dot - seg) : plen - i;
        char key[256];
        json_object *child = NULL;

        if (n >= sizeof(key)) {
            *what = "a path segment is too long";
            return false;
        }
        memcpy(key, seg, n);
        key[n] = '\0';
        if (tpl_is(v, json_type_object)) {
            if (!json_object_object_get_ex(v, key, &child)) {
                *what = "the key is missing";
                return false;
            }
        } else if (tpl_is(v, json_type_array)) {
            char *end = NULL;
            long long k = strtoll(key, &end, 10);
            size_t len = json_object_array_length(v);

            if (n == 0 || *end != '\0') {
                *what = "it is a list";
                return false;
            }
            if (k < 0)
                k += (long long)len;
            if (k < 0 || (size_t)k >= len) {
                *what = "the index is out of range";
                return false;
            }
            child = json_object_array_get_idx(v, (size_t)k);
        } else {
            *what = v == NULL ? "it is null" : "it is not an object";
            return false;
        }
        v = child;
        i += n + 1;
    }
    *out = v;
    return true;
}

static int map_select(ev *e, const node *call, tval *a, tval *out, bool select)
{
    size_t n, plen;
    const char *path;
    json_object *arr;

    if (!is_type(&a[0], json_type_array) || !is_type(&a[1], json_type_string))
        return wf__tpl_type_error(e, call, a, 2);
    path = tpl_str(a[1].j, &plen);
    if (plen == 0)
        return wf__tpl_fail(e, call, WF_EINVAL, "%s: the path is empty", call->fn->name);
    n = alen(&a[0]);
    arr = new_list(0);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k), *v = NULL;
        const char *what = NULL;
        bool found = walk(el, path, plen, &v, &what);

        if (select) {
            if (found && wf__tpl_truthy(v))
                wf_json_push(arr, wf_json_copy(el));
        } else if (found) {
            wf_json_push(arr, wf_json_copy(v));
        } else {
            json_object_put(arr);
            return wf__tpl_fail(e, call, WF_EMISSING,
                                "map: element %zu has no \"%.*s\" (%s; element %zu is %s)", k,
                                (int)plen, path, what, k, wf__tpl_a_type(el));
        }
    }
    tval_take(out, arr);
    return WF_OK;
}

FN(f_map)
{
    (void)nargs;
    return map_select(e, call, a, out, false);
}

FN(f_select)
{
    (void)nargs;
    return map_select(e, call, a, out, true);
}

FN(f_range)
{
    int64_t lo = 0, hi = 0, count;
    double d;
    json_object *arr;

    if (wf__tpl_num(a[0].j, nargs == 1 ? &hi : &lo, &d) != 1 ||
        (nargs == 2 && wf__tpl_num(a[1].j, &hi, &d) != 1))
        return wf__tpl_type_error(e, call, a, nargs);
    count = hi > lo ? (int64_t)((uint64_t)hi - (uint64_t)lo) : 0;
    if (hi > lo && (count < 0 || count > WF_MAX_LIST_LEN))
        return wf__tpl_fail(e, call, WF_ERANGE, "range: %lld numbers is more than the %d allowed",
                            (long long)((double)hi - (double)lo), WF_MAX_LIST_LEN);
    arr = new_list((size_t)count);
    for (int64_t i = 0; i < count; i++)
        wf_json_push(arr, json_object_new_int64(lo + i));
    tval_take(out, arr);
    return WF_OK;
}

FN(f_chunks)
{
    int64_t size = 0;
    double d;
    size_t n;
    json_object *arr, *chunk = NULL;

    (void)nargs;
    if (!is_type(&a[0], json_type_array) || wf__tpl_num(a[1].j, &size, &d) != 1)
        return wf__tpl_type_error(e, call, a, 2);
    if (size < 1)
        return wf__tpl_fail(e, call, WF_EINVAL, "chunks: the size must be at least 1, got %lld",
                            (long long)size);
    n = alen(&a[0]);
    arr = new_list(0);
    for (size_t k = 0; k < n; k++) {
        if (chunk == NULL) {
            chunk = new_list(0);
            wf_json_push(arr, chunk);
        }
        wf_json_push(chunk, wf_json_copy(aget(&a[0], k)));
        if (json_object_array_length(chunk) == (size_t)size)
            chunk = NULL;
    }
    tval_take(out, arr);
    return WF_OK;
}

FN(f_zip)
{
    size_t n;
    json_object *arr;

    (void)nargs;
    if (!is_type(&a[0], json_type_array) || !is_type(&a[1], json_type_array))
        return wf__tpl_type_error(e, call, a, 2);
    n = alen(&a[0]) < alen(&a[1]) ? alen(&a[0]) : alen(&a[1]);
    arr = new_list(n);
    for (size_t k = 0; k < n; k++) {
        json_object *pair = new_list(2);

        wf_json_push(pair, wf_json_copy(aget(&a[0], k)));
        wf_json_push(pair, wf_json_copy(aget(&a[1], k)));
        wf_json_push(arr, pair);
    }
    tval_take(out, arr);
    return WF_OK;
}

/* ---- numbers ------------------------------------------------------------------------ */

FN(f_sum)
{
    int64_t isum = 0, i;
    double dsum = 0, d;
    bool is_int = true;
    size_t n;

    (void)nargs;
    if (!is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = alen(&a[0]);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = aget(&a[0], k);
        int kind = wf__tpl_num(el, &i, &d);

        if (kind == 0)
            return elem_error(e, call, el, k);
        if (is_int && kind == 1) {
            int64_t t;

            if (!__builtin_add_overflow(isum, i, &t)) {
                isum = t;
                continue;
            }
        }
        if (is_int) {
            /* Past int64, or a decimal: carry on in decimals. */
            dsum = (double)isum;
            is_int = false;
        }
        dsum += kind == 1 ? (double)i : d;
    }
    if (is_int) {
        tval_take(out, json_object_new_int64(isum));
        return WF_OK;
    }
    return wf__tpl_new_double(e, call, dsum, out);
}

FN(f_abs)
{
    int64_t i;
    double d;

    (void)nargs;
    switch (wf__tpl_num(a[0].j, &i, &d)) {
    case 1:
        if (i >= 0) {
            pass_on(&a[0], a[0].j, out);
            return WF_OK;
        }
        if (i == INT64_MIN)
            return wf__tpl_new_double(e, call, -(double)i, out);
        tval_take(out, json_object_new_int64(-i));
        return WF_OK;
    case 2:
        return wf__tpl_new_double(e, call, fabs(d), out);
    default:
        return wf__tpl_type_error(e, call, a, 1);
    }
}

FN(f_round)
{
    int64_t i, digits = 0;
    double d, dd;
    int kind = wf__tpl_num(a[0].j, &i, &d);

    if (kind == 0 || (nargs == 2 && wf__tpl_num(a[1].j, &digits, &dd) != 1))
        return wf__tpl_type_error(e, call, a, nargs);
    if (digits < 0 || digits > 15)
        return wf__tpl_fail(e, call, WF_EINVAL, "round: digits must be 0 to 15, got %lld",
                            (long long)digits);
    if (kind == 1) {
        pass_on(&a[0], a[0].j, out);
        return WF_OK;
    }
    if (nargs == 2) {
        double scale = pow(10.0, (double)digits), r = round(d * scale) / scale;

        /* Rounding that overflows the scaled value leaves the number as it was. */
        return wf__tpl_new_double(e, call, isfinite(r) ? r : d, out);
    }
    d = round(d);
    if (d > -9223372036854775808.0 - 1 && d < 9223372036854775808.0) {
        tval_take(out, json_object_new_int64((int64_t)d));
        return WF_OK;
    }
    return wf__tpl_new_double(e, call, d, out);
}

/* ---- status functions ---------------------------------------------------------------- */

static int task_result(ev *e, const node *call, tval *a, const wf_result **r)
{
    size_t len;
    const char *name;

    if (!is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    name = tpl_str(a[0].j, &len);
    *r = wf_results_getn(wf_ctx_results(e->ctx), name, len);
    if (*r == NULL)
        return wf__tpl_fail(e, call, WF_EUNKNOWN, "task '%.*s' has not run", (int)len, name);
    return WF_OK;
}

FN(f_always)
{
    UNUSED_ARGS;
    new_bool(e, true, out);
    return WF_OK;
}

FN(f_status)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        tval_take(out, json_object_new_string(wf_status_name(r->status)));
    return rc;
}

FN(f_succeeded)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        new_bool(e, r->status == WF_STATUS_SUCCEEDED, out);
    return rc;
}

FN(f_failed)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        new_bool(e, r->status == WF_STATUS_FAILED, out);
    return rc;
}

FN(f_exit_code)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK && r->exit_code >= 0)
        tval_take(out, json_object_new_int64(r->exit_code));
    return rc;
}

static int capture(ev *e, const node *call, tval *a, tval *out, bool err)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);
    const char *text;

    if (rc != WF_OK)
        return rc;
    text = err ? r->stderr_text : r->stdout_text;
    if (text != NULL)
        tval_take(out, json_object_new_string(text));
    return WF_OK;
}

FN(f_stdout)
{
    (void)nargs;
    return capture(e, call, a, out, false);
}

FN(f_stderr)
{
    (void)nargs;
    return capture(e, call, a, out, true);
}

FN(f_item_status)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);
    json_object *arr;

    (void)nargs;
    if (rc != WF_OK)
        return rc;
    arr = new_list(r->n_items);
    for (size_t k = 0; k < r->n_items && r->item_status != NULL; k++)
        wf_json_push(arr, json_object_new_string(wf_status_name(r->item_status[k])));
    tval_take(out, arr);
    return WF_OK;
}

/* default() is evaluated by the evaluator itself (its first argument may be missing). */
FN(f_default)
{
    UNUSED_ARGS;
    return WF_EINVAL;
}

/* ---- the table ----------------------------------------------------------------------- */

static const builtin table[] = {
    { "abs", 1, 1, 0, "x", "a number", f_abs },
    { "always", 0, 0, B_STATUS, "", "nothing", f_always },
    { "bool", 1, 1, 0, "x", "any value", f_bool },
    { "chunks", 2, 2, 0, "x, n", "a list and an integer", f_chunks },
    { "contains", 2, 2, 0, "x, v", "a list, a string and a string, or an object and a string",
      f_contains },
    { "default", 2, 2, B_LAZY, "x, v", "any value", f_default },
    { "endswith", 2, 2, 0, "x, s", "two strings", f_endswith },
    { "exit_code", 1, 1, B_STATUS, "name", "a task name (a string)", f_exit_code },
    { "failed", 1, 1, B_STATUS, "name", "a task name (a string)", f_failed },
    { "first", 1, 1, 0, "x", "a list", f_first },
    { "flatten", 1, 1, 0, "x", "a list", f_flatten },
    { "float", 1, 1, 0, "x", "a number, a numeric string or a boolean", f_float },
    { "fromjson", 1, 1, 0, "x", "a string", f_fromjson },
    { "int", 1, 1, 0, "x", "a number, a string of digits or a boolean", f_int },
    { "item_status", 1, 1, B_STATUS, "name", "a task name (a string)", f_item_status },
    { "items", 1, 1, 0, "x", "an object", f_items },
    { "join", 1, 2, 0, "x, sep", "a list and a string", f_join },
    { "json", 1, 1, 0, "x", "any value", f_json },
    { "keys", 1, 1, 0, "x", "an object", f_keys },
    { "last", 1, 1, 0, "x", "a list", f_last },
    { "length", 1, 1, 0, "x", "a string, a list or an object", f_length },
    { "lines", 1, 1, 0, "x", "a string", f_lines },
    { "lower", 1, 1, 0, "x", "a string", f_lower },
    { "map", 2, 2, 0, "x, path", "a list and a path string", f_map },
    { "max", 1, 1, 0, "x", "a list of numbers or of strings", f_max },
    { "min", 1, 1, 0, "x", "a list of numbers or of strings", f_min },
    { "quote", 1, 1, B_NOFOLD, "x", "any value", f_quote },
    { "range", 1, 2, 0, "a, b", "integers", f_range },
    { "raw", 1, 1, B_NOFOLD, "x", "any value", f_raw },
    { "replace", 3, 3, 0, "x, a, b", "three strings", f_replace },
    { "reverse", 1, 1, 0, "x", "a list or a string", f_reverse },
    { "round", 1, 2, 0, "x, digits", "a number and an integer", f_round },
    { "select", 2, 2, 0, "x, path", "a list and a path string", f_select },
    { "sort", 1, 1, 0, "x", "a list of numbers or of strings", f_sort },
    { "split", 2, 2, 0, "x, sep", "two strings", f_split },
    { "startswith", 2, 2, 0, "x, s", "two strings", f_startswith },
    { "status", 1, 1, B_STATUS, "name", "a task name (a string)", f_status },
    { "stderr", 1, 1, B_STATUS, "name", "a task name (a string)", f_stderr },
    { "stdout", 1, 1, B_STATUS, "name", "a task name (a string)", f_stdout },
    { "string", 1, 1, 0, "x", "any value", f_string },
    { "succeeded", 1, 1, B_STATUS, "name", "a task name (a string)", f_succeeded },
    { "sum", 1, 1, 0, "x", "a list of numbers", f_sum },
    { "trim", 1, 1, 0, "x", "a string", f_trim },
    { "unique", 1, 1, 0, "x", "a list", f_unique },
    { "upper", 1, 1, 0, "x", "a string", f_upper },
    { "values", 1, 1, 0, "x", "an object", f_values },
    { "zip", 2, 2, 0, "a, b", "two lists", f_zip },
};

static int cmp_name(const void *key, const void *el)
{
    return strcmp(key, ((const builtin *)el)->name);
}

const builtin *wf__tpl_builtin(const char *name)
{
    return bsearch(name, table, WF_ARRAY_LEN(table), sizeof(table[0]), cmp_name);
}

const char *wf__tpl_closest_builtin(const char *word)
{
    size_t len = strlen(word), max = len / 3 > 2 ? len / 3 : 2, best_d = max + 1;
    const char *best = NULL;

    for (size_t i = 0; i < WF_ARRAY_LEN(table); i++) {
        size_t d = wf_edit_distance(word, table[i].name, max);

        if (d < best_d) {
            best_d = d;
            best = table[i].name;
        }
    }
    return best;
}
