/*
 * B6: peak memory per item of a with-items run of core.noop, above the item data.
 *
 * Peak RSS only grows, so each figure comes from a fresh process: this program runs itself
 * (as `--child MODE N`) and reads the child's peak, VmHWM from /proc/self/status, which the
 * child prints when it is done. Four children per measurement:
 *
 *   run N      load a workflow with one task `with-items: << range(N) >>` of core.noop and
 *              run it to the end (-j, default 2), through the embedding API;
 *   run B      the same with B items (--base, default 1000): engine, threads and libraries;
 *   items N    only compile `<< range(N) >>` and take the list the task would iterate over
 *              as the engine does (wf_tpl_eval_borrow: the list folded at compile time, lent
 *              to the run, not copied);
 *   items B    the same with B items.
 *
 * The item data is items N - items B (N json integers in a json-c array: the user's list).
 * The engine's cost per item is ((run N - run B) - (items N - items B)) / (N - B): units,
 * result slots, the task's result list and item statuses, allocator overhead. It is the
 * figure the target is about.
 *
 * Target (design/performance.md): <= 200 bytes per item above the item data, 1,000,000 items.
 */
#include <stdio.h>
#include <unistd.h>

#include "wf_template.h"

#include "bench_common.h"
#include "wfengine.h"

typedef struct params {
    long items, base, jobs, k;
    const char *child;
} params;

static long vm_hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;

    if (f == NULL)
        return -1;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    }
    fclose(f);
    return kb;
}

static int child_items(long n)
{
    char *src = wf_xasprintf("<< range(%ld) >>", n);
    wf_ctx_init init = { 0 };
    wf_ctx *ctx = wf_ctx_new(&init);
    wf_tpl *tpl = NULL;
    const json_object *list = NULL;
    json_object *own = NULL;
    wf_error err;

    wf_error_init(&err);
    if (wf_tpl_compile(src, (size_t)-1, 0, &tpl, &err) != WF_OK ||
        wf_tpl_eval_borrow(tpl, ctx, &list, &own, &err) != WF_OK) {
        fprintf(stderr, "bench_rss: %s\n", err.message);
        return 1;
    }
    printf("%ld\n", vm_hwm_kb());
    json_object_put(own);
    wf_tpl_free(tpl);
    wf_ctx_unref(ctx);
    free(src);
    return 0;
}

static int child_run(long n, long jobs)
{
    char *yaml = wf_xasprintf("version: 1\nname: b6\ntasks:\n  noop:\n"
                              "    with-items: << range(%ld) >>\n    action: core.noop\n",
                              n);
    wf_engine *e = wf_engine_new(NULL);
    wf_run_options o = { .concurrency = (int)jobs };
    wf_workflow *wf = NULL;
    wf_run *run = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string("b6.yaml", yaml, strlen(yaml), &wf, &errs) != WF_OK ||
        wf_run_start(e, wf, &o, &run, &errs) != WF_OK) {
        fprintf(stderr, "bench_rss: the run did not start\n");
        return 1;
    }
    if (wf_run_wait(run) != WF_STATUS_SUCCEEDED) {
        fprintf(stderr, "bench_rss: the run failed\n");
        return 1;
    }
    printf("%ld\n", vm_hwm_kb());
    wf_run_free(run);
    wf_workflow_free(wf);
    wf_engine_free(e);
    wf_errlist_release(&errs);
    free(yaml);
    return 0;
}

/* Runs this program as a child in the given mode and returns its peak RSS in KiB. */
static long peak_of(const char *self, const char *mode, long n, long jobs)
{
    char *cmd = wf_xasprintf("'%s' --child %s --items %ld -j %ld", self, mode, n, jobs);
    FILE *f = popen(cmd, "r");
    long kb = -1;

    if (f == NULL || fscanf(f, "%ld", &kb) != 1 || pclose(f) != 0 || kb < 0) {
        fprintf(stderr, "bench_rss: the child '%s' failed\n", cmd);
        exit(1);
    }
    free(cmd);
    return kb;
}

int main(int argc, char **argv)
{
    params p = { .items = 1000000, .base = 1000, .jobs = 2, .k = 1 };
    const bench_opt opts[] = {
        { "--items", BENCH_OPT_LONG, &p.items, "items of the measured run (default 1e6)" },
        { "--base", BENCH_OPT_LONG, &p.base, "items of the baseline run (default 1000)" },
        { "-j", BENCH_OPT_LONG, &p.jobs, "concurrency (default 2)" },
        { "--k", BENCH_OPT_LONG, &p.k, "measurements; the median is printed (default 1)" },
        { "--child", BENCH_OPT_STRING, &p.child, "internal: run one child (run or items)" },
    };
    char self[4096];
    ssize_t len;
    double *per_item, *data_per_item, *total_mb;

    bench_parse(argc, argv, "B6: peak RSS per item of a with-items run of core.noop.", opts,
                WF_ARRAY_LEN(opts));
    if (p.child != NULL)
        return strcmp(p.child, "items") == 0 ? child_items(p.items) : child_run(p.items, p.jobs);
    if (p.k < 1 || p.items <= p.base || p.base < 1) {
        fprintf(stderr, "%s: needs --k >= 1 and --items > --base >= 1\n", argv[0]);
        return 2;
    }
    len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len <= 0) {
        fprintf(stderr, "%s: cannot find my own executable\n", argv[0]);
        return 1;
    }
    self[len] = '\0';
    per_item = calloc((size_t)p.k, sizeof(double));
    data_per_item = calloc((size_t)p.k, sizeof(double));
    total_mb = calloc((size_t)p.k, sizeof(double));
    for (long i = 0; i < p.k; i++) {
        long run_n = peak_of(self, "run", p.items, p.jobs);
        long run_b = peak_of(self, "run", p.base, p.jobs);
        long items_n = peak_of(self, "items", p.items, p.jobs);
        long items_b = peak_of(self, "items", p.base, p.jobs);
        double n = (double)(p.items - p.base);

        data_per_item[i] = (double)(items_n - items_b) * 1024.0 / n;
        per_item[i] = ((double)(run_n - run_b) * 1024.0 / n) - data_per_item[i];
        total_mb[i] = (double)run_n / 1024.0;
    }
    bench_emit("B6", "rss_per_item", p.k,
               "\"items\":%ld,\"base_items\":%ld,\"jobs\":%ld,\"bytes_per_item\":%.1f,"
               "\"item_data_bytes_per_item\":%.1f,\"peak_mb\":%.1f",
               p.items, p.base, p.jobs, bench_median(per_item, (size_t)p.k),
               bench_median(data_per_item, (size_t)p.k), bench_median(total_mb, (size_t)p.k));
    free(per_item);
    free(data_per_item);
    free(total_mb);
    return 0;
}
