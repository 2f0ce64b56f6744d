/*
 * targets.c: a run of some tasks only (wf_run_options.targets, `wfengine run FILE TASK...`):
 * the targets and what they depend on, transitively, are in the run; every other task is
 * excluded before the scheduler starts, so the scheduler itself does not know about targets.
 * With targets_only (`--only`), the targets' dependencies are taken from the resumed run.
 */
#include <stdlib.h>
#include <string.h>

#include "run_internal.h"

/* Marks in_run[t] for t and everything it depends on (iteratively: chains can be long). */
static void mark_needed(const wf_workflow *wf, size_t t, bool *in_run, size_t *stack)
{
    size_t n = 0;

    if (in_run[t])
        return;
    in_run[t] = true;
    stack[n++] = t;
    while (n > 0) {
        const wf_task *task = &wf->tasks[stack[--n]];

        for (size_t i = 0; i < task->n_deps; i++) {
            if (!in_run[task->deps[i]]) {
                in_run[task->deps[i]] = true;
                stack[n++] = task->deps[i];
            }
        }
    }
}

int wf__apply_targets(wf_run *r, wf_errlist *errs)
{
    const wf_workflow *wf = r->wf;
    size_t n = wf->n_tasks ? wf->n_tasks : 1;
    bool *in_run, *is_target;
    size_t *stack;
    int rc = WF_OK;

    if (r->opts.targets == NULL || r->opts.n_targets == 0)
        return WF_OK;
    in_run = wf_xcalloc(n, sizeof(*in_run));
    is_target = wf_xcalloc(n, sizeof(*is_target));
    stack = wf_xmalloc(n * sizeof(*stack));
    for (size_t i = 0; i < r->opts.n_targets; i++) {
        long t = wf_workflow_task_index(wf, r->opts.targets[i]);

        if (t < 0) {
            wf_error_set(wf_errlist_add(errs), WF_EUNKNOWN, NULL, 0, 0, "unknown target task '%s'",
                         r->opts.targets[i]);
            rc = WF_EINVAL;
            continue;
        }
        is_target[t] = true;
        mark_needed(wf, (size_t)t, in_run, stack);
    }
    if (rc == WF_OK && r->opts.targets_only && r->opts.resume_run == NULL) {
        wf_error_set(wf_errlist_add(errs), WF_EINVAL, NULL, 0, 0,
                     "targets_only needs a run to resume (resume_run)");
        rc = WF_EINVAL;
    }
    for (size_t t = 0; rc == WF_OK && t < wf->n_tasks; t++) {
        wf_task_state *ts = &r->tasks[t];

        if (!in_run[t]) {
            ts->excluded = true;
            ts->pending_deps = UINT32_MAX; /* never ready: at most n_deps decrements */
            r->units_total -= ts->planned;
            ts->planned = 0;
            r->tasks_ended++;
        } else if (r->opts.targets_only && is_target[t]) {
            ts->reuse = NULL; /* it runs again, whatever the resumed run has */
            ts->rerun = true;
        } else if (r->opts.targets_only && ts->reuse == NULL) {
            wf_error_set(wf_errlist_add(errs), WF_EINVAL, NULL, 0, 0,
                         "task '%s' is needed and did not succeed in run %s: there is no result "
                         "of it to take",
                         wf->tasks[t].name, r->opts.resume_run);
            rc = WF_EINVAL;
        }
    }
    free(in_run);
    free(is_target);
    free(stack);
    return rc;
}
