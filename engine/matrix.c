/* Matrix expansion for with-items (spec/workflow-format.md, "with-items"). */
#include <stdlib.h>

#include "engine_internal.h"

/* True when every key of pattern is in combo with an equal value. */
static bool matches(const json_object *combo, const json_object *pattern)
{
    json_object_object_foreach((json_object *)pattern, key, want)
    {
        json_object *have = NULL;

        if (!json_object_object_get_ex((json_object *)combo, key, &have) ||
            !wf_json_equal(have, want))
            return false;
    }
    return true;
}

static int eval_list(const wf_vnode *n, const wf_ctx *ctx, const char *what, json_object **out,
                     wf_error *err)
{
    int rc = wf_vnode_eval(n, ctx, out, err);

    if (rc != WF_OK)
        return rc;
    if (!json_object_is_type(*out, json_type_array)) {
        wf_error_set(err, WF_ETYPE, NULL, n->mark.line, n->mark.column, "%s is %s, not a list",
                     what, wf_json_type_name(*out));
        json_object_put(*out);
        *out = NULL;
        return WF_ETYPE;
    }
    return WF_OK;
}

int wf__matrix_expand(const wf_task *task, const wf_ctx *ctx, json_object **out, wf_error *err)
{
    json_object **axes = wf_xcalloc(task->n_matrix ? task->n_matrix : 1, sizeof(*axes));
    json_object *combos = json_object_new_array(), *exclude = NULL, *include = NULL;
    size_t *pos = wf_xcalloc(task->n_matrix ? task->n_matrix : 1, sizeof(*pos));
    size_t total = 1;
    int rc = WF_OK;

    *out = NULL;
    for (size_t k = 0; k < task->n_matrix; k++) {
        char *what = wf_xasprintf("matrix.%s", task->matrix[k].name);

        rc = eval_list(task->matrix[k].value, ctx, what, &axes[k], err);
        free(what);
        if (rc != WF_OK)
            goto out;
        total *= json_object_array_length(axes[k]);
    }
    if (task->matrix_exclude != NULL) {
        rc = eval_list(task->matrix_exclude, ctx, "exclude", &exclude, err);
        if (rc != WF_OK)
            goto out;
    }
    if (task->matrix_include != NULL) {
        rc = eval_list(task->matrix_include, ctx, "include", &include, err);
        if (rc != WF_OK)
            goto out;
    }
    /* Odometer over the axes, first key outermost. */
    for (size_t i = 0; task->n_matrix > 0 && i < total; i++) {
        json_object *combo = json_object_new_object();
        bool excluded = false;

        for (size_t k = 0; k < task->n_matrix; k++)
            json_object_object_add(combo, task->matrix[k].name,
                                   wf_json_copy(json_object_array_get_idx(axes[k], pos[k])));
        for (size_t e = 0; exclude != NULL && e < json_object_array_length(exclude); e++) {
            json_object *pat = json_object_array_get_idx(exclude, e);

            if (json_object_is_type(pat, json_type_object) && matches(combo, pat)) {
                excluded = true;
                break;
            }
        }
        if (excluded)
            json_object_put(combo);
        else
            json_object_array_add(combos, combo);
        for (size_t k = task->n_matrix; k-- > 0;) {
            if (++pos[k] < json_object_array_length(axes[k]))
                break;
            pos[k] = 0;
        }
    }
    for (size_t i = 0; include != NULL && i < json_object_array_length(include); i++)
        json_object_array_add(combos, wf_json_copy(json_object_array_get_idx(include, i)));
    *out = combos;
    combos = NULL;
out:
    for (size_t k = 0; k < task->n_matrix; k++)
        json_object_put(axes[k]);
    free(axes);
    free(pos);
    json_object_put(exclude);
    json_object_put(include);
    json_object_put(combos);
    return rc;
}
