/*
 * unit_values.c: the item results of a large fan-out kept on disk (unit_values.h). A task of
 * more than WF__VALUES_INLINE units appends each unit's value, as it ends, to an unnamed file
 * (in the store's blobs directory, or the run's spill directory) instead of a JSON array in
 * memory, and notes per window of WF__VALUES_WINDOW units the byte range its records span
 * (16 bytes a window). Once the task ends, its result is a list by reference
 * (wf_ref_new_list) whose items are read from that file: one window is read and kept at a
 * time, so reading the items in order reads the file once.
 *
 * A record is one line: the unit's index, a space, then `J` and the value as JSON text, or `R`
 * and a result by reference (`R<mode> <size> <mem> <lines> <hash> <path>`, made into a new
 * marker when read: a value on disk is never loaded to be written). A unit without a value
 * (failed, skipped, null) has no record; a later record for the same index wins.
 *
 * Thread safety: one mutex guards the file's write buffer, the window ranges and the window
 * read last; puts come from the scheduler thread, gets from any thread.
 */
#define _GNU_SOURCE /* O_TMPFILE */
#include "unit_values.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"
#include "unit_internal.h"

/* Write buffer flushed past this many bytes. */
#define FLUSH_AT ((size_t)64 << 10)

struct wf_values_log {
    atomic_uint n_refs; /* the task (then its published result), and a pipelined task's items */
    pthread_mutex_t mu;
    int fd;
    char *dir;   /* where the file is, for errors */
    char *label; /* "task 'fan'" */
    wf_ref_cache *refs;
    size_t n_units, n_win;
    uint64_t *lo, *hi; /* per window: the records' byte range [lo, hi) (lo UINT64_MAX: none) */
    uint64_t end;      /* bytes in the file, buffered ones included */
    uint64_t written;  /* bytes written to the file */
    wf_strbuf wbuf;
    int write_errno;    /* the first write error: every read fails with it */
    bool reported;      /* write_errno was handed to the caller */
    const char *advice; /* wf__spill_advice: what to do after a failed write */
    /* The window read last. */
    size_t win; /* SIZE_MAX: none */
    char *buf;
    size_t buf_len; /* its records' bytes (each line's \n made a NUL) */
    size_t *at; /* per unit of the window: where its record's kind letter is in buf, or SIZE_MAX */
};

wf_values_log *wf__values_log_new(const wf_run *r, uint32_t t, size_t n_units, char **error)
{
    const char *dir = wf__spill_dir_for(r);
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    wf_values_log *l;

    if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
        /* A file system without O_TMPFILE: a named file, unnamed at once. */
        char *path = wf_xasprintf("%s/.values-XXXXXX", dir);

        fd = mkostemp(path, O_CLOEXEC);
        if (fd >= 0)
            unlink(path);
        free(path);
    }
    if (fd < 0) {
        *error =
            wf_xasprintf("task '%s': cannot create the file for its %zu item results in "
                         "%s: %s; %s",
                         r->wf->tasks[t].name, n_units, dir, strerror(errno), wf__spill_advice(r));
        return NULL;
    }
    l = wf_xcalloc(1, sizeof(*l));
    atomic_init(&l->n_refs, 1);
    pthread_mutex_init(&l->mu, NULL);
    l->fd = fd;
    l->dir = wf_xstrdup(dir);
    l->label = wf_xasprintf("task '%s'", r->wf->tasks[t].name);
    l->refs = wf_ref_cache_ref(r->refs);
    l->n_units = n_units;
    l->n_win = (n_units + WF__VALUES_WINDOW - 1) / WF__VALUES_WINDOW;
    l->lo = wf_xmalloc((l->n_win ? l->n_win : 1) * sizeof(*l->lo));
    l->hi = wf_xcalloc(l->n_win ? l->n_win : 1, sizeof(*l->hi));
    for (size_t w = 0; w < l->n_win; w++)
        l->lo[w] = UINT64_MAX;
    l->win = SIZE_MAX;
    l->advice = wf__spill_advice(r);
    return l;
}

wf_values_log *wf__values_log_ref(wf_values_log *l)
{
    atomic_fetch_add_explicit(&l->n_refs, 1, memory_order_relaxed);
    return l;
}

void wf__values_log_free(wf_values_log *l)
{
    if (l == NULL || atomic_fetch_sub_explicit(&l->n_refs, 1, memory_order_acq_rel) != 1)
        return;
    close(l->fd);
    pthread_mutex_destroy(&l->mu);
    wf_ref_cache_unref(l->refs);
    wf_strbuf_release(&l->wbuf);
    free(l->dir);
    free(l->label);
    free(l->lo);
    free(l->hi);
    free(l->buf);
    free(l->at);
    free(l);
}

/* Writes the buffer out (mu held). */
static void flush_log(wf_values_log *l)
{
    size_t done = 0;

    while (done < l->wbuf.len && l->write_errno == 0) {
        ssize_t n =
            pwrite(l->fd, l->wbuf.buf + done, l->wbuf.len - done, (off_t)(l->written + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            l->write_errno = errno;
        else if (n == 0)
            l->write_errno = ENOSPC; /* no progress: as good as a full disk */
        else
            done += (size_t)n;
    }
    l->written += done;
    wf_strbuf_reset(&l->wbuf);
}

/* The message of a write error not handed to the caller yet (owned), or NULL (mu held): a
 * read may meet the error first, but only a put or the publish report it, on the scheduler
 * thread. */
static char *unreported_error(wf_values_log *l)
{
    if (l->write_errno == 0 || l->reported)
        return NULL;
    l->reported = true;
    return wf_xasprintf("%s: its item results cannot be written to %s: %s; %s", l->label, l->dir,
                        strerror(l->write_errno), l->advice);
}

char *wf__values_log_put(wf_values_log *l, uint32_t idx, json_object *v_take)
{
    size_t w = idx / WF__VALUES_WINDOW, start;
    wf_ref_info info;
    char *error = NULL;

    if (v_take == NULL)
        return NULL;
    pthread_mutex_lock(&l->mu);
    start = l->wbuf.len;
    wf_strbuf_addf(&l->wbuf, "%" PRIu32 " ", idx);
    if (wf_ref_get_info(v_take, &info) && info.path[0] != '\0') {
        wf_strbuf_addf(&l->wbuf, "R%d %" PRIu64 " %" PRIu64 " %" PRIu64 " %s %s", (int)info.mode,
                       info.size, info.mem, info.lines, info.hash[0] != '\0' ? info.hash : "-",
                       info.path);
    } else {
        wf_strbuf_addc(&l->wbuf, 'J');
        wf_json_write(&l->wbuf, v_take);
    }
    wf_strbuf_addc(&l->wbuf, '\n');
    if (l->end < l->lo[w])
        l->lo[w] = l->end;
    l->end += l->wbuf.len - start;
    l->hi[w] = l->end;
    if (l->win == w) {
        /* The window read last gets the record too: a pipeline reads each item just after
         * its unit put it, and would otherwise read the window again for every item. */
        size_t rec = l->wbuf.len - start,
               prefix = (size_t)(strchr(l->wbuf.buf + start, ' ') + 1 - (l->wbuf.buf + start));

        l->buf = wf_xrealloc(l->buf, l->buf_len + rec + 1);
        memcpy(l->buf + l->buf_len, l->wbuf.buf + start, rec);
        l->buf[l->buf_len + rec - 1] = '\0';
        l->buf[l->buf_len + rec] = '\0';
        l->at[idx - w * WF__VALUES_WINDOW] = l->buf_len + prefix;
        l->buf_len += rec;
    }
    if (l->wbuf.len >= FLUSH_AT)
        flush_log(l);
    error = unreported_error(l);
    pthread_mutex_unlock(&l->mu);
    json_object_put(v_take);
    return error;
}

/* Reads window w's records into buf and at (mu held); an error (owned) or NULL. */
static char *load_window(wf_values_log *l, size_t w)
{
    size_t len, first = w * WF__VALUES_WINDOW;

    l->win = SIZE_MAX;
    flush_log(l);
    if (l->write_errno != 0)
        return wf_xasprintf("%s: its item results could not be written to %s: %s", l->label, l->dir,
                            strerror(l->write_errno));
    if (l->at == NULL)
        l->at = wf_xmalloc(WF__VALUES_WINDOW * sizeof(*l->at));
    for (size_t k = 0; k < WF__VALUES_WINDOW; k++)
        l->at[k] = SIZE_MAX;
    len = l->lo[w] == UINT64_MAX ? 0 : (size_t)(l->hi[w] - l->lo[w]);
    l->buf = wf_xrealloc(l->buf, len + 1);
    for (size_t done = 0; done < len;) {
        ssize_t n = pread(l->fd, l->buf + done, len - done, (off_t)(l->lo[w] + done));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return wf_xasprintf("%s: cannot read its item results back from %s: %s", l->label,
                                l->dir, n < 0 ? strerror(errno) : "the file is shorter");
        done += (size_t)n;
    }
    l->buf[len] = '\0';
    l->buf_len = len;
    /* Records of other windows may lie between this window's: only its own are noted. */
    for (size_t pos = 0; pos < len;) {
        char *nl = memchr(l->buf + pos, '\n', len - pos), *sp;
        unsigned long long idx = strtoull(l->buf + pos, &sp, 10);

        if (nl == NULL)
            break;
        *nl = '\0';
        if (idx >= first && idx - first < WF__VALUES_WINDOW && *sp == ' ')
            l->at[idx - first] = (size_t)(sp + 1 - l->buf);
        pos = (size_t)(nl - l->buf) + 1;
    }
    l->win = w;
    return NULL;
}

/* The value a record's text stands for (owned), or NULL with *error. */
static json_object *record_value(const wf_values_log *l, uint64_t i, const char *rec, char **error)
{
    if (rec[0] == 'J') {
        enum json_tokener_error jerr;
        json_object *v = json_tokener_parse_verbose(rec + 1, &jerr);

        if (jerr != json_tokener_success)
            *error = wf_xasprintf("%s: item %" PRIu64 "'s result cannot be read back: %s", l->label,
                                  i, json_tokener_error_desc(jerr));
        return v;
    }
    {
        int mode = 0, used = 0;
        uint64_t size = 0, mem = 0, lines = 0;
        char hash[WF_SHA256_HEX_LEN + 1], *label;
        json_object *m;

        if (sscanf(rec + 1, "%d %" SCNu64 " %" SCNu64 " %" SCNu64 " %64s %n", &mode, &size, &mem,
                   &lines, hash, &used) < 5 ||
            used == 0) {
            *error = wf_xasprintf("%s: item %" PRIu64 "'s result cannot be read back", l->label, i);
            return NULL;
        }
        label = wf_xasprintf("%s item %" PRIu64, l->label, i);
        m = wf_ref_new(l->refs, rec + 1 + used, strcmp(hash, "-") != 0 ? hash : NULL,
                       (wf_output_mode)mode, size, mem, label, NULL);
        if (mode == WF_OUTPUT_LINES)
            wf_ref_set_lines(m, lines);
        free(label);
        return m;
    }
}

static int log_get(void *src, uint64_t i, json_object **value, char **error)
{
    wf_values_log *l = src;
    size_t w = (size_t)(i / WF__VALUES_WINDOW);

    *value = NULL;
    *error = NULL;
    pthread_mutex_lock(&l->mu);
    if (l->win != w)
        *error = load_window(l, w);
    if (*error == NULL && l->at[i % WF__VALUES_WINDOW] != SIZE_MAX)
        *value = record_value(l, i, l->buf + l->at[i % WF__VALUES_WINDOW], error);
    pthread_mutex_unlock(&l->mu);
    return *error == NULL ? WF_OK : WF_EIO;
}

static void log_free(void *src)
{
    wf__values_log_free(src);
}

static const wf_ref_list_ops log_ops = { log_get, log_free };

json_object *wf__values_log_get(wf_values_log *l, uint32_t idx, char **error)
{
    json_object *v = NULL;

    log_get(l, idx, &v, error);
    return v;
}

json_object *wf__values_log_publish(wf_values_log *l, char **error)
{
    uint64_t mem;

    pthread_mutex_lock(&l->mu);
    flush_log(l);
    *error = unreported_error(l);
    /* Loaded whole: about three times the JSON text, and a slot a unit. */
    mem = 3 * l->end + 8 * (uint64_t)l->n_units + 64;
    pthread_mutex_unlock(&l->mu);
    return wf_ref_new_list(l->refs, &log_ops, l, l->n_units, mem, l->label);
}
