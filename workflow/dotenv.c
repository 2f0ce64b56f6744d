/*
 * dotenv.c: env files in the dotenv format docker (--env-file, env_file:) and go-task
 * (dotenv:) read: one NAME=VALUE per line, `export ` allowed before it, blank lines and `#`
 * comments skipped. A value may be bare (trimmed; ` #` starts a comment), in single quotes
 * (taken as written) or in double quotes (\n, \t, \r, \\, \" and \$ unescaped); nothing is
 * expanded ($VAR stays as written). A line that is none of these is an error with
 * FILE:LINE:COL, never skipped.
 */
#include <errno.h>
#include <string.h>

#include "loader_internal.h"

/* Env files are small; a larger one is most likely not an env file. */
#define DOTENV_MAX (1024 * 1024)

static void dotenv_error(wf_errlist *errs, const char *path, const char *text, size_t len, int line,
                         int col, const char *msg)
{
    wf_error *e = wf_errlist_add(errs);

    wf_error_set(e, WF_ESYNTAX, path, line, col, "%s", msg);
    wf_error_set_source_line(e, text, len);
}

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

/* Parses one line (without its newline) into into; false after adding an error. */
static bool parse_line(const char *path, const char *text, size_t text_len, int lineno,
                       const char *p, const char *end, json_object *into, wf_errlist *errs)
{
    const char *start = p, *name, *name_end;
    wf_strbuf value = WF_STRBUF_INIT;
    char *key;

#define COL(q) ((int)((q)-start) + 1)
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end || *p == '#')
        return true;
    if ((size_t)(end - p) > 7 && strncmp(p, "export", 6) == 0 && (p[6] == ' ' || p[6] == '\t')) {
        p += 7;
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
    }
    name = p;
    while (p < end && name_char(*p, p == name))
        p++;
    name_end = p;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (name_end == name || p == end || *p != '=') {
        dotenv_error(errs, path, text, text_len, lineno, COL(name_end == name ? name : p),
                     name_end == name
                         ? "expected NAME=VALUE (a name is letters, digits and _, not starting "
                           "with a digit)"
                         : "expected '=' after the name (NAME=VALUE, no spaces in the name)");
        return false;
    }
    p++;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && (*p == '"' || *p == '\'')) {
        char quote = *p++;
        bool closed = false;

        while (p < end) {
            if (*p == quote) {
                closed = true;
                p++;
                break;
            }
            if (quote == '"' && *p == '\\' && p + 1 < end) {
                const char *esc = strchr("ntr\\\"$", p[1]);

                if (esc != NULL) {
                    wf_strbuf_addc(&value, "\n\t\r\\\"$"[esc - "ntr\\\"$"]);
                    p += 2;
                    continue;
                }
            }
            wf_strbuf_addc(&value, *p++);
        }
        while (p < end && (*p == ' ' || *p == '\t'))
            p++;
        if (!closed || (p < end && *p != '#')) {
            dotenv_error(errs, path, text, text_len, lineno, COL(p),
                         closed ? "unexpected text after the closing quote (a comment starts "
                                  "with #)"
                         : quote == '"' ? "the double quote is not closed on this line"
                                        : "the single quote is not closed on this line");
            wf_strbuf_release(&value);
            return false;
        }
    } else {
        const char *v = p, *v_end = end;

        for (const char *q = v; q < end; q++) {
            if (*q == '#' && q > v && (q[-1] == ' ' || q[-1] == '\t')) {
                v_end = q;
                break;
            }
        }
        while (v_end > v && (v_end[-1] == ' ' || v_end[-1] == '\t'))
            v_end--;
        wf_strbuf_add(&value, v, (size_t)(v_end - v));
    }
#undef COL
    key = wf_xstrndup(name, (size_t)(name_end - name));
    json_object_object_add(into, key, json_object_new_string(wf_strbuf_str(&value)));
    free(key);
    wf_strbuf_release(&value);
    return true;
}

int wf_dotenv_read(const char *path, json_object *into, wf_errlist *errs)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    size_t before = errs->len;
    int rc = wf__read_file(path, "env file", &sb, errs), lineno = 0;
    const char *p, *end;

    if (rc != WF_OK)
        return rc;
    if (sb.len > DOTENV_MAX) {
        wf_error_set(wf_errlist_add(errs), WF_ERANGE, path, 0, 0,
                     "the env file is %zu bytes, more than the %d an env file may have", sb.len,
                     DOTENV_MAX);
        wf_strbuf_release(&sb);
        return WF_ERANGE;
    }
    p = wf_strbuf_str(&sb);
    end = p + sb.len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *stop = nl ? nl : end;

        lineno++;
        if (stop > p && stop[-1] == '\r')
            stop--;
        if (strlen(p) < (size_t)(stop - p))
            dotenv_error(errs, path, sb.buf, sb.len, lineno, 1,
                         "a NUL byte: this is not a text file");
        else
            parse_line(path, sb.buf, sb.len, lineno, p, stop, into, errs);
        p = nl ? nl + 1 : end;
    }
    wf_strbuf_release(&sb);
    return errs->len > before ? WF_EINVAL : WF_OK;
}
