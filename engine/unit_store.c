/*
 * unit_store.c: a unit's data in the store, written on the executor's thread before the
 * completion is handed back: stdout, stderr and large results as blobs (masked), the item's
 * hash, and the cache (the key of what a unit depends on, lookup, and record).
 */
#include <stdlib.h>
#include <string.h>

#include "file_glob.h"
#include "run_internal.h"
#include "unit_internal.h"

/* Writes text (masked) as a blob; hash stays "" for empty text. */
static void put_text_blob(wf_run *r, const char *text, size_t len, char *hash)
{
    char *masked;
    wf_error err;

    hash[0] = '\0';
    if (text == NULL || len == 0)
        return;
    masked = wf__run_mask(r, text);
    wf_error_init(&err);
    if (masked != NULL)
        wf_store_put_blob(r->store, masked, strlen(masked), hash, &err);
    else
        wf_store_put_blob(r->store, text, len, hash, &err);
    free(masked);
    wf_error_release(&err); /* the store is now failed; the scheduler stops the run */
}

/* Everything the unit's record points at is written before the record is queued: the
 * output blobs, and the result (inline when small, a blob when large). */
void wf__unit_store_data(wf_run *r, const json_object *item, bool has_item, wf_completion *c)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    if (r->store == NULL)
        return;
    if (has_item) {
        wf_json_write(&sb, item);
        wf_sha256_hex(sb.buf, sb.len, c->item_hash);
        wf_strbuf_reset(&sb);
    }
    if (c->stdout_hash[0] == '\0')
        put_text_blob(r, c->out, c->out ? strlen(c->out) : 0, c->stdout_hash);
    if (c->stderr_hash[0] == '\0')
        put_text_blob(r, c->err, c->err ? strlen(c->err) : 0, c->stderr_hash);
    /* A large result that is its stdout converted: the stdout blob is the one copy. (Its
     * length decides: a result from more than WF_STORE_INLINE_MAX bytes of stdout would not be
     * inline either, and nothing is serialized, masked and hashed a second time.) */
    if (c->status == WF_STATUS_SUCCEEDED && c->result_is_stdout && c->stdout_hash[0] != '\0' &&
        c->result_json == NULL && c->result_hash[0] == '\0' && c->result_from == NULL &&
        (c->out_spilled > 0 || (c->out != NULL && strlen(c->out) > WF_STORE_INLINE_MAX)))
        c->result_from = wf_output_mode_name(r->wf->tasks[c->job.task].output);
    if (c->status == WF_STATUS_SUCCEEDED && c->result_json == NULL && c->result_hash[0] == '\0' &&
        c->result_from == NULL) {
        char *masked;

        wf_json_write(&sb, c->value);
        masked = wf__run_mask(r, wf_strbuf_str(&sb));
        if (masked != NULL) {
            wf_strbuf_reset(&sb);
            wf_strbuf_adds(&sb, masked);
            free(masked);
        }
        if (sb.len <= WF_STORE_INLINE_MAX) {
            c->result_json = wf_strbuf_detach(&sb, NULL);
        } else {
            wf_error err;

            wf_error_init(&err);
            wf_store_put_blob(r->store, sb.buf, sb.len, c->result_hash, &err);
            wf_error_release(&err);
        }
    }
    wf_strbuf_release(&sb);
}

static void hash_str(wf_sha256 *h, const char *s)
{
    /* The NUL separates fields, so ("ab", "c") and ("a", "bc") hash differently. */
    wf_sha256_update(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/* The cache key of a unit: what it runs (argv, or the action and its rendered input), the
 * environment the workflow and the task set, the output mode, the rendered cache.key, and the
 * content of the declared source files. Returns false (with c failed) on a template error. */
bool wf__unit_cache_key(wf_run *r, const wf_task *task, const wf_ctx *ctx, char *const *argv,
                        const json_object *input, const char *workdir, wf_completion *c,
                        char key[WF_SHA256_HEX_LEN + 1])
{
    const wf_task_extra *x = wf_task_extra_of(task);
    wf_sha256 *h = wf_sha256_new();
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;
    bool ok = true;

    wf_error_init(&err);
    hash_str(h, "wfengine-cache-v1");
    hash_str(h, WF_VERSION);
    hash_str(h, task->action ? task->action : "run");
    for (size_t i = 0; argv != NULL && argv[i] != NULL; i++)
        hash_str(h, argv[i]);
    if (task->action != NULL) {
        wf_json_write(&sb, input);
        hash_str(h, wf_strbuf_str(&sb));
    }
    hash_str(h, task->output == WF_OUTPUT_JSON    ? "json"
                : task->output == WF_OUTPUT_LINES ? "lines"
                                                  : "text");
    for (size_t i = 0; i < r->wf->n_env; i++) {
        const char *name = r->wf->env[i].name;
        size_t nl = strlen(name);

        for (size_t k = 0; k < r->n_envp; k++) {
            if (strncmp(r->envp[k], name, nl) == 0 && r->envp[k][nl] == '=')
                hash_str(h, r->envp[k]);
        }
    }
    for (size_t i = 0; i < task->n_env; i++) {
        wf_strbuf_reset(&sb);
        wf_strbuf_adds(&sb, task->env[i].name);
        wf_strbuf_addc(&sb, '=');
        if (wf_tpl_render(task->env[i].tpl, ctx, &sb, &err) != WF_OK) {
            wf__unit_fail(c, "env", &err);
            ok = false;
            goto out;
        }
        hash_str(h, wf_strbuf_str(&sb));
    }
    if (x->cache_key != NULL) {
        wf_strbuf_reset(&sb);
        if (wf_tpl_render(x->cache_key, ctx, &sb, &err) != WF_OK) {
            wf__unit_fail(c, "cache.key", &err);
            ok = false;
            goto out;
        }
        hash_str(h, "key");
        hash_str(h, wf_strbuf_str(&sb));
    }
    for (size_t i = 0; i < x->n_cache_sources; i++) {
        char **paths;
        size_t n;

        hash_str(h, "sources");
        hash_str(h, x->cache_sources[i]);
        wf_file_glob(workdir, x->cache_sources[i], &paths, &n);
        if (n == 0)
            wf__unit_warn(c, "cache.sources '%s' matched no file", x->cache_sources[i]);
        for (size_t k = 0; k < n; k++) {
            char digest[WF_SHA256_HEX_LEN + 1];
            char *path = workdir != NULL && paths[k][0] != '/'
                             ? wf_xasprintf("%s/%s", workdir, paths[k])
                             : wf_xstrdup(paths[k]);

            hash_str(h, path);
            if (wf_sha256_file_hex(path, digest) == WF_OK)
                hash_str(h, digest);
            else
                hash_str(h, "unreadable");
            free(path);
        }
        wf_file_glob_free(paths);
    }
    /* The files an entry restores are part of what it is. */
    for (size_t i = 0; i < x->n_cache_generates; i++) {
        hash_str(h, "generates");
        hash_str(h, x->cache_generates[i]);
    }
out:
    wf_sha256_final_hex(h, key);
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    return ok;
}

/* A cache hit fills c as a success once the entry's files are restored. */
bool wf__unit_cache_lookup(wf_run *r, const wf_task *task, const char *key, const char *workdir,
                           wf_completion *c)
{
    const wf_task_extra *x = wf_task_extra_of(task);
    json_object *value = NULL;
    char *files = NULL;
    wf_store_result_ref ref;
    wf_error err;
    int rc;

    if (r->opts.no_cache)
        return false;
    wf_error_init(&err);
    rc = wf_store_cache_get(r->store, key, &value, c->stdout_hash, c->stderr_hash,
                            x->n_cache_generates > 0 ? &files : NULL, &ref, &err);
    wf_error_release(&err);
    if (rc != WF_OK)
        return false;
    if (ref.unread) {
        /* A result in a blob is a reference to it, like any large result, and the unit's
         * record points at the same blob. */
        wf_output_mode mode = WF_OUTPUT_JSON;
        char *label = task->items_kind != WF_ITEMS_NONE
                          ? wf_xasprintf("task '%s' item %u (cached)", task->name, c->job.unit)
                          : wf_xasprintf("task '%s' (cached)", task->name);

        wf_output_mode_parse(ref.mode, &mode);
        value = wf__stored_ref(r, ref.hash, mode, ref.size, ref.lines, label);
        free(label);
        if (ref.converted)
            c->result_from = wf_output_mode_name(mode);
        if (!ref.converted || strcmp(ref.hash, c->stdout_hash) != 0)
            snprintf(c->result_hash, sizeof(c->result_hash), "%s", ref.hash);
    }
    /* An entry without its files (recorded before generates was added) cannot restore them;
     * the key covers generates, so this only happens with a damaged store. */
    if (x->n_cache_generates > 0 &&
        (files == NULL || !wf__cache_files_restore(r, workdir, files, c))) {
        if (files == NULL)
            wf__unit_warn(c, "cache entry not used: it has no list of generated files");
        free(files);
        json_object_put(value);
        c->stdout_hash[0] = c->stderr_hash[0] = '\0';
        return false;
    }
    free(files);
    c->status = WF_STATUS_SUCCEEDED;
    c->value = value;
    c->cached = true;
    c->exit_code = 0;
    c->end_ms = wf_now_ms();
    return true;
}

void wf__unit_cache_record(wf_run *r, const wf_task *task, const char *key, const char *workdir,
                           wf_completion *c)
{
    char *files = NULL;
    uint64_t lines;

    if (c->status != WF_STATUS_SUCCEEDED || c->cached)
        return;
    if (wf_task_extra_of(task)->n_cache_generates > 0) {
        files = wf__cache_files_collect(r, task, workdir, c);
        if (files == NULL)
            return;
    }
    if (!wf__result_counted(c) || !wf__result_lines(c->value, &lines))
        lines = UINT64_MAX;
    wf_store_record_cache(r->store, key, c->result_json, c->result_hash, c->result_from,
                          c->stdout_hash, c->stderr_hash, files,
                          lines == UINT64_MAX ? -1 : (int64_t)lines);
    free(files);
}
