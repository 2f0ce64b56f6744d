/* Tests for context/: results, the striped results map, contexts and the JSON helpers.
 *
 * The thread tests are meant to be run under TSan (-DWF_TSAN=ON) and the rest under ASan:
 * LeakSanitizer turns a missed unref into a failing test, a double unref into a crash. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"

static json_object *parse(const char *text)
{
    json_object *v = json_tokener_parse(text);

    ck_assert_msg(v != NULL || strcmp(text, "null") == 0, "cannot parse %s", text);
    return v;
}

static unsigned refs_of(const wf_result *r)
{
    return atomic_load(&((wf_result *)(uintptr_t)r)->refs);
}

/* ---- statuses and results ----------------------------------------------------------- */

static const struct {
    wf_status status;
    const char *name;
    bool ok_plain, ok_ignored;
} status_cases[] = {
    { WF_STATUS_PENDING, "pending", false, false },
    { WF_STATUS_RUNNING, "running", false, false },
    { WF_STATUS_SUCCEEDED, "succeeded", true, true },
    { WF_STATUS_FAILED, "failed", false, true },
    { WF_STATUS_SKIPPED, "skipped", false, false },
    { WF_STATUS_CANCELLED, "cancelled", false, false },
};

START_TEST(test_status_names_and_ok)
{
    wf_result *r = wf_result_new(status_cases[_i].status, NULL);

    ck_assert_str_eq(wf_status_name(status_cases[_i].status), status_cases[_i].name);
    ck_assert(wf_result_ok(r) == status_cases[_i].ok_plain);
    r->ignored_failure = true;
    ck_assert(wf_result_ok(r) == status_cases[_i].ok_ignored);
    wf_result_unref(r);
}
END_TEST

START_TEST(test_result_new_defaults)
{
    wf_result *r = wf_result_new(WF_STATUS_SUCCEEDED, parse("{\"a\":1}"));

    ck_assert_uint_eq(refs_of(r), 1);
    ck_assert_int_eq(r->exit_code, -1);
    ck_assert(!r->ignored_failure);
    ck_assert_ptr_null(r->stdout_text);
    ck_assert_ptr_null(r->stderr_text);
    ck_assert_ptr_null(r->error);
    ck_assert_str_eq(r->stdout_ref, "");
    ck_assert_str_eq(r->stderr_ref, "");
    ck_assert_uint_eq(r->n_items, 0);
    ck_assert_ptr_null(r->item_status);
    /* Owned fields are freed by the last unref (LeakSanitizer checks). */
    r->stdout_text = wf_xstrdup("out");
    r->stderr_text = wf_xstrdup("err");
    r->error = wf_xstrdup("boom");
    r->n_items = 2;
    r->item_status = wf_xcalloc(2, sizeof(*r->item_status));
    ck_assert_ptr_eq(wf_result_ref(r), r);
    ck_assert_uint_eq(refs_of(r), 2);
    wf_result_unref(r);
    ck_assert_uint_eq(refs_of(r), 1);
    wf_result_unref(r);
    wf_result_unref(NULL);
}
END_TEST

/* ---- the results map ---------------------------------------------------------------- */

static const struct {
    unsigned asked, got;
} stripe_cases[] = {
    { 0, 64 }, { 1, 1 }, { 2, 2 }, { 3, 4 }, { 5, 8 }, { 64, 64 }, { 65, 128 }, { 1000, 1024 },
};

START_TEST(test_results_stripes_rounding)
{
    wf_results *m = wf_results_new(stripe_cases[_i].asked);

    ck_assert_uint_eq(wf_results_stripes(m), stripe_cases[_i].got);
    ck_assert_uint_eq(wf_results_count(m), 0);
    ck_assert_ptr_null(wf_results_get(m, "anything"));
    wf_results_unref(m);
}
END_TEST

START_TEST(test_results_publish_get)
{
    wf_results *m = wf_results_new(4);
    wf_result *a = wf_result_new(WF_STATUS_SUCCEEDED, parse("1"));
    wf_result *b = wf_result_new(WF_STATUS_FAILED, NULL);

    ck_assert_int_eq(wf_results_publish(m, "build", a), WF_OK);
    ck_assert_int_eq(wf_results_publish(m, "test", b), WF_OK);
    ck_assert_uint_eq(wf_results_count(m), 2);
    ck_assert_ptr_eq(wf_results_get(m, "build"), a);
    ck_assert_ptr_eq(wf_results_get(m, "test"), b);
    ck_assert_ptr_null(wf_results_get(m, "buil"));
    ck_assert_ptr_null(wf_results_get(m, "builds"));
    ck_assert_ptr_null(wf_results_get(m, ""));
    /* getn reads exactly len bytes of a longer string. */
    ck_assert_ptr_eq(wf_results_getn(m, "build.value", 5), a);
    ck_assert_ptr_eq(wf_results_getn(m, "testing", 4), b);
    ck_assert_ptr_null(wf_results_getn(m, "build", 4));
    wf_result_unref(a);
    wf_result_unref(b);
    wf_results_unref(m);
}
END_TEST

START_TEST(test_results_eexist)
{
    wf_results *m = wf_results_new(0);
    wf_result *a = wf_result_new(WF_STATUS_SUCCEEDED, NULL);
    wf_result *b = wf_result_new(WF_STATUS_SUCCEEDED, NULL);

    ck_assert_int_eq(wf_results_publish(m, "x", a), WF_OK);
    ck_assert_uint_eq(refs_of(a), 2);
    ck_assert_int_eq(wf_results_publish(m, "x", b), WF_EEXIST);
    /* On WF_EEXIST the map is unchanged and b's reference is not taken. */
    ck_assert_uint_eq(refs_of(b), 1);
    ck_assert_int_eq(wf_results_publish(m, "x", a), WF_EEXIST);
    ck_assert_uint_eq(refs_of(a), 2);
    ck_assert_uint_eq(wf_results_count(m), 1);
    ck_assert_ptr_eq(wf_results_get(m, "x"), a);
    wf_result_unref(b);
    wf_result_unref(a);
    wf_results_unref(m);
}
END_TEST

START_TEST(test_results_grow_keeps_pointers)
{
    enum { N = 20000 };
    wf_results *m = wf_results_new((unsigned)_i);
    const wf_result *first = NULL;
    char name[32];

    for (int i = 0; i < N; i++) {
        wf_result *r = wf_result_new(WF_STATUS_SUCCEEDED, json_object_new_int(i));

        snprintf(name, sizeof(name), "task-%d", i);
        ck_assert_int_eq(wf_results_publish(m, name, r), WF_OK);
        wf_result_unref(r);
        if (i == 0)
            first = wf_results_get(m, "task-0");
    }
    ck_assert_uint_eq(wf_results_count(m), N);
    /* Entries never move, so a pointer taken before the stripes grew is still the entry. */
    ck_assert_ptr_eq(wf_results_get(m, "task-0"), first);
    for (int i = 0; i < N; i++) {
        const wf_result *r;

        snprintf(name, sizeof(name), "task-%d", i);
        r = wf_results_get(m, name);
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(json_object_get_int(r->value), i);
    }
    wf_results_unref(m);
}
END_TEST

START_TEST(test_results_refcounts)
{
    wf_results *m = wf_results_new(8);
    wf_result *r = wf_result_new(WF_STATUS_SUCCEEDED, parse("[1,2,3]"));

    ck_assert_ptr_eq(wf_results_ref(m), m);
    ck_assert_int_eq(wf_results_publish(m, "a", r), WF_OK);
    ck_assert_uint_eq(refs_of(r), 2);
    wf_results_unref(m);
    /* One map reference left: the map and its entries are still there. */
    ck_assert_ptr_eq(wf_results_get(m, "a"), r);
    ck_assert_uint_eq(refs_of(r), 2);
    wf_results_unref(m);
    /* The map dropped its reference; ours keeps the result alive. */
    ck_assert_uint_eq(refs_of(r), 1);
    ck_assert_int_eq(json_object_array_length(r->value), 3);
    wf_result_unref(r);
    wf_results_unref(NULL);
}
END_TEST

/* ---- contexts ----------------------------------------------------------------------- */

START_TEST(test_ctx_defaults)
{
    wf_ctx_init init = { 0 };
    wf_ctx *c = wf_ctx_new(&init);
    wf_strbuf sb = WF_STRBUF_INIT;
    const json_object *item = NULL;
    int64_t index = 0;

    wf_json_write(&sb, wf_ctx_inputs(c));
    wf_json_write(&sb, wf_ctx_vars(c));
    wf_json_write(&sb, wf_ctx_env(c));
    ck_assert_str_eq(wf_strbuf_str(&sb), "{}{}{}");
    ck_assert_ptr_nonnull(wf_ctx_results(c));
    ck_assert_ptr_nonnull(wf_ctx_published_vars(c));
    ck_assert_ptr_ne(wf_ctx_results(c), wf_ctx_published_vars(c));
    ck_assert_str_eq(wf_ctx_workflow_name(c), "");
    ck_assert_str_eq(wf_ctx_run_id(c), "");
    ck_assert(!wf_ctx_item(c, &item, &index));
    wf_strbuf_release(&sb);
    wf_ctx_unref(c);
    wf_ctx_unref(NULL);
}
END_TEST

START_TEST(test_ctx_accessors_and_item)
{
    wf_results *results = wf_results_new(0);
    wf_results *pub = wf_results_new(0);
    json_object *inputs = parse("{\"n\":3}");
    json_object *vars = parse("{\"v\":\"x\"}");
    json_object *env = parse("{\"HOME\":\"/root\"}");
    json_object *items = parse("[\"a\",null,{\"k\":1}]");
    wf_ctx_init init = { inputs, vars, env, results, pub, "deploy", "run-42" };
    wf_ctx *c = wf_ctx_new(&init);
    wf_ctx *it0, *it1, *it2;
    const json_object *item = NULL;
    int64_t index = -1;

    ck_assert_ptr_eq(wf_ctx_inputs(c), inputs);
    ck_assert_ptr_eq(wf_ctx_vars(c), vars);
    ck_assert_ptr_eq(wf_ctx_env(c), env);
    ck_assert_ptr_eq(wf_ctx_results(c), results);
    ck_assert_ptr_eq(wf_ctx_published_vars(c), pub);
    ck_assert_str_eq(wf_ctx_workflow_name(c), "deploy");
    ck_assert_str_eq(wf_ctx_run_id(c), "run-42");

    it0 = wf_ctx_with_item(c, json_object_array_get_idx(items, 0), 0);
    it1 = wf_ctx_with_item(c, json_object_array_get_idx(items, 1), 1);
    /* Deriving from an item context replaces the item. */
    it2 = wf_ctx_with_item(it0, json_object_array_get_idx(items, 2), 2);
    ck_assert(wf_ctx_item(it0, &item, &index));
    ck_assert_ptr_eq(item, json_object_array_get_idx(items, 0));
    ck_assert_int_eq(index, 0);
    ck_assert(wf_ctx_item(it1, &item, &index));
    ck_assert_ptr_null(item); /* JSON null item */
    ck_assert_int_eq(index, 1);
    ck_assert(wf_ctx_item(it2, &item, &index));
    ck_assert_int_eq(index, 2);
    ck_assert(wf_ctx_item(it2, NULL, NULL));
    /* Item contexts share everything else with their base: nothing was copied. */
    ck_assert_ptr_eq(wf_ctx_inputs(it2), inputs);
    ck_assert_ptr_eq(wf_ctx_vars(it1), vars);
    ck_assert_ptr_eq(wf_ctx_results(it1), results);
    ck_assert_str_eq(wf_ctx_run_id(it2), "run-42");

    /* Freeing the base first is fine: derived contexts hold the shared part. */
    wf_ctx_unref(c);
    ck_assert_ptr_eq(wf_ctx_env(it1), env);
    ck_assert_ptr_eq(wf_ctx_ref(it1), it1);
    wf_ctx_unref(it1);
    wf_ctx_unref(it0);
    wf_ctx_unref(it1);
    ck_assert_ptr_eq(wf_ctx_published_vars(it2), pub);
    wf_ctx_unref(it2);
    /* The caller's own map references survive the contexts. */
    ck_assert_uint_eq(wf_results_count(results), 0);
    wf_results_unref(results);
    wf_results_unref(pub);
    json_object_put(items);
}
END_TEST

START_TEST(test_ctx_with_vars)
{
    json_object *item = parse("{\"host\":\"a\"}");
    wf_ctx_init init = { .inputs = parse("{\"i\":1}"), .vars = parse("{\"v\":1}") };
    wf_ctx *base = wf_ctx_new(&init);
    wf_ctx *it = wf_ctx_with_item(base, item, 7);
    wf_ctx *v1 = wf_ctx_with_vars(it, parse("{\"v\":2}"));
    wf_ctx *v2 = wf_ctx_with_vars(v1, NULL);
    wf_ctx *bv;
    wf_result *r = wf_result_new(WF_STATUS_SUCCEEDED, parse("\"done\""));
    const json_object *got = NULL;
    int64_t index = 0;
    wf_strbuf sb = WF_STRBUF_INIT;

    /* New vars, same inputs, results and names; the item is kept. */
    wf_json_write(&sb, wf_ctx_vars(v1));
    ck_assert_str_eq(wf_strbuf_str(&sb), "{\"v\":2}");
    wf_strbuf_reset(&sb);
    wf_json_write(&sb, wf_ctx_vars(v2));
    ck_assert_str_eq(wf_strbuf_str(&sb), "{}");
    wf_strbuf_reset(&sb);
    wf_json_write(&sb, wf_ctx_vars(it));
    ck_assert_str_eq(wf_strbuf_str(&sb), "{\"v\":1}");
    ck_assert_ptr_eq(wf_ctx_inputs(v1), wf_ctx_inputs(base));
    ck_assert_ptr_eq(wf_ctx_env(v2), wf_ctx_env(base));
    ck_assert_ptr_eq(wf_ctx_results(v2), wf_ctx_results(base));
    ck_assert_ptr_eq(wf_ctx_published_vars(v1), wf_ctx_published_vars(base));
    ck_assert(wf_ctx_item(v1, &got, &index));
    ck_assert_ptr_eq(got, item);
    ck_assert_int_eq(index, 7);
    bv = wf_ctx_with_vars(base, NULL);
    ck_assert(!wf_ctx_item(bv, NULL, NULL));
    wf_ctx_unref(bv);

    /* A result published through one context is seen through all of them. */
    ck_assert_int_eq(wf_results_publish(wf_ctx_results(v2), "t", r), WF_OK);
    ck_assert_ptr_eq(wf_results_get(wf_ctx_results(base), "t"), r);
    wf_result_unref(r);

    wf_ctx_unref(base);
    wf_ctx_unref(it);
    wf_ctx_unref(v1);
    ck_assert_ptr_eq(wf_results_get(wf_ctx_results(v2), "t"), r);
    wf_ctx_unref(v2);
    wf_strbuf_release(&sb);
    json_object_put(item);
}
END_TEST

/* ---- JSON writing ------------------------------------------------------------------- */

/* Input is parsed with json-c (in a test, on an unshared value), output is our writer's. */
static const struct {
    const char *in, *out;
} write_cases[] = {
    { "null", "null" },
    { "true", "true" },
    { "false", "false" },
    { "0", "0" },
    { "-42", "-42" },
    { "9223372036854775807", "9223372036854775807" },
    { "-9223372036854775808", "-9223372036854775808" },
    { "18446744073709551615", "18446744073709551615" },
    { "0.1", "0.1" },
    { "1e100", "1e+100" },
    { "2.0", "2.0" },
    { "-0.0", "-0.0" },
    { "0.5", "0.5" },
    { "1e-7", "1e-07" },
    { "100.0", "100.0" },
    { "123456789012.0", "123456789012.0" },
    { "3.14159", "3.14159" },
    { "\"\"", "\"\"" },
    { "\"plain\"", "\"plain\"" },
    { "\"q\\\" b\\\\ s/ \"", "\"q\\\" b\\\\ s/ \"" },
    { "\"\\b\\f\\n\\r\\t\"", "\"\\b\\f\\n\\r\\t\"" },
    { "\"\\u0001\\u001f\\u007f\"", "\"\\u0001\\u001f\x7f\"" },
    { "\"a\\u0000b\"", "\"a\\u0000b\"" },
    { "\"caf\\u00e9 \\u2603 \\ud83d\\ude00\"", "\"caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80\"" },
    { "[]", "[]" },
    { "{}", "{}" },
    { "[1, 2.5, \"x\", null, [true], {}]", "[1,2.5,\"x\",null,[true],{}]" },
    { "{ \"b\": 1, \"a\": [ {\"x\": null} ], \"k\\n\": \"v\" }",
      "{\"b\":1,\"a\":[{\"x\":null}],\"k\\n\":\"v\"}" },
};

START_TEST(test_json_write)
{
    json_object *v = parse(write_cases[_i].in);
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_json_write(&sb, v);
    ck_assert_str_eq(wf_strbuf_str(&sb), write_cases[_i].out);
    wf_strbuf_release(&sb);
    json_object_put(v);
}
END_TEST

static const struct {
    double d;
    const char *out;
} double_cases[] = {
    { 0.0, "0.0" },
    { -0.0, "-0.0" },
    { 0.1, "0.1" },
    { 1.0 / 3.0, "0.3333333333333333" },
    { 2.0 / 3.0, "0.6666666666666666" },
    { 0.1 + 0.2, "0.30000000000000004" },
    { 1e100, "1e+100" },
    { 1e21, "1e+21" },
    { 1e15, "1e+15" },
    { -1.5, "-1.5" },
    { 1e-7, "1e-07" },
    { 5e-324, "5e-324" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" },
    { 2.2250738585072014e-308, "2.2250738585072014e-308" },
    { 9007199254740993.0, "9007199254740992.0" },
};

START_TEST(test_json_write_double)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_json_write_double(&sb, double_cases[_i].d);
    ck_assert_str_eq(wf_strbuf_str(&sb), double_cases[_i].out);
    wf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_json_write_nonfinite)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_json_write_double(&sb, INFINITY);
    wf_json_write_double(&sb, -INFINITY);
    wf_json_write_double(&sb, NAN);
    ck_assert_str_eq(wf_strbuf_str(&sb), "nullnullnull");
    wf_strbuf_release(&sb);
}
END_TEST

/* Every double we write reads back as the same double: random bit patterns, xorshift. */
START_TEST(test_json_write_double_roundtrip)
{
    uint64_t x = 0x9e3779b97f4a7c15u;
    wf_strbuf sb = WF_STRBUF_INIT;

    for (int i = 0; i < 20000; i++) {
        double d;

        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(&d, &x, sizeof(d));
        if (!isfinite(d))
            continue;
        wf_strbuf_reset(&sb);
        wf_json_write_double(&sb, d);
        ck_assert_msg(strtod(wf_strbuf_str(&sb), NULL) == d, "%s does not read back",
                      wf_strbuf_str(&sb));
    }
    wf_strbuf_release(&sb);
}
END_TEST

/* ---- copy and equality -------------------------------------------------------------- */

START_TEST(test_json_copy_independent)
{
    const char *text =
        "{\"a\":[1,2.5,\"s\\u0000t\",null,{\"b\":true}],\"big\":18446744073709551615,"
        "\"d\":0.1,\"e\":{}}";
    json_object *src = parse(text);
    json_object *copy = wf_json_copy(src);
    json_object *a = NULL;
    wf_strbuf before = WF_STRBUF_INIT, after = WF_STRBUF_INIT;

    ck_assert_ptr_nonnull(copy);
    ck_assert_ptr_ne(copy, src);
    ck_assert(wf_json_equal(src, copy));
    wf_json_write(&before, src);
    wf_json_write(&after, copy);
    ck_assert_str_eq(wf_strbuf_str(&before), wf_strbuf_str(&after));

    /* Changing the copy leaves the source alone... */
    ck_assert(json_object_object_get_ex(copy, "a", &a));
    json_object_array_put_idx(a, 0, json_object_new_string("changed"));
    json_object_object_add(copy, "new", NULL);
    ck_assert(!wf_json_equal(src, copy));
    wf_strbuf_reset(&after);
    wf_json_write(&after, src);
    ck_assert_str_eq(wf_strbuf_str(&before), wf_strbuf_str(&after));
    /* ...and the source can go first: the copy shares nothing (ASan would see a use after
     * free otherwise). */
    json_object_put(src);
    wf_strbuf_reset(&after);
    wf_json_write(&after, copy);
    ck_assert_str_eq(wf_strbuf_str(&after),
                     "{\"a\":[\"changed\",2.5,\"s\\u0000t\",null,{\"b\":true}],"
                     "\"big\":18446744073709551615,\"d\":0.1,\"e\":{},\"new\":null}");
    json_object_put(copy);
    ck_assert_ptr_null(wf_json_copy(NULL));
    wf_strbuf_release(&before);
    wf_strbuf_release(&after);
}
END_TEST

static const struct {
    const char *a, *b;
    bool equal;
} equal_cases[] = {
    { "null", "null", true },
    { "1", "1.0", true },
    { "1.0", "1", true },
    { "-0.0", "0", true },
    { "1", "2", false },
    { "1.5", "1", false },
    { "\"1\"", "1", false },
    { "true", "1", false },
    { "false", "null", false },
    { "true", "true", true },
    { "\"abc\"", "\"abc\"", true },
    { "\"abc\"", "\"abd\"", false },
    { "\"a\\u0000b\"", "\"a\\u0000c\"", false },
    { "[1,2]", "[1,2]", true },
    { "[1,2]", "[2,1]", false },
    { "[1,2]", "[1,2,3]", false },
    { "[]", "{}", false },
    { "{\"a\":1,\"b\":[1.0]}", "{\"b\":[1],\"a\":1.0}", true },
    { "{\"a\":1}", "{\"a\":1,\"b\":2}", false },
    { "{\"a\":1,\"b\":2}", "{\"a\":1,\"c\":2}", false },
    { "{\"a\":null}", "{}", false },
    /* 2^53 + 1 is not exactly representable: the double is 2^53, so they differ. */
    { "9007199254740993", "9007199254740992.0", false },
    { "9007199254740992", "9007199254740992.0", true },
    { "18446744073709551615", "18446744073709551615", true },
    { "18446744073709551615", "9223372036854775807", false },
    { "9223372036854775807", "9223372036854775807.0", false },
    { "-9223372036854775808", "-9223372036854775808.0", true },
    { "18446744073709551615", "1.8446744073709552e19", false },
};

START_TEST(test_json_equal)
{
    json_object *a = parse(equal_cases[_i].a);
    json_object *b = parse(equal_cases[_i].b);

    ck_assert_msg(wf_json_equal(a, b) == equal_cases[_i].equal, "%s == %s", equal_cases[_i].a,
                  equal_cases[_i].b);
    ck_assert_msg(wf_json_equal(b, a) == equal_cases[_i].equal, "%s == %s", equal_cases[_i].b,
                  equal_cases[_i].a);
    json_object_put(a);
    json_object_put(b);
}
END_TEST

static const struct {
    const char *in, *name;
} type_cases[] = {
    { "null", "null" },    { "true", "boolean" }, { "3", "integer" }, { "3.5", "number" },
    { "\"s\"", "string" }, { "[1]", "list" },     { "{}", "object" },
};

START_TEST(test_json_type_name)
{
    json_object *v = parse(type_cases[_i].in);

    ck_assert_str_eq(wf_json_type_name(v), type_cases[_i].name);
    json_object_put(v);
}
END_TEST

/* ---- threads ------------------------------------------------------------------------ */

enum { WRITERS = 4, READERS = 4, PER_WRITER = 2000 };

typedef struct shared_state {
    wf_ctx *base;
    atomic_int writers_done;
    atomic_int contested_ok;
    atomic_int errors;
    atomic_long found;
} shared_state;

typedef struct thread_arg {
    shared_state *st;
    int id;
} thread_arg;

static void expected_value(wf_strbuf *sb, int w, int n)
{
    wf_strbuf_addf(sb, "{\"w\":%d,\"n\":%d,\"d\":0.1,\"s\":\"a\\\"b\\n\"}", w, n);
}

static void *writer(void *p)
{
    thread_arg *a = p;
    wf_results *m = wf_ctx_results(a->st->base);
    wf_result *c = wf_result_new(WF_STATUS_SUCCEEDED, NULL);
    char name[48];

    /* Every writer races for one name: exactly one must win. */
    if (wf_results_publish(m, "contested", c) == WF_OK)
        atomic_fetch_add(&a->st->contested_ok, 1);
    wf_result_unref(c);
    for (int n = 0; n < PER_WRITER; n++) {
        json_object *v = json_object_new_object();
        wf_result *r;

        json_object_object_add(v, "w", json_object_new_int(a->id));
        json_object_object_add(v, "n", json_object_new_int(n));
        json_object_object_add(v, "d", json_object_new_double(0.1));
        json_object_object_add(v, "s", json_object_new_string("a\"b\n"));
        r = wf_result_new(WF_STATUS_SUCCEEDED, v);
        r->exit_code = n;
        snprintf(name, sizeof(name), "task-%d-%d", a->id, n);
        if (wf_results_publish(m, name, r) != WF_OK)
            atomic_fetch_add(&a->st->errors, 1);
        /* Our reference goes while readers may be holding the pointer: the map's keeps it. */
        wf_result_unref(r);
    }
    atomic_fetch_add(&a->st->writers_done, 1);
    return NULL;
}

static void *reader(void *p)
{
    thread_arg *a = p;
    wf_strbuf got = WF_STRBUF_INIT, want = WF_STRBUF_INIT;
    uint32_t x = 2463534242u + (uint32_t)a->id;
    char name[48];
    bool last_pass = false;

    while (!last_pass) {
        /* One more full round after the writers finish, so every name is eventually seen. */
        last_pass = atomic_load(&a->st->writers_done) == WRITERS;
        for (int k = 0; k < 4000; k++) {
            int w, n;
            const wf_result *r;
            wf_ctx *c, *cv;
            const json_object *item = NULL;
            int64_t index = -1;

            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            w = (int)(x % WRITERS);
            n = (int)((x >> 8) % PER_WRITER);
            snprintf(name, sizeof(name), "task-%d-%d", w, n);
            r = wf_results_get(wf_ctx_results(a->st->base), name);
            if (r == NULL)
                continue;
            atomic_fetch_add_explicit(&a->st->found, 1, memory_order_relaxed);
            c = wf_ctx_with_item(a->st->base, r->value, r->exit_code);
            if (!wf_ctx_item(c, &item, &index) || item != r->value || index != n)
                atomic_fetch_add(&a->st->errors, 1);
            wf_strbuf_reset(&got);
            wf_strbuf_reset(&want);
            wf_json_write(&got, item);
            wf_json_write(&got, wf_ctx_inputs(c));
            expected_value(&want, w, n);
            wf_strbuf_adds(&want, "{\"shared\":[1,2.5,\"x\"]}");
            if (strcmp(wf_strbuf_str(&got), wf_strbuf_str(&want)) != 0)
                atomic_fetch_add(&a->st->errors, 1);
            if (k % 16 == 0) {
                cv = wf_ctx_with_vars(c, json_object_new_object());
                if (wf_ctx_results(cv) != wf_ctx_results(c))
                    atomic_fetch_add(&a->st->errors, 1);
                wf_ctx_unref(cv);
            }
            wf_ctx_unref(c);
        }
    }
    wf_strbuf_release(&got);
    wf_strbuf_release(&want);
    return NULL;
}

START_TEST(test_threads_publish_lookup_derive)
{
    wf_ctx_init init = { .inputs = parse("{\"shared\":[1,2.5,\"x\"]}") };
    shared_state st = { .base = wf_ctx_new(&init) };
    pthread_t th[WRITERS + READERS];
    thread_arg args[WRITERS + READERS];
    char name[48];

    for (int i = 0; i < WRITERS + READERS; i++) {
        args[i].st = &st;
        args[i].id = i < WRITERS ? i : i - WRITERS;
        ck_assert_int_eq(pthread_create(&th[i], NULL, i < WRITERS ? writer : reader, &args[i]), 0);
    }
    for (int i = 0; i < WRITERS + READERS; i++)
        pthread_join(th[i], NULL);

    ck_assert_int_eq(atomic_load(&st.errors), 0);
    ck_assert_int_eq(atomic_load(&st.contested_ok), 1);
    ck_assert_int_gt(atomic_load(&st.found), 0);
    ck_assert_uint_eq(wf_results_count(wf_ctx_results(st.base)), WRITERS * PER_WRITER + 1);
    for (int w = 0; w < WRITERS; w++) {
        for (int n = 0; n < PER_WRITER; n++) {
            const wf_result *r;

            snprintf(name, sizeof(name), "task-%d-%d", w, n);
            r = wf_results_get(wf_ctx_results(st.base), name);
            ck_assert_ptr_nonnull(r);
            ck_assert_int_eq(r->exit_code, n);
        }
    }
    wf_ctx_unref(st.base);
}
END_TEST

/* The json-c rule, as a test. Several threads print one shared json_object at once with
 * wf_json_write. This must not use json_object_to_json_string: that function stores the text
 * it makes inside the object (a free of the old buffer plus a write of a new one), so two
 * threads calling it on the same object race, and one of them can read freed memory. It would
 * also not show up under TSan here, since libjson-c is not instrumented; the rule has to be
 * kept by reading the code, and this test keeps our writer honest (it only reads). */
typedef struct print_arg {
    const json_object *v;
    const char *want;
    atomic_int *errors;
} print_arg;

static void *printer(void *p)
{
    print_arg *a = p;
    wf_strbuf sb = WF_STRBUF_INIT;

    for (int i = 0; i < 2000; i++) {
        wf_strbuf_reset(&sb);
        wf_json_write(&sb, a->v);
        if (strcmp(wf_strbuf_str(&sb), a->want) != 0)
            atomic_fetch_add(a->errors, 1);
        /* Copies and comparisons of a shared value only read it too. */
        if (i % 100 == 0) {
            json_object *copy = wf_json_copy(a->v);

            if (!wf_json_equal(copy, a->v))
                atomic_fetch_add(a->errors, 1);
            json_object_put(copy);
        }
    }
    wf_strbuf_release(&sb);
    return NULL;
}

START_TEST(test_threads_write_shared_object)
{
    enum { N = 8 };
    const char *want = "{\"name\":\"caf\xc3\xa9\\t\",\"n\":[1,-2,0.1,1e+100,2.0,null,true],"
                       "\"deep\":{\"a\":{\"b\":{\"c\":\"\\u0001\"}}}}";
    json_object *v = parse(want);
    pthread_t th[N];
    print_arg arg;
    atomic_int errors;

    atomic_init(&errors, 0);
    arg.v = v;
    arg.want = want;
    arg.errors = &errors;
    for (int i = 0; i < N; i++)
        ck_assert_int_eq(pthread_create(&th[i], NULL, printer, &arg), 0);
    for (int i = 0; i < N; i++)
        pthread_join(th[i], NULL);
    ck_assert_int_eq(atomic_load(&errors), 0);
    json_object_put(v);
}
END_TEST

/* stdout (or $WF_RESULT) to a result, by output mode (moved here from check_scheduler.c with
 * the conversion). */
START_TEST(output_modes)
{
    wf_output_mode m = WF_OUTPUT_TEXT;
    json_object *v = NULL;
    char *err = NULL;

    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_TEXT, "hi\n", "stdout", &v, &err), WF_OK);
    ck_assert_str_eq(json_object_get_string(v), "hi");
    json_object_put(v);
    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_JSON, " {\"a\": [1]} \n", "stdout", &v, &err),
                     WF_OK);
    ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "{\"a\":[1]}");
    json_object_put(v);
    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_JSON, "42\n", "stdout", &v, &err), WF_OK);
    ck_assert_int_eq(json_object_get_int(v), 42);
    json_object_put(v);
    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_JSON, "{\"a\": 1} trailing", "stdout", &v, &err),
                     WF_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "'{\"a\": 1} trailing'"));
    free(err);
    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_JSON, "", "stdout", &v, &err), WF_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "it is empty"));
    free(err);
    ck_assert_int_eq(wf_output_convert(WF_OUTPUT_LINES, "a\r\nb\n", "stdout", &v, &err), WF_OK);
    ck_assert_str_eq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), "[\"a\",\"b\"]");
    json_object_put(v);
    ck_assert(wf_output_mode_parse("lines", &m) && m == WF_OUTPUT_LINES);
    ck_assert_str_eq(wf_output_mode_name(WF_OUTPUT_JSON), "json");
    ck_assert(!wf_output_mode_parse("yaml", &m) && !wf_output_mode_parse(NULL, &m));
}
END_TEST

/* ---- results by reference ----------------------------------------------------------- */

/* A file in a fresh directory holding text; its path (owned) and size. */
static char *ref_file(const char *text, char dir_out[64])
{
    char *path;
    FILE *f;

    snprintf(dir_out, 64, "/tmp/wf-ctx-ref-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir_out));
    path = wf_xasprintf("%s/v", dir_out);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void ref_cleanup(char *path, const char *dir)
{
    unlink(path);
    rmdir(dir);
    free(path);
}

START_TEST(test_ref_load_pin_write)
{
    char dir[64], *path = ref_file("[1,2,3]\n", dir), *error = NULL;
    wf_ref_cache *c = wf_ref_cache_new(1 << 20);
    json_object *m = wf_ref_new(c, path, "h", WF_OUTPUT_JSON, 8, 100, "task 'x'", NULL);
    json_object *copy, *refs;
    const json_object *v = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_ref_stats st;
    wf_ref_info info;

    ck_assert(wf_ref_is(m));
    ck_assert(!wf_ref_is(NULL));
    {
        json_object *plain = json_object_new_string("(a result not loaded)");

        ck_assert(!wf_ref_is(plain)); /* the same text is not a marker */
        json_object_put(plain);
    }
    ck_assert(wf_ref_get_info(m, &info));
    ck_assert_str_eq(info.path, path);
    ck_assert_uint_eq(info.size, 8);
    ck_assert_uint_eq(info.budget, 1 << 20);
    /* Nothing is loaded until the value is read. */
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 0);
    ck_assert_int_eq(wf_ref_pin(m, &v, &error), WF_OK);
    ck_assert_int_eq(json_object_array_length(v), 3);
    wf_ref_unpin(m);
    /* The writers print the value, never the placeholder. */
    wf_json_write(&sb, m);
    ck_assert_str_eq(sb.buf, "[1,2,3]");
    copy = wf_json_copy(m);
    ck_assert(!wf_ref_is(copy));
    ck_assert_int_eq(json_object_array_length(copy), 3);
    refs = json_object_new_array();
    json_object_array_add(refs, wf_json_copy_refs(m));
    ck_assert(wf_ref_is(json_object_array_get_idx(refs, 0)));
    ck_assert_str_eq(json_object_to_json_string_ext(refs, JSON_C_TO_STRING_PLAIN), "[[1,2,3]]");
    ck_assert(wf_json_equal(m, copy));
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 1); /* loaded once, then served from the cache */
    json_object_put(refs);
    json_object_put(copy);
    wf_strbuf_release(&sb);
    json_object_put(m);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

START_TEST(test_ref_eviction_and_pins)
{
    char dir[64], *path = ref_file("abcdef", dir), *error = NULL;
    /* Room for two values of 100 (estimated) bytes. */
    wf_ref_cache *c = wf_ref_cache_new(250);
    json_object *m[3];
    const json_object *v;
    wf_ref_stats st;

    for (int i = 0; i < 3; i++)
        m[i] = wf_ref_new(c, path, "h", WF_OUTPUT_TEXT, 6, 100, "task 'x'", NULL);
    ck_assert_int_eq(wf_ref_pin(m[0], &v, &error), WF_OK);
    ck_assert_str_eq(json_object_get_string((json_object *)(uintptr_t)v), "abcdef");
    ck_assert_int_eq(wf_ref_pin(m[1], &v, &error), WF_OK);
    wf_ref_unpin(m[1]);
    /* m[0] is pinned: loading m[2] evicts m[1], the least recently used unpinned one, and
     * m[0]'s value stays valid. */
    ck_assert_int_eq(wf_ref_pin(m[2], &v, &error), WF_OK);
    wf_ref_unpin(m[2]);
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 3);
    ck_assert_uint_eq(st.evictions, 1);
    ck_assert_uint_le(st.resident, 250);
    ck_assert_int_eq(wf_ref_pin(m[0], &v, &error), WF_OK); /* still there: no new load */
    wf_ref_unpin(m[0]);
    wf_ref_unpin(m[0]);
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 3);
    ck_assert_uint_le(st.peak, 300);
    for (int i = 0; i < 3; i++)
        json_object_put(m[i]);
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.resident, 0);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

START_TEST(test_ref_budget_and_missing)
{
    char dir[64], *path = ref_file("abcdef", dir), *error = NULL;
    wf_ref_cache *c = wf_ref_cache_new(50);
    json_object *big = wf_ref_new(c, path, "h", WF_OUTPUT_TEXT, 6, 100, "task 'gen' item 3", NULL);
    json_object *gone =
        wf_ref_new(c, "/nonexistent/wf-ref", "h", WF_OUTPUT_TEXT, 6, 10, "task 'y'", NULL);
    const json_object *v = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;

    /* Larger than the whole budget: an error naming it and the figures, nothing loaded. */
    ck_assert_int_eq(wf_ref_pin(big, &v, &error), WF_ERANGE);
    ck_assert_ptr_null(v);
    ck_assert_msg(strstr(error, "task 'gen' item 3") != NULL && strstr(error, "6 bytes") &&
                      strstr(error, "--memory") != NULL,
                  "%s", error);
    free(error);
    error = NULL;
    ck_assert_int_eq(wf_ref_pin(gone, &v, &error), WF_EIO);
    ck_assert_msg(strstr(error, "task 'y'") != NULL && strstr(error, "/nonexistent/wf-ref"), "%s",
                  error);
    free(error);
    /* A writer cannot fail: null. */
    wf_json_write(&sb, gone);
    ck_assert_str_eq(sb.buf, "null");
    wf_strbuf_release(&sb);
    json_object_put(big);
    json_object_put(gone);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

static const wf_output_mode size_modes[] = { WF_OUTPUT_TEXT, WF_OUTPUT_LINES, WF_OUTPUT_JSON };

/* A lines reference over WF_REF_LINES_WINDOW * 2 + 3 lines: "a\r\n" first, then "l1".."lN-1",
 * the last without \n. Lines are read by index across windows and written item by item,
 * nothing is loaded, and a file that lost lines is an error naming the label. */
START_TEST(test_ref_lines_windows)
{
    const uint64_t n = WF_REF_LINES_WINDOW * 2 + 3;
    wf_strbuf text = WF_STRBUF_INIT, sb = WF_STRBUF_INIT;
    char dir[64], *path, *error = NULL;
    wf_ref_cache *c = wf_ref_cache_new(1 << 20);
    json_object *m, *line = NULL, *list;
    uint64_t len = 0;
    wf_ref_stats st;

    wf_strbuf_adds(&text, "a\r\n");
    for (uint64_t i = 1; i < n; i++)
        wf_strbuf_addf(&text, "l%llu%s", (unsigned long long)i, i + 1 < n ? "\n" : "");
    path = ref_file(text.buf, dir);
    m = wf_ref_new(c, path, "h", WF_OUTPUT_LINES, text.len, 100, "task 'gen'", NULL);
    wf_ref_set_lines(m, n);
    ck_assert(wf_ref_list_len(m, &len));
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(wf_ref_list_get(m, 0, &line, &error), WF_OK);
    ck_assert_str_eq(json_object_get_string(line), "a"); /* the \r goes with the \n */
    json_object_put(line);
    /* Last line of a window, first of the next, the last (no \n), then back to window 0. */
    {
        static const uint64_t at[] = { WF_REF_LINES_WINDOW - 1, WF_REF_LINES_WINDOW,
                                       WF_REF_LINES_WINDOW * 2 + 2, 1 };
        char want[32];

        for (size_t k = 0; k < WF_ARRAY_LEN(at); k++) {
            ck_assert_int_eq(wf_ref_list_get(m, at[k], &line, &error), WF_OK);
            snprintf(want, sizeof(want), "l%llu", (unsigned long long)at[k]);
            ck_assert_str_eq(json_object_get_string(line), want);
            json_object_put(line);
        }
    }
    ck_assert_int_eq(wf_ref_list_get(m, n, &line, &error), WF_EINVAL);
    ck_assert_ptr_nonnull(strstr(error, "task 'gen': no item"));
    free(error);
    error = NULL;
    /* Written item by item, the same list the whole load gives; neither is counted a load
     * but the whole one. */
    wf_json_write(&sb, m);
    list = json_tokener_parse(sb.buf);
    ck_assert_uint_eq(json_object_array_length(list), n);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(list, n - 1)), "l8194");
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 0);
    json_object_put(list);
    json_object_put(m);
    /* A file with fewer lines than counted: an error, not a wrong line. */
    m = wf_ref_new(c, path, "h", WF_OUTPUT_LINES, text.len, 100, "task 'gen'", NULL);
    wf_ref_set_lines(m, n + WF_REF_LINES_WINDOW);
    ck_assert_int_eq(wf_ref_list_get(m, n, &line, &error), WF_EIO);
    ck_assert_ptr_null(line);
    ck_assert_ptr_nonnull(strstr(error, "task 'gen': the result kept in"));
    free(error);
    json_object_put(m);
    wf_strbuf_release(&sb);
    wf_strbuf_release(&text);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

/* A list read through ops: length and items without a load, a whole load counted once. */
static int squares_get(void *src, uint64_t i, json_object **value, char **error)
{
    (void)error;
    (*(int *)src)++;
    *value = json_object_new_int64((int64_t)(i * i));
    return WF_OK;
}

static void squares_free(void *src)
{
    free(src);
}

/* wf_json_array_scan: arrays scanned item by item, anything else left to a whole parse, and
 * errors at the byte where they are. */
static const struct scan_case {
    const char *text;
    int rc;
    bool is_array;
    uint64_t n_items;
    const char *error; /* a part of the error, or NULL */
} scan_cases[] = {
    { " [1, 2.5 ,\"a,]\", [3, [4]], {\"k\": [5]}, null, true, 7]\n\n", WF_OK, true, 8, NULL },
    { "[]", WF_OK, true, 0, NULL },
    { "[ \t\r\n]", WF_OK, true, 0, NULL },
    { "[42]", WF_OK, true, 1, NULL },
    { "{\"a\": [1, 2]}", WF_OK, false, 0, NULL },
    { "  \"[not a list]\"", WF_OK, false, 0, NULL },
    { "[1, 2] x", WF_EINVAL, true, 0, "at byte 7 (more after the list): 'x'" },
    { "[1 2]", WF_EINVAL, true, 0, "at byte 3 (',' or ']' expected after an item): '2]'" },
    { "[1, 2,]", WF_EINVAL, true, 0, "stdout is not valid JSON at byte 6" },
    { "[1, {\"a\": }]", WF_EINVAL, true, 0, "stdout is not valid JSON at byte 10" },
    { "[1, 2", WF_EINVAL, true, 0, "at byte 5 (it ends before the list is closed)" },
    { "[1, [2, 3]", WF_EINVAL, true, 0, "at byte 10" },
    { "[1, 'a']", WF_EINVAL, true, 0, "at byte 4" }, /* strict: no single quotes */
};

START_TEST(test_json_array_scan)
{
    const struct scan_case *tc = &scan_cases[_i];
    char dir[64], *path = ref_file(tc->text, dir), *error = NULL;
    wf_json_array_index idx;
    bool is_array = false;
    int rc = wf_json_array_scan(path, strlen(tc->text), "stdout", &is_array, &idx, &error);

    ck_assert_msg(rc == tc->rc, "'%s': %d (%s)", tc->text, rc, error ? error : "");
    if (tc->rc == WF_OK) {
        ck_assert_int_eq(is_array, tc->is_array);
        ck_assert_uint_eq(idx.n_items, tc->n_items);
        ck_assert_ptr_null(error);
        if (is_array) {
            /* One window, ending at the closing bracket. */
            ck_assert_uint_eq(idx.n_win, tc->n_items > 0 ? 1 : 0);
            ck_assert_int_eq(tc->text[idx.win_off[idx.n_win]], ']');
        }
    } else {
        ck_assert_ptr_nonnull(error);
        ck_assert_msg(strstr(error, tc->error) != NULL, "'%s': %s", tc->text, error);
        ck_assert_ptr_null(idx.win_off);
    }
    free(idx.win_off);
    free(error);
    ref_cleanup(path, dir);
}
END_TEST

/* A JSON array by reference: | length and [i] across windows parse one window, no load; a
 * whole write gives what a whole parse gives. */
START_TEST(test_ref_json_array_windows)
{
    const uint64_t n = WF_REF_LINES_WINDOW * 2 + 3;
    wf_strbuf text = WF_STRBUF_INIT, sb = WF_STRBUF_INIT;
    char dir[64], *path, *error = NULL;
    wf_ref_cache *c = wf_ref_cache_new(1 << 20);
    json_object *m, *v = NULL, *list, *whole;
    wf_json_array_index idx;
    bool is_array = false;
    uint64_t len = 0;
    wf_ref_stats st;

    wf_strbuf_adds(&text, "[\n");
    for (uint64_t i = 0; i < n; i++)
        wf_strbuf_addf(&text, "%s{\"i\": %llu, \"s\": \"x,]%llu\"}\n", i ? " , " : "",
                       (unsigned long long)i, (unsigned long long)i);
    wf_strbuf_adds(&text, "]\n");
    path = ref_file(text.buf, dir);
    ck_assert_int_eq(wf_json_array_scan(path, text.len, "stdout", &is_array, &idx, &error), WF_OK);
    ck_assert(is_array);
    ck_assert_uint_eq(idx.n_items, n);
    ck_assert_uint_eq(idx.n_win, 3);
    m = wf_ref_new(c, path, "h", WF_OUTPUT_JSON, text.len, 3 * text.len, "task 'gen'", NULL);
    wf_ref_set_json_array(m, &idx);
    ck_assert_ptr_null(idx.win_off); /* taken */
    ck_assert(wf_ref_list_len(m, &len));
    ck_assert_uint_eq(len, n);
    {
        static const uint64_t at[] = { 0, WF_REF_LINES_WINDOW - 1, WF_REF_LINES_WINDOW,
                                       WF_REF_LINES_WINDOW * 2 + 2, 1 };

        for (size_t k = 0; k < WF_ARRAY_LEN(at); k++) {
            json_object *f = NULL;
            char want[32];

            ck_assert_int_eq(wf_ref_list_get(m, at[k], &v, &error), WF_OK);
            ck_assert(json_object_object_get_ex(v, "i", &f));
            ck_assert_int_eq(json_object_get_int64(f), (int64_t)at[k]);
            ck_assert(json_object_object_get_ex(v, "s", &f));
            snprintf(want, sizeof(want), "x,]%llu", (unsigned long long)at[k]);
            ck_assert_str_eq(json_object_get_string(f), want);
            json_object_put(v);
        }
    }
    ck_assert_int_eq(wf_ref_list_get(m, n, &v, &error), WF_EINVAL);
    free(error);
    error = NULL;
    wf_json_write(&sb, m);
    list = json_tokener_parse(sb.buf);
    whole = json_tokener_parse(text.buf);
    ck_assert(wf_json_equal(list, whole));
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 0);
    json_object_put(whole);
    json_object_put(list);
    json_object_put(m);
    /* A file that changed under the index: an error naming the task, not a wrong item. */
    ck_assert_int_eq(wf_json_array_scan(path, text.len, "stdout", &is_array, &idx, &error), WF_OK);
    m = wf_ref_new(c, path, "h", WF_OUTPUT_JSON, text.len, 3 * text.len, "task 'gen'", NULL);
    idx.win_off[1] += 1; /* window 1 now starts inside an item */
    wf_ref_set_json_array(m, &idx);
    ck_assert_int_eq(wf_ref_list_get(m, WF_REF_LINES_WINDOW, &v, &error), WF_EIO);
    ck_assert_ptr_null(v);
    ck_assert_ptr_nonnull(strstr(error, "task 'gen': the result kept in"));
    free(error);
    json_object_put(m);
    wf_strbuf_release(&sb);
    wf_strbuf_release(&text);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

/* An array whose count came from its record: `| length` reads nothing, the first item read
 * scans the file, and a count that is not the file's is an error there, not a wrong item. */
START_TEST(test_ref_json_array_len)
{
    const uint64_t n = WF_REF_LINES_WINDOW + 5;
    wf_strbuf text = WF_STRBUF_INIT;
    char dir[64], *path, *error = NULL;
    wf_ref_cache *c = wf_ref_cache_new(1 << 20);
    json_object *m, *v = NULL;
    uint64_t len = 0;
    wf_ref_stats st;

    wf_strbuf_adds(&text, "[");
    for (uint64_t i = 0; i < n; i++)
        wf_strbuf_addf(&text, "%s%llu", i ? "," : "", (unsigned long long)(i * 3));
    wf_strbuf_adds(&text, "]\n");
    path = ref_file(text.buf, dir);
    m = wf_ref_new(c, path, "h", WF_OUTPUT_JSON, text.len, 3 * text.len, "task 'gen'", NULL);
    wf_ref_set_json_array_len(m, n);
    ck_assert(wf_ref_list_len(m, &len));
    ck_assert_uint_eq(len, n);
    ck_assert_int_eq(wf_ref_list_get(m, WF_REF_LINES_WINDOW + 4, &v, &error), WF_OK);
    ck_assert_int_eq(json_object_get_int64(v), (int64_t)(WF_REF_LINES_WINDOW + 4) * 3);
    json_object_put(v);
    ck_assert_int_eq(wf_ref_list_get(m, 0, &v, &error), WF_OK);
    ck_assert_int_eq(json_object_get_int64(v), 0);
    json_object_put(v);
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 0);
    json_object_put(m);
    for (int k = 0; k < 2; k++) {
        /* One item more than the file has; then a count over a file that is not an array. */
        m = wf_ref_new(c, path, "h", WF_OUTPUT_JSON, text.len, text.len, "task 'gen'", NULL);
        wf_ref_set_json_array_len(m, n + 1);
        if (k == 1) {
            FILE *f = fopen(path, "w");

            ck_assert_ptr_nonnull(f);
            fprintf(f, "%*s", (int)text.len - 3, "{\"a\": 1}");
            fputs("  \n", f);
            fclose(f);
        }
        ck_assert_int_eq(wf_ref_list_get(m, 1, &v, &error), WF_EIO);
        ck_assert_ptr_null(v);
        ck_assert_ptr_nonnull(strstr(error, "task 'gen': the result kept in"));
        ck_assert_ptr_nonnull(strstr(error, k ? "no longer an array" : "not the 4102 recorded"));
        free(error);
        error = NULL;
        json_object_put(m);
    }
    wf_strbuf_release(&text);
    wf_ref_cache_unref(c);
    ref_cleanup(path, dir);
}
END_TEST

START_TEST(test_ref_list_ops)
{
    static const wf_ref_list_ops ops = { squares_get, squares_free };
    wf_ref_cache *c = wf_ref_cache_new(1 << 20);
    int *calls = wf_xcalloc(1, sizeof(*calls));
    json_object *m = wf_ref_new_list(c, &ops, calls, 5, 200, "task 'sq'"), *v = NULL;
    const json_object *whole = NULL;
    char *error = NULL;
    uint64_t len = 0;
    wf_ref_stats st;

    ck_assert(wf_ref_list_len(m, &len));
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(wf_ref_list_get(m, 3, &v, &error), WF_OK);
    ck_assert_int_eq(json_object_get_int(v), 9);
    ck_assert_int_eq(*calls, 1);
    json_object_put(v);
    ck_assert_int_eq(wf_ref_pin(m, &whole, &error), WF_OK);
    {
        wf_strbuf sb = WF_STRBUF_INIT;

        wf_json_write(&sb, whole);
        ck_assert_str_eq(sb.buf, "[0,1,4,9,16]");
        wf_strbuf_release(&sb);
    }
    wf_ref_unpin(m);
    wf_ref_cache_stats(c, &st);
    ck_assert_uint_eq(st.loads, 1);
    json_object_put(m);
    /* Over the budget: refused, naming the task and the item count. */
    calls = wf_xcalloc(1, sizeof(*calls));
    m = wf_ref_new_list(c, &ops, calls, 5, 2 << 20, "task 'sq'");
    ck_assert_int_eq(wf_ref_pin(m, &whole, &error), WF_ERANGE);
    ck_assert_ptr_nonnull(strstr(error, "task 'sq': its 5 item results are needed whole"));
    ck_assert_int_eq(*calls, 0);
    free(error);
    json_object_put(m);
    wf_ref_cache_unref(c);
}
END_TEST

START_TEST(test_ref_estimates)
{
    /* Every estimate covers at least the bytes; lines and json cost more than text. */
    uint64_t e = wf_ref_mem_estimate(size_modes[_i], 1000, 10);

    ck_assert_uint_ge(e, 1000);
    if (size_modes[_i] != WF_OUTPUT_TEXT)
        ck_assert_uint_gt(e, wf_ref_mem_estimate(WF_OUTPUT_TEXT, 1000, 10));
}
END_TEST

static Suite *context_suite(void)
{
    Suite *s = suite_create("context");
    TCase *tc;

    tc = tcase_create("result");
    tcase_add_loop_test(tc, test_status_names_and_ok, 0, (int)WF_ARRAY_LEN(status_cases));
    tcase_add_test(tc, test_result_new_defaults);
    suite_add_tcase(s, tc);

    tc = tcase_create("results_map");
    tcase_add_loop_test(tc, test_results_stripes_rounding, 0, (int)WF_ARRAY_LEN(stripe_cases));
    tcase_add_test(tc, test_results_publish_get);
    tcase_add_test(tc, test_results_eexist);
    /* One stripe (every key in one bucket array), a few, and the default. */
    tcase_add_loop_test(tc, test_results_grow_keeps_pointers, 0, 1);
    tcase_add_loop_test(tc, test_results_grow_keeps_pointers, 1, 2);
    tcase_add_loop_test(tc, test_results_grow_keeps_pointers, 4, 5);
    suite_add_tcase(s, tc);

    tc = tcase_create("refcounts");
    tcase_add_test(tc, test_results_refcounts);
    suite_add_tcase(s, tc);

    tc = tcase_create("ctx");
    tcase_add_test(tc, test_ctx_defaults);
    tcase_add_test(tc, test_ctx_accessors_and_item);
    suite_add_tcase(s, tc);

    tc = tcase_create("with_vars");
    tcase_add_test(tc, test_ctx_with_vars);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_write");
    tcase_add_loop_test(tc, test_json_write, 0, (int)WF_ARRAY_LEN(write_cases));
    tcase_add_loop_test(tc, test_json_write_double, 0, (int)WF_ARRAY_LEN(double_cases));
    tcase_add_test(tc, test_json_write_nonfinite);
    tcase_add_test(tc, test_json_write_double_roundtrip);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_copy");
    tcase_add_test(tc, test_json_copy_independent);
    suite_add_tcase(s, tc);

    tc = tcase_create("outputs");
    tcase_add_test(tc, output_modes);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_equal");
    tcase_add_loop_test(tc, test_json_equal, 0, (int)WF_ARRAY_LEN(equal_cases));
    tcase_add_loop_test(tc, test_json_type_name, 0, (int)WF_ARRAY_LEN(type_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("refs");
    tcase_add_test(tc, test_ref_load_pin_write);
    tcase_add_test(tc, test_ref_eviction_and_pins);
    tcase_add_test(tc, test_ref_budget_and_missing);
    tcase_add_loop_test(tc, test_ref_estimates, 0, 3);
    tcase_add_test(tc, test_ref_lines_windows);
    tcase_add_test(tc, test_ref_list_ops);
    tcase_add_loop_test(tc, test_json_array_scan, 0, (int)WF_ARRAY_LEN(scan_cases));
    tcase_add_test(tc, test_ref_json_array_windows);
    tcase_add_test(tc, test_ref_json_array_len);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_add_test(tc, test_threads_publish_lookup_derive);
    tcase_add_test(tc, test_threads_write_shared_object);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(context_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
