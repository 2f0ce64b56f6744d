/*
 * ref.c: results by reference (see wf_context.h): the handle behind a marker, and the run's
 * cache of loaded values, an LRU list bounded by a byte budget.
 *
 * A marker is a json-c string (its text a placeholder nobody should see) whose userdata is
 * the handle and whose serializer prints the value, so json-c's writer on a document that
 * holds copies of markers (wf_json_copy_refs) prints values, not placeholders. Handles are
 * refcounted (several markers may share one: a pipelined item, the result document); the
 * cache's mutex guards every handle's loaded value, pin count and list links, and the
 * cache's counters. A lines reference also keeps, under its own mutex, where each window of
 * its lines starts and the window it read last (wf_ref_line); a JSON array reference
 * (json_array.c indexed it) keeps the same offsets, of its items, and the last window's items
 * parsed.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wf_context.h"

#define REF_MAGIC        0x77667266u /* "wfrf" */
#define REF_JSON_WINDOWS 4

typedef struct wf_ref wf_ref;

struct wf_ref_cache {
    atomic_uint refs;
    pthread_mutex_t mu;
    uint64_t budget;
    wf_ref_stats st;   /* under mu */
    wf_ref *mru, *lru; /* loaded handles, most recently used first; under mu */
};

struct wf_ref {
    uint32_t magic;
    atomic_uint refs;
    wf_ref_cache *cache; /* a reference */
    char *path, *label;
    char hash[WF_SHA256_HEX_LEN + 1];
    wf_output_mode mode;
    uint64_t size, mem;
    uint64_t lines; /* a list: its length (set once, before the marker is shared) */
    /* A list another module reads (wf_ref_new_list): its items come from ops->get. */
    const wf_ref_list_ops *ops;
    void *src;
    /* Under lines_mu (wf_ref_line): window offsets (n_win + 1) and the window read last. */
    pthread_mutex_t lines_mu;
    uint64_t *win_off;
    size_t n_win, win; /* win: which window buf holds (SIZE_MAX: none) */
    char *buf;
    size_t *line_off; /* where each of its lines starts in buf (+ one past the last) */
    bool json_array;  /* a JSON array (wf_ref_set_json_array): win_off indexes its items */
    /* A JSON array: the windows read last, parsed (a few: the scheduler reads an item's label
     * a little ahead of the executors that read its item, maybe one window further). */
    struct {
        size_t w;
        json_object *items; /* owned; NULL: the slot is empty */
        uint64_t used;
    } jwin[REF_JSON_WINDOWS];
    uint64_t jclock;
    /* Under cache->mu: */
    json_object *value; /* loaded value (owned) when loaded */
    bool loaded;
    unsigned pins;
    wf_ref *prev, *next; /* in the cache's list while loaded */
};

wf_ref_cache *wf_ref_cache_new(uint64_t budget)
{
    wf_ref_cache *c = wf_xcalloc(1, sizeof(*c));

    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    c->budget = budget > 0 ? budget : WF_REF_DEFAULT_BUDGET;
    c->st.budget = c->budget;
    return c;
}

wf_ref_cache *wf_ref_cache_ref(wf_ref_cache *c)
{
    atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
    return c;
}

void wf_ref_cache_unref(wf_ref_cache *c)
{
    if (c == NULL || atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) != 1)
        return;
    /* Every handle holds a reference, so the list is empty here. */
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void wf_ref_cache_stats(wf_ref_cache *c, wf_ref_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

/* ---- the list (cache->mu held) ------------------------------------------------------- */

static void unlink_ref(wf_ref_cache *c, wf_ref *h)
{
    if (h->prev != NULL)
        h->prev->next = h->next;
    else
        c->mru = h->next;
    if (h->next != NULL)
        h->next->prev = h->prev;
    else
        c->lru = h->prev;
    h->prev = h->next = NULL;
}

static void push_front(wf_ref_cache *c, wf_ref *h)
{
    h->prev = NULL;
    h->next = c->mru;
    if (c->mru != NULL)
        c->mru->prev = h;
    c->mru = h;
    if (c->lru == NULL)
        c->lru = h;
}

static void drop_value(wf_ref_cache *c, wf_ref *h)
{
    unlink_ref(c, h);
    /* Nobody holds a pin, so nobody borrows the value: this is its only owner. */
    json_object_put(h->value);
    h->value = NULL;
    h->loaded = false;
    c->st.resident -= h->mem;
}

/* Drops the least recently used unpinned values until the cache fits its budget. Pinned
 * values stay (they are borrowed), so it may stay over for as long as they are pinned. */
static void evict(wf_ref_cache *c)
{
    wf_ref *h = c->lru;

    while (h != NULL && c->st.resident > c->budget) {
        wf_ref *prev = h->prev;

        if (h->pins == 0) {
            drop_value(c, h);
            c->st.evictions++;
        }
        h = prev;
    }
}

/* Makes value_take h's loaded value, unless h got one meanwhile. */
static void install(wf_ref *h, json_object *value_take, bool pin)
{
    wf_ref_cache *c = h->cache;

    if (h->loaded) {
        json_object_put(value_take);
    } else {
        h->value = value_take;
        h->loaded = true;
        c->st.resident += h->mem;
        if (c->st.resident > c->st.peak)
            c->st.peak = c->st.resident;
        push_front(c, h);
    }
    if (pin)
        h->pins++;
    evict(c);
}

/* ---- handles and markers ------------------------------------------------------------ */

static wf_ref *handle_of(const json_object *v)
{
    wf_ref *h;

    if (v == NULL || json_object_get_type(v) != json_type_string)
        return NULL;
    /* Only a marker's string has userdata: json-c sets none on strings it makes. */
    h = json_object_get_userdata((json_object *)(uintptr_t)v);
    return h != NULL && h->magic == REF_MAGIC ? h : NULL;
}

static void handle_unref(wf_ref *h)
{
    wf_ref_cache *c = h->cache;

    if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
        return;
    pthread_mutex_lock(&c->mu);
    if (h->loaded)
        drop_value(c, h);
    pthread_mutex_unlock(&c->mu);
    h->magic = 0;
    if (h->ops != NULL)
        h->ops->free(h->src);
    pthread_mutex_destroy(&h->lines_mu);
    free(h->win_off);
    free(h->buf);
    free(h->line_off);
    for (size_t i = 0; i < REF_JSON_WINDOWS; i++)
        json_object_put(h->jwin[i].items);
    free(h->path);
    free(h->label);
    free(h);
    wf_ref_cache_unref(c);
}

static void marker_delete(json_object *jso, void *userdata)
{
    (void)jso;
    handle_unref(userdata);
}

/* json-c's writer on a marker: the value itself (loaded for the time of the write). */
static int marker_serialize(json_object *jso, struct printbuf *pb, int level, int flags)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    (void)level;
    (void)flags;
    wf_json_write(&sb, jso);
    printbuf_memappend(pb, sb.buf ? sb.buf : "null", sb.buf ? (int)sb.len : 4);
    wf_strbuf_release(&sb);
    return 0;
}

static json_object *marker_for(wf_ref *h)
{
    json_object *m = wf_json_check(json_object_new_string("(a result not loaded)"));

    json_object_set_serializer(m, marker_serialize, h, marker_delete);
    return m;
}

uint64_t wf_ref_mem_estimate(wf_output_mode mode, uint64_t size, uint64_t lines)
{
    /* json-c: a string is its bytes plus about 64 of object; a parsed document takes a few
     * times its text (measured about 3x for objects of short strings). */
    switch (mode) {
    case WF_OUTPUT_TEXT:
        return size + 64;
    case WF_OUTPUT_LINES:
        return size + 72 * lines + 64;
    case WF_OUTPUT_JSON:
        break;
    }
    return 3 * size + 64;
}

json_object *wf_ref_new(wf_ref_cache *cache, const char *path, const char *hash,
                        wf_output_mode mode, uint64_t size, uint64_t mem, const char *label,
                        json_object *value_take)
{
    wf_ref *h = wf_xcalloc(1, sizeof(*h));
    json_object *m;

    h->magic = REF_MAGIC;
    atomic_init(&h->refs, 1);
    h->cache = wf_ref_cache_ref(cache);
    h->path = wf_xstrdup(path);
    h->label = wf_xstrdup(label ? label : "a result");
    snprintf(h->hash, sizeof(h->hash), "%s", hash ? hash : "");
    h->mode = mode;
    h->size = size;
    h->mem = mem;
    pthread_mutex_init(&h->lines_mu, NULL);
    h->win = SIZE_MAX;
    m = marker_for(h);
    if (value_take != NULL) {
        pthread_mutex_lock(&cache->mu);
        if (mem <= cache->budget)
            install(h, value_take, false);
        else
            json_object_put(value_take);
        pthread_mutex_unlock(&cache->mu);
    }
    return m;
}

bool wf_ref_is(const json_object *v)
{
    return handle_of(v) != NULL;
}

bool wf_ref_get_info(const json_object *v, wf_ref_info *info)
{
    wf_ref *h = handle_of(v);

    if (h == NULL)
        return false;
    info->path = h->path;
    info->hash = h->hash;
    info->mode = h->mode;
    info->size = h->size;
    info->mem = h->mem;
    info->budget = h->cache->budget;
    info->lines = h->lines;
    return true;
}

json_object *wf_ref_share(const json_object *marker)
{
    wf_ref *h = handle_of(marker);

    atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
    return marker_for(h);
}

/* The file's bytes (owned, NUL-terminated), or NULL with *error. */
static char *read_file(const char *path, uint64_t size, char **error)
{
    char *buf = NULL;
    struct stat st;
    size_t done = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0 || fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
        *error = wf_xasprintf("cannot read the result kept in %s: %s", path,
                              fd < 0 ? strerror(errno) : "its size changed");
        goto out;
    }
    buf = wf_xmalloc(size + 1);
    while (done < size) {
        ssize_t n = read(fd, buf + done, size - done);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            *error = wf_xasprintf("cannot read the result kept in %s: %s", path,
                                  n < 0 ? strerror(errno) : "it is shorter");
            free(buf);
            buf = NULL;
            goto out;
        }
        done += (size_t)n;
    }
    buf[done] = '\0';
out:
    if (fd >= 0)
        close(fd);
    return buf;
}

int wf_ref_load_file(const char *path, wf_output_mode mode, uint64_t size, json_object **value,
                     char **error)
{
    char *text = read_file(path, size, error);
    int rc;

    *value = NULL;
    if (text == NULL)
        return WF_EIO;
    rc = wf_output_convert(mode, text, "stdout", value, error);
    free(text);
    return rc;
}

/* The figures of the budget errors as the rest of wfengine writes sizes (wf_size_format:
 * "10 bytes", "256 MiB", "1.9 GiB"), the same as template/eval.c's for a whole fan-out. */
static void size_text(char *buf, size_t n, uint64_t bytes)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_size_format(&sb, bytes);
    snprintf(buf, n, "%s", wf_strbuf_str(&sb));
    wf_strbuf_release(&sb);
}

/* A list's items read one by one into one list (owned), or an error. */
static int load_list(wf_ref *h, json_object **value, char **error)
{
    json_object *list = wf_json_check(json_object_new_array_ext(h->lines ? (int)h->lines : 1));

    for (uint64_t i = 0; i < h->lines; i++) {
        json_object *v = NULL;
        int rc = h->ops->get(h->src, i, &v, error);

        if (rc != WF_OK) {
            json_object_put(list);
            return rc;
        }
        if (json_object_array_add(list, v) != 0)
            wf_oom(sizeof(void *));
    }
    *value = list;
    return WF_OK;
}

int wf_ref_pin(const json_object *marker, const json_object **value, char **error)
{
    wf_ref *h = handle_of(marker);
    wf_ref_cache *c;
    json_object *v = NULL;
    char *why = NULL;

    *value = NULL;
    *error = NULL;
    if (h == NULL) {
        *value = marker;
        return WF_OK;
    }
    c = h->cache;
    pthread_mutex_lock(&c->mu);
    if (h->loaded) {
        h->pins++;
        unlink_ref(c, h);
        push_front(c, h);
        *value = h->value;
        pthread_mutex_unlock(&c->mu);
        return WF_OK;
    }
    pthread_mutex_unlock(&c->mu);
    if (h->mem > c->budget) {
        char need[32], have[32];

        size_text(need, sizeof(need), h->mem);
        size_text(have, sizeof(have), c->budget);
        if (h->ops != NULL)
            *error = wf_xasprintf("%s: its %llu item results are needed whole here, about %s "
                                  "in memory, more than the memory budget for results (%s); "
                                  "raise it with --memory or `memory:`, or read parts of it "
                                  "(| length, [index])",
                                  h->label, (unsigned long long)h->lines, need, have);
        else
            *error = wf_xasprintf("%s: its value (%llu bytes of output, about %s in memory) is "
                                  "needed whole, but the memory budget for results is %s; "
                                  "raise it with --memory or `memory:`, or read parts of it "
                                  "(| length, [index])",
                                  h->label, (unsigned long long)h->size, need, have);
        return WF_ERANGE;
    }
    /* Read and parse outside the lock: other values stay available meanwhile. Two threads
     * may load the same value at once; install keeps the first. */
    if ((h->ops != NULL ? load_list(h, &v, &why)
                        : wf_ref_load_file(h->path, h->mode, h->size, &v, &why)) != WF_OK) {
        *error = wf_xasprintf("%s: %s", h->label, why);
        free(why);
        return WF_EIO;
    }
    pthread_mutex_lock(&c->mu);
    c->st.loads++;
    install(h, v, true);
    *value = h->value;
    pthread_mutex_unlock(&c->mu);
    return WF_OK;
}

void wf_ref_unpin(const json_object *marker)
{
    wf_ref *h = handle_of(marker);
    wf_ref_cache *c;

    if (h == NULL)
        return;
    c = h->cache;
    pthread_mutex_lock(&c->mu);
    h->pins--;
    evict(c);
    pthread_mutex_unlock(&c->mu);
}

/* ---- lists by reference: lines, and lists read through ops
 * ------------------------------------------------------------- */

void wf_ref_set_lines(json_object *marker, uint64_t lines)
{
    wf_ref *h = handle_of(marker);

    if (h != NULL)
        h->lines = lines;
}

bool wf_ref_list_len(const json_object *v, uint64_t *len)
{
    wf_ref *h = handle_of(v);

    if (h == NULL || (h->mode != WF_OUTPUT_LINES && h->ops == NULL && !h->json_array))
        return false;
    *len = h->lines;
    return true;
}

json_object *wf_ref_new_list(wf_ref_cache *cache, const wf_ref_list_ops *ops, void *src_take,
                             uint64_t len, uint64_t mem, const char *label)
{
    json_object *m = wf_ref_new(cache, "", NULL, WF_OUTPUT_JSON, 0, mem, label, NULL);
    wf_ref *h = handle_of(m);

    h->ops = ops;
    h->src = src_take;
    h->lines = len;
    return m;
}

/* Reads len bytes at off of fd into buf, or returns an error (owned). */
static char *read_at(const wf_ref *h, int fd, char *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t got = pread(fd, buf + done, len - done, (off_t)(off + done));

        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            return wf_xasprintf("%s: cannot read the result kept in %s: %s", h->label, h->path,
                                got < 0 ? strerror(errno) : "it is shorter");
        done += (size_t)got;
    }
    return NULL;
}

/* Notes where each window of lines starts: one pass over the file (lines_mu held). */
static char *index_windows(wf_ref *h, int fd)
{
    enum { CHUNK = 1 << 16 };
    size_t n_win = (size_t)((h->lines + WF_REF_LINES_WINDOW - 1) / WF_REF_LINES_WINDOW), w = 1;
    uint64_t off = 0, seen = 0;
    char *chunk = wf_xmalloc(CHUNK), *error = NULL;

    h->win_off = wf_xmalloc((n_win + 1) * sizeof(*h->win_off));
    h->win_off[0] = 0;
    while (off < h->size && w < n_win && error == NULL) {
        size_t len = h->size - off < CHUNK ? (size_t)(h->size - off) : CHUNK;

        error = read_at(h, fd, chunk, len, off);
        for (const char *p = chunk, *end = chunk + len; error == NULL && p < end && w < n_win;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));

            if (nl == NULL)
                break;
            p = nl + 1;
            if (++seen % WF_REF_LINES_WINDOW == 0)
                h->win_off[w++] = off + (uint64_t)(p - chunk);
        }
        off += len;
    }
    free(chunk);
    if (error == NULL && w < n_win)
        error = wf_xasprintf("%s: the result kept in %s changed (it has fewer lines)", h->label,
                             h->path);
    if (error != NULL) {
        free(h->win_off);
        h->win_off = NULL;
        return error;
    }
    h->win_off[n_win] = h->size;
    h->n_win = n_win;
    return NULL;
}

/* Reads window w into buf and line_off (lines_mu held). */
static char *load_lines_window(wf_ref *h, size_t w)
{
    size_t len = 0, pos = 0, k = 0, want;
    int fd = open(h->path, O_RDONLY | O_CLOEXEC);
    char *error = NULL;

    if (fd < 0)
        return wf_xasprintf("%s: cannot read the result kept in %s: %s", h->label, h->path,
                            strerror(errno));
    if (h->win_off == NULL)
        error = index_windows(h, fd);
    if (error == NULL) {
        len = (size_t)(h->win_off[w + 1] - h->win_off[w]);
        h->win = SIZE_MAX;
        h->buf = wf_xrealloc(h->buf, len ? len : 1);
        error = read_at(h, fd, h->buf, len, h->win_off[w]);
    }
    close(fd);
    if (error != NULL)
        return error;
    want = h->lines - (uint64_t)w * WF_REF_LINES_WINDOW < WF_REF_LINES_WINDOW
               ? (size_t)(h->lines - (uint64_t)w * WF_REF_LINES_WINDOW)
               : WF_REF_LINES_WINDOW;
    if (h->line_off == NULL)
        h->line_off = wf_xmalloc((WF_REF_LINES_WINDOW + 1) * sizeof(*h->line_off));
    while (pos < len && k < want) {
        const char *nl = memchr(h->buf + pos, '\n', len - pos);

        h->line_off[k++] = pos;
        pos = nl ? (size_t)(nl - h->buf) + 1 : len;
    }
    if (k != want || pos != len)
        return wf_xasprintf("%s: the result kept in %s changed (its lines moved)", h->label,
                            h->path);
    h->line_off[k] = pos;
    h->win = w;
    return NULL;
}

void wf_ref_set_json_array(json_object *marker, wf_json_array_index *idx_take)
{
    wf_ref *h = handle_of(marker);

    h->json_array = true;
    h->lines = idx_take->n_items;
    h->win_off = idx_take->win_off;
    h->n_win = idx_take->n_win;
    idx_take->win_off = NULL;
}

void wf_ref_set_json_array_len(json_object *marker, uint64_t n_items)
{
    wf_ref *h = handle_of(marker);

    h->json_array = true;
    h->lines = n_items;
}

/* The windows of a JSON array whose length came from its record (wf_ref_set_json_array_len):
 * the file is scanned once, at the first item read. NULL, or the error (lines_mu held). */
static char *index_json_array(wf_ref *h)
{
    wf_json_array_index idx = { 0 };
    bool is_array = false;
    char *why = NULL, *error;
    int rc = wf_json_array_scan(h->path, h->size, "it", &is_array, &idx, &why);

    if (rc == WF_OK && is_array && idx.n_items == h->lines) {
        h->win_off = idx.win_off;
        h->n_win = idx.n_win;
        return NULL;
    }
    if (rc == WF_OK && is_array)
        why = wf_xasprintf("it has %llu items, not the %llu recorded",
                           (unsigned long long)idx.n_items, (unsigned long long)h->lines);
    else if (rc == WF_OK)
        why = wf_xstrdup("it is no longer an array");
    error = wf_xasprintf("%s: the result kept in %s changed: %s", h->label, h->path, why);
    free(why);
    free(idx.win_off);
    return error;
}

/* Window w of a JSON array, parsed (borrowed: valid while lines_mu is held), read into the
 * least recently used slot unless a slot has it; or NULL with *error (lines_mu held). */
static const json_object *json_window(wf_ref *h, size_t w, char **error)
{
    size_t len, count, slot = 0;
    uint64_t first = (uint64_t)w * WF_REF_LINES_WINDOW;
    char *why = NULL, *buf;
    int fd;

    if (h->win_off == NULL && (*error = index_json_array(h)) != NULL)
        return NULL;
    len = (size_t)(h->win_off[w + 1] - h->win_off[w]);
    for (size_t i = 0; i < REF_JSON_WINDOWS; i++) {
        if (h->jwin[i].items != NULL && h->jwin[i].w == w) {
            h->jwin[i].used = ++h->jclock;
            return h->jwin[i].items;
        }
        if (h->jwin[i].items == NULL || h->jwin[i].used < h->jwin[slot].used)
            slot = i;
    }
    fd = open(h->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        *error = wf_xasprintf("%s: cannot read the result kept in %s: %s", h->label, h->path,
                              strerror(errno));
        return NULL;
    }
    json_object_put(h->jwin[slot].items);
    h->jwin[slot].items = NULL;
    /* The bytes are dropped once parsed: the window's items are what stays. */
    buf = wf_xmalloc(len ? len : 1);
    *error = read_at(h, fd, buf, len, h->win_off[w]);
    close(fd);
    if (*error != NULL) {
        free(buf);
        return NULL;
    }
    count =
        h->lines - first < WF_REF_LINES_WINDOW ? (size_t)(h->lines - first) : WF_REF_LINES_WINDOW;
    h->jwin[slot].items = wf_json_array_window(buf, len, count, &why);
    free(buf);
    if (h->jwin[slot].items == NULL) {
        *error = wf_xasprintf("%s: the result kept in %s changed: %s", h->label, h->path, why);
        free(why);
        return NULL;
    }
    h->jwin[slot].w = w;
    h->jwin[slot].used = ++h->jclock;
    return h->jwin[slot].items;
}

int wf_ref_list_get(const json_object *marker, uint64_t i, json_object **line, char **error)
{
    wf_ref *h = handle_of(marker);
    size_t w, k, start, end;

    *line = NULL;
    *error = NULL;
    if (h == NULL || (h->mode != WF_OUTPUT_LINES && h->ops == NULL && !h->json_array) ||
        i >= h->lines) {
        *error = wf_xasprintf("%s: no item %llu", h ? h->label : "a result", (unsigned long long)i);
        return WF_EINVAL;
    }
    if (h->ops != NULL)
        return h->ops->get(h->src, i, line, error);
    w = (size_t)(i / WF_REF_LINES_WINDOW);
    k = (size_t)(i % WF_REF_LINES_WINDOW);
    pthread_mutex_lock(&h->lines_mu);
    if (h->json_array) {
        const json_object *items = json_window(h, w, error);

        if (items != NULL)
            *line = wf_json_copy(json_object_array_get_idx(items, k));
        pthread_mutex_unlock(&h->lines_mu);
        return *error == NULL ? WF_OK : WF_EIO;
    }
    if (h->win != w)
        *error = load_lines_window(h, w);
    if (*error == NULL) {
        start = h->line_off[k];
        end = h->line_off[k + 1];
        if (end > start && h->buf[end - 1] == '\n')
            end--;
        if (end > start && h->buf[end - 1] == '\r')
            end--;
        *line = wf_json_check(json_object_new_string_len(h->buf + start, (int)(end - start)));
    }
    pthread_mutex_unlock(&h->lines_mu);
    return *error == NULL ? WF_OK : WF_EIO;
}
