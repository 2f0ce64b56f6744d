/* arena.c: the bump allocator of wf_arena.h. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wf_arena.h"
#include "wf_common.h"

#define CHUNK_SIZE ((size_t)64 * 1024)
/* Nothing in an arena needs more than a pointer's or an int64's alignment. */
#define ALIGN alignof(int64_t)

struct wf_arena_chunk {
    wf_arena_chunk *prev;
    alignas(max_align_t) char data[];
};

/* A new chunk with room for at least n bytes; a big request gets its own chunk, behind the
 * current one, so that the current chunk's free part stays in use. */
static char *new_chunk(wf_arena *a, size_t n)
{
    size_t size = n > CHUNK_SIZE / 4 ? n : CHUNK_SIZE;
    wf_arena_chunk *c;

    if (size > SIZE_MAX - sizeof(*c))
        wf_oom(size);
    c = wf_xmalloc(sizeof(*c) + size);
    a->bytes += sizeof(*c) + size;
    if (size != CHUNK_SIZE && a->chunks != NULL) {
        c->prev = a->chunks->prev;
        a->chunks->prev = c;
        return c->data;
    }
    c->prev = a->chunks;
    a->chunks = c;
    a->next = c->data + n;
    a->end = c->data + size;
    return c->data;
}

static void *bump(wf_arena *a, size_t n, size_t align)
{
    uintptr_t p = ((uintptr_t)a->next + (align - 1)) & ~(uintptr_t)(align - 1);

    if (a->next == NULL || n > (size_t)((uintptr_t)a->end - p) || p > (uintptr_t)a->end)
        return new_chunk(a, n);
    a->next = (char *)p + n;
    return (char *)p;
}

void *wf_arena_alloc(wf_arena *a, size_t n)
{
    void *p = bump(a, n, ALIGN);

    memset(p, 0, n);
    return p;
}

char *wf_arena_strndup(wf_arena *a, const char *s, size_t len)
{
    char *p;

    if (len == SIZE_MAX)
        wf_oom(len);
    p = bump(a, len + 1, 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void *wf_arena_ptrdup(wf_arena *a, const void *v, size_t n)
{
    void *p;

    if (n == 0)
        return NULL;
    if (n > SIZE_MAX / sizeof(void *))
        wf_oom(n);
    p = bump(a, n * sizeof(void *), alignof(void *));
    memcpy(p, v, n * sizeof(void *));
    return p;
}

void wf_arena_release(wf_arena *a)
{
    wf_arena_chunk *c = a->chunks;

    while (c != NULL) {
        wf_arena_chunk *prev = c->prev;

        free(c);
        c = prev;
    }
    *a = (wf_arena)WF_ARENA_INIT;
}
