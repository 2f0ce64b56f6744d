/*
 * executor_slurm.c: the Slurm executor (executor_slurm.h) on top of the Slurm client
 * (wf_slurm.h). A submission renders each unit as a /bin/sh script with its environment and
 * workdir (unit.c), evaluates its `slurm:` options, and groups the units into batches: one
 * per task and distinct set of rendered options (one in the usual case), packed when
 * `slurm.pack` says so (several items per array element, each still reported on its own).
 * The submitter thread sends them; retries are held until the poller has finished one more
 * round (at most WF_SLURM_COALESCE_MS), so that units handed over a few at a time (retries of
 * elements that Slurm reports a poll apart, packed items too) go out as one array. What Slurm
 * reports comes back on the client's poller thread and is turned into completions there.
 */
#include "executor_slurm.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
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
/* The most a batch of retries waits for more (WF_SLURM_COALESCE_MS), and how often the
 * submitter looks whether the poller has finished a round meanwhile. */
#define DEFAULT_COALESCE_MS 3000
#define POLL_HELD_MS        50
#define IDLE_MS             200

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
    char *warning; /* under lock: given to the next completion (then NULL) */
    /* The most a batch is held for more of its kind (ms); see hold_batches. */
    int coalesce_ms;
    /* The submitter thread and what it holds, guarded by hold_mu. */
    pthread_t submitter;
    bool have_submitter;
    pthread_mutex_t hold_mu;
    pthread_cond_t hold_cond;
    struct slurm_batch *held;
    size_t n_held;
    int64_t *last_sent; /* per task: when its last batch went out (0: never) */
    bool quit;          /* stop: the submitter ends once nothing is held */
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
    json_object *own = NULL;
    char *why = NULL;
    wf_ctx *ctx;
    int rc = WF_OK;

    ctx = wf__unit_ctx(r, job->task, job->unit, &own, &why);
    if (ctx == NULL) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "item: %s", why);
        free(why);
        return NULL;
    }
    if (task->slurm != NULL)
        rc = wf_vnode_eval(task->slurm, ctx, &o, err);
    if (rc == WF_OK && r->wf->slurm != NULL)
        rc = wf_vnode_eval(r->wf->slurm, ctx, &top, err);
    wf_ctx_unref(ctx);
    json_object_put(own);
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
    if (!json_object_object_get_ex(o, "cpus", NULL) &&
        (task->cpus > 0 || wf_task_extra_of(task)->cpus_tpl != NULL))
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

/* The `pack` of an options object: N, WF_SLURM_PACK_AUTO for "auto", 0 when absent (the
 * loader has checked the value). */
static size_t pack_of(json_object *o)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, "pack", &v) || v == NULL)
        return 0;
    if (json_object_is_type(v, json_type_string))
        return strcmp(json_object_get_string(v), "auto") == 0 ? WF_SLURM_PACK_AUTO : 0;
    return json_object_get_int64(v) > 0 ? (size_t)json_object_get_int64(v) : 0;
}

typedef struct slurm_batch {
    uint32_t task;
    int concurrency;       /* the task's, read on the scheduler thread */
    int64_t first_ms, due; /* when it was first held, when it goes out at the latest */
    int64_t last_ms;       /* when units were last added */
    unsigned polls;        /* the client's poll count when units were last added */
    char *opts_text;
    json_object *opts;
    wf_slurm_element *elems;
    char **scripts, ***envps, **workdirs;
    size_t n, cap;
} slurm_batch;

/* Gives c the warning not yet shown (what went wrong reading the cluster's configuration).
 * Call with x->lock held. */
static void give_warning(slurm_executor *x, wf_completion *c)
{
    if (x->warning == NULL)
        return;
    if (c->warning == NULL) {
        c->warning = x->warning;
    } else {
        char *both = wf_xasprintf("%s\n%s", x->warning, c->warning);

        free(c->warning);
        free(x->warning);
        c->warning = both;
    }
    x->warning = NULL;
}

/* A unit that ends before Slurm has it (its `when` was false, a template error, sbatch
 * refused it). */
static void report_now(slurm_executor *x, wf_completion *c)
{
    pthread_mutex_lock(&x->lock);
    give_warning(x, c);
    wf_done_queue_push(x->done, c, NULL, 0);
    pthread_mutex_unlock(&x->lock);
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

/* Frees what a batch holds (not the struct itself). */
static void batch_free(slurm_batch *b)
{
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

/* Sends one batch as a job array (split by the client when it is larger than the cluster's
 * MaxArraySize); every element either starts or fails with sbatch's message. Frees the
 * batch. On the submitter thread. */
static void batch_submit(slurm_executor *x, slurm_batch *b)
{
    uint32_t t = b->task;
    const wf_task *task = &x->run->wf->tasks[t];
    wf_slurm_opts opts;
    wf_strbuf bufs[6] = { WF_STRBUF_INIT, WF_STRBUF_INIT, WF_STRBUF_INIT,
                          WF_STRBUF_INIT, WF_STRBUF_INIT, WF_STRBUF_INIT };
    const char **extra = NULL;
    size_t accepted = 0;
    wf_error err;
    int rc;

    wf_error_init(&err);
    slurm_opts_of(b->opts, &opts, bufs, &extra);
    opts.pack = pack_of(b->opts);
    pthread_mutex_lock(&x->lock);
    rc = wf_slurm_submit(x->slurm, t, task->name, b->elems, b->n, task->items_kind != WF_ITEMS_NONE,
                         b->concurrency, &opts, task->timeout_ms, &accepted, &err);
    /* WF_EIO: the job's own files could not be written (a full disk). The units fail below,
     * and the run stops (exit 3): every later submission would fail the same way. */
    if (rc == WF_EIO)
        wf__run_disk_failed(x->run, wf_xasprintf("%s; %s", err.message ? err.message : "failed",
                                                 x->run->store != NULL
                                                     ? "make room there, then continue with "
                                                       "--resume last"
                                                     : "make room there and run again"));
    /* Slurm has elements [0, accepted): for the engine they started (Slurm's own queue is
     * not followed; the recorded start is when the poller first saw one running). */
    for (size_t k = 0; k < accepted; k++) {
        wf_job job = { t, b->elems[k].unit, b->elems[k].attempt };

        wf_done_queue_push(x->done, NULL, &job, 0);
    }
    /* The others fail with sbatch's message, the same for all (the CLI shows it once for
     * the task); a permanent refusal fails them without retries: the same request would be
     * refused again. After a cancel they did not start. */
    for (size_t k = accepted; k < b->n && rc != WF_OK; k++) {
        wf_completion c;

        memset(&c, 0, sizeof(c));
        c.job.task = t;
        c.job.unit = b->elems[k].unit;
        c.job.attempt = b->elems[k].attempt;
        c.exit_code = -1;
        c.start_ms = c.end_ms = wf_now_ms();
        if (rc == WF_ECANCELLED) {
            c.status = WF_STATUS_CANCELLED;
        } else {
            c.status = WF_STATUS_FAILED;
            c.no_retry = rc == WF_EINVAL;
            c.error = wf_xasprintf("not submitted: %s%s", err.message ? err.message : "failed",
                                   c.no_retry ? " (a permanent error: not retried)" : "");
        }
        give_warning(x, &c);
        wf_done_queue_push(x->done, &c, NULL, 0);
    }
    pthread_mutex_unlock(&x->lock);
    wf_error_release(&err);
    for (size_t k = 0; k < WF_ARRAY_LEN(bufs); k++)
        wf_strbuf_release(&bufs[k]);
    free(extra);
    batch_free(b);
}

/* Appends src's units to dst (same task and options) and frees what is left of src. */
static void batch_merge(slurm_batch *dst, slurm_batch *src)
{
    for (size_t k = 0; k < src->n; k++) {
        if (dst->n == dst->cap) {
            dst->cap = dst->cap ? dst->cap * 2 : 16;
            dst->elems = wf_xrealloc(dst->elems, dst->cap * sizeof(*dst->elems));
            dst->scripts = wf_xrealloc(dst->scripts, dst->cap * sizeof(char *));
            dst->envps = wf_xrealloc(dst->envps, dst->cap * sizeof(char **));
            dst->workdirs = wf_xrealloc(dst->workdirs, dst->cap * sizeof(char *));
        }
        dst->elems[dst->n] = src->elems[k];
        dst->scripts[dst->n] = src->scripts[k];
        dst->envps[dst->n] = src->envps[k];
        dst->workdirs[dst->n] = src->workdirs[k];
        dst->n++;
    }
    free(src->elems);
    free(src->scripts);
    free(src->envps);
    free(src->workdirs);
    free(src->opts_text);
    json_object_put(src->opts);
}

/* Hands task t's new batches to the submitter: merged into a held batch of the same options,
 * else held. A first submission of a task goes at once. Retries (and units of a task that
 * sent a batch less than coalesce_ms ago) wait for more of their kind: failures that Slurm
 * reports a few polls apart are retried together. Such a batch goes out once the poller has
 * done a whole round that added nothing to it (batch_due), or nothing else is in Slurm, or
 * coalesce_ms after it was first held at the latest. Scheduler thread. */
static void hold_batches(slurm_executor *x, uint32_t t, slurm_batch *batches, size_t n)
{
    int64_t now = wf_now_ms();
    unsigned polls = wf_slurm_polls(x->slurm);

    pthread_mutex_lock(&x->hold_mu);
    for (size_t i = 0; i < n; i++) {
        slurm_batch *b = &batches[i], *h = NULL;
        bool retry = false;

        for (size_t k = 0; k < x->n_held && h == NULL; k++) {
            if (x->held[k].task == t && strcmp(x->held[k].opts_text, b->opts_text) == 0)
                h = &x->held[k];
        }
        if (h != NULL) {
            /* More came: wait for another quiet round (within coalesce_ms of the first). */
            batch_merge(h, b);
            h->polls = polls;
            h->last_ms = now;
            continue;
        }
        for (size_t k = 0; k < b->n; k++)
            retry = retry || b->elems[k].attempt > 1;
        b->task = t;
        b->concurrency = x->run->tasks[t].concurrency;
        b->first_ms = now;
        b->polls = polls;
        b->last_ms = now;
        b->due = retry || (x->last_sent[t] > 0 && now - x->last_sent[t] < x->coalesce_ms)
                     ? now + x->coalesce_ms
                     : now;
        x->held = wf_xrealloc(x->held, (x->n_held + 1) * sizeof(*x->held));
        x->held[x->n_held++] = *b;
    }
    pthread_cond_signal(&x->hold_cond);
    pthread_mutex_unlock(&x->hold_mu);
}

/* Ends the held units of task t (every task: UINT32_MAX) as CANCELLED: they never reached
 * Slurm. */
static void cancel_held(slurm_executor *x, uint32_t t)
{
    slurm_batch *gone = NULL;
    size_t n_gone = 0;

    pthread_mutex_lock(&x->hold_mu);
    for (size_t k = 0; k < x->n_held;) {
        if (t != UINT32_MAX && x->held[k].task != t) {
            k++;
            continue;
        }
        gone = wf_xrealloc(gone, (n_gone + 1) * sizeof(*gone));
        gone[n_gone++] = x->held[k];
        x->held[k] = x->held[--x->n_held];
    }
    pthread_mutex_unlock(&x->hold_mu);
    for (size_t i = 0; i < n_gone; i++) {
        slurm_batch *b = &gone[i];

        for (size_t k = 0; k < b->n; k++) {
            wf_completion c;

            memset(&c, 0, sizeof(c));
            c.job.task = b->task;
            c.job.unit = b->elems[k].unit;
            c.job.attempt = b->elems[k].attempt;
            c.status = WF_STATUS_CANCELLED;
            c.exit_code = -1;
            c.start_ms = c.end_ms = wf_now_ms();
            report_now(x, &c);
        }
        batch_free(b);
    }
    free(gone);
}

/* Whether held batch b goes out now: its time is up, or the poller has finished a whole
 * round since units were last added (what ended with them has been reported), or nothing is
 * left in Slurm that could end and add to it (for IDLE_MS: the scheduler may still be
 * handing over the last completions' retries). */
static bool batch_due(slurm_executor *x, const slurm_batch *b, int64_t now)
{
    return b->due <= now || wf_slurm_polls(x->slurm) - b->polls >= 2 ||
           (wf_slurm_pending(x->slurm) == 0 && now - b->last_ms >= IDLE_MS);
}

/* The submitter thread: sends each held batch when it is due (looking every POLL_HELD_MS for
 * the poller's rounds). */
static void *submitter_main(void *arg)
{
    slurm_executor *x = arg;

    pthread_mutex_lock(&x->hold_mu);
    for (;;) {
        int64_t now = wf_now_ms(), next = INT64_MAX;
        slurm_batch *due = NULL;
        size_t n_due = 0;

        for (size_t k = 0; k < x->n_held;) {
            if (x->quit || batch_due(x, &x->held[k], now)) {
                due = wf_xrealloc(due, (n_due + 1) * sizeof(*due));
                due[n_due++] = x->held[k];
                x->last_sent[x->held[k].task] = now;
                x->held[k] = x->held[--x->n_held];
            } else {
                next = x->held[k].due < next ? x->held[k].due : next;
                next = now + POLL_HELD_MS < next ? now + POLL_HELD_MS : next;
                k++;
            }
        }
        if (n_due > 0) {
            pthread_mutex_unlock(&x->hold_mu);
            for (size_t i = 0; i < n_due; i++)
                batch_submit(x, &due[i]);
            free(due);
            pthread_mutex_lock(&x->hold_mu);
            continue;
        }
        if (x->quit)
            break;
        if (next == INT64_MAX) {
            pthread_cond_wait(&x->hold_cond, &x->hold_mu);
        } else {
            struct timespec ts;
            int64_t wait = next - now;

            clock_gettime(CLOCK_MONOTONIC, &ts);
            ts.tv_sec += (time_t)(wait / 1000);
            ts.tv_nsec += (long)(wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&x->hold_cond, &x->hold_mu, &ts);
        }
    }
    pthread_mutex_unlock(&x->hold_mu);
    return NULL;
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
    hold_batches(x, jobs[0].task, batches, n_batches);
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
        wf__unit_finish_remote(x->run, &c, res->out_path, res->result, res->result_path, where, key,
                               workdir);
    }
    free(workdir);
    pthread_mutex_lock(&x->lock);
    give_warning(x, &c);
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
    if (x->slurm == NULL)
        return WF_EEXEC;
    if (wf_slurm_warning(x->slurm) != NULL)
        x->warning = wf_xstrdup(wf_slurm_warning(x->slurm));
    x->coalesce_ms = (int)wf__slurm_env_num("WF_SLURM_COALESCE_MS", DEFAULT_COALESCE_MS, 0, 60000);
    x->last_sent = wf_xcalloc(r->wf->n_tasks + 1, sizeof(*x->last_sent));
    if (pthread_create(&x->submitter, NULL, submitter_main, x) != 0) {
        wf_error_set(err, WF_EIO, NULL, 0, 0, "cannot start the Slurm submitter thread");
        return WF_EIO;
    }
    x->have_submitter = true;
    return WF_OK;
}

/* Units of task t still held (not yet sent to Slurm) end cancelled; Slurm's go on. */
static void slurm_cancel_task(wf_executor *ex, uint32_t t)
{
    cancel_held((slurm_executor *)ex, t);
}

static void slurm_cancel_all(wf_executor *ex)
{
    slurm_executor *x = (slurm_executor *)ex;

    cancel_held(x, UINT32_MAX);
    if (x->slurm != NULL)
        wf_slurm_cancel_all(x->slurm);
}

static void slurm_stop(wf_executor *ex)
{
    slurm_executor *x = (slurm_executor *)ex;

    /* Normally nothing is held by now (every job was reported); what is, never ran. */
    if (x->have_submitter) {
        cancel_held(x, UINT32_MAX);
        pthread_mutex_lock(&x->hold_mu);
        x->quit = true;
        pthread_cond_signal(&x->hold_cond);
        pthread_mutex_unlock(&x->hold_mu);
        pthread_join(x->submitter, NULL);
    }
    wf_slurm_free(x->slurm);
    free(x->held);
    free(x->last_sent);
    free(x->warning);
    pthread_cond_destroy(&x->hold_cond);
    pthread_mutex_destroy(&x->hold_mu);
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
    pthread_mutex_init(&x->hold_mu, NULL);
    {
        pthread_condattr_t cattr;

        pthread_condattr_init(&cattr);
        pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
        pthread_cond_init(&x->hold_cond, &cattr);
        pthread_condattr_destroy(&cattr);
    }
    return &x->base;
}
