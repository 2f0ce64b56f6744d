/* wf_yaml_load_value_file: a JSON or YAML file as a value (for `run --inputs FILE`). JSON is
 * YAML, so one parser with the workflow loader's scalar rules serves both. wf__read_file, the
 * one way the loader reads a file, lives here too, and so do a node's JSON value and its
 * description for messages. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loader_internal.h"
#include "wfengine.h"

int wf__read_file(const char *path, const char *what, wf_strbuf *out, wf_errlist *errs)
{
    char buf[65536];
    struct stat st;
    FILE *f;
    size_t n;

    f = fopen(path, "rb");
    if (f == NULL)
        goto io_error;
    /* A regular file's size is known before reading it; a pipe or device (/dev/zero) is read
     * only up to the cap and one byte more, which tells "exactly the cap" from "too large". */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uintmax_t)st.st_size > WF_MAX_FILE_SIZE)
        goto too_large;
    do {
        size_t want = WF_MAX_FILE_SIZE + 1 - out->len;

        n = fread(buf, 1, want < sizeof(buf) ? want : sizeof(buf), f);
        wf_strbuf_add(out, buf, n);
        if (out->len > WF_MAX_FILE_SIZE)
            goto too_large;
    } while (n > 0);
    if (ferror(f))
        goto io_error;
    fclose(f);
    return WF_OK;
too_large:
    wf_error_set(wf_errlist_add(errs), WF_ERANGE, path, 0, 0,
                 "file too large (more than %zu MiB, the %s limit)", WF_MAX_FILE_SIZE >> 20, what);
    fclose(f);
    wf_strbuf_release(out);
    return WF_ERANGE;
io_error:
    wf_error_set(wf_errlist_add(errs), WF_EIO, path, 0, 0, "cannot read the %s: %s", what,
                 strerror(errno));
    if (f != NULL)
        fclose(f);
    wf_strbuf_release(out);
    return WF_EIO;
}

int wf_yaml_load_value_file(const char *path, json_object **out, wf_errlist *errs)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf__loader L = { 0 };
    wf__ynode *root = NULL;
    int rc;

    *out = NULL;
    rc = wf__read_file(path, "inputs file", &sb, errs);
    if (rc != WF_OK)
        return rc;
    L.path = path;
    L.src = wf_strbuf_str(&sb);
    L.src_len = sb.len;
    L.errs = errs;
    if (wf__yaml_load(&L, &root))
        *out = root != NULL ? wf__ynode_json(root) : NULL;
    else
        rc = WF_EINVAL;
    wf__loader_release(&L);
    wf_strbuf_release(&sb);
    return rc;
}

/* The sizes here come from the file (at most WF_MAX_FILE_SIZE): json-c's NULLs go to the one
 * out-of-memory handler rather than into its assertions. */
json_object *wf__ynode_json(const wf__ynode *n)
{
    json_object *o;

    switch (n->type) {
    case WF__Y_NULL:
        return NULL;
    case WF__Y_BOOL:
        return wf_json_check(json_object_new_boolean(n->b));
    case WF__Y_INT:
        return wf_json_check(json_object_new_int64(n->i));
    case WF__Y_DOUBLE:
        return wf_json_check(json_object_new_double(n->d));
    case WF__Y_STRING:
        return wf_json_check(json_object_new_string_len(n->text, (int)n->len));
    case WF__Y_LIST:
        o = wf_json_check(json_object_new_array_ext(n->n > 0 ? (int)n->n : 1));
        for (size_t k = 0; k < n->n; k++)
            wf_json_push(o, wf__ynode_json(n->items[k]));
        return o;
    case WF__Y_MAP:
        o = wf_json_check(json_object_new_object());
        for (size_t k = 0; k < n->n; k++)
            if (json_object_object_add(o, n->keys[k]->text, wf__ynode_json(n->items[k])) != 0)
                wf_oom(sizeof(struct lh_entry));
        return o;
    }
    return NULL;
}

char *wf__ynode_describe(const wf__ynode *n)
{
    switch (n->type) {
    case WF__Y_NULL:
        return wf_xstrdup("null");
    case WF__Y_BOOL:
        return wf_xasprintf("the boolean %s", n->b ? "true" : "false");
    case WF__Y_INT:
        return wf_xasprintf("the integer %s", n->text);
    case WF__Y_DOUBLE:
        return wf_xasprintf("the number %s", n->text);
    case WF__Y_STRING:
        if (n->len > 40)
            return wf_xasprintf("the string '%.37s...'", n->text);
        return wf_xasprintf("the string '%s'", n->text);
    case WF__Y_LIST:
        return wf_xstrdup("a list");
    case WF__Y_MAP:
        return wf_xstrdup("a map");
    }
    return wf_xstrdup("a value");
}
