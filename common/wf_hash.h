/*
 * wf_hash.h: the hash of short strings for in-memory tables (the results map's stripes and
 * buckets, the task-name index, the YAML loader's duplicate-key check). FNV-1a over the
 * bytes, then murmur3's 64-bit finalizer: FNV alone leaves the low bits (a slot or a stripe)
 * weakly mixed for keys that differ only in their last characters ("t1", "t2", ...). Not for
 * anything stored or compared across processes (that is SHA-256, wf_common.h).
 *
 * Internal to wfengine (not installed). Pure: any thread.
 */
#ifndef WF_HASH_H
#define WF_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t wf_hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdu;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53u;
    h ^= h >> 33;
    return h;
}

#endif
