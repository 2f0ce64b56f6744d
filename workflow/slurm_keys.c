/*
 * slurm_keys.c: the `slurm:` options map: its keys, what each value may be
 * (wf_slurm_value_problem, used by the loader for constants and by the Slurm executor for
 * rendered templates), the loader's check of one map (a task's, the workflow's top-level
 * one) and the site configuration file that holds the site's defaults (wf_site_config_load).
 * Calls load_values.c, yaml_tree.c and yaml_source.c.
 */
#include <stdlib.h>
#include <string.h>

#include "loader_internal.h"

const char *const wf_slurm_keys[] = {
    "partition", "time", "cpus",       "mem",   "memory", "account",
    "qos",       "gpus", "constraint", "extra", NULL,
};

static const char *const CONFIG_KEYS[] = { "slurm", NULL };

/* "the string 'x'", "the integer 3", ... for a JSON value. */
static char *json_describe(const json_object *v)
{
    const char *text = json_object_to_json_string_ext((json_object *)v, JSON_C_TO_STRING_PLAIN);

    switch (json_object_get_type(v)) {
    case json_type_null:
        return wf_xstrdup("null");
    case json_type_boolean:
        return wf_xasprintf("the boolean %s", text);
    case json_type_int:
        return wf_xasprintf("the integer %s", text);
    case json_type_double:
        return wf_xasprintf("the number %s", text);
    case json_type_string:
        return wf_xasprintf("the string %s", text);
    case json_type_array:
        return wf_xstrdup("a list");
    default:
        return wf_xstrdup("a map");
    }
}

/* A value that becomes one sbatch argument (--account=TEXT): not empty, not an option of its
 * own, no control character (sbatch takes it as one argument; a newline in a job's account
 * or a '-' in front are never meant). */
static char *text_problem(const char *key, const char *s)
{
    if (s[0] == '\0')
        return wf_xasprintf("'slurm.%s' is empty: give a value or leave the key out", key);
    if (s[0] == '-')
        return wf_xasprintf("'slurm.%s' is '%s', which starts with '-' and would be read as an "
                            "sbatch option; pass options through 'slurm.extra'",
                            key, s);
    for (const char *p = s; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return wf_xasprintf("'slurm.%s' holds a control character (a newline or a tab, "
                                "byte %d): sbatch takes it as one word",
                                key, *p);
    return NULL;
}

static char *type_problem(const char *key, const char *expected, const json_object *v)
{
    char *got = json_describe(v), *msg;

    msg = wf_xasprintf("'slurm.%s' must be %s, got %s", key, expected, got);
    free(got);
    return msg;
}

char *wf_slurm_value_problem(const char *key, const json_object *v)
{
    bool is_int = json_object_is_type(v, json_type_int);
    bool is_str = json_object_is_type(v, json_type_string);
    int64_t i = is_int ? json_object_get_int64(v) : 0;

    if (strcmp(key, "cpus") == 0) {
        if (!is_int || i < 1 || i > INT32_MAX)
            return type_problem(key, "an integer of at least 1 (--cpus-per-task)", v);
        return NULL;
    }
    if (strcmp(key, "gpus") == 0 || strcmp(key, "mem") == 0 || strcmp(key, "memory") == 0 ||
        strcmp(key, "time") == 0) {
        const char *expected = key[0] == 'g'   ? "a GPU count of at least 1 or a string like "
                                                 "\"a100:2\" (--gpus)"
                               : key[0] == 'm' ? "a memory size like \"4G\" or megabytes of at "
                                                 "least 1 (--mem)"
                                               : "a time limit like \"01:30:00\" or minutes "
                                                 "(--time)";

        if (is_int && i >= (key[0] == 't' ? 0 : 1) && i <= INT32_MAX)
            return NULL;
        if (!is_str)
            return type_problem(key, expected, v);
        return text_problem(key, json_object_get_string((json_object *)v));
    }
    if (strcmp(key, "extra") == 0) {
        size_t n;

        if (!json_object_is_type(v, json_type_array))
            return type_problem(key, "a list of sbatch options", v);
        n = json_object_array_length(v);
        for (size_t k = 0; k < n; k++) {
            json_object *e = json_object_array_get_idx(v, k);

            if (!json_object_is_type(e, json_type_string))
                return type_problem(key, "a list of strings", e);
        }
        return NULL;
    }
    /* partition, account, qos, constraint */
    if (!is_str)
        return type_problem(key, "a string", v);
    return text_problem(key, json_object_get_string((json_object *)v));
}

bool wf__ld_check_slurm(wf__ld *c, const wf__ynode *n, bool constants_only)
{
    const wf__ynode *k_mem = NULL, *k_memory = NULL;
    bool ok = true;

    if (!wf__ld_expect_map(c, n, "slurm"))
        return false;
    wf__ld_check_keys(c, n, wf_slurm_keys, "slurm");
    if (wf__ld_get(n, "mem", &k_mem) != NULL && wf__ld_get(n, "memory", &k_memory) != NULL) {
        const wf__ynode *later = k_mem->offset > k_memory->offset ? k_mem : k_memory;

        wf__loader_error(c->L, later->mark, WF_EINVAL,
                         "'slurm' has both 'mem' and 'memory', two spellings of --mem: keep one");
        ok = false;
    }
    for (size_t k = 0; k < n->n; k++) {
        const char *key = n->keys[k]->text;
        const wf__ynode *v = n->items[k];
        json_object *j;
        char *problem;

        if (!wf__ld_in_list(key, wf_slurm_keys))
            continue;
        if (v->has_tpl && constants_only) {
            wf__loader_error(c->L, v->mark, WF_EINVAL,
                             "'slurm.%s' holds a template, and the site configuration has no "
                             "workflow to evaluate it against: write the value",
                             key);
            ok = false;
            continue;
        }
        if (v->has_tpl && strcmp(key, "extra") == 0 && v->type == WF__Y_LIST) {
            /* Templates are checked once rendered; the constant entries now. */
            for (size_t e = 0; e < v->n; e++)
                if (!v->items[e]->has_tpl && v->items[e]->type != WF__Y_STRING) {
                    wf__ld_type_error(c, v->items[e], "slurm.extra", "a string");
                    ok = false;
                }
            continue;
        }
        if (v->has_tpl)
            continue; /* checked by the Slurm executor once rendered */
        j = wf__ynode_json(v);
        problem = wf_slurm_value_problem(key, j);
        json_object_put(j);
        if (problem != NULL) {
            wf__loader_error(c->L, v->mark, WF_EINVAL, "%s", problem);
            free(problem);
            ok = false;
        }
    }
    return ok;
}

int wf_site_config_load(const char *path, json_object **slurm, wf_errlist *errs)
{
    wf__loader L = { 0 };
    wf__ld c = { 0 };
    wf__ynode *root = NULL;
    wf_strbuf text = WF_STRBUF_INIT;
    size_t errs_before = errs->len;
    const wf__ynode *v;
    int rc;

    *slurm = NULL;
    rc = wf__read_file(path, "configuration file", &text, errs);
    if (rc != WF_OK)
        return WF_EIO;
    L.path = path;
    L.src = wf_strbuf_str(&text);
    L.src_len = text.len;
    L.errs = errs;
    c.L = &L;
    if (wf__yaml_load(&L, &root) && root != NULL &&
        wf__ld_expect_map(&c, root, "the configuration")) {
        wf__ld_check_keys(&c, root, CONFIG_KEYS, "the configuration");
        v = wf__ld_get(root, "slurm", NULL);
        if (v != NULL && v->type != WF__Y_NULL && wf__ld_check_slurm(&c, v, true))
            *slurm = wf__ynode_json(v);
    }
    rc = errs->len > errs_before ? WF_EINVAL : WF_OK;
    if (rc != WF_OK) {
        json_object_put(*slurm);
        *slurm = NULL;
        wf_errlist_sort(errs);
    }
    wf__loader_release(&L);
    wf_strbuf_release(&text);
    return rc;
}
