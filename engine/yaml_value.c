/* wf_yaml_load_value_file: a JSON or YAML file as a value (for `run --inputs FILE`). JSON is
 * YAML, so one parser with the workflow loader's scalar rules serves both. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

int wf_yaml_load_value_file(const char *path, json_object **out, wf_errlist *errs)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf__loader L = { 0 };
    wf__ynode *root = NULL;
    char buf[65536];
    FILE *f;
    size_t n;
    int rc = WF_OK;

    *out = NULL;
    f = fopen(path, "rb");
    if (f == NULL) {
        wf_error_set(wf_errlist_add(errs), WF_EIO, path, 0, 0, "cannot read the file: %s",
                     strerror(errno));
        return WF_EIO;
    }
    do {
        n = fread(buf, 1, sizeof(buf), f);
        wf_strbuf_add(&sb, buf, n);
    } while (n == sizeof(buf));
    if (ferror(f)) {
        wf_error_set(wf_errlist_add(errs), WF_EIO, path, 0, 0, "cannot read the file: %s",
                     strerror(errno));
        fclose(f);
        wf_strbuf_release(&sb);
        return WF_EIO;
    }
    fclose(f);
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
