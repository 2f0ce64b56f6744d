/*
 * bench_common.h: what the benchmarks in bench/ share: command-line options, the monotonic
 * clock, medians, and the JSON line each result is printed as.
 *
 * Every benchmark takes its parameters on the command line (`--name value`, `--help` lists
 * them), runs its measurement once as a warm-up (or --warmup times), then K more times
 * (--k), and prints one JSON object per result on one line of stdout: {"bench":"B1",
 * "what":..., parameters..., the median figure..., "k":K}. Diagnostics go to stderr.
 *
 * Everything here is static inline so that each benchmark is one translation unit with no
 * library of its own; a benchmark that does not use a helper pays nothing for it.
 */
#ifndef WF_BENCH_COMMON_H
#define WF_BENCH_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the clock ------------------------------------------------------------------------ */

static inline int64_t bench_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---- medians ---------------------------------------------------------------------------- */

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of v[0..n) (sorts v). n must be at least 1. */
static inline double bench_median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), bench_cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

/* ---- options ---------------------------------------------------------------------------- */

typedef enum bench_opt_kind {
    BENCH_OPT_LONG,   /* a number (1e6 and 1000000 both work) into a long */
    BENCH_OPT_STRING, /* a string into a const char * (borrowed from argv) */
    BENCH_OPT_SIZES,  /* a comma-separated list of numbers into a bench_sizes */
    BENCH_OPT_FLAG,   /* no value: sets a bool */
} bench_opt_kind;

#define BENCH_MAX_SIZES 16

typedef struct bench_sizes {
    long v[BENCH_MAX_SIZES];
    size_t n;
} bench_sizes;

typedef struct bench_opt {
    const char *name; /* "--k" */
    bench_opt_kind kind;
    void *dest;
    const char *help;
} bench_opt;

static inline void bench_usage(FILE *f, const char *prog, const char *what, const bench_opt *opts,
                               size_t n)
{
    fprintf(f, "usage: %s [options]\n%s\n\noptions:\n", prog, what);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  %-14s %s\n", opts[i].name, opts[i].help);
    fprintf(f, "  %-14s %s\n", "--help", "print this and exit");
}

static inline bool bench_parse_long(const char *s, long *out)
{
    char *end = NULL;
    double d = strtod(s, &end);

    if (end == s || *end != '\0' || d < 0 || d > 1e15)
        return false;
    *out = (long)d;
    return true;
}

static inline bool bench_parse_sizes(const char *s, bench_sizes *out)
{
    char buf[256];
    char *save = NULL;

    if (strlen(s) >= sizeof(buf))
        return false;
    strcpy(buf, s);
    out->n = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        if (out->n == BENCH_MAX_SIZES || !bench_parse_long(tok, &out->v[out->n]))
            return false;
        out->n++;
    }
    return out->n > 0;
}

/* Parses argv against opts; on --help prints usage and exits 0, on a bad option or value
 * prints why and exits 2. */
static inline void bench_parse(int argc, char **argv, const char *what, const bench_opt *opts,
                               size_t n)
{
    for (int i = 1; i < argc; i++) {
        const bench_opt *o = NULL;

        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            bench_usage(stdout, argv[0], what, opts, n);
            exit(0);
        }
        for (size_t j = 0; j < n; j++) {
            if (strcmp(argv[i], opts[j].name) == 0)
                o = &opts[j];
        }
        if (o == NULL) {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            bench_usage(stderr, argv[0], what, opts, n);
            exit(2);
        }
        if (o->kind == BENCH_OPT_FLAG) {
            *(bool *)o->dest = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], o->name);
            exit(2);
        }
        i++;
        if ((o->kind == BENCH_OPT_LONG && !bench_parse_long(argv[i], (long *)o->dest)) ||
            (o->kind == BENCH_OPT_SIZES && !bench_parse_sizes(argv[i], (bench_sizes *)o->dest))) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], argv[i], o->name);
            exit(2);
        }
        if (o->kind == BENCH_OPT_STRING)
            *(const char **)o->dest = argv[i];
    }
}

/* ---- output ------------------------------------------------------------------------------ */

/* Prints one result line: {"bench":id,"what":what, then fmt's fields, then "k":k}. fmt
 * writes the middle fields, e.g. "\"items\":%ld,\"ns_per_item\":%.1f". */
static inline void bench_emit(const char *id, const char *what, long k, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void bench_emit(const char *id, const char *what, long k, const char *fmt, ...)
{
    va_list ap;

    printf("{\"bench\":\"%s\",\"what\":\"%s\",", id, what);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(",\"k\":%ld}\n", k);
    fflush(stdout);
}

#endif
