/*
 * B7: unit records persisted per second by the store's batched writer.
 *
 * Per measurement a fresh store is opened in a new directory (under --dir, default /tmp), a
 * run and a task are recorded, then N unit records (default 100,000) as the engine queues
 * them at the end of each unit: run id, task, index, attempt, status, times, exit code, a
 * small inline result and the item's hash. Printed:
 *
 *   records_per_s   N / (first record queued .. wf_store_flush returned): what is persisted
 *                   per second, commits included (the target's figure);
 *   enqueue_ns      mean cost of one wf_store_record_unit call on the producing thread;
 *   enqueue_max_us  the slowest single call: the hot path never waits for a commit, it waits
 *                   only when the queue is over its bound (65,536 records or 64 MiB), which
 *                   a producer faster than the disk reaches; enqueue_waits counts calls over
 *                   1 ms.
 *
 * Target (design/performance.md): >= 300,000 records per second; the hot path never waits
 * for a commit.
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <ftw.h>
#include <unistd.h>

#include "wf_store.h"

#include "bench_common.h"

typedef struct params {
    long records, k, warmup;
    const char *dir;
} params;

typedef struct figures {
    double total_ns, enqueue_ns, max_ns;
    long waits;
} figures;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static figures measure(const params *p)
{
    char *dir = wf_xasprintf("%s/wfbench-store-XXXXXX", p->dir);
    wf_store *s = NULL;
    wf_error err;
    figures f = { 0, 0, 0, 0 };
    wf_store_run_rec run = { .run_id = "bench-run",
                             .workflow = "bench",
                             .file_path = "bench.yaml",
                             .file_sha256 = "0000000000000000000000000000000000000000000000000000"
                                            "000000000000",
                             .inputs_json = "{}",
                             .started_ms = 1 };
    wf_store_task_rec task = { .run_id = "bench-run",
                               .task = "items",
                               .status = WF_STATUS_RUNNING,
                               .n_items = (size_t)p->records,
                               .with_items = true };
    int64_t t0;

    wf_error_init(&err);
    if (mkdtemp(dir) == NULL || wf_store_open(dir, &s, &err) != WF_OK) {
        fprintf(stderr, "bench_store: cannot open a store in %s: %s\n", dir,
                err.message ? err.message : "mkdtemp failed");
        exit(1);
    }
    wf_store_record_run_start(s, &run);
    wf_store_record_task(s, &task);
    t0 = bench_now_ns();
    for (long i = 0; i < p->records; i++) {
        char result[32], item_hash[WF_SHA256_HEX_LEN + 1];
        wf_store_unit_rec u = { .run_id = "bench-run",
                                .task = "items",
                                .index = i,
                                .attempt = 1,
                                .status = WF_STATUS_SUCCEEDED,
                                .started_ms = 1000 + i,
                                .ended_ms = 1001 + i,
                                .exit_code = 0,
                                .result_json = result,
                                .item_hash = item_hash };
        int64_t c0;
        double took;

        snprintf(result, sizeof(result), "{\"n\":%ld}", i);
        snprintf(item_hash, sizeof(item_hash), "%064lx", (unsigned long)i * 2654435761ul);
        c0 = bench_now_ns();
        wf_store_record_unit(s, &u);
        took = (double)(bench_now_ns() - c0);
        f.enqueue_ns += took;
        if (took > f.max_ns)
            f.max_ns = took;
        if (took > 1e6)
            f.waits++;
    }
    if (wf_store_flush(s, &err) != WF_OK) {
        fprintf(stderr, "bench_store: flush: %s\n", err.message);
        exit(1);
    }
    f.total_ns = (double)(bench_now_ns() - t0);
    f.enqueue_ns /= (double)p->records;
    if (wf_store_close(s, &err) != WF_OK) {
        fprintf(stderr, "bench_store: close: %s\n", err.message);
        exit(1);
    }
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    wf_error_release(&err);
    free(dir);
    return f;
}

int main(int argc, char **argv)
{
    params p = { .records = 100000, .k = 5, .warmup = 1, .dir = "/tmp" };
    const bench_opt opts[] = {
        { "--records", BENCH_OPT_LONG, &p.records, "unit records per measurement (default 1e5)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &p.warmup, "measurements thrown away first (default 1)" },
        { "--dir", BENCH_OPT_STRING, &p.dir, "where the stores are made (default /tmp)" },
    };
    double *total, *enq, *mx, *waits;

    bench_parse(argc, argv, "B7: store unit records persisted per second.", opts,
                WF_ARRAY_LEN(opts));
    if (p.k < 1 || p.records < 1) {
        fprintf(stderr, "%s: --k and --records must be at least 1\n", argv[0]);
        return 2;
    }
    total = calloc((size_t)p.k, sizeof(double));
    enq = calloc((size_t)p.k, sizeof(double));
    mx = calloc((size_t)p.k, sizeof(double));
    waits = calloc((size_t)p.k, sizeof(double));
    for (long w = 0; w < p.warmup; w++)
        measure(&p);
    for (long i = 0; i < p.k; i++) {
        figures f = measure(&p);

        total[i] = f.total_ns;
        enq[i] = f.enqueue_ns;
        mx[i] = f.max_ns;
        waits[i] = (double)f.waits;
    }
    {
        double t = bench_median(total, (size_t)p.k);

        bench_emit("B7", "store_unit_records", p.k,
                   "\"records\":%ld,\"ms\":%.1f,\"records_per_s\":%.0f,\"enqueue_ns\":%.0f,"
                   "\"enqueue_max_us\":%.0f,\"enqueue_waits\":%.0f",
                   p.records, t / 1e6, (double)p.records / (t / 1e9),
                   bench_median(enq, (size_t)p.k), bench_median(mx, (size_t)p.k) / 1e3,
                   bench_median(waits, (size_t)p.k));
    }
    free(total);
    free(enq);
    free(mx);
    free(waits);
    return 0;
}
