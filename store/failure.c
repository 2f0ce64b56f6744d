/*
 * failure.c: how the store reports errors and its failed state (see wf_store.h and
 * store_internal.h): errno and SQLite messages, the first failure kept and copied to later
 * callers, and the check of blob hashes. Every other file of store/ reports through these;
 * they call no other file of store/.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

const char *wf__store_strerror(int errnum, char *buf, size_t size)
{
    /* The XSI strerror_r (we build without _GNU_SOURCE): returns 0 and fills buf. */
    if (strerror_r(errnum, buf, size) != 0)
        snprintf(buf, size, "error %d", errnum);
    return buf;
}

bool wf__store_valid_hash(const char *h)
{
    if (h == NULL || strlen(h) != WF_SHA256_HEX_LEN)
        return false;
    for (size_t i = 0; i < WF_SHA256_HEX_LEN; i++) {
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
            return false;
    }
    return true;
}

int wf__store_fail(wf_store *s, wf_error *err, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = wf_xvasprintf(fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&s->elock);
    if (s->first_err.code == WF_OK)
        wf_error_set(&s->first_err, WF_ESTORE, NULL, 0, 0, "%s", msg);
    /* Set under elock, after first_err, so a reader that sees the flag and then takes elock
     * finds the error. */
    atomic_store(&s->failed, true);
    pthread_mutex_unlock(&s->elock);
    wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s", msg);
    free(msg);
    /* Producers blocked on a full queue and flushers must not wait for a writer that now
     * drops everything. */
    pthread_mutex_lock(&s->qlock);
    pthread_cond_broadcast(&s->q_space);
    pthread_cond_broadcast(&s->q_done);
    pthread_mutex_unlock(&s->qlock);
    return WF_ESTORE;
}

int wf__store_copy_failure(wf_store *s, wf_error *err)
{
    pthread_mutex_lock(&s->elock);
    wf_error_set(err, WF_ESTORE, s->first_err.source, s->first_err.line, s->first_err.column, "%s",
                 s->first_err.message ? s->first_err.message : "store failed");
    pthread_mutex_unlock(&s->elock);
    return WF_ESTORE;
}

const char *wf__store_sqlite_msg(sqlite3 *db, char *buf, size_t size)
{
    char ebuf[128];
    int e, code;

    if (db == NULL) {
        snprintf(buf, size, "out of memory");
        return buf;
    }
    /* "disk I/O error" alone does not tell a full disk from a failing one. */
    e = sqlite3_system_errno(db);
    code = sqlite3_errcode(db) & 0xff; /* the primary code of an extended one */
    if (e != 0 && (code == SQLITE_IOERR || code == SQLITE_FULL || code == SQLITE_CANTOPEN))
        snprintf(buf, size, "%s (%s)", sqlite3_errmsg(db),
                 wf__store_strerror(e, ebuf, sizeof(ebuf)));
    else
        snprintf(buf, size, "%s", sqlite3_errmsg(db));
    return buf;
}

int wf__store_db_error(const wf_store *s, sqlite3 *db, wf_error *err, const char *what)
{
    char mbuf[512];

    wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: %s: %s", s->db_path, what,
                 wf__store_sqlite_msg(db, mbuf, sizeof(mbuf)));
    return WF_ESTORE;
}

bool wf_store_failed(const wf_store *s)
{
    return s != NULL && atomic_load(&s->failed);
}
