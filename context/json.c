/* Read-only JSON helpers (see wf_context.h).
 *
 * Everything here only reads its json_object arguments, through json-c getters that do not
 * write: json_object_get_string/_len on strings only, the number getters, array indexing and
 * the object's lh_table. json_object_to_json_string* is never used: it caches the text inside
 * the object, which is a data race when several threads print one shared value.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wf_context.h"

/* json-c returns NULL when it cannot allocate; wfengine ends the process through the one
 * out-of-memory handler instead (see wf_common.h). */
static json_object *checked(json_object *v)
{
    if (v == NULL)
        wf_oom(sizeof(json_object *));
    return v;
}

json_object *wf_json_check(json_object *v)
{
    return checked(v);
}

void wf_json_push(json_object *list, json_object *v_take)
{
    if (json_object_array_add(list, v_take) != 0)
        wf_oom(json_object_array_length(list) * sizeof(json_object *));
}

/* json-c keeps integers above INT64_MAX as uint64; json_object_get_int64 clamps those to
 * INT64_MAX. */
static bool is_big_uint(const json_object *v, uint64_t *u)
{
    *u = 0;
    if (json_object_get_int64(v) != INT64_MAX)
        return false;
    *u = json_object_get_uint64(v);
    return *u > (uint64_t)INT64_MAX;
}

/* json_object_get_string takes a non-const pointer because for non-strings it serializes (and
 * caches). On a string it only returns the stored text, so dropping const here is sound. */
static const char *string_of(const json_object *v, size_t *len)
{
    *len = (size_t)json_object_get_string_len(v);
    return json_object_get_string((json_object *)(uintptr_t)v);
}

static void write_string(wf_strbuf *sb, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0;

    wf_strbuf_grow(sb, len + 2);
    wf_strbuf_addc(sb, '"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];

        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        /* Flush the plain bytes before this one in one copy; UTF-8 passes through as is. */
        wf_strbuf_add(sb, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
            break;
        }
        wf_strbuf_adds(sb, esc);
    }
    wf_strbuf_add(sb, s + run, len - run);
    wf_strbuf_addc(sb, '"');
}

void wf_json_write_double(wf_strbuf *sb, double d)
{
    char buf[40];
    int prec;

    if (!isfinite(d)) {
        wf_strbuf_adds(sb, "null");
        return;
    }
    /* Any decimal of at most DBL_DIG (15) significant digits that reads back as d is d
     * correctly rounded to 15 digits, and %g drops trailing zeros, so %.15g is the shortest
     * form whenever it round-trips; otherwise 16 or, always enough, 17 digits. This is the
     * same answer as trying %.1g, %.2g, ... but with at most three snprintf calls.
     * Subnormals have fewer significant bits, so short forms that are not the 15-digit
     * rounding may read back ("5e-324"): for them, search from one digit. */
    for (prec = fabs(d) < DBL_MIN ? 1 : 15; prec < 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, d);
        if (strtod(buf, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(buf, sizeof(buf), "%.17g", d);
    /* A locale with a decimal comma would have round-tripped above as well; JSON wants '.'. */
    for (char *p = buf; *p != '\0'; p++) {
        if (*p == ',')
            *p = '.';
    }
    wf_strbuf_adds(sb, buf);
    /* Keep an integral double a decimal ("2.0"), so that reading it back gives a number. */
    if (strpbrk(buf, ".e") == NULL)
        wf_strbuf_adds(sb, ".0");
}

void wf_json_write(wf_strbuf *sb, const json_object *v)
{
    uint64_t n_items;

    if (wf_ref_list_len(v, &n_items)) {
        /* A list by reference is written an item at a time, never loaded whole; an item that
         * cannot be read any more is null. */
        wf_strbuf_addc(sb, '[');
        for (uint64_t i = 0; i < n_items; i++) {
            json_object *item = NULL;
            char *error = NULL;

            wf_ref_list_get(v, i, &item, &error);
            free(error);
            if (i > 0)
                wf_strbuf_addc(sb, ',');
            wf_json_write(sb, item);
            json_object_put(item);
        }
        wf_strbuf_addc(sb, ']');
        return;
    }
    if (wf_ref_is(v)) {
        const json_object *value;
        char *error = NULL;

        /* A value that cannot be loaded any more is written as null (wf_ref_pin says why to
         * the readers that can report it: templates). */
        if (wf_ref_pin(v, &value, &error) != WF_OK) {
            free(error);
            wf_strbuf_adds(sb, "null");
            return;
        }
        wf_json_write(sb, value);
        wf_ref_unpin(v);
        return;
    }
    switch (json_object_get_type(v)) {
    case json_type_null:
        wf_strbuf_adds(sb, "null");
        break;
    case json_type_boolean:
        wf_strbuf_adds(sb, json_object_get_boolean(v) ? "true" : "false");
        break;
    case json_type_int: {
        uint64_t u;

        if (is_big_uint(v, &u))
            wf_strbuf_addf(sb, "%llu", (unsigned long long)u);
        else
            wf_strbuf_addf(sb, "%lld", (long long)json_object_get_int64(v));
        break;
    }
    case json_type_double:
        wf_json_write_double(sb, json_object_get_double(v));
        break;
    case json_type_string: {
        size_t len;
        const char *s = string_of(v, &len);

        write_string(sb, s, len);
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);

        wf_strbuf_addc(sb, '[');
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                wf_strbuf_addc(sb, ',');
            wf_json_write(sb, json_object_array_get_idx(v, i));
        }
        wf_strbuf_addc(sb, ']');
        break;
    }
    case json_type_object: {
        bool first = true;

        wf_strbuf_addc(sb, '{');
        for (struct lh_entry *e = lh_table_head(json_object_get_object(v)); e != NULL;
             e = lh_entry_next(e)) {
            const char *key = lh_entry_k(e);

            if (!first)
                wf_strbuf_addc(sb, ',');
            first = false;
            write_string(sb, key, strlen(key));
            wf_strbuf_addc(sb, ':');
            wf_json_write(sb, lh_entry_v(e));
        }
        wf_strbuf_addc(sb, '}');
        break;
    }
    }
}

extern char **environ;

json_object *wf_json_environ(void)
{
    json_object *env = wf_json_check(json_object_new_object());

    for (char **e = environ; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        char *name;

        if (eq == NULL)
            continue;
        name = wf_xstrndup(*e, (size_t)(eq - *e));
        json_object_object_add(env, name, json_object_new_string(eq + 1));
        free(name);
    }
    return env;
}

static json_object *copy(const json_object *v, bool keep_refs)
{
    json_object *out = NULL;

    if (wf_ref_is(v)) {
        const json_object *value;
        char *error = NULL;

        if (keep_refs)
            return wf_ref_share(v);
        if (wf_ref_pin(v, &value, &error) != WF_OK) {
            free(error);
            return NULL;
        }
        out = copy(value, false);
        wf_ref_unpin(v);
        return out;
    }
    switch (json_object_get_type(v)) {
    case json_type_null:
        break;
    case json_type_boolean:
        out = checked(json_object_new_boolean(json_object_get_boolean(v)));
        break;
    case json_type_int: {
        uint64_t u;

        if (is_big_uint(v, &u))
            out = checked(json_object_new_uint64(u));
        else
            out = checked(json_object_new_int64(json_object_get_int64(v)));
        break;
    }
    case json_type_double:
        out = checked(json_object_new_double(json_object_get_double(v)));
        break;
    case json_type_string: {
        size_t len;
        const char *s = string_of(v, &len);

        out = checked(json_object_new_string_len(s, (int)len));
        break;
    }
    case json_type_array: {
        size_t n = json_object_array_length(v);

        out = checked(json_object_new_array_ext(n > 0 ? (int)n : 1));
        for (size_t i = 0; i < n; i++) {
            wf_json_push(out, copy(json_object_array_get_idx(v, i), keep_refs));
        }
        break;
    }
    case json_type_object:
        out = checked(json_object_new_object());
        for (struct lh_entry *e = lh_table_head(json_object_get_object(v)); e != NULL;
             e = lh_entry_next(e)) {
            /* Keys are unique in the source, so the insert can skip json-c's lookup. */
            if (json_object_object_add_ex(out, lh_entry_k(e), copy(lh_entry_v(e), keep_refs),
                                          JSON_C_OBJECT_ADD_KEY_IS_NEW) != 0)
                wf_oom(sizeof(struct lh_entry));
        }
        break;
    }
    return out;
}

json_object *wf_json_copy(const json_object *v)
{
    return copy(v, false);
}

json_object *wf_json_copy_refs(const json_object *v)
{
    return copy(v, true);
}

/* An integer and a double are equal when the double is exactly that integer. Converting the
 * integer to double instead would call 2^53 + 1 equal to 2^53. */
static bool int_equals_double(const json_object *i, double d)
{
    uint64_t u;

    if (!isfinite(d) || d != floor(d))
        return false;
    if (is_big_uint(i, &u))
        return d >= 9223372036854775808.0 && d < 18446744073709551616.0 && (uint64_t)d == u;
    return d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
           (int64_t)d == json_object_get_int64(i);
}

static bool int_equals_int(const json_object *a, const json_object *b)
{
    uint64_t ua, ub;
    bool big_a = is_big_uint(a, &ua), big_b = is_big_uint(b, &ub);

    if (big_a || big_b)
        return big_a && big_b && ua == ub;
    return json_object_get_int64(a) == json_object_get_int64(b);
}

bool wf_json_equal(const json_object *a, const json_object *b)
{
    if (wf_ref_is(a) || wf_ref_is(b)) {
        const json_object *va = a, *vb = b;
        char *error = NULL;
        bool same = false;

        if (wf_ref_is(a) && wf_ref_pin(a, &va, &error) != WF_OK) {
            free(error);
            return false;
        }
        if (wf_ref_is(b) && wf_ref_pin(b, &vb, &error) != WF_OK) {
            free(error);
            wf_ref_unpin(a);
            return false;
        }
        same = wf_json_equal(va, vb);
        wf_ref_unpin(a);
        wf_ref_unpin(b);
        return same;
    }
    enum json_type ta = json_object_get_type(a), tb = json_object_get_type(b);

    if (ta == json_type_int && tb == json_type_double)
        return int_equals_double(a, json_object_get_double(b));
    if (ta == json_type_double && tb == json_type_int)
        return int_equals_double(b, json_object_get_double(a));
    if (ta != tb)
        return false;
    switch (ta) {
    case json_type_null:
        return true;
    case json_type_boolean:
        return !json_object_get_boolean(a) == !json_object_get_boolean(b);
    case json_type_int:
        return int_equals_int(a, b);
    case json_type_double:
        return json_object_get_double(a) == json_object_get_double(b);
    case json_type_string: {
        size_t la, lb;
        const char *sa = string_of(a, &la), *sb = string_of(b, &lb);

        return la == lb && memcmp(sa, sb, la) == 0;
    }
    case json_type_array: {
        size_t n = json_object_array_length(a);

        if (n != json_object_array_length(b))
            return false;
        for (size_t i = 0; i < n; i++) {
            if (!wf_json_equal(json_object_array_get_idx(a, i), json_object_array_get_idx(b, i)))
                return false;
        }
        return true;
    }
    case json_type_object:
        if (json_object_object_length(a) != json_object_object_length(b))
            return false;
        /* Same size and every key of a found in b with an equal value: same key sets. */
        for (struct lh_entry *e = lh_table_head(json_object_get_object(a)); e != NULL;
             e = lh_entry_next(e)) {
            json_object *bv = NULL;

            if (!json_object_object_get_ex(b, lh_entry_k(e), &bv))
                return false;
            if (!wf_json_equal(lh_entry_v(e), bv))
                return false;
        }
        return true;
    }
    return false;
}

const char *wf_json_type_name(const json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null:
        return "null";
    case json_type_boolean:
        return "boolean";
    case json_type_int:
        return "integer";
    case json_type_double:
        return "number";
    case json_type_string:
        return "string";
    case json_type_array:
        return "list";
    case json_type_object:
        return "object";
    }
    return "unknown";
}
