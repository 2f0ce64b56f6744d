/*
 * json_array.c: a unit's JSON output whose top-level value is an array, kept in a file and
 * read an item at a time (wf_context.h: wf_json_array_scan, wf_json_array_window). Every item
 * is parsed by json-c's tokener, strict, as wf_output_convert parses a whole value; only what
 * lies between the items (whitespace, the commas, the opening and closing brackets) is read
 * here by hand. The items of one window are parsed, and freed, at a time: scanning a file of
 * a million items holds one item and one 64 KiB chunk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_context.h"

enum { CHUNK = 1 << 16, QUOTE = 40 };

static bool is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* A tokener for one item: strict (what follows the item is read here), and one level less deep than
 * a whole value may be (the array is the level above), so that an array parses item by item exactly
 * when it parses whole. */
static struct json_tokener *item_tokener(void)
{
    struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH - 1);

    if (tok == NULL)
        wf_oom(sizeof(void *));
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS);
    return tok;
}

/* "WHAT is not valid JSON at byte N (why): 'text there...'", the text quoted from p (at most
 * QUOTE of the n bytes there). */
static char *bad_at(const char *what, uint64_t at, const char *why, const char *p, size_t n)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    size_t show = n > QUOTE ? QUOTE : n;

    wf_strbuf_addf(&sb, "output: json: %s is not valid JSON at byte %llu (%s)", what,
                   (unsigned long long)at, why);
    if (show > 0) {
        wf_strbuf_adds(&sb, ": '");
        for (size_t k = 0; k < show; k++)
            wf_strbuf_addc(&sb, p[k] == '\n' ? ' ' : p[k]);
        wf_strbuf_adds(&sb, n > show ? "...'" : "'");
    }
    return wf_strbuf_detach(&sb, NULL);
}

/* Parses one item from p (n bytes) with tok, which may already hold the item's first bytes
 * (fed from an earlier chunk). Returns the item (owned; NULL for JSON null too: *done says)
 * and sets *used to the bytes of p it took; *done false when p ended inside the item and
 * last is false (feed the next bytes); *jerr the tokener's error. */
static json_object *parse_item(struct json_tokener *tok, const char *p, size_t n, bool last,
                               size_t *used, bool *done, enum json_tokener_error *jerr)
{
    json_object *v = json_tokener_parse_ex(tok, p, (int)n);

    *jerr = json_tokener_get_error(tok);
    *used = *jerr == json_tokener_continue ? n : json_tokener_get_parse_end(tok);
    if (*jerr == json_tokener_continue && last) {
        /* The text ended inside an item: a NUL finishes a bare number ("3"), and makes any
         * other unfinished item an error. */
        v = json_tokener_parse_ex(tok, "", 1);
        *jerr = json_tokener_get_error(tok);
    }
    *done = *jerr == json_tokener_success;
    if (*done || *jerr != json_tokener_continue)
        json_tokener_reset(tok);
    return v;
}

/* Reads up to n bytes at off of fd into buf: the count read, or -errno. */
static ssize_t read_some(int fd, char *buf, size_t n, uint64_t off)
{
    for (;;) {
        ssize_t got = pread(fd, buf, n, (off_t)off);

        if (got >= 0 || errno != EINTR)
            return got >= 0 ? got : -errno;
    }
}

/* Sets win_off[at] to off, growing the array (*cap entries) as needed. */
static void note(wf_json_array_index *idx, size_t *cap, size_t at, uint64_t off)
{
    if (at + 1 > *cap) {
        *cap = *cap ? 2 * *cap : 64;
        idx->win_off = wf_xrealloc(idx->win_off, *cap * sizeof(*idx->win_off));
    }
    idx->win_off[at] = off;
}

typedef enum scan_state {
    S_START, /* before the value: whitespace, then '[' (or it is not an array) */
    S_FIRST, /* after '[': whitespace, then ']' or the first item */
    S_ITEM,  /* inside an item (the tokener holds it) */
    S_AFTER, /* after an item: whitespace, then ',' or ']' */
    S_NEXT,  /* after ',': whitespace, then an item */
    S_END,   /* after ']': whitespace only */
} scan_state;

int wf_json_array_scan(const char *path, uint64_t size, const char *what, bool *is_array,
                       wf_json_array_index *idx, char **error)
{
    struct json_tokener *tok = NULL;
    char *chunk = NULL;
    size_t cap = 0;
    scan_state st = S_START;
    uint64_t off = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = WF_OK;

    *is_array = false;
    *error = NULL;
    memset(idx, 0, sizeof(*idx));
    if (fd < 0) {
        *error = wf_xasprintf("cannot read the result kept in %s: %s", path, strerror(errno));
        return WF_EIO;
    }
    chunk = wf_xmalloc(CHUNK);
    tok = item_tokener();
    while (off < size) {
        size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK, p = 0;
        ssize_t got = read_some(fd, chunk, n, off);

        if (got <= 0) {
            *error = wf_xasprintf("cannot read the result kept in %s: %s", path,
                                  got < 0 ? strerror((int)-got) : "it is shorter");
            rc = WF_EIO;
            goto out;
        }
        n = (size_t)got;
        while (p < n) {
            char c = chunk[p];

            if (st != S_ITEM && is_ws(c)) {
                p++;
                continue;
            }
            switch (st) {
            case S_START:
                if (c != '[')
                    goto out; /* not an array: the caller parses it whole */
                *is_array = true;
                st = S_FIRST;
                p++;
                continue;
            case S_AFTER:
                if (c == ',') {
                    st = S_NEXT;
                    p++;
                    continue;
                }
                if (c != ']') {
                    *error = bad_at(what, off + p, "',' or ']' expected after an item", chunk + p,
                                    n - p);
                    rc = WF_EINVAL;
                    goto out;
                }
                __attribute__((fallthrough));
            case S_FIRST:
                if (c == ']') {
                    note(idx, &cap, idx->n_win, off + p); /* where the last window ends */
                    st = S_END;
                    p++;
                    continue;
                }
                __attribute__((fallthrough));
            case S_NEXT:
                /* An item starts: each window's first one is noted. (No cap here, as for a
                 * list parsed whole: a with-items over it checks its length.) */
                if (idx->n_items % WF_REF_LINES_WINDOW == 0) {
                    note(idx, &cap, idx->n_win, off + p);
                    idx->n_win++;
                }
                st = S_ITEM;
                __attribute__((fallthrough));
            case S_ITEM: {
                size_t used;
                bool done;
                enum json_tokener_error jerr;
                json_object *v =
                    parse_item(tok, chunk + p, n - p, off + n >= size, &used, &done, &jerr);

                if (!done && jerr != json_tokener_continue) {
                    json_object_put(v);
                    *error = bad_at(what, off + p + used, json_tokener_error_desc(jerr),
                                    chunk + p + used, n - p - used);
                    rc = WF_EINVAL;
                    goto out;
                }
                json_object_put(v);
                p += used;
                if (done) {
                    idx->n_items++;
                    st = S_AFTER;
                }
                continue;
            }
            case S_END:
                *error = bad_at(what, off + p, "more after the list", chunk + p, n - p);
                rc = WF_EINVAL;
                goto out;
            }
        }
        off += n;
    }
    if (*is_array && st != S_END) {
        *error = wf_xasprintf("output: json: %s is not valid JSON at byte %llu (it ends before "
                              "the list is closed)",
                              what, (unsigned long long)size);
        rc = WF_EINVAL;
    }
out:
    if (rc != WF_OK || !*is_array) {
        free(idx->win_off);
        memset(idx, 0, sizeof(*idx));
    }
    json_tokener_free(tok);
    free(chunk);
    close(fd);
    return rc;
}

json_object *wf_json_array_window(const char *buf, size_t len, size_t count, char **error)
{
    struct json_tokener *tok = item_tokener();
    json_object *list = wf_json_check(json_object_new_array_ext(count > 0 ? (int)count : 1));
    size_t p = 0;

    *error = NULL;
    for (size_t k = 0; k < count; k++) {
        size_t used;
        bool done;
        enum json_tokener_error jerr;
        json_object *v;

        while (p < len && is_ws(buf[p]))
            p++;
        if (k > 0 && p < len && buf[p] == ',')
            p++;
        while (p < len && is_ws(buf[p]))
            p++;
        v = parse_item(tok, buf + p, len - p, true, &used, &done, &jerr);
        if (!done) {
            json_object_put(v);
            *error = wf_xasprintf("item %zu of the window does not parse any more (%s)", k,
                                  json_tokener_error_desc(jerr));
            json_object_put(list);
            list = NULL;
            break;
        }
        wf_json_push(list, v);
        p += used;
    }
    json_tokener_free(tok);
    return list;
}
