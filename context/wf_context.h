/*
 * wf_context.h: task results, the shared results map, and the immutable evaluation context.
 *
 * A run publishes each task's final result once into a wf_results map; templates read results
 * through a wf_ctx. Every object here is reference counted with C11 atomics (relaxed increment,
 * acq_rel decrement), immutable once shared, and safe to read from any number of threads.
 *
 * json-c and threads: json-c's own reference counts are not atomic, and its serializer
 * (json_object_to_json_string*, and json_object_get_string on a non-string) caches text inside
 * the object, which is a write. So a json_object reachable from a published result, or from a
 * context, is strictly read-only: never json_object_get/put it, never serialize it with
 * json-c's writer. Copy it with wf_json_copy() and print it with wf_json_write(), which only
 * read. Values handed to the constructors below are taken over ("_take") and must not be
 * shared with anything else.
 */
#ifndef WF_CONTEXT_H
#define WF_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wf_common.h"

/* ---- statuses ----------------------------------------------------------------------- */

typedef enum wf_status {
    WF_STATUS_PENDING = 0,
    WF_STATUS_RUNNING,
    WF_STATUS_SUCCEEDED,
    WF_STATUS_FAILED,
    WF_STATUS_SKIPPED,
    WF_STATUS_CANCELLED,
} wf_status;

/* "pending", "running", "succeeded", "failed", "skipped", "cancelled". Never NULL. */
const char *wf_status_name(wf_status s);

/* ---- results ------------------------------------------------------------------------ */

/* The final result of a task (or, inside the engine, of one item). Built by one thread, then
 * published; from then on no field changes until the last reference goes away. */
typedef struct wf_result {
    atomic_uint refs;     /* managed by wf_result_ref/unref */
    wf_status status;     /* SUCCEEDED, FAILED, SKIPPED or CANCELLED once published */
    bool ignored_failure; /* FAILED under continue-on-error: counts as success for dependents */
    int exit_code;        /* process exit code, 128+N for signal N; -1 when there is none */
    json_object *value;   /* the result; NULL is JSON null. Owned. */
    char *stdout_text;    /* captured stdout (may be capped); NULL if none. Owned. */
    char *stderr_text;    /* captured stderr; NULL if none. Owned. */
    char *error;          /* why it failed, for the user; NULL if it did not. Owned. */
    char stdout_ref[WF_SHA256_HEX_LEN + 1]; /* content hash of the stored stdout, or "" */
    char stderr_ref[WF_SHA256_HEX_LEN + 1]; /* content hash of the stored stderr, or "" */
    size_t n_items;                         /* with-items: number of items, else 0 */
    /* with-items: status (a wf_status) per item, in item order (owned); NULL when every item
     * ended the same way (the common case, nothing a byte an item): item_status_all is it. */
    uint8_t *item_status;
    uint8_t item_status_all;
} wf_result;

/* A new result with one reference, taking ownership of value (may be NULL). All other fields
 * start empty (exit_code -1); fill them before publishing. */
wf_result *wf_result_new(wf_status status, json_object *value_take);
/* Adds a reference. Returns r. Thread-safe. */
wf_result *wf_result_ref(wf_result *r);
/* Drops a reference; the last one frees everything. NULL is fine. Thread-safe. */
void wf_result_unref(wf_result *r);
/* True when dependents treat the result as a success (succeeded, or an ignored failure). */
bool wf_result_ok(const wf_result *r);

/* ---- the results map ---------------------------------------------------------------- */

/* A concurrent map from a name to a published wf_result, split into a power-of-two number of
 * stripes, each with its own lock and buckets (a key's stripe is hash & (stripes - 1)).
 * Entries are written once and never changed or removed while the map lives, so the pointer
 * wf_results_get() returns stays valid as long as the map does. Lookups take one stripe's
 * read lock; publishing takes one stripe's write lock. */
typedef struct wf_results wf_results;

/* A new, empty map with at least `stripes` stripes (rounded up to a power of two; 0 picks a
 * default of 64). Each stripe starts small and grows as entries arrive. */
wf_results *wf_results_new(unsigned stripes);
wf_results *wf_results_ref(wf_results *m);
void wf_results_unref(wf_results *m);
/* Publishes r under name (copied); the map takes one reference to r. Returns WF_OK, or
 * WF_EEXIST if name was already published (the map is unchanged and r's reference is not
 * taken). Thread-safe. */
int wf_results_publish(wf_results *m, const char *name, wf_result *r);
/* The result published under name, or NULL. Borrowed: valid while the map lives.
 * Thread-safe; O(1) expected. */
const wf_result *wf_results_get(const wf_results *m, const char *name);
/* Same, for a name that is not NUL-terminated. */
const wf_result *wf_results_getn(const wf_results *m, const char *name, size_t len);
/* How many entries are published. Thread-safe (a snapshot). */
size_t wf_results_count(const wf_results *m);
/* The number of stripes (a power of two). */
unsigned wf_results_stripes(const wf_results *m);

/* ---- contexts ----------------------------------------------------------------------- */

/* What a template sees: the workflow's inputs, vars, env, the results map and the vars that
 * tasks published, the workflow's name and run id, and for with-items the current item and
 * index. Immutable and refcounted. Deriving an item context (wf_ctx_with_item) costs one
 * allocation and one atomic increment, whatever the maps hold. */
typedef struct wf_ctx wf_ctx;

typedef struct wf_ctx_init {
    json_object *inputs;        /* object; taken over (NULL: empty) */
    json_object *vars;          /* object; taken over (NULL: empty) */
    json_object *env;           /* object of strings; taken over (NULL: empty) */
    wf_results *results;        /* task results; a reference is taken (NULL: a new map) */
    wf_results *published_vars; /* vars published by tasks (value = the var's value); a
                                   reference is taken (NULL: a new map) */
    const char *workflow_name;  /* copied; NULL: "" */
    const char *run_id;         /* copied; NULL: "" */
} wf_ctx_init;

/* The root context of a run. Never NULL. */
wf_ctx *wf_ctx_new(const wf_ctx_init *init);
/* A context like base but with item and index set. item is borrowed: it must stay alive and
 * unchanged as long as the new context does (the engine keeps the item list alive for the
 * whole task). O(1). Thread-safe. */
wf_ctx *wf_ctx_with_item(const wf_ctx *base, const json_object *item, int64_t index);
/* A context like base with vars replaced by vars_take (for `vars:` evaluated in order, and
 * for tasks that see published vars). O(1). */
wf_ctx *wf_ctx_with_vars(const wf_ctx *base, json_object *vars_take);
wf_ctx *wf_ctx_ref(wf_ctx *c);
void wf_ctx_unref(wf_ctx *c);

/* Accessors. Everything returned is borrowed, read-only, valid while the context lives. */
const json_object *wf_ctx_inputs(const wf_ctx *c);
const json_object *wf_ctx_vars(const wf_ctx *c);
const json_object *wf_ctx_env(const wf_ctx *c);
wf_results *wf_ctx_results(const wf_ctx *c);
wf_results *wf_ctx_published_vars(const wf_ctx *c);
const char *wf_ctx_workflow_name(const wf_ctx *c);
const char *wf_ctx_run_id(const wf_ctx *c);
/* True when the context has an item; then *item (may be JSON null, i.e. NULL) and *index are
 * set. */
bool wf_ctx_item(const wf_ctx *c, const json_object **item, int64_t *index);

/* ---- outputs ------------------------------------------------------------------------ */

/* How a unit's stdout becomes its result (`output:`). */
typedef enum wf_output_mode { WF_OUTPUT_TEXT = 0, WF_OUTPUT_JSON, WF_OUTPUT_LINES } wf_output_mode;

/* "text", "json", "lines" (static). */
const char *wf_output_mode_name(wf_output_mode mode);
/* The mode a name gives; false for anything else (NULL included). */
bool wf_output_mode_parse(const char *name, wf_output_mode *mode);
/* Turns captured stdout (or what a unit wrote to $WF_RESULT: `what` names it in messages) into
 * a result (*value, owned): text without its last line ending, a list of lines, or the JSON it
 * holds. On bad JSON returns WF_EINVAL, and WF_ERANGE for more lines than WF_MAX_LIST_LEN,
 * with *error (owned) saying so and quoting the start of the text. Any thread. */
int wf_output_convert(wf_output_mode mode, const char *out, const char *what, json_object **value,
                      char **error);

/* ---- results by reference ---------------------------------------------------------- */

/* A large result (a unit's stdout above WF_REF_THRESHOLD, converted by its output mode) is
 * not held in memory: its place in a result (a plain task's value, an element of a with-items
 * task's list of item values) holds a marker, a json_object that stands for the value and
 * points at a refcounted handle: the file that holds the bytes (a store blob, or a file in the
 * run's spill directory), its SHA256, the output mode and the size. The parsed value is loaded
 * on first use through the run's wf_ref_cache, an LRU bounded by a byte budget
 * (`--memory`), and dropped when the cache is over it and nobody has it pinned.
 *
 * Markers follow the json-c rules of this header: read-only once shared, never get/put. Every
 * reader of shared values here resolves them: wf_json_write and wf_json_copy load the value
 * (wf_json_copy_refs keeps markers as markers), wf_json_equal compares values, and json-c's
 * own serializer prints the value (a marker carries a serializer), so a marker's placeholder
 * text never reaches a user. Templates resolve markers where they read task results and items
 * (template/eval.c), and read `task.x | length` and `task.x[i]` without loading the other
 * items. */

/* Stdout kept in memory by a unit; beyond this it is spilled to a file and the result is a
 * reference (bytes). */
#define WF_REF_THRESHOLD ((size_t)64 << 10)
/* The default budget of a run's result cache (bytes): 256 MiB. */
#define WF_REF_DEFAULT_BUDGET ((uint64_t)256 << 20)

/* The loaded values of a run's references, at most `budget` bytes (estimated) of them that
 * are not pinned. Refcounted; thread-safe (one mutex, held to move a few pointers; loading
 * and parsing happen outside it). */
typedef struct wf_ref_cache wf_ref_cache;

typedef struct wf_ref_stats {
    uint64_t loads;     /* values read and parsed from their files */
    uint64_t evictions; /* values dropped to stay within the budget */
    uint64_t resident;  /* bytes (estimated) of loaded values now */
    uint64_t peak;      /* the most resident bytes at any time */
    uint64_t budget;
} wf_ref_stats;

/* A new cache with one reference (budget 0: WF_REF_DEFAULT_BUDGET). */
wf_ref_cache *wf_ref_cache_new(uint64_t budget);
wf_ref_cache *wf_ref_cache_ref(wf_ref_cache *c);
/* Drops a reference; the last one frees the cache (handles hold references). NULL is fine. */
void wf_ref_cache_unref(wf_ref_cache *c);
/* A snapshot of the counters. Thread-safe. */
void wf_ref_cache_stats(wf_ref_cache *c, wf_ref_stats *out);

/* What a reference points at. */
typedef struct wf_ref_info {
    const char *path; /* the file with the bytes (borrowed, valid while the marker lives) */
    const char *hash; /* their SHA256, hex */
    wf_output_mode mode;
    uint64_t size;   /* bytes in the file */
    uint64_t mem;    /* estimated bytes of the parsed value */
    uint64_t budget; /* the budget of the cache it loads through */
    uint64_t lines;  /* a list by reference (lines, a JSON array): its length, else 0 */
} wf_ref_info;

/* A new marker (owned, one json-c reference) for the value that `path` (copied) holds: the
 * bytes whose SHA256 is hash, converted by mode. mem is the estimated size of the parsed value
 * in memory (wf_ref_mem_estimate); label names it in errors ("task 'gen' item 7", copied).
 * value_take, when not NULL, is the parsed value already (it enters the cache if it fits).
 * Any thread. */
json_object *wf_ref_new(wf_ref_cache *cache, const char *path, const char *hash,
                        wf_output_mode mode, uint64_t size, uint64_t mem, const char *label,
                        json_object *value_take);
/* The estimated bytes in memory of a value of `size` bytes of text converted by mode, with
 * `lines` lines (for lines mode). */
uint64_t wf_ref_mem_estimate(wf_output_mode mode, uint64_t size, uint64_t lines);
/* True when v is a marker. O(1); any thread. */
bool wf_ref_is(const json_object *v);
/* Fills *info and returns true when v is a marker. */
bool wf_ref_get_info(const json_object *v, wf_ref_info *info);
/* A new marker for the same value (owned; the handle is shared, refcounted). */
json_object *wf_ref_share(const json_object *marker);
/* The value a marker stands for, loaded if needed, and pinned: it stays in memory, unchanged,
 * until wf_ref_unpin(marker). *value is borrowed and read-only (NULL is JSON null). Returns
 * WF_OK; WF_ERANGE when the value's estimated size is over the cache's whole budget (it can
 * never be resident); WF_EIO when the file cannot be read, no longer has its size, or no
 * longer converts. Then *error (owned) names the label and the figures. Any thread. */
int wf_ref_pin(const json_object *marker, const json_object **value, char **error);
/* Reads path (size bytes) and converts it by mode into *value (owned), outside any cache.
 * WF_OK, or WF_EIO (unreadable, another size) or the conversion's error, with *error (owned).
 * For a value the engine is about to make a reference to (to check its output once). */
int wf_ref_load_file(const char *path, wf_output_mode mode, uint64_t size, json_object **value,
                     char **error);
/* Releases one wf_ref_pin. */
void wf_ref_unpin(const json_object *marker);

/* ---- lists by reference: read an item at a time ----------------------------------- */

/* Three kinds of reference stand for a list whose length is known and whose items are read
 * one at a time, without loading the list: a lines result (output: lines) kept in a file, whose
 * lines were counted as the file was written, a JSON array kept in a file (indexed once,
 * wf_ref_set_json_array below), and a list another module reads item by item
 * (wf_ref_new_list: a fan-out's item results kept on disk, engine/unit_values.c). A with-items
 * over any of them reads it an item at a time, `| length` is wf_ref_list_len, `[i]`
 * wf_ref_list_get; everything else loads it whole through the cache (wf_ref_pin, the budget
 * rule), and wf_json_write writes it item by item. */

/* Lines per window of a lines reference: one offset is kept per window, and one window's
 * bytes. */
#define WF_REF_LINES_WINDOW 4096

/* How a list reference reads its items. get: item i (below the length) as a new value (owned;
 * NULL is JSON null), or an error code with *error (owned); called from any thread. free:
 * frees src (when the last marker goes). */
typedef struct wf_ref_list_ops {
    int (*get)(void *src, uint64_t i, json_object **value, char **error);
    void (*free)(void *src);
} wf_ref_list_ops;

/* A new marker (owned) for the list of len items ops reads from src (taken: freed with
 * ops->free), mem its estimated size loaded whole, label as in wf_ref_new. Any thread. */
json_object *wf_ref_new_list(wf_ref_cache *cache, const wf_ref_list_ops *ops, void *src_take,
                             uint64_t len, uint64_t mem, const char *label);
/* Records that the marker (lines mode) stands for `lines` lines: a last line without \n
 * counts, as in wf_output_convert. Call it once, before the marker is shared. */
void wf_ref_set_lines(json_object *marker, uint64_t lines);
/* True, with *len, when v is a list by reference (lines mode, a JSON array with
 * wf_ref_set_json_array, or wf_ref_new_list). O(1); any thread. */
bool wf_ref_list_len(const json_object *v, uint64_t *len);
/* Item i (0-based, below the length) of a list by reference, as a new value (owned). For
 * lines: the line as a string without its \n (nor a \r before it); the first call reads the
 * file once to note where each window of WF_REF_LINES_WINDOW lines starts (8 bytes a window),
 * each call then reads at most one window (the last one read is kept, so reading lines in
 * order reads the file once). Returns WF_OK; WF_EINVAL past the end; WF_EIO with *error
 * (owned, naming the label) when the file cannot be read or changed. Any thread (one mutex
 * per handle). */
int wf_ref_list_get(const json_object *marker, uint64_t i, json_object **value, char **error);

/* ---- JSON arrays by reference ------------------------------------------------------ */

/* A large `output: json` whose top-level value is an array is a list by reference too: its
 * file is scanned once when the unit ends (every item parsed by json-c's tokener and freed,
 * counted, and the byte offset of every WF_REF_LINES_WINDOW-th item noted), then `| length`
 * reads nothing and `[i]` or a with-items parses one window of items. Objects and other
 * values at the top level are parsed whole, as before. */

/* Where the windows of a JSON array in a file start: win_off[w] is the byte offset of item
 * w * WF_REF_LINES_WINDOW, win_off[n_win] that of the closing ']'. win_off is owned. */
typedef struct wf_json_array_index {
    uint64_t n_items;
    uint64_t *win_off;
    size_t n_win;
} wf_json_array_index;

/* Reads the JSON text in the file at path (size bytes) 64 KiB at a time. When its top-level
 * value is not an array, returns WF_OK with *is_array false (nothing else is read: parse it
 * whole). When it is one whose items all parse (strict JSON, as wf_output_convert) and
 * nothing but whitespace follows it: WF_OK, *is_array true and *idx filled (the caller owns
 * idx->win_off). Otherwise WF_EINVAL ("WHAT is not valid JSON at byte N (why): 'text
 * there'") or WF_EIO (unreadable), with *error
 * (owned; `what` names the output in it, "stdout"). Memory: one item and one chunk at a time.
 * Any thread. */
int wf_json_array_scan(const char *path, uint64_t size, const char *what, bool *is_array,
                       wf_json_array_index *idx, char **error);
/* The `count` items of one window, buf (len bytes: from a window's first item up to the next
 * window's first item or the closing ']'), parsed into a new array (owned). NULL with *error
 * (owned) when they do not parse (the file changed). Any thread. */
json_object *wf_json_array_window(const char *buf, size_t len, size_t count, char **error);
/* Makes the marker (mode json) a list by reference over the array that idx (taken: its
 * win_off is owned by the handle from now on) indexes. Call it once, before the marker is
 * shared. */
void wf_ref_set_json_array(json_object *marker, wf_json_array_index *idx_take);
/* The same for an array whose item count is known without reading it (a resumed or cached
 * result: its record's count): `| length` reads nothing, and the file is scanned for its
 * windows at the first item read; a file that is no longer that array is an error there
 * ("the result kept in PATH changed"). Call it once, before the marker is shared. */
void wf_ref_set_json_array_len(json_object *marker, uint64_t n_items);

/* ---- read-only JSON helpers --------------------------------------------------------- */

/* Appends v as compact JSON (no spaces, keys in insertion order, NULL as null). Doubles are
 * written in the shortest form that reads back to the same value ("0.1", "1e+100", "2.0" is
 * written "2.0" so that it stays a decimal). Only reads v: safe on shared values. */
void wf_json_write(wf_strbuf *sb, const json_object *v);
/* Appends the shortest round-trip text of d ("0.5", "1e-07"; integral values get ".0"). */
void wf_json_write_double(wf_strbuf *sb, double d);
/* v itself; NULL (json-c could not allocate it) ends the process through wf_oom(). Wrap
 * json_object_new_* calls whose size comes from input: json-c's other functions assert on a
 * NULL they are given, which would be an abort instead of the documented exit status. */
json_object *wf_json_check(json_object *v);
/* json_object_array_add(list, v_take) that ends the process through wf_oom() when the list
 * cannot grow, instead of leaking v_take and going on with a shorter list. */
void wf_json_push(json_object *list, json_object *v_take);
/* The process environment (environ) as a new object of strings, NAME -> value (`env.NAME` in
 * templates). Not thread-safe with setenv/putenv elsewhere. */
json_object *wf_json_environ(void);
/* A deep copy that shares nothing with v (NULL for NULL). Only reads v. Markers are loaded
 * and copied (a marker that cannot be loaded becomes null): the copy holds the whole value. */
json_object *wf_json_copy(const json_object *v);
/* The same, but markers stay markers (new ones for the same handles): the copy is as small
 * as v. */
json_object *wf_json_copy_refs(const json_object *v);
/* Deep equality with number rules of the template language (1 == 1.0). */
bool wf_json_equal(const json_object *a, const json_object *b);
/* The json-c type name a user understands: "null", "boolean", "integer", "number",
 * "string", "list", "object". */
const char *wf_json_type_name(const json_object *v);

#endif
