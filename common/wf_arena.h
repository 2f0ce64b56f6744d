/*
 * wf_arena.h: a bump allocator for many small allocations that die together (the nodes of a
 * parsed YAML file). Allocations are carved from 64 KiB chunks (a request larger than a
 * quarter of that gets a chunk of its own); nothing is freed until wf_arena_release, which
 * frees everything at once. Each allocation costs no header and no free: for the YAML tree of
 * a 100,000-task file this halves the memory and most of malloc's time.
 *
 * Memory: chunks come from wf_xmalloc (out of memory ends the process, as everywhere).
 * Internal to wfengine (not installed). Not thread-safe: one arena per owner thread.
 */
#ifndef WF_ARENA_H
#define WF_ARENA_H

#include <stddef.h>

typedef struct wf_arena_chunk wf_arena_chunk;

/* Embed it zeroed (WF_ARENA_INIT) and wf_arena_release it. */
typedef struct wf_arena {
    wf_arena_chunk *chunks; /* newest first */
    char *next, *end;       /* the free part of the newest chunk */
    size_t bytes;           /* allocated from the system, for measurements */
} wf_arena;

#define WF_ARENA_INIT       \
    {                       \
        NULL, NULL, NULL, 0 \
    }

/* n bytes, zeroed, aligned for pointers and 64-bit integers and doubles (not long double).
 * Valid until wf_arena_release. */
void *wf_arena_alloc(wf_arena *a, size_t n);
/* A copy of s[0..len) plus a NUL, in the arena (not aligned). */
char *wf_arena_strndup(wf_arena *a, const char *s, size_t len);
/* A copy of the n pointers at v, in the arena (NULL when n is 0). */
void *wf_arena_ptrdup(wf_arena *a, const void *v, size_t n);
/* Frees every allocation at once; a is then empty and reusable. */
void wf_arena_release(wf_arena *a);

#endif
