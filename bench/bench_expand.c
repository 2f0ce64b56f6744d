/*
 * B2: with-items expansion of N items: the units created and one item context derived per
 * item, nothing executed.
 *
 * Two measurements per size, both printed:
 *
 * - "expand_model" times, in this thread, exactly the steps the engine takes for a with-items
 *   task, split into phases: evaluating the with-items template `<< range(N) >>` into the
 *   item list (the user's data: N json integers, folded into a constant when the workflow is
 *   loaded, which the engine lends to the run rather than copying), creating the units as
 *   engine/expand.c task_add_units does (the dense wf_unit array, 4 bytes a unit: nothing is
 *   set per unit), and deriving each item's context as engine/unit.c does when the unit runs
 *   (json_object_array_get_idx + wf_ctx_with_item, then wf_ctx_unref). "ns_per_item" is
 *   units + contexts (what the target is about); "total_ns_per_item" adds the list.
 *
 * - "expand_engine" goes through the real engine (wf_run_start on a with-items task of
 *   core.noop): the time from the scheduler's RUN_START event to the first UNIT_QUEUED event,
 *   which covers evaluating the list, creating the units and the first dispatch
 *   ("task_start_ms" is RUN_START to the task's TASK_START event, which engine/run.c emits
 *   once the list is evaluated and the units are created). The engine derives contexts only
 *   as units execute, so they are not in this figure (the model's context phase is their
 *   cost). The run is cancelled once the first unit has started.
 *
 * Target (design/performance.md): <= 0.5 ms for 10,000 items, <= 100 ns per item, linear.
 */
#include <stdatomic.h>

#include "wf_template.h"

#include "bench_common.h"
#include "run_internal.h"

typedef struct params {
    bench_sizes items;
    long k, warmup;
} params;

typedef struct phases {
    double list_ns, units_ns, ctx_ns;
} phases;

static wf_ctx *task_context(void)
{
    wf_ctx_init init = { .workflow_name = "bench", .run_id = "bench-run" };

    return wf_ctx_new(&init);
}

static phases expand_model(long n, const wf_tpl *items_tpl, const wf_ctx *task_ctx)
{
    phases ph;
    const json_object *list = NULL;
    json_object *own = NULL;
    wf_unit *units;
    wf_error err;
    int64_t t0, t1, t2, t3;

    wf_error_init(&err);
    t0 = bench_now_ns();
    if (wf_tpl_eval_borrow(items_tpl, task_ctx, &list, &own, &err) != WF_OK) {
        fprintf(stderr, "bench_expand: %s\n", err.message);
        exit(1);
    }
    t1 = bench_now_ns();
    units = wf_xcalloc((size_t)n, sizeof(*units));
    t2 = bench_now_ns();
    for (long i = 0; i < n; i++) {
        wf_ctx *c = wf_ctx_with_item(task_ctx, json_object_array_get_idx(list, (size_t)i), i);

        wf_ctx_unref(c);
    }
    t3 = bench_now_ns();
    ph.list_ns = (double)(t1 - t0);
    ph.units_ns = (double)(t2 - t1);
    ph.ctx_ns = (double)(t3 - t2);
    free(units);
    json_object_put(own);
    wf_error_release(&err);
    return ph;
}

/* What the event callback records: scheduler-thread times of the events that bracket the
 * expansion. */
typedef struct probe {
    _Atomic int64_t run_start_ns, task_start_ns, first_unit_ns;
} probe;

static void on_event(const wf_event *ev, void *user)
{
    probe *p = user;
    int64_t now = bench_now_ns();

    if (ev->kind == WF_EVENT_RUN_START)
        atomic_store(&p->run_start_ns, now);
    else if (ev->kind == WF_EVENT_TASK_START)
        atomic_store(&p->task_start_ns, now);
    else if (ev->kind == WF_EVENT_UNIT_QUEUED && atomic_load(&p->first_unit_ns) == 0)
        atomic_store(&p->first_unit_ns, now);
}

/* Returns the RUN_START..first UNIT_QUEUED time in ns, and RUN_START..TASK_START in
 * *task_start_ns. */
static double expand_engine(wf_engine *e, const wf_workflow *wf, double *task_start_ns)
{
    probe p;
    wf_run_options o = { .concurrency = 2, .on_event = on_event, .user = &p };
    wf_errlist errs;
    wf_run *run = NULL;
    struct timespec nap = { 0, 100000 };

    atomic_init(&p.run_start_ns, 0);
    atomic_init(&p.task_start_ns, 0);
    atomic_init(&p.first_unit_ns, 0);
    o.user = &p;
    wf_errlist_init(&errs);
    if (wf_run_start(e, wf, &o, &run, &errs) != WF_OK) {
        fprintf(stderr, "bench_expand: the run did not start\n");
        exit(1);
    }
    while (atomic_load(&p.first_unit_ns) == 0)
        nanosleep(&nap, NULL);
    wf_run_cancel(run);
    wf_run_wait(run);
    wf_run_free(run);
    wf_errlist_release(&errs);
    *task_start_ns = (double)(atomic_load(&p.task_start_ns) - atomic_load(&p.run_start_ns));
    return (double)(atomic_load(&p.first_unit_ns) - atomic_load(&p.run_start_ns));
}

static wf_workflow *load_items_workflow(long n)
{
    char *yaml = wf_xasprintf("version: 1\nname: b2\ntasks:\n  expand:\n"
                              "    with-items: << range(%ld) >>\n    action: core.noop\n",
                              n);
    wf_workflow *wf = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string("b2.yaml", yaml, strlen(yaml), &wf, &errs) != WF_OK) {
        fprintf(stderr, "bench_expand: the generated workflow does not load\n");
        exit(1);
    }
    wf_errlist_release(&errs);
    free(yaml);
    return wf;
}

int main(int argc, char **argv)
{
    params p = { .items = { { 10000, 100000, 1000000 }, 3 }, .k = 5, .warmup = 1 };
    const bench_opt opts[] = {
        { "--items", BENCH_OPT_SIZES, &p.items, "item counts (default 10000,100000,1000000)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &p.warmup, "measurements thrown away first (default 1)" },
    };
    wf_engine *engine;
    wf_ctx *task_ctx;
    double *list, *units, *ctxs, *sum, *eng, *eng_list;

    bench_parse(argc, argv, "B2: with-items expansion (units created, contexts derived).", opts,
                WF_ARRAY_LEN(opts));
    if (p.k < 1) {
        fprintf(stderr, "%s: --k must be at least 1\n", argv[0]);
        return 2;
    }
    engine = wf_engine_new(NULL);
    task_ctx = task_context();
    list = calloc((size_t)p.k, sizeof(double));
    units = calloc((size_t)p.k, sizeof(double));
    ctxs = calloc((size_t)p.k, sizeof(double));
    sum = calloc((size_t)p.k, sizeof(double));
    eng = calloc((size_t)p.k, sizeof(double));
    eng_list = calloc((size_t)p.k, sizeof(double));
    for (size_t s = 0; s < p.items.n; s++) {
        long n = p.items.v[s];
        char *src = wf_xasprintf("<< range(%ld) >>", n);
        wf_tpl *tpl = NULL;
        wf_workflow *wf = load_items_workflow(n);
        wf_error err;
        double l, u, c, t, en, el;

        wf_error_init(&err);
        if (n < 1 || wf_tpl_compile(src, (size_t)-1, 0, &tpl, &err) != WF_OK) {
            fprintf(stderr, "%s: bad item count %ld\n", argv[0], n);
            return 2;
        }
        for (long w = 0; w < p.warmup; w++) {
            expand_model(n, tpl, task_ctx);
            expand_engine(engine, wf, &el);
        }
        for (long i = 0; i < p.k; i++) {
            phases ph = expand_model(n, tpl, task_ctx);

            list[i] = ph.list_ns;
            units[i] = ph.units_ns;
            ctxs[i] = ph.ctx_ns;
            sum[i] = ph.units_ns + ph.ctx_ns;
            eng[i] = expand_engine(engine, wf, &eng_list[i]);
        }
        l = bench_median(list, (size_t)p.k);
        u = bench_median(units, (size_t)p.k);
        c = bench_median(ctxs, (size_t)p.k);
        t = bench_median(sum, (size_t)p.k);
        en = bench_median(eng, (size_t)p.k);
        el = bench_median(eng_list, (size_t)p.k);
        bench_emit("B2", "expand_model", p.k,
                   "\"items\":%ld,\"ms\":%.3f,\"ns_per_item\":%.1f,\"units_ns_per_item\":%.1f,"
                   "\"ctx_ns_per_item\":%.1f,\"list_ns_per_item\":%.1f,"
                   "\"total_ms\":%.3f,\"total_ns_per_item\":%.1f",
                   n, t / 1e6, t / (double)n, u / (double)n, c / (double)n, l / (double)n,
                   (t + l) / 1e6, (t + l) / (double)n);
        bench_emit("B2", "expand_engine", p.k,
                   "\"items\":%ld,\"ms\":%.3f,\"ns_per_item\":%.1f,"
                   "\"task_start_ms\":%.3f",
                   n, en / 1e6, en / (double)n, el / 1e6);
        wf_tpl_free(tpl);
        wf_workflow_free(wf);
        wf_error_release(&err);
        free(src);
    }
    free(list);
    free(units);
    free(ctxs);
    free(sum);
    free(eng);
    free(eng_list);
    wf_ctx_unref(task_ctx);
    wf_engine_free(engine);
    return 0;
}
