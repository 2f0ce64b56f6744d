/*
 * unit_cursor.c: the units of one task as one stream in index order (then attempt), whether
 * the writer kept them as rows of `units` or as ranges of `unit_ranges` (docs/store.md,
 * "Ranges"): two statements walked side by side, a range handed out one unit at a time. The
 * query functions (show's pages, --resume) read units through it, so none of them knows how
 * a unit was stored. Starting at an index is a seek in both tables' indexes, not a scan.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* The columns of a row, in this order (range rows give the same shape). */
#define ROW_COLS                                                                          \
    "idx, attempt, status, started_ms, ended_ms, exit_code, error, cached, reused, "      \
    "stdout_hash, stderr_hash, %s, %s, result_json, result_hash, %s, item_hash, %s FROM " \
    "units u WHERE run_seq = ?1 AND task = ?2 AND idx >= ?3"
#define LATEST                                                                            \
    " AND status = ?4 AND attempt = (SELECT max(attempt) FROM units v WHERE v.run_seq = " \
    "u.run_seq AND v.task = u.task AND v.idx = u.idx)"

int wf__unit_cursor_open(wf_store *s, wf__unit_cursor *c, int64_t seq, const char *task,
                         int64_t from, const char *status, bool digests, wf_error *err)
{
    char *sql;
    int rc;

    memset(c, 0, sizeof(*c));
    c->s = s;
    c->task = wf_xstrdup(task);
    c->no_digests = !digests;
    /* Older stores (read-only, not migrated) lack some columns: NULL or 0 stands in. */
    sql = wf_xasprintf(
        "SELECT " ROW_COLS "%s ORDER BY idx, attempt", s->schema_version >= 3 ? "ignored" : "0",
        s->schema_version >= 4 ? "label" : "NULL", s->schema_version >= 6 ? "result_from" : "NULL",
        s->schema_version >= 11 ? "result_lines" : "NULL", status ? LATEST : "");
    rc = wf__store_prep(s, sql, &c->rows, err);
    free(sql);
    if (rc == WF_OK && s->schema_version >= 8 &&
        (status == NULL || strcmp(status, "succeeded") == 0)) {
        sql = wf_xasprintf("SELECT first_idx, last_idx, started_ms, ended_ms, exit_code, reused, "
                           "stdout_hash, stderr_hash, result_json, %s FROM unit_ranges INDEXED BY "
                           "unit_ranges_last WHERE run_seq = ?1 AND task = ?2 AND last_idx >= ?3 "
                           "ORDER BY last_idx",
                           !digests                  ? "NULL, NULL, NULL"
                           : s->schema_version >= 11 ? "digests_run, digests_first, item_digests"
                                                     : "NULL, NULL, item_digests");
        rc = wf__store_prep(s, sql, &c->ranges, err);
        free(sql);
    }
    if (rc != WF_OK) {
        wf__unit_cursor_close(c);
        return rc;
    }
    sqlite3_bind_int64(c->rows, 1, seq);
    sqlite3_bind_text(c->rows, 2, task, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(c->rows, 3, from);
    if (status != NULL)
        sqlite3_bind_text(c->rows, 4, status, -1, SQLITE_TRANSIENT);
    if (c->ranges != NULL) {
        sqlite3_bind_int64(c->ranges, 1, seq);
        sqlite3_bind_text(c->ranges, 2, task, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(c->ranges, 3, from);
    }
    c->from = from;
    c->row_state = c->range_state = 0;
    return WF_OK;
}

void wf__unit_cursor_close(wf__unit_cursor *c)
{
    sqlite3_finalize(c->rows);
    sqlite3_finalize(c->ranges);
    sqlite3_finalize(c->origin);
    c->rows = c->ranges = c->origin = NULL;
    free(c->task);
    c->task = NULL;
}

/* Makes sure the head of each stream is loaded (state 1) or known to be done (state 2). */
static int fill(wf__unit_cursor *c, wf_error *err)
{
    int r;

    if (c->row_state == 0) {
        r = wf__store_step(c->s, c->rows, err);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            return WF_ESTORE;
        c->row_state = r == SQLITE_ROW ? 1 : 2;
    }
    while (c->range_state == 0) {
        if (c->ranges == NULL) {
            c->range_state = 2;
            break;
        }
        r = wf__store_step(c->s, c->ranges, err);
        if (r != SQLITE_ROW && r != SQLITE_DONE)
            return WF_ESTORE;
        if (r == SQLITE_DONE) {
            c->range_state = 2;
            break;
        }
        c->range_first = sqlite3_column_int64(c->ranges, 0);
        c->range_last = sqlite3_column_int64(c->ranges, 1);
        c->range_next = c->range_first > c->from ? c->range_first : c->from;
        c->origin_loaded = false;
        c->range_state = c->range_next <= c->range_last ? 1 : 0;
    }
    return WF_OK;
}

/* Column i of st as text, or NULL. */
static const char *text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

static int64_t opt_int(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, i);
}

/* The digest of unit idx of the current range row: its own item_digests, or those of the
 * row it names (digests_run, digests_first: a range a resumed run took, writer_reuse.c),
 * read once per range row. NULL when there are none. */
static const unsigned char *range_digest(wf__unit_cursor *c, int64_t idx, wf_error *err)
{
    sqlite3_stmt *st = c->ranges, *from = st;
    int col = 11;
    int64_t first = c->range_first;
    const unsigned char *digests;
    size_t off;

    if (sqlite3_column_type(st, 9) != SQLITE_NULL) {
        if (!c->origin_loaded) {
            if (c->origin == NULL &&
                wf__store_prep(c->s,
                               "SELECT item_digests FROM unit_ranges INDEXED BY "
                               "unit_ranges_first WHERE run_seq = ?1 AND task = ?2 AND "
                               "first_idx = ?3",
                               &c->origin, err) != WF_OK)
                return NULL;
            sqlite3_reset(c->origin);
            sqlite3_bind_int64(c->origin, 1, sqlite3_column_int64(st, 9));
            sqlite3_bind_text(c->origin, 2, c->task, -1, SQLITE_STATIC);
            sqlite3_bind_int64(c->origin, 3, sqlite3_column_int64(st, 10));
            c->origin_loaded = true;
            if (wf__store_step(c->s, c->origin, err) != SQLITE_ROW)
                return NULL; /* gone: gc copies them before it deletes their run */
        }
        from = c->origin;
        col = 0;
        first = sqlite3_column_int64(st, 10);
    }
    digests = sqlite3_column_blob(from, col);
    off = (size_t)(idx - first) * WF_STORE_DIGEST_LEN;
    if (digests == NULL || off + WF_STORE_DIGEST_LEN > (size_t)sqlite3_column_bytes(from, col))
        return NULL;
    return digests + off;
}

int wf__unit_cursor_next(wf__unit_cursor *c, wf__unit_view *u, wf_error *err)
{
    bool take_range;

    if (c->range_state == 1 && c->range_next > c->range_last) {
        c->range_state = 0;
    }
    if (c->row_state == 3)
        c->row_state = 0;
    if (fill(c, err) != WF_OK)
        return WF_ESTORE;
    if (c->row_state == 2 && c->range_state == 2)
        return WF_ENOENT;
    take_range = c->range_state == 1 &&
                 (c->row_state == 2 || c->range_next < sqlite3_column_int64(c->rows, 0));
    memset(u, 0, sizeof(*u));
    if (take_range) {
        sqlite3_stmt *st = c->ranges;

        u->index = c->range_next++;
        u->attempt = 1;
        u->status = "succeeded";
        u->started_ms = opt_int(st, 2);
        u->ended_ms = opt_int(st, 3);
        u->has_times = sqlite3_column_type(st, 2) != SQLITE_NULL;
        u->exit_code = sqlite3_column_int(st, 4);
        u->reused = sqlite3_column_int(st, 5) != 0;
        u->stdout_hash = text(st, 6);
        u->stderr_hash = text(st, 7);
        u->result_json = text(st, 8);
        u->result_lines = -1;
        if (!c->no_digests)
            u->digest = range_digest(c, u->index, err);
        u->in_range = true;
        u->range_last = c->range_last;
        return WF_OK;
    }
    {
        sqlite3_stmt *st = c->rows;

        u->index = sqlite3_column_int64(st, 0);
        u->attempt = sqlite3_column_int(st, 1);
        u->status = text(st, 2);
        u->started_ms = opt_int(st, 3);
        u->ended_ms = opt_int(st, 4);
        u->has_times = sqlite3_column_type(st, 3) != SQLITE_NULL;
        u->exit_code = sqlite3_column_int(st, 5);
        u->error = text(st, 6);
        u->cached = sqlite3_column_int(st, 7) != 0;
        u->reused = sqlite3_column_int(st, 8) != 0;
        u->stdout_hash = text(st, 9);
        u->stderr_hash = text(st, 10);
        u->ignored = sqlite3_column_int(st, 11) != 0;
        u->label = text(st, 12);
        u->result_json = text(st, 13);
        u->result_hash = text(st, 14);
        u->result_from = text(st, 15);
        u->item_hash = text(st, 16);
        u->result_lines =
            sqlite3_column_type(st, 17) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, 17);
        /* The row's columns stay valid until the next call steps it. */
        c->row_state = 3;
    }
    return WF_OK;
}

void wf__unit_cursor_skip_range(wf__unit_cursor *c)
{
    if (c->range_state == 1)
        c->range_next = c->range_last + 1;
}
