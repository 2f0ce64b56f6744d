/*
 * wf_template.h: the `<< >>` template language of spec/templates.md (docs/templates.md).
 *
 * A template string is compiled once (lexer, parser, AST, with filters and functions resolved
 * and their arities checked) into a wf_tpl. Evaluating it against a wf_ctx does no parsing and
 * no writes to the template or the context, so any number of threads may evaluate the same
 * wf_tpl on different contexts at once.
 *
 * Kinds of template string:
 * - literal: no `<< >>` at all (after `\<<` escapes); evaluates to the string itself.
 * - value: exactly one `<< expr >>` with only spaces around it; evaluates to the expression's
 *   value with its type (a list stays a list).
 * - interpolation: anything else; each expression is replaced by its text form (strings as
 *   they are, numbers in shortest round-trip form, true/false, null as "", lists and objects
 *   as compact JSON). With WF_TPL_SHELL each value is shell-quoted instead (see below).
 * - expression (WF_TPL_EXPR, for `when`): the whole string is a bare expression, or one
 *   `<< expr >>`; both mean the same.
 *
 * Errors: compile and evaluation errors fill a wf_error whose line and column are positions
 * inside the template string (1-based; the column counts bytes from the start of that line of
 * the template) and whose source is NULL; the loader adds the position of the string in the
 * YAML file. Messages are tested artefacts: see tests/check_template.c.
 */
#ifndef WF_TEMPLATE_H
#define WF_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "wf_common.h"
#include "wf_context.h"

typedef struct wf_tpl wf_tpl;

enum wf_tpl_flags {
    /* `run` strings: every value is written for the place it lands in the shell script, which
     * the compiler finds by following the shell's quoting through the literal text
     * (docs/templates.md has the table). Unquoted, a value is shell-quoted (a string is one
     * word, a list several words, an object its JSON as one word, null nothing); inside '...'
     * or "..." it is escaped for those quotes (a list's elements joined by spaces); inside
     * $(( )) it must be a number; in a # comment it is left out. A value inside backticks,
     * ${...}, $'...' or a heredoc body, or after a quote that is never closed, is a compile
     * error (WF_ESYNTAX at its `<<`), as no escaping makes it safe there. A value whose last
     * filter is `raw` is inserted as its plain text form anywhere; one whose last filter is
     * `quote` is inserted unquoted as quote produced it (inside quotes, escaped like any
     * string). Implies WF_TPL_CSTRING. */
    WF_TPL_SHELL = 1 << 0,
    /* The rendered text becomes a C string (an argument, an environment variable, a path): a
     * NUL byte in the literal text is a compile error, and a value whose text holds one is an
     * evaluation error (WF_EINVAL), never a silently shortened string. */
    WF_TPL_CSTRING = 1 << 2,
    /* `when`: the string is a bare expression, or one << expr >>. */
    WF_TPL_EXPR = 1 << 1,
    /* There is no item where the template is used (a task without with-items, vars,
     * outputs...): `item` and `index` are not offered as "did you mean" for an unknown name.
     * (Using them is not a compile error: the loader says where they may be used.) */
    WF_TPL_NO_ITEM = 1 << 3,
};

typedef enum wf_tpl_kind {
    WF_TPL_LITERAL,
    WF_TPL_VALUE,
    WF_TPL_INTERP,
} wf_tpl_kind;

/* Compiles src[0..len) (len may be (size_t)-1 for a NUL-terminated string). On success
 * returns WF_OK and an owned *out. On failure returns WF_ESYNTAX (lexer/parser), WF_EUNKNOWN
 * (unknown filter, function or root name) or WF_EARITY (wrong number of arguments), or the
 * error evaluation would give for a sub-expression made only of constants (`"a" + 1`,
 * `1 / 0`), sets *out to NULL and fills err with the position of the offending character.
 * Thread-safe. */
int wf_tpl_compile(const char *src, size_t len, unsigned flags, wf_tpl **out, wf_error *err);
/* The same, with every error of the template appended to errs (one per `<< >>` that has
 * one, in source order: each expression is compiled even when an earlier one failed) instead
 * of the first only. Returns the first error's code. Thread-safe. */
int wf_tpl_compile_all(const char *src, size_t len, unsigned flags, wf_tpl **out, wf_errlist *errs);
void wf_tpl_free(wf_tpl *t);

wf_tpl_kind wf_tpl_get_kind(const wf_tpl *t);
/* The source text the template was compiled from (borrowed). */
const char *wf_tpl_source(const wf_tpl *t);

/* ---- what a template reads (for the loader) ----------------------------------------- */

typedef enum wf_tpl_ref_kind {
    WF_TPL_REF_TASK,       /* task.NAME or task["NAME"]: name is the task */
    WF_TPL_REF_STATUS_FN,  /* status('NAME'), failed('NAME'), ...: name is the task */
    WF_TPL_REF_STATUS_ANY, /* always(), or a status function whose argument is not a literal
                              (name is the function's name) */
    WF_TPL_REF_VAR,        /* vars.NAME: name is the var */
    WF_TPL_REF_INPUT,      /* inputs.NAME */
    WF_TPL_REF_ITEM,       /* item or index (name "item" or "index") */
} wf_tpl_ref_kind;

typedef struct wf_tpl_ref {
    wf_tpl_ref_kind kind;
    const char *name; /* borrowed from the template */
    int line, column; /* position of the reference inside the template (1-based) */
} wf_tpl_ref;

/* The references the template makes, in source order (duplicates kept, each with its own
 * position). Borrowed array, valid while t lives. */
size_t wf_tpl_refs(const wf_tpl *t, const wf_tpl_ref **out);

/* ---- evaluation --------------------------------------------------------------------- */

/* Evaluates t against ctx. For a value or expression template the result is the value with
 * its type; for literal and interpolation templates a JSON string (in shell mode, of the
 * shell-quoted text). *out is owned by the caller, shares nothing with ctx, and is NULL for
 * JSON null. On failure returns a WF_E* code (WF_EMISSING for a missing key or index,
 * WF_ETYPE for a wrong type, WF_EUNKNOWN for an unknown task) and fills err with the
 * position of the failing expression and a message that names the full path and what was
 * there. Thread-safe for concurrent calls on the same t and ctx. */
int wf_tpl_eval(const wf_tpl *t, const wf_ctx *ctx, json_object **out, wf_error *err);

/* wf_tpl_eval without the copy where none is needed: when the value is one the template only
 * looks up (a path into ctx, such as `task.x.items`, or a constant of the template, such as a
 * folded `range(10000)`), *value points at it and *owned is NULL; otherwise *owned receives
 * the new value and *value points at it too. A lent value lives as long as ctx and t, and is
 * read-only in the strictest sense, like everything in a context: no json_object_get/put and
 * no json_object_to_json_string (json-c's reference counts and string caches are not
 * thread-safe, and other runs may be reading it). A with-items task's results (`task.x`) are
 * lent as they are: their elements may be results by reference (wf_ref_is, wf_context.h),
 * which a template reading `item` loads. Failure as wf_tpl_eval (*value and *owned NULL). */
int wf_tpl_eval_borrow(const wf_tpl *t, const wf_ctx *ctx, const json_object **value,
                       json_object **owned, wf_error *err);

/* ---- with-items lists read one item at a time (lazy_list.c) -------------------------- */

typedef enum wf_tpl_list_kind {
    WF_TPL_LIST_NONE,       /* not such a list: evaluate the template */
    WF_TPL_LIST_RANGE,      /* the integers lo, lo + 1, ... (n of them) */
    WF_TPL_LIST_FILE_LINES, /* the lines of the file path (as written: relative to nothing yet) */
} wf_tpl_list_kind;

typedef struct wf_tpl_list {
    wf_tpl_list_kind kind;
    int64_t lo;
    size_t n;
    char *path; /* FILE_LINES: owned */
} wf_tpl_list;

/* Whether t is a value template whose whole expression is `range(...)` or
 * `file_lines(...)`. */
bool wf_tpl_is_lazy_list(const wf_tpl *t);
/* For such a template, evaluates the call's arguments against ctx and describes the list in
 * *out without building it: a range of more than cap numbers is WF_ERANGE with the message
 * range() gives ("range: N numbers is more than the CAP allowed"); a file_lines argument that
 * is not a non-empty string is WF_ETYPE. Any other template: WF_OK with out->kind NONE.
 * Failure as wf_tpl_eval. Thread-safe. (file_lines evaluated as an expression anywhere else
 * is an error saying where it belongs.) */
int wf_tpl_lazy_list(const wf_tpl *t, const wf_ctx *ctx, size_t cap, wf_tpl_list *out,
                     wf_error *err);

/* When t's whole expression is `file_lines('PATH')` with a constant PATH, that path (borrowed
 * from t, as written); else NULL. For the loader, which can check the file exists. */
const char *wf_tpl_file_lines_const(const wf_tpl *t);

/* When t's whole expression is `task.NAME` and that task's result is a list by reference
 * (wf_ref_list_len: a lines result, a large fan-out's item results), its marker (borrowed
 * from ctx's results), for the engine to read an item at a time; else NULL. Thread-safe. */
const json_object *wf_tpl_list_ref(const wf_tpl *t, const wf_ctx *ctx);

/* Appends the text form of t to out (interpolation rules; shell-quoted with WF_TPL_SHELL;
 * a value template appends its value's text form, quoted in shell mode). On failure returns
 * as wf_tpl_eval and out holds whatever was appended before the failing expression. This is
 * the fast path for `run` strings: it creates no json-c objects for plain path lookups. */
int wf_tpl_render(const wf_tpl *t, const wf_ctx *ctx, wf_strbuf *out, wf_error *err);

/* Evaluates t and applies truthiness (null, false, 0, 0.0, "", [], {} are false). */
int wf_tpl_eval_bool(const wf_tpl *t, const wf_ctx *ctx, bool *out, wf_error *err);

/* ---- direct execution of simple `run` strings --------------------------------------- */

/* True when t was compiled with WF_TPL_SHELL and its literal text uses nothing /bin/sh would
 * interpret: only letters, digits, spaces, tabs and the characters - _ . / : , + @ % ^ =
 * outside the first word (the first word also may not contain '='), and no `raw` filter.
 * Then wf_tpl_render_argv() yields exactly the words that `sh -c` would have run. */
bool wf_tpl_is_simple_command(const wf_tpl *t);

/* For a simple command: renders the words (each owned, NULL-terminated array in *argv_out,
 * free with wf_tpl_argv_free). A string or number value adjacent to literal text joins that
 * word; a list value gives one word per element (joined at the edges like the shell would);
 * null gives nothing. Returns as wf_tpl_eval, or WF_EINVAL if t is not a simple command. */
int wf_tpl_render_argv(const wf_tpl *t, const wf_ctx *ctx, char ***argv_out, wf_error *err);
void wf_tpl_argv_free(char **argv);

/* ---- text helpers ------------------------------------------------------------------- */

/* Appends s shell-quoted as one word for /bin/sh: unchanged when it has only safe characters
 * (letters, digits, - _ . / : , + @ % ^ =) and does not look like an assignment (NAME=...,
 * which would not be a command word), otherwise in single quotes with ' written as '\'';
 * the empty string becomes ''. */
void wf_shell_quote(wf_strbuf *out, const char *s, size_t len);

/* Appends the text form of v (interpolation rules: strings as they are, numbers shortest,
 * true/false, null as nothing, lists and objects compact JSON). Only reads v. */
void wf_tpl_text_form(wf_strbuf *out, const json_object *v);

#endif
