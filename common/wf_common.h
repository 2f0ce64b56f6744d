/*
 * wf_common.h: the ground every wfengine module stands on.
 *
 * - Error codes from one table (WF_ERRNO_MAP) and wf_strerror().
 * - wf_error: a user-facing error with a source name, a 1-based line and column and a
 *   message, printed as "file:line:col: message" plus the source line and a caret.
 * - wf_errlist: the errors of one file, so that a loader can report all of them at once.
 * - wf_strbuf: a growable NUL-terminated string.
 * - Durations ("500ms", "30s", "5m", "1h", plain seconds) and SHA256 (OpenSSL EVP).
 *
 * Memory: out of memory is not an error code anywhere in wfengine. Every allocation goes
 * through wf_xmalloc and friends, which end the process through the one out-of-memory
 * handler, wf_oom(): it prints "wfengine: out of memory (...)" and exits with status
 * WF_EXIT_NOMEM (4), never abort(). Callers never check for NULL from them. Sizes that come
 * from input are checked against the WF_MAX_* caps below before anything is allocated, so
 * that a hostile file or expression gets an error naming the cap instead.
 *
 * Thread safety: every function here is safe to call from any thread on distinct objects;
 * none of them has global mutable state.
 */
#ifndef WF_COMMON_H
#define WF_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* X(name, value, text): the one table of error codes. WF_OK is 0, errors are negative. */
#define WF_ERRNO_MAP(X)                        \
    X(OK, 0, "success")                        \
    X(EINVAL, -1, "invalid argument")          \
    X(ESYNTAX, -2, "syntax error")             \
    X(ETYPE, -3, "type error")                 \
    X(EMISSING, -4, "missing key or index")    \
    X(EUNKNOWN, -5, "unknown name")            \
    X(EARITY, -6, "wrong number of arguments") \
    X(ECYCLE, -7, "dependency cycle")          \
    X(EIO, -8, "input/output error")           \
    X(EEXIST, -9, "already exists")            \
    X(ENOENT, -10, "not found")                \
    X(ERANGE, -11, "value out of range")       \
    X(ESTORE, -12, "store error")              \
    X(ECANCELLED, -13, "cancelled")            \
    X(ETIMEOUT, -14, "timed out")              \
    X(EEXEC, -15, "cannot execute")            \
    X(EFAILED, -16, "failed")

enum {
#define WF_ERRNO_ENUM(name, value, text) WF_##name = value,
    WF_ERRNO_MAP(WF_ERRNO_ENUM)
#undef WF_ERRNO_ENUM
};

/* The text of an error code; "unknown error" for a code not in the table. Never NULL. */
const char *wf_strerror(int code);

/* The name of an error code ("EINVAL"), for tests and logs. Never NULL. */
const char *wf_errname(int code);

/* ---- limits on sizes that come from input -------------------------------------------- */

/* The one list of caps (docs/workflow-format.md, "Limits", says the same to users). Each is
 * checked before allocating, with overflow-safe arithmetic; exceeding one is an error that
 * names the figure and the cap: exit 2 when it is known at load time, a task failure when it
 * is only known at run time. */

/* Units one task may expand to: the items of a with-items list, the combinations of a
 * matrix (before exclude, plus include). */
#define WF_MAX_ITEMS 10000000
/* Elements of one list a template expression builds (range, +, flatten, split, ...). */
#define WF_MAX_LIST_LEN 10000000
/* Bytes of one string a template expression builds (+, join, replace, json, ...). */
#define WF_MAX_STRING_LEN ((size_t)64 << 20)
/* Bytes of a workflow file or an inputs file; a pipe or device is read up to this and no
 * further. */
#define WF_MAX_FILE_SIZE ((size_t)64 << 20)

/* Workflow files loaded under one workflow through `uses:` (each call counts, so that a
 * file called from many places cannot make loading explode). */
#define WF_MAX_CALLED_FILES 256

/* The exit status of a process that ran out of memory (see wf_oom). */
#define WF_EXIT_NOMEM 4

/* ---- allocation --------------------------------------------------------------------- */

/* The one out-of-memory handler: writes "wfengine: out of memory (allocating N bytes)" to
 * stderr and ends the process with _exit(WF_EXIT_NOMEM). It allocates nothing and never
 * returns; any thread may call it. n is the size that failed (SIZE_MAX: a size that
 * overflowed). */
void wf_oom(size_t n) __attribute__((noreturn));

/* Like malloc/calloc/realloc/strdup/strndup, but out of memory ends the process through
 * wf_oom(). wf_xmalloc(0) returns a unique pointer that must be freed. */
void *wf_xmalloc(size_t n);
void *wf_xcalloc(size_t count, size_t size);
void *wf_xrealloc(void *p, size_t n);
char *wf_xstrdup(const char *s);
char *wf_xstrndup(const char *s, size_t n);
/* Faults in, with one system call, the heap memory the calling thread's next few hundred
 * allocations take: n_chunks chunks of 120 KiB of the thread's malloc arena. A page fault on a
 * virtual machine costs 10-40 us, a page populated in bulk about 1 us, and a one-task run
 * touched about 75 fresh heap pages of the main thread and 30 of the store's writer one
 * fault at a time (B8; bench/README.md). The chunks are taken below the mmap threshold (so
 * they come from the arena) with a small fence after them, then freed: kept apart from the
 * arena's top by the fence, they are not trimmed, and malloc carves the next allocations out
 * of them. Returns the fence (free it when the thread is done, or keep it), or NULL when
 * nothing was done. Nothing of malloc's tuning is changed (mallopt would fix the mmap
 * threshold). A kernel before 5.14 refuses the advice: then the pages fault in as before. */
void *wf_heap_prefault(int n_chunks);

/* printf into a new string (owned by the caller). */
char *wf_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *wf_xvasprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));

/* ---- string builder ----------------------------------------------------------------- */

/* A growable string. buf is NULL until the first grow or append; from then on buf[len] is
 * always NUL (a grow with nothing appended holds ""). Any bytes, NULs included, may be
 * appended: use len, not strlen, for such contents.
 * Embed it: wf_strbuf sb = WF_STRBUF_INIT; ...; wf_strbuf_release(&sb). */
typedef struct wf_strbuf {
    char *buf;
    size_t len;
    size_t cap;
} wf_strbuf;

#define WF_STRBUF_INIT \
    {                  \
        NULL, 0, 0     \
    }

void wf_strbuf_init(wf_strbuf *sb);
/* Frees the buffer and leaves sb empty and reusable. */
void wf_strbuf_release(wf_strbuf *sb);
/* Sets len to 0, keeps the buffer (for reuse on hot paths). */
void wf_strbuf_reset(wf_strbuf *sb);
/* Ensures room for n more bytes plus the NUL. */
void wf_strbuf_grow(wf_strbuf *sb, size_t n);
void wf_strbuf_add(wf_strbuf *sb, const void *data, size_t n);
void wf_strbuf_adds(wf_strbuf *sb, const char *s);
void wf_strbuf_addc(wf_strbuf *sb, char c);
void wf_strbuf_addf(wf_strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wf_strbuf_vaddf(wf_strbuf *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The contents (never NULL: "" when empty). Borrowed, valid until the next change. */
const char *wf_strbuf_str(const wf_strbuf *sb);
/* Takes the buffer out and leaves sb empty (as after init). The result is owned by the
 * caller (free() it), never NULL and always NUL-terminated at *len: a never-grown sb gives a
 * newly allocated "" with *len 0. len may be NULL. */
char *wf_strbuf_detach(wf_strbuf *sb, size_t *len);

/* The '\n' bytes among the n at p (what counts a stream's lines as it passes: its lines are
 * that count, plus one when it is not empty and does not end with '\n'). */
uint64_t wf_count_newlines(const char *p, size_t n);

/* ---- user-facing errors ------------------------------------------------------------- */

/* An error a user can act on. line/column are 1-based; 0 means unknown (then they are not
 * printed). All strings are owned by the error. Embed it and wf_error_init() it; a function
 * that fails fills it with wf_error_set(). */
typedef struct wf_error {
    int code;          /* WF_E*, WF_OK when no error is set */
    char *source;      /* file name or "<string>"; NULL when not tied to a source */
    int line, column;  /* 1-based position in the source, 0 if unknown */
    char *message;     /* what is wrong and what would be right */
    char *source_line; /* the text of that line, for the caret; may be NULL */
} wf_error;

void wf_error_init(wf_error *err);
/* Frees the strings and resets err to "no error". */
void wf_error_release(wf_error *err);
/* Replaces whatever err held. source may be NULL. err may be NULL (then nothing happens). */
void wf_error_set(wf_error *err, int code, const char *source, int line, int column,
                  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Sets source_line to the line'th line (1-based) of text; does nothing if text is NULL or
 * has fewer lines. */
void wf_error_set_source_line(wf_error *err, const char *text, size_t text_len);
/* Moves src into dst (dst is released first); src is left empty. */
void wf_error_move(wf_error *dst, wf_error *src);
/* Writes "source:line:col: message\n" and, when source_line is known, the line and a caret
 * under the column. Tabs in the line are kept so that the caret lines up in a terminal. */
void wf_error_print(FILE *out, const wf_error *err);
/* The first line only ("source:line:col: message"), appended to sb. */
void wf_error_format(wf_strbuf *sb, const wf_error *err);

/* A list of errors, in the order they were added. */
typedef struct wf_errlist {
    wf_error *items;
    size_t len, cap;
} wf_errlist;

void wf_errlist_init(wf_errlist *l);
void wf_errlist_release(wf_errlist *l);
/* Appends a new error and returns it for filling (borrowed, valid until the next add). */
wf_error *wf_errlist_add(wf_errlist *l);
/* Sorts by line then column (stable), so that a file's errors print top to bottom. */
void wf_errlist_sort(wf_errlist *l);

/* ---- sizes ------------------------------------------------------------------------- */

/* A size in bytes: a number (digits and one dot), then optionally a unit, case-insensitive:
 * B, K/KB/KiB/Ki, M/MB/MiB/Mi, G/GB/GiB/Gi, T/TB/TiB/Ti, all powers of 1024 ("64MiB", "1.5G",
 * "512k", "1Gi" as Kubernetes writes it, "1048576"). Returns WF_OK with *out, or WF_EINVAL
 * with *msg (owned; msg may be NULL): "invalid size", or "too large" past 16 EiB. */
int wf_size_parse(const char *s, uint64_t *out, char **msg);
/* Appends bytes as people read it: "512 bytes", "64 MiB", "1.5 GiB". */
void wf_size_format(wf_strbuf *sb, uint64_t bytes);

/* ---- durations ---------------------------------------------------------------------- */

/* Parses "500ms", "30s", "5m", "1h", "1.5s" or a plain number of seconds ("10", "0.25") into
 * milliseconds. Leading/trailing spaces are ignored. Negative, empty, overflowing and
 * malformed values fail with WF_EINVAL; then, if msg is not NULL, *msg is set to an owned
 * message that says what is accepted. */
int wf_duration_parse(const char *s, int64_t *out_ms, char **msg);
/* Formats ms the way a user would write it ("1.5s", "250ms", "2m5s"); appends to sb. */
void wf_duration_format(wf_strbuf *sb, int64_t ms);

/* ---- SHA256 ------------------------------------------------------------------------- */

#define WF_SHA256_HEX_LEN 64
#define WF_SHA256_LEN     32

/*
 * The hash is OpenSSL's SHA-256, fetched once per process (EVP_MD_fetch on the default
 * library context) and shared by every thread; these functions are thread-safe and abort with
 * a message if OpenSSL has no SHA-256 (a broken installation). They leave OpenSSL's global
 * configuration to the program, except for wf_sha256_skip_openssl_config.
 */

/* For programs that use OpenSSL only through wfengine (the wfengine CLI): initialises OpenSSL
 * without reading openssl.cnf and loading every algorithm it lists (0.3 ms of a 4 ms run),
 * without its legacy name tables (EVP_get_digestbyname and the like find nothing; copying
 * them into the provider name map was most of the first digest's cost) and without freeing
 * its tables at exit. Call it first, before any other OpenSSL use. A library or a program
 * that uses OpenSSL itself must not call it: it decides the configuration for the whole
 * process. */
void wf_sha256_skip_openssl_config(void);

/* out receives 64 lowercase hex digits and a NUL. */
void wf_sha256_hex(const void *data, size_t len, char out[WF_SHA256_HEX_LEN + 1]);

/* Incremental hashing (for files and composite keys). */
typedef struct wf_sha256 wf_sha256;
wf_sha256 *wf_sha256_new(void);
void wf_sha256_update(wf_sha256 *h, const void *data, size_t len);
/* Writes the hex digest and frees h. */
void wf_sha256_final_hex(wf_sha256 *h, char out[WF_SHA256_HEX_LEN + 1]);
/* The digest of data alone into out, through h's context, which is reset first and stays
 * usable: for many small digests in a row (a resume's item hashes), nothing is allocated per
 * digest. h must not hold an unfinished digest; one h per thread. */
void wf_sha256_digest(wf_sha256 *h, const void *data, size_t len, unsigned char out[WF_SHA256_LEN]);
/* Frees h without a digest. NULL is fine. */
void wf_sha256_free(wf_sha256 *h);
/* Hashes a file's content. Returns WF_OK, or WF_EIO (errno kept) when it cannot be read. */
int wf_sha256_file_hex(const char *path, char out[WF_SHA256_HEX_LEN + 1]);

/* ---- time --------------------------------------------------------------------------- */

/* CLOCK_MONOTONIC in nanoseconds / milliseconds. */
int64_t wf_now_ns(void);
int64_t wf_now_ms(void);
/* Wall clock in milliseconds since the epoch. */
int64_t wf_wall_ms(void);

/* ---- small helpers ------------------------------------------------------------------ */

/* Levenshtein distance between a and b, capped at max+1 (cheap for "did you mean"). */
size_t wf_edit_distance(const char *a, const char *b, size_t max);
/* The candidate closest to word (distance ≤ max(2, len/3)), or NULL. candidates ends with
 * NULL. */
const char *wf_closest(const char *word, const char *const *candidates);

#define WF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
