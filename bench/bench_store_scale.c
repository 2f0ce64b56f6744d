/*
 * B16: a store that holds 10M-unit runs (issue 16). One run of one with-items task of N units
 * (default 10,000,000) is recorded through the store API as the engine records them (run id,
 * task, index, attempt 1, status, times, exit code -1, inline result "null", the item's
 * hash), F of them (default 3, spread evenly) failed with an error and a stderr blob, into a
 * fresh store under --dir. Printed, one line each:
 *
 *   write        units_per_s (first record queued .. wf_store_flush returned) and bytes_per_unit
 *                (state.db and its WAL after close, divided by N);
 *   first_page   wf_store_run_page_json of the first page (1,000 units per task): what
 *                `wfengine show` reads;
 *   failed_page  the same with status "failed": `show --failed` and what `report` adds;
 *   resume_read  wf_store_succeeded_each over the whole run (what --resume reads before the
 *                run starts): the wall time, the runs of units it was given and how many
 *                units they hold (N - F when right);
 *   logs         wf_store_unit_output of the unit in the middle.
 *
 * Timings are one measurement each (--k repeats the read side and prints the median).
 */
#define _XOPEN_SOURCE 700 /* nftw */

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_store.h"

#include "bench_common.h"

typedef struct params {
    long units, failures, k;
    const char *dir;
} params;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static double file_size(const char *dir, const char *name)
{
    char *path = wf_xasprintf("%s/%s", dir, name);
    struct stat st;
    double n = stat(path, &st) == 0 ? (double)st.st_size : 0;

    free(path);
    return n;
}

static void die(const char *what, const wf_error *err)
{
    fprintf(stderr, "bench_store_scale: %s: %s\n", what, err->message ? err->message : "?");
    exit(1);
}

typedef struct walk {
    int64_t spans, units;
} walk;

static int count_reused(const wf_store_reused *u, void *ctx)
{
    walk *w = ctx;

    w->spans++;
    w->units += u->last - u->first + 1;
    return WF_OK;
}

int main(int argc, char **argv)
{
    params p = { .units = 10000000, .failures = 3, .k = 3, .dir = "/tmp" };
    const bench_opt opts[] = {
        { "--units", BENCH_OPT_LONG, &p.units, "units of the run (default 1e7)" },
        { "--failures", BENCH_OPT_LONG, &p.failures, "of which failed (default 3)" },
        { "--k", BENCH_OPT_LONG, &p.k, "read-side measurements; the median (default 3)" },
        { "--dir", BENCH_OPT_STRING, &p.dir, "where the store is made (default /tmp)" },
    };
    char *dir;
    wf_store *s = NULL;
    wf_error err;
    char errblob[WF_SHA256_HEX_LEN + 1];
    wf_store_run_rec run = { .run_id = "bench-run",
                             .workflow = "bench",
                             .file_path = "bench.yaml",
                             .inputs_json = "{}",
                             .started_ms = 1 };
    wf_store_task_rec task = { .run_id = "bench-run",
                               .task = "fan",
                               .status = WF_STATUS_FAILED,
                               .started_ms = 1,
                               .ended_ms = 2,
                               .with_items = true };
    double t0, t1, *first, *failed, *resume, *logs;
    walk w = { 0, 0 };
    int64_t every;

    bench_parse(argc, argv, "B16: a 10M-unit run in the store: write, pages, resume read.", opts,
                WF_ARRAY_LEN(opts));
    if (p.units < 1 || p.failures < 0 || p.failures > p.units || p.k < 1) {
        fprintf(stderr, "bench_store_scale: --units ≥ 1, 0 ≤ --failures ≤ units, --k ≥ 1\n");
        return 2;
    }
    dir = wf_xasprintf("%s/wfbench-scale-XXXXXX", p.dir);
    if (mkdtemp(dir) == NULL) {
        perror(dir);
        return 1;
    }
    wf_error_init(&err);
    if (wf_store_open(dir, &s, &err) != WF_OK)
        die("open", &err);
    if (wf_store_put_blob(s, "boom\n", 5, errblob, &err) != WF_OK)
        die("blob", &err);
    task.n_items = (size_t)p.units;
    every = p.failures > 0 ? p.units / p.failures : p.units + 1;
    t0 = (double)bench_now_ns();
    wf_store_record_run_start(s, &run);
    wf_store_record_task(s, &task);
    for (int64_t i = 0; i < p.units; i++) {
        char text[24], hash[WF_SHA256_HEX_LEN + 1];
        bool fail = p.failures > 0 && i % every == every / 2 && i / every < p.failures;
        wf_store_unit_rec u = { .run_id = "bench-run",
                                .task = "fan",
                                .index = i,
                                .attempt = 1,
                                .status = fail ? WF_STATUS_FAILED : WF_STATUS_SUCCEEDED,
                                .started_ms = 1000 + i / 1000,
                                .ended_ms = 1000 + i / 1000,
                                .exit_code = -1,
                                .error = fail ? "core.fail: boom" : NULL,
                                .result_json = "null",
                                .stderr_hash = fail ? errblob : NULL };

        snprintf(text, sizeof(text), "%lld", (long long)i);
        wf_sha256_hex(text, strlen(text), hash);
        u.item_hash = hash;
        wf_store_record_unit(s, &u);
    }
    wf_store_record_run_end(s, "bench-run", WF_STATUS_FAILED, 3, "{}");
    if (wf_store_flush(s, &err) != WF_OK)
        die("flush", &err);
    t1 = (double)bench_now_ns();
    if (wf_store_close(s, &err) != WF_OK)
        die("close", &err);
    s = NULL;
    bench_emit("B16", "write", 1, "\"units\":%ld,\"units_per_s\":%.0f,\"bytes_per_unit\":%.2f",
               p.units, (double)p.units / ((t1 - t0) / 1e9),
               (file_size(dir, "state.db") + file_size(dir, "state.db-wal")) / (double)p.units);

    first = calloc((size_t)p.k, sizeof(double));
    failed = calloc((size_t)p.k, sizeof(double));
    resume = calloc((size_t)p.k, sizeof(double));
    logs = calloc((size_t)p.k, sizeof(double));
    if (wf_store_open_readonly(dir, &s, &err) != WF_OK)
        die("open read-only", &err);
    for (long k = 0; k < p.k; k++) {
        wf_store_page page = { .limit = 1000 }, fpage = { .limit = 1000, .status = "failed" };
        json_object *doc = NULL;
        char *data = NULL;
        size_t len = 0;

        t0 = (double)bench_now_ns();
        if (wf_store_run_page_json(s, "bench-run", &page, &doc, &err) != WF_OK)
            die("first page", &err);
        first[k] = ((double)bench_now_ns() - t0) / 1e6;
        json_object_put(doc);
        t0 = (double)bench_now_ns();
        if (wf_store_run_page_json(s, "bench-run", &fpage, &doc, &err) != WF_OK)
            die("failed page", &err);
        failed[k] = ((double)bench_now_ns() - t0) / 1e6;
        json_object_put(doc);
        w.spans = w.units = 0;
        t0 = (double)bench_now_ns();
        if (wf_store_succeeded_each(s, "bench-run", NULL, 0, count_reused, &w, &err) != WF_OK)
            die("resume read", &err);
        resume[k] = ((double)bench_now_ns() - t0) / 1e6;
        t0 = (double)bench_now_ns();
        if (wf_store_unit_output(s, "bench-run", "fan", p.units / 2, 0, false, &data, &len, &err) !=
            WF_OK)
            die("logs", &err);
        logs[k] = ((double)bench_now_ns() - t0) / 1e6;
        free(data);
    }
    bench_emit("B16", "first_page", p.k, "\"units\":%ld,\"ms\":%.2f", p.units,
               bench_median(first, (size_t)p.k));
    bench_emit("B16", "failed_page", p.k, "\"units\":%ld,\"ms\":%.2f", p.units,
               bench_median(failed, (size_t)p.k));
    bench_emit("B16", "resume_read", p.k,
               "\"units\":%ld,\"ms\":%.2f,\"spans\":%lld,\"reusable\":%lld", p.units,
               bench_median(resume, (size_t)p.k), (long long)w.spans, (long long)w.units);
    bench_emit("B16", "logs", p.k, "\"units\":%ld,\"ms\":%.3f", p.units,
               bench_median(logs, (size_t)p.k));
    wf_store_close(s, NULL);
    wf_error_release(&err);
    if (getenv("WF_BENCH_KEEP") == NULL)
        nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    else
        fprintf(stderr, "bench_store_scale: kept %s\n", dir);
    free(dir);
    free(first);
    free(failed);
    free(resume);
    free(logs);
    return 0;
}
