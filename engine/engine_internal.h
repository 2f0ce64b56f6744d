/*
 * engine_internal.h: the engine (wf_engine) and its registry of actions, shared by engine.c,
 * actions.c and the run (run_internal.h).
 */
#ifndef WF_ENGINE_INTERNAL_H
#define WF_ENGINE_INTERNAL_H

#include "wf_workflow.h"

#include "wfengine.h"

typedef struct wf_action_entry {
    char *name;
    wf_action_fn fn;
    void *user;
} wf_action_entry;

struct wf_engine {
    wf_engine_options opts;
    wf_action_entry *actions;
    size_t n_actions, cap_actions;
};

/* The registered action called name, or NULL. */
const wf_action_entry *wf__engine_find_action(const wf_engine *e, const char *name);
/* The built-in actions (actions.c), registered by every new engine in the reserved core
 * namespace: core.noop, core.echo, core.fail, core.sleep and core.value; ends with NULLs. */
typedef struct wf_core_action {
    const char *name;
    wf_action_fn fn;
} wf_core_action;
extern const wf_core_action wf__core_actions[];

#endif
