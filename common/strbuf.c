/* Growable strings (see wf_common.h). */
#include <stdlib.h>
#include <string.h>

#include "wf_common.h"

void wf_strbuf_init(wf_strbuf *sb)
{
    sb->buf = NULL;
    sb->len = sb->cap = 0;
}

void wf_strbuf_release(wf_strbuf *sb)
{
    free(sb->buf);
    wf_strbuf_init(sb);
}

void wf_strbuf_reset(wf_strbuf *sb)
{
    sb->len = 0;
    if (sb->buf != NULL)
        sb->buf[0] = '\0';
}

void wf_strbuf_grow(wf_strbuf *sb, size_t n)
{
    size_t need = sb->len + n + 1;

    if (need <= sb->cap)
        return;
    if (need < sb->len)
        wf_xmalloc(SIZE_MAX); /* overflow: reported as out of memory */
    sb->cap = sb->cap ? sb->cap : 64;
    while (sb->cap < need)
        sb->cap = sb->cap > SIZE_MAX / 2 ? need : sb->cap * 2;
    sb->buf = wf_xrealloc(sb->buf, sb->cap);
    /* A buffer is terminated from its first byte on: a grow with nothing added after it
     * (reading an empty file) must still read and detach as "". */
    sb->buf[sb->len] = '\0';
}

void wf_strbuf_add(wf_strbuf *sb, const void *data, size_t n)
{
    wf_strbuf_grow(sb, n);
    if (n > 0)
        memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = '\0';
}

void wf_strbuf_adds(wf_strbuf *sb, const char *s)
{
    wf_strbuf_add(sb, s, strlen(s));
}

void wf_strbuf_addc(wf_strbuf *sb, char c)
{
    wf_strbuf_grow(sb, 1);
    sb->buf[sb->len++] = c;
    sb->buf[sb->len] = '\0';
}

void wf_strbuf_vaddf(wf_strbuf *sb, const char *fmt, va_list ap)
{
    va_list cp;
    int n;

    va_copy(cp, ap);
    n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    wf_strbuf_grow(sb, (size_t)n);
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void wf_strbuf_addf(wf_strbuf *sb, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    wf_strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

const char *wf_strbuf_str(const wf_strbuf *sb)
{
    return sb->buf ? sb->buf : "";
}

char *wf_strbuf_detach(wf_strbuf *sb, size_t *len)
{
    char *s;

    /* Never grown: an allocated "", so the caller can always free() what it gets. */
    if (sb->buf == NULL)
        wf_strbuf_grow(sb, 0);
    sb->buf[sb->len] = '\0';
    s = sb->buf;
    if (len != NULL)
        *len = sb->len;
    wf_strbuf_init(sb);
    return s;
}

/* Formatted allocation (wf_common.h) is a string built in a strbuf. */
char *wf_xvasprintf(const char *fmt, va_list ap)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_vaddf(&sb, fmt, ap);
    return wf_strbuf_detach(&sb, NULL);
}

char *wf_xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s;

    va_start(ap, fmt);
    s = wf_xvasprintf(fmt, ap);
    va_end(ap);
    return s;
}

uint64_t wf_count_newlines(const char *p, size_t n)
{
    uint64_t k = 0;

    for (const char *end = p + n; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++)
        k++;
    return k;
}
