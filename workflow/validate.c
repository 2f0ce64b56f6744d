/*
 * validate.c: the dependency graph of a loaded workflow and the checks that need all of it.
 *
 * A task depends on its `needs` and on every task its templates name (task.X and status
 * functions with a literal name), except itself inside its own `publish`. Names are looked
 * up in a hash table of the task names (the graph is built in O(N + E)); the order is
 * computed with Kahn's algorithm, and the tasks it cannot order hold the cycles, each
 * reported once, in order, at the first task of the cycle in the file. A pipelined task
 * (`pipeline: true`) is checked here too: its with-items names a with-items source task, and
 * none of its other templates reads that source as a whole.
 */
#include <stdlib.h>
#include <string.h>

#include "wf_hash.h"

#include "loader_internal.h"

typedef struct graph {
    wf__loader *L;
    wf_workflow *wf;
    const char **task_names; /* NULL-terminated, for wf_closest */
    size_t **deps;           /* per task: growable lists, deduplicated at the end */
    size_t *n_deps, *cap_deps;
} graph;

typedef struct named_index {
    const char *name;
    size_t index;
} named_index;

static int named_cmp(const void *a, const void *b)
{
    return strcmp(((const named_index *)a)->name, ((const named_index *)b)->name);
}

static int size_cmp(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;

    return x < y ? -1 : x > y;
}

static void add_dep(graph *g, size_t task, size_t dep)
{
    if (g->n_deps[task] == g->cap_deps[task]) {
        g->cap_deps[task] = g->cap_deps[task] ? g->cap_deps[task] * 2 : 4;
        g->deps[task] = wf_xrealloc(g->deps[task], g->cap_deps[task] * sizeof(size_t));
    }
    g->deps[task][g->n_deps[task]++] = dep;
}

static void unknown_name(wf__loader *L, wf_mark m, const char *kind, const char *name,
                         const char *const *candidates)
{
    const char *near = wf_closest(name, candidates);

    if (near != NULL)
        wf__loader_error(L, m, WF_EUNKNOWN, "unknown %s '%s'; did you mean '%s'?", kind, name,
                         near);
    else
        wf__loader_error(L, m, WF_EUNKNOWN, "unknown %s '%s'", kind, name);
}

/* The names a var reference can resolve to: workflow vars and vars tasks publish. */
typedef struct var_names {
    const char **names; /* NULL-terminated */
    size_t n;
} var_names;

static void collect_var_names(const wf_workflow *wf, var_names *v)
{
    size_t cap = wf->n_vars + 1;

    for (size_t t = 0; t < wf->n_tasks; t++)
        cap += wf->tasks[t].n_publish;
    v->names = wf_xcalloc(cap, sizeof(*v->names));
    v->n = 0;
    for (size_t k = 0; k < wf->n_vars; k++)
        v->names[v->n++] = wf->vars[k].name;
    for (size_t t = 0; t < wf->n_tasks; t++)
        for (size_t k = 0; k < wf->tasks[t].n_publish; k++)
            v->names[v->n++] = wf->tasks[t].publish[k].name;
}

static long find_var(const wf_workflow *wf, const char *name)
{
    for (size_t k = 0; k < wf->n_vars; k++)
        if (strcmp(wf->vars[k].name, name) == 0)
            return (long)k;
    return -1;
}

static bool is_published(const wf_workflow *wf, const char *name)
{
    for (size_t t = 0; t < wf->n_tasks; t++)
        for (size_t k = 0; k < wf->tasks[t].n_publish; k++)
            if (strcmp(wf->tasks[t].publish[k].name, name) == 0)
                return true;
    return false;
}

static bool has_input(const wf_workflow *wf, const char *name)
{
    for (size_t k = 0; k < wf->n_inputs; k++)
        if (strcmp(wf->inputs[k].name, name) == 0)
            return true;
    return false;
}

static const char *role_place(wf__tpl_role role)
{
    switch (role) {
    case WF__ROLE_VARS:
        return "in 'vars', which are computed before any task runs";
    case WF__ROLE_ENV:
        return "in the workflow's 'env', which is set before any task runs";
    case WF__ROLE_SLURM:
        return "in the top-level 'slurm', which applies to every Slurm task alike";
    default:
        return "here";
    }
}

/* `pipeline: true`: with-items must be exactly << task.NAME >> (spaces allowed). Returns
 * NAME's length and sets *name, or 0. */
static size_t pipe_source_name(const char *src, const char **name)
{
    const char *p = src, *start;

    while (*p == ' ' || *p == '\t' || *p == '\n')
        p++;
    if (strncmp(p, "<<", 2) != 0)
        return 0;
    for (p += 2; *p == ' ' || *p == '\t'; p++)
        ;
    if (strncmp(p, "task.", 5) != 0)
        return 0;
    start = p += 5;
    while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
           *p == '_' || *p == '-')
        p++;
    if (p == start)
        return 0;
    *name = start;
    for (start = p; *p == ' ' || *p == '\t'; p++)
        ;
    if (strncmp(p, ">>", 2) != 0)
        return 0;
    for (p += 2; *p == ' ' || *p == '\t' || *p == '\n'; p++)
        ;
    return *p == '\0' ? (size_t)(start - *name) : 0;
}

/* Sets pipe_source for every pipelined task, or reports why its with-items cannot be
 * pipelined (pipe_source is then SIZE_MAX). */
static void check_pipeline_sources(graph *g)
{
    wf_workflow *wf = g->wf;

    for (size_t t = 0; t < wf->n_tasks; t++) {
        wf_task *task = &wf->tasks[t];
        const char *name = NULL;
        size_t len = 0;
        char *src;
        long s;

        task->pipe_source = SIZE_MAX;
        if (!task->pipeline || task->items_kind == WF_ITEMS_NONE)
            continue;
        if (task->items_kind == WF_ITEMS_LIST && task->items->kind == WF_VNODE_TEMPLATE)
            len = pipe_source_name(wf_tpl_source(task->items->tpl), &name);
        if (len == 0) {
            wf__loader_error(g->L, task->items_mark, WF_EINVAL,
                             "task '%s' has 'pipeline: true', so its with-items must be another "
                             "with-items task's results, exactly '<< task.NAME >>' (filter or "
                             "reshape them in that task, or drop 'pipeline')",
                             task->name);
            continue;
        }
        src = wf_xstrndup(name, len);
        s = wf_workflow_task_index(wf, src);
        if (s >= 0 && wf->tasks[s].items_kind == WF_ITEMS_NONE)
            wf__loader_error(g->L, task->items_mark, WF_EINVAL,
                             "task '%s' has 'pipeline: true', but its source '%s' has no "
                             "'with-items': a pipeline takes a with-items task's results one by "
                             "one (drop 'pipeline' to read the whole result)",
                             task->name, src);
        else if (s >= 0 && (size_t)s != t)
            task->pipe_source = (size_t)s;
        free(src); /* an unknown name is reported with the with-items template's references */
    }
}

/* The `<< >>` around byte `column` of line `line` of a template's source (owned), for an
 * error that quotes the expression. */
static char *expr_at(const char *src, int line, int column)
{
    const char *p = src, *open, *close;

    for (int l = 1; l < line && p != NULL; l++) {
        p = strchr(p, '\n');
        if (p != NULL)
            p++;
    }
    if (p == NULL || (size_t)column > strlen(p) + 1)
        return wf_xstrdup(src);
    p += column > 0 ? column - 1 : 0;
    for (open = p; open > src && strncmp(open, "<<", 2) != 0; open--)
        ;
    close = strstr(p, ">>");
    if (strncmp(open, "<<", 2) != 0 || close == NULL)
        return wf_xstrdup(src);
    return wf_xstrndup(open, (size_t)(close + 2 - open));
}

/* A vars.X read by a task, checked once the graph is known. */
typedef struct var_read {
    size_t task;
    const char *name;
    wf_mark mark;
} var_read;

static void check_site(graph *g, const wf__tpl_site *s, const var_names *vars,
                       const char *const *input_names, var_read **reads, size_t *n_reads,
                       size_t *cap_reads)
{
    const wf_workflow *wf = g->wf;
    const wf_tpl_ref *refs;
    size_t n = wf_tpl_refs(s->tpl, &refs);
    bool in_task = s->role == WF__ROLE_TASK || s->role == WF__ROLE_ITEMS ||
                   s->role == WF__ROLE_PUBLISH || s->role == WF__ROLE_ONCE;
    const wf_task *task = in_task ? &wf->tasks[s->owner] : NULL;

    for (size_t k = 0; k < n; k++) {
        const wf_tpl_ref *r = &refs[k];
        wf_mark m = s->marks[k];

        if (r->name == NULL)
            continue;
        switch (r->kind) {
        case WF_TPL_REF_TASK:
        case WF_TPL_REF_STATUS_FN: {
            long dep;

            if (s->role == WF__ROLE_VARS || s->role == WF__ROLE_ENV || s->role == WF__ROLE_SLURM) {
                wf__loader_error(g->L, m, WF_EINVAL, "task results cannot be used %s",
                                 role_place(s->role));
                break;
            }
            if (s->role == WF__ROLE_PUBLISH && strcmp(r->name, task->name) == 0)
                break;
            if (in_task && task->pipe_source != SIZE_MAX && s->role != WF__ROLE_ITEMS &&
                strcmp(r->name, wf->tasks[task->pipe_source].name) == 0) {
                char *expr = expr_at(wf_tpl_source(s->tpl), r->line, r->column);

                wf__loader_error(g->L, m, WF_EINVAL,
                                 "'%s' reads task '%s' as a whole, but task '%s' is pipelined "
                                 "from it and takes its results one by one; use item (the "
                                 "result of the same item of '%s')",
                                 expr, r->name, task->name, r->name);
                free(expr);
            }
            dep = wf_workflow_task_index(wf, r->name);
            if (dep < 0) {
                unknown_name(g->L, m, "task", r->name, g->task_names);
                break;
            }
            if (in_task)
                add_dep(g, s->owner, (size_t)dep);
            break;
        }
        case WF_TPL_REF_STATUS_ANY:
            if (s->role == WF__ROLE_VARS || s->role == WF__ROLE_ENV || s->role == WF__ROLE_SLURM)
                wf__loader_error(g->L, m, WF_EINVAL, "'%s()' cannot be used %s", r->name,
                                 role_place(s->role));
            break;
        case WF_TPL_REF_ITEM:
            if (task != NULL && task->items_kind != WF_ITEMS_NONE && s->role == WF__ROLE_TASK)
                break;
            if (s->role == WF__ROLE_ITEMS)
                wf__loader_error(g->L, m, WF_EINVAL,
                                 "'%s' cannot be used in 'with-items' itself: the list is "
                                 "computed before any item exists",
                                 r->name);
            else if (s->role == WF__ROLE_ONCE)
                wf__loader_error(
                    g->L, m, WF_EINVAL,
                    "'%s' cannot be used in 'concurrency', 'cpus' or 'batch-size', which are "
                    "evaluated once for the whole task, before its items",
                    r->name);
            else if (s->role == WF__ROLE_PUBLISH)
                wf__loader_error(g->L, m, WF_EINVAL,
                                 "'%s' cannot be used in 'publish', which is evaluated once "
                                 "for the whole task",
                                 r->name);
            else if (task != NULL)
                wf__loader_error(g->L, m, WF_EINVAL,
                                 "'%s' is only defined in a task with 'with-items', and task "
                                 "'%s' has none",
                                 r->name, task->name);
            else
                wf__loader_error(g->L, m, WF_EINVAL,
                                 "'%s' is only defined inside a task with 'with-items'", r->name);
            break;
        case WF_TPL_REF_INPUT:
            if (!has_input(wf, r->name))
                unknown_name(g->L, m, "input", r->name, input_names);
            break;
        case WF_TPL_REF_VAR: {
            long v = find_var(wf, r->name);

            if (s->role == WF__ROLE_VARS) {
                if (v < 0 || (size_t)v >= s->owner)
                    wf__loader_error(g->L, m, WF_EINVAL,
                                     "var '%s' is not defined before '%s' (vars can use "
                                     "inputs, env and earlier vars)",
                                     r->name, wf->vars[s->owner].name);
                break;
            }
            if (v >= 0)
                break;
            if (!is_published(wf, r->name)) {
                unknown_name(g->L, m, "var", r->name, vars->names);
                break;
            }
            if (s->role == WF__ROLE_ENV || s->role == WF__ROLE_SLURM) {
                wf__loader_error(g->L, m, WF_EINVAL,
                                 "var '%s' is published by a task and cannot be used %s", r->name,
                                 role_place(s->role));
                break;
            }
            if (in_task) {
                if (*n_reads == *cap_reads) {
                    *cap_reads = *cap_reads ? *cap_reads * 2 : 16;
                    *reads = wf_xrealloc(*reads, *cap_reads * sizeof(**reads));
                }
                (*reads)[*n_reads].task = s->owner;
                (*reads)[*n_reads].name = r->name;
                (*reads)[*n_reads].mark = m;
                (*n_reads)++;
            }
            break;
        }
        }
    }
}

/* Marks t done and releases what waits on it (transitively), as Kahn's algorithm would. */
static void release(const wf_workflow *wf, size_t t, size_t *pending, bool *done, size_t *stack)
{
    size_t sp = 0;

    done[t] = true;
    stack[sp++] = t;
    while (sp > 0) {
        const wf_task *task = &wf->tasks[stack[--sp]];

        for (size_t d = 0; d < task->n_dependents; d++) {
            size_t u = task->dependents[d];

            if (!done[u] && --pending[u] == 0) {
                done[u] = true;
                stack[sp++] = u;
            }
        }
    }
}

/* Reports the cycles among the tasks Kahn's algorithm could not order, one error each. After
 * each, the cycle is taken out and the order goes on, so independent cycles are found too. */
static void report_cycles(graph *g, size_t *pending, bool *done)
{
    wf_workflow *wf = g->wf;
    size_t n = wf->n_tasks, start = 0;
    long *pos = wf_xmalloc(n * sizeof(*pos));
    size_t *path = wf_xmalloc((n + 1) * sizeof(*path));
    size_t *stack = wf_xmalloc((n + 1) * sizeof(*stack));

    for (;;) {
        size_t len = 0, cur, first, lo;
        wf_strbuf sb = WF_STRBUF_INIT;

        while (start < n && done[start])
            start++;
        if (start == n)
            break;
        /* Every task left waits on a task that is left too: walking them must loop. */
        for (size_t k = 0; k < n; k++)
            pos[k] = -1;
        cur = start;
        while (pos[cur] < 0) {
            size_t next = cur;

            pos[cur] = (long)len;
            path[len++] = cur;
            for (size_t d = 0; d < wf->tasks[cur].n_deps; d++) {
                if (!done[wf->tasks[cur].deps[d]]) {
                    next = wf->tasks[cur].deps[d];
                    break;
                }
            }
            cur = next;
        }
        first = (size_t)pos[cur];
        /* Name the cycle from its task that comes first in the file. */
        lo = first;
        for (size_t k = first; k < len; k++)
            if (path[k] < path[lo])
                lo = k;
        for (size_t k = 0; k <= len - first; k++) {
            size_t t = path[first + (lo - first + k) % (len - first)];

            wf_strbuf_addf(&sb, "%s%s", k ? " -> " : "", wf->tasks[t].name);
        }
        wf__loader_error(g->L, wf->tasks[path[lo]].mark, WF_ECYCLE,
                         "dependency cycle: %s (each task depends on the next)",
                         wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
        for (size_t k = first; k < len; k++)
            if (!done[path[k]])
                release(wf, path[k], pending, done, stack);
    }
    free(pos);
    free(path);
    free(stack);
}

static void order(graph *g)
{
    wf_workflow *wf = g->wf;
    size_t n = wf->n_tasks, head = 0, tail = 0;
    size_t *pending = wf_xcalloc(n, sizeof(*pending));
    size_t *queue = wf_xmalloc(n * sizeof(*queue));
    bool *done = wf_xcalloc(n, sizeof(*done));

    wf->topo_order = wf_xmalloc(n * sizeof(*wf->topo_order));
    for (size_t t = 0; t < n; t++) {
        pending[t] = wf->tasks[t].n_deps;
        if (pending[t] == 0) {
            queue[tail++] = t;
            done[t] = true;
        }
    }
    while (head < tail) {
        size_t t = queue[head++];

        for (size_t d = 0; d < wf->tasks[t].n_dependents; d++) {
            size_t u = wf->tasks[t].dependents[d];

            if (--pending[u] == 0) {
                queue[tail++] = u;
                done[u] = true;
            }
        }
    }
    memcpy(wf->topo_order, queue, tail * sizeof(*queue));
    for (size_t k = 0; k < tail; k++) {
        wf_task *task = &wf->tasks[queue[k]];

        if (task->pipe_source != SIZE_MAX)
            task->pipe_depth = wf->tasks[task->pipe_source].pipe_depth + 1;
    }
    if (tail < n)
        report_cycles(g, pending, done);
    free(pending);
    free(queue);
    free(done);
}

/* Errors for vars.X read by a task none of whose ancestors publishes X. */
static void check_var_reads(graph *g, const var_read *reads, size_t n_reads)
{
    wf_workflow *wf = g->wf;
    size_t *stamp = wf_xcalloc(wf->n_tasks, sizeof(*stamp));
    size_t *stack = wf_xmalloc(wf->n_tasks * sizeof(*stack));
    size_t gen = 0, last_task = (size_t)-1;

    for (size_t r = 0; r < n_reads; r++) {
        const var_read *rd = &reads[r];
        long publisher = -1;
        bool ok = false;

        if (rd->task != last_task) {
            size_t sp = 0;

            /* Mark the ancestors of the reading task. */
            gen++;
            last_task = rd->task;
            stack[sp++] = rd->task;
            while (sp > 0) {
                const wf_task *t = &wf->tasks[stack[--sp]];

                for (size_t d = 0; d < t->n_deps; d++) {
                    if (stamp[t->deps[d]] != gen) {
                        stamp[t->deps[d]] = gen;
                        stack[sp++] = t->deps[d];
                    }
                }
            }
        }
        for (size_t t = 0; t < wf->n_tasks && !ok; t++) {
            for (size_t k = 0; k < wf->tasks[t].n_publish; k++) {
                if (strcmp(wf->tasks[t].publish[k].name, rd->name) != 0)
                    continue;
                if (publisher < 0)
                    publisher = (long)t;
                if (stamp[t] == gen && t != rd->task)
                    ok = true;
            }
        }
        if (!ok)
            wf__loader_error(g->L, rd->mark, WF_EINVAL,
                             "var '%s' is published by task '%s', which task '%s' does not "
                             "depend on; add needs: [%s]",
                             rd->name, wf->tasks[publisher].name, wf->tasks[rd->task].name,
                             wf->tasks[publisher].name);
    }
    free(stamp);
    free(stack);
}

/* The name index (see wf_workflow.h): a lookup is one hash and about one strcmp, where the
 * sorted array took a qsort of every name and 17 comparisons a lookup at 100,000 tasks. */
static void index_names(wf_workflow *wf)
{
    size_t n = wf->n_tasks, slots = 16;
    bool same = false;
    named_index *sorted;

    while (slots < 2 * n)
        slots *= 2;
    wf->name_slots = wf_xcalloc(slots, sizeof(*wf->name_slots));
    wf->name_mask = slots - 1;
    for (size_t t = 0; t < n && !same; t++) {
        size_t k = wf_hash_bytes(wf->tasks[t].name, strlen(wf->tasks[t].name)) & wf->name_mask;

        for (; wf->name_slots[k] != 0; k = (k + 1) & wf->name_mask)
            same = same || strcmp(wf->tasks[wf->name_slots[k] - 1].name, wf->tasks[t].name) == 0;
        wf->name_slots[k] = (uint32_t)(t + 1);
    }
    if (!same)
        return;
    free(wf->name_slots);
    wf->name_slots = NULL;
    /* qsort takes no context pointer: sort (name, index) pairs. */
    sorted = wf_xmalloc(n * sizeof(*sorted));
    for (size_t t = 0; t < n; t++) {
        sorted[t].name = wf->tasks[t].name;
        sorted[t].index = t;
    }
    qsort(sorted, n, sizeof(*sorted), named_cmp);
    wf->by_name = wf_xmalloc(n * sizeof(*wf->by_name));
    for (size_t t = 0; t < n; t++)
        wf->by_name[t] = sorted[t].index;
    free(sorted);
}

long wf_workflow_task_index(const wf_workflow *wf, const char *name)
{
    size_t lo = 0, hi = wf->by_name != NULL ? wf->n_tasks : 0;

    if (wf->name_slots != NULL) {
        for (size_t k = wf_hash_bytes(name, strlen(name)) & wf->name_mask; wf->name_slots[k] != 0;
             k = (k + 1) & wf->name_mask)
            if (strcmp(wf->tasks[wf->name_slots[k] - 1].name, name) == 0)
                return (long)wf->name_slots[k] - 1;
        return -1;
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(wf->tasks[wf->by_name[mid]].name, name);

        if (cmp == 0)
            return (long)wf->by_name[mid];
        if (cmp < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

void wf__validate(wf__loader *L, wf_workflow *wf, const wf__sites *sites, const wf__needs *needs)
{
    size_t n = wf->n_tasks, n_reads = 0, cap_reads = 0;
    graph g = { 0 };
    var_names vars;
    const char **input_names = wf_xcalloc(wf->n_inputs + 1, sizeof(*input_names));
    var_read *reads = NULL;
    size_t *n_dependents;

    g.L = L;
    g.wf = wf;
    g.task_names = wf_xcalloc(n + 1, sizeof(*g.task_names));
    g.deps = wf_xcalloc(n, sizeof(*g.deps));
    g.n_deps = wf_xcalloc(n, sizeof(*g.n_deps));
    g.cap_deps = wf_xcalloc(n, sizeof(*g.cap_deps));
    for (size_t t = 0; t < n; t++)
        g.task_names[t] = wf->tasks[t].name;
    for (size_t k = 0; k < wf->n_inputs; k++)
        input_names[k] = wf->inputs[k].name;
    collect_var_names(wf, &vars);

    index_names(wf);
    check_pipeline_sources(&g);
    for (size_t t = 0; t < n; t++) {
        for (size_t k = 0; k < needs[t].n; k++) {
            const wf__need *nm = &needs[t].names[k];
            long dep = wf_workflow_task_index(wf, nm->name);

            if (dep < 0)
                unknown_name(L, nm->mark, "task", nm->name, g.task_names);
            else
                add_dep(&g, t, (size_t)dep);
        }
    }
    for (size_t k = 0; k < sites->len; k++) {
        const wf__tpl_site *s = &sites->items[k];

        check_site(&g, s, &vars, input_names, &reads, &n_reads, &cap_reads);
        if (s->role == WF__ROLE_TASK && s->tpl == wf->tasks[s->owner].when) {
            const wf_tpl_ref *refs;
            size_t nr = wf_tpl_refs(s->tpl, &refs);

            for (size_t r = 0; r < nr; r++)
                if (refs[r].kind == WF_TPL_REF_STATUS_FN || refs[r].kind == WF_TPL_REF_STATUS_ANY)
                    wf->tasks[s->owner].when_uses_status = true;
        }
    }

    /* deps: sorted, unique; dependents: the reverse edges, sorted by construction. */
    n_dependents = wf_xcalloc(n, sizeof(*n_dependents));
    for (size_t t = 0; t < n; t++) {
        wf_task *task = &wf->tasks[t];
        size_t w = 0;

        if (g.n_deps[t] > 1)
            qsort(g.deps[t], g.n_deps[t], sizeof(size_t), size_cmp);
        for (size_t k = 0; k < g.n_deps[t]; k++)
            if (w == 0 || g.deps[t][w - 1] != g.deps[t][k])
                g.deps[t][w++] = g.deps[t][k];
        task->deps = g.deps[t];
        task->n_deps = w;
        g.deps[t] = NULL;
        if (task->deps == NULL)
            task->deps = wf_xmalloc(0);
        for (size_t k = 0; k < w; k++)
            n_dependents[task->deps[k]]++;
    }
    for (size_t t = 0; t < n; t++)
        wf->tasks[t].dependents = wf_xmalloc(n_dependents[t] * sizeof(size_t));
    for (size_t t = 0; t < n; t++)
        for (size_t k = 0; k < wf->tasks[t].n_deps; k++) {
            wf_task *d = &wf->tasks[wf->tasks[t].deps[k]];

            d->dependents[d->n_dependents++] = t;
        }

    order(&g);
    check_var_reads(&g, reads, n_reads);

    free(n_dependents);
    free(reads);
    free(vars.names);
    free(input_names);
    free(g.task_names);
    free(g.deps);
    free(g.n_deps);
    free(g.cap_deps);
}
