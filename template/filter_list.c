/*
 * filter_list.c: the filters over lists and objects: length, keys/values/items, first/last,
 * reverse, sort/min/max, unique, flatten, join/split/lines, and the ones that walk a path
 * inside each element (map, select) or build lists (range, chunks, zip). The contract of a
 * filter is in tpl_internal.h (WF__TPL_FN); filters.c holds the table that names them.
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

#define FN WF__TPL_FN

/* ---- collections ------------------------------------------------------------------ */

FN(f_length)
{
    int64_t n = 0;

    (void)nargs;
    if (wf__tpl_is_type(&a[0], json_type_string)) {
        size_t len;
        const char *s = tpl_str(a[0].j, &len);

        /* Characters, not bytes: count every byte that does not continue a UTF-8 sequence. */
        for (size_t i = 0; i < len; i++)
            n += ((unsigned char)s[i] & 0xC0) != 0x80;
    } else if (wf__tpl_is_type(&a[0], json_type_array)) {
        n = (int64_t)wf__tpl_alen(&a[0]);
    } else if (wf__tpl_is_type(&a[0], json_type_object)) {
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

    if (!wf__tpl_is_type(&a[0], json_type_object))
        return wf__tpl_type_error(e, call, a, 1);
    arr = wf__tpl_new_list((size_t)json_object_object_length(a[0].j));
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

    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = wf__tpl_alen(&a[0]);
    if (n == 0)
        return wf__tpl_fail(e, call, WF_EMISSING, "%s: the list is empty", call->fn->name);
    wf__tpl_pass_on(&a[0], wf__tpl_aget(&a[0], last ? n - 1 : 0), out);
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
    if (wf__tpl_is_type(&a[0], json_type_array)) {
        size_t n = wf__tpl_alen(&a[0]);
        json_object *arr = wf__tpl_new_list(n);

        for (size_t i = n; i > 0; i--)
            wf_json_push(arr, wf_json_copy(wf__tpl_aget(&a[0], i - 1)));
        tval_take(out, arr);
        return WF_OK;
    }
    if (wf__tpl_is_type(&a[0], json_type_string)) {
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
        wf__tpl_new_string(out, r, len);
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
    size_t n = wf__tpl_alen(&a[0]);
    sort_el *v = wf_xcalloc(n ? n : 1, sizeof(*v));
    int kind0 = 0;

    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k);
        int kind = wf__tpl_num(el, &v[k].i, &v[k].d);

        if (kind == 0 && tpl_is(el, json_type_string))
            kind = 3;
        if (kind == 0 || (k > 0 && (kind == 3) != (kind0 == 3))) {
            free(v);
            return wf__tpl_elem_error(e, call, el, k);
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
    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    rc = order_elems(e, call, a, &v);
    if (rc != WF_OK)
        return rc;
    n = wf__tpl_alen(&a[0]);
    qsort(v, n, sizeof(*v), cmp_sort_el);
    arr = wf__tpl_new_list(n);
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

    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = wf__tpl_alen(&a[0]);
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
    wf__tpl_pass_on(&a[0], v[best].j, out);
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
    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = wf__tpl_alen(&a[0]);
    while (cap < 2 * n)
        cap *= 2;
    /* Open addressing over element indices (+1; 0 is empty): O(n) expected. */
    slots = wf_xcalloc(cap, sizeof(*slots));
    arr = wf__tpl_new_list(0);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k);
        size_t s = (size_t)value_hash(el) & (cap - 1);
        bool seen = false;

        while (slots[s] != 0 && !seen) {
            seen = wf_json_equal(wf__tpl_aget(&a[0], slots[s] - 1), el);
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
    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = wf__tpl_alen(&a[0]);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k);

        total = tpl_add(total, tpl_is(el, json_type_array) ? json_object_array_length(el) : 1);
    }
    rc = wf__tpl_check_list(e, call, "flatten", total);
    if (rc != WF_OK)
        return rc;
    arr = wf__tpl_new_list(total);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k);

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

    if (!wf__tpl_is_type(&a[0], json_type_array) ||
        (nargs > 1 && !wf__tpl_is_type(&a[1], json_type_string)))
        return wf__tpl_type_error(e, call, a, nargs);
    if (nargs > 1)
        sep = tpl_str(a[1].j, &seplen);
    n = wf__tpl_alen(&a[0]);
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
        wf_tpl_text_form(&sb, wf__tpl_aget(&a[0], k));
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
    wf__tpl_new_string(out, sb.buf, sb.len);
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
    if (!wf__tpl_is_type(&a[0], json_type_string) || !wf__tpl_is_type(&a[1], json_type_string))
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
    arr = wf__tpl_new_list(pieces);
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
    if (!wf__tpl_is_type(&a[0], json_type_string))
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
    arr = wf__tpl_new_list(count);
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

enum { MAP, SELECT, REJECT };

/* map(path); select(path[, value]) / reject(path[, value]): the elements whose path is truthy
 * (equal to value) / is not. An element without the path is not selected (and is rejected). */
static int map_select(ev *e, const node *call, tval *a, size_t nargs, tval *out, int what_fn)
{
    size_t n, plen;
    const char *path;
    json_object *arr;

    if (!wf__tpl_is_type(&a[0], json_type_array) || !wf__tpl_is_type(&a[1], json_type_string))
        return wf__tpl_type_error(e, call, a, 2);
    path = tpl_str(a[1].j, &plen);
    if (plen == 0)
        return wf__tpl_fail(e, call, WF_EINVAL, "%s: the path is empty", call->fn->name);
    n = wf__tpl_alen(&a[0]);
    arr = wf__tpl_new_list(0);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k), *v = NULL;
        const char *what = NULL;
        bool found = walk(el, path, plen, &v, &what);

        if (what_fn != MAP) {
            bool yes = found && (nargs == 3 ? wf_json_equal(v, a[2].j) : wf__tpl_truthy(v));

            if (yes == (what_fn == SELECT))
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
    return map_select(e, call, a, nargs, out, MAP);
}

FN(f_select)
{
    return map_select(e, call, a, nargs, out, SELECT);
}

FN(f_reject)
{
    return map_select(e, call, a, nargs, out, REJECT);
}

FN(f_range)
{
    int64_t lo = 0, hi = 0, count;
    double d;
    json_object *arr;

    if (wf__tpl_num(a[0].j, nargs == 1 ? &hi : &lo, &d) != 1 ||
        (nargs == 2 && wf__tpl_num(a[1].j, &hi, &d) != 1))
        return wf__tpl_type_error(e, call, a, nargs);
    count = wf__tpl_range_count(lo, hi);
    if (count < 0 || count > WF_MAX_LIST_LEN)
        return wf__tpl_fail(e, call, WF_ERANGE, "range: %lld numbers is more than the %d allowed",
                            (long long)((double)hi - (double)lo), WF_MAX_LIST_LEN);
    arr = wf__tpl_new_list((size_t)count);
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
    if (!wf__tpl_is_type(&a[0], json_type_array) || wf__tpl_num(a[1].j, &size, &d) != 1)
        return wf__tpl_type_error(e, call, a, 2);
    if (size < 1)
        return wf__tpl_fail(e, call, WF_EINVAL, "chunks: the size must be at least 1, got %lld",
                            (long long)size);
    n = wf__tpl_alen(&a[0]);
    arr = wf__tpl_new_list(0);
    for (size_t k = 0; k < n; k++) {
        if (chunk == NULL) {
            chunk = wf__tpl_new_list(0);
            wf_json_push(arr, chunk);
        }
        wf_json_push(chunk, wf_json_copy(wf__tpl_aget(&a[0], k)));
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
    if (!wf__tpl_is_type(&a[0], json_type_array) || !wf__tpl_is_type(&a[1], json_type_array))
        return wf__tpl_type_error(e, call, a, 2);
    n = wf__tpl_alen(&a[0]) < wf__tpl_alen(&a[1]) ? wf__tpl_alen(&a[0]) : wf__tpl_alen(&a[1]);
    arr = wf__tpl_new_list(n);
    for (size_t k = 0; k < n; k++) {
        json_object *pair = wf__tpl_new_list(2);

        wf_json_push(pair, wf_json_copy(wf__tpl_aget(&a[0], k)));
        wf_json_push(pair, wf_json_copy(wf__tpl_aget(&a[1], k)));
        wf_json_push(arr, pair);
    }
    tval_take(out, arr);
    return WF_OK;
}
