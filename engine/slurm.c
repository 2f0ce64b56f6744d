/* The Slurm executor (see wf_slurm.h): job files, sbatch, one poller thread per executor. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wf_proc.h"
#include "wf_slurm.h"

extern char **environ; /* sbatch's environment is taken from wfengine's (run_sbatch) */

/* What is kept of an element's output files: the local executor's default caps. */
#define STDOUT_CAP      ((size_t)64 << 20)
#define STDERR_CAP      ((size_t)16 << 20)
#define DEFAULT_POLL_MS 500
/* sbatch, squeue and scontrol retry on their own while the controller is busy; a command
 * that has not answered in this time will not. */
#define COMMAND_TIMEOUT_MS 120000
/* wf_slurm_check asks the cluster this long for an answer. */
#define CHECK_TIMEOUT_MS 10000
/* Job ids per squeue/sacct/scancel call: one call in practice, and far below the 128 KiB
 * that Linux allows for one argument. */
#define IDS_PER_CALL 4000
/* An element that left the queue but that neither scontrol nor sacct knows, and that left no
 * exit status file, is given up on after this many polls. */
#define MISSING_POLLS 5
/* squeue failing for this long means the cluster is gone: every pending element fails. */
#define GIVE_UP_MS (5 * 60 * 1000)
/* wf_slurm_free waits this long for Slurm to confirm the cancellation of what is left. */
#define STOP_WAIT_MS 30000
/* The umask of the batch job, and so of the files Slurm and the wrapper create (out.i, err.i,
 * rc.i): they may hold secrets. The element's command gets wfengine's own umask back. */
#define JOB_UMASK "0077"
/* The only PATH the wrapper script uses for itself (mv, hostname), whatever the job got. */
#define WRAPPER_PATH "/usr/bin:/bin"
/* The environment variables of the job that an element sees besides its own environment. */
static const char *const SLURM_VARS[] = {
    "SLURM_JOB_ID",       "SLURM_ARRAY_JOB_ID",  "SLURM_ARRAY_TASK_ID", "SLURM_CPUS_PER_TASK",
    "SLURM_JOB_NODELIST", "SLURM_JOB_PARTITION", "SLURMD_NODENAME",     NULL,
};

typedef struct element {
    uint32_t unit, attempt;
    int64_t start_ms; /* first seen RUNNING, 0 until then */
    int missing;      /* polls since it left the queue with no known state */
    bool queued;      /* listed by the last squeue */
    bool done;        /* reported */
} element;

typedef struct job {
    char id[32]; /* as sbatch printed it: the array job id, or the job id */
    char *dir;   /* the submission directory */
    char *task_name;
    uint32_t task;
    bool is_array;
    bool scancelled;   /* we asked Slurm to cancel it */
    int64_t limit_min; /* the --time we passed in minutes, 0 when none */
    bool limit_from_timeout;
    int64_t submit_ms;
    size_t n, left;
    element *el;
} job;

struct wf_slurm {
    char *job_dir; /* absolute */
    int poll_ms;
    bool keep_files;      /* keep every job file until the caller deletes them */
    char engine_umask[8]; /* "0022": wfengine's umask, restored for each element's command */
    /* Every submission directory made (scheduler thread; read by wf_slurm_free). */
    char **subdirs;
    size_t n_subdirs, cap_subdirs;
    wf_slurm_done_fn done;
    void *user;
    unsigned next_submission; /* scheduler thread only */
    atomic_size_t pending;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    /* Guarded by mu: the list (submit appends, the poller removes). A job's fields are the
     * poller's once it is in the list. */
    job **jobs;
    size_t n_jobs, cap_jobs;
    bool cancel; /* wf_slurm_cancel_all was called */
    bool stop;   /* wf_slurm_free was called */
    bool kick;   /* poll now */
};

/* ---- small helpers ------------------------------------------------------------------- */

/* Appends s as one single-quoted shell word: every byte but NUL survives. */
static void shell_quote(wf_strbuf *sb, const char *s)
{
    wf_strbuf_addc(sb, '\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            wf_strbuf_adds(sb, "'\\''");
        else
            wf_strbuf_addc(sb, *s);
    }
    wf_strbuf_addc(sb, '\'');
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode, wf_error *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    int rc = WF_OK;

    if (fd < 0) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot create %s: %s", path, strerror(errno));
        return WF_EIO;
    }
    while (len > 0) {
        ssize_t w = write(fd, data, len);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot write %s: %s", path, strerror(errno));
            rc = WF_EIO;
            goto out;
        }
        data += w;
        len -= (size_t)w;
    }
out:
    if (close(fd) != 0 && rc == WF_OK) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot write %s: %s", path, strerror(errno));
        rc = WF_EIO;
    }
    return rc;
}

/* Reads at most cap bytes of path into *out (NUL-terminated). Returns false when the file
 * cannot be opened (then *out is NULL). *truncated tells whether there was more. */
static bool read_capped(const char *path, size_t cap, char **out, bool *truncated)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char buf[65536];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *out = NULL;
    *truncated = false;
    if (fd < 0)
        return false;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        if (sb.len + (size_t)r > cap) {
            wf_strbuf_add(&sb, buf, cap - sb.len);
            *truncated = true;
            break;
        }
        wf_strbuf_add(&sb, buf, (size_t)r);
    }
    close(fd);
    /* An empty file is an allocated "": detach always terminates. */
    *out = wf_strbuf_detach(&sb, NULL);
    return true;
}

/* The last lines of a command's stderr, short enough for a message. */
static void add_tail(wf_strbuf *sb, const char *text, size_t len)
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

/* Runs argv (found on the engine's PATH) with envp (NULL: wfengine's environment) and
 * captures its output, giving up after COMMAND_TIMEOUT_MS. */
static int run_cmd(const char *const *argv, const char *const *envp, wf_proc_result *res)
{
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    spec.argv = argv;
    spec.envp = envp;
    spec.timeout_ms = COMMAND_TIMEOUT_MS;
    spec.kill_grace_ms = 2000;
    spec.stdout_cap = SIZE_MAX;
    return wf_proc_run(&spec, res);
}

/* Whether sbatch gets the variable env (NAME=VALUE) of wfengine's environment: what
 * configures sbatch itself (SLURM_CONF, SBATCH_ACCOUNT, ...), PATH (to find sbatch) and HOME.
 * sbatch copies its whole environment into the job record that slurmctld keeps on disk, so
 * nothing else goes in: the element's environment travels in env.i. */
static bool sbatch_keeps(const char *env)
{
    return strncmp(env, "SLURM_", 6) == 0 || strncmp(env, "SBATCH_", 7) == 0 ||
           strncmp(env, "PATH=", 5) == 0 || strncmp(env, "HOME=", 5) == 0;
}

/* Runs sbatch with the environment sbatch_keeps allows, and SLURM_UMASK set to JOB_UMASK:
 * sbatch passes it to the job, and Slurm creates out.i and err.i and runs the wrapper with
 * it, so that what the elements print is readable by the submitting user only. */
static int run_sbatch(const char *const *argv, wf_proc_result *res)
{
    const char **envp;
    size_t n = 0, k = 0;
    int rc;

    while (environ != NULL && environ[n] != NULL)
        n++;
    envp = wf_xcalloc(n + 2, sizeof(*envp));
    for (size_t i = 0; i < n; i++) {
        if (sbatch_keeps(environ[i]) && strncmp(environ[i], "SLURM_UMASK=", 12) != 0)
            envp[k++] = environ[i];
    }
    envp[k++] = "SLURM_UMASK=" JOB_UMASK;
    envp[k] = NULL;
    rc = run_cmd(argv, envp, res);
    free(envp);
    return rc;
}

/* "squeue: not found", "squeue failed (exit 1): <stderr>" or "squeue timed out": what a
 * command did, for messages. */
static void describe_failure(wf_strbuf *sb, const char *what, int rc, const wf_proc_result *res)
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
            add_tail(sb, res->err.data, res->err.len);
        }
    }
}

/* Task names become part of a job name and of a directory name: keep them plain. */
static void safe_name(wf_strbuf *sb, const char *name)
{
    size_t n = 0;

    for (; *name != '\0' && n < 64; name++, n++) {
        char c = *name;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '_' || c == '.';

        wf_strbuf_addc(sb, ok ? c : '_');
    }
    if (n == 0)
        wf_strbuf_adds(sb, "task");
}

/* ---- parsing Slurm's answers --------------------------------------------------------- */

/* The value of key in a `scontrol show job -o` line: the text after " key=" (or "key=" at
 * the start) up to the next space. Free-form values (JobName, Command) come after the keys
 * we read or are ours (job names are sanitised), so a space inside them does no harm. */
static bool field(const char *line, size_t len, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i + klen < len; i++) {
        size_t j;

        if ((i > 0 && line[i - 1] != ' ') || memcmp(line + i, key, klen) != 0 ||
            line[i + klen] != '=')
            continue;
        i += klen + 1;
        for (j = 0; i + j < len && line[i + j] != ' ' && line[i + j] != '\n'; j++)
            continue;
        if (j >= size)
            j = size - 1;
        memcpy(buf, line + i, j);
        buf[j] = '\0';
        return true;
    }
    buf[0] = '\0';
    return false;
}

/* A non-negative decimal number filling all of s; -1 otherwise. */
static long long parse_num(const char *s, size_t len)
{
    long long v = 0;

    if (len == 0 || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int wf__slurm_parse_exit(const char *text)
{
    const char *colon = strchr(text, ':');
    long long code, sig = 0;

    code = parse_num(text, colon ? (size_t)(colon - text) : strlen(text));
    if (colon != NULL)
        sig = parse_num(colon + 1, strlen(colon + 1));
    if (code < 0 || sig < 0 || code > 255 || sig > 127)
        return -1;
    return sig > 0 ? 128 + (int)sig : (int)code;
}

int64_t wf__slurm_parse_time(const char *text)
{
    long long parts[3] = { 0, 0, 0 }, days = 0;
    const char *dash = strchr(text, '-'), *p = text;
    size_t n = 0;
    int64_t secs;

    if (dash != NULL) {
        days = parse_num(text, (size_t)(dash - text));
        if (days < 0)
            return -1;
        p = dash + 1;
    }
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);

        if (n == 3)
            return -1;
        parts[n] = parse_num(p, len);
        if (parts[n] < 0)
            return -1;
        n++;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    if (dash != NULL) {
        /* D-H, D-H:M, D-H:M:S */
        secs = days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2];
    } else if (n == 1) {
        secs = parts[0] * 60; /* M */
    } else if (n == 2) {
        secs = parts[0] * 60 + parts[1]; /* M:S */
    } else {
        secs = parts[0] * 3600 + parts[1] * 60 + parts[2]; /* H:M:S */
    }
    return secs;
}

bool wf__slurm_parse_record(const char *line, size_t len, wf__slurm_record *rec)
{
    char buf[64];

    memset(rec, 0, sizeof(*rec));
    rec->array_task_id = -1;
    rec->exit_code = -1;
    rec->run_time_ms = -1;
    if (!field(line, len, "JobId", rec->job_id, sizeof(rec->job_id)) ||
        !field(line, len, "JobState", rec->state, sizeof(rec->state)))
        return false;
    field(line, len, "ArrayJobId", rec->array_job_id, sizeof(rec->array_job_id));
    if (field(line, len, "ArrayTaskId", buf, sizeof(buf)))
        rec->array_task_id = (long)parse_num(buf, strlen(buf));
    field(line, len, "Reason", rec->reason, sizeof(rec->reason));
    if (field(line, len, "ExitCode", buf, sizeof(buf)))
        rec->exit_code = wf__slurm_parse_exit(buf);
    if (field(line, len, "RunTime", buf, sizeof(buf))) {
        /* RunTime is always [D-]H:M:S, which parse_time reads as such only with three
         * parts; two parts would be M:S there, which RunTime never uses. */
        int64_t s = wf__slurm_parse_time(buf);

        rec->run_time_ms = s < 0 ? -1 : s * 1000;
    }
    return true;
}

/* The state's name without sacct's " by 0" or squeue's "+" decorations. */
static void base_state(const char *state, char *buf, size_t size)
{
    size_t n = strcspn(state, " +");

    if (n >= size)
        n = size - 1;
    memcpy(buf, state, n);
    buf[n] = '\0';
}

bool wf__slurm_state_ended(const char *state)
{
    static const char *const ended[] = {
        "COMPLETED", "FAILED",   "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
        "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", NULL,
    };
    char s[32];

    base_state(state, s, sizeof(s));
    for (size_t i = 0; ended[i] != NULL; i++) {
        if (strcmp(s, ended[i]) == 0)
            return true;
    }
    return false;
}

wf_status wf__slurm_state_status(const char *state, int exit_code, bool by_us, bool *timed_out)
{
    char s[32];

    base_state(state, s, sizeof(s));
    *timed_out = strcmp(s, "TIMEOUT") == 0;
    if (strcmp(s, "COMPLETED") == 0 && exit_code == 0)
        return WF_STATUS_SUCCEEDED;
    if (strcmp(s, "CANCELLED") == 0 && by_us)
        return WF_STATUS_CANCELLED;
    return WF_STATUS_FAILED;
}

/* ---- the job files and sbatch -------------------------------------------------------- */

/* The batch script: element SLURM_ARRAY_TASK_ID (0 for a single job) runs cmd.N with exactly
 * the environment of env.N (plus the job's SLURM_* variables above) in the directory of
 * dir.N. The wrapper keeps the element's exit status in rc.N, which lets the poller learn it
 * even when Slurm has already forgotten the job. */
static char *array_script(const char *dir, const char *task_name, const char *engine_umask)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "#!/bin/sh\n# Written by wfengine for task ");
    shell_quote(&sb, task_name);
    wf_strbuf_adds(&sb, ": runs element $SLURM_ARRAY_TASK_ID (cmd.N with the environment of\n"
                        "# env.N in the directory of dir.N) and keeps its exit status in rc.N.\n"
                        "# Only wfengine's SLURM_*, SBATCH_*, PATH and HOME variables are in\n"
                        "# Slurm's job record; the element's environment is in env.N.\n"
                        "umask " JOB_UMASK "\n"
                        "PATH=" WRAPPER_PATH "\n"
                        "d=");
    shell_quote(&sb, dir);
    wf_strbuf_adds(
        &sb, "\ni=${SLURM_ARRAY_TASK_ID:-0}\n"
             "case $i in ''|*[!0-9]*) echo \"wfengine: bad SLURM_ARRAY_TASK_ID '$i'\" >&2; "
             "exit 125;; esac\n"
             "if [ ! -r \"$d/cmd.$i\" ] || [ ! -r \"$d/env.$i\" ] || [ ! -r \"$d/dir.$i\" ]; then\n"
             "    echo \"wfengine: cannot read $d/cmd.$i, env.$i or dir.$i (is the job directory "
             "visible on $(hostname)?)\" >&2\n"
             "    exit 125\n"
             "fi\n"
             "finish() {\n"
             "    umask " JOB_UMASK "\n"
             "    echo \"$1\" >\"$d/rc.$i.tmp\" && mv -f \"$d/rc.$i.tmp\" \"$d/rc.$i\"\n"
             "    exit \"$1\"\n"
             "}\n"
             ". \"$d/dir.$i\"\n"
             "cd \"$w\" 2>/dev/null || {\n"
             "    echo \"wfengine: cannot change directory to '$w'\" >&2\n"
             "    finish 125\n"
             "}\n"
             ". \"$d/env.$i\"\n");
    /* The command creates files with wfengine's umask, as a local unit would. */
    wf_strbuf_addf(&sb, "umask %s\n/usr/bin/env -i -- \"$@\"", engine_umask);
    for (size_t k = 0; SLURM_VARS[k] != NULL; k++)
        wf_strbuf_addf(&sb, " ${%s+\"%s=$%s\"}", SLURM_VARS[k], SLURM_VARS[k], SLURM_VARS[k]);
    wf_strbuf_adds(&sb, " /bin/sh \"$d/cmd.$i\" </dev/null\n"
                        "finish $?\n");
    return wf_strbuf_detach(&sb, NULL);
}

/* Writes cmd.i, env.i and dir.i. env.i is one `set -- 'NAME=VALUE' ...` line that the
 * wrapper sources and hands to env -i: single quotes keep every byte of every value, and a
 * name need not be a shell identifier. Entries without '=' or with an empty name are not
 * environment entries and are left out, as execve would not pass them on usefully. */
static int write_element(const char *dir, size_t i, const wf_slurm_element *e, const char *cwd,
                         wf_error *err)
{
    wf_strbuf sb = WF_STRBUF_INIT, path = WF_STRBUF_INIT;
    int rc;

    wf_strbuf_addf(&path, "%s/cmd.%zu", dir, i);
    rc = write_file(wf_strbuf_str(&path), e->script ? e->script : "",
                    e->script ? strlen(e->script) : 0, 0600, err);
    if (rc != WF_OK)
        goto out;

    wf_strbuf_adds(&sb, "set --");
    for (size_t k = 0; e->envp != NULL && e->envp[k] != NULL; k++) {
        const char *eq = strchr(e->envp[k], '=');

        if (eq == NULL || eq == e->envp[k])
            continue;
        wf_strbuf_addc(&sb, ' ');
        shell_quote(&sb, e->envp[k]);
    }
    wf_strbuf_addc(&sb, '\n');
    wf_strbuf_reset(&path);
    wf_strbuf_addf(&path, "%s/env.%zu", dir, i);
    rc = write_file(wf_strbuf_str(&path), sb.buf, sb.len, 0600, err);
    if (rc != WF_OK)
        goto out;

    /* A relative workdir is relative to the engine's directory, as for local units. */
    wf_strbuf_reset(&sb);
    wf_strbuf_adds(&sb, "w=");
    if (e->workdir == NULL) {
        shell_quote(&sb, cwd);
    } else if (e->workdir[0] == '/') {
        shell_quote(&sb, e->workdir);
    } else {
        char *abs = wf_xasprintf("%s/%s", cwd, e->workdir);

        shell_quote(&sb, abs);
        free(abs);
    }
    wf_strbuf_addc(&sb, '\n');
    wf_strbuf_reset(&path);
    wf_strbuf_addf(&path, "%s/dir.%zu", dir, i);
    rc = write_file(wf_strbuf_str(&path), sb.buf, sb.len, 0600, err);
out:
    wf_strbuf_release(&path);
    wf_strbuf_release(&sb);
    return rc;
}

/* Removes a submission directory and everything in it: the directory is wfengine's own
 * (made by new_submission_dir) and flat, so every entry is one of our files (or a file an
 * element's wrapper left, such as rc.i.tmp). */
static void remove_submission(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;

    while (d != NULL && (de = readdir(d)) != NULL) {
        char *p;

        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        p = wf_xasprintf("%s/%s", dir, de->d_name);
        unlink(p);
        free(p);
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

/* Removes the files of element i once it has been reported: its command and environment may
 * hold secrets, and its output is in the result (and the store) now. */
static void remove_element_files(const char *dir, size_t i)
{
    static const char *const kinds[] = { "cmd", "env", "dir", "out", "err", "rc", NULL };

    for (size_t k = 0; kinds[k] != NULL; k++) {
        char *p = wf_xasprintf("%s/%s.%zu", dir, kinds[k], i);

        unlink(p);
        free(p);
    }
}

/* Creates job_dir/<task>-<k> for the first free k. */
static char *new_submission_dir(wf_slurm *s, const char *task_name, wf_error *err)
{
    wf_strbuf name = WF_STRBUF_INIT;
    char *dir = NULL;

    safe_name(&name, task_name);
    for (int tries = 0; tries < 100000; tries++) {
        dir = wf_xasprintf("%s/%s-%u", s->job_dir, wf_strbuf_str(&name), ++s->next_submission);
        if (mkdir(dir, 0700) == 0)
            goto out;
        if (errno != EEXIST) {
            wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot create the Slurm job directory %s: %s",
                         dir, strerror(errno));
            free(dir);
            dir = NULL;
            goto out;
        }
        free(dir);
        dir = NULL;
    }
    wf_error_set(err, WF_EIO, NULL, 0, 0, "no free submission directory under %s", s->job_dir);
out:
    wf_strbuf_release(&name);
    return dir;
}

/* The --time to pass, in minutes (0: none): the task's timeout rounded up to whole minutes,
 * or the `slurm.time` option, whichever is shorter. *raw_time is set when slurm.time is not
 * a time we can read: it is then passed as it is, for sbatch to judge. */
static int64_t time_limit_min(const wf_slurm_opts *opts, int64_t timeout_ms, bool *from_timeout,
                              bool *raw_time)
{
    int64_t from_opt = -1, from_to = 0;

    *from_timeout = false;
    *raw_time = false;
    if (opts != NULL && opts->time != NULL && opts->time[0] != '\0') {
        int64_t secs = wf__slurm_parse_time(opts->time);

        /* "0" is Slurm's "no limit": passed as it is, like what we cannot read. */
        if (secs <= 0)
            *raw_time = true;
        else
            from_opt = (secs + 59) / 60;
    }
    if (timeout_ms > 0)
        from_to = (timeout_ms + 59999) / 60000;
    if (from_to > 0 && (from_opt < 0 || from_to <= from_opt)) {
        *from_timeout = true;
        return from_to;
    }
    return from_opt > 0 ? from_opt : 0;
}

int wf_slurm_submit(wf_slurm *s, uint32_t task, const char *task_name,
                    const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                    const wf_slurm_opts *opts, int64_t timeout_ms, wf_error *err)
{
    wf_strbuf sb = WF_STRBUF_INIT, name = WF_STRBUF_INIT;
    char **argv = NULL;
    size_t argc = 0, cap;
    char *dir = NULL, *script = NULL, *path = NULL, cwd[PATH_MAX];
    wf_proc_result res;
    job *j = NULL;
    bool from_timeout = false, raw_time = false, cancelled;
    int64_t limit;
    size_t idlen;
    int rc = WF_OK;

    memset(&res, 0, sizeof(res));
    if (n == 0) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "task '%s': nothing to submit to Slurm",
                     task_name);
        return WF_EINVAL;
    }
    pthread_mutex_lock(&s->mu);
    cancelled = s->cancel || s->stop;
    pthread_mutex_unlock(&s->mu);
    if (cancelled) {
        wf_error_set(err, WF_ECANCELLED, NULL, 0, 0,
                     "task '%s': not submitted to Slurm: the run is being cancelled", task_name);
        return WF_ECANCELLED;
    }
    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot get the current directory: %s",
                     strerror(errno));
        return WF_EIO;
    }
    dir = new_submission_dir(s, task_name, err);
    if (dir == NULL)
        return WF_EIO;
    /* Only the scheduler thread submits; wf_slurm_free reads the list after the poller has
     * stopped. */
    if (s->n_subdirs == s->cap_subdirs) {
        s->cap_subdirs = s->cap_subdirs ? s->cap_subdirs * 2 : 8;
        s->subdirs = wf_xrealloc(s->subdirs, s->cap_subdirs * sizeof(*s->subdirs));
    }
    s->subdirs[s->n_subdirs++] = wf_xstrdup(dir);
    for (size_t i = 0; i < n; i++) {
        rc = write_element(dir, i, &elems[i], cwd, err);
        if (rc != WF_OK)
            goto out;
    }
    script = array_script(dir, task_name, s->engine_umask);
    path = wf_xasprintf("%s/array.sh", dir);
    rc = write_file(path, script, strlen(script), 0700, err);
    if (rc != WF_OK)
        goto out;

    as_array = as_array || n > 1;
    limit = time_limit_min(opts, timeout_ms, &from_timeout, &raw_time);
    safe_name(&name, task_name);
    /* Our own options (14 at most, with the script), the extra ones and the NULL. */
    cap = 17;
    for (size_t k = 0; opts != NULL && opts->extra != NULL && opts->extra[k] != NULL; k++)
        cap++;
    argv = wf_xcalloc(cap, sizeof(char *));
    argv[argc++] = wf_xstrdup("sbatch");
    argv[argc++] = wf_xstrdup("--parsable");
    /* sbatch copies the environment it exports into the job record that slurmctld keeps on
     * disk: run_sbatch gives it only what configures sbatch (SLURM_*, SBATCH_*, PATH, HOME),
     * never wfengine's whole environment with its tokens; the element's environment travels
     * in env.i (0600, deleted when the element has ended). ALL, explicitly, so that an
     * SBATCH_EXPORT setting cannot change it: NONE or a list of names would make Slurm 22.05
     * run a login shell for each job on the node to load the user's environment (seconds per
     * job, and an error in slurmd's log where su is not usable). */
    argv[argc++] = wf_xstrdup("--export=ALL");
    argv[argc++] = wf_xasprintf("--job-name=wf-%s", wf_strbuf_str(&name));
    if (as_array) {
        if (concurrency > 0 && (size_t)concurrency < n)
            argv[argc++] = wf_xasprintf("--array=0-%zu%%%d", n - 1, concurrency);
        else
            argv[argc++] = wf_xasprintf("--array=0-%zu", n - 1);
        argv[argc++] = wf_xasprintf("--output=%s/out.%%a", dir);
        argv[argc++] = wf_xasprintf("--error=%s/err.%%a", dir);
    } else {
        argv[argc++] = wf_xasprintf("--output=%s/out.0", dir);
        argv[argc++] = wf_xasprintf("--error=%s/err.0", dir);
    }
    /* The job starts in the submission directory (which the nodes must see anyway); the
     * wrapper then moves to each element's own directory. */
    argv[argc++] = wf_xasprintf("--chdir=%s", dir);
    if (opts != NULL && opts->partition != NULL && opts->partition[0] != '\0')
        argv[argc++] = wf_xasprintf("--partition=%s", opts->partition);
    if (raw_time)
        argv[argc++] = wf_xasprintf("--time=%s", opts->time);
    if (limit > 0)
        argv[argc++] = wf_xasprintf("--time=%lld", (long long)limit);
    if (opts != NULL && opts->cpus > 0)
        argv[argc++] = wf_xasprintf("--cpus-per-task=%d", opts->cpus);
    if (opts != NULL && opts->mem != NULL && opts->mem[0] != '\0')
        argv[argc++] = wf_xasprintf("--mem=%s", opts->mem);
    for (size_t k = 0; opts != NULL && opts->extra != NULL && opts->extra[k] != NULL; k++)
        argv[argc++] = wf_xstrdup(opts->extra[k]);
    argv[argc++] = wf_xstrdup(path);

    rc = run_sbatch((const char *const *)argv, &res);
    idlen = strcspn(res.out.data ? res.out.data : "", ";\n ");
    if (rc != WF_OK || res.exit_code != 0 || idlen == 0 || idlen >= sizeof(j->id) ||
        parse_num(res.out.data, idlen) < 0) {
        wf_strbuf_addf(&sb, "task '%s': cannot submit %zu element%s to Slurm: ", task_name, n,
                       n == 1 ? "" : "s");
        if (rc == WF_OK && res.exit_code == 0) {
            wf_strbuf_adds(&sb, "sbatch printed no job id: ");
            add_tail(&sb, res.out.data, res.out.len);
        } else {
            describe_failure(&sb, "sbatch", rc, &res);
        }
        wf_error_set(err, WF_EEXEC, NULL, 0, 0, "%s", wf_strbuf_str(&sb));
        rc = WF_EEXEC;
        goto out;
    }

    j = wf_xcalloc(1, sizeof(*j));
    memcpy(j->id, res.out.data, idlen);
    j->id[idlen] = '\0';
    j->dir = dir;
    dir = NULL;
    j->task_name = wf_xstrdup(task_name);
    j->task = task;
    j->is_array = as_array;
    j->limit_min = limit;
    j->limit_from_timeout = from_timeout;
    j->submit_ms = wf_now_ms();
    j->n = j->left = n;
    j->el = wf_xcalloc(n, sizeof(*j->el));
    for (size_t i = 0; i < n; i++) {
        j->el[i].unit = elems[i].unit;
        j->el[i].attempt = elems[i].attempt;
    }
    atomic_fetch_add(&s->pending, n);
    pthread_mutex_lock(&s->mu);
    if (s->n_jobs == s->cap_jobs) {
        s->cap_jobs = s->cap_jobs ? s->cap_jobs * 2 : 16;
        s->jobs = wf_xrealloc(s->jobs, s->cap_jobs * sizeof(*s->jobs));
    }
    s->jobs[s->n_jobs++] = j;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
    rc = WF_OK;
out:
    if (dir != NULL)
        remove_submission(dir);
    for (size_t k = 0; k < argc; k++)
        free(argv[k]);
    free(argv);
    wf_proc_result_release(&res);
    free(path);
    free(script);
    free(dir);
    wf_strbuf_release(&name);
    wf_strbuf_release(&sb);
    return rc;
}

/* ---- the poller ---------------------------------------------------------------------- */

static void job_free(job *j)
{
    if (j == NULL)
        return;
    free(j->el);
    free(j->task_name);
    free(j->dir);
    free(j);
}

/* Whether element e has left the queue unreported: how it ended is still to be found. */
static bool gone(const element *e)
{
    return !e->done && !e->queued;
}

static bool any_gone(const job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        if (gone(&j->el[i]))
            return true;
    }
    return false;
}

/* What a Slurm state means, for the message. */
static const char *state_meaning(const char *state)
{
    static const char *const meanings[][2] = {
        { "NODE_FAIL", "its node failed" },         { "OUT_OF_MEMORY", "it ran out of memory" },
        { "BOOT_FAIL", "its node failed to boot" }, { "DEADLINE", "it reached its deadline" },
        { "PREEMPTED", "it was preempted" },        { "REVOKED", "it was revoked" },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(meanings); i++) {
        if (strcmp(state, meanings[i][0]) == 0)
            return meanings[i][1];
    }
    return "it ended";
}

static void exit_text(wf_strbuf *sb, int exit_code)
{
    if (exit_code > 128 && exit_code < 128 + 65)
        wf_strbuf_addf(sb, "killed by signal %d (exit code %d)", exit_code - 128, exit_code);
    else if (exit_code >= 0)
        wf_strbuf_addf(sb, "exit code %d", exit_code);
    else
        wf_strbuf_adds(sb, "exit code unknown");
}

/* Reports element i of j as ended in state (Slurm's spelling) with exit_code; note, when
 * not NULL, explains where the state came from. Called on the poller thread, without the
 * lock: the job's fields are the poller's. */
static void finish(wf_slurm *s, job *j, size_t i, const char *state, int exit_code,
                   int64_t run_time_ms, const char *note)
{
    element *e = &j->el[i];
    wf_slurm_result r;
    wf_strbuf msg = WF_STRBUF_INIT;
    char st[32], *path;
    bool have_out, have_err, err_trunc;

    base_state(state, st, sizeof(st));
    memset(&r, 0, sizeof(r));
    r.task = j->task;
    r.unit = e->unit;
    r.attempt = e->attempt;
    r.exit_code = exit_code;
    r.end_ms = wf_now_ms();
    r.start_ms = e->start_ms;
    if (r.start_ms == 0) {
        /* It ran between two polls: RunTime says for how long. */
        r.start_ms = run_time_ms >= 0 ? r.end_ms - run_time_ms : r.end_ms;
        if (r.start_ms < j->submit_ms)
            r.start_ms = j->submit_ms;
    }
    if (j->is_array)
        snprintf(r.job_id, sizeof(r.job_id), "%s_%zu", j->id, i);
    else
        snprintf(r.job_id, sizeof(r.job_id), "%s", j->id);
    r.status = wf__slurm_state_status(st, exit_code, j->scancelled, &r.timed_out);

    path = wf_xasprintf("%s/out.%zu", j->dir, i);
    have_out = read_capped(path, STDOUT_CAP, &r.out, &r.out_truncated);
    free(path);
    path = wf_xasprintf("%s/err.%zu", j->dir, i);
    have_err = read_capped(path, STDERR_CAP, &r.err, &err_trunc);
    free(path);

    if (r.status != WF_STATUS_SUCCEEDED) {
        wf_strbuf_addf(&msg, "job %s %s: ", r.job_id, st);
        if (r.status == WF_STATUS_CANCELLED) {
            wf_strbuf_adds(&msg, "cancelled by wfengine");
        } else if (strcmp(st, "CANCELLED") == 0) {
            wf_strbuf_adds(&msg, "cancelled by Slurm (or by someone else's scancel)");
        } else if (r.timed_out) {
            wf_strbuf_addf(&msg, "reached its time limit of %lld minute%s", (long long)j->limit_min,
                           j->limit_min == 1 ? "" : "s");
            if (j->limit_from_timeout)
                wf_strbuf_adds(&msg, " (the task's timeout, rounded up to whole minutes)");
        } else if (strcmp(st, "COMPLETED") == 0 || strcmp(st, "FAILED") == 0) {
            exit_text(&msg, exit_code);
        } else {
            wf_strbuf_adds(&msg, state_meaning(st));
            wf_strbuf_adds(&msg, ", ");
            exit_text(&msg, exit_code);
        }
        if (note != NULL)
            wf_strbuf_addf(&msg, " (%s)", note);
        if (!have_out && !have_err && r.status == WF_STATUS_FAILED)
            wf_strbuf_addf(&msg,
                           "; it left no output files in %s: is that directory visible "
                           "on the compute nodes?",
                           j->dir);
        r.error = wf_strbuf_detach(&msg, NULL);
    }
    wf_strbuf_release(&msg);

    if (!s->keep_files)
        remove_element_files(j->dir, i);

    e->done = true;
    j->left--;
    s->done(&r, s->user);
    atomic_fetch_sub(&s->pending, 1);
}

/* The next line of a command's output from *pos on, without its newline; false at the end. */
static bool next_line(const wf_proc_output *out, size_t *pos, const char **line, size_t *len)
{
    const char *nl;

    if (out->data == NULL || *pos >= out->len)
        return false;
    *line = out->data + *pos;
    nl = memchr(*line, '\n', out->len - *pos);
    *len = nl ? (size_t)(nl - *line) : out->len - *pos;
    *pos += *len + 1;
    return true;
}

/* The comma-separated ids of jobs[from..to) that still have elements to report. */
static void id_list(wf_strbuf *sb, job *const *jobs, size_t from, size_t to)
{
    wf_strbuf_reset(sb);
    for (size_t k = from; k < to; k++) {
        if (jobs[k]->left == 0)
            continue;
        if (sb->len > 0)
            wf_strbuf_addc(sb, ',');
        wf_strbuf_adds(sb, jobs[k]->id);
    }
}

static job *find_job(job *const *jobs, size_t n, const char *id, size_t idlen)
{
    for (size_t k = 0; k < n; k++) {
        if (strlen(jobs[k]->id) == idlen && memcmp(jobs[k]->id, id, idlen) == 0)
            return jobs[k];
    }
    return NULL;
}

/* One `squeue -r` line, "ID STATE": marks the element queued (and running). */
static void note_queued(job *const *jobs, size_t n, const char *line, size_t len, int64_t now)
{
    const char *sp = memchr(line, ' ', len), *us;
    size_t idlen;
    long long idx = 0;
    char state[32];
    size_t slen;
    job *j;

    if (sp == NULL)
        return;
    idlen = (size_t)(sp - line);
    us = memchr(line, '_', idlen);
    j = find_job(jobs, n, line, us ? (size_t)(us - line) : idlen);
    if (j == NULL)
        return;
    if (us != NULL)
        idx = parse_num(us + 1, idlen - (size_t)(us + 1 - line));
    if (idx < 0 || (size_t)idx >= j->n)
        return;
    slen = len - idlen - 1;
    if (slen >= sizeof(state))
        slen = sizeof(state) - 1;
    memcpy(state, sp + 1, slen);
    state[slen] = '\0';
    /* A final state still listed is as good as gone: scontrol has the details. */
    if (wf__slurm_state_ended(state))
        return;
    j->el[idx].queued = true;
    if (j->el[idx].start_ms == 0 && strcmp(state, "RUNNING") == 0)
        j->el[idx].start_ms = now;
}

/* Runs squeue for jobs; marks what is queued. Returns false (with why in *why) when squeue
 * did not answer. */
static bool poll_queue(job *const *jobs, size_t n, wf_strbuf *why)
{
    wf_strbuf ids = WF_STRBUF_INIT;
    wf_proc_result res;
    bool ok = true;
    int64_t now = wf_now_ms();

    memset(&res, 0, sizeof(res));
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < jobs[k]->n; i++)
            jobs[k]->el[i].queued = false;
    }
    for (size_t from = 0; from < n && ok; from += IDS_PER_CALL) {
        size_t to = from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n;
        const char *argv[] = { "squeue", "-h", "-r", "-o", "%i %T", "-j", NULL, NULL };
        const char *line;
        size_t len, pos = 0;
        int rc;

        id_list(&ids, jobs, from, to);
        if (ids.len == 0)
            continue;
        argv[6] = wf_strbuf_str(&ids);
        wf_proc_result_release(&res);
        rc = run_cmd(argv, NULL, &res);
        if (rc != WF_OK || res.exit_code != 0) {
            /* squeue -j with only ids the controller has purged fails this way: nothing of
             * ours is queued then. */
            if (rc == WF_OK && res.err.data != NULL &&
                strstr(res.err.data, "Invalid job id specified") != NULL)
                continue;
            describe_failure(why, "squeue", rc, &res);
            ok = false;
            break;
        }
        while (next_line(&res.out, &pos, &line, &len))
            note_queued(jobs, n, line, len, now);
    }
    wf_proc_result_release(&res);
    wf_strbuf_release(&ids);
    return ok;
}

/* A record for the elements that never started, as one range ("ArrayTaskId=2-5,7%2"):
 * what happens to the pending part of an array that is cancelled. Every element in it ends
 * in the record's state, with no exit code (its "0:0" is not one). A list too long for the buffer
 * is cut; the elements it loses are found by the fallbacks. */
static void finish_range(wf_slurm *s, job *j, const char *line, size_t len,
                         const wf__slurm_record *rec)
{
    char ids[4096];
    const char *p = ids;

    if (!field(line, len, "ArrayTaskId", ids, sizeof(ids)))
        return;
    ids[strcspn(ids, "%")] = '\0';
    while (*p != '\0') {
        size_t n = strcspn(p, ",");
        const char *dash = memchr(p, '-', n);
        long long from, to;

        from = parse_num(p, dash ? (size_t)(dash - p) : n);
        to = dash ? parse_num(dash + 1, n - (size_t)(dash + 1 - p)) : from;
        for (long long i = from; from >= 0 && i <= to && (size_t)i < j->n; i++) {
            if (gone(&j->el[i]))
                finish(s, j, (size_t)i, rec->state, -1, 0, NULL);
        }
        p += n;
        if (*p == ',')
            p++;
    }
}

/* Finishes every element of j that scontrol shows in a final state. */
static void poll_scontrol(wf_slurm *s, job *j)
{
    const char *argv[] = { "scontrol", "show", "job", "-o", j->id, NULL };
    wf_proc_result res;
    const char *line;
    size_t len, pos = 0;
    int rc;

    memset(&res, 0, sizeof(res));
    rc = run_cmd(argv, NULL, &res);
    if (rc != WF_OK || res.exit_code != 0)
        goto out;
    while (next_line(&res.out, &pos, &line, &len)) {
        wf__slurm_record rec;
        long idx = 0;

        if (!wf__slurm_parse_record(line, len, &rec) || !wf__slurm_state_ended(rec.state))
            continue;
        if (j->is_array) {
            if (strcmp(rec.array_job_id, j->id) != 0)
                continue;
            if (rec.array_task_id < 0) {
                finish_range(s, j, line, len, &rec);
                continue;
            }
            idx = rec.array_task_id;
        } else if (strcmp(rec.job_id, j->id) != 0) {
            continue;
        }
        if ((size_t)idx >= j->n || j->el[idx].done)
            continue;
        finish(s, j, (size_t)idx, rec.state, rec.exit_code, rec.run_time_ms, NULL);
    }
out:
    wf_proc_result_release(&res);
}

/* For elements that scontrol no longer knows: sacct (accounting, then the job completion
 * log of `sacct -c`), then the exit status file the wrapper wrote. */
static void poll_fallback(wf_slurm *s, job *j)
{
    wf_strbuf ids = WF_STRBUF_INIT;
    wf_proc_result res;
    const char *raw;
    size_t len, pos = 0;

    memset(&res, 0, sizeof(res));
    for (size_t i = 0; i < j->n; i++) {
        if (!gone(&j->el[i]))
            continue;
        if (ids.len > 0)
            wf_strbuf_addc(&ids, ',');
        if (j->is_array)
            wf_strbuf_addf(&ids, "%s_%zu", j->id, i);
        else
            wf_strbuf_adds(&ids, j->id);
    }
    if (ids.len == 0)
        goto out;
    {
        const char *argv[] = {
            "sacct", "-n", "-P", "-X", "-o", "JobID,State,ExitCode", "-j", wf_strbuf_str(&ids), NULL
        };

        if (run_cmd(argv, NULL, &res) != WF_OK || res.exit_code != 0) {
            /* No accounting database: the job completion log knows plain jobs by id (array
             * elements have ids of their own there, which only scontrol told). */
            const char *argv_c[] = { "sacct", "-c",  "-n", "-P", "-o", "JobID,State,ExitCode",
                                     "-j",    j->id, NULL };

            wf_proc_result_release(&res);
            if (j->is_array || run_cmd(argv_c, NULL, &res) != WF_OK || res.exit_code != 0)
                wf_proc_result_release(&res);
        }
    }
    while (next_line(&res.out, &pos, &raw, &len)) {
        char line[256], *f1, *f2, *us;
        long long idx = 0;

        if (len >= sizeof(line))
            len = sizeof(line) - 1;
        memcpy(line, raw, len);
        line[len] = '\0';
        f1 = strchr(line, '|');
        f2 = f1 ? strchr(f1 + 1, '|') : NULL;
        if (f2 == NULL)
            continue;
        *f1++ = '\0';
        *f2++ = '\0';
        us = strchr(line, '_');
        if (us != NULL)
            *us = '\0';
        if (j->is_array != (us != NULL) || strcmp(line, j->id) != 0)
            continue;
        if (us != NULL)
            idx = parse_num(us + 1, strlen(us + 1));
        if (idx < 0 || (size_t)idx >= j->n || !gone(&j->el[idx]) || !wf__slurm_state_ended(f1))
            continue;
        finish(s, j, (size_t)idx, f1, wf__slurm_parse_exit(f2), -1, "state from sacct");
    }
    for (size_t i = 0; i < j->n; i++) {
        element *e = &j->el[i];
        char *path, *text = NULL;
        bool trunc;

        if (!gone(e))
            continue;
        path = wf_xasprintf("%s/rc.%zu", j->dir, i);
        if (read_capped(path, 32, &text, &trunc)) {
            int code = (int)parse_num(text, strcspn(text, "\n"));

            finish(s, j, i, code == 0 ? "COMPLETED" : "FAILED", code, -1,
                   "Slurm no longer knew the job; exit status from its rc file");
        } else if (++e->missing >= MISSING_POLLS) {
            finish(s, j, i, j->scancelled ? "CANCELLED" : "FAILED", -1, -1,
                   "it left the queue, but neither scontrol nor sacct knows how it ended");
        }
        free(path);
        free(text);
    }
out:
    wf_proc_result_release(&res);
    wf_strbuf_release(&ids);
}

/* scancel for the jobs not yet cancelled; array jobs by their array id (all elements). */
static void cancel_jobs(job *const *jobs, size_t n)
{
    for (size_t from = 0; from < n; from += IDS_PER_CALL) {
        size_t to = from + IDS_PER_CALL < n ? from + IDS_PER_CALL : n;
        const char **argv = wf_xcalloc(to - from + 2, sizeof(char *));
        size_t argc = 0;
        wf_proc_result res;

        memset(&res, 0, sizeof(res));
        argv[argc++] = "scancel";
        for (size_t k = from; k < to; k++) {
            if (!jobs[k]->scancelled && jobs[k]->left > 0)
                argv[argc++] = jobs[k]->id;
        }
        /* scancel fails for jobs that ended meanwhile, yet cancels the others: whatever it
         * says, the poll that follows tells how each element ended. */
        if (argc > 1) {
            run_cmd(argv, NULL, &res);
            for (size_t k = from; k < to; k++)
                jobs[k]->scancelled = true;
        }
        wf_proc_result_release(&res);
        free(argv);
    }
}

/* One round: squeue for all, then scontrol (and the fallbacks) for the jobs that have
 * elements no longer queued. Returns false when squeue did not answer. */
static bool poll_once(wf_slurm *s, job *const *jobs, size_t n, wf_strbuf *why)
{
    if (!poll_queue(jobs, n, why))
        return false;
    for (size_t k = 0; k < n; k++) {
        if (!any_gone(jobs[k]))
            continue;
        poll_scontrol(s, jobs[k]);
        if (any_gone(jobs[k]))
            poll_fallback(s, jobs[k]);
    }
    return true;
}

/* Reports every element left in jobs as ended in state with message note. */
static void finish_all(wf_slurm *s, job *const *jobs, size_t n, const char *state, const char *note)
{
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i < jobs[k]->n; i++) {
            if (!jobs[k]->el[i].done)
                finish(s, jobs[k], i, state, -1, -1, note);
        }
    }
}

static void *poller(void *arg)
{
    wf_slurm *s = arg;
    job **snap = NULL;
    size_t n = 0, snap_cap = 0;
    int64_t next_poll = 0, failing_since = 0, stop_at = 0;
    wf_strbuf why = WF_STRBUF_INIT;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool cancel, stop;

        /* Wait for the next poll, for work, or for a cancel/stop. */
        for (;;) {
            int64_t now = wf_now_ms();
            struct timespec ts;

            if ((s->stop && s->n_jobs == 0) || s->kick || (s->n_jobs > 0 && now >= next_poll))
                break;
            if (s->n_jobs == 0) {
                pthread_cond_wait(&s->cond, &s->mu);
                continue;
            }
            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)((next_poll - now) / 1000);
            ts.tv_nsec += (long)((next_poll - now) % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cond, &s->mu, &ts);
        }
        if (s->stop && s->n_jobs == 0)
            break;
        s->kick = false;
        cancel = s->cancel || s->stop;
        stop = s->stop;
        if (s->n_jobs > snap_cap) {
            snap_cap = s->n_jobs;
            snap = wf_xrealloc(snap, snap_cap * sizeof(*snap));
        }
        n = s->n_jobs;
        memcpy(snap, s->jobs, n * sizeof(*snap));
        pthread_mutex_unlock(&s->mu);

        if (stop && stop_at == 0)
            stop_at = wf_now_ms() + STOP_WAIT_MS;
        if (cancel)
            cancel_jobs(snap, n);
        wf_strbuf_reset(&why);
        if (poll_once(s, snap, n, &why)) {
            failing_since = 0;
        } else if (failing_since == 0) {
            failing_since = wf_now_ms();
        } else if (wf_now_ms() - failing_since > GIVE_UP_MS) {
            char *note = wf_xasprintf("the Slurm cluster stopped answering for %d s: %s",
                                      GIVE_UP_MS / 1000, wf_strbuf_str(&why));

            cancel_jobs(snap, n);
            finish_all(s, snap, n, "FAILED", note);
            free(note);
        }
        if (stop && wf_now_ms() >= stop_at)
            finish_all(s, snap, n, "CANCELLED",
                       "Slurm did not confirm the cancellation within 30 s");
        next_poll = wf_now_ms() + (cancel && s->poll_ms > 200 ? 200 : s->poll_ms);

        pthread_mutex_lock(&s->mu);
        /* Drop the jobs with nothing left to report; new ones may have been appended. */
        for (size_t k = 0; k < s->n_jobs;) {
            if (s->jobs[k]->left == 0) {
                job_free(s->jobs[k]);
                s->jobs[k] = s->jobs[--s->n_jobs];
            } else {
                k++;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    free(snap);
    wf_strbuf_release(&why);
    return NULL;
}

/* ---- public -------------------------------------------------------------------------- */

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
    memset(&res, 0, sizeof(res));
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
            describe_failure(&sb, argv[0], rc, &res);
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

/* wfengine's umask as text ("0022"), read without changing it: umask(2) can only be read by
 * setting it, which would race with the other threads creating files. */
static void engine_umask(char *buf, size_t size)
{
    FILE *f = fopen("/proc/self/status", "re");
    char line[256];
    unsigned mask = 022;

    while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
        if (strncmp(line, "Umask:", 6) == 0) {
            mask = (unsigned)strtoul(line + 6, NULL, 8) & 0777;
            break;
        }
    }
    if (f != NULL)
        fclose(f);
    snprintf(buf, size, "%04o", mask);
}

wf_slurm *wf_slurm_new(const char *job_dir, int poll_ms, bool keep_files, wf_slurm_done_fn done,
                       void *user, wf_error *err)
{
    wf_slurm *s = NULL;
    char *abs = NULL;
    pthread_condattr_t cattr;
    int rc;

    if (job_dir == NULL || job_dir[0] == '\0' || strpbrk(job_dir, "%\n") != NULL) {
        /* sbatch reads % in --output as a pattern; a newline would break the scripts. */
        wf_error_set(err, WF_EINVAL, NULL, 0, 0,
                     "the Slurm job directory '%s' cannot be used: it must be a path without "
                     "'%%' or newlines",
                     job_dir ? job_dir : "");
        return NULL;
    }
    /* mkdir -p: the job directory is usually a new run's directory in the state dir. */
    {
        char *p = wf_xstrdup(job_dir);

        for (char *q = p + 1; *q != '\0'; q++) {
            if (*q != '/')
                continue;
            *q = '\0';
            mkdir(p, 0700);
            *q = '/';
        }
        rc = mkdir(p, 0700);
        free(p);
        if (rc != 0 && errno != EEXIST) {
            wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot create the Slurm job directory %s: %s",
                         job_dir, strerror(errno));
            return NULL;
        }
    }
    /* The scripts and sbatch's --output need an absolute path: the job does not start in
     * the engine's directory. */
    if (job_dir[0] == '/') {
        abs = wf_xstrdup(job_dir);
    } else {
        char cwd[PATH_MAX];

        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot get the current directory: %s",
                         strerror(errno));
            return NULL;
        }
        abs = wf_xasprintf("%s/%s", cwd, job_dir);
    }
    s = wf_xcalloc(1, sizeof(*s));
    s->job_dir = abs;
    s->poll_ms = poll_ms > 0 ? poll_ms : DEFAULT_POLL_MS;
    s->keep_files = keep_files;
    engine_umask(s->engine_umask, sizeof(s->engine_umask));
    s->done = done;
    s->user = user;
    atomic_init(&s->pending, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    rc = pthread_create(&s->thread, NULL, poller, s);
    if (rc != 0) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot start the Slurm poller thread: %s",
                     strerror(rc));
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s->job_dir);
        free(s);
        return NULL;
    }
    return s;
}

/* Sets *flag (s->cancel or s->stop) and has the poller act on it now. */
static void tell_poller(wf_slurm *s, bool *flag)
{
    pthread_mutex_lock(&s->mu);
    *flag = true;
    s->kick = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

void wf_slurm_cancel_all(wf_slurm *s)
{
    if (s != NULL)
        tell_poller(s, &s->cancel);
}

size_t wf_slurm_pending(const wf_slurm *s)
{
    return s ? atomic_load(&s->pending) : 0;
}

void wf_slurm_free(wf_slurm *s)
{
    if (s == NULL)
        return;
    tell_poller(s, &s->stop);
    pthread_join(s->thread, NULL);
    for (size_t k = 0; k < s->n_jobs; k++)
        job_free(s->jobs[k]);
    free(s->jobs);
    /* Every element has been reported: nothing of the run is needed on disk any more. The
     * job directory itself goes only when empty (it may be a directory the caller chose). */
    for (size_t k = 0; k < s->n_subdirs; k++) {
        if (!s->keep_files)
            remove_submission(s->subdirs[k]);
        free(s->subdirs[k]);
    }
    free(s->subdirs);
    if (!s->keep_files)
        rmdir(s->job_dir);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->job_dir);
    free(s);
}
