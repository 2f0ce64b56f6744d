/*
 * uses.c: the rules of sub-workflows (`uses:` and `with:`, loader_internal.h): where a called
 * file is, what makes a call cycle, which `with:` inputs fit the called workflow, and how an
 * error inside a called file says which `uses:` loaded it. loader.c reads and loads the files
 * (the recursion stays there); this file calls only yaml_source.c, load_values.c and
 * inputs.c.
 */
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

char *wf__uses_resolve(const char *caller_path, const char *uses)
{
    const char *slash = strrchr(caller_path, '/');

    if (uses[0] == '/' || slash == NULL)
        return wf_xstrdup(uses);
    return wf_xasprintf("%.*s/%s", (int)(slash - caller_path), caller_path, uses);
}

static void chain_names(wf_strbuf *sb, const wf__chain *c)
{
    if (c == NULL)
        return;
    chain_names(sb, c->up);
    wf_strbuf_adds(sb, c->path);
    wf_strbuf_adds(sb, " -> ");
}

char *wf__uses_cycle(const wf__chain *chain, const char *real, const char *path)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    bool found = false;

    for (const wf__chain *c = chain; c != NULL && !found; c = c->up)
        found = c->real != NULL && strcmp(c->real, real) == 0;
    if (!found)
        return NULL;
    chain_names(&sb, chain);
    wf_strbuf_adds(&sb, path);
    return wf_strbuf_detach(&sb, NULL);
}

static const wf_input_spec *find_input(const wf_workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->n_inputs; i++)
        if (strcmp(wf->inputs[i].name, name) == 0)
            return &wf->inputs[i];
    return NULL;
}

void wf__uses_check_with(wf__ld *c, size_t ti, const wf_workflow *called)
{
    const wf__uses_site *u = &c->uses[ti];
    const wf__ynode *with = u->with != NULL && u->with->type == WF__Y_MAP ? u->with : NULL;
    const char **names = wf_xcalloc(called->n_inputs + 1, sizeof(*names));
    wf_mark at = u->with_key != NULL ? u->with_key->mark : u->uses->mark;

    for (size_t i = 0; i < called->n_inputs; i++)
        names[i] = called->inputs[i].name;
    for (size_t k = 0; with != NULL && k < with->n; k++) {
        const char *key = with->keys[k]->text;
        const wf_input_spec *in = find_input(called, key);
        const char *near;
        json_object *v;
        char *msg;

        if (in != NULL) {
            /* A value without a template is known now: check its type and enum. */
            if (with->items[k]->has_tpl)
                continue;
            v = wf__ynode_json(with->items[k]);
            msg = wf__input_check(in, v);
            if (msg != NULL)
                wf__loader_error(c->L, with->items[k]->mark, WF_ETYPE, "input '%s' of %s %s", key,
                                 called->path, msg);
            free(msg);
            json_object_put(v);
            continue;
        }
        near = wf_closest(key, (const char *const *)names);
        if (near != NULL)
            wf__loader_error(c->L, with->keys[k]->mark, WF_EUNKNOWN,
                             "%s has no input '%s'; did you mean '%s'?", called->path, key, near);
        else if (called->n_inputs == 0)
            wf__loader_error(c->L, with->keys[k]->mark, WF_EUNKNOWN,
                             "%s has no input '%s' (it declares no inputs)", called->path, key);
        else {
            wf_strbuf sb = WF_STRBUF_INIT;

            wf__ld_join_list(&sb, (const char *const *)names);
            wf__loader_error(c->L, with->keys[k]->mark, WF_EUNKNOWN,
                             "%s has no input '%s' (its inputs: %s)", called->path, key,
                             wf_strbuf_str(&sb));
            wf_strbuf_release(&sb);
        }
    }
    for (size_t i = 0; i < called->n_inputs; i++) {
        const wf_input_spec *in = &called->inputs[i];

        if (in->has_default || (with != NULL && wf__ld_get(with, in->name, NULL) != NULL))
            continue;
        wf__loader_error(c->L, at, WF_EMISSING, "%s needs input '%s'%s%s%s: add it under 'with:'",
                         called->path, in->name, in->description ? " (" : "",
                         in->description ? in->description : "", in->description ? ")" : "");
    }
    free(names);
}

void wf__uses_note(wf_errlist *errs, size_t from, const char *file, wf_mark m)
{
    static const char via[] = " (via uses: at ";

    for (size_t k = from; k < errs->len; k++) {
        wf_error *e = &errs->items[k];
        const char *msg = e->message ? e->message : "";
        const char *at = strstr(msg, via);
        char *next;

        if (at != NULL && msg[strlen(msg) - 1] == ')')
            next = wf_xasprintf("%.*s, %s:%d:%d)", (int)(strlen(msg) - 1), msg, file, m.line,
                                m.column);
        else
            next = wf_xasprintf("%s%s%s:%d:%d)", msg, via, file, m.line, m.column);
        free(e->message);
        e->message = next;
    }
}
