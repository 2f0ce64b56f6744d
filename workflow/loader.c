/*
 * loader.c: the YAML tree -> the wf_workflow model (see wf_workflow.h): the entry points,
 * the workflow-level keys (version, name, inputs, vars, env, outputs) and freeing the model.
 *
 * Every key of the format is checked with its type and bounds, every template string is
 * compiled once, and task defaults are folded into each task (load_task.c). Nothing stops at
 * the first mistake: each one becomes an error with its position and the walk goes on, so
 * that a user sees every error of a file at once. validate.c then builds and checks the
 * graph.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

/* ---- key tables (NULL-terminated for wf_closest) ------------------------------------ */

static const char *const TOP_KEYS[] = {
    "version",  "name",        "description", "inputs",     "vars",    "env",
    "defaults", "concurrency", "fail-fast",   "tasks",      "outputs", "timeout",
    "env-file", "slurm",       "memory",      "max-output", NULL,
};
static const char *const INPUT_KEYS[] = {
    "type", "default", "description", "secret", "enum", NULL
};
static const char *const INPUT_TYPES[] = { "any",     "string", "integer", "number",
                                           "boolean", "array",  "object",  NULL };

/* Indices into INPUT_TYPES follow wf_input_type. */
static const wf_input_type INPUT_TYPE_VALUES[] = {
    WF_INPUT_ANY,     WF_INPUT_STRING, WF_INPUT_INTEGER, WF_INPUT_NUMBER,
    WF_INPUT_BOOLEAN, WF_INPUT_ARRAY,  WF_INPUT_OBJECT,
};

/* A default written as a template: it may read env (the environment wfengine runs in) and
 * nothing that is computed from inputs. */
static wf_tpl *compile_default(wf__ld *c, const wf_input_spec *in, const wf__ynode *v)
{
    wf_tpl *t = NULL;
    wf_errlist errs;
    const wf_tpl_ref *refs;
    size_t n;

    wf_errlist_init(&errs);
    if (wf_tpl_compile_all(v->text, v->len, WF_TPL_NO_ITEM, &t, &errs) != WF_OK) {
        for (size_t i = 0; i < errs.len; i++)
            wf__loader_error(c->L,
                             wf__scalar_pos(c->L, v, errs.items[i].line, errs.items[i].column),
                             errs.items[i].code, "%s", errs.items[i].message);
        wf_errlist_release(&errs);
        return NULL;
    }
    wf_errlist_release(&errs);
    n = wf_tpl_refs(t, &refs);
    for (size_t i = 0; i < n; i++)
        wf__loader_error(c->L, wf__scalar_pos(c->L, v, refs[i].line, refs[i].column), WF_EINVAL,
                         "the default of input '%s' may read only env (env.NAME, the "
                         "environment wfengine runs in): it is computed before inputs, vars "
                         "and tasks",
                         in->name);
    if (n > 0) {
        wf_tpl_free(t);
        return NULL;
    }
    return t;
}

/* ---- inputs, vars, env, outputs ----------------------------------------------------- */

static void parse_input(wf__ld *c, const wf__ynode *key, const wf__ynode *spec, wf_input_spec *in)
{
    const wf__ynode *v, *dkey = NULL;
    char *where;

    in->name = wf_xstrdup(key->text);
    in->mark = key->mark;
    wf__ld_check_name(c, key, "input");
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
    wf__ld_check_keys(c, spec, INPUT_KEYS, where);
    free(where);
    v = wf__ld_get(spec, "type", NULL);
    if (v != NULL) {
        int t = wf__ld_get_enum(c, v, "input type", INPUT_TYPES);

        if (t >= 0)
            in->type = INPUT_TYPE_VALUES[t];
    }
    v = wf__ld_get(spec, "description", NULL);
    if (v != NULL && wf__ld_text_of(c, v, "description") != NULL)
        in->description = wf_xstrdup(v->text);
    v = wf__ld_get(spec, "secret", NULL);
    if (v != NULL)
        wf__ld_get_bool(c, v, "secret", &in->secret);
    v = wf__ld_get(spec, "enum", NULL);
    if (v != NULL) {
        if (v->type != WF__Y_LIST || v->n == 0) {
            wf__ld_type_error(c, v, "enum", "a non-empty list of the allowed values");
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
    v = wf__ld_get(spec, "default", &dkey);
    if (v != NULL && v->type == WF__Y_STRING && strstr(v->text, "<<") != NULL) {
        in->has_default = true;
        in->default_tpl = compile_default(c, in, v);
    } else if (v != NULL) {
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

static void parse_inputs(wf__ld *c, const wf__ynode *map)
{
    wf_workflow *wf = c->wf;

    if (!wf__ld_expect_map(c, map, "inputs"))
        return;
    wf->inputs = wf_xcalloc(map->n + 1, sizeof(*wf->inputs));
    for (size_t k = 0; k < map->n; k++)
        parse_input(c, map->keys[k], map->items[k], &wf->inputs[wf->n_inputs++]);
}

static size_t parse_named_vnodes(wf__ld *c, const wf__ynode *map, const char *kind,
                                 wf__tpl_role role, wf_named_vnode **out)
{
    size_t n = 0;

    *out = wf_xcalloc(map->n + 1, sizeof(**out));
    for (size_t k = 0; k < map->n; k++) {
        if (!wf__ld_check_name(c, map->keys[k], kind))
            continue;
        (*out)[n].name = wf_xstrdup(map->keys[k]->text);
        (*out)[n].mark = map->keys[k]->mark;
        (*out)[n].value = wf__ld_build_vnode(c, map->items[k], role, n);
        n++;
    }
    return n;
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

static void parse_top(wf__ld *c, const wf__ynode *root)
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
    wf__ld_check_keys(c, root, TOP_KEYS, "the workflow");
    v = wf__ld_get(root, "version", NULL);
    if (v == NULL)
        wf__loader_error(c->L, root->mark, WF_EMISSING,
                         "missing 'version': add 'version: 1' at the top");
    else if (v->type != WF__Y_INT || v->i != 1)
        wf__ld_type_error(c, v, "version", "1 (the only version of the format)");
    v = wf__ld_get(root, "name", NULL);
    if (v != NULL && wf__ld_text_of(c, v, "name") != NULL) {
        if (v->len == 0)
            wf__loader_error(c->L, v->mark, WF_EINVAL, "'name' is empty");
        else
            wf->name = wf_xstrdup(v->text);
    }
    if (wf->name == NULL)
        wf->name = default_name(wf->path);
    v = wf__ld_get(root, "description", NULL);
    if (v != NULL && wf__ld_text_of(c, v, "description") != NULL)
        wf->description = wf_xstrdup(v->text);
    v = wf__ld_get(root, "concurrency", NULL);
    if (v != NULL)
        wf__ld_get_int(c, v, "concurrency", 1, &wf->concurrency);
    v = wf__ld_get(root, "env-file", NULL);
    if (v != NULL)
        wf->env_files = wf__ld_env_files(c, v);
    v = wf__ld_get(root, "timeout", NULL);
    if (v != NULL)
        wf__ld_get_duration(c, v, "timeout", &wf->timeout_ms);
    v = wf__ld_get(root, "fail-fast", NULL);
    if (v != NULL)
        wf__ld_get_bool(c, v, "fail-fast", &wf->fail_fast);
    v = wf__ld_get(root, "memory", NULL);
    if (v != NULL)
        wf__ld_get_size(c, v, "memory", &wf->memory);
    v = wf__ld_get(root, "max-output", NULL);
    if (v != NULL)
        wf__ld_get_size(c, v, "max-output", &wf->max_output);

    v = wf__ld_get(root, "inputs", NULL);
    if (v != NULL && v->type != WF__Y_NULL)
        parse_inputs(c, v);
    v = wf__ld_get(root, "vars", NULL);
    if (v != NULL && v->type != WF__Y_NULL && wf__ld_expect_map(c, v, "vars"))
        wf->n_vars = parse_named_vnodes(c, v, "var", WF__ROLE_VARS, &wf->vars);
    v = wf__ld_get(root, "env", NULL);
    if (v != NULL && v->type != WF__Y_NULL && wf__ld_expect_map(c, v, "env"))
        wf->n_env = wf__ld_build_named_tpls(c, v, "env", true, WF__ROLE_ENV, 0, &wf->env);
    v = wf__ld_get(root, "slurm", NULL);
    if (v != NULL && v->type != WF__Y_NULL) {
        wf__ld_check_slurm(c, v, false);
        if (v->type == WF__Y_MAP)
            wf->slurm = wf__ld_build_vnode(c, v, WF__ROLE_SLURM, 0);
    }
    v = wf__ld_get(root, "defaults", NULL);
    if (v != NULL && v->type != WF__Y_NULL)
        wf__ld_parse_defaults(c, v);
    v = wf__ld_get(root, "tasks", NULL);
    if (v == NULL)
        wf__loader_error(c->L, root->mark, WF_EMISSING,
                         "missing 'tasks': a workflow needs at least one task");
    else
        wf__ld_parse_tasks(c, v);
    v = wf__ld_get(root, "outputs", NULL);
    if (v != NULL && v->type != WF__Y_NULL && wf__ld_expect_map(c, v, "outputs"))
        wf->n_outputs = parse_named_vnodes(c, v, "output", WF__ROLE_OUTPUTS, &wf->outputs);
}

static const wf__chain *chain_top(const wf__chain *c)
{
    while (c->up != NULL)
        c = c->up;
    return c;
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

static int load_text(const char *name, char *text, size_t len, const wf__chain *chain,
                     wf_workflow **out, wf_errlist *errs);

/* A file's text read into sb, taken out at its exact size (it stays as the workflow's
 * source for the run: the builder's spare room would stay with it). */
static char *take_text(wf_strbuf *sb, size_t *len)
{
    char *text = wf_strbuf_detach(sb, len);

    return wf_xrealloc(text, *len + 1);
}

/* Loads the file a task names in `uses:`. Problems with the call itself (no such file, a
 * cycle, too many files) are errors at the `uses:` value in c; errors inside the called file
 * go to sub, each saying which `uses:` loaded it. */
static void load_called(wf__ld *c, size_t ti, const wf__chain *chain, wf_errlist *sub)
{
    wf_task *t = &c->wf->tasks[ti];
    const wf__ynode *at = c->uses[ti].uses;
    wf__chain link = { .up = chain, .loaded = chain->loaded };
    char *path = wf__uses_resolve(c->wf->path, t->extra->uses), *cycle = NULL, *body;
    wf_strbuf text = WF_STRBUF_INIT;
    wf_errlist read_errs;
    size_t from = sub->len, len;

    wf_errlist_init(&read_errs);
    link.path = path;
    link.real = realpath(path, NULL);
    if (link.real == NULL || wf__read_file(path, "workflow file", &text, &read_errs) != WF_OK) {
        wf__loader_error(c->L, at->mark, WF_EIO, "uses: cannot read %s: %s", path,
                         read_errs.len > 0 ? read_errs.items[0].message : strerror(errno));
        goto out;
    }
    cycle = wf__uses_cycle(chain, link.real, path);
    if (cycle != NULL) {
        wf__loader_error(c->L, at->mark, WF_EINVAL,
                         "uses: a call cycle across files: %s; a workflow cannot call itself",
                         cycle);
        goto out;
    }
    if (++*link.loaded > WF_MAX_CALLED_FILES) {
        wf__loader_error(c->L, at->mark, WF_ERANGE,
                         "uses: more than %d workflow files are loaded under %s (each call "
                         "counts): call fewer",
                         WF_MAX_CALLED_FILES, chain_top(chain)->path);
        goto out;
    }
    body = take_text(&text, &len);
    if (load_text(path, body, len, &link, &t->extra->called, sub) != WF_OK) {
        wf__uses_note(sub, from, c->wf->path, at->mark);
        /* One line in the caller, so that its own errors say the call is broken too. */
        wf__loader_error(c->L, at->mark, WF_EINVAL, "uses: %s has errors (below)", path);
        goto out;
    }
    wf__uses_check_with(c, ti, t->extra->called);
out:
    free(cycle);
    free(link.real);
    free(path);
    wf_strbuf_release(&text);
    wf_errlist_release(&read_errs);
}

/* Loads a workflow from text[0..len) (NUL-terminated there), which it takes over: the text
 * becomes the workflow's source, or is freed. */
static int load_text(const char *name, char *text, size_t len, const wf__chain *chain,
                     wf_workflow **out, wf_errlist *errs)
{
    wf__loader L = { 0 };
    wf__ld c = { 0 };
    wf__ynode *root = NULL;
    wf_workflow *wf = wf_xcalloc(1, sizeof(*wf));
    size_t errs_before = errs->len;
    wf_errlist sub;
    int rc = WF_OK;

    *out = NULL;
    wf_errlist_init(&sub);
    wf->path = wf_xstrdup(name != NULL ? name : "<string>");
    wf->source = text;
    wf->source_len = len;

    L.path = wf->path;
    L.src = wf->source;
    L.src_len = len;
    L.errs = errs;
    wf_errlist_init(&wf->warnings);
    L.warnings = &wf->warnings;
    c.L = &L;
    c.wf = wf;
    if (wf__yaml_load(&L, &root) || root != NULL) {
        parse_top(&c, root);
        if (wf->n_tasks > 0)
            wf__validate(&L, wf, &c.sites, c.needs);
        for (size_t k = 0; c.uses != NULL && k < wf->n_tasks; k++)
            if (c.uses[k].uses != NULL && wf_task_extra_of(&wf->tasks[k])->uses != NULL)
                load_called(&c, k, chain, &sub);
    }
    if (errs->len > errs_before) {
        wf_errlist_sort(errs);
        drop_repeats(errs);
        rc = WF_EINVAL;
    }
    /* The called files' errors and warnings come after the caller's, each file's in its own
     * order. */
    for (size_t k = 0; k < sub.len; k++)
        wf_error_move(wf_errlist_add(errs), &sub.items[k]);
    if (sub.len > 0)
        rc = WF_EINVAL;
    wf_errlist_release(&sub);
    wf_errlist_sort(&wf->warnings);
    drop_repeats(&wf->warnings);
    for (size_t k = 0; rc == WF_OK && k < wf->n_tasks; k++) {
        const wf_task *t = &wf->tasks[k];
        const wf_workflow *called = wf_task_extra_of(t)->called;
        size_t from = wf->warnings.len;

        for (size_t i = 0; called != NULL && i < called->warnings.len; i++) {
            const wf_error *w = &called->warnings.items[i];
            wf_error *copy = wf_errlist_add(&wf->warnings);

            wf_error_set(copy, w->code, w->source, w->line, w->column, "%s", w->message);
            if (w->source_line != NULL)
                copy->source_line = wf_xstrdup(w->source_line);
        }
        if (called != NULL)
            wf__uses_note(&wf->warnings, from, wf->path, t->run_mark);
    }
    free(c.needs);
    wf_arena_release(&c.names);
    free(c.uses);
    for (size_t k = 0; k < c.sites.len; k++)
        free(c.sites.items[k].marks);
    free(c.sites.items);
    wf__loader_release(&L);
    if (rc != WF_OK) {
        wf_workflow_free(wf);
        return rc;
    }
    *out = wf;
    return WF_OK;
}

/* The top of the chain: the file being loaded for the caller of the public functions (a
 * string has no real path unless its name is a file's). */
static int load_top(const char *name, char *text, size_t len, wf_workflow **out, wf_errlist *errs)
{
    size_t loaded = 0;
    wf__chain top = { .path = name != NULL ? name : "<string>", .loaded = &loaded };
    int rc;

    top.real = name != NULL ? realpath(name, NULL) : NULL;
    rc = load_text(name, text, len, &top, out, errs);
    free(top.real);
    return rc;
}

int wf_workflow_load_string(const char *name, const char *text, size_t len, wf_workflow **out,
                            wf_errlist *errs)
{
    char *copy = wf_xmalloc(len + 1);

    memcpy(copy, text, len);
    copy[len] = '\0';
    return load_top(name, copy, len, out, errs);
}

int wf_workflow_load_file(const char *path, wf_workflow **out, wf_errlist *errs)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *text;
    size_t len;
    int rc;

    *out = NULL;
    rc = wf__read_file(path, "workflow file", &sb, errs);
    if (rc != WF_OK)
        return rc;
    text = take_text(&sb, &len);
    return load_top(path, text, len, out, errs);
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

const wf_task_extra wf__task_extra_none;

wf_task_extra *wf__task_extra(wf_task *t)
{
    if (t->extra == NULL)
        t->extra = wf_xcalloc(1, sizeof(*t->extra));
    return t->extra;
}

static void free_task_extra(wf_task_extra *x)
{
    if (x == NULL)
        return;
    free(x->uses);
    wf_workflow_free(x->called);
    wf_vnode_free(x->with);
    free_named_vnodes(x->matrix, x->n_matrix);
    wf_vnode_free(x->matrix_include);
    wf_vnode_free(x->matrix_exclude);
    wf_tpl_free(x->concurrency_tpl);
    wf_tpl_free(x->batch_size_tpl);
    wf_tpl_free(x->cpus_tpl);
    wf_tpl_free(x->continue_on_error_tpl);
    wf_tpl_free(x->cache_key);
    for (size_t k = 0; k < x->n_cache_sources; k++)
        free(x->cache_sources[k]);
    free(x->cache_sources);
    for (size_t k = 0; k < x->n_cache_generates; k++)
        free(x->cache_generates[k]);
    free(x->cache_generates);
    free(x);
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
    wf_tpl_free(t->when);
    wf_tpl_free(t->label);
    free_named_tpls(t->env, t->n_env);
    wf_tpl_free(t->workdir);
    wf_tpl_free(t->shell);
    free_named_tpls(t->publish, t->n_publish);
    for (size_t k = 0; t->env_files != NULL && t->env_files[k] != NULL; k++)
        free(t->env_files[k]);
    free(t->env_files);
    wf_vnode_free(t->slurm);
    free(t->deps);
    free(t->dependents);
    free_task_extra(t->extra);
}

void wf_workflow_sha256_hex(const wf_workflow *wf, char out[WF_SHA256_HEX_LEN + 1])
{
    wf_sha256_hex(wf->source, wf->source_len, out);
}

void wf_workflow_free(wf_workflow *wf)
{
    if (wf == NULL)
        return;
    wf_errlist_release(&wf->warnings);
    for (size_t k = 0; wf->env_files != NULL && wf->env_files[k] != NULL; k++)
        free(wf->env_files[k]);
    free(wf->env_files);
    for (size_t k = 0; k < wf->n_inputs; k++) {
        free(wf->inputs[k].name);
        json_object_put(wf->inputs[k].default_value);
        wf_tpl_free(wf->inputs[k].default_tpl);
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
    free(wf->name_slots);
    free_named_vnodes(wf->outputs, wf->n_outputs);
    wf_vnode_free(wf->slurm);
    free(wf->path);
    free(wf->name);
    free(wf->description);
    free(wf->source);
    free(wf);
}
