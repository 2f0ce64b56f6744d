/*
 * writer_ranges.c: the writer's compact records (docs/store.md, "Ranges"). The units of a
 * batch that carry nothing of their own (first attempt, succeeded, no error, label, cache
 * hit or result of their own; see rangeable() in writer.c) are not written one row each:
 * they are sorted by task and index, cut into runs of consecutive indices that share
 * everything else (exit code, inline result, output blobs, reused), and each run is merged
 * with the range rows of earlier batches it touches (the one ending just before it, the one
 * starting just after it) into one row of unit_ranges, at most WF__STORE_RANGE_MAX units
 * long. What a range keeps per unit is 8 bytes of its item's SHA256, so --resume can still
 * tell an unchanged item from a changed one. The writer thread alone calls these, inside its
 * open transaction, so a range is committed with the batch that brought its units: the store
 * still holds a prefix of what was queued.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static int cmp_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);
    return strcmp(a, b);
}

/* Whether a and b may share a range row (everything but index, times and digest equal). */
static bool same_shared(const wf__range_unit *a, const wf__range_unit *b)
{
    return a->run_seq == b->run_seq && strcmp(a->task, b->task) == 0 &&
           a->exit_code == b->exit_code && a->reused == b->reused &&
           cmp_str(a->result_json, b->result_json) == 0 &&
           cmp_str(a->stdout_hash, b->stdout_hash) == 0 &&
           cmp_str(a->stderr_hash, b->stderr_hash) == 0;
}

static int cmp_unit(const void *pa, const void *pb)
{
    const wf__range_unit *a = pa, *b = pb;
    int c;

    if (a->run_seq != b->run_seq)
        return a->run_seq < b->run_seq ? -1 : 1;
    c = strcmp(a->task, b->task);
    if (c != 0)
        return c;
    if (a->index != b->index)
        return a->index < b->index ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

void wf__ranges_add(wf__ranges *p, const wf__range_unit *u)
{
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 1024;
        p->units = wf_xrealloc(p->units, p->cap * sizeof(*p->units));
    }
    p->units[p->n] = *u;
    p->units[p->n].order = p->n;
    p->n++;
}

void wf__ranges_release(wf__ranges *p)
{
    free(p->units);
    free(p->buf);
    memset(p, 0, sizeof(*p));
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v != NULL)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_opt_time(sqlite3_stmt *st, int i, int64_t ms)
{
    if (ms > 0)
        sqlite3_bind_int64(st, i, ms);
    else
        sqlite3_bind_null(st, i);
}

/* Binds the shared columns of u to st at 2.. (run_seq 1, task 2, ..., see the statements in
 * wf__ranges_prepare) and the neighbour's index at 3. */
static void bind_neighbour(sqlite3_stmt *st, const wf__range_unit *u, int64_t idx)
{
    sqlite3_bind_int64(st, 1, u->run_seq);
    sqlite3_bind_text(st, 2, u->task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, idx);
    sqlite3_bind_int(st, 4, u->exit_code);
    bind_opt_text(st, 5, u->result_json);
    bind_opt_text(st, 6, u->stdout_hash);
    bind_opt_text(st, 7, u->stderr_hash);
    sqlite3_bind_int(st, 8, u->reused);
}

/* A range row found next to a segment: its extent, times and digests (copied). */
typedef struct neighbour {
    bool found;
    int64_t first, last, started_ms, ended_ms;
    unsigned char *digests;
    size_t len;
} neighbour;

static int find_neighbour(sqlite3_stmt *st, const wf__range_unit *u, int64_t idx, neighbour *nb)
{
    int rc;

    memset(nb, 0, sizeof(*nb));
    bind_neighbour(st, u, idx);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *blob = sqlite3_column_blob(st, 4);

        nb->found = true;
        nb->first = sqlite3_column_int64(st, 0);
        nb->last = sqlite3_column_int64(st, 1);
        nb->started_ms = sqlite3_column_int64(st, 2);
        nb->ended_ms = sqlite3_column_int64(st, 3);
        nb->len = (size_t)sqlite3_column_bytes(st, 4);
        nb->digests = wf_xmalloc(nb->len ? nb->len : 1);
        if (nb->len > 0)
            memcpy(nb->digests, blob, nb->len);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

static int64_t min_time(int64_t a, int64_t b)
{
    if (a <= 0)
        return b;
    return b > 0 && b < a ? b : a;
}

static int delete_range(wf_store *s, const wf__range_unit *u, int64_t first)
{
    sqlite3_stmt *st = s->st_range_del;
    int rc;

    sqlite3_bind_int64(st, 1, u->run_seq);
    sqlite3_bind_text(st, 2, u->task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, first);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Writes units seg[0..n) (consecutive indices, shared columns equal) as a range, merged with
 * the rows that end just before it and start just after it when the result stays within
 * WF__STORE_RANGE_MAX. When the row before has room for fewer than n, only the first units
 * that fill it are written, so that the ranges of units recorded in order are the same however
 * they fell into batches. *used: the units written. */
static int put_segment(wf_store *s, wf__ranges *p, const wf__range_unit *seg, size_t n,
                       size_t *used)
{
    const wf__range_unit *u = &seg[0];
    int64_t first = seg[0].index, last, started = 0, ended = 0;
    neighbour before, after = { 0 };
    size_t len = 0;
    sqlite3_stmt *st;
    int rc;

    rc = find_neighbour(s->st_range_before, u, first - 1, &before);
    if (rc != SQLITE_OK)
        return rc;
    if (before.found) {
        uint64_t room = WF__STORE_RANGE_MAX - (uint64_t)(first - before.first);

        if ((uint64_t)(first - before.first) >= WF__STORE_RANGE_MAX)
            before.found = false;
        else if (n > room)
            n = (size_t)room;
    }
    *used = n;
    last = seg[n - 1].index;
    rc = find_neighbour(s->st_range_after, u, last + 1, &after);
    if (rc != SQLITE_OK) {
        free(before.digests);
        return rc;
    }
    if (after.found &&
        (uint64_t)(after.last - (before.found ? before.first : first) + 1) > WF__STORE_RANGE_MAX)
        after.found = false;
    if (p->buf_cap < (size_t)WF__STORE_RANGE_MAX * WF_STORE_DIGEST_LEN) {
        p->buf_cap = (size_t)WF__STORE_RANGE_MAX * WF_STORE_DIGEST_LEN;
        p->buf = wf_xrealloc(p->buf, p->buf_cap);
    }
    if (before.found) {
        memcpy(p->buf, before.digests, before.len);
        len = before.len;
        started = before.started_ms;
        ended = before.ended_ms;
        first = before.first;
        rc = delete_range(s, u, before.first);
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(p->buf + len, seg[i].digest, WF_STORE_DIGEST_LEN);
        len += WF_STORE_DIGEST_LEN;
        started = min_time(started, seg[i].started_ms);
        ended = seg[i].ended_ms > ended ? seg[i].ended_ms : ended;
    }
    if (after.found && rc == SQLITE_OK) {
        memcpy(p->buf + len, after.digests, after.len);
        len += after.len;
        started = min_time(started, after.started_ms);
        ended = after.ended_ms > ended ? after.ended_ms : ended;
        last = after.last;
        rc = delete_range(s, u, after.first);
    }
    free(before.digests);
    free(after.digests);
    if (rc != SQLITE_OK)
        return rc;
    st = s->st_range_ins;
    sqlite3_bind_int64(st, 1, u->run_seq);
    sqlite3_bind_text(st, 2, u->task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, first);
    sqlite3_bind_int64(st, 4, last);
    bind_opt_time(st, 5, started);
    bind_opt_time(st, 6, ended);
    sqlite3_bind_int(st, 7, u->exit_code);
    bind_opt_text(st, 8, u->result_json);
    bind_opt_text(st, 9, u->stdout_hash);
    bind_opt_text(st, 10, u->stderr_hash);
    sqlite3_bind_int(st, 11, u->reused);
    sqlite3_bind_blob(st, 12, p->buf, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc;
    /* The new units count as succeeded (the neighbours' were counted already). */
    st = s->st_count_add;
    sqlite3_bind_int64(st, 1, u->run_seq);
    sqlite3_bind_text(st, 2, u->task, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, "succeeded", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (int64_t)n);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int wf__ranges_commit(wf_store *s, wf__ranges *p)
{
    size_t i = 0;
    int rc = SQLITE_OK;

    if (p->n > 1)
        qsort(p->units, p->n, sizeof(*p->units), cmp_unit);
    while (i < p->n && rc == SQLITE_OK) {
        size_t j = i + 1;

        /* The same unit twice in a batch (recorded again) keeps its first record. */
        while (j < p->n && j - i < WF__STORE_RANGE_MAX && same_shared(&p->units[i], &p->units[j]) &&
               p->units[j].index == p->units[j - 1].index + 1)
            j++;
        size_t used = 0;

        rc = put_segment(s, p, &p->units[i], j - i, &used);
        if (used < j - i) {
            /* The rest starts a range of its own. */
            i += used;
            continue;
        }
        while (j < p->n && p->units[j].index == p->units[j - 1].index &&
               p->units[j].run_seq == p->units[j - 1].run_seq &&
               strcmp(p->units[j].task, p->units[j - 1].task) == 0)
            j++;
        i = j;
    }
    p->n = 0;
    return rc;
}

static int prepare(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err)
{
    if (sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->wdb, err, "cannot prepare a statement");
    return WF_OK;
}

/* A row whose digests are another row's (a resumed run's, writer_reuse.c) is never grown. */
#define SHARED_MATCH                                                                      \
    " AND exit_code = ?4 AND result_json IS ?5 AND stdout_hash IS ?6 AND stderr_hash IS " \
    "?7 AND reused = ?8 AND digests_run IS NULL"

int wf__ranges_prepare(wf_store *s, wf_error *err)
{
    if (prepare(s,
                "SELECT first_idx, last_idx, coalesce(started_ms, 0), coalesce(ended_ms, 0), "
                "item_digests FROM unit_ranges INDEXED BY unit_ranges_last WHERE run_seq = ?1 AND "
                "task = ?2 AND last_idx = ?3" SHARED_MATCH,
                &s->st_range_before, err) != WF_OK ||
        prepare(s,
                "SELECT first_idx, last_idx, coalesce(started_ms, 0), coalesce(ended_ms, 0), "
                "item_digests FROM unit_ranges INDEXED BY unit_ranges_first WHERE run_seq = ?1 AND "
                "task = ?2 AND first_idx = ?3" SHARED_MATCH,
                &s->st_range_after, err) != WF_OK ||
        prepare(s,
                "DELETE FROM unit_ranges INDEXED BY unit_ranges_first WHERE run_seq = ?1 AND "
                "task = ?2 AND first_idx = ?3",
                &s->st_range_del, err) != WF_OK ||
        prepare(s,
                "INSERT OR REPLACE INTO unit_ranges (run_seq, task, first_idx, last_idx, "
                "started_ms, ended_ms, exit_code, result_json, stdout_hash, stderr_hash, reused, "
                "item_digests) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                &s->st_range_ins, err) != WF_OK ||
        prepare(s,
                "INSERT INTO unit_counts (run_seq, task, status, n) VALUES (?1, ?2, ?3, ?4) "
                "ON CONFLICT (run_seq, task, status) DO UPDATE SET n = n + excluded.n",
                &s->st_count_add, err) != WF_OK)
        return WF_ESTORE;
    return WF_OK;
}

void wf__ranges_finalize(wf_store *s)
{
    sqlite3_finalize(s->st_range_before);
    sqlite3_finalize(s->st_range_after);
    sqlite3_finalize(s->st_range_del);
    sqlite3_finalize(s->st_range_ins);
    sqlite3_finalize(s->st_count_add);
    s->st_range_before = s->st_range_after = s->st_range_del = NULL;
    s->st_range_ins = s->st_count_add = NULL;
}
