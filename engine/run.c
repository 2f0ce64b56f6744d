/*
 * run.c: a run's life (wfengine.h: wf_run_start, wf_run_wait, wf_run_cancel, wf_run_free):
 * set-up (setup.c), the choice of an executor per task, starting the executors and the
 * scheduler thread (dispatch.c), and the end.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "executor_local.h"
#include "executor_slurm.h"
#include "run_internal.h"

static long cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n > 0 ? n : 1;
}

static void add_executor(wf_run *r, wf_executor *ex)
{
    r->executors = wf_xrealloc(r->executors, (r->n_executors + 1) * sizeof(*r->executors));
    r->executors[r->n_executors++] = ex;
}

/* The executor of every task: `over` (tests) for all, else Slurm for a process task that
 * asks for it (executor: slurm, or --slurm), the local pool for the rest. Only the executors
 * some task uses are made. */
static void choose_executors(wf_run *r, wf_executor *over)
{
    wf_executor *local = NULL, *slurm = NULL;

    if (over != NULL)
        add_executor(r, over);
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task *task = &r->wf->tasks[t];
        wf_executor **ex;

        if (over != NULL) {
            r->tasks[t].exec = over;
            continue;
        }
        /* A `uses:` unit runs its workflow in this process (its own tasks choose theirs). */
        if (task->action == NULL && wf_task_extra_of(task)->called == NULL && !r->opts.local_all &&
            (task->executor == WF_EXECUTOR_SLURM || r->opts.slurm_all))
            ex = &slurm;
        else
            ex = &local;
        if (*ex == NULL) {
            *ex = ex == &slurm
                      ? wf_executor_slurm_new()
                      : wf_executor_local_new((size_t)r->concurrency, r->opts.on_event != NULL);
            add_executor(r, *ex);
        }
        r->tasks[t].exec = *ex;
    }
}

/* Starts the executors; the first failure is the run's error. */
static int start_executors(wf_run *r, wf_errlist *errs)
{
    for (size_t i = 0; i < r->n_executors; i++) {
        wf_executor *ex = r->executors[i];
        wf_error err;
        int rc;

        wf_error_init(&err);
        rc = ex->ops->start(ex, r, &err);
        if (rc != WF_OK) {
            wf_error_move(wf_errlist_add(errs), &err);
            return rc;
        }
        wf_error_release(&err);
    }
    return WF_OK;
}

void wf_run_free(wf_run *r)
{
    if (r == NULL)
        return;
    /* Executors the scheduler did not stop (a run that failed to start) go first: their
     * threads may read what is freed below. */
    for (size_t i = 0; i < r->n_executors; i++)
        r->executors[i]->ops->stop(r->executors[i]);
    wf__unit_env_release(r);
    for (size_t t = 0; r->tasks != NULL && t < r->wf->n_tasks; t++) {
        wf_task_state *ts = &r->tasks[t];

        json_object_put(ts->values);
        wf__values_log_free(ts->values_log);
        wf__detail_free(ts);
        wf__labels_free(ts);
        free(ts->units);
        free(ts->retries.v);
        free(ts->fed.v);
        free(ts->error);
        free(ts->plain_out);
        free(ts->plain_err);
        wf__items_free(ts->items);
        wf_ctx_unref(ts->ctx);
        wf_result_unref(ts->result);
    }
    free(r->tasks);
    for (size_t i = 0; r->envp != NULL && i < r->n_envp; i++)
        free(r->envp[i]);
    free(r->envp);
    json_object_put(r->env_json);
    json_object_put(r->outputs);
    wf__reuse_free(r);
    free(r->executors);
    wf_ctx_unref(r->root);
    /* After everything that holds references: their files go with the directory. */
    wf__spill_close(r);
    free(atomic_load(&r->disk_error));
    wf__done_queue_release(&r->done);
    free(r->ready.v);
    for (size_t i = 0; i < r->n_ready_deep; i++)
        free(r->ready_deep[i].v);
    free(r->ready_deep);
    free(r->timers);
    free(r->settle);
    for (size_t i = 0; i < r->n_secrets; i++)
        free(r->secrets[i]);
    free(r->secrets);
    free(r->prefix);
    free(r);
}

static int run_start(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts,
                     wf_executor *over, wf_run *caller, char *prefix, size_t position, wf_run **out,
                     wf_errlist *errs)
{
    wf_run *r = wf_xcalloc(1, sizeof(*r));
    json_object *inputs = NULL;
    bool bad_inputs, bad_actions;
    int rc;

    *out = NULL;
    r->engine = e;
    r->wf = wf;
    r->caller = caller;
    r->prefix = prefix;
    r->position = position;
    if (opts != NULL)
        r->opts = *opts;
    wf__done_queue_init(&r->done);
    if (r->opts.run_id != NULL)
        snprintf(r->run_id, sizeof(r->run_id), "%s", r->opts.run_id);
    else
        wf__make_run_id(r->run_id, sizeof(r->run_id));
    r->opts.run_id = NULL;

    /* Both checks run so that every problem is reported at once. */
    bad_inputs = wf_workflow_bind_inputs(wf, r->opts.inputs, r->opts.inputs_from_strings, &inputs,
                                         errs) != WF_OK;
    bad_actions = wf__check_actions(e, wf, errs) != WF_OK;
    if (bad_inputs || bad_actions) {
        json_object_put(inputs);
        if (over != NULL)
            over->ops->stop(over);
        wf_run_free(r);
        return WF_EINVAL;
    }
    r->opts.inputs = NULL;
    wf__collect_secrets(r, inputs);
    /* A called workflow masks what its caller masks (a secret passed on through `with:`). */
    for (size_t i = 0; caller != NULL && i < caller->n_secrets; i++) {
        r->secrets = wf_xrealloc(r->secrets, (r->n_secrets + 1) * sizeof(*r->secrets));
        r->secrets[r->n_secrets++] = wf_xstrdup(caller->secrets[i]);
    }
    /* Before the environment: a task's env-file entries are kept in its state. */
    r->tasks = wf_xcalloc(wf->n_tasks ? wf->n_tasks : 1, sizeof(*r->tasks));
    if (wf__build_env(r, inputs, errs) != WF_OK || wf__build_root(r, inputs, errs) != WF_OK) {
        if (r->root == NULL)
            json_object_put(inputs);
        if (over != NULL)
            over->ops->stop(over);
        wf_run_free(r);
        return WF_EINVAL;
    }
    r->concurrency = r->opts.concurrency > 0 ? r->opts.concurrency
                     : wf->concurrency > 0   ? wf->concurrency
                                             : (int)cpu_count();
    r->fail_fast = wf->fail_fast || r->opts.fail_fast;
    r->settle = wf_xmalloc((wf->n_tasks ? wf->n_tasks : 1) * sizeof(*r->settle));
    for (size_t t = 0; t < wf->n_tasks; t++) {
        r->tasks[t].pending_deps = (uint32_t)wf->tasks[t].n_deps;
        r->tasks[t].planned = wf__planned_units(&wf->tasks[t]);
        r->units_total += r->tasks[t].planned;
    }
    choose_executors(r, over);
    wf__unit_env_prepare(r);
    r->store = r->opts.store;
    if (r->opts.resume_run != NULL) {
        snprintf(r->resume_id, sizeof(r->resume_id), "%s", r->opts.resume_run);
        r->opts.resume_run = r->resume_id;
    }
    /* A spill directory that cannot be made is a disk that cannot be written: exit 3, as a
     * store that cannot be. */
    if (wf__spill_open(r, errs) != WF_OK) {
        wf_run_free(r);
        return WF_ESTORE;
    }
    if (r->store != NULL && wf__load_reuse(r, errs) != WF_OK) {
        wf_run_free(r);
        return WF_ESTORE;
    }
    if (wf__apply_targets(r, errs) != WF_OK) {
        wf_run_free(r);
        return WF_EINVAL;
    }
    rc = start_executors(r, errs);
    if (rc != WF_OK) {
        wf_run_free(r);
        return rc;
    }
    r->start_ms = wf_now_ms();
    r->start_wall_ms = wf_wall_ms();
    if (r->store != NULL && r->caller == NULL)
        wf__record_run_start(r);
    if (pthread_create(&r->scheduler, NULL, wf__scheduler_main, r) != 0) {
        wf_error_set(wf_errlist_add(errs), WF_EIO, NULL, 0, 0, "cannot start threads");
        wf_run_free(r);
        return WF_EIO;
    }
    *out = r;
    return WF_OK;
}

int wf_run_start(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts, wf_run **out,
                 wf_errlist *errs)
{
    return run_start(e, wf, opts, NULL, NULL, NULL, 0, out, errs);
}

int wf__run_start_called(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts,
                         wf_run *caller, char *prefix_take, size_t position, wf_run **out,
                         wf_errlist *errs)
{
    return run_start(e, wf, opts, NULL, caller, prefix_take, position, out, errs);
}

int wf__run_start_on(wf_engine *e, const wf_workflow *wf, const wf_run_options *opts,
                     wf_executor *ex, wf_run **out, wf_errlist *errs)
{
    return run_start(e, wf, opts, ex, NULL, NULL, 0, out, errs);
}

wf_status wf_run_wait(wf_run *r)
{
    pthread_join(r->scheduler, NULL);
    return r->status;
}

void wf__run_disk_failed(wf_run *r, char *message_take)
{
    char *none = NULL;

    if (message_take != NULL &&
        !atomic_compare_exchange_strong(&r->disk_error, &none, message_take))
        free(message_take);
}

bool wf_run_store_failed(const wf_run *r, wf_error *err)
{
    char *disk = atomic_load(&((wf_run *)r)->disk_error);

    if (!r->store_failed && disk == NULL)
        return false;
    if (err != NULL && disk != NULL)
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s", disk);
    else if (err != NULL)
        wf_store_flush(r->store, err);
    return true;
}

void wf_run_cancel(wf_run *r)
{
    atomic_store(&r->cancel_requested, true);
    wf__done_queue_wake(&r->done);
}

const char *wf_run_id(const wf_run *r)
{
    return r->run_id;
}
