/*
 * slurm.c: the life of a Slurm client (wf_slurm.h): wf_slurm_new makes the job directory and
 * reads the cluster's MaxArraySize and starts the poller thread (slurm_track.c);
 * wf_slurm_cancel_all and wf_slurm_free tell the poller to cancel or to stop; wf_slurm_free then
 * removes the submission directories (slurm_submit.c). The other files of the client are listed in
 * slurm_internal.h.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "slurm_internal.h"

/* Polls start every DEFAULT_POLL_MS (WF_SLURM_POLL_MS) and, while nothing changes, back off
 * by doubling up to DEFAULT_POLL_MAX_MS (WF_SLURM_POLL_MAX_MS). */
#define DEFAULT_POLL_MS     500
#define DEFAULT_POLL_MAX_MS 10000

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
    s->poll_ms = poll_ms > 0
                     ? poll_ms
                     : (int)wf__slurm_env_num("WF_SLURM_POLL_MS", DEFAULT_POLL_MS, 10, 600000);
    s->poll_max_ms =
        (int)wf__slurm_env_num("WF_SLURM_POLL_MAX_MS", DEFAULT_POLL_MAX_MS, 10, 3600000);
    if (s->poll_max_ms < s->poll_ms)
        s->poll_max_ms = s->poll_ms;
    {
        wf_strbuf warning = WF_STRBUF_INIT;

        s->max_array = wf__slurm_read_max_array(&warning);
        s->warning = warning.len > 0 ? wf_strbuf_detach(&warning, NULL) : NULL;
        wf_strbuf_release(&warning);
    }
    s->keep_files = keep_files;
    engine_umask(s->engine_umask, sizeof(s->engine_umask));
    s->done = done;
    s->user = user;
    atomic_init(&s->pending, 0);
    atomic_init(&s->polls, 0);
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cond, &cattr);
    pthread_condattr_destroy(&cattr);
    rc = pthread_create(&s->thread, NULL, wf__slurm_poller, s);
    if (rc != 0) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot start the Slurm poller thread: %s",
                     strerror(rc));
        pthread_cond_destroy(&s->cond);
        pthread_mutex_destroy(&s->mu);
        free(s->warning);
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

const char *wf_slurm_warning(const wf_slurm *s)
{
    return s ? s->warning : NULL;
}

long wf_slurm_max_array(const wf_slurm *s)
{
    return s ? s->max_array : 0;
}

unsigned wf_slurm_polls(wf_slurm *s)
{
    return s ? atomic_load(&s->polls) : 0;
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
        wf__slurm_job_free(s->jobs[k]);
    free(s->jobs);
    /* Every element has been reported: nothing of the run is needed on disk any more. The
     * job directory itself goes only when empty (it may be a directory the caller chose). */
    for (size_t k = 0; k < s->n_subdirs; k++) {
        if (!s->keep_files)
            wf__slurm_remove_submission(s->subdirs[k]);
        free(s->subdirs[k]);
    }
    free(s->subdirs);
    if (!s->keep_files)
        rmdir(s->job_dir);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->mu);
    free(s->warning);
    free(s->job_dir);
    free(s);
}
