/*
 * What the command files of the CLI share (cli.h): error printing, loading a workflow, help
 * flags, the UTF-8 check of the JUnit and HTML writers, opening and closing the store, and
 * reading fields of the store's JSON documents.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "wf_store.h"

#include "cli.h"

void wf_cli_errorf(const char *fmt, ...)
{
    va_list ap;

    fputs("wfengine: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void wf_cli_print_errors(const wf_errlist *errs)
{
    for (size_t i = 0; i < errs->len; i++)
        wf_error_print(stderr, &errs->items[i]);
}

/* Bytes of model for each byte of a workflow file, with some room (heap.c). */
#define WF_CLI_MODEL_PER_BYTE 20

wf_workflow *wf_cli_load(const char *path)
{
    wf_workflow *wf = NULL;
    wf_errlist errs;

    struct stat st;

    wf_errlist_init(&errs);
    /* The model takes about 17 bytes for each byte of YAML (B15: 94 MB for 5.5 MB). */
    if (stat(path, &st) == 0 && st.st_size > 0)
        wf_cli_heap_reserve((size_t)st.st_size * WF_CLI_MODEL_PER_BYTE);
    if (wf_workflow_load_file(path, &wf, &errs) != WF_OK) {
        wf_cli_print_errors(&errs);
        if (errs.len > 1)
            fprintf(stderr, "%s: %zu errors\n", path, errs.len);
        wf = NULL;
    }
    wf_errlist_release(&errs);
    wf_cli_heap_release();
    if (wf != NULL)
        wf_cli_print_errors(wf_workflow_warnings(wf));
    return wf;
}

size_t wf_cli_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, or a UTF-16 surrogate */
        if (s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
            return 0; /* U+FFFE and U+FFFF are not XML characters */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

bool wf_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

/* ---- the store ------------------------------------------------------------------------- */

const char *wf_cli_store_dir(const char *given)
{
    const char *env = getenv("WFENGINE_STORE");

    if (given != NULL)
        return given;
    if (env != NULL && env[0] != '\0')
        return env;
    return ".wfengine";
}

int wf_cli_open_store(const char *given, wf_store **out)
{
    wf_error err;
    int status = WF_EXIT_OK;

    wf_error_init(&err);
    if (wf_store_open(wf_cli_store_dir(given), out, &err) != WF_OK) {
        wf_cli_errorf("the store cannot be used: %s", err.message);
        *out = NULL;
        status = WF_EXIT_STORE;
    }
    wf_error_release(&err);
    return status;
}

int wf_cli_store_exists(const char *dir)
{
    struct stat st;

    if (stat(dir, &st) != 0) {
        wf_cli_errorf("no store at %s: nothing has been recorded there (runs are recorded in "
                      "the directory they are started from; see --store and WFENGINE_STORE)",
                      dir);
        return WF_EXIT_STORE;
    }
    return WF_EXIT_OK;
}

int wf_cli_open_existing_store(const char *given, wf_store **out)
{
    const char *dir = wf_cli_store_dir(given);
    wf_error err;
    int status = wf_cli_store_exists(dir), rc;

    *out = NULL;
    if (status != WF_EXIT_OK)
        return status;
    wf_error_init(&err);
    /* Read-only: an archived store, a read-only file system or another user's directory can
     * be inspected, and reading never migrates or writes anything. */
    rc = wf_store_open_readonly(dir, out, &err);
    if (rc == WF_ENOENT) {
        wf_cli_errorf("no store at %s: nothing has been recorded there (%s)", dir, err.message);
        status = WF_EXIT_STORE;
    } else if (rc != WF_OK) {
        wf_cli_errorf("the store cannot be used: %s", err.message);
        status = WF_EXIT_STORE;
    }
    if (rc != WF_OK)
        *out = NULL;
    wf_error_release(&err);
    return status;
}

int wf_cli_close_store(wf_store *store, int status)
{
    wf_error err;

    wf_error_init(&err);
    if (wf_store_close(store, &err) != WF_OK) {
        wf_cli_errorf("the store cannot be written: %s", err.message);
        status = WF_EXIT_STORE;
    }
    wf_error_release(&err);
    return status;
}

int64_t wf_cli_json_int(json_object *o, const char *key, int64_t dflt)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return dflt;
    return json_object_get_int64(v);
}

const char *wf_cli_json_str(json_object *o, const char *key)
{
    json_object *v = NULL;

    if (!json_object_object_get_ex(o, key, &v) || v == NULL)
        return NULL;
    return json_object_get_string(v);
}

const char *wf_cli_status_text(json_object *o)
{
    const char *status = wf_cli_json_str(o, "status");
    json_object *ign = NULL;

    if (status != NULL && strcmp(status, "failed") == 0 &&
        json_object_object_get_ex(o, "ignored", &ign) && json_object_get_boolean(ign))
        return "failed, ignored";
    return status != NULL ? status : "running";
}

/* Appends s with every control character shown as text, so that it reaches the terminal (or
 * the CI log) as what the process wrote, never as a command to the terminal: C0 controls
 * and DEL as \xHH (ESC is \x1b), C1 controls (U+0080..U+009F, which some terminals obey as
 * ESC [ and the like) as \uHHHH, bytes that are not UTF-8 as \xHH. Tabs and newlines stay;
 * a carriage return before a newline is dropped (CRLF line ends), any other one shown as
 * \x0d, since it would let a line overwrite the one it is on. Valid UTF-8 is kept whole. */
void wf_cli_unit_name(wf_strbuf *sb, const char *task, int64_t index, const char *label)
{
    wf_strbuf_adds(sb, task ? task : "");
    if (index < 0)
        return;
    wf_strbuf_addf(sb, "[%lld]", (long long)index);
    if (label != NULL && label[0] != '\0') {
        wf_strbuf_adds(sb, " (");
        wf_cli_add_safe(sb, label);
        wf_strbuf_addc(sb, ')');
    }
}

void wf_cli_add_safe(wf_strbuf *sb, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        const unsigned char *plain = p;
        size_t n = 0;

        /* The common case, copied in one piece: printable text, tabs, newlines. */
        while (*p != '\0') {
            if ((*p >= 0x20 && *p < 0x7F) || *p == '\t' || *p == '\n') {
                p++;
                continue;
            }
            n = *p >= 0x80 ? wf_cli_utf8_len(p) : 0;
            if (n == 0 || (n == 2 && p[0] == 0xC2 && p[1] < 0xA0))
                break;
            p += n;
        }
        wf_strbuf_add(sb, plain, (size_t)(p - plain));
        if (*p == '\0')
            break;
        if (*p == '\r' && p[1] == '\n') {
            p++;
        } else if (n == 2) {
            wf_strbuf_addf(sb, "\\u%04x", (unsigned)p[1]);
            p += 2;
        } else {
            wf_strbuf_addf(sb, "\\x%02x", (unsigned)*p);
            p++;
        }
    }
}

const char *wf_cli_tail_start(const char *text, int max_lines, size_t max_bytes)
{
    size_t len = strlen(text), end = len, start = 0;
    int lines = 0;

    while (end > 0 && text[end - 1] == '\n')
        end--;
    if (max_lines > 0) {
        for (size_t i = end; i > 0; i--) {
            if (text[i - 1] == '\n' && ++lines == max_lines) {
                start = i;
                break;
            }
        }
    }
    if (max_bytes > 0 && len - start > max_bytes) {
        start = len - max_bytes;
        /* Start at a character, not inside one (at most 3 continuation bytes). */
        for (int k = 0; k < 3 && ((unsigned char)text[start] & 0xC0) == 0x80; k++)
            start++;
    }
    return text + start;
}

/* What other tools' users type for an option of `run`: make's and ninja's -n and -k, and
 * how we say it. */
static const struct {
    const char *theirs, *hint;
} run_habits[] = {
    { "-n", "--dry-run prints the plan without running anything (make -n, ninja -n)" },
    { "-k", "wfengine keeps going by default: a failure stops only what needs it (--fail-fast "
            "stops everything at the first)" },
    { "--keep-going", "wfengine keeps going by default: a failure stops only what needs it "
                      "(--fail-fast stops everything at the first)" },
    { "--parallel", "-j N runs at most N units at once" },
    { "-p", "-j N runs at most N units at once" },
};

int wf_cli_unknown_run_option(const char *opt)
{
    static const char *const opts[] = {
        "--input",          "--inputs", "--env-file", "--jobs",    "--only",       "--fail-fast",
        "--dry-run",        "--json",   "--quiet",    "--verbose", "--no-store",   "--store",
        "--resume",         "--force",  "--no-cache", "--memory",  "--max-output", "--executor",
        "--keep-job-files", "--junit",  "--progress", NULL,
    };
    const char *near = NULL;

    for (size_t i = 0; i < WF_ARRAY_LEN(run_habits); i++) {
        if (strcmp(opt, run_habits[i].theirs) == 0) {
            wf_cli_errorf("run: unknown option '%s': %s", opt, run_habits[i].hint);
            return -1;
        }
    }
    if (strncmp(opt, "--", 2) == 0) {
        char name[64];

        snprintf(name, sizeof(name), "%.*s", (int)strcspn(opt, "="), opt); /* --memroy=1G */
        near = wf_closest(name, opts);
    }
    if (near != NULL)
        wf_cli_errorf("run: unknown option '%s'; did you mean '%s'?", opt, near);
    else
        wf_cli_errorf("run: unknown option '%s' (see wfengine run --help)", opt);
    return -1;
}
