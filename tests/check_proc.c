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

#include "proc_test.h"

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

/* Only the signals whose disposition is not the default are reset in the child (read from its
 * /proc/self/status): an ignored signal low and one high in the mask, and one caught, must all
 * reach the task at their default. */
static void on_usr1(int sig)
{
    (void)sig;
}

START_TEST(test_signals_reset_only_what_differs)
{
    struct sigaction ign, handle, old_hup, old_rt, old_usr1;
    wf_proc_result res;
    int rt = SIGRTMAX - 1;

    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    memset(&handle, 0, sizeof(handle));
    handle.sa_handler = on_usr1;
    sigemptyset(&handle.sa_mask);
    ck_assert_int_eq(sigaction(SIGHUP, &ign, &old_hup), 0);
    ck_assert_int_eq(sigaction(rt, &ign, &old_rt), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &handle, &old_usr1), 0);

    /* The shell's own dispositions: nothing ignored, nothing caught but what it sets. */
    ck_assert_int_eq(run_sh("grep '^SigIgn:' /proc/$$/status", 5000, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 0);
    ck_assert_str_eq(res.out.data, "SigIgn:\t0000000000000000\n");
    wf_proc_result_release(&res);
    ck_assert_int_eq(run_sh("kill -USR1 $$; echo survived", 5000, &res), WF_OK);
    ck_assert_int_eq(res.exit_code, 128 + SIGUSR1);
    wf_proc_result_release(&res);

    ck_assert_int_eq(sigaction(SIGHUP, &old_hup, NULL), 0);
    ck_assert_int_eq(sigaction(rt, &old_rt, NULL), 0);
    ck_assert_int_eq(sigaction(SIGUSR1, &old_usr1, NULL), 0);
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
    tcase_add_test(tc, test_signals_reset_only_what_differs);
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
