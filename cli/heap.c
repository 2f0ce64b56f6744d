/*
 * heap.c: transparent huge pages for loading a big workflow (see wf_cli_heap_reserve in
 * cli.h).
 *
 * Loading a 100,000-task file builds about 90 MB of small objects with malloc, which glibc
 * carves from the main heap (brk). Each 4 KiB page of it is a page fault when first written:
 * 24,000 faults, more than half of `validate`'s CPU time on a virtual machine. glibc can ask
 * for huge pages itself (GLIBC_TUNABLES=glibc.malloc.hugetlb=1), but only from the
 * environment it starts with. So, for a big file, the CLI makes glibc grow the heap once by
 * the room the load will need (M_TOP_PAD), and marks that room MADV_HUGEPAGE: the kernel then
 * backs it with 2 MiB pages as it is written (where the system allows transparent huge pages
 * at all: "madvise" or "always" in /sys/kernel/mm/transparent_hugepage/enabled). Nothing is
 * touched in advance; untouched room costs address space only.
 *
 * One lasting effect: any mallopt of these thresholds turns off glibc's dynamic mmap threshold
 * for the rest of the process, so in a run of a big file every allocation of 128 KiB or more
 * is its own mmap, as in a process that never freed such a block.
 */
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE, sbrk */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli.h"

#define HUGE_PAGE ((uintptr_t)2 << 20)
/* Below this, huge pages would not pay for the 2 MiB zeroed at each first touch. */
#define MIN_RESERVE ((size_t)8 << 20)
#define MAX_RESERVE ((size_t)512 << 20) /* twice it still fits M_TRIM_THRESHOLD's int */
/* glibc's defaults, restored by wf_cli_heap_release (malloc.c: DEFAULT_TOP_PAD,
 * DEFAULT_TRIM_THRESHOLD). */
#define GLIBC_TOP_PAD        0
#define GLIBC_TRIM_THRESHOLD (128 * 1024)

static bool reserved;

void wf_cli_heap_reserve(size_t bytes)
{
    void *blocks[16];
    size_t n = 0;
    uintptr_t from, to;

    if (bytes < MIN_RESERVE || reserved)
        return;
    if (bytes > MAX_RESERVE)
        bytes = MAX_RESERVE;
    /* The heap grows by the next request plus M_TOP_PAD, and a free at its top gives nothing
     * back below M_TRIM_THRESHOLD: the room stays one mapping until the load is done. */
    if (mallopt(M_TOP_PAD, (int)bytes) == 0 || mallopt(M_TRIM_THRESHOLD, (int)(bytes * 2)) == 0)
        return;
    reserved = true;
    /* Grow it now: take blocks (below the mmap threshold: from the heap) until the break
     * moves; the first heap is 132 KiB and main.c's prefaulted chunks 360 KiB (free behind
     * a fence), so a few at most. */
    from = to = (uintptr_t)sbrk(0);
    while (n < sizeof(blocks) / sizeof(blocks[0]) && to == from &&
           (blocks[n] = malloc(120 * 1024)) != NULL) {
        n++;
        to = (uintptr_t)sbrk(0);
    }
    while (n > 0)
        free(blocks[--n]);
    if (from == (uintptr_t)-1 || to <= from)
        return;
    from = (from + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    to &= ~(HUGE_PAGE - 1);
    /* Advice only: where it is refused, the pages are 4 KiB ones as before. */
    if (to > from)
        (void)madvise((void *)from, to - from, MADV_HUGEPAGE);
}

void wf_cli_heap_release(void)
{
    if (!reserved)
        return;
    reserved = false;
    (void)mallopt(M_TOP_PAD, GLIBC_TOP_PAD);
    (void)mallopt(M_TRIM_THRESHOLD, GLIBC_TRIM_THRESHOLD);
}
