/*
 * loader_internal.h: what the files of workflow/ share. Not for use outside workflow/: the
 * engine, the CLI and the tests see only wf_workflow.h.
 *
 * Loading goes YAML text -> a tree of wf__ynode (yaml_tree.c: anchors, merge keys, duplicate
 * keys; yaml_scalar.c: YAML 1.2 core schema scalars; yaml_source.c: marks in bytes and
 * errors) -> the wf_workflow model (loader.c: the workflow-level keys, inputs, vars, env,
 * outputs; load_task.c: tasks and the defaults folded into them; load_values.c: typed reads
 * of one value and template compilation for both) -> the checked graph (validate.c). Every
 * error goes through wf__loader_error(), which adds the file, position and source line to
 * one errlist.
 *
 * Calls between the files go one way: loader.c drives load_task.c, load_values.c,
 * yaml_tree.c, yaml_value.c (reading files), inputs.c (checking defaults), vnode.c (freeing),
 * validate.c and uses.c (the rules of `uses:`; loader.c itself loads the called files,
 * recursively, so the recursion never leaves it); uses.c calls load_values.c, yaml_tree.c
 * and inputs.c; load_task.c calls load_values.c, yaml_tree.c and matrix.c (the matrix cap);
 * load_values.c calls yaml_tree.c; yaml_tree.c calls yaml_scalar.c; validate.c, yaml_value.c
 * and inputs.c (the JSON number grammar) call only the YAML files; matrix.c calls only
 * vnode.c, and describe.c only inputs.c (the type names). Everything that reports an error
 * calls yaml_source.c, which calls nothing. Nothing calls back into loader.c or load_task.c.
 */
#ifndef WF_LOADER_INTERNAL_H
#define WF_LOADER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_arena.h"
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

/* One YAML node (48 bytes: a 100,000-task file has about 800,000 of them). An alias is not a node
 * of its own: it points at the anchored node, so the tree is a DAG and every node (its text and
 * entry arrays too) lives in the loader's arena. Maps hold their final entries: merge keys are
 * resolved and keys are unique. A scalar has text (and i, d or b); a list items; a map keys
 * and items: they share the node's last 16 bytes. */
typedef struct wf__ynode {
    wf__ytype type : 8;
    wf__ystyle style : 8;
    bool b;          /* WF__Y_BOOL */
    bool has_tpl;    /* a string in this subtree contains "<<" */
    uint16_t depth;  /* nesting depth with aliases expanded (capped past the limit) */
    wf_mark mark;    /* 1-based line and byte column of the node (of its anchor or tag if any) */
    uint32_t offset; /* byte offset of mark in the source (files are < WF_MAX_FILE_SIZE) */
    uint32_t len;    /* scalars: length of text */
    uint32_t n;      /* entries of a list or map */
    uint32_t size;   /* nodes in the subtree with aliases expanded (saturating at UINT32_MAX) */
    union {
        struct {        /* scalars */
            char *text; /* the value after YAML unescaping and folding, NUL-terminated */
            union {
                int64_t i; /* WF__Y_INT */
                double d;  /* WF__Y_DOUBLE */
            };
        };
        struct {                      /* collections */
            struct wf__ynode **keys;  /* WF__Y_MAP: key scalars */
            struct wf__ynode **items; /* WF__Y_LIST: items; WF__Y_MAP: values */
        };
    };
} wf__ynode;

/* The values of the top-level `tasks` map live in groups of arenas of their own, about
 * GROUP_BYTES each (yaml_tree.c), so that wf__ld_parse_tasks can free a group's nodes once it
 * has built its tasks: the tree of a 100,000-task file is then never alive beside the whole
 * model. A group holds tasks [previous group's end, end) of the map. */
typedef struct wf__ygroup {
    wf_arena arena;
    size_t end;  /* one past the index of its last task in the tasks map */
    bool pinned; /* it defines an anchor: an alias elsewhere may point into it */
} wf__ygroup;

typedef struct wf__ytasks {
    /* The top-level tasks map when its entries are its values as written, one by one (no
     * merge key, no duplicate, one such map) and no alias can reach them but through a
     * group's own anchors (the map has no anchor): only then do the groups' ends index it
     * and may the loader free them early. NULL otherwise: the groups are freed with the rest
     * of the tree. */
    const struct wf__ynode *map;
    wf__ygroup *groups;
    size_t n_groups;
    size_t n_values; /* values attached to the tasks map so far */
    int maps;        /* top-level tasks maps seen */
    bool merged;     /* the tasks map has a merge key */
} wf__ytasks;

typedef struct wf__loader {
    const char *path; /* the name errors carry */
    const char *src;
    size_t src_len;
    uint32_t *line_starts; /* byte offset of each line's first byte (files are < 4 GiB) */
    size_t n_lines;
    size_t cur_line, cur_chars, cur_off; /* last converted mark: marks mostly move forward */
    wf_errlist *errs;
    wf_errlist *warnings; /* the workflow's (wf_workflow_warnings), or NULL */
    wf_arena arena;       /* every node, its text and its entries, but the task groups' */
    wf_arena *cur;        /* where new nodes go: NULL (arena) or the open task group's */
    wf__ytasks tasks;
    size_t n_nodes;
} wf__loader;

/* Frees group g of L->tasks (its nodes are dead: the tasks they held are built). */
void wf__yaml_free_group(wf__loader *L, size_t g);

/* Adds an error at m (line 0: no position) with the source line. The loader drops repeats
 * once the list is sorted (defaults folded into many tasks would repeat theirs). */
void wf__loader_error(wf__loader *L, wf_mark m, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds a warning at m: something that loads but is likely not what the author meant. */
void wf__loader_warning(wf__loader *L, wf_mark m, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses L->src into a tree. Returns true when it added no error to L->errs. *root is the
 * tree (NULL for an empty document) whenever it can be used, even after errors that leave
 * it whole (duplicate keys, unknown anchors), so that the loader can go on and report more;
 * it is NULL after a YAML syntax error or a size or depth limit. The nodes live until
 * wf__loader_release, but for the task groups that wf__ld_parse_tasks frees once it has built
 * their tasks (see wf__ytasks). */
bool wf__yaml_load(wf__loader *L, wf__ynode **root);

/* yaml_source.c, for yaml_tree.c: L->line_starts for L->src (owned by L, freed by
 * wf__loader_release); the offset just past line line0's text (0-based, before its '\n');
 * the line and byte column of a byte offset. */
void wf__yaml_build_lines(wf__loader *L);
size_t wf__yaml_line_end(const wf__loader *L, size_t line0);
wf_mark wf__yaml_offset_mark(const wf__loader *L, size_t off);

/* yaml_scalar.c, for yaml_tree.c: resolves the plain scalar n (its text set) by the core
 * schema as the workflow format restricts it: only true/false booleans, null/Null/NULL/~/
 * empty, JSON numbers plus 0x and 0o integers. Sets n->type and its value; a number out of
 * range is an error in L and keeps the type. */
void wf__yaml_resolve_plain(wf__loader *L, wf__ynode *n);

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
    WF__ROLE_ONCE,    /* a task's concurrency or batch-size: once per task, no item */
    WF__ROLE_VARS,    /* workflow vars: inputs, env and earlier vars only */
    WF__ROLE_ENV,     /* workflow env: inputs, env and vars */
    WF__ROLE_SLURM,   /* the top-level slurm map: inputs, env and vars */
    WF__ROLE_OUTPUTS, /* workflow outputs: everything but item */
} wf__tpl_role;

/* A template that reads something (a constant has nothing to check and is not recorded). It
 * holds no YAML node, so that the loader can free a task's nodes once it has built the task:
 * marks[k] is where the template's reference k is in the file. */
typedef struct wf__tpl_site {
    const wf_tpl *tpl;
    wf_mark *marks; /* owned: one per reference (wf_tpl_refs) */
    wf__tpl_role role;
    size_t owner; /* task index, or var index for WF__ROLE_VARS */
} wf__tpl_site;

typedef struct wf__sites {
    wf__tpl_site *items;
    size_t len, cap;
} wf__sites;

/* One `needs` name, held apart from the YAML nodes (which the loader frees task by task). */
typedef struct wf__need {
    const char *name; /* in wf__ld.names */
    wf_mark mark;
} wf__need;

/* Builds deps, dependents, topo_order and when_uses_status and checks names, cycles, item
 * use and published vars, adding errors to L. needs[i] holds the `needs` names of task i. */
typedef struct wf__needs {
    wf__need *names;
    size_t n;
} wf__needs;

void wf__validate(wf__loader *L, wf_workflow *wf, const wf__sites *sites, const wf__needs *needs);

/* Fills err with "the matrix has N combinations, more than the WF_MAX_ITEMS items a task may
 * expand to" at mark (combos SIZE_MAX: the product overflowed; include: the 'include'
 * entries added to it) and returns WF_ERANGE. The loader uses it for literal axes, the run
 * (matrix.c) for computed ones. */
int wf__matrix_too_large(wf_mark mark, size_t combos, size_t include, wf_error *err);

/* ---- what loader.c, load_task.c and load_values.c share ------------------------------- */

/* What the loader carries while it builds one workflow. */
typedef struct wf__ld {
    wf__loader *L;
    wf_workflow *wf;
    wf__sites sites;
    wf__needs *needs; /* per task */
    wf_arena names;   /* every needs name (wf__needs.names and their text) */
    /* defaults: parsed once; the template ones are compiled again for each task */
    bool has_timeout, has_retry, has_coe, has_executor;
    const wf__ynode *cpus; /* defaults.cpus, compiled again per task (a template) */
    int64_t timeout_ms;
    wf_retry retry;
    bool coe;
    wf_executor_kind executor;
    const wf__ynode *env, *workdir, *shell;
    /* per task (load_task.c fills it, loader.c loads the files); NULL while no task has
     * `uses:` */
    struct wf__uses_site *uses;
    /* While a task is parsed: it has with-items (its templates may use item and index). */
    bool task_has_items;
} wf__ld;

/* load_values.c. Every reader that fails adds an error at the value (what names the key in
 * the message) and returns false, -1 or NULL; the caller goes on with the next key. */

/* An env-file value (a path or a list of paths) as paths resolved against the workflow
 * file's directory, NULL-terminated; NULL after an error. */
char **wf__ld_env_files(wf__ld *c, const wf__ynode *n);
/* load_items.c: task t's `with-items` value n (a list, one template, or a matrix with its
 * include and exclude, also nested in the matrix as GitHub writes them). */
void wf__ld_parse_items(wf__ld *c, wf_task *t, const wf__ynode *n);
/* A warning when task t's with-items n is `<< file_lines('PATH') >>` with a constant PATH
 * (relative to the workflow file) that is not a regular file now: the task would fail when
 * it starts, unless a task it needs creates it (the caller skips tasks with `needs:`). */
void wf__ld_check_items_file(wf__ld *c, const wf_task *t, const wf__ynode *n);
/* "'what' must be <expected>, got <what n is>" (with a hint for yes/no/on/off). */
void wf__ld_type_error(wf__ld *c, const wf__ynode *n, const char *what, const char *expected);
/* True when s is one of the NULL-terminated list. */
bool wf__ld_in_list(const char *s, const char *const *list);
/* Appends the list as "a, b, c". */
void wf__ld_join_list(wf_strbuf *sb, const char *const *list);
/* One pass over map: values[i] and keys[i] get the value and key node of allowed[i]
 * (NULL-terminated), NULL when map has no such key (what wf__ld_get would give for each).
 * Returns true when every key of map is in allowed. */
bool wf__ld_index_keys(const wf__ynode *map, const char *const *allowed, const wf__ynode **values,
                       const wf__ynode **keys);
/* "unknown key 'x' in <where>; did you mean 'z'?" or the list of valid keys, per unknown key. */
void wf__ld_check_keys(wf__ld *c, const wf__ynode *map, const char *const *allowed,
                       const char *where);
/* The value of key in map (NULL map: none), or NULL; *key_out (if not NULL) gets the key. */
const wf__ynode *wf__ld_get(const wf__ynode *map, const char *key, const wf__ynode **key_out);
bool wf__ld_is_scalar(const wf__ynode *n);
/* A string-like value: any scalar but null (numbers and booleans as written). Borrowed. */
const char *wf__ld_text_of(wf__ld *c, const wf__ynode *n, const char *what);
bool wf__ld_get_bool(wf__ld *c, const wf__ynode *n, const char *what, bool *out);
/* An integer in [min, INT_MAX]. */
bool wf__ld_get_int(wf__ld *c, const wf__ynode *n, const char *what, int min, int *out);
/* 500ms, 30s, 5m, 1h or a number of seconds, in milliseconds. */
bool wf__ld_get_duration(wf__ld *c, const wf__ynode *n, const char *what, int64_t *ms);
/* A size of at least 1 byte (wf_size_parse: 64MiB, 1G, or a number of bytes). */
bool wf__ld_get_size(wf__ld *c, const wf__ynode *n, const char *what, uint64_t *bytes);
/* One word of a fixed set ("did you mean" on a near miss). Returns its index or -1. */
int wf__ld_get_enum(wf__ld *c, const wf__ynode *n, const char *what, const char *const *words);
bool wf__ld_expect_map(wf__ld *c, const wf__ynode *n, const char *what);
/* Task, var and input names: [A-Za-z_][A-Za-z0-9_-]*. */
bool wf__ld_valid_name(const char *s);
/* t's extra, allocated (all NULL and 0) on first use; freed with the workflow. */
wf_task_extra *wf__task_extra(wf_task *t);
/* Environment names: no '-', which a shell cannot expand. */
bool wf__ld_valid_env_name(const char *s);
/* wf__ld_valid_name with an error naming the kind ("task", "var", ...). */
bool wf__ld_check_name(wf__ld *c, const wf__ynode *key, const char *kind);
/* Compiles a scalar's text with flags (WF_TPL_*) and records the site for validate.c; a
 * compile error is reported at its position in the file and NULL returned. Owned by the
 * caller's model (freed with the workflow). */
wf_tpl *wf__ld_compile(wf__ld *c, const wf__ynode *n, unsigned flags, wf__tpl_role role,
                       size_t owner);
/* A value tree; a subtree without "<<" anywhere becomes one constant. Never NULL. */
wf_vnode *wf__ld_build_vnode(wf__ld *c, const wf__ynode *n, wf__tpl_role role, size_t owner);
/* A map of name -> template string (env, publish) into *out (owned, one slot more than the
 * map); names are checked as env names or as what ("var"). Returns how many it kept. */
size_t wf__ld_build_named_tpls(wf__ld *c, const wf__ynode *map, const char *what, bool env_names,
                               wf__tpl_role role, size_t owner, wf_named_tpl **out);

/* slurm_keys.c. Checks a `slurm:` map (keys, both spellings of mem, every constant value by
 * wf_slurm_value_problem; with constants_only, a template is an error too), adding errors
 * at the values. True when it added none. */
bool wf__ld_check_slurm(wf__ld *c, const wf__ynode *n, bool constants_only);

/* load_task.c. The defaults map into c (parsed once, before the tasks), then every task
 * into c->wf->tasks and its needs into c->needs. */
void wf__ld_parse_defaults(wf__ld *c, const wf__ynode *map);
void wf__ld_parse_tasks(wf__ld *c, const wf__ynode *map);

/* ---- uses.c: sub-workflows (loader.c loads the files; uses.c knows the rules) ---------- */

/* Where a task's `uses:` and `with:` were written (NULL: not there). */
typedef struct wf__uses_site {
    const wf__ynode *uses; /* the path's scalar */
    const wf__ynode *with_key, *with;
} wf__uses_site;

/* The files being loaded, from the top one down to the current one (a list on the stack). */
typedef struct wf__chain {
    const struct wf__chain *up; /* the caller's file, or NULL for the top */
    const char *path;           /* as loaded (for messages) */
    char *real;                 /* realpath, or NULL (a string, an unreadable name); owned */
    size_t *loaded;             /* files loaded under the top one (the top's counter) */
} wf__chain;

/* The path of a `uses:` file: as written when absolute, else relative to the directory of
 * the caller's path. Owned. */
char *wf__uses_resolve(const char *caller_path, const char *uses);
/* When real is already in the chain: an owned "a.yaml -> b.yaml -> a.yaml" (the chain from
 * the top, then path); else NULL. */
char *wf__uses_cycle(const wf__chain *chain, const char *real, const char *path);
/* Checks the task's `with:` keys against the called workflow's inputs (unknown names with a
 * did-you-mean, required inputs missing, constant values of the wrong type), adding errors
 * at the `with:` keys to c. */
void wf__uses_check_with(wf__ld *c, size_t ti, const wf_workflow *called);
/* Ends the message of errs->items[from..] with "(via uses: at FILE:LINE:COL)", or adds
 * ", FILE:LINE:COL" inside such an ending (a file called through several). */
void wf__uses_note(wf_errlist *errs, size_t from, const char *file, wf_mark m);

#endif
