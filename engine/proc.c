/* Running one child process to completion (see wf_proc.h). */
#define _GNU_SOURCE /* pipe2, vfork, gettid */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wf_proc.h"

extern char **environ;

/* Bytes asked of read() at a time; a pipe holds 64 KiB by default. */
#define READ_CHUNK 65536
/* Reads per stream per wakeup: enough to empty a full pipe, few enough that a child flooding
 * one stream cannot keep the other stream, the timers or the cancel fd waiting long. */
#define READS_PER_WAKEUP 16
/* Without a pidfd, the only sign of a child that exited while a grandchild keeps the pipes
 * open is its status: check it this often. */
#define NO_PIDFD_TICK_MS 50
/* execvp's search path when the environment has no PATH. */
#define DEFAULT_PATH "/bin:/usr/bin"
/* Orphans: pids taken from the children file per pass, and passes at most per unit end (each
 * pass kills one generation at least: what the killed processes started comes next). */
#define ORPHANS_PER_PASS 512
#define ORPHAN_PASSES    1000

typedef struct stream {
    int fd; /* our read end, -1 once at end-of-file or given up */
    wf_strbuf buf;
    size_t cap;
    bool truncated;
    /* Spilling (stdout with spec->spill_dir): */
    const char *spill_dir;
    int spill_fd;
    char *spill_path;
    wf_sha256 *sha;
    uint64_t total;    /* bytes kept: in buf, then in the file */
    uint64_t newlines; /* '\n' bytes among them (output: lines counts its lines with it) */
    char last;         /* the last byte kept */
    int spill_errno;
    char *chunk; /* READ_CHUNK bytes */
} stream;

typedef struct runner {
    pid_t pid;
    int pidfd;     /* -1 if the kernel has no pidfd_open: then we poll on a tick */
    int cancel_fd; /* -1 once it fired, or when there is none */
    int64_t grace_ms;
    int64_t timeout_at;  /* 0 = no timeout */
    int64_t kill_at;     /* when SIGKILL follows SIGTERM; meaningful once terminating */
    int64_t drain_until; /* after the reap: the last moment we wait for end-of-file */
    bool terminating;    /* SIGTERM was sent */
    bool killed;         /* SIGKILL was sent */
    bool reaped;
    bool reap_orphans; /* wf_proc_reap_orphans was on when the child was started */
    bool main_child;   /* started on the main thread: registered as main_child */
    stream out, err;
} runner;

void wf_proc_spec_init(wf_proc_spec *spec)
{
    wf_proc_spec init = WF_PROC_SPEC_INIT;

    *spec = init;
}

void wf_proc_result_init(wf_proc_result *res)
{
    memset(res, 0, sizeof(*res));
    res->out.spill_fd = res->err.spill_fd = -1;
    res->exit_code = -1;
    res->pid = -1;
}

static void output_release(wf_proc_output *o)
{
    if (o->spill_fd >= 0)
        close(o->spill_fd);
    if (o->spill_path != NULL)
        unlink(o->spill_path);
    free(o->spill_path);
}

void wf_proc_result_release(wf_proc_result *res)
{
    if (res == NULL)
        return;
    output_release(&res->out);
    output_release(&res->err);
    free(res->out.data);
    free(res->err.data);
    free(res->error);
    wf_proc_result_init(res);
}

/* Records why nothing could be run. The text also becomes the child's stderr, so that the
 * user reading a failed task's stderr sees the reason where a shell would have put it. */
static void fail(wf_proc_result *res, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(wf_proc_result *res, int exit_code, const char *fmt, ...)
{
    va_list ap;

    free(res->error);
    va_start(ap, fmt);
    res->error = wf_xvasprintf(fmt, ap);
    va_end(ap);
    res->exit_code = exit_code;
    free(res->err.data);
    res->err.data = wf_xasprintf("wfengine: %s\n", res->error);
    res->err.len = strlen(res->err.data);
    res->err.truncated = false;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        /* Linux closes the descriptor even when close() reports EINTR: never retry. */
        close(*fd);
        *fd = -1;
    }
}

/* Moves fd to 3 or above. If the engine runs with stdin/stdout/stderr closed, pipe2() can
 * hand out 0, 1 or 2, and then the child's dup2 onto 0..2 would clobber one pipe with the
 * other (or keep close-on-exec set on a dup2 onto itself). Returns -1 with errno set. */
static int above_stdio(int fd)
{
    int moved;

    if (fd > 2)
        return fd;
    moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return moved;
}

/* A pipe with both ends close-on-exec and above stdio, the read end non-blocking (so that we
 * can empty it without ever blocking; the child's write end stays blocking). */
static int make_pipe(int fds[2])
{
    int saved;

    if (pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    fds[0] = above_stdio(fds[0]);
    if (fds[0] < 0)
        goto fail;
    fds[1] = above_stdio(fds[1]);
    if (fds[1] < 0)
        goto fail;
    if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0)
        goto fail;
    return 0;

fail:
    saved = errno;
    close_fd(&fds[0]);
    close_fd(&fds[1]);
    errno = saved;
    return -1;
}

/* 0 if path is an executable regular file (for us: access() uses the real ids, which are the
 * effective ones in a non-setuid engine); else an errno, EISDIR for a directory. */
static int check_executable(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return errno;
    if (S_ISDIR(st.st_mode))
        return EISDIR;
    if (access(path, X_OK) != 0)
        return errno;
    return 0;
}

static const char *env_path(const char *const *envp)
{
    for (; *envp != NULL; envp++) {
        if (strncmp(*envp, "PATH=", 5) == 0)
            return *envp + 5;
    }
    return DEFAULT_PATH;
}

/* The path the child is exec'd with. A relative one is resolved by the kernel after the
 * child's chdir, so we check "workdir/path" here but exec "path": both mean the same file. */
static char *checked_path(const char *path, const char *workdir)
{
    if (path[0] == '/' || workdir == NULL)
        return wf_xstrdup(path);
    return wf_xasprintf("%s/%s", workdir, path);
}

/* Finds what to exec for argv[0], the way execvp would in the child: a name with a '/' is used
 * as it is (unchecked: the exec reports what is wrong with it, and spawn_failed() says it
 * better), otherwise each entry of the child's PATH is tried in turn (an empty entry is the
 * current directory) and directories are skipped. Returns the path (owned), or NULL after
 * fail() with 127 (not found) or 126 (found only without execute permission). */
static char *resolve(const char *name, const char *const *envp, const char *workdir,
                     wf_proc_result *res)
{
    const char *p;
    bool denied = false;

    if (strchr(name, '/') != NULL)
        return wf_xstrdup(name);
    if (name[0] != '\0') {
        p = env_path(envp);
        for (;;) {
            const char *end = strchr(p, ':');
            size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
            char *cand = n > 0 ? wf_xasprintf("%.*s/%s", (int)n, p, name) : wf_xstrdup(name);
            char *check = checked_path(cand, workdir);
            int e = check_executable(check);

            free(check);
            if (e == 0)
                return cand;
            free(cand);
            if (e == EACCES)
                denied = true;
            if (end == NULL)
                break;
            p = end + 1;
        }
    }
    if (denied)
        fail(res, WF_PROC_EXIT_CANNOT_EXEC, "%s: %s", name, strerror(EACCES));
    else
        fail(res, WF_PROC_EXIT_NOT_FOUND, "%s: command not found", name);
    return NULL;
}

/* Checks the workdir from here, so that a bad one gets its own message and exit code rather
 * than an errno from the spawn that could as well be about the executable. */
static bool workdir_usable(const char *workdir, wf_proc_result *res)
{
    struct stat st;
    int e = 0;

    if (stat(workdir, &st) != 0)
        e = errno;
    else if (!S_ISDIR(st.st_mode))
        e = ENOTDIR;
    else if (access(workdir, X_OK) != 0)
        e = errno;
    if (e == 0)
        return true;
    fail(res, WF_PROC_EXIT_SETUP, "cannot change directory to '%s': %s", workdir, strerror(e));
    return false;
}

/* Signals the child's whole process group. ESRCH (nobody left) is the expected outcome late
 * in a run, not an error. Only called while the leader is alive or a zombie: its pid, hence
 * the group id, cannot have been reused by then. */
static void signal_group(pid_t pgid, int sig)
{
    kill(-pgid, sig);
}

static void terminate(runner *r, int64_t now)
{
    signal_group(r->pid, SIGTERM);
    /* A stopped process only acts on SIGTERM once continued. */
    signal_group(r->pid, SIGCONT);
    r->terminating = true;
    r->kill_at = now + r->grace_ms;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The spill file: unnamed where the file system allows (nothing is left behind whatever
 * happens to the engine), else a unique name. */
static int open_spill(stream *s)
{
    static atomic_ulong counter;
    int fd = open(s->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);

    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd < 0 ? errno : (s->spill_fd = fd, 0);
    for (int tries = 0; tries < 100; tries++) {
        free(s->spill_path);
        s->spill_path = wf_xasprintf("%s/.spill-%ld-%lu", s->spill_dir, (long)getpid(),
                                     atomic_fetch_add(&counter, 1));
        fd = open(s->spill_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        free(s->spill_path);
        s->spill_path = NULL;
        return errno;
    }
    s->spill_fd = fd;
    return 0;
}

/* Keeps n bytes of a spilling stream: in memory up to the threshold, then all of it in the
 * file, hashed on the way; past the cap (on disk) the rest is dropped. */
static void spill_take(stream *s, const char *p, size_t n)
{
    if (s->total + n > s->cap) {
        n = s->total < s->cap ? (size_t)(s->cap - s->total) : 0;
        s->truncated = true;
    }
    if (n == 0)
        return;
    s->total += n;
    s->newlines += wf_count_newlines(p, n);
    s->last = p[n - 1];
    if (s->spill_fd < 0 && s->spill_errno == 0 && s->buf.len + n <= WF_PROC_SPILL_THRESHOLD) {
        wf_strbuf_add(&s->buf, p, n);
        return;
    }
    if (s->spill_errno != 0)
        return;
    if (s->spill_fd < 0) {
        s->spill_errno = open_spill(s);
        if (s->spill_errno != 0)
            return;
        s->sha = wf_sha256_new();
        wf_sha256_update(s->sha, s->buf.buf ? s->buf.buf : "", s->buf.len);
        s->spill_errno = write_all(s->spill_fd, s->buf.buf ? s->buf.buf : "", s->buf.len);
        wf_strbuf_reset(&s->buf);
        if (s->spill_errno != 0)
            return;
    }
    wf_sha256_update(s->sha, p, n);
    s->spill_errno = write_all(s->spill_fd, p, n);
}

static void drain_spill(stream *s)
{
    for (int i = 0; i < READS_PER_WAKEUP && s->fd >= 0; i++) {
        ssize_t n = read(s->fd, s->chunk, READ_CHUNK);

        if (n > 0) {
            spill_take(s, s->chunk, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        close_fd(&s->fd);
    }
}

/* Empties what the pipe holds now (up to READS_PER_WAKEUP reads), keeping up to the cap. */
static void drain(stream *s)
{
    char scratch[8192];

    if (s->spill_dir != NULL) {
        drain_spill(s);
        return;
    }
    for (int i = 0; i < READS_PER_WAKEUP && s->fd >= 0; i++) {
        char *dst = scratch;
        size_t room = sizeof(scratch);
        ssize_t n;

        if (s->buf.len < s->cap) {
            room = s->cap - s->buf.len < READ_CHUNK ? s->cap - s->buf.len : READ_CHUNK;
            wf_strbuf_grow(&s->buf, room);
            dst = s->buf.buf + s->buf.len;
            /* Terminated now, for when the read brings nothing (end-of-file). */
            *dst = '\0';
        }
        n = read(s->fd, dst, room);
        if (n > 0) {
            if (dst == scratch) {
                s->truncated = true;
            } else {
                s->buf.len += (size_t)n;
                s->buf.buf[s->buf.len] = '\0';
            }
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* End-of-file, or an error a pipe cannot really give: either way this stream is
         * finished, and closing it is what lets the wait end. */
        close_fd(&s->fd);
    }
}

static void stream_finish(stream *s, wf_proc_output *o)
{
    close_fd(&s->fd);
    o->truncated = s->truncated;
    o->spill_errno = s->spill_errno;
    o->total = s->total;
    o->lines = s->newlines + (s->total > 0 && s->last != '\n');
    if (s->spill_fd >= 0) {
        /* What logs show of it: its last bytes. */
        size_t tail =
            s->total < WF_PROC_SPILL_THRESHOLD ? (size_t)s->total : WF_PROC_SPILL_THRESHOLD;
        ssize_t got;

        wf_sha256_final_hex(s->sha, o->hash);
        s->sha = NULL;
        wf_strbuf_reset(&s->buf);
        wf_strbuf_grow(&s->buf, tail);
        got = s->spill_errno == 0 ? pread(s->spill_fd, s->buf.buf, tail, (off_t)(s->total - tail))
                                  : 0;
        s->buf.len = got > 0 ? (size_t)got : 0;
        s->buf.buf[s->buf.len] = '\0';
        o->spill_fd = s->spill_fd;
        o->spill_path = s->spill_path;
        s->spill_fd = -1;
        s->spill_path = NULL;
    } else if (s->spill_dir == NULL) {
        o->total = s->buf.len;
    }
    o->data = wf_strbuf_detach(&s->buf, &o->len);
}

/* What stream_finish did not take over. */
static void stream_release(stream *s)
{
    wf_strbuf_release(&s->buf);
    if (s->sha != NULL) {
        char ignored[WF_SHA256_HEX_LEN + 1];

        wf_sha256_final_hex(s->sha, ignored);
    }
    if (s->spill_fd >= 0)
        close(s->spill_fd);
    if (s->spill_path != NULL)
        unlink(s->spill_path);
    free(s->spill_path);
    free(s->chunk);
}

static pid_t waitpid_retry(pid_t pid, int *status)
{
    pid_t got;

    do {
        got = waitpid(pid, status, 0);
    } while (got < 0 && errno == EINTR);
    return got;
}

static void record_status(wf_proc_result *res, int status)
{
    if (WIFEXITED(status)) {
        res->exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
        res->term_signal = WTERMSIG(status);
        res->exit_code = 128 + res->term_signal;
    }
}

/* ---- orphans (wf_proc_reap_orphans) -------------------------------------------------------
 *
 * When on, this process is a child subreaper and so is every child we start. A process that
 * a unit's process started and that lost its parent (a double fork, `(cmd &)`) is adopted by
 * the unit's process, the nearest subreaper, for as long as that one lives: so nothing a live
 * unit started is ever adopted by us. When the unit's process exits, the kernel hands all of
 * its children, its own and the adopted ones, to the first live thread of this process, which
 * is the main thread. Therefore every child of the main thread is the leftover of a unit that
 * has ended, with one exception we track: the child of a wf_proc_run() called on the main
 * thread itself (only one at a time, since the call blocks). Whoever sees a unit's process
 * exit kills and reaps every other child of the main thread, under one lock, so that no two
 * threads reap the same pid and no pid is signalled after it was reaped (and reused). */

static atomic_bool reap_on;
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t main_child; /* under orphan_lock: a live child started by the main thread, or 0 */
/* Under orphan_lock: the main thread's /proc/self/task/<pid>/children, kept open so that each
 * pass costs one pread (opening a /proc path per unit costs more than the rest of the pass),
 * and the pid it was opened in (a copy of the process made by fork() must not use it). */
static int children_fd = -1;
static pid_t children_pid;

static bool on_main_thread(void)
{
    return gettid() == getpid();
}

/* Reads the pids of the main thread's children (at most max; the rest is left to the next
 * pass). Returns how many, or -1 when the file cannot be read. Under orphan_lock. */
static int read_children(pid_t *pids, int max)
{
    char buf[ORPHANS_PER_PASS * 8];
    size_t len = 0;
    int count = 0;
    char *p;

    if (children_fd < 0 || children_pid != getpid())
        return -1;
    /* Offset 0 makes the kernel list them afresh. */
    while (len < sizeof(buf) - 1) {
        ssize_t n = pread(children_fd, buf + len, sizeof(buf) - 1 - len, (off_t)len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        len += (size_t)n;
    }
    buf[len] = '\0';
    if (len == sizeof(buf) - 1) {
        /* Full: the last number may be cut; it comes again in the next pass. */
        p = strrchr(buf, ' ');
        if (p == NULL)
            return 0;
        *p = '\0';
    }
    for (p = buf; *p != '\0' && count < max;) {
        char *end;
        long v = strtol(p, &end, 10);

        if (end == p)
            break;
        if (v > 0)
            pids[count++] = (pid_t)v;
        p = end;
    }
    return count;
}

/* Kills (SIGKILL: they outlived their unit, there is no one left to ask politely) and reaps
 * every child of the main thread but main_child, with the process group each one leads (a
 * setsid'd daemon's own children), until none is left. A killed process's own children are
 * handed to us in turn and die in the next pass. */
static void reap_orphans(void)
{
    pid_t pids[ORPHANS_PER_PASS];

    pthread_mutex_lock(&orphan_lock);
    for (int pass = 0; pass < ORPHAN_PASSES; pass++) {
        int n = read_children(pids, ORPHANS_PER_PASS);
        int killed = 0;

        for (int i = 0; i < n; i++) {
            if (pids[i] == main_child)
                continue;
            /* Both are ours until we reap pids[i]: its pid, and so a group of that id, cannot
             * be reused before. */
            kill(-pids[i], SIGKILL);
            kill(pids[i], SIGKILL);
            pids[killed++] = pids[i];
        }
        for (int i = 0; i < killed; i++) {
            int status;

            waitpid_retry(pids[i], &status);
        }
        if (killed == 0)
            break;
    }
    pthread_mutex_unlock(&orphan_lock);
}

int wf_proc_reap_orphans(bool on)
{
    char path[64];
    pid_t probe[1];
    int e = 0;

    pthread_mutex_lock(&orphan_lock);
    if (on && atomic_load(&reap_on) && children_pid == getpid()) {
        pthread_mutex_unlock(&orphan_lock);
        return 0; /* already on */
    }
    if (children_fd >= 0) {
        close(children_fd);
        children_fd = -1;
    }
    if (on) {
        children_pid = getpid();
        snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)children_pid);
        children_fd = open(path, O_RDONLY | O_CLOEXEC);
        if (children_fd < 0 || read_children(probe, 1) < 0)
            e = errno == ENOENT ? ENOSYS : errno;
    }
    if (e == 0 && prctl(PR_SET_CHILD_SUBREAPER, on ? 1 : 0, 0, 0, 0) != 0)
        e = errno;
    if (e != 0 && children_fd >= 0) {
        close(children_fd);
        children_fd = -1;
    }
    if (e == 0 || on)
        atomic_store(&reap_on, e == 0 && on);
    pthread_mutex_unlock(&orphan_lock);
    return e;
}

bool wf_proc_reaping_orphans(void)
{
    return atomic_load(&reap_on);
}

/* The end of the main thread's child: from now on it is an orphan like any other. Called
 * after it was reaped, so that no pass takes it for an orphan and reaps it first. */
static void forget_main_child(pid_t pid)
{
    pthread_mutex_lock(&orphan_lock);
    if (main_child == pid)
        main_child = 0;
    pthread_mutex_unlock(&orphan_lock);
}

/* Reaps the child, which has exited or been killed; with wf_proc_reap_orphans on, first
 * kills and reaps what it left behind (by then the kernel has handed it all to us). */
static pid_t reap_child(runner *r, int *status)
{
    pid_t got;

    if (r->reap_orphans)
        reap_orphans();
    got = waitpid_retry(r->pid, status);
    if (r->main_child)
        forget_main_child(r->pid);
    return got;
}

/* If the child has exited: kills what is left of its group, then reaps it. The order matters:
 * while the child is an unreaped zombie its pid cannot be reused, so the group we kill is
 * surely ours. Returns WF_OK (reaped or still running) or WF_EIO (status lost). */
static int try_reap(runner *r, wf_proc_result *res)
{
    siginfo_t si;
    int status = 0;
    int e;

    memset(&si, 0, sizeof(si));
    if (waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR)
            return WF_OK;
        goto lost;
    }
    if (si.si_pid != r->pid)
        return WF_OK;
    signal_group(r->pid, SIGKILL);
    if (reap_child(r, &status) != r->pid)
        goto lost;
    record_status(res, status);
    r->reaped = true;
    res->end_ms = wf_now_ms();
    r->drain_until = res->end_ms + r->grace_ms;
    return WF_OK;

lost:
    /* Someone else reaped our child (SIGCHLD ignored, or a wait for any child elsewhere).
     * Its pid may already belong to another process, so we must not signal the group. */
    e = errno;
    free(res->error);
    res->error = wf_xasprintf("lost the exit status of pid %ld: %s (is SIGCHLD ignored?)",
                              (long)r->pid, strerror(e));
    res->exit_code = -1;
    r->reaped = true;
    res->end_ms = wf_now_ms();
    r->drain_until = res->end_ms + r->grace_ms;
    return WF_EIO;
}

/* The next moment a timer is due (0 for none), given the state. */
static int64_t next_deadline(const runner *r)
{
    if (r->reaped)
        return r->drain_until;
    if (r->terminating)
        return r->killed ? 0 : r->kill_at;
    return r->timeout_at;
}

/* Waits for the child to end and its output to be read, acting on the timeout and the
 * cancel fd on the way. Returns WF_OK, WF_ETIMEOUT, WF_ECANCELLED or WF_EIO. */
static int wait_child(runner *r, wf_proc_result *res)
{
    int rc = WF_OK;

    for (;;) {
        struct pollfd pfd[4];
        int64_t now = wf_now_ms();
        int64_t deadline;
        int timeout = -1;
        int n;

        if (r->reaped) {
            if (r->out.fd < 0 && r->err.fd < 0)
                break;
            if (now >= r->drain_until)
                break; /* Something outside the group holds the pipes: stop waiting. */
        } else if (!r->terminating && r->timeout_at != 0 && now >= r->timeout_at) {
            res->timed_out = true;
            terminate(r, now);
        } else if (r->terminating && !r->killed && now >= r->kill_at) {
            signal_group(r->pid, SIGKILL);
            r->killed = true;
        }

        deadline = next_deadline(r);
        if (deadline != 0)
            timeout = deadline - now > INT_MAX ? INT_MAX : (int)(deadline - now);
        if (timeout < 0 && deadline != 0)
            timeout = 0;
        if (!r->reaped && r->pidfd < 0 && (timeout < 0 || timeout > NO_PIDFD_TICK_MS))
            timeout = NO_PIDFD_TICK_MS;

        pfd[0] = (struct pollfd){ .fd = r->out.fd, .events = POLLIN };
        pfd[1] = (struct pollfd){ .fd = r->err.fd, .events = POLLIN };
        pfd[2] = (struct pollfd){ .fd = r->reaped ? -1 : r->pidfd, .events = POLLIN };
        pfd[3] = (struct pollfd){ .fd = r->reaped || r->terminating ? -1 : r->cancel_fd,
                                  .events = POLLIN };
        n = poll(pfd, 4, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            free(res->error);
            res->error = wf_xasprintf("poll: %s", strerror(errno));
            rc = WF_EIO;
            break;
        }
        /* POLLHUP without POLLIN is end-of-file on an empty pipe: no read, and no buffer for
         * the output of a command that wrote nothing. */
        if (pfd[0].revents == POLLHUP)
            close_fd(&r->out.fd);
        else if (pfd[0].revents != 0)
            drain(&r->out);
        if (pfd[1].revents == POLLHUP)
            close_fd(&r->err.fd);
        else if (pfd[1].revents != 0)
            drain(&r->err);
        if (pfd[3].revents != 0) {
            res->cancelled = true;
            r->cancel_fd = -1;
            terminate(r, wf_now_ms());
        }
        if (!r->reaped && (pfd[2].revents != 0 || r->pidfd < 0)) {
            rc = try_reap(r, res);
            if (rc != WF_OK)
                break;
        }
    }

    if (!r->reaped) {
        /* Only after a failure of poll: do not leave the child behind. */
        int status = 0;

        signal_group(r->pid, SIGKILL);
        if (reap_child(r, &status) == r->pid)
            record_status(res, status);
        r->reaped = true;
        res->end_ms = wf_now_ms();
    }
    if (rc == WF_OK && res->timed_out)
        rc = WF_ETIMEOUT;
    else if (rc == WF_OK && res->cancelled)
        rc = WF_ECANCELLED;
    return rc;
}

/* In the child between vfork and exec (system calls only, no allocation): the value of the
 * hex mask after "\nName:\t" in text, or false when it is not there. */
static bool status_mask(const char *text, const char *name, uint64_t *mask)
{
    const char *p = text;
    size_t n = strlen(name);

    for (;;) {
        p = strchr(p, '\n');
        if (p == NULL)
            return false;
        p++;
        if (strncmp(p, name, n) == 0 && p[n] == ':' && p[n + 1] == '\t')
            break;
    }
    p += n + 2;
    *mask = 0;
    for (int digits = 0;; p++, digits++) {
        int v = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

        if (v < 0)
            return digits > 0 && *p == '\n';
        if (digits == 16)
            return false;
        *mask = *mask << 4 | (uint64_t)v;
    }
}

/* In the child between vfork and exec: the signals whose disposition is not the default
 * (ignored or caught), read from /proc/self/status, whose SigIgn and SigCgt lines are the
 * child's own dispositions, copied from ours at the vfork. Setting all 62 of them instead is
 * 62 system calls while our worker thread waits (60-70 us on a virtual machine, against
 * about 10 us for this read: B8, B5). False when /proc cannot be read (then every signal is
 * set). */
static bool non_default_signals(uint64_t *set)
{
    char text[4096];
    uint64_t ign, cgt;
    ssize_t n;
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return false;
    /* One read: /proc gives the whole file (about 1.4 KiB) at once; a short one that misses
     * a line is caught below. */
    n = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (n <= 0)
        return false;
    text[n] = '\0';
    if (!status_mask(text, "SigIgn", &ign) || !status_mask(text, "SigCgt", &cgt))
        return false;
    *set = ign | cgt;
    return true;
}

/* The child between vfork and exec. It runs on its parent's stack and memory with every signal
 * blocked, so it makes system calls and nothing else (no allocation, no locks, no return).
 * A step that fails sends its errno down report and ends the child. */
__attribute__((noreturn, noinline)) static void
child_exec(const char *path, const wf_proc_spec *spec, const char *const *envp, int out_w,
           int err_w, int report, pid_t parent, bool subreaper)
{
    struct sigaction dfl;
    sigset_t none;
    uint64_t set = ~(uint64_t)0;
    bool known = non_default_signals(&set);
    int fd, e;

    /* Every signal to its default action: an ignored SIGPIPE or SIGINT would be inherited
     * through exec, and a handler of ours must not run here, in our memory, for a signal that
     * arrives between the unblocking below and the exec. (glibc refuses to touch its two
     * internal signals; nothing of ours handles them.) */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        bool other = !known || sig > 64 || (set >> (sig - 1) & 1) != 0;

        if (sig != SIGKILL && sig != SIGSTOP && other)
            sigaction(sig, &dfl, NULL);
    }
    if (setpgid(0, 0) != 0)
        goto fail;
    /* Dies with the engine, even by SIGKILL. The signal comes when the thread that started us
     * ends, not the process: that thread is blocked in wf_proc_run until we are reaped, so it
     * can only end with the whole process. If the engine died before this line, our parent is
     * already someone else and no signal will come: give up. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != parent) {
        errno = ESRCH;
        goto fail;
    }
    /* Keeps what the task starts and orphans (a daemon's double fork) below the task while it
     * lives, so that the engine never mistakes it for the leftover of an ended task. */
    if (subreaper && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
        goto fail;
    /* First, so that a relative path resolves in the workdir, as checked by resolve(). */
    if (spec->workdir != NULL && chdir(spec->workdir) != 0)
        goto fail;
    fd = open("/dev/null", O_RDONLY);
    if (fd < 0 || (fd != 0 && (dup2(fd, 0) != 0 || close(fd) != 0)))
        goto fail;
    if (dup2(out_w, 1) != 1 || dup2(err_w, 2) != 2)
        goto fail;
    /* No other engine descriptor reaches the task, even one a module forgot to mark
     * close-on-exec; report stays until the exec closes it. Kernels before 5.9 lack
     * close_range: there close-on-exec alone keeps ours out. */
    if (report > 3)
        syscall(SYS_close_range, 3, report - 1, 0);
    syscall(SYS_close_range, report + 1, ~0U, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* execve does not modify argv and envp; its prototype predates const. */
    execve(path, (char *const *)spec->argv, (char *const *)envp);
fail:
    e = errno;
    while (write(report, &e, sizeof(e)) < 0 && errno == EINTR) {
    }
    _exit(WF_PROC_EXIT_CANNOT_EXEC);
}

/* Starts the child with its pipes; on success the parent's copies of the child's ends are
 * still open (the caller closes them). Returns 0 or the errno of the step that failed.
 *
 * vfork rather than posix_spawn: glibc's posix_spawn maps a fresh stack for every child and
 * unmaps it after, and in a process with threads each of those takes the address space's
 * lock and flushes the other CPUs' TLBs while the other worker's child is reading its
 * arguments out of the same address space. bench_proc, wf_proc alone: 56-71 us of our CPU
 * per shell command with posix_spawn, 39-44 with vfork (bench/README.md). Whether the exec
 * worked comes back through a close-on-exec pipe rather than through the shared memory,
 * so that it stays right where vfork is a fork (ThreadSanitizer makes it one). */
static int spawn(runner *r, const char *path, const wf_proc_spec *spec, const char *const *envp,
                 int out_w, int err_w)
{
    sigset_t all, old;
    int report[2];
    int e = 0;
    ssize_t n;
    pid_t child;
    pid_t self = getpid();

    if (pipe2(report, O_CLOEXEC) != 0)
        return errno;
    /* Above stdio, or the child's dup2 onto 0..2 could replace it. */
    report[0] = above_stdio(report[0]);
    report[1] = above_stdio(report[1]);
    if (report[0] < 0 || report[1] < 0) {
        e = errno;
        close_fd(&report[0]);
        close_fd(&report[1]);
        return e;
    }
    /* No handler of ours may run in the child, which shares our memory until it execs. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    r->reap_orphans = wf_proc_reaping_orphans();
    /* A child of the main thread would look like an orphan to reap_orphans() in another
     * thread: it is registered before anyone can look. */
    r->main_child = r->reap_orphans && on_main_thread();
    if (r->main_child)
        pthread_mutex_lock(&orphan_lock);
    child = vfork();
    if (child == 0)
        child_exec(path, spec, envp, out_w, err_w, report[1], self, r->reap_orphans);
    if (child < 0)
        e = errno;
    if (r->main_child) {
        if (child > 0)
            main_child = child;
        pthread_mutex_unlock(&orphan_lock);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (child > 0) {
        /* End-of-file: the exec closed the pipe. An errno: the child failed and is exiting. */
        do {
            n = read(report[0], &e, sizeof(e));
        } while (n < 0 && errno == EINTR);
        if (n == (ssize_t)sizeof(e)) {
            int status;

            waitpid_retry(child, &status);
            if (r->main_child)
                forget_main_child(child);
        } else {
            e = 0;
            r->pid = child;
        }
    }
    close(report[0]);
    return e;
}

/* Says why the spawn failed with e, as precisely as we can tell from here: /dev/null that the
 * child could not open, or what is wrong with a path that has a '/' (resolve() leaves those to
 * the exec, which says EACCES for a directory), with a shell's exit codes. Returns the
 * wf_proc_run() code. */
static int spawn_failed(int e, const char *name, const char *workdir, wf_proc_result *res)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        res->error = wf_xasprintf("cannot open /dev/null: %s", strerror(errno));
        return WF_EIO;
    }
    close(fd);
    if (strchr(name, '/') != NULL) {
        char *check = checked_path(name, workdir);
        int why = check_executable(check);

        free(check);
        if (why != 0)
            e = why;
    }
    fail(res, e == ENOENT || e == ENOTDIR ? WF_PROC_EXIT_NOT_FOUND : WF_PROC_EXIT_CANNOT_EXEC,
         "%s: %s", name, strerror(e));
    return WF_EEXEC;
}

int wf_proc_run(const wf_proc_spec *spec, wf_proc_result *res)
{
    const char *const *envp;
    char *path = NULL;
    int out_p[2] = { -1, -1 }, err_p[2] = { -1, -1 };
    runner r;
    int rc = WF_OK;
    int e;

    wf_proc_result_init(res);
    memset(&r, 0, sizeof(r));
    r.pid = -1;
    r.pidfd = -1;
    r.cancel_fd = -1;
    r.out.fd = r.err.fd = -1;
    r.out.spill_fd = r.err.spill_fd = -1;
    wf_strbuf_init(&r.out.buf);
    wf_strbuf_init(&r.err.buf);
    res->start_ms = res->end_ms = wf_now_ms();

    if (spec == NULL || spec->argv == NULL || spec->argv[0] == NULL) {
        res->error = wf_xstrdup("no command to run");
        rc = WF_EINVAL;
        goto out;
    }
    envp = spec->envp != NULL ? spec->envp : (const char *const *)environ;
    r.grace_ms = spec->kill_grace_ms > 0 ? spec->kill_grace_ms : WF_PROC_DEFAULT_KILL_GRACE_MS;
    r.out.cap = spec->stdout_cap > 0 ? spec->stdout_cap : WF_PROC_DEFAULT_STDOUT_CAP;
    r.err.cap = spec->stderr_cap > 0 ? spec->stderr_cap : WF_PROC_DEFAULT_STDERR_CAP;
    if (spec->spill_dir != NULL) {
        r.out.spill_dir = spec->spill_dir;
        r.out.chunk = wf_xmalloc(READ_CHUNK);
    }

    if (spec->cancel_fd >= 0) {
        struct pollfd c = { .fd = spec->cancel_fd, .events = POLLIN };

        if (poll(&c, 1, 0) < 0) {
            res->error = wf_xasprintf("poll: %s", strerror(errno));
            rc = WF_EIO;
            goto out;
        }
        if (c.revents & POLLNVAL) {
            res->error = wf_xasprintf("cancel fd %d is not open", spec->cancel_fd);
            rc = WF_EINVAL;
            goto out;
        }
        if (c.revents != 0) {
            /* Asked to stop before anything ran: start nothing. */
            res->cancelled = true;
            rc = WF_ECANCELLED;
            goto out;
        }
        r.cancel_fd = spec->cancel_fd;
    }

    if (spec->workdir != NULL && !workdir_usable(spec->workdir, res)) {
        rc = WF_EEXEC;
        goto out;
    }
    path = resolve(spec->argv[0], envp, spec->workdir, res);
    if (path == NULL) {
        rc = WF_EEXEC;
        goto out;
    }

    if (make_pipe(out_p) != 0 || make_pipe(err_p) != 0) {
        res->error = wf_xasprintf("cannot create a pipe: %s", strerror(errno));
        rc = WF_EIO;
        goto out;
    }

    res->start_ms = wf_now_ms();
    e = spawn(&r, path, spec, envp, out_p[1], err_p[1]);
    if (e != 0) {
        r.pid = -1;
        rc = spawn_failed(e, spec->argv[0], spec->workdir, res);
        res->end_ms = wf_now_ms();
        goto out;
    }
    res->pid = r.pid;
    /* Only the child may hold the write ends, or end-of-file would never come. */
    close_fd(&out_p[1]);
    close_fd(&err_p[1]);
    r.out.fd = out_p[0];
    r.err.fd = err_p[0];
    out_p[0] = err_p[0] = -1;
    if (spec->timeout_ms > 0)
        r.timeout_at = res->start_ms + spec->timeout_ms;
    /* A pidfd tells us the child exited even while a grandchild holds the pipes open.
     * pidfds are always close-on-exec. */
    r.pidfd = (int)syscall(SYS_pidfd_open, r.pid, 0);
    rc = wait_child(&r, res);

out:
    close_fd(&r.pidfd);
    close_fd(&err_p[0]);
    close_fd(&err_p[1]);
    close_fd(&out_p[0]);
    close_fd(&out_p[1]);
    free(path);
    if (res->out.data == NULL)
        stream_finish(&r.out, &res->out);
    else
        close_fd(&r.out.fd);
    if (res->err.data == NULL)
        stream_finish(&r.err, &res->err);
    else
        close_fd(&r.err.fd);
    stream_release(&r.out);
    stream_release(&r.err);
    return rc;
}
