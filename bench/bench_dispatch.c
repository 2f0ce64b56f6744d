/*
 * B4: dispatch throughput. N `core.noop` units run end to end through the embedding API
 * (wf_run_start .. wf_run_wait, concurrency -j, default 2), in two shapes:
 *
 *   items  one task `with-items: << range(N) >>` of core.noop (the item list, N units, one
 *          item context per unit, N completions, the result list of N nulls);
 *   dag    N tasks of core.noop in layers of --width tasks (default 100), each task after
 *          the first layer needing 2 or 3 tasks of the layer before (fixed seed): N task
 *          starts, N results published, about 2.5 N edges.
 *
 * The workflow is generated as YAML and loaded before the clock starts; the clock covers
 * wf_run_start (binding, vars, env, threads) to the return of wf_run_wait. No event callback
 * is installed. Several sizes show whether the cost per unit stays flat (linear).
 *
 * With --store DIR the runs are recorded in the store opened there (wf_run_options.store):
 * a run record, a task record per task and a unit record per unit, queued to the store's
 * writer thread; wf_run_wait returns after the store has flushed them, so the figure is end
 * to end with everything persisted.
 *
 * Target (design/performance.md): >= 500,000 units/s without a store, >= 200,000 with one.
 */
#include "wf_store.h"

#include "bench_common.h"
#include "wfengine.h"

typedef struct params {
    bench_sizes units;
    const char *shape;
    const char *store_dir;
    long jobs, width, k, warmup;
    wf_store *store;
} params;

/* A small fixed-seed generator, so that every run builds the same graph. */
static uint32_t next_rand(uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*state >> 33);
}

static char *items_yaml(long n)
{
    return wf_xasprintf("version: 1\nname: b4_items\ntasks:\n  noop:\n"
                        "    with-items: << range(%ld) >>\n    action: core.noop\n",
                        n);
}

static char *dag_yaml(long n, long width)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    uint64_t seed = 42;

    wf_strbuf_adds(&sb, "version: 1\nname: b4_dag\ntasks:\n");
    for (long i = 0; i < n; i++) {
        long layer = i / width, prev = (layer - 1) * width;

        wf_strbuf_addf(&sb, "  t%ld:\n    action: core.noop\n", i);
        if (layer > 0) {
            /* 2 or 3 distinct tasks of the previous (full) layer. */
            long deps = 2 + (long)(next_rand(&seed) % 2);
            long first = (long)(next_rand(&seed) % (uint32_t)width);

            if (deps > width)
                deps = width;
            wf_strbuf_adds(&sb, "    needs: [");
            for (long d = 0; d < deps; d++)
                wf_strbuf_addf(&sb, "%st%ld", d ? ", " : "", prev + (first + d) % width);
            wf_strbuf_adds(&sb, "]\n");
        }
    }
    return wf_strbuf_detach(&sb, NULL);
}

static wf_workflow *load(const char *name, char *yaml_take)
{
    wf_workflow *wf = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string(name, yaml_take, strlen(yaml_take), &wf, &errs) != WF_OK) {
        wf_strbuf sb = WF_STRBUF_INIT;

        for (size_t i = 0; i < errs.len && i < 5; i++)
            wf_error_format(&sb, &errs.items[i]);
        fprintf(stderr, "bench_dispatch: the generated workflow does not load:\n%s",
                wf_strbuf_str(&sb));
        exit(1);
    }
    wf_errlist_release(&errs);
    free(yaml_take);
    return wf;
}

/* One run, start to end; returns its wall time in ns. */
static double run_once(wf_engine *e, const wf_workflow *wf, long jobs, wf_store *store)
{
    wf_run_options o = { .concurrency = (int)jobs, .store = store };
    wf_errlist errs;
    wf_run *run = NULL;
    int64_t t0, t1;
    wf_status st;

    wf_errlist_init(&errs);
    t0 = bench_now_ns();
    if (wf_run_start(e, wf, &o, &run, &errs) != WF_OK) {
        fprintf(stderr, "bench_dispatch: the run did not start\n");
        exit(1);
    }
    st = wf_run_wait(run);
    t1 = bench_now_ns();
    if (st != WF_STATUS_SUCCEEDED) {
        fprintf(stderr, "bench_dispatch: the run ended %s\n", wf_status_name(st));
        exit(1);
    }
    wf_run_free(run);
    wf_errlist_release(&errs);
    return (double)(t1 - t0);
}

static void measure(const params *p, wf_engine *e, const char *shape, long n, double *times)
{
    wf_workflow *wf = strcmp(shape, "items") == 0 ? load("b4_items.yaml", items_yaml(n))
                                                  : load("b4_dag.yaml", dag_yaml(n, p->width));
    double med;

    for (long w = 0; w < p->warmup; w++)
        run_once(e, wf, p->jobs, p->store);
    for (long i = 0; i < p->k; i++)
        times[i] = run_once(e, wf, p->jobs, p->store);
    med = bench_median(times, (size_t)p->k);
    bench_emit("B4", shape, p->k,
               "\"units\":%ld,\"jobs\":%ld,\"store\":%s,\"ms\":%.2f,\"units_per_s\":%.0f,"
               "\"us_per_unit\":%.3f",
               n, p->jobs, p->store ? "true" : "false", med / 1e6, (double)n / (med / 1e9),
               med / 1e3 / (double)n);
    wf_workflow_free(wf);
}

int main(int argc, char **argv)
{
    params p = {
        .units = { { 100000 }, 1 }, .shape = "both", .jobs = 2, .width = 100, .k = 5, .warmup = 1
    };
    const bench_opt opts[] = {
        { "--units", BENCH_OPT_SIZES, &p.units, "units per run, e.g. 10000,100000 (default 1e5)" },
        { "--shape", BENCH_OPT_STRING, &p.shape, "items, dag or both (default both)" },
        { "-j", BENCH_OPT_LONG, &p.jobs, "concurrency (default 2)" },
        { "--width", BENCH_OPT_LONG, &p.width, "dag: tasks per layer (default 100)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &p.warmup, "runs thrown away first (default 1)" },
        { "--store", BENCH_OPT_STRING, &p.store_dir,
          "record the runs in the store in DIR (created if needed)" },
    };
    wf_engine *e;
    double *times;
    bool items, dag;

    bench_parse(argc, argv, "B4: dispatch of core.noop units, with-items and DAG shapes.", opts,
                WF_ARRAY_LEN(opts));
    items = strcmp(p.shape, "items") == 0 || strcmp(p.shape, "both") == 0;
    dag = strcmp(p.shape, "dag") == 0 || strcmp(p.shape, "both") == 0;
    if (!items && !dag) {
        fprintf(stderr, "%s: --shape must be items, dag or both\n", argv[0]);
        return 2;
    }
    if (p.k < 1 || p.jobs < 1 || p.width < 1) {
        fprintf(stderr, "%s: --k, -j and --width must be at least 1\n", argv[0]);
        return 2;
    }
    if (p.store_dir != NULL) {
        wf_error err;

        wf_error_init(&err);
        if (wf_store_open(p.store_dir, &p.store, &err) != WF_OK) {
            fprintf(stderr, "%s: --store: %s\n", argv[0], err.message);
            return 2;
        }
    }
    e = wf_engine_new(NULL);
    times = calloc((size_t)p.k, sizeof(double));
    for (size_t s = 0; s < p.units.n; s++) {
        if (items)
            measure(&p, e, "items", p.units.v[s], times);
        if (dag)
            measure(&p, e, "dag", p.units.v[s], times);
    }
    free(times);
    wf_engine_free(e);
    if (p.store != NULL) {
        wf_error err;

        wf_error_init(&err);
        if (wf_store_close(p.store, &err) != WF_OK) {
            fprintf(stderr, "%s: --store: %s\n", argv[0], err.message);
            return 1;
        }
    }
    return 0;
}
