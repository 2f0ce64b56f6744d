/*
 * wf_proc.h: run one child process to completion and capture what it wrote.
 * (Internal to the engine: the local executor's worker threads call it.)
 *
 * One call of wf_proc_run() spawns one child (vfork and exec), waits for it while reading its
 * stdout and stderr, enforces a timeout and a cancel fd, and returns its exit status and
 * output. It blocks the calling thread for the child's whole life; the scheduler runs several
 * of them at once, one per worker thread.
 *
 * What the child gets (spec/workflow-format.md, "Process environment of a run task"):
 * - argv as given. argv[0] without a '/' is looked up in the PATH of the child's environment
 *   (spec->envp), not the engine's; when envp has no PATH, "/bin:/usr/bin" (as execvp does).
 *   Relative PATH entries and a relative argv[0] are taken relative to the workdir.
 * - exactly envp as its environment (the caller builds the full array).
 * - stdin from /dev/null; stdout and stderr to two pipes read by the engine; no other file
 *   descriptor of the engine (everything from fd 3 up is closed in the child, so a
 *   descriptor another module forgot to mark close-on-exec does not leak into tasks).
 * - its own process group (pgid = pid), so that a timeout or a cancel can signal the child
 *   and everything it started.
 * - PR_SET_PDEATHSIG = SIGKILL: if the engine dies, even by SIGKILL, the kernel kills the
 *   child. (The signal follows the thread that started the child, and that thread waits in
 *   wf_proc_run until the child is reaped, so only the end of the process can fire it. The
 *   kernel clears it when the child execs a set-user-ID or file-capability program, and it
 *   does not reach the child's own children.)
 * - an empty signal mask and every signal at its default disposition, whatever the engine
 *   blocked or ignored (workers block signals; the engine ignores SIGPIPE).
 *
 * Ending: on timeout or cancel the group gets SIGTERM (and SIGCONT, so that a stopped
 * process sees it), then SIGKILL after kill_grace_ms if the child is still alive. Whenever
 * the child ends, by itself or not, the rest of its process group gets SIGKILL: a task
 * cannot leave processes running behind it (`sleep 100 &` dies with the task). Processes
 * that left the group (setsid, setpgid) are out of reach of that, unless
 * wf_proc_reap_orphans() is on (then they are killed and reaped too, see there); if they
 * still hold stdout or stderr, the engine reads for at most kill_grace_ms more after the
 * child ended, then closes its ends and returns.
 *
 * Output: each stream is kept up to its cap; the rest is read and thrown away (so the child
 * never blocks on a full pipe) and the stream is marked truncated. Memory per stream is
 * bounded by about twice its cap (the buffer grows by doubling). With spec->spill_dir, stdout
 * is kept in memory only up to WF_PROC_SPILL_THRESHOLD: from there on the whole stream goes
 * to a file in that directory, hashed (SHA256) as it arrives, and its cap is a cap on the
 * file (on disk), so memory stays at about the threshold whatever the child prints.
 *
 * Requirements on the rest of the process (the engine's main):
 * - SIGCHLD must not be ignored (SIG_IGN makes the kernel reap children before we can read
 *   their status) and nothing may call wait(), waitpid(-1, ...) or waitid(P_ALL, ...): this
 *   module reaps its own child by pid and never touches other threads' children (with
 *   wf_proc_reap_orphans on, also the main thread's children, see there). It installs no
 *   signal handlers and never needs one.
 * - SIGPIPE: wf_proc_run only reads from pipes, so it cannot raise SIGPIPE itself. The engine
 *   still has to ignore SIGPIPE (or block it in every thread) for its other writers (stdout
 *   to a closed pager, sockets); children get the default disposition back either way.
 *
 * Thread safety: wf_proc_run may be called from any number of threads at once. It has no
 * global state; it keeps every descriptor close-on-exec, so a spawn in another thread never
 * inherits this call's pipes (which would hold them open and delay end-of-file).
 *
 * Linux only: pidfd_open (Linux >= 5.3; without it the wait falls back to checking the child
 * every 50 ms) and close_range (Linux >= 5.9; without it only close-on-exec keeps the engine's
 * descriptors out of the child).
 */
#ifndef WF_PROC_H
#define WF_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wf_common.h"

/* Defaults used when the corresponding spec field is 0. */
#define WF_PROC_DEFAULT_KILL_GRACE_MS 5000
#define WF_PROC_DEFAULT_STDOUT_CAP    ((size_t)64 << 20) /* 64 MiB */
#define WF_PROC_DEFAULT_STDERR_CAP    ((size_t)1 << 20)  /* 1 MiB */
/* Stdout held in memory before it spills to a file (with spec->spill_dir): 64 KiB. */
#define WF_PROC_SPILL_THRESHOLD ((size_t)64 << 10)

/* Exit codes of a child that could not be started (the shell's conventions, and env(1)'s
 * 125 for "the runner itself failed"). */
#define WF_PROC_EXIT_NOT_FOUND   127 /* no such command or file */
#define WF_PROC_EXIT_CANNOT_EXEC 126 /* found, but not executable (permissions, format) */
#define WF_PROC_EXIT_SETUP       125 /* the workdir is unusable; nothing was run */

/* What to run. All pointers are borrowed for the duration of the call only.
 * Start from WF_PROC_SPEC_INIT (or wf_proc_spec_init): it sets cancel_fd to -1, because a
 * zeroed spec would watch fd 0. Every other field's zero means its default. */
typedef struct wf_proc_spec {
    const char *const *argv; /* required, NULL-terminated, argv[0] non-NULL */
    const char *const *envp; /* NULL-terminated; NULL = the engine's own environ */
    const char *workdir;     /* NULL = the engine's current directory */
    int64_t timeout_ms;      /* 0 = no timeout; counted from the spawn */
    int64_t kill_grace_ms;   /* SIGTERM..SIGKILL delay; 0 = WF_PROC_DEFAULT_KILL_GRACE_MS */
    size_t stdout_cap;       /* bytes kept; 0 = WF_PROC_DEFAULT_STDOUT_CAP; SIZE_MAX = all */
    size_t stderr_cap;       /* bytes kept; 0 = WF_PROC_DEFAULT_STDERR_CAP; SIZE_MAX = all */
    /* -1 = none. Otherwise a descriptor owned by the caller (eventfd, or a pipe's read end)
     * that becomes readable, or hangs up, to ask for the child to stop. It is only polled,
     * never read or closed, so one descriptor can cancel many runs at once; it must stay
     * open until wf_proc_run returns. */
    int cancel_fd;
    /* NULL: stdout is kept in memory up to stdout_cap. Otherwise a directory (borrowed) where
     * stdout beyond WF_PROC_SPILL_THRESHOLD bytes is written to an unnamed file (O_TMPFILE;
     * a named one, ".spill-PID-N", where the file system has no O_TMPFILE): see
     * wf_proc_output.spill_fd. */
    const char *spill_dir;
} wf_proc_spec;

#define WF_PROC_SPEC_INIT                      \
    {                                          \
        NULL, NULL, NULL, 0, 0, 0, 0, -1, NULL \
    }

void wf_proc_spec_init(wf_proc_spec *spec);

/* One captured stream. data is owned by the result, NUL-terminated and never NULL once
 * wf_proc_run has returned (it may contain NULs of its own: use len). */
typedef struct wf_proc_output {
    char *data;
    size_t len;
    bool truncated; /* the stream was longer than its cap; len (or total) == cap */
    /* Spilled stdout (spec->spill_dir): spill_fd >= 0 is a file (read-write, offset at its
     * end, owned: wf_proc_result_release closes it) holding the whole stream, total bytes
     * whose SHA256 is hash; data then holds only its last WF_PROC_SPILL_THRESHOLD bytes (for
     * logs). spill_path is the file's name when it has one (owned; release unlinks it unless
     * the caller took it, e.g. renamed it, and set it NULL), NULL for an unnamed file.
     * spill_errno is set (and the file incomplete) when it could not be written (ENOSPC),
     * or when it could not be created (then spill_fd is -1 and data holds only the first
     * WF_PROC_SPILL_THRESHOLD bytes): the rest of the stream was read and dropped. Without a spill,
     * spill_fd is -1 and total is len. lines counts the lines of the total (a last line without \n
     * counts), counted as they arrive like the hash, so a spilled stream's lines are known without
     * reading it. */
    int spill_fd;
    char *spill_path;
    uint64_t total;
    uint64_t lines;
    char hash[WF_SHA256_HEX_LEN + 1];
    int spill_errno;
} wf_proc_output;

typedef struct wf_proc_result {
    /* The exit status (0..255); 128+N when killed by signal N; 125/126/127 when the child
     * could not be started (see WF_PROC_EXIT_*); -1 when no child was started for another
     * reason (invalid spec, cancelled before the start, system failure). */
    int exit_code;
    int term_signal;          /* N when killed by signal N, else 0 */
    bool timed_out;           /* the timeout fired while the child was alive */
    bool cancelled;           /* the cancel fd fired first (then timed_out is false) */
    wf_proc_output out, err;  /* stdout and stderr */
    int64_t start_ms, end_ms; /* wf_now_ms() at the spawn and when the child was reaped */
    pid_t pid;                /* also the pgid; -1 when no child was started */
    /* Owned; NULL unless wf_proc_run returned WF_EEXEC, WF_EINVAL or WF_EIO. Says what went
     * wrong, e.g. "nosuch: command not found", "cannot change directory to '/nope': No such
     * file or directory". With WF_EEXEC the same text, prefixed with "wfengine: " and
     * followed by a newline, is also err.data, so that a task's stderr says why it failed. */
    char *error;
} wf_proc_result;

/* The state wf_proc_run starts from: nothing captured, no spill file (spill_fd -1), exit_code
 * and pid -1. A result that may be released without wf_proc_run having filled it must start
 * here: a zeroed one has spill_fd 0, and releasing it would close descriptor 0, which by then
 * may be another thread's file. */
void wf_proc_result_init(wf_proc_result *res);
/* Frees the strings (closes a spill file, unlinks a named one) and resets res to the state
 * wf_proc_run starts from. Accepts NULL. */
void wf_proc_result_release(wf_proc_result *res);

/*
 * Runs spec->argv and waits until it has ended and its output has been read.
 *
 * res is always filled (it is initialised first, so its previous content is NOT freed:
 * release it before reusing it) and must be released with wf_proc_result_release(),
 * whatever the return value. Returns:
 * - WF_OK: the child ran and ended by itself; exit_code/term_signal say how (a non-zero exit
 *   or a death by signal is still WF_OK: judging it is the caller's business).
 * - WF_ETIMEOUT: the timeout fired; the group was terminated as described above. exit_code
 *   is whatever the child ended with (143 after SIGTERM, 137 after SIGKILL, or its own code
 *   if it handled SIGTERM).
 * - WF_ECANCELLED: the cancel fd fired; as for a timeout. If it was readable before the
 *   call, nothing is started (pid -1, exit_code -1).
 * - WF_EEXEC: the child could not be started: command not found (127), not executable or
 *   not an executable format (126), unusable workdir (125), or the exec failed (126;
 *   127 for ENOENT/ENOTDIR, such as a script whose #! interpreter is missing).
 *   res->error says why; err.data holds the same message for the task's stderr.
 * - WF_EINVAL: argv is NULL or empty, or cancel_fd is not an open descriptor. Nothing runs.
 * - WF_EIO: the system refused a resource (pipes, /dev/null, poll, no fds left) or the
 *   child's status was lost (SIGCHLD ignored). res->error says which. If a child had been
 *   started, its group has been killed and the child reaped.
 *
 * Blocks the calling thread; uses no CPU while waiting (poll on the pipes, a pidfd and the
 * cancel fd). Safe to call from many threads at once.
 */
int wf_proc_run(const wf_proc_spec *spec, wf_proc_result *res);

/*
 * Orphans: a task's process that leaves the process group (setsid, a daemon's double fork)
 * survives the group kill above, and once its parent is gone, it belongs to init. With
 * wf_proc_reap_orphans(true), nothing a child started outlives the child:
 * - this process becomes a child subreaper (PR_SET_CHILD_SUBREAPER), and so does every child
 *   wf_proc_run starts from then on. An orphan is adopted by its nearest subreaper ancestor:
 *   while a child lives, what it started stays below it (a daemon it talks to keeps running);
 *   when it ends, the kernel hands all of that to this process's main thread.
 * - whenever a child ends (by itself, timeout or cancel), before it is reaped, every child of
 *   the main thread except one a wf_proc_run on the main thread is waiting for gets SIGKILL,
 *   with the process group it leads, and is reaped; what those had started comes next, until
 *   none is left. So the main thread's children are all taken for leftovers: a process that
 *   turns this on must not start children of its own on its main thread (other threads may),
 *   its main thread must not exit while a wf_proc_run is in progress, and nothing may reap
 *   the main thread's children (no waitpid(-1, ...)).
 * What still escapes: a process that a child's process started, after SIGKILL of this
 * process (its parent, the child, dies of PDEATHSIG; it goes to init); one whose subtree has
 * another subreaper (it is that one's to reap); one started through a service (systemd-run,
 * at, a container daemon), which is no descendant.
 *
 * Process-wide, meant to be set once before the first run (a child started while it was off
 * is not a subreaper, and what it orphans is gone to init). false undoes it. Not inherited
 * by fork(). Needs /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN, on in mainstream
 * kernels). Returns 0, or an errno and changes nothing: ENOSYS without that file, EINVAL
 * from a kernel without subreapers (before 3.4).
 */
int wf_proc_reap_orphans(bool on);
/* Whether wf_proc_reap_orphans is on. */
bool wf_proc_reaping_orphans(void);

#endif
