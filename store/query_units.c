/*
 * query_units.c: the read side for single units, on the read connection under rlock: one
 * unit's output (its logs and result, with what else could have been asked for when it is
 * missing), the succeeded units a resume reuses, and cache lookups. Each function reads in
 * one transaction (wf__store_run_begin, in query.c) so that what it returns is one
 * consistent snapshot even while the writer commits; blobs are read after it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

/* Says what a unit_output request could have asked for instead. Inside a read transaction. */
static int explain_missing(wf_store *s, int64_t seq, const char *run_id, const char *task,
                           int64_t index, int attempt, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0, lo = 0, hi = 0;
    /* Each aggregate is its own subquery, so that min() and max() are index seeks. */
    int rc = wf__store_prep(
        s,
        s->schema_version >= 8
            ? "SELECT EXISTS (SELECT 1 FROM units WHERE run_seq = ?1 AND task = ?2) OR "
              "EXISTS (SELECT 1 FROM unit_ranges WHERE run_seq = ?1 AND task = ?2), "
              "min(coalesce((SELECT min(idx) FROM units WHERE run_seq = ?1 AND task = ?2), "
              "4611686018427387904), coalesce((SELECT min(first_idx) FROM unit_ranges WHERE "
              "run_seq = ?1 AND task = ?2), 4611686018427387904)), "
              "max(coalesce((SELECT max(idx) FROM units WHERE run_seq = ?1 AND task = ?2), -1), "
              "coalesce((SELECT max(last_idx) FROM unit_ranges WHERE run_seq = ?1 AND "
              "task = ?2), -1)), "
              "(SELECT group_concat(name, ', ') FROM (SELECT name FROM tasks "
              "WHERE run_seq = ?1 ORDER BY seq)), "
              "coalesce((SELECT max(attempt) FROM units WHERE run_seq = ?1 AND task = ?2 AND "
              "idx = ?3), 1), "
              "(SELECT count(*) FROM units WHERE run_seq = ?1 AND task = ?2 AND idx = ?3) + "
              "(SELECT count(*) FROM unit_ranges WHERE run_seq = ?1 AND task = ?2 AND "
              "first_idx = (SELECT max(first_idx) FROM unit_ranges WHERE run_seq = ?1 AND "
              "task = ?2 AND first_idx <= ?3) AND last_idx >= ?3)"
            : "SELECT count(*), min(idx), max(idx), "
              "(SELECT group_concat(name, ', ') FROM (SELECT name FROM tasks "
              "WHERE run_seq = ?1 ORDER BY seq)), "
              "(SELECT max(attempt) FROM units WHERE run_seq = ?1 AND task = ?2 AND "
              "idx = ?3), "
              "(SELECT count(*) FROM units WHERE run_seq = ?1 AND task = ?2 AND idx = ?3) "
              "FROM units WHERE run_seq = ?1 AND task = ?2",
        &st, err);

    if (rc != WF_OK)
        goto out;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, index);
    if (wf__store_step(s, st, err) != SQLITE_ROW) {
        rc = WF_ESTORE;
        goto out;
    }
    n = sqlite3_column_int64(st, 0);
    lo = sqlite3_column_int64(st, 1);
    hi = sqlite3_column_int64(st, 2);
    rc = WF_ENOENT;
    if (n == 0) {
        const char *names = wf__store_col_text(st, 3);

        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "run %s has no task '%s' that ran (%s%s)", run_id,
                     task, names ? "its tasks: " : "it has no tasks", names ? names : "");
    } else if (sqlite3_column_int64(st, 5) == 0) {
        if (lo < 0 && hi < 0)
            wf_error_set(err, WF_ENOENT, NULL, 0, 0,
                         "task '%s' of run %s has no items (it ran once, as index -1)", task,
                         run_id);
        else if (index < 0) /* `logs RUN TASK` of a with-items task: which item? */
            wf_error_set(err, WF_ENOENT, NULL, 0, 0,
                         "task '%s' of run %s has items %lld to %lld: name one, like "
                         "'%s[%lld]' (an index or a label)",
                         task, run_id, (long long)(lo < 0 ? 0 : lo), (long long)hi, task,
                         (long long)(lo < 0 ? 0 : lo));
        else
            wf_error_set(err, WF_ENOENT, NULL, 0, 0,
                         "task '%s' of run %s has no item %lld (its items are %lld to %lld)", task,
                         run_id, (long long)index, (long long)(lo < 0 ? 0 : lo), (long long)hi);
    } else {
        wf_error_set(err, WF_ENOENT, NULL, 0, 0,
                     "%s %lld of task '%s' of run %s has no attempt %d (attempts 1 to %lld)",
                     index < 0 ? "the unit" : "item", (long long)index, task, run_id, attempt,
                     (long long)sqlite3_column_int64(st, 4));
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int wf_store_label_index(wf_store *s, const char *run_id, const char *task, const char *label,
                         int64_t *index, wf_error *err)
{
    sqlite3_stmt *st;
    int64_t seq = 0;
    int rc = wf__store_run_begin(s, run_id,
                                 "SELECT min(idx) FROM units WHERE run_seq = ?1 AND task = ?2 AND "
                                 "label = ?3 HAVING count(*) > 0",
                                 &seq, &st, err);

    if (rc != WF_OK)
        return rc;
    sqlite3_bind_text(st, 2, task ? task : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, label ? label : "", -1, SQLITE_STATIC);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        *index = sqlite3_column_int64(st, 0);
        break;
    case SQLITE_DONE:
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "task '%s' of run %s has no item labelled '%s'",
                     task ? task : "", run_id, label ? label : "");
        rc = WF_ENOENT;
        break;
    default:
        rc = WF_ESTORE;
    }
    wf__store_run_end(s, st);
    return rc;
}

int wf_store_unit_output(wf_store *s, const char *run_id, const char *task, int64_t index,
                         int attempt, bool want_stderr, char **data, size_t *len, wf_error *err)
{
    sqlite3_stmt *st;
    char *hash = NULL;
    int64_t seq = 0;
    int rc;

    *data = NULL;
    *len = 0;
    /* A unit of a range (attempt 1) is found by one seek: the range that starts at or
     * before the index. */
    rc = wf__store_run_begin(
        s, run_id,
        s->schema_version >= 8
            ? "SELECT stdout_hash, stderr_hash, attempt FROM units WHERE run_seq = ?1 AND "
              "task = ?2 AND idx = ?3 AND (?4 = 0 OR attempt = ?4) UNION ALL "
              "SELECT stdout_hash, stderr_hash, 1 FROM unit_ranges INDEXED BY unit_ranges_first "
              "WHERE run_seq = ?1 AND "
              "task = ?2 AND first_idx = (SELECT max(first_idx) FROM unit_ranges WHERE "
              "run_seq = ?1 AND task = ?2 AND first_idx <= ?3) AND last_idx >= ?3 AND "
              "?4 IN (0, 1) ORDER BY 3 DESC LIMIT 1"
            : "SELECT stdout_hash, stderr_hash FROM units WHERE run_seq = ?1 AND task = ?2 AND "
              "idx = ?3 AND (?4 = 0 OR attempt = ?4) ORDER BY attempt DESC LIMIT 1",
        &seq, &st, err);
    if (rc != WF_OK)
        return rc;
    sqlite3_bind_text(st, 2, task ? task : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, index);
    sqlite3_bind_int(st, 4, attempt);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        if (wf__store_col_text(st, want_stderr ? 1 : 0) != NULL)
            hash = wf_xstrdup(wf__store_col_text(st, want_stderr ? 1 : 0));
        break;
    case SQLITE_DONE:
        rc = explain_missing(s, seq, run_id, task ? task : "", index, attempt, err);
        break;
    default:
        rc = WF_ESTORE;
    }
    wf__store_run_end(s, st);
    if (rc == WF_OK && hash == NULL) {
        *data = wf_xstrdup("");
    } else if (rc == WF_OK) {
        /* A row that names a blob that is gone is a damaged store, not "no output". */
        rc = wf_store_get_blob(s, hash, data, len, err);
        if (rc == WF_ENOENT) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                         "%s/%.2s/%s: missing, but run %s refers to it (the store is damaged)",
                         s->blobs_dir, hash, hash, run_id);
            rc = WF_ESTORE;
        }
    }
    free(hash);
    return rc;
}

static char *dup_or_null(const char *s)
{
    return s ? wf_xstrdup(s) : NULL;
}

static int hex_digit(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
/* The lines of the file at path (a last line without \n counts), read once in 64 KiB
 * pieces: WF_OK, or WF_ENOENT when it cannot be read. */
static int count_lines(const char *path, uint64_t *lines)
{
    char buf[65536], last = '\n';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n;

    *lines = 0;
    if (fd < 0)
        return WF_ENOENT;
    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        *lines += wf_count_newlines(buf, (size_t)n);
        last = buf[n - 1];
    }
    close(fd);
    if (n < 0)
        return WF_ENOENT;
    if (last != '\n')
        ++*lines;
    return WF_OK;
}

/* The succeeded units of one task, in runs (wf_store_succeeded_each). Inside the read
 * transaction. */
static int task_succeeded(wf_store *s, int64_t seq, const char *run_id, const char *task,
                          int64_t from, unsigned flags, wf_store_reused_fn fn, void *ctx,
                          wf_error *err)
{
    wf__unit_cursor c;
    wf__unit_view u;
    int rc = wf__unit_cursor_open(s, &c, seq, task, from, "succeeded",
                                  (flags & WF_STORE_NO_DIGESTS) == 0, err);

    if (rc != WF_OK)
        return rc;
    while ((rc = wf__unit_cursor_next(&c, &u, err)) == WF_OK) {
        wf_store_reused r = { .task = task,
                              .first = u.index,
                              .last = u.index,
                              .stdout_hash = u.stdout_hash ? u.stdout_hash : "",
                              .stderr_hash = u.stderr_hash ? u.stderr_hash : "",
                              .exit_code = u.exit_code,
                              .result_hash = u.result_hash ? u.result_hash : "",
                              .result_from = u.result_from };
        unsigned char digest[WF_STORE_DIGEST_LEN];
        const char *blob =
            u.result_from != NULL && (u.result_hash == NULL || u.result_hash[0] == '\0')
                ? u.stdout_hash
                : u.result_hash;

        if (u.in_range) {
            r.last = u.range_last;
            r.digests = u.digest;
            wf__unit_cursor_skip_range(&c);
        } else if (!c.no_digests && wf__store_valid_hash(u.item_hash)) {
            for (int i = 0; i < WF_STORE_DIGEST_LEN; i++)
                digest[i] = (unsigned char)(hex_digit(u.item_hash[2 * i]) << 4 |
                                            hex_digit(u.item_hash[2 * i + 1]));
            r.digests = digest;
        }
        if ((flags & WF_STORE_RESULTS_UNREAD) && u.result_json == NULL && blob != NULL &&
            blob[0] != '\0') {
            /* Only its size: the engine makes a reference to the blob. */
            char *path = wf_store_blob_path(s, blob);
            struct stat st;

            rc = stat(path, &st) == 0 ? WF_OK : WF_ENOENT;
            r.result_unread = rc == WF_OK;
            r.result_size = rc == WF_OK ? (uint64_t)st.st_size : 0;
            r.result_lines = WF_STORE_NOT_A_LIST;
            /* Recorded when the unit ended (schema 11), else counted now. */
            if (rc == WF_OK && u.result_from != NULL && strcmp(u.result_from, "lines") == 0) {
                if (u.result_lines >= 0)
                    r.result_lines = (uint64_t)u.result_lines;
                else
                    rc = count_lines(path, &r.result_lines);
            } else if (u.result_from != NULL && strcmp(u.result_from, "json") == 0 &&
                       u.result_lines >= 0) {
                r.result_lines = (uint64_t)u.result_lines;
            }
            free(path);
        } else {
            rc = wf__store_load_result(s, u.result_json, u.result_hash, u.result_from,
                                       u.stdout_hash, &r.result, err);
        }
        if (rc == WF_ENOENT) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                         "%s/%.2s/%s: missing, but a result of run %s refers to it (the store "
                         "is damaged)",
                         s->blobs_dir, blob ? blob : "", blob ? blob : "", run_id);
            rc = WF_ESTORE;
        }
        if (rc == WF_OK)
            rc = fn(&r, ctx);
        json_object_put(r.result);
        if (rc != WF_OK)
            break;
    }
    wf__unit_cursor_close(&c);
    return rc == WF_ENOENT ? WF_OK : rc;
}

int wf_store_succeeded_each(wf_store *s, const char *run_id, const char *task, unsigned flags,
                            wf_store_reused_fn fn, void *ctx, wf_error *err)
{
    sqlite3_stmt *st;
    int64_t seq = 0;
    /* Without a task: the tasks that have units (a plain task's unit may be recorded before
     * its task). */
    int rc = wf__store_run_begin(
        s, run_id,
        task != NULL ? NULL
        : s->schema_version >= 8
            ? "SELECT DISTINCT task FROM unit_counts WHERE run_seq = ?1 AND "
              "status = 'succeeded' AND n > 0 ORDER BY task"
            : "SELECT DISTINCT task FROM units WHERE run_seq = ?1 ORDER BY task",
        &seq, &st, err);

    if (rc != WF_OK)
        return rc;
    if (task != NULL)
        rc = task_succeeded(s, seq, run_id, task, INT64_MIN, flags, fn, ctx, err);
    while (st != NULL) {
        int r = wf__store_step(s, st, err);
        char *name;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            break;
        }
        name = dup_or_null(wf__store_col_text(st, 0));
        rc = task_succeeded(s, seq, run_id, name ? name : "", INT64_MIN, flags, fn, ctx, err);
        free(name);
        if (rc != WF_OK)
            break;
    }
    wf__store_run_end(s, st);
    return rc;
}

int wf_store_succeeded_from(wf_store *s, const char *run_id, const char *task, int64_t from,
                            unsigned flags, wf_store_reused_fn fn, void *ctx, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t seq = 0;
    int rc = wf__store_run_begin(s, run_id, NULL, &seq, &st, err);

    if (rc != WF_OK)
        return rc;
    rc = task_succeeded(s, seq, run_id, task, from, flags, fn, ctx, err);
    wf__store_run_end(s, st);
    return rc;
}

int wf_store_task_items_key(wf_store *s, const char *run_id, const char *task, char **key,
                            wf_error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t seq = 0;
    int rc = wf__store_read_begin(s, err);

    *key = NULL;
    if (rc != WF_OK)
        return rc;
    rc = wf__store_find_run(s, run_id, &seq, err);
    if (rc == WF_OK && s->schema_version >= 11) {
        rc = wf__store_prep(s, "SELECT items_key FROM tasks WHERE run_seq = ?1 AND name = ?2", &st,
                            err);
        if (rc == WF_OK) {
            int r;

            sqlite3_bind_int64(st, 1, seq);
            sqlite3_bind_text(st, 2, task, -1, SQLITE_STATIC);
            r = wf__store_step(s, st, err);
            if (r == SQLITE_ROW)
                *key = dup_or_null(wf__store_col_text(st, 0));
            else if (r != SQLITE_DONE)
                rc = WF_ESTORE;
        }
    }
    sqlite3_finalize(st);
    wf__store_read_end(s);
    return rc;
}

/* The blob a result recorded as (hash, from) is in, unread, into *ref: WF_OK (ref->unread
 * false when the result is in no blob), or WF_ENOENT when the blob is gone. */
static int result_ref(wf_store *s, const char *hash, const char *from, const char *stdout_hash,
                      int64_t lines, wf_store_result_ref *ref, wf_error *err)
{
    wf_output_mode mode = WF_OUTPUT_JSON;
    const char *blob = hash;
    char *path;
    struct stat st;
    int rc = WF_OK;

    if (from != NULL) {
        if (!wf_output_mode_parse(from, &mode))
            return WF_OK; /* wf__store_load_result says what is wrong */
        if (blob == NULL || blob[0] == '\0')
            blob = stdout_hash;
    }
    if (!wf__store_valid_hash(blob))
        return WF_OK;
    path = wf_store_blob_path(s, blob);
    if (stat(path, &st) != 0) {
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "%s: missing", path);
        rc = WF_ENOENT;
    } else {
        memcpy(ref->hash, blob, WF_SHA256_HEX_LEN + 1);
        ref->mode = wf_output_mode_name(mode);
        ref->size = (uint64_t)st.st_size;
        ref->lines = 0;
        ref->converted = from != NULL;
        if (mode == WF_OUTPUT_LINES && lines >= 0)
            ref->lines = (uint64_t)lines;
        else if (mode == WF_OUTPUT_LINES)
            rc = count_lines(path, &ref->lines);
        else if (mode == WF_OUTPUT_JSON)
            ref->lines = from != NULL && lines >= 0 ? (uint64_t)lines : WF_STORE_NOT_A_LIST;
        ref->unread = rc == WF_OK;
    }
    free(path);
    return rc;
}

int wf_store_cache_get(wf_store *s, const char *key, json_object **result,
                       char stdout_hash[WF_SHA256_HEX_LEN + 1],
                       char stderr_hash[WF_SHA256_HEX_LEN + 1], char **files_json,
                       wf_store_result_ref *ref, wf_error *err)
{
    sqlite3_stmt *st;
    char *result_json = NULL, *result_hash = NULL, *files = NULL, *from = NULL;
    const char *h;
    int64_t lines = -1;
    int rc = WF_OK;

    *result = NULL;
    if (files_json != NULL)
        *files_json = NULL;
    stdout_hash[0] = '\0';
    stderr_hash[0] = '\0';
    pthread_mutex_lock(&s->rlock);
    rc = wf__store_read_conn(s, err);
    if (rc != WF_OK) {
        pthread_mutex_unlock(&s->rlock);
        return rc;
    }
    st = s->st_cache_get;
    sqlite3_bind_text(st, 1, key ? key : "", -1, SQLITE_STATIC);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        result_json = dup_or_null(wf__store_col_text(st, 0));
        result_hash = dup_or_null(wf__store_col_text(st, 1));
        h = wf__store_col_text(st, 2);
        if (wf__store_valid_hash(h))
            memcpy(stdout_hash, h, WF_SHA256_HEX_LEN + 1);
        h = wf__store_col_text(st, 3);
        if (wf__store_valid_hash(h))
            memcpy(stderr_hash, h, WF_SHA256_HEX_LEN + 1);
        files = dup_or_null(wf__store_col_text(st, 4));
        from = dup_or_null(wf__store_col_text(st, 5));
        if (sqlite3_column_type(st, 6) != SQLITE_NULL)
            lines = sqlite3_column_int64(st, 6);
        break;
    case SQLITE_DONE:
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no cache entry for key %s", key ? key : "");
        rc = WF_ENOENT;
        break;
    default:
        rc = WF_ESTORE;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    pthread_mutex_unlock(&s->rlock);
    /* A result blob that is gone makes the entry a miss: the unit simply runs again. */
    if (ref != NULL)
        ref->unread = false;
    if (rc == WF_OK && ref != NULL && result_json == NULL)
        rc = result_ref(s, result_hash, from, stdout_hash, lines, ref, err);
    if (rc == WF_OK && (ref == NULL || !ref->unread))
        rc = wf__store_load_result(s, result_json, result_hash, from, stdout_hash, result, err);
    if (rc != WF_OK) {
        stdout_hash[0] = '\0';
        stderr_hash[0] = '\0';
    } else if (files_json != NULL) {
        *files_json = files;
        files = NULL;
    }
    free(files);
    free(result_hash);
    free(result_json);
    free(from);
    return rc;
}
