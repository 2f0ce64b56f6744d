/* The engine object and its action registry (see wfengine.h). */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "wf_proc.h"

#include "engine_internal.h"

static int add_action(wf_engine *e, const char *name, wf_action_fn fn, void *user);

wf_engine *wf_engine_new(const wf_engine_options *opts)
{
    wf_engine *e = wf_xcalloc(1, sizeof(*e));
    sigset_t pipe_set;

    if (opts != NULL)
        e->opts = *opts;
    if (e->opts.kill_grace_ms <= 0)
        e->opts.kill_grace_ms = 5000;
    if (e->opts.stdout_cap == 0)
        e->opts.stdout_cap = (size_t)1 << 30;
    if (e->opts.stderr_cap == 0)
        e->opts.stderr_cap = (size_t)16 << 20;
    /* A child that exits while we still write to it must not kill the engine: block SIGPIPE
     * here so that the run's threads, created later from this thread, inherit the mask. */
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    for (const wf_core_action *a = wf__core_actions; a->name != NULL; a++)
        add_action(e, a->name, a->fn, NULL);
    return e;
}

int wf_reap_orphans(wf_error *err)
{
    int e = wf_proc_reap_orphans(true);

    if (e == 0)
        return WF_OK;
    wf_error_set(err, WF_EIO, NULL, 0, 0,
                 "cannot take care of the processes that units leave behind (%s): a process "
                 "a task starts with setsid or a double fork may outlive its task",
                 e == ENOSYS ? "this kernel has no /proc/PID/task/TID/children" : strerror(e));
    return WF_EIO;
}

void wf_engine_free(wf_engine *e)
{
    if (e == NULL)
        return;
    for (size_t i = 0; i < e->n_actions; i++)
        free(e->actions[i].name);
    free(e->actions);
    free(e);
}

static bool valid_action_name(const char *name)
{
    bool dot = false;

    if (name[0] == '\0' || name[0] == '.')
        return false;
    for (const char *p = name; *p != '\0'; p++) {
        if (*p == '.') {
            if (p[1] == '\0' || p[1] == '.')
                return false;
            dot = true;
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) {
            return false;
        }
    }
    return dot;
}

/* Registration without the reserved-namespace check, for the built-ins. */
static int add_action(wf_engine *e, const char *name, wf_action_fn fn, void *user)
{
    if (!valid_action_name(name) || fn == NULL)
        return WF_EINVAL;
    if (wf__engine_find_action(e, name) != NULL)
        return WF_EEXIST;
    if (e->n_actions == e->cap_actions) {
        e->cap_actions = e->cap_actions ? e->cap_actions * 2 : 16;
        e->actions = wf_xrealloc(e->actions, e->cap_actions * sizeof(*e->actions));
    }
    e->actions[e->n_actions].name = wf_xstrdup(name);
    e->actions[e->n_actions].fn = fn;
    e->actions[e->n_actions].user = user;
    e->n_actions++;
    return WF_OK;
}

int wf_engine_register_action(wf_engine *e, const char *name, wf_action_fn fn, void *user)
{
    if (strncmp(name, "core.", 5) == 0)
        return WF_EINVAL;
    return add_action(e, name, fn, user);
}

const wf_action_entry *wf__engine_find_action(const wf_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_actions; i++) {
        if (strcmp(e->actions[i].name, name) == 0)
            return &e->actions[i];
    }
    return NULL;
}
