/*
 * slurm_submit.c: wf_slurm_submit. Each submission gets a directory job_dir/<task>-<k>
 * (0700) that holds, for element i, cmd.i (its script), env.i (its environment) and dir.i
 * (its workdir), later out.i, err.i and rc.i (what it printed, its exit status), all 0600,
 * and array.sh, the batch script that runs element $SLURM_ARRAY_TASK_ID; then one sbatch
 * call, with a reduced environment, submits them all. A packed submission (wf_slurm.h,
 * "Packs") writes the same files per item and, instead of array.sh, slurm-B.sh (the element
 * script of slurm_pack.c) for the job whose items start at B. The files are removed here too
 * (wf__slurm_remove_*), once reported or at the end.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "slurm_internal.h"

extern char **environ; /* sbatch's environment is taken from wfengine's (run_sbatch) */

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

/* The batch script: element SLURM_ARRAY_TASK_ID (0 for a single job) runs cmd.N with exactly
 * the environment of env.N (plus the job's SLURM_* variables above) in the directory of
 * dir.N. The wrapper keeps the element's exit status in rc.N, which lets the poller learn it
 * even when Slurm has already forgotten the job. */
static char *array_script(const char *dir, const char *task_name, const char *engine_umask)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "#!/bin/sh\n# Written by wfengine for task ");
    wf__slurm_shell_quote(&sb, task_name);
    wf_strbuf_adds(&sb, ": runs element $SLURM_ARRAY_TASK_ID (cmd.N with the environment of\n"
                        "# env.N in the directory of dir.N) and keeps its exit status in rc.N.\n"
                        "# Only wfengine's SLURM_*, SBATCH_*, PATH and HOME variables are in\n"
                        "# Slurm's job record; the element's environment is in env.N.\n"
                        "umask " JOB_UMASK "\n"
                        "PATH=" WRAPPER_PATH "\n"
                        "d=");
    wf__slurm_shell_quote(&sb, dir);
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
    /* As locally: the element's own TMPDIR on the node, removed when it ends, and $WF_RESULT
     * in the job directory, where the poller reads it. */
    wf_strbuf_adds(&sb, "t=$(mktemp -d \"${TMPDIR:-/tmp}/wfengine-unit.XXXXXX\") || {\n"
                        "    echo \"wfengine: cannot create a temporary directory in "
                        "${TMPDIR:-/tmp} on $(hostname)\" >&2\n"
                        "    finish 125\n"
                        "}\n");
    /* The command creates files with wfengine's umask, as a local unit would. */
    wf_strbuf_addf(&sb, "umask %s\n/usr/bin/env -i -- \"$@\"", engine_umask);
    for (size_t k = 0; SLURM_VARS[k] != NULL; k++)
        wf_strbuf_addf(&sb, " ${%s+\"%s=$%s\"}", SLURM_VARS[k], SLURM_VARS[k], SLURM_VARS[k]);
    wf_strbuf_adds(&sb, " \"TMPDIR=$t\" \"WF_RESULT=$d/result.$i\" /bin/sh -e \"$d/cmd.$i\" "
                        "</dev/null\n"
                        "s=$?\n"
                        "rm -rf \"$t\"\n"
                        "finish $s\n");
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
        wf__slurm_shell_quote(&sb, e->envp[k]);
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
        wf__slurm_shell_quote(&sb, cwd);
    } else if (e->workdir[0] == '/') {
        wf__slurm_shell_quote(&sb, e->workdir);
    } else {
        char *abs = wf_xasprintf("%s/%s", cwd, e->workdir);

        wf__slurm_shell_quote(&sb, abs);
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

void wf__slurm_remove_submission(const char *dir)
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

void wf__slurm_remove_pack_element_files(const char *dir, size_t base, size_t a)
{
    static const char *const kinds[] = { "out", "err", "rc", NULL };

    for (size_t k = 0; kinds[k] != NULL; k++) {
        char *p = wf_xasprintf("%s/slurm-%zu.%s.%zu", dir, base, kinds[k], a);

        unlink(p);
        free(p);
    }
}

void wf__slurm_remove_element_files(const char *dir, size_t i)
{
    static const char *const kinds[] = { "cmd", "env",    "dir",   "out", "err",
                                         "rc",  "result", "begin", NULL };

    for (size_t k = 0; kinds[k] != NULL; k++) {
        char *p = wf_xasprintf("%s/%s.%zu", dir, kinds[k], i);

        unlink(p);
        free(p);
    }
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
    rc = wf__slurm_run(argv, envp, res);
    free(envp);
    return rc;
}

size_t wf__slurm_split(size_t n, long max_array, int concurrency, wf__slurm_piece **pieces)
{
    size_t max = max_array < 1 ? 1 : (size_t)max_array;
    size_t count = (n + max - 1) / max, lanes;

    *pieces = wf_xcalloc(count, sizeof(**pieces));
    lanes = concurrency > 0 && (size_t)concurrency < count ? (size_t)concurrency : count;
    for (size_t k = 0; k < count; k++) {
        wf__slurm_piece *p = &(*pieces)[k];
        size_t lane = k % lanes;

        p->first = k * max;
        p->n = n - p->first < max ? n - p->first : max;
        p->after = k >= lanes ? (long)(k - lanes) : -1;
        if (concurrency > 0) {
            size_t share = (size_t)concurrency / lanes + (lane < (size_t)concurrency % lanes);

            /* A %C that is not below the piece's size limits nothing: left out. */
            p->concurrency = share < p->n ? (int)share : 0;
        }
    }
    return count;
}

/* How many arguments add_opts_args adds at most for opts. */
static size_t opts_args_max(const wf_slurm_opts *opts)
{
    size_t n = 7;

    for (size_t k = 0; opts != NULL && opts->extra != NULL && opts->extra[k] != NULL; k++)
        n++;
    return n;
}

/* Appends to argv[argc..] the sbatch options that come from the task's `slurm:` options:
 * --partition, then times (the --time arguments the caller worked out, NULL-terminated, or
 * NULL; copied), then the others, `extra` last so that it can override ours. Returns the new
 * argc; the strings are owned by argv. Packed and unpacked submissions both take them from
 * here. */
static size_t add_opts_args(char **argv, size_t argc, const wf_slurm_opts *opts, char *const *times)
{
    if (opts != NULL && opts->partition != NULL && opts->partition[0] != '\0')
        argv[argc++] = wf_xasprintf("--partition=%s", opts->partition);
    for (size_t k = 0; times != NULL && times[k] != NULL; k++)
        argv[argc++] = wf_xstrdup(times[k]);
    if (opts == NULL)
        return argc;
    if (opts->cpus > 0)
        argv[argc++] = wf_xasprintf("--cpus-per-task=%d", opts->cpus);
    if (opts->mem != NULL && opts->mem[0] != '\0')
        argv[argc++] = wf_xasprintf("--mem=%s", opts->mem);
    if (opts->account != NULL && opts->account[0] != '\0')
        argv[argc++] = wf_xasprintf("--account=%s", opts->account);
    if (opts->qos != NULL && opts->qos[0] != '\0')
        argv[argc++] = wf_xasprintf("--qos=%s", opts->qos);
    if (opts->gpus != NULL && opts->gpus[0] != '\0')
        argv[argc++] = wf_xasprintf("--gpus=%s", opts->gpus);
    if (opts->constraint != NULL && opts->constraint[0] != '\0')
        argv[argc++] = wf_xasprintf("--constraint=%s", opts->constraint);
    for (size_t k = 0; opts->extra != NULL && opts->extra[k] != NULL; k++)
        argv[argc++] = wf_xstrdup(opts->extra[k]);
    return argc;
}

/* Runs sbatch with argv (rate limited, through run_sbatch) and copies the job id it printed
 * into id (size bytes). WF_OK; else err says what sbatch did (the caller words the message)
 * and the code is WF_EINVAL when its refusal is permanent (wf__slurm_sbatch_permanent),
 * else WF_EEXEC. */
static int sbatch_job_id(const char *const *argv, char *id, size_t size, wf_error *err)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_proc_result res;
    size_t idlen;
    int rc;

    wf_proc_result_init(&res);
    rc = run_sbatch(argv, &res);
    idlen = strcspn(res.out.data ? res.out.data : "", ";\n ");
    if (rc != WF_OK || res.exit_code != 0 || idlen == 0 || idlen >= size ||
        wf__slurm_parse_num(res.out.data, idlen) < 0) {
        bool permanent = rc == WF_OK && res.exit_code != 0 && res.err.data != NULL &&
                         wf__slurm_sbatch_permanent(res.err.data);

        if (rc == WF_OK && res.exit_code == 0) {
            wf_strbuf_adds(&sb, "sbatch printed no job id: ");
            wf__slurm_add_tail(&sb, res.out.data, res.out.len);
        } else {
            wf__slurm_describe_failure(&sb, "sbatch", rc, &res);
        }
        rc = permanent ? WF_EINVAL : WF_EEXEC;
        wf_error_set(err, rc, NULL, 0, 0, "%s", wf_strbuf_str(&sb));
    } else {
        memcpy(id, res.out.data, idlen);
        id[idlen] = '\0';
    }
    wf_proc_result_release(&res);
    wf_strbuf_release(&sb);
    return rc;
}

/* Appends j to s's jobs for the poller, its elements (or items) counted as pending first:
 * the poller may report them at once. */
static void add_job(wf_slurm *s, wf_slurm_job *j, size_t pending)
{
    atomic_fetch_add(&s->pending, pending);
    pthread_mutex_lock(&s->mu);
    if (s->n_jobs == s->cap_jobs) {
        s->cap_jobs = s->cap_jobs ? s->cap_jobs * 2 : 16;
        s->jobs = wf_xrealloc(s->jobs, s->cap_jobs * sizeof(*s->jobs));
    }
    s->jobs[s->n_jobs++] = j;
    s->submitted = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->mu);
}

/* Whether wf_slurm_cancel_all or wf_slurm_free was called. */
static bool cancelling(wf_slurm *s)
{
    bool cancelled;

    pthread_mutex_lock(&s->mu);
    cancelled = s->cancel || s->stop;
    pthread_mutex_unlock(&s->mu);
    return cancelled;
}

/* A new submission directory (in s's list, removed by wf_slurm_free) holding the files of
 * elems[0..n) as elements 0..n-1. NULL with err (WF_EIO) on failure. */
static char *write_submission(wf_slurm *s, const char *task_name, const wf_slurm_element *elems,
                              size_t n, wf_error *err)
{
    char *dir, cwd[PATH_MAX];

    if (getcwd(cwd, sizeof(cwd)) == NULL) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot get the current directory: %s",
                     strerror(errno));
        return NULL;
    }
    dir = new_submission_dir(s, task_name, err);
    if (dir == NULL)
        return NULL;
    /* Only the submitting thread makes directories; wf_slurm_free reads the list after the
     * poller has stopped. */
    if (s->n_subdirs == s->cap_subdirs) {
        s->cap_subdirs = s->cap_subdirs ? s->cap_subdirs * 2 : 8;
        s->subdirs = wf_xrealloc(s->subdirs, s->cap_subdirs * sizeof(*s->subdirs));
    }
    s->subdirs[s->n_subdirs++] = wf_xstrdup(dir);
    for (size_t i = 0; i < n; i++) {
        if (write_element(dir, i, &elems[i], cwd, err) != WF_OK) {
            wf__slurm_remove_submission(dir);
            free(dir);
            return NULL;
        }
    }
    return dir;
}

void wf__slurm_packsub_free(wf_slurm_packsub *sub)
{
    if (sub == NULL)
        return;
    for (size_t k = 0; sub->args != NULL && sub->args[k] != NULL; k++)
        free(sub->args[k]);
    free(sub->args);
    free(sub->dir);
    free(sub->task_name);
    free(sub->time_opt);
    free(sub->items);
    free(sub);
}

/* One sbatch of a packed submission: items[0..n) (files NAME.(base + k)), `pack` per element,
 * %concurrency (0: none), after the job `after` has ended (NULL: at once); rest (taken over
 * on success) goes with the job; pending: count the items (and rest's) as pending. On success
 * the job is in s's list and its id in id_out; on failure err says what sbatch did. */
static int submit_pack_piece(wf_slurm *s, const wf_slurm_packsub *sub, size_t base,
                             const wf_slurm_job_element *items, size_t n, size_t pack,
                             int concurrency, const char *after, wf_slurm_packsub *rest,
                             bool pending, char id_out[32], wf_error *err)
{
    wf_strbuf name = WF_STRBUF_INIT;
    size_t n_el = (n + pack - 1) / pack, argc = 0, n_args = 0, k0;
    char *script, *path, **argv;
    int64_t secs = -1, limit, submit_ms;
    wf_slurm_job *j;
    char id[32];
    int rc;

    path = wf_xasprintf("%s/slurm-%zu.sh", sub->dir, base);
    script = wf__slurm_pack_script(sub->dir, sub->task_name, s->engine_umask, base, pack, base + n,
                                   sub->timeout_ms);
    rc = write_file(path, script, strlen(script), 0700, err);
    free(script);
    if (rc != WF_OK) {
        free(path);
        return rc;
    }
    /* A time limit for the whole element: `pack` item timeouts, or slurm.time if shorter.
     * The poller does not cut a packed element at the task's timeout: each item has its own
     * (coreutils `timeout` in the element script). */
    if (sub->time_opt != NULL)
        secs = wf__slurm_parse_time(sub->time_opt);
    limit = wf__slurm_pack_limit_min(pack, sub->timeout_ms, secs > 0 ? (secs + 59) / 60 : 0);
    while (sub->args != NULL && sub->args[n_args] != NULL)
        n_args++;
    argv = wf_xcalloc(13 + n_args, sizeof(char *));
    safe_name(&name, sub->task_name);
    argv[argc++] = wf_xstrdup("sbatch");
    argv[argc++] = wf_xstrdup("--parsable");
    argv[argc++] = wf_xstrdup("--export=ALL"); /* as in submit_piece */
    argv[argc++] = wf_xasprintf("--job-name=wf-%s", wf_strbuf_str(&name));
    if (concurrency > 0 && (size_t)concurrency < n_el)
        argv[argc++] = wf_xasprintf("--array=0-%zu%%%d", n_el - 1, concurrency);
    else
        argv[argc++] = wf_xasprintf("--array=0-%zu", n_el - 1);
    /* The element's own output: only what the wrapper says when it cannot run an item. */
    argv[argc++] = wf_xasprintf("--output=%s/slurm-%zu.out.%%a", sub->dir, base);
    argv[argc++] = wf_xasprintf("--error=%s/slurm-%zu.err.%%a", sub->dir, base);
    argv[argc++] = wf_xasprintf("--chdir=%s", sub->dir);
    if (after != NULL)
        argv[argc++] = wf_xasprintf("--dependency=afterany:%s", after);
    /* The task's options (add_opts_args), with the pack's time after --partition as in an
     * unpacked submission. */
    k0 = n_args > 0 && strncmp(sub->args[0], "--partition=", 12) == 0 ? 1 : 0;
    for (size_t k = 0; k < k0; k++)
        argv[argc++] = wf_xstrdup(sub->args[k]);
    if (sub->time_opt != NULL && secs <= 0)
        argv[argc++] = wf_xasprintf("--time=%s", sub->time_opt);
    if (limit > 0)
        argv[argc++] = wf_xasprintf("--time=%lld", (long long)limit);
    for (size_t k = k0; k < n_args; k++)
        argv[argc++] = wf_xstrdup(sub->args[k]);
    argv[argc++] = path;
    /* Items may run before sbatch returns: their times are clamped to this, not later. */
    submit_ms = wf_now_ms();
    rc = sbatch_job_id((const char *const *)argv, id, sizeof(id), err);
    for (size_t k = 0; k < argc; k++)
        free(argv[k]);
    free(argv);
    wf_strbuf_release(&name);
    if (rc != WF_OK)
        return rc;

    j = wf_xcalloc(1, sizeof(*j));
    snprintf(j->id, sizeof(j->id), "%s", id);
    j->dir = wf_xstrdup(sub->dir);
    j->task_name = wf_xstrdup(sub->task_name);
    j->task = sub->task;
    j->is_array = true;
    j->limit_min = limit;
    j->limit_from_timeout = sub->timeout_ms > 0;
    /* j->timeout_ms stays 0: see above. */
    j->submit_ms = submit_ms;
    j->n = n_el;
    j->left = n_el + (rest != NULL ? 1 : 0);
    j->el = wf_xcalloc(n_el, sizeof(*j->el));
    j->pack = pack;
    j->pack_base = base;
    j->n_items = n;
    j->items = wf_xcalloc(n, sizeof(*j->items));
    for (size_t k = 0; k < n; k++) {
        j->items[k].unit = items[k].unit;
        j->items[k].attempt = items[k].attempt;
        j->items[k].ran_ms = -1;
    }
    j->next = wf_xcalloc(n_el, sizeof(*j->next));
    for (size_t a = 0; a < n_el; a++)
        j->next[a] = a * pack;
    j->item_timeout_ms = sub->timeout_ms;
    j->rest = rest;
    snprintf(id_out, 32, "%s", j->id);
    add_job(s, j, pending ? n + (rest != NULL ? rest->n : 0) : 0);
    return WF_OK;
}

int wf__slurm_submit_pack(wf_slurm *s, const wf_slurm_packsub *sub, size_t base,
                          const wf_slurm_job_element *items, size_t n, size_t pack,
                          wf_slurm_packsub *rest, bool pending, size_t *accepted, wf_error *err)
{
    wf__slurm_piece *pieces = NULL;
    size_t n_el = (n + pack - 1) / pack, count;
    char(*ids)[32];
    int rc = WF_OK;

    *accepted = 0;
    /* More elements than the cluster's MaxArraySize: pieces of whole packs, in lanes. */
    count = wf__slurm_split(n_el, s->max_array, sub->concurrency, &pieces);
    ids = wf_xcalloc(count, sizeof(*ids));
    for (size_t k = 0; k < count; k++) {
        const wf__slurm_piece *p = &pieces[k];
        size_t from = p->first * pack, to = (p->first + p->n) * pack;
        wf_error perr;

        if (to > n)
            to = n;
        if (cancelling(s)) {
            wf_error_set(err, WF_ECANCELLED, NULL, 0, 0,
                         "not submitted to Slurm: the run is being cancelled");
            rc = WF_ECANCELLED;
            break;
        }
        wf_error_init(&perr);
        /* pack: auto's waiting items go with the last piece: they are Slurm's (the poller's)
         * only once every piece before them is. */
        rc = submit_pack_piece(s, sub, base + from, items + from, to - from, pack, p->concurrency,
                               p->after >= 0 ? ids[p->after] : NULL, k + 1 == count ? rest : NULL,
                               pending, ids[k], &perr);
        if (rc != WF_OK) {
            size_t left = n - from;

            wf_error_set(err, rc, NULL, 0, 0, "cannot submit %zu item%s to Slurm%s: %s", left,
                         left == 1 ? "" : "s",
                         count > 1 ? " (an array split at the cluster's MaxArraySize)" : "",
                         perr.message ? perr.message : wf_strerror(rc));
            wf_error_release(&perr);
            break;
        }
        wf_error_release(&perr);
        *accepted = to;
    }
    free(ids);
    free(pieces);
    return rc;
}

/* The packed form of wf_slurm_submit (opts->pack > 1): the element files are written in one
 * submission directory; ceil(n / pack) elements go out (split at MaxArraySize), or, for
 * pack: auto, a probe of the first WF_SLURM_PACK_PROBE items one per element (never more
 * than one array), the rest waiting in the probe job for the poller to size and submit
 * (slurm_finish.c). *accepted as for wf_slurm_submit. */
static int submit_packed(wf_slurm *s, uint32_t task, const char *task_name,
                         const wf_slurm_element *elems, size_t n, int concurrency,
                         const wf_slurm_opts *opts, int64_t timeout_ms, size_t *accepted,
                         wf_error *err)
{
    wf_slurm_packsub *sub, *rest = NULL;
    wf_slurm_job_element *items;
    size_t first = n, pack = opts->pack, argc, probe, done = 0;
    wf_error perr;
    char *dir;
    int rc;

    dir = write_submission(s, task_name, elems, n, err);
    if (dir == NULL)
        return WF_EIO;
    sub = wf_xcalloc(1, sizeof(*sub));
    items = wf_xcalloc(n, sizeof(*items));
    sub->dir = dir;
    sub->task_name = wf_xstrdup(task_name);
    sub->task = task;
    sub->concurrency = concurrency;
    sub->args = wf_xcalloc(opts_args_max(opts) + 1, sizeof(char *));
    argc = add_opts_args(sub->args, 0, opts, NULL);
    sub->args[argc] = NULL;
    if (opts->time != NULL && opts->time[0] != '\0')
        sub->time_opt = wf_xstrdup(opts->time);
    sub->timeout_ms = timeout_ms;
    for (size_t k = 0; k < n; k++) {
        items[k].unit = elems[k].unit;
        items[k].attempt = elems[k].attempt;
    }
    if (pack == WF_SLURM_PACK_AUTO) {
        pack = 1;
        probe = s->max_array > 0 && (size_t)s->max_array < WF_SLURM_PACK_PROBE
                    ? (size_t)s->max_array
                    : WF_SLURM_PACK_PROBE;
        if (n > probe) {
            first = probe;
            rest = wf_xcalloc(1, sizeof(*rest));
            *rest = *sub;
            rest->dir = wf_xstrdup(sub->dir);
            rest->task_name = wf_xstrdup(sub->task_name);
            rest->time_opt = sub->time_opt ? wf_xstrdup(sub->time_opt) : NULL;
            rest->args = wf_xcalloc(argc + 1, sizeof(char *));
            for (size_t k = 0; k < argc; k++)
                rest->args[k] = wf_xstrdup(sub->args[k]);
            rest->base = first;
            rest->n = n - first;
            rest->items = wf_xcalloc(n - first, sizeof(*rest->items));
            memcpy(rest->items, items + first, (n - first) * sizeof(*items));
        }
    }
    wf_error_init(&perr);
    rc = wf__slurm_submit_pack(s, sub, 0, items, first, pack, rest, true, &done, &perr);
    if (rc != WF_OK) {
        wf_error_set(err, rc, NULL, 0, 0, "task '%s': %s", task_name,
                     perr.message ? perr.message : wf_strerror(rc));
        wf__slurm_packsub_free(rest); /* the last piece, which would have taken it, failed */
        if (done == 0)
            wf__slurm_remove_submission(dir);
    }
    *accepted = rc == WF_OK ? n : done;
    wf_error_release(&perr);
    wf__slurm_packsub_free(sub);
    free(items);
    return rc;
}

/* One sbatch call: elems[0..n) as one array (or a single job), with %concurrency (0: none),
 * after the job `after` has ended (NULL: at once). On success the job is in s's list and its
 * id in id_out. On failure err says why (the caller words the message) and the code is
 * WF_EINVAL when sbatch's refusal is permanent, else WF_EEXEC (or WF_EIO for our files). */
static int submit_piece(wf_slurm *s, uint32_t task, const char *task_name,
                        const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                        const char *after, const wf_slurm_opts *opts, int64_t timeout_ms,
                        char id_out[32], wf_error *err)
{
    wf_strbuf name = WF_STRBUF_INIT;
    char **argv = NULL;
    size_t argc = 0, cap;
    char *dir = NULL, *script = NULL, *path = NULL, *times[3] = { NULL, NULL, NULL };
    size_t n_times = 0;
    char id[32];
    wf_slurm_job *j = NULL;
    bool from_timeout = false, raw_time = false;
    int64_t limit;
    int rc = WF_OK;

    dir = write_submission(s, task_name, elems, n, err);
    if (dir == NULL)
        return WF_EIO;
    script = array_script(dir, task_name, s->engine_umask);
    path = wf_xasprintf("%s/array.sh", dir);
    rc = write_file(path, script, strlen(script), 0700, err);
    if (rc != WF_OK)
        goto out;

    as_array = as_array || n > 1;
    limit = time_limit_min(opts, timeout_ms, &from_timeout, &raw_time);
    safe_name(&name, task_name);
    /* Our own options (10 at most, with the script and --dependency), those of add_opts_args
     * with the two --time and the NULL. */
    cap = 10 + opts_args_max(opts) + 2 + 1;
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
    if (after != NULL)
        argv[argc++] = wf_xasprintf("--dependency=afterany:%s", after);
    if (raw_time)
        times[n_times++] = wf_xasprintf("--time=%s", opts->time);
    if (limit > 0)
        times[n_times++] = wf_xasprintf("--time=%lld", (long long)limit);
    argc = add_opts_args(argv, argc, opts, times);
    for (size_t k = 0; k < n_times; k++)
        free(times[k]);
    argv[argc++] = wf_xstrdup(path);

    rc = sbatch_job_id((const char *const *)argv, id, sizeof(id), err);
    if (rc != WF_OK)
        goto out;

    j = wf_xcalloc(1, sizeof(*j));
    memcpy(j->id, id, sizeof(j->id));
    j->dir = dir;
    dir = NULL;
    j->task_name = wf_xstrdup(task_name);
    j->task = task;
    j->is_array = as_array;
    j->limit_min = limit;
    j->limit_from_timeout = from_timeout;
    j->timeout_ms = timeout_ms;
    j->submit_ms = wf_now_ms();
    j->n = j->left = n;
    j->el = wf_xcalloc(n, sizeof(*j->el));
    for (size_t i = 0; i < n; i++) {
        j->el[i].unit = elems[i].unit;
        j->el[i].attempt = elems[i].attempt;
    }
    snprintf(id_out, 32, "%s", j->id);
    add_job(s, j, n);
    rc = WF_OK;
out:
    if (dir != NULL)
        wf__slurm_remove_submission(dir);
    for (size_t k = 0; k < argc; k++)
        free(argv[k]);
    free(argv);
    free(path);
    free(script);
    free(dir);
    wf_strbuf_release(&name);
    return rc;
}

int wf_slurm_submit(wf_slurm *s, uint32_t task, const char *task_name,
                    const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                    const wf_slurm_opts *opts, int64_t timeout_ms, size_t *accepted, wf_error *err)
{
    wf__slurm_piece *pieces = NULL;
    char(*ids)[32];
    size_t count, done = 0;
    int rc = WF_OK;

    if (accepted != NULL)
        *accepted = 0;
    if (n == 0) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "task '%s': nothing to submit to Slurm",
                     task_name);
        return WF_EINVAL;
    }
    if (as_array && opts != NULL && opts->pack > 1) {
        if (cancelling(s)) {
            wf_error_set(err, WF_ECANCELLED, NULL, 0, 0,
                         "task '%s': not submitted to Slurm: the run is being cancelled",
                         task_name);
            return WF_ECANCELLED;
        }
        rc = submit_packed(s, task, task_name, elems, n, concurrency, opts, timeout_ms, &done, err);
        if (accepted != NULL)
            *accepted = done;
        return rc;
    }
    as_array = as_array || n > 1;
    count = as_array ? wf__slurm_split(n, s->max_array, concurrency, &pieces) : 1;
    if (!as_array) {
        pieces = wf_xcalloc(1, sizeof(*pieces));
        pieces[0].n = 1;
        pieces[0].after = -1;
    }
    ids = wf_xcalloc(count, sizeof(*ids));
    for (size_t k = 0; k < count; k++) {
        const wf__slurm_piece *p = &pieces[k];
        wf_error perr;

        if (cancelling(s)) {
            wf_error_set(err, WF_ECANCELLED, NULL, 0, 0,
                         "task '%s': not submitted to Slurm: the run is being cancelled",
                         task_name);
            rc = WF_ECANCELLED;
            break;
        }
        wf_error_init(&perr);
        rc = submit_piece(s, task, task_name, elems + p->first, p->n, as_array, p->concurrency,
                          p->after >= 0 ? ids[p->after] : NULL, opts, timeout_ms, ids[k], &perr);
        if (rc != WF_OK) {
            size_t left = n - p->first;

            wf_error_set(err, rc, NULL, 0, 0,
                         "task '%s': cannot submit %zu element%s to Slurm%s: %s", task_name, left,
                         left == 1 ? "" : "s",
                         count > 1 ? " (an array split at the cluster's MaxArraySize)" : "",
                         perr.message ? perr.message : wf_strerror(rc));
            wf_error_release(&perr);
            break;
        }
        wf_error_release(&perr);
        if (accepted != NULL)
            *accepted = p->first + p->n;
    }
    free(ids);
    free(pieces);
    return rc;
}
