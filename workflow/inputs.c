/*
 * inputs.c: checking input values against their specs, and binding the values of a run
 * (see wf_workflow_bind_inputs in wf_workflow.h).
 *
 * Null fits every type: it is how an input with `default: null` says "not given". From
 * strings (the command line), `any` is the JSON value when the whole text is JSON ("3" is 3,
 * "true", "[1, 2]", "null"), as GitHub and Argo users expect, else the string as typed
 * ("hello", "007", "1.2.3"); declare `string` to keep "3" or "1.10" as text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loader_internal.h"

const char *wf__input_type_name(wf_input_type t)
{
    switch (t) {
    case WF_INPUT_STRING:
        return "string";
    case WF_INPUT_INTEGER:
        return "integer";
    case WF_INPUT_NUMBER:
        return "number";
    case WF_INPUT_BOOLEAN:
        return "boolean";
    case WF_INPUT_ARRAY:
        return "array";
    case WF_INPUT_OBJECT:
        return "object";
    default:
        return "any";
    }
}

static const char *expected_phrase(wf_input_type t)
{
    switch (t) {
    case WF_INPUT_STRING:
        return "a string";
    case WF_INPUT_INTEGER:
        return "an integer";
    case WF_INPUT_NUMBER:
        return "a number";
    case WF_INPUT_BOOLEAN:
        return "a boolean (true or false)";
    case WF_INPUT_ARRAY:
        return "a list";
    case WF_INPUT_OBJECT:
        return "an object";
    default:
        return "a value";
    }
}

static char *describe(const json_object *v, bool secret)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    const char *type = wf_json_type_name(v);
    char *text;

    if (secret)
        return wf_xasprintf("%s (value hidden: the input is secret)", type);
    switch (json_object_get_type(v)) {
    case json_type_null:
        return wf_xstrdup("null");
    case json_type_array:
        return wf_xstrdup("a list");
    case json_type_object:
        return wf_xstrdup("an object");
    default:
        break;
    }
    if (json_object_get_type(v) == json_type_string)
        wf_strbuf_addf(&sb, "'%s'", json_object_get_string((json_object *)v));
    else
        wf_json_write(&sb, v);
    text = sb.len > 40 ? wf_xasprintf("the %s %.37s...", type, wf_strbuf_str(&sb))
                       : wf_xasprintf("the %s %s", type, wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
    return text;
}

static bool fits(wf_input_type t, const json_object *v)
{
    json_type jt = json_object_get_type(v);

    switch (t) {
    case WF_INPUT_STRING:
        return jt == json_type_string;
    case WF_INPUT_INTEGER:
        return jt == json_type_int;
    case WF_INPUT_NUMBER:
        return jt == json_type_int || jt == json_type_double;
    case WF_INPUT_BOOLEAN:
        return jt == json_type_boolean;
    case WF_INPUT_ARRAY:
        return jt == json_type_array;
    case WF_INPUT_OBJECT:
        return jt == json_type_object;
    default:
        return true;
    }
}

char *wf__input_check(const wf_input_spec *spec, const json_object *v)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *got;
    size_t n;

    if (v == NULL)
        return NULL;
    if (!fits(spec->type, v)) {
        got = describe(v, spec->secret);
        wf_strbuf_addf(&sb, "must be %s, got %s", expected_phrase(spec->type), got);
        free(got);
        return wf_strbuf_detach(&sb, NULL);
    }
    if (spec->enum_values == NULL)
        return NULL;
    n = json_object_array_length(spec->enum_values);
    for (size_t k = 0; k < n; k++)
        if (wf_json_equal(json_object_array_get_idx(spec->enum_values, k), v))
            return NULL;
    wf_strbuf_adds(&sb, "must be one of ");
    for (size_t k = 0; k < n; k++) {
        if (k > 0)
            wf_strbuf_adds(&sb, ", ");
        wf_json_write(&sb, json_object_array_get_idx(spec->enum_values, k));
    }
    got = describe(v, spec->secret);
    wf_strbuf_addf(&sb, "; got %s", got);
    free(got);
    return wf_strbuf_detach(&sb, NULL);
}

static json_object *parse_json(const char *s, size_t len)
{
    json_tokener *tok = json_tokener_new();
    json_object *v;
    size_t end;

    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    v = json_tokener_parse_ex(tok, s, (int)len);
    if (json_tokener_get_error(tok) != json_tokener_success) {
        json_tokener_free(tok);
        return NULL;
    }
    end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    while (end < len && (s[end] == ' ' || s[end] == '\t' || s[end] == '\n' || s[end] == '\r'))
        end++;
    if (end != len) {
        json_object_put(v);
        return NULL;
    }
    return v;
}

/* Converts a command-line string to the declared type. Returns false when it does not fit;
 * *out is then NULL. */
static bool from_string(wf_input_type t, const char *s, size_t len, json_object **out)
{
    bool is_int;

    *out = NULL;
    switch (t) {
    case WF_INPUT_INTEGER:
    case WF_INPUT_NUMBER:
        if (strlen(s) != len || !wf__json_number_text(s, &is_int) ||
            (t == WF_INPUT_INTEGER && !is_int))
            return false;
        if (is_int) {
            long long v;

            errno = 0;
            v = strtoll(s, NULL, 10);
            if (errno != 0)
                return false;
            *out = json_object_new_int64((int64_t)v);
        } else {
            *out = json_object_new_double(strtod(s, NULL));
        }
        return true;
    case WF_INPUT_BOOLEAN:
        if (strcasecmp(s, "true") != 0 && strcasecmp(s, "false") != 0)
            return false;
        *out = json_object_new_boolean(strcasecmp(s, "true") == 0);
        return true;
    case WF_INPUT_ARRAY:
    case WF_INPUT_OBJECT:
        *out = parse_json(s, len);
        if (*out != NULL && fits(t, *out))
            return true;
        json_object_put(*out);
        *out = NULL;
        return false;
    case WF_INPUT_ANY:
        if (len == 4 && memcmp(s, "null", 4) == 0)
            return true; /* JSON null, which parse_json cannot tell from a failure */
        /* Numbers and literals have no end mark for the tokener: decided here. */
        if (from_string(WF_INPUT_NUMBER, s, len, out))
            return true;
        if ((len == 4 && memcmp(s, "true", 4) == 0) || (len == 5 && memcmp(s, "false", 5) == 0)) {
            *out = json_object_new_boolean(s[0] == 't');
            return true;
        }
        *out = parse_json(s, len);
        if (*out == NULL)
            *out = json_object_new_string_len(s, (int)len);
        return true;
    default:
        *out = json_object_new_string_len(s, (int)len);
        return true;
    }
}

static void bind_error(wf_errlist *errs, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void bind_error(wf_errlist *errs, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = wf_xvasprintf(fmt, ap);
    va_end(ap);
    wf_error_set(wf_errlist_add(errs), code, NULL, 0, 0, "%s", msg);
    free(msg);
}

/* A default written as a template, evaluated against wfengine's environment. A string it
 * gives is read as a command-line value would be (`default: << env.PORT >>` with type
 * integer is the number); the result is checked like a given value. */
static bool default_from_env(const wf_input_spec *spec, json_object **out, wf_errlist *errs)
{
    json_object *env = wf_json_environ(), *v = NULL;
    wf_ctx_init init = { 0 };
    wf_ctx *ctx;
    wf_error err;
    char *msg;
    int rc;

    init.env = env;
    ctx = wf_ctx_new(&init);
    wf_error_init(&err);
    rc = wf_tpl_eval(spec->default_tpl, ctx, &v, &err);
    wf_ctx_unref(ctx);
    *out = NULL;
    if (rc != WF_OK) {
        bind_error(
            errs, rc,
            "input '%s': its default %s: %s (set it in the environment, or give -i %s=VALUE)",
            spec->name, wf_tpl_source(spec->default_tpl),
            err.message ? err.message : wf_strerror(rc), spec->name);
        wf_error_release(&err);
        return false;
    }
    wf_error_release(&err);
    if (json_object_is_type(v, json_type_string) && spec->type != WF_INPUT_STRING) {
        json_object *conv = NULL;

        if (!from_string(spec->type, json_object_get_string(v),
                         (size_t)json_object_get_string_len(v), &conv)) {
            bind_error(errs, WF_ETYPE, "input '%s': its default %s gave '%s', not %s", spec->name,
                       wf_tpl_source(spec->default_tpl),
                       spec->secret ? "(hidden: the input is secret)" : json_object_get_string(v),
                       expected_phrase(spec->type));
            json_object_put(v);
            return false;
        }
        json_object_put(v);
        v = conv;
    }
    msg = wf__input_check(spec, v);
    if (msg != NULL) {
        bind_error(errs, WF_ETYPE, "input '%s' (its default %s) %s", spec->name,
                   wf_tpl_source(spec->default_tpl), msg);
        free(msg);
        json_object_put(v);
        return false;
    }
    *out = v;
    return true;
}

int wf_workflow_bind_inputs(const wf_workflow *wf, const json_object *given, bool from_strings,
                            json_object **out, wf_errlist *errs)
{
    json_object *result = json_object_new_object();
    const char **names = wf_xcalloc(wf->n_inputs + 1, sizeof(*names));
    size_t errs_before = errs->len;

    *out = NULL;
    for (size_t k = 0; k < wf->n_inputs; k++)
        names[k] = wf->inputs[k].name;
    if (given != NULL && json_object_get_type(given) == json_type_object) {
        json_object_object_foreach((json_object *)given, key, val)
        {
            bool known = false;

            (void)val;
            for (size_t k = 0; k < wf->n_inputs && !known; k++)
                known = strcmp(names[k], key) == 0;
            if (!known) {
                const char *near = wf_closest(key, names);

                if (near != NULL)
                    bind_error(errs, WF_EUNKNOWN, "unknown input '%s'; did you mean '%s'?", key,
                               near);
                else if (wf->n_inputs == 0)
                    bind_error(errs, WF_EUNKNOWN, "unknown input '%s': the workflow has no inputs",
                               key);
                else
                    bind_error(errs, WF_EUNKNOWN, "unknown input '%s'", key);
            }
        }
    }
    for (size_t k = 0; k < wf->n_inputs; k++) {
        const wf_input_spec *spec = &wf->inputs[k];
        json_object *v = NULL, *given_v = NULL;
        bool present = given != NULL && json_object_get_type(given) == json_type_object &&
                       json_object_object_get_ex(given, spec->name, &given_v);
        char *msg;

        if (!present) {
            if (!spec->has_default) {
                bind_error(errs, WF_EMISSING, "required input '%s' (%s) was not given", spec->name,
                           wf__input_type_name(spec->type));
                continue;
            }
            if (spec->default_tpl != NULL) {
                if (!default_from_env(spec, &v, errs))
                    continue;
            } else {
                v = wf_json_copy(spec->default_value);
            }
            json_object_object_add(result, spec->name, v);
            continue;
        }
        if (from_strings && json_object_get_type(given_v) == json_type_string) {
            const char *s = json_object_get_string(given_v);
            size_t len = (size_t)json_object_get_string_len(given_v);

            if (!from_string(spec->type, s, len, &v)) {
                if (spec->secret)
                    bind_error(errs, WF_ETYPE,
                               "input '%s' must be %s (value hidden: the input "
                               "is secret)",
                               spec->name, expected_phrase(spec->type));
                else
                    bind_error(errs, WF_ETYPE, "input '%s' must be %s, got '%s'", spec->name,
                               spec->type == WF_INPUT_ARRAY    ? "a JSON list"
                               : spec->type == WF_INPUT_OBJECT ? "a JSON object"
                                                               : expected_phrase(spec->type),
                               s);
                continue;
            }
        } else {
            v = wf_json_copy(given_v);
        }
        msg = wf__input_check(spec, v);
        if (msg != NULL) {
            bind_error(errs, WF_ETYPE, "input '%s' %s", spec->name, msg);
            free(msg);
            json_object_put(v);
            continue;
        }
        json_object_object_add(result, spec->name, v);
    }
    free(names);
    if (errs->len > errs_before) {
        json_object_put(result);
        return WF_EINVAL;
    }
    *out = result;
    return WF_OK;
}
