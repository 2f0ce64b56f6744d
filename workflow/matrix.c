/* Matrix expansion for with-items (docs/workflow-format.md, "with-items"): the run reads a
 * task's matrix one combination at a time through wf__matrix_open and wf__matrix_get
 * (wf_workflow.h), so a 10,000,000-combination matrix is never a list in memory; the loader
 * checks literal axes against the same cap with wf__matrix_too_large.
 *
 * Combination c of the product is a number in mixed radix (the last axis fastest). Without
 * `exclude` and `include`, item i is combination i, computed on demand. With them, one walk
 * over the product at open time (no allocation per combination) notes which combinations are
 * kept (a bitmap, with a count per 64-bit word to find the i-th kept one) and which include
 * entries fit none (those are items of their own, after the kept ones); the include keys a
 * kept combination gets are added when it is read. */
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

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

/* A mapping's keys that name axes, with the value each wants: how an exclude pattern or an
 * include entry is matched against a combination without building it. never: the mapping
 * has a key that is no axis (an exclude pattern with one matches no combination). */
typedef struct axis_pattern {
    size_t n;
    size_t *axis;
    json_object **want; /* borrowed from the evaluated exclude or include list */
    bool never;
} axis_pattern;

struct wf_matrix {
    const wf_task *task;
    size_t n_axes;
    json_object **axes; /* evaluated, owned */
    size_t *len;        /* each axis's length */
    json_object *include;
    axis_pattern *fits; /* one per include entry (n == 0 and !never for a non-mapping) */
    size_t total;       /* the product of the axes' lengths (0 without axes) */
    size_t n_kept;      /* combinations left after exclude */
    uint64_t *kept;     /* NULL: all of them; else bit c set when combination c is kept */
    uint32_t *rank;     /* kept combinations before each word of kept */
    size_t *extra;      /* the include entries that fit no kept combination, in order */
    size_t n_extra;
};

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

static void pattern_init(const wf_task *task, json_object *map, axis_pattern *p)
{
    const wf_task_extra *x = wf_task_extra_of(task);

    memset(p, 0, sizeof(*p));
    if (!json_object_is_type(map, json_type_object))
        return;
    p->axis = wf_xcalloc((size_t)json_object_object_length(map) + 1, sizeof(*p->axis));
    p->want = wf_xcalloc((size_t)json_object_object_length(map) + 1, sizeof(*p->want));
    json_object_object_foreach(map, key, value)
    {
        size_t k = 0;

        while (k < x->n_matrix && strcmp(x->matrix[k].name, key) != 0)
            k++;
        if (k == x->n_matrix) {
            p->never = true;
            continue;
        }
        p->axis[p->n] = k;
        p->want[p->n++] = value;
    }
}

/* Whether the combination at positions pos has each value p wants. */
static bool pattern_matches(const wf_matrix *m, const axis_pattern *p, const size_t *pos)
{
    for (size_t j = 0; j < p->n; j++) {
        if (!wf_json_equal(json_object_array_get_idx(m->axes[p->axis[j]], pos[p->axis[j]]),
                           p->want[j]))
            return false;
    }
    return true;
}

/* The walk over the product: which combinations exclude leaves, which include entries fit
 * one of them. O(combinations x (exclude + include entries)). */
static void walk(wf_matrix *m, json_object *exclude)
{
    size_t n_ex = exclude != NULL ? json_object_array_length(exclude) : 0;
    size_t n_in = m->include != NULL ? json_object_array_length(m->include) : 0;
    size_t words = (m->total + 63) / 64, n_unfit = n_in;
    axis_pattern *ex = wf_xcalloc(n_ex + 1, sizeof(*ex));
    size_t *pos = wf_xcalloc(m->n_axes, sizeof(*pos));
    bool *fit = wf_xcalloc(n_in + 1, sizeof(*fit));

    for (size_t e = 0; e < n_ex; e++)
        pattern_init(m->task, json_object_array_get_idx(exclude, e), &ex[e]);
    for (size_t e = 0; e < n_in; e++) {
        /* A non-mapping entry, or one with a key no axis has a value for, still fits (only
         * matrix keys must agree); a non-mapping is added as it is. */
        fit[e] = !json_object_is_type(json_object_array_get_idx(m->include, e), json_type_object);
        n_unfit -= fit[e] ? 1 : 0;
    }
    if (n_ex > 0) {
        m->kept = wf_xcalloc(words + 1, sizeof(*m->kept));
        m->rank = wf_xcalloc(words + 1, sizeof(*m->rank));
    }
    m->n_kept = 0;
    for (size_t c = 0; c < m->total; c++) {
        bool excluded = false;

        for (size_t e = 0; e < n_ex && !excluded; e++)
            excluded =
                json_object_is_type(json_object_array_get_idx(exclude, e), json_type_object) &&
                !ex[e].never && pattern_matches(m, &ex[e], pos);
        if (!excluded) {
            if (m->kept != NULL)
                m->kept[c / 64] |= (uint64_t)1 << (c % 64);
            m->n_kept++;
            for (size_t e = 0; n_unfit > 0 && e < n_in; e++) {
                if (!fit[e] && pattern_matches(m, &m->fits[e], pos)) {
                    fit[e] = true;
                    n_unfit--;
                }
            }
        }
        for (size_t k = m->n_axes; k-- > 0;) {
            if (++pos[k] < m->len[k])
                break;
            pos[k] = 0;
        }
    }
    for (size_t w = 0, before = 0; m->kept != NULL && w < words; w++) {
        m->rank[w] = (uint32_t)before;
        before += (size_t)__builtin_popcountll(m->kept[w]);
    }
    /* A non-mapping entry is an item of its own too. */
    m->extra = wf_xcalloc(n_in + 1, sizeof(*m->extra));
    for (size_t e = 0; e < n_in; e++) {
        json_object *entry = json_object_array_get_idx(m->include, e);

        if (!fit[e] || m->n_kept == 0 || !json_object_is_type(entry, json_type_object))
            m->extra[m->n_extra++] = e;
    }
    for (size_t e = 0; e < n_ex; e++) {
        free(ex[e].axis);
        free(ex[e].want);
    }
    free(ex);
    free(pos);
    free(fit);
}

int wf__matrix_open(const wf_task *task, const wf_ctx *ctx, wf_matrix **out, wf_error *err)
{
    const wf_task_extra *x = wf_task_extra_of(task);
    wf_matrix *m = wf_xcalloc(1, sizeof(*m));
    json_object *exclude = NULL;
    size_t n_in;
    int rc = WF_OK;

    *out = NULL;
    m->task = task;
    m->n_axes = x->n_matrix;
    m->axes = wf_xcalloc(m->n_axes + 1, sizeof(*m->axes));
    m->len = wf_xcalloc(m->n_axes + 1, sizeof(*m->len));
    m->total = m->n_axes > 0 ? 1 : 0;
    for (size_t k = 0; k < m->n_axes; k++) {
        char *what = wf_xasprintf("matrix.%s", x->matrix[k].name);

        rc = eval_list(x->matrix[k].value, ctx, what, &m->axes[k], err);
        free(what);
        if (rc != WF_OK)
            goto out;
        m->len[k] = json_object_array_length(m->axes[k]);
        if (__builtin_mul_overflow(m->total, m->len[k], &m->total))
            m->total = SIZE_MAX;
    }
    if (x->matrix_exclude != NULL) {
        rc = eval_list(x->matrix_exclude, ctx, "exclude", &exclude, err);
        if (rc != WF_OK)
            goto out;
    }
    if (x->matrix_include != NULL) {
        rc = eval_list(x->matrix_include, ctx, "include", &m->include, err);
        if (rc != WF_OK)
            goto out;
    }
    n_in = m->include != NULL ? json_object_array_length(m->include) : 0;
    /* The cap is checked on the product before exclude, since that is what the walk visits,
     * and before anything per combination is allocated. */
    if (m->total > WF_MAX_ITEMS || n_in > WF_MAX_ITEMS - m->total) {
        rc = wf__matrix_too_large(task->items_mark, m->total, n_in, err);
        goto out;
    }
    m->fits = wf_xcalloc(n_in + 1, sizeof(*m->fits));
    for (size_t e = 0; e < n_in; e++)
        pattern_init(task, json_object_array_get_idx(m->include, e), &m->fits[e]);
    for (size_t e = 0; e < n_in; e++)
        m->fits[e].never = false; /* keys that are no axis do not stop an entry fitting */
    if (exclude != NULL || n_in > 0) {
        walk(m, exclude);
    } else {
        m->n_kept = m->total;
    }
    *out = m;
    m = NULL;
out:
    json_object_put(exclude);
    wf__matrix_free(m);
    return rc;
}

size_t wf__matrix_count(const wf_matrix *m)
{
    return m->n_kept + m->n_extra;
}

/* The combination number of the i-th kept combination. */
static size_t kept_combination(const wf_matrix *m, size_t i)
{
    size_t lo = 0, hi = (m->total + 63) / 64, bit;
    uint64_t word;

    if (m->kept == NULL)
        return i;
    /* The last word whose count of kept combinations before it is at most i. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (m->rank[mid] <= i)
            lo = mid;
        else
            hi = mid;
    }
    word = m->kept[lo];
    for (size_t skip = i - m->rank[lo]; skip > 0; skip--)
        word &= word - 1;
    bit = (size_t)__builtin_ctzll(word);
    return lo * 64 + bit;
}

json_object *wf__matrix_get(const wf_matrix *m, size_t i)
{
    size_t n_in = m->include != NULL ? json_object_array_length(m->include) : 0;
    size_t c, pos_small[8], *pos;
    json_object *combo;

    if (i >= m->n_kept)
        return wf_json_copy(json_object_array_get_idx(m->include, m->extra[i - m->n_kept]));
    pos = m->n_axes <= WF_ARRAY_LEN(pos_small) ? pos_small : wf_xcalloc(m->n_axes, sizeof(*pos));
    c = kept_combination(m, i);
    for (size_t k = m->n_axes; k-- > 0;) {
        pos[k] = c % m->len[k];
        c /= m->len[k];
    }
    combo = wf_json_check(json_object_new_object());
    for (size_t k = 0; k < m->n_axes; k++) {
        if (json_object_object_add(combo, wf_task_extra_of(m->task)->matrix[k].name,
                                   wf_json_copy(json_object_array_get_idx(m->axes[k], pos[k]))) !=
            0)
            wf_oom(sizeof(struct lh_entry));
    }
    /* GitHub Actions' rules for `include`, in order: an entry's keys are added to every
     * original combination (after exclude) that it fits, never overwriting an original matrix
     * value (a value an earlier entry added may be overwritten). */
    for (size_t e = 0; e < n_in; e++) {
        json_object *entry = json_object_array_get_idx(m->include, e);

        if (!json_object_is_type(entry, json_type_object) || !pattern_matches(m, &m->fits[e], pos))
            continue;
        json_object_object_foreach(entry, key, value)
        {
            if (json_object_object_add(combo, key, wf_json_copy(value)) != 0)
                wf_oom(sizeof(struct lh_entry));
        }
    }
    if (pos != pos_small)
        free(pos);
    return combo;
}

void wf__matrix_free(wf_matrix *m)
{
    size_t n_in;

    if (m == NULL)
        return;
    n_in = m->include != NULL ? json_object_array_length(m->include) : 0;
    for (size_t k = 0; k < m->n_axes; k++)
        json_object_put(m->axes[k]);
    for (size_t e = 0; m->fits != NULL && e < n_in; e++) {
        free(m->fits[e].axis);
        free(m->fits[e].want);
    }
    free(m->fits);
    json_object_put(m->include);
    free(m->axes);
    free(m->len);
    free(m->kept);
    free(m->rank);
    free(m->extra);
    free(m);
}

int wf__matrix_expand(const wf_task *task, const wf_ctx *ctx, json_object **out, wf_error *err)
{
    wf_matrix *m = NULL;
    int rc = wf__matrix_open(task, ctx, &m, err);

    *out = NULL;
    if (rc != WF_OK)
        return rc;
    *out = wf_json_check(json_object_new_array_ext((int)wf__matrix_count(m)));
    for (size_t i = 0; i < wf__matrix_count(m); i++)
        wf_json_push(*out, wf__matrix_get(m, i));
    wf__matrix_free(m);
    return WF_OK;
}
