/*
 * Content-addressed blobs: blobs/ab/abcdef... named by the SHA256 of their bytes.
 *
 * A blob is written to a temporary file in its shard directory and renamed into place, so a
 * reader (or a store reopened after kill -9) sees it whole or not at all. Blobs are not
 * fsynced: that would cost a disk flush per unit's output, and the store promises against
 * power loss only what synchronous=NORMAL does. A blob that a power loss left short is caught
 * by wf_store_get_blob's hash check, and wf_store_put_blob rewrites a blob whose size is wrong.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/*
 * The temporary file is created with O_EXCL under a name unique to this process (pid and a
 * counter) rather than with mkstemp: it gets O_CLOEXEC atomically, so a process the engine
 * spawns on another thread at that moment does not inherit it, and the usual 0666 & ~umask
 * mode, like state.db.
 */
static int open_tmp(wf_store *s, const char *shard, char **tmp_out)
{
    char *tmp = NULL;
    int fd = -1;

    for (int tries = 0; tries < 100; tries++) {
        unsigned long n = atomic_fetch_add(&s->tmp_counter, 1);

        free(tmp);
        tmp = wf_xasprintf("%s/.tmp-%ld-%lu", shard, (long)getpid(), n);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    *tmp_out = tmp;
    return fd;
}

/* A disk error (errno) fails the store: the run cannot be recorded faithfully any more. */
static int disk_error(wf_store *s, wf_error *err, const char *path, const char *doing)
{
    char ebuf[128];
    int e = errno;

    return wf__store_fail(s, err, "%s: %s: %s", path, doing,
                          wf__store_strerror(e, ebuf, sizeof(ebuf)));
}

int wf_store_put_blob(wf_store *s, const void *data, size_t len, char hash[WF_SHA256_HEX_LEN + 1],
                      wf_error *err)
{
    char *shard = NULL, *path = NULL, *tmp = NULL;
    struct stat st;
    int fd = -1, rc = WF_ESTORE, saved;

    wf_sha256_hex(data, len, hash);
    if (s->readonly)
        wf__store_fail(s, NULL, "%s: the store was opened read-only: nothing can be recorded",
                       s->dir);
    if (wf_store_failed(s)) {
        rc = wf__store_copy_failure(s, err);
        goto out;
    }
    shard = wf_xasprintf("%s/%.2s", s->blobs_dir, hash);
    path = wf_xasprintf("%s/%s", shard, hash);
    /* Same name, same size: the same bytes (the name is their hash). */
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len) {
        rc = WF_OK;
        goto out;
    }
    /* Shard directories are made on demand: try the file first, since after the first few
     * hundred blobs the directory almost always exists. */
    fd = open_tmp(s, shard, &tmp);
    if (fd < 0 && errno == ENOENT) {
        if (mkdir(shard, 0777) != 0 && errno != EEXIST) {
            rc = disk_error(s, err, shard, "cannot create the blob directory");
            goto out;
        }
        free(tmp);
        fd = open_tmp(s, shard, &tmp);
    }
    if (fd < 0) {
        rc = disk_error(s, err, tmp, "cannot create a blob");
        goto out;
    }
    if (write_all(fd, data, len) != 0) {
        rc = disk_error(s, err, tmp, "cannot write a blob");
        goto out;
    }
    /* close reports the late write errors of some file systems (NFS, quotas). */
    saved = close(fd);
    fd = -1;
    if (saved != 0) {
        rc = disk_error(s, err, tmp, "cannot write a blob");
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = disk_error(s, err, path, "cannot put a blob in place");
        goto out;
    }
    free(tmp);
    tmp = NULL;
    rc = WF_OK;
out:
    if (fd >= 0)
        close(fd);
    if (tmp != NULL)
        unlink(tmp);
    free(tmp);
    free(path);
    free(shard);
    return rc;
}

const char *wf_store_blobs_dir(const wf_store *s)
{
    return s->blobs_dir;
}

char *wf_store_blob_path(const wf_store *s, const char *hash)
{
    return wf_xasprintf("%s/%.2s/%s", s->blobs_dir, hash, hash);
}

/* linkat of an O_TMPFILE through /proc needs no privilege (AT_EMPTY_PATH would). */
static int link_or_rename(int fd, const char *tmp_path, const char *path)
{
    char proc[64];

    if (tmp_path != NULL)
        return rename(tmp_path, path);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0 && errno != EEXIST)
        return -1;
    return 0; /* EEXIST: another unit made the same blob meanwhile, the same bytes */
}

int wf_store_adopt_blob(wf_store *s, int fd, const char *tmp_path, const char *hash, uint64_t len,
                        int write_errno, wf_error *err)
{
    char *shard = NULL, *path = NULL;
    struct stat st;
    int rc = WF_ESTORE;

    if (s->readonly)
        wf__store_fail(s, NULL, "%s: the store was opened read-only: nothing can be recorded",
                       s->dir);
    if (wf_store_failed(s)) {
        rc = wf__store_copy_failure(s, err);
        goto out;
    }
    if (write_errno != 0) {
        errno = write_errno;
        rc = disk_error(s, err, s->blobs_dir, "cannot write a blob");
        goto out;
    }
    shard = wf_xasprintf("%s/%.2s", s->blobs_dir, hash);
    path = wf_xasprintf("%s/%s", shard, hash);
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == len) {
        rc = WF_OK;
        goto out;
    }
    if (stat(path, &st) == 0)
        unlink(path); /* a blob a power loss left short: replaced */
    /* Shard directories are made on demand, as for wf_store_put_blob. */
    if (link_or_rename(fd, tmp_path, path) != 0) {
        if (errno != ENOENT) {
            rc = disk_error(s, err, path, "cannot put a blob in place");
            goto out;
        }
        if (mkdir(shard, 0777) != 0 && errno != EEXIST) {
            rc = disk_error(s, err, shard, "cannot create the blob directory");
            goto out;
        }
        if (link_or_rename(fd, tmp_path, path) != 0) {
            rc = disk_error(s, err, path, "cannot put a blob in place");
            goto out;
        }
    }
    rc = WF_OK;
out:
    free(path);
    free(shard);
    return rc;
}

int wf_store_get_blob(wf_store *s, const char *hash, char **data, size_t *len, wf_error *err)
{
    char *path = NULL, *buf = NULL;
    char ebuf[128], got[WF_SHA256_HEX_LEN + 1];
    struct stat st;
    size_t size = 0, done = 0;
    int fd = -1, rc = WF_ESTORE;

    *data = NULL;
    *len = 0;
    if (!wf__store_valid_hash(hash)) {
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "%s: no blob '%s' (not a SHA256)", s->blobs_dir,
                     hash ? hash : "(null)");
        rc = WF_ENOENT;
        goto out;
    }
    path = wf_xasprintf("%s/%.2s/%s", s->blobs_dir, hash, hash);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        wf_error_set(err, WF_ENOENT, NULL, 0, 0, "%s: no such blob", path);
        rc = WF_ENOENT;
        goto out;
    }
    if (fd < 0 || fstat(fd, &st) != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot read a blob: %s", path,
                     wf__store_strerror(errno, ebuf, sizeof(ebuf)));
        goto out;
    }
    size = (size_t)st.st_size;
    buf = wf_xmalloc(size + 1);
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wf_error_set(err, WF_ESTORE, NULL, 0, 0, "%s: cannot read a blob: %s", path,
                         wf__store_strerror(errno, ebuf, sizeof(ebuf)));
            goto out;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    buf[done] = '\0';
    wf_sha256_hex(buf, done, got);
    if (strcmp(got, hash) != 0) {
        wf_error_set(err, WF_ESTORE, NULL, 0, 0,
                     "%s: the blob is corrupt (its content hashes to %.12s...)", path, got);
        goto out;
    }
    *data = buf;
    *len = done;
    buf = NULL;
    rc = WF_OK;
out:
    if (fd >= 0)
        close(fd);
    free(buf);
    free(path);
    return rc;
}
