/*
 * slurm_cmd.c: running Slurm's command-line tools (sbatch, squeue, scontrol, sacct, scancel)
 * with a time limit and a rate limit (no more than WF_SLURM_CALLS_PER_S calls a second from
 * the whole process), and describing how one failed, for messages; wf_slurm_check, which asks
 * whether the tools are there and the cluster answers; the cluster's MaxArraySize.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm_internal.h"

/* sbatch, squeue and scontrol retry on their own while the controller is busy; a command
 * that has not answered in this time will not. */
#define COMMAND_TIMEOUT_MS 120000
/* wf_slurm_check asks the cluster this long for an answer. */
#define CHECK_TIMEOUT_MS 10000

void wf__slurm_add_tail(wf_strbuf *sb, const char *text, size_t len)
{
    size_t start = 0, keep = 600;

    while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
        len--;
    if (len > keep) {
        start = len - keep;
        wf_strbuf_adds(sb, "...");
    }
    for (size_t i = start; i < len; i++)
        wf_strbuf_addc(sb, text[i] == '\n' ? ' ' : text[i]);
}

/* Slurm calls a second (every command of wf__slurm_run), unless WF_SLURM_CALLS_PER_S says. */
#define DEFAULT_CALLS_PER_S 10
/* Slurm's own default MaxArraySize, used when the cluster's cannot be read. */
#define DEFAULT_MAX_ARRAY 1001

long wf__slurm_env_num(const char *name, long def, long min, long max)
{
    const char *v = getenv(name);
    char *end;
    long n;

    if (v == NULL || *v == '\0')
        return def;
    errno = 0;
    n = strtol(v, &end, 10);
    if (errno != 0 || *end != '\0' || n < min || n > max)
        return def;
    return n;
}

/* The rate limit: calls are spaced at least 1000/N ms apart (so no second ever holds more
 * than N), across threads. */
static pthread_mutex_t rate_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t rate_next_ms;
static long rate_per_s;

static void wait_turn(void)
{
    int64_t now, at;

    pthread_mutex_lock(&rate_mu);
    if (rate_per_s == 0)
        rate_per_s = wf__slurm_env_num("WF_SLURM_CALLS_PER_S", DEFAULT_CALLS_PER_S, 1, 1000);
    now = wf_now_ms();
    at = rate_next_ms > now ? rate_next_ms : now;
    rate_next_ms = at + (1000 + rate_per_s - 1) / rate_per_s;
    pthread_mutex_unlock(&rate_mu);
    while (at > now) {
        struct timespec ts = { (time_t)((at - now) / 1000), (long)((at - now) % 1000) * 1000000L };

        nanosleep(&ts, NULL);
        now = wf_now_ms();
    }
}

int wf__slurm_run(const char *const *argv, const char *const *envp, wf_proc_result *res)
{
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    wait_turn();
    spec.argv = argv;
    spec.envp = envp;
    spec.timeout_ms = COMMAND_TIMEOUT_MS;
    spec.kill_grace_ms = 2000;
    spec.stdout_cap = SIZE_MAX;
    return wf_proc_run(&spec, res);
}

void wf__slurm_describe_failure(wf_strbuf *sb, const char *what, int rc, const wf_proc_result *res)
{
    if (rc == WF_EEXEC && res->error != NULL)
        wf_strbuf_addf(sb, "%s: %s", what, res->error);
    else if (rc == WF_ETIMEOUT)
        wf_strbuf_addf(sb, "%s did not answer within %d s", what, COMMAND_TIMEOUT_MS / 1000);
    else if (rc != WF_OK)
        wf_strbuf_addf(sb, "%s: %s", what, res->error ? res->error : wf_strerror(rc));
    else {
        wf_strbuf_addf(sb, "%s failed (exit %d)", what, res->exit_code);
        if (res->err.len > 0) {
            wf_strbuf_adds(sb, ": ");
            wf__slurm_add_tail(sb, res->err.data, res->err.len);
        }
    }
}

/* Looks name up in PATH like execvp; returns whether an executable file was found. */
static bool on_path(const char *name, const char *path)
{
    const char *p = path;

    while (p != NULL && *p != '\0') {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);
        char *full = wf_xasprintf("%.*s%s%s", (int)len, p, len ? "/" : "", name);
        struct stat st;
        bool ok = stat(full, &st) == 0 && S_ISREG(st.st_mode) && access(full, X_OK) == 0;

        free(full);
        if (ok)
            return true;
        p = colon ? colon + 1 : NULL;
    }
    return false;
}

int wf_slurm_check(wf_error *err)
{
    static const char *const tools[] = { "sbatch", "squeue", "scontrol", "scancel", NULL };
    const char *path = getenv("PATH");
    const char *sinfo_argv[] = { "sinfo", "-h", "-o", "%P %a", NULL };
    const char *squeue_argv[] = { "squeue", "-h", "-o", "%i", "--me", NULL };
    const char *const *argv;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_proc_result res;
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    int rc;

    if (path == NULL)
        path = "/bin:/usr/bin";
    for (size_t k = 0; tools[k] != NULL; k++) {
        if (!on_path(tools[k], path)) {
            wf_error_set(err, WF_EEXEC, NULL, 0, 0,
                         "%s: not found on PATH (%s); the Slurm executor needs sbatch, squeue, "
                         "scontrol and scancel (Debian: apt-get install slurm-client)",
                         tools[k], path);
            return WF_EEXEC;
        }
    }
    argv = on_path("sinfo", path) ? sinfo_argv : squeue_argv;
    wf_proc_result_init(&res);
    spec.argv = argv;
    spec.timeout_ms = CHECK_TIMEOUT_MS;
    spec.kill_grace_ms = 1000;
    rc = wf_proc_run(&spec, &res);
    if (rc != WF_OK || res.exit_code != 0) {
        wf_strbuf_addf(&sb, "the Slurm cluster does not answer: ");
        if (rc == WF_ETIMEOUT) {
            wf_strbuf_addf(&sb, "`%s -h` gave no answer within %d s", argv[0],
                           CHECK_TIMEOUT_MS / 1000);
        } else {
            wf__slurm_describe_failure(&sb, argv[0], rc, &res);
        }
        if (getenv("SLURM_CONF") != NULL)
            wf_strbuf_addf(&sb, " (SLURM_CONF=%s)", getenv("SLURM_CONF"));
        wf_error_set(err, WF_EEXEC, NULL, 0, 0, "%s", wf_strbuf_str(&sb));
        rc = WF_EEXEC;
        goto out;
    }
    rc = WF_OK;
out:
    wf_proc_result_release(&res);
    wf_strbuf_release(&sb);
    return rc;
}

long wf__slurm_read_max_array(wf_strbuf *warning)
{
    const char *argv[] = { "scontrol", "show", "config", NULL };
    wf_proc_result res;
    long long max = -1;
    int rc;

    wf_proc_result_init(&res);
    rc = wf__slurm_run(argv, NULL, &res);
    if (rc == WF_OK && res.exit_code == 0 && res.out.data != NULL)
        max = wf__slurm_config_num(res.out.data, res.out.len, "MaxArraySize");
    if (max < 1) {
        wf_strbuf_adds(warning, "cannot read the cluster's MaxArraySize: ");
        if (rc != WF_OK || res.exit_code != 0)
            wf__slurm_describe_failure(warning, "scontrol show config", rc, &res);
        else
            wf_strbuf_adds(warning, "`scontrol show config` has no MaxArraySize line with a "
                                    "number");
        wf_strbuf_addf(warning, "; arrays are split at Slurm's default of %d elements",
                       DEFAULT_MAX_ARRAY);
        max = DEFAULT_MAX_ARRAY;
    }
    wf_proc_result_release(&res);
    return (long)max;
}
