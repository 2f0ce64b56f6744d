/*
 * unit_values.h: the item results of a large fan-out kept on disk, not in memory
 * (unit_values.c). A with-items task of more than WF__VALUES_INLINE units puts each unit's
 * value in a wf_values_log as the unit ends; when the task ends, the log becomes the task's
 * result: a list by reference (context/wf_context.h) that templates, with-items, pipelines and
 * the result document read an item at a time. Smaller tasks keep a JSON array (unit_detail.c).
 *
 * Memory: 16 bytes per window of WF__VALUES_WINDOW units, a 64 KiB write buffer, and the one
 * window read last (its records' bytes and 8 bytes a unit).
 */
#ifndef WF_UNIT_VALUES_H
#define WF_UNIT_VALUES_H

#include <stddef.h>
#include <stdint.h>

#include "wf_context.h"

/* Units above which a task's item results go to a file (documented in docs/). */
#define WF__VALUES_INLINE 4096
/* Units per window of the file's index. */
#define WF__VALUES_WINDOW 4096

typedef struct wf_values_log wf_values_log;
struct wf_run;

/* A new, empty log for task t's n_units results: an unnamed file in the store's blobs
 * directory, or the run's spill directory (it goes when the last reference does). NULL with
 * *error (owned: the path, the cause and what to do) when the file cannot be created; the
 * caller then fails the run (wf__run_disk_failed) rather than hold the values in memory.
 * Scheduler thread. */
wf_values_log *wf__values_log_new(const struct wf_run *r, uint32_t t, size_t n_units, char **error);
/* Adds a reference (a pipelined task reads its items from its source's log). Returns l. */
wf_values_log *wf__values_log_ref(wf_values_log *l);
/* Drops a reference: the last one frees the log and closes its file; NULL is fine. The task's
 * own reference is dropped here only for a log never published (publishing hands it over). */
void wf__values_log_free(wf_values_log *l);
/* Appends unit idx's value (taken; NULL puts nothing: the item reads as null). A result by
 * reference is written as what it points at, never loaded. A write error (a full disk, a
 * short write) is kept and every later read fails with it; the put (or publish) that meets
 * it first returns its message (owned: the path, the cause and what to do), for the caller
 * to fail the run. NULL otherwise. Scheduler thread. */
char *wf__values_log_put(wf_values_log *l, uint32_t idx, json_object *v_take);
/* Unit idx's value as a new value (owned; NULL for none), or NULL with *error (owned) when the
 * file cannot be read back. Reads at most one window. Any thread. */
json_object *wf__values_log_get(wf_values_log *l, uint32_t idx, char **error);
/* The task's result (owned): a list by reference over the log, which it takes. *error as
 * for wf__values_log_put (the last records are written now). */
json_object *wf__values_log_publish(wf_values_log *l, char **error);

#endif
