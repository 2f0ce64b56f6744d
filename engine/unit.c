/*
 * unit.c: what an executor does with one unit: derive the item context, check the item's
 * `when`, render the command (unit_command.c) or the action input, look up the cache
 * (unit_store.c), run it, and turn stdout into the result. For executors that run units
 * elsewhere: a unit rendered as a script, and the result made from what came back.
 *
 * Everything read here is immutable while units run (the workflow, the task's context and
 * item list, the run's environment); everything written is the completion, which the worker
 * owns until it hands it back.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_proc.h"

#include "run_internal.h"
#include "unit_internal.h"

/* The task's max-output: its own, else --max-output, the workflow's, the engine's. */
static uint64_t max_output(const wf_run *r, const wf_task *task)
{
    return task->max_output     ? task->max_output
           : r->opts.max_output ? r->opts.max_output
           : r->wf->max_output  ? r->wf->max_output
                                : (uint64_t)r->engine->opts.stdout_cap;
}

/* A unit over its max-output fails naming it, the cap and how to raise it; what: "stdout"
 * or "$WF_RESULT". */
static void over_cap(const wf_task *task, const wf_job *job, uint64_t cap, const char *what,
                     wf_completion *c)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_addf(&sb, "task '%s'", task->name);
    if (task->items_kind != WF_ITEMS_NONE)
        wf_strbuf_addf(&sb, " item %u", (unsigned)job->unit);
    wf_strbuf_adds(&sb, " wrote more than its max-output of ");
    wf_size_format(&sb, cap);
    wf_strbuf_addf(&sb,
                   " to %s%s; raise it with `max-output:` on the task or at the top of the "
                   "file, or --max-output",
                   what, strcmp(what, "stdout") == 0 ? " (what came after was dropped)" : "");
    c->status = WF_STATUS_FAILED;
    free(c->error);
    c->error = wf_strbuf_detach(&sb, NULL);
}

/* A $WF_RESULT too large to read (over WF_PROC_SPILL_THRESHOLD) as the unit's result: kept by
 * reference, as a large stdout is. False with c failed. */
static bool result_by_ref(wf_run *r, const wf_task *task, const wf_job *job, const char *path,
                          uint64_t cap, wf_completion *c)
{
    wf_proc_result res;
    char *error = NULL, *ref_path = NULL;
    bool ok = false;

    wf_proc_result_init(&res);
    if (!wf__spill_adopt_file(r, path, cap, &res.out, &error)) {
        c->status = WF_STATUS_FAILED;
        free(c->error);
        c->error = wf_xasprintf("$WF_RESULT: %s", error);
        free(error);
        goto out;
    }
    if (res.out.truncated) {
        over_cap(task, job, cap, "$WF_RESULT", c);
        goto out;
    }
    if (!wf__unit_take_result(r, &res.out, c, &ref_path))
        goto out;
    c->value = wf__unit_ref_result(r, task, job, ref_path, &res.out, c);
    if (c->value != NULL) {
        c->status = WF_STATUS_SUCCEEDED;
        ok = true;
    }
out:
    free(ref_path);
    wf_proc_result_release(&res);
    return ok;
}

static void run_process(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                        int cancel_fd, wf_completion *c)
{
    bool via_shell = false;
    char **argv = wf__unit_argv(r, task, ctx, c, &via_shell);
    char **envp = NULL, *script_file = NULL;
    wf_strbuf workdir = WF_STRBUF_INIT;
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    wf_unit_scratch scratch = { 0 };
    wf_error err;
    char key[WF_SHA256_HEX_LEN + 1], *result_text = NULL, *ref_path = NULL;
    uint64_t cap = max_output(r, task);
    bool use_cache = task->cache && r->store != NULL;
    int rc;

    wf_error_init(&err);
    wf_proc_result_init(&res);
    if (argv == NULL)
        goto out;
    envp = wf__unit_envp(r, task, ctx, job, c);
    if (envp == NULL)
        goto out;
    if (task->workdir != NULL && wf_tpl_render(task->workdir, ctx, &workdir, &err) != WF_OK) {
        wf__unit_fail(c, "workdir", &err);
        goto out;
    }
    if (use_cache) {
        if (!wf__unit_cache_key(r, task, ctx, argv, NULL,
                                task->workdir ? wf_strbuf_str(&workdir) : NULL, c, key))
            goto out;
        if (wf__unit_cache_lookup(r, task, key, task->workdir ? wf_strbuf_str(&workdir) : NULL, c))
            goto out;
    }
    if ((via_shell && !wf__unit_spill_script(argv, &script_file, c)) ||
        !wf__unit_args_fit(argv, c) || !wf__unit_scratch_open(envp, &scratch, c))
        goto out;
    spec.argv = (const char *const *)argv;
    spec.envp = (const char *const *)scratch.envp;
    spec.workdir = task->workdir ? wf_strbuf_str(&workdir) : NULL;
    spec.timeout_ms = task->timeout_ms;
    spec.kill_grace_ms = r->engine->opts.kill_grace_ms;
    spec.stdout_cap = cap < SIZE_MAX ? (size_t)cap : SIZE_MAX;
    spec.stderr_cap = r->engine->opts.stderr_cap;
    spec.cancel_fd = cancel_fd;
    spec.spill_dir = wf__spill_dir_for(r);
    rc = wf_proc_run(&spec, &res);
    c->start_ms = res.start_ms ? res.start_ms : c->start_ms;
    c->end_ms = res.end_ms ? res.end_ms : wf_now_ms();
    c->exit_code = res.exit_code;
    c->out = res.out.data;
    c->err = res.err.data;
    res.out.data = res.err.data = NULL;
    /* Spilled stdout is kept (a blob, or a file of the spill directory) whatever happened. A
     * spill file that could not even be created (spill_errno, no file) fails the same way:
     * the first 64 KiB are not the stdout. */
    if ((res.out.spill_fd >= 0 || res.out.spill_errno != 0) &&
        !wf__unit_take_stdout(r, &res.out, c, &ref_path))
        goto out;
    if (rc == WF_ECANCELLED) {
        c->status = WF_STATUS_CANCELLED;
        c->error = wf_xstrdup("cancelled");
    } else if (rc == WF_ETIMEOUT) {
        c->status = WF_STATUS_FAILED;
        c->timed_out = true;
        c->error = wf_xasprintf("timed out after %lldms (exit code %d)",
                                (long long)task->timeout_ms, res.exit_code);
    } else if (rc != WF_OK) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xstrdup(res.error ? res.error : wf_strerror(rc));
    } else if (res.exit_code != 0) {
        c->status = WF_STATUS_FAILED;
        if (res.term_signal > 0)
            c->error =
                wf_xasprintf("killed by signal %d (exit code %d)", res.term_signal, res.exit_code);
        else
            c->error = wf_xasprintf("exit code %d", res.exit_code);
    } else {
        char *error = NULL;
        bool large = false;

        /* A result written to $WF_RESULT is the result; stdout is then only the log. */
        rc = wf__unit_scratch_result(&scratch, spec.stdout_cap, &result_text, &large, &error);
        if (rc == WF_ERANGE) {
            over_cap(task, job, cap, "$WF_RESULT", c);
            goto out;
        }
        if (rc != WF_OK && rc != WF_ENOENT) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
            goto out;
        }
        if (large) {
            result_by_ref(r, task, job, scratch.result_path, cap, c);
            goto out;
        }
        if (result_text != NULL) {
            if (wf_output_convert(task->output, result_text, "$WF_RESULT", &c->value, &error) !=
                WF_OK) {
                c->status = WF_STATUS_FAILED;
                c->error = error;
            } else {
                c->status = WF_STATUS_SUCCEEDED;
            }
            goto out;
        }
        if (res.out.truncated) {
            over_cap(task, job, cap, "stdout", c);
            goto out;
        }
        if (ref_path != NULL) {
            c->value = wf__unit_ref_result(r, task, job, ref_path, &res.out, c);
            if (c->value != NULL) {
                c->status = WF_STATUS_SUCCEEDED;
                c->result_is_stdout = true;
            }
            goto out;
        }
        if (wf_output_convert(task->output, c->out, "stdout", &c->value, &error) != WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
        } else {
            c->status = WF_STATUS_SUCCEEDED;
            c->result_is_stdout = true;
        }
    }
out:
    if (use_cache && c->status == WF_STATUS_SUCCEEDED && !c->cached) {
        wf__unit_store_data(r, NULL, false, c);
        wf__unit_cache_record(r, task, key, task->workdir ? wf_strbuf_str(&workdir) : NULL, c);
    }
    wf_proc_result_release(&res);
    wf__unit_scratch_close(&scratch);
    free(result_text);
    free(ref_path);
    wf_strbuf_release(&workdir);
    wf_error_release(&err);
    wf__strv_free(argv);
    free(envp);
    if (script_file != NULL)
        unlink(script_file);
    free(script_file);
}

static void run_action(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                       int cancel_fd, wf_completion *c)
{
    const wf_action_entry *a = wf__engine_find_action(r->engine, task->action);
    json_object *input = NULL;
    wf_action_call call = { 0 };
    wf_action_reply reply = { 0 };
    wf_error err;
    char key[WF_SHA256_HEX_LEN + 1];
    bool use_cache = task->cache && r->store != NULL;
    int rc;

    wf_error_init(&err);
    if (task->input != NULL && wf_vnode_eval(task->input, ctx, &input, &err) != WF_OK) {
        wf__unit_fail(c, "input", &err);
        wf_error_release(&err);
        return;
    }
    if (use_cache) {
        if (!wf__unit_cache_key(r, task, ctx, NULL, input, NULL, c, key) ||
            wf__unit_cache_lookup(r, task, key, NULL, c)) {
            json_object_put(input);
            return;
        }
    }
    call.action = task->action;
    call.task = task->name;
    call.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)job->unit : -1;
    call.attempt = (int)job->attempt;
    call.run_id = r->run_id;
    call.input = input;
    call.deadline_ms = task->timeout_ms > 0 ? c->start_ms + task->timeout_ms : 0;
    call.cancel_fd = cancel_fd;
    rc = a->fn(&call, &reply, a->user);
    c->end_ms = wf_now_ms();
    c->log = reply.log;
    if (reply.log != NULL)
        c->out = wf_xstrdup(reply.log);
    if (rc == WF_OK) {
        c->status = WF_STATUS_SUCCEEDED;
        c->value = reply.result;
        free(reply.error);
    } else {
        json_object_put(reply.result);
        c->status = reply.cancelled ? WF_STATUS_CANCELLED : WF_STATUS_FAILED;
        c->timed_out = reply.timed_out;
        c->error = reply.error ? reply.error : wf_xstrdup(wf_strerror(rc));
    }
    if (use_cache && c->status == WF_STATUS_SUCCEEDED) {
        wf__unit_store_data(r, NULL, false, c);
        wf__unit_cache_record(r, task, key, NULL, c);
    }
    json_object_put(input);
}

void wf__unit_execute(wf_run *r, const wf_job *job, int cancel_fd, bool cancelled, wf_completion *c)
{
    const wf_task *task = &r->wf->tasks[job->task];
    const wf_task_state *ts = &r->tasks[job->task];
    json_object *own = NULL;
    char *why = NULL;
    wf_ctx *ctx;
    wf_error err;

    c->start_ms = wf_now_ms();
    c->exit_code = -1;
    ctx = wf__unit_ctx(r, job->task, job->unit, &own, &why);
    if (ctx == NULL) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("item: %s", why);
        c->end_ms = wf_now_ms();
        free(why);
        return;
    }
    wf_error_init(&err);
    /* A job queued before a stop (the run's, or its task's fail-fast) never starts. */
    if (cancelled) {
        c->status = WF_STATUS_CANCELLED;
        c->error = wf_xstrdup("cancelled");
        goto out;
    }
    if (ts->items != NULL && task->when != NULL) {
        bool yes = false;

        if (wf_tpl_eval_bool(task->when, ctx, &yes, &err) != WF_OK) {
            wf__unit_fail(c, "when", &err);
            goto out;
        }
        if (!yes) {
            c->status = WF_STATUS_SKIPPED;
            c->error = wf_xstrdup("when was false");
            goto out;
        }
    }
    if (task->action != NULL)
        run_action(r, task, ctx, job, cancel_fd, c);
    else if (wf_task_extra_of(task)->called != NULL)
        wf__unit_run_uses(r, task, ctx, job, cancel_fd, c);
    else
        run_process(r, task, ctx, job, cancel_fd, c);
out:
    if (c->end_ms == 0)
        c->end_ms = wf_now_ms();
    if (r->store != NULL) {
        const json_object *item = NULL;
        int64_t index;
        bool has_item = wf_ctx_item(ctx, &item, &index);

        wf__unit_store_data(r, item, has_item, c);
    }
    wf_error_release(&err);
    wf_ctx_unref(ctx);
    json_object_put(own);
}

/* ---- units run elsewhere (a cluster)
 * ----------------------------------------------------------------------- */

/* The item context of a job (a new reference; *own: its item's, to put after it). When its
 * item cannot be read, the context has a null item and *error (owned) says why. */
static wf_ctx *job_ctx(const wf_run *r, const wf_job *job, json_object **own, char **error)
{
    wf_ctx *ctx = wf__unit_ctx(r, job->task, job->unit, own, error);

    return ctx != NULL ? ctx : wf_ctx_with_item(r->tasks[job->task].ctx, NULL, job->unit);
}

/* argv as one /bin/sh script: every word quoted. */
static char *argv_script(char *const *argv)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; argv[i] != NULL; i++) {
        if (i > 0)
            wf_strbuf_addc(&sb, ' ');
        wf_shell_quote(&sb, argv[i], strlen(argv[i]));
    }
    return wf_strbuf_detach(&sb, NULL);
}

bool wf__unit_render_script(wf_run *r, const wf_job *job, char **script, char ***envp,
                            char **workdir, char cache_key[WF_SHA256_HEX_LEN + 1], wf_completion *c)
{
    const wf_task *task = &r->wf->tasks[job->task];
    json_object *own = NULL;
    char *why = NULL;
    wf_ctx *ctx = job_ctx(r, job, &own, &why);
    char **argv = NULL;
    wf_error err;
    bool ok = false, via_shell = false;

    *script = NULL;
    *envp = NULL;
    *workdir = NULL;
    cache_key[0] = '\0';
    if (why != NULL) {
        c->start_ms = c->end_ms = wf_now_ms();
        c->exit_code = -1;
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("item: %s", why);
        free(why);
        wf_ctx_unref(ctx);
        json_object_put(own);
        return false;
    }
    c->start_ms = c->end_ms = wf_now_ms();
    c->exit_code = -1;
    wf_error_init(&err);
    if (r->tasks[job->task].items != NULL && task->when != NULL) {
        bool yes = false;

        if (wf_tpl_eval_bool(task->when, ctx, &yes, &err) != WF_OK) {
            wf__unit_fail(c, "when", &err);
            goto out;
        }
        if (!yes) {
            c->status = WF_STATUS_SKIPPED;
            c->error = wf_xstrdup("when was false");
            goto out;
        }
    }
    argv = wf__unit_argv(r, task, ctx, c, &via_shell);
    if (argv == NULL)
        goto out;
    /* The element runs with /bin/sh -e: a `sh -e -c SCRIPT` argv is sent as SCRIPT itself. */
    if (task->run != NULL && task->shell == NULL && argv[0] != NULL && argv[1] != NULL &&
        argv[2] != NULL && argv[3] != NULL && argv[4] == NULL && strcmp(argv[0], "/bin/sh") == 0 &&
        strcmp(argv[1], "-e") == 0 && strcmp(argv[2], "-c") == 0)
        *script = wf_xstrdup(argv[3]);
    else
        *script = argv_script(argv);
    *envp = wf__unit_envp(r, task, ctx, job, c);
    if (*envp == NULL)
        goto out;
    if (task->workdir != NULL) {
        wf_strbuf sb = WF_STRBUF_INIT;

        if (wf_tpl_render(task->workdir, ctx, &sb, &err) != WF_OK) {
            wf_strbuf_release(&sb);
            wf__unit_fail(c, "workdir", &err);
            goto out;
        }
        *workdir = wf_strbuf_detach(&sb, NULL);
    }
    /* As a local unit: the key from the rendered command, a hit ends the unit here. */
    if (task->cache && r->store != NULL &&
        (!wf__unit_cache_key(r, task, ctx, argv, NULL, *workdir, c, cache_key) ||
         wf__unit_cache_lookup(r, task, cache_key, *workdir, c)))
        goto out;
    ok = true;
out:
    if (!ok) {
        free(*script);
        free(*envp);
        free(*workdir);
        *script = *workdir = NULL;
        *envp = NULL;
        if (r->store != NULL) {
            const json_object *item = NULL;
            int64_t index;
            bool has_item = wf_ctx_item(ctx, &item, &index);

            wf__unit_store_data(r, item, has_item, c);
        }
    }
    wf__strv_free(argv);
    wf_error_release(&err);
    wf_ctx_unref(ctx);
    json_object_put(own);
    return ok;
}

void wf__unit_finish_remote(wf_run *r, wf_completion *c, const char *out_path, const char *result,
                            const char *result_path, const char *where, const char *cache_key,
                            const char *workdir)
{
    const wf_task *task = &r->wf->tasks[c->job.task];
    json_object *own = NULL;
    char *why = NULL, *ref_path = NULL;
    wf_ctx *ctx = job_ctx(r, &c->job, &own, &why);
    const json_object *item = NULL;
    int64_t index;
    bool has_item = wf_ctx_item(ctx, &item, &index), out_over;
    uint64_t cap = max_output(r, task);
    wf_proc_result big;

    wf_proc_result_init(&big);
    /* A large stdout is kept by reference whatever happened, as a local unit's. */
    out_over = out_path == NULL && c->out != NULL && strlen(c->out) > cap;
    if (out_path != NULL) {
        char *error = NULL;

        if (!wf__spill_adopt_file(r, out_path, cap, &big.out, &error)) {
            c->status = WF_STATUS_FAILED;
            free(c->error);
            c->error = wf_xasprintf("%s: stdout: %s", where, error);
            free(error);
        } else if (wf__unit_take_stdout(r, &big.out, c, &ref_path)) {
            out_over = big.out.truncated;
        }
    }
    if (c->status == WF_STATUS_SUCCEEDED && result_path != NULL) {
        /* A result written to $WF_RESULT is the result; stdout is then only the log. */
        result_by_ref(r, task, &c->job, result_path, cap, c);
    } else if (c->status == WF_STATUS_SUCCEEDED && result != NULL) {
        char *error = NULL;

        if (strlen(result) > cap)
            over_cap(task, &c->job, cap, "$WF_RESULT", c);
        else if (wf_output_convert(task->output, result, "$WF_RESULT", &c->value, &error) !=
                 WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
        }
    } else if (c->status == WF_STATUS_SUCCEEDED && out_over) {
        over_cap(task, &c->job, cap, "stdout", c);
    } else if (c->status == WF_STATUS_SUCCEEDED && ref_path != NULL) {
        c->value = wf__unit_ref_result(r, task, &c->job, ref_path, &big.out, c);
        if (c->value != NULL)
            c->result_is_stdout = true;
    } else if (c->status == WF_STATUS_SUCCEEDED) {
        char *error = NULL;

        if (wf_output_convert(task->output, c->out, "stdout", &c->value, &error) != WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
        } else {
            c->result_is_stdout = true;
        }
    }
    if (r->store != NULL)
        wf__unit_store_data(r, item, has_item, c);
    if (r->store != NULL && cache_key != NULL && cache_key[0] != '\0')
        wf__unit_cache_record(r, task, cache_key, workdir, c);
    wf_proc_result_release(&big);
    free(ref_path);
    wf_ctx_unref(ctx);
    json_object_put(own);
    free(why); /* read when its script was rendered: it changed since, nothing to add */
}
