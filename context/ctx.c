/* Immutable evaluation contexts (see wf_context.h).
 *
 * Three refcounted layers, so that every derivation is O(1):
 *   root   what never changes during a run: inputs, env, the two results maps and the names;
 *   shared a root plus one vars object (wf_ctx_with_vars makes a new one: one allocation and
 *          one increment on the root);
 *   wf_ctx a shared part plus the current item and index (wf_ctx_with_item makes a new one:
 *          one allocation and one increment on the shared part).
 * Nothing is ever copied; every json_object here is owned by exactly one layer and is only
 * read, never json_object_get/put, while the layer lives.
 */
#include <stdlib.h>

#include "wf_context.h"

typedef struct root {
    atomic_uint refs;
    json_object *inputs;
    json_object *env;
    wf_results *results;
    wf_results *published_vars;
    char *workflow_name;
    char *run_id;
} root;

typedef struct shared {
    atomic_uint refs;
    root *root;
    json_object *vars;
} shared;

struct wf_ctx {
    atomic_uint refs;
    bool has_item;
    int64_t index;
    const json_object *item; /* borrowed: the engine keeps the item list alive */
    shared *s;
};

/* All three layers use the same refcount discipline: a relaxed increment (the caller already
 * holds a reference, so nothing needs ordering) and an acq_rel decrement (so that the thread
 * that frees sees every other owner's accesses as finished). */
static void count_up(atomic_uint *refs)
{
    atomic_fetch_add_explicit(refs, 1, memory_order_relaxed);
}

static bool count_down(atomic_uint *refs)
{
    return atomic_fetch_sub_explicit(refs, 1, memory_order_acq_rel) == 1;
}

/* count_down for a count that is usually 1 when it is dropped (an item context lives on one
 * worker for one unit). Reading 1 means the caller holds the only reference: no other thread
 * can take one (that needs a reference) or drop one, so the read-modify-write, the dearest
 * part of an unref, can be skipped. The acquire load pairs with the release part of the other
 * owners' earlier decrements, as the acq_rel decrement would. */
static bool count_down_sole(atomic_uint *refs)
{
    if (atomic_load_explicit(refs, memory_order_acquire) == 1)
        return true;
    return count_down(refs);
}

static json_object *or_empty_object(json_object *v)
{
    return v != NULL ? v : json_object_new_object();
}

static void root_unref(root *r)
{
    if (!count_down(&r->refs))
        return;
    json_object_put(r->inputs);
    json_object_put(r->env);
    wf_results_unref(r->results);
    wf_results_unref(r->published_vars);
    free(r->workflow_name);
    free(r->run_id);
    free(r);
}

static shared *shared_new(root *r, json_object *vars_take)
{
    shared *s = wf_xmalloc(sizeof(*s));

    atomic_init(&s->refs, 1);
    s->root = r;
    s->vars = or_empty_object(vars_take);
    return s;
}

static void shared_unref(shared *s)
{
    if (!count_down(&s->refs))
        return;
    json_object_put(s->vars);
    root_unref(s->root);
    free(s);
}

static wf_ctx *ctx_new(shared *s_take, bool has_item, const json_object *item, int64_t index)
{
    wf_ctx *c = wf_xmalloc(sizeof(*c));

    atomic_init(&c->refs, 1);
    c->has_item = has_item;
    c->index = index;
    c->item = item;
    c->s = s_take;
    return c;
}

wf_ctx *wf_ctx_new(const wf_ctx_init *init)
{
    static const wf_ctx_init empty;
    root *r = wf_xmalloc(sizeof(*r));

    if (init == NULL)
        init = &empty;
    atomic_init(&r->refs, 1);
    r->inputs = or_empty_object(init->inputs);
    r->env = or_empty_object(init->env);
    r->results = init->results ? wf_results_ref(init->results) : wf_results_new(0);
    r->published_vars =
        init->published_vars ? wf_results_ref(init->published_vars) : wf_results_new(0);
    r->workflow_name = wf_xstrdup(init->workflow_name ? init->workflow_name : "");
    r->run_id = wf_xstrdup(init->run_id ? init->run_id : "");
    return ctx_new(shared_new(r, init->vars), false, NULL, 0);
}

wf_ctx *wf_ctx_with_item(const wf_ctx *base, const json_object *item, int64_t index)
{
    count_up(&base->s->refs);
    return ctx_new(base->s, true, item, index);
}

wf_ctx *wf_ctx_with_vars(const wf_ctx *base, json_object *vars_take)
{
    count_up(&base->s->root->refs);
    return ctx_new(shared_new(base->s->root, vars_take), base->has_item, base->item, base->index);
}

wf_ctx *wf_ctx_ref(wf_ctx *c)
{
    count_up(&c->refs);
    return c;
}

void wf_ctx_unref(wf_ctx *c)
{
    if (c == NULL || !count_down_sole(&c->refs))
        return;
    shared_unref(c->s);
    free(c);
}

const json_object *wf_ctx_inputs(const wf_ctx *c)
{
    return c->s->root->inputs;
}

const json_object *wf_ctx_vars(const wf_ctx *c)
{
    return c->s->vars;
}

const json_object *wf_ctx_env(const wf_ctx *c)
{
    return c->s->root->env;
}

wf_results *wf_ctx_results(const wf_ctx *c)
{
    return c->s->root->results;
}

wf_results *wf_ctx_published_vars(const wf_ctx *c)
{
    return c->s->root->published_vars;
}

const char *wf_ctx_workflow_name(const wf_ctx *c)
{
    return c->s->root->workflow_name;
}

const char *wf_ctx_run_id(const wf_ctx *c)
{
    return c->s->root->run_id;
}

bool wf_ctx_item(const wf_ctx *c, const json_object **item, int64_t *index)
{
    if (!c->has_item)
        return false;
    if (item != NULL)
        *item = c->item;
    if (index != NULL)
        *index = c->index;
    return true;
}
