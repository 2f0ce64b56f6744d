/*
 * load_values.c: the loader's reading of single YAML values (see loader_internal.h).
 *
 * Typed reads of one key (a string, a boolean, a bounded integer, a duration, one word of a
 * list), the unknown-key check with its "did you mean", name rules for tasks, vars and
 * environment variables, and the compilation of template strings and value trees, which
 * records every template with its role for validate.c. Each mistake becomes an error at the
 * value's position and the caller goes on. loader.c (the workflow-level keys) and
 * load_task.c (tasks and defaults) call these; nothing here calls back.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "loader_internal.h"

/* ---- small helpers ------------------------------------------------------------------ */

void wf__ld_type_error(wf__ld *c, const wf__ynode *n, const char *what, const char *expected)
{
    char *got = wf__ynode_describe(n);
    const char *hint = "";

    if (n->type == WF__Y_STRING && n->style == WF__YS_PLAIN &&
        strstr(expected, "boolean") != NULL &&
        (strcasecmp(n->text, "yes") == 0 || strcasecmp(n->text, "no") == 0 ||
         strcasecmp(n->text, "on") == 0 || strcasecmp(n->text, "off") == 0))
        hint = " (only true and false are booleans)";
    wf__loader_error(c->L, n->mark, WF_ETYPE, "'%s' must be %s, got %s%s", what, expected, got,
                     hint);
    free(got);
}

/* The first byte tells most keys apart without a call: a 100,000-task file makes millions of
 * these comparisons (B15). */
static bool same_key(const char *a, const char *b)
{
    return a[0] == b[0] && strcmp(a, b) == 0;
}

bool wf__ld_in_list(const char *s, const char *const *list)
{
    for (size_t k = 0; list[k] != NULL; k++)
        if (same_key(s, list[k]))
            return true;
    return false;
}

void wf__ld_join_list(wf_strbuf *sb, const char *const *list)
{
    for (size_t k = 0; list[k] != NULL; k++)
        wf_strbuf_addf(sb, "%s%s", k ? ", " : "", list[k]);
}

/* "unknown key 'x' in task 'y'; did you mean 'z'?" or the list of valid keys. */
/* Keys authors bring from other tools (when no key of ours is a near spelling) (GitHub Actions,
 * go-task, Argo, Ansible, docker compose...), and ours for the same thing, with how it is written
 * here. */
static const struct {
    const char *theirs, *ours, *how;
} foreign_keys[] = {
    { "depends_on", "needs", "needs: [a, b]" },
    { "depends-on", "needs", "needs: [a, b]" },
    { "dependsOn", "needs", "needs: [a, b]" },
    { "dependencies", "needs", "needs: [a, b]" },
    { "deps", "needs", "needs: [a, b]" },
    { "requires", "needs", "needs: [a, b]" },
    { "if", "when", "when: << inputs.deploy >>" },
    { "condition", "when", "when: << inputs.deploy >>" },
    { "cmds", "run", "run: a block scalar (|) with one command per line" },
    { "cmd", "run", "run: make test" },
    { "command", "run", "run: make test" },
    { "commands", "run", "run: a block scalar (|) with one command per line" },
    { "script", "run", "run: a block scalar (|) with one command per line" },
    { "steps", "run", "run: a block scalar (|), or one task per step with needs" },
    { "name", "description", "a task's name is its key; description: says what it does" },
    { "timeout-minutes", "timeout", "timeout: 10m" },
    { "timeout_minutes", "timeout", "timeout: 10m" },
    { "timeoutMinutes", "timeout", "timeout: 10m" },
    { "continueOnError", "continue-on-error", "continue-on-error: true" },
    { "ignore_errors", "continue-on-error", "continue-on-error: true" },
    { "ignore_error", "continue-on-error", "continue-on-error: true" },
    { "withItems", "with-items", "with-items: [a, b]" },
    { "loop", "with-items", "with-items: [a, b]" },
    { "for_each", "with-items", "with-items: [a, b]" },
    { "matrix", "with-items", "with-items: {matrix: {os: [linux, mac]}}" },
    { "strategy", "with-items", "with-items: {matrix: {os: [linux, mac]}}" },
    { "environment", "env", "env: {NAME: value}" },
    { "working-directory", "workdir", "workdir: build" },
    { "working_dir", "workdir", "workdir: build" },
    { "dir", "workdir", "workdir: build" },
    { "cwd", "workdir", "workdir: build" },
    { "retries", "retry", "retry: {count: 3, delay: 1s}" },
    { "retryStrategy", "retry", "retry: {count: 3, delay: 1s}" },
    { "jobs", "tasks", "tasks: {NAME: {run: ...}}" },
    /* fan-outs: Argo's withParam and withSequence, PowerShell's and others' foreach */
    { "withParam", "with-items", "with-items: << task.NAME >>" },
    { "withSequence", "with-items", "with-items: << range(10) >>" },
    { "foreach", "with-items", "with-items: [a, b]" },
    { "items", "with-items", "with-items: [a, b]" },
    /* how many at once: GitHub's max-parallel, Argo's parallelism, Nextflow's maxForks,
     * Airflow's max_active_tis_per_dag */
    { "max-parallel", "concurrency", "concurrency: 4" },
    { "max_parallel", "concurrency", "concurrency: 4" },
    { "parallelism", "concurrency", "concurrency: 4" },
    { "maxForks", "concurrency", "concurrency: 4" },
    { "max_active_tis_per_dag", "concurrency", "concurrency: 4" },
    { "max_active_tasks", "concurrency", "concurrency: 4" },
    /* Airflow's execution_timeout, Argo's activeDeadlineSeconds */
    { "execution_timeout", "timeout", "timeout: 10m" },
    { "activeDeadlineSeconds", "timeout", "timeout: 10m" },
};

/* The hint for a key another tool uses for something `allowed` has, or NULL. */
static const char *foreign_hint(const char *key, const char *const *allowed, const char **ours)
{
    for (size_t i = 0; i < WF_ARRAY_LEN(foreign_keys); i++) {
        if (strcmp(key, foreign_keys[i].theirs) == 0 &&
            wf__ld_in_list(foreign_keys[i].ours, allowed)) {
            *ours = foreign_keys[i].ours;
            return foreign_keys[i].how;
        }
    }
    return NULL;
}

bool wf__ld_index_keys(const wf__ynode *map, const char *const *allowed, const wf__ynode **values,
                       const wf__ynode **keys)
{
    bool known = true;
    size_t n = 0;

    while (allowed[n] != NULL)
        n++;
    memset(values, 0, n * sizeof(*values));
    memset(keys, 0, n * sizeof(*keys));
    for (size_t k = 0; k < map->n; k++) {
        size_t i = 0;

        while (allowed[i] != NULL && !same_key(map->keys[k]->text, allowed[i]))
            i++;
        if (allowed[i] == NULL) {
            known = false;
        } else if (values[i] == NULL) {
            values[i] = map->items[k];
            keys[i] = map->keys[k];
        }
    }
    return known;
}

void wf__ld_check_keys(wf__ld *c, const wf__ynode *map, const char *const *allowed,
                       const char *where)
{
    for (size_t k = 0; k < map->n; k++) {
        const char *key = map->keys[k]->text;
        const char *near;
        wf_strbuf sb = WF_STRBUF_INIT;

        const char *ours = NULL, *how;

        if (wf__ld_in_list(key, allowed))
            continue;
        near = wf_closest(key, allowed);
        how = foreign_hint(key, allowed, &ours);
        /* Another tool's key is a known match, a spelling a guess (`cmds` is 'run', not
         * 'cpus'). */
        if (how != NULL) {
            wf_strbuf_addf(&sb, "; wfengine's key is '%s' (%s)", ours, how);
        } else if (strcmp(key, "memory") == 0) {
            /* The issue's `memory:` is the run's; a task's process memory is Slurm's. */
            wf_strbuf_adds(&sb, "; 'memory' is a top-level key, the memory budget for the "
                                "results of the whole run (memory: 512MiB, or --memory); a "
                                "Slurm job's memory is slurm: {mem: 4G}");
        } else if (near != NULL) {
            wf_strbuf_addf(&sb, "; did you mean '%s'?", near);
        } else {
            wf_strbuf_adds(&sb, " (valid keys: ");
            wf__ld_join_list(&sb, allowed);
            wf_strbuf_addc(&sb, ')');
        }
        wf__loader_error(c->L, map->keys[k]->mark, WF_EINVAL, "unknown key '%s' in %s%s", key,
                         where, wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
}

/* The value of key in map, or NULL; *key_out gets the key node. */
const wf__ynode *wf__ld_get(const wf__ynode *map, const char *key, const wf__ynode **key_out)
{
    for (size_t k = 0; map != NULL && k < map->n; k++) {
        if (same_key(map->keys[k]->text, key)) {
            if (key_out != NULL)
                *key_out = map->keys[k];
            return map->items[k];
        }
    }
    return NULL;
}

bool wf__ld_is_scalar(const wf__ynode *n)
{
    return n->type != WF__Y_LIST && n->type != WF__Y_MAP;
}

/* A string-like value: any scalar but null (numbers and booleans as written). */
const char *wf__ld_text_of(wf__ld *c, const wf__ynode *n, const char *what)
{
    if (!wf__ld_is_scalar(n) || n->type == WF__Y_NULL) {
        wf__ld_type_error(c, n, what, "a string");
        return NULL;
    }
    return n->text;
}

bool wf__ld_get_bool(wf__ld *c, const wf__ynode *n, const char *what, bool *out)
{
    if (n->type != WF__Y_BOOL) {
        wf__ld_type_error(c, n, what, "a boolean (true or false)");
        return false;
    }
    *out = n->b;
    return true;
}

bool wf__ld_get_int(wf__ld *c, const wf__ynode *n, const char *what, int min, int *out)
{
    if (n->type != WF__Y_INT || n->i < min || n->i > INT_MAX) {
        char *expected = wf_xasprintf("an integer >= %d", min);

        wf__ld_type_error(c, n, what, expected);
        free(expected);
        return false;
    }
    *out = (int)n->i;
    return true;
}

bool wf__ld_get_duration(wf__ld *c, const wf__ynode *n, const char *what, int64_t *ms)
{
    char *msg = NULL;

    if (n->type != WF__Y_INT && n->type != WF__Y_DOUBLE && n->type != WF__Y_STRING) {
        wf__ld_type_error(c, n, what, "a duration (500ms, 30s, 5m, 1h or a number of seconds)");
        return false;
    }
    if (wf_duration_parse(n->text, ms, &msg) != WF_OK) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "%s: %s", what, msg);
        free(msg);
        return false;
    }
    return true;
}

bool wf__ld_get_size(wf__ld *c, const wf__ynode *n, const char *what, uint64_t *bytes)
{
    char *msg = NULL;
    uint64_t v = 0;

    if (n->type != WF__Y_INT && n->type != WF__Y_DOUBLE && n->type != WF__Y_STRING) {
        wf__ld_type_error(c, n, what, "a size (64MiB, 1G, or a number of bytes)");
        return false;
    }
    if (wf_size_parse(n->text, &v, &msg) != WF_OK) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "%s: %s", what, msg);
        free(msg);
        return false;
    }
    if (v == 0) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "%s: must be at least 1 byte, got '%s'", what,
                         n->text);
        return false;
    }
    *bytes = v;
    return true;
}

/* One word of a fixed set ("did you mean" on a near miss). Returns its index or -1. */
int wf__ld_get_enum(wf__ld *c, const wf__ynode *n, const char *what, const char *const *words)
{
    const char *near;
    wf_strbuf sb = WF_STRBUF_INIT;

    if (n->type == WF__Y_STRING) {
        for (int k = 0; words[k] != NULL; k++)
            if (strcmp(n->text, words[k]) == 0)
                return k;
    }
    near = n->type == WF__Y_STRING ? wf_closest(n->text, words) : NULL;
    if (near != NULL) {
        wf_strbuf_addf(&sb, "; did you mean '%s'?", near);
    } else {
        wf_strbuf_adds(&sb, " (one of: ");
        wf__ld_join_list(&sb, words);
        wf_strbuf_addc(&sb, ')');
    }
    if (n->type == WF__Y_STRING) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "invalid %s '%s'%s", what, n->text,
                         wf_strbuf_str(&sb));
    } else {
        char *got = wf__ynode_describe(n);

        wf__loader_error(c->L, n->mark, WF_ETYPE, "'%s' must be a string, got %s%s", what, got,
                         wf_strbuf_str(&sb));
        free(got);
    }
    wf_strbuf_release(&sb);
    return -1;
}

bool wf__ld_expect_map(wf__ld *c, const wf__ynode *n, const char *what)
{
    if (n->type == WF__Y_MAP)
        return true;
    wf__ld_type_error(c, n, what, "a map");
    return false;
}

/* A letter or '_', then letters, digits, '_' (and '-' when dash is true). */
static bool identifier(const char *s, bool dash)
{
    if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
        return false;
    for (s++; *s != '\0'; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || (dash && *s == '-')))
            return false;
    return true;
}

/* Task name rule [A-Za-z_][A-Za-z0-9_-]*. */
bool wf__ld_valid_name(const char *s)
{
    return identifier(s, true);
}

/* Environment names: no '-', which a shell cannot expand. */
bool wf__ld_valid_env_name(const char *s)
{
    return identifier(s, false);
}

bool wf__ld_check_name(wf__ld *c, const wf__ynode *key, const char *kind)
{
    if (wf__ld_valid_name(key->text))
        return true;
    wf__loader_error(c->L, key->mark, WF_EINVAL,
                     "invalid %s name '%s': use letters, digits, '_' and '-', starting with a "
                     "letter or '_'",
                     kind, key->text);
    return false;
}

/* ---- templates and value trees ------------------------------------------------------ */

/* validate.c checks what a template reads; one that reads nothing is not recorded. */
static void add_site(wf__ld *c, const wf_tpl *t, const wf__ynode *n, wf__tpl_role role,
                     size_t owner)
{
    wf__sites *s = &c->sites;
    const wf_tpl_ref *refs;
    size_t nrefs = wf_tpl_refs(t, &refs);
    wf_mark *marks;

    if (nrefs == 0)
        return;
    marks = wf_xmalloc(nrefs * sizeof(*marks));
    for (size_t k = 0; k < nrefs; k++)
        marks[k] = wf__scalar_pos(c->L, n, refs[k].line, refs[k].column);
    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = wf_xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    s->items[s->len].tpl = t;
    s->items[s->len].marks = marks;
    s->items[s->len].role = role;
    s->items[s->len].owner = owner;
    s->len++;
}

/* What another tool's expression `inner` is written as here (appended to sb). GitHub:
 * inputs.x, matrix.x, env.X, needs.T.outputs.K, secrets.X; go-task: .X; Jinja: x. */
static void foreign_to_ours(wf_strbuf *sb, const char *inner, size_t len)
{
    static const struct {
        const char *theirs, *ours;
    } roots[] = {
        { "inputs.", "inputs." },  { "matrix.", "item." },     { "env.", "env." },
        { "secrets.", "inputs." }, { "github.", "workflow." }, { "vars.", "vars." },
        { "steps.", "task." },     { "needs.", "task." },      { "item.", "item." },
        { ".", "vars." },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(roots); i++) {
        size_t n = strlen(roots[i].theirs);

        if (len > n && strncmp(inner, roots[i].theirs, n) == 0) {
            wf_strbuf_addf(sb, "<< %s%.*s >>", roots[i].ours, (int)(len - n), inner + n);
            return;
        }
    }
    wf_strbuf_addf(sb, "<< vars.%.*s >> or << inputs.%.*s >>", (int)len, inner, (int)len, inner);
}

/* Warns about GitHub's ${{ expr }}, go-task's {{ .Name }} and Jinja's {{ name }} in a
 * template: wfengine leaves them as text, and in a `run` the shell then fails with "Bad
 * substitution" or prints the braces. */
static void warn_foreign_syntax(wf__ld *c, const wf__ynode *n)
{
    const char *s = n->text, *end = n->text + n->len;

    for (const char *p = s; p < end && (p = strstr(p, "{{")) != NULL;) {
        const char *close = strstr(p + 2, "}}"), *in = p + 2, *in_end;
        bool github = p > s && p[-1] == '$', plain = true;
        wf_strbuf how = WF_STRBUF_INIT;
        int line = 1, col = 1;

        if (close == NULL)
            break;
        in_end = close;
        while (in < in_end && (*in == ' ' || *in == '\t'))
            in++;
        while (in_end > in && (in_end[-1] == ' ' || in_end[-1] == '\t'))
            in_end--;
        for (const char *q = in; q < in_end; q++)
            plain &= (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                     (*q >= '0' && *q <= '9') || *q == '_' || *q == '.' || *q == '-';
        if (in < in_end && (github || plain)) {
            const char *at = github ? p - 1 : p;

            for (const char *q = s; q < at; q++) {
                if (*q == '\n') {
                    line++;
                    col = 1;
                } else {
                    col++;
                }
            }
            foreign_to_ours(&how, in, (size_t)(in_end - in));
            wf__loader_warning(c->L, wf__scalar_pos(c->L, n, line, col),
                               "'%.*s' is %s syntax, which wfengine leaves as text (%s); "
                               "templates here are written %s",
                               (int)(close + 2 - at), at,
                               github       ? "GitHub Actions"
                               : *in == '.' ? "go-task"
                                            : "Jinja",
                               github ? "in a `run` the shell fails with \"Bad substitution\""
                                      : "the braces reach the command as they are",
                               wf_strbuf_str(&how));
        }
        wf_strbuf_release(&how);
        p = close + 2;
    }
}

/* Compiles a scalar's text; a compile error is reported at its position in the file. */
wf_tpl *wf__ld_compile(wf__ld *c, const wf__ynode *n, unsigned flags, wf__tpl_role role,
                       size_t owner)
{
    wf_tpl *t = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    warn_foreign_syntax(c, n);
    if (role != WF__ROLE_TASK || !c->task_has_items)
        flags |= WF_TPL_NO_ITEM;
    /* Every expression's error at once: fixing a file must not take one round per typo. */
    if (wf_tpl_compile_all(n->text, n->len, flags, &t, &errs) != WF_OK) {
        for (size_t i = 0; i < errs.len; i++) {
            const wf_error *err = &errs.items[i];
            wf_mark m = wf__scalar_pos(c->L, n, err->line, err->column);

            wf__loader_error(c->L, m, err->code, "%s",
                             err->message != NULL ? err->message : wf_strerror(err->code));
        }
        wf_errlist_release(&errs);
        return NULL;
    }
    wf_errlist_release(&errs);
    add_site(c, t, n, role, owner);
    return t;
}

static wf_vnode *const_vnode(const wf__ynode *n)
{
    wf_vnode *v = wf_xcalloc(1, sizeof(*v));

    v->kind = WF_VNODE_CONST;
    v->mark = n->mark;
    v->constant = wf__ynode_json(n);
    return v;
}

/* A subtree without "<<" anywhere becomes one constant, so evaluating it is one copy. */
wf_vnode *wf__ld_build_vnode(wf__ld *c, const wf__ynode *n, wf__tpl_role role, size_t owner)
{
    wf_vnode *v;

    if (!n->has_tpl)
        return const_vnode(n);
    v = wf_xcalloc(1, sizeof(*v));
    v->mark = n->mark;
    if (n->type == WF__Y_STRING) {
        v->kind = WF_VNODE_TEMPLATE;
        v->tpl = wf__ld_compile(c, n, 0, role, owner);
        if (v->tpl == NULL)
            v->kind = WF_VNODE_CONST;
        return v;
    }
    v->kind = n->type == WF__Y_MAP ? WF_VNODE_MAP : WF_VNODE_LIST;
    v->n = n->n;
    v->children = wf_xcalloc(n->n + 1, sizeof(*v->children));
    if (n->type == WF__Y_MAP)
        v->keys = wf_xcalloc(n->n + 1, sizeof(*v->keys));
    for (size_t k = 0; k < n->n; k++) {
        if (n->type == WF__Y_MAP)
            v->keys[k] = wf_xstrdup(n->keys[k]->text);
        v->children[k] = wf__ld_build_vnode(c, n->items[k], role, owner);
    }
    return v;
}

/* A map of name -> template string (env, publish). */
size_t wf__ld_build_named_tpls(wf__ld *c, const wf__ynode *map, const char *what, bool env_names,
                               wf__tpl_role role, size_t owner, wf_named_tpl **out)
{
    size_t n = 0;

    *out = wf_xcalloc(map->n + 1, sizeof(**out));
    for (size_t k = 0; k < map->n; k++) {
        const wf__ynode *key = map->keys[k], *val = map->items[k];

        if (env_names && !wf__ld_valid_env_name(key->text)) {
            wf__loader_error(c->L, key->mark, WF_EINVAL,
                             "invalid environment variable name '%s': use letters, digits and "
                             "'_', starting with a letter or '_'",
                             key->text);
            continue;
        }
        if (!env_names && !wf__ld_check_name(c, key, what))
            continue;
        if (wf__ld_text_of(c, val, key->text) == NULL)
            continue;
        (*out)[n].name = wf_xstrdup(key->text);
        (*out)[n].mark = key->mark;
        (*out)[n].tpl = wf__ld_compile(c, val, 0, role, owner);
        n++;
    }
    return n;
}

/* path as the run will open it: relative to the directory of the workflow file. */
static char *resolve_path(const wf__ld *c, const char *path)
{
    const char *slash = strrchr(c->wf->path, '/');

    if (path[0] == '/' || slash == NULL)
        return wf_xstrdup(path);
    return wf_xasprintf("%.*s/%s", (int)(slash - c->wf->path), c->wf->path, path);
}

char **wf__ld_env_files(wf__ld *c, const wf__ynode *n)
{
    size_t count = n->type == WF__Y_LIST ? n->n : 1, k = 0;
    char **out;

    if (n->type != WF__Y_LIST && n->type != WF__Y_STRING) {
        wf__ld_type_error(c, n, "env-file", "a path or a list of paths");
        return NULL;
    }
    out = wf_xcalloc(count + 1, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        const wf__ynode *p = n->type == WF__Y_LIST ? n->items[i] : n;

        if (p->type != WF__Y_STRING || p->len == 0) {
            wf__ld_type_error(c, p, "env-file", "a path");
            continue;
        }
        out[k++] = resolve_path(c, p->text);
    }
    return out;
}

/* `with-items: << file_lines('items.txt') >>` naming a file that is not there: a warning, not
 * an error (a task may create it first; then the reader has `needs:` and is not checked),
 * since the task would fail when it starts. The path is the engine's: relative to the
 * workflow file's directory, which a user running from elsewhere may not expect. */
void wf__ld_check_items_file(wf__ld *c, const wf_task *t, const wf__ynode *n)
{
    const char *rel, *slash = strrchr(c->L->path, '/');
    char *path;
    struct stat st;

    if (t->items == NULL || t->items->kind != WF_VNODE_TEMPLATE || t->items->tpl == NULL)
        return;
    rel = wf_tpl_file_lines_const(t->items->tpl);
    if (rel == NULL)
        return;
    path = rel[0] == '/' || slash == NULL
               ? wf_xstrdup(rel)
               : wf_xasprintf("%.*s/%s", (int)(slash - c->L->path), c->L->path, rel);
    if (stat(path, &st) != 0)
        wf__loader_warning(c->L, n->mark,
                           "file_lines('%s'): cannot read '%s' (%s): task '%s' will fail when "
                           "it starts unless something creates it first (a task that does "
                           "should be in its needs:)%s",
                           rel, path, strerror(errno), t->name,
                           rel[0] != '/' && slash != NULL
                               ? "; the path is relative to the workflow file's directory"
                               : "");
    else if (!S_ISREG(st.st_mode))
        wf__loader_warning(c->L, n->mark,
                           "file_lines('%s'): '%s' is not a regular file: task '%s' will fail "
                           "when it starts",
                           rel, path, t->name);
    free(path);
}
