/*
 * output.c: a unit's output turned into its result (`output: text | json | lines`). Here, below
 * both the engine and the store, because both do it: the engine when a unit ends, the store
 * when it reads back a large result recorded as "the stdout blob, converted" (one copy on
 * disk instead of two).
 */
#include <stdlib.h>
#include <string.h>

#include "wf_context.h"

const char *wf_output_mode_name(wf_output_mode mode)
{
    switch (mode) {
    case WF_OUTPUT_JSON:
        return "json";
    case WF_OUTPUT_LINES:
        return "lines";
    case WF_OUTPUT_TEXT:
        break;
    }
    return "text";
}

bool wf_output_mode_parse(const char *name, wf_output_mode *mode)
{
    static const wf_output_mode all[] = { WF_OUTPUT_TEXT, WF_OUTPUT_JSON, WF_OUTPUT_LINES };

    for (size_t i = 0; name != NULL && i < WF_ARRAY_LEN(all); i++) {
        if (strcmp(name, wf_output_mode_name(all[i])) == 0) {
            *mode = all[i];
            return true;
        }
    }
    return false;
}

int wf_output_convert(wf_output_mode mode, const char *out, const char *what, json_object **value,
                      char **error)
{
    size_t len = out ? strlen(out) : 0;

    *value = NULL;
    if (mode == WF_OUTPUT_TEXT) {
        if (len > 0 && out[len - 1] == '\n')
            len--;
        if (len > 0 && out[len - 1] == '\r')
            len--;
        *value = wf_json_check(json_object_new_string_len(out ? out : "", (int)len));
        return WF_OK;
    }
    if (mode == WF_OUTPUT_LINES) {
        const char *p = out ? out : "", *end = p + len;
        size_t count = 0;
        json_object *list;

        /* Each line becomes a json-c string of about 70 bytes plus its text, so the lines are
         * counted before any is made: a list is capped like every list (WF_MAX_LIST_LEN),
         * which bounds the cost at the text plus about 70 MB, where 64 MiB of "x\n" lines
         * once took 3 GB. */
        for (const char *q = p; q < end; count++) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));

            q = nl ? nl + 1 : end;
        }
        if (count > WF_MAX_LIST_LEN) {
            *error = wf_xasprintf("output: lines: %s has %zu lines, more than the %d a list "
                                  "may have; use output: text, or print fewer lines",
                                  what, count, WF_MAX_LIST_LEN);
            return WF_ERANGE;
        }
        list = wf_json_check(json_object_new_array_ext(count > 0 ? (int)count : 1));
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            size_t n = (size_t)(stop - p);

            if (n > 0 && p[n - 1] == '\r')
                n--;
            wf_json_push(list, wf_json_check(json_object_new_string_len(p, (int)n)));
            p = nl ? nl + 1 : end;
        }
        *value = list;
        return WF_OK;
    }
    {
        struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        json_object *v = NULL;
        enum json_tokener_error jerr;
        size_t off = 0, i;

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        v = json_tokener_parse_ex(tok, out ? out : "", (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
            /* The text ended inside a value: try to finish it (a bare number like "3"). */
            json_object_put(v);
            v = json_tokener_parse_ex(tok, "", 1);
            jerr = json_tokener_get_error(tok);
        }
        off = tok->char_offset;
        json_tokener_free(tok);
        for (i = off; jerr == json_tokener_success && i < len; i++) {
            if (out[i] != ' ' && out[i] != '\n' && out[i] != '\t' && out[i] != '\r' &&
                out[i] != '\0') {
                jerr = json_tokener_error_parse_unexpected;
                break;
            }
        }
        if (jerr != json_tokener_success || len == 0) {
            wf_strbuf sb = WF_STRBUF_INIT;
            size_t show = len > 80 ? 80 : len;

            json_object_put(v);
            wf_strbuf_addf(&sb, "output: json: %s is not valid JSON (%s); it starts with: ", what,
                           len == 0 ? "it is empty" : json_tokener_error_desc(jerr));
            wf_strbuf_addc(&sb, '\'');
            for (size_t k = 0; k < show; k++)
                wf_strbuf_addc(&sb, out[k] == '\n' ? ' ' : out[k]);
            wf_strbuf_adds(&sb, len > show ? "...'" : "'");
            *error = wf_strbuf_detach(&sb, NULL);
            return WF_EINVAL;
        }
        *value = v;
        return WF_OK;
    }
}
