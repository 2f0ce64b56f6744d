/*
 * load_task.c: the `tasks` and `defaults` keys -> wf_task (see loader_internal.h).
 *
 * Each task's keys are checked with their types and bounds (run or action, needs,
 * with-items and its matrix, retry, cache, slurm options, ...), its templates are compiled
 * and the defaults are folded into it: defaults are parsed once and their templates are
 * compiled again for each task, so that every task owns its templates. loader.c calls
 * wf__ld_parse_defaults and wf__ld_parse_tasks; this file uses load_values.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

/* ---- key tables (NULL-terminated for wf_closest) ------------------------------------ */

static const char *const DEFAULTS_KEYS[] = {
    "timeout", "retry", "env", "workdir", "shell", "continue-on-error", "executor", "cpus", NULL,
};
/* Every task key, in the order messages list them. TK_ names index a task's map, read in one
 * pass (task_keys) rather than searched for each key: about 30 searches a task were 9 % of
 * `validate`'s instructions at 100,000 tasks (B15). */
#define TASK_KEY_LIST(X)                                                                         \
    X(RUN, "run"), X(ACTION, "action"), X(INPUT, "input"), X(NEEDS, "needs"),                    \
        X(WITH_ITEMS, "with-items"), X(CONCURRENCY, "concurrency"), X(BATCH_SIZE, "batch-size"), \
        X(FAIL_FAST, "fail-fast"), X(WHEN, "when"), X(RETRY, "retry"), X(TIMEOUT, "timeout"),    \
        X(CONTINUE_ON_ERROR, "continue-on-error"), X(OUTPUT, "output"), X(ENV, "env"),           \
        X(WORKDIR, "workdir"), X(SHELL, "shell"), X(PUBLISH, "publish"), X(CACHE, "cache"),      \
        X(EXECUTOR, "executor"), X(SLURM, "slurm"), X(DESCRIPTION, "description"),               \
        X(ENV_FILE, "env-file"), X(USES, "uses"), X(WITH, "with"), X(LABEL, "label"),            \
        X(CPUS, "cpus"), X(PIPELINE, "pipeline"), X(MAX_OUTPUT, "max-output")
#define TK_ENUM(id, text) TK_##id
#define TK_TEXT(id, text) text
static const char *const TASK_KEYS[] = { TASK_KEY_LIST(TK_TEXT), NULL };
enum { TASK_KEY_LIST(TK_ENUM), TK_N };
/* Keys that say how a process or an action runs: a `uses:` task runs a workflow instead. */
static const char *const NOT_FOR_USES[] = {
    "input",    "output", "env",      "workdir", "shell",      "cache",
    "executor", "slurm",  "env-file", "cpus",    "max-output", NULL,
};
static const char *const RETRY_KEYS[] = { "count", "delay", "backoff", "max-delay", NULL };
static const char *const BACKOFFS[] = { "constant", "linear", "exponential", NULL };
static const char *const OUTPUT_MODES[] = { "text", "json", "lines", NULL };
static const char *const EXECUTORS[] = { "local", "slurm", NULL };
static const char *const CACHE_KEYS[] = { "key", "sources", "generates", NULL };
static const char *const CORE_ACTIONS[] = { "core.noop",  "core.echo",  "core.fail",
                                            "core.sleep", "core.value", NULL };

/* ---- retry and defaults ------------------------------------------------------------- */

static void parse_retry(wf__ld *c, const wf__ynode *n, wf_retry *r)
{
    const wf__ynode *v, *count;

    memset(r, 0, sizeof(*r));
    if (n->type == WF__Y_INT) {
        wf__ld_get_int(c, n, "retry", 0, &r->count);
        return;
    }
    if (n->type != WF__Y_MAP) {
        wf__ld_type_error(c, n, "retry", "a count or a map {count, delay, backoff, max-delay}");
        return;
    }
    wf__ld_check_keys(c, n, RETRY_KEYS, "retry");
    count = wf__ld_get(n, "count", NULL);
    if (count == NULL)
        wf__loader_error(c->L, n->mark, WF_EMISSING,
                         "'retry' needs 'count' (how many attempts after the first)");
    else
        wf__ld_get_int(c, count, "retry.count", 0, &r->count);
    v = wf__ld_get(n, "delay", NULL);
    if (v != NULL)
        wf__ld_get_duration(c, v, "retry.delay", &r->delay_ms);
    v = wf__ld_get(n, "backoff", NULL);
    if (v != NULL) {
        int b = wf__ld_get_enum(c, v, "backoff", BACKOFFS);

        r->backoff = b == 1   ? WF_BACKOFF_LINEAR
                     : b == 2 ? WF_BACKOFF_EXPONENTIAL
                              : WF_BACKOFF_CONSTANT;
    }
    v = wf__ld_get(n, "max-delay", NULL);
    if (v != NULL)
        wf__ld_get_duration(c, v, "retry.max-delay", &r->max_delay_ms);
}

static void check_env_map(wf__ld *c, const wf__ynode *map, const char *what)
{
    if (!wf__ld_expect_map(c, map, what))
        return;
    for (size_t k = 0; k < map->n; k++) {
        if (!wf__ld_valid_env_name(map->keys[k]->text))
            wf__loader_error(c->L, map->keys[k]->mark, WF_EINVAL,
                             "invalid environment variable name '%s': use letters, digits and "
                             "'_', starting with a letter or '_'",
                             map->keys[k]->text);
        wf__ld_text_of(c, map->items[k], map->keys[k]->text);
    }
}

/* Compiles a template only to report its errors (defaults are compiled again per task). */
static void check_tpl(wf__ld *c, const wf__ynode *n, const char *what)
{
    wf_tpl *t = NULL;
    wf_error err;

    if (wf__ld_text_of(c, n, what) == NULL)
        return;
    wf_error_init(&err);
    if (wf_tpl_compile(n->text, n->len, 0, &t, &err) != WF_OK) {
        wf_mark m = wf__scalar_pos(c->L, n, err.line, err.column);

        wf__loader_error(c->L, m, err.code, "%s", err.message ? err.message : "");
    }
    wf_tpl_free(t);
    wf_error_release(&err);
}

void wf__ld_parse_defaults(wf__ld *c, const wf__ynode *map)
{
    const wf__ynode *v;

    if (!wf__ld_expect_map(c, map, "defaults"))
        return;
    wf__ld_check_keys(c, map, DEFAULTS_KEYS, "defaults");
    v = wf__ld_get(map, "timeout", NULL);
    if (v != NULL)
        c->has_timeout = wf__ld_get_duration(c, v, "timeout", &c->timeout_ms);
    v = wf__ld_get(map, "retry", NULL);
    if (v != NULL) {
        parse_retry(c, v, &c->retry);
        c->has_retry = true;
    }
    v = wf__ld_get(map, "continue-on-error", NULL);
    if (v != NULL)
        c->has_coe = wf__ld_get_bool(c, v, "continue-on-error", &c->coe);
    v = wf__ld_get(map, "executor", NULL);
    if (v != NULL) {
        int e = wf__ld_get_enum(c, v, "executor", EXECUTORS);

        c->has_executor = e >= 0;
        c->executor = e == 1 ? WF_EXECUTOR_SLURM : WF_EXECUTOR_LOCAL;
    }
    v = wf__ld_get(map, "env", NULL);
    if (v != NULL) {
        check_env_map(c, v, "env");
        if (v->type == WF__Y_MAP) {
            c->env = v;
            for (size_t k = 0; k < v->n; k++)
                if (wf__ld_is_scalar(v->items[k]) && v->items[k]->type != WF__Y_NULL)
                    check_tpl(c, v->items[k], v->keys[k]->text);
        }
    }
    v = wf__ld_get(map, "workdir", NULL);
    if (v != NULL) {
        check_tpl(c, v, "workdir");
        c->workdir = wf__ld_is_scalar(v) && v->type != WF__Y_NULL ? v : NULL;
    }
    v = wf__ld_get(map, "shell", NULL);
    if (v != NULL) {
        check_tpl(c, v, "shell");
        c->shell = wf__ld_is_scalar(v) && v->type != WF__Y_NULL ? v : NULL;
    }
    v = wf__ld_get(map, "cpus", NULL);
    if (v != NULL) {
        int cpus;

        if (v->type == WF__Y_STRING && strstr(v->text, "<<") != NULL)
            check_tpl(c, v, "cpus");
        else if (!wf__ld_get_int(c, v, "cpus", 1, &cpus))
            v = NULL;
        c->cpus = v;
    }
}

/* ---- tasks -------------------------------------------------------------------------- */

static void parse_run(wf__ld *c, wf_task *t, const wf__ynode *n)
{
    t->run_mark = n->mark;
    if (n->type == WF__Y_LIST) {
        if (n->n == 0) {
            wf__loader_error(c->L, n->mark, WF_EINVAL,
                             "'run' as a list needs at least the program: [prog, arg, ...]");
            return;
        }
        t->run_argv = wf_xcalloc(n->n + 1, sizeof(*t->run_argv));
        for (size_t k = 0; k < n->n; k++) {
            if (wf__ld_text_of(c, n->items[k], "run") == NULL)
                continue;
            t->run_argv[t->run_argc++] =
                wf__ld_compile(c, n->items[k], WF_TPL_CSTRING, WF__ROLE_TASK, t->index);
        }
        return;
    }
    if (!wf__ld_is_scalar(n) || n->type == WF__Y_NULL) {
        wf__ld_type_error(c, n, "run", "a command string or a list [prog, arg, ...]");
        return;
    }
    if (n->len == 0) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "'run' is an empty command");
        return;
    }
    t->run = wf__ld_compile(c, n, WF_TPL_SHELL, WF__ROLE_TASK, t->index);
}

static bool valid_action_name(const char *s)
{
    const char *dot = strchr(s, '.');
    bool ok = dot != NULL;

    /* ns.name: each dot-separated part follows the task name rule. */
    while (ok && *s != '\0') {
        const char *end = strchr(s, '.');
        size_t len = end != NULL ? (size_t)(end - s) : strlen(s);
        char *part = wf_xstrndup(s, len);

        ok = len > 0 && wf__ld_valid_name(part);
        free(part);
        s += len;
        if (*s == '.') {
            s++;
            ok = ok && *s != '\0';
        }
    }
    return ok;
}

static void parse_action(wf__ld *c, wf_task *t, const wf__ynode *n)
{
    t->run_mark = n->mark;
    if (n->type != WF__Y_STRING) {
        wf__ld_type_error(c, n, "action", "an action name like core.echo");
        return;
    }
    if (!valid_action_name(n->text)) {
        wf__loader_error(c->L, n->mark, WF_EINVAL,
                         "invalid action name '%s': use namespace.name, like core.echo", n->text);
        return;
    }
    if (strncmp(n->text, "core.", 5) == 0 && !wf__ld_in_list(n->text, CORE_ACTIONS)) {
        const char *near = wf_closest(n->text, CORE_ACTIONS);
        wf_strbuf sb = WF_STRBUF_INIT;

        if (near != NULL) {
            wf_strbuf_addf(&sb, "; did you mean '%s'?", near);
        } else {
            wf_strbuf_adds(&sb, " (built-in actions: ");
            wf__ld_join_list(&sb, CORE_ACTIONS);
            wf_strbuf_addc(&sb, ')');
        }
        wf__loader_error(c->L, n->mark, WF_EUNKNOWN, "unknown built-in action '%s'%s", n->text,
                         wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
    t->action = wf_xstrdup(n->text);
}

static void add_need(wf__ld *c, wf__needs *nd, const wf__ynode *name)
{
    nd->names[nd->n].name = wf_arena_strndup(&c->names, name->text, name->len);
    nd->names[nd->n].mark = name->mark;
    nd->n++;
}

static void parse_needs(wf__ld *c, size_t ti, const wf__ynode *n)
{
    wf__needs *nd = &c->needs[ti];

    if (n->type == WF__Y_STRING) {
        nd->names = wf_arena_alloc(&c->names, sizeof(*nd->names));
        add_need(c, nd, n);
        return;
    }
    if (n->type != WF__Y_LIST) {
        wf__ld_type_error(c, n, "needs", "a task name or a list of task names");
        return;
    }
    nd->names = wf_arena_alloc(&c->names, n->n * sizeof(*nd->names));
    for (size_t k = 0; k < n->n; k++) {
        if (n->items[k]->type != WF__Y_STRING) {
            wf__ld_type_error(c, n->items[k], "needs", "a task name");
            continue;
        }
        add_need(c, nd, n->items[k]);
    }
}

/* A `generates` glob names files the cache writes on a hit: it must stay inside the task's
 * workdir, so no absolute path and no `..` segment. */
static bool glob_escapes(const char *g)
{
    size_t n;

    if (g[0] == '/')
        return true;
    for (const char *p = g; *p != '\0'; p += n + (p[n] == '/')) {
        n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return true;
    }
    return false;
}

/* cache.sources / cache.generates: one glob or a list of them. */
static void parse_globs(wf__ld *c, const wf__ynode *v, const char *what, bool confined, char ***out,
                        size_t *n)
{
    const wf__ynode *one = v;
    size_t count = v->type == WF__Y_LIST ? v->n : 1;

    if (v->type != WF__Y_STRING && v->type != WF__Y_LIST) {
        wf__ld_type_error(c, v, what, "a list of file globs");
        return;
    }
    *out = wf_xcalloc(count + 1, sizeof(char *));
    for (size_t k = 0; k < count; k++) {
        if (v->type == WF__Y_LIST)
            one = v->items[k];
        if (one->type != WF__Y_STRING || one->text[0] == '\0') {
            wf__ld_type_error(c, one, what, "a file glob");
            continue;
        }
        if (confined && glob_escapes(one->text)) {
            wf__loader_error(c->L, one->mark, WF_EINVAL,
                             "'%s' must name files inside the task's workdir: '%s' is an "
                             "absolute path or goes up with '..'",
                             what, one->text);
            continue;
        }
        (*out)[(*n)++] = wf_xstrdup(one->text);
    }
}

static void parse_cache(wf__ld *c, wf_task *t, const wf__ynode *n)
{
    const wf__ynode *v;
    wf_task_extra *x;

    if (n->type == WF__Y_BOOL) {
        t->cache = n->b;
        return;
    }
    if (n->type != WF__Y_MAP) {
        wf__ld_type_error(c, n, "cache", "a boolean or a map {key, sources, generates}");
        return;
    }
    t->cache = true;
    x = wf__task_extra(t);
    wf__ld_check_keys(c, n, CACHE_KEYS, "cache");
    v = wf__ld_get(n, "key", NULL);
    if (v != NULL && wf__ld_text_of(c, v, "cache.key") != NULL)
        x->cache_key = wf__ld_compile(c, v, 0, WF__ROLE_TASK, t->index);
    v = wf__ld_get(n, "sources", NULL);
    if (v != NULL)
        parse_globs(c, v, "cache.sources", false, &x->cache_sources, &x->n_cache_sources);
    v = wf__ld_get(n, "generates", NULL);
    if (v != NULL)
        parse_globs(c, v, "cache.generates", true, &x->cache_generates, &x->n_cache_generates);
}

static void parse_slurm(wf__ld *c, wf_task *t, const wf__ynode *n)
{
    /* Templates are allowed in the values; constants are checked now, the rest when the
     * Slurm executor renders them. Built after errors too, so that its templates are. */
    wf__ld_check_slurm(c, n, false);
    if (n->type == WF__Y_MAP)
        t->slurm = wf__ld_build_vnode(c, n, WF__ROLE_TASK, t->index);
}

/* Task env: defaults.env first, then the task's own, which replace same-named entries. */
static void fold_env(wf__ld *c, wf_task *t, const wf__ynode *own)
{
    size_t cap = (c->env ? c->env->n : 0) + (own && own->type == WF__Y_MAP ? own->n : 0);
    const wf__ynode **names, **vals;
    const wf__ynode *maps[2] = { c->env, own && own->type == WF__Y_MAP ? own : NULL };
    size_t n = 0;

    if (own != NULL)
        check_env_map(c, own, "env");
    if (cap == 0)
        return; /* most tasks: no allocation (t->env NULL, n_env 0) */
    names = wf_xcalloc(cap + 1, sizeof(*names));
    vals = wf_xcalloc(cap + 1, sizeof(*vals));
    for (int m = 0; m < 2; m++) {
        for (size_t k = 0; maps[m] != NULL && k < maps[m]->n; k++) {
            const wf__ynode *key = maps[m]->keys[k], *val = maps[m]->items[k];
            size_t j = 0;

            if (!wf__ld_valid_env_name(key->text) || !wf__ld_is_scalar(val) ||
                val->type == WF__Y_NULL)
                continue;
            while (j < n && strcmp(names[j]->text, key->text) != 0)
                j++;
            names[j] = key;
            vals[j] = val;
            if (j == n)
                n++;
        }
    }
    t->env = wf_xcalloc(n + 1, sizeof(*t->env));
    for (size_t k = 0; k < n; k++) {
        t->env[k].name = wf_xstrdup(names[k]->text);
        t->env[k].mark = names[k]->mark;
        t->env[k].tpl = wf__ld_compile(c, vals[k], WF_TPL_CSTRING, WF__ROLE_TASK, t->index);
    }
    t->n_env = n;
    free(names);
    free(vals);
}

/* `uses:` and `with:`; loader.c loads the file once the whole workflow is read. */
static void parse_uses(wf__ld *c, wf_task *t, const wf__ynode *map, const wf__ynode *n)
{
    const wf__ynode *with_key = NULL, *with = wf__ld_get(map, "with", &with_key);
    wf_task_extra *x;

    t->run_mark = n->mark;
    for (size_t k = 0; k < map->n; k++)
        if (wf__ld_in_list(map->keys[k]->text, NOT_FOR_USES))
            wf__loader_error(c->L, map->keys[k]->mark, WF_EINVAL,
                             "'%s' does not apply to a 'uses' task: the called workflow's "
                             "tasks say how they run",
                             map->keys[k]->text);
    if (n->type != WF__Y_STRING || n->len == 0) {
        wf__ld_type_error(c, n, "uses", "the path of a workflow file, like ci/build.yaml");
        return;
    }
    if (n->has_tpl) {
        wf__loader_error(c->L, n->mark, WF_EINVAL,
                         "'uses' is loaded before anything runs, so it cannot hold a template: "
                         "write the path, and pass values with 'with:'");
        return;
    }
    x = wf__task_extra(t);
    x->uses = wf_xstrdup(n->text);
    if (c->uses == NULL)
        c->uses = wf_xcalloc(c->wf->n_tasks, sizeof(*c->uses));
    c->uses[t->index].uses = n;
    if (with != NULL && with->type != WF__Y_NULL && wf__ld_expect_map(c, with, "with")) {
        c->uses[t->index].with_key = with_key;
        c->uses[t->index].with = with;
        x->with = wf__ld_build_vnode(c, with, WF__ROLE_TASK, t->index);
    }
}

/* concurrency, cpus or batch-size: an integer >= 1 (into *out; NULL returned), or a template
 * evaluated when the task starts (`concurrency: << inputs.parallel >>`), returned owned. */
static wf_tpl *parse_count(wf__ld *c, size_t ti, const wf__ynode *v, const char *what, int *out)
{
    if (v->type == WF__Y_STRING && strstr(v->text, "<<") != NULL)
        return wf__ld_compile(c, v, 0, WF__ROLE_ONCE, ti);
    wf__ld_get_int(c, v, what, 1, out);
    return NULL;
}

/* A task map's values and keys by TASK_KEYS index (wf__ld_index_keys). */
typedef struct task_keys {
    const wf__ynode *value[TK_N], *key[TK_N];
} task_keys;

static const wf__ynode *task_get(const task_keys *tk, int i, const wf__ynode **key_out)
{
    if (tk->value[i] != NULL && key_out != NULL)
        *key_out = tk->key[i];
    return tk->value[i];
}

static void parse_task(wf__ld *c, size_t ti, const wf__ynode *key, const wf__ynode *map)
{
    task_keys tk;
    wf_task *t = &c->wf->tasks[ti];
    const wf__ynode *v, *run, *action, *k_input = NULL, *k_run = NULL, *k_action = NULL;
    const wf__ynode *k_conc = NULL, *k_batch = NULL, *k_ff = NULL, *k_output = NULL;
    const wf__ynode *k_label = NULL, *k_pipe = NULL;
    const wf__ynode *k_slurm = NULL, *slurm, *uses, *k_uses = NULL, *k_with = NULL;
    wf_tpl *tpl;
    char *where;

    t->name = wf_xstrdup(key->text);
    t->mark = key->mark;
    t->index = ti;
    wf__ld_check_name(c, key, "task");
    if (map->type != WF__Y_MAP) {
        char *got = wf__ynode_describe(map);

        wf__loader_error(c->L, map->type == WF__Y_NULL ? key->mark : map->mark, WF_ETYPE,
                         "task '%s' must be a map with 'run' or 'action', got %s", key->text, got);
        free(got);
        return;
    }
    /* The place for the message is written only when there is one to give. */
    if (!wf__ld_index_keys(map, TASK_KEYS, tk.value, tk.key)) {
        where = wf_xasprintf("task '%s'", key->text);
        wf__ld_check_keys(c, map, TASK_KEYS, where);
        free(where);
    }
    c->task_has_items = task_get(&tk, TK_WITH_ITEMS, NULL) != NULL;

    run = task_get(&tk, TK_RUN, &k_run);
    action = task_get(&tk, TK_ACTION, &k_action);
    uses = task_get(&tk, TK_USES, &k_uses);
    if (task_get(&tk, TK_WITH, &k_with) != NULL && uses == NULL)
        wf__loader_error(c->L, k_with->mark, WF_EINVAL,
                         "'with' gives the inputs of the workflow a task calls with 'uses'; "
                         "task '%s' has no 'uses'",
                         t->name);
    if (uses != NULL) {
        if (run != NULL || action != NULL)
            wf__loader_error(c->L, (run != NULL ? k_run : k_action)->mark, WF_EINVAL,
                             "task '%s' has both 'uses' and '%s'; a task does exactly one", t->name,
                             run != NULL ? "run" : "action");
        else
            parse_uses(c, t, map, uses);
    } else if (run != NULL && action != NULL) {
        const wf__ynode *later = k_run->offset > k_action->offset ? k_run : k_action;

        wf__loader_error(c->L, later->mark, WF_EINVAL,
                         "task '%s' has both 'run' and 'action'; a task does exactly one", t->name);
    } else if (run == NULL && action == NULL) {
        wf__loader_error(c->L, key->mark, WF_EMISSING,
                         "task '%s' needs 'run' (a command), 'action' (like core.echo) or "
                         "'uses' (a workflow file)",
                         t->name);
    }
    if (run != NULL && uses == NULL)
        parse_run(c, t, run);
    if (action != NULL && run == NULL && uses == NULL)
        parse_action(c, t, action);

    v = task_get(&tk, TK_INPUT, &k_input);
    if (v != NULL) {
        if (uses != NULL) {
            /* reported by parse_uses */
        } else if (action == NULL) {
            wf__loader_error(c->L, k_input->mark, WF_EINVAL,
                             "'input' is for action tasks; a run task takes values through "
                             "templates in 'run' or 'env'");
        } else if (wf__ld_expect_map(c, v, "input")) {
            t->input = wf__ld_build_vnode(c, v, WF__ROLE_TASK, ti);
        }
    }
    v = task_get(&tk, TK_ENV_FILE, NULL);
    if (v != NULL)
        t->env_files = wf__ld_env_files(c, v);
    v = task_get(&tk, TK_DESCRIPTION, NULL);
    if (v != NULL && wf__ld_text_of(c, v, "description") != NULL)
        t->description = wf_xstrdup(v->text);
    v = task_get(&tk, TK_NEEDS, NULL);
    if (v != NULL)
        parse_needs(c, ti, v);
    v = task_get(&tk, TK_WITH_ITEMS, NULL);
    if (v != NULL) {
        wf__ld_parse_items(c, t, v);
        if (task_get(&tk, TK_NEEDS, NULL) == NULL)
            wf__ld_check_items_file(c, t, v);
    }

    v = task_get(&tk, TK_CONCURRENCY, &k_conc);
    tpl = v == NULL ? NULL : parse_count(c, ti, v, "concurrency", &t->concurrency);
    if (tpl != NULL)
        wf__task_extra(t)->concurrency_tpl = tpl;
    v = task_get(&tk, TK_CPUS, NULL);
    if (v == NULL && uses == NULL)
        v = c->cpus;
    tpl = v == NULL ? NULL : parse_count(c, ti, v, "cpus", &t->cpus);
    if (tpl != NULL)
        wf__task_extra(t)->cpus_tpl = tpl;
    v = task_get(&tk, TK_BATCH_SIZE, &k_batch);
    tpl = v == NULL ? NULL : parse_count(c, ti, v, "batch-size", &t->batch_size);
    if (tpl != NULL)
        wf__task_extra(t)->batch_size_tpl = tpl;
    v = task_get(&tk, TK_FAIL_FAST, &k_ff);
    if (v != NULL)
        wf__ld_get_bool(c, v, "fail-fast", &t->fail_fast);
    v = task_get(&tk, TK_LABEL, &k_label);
    if (v != NULL && wf__ld_text_of(c, v, "label") != NULL) {
        t->label = wf__ld_compile(c, v, WF_TPL_CSTRING, WF__ROLE_TASK, ti);
        if (k_batch != NULL)
            wf__loader_error(c->L, k_label->mark, WF_EINVAL,
                             "'label' names items, and with 'batch-size' a unit is a batch of "
                             "them; drop one of the two");
    }
    v = task_get(&tk, TK_PIPELINE, &k_pipe);
    if (v != NULL && wf__ld_get_bool(c, v, "pipeline", &t->pipeline) && t->pipeline) {
        if (k_batch != NULL)
            wf__loader_error(c->L, k_batch->mark, WF_EINVAL,
                             "'pipeline' takes the source task's results one by one, and with "
                             "'batch-size' a unit is a batch of them; drop one of the two");
        if (task_get(&tk, TK_WITH_ITEMS, NULL) == NULL)
            wf__loader_error(c->L, k_pipe->mark, WF_EINVAL,
                             "'pipeline: true' takes another with-items task's results item by "
                             "item and needs 'with-items: << task.NAME >>'; task '%s' has no "
                             "'with-items'",
                             t->name);
    }
    if (task_get(&tk, TK_WITH_ITEMS, NULL) == NULL) {
        const wf__ynode *item_keys[] = { k_conc, k_batch, k_ff, k_label };

        for (size_t k = 0; k < WF_ARRAY_LEN(item_keys); k++)
            if (item_keys[k] != NULL)
                wf__loader_error(c->L, item_keys[k]->mark, WF_EINVAL,
                                 "'%s' in a task applies to its items and needs 'with-items'%s",
                                 item_keys[k]->text,
                                 k == 0 ? " (the top-level 'concurrency' limits tasks)" : "");
    }

    v = task_get(&tk, TK_WHEN, NULL);
    if (v != NULL && wf__ld_text_of(c, v, "when") != NULL)
        t->when = wf__ld_compile(c, v, WF_TPL_EXPR, WF__ROLE_TASK, ti);

    v = task_get(&tk, TK_RETRY, NULL);
    if (v != NULL)
        parse_retry(c, v, &t->retry);
    else if (c->has_retry)
        t->retry = c->retry;
    v = task_get(&tk, TK_TIMEOUT, NULL);
    if (v != NULL)
        wf__ld_get_duration(c, v, "timeout", &t->timeout_ms);
    else if (c->has_timeout)
        t->timeout_ms = c->timeout_ms;
    v = task_get(&tk, TK_MAX_OUTPUT, NULL);
    if (v != NULL)
        wf__ld_get_size(c, v, "max-output", &t->max_output);
    v = task_get(&tk, TK_CONTINUE_ON_ERROR, NULL);
    if (v != NULL && v->type == WF__Y_STRING && strstr(v->text, "<<") != NULL)
        wf__task_extra(t)->continue_on_error_tpl =
            wf__ld_compile(c, v, WF_TPL_EXPR, WF__ROLE_TASK, ti);
    else if (v != NULL)
        wf__ld_get_bool(c, v, "continue-on-error", &t->continue_on_error);
    else if (c->has_coe)
        t->continue_on_error = c->coe;

    v = task_get(&tk, TK_OUTPUT, &k_output);
    if (v != NULL) {
        int o = wf__ld_get_enum(c, v, "output", OUTPUT_MODES);

        t->output = o == 1 ? WF_OUTPUT_JSON : o == 2 ? WF_OUTPUT_LINES : WF_OUTPUT_TEXT;
        if (action != NULL && run == NULL)
            wf__loader_error(c->L, k_output->mark, WF_EINVAL,
                             "'output' is for run tasks; an action returns its result as is");
    }

    v = task_get(&tk, TK_PUBLISH, NULL);
    if (v != NULL && wf__ld_expect_map(c, v, "publish"))
        t->n_publish =
            wf__ld_build_named_tpls(c, v, "var", false, WF__ROLE_PUBLISH, ti, &t->publish);
    /* The rest says how a process or an action runs: nothing a `uses` task takes (its keys
     * were refused above; the defaults do not apply to it). */
    if (uses != NULL)
        return;
    fold_env(c, t, task_get(&tk, TK_ENV, NULL));
    v = task_get(&tk, TK_WORKDIR, NULL);
    if (v == NULL)
        v = c->workdir;
    if (v != NULL && wf__ld_text_of(c, v, "workdir") != NULL)
        t->workdir = wf__ld_compile(c, v, WF_TPL_CSTRING, WF__ROLE_TASK, ti);
    v = task_get(&tk, TK_SHELL, NULL);
    if (v == NULL)
        v = c->shell;
    if (v != NULL && wf__ld_text_of(c, v, "shell") != NULL)
        t->shell = wf__ld_compile(c, v, WF_TPL_CSTRING, WF__ROLE_TASK, ti);

    v = task_get(&tk, TK_CACHE, NULL);
    if (v != NULL)
        parse_cache(c, t, v);

    v = task_get(&tk, TK_EXECUTOR, NULL);
    if (v != NULL) {
        int e = wf__ld_get_enum(c, v, "executor", EXECUTORS);

        t->executor = e == 1 ? WF_EXECUTOR_SLURM : WF_EXECUTOR_LOCAL;
    } else if (c->has_executor) {
        t->executor = c->executor;
    }
    slurm = task_get(&tk, TK_SLURM, &k_slurm);
    if (slurm != NULL) {
        if (t->executor != WF_EXECUTOR_SLURM)
            wf__loader_error(c->L, k_slurm->mark, WF_EINVAL,
                             "'slurm' options need 'executor: slurm' (in the task or in "
                             "defaults)");
        parse_slurm(c, t, slurm);
    }
}

/* Whether a task in [from, to) keeps YAML nodes for later (`uses:` and `with:`). */
static bool keeps_nodes(const wf__ld *c, size_t from, size_t to)
{
    for (size_t k = from; c->uses != NULL && k < to; k++)
        if (c->uses[k].uses != NULL || c->uses[k].with_key != NULL)
            return true;
    return false;
}

void wf__ld_parse_tasks(wf__ld *c, const wf__ynode *map)
{
    wf_workflow *wf = c->wf;
    const wf__ytasks *yt = &c->L->tasks;

    if (!wf__ld_expect_map(c, map, "tasks"))
        return;
    if (map->n == 0) {
        wf__loader_error(c->L, map->mark, WF_EINVAL, "'tasks' is empty: a workflow needs a task");
        return;
    }
    wf->tasks = wf_xcalloc(map->n, sizeof(*wf->tasks));
    c->needs = wf_xcalloc(map->n, sizeof(*c->needs));
    wf->n_tasks = map->n;
    for (size_t k = 0, g = 0, first = 0; k < map->n; k++) {
        parse_task(c, k, map->keys[k], map->items[k]);
        if (yt->map != map)
            continue;
        /* Once a group's tasks are built, nothing reads its nodes again, unless an alias
         * may point into it or a task kept its `uses:` nodes for loading the called file. */
        for (; g < yt->n_groups && yt->groups[g].end <= k + 1; g++) {
            if (!yt->groups[g].pinned && !keeps_nodes(c, first, yt->groups[g].end))
                wf__yaml_free_group(c->L, g);
            first = yt->groups[g].end;
        }
    }
}
