/* Tests for common/: error codes, user-facing errors, strbuf, durations, SHA256, helpers. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h> /* mallopt(M_PERTURB): poisons the heap for the empty-buffer test */
#endif

#include <check.h>

#include "wf_arena.h"
#include "wf_common.h"

/* ---- error codes -------------------------------------------------------------------- */

static const struct {
    int code;
    const char *name, *text;
} errno_cases[] = {
#define WF_ERRNO_CASE(name, value, text) { value, #name, text },
    WF_ERRNO_MAP(WF_ERRNO_CASE)
#undef WF_ERRNO_CASE
};

START_TEST(test_strerror_table)
{
    ck_assert_str_eq(wf_strerror(errno_cases[_i].code), errno_cases[_i].text);
    ck_assert_str_eq(wf_errname(errno_cases[_i].code), errno_cases[_i].name);
}
END_TEST

START_TEST(test_strerror_known_and_unknown)
{
    ck_assert_int_eq(WF_OK, 0);
    ck_assert_str_eq(wf_strerror(WF_OK), "success");
    ck_assert_str_eq(wf_errname(WF_EEXIST), "EEXIST");
    ck_assert_str_eq(wf_strerror(WF_EEXIST), "already exists");
    ck_assert_str_eq(wf_strerror(12345), "unknown error");
    ck_assert_str_eq(wf_errname(-999), "EUNKNOWNCODE");
}
END_TEST

/* ---- user-facing errors ------------------------------------------------------------- */

static char *print_to_string(const wf_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    ck_assert_ptr_nonnull(f);
    wf_error_print(f, err);
    fclose(f);
    return text;
}

static const struct {
    const char *source;
    int line, column;
    const char *message, *source_line, *want;
} print_cases[] = {
    /* The caret sits under column 4; the tab before it is kept so that it lines up. */
    { "wf.yaml", 3, 4, "unknown key 'with_items'", "\t  with_items: x",
      "wf.yaml:3:4: unknown key 'with_items'\n"
      "    \t  with_items: x\n"
      "    \t  ^\n" },
    { "wf.yaml", 1, 1, "bad", "abc", "wf.yaml:1:1: bad\n    abc\n    ^\n" },
    /* A column just past the end (an error at end of line). */
    { "a.yml", 2, 5, "expected a value",
      "key:", "a.yml:2:5: expected a value\n    key:\n        ^\n" },
    { "a.yml", 2, 3, "tabs", "\t\tx", "a.yml:2:3: tabs\n    \t\tx\n    \t\t^\n" },
    /* Without a column or a source line there is no caret. */
    { "a.yml", 4, 0, "no column", "text", "a.yml:4: no column\n" },
    { "a.yml", 4, 2, "no line", NULL, "a.yml:4:2: no line\n" },
    { "a.yml", 0, 0, "whole file", NULL, "a.yml: whole file\n" },
    { NULL, 0, 0, "no source", NULL, "no source\n" },
    /* '%' in the line or message is text, not a format. */
    { "p.yml", 1, 6, "100% wrong", "run: %s %d",
      "p.yml:1:6: 100% wrong\n    run: %s %d\n         ^\n" },
};

START_TEST(test_error_print)
{
    wf_error err;
    char *got;

    wf_error_init(&err);
    wf_error_set(&err, WF_ESYNTAX, print_cases[_i].source, print_cases[_i].line,
                 print_cases[_i].column, "%s", print_cases[_i].message);
    if (print_cases[_i].source_line != NULL)
        err.source_line = wf_xstrdup(print_cases[_i].source_line);
    got = print_to_string(&err);
    ck_assert_str_eq(got, print_cases[_i].want);
    free(got);
    wf_error_release(&err);
}
END_TEST

START_TEST(test_error_format_and_move)
{
    wf_error a, b;
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_error_init(&a);
    wf_error_init(&b);
    ck_assert_int_eq(a.code, WF_OK);
    wf_error_set(&a, WF_ETYPE, "x.yml", 7, 3, "want %s, got %d", "list", 5);
    wf_error_set(&a, WF_EINVAL, "y.yml", 8, 4, "second %s", "wins");
    wf_error_set(NULL, WF_EINVAL, NULL, 0, 0, "ignored");
    wf_error_format(&sb, &a);
    ck_assert_str_eq(wf_strbuf_str(&sb), "y.yml:8:4: second wins");
    ck_assert_int_eq(a.code, WF_EINVAL);

    wf_error_set(&b, WF_EIO, NULL, 0, 0, "old");
    wf_error_move(&b, &a);
    ck_assert_int_eq(b.code, WF_EINVAL);
    ck_assert_str_eq(b.message, "second wins");
    ck_assert_int_eq(a.code, WF_OK);
    ck_assert_ptr_null(a.message);
    ck_assert_ptr_null(a.source);

    /* A message-less error prints its code's text. */
    wf_error_release(&b);
    b.code = WF_ECYCLE;
    wf_strbuf_reset(&sb);
    wf_error_format(&sb, &b);
    ck_assert_str_eq(wf_strbuf_str(&sb), "dependency cycle");
    wf_error_release(&a);
    wf_error_release(&b);
    wf_error_release(NULL);
    wf_strbuf_release(&sb);
}
END_TEST

static const struct {
    int line;
    const char *text, *want;
} source_line_cases[] = {
    { 1, "first\nsecond\n", "first" },
    { 2, "first\nsecond\n", "second" },
    { 2, "first\r\nsecond\r\nthird", "second" },
    { 3, "first\nsecond\nthird", "third" },
    { 3, "first\nsecond\n", "" },
    { 4, "first\nsecond\n", NULL },
    { 0, "first", NULL },
};

START_TEST(test_error_source_line)
{
    wf_error err;
    const char *text = source_line_cases[_i].text;

    wf_error_init(&err);
    wf_error_set(&err, WF_ESYNTAX, "f", source_line_cases[_i].line, 1, "m");
    wf_error_set_source_line(&err, text, strlen(text));
    if (source_line_cases[_i].want == NULL)
        ck_assert_ptr_null(err.source_line);
    else
        ck_assert_str_eq(err.source_line, source_line_cases[_i].want);
    wf_error_set_source_line(&err, NULL, 0);
    wf_error_release(&err);
}
END_TEST

START_TEST(test_errlist_sort)
{
    static const int pos[][2] = { { 3, 1 }, { 1, 5 }, { 3, 1 }, { 1, 2 }, { 2, 9 }, { 0, 0 } };
    static const char *const want[] = { "e5", "e3", "e1", "e4", "e0", "e2" };
    wf_errlist l;

    wf_errlist_init(&l);
    for (size_t i = 0; i < WF_ARRAY_LEN(pos); i++) {
        wf_error *e = wf_errlist_add(&l);

        ck_assert_int_eq(e->code, WF_OK);
        wf_error_set(e, WF_EINVAL, "f", pos[i][0], pos[i][1], "e%zu", i);
    }
    /* Enough adds to force the list to grow past its first allocation. */
    for (int i = 0; i < 20; i++)
        wf_error_set(wf_errlist_add(&l), WF_EINVAL, "f", 100 + i, 1, "late%d", i);
    wf_errlist_sort(&l);
    ck_assert_uint_eq(l.len, WF_ARRAY_LEN(pos) + 20);
    /* By line then column, equal positions in the order they were added. */
    for (size_t i = 0; i < WF_ARRAY_LEN(want); i++)
        ck_assert_str_eq(l.items[i].message, want[i]);
    ck_assert_str_eq(l.items[WF_ARRAY_LEN(pos)].message, "late0");
    wf_errlist_release(&l);
    ck_assert_uint_eq(l.len, 0);
}
END_TEST

/* ---- strbuf ------------------------------------------------------------------------- */

START_TEST(test_strbuf)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *s;
    size_t len = 99;

    ck_assert_str_eq(wf_strbuf_str(&sb), "");
    ck_assert_ptr_null(sb.buf);
    wf_strbuf_add(&sb, "ab\0c", 4);
    ck_assert_uint_eq(sb.len, 4);
    ck_assert_int_eq(memcmp(sb.buf, "ab\0c", 5), 0);
    wf_strbuf_reset(&sb);
    ck_assert_uint_eq(sb.len, 0);
    ck_assert_str_eq(wf_strbuf_str(&sb), "");
    wf_strbuf_adds(&sb, "x=");
    wf_strbuf_addc(&sb, '[');
    wf_strbuf_addf(&sb, "%d:%s", 42, "y");
    wf_strbuf_addc(&sb, ']');
    wf_strbuf_addf(&sb, "%s", "");
    ck_assert_str_eq(wf_strbuf_str(&sb), "x=[42:y]");
    ck_assert_uint_eq(sb.len, 8);

    /* Growth across many doublings, with printf output longer than the buffer. */
    for (int i = 0; i < 1000; i++)
        wf_strbuf_addf(&sb, "%08d", i);
    ck_assert_uint_eq(sb.len, 8 + 8000);
    ck_assert_uint_eq(strlen(sb.buf), sb.len);
    ck_assert_int_eq(memcmp(sb.buf + sb.len - 8, "00000999", 8), 0);
    wf_strbuf_grow(&sb, 100000);
    ck_assert_uint_ge(sb.cap, sb.len + 100001);

    s = wf_strbuf_detach(&sb, &len);
    ck_assert_uint_eq(len, 8008);
    ck_assert_ptr_null(sb.buf);
    ck_assert_uint_eq(sb.len, 0);
    free(s);
    /* Detaching an empty buffer still gives an owned "". */
    s = wf_strbuf_detach(&sb, NULL);
    ck_assert_str_eq(s, "");
    free(s);
    wf_strbuf_init(&sb);
    wf_strbuf_release(&sb);
}
END_TEST

/* Every state of a buffer with nothing in it detaches as an owned, terminated "". The heap
 * is poisoned (glibc's M_PERTURB; ASan fills new blocks by itself), so an unterminated buffer
 * shows as garbage instead of passing by luck: a grown but never written buffer was handed
 * back unterminated, and the Slurm executor returned heap bytes as an empty stdout. */
static void empty_never_grown(wf_strbuf *sb)
{
    (void)sb;
}

static void empty_grown_by_0(wf_strbuf *sb)
{
    wf_strbuf_grow(sb, 0);
}

static void empty_grown_by_4096(wf_strbuf *sb)
{
    wf_strbuf_grow(sb, 4096);
}

static void empty_added_0_bytes(wf_strbuf *sb)
{
    wf_strbuf_add(sb, "x", 0);
}

static void empty_printed_nothing(wf_strbuf *sb)
{
    wf_strbuf_addf(sb, "%s", "");
}

static void empty_after_reset(wf_strbuf *sb)
{
    wf_strbuf_adds(sb, "some text");
    wf_strbuf_reset(sb);
}

static void empty_after_reset_and_grow(wf_strbuf *sb)
{
    wf_strbuf_adds(sb, "some text");
    wf_strbuf_reset(sb);
    wf_strbuf_grow(sb, 1000);
}

static const struct {
    const char *name;
    void (*setup)(wf_strbuf *sb);
} empty_cases[] = {
    { "never grown", empty_never_grown },
    { "grown by 0", empty_grown_by_0 },
    { "grown by 4096", empty_grown_by_4096 },
    { "0 bytes added", empty_added_0_bytes },
    { "printed nothing", empty_printed_nothing },
    { "reset", empty_after_reset },
    { "reset, then grown", empty_after_reset_and_grow },
};

START_TEST(test_strbuf_empty_detach)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    size_t len = 99;
    char *s;

#ifdef M_PERTURB
    mallopt(M_PERTURB, 0x5a);
#endif
    empty_cases[_i].setup(&sb);
    ck_assert_msg(strcmp(wf_strbuf_str(&sb), "") == 0, "%s: wf_strbuf_str is not \"\"",
                  empty_cases[_i].name);
    s = wf_strbuf_detach(&sb, &len);
    ck_assert_msg(s != NULL, "%s: NULL", empty_cases[_i].name);
    ck_assert_msg(s[0] == '\0', "%s: detached a buffer starting with byte 0x%02x, not \"\"",
                  empty_cases[_i].name, (unsigned char)s[0]);
    ck_assert_uint_eq(len, 0);
    ck_assert_ptr_null(sb.buf);
    ck_assert_uint_eq(sb.len, 0);
    ck_assert_uint_eq(sb.cap, 0);
    free(s); /* owned: ASan/valgrind would report a borrowed or static "" */
    /* sb is reusable after a detach. */
    wf_strbuf_adds(&sb, "again");
    ck_assert_str_eq(wf_strbuf_str(&sb), "again");
    wf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_alloc_helpers)
{
    char *s = wf_xasprintf("%s-%03d", "run", 7);
    char *t = wf_xstrndup("abcdef", 3);
    char *u = wf_xstrndup("ab", 10);
    void *z = wf_xmalloc(0);

    ck_assert_str_eq(s, "run-007");
    ck_assert_str_eq(t, "abc");
    ck_assert_str_eq(u, "ab");
    ck_assert_ptr_nonnull(z);
    free(s);
    free(t);
    free(u);
    free(z);
}
END_TEST

/* ---- durations ---------------------------------------------------------------------- */

static const struct {
    const char *in;
    int64_t ms;
} duration_ok[] = {
    { "500ms", 500 },   { "30s", 30000 },    { "5m", 300000 }, { "1h", 3600000 }, { "1.5s", 1500 },
    { "10", 10000 },    { "0.25", 250 },     { " 3s ", 3000 }, { "0", 0 },        { "0ms", 0 },
    { "2.5m", 150000 }, { "1.5h", 5400000 }, { "\t7ms\n", 7 }, { "5.", 5000 },    { "0.0005", 1 },
};

/* The arena: zeroed and aligned allocations, copies, a request bigger than a chunk beside
 * small ones (the small ones keep using the current chunk), release and reuse. */
START_TEST(test_arena)
{
    wf_arena a = WF_ARENA_INIT;
    char *big, *s, *first;
    const char *ptrs[3] = { "a", "b", "c" };
    const char **copy;
    size_t before;

    for (int round = 0; round < 2; round++) {
        first = wf_arena_strndup(&a, "x", 1);
        for (size_t n = 1; n < 200; n++) {
            unsigned char *p = wf_arena_alloc(&a, n);

            ck_assert_uint_eq((uintptr_t)p % 8, 0);
            for (size_t k = 0; k < n; k++)
                ck_assert_uint_eq(p[k], 0);
            memset(p, 0xAB, n);
        }
        before = a.bytes;
        big = wf_arena_alloc(&a, 1 << 20); /* its own chunk */
        ck_assert_uint_ge(a.bytes - before, (size_t)1 << 20);
        big[(1 << 20) - 1] = 1;
        before = a.bytes;
        s = wf_arena_strndup(&a, "hello\0world", 11); /* NULs kept, then one more */
        ck_assert_uint_eq(a.bytes, before);           /* still in the small chunk */
        ck_assert_mem_eq(s, "hello\0world", 12);
        copy = wf_arena_ptrdup(&a, ptrs, 3);
        ck_assert_ptr_eq(copy[2], ptrs[2]);
        ck_assert_ptr_null(wf_arena_ptrdup(&a, ptrs, 0));
        ck_assert_str_eq(first, "x");
        wf_arena_release(&a);
        ck_assert_uint_eq(a.bytes, 0);
        ck_assert_ptr_null(a.chunks);
    }
}
END_TEST

START_TEST(test_duration_parse_ok)
{
    int64_t ms = -1;
    char *msg = NULL;

    ck_assert_int_eq(wf_duration_parse(duration_ok[_i].in, &ms, &msg), WF_OK);
    ck_assert_int_eq(ms, duration_ok[_i].ms);
    ck_assert_ptr_null(msg);
}
END_TEST

static const char *const duration_bad[] = {
    "",
    " ",
    "-1s",
    "5 m",
    "1d",
    "abc",
    "1e3",
    "inf",
    "nan",
    ".",
    ".s",
    "1.2.3s",
    "s",
    "1ms5",
    "5mm",
    "1 h",
    "+1s",
    "0x10",
    "99999999999999999h",
};

START_TEST(test_duration_parse_bad)
{
    const char *in = duration_bad[_i];
    int64_t ms = 77;
    char *msg = NULL;
    char *want = wf_xasprintf("invalid duration '%s': use a number of seconds or a number with "
                              "a unit: 500ms, 30s, 5m, 1h",
                              in);

    ck_assert_int_eq(wf_duration_parse(in, &ms, &msg), WF_EINVAL);
    ck_assert_ptr_nonnull(msg);
    ck_assert_str_eq(msg, want);
    /* Without a msg pointer nothing is allocated. */
    ck_assert_int_eq(wf_duration_parse(in, &ms, NULL), WF_EINVAL);
    free(msg);
    free(want);
}
END_TEST

START_TEST(test_duration_error_text)
{
    int64_t ms;
    char *msg = NULL;

    ck_assert_int_eq(wf_duration_parse("1d", &ms, &msg), WF_EINVAL);
    ck_assert_str_eq(msg, "invalid duration '1d': use a number of seconds or a number with a "
                          "unit: 500ms, 30s, 5m, 1h");
    free(msg);
}
END_TEST

static const struct {
    int64_t ms;
    const char *want;
} format_cases[] = {
    { 0, "0ms" },      { 250, "250ms" },   { 999, "999ms" },    { 1000, "1s" },
    { 1500, "1.5s" },  { 1250, "1.25s" },  { 1001, "1.001s" },  { 59999, "59.999s" },
    { 60000, "1m0s" }, { 125000, "2m5s" }, { 3600000, "1h0m" }, { 5400000, "1h30m" },
};

START_TEST(test_duration_format)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_duration_format(&sb, format_cases[_i].ms);
    ck_assert_str_eq(wf_strbuf_str(&sb), format_cases[_i].want);
    wf_strbuf_release(&sb);
}
END_TEST

/* ---- SHA256 ------------------------------------------------------------------------- */

static const struct {
    const char *in, *hex;
} sha_cases[] = {
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
};

START_TEST(test_sha256_vectors)
{
    const char *in = sha_cases[_i].in;
    char out[WF_SHA256_HEX_LEN + 1];
    wf_sha256 *h;

    wf_sha256_hex(in, strlen(in), out);
    ck_assert_str_eq(out, sha_cases[_i].hex);
    /* Byte by byte through the incremental interface gives the same digest. */
    h = wf_sha256_new();
    for (size_t i = 0; in[i] != '\0'; i++)
        wf_sha256_update(h, in + i, 1);
    memset(out, 'x', sizeof(out));
    wf_sha256_final_hex(h, out);
    ck_assert_str_eq(out, sha_cases[_i].hex);
}
END_TEST

START_TEST(test_sha256_file)
{
    char path[] = "/tmp/check_common_XXXXXX";
    char out[WF_SHA256_HEX_LEN + 1];
    int fd = mkstemp(path);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "abc", 3), 3);
    close(fd);
    ck_assert_int_eq(wf_sha256_file_hex(path, out), WF_OK);
    ck_assert_str_eq(out, sha_cases[1].hex);
    unlink(path);
    ck_assert_int_eq(wf_sha256_file_hex(path, out), WF_EIO);
}
END_TEST

/* ---- helpers ------------------------------------------------------------------------ */

static const char *const task_keys[] = { "with-items", "when",  "needs",  "run", "vars",
                                         "timeout",    "retry", "output", NULL };

static const struct {
    const char *word, *want;
} closest_cases[] = {
    { "with_items", "with-items" },
    { "withitems", "with-items" },
    { "when", "when" },
    { "neds", "needs" },
    { "timout", "timeout" },
    { "ouptut", "output" },
    { "xyz", NULL },
    { "completely-different", NULL },
};

START_TEST(test_closest)
{
    const char *got = wf_closest(closest_cases[_i].word, task_keys);

    if (closest_cases[_i].want == NULL)
        ck_assert_ptr_null(got);
    else
        ck_assert_str_eq(got, closest_cases[_i].want);
}
END_TEST

START_TEST(test_edit_distance)
{
    ck_assert_uint_eq(wf_edit_distance("kitten", "sitting", 10), 3);
    ck_assert_uint_eq(wf_edit_distance("", "abc", 10), 3);
    ck_assert_uint_eq(wf_edit_distance("abc", "abc", 0), 0);
    /* Capped at max + 1. */
    ck_assert_uint_eq(wf_edit_distance("kitten", "sitting", 1), 2);
    ck_assert_uint_eq(wf_edit_distance("a", "abcdefgh", 2), 3);
}
END_TEST

START_TEST(test_clocks)
{
    int64_t a = wf_now_ns(), b = wf_now_ns();

    ck_assert_int_ge(b, a);
    ck_assert_int_ge(wf_now_ms(), a / 1000000);
    /* After 2020-01-01. */
    ck_assert_int_gt(wf_wall_ms(), 1577836800000);
}
END_TEST

/* ---- sizes ------------------------------------------------------------------------------ */

static const struct {
    const char *text;
    uint64_t bytes; /* 0: refused */
    const char *msg;
} size_cases[] = {
    { "1048576", 1048576, NULL },
    { "64MiB", 64 << 20, NULL },
    { "1.5G", (uint64_t)3 << 29, NULL },
    { "512k", 512 << 10, NULL },
    { " 2 TB ", (uint64_t)2 << 40, NULL },
    /* Kubernetes' quantities, as Argo users write memory */
    { "512Mi", 512 << 20, NULL },
    { "1Gi", 1 << 30, NULL },
    { "100Ki", 100 << 10, NULL },
    { "lots", 0, "invalid size 'lots': use a number of bytes*" },
    { "1x", 0, "invalid size '1x'*" },
    { "99999999999T", 0, "size '99999999999T' is too large (at most 16 EiB)" },
};

START_TEST(test_size_parse)
{
    uint64_t got = 0;
    char *msg = NULL;
    int rc = wf_size_parse(size_cases[_i].text, &got, &msg);
    const char *want = size_cases[_i].msg;

    if (size_cases[_i].bytes != 0) {
        ck_assert_int_eq(rc, WF_OK);
        ck_assert_uint_eq(got, size_cases[_i].bytes);
    } else {
        ck_assert_int_eq(rc, WF_EINVAL);
        ck_assert_ptr_nonnull(msg);
        if (want[strlen(want) - 1] == '*')
            ck_assert_msg(strncmp(msg, want, strlen(want) - 1) == 0, "%s", msg);
        else
            ck_assert_str_eq(msg, want);
    }
    free(msg);
}
END_TEST

static Suite *common_suite(void)
{
    Suite *s = suite_create("common");
    TCase *tc;

    tc = tcase_create("errno");
    tcase_add_loop_test(tc, test_strerror_table, 0, (int)WF_ARRAY_LEN(errno_cases));
    tcase_add_test(tc, test_strerror_known_and_unknown);
    suite_add_tcase(s, tc);

    tc = tcase_create("error");
    tcase_add_loop_test(tc, test_error_print, 0, (int)WF_ARRAY_LEN(print_cases));
    tcase_add_test(tc, test_error_format_and_move);
    tcase_add_loop_test(tc, test_error_source_line, 0, (int)WF_ARRAY_LEN(source_line_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("errlist");
    tcase_add_test(tc, test_errlist_sort);
    suite_add_tcase(s, tc);

    tc = tcase_create("strbuf");
    tcase_add_test(tc, test_strbuf);
    tcase_add_loop_test(tc, test_strbuf_empty_detach, 0, (int)WF_ARRAY_LEN(empty_cases));
    tcase_add_test(tc, test_alloc_helpers);
    tcase_add_test(tc, test_arena);
    suite_add_tcase(s, tc);

    tc = tcase_create("duration");
    tcase_add_loop_test(tc, test_duration_parse_ok, 0, (int)WF_ARRAY_LEN(duration_ok));
    tcase_add_loop_test(tc, test_duration_parse_bad, 0, (int)WF_ARRAY_LEN(duration_bad));
    tcase_add_test(tc, test_duration_error_text);
    tcase_add_loop_test(tc, test_duration_format, 0, (int)WF_ARRAY_LEN(format_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("sha256");
    tcase_add_loop_test(tc, test_sha256_vectors, 0, (int)WF_ARRAY_LEN(sha_cases));
    tcase_add_test(tc, test_sha256_file);
    suite_add_tcase(s, tc);

    tc = tcase_create("helpers");
    tcase_add_loop_test(tc, test_closest, 0, (int)WF_ARRAY_LEN(closest_cases));
    tcase_add_test(tc, test_edit_distance);
    tcase_add_test(tc, test_clocks);
    tcase_add_loop_test(tc, test_size_parse, 0, (int)WF_ARRAY_LEN(size_cases));
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(common_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
