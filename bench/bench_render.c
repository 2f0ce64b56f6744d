/*
 * B3: rendering a compiled `run` template with two expressions for N items (default
 * 100,000), as a worker does for each unit of a with-items task.
 *
 * The template is compiled once (WF_TPL_SHELL, as the loader compiles `run`), and the items
 * are objects like {"path": "data/part-000042.csv", "size": 42}. Per item and per
 * measurement:
 *   "render"       wf_tpl_render into a reused buffer: the `sh -c` script text, each value
 *                  shell-quoted (what unit.c runs when the command needs a shell);
 *   "render_argv"  wf_tpl_render_argv + wf_tpl_argv_free: the words of a command with no
 *                  shell syntax, which unit.c execs directly;
 *   "render_ctx"   wf_ctx_with_item + wf_tpl_render + wf_ctx_unref: the worker's whole
 *                  per-item template cost including the item context.
 * The items' contexts are derived before the first two loops so that they time rendering
 * alone. "compile_ns" is one wf_tpl_compile of the same string, for scale: evaluation never
 * lexes or parses (it walks the AST built at compile time), so rendering an item costs a
 * fraction of one compile.
 *
 * Target (design/performance.md): <= 300 ns per item, zero parsing per item.
 */
#include "wf_template.h"

#include "bench_common.h"

typedef struct params {
    long items, k, warmup;
    const char *tpl;
} params;

typedef struct fixture {
    const wf_tpl *tpl;
    const wf_ctx *base;
    wf_ctx **ctx; /* one per item */
    json_object *items;
    long n;
} fixture;

static void die_on(int rc, const wf_error *err)
{
    if (rc != WF_OK) {
        fprintf(stderr, "bench_render: %s\n", err->message ? err->message : wf_strerror(rc));
        exit(1);
    }
}

static double time_render(const fixture *f, wf_strbuf *sb)
{
    wf_error err;
    int64_t t0;

    wf_error_init(&err);
    t0 = bench_now_ns();
    for (long i = 0; i < f->n; i++) {
        wf_strbuf_reset(sb);
        die_on(wf_tpl_render(f->tpl, f->ctx[i], sb, &err), &err);
    }
    return (double)(bench_now_ns() - t0) / (double)f->n;
}

static double time_render_argv(const fixture *f)
{
    wf_error err;
    int64_t t0;

    wf_error_init(&err);
    t0 = bench_now_ns();
    for (long i = 0; i < f->n; i++) {
        char **argv = NULL;

        die_on(wf_tpl_render_argv(f->tpl, f->ctx[i], &argv, &err), &err);
        wf_tpl_argv_free(argv);
    }
    return (double)(bench_now_ns() - t0) / (double)f->n;
}

static double time_render_ctx(const fixture *f, wf_strbuf *sb)
{
    wf_error err;
    int64_t t0;

    wf_error_init(&err);
    t0 = bench_now_ns();
    for (long i = 0; i < f->n; i++) {
        wf_ctx *c =
            wf_ctx_with_item(f->base, json_object_array_get_idx(f->items, (size_t)i), (int64_t)i);

        wf_strbuf_reset(sb);
        die_on(wf_tpl_render(f->tpl, c, sb, &err), &err);
        wf_ctx_unref(c);
    }
    return (double)(bench_now_ns() - t0) / (double)f->n;
}

static double time_compile(const char *src, long reps)
{
    wf_error err;
    int64_t t0;

    wf_error_init(&err);
    t0 = bench_now_ns();
    for (long i = 0; i < reps; i++) {
        wf_tpl *t = NULL;

        die_on(wf_tpl_compile(src, (size_t)-1, WF_TPL_SHELL, &t, &err), &err);
        wf_tpl_free(t);
    }
    return (double)(bench_now_ns() - t0) / (double)reps;
}

int main(int argc, char **argv)
{
    params p = { .items = 100000,
                 .k = 5,
                 .warmup = 1,
                 .tpl = "process --input << item.path >> --shard << index >>" };
    const bench_opt opts[] = {
        { "--items", BENCH_OPT_LONG, &p.items, "items rendered per measurement (default 1e5)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &p.warmup, "measurements thrown away first (default 1)" },
        { "--template", BENCH_OPT_STRING, &p.tpl,
          "the run string (default: process --input << item.path >> --shard << index >>)" },
    };
    wf_ctx_init init = { .workflow_name = "bench", .run_id = "bench-run" };
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_tpl *tpl = NULL;
    wf_error err;
    fixture f;
    double *r1, *r2, *r3;
    double m1, m2, m3, comp;
    const char *simple;

    bench_parse(argc, argv, "B3: per-item render of a compiled run template.", opts,
                WF_ARRAY_LEN(opts));
    if (p.k < 1 || p.items < 1) {
        fprintf(stderr, "%s: --k and --items must be at least 1\n", argv[0]);
        return 2;
    }
    wf_error_init(&err);
    die_on(wf_tpl_compile(p.tpl, (size_t)-1, WF_TPL_SHELL, &tpl, &err), &err);
    f.tpl = tpl;
    f.n = p.items;
    f.base = wf_ctx_new(&init);
    f.items = json_object_new_array_ext((int)p.items);
    f.ctx = wf_xcalloc((size_t)p.items, sizeof(*f.ctx));
    for (long i = 0; i < p.items; i++) {
        json_object *o = json_object_new_object();
        char path[64];

        snprintf(path, sizeof(path), "data/part-%06ld.csv", i);
        json_object_object_add(o, "path", json_object_new_string(path));
        json_object_object_add(o, "size", json_object_new_int64(i * 1024));
        json_object_array_add(f.items, o);
        f.ctx[i] = wf_ctx_with_item(f.base, o, (int64_t)i);
    }
    simple = wf_tpl_is_simple_command(tpl) ? "true" : "false";
    r1 = calloc((size_t)p.k, sizeof(double));
    r2 = calloc((size_t)p.k, sizeof(double));
    r3 = calloc((size_t)p.k, sizeof(double));
    for (long w = 0; w < p.warmup; w++) {
        time_render(&f, &sb);
        time_render_ctx(&f, &sb);
    }
    for (long i = 0; i < p.k; i++) {
        r1[i] = time_render(&f, &sb);
        r2[i] = wf_tpl_is_simple_command(tpl) ? time_render_argv(&f) : 0;
        r3[i] = time_render_ctx(&f, &sb);
    }
    m1 = bench_median(r1, (size_t)p.k);
    m2 = bench_median(r2, (size_t)p.k);
    m3 = bench_median(r3, (size_t)p.k);
    comp = time_compile(p.tpl, 10000);
    bench_emit("B3", "render", p.k,
               "\"items\":%ld,\"ns_per_item\":%.1f,\"compile_ns\":%.1f,\"simple_command\":%s",
               p.items, m1, comp, simple);
    if (wf_tpl_is_simple_command(tpl))
        bench_emit("B3", "render_argv", p.k, "\"items\":%ld,\"ns_per_item\":%.1f", p.items, m2);
    bench_emit("B3", "render_ctx", p.k, "\"items\":%ld,\"ns_per_item\":%.1f", p.items, m3);
    for (long i = 0; i < p.items; i++)
        wf_ctx_unref(f.ctx[i]);
    free(f.ctx);
    json_object_put(f.items);
    wf_ctx_unref((wf_ctx *)f.base);
    wf_tpl_free(tpl);
    wf_strbuf_release(&sb);
    free(r1);
    free(r2);
    free(r3);
    return 0;
}
