/* The striped results map (see wf_context.h).
 *
 * Layout: an array of stripes, each a pthread rwlock guarding its own chained hash table.
 * Entries are allocated one by one and linked into their bucket; growing a stripe relinks the
 * entries into a bigger bucket array but never moves an entry, so the wf_result pointer a
 * reader got stays valid (and entries are never removed while the map lives).
 *
 * A key's 64-bit hash picks the stripe with its low bits (hash & (stripes - 1)) and the
 * bucket with the bits above those, so that keys in one stripe still spread over all of its
 * buckets.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "wf_context.h"
#include "wf_hash.h"

#define DEFAULT_STRIPES 64u
#define MAX_STRIPES     (1u << 31)
#define FIRST_BUCKETS   8u
#define CACHE_LINE      64u

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    wf_result *result; /* one reference, held until the map is freed */
    size_t len;
    char name[]; /* NUL-terminated copy of the key */
} entry;

typedef struct stripe {
    pthread_rwlock_t lock;
    entry **buckets; /* NULL until the first publish: most stripes of a small run stay empty */
    size_t n_buckets;
    size_t count;
} stripe;

/* Stripes are padded to whole cache lines so that two threads working on neighbouring stripes
 * do not bounce one line between their cores. */
#define STRIPE_SIZE (((sizeof(stripe) + CACHE_LINE - 1) / CACHE_LINE) * CACHE_LINE)

struct wf_results {
    atomic_uint refs;
    unsigned n_stripes;
    unsigned stripe_bits;
    atomic_size_t count;
    void *stripes_alloc; /* what malloc returned; stripes is aligned inside it */
    unsigned char *stripes;
};

static stripe *stripe_at(const wf_results *m, uint64_t hash)
{
    return (stripe *)(void *)(m->stripes + (size_t)(hash & (m->n_stripes - 1)) * STRIPE_SIZE);
}

static size_t bucket_of(const wf_results *m, uint64_t hash, size_t n_buckets)
{
    return (size_t)(hash >> m->stripe_bits) & (n_buckets - 1);
}

static entry *find(const wf_results *m, const stripe *st, uint64_t hash, const char *name,
                   size_t len)
{
    entry *e;

    if (st->n_buckets == 0)
        return NULL;
    for (e = st->buckets[bucket_of(m, hash, st->n_buckets)]; e != NULL; e = e->next) {
        if (e->hash == hash && e->len == len && memcmp(e->name, name, len) == 0)
            return e;
    }
    return NULL;
}

/* Doubles the bucket array (or creates the first one). Called with the write lock held. */
static void grow(const wf_results *m, stripe *st)
{
    size_t n = st->n_buckets ? st->n_buckets * 2 : FIRST_BUCKETS;
    entry **b = wf_xcalloc(n, sizeof(*b));

    for (size_t i = 0; i < st->n_buckets; i++) {
        entry *e = st->buckets[i];

        while (e != NULL) {
            entry *next = e->next;
            size_t j = bucket_of(m, e->hash, n);

            e->next = b[j];
            b[j] = e;
            e = next;
        }
    }
    free(st->buckets);
    st->buckets = b;
    st->n_buckets = n;
}

wf_results *wf_results_new(unsigned stripes)
{
    wf_results *m = wf_xcalloc(1, sizeof(*m));
    unsigned n = 1, bits = 0;
    uintptr_t p;

    if (stripes == 0)
        stripes = DEFAULT_STRIPES;
    if (stripes > MAX_STRIPES)
        stripes = MAX_STRIPES;
    while (n < stripes) {
        n <<= 1;
        bits++;
    }
    atomic_init(&m->refs, 1);
    atomic_init(&m->count, 0);
    m->n_stripes = n;
    m->stripe_bits = bits;
    /* Over-allocate by one line and align by hand, so that allocation failure still goes
     * through wf_xmalloc's single out-of-memory handler. */
    m->stripes_alloc = wf_xcalloc((size_t)n * STRIPE_SIZE + CACHE_LINE, 1);
    p = (uintptr_t)m->stripes_alloc;
    p = (p + CACHE_LINE - 1) & ~(uintptr_t)(CACHE_LINE - 1);
    m->stripes = (unsigned char *)(void *)p;
    for (unsigned i = 0; i < n; i++) {
        stripe *st = (stripe *)(void *)(m->stripes + (size_t)i * STRIPE_SIZE);

        if (pthread_rwlock_init(&st->lock, NULL) != 0) {
            /* Only fails for lack of memory or resources; treat it like malloc failing. */
            wf_xmalloc(SIZE_MAX);
        }
    }
    return m;
}

wf_results *wf_results_ref(wf_results *m)
{
    /* Relaxed: see wf_result_ref. */
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
    return m;
}

void wf_results_unref(wf_results *m)
{
    if (m == NULL)
        return;
    /* acq_rel: see wf_result_unref. The last owner sees every publish made by the others. */
    if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (unsigned i = 0; i < m->n_stripes; i++) {
        stripe *st = (stripe *)(void *)(m->stripes + (size_t)i * STRIPE_SIZE);

        for (size_t b = 0; b < st->n_buckets; b++) {
            entry *e = st->buckets[b];

            while (e != NULL) {
                entry *next = e->next;

                wf_result_unref(e->result);
                free(e);
                e = next;
            }
        }
        free(st->buckets);
        pthread_rwlock_destroy(&st->lock);
    }
    free(m->stripes_alloc);
    free(m);
}

int wf_results_publish(wf_results *m, const char *name, wf_result *r)
{
    size_t len = strlen(name);
    uint64_t hash = wf_hash_bytes(name, len);
    stripe *st = stripe_at(m, hash);
    entry *e;
    int rc = WF_OK;

    /* Build the entry before taking the lock so the critical section is only the lookup and
     * the link; on a duplicate it is thrown away. */
    e = wf_xmalloc(sizeof(*e) + len + 1);
    e->hash = hash;
    e->len = len;
    e->result = r;
    memcpy(e->name, name, len + 1);

    pthread_rwlock_wrlock(&st->lock);
    if (find(m, st, hash, name, len) != NULL) {
        rc = WF_EEXIST;
        goto out;
    }
    /* Load factor 1: chains stay about one entry long. */
    if (st->count >= st->n_buckets)
        grow(m, st);
    wf_result_ref(r);
    {
        size_t b = bucket_of(m, hash, st->n_buckets);

        e->next = st->buckets[b];
        st->buckets[b] = e;
    }
    st->count++;
    e = NULL;
    /* Relaxed: the count is a statistic; readers of an entry synchronise through the lock. */
    atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
out:
    pthread_rwlock_unlock(&st->lock);
    free(e);
    return rc;
}

const wf_result *wf_results_getn(const wf_results *m, const char *name, size_t len)
{
    uint64_t hash = wf_hash_bytes(name, len);
    stripe *st = stripe_at(m, hash);
    const entry *e;
    const wf_result *r = NULL;

    /* The read lock pairs with the publisher's write unlock, so every field the publisher
     * wrote into the result before publishing is visible here. */
    pthread_rwlock_rdlock(&st->lock);
    e = find(m, st, hash, name, len);
    if (e != NULL)
        r = e->result;
    pthread_rwlock_unlock(&st->lock);
    return r;
}

const wf_result *wf_results_get(const wf_results *m, const char *name)
{
    return wf_results_getn(m, name, strlen(name));
}

size_t wf_results_count(const wf_results *m)
{
    /* The counter is only ever modified through atomics; reading it through a const map is
     * a read, so the cast does not break the map's const promise. */
    return atomic_load_explicit(&((wf_results *)m)->count, memory_order_relaxed);
}

unsigned wf_results_stripes(const wf_results *m)
{
    return m->n_stripes;
}
