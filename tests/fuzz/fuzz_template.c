/* libFuzzer target: compile arbitrary bytes as a template in every mode and, when that
 * succeeds, evaluate, render, test and (for simple commands) split it against a small fixed
 * context. Any input must end in a template or an error, with no crash, leak or sanitizer
 * report, and an error must have a message and a position inside the input. Build with
 * -DWF_FUZZ=ON (clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"
#include "wf_template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static wf_ctx *item_ctx;
static json_object *item;

static void publish(wf_results *m, const char *name, wf_status st, const char *json)
{
    wf_result *r = wf_result_new(st, json ? json_tokener_parse(json) : NULL);

    r->exit_code = st == WF_STATUS_SUCCEEDED ? 0 : 1;
    r->stdout_text = wf_xstrdup("out\n");
    wf_results_publish(m, name, r);
    wf_result_unref(r);
}

/* The context lives for the whole process: the fuzzer never returns from its loop. */
static void init_context(void)
{
    wf_results *results = wf_results_new(0), *pub = wf_results_new(0);
    wf_ctx_init init = { 0 };
    wf_ctx *base;

    publish(results, "a", WF_STATUS_SUCCEEDED, "{\"x\":[1,2,{\"y\":\"z\"}],\"s\":\"t\"}");
    publish(results, "b", WF_STATUS_FAILED, NULL);
    publish(results, "c", WF_STATUS_SUCCEEDED, "\"text\"");
    publish(pub, "p", WF_STATUS_SUCCEEDED, "[1,\"two\",null]");
    init.inputs =
        json_tokener_parse("{\"n\":3,\"s\":\"a b\",\"l\":[1,2.5,\"x\"],\"o\":{\"k\":null}}");
    init.vars = json_tokener_parse("{\"v\":\"w\",\"big\":9223372036854775807}");
    init.env = json_tokener_parse("{\"HOME\":\"/root\"}");
    init.results = results;
    init.published_vars = pub;
    init.workflow_name = "fuzz";
    init.run_id = "r";
    base = wf_ctx_new(&init);
    item = json_tokener_parse("{\"url\":\"http://x/y z\",\"n\":-1,\"l\":[[1],[]],\"e\":\"\"}");
    item_ctx = wf_ctx_with_item(base, item, 7);
    wf_ctx_unref(base);
    wf_results_unref(results);
    wf_results_unref(pub);
}

static void exercise(const wf_tpl *t)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    json_object *v = NULL;
    const wf_tpl_ref *refs;
    char **argv = NULL;
    wf_error err;
    bool b;
    int rc;

    wf_error_init(&err);
    rc = wf_tpl_eval(t, item_ctx, &v, &err);
    if (rc != WF_OK && (err.message == NULL || err.line < 1 || err.column < 1))
        abort();
    json_object_put(v);
    wf_error_release(&err);
    if (wf_tpl_render(t, item_ctx, &sb, &err) != rc)
        abort();
    wf_error_release(&err);
    wf_tpl_eval_bool(t, item_ctx, &b, &err);
    wf_error_release(&err);
    wf_tpl_refs(t, &refs);
    if (wf_tpl_is_simple_command(t)) {
        rc = wf_tpl_render_argv(t, item_ctx, &argv, &err);
        if (rc == WF_OK && argv == NULL)
            abort();
        wf_tpl_argv_free(argv);
        wf_error_release(&err);
    }
    wf_strbuf_release(&sb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const unsigned modes[] = { 0, WF_TPL_SHELL, WF_TPL_EXPR };

    if (item_ctx == NULL)
        init_context();
    for (size_t m = 0; m < WF_ARRAY_LEN(modes); m++) {
        wf_tpl *t = NULL;
        wf_error err;
        int rc;

        wf_error_init(&err);
        rc = wf_tpl_compile((const char *)data, size, modes[m], &t, &err);
        if (rc == WF_OK) {
            exercise(t);
        } else if (t != NULL || err.message == NULL || err.code != rc) {
            abort();
        }
        wf_error_release(&err);
        wf_tpl_free(t);
    }
    return 0;
}
