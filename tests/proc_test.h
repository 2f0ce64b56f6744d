/*
 * proc_test.h: helpers of the wf_proc tests (check_proc.c, check_proc_orphans.c): running a
 * child, waiting with a deadline for a process, a group or a file, temporary directories and
 * pid files. Every wait is for a condition, never a fixed time (docs/architecture.md, "Tests
 * and CI").
 */
#ifndef WF_PROC_TEST_H
#define WF_PROC_TEST_H

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "wf_proc.h"

/* Runs argv with the given spec (argv replaces spec->argv). */
static inline int run(wf_proc_spec *spec, const char *const *argv, wf_proc_result *res)
{
    spec->argv = argv;
    return wf_proc_run(spec, res);
}

/* Runs `sh -c script` with default settings and the given timeout. */
static inline int run_sh(const char *script, int64_t timeout_ms, wf_proc_result *res)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    spec.timeout_ms = timeout_ms;
    return run(&spec, argv, res);
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* True when pid is gone or a zombie: a killed orphan is reparented to PID 1, which may be
 * slow to reap it (or never do so in a container), so "zombie" counts as dead. */
static inline bool pid_dead(pid_t pid)
{
    char path[64], buf[512];
    const char *paren;
    FILE *f;
    size_t n;

    if (kill(pid, 0) != 0 && errno == ESRCH)
        return true;
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return true;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    paren = strrchr(buf, ')');
    return paren == NULL || paren[1] == '\0' || paren[2] == 'Z' || paren[2] == 'X';
}

/* SIGKILL takes effect asynchronously: give a killed process a moment to become a zombie. */
static inline bool wait_dead(pid_t pid, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (pid_dead(pid))
            return true;
        sleep_ms(10);
    }
    return pid_dead(pid);
}

/* True while a live (non-zombie) process is in process group pgid: read from /proc, because
 * kill(-pgid, 0) also succeeds for a group of zombies. */
static inline bool group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    bool alive = false;

    ck_assert_ptr_nonnull(d);
    for (e = readdir(d); e != NULL && !alive; e = readdir(d)) {
        char path[300], buf[512], state;
        const char *paren;
        long ppid, pgrp;
        FILE *f;
        size_t n;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = '\0';
        paren = strrchr(buf, ')');
        if (paren == NULL || sscanf(paren + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        alive = pgrp == (long)pgid && state != 'Z' && state != 'X';
    }
    closedir(d);
    return alive;
}

static inline bool wait_group_dead(pid_t pgid, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (!group_alive(pgid))
            return true;
        sleep_ms(10);
    }
    return !group_alive(pgid);
}

static inline char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/wfproc-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return wf_xstrdup(tmpl);
}

/* pwd prints the physical path, which may differ from a path through a symlink. */
static inline bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static inline char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path = wf_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static inline pid_t read_pid_file(const char *dir, const char *name)
{
    char *path = wf_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    long v = 0;

    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fscanf(f, "%ld", &v), 1);
    fclose(f);
    free(path);
    ck_assert_int_gt(v, 1);
    return (pid_t)v;
}

static inline void remove_dir(char *dir)
{
    char *cmd = wf_xasprintf("rm -rf '%s'", dir);

    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

static inline pid_t first_pid(const char *out)
{
    long v = strtol(out, NULL, 10);

    ck_assert_int_gt(v, 1);
    return (pid_t)v;
}

/* A timeout counts from the spawn, so a test cannot start it when the child is ready (its
 * trap set, its grandchild started); on a loaded machine the shell may not even have got
 * there after hundreds of milliseconds. The child says it is ready with a line on stdout
 * (a pid, "ready"); when the timeout came before that line, the run proves nothing and is
 * tried again with a timeout four times as long, up to READY_TRIES times. An unloaded
 * machine needs one try; a slow one only waits longer, and a broken kill still fails. */
#define READY_TRIES 4

static inline int run_until_ready(wf_proc_spec *spec, const char *const *argv, wf_proc_result *res)
{
    for (int i = 0;; i++) {
        int rc = run(spec, argv, res);

        if (rc != WF_ETIMEOUT || strchr(res->out.data, '\n') != NULL)
            return rc;
        ck_assert_msg(i + 1 < READY_TRIES, "the child was not ready within %lld ms",
                      (long long)spec->timeout_ms);
        wf_proc_result_release(res);
        spec->timeout_ms *= 4;
    }
}

#endif
