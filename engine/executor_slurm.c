/*
 * executor_slurm.c: the Slurm executor (executor_slurm.h) on top of the Slurm client
 * (wf_slurm.h). A submission renders each unit as a /bin/sh script with its environment and
 * workdir (unit.c), evaluates its `slurm:` options, and sends the units as job arrays: one
 * per distinct set of rendered options (one in the usual case). What Slurm reports comes
 * back on the client's poller thread and is turned into completions there.
 */
#include "executor_slurm.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_slurm.h"
#include "wf_template.h"

#include "run_internal.h"

/* What a submitted unit of a `cache:` task is recorded under when it succeeds: the key
 * computed before it was submitted (as a local unit's, before it runs), its workdir (for
 * cache.generates) and the warnings of the lookup, for its completion. */
typedef struct slurm_cache_slot {
    char key[WF_SHA256_HEX_LEN + 1]; /* "": nothing to record */
    char *workdir, *warning;
} slurm_cache_slot;

typedef struct slurm_executor {
    wf_executor base;
    wf_run *run;
    wf_done_queue *done;
    wf_slurm *slurm;
    /* Held while a submission reports its start notices and while the poller reports a
     * completion, so that an element's start always reaches the scheduler before its end;
     * and around cache_slots, written by submit and read by the poller. */
    pthread_mutex_t lock;
    slurm_cache_slot **cache_slots; /* per task (NULL until one is cached), per unit */
    size_t *n_cache_slots;
} slurm_executor;

/* Adds to o the entries of defaults whose key o lacks (`memory` counts as `mem`). */
static void fill_missing(json_object *o, const json_object *defaults)
{
    json_object_object_foreach((json_object *)defaults, key, val)
    {
        const char *name = strcmp(key, "memory") == 0 ? "mem" : key;

        if (!json_object_object_get_ex(o, name, NULL))
            json_object_object_add(o, name, json_object_get(val));
    }
}

/* The `slurm:` options of a unit, rendered and merged key by key: the task's own, its
 * `cpus:` as --cpus-per-task, the workflow's top-level `slurm:`, the site configuration's;
 * `memory` renamed `mem`. Each value is checked as the loader checks constants. A new
 * object (compact JSON of it groups units into arrays), or NULL with err. */
static json_object *slurm_options(wf_run *r, const wf_job *job, wf_error *err)
{
    const wf_task *task = &r->wf->tasks[job->task];
    const wf_task_state *ts = &r->tasks[job->task];
    json_object *o = NULL, *v = NULL, *top = NULL;
    wf_ctx *ctx;
    int rc = WF_OK;

    ctx = ts->items != NULL
              ? wf_ctx_with_item(ts->ctx, json_object_array_get_idx(ts->items, job->unit),
                                 (int64_t)job->unit)
              : wf_ctx_ref(ts->ctx);
    if (task->slurm != NULL)
        rc = wf_vnode_eval(task->slurm, ctx, &o, err);
    if (rc == WF_OK && r->wf->slurm != NULL)
        rc = wf_vnode_eval(r->wf->slurm, ctx, &top, err);
    wf_ctx_unref(ctx);
    if (rc != WF_OK) {
        json_object_put(o);
        return NULL;
    }
    if (o == NULL)
        o = json_object_new_object();
    if (json_object_object_get_ex(o, "memory", &v)) {
        json_object_object_add(o, "mem", json_object_get(v));
        json_object_object_del(o, "memory");
    }
    if (!json_object_object_get_ex(o, "cpus", NULL) && (task->cpus > 0 || task->cpus_tpl != NULL))
        json_object_object_add(o, "cpus", json_object_new_int(ts->cpus));
    if (top != NULL)
        fill_missing(o, top);
    json_object_put(top);
    if (r->opts.slurm_defaults != NULL)
        fill_missing(o, r->opts.slurm_defaults);
    json_object_object_foreach(o, key, val)
    {
        char *problem = wf_slurm_value_problem(key, val);

        if (problem != NULL) {
            wf_error_set(err, WF_EINVAL, NULL, 0, 0, "%s", problem);
            free(problem);
            json_object_put(o);
            return NULL;
        }
    }
    return o;
}

/* A text option of an options object (numbers as written), kept in buf; NULL when absent. */
static const char *opt_text(json_object *o, const char *key, wf_strbuf *buf)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return NULL;
    wf_tpl_text_form(buf, v);
    return wf_strbuf_str(buf);
}

/* Reads the wf_slurm_opts of an options object; strings stay borrowed from it and from
 * bufs[0..5]. */
static void slurm_opts_of(json_object *o, wf_slurm_opts *opts, wf_strbuf bufs[6],
                          const char ***extra)
{
    json_object *v = NULL;

    memset(opts, 0, sizeof(*opts));
    *extra = NULL;
    opts->partition = opt_text(o, "partition", &bufs[0]);
    opts->time = opt_text(o, "time", &bufs[1]);
    if (json_object_object_get_ex(o, "cpus", &v) && v != NULL)
        opts->cpus = json_object_get_int(v);
    opts->mem = opt_text(o, "mem", &bufs[2]);
    opts->account = opt_text(o, "account", &bufs[3]);
    opts->qos = opt_text(o, "qos", &bufs[4]);
    opts->gpus = opt_text(o, "gpus", &bufs[5]);
    if (json_object_object_get_ex(o, "constraint", &v) && v != NULL)
        opts->constraint = json_object_get_string(v);
    if (json_object_object_get_ex(o, "extra", &v) && json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);

        *extra = wf_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++)
            (*extra)[i] = json_object_get_string(json_object_array_get_idx(v, i));
        opts->extra = *extra;
    }
}

typedef struct slurm_batch {
    char *opts_text;
    json_object *opts;
    wf_slurm_element *elems;
    char **scripts, ***envps, **workdirs;
    size_t n, cap;
} slurm_batch;

/* A unit that ends before Slurm has it (its `when` was false, a template error, sbatch
 * refused it). */
static void report_now(slurm_executor *x, wf_completion *c)
{
    wf_done_queue_push(x->done, c, NULL, 0);
}

/* Adds one rendered unit to the batch of its options (made when it is the first). */
static void batch_add(slurm_batch **batches, size_t *n_batches, json_object *o, const wf_job *job,
                      char *script, char **envp, char *workdir)
{
    wf_strbuf text = WF_STRBUF_INIT;
    slurm_batch *b = NULL;

    wf_json_write(&text, o);
    for (size_t i = 0; i < *n_batches && b == NULL; i++) {
        if (strcmp((*batches)[i].opts_text, wf_strbuf_str(&text)) == 0)
            b = &(*batches)[i];
    }
    if (b == NULL) {
        *batches = wf_xrealloc(*batches, (*n_batches + 1) * sizeof(**batches));
        b = &(*batches)[(*n_batches)++];
        memset(b, 0, sizeof(*b));
        b->opts_text = wf_strbuf_detach(&text, NULL);
        b->opts = o;
    } else {
        json_object_put(o);
    }
    wf_strbuf_release(&text);
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 16;
        b->elems = wf_xrealloc(b->elems, b->cap * sizeof(*b->elems));
        b->scripts = wf_xrealloc(b->scripts, b->cap * sizeof(char *));
        b->envps = wf_xrealloc(b->envps, b->cap * sizeof(char **));
        b->workdirs = wf_xrealloc(b->workdirs, b->cap * sizeof(char *));
    }
    b->scripts[b->n] = script;
    b->envps[b->n] = envp;
    b->workdirs[b->n] = workdir;
    b->elems[b->n].unit = job->unit;
    b->elems[b->n].attempt = job->attempt;
    b->elems[b->n].script = script;
    b->elems[b->n].envp = (const char *const *)envp;
    b->elems[b->n].workdir = workdir;
    b->n++;
}

/* Sends one batch as a job array; every element either starts or fails with sbatch's
 * message. Frees the batch. */
static void batch_submit(slurm_executor *x, uint32_t t, slurm_batch *b)
{
    const wf_task *task = &x->run->wf->tasks[t];
    wf_slurm_opts opts;
    wf_strbuf bufs[6] = { WF_STRBUF_INIT, WF_STRBUF_INIT, WF_STRBUF_INIT,
                          WF_STRBUF_INIT, WF_STRBUF_INIT, WF_STRBUF_INIT };
    const char **extra = NULL;
    wf_error err;

    wf_error_init(&err);
    slurm_opts_of(b->opts, &opts, bufs, &extra);
    pthread_mutex_lock(&x->lock);
    if (wf_slurm_submit(x->slurm, t, task->name, b->elems, b->n, task->items_kind != WF_ITEMS_NONE,
                        x->run->tasks[t].concurrency, &opts, task->timeout_ms, &err) == WF_OK) {
        /* Slurm has the elements: for the engine they started (Slurm's own queue is not
         * followed; the recorded start is when the poller first saw one running). */
        for (size_t k = 0; k < b->n; k++) {
            wf_job job = { t, b->elems[k].unit, b->elems[k].attempt };

            wf_done_queue_push(x->done, NULL, &job, 0);
        }
    } else {
        /* sbatch refused: every element of this submission fails with its message. */
        for (size_t k = 0; k < b->n; k++) {
            wf_completion c;

            memset(&c, 0, sizeof(c));
            c.job.task = t;
            c.job.unit = b->elems[k].unit;
            c.job.attempt = b->elems[k].attempt;
            c.status = WF_STATUS_FAILED;
            c.exit_code = -1;
            c.start_ms = c.end_ms = wf_now_ms();
            c.error = wf_xasprintf("sbatch: %s", err.message ? err.message : "failed");
            report_now(x, &c);
        }
    }
    pthread_mutex_unlock(&x->lock);
    wf_error_release(&err);
    for (size_t k = 0; k < WF_ARRAY_LEN(bufs); k++)
        wf_strbuf_release(&bufs[k]);
    free(extra);
    for (size_t k = 0; k < b->n; k++) {
        free(b->scripts[k]);
        free(b->workdirs[k]);
        free(b->envps[k]);
    }
    free(b->elems);
    free(b->scripts);
    free(b->envps);
    free(b->workdirs);
    free(b->opts_text);
    json_object_put(b->opts);
}

/* Keeps what a cached unit's success is recorded under (takes over workdir's copy and the
 * lookup's warnings). */
static void cache_slot_set(slurm_executor *x, const wf_job *job, const char *key,
                           const char *workdir, char *warning)
{
    slurm_cache_slot *slot;
    size_t *n;

    pthread_mutex_lock(&x->lock);
    if (x->cache_slots == NULL) {
        x->cache_slots = wf_xcalloc(x->run->wf->n_tasks, sizeof(*x->cache_slots));
        x->n_cache_slots = wf_xcalloc(x->run->wf->n_tasks, sizeof(*x->n_cache_slots));
    }
    n = &x->n_cache_slots[job->task];
    if (job->unit >= *n) {
        size_t grown = job->unit + 1 > *n * 2 ? job->unit + 1 : *n * 2;

        x->cache_slots[job->task] =
            wf_xrealloc(x->cache_slots[job->task], grown * sizeof(slurm_cache_slot));
        memset(&x->cache_slots[job->task][*n], 0, (grown - *n) * sizeof(slurm_cache_slot));
        *n = grown;
    }
    slot = &x->cache_slots[job->task][job->unit];
    snprintf(slot->key, sizeof(slot->key), "%s", key);
    free(slot->workdir);
    free(slot->warning);
    slot->workdir = workdir != NULL ? wf_xstrdup(workdir) : NULL;
    slot->warning = warning;
    pthread_mutex_unlock(&x->lock);
}

/* Takes the slot of a unit that ended (key "" when it has none): the caller frees
 * *workdir and owns *warning. */
static void cache_slot_take(slurm_executor *x, uint32_t task, uint32_t unit,
                            char key[WF_SHA256_HEX_LEN + 1], char **workdir, char **warning)
{
    key[0] = '\0';
    *workdir = *warning = NULL;
    pthread_mutex_lock(&x->lock);
    if (x->cache_slots != NULL && unit < x->n_cache_slots[task]) {
        slurm_cache_slot *slot = &x->cache_slots[task][unit];

        memcpy(key, slot->key, sizeof(slot->key));
        *workdir = slot->workdir;
        *warning = slot->warning;
        slot->key[0] = '\0';
        slot->workdir = slot->warning = NULL;
    }
    pthread_mutex_unlock(&x->lock);
}

static void slurm_submit(wf_executor *ex, const wf_job *jobs, size_t n)
{
    slurm_executor *x = (slurm_executor *)ex;
    slurm_batch *batches = NULL;
    size_t n_batches = 0;

    for (size_t i = 0; i < n; i++) {
        wf_completion c;
        wf_error err;
        json_object *o;
        char *script, **envp, *workdir, key[WF_SHA256_HEX_LEN + 1];

        memset(&c, 0, sizeof(c));
        c.job = jobs[i];
        /* A cache hit ends here, as cached, and is never submitted. */
        if (!wf__unit_render_script(x->run, &jobs[i], &script, &envp, &workdir, key, &c)) {
            report_now(x, &c);
            continue;
        }
        wf_error_init(&err);
        o = slurm_options(x->run, &jobs[i], &err);
        if (o == NULL) {
            c.status = WF_STATUS_FAILED;
            c.error = wf_xasprintf("slurm: %s", err.message ? err.message : "bad options");
            wf_error_release(&err);
            free(script);
            free(workdir);
            free(envp);
            report_now(x, &c);
            continue;
        }
        wf_error_release(&err);
        if (key[0] != '\0' || c.warning != NULL)
            cache_slot_set(x, &jobs[i], key, workdir, c.warning);
        batch_add(&batches, &n_batches, o, &jobs[i], script, envp, workdir);
    }
    for (size_t i = 0; i < n_batches; i++)
        batch_submit(x, jobs[0].task, &batches[i]);
    free(batches);
}

/* The Slurm client's callback, on its poller thread: one element ended. */
static void slurm_done(wf_slurm_result *res, void *user)
{
    slurm_executor *x = user;
    wf_completion c;
    char key[WF_SHA256_HEX_LEN + 1], *workdir;

    memset(&c, 0, sizeof(c));
    cache_slot_take(x, res->task, res->unit, key, &workdir, &c.warning);
    c.job.task = res->task;
    c.job.unit = res->unit;
    c.job.attempt = res->attempt;
    c.status = res->status;
    c.exit_code = res->exit_code;
    c.timed_out = res->timed_out;
    c.out = res->out;
    c.err = res->err;
    c.error = res->error;
    c.start_ms = res->start_ms;
    c.end_ms = res->end_ms;
    res->out = res->err = res->error = NULL;
    {
        char where[80];

        snprintf(where, sizeof(where), "job %s", res->job_id);
        wf__unit_finish_remote(x->run, &c, res->out_truncated, res->result, res->result_truncated,
                               where, key, workdir);
    }
    free(workdir);
    pthread_mutex_lock(&x->lock);
    wf_done_queue_push(x->done, &c, NULL, 0);
    pthread_mutex_unlock(&x->lock);
}

/* Checks that Slurm answers and starts the client: a missing sbatch or a silent cluster is
 * an error before anything runs. Job files must be reachable from the nodes: an absolute
 * path (--slurm-dir, else under the store, else .wfengine-slurm/RUN in the current
 * directory). */
static int slurm_start(wf_executor *ex, wf_run *r, wf_error *err)
{
    slurm_executor *x = (slurm_executor *)ex;
    char *dir, cwd[4096];

    x->run = r;
    x->done = wf__run_done_queue(r);
    if (wf_slurm_check(err) != WF_OK)
        return WF_EEXEC;
    if (getcwd(cwd, sizeof(cwd)) == NULL)
        snprintf(cwd, sizeof(cwd), ".");
    if (r->opts.slurm_dir != NULL)
        dir = r->opts.slurm_dir[0] == '/' ? wf_xstrdup(r->opts.slurm_dir)
                                          : wf_xasprintf("%s/%s", cwd, r->opts.slurm_dir);
    else if (r->store != NULL && wf_store_dir(r->store)[0] == '/')
        dir = wf_xasprintf("%s/slurm/%s", wf_store_dir(r->store), r->run_id);
    else if (r->store != NULL)
        dir = wf_xasprintf("%s/%s/slurm/%s", cwd, wf_store_dir(r->store), r->run_id);
    else
        dir = wf_xasprintf("%s/.wfengine-slurm/%s", cwd, r->run_id);
    x->slurm = wf_slurm_new(dir, 0, r->opts.slurm_keep_files, slurm_done, x, err);
    free(dir);
    return x->slurm != NULL ? WF_OK : WF_EEXEC;
}

/* Elements are started as soon as Slurm has them: nothing of a task waits here. */
static void slurm_cancel_task(wf_executor *ex, uint32_t t)
{
    (void)ex;
    (void)t;
}

static void slurm_cancel_all(wf_executor *ex)
{
    slurm_executor *x = (slurm_executor *)ex;

    if (x->slurm != NULL)
        wf_slurm_cancel_all(x->slurm);
}

static void slurm_stop(wf_executor *ex)
{
    slurm_executor *x = (slurm_executor *)ex;

    wf_slurm_free(x->slurm);
    pthread_mutex_destroy(&x->lock);
    for (size_t t = 0; x->cache_slots != NULL && t < x->run->wf->n_tasks; t++) {
        for (size_t u = 0; u < x->n_cache_slots[t]; u++) {
            free(x->cache_slots[t][u].workdir);
            free(x->cache_slots[t][u].warning);
        }
        free(x->cache_slots[t]);
    }
    free(x->cache_slots);
    free(x->n_cache_slots);
    free(x);
}

static const wf_executor_ops slurm_ops = {
    .start = slurm_start,
    .submit = slurm_submit,
    .cancel_task = slurm_cancel_task,
    .cancel_all = slurm_cancel_all,
    .stop = slurm_stop,
};

wf_executor *wf_executor_slurm_new(void)
{
    slurm_executor *x = wf_xcalloc(1, sizeof(*x));

    x->base.ops = &slurm_ops;
    x->base.name = "slurm";
    x->base.caps = WF_EXEC_PROCESSES | WF_EXEC_ARRAYS;
    pthread_mutex_init(&x->lock, NULL);
    return &x->base;
}
