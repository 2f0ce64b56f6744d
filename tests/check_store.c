/* Tests for store/: layout and schema, blobs, the writer, queries, gc and crash safety. */
/* ctest-cost: 36 (about its seconds in its slowest CI stage; see CMakeLists.txt) */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <sqlite3.h>

#include "wf_store.h"

/* ---- helpers ------------------------------------------------------------------------ */

/* A fresh directory for one test; the store goes in <tmp>/store unless a test says else. */
static char *make_tmp(void)
{
    char tmpl[] = "/tmp/check_store_XXXXXX";

    ck_assert_ptr_nonnull(mkdtemp(tmpl));
    return wf_xstrdup(tmpl);
}

static void remove_tree(const char *dir)
{
    char *cmd = wf_xasprintf("rm -rf '%s'", dir);

    ck_assert_int_eq(system(cmd), 0);
    free(cmd);
}

static wf_store *open_ok(const char *dir)
{
    wf_store *s = NULL;
    wf_error err;

    wf_error_init(&err);
    if (wf_store_open(dir, &s, &err) != WF_OK)
        ck_abort_msg("wf_store_open(%s): %s", dir, err.message);
    wf_error_release(&err);
    return s;
}

static void close_ok(wf_store *s)
{
    wf_error err;

    wf_error_init(&err);
    if (wf_store_close(s, &err) != WF_OK)
        ck_abort_msg("wf_store_close: %s", err.message);
    wf_error_release(&err);
}

static void flush_ok(wf_store *s)
{
    wf_error err;

    wf_error_init(&err);
    if (wf_store_flush(s, &err) != WF_OK)
        ck_abort_msg("wf_store_flush: %s", err.message);
    wf_error_release(&err);
}

/* Runs a query returning one integer directly on <dir>/state.db, bypassing the store. */
static int64_t sql_int(const char *dir, const char *sql)
{
    char *path = wf_xasprintf("%s/state.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        ck_abort_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return v;
}

static char *sql_text(const char *dir, const char *sql)
{
    char *path = wf_xasprintf("%s/state.db", dir);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    char *v = NULL;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) != NULL)
        v = wf_xstrdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(path);
    return v;
}

static void sql_exec(const char *dir, const char *sql)
{
    char *path = wf_xasprintf("%s/state.db", dir);
    sqlite3 *db = NULL;

    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL),
                     SQLITE_OK);
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
        ck_abort_msg("%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_close(db);
    free(path);
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");

    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static bool exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static char *blob_path(const char *dir, const char *hash)
{
    return wf_xasprintf("%s/blobs/%.2s/%s", dir, hash, hash);
}

/* Counts the files in blobs/ whose names start with prefix ("" for all, ".tmp-"). */
static int count_blob_files(const char *dir, const char *prefix)
{
    char *blobs = wf_xasprintf("%s/blobs", dir);
    DIR *d = opendir(blobs);
    int n = 0;

    ck_assert_ptr_nonnull(d);
    for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
        char *shard;
        DIR *sd;

        if (e->d_name[0] == '.')
            continue;
        shard = wf_xasprintf("%s/%s", blobs, e->d_name);
        sd = opendir(shard);
        ck_assert_ptr_nonnull(sd);
        for (struct dirent *f = readdir(sd); f != NULL; f = readdir(sd)) {
            if (strcmp(f->d_name, ".") == 0 || strcmp(f->d_name, "..") == 0)
                continue;
            if (strncmp(f->d_name, prefix, strlen(prefix)) == 0)
                n++;
        }
        closedir(sd);
        free(shard);
    }
    closedir(d);
    free(blobs);
    return n;
}

static void record_run(wf_store *s, const char *run_id, const char *workflow)
{
    wf_store_run_rec r = { .run_id = run_id,
                           .workflow = workflow,
                           .file_path = "wf.yaml",
                           .file_sha256 = NULL,
                           .inputs_json = "{\"name\":\"x\",\"token\":\"***\"}",
                           .resumed_from = NULL,
                           .started_ms = 1000 };

    wf_store_record_run_start(s, &r);
}

static void record_task(wf_store *s, const char *run_id, const char *task, wf_status status)
{
    wf_store_task_rec t = { .run_id = run_id,
                            .task = task,
                            .status = status,
                            .started_ms = 1000,
                            .ended_ms = status == WF_STATUS_RUNNING ? 0 : 2000,
                            .error = status == WF_STATUS_FAILED ? "exit 1" : NULL };

    wf_store_record_task(s, &t);
}

static wf_store_unit_rec unit(const char *run_id, const char *task, int64_t index, int attempt,
                              wf_status status)
{
    wf_store_unit_rec u = { .run_id = run_id,
                            .task = task,
                            .index = index,
                            .attempt = attempt,
                            .status = status,
                            .started_ms = 1000,
                            .ended_ms = 1500,
                            .exit_code = status == WF_STATUS_SUCCEEDED ? 0 : 1 };

    return u;
}

/* wf_store_succeeded_each's callback: one object per run of units, in a JSON array (ctx):
 * {"task", "index" (the first), "last", "result", "stdout_hash", "stderr_hash", "exit_code",
 *  "digests" (hex of every unit's digest, or null)}. */
static int collect_reused(const wf_store_reused *u, void *ctx)
{
    json_object *o = json_object_new_object();
    wf_strbuf hex = WF_STRBUF_INIT;

    json_object_object_add(o, "task", json_object_new_string(u->task));
    json_object_object_add(o, "index", json_object_new_int64(u->first));
    json_object_object_add(o, "last", json_object_new_int64(u->last));
    json_object_object_add(o, "result", json_object_get(u->result));
    json_object_object_add(o, "stdout_hash", json_object_new_string(u->stdout_hash));
    json_object_object_add(o, "stderr_hash", json_object_new_string(u->stderr_hash));
    json_object_object_add(o, "exit_code", json_object_new_int(u->exit_code));
    for (int64_t i = 0; u->digests != NULL && i < (u->last - u->first + 1) * WF_STORE_DIGEST_LEN;
         i++)
        wf_strbuf_addf(&hex, "%02x", u->digests[i]);
    json_object_object_add(o, "digests",
                           u->digests ? json_object_new_string(wf_strbuf_str(&hex)) : NULL);
    wf_strbuf_release(&hex);
    json_object_array_add(ctx, o);
    return WF_OK;
}

/* The succeeded units of a run (of one task, or all), as collect_reused makes them. */
static int succeeded_units(wf_store *s, const char *run_id, const char *task, json_object **arr,
                           wf_error *err)
{
    int rc;

    *arr = json_object_new_array();
    rc = wf_store_succeeded_each(s, run_id, task, 0, collect_reused, *arr, err);
    if (rc != WF_OK) {
        json_object_put(*arr);
        *arr = NULL;
    }
    return rc;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        ck_abort_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return v ? json_object_get_string(v) : NULL;
}

static int64_t jint(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        ck_abort_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return json_object_get_int64(v);
}

static json_object *jget(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v))
        ck_abort_msg("no key '%s' in %s", key, json_object_to_json_string(o));
    return v;
}

/* ---- open, layout, schema ----------------------------------------------------------- */

START_TEST(test_open_layout_wal)
{
    char *tmp = make_tmp();
    char *dir = wf_xasprintf("%s/a/b/.wfengine", tmp);
    char *db = wf_xasprintf("%s/state.db", dir);
    char *blobs = wf_xasprintf("%s/blobs", dir);
    char *mode;
    struct stat st;
    wf_store *s = open_ok(dir);

    ck_assert_str_eq(wf_store_dir(s), dir);
    ck_assert(!wf_store_failed(s));
    ck_assert(exists(db));
    ck_assert_int_eq(stat(blobs, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    mode = sql_text(dir, "PRAGMA journal_mode");
    ck_assert_str_eq(mode, "wal");
    free(mode);
    close_ok(s);
    /* Reopening finds the same store. */
    s = open_ok(dir);
    record_run(s, "r1", "wf");
    close_ok(s);
    s = open_ok(dir);
    close_ok(s);
    ck_assert_int_eq(sql_int(dir, "SELECT count(*) FROM runs"), 1);
    /* A trailing slash names the same store. */
    free(db);
    db = wf_xasprintf("%s/", dir);
    s = open_ok(db);
    ck_assert_str_eq(wf_store_dir(s), dir);
    close_ok(s);
    ck_assert_int_eq(wf_store_close(NULL, NULL), WF_OK);
    remove_tree(tmp);
    free(blobs);
    free(db);
    free(dir);
    free(tmp);
}
END_TEST

/* A small WAL is left at close for the next open to recover (no checkpoint, no fdatasync);
 * a WAL over WF__STORE_WAL_KEEP is checkpointed into the database and removed. */
START_TEST(test_wal_kept_small_checkpointed_large)
{
    char *tmp = make_tmp();
    char *wal = wf_xasprintf("%s/state.db-wal", tmp);
    char big[512];
    wf_store *s = open_ok(tmp);

    record_run(s, "r1", "wf");
    close_ok(s);
    ck_assert(exists(wal));
    /* The next open recovers it: the run is there. */
    s = open_ok(tmp);
    record_run(s, "r2", "wf");
    close_ok(s);
    ck_assert(exists(wal));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 2);

    memset(big, 'x', sizeof(big) - 3);
    big[0] = '"';
    big[sizeof(big) - 3] = '"';
    big[sizeof(big) - 2] = '\0';
    s = open_ok(tmp);
    record_run(s, "r3", "wf");
    for (int i = 0; i < 4000; i++) {
        wf_store_unit_rec u = unit("r3", "t", i, 1, WF_STATUS_SUCCEEDED);

        u.result_json = big;
        wf_store_record_unit(s, &u);
    }
    close_ok(s);
    ck_assert(!exists(wal));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 4000);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 3);
    remove_tree(tmp);
    free(wal);
    free(tmp);
}
END_TEST

/* Short runs one after another: each writer checkpoints what the earlier runs left once the
 * WAL is over WF__STORE_WAL_CHECKPOINT_AT (128 KiB), so the WAL that the next open must read
 * stays near that, where it used to grow to WF__STORE_WAL_KEEP (1 MiB) before a close
 * checkpointed it. Nothing is lost on the way. */
START_TEST(test_wal_checkpointed_by_next_writer)
{
    char *tmp = make_tmp();
    char *wal = wf_xasprintf("%s/state.db-wal", tmp);
    struct stat st;
    off_t largest = 0;

    for (int r = 0; r < 40; r++) {
        char run_id[32];
        wf_store *s = open_ok(tmp);

        snprintf(run_id, sizeof(run_id), "r%d", r);
        record_run(s, run_id, "wf");
        for (int i = 0; i < 3; i++) {
            wf_store_unit_rec u = unit(run_id, "t", i, 1, WF_STATUS_SUCCEEDED);

            wf_store_record_unit(s, &u);
        }
        wf_store_record_run_end(s, run_id, WF_STATUS_SUCCEEDED, 3000, "{}");
        close_ok(s);
        /* (A WAL over 1 MiB is checkpointed at close and removed.) */
        if (stat(wal, &st) == 0 && st.st_size > largest)
            largest = st.st_size;
    }
    ck_assert_int_lt(largest, 256 * 1024);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 40);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 120);
    remove_tree(tmp);
    free(wal);
    free(tmp);
}
END_TEST

/* The header's bytes 18 and 19 (2 and 2 in WAL mode) as the file holds them. */
static int header_mode(const char *dir)
{
    char *path = wf_xasprintf("%s/state.db", dir);
    unsigned char h[20] = { 0 };
    int fd = open(path, O_RDONLY);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pread(fd, h, sizeof(h), 0), (ssize_t)sizeof(h));
    close(fd);
    free(path);
    return h[18] * 10 + h[19];
}

/* wf_store_open reads the journal mode from the file's header, not with a pragma (which
 * reads the schema): a store switched out of WAL mode by another tool is switched back. */
START_TEST(test_wal_mode_restored)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);

    record_run(s, "r1", "wf");
    close_ok(s);
    ck_assert_int_eq(header_mode(tmp), 22);
    sql_exec(tmp, "PRAGMA journal_mode=DELETE");
    ck_assert_int_eq(header_mode(tmp), 11);
    s = open_ok(tmp);
    record_run(s, "r2", "wf");
    close_ok(s);
    ck_assert_int_eq(header_mode(tmp), 22);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 2);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_schema_version)
{
    char *tmp = make_tmp();
    char *created;

    close_ok(open_ok(tmp));
    ck_assert_int_eq(sql_int(tmp, "PRAGMA user_version"), WF_STORE_SCHEMA_VERSION);
    created = sql_text(tmp, "SELECT value FROM meta WHERE key = 'created_by'");
    ck_assert_ptr_nonnull(created);
    ck_assert(strncmp(created, "wfengine ", 9) == 0);
    free(created);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND "
                                  "name IN ('runs', 'tasks', 'units', 'cache', 'meta')"),
                     5);
    /* Reopening does not migrate again (no duplicate meta rows, no error). */
    close_ok(open_ok(tmp));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM meta"), 2);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_empty_file_migrated)
{
    char *tmp = make_tmp();
    char *db = wf_xasprintf("%s/state.db", tmp);

    /* An empty file is an empty SQLite database: version 0, migrated to 1. */
    write_file(db, "", 0);
    close_ok(open_ok(tmp));
    ck_assert_int_eq(sql_int(tmp, "PRAGMA user_version"), WF_STORE_SCHEMA_VERSION);
    remove_tree(tmp);
    free(db);
    free(tmp);
}
END_TEST

START_TEST(test_newer_schema_refused)
{
    char *tmp = make_tmp();
    char *db = wf_xasprintf("%s/state.db", tmp);
    wf_store *s = NULL;
    wf_error err;

    close_ok(open_ok(tmp));
    sql_exec(tmp, "PRAGMA user_version = 12");
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(tmp, &s, &err), WF_ESTORE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(err.code, WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, db));
    ck_assert_ptr_nonnull(strstr(
        err.message, "was written by a newer wfengine (schema 12, this one reads up to 11)"));
    /* Refusing changed nothing. */
    ck_assert_int_eq(sql_int(tmp, "PRAGMA user_version"), 12);
    wf_error_release(&err);
    remove_tree(tmp);
    free(db);
    free(tmp);
}
END_TEST

START_TEST(test_garbage_refused)
{
    char *tmp = make_tmp();
    char *db = wf_xasprintf("%s/state.db", tmp);
    char garbage[8192];
    wf_store *s = NULL;
    wf_error err;

    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (char)('a' + i % 26);
    write_file(db, garbage, sizeof(garbage));
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(tmp, &s, &err), WF_ESTORE);
    ck_assert_ptr_null(s);
    ck_assert_ptr_nonnull(strstr(err.message, db));
    ck_assert_ptr_nonnull(strstr(err.message, "not a database"));
    wf_error_release(&err);
    remove_tree(tmp);
    free(db);
    free(tmp);
}
END_TEST

START_TEST(test_foreign_sqlite_refused)
{
    char *tmp = make_tmp();
    wf_store *s = NULL;
    wf_error err;

    sql_exec(tmp, "CREATE TABLE invoices (id INTEGER)");
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(tmp, &s, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, "not a wfengine store"));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM sqlite_schema"), 1);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/*
 * Stores that cannot be opened. The tests run as root, for whom chmod does not stop writes,
 * so "cannot write here" is made real another way: a path under a regular file (mkdir says
 * ENOTDIR), or a file where the store or its blobs directory should be.
 */
static const struct {
    const char *sub;    /* the store, relative to the tmp dir ("%s" is the tmp dir) */
    const char *file;   /* a regular file to create first, relative to tmp, or NULL */
    const char *named;  /* what the message must name, relative to tmp */
    const char *reason; /* what the message must say */
} unopenable[] = {
    { "/passwd/x", "/passwd", "/passwd/x", "Not a directory" },
    { "/store", "/store", "/store", "not a directory" },
    { "/store", "/store/blobs", "/store/blobs", "cannot create the blobs directory" },
    { "/store", "/store/state.db/", "/store/state.db", "" },
};

START_TEST(test_unopenable_refused)
{
    char *tmp = make_tmp();
    char *dir = wf_xasprintf("%s%s", tmp, unopenable[_i].sub);
    char *named = wf_xasprintf("%s%s", tmp, unopenable[_i].named);
    wf_store *s = NULL;
    wf_error err;

    if (unopenable[_i].file != NULL) {
        char *f = wf_xasprintf("%s%s", tmp, unopenable[_i].file);
        size_t n = strlen(f);

        if (f[n - 1] == '/') {
            /* A directory where the database file should be. */
            f[n - 1] = '\0';
            ck_assert_int_eq(mkdir(dir, 0777), 0);
            ck_assert_int_eq(mkdir(f, 0777), 0);
        } else {
            if (strchr(unopenable[_i].file + 1, '/') != NULL)
                ck_assert_int_eq(mkdir(dir, 0777), 0);
            write_file(f, "x", 1);
        }
        free(f);
    }
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open(dir, &s, &err), WF_ESTORE);
    ck_assert_ptr_null(s);
    ck_assert_int_eq(err.code, WF_ESTORE);
    if (strstr(err.message, named) == NULL || strstr(err.message, unopenable[_i].reason) == NULL)
        ck_abort_msg("message '%s' should name '%s' and say '%s'", err.message, named,
                     unopenable[_i].reason);
    wf_error_release(&err);
    remove_tree(tmp);
    free(named);
    free(dir);
    free(tmp);
}
END_TEST

START_TEST(test_system_path_refused)
{
    wf_store *s = NULL;
    wf_error err;

    /* The path of the issue: a directory under a regular file. */
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_open("/etc/passwd/x", &s, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, "/etc/passwd/x"));
    ck_assert_ptr_nonnull(strstr(err.message, "Not a directory"));
    wf_error_release(&err);
}
END_TEST

/* ---- blobs -------------------------------------------------------------------------- */

START_TEST(test_blob_dedup_sharded)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char h1[WF_SHA256_HEX_LEN + 1], h2[WF_SHA256_HEX_LEN + 1], want[WF_SHA256_HEX_LEN + 1];
    char *path, *shard;
    wf_error err;

    wf_error_init(&err);
    wf_sha256_hex("hello\n", 6, want);
    ck_assert_int_eq(wf_store_put_blob(s, "hello\n", 6, h1, &err), WF_OK);
    ck_assert_str_eq(h1, want);
    ck_assert_int_eq(wf_store_put_blob(s, "hello\n", 6, h2, &err), WF_OK);
    ck_assert_str_eq(h1, h2);
    path = blob_path(tmp, h1);
    ck_assert(exists(path));
    shard = wf_xasprintf("%s/blobs/%.2s", tmp, h1);
    ck_assert(exists(shard));
    /* One file for the content stored twice, and no temporary file left behind. */
    ck_assert_int_eq(count_blob_files(tmp, ""), 1);
    ck_assert_int_eq(count_blob_files(tmp, ".tmp-"), 0);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(shard);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(test_blob_roundtrip)
{
    static const char binary[] = { 'a', '\0', 'b', '\n', (char)0xff };
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char h[WF_SHA256_HEX_LEN + 1];
    char *data = NULL;
    size_t len = 0;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, binary, sizeof(binary), h, &err), WF_OK);
    ck_assert_int_eq(wf_store_get_blob(s, h, &data, &len, &err), WF_OK);
    ck_assert_uint_eq(len, sizeof(binary));
    ck_assert(memcmp(data, binary, len) == 0);
    ck_assert_int_eq(data[len], '\0');
    free(data);
    /* The empty blob is a blob like any other. */
    ck_assert_int_eq(wf_store_put_blob(s, "", 0, h, &err), WF_OK);
    ck_assert_int_eq(wf_store_get_blob(s, h, &data, &len, &err), WF_OK);
    ck_assert_uint_eq(len, 0);
    ck_assert_str_eq(data, "");
    free(data);
    /* Absent, and not a hash at all (never a path outside blobs/). */
    memset(h, '0', WF_SHA256_HEX_LEN);
    ck_assert_int_eq(wf_store_get_blob(s, h, &data, &len, &err), WF_ENOENT);
    ck_assert_ptr_null(data);
    ck_assert_int_eq(wf_store_get_blob(s, "../../state.db", &data, &len, &err), WF_ENOENT);
    ck_assert(!wf_store_failed(s));
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_blob_corrupt_detected)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char h[WF_SHA256_HEX_LEN + 1];
    char *path, *data = NULL;
    size_t len = 0;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "original", 8, h, &err), WF_OK);
    path = blob_path(tmp, h);
    write_file(path, "tampered", 8);
    ck_assert_int_eq(wf_store_get_blob(s, h, &data, &len, &err), WF_ESTORE);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(err.message, path));
    ck_assert_ptr_nonnull(strstr(err.message, "corrupt"));
    /* A blob of the wrong size (a short write) is rewritten by the next put of its content. */
    write_file(path, "orig", 4);
    ck_assert_int_eq(wf_store_put_blob(s, "original", 8, h, &err), WF_OK);
    ck_assert_int_eq(wf_store_get_blob(s, h, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "original");
    free(data);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(path);
    free(tmp);
}
END_TEST

START_TEST(test_blob_disk_error_fails_store)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char h[WF_SHA256_HEX_LEN + 1], want[WF_SHA256_HEX_LEN + 1];
    char *shard;
    wf_store_unit_rec u;
    wf_error err;

    /* A file where the shard directory should be: creating the blob fails like a disk
     * error would. */
    wf_sha256_hex("payload", 7, want);
    shard = wf_xasprintf("%s/blobs/%.2s", tmp, want);
    write_file(shard, "x", 1);
    record_run(s, "r1", "wf");
    flush_ok(s);
    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "payload", 7, h, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, shard));
    ck_assert_ptr_nonnull(strstr(err.message, "Not a directory"));
    ck_assert(wf_store_failed(s));
    /* Records after the failure are dropped; flush and close report the first error. */
    u = unit("r1", "t", -1, 1, WF_STATUS_SUCCEEDED);
    u.result_hash = h;
    wf_store_record_unit(s, &u);
    wf_error_release(&err);
    ck_assert_int_eq(wf_store_flush(s, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, shard));
    wf_error_release(&err);
    ck_assert_int_eq(wf_store_close(s, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, shard));
    wf_error_release(&err);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 0);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 1);
    remove_tree(tmp);
    free(shard);
    free(tmp);
}
END_TEST

/* ---- the writer --------------------------------------------------------------------- */

#define PER_THREAD 5000

typedef struct producer {
    wf_store *s;
    char task[8];
} producer;

static void *produce(void *arg)
{
    producer *p = arg;

    for (int i = 0; i < PER_THREAD; i++) {
        wf_store_unit_rec u = unit("r1", p->task, i, 1, WF_STATUS_SUCCEEDED);

        u.result_json = "{\"ok\":true}";
        wf_store_record_unit(p->s, &u);
    }
    return NULL;
}

START_TEST(test_writer_threads_in_order)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    pthread_t th[4];
    producer p[4];

    record_run(s, "r1", "wf");
    for (int i = 0; i < 4; i++) {
        p[i].s = s;
        snprintf(p[i].task, sizeof(p[i].task), "t%d", i);
        ck_assert_int_eq(pthread_create(&th[i], NULL, produce, &p[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    flush_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 4 * PER_THREAD);
    /* Each thread's records were committed in the order it queued them: rowid order and
     * index order agree within a task. */
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units a JOIN units b "
                                  "ON a.run_seq = b.run_seq AND a.task = b.task "
                                  "AND a.idx = b.idx + 1 WHERE a.rowid < b.rowid"),
                     0);
    close_ok(s);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_writer_batched)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char h[WF_SHA256_HEX_LEN + 1];
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "out\n", 4, h, &err), WF_OK);
    record_run(s, "r1", "wf");
    /* More than the queue bound, so producers wait for the writer at least once. */
    for (int i = 0; i < 100000; i++) {
        wf_store_unit_rec u = unit("r1", "many", i, 1, WF_STATUS_SUCCEEDED);

        u.result_json = "42";
        u.stdout_hash = h;
        wf_store_record_unit(s, &u);
    }
    flush_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 100000);
    ck_assert_int_eq(sql_int(tmp, "SELECT max(idx) FROM units"), 99999);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_writer_close_flushes)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);

    record_run(s, "r1", "wf");
    for (int i = 0; i < 1000; i++) {
        wf_store_unit_rec u = unit("r1", "t", i, 1, WF_STATUS_SUCCEEDED);

        wf_store_record_unit(s, &u);
    }
    wf_store_record_run_end(s, "r1", WF_STATUS_SUCCEEDED, 3000, "{\"n\":1}");
    close_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 1000);
    ck_assert_int_eq(sql_int(tmp, "SELECT ended_ms FROM runs"), 3000);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* The flush fails with a message that says want (and, if not NULL, names also), the store
 * stays failed, and its close fails too; then tmp is removed and freed. */
static void expect_store_failed(wf_store *s, char *tmp, const char *want, const char *also)
{
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_flush(s, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, want));
    if (also != NULL)
        ck_assert_ptr_nonnull(strstr(err.message, also));
    ck_assert(wf_store_failed(s));
    wf_error_release(&err);
    ck_assert_int_eq(wf_store_close(s, &err), WF_ESTORE);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}

START_TEST(test_writer_unknown_run_fails)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    wf_store_unit_rec u = unit("nope", "t", -1, 1, WF_STATUS_SUCCEEDED);

    wf_store_record_unit(s, &u);
    expect_store_failed(s, tmp, "run 'nope' was never started", NULL);
}
END_TEST

/* A run start given the file's text and no hash: the writer thread records the text's
 * SHA-256, and only that (the text itself is not kept). */
START_TEST(test_writer_hashes_file_text)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    const char *text = "version: 1\ntasks:\n  a:\n    run: echo hi\n";
    wf_store_run_rec r = { .run_id = "r-text",
                           .workflow = "w",
                           .file_path = "w.yaml",
                           .file_text = text,
                           .inputs_json = "{}",
                           .started_ms = 1000 };
    char want[WF_SHA256_HEX_LEN + 1];
    json_object *run = NULL;
    wf_error err;

    wf_error_init(&err);
    wf_store_record_run_start(s, &r);
    ck_assert_int_eq(wf_store_flush(s, &err), WF_OK);
    ck_assert_int_eq(wf_store_run_json(s, "r-text", &run, &err), WF_OK);
    wf_sha256_hex(text, strlen(text), want);
    ck_assert_str_eq(jstr(run, "file_sha256"), want);
    json_object_put(run);
    /* A hash given wins over the text. */
    r.run_id = "r-both";
    r.file_sha256 = "f1";
    wf_store_record_run_start(s, &r);
    ck_assert_int_eq(wf_store_flush(s, &err), WF_OK);
    ck_assert_int_eq(wf_store_run_json(s, "r-both", &run, &err), WF_OK);
    ck_assert_str_eq(jstr(run, "file_sha256"), "f1");
    json_object_put(run);
    ck_assert_int_eq(wf_store_close(s, &err), WF_OK);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* The writer prepares its statements on its own thread: a store at the current version whose
 * tables were damaged by hand opens, and then fails at the first flush with SQLite's message,
 * not a crash or a record silently lost. */
START_TEST(test_writer_prepare_failure_fails_store)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_close(s, &err), WF_OK);
    wf_error_release(&err);
    sql_exec(tmp, "DROP TABLE tasks");
    s = open_ok(tmp);
    record_run(s, "r-1", "w");
    expect_store_failed(s, tmp, "cannot prepare a statement", "tasks");
}
END_TEST

/* ---- queries ------------------------------------------------------------------------ */

/* Two runs: r-aaa1 (succeeded) then r-aaa2 (failed, resumes r-aaa1). */
static void two_runs(wf_store *s)
{
    wf_store_run_rec r2 = { .run_id = "r-aaa2",
                            .workflow = "build",
                            .file_path = "b.yaml",
                            .file_sha256 = "f0",
                            .inputs_json = "{}",
                            .resumed_from = "r-aaa1",
                            .started_ms = 500 };
    wf_store_unit_rec u;

    record_run(s, "r-aaa1", "build");
    record_task(s, "r-aaa1", "compile", WF_STATUS_RUNNING);
    record_task(s, "r-aaa1", "test", WF_STATUS_RUNNING);
    record_task(s, "r-aaa1", "compile", WF_STATUS_SUCCEEDED);
    record_task(s, "r-aaa1", "test", WF_STATUS_SUCCEEDED);
    /* Recorded out of order: show sorts units by index, then attempt. */
    u = unit("r-aaa1", "test", 1, 2, WF_STATUS_SUCCEEDED);
    wf_store_record_unit(s, &u);
    u = unit("r-aaa1", "test", 0, 1, WF_STATUS_SUCCEEDED);
    wf_store_record_unit(s, &u);
    u = unit("r-aaa1", "test", 1, 1, WF_STATUS_FAILED);
    u.error = "exit 1";
    wf_store_record_unit(s, &u);
    u = unit("r-aaa1", "compile", -1, 1, WF_STATUS_SUCCEEDED);
    u.cached = true;
    wf_store_record_unit(s, &u);
    wf_store_record_run_end(s, "r-aaa1", WF_STATUS_SUCCEEDED, 4000, "{\"artifact\":\"a.out\"}");
    /* A wall clock that went backwards does not reorder runs. */
    wf_store_record_run_start(s, &r2);
    record_task(s, "r-aaa2", "compile", WF_STATUS_FAILED);
    wf_store_record_run_end(s, "r-aaa2", WF_STATUS_FAILED, 900, NULL);
}

START_TEST(test_runs_json)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    json_object *runs = NULL, *r, *tasks;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_runs_json(s, 0, &runs, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(runs), 0);
    json_object_put(runs);
    two_runs(s);
    flush_ok(s);
    ck_assert_int_eq(wf_store_runs_json(s, 0, &runs, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(runs), 2);
    r = json_object_array_get_idx(runs, 0);
    ck_assert_str_eq(jstr(r, "run_id"), "r-aaa2");
    ck_assert_str_eq(jstr(r, "workflow"), "build");
    ck_assert_str_eq(jstr(r, "file"), "b.yaml");
    ck_assert_str_eq(jstr(r, "status"), "failed");
    ck_assert_int_eq(jint(r, "started_ms"), 500);
    ck_assert_int_eq(jint(r, "ended_ms"), 900);
    ck_assert_int_eq(jint(r, "duration_ms"), 400);
    ck_assert_str_eq(jstr(r, "resumed_from"), "r-aaa1");
    tasks = jget(r, "tasks");
    ck_assert_int_eq(jint(tasks, "failed"), 1);
    ck_assert_int_eq(jint(tasks, "succeeded"), 0);
    /* Seven statuses and how many failures were ignored. */
    ck_assert_int_eq(json_object_object_length(tasks), 8);
    ck_assert_int_eq(jint(tasks, "interrupted"), 0);
    ck_assert_int_eq(jint(tasks, "ignored"), 0);
    r = json_object_array_get_idx(runs, 1);
    ck_assert_str_eq(jstr(r, "run_id"), "r-aaa1");
    ck_assert_ptr_null(jget(r, "resumed_from"));
    ck_assert_int_eq(jint(jget(r, "tasks"), "succeeded"), 2);
    json_object_put(runs);
    ck_assert_int_eq(wf_store_runs_json(s, 1, &runs, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(runs), 1);
    json_object_put(runs);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_run_json)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    json_object *run = NULL, *tasks, *t, *units, *u;
    wf_error err;

    wf_error_init(&err);
    two_runs(s);
    flush_ok(s);
    ck_assert_int_eq(wf_store_run_json(s, "r-aaa1", &run, &err), WF_OK);
    ck_assert_str_eq(jstr(run, "run_id"), "r-aaa1");
    ck_assert_str_eq(jstr(run, "status"), "succeeded");
    ck_assert_int_eq(jint(run, "duration_ms"), 3000);
    ck_assert_ptr_null(jget(run, "file_sha256"));
    ck_assert_str_eq(jstr(jget(run, "inputs"), "token"), "***");
    ck_assert_str_eq(jstr(jget(run, "outputs"), "artifact"), "a.out");
    tasks = jget(run, "tasks");
    ck_assert_int_eq(json_object_array_length(tasks), 2);
    /* Tasks in the order they were first recorded, with their last status. */
    t = json_object_array_get_idx(tasks, 0);
    ck_assert_str_eq(jstr(t, "name"), "compile");
    ck_assert_str_eq(jstr(t, "status"), "succeeded");
    ck_assert_ptr_null(jget(t, "error"));
    ck_assert_int_eq(jint(t, "n_items"), 0);
    units = jget(t, "units");
    ck_assert_int_eq(json_object_array_length(units), 1);
    u = json_object_array_get_idx(units, 0);
    ck_assert_int_eq(jint(u, "index"), -1);
    ck_assert(json_object_get_boolean(jget(u, "cached")));
    ck_assert(!json_object_get_boolean(jget(u, "reused")));
    ck_assert_str_eq(jstr(u, "stdout_hash"), "");
    t = json_object_array_get_idx(tasks, 1);
    ck_assert_str_eq(jstr(t, "name"), "test");
    units = jget(t, "units");
    ck_assert_int_eq(json_object_array_length(units), 3);
    u = json_object_array_get_idx(units, 0);
    ck_assert_int_eq(jint(u, "index"), 0);
    u = json_object_array_get_idx(units, 1);
    ck_assert_int_eq(jint(u, "index"), 1);
    ck_assert_int_eq(jint(u, "attempt"), 1);
    ck_assert_str_eq(jstr(u, "status"), "failed");
    ck_assert_str_eq(jstr(u, "error"), "exit 1");
    ck_assert_int_eq(jint(u, "exit_code"), 1);
    ck_assert_int_eq(jint(u, "started_ms"), 1000);
    ck_assert_int_eq(jint(u, "ended_ms"), 1500);
    u = json_object_array_get_idx(units, 2);
    ck_assert_int_eq(jint(u, "attempt"), 2);
    json_object_put(run);
    ck_assert_int_eq(wf_store_run_json(s, "r-aaa2", &run, &err), WF_OK);
    ck_assert_ptr_null(jget(run, "outputs"));
    ck_assert_str_eq(jstr(run, "file_sha256"), "f0");
    json_object_put(run);
    ck_assert_int_eq(wf_store_run_json(s, "r-zzz", &run, &err), WF_ENOENT);
    ck_assert_ptr_null(run);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

static const struct {
    const char *spec;
    int rc;
    const char *id;   /* on WF_OK */
    const char *text; /* in the message otherwise */
} resolve_cases[] = {
    { "last", WF_OK, "r-aaa2", NULL },
    { "latest", WF_OK, "r-aaa2", NULL },  /* what users reach for first */
    { "@latest", WF_OK, "r-aaa2", NULL }, /* Argo's name for it */
    { "r-aaa1", WF_OK, "r-aaa1", NULL },
    { "r-aaa2", WF_OK, "r-aaa2", NULL },
    { "r-bcd", WF_OK, "r-bcdef", NULL },
    /* An exact id wins even though it is also a prefix of another. */
    { "r-bc", WF_OK, "r-bc", NULL },
    { "r-a", WF_EINVAL, NULL, "matches several runs" },
    { "r-b", WF_EINVAL, NULL, "r-bcdef, r-bc" },
    { "r-aaa", WF_EINVAL, NULL, "r-aaa2, r-aaa1" },
    { "x", WF_ENOENT, NULL, "no run matches 'x'" },
    { "", WF_EINVAL, NULL, "empty" },
};

START_TEST(test_resolve_run)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char id[64];
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_resolve_run(s, "last", id, &err), WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "no runs"));
    record_run(s, "r-bc", "wf");
    record_run(s, "r-bcdef", "wf");
    two_runs(s);
    flush_ok(s);
    ck_assert_int_eq(wf_store_resolve_run(s, resolve_cases[_i].spec, id, &err),
                     resolve_cases[_i].rc);
    if (resolve_cases[_i].rc == WF_OK) {
        ck_assert_str_eq(id, resolve_cases[_i].id);
    } else if (strstr(err.message, resolve_cases[_i].text) == NULL) {
        ck_abort_msg("'%s': message '%s' should say '%s'", resolve_cases[_i].spec, err.message,
                     resolve_cases[_i].text);
    }
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_unit_output)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char o1[WF_SHA256_HEX_LEN + 1], o2[WF_SHA256_HEX_LEN + 1], e2[WF_SHA256_HEX_LEN + 1];
    char *data = NULL;
    size_t len = 0;
    wf_store_unit_rec u;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "first\n", 6, o1, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "second\n", 7, o2, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "warn\n", 5, e2, &err), WF_OK);
    record_run(s, "r1", "wf");
    record_task(s, "r1", "t", WF_STATUS_SUCCEEDED);
    record_task(s, "r1", "items", WF_STATUS_SUCCEEDED);
    u = unit("r1", "t", -1, 1, WF_STATUS_FAILED);
    u.stdout_hash = o1;
    wf_store_record_unit(s, &u);
    u = unit("r1", "t", -1, 2, WF_STATUS_SUCCEEDED);
    u.stdout_hash = o2;
    u.stderr_hash = e2;
    wf_store_record_unit(s, &u);
    for (int i = 0; i < 3; i++) {
        u = unit("r1", "items", i, 1, WF_STATUS_SUCCEEDED);
        wf_store_record_unit(s, &u);
    }
    flush_ok(s);

    /* Attempt 0 is the latest. */
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 0, false, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "second\n");
    ck_assert_uint_eq(len, 7);
    free(data);
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 1, false, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "first\n");
    free(data);
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 0, true, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "warn\n");
    free(data);
    /* No stderr recorded for attempt 1: empty, not an error. */
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 1, true, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "");
    ck_assert_uint_eq(len, 0);
    free(data);
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "items", 2, 0, false, &data, &len, &err), WF_OK);
    free(data);

    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 3, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_ptr_null(data);
    ck_assert_ptr_nonnull(strstr(err.message, "attempts 1 to 2"));
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "nope", -1, 0, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "its tasks: t, items"));
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "items", 7, 0, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "items are 0 to 2"));
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", 4, 0, false, &data, &len, &err), WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "has no items"));
    ck_assert_int_eq(wf_store_unit_output(s, "r9", "t", -1, 0, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "no run 'r9'"));
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* wf_store_label_index: the lowest index with the label, through schema 9's index; a label
 * nobody has, or another task's, is WF_ENOENT naming it. */
START_TEST(test_label_index)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    static const char *const labels[] = { "linux", "darwin", "linux", NULL };
    int64_t index = -7;
    wf_error err;

    wf_error_init(&err);
    record_run(s, "r1", "wf");
    for (int i = 0; i < 4; i++) {
        wf_store_unit_rec u = unit("r1", "build", 10 + i, 1, WF_STATUS_SUCCEEDED);

        u.label = labels[i];
        wf_store_record_unit(s, &u);
    }
    {
        wf_store_unit_rec u = unit("r1", "other", 3, 1, WF_STATUS_SUCCEEDED);

        u.label = "windows";
        wf_store_record_unit(s, &u);
    }
    flush_ok(s);
    ck_assert_int_eq(wf_store_label_index(s, "r1", "build", "linux", &index, &err), WF_OK);
    ck_assert_int_eq(index, 10);
    ck_assert_int_eq(wf_store_label_index(s, "r1", "build", "darwin", &index, &err), WF_OK);
    ck_assert_int_eq(index, 11);
    ck_assert_int_eq(wf_store_label_index(s, "r1", "build", "windows", &index, &err), WF_ENOENT);
    ck_assert_str_eq(err.message, "task 'build' of run r1 has no item labelled 'windows'");
    ck_assert_int_eq(index, 11);
    wf_error_release(&err);
    close_ok(s);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* collect_reused until the array holds 3, then stop (a window's reader). */
static int collect_three(const wf_store_reused *u, void *ctx)
{
    collect_reused(u, ctx);
    return json_object_array_length(ctx) >= 3 ? 1 : WF_OK;
}

/* wf_store_succeeded_from: one task's succeeded units from an index on, plain units and a
 * range cut to start there; the walk stops at the first value of fn that is not WF_OK, which
 * is returned. */
START_TEST(test_succeeded_from)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    json_object *arr = json_object_new_array(), *o;
    wf_store_unit_rec u;
    wf_error err;
    char val[16];

    wf_error_init(&err);
    record_run(s, "r1", "wf");
    /* t: 0..9 with values of their own (one unit each), 12 failed; 20..39 null. */
    for (int i = 0; i < 40; i++) {
        if (i >= 10 && i < 20 && i != 12)
            continue;
        u = unit("r1", "t", i, 1, i == 12 ? WF_STATUS_FAILED : WF_STATUS_SUCCEEDED);
        snprintf(val, sizeof(val), "%d", i * 10);
        u.result_json = i < 10 ? val : NULL;
        wf_store_record_unit(s, &u);
    }
    flush_ok(s);
    ck_assert_int_eq(wf_store_succeeded_from(s, "r1", "t", 7, 0, collect_reused, arr, &err), WF_OK);
    ck_assert_int_ge(json_object_array_length(arr), 4);
    o = json_object_array_get_idx(arr, 0);
    ck_assert_int_eq(jint(o, "index"), 7);
    ck_assert_int_eq(json_object_get_int(jget(o, "result")), 70);
    ck_assert_int_eq(jint(json_object_array_get_idx(arr, 2), "index"), 9);
    ck_assert_int_eq(jint(json_object_array_get_idx(arr, 3), "index"), 20);
    o = json_object_array_get_idx(arr, json_object_array_length(arr) - 1);
    ck_assert_int_eq(jint(o, "last"), 39);
    json_object_put(arr);
    /* From the middle of the null ones (a range or not, it starts there). */
    arr = json_object_new_array();
    ck_assert_int_eq(wf_store_succeeded_from(s, "r1", "t", 25, 0, collect_reused, arr, &err),
                     WF_OK);
    ck_assert_int_eq(jint(json_object_array_get_idx(arr, 0), "index"), 25);
    o = json_object_array_get_idx(arr, json_object_array_length(arr) - 1);
    ck_assert_int_eq(jint(o, "last"), 39);
    json_object_put(arr);
    /* Stopped by fn after three: its value comes back. */
    arr = json_object_new_array();
    ck_assert_int_eq(wf_store_succeeded_from(s, "r1", "t", 0, 0, collect_three, arr, &err), 1);
    ck_assert_int_eq(json_object_array_length(arr), 3);
    ck_assert_int_eq(jint(json_object_array_get_idx(arr, 2), "index"), 2);
    json_object_put(arr);
    ck_assert_int_eq(wf_store_succeeded_from(s, "nope", "t", 0, 0, collect_reused, NULL, &err),
                     WF_ENOENT);
    wf_error_release(&err);
    close_ok(s);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_succeeded_units)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char big_hash[WF_SHA256_HEX_LEN + 1], out[WF_SHA256_HEX_LEN + 1];
    wf_strbuf big = WF_STRBUF_INIT;
    json_object *arr = NULL, *o;
    wf_store_unit_rec u;
    wf_error err;

    wf_error_init(&err);
    wf_strbuf_adds(&big, "{\"lines\":[");
    for (int i = 0; i < 500; i++)
        wf_strbuf_addf(&big, "%s%d", i ? "," : "", i);
    wf_strbuf_adds(&big, "]}");
    ck_assert_uint_gt(big.len, WF_STORE_INLINE_MAX);
    ck_assert_int_eq(wf_store_put_blob(s, big.buf, big.len, big_hash, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "o", 1, out, &err), WF_OK);
    record_run(s, "r1", "wf");
    /* a: failed, then succeeded: counts. */
    u = unit("r1", "a", -1, 1, WF_STATUS_FAILED);
    wf_store_record_unit(s, &u);
    u = unit("r1", "a", -1, 2, WF_STATUS_SUCCEEDED);
    u.result_json = "{\"v\":1}";
    u.stdout_hash = out;
    wf_store_record_unit(s, &u);
    /* b: succeeded, then run again and failed: does not count. */
    u = unit("r1", "b", -1, 1, WF_STATUS_SUCCEEDED);
    u.result_json = "1";
    wf_store_record_unit(s, &u);
    u = unit("r1", "b", -1, 2, WF_STATUS_FAILED);
    wf_store_record_unit(s, &u);
    /* c: items, one with a large result in a blob, one with a null result. */
    u = unit("r1", "c", 0, 1, WF_STATUS_SUCCEEDED);
    u.result_hash = big_hash;
    u.item_hash = out;
    wf_store_record_unit(s, &u);
    u = unit("r1", "c", 1, 1, WF_STATUS_SUCCEEDED);
    wf_store_record_unit(s, &u);
    u = unit("r1", "c", 2, 1, WF_STATUS_SKIPPED);
    wf_store_record_unit(s, &u);
    flush_ok(s);

    ck_assert_int_eq(succeeded_units(s, "r1", NULL, &arr, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(arr), 3);
    o = json_object_array_get_idx(arr, 0);
    ck_assert_str_eq(jstr(o, "task"), "a");
    ck_assert_int_eq(jint(o, "index"), -1);
    ck_assert_int_eq(jint(jget(o, "result"), "v"), 1);
    ck_assert_str_eq(jstr(o, "stdout_hash"), out);
    ck_assert_str_eq(jstr(o, "stderr_hash"), "");
    ck_assert_ptr_null(jget(o, "digests"));
    ck_assert_int_eq(jint(o, "exit_code"), 0);
    o = json_object_array_get_idx(arr, 1);
    ck_assert_str_eq(jstr(o, "task"), "c");
    ck_assert_int_eq(jint(o, "index"), 0);
    ck_assert_int_eq(strncmp(jstr(o, "digests"), out, 2 * WF_STORE_DIGEST_LEN), 0);
    ck_assert_int_eq(json_object_array_length(jget(jget(o, "result"), "lines")), 500);
    o = json_object_array_get_idx(arr, 2);
    ck_assert_int_eq(jint(o, "index"), 1);
    ck_assert_ptr_null(jget(o, "result"));
    json_object_put(arr);
    ck_assert_int_eq(succeeded_units(s, "r2", NULL, &arr, &err), WF_ENOENT);
    close_ok(s);
    wf_strbuf_release(&big);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_cache)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char so[WF_SHA256_HEX_LEN + 1], se[WF_SHA256_HEX_LEN + 1], big[WF_SHA256_HEX_LEN + 1];
    char h1[WF_SHA256_HEX_LEN + 1], h2[WF_SHA256_HEX_LEN + 1], *files = NULL;
    json_object *res = NULL;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_cache_get(s, "k1", &res, h1, h2, NULL, NULL, &err), WF_ENOENT);
    ck_assert_ptr_null(res);
    ck_assert_int_eq(wf_store_put_blob(s, "so", 2, so, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "se", 2, se, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "[1,2,3]", 7, big, &err), WF_OK);
    wf_store_record_cache(s, "k1", "{\"a\":\"b\"}", NULL, NULL, so, "", NULL, -1);
    wf_store_record_cache(s, "k2", NULL, big, NULL, NULL, NULL, NULL, -1);
    wf_store_record_cache(s, "k3", NULL, NULL, NULL, NULL, NULL,
                          "[{\"path\":\"out/a\",\"mode\":493,\"hash\":\"h\"}]", -1);
    flush_ok(s);
    ck_assert_int_eq(wf_store_cache_get(s, "k1", &res, h1, h2, NULL, NULL, &err), WF_OK);
    ck_assert_str_eq(jstr(res, "a"), "b");
    ck_assert_str_eq(h1, so);
    ck_assert_str_eq(h2, "");
    json_object_put(res);
    ck_assert_int_eq(wf_store_cache_get(s, "k2", &res, h1, h2, NULL, NULL, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(res), 3);
    ck_assert_str_eq(h1, "");
    json_object_put(res);
    ck_assert_int_eq(wf_store_cache_get(s, "k3", &res, h1, h2, &files, NULL, &err), WF_OK);
    ck_assert_ptr_null(res);
    ck_assert_str_eq(files, "[{\"path\":\"out/a\",\"mode\":493,\"hash\":\"h\"}]");
    free(files);
    ck_assert_int_eq(wf_store_cache_get(s, "k2", &res, h1, h2, &files, NULL, &err), WF_OK);
    ck_assert_ptr_null(files); /* an entry without files */
    json_object_put(res);
    /* A later entry for the same key replaces the earlier one. */
    wf_store_record_cache(s, "k1", "2", NULL, NULL, NULL, se, NULL, -1);
    flush_ok(s);
    ck_assert_int_eq(wf_store_cache_get(s, "k1", &res, h1, h2, NULL, NULL, &err), WF_OK);
    ck_assert_int_eq(json_object_get_int(res), 2);
    ck_assert_str_eq(h1, "");
    ck_assert_str_eq(h2, se);
    json_object_put(res);
    /* A result recorded as its stdout blob converted (schema 6): read back through the mode,
     * and a miss once that blob is gone, like a missing result blob. */
    ck_assert_int_eq(wf_store_put_blob(s, "line 1\nline 2\n", 14, big, &err), WF_OK);
    wf_store_record_cache(s, "k4", NULL, NULL, "lines", big, NULL, NULL, -1);
    wf_store_record_cache(s, "k5", NULL, NULL, "text", big, NULL, NULL, -1);
    wf_store_record_cache(s, "k6", NULL, NULL, "yaml", big, NULL, NULL, -1);
    flush_ok(s);
    ck_assert_int_eq(wf_store_cache_get(s, "k4", &res, h1, h2, NULL, NULL, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(res), 2);
    ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(res, 1)), "line 2");
    ck_assert_str_eq(h1, big);
    json_object_put(res);
    ck_assert_int_eq(wf_store_cache_get(s, "k5", &res, h1, h2, NULL, NULL, &err), WF_OK);
    ck_assert_str_eq(json_object_get_string(res), "line 1\nline 2");
    json_object_put(res);
    ck_assert_int_eq(wf_store_cache_get(s, "k6", &res, h1, h2, NULL, NULL, &err), WF_ESTORE);
    ck_assert_ptr_null(res);
    ck_assert_ptr_nonnull(strstr(err.message, "damaged"));
    wf_error_release(&err);
    /* With a ref, a result in a blob is not read: the blob, its mode and size, and a lines
     * entry's recorded count (9: not the blob's 2, which would be counted by reading it). */
    {
        wf_store_result_ref ref;

        wf_store_record_cache(s, "k7", NULL, NULL, "lines", big, NULL, NULL, 9);
        flush_ok(s);
        ck_assert_int_eq(wf_store_cache_get(s, "k7", &res, h1, h2, NULL, &ref, &err), WF_OK);
        ck_assert_ptr_null(res);
        ck_assert(ref.unread && ref.converted);
        ck_assert_str_eq(ref.hash, big);
        ck_assert_str_eq(ref.mode, "lines");
        ck_assert_int_eq(ref.size, 14);
        ck_assert_int_eq(ref.lines, 9);
        ck_assert_int_eq(wf_store_cache_get(s, "k4", &res, h1, h2, NULL, &ref, &err), WF_OK);
        ck_assert_int_eq(ref.lines, 2); /* older entries: counted */
        ck_assert_int_eq(wf_store_cache_get(s, "k2", &res, h1, h2, NULL, &ref, &err), WF_OK);
        ck_assert(ref.unread && !ref.converted);
        ck_assert_str_eq(ref.mode, "json");
        ck_assert_int_eq(wf_store_cache_get(s, "k1", &res, h1, h2, NULL, &ref, &err), WF_OK);
        ck_assert(!ref.unread); /* inline: read */
        ck_assert_int_eq(json_object_get_int(res), 2);
        json_object_put(res);
    }
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- gc ----------------------------------------------------------------------------- */

START_TEST(test_gc)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char own[5][WF_SHA256_HEX_LEN + 1], shared[WF_SHA256_HEX_LEN + 1];
    char orphan[WF_SHA256_HEX_LEN + 1], cached[WF_SHA256_HEX_LEN + 1], cfile[WF_SHA256_HEX_LEN + 1];
    char *files;
    char *stray, *path;
    json_object *runs = NULL;
    wf_store_gc_stats st;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "shared", 6, shared, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "orphan!", 7, orphan, &err), WF_OK);
    ck_assert_int_eq(wf_store_put_blob(s, "in the cache", 12, cached, &err), WF_OK);
    for (int i = 0; i < 5; i++) {
        char id[8], text[16];
        wf_store_unit_rec u;

        snprintf(id, sizeof(id), "run%d", i);
        snprintf(text, sizeof(text), "output %d", i); /* 8 bytes each */
        ck_assert_int_eq(wf_store_put_blob(s, text, strlen(text), own[i], &err), WF_OK);
        record_run(s, id, "wf");
        record_task(s, id, "t", WF_STATUS_SUCCEEDED);
        u = unit(id, "t", -1, 1, WF_STATUS_SUCCEEDED);
        u.stdout_hash = own[i];
        u.stderr_hash = shared;
        wf_store_record_unit(s, &u);
    }
    wf_store_record_cache(s, "key", NULL, cached, NULL, NULL, NULL, NULL, -1);
    /* A file a cache entry restores (cache.generates) is in use too. */
    ck_assert_int_eq(wf_store_put_blob(s, "a file", 6, cfile, &err), WF_OK);
    files = wf_xasprintf("[{\"path\":\"out/f\",\"mode\":420,\"hash\":\"%s\"}]", cfile);
    wf_store_record_cache(s, "key2", "1", NULL, NULL, NULL, NULL, files, -1);
    free(files);
    /* A temporary file left by a writer that was killed between write and rename. */
    stray = wf_xasprintf("%s/blobs/%.2s/.tmp-1-1", tmp, shared);
    write_file(stray, "abc", 3);

    ck_assert_int_eq(wf_store_gc(s, -1, &st, &err), WF_EINVAL);
    ck_assert_int_eq(wf_store_gc(s, 2, &st, &err), WF_OK);
    ck_assert_int_eq(st.runs_deleted, 3);
    ck_assert_int_eq(st.blobs_deleted, 4);           /* own[0..2] and the orphan */
    ck_assert_int_eq(st.bytes_freed, 3 * 8 + 7 + 3); /* and the stray temporary file */
    ck_assert_int_eq(st.blobs_kept, 5);              /* own[3], own[4], shared, cached, cfile */
    ck_assert(!exists(stray));
    for (int i = 0; i < 5; i++) {
        path = blob_path(tmp, own[i]);
        ck_assert(exists(path) == (i >= 3));
        free(path);
    }
    path = blob_path(tmp, orphan);
    ck_assert(!exists(path));
    free(path);
    path = blob_path(tmp, cached);
    ck_assert(exists(path));
    free(path);
    path = blob_path(tmp, cfile);
    ck_assert(exists(path));
    free(path);
    ck_assert_int_eq(wf_store_runs_json(s, 0, &runs, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(runs), 2);
    ck_assert_str_eq(jstr(json_object_array_get_idx(runs, 0), "run_id"), "run4");
    ck_assert_str_eq(jstr(json_object_array_get_idx(runs, 1), "run_id"), "run3");
    json_object_put(runs);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 2);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM tasks"), 2);
    /* Nothing more to collect; the store still works afterwards. */
    ck_assert_int_eq(wf_store_gc(s, 2, &st, &err), WF_OK);
    ck_assert_int_eq(st.runs_deleted, 0);
    ck_assert_int_eq(st.blobs_deleted, 0);
    ck_assert_int_eq(st.bytes_freed, 0);
    record_run(s, "run5", "wf");
    flush_ok(s);
    ck_assert_int_eq(wf_store_gc(s, 0, &st, &err), WF_OK);
    ck_assert_int_eq(st.runs_deleted, 3);
    ck_assert_int_eq(st.blobs_kept, 2); /* the cache's: a result and a file */
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(stray);
    free(tmp);
}
END_TEST

START_TEST(test_gc_refused_while_in_use)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp), *other = open_ok(tmp);
    wf_store_gc_stats st;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_gc(s, 1, &st, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, "another wfengine is using this store"));
    /* The refusal kept our shared lock: once the other closes, gc works. */
    close_ok(other);
    ck_assert_int_eq(wf_store_gc(s, 1, &st, &err), WF_OK);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- crash safety ------------------------------------------------------------------- */

/* The child: records a run with units whose results are blobs, never flushing after the
 * first batch, until it is killed. */
static void crash_child(const char *dir, int ready_fd)
{
    wf_store *s = NULL;
    wf_error err;
    char h[WF_SHA256_HEX_LEN + 1], text[64];

    wf_error_init(&err);
    if (wf_store_open(dir, &s, &err) != WF_OK)
        _exit(1);
    record_run(s, "crash", "wf");
    for (long i = 0;; i++) {
        wf_store_unit_rec u = unit("crash", "t", i, 1, WF_STATUS_SUCCEEDED);
        int n = snprintf(text, sizeof(text), "{\"result\":%ld}", i);

        if (wf_store_put_blob(s, text, (size_t)n, h, &err) != WF_OK)
            _exit(1);
        u.result_hash = h;
        u.stdout_hash = h;
        wf_store_record_unit(s, &u);
        if (i % 100 == 0) {
            wf_store_task_rec t = { .run_id = "crash",
                                    .task = "t",
                                    .status = WF_STATUS_RUNNING,
                                    .with_items = true,
                                    .n_items = (size_t)i };

            wf_store_record_task(s, &t);
        }
        if (i == 500) {
            if (wf_store_flush(s, &err) != WF_OK || write(ready_fd, "x", 1) != 1)
                _exit(1);
        }
    }
}

START_TEST(test_crash_kill9)
{
    char *tmp = make_tmp();
    int fds[2];
    pid_t pid;
    char c;
    int status;
    wf_store *s;
    json_object *arr = NULL;
    wf_error err;
    struct timespec delay = { 0, (long)(10 + 40 * _i) * 1000000L };

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        crash_child(tmp, fds[1]);
        _exit(2);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    close(fds[0]);
    nanosleep(&delay, NULL);
    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    s = open_ok(tmp);
    wf_error_init(&err);
    /* A prefix: at least what was flushed, indexes 0..n-1 without holes. */
    ck_assert_int_gt(sql_int(tmp, "SELECT count(*) FROM units"), 500);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"),
                     sql_int(tmp, "SELECT max(idx) + 1 FROM units"));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units WHERE run_seq NOT IN "
                                  "(SELECT seq FROM runs)"),
                     0);
    {
        char *ok = sql_text(tmp, "PRAGMA integrity_check");

        ck_assert_str_eq(ok, "ok");
        free(ok);
    }
    /* Every result a row names is there, whole: loading them all checks every hash. */
    ck_assert_int_eq(succeeded_units(s, "crash", NULL, &arr, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(arr),
                     sql_int(tmp, "SELECT count(*) FROM units WHERE result_hash IS NOT NULL"));
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        json_object *o = json_object_array_get_idx(arr, i);

        ck_assert_int_eq(jint(jget(o, "result"), "result"), jint(o, "index"));
    }
    json_object_put(arr);
    /* The store keeps working after the crash. */
    record_run(s, "after", "wf");
    close_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 2);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- disk full ---------------------------------------------------------------------- */

/*
 * A full disk, made real without root or a small file system: RLIMIT_FSIZE caps the size of
 * every file the child writes (with SIGXFSZ ignored, a write past it fails with EFBIG, which
 * is what a full disk looks like to SQLite and to the blob writer). Case 0 fills the WAL with
 * records; case 1 writes a blob larger than the cap. The child exits 0 when the store failed
 * the way it should; the parent then reopens the store without the cap.
 */
/* A run's status, owner_alive (-1 for null) and resume_hint (NULL for null) as runs_json
 * (index 0: the newest) and run_json report them; both must agree. */
typedef struct run_view {
    char status[32];
    int alive;
    char hint[256];
} run_view;

static run_view view_run(wf_store *s, const char *run_id);

static int full_child(const char *dir, int which)
{
    struct rlimit rl = { 256 * 1024, 256 * 1024 };
    char text[1000], h[WF_SHA256_HEX_LEN + 1];
    char *db = wf_xasprintf("%s/state.db", dir);
    wf_store *s = NULL;
    wf_error err;

    wf_error_init(&err);
    signal(SIGXFSZ, SIG_IGN);
    if (wf_store_open(dir, &s, &err) != WF_OK)
        return 10;
    record_run(s, "full", "wf");
    if (wf_store_flush(s, &err) != WF_OK || setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 11;
    if (which == 1) {
        char *big = wf_xmalloc(512 * 1024);

        memset(big, 'b', 512 * 1024);
        if (wf_store_put_blob(s, big, 512 * 1024, h, &err) != WF_ESTORE)
            return 12;
        if (strstr(err.message, "/.tmp-") == NULL || strstr(err.message, "File too large") == NULL)
            return 13;
        free(big);
    } else {
        memset(text, 'x', sizeof(text));
        text[0] = '"';
        text[sizeof(text) - 2] = '"';
        text[sizeof(text) - 1] = '\0';
        for (int i = 0; i < 100000 && !wf_store_failed(s); i++) {
            wf_store_unit_rec u = unit("full", "t", i, 1, WF_STATUS_SUCCEEDED);

            u.result_json = text;
            wf_store_record_unit(s, &u);
            if (i % 50 == 49)
                wf_store_flush(s, NULL);
        }
        if (wf_store_flush(s, &err) != WF_ESTORE || strstr(err.message, db) == NULL)
            return 14;
    }
    if (!wf_store_failed(s))
        return 15;
    wf_error_release(&err);
    /* Records after the failure are dropped, and close reports the first error. */
    record_run(s, "after", "wf");
    if (wf_store_close(s, &err) != WF_ESTORE)
        return 16;
    wf_error_release(&err);
    free(db);
    return 0;
}

START_TEST(test_disk_full)
{
    char *tmp = make_tmp();
    pid_t pid;
    int status;
    wf_store *s;
    char *ok;

    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        _exit(full_child(tmp, _i));
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    /* Without the cap the store opens, holds a prefix of whole rows, and works. */
    s = open_ok(tmp);
    ok = sql_text(tmp, "PRAGMA integrity_check");
    ck_assert_str_eq(ok, "ok");
    free(ok);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 1);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"),
                     sql_int(tmp, "SELECT coalesce(max(idx) + 1, 0) FROM units"));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units WHERE length(result_json) <> 999"),
                     0);
    if (_i == 0)
        ck_assert_int_gt(sql_int(tmp, "SELECT count(*) FROM units"), 0);
    ck_assert_int_eq(count_blob_files(tmp, ".tmp-"), 0);
    /* The run never recorded its end, and its process let go of it: interrupted. */
    ck_assert_str_eq(view_run(s, "full").status, "interrupted");
    record_run(s, "after", "wf");
    close_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 2);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- owners: interrupted runs --------------------------------------------------------- */

static run_view view_run(wf_store *s, const char *run_id)
{
    json_object *runs = NULL, *run = NULL, *r = NULL, *v;
    run_view out = { "", -1, "" };
    wf_error err;

    wf_error_init(&err);
    if (wf_store_runs_json(s, 0, &runs, &err) != WF_OK)
        ck_abort_msg("runs_json: %s", err.message);
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        if (strcmp(jstr(json_object_array_get_idx(runs, i), "run_id"), run_id) == 0)
            r = json_object_array_get_idx(runs, i);
    }
    ck_assert_ptr_nonnull(r);
    if (wf_store_run_json(s, run_id, &run, &err) != WF_OK)
        ck_abort_msg("run_json: %s", err.message);
    ck_assert_str_eq(jstr(r, "status"), jstr(run, "status"));
    snprintf(out.status, sizeof(out.status), "%s", jstr(run, "status"));
    v = jget(run, "owner_alive");
    out.alive = v == NULL ? -1 : json_object_get_boolean(v);
    v = jget(r, "owner_alive");
    ck_assert_int_eq(v == NULL ? -1 : json_object_get_boolean(v), out.alive);
    if (jstr(run, "resume_hint") != NULL)
        snprintf(out.hint, sizeof(out.hint), "%s", jstr(run, "resume_hint"));
    json_object_put(run);
    json_object_put(runs);
    wf_error_release(&err);
    return out;
}

/* The child: opens the store, starts run_id (with one running task), says so and waits to be
 * killed. */
static void owner_child(const char *dir, const char *run_id, int ready_fd)
{
    wf_store *s = NULL;
    wf_error err;

    wf_error_init(&err);
    if (wf_store_open(dir, &s, &err) != WF_OK)
        _exit(1);
    record_run(s, run_id, "wf");
    record_task(s, run_id, "slow", WF_STATUS_RUNNING);
    if (wf_store_flush(s, &err) != WF_OK || write(ready_fd, "x", 1) != 1)
        _exit(1);
    for (;;)
        pause();
}

static pid_t start_owner(const char *dir, const char *run_id)
{
    int fds[2];
    pid_t pid;
    char c;

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        owner_child(dir, run_id, fds[1]);
    }
    close(fds[1]);
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    close(fds[0]);
    return pid;
}

static void kill9(pid_t pid)
{
    int status;

    ck_assert_int_eq(kill(pid, SIGKILL), 0);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

START_TEST(test_owner_recorded_lock_released_at_end)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char *host, *lock = wf_xasprintf("%s/locks/r-own.lock", tmp);
    char name[256] = "";
    run_view v;

    record_run(s, "r-own", "wf");
    flush_ok(s);
    ck_assert_int_eq(sql_int(tmp, "SELECT owner_pid FROM runs WHERE run_id = 'r-own'"),
                     (int64_t)getpid());
    host = sql_text(tmp, "SELECT owner_host FROM runs WHERE run_id = 'r-own'");
    ck_assert_int_eq(gethostname(name, sizeof(name) - 1), 0);
    ck_assert_str_eq(host, name);
    free(host);
    ck_assert(exists(lock));
    v = view_run(s, "r-own");
    ck_assert_str_eq(v.status, "running");
    ck_assert_int_eq(v.alive, 1);
    ck_assert_str_eq(v.hint, "");
    /* The end committed, the lock file goes. */
    wf_store_record_run_end(s, "r-own", WF_STATUS_SUCCEEDED, 3000, NULL);
    flush_ok(s);
    ck_assert(!exists(lock));
    v = view_run(s, "r-own");
    ck_assert_str_eq(v.status, "succeeded");
    ck_assert_int_eq(v.alive, -1);
    close_ok(s);
    free(lock);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* How the owner of a killed run is told gone: by its free lock, by its pid when the lock file
 * is gone, or not at all when it ran on another host. */
static const struct {
    const char *name;
    const char *sql; /* applied after the kill, or NULL */
    bool remove_lock;
    const char *status;
    int alive;
} killed_cases[] = {
    { "lock free", NULL, false, "interrupted", 0 },
    { "no lock file: pid gone", NULL, true, "interrupted", 0 },
    { "pid reused: start time differs",
      "UPDATE runs SET owner_pid = 1, owner_start = "
      "substr(owner_start, 1, instr(owner_start, ':')) || '7'",
      true, "interrupted", 0 },
    { "another host: cannot tell", "UPDATE runs SET owner_host = 'elsewhere.example'", false,
      "running", -1 },
};

START_TEST(test_killed_owner)
{
    char *tmp = make_tmp();
    char *lock = wf_xasprintf("%s/locks/r-kill.lock", tmp);
    char *hint = wf_xasprintf("wfengine run wf.yaml --resume r-kill --store %s", tmp);
    pid_t pid = start_owner(tmp, "r-kill");
    wf_store *s = open_ok(tmp);
    json_object *run = NULL, *task;
    run_view v;
    wf_error err;

    wf_error_init(&err);
    v = view_run(s, "r-kill");
    ck_assert_str_eq(v.status, "running");
    ck_assert_int_eq(v.alive, 1);
    kill9(pid);
    if (killed_cases[_i].sql != NULL)
        sql_exec(tmp, killed_cases[_i].sql);
    if (killed_cases[_i].remove_lock)
        ck_assert_int_eq(unlink(lock), 0);
    v = view_run(s, "r-kill");
    ck_assert_msg(strcmp(v.status, killed_cases[_i].status) == 0, "%s: status %s, want %s",
                  killed_cases[_i].name, v.status, killed_cases[_i].status);
    ck_assert_int_eq(v.alive, killed_cases[_i].alive);
    ck_assert_str_eq(v.hint, strcmp(v.status, "interrupted") == 0 ? hint : "");
    /* The task it was running is shown the same way; the record itself is unchanged. */
    ck_assert_int_eq(wf_store_run_json(s, "r-kill", &run, &err), WF_OK);
    task = json_object_array_get_idx(jget(run, "tasks"), 0);
    ck_assert_str_eq(jstr(task, "status"),
                     strcmp(v.status, "interrupted") == 0 ? "interrupted" : "running");
    json_object_put(run);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs WHERE status = 'running'"), 1);
    close_ok(s);
    wf_error_release(&err);
    free(hint);
    free(lock);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_concurrent_owners)
{
    char *tmp = make_tmp();
    pid_t a = start_owner(tmp, "r-a"), b = start_owner(tmp, "r-b");
    wf_store *s = open_ok(tmp);
    json_object *runs = NULL;
    wf_error err;

    wf_error_init(&err);
    /* This process's own run, too: its lock is held by this very process. */
    record_run(s, "r-self", "wf");
    flush_ok(s);
    kill9(a);
    ck_assert_str_eq(view_run(s, "r-a").status, "interrupted");
    ck_assert_str_eq(view_run(s, "r-b").status, "running");
    ck_assert_str_eq(view_run(s, "r-self").status, "running");
    /* runs: the task counts of an interrupted run count its running task as interrupted. */
    ck_assert_int_eq(wf_store_runs_json(s, 0, &runs, &err), WF_OK);
    for (size_t i = 0; i < json_object_array_length(runs); i++) {
        json_object *r = json_object_array_get_idx(runs, i);
        bool is_a = strcmp(jstr(r, "run_id"), "r-a") == 0;

        if (strcmp(jstr(r, "run_id"), "r-self") == 0)
            continue;
        ck_assert_int_eq(jint(jget(r, "tasks"), "interrupted"), is_a ? 1 : 0);
        ck_assert_int_eq(jint(jget(r, "tasks"), "running"), is_a ? 0 : 1);
    }
    json_object_put(runs);
    kill9(b);
    ck_assert_str_eq(view_run(s, "r-b").status, "interrupted");
    close_ok(s);
    /* Closed without an end: this process's run is interrupted too, for the next reader. */
    s = open_ok(tmp);
    ck_assert_str_eq(view_run(s, "r-self").status, "interrupted");
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* A store written by schema 1 (no owner columns) with a run that never ended: read as it is
 * by a read-only open, migrated by a read-write one; the run is interrupted either way when
 * no other process has the store open. */
START_TEST(test_schema1_store)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    json_object *runs = NULL;
    wf_error err;

    wf_error_init(&err);
    record_run(s, "r-old", "wf");
    record_task(s, "r-old", "t", WF_STATUS_FAILED);
    {
        wf_store_unit_rec u = unit("r-old", "t", -1, 1, WF_STATUS_FAILED);

        wf_store_record_unit(s, &u);
    }
    close_ok(s);
    sql_exec(
        tmp,
        "DROP INDEX units_label; DROP TRIGGER unit_counts_add; DROP TABLE unit_ranges; DROP TABLE unit_counts; "
        "ALTER TABLE runs DROP COLUMN owner_pid; ALTER TABLE runs DROP COLUMN "
        "owner_host; ALTER TABLE runs DROP COLUMN owner_start; ALTER TABLE tasks DROP "
        "COLUMN ignored; ALTER TABLE units DROP COLUMN ignored; ALTER TABLE units DROP "
        "COLUMN label; ALTER TABLE cache DROP COLUMN files_json; ALTER TABLE units DROP "
        "COLUMN result_from; ALTER TABLE cache DROP COLUMN result_from; "
        "ALTER TABLE tasks DROP COLUMN source; ALTER TABLE tasks DROP COLUMN items_key; "
        "ALTER TABLE units DROP COLUMN result_lines; ALTER TABLE cache DROP COLUMN "
        "result_lines; PRAGMA user_version = 1");
    ck_assert_int_eq(wf_store_open_readonly(tmp, &s, &err), WF_OK);
    ck_assert_str_eq(view_run(s, "r-old").status, "interrupted");
    /* Columns added since (schema 3: ignored, 4: label) read as their defaults. */
    {
        json_object *run = NULL, *t, *u;

        ck_assert_int_eq(wf_store_run_json(s, "r-old", &run, &err), WF_OK);
        t = json_object_array_get_idx(jget(run, "tasks"), 0);
        u = json_object_array_get_idx(jget(t, "units"), 0);
        ck_assert(!json_object_get_boolean(jget(t, "ignored")));
        ck_assert(!json_object_object_get_ex(t, "source", NULL)); /* schema 7 */
        ck_assert(!json_object_get_boolean(jget(u, "ignored")));
        ck_assert(json_object_object_get_ex(u, "label", NULL));
        ck_assert_ptr_null(jget(u, "label"));
        ck_assert_str_eq(jstr(u, "status"), "failed");
        json_object_put(run);
    }
    ck_assert_int_eq(wf_store_runs_json(s, 0, &runs, &err), WF_OK);
    ck_assert_ptr_null(jget(json_object_array_get_idx(runs, 0), "owner"));
    json_object_put(runs);
    close_ok(s);
    ck_assert_int_eq(sql_int(tmp, "PRAGMA user_version"), 1);
    /* While another process has the store open, an owner-less run cannot be told. */
    {
        pid_t pid = start_owner(tmp, "r-new");

        ck_assert_int_eq(wf_store_open_readonly(tmp, &s, &err), WF_OK);
        ck_assert_str_eq(view_run(s, "r-old").status, "running");
        ck_assert_int_eq(view_run(s, "r-old").alive, -1);
        ck_assert_str_eq(view_run(s, "r-new").status, "running");
        close_ok(s);
        kill9(pid);
    }
    ck_assert_int_eq(sql_int(tmp, "PRAGMA user_version"), WF_STORE_SCHEMA_VERSION);
    s = open_ok(tmp);
    ck_assert_str_eq(view_run(s, "r-old").status, "interrupted");
    ck_assert_str_eq(view_run(s, "r-new").status, "interrupted");
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- ranges: compact records of plain successes ----------------------------------------- */

/* Records item i of task (attempt, status) with the item hash of "i", as the engine does. */
static void record_item(wf_store *s, const char *run_id, const char *task, int64_t i, int attempt,
                        wf_status status, const char *stdout_hash)
{
    char text[32], hash[WF_SHA256_HEX_LEN + 1];
    wf_store_unit_rec u = unit(run_id, task, i, attempt, status);

    snprintf(text, sizeof(text), "%lld", (long long)i);
    wf_sha256_hex(text, strlen(text), hash);
    u.item_hash = hash;
    u.stdout_hash = stdout_hash;
    u.started_ms = 1000 + i;
    u.ended_ms = 2000 + i;
    wf_store_record_unit(s, &u);
}

static int64_t range_rows(const char *dir, const char *task)
{
    char *sql = wf_xasprintf("SELECT count(*) FROM unit_ranges WHERE task = '%s'", task);
    int64_t n = sql_int(dir, sql);

    free(sql);
    return n;
}

/* Ten items: 0-4 plain, 5 failed then retried, 6 plain, 7 with its own stdout, 8-9 plain,
 * recorded out of order in one batch; 10 failed. */
static void record_ten(wf_store *s, const char *out)
{
    static const int order[] = { 9, 3, 0, 1, 2, 4, 8, 6 };

    record_run(s, "r1", "wf");
    record_task(s, "r1", "t", WF_STATUS_FAILED);
    for (size_t k = 0; k < WF_ARRAY_LEN(order); k++)
        record_item(s, "r1", "t", order[k], 1, WF_STATUS_SUCCEEDED, NULL);
    record_item(s, "r1", "t", 5, 1, WF_STATUS_FAILED, NULL);
    record_item(s, "r1", "t", 5, 2, WF_STATUS_SUCCEEDED, NULL);
    record_item(s, "r1", "t", 7, 1, WF_STATUS_SUCCEEDED, out);
    record_item(s, "r1", "t", 10, 1, WF_STATUS_FAILED, NULL);
    flush_ok(s);
}

START_TEST(test_ranges_split_and_read)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char out[WF_SHA256_HEX_LEN + 1], *data = NULL;
    size_t len = 0;
    json_object *run = NULL, *t, *units, *counts;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "seven\n", 6, out, &err), WF_OK);
    record_ten(s, out);
    /* [0..4] [6] [7: its stdout] [8..9]; 5's two attempts and 10 are rows. */
    ck_assert_int_eq(range_rows(tmp, "t"), 4);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 3);
    ck_assert_int_eq(sql_int(tmp, "SELECT last_idx FROM unit_ranges WHERE first_idx = 0"), 4);
    ck_assert_int_eq(sql_int(tmp, "SELECT started_ms FROM unit_ranges WHERE first_idx = 0"), 1000);
    ck_assert_int_eq(sql_int(tmp, "SELECT ended_ms FROM unit_ranges WHERE first_idx = 0"), 2004);
    ck_assert_int_eq(sql_int(tmp, "SELECT length(item_digests) FROM unit_ranges WHERE "
                                  "first_idx = 0"),
                     5 * WF_STORE_DIGEST_LEN);
    /* Read back as units, by index then attempt, every field a unit row would have. */
    ck_assert_int_eq(wf_store_run_json(s, "r1", &run, &err), WF_OK);
    t = json_object_array_get_idx(jget(run, "tasks"), 0);
    units = jget(t, "units");
    ck_assert_int_eq(json_object_array_length(units), 12);
    for (int i = 0; i < 12; i++) {
        json_object *u = json_object_array_get_idx(units, (size_t)i);
        int64_t want = i <= 5 ? i : i - 1;

        ck_assert_int_eq(jint(u, "index"), want);
        ck_assert_int_eq(jint(u, "attempt"), i == 6 ? 2 : 1);
    }
    ck_assert_str_eq(jstr(json_object_array_get_idx(units, 2), "status"), "succeeded");
    ck_assert_int_eq(jint(json_object_array_get_idx(units, 2), "started_ms"), 1000);
    ck_assert_int_eq(jint(json_object_array_get_idx(units, 2), "ended_ms"), 2004);
    ck_assert_str_eq(jstr(json_object_array_get_idx(units, 2), "stdout_hash"), "");
    ck_assert_str_eq(jstr(json_object_array_get_idx(units, 8), "stdout_hash"), out);
    ck_assert_str_eq(jstr(json_object_array_get_idx(units, 5), "status"), "failed");
    ck_assert_str_eq(jstr(json_object_array_get_idx(units, 11), "status"), "failed");
    /* Counts by the latest attempt: 5 counts as succeeded once. */
    counts = jget(t, "counts");
    ck_assert_int_eq(jint(counts, "succeeded"), 10);
    ck_assert_int_eq(jint(counts, "failed"), 1);
    ck_assert_int_eq(jint(counts, "skipped"), 0);
    json_object_put(run);
    /* logs of a unit inside a range, and of one with its own stdout. */
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", 3, 0, false, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "");
    free(data);
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", 7, 1, false, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "seven\n");
    free(data);
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", 3, 2, false, &data, &len, &err), WF_ENOENT);
    ck_assert_str_eq(err.message,
                     "item 3 of task 't' of run r1 has no attempt 2 (attempts 1 to 1)");
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", 12, 0, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_str_eq(err.message, "task 't' of run r1 has no item 12 (its items are 0 to 10)");
    /* `wfengine logs r1 t` of a with-items task: which item, not "no item -1". */
    ck_assert_int_eq(wf_store_unit_output(s, "r1", "t", -1, 0, false, &data, &len, &err),
                     WF_ENOENT);
    ck_assert_str_eq(err.message, "task 't' of run r1 has items 0 to 10: name one, like 't[0]' "
                                  "(an index or a label)");
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_ranges_across_batches)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    json_object *run = NULL;
    wf_error err;

    wf_error_init(&err);
    record_run(s, "r1", "wf");
    /* Four batches: 0-4, 5-9 (appended), 15-19, then 10-14 joins both into one range. */
    for (int b = 0; b < 4; b++) {
        static const int starts[] = { 0, 5, 15, 10 };

        for (int i = starts[b]; i < starts[b] + 5; i++)
            record_item(s, "r1", "a", i, 1, WF_STATUS_SUCCEEDED, NULL);
        flush_ok(s);
    }
    ck_assert_int_eq(range_rows(tmp, "a"), 1);
    ck_assert_int_eq(sql_int(tmp, "SELECT last_idx FROM unit_ranges WHERE task = 'a'"), 19);
    ck_assert_int_eq(sql_int(tmp, "SELECT ended_ms FROM unit_ranges WHERE task = 'a'"), 2019);
    /* A range holds at most WF__STORE_RANGE_MAX (512) units: 5000 recorded in order make 10
     * rows, however they fall into batches: here 0-99, then the rest (which the writer may
     * split again when recording them outlasts its linger). */
    for (int i = 0; i < 5000; i++) {
        record_item(s, "r1", "b", i, 1, WF_STATUS_SUCCEEDED, NULL);
        if (i == 99)
            flush_ok(s);
    }
    flush_ok(s);
    ck_assert_int_eq(range_rows(tmp, "b"), 10);
    ck_assert_int_eq(sql_int(tmp, "SELECT max(last_idx - first_idx + 1) FROM unit_ranges"), 512);
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM units"), 0);
    ck_assert_int_eq(sql_int(tmp, "SELECT sum(n) FROM unit_counts WHERE status = 'succeeded'"),
                     5020);
    /* The digests follow the units across the merges: unit 12's is at its place. */
    {
        char hash[WF_SHA256_HEX_LEN + 1], *hex;

        wf_sha256_hex("12", 2, hash);
        hex = sql_text(tmp, "SELECT lower(hex(substr(item_digests, 12 * 8 + 1, 8))) FROM "
                            "unit_ranges WHERE task = 'a'");
        ck_assert_int_eq(strncmp(hex, hash, 16), 0);
        free(hex);
    }
    ck_assert_int_eq(wf_store_run_json(s, "r1", &run, &err), WF_OK);
    /* No task was recorded: the units are there all the same (logs, resume). */
    ck_assert_int_eq(json_object_array_length(jget(run, "tasks")), 0);
    json_object_put(run);
    {
        char *data = NULL;
        size_t len = 0;

        ck_assert_int_eq(wf_store_unit_output(s, "r1", "b", 4999, 1, false, &data, &len, &err),
                         WF_OK);
        free(data);
    }
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* A page of task t of r1 (record_ten) as "index/attempt ..." and its next_index. */
static char *page_text(wf_store *s, int64_t offset, int64_t limit, const char *status,
                       int64_t *next)
{
    wf_store_page page = { .offset = offset, .limit = limit, .status = status };
    json_object *run = NULL, *t, *units, *n;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_run_page_json(s, "r1", &page, &run, &err), WF_OK);
    t = json_object_array_get_idx(jget(run, "tasks"), 0);
    ck_assert_int_eq(jint(jget(t, "counts"), "succeeded"), 10);
    if (!json_object_object_get_ex(t, "units", &units)) {
        *next = -3;
        json_object_put(run);
        wf_error_release(&err);
        return wf_strbuf_detach(&sb, NULL);
    }
    for (size_t i = 0; i < json_object_array_length(units); i++) {
        json_object *u = json_object_array_get_idx(units, i);

        wf_strbuf_addf(&sb, "%s%lld/%lld", i ? " " : "", (long long)jint(u, "index"),
                       (long long)jint(u, "attempt"));
    }
    n = jget(t, "next_index");
    *next = n != NULL ? json_object_get_int64(n) : -1;
    json_object_put(run);
    wf_error_release(&err);
    return wf_strbuf_detach(&sb, NULL);
}

START_TEST(test_ranges_pages)
{
    static const struct {
        int64_t offset, limit;
        const char *status, *want;
        int64_t next;
    } cases[] = {
        { 0, 3, NULL, "0/1 1/1 2/1", 3 },
        { 4, 2, NULL, "4/1 5/1 5/2", 6 }, /* a page keeps a unit's attempts together */
        { 9, 5, NULL, "9/1 10/1", -1 },
        { 11, 5, NULL, "", -1 },
        { 0, 0, NULL, "0/1 1/1 2/1 3/1 4/1 5/1 5/2 6/1 7/1 8/1 9/1 10/1", -1 },
        { 0, 10, "failed", "10/1", -1 }, /* 5 succeeded at last: not failed */
        { 0, 2, "succeeded", "0/1 1/1", 2 },
        { 5, 2, "succeeded", "5/2 6/1", 7 }, /* a latest attempt only */
        { 0, 5, "skipped", "", -1 },
        { 0, -1, NULL, "", -3 }, /* counts only */
    };
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char out[WF_SHA256_HEX_LEN + 1];
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "seven\n", 6, out, &err), WF_OK);
    record_ten(s, out);
    for (size_t i = 0; i < WF_ARRAY_LEN(cases); i++) {
        int64_t next = 0;
        char *got = page_text(s, cases[i].offset, cases[i].limit, cases[i].status, &next);

        ck_assert_msg(strcmp(got, cases[i].want) == 0, "case %zu: got '%s', want '%s'", i, got,
                      cases[i].want);
        ck_assert_msg(next == cases[i].next, "case %zu: next %lld, want %lld", i, (long long)next,
                      (long long)cases[i].next);
        free(got);
    }
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

START_TEST(test_ranges_resume)
{
    char *tmp = make_tmp();
    wf_store *s = open_ok(tmp);
    char out[WF_SHA256_HEX_LEN + 1], h5[WF_SHA256_HEX_LEN + 1];
    json_object *arr = NULL, *o;
    wf_error err;

    wf_error_init(&err);
    ck_assert_int_eq(wf_store_put_blob(s, "seven\n", 6, out, &err), WF_OK);
    record_ten(s, out);
    ck_assert_int_eq(succeeded_units(s, "r1", "t", &arr, &err), WF_OK);
    /* [0..4] as one, 5 (its retry), 6, 7 (own stdout), [8..9]; failed 10 is not there. */
    ck_assert_int_eq(json_object_array_length(arr), 5);
    o = json_object_array_get_idx(arr, 0);
    ck_assert_int_eq(jint(o, "index"), 0);
    ck_assert_int_eq(jint(o, "last"), 4);
    ck_assert_int_eq(strlen(jstr(o, "digests")), 5 * 2 * WF_STORE_DIGEST_LEN);
    o = json_object_array_get_idx(arr, 1);
    wf_sha256_hex("5", 1, h5);
    ck_assert_int_eq(jint(o, "index"), 5);
    ck_assert_int_eq(jint(o, "last"), 5);
    ck_assert_int_eq(strncmp(jstr(o, "digests"), h5, 2 * WF_STORE_DIGEST_LEN), 0);
    o = json_object_array_get_idx(arr, 3);
    ck_assert_int_eq(jint(o, "index"), 7);
    ck_assert_str_eq(jstr(o, "stdout_hash"), out);
    o = json_object_array_get_idx(arr, 4);
    ck_assert_int_eq(jint(o, "index"), 8);
    ck_assert_int_eq(jint(o, "last"), 9);
    ck_assert_int_eq(jint(o, "exit_code"), 0);
    ck_assert_ptr_null(jget(o, "result"));
    json_object_put(arr);
    close_ok(s);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- read-only stores ----------------------------------------------------------------- */

START_TEST(test_readonly_open)
{
    char *tmp = make_tmp();
    char *missing = wf_xasprintf("%s/none", tmp), *h = NULL, *data = NULL;
    char hash[WF_SHA256_HEX_LEN + 1];
    wf_store *s = open_ok(tmp), *ro = NULL;
    wf_store_gc_stats st;
    json_object *runs = NULL;
    size_t len = 0;
    wf_error err;

    wf_error_init(&err);
    /* Nothing there: WF_ENOENT, and nothing is created. */
    ck_assert_int_eq(wf_store_open_readonly(missing, &ro, &err), WF_ENOENT);
    ck_assert_ptr_null(ro);
    ck_assert(!exists(missing));
    ck_assert_int_eq(mkdir(missing, 0777), 0);
    ck_assert_int_eq(wf_store_open_readonly(missing, &ro, &err), WF_ENOENT);
    ck_assert_ptr_nonnull(strstr(err.message, "no state.db"));
    free(h);
    h = wf_xasprintf("%s/blobs", missing);
    ck_assert(!exists(h));

    ck_assert_int_eq(wf_store_put_blob(s, "hello", 5, hash, &err), WF_OK);
    two_runs(s);
    close_ok(s);
    ck_assert_int_eq(wf_store_open_readonly(tmp, &ro, &err), WF_OK);
    ck_assert(wf_store_readonly(ro));
    ck_assert_int_eq(wf_store_runs_json(ro, 0, &runs, &err), WF_OK);
    ck_assert_int_eq(json_object_array_length(runs), 2);
    json_object_put(runs);
    ck_assert_int_eq(wf_store_get_blob(ro, hash, &data, &len, &err), WF_OK);
    ck_assert_str_eq(data, "hello");
    free(data);
    /* Writing is refused, and says why. */
    ck_assert_int_eq(wf_store_gc(ro, 0, &st, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, "read-only"));
    record_run(ro, "r-ro", "wf");
    ck_assert(wf_store_failed(ro));
    ck_assert_int_eq(wf_store_close(ro, &err), WF_ESTORE);
    ck_assert_ptr_nonnull(strstr(err.message, "opened read-only"));
    ck_assert_int_eq(sql_int(tmp, "SELECT count(*) FROM runs"), 2);
    free(h);
    free(missing);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

/* ---- a lost history is refused ------------------------------------------------------------ */

static const struct {
    const char *name;
    bool remove_db; /* else truncate it to 0 bytes */
    bool blob;      /* blobs/ holds a blob */
    bool wal;       /* state.db-wal holds bytes */
    bool refused;
} lost_cases[] = {
    { "0 bytes beside blobs", false, true, false, true },
    { "missing beside blobs", true, true, false, true },
    { "0 bytes beside a WAL", false, false, true, true },
    { "0 bytes, nothing else: a store never used", false, false, false, false },
    { "missing, nothing else", true, false, false, false },
};

START_TEST(test_lost_history_refused)
{
    char *tmp = make_tmp();
    char *db = wf_xasprintf("%s/state.db", tmp), *wal = wf_xasprintf("%s/state.db-wal", tmp);
    char *walsave = wf_xasprintf("%s/wal.save", tmp);
    char hash[WF_SHA256_HEX_LEN + 1];
    wf_store *s = open_ok(tmp), *ro = NULL;
    wf_error err;
    struct stat st;

    wf_error_init(&err);
    if (lost_cases[_i].blob)
        ck_assert_int_eq(wf_store_put_blob(s, "out", 3, hash, &err), WF_OK);
    record_run(s, "r1", "wf");
    close_ok(s);
    unlink(wal);
    if (lost_cases[_i].wal)
        write_file(wal, "WAL bytes", 9);
    if (lost_cases[_i].remove_db)
        ck_assert_int_eq(unlink(db), 0);
    else
        ck_assert_int_eq(truncate(db, 0), 0);
    if (lost_cases[_i].refused) {
        ck_assert_int_eq(wf_store_open(tmp, &s, &err), WF_ESTORE);
        ck_assert_ptr_null(s);
        ck_assert_ptr_nonnull(strstr(err.message, db));
        ck_assert_ptr_nonnull(
            strstr(err.message, lost_cases[_i].remove_db ? "is missing" : "is empty (0 bytes)"));
        ck_assert_ptr_nonnull(strstr(err.message, "history is lost"));
        ck_assert_ptr_nonnull(strstr(err.message, "restore state.db from a backup"));
        ck_assert_int_eq(wf_store_open_readonly(tmp, &ro, &err), WF_ESTORE);
        ck_assert_ptr_nonnull(strstr(err.message, "history is lost"));
        /* Refusing changed nothing. */
        ck_assert_int_eq(stat(db, &st) == 0 ? (int)st.st_size : -1,
                         lost_cases[_i].remove_db ? -1 : 0);
        ck_assert_int_eq(stat(wal, &st) == 0 ? (int)st.st_size : -1, lost_cases[_i].wal ? 9 : -1);
    } else {
        s = open_ok(tmp);
        close_ok(s);
    }
    free(walsave);
    free(wal);
    free(db);
    wf_error_release(&err);
    remove_tree(tmp);
    free(tmp);
}
END_TEST

static Suite *store_suite(void)
{
    Suite *s = suite_create("store");
    TCase *tc;

    tc = tcase_create("open");
    tcase_add_test(tc, test_open_layout_wal);
    tcase_add_test(tc, test_wal_kept_small_checkpointed_large);
    tcase_add_test(tc, test_wal_checkpointed_by_next_writer);
    tcase_add_test(tc, test_wal_mode_restored);
    tcase_add_test(tc, test_schema_version);
    tcase_add_test(tc, test_empty_file_migrated);
    tcase_add_test(tc, test_newer_schema_refused);
    tcase_add_test(tc, test_garbage_refused);
    tcase_add_test(tc, test_foreign_sqlite_refused);
    tcase_add_loop_test(tc, test_unopenable_refused, 0, (int)WF_ARRAY_LEN(unopenable));
    tcase_add_test(tc, test_system_path_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("blobs");
    tcase_add_test(tc, test_blob_dedup_sharded);
    tcase_add_test(tc, test_blob_roundtrip);
    tcase_add_test(tc, test_blob_corrupt_detected);
    tcase_add_test(tc, test_blob_disk_error_fails_store);
    suite_add_tcase(s, tc);

    tc = tcase_create("writer");
    tcase_add_test(tc, test_writer_threads_in_order);
    tcase_add_test(tc, test_writer_batched);
    tcase_add_test(tc, test_writer_close_flushes);
    tcase_add_test(tc, test_writer_unknown_run_fails);
    tcase_add_test(tc, test_writer_hashes_file_text);
    tcase_add_test(tc, test_writer_prepare_failure_fails_store);
    suite_add_tcase(s, tc);

    tc = tcase_create("queries");
    tcase_add_test(tc, test_runs_json);
    tcase_add_test(tc, test_run_json);
    tcase_add_loop_test(tc, test_resolve_run, 0, (int)WF_ARRAY_LEN(resolve_cases));
    tcase_add_test(tc, test_unit_output);
    tcase_add_test(tc, test_label_index);
    tcase_add_test(tc, test_succeeded_units);
    tcase_add_test(tc, test_succeeded_from);
    tcase_add_test(tc, test_cache);
    suite_add_tcase(s, tc);

    tc = tcase_create("ranges");
    tcase_add_test(tc, test_ranges_split_and_read);
    tcase_add_test(tc, test_ranges_across_batches);
    tcase_add_test(tc, test_ranges_pages);
    tcase_add_test(tc, test_ranges_resume);
    suite_add_tcase(s, tc);

    tc = tcase_create("gc");
    tcase_add_test(tc, test_gc);
    tcase_add_test(tc, test_gc_refused_while_in_use);
    suite_add_tcase(s, tc);

    tc = tcase_create("owners");
    tcase_add_test(tc, test_owner_recorded_lock_released_at_end);
    tcase_add_loop_test(tc, test_killed_owner, 0, (int)WF_ARRAY_LEN(killed_cases));
    tcase_add_test(tc, test_concurrent_owners);
    tcase_add_test(tc, test_schema1_store);
    suite_add_tcase(s, tc);

    tc = tcase_create("readonly");
    tcase_add_test(tc, test_readonly_open);
    tcase_add_loop_test(tc, test_lost_history_refused, 0, (int)WF_ARRAY_LEN(lost_cases));
    suite_add_tcase(s, tc);

    tc = tcase_create("disk_full");
    tcase_add_loop_test(tc, test_disk_full, 0, 2);
    suite_add_tcase(s, tc);

    tc = tcase_create("crash");
    tcase_add_loop_test(tc, test_crash_kill9, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
