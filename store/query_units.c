/*
 * query_units.c: the read side for single units, on the read connection under rlock: one
 * unit's output (its logs and result, with what else could have been asked for when it is
 * missing), the succeeded units a resume reuses, and cache lookups. Each function reads in
 * one transaction (wf__store_read_begin, in query.c) so that what it returns is one
 * consistent snapshot even while the writer commits; blobs are read after it.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* Says what a unit_output request could have asked for instead. Inside a read transaction. */
static int explain_missing(wf_store *s, int64_t seq, const char *run_id, const char *task,
                           int64_t index, int attempt, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    int64_t n = 0, lo = 0, hi = 0;
    int rc =
        wf__store_prep(s,
                       "SELECT count(*), min(idx), max(idx), "
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

int wf_store_unit_output(wf_store *s, const char *run_id, const char *task, int64_t index,
                         int attempt, bool want_stderr, char **data, size_t *len, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    char *hash = NULL;
    int64_t seq = 0;
    int rc;

    *data = NULL;
    *len = 0;
    rc = wf__store_read_begin(s, err);
    if (rc != WF_OK)
        return rc;
    rc = wf__store_find_run(s, run_id, &seq, err);
    if (rc != WF_OK)
        goto out;
    rc = wf__store_prep(
        s,
        "SELECT stdout_hash, stderr_hash FROM units WHERE run_seq = ?1 AND task = ?2 AND "
        "idx = ?3 AND (?4 = 0 OR attempt = ?4) ORDER BY attempt DESC LIMIT 1",
        &st, err);
    if (rc != WF_OK)
        goto out;
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, task ? task : "", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, index);
    sqlite3_bind_int(st, 4, attempt);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        break;
    case SQLITE_DONE:
        rc = explain_missing(s, seq, run_id, task ? task : "", index, attempt, err);
        goto out;
    default:
        rc = WF_ESTORE;
        goto out;
    }
    if (wf__store_col_text(st, want_stderr ? 1 : 0) != NULL)
        hash = wf_xstrdup(wf__store_col_text(st, want_stderr ? 1 : 0));
out:
    sqlite3_finalize(st);
    wf__store_read_end(s);
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

/* One succeeded unit's row, copied out so that blobs are read after the transaction. */
typedef struct unit_row {
    char *task, *item_hash, *result_json, *result_hash, *stdout_hash, *stderr_hash, *from;
    int64_t index;
    int exit_code;
} unit_row;

static char *dup_or_null(const char *s)
{
    return s ? wf_xstrdup(s) : NULL;
}

int wf_store_succeeded_units(wf_store *s, const char *run_id, json_object **out, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    unit_row *rows = NULL;
    size_t n = 0, cap = 0;
    json_object *arr = NULL;
    int64_t seq = 0;
    int rc;

    *out = NULL;
    rc = wf__store_read_begin(s, err);
    if (rc != WF_OK)
        return rc;
    rc = wf__store_find_run(s, run_id, &seq, err);
    if (rc == WF_OK)
        /* The latest attempt of each (task, index) decides: a unit that succeeded and was
         * then run again and failed does not count. */
        /* result_from came with schema 6: an older store (read-only) has NULL there. */
        rc = wf__store_prep(s,
                            s->schema_version >= 6
                                ? "SELECT task, idx, item_hash, result_json, result_hash, "
                                  "stdout_hash, stderr_hash, exit_code, result_from FROM units u "
                                  "WHERE run_seq = ?1 AND status = 'succeeded' AND attempt = "
                                  "(SELECT max(attempt) FROM units v WHERE v.run_seq = u.run_seq "
                                  "AND v.task = u.task AND v.idx = u.idx) ORDER BY rowid"
                                : "SELECT task, idx, item_hash, result_json, result_hash, "
                                  "stdout_hash, stderr_hash, exit_code, NULL FROM units u "
                                  "WHERE run_seq = ?1 AND status = 'succeeded' AND attempt = "
                                  "(SELECT max(attempt) FROM units v WHERE v.run_seq = u.run_seq "
                                  "AND v.task = u.task AND v.idx = u.idx) ORDER BY rowid",
                            &st, err);
    if (rc != WF_OK) {
        wf__store_read_end(s);
        goto out;
    }
    sqlite3_bind_int64(st, 1, seq);
    for (;;) {
        int r = wf__store_step(s, st, err);
        unit_row *u;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            break;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            rows = wf_xrealloc(rows, cap * sizeof(*rows));
        }
        u = &rows[n++];
        u->task = dup_or_null(wf__store_col_text(st, 0));
        u->index = sqlite3_column_int64(st, 1);
        u->item_hash = dup_or_null(wf__store_col_text(st, 2));
        u->result_json = dup_or_null(wf__store_col_text(st, 3));
        u->result_hash = dup_or_null(wf__store_col_text(st, 4));
        u->stdout_hash = dup_or_null(wf__store_col_text(st, 5));
        u->stderr_hash = dup_or_null(wf__store_col_text(st, 6));
        u->exit_code = sqlite3_column_int(st, 7);
        u->from = dup_or_null(wf__store_col_text(st, 8));
    }
    sqlite3_finalize(st);
    wf__store_read_end(s);
    if (rc != WF_OK)
        goto out;

    arr = wf__store_checked(json_object_new_array_ext((int)n));
    for (size_t i = 0; i < n; i++) {
        json_object *o = wf__store_checked(json_object_new_object()), *result = NULL;

        json_object_array_add(arr, o);
        wf__store_add_str(o, "task", rows[i].task ? rows[i].task : "");
        wf__store_add_int(o, "index", rows[i].index);
        wf__store_add_str(o, "item_hash", rows[i].item_hash);
        rc = wf__store_load_result(s, rows[i].result_json, rows[i].result_hash, rows[i].from,
                                   rows[i].stdout_hash, &result, err);
        if (rc != WF_OK) {
            if (rc == WF_ENOENT) {
                wf_error_set(
                    err, WF_ESTORE, NULL, 0, 0,
                    "%s/%.2s/%s: missing, but a result of run %s refers to it (the "
                    "store is damaged)",
                    s->blobs_dir, rows[i].from != NULL ? rows[i].stdout_hash : rows[i].result_hash,
                    rows[i].from != NULL ? rows[i].stdout_hash : rows[i].result_hash, run_id);
                rc = WF_ESTORE;
            }
            goto out;
        }
        json_object_object_add(o, "result", result);
        wf__store_add_str(o, "stdout_hash", rows[i].stdout_hash ? rows[i].stdout_hash : "");
        wf__store_add_str(o, "stderr_hash", rows[i].stderr_hash ? rows[i].stderr_hash : "");
        wf__store_add_int(o, "exit_code", rows[i].exit_code);
        /* A reused unit's record points at the same blobs instead of writing them again. */
        wf__store_add_str(o, "result_hash", rows[i].result_hash);
        wf__store_add_str(o, "result_from", rows[i].from);
    }
out:
    for (size_t i = 0; i < n; i++) {
        free(rows[i].task);
        free(rows[i].item_hash);
        free(rows[i].result_json);
        free(rows[i].result_hash);
        free(rows[i].stdout_hash);
        free(rows[i].stderr_hash);
        free(rows[i].from);
    }
    free(rows);
    if (rc == WF_OK) {
        *out = arr;
        arr = NULL;
    }
    json_object_put(arr);
    return rc;
}

int wf_store_cache_get(wf_store *s, const char *key, json_object **result,
                       char stdout_hash[WF_SHA256_HEX_LEN + 1],
                       char stderr_hash[WF_SHA256_HEX_LEN + 1], char **files_json, wf_error *err)
{
    sqlite3_stmt *st;
    char *result_json = NULL, *result_hash = NULL, *files = NULL, *from = NULL;
    const char *h;
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
    if (rc == WF_OK)
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
