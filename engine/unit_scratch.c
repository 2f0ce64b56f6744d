/*
 * unit_scratch.c: the private directory each process unit gets. It is created just before
 * the process starts, under the TMPDIR of the unit's environment (or /tmp), mode 0700; the
 * unit sees it as its TMPDIR, and $WF_RESULT names a file inside it where the unit may write
 * its result (GitHub's $GITHUB_OUTPUT habit): then the result no longer has to share stdout
 * with a compiler's output. The directory and everything in it is removed when the unit
 * ends, so two items writing /tmp-style files never meet and nothing is left behind.
 *
 * The directory belongs to the worker thread, not to the unit: a worker runs one unit at a
 * time, and each unit finds it empty (it is emptied when the unit ends, and made again if
 * the unit removed it). Making and removing a directory per unit costs 150-300 us of file
 * system journal work on ext4, more than all the engine's own CPU per command; checking that
 * the kept one is empty costs about 10 us. It is removed when its thread ends.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_internal.h"

/* Deeper trees than this are left in place rather than recursing further. */
#define MAX_DEPTH 64

/* Removes everything inside the directory open as fd (which it closes), never following a
 * symbolic link. */
static void remove_contents(int fd, int depth)
{
    DIR *d = fdopendir(fd);
    struct dirent *e;

    if (d == NULL) {
        close(fd);
        return;
    }
    while ((e = readdir(d)) != NULL) {
        struct stat st;

        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            int sub = depth < MAX_DEPTH ? openat(dirfd(d), e->d_name,
                                                 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                                        : -1;

            /* A directory the unit made unreadable still goes if we can make it readable. */
            if (sub < 0 && depth < MAX_DEPTH && fchmodat(dirfd(d), e->d_name, 0700, 0) == 0)
                sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0)
                remove_contents(sub, depth + 1);
            unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
        } else {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
}

/* The value of NAME in envp, or NULL. */
static const char *env_get(char *const *envp, const char *name)
{
    size_t n = strlen(name);

    for (size_t i = 0; envp[i] != NULL; i++) {
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=')
            return envp[i] + n + 1;
    }
    return NULL;
}

/* The calling thread's directory, under parent. */
typedef struct worker_dir {
    char *parent, *dir;
    DIR *d; /* open on dir: emptiness is checked through it */
} worker_dir;

static pthread_key_t worker_key;
static pthread_once_t worker_once = PTHREAD_ONCE_INIT;

static void worker_dir_free(void *arg)
{
    worker_dir *w = arg;

    if (w == NULL)
        return;
    if (w->d != NULL) {
        remove_contents(dup(dirfd(w->d)), 0);
        closedir(w->d);
    }
    if (w->dir != NULL)
        rmdir(w->dir);
    free(w->parent);
    free(w->dir);
    free(w);
}

static void worker_key_make(void)
{
    pthread_key_create(&worker_key, worker_dir_free);
}

/* This thread's directory under parent, made when there is none (or it was for another
 * parent, or the last unit removed it). NULL with errno set when it cannot be made. */
static worker_dir *worker_dir_get(const char *parent)
{
    worker_dir *w;

    pthread_once(&worker_once, worker_key_make);
    w = pthread_getspecific(worker_key);
    if (w != NULL && strcmp(w->parent, parent) == 0)
        return w;
    worker_dir_free(w);
    pthread_setspecific(worker_key, NULL);
    w = wf_xcalloc(1, sizeof(*w));
    w->parent = wf_xstrdup(parent);
    w->dir = wf_xasprintf("%s/wfengine-unit.XXXXXX", parent);
    if (mkdtemp(w->dir) == NULL || (w->d = opendir(w->dir)) == NULL) {
        int e = errno;

        if (w->d == NULL && errno != ENOENT)
            rmdir(w->dir);
        free(w->parent);
        free(w->dir);
        free(w);
        errno = e;
        return NULL;
    }
    pthread_setspecific(worker_key, w);
    return w;
}

bool wf__unit_scratch_open(char *const *envp, wf_unit_scratch *s, wf_completion *c)
{
    const char *parent = env_get(envp, "TMPDIR");
    worker_dir *w;
    size_t n = 0, k = 0;

    memset(s, 0, sizeof(*s));
    if (parent == NULL || parent[0] != '/')
        parent = "/tmp";
    w = worker_dir_get(parent);
    if (w == NULL) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("cannot create the unit's temporary directory in %s: %s (set "
                                "TMPDIR to a writable directory)",
                                parent, strerror(errno));
        return false;
    }
    s->dir = wf_xstrdup(w->dir);
    s->result_path = wf_xasprintf("%s/result", s->dir);
    s->tmpdir_var = wf_xasprintf("TMPDIR=%s", s->dir);
    s->result_var = wf_xasprintf("WF_RESULT=%s", s->result_path);
    while (envp[n] != NULL)
        n++;
    s->envp = wf_xmalloc((n + 3) * sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        if (strncmp(envp[i], "TMPDIR=", 7) != 0)
            s->envp[k++] = envp[i];
    }
    s->envp[k++] = s->tmpdir_var;
    s->envp[k++] = s->result_var;
    s->envp[k] = NULL;
    return true;
}

int wf__unit_scratch_result(const wf_unit_scratch *s, size_t cap, char **text, bool *large,
                            char **error)
{
    int fd = open(s->result_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    wf_strbuf sb = WF_STRBUF_INIT;
    struct stat st;
    char buf[65536];

    *text = NULL;
    *large = false;
    *error = NULL;
    if (fd < 0 && errno == ENOENT)
        return WF_ENOENT;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        *error = wf_xasprintf("$WF_RESULT (%s) is not a regular file the engine can read%s%s",
                              s->result_path, fd < 0 ? ": " : "", fd < 0 ? strerror(errno) : "");
        if (fd >= 0)
            close(fd);
        return WF_EIO;
    }
    if ((uint64_t)st.st_size > cap) {
        close(fd);
        return WF_ERANGE;
    }
    if ((uint64_t)st.st_size > WF_PROC_SPILL_THRESHOLD) {
        /* Not read here: the caller keeps it by reference (wf__spill_adopt_file). */
        close(fd);
        *large = true;
        return WF_OK;
    }
    for (;;) {
        ssize_t got = read(fd, buf, sizeof(buf));

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        wf_strbuf_add(&sb, buf, (size_t)got);
        if (sb.len > cap)
            break;
    }
    close(fd);
    if (sb.len > cap) {
        wf_strbuf_release(&sb);
        return WF_ERANGE;
    }
    *text = wf_strbuf_detach(&sb, NULL);
    if (*text == NULL)
        *text = wf_xstrdup("");
    return WF_OK;
}

void wf__unit_scratch_close(wf_unit_scratch *s)
{
    worker_dir *w = s->dir != NULL ? pthread_getspecific(worker_key) : NULL;

    if (w != NULL && strcmp(w->dir, s->dir) == 0) {
        struct stat st;
        struct dirent *e;
        int entries = 0;

        /* Emptied for the next unit; a directory the unit removed or replaced is let go (the
         * next unit makes a new one). */
        if (fstat(dirfd(w->d), &st) != 0 || st.st_nlink == 0) {
            pthread_setspecific(worker_key, NULL);
            worker_dir_free(w);
        } else {
            if ((st.st_mode & 07777) != 0700)
                fchmod(dirfd(w->d), 0700);
            rewinddir(w->d);
            while (entries <= 2 && (e = readdir(w->d)) != NULL)
                entries++;
            if (entries > 2)
                remove_contents(open(w->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), 0);
        }
    }
    free(s->dir);
    free(s->result_path);
    free(s->tmpdir_var);
    free(s->result_var);
    free(s->envp);
    memset(s, 0, sizeof(*s));
}
