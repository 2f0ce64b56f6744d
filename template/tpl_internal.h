/*
 * tpl_internal.h: what the files of template/ share (lexer, parser, compile, evaluator,
 * filters, text).
 *
 * A compiled template is a list of parts (literal text or an expression AST). AST nodes live
 * as long as the template and are never written after compilation, which is what makes
 * concurrent evaluation safe. Constants (N_LIT) are json_objects owned by the template: the
 * evaluator hands them out as borrowed values and, like values from the context, never
 * changes their reference counts or serializes them with json-c's writer.
 *
 * Positions are byte offsets into the template source; they become line and column only when
 * an error is reported.
 */
#ifndef WF_TPL_INTERNAL_H
#define WF_TPL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"
#include "wf_template.h"

/* Deeper expressions are rejected at compile time, so that neither the parser nor the
 * evaluator can run out of stack on hostile input. */
#define WF_TPL_MAX_DEPTH 200

/* ---- lexer -------------------------------------------------------------------------- */

typedef enum tok_kind {
    T_EOF,
    T_END, /* >> */
    T_INT,
    T_FLOAT,
    T_STRING,
    T_NAME,
    T_LPAREN,
    T_RPAREN,
    T_LBRACK,
    T_RBRACK,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_COLON,
    T_DOT,
    T_PIPE,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_PERCENT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_COAL,
    T_AND,
    T_OR,
    T_NOT,
    T_IN,
    T_NULL,
    T_TRUE,
    T_FALSE,
} tok_kind;

typedef struct token {
    tok_kind kind;
    uint32_t start, end; /* source span */
    int64_t i;           /* T_INT */
    double d;            /* T_FLOAT */
    char *s;             /* T_STRING (decoded, owned) and T_NAME (owned) */
    size_t slen;
} token;

typedef struct token_list {
    token *v;
    size_t len, cap;
} token_list;

/* Lexes src from offset pos. With in_braces the expression started with `<<` at offset
 * open: lexing stops after the `>>` that ends it (its end offset goes to *end_out), and
 * running out of input is an error at open. Without it the whole rest of src is one bare
 * expression and `>>` is an error. The list always ends with T_END or T_EOF. On failure
 * returns WF_ESYNTAX with err filled (line/column inside src). */
int wf__tpl_lex(const char *src, size_t len, size_t pos, bool in_braces, size_t open,
                token_list *out, size_t *end_out, wf_error *err);
void wf__tpl_tokens_release(token_list *l);
const char *wf__tpl_tok_text(tok_kind k);

/* Offset -> 1-based line and column (bytes from the start of the line). */
void wf__tpl_linecol(const char *src, size_t off, int *line, int *col);
/* Fills err with code and the message at offset off of the template source src (as line and
 * column); returns code. Every error of the lexer, parser, scanner and evaluator goes here. */
int wf__tpl_verror(wf_error *err, const char *src, size_t off, int code, const char *fmt,
                   va_list ap) __attribute__((format(printf, 5, 0)));

/* ---- AST ---------------------------------------------------------------------------- */

typedef enum node_kind {
    N_LIT,    /* lit: a constant (NULL is null) */
    N_LIST,   /* args: the elements */
    N_OBJECT, /* keys[i] -> args[i] */
    N_INPUTS,
    N_ENV,
    N_WORKFLOW, /* the object {name, run_id} */
    N_WF_NAME,
    N_WF_RUN_ID,
    N_VAR,  /* key: the var */
    N_TASK, /* key: the task */
    N_ITEM,
    N_INDEX,
    N_GET, /* a[...]: op is GET_KEY (key), GET_IDX (idx) or GET_DYN (b) */
    N_NEG,
    N_NOT,
    N_BIN, /* op: binop */
    N_AND,
    N_OR,
    N_COAL,
    N_COND, /* b if a else args[0] */
    N_CALL, /* fn(args) */
} node_kind;

enum { GET_KEY, GET_IDX, GET_DYN };

typedef enum binop {
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_LE,
    OP_GT,
    OP_GE,
    OP_IN,
    OP_NOT_IN,
} binop;

struct builtin;

typedef struct node {
    node_kind kind;
    int op;
    uint32_t start, end; /* the source text of the whole expression (for paths) */
    uint32_t pos;        /* where errors about this node point */
    uint32_t depth;
    struct node *a, *b;
    struct node **args;
    size_t nargs;
    char **keys; /* N_OBJECT */
    const struct builtin *fn;
    bool piped; /* N_CALL written as a filter */
    json_object *lit;
    char *key; /* N_GET/GET_KEY, N_VAR, N_TASK */
    int64_t idx;
} node;

/* ---- values during evaluation ------------------------------------------------------- */

/* A value that is either borrowed (own == NULL: from the context or the template, strictly
 * read-only) or owned (own is the object to put when done; j may point inside it). Plain
 * path lookups therefore allocate nothing. res/task remember that j is, or is inside, the
 * result of a task, for better messages. pin, when not NULL, is a marker (a result by
 * reference, wf_context.h) whose loaded value j is, or is inside: it stays loaded until the
 * tval is released, and moves along with own. */
typedef struct tval {
    const json_object *j;
    json_object *own;
    const json_object *pin;
    const wf_result *res;
    const char *task;
    bool at_root; /* j is the whole result of task */
} tval;

#define TVAL_NULL                           \
    {                                       \
        NULL, NULL, NULL, NULL, NULL, false \
    }

typedef struct ev {
    const wf_tpl *t;
    const wf_ctx *ctx; /* NULL while folding constants at compile time */
    wf_error *err;
    int quiet; /* > 0: inside the left side of ?? or default(), where WF_EMISSING is
                  expected and its message is not needed */
} ev;

static inline void tval_release(tval *v)
{
    if (v->own != NULL)
        json_object_put(v->own);
    if (v->pin != NULL)
        wf_ref_unpin(v->pin);
    v->own = NULL;
    v->pin = NULL;
    v->j = NULL;
}

/* Makes v an owned value holding j_take (which may be NULL for null). */
static inline void tval_take(tval *v, json_object *j_take)
{
    v->j = j_take;
    v->own = j_take;
    v->pin = NULL;
    v->res = NULL;
    v->task = NULL;
    v->at_root = false;
}

int wf__tpl_eval_node(ev *e, const node *n, tval *out);
/* The same, but a with-items task's result (`task.x` itself) comes back as its list of item
 * values as they are, references included, not loaded, and a lines result by reference as
 * its marker: for readers of its length or of one element (`| length`, `task.x[i]`), which
 * resolve what they take (wf__tpl_resolve, wf__tpl_resolve_lines). */
int wf__tpl_eval_lazy(ev *e, const node *n, tval *out);
/* When v->j is a result by reference, loads and pins it (v->j becomes the value); an error
 * at n when it cannot be loaded or is larger than the memory budget. */
int wf__tpl_resolve(ev *e, const node *n, tval *v);
/* wf__tpl_resolve for a lines result by reference only (what wf__tpl_eval_lazy leaves
 * unloaded); anything else is left as it is. */
int wf__tpl_resolve_lines(ev *e, const node *n, tval *v);
/* Fills e->err with code and a message at n->pos; returns code. */
int wf__tpl_fail(ev *e, const node *n, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Same at an explicit offset. */
int wf__tpl_fail_at(ev *e, uint32_t pos, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* A json value that shares nothing with the context or the template (owned; NULL = null). */
json_object *wf__tpl_detach(tval *v);
bool wf__tpl_truthy(const json_object *j);
/* "an integer", "a string", ... */
const char *wf__tpl_a_type(const json_object *j);

/* Numbers: 1 for an integer (*i), 2 for a decimal (*d), 0 for anything else. */
int wf__tpl_num(const json_object *j, int64_t *i, double *d);
/* A new number from a double, or an error if it is not finite. */
int wf__tpl_new_double(ev *e, const node *n, double d, tval *out);

/* The string of a JSON string (borrowed), with its length. */
static inline const char *tpl_str(const json_object *j, size_t *len)
{
    if (len != NULL)
        *len = (size_t)json_object_get_string_len(j);
    /* json_object_get_string only reads a string object; the cast drops a const that
     * json-c's prototype lacks. */
    return json_object_get_string((json_object *)(uintptr_t)j);
}

static inline bool tpl_is(const json_object *j, enum json_type t)
{
    return j != NULL && json_object_get_type(j) == t;
}

/* ---- builtins ----------------------------------------------------------------------- */

enum {
    B_STATUS = 1 << 0, /* reads task results: never folded; a ref for the loader */
    B_LAZY = 1 << 1,   /* default: evaluates its own arguments */
    B_NOFOLD = 1 << 2, /* raw/quote: must stay visible to the renderer */
    B_ENGINE = 1 << 3, /* file_lines: read by the engine (wf_tpl_lazy_list), never folded */
};

typedef int (*builtin_fn)(ev *e, const node *call, tval *args, size_t nargs, tval *out);

typedef struct builtin {
    const char *name;
    uint8_t min, max; /* arguments, counting the value before | */
    uint8_t flags;
    const char *params; /* "x, a, b": for arity messages */
    const char *takes;  /* "a list and a string": for type messages */
    builtin_fn fn;
} builtin;

#define WF_TPL_MAX_ARGS 3

const builtin *wf__tpl_builtin(const char *name);
/* The builtin name closest to word (for "did you mean"), or NULL. */
const char *wf__tpl_closest_builtin(const char *word);
/* For a root name another engine uses (matrix, steps, needs, params, loop, ...), what it is
 * here ("GitHub's matrix.os is item.os here ..."), or NULL. no_item: where item and index do
 * not exist. */
const char *wf__tpl_foreign_root(const char *name, bool no_item);

/* `x in c` for the filter contains (call is the N_CALL, for messages). */
int wf__tpl_contains(ev *e, const node *call, const json_object *c, const json_object *x,
                     bool *res);
/* The caps on what an expression builds (WF_MAX_LIST_LEN elements, WF_MAX_STRING_LEN bytes;
 * see wf_common.h). Each returns WF_OK when n fits, and otherwise fails at n with WF_ERANGE
 * and "what: a list of N elements is more than the M allowed". Call them before allocating,
 * with n computed without overflow (SIZE_MAX when it would). */
int wf__tpl_check_list(ev *e, const node *n, const char *what, size_t len);
int wf__tpl_check_string(ev *e, const node *n, const char *what, size_t len);
/* a + b, or SIZE_MAX when it overflows (which every cap then rejects). */
static inline size_t tpl_add(size_t a, size_t b)
{
    size_t r;

    return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* "upper: expects a string, got integer" for the call's arguments. */
int wf__tpl_type_error(ev *e, const node *call, const tval *args, size_t nargs);

/* ---- what the filter files share (filters.c, filter_*.c) ---------------------------- */

/* Defines or declares the filter or function wf__tpl_<name>. It gets its arguments already
 * evaluated in a[0..nargs) (the value before `|` first; B_LAZY: unevaluated), arity checked
 * at compile time; it checks their types, and either sets *out to an owned new value or
 * passes on a borrowed part of an argument (wf__tpl_pass_on). Returns WF_OK, or an error
 * through wf__tpl_fail (or one of the helpers below) with e's error filled. */
#define WF__TPL_FN(name) \
    int wf__tpl_##name(ev *e, const node *call, tval *a, size_t nargs, tval *out)

/* filter_list.c */
WF__TPL_FN(f_length);
WF__TPL_FN(f_keys);
WF__TPL_FN(f_values);
WF__TPL_FN(f_items);
WF__TPL_FN(f_first);
WF__TPL_FN(f_last);
WF__TPL_FN(f_reverse);
WF__TPL_FN(f_sort);
WF__TPL_FN(f_min);
WF__TPL_FN(f_max);
WF__TPL_FN(f_unique);
WF__TPL_FN(f_flatten);
WF__TPL_FN(f_join);
WF__TPL_FN(f_split);
WF__TPL_FN(f_lines);
WF__TPL_FN(f_map);
WF__TPL_FN(f_reject);
WF__TPL_FN(f_select);
WF__TPL_FN(f_range);
/* lazy_list.c */
WF__TPL_FN(f_file_lines);
/* How many numbers range(lo, hi) gives (0 when hi <= lo), or -1 past INT64_MAX. */
int64_t wf__tpl_range_count(int64_t lo, int64_t hi);
/* range() is folded at compile time only up to this many numbers: a bigger one would be built
 * at load, whether a run reads it whole or (with-items) one item at a time. */
#define WF__TPL_FOLD_RANGE_MAX 4096
WF__TPL_FN(f_chunks);
WF__TPL_FN(f_zip);
/* filter_string.c */
WF__TPL_FN(f_upper);
WF__TPL_FN(f_lower);
WF__TPL_FN(f_trim);
WF__TPL_FN(f_replace);
WF__TPL_FN(f_startswith);
WF__TPL_FN(f_endswith);
WF__TPL_FN(f_contains);
WF__TPL_FN(f_int);
WF__TPL_FN(f_float);
WF__TPL_FN(f_string);
WF__TPL_FN(f_bool);
WF__TPL_FN(f_json);
WF__TPL_FN(f_fromjson);
WF__TPL_FN(f_quote);
WF__TPL_FN(f_raw);
/* filter_number.c */
WF__TPL_FN(f_sum);
WF__TPL_FN(f_abs);
WF__TPL_FN(f_round);
/* filter_status.c */
WF__TPL_FN(f_always);
WF__TPL_FN(f_status);
WF__TPL_FN(f_succeeded);
WF__TPL_FN(f_failed);
WF__TPL_FN(f_exit_code);
WF__TPL_FN(f_stdout);
WF__TPL_FN(f_stderr);
WF__TPL_FN(f_item_status);
WF__TPL_FN(f_default);

/* filter_args.c: the helpers of the filter files. */
bool wf__tpl_is_type(const tval *v, enum json_type t);
/* out becomes j, a part of from, carrying from's ownership along. */
void wf__tpl_pass_on(tval *from, const json_object *j, tval *out);
/* out takes a new string of the len bytes at s. */
void wf__tpl_new_string(tval *out, const char *s, size_t len);
/* An empty list with room for n elements (n within WF_MAX_LIST_LEN, or a length json-c
 * already holds). Owned. */
json_object *wf__tpl_new_list(size_t n);
/* out borrows the template's shared true or false. */
void wf__tpl_new_bool(ev *e, bool b, tval *out);
/* The length and the element i (borrowed) of a list argument. */
size_t wf__tpl_alen(const tval *v);
const json_object *wf__tpl_aget(const tval *v, size_t i);
/* "sum: expects a list of numbers, got a list with string at index 2". */
int wf__tpl_elem_error(ev *e, const node *call, const json_object *el, size_t i);

/* ---- text --------------------------------------------------------------------------- */

/* Appends the shell form of v: string one word, list several words, object JSON as one word,
 * null nothing. */
void wf__tpl_shell_form(wf_strbuf *out, const json_object *v);
void wf__tpl_append_int(wf_strbuf *out, int64_t i);

/* ---- the template ------------------------------------------------------------------- */

typedef enum part_mode {
    PM_PLAIN,
    PM_RAW,
    PM_QUOTE,
} part_mode;

/* Where a value of a `run` string lands in the shell script (shell.c), and so how it is
 * written (text.c). */
typedef enum shell_ctx {
    SH_WORD,    /* unquoted, also inside $( ): one quoted word (a list: several) */
    SH_SQUOTE,  /* inside '...': a ' becomes '\'' */
    SH_DQUOTE,  /* inside "...": $ ` " \ are escaped with a backslash */
    SH_ARITH,   /* inside $(( )): only a number */
    SH_COMMENT, /* after #: left out, as the shell ignores it */
} shell_ctx;

typedef struct part {
    char *text; /* literal text (unescaped, owned) when expr is NULL */
    size_t len;
    size_t src_start, src_end; /* literal text: its span in the source */
    uint32_t at;               /* expression: the offset of its `<<` in the source */
    node *expr;
    part_mode mode;
    shell_ctx sh;      /* WF_TPL_SHELL: the context the value lands in */
    bool keep_word;    /* SH_WORD: an empty value is written '' (a # follows) */
    const node *inner; /* PM_RAW/PM_QUOTE: the value raw/quote was given */
} part;

/* Sets part->sh of every expression of a WF_TPL_SHELL template by following the shell's
 * quoting through its literal text. Fails with WF_ESYNTAX (err at the `<<` of the value, or at
 * the quote that is never closed, with the fix) where no quoting makes a value safe: inside
 * backticks, ${...}, $'...' or a heredoc body, after an unclosed quote, or where the scan
 * cannot follow the script. */
int wf__tpl_shell_contexts(wf_tpl *t, wf_error *err);

/* Where the shell stands after reading text[0..len) as a script of its own (no templates): a
 * letter per open context, outermost first (C script, S $( ), q '...', d "...", b `...`,
 * p ${...}, a $(( )), D $'...', c comment), then H while a heredoc is open and L where the
 * scan lost track. Writes at most cap bytes, NUL included, to sig; returns the length. For the
 * shell fuzz target: a value, whatever it holds, must leave this as a harmless value does. */
size_t wf__tpl_shell_state(const char *text, size_t len, char *sig, size_t cap);

/* Appends the text form of v escaped for ctx (SH_SQUOTE or SH_DQUOTE): a list gives its
 * elements' text forms separated by spaces (as "$*" would), null nothing. */
void wf__tpl_shell_quoted(wf_strbuf *out, const json_object *v, shell_ctx ctx);

struct wf_tpl {
    char *src;
    size_t len;
    unsigned flags;
    wf_tpl_kind kind;
    part *parts;
    size_t nparts;
    node *value;       /* WF_TPL_VALUE: the expression */
    size_t value_part; /* WF_TPL_VALUE: its part (for its shell context) */
    part_mode value_mode;
    const node *value_inner;
    char *literal; /* WF_TPL_LITERAL: the text (parts[0].text itself when one part) */
    size_t literal_len;
    wf_tpl_ref *refs;
    size_t nrefs;
    node **nodes; /* every node, for freeing */
    size_t nnodes;
    bool simple;
    /* A constant with its text as written (compact_literal in compile.c): the part and src
     * live in t's own allocation, so that wf_tpl_free frees t alone. */
    bool one_block;
    /* handed out borrowed, so that booleans cost nothing (one pair per process: compile.c) */
    json_object *c_true, *c_false;
};

/* ---- compiling (parser.c, used by compile.c) ------------------------------------------ */

typedef struct tmp_ref {
    wf_tpl_ref ref;
    uint32_t off;
} tmp_ref;

/* What compiling one template carries: the template being built, the tokens of the
 * expression being parsed, the error to fill and the references found so far. */
typedef struct parser {
    wf_tpl *t;
    const token *tok;
    size_t ntok, i;
    wf_error *err;
    /* wf_tpl_compile_all: every error of the template goes here (and p->err is a scratch
     * error); NULL: the first error stops compiling. */
    wf_errlist *all;
    int depth;
    tmp_ref *refs;
    size_t nrefs, crefs;
} parser;

/* Fills p->err at source offset off (see wf__tpl_verror) and returns code. */
int wf__tpl_perr(parser *p, size_t off, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* lazy_list.c, for the parser: a call of `lines` or `file_lines` whose constant argument is
 * surely a mistake (`lines('items.txt')`, `file_lines(3)`) is an error at name_pos or at the
 * argument; WF_OK otherwise. */
int wf__tpl_check_const_arg(parser *p, const builtin *b, node *const *args, size_t nargs,
                            uint32_t name_pos);
/* Whether word is another tool's name for reading a file (readlines, file, lookup, ...). */
bool wf__tpl_reads_a_file(const char *word);

/* Lexes and parses one expression starting at src[pos] into *out (nodes owned by p->t);
 * see wf__tpl_lex for in_braces, open and *end. Returns WF_OK or an error in p->err. */
int wf__tpl_parse_one(parser *p, size_t pos, bool in_braces, size_t open, node **out, size_t *end);

#endif
