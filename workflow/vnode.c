/* Value trees: evaluation and freeing (see wf_workflow.h). */
#include <stdlib.h>

#include "wf_workflow.h"

int wf_vnode_eval(const wf_vnode *n, const wf_ctx *ctx, json_object **out, wf_error *err)
{
    json_object *result = NULL;
    int rc = WF_OK;

    *out = NULL;
    switch (n->kind) {
    case WF_VNODE_CONST:
        /* The tree is shared by every run: hand out a copy, never the constant itself. */
        result = wf_json_copy(n->constant);
        break;
    case WF_VNODE_TEMPLATE:
        rc = wf_tpl_eval(n->tpl, ctx, &result, err);
        break;
    case WF_VNODE_LIST:
        /* A literal with-items list may have up to WF_MAX_ITEMS entries: json-c's NULLs go to
         * the one out-of-memory handler rather than into its assertions. */
        result = wf_json_check(json_object_new_array_ext(n->n > 0 ? (int)n->n : 1));
        for (size_t k = 0; k < n->n && rc == WF_OK; k++) {
            json_object *child = NULL;

            rc = wf_vnode_eval(n->children[k], ctx, &child, err);
            if (rc == WF_OK)
                wf_json_push(result, child);
        }
        break;
    case WF_VNODE_MAP:
        result = wf_json_check(json_object_new_object());
        for (size_t k = 0; k < n->n && rc == WF_OK; k++) {
            json_object *child = NULL;

            rc = wf_vnode_eval(n->children[k], ctx, &child, err);
            if (rc == WF_OK && json_object_object_add(result, n->keys[k], child) != 0)
                wf_oom(sizeof(struct lh_entry));
        }
        break;
    }
    if (rc != WF_OK) {
        json_object_put(result);
        return rc;
    }
    *out = result;
    return WF_OK;
}

int wf_vnode_eval_borrow(const wf_vnode *n, const wf_ctx *ctx, const json_object **value,
                         json_object **owned, wf_error *err)
{
    int rc;

    *value = NULL;
    *owned = NULL;
    switch (n->kind) {
    case WF_VNODE_CONST:
        *value = n->constant;
        return WF_OK;
    case WF_VNODE_TEMPLATE:
        return wf_tpl_eval_borrow(n->tpl, ctx, value, owned, err);
    default:
        rc = wf_vnode_eval(n, ctx, owned, err);
        *value = *owned;
        return rc;
    }
}

void wf_vnode_free(wf_vnode *n)
{
    if (n == NULL)
        return;
    json_object_put(n->constant);
    wf_tpl_free(n->tpl);
    for (size_t k = 0; k < n->n; k++) {
        if (n->keys != NULL)
            free(n->keys[k]);
        wf_vnode_free(n->children[k]);
    }
    free(n->keys);
    free(n->children);
    free(n);
}
