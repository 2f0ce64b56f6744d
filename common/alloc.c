/* Allocation that ends the process through one handler on out of memory, and the heap's
 * prefault (see wf_common.h). */
#define _GNU_SOURCE /* madvise */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "wf_common.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void wf_oom(size_t n)
{
    char msg[96];
    int len;

    /* snprintf into the stack and write(2): stdio could itself need memory now. _exit, not
     * exit: atexit handlers and other threads' buffers are not safe to run or flush here,
     * and the store's journal keeps what was committed. */
    if (n == SIZE_MAX)
        len = snprintf(msg, sizeof(msg), "wfengine: out of memory (a size overflowed)\n");
    else
        len = snprintf(msg, sizeof(msg), "wfengine: out of memory (allocating %zu bytes)\n", n);
    if (len > 0 && write(STDERR_FILENO, msg, (size_t)len) < 0)
        len = 0; /* nothing else can be done: the status still says it */
    _exit(WF_EXIT_NOMEM);
}

void *wf_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);

    if (p == NULL)
        wf_oom(n);
    return p;
}

void *wf_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);

    if (p == NULL)
        wf_oom(count > 0 && size > SIZE_MAX / count ? SIZE_MAX : count * size);
    return p;
}

void *wf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL)
        wf_oom(n);
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

void *wf_heap_prefault(int n_chunks)
{
    enum { CHUNK = 120 * 1024, MAX_CHUNKS = 8 };
    char *chunk[MAX_CHUNKS];
    long page = sysconf(_SC_PAGESIZE);
    uintptr_t lo, hi;
    void *fence = NULL;
    int n = n_chunks < 1 ? 1 : n_chunks > MAX_CHUNKS ? MAX_CHUNKS : n_chunks;

    for (int i = 0; i < n; i++)
        chunk[i] = malloc(CHUNK);
    if ((fence = malloc(1)) == NULL || page <= 0)
        goto out;
    lo = (uintptr_t)chunk[0];
    hi = (uintptr_t)chunk[n - 1] + CHUNK;
    for (int i = 0; i < n; i++) {
        if (chunk[i] == NULL)
            goto out;
        lo = (uintptr_t)chunk[i] < lo ? (uintptr_t)chunk[i] : lo;
        hi = (uintptr_t)chunk[i] + CHUNK > hi ? (uintptr_t)chunk[i] + CHUNK : hi;
    }
    /* Whole pages inside the chunks: nothing outside them is touched. */
    lo = (lo + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    hi &= ~((uintptr_t)page - 1);
    if (hi > lo && hi - lo <= 2 * (uintptr_t)n * CHUNK)
        (void)madvise((void *)lo, hi - lo, MADV_POPULATE_WRITE);
out:
    for (int i = 0; i < n; i++)
        free(chunk[i]);
    return fence;
}
