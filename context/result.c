/* Task results (see wf_context.h). */
#include <stdlib.h>

#include "wf_context.h"

const char *wf_status_name(wf_status s)
{
    switch (s) {
    case WF_STATUS_PENDING:
        return "pending";
    case WF_STATUS_RUNNING:
        return "running";
    case WF_STATUS_SUCCEEDED:
        return "succeeded";
    case WF_STATUS_FAILED:
        return "failed";
    case WF_STATUS_SKIPPED:
        return "skipped";
    case WF_STATUS_CANCELLED:
        return "cancelled";
    }
    return "unknown";
}

wf_result *wf_result_new(wf_status status, json_object *value_take)
{
    wf_result *r = wf_xcalloc(1, sizeof(*r));

    atomic_init(&r->refs, 1);
    r->status = status;
    r->exit_code = -1;
    r->value = value_take;
    return r;
}

wf_result *wf_result_ref(wf_result *r)
{
    /* Relaxed is enough: the caller already holds a reference, so the object cannot go away
     * under us, and taking a reference publishes nothing. */
    atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
    return r;
}

void wf_result_unref(wf_result *r)
{
    if (r == NULL)
        return;
    /* acq_rel: the release half orders this owner's reads of the result before the free that
     * another thread may do; the acquire half makes every other owner's accesses visible to
     * the thread that drops the last reference and frees. */
    if (atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Only the last owner gets here, so json-c's non-atomic reference count is safe to drop. */
    json_object_put(r->value);
    free(r->stdout_text);
    free(r->stderr_text);
    free(r->error);
    free(r->item_status);
    free(r);
}

bool wf_result_ok(const wf_result *r)
{
    return r->status == WF_STATUS_SUCCEEDED ||
           (r->status == WF_STATUS_FAILED && r->ignored_failure);
}
