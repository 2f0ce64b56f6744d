/*
 * store_internal.h: what the files of store/ share (see wf_store.h for the contract).
 *
 * Connections: wdb belongs to the writer thread once it runs (open and close use it before
 * the thread starts and after it is joined). rdb serves the query functions, under rlock; it is
 * opened by the first query (wf__store_read_conn), so a run that never queries (no cache, no
 * resume) does not pay for a second connection.
 * Both are opened with SQLITE_OPEN_NOMUTEX because each is used by one thread at a time.
 *
 * Locks: qlock (the queue), rlock (rdb), elock (the first error). A thread never holds two of
 * them at once, except that fail() takes elock while the writer holds nothing else.
 */
#ifndef WF_STORE_INTERNAL_H
#define WF_STORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <sqlite3.h>

#include "wf_store.h"

/* The queue's bounds: producers wait while either is exceeded. */
#define WF__STORE_QUEUE_MAX_RECS  65536
#define WF__STORE_QUEUE_MAX_BYTES (64u * 1024 * 1024)
/* At most this many records per transaction, so one commit never holds the lock long. */
#define WF__STORE_BATCH_MAX 8192
/* How long the writer waits for more records before it commits (group commit; see
 * docs/store.md for the measurement behind the figure). */
#define WF__STORE_LINGER_MS 50
/* How long a connection waits for another one (another process, or gc) to release a lock. */
#define WF__STORE_BUSY_MS 10000
/* A WAL up to this size is left for the next open to recover rather than checkpointed at
 * close (store.c, skip_small_checkpoint). */
#define WF__STORE_WAL_KEEP (1024 * 1024)
/* A WAL over this size when a writer starts is checkpointed by it, while the run's first units
 * run (writer.c): the next open then recovers little more than one run's frames. */
#define WF__STORE_WAL_CHECKPOINT_AT (128 * 1024)
/* What every connection that writes or caches reads is set to. */
#define WF__STORE_PRAGMAS "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF"

/* A range row of unit_ranges holds at most this many units (its item digests, 8 bytes each,
 * are rewritten whole when a later batch extends it: 4 KiB at most, so extending a range
 * a few units at a time stays cheap). */
#define WF__STORE_RANGE_MAX 512

typedef struct wf__rec wf__rec;

/* One unit the writer keeps as part of a range (writer_ranges.c); the strings are borrowed
 * from its record, which lives until its batch is committed. */
typedef struct wf__range_unit {
    int64_t run_seq;
    const char *task;
    int64_t index;
    int64_t started_ms, ended_ms;
    int exit_code;
    bool reused;
    const char *result_json, *stdout_hash, *stderr_hash; /* NULL for none */
    unsigned char digest[WF_STORE_DIGEST_LEN];           /* of its item_hash */
    size_t order;                                        /* arrival in the batch */
} wf__range_unit;

/* The range units of the batch being committed. */
typedef struct wf__ranges {
    wf__range_unit *units;
    size_t n, cap;
    unsigned char *buf; /* a range's digests while it is written */
    size_t buf_cap;
} wf__ranges;

/* A run this process owns: its lock file, held (flock, exclusive) from the run's start until
 * its end is committed (writer.c) or the store closes. */
typedef struct wf__run_lock {
    struct wf__run_lock *next;
    char *run_id;
    char *path;
    int fd;
} wf__run_lock;

/* Who a run belongs to: recorded with its start (runs.owner_*). */
typedef struct wf__owner {
    int64_t pid;
    char host[256];
    char boot_id[40]; /* /proc/sys/kernel/random/boot_id, "" when unknown */
    char start[96];   /* "<boot_id>:<start time in clock ticks since boot>", "" when unknown */
} wf__owner;

struct wf_store {
    char *dir;
    char *db_path;
    char *blobs_dir;
    char *lock_path;
    char *locks_dir; /* locks/: one lock file per running run */
    int lock_fd;     /* flock: shared while open, exclusive during gc's blob sweep; -1 when a
                      * read-only store has no lock file it can open */
    bool readonly;   /* wf_store_open_readonly: no writer, no migration, rdb only */
    /* No other process had the store open when this one opened it (the shared lock could be
     * taken exclusively for a moment): a run recorded without an owner (schema 1) that is
     * still "running" is then known to be interrupted. */
    bool alone_at_open;
    int64_t schema_version; /* of the file as opened (a read-only store is not migrated) */
    char *tmp_copy_dir;     /* read-only fallback: a private copy of state.db and its WAL */
    wf__owner me;

    pthread_mutex_t llock; /* held_locks */
    wf__run_lock *held_locks;

    sqlite3 *wdb;
    sqlite3_stmt *st_begin, *st_commit, *st_rollback, *st_run_start, *st_run_end, *st_task,
        *st_unit, *st_cache, *st_run_seq;
    /* writer_ranges.c's */
    sqlite3_stmt *st_range_before, *st_range_after, *st_range_del, *st_range_ins, *st_count_add;
    /* writer_reuse.c's */
    sqlite3_stmt *st_reuse_ranges, *st_reuse_count, *st_reuse_units;

    pthread_mutex_t rlock;
    sqlite3 *rdb;
    sqlite3_stmt *st_cache_get; /* hot during a run with caching: prepared once */

    pthread_mutex_t qlock;
    pthread_cond_t q_ready; /* records queued, or stopping: wakes the writer */
    pthread_cond_t q_space; /* the queue dropped below its bounds: wakes producers */
    pthread_cond_t q_done;  /* committed advanced: wakes wf_store_flush */
    wf__rec *head, *tail;
    size_t q_recs, q_bytes;
    uint64_t enqueued;     /* sequence number of the last record queued */
    uint64_t committed;    /* every record up to this one is committed (or dropped on failure) */
    uint64_t flush_target; /* a flush waits for records up to this one: commit at once */
    bool stopping;
    bool thread_started;
    pthread_t thread;

    atomic_bool failed;
    pthread_mutex_t elock;
    wf_error first_err;

    atomic_ulong tmp_counter; /* makes blob temporary file names unique within the process */
};

/* ---- failure.c: errors and the failed state ------------------------------------------- */

/* Puts the store in the failed state (keeping the first error) and, when err is not NULL,
 * fills err with this error too. Always returns WF_ESTORE. */
int wf__store_fail(wf_store *s, wf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fills err (WF_ESTORE) with "<state.db path>: <what>: <SQLite's message>". Returns
 * WF_ESTORE. Does not fail the store: used by the read side. */
int wf__store_db_error(const wf_store *s, sqlite3 *db, wf_error *err, const char *what);
/* Copies the first error of a failed store into err. Returns WF_ESTORE. */
int wf__store_copy_failure(wf_store *s, wf_error *err);

/* SQLite's message for db's last error, with the OS error behind it when there is one
 * ("disk I/O error (No space left on device)"), in buf. Returns buf. */
const char *wf__store_sqlite_msg(sqlite3 *db, char *buf, size_t size);
/* strerror_r into buf (thread-safe strerror). Returns buf. */
const char *wf__store_strerror(int errnum, char *buf, size_t size);
/* True when h is 64 lowercase hex digits. */
bool wf__store_valid_hash(const char *h);

/* ---- the read connection, the writer and run ownership (store.c, writer.c, owner.c) -- */

/* With rlock held: opens rdb and prepares st_cache_get unless done already. WF_OK, or
 * WF_ESTORE with err filled (the next call tries again). */
int wf__store_read_conn(wf_store *s, wf_error *err);

/* writer_ranges.c: prepares and finalizes its statements on wdb; queues a unit of the batch
 * being committed; writes the batch's units as ranges (inside the writer's transaction:
 * SQLITE_OK or SQLite's error code); frees what it holds. */
int wf__ranges_prepare(wf_store *s, wf_error *err);
void wf__ranges_finalize(wf_store *s);
void wf__ranges_add(wf__ranges *p, const wf__range_unit *u);
int wf__ranges_commit(wf_store *s, wf__ranges *p);
void wf__ranges_release(wf__ranges *p);

/* writer_reuse.c (the writer thread, inside its transaction): units first..last of task that
 * run seq takes from run from_seq, copied from what from_seq recorded and marked reused at
 * at_ms. SQLITE_OK or SQLite's error. */
int wf__reuse_prepare(wf_store *s, wf_error *err);
void wf__reuse_finalize(wf_store *s);
int wf__reuse_copy(wf_store *s, int64_t seq, const char *task, int64_t from_seq, int64_t first,
                   int64_t last, int64_t at_ms);

/* Prepares the writer's statements on wdb and starts the writer thread. */
int wf__store_writer_start(wf_store *s, wf_error *err);
/* Commits everything queued and joins the writer thread. Safe when it never started. */
void wf__store_writer_stop(wf_store *s);
/* Frees records still queued (only after the writer stopped) and finalizes its statements. */
void wf__store_writer_release(wf_store *s);

/* The lock file of a run: <dir>/locks/<run_id>.lock when the id is a plain file name, else
 * one named by the id's SHA256. Owned. */
char *wf__store_run_lock_path(const wf_store *s, const char *run_id);
/* With the run's start: creates and locks its lock file (see wf__run_lock). WF_OK, or
 * WF_ESTORE with the store failed (the lock file cannot be created). A file system without
 * flock support is not an error: the run is then recorded without a lock (readers fall back
 * to the owner's pid). */
int wf__store_lock_run(wf_store *s, const char *run_id);
/* After the run's end is committed: removes its lock file and releases the lock. */
void wf__store_unlock_run(wf_store *s, const char *run_id);
/* At close, after the writer stopped: releases the locks of runs whose end was never
 * committed (their files stay, free: the runs read as interrupted). */
void wf__store_release_locks(wf_store *s);
/* Fills *me with this process's pid, host name, boot id and start time. */
void wf__store_owner_init(wf__owner *me);

typedef enum {
    WF__OWNER_ALIVE,  /* its lock is held (or, without a lock, its process is there) */
    WF__OWNER_GONE,   /* its process is gone: the run was interrupted */
    WF__OWNER_UNKNOWN /* cannot be told from here (another host, or no owner recorded) */
} wf__owner_state;

/* Whether the owner of a run recorded as running is still there (owner.c explains how).
 * has_owner is false for a run recorded without one (schema 1). */
wf__owner_state wf__store_owner_state(const wf_store *s, const char *run_id, bool has_owner,
                                      int64_t pid, const char *host, const char *start);

/* Parses JSON text stored by the writer into *out (owned; NULL is JSON null). NULL text is
 * JSON null. Returns WF_OK or WF_ESTORE (err names what). */
int wf__store_parse_json(const wf_store *s, const char *text, const char *what, json_object **out,
                         wf_error *err);
/* Loads a result: the stdout blob converted by the output mode `from` when from is not NULL,
 * else inline text when present, else the blob named hash, else JSON null. */
int wf__store_load_result(wf_store *s, const char *inline_json, const char *hash, const char *from,
                          const char *stdout_hash, json_object **out, wf_error *err);

/* ---- the read side (query.c, used by query_units.c) ----------------------------------- */

/* The JSON value v, ending the process through the one out-of-memory handler when json-c
 * could not allocate it (v NULL). */
json_object *wf__store_checked(json_object *v);
/* o[key] = v; a NULL string becomes JSON null. */
void wf__store_add_str(json_object *o, const char *key, const char *v);
void wf__store_add_int(json_object *o, const char *key, int64_t v);
/* Column i of st as text (borrowed until the next step), or NULL. */
const char *wf__store_col_text(sqlite3_stmt *st, int i);
/* Prepares sql on the read connection; WF_OK or WF_ESTORE with err filled. */
int wf__store_prep(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err);
/* Takes rlock and opens a read transaction (one snapshot for the whole query); WF_OK, or an
 * error with err filled and rlock released. wf__store_read_end commits and releases it. */
int wf__store_read_begin(wf_store *s, wf_error *err);
void wf__store_read_end(wf_store *s);
/* Steps st and returns sqlite3_step's code; anything but SQLITE_ROW or SQLITE_DONE fills
 * err. */
int wf__store_step(wf_store *s, sqlite3_stmt *st, wf_error *err);
/* The seq of a full run id: WF_OK, WF_ENOENT or WF_ESTORE. Inside a read transaction. */
int wf__store_find_run(wf_store *s, const char *run_id, int64_t *seq, wf_error *err);
/* The frame of every reader of one run: opens a read transaction (wf__store_read_begin),
 * finds run_id's seq (WF_ENOENT "no run ..." when it is not there) and, when sql is not NULL,
 * prepares it into *st with ?1 bound to the seq (*st is NULL otherwise). On WF_OK the caller
 * reads and then calls wf__store_run_end(s, *st) exactly once; on an error (err filled) the
 * transaction is already ended and *st is NULL. */
int wf__store_run_begin(wf_store *s, const char *run_id, const char *sql, int64_t *seq,
                        sqlite3_stmt **st, wf_error *err);
/* Finalizes st (NULL is fine) and ends the read transaction. */
void wf__store_run_end(wf_store *s, sqlite3_stmt *st);

/* ---- unit_cursor.c: one task's units, rows and ranges alike, in index order ------------- */

/* One unit as the cursor hands it out. Strings are borrowed until the next call. */
typedef struct wf__unit_view {
    int64_t index;
    int attempt;
    const char *status;
    int64_t started_ms, ended_ms; /* 0: unknown */
    bool has_times;
    int exit_code;
    const char *error, *label;
    bool cached, reused, ignored;
    const char *stdout_hash, *stderr_hash;               /* NULL: none */
    const char *result_json, *result_hash, *result_from; /* as in units */
    const char *item_hash;                               /* a row's, or NULL */
    int64_t result_lines; /* an `output: lines` result's line count, or -1: unknown */
    /* A range unit's WF_STORE_DIGEST_LEN bytes, or NULL (always NULL with no_digests). */
    const unsigned char *digest;
    bool in_range;      /* it is a unit of a range row ... */
    int64_t range_last; /* ... that goes up to this index */
} wf__unit_view;

typedef struct wf__unit_cursor {
    wf_store *s;
    char *task; /* owned */
    sqlite3_stmt *rows, *ranges;
    /* The row that holds the digests of a range row that refers to it (schema 11). */
    sqlite3_stmt *origin;
    int64_t from;
    int row_state, range_state; /* 0 to read, 1 loaded, 2 done (3: a row was handed out) */
    int64_t range_first, range_last, range_next;
    bool origin_loaded; /* origin is at the current range row's */
    bool no_digests;    /* read no range's digests (not even from the database) */
} wf__unit_cursor;

/* Inside a read transaction: the units of task in run seq with an index ≥ from, all attempts
 * in (index, attempt) order, or, with status, only units whose latest attempt has it; with
 * digests, a range unit's item digest (a few KiB read per range row), else none. WF_OK
 * or WF_ESTORE (err filled). Close it before the transaction ends. */
int wf__unit_cursor_open(wf_store *s, wf__unit_cursor *c, int64_t seq, const char *task,
                         int64_t from, const char *status, bool digests, wf_error *err);
/* The next unit into *u: WF_OK, WF_ENOENT at the end, WF_ESTORE (err filled). */
int wf__unit_cursor_next(wf__unit_cursor *c, wf__unit_view *u, wf_error *err);
/* After a unit of a range: skips the rest of that range. */
void wf__unit_cursor_skip_range(wf__unit_cursor *c);
void wf__unit_cursor_close(wf__unit_cursor *c);

#endif
