/*
 * yaml_source.c: positions in a workflow file's text (see loader_internal.h): its line
 * starts, byte offsets -> line and column, every loader error with its position and source
 * line (wf__loader_error), and the map from a position inside a scalar's value back to the
 * file (wf__scalar_pos: escapes, quotes, folding and block indentation), so that a template
 * error points at its byte in the file. It calls no other file of workflow/.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

void wf__loader_error(wf__loader *L, wf_mark m, int code, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    wf_error *e;

    va_start(ap, fmt);
    msg = wf_xvasprintf(fmt, ap);
    va_end(ap);
    e = wf_errlist_add(L->errs);
    wf_error_set(e, code, L->path, m.line, m.column, "%s", msg);
    wf_error_set_source_line(e, L->src, L->src_len);
    free(msg);
}

void wf__loader_warning(wf__loader *L, wf_mark m, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    wf_error *e;

    if (L->warnings == NULL)
        return;
    va_start(ap, fmt);
    msg = wf_xvasprintf(fmt, ap);
    va_end(ap);
    e = wf_errlist_add(L->warnings);
    wf_error_set(e, WF_EINVAL, L->path, m.line, m.column, "warning: %s", msg);
    wf_error_set_source_line(e, L->src, L->src_len);
    free(msg);
}

void wf__yaml_build_lines(wf__loader *L)
{
    size_t cap = 64;

    L->line_starts = wf_xmalloc(cap * sizeof(*L->line_starts));
    L->line_starts[0] = 0;
    L->n_lines = 1;
    for (size_t k = 0; k < L->src_len; k++) {
        if (L->src[k] != '\n')
            continue;
        if (L->n_lines == cap) {
            cap *= 2;
            L->line_starts = wf_xrealloc(L->line_starts, cap * sizeof(*L->line_starts));
        }
        L->line_starts[L->n_lines++] = (uint32_t)(k + 1);
    }
}

size_t wf__yaml_line_end(const wf__loader *L, size_t line0)
{
    size_t end = line0 + 1 < L->n_lines ? L->line_starts[line0 + 1] - 1 : L->src_len;

    return end;
}

wf_mark wf__yaml_offset_mark(const wf__loader *L, size_t off)
{
    size_t lo = 0, hi = L->n_lines;
    wf_mark m;

    /* The last line whose start is <= off. */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;

        if (L->line_starts[mid] <= off)
            lo = mid;
        else
            hi = mid;
    }
    m.line = (int)lo + 1;
    m.column = (int)(off - L->line_starts[lo]) + 1;
    return m;
}

/* ---- positions inside a scalar's value -------------------------------------------- */

/* Where the value of a scalar starts in the source: after its anchor and tag, its quote, or
 * the header line of a block scalar. */
static size_t content_start(const wf__loader *L, const wf__ynode *n)
{
    size_t p = n->offset;
    const char *s = L->src;

    for (int k = 0; k < 2 && p < L->src_len && (s[p] == '&' || s[p] == '!'); k++) {
        while (p < L->src_len && s[p] != ' ' && s[p] != '\t' && s[p] != '\n')
            p++;
        while (p < L->src_len && (s[p] == ' ' || s[p] == '\t'))
            p++;
    }
    switch (n->style) {
    case WF__YS_SINGLE:
    case WF__YS_DOUBLE:
        return p + 1;
    case WF__YS_LITERAL:
    case WF__YS_FOLDED:
        while (p < L->src_len && s[p] != '\n')
            p++;
        return p < L->src_len ? p + 1 : p;
    default:
        return p;
    }
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Source bytes and value bytes of a double-quoted escape starting at s[0] == '\\'. */
static void escape_width(const char *s, size_t avail, size_t *src_w, size_t *val_w)
{
    size_t hex = 0;
    unsigned long cp = 0;

    *src_w = 2;
    *val_w = 1;
    if (avail < 2)
        return;
    if (s[1] == 'x')
        hex = 2;
    else if (s[1] == 'u')
        hex = 4;
    else if (s[1] == 'U')
        hex = 8;
    if (hex == 0 || avail < 2 + hex)
        return;
    for (size_t k = 0; k < hex; k++) {
        char c = s[2 + k];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : 0;

        cp = cp * 16 + (unsigned long)d;
    }
    *src_w = 2 + hex;
    *val_w = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

/* Walks the value and its source side by side: equal bytes advance both, whitespace that
 * folding or indentation removed advances the source, escapes count as what they produce.
 * Exact for single-line scalars of every style and for literal blocks; close for folded and
 * multi-line flow scalars. When the two cannot be matched, the scalar's own mark is used. */
wf_mark wf__scalar_pos(const wf__loader *L, const wf__ynode *n, int line, int column)
{
    size_t target = 0, i = 0, j, len = n->len;
    const char *v = n->text, *s = L->src;

    if (n->type == WF__Y_LIST || n->type == WF__Y_MAP || line < 1 || column < 1)
        return n->mark;
    for (int l = 1; l < line && target < len; target++)
        if (v[target] == '\n')
            l++;
    target += (size_t)column - 1;
    if (target > len)
        target = len;
    j = content_start(L, n);
    while (i < target && j < L->src_len) {
        if (n->style == WF__YS_DOUBLE && s[j] == '\\') {
            size_t sw, vw;

            if (j + 1 < L->src_len && (s[j + 1] == '\n' || s[j + 1] == '\r')) {
                j += 2;
                continue;
            }
            escape_width(s + j, L->src_len - j, &sw, &vw);
            i += vw;
            j += sw;
            continue;
        }
        if (n->style == WF__YS_SINGLE && s[j] == '\'' && j + 1 < L->src_len && s[j + 1] == '\'' &&
            v[i] == '\'') {
            i++;
            j += 2;
            continue;
        }
        if (s[j] == v[i]) {
            i++;
            j++;
        } else if (is_space(s[j])) {
            j++;
        } else if (v[i] == ' ' || v[i] == '\n') {
            i++;
        } else {
            return n->mark;
        }
    }
    if (i < target)
        return n->mark;
    while (target < len && j < L->src_len && s[j] != v[target] && is_space(s[j]))
        j++;
    return wf__yaml_offset_mark(L, j);
}
