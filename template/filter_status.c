/*
 * filter_status.c: the functions that read the run's task results (status, succeeded,
 * failed, always, exit_code, stdout, stderr, item_status) and default, which evaluates its
 * fallback only when needed. The contract of a filter is in tpl_internal.h (WF__TPL_FN);
 * filters.c holds the table that names them.
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

#define FN WF__TPL_FN
#define UNUSED_ARGS \
    (void)e;        \
    (void)call;     \
    (void)a;        \
    (void)nargs;    \
    (void)out

/* ---- status functions ---------------------------------------------------------------- */

static int task_result(ev *e, const node *call, tval *a, const wf_result **r)
{
    size_t len;
    const char *name;

    if (!wf__tpl_is_type(&a[0], json_type_string))
        return wf__tpl_type_error(e, call, a, 1);
    name = tpl_str(a[0].j, &len);
    *r = wf_results_getn(wf_ctx_results(e->ctx), name, len);
    if (*r == NULL)
        return wf__tpl_fail(e, call, WF_EUNKNOWN, "task '%.*s' has not run", (int)len, name);
    return WF_OK;
}

FN(f_always)
{
    UNUSED_ARGS;
    wf__tpl_new_bool(e, true, out);
    return WF_OK;
}

FN(f_status)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        tval_take(out, json_object_new_string(wf_status_name(r->status)));
    return rc;
}

FN(f_succeeded)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        wf__tpl_new_bool(e, r->status == WF_STATUS_SUCCEEDED, out);
    return rc;
}

FN(f_failed)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK)
        wf__tpl_new_bool(e, r->status == WF_STATUS_FAILED, out);
    return rc;
}

FN(f_exit_code)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);

    (void)nargs;
    if (rc == WF_OK && r->exit_code >= 0)
        tval_take(out, json_object_new_int64(r->exit_code));
    return rc;
}

static int capture(ev *e, const node *call, tval *a, tval *out, bool err)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);
    const char *text;

    if (rc != WF_OK)
        return rc;
    text = err ? r->stderr_text : r->stdout_text;
    if (text != NULL)
        tval_take(out, json_object_new_string(text));
    return WF_OK;
}

FN(f_stdout)
{
    (void)nargs;
    return capture(e, call, a, out, false);
}

FN(f_stderr)
{
    (void)nargs;
    return capture(e, call, a, out, true);
}

FN(f_item_status)
{
    const wf_result *r;
    int rc = task_result(e, call, a, &r);
    json_object *arr;

    (void)nargs;
    if (rc != WF_OK)
        return rc;
    arr = wf__tpl_new_list(r->n_items);
    for (size_t k = 0; k < r->n_items; k++)
        wf_json_push(arr, json_object_new_string(wf_status_name(
                              r->item_status != NULL ? r->item_status[k] : r->item_status_all)));
    tval_take(out, arr);
    return WF_OK;
}

/* default() is evaluated by the evaluator itself (its first argument may be missing). */
FN(f_default)
{
    UNUSED_ARGS;
    return WF_EINVAL;
}
