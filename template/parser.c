/*
 * parser.c: template expressions, from tokens (lexer.c) to an AST: a precedence-climbing
 * parser with names, calls bound to their builtin (arity checked), lists and objects,
 * constant folding, the depth cap, and the references an expression makes. compile.c calls
 * wf__tpl_parse_one for each `<< >>` (or a bare condition).
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

static const char *const roots[] = { "inputs", "vars",  "env",      "task",
                                     "item",   "index", "workflow", NULL };
/* Where there is no item (WF_TPL_NO_ITEM). */
static const char *const roots_no_item[] = { "inputs", "vars", "env", "task", "workflow", NULL };

int wf__tpl_perr(parser *p, size_t off, int code, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = wf__tpl_verror(p->err, p->t->src, off, code, fmt, ap);
    va_end(ap);
    return rc;
}

static const token *cur(const parser *p)
{
    return &p->tok[p->i];
}

static bool accept(parser *p, tok_kind k)
{
    if (p->tok[p->i].kind != k)
        return false;
    p->i++;
    return true;
}

/* How a token is named in "expected X, got Y". */
static char *tok_desc(const parser *p, const token *t)
{
    size_t n = t->end - t->start;

    switch (t->kind) {
    case T_NAME:
    case T_INT:
    case T_FLOAT:
    case T_STRING:
        if (n > 24)
            return wf_xasprintf("%.24s...", p->t->src + t->start);
        return wf_xasprintf("%.*s", (int)n, p->t->src + t->start);
    default:
        return wf_xstrdup(wf__tpl_tok_text(t->kind));
    }
}

static int expected(parser *p, const char *what)
{
    char *got = tok_desc(p, cur(p));
    int rc = wf__tpl_perr(p, cur(p)->start, WF_ESYNTAX, "expected %s, got %s", what, got);

    free(got);
    return rc;
}

/* `x[1:3]`, `x[:2]` (Python, Jinja): there are no slices; say so rather than "expected ']'". */
static int slice_error(parser *p)
{
    return wf__tpl_perr(p, cur(p)->start, WF_ESYNTAX,
                        "slices (x[a:b]) are not supported: index one element (x[2], x[-1] from "
                        "the end), or use first, last or length");
}

static node *mk(parser *p, node_kind kind, uint32_t start, uint32_t end, uint32_t pos)
{
    wf_tpl *t = p->t;
    node *n = wf_xcalloc(1, sizeof(*n));

    n->kind = kind;
    n->start = start;
    n->end = end;
    n->pos = pos;
    n->depth = 1;
    if ((t->nnodes & (t->nnodes - 1)) == 0)
        t->nodes = wf_xrealloc(t->nodes, (t->nnodes ? t->nnodes * 2 : 1) * sizeof(*t->nodes));
    t->nodes[t->nnodes++] = n;
    return n;
}

static void add_ref(parser *p, wf_tpl_ref_kind kind, const char *name, uint32_t off)
{
    if (p->nrefs == p->crefs) {
        p->crefs = p->crefs ? p->crefs * 2 : 8;
        p->refs = wf_xrealloc(p->refs, p->crefs * sizeof(*p->refs));
    }
    p->refs[p->nrefs].ref.kind = kind;
    p->refs[p->nrefs].ref.name = name;
    p->refs[p->nrefs].off = off;
    p->nrefs++;
}

/* Depth bookkeeping, and the one limit that keeps evaluation's recursion bounded. */
static int set_depth(parser *p, node *n)
{
    uint32_t d = 0;

    if (n->a != NULL && n->a->depth > d)
        d = n->a->depth;
    if (n->b != NULL && n->b->depth > d)
        d = n->b->depth;
    for (size_t i = 0; i < n->nargs; i++)
        if (n->args[i]->depth > d)
            d = n->args[i]->depth;
    n->depth = d + 1;
    if (n->depth > WF_TPL_MAX_DEPTH)
        return wf__tpl_perr(p, n->pos, WF_ESYNTAX,
                            "expression nested too deeply (more than %d levels)", WF_TPL_MAX_DEPTH);
    return WF_OK;
}

static bool is_const(const node *n)
{
    return n == NULL || n->kind == N_LIT;
}

/* Whether a range() call with constant arguments is folded: when it gives at most
 * WF__TPL_FOLD_RANGE_MAX numbers, or when folding fails (wrong arguments, more numbers than
 * WF_MAX_LIST_LEN: a load-time error, before anything is built). */
static bool small_range(const node *n)
{
    int64_t lo = 0, hi = 0, count;
    double d;

    if (wf__tpl_num(n->args[0]->lit, n->nargs == 1 ? &hi : &lo, &d) != 1 ||
        (n->nargs == 2 && wf__tpl_num(n->args[1]->lit, &hi, &d) != 1))
        return true;
    count = wf__tpl_range_count(lo, hi);
    return count < 0 || count <= WF__TPL_FOLD_RANGE_MAX || count > WF_MAX_LIST_LEN;
}

/* Evaluates a node whose operands are all constants, once, now: `"a" + 1` is then a load-time
 * error, and `[1, 2]` or `-1` cost nothing per evaluation. */
static int fold(parser *p, node *n)
{
    ev e = { p->t, NULL, p->err, 0 };
    tval v = TVAL_NULL;
    int rc;

    rc = set_depth(p, n);
    if (rc != WF_OK)
        return rc;
    if (!is_const(n->a) || !is_const(n->b))
        return WF_OK;
    for (size_t i = 0; i < n->nargs; i++)
        if (!is_const(n->args[i]))
            return WF_OK;
    if (n->kind == N_CALL && (n->fn->flags & (B_STATUS | B_NOFOLD | B_ENGINE)) != 0)
        return WF_OK;
    if (n->kind == N_CALL && n->fn->fn == wf__tpl_f_range && !small_range(n))
        return WF_OK;
    rc = wf__tpl_eval_node(&e, n, &v);
    if (rc != WF_OK)
        return rc;
    n->lit = wf__tpl_detach(&v);
    n->kind = N_LIT;
    return WF_OK;
}

static int parse_expr(parser *p, node **out);

/* Arguments of a call after '(' up to ')', appended to args. */
static int parse_args(parser *p, node ***args, size_t *nargs)
{
    int rc;

    if (accept(p, T_RPAREN))
        return WF_OK;
    for (;;) {
        node *a = NULL;

        rc = parse_expr(p, &a);
        if (rc != WF_OK)
            return rc;
        *args = wf_xrealloc(*args, (*nargs + 1) * sizeof(**args));
        (*args)[(*nargs)++] = a;
        if (accept(p, T_RPAREN))
            return WF_OK;
        if (!accept(p, T_COMMA))
            return expected(p, "',' or ')' in the arguments");
    }
}

static int arity_error(parser *p, const builtin *b, bool piped, size_t nargs, uint32_t off)
{
    const char *rest = strchr(b->params, ',');
    size_t lo = b->min, hi = b->max, got = nargs;
    char want[64];

    if (piped) {
        if (b->min == 0 && b->max == 0)
            return wf__tpl_perr(p, off, WF_EARITY,
                                "'%s' cannot be used as a filter: it takes no value; write %s()",
                                b->name, b->name);
        lo = lo > 0 ? lo - 1 : 0;
        hi--;
        got--;
    }
    if (lo == hi)
        snprintf(want, sizeof(want), "%zu argument%s", lo, lo == 1 ? "" : "s");
    else
        snprintf(want, sizeof(want), "%zu or %zu arguments", lo, hi);
    if (lo == 0 && hi == 0)
        snprintf(want, sizeof(want), "no arguments");
    if (piped) {
        if (rest == NULL)
            return wf__tpl_perr(p, off, WF_EARITY, "filter '%s' takes %s, x | %s; got %zu", b->name,
                                want, b->name, got);
        return wf__tpl_perr(p, off, WF_EARITY, "filter '%s' takes %s, x | %s(%s); got %zu", b->name,
                            want, b->name, rest + 2, got);
    }
    return wf__tpl_perr(p, off, WF_EARITY, "%s() takes %s, %s(%s); got %zu", b->name, want, b->name,
                        b->params, got);
}

static int unknown_fn(parser *p, const token *name, bool piped)
{
    const char *close = wf__tpl_closest_builtin(name->s);

    if (wf__tpl_reads_a_file(name->s))
        return wf__tpl_perr(p, name->start, WF_EUNKNOWN,
                            "unknown %s '%s'; to take a file's lines as the items of a task "
                            "write with-items: << file_lines('items.txt') >> (the path relative "
                            "to the workflow file)",
                            piped ? "filter" : "function", name->s);

    if (close != NULL)
        return wf__tpl_perr(p, name->start, WF_EUNKNOWN, "unknown %s '%s'; did you mean '%s'?",
                            piped ? "filter" : "function", name->s, close);
    return wf__tpl_perr(p, name->start, WF_EUNKNOWN,
                        "unknown %s '%s' (see the list of filters in docs/templates.md)",
                        piped ? "filter" : "function", name->s);
}

/* Builds a call; for a status function with a literal task name, records the reference. */
static int finish_call(parser *p, const builtin *b, node **args, size_t nargs, bool piped,
                       const token *name, uint32_t start, node **out)
{
    node *n;
    int rc;

    if (nargs < b->min || nargs > b->max) {
        rc = arity_error(p, b, piped, nargs, name->start);
        free(args);
        return rc;
    }
    n = mk(p, N_CALL, start, p->tok[p->i - 1].end, name->start);
    n->fn = b;
    n->args = args;
    n->nargs = nargs;
    n->piped = piped;
    rc = wf__tpl_check_const_arg(p, b, args, nargs, name->start);
    if (rc != WF_OK)
        return rc;
    if (b->flags & B_STATUS) {
        if (nargs == 1 && args[0]->kind == N_LIT && tpl_is(args[0]->lit, json_type_string))
            add_ref(p, WF_TPL_REF_STATUS_FN, tpl_str(args[0]->lit, NULL), name->start);
        else
            add_ref(p, WF_TPL_REF_STATUS_ANY, b->name, name->start);
    }
    *out = n;
    return fold(p, n);
}

/* The name after `task` or `vars`: .NAME or ["NAME"]. */
static int root_name(parser *p, const token *root, node_kind kind, node **out)
{
    node *n;
    char *name = NULL;
    uint32_t end;

    if (accept(p, T_DOT)) {
        if (cur(p)->kind < T_NAME || (cur(p)->kind > T_NAME && cur(p)->kind < T_AND))
            return expected(p, kind == N_TASK ? "a task name after 'task.'"
                                              : "a var name after 'vars.'");
        name = wf_xstrdup(cur(p)->s);
        end = cur(p)->end;
        p->i++;
    } else if (accept(p, T_LBRACK)) {
        node *key = NULL;
        int rc = parse_expr(p, &key);

        if (rc != WF_OK)
            return rc;
        if (key->kind != N_LIT || !tpl_is(key->lit, json_type_string))
            return wf__tpl_perr(
                p, key->start, WF_ESYNTAX,
                "%s[...] needs a literal %s name in quotes, so that dependencies are "
                "known when the workflow is loaded",
                root->s, kind == N_TASK ? "task" : "var");
        if (cur(p)->kind != T_RBRACK)
            return expected(p, "']'");
        name = wf_xstrdup(tpl_str(key->lit, NULL));
        end = cur(p)->end;
        p->i++;
    } else if (kind == N_TASK) {
        return wf__tpl_perr(
            p, root->start, WF_ESYNTAX,
            "'task' must be followed by a task name: task.NAME, or task[\"NAME\"] for a "
            "name with '-'");
    } else {
        return wf__tpl_perr(p, root->start, WF_ESYNTAX,
                            "'vars' must be followed by a var name: vars.NAME or vars[\"NAME\"]");
    }
    n = mk(p, kind, root->start, end, root->start);
    n->key = name;
    add_ref(p, kind == N_TASK ? WF_TPL_REF_TASK : WF_TPL_REF_VAR, name, root->start);
    *out = n;
    return WF_OK;
}

static int parse_workflow(parser *p, const token *root, node **out)
{
    const char *field = NULL;
    uint32_t off = 0, end = 0;

    if (cur(p)->kind == T_DOT && p->tok[p->i + 1].kind == T_NAME) {
        field = p->tok[p->i + 1].s;
        off = p->tok[p->i + 1].start;
        end = p->tok[p->i + 1].end;
        p->i += 2;
    } else if (cur(p)->kind == T_LBRACK && p->tok[p->i + 1].kind == T_STRING &&
               p->tok[p->i + 2].kind == T_RBRACK) {
        field = p->tok[p->i + 1].s;
        off = p->tok[p->i + 1].start;
        end = p->tok[p->i + 2].end;
        p->i += 3;
    }
    if (field == NULL) {
        *out = mk(p, N_WORKFLOW, root->start, root->end, root->start);
        return WF_OK;
    }
    if (strcmp(field, "name") == 0) {
        *out = mk(p, N_WF_NAME, root->start, end, root->start);
    } else if (strcmp(field, "run_id") == 0) {
        *out = mk(p, N_WF_RUN_ID, root->start, end, root->start);
    } else {
        return wf__tpl_perr(p, off, WF_EUNKNOWN, "workflow has no field '%s'; it has: name, run_id",
                            field);
    }
    return WF_OK;
}

static int parse_name(parser *p, node **out)
{
    const token *name = cur(p);
    const builtin *b;

    p->i++;
    if (cur(p)->kind == T_LPAREN) {
        node **args = NULL;
        size_t nargs = 0;
        int rc;

        b = wf__tpl_builtin(name->s);
        if (b == NULL)
            return unknown_fn(p, name, false);
        p->i++;
        rc = parse_args(p, &args, &nargs);
        if (rc != WF_OK) {
            free(args);
            return rc;
        }
        return finish_call(p, b, args, nargs, false, name, name->start, out);
    }
    if (strcmp(name->s, "task") == 0)
        return root_name(p, name, N_TASK, out);
    if (strcmp(name->s, "vars") == 0)
        return root_name(p, name, N_VAR, out);
    if (strcmp(name->s, "workflow") == 0)
        return parse_workflow(p, name, out);
    if (strcmp(name->s, "inputs") == 0) {
        *out = mk(p, N_INPUTS, name->start, name->end, name->start);
    } else if (strcmp(name->s, "env") == 0) {
        *out = mk(p, N_ENV, name->start, name->end, name->start);
    } else if (strcmp(name->s, "item") == 0) {
        *out = mk(p, N_ITEM, name->start, name->end, name->start);
        add_ref(p, WF_TPL_REF_ITEM, "item", name->start);
    } else if (strcmp(name->s, "index") == 0) {
        *out = mk(p, N_INDEX, name->start, name->end, name->start);
        add_ref(p, WF_TPL_REF_ITEM, "index", name->start);
    } else {
        bool no_item = (p->t->flags & WF_TPL_NO_ITEM) != 0;
        const char *close = wf_closest(name->s, no_item ? roots_no_item : roots);
        const char *names = no_item ? "inputs, vars, env, task or workflow"
                                    : "inputs, vars, env, task, item, index or workflow";

        if (wf__tpl_builtin(name->s) != NULL)
            return wf__tpl_perr(p, name->start, WF_EUNKNOWN,
                                "'%s' is a function: write %s(x) or x | %s", name->s, name->s,
                                name->s);
        if (wf__tpl_foreign_root(name->s, no_item) != NULL)
            return wf__tpl_perr(p, name->start, WF_EUNKNOWN, "unknown name '%s': %s", name->s,
                                wf__tpl_foreign_root(name->s, no_item));
        if (close != NULL)
            return wf__tpl_perr(p, name->start, WF_EUNKNOWN,
                                "unknown name '%s'; did you mean '%s'? (names start with %s)",
                                name->s, close, names);
        return wf__tpl_perr(p, name->start, WF_EUNKNOWN,
                            "unknown name '%s': names start with %s (a string needs quotes)",
                            name->s, names);
    }
    return WF_OK;
}

static int parse_list(parser *p, node **out)
{
    uint32_t start = cur(p)->start;
    node **args = NULL, *n;
    size_t nargs = 0;
    int rc = WF_OK;

    p->i++;
    while (!accept(p, T_RBRACK)) {
        node *a = NULL;

        rc = parse_expr(p, &a);
        if (rc != WF_OK)
            goto out;
        args = wf_xrealloc(args, (nargs + 1) * sizeof(*args));
        args[nargs++] = a;
        if (accept(p, T_RBRACK))
            break;
        if (!accept(p, T_COMMA)) {
            rc = expected(p, "',' or ']' in the list");
            goto out;
        }
    }
    n = mk(p, N_LIST, start, p->tok[p->i - 1].end, start);
    n->args = args;
    n->nargs = nargs;
    args = NULL;
    *out = n;
    rc = fold(p, n);
out:
    free(args);
    return rc;
}

static int parse_object(parser *p, node **out)
{
    uint32_t start = cur(p)->start;
    node **args = NULL, *n;
    char **keys = NULL;
    size_t nargs = 0;
    int rc = WF_OK;

    p->i++;
    while (!accept(p, T_RBRACE)) {
        const token *k = cur(p);
        node *v = NULL;

        if (k->kind != T_STRING && k->kind != T_NAME && k->kind < T_AND) {
            rc = expected(p, "a key (a string or a name) in the object");
            goto out;
        }
        for (size_t i = 0; i < nargs; i++) {
            if (strcmp(keys[i], k->s) == 0) {
                rc =
                    wf__tpl_perr(p, k->start, WF_ESYNTAX, "duplicate key '%s' in the object", k->s);
                goto out;
            }
        }
        p->i++;
        if (!accept(p, T_COLON)) {
            rc = expected(p, "':' after the key");
            goto out;
        }
        rc = parse_expr(p, &v);
        if (rc != WF_OK)
            goto out;
        args = wf_xrealloc(args, (nargs + 1) * sizeof(*args));
        keys = wf_xrealloc(keys, (nargs + 1) * sizeof(*keys));
        args[nargs] = v;
        keys[nargs++] = wf_xstrdup(k->s);
        if (accept(p, T_RBRACE))
            break;
        if (!accept(p, T_COMMA)) {
            rc = expected(p, "',' or '}' in the object");
            goto out;
        }
    }
    n = mk(p, N_OBJECT, start, p->tok[p->i - 1].end, start);
    n->args = args;
    n->keys = keys;
    n->nargs = nargs;
    args = NULL;
    keys = NULL;
    *out = n;
    rc = fold(p, n);
out:
    for (size_t i = 0; keys != NULL && i < nargs; i++)
        free(keys[i]);
    free(keys);
    free(args);
    return rc;
}

static int parse_primary(parser *p, node **out)
{
    const token *t = cur(p);
    node *n;
    int rc;

    switch (t->kind) {
    case T_INT:
    case T_FLOAT:
    case T_STRING:
    case T_NULL:
    case T_TRUE:
    case T_FALSE:
        n = mk(p, N_LIT, t->start, t->end, t->start);
        if (t->kind == T_INT)
            n->lit = json_object_new_int64(t->i);
        else if (t->kind == T_FLOAT)
            n->lit = json_object_new_double(t->d);
        else if (t->kind == T_STRING)
            n->lit = json_object_new_string_len(t->s, (int)t->slen);
        else if (t->kind != T_NULL)
            n->lit = json_object_new_boolean(t->kind == T_TRUE);
        p->i++;
        *out = n;
        return WF_OK;
    case T_LPAREN: {
        uint32_t start = t->start;

        p->i++;
        rc = parse_expr(p, out);
        if (rc != WF_OK)
            return rc;
        if (!accept(p, T_RPAREN))
            return expected(p, "')'");
        /* The parentheses belong to the expression's text, for messages that quote it. */
        (*out)->start = start;
        (*out)->end = p->tok[p->i - 1].end;
        return WF_OK;
    }
    case T_LBRACK:
        return parse_list(p, out);
    case T_LBRACE:
        return parse_object(p, out);
    case T_NAME:
        return parse_name(p, out);
    default:
        return expected(p, "an expression");
    }
}

/* a.b, a["b"], a[0], a[expr] and a | f(args), left to right. */
static int parse_postfix(parser *p, node **out)
{
    node *base = NULL;
    int rc = parse_primary(p, &base);

    while (rc == WF_OK) {
        const token *t = cur(p);
        node *n;

        if (t->kind == T_DOT) {
            const token *k = &p->tok[p->i + 1];

            if (k->kind == T_INT)
                return wf__tpl_perr(p, k->start, WF_ESYNTAX, "use [%.*s] for an index, not .%.*s",
                                    (int)(k->end - k->start), p->t->src + k->start,
                                    (int)(k->end - k->start), p->t->src + k->start);
            if (k->kind != T_NAME && k->kind < T_AND) {
                p->i++;
                return expected(p, "a name after '.'");
            }
            p->i += 2;
            n = mk(p, N_GET, base->start, k->end, k->start);
            n->op = GET_KEY;
            n->a = base;
            n->key = wf_xstrdup(k->s);
        } else if (t->kind == T_LBRACK) {
            node *key = NULL;

            p->i++;
            if (cur(p)->kind == T_COLON)
                return slice_error(p);
            rc = parse_expr(p, &key);
            if (rc != WF_OK)
                return rc;
            if (cur(p)->kind == T_COLON)
                return slice_error(p);
            if (!accept(p, T_RBRACK))
                return expected(p, "']'");
            n = mk(p, N_GET, base->start, p->tok[p->i - 1].end, t->start);
            n->a = base;
            if (key->kind == N_LIT && tpl_is(key->lit, json_type_string)) {
                n->op = GET_KEY;
                n->key = wf_xstrdup(tpl_str(key->lit, NULL));
            } else if (key->kind == N_LIT && tpl_is(key->lit, json_type_int)) {
                n->op = GET_IDX;
                n->idx = json_object_get_int64(key->lit);
            } else {
                n->op = GET_DYN;
                n->b = key;
            }
        } else if (t->kind == T_PIPE) {
            const token *name = &p->tok[p->i + 1];
            const builtin *b;
            node **args = NULL;
            size_t nargs = 1;

            if (name->kind != T_NAME) {
                p->i++;
                return expected(p, "a filter name after '|'");
            }
            b = wf__tpl_builtin(name->s);
            if (b == NULL)
                return unknown_fn(p, name, true);
            p->i += 2;
            args = wf_xmalloc(sizeof(*args));
            args[0] = base;
            if (accept(p, T_LPAREN)) {
                rc = parse_args(p, &args, &nargs);
                if (rc != WF_OK) {
                    free(args);
                    return rc;
                }
            }
            rc = finish_call(p, b, args, nargs, true, name, base->start, &base);
            continue;
        } else {
            break;
        }
        if (n->op == GET_KEY && base->kind == N_INPUTS)
            add_ref(p, WF_TPL_REF_INPUT, n->key, base->start);
        base = n;
        rc = fold(p, n);
    }
    *out = base;
    return rc;
}

static int parse_unary(parser *p, node **out)
{
    const token *t = cur(p);
    node *n, *a = NULL;
    int rc;

    if (t->kind != T_MINUS)
        return parse_postfix(p, out);
    if (++p->depth > WF_TPL_MAX_DEPTH)
        return wf__tpl_perr(p, t->start, WF_ESYNTAX,
                            "expression nested too deeply (more than %d levels)", WF_TPL_MAX_DEPTH);
    p->i++;
    rc = parse_unary(p, &a);
    p->depth--;
    if (rc != WF_OK)
        return rc;
    n = mk(p, N_NEG, t->start, a->end, t->start);
    n->a = a;
    *out = n;
    return fold(p, n);
}

static node *binary(parser *p, node_kind kind, int op, node *l, node *r, uint32_t pos)
{
    node *n = mk(p, kind, l->start, r->end, pos);

    n->op = op;
    n->a = l;
    n->b = r;
    return n;
}

static int parse_mul(parser *p, node **out)
{
    node *l = NULL;
    int rc = parse_unary(p, &l);

    while (rc == WF_OK) {
        const token *t = cur(p);
        int op = t->kind == T_STAR ? OP_MUL : t->kind == T_SLASH ? OP_DIV : OP_MOD;
        node *r = NULL;

        if (t->kind != T_STAR && t->kind != T_SLASH && t->kind != T_PERCENT)
            break;
        p->i++;
        rc = parse_unary(p, &r);
        if (rc != WF_OK)
            return rc;
        l = binary(p, N_BIN, op, l, r, t->start);
        rc = fold(p, l);
    }
    *out = l;
    return rc;
}

static int parse_add(parser *p, node **out)
{
    node *l = NULL;
    int rc = parse_mul(p, &l);

    while (rc == WF_OK) {
        const token *t = cur(p);
        node *r = NULL;

        if (t->kind != T_PLUS && t->kind != T_MINUS)
            break;
        p->i++;
        rc = parse_mul(p, &r);
        if (rc != WF_OK)
            return rc;
        l = binary(p, N_BIN, t->kind == T_PLUS ? OP_ADD : OP_SUB, l, r, t->start);
        rc = fold(p, l);
    }
    *out = l;
    return rc;
}

/* The comparison operator at the current token (consumed), or -1. */
static int cmp_op(parser *p)
{
    switch (cur(p)->kind) {
    case T_EQ:
        p->i++;
        return OP_EQ;
    case T_NE:
        p->i++;
        return OP_NE;
    case T_LT:
        p->i++;
        return OP_LT;
    case T_LE:
        p->i++;
        return OP_LE;
    case T_GT:
        p->i++;
        return OP_GT;
    case T_GE:
        p->i++;
        return OP_GE;
    case T_IN:
        p->i++;
        return OP_IN;
    case T_NOT:
        if (p->tok[p->i + 1].kind == T_IN) {
            p->i += 2;
            return OP_NOT_IN;
        }
        return -1;
    default:
        return -1;
    }
}

static int parse_cmp(parser *p, node **out)
{
    node *l = NULL, *r = NULL;
    uint32_t pos;
    int rc = parse_add(p, &l), op;

    if (rc != WF_OK)
        return rc;
    pos = cur(p)->start;
    op = cmp_op(p);
    if (op < 0) {
        *out = l;
        return WF_OK;
    }
    rc = parse_add(p, &r);
    if (rc != WF_OK)
        return rc;
    l = binary(p, N_BIN, op, l, r, pos);
    rc = fold(p, l);
    if (rc != WF_OK)
        return rc;
    pos = cur(p)->start;
    if (cmp_op(p) >= 0)
        return wf__tpl_perr(p, pos, WF_ESYNTAX,
                            "comparisons do not chain: write a < b and b < c, with parentheses if "
                            "needed");
    *out = l;
    return WF_OK;
}

static int parse_not(parser *p, node **out)
{
    const token *t = cur(p);
    node *n, *a = NULL;
    int rc;

    if (t->kind != T_NOT)
        return parse_cmp(p, out);
    if (++p->depth > WF_TPL_MAX_DEPTH)
        return wf__tpl_perr(p, t->start, WF_ESYNTAX,
                            "expression nested too deeply (more than %d levels)", WF_TPL_MAX_DEPTH);
    p->i++;
    rc = parse_not(p, &a);
    p->depth--;
    if (rc != WF_OK)
        return rc;
    n = mk(p, N_NOT, t->start, a->end, t->start);
    n->a = a;
    *out = n;
    return fold(p, n);
}

static int parse_and(parser *p, node **out)
{
    node *l = NULL;
    int rc = parse_not(p, &l);

    while (rc == WF_OK && cur(p)->kind == T_AND) {
        uint32_t pos = cur(p)->start;
        node *r = NULL;

        p->i++;
        rc = parse_not(p, &r);
        if (rc != WF_OK)
            return rc;
        l = binary(p, N_AND, 0, l, r, pos);
        rc = fold(p, l);
    }
    *out = l;
    return rc;
}

static int parse_or(parser *p, node **out)
{
    node *l = NULL;
    int rc = parse_and(p, &l);

    while (rc == WF_OK && cur(p)->kind == T_OR) {
        uint32_t pos = cur(p)->start;
        node *r = NULL;

        p->i++;
        rc = parse_and(p, &r);
        if (rc != WF_OK)
            return rc;
        l = binary(p, N_OR, 0, l, r, pos);
        rc = fold(p, l);
    }
    *out = l;
    return rc;
}

static int parse_coal(parser *p, node **out)
{
    node *l = NULL;
    int rc = parse_or(p, &l);

    while (rc == WF_OK && cur(p)->kind == T_COAL) {
        uint32_t pos = cur(p)->start;
        node *r = NULL;

        p->i++;
        rc = parse_or(p, &r);
        if (rc != WF_OK)
            return rc;
        l = binary(p, N_COAL, 0, l, r, pos);
        rc = fold(p, l);
    }
    *out = l;
    return rc;
}

/* `if` and `else` are names, not keywords: only here, after a whole operand, do they mean
 * the conditional. */
static bool at_word(const parser *p, const char *word)
{
    return cur(p)->kind == T_NAME && strcmp(cur(p)->s, word) == 0;
}

/* `a if cond else b`, as in Python: the lowest precedence, right-associative
 * (`a if x else b if y else c` is `a if x else (b if y else c)`); only the chosen branch is
 * evaluated. */
static int parse_expr(parser *p, node **out)
{
    node *then = NULL, *cond = NULL, *other = NULL, *n;
    uint32_t pos;
    int rc;

    if (++p->depth > WF_TPL_MAX_DEPTH) {
        rc = wf__tpl_perr(p, cur(p)->start, WF_ESYNTAX,
                          "expression nested too deeply (more than %d levels)", WF_TPL_MAX_DEPTH);
        goto out;
    }
    rc = parse_coal(p, &then);
    if (rc != WF_OK || !at_word(p, "if")) {
        *out = then;
        goto out;
    }
    pos = cur(p)->start;
    p->i++;
    rc = parse_coal(p, &cond);
    if (rc != WF_OK)
        goto out;
    if (!at_word(p, "else")) {
        rc = expected(p, "'else' (a conditional is `A if CONDITION else B`)");
        goto out;
    }
    p->i++;
    rc = parse_expr(p, &other);
    if (rc != WF_OK)
        goto out;
    n = mk(p, N_COND, then->start, other->end, pos);
    n->a = cond;
    n->b = then;
    n->args = wf_xmalloc(sizeof(*n->args));
    n->args[0] = other;
    n->nargs = 1;
    rc = fold(p, n);
    *out = n;
out:
    p->depth--;
    return rc;
}

/* Lexes and parses one expression starting at src[pos]; see wf__tpl_lex for in_braces. */
int wf__tpl_parse_one(parser *p, size_t pos, bool in_braces, size_t open, node **out, size_t *end)
{
    wf_tpl *t = p->t;
    token_list toks = { NULL, 0, 0 };
    int rc;

    rc = wf__tpl_lex(t->src, t->len, pos, in_braces, open, &toks, end, p->err);
    if (rc != WF_OK)
        goto out;
    p->tok = toks.v;
    p->ntok = toks.len;
    p->i = 0;
    if (toks.v[0].kind == T_END || toks.v[0].kind == T_EOF) {
        rc = wf__tpl_perr(p, in_braces ? open : toks.v[0].start, WF_ESYNTAX,
                          "empty expression: expected something between '<<' and '>>'");
        goto out;
    }
    rc = parse_expr(p, out);
    if (rc != WF_OK)
        goto out;
    if (cur(p)->kind != T_END && cur(p)->kind != T_EOF) {
        char *got = tok_desc(p, cur(p));

        rc = wf__tpl_perr(p, cur(p)->start, WF_ESYNTAX, "unexpected %s after the expression%s", got,
                          in_braces ? "; expected '>>'" : "");
        free(got);
    }
out:
    p->tok = NULL;
    wf__tpl_tokens_release(&toks);
    return rc;
}
