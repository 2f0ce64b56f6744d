/* Tests for engine/proc.c: running one child process (wf_proc.h). Timeouts and graces are
 * short (hundreds of milliseconds) so that the whole suite stays fast. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "wf_proc.h"

/* Runs argv with the given spec (argv replaces spec->argv). */
static int run(wf_proc_spec *spec, const char *const *argv, wf_proc_result *res)
{
    spec->argv = argv;
    return wf_proc_run(spec, res);
}

/* Runs `sh -c script` with default settings and the given timeout. */
static int run_sh(const char *script, int64_t timeout_ms, wf_proc_result *res)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    spec.timeout_ms = timeout_ms;
    return run(&spec, argv, res);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        continue;
}

/* True when pid is gone or a zombie: a killed orphan is reparented to PID 1, which may be
 * slow to reap it (or never do so in a container), so "zombie" counts as dead. */
static bool pid_dead(pid_t pid)
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
static bool wait_dead(pid_t pid, long ms)
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
static bool group_alive(pid_t pgid)
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

static bool wait_group_dead(pid_t pgid, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (!group_alive(pgid))
            return true;
        sleep_ms(10);
    }
    return !group_alive(pgid);
}

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/wfproc-XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return wf_xstrdup(tmpl);
}

/* pwd prints the physical path, which may differ from a path through a symlink. */
static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;

    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

static char *write_file(const char *dir, const char *name, const char *text, mode_t mode)
{
    char *path = wf_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
    return path;
}

static pid_t read_pid_file(const char *dir, const char *name)
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

static void remove_dir(char *dir)
{
    char *cmd = wf_xasprintf("rm -rf '%s'", dir);

    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
    free(dir);
}

/* ---- exit status ------------------------------------------------------------------ */

static const struct {
    const char *script;
    int exit_code;
} exit_cases[] = { { "exit 0", 0 }, { "exit 3", 3 }, { "exit 255", 255 }, { "true", 0 } };

START_TEST(test_exit_codes)
{
    wf_proc_result res;

    ck_assert_int_eq(run_sh(exit_cases[_i].script, 0, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, exit_cases[_i].exit_code);
    ck_assert_int_eq(res.term_signal, 0);
    ck_assert(!res.timed_out && !res.cancelled);
    ck_assert_ptr_null(res.error);
    ck_assert_int_gt(res.pid, 0);
    ck_assert_int_ge(res.end_ms, res.start_ms);
    ck_assert_str_eq(res.out.data, "");
    ck_assert_str_eq(res.err.data, "");
    wf_proc_result_release(&res);
}
END_TEST

/* A result released without wf_proc_run (a Slurm scancel with nothing to cancel) must not
 * close descriptor 0: by then another thread may have opened a file there (it was the
 * "cannot write env.0: Invalid argument" of a Slurm submission, whose descriptor had become
 * a pidfd). */
START_TEST(test_result_init_release_closes_nothing)
{
    int fd0_before = fcntl(0, F_GETFD);
    wf_proc_result res;

    ck_assert_int_ne(fd0_before, -1);
    wf_proc_result_init(&res);
    ck_assert_int_eq(res.out.spill_fd, -1);
    ck_assert_int_eq(res.err.spill_fd, -1);
    wf_proc_result_release(&res);
    wf_proc_result_release(&res);
    ck_assert_int_eq(fcntl(0, F_GETFD), fd0_before);
}
END_TEST

START_TEST(test_signal_death)
{
    wf_proc_result res;

    ck_assert_int_eq(run_sh("kill -9 $$", 0, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 137);
    ck_assert_int_eq(res.term_signal, SIGKILL);
    ck_assert(!res.timed_out);
    wf_proc_result_release(&res);
}
END_TEST

/* The engine blocks signals in worker threads and ignores SIGPIPE; the child must start with
 * an empty mask and default dispositions anyway. */
START_TEST(test_signals_reset_in_child)
{
    sigset_t all, old;
    struct sigaction ign, oldpipe;
    wf_proc_result res;

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    ck_assert_int_eq(sigaction(SIGPIPE, &ign, &oldpipe), 0);
    sigfillset(&all);
    ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &all, &old), 0);

    ck_assert_int_eq(run_sh("kill -PIPE $$; echo survived", 5000, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 128 + SIGPIPE);
    ck_assert_str_eq(res.out.data, "");
    wf_proc_result_release(&res);
    ck_assert_int_eq(run_sh("kill -TERM $$; echo survived", 5000, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
    wf_proc_result_release(&res);

    ck_assert_int_eq(pthread_sigmask(SIG_SETMASK, &old, NULL), 0);
    ck_assert_int_eq(sigaction(SIGPIPE, &oldpipe, NULL), 0);
}
END_TEST

/* Descriptors of the engine that are not close-on-exec, low or high, stay out of the task;
 * the task gets exactly 0, 1 and 2. */
START_TEST(test_no_descriptor_leaks)
{
    int low = dup(2);
    int high = dup2(2, 200);
    char *script;
    wf_proc_result res;

    ck_assert_int_ge(low, 3);
    ck_assert_int_eq(high, 200);
    script = wf_xasprintf("for fd in 0 1 2 %d %d; do"
                          " if [ -e /proc/$$/fd/$fd ]; then echo \"$fd open\"; fi; done",
                          low, high);
    ck_assert_int_eq(run_sh(script, 5000, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "0 open\n1 open\n2 open\n");
    wf_proc_result_release(&res);
    free(script);
    close(low);
    close(high);
}
END_TEST

/* ---- output ------------------------------------------------------------------------ */

START_TEST(test_streams_separate)
{
    wf_proc_result res;

    ck_assert_int_eq(run_sh("echo out; echo err >&2; printf more", 0, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "out\nmore");
    ck_assert_uint_eq(res.out.len, 8);
    ck_assert_str_eq(res.err.data, "err\n");
    ck_assert(!res.out.truncated && !res.err.truncated);
    wf_proc_result_release(&res);
}
END_TEST

/* 10 MiB on both streams at once: a reader that waited on one stream would deadlock. */
START_TEST(test_large_both_streams)
{
    const char *argv[] = { "/bin/sh", "-c",
                           "head -c 10485760 /dev/zero & head -c 10485760 /dev/zero >&2; wait",
                           NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.timeout_ms = 50000; /* only against a hang: a loaded machine is slow */
    spec.stdout_cap = 16 << 20;
    spec.stderr_cap = 16 << 20;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_uint_eq(res.out.len, 10485760);
    ck_assert_uint_eq(res.err.len, 10485760);
    ck_assert(!res.out.truncated && !res.err.truncated);
    ck_assert_int_eq(res.out.data[res.out.len], '\0');
    wf_proc_result_release(&res);
}
END_TEST

START_TEST(test_cap_truncates)
{
    const char *argv[] = { "/bin/sh", "-c",
                           "head -c 1048576 /dev/zero; head -c 100000 /dev/zero >&2; echo done",
                           NULL };
    const char *exact[] = { "printf", "abc", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.timeout_ms = 50000;
    spec.stdout_cap = 1000;
    spec.stderr_cap = 10;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    /* The excess was drained: the child was never blocked and finished normally. */
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert(!res.timed_out);
    ck_assert_uint_eq(res.out.len, 1000);
    ck_assert(res.out.truncated);
    ck_assert_uint_eq(res.err.len, 10);
    ck_assert(res.err.truncated);
    ck_assert_int_eq(res.out.data[1000], '\0');
    wf_proc_result_release(&res);

    /* Exactly the cap is not truncated. */
    spec.stdout_cap = 3;
    ck_assert_int_eq(run(&spec, exact, &res), WF_OK);
    ck_assert_str_eq(res.out.data, "abc");
    ck_assert(!res.out.truncated);
    wf_proc_result_release(&res);
}
END_TEST

START_TEST(test_stdin_is_dev_null)
{
    const char *argv[] = { "cat", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    /* A cat that read a pipe from us would wait until the timeout. */
    spec.timeout_ms = 30000;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert(!res.timed_out);
    ck_assert_str_eq(res.out.data, "");
    wf_proc_result_release(&res);
}
END_TEST

/* ---- environment, PATH, workdir ---------------------------------------------------- */

START_TEST(test_env_passed)
{
    const char *argv[] = { "env", NULL };
    const char *envp[] = { "FOO=bar baz", "PATH=/usr/bin:/bin", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.envp = envp;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    /* Exactly envp: nothing of the engine's environment. */
    ck_assert_str_eq(res.out.data, "FOO=bar baz\nPATH=/usr/bin:/bin\n");
    wf_proc_result_release(&res);
}
END_TEST

/* argv[0] is looked up in the child's PATH, not the engine's. */
START_TEST(test_path_of_child_env)
{
    char *dir = make_tmpdir();
    char *tool = write_file(dir, "wf-test-tool", "#!/bin/sh\necho tool \"$1\"\n", 0755);
    char *pathvar = wf_xasprintf("PATH=/nonexistent::%s", dir);
    const char *argv[] = { "wf-test-tool", "x", NULL };
    const char *nothing[] = { "true", NULL };
    const char *envp[] = { pathvar, NULL };
    const char *nopath[] = { "PATH=/nonexistent", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.envp = envp;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "tool x\n");
    wf_proc_result_release(&res);

    spec.envp = nopath;
    ck_assert_int_eq(run(&spec, nothing, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 127);
    wf_proc_result_release(&res);

    unlink(tool);
    rmdir(dir);
    free(pathvar);
    free(tool);
    free(dir);
}
END_TEST

START_TEST(test_workdir)
{
    char *dir = make_tmpdir();
    char *script = write_file(dir, "here.sh", "#!/bin/sh\necho here\n", 0755);
    const char *pwd[] = { "pwd", NULL };
    const char *rel[] = { "./here.sh", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.workdir = dir;
    ck_assert_int_eq(run(&spec, pwd, &res), WF_OK);
    ck_assert_uint_gt(res.out.len, 1);
    ck_assert_int_eq(res.out.data[res.out.len - 1], '\n');
    res.out.data[res.out.len - 1] = '\0';
    ck_assert(same_file(res.out.data, dir));
    wf_proc_result_release(&res);

    /* A relative command is relative to the workdir. */
    ck_assert_int_eq(run(&spec, rel, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "here\n");
    wf_proc_result_release(&res);

    /* A file is not a directory. */
    spec.workdir = script;
    ck_assert_int_eq(run(&spec, pwd, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, WF_PROC_EXIT_SETUP);
    ck_assert_ptr_nonnull(strstr(res.error, "Not a directory"));
    wf_proc_result_release(&res);

    unlink(script);
    rmdir(dir);
    free(script);
    free(dir);
}
END_TEST

START_TEST(test_missing_workdir)
{
    const char *argv[] = { "true", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.workdir = "/nonexistent-wf-dir";
    ck_assert_int_eq(run(&spec, argv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, WF_PROC_EXIT_SETUP);
    ck_assert_int_eq(res.pid, -1);
    ck_assert_str_eq(res.error,
                     "cannot change directory to '/nonexistent-wf-dir': No such file or directory");
    ck_assert_str_eq(res.err.data, "wfengine: cannot change directory to '/nonexistent-wf-dir': "
                                   "No such file or directory\n");
    ck_assert_str_eq(res.out.data, "");
    wf_proc_result_release(&res);
}
END_TEST

/* ---- commands that cannot run ------------------------------------------------------ */

START_TEST(test_command_not_found)
{
    const char *argv[] = { "wf-no-such-command", "arg", NULL };
    const char *empty[] = { "", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    ck_assert_int_eq(run(&spec, argv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 127);
    ck_assert_int_eq(res.pid, -1);
    ck_assert_str_eq(res.error, "wf-no-such-command: command not found");
    ck_assert_str_eq(res.err.data, "wfengine: wf-no-such-command: command not found\n");
    ck_assert_str_eq(res.out.data, "");
    wf_proc_result_release(&res);

    ck_assert_int_eq(run(&spec, empty, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 127);
    wf_proc_result_release(&res);
}
END_TEST

START_TEST(test_not_executable)
{
    char *dir = make_tmpdir();
    char *plain = write_file(dir, "plain", "echo hi\n", 0644);
    char *noformat = write_file(dir, "noformat", "echo hi\n", 0755);
    char *nointerp = write_file(dir, "nointerp", "#!/nonexistent-wf-dir/sh\necho hi\n", 0755);
    char *msg = NULL;
    const char *argv[] = { plain, NULL };
    const char *dirv[] = { dir, NULL };
    const char *fmtv[] = { noformat, NULL };
    const char *interpv[] = { nointerp, NULL };
    const char *missing[] = { "/nonexistent-wf-dir/cmd", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    /* No x bit: refused even for root (root needs at least one x bit to execute). */
    ck_assert_int_eq(run(&spec, argv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 126);
    msg = wf_xasprintf("%s: Permission denied", plain);
    ck_assert_str_eq(res.error, msg);
    free(msg);
    wf_proc_result_release(&res);

    ck_assert_int_eq(run(&spec, dirv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 126);
    ck_assert_ptr_nonnull(strstr(res.error, "Is a directory"));
    wf_proc_result_release(&res);

    /* Executable bit but no #! and not ELF: posix_spawn itself refuses (ENOEXEC). */
    ck_assert_int_eq(run(&spec, fmtv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 126);
    ck_assert_ptr_nonnull(strstr(res.error, "Exec format error"));
    wf_proc_result_release(&res);

    ck_assert_int_eq(run(&spec, missing, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 127);
    ck_assert_str_eq(res.error, "/nonexistent-wf-dir/cmd: No such file or directory");
    wf_proc_result_release(&res);

    /* The file is fine but its #! interpreter is missing: the kernel says ENOENT. */
    ck_assert_int_eq(run(&spec, interpv, &res), WF_EEXEC);
    ck_assert_int_eq(res.exit_code, 127);
    msg = wf_xasprintf("%s: No such file or directory", nointerp);
    ck_assert_str_eq(res.error, msg);
    free(msg);
    wf_proc_result_release(&res);

    unlink(plain);
    unlink(noformat);
    unlink(nointerp);
    rmdir(dir);
    free(plain);
    free(noformat);
    free(nointerp);
    free(dir);
}
END_TEST

START_TEST(test_invalid_spec)
{
    const char *empty[] = { NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    ck_assert_int_eq(wf_proc_run(&spec, &res), WF_EINVAL);
    ck_assert_str_eq(res.out.data, "");
    ck_assert_str_eq(res.err.data, "");
    ck_assert_int_eq(res.exit_code, -1);
    wf_proc_result_release(&res);
    ck_assert_int_eq(run(&spec, empty, &res), WF_EINVAL);
    wf_proc_result_release(&res);
    wf_proc_result_release(NULL);
}
END_TEST

/* ---- timeout, grace, no orphans ---------------------------------------------------- */

static pid_t first_pid(const char *out)
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

static int run_until_ready(wf_proc_spec *spec, const char *const *argv, wf_proc_result *res)
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

START_TEST(test_timeout_kills_group)
{
    const char *argv[] = { "/bin/sh", "-c", "sleep 100 & echo $!; sleep 100", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    pid_t grandchild;

    spec.timeout_ms = 200;
    spec.kill_grace_ms = 10000;
    ck_assert_int_eq(run_until_ready(&spec, argv, &res), WF_ETIMEOUT);
    ck_assert(res.timed_out);
    ck_assert(!res.cancelled);
    ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
    ck_assert_int_eq(res.term_signal, SIGTERM);
    ck_assert_int_ge(res.end_ms - res.start_ms, spec.timeout_ms);
    /* Ended by the SIGTERM, not by a SIGKILL after the grace. */
    ck_assert_int_lt(res.end_ms - res.start_ms, spec.timeout_ms + spec.kill_grace_ms);
    grandchild = first_pid(res.out.data);
    ck_assert(wait_dead(grandchild, 10000));
    ck_assert(wait_dead(res.pid, 10000));
    ck_assert(wait_group_dead(res.pid, 10000));
    wf_proc_result_release(&res);
}
END_TEST

/* A child that exits normally takes its background processes with it, and we do not wait
 * for them to close the pipes (which would take the whole grace). */
START_TEST(test_no_orphans_after_exit)
{
    const char *argv[] = { "/bin/sh", "-c", "sleep 100 & echo $!", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    pid_t grandchild;
    int64_t t0 = wf_now_ms();

    spec.timeout_ms = 50000;
    spec.kill_grace_ms = 30000;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert(!res.timed_out);
    ck_assert_int_lt(wf_now_ms() - t0, spec.kill_grace_ms / 2);
    grandchild = first_pid(res.out.data);
    ck_assert(wait_dead(grandchild, 10000));
    ck_assert(wait_group_dead(res.pid, 10000));
    wf_proc_result_release(&res);
}
END_TEST

START_TEST(test_sigterm_ignored_gets_sigkill)
{
    const char *argv[] = { "/bin/sh", "-c", "trap '' TERM; echo ready; sleep 100", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.timeout_ms = 300;
    spec.kill_grace_ms = 200;
    ck_assert_int_eq(run_until_ready(&spec, argv, &res), WF_ETIMEOUT);
    ck_assert(res.timed_out);
    ck_assert_str_eq(res.out.data, "ready\n");
    ck_assert_int_eq(res.exit_code, 137);
    ck_assert_int_eq(res.term_signal, SIGKILL);
    ck_assert_int_ge(res.end_ms - res.start_ms, spec.timeout_ms + spec.kill_grace_ms);
    ck_assert_int_lt(res.end_ms - res.start_ms, spec.timeout_ms + spec.kill_grace_ms + 2500);
    wf_proc_result_release(&res);
}
END_TEST

/* SIGTERM comes first: a child that handles it ends on its own terms, long before the
 * grace. It says "ready" once its trap is set: a SIGTERM before that would kill the shell. */
START_TEST(test_sigterm_handled)
{
    const char *argv[] = { "/bin/sh", "-c", "trap 'exit 7' TERM; echo ready; sleep 100 & wait",
                           NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.timeout_ms = 200;
    spec.kill_grace_ms = 10000;
    ck_assert_int_eq(run_until_ready(&spec, argv, &res), WF_ETIMEOUT);
    ck_assert(res.timed_out);
    ck_assert_str_eq(res.out.data, "ready\n");
    ck_assert_int_eq(res.exit_code, 7);
    ck_assert_int_eq(res.term_signal, 0);
    ck_assert_int_lt(res.end_ms - res.start_ms, spec.timeout_ms + spec.kill_grace_ms);
    wf_proc_result_release(&res);
}
END_TEST

/* A process that left the group (setsid) and keeps stdout open is out of reach; the run must
 * still end, after the grace. The shell waits until the escapee has left (it writes its pid
 * only after setsid), or the group kill could catch it first. */
START_TEST(test_escaped_grandchild_bounded)
{
    const char *argv[] = { "/bin/sh", "-c",
                           "setsid sh -c 'echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 100' &"
                           " while [ ! -e pid ]; do sleep 0.01; done; cat pid",
                           NULL };
    char *dir = make_tmpdir();
    char *pidfile = wf_xasprintf("%s/pid", dir);
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    pid_t escaped;
    int64_t t0;

    spec.workdir = dir;
    spec.timeout_ms = 50000;
    spec.kill_grace_ms = 200;
    ck_assert_int_eq(run(&spec, argv, &res), WF_OK);
    t0 = res.end_ms; /* the child's end: from here only the grace */
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_int_ge(wf_now_ms() - t0, 150);
    /* Not the escapee's 100 s. */
    ck_assert_int_lt(wf_now_ms() - t0, 10000);
    escaped = first_pid(res.out.data);
    ck_assert(!pid_dead(escaped));
    kill(escaped, SIGKILL);
    ck_assert(wait_dead(escaped, 2000));
    wf_proc_result_release(&res);

    unlink(pidfile);
    rmdir(dir);
    free(pidfile);
    free(dir);
}
END_TEST

/* ---- cancel ------------------------------------------------------------------------ */

/* True once path exists, polled every 10 ms for at most ms. */
static bool wait_file(const char *path, long ms)
{
    for (long waited = 0; waited < ms; waited += 10) {
        if (access(path, F_OK) == 0)
            return true;
        sleep_ms(10);
    }
    return access(path, F_OK) == 0;
}

typedef struct canceller {
    const char *ready; /* the file the child writes once it is worth cancelling */
    int fd;            /* written to cancel */
    bool saw_ready;
    int64_t at_ms; /* when it cancelled */
} canceller;

/* Cancels the run once the child is ready (or after a minute, to end the test). */
static void *cancel_when_ready(void *arg)
{
    canceller *c = arg;

    c->saw_ready = wait_file(c->ready, 60000);
    c->at_ms = wf_now_ms();
    ck_assert_int_eq(write(c->fd, "x", 1), 1);
    return NULL;
}

/* The cancel comes once the grandchild's pid is in the file "kid" (written whole, then
 * renamed), however long the shell takes to get there. */
START_TEST(test_cancel_mid_run)
{
    const char *argv[] = { "/bin/sh", "-c",
                           "sleep 100 & echo $! > kid.tmp; mv kid.tmp kid; sleep 100", NULL };
    char *dir = make_tmpdir();
    char *kid = wf_xasprintf("%s/kid", dir);
    canceller c = { .ready = kid };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    pthread_t th;
    int fds[2];

    ck_assert_int_eq(pipe(fds), 0);
    c.fd = fds[1];
    spec.workdir = dir;
    spec.cancel_fd = fds[0];
    spec.timeout_ms = 120000;
    spec.kill_grace_ms = 10000;
    ck_assert_int_eq(pthread_create(&th, NULL, cancel_when_ready, &c), 0);
    ck_assert_int_eq(run(&spec, argv, &res), WF_ECANCELLED);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_msg(c.saw_ready, "the child never wrote its grandchild's pid");
    ck_assert(res.cancelled);
    ck_assert(!res.timed_out);
    ck_assert_int_eq(res.exit_code, 128 + SIGTERM);
    ck_assert_int_eq(res.term_signal, SIGTERM);
    /* Ended by the SIGTERM, not by a SIGKILL after the grace. */
    ck_assert_int_lt(res.end_ms - c.at_ms, spec.kill_grace_ms);
    ck_assert(wait_dead(read_pid_file(dir, "kid"), 10000));
    ck_assert(wait_group_dead(res.pid, 10000));
    wf_proc_result_release(&res);

    /* Already readable: nothing is started. The fd was only polled, not read. */
    ck_assert_int_eq(run(&spec, argv, &res), WF_ECANCELLED);
    ck_assert(res.cancelled);
    ck_assert_int_eq(res.pid, -1);
    ck_assert_int_eq(res.exit_code, -1);
    wf_proc_result_release(&res);

    close(fds[0]);
    close(fds[1]);
    /* A closed descriptor is a caller bug, reported before anything runs. */
    ck_assert_int_eq(run(&spec, argv, &res), WF_EINVAL);
    ck_assert_int_eq(res.pid, -1);
    wf_proc_result_release(&res);
    free(kid);
    remove_dir(dir);
}
END_TEST

/* ---- orphans (wf_proc_reap_orphans) ----------------------------------------------- */

/* Gone for good: not even a zombie. A reaped orphan is gone at once; one left to init would
 * still be running, or a zombie until init reaps it. */
static bool pid_gone(pid_t pid)
{
    return kill(pid, 0) != 0 && errno == ESRCH;
}

/* Runs `sh -c script` in dir with reaping on (the caller turned it on). */
static int run_in(const char *dir, const char *script, wf_proc_result *res)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;

    spec.workdir = dir;
    spec.timeout_ms = 20000;
    spec.kill_grace_ms = 10000;
    return run(&spec, argv, res);
}

/* What a task leaves behind outside its group is killed and reaped when it ends, however it
 * left: setsid (its own session), setsid with a child of its own in that session, a double
 * fork (the parent gone before the task ends). And the engine does not wait out the grace
 * for the escapee's hold on stdout. */
static const char *const leftover_scripts[] = {
    "setsid sh -c 'echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 100' &"
    " while [ ! -e pid ]; do sleep 0.01; done",
    "setsid sh -c 'sleep 100 & echo $! > kid; echo $$ > pid.tmp; mv pid.tmp pid; wait' &"
    " while [ ! -e pid ]; do sleep 0.01; done",
    "(setsid sh -c 'echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 100' &);"
    " while [ ! -e pid ]; do sleep 0.01; done",
};

START_TEST(test_orphans_killed_at_end)
{
    char *dir = make_tmpdir();
    char *kid_path = wf_xasprintf("%s/kid", dir);
    wf_proc_result res;
    pid_t escaped, kid = 0;

    ck_assert_int_eq(wf_proc_reap_orphans(true), 0);
    ck_assert(wf_proc_reaping_orphans());
    ck_assert_int_eq(run_in(dir, leftover_scripts[_i], &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    escaped = read_pid_file(dir, "pid");
    if (access(kid_path, F_OK) == 0)
        kid = read_pid_file(dir, "kid");
    ck_assert_msg(pid_gone(escaped), "pid %ld survived its task", (long)escaped);
    if (kid != 0)
        ck_assert_msg(pid_gone(kid), "pid %ld survived its task", (long)kid);
    wf_proc_result_release(&res);
    ck_assert_int_eq(wf_proc_reap_orphans(false), 0);
    free(kid_path);
    remove_dir(dir);
}
END_TEST

/* Cancelled or timed out: the same. */
START_TEST(test_orphans_killed_on_timeout)
{
    const char *argv[] = { "/bin/sh", "-c",
                           "rm -f pid; setsid sh -c 'echo $$ > pid.tmp; mv pid.tmp pid;"
                           " exec sleep 100' & while [ ! -e pid ]; do sleep 0.01; done;"
                           " echo ready; sleep 100",
                           NULL };
    char *dir = make_tmpdir();
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    ck_assert_int_eq(wf_proc_reap_orphans(true), 0);
    spec.workdir = dir;
    spec.timeout_ms = 1000;
    spec.kill_grace_ms = 10000;
    ck_assert_int_eq(run_until_ready(&spec, argv, &res), WF_ETIMEOUT);
    ck_assert_str_eq(res.out.data, "ready\n");
    ck_assert(pid_gone(read_pid_file(dir, "pid")));
    wf_proc_result_release(&res);
    remove_dir(dir);
}
END_TEST

typedef struct daemon_unit {
    const char *dir;
    wf_proc_result res;
    int rc;
} daemon_unit;

/* A task that starts a daemon (double fork), waits until the test says "go", then checks
 * that its daemon still runs. */
static void *run_daemon_unit(void *arg)
{
    daemon_unit *u = arg;

    u->rc = run_in(u->dir,
                   "(setsid sh -c 'echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 100' &);"
                   " while [ ! -e go ]; do sleep 0.01; done;"
                   " kill -0 $(cat pid) && echo alive",
                   &u->res);
    return NULL;
}

/* What a task started stays below it while it lives: another task that ends meanwhile (here
 * on the main thread, the one that adopts leftovers) kills only its own leftovers. */
START_TEST(test_orphans_of_live_task_spared)
{
    char *dir = make_tmpdir();
    char *pid_path = wf_xasprintf("%s/pid", dir);
    daemon_unit u = { .dir = dir };
    wf_proc_result res;
    pthread_t th;
    pid_t daemon;

    ck_assert_int_eq(wf_proc_reap_orphans(true), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, run_daemon_unit, &u), 0);
    while (access(pid_path, F_OK) != 0)
        sleep_ms(10);
    daemon = read_pid_file(dir, "pid");
    /* A task of its own, with a leftover of its own, ends on the main thread. */
    ck_assert_int_eq(run_in(dir,
                            "setsid sh -c 'echo $$ > pid2.tmp; mv pid2.tmp pid2;"
                            " exec sleep 100' & while [ ! -e pid2 ]; do sleep 0.01; done",
                            &res),
                     WF_OK);
    ck_assert(pid_gone(read_pid_file(dir, "pid2")));
    ck_assert(!pid_dead(daemon));
    wf_proc_result_release(&res);
    free(write_file(dir, "go", "", 0644));
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(u.rc, WF_OK);
    ck_assert_str_eq(u.res.out.data, "alive\n");
    ck_assert(pid_gone(daemon));
    wf_proc_result_release(&u.res);
    free(pid_path);
    remove_dir(dir);
}
END_TEST

typedef struct other_task {
    const char *dir;
    int exit_code;
} other_task;

/* Waits until the main thread's task runs, runs a task of its own to its end (which reaps
 * leftovers), then tells the main thread's task to finish. */
static void *run_other_task(void *arg)
{
    other_task *o = arg;
    char *ready = wf_xasprintf("%s/ready", o->dir);
    const char *argv[] = { "true", NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    while (access(ready, F_OK) != 0)
        sleep_ms(10);
    spec.argv = argv;
    wf_proc_run(&spec, &res);
    o->exit_code = res.exit_code;
    wf_proc_result_release(&res);
    free(write_file(o->dir, "go", "", 0644));
    free(ready);
    return NULL;
}

/* A task started on the main thread is a child of the main thread, like the leftovers:
 * another thread's task that ends must not take it for one. */
START_TEST(test_main_thread_task_spared)
{
    char *dir = make_tmpdir();
    other_task o = { .dir = dir, .exit_code = -1 };
    wf_proc_result res;
    pthread_t th;

    ck_assert_int_eq(wf_proc_reap_orphans(true), 0);
    ck_assert_int_eq(pthread_create(&th, NULL, run_other_task, &o), 0);
    ck_assert_int_eq(
        run_in(dir, "touch ready; while [ ! -e go ]; do sleep 0.01; done; echo ok", &res), WF_OK);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(o.exit_code, 0);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "ok\n");
    wf_proc_result_release(&res);
    remove_dir(dir);
}
END_TEST

/* ---- the engine killed ----------------------------------------------------------- */

static void *run_sleeper(void *arg)
{
    const char *argv[] = { "/bin/sh", "-c", "echo $$ > pid.tmp; mv pid.tmp pid; exec sleep 100",
                           NULL };
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;

    spec.workdir = arg;
    spec.argv = argv;
    wf_proc_run(&spec, &res);
    wf_proc_result_release(&res);
    return NULL;
}

static void *do_nothing(void *arg)
{
    return arg;
}

/* The engine's process killed with SIGKILL takes its children along (PR_SET_PDEATHSIG), and
 * only then: the death signal follows the thread that started the child, so another thread
 * that ends must not fire it. */
START_TEST(test_pdeathsig)
{
    char *dir = make_tmpdir();
    char *pid_path = wf_xasprintf("%s/pid", dir);
    char *ended = wf_xasprintf("%s/ended", dir);
    pid_t engine, child;
    int status;

    engine = fork();
    ck_assert_int_ge(engine, 0);
    if (engine == 0) {
        pthread_t worker, other;

        if (pthread_create(&worker, NULL, run_sleeper, dir) != 0)
            _exit(1);
        while (access(pid_path, F_OK) != 0)
            sleep_ms(10);
        if (pthread_create(&other, NULL, do_nothing, NULL) != 0 || pthread_join(other, NULL) != 0)
            _exit(1);
        close(open(ended, O_WRONLY | O_CREAT, 0644));
        for (;;)
            pause();
    }
    while (access(ended, F_OK) != 0)
        sleep_ms(10);
    child = read_pid_file(dir, "pid");
    ck_assert_msg(!pid_dead(child), "the child died when another thread ended");
    ck_assert_int_eq(kill(engine, SIGKILL), 0);
    ck_assert_int_eq(waitpid(engine, &status, 0), engine);
    ck_assert_msg(wait_dead(child, 10000), "pid %ld outlived the engine", (long)child);
    free(pid_path);
    free(ended);
    remove_dir(dir);
}
END_TEST

/* ---- threads ----------------------------------------------------------------------- */

#define THREADS         4
#define RUNS_PER_THREAD 50

static void *run_many(void *arg)
{
    long t = (long)(intptr_t)arg;
    long failures = 0;

    for (int i = 0; i < RUNS_PER_THREAD; i++) {
        char word[32], expect[40];
        const char *argv[] = { "echo", word, NULL };
        wf_proc_spec spec = WF_PROC_SPEC_INIT;
        wf_proc_result res;

        snprintf(word, sizeof(word), "t%ld-%d", t, i);
        snprintf(expect, sizeof(expect), "%s\n", word);
        spec.argv = argv;
        spec.timeout_ms = 10000;
        if (wf_proc_run(&spec, &res) != WF_OK || res.exit_code != 0 ||
            strcmp(res.out.data, expect) != 0 || res.err.len != 0)
            failures++;
        wf_proc_result_release(&res);
    }
    return (void *)(intptr_t)failures;
}

START_TEST(test_concurrent_runs)
{
    pthread_t th[THREADS];

    for (long t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&th[t], NULL, run_many, (void *)(intptr_t)t), 0);
    for (int t = 0; t < THREADS; t++) {
        void *failures = NULL;

        ck_assert_int_eq(pthread_join(th[t], &failures), 0);
        ck_assert_int_eq((long)(intptr_t)failures, 0);
    }
}
END_TEST

static Suite *proc_suite(void)
{
    Suite *s = suite_create("proc");
    TCase *tc;

    tc = tcase_create("status");
    tcase_add_loop_test(tc, test_exit_codes, 0, (int)WF_ARRAY_LEN(exit_cases));
    tcase_add_test(tc, test_result_init_release_closes_nothing);
    tcase_add_test(tc, test_signal_death);
    tcase_add_test(tc, test_signals_reset_in_child);
    tcase_add_test(tc, test_no_descriptor_leaks);
    suite_add_tcase(s, tc);

    tc = tcase_create("output");
    tcase_add_test(tc, test_streams_separate);
    tcase_add_test(tc, test_large_both_streams);
    tcase_add_test(tc, test_cap_truncates);
    tcase_add_test(tc, test_stdin_is_dev_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("environment");
    tcase_add_test(tc, test_env_passed);
    tcase_add_test(tc, test_path_of_child_env);
    tcase_add_test(tc, test_workdir);
    tcase_add_test(tc, test_missing_workdir);
    suite_add_tcase(s, tc);

    tc = tcase_create("cannot_run");
    tcase_add_test(tc, test_command_not_found);
    tcase_add_test(tc, test_not_executable);
    tcase_add_test(tc, test_invalid_spec);
    suite_add_tcase(s, tc);

    tc = tcase_create("termination");
    tcase_add_test(tc, test_timeout_kills_group);
    tcase_add_test(tc, test_no_orphans_after_exit);
    tcase_add_test(tc, test_sigterm_ignored_gets_sigkill);
    tcase_add_test(tc, test_sigterm_handled);
    tcase_add_test(tc, test_escaped_grandchild_bounded);
    suite_add_tcase(s, tc);

    tc = tcase_create("cancel");
    tcase_add_test(tc, test_cancel_mid_run);
    suite_add_tcase(s, tc);

    tc = tcase_create("orphans");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_orphans_killed_at_end, 0, (int)WF_ARRAY_LEN(leftover_scripts));
    tcase_add_test(tc, test_orphans_killed_on_timeout);
    tcase_add_test(tc, test_orphans_of_live_task_spared);
    tcase_add_test(tc, test_main_thread_task_spared);
    tcase_add_test(tc, test_pdeathsig);
    suite_add_tcase(s, tc);

    tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_concurrent_runs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proc_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
