/*
 * compile.c: wf_tpl_compile and the rest of wf_template.h's compiled-template API. Splits a
 * string into literal text and `<< >>` parts (each expression parsed by parser.c), decides
 * the template's kind (literal, one value, interpolation), checks shell contexts and NUL
 * bytes where the flags ask, records the references in source order and detects simple
 * commands. Everything that can be decided without a context is decided here, once, so that
 * evaluation never parses.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

/* The two booleans every template hands out borrowed (tpl_internal.h): made once per process
 * and never freed, as nothing ever changes their reference counts (shared values are
 * read-only). One pair per template cost two allocations and 96 bytes each. */
static json_object *g_true, *g_false;
static pthread_once_t g_booleans_once = PTHREAD_ONCE_INIT;

static void make_booleans(void)
{
    g_true = wf_json_check(json_object_new_boolean(1));
    g_false = wf_json_check(json_object_new_boolean(0));
}

/* ---- the template --------------------------------------------------------------- */

static void add_part(wf_tpl *t, char *text, size_t len, node *expr)
{
    t->parts = wf_xrealloc(t->parts, (t->nparts + 1) * sizeof(*t->parts));
    memset(&t->parts[t->nparts], 0, sizeof(t->parts[0]));
    t->parts[t->nparts].text = text;
    t->parts[t->nparts].len = len;
    t->parts[t->nparts].expr = expr;
    t->nparts++;
}

/* Ends the literal text that started at src offset start and ends at end. */
static void flush_text(wf_tpl *t, wf_strbuf *sb, size_t start, size_t end)
{
    size_t len;
    char *s;

    if (sb->len == 0)
        return;
    s = wf_strbuf_detach(sb, &len);
    s = wf_xrealloc(s, len + 1); /* the builder's spare room would stay for the run */
    add_part(t, s, len, NULL);
    t->parts[t->nparts - 1].src_start = start;
    t->parts[t->nparts - 1].src_end = end;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')
            return false;
    return true;
}

/* Whether the expression ends in raw or quote, which changes how the shell sees it. */
static part_mode mode_of(const node *n, const node **inner)
{
    *inner = NULL;
    if (n->kind != N_CALL || (n->fn->flags & B_NOFOLD) == 0)
        return PM_PLAIN;
    *inner = n->args[0];
    return strcmp(n->fn->name, "raw") == 0 ? PM_RAW : PM_QUOTE;
}

/* wf_tpl_compile_all: moves the error in p->err to the list. */
static void keep_error(parser *p)
{
    wf_error *e = wf_errlist_add(p->all);

    *e = *p->err;
    wf_error_init(p->err);
}

static int split_parts(parser *p)
{
    wf_tpl *t = p->t;
    const char *s = t->src;
    wf_strbuf sb = WF_STRBUF_INIT;
    size_t i = 0, start = 0;
    int rc = WF_OK;

    while (i < t->len) {
        if (s[i] == '\\' && i + 2 < t->len && s[i + 1] == '<' && s[i + 2] == '<') {
            wf_strbuf_add(&sb, "<<", 2);
            i += 3;
        } else if (s[i] == '<' && i + 1 < t->len && s[i + 1] == '<') {
            node *n = NULL;
            size_t end = 0;
            part *pt;
            int one;

            flush_text(t, &sb, start, i);
            one = wf__tpl_parse_one(p, i + 2, true, i, &n, &end);

            if (one != WF_OK && p->all == NULL) {
                rc = one;
                goto out;
            }
            if (one != WF_OK) {
                /* Keep the error, then go on after this expression's '>>' (or stop when
                 * there is none): the next expressions may have errors of their own. */
                size_t close = i + 2;

                while (close + 1 < t->len && !(s[close] == '>' && s[close + 1] == '>'))
                    close++;
                keep_error(p);
                if (rc == WF_OK)
                    rc = one;
                if (close + 1 >= t->len)
                    break;
                i = close + 2;
                start = i;
                continue;
            }
            add_part(t, NULL, 0, n);
            pt = &t->parts[t->nparts - 1];
            pt->mode = mode_of(n, &pt->inner);
            pt->at = (uint32_t)i;
            i = end;
            start = end;
        } else {
            wf_strbuf_addc(&sb, s[i]);
            i++;
        }
    }
    flush_text(t, &sb, start, i);
out:
    wf_strbuf_release(&sb);
    return rc;
}

static void classify(wf_tpl *t)
{
    size_t nexpr = 0, blank = 0;
    const part *e = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; i < t->nparts; i++) {
        if (t->parts[i].expr != NULL) {
            nexpr++;
            e = &t->parts[i];
            t->value_part = i;
        } else if (is_blank(t->parts[i].text, t->parts[i].len)) {
            blank++;
        }
    }
    if (nexpr == 0 && t->nparts == 1) {
        /* One run of text (a constant command): the literal is that part's text, shared. */
        t->kind = WF_TPL_LITERAL;
        t->literal = t->parts[0].text;
        t->literal_len = t->parts[0].len;
    } else if (nexpr == 0) {
        t->kind = WF_TPL_LITERAL;
        for (size_t i = 0; i < t->nparts; i++)
            wf_strbuf_add(&sb, t->parts[i].text, t->parts[i].len);
        wf_strbuf_add(&sb, "", 0);
        t->literal = wf_strbuf_detach(&sb, &t->literal_len);
        t->literal = wf_xrealloc(t->literal, t->literal_len + 1);
    } else if (nexpr == 1 && blank + 1 == t->nparts) {
        t->kind = WF_TPL_VALUE;
        t->value = e->expr;
        t->value_mode = e->mode;
        t->value_inner = e->inner;
    } else {
        t->kind = WF_TPL_INTERP;
    }
}

/* `when`: a bare expression, or exactly one << expr >>. */
static int compile_expr(parser *p)
{
    wf_tpl *t = p->t;
    size_t i = 0, end = 0;
    node *n = NULL;
    int rc;

    while (i < t->len && is_blank(t->src + i, 1))
        i++;
    if (i + 1 < t->len && t->src[i] == '<' && t->src[i + 1] == '<') {
        rc = wf__tpl_parse_one(p, i + 2, true, i, &n, &end);
        if (rc != WF_OK)
            return rc;
        while (end < t->len && is_blank(t->src + end, 1))
            end++;
        if (end < t->len)
            return wf__tpl_perr(p, end, WF_ESYNTAX,
                                "a condition is one expression: write it bare (a and b) or as one "
                                "<< a and b >>");
    } else {
        rc = wf__tpl_parse_one(p, 0, false, 0, &n, &end);
        if (rc != WF_OK)
            return rc;
    }
    add_part(t, NULL, 0, n);
    t->parts[0].mode = mode_of(n, &t->parts[0].inner);
    t->kind = WF_TPL_VALUE;
    t->value = n;
    t->value_mode = t->parts[0].mode;
    t->value_inner = t->parts[0].inner;
    return WF_OK;
}

/* Words that /bin/sh runs itself rather than as a program: running such a command directly
 * would not do what the shell does. */
static const char *const shell_words[] = {
    "!",     "{",       "}",        ".",     ":",     "alias", "bg",       "break",    "case",
    "cd",    "command", "continue", "do",    "done",  "elif",  "else",     "esac",     "eval",
    "exec",  "exit",    "export",   "fc",    "fg",    "fi",    "for",      "function", "getopts",
    "hash",  "if",      "in",       "jobs",  "local", "read",  "readonly", "return",   "select",
    "set",   "shift",   "source",   "then",  "time",  "times", "trap",     "type",     "ulimit",
    "umask", "unalias", "unset",    "until", "wait",  "while", NULL,
};

static bool simple_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           c == '\t' || strchr("-_./:,+@%^=", c) != NULL;
}

static bool detect_simple(const wf_tpl *t)
{
    const part *first;
    size_t i = 0, ws;

    if (!(t->flags & WF_TPL_SHELL) || t->nparts == 0)
        return false;
    for (size_t k = 0; k < t->nparts; k++) {
        const part *pt = &t->parts[k];

        if (pt->expr != NULL && pt->mode == PM_RAW)
            return false;
        for (size_t j = 0; pt->expr == NULL && j < pt->len; j++)
            if (pt->text[j] == '\0' || !simple_char(pt->text[j]))
                return false;
    }
    /* The command word must be literal text: a value could name a shell builtin. */
    first = &t->parts[0];
    if (first->expr != NULL)
        return false;
    while (i < first->len && (first->text[i] == ' ' || first->text[i] == '\t'))
        i++;
    /* No command at all: nothing to run directly. */
    if (i == first->len)
        return false;
    ws = i;
    while (i < first->len && first->text[i] != ' ' && first->text[i] != '\t') {
        if (first->text[i] == '=')
            return false;
        i++;
    }
    if (i == first->len && t->nparts > 1)
        return false;
    for (size_t k = 0; shell_words[k] != NULL; k++)
        if (shell_words[k][0] == first->text[ws] && strlen(shell_words[k]) == i - ws &&
            memcmp(shell_words[k], first->text + ws, i - ws) == 0)
            return false;
    return true;
}

/* Text that becomes a C string (an argument, a variable, a path) cannot hold a NUL byte: the
 * process would see the text cut short there. */
static int check_no_nul(parser *p)
{
    const char *nul = memchr(p->t->src, '\0', p->t->len);

    if (nul == NULL)
        return WF_OK;
    return wf__tpl_perr(p, (size_t)(nul - p->t->src), WF_ESYNTAX,
                        "a NUL byte cannot be part of a command line, a variable or a path");
}

static int cmp_ref(const void *a, const void *b)
{
    const tmp_ref *x = a, *y = b;

    if (x->off != y->off)
        return x->off < y->off ? -1 : 1;
    return 0;
}

/* file_lines is only the whole value of a template (`<< file_lines('x') >>`, which the engine
 * reads one line at a time as a with-items list): inside an expression or some text it is a
 * compile error. */
static int check_file_lines(parser *p)
{
    const wf_tpl *t = p->t;

    for (size_t i = 0; i < t->nnodes; i++) {
        const node *n = t->nodes[i];

        if (n->kind == N_CALL && n->fn->fn == wf__tpl_f_file_lines &&
            (t->kind != WF_TPL_VALUE || n != t->value))
            return wf__tpl_perr(p, n->pos, WF_EINVAL,
                                "file_lines can only be a whole with-items value "
                                "(with-items: << file_lines('items.txt') >>)");
    }
    return WF_OK;
}

/* A constant whose one part is its source text as written (no escapes: most `run:` lines of a
 * generated workflow) becomes one allocation: the template, its part and its source, the
 * part's text and the literal being the source itself. A 100,000-task workflow keeps about
 * 100 bytes a task less (four allocations and a copy of the text). Returns t or its copy; t
 * is freed when copied. */
static wf_tpl *compact_literal(wf_tpl *t)
{
    wf_tpl *c;
    part *pt;
    char *src;

    if (t->kind != WF_TPL_LITERAL || t->nparts != 1 || t->nnodes != 0 || t->nrefs != 0 ||
        t->parts[0].expr != NULL || t->parts[0].len != t->len || t->literal != t->parts[0].text ||
        memcmp(t->parts[0].text, t->src, t->len) != 0)
        return t;
    c = wf_xmalloc(sizeof(*c) + sizeof(*pt) + t->len + 1);
    pt = (part *)(void *)(c + 1);
    src = (char *)(pt + 1);
    *c = *t;
    *pt = t->parts[0];
    memcpy(src, t->src, t->len + 1);
    c->src = src;
    c->parts = pt;
    pt->text = src;
    c->literal = src;
    c->nodes = NULL; /* none (nnodes is 0); t's, if any, go with t */
    c->refs = NULL;
    c->one_block = true;
    wf_tpl_free(t);
    return c;
}

/* Text with no `<<` anywhere (so no expression and no escape) and no NUL byte: the one-block
 * constant that split_parts, classify, the shell scan (which has no value to place) and
 * compact_literal make of it, built directly: no byte-by-byte copy, no scan, one allocation.
 * Returns NULL when the text is not such a text (the full compiler decides). A constant
 * `run:` line of a generated 100,000-task workflow was about 15 % of `validate`'s
 * instructions. */
static wf_tpl *literal_fast(const char *src, size_t len, unsigned flags)
{
    wf_tpl *c;
    part *pt;
    char *text;

    if ((flags & WF_TPL_EXPR) || len == 0 || memchr(src, '\0', len) != NULL)
        return NULL;
    for (const char *p = src; (p = memchr(p, '<', len - 1 - (size_t)(p - src))) != NULL; p++)
        if (p[1] == '<')
            return NULL;
    c = wf_xmalloc(sizeof(*c) + sizeof(*pt) + len + 1);
    pt = (part *)(void *)(c + 1);
    text = (char *)(pt + 1);
    memcpy(text, src, len);
    text[len] = '\0';
    memset(c, 0, sizeof(*c));
    memset(pt, 0, sizeof(*pt));
    pt->text = text;
    pt->len = len;
    pt->src_end = len;
    c->src = text;
    c->len = len;
    c->flags = flags;
    c->kind = WF_TPL_LITERAL;
    c->parts = pt;
    c->nparts = 1;
    c->literal = text;
    c->literal_len = len;
    c->one_block = true;
    pthread_once(&g_booleans_once, make_booleans);
    c->c_true = g_true;
    c->c_false = g_false;
    c->simple = detect_simple(c);
    return c;
}

static int compile(const char *src, size_t len, unsigned flags, wf_tpl **out, wf_error *err,
                   wf_errlist *all)
{
    parser p;
    wf_tpl *t;
    int rc;

    *out = NULL;
    if (len == (size_t)-1)
        len = strlen(src);
    if (len >= UINT32_MAX) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "template too long (%zu bytes)", len);
        return WF_EINVAL;
    }
    *out = literal_fast(src, len, flags);
    if (*out != NULL)
        return WF_OK;
    t = wf_xcalloc(1, sizeof(*t));
    /* Every byte is kept, NULs included. */
    t->src = wf_xmalloc(len + 1);
    memcpy(t->src, src, len);
    t->src[len] = '\0';
    t->len = len;
    t->flags = flags;
    pthread_once(&g_booleans_once, make_booleans);
    t->c_true = g_true;
    t->c_false = g_false;
    memset(&p, 0, sizeof(p));
    p.t = t;
    p.err = err;
    p.all = all;
    if (flags & WF_TPL_EXPR) {
        rc = compile_expr(&p);
    } else {
        rc = split_parts(&p);
        if (rc == WF_OK)
            classify(t);
        if (rc == WF_OK && (flags & WF_TPL_SHELL))
            rc = wf__tpl_shell_contexts(t, err);
    }
    if (rc == WF_OK && (flags & (WF_TPL_SHELL | WF_TPL_CSTRING)))
        rc = check_no_nul(&p);
    if (rc == WF_OK)
        rc = check_file_lines(&p);
    if (rc != WF_OK) {
        if (all != NULL && err->code != WF_OK)
            keep_error(&p);
        goto out;
    }
    /* Status functions record their reference after their arguments: put them back in
     * source order (qsort is not stable, but two references never share an offset). */
    if (p.nrefs > 1)
        qsort(p.refs, p.nrefs, sizeof(*p.refs), cmp_ref);
    /* None (a constant) allocates nothing: wf_tpl_refs gives NULL and 0. */
    t->refs = p.nrefs > 0 ? wf_xcalloc(p.nrefs, sizeof(*t->refs)) : NULL;
    for (size_t i = 0; i < p.nrefs; i++) {
        t->refs[i] = p.refs[i].ref;
        wf__tpl_linecol(t->src, p.refs[i].off, &t->refs[i].line, &t->refs[i].column);
    }
    t->nrefs = p.nrefs;
    t->simple = detect_simple(t);
    *out = compact_literal(t);
    t = NULL;
out:
    free(p.refs);
    wf_tpl_free(t);
    return rc;
}

int wf_tpl_compile(const char *src, size_t len, unsigned flags, wf_tpl **out, wf_error *err)
{
    return compile(src, len, flags, out, err, NULL);
}

int wf_tpl_compile_all(const char *src, size_t len, unsigned flags, wf_tpl **out, wf_errlist *errs)
{
    wf_error scratch;
    int rc;

    wf_error_init(&scratch);
    rc = compile(src, len, flags, out, &scratch, errs);
    wf_error_release(&scratch);
    return rc;
}

void wf_tpl_free(wf_tpl *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nnodes; i++) {
        node *n = t->nodes[i];

        if (n->lit != NULL)
            json_object_put(n->lit);
        for (size_t k = 0; n->keys != NULL && k < n->nargs; k++)
            free(n->keys[k]);
        free(n->keys);
        free(n->args);
        free(n->key);
        free(n);
    }
    free(t->nodes);
    if (t->one_block) {
        free(t);
        return;
    }
    if (t->nparts != 1 || t->literal != t->parts[0].text)
        free(t->literal);
    for (size_t i = 0; i < t->nparts; i++)
        free(t->parts[i].text);
    free(t->parts);
    free(t->refs);
    free(t->src);
    free(t);
}

wf_tpl_kind wf_tpl_get_kind(const wf_tpl *t)
{
    return t->kind;
}

const char *wf_tpl_source(const wf_tpl *t)
{
    return t->src;
}

size_t wf_tpl_refs(const wf_tpl *t, const wf_tpl_ref **out)
{
    *out = t->refs;
    return t->nrefs;
}

bool wf_tpl_is_simple_command(const wf_tpl *t)
{
    return t->simple;
}
