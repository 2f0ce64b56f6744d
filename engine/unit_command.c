/*
 * unit_command.c: a unit's command as it will be run: the argv (a direct exec when the
 * rendered `run` has no shell syntax, else the shell with every value quoted for its
 * context), a script too long for one argument moved to a temporary file, the kernel's
 * argument limits, and the environment (the run's, prepared once, plus the unit's own).
 * Any executor thread: reads only what is immutable while units run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "run_internal.h"
#include "unit_internal.h"

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

void wf__unit_fail(wf_completion *c, const char *what, const wf_error *err)
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
bool wf__unit_args_fit(char *const *argv, wf_completion *c)
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
bool wf__unit_spill_script(char **argv, char **path, wf_completion *c)
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
char **wf__unit_argv(wf_run *r, const wf_task *task, const wf_ctx *ctx, wf_completion *c,
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
                wf__unit_fail(c, "run", &err);
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
            wf__unit_fail(c, "run", &err);
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
            wf__unit_fail(c, "run", &err);
            wf_strbuf_release(&script);
            goto out;
        }
        if (task->shell != NULL) {
            if (wf_tpl_render(task->shell, ctx, &shell, &err) != WF_OK) {
                wf__unit_fail(c, "shell", &err);
                wf_strbuf_release(&script);
                wf_strbuf_release(&shell);
                goto out;
            }
            n = shell_argv(wf_strbuf_str(&shell), words, WF_ARRAY_LEN(words));
        } else {
            n = 0;
        }
        /* The default shell stops at the first command that fails (errexit), as GitHub
         * Actions' `bash -e` and go-task do; `shell:` runs exactly what it says. */
        if (n == 0) {
            words[0] = wf_xstrdup("/bin/sh");
            words[1] = wf_xstrdup("-e");
            words[2] = wf_xstrdup("-c");
            n = 3;
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
static const char *const engine_vars[] = { "WF_RUN_ID", "WF_TASK", "WF_INDEX", "WF_ITEM",
                                           "WF_RESULT" };

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

/* Whether list (NAME=VALUE entries, NULL-terminated, may be NULL) sets entry's name. */
static bool env_in_list(const char *const *list, const char *entry)
{
    size_t n = strcspn(entry, "=");

    for (size_t i = 0; list != NULL && list[i] != NULL; i++) {
        if (strncmp(list[i], entry, n) == 0 && list[i][n] == '=')
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

        size_t n_file = 0;

        while (ts->file_env != NULL && ts->file_env[n_file] != NULL)
            n_file++;
        if (task->n_env == 0 && n_file == 0)
            continue;
        /* The run's environment, then the task's env-file (both minus what the task's env
         * sets, which each unit renders). */
        ts->env_base = wf_xmalloc((r->n_env_base + n_file + 1) * sizeof(char *));
        for (size_t i = 0; i < r->n_env_base; i++) {
            if (!env_set_by_task(task, r->env_base[i]) &&
                !env_in_list((const char *const *)ts->file_env, r->env_base[i]))
                ts->env_base[ts->n_env_base++] = r->env_base[i];
        }
        for (size_t i = 0; i < n_file; i++) {
            if (!env_set_by_task(task, ts->file_env[i]) && !env_is_engine_var(ts->file_env[i]))
                ts->env_base[ts->n_env_base++] = ts->file_env[i];
        }
    }
}

void wf__unit_env_release(wf_run *r)
{
    for (size_t t = 0; r->tasks != NULL && t < r->wf->n_tasks; t++) {
        free(r->tasks[t].env_base);
        wf__strv_free(r->tasks[t].file_env);
    }
    free(r->env_base);
}

/*
 * A unit's environment: the task's share of the run's environment (pointers, see
 * wf__unit_env_prepare), then the task's env rendered for this unit, then the engine's
 * variables. One allocation, the pointer array followed by the unit's own strings, so free()
 * releases it; the borrowed strings live as long as the run. NULL (c failed) when a template
 * fails.
 */
char **wf__unit_envp(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
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

            wf__unit_fail(c, what, &err);
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
        wf_ref_info info;
        bool too_big;

        offs[n++] = sb.len;
        wf_strbuf_adds(&sb, "WF_INDEX=");
        wf_strbuf_add(&sb, num,
                      (size_t)snprintf(num, sizeof(num), "%lu", (unsigned long)job->unit) + 1);
        /* A result by reference is not loaded to find out that it is too large. */
        too_big = wf_ref_get_info(item, &info) && info.size > ARG_STRLEN_MAX;
        offs[n++] = sb.len;
        wf_strbuf_adds(&sb, "WF_ITEM=");
        if (!too_big)
            wf_json_write(&sb, item);
        wf_strbuf_addc(&sb, '\0');
        /* An item too large for one variable would make the exec fail: it is left out (the
         * command reads it through its templates instead). */
        if (too_big || sb.len - offs[n - 1] > ARG_STRLEN_MAX) {
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

void wf__strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}
