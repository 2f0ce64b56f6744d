/* SHA256 through OpenSSL's EVP interface (see wf_common.h). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "wf_common.h"

struct wf_sha256 {
    EVP_MD_CTX *md;
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

/* EVP_sha256() would look the implementation up again on every digest; one fetch serves the
 * whole process (it is never freed: it lives as long as the process). */
static void fetch_md(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md(void)
{
    pthread_once(&sha256_once, fetch_md);
    if (sha256_md == NULL) {
        fprintf(stderr, "wfengine: OpenSSL has no SHA-256 implementation\n");
        abort();
    }
    return sha256_md;
}

/* Each flag leaves out work whose only user would be OpenSSL's other interfaces:
 *  - NO_LOAD_CONFIG: openssl.cnf and the modules it lists (0.3 ms);
 *  - NO_ADD_ALL_CIPHERS, NO_ADD_ALL_DIGESTS: the legacy name tables (EVP_get_digestbyname and
 *    the like). The first fetch copies every name in them into the provider name map: 3.2 of
 *    the 4 million instructions EVP_MD_fetch cost. The default provider names SHA256 itself;
 *  - NO_ATEXIT: freeing OpenSSL's tables at exit (0.5 million instructions), memory the
 *    process gives back as it ends anyway. */
void wf_sha256_skip_openssl_config(void)
{
    OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG | OPENSSL_INIT_NO_ADD_ALL_CIPHERS |
                            OPENSSL_INIT_NO_ADD_ALL_DIGESTS | OPENSSL_INIT_NO_ATEXIT,
                        NULL);
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

wf_sha256 *wf_sha256_new(void)
{
    wf_sha256 *h = wf_xmalloc(sizeof(*h));

    h->md = EVP_MD_CTX_new();
    if (h->md == NULL)
        wf_oom(sizeof(void *)); /* OpenSSL's only reason for NULL */
    if (EVP_DigestInit_ex(h->md, md(), NULL) != 1) {
        fprintf(stderr, "wfengine: OpenSSL cannot initialise SHA256\n");
        abort();
    }
    return h;
}

void wf_sha256_update(wf_sha256 *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->md, data, len);
}

void wf_sha256_final_hex(wf_sha256 *h, char out[WF_SHA256_HEX_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    EVP_DigestFinal_ex(h->md, d, &n);
    to_hex(d, n, out);
    EVP_MD_CTX_free(h->md);
    free(h);
}

void wf_sha256_digest(wf_sha256 *h, const void *data, size_t len, unsigned char out[WF_SHA256_LEN])
{
    unsigned n = 0;

    /* The context keeps its fetched digest: re-initialising it allocates nothing. */
    if (EVP_DigestInit_ex2(h->md, md(), NULL) != 1 || EVP_DigestUpdate(h->md, data, len) != 1 ||
        EVP_DigestFinal_ex(h->md, out, &n) != 1 || n != WF_SHA256_LEN)
        wf_oom(sizeof(void *));
}

void wf_sha256_free(wf_sha256 *h)
{
    if (h == NULL)
        return;
    EVP_MD_CTX_free(h->md);
    free(h);
}

void wf_sha256_hex(const void *data, size_t len, char out[WF_SHA256_HEX_LEN + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;

    /* With the digest fetched once and for all, what EVP_Digest can still fail on is the
     * context it allocates: out of memory, through the one handler. */
    if (EVP_Digest(data, len, d, &n, md(), NULL) != 1)
        wf_oom(sizeof(void *));
    to_hex(d, n, out);
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
