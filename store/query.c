/*
 * query.c: the read side for runs, on the read connection under rlock: resolving a run id
 * from a prefix or "last", the list of runs and one run shown with its tasks and units, and
 * what the read functions of query_units.c share (read transactions, JSON building). Each
 * function reads in one transaction so that what it returns is one consistent snapshot even
 * while the writer commits.
 */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* json-c returns NULL only when it cannot allocate; abort through the one OOM handler. */
json_object *wf__store_checked(json_object *v)
{
    if (v == NULL)
        wf_xmalloc(SIZE_MAX);
    return v;
}

void wf__store_add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? wf__store_checked(json_object_new_string(v)) : NULL);
}

void wf__store_add_int(json_object *o, const char *key, int64_t v)
{
    json_object_object_add(o, key, wf__store_checked(json_object_new_int64(v)));
}

static void add_bool(json_object *o, const char *key, bool v)
{
    json_object_object_add(o, key, wf__store_checked(json_object_new_boolean(v)));
}

const char *wf__store_col_text(sqlite3_stmt *st, int i)
{
    return (const char *)sqlite3_column_text(st, i);
}

/* A text column, with NULL as JSON null. */
static void add_col_str(json_object *o, const char *key, sqlite3_stmt *st, int i)
{
    wf__store_add_str(o, key, wf__store_col_text(st, i));
}

static void add_col_int(json_object *o, const char *key, sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        json_object_object_add(o, key, NULL);
    else
        wf__store_add_int(o, key, sqlite3_column_int64(st, i));
}

int wf__store_parse_json(const wf_store *s, const char *text, const char *what, json_object **out,
                         wf_error *err)
{
    json_tokener *tok;
    json_object *v;
    enum json_tokener_error jerr;
    int rc = WF_OK;

    *out = NULL;
    if (text == NULL)
        return WF_OK;
    tok = json_tokener_new();
    if (tok == NULL)
        wf_xmalloc(SIZE_MAX);
    /* The NUL is passed too: it ends a bare number ("12"), which would otherwise leave
     * the tokener waiting for more digits. */
    v = json_tokener_parse_ex(tok, text, (int)strlen(text) + 1);
    jerr = json_tokener_get_error(tok);
    if (jerr != json_tokener_success) {
        json_object_put(v);
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: %s is not valid JSON: %s", s->db_path, what,
                     json_tokener_error_desc(jerr));
        rc = WF_ESTORE;
    } else {
        *out = v;
    }
    json_tokener_free(tok);
    return rc;
}

int wf__store_load_result(wf_store *s, const char *inline_json, const char *hash, const char *from,
                          const char *stdout_hash, json_object **out, wf_error *err)
{
    char *text = NULL, *error = NULL;
    size_t len;
    wf_output_mode mode;
    int rc;

    *out = NULL;
    if (from != NULL) {
        /* The result blob (a large $WF_RESULT, schema 10), else the stdout blob, converted as
         * the unit's was when it ended. */
        if (hash != NULL && hash[0] != '\0')
            stdout_hash = hash;
        if (!wf_output_mode_parse(from, &mode) || stdout_hash == NULL || stdout_hash[0] == '\0') {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                         "%s: a result recorded as its stdout ('%s') has no valid stdout blob or "
                         "mode (the store is damaged)",
                         s->db_path, from);
            return WF_ESTORE;
        }
        rc = wf_store_get_blob(s, stdout_hash, &text, &len, err);
        if (rc == WF_OK && wf_output_convert(mode, text, "a stored stdout", out, &error) != WF_OK) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: %s (the store is damaged)", s->db_path,
                         error);
            rc = WF_ESTORE;
        }
        free(error);
        free(text);
        return rc;
    }
    if (inline_json != NULL || hash == NULL || hash[0] == '\0')
        return wf__store_parse_json(s, inline_json, "a stored result", out, err);
    rc = wf_store_get_blob(s, hash, &text, &len, err);
    if (rc == WF_OK)
        rc = wf__store_parse_json(s, text, "a result blob", out, err);
    free(text);
    return rc;
}

/* ---- read transactions ------------------------------------------------------------------ */

int wf__store_prep(wf_store *s, const char *sql, sqlite3_stmt **st, wf_error *err)
{
    if (sqlite3_prepare_v2(s->rdb, sql, -1, st, NULL) != SQLITE_OK)
        return wf__store_db_error(s, s->rdb, err, "cannot query");
    return WF_OK;
}

/* Takes rlock and opens a read transaction: one snapshot for the whole query. */
int wf__store_read_begin(wf_store *s, wf_error *err)
{
    int rc;

    pthread_mutex_lock(&s->rlock);
    rc = wf__store_read_conn(s, err);
    if (rc != WF_OK) {
        pthread_mutex_unlock(&s->rlock);
        return rc;
    }
    if (sqlite3_exec(s->rdb, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
        wf__store_db_error(s, s->rdb, err, "cannot read");
        pthread_mutex_unlock(&s->rlock);
        return WF_ESTORE;
    }
    return WF_OK;
}

void wf__store_read_end(wf_store *s)
{
    sqlite3_exec(s->rdb, "COMMIT", NULL, NULL, NULL);
    pthread_mutex_unlock(&s->rlock);
}

/* Steps st; SQLITE_ROW and SQLITE_DONE are fine, anything else fills err. */
int wf__store_step(wf_store *s, sqlite3_stmt *st, wf_error *err)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        wf__store_db_error(s, s->rdb, err, "cannot read");
    return rc;
}

/* The seq of a full run id. WF_OK, WF_ENOENT or WF_ESTORE. Inside a read transaction. */
int wf__store_find_run(wf_store *s, const char *run_id, int64_t *seq, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    int rc = wf__store_prep(s, "SELECT seq FROM runs WHERE run_id = ?1", &st, err);

    if (rc != WF_OK)
        goto out;
    sqlite3_bind_text(st, 1, run_id ? run_id : "", -1, SQLITE_STATIC);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        *seq = sqlite3_column_int64(st, 0);
        break;
    case SQLITE_DONE:
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no run '%s' in %s", run_id ? run_id : "", s->dir);
        rc = WF_ENOENT;
        break;
    default:
        rc = WF_ESTORE;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

int wf__store_run_begin(wf_store *s, const char *run_id, const char *sql, int64_t *seq,
                        sqlite3_stmt **st, wf_error *err)
{
    int rc = wf__store_read_begin(s, err);

    *st = NULL;
    if (rc != WF_OK)
        return rc;
    rc = wf__store_find_run(s, run_id, seq, err);
    if (rc == WF_OK && sql != NULL)
        rc = wf__store_prep(s, sql, st, err);
    if (rc != WF_OK) {
        wf__store_read_end(s);
        return rc;
    }
    if (*st != NULL)
        sqlite3_bind_int64(*st, 1, *seq);
    return WF_OK;
}

void wf__store_run_end(wf_store *s, sqlite3_stmt *st)
{
    sqlite3_finalize(st);
    wf__store_read_end(s);
}

int wf_store_resolve_run(wf_store *s, const char *spec, char id[64], wf_error *err)
{
    sqlite3_stmt *st = NULL;
    wf_strbuf matches = WF_STRBUF_INIT;
    int rc, n = 0;

    id[0] = '\0';
    if (spec == NULL || spec[0] == '\0') {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "an empty run id");
        return WF_EINVAL;
    }
    /* Argo's `@latest` and the word users reach for first mean `last` (an id starts with a
     * digit, so neither is a prefix of one). */
    if (strcmp(spec, "latest") == 0 || strcmp(spec, "@latest") == 0)
        spec = "last";
    rc = wf__store_read_begin(s, err);
    if (rc != WF_OK)
        return rc;
    /* An exact id wins over a prefix that also matches longer ids. */
    if (strcmp(spec, "last") == 0)
        rc = wf__store_prep(s, "SELECT run_id FROM runs ORDER BY seq DESC LIMIT 1", &st, err);
    else
        rc = wf__store_prep(s,
                            "SELECT run_id FROM runs WHERE run_id = ?1 UNION ALL "
                            "SELECT run_id FROM (SELECT run_id FROM runs WHERE run_id <> ?1 AND "
                            "substr(run_id, 1, length(?1)) = ?1 ORDER BY seq DESC LIMIT 5)",
                            &st, err);
    if (rc != WF_OK)
        goto out;
    sqlite3_bind_text(st, 1, spec, -1, SQLITE_STATIC);
    for (;;) {
        int r = wf__store_step(s, st, err);
        const char *rid;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            goto out;
        }
        rid = wf__store_col_text(st, 0);
        if (rid == NULL)
            continue;
        if (n == 0)
            snprintf(id, 64, "%s", rid);
        /* The exact match came first: nothing else counts. */
        if (n == 0 && strcmp(rid, spec) == 0) {
            n = 1;
            break;
        }
        wf_strbuf_addf(&matches, "%s%s", n > 0 ? ", " : "", rid);
        n++;
    }
    if (n == 0) {
        id[0] = '\0';
        if (strcmp(spec, "last") == 0)
            wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no runs recorded in %s yet", s->dir);
        else
            wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no run matches '%s' in %s", spec, s->dir);
        rc = WF_ENOENT;
    } else if (n > 1) {
        id[0] = '\0';
        wf_error_set(err, WF_EINVAL, NULL, 0, 0,
                     "'%s' matches several runs (%s%s); give more of the id", spec,
                     wf_strbuf_str(&matches), n > 4 ? ", ..." : "");
        rc = WF_EINVAL;
    }
out:
    sqlite3_finalize(st);
    wf__store_read_end(s);
    wf_strbuf_release(&matches);
    return rc;
}

/* The columns every run object shows, in this order, at the start of a SELECT on runs. A
 * store of schema 1 (opened read-only, so not migrated) has no owner columns: NULL stands in. */
#define RUN_COLS                                                                     \
    "seq, run_id, workflow, file_path, status, started_ms, ended_ms, resumed_from, " \
    "file_sha256, inputs_json, outputs_json, "
#define OWNER_COLS    "owner_pid, owner_host, owner_start"
#define NO_OWNER_COLS "NULL, NULL, NULL"

/* "SELECT <run columns> <rest>" for this store's schema. Owned. */
static char *run_select(const wf_store *s, const char *rest)
{
    return wf_xasprintf("SELECT " RUN_COLS "%s %s",
                        s->schema_version >= 2 ? OWNER_COLS : NO_OWNER_COLS, rest);
}

/* Appends word to sb so that a POSIX shell reads it back as one word, unchanged. */
static void add_shell_word(wf_strbuf *sb, const char *word)
{
    bool plain = word[0] != '\0';

    for (const char *p = word; *p != '\0' && plain; p++)
        plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                strchr("-_./,:=+@%", *p) != NULL;
    if (plain) {
        wf_strbuf_adds(sb, word);
        return;
    }
    wf_strbuf_adds(sb, "'");
    for (const char *p = word; *p != '\0'; p++) {
        if (*p == '\'')
            wf_strbuf_adds(sb, "'\\''");
        else
            wf_strbuf_add(sb, p, 1);
    }
    wf_strbuf_adds(sb, "'");
}

/* The command that continues an interrupted run. */
static char *resume_hint(const wf_store *s, const char *file, const char *run_id)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "wfengine run ");
    add_shell_word(&sb, file != NULL && file[0] != '\0' ? file : "FILE");
    wf_strbuf_adds(&sb, " --resume ");
    add_shell_word(&sb, run_id);
    if (strcmp(s->dir, ".wfengine") != 0) {
        wf_strbuf_adds(&sb, " --store ");
        add_shell_word(&sb, s->dir);
    }
    return wf_strbuf_detach(&sb, NULL);
}

/* The run object of a row selected with run_select. The status is the recorded one, except
 * that a run recorded as running whose owner is gone is "interrupted" (*interrupted set). */
static json_object *run_summary(const wf_store *s, sqlite3_stmt *st, bool *interrupted)
{
    json_object *o = wf__store_checked(json_object_new_object()), *owner = NULL;
    const char *run_id = wf__store_col_text(st, 1), *status = wf__store_col_text(st, 4);
    bool has_owner = sqlite3_column_type(st, 11) != SQLITE_NULL;
    wf__owner_state state = WF__OWNER_UNKNOWN;

    *interrupted = false;
    if (status != NULL && strcmp(status, "running") == 0 && run_id != NULL) {
        state = wf__store_owner_state(s, run_id, has_owner, sqlite3_column_int64(st, 11),
                                      wf__store_col_text(st, 12), wf__store_col_text(st, 13));
        *interrupted = state == WF__OWNER_GONE;
    }
    add_col_str(o, "run_id", st, 1);
    add_col_str(o, "workflow", st, 2);
    add_col_str(o, "file", st, 3);
    wf__store_add_str(o, "status", *interrupted ? "interrupted" : status);
    add_col_int(o, "started_ms", st, 5);
    add_col_int(o, "ended_ms", st, 6);
    if (sqlite3_column_type(st, 5) != SQLITE_NULL && sqlite3_column_type(st, 6) != SQLITE_NULL)
        wf__store_add_int(o, "duration_ms",
                          sqlite3_column_int64(st, 6) - sqlite3_column_int64(st, 5));
    else
        json_object_object_add(o, "duration_ms", NULL);
    add_col_str(o, "resumed_from", st, 7);
    if (has_owner) {
        owner = wf__store_checked(json_object_new_object());
        add_col_int(owner, "pid", st, 11);
        add_col_str(owner, "host", st, 12);
        add_col_str(owner, "process_start", st, 13);
    }
    json_object_object_add(o, "owner", owner);
    /* Only for a run recorded as running: true (its process holds its lock), false (gone:
     * "interrupted"), null (cannot be told from here: another host, or no owner recorded). */
    if (status != NULL && strcmp(status, "running") == 0 && state != WF__OWNER_UNKNOWN)
        add_bool(o, "owner_alive", state == WF__OWNER_ALIVE);
    else
        json_object_object_add(o, "owner_alive", NULL);
    if (*interrupted) {
        char *hint = resume_hint(s, wf__store_col_text(st, 3), run_id);

        wf__store_add_str(o, "resume_hint", hint);
        free(hint);
    } else {
        json_object_object_add(o, "resume_hint", NULL);
    }
    return o;
}

/* The runs of ids (n of them) that the last snapshot showed as interrupted: true when one of
 * them is no longer recorded as running. Their lock was found free after that snapshot was
 * taken, and an owner commits the end before it frees the lock, so this new snapshot sees
 * any end that made the lock free: then the caller reads again. */
static bool ended_meanwhile(wf_store *s, const char *const *ids, size_t n)
{
    sqlite3_stmt *st = NULL;
    wf_error err;
    bool ended = false;

    if (n == 0)
        return false;
    wf_error_init(&err);
    if (wf__store_read_begin(s, &err) != WF_OK)
        goto out;
    if (wf__store_prep(s, "SELECT status FROM runs WHERE run_id = ?1", &st, &err) == WF_OK) {
        for (size_t i = 0; i < n && !ended; i++) {
            sqlite3_bind_text(st, 1, ids[i], -1, SQLITE_STATIC);
            ended = sqlite3_step(st) == SQLITE_ROW && wf__store_col_text(st, 0) != NULL &&
                    strcmp(wf__store_col_text(st, 0), "running") != 0;
            sqlite3_reset(st);
        }
    }
    sqlite3_finalize(st);
    wf__store_read_end(s);
out:
    wf_error_release(&err);
    return ended;
}

/* How often a query is read again because a run ended while it was read. Each retry needs a
 * run that ended in between, and a run ends once. */
#define READ_RETRIES 3

/* {"pending": n, "running": n, "succeeded": n, "failed": n, "skipped": n, "cancelled": n,
 *  "interrupted": n, "ignored": n}: every status always present, so the shape does not depend
 * on what happened. The tasks of an interrupted run that were running count as interrupted;
 * "ignored" is how many of the failed ones failed under continue-on-error. */
static int task_counts(wf_store *s, sqlite3_stmt *st, int64_t seq, bool interrupted,
                       json_object **out, wf_error *err)
{
    json_object *o = wf__store_checked(json_object_new_object());
    int rc = WF_OK;

    for (int i = WF_STATUS_PENDING; i <= WF_STATUS_CANCELLED; i++)
        wf__store_add_int(o, wf_status_name((wf_status)i), 0);
    wf__store_add_int(o, "interrupted", 0);
    wf__store_add_int(o, "ignored", 0);
    sqlite3_bind_int64(st, 1, seq);
    for (;;) {
        int r = wf__store_step(s, st, err);
        const char *status;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            break;
        }
        status = wf__store_col_text(st, 0);
        if (status != NULL && interrupted && strcmp(status, "running") == 0)
            status = "interrupted";
        if (status != NULL)
            wf__store_add_int(o, status, sqlite3_column_int64(st, 1));
        if (status != NULL && strcmp(status, "failed") == 0)
            wf__store_add_int(o, "ignored", sqlite3_column_int64(st, 2));
    }
    sqlite3_reset(st);
    if (rc != WF_OK) {
        json_object_put(o);
        o = NULL;
    }
    *out = o;
    return rc;
}

/* One reading of wf_store_runs_json; the ids of the runs it found interrupted go to *gone. */
static int runs_once(wf_store *s, int limit, json_object **out, char ***gone, size_t *n_gone,
                     wf_error *err)
{
    sqlite3_stmt *st = NULL, *counts = NULL;
    json_object *arr = wf__store_checked(json_object_new_array());
    char *sql = run_select(s, "FROM runs ORDER BY seq DESC LIMIT ?1");
    int rc;

    *out = NULL;
    rc = wf__store_read_begin(s, err);
    if (rc != WF_OK) {
        json_object_put(arr);
        free(sql);
        return rc;
    }
    rc = wf__store_prep(s, sql, &st, err);
    if (rc == WF_OK)
        rc = wf__store_prep(s,
                            s->schema_version >= 3
                                ? "SELECT status, count(*), sum(ignored) FROM tasks "
                                  "WHERE run_seq = ?1 GROUP BY status"
                                : "SELECT status, count(*), 0 FROM tasks WHERE run_seq = ?1 "
                                  "GROUP BY status",
                            &counts, err);
    if (rc != WF_OK)
        goto out;
    sqlite3_bind_int64(st, 1, limit > 0 ? limit : -1);
    for (;;) {
        int r = wf__store_step(s, st, err);
        json_object *run, *tasks = NULL;
        bool interrupted;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            goto out;
        }
        run = run_summary(s, st, &interrupted);
        json_object_array_add(arr, run);
        if (interrupted) {
            *gone = wf_xrealloc(*gone, (*n_gone + 1) * sizeof(**gone));
            (*gone)[(*n_gone)++] = wf_xstrdup(wf__store_col_text(st, 1));
        }
        rc = task_counts(s, counts, sqlite3_column_int64(st, 0), interrupted, &tasks, err);
        if (rc != WF_OK)
            goto out;
        json_object_object_add(run, "tasks", tasks);
    }
out:
    sqlite3_finalize(counts);
    sqlite3_finalize(st);
    wf__store_read_end(s);
    free(sql);
    if (rc == WF_OK) {
        *out = arr;
        arr = NULL;
    }
    json_object_put(arr);
    return rc;
}

static void free_ids(char **ids, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    free(ids);
}

int wf_store_runs_json(wf_store *s, int limit, json_object **out, wf_error *err)
{
    int rc = WF_OK;

    *out = NULL;
    for (int attempt = 0; attempt < READ_RETRIES; attempt++) {
        char **gone = NULL;
        size_t n_gone = 0;
        bool again;

        json_object_put(*out);
        *out = NULL;
        rc = runs_once(s, limit, out, &gone, &n_gone, err);
        again = rc == WF_OK && ended_meanwhile(s, (const char *const *)gone, n_gone);
        free_ids(gone, n_gone);
        if (!again)
            break;
    }
    if (rc == WF_ENOENT && s->schema_version == 0) {
        /* A read-only store that has no tables yet: no runs. */
        *out = wf__store_checked(json_object_new_array());
        rc = WF_OK;
    }
    return rc;
}

/* o[key] = the hash, "" for none (like add_col_hash). */
static void add_hash(json_object *o, const char *key, const char *v)
{
    wf__store_add_str(o, key, v ? v : "");
}

/* One unit as `show --json` lists it (owned). */
static json_object *unit_object(const wf__unit_view *u)
{
    json_object *o = wf__store_checked(json_object_new_object());

    wf__store_add_int(o, "index", u->index);
    wf__store_add_int(o, "attempt", u->attempt);
    wf__store_add_str(o, "status", u->status);
    if (u->has_times) {
        wf__store_add_int(o, "started_ms", u->started_ms);
        wf__store_add_int(o, "ended_ms", u->ended_ms);
    } else {
        json_object_object_add(o, "started_ms", NULL);
        json_object_object_add(o, "ended_ms", NULL);
    }
    wf__store_add_int(o, "exit_code", u->exit_code);
    wf__store_add_str(o, "error", u->error);
    add_bool(o, "cached", u->cached);
    add_bool(o, "reused", u->reused);
    add_hash(o, "stdout_hash", u->stdout_hash);
    add_hash(o, "stderr_hash", u->stderr_hash);
    add_bool(o, "ignored", u->ignored);
    wf__store_add_str(o, "label", u->label);
    return o;
}

/* A page of the units of one task (see wf_store_page), by index then attempt, into *out;
 * *next is the index the next page starts at, or -2 when none is left. At most limit
 * distinct indices (0: all). */
static int task_units(wf_store *s, int64_t seq, const char *task, const wf_store_page *page,
                      json_object **out, int64_t *next, wf_error *err)
{
    json_object *arr = wf__store_checked(json_object_new_array());
    wf__unit_cursor c;
    wf__unit_view u;
    int64_t shown = 0, last = INT64_MIN;
    int rc = wf__unit_cursor_open(s, &c, seq, task, page->offset > 0 ? page->offset : INT64_MIN,
                                  page->status, false, err);

    *next = -2;
    *out = NULL;
    if (rc != WF_OK) {
        json_object_put(arr);
        return rc;
    }
    while ((rc = wf__unit_cursor_next(&c, &u, err)) == WF_OK) {
        if (u.index != last && page->limit > 0 && shown == page->limit) {
            *next = u.index;
            break;
        }
        if (u.index != last)
            shown++;
        last = u.index;
        json_object_array_add(arr, unit_object(&u));
    }
    wf__unit_cursor_close(&c);
    if (rc == WF_ENOENT)
        rc = WF_OK;
    if (rc != WF_OK) {
        json_object_put(arr);
        return rc;
    }
    *out = arr;
    return WF_OK;
}

int wf_store_task_units_each(wf_store *s, const char *run_id, const char *task,
                             const wf_store_page *page, int (*each)(json_object *unit, void *ud),
                             void *ud, wf_error *err)
{
    wf__unit_cursor c;
    wf__unit_view u;
    sqlite3_stmt *none;
    int64_t seq = 0;
    int rc = wf__store_run_begin(s, run_id, NULL, &seq, &none, err);

    if (rc != WF_OK)
        return rc;
    rc = wf__unit_cursor_open(s, &c, seq, task, page->offset > 0 ? page->offset : INT64_MIN,
                              page->status, false, err);
    if (rc != WF_OK) {
        wf__store_read_end(s);
        return rc;
    }
    while ((rc = wf__unit_cursor_next(&c, &u, err)) == WF_OK) {
        json_object *o = unit_object(&u);
        int stop = each(o, ud);

        json_object_put(o);
        if (stop != 0) {
            rc = stop;
            break;
        }
    }
    wf__unit_cursor_close(&c);
    wf__store_read_end(s);
    return rc == WF_ENOENT ? WF_OK : rc;
}

/* {"succeeded": n, "failed": n, "skipped": n, "cancelled": n}: the task's units by the status
 * of their latest attempt, from unit_counts (computed for a store older than schema 8). */
static int unit_counts(wf_store *s, sqlite3_stmt *st, int64_t seq, const char *task,
                       json_object **out, wf_error *err)
{
    json_object *o = wf__store_checked(json_object_new_object());
    int rc = WF_OK;

    for (int i = WF_STATUS_SUCCEEDED; i <= WF_STATUS_CANCELLED; i++)
        wf__store_add_int(o, wf_status_name((wf_status)i), 0);
    sqlite3_bind_int64(st, 1, seq);
    sqlite3_bind_text(st, 2, task, -1, SQLITE_TRANSIENT);
    for (;;) {
        int r = wf__store_step(s, st, err);

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            break;
        }
        if (wf__store_col_text(st, 0) != NULL)
            wf__store_add_int(o, wf__store_col_text(st, 0), sqlite3_column_int64(st, 1));
    }
    sqlite3_reset(st);
    if (rc != WF_OK) {
        json_object_put(o);
        o = NULL;
    }
    *out = o;
    return rc;
}

static int run_once(wf_store *s, const char *run_id, const wf_store_page *page, json_object **out,
                    bool *interrupted, wf_error *err)
{
    sqlite3_stmt *st = NULL, *tasks_st = NULL, *counts_st = NULL;
    json_object *run = NULL, *v = NULL, *tasks = NULL;
    char *sql = run_select(s, "FROM runs WHERE run_id = ?1");
    int64_t seq = 0;
    int rc;

    *out = NULL;
    *interrupted = false;
    rc = wf__store_read_begin(s, err);
    if (rc != WF_OK) {
        free(sql);
        return rc;
    }
    rc = wf__store_prep(s, sql, &st, err);
    /* A read-only store may be of schema 2, before `ignored` (then 0). */
    if (rc == WF_OK)
        rc = wf__store_prep(
            s,
            s->schema_version >= 7   ? "SELECT name, status, started_ms, ended_ms, error, n_items, "
                                       "with_items, ignored, source FROM tasks WHERE run_seq = ?1 "
                                       "ORDER BY position, seq"
            : s->schema_version >= 3 ? "SELECT name, status, started_ms, ended_ms, error, n_items, "
                                       "with_items, ignored, NULL FROM tasks WHERE run_seq = ?1 "
                                       "ORDER BY position, seq"
                                     : "SELECT name, status, started_ms, ended_ms, error, n_items, "
                                       "with_items, 0, NULL FROM tasks WHERE run_seq = ?1 "
                                       "ORDER BY position, seq",
            &tasks_st, err);
    if (rc == WF_OK)
        rc = wf__store_prep(s,
                            s->schema_version >= 8
                                ? "SELECT status, n FROM unit_counts WHERE run_seq = ?1 AND "
                                  "task = ?2"
                                : "SELECT status, count(*) FROM units u WHERE run_seq = ?1 AND "
                                  "task = ?2 AND attempt = (SELECT max(attempt) FROM units v "
                                  "WHERE v.run_seq = u.run_seq AND v.task = u.task AND "
                                  "v.idx = u.idx) GROUP BY status",
                            &counts_st, err);
    if (rc != WF_OK)
        goto out;
    sqlite3_bind_text(st, 1, run_id ? run_id : "", -1, SQLITE_STATIC);
    switch (wf__store_step(s, st, err)) {
    case SQLITE_ROW:
        break;
    case SQLITE_DONE:
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no run '%s' in %s", run_id ? run_id : "", s->dir);
        rc = WF_ENOENT;
        goto out;
    default:
        rc = WF_ESTORE;
        goto out;
    }
    seq = sqlite3_column_int64(st, 0);
    run = run_summary(s, st, interrupted);
    add_col_str(run, "file_sha256", st, 8);
    rc = wf__store_parse_json(s, wf__store_col_text(st, 9), "a run's inputs", &v, err);
    if (rc != WF_OK)
        goto out;
    /* Inputs are always an object, even for a run recorded without them. */
    json_object_object_add(run, "inputs", v ? v : wf__store_checked(json_object_new_object()));
    rc = wf__store_parse_json(s, wf__store_col_text(st, 10), "a run's outputs", &v, err);
    if (rc != WF_OK)
        goto out;
    json_object_object_add(run, "outputs", v);

    tasks = wf__store_checked(json_object_new_array());
    json_object_object_add(run, "tasks", tasks);
    sqlite3_bind_int64(tasks_st, 1, seq);
    for (;;) {
        int r = wf__store_step(s, tasks_st, err);
        json_object *t, *units = NULL, *counts = NULL;
        int64_t next = -2;

        if (r == SQLITE_DONE)
            break;
        if (r != SQLITE_ROW) {
            rc = WF_ESTORE;
            goto out;
        }
        t = wf__store_checked(json_object_new_object());
        json_object_array_add(tasks, t);
        add_col_str(t, "name", tasks_st, 0);
        if (*interrupted && wf__store_col_text(tasks_st, 1) != NULL &&
            strcmp(wf__store_col_text(tasks_st, 1), "running") == 0)
            wf__store_add_str(t, "status", "interrupted");
        else
            add_col_str(t, "status", tasks_st, 1);
        add_col_int(t, "started_ms", tasks_st, 2);
        add_col_int(t, "ended_ms", tasks_st, 3);
        add_col_str(t, "error", tasks_st, 4);
        add_col_int(t, "n_items", tasks_st, 5);
        add_bool(t, "with_items", sqlite3_column_int(tasks_st, 6) != 0);
        add_bool(t, "ignored", sqlite3_column_int(tasks_st, 7) != 0);
        if (wf__store_col_text(tasks_st, 8) != NULL)
            add_col_str(t, "source", tasks_st, 8);
        rc = unit_counts(s, counts_st, seq, wf__store_col_text(tasks_st, 0), &counts, err);
        if (rc != WF_OK)
            goto out;
        json_object_object_add(t, "counts", counts);
        if (page->limit < 0)
            continue;
        rc = task_units(s, seq, wf__store_col_text(tasks_st, 0), page, &units, &next, err);
        if (rc != WF_OK)
            goto out;
        json_object_object_add(t, "units", units);
        if (next > -2)
            wf__store_add_int(t, "next_index", next);
        else
            json_object_object_add(t, "next_index", NULL);
    }
out:
    sqlite3_finalize(counts_st);
    sqlite3_finalize(tasks_st);
    sqlite3_finalize(st);
    wf__store_read_end(s);
    free(sql);
    if (rc == WF_OK) {
        *out = run;
        run = NULL;
    }
    json_object_put(run);
    return rc;
}

int wf_store_run_json(wf_store *s, const char *run_id, json_object **out, wf_error *err)
{
    const wf_store_page all = { 0 };

    return wf_store_run_page_json(s, run_id, &all, out, err);
}

int wf_store_run_page_json(wf_store *s, const char *run_id, const wf_store_page *page,
                           json_object **out, wf_error *err)
{
    int rc = WF_OK;

    *out = NULL;
    for (int attempt = 0; attempt < READ_RETRIES; attempt++) {
        const char *ids[1] = { run_id ? run_id : "" };
        bool interrupted = false;

        json_object_put(*out);
        *out = NULL;
        rc = run_once(s, run_id, page, out, &interrupted, err);
        if (rc != WF_OK || !interrupted || !ended_meanwhile(s, ids, 1))
            break;
    }
    return rc;
}
