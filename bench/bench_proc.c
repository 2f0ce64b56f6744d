/*
 * B5 floor: what one process costs, without the scheduler. N commands run -j at a time (one
 * thread per slot, each running its share in a loop), three ways:
 *
 *   raw        posix_spawn("/bin/sh", "-c", CMD) + waitpid: the floor of
 *              design/performance.md (no pipes, no process group);
 *   wf_proc    wf_proc_run (engine/proc.c) as a worker calls it: stdout and stderr captured
 *              through pipes, own process group, pidfd wait, cancel fd polled, the
 *              environment given explicitly;
 *   direct     wf_proc_run of --direct-cmd (default `/bin/true %d`) without a shell: what
 *              the engine does for a command with no shell syntax;
 *   engine     the whole engine through the embedding API: a workflow with one task
 *              `with-items: << range(N) >>` whose `run` is CMD with %d as << item >>, at
 *              concurrency -j (scheduler, workers, argv and environment, completions); with
 *              --store DIR the runs are recorded in the store opened there.
 *
 * CMD is --cmd with %d replaced by the command's number (default `echo %d > /dev/null`).
 * Printed per way: milliseconds per command of wall time, the ratio to raw, and the CPU time
 * this process spent per command (getrusage RUSAGE_SELF: every thread of ours, not the
 * children), which is what the engine itself costs and is far less noisy than wall time on
 * a shared machine.
 */
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wf_proc.h"
#include "wf_store.h"

#include "bench_common.h"
#include "wfengine.h"

extern char **environ;

typedef enum way { WAY_RAW, WAY_PROC, WAY_DIRECT, WAY_ENGINE, N_WAYS } way;

typedef struct slot {
    way how;
    long first, count;
    const char *cmd, *direct_cmd;
    int cancel_fd;
    int failures;
} slot;

/* tmpl with its first "%d" replaced by i (the template is data, not a printf format). */
static void fill(char *out, size_t size, const char *tmpl, long i)
{
    const char *at = strstr(tmpl, "%d");

    if (at == NULL)
        snprintf(out, size, "%s", tmpl);
    else
        snprintf(out, size, "%.*s%ld%s", (int)(at - tmpl), tmpl, i, at + 2);
}

static void *run_slot(void *arg)
{
    slot *s = arg;
    char text[512];

    for (long i = s->first; i < s->first + s->count; i++) {
        if (s->how == WAY_RAW) {
            const char *argv[] = { "/bin/sh", "-c", text, NULL };
            pid_t pid;
            int status = 0;

            fill(text, sizeof(text), s->cmd, i);
            if (posix_spawn(&pid, "/bin/sh", NULL, NULL, (char *const *)argv, environ) != 0 ||
                waitpid(pid, &status, 0) != pid || status != 0)
                s->failures++;
        } else {
            char number[24];
            const char *sh_argv[] = { "/bin/sh", "-c", text, NULL };
            const char *direct_argv[] = { text, number, NULL };
            wf_proc_spec spec = WF_PROC_SPEC_INIT;
            wf_proc_result res;

            fill(text, sizeof(text), s->how == WAY_PROC ? s->cmd : s->direct_cmd, i);
            if (s->how == WAY_DIRECT) {
                /* "/bin/true %d": the program, then the number as its one argument. */
                char *space = strchr(text, ' ');

                snprintf(number, sizeof(number), "%ld", i);
                if (space != NULL)
                    *space = '\0';
                else
                    direct_argv[1] = NULL;
            }
            spec.argv = s->how == WAY_PROC ? sh_argv : direct_argv;
            spec.envp = (const char *const *)environ;
            spec.cancel_fd = s->cancel_fd;
            if (wf_proc_run(&spec, &res) != WF_OK || res.exit_code != 0)
                s->failures++;
            wf_proc_result_release(&res);
        }
    }
    return NULL;
}

static double cpu_ns(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return ((double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec) * 1e9 +
           ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) * 1e3;
}

typedef struct engine_work {
    wf_engine *e;
    wf_workflow *wf;
    wf_store *store; /* or NULL */
} engine_work;

static void run_engine(const engine_work *w, long jobs)
{
    wf_run_options o = { .concurrency = (int)jobs, .store = w->store };
    wf_errlist errs;
    wf_run *run = NULL;

    wf_errlist_init(&errs);
    if (wf_run_start(w->e, w->wf, &o, &run, &errs) != WF_OK ||
        wf_run_wait(run) != WF_STATUS_SUCCEEDED) {
        fprintf(stderr, "bench_proc: the engine run failed\n");
        exit(1);
    }
    wf_run_free(run);
    wf_errlist_release(&errs);
}

static wf_workflow *load_engine_work(long n, const char *cmd)
{
    const char *at = strstr(cmd, "%d");
    char *yaml = wf_xasprintf("version: 1\nname: b5\ntasks:\n  cmds:\n"
                              "    with-items: << range(%ld) >>\n    run: %.*s%s%s\n",
                              n, at ? (int)(at - cmd) : (int)strlen(cmd), cmd,
                              at ? "<< item >>" : "", at ? at + 2 : "");
    wf_workflow *wf = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string("b5.yaml", yaml, strlen(yaml), &wf, &errs) != WF_OK) {
        fprintf(stderr, "bench_proc: the generated workflow does not load\n");
        exit(1);
    }
    wf_errlist_release(&errs);
    free(yaml);
    return wf;
}

/* Runs n commands jobs at a time; returns the wall time in ns and our CPU time in *cpu. */
static double run_all(way how, long n, long jobs, const char *cmd, const char *direct_cmd,
                      int cancel_fd, const engine_work *ew, double *cpu)
{
    pthread_t th[64];
    slot slots[64];
    double c0 = cpu_ns();
    int64_t t0 = bench_now_ns();

    if (how == WAY_ENGINE) {
        run_engine(ew, jobs);
        *cpu = cpu_ns() - c0;
        return (double)(bench_now_ns() - t0);
    }

    for (long j = 0; j < jobs; j++) {
        slots[j] = (slot){ how, n * j / jobs, n * (j + 1) / jobs - n * j / jobs,
                           cmd, direct_cmd,   cancel_fd,
                           0 };
        pthread_create(&th[j], NULL, run_slot, &slots[j]);
    }
    for (long j = 0; j < jobs; j++) {
        pthread_join(th[j], NULL);
        if (slots[j].failures > 0) {
            fprintf(stderr, "bench_proc: %d commands failed\n", slots[j].failures);
            exit(1);
        }
    }
    *cpu = cpu_ns() - c0;
    return (double)(bench_now_ns() - t0);
}

int main(int argc, char **argv)
{
    long n = 2000, jobs = 2, k = 5, warmup = 1;
    const char *cmd = "echo %d > /dev/null", *direct_cmd = "/bin/true %d", *store_dir = NULL;
    bool floor_once = false;
    const bench_opt opts[] = {
        { "--n", BENCH_OPT_LONG, &n, "commands per measurement (default 2000)" },
        { "-j", BENCH_OPT_LONG, &jobs, "commands at once (default 2, at most 64)" },
        { "--cmd", BENCH_OPT_STRING, &cmd, "shell command, %d = its number" },
        { "--direct-cmd", BENCH_OPT_STRING, &direct_cmd, "program and %d, run without a shell" },
        { "--k", BENCH_OPT_LONG, &k, "measurements; the median is printed (default 5)" },
        { "--warmup", BENCH_OPT_LONG, &warmup, "measurements thrown away first (default 1)" },
        { "--store", BENCH_OPT_STRING, &store_dir, "engine: record the runs in the store in DIR" },
        { "--floor-once", BENCH_OPT_FLAG, &floor_once,
          "run the N commands the raw way once and print nothing (peers.sh times it beside "
          "ninja)" },
    };
    static const char *const names[] = { "raw", "wf_proc", "direct", "engine" };
    double *t[N_WAYS], *c[N_WAYS], med[N_WAYS], cpu;
    engine_work ew;
    int cancel[2];

    bench_parse(argc, argv, "B5 floor: N commands through posix_spawn, wf_proc_run and the engine.",
                opts, WF_ARRAY_LEN(opts));
    if (k < 1 || n < 1 || jobs < 1 || jobs > 64) {
        fprintf(stderr, "%s: needs --k >= 1, --n >= 1 and 1 <= -j <= 64\n", argv[0]);
        return 2;
    }
    if (pipe(cancel) != 0) {
        perror("pipe");
        return 1;
    }
    if (floor_once) {
        run_all(WAY_RAW, n, jobs, cmd, direct_cmd, cancel[0], NULL, &cpu);
        return 0;
    }
    ew.e = wf_engine_new(NULL);
    ew.wf = load_engine_work(n, cmd);
    ew.store = NULL;
    if (store_dir != NULL) {
        wf_error err;

        wf_error_init(&err);
        if (wf_store_open(store_dir, &ew.store, &err) != WF_OK) {
            fprintf(stderr, "%s: --store: %s\n", argv[0], err.message);
            return 2;
        }
    }
    for (int w = 0; w < N_WAYS; w++) {
        t[w] = calloc((size_t)k, sizeof(double));
        c[w] = calloc((size_t)k, sizeof(double));
    }
    for (long i = 0; i < warmup; i++) {
        for (int w = 0; w < N_WAYS; w++)
            run_all((way)w, n, jobs, cmd, direct_cmd, cancel[0], &ew, &cpu);
    }
    /* Interleaved, so that drifting load on a shared machine hits every way alike. */
    for (long i = 0; i < k; i++) {
        for (int w = 0; w < N_WAYS; w++)
            t[w][i] = run_all((way)w, n, jobs, cmd, direct_cmd, cancel[0], &ew, &c[w][i]);
    }
    for (int w = 0; w < N_WAYS; w++)
        med[w] = bench_median(t[w], (size_t)k);
    for (int w = 0; w < N_WAYS; w++) {
        bench_emit("B5", names[w], k,
                   "\"n\":%ld,\"jobs\":%ld,\"ms_per_cmd\":%.4f,\"ratio_raw\":%.3f,"
                   "\"cpu_us_per_cmd\":%.1f,\"store\":%s",
                   n, jobs, med[w] / 1e6 / (double)n, med[w] / med[WAY_RAW],
                   bench_median(c[w], (size_t)k) / 1e3 / (double)n,
                   w == WAY_ENGINE && ew.store != NULL ? "true" : "false");
        free(t[w]);
        free(c[w]);
    }
    wf_workflow_free(ew.wf);
    wf_engine_free(ew.e);
    if (ew.store != NULL) {
        wf_error err;

        wf_error_init(&err);
        if (wf_store_close(ew.store, &err) != WF_OK) {
            fprintf(stderr, "%s: --store: %s\n", argv[0], err.message);
            return 1;
        }
    }
    close(cancel[0]);
    close(cancel[1]);
    return 0;
}
