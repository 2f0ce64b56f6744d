/* Tests for template/: the language of spec/templates.md, its text and shell forms, the
 * references it reports, simple-command argv, and the exact text of every kind of error.
 *
 * Messages are tested artefacts: a change to one is a change to the user interface. The
 * thread test is meant to be run under TSan (-DWF_TSAN=ON), the rest under ASan/UBSan. */
/* ctest-cost: 24 (about its seconds in its slowest CI stage; see CMakeLists.txt) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"
#include "wf_template.h"

#include "sanitized.h"

/* ---- the fixture: one run's context and an item context ---------------------------- */

static wf_ctx *base_ctx, *item_ctx;
static json_object *the_item;

static json_object *parse(const char *text)
{
    json_object *v = json_tokener_parse(text);

    ck_assert_msg(v != NULL || strcmp(text, "null") == 0, "cannot parse %s", text);
    return v;
}

static void publish(wf_results *m, const char *name, wf_status st, const char *value, int exit_code,
                    const char *out, const char *err)
{
    wf_result *r = wf_result_new(st, value ? parse(value) : NULL);

    r->exit_code = exit_code;
    r->stdout_text = out ? wf_xstrdup(out) : NULL;
    r->stderr_text = err ? wf_xstrdup(err) : NULL;
    ck_assert_int_eq(wf_results_publish(m, name, r), WF_OK);
    wf_result_unref(r);
}

static void setup(void)
{
    wf_results *results = wf_results_new(0), *pub = wf_results_new(0);
    wf_ctx_init init = { 0 };
    wf_result *r;

    publish(results, "fetch", WF_STATUS_SUCCEEDED,
            "{\"data\":[{\"name\":\"a\",\"ok\":true},{\"name\":\"b\",\"ok\":false}],\"total\":2}",
            0, "{}", "");
    publish(results, "build", WF_STATUS_SUCCEEDED, "\"1.2.3\"", 0, "1.2.3\n", NULL);
    publish(results, "broken", WF_STATUS_FAILED, NULL, 2, NULL, "boom");
    publish(results, "skipped", WF_STATUS_SKIPPED, NULL, -1, NULL, NULL);
    publish(results, "my-task", WF_STATUS_SUCCEEDED, "\"dash\"", 0, NULL, NULL);
    r = wf_result_new(WF_STATUS_FAILED, NULL);
    r->ignored_failure = true;
    r->exit_code = 1;
    ck_assert_int_eq(wf_results_publish(results, "flaky", r), WF_OK);
    wf_result_unref(r);
    r = wf_result_new(WF_STATUS_FAILED, parse("[1,null,3]"));
    r->n_items = 3;
    r->item_status = wf_xcalloc(3, sizeof(*r->item_status));
    r->item_status[0] = WF_STATUS_SUCCEEDED;
    r->item_status[1] = WF_STATUS_FAILED;
    r->item_status[2] = WF_STATUS_SUCCEEDED;
    ck_assert_int_eq(wf_results_publish(results, "many", r), WF_OK);
    wf_result_unref(r);
    /* Every item ended the same way: no byte an item, the one status (engine/tasks.c). */
    r = wf_result_new(WF_STATUS_SUCCEEDED, NULL);
    r->n_items = 2;
    r->item_status_all = WF_STATUS_SUCCEEDED;
    ck_assert_int_eq(wf_results_publish(results, "same", r), WF_OK);
    wf_result_unref(r);
    publish(pub, "pub", WF_STATUS_SUCCEEDED, "\"published!\"", 0, NULL, NULL);
    publish(pub, "shadow", WF_STATUS_SUCCEEDED, "\"from-publish\"", 0, NULL, NULL);

    init.inputs = parse("{\"timeout\":30,\"region\":\"eu-west-1\",\"list\":[1,2,3]}");
    init.vars = parse("{\"greeting\":\"hello\",\"shadow\":\"from-vars\",\"cfg\":{\"port\":8080}}");
    init.env = parse("{\"HOME\":\"/root\",\"PATH\":\"/bin\"}");
    init.results = results;
    init.published_vars = pub;
    init.workflow_name = "wf";
    init.run_id = "r1";
    base_ctx = wf_ctx_new(&init);
    wf_results_unref(results);
    wf_results_unref(pub);
    the_item =
        parse("{\"url\":\"https://ex.test/a b\",\"n\":5,\"tags\":[\"a\",\"b c\"],"
              "\"none\":null,\"empty\":\"\",\"obj\":{\"k\":\"v\"},\"el\":[],\"t\":\"fetch\"}");
    item_ctx = wf_ctx_with_item(base_ctx, the_item, 2);
}

static void teardown(void)
{
    wf_ctx_unref(item_ctx);
    wf_ctx_unref(base_ctx);
    json_object_put(the_item);
}

static wf_tpl *compile_ok(const char *src, unsigned flags)
{
    wf_error err;
    wf_tpl *t = NULL;
    int rc;

    wf_error_init(&err);
    rc = wf_tpl_compile(src, (size_t)-1, flags, &t, &err);
    ck_assert_msg(rc == WF_OK, "compile %s: %s (%d:%d: %s)", src, wf_errname(rc), err.line,
                  err.column, err.message ? err.message : "");
    wf_error_release(&err);
    return t;
}

static char *to_json(const json_object *v)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_json_write(&sb, v);
    return wf_strbuf_detach(&sb, NULL);
}

/* ---- typed values: literals, roots, paths, operators, filters ------------------------- */

static const struct {
    const char *src;
    const char *want; /* compact JSON */
} value_cases[] = {
    /* literals */
    { "<< null >>", "null" },
    { "<< true >>", "true" },
    { "<< false >>", "false" },
    { "<< 42 >>", "42" },
    { "<< -7 >>", "-7" },
    { "<< 1.5 >>", "1.5" },
    { "<< 1e3 >>", "1000.0" },
    { "<< \"a\\tb\\n\" >>", "\"a\\tb\\n\"" },
    { "<< 'x\\'y' >>", "\"x'y\"" },
    { "<< \"\\u00e9\\ud83d\\ude00\" | length >>", "2" },
    { "<< [1, 'a', [true]] >>", "[1,\"a\",[true]]" },
    { "<< [1, 2,] >>", "[1,2]" },
    { "<< {\"k\": 1, b: [2]} >>", "{\"k\":1,\"b\":[2]}" },
    { "<< [] >>", "[]" },
    { "<< {} >>", "{}" },
    { "<< {'': 1, 'a': ''} >>", "{\"\":1,\"a\":\"\"}" },
    { "<< [item.n, index] >>", "[5,2]" },
    { "<< {'n': item.n} >>", "{\"n\":5}" },
    /* roots and paths */
    { "<< inputs.timeout >>", "30" },
    { "<< inputs['region'] >>", "\"eu-west-1\"" },
    { "<< inputs.list[1] >>", "2" },
    { "<< inputs.list[-1] >>", "3" },
    { "<< vars.greeting >>", "\"hello\"" },
    { "<< vars.pub >>", "\"published!\"" },
    { "<< vars.shadow >>", "\"from-publish\"" },
    { "<< vars['cfg'].port >>", "8080" },
    { "<< env.HOME >>", "\"/root\"" },
    { "<< task.fetch.total >>", "2" },
    { "<< task.fetch.data[0].name >>", "\"a\"" },
    { "<< task.fetch.data[-1]['name'] >>", "\"b\"" },
    { "<< task[\"my-task\"] >>", "\"dash\"" },
    { "<< task.build >>", "\"1.2.3\"" },
    { "<< task.broken >>", "null" },
    { "<< task.many >>", "[1,null,3]" },
    { "<< item.n >>", "5" },
    { "<< item[\"n\"] >>", "5" },
    { "<< item.tags[index - 1] >>", "\"b c\"" },
    { "<< item[item.t == 'fetch' and 'url' or 'n'] >>", "\"https://ex.test/a b\"" },
    { "<< index >>", "2" },
    { "<< workflow.name >>", "\"wf\"" },
    { "<< workflow.run_id >>", "\"r1\"" },
    { "<< workflow >>", "{\"name\":\"wf\",\"run_id\":\"r1\"}" },
    { "<< item.obj.k >>", "\"v\"" },
    /* arithmetic */
    { "<< 1 + 2 * 3 >>", "7" },
    { "<< (1 + 2) * 3 >>", "9" },
    { "<< 10 - 2 - 3 >>", "5" },
    { "<< 2 * -3 >>", "-6" },
    { "<< --3 >>", "3" },
    { "<< 7 / 2 >>", "3.5" },
    { "<< 6 / 2 >>", "3" },
    { "<< 1 / 4.0 >>", "0.25" },
    { "<< 7 % 3 >>", "1" },
    { "<< -7 % 3 >>", "2" },
    { "<< 7 % -3 >>", "-2" },
    { "<< 7.5 % 2 >>", "1.5" },
    { "<< 1 + 0.5 >>", "1.5" },
    { "<< 0.1 + 0.2 >>", "0.30000000000000004" },
    { "<< 9223372036854775807 + 1 >>", "9.223372036854776e+18" },
    { "<< -9223372036854775807 - 2 >>", "-9.223372036854776e+18" },
    { "<< 4611686018427387904 * 4 >>", "1.8446744073709552e+19" },
    { "<< 'a' + 'b' >>", "\"ab\"" },
    { "<< [1] + [2, 3] >>", "[1,2,3]" },
    { "<< item.tags + inputs.list >>", "[\"a\",\"b c\",1,2,3]" },
    /* comparisons */
    { "<< 1 == 1.0 >>", "true" },
    { "<< '3' == 3 >>", "false" },
    { "<< 1 != 2 >>", "true" },
    { "<< [1, {'a': 2}] == [1.0, {'a': 2}] >>", "true" },
    { "<< null == null >>", "true" },
    { "<< 1 < 2 >>", "true" },
    { "<< 1.5 < 1 >>", "false" },
    { "<< 'a' < 'b' >>", "true" },
    { "<< 'ab' < 'a' >>", "false" },
    { "<< 2 <= 2 >>", "true" },
    { "<< 3 > 2.5 >>", "true" },
    { "<< 2 >= 3 >>", "false" },
    { "<< 2 in [1, 2] >>", "true" },
    { "<< 2.0 in [1, 2] >>", "true" },
    { "<< 'ell' in 'hello' >>", "true" },
    { "<< '' in 'x' >>", "true" },
    { "<< 'k' in {'k': 1} >>", "true" },
    { "<< 3 not in [1] >>", "true" },
    { "<< 'b c' in item.tags >>", "true" },
    /* logic */
    { "<< not true >>", "false" },
    { "<< not 0 >>", "true" },
    { "<< not not 'x' >>", "true" },
    { "<< not [] >>", "true" },
    { "<< 1 and 2 >>", "2" },
    { "<< 0 and 2 >>", "0" },
    { "<< 0 or 'x' >>", "\"x\"" },
    { "<< null or false >>", "false" },
    { "<< false and item.missing >>", "false" },
    { "<< true or item.missing >>", "true" },
    /* ?? */
    { "<< null ?? 1 >>", "1" },
    { "<< false ?? 1 >>", "false" },
    { "<< item.missing ?? 'd' >>", "\"d\"" },
    { "<< item.n ?? 0 >>", "5" },
    { "<< item.none ?? 'was null' >>", "\"was null\"" },
    { "<< item.none.deeper ?? 'null parent' >>", "\"null parent\"" },
    { "<< inputs.list[10] ?? -1 >>", "-1" },
    { "<< task.broken.items ?? [] >>", "[]" },
    { "<< vars.nope ?? 'no var' >>", "\"no var\"" },
    { "<< item.a ?? item.b ?? 3 >>", "3" },
    { "<< item.el | first ?? 'empty' >>", "\"empty\"" },
    /* precedence */
    { "<< 1 + 2 == 3 and not false >>", "true" },
    { "<< not 1 == 2 >>", "true" },
    { "<< null ?? 1 or 2 >>", "1" },
    { "<< 0 or null ?? 5 >>", "5" },
    { "<< (1 < 2) == true >>", "true" },
    { "<< -2 | abs >>", "-2" },
    { "<< 1 + [1, 2] | length >>", "3" },
    { "<< 2 * 3 % 4 >>", "2" },
    { "<< 1 in [1] and 2 in [2] >>", "true" },
    { "<< false or true and false >>", "false" },
    /* filters and functions, both ways */
    { "<< 'héllo' | length >>", "5" },
    { "<< length([1, 2]) >>", "2" },
    { "<< {'a': 1} | length >>", "1" },
    { "<< {'b': 1, 'a': 2} | keys >>", "[\"b\",\"a\"]" },
    { "<< values({'b': 1, 'a': 2}) >>", "[1,2]" },
    { "<< {'b': 1} | items >>", "[{\"key\":\"b\",\"value\":1}]" },
    { "<< [1, 2, 3] | first >>", "1" },
    { "<< last([1, 2, 3]) >>", "3" },
    { "<< item.tags | first >>", "\"a\"" },
    { "<< [1, 2, 3] | reverse >>", "[3,2,1]" },
    { "<< 'abé' | reverse >>", "\"éba\"" },
    { "<< [3, 1, 2] | sort >>", "[1,2,3]" },
    { "<< sort([2, 1.5, -1]) >>", "[-1,1.5,2]" },
    { "<< ['b', 'a', 'B'] | sort >>", "[\"B\",\"a\",\"b\"]" },
    { "<< [1, 2, 1, 1.0, 'a', 'a', [1], [1], {'x': 1}, {'x': 1}] | unique >>",
      "[1,2,\"a\",[1],{\"x\":1}]" },
    { "<< [[1, 2], [3, [4]], 5] | flatten >>", "[1,2,3,[4],5]" },
    { "<< ['a', 'b'] | join(', ') >>", "\"a, b\"" },
    { "<< join([1, true, null, 1.5], '-') >>", "\"1-true--1.5\"" },
    { "<< ['a', 'b'] | join >>", "\"ab\"" },
    { "<< 'a,b,,c' | split(',') >>", "[\"a\",\"b\",\"\",\"c\"]" },
    { "<< split('a--b', '--') >>", "[\"a\",\"b\"]" },
    { "<< '' | split(',') >>", "[\"\"]" },
    { "<< 'a\\nb\\r\\n\\nc\\n' | lines >>", "[\"a\",\"b\",\"\",\"c\"]" },
    { "<< '' | lines >>", "[]" },
    { "<< 'aB1é' | upper >>", "\"AB1é\"" },
    { "<< lower('AbC') >>", "\"abc\"" },
    { "<< ' \\t x y \\n' | trim >>", "\"x y\"" },
    { "<< 'aXbX' | replace('X', '-') >>", "\"a-b-\"" },
    { "<< replace('aaa', 'aa', 'b') >>", "\"ba\"" },
    { "<< 'hello' | startswith('he') >>", "true" },
    { "<< endswith('hello', 'he') >>", "false" },
    { "<< item.tags | contains('a') >>", "true" },
    { "<< contains('hello', 'll') >>", "true" },
    { "<< {'k': 1} | contains('j') >>", "false" },
    { "<< item.missing | default('d') >>", "\"d\"" },
    { "<< default(null, 3) >>", "3" },
    { "<< default(0, 3) >>", "0" },
    { "<< '42' | int >>", "42" },
    { "<< ' -7 ' | int >>", "-7" },
    { "<< 3.9 | int >>", "3" },
    { "<< int(-3.9) >>", "-3" },
    { "<< true | int >>", "1" },
    { "<< 2 | float >>", "2.0" },
    { "<< '1.5e1' | float >>", "15.0" },
    { "<< 3 | string >>", "\"3\"" },
    { "<< [1, 'a'] | string >>", "\"[1,\\\"a\\\"]\"" },
    { "<< null | string >>", "\"\"" },
    { "<< 'Yes' | bool >>", "true" },
    { "<< 'off' | bool >>", "false" },
    { "<< 0 | bool >>", "false" },
    { "<< [1] | bool >>", "true" },
    { "<< {'a': [1, 'x']} | json >>", "\"{\\\"a\\\":[1,\\\"x\\\"]}\"" },
    { "<< json(null) >>", "\"null\"" },
    { "<< '{\"a\": [1, 2]}' | fromjson >>", "{\"a\":[1,2]}" },
    { "<< ' 3 ' | fromjson >>", "3" },
    { "<< 'a b' | quote >>", "\"'a b'\"" },
    { "<< quote(\"it's\") >>", "\"'it'\\\\''s'\"" },
    { "<< item.tags | quote >>", "\"a 'b c'\"" },
    { "<< 'a b' | raw >>", "\"a b\"" },
    { "<< task.fetch.data | map('name') >>", "[\"a\",\"b\"]" },
    { "<< map([{'a': {'b': 1}}, {'a': {'b': 2}}], 'a.b') >>", "[1,2]" },
    { "<< map([[1, 2], [3, 4]], '-1') >>", "[2,4]" },
    { "<< task.fetch.data | select('ok') | map('name') >>", "[\"a\"]" },
    { "<< select([{'a': 1}, {}, 3, {'a': 0}], 'a') >>", "[{\"a\":1}]" },
    /* select/reject by value */
    { "<< task.fetch.data | select('ok', false) | map('name') >>", "[\"b\"]" },
    { "<< [{'s': 'failed', 'n': 1}, {'s': 'ok', 'n': 2}, {'n': 3}] | select('s', 'failed') | "
      "map('n') >>",
      "[1]" },
    { "<< [{'s': 'failed', 'n': 1}, {'s': 'ok', 'n': 2}, {'n': 3}] | reject('s', 'failed') | "
      "map('n') >>",
      "[2,3]" },
    { "<< task.fetch.data | reject('ok') | map('name') >>", "[\"b\"]" },
    { "<< [{'a': {'b': 1}}, {'a': {'b': 1.0}}, {'a': 2}] | select('a.b', 1) | length >>", "2" },
    /* a if cond else b: lowest precedence, right-associative, only the chosen branch runs */
    { "<< 'big' if inputs.timeout > 10 else 'small' >>", "\"big\"" },
    { "<< 'big' if inputs.timeout > 100 else 'small' >>", "\"small\"" },
    { "<< 'a' if false else 'b' if inputs.timeout == 30 else 'c' >>", "\"b\"" },
    { "<< 1 + 2 if true else 0 >>", "3" },
    { "<< item.none ?? 5 if item.n else 0 >>", "5" },
    { "<< item.n if item.el else item.el[7] ?? 'fallback' >>", "\"fallback\"" },
    { "<< 'yes' if item.el[3] ?? false else item.n >>", "5" },
    { "<< 'ran' if true else item.missing.deeper >>", "\"ran\"" },
    { "<< range(3) >>", "[0,1,2]" },
    { "<< 2 | range(5) >>", "[2,3,4]" },
    { "<< range(5, 2) >>", "[]" },
    { "<< range(-1) >>", "[]" },
    { "<< [1, 2, 3, 4, 5] | chunks(2) >>", "[[1,2],[3,4],[5]]" },
    { "<< chunks([], 3) >>", "[]" },
    { "<< zip([1, 2, 3], ['a', 'b']) >>", "[[1,\"a\"],[2,\"b\"]]" },
    { "<< [1, 2] | zip([3, 4]) >>", "[[1,3],[2,4]]" },
    { "<< [1, 2, 3.5] | sum >>", "6.5" },
    { "<< [] | sum >>", "0" },
    { "<< [9223372036854775807, 1] | sum >>", "9.223372036854776e+18" },
    { "<< [3, 1, 2] | min >>", "1" },
    { "<< max(['b', 'c', 'a']) >>", "\"c\"" },
    { "<< [1, 2.5] | max >>", "2.5" },
    { "<< abs(-3) >>", "3" },
    { "<< (-2.5) | abs >>", "2.5" },
    { "<< 2.5 | round >>", "3" },
    { "<< round(-2.5) >>", "-3" },
    { "<< round(2.346, 2) >>", "2.35" },
    { "<< 7 | round >>", "7" },
    /* status functions */
    { "<< always() >>", "true" },
    { "<< status('fetch') >>", "\"succeeded\"" },
    { "<< status('broken') >>", "\"failed\"" },
    { "<< status('flaky') >>", "\"failed\"" },
    { "<< status('skipped') >>", "\"skipped\"" },
    { "<< succeeded('fetch') >>", "true" },
    { "<< succeeded('flaky') >>", "false" },
    { "<< failed('flaky') >>", "true" },
    { "<< failed('fetch') >>", "false" },
    { "<< 'fetch' | succeeded >>", "true" },
    { "<< succeeded(item.t) >>", "true" },
    { "<< exit_code('broken') >>", "2" },
    { "<< exit_code('skipped') >>", "null" },
    { "<< stdout('build') >>", "\"1.2.3\\n\"" },
    { "<< stdout('broken') >>", "null" },
    { "<< stderr('broken') >>", "\"boom\"" },
    { "<< item_status('many') >>", "[\"succeeded\",\"failed\",\"succeeded\"]" },
    { "<< item_status('fetch') >>", "[]" },
    { "<< item_status('same') >>", "[\"succeeded\",\"succeeded\"]" },
    { "<< task.many | length >>", "3" },
    /* whole-string values keep their type, with spaces around */
    { "  << inputs.list >>  ", "[1,2,3]" },
    { "<<item.n>>", "5" },
    { "<< 'a >> b' >>", "\"a >> b\"" },
};

START_TEST(test_values)
{
    wf_tpl *t = compile_ok(value_cases[_i].src, 0);
    json_object *v = NULL;
    wf_error err;
    char *got;
    int rc;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_get_kind(t), WF_TPL_VALUE);
    rc = wf_tpl_eval(t, item_ctx, &v, &err);
    ck_assert_msg(rc == WF_OK, "%s: %s", value_cases[_i].src, err.message ? err.message : "");
    got = to_json(v);
    ck_assert_msg(strcmp(got, value_cases[_i].want) == 0, "%s: got %s, want %s",
                  value_cases[_i].src, got, value_cases[_i].want);
    free(got);
    json_object_put(v);
    wf_error_release(&err);
    wf_tpl_free(t);
}
END_TEST

/* ---- truthiness and `when` ------------------------------------------------------------ */

static const struct {
    const char *src;
    bool want;
} bool_cases[] = {
    { "null", false },
    { "false", false },
    { "0", false },
    { "0.0", false },
    { "''", false },
    { "[]", false },
    { "{}", false },
    { "true", true },
    { "1", true },
    { "-0.5", true },
    { "'false'", true },
    { "' '", true },
    { "[0]", true },
    { "{'a': null}", true },
    { "item.n > 3", true },
    { "<< item.n > 3 >>", true },
    { "  << item.none >>  ", false },
    { "failed('broken') or always()", true },
    { "item.el", false },
    { "item.missing ?? false", false },
};

START_TEST(test_truthiness)
{
    wf_tpl *t = compile_ok(bool_cases[_i].src, WF_TPL_EXPR);
    bool b = !bool_cases[_i].want;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_get_kind(t), WF_TPL_VALUE);
    ck_assert_int_eq(wf_tpl_eval_bool(t, item_ctx, &b, &err), WF_OK);
    ck_assert_msg(b == bool_cases[_i].want, "%s", bool_cases[_i].src);
    wf_error_release(&err);
    wf_tpl_free(t);
}
END_TEST

/* ---- interpolation and shell quoting ------------------------------------------------- */

static const struct {
    const char *src;
    unsigned flags;
    wf_tpl_kind kind;
    const char *want;
} render_cases[] = {
    { "plain text", 0, WF_TPL_LITERAL, "plain text" },
    { "", 0, WF_TPL_LITERAL, "" },
    /* Text with no `<<` is compiled by a shorter path (compile.c, literal_fast): the same
     * constant as the full compiler makes, a `<` alone and a `\<` that is no escape kept. */
    { "echo 5", WF_TPL_SHELL, WF_TPL_LITERAL, "echo 5" },
    { "sort < in > out", WF_TPL_SHELL, WF_TPL_LITERAL, "sort < in > out" },
    { "a <\n< b <", WF_TPL_SHELL | WF_TPL_CSTRING, WF_TPL_LITERAL, "a <\n< b <" },
    { "x\\< y \\", 0, WF_TPL_LITERAL, "x\\< y \\" },
    { "<", WF_TPL_CSTRING, WF_TPL_LITERAL, "<" },
    { "echo 'unclosed", WF_TPL_SHELL, WF_TPL_LITERAL, "echo 'unclosed" },
    { "echo \\<<", WF_TPL_SHELL, WF_TPL_LITERAL, "echo <<" },
    { "\\<<<", 0, WF_TPL_LITERAL, "<<<" },
    { "n=<< item.n >>", 0, WF_TPL_INTERP, "n=5" },
    { "<< 1.5 >>/<< true >>/<< null >>/<< [1,'a'] >>/<< {'a':1} >>/<< 2.0 >>", 0, WF_TPL_INTERP,
      "1.5/true//[1,\"a\"]/{\"a\":1}/2.0" },
    { "\\<< not an expression >>", 0, WF_TPL_LITERAL, "<< not an expression >>" },
    { "a \\<< b << 1 >>", 0, WF_TPL_INTERP, "a << b 1" },
    { "x << \">>\" >> y", 0, WF_TPL_INTERP, "x >> y" },
    { "<< 'a' >><< 'b' >>", 0, WF_TPL_INTERP, "ab" },
    { "a\\b << 1 >>", 0, WF_TPL_INTERP, "a\\b 1" },
    { "<< item.url >>", 0, WF_TPL_VALUE, "https://ex.test/a b" },
    { "url: << item.url >>", 0, WF_TPL_INTERP, "url: https://ex.test/a b" },
    { "<< 'a b' | quote >> << 'a b' | raw >>", 0, WF_TPL_INTERP, "'a b' a b" },
    { "multi\nline << index >>\n", 0, WF_TPL_INTERP, "multi\nline 2\n" },
    /* shell mode */
    { "echo << item.url >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo 'https://ex.test/a b'" },
    { "echo << item.tags >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo a 'b c'" },
    { "echo << item.obj >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo '{\"k\":\"v\"}'" },
    { "echo << item.none >>!", WF_TPL_SHELL, WF_TPL_INTERP, "echo !" },
    { "echo << item.empty >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo ''" },
    { "echo << \"it's\" >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo 'it'\\''s'" },
    { "echo << 'a b' | raw >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo a b" },
    { "echo << item.tags | raw >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo [\"a\",\"b c\"]" },
    { "echo << 'a b' | quote >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo 'a b'" },
    { "echo << inputs.timeout >> << 2.5 >> << true >>", WF_TPL_SHELL, WF_TPL_INTERP,
      "echo 30 2.5 true" },
    { "echo << 'A=b' >> << '--x=1' >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo 'A=b' --x=1" },
    { "echo << [1, null, [2], 'x y'] >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo 1 '[2]' 'x y'" },
    { "echo << [] >>.", WF_TPL_SHELL, WF_TPL_INTERP, "echo ." },
    { "<< item.url >>", WF_TPL_SHELL, WF_TPL_VALUE, "'https://ex.test/a b'" },
    { "<< item.tags >>", WF_TPL_SHELL, WF_TPL_VALUE, "a 'b c'" },
    { "echo '<< item.n >>'", WF_TPL_SHELL, WF_TPL_INTERP, "echo '5'" },
    { "echo $HOME", WF_TPL_SHELL, WF_TPL_LITERAL, "echo $HOME" },
    /* a # after an empty value would start a comment the compiler did not see */
    { "echo << item.none >>#x '<< item.n >>'", WF_TPL_SHELL, WF_TPL_INTERP, "echo ''#x '5'" },
    { "echo << item.el >>#x", WF_TPL_SHELL, WF_TPL_INTERP, "echo ''#x" },
    { "echo << item.none >> #x << item.n >>", WF_TPL_SHELL, WF_TPL_INTERP, "echo  #x " },
};

START_TEST(test_render)
{
    wf_tpl *t = compile_ok(render_cases[_i].src, render_cases[_i].flags);
    wf_strbuf sb = WF_STRBUF_INIT;
    json_object *v = NULL;
    wf_error err;
    int rc;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_get_kind(t), render_cases[_i].kind);
    ck_assert_str_eq(wf_tpl_source(t), render_cases[_i].src);
    rc = wf_tpl_render(t, item_ctx, &sb, &err);
    ck_assert_msg(rc == WF_OK, "%s: %s", render_cases[_i].src, err.message ? err.message : "");
    ck_assert_str_eq(wf_strbuf_str(&sb), render_cases[_i].want);
    /* eval gives the same text as a JSON string, except for typed value templates */
    if (render_cases[_i].kind != WF_TPL_VALUE) {
        ck_assert_int_eq(wf_tpl_eval(t, item_ctx, &v, &err), WF_OK);
        ck_assert(json_object_is_type(v, json_type_string));
        ck_assert_str_eq(json_object_get_string(v), render_cases[_i].want);
        json_object_put(v);
    }
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    wf_tpl_free(t);
}
END_TEST

/* Runs cmd with /bin/sh and returns its stdout (owned). */
static char *run_sh(const char *cmd)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    FILE *f = popen(cmd, "r");
    char buf[256];
    size_t n;

    ck_assert_ptr_nonnull(f);
    for (;;) {
        n = fread(buf, 1, sizeof(buf), f);
        if (n == 0)
            break;
        wf_strbuf_add(&sb, buf, n);
    }
    ck_assert_int_eq(pclose(f), 0);
    wf_strbuf_grow(&sb, 0);
    return wf_strbuf_detach(&sb, NULL);
}

static const char *const evil[] = {
    "; rm -rf /tmp/wf-never",
    "$(echo pwned)",
    "`echo pwned`",
    "a'b",
    "'",
    "''",
    "a\"b",
    "line1\nline2\n",
    "$HOME ${HOME}",
    "*",
    "a b  c",
    "\\",
    "-n",
    "x && echo pwned || echo pwned",
    "> /tmp/wf-never",
    "A=b",
    "\t",
    "é ✓",
    "#comment",
    "~",
    "| echo pwned",
    "&& echo pwned",
    "\necho pwned",
    "${IFS}$IFS",
    "!!",
    "a'\"b\"'c",
    "'\\''",
    "EOF\necho pwned",
    ")\necho pwned\n(",
    "\"; echo pwned; \"",
    "' ; echo pwned ; '",
};

/* Data can never inject shell syntax: sh hands printf exactly the value. */
START_TEST(test_shell_injection)
{
    wf_tpl *t = compile_ok("printf %s << vars.v >>", WF_TPL_SHELL);
    wf_tpl *tl = compile_ok("printf '<%s>' << vars.l >>", WF_TPL_SHELL);
    wf_ctx *c;
    wf_strbuf sb = WF_STRBUF_INIT, want = WF_STRBUF_INIT;
    json_object *vars = json_object_new_object(), *list = json_object_new_array();
    wf_error err;
    char *out;

    wf_error_init(&err);
    json_object_object_add(vars, "v", json_object_new_string(evil[_i]));
    json_object_array_add(list, json_object_new_string(evil[_i]));
    json_object_array_add(list, json_object_new_string("$(x)"));
    json_object_object_add(vars, "l", list);
    c = wf_ctx_with_vars(base_ctx, vars);
    ck_assert_int_eq(wf_tpl_render(t, c, &sb, &err), WF_OK);
    out = run_sh(wf_strbuf_str(&sb));
    ck_assert_str_eq(out, evil[_i]);
    free(out);
    wf_strbuf_reset(&sb);
    ck_assert_int_eq(wf_tpl_render(tl, c, &sb, &err), WF_OK);
    out = run_sh(wf_strbuf_str(&sb));
    wf_strbuf_addf(&want, "<%s><$(x)>", evil[_i]);
    ck_assert_str_eq(out, wf_strbuf_str(&want));
    free(out);
    wf_strbuf_release(&want);
    wf_strbuf_release(&sb);
    wf_ctx_unref(c);
    wf_tpl_free(t);
    wf_tpl_free(tl);
}
END_TEST

/* Every quoting context a value can land in, with what sh must print: '@' stands for the
 * value. Each evil value goes through each of them (test_shell_contexts). */
static const struct {
    const char *src;
    const char *want;
} shell_contexts[] = {
    { "printf %s << vars.v >>", "@" },
    { "printf %s '<< vars.v >>'", "@" },
    { "printf %s \"<< vars.v >>\"", "@" },
    { "printf %s pre\"<< vars.v >>\"post", "pre@post" },
    { "printf %s 'a'<< vars.v >>\"b\"", "a@b" },
    { "printf '<%s>' '<< vars.v >>' \"<< vars.v >>\" << vars.v >>", "<@><@><@>" },
    { "printf %s \"it's '<< vars.v >>'\"", "it's '@'" },
    { "printf %s '\"'<< vars.v >>'\"'", "\"@\"" },
    { "printf %s \"$(printf %s << vars.v >>; printf .)\"", "@." },
    { "printf %s \"$(printf %s \"<< vars.v >>\"; printf .)\"", "@." },
    { "printf %s \"$(printf %s '<< vars.v >>'; printf .)\"", "@." },
    { "x=1 # don't << vars.v >>\nprintf %s \"<< vars.v >>\"", "@" },
    { "cat \\<<'EOF'\nit's static\nEOF\nprintf %s '<< vars.v >>'", "it's static\n@" },
    { "cat \\<<-EOF; printf %s \"<< vars.v >>\"\n\tbody $HOME\n\tEOF", "body /root\n@" },
    { "f() { printf %s \"$1\"; }; f << vars.v >>", "@" },
    { "(printf %s '<< vars.v >>')", "@" },
    { "printf %s \"${HOME+set}\"<< vars.v >>", "set@" },
    { "printf %s $((1 + 2))'<< vars.v >>'", "3@" },
};

/* Every value through one context: nothing is executed, each value arrives byte for byte.
 * One shell runs them all (each in a subshell, its output ended by a \001), as a shell per
 * value made this the slowest test under the sanitizers. */
START_TEST(test_shell_contexts)
{
    wf_tpl *t = compile_ok(shell_contexts[_i].src, WF_TPL_SHELL);
    wf_strbuf cmd = WF_STRBUF_INIT;
    wf_error err;
    char *out, *piece;

    wf_error_init(&err);
    /* A HOME that the script can print, whatever the test's environment. */
    wf_strbuf_adds(&cmd, "HOME=/root; export HOME\n");
    for (size_t k = 0; k < WF_ARRAY_LEN(evil); k++) {
        json_object *vars = json_object_new_object();
        wf_ctx *c;

        json_object_object_add(vars, "v", json_object_new_string(evil[k]));
        c = wf_ctx_with_vars(base_ctx, vars);
        wf_strbuf_adds(&cmd, "(\n");
        ck_assert_int_eq(wf_tpl_render(t, c, &cmd, &err), WF_OK);
        wf_strbuf_adds(&cmd, "\n)\nprintf '\\001'\n");
        wf_ctx_unref(c);
    }
    out = run_sh(wf_strbuf_str(&cmd));
    piece = out;
    for (size_t k = 0; k < WF_ARRAY_LEN(evil); k++) {
        char *end = strchr(piece, '\001');
        wf_strbuf want = WF_STRBUF_INIT;

        ck_assert_msg(end != NULL, "%s: the output of value %zu is missing", shell_contexts[_i].src,
                      k);
        *end = '\0';
        for (const char *w = shell_contexts[_i].want; *w != '\0'; w++) {
            if (*w == '@')
                wf_strbuf_adds(&want, evil[k]);
            else
                wf_strbuf_addc(&want, *w);
        }
        ck_assert_msg(strcmp(piece, wf_strbuf_str(&want)) == 0, "%s\nvalue: %s\ngot: %s\nwant: %s",
                      shell_contexts[_i].src, evil[k], piece, wf_strbuf_str(&want));
        wf_strbuf_release(&want);
        piece = end + 1;
    }
    free(out);
    wf_strbuf_release(&cmd);
    wf_tpl_free(t);
}
END_TEST

/* Where no quoting makes a value safe, compiling fails at the value (or at the quote that is
 * never closed) and says what to do instead. */
static const struct {
    const char *src;
    int col; /* in the last line of src */
    const char *msg;
} shell_refusals[] = {
    { "echo `<< vars.v >>`", 7,
      "a value inside `...` backticks cannot be quoted safely; write $( )" },
    { "echo \"`<< vars.v >>`\"", 8, "backticks" },
    { "echo ${X:-<< vars.v >>}", 11,
      "a value inside ${...} cannot be quoted safely; pass the value with `env:`" },
    { "echo \"${X:-<< vars.v >>}\"", 12, "${...}" },
    { "echo $'<< vars.v >>'", 8, "a value inside $'...' cannot be quoted safely" },
    { "cat \\<<EOF\nx << vars.v >>\nEOF", 3,
      "a value inside a heredoc body cannot be quoted safely" },
    { "cat \\<<'EOF'\n<< vars.v >>\nEOF", 1, "heredoc body" },
    { "cat \\<<EOF; echo ok\n<< vars.v >>\nEOF\necho << vars.v >>", 1, "heredoc body" },
    { "echo '<< vars.v >>", 6,
      "this ' is never closed, so the values in this command cannot be quoted safely; close it" },
    { "echo << vars.v >> \"abc", 19, "this \" is never closed" },
    { "echo $(echo << vars.v >>", 6, "this $( is never closed" },
    { "x=$(case a in a) echo hi;; esac) << vars.v >>", 34,
      "after `case` inside $( ), the shell's quoting cannot be followed" },
    { "echo $'a\\'b' << vars.v >>", 14, "means different things to different shells" },
    { "cat \\<<<< vars.v >>", 8, "a value cannot be a heredoc's delimiter" },
    { "echo $<< vars.v >>", 7, "a value right after $ would become part of a shell expansion" },
    { "echo \"$<< vars.v >>\"", 8, "a value right after $" },
};

START_TEST(test_shell_refusals)
{
    wf_tpl *t = NULL;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_compile(shell_refusals[_i].src, (size_t)-1, WF_TPL_SHELL, &t, &err),
                     WF_ESYNTAX);
    ck_assert_ptr_null(t);
    ck_assert_msg(strstr(err.message, shell_refusals[_i].msg) != NULL, "%s: got %s",
                  shell_refusals[_i].src, err.message);
    ck_assert_msg(err.column == shell_refusals[_i].col, "%s: column %d", shell_refusals[_i].src,
                  err.column);
    wf_error_release(&err);
}
END_TEST

/* A NUL byte can reach no process: it is an error naming the value, never a shortened string. */
START_TEST(test_shell_nul)
{
    static const struct {
        const char *src;
        unsigned flags;
    } cases[] = {
        { "printf %s << vars.v >>", WF_TPL_SHELL }, /* a simple command: argv */
        { "printf %s '<< vars.v >>' | cat", WF_TPL_SHELL },
        { "echo << vars.l >> | cat", WF_TPL_SHELL },
        { "<< vars.v >>", WF_TPL_CSTRING },
        { "dir/<< vars.l[1] >>", WF_TPL_CSTRING },
    };
    json_object *vars = json_object_new_object(), *l = json_object_new_array();
    wf_ctx *c;

    json_object_object_add(vars, "v", json_object_new_string_len("a\0b", 3));
    json_object_array_add(l, json_object_new_string("ok"));
    json_object_array_add(l, json_object_new_string_len("x\0", 2));
    json_object_object_add(vars, "l", l);
    c = wf_ctx_with_vars(base_ctx, vars);
    for (size_t i = 0; i < WF_ARRAY_LEN(cases); i++) {
        wf_tpl *t = compile_ok(cases[i].src, cases[i].flags);
        wf_strbuf sb = WF_STRBUF_INIT;
        char **argv = NULL;
        wf_error err;

        wf_error_init(&err);
        ck_assert_msg(wf_tpl_render(t, c, &sb, &err) == WF_EINVAL, "%s: rendered %zu bytes: %s",
                      cases[i].src, sb.len, wf_strbuf_str(&sb));
        ck_assert_msg(strstr(err.message, "holds a NUL byte") != NULL, "%s", err.message);
        ck_assert(strstr(err.message, "vars.") != NULL);
        if (wf_tpl_is_simple_command(t)) {
            ck_assert_int_eq(wf_tpl_render_argv(t, c, &argv, &err), WF_EINVAL);
            ck_assert_ptr_null(argv);
        }
        wf_strbuf_release(&sb);
        wf_error_release(&err);
        wf_tpl_free(t);
    }
    wf_ctx_unref(c);
}
END_TEST

/* Values that each fit can add up to a text over the string cap: an error, not a huge string. */
START_TEST(test_render_cap)
{
    wf_tpl *t = compile_ok("echo '<< vars.v >>' << vars.v >>", WF_TPL_SHELL);
    json_object *vars = json_object_new_object();
    wf_strbuf sb = WF_STRBUF_INIT;
    size_t n = WF_MAX_STRING_LEN / 2 + 1;
    char *big = wf_xmalloc(n);
    wf_error err;
    wf_ctx *c;

    memset(big, 'a', n);
    json_object_object_add(vars, "v", json_object_new_string_len(big, (int)n));
    free(big);
    c = wf_ctx_with_vars(base_ctx, vars);
    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_render(t, c, &sb, &err), WF_ERANGE);
    ck_assert_msg(strstr(err.message, "the rendered text would make a string of") != NULL, "%s",
                  err.message);
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    wf_ctx_unref(c);
    wf_tpl_free(t);
}
END_TEST

START_TEST(test_shell_nul_literal)
{
    wf_tpl *t = NULL;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_compile("echo a\0b", 8, WF_TPL_CSTRING, &t, &err), WF_ESYNTAX);
    ck_assert_str_eq(err.message,
                     "a NUL byte cannot be part of a command line, a variable or a path");
    ck_assert_int_eq(err.column, 7);
    wf_error_release(&err);
}
END_TEST

/* Inside $(( )) only a number is safe; in a comment a value is left out. */
START_TEST(test_shell_arith_comment)
{
    wf_tpl *t = compile_ok("echo $(( << item.n >> + << vars.greeting >> )) # << item.url >>\n",
                           WF_TPL_SHELL);
    wf_tpl *ok = compile_ok("echo $(( << item.n >> * 2 )) # << item.url >>\necho x", WF_TPL_SHELL);
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_render(ok, item_ctx, &sb, &err), WF_OK);
    ck_assert_str_eq(wf_strbuf_str(&sb), "echo $(( 5 * 2 )) # \necho x");
    wf_strbuf_reset(&sb);
    ck_assert_int_eq(wf_tpl_render(t, item_ctx, &sb, &err), WF_ETYPE);
    ck_assert_str_eq(err.message, "inside $(( )) a value must be a number, got a string");
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    wf_tpl_free(t);
    wf_tpl_free(ok);
}
END_TEST

START_TEST(test_shell_quote_helper)
{
    static const struct {
        const char *in, *want;
    } q[] = {
        { "abc", "abc" },
        { "", "''" },
        { "a b", "'a b'" },
        { "it's", "'it'\\''s'" },
        { "-_./:,+@%^=", "-_./:,+@%^=" },
        { "x=1", "'x=1'" },
        { "--x=1", "--x=1" },
        { "$x", "'$x'" },
        { "a\nb", "'a\nb'" },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(q); i++) {
        wf_strbuf sb = WF_STRBUF_INIT;

        wf_shell_quote(&sb, q[i].in, strlen(q[i].in));
        ck_assert_str_eq(wf_strbuf_str(&sb), q[i].want);
        wf_strbuf_release(&sb);
    }
}
END_TEST

START_TEST(test_text_form_helper)
{
    static const struct {
        const char *json, *want;
    } f[] = {
        { "\"s\"", "s" },
        { "3", "3" },
        { "-9223372036854775808", "-9223372036854775808" },
        { "2.5", "2.5" },
        { "true", "true" },
        { "null", "" },
        { "[1,\"a\"]", "[1,\"a\"]" },
        { "{\"a\":{}}", "{\"a\":{}}" },
        { "18446744073709551615", "18446744073709551615" },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(f); i++) {
        wf_strbuf sb = WF_STRBUF_INIT;
        json_object *v = parse(f[i].json);

        wf_tpl_text_form(&sb, v);
        ck_assert_str_eq(wf_strbuf_str(&sb), f[i].want);
        wf_strbuf_release(&sb);
        json_object_put(v);
    }
}
END_TEST

/* The value eval returns shares nothing with the context or the template. */
START_TEST(test_eval_result_is_a_copy)
{
    wf_tpl *t = compile_ok("<< item.tags >>", 0), *t2 = compile_ok("<< [1, 2] >>", 0);
    json_object *v = NULL;
    char *s;

    ck_assert_int_eq(wf_tpl_eval(t, item_ctx, &v, NULL), WF_OK);
    json_object_array_add(v, json_object_new_int(1));
    json_object_put(v);
    ck_assert_int_eq(wf_tpl_eval(t, item_ctx, &v, NULL), WF_OK);
    s = to_json(v);
    ck_assert_str_eq(s, "[\"a\",\"b c\"]");
    free(s);
    json_object_put(v);
    ck_assert_int_eq(wf_tpl_eval(t2, item_ctx, &v, NULL), WF_OK);
    json_object_array_add(v, json_object_new_int(3));
    json_object_put(v);
    ck_assert_int_eq(wf_tpl_eval(t2, item_ctx, &v, NULL), WF_OK);
    s = to_json(v);
    ck_assert_str_eq(s, "[1,2]");
    free(s);
    json_object_put(v);
    wf_tpl_free(t);
    wf_tpl_free(t2);
}
END_TEST

/* wf_tpl_eval_borrow lends what the template only looks up (a context value, a folded
 * constant) and owns what it computes; both give the same value as wf_tpl_eval. */
START_TEST(test_eval_borrow)
{
    static const struct {
        const char *src;
        bool lent;
        const char *want;
    } cases[] = {
        { "<< task.fetch.data >>", true,
          "[{\"name\":\"a\",\"ok\":true},{\"name\":\"b\",\"ok\":false}]" },
        { "<< item.tags >>", true, "[\"a\",\"b c\"]" },
        { "<< range(3) >>", true, "[0,1,2]" },
        { "<< [1, 2] >>", true, "[1,2]" },
        { "<< inputs.list | length >>", false, "3" },
        { "<< [item.n] >>", false, "[5]" },
        { "a << item.n >>", false, "\"a 5\"" },
        { "<< item.none >>", true, "null" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        wf_tpl *t = compile_ok(cases[i].src, 0);
        const json_object *v = NULL, *v2 = NULL;
        json_object *own = NULL, *own2 = NULL, *copy = NULL;
        char *s, *s2;

        ck_assert_int_eq(wf_tpl_eval_borrow(t, item_ctx, &v, &own, NULL), WF_OK);
        ck_assert_msg((own == NULL) == cases[i].lent, "%s: lent %d", cases[i].src, own == NULL);
        ck_assert_ptr_eq(own != NULL ? (const json_object *)own : v, v);
        s = to_json(v);
        ck_assert_str_eq(s, cases[i].want);
        ck_assert_int_eq(wf_tpl_eval(t, item_ctx, &copy, NULL), WF_OK);
        s2 = to_json(copy);
        ck_assert_str_eq(s, s2);
        /* Lent twice: the same object, nothing allocated. */
        ck_assert_int_eq(wf_tpl_eval_borrow(t, item_ctx, &v2, &own2, NULL), WF_OK);
        if (cases[i].lent)
            ck_assert_ptr_eq(v, v2);
        free(s);
        free(s2);
        json_object_put(copy);
        json_object_put(own);
        json_object_put(own2);
        wf_tpl_free(t);
    }
}
END_TEST

/* ---- references ----------------------------------------------------------------------- */

static const struct {
    const char *src;
    unsigned flags;
    const char *want; /* KIND:name@line:col, space separated */
} ref_cases[] = {
    { "<< task.a.x >> << task['b-c'] >>", 0, "TASK:a@1:4 TASK:b-c@1:19" },
    { "<< status('d') >><< failed(item.t) >><< always() >>", 0,
      "STATUS_FN:d@1:4 STATUS_ANY:failed@1:21 ITEM:item@1:28 STATUS_ANY:always@1:41" },
    { "<< 'x' | succeeded >>", 0, "STATUS_FN:x@1:10" },
    { "<< vars.v >> << inputs.i >> << inputs['j'] >>", 0, "VAR:v@1:4 INPUT:i@1:17 INPUT:j@1:32" },
    { "<< item >>\n<< index >>", 0, "ITEM:item@1:4 ITEM:index@2:4" },
    { "<< task.a.x + task.a.y >>", 0, "TASK:a@1:4 TASK:a@1:15" },
    { "succeeded('t') and task.t.ok", WF_TPL_EXPR, "STATUS_FN:t@1:1 TASK:t@1:20" },
    { "<< env.X >> << workflow.name >> << inputs >> << 1 >>", 0, "" },
};

static const char *ref_kind_name(wf_tpl_ref_kind k)
{
    switch (k) {
    case WF_TPL_REF_TASK:
        return "TASK";
    case WF_TPL_REF_STATUS_FN:
        return "STATUS_FN";
    case WF_TPL_REF_STATUS_ANY:
        return "STATUS_ANY";
    case WF_TPL_REF_VAR:
        return "VAR";
    case WF_TPL_REF_INPUT:
        return "INPUT";
    case WF_TPL_REF_ITEM:
        return "ITEM";
    }
    return "?";
}

START_TEST(test_refs)
{
    wf_tpl *t = compile_ok(ref_cases[_i].src, ref_cases[_i].flags);
    const wf_tpl_ref *refs;
    size_t n = wf_tpl_refs(t, &refs);
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; i < n; i++)
        wf_strbuf_addf(&sb, "%s%s:%s@%d:%d", i ? " " : "", ref_kind_name(refs[i].kind),
                       refs[i].name, refs[i].line, refs[i].column);
    ck_assert_str_eq(wf_strbuf_str(&sb), ref_cases[_i].want);
    wf_strbuf_release(&sb);
    wf_tpl_free(t);
}
END_TEST

/* ---- simple commands ------------------------------------------------------------------ */

static const struct {
    const char *src;
    unsigned flags;
    bool simple;
    const char *want; /* words joined by '|' */
} argv_cases[] = {
    { "curl -fsS << item.url >> --max-time << inputs.timeout >>", WF_TPL_SHELL, true,
      "curl|-fsS|https://ex.test/a b|--max-time|30" },
    { "echo x<< item.tags >>y", WF_TPL_SHELL, true, "echo|xa|b cy" },
    { "echo << item.none >> z", WF_TPL_SHELL, true, "echo|z" },
    { "echo a<< item.none >>b", WF_TPL_SHELL, true, "echo|ab" },
    { "echo << item.empty >> z", WF_TPL_SHELL, true, "echo||z" },
    { "echo << [] >> z", WF_TPL_SHELL, true, "echo|z" },
    { "echo << 'a b' | quote >>", WF_TPL_SHELL, true, "echo|a b" },
    { "printf %s,%s << [1, 2.5, true, null, ''] >>", WF_TPL_SHELL, true,
      "printf|%s,%s|1|2.5|true|" },
    { "  /usr/bin/env   -i\tA=1   ", WF_TPL_SHELL, true, "/usr/bin/env|-i|A=1" },
    { "echo << item.obj >>", WF_TPL_SHELL, true, "echo|{\"k\":\"v\"}" },
    { "echo << \"it's $x\" >>", WF_TPL_SHELL, true, "echo|it's $x" },
    { "echo a;b", WF_TPL_SHELL, false, NULL },
    { "echo $HOME", WF_TPL_SHELL, false, NULL },
    { "echo 'q'", WF_TPL_SHELL, false, NULL },
    { "echo a\nb", WF_TPL_SHELL, false, NULL },
    { "echo \\<< x", WF_TPL_SHELL, false, NULL },
    { "cd /tmp", WF_TPL_SHELL, false, NULL },
    { "exit 3", WF_TPL_SHELL, false, NULL },
    { "A=1 cmd", WF_TPL_SHELL, false, NULL },
    { "<< item.url >> x", WF_TPL_SHELL, false, NULL },
    { "echo<< item.n >>", WF_TPL_SHELL, false, NULL },
    { "echo << item.n | raw >>", WF_TPL_SHELL, false, NULL },
    { "echo ok", 0, false, NULL },
    { "echo 5", WF_TPL_SHELL, true, "echo|5" },
    { "  /bin/true  ", WF_TPL_SHELL, true, "/bin/true" },
    { "echo a < b", WF_TPL_SHELL, false, NULL },
    { "set -e", WF_TPL_SHELL, false, NULL },
    { "echo 5", WF_TPL_CSTRING, false, NULL },
    { "", WF_TPL_SHELL, false, NULL },
    { "  ", WF_TPL_SHELL, false, NULL },
};

START_TEST(test_argv)
{
    wf_tpl *t = compile_ok(argv_cases[_i].src, argv_cases[_i].flags);
    char **argv = NULL;
    wf_strbuf sb = WF_STRBUF_INIT, sh = WF_STRBUF_INIT;
    wf_error err;
    char *out;

    wf_error_init(&err);
    ck_assert_msg(wf_tpl_is_simple_command(t) == argv_cases[_i].simple, "%s", argv_cases[_i].src);
    if (!argv_cases[_i].simple) {
        ck_assert_int_eq(wf_tpl_render_argv(t, item_ctx, &argv, &err), WF_EINVAL);
        ck_assert_ptr_null(argv);
        goto out;
    }
    ck_assert_int_eq(wf_tpl_render_argv(t, item_ctx, &argv, &err), WF_OK);
    for (size_t i = 0; argv[i] != NULL; i++)
        wf_strbuf_addf(&sb, "%s%s", i ? "|" : "", argv[i]);
    ck_assert_str_eq(wf_strbuf_str(&sb), argv_cases[_i].want);
    /* The same words as sh makes of the quoted rendering. */
    wf_strbuf_adds(&sh, "set -- ");
    ck_assert_int_eq(wf_tpl_render(t, item_ctx, &sh, &err), WF_OK);
    wf_strbuf_adds(&sh, "\nsep=; for a; do printf '%s%s' \"$sep\" \"$a\"; sep='|'; done");
    out = run_sh(wf_strbuf_str(&sh));
    ck_assert_str_eq(out, argv_cases[_i].want);
    free(out);
out:
    wf_tpl_argv_free(argv);
    wf_strbuf_release(&sb);
    wf_strbuf_release(&sh);
    wf_error_release(&err);
    wf_tpl_free(t);
}
END_TEST

/* ---- errors --------------------------------------------------------------------------- */

static const struct {
    const char *src;
    unsigned flags;
    int code;
    int line, col;
    const char *msg; /* a trailing '*' matches any rest */
} compile_errors[] = {
    { "<< 1 +", 0, WF_ESYNTAX, 1, 1, "'<<' is not closed: expected '>>'" },
    { "ok\n  << item", 0, WF_ESYNTAX, 2, 3, "'<<' is not closed: expected '>>'" },
    /* `<<` at the very end, after a `<` or split by a NUL: never a constant */
    { "echo <<", WF_TPL_SHELL, WF_ESYNTAX, 1, 6, "'<<' is not closed: expected '>>'" },
    { "a <<<", 0, WF_ESYNTAX, 1, 3, "'<<' is not closed: expected '>>'" },
    { "<< >>", 0, WF_ESYNTAX, 1, 1, "empty expression: expected something between '<<' and '>>'" },
    { "<< 1 + >>", 0, WF_ESYNTAX, 1, 8, "expected an expression, got '>>'" },
    { "<< ) >>", 0, WF_ESYNTAX, 1, 4, "expected an expression, got ')'" },
    { "<< 'abc >>", 0, WF_ESYNTAX, 1, 4, "unterminated string: no closing '" },
    { "<< 'a\\q' >>", 0, WF_ESYNTAX, 1, 6,
      "unknown escape '\\q' in a string (use \\\\ for a backslash)" },
    { "<< '\\u12' >>", 0, WF_ESYNTAX, 1, 5, "bad \\u escape: expected 4 hex digits" },
    { "<< 99999999999999999999 >>", 0, WF_ESYNTAX, 1, 4,
      "integer literal too large (integers are 64-bit; write 99999999999999999999.0 for a "
      "decimal)" },
    { "<< 12ab >>", 0, WF_ESYNTAX, 1, 6, "unexpected 'a' in a number" },
    { "<< foo >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'foo': names start with inputs, vars, env, task, item, index or workflow "
      "(a string needs quotes)" },
    { "<< itme.x >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'itme'; did you mean 'item'? (names start with inputs, vars, env, task, "
      "item, index or workflow)" },
    { "<< length >>", 0, WF_EUNKNOWN, 1, 4,
      "'length' is a function: write length(x) or x | length" },
    { "<< item | lenght >>", 0, WF_EUNKNOWN, 1, 11,
      "unknown filter 'lenght'; did you mean 'length'?" },
    { "<< frobnicate(1) >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown function 'frobnicate' (see the list of filters in docs/templates.md)" },
    { "<< item | 3 >>", 0, WF_ESYNTAX, 1, 11, "expected a filter name after '|', got 3" },
    { "<< item | replace('a') >>", 0, WF_EARITY, 1, 11,
      "filter 'replace' takes 2 arguments, x | replace(a, b); got 1" },
    { "<< replace(item, 'a') >>", 0, WF_EARITY, 1, 4,
      "replace() takes 3 arguments, replace(x, a, b); got 2" },
    { "<< item | upper(1) >>", 0, WF_EARITY, 1, 11,
      "filter 'upper' takes no arguments, x | upper; got 1" },
    { "<< length() >>", 0, WF_EARITY, 1, 4, "length() takes 1 argument, length(x); got 0" },
    { "<< always(1) >>", 0, WF_EARITY, 1, 4, "always() takes no arguments, always(); got 1" },
    { "<< item | always >>", 0, WF_EARITY, 1, 11,
      "'always' cannot be used as a filter: it takes no value; write always()" },
    { "<< join(item, ',', 1) >>", 0, WF_EARITY, 1, 4,
      "join() takes 1 or 2 arguments, join(x, sep); got 3" },
    { "<< 5 | range(1, 2) >>", 0, WF_EARITY, 1, 8,
      "filter 'range' takes 0 or 1 arguments, x | range(b); got 2" },
    { "<< status() >>", 0, WF_EARITY, 1, 4, "status() takes 1 argument, status(name); got 0" },
    { "<< task >>", 0, WF_ESYNTAX, 1, 4,
      "'task' must be followed by a task name: task.NAME, or task[\"NAME\"] for a name with '-'" },
    { "<< task.my-task >>", 0, WF_ESYNTAX, 1, 12,
      "'task' must be followed by a task name: task.NAME, or task[\"NAME\"] for a name with '-'" },
    { "<< task[item.t] >>", 0, WF_ESYNTAX, 1, 9,
      "task[...] needs a literal task name in quotes, so that dependencies are known when the "
      "workflow is loaded" },
    { "<< task. >>", 0, WF_ESYNTAX, 1, 10, "expected a task name after 'task.', got '>>'" },
    { "<< vars >>", 0, WF_ESYNTAX, 1, 4,
      "'vars' must be followed by a var name: vars.NAME or vars[\"NAME\"]" },
    { "<< workflow.nme >>", 0, WF_EUNKNOWN, 1, 13,
      "workflow has no field 'nme'; it has: name, run_id" },
    { "<< 1 < 2 < 3 >>", 0, WF_ESYNTAX, 1, 10,
      "comparisons do not chain: write a < b and b < c, with parentheses if needed" },
    { "<< item = 1 >>", 0, WF_ESYNTAX, 1, 9, "'=' is not an operator: use '==' to compare" },
    { "<< item && 1 >>", 0, WF_ESYNTAX, 1, 9, "'&&' is not an operator: use 'and'" },
    { "<< item || 1 >>", 0, WF_ESYNTAX, 1, 9, "'||' is not an operator: use 'or'" },
    { "<< !item >>", 0, WF_ESYNTAX, 1, 4, "'!' is not an operator: use 'not'" },
    { "<< item ? 1 >>", 0, WF_ESYNTAX, 1, 9, "'?' is not an operator: use '?\?'" },
    { "<< item $ >>", 0, WF_ESYNTAX, 1, 9, "unexpected character '$'" },
    { "<< item item >>", 0, WF_ESYNTAX, 1, 9,
      "unexpected item after the expression; expected '>>'" },
    { "<< [1, 2 >>", 0, WF_ESYNTAX, 1, 10, "expected ',' or ']' in the list, got '>>'" },
    { "<< {'a' 1} >>", 0, WF_ESYNTAX, 1, 9, "expected ':' after the key, got 1" },
    { "<< {'a': 1, 'a': 2} >>", 0, WF_ESYNTAX, 1, 13, "duplicate key 'a' in the object" },
    { "<< 1 if true >>", 0, WF_ESYNTAX, 1, 14,
      "expected 'else' (a conditional is `A if CONDITION else B`), got '>>'" },
    { "<< 1 if >>", 0, WF_ESYNTAX, 1, 9, "expected an expression, got '>>'" },
    { "<< {1: 2} >>", 0, WF_ESYNTAX, 1, 5,
      "expected a key (a string or a name) in the object, got 1" },
    { "<< item.0 >>", 0, WF_ESYNTAX, 1, 9, "use [0] for an index, not .0" },
    { "<< item.tags[0 >>", 0, WF_ESYNTAX, 1, 16, "expected ']', got '>>'" },
    { "<< length(1 2) >>", 0, WF_ESYNTAX, 1, 13, "expected ',' or ')' in the arguments, got 2" },
    { "a << 1 << 2 >>", 0, WF_ESYNTAX, 1, 8,
      "'<<' inside an expression: the one before it is not closed with '>>'" },
    { "line1\n  << item | nope >>", 0, WF_EUNKNOWN, 2, 13, "unknown filter 'nope'*" },
    /* constant expressions are evaluated at load time */
    { "<< 'a' + 1 >>", 0, WF_ETYPE, 1, 8,
      "'+' expects two numbers, two strings or two lists, got string and integer" },
    { "<< 1 / 0 >>", 0, WF_ERANGE, 1, 6, "division by zero" },
    { "<< [1] | upper >>", 0, WF_ETYPE, 1, 10, "upper: expects a string, got list" },
    { "<< [1, 2][5] >>", 0, WF_EMISSING, 1, 10,
      "[1, 2][5]: index 5 out of range; the list has 2 items" },
    /* `lines` of a one-line constant is never a file's lines: file_lines is what was meant */
    { "<< lines('items.txt') >>", 0, WF_EINVAL, 1, 4,
      "lines of the text 'items.txt' is always the one item [\"items.txt\"] (lines splits a "
      "string; it does not read a file); to read the lines of a file write "
      "file_lines('items.txt') as the whole with-items value (with-items: << "
      "file_lines('items.txt') >>), or write ['items.txt'] for a one-item list" },
    { "<< 'data/hosts' | lines >>", 0, WF_EINVAL, 1, 19,
      "lines of the text 'data/hosts' is always the one item*" },
    { "<< ('a' + '.txt') | lines >>", 0, WF_EINVAL, 1, 21, "lines of the text 'a.txt'*" },
    /* other engines' roots: what they are here */
    { "<< matrix.os >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'matrix': GitHub's matrix.os is item.os here: each combination of a "
      "with-items matrix is the item" },
    { "<< steps.build.outputs.x >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'steps': GitHub's steps.ID.outputs.X is task.ID (the task's result) here" },
    { "<< tasks.gen.outputs.result >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'tasks': Argo's tasks.ID.outputs.result is task.ID*" },
    { "<< params.n >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown name 'params': Nextflow's params.x is inputs.x here (-i x=VALUE)" },
    { "<< loop.index >>", WF_TPL_NO_ITEM, WF_EUNKNOWN, 1, 4,
      "unknown name 'loop': loop.index is index here, in a task with with-items" },
    /* slices, as Python and Jinja write them */
    { "<< item[1:3] >>", 0, WF_ESYNTAX, 1, 10,
      "slices (x[a:b]) are not supported: index one element (x[2], x[-1] from the end), or "
      "use first, last or length" },
    { "<< item[:2] >>", 0, WF_ESYNTAX, 1, 9, "slices (x[a:b]) are not supported*" },
    /* file_lines of a constant that is not a path; other tools' names for reading a file */
    { "<< file_lines(3) >>", 0, WF_ETYPE, 1, 15,
      "file_lines: expects a path (a non-empty string), got an integer" },
    { "<< file_lines('') >>", 0, WF_ETYPE, 1, 15,
      "file_lines: expects a path (a non-empty string), got an empty string" },
    { "<< readlines('items.txt') >>", 0, WF_EUNKNOWN, 1, 4,
      "unknown function 'readlines'; to take a file's lines as the items of a task write "
      "with-items: << file_lines('items.txt') >> (the path relative to the workflow file)" },
    { "<< 'x' | file >>", 0, WF_EUNKNOWN, 1, 10, "unknown filter 'file'; to take a file's lines*" },
    /* `when` */
    { "<< item >> and 1", WF_TPL_EXPR, WF_ESYNTAX, 1, 12,
      "a condition is one expression: write it bare (a and b) or as one << a and b >>" },
    { "item >> 1", WF_TPL_EXPR, WF_ESYNTAX, 1, 6, "unexpected '>>' without '<<'" },
    { "", WF_TPL_EXPR, WF_ESYNTAX, 1, 1,
      "empty expression: expected something between '<<' and '>>'" },
};

static bool msg_matches(const char *got, const char *want)
{
    size_t n = strlen(want);

    if (got == NULL)
        return false;
    if (n > 0 && want[n - 1] == '*')
        return strncmp(got, want, n - 1) == 0;
    return strcmp(got, want) == 0;
}

START_TEST(test_compile_errors)
{
    wf_tpl *t = (wf_tpl *)&t;
    wf_error err;
    int rc;

    wf_error_init(&err);
    rc = wf_tpl_compile(compile_errors[_i].src, (size_t)-1, compile_errors[_i].flags, &t, &err);
    ck_assert_ptr_null(t);
    ck_assert_msg(rc == compile_errors[_i].code && err.code == rc, "%s: %s, want %s",
                  compile_errors[_i].src, wf_errname(rc), wf_errname(compile_errors[_i].code));
    ck_assert_msg(msg_matches(err.message, compile_errors[_i].msg), "%s:\n got  %s\n want %s",
                  compile_errors[_i].src, err.message, compile_errors[_i].msg);
    ck_assert_msg(err.line == compile_errors[_i].line && err.column == compile_errors[_i].col,
                  "%s: at %d:%d, want %d:%d", compile_errors[_i].src, err.line, err.column,
                  compile_errors[_i].line, compile_errors[_i].col);
    ck_assert_ptr_null(err.source);
    wf_error_release(&err);
}
END_TEST

/* wf_tpl_compile_all: one error per expression that has one, in source order, each at its
 * place; WF_TPL_NO_ITEM: item and index are not offered where there is no item. */
START_TEST(test_compile_all_errors)
{
    const char *src = "<< task.x | lenght >> and << task.x | uper >> ok << 1 + >> << itme >>";
    wf_errlist errs;
    wf_tpl *t = (wf_tpl *)&t;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_tpl_compile_all(src, (size_t)-1, 0, &t, &errs), WF_EUNKNOWN);
    ck_assert_ptr_null(t);
    ck_assert_uint_eq(errs.len, 4);
    ck_assert_str_eq(errs.items[0].message, "unknown filter 'lenght'; did you mean 'length'?");
    ck_assert_int_eq(errs.items[0].column, 13);
    ck_assert_str_eq(errs.items[1].message, "unknown filter 'uper'; did you mean 'upper'?");
    ck_assert_int_eq(errs.items[1].column, 39);
    ck_assert_int_eq(errs.items[2].code, WF_ESYNTAX);
    ck_assert_int_eq(errs.items[3].column, 63);
    ck_assert_ptr_nonnull(strstr(errs.items[3].message, "did you mean 'item'?"));
    wf_errlist_release(&errs);

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_tpl_compile_all("<< itme >>", (size_t)-1, WF_TPL_NO_ITEM, &t, &errs),
                     WF_EUNKNOWN);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_str_eq(errs.items[0].message, "unknown name 'itme': names start with inputs, "
                                            "vars, env, task or workflow (a string needs quotes)");
    wf_errlist_release(&errs);

    /* An unclosed expression after an error ends the scan; a good template has no errors. */
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_tpl_compile_all("<< nope >> << 1 +", (size_t)-1, 0, &t, &errs),
                     WF_EUNKNOWN);
    ck_assert_uint_eq(errs.len, 2);
    wf_errlist_release(&errs);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_tpl_compile_all("a << 1 >> b", (size_t)-1, 0, &t, &errs), WF_OK);
    ck_assert_uint_eq(errs.len, 0);
    wf_tpl_free(t);
    wf_errlist_release(&errs);
}
END_TEST

START_TEST(test_nesting_limit)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_tpl *t = NULL;
    wf_error err;

    wf_error_init(&err);
    wf_strbuf_adds(&sb, "<< ");
    for (int i = 0; i < 300; i++)
        wf_strbuf_addc(&sb, '(');
    wf_strbuf_addc(&sb, '1');
    for (int i = 0; i < 300; i++)
        wf_strbuf_addc(&sb, ')');
    wf_strbuf_adds(&sb, " >>");
    ck_assert_int_eq(wf_tpl_compile(sb.buf, sb.len, 0, &t, &err), WF_ESYNTAX);
    ck_assert_str_eq(err.message, "expression nested too deeply (more than 200 levels)");
    wf_strbuf_reset(&sb);
    wf_strbuf_adds(&sb, "<< item");
    for (int i = 0; i < 300; i++)
        wf_strbuf_adds(&sb, ".a");
    wf_strbuf_adds(&sb, " >>");
    ck_assert_int_eq(wf_tpl_compile(sb.buf, sb.len, 0, &t, &err), WF_ESYNTAX);
    ck_assert_str_eq(err.message, "expression nested too deeply (more than 200 levels)");
    wf_strbuf_release(&sb);
    wf_error_release(&err);
}
END_TEST

static const struct {
    const char *src;
    bool no_item; /* evaluate outside with-items */
    int code;
    int line, col;
    const char *msg;
} eval_errors[] = {
    { "<< task.fetch.items >>", false, WF_EMISSING, 1, 15,
      "task.fetch.items: key 'items' not found; the result has keys: data, total" },
    { "<< task.fetch.data[5] >>", false, WF_EMISSING, 1, 19,
      "task.fetch.data[5]: index 5 out of range; the list has 2 items" },
    { "<< inputs.list[-4] >>", false, WF_EMISSING, 1, 15,
      "inputs.list[-4]: index -4 out of range; the list has 3 items" },
    { "<< item.el[0] >>", false, WF_EMISSING, 1, 11,
      "item.el[0]: index 0 out of range; the list is empty" },
    { "<< inputs.nope >>", false, WF_EMISSING, 1, 11,
      "inputs.nope: key 'nope' not found; inputs has keys: timeout, region, list" },
    { "<< env.NOPE >>", false, WF_EMISSING, 1, 8,
      "env.NOPE: key 'NOPE' not found; env has keys: HOME, PATH" },
    { "<< item.nope >>", false, WF_EMISSING, 1, 9,
      "item.nope: key 'nope' not found; the object has keys: url, n, tags, none, empty, obj, el, t" },
    { "<< item.obj.x >>", false, WF_EMISSING, 1, 13,
      "item.obj.x: key 'x' not found; the object has keys: k" },
    { "<< vars.nope >>", false, WF_EMISSING, 1, 4,
      "vars.nope: no var 'nope'; the vars are: greeting, shadow, cfg" },
    { "<< task.build.version >>", false, WF_ETYPE, 1, 15,
      "task.build.version: the result of task 'build' is a string, because its output is text; "
      "set `output: json` on task 'build' to read fields of its JSON output" },
    /* the fields other engines give a step (GitHub's steps.x.outputs, Argo's outputs.result) */
    { "<< task.build.stdout >>", false, WF_ETYPE, 1, 15,
      "task.build.stdout: task.build is the output of task 'build' itself (text: its stdout "
      "without the last newline), not an object with fields; stdout('build'), stderr('build') "
      "and exit_code('build') give the rest" },
    { "<< task.build.outputs.result >>", false, WF_ETYPE, 1, 15,
      "task.build.outputs: task.build is the output of task 'build' itself*" },
    { "<< task.broken.items >>", false, WF_EMISSING, 1, 16,
      "task.broken.items: task 'broken' failed, so its result is null" },
    { "<< task.flaky[0] >>", false, WF_EMISSING, 1, 14,
      "task.flaky[0]: task 'flaky' failed, so its result is null" },
    { "<< task.skipped.x >>", false, WF_EMISSING, 1, 17,
      "task.skipped.x: task 'skipped' was skipped, so its result is null" },
    { "<< task.nope >>", false, WF_EUNKNOWN, 1, 4, "task 'nope' has not run" },
    { "<< task.nope.x ?? 1 >>", false, WF_EUNKNOWN, 1, 4, "task 'nope' has not run" },
    { "<< status('nope') >>", false, WF_EUNKNOWN, 1, 4, "task 'nope' has not run" },
    { "<< 'nope' | failed >>", false, WF_EUNKNOWN, 1, 13, "task 'nope' has not run" },
    { "<< status(item.n) >>", false, WF_ETYPE, 1, 4,
      "status: expects a task name (a string), got integer" },
    { "<< item.n.x >>", false, WF_ETYPE, 1, 11, "item.n.x: item.n is an integer, not an object" },
    { "<< item.n.x ?? 1 >>", false, WF_ETYPE, 1, 11,
      "item.n.x: item.n is an integer, not an object" },
    { "<< item.url[0] >>", false, WF_ETYPE, 1, 12,
      "item.url[0]: item.url is a string, not a list" },
    { "<< item.none.x >>", false, WF_EMISSING, 1, 14, "item.none.x: item.none is null" },
    { "<< item.tags.x >>", false, WF_ETYPE, 1, 14,
      "item.tags.x: item.tags is a list, not an object; use an index like [0], or map(\"x\") to "
      "read 'x' of every element" },
    { "<< item.obj[0] >>", false, WF_ETYPE, 1, 12,
      "item.obj[0]: item.obj is an object, not a list; use a key in quotes" },
    { "<< item[true] >>", false, WF_ETYPE, 1, 8,
      "item[true]: an index must be an integer or a key a string, got a boolean" },
    { "<< item.x ?? item.y >>", false, WF_EMISSING, 1, 19,
      "item.y: key 'y' not found; the object has keys: url, n, tags, none, empty, obj, el, t" },
    { "<< item.n | upper >>", false, WF_ETYPE, 1, 13, "upper: expects a string, got integer" },
    { "<< join(item.tags, item.n) >>", false, WF_ETYPE, 1, 4,
      "join: expects a list and a string, got list and integer" },
    { "<< replace(item.url, 1, 'x') >>", false, WF_ETYPE, 1, 4,
      "replace: expects three strings, got string, integer and string" },
    { "<< item.url + 1 >>", false, WF_ETYPE, 1, 13,
      "'+' expects two numbers, two strings or two lists, got string and integer" },
    { "<< item.tags - 1 >>", false, WF_ETYPE, 1, 14,
      "'-' expects two numbers, got list and integer" },
    { "<< item.tags < item.tags >>", false, WF_ETYPE, 1, 14,
      "'<' expects two numbers or two strings, got list and list" },
    { "<< item.n in item.url >>", false, WF_ETYPE, 1, 11,
      "'in' expects a value in a list, a string in a string, or a key in an object, got "
      "integer in string" },
    { "<< -item.url >>", false, WF_ETYPE, 1, 4, "'-' expects a number, got string" },
    { "<< item.n / 0 >>", false, WF_ERANGE, 1, 11, "division by zero" },
    { "<< item.n % 0.0 >>", false, WF_ERANGE, 1, 11, "modulo by zero" },
    { "<< item.n * 1e308 >>", false, WF_ERANGE, 1, 11, "the result is too large to be a number" },
    { "<< item.tags | sum >>", false, WF_ETYPE, 1, 16,
      "sum: expects a list of numbers, got a list with string at index 0" },
    { "<< [1, item.url] | sort >>", false, WF_ETYPE, 1, 20,
      "sort: expects a list of numbers or of strings, got a list with string at index 1" },
    { "<< item.el | min >>", false, WF_EMISSING, 1, 14, "min: the list is empty" },
    { "<< item.el | first >>", false, WF_EMISSING, 1, 14, "first: the list is empty" },
    { "<< item.url | int >>", false, WF_EINVAL, 1, 15,
      "int: \"https://ex.test/a b\" is not an integer" },
    { "<< item.url | float >>", false, WF_EINVAL, 1, 15,
      "float: \"https://ex.test/a b\" is not a number" },
    { "<< item.url | bool >>", false, WF_EINVAL, 1, 15,
      "bool: \"https://ex.test/a b\" is not true/false, yes/no, on/off or 1/0" },
    { "<< item.url | fromjson >>", false, WF_EINVAL, 1, 15,
      "fromjson: invalid JSON at offset 0: *" },
    { "<< (item.empty + '{') | fromjson >>", false, WF_EINVAL, 1, 25,
      "fromjson: invalid JSON: unexpected end of text" },
    { "<< (item.empty + '1 2') | fromjson >>", false, WF_EINVAL, 1, 27,
      "fromjson: invalid JSON at offset 2: unexpected character" },
    { "<< item.url | split('') >>", false, WF_EINVAL, 1, 15, "split: the separator is empty" },
    { "<< item.url | replace('', 'x') >>", false, WF_EINVAL, 1, 15,
      "replace: the text to replace is empty" },
    { "<< item.tags | chunks(item.n - 5) >>", false, WF_EINVAL, 1, 16,
      "chunks: the size must be at least 1, got 0" },
    { "<< range(item.n * 10000000) >>", false, WF_ERANGE, 1, 4,
      "range: 50000000 numbers is more than the 10000000 allowed" },
    { "<< task.fetch.data | map('nope') >>", false, WF_EMISSING, 1, 22,
      "map: element 0 has no \"nope\" (the key is missing; element 0 is an object)" },
    { "<< item.tags | map('x') >>", false, WF_EMISSING, 1, 16,
      "map: element 0 has no \"x\" (it is not an object; element 0 is a string)" },
    { "<< item.n | round(item.n * 10) >>", false, WF_EINVAL, 1, 13,
      "round: digits must be 0 to 15, got 50" },
    { "<< item.url | length | upper >>", false, WF_ETYPE, 1, 24,
      "upper: expects a string, got integer" },
    { "a\nb << item.nope >>", false, WF_EMISSING, 2, 11,
      "item.nope: key 'nope' not found; the object has keys: url, n, tags, none, empty, obj, el, t" },
    { "<< item >>", true, WF_EUNKNOWN, 1, 4, "'item' is only defined in a task with with-items" },
    { "x << index >>", true, WF_EUNKNOWN, 1, 6,
      "'index' is only defined in a task with with-items" },
};

START_TEST(test_eval_errors)
{
    wf_tpl *t = compile_ok(eval_errors[_i].src, 0);
    const wf_ctx *ctx = eval_errors[_i].no_item ? base_ctx : item_ctx;
    json_object *v = (json_object *)&v;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;
    int rc;

    wf_error_init(&err);
    rc = wf_tpl_eval(t, ctx, &v, &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(rc == eval_errors[_i].code && err.code == rc, "%s: %s, want %s",
                  eval_errors[_i].src, wf_errname(rc), wf_errname(eval_errors[_i].code));
    ck_assert_msg(msg_matches(err.message, eval_errors[_i].msg), "%s:\n got  %s\n want %s",
                  eval_errors[_i].src, err.message, eval_errors[_i].msg);
    ck_assert_msg(err.line == eval_errors[_i].line && err.column == eval_errors[_i].col,
                  "%s: at %d:%d, want %d:%d", eval_errors[_i].src, err.line, err.column,
                  eval_errors[_i].line, eval_errors[_i].col);
    /* render and eval_bool fail the same way */
    wf_error_release(&err);
    ck_assert_int_eq(wf_tpl_render(t, ctx, &sb, &err), eval_errors[_i].code);
    ck_assert(msg_matches(err.message, eval_errors[_i].msg));
    wf_error_release(&err);
    {
        bool b;

        ck_assert_int_eq(wf_tpl_eval_bool(t, ctx, &b, &err), eval_errors[_i].code);
    }
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    wf_tpl_free(t);
}
END_TEST

/* A NULL wf_error is allowed everywhere. */
START_TEST(test_null_error)
{
    wf_tpl *t = NULL;
    json_object *v = NULL;

    ck_assert_int_eq(wf_tpl_compile("<< nope >>", (size_t)-1, 0, &t, NULL), WF_EUNKNOWN);
    t = compile_ok("<< item.nope >>", 0);
    ck_assert_int_eq(wf_tpl_eval(t, item_ctx, &v, NULL), WF_EMISSING);
    wf_tpl_free(t);
    wf_tpl_free(NULL);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------------- */

enum { N_THREADS = 4, N_ROUNDS = 500 };

typedef struct worker {
    const wf_tpl *run, *val, *cond, *miss;
    int id;
    bool ok;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    wf_strbuf sb = WF_STRBUF_INIT, want = WF_STRBUF_INIT;
    json_object *item = json_object_new_object();
    wf_ctx *c;

    json_object_object_add(item, "url", json_object_new_string(w->id % 2 ? "a b" : "ab"));
    json_object_object_add(item, "n", json_object_new_int(w->id));
    c = wf_ctx_with_item(base_ctx, item, w->id);
    wf_strbuf_addf(&want, "curl -fsS %s --max-time 30 %d", w->id % 2 ? "'a b'" : "ab", w->id);
    w->ok = true;
    for (int i = 0; i < N_ROUNDS && w->ok; i++) {
        json_object *v = NULL;
        wf_error err;
        bool b = false;

        wf_error_init(&err);
        wf_strbuf_reset(&sb);
        w->ok = wf_tpl_render(w->run, c, &sb, &err) == WF_OK &&
                strcmp(wf_strbuf_str(&sb), wf_strbuf_str(&want)) == 0;
        w->ok = w->ok && wf_tpl_eval(w->val, c, &v, &err) == WF_OK &&
                json_object_get_int(json_object_array_get_idx(v, 0)) == w->id;
        json_object_put(v);
        w->ok = w->ok && wf_tpl_eval_bool(w->cond, c, &b, &err) == WF_OK && b == (w->id >= 2);
        w->ok = w->ok && wf_tpl_eval(w->miss, c, &v, &err) == WF_EMISSING &&
                strstr(err.message, "key 'nope' not found") != NULL;
        wf_error_release(&err);
    }
    wf_ctx_unref(c);
    json_object_put(item);
    wf_strbuf_release(&sb);
    wf_strbuf_release(&want);
    return NULL;
}

START_TEST(test_threads)
{
    wf_tpl *run = compile_ok("curl -fsS << item.url >> --max-time << inputs.timeout >> << index >>",
                             WF_TPL_SHELL);
    wf_tpl *val =
        compile_ok("<< [item.n, task.fetch.data | map('name'), vars.cfg, status('broken'), "
                   "true, [1, 2] | sort] >>",
                   0);
    wf_tpl *cond = compile_ok("item.n >= 2 and succeeded('fetch') and item.x ?? true", WF_TPL_EXPR);
    wf_tpl *miss = compile_ok("<< task.fetch.nope >>", 0);
    pthread_t th[N_THREADS];
    worker w[N_THREADS];

    for (int i = 0; i < N_THREADS; i++) {
        w[i] = (worker){ run, val, cond, miss, i, false };
        ck_assert_int_eq(pthread_create(&th[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_msg(w[i].ok, "thread %d", i);
    }
    wf_tpl_free(run);
    wf_tpl_free(val);
    wf_tpl_free(cond);
    wf_tpl_free(miss);
}
END_TEST

static void add_limits_tcase(Suite *s); /* the last block of this file */

static Suite *template_suite(void)
{
    Suite *s = suite_create("template");
    TCase *tc;

#define ADD_LOOP(name, fn, table)                             \
    tc = tcase_create(name);                                  \
    tcase_add_checked_fixture(tc, setup, teardown);           \
    tcase_add_loop_test(tc, fn, 0, (int)WF_ARRAY_LEN(table)); \
    suite_add_tcase(s, tc)

    ADD_LOOP("values", test_values, value_cases);
    ADD_LOOP("truthiness", test_truthiness, bool_cases);
    ADD_LOOP("render", test_render, render_cases);
    ADD_LOOP("shell_injection", test_shell_injection, evil);
    ADD_LOOP("shell_contexts", test_shell_contexts, shell_contexts);
    ADD_LOOP("shell_refusals", test_shell_refusals, shell_refusals);
    ADD_LOOP("refs", test_refs, ref_cases);
    ADD_LOOP("argv", test_argv, argv_cases);
    ADD_LOOP("compile_errors", test_compile_errors, compile_errors);
    ADD_LOOP("eval_errors", test_eval_errors, eval_errors);
#undef ADD_LOOP
    tc = tcase_create("helpers");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_shell_quote_helper);
    tcase_add_test(tc, test_text_form_helper);
    tcase_add_test(tc, test_eval_result_is_a_copy);
    tcase_add_test(tc, test_eval_borrow);
    tcase_add_test(tc, test_compile_all_errors);
    tcase_add_test(tc, test_nesting_limit);
    tcase_add_test(tc, test_null_error);
    tcase_add_test(tc, test_shell_nul);
    tcase_add_test(tc, test_shell_nul_literal);
    tcase_add_test(tc, test_render_cap);
    tcase_add_test(tc, test_shell_arith_comment);
    suite_add_tcase(s, tc);
    tc = tcase_create("threads");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_threads);
    suite_add_tcase(s, tc);
    add_limits_tcase(s);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(template_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- limits: every list and string an expression builds is capped ------------------------
 * (WF_MAX_LIST_LEN elements, WF_MAX_STRING_LEN bytes: docs/workflow-format.md, "Limits").
 * Each case builds past a cap at run time (item.n is 5, so nothing is folded at compile time)
 * and must fail with WF_ERANGE naming the figure and the cap, where it once allocated until
 * malloc failed or aborted. X below is a string of 20,488,690 bytes. */
#define X_20MB "XSTR"
static const struct {
    const char *src;
    int col; /* of the operator or filter that is refused */
    const char *msg;
    bool big; /* builds a list of 10,000,000 elements first (not under sanitizers) */
} limit_cases[] = {
    { "<< (range(item.n * 2000000) + [1]) | length >>", 29,
      "'+' would make a list of 10000001 elements, more than the 10000000 allowed", true },
    { "<< range(item.n * 200000) | join(\"----------------------------------------------------------------------\") >>",
      29, "join would make a string of 69999930 bytes, more than the 67108864 allowed (64 MiB)",
      false },
    { "<< [" X_20MB ", " X_20MB ", " X_20MB ", " X_20MB "] | join >>", 0,
      "join would make a string of more than 81954760 bytes (4 of 4 elements joined), more than "
      "the 67108864 allowed (64 MiB)",
      false },
    { "<< " X_20MB " + " X_20MB " + " X_20MB " + " X_20MB " >>", 0,
      "'+' would make a string of 81954760 bytes, more than the 67108864 allowed (64 MiB)", false },
    { "<< (range(item.n * 200000) | join(\",\")) | replace(\",\", \"----------------------------------------------------------------------------------------------------\") >>",
      43, "replace would make a string of 105888790 bytes, more than the 67108864 allowed (64 MiB)",
      false },
    { "<< (range(item.n * 401) | join(\"COMMAS\")) | split(\",\") >>", 0,
      "split would make a list of 10020001 elements, more than the 10000000 allowed", false },
    { "<< (range(item.n * 401) | join(\"NEWLINES\")) | lines >>", 0,
      "lines would make a list of 10020001 elements, more than the 10000000 allowed", false },
    { "<< [range(item.n * 2000000), [1]] | flatten >>", 37,
      "flatten would make a list of 10000001 elements, more than the 10000000 allowed", true },
    { "<< [" X_20MB ", " X_20MB ", " X_20MB ", " X_20MB "] | json >>", 0,
      "json would make a string of 81954773 bytes, more than the 67108864 allowed (64 MiB)",
      false },
    { "<< [" X_20MB ", " X_20MB ", " X_20MB ", " X_20MB "] | string >>", 0,
      "string would make a string of 81954773 bytes, more than the 67108864 allowed (64 MiB)",
      false },
};

/* src with every X_20MB replaced by the expression of a 20,488,690-byte string, COMMAS by
 * 5,000 commas and NEWLINES by 5,000 \n escapes (owned). */
static char *limit_src(const char *src)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    const char *p;

    for (const char *sep[] = { "COMMAS", "NEWLINES" }, **k = sep; k < sep + 2; k++) {
        if ((p = strstr(src, *k)) != NULL) {
            wf_strbuf_add(&sb, src, (size_t)(p - src));
            for (int i = 0; i < 5000; i++)
                wf_strbuf_adds(&sb, **k == 'C' ? "," : "\\n");
            wf_strbuf_adds(&sb, p + strlen(*k));
            return wf_strbuf_detach(&sb, NULL);
        }
    }

    while ((p = strstr(src, X_20MB)) != NULL) {
        wf_strbuf_add(&sb, src, (size_t)(p - src));
        wf_strbuf_adds(
            &sb,
            "(range(item.n * 20000) | join(\"12345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890\"))");
        src = p + strlen(X_20MB);
    }
    wf_strbuf_adds(&sb, src);
    return wf_strbuf_detach(&sb, NULL);
}

START_TEST(test_limits)
{
    char *src;
    wf_tpl *t;
    json_object *v = (json_object *)&v;
    wf_error err;
    int rc;

    if (WF_TEST_SANITIZED && limit_cases[_i].big) {
        printf("skipped under a sanitizer: %s\n", limit_cases[_i].src);
        return;
    }
    src = limit_src(limit_cases[_i].src);
    t = compile_ok(src, 0);
    wf_error_init(&err);
    rc = wf_tpl_eval(t, item_ctx, &v, &err);
    ck_assert_ptr_null(v);
    ck_assert_msg(rc == WF_ERANGE && err.code == rc, "%s: %s, want ERANGE", limit_cases[_i].src,
                  wf_errname(rc));
    ck_assert_msg(msg_matches(err.message, limit_cases[_i].msg), "%s:\n got  %s\n want %s",
                  limit_cases[_i].src, err.message, limit_cases[_i].msg);
    ck_assert_msg(limit_cases[_i].col == 0 || (err.line == 1 && err.column == limit_cases[_i].col),
                  "%s: at %d:%d, want 1:%d", limit_cases[_i].src, err.line, err.column,
                  limit_cases[_i].col);
    wf_error_release(&err);
    wf_tpl_free(t);
    free(src);
}
END_TEST

/* Constants are folded at compile time, so a constant over a cap is a compile (load-time)
 * error; exactly the cap is not. A range() of more than WF__TPL_FOLD_RANGE_MAX numbers is
 * not folded (a with-items list reads it one item at a time; issue 16), so what is built
 * from it is checked when it is evaluated; a range() over the cap still fails at compile. */
START_TEST(test_limits_folded)
{
    wf_tpl *t = NULL;
    json_object *v = NULL;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_tpl_compile("<< range(10000001) >>", (size_t)-1, 0, &t, &err), WF_ERANGE);
    ck_assert_ptr_null(t);
    ck_assert_str_eq(err.message, "range: 10000001 numbers is more than the 10000000 allowed");
    wf_error_release(&err);
    if (WF_TEST_SANITIZED) {
        printf("skipped under a sanitizer: the 10,000,000-element list\n");
        return;
    }
    /* Not folded: built when evaluated (limit_cases has the same past the cap). */
    t = compile_ok("<< range(4096) + range(9995904) >>", 0);
    ck_assert_int_eq(wf_tpl_eval(t, base_ctx, &v, &err), WF_OK);
    ck_assert_uint_eq(json_object_array_length(v), 10000000);
    json_object_put(v);
    wf_tpl_free(t);
    wf_error_release(&err);
}
END_TEST

static void add_limits_tcase(Suite *s)
{
    TCase *tc = tcase_create("limits");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_loop_test(tc, test_limits, 0, (int)WF_ARRAY_LEN(limit_cases));
    tcase_add_test(tc, test_limits_folded);
    tcase_set_timeout(tc, 120);
    suite_add_tcase(s, tc);
}
