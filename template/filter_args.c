/*
 * filter_args.c: what the filter files (filter_*.c) share: type tests on an evaluated
 * argument, building results (a string, a list, a boolean, a part passed on with its
 * ownership) and the type errors every filter reports in one wording ("join: expects a list
 * and a string, got ..."). Nothing here calls a filter.
 */
#include <stdlib.h>

#include "tpl_internal.h"

bool wf__tpl_is_type(const tval *v, enum json_type t)
{
    return tpl_is(v->j, t);
}

/* out becomes j, a part of from, carrying from's ownership along. */
void wf__tpl_pass_on(tval *from, const json_object *j, tval *out)
{
    out->j = j;
    out->own = from->own;
    out->pin = from->pin;
    from->own = NULL;
    from->pin = NULL;
}

void wf__tpl_new_string(tval *out, const char *s, size_t len)
{
    tval_take(out, wf_json_check(json_object_new_string_len(s, (int)len)));
}

/* An empty list with room for n elements (n within WF_MAX_LIST_LEN, or a length json-c
 * already holds). */
json_object *wf__tpl_new_list(size_t n)
{
    return wf_json_check(json_object_new_array_ext(n > 0 ? (int)n : 1));
}

void wf__tpl_new_bool(ev *e, bool b, tval *out)
{
    out->j = b ? e->t->c_true : e->t->c_false;
}

size_t wf__tpl_alen(const tval *v)
{
    return json_object_array_length(v->j);
}

const json_object *wf__tpl_aget(const tval *v, size_t i)
{
    return json_object_array_get_idx(v->j, i);
}

int wf__tpl_type_error(ev *e, const node *call, const tval *args, size_t nargs)
{
    wf_strbuf got = WF_STRBUF_INIT;
    int rc;

    for (size_t i = 0; i < nargs; i++) {
        if (i > 0)
            wf_strbuf_adds(&got, i + 1 == nargs ? " and " : ", ");
        wf_strbuf_adds(&got, wf_json_type_name(args[i].j));
    }
    rc = wf__tpl_fail(e, call, WF_ETYPE, "%s: expects %s, got %s", call->fn->name, call->fn->takes,
                      wf_strbuf_str(&got));
    wf_strbuf_release(&got);
    return rc;
}

/* An element of a list argument has the wrong type. */
int wf__tpl_elem_error(ev *e, const node *call, const json_object *el, size_t i)
{
    return wf__tpl_fail(e, call, WF_ETYPE, "%s: expects %s, got a list with %s at index %zu",
                        call->fn->name, call->fn->takes, wf_json_type_name(el), i);
}
