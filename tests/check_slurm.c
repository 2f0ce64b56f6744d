/* Tests for the Slurm client (wf_slurm.h: engine/slurm*.c).
 *
 * Without a cluster: the parsers, the state mapping and the array split, and the whole
 * client (splitting, backing off, the rate limit) against a
 * fake Slurm (shell scripts named sbatch, squeue, scontrol, scancel, sacct and sinfo put first
 * on the PATH) that runs the array script locally, which checks the job files round trip
 * (script, environment, workdir) and the sbatch arguments.
 *
 * With WF_SLURM_LIVE=1 (tests/slurm/cluster.sh sets it): the same through a real one-node
 * Slurm: a 5-element array, a failing element, cancellation, and the check. */
/* ctest-cost: 20 (about its seconds in its slowest CI stage; see CMakeLists.txt) */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "wf_proc.h"
#include "wf_slurm.h"

#define MAX_RESULTS 1000

/* ---- helpers ----------------------------------------------------------------------------- */

typedef struct collector {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    wf_slurm_result res[MAX_RESULTS];
    bool have[MAX_RESULTS];
    size_t count;
    bool duplicate;
} collector;

static void collector_init(collector *c)
{
    memset(c, 0, sizeof(*c));
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
}

static void collector_release(collector *c)
{
    for (size_t i = 0; i < MAX_RESULTS; i++) {
        free(c->res[i].out);
        free(c->res[i].err);
        free(c->res[i].error);
        free(c->res[i].result);
        free(c->res[i].out_path);
        free(c->res[i].result_path);
    }
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
}

/* The done callback: keeps the result by unit. */
static void on_done(wf_slurm_result *r, void *user)
{
    collector *c = user;

    pthread_mutex_lock(&c->mu);
    if (r->unit >= MAX_RESULTS || c->have[r->unit]) {
        c->duplicate = true;
        free(r->out);
        free(r->err);
        free(r->error);
    } else {
        c->res[r->unit] = *r;
        /* Taken over (the paths only as names: the files go once the callback returns). */
        r->result = r->out_path = r->result_path = NULL;
        c->have[r->unit] = true;
        c->count++;
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* Waits until n results came in or timeout_ms passed; returns the count. */
static size_t wait_results(collector *c, size_t n, int64_t timeout_ms)
{
    struct timespec ts;
    size_t count;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    pthread_mutex_lock(&c->mu);
    while (c->count < n) {
        if (pthread_cond_timedwait(&c->cond, &c->mu, &ts) == ETIMEDOUT)
            break;
    }
    count = c->count;
    pthread_mutex_unlock(&c->mu);
    return count;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;

    if (f == NULL)
        return NULL;
    buf = malloc(1 << 20);
    n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_text(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");

    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

/* A fresh temporary directory (the test processes are forked, so it is not shared). */
static char *temp_dir(void)
{
    char tmpl[] = "/tmp/check_slurm.XXXXXX";
    char *base = getenv("SLURM_CI_WORK");
    char *d;

    if (base != NULL) {
        /* Live tests: a directory the node sees. On one node any directory does. */
        d = malloc(strlen(base) + 32);
        sprintf(d, "%s/check_slurm.XXXXXX", base);
        ck_assert_ptr_nonnull(mkdtemp(d));
        return d;
    }
    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return strdup(tmpl);
}

/* Removes a temp_dir() and frees its name. */
static void remove_dir(char *dir)
{
    const char *argv[] = { "/bin/rm", "-rf", dir, NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.argv = argv;
    wf_proc_run(&spec, &res);
    wf_proc_result_release(&res);
    free(dir);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* ---- parsers and mapping ------------------------------------------------------------------ */

static const struct {
    const char *text;
    int want;
} exit_cases[] = {
    { "0:0", 0 }, { "3:0", 3 },  { "0:15", 143 }, { "1:9", 137 }, { "255:0", 255 }, { "7", 7 },
    { "", -1 },   { "a:0", -1 }, { "3:", -1 },    { "-1:0", -1 }, { "256:0", -1 },  { "0:0:0", -1 },
};

START_TEST(test_parse_exit)
{
    ck_assert_msg(wf__slurm_parse_exit(exit_cases[_i].text) == exit_cases[_i].want,
                  "'%s': got %d, want %d", exit_cases[_i].text,
                  wf__slurm_parse_exit(exit_cases[_i].text), exit_cases[_i].want);
}
END_TEST

static const struct {
    const char *text;
    int64_t want;
} time_cases[] = {
    { "90", 5400 },    { "1:30", 90 },       { "01:30:00", 5400 },
    { "2-0", 172800 }, { "1-02:03", 93780 }, { "1-02:03:04", 93784 },
    { "0", 0 },        { "UNLIMITED", -1 },  { "1:2:3:4", -1 },
    { "", -1 },        { "x-1", -1 },        { "00:00:01", 1 },
};

START_TEST(test_parse_time)
{
    ck_assert_msg(wf__slurm_parse_time(time_cases[_i].text) == time_cases[_i].want,
                  "'%s': got %lld, want %lld", time_cases[_i].text,
                  (long long)wf__slurm_parse_time(time_cases[_i].text),
                  (long long)time_cases[_i].want);
}
END_TEST

static const struct {
    const char *state;
    int exit_code;
    bool by_us;
    bool ended;
    wf_status want;
    bool timed_out;
} state_cases[] = {
    { "COMPLETED", 0, false, true, WF_STATUS_SUCCEEDED, false },
    { "COMPLETED", 1, false, true, WF_STATUS_FAILED, false },
    { "FAILED", 3, false, true, WF_STATUS_FAILED, false },
    { "CANCELLED", 143, true, true, WF_STATUS_CANCELLED, false },
    { "CANCELLED", 143, false, true, WF_STATUS_FAILED, false },
    { "CANCELLED by 0", 0, true, true, WF_STATUS_CANCELLED, false },
    { "CANCELLED+", 0, true, true, WF_STATUS_CANCELLED, false },
    { "TIMEOUT", 143, false, true, WF_STATUS_FAILED, true },
    { "TIMEOUT", 143, true, true, WF_STATUS_FAILED, true },
    { "NODE_FAIL", -1, false, true, WF_STATUS_FAILED, false },
    { "OUT_OF_MEMORY", 137, false, true, WF_STATUS_FAILED, false },
    { "BOOT_FAIL", -1, false, true, WF_STATUS_FAILED, false },
    { "DEADLINE", -1, false, true, WF_STATUS_FAILED, false },
    { "PREEMPTED", -1, false, true, WF_STATUS_FAILED, false },
    { "PENDING", -1, false, false, WF_STATUS_FAILED, false },
    { "RUNNING", -1, false, false, WF_STATUS_FAILED, false },
    { "COMPLETING", -1, false, false, WF_STATUS_FAILED, false },
    { "SUSPENDED", -1, false, false, WF_STATUS_FAILED, false },
    { "REQUEUED", -1, false, false, WF_STATUS_FAILED, false },
};

START_TEST(test_state_mapping)
{
    bool timed_out = !state_cases[_i].timed_out;

    ck_assert_msg(wf__slurm_state_ended(state_cases[_i].state) == state_cases[_i].ended,
                  "ended(%s)", state_cases[_i].state);
    if (!state_cases[_i].ended)
        return;
    ck_assert_int_eq(wf__slurm_state_status(state_cases[_i].state, state_cases[_i].exit_code,
                                            state_cases[_i].by_us, &timed_out),
                     state_cases[_i].want);
    ck_assert(timed_out == state_cases[_i].timed_out);
}
END_TEST

START_TEST(test_parse_record)
{
    static const char element[] =
        "JobId=5 ArrayJobId=1 ArrayTaskId=3 ArrayTaskThrottle=2 JobName=wf-fan UserId=root(0) "
        "GroupId=root(0) MCS_label=N/A Priority=4294901759 Nice=0 Account=(null) QOS=(null) "
        "JobState=FAILED Reason=NonZeroExitCode Dependency=(null) Requeue=1 Restarts=0 "
        "BatchFlag=1 Reboot=0 ExitCode=3:0 RunTime=00:01:02 TimeLimit=UNLIMITED "
        "Command=/tmp/a b/array.sh WorkDir=/tmp/a b\n";
    static const char pending[] = "JobId=1 ArrayJobId=1 ArrayTaskId=5-999%8 ArrayTaskThrottle=8 "
                                  "JobName=wf-fan JobState=PENDING Reason=JobArrayTaskLimit "
                                  "ExitCode=0:0 RunTime=00:00:00";
    static const char plain[] = "JobId=77 JobName=wf-one JobState=CANCELLED Reason=None "
                                "ExitCode=0:15 RunTime=1-00:00:05";
    wf__slurm_record rec;

    ck_assert(wf__slurm_parse_record(element, strlen(element), &rec));
    ck_assert_str_eq(rec.job_id, "5");
    ck_assert_str_eq(rec.array_job_id, "1");
    ck_assert_int_eq(rec.array_task_id, 3);
    ck_assert_str_eq(rec.state, "FAILED");
    ck_assert_str_eq(rec.reason, "NonZeroExitCode");
    ck_assert_int_eq(rec.exit_code, 3);
    ck_assert_int_eq(rec.run_time_ms, 62000);

    ck_assert(wf__slurm_parse_record(pending, strlen(pending), &rec));
    ck_assert_int_eq(rec.array_task_id, -1);
    ck_assert_str_eq(rec.state, "PENDING");

    ck_assert(wf__slurm_parse_record(plain, strlen(plain), &rec));
    ck_assert_str_eq(rec.job_id, "77");
    ck_assert_str_eq(rec.array_job_id, "");
    ck_assert_int_eq(rec.array_task_id, -1);
    ck_assert_int_eq(rec.exit_code, 143);
    ck_assert_int_eq(rec.run_time_ms, 86405000);

    /* Only the given length counts, and a record needs JobId and JobState. */
    ck_assert(!wf__slurm_parse_record(plain, 20, &rec));
    ck_assert(!wf__slurm_parse_record("JobName=x", 9, &rec));
    ck_assert(!wf__slurm_parse_record("", 0, &rec));
    /* "XJobState=" is not JobState. */
    ck_assert(!wf__slurm_parse_record("JobId=1 XJobState=RUNNING", 25, &rec));
}
END_TEST

/* ---- packs: the rules ------------------------------------------------------------------- */

static const struct {
    int64_t durations[4];
    size_t n, unfinished, want;
} pack_size_cases[] = {
    { { 0 }, 0, 0, 1 },                                    /* nothing measured: one per element */
    { { 5, 5, 5, 5 }, 4, 0, 24000 > 1000 ? 1000 : 24000 }, /* tiny items: the maximum */
    { { 0, 0 }, 2, 0, 1000 },                              /* under 1 ms counts as 1 ms */
    { { 1000, 1000, 1000, 1000 }, 4, 0, 120 },             /* 1 s each: 120 per 2 minutes */
    { { 1000, 3000 }, 2, 0, 60 },                          /* the mean (2 s), not the median */
    { { 30000, 50000 }, 2, 0, 3 },                         /* 40 s each: 3 */
    { { 119000 }, 1, 0, 1 },                               /* about the target: 1 */
    { { 600000 }, 1, 0, 1 },                               /* longer than the target: 1 */
    { { 10, 10, 10 }, 3, 1, 3 }, /* one still running at the target counts as the target */
    { { 0 }, 0, 2, 1 },          /* none ended within the target: one per element */
};

START_TEST(test_pack_size)
{
    size_t got = wf__slurm_pack_size(pack_size_cases[_i].durations, pack_size_cases[_i].n,
                                     pack_size_cases[_i].unfinished);

    ck_assert_msg(got == pack_size_cases[_i].want, "case %d: got %zu, want %zu", _i, got,
                  pack_size_cases[_i].want);
}
END_TEST

START_TEST(test_pack_limit)
{
    /* No timeout: slurm.time or nothing. */
    ck_assert_int_eq(wf__slurm_pack_limit_min(10, 0, 0), 0);
    ck_assert_int_eq(wf__slurm_pack_limit_min(10, 0, 30), 30);
    /* 10 items of 20 s, each with the 5 s that `timeout -k 5` gives: 250 s -> 5 minutes. */
    ck_assert_int_eq(wf__slurm_pack_limit_min(10, 20000, 0), 5);
    ck_assert_int_eq(wf__slurm_pack_limit_min(1, 20000, 0), 1);
    /* slurm.time, when shorter, wins; when longer, the sum does. */
    ck_assert_int_eq(wf__slurm_pack_limit_min(10, 20000, 3), 3);
    ck_assert_int_eq(wf__slurm_pack_limit_min(10, 20000, 60), 5);
    ck_assert_int_eq(wf__slurm_pack_limit_min(1000, 600000, 0), 10084);
}
END_TEST

START_TEST(test_pack_script)
{
    char *with = wf__slurm_pack_script("/j/it's", "t x", "0022", 8, 5, 20, 1500);
    char *without = wf__slurm_pack_script("/j/d", "t", "0027", 0, 3, 7, 0);

    /* Element a runs items 8+5a .. up to 20 (exclusive), each in a subshell of its own. */
    ck_assert_ptr_nonnull(strstr(with, "d='/j/it'\\''s'\n"));
    ck_assert_ptr_nonnull(
        strstr(with, "k=$((8 + a * 5)); e=$((k + 5)); [ \"$e\" -le 20 ] || e=20\n"));
    ck_assert_ptr_nonnull(strstr(with, "    item \"$k\"\n"));
    /* Its own files, its umask, and its own timeout of 1.5 s. */
    ck_assert_ptr_nonnull(strstr(with, "exec 3>\"$d/out.$i\" 4>\"$d/err.$i\"\n"));
    ck_assert_ptr_nonnull(strstr(with, "umask 0022\n    timeout -k 5 1.500 /usr/bin/env -i -- "));
    ck_assert_ptr_nonnull(strstr(with, "    echo \"$1\" >\"$d/rc.$i\"\n"));
    ck_assert_ptr_nonnull(strstr(with, "echo 0 >\"$d/slurm-8.rc.$a\"\n"));
    ck_assert_ptr_null(strstr(without, "timeout"));
    ck_assert_ptr_nonnull(strstr(without, "umask 0027\n    /usr/bin/env -i -- "));
    free(with);
    free(without);
}
END_TEST

START_TEST(test_config_num)
{
    static const char config[] = "Configuration data as of 2026-12-06T22:00:00\n"
                                 "MaxArrayCount           = 7\n"
                                 "MaxArraySizeX           = 5\n"
                                 "MaxArraySize            = 1001\n"
                                 "MaxJobCount             = 10000\n";
    static const char garbage[] = "MaxArraySize            = lots\nMaxJobCount = 1\n";

    ck_assert_int_eq(wf__slurm_config_num(config, strlen(config), "MaxArraySize"), 1001);
    ck_assert_int_eq(wf__slurm_config_num(config, strlen(config), "MaxJobCount"), 10000);
    ck_assert_int_eq(wf__slurm_config_num(config, strlen(config), "MinJobAge"), -1);
    ck_assert_int_eq(wf__slurm_config_num(garbage, strlen(garbage), "MaxArraySize"), -1);
    ck_assert_int_eq(wf__slurm_config_num("MaxArraySize=77", 15, "MaxArraySize"), 77);
    ck_assert_int_eq(wf__slurm_config_num("MaxArraySize =", 14, "MaxArraySize"), -1);
    ck_assert_int_eq(wf__slurm_config_num("MaxArraySize 12", 15, "MaxArraySize"), -1);
    ck_assert_int_eq(wf__slurm_config_num("", 0, "MaxArraySize"), -1);
    /* Only the given length counts. */
    ck_assert_int_eq(wf__slurm_config_num(config, 60, "MaxArraySize"), -1);
}
END_TEST

START_TEST(test_sbatch_permanent)
{
    ck_assert(wf__slurm_sbatch_permanent(
        "sbatch: error: Batch job submission failed: Invalid partition name specified"));
    ck_assert(wf__slurm_sbatch_permanent(
        "sbatch: error: Batch job submission failed: Invalid job array specification"));
    ck_assert(wf__slurm_sbatch_permanent("sbatch: unrecognized option '--bogus'"));
    ck_assert(wf__slurm_sbatch_permanent("sbatch: error: Batch job submission failed: Requested "
                                         "node configuration is not available"));
    ck_assert(!wf__slurm_sbatch_permanent(
        "sbatch: error: Batch job submission failed: Socket timed out on send/recv operation"));
    ck_assert(!wf__slurm_sbatch_permanent("sbatch: error: Batch job submission failed: Job "
                                          "violates accounting/QOS policy (job submit limit)"));
    ck_assert(!wf__slurm_sbatch_permanent(
        "sbatch: error: Batch job submission failed: Resource temporarily unavailable"));
    ck_assert(!wf__slurm_sbatch_permanent(""));
    ck_assert(!wf__slurm_sbatch_permanent(NULL));
}
END_TEST

START_TEST(test_parse_datetime)
{
    int64_t a = wf__slurm_parse_datetime("2026-12-06T22:00:00");
    int64_t b = wf__slurm_parse_datetime("2026-12-06T22:01:02");
    int64_t c = wf__slurm_parse_datetime("2026-12-07T00:00:00");

    ck_assert_int_gt(a, 0);
    ck_assert_int_eq(b - a, 62);
    ck_assert_int_eq(c - a, 7200);
    ck_assert_int_eq(wf__slurm_parse_datetime("N/A"), -1);
    ck_assert_int_eq(wf__slurm_parse_datetime("Unknown"), -1);
    ck_assert_int_eq(wf__slurm_parse_datetime(""), -1);
    ck_assert_int_eq(wf__slurm_parse_datetime("2026-13-01T00:00:00"), -1);
    ck_assert_int_eq(wf__slurm_parse_datetime("2026-12-06T22:01:02x"), -1);
    ck_assert_int_eq(wf__slurm_parse_datetime("2026-12-06 22:01:02"), -1);
}
END_TEST

/* Checks the invariants of a split: pieces cover 0..n-1 in order, none larger than max, and
 * the elements that can run at once (one piece per lane) never exceed the concurrency. */
static void check_split(size_t n, long max, int conc)
{
    wf__slurm_piece *p;
    size_t count = wf__slurm_split(n, max, conc, &p), next = 0, lanes = 0;
    long running = 0;

    ck_assert_uint_eq(count, (n + (size_t)max - 1) / (size_t)max);
    for (size_t k = 0; k < count; k++) {
        ck_assert_uint_eq(p[k].first, next);
        ck_assert_uint_gt(p[k].n, 0);
        ck_assert_uint_le(p[k].n, (size_t)max);
        next += p[k].n;
        if (p[k].after < 0) {
            lanes++;
            running += p[k].concurrency > 0 ? p[k].concurrency : (long)p[k].n;
        } else {
            ck_assert_int_lt(p[k].after, (long)k);
        }
        ck_assert(conc == 0 || p[k].concurrency <= conc);
    }
    ck_assert_uint_eq(next, n);
    if (conc > 0)
        ck_assert_msg(running <= conc, "n %zu max %ld conc %d: %ld at once", n, max, conc, running);
    else
        ck_assert_uint_eq(lanes, count);
    free(p);
}

START_TEST(test_split)
{
    wf__slurm_piece *p;
    size_t count;

    /* 5,000 items at Slurm's default: five arrays, all at once. */
    count = wf__slurm_split(5000, 1001, 0, &p);
    ck_assert_uint_eq(count, 5);
    ck_assert_uint_eq(p[0].n, 1001);
    ck_assert_uint_eq(p[4].first, 4004);
    ck_assert_uint_eq(p[4].n, 996);
    for (size_t k = 0; k < count; k++) {
        ck_assert_int_eq(p[k].after, -1);
        ck_assert_int_eq(p[k].concurrency, 0);
    }
    free(p);
    /* 1,000 fit in 1001 (indexes 0..999). */
    count = wf__slurm_split(1000, 1001, 50, &p);
    ck_assert_uint_eq(count, 1);
    ck_assert_int_eq(p[0].concurrency, 50);
    free(p);
    /* 40 at 10 with concurrency 3: three lanes of %1, the fourth piece after the first. */
    count = wf__slurm_split(40, 10, 3, &p);
    ck_assert_uint_eq(count, 4);
    ck_assert_int_eq(p[0].after, -1);
    ck_assert_int_eq(p[2].after, -1);
    ck_assert_int_eq(p[3].after, 0);
    ck_assert_int_eq(p[3].concurrency, 1);
    free(p);
    /* concurrency 25 over four pieces of 10: 7+6+6+6, no chaining. */
    count = wf__slurm_split(40, 10, 25, &p);
    ck_assert_int_eq(p[0].concurrency, 7);
    ck_assert_int_eq(p[3].concurrency, 6);
    ck_assert_int_eq(p[3].after, -1);
    free(p);
    /* A share not below a piece's size is no limit. */
    count = wf__slurm_split(12, 10, 8, &p);
    ck_assert_int_eq(p[0].concurrency, 4);
    ck_assert_int_eq(p[1].concurrency, 0);
    free(p);
    /* A nonsense MaxArraySize is taken as 1. */
    count = wf__slurm_split(3, 0, 0, &p);
    ck_assert_uint_eq(count, 3);
    free(p);
    for (size_t n = 1; n <= 30; n++) {
        for (long max = 1; max <= 12; max++) {
            for (int conc = 0; conc <= 9; conc++)
                check_split(n, max, conc);
        }
    }
}
END_TEST

/* ---- against a fake Slurm ------------------------------------------------------------------ */

/* The fake cluster: sbatch runs the batch script for each element at once (unless the file
 * "hold" exists), and records its arguments and each element's exit status; scontrol reports
 * those as final states; squeue lists held elements until scancel marks them cancelled. */
static const char FAKE_SBATCH[] =
    "n=$(cat \"$F/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$F/count\"\n"
    "printf '%s\\n' \"$@\" >\"$F/sbatch.args.$n\"; env >\"$F/sbatch.env.$n\"\n"
    "if [ -f \"$F/sbatch.fail\" ]; then cat \"$F/sbatch.fail\" >&2; exit 1; fi\n"
    "if [ -f \"$F/sbatch.fail.$n\" ]; then cat \"$F/sbatch.fail.$n\" >&2; exit 1; fi\n"
    "id=$((4240 + n)); arr=; out=; err=\n"
    "for a; do case $a in --array=*) arr=${a#--array=};; --output=*) out=${a#--output=};;\n"
    "  --error=*) err=${a#--error=};; esac; script=$a; done\n"
    "last=0; if [ -n \"$arr\" ]; then last=${arr#0-}; last=${last%%%*}; echo >\"$F/array.$id\"; fi\n"
    ": >\"$F/state.$id\"; echo $last >\"$F/last.$id\"\n"
    "if [ -f \"$F/hold\" ]; then echo >\"$F/held.$id\"; echo $id; exit 0; fi\n"
    "i=0; while [ $i -le $last ]; do\n"
    "  o=$(printf %s \"$out\" | sed \"s/%a/$i/\"); e=$(printf %s \"$err\" | sed \"s/%a/$i/\")\n"
    "  ( umask \"${SLURM_UMASK:-0022}\"; ( export SLURM_JOB_ID=$((id * 100 + i))\n"
    "    if [ -n \"$arr\" ]; then export SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i; fi\n"
    "    exec /bin/sh \"$script\" ) >\"$o\" 2>\"$e\" )\n"
    "  echo \"$i $?\" >>\"$F/state.$id\"; i=$((i + 1))\n"
    "done\n"
    "echo \"$id;fakecluster\"\n";

static const char FAKE_SQUEUE[] =
    "date +%s%N >>\"$F/squeue.calls\"\n"
    "for a; do ids=$a; done\n"
    "for id in $(echo \"$ids\" | tr , ' '); do\n"
    "  [ -f \"$F/held.$id\" ] && [ ! -f \"$F/cancelled.$id\" ] || continue\n"
    "  last=$(cat \"$F/last.$id\"); i=0\n"
    "  while [ $i -le $last ]; do\n"
    "    if [ -f \"$F/array.$id\" ]; then echo \"${id}_$i PENDING\"; else echo \"$id PENDING\"; fi\n"
    "    i=$((i + 1)); done\n"
    "done\n";

static const char FAKE_SCONTROL[] =
    "if [ \"$2\" = config ]; then [ -f \"$F/config\" ] || { echo 'no config here' >&2; exit 1; };"
    " cat \"$F/config\"; exit 0; fi\n"
    "for a; do id=$a; done\n"
    "if [ -f \"$F/forget\" ]; then echo 'slurm_load_jobs error: Invalid job id specified' >&2;"
    " exit 1; fi\n"
    "rec() { if [ -f \"$F/array.$id\" ]; then\n"
    "  echo \"JobId=$((id * 100 + $1)) ArrayJobId=$id ArrayTaskId=$1 JobName=wf-t UserId=me(1)"
    " JobState=$2 Reason=None ExitCode=$3 RunTime=00:00:01 Command=/x y\"\n"
    "  else echo \"JobId=$id JobName=wf-t JobState=$2 Reason=None ExitCode=$3 RunTime=00:00:01\";"
    " fi; }\n"
    "if [ -f \"$F/cancelled.$id\" ] && [ -f \"$F/held.$id\" ]; then\n"
    "  if [ ! -f \"$F/array.$id\" ]; then rec 0 CANCELLED 0:15; exit 0; fi\n"
    "  echo \"JobId=$id ArrayJobId=$id ArrayTaskId=1-$(cat \"$F/last.$id\")%2 JobState=CANCELLED"
    " Reason=None ExitCode=0:0\"\n"
    "  rec 0 CANCELLED 0:15; exit 0; fi\n"
    "if [ -f \"$F/held.$id\" ]; then echo \"JobId=$id ArrayJobId=$id ArrayTaskId=0-9 "
    "JobState=PENDING ExitCode=0:0\"; exit 0; fi\n"
    "while read -r i rc; do\n"
    "  if [ \"$rc\" = 0 ]; then rec $i COMPLETED 0:0; else rec $i FAILED $rc:0; fi\n"
    "done <\"$F/state.$id\"\n";

static const char FAKE_SCANCEL[] = "for a; do echo >\"$F/cancelled.$a\"; done\n";
static const char FAKE_SACCT[] = "echo 'Slurm accounting storage is disabled' >&2; exit 1\n";
static const char FAKE_SINFO[] =
    "if [ -f \"$F/down\" ]; then echo 'sinfo: error: Unable to contact slurm controller "
    "(connect failure)' >&2; exit 1; fi\necho 'debug up'\n";

/* Writes the fake tools into dir/bin and puts them first on the PATH. */
static void fake_slurm(const char *dir)
{
    static const struct {
        const char *name, *body;
    } tools[] = {
        { "sbatch", FAKE_SBATCH },   { "squeue", FAKE_SQUEUE }, { "scontrol", FAKE_SCONTROL },
        { "scancel", FAKE_SCANCEL }, { "sacct", FAKE_SACCT },   { "sinfo", FAKE_SINFO },
    };
    char path[4096];

    snprintf(path, sizeof(path), "%s/bin", dir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    for (size_t k = 0; k < sizeof(tools) / sizeof(tools[0]); k++) {
        char *text = malloc(strlen(tools[k].body) + strlen(dir) + 64);

        sprintf(text, "#!/bin/sh\nF='%s/bin'\n%s", dir, tools[k].body);
        snprintf(path, sizeof(path), "%s/bin/%s", dir, tools[k].name);
        write_text(path, text, 0755);
        free(text);
    }
    snprintf(path, sizeof(path), "%s/bin:/usr/bin:/bin", dir);
    setenv("PATH", path, 1);
    /* The fake answers at once: no need for the rate limit (unless a test sets one). */
    setenv("WF_SLURM_CALLS_PER_S", "1000", 0);
}

static wf_slurm *new_executor_keep(const char *dir, collector *c, bool keep)
{
    char path[4096];
    wf_error err;
    wf_slurm *s;

    wf_error_init(&err);
    snprintf(path, sizeof(path), "%s/jobs/run 1", dir);
    s = wf_slurm_new(path, 50, keep, on_done, c, &err);
    ck_assert_msg(s != NULL, "wf_slurm_new: %s", err.message);
    wf_error_release(&err);
    return s;
}

static wf_slurm *new_executor(const char *dir, collector *c)
{
    return new_executor_keep(dir, c, false);
}

static char *fake_file(const char *dir, const char *name)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/bin/%s", dir, name);
    return read_file(path);
}

/* The files of one element in its submission directory. */
static const char *const element_files[] = { "cmd", "env", "dir", "out", "err", "rc" };

START_TEST(test_fake_roundtrip)
{
    static const char *const env0[] = {
        "PATH=/usr/bin:/bin",
        "QUOTE=it's \"q\" $HOME `x` \\n '' \\",
        "NL=a\nb\n",
        "EQ=a=b=c",
        "SPACE=  lead and  trail  ",
        "EMPTY=",
        "A-B=not an identifier",
        "=no name",
        "no equals sign",
        NULL,
    };
    static const char *const env1[] = { "PATH=/usr/bin:/bin", "ONLY=one", NULL };
    static const char script0[] =
        "printf '%s|' \"$QUOTE\" \"$NL\" \"$EQ\" \"$SPACE\" \"$EMPTY\" \"${HOME-unset}\" "
        "\"${SLURM_ARRAY_TASK_ID-none}\" \"${ONLY-unset}\"\npwd";
    static const char script1[] = "cat <<'EOF'\n$not expanded 'x'\nEOF\necho \"$ONLY\"; pwd\n"
                                  "echo to-stderr >&2";
    static const char *const extra[] = { "--comment=hello world", "--qos=normal", NULL };
    char *dir = temp_dir(), cwd[2048], abs_dir[4096], want[8192];
    char *args, *sbatch_env;
    wf_slurm_element el[3];
    wf_slurm_opts opts = { .partition = "debug",
                           .time = "2:00:00",
                           .cpus = 2,
                           .mem = "100M",
                           .account = "proj 42",
                           .qos = "high",
                           .gpus = "a100:2",
                           .constraint = "x86&avx2",
                           .extra = extra };
    collector c;
    wf_error err;
    wf_slurm *s;
    int rc;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(mkdir("rel dir", 0755), 0);
    snprintf(abs_dir, sizeof(abs_dir), "%s/it's abs", cwd);
    ck_assert_int_eq(mkdir(abs_dir, 0755), 0);
    /* The element's command gets wfengine's umask, not the job's 0077. */
    umask(027);
    setenv("WF_CHECK_TOKEN", "engine-token", 1);
    setenv("SBATCH_COMMENT", "kept", 1);
    setenv("SLURM_UMASK", "0022", 1);
    s = new_executor(dir, &c);

    el[0] = (wf_slurm_element){ 10, 1, script0, env0, NULL };
    el[1] = (wf_slurm_element){ 11, 1, script1, env1, "rel dir" };
    el[2] = (wf_slurm_element){ 12, 2, "pwd; umask; exit 0", env1, abs_dir };
    rc = wf_slurm_submit(s, 7, "fan out/x", el, 3, true, 2, &opts, 61000, NULL, &err);
    ck_assert_msg(rc == WF_OK, "submit: %s", err.message);
    ck_assert_uint_eq(wait_results(&c, 3, 20000), 3);
    /* pending drops only after the callback has returned: give the poller a moment. */
    for (int i = 0; i < 200 && wf_slurm_pending(s) != 0; i++)
        nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
    ck_assert_uint_eq(wf_slurm_pending(s), 0);

    for (uint32_t u = 10; u <= 12; u++) {
        ck_assert_int_eq(c.res[u].status, WF_STATUS_SUCCEEDED);
        ck_assert_int_eq(c.res[u].task, 7);
        ck_assert_int_eq(c.res[u].exit_code, 0);
        ck_assert_ptr_null(c.res[u].error);
        ck_assert(!c.res[u].timed_out);
        ck_assert(c.res[u].end_ms >= c.res[u].start_ms);
    }
    ck_assert_uint_eq(c.res[12].attempt, 2);
    ck_assert_str_eq(c.res[10].job_id, "4241_0");
    ck_assert_str_eq(c.res[12].job_id, "4241_2");

    snprintf(want, sizeof(want),
             "it's \"q\" $HOME `x` \\n '' \\|a\nb\n|a=b=c|  lead and  trail  ||unset|0|unset|%s\n",
             cwd);
    ck_assert_str_eq(c.res[10].out, want);
    snprintf(want, sizeof(want), "$not expanded 'x'\none\n%s/rel dir\n", cwd);
    ck_assert_str_eq(c.res[11].out, want);
    ck_assert_str_eq(c.res[11].err, "to-stderr\n");
    snprintf(want, sizeof(want), "%s\n0027\n", abs_dir);
    ck_assert_str_eq(c.res[12].out, want);

    /* One sbatch, with the options as flags; the timeout (61 s) rounds up to 2 minutes and is
     * shorter than slurm.time (2 h). */
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(args);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.2"));
    ck_assert_ptr_nonnull(strstr(args, "--parsable\n"));
    /* sbatch exports its environment into Slurm's job record: it gets only what configures
     * it, never wfengine's other variables (a token); the job (and so its out.i and err.i)
     * runs under umask 0077. */
    ck_assert_ptr_nonnull(strstr(args, "--export=ALL\n"));
    sbatch_env = fake_file(dir, "sbatch.env.1");
    ck_assert_ptr_nonnull(strstr(sbatch_env, "\nSLURM_UMASK=0077\n"));
    ck_assert_ptr_nonnull(strstr(sbatch_env, "\nSBATCH_COMMENT=kept\n"));
    ck_assert_ptr_nonnull(strstr(sbatch_env, "\nPATH="));
    ck_assert_msg(strstr(sbatch_env, "engine-token") == NULL, "sbatch got: %s", sbatch_env);
    ck_assert_ptr_nonnull(strstr(args, "--job-name=wf-fan_out_x\n"));
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%2\n"));
    ck_assert_ptr_nonnull(strstr(args, "--partition=debug\n"));
    ck_assert_ptr_nonnull(strstr(args, "--time=2\n"));
    ck_assert_ptr_null(strstr(args, "--time=120\n"));
    ck_assert_ptr_nonnull(strstr(args, "--cpus-per-task=2\n"));
    /* The first-class keys, in this order, then extra (which may override them). */
    ck_assert_ptr_nonnull(strstr(args, "--mem=100M\n--account=proj 42\n--qos=high\n"
                                       "--gpus=a100:2\n--constraint=x86&avx2\n"
                                       "--comment=hello world\n--qos=normal\n"));
    ck_assert_ptr_nonnull(strstr(args, "/jobs/run 1/fan_out_x-1/out.%a\n"));
    ck_assert_ptr_nonnull(strstr(args, "/jobs/run 1/fan_out_x-1/array.sh\n"));

    /* A reported element's files are gone (commands and environments may hold secrets);
     * the batch script stays until the end of the run, then the whole job directory goes. */
    for (size_t k = 0; k < WF_ARRAY_LEN(element_files); k++) {
        for (int i = 0; i < 3; i++) {
            snprintf(want, sizeof(want), "%s/jobs/run 1/fan_out_x-1/%s.%d", dir, element_files[k],
                     i);
            ck_assert_msg(!exists(want), "%s is left after the element ended", want);
        }
    }
    snprintf(want, sizeof(want), "%s/jobs/run 1/fan_out_x-1/array.sh", dir);
    ck_assert(exists(want));

    wf_slurm_free(s);
    snprintf(want, sizeof(want), "%s/jobs/run 1", dir);
    ck_assert_msg(!exists(want), "%s is left after wf_slurm_free", want);
    snprintf(want, sizeof(want), "%s/jobs", dir);
    ck_assert(exists(want)); /* only what the executor made goes */
    ck_assert(!c.duplicate);
    free(sbatch_env);
    free(args);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* Elements that print nothing: stdout and stderr are "" (allocated, terminated), never the
 * heap bytes an empty output file once came back as. Several elements, as the bug showed in
 * most of them but not all (the fake runs them one after the other: a few dozen keep the
 * test quick under TSan; tests/slurm/e2e.sh runs 200 on a real cluster). */
START_TEST(test_fake_empty_output)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    enum { N = 40 };
    static wf_slurm_element el[N];
    char *dir = temp_dir();
    collector *c = malloc(sizeof(*c));
    wf_error err;
    wf_slurm *s;

    collector_init(c);
    wf_error_init(&err);
    fake_slurm(dir);
    s = new_executor(dir, c);
    for (uint32_t i = 0; i < N; i++)
        el[i] = (wf_slurm_element){ i, 1, i % 2 ? "true" : ":", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "quiet", el, N, true, 0, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(c, N, 50000), N);
    for (uint32_t i = 0; i < N; i++) {
        ck_assert_int_eq(c->res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_ptr_nonnull(c->res[i].out);
        ck_assert_ptr_nonnull(c->res[i].err);
        ck_assert_msg(c->res[i].out[0] == '\0' && c->res[i].err[0] == '\0',
                      "element %u: stdout starts with 0x%02x, stderr with 0x%02x, want \"\"", i,
                      (unsigned char)c->res[i].out[0], (unsigned char)c->res[i].err[0]);
        ck_assert_ptr_null(c->res[i].out_path);
    }
    wf_slurm_free(s);
    wf_error_release(&err);
    collector_release(c);
    free(c);
    remove_dir(dir);
}
END_TEST

/* keep_files: every file stays after the elements ended and after wf_slurm_free, readable by
 * the user only (files 0600 or 0700, directories 0700), whatever wfengine's umask. */
START_TEST(test_fake_keep_files)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", "TOKEN=s3cr3t-kept", NULL };
    char *dir = temp_dir(), path[4096], *text;
    wf_slurm_element el[2];
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    umask(0);
    s = new_executor_keep(dir, &c, true);
    el[0] = (wf_slurm_element){ 0, 1, "echo \"$TOKEN\"; echo \"$TOKEN\" >&2", env, NULL };
    el[1] = (wf_slurm_element){ 1, 1, "exit 2", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "keep", el, 2, true, 0, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 2, 20000), 2);
    ck_assert_str_eq(c.res[0].out, "s3cr3t-kept\n");
    wf_slurm_free(s);
    for (size_t k = 0; k < WF_ARRAY_LEN(element_files); k++) {
        for (int i = 0; i < 2; i++) {
            struct stat st;

            snprintf(path, sizeof(path), "%s/jobs/run 1/keep-1/%s.%d", dir, element_files[k], i);
            ck_assert_msg(stat(path, &st) == 0, "%s was not kept", path);
            ck_assert_msg((st.st_mode & 077) == 0, "%s has mode %03o", path,
                          (unsigned)(st.st_mode & 0777));
        }
    }
    snprintf(path, sizeof(path), "%s/jobs/run 1/keep-1/out.0", dir);
    text = read_file(path);
    ck_assert_str_eq(text, "s3cr3t-kept\n");
    free(text);
    snprintf(path, sizeof(path), "%s/jobs/run 1/keep-1/rc.1", dir);
    text = read_file(path);
    ck_assert_str_eq(text, "2\n");
    free(text);
    {
        const char *dirs[] = { "jobs", "jobs/run 1", "jobs/run 1/keep-1" };

        for (size_t k = 0; k < WF_ARRAY_LEN(dirs); k++) {
            struct stat st;

            snprintf(path, sizeof(path), "%s/%s", dir, dirs[k]);
            ck_assert_int_eq(stat(path, &st), 0);
            ck_assert_msg((st.st_mode & 0777) == 0700, "%s has mode %03o", path,
                          (unsigned)(st.st_mode & 0777));
        }
    }
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_fake_failure_and_single)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), *args;
    wf_slurm_element el[3];
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    s = new_executor(dir, &c);
    el[0] = (wf_slurm_element){ 0, 1, "echo ok", env, NULL };
    el[1] = (wf_slurm_element){ 1, 1, "echo partial; echo boom >&2; exit 3", env, NULL };
    el[2] = (wf_slurm_element){ 2, 1, "kill -9 $$", env, "/nonexistent/dir" };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 3, true, 0, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 3, 20000), 3);
    ck_assert_int_eq(c.res[0].status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(c.res[0].out, "ok\n");
    ck_assert_int_eq(c.res[1].status, WF_STATUS_FAILED);
    ck_assert_int_eq(c.res[1].exit_code, 3);
    ck_assert_str_eq(c.res[1].out, "partial\n");
    ck_assert_str_eq(c.res[1].err, "boom\n");
    ck_assert_str_eq(c.res[1].error, "job 4241_1 FAILED: exit code 3");
    /* An unusable workdir: 125 and a message on stderr, as for local units. */
    ck_assert_int_eq(c.res[2].status, WF_STATUS_FAILED);
    ck_assert_int_eq(c.res[2].exit_code, 125);
    ck_assert_ptr_nonnull(strstr(c.res[2].err, "cannot change directory to '/nonexistent/dir'"));
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2\n"));
    ck_assert_ptr_null(strstr(args, "--time"));
    ck_assert_ptr_null(strstr(args, "--partition"));
    free(args);

    /* A plain task: a single job, no --array, no SLURM_ARRAY_TASK_ID. */
    el[0] = (wf_slurm_element){ 5, 3, "echo \"${SLURM_ARRAY_TASK_ID-none}\"; exit 4", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 1, "one", el, 1, false, 0, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 4, 20000), 4);
    ck_assert_int_eq(c.res[5].task, 1);
    ck_assert_int_eq(c.res[5].attempt, 3);
    ck_assert_str_eq(c.res[5].job_id, "4242");
    ck_assert_str_eq(c.res[5].out, "none\n");
    ck_assert_str_eq(c.res[5].error, "job 4242 FAILED: exit code 4");
    args = fake_file(dir, "sbatch.args.2");
    ck_assert_ptr_null(strstr(args, "--array"));
    ck_assert_ptr_nonnull(strstr(args, "/one-2/out.0\n"));
    free(args);

    /* A 1-element with-items task stays an array. */
    el[0] = (wf_slurm_element){ 6, 1, "true", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 2, "t", el, 1, true, 4, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 5, 20000), 5);
    ck_assert_str_eq(c.res[6].job_id, "4243_0");
    args = fake_file(dir, "sbatch.args.3");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-0\n"));
    free(args);

    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* A packed submission: 7 items, 3 per element, one after the other in each element, each with
 * its own output, exit code, timeout and message; only the items' result counts. */
START_TEST(test_fake_pack)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", "WHO=x", NULL };
    static const char *const env2[] = { "PATH=/usr/bin:/bin", "WHO=y", NULL };
    char *dir = temp_dir(), *args, path[4096];
    wf_slurm_element el[7];
    wf_slurm_opts opts = { .pack = 3 };
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    s = new_executor(dir, &c);
    el[0] = (wf_slurm_element){ 0, 1, "echo \"0 $WHO $SLURM_ARRAY_TASK_ID\"", env, NULL };
    el[1] = (wf_slurm_element){ 1, 1, "echo out1; echo err1 >&2; exit 3", env, NULL };
    el[2] = (wf_slurm_element){ 2, 2, "echo \"2 $WHO\"; pwd", env2, "/tmp" };
    el[3] = (wf_slurm_element){ 3, 1, "sleep 5", env, NULL };
    el[4] = (wf_slurm_element){ 4, 1, "echo after-timeout", env, "/nonexistent/dir" };
    el[5] = (wf_slurm_element){ 5, 1, "echo 5 >\"$WF_RESULT\"", env, NULL };
    el[6] = (wf_slurm_element){ 6, 1, "echo last", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 4, "p", el, 7, true, 2, &opts, 1000, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 7, 30000), 7);

    /* One sbatch, three elements (3 + 3 + 1), at most 2 at once; a --time for 3 items of 1 s
     * with their 5 s of grace: 1 minute. */
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.2"));
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%2\n"));
    ck_assert_ptr_nonnull(strstr(args, "--time=1\n"));
    ck_assert_ptr_nonnull(strstr(args, "/p-1/slurm-0.out.%a\n"));
    ck_assert_ptr_nonnull(strstr(args, "/p-1/slurm-0.sh\n"));
    free(args);

    ck_assert_int_eq(c.res[0].status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(c.res[0].out, "0 x 0\n");
    ck_assert_str_eq(c.res[0].job_id, "4241_0");
    ck_assert_int_eq(c.res[0].task, 4);
    ck_assert_int_eq(c.res[1].status, WF_STATUS_FAILED);
    ck_assert_int_eq(c.res[1].exit_code, 3);
    ck_assert_str_eq(c.res[1].out, "out1\n");
    ck_assert_str_eq(c.res[1].err, "err1\n");
    ck_assert_str_eq(c.res[1].error, "job 4241_0 (item 2 of 3 in its pack) FAILED: exit code 3");
    ck_assert_int_eq(c.res[2].status, WF_STATUS_SUCCEEDED);
    ck_assert_uint_eq(c.res[2].attempt, 2);
    ck_assert_str_eq(c.res[2].out, "2 y\n/tmp\n");
    /* The item's own timeout (1 s) stops it; the next item of the pack still runs. */
    ck_assert_int_eq(c.res[3].status, WF_STATUS_FAILED);
    ck_assert(c.res[3].timed_out);
    ck_assert_int_eq(c.res[3].exit_code, 124);
    ck_assert_str_eq(c.res[3].job_id, "4241_1");
    ck_assert_str_eq(c.res[3].error,
                     "job 4241_1 (item 1 of 3 in its pack) FAILED: timed out after 1000ms (exit "
                     "code 124)");
    ck_assert_msg(c.res[3].end_ms - c.res[3].start_ms >= 900, "ran %lld ms",
                  (long long)(c.res[3].end_ms - c.res[3].start_ms));
    ck_assert_int_eq(c.res[4].exit_code, 125);
    ck_assert_ptr_nonnull(strstr(c.res[4].err, "cannot change directory to '/nonexistent/dir'"));
    ck_assert(!c.res[4].timed_out);
    ck_assert_int_eq(c.res[5].status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(c.res[5].result, "5\n");
    ck_assert_str_eq(c.res[6].out, "last\n");
    ck_assert_str_eq(c.res[6].job_id, "4241_2");

    /* Reported items leave no files (removed once the callback has returned, before pending
     * drops); the element's own ones go too. */
    for (int i = 0; i < 200 && wf_slurm_pending(s) != 0; i++)
        sleep_ms(10);
    snprintf(path, sizeof(path), "%s/jobs/run 1/p-1/rc.3", dir);
    ck_assert(!exists(path));
    snprintf(path, sizeof(path), "%s/jobs/run 1/p-1/begin.6", dir);
    ck_assert(!exists(path));
    /* (The element ends just after its last item has been reported.) */
    snprintf(path, sizeof(path), "%s/jobs/run 1/p-1/slurm-0.out.2", dir);
    for (int i = 0; i < 100 && exists(path); i++)
        sleep_ms(20);
    ck_assert(!exists(path));
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* pack: auto: a probe of WF_SLURM_PACK_PROBE items one per element, then the rest of tiny
 * items in one element (at most WF_SLURM_PACK_MAX). */
START_TEST(test_fake_pack_auto)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    enum { N = 20 };
    char *dir = temp_dir(), *args, script[N][32];
    wf_slurm_element el[N];
    wf_slurm_opts opts = { .pack = WF_SLURM_PACK_AUTO };
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    s = new_executor(dir, &c);
    for (int i = 0; i < N; i++) {
        snprintf(script[i], sizeof(script[i]), "echo %d", i);
        el[i] = (wf_slurm_element){ (uint32_t)i, 1, script[i], env, NULL };
    }
    ck_assert_int_eq(wf_slurm_submit(s, 0, "auto", el, N, true, 0, &opts, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, N, 30000), N);
    for (int i = 0; i < N; i++) {
        char want[16];

        snprintf(want, sizeof(want), "%d\n", i);
        ck_assert_int_eq(c.res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_str_eq(c.res[i].out, want);
    }
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-7\n"));
    ck_assert_ptr_nonnull(strstr(args, "/auto-1/slurm-0.sh\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.2");
    ck_assert_ptr_nonnull(args);
    ck_assert_ptr_nonnull(strstr(args, "--array=0-0\n"));
    ck_assert_ptr_nonnull(strstr(args, "/auto-1/slurm-8.sh\n"));
    free(args);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.3"));
    ck_assert_str_eq(c.res[8].job_id, "4242_0");
    ck_assert_str_eq(c.res[19].job_id, "4242_0");

    /* Few items (a retry): all of them the probe, one per element, one sbatch. */
    el[0].attempt = 2;
    el[0].unit = 100;
    ck_assert_int_eq(wf_slurm_submit(s, 0, "auto", el, 1, true, 0, &opts, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, N + 1, 30000), N + 1);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.4"));
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* A packed array cancelled while pending: every item ends cancelled; pack: auto's waiting
 * items are never submitted. */
START_TEST(test_fake_pack_cancel)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    enum { N = 12 };
    char *dir = temp_dir(), path[4096];
    wf_slurm_element el[N];
    wf_slurm_opts opts = { .pack = WF_SLURM_PACK_AUTO };
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/hold", dir);
    write_text(path, "", 0644);
    s = new_executor(dir, &c);
    for (int i = 0; i < N; i++)
        el[i] = (wf_slurm_element){ (uint32_t)i, 1, "true", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, N, true, 0, &opts, 0, NULL, &err), WF_OK);
    sleep_ms(200);
    ck_assert_uint_eq(c.count, 0);
    wf_slurm_cancel_all(s);
    ck_assert_uint_eq(wait_results(&c, N, 20000), N);
    for (int i = 0; i < N; i++)
        ck_assert_msg(c.res[i].status == WF_STATUS_CANCELLED, "item %d: %s", i, c.res[i].error);
    ck_assert_ptr_nonnull(strstr(c.res[0].error, "(item 1 of 1 in its pack) CANCELLED: "
                                                 "cancelled by wfengine before it started"));
    ck_assert_ptr_nonnull(strstr(c.res[N - 1].error, "not submitted to Slurm: the run was "
                                                     "cancelled"));
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.2"));
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* A packed task larger than MaxArraySize (3 here) is split by whole packs, like an unpacked
 * one: 13 items, 2 per element, are 7 elements in three arrays, two lanes of %1 (the third
 * waits for the first); each array has its own element script; the first-class keys reach
 * every sbatch. */
START_TEST(test_fake_pack_split)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    enum { N = 13 };
    char *dir = temp_dir(), *args, path[4096], script[N][32];
    wf_slurm_element el[N];
    wf_slurm_opts opts = {
        .account = "proj", .qos = "high", .gpus = "2", .constraint = "avx2", .pack = 2
    };
    size_t accepted = 0;
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/config", dir);
    write_text(path, "MaxArraySize            = 3\n", 0644);
    s = new_executor(dir, &c);
    for (int i = 0; i < N; i++) {
        snprintf(script[i], sizeof(script[i]), "echo %d", i);
        el[i] = (wf_slurm_element){ (uint32_t)i, 1, script[i], env, NULL };
    }
    ck_assert_int_eq(wf_slurm_submit(s, 0, "ps", el, N, true, 2, &opts, 0, &accepted, &err), WF_OK);
    ck_assert_uint_eq(accepted, N);
    ck_assert_uint_eq(wait_results(&c, N, 30000), N);
    for (int i = 0; i < N; i++) {
        char want[16];

        snprintf(want, sizeof(want), "%d\n", i);
        ck_assert_int_eq(c.res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_str_eq(c.res[i].out, want);
    }
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%1\n"));
    ck_assert_ptr_null(strstr(args, "--dependency"));
    ck_assert_ptr_nonnull(strstr(args, "/ps-1/slurm-0.sh\n"));
    ck_assert_ptr_nonnull(
        strstr(args, "--account=proj\n--qos=high\n--gpus=2\n--constraint=avx2\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.2");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%1\n"));
    ck_assert_ptr_nonnull(strstr(args, "/ps-1/slurm-6.sh\n"));
    ck_assert_ptr_nonnull(strstr(args, "--account=proj\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.3");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-0\n"));
    ck_assert_ptr_nonnull(strstr(args, "--dependency=afterany:4241\n"));
    ck_assert_ptr_nonnull(strstr(args, "/ps-1/slurm-12.sh\n"));
    ck_assert_ptr_nonnull(strstr(args, "--constraint=avx2\n"));
    free(args);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.4"));
    ck_assert_str_eq(c.res[1].job_id, "4241_0");
    ck_assert_str_eq(c.res[7].job_id, "4242_0");
    ck_assert_str_eq(c.res[11].job_id, "4242_2");
    ck_assert_str_eq(c.res[12].job_id, "4243_0");
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* pack: auto at MaxArraySize 3: a probe of 3, and items that ran 100 s each (their begin
 * files backdated) give packs of one, so the rest (7 items, submitted by the poller) is
 * split into arrays of 3, 3 and 1. */
START_TEST(test_fake_pack_auto_split)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    enum { N = 10 };
    char *dir = temp_dir(), *args, path[4096];
    wf_slurm_element el[N];
    wf_slurm_opts opts = { .pack = WF_SLURM_PACK_AUTO };
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/config", dir);
    write_text(path, "MaxArraySize            = 3\n", 0644);
    s = new_executor(dir, &c);
    for (int i = 0; i < N; i++)
        el[i] = (wf_slurm_element){ (uint32_t)i, 1,
                                    "touch -d @$(($(date +%s) - 100)) "
                                    "\"${WF_RESULT%/result.*}/begin.${WF_RESULT##*.}\"",
                                    env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "au", el, N, true, 0, &opts, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, N, 30000), N);
    for (int i = 0; i < N; i++)
        ck_assert_msg(c.res[i].status == WF_STATUS_SUCCEEDED, "item %d: %s", i, c.res[i].error);
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2\n"));
    ck_assert_ptr_nonnull(strstr(args, "/au-1/slurm-0.sh\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.2");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2\n"));
    ck_assert_ptr_nonnull(strstr(args, "/au-1/slurm-3.sh\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.3");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2\n"));
    ck_assert_ptr_nonnull(strstr(args, "/au-1/slurm-6.sh\n"));
    free(args);
    args = fake_file(dir, "sbatch.args.4");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-0\n"));
    ck_assert_ptr_nonnull(strstr(args, "/au-1/slurm-9.sh\n"));
    free(args);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.5"));
    ck_assert_str_eq(c.res[9].job_id, "4244_0");
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_fake_forgotten)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096];
    wf_slurm_element el[2];
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    /* scontrol has purged the job and there is no accounting: the rc files tell. */
    snprintf(path, sizeof(path), "%s/bin/forget", dir);
    write_text(path, "", 0644);
    s = new_executor(dir, &c);
    el[0] = (wf_slurm_element){ 0, 1, "echo a", env, NULL };
    el[1] = (wf_slurm_element){ 1, 1, "exit 9", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 2, true, 0, NULL, 0, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 2, 20000), 2);
    ck_assert_int_eq(c.res[0].status, WF_STATUS_SUCCEEDED);
    ck_assert_str_eq(c.res[0].out, "a\n");
    ck_assert_int_eq(c.res[1].status, WF_STATUS_FAILED);
    ck_assert_int_eq(c.res[1].exit_code, 9);
    ck_assert_ptr_nonnull(strstr(c.res[1].error, "job 4241_1 FAILED: exit code 9 (Slurm no "
                                                 "longer knew the job; exit status from its rc "
                                                 "file)"));
    wf_slurm_free(s);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_fake_cancel)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096];
    wf_slurm_element el[4];
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/hold", dir);
    write_text(path, "", 0644);
    s = new_executor(dir, &c);
    for (uint32_t i = 0; i < 4; i++)
        el[i] = (wf_slurm_element){ i, 1, "sleep 100", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 4, true, 0, NULL, 0, NULL, &err), WF_OK);
    sleep_ms(300);
    ck_assert_uint_eq(c.count, 0);
    ck_assert_uint_eq(wf_slurm_pending(s), 4);
    wf_slurm_cancel_all(s);
    wf_slurm_cancel_all(s);
    ck_assert_uint_eq(wait_results(&c, 4, 20000), 4);
    /* Element 0 had started (its own record); 1-3 never did (one range record). */
    for (uint32_t i = 0; i < 4; i++) {
        char want[64];

        snprintf(want, sizeof(want), "job 4241_%u CANCELLED: cancelled by wfengine", i);
        ck_assert_int_eq(c.res[i].status, WF_STATUS_CANCELLED);
        ck_assert_str_eq(c.res[i].error, want);
        ck_assert_int_eq(c.res[i].exit_code, i == 0 ? 143 : -1);
    }
    snprintf(path, sizeof(path), "%s/bin/cancelled.4241", dir);
    ck_assert(exists(path));
    /* Nothing more after a cancel. */
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 1, true, 0, NULL, 0, NULL, &err),
                     WF_ECANCELLED);
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_fake_free_cancels)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096];
    wf_slurm_element el[2];
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/hold", dir);
    write_text(path, "", 0644);
    s = new_executor(dir, &c);
    el[0] = (wf_slurm_element){ 0, 1, "sleep 100", env, NULL };
    el[1] = (wf_slurm_element){ 1, 1, "sleep 100", env, NULL };
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 2, true, 0, NULL, 0, NULL, &err), WF_OK);
    wf_slurm_free(s);
    ck_assert_uint_eq(c.count, 2);
    ck_assert_int_eq(c.res[0].status, WF_STATUS_CANCELLED);
    ck_assert_int_eq(c.res[1].status, WF_STATUS_CANCELLED);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_fake_sbatch_fails)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096];
    wf_slurm_element el = { 0, 1, "true", env, NULL };
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/sbatch.fail", dir);
    write_text(path,
               "sbatch: error: Batch job submission failed: Invalid partition name specified\n",
               0644);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", &el, 1, true, 0, NULL, 0, NULL, &err), WF_EINVAL);
    ck_assert_str_eq(err.message, "task 't': cannot submit 1 element to Slurm: sbatch failed "
                                  "(exit 1): sbatch: error: Batch job submission failed: "
                                  "Invalid partition name specified");
    ck_assert_uint_eq(wf_slurm_pending(s), 0);
    /* Nothing is left of the refused submission. */
    snprintf(path, sizeof(path), "%s/jobs/run 1/t-1", dir);
    ck_assert(!exists(path));
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", &el, 0, true, 0, NULL, 0, NULL, &err), WF_EINVAL);
    wf_slurm_free(s);
    ck_assert_uint_eq(c.count, 0);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* An array larger than MaxArraySize is split: one sbatch per piece, chained per lane, each
 * element's result under its own unit; a later piece's refusal leaves the earlier ones
 * running and says how many elements were not submitted. */
START_TEST(test_fake_split)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096], *args;
    char scripts[7][32];
    wf_slurm_element el[7];
    size_t accepted = 99;
    collector c;
    wf_error err;
    wf_slurm *s;

    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/config", dir);
    write_text(path, "MaxJobCount = 10\nMaxArraySize            = 3\n", 0644);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_max_array(s), 3);
    ck_assert_ptr_null(wf_slurm_warning(s));
    for (size_t i = 0; i < 7; i++) {
        snprintf(scripts[i], sizeof(scripts[i]), "echo unit %zu", 10 + i);
        el[i] = (wf_slurm_element){ (uint32_t)(10 + i), 1, scripts[i], env, NULL };
    }
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 7, true, 2, NULL, 0, &accepted, &err), WF_OK);
    ck_assert_uint_eq(accepted, 7);
    ck_assert_uint_eq(wait_results(&c, 7, 20000), 7);
    for (size_t i = 0; i < 7; i++) {
        char want[32];

        snprintf(want, sizeof(want), "unit %zu\n", 10 + i);
        ck_assert_str_eq(c.res[10 + i].out, want);
    }
    ck_assert_str_eq(c.res[16].job_id, "4243_0");
    /* Three pieces in two lanes of %1; the third waits for the first. */
    args = fake_file(dir, "sbatch.args.1");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%1\n"));
    ck_assert_ptr_null(strstr(args, "--dependency"));
    free(args);
    args = fake_file(dir, "sbatch.args.2");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-2%1\n"));
    ck_assert_ptr_null(strstr(args, "--dependency"));
    free(args);
    args = fake_file(dir, "sbatch.args.3");
    ck_assert_ptr_nonnull(strstr(args, "--array=0-0\n"));
    ck_assert_ptr_nonnull(strstr(args, "--dependency=afterany:4241\n"));
    free(args);
    ck_assert_ptr_null(fake_file(dir, "sbatch.args.4"));

    /* The second piece of the next array is refused for good. */
    snprintf(path, sizeof(path), "%s/bin/sbatch.fail.5", dir);
    write_text(path,
               "sbatch: error: Batch job submission failed: Invalid partition name specified\n",
               0644);
    for (size_t i = 0; i < 7; i++)
        el[i].unit = (uint32_t)(20 + i);
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 7, true, 0, NULL, 0, &accepted, &err),
                     WF_EINVAL);
    ck_assert_uint_eq(accepted, 3);
    ck_assert_str_eq(err.message, "task 't': cannot submit 4 elements to Slurm (an array split at "
                                  "the cluster's MaxArraySize): sbatch failed (exit 1): sbatch: "
                                  "error: Batch job submission failed: Invalid partition name "
                                  "specified");
    ck_assert_uint_eq(wait_results(&c, 10, 20000), 10);
    ck_assert_str_eq(c.res[22].out, "unit 12\n");
    wf_slurm_free(s);
    ck_assert_uint_eq(c.count, 10);
    ck_assert(!c.duplicate);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* MaxArraySize that cannot be read: Slurm's default, and a warning that says why. */
START_TEST(test_fake_max_array_unknown)
{
    char *dir = temp_dir(), path[4096];
    collector c;
    wf_slurm *s;

    collector_init(&c);
    fake_slurm(dir);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_max_array(s), 1001);
    ck_assert_str_eq(wf_slurm_warning(s),
                     "cannot read the cluster's MaxArraySize: scontrol show config failed (exit "
                     "1): no config here; arrays are split at Slurm's default of 1001 elements");
    wf_slurm_free(s);
    snprintf(path, sizeof(path), "%s/bin/config", dir);
    write_text(path, "MaxArraySize = (null)\n", 0644);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_max_array(s), 1001);
    ck_assert_str_eq(wf_slurm_warning(s),
                     "cannot read the cluster's MaxArraySize: `scontrol show config` has no "
                     "MaxArraySize line with a number; arrays are split at Slurm's default of "
                     "1001 elements");
    wf_slurm_free(s);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* While nothing changes, polls back off (doubling up to WF_SLURM_POLL_MAX_MS): the gaps
 * between squeue calls grow from 50 ms to about a second (checked on the gaps, not on a
 * count, which a loaded machine would skew). */
START_TEST(test_fake_backoff)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir = temp_dir(), path[4096], *calls;
    wf_slurm_element el = { 0, 1, "true", env, NULL };
    long long t[64];
    size_t n = 0;
    collector c;
    wf_error err;
    wf_slurm *s;

    setenv("WF_SLURM_POLL_MAX_MS", "1000", 1);
    setenv("WF_SLURM_CALLS_PER_S", "1000", 1);
    collector_init(&c);
    wf_error_init(&err);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/hold", dir);
    write_text(path, "", 0644);
    s = new_executor(dir, &c); /* polls every 50 ms at first */
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", &el, 1, true, 0, NULL, 0, NULL, &err), WF_OK);
    sleep_ms(4000);
    calls = fake_file(dir, "squeue.calls");
    for (char *p = calls, *end; p != NULL && *p != '\0' && n < 64; p = end + 1) {
        t[n++] = strtoll(p, &end, 10) / 1000000;
        if (*end != '\n')
            break;
    }
    free(calls);
    /* 50, 100, 200, 400, 800, 1000 ms: about 7 polls in 4 s, 80 without backing off. */
    ck_assert_msg(n >= 3 && n <= 12, "%zu squeue calls in 4 s", n);
    ck_assert_msg(t[n - 1] - t[n - 2] >= 700, "the last gap is %lld ms", t[n - 1] - t[n - 2]);
    ck_assert_msg(t[1] - t[0] < t[n - 1] - t[n - 2], "the gaps do not grow");
    wf_slurm_free(s);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

/* The rate limit: WF_SLURM_CALLS_PER_S=4 spaces the calls 250 ms apart. */
START_TEST(test_rate_limit)
{
    char *dir = temp_dir(), path[4096];
    int64_t t0;
    collector c;
    wf_slurm *s;

    setenv("WF_SLURM_CALLS_PER_S", "4", 1);
    collector_init(&c);
    fake_slurm(dir);
    snprintf(path, sizeof(path), "%s/bin/config", dir);
    write_text(path, "MaxArraySize = 5\n", 0644);
    t0 = wf_now_ms();
    for (int k = 0; k < 5; k++) {
        s = new_executor(dir, &c); /* one scontrol call each */
        ck_assert_int_eq(wf_slurm_max_array(s), 5);
        wf_slurm_free(s);
    }
    ck_assert_int_ge(wf_now_ms() - t0, 950);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_check)
{
    char *dir = temp_dir(), path[4096];
    wf_error err;

    wf_error_init(&err);
    /* No Slurm at all on the PATH. */
    setenv("PATH", dir, 1);
    ck_assert_int_eq(wf_slurm_check(&err), WF_EEXEC);
    snprintf(path, sizeof(path), "sbatch: not found on PATH (%s)", dir);
    ck_assert_msg(strstr(err.message, path) != NULL, "%s", err.message);

    fake_slurm(dir);
    ck_assert_int_eq(wf_slurm_check(&err), WF_OK);
    snprintf(path, sizeof(path), "%s/bin/down", dir);
    write_text(path, "", 0644);
    ck_assert_int_eq(wf_slurm_check(&err), WF_EEXEC);
    ck_assert_msg(strstr(err.message, "the Slurm cluster does not answer: sinfo failed (exit 1): "
                                      "sinfo: error: Unable to contact slurm controller") != NULL,
                  "%s", err.message);
    wf_error_release(&err);
    remove_dir(dir);
}
END_TEST

START_TEST(test_new_bad_dir)
{
    wf_error err;

    wf_error_init(&err);
    ck_assert_ptr_null(wf_slurm_new("/tmp/100%", 0, false, on_done, NULL, &err));
    ck_assert_int_eq(err.code, WF_EINVAL);
    ck_assert_ptr_null(wf_slurm_new("/proc/nope/jobs", 0, false, on_done, NULL, &err));
    ck_assert_int_eq(err.code, WF_EIO);
    wf_slurm_free(NULL);
    wf_slurm_cancel_all(NULL);
    ck_assert_uint_eq(wf_slurm_pending(NULL), 0);
    wf_error_release(&err);
}
END_TEST

/* ---- against a real cluster (WF_SLURM_LIVE=1) ---------------------------------------------- */

static bool live(void)
{
    const char *v = getenv("WF_SLURM_LIVE");

    return v != NULL && strcmp(v, "1") == 0;
}

/* squeue's lines for job id (the array's elements each on one). */
static char *squeue_lines(const char *id)
{
    const char *argv[] = { "squeue", "-h", "-r", "-o", "%i %T", "-j", id, NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    char *out;

    spec.argv = argv;
    spec.timeout_ms = 20000;
    wf_proc_run(&spec, &res);
    out = strdup(res.out.data ? res.out.data : "");
    wf_proc_result_release(&res);
    return out;
}

static void array_id(const char *job_id, char *buf, size_t size)
{
    size_t n = strcspn(job_id, "_");

    snprintf(buf, size, "%.*s", (int)n, job_id);
}

START_TEST(test_live_array)
{
    char *dir, item[32], *envs[5][3];
    const char *envp[5][3];
    wf_slurm_element el[5];
    collector c;
    wf_error err;
    wf_slurm *s;
    int64_t t0;

    if (!live())
        return;
    dir = temp_dir();
    collector_init(&c);
    wf_error_init(&err);
    ck_assert_msg(wf_slurm_check(&err) == WF_OK, "check: %s", err.message);
    s = new_executor(dir, &c);
    for (int i = 0; i < 5; i++) {
        snprintf(item, sizeof(item), "ITEM=item %d", i);
        envs[i][0] = strdup("PATH=/usr/bin:/bin");
        envs[i][1] = strdup(item);
        envs[i][2] = NULL;
        for (int k = 0; k < 3; k++)
            envp[i][k] = envs[i][k];
        /* Element 3 fails, the others sleep a little in reverse order, so that they end out
         * of order. */
        el[i] = (wf_slurm_element){ (uint32_t)i, 1,
                                    i == 3 ? "echo out3; echo 'bad item' >&2; exit 3"
                                           : "sleep 0.$((5 - SLURM_ARRAY_TASK_ID)); "
                                             "echo \"$ITEM\"",
                                    envp[i], NULL };
    }
    t0 = wf_now_ms();
    ck_assert_msg(wf_slurm_submit(s, 3, "live", el, 5, true, 0, NULL, 0, NULL, &err) == WF_OK,
                  "submit: %s", err.message);
    ck_assert_uint_eq(wait_results(&c, 5, 90000), 5);
    fprintf(stderr, "live: 5-element array in %lld ms\n", (long long)(wf_now_ms() - t0));
    for (int i = 0; i < 5; i++) {
        char want[32];

        if (i == 3)
            continue;
        snprintf(want, sizeof(want), "item %d\n", i);
        ck_assert_int_eq(c.res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_str_eq(c.res[i].out, want);
        ck_assert_int_eq(c.res[i].exit_code, 0);
        ck_assert_int_eq(c.res[i].task, 3);
    }
    ck_assert_int_eq(c.res[3].status, WF_STATUS_FAILED);
    ck_assert_int_eq(c.res[3].exit_code, 3);
    ck_assert_str_eq(c.res[3].out, "out3\n");
    ck_assert_str_eq(c.res[3].err, "bad item\n");
    ck_assert_msg(strstr(c.res[3].error, "FAILED: exit code 3") != NULL &&
                      strstr(c.res[3].error, c.res[3].job_id) != NULL,
                  "%s", c.res[3].error);
    {
        char id0[32], id4[32];

        array_id(c.res[0].job_id, id0, sizeof(id0));
        array_id(c.res[4].job_id, id4, sizeof(id4));
        ck_assert_str_eq(id0, id4); /* one array job */
    }
    wf_slurm_free(s);
    ck_assert(!c.duplicate);
    for (int i = 0; i < 5; i++) {
        free(envs[i][0]);
        free(envs[i][1]);
    }
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_live_cancel)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir, id[64], *lines;
    wf_slurm_element el[3];
    collector c;
    wf_error err;
    wf_slurm *s;

    if (!live())
        return;
    dir = temp_dir();
    collector_init(&c);
    wf_error_init(&err);
    s = new_executor(dir, &c);
    for (uint32_t i = 0; i < 3; i++)
        el[i] = (wf_slurm_element){ i, 1, "echo started; sleep 300", env, NULL };
    ck_assert_msg(wf_slurm_submit(s, 0, "sleepy", el, 3, true, 2, NULL, 0, NULL, &err) == WF_OK,
                  "submit: %s", err.message);
    /* Let two start (the third waits for the %2 throttle), then cancel. */
    sleep_ms(2500);
    ck_assert_uint_eq(c.count, 0);
    wf_slurm_cancel_all(s);
    ck_assert_uint_eq(wait_results(&c, 3, 60000), 3);
    for (uint32_t i = 0; i < 3; i++) {
        ck_assert_int_eq(c.res[i].status, WF_STATUS_CANCELLED);
        ck_assert_msg(strstr(c.res[i].error, "CANCELLED: cancelled by wfengine") != NULL &&
                          strstr(c.res[i].error, "neither") == NULL,
                      "%s", c.res[i].error);
    }
    array_id(c.res[0].job_id, id, sizeof(id));
    lines = squeue_lines(id);
    ck_assert_msg(lines[0] == '\0', "still in squeue: %s", lines);
    free(lines);
    wf_slurm_free(s);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_live_free_cancels)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    char *dir, id[64], *lines;
    wf_slurm_element el = { 0, 1, "sleep 300", env, NULL };
    collector c;
    wf_error err;
    wf_slurm *s;

    if (!live())
        return;
    dir = temp_dir();
    collector_init(&c);
    wf_error_init(&err);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_submit(s, 0, "single", &el, 1, false, 0, NULL, 0, NULL, &err), WF_OK);
    sleep_ms(1500);
    wf_slurm_free(s);
    ck_assert_uint_eq(c.count, 1);
    ck_assert_int_eq(c.res[0].status, WF_STATUS_CANCELLED);
    ck_assert(strchr(c.res[0].job_id, '_') == NULL);
    snprintf(id, sizeof(id), "%s", c.res[0].job_id);
    lines = squeue_lines(id);
    ck_assert_msg(lines[0] == '\0', "still in squeue: %s", lines);
    free(lines);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

START_TEST(test_live_check_without_slurm)
{
    wf_error err;

    if (!live())
        return;
    wf_error_init(&err);
    ck_assert_int_eq(wf_slurm_check(&err), WF_OK);
    setenv("PATH", "/nonexistent", 1);
    ck_assert_int_eq(wf_slurm_check(&err), WF_EEXEC);
    ck_assert_msg(strstr(err.message, "sbatch: not found on PATH (/nonexistent)") != NULL, "%s",
                  err.message);
    wf_error_release(&err);
}
END_TEST

/* The goal through the C API: 1,000 elements, one sbatch, every result right. */
START_TEST(test_live_thousand)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    static char scripts[MAX_RESULTS][48];
    static wf_slurm_element el[MAX_RESULTS];
    char *dir, path[4096];
    collector *c = malloc(sizeof(*c));
    wf_error err;
    wf_slurm *s;
    int64_t t0;

    if (!live()) {
        free(c);
        return;
    }
    dir = temp_dir();
    collector_init(c);
    wf_error_init(&err);
    s = new_executor(dir, c);
    for (uint32_t i = 0; i < MAX_RESULTS; i++) {
        snprintf(scripts[i], sizeof(scripts[i]), "echo $((%u * %u))", i, i);
        el[i] = (wf_slurm_element){ i, 1, scripts[i], env, NULL };
    }
    t0 = wf_now_ms();
    ck_assert_msg(
        wf_slurm_submit(s, 0, "thousand", el, MAX_RESULTS, true, 0, NULL, 0, NULL, &err) == WF_OK,
        "submit: %s", err.message);
    fprintf(stderr, "live: 1000-element array submitted in %lld ms\n",
            (long long)(wf_now_ms() - t0));
    ck_assert_uint_eq(wait_results(c, MAX_RESULTS, 200000), MAX_RESULTS);
    fprintf(stderr, "live: 1000-element array done in %lld ms\n", (long long)(wf_now_ms() - t0));
    for (uint32_t i = 0; i < MAX_RESULTS; i++) {
        char want[32];

        snprintf(want, sizeof(want), "%u\n", i * i);
        ck_assert_int_eq(c->res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_str_eq(c->res[i].out, want);
    }
    /* One submission directory: one sbatch. */
    snprintf(path, sizeof(path), "%s/jobs/run 1/thousand-2", dir);
    ck_assert(!exists(path));
    wf_slurm_free(s);
    ck_assert(!c->duplicate);
    wf_error_release(&err);
    collector_release(c);
    free(c);
    remove_dir(dir);
}
END_TEST

/* The task's timeout is the engine's: an element is scancelled once it has run that long
 * (3 s here), not at Slurm's next minute. */
START_TEST(test_live_timeout)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    wf_slurm_element el = { 0, 1, "sleep 300", env, NULL };
    int64_t t0, ran;
    char *dir;
    collector c;
    wf_error err;
    wf_slurm *s;

    if (!live())
        return;
    dir = temp_dir();
    collector_init(&c);
    wf_error_init(&err);
    s = new_executor(dir, &c);
    t0 = wf_now_ms();
    ck_assert_int_eq(wf_slurm_submit(s, 0, "slow", &el, 1, true, 0, NULL, 3000, NULL, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 1, 60000), 1);
    ran = c.res[0].end_ms - c.res[0].start_ms;
    fprintf(stderr,
            "live: a 3 s timeout stopped the element after %lld ms (%lld ms after sbatch)\n",
            (long long)ran, (long long)(wf_now_ms() - t0));
    ck_assert_int_eq(c.res[0].status, WF_STATUS_FAILED);
    ck_assert(c.res[0].timed_out);
    ck_assert_msg(strstr(c.res[0].error, "CANCELLED: timed out after 3s (the task's timeout: "
                                         "wfengine scancelled it)") != NULL,
                  "%s", c.res[0].error);
    ck_assert_msg(ran >= 2500 && ran < 10000, "ran %lld ms", (long long)ran);
    wf_slurm_free(s);
    wf_error_release(&err);
    collector_release(&c);
    remove_dir(dir);
}
END_TEST

static Suite *slurm_suite(void)
{
    Suite *s = suite_create("slurm");
    TCase *tc;

    tc = tcase_create("parse");
    tcase_add_loop_test(tc, test_parse_exit, 0, (int)(sizeof(exit_cases) / sizeof(exit_cases[0])));
    tcase_add_loop_test(tc, test_parse_time, 0, (int)(sizeof(time_cases) / sizeof(time_cases[0])));
    tcase_add_loop_test(tc, test_state_mapping, 0,
                        (int)(sizeof(state_cases) / sizeof(state_cases[0])));
    tcase_add_test(tc, test_parse_record);
    tcase_add_loop_test(tc, test_pack_size, 0,
                        (int)(sizeof(pack_size_cases) / sizeof(pack_size_cases[0])));
    tcase_add_test(tc, test_pack_limit);
    tcase_add_test(tc, test_pack_script);
    tcase_add_test(tc, test_config_num);
    tcase_add_test(tc, test_sbatch_permanent);
    tcase_add_test(tc, test_parse_datetime);
    tcase_add_test(tc, test_split);
    suite_add_tcase(s, tc);

    tc = tcase_create("fake");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fake_roundtrip);
    tcase_add_test(tc, test_fake_empty_output);
    tcase_add_test(tc, test_fake_keep_files);
    tcase_add_test(tc, test_fake_failure_and_single);
    tcase_add_test(tc, test_fake_pack);
    tcase_add_test(tc, test_fake_pack_auto);
    tcase_add_test(tc, test_fake_pack_cancel);
    tcase_add_test(tc, test_fake_pack_split);
    tcase_add_test(tc, test_fake_pack_auto_split);
    tcase_add_test(tc, test_fake_forgotten);
    tcase_add_test(tc, test_fake_cancel);
    tcase_add_test(tc, test_fake_free_cancels);
    tcase_add_test(tc, test_fake_sbatch_fails);
    tcase_add_test(tc, test_fake_split);
    tcase_add_test(tc, test_fake_max_array_unknown);
    tcase_add_test(tc, test_fake_backoff);
    tcase_add_test(tc, test_rate_limit);
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_new_bad_dir);
    suite_add_tcase(s, tc);

    tc = tcase_create("live");
    tcase_set_timeout(tc, 240);
    tcase_add_test(tc, test_live_array);
    tcase_add_test(tc, test_live_cancel);
    tcase_add_test(tc, test_live_free_cancels);
    tcase_add_test(tc, test_live_check_without_slurm);
    tcase_add_test(tc, test_live_thousand);
    tcase_add_test(tc, test_live_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(slurm_suite());
    int failed;

    if (!live())
        printf("check_slurm: live tests skipped (WF_SLURM_LIVE=1 is set by "
               "tests/slurm/cluster.sh)\n");
    srunner_run_all(sr, CK_ENV);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
