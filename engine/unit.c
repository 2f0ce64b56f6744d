/*
 * What a worker does with one unit: derive the item context, check the item's `when`, render
 * the command or the action input, run it, and turn stdout into the result.
 *
 * Everything read here is immutable while units run (the workflow, the task's context and
 * item list, the run's environment); everything written is the completion, which the worker
 * owns until it hands it back.
 */
#include <errno.h>
#include <glob.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_proc.h"

#include "run_internal.h"

/* Words that /bin/sh handles itself (builtins and keywords, or programs whose builtin
 * behaves differently from the binary): a simple command starting with one of them still
 * goes through the shell so that it means exactly what it would have meant there. */
static const char *const shell_words[] = {
    ".",       ":",        "[",    "alias",    "bg",     "break",  "case",  "cd",
    "command", "continue", "do",   "done",     "echo",   "elif",   "else",  "esac",
    "eval",    "exec",     "exit", "export",   "false",  "fc",     "fg",    "fi",
    "for",     "getopts",  "hash", "if",       "in",     "jobs",   "kill",  "local",
    "printf",  "pwd",      "read", "readonly", "return", "set",    "shift", "test",
    "then",    "times",    "trap", "true",     "type",   "ulimit", "umask", "unalias",
    "unset",   "until",    "wait", "while",    "{",      "}",      "!",     NULL,
};

static bool is_shell_word(const char *w)
{
    for (size_t i = 0; shell_words[i] != NULL; i++) {
        if (strcmp(w, shell_words[i]) == 0)
            return true;
    }
    return false;
}

static void fail(wf_completion *c, const char *what, const wf_error *err)
{
    c->status = WF_STATUS_FAILED;
    c->error = wf_xasprintf("%s: %s", what, err->message ? err->message : wf_strerror(err->code));
}

/* Splits a rendered `shell` setting into words; a one-word shell gets "-c". */
static size_t shell_argv(const char *shell, char **words, size_t max)
{
    size_t n = 0;
    char *copy = wf_xstrdup(shell), *save = NULL;

    for (char *w = strtok_r(copy, " \t", &save); w != NULL && n + 3 < max;
         w = strtok_r(NULL, " \t", &save))
        words[n++] = wf_xstrdup(w);
    free(copy);
    if (n == 1)
        words[n++] = wf_xstrdup("-c");
    return n;
}

/* Linux refuses to exec with an argument or an environment string longer than MAX_ARG_STRLEN
 * (32 pages: 128 KiB, its NUL included), with nothing better than E2BIG. */
#define ARG_STRLEN_MAX (128 * 1024)
/* A longer script than this, which values of any size can make, goes to the shell in a file. */
#define SCRIPT_ARG_MAX (96 * 1024)

/* Says which argument is over the kernel's limit, instead of E2BIG's "Argument list too long"
 * for the whole command. (build_envp checks the variables.) */
static bool args_fit(char *const *argv, wf_completion *c)
{
    for (size_t i = 0; argv[i] != NULL; i++) {
        size_t len = strlen(argv[i]);

        if (len + 1 > ARG_STRLEN_MAX) {
            c->status = WF_STATUS_FAILED;
            c->error = wf_xasprintf("argument %zu of the command is %zu bytes, and Linux passes "
                                    "at most %d bytes in one argument; pass large values in a "
                                    "file, or in a `run` string (whose script goes to the shell "
                                    "in a file when it is long)",
                                    i, len, ARG_STRLEN_MAX - 1);
            return false;
        }
    }
    return true;
}

/* Moves the script of a shell command (the last argument) into a private temporary file when
 * it is too long for an argument, and has the shell source it: `sh -c '. FILE'` runs the same
 * commands in the same shell. *path is the file to remove after the unit (NULL when none). */
static bool spill_script(char **argv, char **path, wf_completion *c)
{
    const char *tmpdir = getenv("TMPDIR");
    size_t n = 0, len, done = 0;
    wf_strbuf cmd = WF_STRBUF_INIT;
    char *file;
    int fd;

    *path = NULL;
    while (argv[n] != NULL)
        n++;
    len = strlen(argv[n - 1]);
    if (len <= SCRIPT_ARG_MAX)
        return true;
    file = wf_xasprintf("%s/wfengine-script.XXXXXX",
                        tmpdir != NULL && tmpdir[0] == '/' ? tmpdir : "/tmp");
    /* Children close every descriptor but their own at exec (wf_proc), so mkstemp's lack of
     * O_CLOEXEC leaks this one into no task. */
    fd = mkstemp(file);
    while (fd >= 0 && done < len) {
        ssize_t w = write(fd, argv[n - 1] + done, len - done);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    if (fd < 0 || done < len || close(fd) != 0) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("the script is %zu bytes, too long for a command line, and "
                                "writing it to %s failed: %s",
                                len, file, strerror(errno));
        if (fd >= 0)
            unlink(file);
        free(file);
        return false;
    }
    wf_strbuf_adds(&cmd, ". ");
    wf_shell_quote(&cmd, file, strlen(file));
    free(argv[n - 1]);
    argv[n - 1] = wf_strbuf_detach(&cmd, NULL);
    *path = file;
    return true;
}

/* Builds argv for a run task. Returns NULL (with c failed) on a template error. *via_shell is
 * set when the last argument is a script for the shell. */
static char **build_argv(wf_run *r, const wf_task *task, const wf_ctx *ctx, wf_completion *c,
                         bool *via_shell)
{
    wf_error err;
    char **argv = NULL;

    wf_error_init(&err);
    *via_shell = false;
    if (task->run_argv != NULL) {
        argv = wf_xcalloc(task->run_argc + 1, sizeof(char *));
        for (size_t i = 0; i < task->run_argc; i++) {
            wf_strbuf sb = WF_STRBUF_INIT;

            if (wf_tpl_render(task->run_argv[i], ctx, &sb, &err) != WF_OK) {
                wf_strbuf_release(&sb);
                fail(c, "run", &err);
                wf_tpl_argv_free(argv);
                argv = NULL;
                goto out;
            }
            argv[i] = wf_strbuf_detach(&sb, NULL);
        }
        goto out;
    }
    if (task->shell == NULL && wf_tpl_is_simple_command(task->run)) {
        if (wf_tpl_render_argv(task->run, ctx, &argv, &err) != WF_OK) {
            fail(c, "run", &err);
            argv = NULL;
            goto out;
        }
        /* Exec directly unless the shell would treat the first word itself. */
        if (argv[0] != NULL && !is_shell_word(argv[0]))
            goto out;
        wf_tpl_argv_free(argv);
        argv = NULL;
    }
    {
        wf_strbuf script = WF_STRBUF_INIT, shell = WF_STRBUF_INIT;
        char *words[16];
        size_t n;

        if (wf_tpl_render(task->run, ctx, &script, &err) != WF_OK) {
            fail(c, "run", &err);
            wf_strbuf_release(&script);
            goto out;
        }
        if (task->shell != NULL) {
            if (wf_tpl_render(task->shell, ctx, &shell, &err) != WF_OK) {
                fail(c, "shell", &err);
                wf_strbuf_release(&script);
                wf_strbuf_release(&shell);
                goto out;
            }
            n = shell_argv(wf_strbuf_str(&shell), words, WF_ARRAY_LEN(words));
        } else {
            words[0] = wf_xstrdup("/bin/sh");
            words[1] = wf_xstrdup("-c");
            n = 2;
        }
        if (n == 0) {
            words[0] = wf_xstrdup("/bin/sh");
            words[1] = wf_xstrdup("-c");
            n = 2;
        }
        argv = wf_xcalloc(n + 2, sizeof(char *));
        memcpy(argv, words, n * sizeof(char *));
        argv[n] = wf_strbuf_detach(&script, NULL);
        wf_strbuf_release(&shell);
        *via_shell = true;
    }
out:
    (void)r;
    wf_error_release(&err);
    return argv;
}

/* The variables the engine sets for every unit: an inherited one of these names is dropped
 * (a unit without an item has no WF_INDEX/WF_ITEM, even if wfengine itself runs in one). */
static const char *const engine_vars[] = { "WF_RUN_ID", "WF_TASK", "WF_INDEX", "WF_ITEM" };

static bool env_names_equal(const char *entry, const char *name)
{
    size_t n = strlen(name);

    return strncmp(entry, name, n) == 0 && entry[n] == '=';
}

static bool env_is_engine_var(const char *name_or_entry)
{
    for (size_t i = 0; i < WF_ARRAY_LEN(engine_vars); i++) {
        size_t n = strlen(engine_vars[i]);

        if (strncmp(name_or_entry, engine_vars[i], n) == 0 &&
            (name_or_entry[n] == '=' || name_or_entry[n] == '\0'))
            return true;
    }
    return false;
}

static bool env_set_by_task(const wf_task *task, const char *entry)
{
    for (size_t i = 0; i < task->n_env; i++) {
        if (env_names_equal(entry, task->env[i].name))
            return true;
    }
    return false;
}

void wf__unit_env_prepare(wf_run *r)
{
    r->env_base = wf_xmalloc((r->n_envp + 1) * sizeof(char *));
    r->n_env_base = 0;
    for (size_t i = 0; i < r->n_envp; i++) {
        if (!env_is_engine_var(r->envp[i]))
            r->env_base[r->n_env_base++] = r->envp[i];
    }
    for (size_t t = 0; t < r->wf->n_tasks; t++) {
        const wf_task *task = &r->wf->tasks[t];
        wf_task_state *ts = &r->tasks[t];

        if (task->n_env == 0)
            continue;
        ts->env_base = wf_xmalloc((r->n_env_base + 1) * sizeof(char *));
        for (size_t i = 0; i < r->n_env_base; i++) {
            if (!env_set_by_task(task, r->env_base[i]))
                ts->env_base[ts->n_env_base++] = r->env_base[i];
        }
    }
}

void wf__unit_env_release(wf_run *r)
{
    for (size_t t = 0; r->tasks != NULL && t < r->wf->n_tasks; t++)
        free(r->tasks[t].env_base);
    free(r->env_base);
}

/*
 * A unit's environment: the task's share of the run's environment (pointers, see
 * wf__unit_env_prepare), then the task's env rendered for this unit, then the engine's
 * variables. One allocation, the pointer array followed by the unit's own strings, so free()
 * releases it; the borrowed strings live as long as the run. NULL (c failed) when a template
 * fails.
 */
static char **build_envp(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                         wf_completion *c)
{
    const wf_task_state *ts = &r->tasks[job->task];
    const char *const *base = ts->env_base != NULL ? ts->env_base : r->env_base;
    size_t n_base = ts->env_base != NULL ? ts->n_env_base : r->n_env_base;
    size_t *offs = wf_xmalloc((task->n_env + WF_ARRAY_LEN(engine_vars)) * sizeof(size_t));
    const json_object *item = NULL;
    int64_t index = -1;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_error err;
    size_t n = 0;
    char **envp = NULL, *own;

    wf_error_init(&err);
    for (size_t i = 0; i < task->n_env; i++) {
        if (env_is_engine_var(task->env[i].name))
            continue; /* the engine's value wins */
        offs[n++] = sb.len;
        wf_strbuf_adds(&sb, task->env[i].name);
        wf_strbuf_addc(&sb, '=');
        if (wf_tpl_render(task->env[i].tpl, ctx, &sb, &err) != WF_OK) {
            char *what = wf_xasprintf("env %s", task->env[i].name);

            fail(c, what, &err);
            free(what);
            wf_error_release(&err);
            goto out;
        }
        if (sb.len - offs[n - 1] + 1 > ARG_STRLEN_MAX) {
            c->status = WF_STATUS_FAILED;
            c->error = wf_xasprintf("env %s: the value is %zu bytes, and Linux passes at most %d "
                                    "bytes in one variable; pass large values in a file",
                                    task->env[i].name,
                                    sb.len - offs[n - 1] - strlen(task->env[i].name) - 1,
                                    ARG_STRLEN_MAX - 1);
            goto out;
        }
        wf_strbuf_addc(&sb, '\0');
    }
    offs[n++] = sb.len;
    wf_strbuf_adds(&sb, "WF_RUN_ID=");
    wf_strbuf_add(&sb, r->run_id, strlen(r->run_id) + 1);
    offs[n++] = sb.len;
    wf_strbuf_adds(&sb, "WF_TASK=");
    wf_strbuf_add(&sb, task->name, strlen(task->name) + 1);
    if (wf_ctx_item(ctx, &item, &index)) {
        char num[24];

        offs[n++] = sb.len;
        wf_strbuf_adds(&sb, "WF_INDEX=");
        wf_strbuf_add(&sb, num,
                      (size_t)snprintf(num, sizeof(num), "%lu", (unsigned long)job->unit) + 1);
        offs[n++] = sb.len;
        wf_strbuf_adds(&sb, "WF_ITEM=");
        wf_json_write(&sb, item);
        wf_strbuf_addc(&sb, '\0');
        /* An item too large for one variable would make the exec fail: it is left out (the
         * command reads it through its templates instead). */
        if (sb.len - offs[n - 1] > ARG_STRLEN_MAX) {
            sb.len = offs[--n];
            sb.buf[sb.len] = '\0';
        }
    }
    envp = wf_xmalloc((n_base + n + 1) * sizeof(char *) + sb.len);
    own = (char *)(envp + n_base + n + 1);
    memcpy(own, sb.buf, sb.len);
    /* The array is char ** for execve's sake; the borrowed strings are never written. */
    memcpy((void *)envp, base, n_base * sizeof(char *));
    for (size_t i = 0; i < n; i++)
        envp[n_base + i] = own + offs[i];
    envp[n_base + n] = NULL;
out:
    wf_strbuf_release(&sb);
    free(offs);
    return envp;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}

int wf__output_convert(wf_output_mode mode, const char *out, json_object **value, char **error)
{
    size_t len = out ? strlen(out) : 0;

    *value = NULL;
    if (mode == WF_OUTPUT_TEXT) {
        if (len > 0 && out[len - 1] == '\n')
            len--;
        if (len > 0 && out[len - 1] == '\r')
            len--;
        *value = wf_json_check(json_object_new_string_len(out ? out : "", (int)len));
        return WF_OK;
    }
    if (mode == WF_OUTPUT_LINES) {
        const char *p = out ? out : "", *end = p + len;
        size_t count = 0;
        json_object *list;

        /* Each line becomes a json-c string of about 70 bytes plus its text, so the lines are
         * counted before any is made: a list is capped like every list (WF_MAX_LIST_LEN),
         * which bounds the cost at the text plus about 70 MB, where 64 MiB of "x\n" lines
         * once took 3 GB. */
        for (const char *q = p; q < end; count++) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));

            q = nl ? nl + 1 : end;
        }
        if (count > WF_MAX_LIST_LEN) {
            *error = wf_xasprintf("output: lines: stdout has %zu lines, more than the %d a list "
                                  "may have; use output: text, or print fewer lines",
                                  count, WF_MAX_LIST_LEN);
            return WF_ERANGE;
        }
        list = wf_json_check(json_object_new_array_ext(count > 0 ? (int)count : 1));
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *stop = nl ? nl : end;
            size_t n = (size_t)(stop - p);

            if (n > 0 && p[n - 1] == '\r')
                n--;
            wf_json_push(list, wf_json_check(json_object_new_string_len(p, (int)n)));
            p = nl ? nl + 1 : end;
        }
        *value = list;
        return WF_OK;
    }
    {
        struct json_tokener *tok = json_tokener_new_ex(JSON_TOKENER_DEFAULT_DEPTH);
        json_object *v = NULL;
        enum json_tokener_error jerr;
        size_t off = 0, i;

        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        v = json_tokener_parse_ex(tok, out ? out : "", (int)len);
        jerr = json_tokener_get_error(tok);
        if (jerr == json_tokener_continue) {
            /* The text ended inside a value: try to finish it (a bare number like "3"). */
            json_object_put(v);
            v = json_tokener_parse_ex(tok, "", 1);
            jerr = json_tokener_get_error(tok);
        }
        off = tok->char_offset;
        json_tokener_free(tok);
        for (i = off; jerr == json_tokener_success && i < len; i++) {
            if (out[i] != ' ' && out[i] != '\n' && out[i] != '\t' && out[i] != '\r' &&
                out[i] != '\0') {
                jerr = json_tokener_error_parse_unexpected;
                break;
            }
        }
        if (jerr != json_tokener_success || len == 0) {
            wf_strbuf sb = WF_STRBUF_INIT;
            size_t show = len > 80 ? 80 : len;

            json_object_put(v);
            wf_strbuf_addf(&sb, "output: json: stdout is not valid JSON (%s); it starts with: ",
                           len == 0 ? "it is empty" : json_tokener_error_desc(jerr));
            wf_strbuf_addc(&sb, '\'');
            for (size_t k = 0; k < show; k++)
                wf_strbuf_addc(&sb, out[k] == '\n' ? ' ' : out[k]);
            wf_strbuf_adds(&sb, len > show ? "...'" : "'");
            *error = wf_strbuf_detach(&sb, NULL);
            return WF_EINVAL;
        }
        *value = v;
        return WF_OK;
    }
}

/* ---- the store: blobs and cache keys (worker side) ---------------------------------------- */

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
static void store_unit_data(wf_run *r, const json_object *item, bool has_item, wf_completion *c)
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
    if (c->status == WF_STATUS_SUCCEEDED && c->result_json == NULL && c->result_hash[0] == '\0') {
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
static bool cache_key(wf_run *r, const wf_task *task, const wf_ctx *ctx, char *const *argv,
                      const json_object *input, const char *workdir, wf_completion *c,
                      char key[WF_SHA256_HEX_LEN + 1])
{
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
            fail(c, "env", &err);
            ok = false;
            goto out;
        }
        hash_str(h, wf_strbuf_str(&sb));
    }
    if (task->cache_key != NULL) {
        wf_strbuf_reset(&sb);
        if (wf_tpl_render(task->cache_key, ctx, &sb, &err) != WF_OK) {
            fail(c, "cache.key", &err);
            ok = false;
            goto out;
        }
        hash_str(h, "key");
        hash_str(h, wf_strbuf_str(&sb));
    }
    for (size_t i = 0; i < task->n_cache_sources; i++) {
        glob_t g;
        char *pattern = workdir != NULL && task->cache_sources[i][0] != '/'
                            ? wf_xasprintf("%s/%s", workdir, task->cache_sources[i])
                            : wf_xstrdup(task->cache_sources[i]);

        hash_str(h, "sources");
        hash_str(h, task->cache_sources[i]);
        if (glob(pattern, 0, NULL, &g) == 0) {
            for (size_t k = 0; k < g.gl_pathc; k++) {
                char digest[WF_SHA256_HEX_LEN + 1];

                hash_str(h, g.gl_pathv[k]);
                if (wf_sha256_file_hex(g.gl_pathv[k], digest) == WF_OK)
                    hash_str(h, digest);
                else
                    hash_str(h, "unreadable");
            }
            globfree(&g);
        }
        free(pattern);
    }
out:
    wf_sha256_final_hex(h, key);
    wf_strbuf_release(&sb);
    wf_error_release(&err);
    return ok;
}

/* A cache hit fills c as a success. */
static bool cache_lookup(wf_run *r, const char *key, wf_completion *c)
{
    json_object *value = NULL;
    wf_error err;
    int rc;

    if (r->opts.no_cache)
        return false;
    wf_error_init(&err);
    rc = wf_store_cache_get(r->store, key, &value, c->stdout_hash, c->stderr_hash, &err);
    wf_error_release(&err);
    if (rc != WF_OK)
        return false;
    c->status = WF_STATUS_SUCCEEDED;
    c->value = value;
    c->cached = true;
    c->exit_code = 0;
    c->end_ms = wf_now_ms();
    return true;
}

static void cache_record(wf_run *r, const char *key, const wf_completion *c)
{
    if (c->status != WF_STATUS_SUCCEEDED || c->cached)
        return;
    wf_store_record_cache(r->store, key, c->result_json, c->result_hash, c->stdout_hash,
                          c->stderr_hash);
}

static void run_process(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                        int cancel_fd, wf_completion *c)
{
    bool via_shell = false;
    char **argv = build_argv(r, task, ctx, c, &via_shell);
    char **envp = NULL, *script_file = NULL;
    wf_strbuf workdir = WF_STRBUF_INIT;
    wf_proc_spec spec = WF_PROC_SPEC_INIT;
    wf_proc_result res;
    wf_error err;
    char key[WF_SHA256_HEX_LEN + 1];
    bool use_cache = task->cache && r->store != NULL;
    int rc;

    wf_error_init(&err);
    memset(&res, 0, sizeof(res));
    if (argv == NULL)
        goto out;
    envp = build_envp(r, task, ctx, job, c);
    if (envp == NULL)
        goto out;
    if (task->workdir != NULL && wf_tpl_render(task->workdir, ctx, &workdir, &err) != WF_OK) {
        fail(c, "workdir", &err);
        goto out;
    }
    if (use_cache) {
        if (!cache_key(r, task, ctx, argv, NULL, task->workdir ? wf_strbuf_str(&workdir) : NULL, c,
                       key))
            goto out;
        if (cache_lookup(r, key, c))
            goto out;
    }
    if ((via_shell && !spill_script(argv, &script_file, c)) || !args_fit(argv, c))
        goto out;
    spec.argv = (const char *const *)argv;
    spec.envp = (const char *const *)envp;
    spec.workdir = task->workdir ? wf_strbuf_str(&workdir) : NULL;
    spec.timeout_ms = task->timeout_ms;
    spec.kill_grace_ms = r->engine->opts.kill_grace_ms;
    spec.stdout_cap = r->engine->opts.stdout_cap;
    spec.stderr_cap = r->engine->opts.stderr_cap;
    spec.cancel_fd = cancel_fd;
    rc = wf_proc_run(&spec, &res);
    c->start_ms = res.start_ms ? res.start_ms : c->start_ms;
    c->end_ms = res.end_ms ? res.end_ms : wf_now_ms();
    c->exit_code = res.exit_code;
    c->out = res.out.data;
    c->err = res.err.data;
    res.out.data = res.err.data = NULL;
    if (rc == WF_ECANCELLED) {
        c->status = WF_STATUS_CANCELLED;
        c->error = wf_xstrdup("cancelled");
    } else if (rc == WF_ETIMEOUT) {
        c->status = WF_STATUS_FAILED;
        c->timed_out = true;
        c->error = wf_xasprintf("timed out after %lldms (exit code %d)",
                                (long long)task->timeout_ms, res.exit_code);
    } else if (rc != WF_OK) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xstrdup(res.error ? res.error : wf_strerror(rc));
    } else if (res.exit_code != 0) {
        c->status = WF_STATUS_FAILED;
        if (res.term_signal > 0)
            c->error =
                wf_xasprintf("killed by signal %d (exit code %d)", res.term_signal, res.exit_code);
        else
            c->error = wf_xasprintf("exit code %d", res.exit_code);
    } else {
        char *error = NULL;

        if (res.out.truncated) {
            c->status = task->output == WF_OUTPUT_TEXT ? WF_STATUS_SUCCEEDED : WF_STATUS_FAILED;
            if (c->status == WF_STATUS_FAILED) {
                c->error = wf_xasprintf("stdout is larger than the %zu bytes kept, so it cannot "
                                        "be parsed as output: %s",
                                        spec.stdout_cap,
                                        task->output == WF_OUTPUT_JSON ? "json" : "lines");
                goto out;
            }
        }
        if (wf__output_convert(task->output, c->out, &c->value, &error) != WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
        } else {
            c->status = WF_STATUS_SUCCEEDED;
        }
    }
out:
    if (use_cache && c->status == WF_STATUS_SUCCEEDED && !c->cached) {
        store_unit_data(r, NULL, false, c);
        cache_record(r, key, c);
    }
    wf_proc_result_release(&res);
    wf_strbuf_release(&workdir);
    wf_error_release(&err);
    free_strv(argv);
    free(envp);
    if (script_file != NULL)
        unlink(script_file);
    free(script_file);
}

static void run_action(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                       int cancel_fd, wf_completion *c)
{
    const wf_action_entry *a = wf__engine_find_action(r->engine, task->action);
    json_object *input = NULL;
    wf_action_call call = { 0 };
    wf_action_reply reply = { 0 };
    wf_error err;
    char key[WF_SHA256_HEX_LEN + 1];
    bool use_cache = task->cache && r->store != NULL;
    int rc;

    wf_error_init(&err);
    if (task->input != NULL && wf_vnode_eval(task->input, ctx, &input, &err) != WF_OK) {
        fail(c, "input", &err);
        wf_error_release(&err);
        return;
    }
    if (use_cache) {
        if (!cache_key(r, task, ctx, NULL, input, NULL, c, key) || cache_lookup(r, key, c)) {
            json_object_put(input);
            return;
        }
    }
    call.action = task->action;
    call.task = task->name;
    call.index = task->items_kind != WF_ITEMS_NONE ? (int64_t)job->unit : -1;
    call.attempt = (int)job->attempt;
    call.run_id = r->run_id;
    call.input = input;
    call.deadline_ms = task->timeout_ms > 0 ? c->start_ms + task->timeout_ms : 0;
    call.cancel_fd = cancel_fd;
    rc = a->fn(&call, &reply, a->user);
    c->end_ms = wf_now_ms();
    c->log = reply.log;
    if (reply.log != NULL)
        c->out = wf_xstrdup(reply.log);
    if (rc == WF_OK) {
        c->status = WF_STATUS_SUCCEEDED;
        c->value = reply.result;
        free(reply.error);
    } else {
        json_object_put(reply.result);
        c->status = reply.cancelled ? WF_STATUS_CANCELLED : WF_STATUS_FAILED;
        c->timed_out = reply.timed_out;
        c->error = reply.error ? reply.error : wf_xstrdup(wf_strerror(rc));
    }
    if (use_cache && c->status == WF_STATUS_SUCCEEDED) {
        store_unit_data(r, NULL, false, c);
        cache_record(r, key, c);
    }
    json_object_put(input);
}

void wf__unit_execute(wf_run *r, const wf_job *job, int cancel_fd, bool cancelled, wf_completion *c)
{
    const wf_task *task = &r->wf->tasks[job->task];
    const wf_task_state *ts = &r->tasks[job->task];
    wf_ctx *ctx;
    wf_error err;

    c->start_ms = wf_now_ms();
    c->exit_code = -1;
    wf_error_init(&err);
    if (ts->items != NULL)
        ctx = wf_ctx_with_item(ts->ctx, json_object_array_get_idx(ts->items, job->unit),
                               (int64_t)job->unit);
    else
        ctx = wf_ctx_ref(ts->ctx);
    /* A job queued before a stop (the run's, or its task's fail-fast) never starts. */
    if (cancelled) {
        c->status = WF_STATUS_CANCELLED;
        c->error = wf_xstrdup("cancelled");
        goto out;
    }
    if (ts->items != NULL && task->when != NULL) {
        bool yes = false;

        if (wf_tpl_eval_bool(task->when, ctx, &yes, &err) != WF_OK) {
            fail(c, "when", &err);
            goto out;
        }
        if (!yes) {
            c->status = WF_STATUS_SKIPPED;
            goto out;
        }
    }
    if (task->action != NULL)
        run_action(r, task, ctx, job, cancel_fd, c);
    else
        run_process(r, task, ctx, job, cancel_fd, c);
out:
    if (c->end_ms == 0)
        c->end_ms = wf_now_ms();
    if (r->store != NULL) {
        const json_object *item = NULL;
        int64_t index;
        bool has_item = wf_ctx_item(ctx, &item, &index);

        store_unit_data(r, item, has_item, c);
    }
    wf_error_release(&err);
    wf_ctx_unref(ctx);
}

/* ---- units run elsewhere (a cluster)
 * ----------------------------------------------------------------------- */

/* The item context of a job (a new reference). */
static wf_ctx *job_ctx(const wf_run *r, const wf_job *job)
{
    const wf_task_state *ts = &r->tasks[job->task];

    if (ts->items != NULL)
        return wf_ctx_with_item(ts->ctx, json_object_array_get_idx(ts->items, job->unit),
                                (int64_t)job->unit);
    return wf_ctx_ref(ts->ctx);
}

/* argv as one /bin/sh script: every word quoted. */
static char *argv_script(char *const *argv)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t i = 0; argv[i] != NULL; i++) {
        if (i > 0)
            wf_strbuf_addc(&sb, ' ');
        wf_shell_quote(&sb, argv[i], strlen(argv[i]));
    }
    return wf_strbuf_detach(&sb, NULL);
}

bool wf__unit_render_script(wf_run *r, const wf_job *job, char **script, char ***envp,
                            char **workdir, wf_completion *c)
{
    const wf_task *task = &r->wf->tasks[job->task];
    wf_ctx *ctx = job_ctx(r, job);
    char **argv = NULL;
    wf_error err;
    bool ok = false, via_shell = false;

    *script = NULL;
    *envp = NULL;
    *workdir = NULL;
    c->start_ms = c->end_ms = wf_now_ms();
    c->exit_code = -1;
    wf_error_init(&err);
    if (r->tasks[job->task].items != NULL && task->when != NULL) {
        bool yes = false;

        if (wf_tpl_eval_bool(task->when, ctx, &yes, &err) != WF_OK) {
            fail(c, "when", &err);
            goto out;
        }
        if (!yes) {
            c->status = WF_STATUS_SKIPPED;
            goto out;
        }
    }
    argv = build_argv(r, task, ctx, c, &via_shell);
    if (argv == NULL)
        goto out;
    /* The element runs with /bin/sh: a `sh -c SCRIPT` argv is sent as SCRIPT itself. */
    if (task->run != NULL && task->shell == NULL && argv[0] != NULL && argv[1] != NULL &&
        argv[2] != NULL && argv[3] == NULL && strcmp(argv[0], "/bin/sh") == 0 &&
        strcmp(argv[1], "-c") == 0)
        *script = wf_xstrdup(argv[2]);
    else
        *script = argv_script(argv);
    *envp = build_envp(r, task, ctx, job, c);
    if (*envp == NULL)
        goto out;
    if (task->workdir != NULL) {
        wf_strbuf sb = WF_STRBUF_INIT;

        if (wf_tpl_render(task->workdir, ctx, &sb, &err) != WF_OK) {
            wf_strbuf_release(&sb);
            fail(c, "workdir", &err);
            goto out;
        }
        *workdir = wf_strbuf_detach(&sb, NULL);
    }
    ok = true;
out:
    if (!ok) {
        free(*script);
        free(*envp);
        free(*workdir);
        *script = *workdir = NULL;
        *envp = NULL;
        if (r->store != NULL) {
            const json_object *item = NULL;
            int64_t index;
            bool has_item = wf_ctx_item(ctx, &item, &index);

            store_unit_data(r, item, has_item, c);
        }
    }
    free_strv(argv);
    wf_error_release(&err);
    wf_ctx_unref(ctx);
    return ok;
}

void wf__unit_finish_remote(wf_run *r, wf_completion *c, bool out_truncated, const char *where)
{
    const wf_task *task = &r->wf->tasks[c->job.task];
    wf_ctx *ctx = job_ctx(r, &c->job);
    const json_object *item = NULL;
    int64_t index;
    bool has_item = wf_ctx_item(ctx, &item, &index);

    if (c->status == WF_STATUS_SUCCEEDED && out_truncated && task->output != WF_OUTPUT_TEXT) {
        c->status = WF_STATUS_FAILED;
        c->error = wf_xasprintf("%s: stdout is larger than what is kept, so it cannot be "
                                "parsed as output: %s",
                                where, task->output == WF_OUTPUT_JSON ? "json" : "lines");
    } else if (c->status == WF_STATUS_SUCCEEDED) {
        char *error = NULL;

        if (wf__output_convert(task->output, c->out, &c->value, &error) != WF_OK) {
            c->status = WF_STATUS_FAILED;
            c->error = error;
        }
    }
    if (r->store != NULL)
        store_unit_data(r, item, has_item, c);
    wf_ctx_unref(ctx);
}
