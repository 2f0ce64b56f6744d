/*
 * cache_files.c: the files a cache entry stores and restores (`cache.generates`). After a
 * successful unit its generated files become blobs listed in the entry's files_json
 * ([{"path", "mode", "hash"}], paths relative to the workdir); a hit writes them back, each
 * atomically (a temporary file in the same directory, then rename) with its mode bits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_glob.h"
#include "unit_internal.h"

void wf__unit_warn(wf_completion *c, const char *fmt, ...)
{
    va_list ap;
    char *msg;

    va_start(ap, fmt);
    msg = wf_xvasprintf(fmt, ap);
    va_end(ap);
    if (c->warning == NULL) {
        c->warning = msg;
    } else {
        char *both = wf_xasprintf("%s\n%s", c->warning, msg);

        free(c->warning);
        free(msg);
        c->warning = both;
    }
}

static char *in_workdir(const char *workdir, const char *rel)
{
    return workdir != NULL ? wf_xasprintf("%s/%s", workdir, rel) : wf_xstrdup(rel);
}

/* Reads a regular file of at most WF_CACHE_FILE_MAX bytes; false with *why (static text or
 * strerror) otherwise. */
static bool read_small_file(const char *path, const struct stat *st, char **data, size_t *len,
                            const char **why)
{
    int fd;
    size_t got = 0;

    if ((uint64_t)st->st_size > WF_CACHE_FILE_MAX) {
        *why = "it is larger than the 64 MiB a cached file may have";
        return false;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *why = strerror(errno);
        return false;
    }
    *data = wf_xmalloc((size_t)st->st_size + 1);
    while (got < (size_t)st->st_size) {
        ssize_t n = read(fd, *data + got, (size_t)st->st_size - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *why = n < 0 ? strerror(errno) : "it shrank while it was read";
            free(*data);
            close(fd);
            return false;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return true;
}

char *wf__cache_files_collect(wf_run *r, const wf_task *task, const char *workdir, wf_completion *c)
{
    const wf_task_extra *x = wf_task_extra_of(task);
    json_object *files = json_object_new_array();
    char *out = NULL;
    bool ok = true;

    for (size_t i = 0; ok && i < x->n_cache_generates; i++) {
        char **paths;
        size_t n, stored = 0;

        wf_file_glob(workdir, x->cache_generates[i], &paths, &n);
        for (size_t k = 0; ok && k < n; k++) {
            char *path = in_workdir(workdir, paths[k]), *data = NULL, hash[WF_SHA256_HEX_LEN + 1];
            const char *why = NULL;
            struct stat st;
            size_t len = 0;
            wf_error err;

            if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
                free(path);
                continue; /* directories (and dangling links) are not files to restore */
            }
            wf_error_init(&err);
            if (!read_small_file(path, &st, &data, &len, &why)) {
                wf__unit_warn(c, "not cached: cannot store generated file %s: %s", paths[k], why);
                ok = false;
            } else if (wf_store_put_blob(r->store, data, len, hash, &err) != WF_OK) {
                wf__unit_warn(c, "not cached: cannot store generated file %s: %s", paths[k],
                              err.message ? err.message : "store error");
                ok = false;
            } else {
                json_object *f = json_object_new_object();

                json_object_object_add(f, "path", json_object_new_string(paths[k]));
                json_object_object_add(f, "mode", json_object_new_int(st.st_mode & 0777));
                json_object_object_add(f, "hash", json_object_new_string(hash));
                json_object_array_add(files, f);
                stored++;
            }
            wf_error_release(&err);
            free(data);
            free(path);
        }
        if (ok && stored == 0)
            wf__unit_warn(c, "cache.generates '%s' matched no file", x->cache_generates[i]);
        wf_file_glob_free(paths);
    }
    if (ok)
        out = wf_xstrdup(json_object_to_json_string_ext(files, JSON_C_TO_STRING_PLAIN |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(files);
    return out;
}

/* A stored path is relative and never goes up: the entry cannot write outside the workdir. */
static bool path_confined(const char *p)
{
    size_t n;

    if (p[0] == '\0' || p[0] == '/')
        return false;
    for (const char *s = p; *s != '\0'; s += n + (s[n] == '/')) {
        n = strcspn(s, "/");
        if (n == 2 && s[0] == '.' && s[1] == '.')
            return false;
    }
    return true;
}

/* Creates the directories above path (mkdir -p of its dirname). */
static void make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        mkdir(path, 0777);
        *p = '/';
    }
}

/* Writes data to path through a temporary file in the same directory and rename(2). */
static bool write_atomic(char *path, const char *data, size_t len, mode_t mode, const char **why)
{
    char *slash = strrchr(path, '/');
    char *tmp = slash != NULL
                    ? wf_xasprintf("%.*s/.%s.wf-XXXXXX", (int)(slash - path), path, slash + 1)
                    : wf_xasprintf(".%s.wf-XXXXXX", path);
    size_t done = 0;
    int fd, e = 0;

    make_parents(path);
    fd = mkstemp(tmp);
    if (fd < 0) {
        *why = strerror(errno);
        free(tmp);
        return false;
    }
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = errno;
            break;
        }
        done += (size_t)n;
    }
    if (e == 0 && fchmod(fd, mode) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e == 0 && rename(tmp, path) != 0)
        e = errno;
    if (e != 0) {
        *why = strerror(e);
        unlink(tmp);
    }
    free(tmp);
    return e == 0;
}

bool wf__cache_files_restore(wf_run *r, const char *workdir, const char *files_json,
                             wf_completion *c)
{
    json_object *files = json_tokener_parse(files_json);
    bool ok = json_object_is_type(files, json_type_array);

    if (!ok)
        wf__unit_warn(c, "cache entry not used: its list of files is not readable");
    for (size_t i = 0; ok && i < json_object_array_length(files); i++) {
        json_object *f = json_object_array_get_idx(files, i), *v;
        const char *rel =
            json_object_object_get_ex(f, "path", &v) ? json_object_get_string(v) : NULL;
        const char *hash =
            json_object_object_get_ex(f, "hash", &v) ? json_object_get_string(v) : NULL;
        int mode = json_object_object_get_ex(f, "mode", &v) ? json_object_get_int(v) : 0644;
        const char *why = NULL;
        char *data = NULL, *path;
        size_t len = 0;
        wf_error err;

        if (rel == NULL || hash == NULL || !path_confined(rel)) {
            wf__unit_warn(c, "cache entry not used: it names a file outside the workdir");
            ok = false;
            break;
        }
        wf_error_init(&err);
        path = in_workdir(workdir, rel);
        if (wf_store_get_blob(r->store, hash, &data, &len, &err) != WF_OK) {
            wf__unit_warn(c, "cache entry not used: the stored content of %s is gone (%s)", rel,
                          err.message ? err.message : "missing blob");
            ok = false;
        } else if (!write_atomic(path, data, len, (mode_t)(mode & 0777), &why)) {
            wf__unit_warn(c, "cache entry not used: cannot restore %s: %s", rel, why);
            ok = false;
        }
        wf_error_release(&err);
        free(data);
        free(path);
    }
    json_object_put(files);
    return ok;
}
