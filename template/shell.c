/*
 * The shell's quoting state at every `<< >>` of a `run` string.
 *
 * A value is only safe in a shell script when it is written for the place it lands in:
 * unquoted it must be one quoted word, inside '...' a ' must close and reopen the quote, inside
 * "..." the characters $ ` " \ must be escaped. So the compiler follows /bin/sh's lexer through
 * the literal text of the template (POSIX quoting, $( ), $(( )), ${ }, backticks, comments,
 * heredocs and bash's $'...') and gives each expression the context it lands in. Where no
 * escaping makes a value safe (inside backticks, ${ }, $'...' or a heredoc body, an unclosed
 * quote, or text whose structure this scanner cannot follow), compiling fails at the `<<` with
 * the fix. The scan runs once per template, at load time; rendering only reads part->sh.
 *
 * A `raw` value is the author's own shell text: it may appear anywhere, and the scan assumes it
 * leaves the quoting state as it found it.
 */
#include <string.h>

#include "tpl_internal.h"

/* Nesting deeper than this (quotes inside $( ) inside quotes ...) is refused rather than
 * followed, so that the scan needs no allocation per level. */
#define SH_MAX_FRAMES   64
#define SH_MAX_HEREDOCS 16

typedef enum frame_kind {
    F_CMD,     /* the script itself: commands, unquoted words */
    F_SUBST,   /* $( ... ): commands again, until the ) that closes it */
    F_SQ,      /* '...' */
    F_DQ,      /* "..." */
    F_BQ,      /* `...` */
    F_PARAM,   /* ${...} */
    F_ARITH,   /* $(( ... )) */
    F_DSQ,     /* $'...' (bash, zsh, ksh) */
    F_COMMENT, /* # to the end of the line */
} frame_kind;

typedef struct frame {
    frame_kind kind;
    uint32_t depth; /* open parentheses (F_CMD, F_SUBST, F_ARITH) or braces (F_PARAM) */
    size_t open;    /* offset in the source of what opened it, for "never closed" */
} frame;

typedef struct heredoc {
    char *delim;
    size_t len;
    bool strip_tabs; /* <<- */
} heredoc;

typedef struct scan {
    wf_tpl *t;
    wf_error *err;
    /* The literal text as the shell reads it (`\<<` already `<<`), each byte's offset in the
     * source, and where each expression sits: before byte expr_at[k]. */
    char *text;
    uint32_t *off;
    size_t n;
    size_t *expr_at;
    part **expr;
    size_t nexpr, next;
    frame st[SH_MAX_FRAMES];
    size_t nst;
    bool word_start;
    heredoc here[SH_MAX_HEREDOCS];
    size_t nhere, body; /* heredocs read so far, and the first whose body is still to come */
    bool in_body;
    /* Set when the text does something the scan cannot follow: any later value is refused. */
    const char *lost;
    /* A `$` stands right before the value at this index (0: none). */
    size_t dollar_before;
} scan;

static const char fix[] = "pass the value with `env:` and use \"$NAME\", or use the list form "
                          "of run ([prog, arg, ...]), where nothing is quoted or split";

static int fail(scan *s, size_t src_off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(scan *s, size_t src_off, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = wf__tpl_verror(s->err, s->t->src, src_off, WF_ESYNTAX, fmt, ap);
    va_end(ap);
    return rc;
}

static frame *top(scan *s)
{
    return &s->st[s->nst - 1];
}

static int push(scan *s, frame_kind kind, size_t i)
{
    if (s->nst == SH_MAX_FRAMES) {
        s->lost = "the shell quoting here is nested too deeply to follow";
        return WF_OK;
    }
    s->st[s->nst].kind = kind;
    s->st[s->nst].depth = 0;
    s->st[s->nst].open = s->off[i];
    s->nst++;
    s->word_start = kind == F_SUBST;
    return WF_OK;
}

static void pop(scan *s)
{
    if (s->nst > 1)
        s->nst--;
    s->word_start = false;
}

/* Whether an expression sits before byte i (i may be n: the end). */
static bool expr_before(const scan *s, size_t i)
{
    for (size_t k = s->next; k < s->nexpr && s->expr_at[k] <= i; k++)
        if (s->expr_at[k] == i)
            return true;
    return false;
}

/* Whether bytes i+1 .. i+k exist and follow byte i with no expression between them. */
static bool adj(const scan *s, size_t i, size_t k)
{
    if (i + k >= s->n)
        return false;
    for (size_t j = 1; j <= k; j++)
        if (expr_before(s, i + j))
            return false;
    return true;
}

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Characters that end an unquoted word (besides blanks and newlines). */
static bool operator_char(char c)
{
    return c == ';' || c == '&' || c == '|' || c == '<' || c == '>' || c == '(' || c == ')';
}

static bool inside_subst(const scan *s)
{
    for (size_t k = 0; k < s->nst; k++)
        if (s->st[k].kind == F_SUBST)
            return true;
    return false;
}

/* ' " or ` where the shell reads words (inside "..." and `...` only ` nests: see step()). */
static void open_quote(scan *s, char c, size_t i)
{
    push(s, c == '\'' ? F_SQ : c == '"' ? F_DQ : F_BQ, i);
}

/* A backslash outside single quotes: it takes the next byte with it. */
static size_t backslash(scan *s, size_t i)
{
    if (adj(s, i, 1))
        return i + 2;
    if (expr_before(s, i + 1))
        s->lost = "a value cannot follow a backslash";
    return i + 1;
}

/* After `$`: $( $(( ${ $'. Returns the index after what was read. */
static size_t dollar(scan *s, size_t i)
{
    frame_kind k = top(s)->kind;

    if (!adj(s, i, 1)) {
        if (i + 1 <= s->n && expr_before(s, i + 1))
            s->dollar_before = i + 1;
        return i + 1;
    }
    switch (s->text[i + 1]) {
    case '(':
        if (adj(s, i, 2) && s->text[i + 2] == '(') {
            push(s, F_ARITH, i);
            return i + 3;
        }
        push(s, F_SUBST, i);
        return i + 2;
    case '{':
        push(s, F_PARAM, i);
        return i + 2;
    case '\'':
        if (k == F_CMD || k == F_SUBST || k == F_PARAM) {
            push(s, F_DSQ, i);
            return i + 2;
        }
        return i + 1;
    default:
        return i + 1;
    }
}

/* `<<` as the shell's heredoc operator (not `<<<`): reads `-` and the delimiter word, with
 * its quotes removed, and queues the heredoc; its body starts after the next newline. */
static size_t heredoc_op(scan *s, size_t i)
{
    wf_strbuf d = WF_STRBUF_INIT;
    size_t start = i;
    bool strip = false;
    char q = 0;

    i += 2;
    if (i < s->n && !expr_before(s, i) && s->text[i] == '-') {
        strip = true;
        i++;
    }
    while (i < s->n && !expr_before(s, i) && blank(s->text[i]))
        i++;
    for (;; i++) {
        char c;

        if (expr_before(s, i)) {
            s->lost = "a value cannot be a heredoc's delimiter";
            break;
        }
        if (i >= s->n)
            break;
        c = s->text[i];
        if (q != 0) {
            if (c == q)
                q = 0;
            else
                wf_strbuf_addc(&d, c);
        } else if (c == '\'' || c == '"') {
            q = c;
        } else if (c == '\\' && i + 1 < s->n) {
            wf_strbuf_addc(&d, s->text[++i]);
        } else if (blank(c) || c == '\n' || operator_char(c)) {
            break;
        } else {
            wf_strbuf_addc(&d, c);
        }
    }
    if (s->lost != NULL) {
        /* a value in the delimiter: already refused */
    } else if (d.len == 0 || q != 0) {
        s->lost = "the heredoc at this point has no delimiter the scan can read";
    } else if (s->nhere == SH_MAX_HEREDOCS) {
        s->lost = "too many heredocs to follow";
    } else {
        s->here[s->nhere].strip_tabs = strip;
        s->here[s->nhere].delim = wf_strbuf_detach(&d, &s->here[s->nhere].len);
        s->nhere++;
    }
    wf_strbuf_release(&d);
    s->word_start = false;
    return i > start + 2 ? i : start + 2;
}

static int body_value(scan *s, const part *p)
{
    return fail(s, p->at,
                "a value inside a heredoc body cannot be quoted safely (a line of it could end "
                "the heredoc); pass the value with `env:` and write \"$NAME\" in the body");
}

/* One line of a heredoc body, starting at i (values before byte i were seen by the caller): a
 * value in it is refused; the delimiter line ends the body. *next is the index after the
 * line's newline. */
static int body_line(scan *s, size_t i, size_t *next)
{
    const heredoc *h = &s->here[s->body];
    size_t j = i, b = i;

    while (j < s->n && s->text[j] != '\n')
        j++;
    for (; s->next < s->nexpr && s->expr_at[s->next] <= j; s->next++)
        if (s->expr[s->next]->mode != PM_RAW)
            return body_value(s, s->expr[s->next]);
    if (h->strip_tabs)
        while (b < j && s->text[b] == '\t')
            b++;
    if (j - b == h->len && memcmp(s->text + b, h->delim, h->len) == 0) {
        s->body++;
        if (s->body == s->nhere)
            s->in_body = false;
        s->word_start = true;
    }
    *next = j < s->n ? j + 1 : j;
    return WF_OK;
}

/* A newline outside quotes: heredocs queued on this line start their bodies. */
static void newline(scan *s)
{
    s->word_start = true;
    if (s->body < s->nhere)
        s->in_body = true;
}

/* `case` as a command inside $( ): its patterns end with an unbalanced ')', which the scan
 * would take for the end of the substitution. */
static bool case_word(const scan *s, size_t i)
{
    if (!adj(s, i, 4) || memcmp(s->text + i, "case", 4) != 0)
        return false;
    return blank(s->text[i + 4]) || s->text[i + 4] == '\n';
}

/* One step in an unquoted command context (the script, or inside $( )). */
static size_t step_cmd(scan *s, size_t i)
{
    frame *f = top(s);
    char c = s->text[i];

    switch (c) {
    case ' ':
    case '\t':
        s->word_start = true;
        return i + 1;
    case '\n':
        newline(s);
        return i + 1;
    case '<':
        if (adj(s, i, 1) && s->text[i + 1] == '<') {
            if (adj(s, i, 2) && s->text[i + 2] == '<') {
                s->word_start = true;
                return i + 3; /* <<< here-string: an ordinary word follows */
            }
            return heredoc_op(s, i);
        }
        s->word_start = true;
        return i + 1;
    case ';':
    case '&':
    case '|':
    case '>':
        s->word_start = true;
        return i + 1;
    case '(':
        f->depth++;
        s->word_start = true;
        return i + 1;
    case ')':
        if (f->depth > 0) {
            f->depth--;
            s->word_start = true;
        } else if (f->kind == F_SUBST) {
            pop(s);
        }
        return i + 1;
    case '\'':
    case '"':
    case '`':
        open_quote(s, c, i);
        return i + 1;
    case '\\':
        s->word_start = false;
        return backslash(s, i);
    case '$':
        s->word_start = false;
        return dollar(s, i);
    case '#':
        if (s->word_start) {
            push(s, F_COMMENT, i);
            return i + 1;
        }
        return i + 1;
    default:
        if (s->word_start && inside_subst(s) && case_word(s, i))
            s->lost = "after `case` inside $( ), the shell's quoting cannot be followed";
        s->word_start = false;
        return i + 1;
    }
}

static size_t step(scan *s, size_t i)
{
    frame *f = top(s);
    char c = s->text[i];

    switch (f->kind) {
    case F_CMD:
    case F_SUBST:
        return step_cmd(s, i);
    case F_SQ:
        if (c == '\'')
            pop(s);
        return i + 1;
    case F_DSQ:
        if (c == '\\') {
            /* \' does not end $'...' in bash but does end '...' in dash ($' is not POSIX). */
            if (adj(s, i, 1) && s->text[i + 1] == '\'')
                s->lost = "a \\' inside $'...' means different things to different shells";
            return backslash(s, i);
        }
        if (c == '\'')
            pop(s);
        return i + 1;
    case F_DQ:
    case F_BQ:
        if (c == '\\')
            return backslash(s, i);
        if ((f->kind == F_DQ && c == '"') || (f->kind == F_BQ && c == '`')) {
            pop(s);
            return i + 1;
        }
        if (c == '`') {
            push(s, F_BQ, i);
            return i + 1;
        }
        if (c == '$')
            return dollar(s, i);
        return i + 1;
    case F_PARAM:
    case F_ARITH:
        switch (c) {
        case '\\':
            return backslash(s, i);
        case '\'':
        case '"':
        case '`':
            open_quote(s, c, i);
            return i + 1;
        case '$':
            return dollar(s, i);
        case '{':
        case '(':
            if ((c == '{') == (f->kind == F_PARAM))
                f->depth++;
            return i + 1;
        case '}':
            if (f->kind == F_PARAM && f->depth > 0)
                f->depth--;
            else if (f->kind == F_PARAM)
                pop(s);
            return i + 1;
        case ')':
            if (f->kind != F_ARITH)
                return i + 1;
            if (f->depth > 0) {
                f->depth--;
                return i + 1;
            }
            pop(s);
            return adj(s, i, 1) && s->text[i + 1] == ')' ? i + 2 : i + 1;
        default:
            return i + 1;
        }
    case F_COMMENT:
        if (c == '\n') {
            pop(s);
            newline(s);
        }
        return i + 1;
    }
    return i + 1;
}

/* The context of the expression part p, which sits before byte i. */
static int at_expr(scan *s, part *p, size_t i)
{
    const char *where = NULL;

    if (p->mode == PM_RAW) {
        s->word_start = false;
        return WF_OK;
    }
    if (s->lost != NULL)
        return fail(s, p->at, "%s, so this value cannot be quoted safely; %s", s->lost, fix);
    if (s->dollar_before == i && i > 0)
        return fail(s, p->at,
                    "a value right after $ would become part of a shell expansion ($name, "
                    "$'...'); %s",
                    fix);
    switch (top(s)->kind) {
    case F_CMD:
    case F_SUBST:
        p->sh = SH_WORD;
        s->word_start = false;
        /* An empty value would put a following # at the start of a word, where it begins a
         * comment that the scan did not see: such a value is written as '' instead. */
        p->keep_word = i < s->n && s->text[i] == '#' &&
                       !(s->next + 1 < s->nexpr && s->expr_at[s->next + 1] == i);
        return WF_OK;
    case F_SQ:
        p->sh = SH_SQUOTE;
        return WF_OK;
    case F_DQ:
        p->sh = SH_DQUOTE;
        return WF_OK;
    case F_ARITH:
        p->sh = SH_ARITH;
        return WF_OK;
    case F_COMMENT:
        p->sh = SH_COMMENT;
        return WF_OK;
    case F_BQ:
        return fail(s, p->at,
                    "a value inside `...` backticks cannot be quoted safely; write $( ) "
                    "instead of backticks: inside $( ) values are quoted");
    case F_PARAM:
        where = "${...}";
        break;
    case F_DSQ:
        where = "$'...'";
        break;
    }
    return fail(s, p->at, "a value inside %s cannot be quoted safely; %s", where, fix);
}

static const char *frame_name(frame_kind k)
{
    switch (k) {
    case F_SQ:
        return "this ' is never closed";
    case F_DQ:
        return "this \" is never closed";
    case F_BQ:
        return "this ` is never closed";
    case F_SUBST:
        return "this $( is never closed";
    case F_PARAM:
        return "this ${ is never closed";
    case F_ARITH:
        return "this $(( is never closed";
    case F_DSQ:
        return "this $' is never closed";
    default:
        return NULL;
    }
}

/* Lays out the literal text as the shell reads it, with each byte's source offset. */
static void layout(scan *s)
{
    const wf_tpl *t = s->t;
    size_t cap = t->len + 1;

    s->text = wf_xmalloc(cap);
    s->off = wf_xmalloc(cap * sizeof(*s->off));
    s->expr_at = wf_xmalloc((t->nparts + 1) * sizeof(*s->expr_at));
    s->expr = wf_xmalloc((t->nparts + 1) * sizeof(*s->expr));
    for (size_t k = 0; k < t->nparts; k++) {
        part *p = &t->parts[k];

        if (p->expr != NULL) {
            s->expr_at[s->nexpr] = s->n;
            s->expr[s->nexpr++] = p;
            continue;
        }
        for (size_t j = p->src_start; j < p->src_end;) {
            if (t->src[j] == '\\' && j + 2 < p->src_end + 1 && t->src[j + 1] == '<' &&
                t->src[j + 2] == '<') {
                j++; /* the template's escape: the shell sees `<<` */
                continue;
            }
            s->off[s->n] = (uint32_t)j;
            s->text[s->n++] = t->src[j++];
        }
    }
    s->off[s->n] = (uint32_t)t->len;
}

static void scan_init(scan *s)
{
    memset(s, 0, sizeof(*s));
    s->nst = 1;
    s->st[0].kind = F_CMD;
    s->word_start = true;
}

/* Follows the text from the start to the end, placing every expression on the way. */
static int scan_run(scan *s)
{
    size_t i = 0;
    int rc;

    for (;;) {
        while (s->next < s->nexpr && s->expr_at[s->next] <= i) {
            if (s->in_body && s->expr[s->next]->mode != PM_RAW)
                return body_value(s, s->expr[s->next]);
            rc = at_expr(s, s->expr[s->next], i);
            if (rc != WF_OK)
                return rc;
            s->next++;
        }
        if (i >= s->n)
            return WF_OK;
        if (s->in_body) {
            rc = body_line(s, i, &i);
            if (rc != WF_OK)
                return rc;
            continue;
        }
        i = step(s, i);
    }
}

static void scan_release(scan *s)
{
    for (size_t k = 0; k < s->nhere; k++)
        free(s->here[k].delim);
    free(s->text);
    free(s->off);
    free(s->expr_at);
    free(s->expr);
}

int wf__tpl_shell_contexts(wf_tpl *t, wf_error *err)
{
    scan s;
    int rc = WF_OK;

    scan_init(&s);
    s.t = t;
    s.err = err;
    layout(&s);
    if (s.nexpr == 0)
        goto out;
    rc = scan_run(&s);
    if (rc != WF_OK)
        goto out;
    /* Every value sits before the end: an unclosed quote is only refused when a value could
     * be misplaced by it, as the shell would refuse the script anyway. */
    for (size_t k = s.nst; k-- > 1;) {
        const char *what = frame_name(s.st[k].kind);

        if (what != NULL) {
            rc = fail(&s, s.st[k].open,
                      "%s, so the values in this command cannot be quoted safely; close it", what);
            goto out;
        }
    }
out:
    scan_release(&s);
    return rc;
}

size_t wf__tpl_shell_state(const char *text, size_t len, char *sig, size_t cap)
{
    static const char letters[] = "CSqdbpaDc";
    scan s;
    size_t n = 0;

    scan_init(&s);
    s.text = wf_xmalloc(len + 1);
    memcpy(s.text, text, len);
    s.n = len;
    s.off = wf_xcalloc(len + 1, sizeof(*s.off));
    (void)scan_run(&s);
    for (size_t k = 0; k < s.nst && n + 1 < cap; k++)
        sig[n++] = letters[s.st[k].kind];
    if ((s.in_body || s.body < s.nhere) && n + 1 < cap)
        sig[n++] = 'H';
    if (s.lost != NULL && n + 1 < cap)
        sig[n++] = 'L';
    if (cap > 0)
        sig[n] = '\0';
    scan_release(&s);
    return n;
}
