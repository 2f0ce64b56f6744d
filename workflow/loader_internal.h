/*
 * loader_internal.h: what the files of workflow/ share. Not for use outside workflow/: the
 * engine, the CLI and the tests see only wf_workflow.h.
 *
 * Loading goes YAML text -> a tree of wf__ynode (yaml_tree.c: YAML 1.2 core schema scalars,
 * anchors, merge keys, duplicate keys, marks in bytes) -> the wf_workflow model (loader.c:
 * keys, types, templates, defaults) -> the checked graph (validate.c). Every error goes
 * through wf__loader_error(), which adds the file, position and source line to one errlist.
 *
 * Calls between the files go one way: loader.c drives yaml_tree.c, yaml_value.c (reading
 * files), inputs.c (checking defaults), matrix.c (the matrix cap), vnode.c and validate.c;
 * yaml_value.c, inputs.c and validate.c call only yaml_tree.c, matrix.c only vnode.c, and
 * describe.c only inputs.c (the type names). Nothing calls back into loader.c.
 */
#ifndef WF_LOADER_INTERNAL_H
#define WF_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_workflow.h"

typedef enum wf__ytype {
    WF__Y_NULL,
    WF__Y_BOOL,
    WF__Y_INT,
    WF__Y_DOUBLE,
    WF__Y_STRING,
    WF__Y_LIST,
    WF__Y_MAP,
} wf__ytype;

/* How a scalar was written; decides how positions inside it map back to the file. */
typedef enum wf__ystyle {
    WF__YS_PLAIN,
    WF__YS_SINGLE,
    WF__YS_DOUBLE,
    WF__YS_LITERAL,
    WF__YS_FOLDED,
} wf__ystyle;

/* One YAML node. An alias is not a node of its own: it points at the anchored node, so the
 * tree is a DAG and every node belongs to the loader's arena. Maps hold their final entries:
 * merge keys are resolved and keys are unique. */
typedef struct wf__ynode {
    wf__ytype type;
    wf__ystyle style;
    wf_mark mark;  /* 1-based line and byte column of the node (of its anchor or tag if any) */
    size_t offset; /* byte offset of mark in the source */
    char *text;    /* scalars: the value after YAML unescaping and folding, NUL-terminated */
    size_t len;    /* length of text */
    bool b;        /* WF__Y_BOOL */
    int64_t i;     /* WF__Y_INT */
    double d;      /* WF__Y_DOUBLE */
    bool has_tpl;  /* a string in this subtree contains "<<" */
    size_t n, cap; /* entries of a list or map */
    struct wf__ynode **keys;  /* WF__Y_MAP: key scalars */
    struct wf__ynode **items; /* WF__Y_LIST: items; WF__Y_MAP: values */
    size_t size;              /* nodes in the subtree with aliases expanded (saturating) */
    int depth;                /* nesting depth with aliases expanded */
    struct wf__ynode *arena_next;
} wf__ynode;

typedef struct wf__loader {
    const char *path; /* the name errors carry */
    const char *src;
    size_t src_len;
    size_t *line_starts; /* byte offset of each line's first byte */
    size_t n_lines;
    size_t cur_line, cur_chars, cur_off; /* last converted mark: marks mostly move forward */
    wf_errlist *errs;
    wf__ynode *arena; /* every node, for freeing */
    size_t n_nodes;
} wf__loader;

/* Adds an error at m (line 0: no position) with the source line. The loader drops repeats
 * once the list is sorted (defaults folded into many tasks would repeat theirs). */
void wf__loader_error(wf__loader *L, wf_mark m, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Parses L->src into a tree. Returns true when it added no error to L->errs. *root is the
 * tree (NULL for an empty document) whenever it can be used, even after errors that leave
 * it whole (duplicate keys, unknown anchors), so that the loader can go on and report more;
 * it is NULL after a YAML syntax error or a size or depth limit. The nodes live until
 * wf__loader_release. */
bool wf__yaml_load(wf__loader *L, wf__ynode **root);

/* Reads the file at path into out (empty on entry), at most WF_MAX_FILE_SIZE bytes: a larger
 * regular file is refused from its size, a pipe or device (/dev/zero) after reading one byte
 * more than the cap. what ("workflow file") goes into messages. Returns WF_OK, or adds
 * an error naming path to errs and returns WF_ERANGE ("file too large (more than 64 MiB)")
 * or WF_EIO (with strerror); out is then released. */
int wf__read_file(const char *path, const char *what, wf_strbuf *out, wf_errlist *errs);
void wf__loader_release(wf__loader *L);

/* The file position of byte `column` (1-based) of line `line` (1-based) of the scalar's
 * value: how a template's error position inside the string is mapped into the file. */
wf_mark wf__scalar_pos(const wf__loader *L, const wf__ynode *n, int line, int column);

/* True when the whole of s is a number in JSON's grammar; *is_int says whether it has neither
 * fraction nor exponent. (yaml_tree.c; the YAML core schema's numbers and the CLI's -i
 * values share it.) */
bool wf__json_number_text(const char *s, bool *is_int);

/* A JSON value for a node (NULL for null); never fails. */
json_object *wf__ynode_json(const wf__ynode *n);

/* "a list", "a map", "the string 'x'", "the integer 3", "null", ...: for error messages.
 * Owned. */
char *wf__ynode_describe(const wf__ynode *n);

/* Checks v against an input's type and enum. Returns NULL when it fits, otherwise an owned
 * message like "must be an integer, got the string 'x'" (the value masked when secret). */
char *wf__input_check(const wf_input_spec *spec, const json_object *v);
const char *wf__input_type_name(wf_input_type t);

/* Where a compiled template came from, for the checks of validate.c. */
typedef enum wf__tpl_role {
    WF__ROLE_TASK,    /* any task template that sees item/index when the task has items */
    WF__ROLE_ITEMS,   /* the task's with-items expression: no item yet */
    WF__ROLE_PUBLISH, /* the task's publish: reads its own result, no item */
    WF__ROLE_VARS,    /* workflow vars: inputs, env and earlier vars only */
    WF__ROLE_ENV,     /* workflow env: inputs, env and vars */
    WF__ROLE_OUTPUTS, /* workflow outputs: everything but item */
} wf__tpl_role;

typedef struct wf__tpl_site {
    const wf_tpl *tpl;
    const wf__ynode *node; /* the scalar it was compiled from */
    wf__tpl_role role;
    size_t owner; /* task index, or var index for WF__ROLE_VARS */
} wf__tpl_site;

typedef struct wf__sites {
    wf__tpl_site *items;
    size_t len, cap;
} wf__sites;

/* Builds deps, dependents, topo_order and when_uses_status and checks names, cycles, item
 * use and published vars, adding errors to L. needs[i] holds the `needs` names of task i
 * (each with its node). */
typedef struct wf__needs {
    const wf__ynode **names;
    size_t n;
} wf__needs;

void wf__validate(wf__loader *L, wf_workflow *wf, const wf__sites *sites, const wf__needs *needs);

/* Fills err with "the matrix has N combinations, more than the WF_MAX_ITEMS items a task may
 * expand to" at mark (combos SIZE_MAX: the product overflowed; include: the 'include'
 * entries added to it) and returns WF_ERANGE. The loader uses it for literal axes, the run
 * (matrix.c) for computed ones. */
int wf__matrix_too_large(wf_mark mark, size_t combos, size_t include, wf_error *err);

#endif
