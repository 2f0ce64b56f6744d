/*
 * slurm_submit.c: wf_slurm_submit. Each submission gets a directory job_dir/<task>-<k>
 * (0700) that holds, for element i, cmd.i (its script), env.i (its environment) and dir.i
 * (its workdir), later out.i, err.i and rc.i (what it printed, its exit status), all 0600,
 * and array.sh, the batch script that runs element $SLURM_ARRAY_TASK_ID; then one sbatch
 * call, with a reduced environment, submits them all. The files are removed here too
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

void wf__slurm_remove_element_files(const char *dir, size_t i)
{
    static const char *const kinds[] = { "cmd", "env", "dir", "out", "err", "rc", "result", NULL };

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

int wf_slurm_submit(wf_slurm *s, uint32_t task, const char *task_name,
                    const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                    const wf_slurm_opts *opts, int64_t timeout_ms, wf_error *err)
{
    wf_strbuf sb = WF_STRBUF_INIT, name = WF_STRBUF_INIT;
    char **argv = NULL;
    size_t argc = 0, cap;
    char *dir = NULL, *script = NULL, *path = NULL, cwd[PATH_MAX];
    wf_proc_result res;
    wf_slurm_job *j = NULL;
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
    /* Our own options (18 at most, with the script), the extra ones and the NULL. */
    cap = 21;
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
    if (opts != NULL && opts->account != NULL && opts->account[0] != '\0')
        argv[argc++] = wf_xasprintf("--account=%s", opts->account);
    if (opts != NULL && opts->qos != NULL && opts->qos[0] != '\0')
        argv[argc++] = wf_xasprintf("--qos=%s", opts->qos);
    if (opts != NULL && opts->gpus != NULL && opts->gpus[0] != '\0')
        argv[argc++] = wf_xasprintf("--gpus=%s", opts->gpus);
    if (opts != NULL && opts->constraint != NULL && opts->constraint[0] != '\0')
        argv[argc++] = wf_xasprintf("--constraint=%s", opts->constraint);
    for (size_t k = 0; opts != NULL && opts->extra != NULL && opts->extra[k] != NULL; k++)
        argv[argc++] = wf_xstrdup(opts->extra[k]);
    argv[argc++] = wf_xstrdup(path);

    rc = run_sbatch((const char *const *)argv, &res);
    idlen = strcspn(res.out.data ? res.out.data : "", ";\n ");
    if (rc != WF_OK || res.exit_code != 0 || idlen == 0 || idlen >= sizeof(j->id) ||
        wf__slurm_parse_num(res.out.data, idlen) < 0) {
        wf_strbuf_addf(&sb, "task '%s': cannot submit %zu element%s to Slurm: ", task_name, n,
                       n == 1 ? "" : "s");
        if (rc == WF_OK && res.exit_code == 0) {
            wf_strbuf_adds(&sb, "sbatch printed no job id: ");
            wf__slurm_add_tail(&sb, res.out.data, res.out.len);
        } else {
            wf__slurm_describe_failure(&sb, "sbatch", rc, &res);
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
        wf__slurm_remove_submission(dir);
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
