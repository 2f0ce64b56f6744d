/*
 * loader.c: the YAML tree -> the wf_workflow model (see wf_workflow.h).
 *
 * Every key of the format is checked here with its type and bounds, every template string is
 * compiled once, and task defaults are folded into each task. Nothing stops at the first
 * mistake: each one becomes an error with its position and the walk goes on, so that a user
 * sees every error of a file at once. validate.c then builds and checks the graph.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loader_internal.h"

/* ---- key tables (NULL-terminated for wf_closest) ------------------------------------ */

static const char *const TOP_KEYS[] = {
    "version",  "name",        "description", "inputs", "vars",    "env",
    "defaults", "concurrency", "fail-fast",   "tasks",  "outputs", NULL,
};
static const char *const INPUT_KEYS[] = {
    "type", "default", "description", "secret", "enum", NULL
};
static const char *const INPUT_TYPES[] = { "any",     "string", "integer", "number",
                                           "boolean", "array",  "object",  NULL };
static const char *const DEFAULTS_KEYS[] = {
    "timeout", "retry", "env", "workdir", "shell", "continue-on-error", "executor", NULL,
};
static const char *const TASK_KEYS[] = {
    "run",        "action",    "input",       "needs", "with-items", "concurrency",
    "batch-size", "fail-fast", "when",        "retry", "timeout",    "continue-on-error",
    "output",     "env",       "workdir",     "shell", "publish",    "cache",
    "executor",   "slurm",     "description", NULL,
};
static const char *const RETRY_KEYS[] = { "count", "delay", "backoff", "max-delay", NULL };
static const char *const BACKOFFS[] = { "constant", "linear", "exponential", NULL };
static const char *const OUTPUT_MODES[] = { "text", "json", "lines", NULL };
static const char *const EXECUTORS[] = { "local", "slurm", NULL };
static const char *const ITEMS_KEYS[] = { "matrix", "include", "exclude", NULL };
static const char *const CACHE_KEYS[] = { "key", "sources", NULL };
static const char *const SLURM_KEYS[] = { "partition", "time", "cpus", "mem", "extra", NULL };
static const char *const CORE_ACTIONS[] = { "core.noop",  "core.echo",  "core.fail",
                                            "core.sleep", "core.value", NULL };

/* Indices into INPUT_TYPES follow wf_input_type. */
static const wf_input_type INPUT_TYPE_VALUES[] = {
    WF_INPUT_ANY,     WF_INPUT_STRING, WF_INPUT_INTEGER, WF_INPUT_NUMBER,
    WF_INPUT_BOOLEAN, WF_INPUT_ARRAY,  WF_INPUT_OBJECT,
};

/* What the loader carries while it builds one workflow. */
typedef struct ld {
    wf__loader *L;
    wf_workflow *wf;
    wf__sites sites;
    wf__needs *needs; /* per task */
    /* defaults: parsed once; the template ones are compiled again for each task */
    bool has_timeout, has_retry, has_coe, has_executor;
    int64_t timeout_ms;
    wf_retry retry;
    bool coe;
    wf_executor_kind executor;
    const wf__ynode *env, *workdir, *shell;
} ld;

/* ---- small helpers ------------------------------------------------------------------ */

static void type_error(ld *c, const wf__ynode *n, const char *what, const char *expected)
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

static bool in_list(const char *s, const char *const *list)
{
    for (size_t k = 0; list[k] != NULL; k++)
        if (strcmp(s, list[k]) == 0)
            return true;
    return false;
}

static void join_list(wf_strbuf *sb, const char *const *list)
{
    for (size_t k = 0; list[k] != NULL; k++)
        wf_strbuf_addf(sb, "%s%s", k ? ", " : "", list[k]);
}

/* "unknown key 'x' in task 'y'; did you mean 'z'?" or the list of valid keys. */
static void check_keys(ld *c, const wf__ynode *map, const char *const *allowed, const char *where)
{
    for (size_t k = 0; k < map->n; k++) {
        const char *key = map->keys[k]->text;
        const char *near;
        wf_strbuf sb = WF_STRBUF_INIT;

        if (in_list(key, allowed))
            continue;
        near = wf_closest(key, allowed);
        if (near != NULL) {
            wf_strbuf_addf(&sb, "; did you mean '%s'?", near);
        } else {
            wf_strbuf_adds(&sb, " (valid keys: ");
            join_list(&sb, allowed);
            wf_strbuf_addc(&sb, ')');
        }
        wf__loader_error(c->L, map->keys[k]->mark, WF_EINVAL, "unknown key '%s' in %s%s", key,
                         where, wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
}

/* The value of key in map, or NULL; *key_out gets the key node. */
static const wf__ynode *get(const wf__ynode *map, const char *key, const wf__ynode **key_out)
{
    for (size_t k = 0; map != NULL && k < map->n; k++) {
        if (strcmp(map->keys[k]->text, key) == 0) {
            if (key_out != NULL)
                *key_out = map->keys[k];
            return map->items[k];
        }
    }
    return NULL;
}

static bool is_scalar(const wf__ynode *n)
{
    return n->type != WF__Y_LIST && n->type != WF__Y_MAP;
}

/* A string-like value: any scalar but null (numbers and booleans as written). */
static const char *text_of(ld *c, const wf__ynode *n, const char *what)
{
    if (!is_scalar(n) || n->type == WF__Y_NULL) {
        type_error(c, n, what, "a string");
        return NULL;
    }
    return n->text;
}

static bool get_bool(ld *c, const wf__ynode *n, const char *what, bool *out)
{
    if (n->type != WF__Y_BOOL) {
        type_error(c, n, what, "a boolean (true or false)");
        return false;
    }
    *out = n->b;
    return true;
}

static bool get_int(ld *c, const wf__ynode *n, const char *what, int min, int *out)
{
    if (n->type != WF__Y_INT || n->i < min || n->i > INT_MAX) {
        char *expected = wf_xasprintf("an integer >= %d", min);

        type_error(c, n, what, expected);
        free(expected);
        return false;
    }
    *out = (int)n->i;
    return true;
}

static bool get_duration(ld *c, const wf__ynode *n, const char *what, int64_t *ms)
{
    char *msg = NULL;

    if (n->type != WF__Y_INT && n->type != WF__Y_DOUBLE && n->type != WF__Y_STRING) {
        type_error(c, n, what, "a duration (500ms, 30s, 5m, 1h or a number of seconds)");
        return false;
    }
    if (wf_duration_parse(n->text, ms, &msg) != WF_OK) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "%s: %s", what, msg);
        free(msg);
        return false;
    }
    return true;
}

/* One word of a fixed set ("did you mean" on a near miss). Returns its index or -1. */
static int get_enum(ld *c, const wf__ynode *n, const char *what, const char *const *words)
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
        join_list(&sb, words);
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

static bool expect_map(ld *c, const wf__ynode *n, const char *what)
{
    if (n->type == WF__Y_MAP)
        return true;
    type_error(c, n, what, "a map");
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
static bool valid_name(const char *s)
{
    return identifier(s, true);
}

/* Environment names: no '-', which a shell cannot expand. */
static bool valid_env_name(const char *s)
{
    return identifier(s, false);
}

static bool check_name(ld *c, const wf__ynode *key, const char *kind)
{
    if (valid_name(key->text))
        return true;
    wf__loader_error(c->L, key->mark, WF_EINVAL,
                     "invalid %s name '%s': use letters, digits, '_' and '-', starting with a "
                     "letter or '_'",
                     kind, key->text);
    return false;
}

/* ---- templates and value trees ------------------------------------------------------ */

static void add_site(ld *c, const wf_tpl *t, const wf__ynode *n, wf__tpl_role role, size_t owner)
{
    wf__sites *s = &c->sites;

    if (s->len == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->items = wf_xrealloc(s->items, s->cap * sizeof(*s->items));
    }
    s->items[s->len].tpl = t;
    s->items[s->len].node = n;
    s->items[s->len].role = role;
    s->items[s->len].owner = owner;
    s->len++;
}

/* Compiles a scalar's text; a compile error is reported at its position in the file. */
static wf_tpl *compile(ld *c, const wf__ynode *n, unsigned flags, wf__tpl_role role, size_t owner)
{
    wf_tpl *t = NULL;
    wf_error err;

    wf_error_init(&err);
    if (wf_tpl_compile(n->text, n->len, flags, &t, &err) != WF_OK) {
        wf_mark m = wf__scalar_pos(c->L, n, err.line, err.column);

        wf__loader_error(c->L, m, err.code, "%s",
                         err.message != NULL ? err.message : wf_strerror(err.code));
        wf_error_release(&err);
        return NULL;
    }
    wf_error_release(&err);
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
static wf_vnode *build_vnode(ld *c, const wf__ynode *n, wf__tpl_role role, size_t owner)
{
    wf_vnode *v;

    if (!n->has_tpl)
        return const_vnode(n);
    v = wf_xcalloc(1, sizeof(*v));
    v->mark = n->mark;
    if (n->type == WF__Y_STRING) {
        v->kind = WF_VNODE_TEMPLATE;
        v->tpl = compile(c, n, 0, role, owner);
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
        v->children[k] = build_vnode(c, n->items[k], role, owner);
    }
    return v;
}

/* A map of name -> template string (env, publish). */
static size_t build_named_tpls(ld *c, const wf__ynode *map, const char *what, bool env_names,
                               wf__tpl_role role, size_t owner, wf_named_tpl **out)
{
    size_t n = 0;

    *out = wf_xcalloc(map->n + 1, sizeof(**out));
    for (size_t k = 0; k < map->n; k++) {
        const wf__ynode *key = map->keys[k], *val = map->items[k];

        if (env_names && !valid_env_name(key->text)) {
            wf__loader_error(c->L, key->mark, WF_EINVAL,
                             "invalid environment variable name '%s': use letters, digits and "
                             "'_', starting with a letter or '_'",
                             key->text);
            continue;
        }
        if (!env_names && !check_name(c, key, what))
            continue;
        if (text_of(c, val, key->text) == NULL)
            continue;
        (*out)[n].name = wf_xstrdup(key->text);
        (*out)[n].mark = key->mark;
        (*out)[n].tpl = compile(c, val, 0, role, owner);
        n++;
    }
    return n;
}

/* ---- inputs, vars, env, outputs ----------------------------------------------------- */

static void parse_input(ld *c, const wf__ynode *key, const wf__ynode *spec, wf_input_spec *in)
{
    const wf__ynode *v, *dkey = NULL;
    char *where;

    in->name = wf_xstrdup(key->text);
    in->mark = key->mark;
    check_name(c, key, "input");
    if (spec->type == WF__Y_NULL)
        return;
    if (spec->type != WF__Y_MAP) {
        char *got = wf__ynode_describe(spec);

        wf__loader_error(c->L, spec->mark, WF_ETYPE,
                         "input '%s' must be a map like {type: string, default: x}, got %s",
                         key->text, got);
        free(got);
        return;
    }
    where = wf_xasprintf("input '%s'", key->text);
    check_keys(c, spec, INPUT_KEYS, where);
    free(where);
    v = get(spec, "type", NULL);
    if (v != NULL) {
        int t = get_enum(c, v, "input type", INPUT_TYPES);

        if (t >= 0)
            in->type = INPUT_TYPE_VALUES[t];
    }
    v = get(spec, "description", NULL);
    if (v != NULL && text_of(c, v, "description") != NULL)
        in->description = wf_xstrdup(v->text);
    v = get(spec, "secret", NULL);
    if (v != NULL)
        get_bool(c, v, "secret", &in->secret);
    v = get(spec, "enum", NULL);
    if (v != NULL) {
        if (v->type != WF__Y_LIST || v->n == 0) {
            type_error(c, v, "enum", "a non-empty list of the allowed values");
        } else {
            wf_input_spec plain = *in;

            /* Each allowed value must itself fit the type. */
            plain.enum_values = NULL;
            plain.secret = false;
            in->enum_values = wf__ynode_json(v);
            for (size_t k = 0; k < v->n; k++) {
                json_object *e = json_object_array_get_idx(in->enum_values, k);
                char *msg = wf__input_check(&plain, e);

                if (msg != NULL) {
                    wf__loader_error(c->L, v->items[k]->mark, WF_ETYPE,
                                     "enum value of input '%s' %s", in->name, msg);
                    free(msg);
                }
            }
        }
    }
    v = get(spec, "default", &dkey);
    if (v != NULL) {
        char *msg;

        in->has_default = true;
        in->default_value = wf__ynode_json(v);
        msg = wf__input_check(in, in->default_value);
        if (msg != NULL) {
            wf__loader_error(c->L, v->type == WF__Y_NULL ? dkey->mark : v->mark, WF_ETYPE,
                             "default of input '%s' %s", in->name, msg);
            free(msg);
        }
    }
}

static void parse_inputs(ld *c, const wf__ynode *map)
{
    wf_workflow *wf = c->wf;

    if (!expect_map(c, map, "inputs"))
        return;
    wf->inputs = wf_xcalloc(map->n + 1, sizeof(*wf->inputs));
    for (size_t k = 0; k < map->n; k++)
        parse_input(c, map->keys[k], map->items[k], &wf->inputs[wf->n_inputs++]);
}

static size_t parse_named_vnodes(ld *c, const wf__ynode *map, const char *kind, wf__tpl_role role,
                                 wf_named_vnode **out)
{
    size_t n = 0;

    *out = wf_xcalloc(map->n + 1, sizeof(**out));
    for (size_t k = 0; k < map->n; k++) {
        if (!check_name(c, map->keys[k], kind))
            continue;
        (*out)[n].name = wf_xstrdup(map->keys[k]->text);
        (*out)[n].mark = map->keys[k]->mark;
        (*out)[n].value = build_vnode(c, map->items[k], role, n);
        n++;
    }
    return n;
}

/* ---- retry and defaults ------------------------------------------------------------- */

static void parse_retry(ld *c, const wf__ynode *n, wf_retry *r)
{
    const wf__ynode *v, *count;

    memset(r, 0, sizeof(*r));
    if (n->type == WF__Y_INT) {
        get_int(c, n, "retry", 0, &r->count);
        return;
    }
    if (n->type != WF__Y_MAP) {
        type_error(c, n, "retry", "a count or a map {count, delay, backoff, max-delay}");
        return;
    }
    check_keys(c, n, RETRY_KEYS, "retry");
    count = get(n, "count", NULL);
    if (count == NULL)
        wf__loader_error(c->L, n->mark, WF_EMISSING,
                         "'retry' needs 'count' (how many attempts after the first)");
    else
        get_int(c, count, "retry.count", 0, &r->count);
    v = get(n, "delay", NULL);
    if (v != NULL)
        get_duration(c, v, "retry.delay", &r->delay_ms);
    v = get(n, "backoff", NULL);
    if (v != NULL) {
        int b = get_enum(c, v, "backoff", BACKOFFS);

        r->backoff = b == 1   ? WF_BACKOFF_LINEAR
                     : b == 2 ? WF_BACKOFF_EXPONENTIAL
                              : WF_BACKOFF_CONSTANT;
    }
    v = get(n, "max-delay", NULL);
    if (v != NULL)
        get_duration(c, v, "retry.max-delay", &r->max_delay_ms);
}

static void check_env_map(ld *c, const wf__ynode *map, const char *what)
{
    if (!expect_map(c, map, what))
        return;
    for (size_t k = 0; k < map->n; k++) {
        if (!valid_env_name(map->keys[k]->text))
            wf__loader_error(c->L, map->keys[k]->mark, WF_EINVAL,
                             "invalid environment variable name '%s': use letters, digits and "
                             "'_', starting with a letter or '_'",
                             map->keys[k]->text);
        text_of(c, map->items[k], map->keys[k]->text);
    }
}

/* Compiles a template only to report its errors (defaults are compiled again per task). */
static void check_tpl(ld *c, const wf__ynode *n, const char *what)
{
    wf_tpl *t = NULL;
    wf_error err;

    if (text_of(c, n, what) == NULL)
        return;
    wf_error_init(&err);
    if (wf_tpl_compile(n->text, n->len, 0, &t, &err) != WF_OK) {
        wf_mark m = wf__scalar_pos(c->L, n, err.line, err.column);

        wf__loader_error(c->L, m, err.code, "%s", err.message ? err.message : "");
    }
    wf_tpl_free(t);
    wf_error_release(&err);
}

static void parse_defaults(ld *c, const wf__ynode *map)
{
    const wf__ynode *v;

    if (!expect_map(c, map, "defaults"))
        return;
    check_keys(c, map, DEFAULTS_KEYS, "defaults");
    v = get(map, "timeout", NULL);
    if (v != NULL)
        c->has_timeout = get_duration(c, v, "timeout", &c->timeout_ms);
    v = get(map, "retry", NULL);
    if (v != NULL) {
        parse_retry(c, v, &c->retry);
        c->has_retry = true;
    }
    v = get(map, "continue-on-error", NULL);
    if (v != NULL)
        c->has_coe = get_bool(c, v, "continue-on-error", &c->coe);
    v = get(map, "executor", NULL);
    if (v != NULL) {
        int e = get_enum(c, v, "executor", EXECUTORS);

        c->has_executor = e >= 0;
        c->executor = e == 1 ? WF_EXECUTOR_SLURM : WF_EXECUTOR_LOCAL;
    }
    v = get(map, "env", NULL);
    if (v != NULL) {
        check_env_map(c, v, "env");
        if (v->type == WF__Y_MAP) {
            c->env = v;
            for (size_t k = 0; k < v->n; k++)
                if (is_scalar(v->items[k]) && v->items[k]->type != WF__Y_NULL)
                    check_tpl(c, v->items[k], v->keys[k]->text);
        }
    }
    v = get(map, "workdir", NULL);
    if (v != NULL) {
        check_tpl(c, v, "workdir");
        c->workdir = is_scalar(v) && v->type != WF__Y_NULL ? v : NULL;
    }
    v = get(map, "shell", NULL);
    if (v != NULL) {
        check_tpl(c, v, "shell");
        c->shell = is_scalar(v) && v->type != WF__Y_NULL ? v : NULL;
    }
}

/* ---- tasks -------------------------------------------------------------------------- */

static void parse_run(ld *c, wf_task *t, const wf__ynode *n)
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
            if (text_of(c, n->items[k], "run") == NULL)
                continue;
            t->run_argv[t->run_argc++] =
                compile(c, n->items[k], WF_TPL_CSTRING, WF__ROLE_TASK, t->index);
        }
        return;
    }
    if (!is_scalar(n) || n->type == WF__Y_NULL) {
        type_error(c, n, "run", "a command string or a list [prog, arg, ...]");
        return;
    }
    if (n->len == 0) {
        wf__loader_error(c->L, n->mark, WF_EINVAL, "'run' is an empty command");
        return;
    }
    t->run = compile(c, n, WF_TPL_SHELL, WF__ROLE_TASK, t->index);
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

        ok = len > 0 && valid_name(part);
        free(part);
        s += len;
        if (*s == '.') {
            s++;
            ok = ok && *s != '\0';
        }
    }
    return ok;
}

static void parse_action(ld *c, wf_task *t, const wf__ynode *n)
{
    t->run_mark = n->mark;
    if (n->type != WF__Y_STRING) {
        type_error(c, n, "action", "an action name like core.echo");
        return;
    }
    if (!valid_action_name(n->text)) {
        wf__loader_error(c->L, n->mark, WF_EINVAL,
                         "invalid action name '%s': use namespace.name, like core.echo", n->text);
        return;
    }
    if (strncmp(n->text, "core.", 5) == 0 && !in_list(n->text, CORE_ACTIONS)) {
        const char *near = wf_closest(n->text, CORE_ACTIONS);
        wf_strbuf sb = WF_STRBUF_INIT;

        if (near != NULL) {
            wf_strbuf_addf(&sb, "; did you mean '%s'?", near);
        } else {
            wf_strbuf_adds(&sb, " (built-in actions: ");
            join_list(&sb, CORE_ACTIONS);
            wf_strbuf_addc(&sb, ')');
        }
        wf__loader_error(c->L, n->mark, WF_EUNKNOWN, "unknown built-in action '%s'%s", n->text,
                         wf_strbuf_str(&sb));
        wf_strbuf_release(&sb);
    }
    t->action = wf_xstrdup(n->text);
}

static void parse_needs(ld *c, size_t ti, const wf__ynode *n)
{
    wf__needs *nd = &c->needs[ti];

    if (n->type == WF__Y_STRING) {
        nd->names = wf_xmalloc(sizeof(*nd->names));
        nd->names[nd->n++] = n;
        return;
    }
    if (n->type != WF__Y_LIST) {
        type_error(c, n, "needs", "a task name or a list of task names");
        return;
    }
    nd->names = wf_xcalloc(n->n + 1, sizeof(*nd->names));
    for (size_t k = 0; k < n->n; k++) {
        if (n->items[k]->type != WF__Y_STRING) {
            type_error(c, n->items[k], "needs", "a task name");
            continue;
        }
        nd->names[nd->n++] = n->items[k];
    }
}

/* A list, or one template that yields a list. */
static wf_vnode *list_or_tpl(ld *c, const wf__ynode *n, const char *what, size_t ti)
{
    if (n->type == WF__Y_LIST || (n->type == WF__Y_STRING && n->has_tpl))
        return build_vnode(c, n, WF__ROLE_ITEMS, ti);
    type_error(c, n, what, "a list or one template that yields a list");
    return NULL;
}

static void check_object_list(ld *c, const wf__ynode *n, const char *what)
{
    if (n->type != WF__Y_LIST)
        return;
    for (size_t k = 0; k < n->n; k++)
        if (n->items[k]->type != WF__Y_MAP && !n->items[k]->has_tpl)
            type_error(c, n->items[k], what, "a map like {key: value}");
}

/* When every axis is written out as a list, the number of combinations is known now: a
 * matrix over the cap is a load-time error, before a run allocates any of it. (Axes given by
 * a template are checked when the run expands them.) */
static void check_matrix_size(ld *c, const wf__ynode *m, const wf__ynode *include)
{
    size_t total = 1, extra = include != NULL && include->type == WF__Y_LIST ? include->n : 0;
    wf_error e;

    for (size_t k = 0; k < m->n; k++) {
        if (m->items[k]->type != WF__Y_LIST)
            return;
        if (__builtin_mul_overflow(total, m->items[k]->n, &total))
            total = SIZE_MAX;
    }
    if (total <= WF_MAX_ITEMS && extra <= WF_MAX_ITEMS - total)
        return;
    wf_error_init(&e);
    wf__matrix_too_large(m->mark, total, extra, &e);
    wf__loader_error(c->L, m->mark, e.code, "%s", e.message);
    wf_error_release(&e);
}

static void parse_items(ld *c, wf_task *t, const wf__ynode *n)
{
    const wf__ynode *m, *v;

    t->items_mark = n->mark;
    if (n->type == WF__Y_LIST || (n->type == WF__Y_STRING && n->has_tpl)) {
        if (n->type == WF__Y_LIST && n->n > WF_MAX_ITEMS)
            wf__loader_error(c->L, n->mark, WF_ERANGE,
                             "with-items has %zu items, more than the %d a task may expand to; "
                             "split it into several tasks",
                             n->n, WF_MAX_ITEMS);
        t->items_kind = WF_ITEMS_LIST;
        t->items = build_vnode(c, n, WF__ROLE_ITEMS, t->index);
        return;
    }
    if (n->type != WF__Y_MAP) {
        type_error(c, n, "with-items",
                   "a list, one template that yields a list (like << task.x >>), or "
                   "{matrix: {key: [..]}}");
        return;
    }
    t->items_kind = WF_ITEMS_MATRIX;
    check_keys(c, n, ITEMS_KEYS, "with-items");
    m = get(n, "matrix", NULL);
    if (m == NULL) {
        wf__loader_error(c->L, n->mark, WF_EMISSING,
                         "'with-items' as a map needs 'matrix': {key: [values], ...}");
    } else if (expect_map(c, m, "matrix")) {
        if (m->n == 0)
            wf__loader_error(c->L, m->mark, WF_EINVAL, "'matrix' needs at least one key");
        t->matrix = wf_xcalloc(m->n + 1, sizeof(*t->matrix));
        for (size_t k = 0; k < m->n; k++) {
            wf_vnode *val = list_or_tpl(c, m->items[k], m->keys[k]->text, t->index);

            if (val == NULL)
                continue;
            t->matrix[t->n_matrix].name = wf_xstrdup(m->keys[k]->text);
            t->matrix[t->n_matrix].mark = m->keys[k]->mark;
            t->matrix[t->n_matrix].value = val;
            t->n_matrix++;
        }
    }
    v = get(n, "include", NULL);
    if (v != NULL) {
        check_object_list(c, v, "include");
        t->matrix_include = list_or_tpl(c, v, "include", t->index);
    }
    if (m != NULL && m->type == WF__Y_MAP)
        check_matrix_size(c, m, v);
    v = get(n, "exclude", NULL);
    if (v != NULL) {
        check_object_list(c, v, "exclude");
        t->matrix_exclude = list_or_tpl(c, v, "exclude", t->index);
    }
}

static void parse_cache(ld *c, wf_task *t, const wf__ynode *n)
{
    const wf__ynode *v;

    if (n->type == WF__Y_BOOL) {
        t->cache = n->b;
        return;
    }
    if (n->type != WF__Y_MAP) {
        type_error(c, n, "cache", "a boolean or a map {key, sources}");
        return;
    }
    t->cache = true;
    check_keys(c, n, CACHE_KEYS, "cache");
    v = get(n, "key", NULL);
    if (v != NULL && text_of(c, v, "cache.key") != NULL)
        t->cache_key = compile(c, v, 0, WF__ROLE_TASK, t->index);
    v = get(n, "sources", NULL);
    if (v == NULL)
        return;
    if (v->type == WF__Y_STRING) {
        t->cache_sources = wf_xcalloc(2, sizeof(char *));
        t->cache_sources[t->n_cache_sources++] = wf_xstrdup(v->text);
        return;
    }
    if (v->type != WF__Y_LIST) {
        type_error(c, v, "cache.sources", "a list of file globs");
        return;
    }
    t->cache_sources = wf_xcalloc(v->n + 1, sizeof(char *));
    for (size_t k = 0; k < v->n; k++) {
        if (v->items[k]->type != WF__Y_STRING) {
            type_error(c, v->items[k], "cache.sources", "a file glob");
            continue;
        }
        t->cache_sources[t->n_cache_sources++] = wf_xstrdup(v->items[k]->text);
    }
}

static void parse_slurm(ld *c, wf_task *t, const wf__ynode *n)
{
    const wf__ynode *v;
    int cpus;

    if (!expect_map(c, n, "slurm"))
        return;
    check_keys(c, n, SLURM_KEYS, "slurm");
    /* Templates are allowed in the values; only constants can be checked now. */
    v = get(n, "partition", NULL);
    if (v != NULL && !v->has_tpl && v->type != WF__Y_STRING)
        type_error(c, v, "slurm.partition", "a string");
    v = get(n, "time", NULL);
    if (v != NULL && !v->has_tpl && v->type != WF__Y_STRING && v->type != WF__Y_INT)
        type_error(c, v, "slurm.time", "a Slurm time limit like \"01:30:00\" or minutes");
    v = get(n, "cpus", NULL);
    if (v != NULL && !v->has_tpl)
        get_int(c, v, "slurm.cpus", 1, &cpus);
    v = get(n, "mem", NULL);
    if (v != NULL && !v->has_tpl && v->type != WF__Y_STRING && v->type != WF__Y_INT)
        type_error(c, v, "slurm.mem", "a Slurm memory size like 4G or megabytes");
    v = get(n, "extra", NULL);
    if (v != NULL && !v->has_tpl) {
        if (v->type != WF__Y_LIST) {
            type_error(c, v, "slurm.extra", "a list of sbatch options");
        } else {
            for (size_t k = 0; k < v->n; k++)
                if (v->items[k]->type != WF__Y_STRING && !v->items[k]->has_tpl)
                    type_error(c, v->items[k], "slurm.extra", "a string");
        }
    }
    t->slurm = build_vnode(c, n, WF__ROLE_TASK, t->index);
}

/* Task env: defaults.env first, then the task's own, which replace same-named entries. */
static void fold_env(ld *c, wf_task *t, const wf__ynode *own)
{
    size_t cap = (c->env ? c->env->n : 0) + (own && own->type == WF__Y_MAP ? own->n : 0);
    const wf__ynode **names = wf_xcalloc(cap + 1, sizeof(*names));
    const wf__ynode **vals = wf_xcalloc(cap + 1, sizeof(*vals));
    const wf__ynode *maps[2] = { c->env, own && own->type == WF__Y_MAP ? own : NULL };
    size_t n = 0;

    if (own != NULL)
        check_env_map(c, own, "env");
    for (int m = 0; m < 2; m++) {
        for (size_t k = 0; maps[m] != NULL && k < maps[m]->n; k++) {
            const wf__ynode *key = maps[m]->keys[k], *val = maps[m]->items[k];
            size_t j = 0;

            if (!valid_env_name(key->text) || !is_scalar(val) || val->type == WF__Y_NULL)
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
        t->env[k].tpl = compile(c, vals[k], WF_TPL_CSTRING, WF__ROLE_TASK, t->index);
    }
    t->n_env = n;
    free(names);
    free(vals);
}

static void parse_task(ld *c, size_t ti, const wf__ynode *key, const wf__ynode *map)
{
    wf_task *t = &c->wf->tasks[ti];
    const wf__ynode *v, *run, *action, *k_input = NULL, *k_run = NULL, *k_action = NULL;
    const wf__ynode *k_conc = NULL, *k_batch = NULL, *k_ff = NULL, *k_output = NULL;
    const wf__ynode *k_slurm = NULL, *slurm;
    char *where;

    t->name = wf_xstrdup(key->text);
    t->mark = key->mark;
    t->index = ti;
    check_name(c, key, "task");
    if (map->type != WF__Y_MAP) {
        char *got = wf__ynode_describe(map);

        wf__loader_error(c->L, map->type == WF__Y_NULL ? key->mark : map->mark, WF_ETYPE,
                         "task '%s' must be a map with 'run' or 'action', got %s", key->text, got);
        free(got);
        return;
    }
    where = wf_xasprintf("task '%s'", key->text);
    check_keys(c, map, TASK_KEYS, where);
    free(where);

    run = get(map, "run", &k_run);
    action = get(map, "action", &k_action);
    if (run != NULL && action != NULL) {
        const wf__ynode *later = k_run->offset > k_action->offset ? k_run : k_action;

        wf__loader_error(c->L, later->mark, WF_EINVAL,
                         "task '%s' has both 'run' and 'action'; a task does exactly one", t->name);
    } else if (run == NULL && action == NULL) {
        wf__loader_error(c->L, key->mark, WF_EMISSING,
                         "task '%s' needs 'run' (a command) or 'action' (like core.echo)", t->name);
    }
    if (run != NULL)
        parse_run(c, t, run);
    if (action != NULL && run == NULL)
        parse_action(c, t, action);

    v = get(map, "input", &k_input);
    if (v != NULL) {
        if (action == NULL) {
            wf__loader_error(c->L, k_input->mark, WF_EINVAL,
                             "'input' is for action tasks; a run task takes values through "
                             "templates in 'run' or 'env'");
        } else if (expect_map(c, v, "input")) {
            t->input = build_vnode(c, v, WF__ROLE_TASK, ti);
        }
    }
    v = get(map, "description", NULL);
    if (v != NULL && text_of(c, v, "description") != NULL)
        t->description = wf_xstrdup(v->text);
    v = get(map, "needs", NULL);
    if (v != NULL)
        parse_needs(c, ti, v);
    v = get(map, "with-items", NULL);
    if (v != NULL)
        parse_items(c, t, v);

    v = get(map, "concurrency", &k_conc);
    if (v != NULL)
        get_int(c, v, "concurrency", 1, &t->concurrency);
    v = get(map, "batch-size", &k_batch);
    if (v != NULL)
        get_int(c, v, "batch-size", 1, &t->batch_size);
    v = get(map, "fail-fast", &k_ff);
    if (v != NULL)
        get_bool(c, v, "fail-fast", &t->fail_fast);
    if (get(map, "with-items", NULL) == NULL) {
        const wf__ynode *item_keys[] = { k_conc, k_batch, k_ff };

        for (size_t k = 0; k < WF_ARRAY_LEN(item_keys); k++)
            if (item_keys[k] != NULL)
                wf__loader_error(c->L, item_keys[k]->mark, WF_EINVAL,
                                 "'%s' in a task applies to its items and needs 'with-items'%s",
                                 item_keys[k]->text,
                                 k == 0 ? " (the top-level 'concurrency' limits tasks)" : "");
    }

    v = get(map, "when", NULL);
    if (v != NULL && text_of(c, v, "when") != NULL)
        t->when = compile(c, v, WF_TPL_EXPR, WF__ROLE_TASK, ti);

    v = get(map, "retry", NULL);
    if (v != NULL)
        parse_retry(c, v, &t->retry);
    else if (c->has_retry)
        t->retry = c->retry;
    v = get(map, "timeout", NULL);
    if (v != NULL)
        get_duration(c, v, "timeout", &t->timeout_ms);
    else if (c->has_timeout)
        t->timeout_ms = c->timeout_ms;
    v = get(map, "continue-on-error", NULL);
    if (v != NULL)
        get_bool(c, v, "continue-on-error", &t->continue_on_error);
    else if (c->has_coe)
        t->continue_on_error = c->coe;

    v = get(map, "output", &k_output);
    if (v != NULL) {
        int o = get_enum(c, v, "output", OUTPUT_MODES);

        t->output = o == 1 ? WF_OUTPUT_JSON : o == 2 ? WF_OUTPUT_LINES : WF_OUTPUT_TEXT;
        if (action != NULL && run == NULL)
            wf__loader_error(c->L, k_output->mark, WF_EINVAL,
                             "'output' is for run tasks; an action returns its result as is");
    }

    fold_env(c, t, get(map, "env", NULL));
    v = get(map, "workdir", NULL);
    if (v == NULL)
        v = c->workdir;
    if (v != NULL && text_of(c, v, "workdir") != NULL)
        t->workdir = compile(c, v, WF_TPL_CSTRING, WF__ROLE_TASK, ti);
    v = get(map, "shell", NULL);
    if (v == NULL)
        v = c->shell;
    if (v != NULL && text_of(c, v, "shell") != NULL)
        t->shell = compile(c, v, WF_TPL_CSTRING, WF__ROLE_TASK, ti);

    v = get(map, "publish", NULL);
    if (v != NULL && expect_map(c, v, "publish"))
        t->n_publish = build_named_tpls(c, v, "var", false, WF__ROLE_PUBLISH, ti, &t->publish);
    v = get(map, "cache", NULL);
    if (v != NULL)
        parse_cache(c, t, v);

    v = get(map, "executor", NULL);
    if (v != NULL) {
        int e = get_enum(c, v, "executor", EXECUTORS);

        t->executor = e == 1 ? WF_EXECUTOR_SLURM : WF_EXECUTOR_LOCAL;
    } else if (c->has_executor) {
        t->executor = c->executor;
    }
    slurm = get(map, "slurm", &k_slurm);
    if (slurm != NULL) {
        if (t->executor != WF_EXECUTOR_SLURM)
            wf__loader_error(c->L, k_slurm->mark, WF_EINVAL,
                             "'slurm' options need 'executor: slurm' (in the task or in "
                             "defaults)");
        parse_slurm(c, t, slurm);
    }
}

static void parse_tasks(ld *c, const wf__ynode *map)
{
    wf_workflow *wf = c->wf;

    if (!expect_map(c, map, "tasks"))
        return;
    if (map->n == 0) {
        wf__loader_error(c->L, map->mark, WF_EINVAL, "'tasks' is empty: a workflow needs a task");
        return;
    }
    wf->tasks = wf_xcalloc(map->n, sizeof(*wf->tasks));
    c->needs = wf_xcalloc(map->n, sizeof(*c->needs));
    wf->n_tasks = map->n;
    for (size_t k = 0; k < map->n; k++)
        parse_task(c, k, map->keys[k], map->items[k]);
}

/* ---- the workflow ------------------------------------------------------------------- */

static char *default_name(const char *path)
{
    const char *base = strrchr(path, '/'), *dot;

    base = base != NULL ? base + 1 : path;
    dot = strrchr(base, '.');
    if (dot == NULL || dot == base)
        return wf_xstrdup(base);
    return wf_xstrndup(base, (size_t)(dot - base));
}

static void parse_top(ld *c, const wf__ynode *root)
{
    wf_workflow *wf = c->wf;
    const wf__ynode *v;

    if (root == NULL || root->type != WF__Y_MAP) {
        wf_mark m = { 1, 1 };

        if (root != NULL)
            m = root->mark;
        wf__loader_error(c->L, m, WF_EINVAL,
                         "a workflow is a map with at least 'version: 1' and 'tasks'");
        return;
    }
    check_keys(c, root, TOP_KEYS, "the workflow");
    v = get(root, "version", NULL);
    if (v == NULL)
        wf__loader_error(c->L, root->mark, WF_EMISSING,
                         "missing 'version': add 'version: 1' at the top");
    else if (v->type != WF__Y_INT || v->i != 1)
        type_error(c, v, "version", "1 (the only version of the format)");
    v = get(root, "name", NULL);
    if (v != NULL && text_of(c, v, "name") != NULL) {
        if (v->len == 0)
            wf__loader_error(c->L, v->mark, WF_EINVAL, "'name' is empty");
        else
            wf->name = wf_xstrdup(v->text);
    }
    if (wf->name == NULL)
        wf->name = default_name(wf->path);
    v = get(root, "description", NULL);
    if (v != NULL && text_of(c, v, "description") != NULL)
        wf->description = wf_xstrdup(v->text);
    v = get(root, "concurrency", NULL);
    if (v != NULL)
        get_int(c, v, "concurrency", 1, &wf->concurrency);
    v = get(root, "fail-fast", NULL);
    if (v != NULL)
        get_bool(c, v, "fail-fast", &wf->fail_fast);

    v = get(root, "inputs", NULL);
    if (v != NULL && v->type != WF__Y_NULL)
        parse_inputs(c, v);
    v = get(root, "vars", NULL);
    if (v != NULL && v->type != WF__Y_NULL && expect_map(c, v, "vars"))
        wf->n_vars = parse_named_vnodes(c, v, "var", WF__ROLE_VARS, &wf->vars);
    v = get(root, "env", NULL);
    if (v != NULL && v->type != WF__Y_NULL && expect_map(c, v, "env"))
        wf->n_env = build_named_tpls(c, v, "env", true, WF__ROLE_ENV, 0, &wf->env);
    v = get(root, "defaults", NULL);
    if (v != NULL && v->type != WF__Y_NULL)
        parse_defaults(c, v);
    v = get(root, "tasks", NULL);
    if (v == NULL)
        wf__loader_error(c->L, root->mark, WF_EMISSING,
                         "missing 'tasks': a workflow needs at least one task");
    else
        parse_tasks(c, v);
    v = get(root, "outputs", NULL);
    if (v != NULL && v->type != WF__Y_NULL && expect_map(c, v, "outputs"))
        wf->n_outputs = parse_named_vnodes(c, v, "output", WF__ROLE_OUTPUTS, &wf->outputs);
}

/* A default folded into several tasks reports the same error for each: keep one. The list
 * is sorted, so repeats are neighbours or share a position with errors between them. */
static void drop_repeats(wf_errlist *errs)
{
    size_t w = 0;

    for (size_t k = 0; k < errs->len; k++) {
        wf_error *e = &errs->items[k];
        bool repeat = false;

        for (size_t j = w; j > 0 && !repeat; j--) {
            const wf_error *o = &errs->items[j - 1];

            if (o->line != e->line || o->column != e->column)
                break;
            repeat = strcmp(o->message ? o->message : "", e->message ? e->message : "") == 0;
        }
        if (repeat) {
            wf_error_release(e);
            continue;
        }
        if (w != k) {
            errs->items[w] = *e;
            wf_error_init(e);
        }
        w++;
    }
    errs->len = w;
}

int wf_workflow_load_string(const char *name, const char *text, size_t len, wf_workflow **out,
                            wf_errlist *errs)
{
    wf__loader L = { 0 };
    ld c = { 0 };
    wf__ynode *root = NULL;
    wf_workflow *wf = wf_xcalloc(1, sizeof(*wf));
    size_t errs_before = errs->len;
    int rc = WF_OK;

    *out = NULL;
    wf->path = wf_xstrdup(name != NULL ? name : "<string>");
    wf->source = wf_xmalloc(len + 1);
    memcpy(wf->source, text, len);
    wf->source[len] = '\0';
    wf->source_len = len;
    wf_sha256_hex(text, len, wf->sha256);

    L.path = wf->path;
    L.src = wf->source;
    L.src_len = len;
    L.errs = errs;
    c.L = &L;
    c.wf = wf;
    if (wf__yaml_load(&L, &root) || root != NULL) {
        parse_top(&c, root);
        if (wf->n_tasks > 0)
            wf__validate(&L, wf, &c.sites, c.needs);
    }
    if (errs->len > errs_before) {
        wf_errlist_sort(errs);
        drop_repeats(errs);
        rc = WF_EINVAL;
    }
    for (size_t k = 0; c.needs != NULL && k < wf->n_tasks; k++)
        free(c.needs[k].names);
    free(c.needs);
    free(c.sites.items);
    wf__loader_release(&L);
    if (rc != WF_OK) {
        wf_workflow_free(wf);
        return rc;
    }
    *out = wf;
    return WF_OK;
}

int wf_workflow_load_file(const char *path, wf_workflow **out, wf_errlist *errs)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    int rc;

    *out = NULL;
    rc = wf__read_file(path, "workflow file", &sb, errs);
    if (rc != WF_OK)
        return rc;
    rc = wf_workflow_load_string(path, wf_strbuf_str(&sb), sb.len, out, errs);
    wf_strbuf_release(&sb);
    return rc;
}

static void free_named_tpls(wf_named_tpl *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(v[k].name);
        wf_tpl_free(v[k].tpl);
    }
    free(v);
}

static void free_named_vnodes(wf_named_vnode *v, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        free(v[k].name);
        wf_vnode_free(v[k].value);
    }
    free(v);
}

static void free_task(wf_task *t)
{
    free(t->name);
    free(t->description);
    wf_tpl_free(t->run);
    for (size_t k = 0; k < t->run_argc; k++)
        wf_tpl_free(t->run_argv[k]);
    free(t->run_argv);
    free(t->action);
    wf_vnode_free(t->input);
    wf_vnode_free(t->items);
    free_named_vnodes(t->matrix, t->n_matrix);
    wf_vnode_free(t->matrix_include);
    wf_vnode_free(t->matrix_exclude);
    wf_tpl_free(t->when);
    free_named_tpls(t->env, t->n_env);
    wf_tpl_free(t->workdir);
    wf_tpl_free(t->shell);
    free_named_tpls(t->publish, t->n_publish);
    wf_tpl_free(t->cache_key);
    for (size_t k = 0; k < t->n_cache_sources; k++)
        free(t->cache_sources[k]);
    free(t->cache_sources);
    wf_vnode_free(t->slurm);
    free(t->deps);
    free(t->dependents);
}

void wf_workflow_free(wf_workflow *wf)
{
    if (wf == NULL)
        return;
    for (size_t k = 0; k < wf->n_inputs; k++) {
        free(wf->inputs[k].name);
        json_object_put(wf->inputs[k].default_value);
        json_object_put(wf->inputs[k].enum_values);
        free(wf->inputs[k].description);
    }
    free(wf->inputs);
    free_named_vnodes(wf->vars, wf->n_vars);
    free_named_tpls(wf->env, wf->n_env);
    for (size_t k = 0; k < wf->n_tasks; k++)
        free_task(&wf->tasks[k]);
    free(wf->tasks);
    free(wf->topo_order);
    free(wf->by_name);
    free_named_vnodes(wf->outputs, wf->n_outputs);
    free(wf->path);
    free(wf->name);
    free(wf->description);
    free(wf->source);
    free(wf);
}
