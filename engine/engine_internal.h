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
/* Registers an action in the reserved core namespace (for actions.c). */
int wf__engine_add_core_action(wf_engine *e, const char *name, wf_action_fn fn);
/* Registers core.noop, core.echo, core.fail, core.sleep and core.value. */
void wf__actions_register_core(wf_engine *e);

#endif
