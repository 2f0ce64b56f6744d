/* libFuzzer target for the shell contexts of `run` strings. The input is a template, then,
 * after the first 0xFF byte if there is one, a value. A template that compiles in shell mode
 * is rendered with `item` set to that value and to a few hostile ones, and with a harmless
 * "x". Whatever a value holds, the script it gives must leave the shell where "x" leaves it
 * (the same quotes, substitutions and heredocs open), as read by the same lexer that placed the
 * values: a value that closed a quote or opened one would show there. Templates with `raw`
 * are exempt (raw text is shell syntax on purpose). Build with -DWF_FUZZ=ON (clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "tpl_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wf_ctx *base;

static void init_context(void)
{
    wf_results *results = wf_results_new(0), *pub = wf_results_new(0);
    wf_ctx_init init = { 0 };

    init.inputs = json_tokener_parse("{\"n\":3}");
    init.vars = json_tokener_parse("{}");
    init.env = json_tokener_parse("{}");
    init.results = results;
    init.published_vars = pub;
    init.workflow_name = "fuzz";
    init.run_id = "r";
    base = wf_ctx_new(&init);
    wf_results_unref(results);
    wf_results_unref(pub);
}

static bool has_raw(const wf_tpl *t)
{
    for (size_t i = 0; i < t->nparts; i++)
        if (t->parts[i].expr != NULL && t->parts[i].mode == PM_RAW)
            return true;
    return false;
}

/* Renders t with item = v (taken) and returns the shell's state after the script in sig, or
 * false when rendering failed (a value the context refuses, such as a string in $(( ))). */
static bool state_with(const wf_tpl *t, json_object *v, char *sig, size_t cap)
{
    wf_ctx *c = wf_ctx_with_item(base, v, 0);
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;
    bool ok;

    wf_error_init(&err);
    ok = wf_tpl_render(t, c, &sb, &err) == WF_OK;
    if (!ok && (err.message == NULL || err.line < 1 || err.column < 1))
        abort();
    if (ok)
        wf__tpl_shell_state(wf_strbuf_str(&sb), sb.len, sig, cap);
    wf_error_release(&err);
    wf_strbuf_release(&sb);
    wf_ctx_unref(c);
    json_object_put(v);
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hostile[] = {
        "'",  "\"",      "`",     "\\", "$(", "${", "#",
        "\n", "\nEOF\n", "'\\''", ")",  "}",  "$'", "a'b\"c`d\\e$f(g)h{i}j#k\nl",
    };
    const uint8_t *sep = memchr(data, 0xFF, size);
    size_t tlen = sep != NULL ? (size_t)(sep - data) : size;
    char want[256], got[256];
    wf_tpl *t = NULL;
    wf_error err;

    if (base == NULL)
        init_context();
    wf_error_init(&err);
    if (wf_tpl_compile((const char *)data, tlen, WF_TPL_SHELL, &t, &err) != WF_OK) {
        if (t != NULL || err.message == NULL || err.line < 1 || err.column < 1)
            abort();
        wf_error_release(&err);
        return 0;
    }
    if (has_raw(t) || !state_with(t, json_object_new_string("x"), want, sizeof(want)))
        goto out;
    if (sep != NULL &&
        state_with(t, json_object_new_string_len((const char *)sep + 1, (int)(size - tlen - 1)),
                   got, sizeof(got)) &&
        strcmp(got, want) != 0)
        abort();
    for (size_t i = 0; i < WF_ARRAY_LEN(hostile); i++) {
        json_object *list = json_object_new_array();

        if (state_with(t, json_object_new_string(hostile[i]), got, sizeof(got)) &&
            strcmp(got, want) != 0)
            abort();
        json_object_array_add(list, json_object_new_string(hostile[i]));
        json_object_array_add(list, NULL);
        json_object_array_add(list, json_object_new_string(""));
        if (state_with(t, list, got, sizeof(got)) && strcmp(got, want) != 0)
            abort();
    }
out:
    wf_error_release(&err);
    wf_tpl_free(t);
    return 0;
}
