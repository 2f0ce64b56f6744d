/*
 * sha256.c: SHA-256 (FIPS 180-4) for content addressing (see wf_common.h): the compression
 * function in portable C, and with the x86 SHA extensions (SHA-NI) when the CPU has them,
 * chosen once per process. No library: loading and initialising libcrypto for this alone was
 * about 1 ms of every run (bench/README.md, B8).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wf_common.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>
#include <immintrin.h>
#define WF_SHA256_SHANI 1
#endif

struct wf_sha256 {
    uint32_t state[8];
    uint64_t bytes;        /* hashed so far, buffered bytes included */
    unsigned char buf[64]; /* a block not yet full */
    size_t buffered;
};

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static const uint32_t H0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

static inline uint32_t ror(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline uint32_t load_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* nblocks blocks of 64 bytes at data into state, the specification's way. */
static void blocks_portable(uint32_t state[8], const unsigned char *data, size_t nblocks)
{
    uint32_t w[64];

    for (; nblocks > 0; nblocks--, data += 64) {
        uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
        uint32_t e = state[4], f = state[5], g = state[6], h = state[7];

        for (int t = 0; t < 16; t++)
            w[t] = load_be32(data + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = ror(w[t - 15], 7) ^ ror(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = ror(w[t - 2], 17) ^ ror(w[t - 2], 19) ^ (w[t - 2] >> 10);

            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        for (int t = 0; t < 64; t++) {
            uint32_t t1 =
                h + (ror(e, 6) ^ ror(e, 11) ^ ror(e, 25)) + ((e & f) ^ (~e & g)) + K[t] + w[t];
            uint32_t t2 = (ror(a, 2) ^ ror(a, 13) ^ ror(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

            h = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
        state[4] += e;
        state[5] += f;
        state[6] += g;
        state[7] += h;
    }
}

#ifdef WF_SHA256_SHANI
/* The same with the SHA extensions: the state kept as ABEF and CDGH, four rounds per two
 * sha256rnds2, the message schedule by sha256msg1/msg2. */
__attribute__((target("sha,sse4.1"))) static void
blocks_shani(uint32_t state[8], const unsigned char *data, size_t nblocks)
{
    const __m128i swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
    __m128i tmp = _mm_loadu_si128((const __m128i *)&state[0]);
    __m128i s1 = _mm_loadu_si128((const __m128i *)&state[4]);
    __m128i s0;

    tmp = _mm_shuffle_epi32(tmp, 0xB1);  /* CDAB */
    s1 = _mm_shuffle_epi32(s1, 0x1B);    /* EFGH */
    s0 = _mm_alignr_epi8(tmp, s1, 8);    /* ABEF */
    s1 = _mm_blend_epi16(s1, tmp, 0xF0); /* CDGH */
    for (; nblocks > 0; nblocks--, data += 64) {
        __m128i abef = s0, cdgh = s1, w[4];

        /* Unrolled, w[] lives in registers (gcc and clang both read this pragma). */
#pragma GCC unroll 16
        for (int i = 0; i < 16; i++) {
            __m128i m;

            if (i < 4) {
                w[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * i)), swap);
            } else {
                /* w[i] = msg2(msg1(w[i-4], w[i-3]) + w[i-1]:w[i-2] >> 4 bytes, w[i-1]) */
                __m128i x = _mm_sha256msg1_epu32(w[i & 3], w[(i + 1) & 3]);

                x = _mm_add_epi32(x, _mm_alignr_epi8(w[(i + 3) & 3], w[(i + 2) & 3], 4));
                w[i & 3] = _mm_sha256msg2_epu32(x, w[(i + 3) & 3]);
            }
            m = _mm_add_epi32(w[i & 3], _mm_loadu_si128((const __m128i *)&K[4 * i]));
            s1 = _mm_sha256rnds2_epu32(s1, s0, m);
            s0 = _mm_sha256rnds2_epu32(s0, s1, _mm_shuffle_epi32(m, 0x0E));
        }
        s0 = _mm_add_epi32(s0, abef);
        s1 = _mm_add_epi32(s1, cdgh);
    }
    tmp = _mm_shuffle_epi32(s0, 0x1B);   /* FEBA */
    s1 = _mm_shuffle_epi32(s1, 0xB1);    /* DCHG */
    s0 = _mm_blend_epi16(tmp, s1, 0xF0); /* DCBA */
    s1 = _mm_alignr_epi8(s1, tmp, 8);    /* ABEF -> HGFE */
    _mm_storeu_si128((__m128i *)&state[0], s0);
    _mm_storeu_si128((__m128i *)&state[4], s1);
}
#endif

typedef void (*blocks_fn)(uint32_t state[8], const unsigned char *data, size_t nblocks);

static blocks_fn blocks = blocks_portable;
static pthread_once_t blocks_once = PTHREAD_ONCE_INIT;

static void choose_blocks(void)
{
#ifdef WF_SHA256_SHANI
    unsigned a, b, c, d;

    /* SHA: leaf 7 EBX bit 29; SSE4.1 (and so SSSE3): leaf 1 ECX bit 19. */
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) != 0 &&
        __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0)
        blocks = blocks_shani;
#endif
}

static blocks_fn compress(void)
{
    pthread_once(&blocks_once, choose_blocks);
    return blocks;
}

bool wf__sha256_portable(bool portable)
{
    bool was = compress() == blocks_portable;

    if (portable)
        blocks = blocks_portable;
    else
        choose_blocks();
    return was;
}

static void to_hex(const unsigned char *d, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = '\0';
}

static void init(wf_sha256 *h)
{
    memcpy(h->state, H0, sizeof(H0));
    h->bytes = 0;
    h->buffered = 0;
}

static void update(wf_sha256 *h, const unsigned char *p, size_t len)
{
    blocks_fn fn = compress();

    h->bytes += len;
    if (h->buffered > 0) {
        size_t take = 64 - h->buffered < len ? 64 - h->buffered : len;

        memcpy(h->buf + h->buffered, p, take);
        h->buffered += take;
        p += take;
        len -= take;
        if (h->buffered < 64)
            return;
        fn(h->state, h->buf, 1);
        h->buffered = 0;
    }
    if (len >= 64) {
        fn(h->state, p, len / 64);
        p += len & ~(size_t)63;
        len &= 63;
    }
    memcpy(h->buf, p, len);
    h->buffered = len;
}

static void final_hex(wf_sha256 *h, char out[WF_SHA256_HEX_LEN + 1])
{
    uint64_t bits = h->bytes * 8;
    unsigned char pad[72] = { 0x80 }, d[32];
    size_t n = (h->buffered < 56 ? 56 : 120) - h->buffered;

    for (int i = 0; i < 8; i++)
        pad[n + (size_t)i] = (unsigned char)(bits >> (56 - 8 * i));
    update(h, pad, n + 8);
    for (int i = 0; i < 8; i++) {
        d[4 * i] = (unsigned char)(h->state[i] >> 24);
        d[4 * i + 1] = (unsigned char)(h->state[i] >> 16);
        d[4 * i + 2] = (unsigned char)(h->state[i] >> 8);
        d[4 * i + 3] = (unsigned char)h->state[i];
    }
    to_hex(d, 32, out);
}

wf_sha256 *wf_sha256_new(void)
{
    wf_sha256 *h = wf_xmalloc(sizeof(*h));

    init(h);
    return h;
}

void wf_sha256_update(wf_sha256 *h, const void *data, size_t len)
{
    update(h, data, len);
}

void wf_sha256_final_hex(wf_sha256 *h, char out[WF_SHA256_HEX_LEN + 1])
{
    final_hex(h, out);
    free(h);
}

void wf_sha256_hex(const void *data, size_t len, char out[WF_SHA256_HEX_LEN + 1])
{
    wf_sha256 h;

    init(&h);
    update(&h, data, len);
    final_hex(&h, out);
}

int wf_sha256_file_hex(const char *path, char out[WF_SHA256_HEX_LEN + 1])
{
    FILE *f = fopen(path, "rb");
    wf_sha256 *h;
    char buf[65536];
    size_t n;
    int saved;

    if (f == NULL)
        return WF_EIO;
    h = wf_sha256_new();
    do {
        n = fread(buf, 1, sizeof(buf), f);
        wf_sha256_update(h, buf, n);
    } while (n == sizeof(buf));
    if (ferror(f)) {
        saved = errno;
        fclose(f);
        wf_sha256_final_hex(h, out);
        errno = saved;
        return WF_EIO;
    }
    fclose(f);
    wf_sha256_final_hex(h, out);
    return WF_OK;
}
