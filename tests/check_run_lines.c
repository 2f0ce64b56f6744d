#define _DEFAULT_SOURCE /* sbrk */
/* Tests for cli/run_lines.c, fed events by hand: what a fan-out folds into (counts, skipped and
 * not-started lines by reason), the tails of a failed unit's output, the recap and the
 * follow-up commands. The e2e tests (test_progress_plain.sh, test_progress_tty.sh) run the
 * same lines through the real engine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "cli.h"

/* Lines of text that contain needle. */
static size_t count_lines(const char *text, const char *needle)
{
    size_t n = 0;

    for (const char *p = text; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = wf_xstrndup(p, len);

        n += strstr(line, needle) != NULL;
        free(line);
        p += len + (nl != NULL);
    }
    return n;
}

/* Feeds ev to l and appends its lines to all. */
static void feed(wf_cli_lines *l, const wf_event *ev, wf_strbuf *all)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_cli_lines_event(l, ev, &sb);
    wf_strbuf_adds(all, wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
}

static wf_event unit_end(const char *task, int64_t index, wf_status st, const char *msg)
{
    wf_event ev = { .kind = WF_EVENT_UNIT_END,
                    .task = task,
                    .index = index,
                    .status = st,
                    .message = msg,
                    .started = true,
                    .attempt = 1,
                    .max_attempts = 1 };
    return ev;
}

/* A with-items task of n items, each ending as status(i) with message reason(i). */
static void fan_out(wf_cli_lines *l, const char *task, size_t n, wf_status (*status)(size_t),
                    const char *(*reason)(size_t), wf_strbuf *all)
{
    wf_event start = { .kind = WF_EVENT_TASK_START, .task = task, .index = -1, .n_items = n };
    wf_event end = { .kind = WF_EVENT_TASK_END,
                     .task = task,
                     .index = -1,
                     .n_items = n,
                     .status = WF_STATUS_SUCCEEDED };

    feed(l, &start, all);
    for (size_t i = 0; i < n; i++) {
        wf_event ev = unit_end(task, (int64_t)i, status(i), reason ? reason(i) : NULL);

        ev.started = ev.message == NULL || strncmp(ev.message, "not started", 11) != 0;
        ev.units_done = i + 1;
        ev.units_total = n;
        feed(l, &ev, all);
        if (status(i) == WF_STATUS_CANCELLED)
            end.status = WF_STATUS_CANCELLED;
    }
    feed(l, &end, all);
}

static wf_status all_ok(size_t i)
{
    (void)i;
    return WF_STATUS_SUCCEEDED;
}

/* ---- folding ------------------------------------------------------------------------------ */

static const struct {
    size_t n_items;
    bool verbose;
    size_t want_counts, want_item_lines;
} fold_cases[] = {
    { 100, false, 9, 0 },  /* a count at every tenth, not at the end (the end line is) */
    { 1000, false, 9, 0 }, /* as many for ten times the items */
    { 3, false, 2, 0 },    /* a small fan-out: a count per item, but the last */
    { 100, true, 0, 100 }, /* -v: a line per item */
    { 1, false, 0, 0 },    /* one item: "(1 item)", not "(1 items)" */
};

/* heap.c: a reserve for a big load grows the heap once by at least what it was told; a small
 * one does nothing. (Under a sanitizer, whose allocator is not glibc's, there is no heap to
 * see.) */
START_TEST(test_heap_reserve)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    wf_cli_heap_reserve((size_t)32 << 20);
    wf_cli_heap_release();
#else
    uintptr_t before;
    void *p;

    wf_cli_heap_reserve((size_t)1 << 20);
    wf_cli_heap_release();
    p = malloc(100); /* the heap exists */
    before = (uintptr_t)sbrk(0);
    wf_cli_heap_reserve((size_t)1 << 20);
    ck_assert_uint_eq((uintptr_t)sbrk(0), before);
    wf_cli_heap_reserve((size_t)32 << 20);
    ck_assert_uint_ge((uintptr_t)sbrk(0) - before, (uintptr_t)32 << 20);
    wf_cli_heap_release();
    free(p);
#endif
}
END_TEST

START_TEST(test_fold_successes)
{
    wf_cli_lines *l = wf_cli_lines_new(false, fold_cases[_i].verbose, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    char want_end[64];

    fan_out(l, "fan", fold_cases[_i].n_items, all_ok, NULL, &all);
    ck_assert_uint_eq(count_lines(all.buf, "ok       fan: "), fold_cases[_i].want_counts);
    ck_assert_uint_eq(count_lines(all.buf, "ok       fan["), fold_cases[_i].want_item_lines);
    snprintf(want_end, sizeof(want_end), "ok       fan (%zu item%s) in ", fold_cases[_i].n_items,
             fold_cases[_i].n_items == 1 ? "" : "s");
    ck_assert_ptr_nonnull(strstr(all.buf, want_end));
    if (fold_cases[_i].n_items == 100 && !fold_cases[_i].verbose) {
        ck_assert_ptr_nonnull(strstr(all.buf, "ok       fan: 10/100 items done [10/100 units]\n"));
        ck_assert_ptr_nonnull(strstr(all.buf, "ok       fan: 90/100 items done [90/100 units]\n"));
    }
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

static wf_status skip_most(size_t i)
{
    return i % 4 == 0 ? WF_STATUS_SUCCEEDED : WF_STATUS_SKIPPED;
}

static const char *skip_reason(size_t i)
{
    return i % 4 == 0 ? NULL : i % 4 == 1 ? "when was false" : "dependency 'x[1]' failed";
}

START_TEST(test_fold_skipped_by_reason)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    const char *a, *b, *end;

    fan_out(l, "legs", 40, skip_most, skip_reason, &all);
    a = strstr(all.buf, "skipped  legs: 10 items skipped: when was false\n");
    b = strstr(all.buf, "skipped  legs: 20 items skipped: dependency 'x[1]' failed\n");
    end = strstr(all.buf, "ok       legs (40 items: 10 ok, 30 skipped) in ");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    ck_assert_ptr_nonnull(end);
    ck_assert(a < b && b < end); /* in the order the reasons came, before the end line */
    ck_assert_uint_eq(count_lines(all.buf, "skipped "), 2);
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

static const char *unique_reason(size_t i)
{
    static char buf[64];

    if (i % 4 == 0)
        return NULL;
    snprintf(buf, sizeof(buf), "dependency 'x[%zu]' failed", i);
    return buf;
}

START_TEST(test_fold_reasons_capped)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;

    /* 30 skipped items with a reason each: 7 lines that name one, then one for the rest. */
    fan_out(l, "legs", 40, skip_most, unique_reason, &all);
    ck_assert_uint_eq(count_lines(all.buf, "skipped  legs: 1 item skipped: dependency 'x["), 7);
    ck_assert_ptr_nonnull(strstr(
        all.buf,
        "skipped  legs: 23 items skipped: other reasons (wfengine show lists each item's)\n"));
    ck_assert_uint_eq(count_lines(all.buf, "skipped "), 8);
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

START_TEST(test_fold_cached)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    wf_event start = { .kind = WF_EVENT_TASK_START, .task = "c", .index = -1, .n_items = 100 };
    wf_event end = { .kind = WF_EVENT_TASK_END,
                     .task = "c",
                     .index = -1,
                     .n_items = 100,
                     .status = WF_STATUS_SUCCEEDED };

    feed(l, &start, &all);
    for (int64_t i = 0; i < 100; i++) {
        wf_event ev = unit_end("c", i, WF_STATUS_SUCCEEDED, NULL);

        ev.cached = i < 60;
        feed(l, &ev, &all);
    }
    feed(l, &end, &all);
    ck_assert_uint_eq(count_lines(all.buf, "cached "), 0);
    ck_assert_uint_eq(count_lines(all.buf, "ok       c: "), 9);
    ck_assert_ptr_nonnull(strstr(all.buf, "ok       c (100 items: 60 from the cache) in "));
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

static wf_status stopped(size_t i)
{
    return i < 3 ? WF_STATUS_SUCCEEDED : WF_STATUS_CANCELLED;
}

static const char *stop_reason(size_t i)
{
    return i < 3    ? NULL
           : i == 3 ? "cancelled while running: the run was stopped"
                    : "not started: the run was stopped";
}

START_TEST(test_fold_not_started)
{
    bool quiet = _i == 1; /* -q keeps the lines of what did not run, not the task's end */
    wf_cli_lines *l = wf_cli_lines_new(quiet, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;

    /* w[3] was stopped while running: a line of its own; 126 never started: one line. */
    fan_out(l, "w", 130, stopped, stop_reason, &all);
    ck_assert_ptr_nonnull(
        strstr(all.buf, "cancelled w[3]: cancelled while running: the run was stopped\n"));
    ck_assert_ptr_nonnull(
        strstr(all.buf, "cancelled w: 126 items not started: the run was stopped\n"));
    ck_assert_uint_eq(count_lines(all.buf, "cancelled "), (quiet ? 2 : 3));
    ck_assert_uint_eq(count_lines(all.buf, "cancelled w (130 items: 3 ok, 127 cancelled)"),
                      (quiet ? 0 : 1));
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

START_TEST(test_fold_never_queued)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    wf_event start = { .kind = WF_EVENT_TASK_START, .task = "w", .index = -1, .n_items = 10 };
    wf_event end = { .kind = WF_EVENT_TASK_END,
                     .task = "w",
                     .index = -1,
                     .n_items = 10,
                     .status = WF_STATUS_CANCELLED };

    /* 2 ran, 3 were queued when the run stopped, 5 were never queued (no event at all). */
    feed(l, &start, &all);
    for (int64_t i = 0; i < 5; i++) {
        wf_event ev = unit_end("w", i, i < 2 ? WF_STATUS_SUCCEEDED : WF_STATUS_CANCELLED,
                               i < 2 ? NULL : "not started: the run was stopped");

        ev.started = i < 2;
        feed(l, &ev, &all);
    }
    feed(l, &end, &all);
    ck_assert_ptr_nonnull(
        strstr(all.buf, "cancelled w: 8 items not started: the run was stopped\n"));
    ck_assert_ptr_nonnull(strstr(all.buf, "cancelled w (10 items: 2 ok, 8 cancelled)\n"));
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

/* ---- a failed unit's output ---------------------------------------------------------------- */

START_TEST(test_tails)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf out = WF_STRBUF_INIT, err = WF_STRBUF_INIT, all = WF_STRBUF_INIT;
    wf_event ev = unit_end("t", -1, WF_STATUS_FAILED, "exit code 1");
    const char *bar;

    for (int i = 1; i <= 30; i++)
        wf_strbuf_addf(&out, "out %d\n", i);
    for (int i = 0; i < 5000; i++)
        wf_strbuf_adds(&err, "\xc3\xa9"); /* one 10,000-byte line of two-byte characters */
    ev.stdout_text = out.buf;
    ev.stderr_text = err.buf;
    feed(l, &ev, &all);
    ck_assert_ptr_nonnull(strstr(all.buf,
                                 "FAILED   t: exit code 1\n      --- stdout ---\n      ...\n"
                                 "      | out 21\n"));
    ck_assert_ptr_null(strstr(all.buf, "| out 20\n"));
    ck_assert_ptr_nonnull(strstr(all.buf, "| out 30\n      --- stderr ---\n      ...\n"));
    bar = strstr(all.buf, "--- stderr ---\n      ...\n      | ");
    ck_assert_ptr_nonnull(bar);
    bar += strlen("--- stderr ---\n      ...\n      | ");
    ck_assert_uint_eq(strlen(bar), 4096 + 1);      /* 4 KiB of the tail and the newline */
    ck_assert_int_eq((unsigned char)bar[0], 0xc3); /* cut between characters */
    wf_strbuf_release(&all);
    wf_strbuf_release(&err);
    wf_strbuf_release(&out);
    wf_cli_lines_free(l);
}
END_TEST

/* ---- the recap and the pointers -------------------------------------------------------------- */

static const struct {
    const char *stdout_text, *stderr_text, *want;
} telling_cases[] = {
    { "ok 1\nnot ok 2\n", "warming up\nError: no such file\nbye\n",
      "  t: exit code 1: Error: no such file\n" },
    { "1 test FAILED\n", "", "  t: exit code 1: 1 test FAILED\n" },
    { "all good\n", "first\nthe last line\n\n", "  t: exit code 1: the last line\n" },
    { "nothing to see\n", NULL, "  t: exit code 1\n" },
};

START_TEST(test_recap_telling_line)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    wf_event ev = unit_end("t", -1, WF_STATUS_FAILED, "exit code 1");
    wf_event end = { .kind = WF_EVENT_RUN_END,
                     .index = -1,
                     .status = WF_STATUS_FAILED,
                     .units_done = 1,
                     .units_total = 1 };

    ev.stdout_text = telling_cases[_i].stdout_text;
    ev.stderr_text = telling_cases[_i].stderr_text;
    feed(l, &ev, &all);
    feed(l, &end, &all);
    ck_assert_ptr_nonnull(strstr(all.buf, "(1 unit)\n1 failed:\n"));
    ck_assert_ptr_nonnull(strstr(all.buf, telling_cases[_i].want));
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

START_TEST(test_recap_capped_and_ignored)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT;
    wf_event end = { .kind = WF_EVENT_RUN_END, .index = -1, .status = WF_STATUS_FAILED };
    wf_event lint = unit_end("lint", -1, WF_STATUS_FAILED, "exit code 2");
    const char *failed, *ignored;

    for (int64_t i = 0; i < 25; i++) {
        wf_event ev = unit_end("many", i, WF_STATUS_FAILED, "exit code 1");

        feed(l, &ev, &all);
    }
    lint.ignored = true;
    feed(l, &lint, &all);
    ck_assert_ptr_nonnull(strstr(all.buf, "FAILED (ignored) lint: exit code 2\n"));
    feed(l, &end, &all);
    failed = strstr(all.buf, "25 failed:\n  many[0]: exit code 1\n");
    ignored = strstr(all.buf, "  ... and 5 more\n1 failed, ignored (continue-on-error):\n"
                              "  lint: exit code 2\n");
    ck_assert_ptr_nonnull(failed);
    ck_assert_ptr_nonnull(ignored);
    ck_assert_uint_eq(count_lines(failed, "  many["), 20);
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

START_TEST(test_pointers)
{
    wf_cli_lines *l = wf_cli_lines_new(false, false, wf_now_ms());
    wf_strbuf all = WF_STRBUF_INIT, out = WF_STRBUF_INIT;
    wf_event ev = unit_end("build", 3, WF_STATUS_FAILED, "exit code 1");
    wf_cli_run_place place = {
        .run_id = "R1", .store_dir = "my store", .store_arg = "my store", .file = "it's.yaml"
    };

    ev.stdout_text = "compiling\n";
    feed(l, &ev, &all);
    wf_cli_lines_pointers(l, &out, &place);
    ck_assert_str_eq(
        out.buf, "wfengine: recorded as run R1 in my store (wfengine show R1 --store 'my store')\n"
                 "wfengine: the whole output of build[3]: wfengine logs R1 'build[3]' --store "
                 "'my store' (--stderr: its stderr)\n"
                 "wfengine: the run as a web page: wfengine report R1 -o report.html --store "
                 "'my store'\n"
                 "wfengine: run what did not succeed again: wfengine run 'it'\\''s.yaml' "
                 "--resume last --store 'my store'\n");
    wf_strbuf_reset(&out);
    place.succeeded = true;
    place.store_arg = NULL;
    wf_cli_lines_pointers(l, &out, &place);
    ck_assert_str_eq(out.buf, "wfengine: recorded as run R1 in my store (wfengine show R1)\n");
    wf_strbuf_release(&out);
    wf_strbuf_release(&all);
    wf_cli_lines_free(l);
}
END_TEST

static Suite *run_lines_suite(void)
{
    Suite *s = suite_create("run_lines");
    TCase *tc;

    tc = tcase_create("fold");
    tcase_add_loop_test(tc, test_fold_successes, 0, (int)WF_ARRAY_LEN(fold_cases));
    tcase_add_test(tc, test_heap_reserve);
    tcase_add_test(tc, test_fold_skipped_by_reason);
    tcase_add_test(tc, test_fold_reasons_capped);
    tcase_add_test(tc, test_fold_cached);
    tcase_add_test(tc, test_fold_never_queued);
    tcase_add_loop_test(tc, test_fold_not_started, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_tails);
    suite_add_tcase(s, tc);

    tc = tcase_create("recap");
    tcase_add_loop_test(tc, test_recap_telling_line, 0, (int)WF_ARRAY_LEN(telling_cases));
    tcase_add_test(tc, test_recap_capped_and_ignored);
    tcase_add_test(tc, test_pointers);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(run_lines_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
