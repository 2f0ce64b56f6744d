/* Allocation that aborts on out of memory (see wf_common.h). */
#include <stdlib.h>
#include <string.h>

#include "wf_common.h"

static void oom(size_t n)
{
    fprintf(stderr, "wfengine: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *wf_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        oom(n);
    return p;
}

void *wf_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        oom(count * size);
    return p;
}

void *wf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        oom(n);
    return q;
}

char *wf_xstrdup(const char *s)
{
    return wf_xstrndup(s, strlen(s));
}

char *wf_xstrndup(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    char *p = wf_xmalloc(len + 1);

    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

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
