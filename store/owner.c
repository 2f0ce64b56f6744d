/*
 * Who owns a run, and whether that owner is still there (see wf_store.h, "Owners").
 *
 * A run's process records its pid, host and start time with the run, and holds an exclusive
 * flock(2) on <dir>/locks/<run_id>.lock from the run's start until its end is committed. The
 * kernel drops the lock when the process dies however it dies (kill -9, OOM killer, a crash),
 * so a reader that finds the run "running" in the database but its lock free knows that the
 * run was interrupted. Each run has its own file, so any number of runs can share a store.
 *
 * Ordering: the owner commits the run's end *before* it releases the lock, and a reader reads
 * the run's status again *after* it found the lock free (query.c), so a run that ends while
 * it is being looked at is never taken for an interrupted one.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* Reads the first line of a small file into buf (without the newline). False when it cannot. */
static bool read_line(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "re");
    bool ok;

    if (f == NULL)
        return false;
    ok = fgets(buf, (int)size, f) != NULL;
    fclose(f);
    if (ok)
        buf[strcspn(buf, "\n")] = '\0';
    return ok && buf[0] != '\0';
}

/* Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since boot. With the
 * boot id it names one process for good: a pid that was reused has another start time. */
static bool proc_start_ticks(int64_t pid, unsigned long long *ticks)
{
    char path[64], buf[1024];
    const char *p;
    int field = 2;

    snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
    if (!read_line(path, buf, sizeof(buf)))
        return false;
    /* The command name (field 2) may hold spaces and parentheses: skip to its last ')'. */
    p = strrchr(buf, ')');
    if (p == NULL)
        return false;
    while (*p != '\0' && field < 22) {
        if (*p == ' ')
            field++;
        p++;
    }
    return field == 22 && sscanf(p, "%llu", ticks) == 1;
}

void wf__store_owner_init(wf__owner *me)
{
    unsigned long long ticks;

    memset(me, 0, sizeof(*me));
    me->pid = (int64_t)getpid();
    if (gethostname(me->host, sizeof(me->host) - 1) != 0)
        me->host[0] = '\0';
    if (!read_line("/proc/sys/kernel/random/boot_id", me->boot_id, sizeof(me->boot_id)))
        me->boot_id[0] = '\0';
    if (me->boot_id[0] != '\0' && proc_start_ticks(me->pid, &ticks))
        snprintf(me->start, sizeof(me->start), "%s:%llu", me->boot_id, ticks);
}

/* A run id that can be a file name as it is (what wfengine makes: 20261206-131800-ab12cd). */
static bool plain_name(const char *id)
{
    size_t n = strlen(id);

    if (n == 0 || n > 128 || id[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = id[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

char *wf__store_run_lock_path(const wf_store *s, const char *run_id)
{
    char hex[WF_SHA256_HEX_LEN + 1];

    if (plain_name(run_id))
        return wf_xasprintf("%s/%s.lock", s->locks_dir, run_id);
    wf_sha256_hex(run_id, strlen(run_id), hex);
    return wf_xasprintf("%s/id-%s.lock", s->locks_dir, hex);
}

/* errno values that say "this file system does not do flock", not "the lock is taken". */
static bool lock_unsupported(int e)
{
    return e == ENOLCK || e == EOPNOTSUPP || e == ENOSYS || e == EINVAL;
}

int wf__store_lock_run(wf_store *s, const char *run_id)
{
    char ebuf[128];
    char *path, *line;
    wf__run_lock *l;
    int fd;

    if (mkdir(s->locks_dir, 0777) != 0 && errno != EEXIST)
        return wf__store_fail(s, NULL, "%s: cannot create the run locks directory: %s",
                              s->locks_dir, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
    path = wf__store_run_lock_path(s, run_id);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0666);
    if (fd < 0) {
        wf__store_fail(s, NULL, "%s: cannot create the run's lock file: %s", path,
                       wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        free(path);
        return WF_ESTORE;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        if (e == EINTR)
            continue;
        close(fd);
        if (lock_unsupported(e)) {
            /* No lock on this file system: a lock file nobody holds would read as
             * "interrupted", so there is none; readers go by the recorded pid instead. */
            unlink(path);
            free(path);
            return WF_OK;
        }
        wf__store_fail(s, NULL, "%s: cannot lock the run's lock file: %s", path,
                       e == EWOULDBLOCK ? "another process holds it (a run with this id is "
                                          "running)"
                                        : wf__store_strerror(e, ebuf, sizeof(ebuf)));
        free(path);
        return WF_ESTORE;
    }
    /* For people looking at the directory: the same facts as the database's owner columns. */
    line = wf_xasprintf("pid %lld host %s start %s run %s\n", (long long)s->me.pid, s->me.host,
                        s->me.start[0] ? s->me.start : "-", run_id);
    if (ftruncate(fd, 0) != 0 || write(fd, line, strlen(line)) != (ssize_t)strlen(line)) {
        /* The content is informational; the lock is what counts. */
    }
    free(line);
    l = wf_xcalloc(1, sizeof(*l));
    l->run_id = wf_xstrdup(run_id);
    l->path = path;
    l->fd = fd;
    pthread_mutex_lock(&s->llock);
    l->next = s->held_locks;
    s->held_locks = l;
    pthread_mutex_unlock(&s->llock);
    return WF_OK;
}

void wf__store_unlock_run(wf_store *s, const char *run_id)
{
    wf__run_lock *l = NULL;

    pthread_mutex_lock(&s->llock);
    for (wf__run_lock **pp = &s->held_locks; *pp != NULL; pp = &(*pp)->next) {
        if (strcmp((*pp)->run_id, run_id) == 0) {
            l = *pp;
            *pp = l->next;
            break;
        }
    }
    pthread_mutex_unlock(&s->llock);
    if (l == NULL)
        return;
    /* Unlink while still holding the lock: nobody can take a file that is gone for a live
     * run. A reader that opened it before sees it free after close, and then reads the end
     * that was committed before. */
    unlink(l->path);
    close(l->fd);
    free(l->path);
    free(l->run_id);
    free(l);
}

void wf__store_release_locks(wf_store *s)
{
    wf__run_lock *l = s->held_locks;

    /* Runs whose end was never committed: the files stay, free, and say "interrupted". */
    while (l != NULL) {
        wf__run_lock *next = l->next;

        close(l->fd);
        free(l->path);
        free(l->run_id);
        free(l);
        l = next;
    }
    s->held_locks = NULL;
}

/* The lock file's state: 1 held by a live process, 0 free, -1 cannot be told (no file, or no
 * flock on this file system). */
static int lock_held(const wf_store *s, const char *run_id)
{
    char *path = wf__store_run_lock_path(s, run_id);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), rc = -1;

    free(path);
    if (fd < 0)
        return -1;
    for (;;) {
        if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
            flock(fd, LOCK_UN);
            rc = 0;
            break;
        }
        if (errno == EINTR)
            continue;
        rc = errno == EWOULDBLOCK ? 1 : -1;
        break;
    }
    close(fd);
    return rc;
}

/* The process is there: kill(pid, 0) succeeds (or it is another user's) and, when both are
 * known, its start time is the recorded one. */
static bool pid_alive(int64_t pid, const char *start, const char *boot_id)
{
    unsigned long long ticks, want;
    const char *colon;

    if (pid <= 0 || pid > (int64_t)INT32_MAX)
        return false;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH)
        return false;
    colon = start != NULL ? strrchr(start, ':') : NULL;
    if (colon == NULL || boot_id[0] == '\0' || sscanf(colon + 1, "%llu", &want) != 1)
        return true;
    if (!proc_start_ticks(pid, &ticks))
        return true;
    return ticks == want;
}

wf__owner_state wf__store_owner_state(const wf_store *s, const char *run_id, bool has_owner,
                                      int64_t pid, const char *host, const char *start)
{
    bool same_host, other_boot;
    int held;

    if (!has_owner)
        /* Recorded by a wfengine before schema 2: no owner, no lock. */
        return s->alone_at_open ? WF__OWNER_GONE : WF__OWNER_UNKNOWN;
    same_host = host != NULL && s->me.host[0] != '\0' && strcmp(host, s->me.host) == 0;
    /* Same host name, another boot: the machine restarted since (a power loss). */
    other_boot = same_host && start != NULL && s->me.boot_id[0] != '\0' &&
                 strncmp(start, s->me.boot_id, strlen(s->me.boot_id)) != 0;
    held = lock_held(s, run_id);
    if (held == 1)
        return WF__OWNER_ALIVE;
    if (!same_host)
        /* The lock of a process on another host is seen here only when the shared file
         * system passes locks between hosts (NFS with lockd does; a mount with local_lock or
         * nolock does not): a free lock proves nothing, and the pid means nothing here. */
        return WF__OWNER_UNKNOWN;
    if (other_boot)
        return WF__OWNER_GONE;
    if (held == 0)
        return WF__OWNER_GONE;
    /* No lock to go by (no file, or no flock): the pid and its start time decide. */
    return pid_alive(pid, start, s->me.boot_id) ? WF__OWNER_ALIVE : WF__OWNER_GONE;
}
