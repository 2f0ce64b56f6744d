/* Tests for the Slurm client (wf_slurm.h: engine/slurm*.c).
 *
 * Without a cluster: the parsers and the state mapping, and the whole executor against a
 * fake Slurm (shell scripts named sbatch, squeue, scontrol, scancel, sacct and sinfo put first
 * on the PATH) that runs the array script locally, which checks the job files round trip
 * (script, environment, workdir) and the sbatch arguments.
 *
 * With WF_SLURM_LIVE=1 (tests/slurm/cluster.sh sets it): the same through a real one-node
 * Slurm: a 5-element array, a failing element, cancellation, and the check. */
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

/* ---- against a fake Slurm ------------------------------------------------------------------ */

/* The fake cluster: sbatch runs the batch script for each element at once (unless the file
 * "hold" exists), and records its arguments and each element's exit status; scontrol reports
 * those as final states; squeue lists held elements until scancel marks them cancelled. */
static const char FAKE_SBATCH[] =
    "n=$(cat \"$F/count\" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >\"$F/count\"\n"
    "printf '%s\\n' \"$@\" >\"$F/sbatch.args.$n\"; env >\"$F/sbatch.env.$n\"\n"
    "if [ -f \"$F/sbatch.fail\" ]; then cat \"$F/sbatch.fail\" >&2; exit 1; fi\n"
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
    "for a; do ids=$a; done\n"
    "for id in $(echo \"$ids\" | tr , ' '); do\n"
    "  [ -f \"$F/held.$id\" ] && [ ! -f \"$F/cancelled.$id\" ] || continue\n"
    "  last=$(cat \"$F/last.$id\"); i=0\n"
    "  while [ $i -le $last ]; do\n"
    "    if [ -f \"$F/array.$id\" ]; then echo \"${id}_$i PENDING\"; else echo \"$id PENDING\"; fi\n"
    "    i=$((i + 1)); done\n"
    "done\n";

static const char FAKE_SCONTROL[] =
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
    rc = wf_slurm_submit(s, 7, "fan out/x", el, 3, true, 2, &opts, 61000, &err);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "quiet", el, N, true, 0, NULL, 0, &err), WF_OK);
    ck_assert_uint_eq(wait_results(c, N, 50000), N);
    for (uint32_t i = 0; i < N; i++) {
        ck_assert_int_eq(c->res[i].status, WF_STATUS_SUCCEEDED);
        ck_assert_ptr_nonnull(c->res[i].out);
        ck_assert_ptr_nonnull(c->res[i].err);
        ck_assert_msg(c->res[i].out[0] == '\0' && c->res[i].err[0] == '\0',
                      "element %u: stdout starts with 0x%02x, stderr with 0x%02x, want \"\"", i,
                      (unsigned char)c->res[i].out[0], (unsigned char)c->res[i].err[0]);
        ck_assert(!c->res[i].out_truncated);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "keep", el, 2, true, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 3, true, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 1, "one", el, 1, false, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 2, "t", el, 1, true, 4, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 2, true, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 4, true, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 1, true, 0, NULL, 0, &err), WF_ECANCELLED);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", el, 2, true, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", &el, 1, true, 0, NULL, 0, &err), WF_EEXEC);
    ck_assert_str_eq(err.message, "task 't': cannot submit 1 element to Slurm: sbatch failed "
                                  "(exit 1): sbatch: error: Batch job submission failed: "
                                  "Invalid partition name specified");
    ck_assert_uint_eq(wf_slurm_pending(s), 0);
    /* Nothing is left of the refused submission. */
    snprintf(path, sizeof(path), "%s/jobs/run 1/t-1", dir);
    ck_assert(!exists(path));
    ck_assert_int_eq(wf_slurm_submit(s, 0, "t", &el, 0, true, 0, NULL, 0, &err), WF_EINVAL);
    wf_slurm_free(s);
    ck_assert_uint_eq(c.count, 0);
    wf_error_release(&err);
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
    ck_assert_msg(wf_slurm_submit(s, 3, "live", el, 5, true, 0, NULL, 0, &err) == WF_OK,
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
    ck_assert_msg(wf_slurm_submit(s, 0, "sleepy", el, 3, true, 2, NULL, 0, &err) == WF_OK,
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
    ck_assert_int_eq(wf_slurm_submit(s, 0, "single", &el, 1, false, 0, NULL, 0, &err), WF_OK);
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
    ck_assert_msg(wf_slurm_submit(s, 0, "thousand", el, MAX_RESULTS, true, 0, NULL, 0, &err) ==
                      WF_OK,
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

/* The time limit: Slurm enforces it within 60-90 s, so only with WF_SLURM_TIMEOUT_TEST=1. */
START_TEST(test_live_timeout)
{
    static const char *const env[] = { "PATH=/usr/bin:/bin", NULL };
    wf_slurm_element el = { 0, 1, "sleep 300", env, NULL };
    const char *want = getenv("WF_SLURM_TIMEOUT_TEST");
    char *dir;
    collector c;
    wf_error err;
    wf_slurm *s;

    if (!live() || want == NULL || strcmp(want, "1") != 0)
        return;
    dir = temp_dir();
    collector_init(&c);
    wf_error_init(&err);
    s = new_executor(dir, &c);
    ck_assert_int_eq(wf_slurm_submit(s, 0, "slow", &el, 1, true, 0, NULL, 5000, &err), WF_OK);
    ck_assert_uint_eq(wait_results(&c, 1, 180000), 1);
    ck_assert_int_eq(c.res[0].status, WF_STATUS_FAILED);
    ck_assert(c.res[0].timed_out);
    ck_assert_msg(strstr(c.res[0].error, "TIMEOUT: reached its time limit of 1 minute (the "
                                         "task's timeout, rounded up to whole minutes)") != NULL,
                  "%s", c.res[0].error);
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
    suite_add_tcase(s, tc);

    tc = tcase_create("fake");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_fake_roundtrip);
    tcase_add_test(tc, test_fake_empty_output);
    tcase_add_test(tc, test_fake_keep_files);
    tcase_add_test(tc, test_fake_failure_and_single);
    tcase_add_test(tc, test_fake_forgotten);
    tcase_add_test(tc, test_fake_cancel);
    tcase_add_test(tc, test_fake_free_cancels);
    tcase_add_test(tc, test_fake_sbatch_fails);
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
