/*
 * writer_reuse.c: the records of units a resumed run takes from the run it resumes
 * (wf_store_record_reused). A span of such units is not written a row per unit: the writer
 * copies what the earlier run recorded for them in three statements, inside its open
 * transaction: its range rows cut to the span, its unit rows as first attempts, and the count
 * of the copied ranges' units. A copied range row holds no item digests: it names the row
 * that holds them (digests_run, digests_first: schema 11), so that a resume of 10,000,000
 * units writes a few hundred bytes a range row, not 8 bytes a unit. Both copies are marked
 * reused and stamped with the time of the resume. The writer thread alone calls these.
 */
#include "store_internal.h"

static int prepare(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err)
{
    if (sqlite3_prepare_v3(s->wdb, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->wdb, err, "cannot prepare a statement");
    return WF_OK;
}

/* Parameters of all three: ?1 the new run's seq, ?2 the task, ?3 the earlier run's seq,
 * ?4..?5 the span, ?6 the time. Every unit of the span succeeded in the earlier run (the
 * caller's promise), so its units rows there with status succeeded are each unit's latest
 * attempt, and its ranges hold first attempts that succeeded. */
int wf__reuse_prepare(wf_store *s, wf_error *err)
{
    if (prepare(s,
                "INSERT INTO unit_ranges (run_seq, task, first_idx, last_idx, started_ms, "
                "ended_ms, exit_code, result_json, stdout_hash, stderr_hash, reused, "
                "item_digests, digests_run, digests_first) SELECT ?1, task, max(first_idx, ?4), "
                "min(last_idx, ?5), ?6, ?6, exit_code, result_json, stdout_hash, stderr_hash, 1, "
                "x'', coalesce(digests_run, run_seq), coalesce(digests_first, first_idx) "
                "FROM unit_ranges INDEXED BY unit_ranges_last WHERE run_seq = ?3 AND task = ?2 "
                "AND last_idx >= ?4 AND first_idx <= ?5",
                &s->st_reuse_ranges, err) != WF_OK ||
        /* The copied ranges are the new run's only ones in the span: nothing else of it
         * settles these units. */
        prepare(s,
                "INSERT INTO unit_counts (run_seq, task, status, n) SELECT ?1, ?2, 'succeeded', "
                "sum(last_idx - first_idx + 1) FROM unit_ranges INDEXED BY unit_ranges_first "
                "WHERE run_seq = ?1 AND task = ?2 AND first_idx >= ?4 AND first_idx <= ?5 "
                "GROUP BY run_seq "
                "ON CONFLICT (run_seq, task, status) DO UPDATE SET n = n + excluded.n",
                &s->st_reuse_count, err) != WF_OK ||
        /* units' trigger counts these. */
        prepare(
            s,
            "INSERT INTO units (run_seq, task, idx, attempt, status, started_ms, ended_ms, "
            "exit_code, error, result_json, result_hash, stdout_hash, stderr_hash, item_hash, "
            "cached, reused, ignored, label, result_from, result_lines) SELECT ?1, task, idx, 1, "
            "status, ?6, ?6, exit_code, NULL, result_json, result_hash, stdout_hash, "
            "stderr_hash, item_hash, 0, 1, 0, label, result_from, result_lines FROM units WHERE run_seq = ?3 AND "
            "task = ?2 AND idx >= ?4 AND idx <= ?5 AND status = 'succeeded'",
            &s->st_reuse_units, err) != WF_OK)
        return WF_ESTORE;
    return WF_OK;
}

void wf__reuse_finalize(wf_store *s)
{
    sqlite3_finalize(s->st_reuse_ranges);
    sqlite3_finalize(s->st_reuse_count);
    sqlite3_finalize(s->st_reuse_units);
    s->st_reuse_ranges = s->st_reuse_count = s->st_reuse_units = NULL;
}

static int run(sqlite3_stmt *st, int64_t seq, const char *task, int64_t from_seq, int64_t first,
               int64_t last, int64_t at_ms)
{
    int rc;

    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, task, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, from_seq);
    sqlite3_bind_int64(st, 4, first);
    sqlite3_bind_int64(st, 5, last);
    if (at_ms > 0)
        sqlite3_bind_int64(st, 6, at_ms);
    else
        sqlite3_bind_null(st, 6);
    rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int wf__reuse_copy(wf_store *s, int64_t seq, const char *task, int64_t from_seq, int64_t first,
                   int64_t last, int64_t at_ms)
{
    int rc = run(s->st_reuse_ranges, seq, task, from_seq, first, last, at_ms);

    if (rc == SQLITE_OK)
        rc = run(s->st_reuse_count, seq, task, from_seq, first, last, at_ms);
    if (rc == SQLITE_OK)
        rc = run(s->st_reuse_units, seq, task, from_seq, first, last, at_ms);
    return rc;
}
