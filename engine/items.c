/*
 * items.c: a with-items task's item list, read one item at a time (items.h): a JSON list, a
 * range or a matrix computed on demand, a file's lines read in windows of WF__LINES_WINDOW
 * lines, or a list by reference.
 */
#include "items.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_workflow.h"

#include "unit_values.h"

static wf_items *items_new(wf_items_src_kind kind, size_t n)
{
    wf_items *s = wf_xcalloc(1, sizeof(*s));

    s->kind = kind;
    s->n_items = s->n_units = n;
    s->fd = -1;
    s->win = SIZE_MAX;
    return s;
}

wf_items *wf__items_json(const json_object *list, json_object *own)
{
    wf_items *s = items_new(WF_ITEMS_SRC_JSON, json_object_array_length(list));

    s->list = list;
    s->own = own;
    return s;
}

wf_items *wf__items_ref(const json_object *marker)
{
    uint64_t n = 0;
    wf_items *s;

    wf_ref_list_len(marker, &n);
    s = items_new(WF_ITEMS_SRC_REF, (size_t)n);
    s->own = wf_ref_share(marker);
    return s;
}

wf_items *wf__items_pipe(struct wf_values_log *log, size_t n)
{
    wf_items *s = items_new(WF_ITEMS_SRC_PIPE, n);

    s->log = wf__values_log_ref(log);
    s->fed = wf_xcalloc(n ? n : 1, sizeof(*s->fed));
    return s;
}

void wf__items_pipe_fed(wf_items *s, size_t i)
{
    atomic_store_explicit(&s->fed[i], 1, memory_order_release);
}

wf_items *wf__items_range(int64_t lo, size_t n)
{
    wf_items *s = items_new(WF_ITEMS_SRC_RANGE, n);

    s->lo = lo;
    return s;
}

const char *wf__items_key(const wf_items *s, char *buf, size_t size)
{
    if (s == NULL || s->kind != WF_ITEMS_SRC_RANGE || s->batch != 0)
        return NULL;
    snprintf(buf, size, "range %lld", (long long)s->lo);
    return buf;
}

wf_items *wf__items_matrix(struct wf_matrix *matrix)
{
    wf_items *s = items_new(WF_ITEMS_SRC_MATRIX, wf__matrix_count(matrix));

    s->matrix = matrix;
    return s;
}

void wf__items_set_batch(wf_items *s, size_t batch)
{
    s->batch = batch;
    s->n_units = (s->n_items + batch - 1) / batch;
}

void wf__items_free(wf_items *s)
{
    if (s == NULL)
        return;
    json_object_put(s->own);
    wf__matrix_free(s->matrix);
    wf__values_log_free(s->log);
    free((void *)s->fed);
    if (s->kind == WF_ITEMS_SRC_FILE) {
        close(s->fd);
        pthread_mutex_destroy(&s->lock);
    }
    free(s->path);
    free(s->window_off);
    free(s->buf);
    free(s->line_off);
    free(s);
}

/* ---- file --------------------------------------------------------------------------- */

static char *sys_error(const char *what, const char *path)
{
    return wf_xasprintf("cannot %s '%s': %s", what, path, strerror(errno));
}

/* Reads the whole file once: counts its lines and notes where each window starts. */
static char *scan_file(wf_items *s, size_t cap)
{
    enum { CHUNK = 1 << 16 };
    char *chunk = wf_xmalloc(CHUNK);
    uint64_t off = 0, line_start = 0;
    size_t lines = 0, cap_windows = 16;
    char *error = NULL;

    s->window_off = wf_xmalloc(cap_windows * sizeof(*s->window_off));
    s->window_off[0] = 0;
    s->n_windows = 1;
    for (;;) {
        ssize_t got = read(s->fd, chunk, CHUNK);

        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            error = sys_error("read", s->path);
            break;
        }
        if (got == 0)
            break;
        for (char *p = chunk, *end = chunk + got, *nl; p < end; p = nl + 1) {
            nl = memchr(p, '\n', (size_t)(end - p));
            if (nl == NULL)
                break;
            line_start = off + (uint64_t)(nl + 1 - chunk);
            if (++lines % WF__LINES_WINDOW == 0) {
                if (s->n_windows + 1 >= cap_windows) {
                    cap_windows *= 2;
                    s->window_off =
                        wf_xrealloc(s->window_off, cap_windows * sizeof(*s->window_off));
                }
                s->window_off[s->n_windows++] = line_start;
            }
            if (lines > cap)
                break;
        }
        off += (uint64_t)got;
        if (off - line_start > WF_MAX_STRING_LEN) {
            error = wf_xasprintf("line %zu of '%s' is longer than %zu bytes", lines + 1, s->path,
                                 (size_t)WF_MAX_STRING_LEN);
            break;
        }
        if (lines > cap)
            break;
    }
    free(chunk);
    if (error == NULL && off > line_start)
        lines++; /* a last line without \n */
    if (error == NULL && lines > cap)
        error = wf_xasprintf("'%s' has more than %zu lines, the most a task may expand to; "
                             "split it into several files and tasks",
                             s->path, cap);
    if (error != NULL)
        return error;
    /* A file whose line count is a multiple of the window has no line after the last mark. */
    if (s->n_windows > 1 && s->window_off[s->n_windows - 1] == off)
        s->n_windows--;
    s->window_off[s->n_windows] = off;
    s->n_items = s->n_units = lines;
    if (lines == 0)
        s->n_windows = 0;
    return NULL;
}

wf_items *wf__items_file(const char *path, size_t cap, char **error)
{
    wf_items *s = items_new(WF_ITEMS_SRC_FILE, 0);
    struct stat st;

    *error = NULL;
    s->path = wf_xstrdup(path);
    pthread_mutex_init(&s->lock, NULL);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0)
        *error = sys_error("open", path);
    else if (fstat(s->fd, &st) != 0)
        *error = sys_error("read", path);
    else if (!S_ISREG(st.st_mode))
        *error = wf_xasprintf("'%s' is not a regular file", path);
    else
        *error = scan_file(s, cap);
    if (*error != NULL) {
        wf__items_free(s);
        return NULL;
    }
    return s;
}

/* Reads window w into buf and line_off (under lock). */
static char *load_window(wf_items *s, size_t w)
{
    size_t len = (size_t)(s->window_off[w + 1] - s->window_off[w]), want, pos = 0, k = 0;
    ssize_t got;

    want = s->n_items - w * WF__LINES_WINDOW;
    if (want > WF__LINES_WINDOW)
        want = WF__LINES_WINDOW;
    s->win = SIZE_MAX;
    s->buf = wf_xrealloc(s->buf, len ? len : 1);
    if (s->line_off == NULL)
        s->line_off = wf_xmalloc((WF__LINES_WINDOW + 1) * sizeof(*s->line_off));
    for (size_t done = 0; done < len; done += (size_t)got) {
        got = pread(s->fd, s->buf + done, len - done, (off_t)(s->window_off[w] + done));
        if (got < 0 && errno == EINTR) {
            got = 0;
            continue;
        }
        if (got < 0)
            return sys_error("read", s->path);
        if (got == 0)
            return wf_xasprintf("'%s' changed while the run read it (it is shorter)", s->path);
    }
    while (pos < len && k < want) {
        const char *nl = memchr(s->buf + pos, '\n', len - pos);

        s->line_off[k++] = pos;
        pos = nl ? (size_t)(nl - s->buf) + 1 : len;
    }
    if (k != want || pos != len)
        return wf_xasprintf("'%s' changed while the run read it (its lines moved)", s->path);
    s->line_off[k] = pos;
    s->win_lines = k;
    s->win = w;
    return NULL;
}

static json_object *file_line(wf_items *s, size_t i, char **error)
{
    size_t w = i / WF__LINES_WINDOW, k = i % WF__LINES_WINDOW, start, end;
    json_object *line = NULL;

    pthread_mutex_lock(&s->lock);
    *error = s->win == w ? NULL : load_window(s, w);
    if (*error == NULL) {
        start = s->line_off[k];
        end = s->line_off[k + 1];
        if (end > start && s->buf[end - 1] == '\n')
            end--;
        if (end > start && s->buf[end - 1] == '\r')
            end--;
        line = wf_json_check(json_object_new_string_len(s->buf + start, (int)(end - start)));
    }
    pthread_mutex_unlock(&s->lock);
    return line;
}

/* ---- reading ------------------------------------------------------------------------ */

/* Item i as a new value (or NULL with *error). */
static json_object *item_new(wf_items *s, size_t i, char **error)
{
    *error = NULL;
    switch (s->kind) {
    case WF_ITEMS_SRC_JSON:
        return wf_json_copy(json_object_array_get_idx(s->list, i));
    case WF_ITEMS_SRC_RANGE:
        return json_object_new_int64(s->lo + (int64_t)i);
    case WF_ITEMS_SRC_FILE:
        return file_line(s, i, error);
    case WF_ITEMS_SRC_MATRIX:
        return wf__matrix_get(s->matrix, i);
    case WF_ITEMS_SRC_REF: {
        json_object *v = NULL;

        wf_ref_list_get(s->own, i, &v, error);
        return v;
    }
    case WF_ITEMS_SRC_PIPE:
        if (!atomic_load_explicit(&s->fed[i], memory_order_acquire))
            return NULL;
        return wf__values_log_get(s->log, (uint32_t)i, error);
    }
    return NULL;
}

bool wf__items_get(wf_items *s, size_t u, const json_object **item, json_object **own, char **error)
{
    char *why = NULL;

    *item = NULL;
    *own = NULL;
    if (s->batch == 0 && s->kind == WF_ITEMS_SRC_JSON) {
        *item = json_object_array_get_idx(s->list, u);
        return true;
    }
    if (s->batch == 0) {
        *own = item_new(s, u, &why);
    } else {
        /* Copies, not references: a lent list's reference counts are not ours. */
        size_t first = u * s->batch, end = first + s->batch;

        if (end > s->n_items)
            end = s->n_items;
        *own = wf_json_check(json_object_new_array_ext((int)(end - first)));
        for (size_t i = first; i < end && why == NULL; i++) {
            json_object *v = item_new(s, i, &why);

            if (why == NULL)
                wf_json_push(*own, v);
        }
        if (why != NULL) {
            json_object_put(*own);
            *own = NULL;
        }
    }
    if (why != NULL) {
        if (error != NULL)
            *error = why;
        else
            free(why);
        return false;
    }
    *item = *own;
    return true;
}
