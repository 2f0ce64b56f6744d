/*
 * unit_spill.c: large results kept on disk, by reference. A unit's stdout past 64 KiB is
 * written to a file as it arrives (proc.c); here that file becomes the stdout blob in the
 * store (linked into place: one copy, nothing read back), or, without a store (and in a run
 * with secrets, whose blobs are masked), a file of the run's spill directory, which goes
 * with the run. The unit's result is then a marker for that file (context/ref.c), loaded
 * through the run's cache when a template needs it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_internal.h"
#include "unit_internal.h"

int wf__spill_open(wf_run *r, wf_errlist *errs)
{
    uint64_t budget = r->opts.memory > 0 ? r->opts.memory : r->wf->memory;
    const char *tmp = getenv("TMPDIR");
    char *dir;

    r->refs = wf_ref_cache_new(budget);
    if (r->store != NULL && r->n_secrets == 0)
        return WF_OK;
    dir = wf_xasprintf("%s/wfengine-spill-XXXXXX", tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        wf_error_set(wf_errlist_add(errs), WF_EIO, NULL, 0, 0,
                     "%s: cannot create the directory for large outputs: %s; make room there, "
                     "or point TMPDIR at a file system with room",
                     dir, strerror(errno));
        free(dir);
        return WF_EIO;
    }
    r->spill_dir = dir;
    return WF_OK;
}

void wf__spill_close(wf_run *r)
{
    DIR *d;
    struct dirent *e;

    wf_ref_cache_unref(r->refs);
    r->refs = NULL;
    if (r->spill_dir == NULL)
        return;
    /* Flat: only files this run named, and spill files a failed link left. */
    d = opendir(r->spill_dir);
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d != NULL)
        closedir(d);
    rmdir(r->spill_dir);
    free(r->spill_dir);
    r->spill_dir = NULL;
}

const char *wf__spill_dir_for(const wf_run *r)
{
    return r->spill_dir != NULL ? r->spill_dir : wf_store_blobs_dir(r->store);
}

const char *wf__spill_advice(const wf_run *r)
{
    if (r->store == NULL)
        return "make room there (or point TMPDIR at a file system with room) and run again";
    if (r->spill_dir != NULL)
        return "make room there (or point TMPDIR at a file system with room), then continue "
               "with --resume last";
    return "make room there, then continue with --resume last";
}

/* A spilled file that cannot be written or kept outside the store: the unit fails, and so
 * does the run (exit 3), which cannot keep its results (what: "stdout" or "$WF_RESULT"). */
static bool spill_failed(wf_run *r, const char *what, const char *doing, int e, wf_completion *c)
{
    const wf_task *task = &r->wf->tasks[c->job.task];
    char unit[32] = "";

    if (task->items_kind != WF_ITEMS_NONE)
        snprintf(unit, sizeof(unit), " item %u", (unsigned)c->job.unit);
    c->status = WF_STATUS_FAILED;
    free(c->error);
    c->error = wf_xasprintf("%s: %s %s: %s", what, doing, r->spill_dir, strerror(e));
    wf__run_disk_failed(
        r, wf_xasprintf("task '%s'%s: %s; %s", task->name, unit, c->error, wf__spill_advice(r)));
    return false;
}

/* Gives the spilled file the name path: a link for an unnamed file, else a rename. The same
 * name already there is the same content (it is its hash). */
static int name_file(const wf_proc_output *out, const char *path)
{
    char proc[64];

    if (out->spill_path != NULL)
        return rename(out->spill_path, path) == 0 ? 0 : errno;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", out->spill_fd);
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

/* A run with secrets stores stdout masked: the masked copy is made in memory (the raw file
 * stays in the spill directory for the result). */
static bool put_masked(wf_run *r, const char *path, uint64_t size, char *blob_hash,
                       wf_completion *c)
{
    char *text = wf_xmalloc(size + 1), *masked;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    wf_error err;

    while (fd >= 0 && done < size) {
        ssize_t n = read(fd, text + done, size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (fd >= 0)
        close(fd);
    text[done] = '\0';
    masked = wf__run_mask(r, text);
    wf_error_init(&err);
    if (wf_store_put_blob(r->store, masked ? masked : text, masked ? strlen(masked) : done,
                          blob_hash, &err) != WF_OK) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xstrdup(err.message ? err.message : "cannot store a large output");
    }
    wf_error_release(&err);
    free(masked);
    free(text);
    return c->error == NULL;
}

/* What wf__unit_take_stdout and wf__unit_take_result share: the spilled file out becomes the
 * blob named in blob_hash (what: "stdout" or "$WF_RESULT", for the messages). */
static bool take_spilled(wf_run *r, wf_proc_output *out, const char *what, char *blob_hash,
                         wf_completion *c, char **ref_path)
{
    bool to_store = r->store != NULL && r->spill_dir == NULL;
    wf_error err;
    char *path;
    int e;

    *ref_path = NULL;
    wf_error_init(&err);
    if (out->spill_errno != 0) {
        /* A full disk: the unit failed, and so did the store, or the run without one (either
         * way the run stops, with what is recorded consistent; --resume goes on once there
         * is room). */
        if (!to_store)
            return spill_failed(r, what, "cannot write it to", out->spill_errno, c);
        wf_store_adopt_blob(r->store, -1, NULL, out->hash, out->total, out->spill_errno, &err);
        c->status = WF_STATUS_FAILED;
        free(c->error);
        c->error = wf_xasprintf("%s: cannot write it to %s: %s (after %llu bytes of it)", what,
                                wf__spill_dir_for(r), strerror(out->spill_errno),
                                (unsigned long long)out->total);
        wf_error_release(&err);
        return false;
    }
    if (to_store) {
        if (wf_store_adopt_blob(r->store, out->spill_fd, out->spill_path, out->hash, out->total, 0,
                                &err) != WF_OK) {
            c->status = WF_STATUS_FAILED;
            free(c->error);
            c->error = wf_xasprintf("%s: %s", what, err.message ? err.message : "cannot store it");
            wf_error_release(&err);
            return false;
        }
        if (out->spill_path != NULL && access(out->spill_path, F_OK) != 0) {
            free(out->spill_path); /* renamed into place */
            out->spill_path = NULL;
        }
        snprintf(blob_hash, WF_SHA256_HEX_LEN + 1, "%s", out->hash);
        *ref_path = wf_store_blob_path(r->store, out->hash);
        return true;
    }
    path = wf_xasprintf("%s/%s", r->spill_dir, out->hash);
    e = name_file(out, path);
    if (e != 0) {
        free(path);
        return spill_failed(r, what, "cannot keep it in", e, c);
    }
    if (out->spill_path != NULL) {
        free(out->spill_path);
        out->spill_path = NULL;
    }
    if (r->store != NULL && !put_masked(r, path, out->total, blob_hash, c)) {
        free(path);
        return false;
    }
    *ref_path = path;
    return true;
}

bool wf__unit_take_stdout(wf_run *r, wf_proc_output *out, wf_completion *c, char **ref_path)
{
    c->out_spilled = out->total;
    return take_spilled(r, out, "stdout", c->stdout_hash, c, ref_path);
}

bool wf__unit_take_result(wf_run *r, wf_proc_output *out, wf_completion *c, char **ref_path)
{
    bool ok = take_spilled(r, out, "$WF_RESULT", c->result_hash, c, ref_path);

    /* The record says: the result is that blob converted by the task's output mode. */
    if (ok && r->store != NULL)
        c->result_from = wf_output_mode_name(r->wf->tasks[c->job.task].output);
    return ok;
}

/* A name in dir for a file adopted there, unique in the process. */
static char *adopt_name(const char *dir)
{
    static atomic_ulong counter;

    return wf_xasprintf("%s/.adopt-%ld-%lu", dir, (long)getpid(), atomic_fetch_add(&counter, 1));
}

/* Copies the first len bytes of in (at its offset 0) to out, hashing them into h and
 * counting their lines into *lines (a last line without \n counts), as proc.c does for a
 * stream. 0, or the errno of a failed read (negated) or write. */
static int copy_hashing(int in, int out, uint64_t len, wf_sha256 *h, uint64_t *lines)
{
    char buf[65536];
    uint64_t done = 0;
    char last = '\n';

    *lines = 0;

    while (done < len) {
        size_t want = len - done < sizeof(buf) ? (size_t)(len - done) : sizeof(buf);
        ssize_t n = pread(in, buf, want, (off_t)done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO; /* shorter than fstat said: it changed */
        wf_sha256_update(h, buf, (size_t)n);
        *lines += wf_count_newlines(buf, (size_t)n);
        last = buf[n - 1];
        for (ssize_t w = 0; out >= 0 && w < n;) {
            ssize_t k = write(out, buf + w, (size_t)(n - w));

            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                return errno;
            w += k;
        }
        done += (uint64_t)n;
    }
    if (last != '\n')
        ++*lines;
    return 0;
}

bool wf__spill_adopt_file(wf_run *r, const char *path, uint64_t cap, wf_proc_output *out,
                          char **error)
{
    const char *dir = wf__spill_dir_for(r);
    wf_sha256 *h = NULL;
    struct stat st;
    bool linked = false;
    char proc[64];
    int in = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), e;

    *error = NULL;
    if (in < 0 || fstat(in, &st) != 0) {
        *error = wf_xasprintf("cannot read '%s': %s", path, strerror(errno));
        if (in >= 0)
            close(in);
        return false;
    }
    if (!S_ISREG(st.st_mode)) {
        *error = wf_xasprintf("cannot read '%s': not a regular file", path);
        close(in);
        return false;
    }
    out->truncated = (uint64_t)st.st_size > cap;
    out->total = out->truncated ? cap : (uint64_t)st.st_size;
    /* The whole file, on the same file system: a second name for it, nothing copied (for the
     * file opened and hashed here, whatever path names by then). */
    out->spill_path = adopt_name(dir);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", in);
    if (!out->truncated &&
        linkat(AT_FDCWD, proc, AT_FDCWD, out->spill_path, AT_SYMLINK_FOLLOW) == 0) {
        linked = true;
        out->spill_fd = open(out->spill_path, O_RDONLY | O_CLOEXEC);
    } else {
        out->spill_fd = open(out->spill_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    }
    if (out->spill_fd < 0) {
        out->spill_errno = errno;
        close(in);
        if (linked)
            unlink(out->spill_path);
        free(out->spill_path);
        out->spill_path = NULL;
        return true; /* as a stream that could not be written: the caller fails the unit */
    }
    h = wf_sha256_new();
    e = copy_hashing(in, linked ? -1 : out->spill_fd, out->total, h, &out->lines);
    wf_sha256_final_hex(h, out->hash);
    close(in);
    if (e < 0) {
        *error = wf_xasprintf("cannot read '%s': %s", path, strerror(-e));
        return false;
    }
    out->spill_errno = e;
    return true;
}

json_object *wf__unit_ref_result(wf_run *r, const wf_task *task, const wf_job *job,
                                 const char *path, const wf_proc_output *out, wf_completion *c)
{
    char *label = task->items_kind != WF_ITEMS_NONE
                      ? wf_xasprintf("task '%s' item %u", task->name, (unsigned)job->unit)
                      : wf_xasprintf("task '%s'", task->name);
    json_object *value = NULL, *marker = NULL;
    uint64_t lines = out->lines;
    wf_json_array_index idx = { 0 };
    bool is_array = false;

    if (task->output == WF_OUTPUT_LINES && lines > WF_MAX_LIST_LEN) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("output: lines: stdout has %llu lines, more than the %d a list "
                                "may have; use output: text, or print fewer lines",
                                (unsigned long long)lines, WF_MAX_LIST_LEN);
        free(label);
        return NULL;
    }
    /* json is checked once now, to fail the unit on bad output as before. An array is
     * scanned an item at a time and becomes a list by reference (read a window at a time when
     * used); any other value is parsed whole, and enters the cache if it fits: it is likely
     * to be read soon. Lines always convert: they were counted on the way, and are read a
     * window at a time when used. */
    if (task->output == WF_OUTPUT_JSON) {
        char *error = NULL;
        int rc = wf_json_array_scan(path, out->total, "stdout", &is_array, &idx, &error);

        if (rc == WF_OK && !is_array)
            rc = wf_ref_load_file(path, task->output, out->total, &value, &error);
        if (rc != WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
            free(label);
            return NULL;
        }
    }
    marker = wf_ref_new(r->refs, path, out->hash, task->output, out->total,
                        wf_ref_mem_estimate(task->output, out->total, lines), label, value);
    if (task->output == WF_OUTPUT_LINES)
        wf_ref_set_lines(marker, lines);
    if (is_array)
        wf_ref_set_json_array(marker, &idx);
    free(label);
    return marker;
}
