/* Matrix expansion for with-items (docs/workflow-format.md, "with-items"): the run expands a
 * task's matrix with wf__matrix_expand (wf_workflow.h); the loader checks literal axes against
 * the same cap with wf__matrix_too_large. */
#include <stdlib.h>

#include "loader_internal.h"

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

/* Whether include entry `entry` fits the original combination combo: every key of it that
 * is a matrix key has combo's value (it would overwrite no original value). */
static bool include_fits(const wf_task *task, const json_object *combo, json_object *entry)
{
    const wf_task_extra *x = wf_task_extra_of(task);

    for (size_t k = 0; k < x->n_matrix; k++) {
        json_object *want = NULL, *have = NULL;

        if (json_object_object_get_ex(entry, x->matrix[k].name, &want) &&
            (!json_object_object_get_ex((json_object *)combo, x->matrix[k].name, &have) ||
             !wf_json_equal(have, want)))
            return false;
    }
    return true;
}

/* GitHub Actions' rules for `include`, in order: an entry's keys are added to every original
 * combination (after exclude) that it fits, never overwriting an original matrix value (a
 * value an earlier entry added may be overwritten); an entry that fits no original
 * combination is added as a combination of its own. An entry that is not a mapping is
 * added as it is. */
static void add_includes(const wf_task *task, json_object *combos, json_object *include)
{
    const wf_task_extra *x = wf_task_extra_of(task);
    size_t n_orig = json_object_array_length(combos);

    for (size_t i = 0; include != NULL && i < json_object_array_length(include); i++) {
        json_object *entry = json_object_array_get_idx(include, i);
        bool added = false;

        for (size_t c = 0;
             x->n_matrix > 0 && json_object_is_type(entry, json_type_object) && c < n_orig; c++) {
            json_object *combo = json_object_array_get_idx(combos, c);

            if (!include_fits(task, combo, entry))
                continue;
            json_object_object_foreach(entry, key, value)
            {
                if (json_object_object_add(combo, key, wf_json_copy(value)) != 0)
                    wf_oom(sizeof(struct lh_entry));
            }
            added = true;
        }
        if (!added)
            wf_json_push(combos, wf_json_copy(entry));
    }
}

int wf__matrix_too_large(wf_mark mark, size_t combos, size_t include, wf_error *err)
{
    if (combos == SIZE_MAX)
        wf_error_set(err, WF_ERANGE, NULL, mark.line, mark.column,
                     "the matrix has more than %zu combinations, more than the %d items a task "
                     "may expand to; split it into several tasks",
                     SIZE_MAX - 1, WF_MAX_ITEMS);
    else if (include > 0)
        wf_error_set(err, WF_ERANGE, NULL, mark.line, mark.column,
                     "the matrix has %zu combinations and %zu 'include' entries, more than the "
                     "%d items a task may expand to; split it into several tasks",
                     combos, include, WF_MAX_ITEMS);
    else
        wf_error_set(err, WF_ERANGE, NULL, mark.line, mark.column,
                     "the matrix has %zu combinations, more than the %d items a task may expand "
                     "to; split it into several tasks",
                     combos, WF_MAX_ITEMS);
    return WF_ERANGE;
}

int wf__matrix_expand(const wf_task *task, const wf_ctx *ctx, json_object **out, wf_error *err)
{
    const wf_task_extra *x = wf_task_extra_of(task);
    json_object **axes = wf_xcalloc(x->n_matrix ? x->n_matrix : 1, sizeof(*axes));
    json_object *combos = wf_json_check(json_object_new_array()), *exclude = NULL, *include = NULL;
    size_t *pos = wf_xcalloc(x->n_matrix ? x->n_matrix : 1, sizeof(*pos));
    size_t total = 1;
    int rc = WF_OK;

    *out = NULL;
    for (size_t k = 0; k < x->n_matrix; k++) {
        char *what = wf_xasprintf("matrix.%s", x->matrix[k].name);

        rc = eval_list(x->matrix[k].value, ctx, what, &axes[k], err);
        free(what);
        if (rc != WF_OK)
            goto out;
        if (__builtin_mul_overflow(total, json_object_array_length(axes[k]), &total))
            total = SIZE_MAX;
    }
    if (x->matrix_exclude != NULL) {
        rc = eval_list(x->matrix_exclude, ctx, "exclude", &exclude, err);
        if (rc != WF_OK)
            goto out;
    }
    if (x->matrix_include != NULL) {
        rc = eval_list(x->matrix_include, ctx, "include", &include, err);
        if (rc != WF_OK)
            goto out;
    }
    /* The cap is checked on the product before exclude, since that is what the odometer
     * walks and builds, and before a single combination is allocated. */
    if (x->n_matrix > 0 &&
        (total > WF_MAX_ITEMS ||
         (include != NULL && json_object_array_length(include) > WF_MAX_ITEMS - total))) {
        rc = wf__matrix_too_large(task->items_mark, total,
                                  include != NULL ? json_object_array_length(include) : 0, err);
        goto out;
    }
    /* Odometer over the axes, first key outermost. */
    for (size_t i = 0; x->n_matrix > 0 && i < total; i++) {
        json_object *combo = wf_json_check(json_object_new_object());
        bool excluded = false;

        for (size_t k = 0; k < x->n_matrix; k++)
            if (json_object_object_add(combo, x->matrix[k].name,
                                       wf_json_copy(json_object_array_get_idx(axes[k], pos[k]))) !=
                0)
                wf_oom(sizeof(struct lh_entry));
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
            wf_json_push(combos, combo);
        for (size_t k = x->n_matrix; k-- > 0;) {
            if (++pos[k] < json_object_array_length(axes[k]))
                break;
            pos[k] = 0;
        }
    }
    add_includes(task, combos, include);
    *out = combos;
    combos = NULL;
out:
    for (size_t k = 0; k < x->n_matrix; k++)
        json_object_put(axes[k]);
    free(axes);
    free(pos);
    json_object_put(exclude);
    json_object_put(include);
    json_object_put(combos);
    return rc;
}
