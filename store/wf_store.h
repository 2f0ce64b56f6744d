/*
 * wf_store.h: the run store. Everything a run does is recorded so that runs can be inspected
 * (`wfengine runs/show/logs`), resumed (only what did not succeed runs again) and cached.
 *
 * Layout of a store directory (default .wfengine/):
 *   state.db          SQLite, journal_mode=WAL, synchronous=NORMAL, versioned schema migrated
 *                     forward (never reset): runs, tasks, units (one row per task or item
 *                     attempt), cache, meta
 *   blobs/ab/cdef...  content-addressed files named by the SHA256 of their bytes (two-level
 *                     sharding: the first two hex digits name the directory), written to a
 *                     temporary file in the same directory and renamed into place
 *   lock              empty; every open store holds a shared flock on it, gc an exclusive one
 *   locks/<run>.lock  one per run in progress: its process holds an exclusive flock on it
 *                     (see "Owners" below)
 *   state.db-wal/-shm SQLite's WAL, left in place at close while under 1 MiB (checkpointing it
 *                     costs two fdatasync calls; the next open recovers it), checkpointed
 *                     into state.db and removed when larger
 *
 * Writing: records are queued (wf_store_record_*) and one writer thread commits them in
 * batched transactions, in the order they were queued. Queuing copies the record and never
 * waits for the disk (it only waits when the queue holds more than a bound, so memory stays
 * bounded if the disk is slower than the run). Blobs are written by the calling thread
 * (any thread), before the record that refers to them is queued, so a row that says a unit
 * succeeded never points at a blob that is not there.
 *
 * Crash safety: after a kill -9 at any moment, the store opens cleanly and holds a prefix of
 * what was queued (SQLite's WAL gives whole transactions; blobs appear whole or not at all).
 * Durability against power loss is that of synchronous=NORMAL: the last transactions may be
 * lost, never half-applied.
 *
 * Failures: opening fails with WF_ESTORE and an error naming the path and the cause (not a
 * directory, read-only, not a wfengine database, a schema newer than this wfengine, corrupt).
 * A write that fails later (disk full) puts the store in a failed state: further records are
 * dropped, wf_store_failed() says so and wf_store_flush()/wf_store_close() return WF_ESTORE
 * with the first error. The caller (the engine) stops the run; the CLI exits with status 3.
 *
 * Owners: recording a run's start also records its owner (pid, host name, process start
 * time) and takes an exclusive flock on locks/<run>.lock, held until the run's end is
 * committed (then the file is removed) or the store closes. The kernel releases it when the
 * process dies, however it dies. The queries report a run recorded as "running" whose lock is
 * free as "interrupted" (the record itself is not changed, so a read-only store shows it too):
 * store/owner.c has the rules, including a run of another host (not judged: "running" with
 * owner_alive null) and a file system without flock (the pid decides).
 *
 * Thread safety: wf_store_put_blob, wf_store_get_blob and wf_store_record_* may be called
 * from any thread. The query functions (runs, show, logs, resume, cache lookup, gc) use their
 * own read connection under a lock and may be called from any thread, but they see only what
 * the writer has committed (call wf_store_flush first to see everything queued).
 */
#ifndef WF_STORE_H
#define WF_STORE_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "wf_common.h"
#include "wf_context.h"

typedef struct wf_store wf_store;

/* The schema version this wfengine writes. Older stores are migrated forward on open. */
#define WF_STORE_SCHEMA_VERSION 11

/* Bytes of an item's SHA256 that a range of units keeps per unit (docs/store.md, "Ranges"):
 * enough for --resume to tell a changed item from an unchanged one. */
#define WF_STORE_DIGEST_LEN 8

/* Results whose compact JSON is at most this many bytes are kept inline in state.db; larger
 * ones are blobs. */
#define WF_STORE_INLINE_MAX 1024

/* For programs that use SQLite only through the store (the wfengine CLI): no connection
 * preallocates its page cache (SQLite's default bulk of 20 pages, which it touches whole at
 * the first read: a page fault per 4 KiB, about 20 of a one-task run's 440 on the read and
 * the write connection each); pages are allocated as they are used. Call it before any other
 * SQLite use; later it changes nothing. A program that uses SQLite itself decides its own
 * configuration and need not call it. */
void wf_store_skip_sqlite_bulk_cache(void);

/* Opens (creating if needed) the store in dir. Returns WF_OK with *out, or WF_ESTORE with err
 * naming dir (or the file inside it) and the cause. A state.db that is empty (0 bytes) or
 * missing while blobs/ holds outputs is refused (WF_ESTORE): the history was lost, and the
 * store would otherwise start a new one silently. */
int wf_store_open(const char *dir, wf_store **out, wf_error *err);
/* Opens the existing store in dir for reading only (runs, show, logs, report), creating and
 * migrating nothing: it works on a read-only directory or file system (an archived CI
 * artefact, another user's store), with or without the WAL files SQLite leaves (docs/store.md,
 * "Read-only stores"). A store of an older schema is read as it is. The query functions and
 * wf_store_get_blob work; every record function, wf_store_put_blob and wf_store_gc fail
 * (WF_ESTORE, the store failed). Returns WF_OK, WF_ENOENT (no directory, or no state.db in
 * it: nothing recorded) or WF_ESTORE (as wf_store_open). */
int wf_store_open_readonly(const char *dir, wf_store **out, wf_error *err);
/* True for a store opened with wf_store_open_readonly. */
bool wf_store_readonly(const wf_store *s);
/* Flushes, stops the writer and closes. Returns WF_OK, or WF_ESTORE (err filled) when a
 * write failed at any time. NULL is fine (returns WF_OK). */
int wf_store_close(wf_store *s, wf_error *err);
/* Waits until every record queued so far is committed. WF_OK or WF_ESTORE (err filled). */
int wf_store_flush(wf_store *s, wf_error *err);
/* True once a write has failed (cheap: one atomic load). */
bool wf_store_failed(const wf_store *s);
/* The store's directory (borrowed). */
const char *wf_store_dir(const wf_store *s);

/* ---- blobs ------------------------------------------------------------------------------ */

/* Stores data (len bytes) as a blob and writes its SHA256 hex to hash. Storing content that
 * is already there writes nothing. Returns WF_OK or WF_ESTORE (err filled; the store is
 * then failed). Thread-safe. */
int wf_store_put_blob(wf_store *s, const void *data, size_t len, char hash[WF_SHA256_HEX_LEN + 1],
                      wf_error *err);
/* The directory where a file meant to become a blob should be written (the blobs' own file
 * system, so that wf_store_adopt_blob links it into place without copying). Borrowed. */
const char *wf_store_blobs_dir(const wf_store *s);
/* The path of the blob named hash (owned). It exists once a put or an adopt returned WF_OK. */
char *wf_store_blob_path(const wf_store *s, const char *hash);
/* Makes a file already written the blob named hash (its SHA256, computed by the caller as it
 * wrote the len bytes): fd is an unnamed file (O_TMPFILE) in wf_store_blobs_dir, linked into
 * place, or tmp_path names the file, renamed into place (then *tmp_path is gone on WF_OK).
 * Nothing is copied. A blob already there with that size is kept (the file is left to the
 * caller). The caller still closes fd. write_errno is the errno of a failed write of the file
 * (ENOSPC), or 0: then nothing is adopted and the store fails, as when wf_store_put_blob
 * cannot write (a full disk stops the run with what is recorded consistent). Returns WF_OK or
 * WF_ESTORE (err filled; the store is then failed). Thread-safe. */
int wf_store_adopt_blob(wf_store *s, int fd, const char *tmp_path, const char *hash, uint64_t len,
                        int write_errno, wf_error *err);
/* Reads a blob into *data (owned, NUL-terminated; *len without the NUL). Returns WF_OK,
 * WF_ENOENT when there is no such blob, or WF_ESTORE (unreadable, or its content does not
 * match its name). */
int wf_store_get_blob(wf_store *s, const char *hash, char **data, size_t *len, wf_error *err);

/* ---- records (queued, committed by the writer thread) ------------------------------------ */

typedef struct wf_store_run_rec {
    const char *run_id;
    const char *workflow;    /* the workflow's name */
    const char *file_path;   /* as given on the command line */
    const char *file_sha256; /* of the file's bytes, or NULL: */
    /* when file_sha256 is NULL, the file's text (NUL-terminated, copied), which the writer
     * thread hashes (SHA-256): a one-task run does not wait for OpenSSL's set-up (B8). */
    const char *file_text;
    const char *inputs_json;  /* compact JSON of the inputs, secrets already masked */
    const char *resumed_from; /* the run this one resumes, or NULL */
    int64_t started_ms;       /* wall clock, ms since the epoch */
} wf_store_run_rec;

typedef struct wf_store_task_rec {
    const char *run_id;
    const char *task;
    wf_status status;
    int64_t started_ms, ended_ms; /* wall clock */
    const char *error;            /* or NULL */
    size_t n_items;               /* with-items: number of items; 0 otherwise */
    bool with_items;
    size_t position;    /* the task's place in the workflow file: `show` lists tasks in it */
    bool ignored;       /* FAILED under continue-on-error: not a failure of the run */
    const char *source; /* `pipeline: true`: the task it takes its items from, or NULL */
    /* What its item list was, when that says every item without hashing them ("range LO
     * STEP": item i is LO + i * STEP), or NULL. A resume over the same list compares no item
     * digest (schema 11). Kept by the task's later records that have none. */
    const char *items_key;
} wf_store_task_rec;

typedef struct wf_store_unit_rec {
    const char *run_id;
    const char *task;
    int64_t index;                /* item index, -1 for a task without with-items */
    int attempt;                  /* 1-based */
    wf_status status;             /* SUCCEEDED, FAILED, SKIPPED or CANCELLED */
    int64_t started_ms, ended_ms; /* wall clock */
    int exit_code;                /* -1 when none */
    const char *error;            /* or NULL */
    const char *result_json; /* compact JSON of the result when it is small (inline), or NULL */
    const char *result_hash; /* blob of the result's JSON when it is large, or NULL/"" */
    /* Or: the result is a blob converted by this output mode ("text", "json", "lines";
     * wf_output_mode_name): result_hash's when set (a large $WF_RESULT file, schema 10), else
     * stdout_hash's, so a large result is on disk once. NULL otherwise. */
    const char *result_from;
    const char *stdout_hash; /* blob of stdout (masked, capped), or NULL/"" for none */
    const char *stderr_hash; /* blob of stderr, or NULL/"" */
    const char *item_hash;   /* SHA256 of the item's compact JSON, or NULL for no item */
    bool cached;             /* the result came from the cache */
    bool reused;             /* the result came from the run this one resumes */
    bool ignored;            /* FAILED under continue-on-error: not a failure of the run */
    const char *label;       /* the item's label (`label:` or a short scalar item), or NULL */
    /* With result_from "lines": the result's line count (a last line without \n counts), so
     * that a resume reads no blob to count it (schema 11); with result_from "json" and a
     * value that is an array: its item count, so that a resume or a cache hit knows it is a
     * list without reading it. has_lines false: not known (or not an array). */
    bool has_lines;
    uint64_t result_lines;
} wf_store_unit_rec;

/* Each copies what it needs and queues it; see the header comment. */
void wf_store_record_run_start(wf_store *s, const wf_store_run_rec *rec);
void wf_store_record_task(wf_store *s, const wf_store_task_rec *rec);
void wf_store_record_unit(wf_store *s, const wf_store_unit_rec *rec);
/* Units first..last of task (index order; -1..-1 for a task without items) that run_id takes
 * from from_run, the run it resumes, recorded as from_run recorded them (results, outputs,
 * exit codes, item hashes and labels), as first attempts, reused, at at_ms: the writer copies
 * them in a few statements (ranges cut to the span, unit rows), whatever the span's length.
 * Every unit of the span must be one whose latest attempt succeeded in from_run
 * (wf_store_succeeded_each); a unit it does not have there is not recorded. */
void wf_store_record_reused(wf_store *s, const char *run_id, const char *task, const char *from_run,
                            int64_t first, int64_t last, int64_t at_ms);
/* status is the run's (SUCCEEDED, FAILED, CANCELLED); outputs_json may be NULL. */
void wf_store_record_run_end(wf_store *s, const char *run_id, wf_status status, int64_t ended_ms,
                             const char *outputs_json);
/* Remembers that the result of a unit with this cache key is the given one (hashes as in
 * wf_store_unit_rec; result inline, as a blob, or result_from its stdout blob). files_json:
 * NULL, or the files the entry
 * restores as a JSON array of {"path", "mode", "hash"} whose blobs are already written; gc
 * keeps those blobs while the entry exists. result_lines: with result_from "lines", the
 * result's line count, with "json" an array's item count (wf_store_unit_rec.result_lines),
 * else -1. */
void wf_store_record_cache(wf_store *s, const char *key, const char *result_json,
                           const char *result_hash, const char *result_from,
                           const char *stdout_hash, const char *stderr_hash, const char *files_json,
                           int64_t result_lines);

/* ---- queries ---------------------------------------------------------------------------- */

/* Resolves "last" (the newest run), a full run id, or a unique prefix of one into id.
 * Returns WF_OK, WF_ENOENT (no such run, or no runs at all for "last") or WF_EINVAL (an
 * ambiguous prefix), with err saying which. */
int wf_store_resolve_run(wf_store *s, const char *spec, char id[64], wf_error *err);

/* The newest runs first, at most limit (0: all), as a JSON array of
 * {"run_id", "workflow", "file", "status", "started_ms", "ended_ms", "duration_ms",
 *  "resumed_from", "owner", "owner_alive", "resume_hint",
 *  "tasks": {"pending": n, "running": n, "succeeded": n, "failed": n, "skipped": n,
 *            "cancelled": n, "interrupted": n, "ignored": n}}: "ignored" is how many of
 * the failed tasks failed under continue-on-error. *out is owned.
 * status is the recorded one ("running", "succeeded", "failed", "cancelled"), except
 * "interrupted" for a run recorded as running whose process is gone (see "Owners"); the tasks
 * it was running then count (and show) as interrupted too. owner is {"pid", "host",
 * "process_start"}, or null for a run recorded before schema 2. owner_alive is true or false
 * for a run recorded as running whose owner could be checked, null otherwise. resume_hint is
 * the command that continues an interrupted run ("wfengine run FILE --resume ID", with
 * --store DIR unless the store is .wfengine), null for any other run. */
int wf_store_runs_json(wf_store *s, int limit, json_object **out, wf_error *err);

/* One run, every unit of it (wf_store_run_page_json reads a page: use it for runs of any
 * size): the fields above plus "file_sha256", "inputs", "outputs" and "tasks": [ {"name",
 * "status", "started_ms", "ended_ms", "error", "n_items", "with_items", "ignored", "counts"
 * (see wf_store_run_page_json), "next_index" (null), "units": [
 * {"index", "attempt", "status", "started_ms", "ended_ms", "exit_code", "error", "cached",
 * "reused", "stdout_hash", "stderr_hash", "ignored", "label"} ...] } ] in workflow-file order
 * (position),
 * units by index then attempt. "ignored": a failure under continue-on-error (status "failed").
 * "error" of a unit says why it failed, was skipped or was cancelled. *out is owned. */
int wf_store_run_json(wf_store *s, const char *run_id, json_object **out, wf_error *err);

/* Which units wf_store_run_page_json lists for each task. {0}: every unit. */
typedef struct wf_store_page {
    int64_t offset;     /* only units whose index is at least this (a task without items has
                         * index -1: it is listed when offset is 0) */
    int64_t limit;      /* at most this many units (by index; all attempts of each) per task; 0:
                         * all of them; -1: none (only the tasks and their counts) */
    const char *status; /* only units whose latest attempt has this status (a wf_status
                         * name); NULL: every unit and attempt */
} wf_store_page;

/* wf_store_run_json with the units of each task limited to a page. Each task also has
 * "counts" ({"succeeded": n, "failed": n, "skipped": n, "cancelled": n}: its units by the
 * status of their latest attempt, read from a summary, not counted) and, unless limit is -1,
 * "next_index": the offset of the next page, or null when the page is the last. Cost: a seek
 * per task and the units of the page, whatever the number of units in the run. */
int wf_store_run_page_json(wf_store *s, const char *run_id, const wf_store_page *page,
                           json_object **out, wf_error *err);

/* The units of task in run_id that page lists, from page->offset and with page->status (its
 * limit is not used: every such unit), by index then attempt: each(unit, ud) gets each one's
 * object as wf_store_run_page_json lists it (borrowed: freed when each returns). A non-zero
 * return of each stops the walk and is returned. Memory: one unit at a time, whatever the
 * number of units (`show --json --limit 0` streams a run this way). One read transaction.
 * Returns WF_OK, WF_ENOENT (no such run), WF_ESTORE, or what each returned. */
int wf_store_task_units_each(wf_store *s, const char *run_id, const char *task,
                             const wf_store_page *page, int (*each)(json_object *unit, void *ud),
                             void *ud, wf_error *err);

/* stdout (or stderr) of one unit: index -1 for a task without items; attempt 0 for the
 * latest. *data owned (NUL-terminated), "" when the unit wrote nothing. WF_ENOENT when there
 * is no such task, item or attempt (err says which exist). */
int wf_store_unit_output(wf_store *s, const char *run_id, const char *task, int64_t index,
                         int attempt, bool want_stderr, char **data, size_t *len, wf_error *err);

/* The index of the unit of task in run_id whose label (wf_store_unit_rec.label) is label: the
 * lowest such index. One seek (schema 9's index; an older store read-only scans the task's
 * labelled rows). Returns WF_OK, WF_ENOENT (no such run, or no unit with that label: err
 * says which), or WF_ESTORE. */
int wf_store_label_index(wf_store *s, const char *run_id, const char *task, const char *label,
                         int64_t *index, wf_error *err);

/* Succeeded units of a run, for --resume: consecutive units that share everything but their
 * item (a range of the store, docs/store.md "Ranges") come as one; any other unit alone. */
typedef struct wf_store_reused {
    const char *task;    /* borrowed */
    int64_t first, last; /* item indices (first == last for one unit); -1, -1 for a task
                          * without items */
    /* (last - first + 1) * WF_STORE_DIGEST_LEN bytes: the first bytes of each unit's item
     * SHA256 (wf_store_unit_rec.item_hash), in index order; NULL when it had none. Borrowed. */
    const unsigned char *digests;
    json_object *result;     /* each unit's result (borrowed; NULL is JSON null) */
    const char *stdout_hash; /* "" for none */
    const char *stderr_hash; /* "" for none */
    int exit_code;
    /* Where the result was recorded, so that a reused unit's record points at the same blob
     * instead of writing the value again: its own blob (result_hash, "" for an inline
     * result), or the stdout blob converted by the output mode result_from ("text", "json",
     * "lines"; NULL when not). */
    const char *result_hash;
    const char *result_from;
    /* With WF_STORE_RESULTS_UNREAD and a result in a blob (result_hash, or result_from over
     * stdout_hash): true, result is NULL (not JSON null: unread) and result_size is the blob's
     * size in bytes, for a reference to it (wf_ref_new). Else false and 0. */
    bool result_unread;
    uint64_t result_size;
    /* With result_unread and result_from "lines": the blob's lines (a last line without \n
     * counts), recorded or counted as it is read once (nothing kept), for a list by reference.
     * With result_unread and result_from "json": the recorded item count of an array, or
     * WF_STORE_NOT_A_LIST (not an array, or recorded before counts were), as for any other
     * unread result. Else 0. */
    uint64_t result_lines;
} wf_store_reused;

/* wf_store_reused.result_lines, wf_store_result_ref.lines: a JSON result not known to be an
 * array (read it whole). */
#define WF_STORE_NOT_A_LIST UINT64_MAX

/* wf_store_succeeded_each's flags: results in blobs are not read (their blob is checked to
 * exist), so that a resumed run holds references to them, not their values. */
#define WF_STORE_RESULTS_UNREAD 1u
/* ... and no item digests are read (digests is NULL): for a task whose items are known to be
 * the ones the run had (wf_store_task_items_key), so that nothing is read per unit. */
#define WF_STORE_NO_DIGESTS 2u

/* Called for each run of succeeded units; anything but WF_OK stops the walk, and
 * wf_store_succeeded_each returns it. */
typedef int (*wf_store_reused_fn)(const wf_store_reused *u, void *ctx);

/* For --resume: calls fn for the units of run_id whose latest attempt succeeded, task by task
 * (task: only that one; NULL: every task), by index. Results in blobs are loaded before fn
 * sees them, unless flags has WF_STORE_RESULTS_UNREAD. Memory: one range or unit at a time,
 * whatever the size of the run. fn runs inside the store's read lock: it must not call the query
 * functions of this store (it may record and put blobs). Returns WF_OK, WF_ENOENT (no such run),
 * WF_ESTORE (err filled: a result's blob is missing or damaged), or what fn returned. */
int wf_store_succeeded_each(wf_store *s, const char *run_id, const char *task, unsigned flags,
                            wf_store_reused_fn fn, void *ctx, wf_error *err);
/* The same for one task, from its unit `from` on (a run of units that starts before it comes
 * cut to start there): a reader that wants a window of units returns anything but WF_OK from
 * fn once it has them, which ends the walk at once (and is returned). */
int wf_store_succeeded_from(wf_store *s, const char *run_id, const char *task, int64_t from,
                            unsigned flags, wf_store_reused_fn fn, void *ctx, wf_error *err);

/* The items_key that run_id recorded for task (wf_store_task_rec): WF_OK with *key (owned;
 * NULL when it has none, or the store is older than schema 11), WF_ENOENT (no such run) or
 * WF_ESTORE. */
int wf_store_task_items_key(wf_store *s, const char *run_id, const char *task, char **key,
                            wf_error *err);

/* A result in a blob that a query left unread, for a reference to it (wf_ref_new). */
typedef struct wf_store_result_ref {
    bool unread;                      /* false: the value was read (or is inline) */
    char hash[WF_SHA256_HEX_LEN + 1]; /* the blob */
    const char *mode;                 /* static: the output mode that converts it ("json",
                                       * "text", "lines"); "json" for a result's own blob */
    uint64_t size;                    /* the blob's bytes */
    uint64_t lines;                   /* with mode "lines": the line count; with "json":
                                       * as wf_store_reused.result_lines; else 0 */
    /* Recorded as a blob converted by mode (result_from): the stdout's, or hash's when it is
     * another; false: hash is the result's own JSON (result_hash). */
    bool converted;
} wf_store_result_ref;

/* Looks up a cache key. Returns WF_OK with *result (owned; NULL is JSON null), the
 * stdout/stderr hashes ("" for none) and, when files_json is not NULL, *files_json (owned;
 * NULL when the entry has no files, as recorded by wf_store_record_cache), WF_ENOENT on a
 * miss (an entry whose result blob is gone is one), WF_ESTORE on failure. With ref not NULL,
 * a result in a blob is not read: *result is NULL and *ref says which blob (its presence
 * checked with one stat; an `output: lines` count from the entry, or counted once for an
 * entry older than schema 11); else ref->unread is false. */
int wf_store_cache_get(wf_store *s, const char *key, json_object **result,
                       char stdout_hash[WF_SHA256_HEX_LEN + 1],
                       char stderr_hash[WF_SHA256_HEX_LEN + 1], char **files_json,
                       wf_store_result_ref *ref, wf_error *err);

typedef struct wf_store_gc_stats {
    int64_t runs_deleted;
    int64_t blobs_deleted;
    int64_t bytes_freed;
    int64_t blobs_kept;
} wf_store_gc_stats;

/* Deletes all but the newest keep_runs runs (with their tasks and units), then every blob
 * that no remaining run, unit or cache entry refers to (stray temporary files too).
 * Flushes first. Fails with WF_ESTORE, deleting nothing, while another process has the store
 * open (its blobs may not be referred to yet). */
int wf_store_gc(wf_store *s, int keep_runs, wf_store_gc_stats *stats, wf_error *err);

#endif
