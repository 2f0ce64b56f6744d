/*
 * setup.c: a run's set-up, before anything is scheduled: the run id, the inputs' secrets,
 * the environment (process env plus the workflow's `env`), the root context (inputs, env and
 * `vars` in file order), and the check that every action is registered. All errors are
 * collected, with file:line:col where the workflow says something.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "run_internal.h"

/* Values of `secret: true` inputs shorter than this are not masked: masking "a" or "1" would
 * garble every line without protecting anything. */
#define MIN_SECRET_LEN 3

void wf__make_run_id(char *out, size_t n)
{
    time_t now = time(NULL);
    struct tm tm;
    unsigned char rnd[3] = { 0 };
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (read(fd, rnd, sizeof(rnd)) != (ssize_t)sizeof(rnd))
            rnd[0] = (unsigned char)getpid();
        close(fd);
    }
    gmtime_r(&now, &tm);
    snprintf(out, n, "%04d%02d%02d-%02d%02d%02d-%02x%02x%02x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rnd[0], rnd[1], rnd[2]);
}

void wf__errlist_add_at(wf_errlist *errs, const wf_workflow *wf, wf_mark m, int code,
                        const char *msg)
{
    wf_error *e = wf_errlist_add(errs);

    wf_error_set(e, code, wf->path, m.line, m.column, "%s", msg);
    wf_error_set_source_line(e, wf->source, wf->source_len);
}

void wf__collect_secrets(wf_run *r, const json_object *inputs)
{
    const wf_workflow *wf = r->wf;

    for (size_t i = 0; i < wf->n_inputs; i++) {
        json_object *v = NULL;
        wf_strbuf sb = WF_STRBUF_INIT;

        if (!wf->inputs[i].secret ||
            !json_object_object_get_ex((json_object *)inputs, wf->inputs[i].name, &v) || v == NULL)
            continue;
        wf_tpl_text_form(&sb, v);
        if (sb.len < MIN_SECRET_LEN) {
            wf_strbuf_release(&sb);
            continue;
        }
        r->secrets = wf_xrealloc(r->secrets, (r->n_secrets + 1) * sizeof(char *));
        r->secrets[r->n_secrets++] = wf_strbuf_detach(&sb, NULL);
    }
}

/* The process environment plus the workflow's env, as a JSON object (for env.NAME) and as
 * an envp array (for processes). */
int wf__build_env(wf_run *r, json_object *inputs, wf_errlist *errs)
{
    const wf_workflow *wf = r->wf;
    json_object *env = wf_json_environ();
    wf_ctx_init init = { 0 };
    wf_ctx *ctx;
    size_t n = 0;
    int rc = WF_OK;

    /* The workflow's env-file, then --env-file: later files win, and `env` wins over both. */
    for (size_t i = 0; wf->env_files != NULL && wf->env_files[i] != NULL; i++) {
        if (wf_dotenv_read(wf->env_files[i], env, errs) != WF_OK)
            rc = WF_EINVAL;
    }
    for (size_t i = 0; r->opts.env_files != NULL && r->opts.env_files[i] != NULL; i++) {
        if (wf_dotenv_read(r->opts.env_files[i], env, errs) != WF_OK)
            rc = WF_EINVAL;
    }
    for (size_t t = 0; t < wf->n_tasks; t++) {
        json_object *task_env;
        size_t k = 0;

        if (wf->tasks[t].env_files == NULL || wf->tasks[t].env_files[0] == NULL)
            continue;
        task_env = json_object_new_object();
        for (size_t i = 0; wf->tasks[t].env_files[i] != NULL; i++) {
            if (wf_dotenv_read(wf->tasks[t].env_files[i], task_env, errs) != WF_OK)
                rc = WF_EINVAL;
        }
        r->tasks[t].file_env =
            wf_xcalloc((size_t)json_object_object_length(task_env) + 1, sizeof(char *));
        json_object_object_foreach(task_env, k_name, k_val)
        {
            r->tasks[t].file_env[k++] =
                wf_xasprintf("%s=%s", k_name, json_object_get_string(k_val));
        }
        json_object_put(task_env);
    }
    init.inputs = wf_json_copy(inputs);
    init.env = wf_json_copy(env);
    init.workflow_name = wf->name;
    init.run_id = r->run_id;
    ctx = wf_ctx_new(&init);
    for (size_t i = 0; i < wf->n_env; i++) {
        wf_strbuf sb = WF_STRBUF_INIT;
        wf_error err;

        wf_error_init(&err);
        if (wf_tpl_render(wf->env[i].tpl, ctx, &sb, &err) != WF_OK) {
            char *msg = wf_xasprintf("env %s: %s", wf->env[i].name, err.message);

            wf__errlist_add_at(errs, wf, wf->env[i].mark, err.code, msg);
            free(msg);
            rc = WF_EINVAL;
        } else {
            json_object_object_add(env, wf->env[i].name,
                                   json_object_new_string(sb.buf ? sb.buf : ""));
        }
        wf_strbuf_release(&sb);
        wf_error_release(&err);
    }
    wf_ctx_unref(ctx);
    n = (size_t)json_object_object_length(env);
    r->envp = wf_xcalloc(n + 1, sizeof(char *));
    r->n_envp = 0;
    json_object_object_foreach(env, k, v)
    {
        r->envp[r->n_envp++] = wf_xasprintf("%s=%s", k, json_object_get_string(v));
    }
    r->env_json = env;
    return rc;
}

/* Evaluates vars in file order; each sees inputs, env and the vars before it. */
int wf__build_root(wf_run *r, json_object *inputs, wf_errlist *errs)
{
    const wf_workflow *wf = r->wf;
    json_object *vars = json_object_new_object();
    wf_ctx_init init = { 0 };
    int rc = WF_OK;

    init.inputs = inputs;
    init.env = wf_json_copy(r->env_json);
    init.vars = wf_json_copy(vars);
    init.workflow_name = wf->name;
    init.run_id = r->run_id;
    r->root = wf_ctx_new(&init);
    for (size_t i = 0; i < wf->n_vars; i++) {
        json_object *v = NULL;
        wf_error err;
        wf_ctx *next;

        wf_error_init(&err);
        if (wf_vnode_eval(wf->vars[i].value, r->root, &v, &err) != WF_OK) {
            char *msg = wf_xasprintf("vars.%s: %s", wf->vars[i].name,
                                     err.message ? err.message : wf_strerror(err.code));
            wf_mark m = wf->vars[i].value->mark;

            wf__errlist_add_at(errs, wf, m.line ? m : wf->vars[i].mark, err.code, msg);
            free(msg);
            wf_error_release(&err);
            rc = WF_EINVAL;
            continue;
        }
        json_object_object_add(vars, wf->vars[i].name, v);
        next = wf_ctx_with_vars(r->root, wf_json_copy(vars));
        wf_ctx_unref(r->root);
        r->root = next;
    }
    json_object_put(vars);
    return rc;
}

int wf__check_actions(const wf_engine *e, const wf_workflow *wf, wf_errlist *errs)
{
    int rc = WF_OK;

    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        if (task->action != NULL && wf__engine_find_action(e, task->action) == NULL) {
            char *msg = wf_xasprintf("task '%s': unknown action '%s'%s", task->name, task->action,
                                     strncmp(task->action, "core.", 5) == 0
                                         ? " (the built-in actions are core.noop, core.echo, "
                                           "core.fail, core.sleep and core.value)"
                                         : " (an embedding program must register it)");

            wf__errlist_add_at(errs, wf, task->run_mark.line ? task->run_mark : task->mark,
                               WF_EUNKNOWN, msg);
            free(msg);
            rc = WF_EINVAL;
        }
        /* A called workflow's actions are checked now too: nothing starts when one is missing. */
        if (wf_task_extra_of(task)->called != NULL &&
            wf__check_actions(e, wf_task_extra_of(task)->called, errs) != WF_OK)
            rc = WF_EINVAL;
    }
    return rc;
}
