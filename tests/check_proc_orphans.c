/* Tests for engine/proc.c: what a child leaves behind (wf_proc_reap_orphans) and the engine
 * killed (PR_SET_PDEATHSIG). The other wf_proc tests are in check_proc.c; the helpers are in
 * proc_test.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "proc_test.h"

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

static Suite *proc_orphans_suite(void)
{
    Suite *s = suite_create("proc_orphans");
    TCase *tc;

    tc = tcase_create("orphans");
    tcase_set_timeout(tc, 30);
    tcase_add_loop_test(tc, test_orphans_killed_at_end, 0, (int)WF_ARRAY_LEN(leftover_scripts));
    tcase_add_test(tc, test_orphans_killed_on_timeout);
    tcase_add_test(tc, test_orphans_of_live_task_spared);
    tcase_add_test(tc, test_main_thread_task_spared);
    tcase_add_test(tc, test_pdeathsig);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(proc_orphans_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
