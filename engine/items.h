/*
 * items.h: a with-items task's item list as the run reads it, one item (or batch) at a time:
 * a JSON list (lent from the workflow or the context, or owned), a range of integers computed
 * on demand, a matrix's combinations computed on demand, the lines of a file read in windows,
 * or a list by reference (a task's lines result or large fan-out results kept on disk). A
 * 10,000,000-item range, matrix or file never becomes a list in memory.
 *
 * Thread safety: after wf__items_* set it up (scheduler thread), any number of threads may
 * call wf__items_get at once (the file source reads under its own lock). A pipelined task's
 * JSON list (or, over a large source, its fed bytes) is filled in by the scheduler while
 * executors read other indices (pipeline.c).
 */
#ifndef WF_ITEMS_H
#define WF_ITEMS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_context.h"

typedef enum wf_items_src_kind {
    WF_ITEMS_SRC_JSON,   /* list: a JSON array */
    WF_ITEMS_SRC_RANGE,  /* item i is lo + i */
    WF_ITEMS_SRC_FILE,   /* item i is line i of the file, without its \n (and a \r before it) */
    WF_ITEMS_SRC_MATRIX, /* item i is the matrix's combination i, computed on demand */
    WF_ITEMS_SRC_REF,    /* item i is item i of a list by reference (wf_ref_list_get) */
    WF_ITEMS_SRC_PIPE,   /* item i is the result of the source's unit i, read from its file */
} wf_items_src_kind;

/* Lines per window of a file source: one offset is kept per window (8 bytes per 4,096 lines),
 * and one window is held in memory at a time. */
#define WF__LINES_WINDOW 4096

typedef struct wf_items {
    wf_items_src_kind kind;
    size_t n_items; /* items in the list */
    size_t n_units; /* units: n_items, or ceil(n_items / batch) */
    size_t batch;   /* batch-size (items per unit), 0 for one item per unit */
    /* JSON: lent (own NULL: a constant of the workflow or a value in the context, which the
     * run neither copies nor touches the reference counts of) or owned (own == list). */
    const json_object *list;
    json_object *own;         /* REF: the marker (a share of the result's) */
    int64_t lo;               /* RANGE */
    struct wf_matrix *matrix; /* MATRIX: owned */
    /* FILE: the open file, the byte offset of each window's first line (n_windows + 1, the
     * last the file's size), and the window read last, under lock. */
    char *path;
    int fd;
    uint64_t *window_off;
    size_t n_windows;
    pthread_mutex_t lock;
    size_t win;       /* which window buf holds (SIZE_MAX: none) */
    char *buf;        /* its bytes */
    size_t *line_off; /* where each of its lines starts in buf (+ one past the last) */
    size_t win_lines;
    /* PIPE: the source task's item results (a reference), and a byte per item: 1 once the
     * source's unit succeeded and the item was fed (else the item is null). */
    struct wf_values_log *log;
    _Atomic unsigned char *fed;
} wf_items;

/* A source over a JSON array (list must be one): lent when own is NULL, else own == list is
 * taken. */
wf_items *wf__items_json(const json_object *list, json_object *own);
/* The items of a list by reference (a marker, wf_ref_list_len), read one at a time; the
 * source holds its own share of the marker. */
wf_items *wf__items_ref(const json_object *marker);
/* A pipelined task's n items, read from its source's item results (log: a reference is
 * taken) as they arrive: item i is null until wf__items_pipe_fed(s, i), then the source's
 * unit i's result, read from the file when a unit needs it (nothing kept per item but the
 * byte). */
wf_items *wf__items_pipe(struct wf_values_log *log, size_t n);
/* Item i's source unit succeeded: its result is the item from now on. Scheduler thread;
 * publishes to the executors that read item i after it. */
void wf__items_pipe_fed(wf_items *s, size_t i);
/* The n integers lo, lo + 1, ... */
wf_items *wf__items_range(int64_t lo, size_t n);
/* A text that names every item of s without reading them (a range one item per unit:
 * "range LO"), written into buf (size: 32 is enough); NULL for any other source (or s NULL).
 * Two sources with the same key have the same item at every index both have; the store
 * keeps it with the task (wf_store_task_rec.items_key) for --resume. */
const char *wf__items_key(const wf_items *s, char *buf, size_t size);
/* The combinations of matrix (taken: freed with the source). */
wf_items *wf__items_matrix(struct wf_matrix *matrix);
/* The lines of the file at path (read once now to count them and note where each window
 * starts; kept open for the run). A last line without \n counts; a \r before a \n is not
 * part of the line; empty lines are items (""). On failure returns NULL and *error (owned)
 * says why: the file cannot be opened or read (the system's reason), is not a regular file,
 * has more than cap lines, or a line longer than WF_MAX_STRING_LEN. */
wf_items *wf__items_file(const char *path, size_t cap, char **error);
/* Groups the items by batch (> 0): unit u is the list of items [u*batch, (u+1)*batch). */
void wf__items_set_batch(wf_items *s, size_t batch);
void wf__items_free(wf_items *s);

/* Unit u's item (a batch: the list of its items): *item points at it. It is either borrowed
 * from a JSON list (*own NULL; read-only, as wf_ctx_with_item wants it) or new (*own == *item,
 * for the caller to json_object_put once done with it and with any context made from it).
 * Returns false when it cannot be read (a file source whose file changed or cannot be read
 * any more): *item and *own NULL, and *error (owned, when error is not NULL) says why. */
bool wf__items_get(wf_items *s, size_t u, const json_object **item, json_object **own,
                   char **error);

#endif
