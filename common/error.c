/* Error codes and user-facing errors (see wf_common.h). */
#include <stdlib.h>
#include <string.h>

#include "wf_common.h"

const char *wf_strerror(int code)
{
    switch (code) {
#define WF_ERRNO_TEXT(name, value, text) \
    case value:                          \
        return text;
        WF_ERRNO_MAP(WF_ERRNO_TEXT)
#undef WF_ERRNO_TEXT
    }
    return "unknown error";
}

const char *wf_errname(int code)
{
    switch (code) {
#define WF_ERRNO_NAME(name, value, text) \
    case value:                          \
        return #name;
        WF_ERRNO_MAP(WF_ERRNO_NAME)
#undef WF_ERRNO_NAME
    }
    return "EUNKNOWNCODE";
}

void wf_error_init(wf_error *err)
{
    memset(err, 0, sizeof(*err));
}

void wf_error_release(wf_error *err)
{
    if (err == NULL)
        return;
    free(err->source);
    free(err->message);
    free(err->source_line);
    wf_error_init(err);
}

void wf_error_set(wf_error *err, int code, const char *source, int line, int column,
                  const char *fmt, ...)
{
    va_list ap;

    if (err == NULL)
        return;
    wf_error_release(err);
    err->code = code;
    err->source = source ? wf_xstrdup(source) : NULL;
    err->line = line;
    err->column = column;
    va_start(ap, fmt);
    err->message = wf_xvasprintf(fmt, ap);
    va_end(ap);
}

void wf_error_set_source_line(wf_error *err, const char *text, size_t text_len)
{
    const char *p = text, *end = text + text_len, *eol;
    int line = 1;

    if (err == NULL || text == NULL || err->line < 1)
        return;
    while (line < err->line) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            return;
        p++;
        line++;
    }
    eol = memchr(p, '\n', (size_t)(end - p));
    if (eol == NULL)
        eol = end;
    if (eol > p && eol[-1] == '\r')
        eol--;
    free(err->source_line);
    err->source_line = wf_xstrndup(p, (size_t)(eol - p));
}

void wf_error_move(wf_error *dst, wf_error *src)
{
    wf_error_release(dst);
    *dst = *src;
    wf_error_init(src);
}

void wf_error_format(wf_strbuf *sb, const wf_error *err)
{
    if (err->source != NULL) {
        wf_strbuf_adds(sb, err->source);
        if (err->line > 0) {
            wf_strbuf_addf(sb, ":%d", err->line);
            if (err->column > 0)
                wf_strbuf_addf(sb, ":%d", err->column);
        }
        wf_strbuf_adds(sb, ": ");
    }
    wf_strbuf_adds(sb, err->message ? err->message : wf_strerror(err->code));
}

void wf_error_print(FILE *out, const wf_error *err)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_error_format(&sb, err);
    wf_strbuf_addc(&sb, '\n');
    if (err->source_line != NULL && err->column > 0) {
        size_t i, col = (size_t)err->column - 1, n = strlen(err->source_line);

        wf_strbuf_addf(&sb, "    %s\n    ", err->source_line);
        /* Copy tabs so that the caret lines up under the same character. */
        for (i = 0; i < col && i < n; i++)
            wf_strbuf_addc(&sb, err->source_line[i] == '\t' ? '\t' : ' ');
        for (; i < col; i++)
            wf_strbuf_addc(&sb, ' ');
        wf_strbuf_adds(&sb, "^\n");
    }
    fputs(wf_strbuf_str(&sb), out);
    wf_strbuf_release(&sb);
}

void wf_errlist_init(wf_errlist *l)
{
    memset(l, 0, sizeof(*l));
}

void wf_errlist_release(wf_errlist *l)
{
    for (size_t i = 0; i < l->len; i++)
        wf_error_release(&l->items[i]);
    free(l->items);
    wf_errlist_init(l);
}

wf_error *wf_errlist_add(wf_errlist *l)
{
    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = wf_xrealloc(l->items, l->cap * sizeof(*l->items));
    }
    wf_error_init(&l->items[l->len]);
    return &l->items[l->len++];
}

void wf_errlist_sort(wf_errlist *l)
{
    /* Insertion sort: stable, and a file rarely has more than a handful of errors. */
    for (size_t i = 1; i < l->len; i++) {
        wf_error e = l->items[i];
        size_t j = i;

        while (j > 0 && (l->items[j - 1].line > e.line ||
                         (l->items[j - 1].line == e.line && l->items[j - 1].column > e.column))) {
            l->items[j] = l->items[j - 1];
            j--;
        }
        l->items[j] = e;
    }
}

size_t wf_edit_distance(const char *a, const char *b, size_t max)
{
    size_t la = strlen(a), lb = strlen(b), *row, result;

    if ((la > lb ? la - lb : lb - la) > max)
        return max + 1;
    row = wf_xmalloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = diag + cost;

            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    result = row[lb];
    free(row);
    return result > max ? max + 1 : result;
}

const char *wf_closest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word), max = len / 3 > 2 ? len / 3 : 2, best_d = max + 1;
    const char *best = NULL;

    for (size_t i = 0; candidates[i] != NULL; i++) {
        size_t d = wf_edit_distance(word, candidates[i], max);

        if (d < best_d) {
            best_d = d;
            best = candidates[i];
        }
    }
    return best;
}
