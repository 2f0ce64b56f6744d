/*
 * store.c: opening (read-write or read-only), migrating, flushing and closing the store (see
 * wf_store.h). Its errors and failed state are in failure.c.
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

/*
 * The schema, one migration per version: migrations[i] takes a store from version i to i + 1.
 * A migration only ever adds or transforms; a store is never reset, so runs recorded by an
 * older wfengine stay readable. All migrations run in the one transaction that also sets
 * PRAGMA user_version, so a crash leaves the store at the old version or the new one.
 */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT INTO meta (key, value) VALUES ('created_by', 'wfengine " WF_VERSION "'),"
    " ('created_ms', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER));"
    /* seq orders runs: it only grows, whatever the wall clock does. */
    "CREATE TABLE runs ("
    " seq INTEGER PRIMARY KEY,"
    " run_id TEXT NOT NULL UNIQUE,"
    " workflow TEXT NOT NULL,"
    " file_path TEXT NOT NULL,"
    " file_sha256 TEXT,"
    " inputs_json TEXT,"
    " resumed_from TEXT,"
    " status TEXT NOT NULL,"
    " started_ms INTEGER,"
    " ended_ms INTEGER,"
    " outputs_json TEXT);"
    "CREATE TABLE tasks ("
    " seq INTEGER PRIMARY KEY,"
    " run_seq INTEGER NOT NULL REFERENCES runs (seq),"
    " name TEXT NOT NULL,"
    " status TEXT NOT NULL,"
    " started_ms INTEGER,"
    " ended_ms INTEGER,"
    " error TEXT,"
    " with_items INTEGER NOT NULL,"
    " n_items INTEGER NOT NULL,"
    " position INTEGER NOT NULL DEFAULT 0,"
    " UNIQUE (run_seq, name));"
    "CREATE TABLE units ("
    " run_seq INTEGER NOT NULL REFERENCES runs (seq),"
    " task TEXT NOT NULL,"
    " idx INTEGER NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " status TEXT NOT NULL,"
    " started_ms INTEGER,"
    " ended_ms INTEGER,"
    " exit_code INTEGER NOT NULL,"
    " error TEXT,"
    " result_json TEXT,"
    " result_hash TEXT,"
    " stdout_hash TEXT,"
    " stderr_hash TEXT,"
    " item_hash TEXT,"
    " cached INTEGER NOT NULL,"
    " reused INTEGER NOT NULL,"
    " UNIQUE (run_seq, task, idx, attempt));"
    "CREATE TABLE cache ("
    " key TEXT PRIMARY KEY,"
    " result_json TEXT,"
    " result_hash TEXT,"
    " stdout_hash TEXT,"
    " stderr_hash TEXT,"
    " created_ms INTEGER NOT NULL);",
    /* 1 -> 2: who runs a run (store/owner.c). NULL for runs recorded before. */
    "ALTER TABLE runs ADD COLUMN owner_pid INTEGER;"
    "ALTER TABLE runs ADD COLUMN owner_host TEXT;"
    "ALTER TABLE runs ADD COLUMN owner_start TEXT;",
    /* 2 -> 3: a failure under continue-on-error is recorded as ignored (issue 19). */
    ("ALTER TABLE tasks ADD COLUMN ignored INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE units ADD COLUMN ignored INTEGER NOT NULL DEFAULT 0;"),
    /* 3 -> 4: an item's label (`label:`, or a short rendering of a scalar item; issue 18).
     * NULL for units recorded before and for units without one. */
    "ALTER TABLE units ADD COLUMN label TEXT;",
    /* 4 -> 5: the files a cache entry restores (`cache.generates`): a JSON array of
     * {"path", "mode", "hash"}, each file's content a blob. NULL: no files. */
    "ALTER TABLE cache ADD COLUMN files_json TEXT;",
    /* 5 -> 6: a large result that is its unit's stdout converted by an output mode ("text",
     * "json", "lines") is not written twice: result_hash stays NULL and the result is read back
     * from the stdout blob (issue 16). NULL: the result is result_json or result_hash. */
    ("ALTER TABLE units ADD COLUMN result_from TEXT;"
     "ALTER TABLE cache ADD COLUMN result_from TEXT;"),
    /* 6 -> 7: a pipelined task's source task (`pipeline: true`, issue 17); NULL otherwise. */
    "ALTER TABLE tasks ADD COLUMN source TEXT;",
    /* 7 -> 8: compact records for 10M-unit runs (issue 16, docs/store.md "Ranges"): runs of
     * consecutive first-attempt successes that carry nothing of their own are one row of
     * unit_ranges (the writer coalesces them, writer_ranges.c), and unit_counts counts each
     * task's units by the status of their latest attempt, so nothing scans the units for a
     * count. The counts of runs recorded before are computed here, once. */
    ("CREATE TABLE unit_ranges ("
     " run_seq INTEGER NOT NULL REFERENCES runs (seq),"
     " task TEXT NOT NULL,"
     " first_idx INTEGER NOT NULL,"
     " last_idx INTEGER NOT NULL,"
     " started_ms INTEGER,"
     " ended_ms INTEGER,"
     " exit_code INTEGER NOT NULL,"
     " result_json TEXT,"
     " stdout_hash TEXT,"
     " stderr_hash TEXT,"
     " reused INTEGER NOT NULL,"
     " item_digests BLOB NOT NULL);"
     /* Rows carry up to 32 KiB of digests: a rowid table, the lookups through indexes. */
     "CREATE UNIQUE INDEX unit_ranges_first ON unit_ranges (run_seq, task, first_idx);"
     "CREATE INDEX unit_ranges_last ON unit_ranges (run_seq, task, last_idx);"
     "CREATE TABLE unit_counts ("
     " run_seq INTEGER NOT NULL REFERENCES runs (seq),"
     " task TEXT NOT NULL,"
     " status TEXT NOT NULL,"
     " n INTEGER NOT NULL,"
     " PRIMARY KEY (run_seq, task, status)) WITHOUT ROWID;"
     "INSERT INTO unit_counts (run_seq, task, status, n) SELECT run_seq, task, status, count(*) "
     " FROM units u WHERE attempt = (SELECT max(attempt) FROM units v WHERE v.run_seq = "
     " u.run_seq AND v.task = u.task AND v.idx = u.idx) GROUP BY run_seq, task, status;"
     /* A unit row counts for its status; a later attempt takes its unit from the status of
      * the attempt before (units of ranges are counted by the writer). */
     "CREATE TRIGGER unit_counts_add AFTER INSERT ON units BEGIN"
     " INSERT INTO unit_counts (run_seq, task, status, n) VALUES (new.run_seq, new.task,"
     " new.status, 1) ON CONFLICT (run_seq, task, status) DO UPDATE SET n = n + 1;"
     " UPDATE unit_counts SET n = n - 1 WHERE new.attempt > 1 AND run_seq = new.run_seq AND"
     " task = new.task AND status = (SELECT status FROM units WHERE run_seq = new.run_seq AND"
     " task = new.task AND idx = new.idx AND attempt = new.attempt - 1);"
     " END;"),
    /* 8 -> 9: `logs RUN TASK.LABEL` finds its unit by one seek (wf_store_label_index), not
     * by reading every unit of the run. Only rows with a label are indexed. */
    "CREATE INDEX units_label ON units (run_seq, task, label) WHERE label IS NOT NULL;",
    /* 9 -> 10: result_from may convert result_hash's blob (a large $WF_RESULT file kept as it
     * was written, issue 16) instead of the stdout blob. Nothing to change in the tables: the
     * number keeps an older wfengine, which would read the stdout instead, from this store. */
    "SELECT 1;",
    /* 10 -> 11: a 10M-item resume in about a second (issue 16). A range a resumed run takes
     * from the run it resumes holds no copy of its item digests: item_digests is empty and
     * digests_run, digests_first name the range row that has them (always one that holds
     * them itself; gc copies them into such rows before it deletes that run). A task's
     * items_key says which list its items came from when that is known without hashing them
     * ("range LO STEP"), so that a resume over the same list compares no item. result_lines
     * is an `output: lines` result's line count in a blob, written when the unit ends, so
     * that a resume or a cache hit reads no blob to count it (NULL: count it, as before). */
    ("ALTER TABLE unit_ranges ADD COLUMN digests_run INTEGER;"
     "ALTER TABLE unit_ranges ADD COLUMN digests_first INTEGER;"
     "ALTER TABLE tasks ADD COLUMN items_key TEXT;"
     "ALTER TABLE units ADD COLUMN result_lines INTEGER;"
     "ALTER TABLE cache ADD COLUMN result_lines INTEGER;"),
};

_Static_assert(WF_ARRAY_LEN(migrations) == WF_STORE_SCHEMA_VERSION,
               "one migration per schema version");

const char *wf_store_dir(const wf_store *s)
{
    return s->dir;
}

/* mkdir -p: the store directory may be nested (--store a/b/c). */
static int make_dir(const char *dir, wf_error *err)
{
    char *path = wf_xstrdup(dir);
    char ebuf[128];
    int rc = WF_ESTORE;

    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0777) != 0 && errno != EEXIST) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot create the store directory: %s",
                         dir, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
            goto out;
        }
        *p = '/';
    }
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot create the store directory: %s", dir,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    rc = WF_OK;
out:
    free(path);
    return rc;
}

/* Takes the shared lock on the store's lock file. It first tries, without waiting, to take it
 * exclusively: when that works no other process has the store open, which tells a run recorded
 * without an owner (schema 1) and still "running" for an interrupted one (owner.c). The
 * exclusive lock is held for two system calls: a gc that tries just then is told that the
 * store is in use, which it is. */
static int take_shared_lock(wf_store *s, wf_error *err)
{
    char ebuf[128];

    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == 0)
        s->alone_at_open = true;
    while (flock(s->lock_fd, LOCK_SH) != 0) {
        if (errno != EINTR) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot lock: %s", s->lock_path,
                         wf__store_strerror(errno, ebuf, sizeof(ebuf)));
            return WF_ESTORE;
        }
    }
    return WF_OK;
}

/* True when blobs/ holds anything: outputs of earlier runs (every unit that printed
 * something, every large result). */
static bool blobs_in_use(const wf_store *s)
{
    DIR *d = opendir(s->blobs_dir);
    struct dirent *e;
    bool found = false;

    if (d == NULL)
        return false;
    while (!found && (e = readdir(d)) != NULL)
        found = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return found;
}

/*
 * A state.db that is empty (0 bytes) or gone while blobs/ holds the outputs of earlier runs, or
 * while its WAL holds transactions, has lost the run history: a truncation (a full disk, a copy
 * that failed) or a deletion. SQLite would take the empty file for a new database (and delete
 * the WAL beside it) and the store would silently start afresh, so it is refused, and the
 * message says how to get out. A new store is never in this state: its blobs/ is empty until
 * the first run, and state.db has its header (4 KiB) before anything is written to the WAL.
 */
static int check_history(const wf_store *s, wf_error *err)
{
    char *wal = wf_xasprintf("%s-wal", s->db_path);
    struct stat st;
    bool missing = stat(s->db_path, &st) != 0 && errno == ENOENT;
    bool wal_data = false;
    char *what;

    if (!missing && !(S_ISREG(st.st_mode) && st.st_size == 0)) {
        free(wal);
        return WF_OK;
    }
    wal_data = stat(wal, &st) == 0 && st.st_size > 0;
    free(wal);
    if (blobs_in_use(s))
        what = wf_xasprintf("%s/ holds the outputs of earlier runs", s->blobs_dir);
    else if (wal_data)
        what = wf_xasprintf("%s-wal holds transactions", s->db_path);
    else
        return WF_OK;
    wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                 "%s: %s, but %s: the run history is lost (a full disk or a failed copy "
                 "truncates the file). wfengine will not start a new, empty history over it: "
                 "restore state.db from a backup, or move the store aside (mv %s %s.old) to "
                 "start a new one",
                 s->db_path, missing ? "is missing" : "is empty (0 bytes)", what, s->dir, s->dir);
    free(what);
    return WF_ESTORE;
}

/* Checks the directory and takes the shared lock that keeps gc from sweeping blobs that this
 * process may be about to refer to. */
static int prepare_dir(wf_store *s, wf_error *err)
{
    struct stat st;
    char ebuf[128];

    if (make_dir(s->dir, err) != WF_OK)
        return WF_ESTORE;
    if (stat(s->dir, &st) != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot use the store directory: %s", s->dir,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    if (!S_ISDIR(st.st_mode)) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: cannot use the store directory: it exists and is not a directory",
                     s->dir);
        return WF_ESTORE;
    }
    if (access(s->dir, W_OK | X_OK) != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: the store directory is not writable: %s",
                     s->dir, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    s->lock_fd = open(s->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (s->lock_fd < 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot open the store's lock file: %s",
                     s->lock_path, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    if (take_shared_lock(s, err) != WF_OK)
        return WF_ESTORE;
    if (mkdir(s->blobs_dir, 0777) != 0 && errno != EEXIST) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot create the blobs directory: %s",
                     s->blobs_dir, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return WF_ESTORE;
    }
    if (stat(s->blobs_dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: cannot create the blobs directory: a file of that name is in the way",
                     s->blobs_dir);
        return WF_ESTORE;
    }
    return WF_OK;
}

/* Runs one statement that returns at most one integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc;

    *out = 0;
    rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        goto out;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
out:
    sqlite3_finalize(st);
    return rc;
}

void wf_store_skip_sqlite_bulk_cache(void)
{
    /* SQLITE_MISUSE once SQLite is initialised: then nothing changes, as documented. */
    (void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)NULL, 0, 0);
}

/* Opens a connection with the settings every connection needs. */
static int open_db(wf_store *s, sqlite3 **out, wf_error *err)
{
    sqlite3 *db = NULL;
    int64_t n;
    int rc;

    rc = sqlite3_open_v2(s->db_path, &db,
                         SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        wf__store_db_error(s, db, err, "cannot open");
        goto out;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, WF__STORE_BUSY_MS);
    /* The first read of the file: this is where a file that is not SQLite shows. The header's
     * version, not the schema: reading the schema (about 0.7 million instructions) is left
     * to the writer thread's first statement, while the run's first units run (B8). */
    rc = query_int(db, "PRAGMA user_version", &n);
    if (rc != SQLITE_OK) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: not a usable wfengine store: %s", s->db_path,
                     sqlite3_errmsg(db));
        goto out;
    }
    /* These pragmas read the whole schema; the write connection's are set by the writer
     * thread as it starts (writer.c, prepare_statements), off the run's path. */
    if (out != &s->wdb) {
        rc = sqlite3_exec(db, WF__STORE_PRAGMAS, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            wf__store_db_error(s, db, err, "cannot configure");
    }
out:
    if (rc != SQLITE_OK) {
        sqlite3_close(db);
        db = NULL;
    }
    *out = db;
    return rc == SQLITE_OK ? WF_OK : WF_ESTORE;
}

/* ---- read-only ---------------------------------------------------------------------------- */

/* "file:" URI of path for sqlite3_open_v2 with SQLITE_OPEN_URI: everything but unreserved
 * characters and '/' percent-encoded, so '?', '#' and '%' in a directory name stay names. */
static char *file_uri(const char *path, const char *query)
{
    static const char hex[] = "0123456789ABCDEF";
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p != '\0'; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '/' || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            wf_strbuf_add(&sb, p, 1);
        } else {
            char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };

            wf_strbuf_add(&sb, esc, 3);
        }
    }
    wf_strbuf_addf(&sb, "?%s", query);
    return wf_strbuf_detach(&sb, NULL);
}

static int copy_file(const char *from, const char *to)
{
    char buf[65536];
    int in = open(from, O_RDONLY | O_CLOEXEC), out = -1, rc = -1;
    ssize_t n;

    if (in < 0)
        return -1;
    out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0)
        goto done;
    while ((n = read(in, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto done;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));

            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                goto done;
            off += w;
        }
    }
    rc = 0;
done:
    if (out >= 0 && close(out) != 0)
        rc = -1;
    close(in);
    return rc;
}

static void remove_tmp_copy(wf_store *s)
{
    static const char *const names[] = { "state.db", "state.db-wal", "state.db-shm" };

    if (s->tmp_copy_dir == NULL)
        return;
    for (size_t i = 0; i < WF_ARRAY_LEN(names); i++) {
        char *p = wf_xasprintf("%s/%s", s->tmp_copy_dir, names[i]);

        unlink(p);
        free(p);
    }
    rmdir(s->tmp_copy_dir);
    free(s->tmp_copy_dir);
    s->tmp_copy_dir = NULL;
}

/* Copies state.db and its WAL (wal) into a new private temporary directory
 * (s->tmp_copy_dir). SQLITE_OK, or SQLITE_CANTOPEN with err filled. */
static int private_copy(wf_store *s, const char *wal, wf_error *err)
{
    const char *tmpdir = getenv("TMPDIR");
    char *tmpl =
        wf_xasprintf("%s/wfengine-ro-XXXXXX", tmpdir != NULL && tmpdir[0] == '/' ? tmpdir : "/tmp");
    char *db_to, *wal_to;
    char ebuf[128];
    int rc = SQLITE_OK;

    if (mkdtemp(tmpl) == NULL) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: the store is read-only and its WAL can only be read from a copy, but "
                     "%s cannot be created: %s",
                     s->db_path, tmpl, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        free(tmpl);
        return SQLITE_CANTOPEN;
    }
    s->tmp_copy_dir = tmpl;
    db_to = wf_xasprintf("%s/state.db", tmpl);
    wal_to = wf_xasprintf("%s/state.db-wal", tmpl);
    if (copy_file(s->db_path, db_to) != 0 || copy_file(wal, wal_to) != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: the store is read-only and its WAL can only be read from a copy, but "
                     "copying it to %s failed: %s",
                     s->db_path, tmpl, wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        rc = SQLITE_CANTOPEN;
    }
    free(wal_to);
    free(db_to);
    return rc;
}

/* Opens uri (a path, or a file: URI with flags containing SQLITE_OPEN_URI) and reads from it
 * once: where a file that cannot be read shows. Returns SQLite's code; *out is open on
 * SQLITE_OK, NULL otherwise (then msg says why and the extended code is returned). */
static int try_open(const char *uri, int flags, sqlite3 **out, char *msg, size_t msg_size)
{
    sqlite3 *db = NULL;
    int64_t n;
    int rc = sqlite3_open_v2(uri, &db, flags | SQLITE_OPEN_NOMUTEX, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(db, 1);
        sqlite3_busy_timeout(db, WF__STORE_BUSY_MS);
        rc = query_int(db, "SELECT count(*) FROM sqlite_schema", &n);
    }
    if (rc != SQLITE_OK) {
        wf__store_sqlite_msg(db, msg, msg_size);
        rc = db != NULL ? sqlite3_extended_errcode(db) : rc;
        sqlite3_close(db);
        db = NULL;
    }
    *out = db;
    return rc;
}

/*
 * Opens state.db for reading only, wherever it lies (docs/store.md, "Read-only stores"):
 *  1. SQLITE_OPEN_READONLY. Enough when the directory is writable (SQLite makes its -shm) or
 *     when the WAL and its index are both there (SQLite reads a read-only -shm).
 *  2. Otherwise, in a read-only directory without a WAL: the file as immutable (no locks, no
 *     -shm): right, because with no WAL the database file is all there is.
 *  3. With a WAL but no -shm to read it through: immutable would ignore the WAL, and with it
 *     the latest runs (a store keeps a small WAL at close). So state.db and its WAL are copied
 *     into a private temporary directory and that copy is opened (SQLite recovers the WAL
 *     into it); the copy is removed at close.
 */
static int open_db_readonly(wf_store *s, wf_error *err)
{
    char msg[512];
    char *wal = wf_xasprintf("%s-wal", s->db_path), *uri = NULL, *to = NULL;
    struct stat st;
    int rc, primary;

    rc = try_open(s->db_path, SQLITE_OPEN_READONLY, &s->rdb, msg, sizeof(msg));
    primary = rc & 0xff;
    if (rc == SQLITE_OK)
        goto done;
    if (primary != SQLITE_READONLY && primary != SQLITE_CANTOPEN) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: not a usable wfengine store: %s", s->db_path,
                     msg);
        goto done;
    }
    if (stat(wal, &st) != 0 || st.st_size == 0) {
        uri = file_uri(s->db_path, "mode=ro&immutable=1");
        rc = try_open(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, &s->rdb, msg, sizeof(msg));
        if (rc != SQLITE_OK)
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot open read-only: %s", s->db_path,
                         msg);
        goto done;
    }
    rc = private_copy(s, wal, err);
    if (rc == SQLITE_OK) {
        to = wf_xasprintf("%s/state.db", s->tmp_copy_dir);
        rc = try_open(to, SQLITE_OPEN_READWRITE, &s->rdb, msg, sizeof(msg));
        if (rc != SQLITE_OK)
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot read a copy of it in %s: %s",
                         s->db_path, s->tmp_copy_dir, msg);
    }
done:
    /* Belt and braces: nothing this connection runs may write. */
    if (rc == SQLITE_OK &&
        sqlite3_exec(s->rdb, "PRAGMA query_only=1", NULL, NULL, NULL) != SQLITE_OK)
        rc = wf__store_db_error(s, s->rdb, err, "cannot configure");
    free(to);
    free(uri);
    free(wal);
    return rc == SQLITE_OK ? WF_OK : WF_ESTORE;
}

/* The database file's header says WAL: bytes 18 and 19 (the read and write format versions)
 * are 2 (https://www.sqlite.org/fileformat2.html#the_database_header). SQLite writes them to
 * the file itself, not through the WAL, when the journal mode changes, and only under an
 * exclusive lock; a header that says otherwise, or none, is switched by set_wal. */
static bool header_says_wal(const char *db_path)
{
    unsigned char h[20];
    int fd = open(db_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    bool wal;

    if (fd < 0)
        return false;
    wal = pread(fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) &&
          memcmp(h, "SQLite format 3", 16) == 0 && h[18] == 2 && h[19] == 2;
    close(fd);
    return wal;
}

/* `PRAGMA journal_mode` reads the whole schema: a store already in WAL mode skips it. */
static int set_wal(wf_store *s, wf_error *err)
{
    sqlite3_stmt *st = NULL;
    const char *mode;
    int rc = WF_ESTORE;

    if (header_says_wal(s->db_path))
        return WF_OK;
    if (sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode=WAL", -1, &st, NULL) != SQLITE_OK ||
        sqlite3_step(st) != SQLITE_ROW) {
        wf__store_db_error(s, s->wdb, err, "cannot switch to WAL mode");
        goto out;
    }
    mode = (const char *)sqlite3_column_text(st, 0);
    if (mode == NULL || strcmp(mode, "wal") != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: cannot switch to WAL mode (journal mode stays '%s'); is the file "
                     "system read-only or a network file system?",
                     s->db_path, mode ? mode : "?");
        goto out;
    }
    rc = WF_OK;
out:
    sqlite3_finalize(st);
    return rc;
}

/* Brings the schema to WF_STORE_SCHEMA_VERSION in one transaction. BEGIN IMMEDIATE takes the
 * write lock first, so two processes opening a new store at once migrate it once. */
static int migrate(wf_store *s, wf_error *err)
{
    int64_t version = 0, tables = 0;
    char *sql = NULL;
    int rc = WF_ESTORE;
    bool in_tx = false;

    /* The common case, a store at the current version, needs no write lock. A version only
     * grows, so a store found current stays current. */
    if (query_int(s->wdb, "PRAGMA user_version", &version) == SQLITE_OK &&
        version == WF_STORE_SCHEMA_VERSION)
        return WF_OK;
    if (sqlite3_exec(s->wdb, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        wf__store_db_error(s, s->wdb, err, "cannot start the schema check");
        goto out;
    }
    in_tx = true;
    if (query_int(s->wdb, "PRAGMA user_version", &version) != SQLITE_OK ||
        query_int(s->wdb, "SELECT count(*) FROM sqlite_schema", &tables) != SQLITE_OK) {
        wf__store_db_error(s, s->wdb, err, "cannot read the schema version");
        goto out;
    }
    if (version > WF_STORE_SCHEMA_VERSION) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: was written by a newer wfengine (schema %lld, this one reads up to "
                     "%d)",
                     s->db_path, (long long)version, WF_STORE_SCHEMA_VERSION);
        goto out;
    }
    if (version == 0 && tables > 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: not a wfengine store (an SQLite database with other tables and no "
                     "wfengine schema version)",
                     s->db_path);
        goto out;
    }
    for (int64_t v = version; v < WF_STORE_SCHEMA_VERSION; v++) {
        if (sqlite3_exec(s->wdb, migrations[v], NULL, NULL, NULL) != SQLITE_OK) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                         "%s: cannot migrate the schema from version %lld to %lld: %s", s->db_path,
                         (long long)v, (long long)v + 1, sqlite3_errmsg(s->wdb));
            goto out;
        }
    }
    if (version != WF_STORE_SCHEMA_VERSION) {
        sql = wf_xasprintf("PRAGMA user_version=%d", WF_STORE_SCHEMA_VERSION);
        if (sqlite3_exec(s->wdb, sql, NULL, NULL, NULL) != SQLITE_OK) {
            wf__store_db_error(s, s->wdb, err, "cannot record the schema version");
            goto out;
        }
    }
    if (sqlite3_exec(s->wdb, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        wf__store_db_error(s, s->wdb, err, "cannot commit the schema");
        goto out;
    }
    in_tx = false;
    rc = WF_OK;
out:
    if (in_tx)
        sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    free(sql);
    return rc;
}

/*
 * SQLite checkpoints the WAL into the database when its last connection closes: two
 * fdatasync calls, most of what the store adds to a short run. While the WAL is small the
 * next open recovers it in a fraction of that (a read of at most WF__STORE_WAL_KEEP bytes),
 * so the store leaves it; a larger one is checkpointed as before. Durability does not change:
 * synchronous=NORMAL never syncs a commit, and a checkpoint left undone loses nothing.
 */
static void skip_small_checkpoint(wf_store *s)
{
    char *wal = wf_xasprintf("%s-wal", s->db_path);
    struct stat st;

    if (stat(wal, &st) == 0 && st.st_size <= WF__STORE_WAL_KEEP) {
        sqlite3_db_config(s->wdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
        if (s->rdb != NULL)
            sqlite3_db_config(s->rdb, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
    }
    free(wal);
}

/* Frees everything; every field may be in its initial state. */
static void destroy(wf_store *s)
{
    wf__store_writer_stop(s);
    wf__store_writer_release(s);
    if (s->wdb != NULL)
        skip_small_checkpoint(s);
    sqlite3_finalize(s->st_cache_get);
    sqlite3_close(s->rdb);
    sqlite3_close(s->wdb);
    remove_tmp_copy(s);
    /* After the writer stopped: every end it could commit is committed. */
    wf__store_release_locks(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    wf_error_release(&s->first_err);
    pthread_cond_destroy(&s->q_done);
    pthread_cond_destroy(&s->q_space);
    pthread_cond_destroy(&s->q_ready);
    pthread_mutex_destroy(&s->elock);
    pthread_mutex_destroy(&s->qlock);
    pthread_mutex_destroy(&s->rlock);
    pthread_mutex_destroy(&s->llock);
    free(s->locks_dir);
    free(s->lock_path);
    free(s->blobs_dir);
    free(s->db_path);
    free(s->dir);
    free(s);
}

/* A store in its initial state (every field as destroy expects), for dir. */
static wf_store *store_new(const char *dir)
{
    wf_store *s = wf_xcalloc(1, sizeof(*s));
    size_t n;

    pthread_mutex_init(&s->rlock, NULL);
    pthread_mutex_init(&s->qlock, NULL);
    pthread_mutex_init(&s->elock, NULL);
    pthread_mutex_init(&s->llock, NULL);
    pthread_cond_init(&s->q_ready, NULL);
    pthread_cond_init(&s->q_space, NULL);
    pthread_cond_init(&s->q_done, NULL);
    atomic_init(&s->failed, false);
    atomic_init(&s->tmp_counter, 0);
    wf_error_init(&s->first_err);
    s->lock_fd = -1;
    s->dir = wf_xstrdup(dir != NULL && dir[0] != '\0' ? dir : ".wfengine");
    /* "dir/" and "dir" name the same store; keep paths in messages clean. */
    n = strlen(s->dir);
    while (n > 1 && s->dir[n - 1] == '/')
        s->dir[--n] = '\0';
    s->db_path = wf_xasprintf("%s/state.db", s->dir);
    s->blobs_dir = wf_xasprintf("%s/blobs", s->dir);
    s->lock_path = wf_xasprintf("%s/lock", s->dir);
    s->locks_dir = wf_xasprintf("%s/locks", s->dir);
    wf__store_owner_init(&s->me);
    return s;
}

int wf_store_open(const char *dir, wf_store **out, wf_error *err)
{
    wf_store *s = store_new(dir);
    int rc = WF_ESTORE;

    *out = NULL;
    if (prepare_dir(s, err) != WF_OK)
        goto out;
    if (check_history(s, err) != WF_OK)
        goto out;
    if (open_db(s, &s->wdb, err) != WF_OK)
        goto out;
    if (set_wal(s, err) != WF_OK)
        goto out;
    if (migrate(s, err) != WF_OK)
        goto out;
    s->schema_version = WF_STORE_SCHEMA_VERSION;
    if (wf__store_writer_start(s, err) != WF_OK)
        goto out;
    rc = WF_OK;
out:
    if (rc != WF_OK) {
        destroy(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

/* The read-only counterpart of prepare_dir: creates nothing. The shared lock is taken when
 * the lock file can be opened (it keeps gc from deleting what is being read); a store whose
 * lock file cannot be opened is read without it. */
static int check_dir_readonly(wf_store *s, wf_error *err)
{
    struct stat st;
    char ebuf[128];

    if (stat(s->dir, &st) != 0) {
        wf_error_set(err, errno == ENOENT ? WF_ENOENT : WF_ESTORE, NULL, 0, 0,
                     "%s: no store there: %s", s->dir,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        return errno == ENOENT ? WF_ENOENT : WF_ESTORE;
    }
    if (!S_ISDIR(st.st_mode)) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: cannot use the store directory: it exists and is not a directory",
                     s->dir);
        return WF_ESTORE;
    }
    if (check_history(s, err) != WF_OK)
        return WF_ESTORE;
    if (stat(s->db_path, &st) != 0) {
        wf_error_set(err, WF_ENOENT, NULL, 0, 0,
                     "%s: no store there (no state.db): nothing has been recorded in it", s->dir);
        return WF_ENOENT;
    }
    s->lock_fd = open(s->lock_path, O_RDONLY | O_CLOEXEC);
    if (s->lock_fd >= 0 && take_shared_lock(s, err) != WF_OK)
        return WF_ESTORE;
    return WF_OK;
}

int wf_store_open_readonly(const char *dir, wf_store **out, wf_error *err)
{
    wf_store *s = store_new(dir);
    int64_t tables = 0;
    int rc;

    *out = NULL;
    s->readonly = true;
    rc = check_dir_readonly(s, err);
    if (rc != WF_OK)
        goto out;
    rc = open_db_readonly(s, err);
    if (rc != WF_OK)
        goto out;
    if (query_int(s->rdb, "PRAGMA user_version", &s->schema_version) != SQLITE_OK ||
        query_int(s->rdb, "SELECT count(*) FROM sqlite_schema", &tables) != SQLITE_OK) {
        rc = wf__store_db_error(s, s->rdb, err, "cannot read the schema version");
        goto out;
    }
    rc = WF_ESTORE;
    if (s->schema_version > WF_STORE_SCHEMA_VERSION) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: was written by a newer wfengine (schema %lld, this one reads up to "
                     "%d)",
                     s->db_path, (long long)s->schema_version, WF_STORE_SCHEMA_VERSION);
        goto out;
    }
    if (s->schema_version == 0 && tables > 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: not a wfengine store (an SQLite database with other tables and no "
                     "wfengine schema version)",
                     s->db_path);
        goto out;
    }
    rc = WF_OK;
out:
    if (rc != WF_OK) {
        destroy(s);
        s = NULL;
    }
    *out = s;
    return rc;
}

bool wf_store_readonly(const wf_store *s)
{
    return s != NULL && s->readonly;
}

int wf__store_read_conn(wf_store *s, wf_error *err)
{
    char *sql;
    int rc;

    if (s->st_cache_get != NULL)
        return WF_OK;
    if (s->schema_version == 0) {
        /* A read-only store that was never migrated: no tables yet, so no runs. */
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "no runs recorded in %s yet", s->dir);
        return WF_ENOENT;
    }
    if (s->rdb == NULL && open_db(s, &s->rdb, err) != WF_OK)
        return WF_ESTORE;
    /* files_json came with schema 5, result_from with 6 and result_lines with 11; a read-only
     * open of an older store reads them as NULL. */
    sql = wf_xasprintf("SELECT result_json, result_hash, stdout_hash, stderr_hash, %s, %s, %s "
                       "FROM cache WHERE key = ?1",
                       s->schema_version >= 5 ? "files_json" : "NULL",
                       s->schema_version >= 6 ? "result_from" : "NULL",
                       s->schema_version >= 11 ? "result_lines" : "NULL");
    rc = sqlite3_prepare_v3(s->rdb, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st_cache_get, NULL);
    free(sql);
    if (rc != SQLITE_OK)
        return wf__store_db_error(s, s->rdb, err, "cannot prepare a query");
    return WF_OK;
}

int wf_store_flush(wf_store *s, wf_error *err)
{
    uint64_t target;

    if (s == NULL)
        return WF_OK;
    pthread_mutex_lock(&s->qlock);
    target = s->enqueued;
    if (target > s->flush_target)
        s->flush_target = target;
    /* The writer is woken with the lock let go, or it would wake to block on it (B8). */
    pthread_mutex_unlock(&s->qlock);
    pthread_cond_signal(&s->q_ready);
    pthread_mutex_lock(&s->qlock);
    while (s->committed < target && !atomic_load(&s->failed))
        pthread_cond_wait(&s->q_done, &s->qlock);
    pthread_mutex_unlock(&s->qlock);
    if (atomic_load(&s->failed))
        return wf__store_copy_failure(s, err);
    return WF_OK;
}

int wf_store_close(wf_store *s, wf_error *err)
{
    int rc = WF_OK;

    if (s == NULL)
        return WF_OK;
    wf__store_writer_stop(s);
    if (atomic_load(&s->failed))
        rc = wf__store_copy_failure(s, err);
    destroy(s);
    return rc;
}
