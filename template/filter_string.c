/*
 * filter_string.c: the filters over strings (upper/lower, trim, replace, startswith/endswith,
 * contains) and the conversions between types (int, float, string, bool, json, fromjson,
 * quote, raw). The contract of a filter is in tpl_internal.h (WF__TPL_FN); filters.c holds
 * the table that names them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

#define FN WF__TPL_FN

/* ---- strings ---------------------------------------------------------------------- */

static int change_case(ev *e, const node *call, tval *a, tval *out, bool up)
{
    size_t len;
    const char *s;
    char *r;

    if (!wf__tpl_is_type(&a[0], json_type_string))
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
    wf__tpl_new_string(out, r, len);
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
    if (!wf__tpl_is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    s = tpl_str(a[0].j, &len);
    while (b < len && is_space(s[b]))
        b++;
    while (len > b && is_space(s[len - 1]))
        len--;
    wf__tpl_new_string(out, s + b, len - b);
    return WF_OK;
}

FN(f_replace)
{
    size_t len, la, lb, hits = 0, size;
    int rc;
    const char *s, *x, *y;
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)nargs;
    if (!wf__tpl_is_type(&a[0], json_type_string) || !wf__tpl_is_type(&a[1], json_type_string) ||
        !wf__tpl_is_type(&a[2], json_type_string))
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
    wf__tpl_new_string(out, sb.buf, sb.len);
    wf_strbuf_release(&sb);
    return WF_OK;
}

static int affix(ev *e, const node *call, tval *a, tval *out, bool start)
{
    size_t len, lp;
    const char *s, *p;

    if (!wf__tpl_is_type(&a[0], json_type_string) || !wf__tpl_is_type(&a[1], json_type_string))
        return wf__tpl_type_error(e, call, a, 2);
    s = tpl_str(a[0].j, &len);
    p = tpl_str(a[1].j, &lp);
    wf__tpl_new_bool(e, lp <= len && memcmp(start ? s : s + len - lp, p, lp) == 0, out);
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
        wf__tpl_new_bool(e, r, out);
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
        wf__tpl_pass_on(&a[0], a[0].j, out);
        return WF_OK;
    case 2:
        if (!(d > -9223372036854775808.0 - 1 && d < 9223372036854775808.0))
            return wf__tpl_fail(e, call, WF_ERANGE, "int: the number is too large for an integer");
        tval_take(out, json_object_new_int64((int64_t)d));
        return WF_OK;
    default:
        break;
    }
    if (wf__tpl_is_type(&a[0], json_type_boolean)) {
        tval_take(out, json_object_new_int64(json_object_get_boolean(a[0].j) ? 1 : 0));
        return WF_OK;
    }
    if (wf__tpl_is_type(&a[0], json_type_string)) {
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
        wf__tpl_pass_on(&a[0], a[0].j, out);
        return WF_OK;
    default:
        break;
    }
    if (wf__tpl_is_type(&a[0], json_type_boolean))
        return wf__tpl_new_double(e, call, json_object_get_boolean(a[0].j) ? 1.0 : 0.0, out);
    if (wf__tpl_is_type(&a[0], json_type_string)) {
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
        wf__tpl_new_string(out, sb->buf, sb->len);
    wf_strbuf_release(sb);
    return rc;
}

FN(f_string)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)e;
    (void)call;
    (void)nargs;
    if (wf__tpl_is_type(&a[0], json_type_string)) {
        wf__tpl_pass_on(&a[0], a[0].j, out);
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
    if (wf__tpl_is_type(&a[0], json_type_string)) {
        size_t len;
        const char *s = tpl_str(a[0].j, &len);

        for (size_t i = 0; yes[i] != NULL; i++) {
            if (word_is(s, len, yes[i])) {
                wf__tpl_new_bool(e, true, out);
                return WF_OK;
            }
        }
        for (size_t i = 0; no[i] != NULL; i++) {
            if (word_is(s, len, no[i])) {
                wf__tpl_new_bool(e, false, out);
                return WF_OK;
            }
        }
        return wf__tpl_fail(e, call, WF_EINVAL,
                            "bool: \"%.40s\" is not true/false, yes/no, on/off or 1/0", s);
    }
    wf__tpl_new_bool(e, wf__tpl_truthy(a[0].j), out);
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
    if (!wf__tpl_is_type(&a[0], json_type_string))
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
    wf__tpl_new_string(out, sb.buf, sb.len);
    wf_strbuf_release(&sb);
    return WF_OK;
}

FN(f_raw)
{
    (void)e;
    (void)call;
    (void)nargs;
    wf__tpl_pass_on(&a[0], a[0].j, out);
    return WF_OK;
}
