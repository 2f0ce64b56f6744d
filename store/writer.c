/*
 * The records queue and the writer thread (see wf_store.h, "Writing").
 *
 * A record is one allocation: the struct followed by its strings, so queuing costs one
 * malloc and the writer one free. The writer takes the whole queue at once and commits it in
 * transactions of at most WF__STORE_BATCH_MAX records, binding the strings in place
 * (SQLITE_STATIC: the record outlives the step) with statements prepared once: those of every
 * run when the writer starts, those only a cache or a resumed run uses (lazy_prepare) by the
 * writer when it first needs them, so that a run without them does not pay for compiling them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_internal.h"

enum rec_kind { REC_RUN_START, REC_RUN_END, REC_TASK, REC_UNIT, REC_CACHE, REC_REUSE };

/* Indexes into wf__rec.str for each kind. */
enum {
    S_RUN_ID,
    S_WORKFLOW,
    S_FILE,
    S_FILE_SHA,
    S_INPUTS,
    S_RESUMED_FROM,
    S_OWNER_HOST,
    S_OWNER_START,
    S_FILE_TEXT
};
enum { S_END_RUN_ID, S_OUTPUTS };
enum { S_TASK_RUN_ID, S_TASK_NAME, S_TASK_ERROR, S_TASK_SOURCE, S_TASK_ITEMS_KEY };
enum {
    S_UNIT_RUN_ID,
    S_UNIT_TASK,
    S_UNIT_ERROR,
    S_UNIT_RESULT,
    S_UNIT_RESULT_HASH,
    S_UNIT_STDOUT,
    S_UNIT_STDERR,
    S_UNIT_ITEM,
    S_UNIT_LABEL,
    S_UNIT_FROM
};
enum {
    S_CACHE_KEY,
    S_CACHE_RESULT,
    S_CACHE_RESULT_HASH,
    S_CACHE_STDOUT,
    S_CACHE_STDERR,
    S_CACHE_FILES,
    S_CACHE_FROM
};
enum { S_REUSE_RUN_ID, S_REUSE_TASK, S_REUSE_FROM };
#define REC_NSTR 10

struct wf__rec {
    wf__rec *next;
    uint64_t seq;
    size_t bytes;
    enum rec_kind kind;
    wf_status status;
    int attempt, exit_code;
    bool with_items, cached, reused, ignored;
    int64_t index, started_ms, ended_ms, n_items;
    int64_t owner_pid;         /* REC_RUN_START */
    int64_t lines;             /* REC_UNIT: result_lines, or -1 for none */
    const char *str[REC_NSTR]; /* NULL, or pointing into the block after the struct */
};

/* "" means "none" for hashes; the database says that with NULL. */
static const char *nonempty(const char *h)
{
    return h != NULL && h[0] != '\0' ? h : NULL;
}

static wf__rec *rec_new(enum rec_kind kind, const char *const *strs, size_t n)
{
    size_t lens[REC_NSTR], total = sizeof(wf__rec);
    wf__rec *r;
    char *p;

    for (size_t i = 0; i < n; i++) {
        lens[i] = strs[i] ? strlen(strs[i]) + 1 : 0;
        total += lens[i];
    }
    r = wf_xmalloc(total);
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->bytes = total;
    p = (char *)(r + 1);
    for (size_t i = 0; i < n; i++) {
        if (strs[i] == NULL)
            continue;
        memcpy(p, strs[i], lens[i]);
        r->str[i] = p;
        p += lens[i];
    }
    return r;
}

static void enqueue(wf_store *s, wf__rec *r)
{
    bool wake;

    pthread_mutex_lock(&s->qlock);
    /* Bounded: wait while the writer is behind, unless nothing will ever drain the queue. */
    while ((s->q_recs >= WF__STORE_QUEUE_MAX_RECS || s->q_bytes >= WF__STORE_QUEUE_MAX_BYTES) &&
           !s->stopping && !atomic_load(&s->failed))
        pthread_cond_wait(&s->q_space, &s->qlock);
    if (s->stopping || atomic_load(&s->failed)) {
        pthread_mutex_unlock(&s->qlock);
        free(r);
        return;
    }
    r->seq = ++s->enqueued;
    if (s->tail != NULL)
        s->tail->next = r;
    else
        s->head = r;
    s->tail = r;
    s->q_recs++;
    s->q_bytes += r->bytes;
    wake = s->q_recs == 1 || s->q_recs == WF__STORE_BATCH_MAX;
    pthread_mutex_unlock(&s->qlock);
    /* After the lock is let go, or the writer would wake to block on it (B8). */
    if (wake)
        pthread_cond_signal(&s->q_ready);
}

/* A store opened read-only records nothing: a record is a bug of the caller, reported as a
 * failed store rather than queued for a writer that does not exist. */
static bool refuse_readonly(wf_store *s)
{
    if (!s->readonly)
        return false;
    wf__store_fail(s, NULL, "%s: the store was opened read-only: nothing can be recorded", s->dir);
    return true;
}

void wf_store_record_run_start(wf_store *s, const wf_store_run_rec *rec)
{
    const char *strs[] = { rec->run_id,
                           rec->workflow,
                           rec->file_path,
                           rec->file_sha256,
                           rec->inputs_json,
                           rec->resumed_from,
                           s != NULL ? s->me.host : NULL,
                           s != NULL ? nonempty(s->me.start) : NULL,
                           rec->file_sha256 == NULL ? rec->file_text : NULL };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    /* The lock first: a reader never sees the run without it (owner.c). */
    if (rec->run_id == NULL || wf__store_lock_run(s, rec->run_id) != WF_OK)
        return;
    r = rec_new(REC_RUN_START, strs, WF_ARRAY_LEN(strs));
    r->started_ms = rec->started_ms;
    r->owner_pid = s->me.pid;
    enqueue(s, r);
}

void wf_store_record_task(wf_store *s, const wf_store_task_rec *rec)
{
    const char *strs[] = { rec->run_id, rec->task, rec->error, rec->source, rec->items_key };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    r = rec_new(REC_TASK, strs, WF_ARRAY_LEN(strs));
    r->status = rec->status;
    r->started_ms = rec->started_ms;
    r->ended_ms = rec->ended_ms;
    r->n_items = (int64_t)rec->n_items;
    r->with_items = rec->with_items;
    r->index = (int64_t)rec->position;
    r->ignored = rec->ignored;
    enqueue(s, r);
}

void wf_store_record_unit(wf_store *s, const wf_store_unit_rec *rec)
{
    const char *strs[] = { rec->run_id,
                           rec->task,
                           rec->error,
                           rec->result_json,
                           nonempty(rec->result_hash),
                           nonempty(rec->stdout_hash),
                           nonempty(rec->stderr_hash),
                           nonempty(rec->item_hash),
                           rec->label,
                           rec->result_from };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    r = rec_new(REC_UNIT, strs, WF_ARRAY_LEN(strs));
    r->index = rec->index;
    r->attempt = rec->attempt;
    r->status = rec->status;
    r->started_ms = rec->started_ms;
    r->ended_ms = rec->ended_ms;
    r->exit_code = rec->exit_code;
    r->cached = rec->cached;
    r->reused = rec->reused;
    r->ignored = rec->ignored;
    r->lines = rec->has_lines ? (int64_t)rec->result_lines : -1;
    enqueue(s, r);
}

void wf_store_record_reused(wf_store *s, const char *run_id, const char *task, const char *from_run,
                            int64_t first, int64_t last, int64_t at_ms)
{
    const char *strs[] = { run_id, task, from_run };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    r = rec_new(REC_REUSE, strs, WF_ARRAY_LEN(strs));
    r->index = first;
    r->n_items = last;
    r->started_ms = at_ms;
    enqueue(s, r);
}

void wf_store_record_run_end(wf_store *s, const char *run_id, wf_status status, int64_t ended_ms,
                             const char *outputs_json)
{
    const char *strs[] = { run_id, outputs_json };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    r = rec_new(REC_RUN_END, strs, WF_ARRAY_LEN(strs));
    r->status = status;
    r->ended_ms = ended_ms;
    enqueue(s, r);
}

void wf_store_record_cache(wf_store *s, const char *key, const char *result_json,
                           const char *result_hash, const char *result_from,
                           const char *stdout_hash, const char *stderr_hash, const char *files_json,
                           int64_t result_lines)
{
    const char *strs[] = { key,
                           result_json,
                           nonempty(result_hash),
                           nonempty(stdout_hash),
                           nonempty(stderr_hash),
                           files_json,
                           result_from };
    wf__rec *r;

    if (s == NULL || wf_store_failed(s) || refuse_readonly(s))
        return;
    r = rec_new(REC_CACHE, strs, WF_ARRAY_LEN(strs));
    r->ended_ms = wf_wall_ms();
    r->lines = result_lines;
    enqueue(s, r);
}

/* ---- the writer thread ------------------------------------------------------------------ */

/* The writer's own state, on its stack. */
typedef struct writer {
    wf_store *s;
    char run_id[64]; /* the run whose seq was looked up last: most records belong to it */
    int64_t run_seq;
    wf__ranges ranges; /* the batch's units that become ranges (writer_ranges.c) */
} writer;

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Whether a unit carries nothing a range cannot say (docs/store.md, "Ranges"): a first
 * attempt of an item that succeeded, with no error, label, cache hit, ignored failure or
 * result of its own beyond an inline one (which the range shares with its neighbours), and an
 * item hash to keep a digest of. */
static bool rangeable(const wf__rec *r)
{
    return r->status == WF_STATUS_SUCCEEDED && r->attempt == 1 && r->index >= 0 &&
           r->str[S_UNIT_ERROR] == NULL && r->str[S_UNIT_RESULT_HASH] == NULL &&
           r->str[S_UNIT_FROM] == NULL && r->str[S_UNIT_LABEL] == NULL && !r->cached &&
           !r->ignored && wf__store_valid_hash(r->str[S_UNIT_ITEM]);
}

static void add_range_unit(writer *w, const wf__rec *r, int64_t seq)
{
    wf__range_unit u = { .run_seq = seq,
                         .task = r->str[S_UNIT_TASK] ? r->str[S_UNIT_TASK] : "",
                         .index = r->index,
                         .started_ms = r->started_ms,
                         .ended_ms = r->ended_ms,
                         .exit_code = r->exit_code,
                         .reused = r->reused,
                         .result_json = r->str[S_UNIT_RESULT],
                         .stdout_hash = r->str[S_UNIT_STDOUT],
                         .stderr_hash = r->str[S_UNIT_STDERR] };
    const char *h = r->str[S_UNIT_ITEM];

    for (int i = 0; i < WF_STORE_DIGEST_LEN; i++)
        u.digest[i] = (unsigned char)(hex_digit(h[2 * i]) << 4 | hex_digit(h[2 * i + 1]));
    wf__ranges_add(&w->ranges, &u);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Times of 0 or less mean "not known yet" (a task recorded when it starts). */
static void bind_time(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms > 0)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

static int step_reset(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The seq of run_id; SQLITE_NOTFOUND when no run_start was recorded for it. */
static int run_seq(writer *w, const char *run_id, int64_t *seq)
{
    wf_store *s = w->s;
    int rc;

    if (run_id == NULL)
        return SQLITE_NOTFOUND;
    if (w->run_seq > 0 && strcmp(w->run_id, run_id) == 0) {
        *seq = w->run_seq;
        return SQLITE_OK;
    }
    sqlite3_bind_text(s->st_run_seq, 1, run_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(s->st_run_seq);
    if (rc == SQLITE_ROW) {
        *seq = sqlite3_column_int64(s->st_run_seq, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_NOTFOUND;
    }
    sqlite3_reset(s->st_run_seq);
    if (rc == SQLITE_OK && strlen(run_id) < sizeof(w->run_id)) {
        memcpy(w->run_id, run_id, strlen(run_id) + 1);
        w->run_seq = *seq;
    }
    return rc;
}

/* The seq of an earlier run (a resumed one), looked up without replacing the cached one. */
static int other_run_seq(writer *w, const char *run_id, int64_t *seq)
{
    sqlite3_stmt *st = w->s->st_run_seq;
    int rc;

    if (run_id == NULL)
        return SQLITE_NOTFOUND;
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc == SQLITE_DONE ? SQLITE_NOTFOUND : rc;
}

static int prepare(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err);
static int prepare_statements(wf_store *s, wf_error *err);

static const char cache_sql[] =
    "INSERT OR REPLACE INTO cache (key, result_json, result_hash, stdout_hash, stderr_hash, "
    "created_ms, files_json, result_from, result_lines) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
    "?9)";

/* The statements of one kind of record that few runs write, prepared on the writer thread
 * by its first such record (the schema is current: a failure is as unlikely as a step's,
 * and fails the record the same way, with SQLite's message). SQLITE_OK when ready. */
static int lazy_prepare(wf_store *s, enum rec_kind kind)
{
    wf_error err;
    int rc = WF_OK;

    wf_error_init(&err);
    if (kind == REC_CACHE && s->st_cache == NULL)
        rc = prepare(s, cache_sql, &s->st_cache, &err);
    else if (kind == REC_REUSE && s->st_reuse_ranges == NULL)
        rc = wf__reuse_prepare(s, &err);
    wf_error_release(&err);
    return rc == WF_OK ? SQLITE_OK : SQLITE_ERROR;
}

/* Applies one record inside the open transaction. On failure fills *what for the message. */
static int apply(writer *w, const wf__rec *r, const char **what)
{
    wf_store *s = w->s;
    sqlite3_stmt *st;
    int64_t seq = 0;
    char file_sha[WF_SHA256_HEX_LEN + 1];
    int rc;

    switch (r->kind) {
    case REC_RUN_START:
        *what = "cannot record the start of a run";
        if (r->str[S_RUN_ID] == NULL || strlen(r->str[S_RUN_ID]) >= sizeof(w->run_id))
            return SQLITE_MISUSE;
        st = s->st_run_start;
        bind_text(st, 1, r->str[S_RUN_ID]);
        bind_text(st, 2, r->str[S_WORKFLOW] ? r->str[S_WORKFLOW] : "");
        bind_text(st, 3, r->str[S_FILE] ? r->str[S_FILE] : "");
        if (r->str[S_FILE_TEXT] != NULL) {
            wf_sha256_hex(r->str[S_FILE_TEXT], strlen(r->str[S_FILE_TEXT]), file_sha);
            bind_text(st, 4, file_sha);
        } else {
            bind_text(st, 4, r->str[S_FILE_SHA]);
        }
        bind_text(st, 5, r->str[S_INPUTS]);
        bind_text(st, 6, r->str[S_RESUMED_FROM]);
        bind_time(st, 7, r->started_ms);
        sqlite3_bind_int64(st, 8, r->owner_pid);
        bind_text(st, 9, r->str[S_OWNER_HOST]);
        bind_text(st, 10, r->str[S_OWNER_START]);
        rc = step_reset(st);
        if (rc == SQLITE_OK) {
            memcpy(w->run_id, r->str[S_RUN_ID], strlen(r->str[S_RUN_ID]) + 1);
            w->run_seq = sqlite3_last_insert_rowid(s->wdb);
        }
        return rc;
    case REC_RUN_END:
        *what = "cannot record the end of a run";
        rc = run_seq(w, r->str[S_END_RUN_ID], &seq);
        if (rc != SQLITE_OK)
            return rc;
        st = s->st_run_end;
        sqlite3_bind_int64(st, 1, seq);
        bind_text(st, 2, wf_status_name(r->status));
        bind_time(st, 3, r->ended_ms);
        bind_text(st, 4, r->str[S_OUTPUTS]);
        return step_reset(st);
    case REC_TASK:
        *what = "cannot record a task";
        rc = run_seq(w, r->str[S_TASK_RUN_ID], &seq);
        if (rc != SQLITE_OK)
            return rc;
        st = s->st_task;
        sqlite3_bind_int64(st, 1, seq);
        bind_text(st, 2, r->str[S_TASK_NAME] ? r->str[S_TASK_NAME] : "");
        bind_text(st, 3, wf_status_name(r->status));
        bind_time(st, 4, r->started_ms);
        bind_time(st, 5, r->ended_ms);
        bind_text(st, 6, r->str[S_TASK_ERROR]);
        sqlite3_bind_int(st, 7, r->with_items);
        sqlite3_bind_int64(st, 8, r->n_items);
        sqlite3_bind_int64(st, 9, r->index);
        sqlite3_bind_int(st, 10, r->ignored);
        bind_text(st, 11, r->str[S_TASK_SOURCE]);
        bind_text(st, 12, r->str[S_TASK_ITEMS_KEY]);
        return step_reset(st);
    case REC_UNIT:
        *what = "cannot record a unit";
        rc = run_seq(w, r->str[S_UNIT_RUN_ID], &seq);
        if (rc != SQLITE_OK)
            return rc;
        if (rangeable(r)) {
            add_range_unit(w, r, seq);
            return SQLITE_OK;
        }
        st = s->st_unit;
        sqlite3_bind_int64(st, 1, seq);
        bind_text(st, 2, r->str[S_UNIT_TASK] ? r->str[S_UNIT_TASK] : "");
        sqlite3_bind_int64(st, 3, r->index);
        sqlite3_bind_int(st, 4, r->attempt);
        bind_text(st, 5, wf_status_name(r->status));
        bind_time(st, 6, r->started_ms);
        bind_time(st, 7, r->ended_ms);
        sqlite3_bind_int(st, 8, r->exit_code);
        bind_text(st, 9, r->str[S_UNIT_ERROR]);
        bind_text(st, 10, r->str[S_UNIT_RESULT]);
        bind_text(st, 11, r->str[S_UNIT_RESULT_HASH]);
        bind_text(st, 12, r->str[S_UNIT_STDOUT]);
        bind_text(st, 13, r->str[S_UNIT_STDERR]);
        bind_text(st, 14, r->str[S_UNIT_ITEM]);
        sqlite3_bind_int(st, 15, r->cached);
        sqlite3_bind_int(st, 16, r->reused);
        sqlite3_bind_int(st, 17, r->ignored);
        bind_text(st, 18, r->str[S_UNIT_LABEL]);
        bind_text(st, 19, r->str[S_UNIT_FROM]);
        if (r->lines >= 0)
            sqlite3_bind_int64(st, 20, r->lines);
        else
            sqlite3_bind_null(st, 20);
        return step_reset(st);
    case REC_REUSE: {
        int64_t from = 0;

        *what = "cannot record the units taken from a resumed run";
        rc = lazy_prepare(s, REC_REUSE);
        if (rc == SQLITE_OK)
            rc = run_seq(w, r->str[S_REUSE_RUN_ID], &seq);
        if (rc == SQLITE_OK)
            rc = other_run_seq(w, r->str[S_REUSE_FROM], &from);
        if (rc != SQLITE_OK)
            return rc;
        return wf__reuse_copy(s, seq, r->str[S_REUSE_TASK] ? r->str[S_REUSE_TASK] : "", from,
                              r->index, r->n_items, r->started_ms);
    }
    case REC_CACHE:
        *what = "cannot record a cache entry";
        if (r->str[S_CACHE_KEY] == NULL)
            return SQLITE_MISUSE;
        rc = lazy_prepare(s, REC_CACHE);
        if (rc != SQLITE_OK)
            return rc;
        st = s->st_cache;
        bind_text(st, 1, r->str[S_CACHE_KEY]);
        bind_text(st, 2, r->str[S_CACHE_RESULT]);
        bind_text(st, 3, r->str[S_CACHE_RESULT_HASH]);
        bind_text(st, 4, r->str[S_CACHE_STDOUT]);
        bind_text(st, 5, r->str[S_CACHE_STDERR]);
        sqlite3_bind_int64(st, 6, r->ended_ms);
        bind_text(st, 7, r->str[S_CACHE_FILES]);
        bind_text(st, 8, r->str[S_CACHE_FROM]);
        if (r->lines >= 0)
            sqlite3_bind_int64(st, 9, r->lines);
        else
            sqlite3_bind_null(st, 9);
        return step_reset(st);
    }
    return SQLITE_MISUSE;
}

/* Fails the store with a message for a record that could not be applied. */
static void fail_record(writer *w, const wf__rec *r, int rc, const char *what)
{
    wf_store *s = w->s;
    const char *run_id = r->kind == REC_CACHE ? NULL : r->str[0];
    char mbuf[512];

    if (rc == SQLITE_NOTFOUND)
        wf__store_fail(s, NULL, "%s: %s: run '%s' was never started in this store", s->db_path,
                       what, run_id ? run_id : "(null)");
    else if (rc == SQLITE_MISUSE)
        wf__store_fail(s, NULL, "%s: %s: the record has no id or an id of 64 bytes or more",
                       s->db_path, what);
    else
        wf__store_fail(s, NULL, "%s: %s: %s", s->db_path, what,
                       wf__store_sqlite_msg(s->wdb, mbuf, sizeof(mbuf)));
}

/* Commits list[0..n) in one transaction. On failure the transaction is rolled back whole, so
 * no record of the batch is left half-applied, and the store fails. */
static void commit_batch(writer *w, wf__rec *const *list, size_t n)
{
    wf_store *s = w->s;
    const char *what = "cannot start a transaction";
    char mbuf[512];
    int rc;

    if (atomic_load(&s->failed))
        return;
    rc = step_reset(s->st_begin);
    if (rc != SQLITE_OK) {
        wf__store_fail(s, NULL, "%s: %s: %s", s->db_path, what,
                       wf__store_sqlite_msg(s->wdb, mbuf, sizeof(mbuf)));
        return;
    }
    for (size_t i = 0; i < n; i++) {
        rc = apply(w, list[i], &what);
        if (rc != SQLITE_OK) {
            fail_record(w, list[i], rc, what);
            goto out;
        }
    }
    rc = wf__ranges_commit(s, &w->ranges);
    if (rc != SQLITE_OK) {
        wf__store_fail(s, NULL, "%s: cannot record a range of units: %s", s->db_path,
                       wf__store_sqlite_msg(s->wdb, mbuf, sizeof(mbuf)));
        goto out;
    }
    rc = step_reset(s->st_commit);
    if (rc != SQLITE_OK)
        wf__store_fail(s, NULL, "%s: cannot commit: %s", s->db_path,
                       wf__store_sqlite_msg(s->wdb, mbuf, sizeof(mbuf)));
out:
    if (rc == SQLITE_OK) {
        /* A run whose end is committed lets go of its lock: only now, so that a reader that
         * finds the lock free and reads the run again sees the end (owner.c). */
        for (size_t i = 0; i < n; i++) {
            if (list[i]->kind == REC_RUN_END && list[i]->str[S_END_RUN_ID] != NULL)
                wf__store_unlock_run(s, list[i]->str[S_END_RUN_ID]);
        }
        return;
    }
    w->ranges.n = 0;
    /* After some errors (disk full) SQLite has already rolled back; then this is a no-op. */
    if (!sqlite3_get_autocommit(s->wdb))
        step_reset(s->st_rollback);
    /* The cached seq may name a run whose insert was just rolled back. */
    w->run_seq = 0;
}

/* Group commit: records of units that end a few at a time (processes) would each be a
 * transaction of their own. Wait up to WF__STORE_LINGER_MS for more, unless a flush waits,
 * the store is stopping, a full batch is there or a run starts: its start is committed at
 * once, while its first units run, rather than in the flush that ends a short run (B8). The
 * caller holds qlock. */
static void linger(wf_store *s)
{
    struct timespec until;

    if (s->stopping || s->flush_target > s->committed || s->q_recs >= WF__STORE_BATCH_MAX ||
        s->head->kind == REC_RUN_START)
        return;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += WF__STORE_LINGER_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!s->stopping && s->flush_target <= s->committed && s->q_recs < WF__STORE_BATCH_MAX) {
        if (pthread_cond_timedwait(&s->q_ready, &s->qlock, &until) != 0)
            break;
    }
}

/* Every open of the store reads the whole WAL again (SQLite rebuilds its index when the first
 * connection opens it), and a WAL under WF__STORE_WAL_KEEP is left at close: so without this,
 * each run's start would read up to 1 MiB that earlier runs left (B8: about 5,000
 * instructions and a read a frame, on the run's path). The writer copies those frames into
 * the database as it starts, on its own thread while the first units run; this run's
 * commits then start the WAL over, and the next open reads only them. Passive: a reader that
 * holds an old snapshot makes it stop short, which only leaves more to read next time. A
 * failure changes nothing that was committed and is not an error of the run. */
static void checkpoint_earlier_runs(wf_store *s)
{
    char *wal = wf_xasprintf("%s-wal", s->db_path), *sql;
    struct stat st;

    /* The first commit after the WAL starts over cuts the file to this, so that its size says
     * how much is left to read (SQLite keeps a WAL's file at its largest otherwise). */
    sql = wf_xasprintf("PRAGMA journal_size_limit=%d", WF__STORE_WAL_CHECKPOINT_AT / 2);
    (void)sqlite3_exec(s->wdb, sql, NULL, NULL, NULL);
    free(sql);
    if (stat(wal, &st) == 0 && st.st_size > WF__STORE_WAL_CHECKPOINT_AT && !wf_store_failed(s))
        (void)sqlite3_wal_checkpoint_v2(s->wdb, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    free(wal);
}

static void *writer_main(void *arg)
{
    writer w = { .s = arg, .run_id = "", .run_seq = 0, .ranges = { 0 } };
    wf_store *s = w.s;
    wf__rec **batch = wf_xmalloc(WF__STORE_BATCH_MAX * sizeof(*batch));
    /* This thread's arena is fresh: SQLite's and OpenSSL's first allocations here would each
     * fault a page in (B8). */
    void *fence = wf_heap_prefault(2);
    wf_error err;

    wf_error_init(&err);
    if (prepare_statements(s, &err) != WF_OK)
        wf__store_fail(s, NULL, "%s", err.message);
    wf_error_release(&err);
    checkpoint_earlier_runs(s);
    pthread_mutex_lock(&s->qlock);
    for (;;) {
        wf__rec *list;
        uint64_t last;

        while (s->head == NULL && !s->stopping)
            pthread_cond_wait(&s->q_ready, &s->qlock);
        if (s->head == NULL)
            break;
        linger(s);
        list = s->head;
        last = s->tail->seq;
        s->head = s->tail = NULL;
        s->q_recs = 0;
        s->q_bytes = 0;
        pthread_cond_broadcast(&s->q_space);
        pthread_mutex_unlock(&s->qlock);

        while (list != NULL) {
            size_t n = 0;

            /* A run's start ends its batch: committed on its own, the run is there to
             * --resume even when the disk fills up in the batch of units after it. */
            while (list != NULL && n < WF__STORE_BATCH_MAX) {
                batch[n++] = list;
                list = list->next;
                if (batch[n - 1]->kind == REC_RUN_START)
                    break;
            }
            commit_batch(&w, batch, n);
            for (size_t i = 0; i < n; i++)
                free(batch[i]);
        }

        pthread_mutex_lock(&s->qlock);
        s->committed = last;
        /* Woken with the lock let go, a flush does not block on it at once (B8). */
        pthread_mutex_unlock(&s->qlock);
        pthread_cond_broadcast(&s->q_done);
        pthread_mutex_lock(&s->qlock);
    }
    pthread_mutex_unlock(&s->qlock);
    wf__ranges_release(&w.ranges);
    free(batch);
    free(fence);
    return NULL;
}

static int prepare(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err)
{
    if (sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->wdb, err, "cannot prepare a statement");
    return WF_OK;
}

/* The statements every run uses. Prepared on the writer thread as it starts, while the run's
 * first units start (B8): wf_store_open checked the schema's version, so a failure here (a
 * store damaged by hand) is as unlikely as a step's and fails the store the same way, with
 * SQLite's message. The first of them reads the schema. */
static int prepare_statements(wf_store *s, wf_error *err)
{
    /* open_db leaves the write connection's pragmas to this thread: they read the schema. */
    if (sqlite3_exec(s->wdb, WF__STORE_PRAGMAS, NULL, NULL, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->wdb, err, "cannot configure");
    if (prepare(s, "BEGIN IMMEDIATE", &s->st_begin, err) != WF_OK ||
        prepare(s, "COMMIT", &s->st_commit, err) != WF_OK ||
        prepare(s, "ROLLBACK", &s->st_rollback, err) != WF_OK ||
        prepare(s, "SELECT seq FROM runs WHERE run_id = ?1", &s->st_run_seq, err) != WF_OK ||
        prepare(s,
                "INSERT INTO runs (run_id, workflow, file_path, file_sha256, inputs_json, "
                "resumed_from, status, started_ms, owner_pid, owner_host, owner_start) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?8, ?9, ?10)",
                &s->st_run_start, err) != WF_OK ||
        prepare(s, "UPDATE runs SET status = ?2, ended_ms = ?3, outputs_json = ?4 WHERE seq = ?1",
                &s->st_run_end, err) != WF_OK ||
        /* An upsert, not a replace: the task keeps its first seq, which orders `show`. */
        prepare(s,
                "INSERT INTO tasks (run_seq, name, status, started_ms, ended_ms, error, "
                "with_items, n_items, position, ignored, source, items_key) VALUES (?1, ?2, ?3, "
                "?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (run_seq, name) DO UPDATE SET "
                "status = excluded.status, ignored = excluded.ignored, source = excluded.source, "
                "items_key = coalesce(excluded.items_key, items_key), "
                "started_ms = coalesce(excluded.started_ms, started_ms), "
                "ended_ms = excluded.ended_ms, error = excluded.error, "
                "with_items = excluded.with_items, n_items = excluded.n_items",
                &s->st_task, err) != WF_OK ||
        prepare(
            s,
            "INSERT OR REPLACE INTO units (run_seq, task, idx, attempt, status, started_ms, "
            "ended_ms, exit_code, error, result_json, result_hash, stdout_hash, stderr_hash, "
            "item_hash, cached, reused, ignored, label, result_from, result_lines) VALUES (?1, ?2, "
            "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            &s->st_unit, err) != WF_OK ||
        wf__ranges_prepare(s, err) != WF_OK)
        return WF_ESTORE;
    return WF_OK;
}

int wf__store_writer_start(wf_store *s, wf_error *err)
{
    int rc = pthread_create(&s->thread, NULL, writer_main, s);

    if (rc != 0) {
        char ebuf[128];

        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot start the writer thread: %s", s->dir,
                     wf__store_strerror(rc, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    s->thread_started = true;
    return WF_OK;
}

void wf__store_writer_stop(wf_store *s)
{
    if (!s->thread_started)
        return;
    pthread_mutex_lock(&s->qlock);
    s->stopping = true;
    pthread_cond_signal(&s->q_ready);
    pthread_cond_broadcast(&s->q_space);
    pthread_mutex_unlock(&s->qlock);
    pthread_join(s->thread, NULL);
    s->thread_started = false;
}

void wf__store_writer_release(wf_store *s)
{
    while (s->head != NULL) {
        wf__rec *next = s->head->next;

        free(s->head);
        s->head = next;
    }
    s->tail = NULL;
    sqlite3_finalize(s->st_begin);
    sqlite3_finalize(s->st_commit);
    sqlite3_finalize(s->st_rollback);
    sqlite3_finalize(s->st_run_seq);
    sqlite3_finalize(s->st_run_start);
    sqlite3_finalize(s->st_run_end);
    sqlite3_finalize(s->st_task);
    sqlite3_finalize(s->st_unit);
    sqlite3_finalize(s->st_cache);
    wf__ranges_finalize(s);
    wf__reuse_finalize(s);
    s->st_begin = s->st_commit = s->st_rollback = s->st_run_seq = s->st_run_start = NULL;
    s->st_run_end = s->st_task = s->st_unit = s->st_cache = NULL;
}
