/*
 * B1: deriving an item context from a task context (wf_ctx_with_item + wf_ctx_unref), on one
 * thread, with 0 to 100,000 results published in the run's results map, beside the floor it
 * is judged against: one atomic refcount increment plus decrement (relaxed add, acq_rel sub,
 * the discipline of context/ctx.c) measured in the same run. malloc + free of a context-sized
 * block is printed too, since a derivation is one allocation.
 *
 * Target (design/performance.md): <= 15 ns, <= 2x the floor, flat across the result counts.
 */
#include <stdatomic.h>

#include "wf_context.h"

#include "bench_common.h"

typedef struct params {
    bench_sizes results;
    long ops, k, warmup;
} params;

/* The loops below write their last pointer here so that the compiler keeps them. */
typedef struct sink {
    void *volatile p;
} sink;

static double time_floor(long ops)
{
    atomic_uint refs;
    int64_t t0;

    atomic_init(&refs, 1);
    t0 = bench_now_ns();
    for (long i = 0; i < ops; i++) {
        atomic_fetch_add_explicit(&refs, 1, memory_order_relaxed);
        atomic_fetch_sub_explicit(&refs, 1, memory_order_acq_rel);
    }
    return (double)(bench_now_ns() - t0) / (double)ops;
}

static double time_malloc(long ops, sink *s)
{
    int64_t t0 = bench_now_ns();

    for (long i = 0; i < ops; i++) {
        void *p = malloc(40);

        s->p = p;
        free(p);
    }
    return (double)(bench_now_ns() - t0) / (double)ops;
}

static double time_derive(const wf_ctx *base, const json_object *item, long ops, sink *s)
{
    int64_t t0 = bench_now_ns();

    for (long i = 0; i < ops; i++) {
        wf_ctx *c = wf_ctx_with_item(base, item, i);

        s->p = c;
        wf_ctx_unref(c);
    }
    return (double)(bench_now_ns() - t0) / (double)ops;
}

/* A root context whose results map holds n published results, like a run after n tasks. */
static wf_ctx *context_with_results(long n)
{
    wf_results *map = wf_results_new(0);
    wf_ctx_init init = { 0 };
    wf_ctx *ctx;
    char name[32];

    for (long i = 0; i < n; i++) {
        wf_result *r = wf_result_new(WF_STATUS_SUCCEEDED, json_object_new_int64(i));

        snprintf(name, sizeof(name), "task_%ld", i);
        wf_results_publish(map, name, r);
        wf_result_unref(r);
    }
    init.results = map;
    init.workflow_name = "bench";
    init.run_id = "bench-run";
    ctx = wf_ctx_new(&init);
    wf_results_unref(map);
    return ctx;
}

int main(int argc, char **argv)
{
    params p = { .results = { { 0, 1000, 100000 }, 3 }, .ops = 10000000, .k = 5, .warmup = 1 };
    const bench_opt opts[] = {
        { "--results", BENCH_OPT_SIZES, &p.results, "published results, e.g. 0,1000,100000" },
        { "--ops", BENCH_OPT_LONG, &p.ops, "derivations per measurement (default 1e7)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &p.warmup, "measurements thrown away first (default 1)" },
    };
    json_object *item = json_object_new_string("item");
    double *floor_ns, *malloc_ns, *derive_ns;
    double base_ns = 0;
    sink s;

    bench_parse(argc, argv, "B1: item context derivation beside an atomic refcount-pair floor.",
                opts, WF_ARRAY_LEN(opts));
    if (p.k < 1 || p.ops < 1) {
        fprintf(stderr, "%s: --k and --ops must be at least 1\n", argv[0]);
        return 2;
    }
    floor_ns = calloc((size_t)p.k, sizeof(double));
    malloc_ns = calloc((size_t)p.k, sizeof(double));
    derive_ns = calloc((size_t)p.k, sizeof(double));
    for (size_t r = 0; r < p.results.n; r++) {
        wf_ctx *ctx = context_with_results(p.results.v[r]);
        double fl, ma, de;

        for (long w = 0; w < p.warmup; w++) {
            time_floor(p.ops);
            time_derive(ctx, item, p.ops, &s);
        }
        /* Interleaved, so that a noisy neighbour slows the floor and the derivation alike. */
        for (long i = 0; i < p.k; i++) {
            floor_ns[i] = time_floor(p.ops);
            malloc_ns[i] = time_malloc(p.ops, &s);
            derive_ns[i] = time_derive(ctx, item, p.ops, &s);
        }
        fl = bench_median(floor_ns, (size_t)p.k);
        ma = bench_median(malloc_ns, (size_t)p.k);
        de = bench_median(derive_ns, (size_t)p.k);
        if (r == 0)
            base_ns = de;
        bench_emit("B1", "ctx_with_item", p.k,
                   "\"results\":%ld,\"ops\":%ld,\"ns_per_op\":%.2f,\"floor_ns\":%.2f,"
                   "\"ratio\":%.2f,\"malloc_free_ns\":%.2f,\"vs_first_size\":%.2f",
                   p.results.v[r], p.ops, de, fl, de / fl, ma, de / base_ns);
        wf_ctx_unref(ctx);
    }
    json_object_put(item);
    free(floor_ns);
    free(malloc_ns);
    free(derive_ns);
    return 0;
}
