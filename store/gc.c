/*
 * gc: deletes old runs, then every blob nothing refers to.
 *
 * Blobs are written before the record that refers to them is committed, so another process
 * running a workflow on this store may hold blobs that look unreferenced for a moment. Every
 * open store holds a shared flock on <dir>/lock; gc takes it exclusively (without waiting) for
 * the whole collection, so it never sweeps under a running wfengine.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* The referenced hashes, sorted, for bsearch while walking blobs/. */
typedef struct hash_set {
    char (*h)[WF_SHA256_HEX_LEN + 1];
    size_t n, cap;
} hash_set;

static int cmp_hash(const void *a, const void *b)
{
    return memcmp(a, b, WF_SHA256_HEX_LEN);
}

static bool set_has(const hash_set *set, const char *h)
{
    return set->n > 0 && bsearch(h, set->h, set->n, sizeof(*set->h), cmp_hash) != NULL;
}

/* Loads every hash a remaining row refers to. UNION makes them distinct in SQLite. */
static int load_referenced(wf_store *s, hash_set *set, wf_error *err)
{
    static const char sql[] = "SELECT result_hash FROM units WHERE result_hash IS NOT NULL "
                              "UNION SELECT stdout_hash FROM units WHERE stdout_hash IS NOT NULL "
                              "UNION SELECT stderr_hash FROM units WHERE stderr_hash IS NOT NULL "
                              "UNION SELECT item_hash FROM units WHERE item_hash IS NOT NULL "
                              "UNION SELECT stdout_hash FROM unit_ranges "
                              "WHERE stdout_hash IS NOT NULL "
                              "UNION SELECT stderr_hash FROM unit_ranges "
                              "WHERE stderr_hash IS NOT NULL "
                              "UNION SELECT file_sha256 FROM runs WHERE file_sha256 IS NOT NULL "
                              "UNION SELECT result_hash FROM cache WHERE result_hash IS NOT NULL "
                              "UNION SELECT stdout_hash FROM cache WHERE stdout_hash IS NOT NULL "
                              "UNION SELECT stderr_hash FROM cache WHERE stderr_hash IS NOT NULL "
                              "UNION SELECT json_extract(f.value, '$.hash') FROM cache, "
                              "json_each(cache.files_json) AS f WHERE cache.files_json IS NOT NULL";
    sqlite3_stmt *st = NULL;
    int rc = WF_OK;

    if (sqlite3_prepare_v2(s->rdb, sql, -1, &st, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->rdb, err, "cannot list the blobs in use");
    for (;;) {
        int r = sqlite3_step(st);
        const char *h;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = wf__store_db_error(s, s->rdb, err, "cannot list the blobs in use");
            break;
        }
        h = (const char *)sqlite3_column_text(st, 0);
        if (!wf__store_valid_hash(h))
            continue;
        if (set->n == set->cap) {
            set->cap = set->cap ? set->cap * 2 : 1024;
            set->h = wf_xrealloc(set->h, set->cap * sizeof(*set->h));
        }
        memcpy(set->h[set->n++], h, WF_SHA256_HEX_LEN + 1);
    }
    sqlite3_finalize(st);
    if (set->n > 0)
        qsort(set->h, set->n, sizeof(*set->h), cmp_hash);
    return rc;
}

/* delete_runs's SQL cuts item_digests at 8 bytes a unit. */
_Static_assert(WF_STORE_DIGEST_LEN == 8, "gc.c's SQL says 8");

/* Deletes the runs older than the newest keep, with their tasks and units, in one
 * transaction. */
static int delete_runs(wf_store *s, int keep, int64_t *deleted, wf_error *err)
{
    static const char *const sql[] = {
        /* A kept range row that names a deleted run's row for its digests takes a copy. */
        "UPDATE unit_ranges SET item_digests = coalesce((SELECT substr(o.item_digests, "
        "(unit_ranges.first_idx - o.first_idx) * 8 + 1, (unit_ranges.last_idx - "
        "unit_ranges.first_idx + 1) * 8) FROM unit_ranges o WHERE o.run_seq = "
        "unit_ranges.digests_run AND o.task = unit_ranges.task AND o.first_idx = "
        "unit_ranges.digests_first), x''), digests_run = NULL, digests_first = NULL WHERE "
        "digests_run IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT -1 OFFSET ?1) AND "
        "run_seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT ?1)",
        "DELETE FROM units WHERE run_seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT -1 "
        "OFFSET ?1)",
        "DELETE FROM unit_ranges WHERE run_seq IN (SELECT seq FROM runs ORDER BY seq DESC "
        "LIMIT -1 OFFSET ?1)",
        "DELETE FROM unit_counts WHERE run_seq IN (SELECT seq FROM runs ORDER BY seq DESC "
        "LIMIT -1 OFFSET ?1)",
        "DELETE FROM tasks WHERE run_seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT -1 "
        "OFFSET ?1)",
        "DELETE FROM runs WHERE seq IN (SELECT seq FROM runs ORDER BY seq DESC LIMIT -1 "
        "OFFSET ?1)",
    };
    sqlite3_stmt *st = NULL;
    int rc = WF_ESTORE;
    bool in_tx = false;

    if (sqlite3_exec(s->rdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        wf__store_db_error(s, s->rdb, err, "cannot delete old runs");
        goto out;
    }
    in_tx = true;
    for (size_t i = 0; i < WF_ARRAY_LEN(sql); i++) {
        if (sqlite3_prepare_v2(s->rdb, sql[i], -1, &st, NULL) != SQLITE_OK) {
            wf__store_db_error(s, s->rdb, err, "cannot delete old runs");
            goto out;
        }
        sqlite3_bind_int(st, 1, keep);
        if (sqlite3_step(st) != SQLITE_DONE) {
            wf__store_db_error(s, s->rdb, err, "cannot delete old runs");
            goto out;
        }
        /* The last statement deletes the runs themselves. */
        *deleted = sqlite3_changes(s->rdb);
        sqlite3_finalize(st);
        st = NULL;
    }
    if (sqlite3_exec(s->rdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        wf__store_db_error(s, s->rdb, err, "cannot delete old runs");
        goto out;
    }
    in_tx = false;
    rc = WF_OK;
out:
    sqlite3_finalize(st);
    if (in_tx)
        sqlite3_exec(s->rdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool is_shard_name(const char *name)
{
    return is_hex(name[0]) && is_hex(name[1]) && name[2] == '\0';
}

/* Sweeps one shard directory. Names that are neither blobs nor our temporary files are left
 * alone: they are not ours to delete. */
static int sweep_shard(const char *shard, const hash_set *refs, wf_store_gc_stats *stats,
                       wf_error *err)
{
    DIR *d = opendir(shard);
    char ebuf[128];
    char *path = NULL;
    int rc = WF_OK;

    if (d == NULL) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot list: %s", shard,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    for (;;) {
        struct dirent *e;
        struct stat st;
        bool tmp;

        errno = 0;
        e = readdir(d);
        if (e == NULL)
            break;
        tmp = strncmp(e->d_name, ".tmp-", 5) == 0;
        if (!tmp && !wf__store_valid_hash(e->d_name))
            continue;
        free(path);
        path = wf_xasprintf("%s/%s", shard, e->d_name);
        if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        if (!tmp && set_has(refs, e->d_name)) {
            stats->blobs_kept++;
            continue;
        }
        if (unlink(path) != 0 && errno != ENOENT) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot delete: %s", path,
                         wf__store_strerror(errno, ebuf, sizeof(ebuf)));
            rc = WF_ESTORE;
            goto out;
        }
        stats->bytes_freed += st.st_size;
        if (!tmp)
            stats->blobs_deleted++;
    }
    if (errno != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot list: %s", shard,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        rc = WF_ESTORE;
    }
out:
    free(path);
    closedir(d);
    return rc;
}

static int sweep(wf_store *s, const hash_set *refs, wf_store_gc_stats *stats, wf_error *err)
{
    DIR *d = opendir(s->blobs_dir);
    char ebuf[128];
    char *shard = NULL;
    int rc = WF_OK;

    if (d == NULL) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot list: %s", s->blobs_dir,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    for (;;) {
        struct dirent *e;
        struct stat st;

        errno = 0;
        e = readdir(d);
        if (e == NULL)
            break;
        if (!is_shard_name(e->d_name))
            continue;
        free(shard);
        shard = wf_xasprintf("%s/%s", s->blobs_dir, e->d_name);
        if (lstat(shard, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        /* Shard directories stay even when empty: removing one could race with a writer
         * about to create a blob in it. */
        rc = sweep_shard(shard, refs, stats, err);
        if (rc != WF_OK)
            goto out;
    }
    if (errno != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot list: %s", s->blobs_dir,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        rc = WF_ESTORE;
    }
out:
    free(shard);
    closedir(d);
    return rc;
}

/* Removes the lock files of runs that no process holds: with the exclusive lock on the store
 * no other process has it open, so each is left by an interrupted run (or by one of this
 * process's own runs, whose lock this process still holds and which is therefore kept).
 * Those runs stay "interrupted": without a lock file, the recorded pid decides (owner.c). */
static void sweep_locks(wf_store *s)
{
    DIR *d = opendir(s->locks_dir);
    struct dirent *e;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        char *path;
        int fd;

        if (n < 6 || strcmp(e->d_name + n - 5, ".lock") != 0)
            continue;
        path = wf_xasprintf("%s/%s", s->locks_dir, e->d_name);
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
            unlink(path);
        if (fd >= 0)
            close(fd);
        free(path);
    }
    closedir(d);
}

int wf_store_gc(wf_store *s, int keep_runs, wf_store_gc_stats *stats, wf_error *err)
{
    hash_set refs = { NULL, 0, 0 };
    char ebuf[128];
    bool locked = false;
    int rc;

    memset(stats, 0, sizeof(*stats));
    if (keep_runs < 0) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "--keep-runs must be 0 or more, not %d",
                     keep_runs);
        return WF_EINVAL;
    }
    if (s->readonly) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: the store was opened read-only: gc cannot delete anything", s->dir);
        return WF_ESTORE;
    }
    rc = wf_store_flush(s, err);
    if (rc != WF_OK)
        return rc;
    /* Upgrading our shared lock fails while any other process has the store open. */
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;

        /* Linux drops the shared lock before trying the exclusive one: take it back. */
        while (flock(s->lock_fd, LOCK_SH) != 0 && errno == EINTR)
            continue;
        errno = e;
        if (errno == EWOULDBLOCK)
            wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                         "%s: another wfengine is using this store; run gc when it has "
                         "finished",
                         s->dir);
        else
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot lock: %s", s->lock_path,
                         wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    locked = true;
    pthread_mutex_lock(&s->rlock);
    rc = wf__store_read_conn(s, err);
    if (rc == WF_OK)
        rc = delete_runs(s, keep_runs, &stats->runs_deleted, err);
    if (rc == WF_OK)
        rc = load_referenced(s, &refs, err);
    pthread_mutex_unlock(&s->rlock);
    if (rc != WF_OK)
        goto out;
    rc = sweep(s, &refs, stats, err);
    if (rc == WF_OK)
        sweep_locks(s);
out:
    /* Back to shared: the store stays open. */
    if (locked)
        flock(s->lock_fd, LOCK_SH);
    free(refs.h);
    return rc;
}
