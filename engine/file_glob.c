/*
 * file_glob.c: file globs with a recursive `**` (see file_glob.h): a walk over the pattern's
 * segments, reading each directory it reaches once per segment.
 */
#include "file_glob.h"

#include <dirent.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wf_common.h"

typedef struct walk {
    const char *base; /* prefix joined to relative paths for file system calls, or NULL */
    char **segs;
    size_t n_segs;
    char **out;
    size_t n, cap;
} walk;

static char *fs_path(const walk *w, const char *rel)
{
    if (w->base == NULL || rel[0] == '/')
        return wf_xstrdup(rel[0] ? rel : ".");
    return rel[0] ? wf_xasprintf("%s/%s", w->base, rel) : wf_xstrdup(w->base);
}

static char *join(const char *dir, const char *name)
{
    if (dir[0] == '\0')
        return wf_xstrdup(name);
    if (strcmp(dir, "/") == 0)
        return wf_xasprintf("/%s", name);
    return wf_xasprintf("%s/%s", dir, name);
}

static void add(walk *w, const char *rel)
{
    if (w->n + 2 > w->cap) {
        w->cap = w->cap ? w->cap * 2 : 8;
        w->out = wf_xrealloc(w->out, w->cap * sizeof(char *));
    }
    w->out[w->n++] = wf_xstrdup(rel);
}

static bool exists(const walk *w, const char *rel)
{
    struct stat st;
    char *p = fs_path(w, rel);
    bool ok = lstat(p, &st) == 0;

    free(p);
    return ok;
}

/* A real directory (not a link to one). */
static bool is_dir(const walk *w, const char *rel)
{
    struct stat st;
    char *p = fs_path(w, rel);
    bool ok = lstat(p, &st) == 0 && S_ISDIR(st.st_mode);

    free(p);
    return ok;
}

/* For a directory, the sorted names in it (without . and ..); NULL when unreadable. */
static char **list_dir(const walk *w, const char *rel, size_t *n)
{
    char *p = fs_path(w, rel);
    DIR *d = opendir(p);
    struct dirent *e;
    char **names = NULL;
    size_t cap = 0;

    free(p);
    *n = 0;
    if (d == NULL)
        return NULL;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (*n + 1 > cap) {
            cap = cap ? cap * 2 : 16;
            names = wf_xrealloc(names, cap * sizeof(char *));
        }
        names[(*n)++] = wf_xstrdup(e->d_name);
    }
    closedir(d);
    return names;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static bool has_magic(const char *s)
{
    return strpbrk(s, "*?[\\") != NULL;
}

/* Matches segments [i..] below the directory rel ("" for base). */
static void match(walk *w, const char *rel, size_t i)
{
    const char *seg;
    bool last;
    char **names;
    size_t n;

    if (i == w->n_segs) {
        if (rel[0] != '\0')
            add(w, rel);
        return;
    }
    seg = w->segs[i];
    last = i + 1 == w->n_segs;
    if (strcmp(seg, "**") == 0) {
        match(w, rel, i + 1); /* zero directories */
        names = list_dir(w, rel, &n);
        for (size_t k = 0; k < n; k++) {
            char *sub = join(rel, names[k]);

            if (names[k][0] == '.')
                ; /* hidden: as `*` */
            else if (is_dir(w, sub))
                match(w, sub, i); /* one more directory, `**` still to match */
            else if (last)
                add(w, sub); /* a trailing `**` matches the files below too */
            free(sub);
        }
        free_names(names, n);
        return;
    }
    if (!has_magic(seg)) {
        char *sub = join(rel, seg);

        if (last ? exists(w, sub) : is_dir(w, sub) || exists(w, sub))
            match(w, sub, i + 1);
        free(sub);
        return;
    }
    names = list_dir(w, rel, &n);
    for (size_t k = 0; k < n; k++) {
        if (fnmatch(seg, names[k], FNM_PERIOD) == 0) {
            char *sub = join(rel, names[k]);

            match(w, sub, i + 1);
            free(sub);
        }
    }
    free_names(names, n);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void wf_file_glob(const char *base, const char *pattern, char ***out, size_t *n)
{
    char *copy = wf_xstrdup(pattern), *save = NULL;
    walk w = { .base = base };
    size_t cap = 0, k = 0;

    for (char *t = strtok_r(copy, "/", &save); t != NULL; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        /* Two `**` in a row match what one does: walk once. */
        if (strcmp(t, "**") == 0 && w.n_segs > 0 && strcmp(w.segs[w.n_segs - 1], "**") == 0)
            continue;
        if (w.n_segs + 1 > cap) {
            cap = cap ? cap * 2 : 8;
            w.segs = wf_xrealloc(w.segs, cap * sizeof(char *));
        }
        w.segs[w.n_segs++] = t;
    }
    if (w.n_segs > 0)
        match(&w, pattern[0] == '/' ? "/" : "", 0);
    if (w.n > 1)
        qsort(w.out, w.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < w.n; i++) {
        if (k > 0 && strcmp(w.out[k - 1], w.out[i]) == 0)
            free(w.out[i]);
        else
            w.out[k++] = w.out[i];
    }
    if (w.out == NULL)
        w.out = wf_xcalloc(1, sizeof(char *));
    w.out[k] = NULL;
    *out = w.out;
    *n = k;
    free(w.segs);
    free(copy);
}

void wf_file_glob_free(char **paths)
{
    for (size_t i = 0; paths != NULL && paths[i] != NULL; i++)
        free(paths[i]);
    free(paths);
}
