/* The lexer of the template language: from `<<` (or the start of a bare expression) to the
 * `>>` that ends it. A `>>` inside a string literal is part of the string, which is why the
 * end of an expression can only be found by lexing it. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

void wf__tpl_linecol(const char *src, size_t off, int *line, int *col)
{
    int l = 1;
    size_t bol = 0;

    for (size_t i = 0; i < off; i++) {
        if (src[i] == '\n') {
            l++;
            bol = i + 1;
        }
    }
    *line = l;
    *col = (int)(off - bol) + 1;
}

const char *wf__tpl_tok_text(tok_kind k)
{
    static const char *const text[] = {
        [T_EOF] = "the end of the expression",
        [T_END] = "'>>'",
        [T_INT] = "a number",
        [T_FLOAT] = "a number",
        [T_STRING] = "a string",
        [T_NAME] = "a name",
        [T_LPAREN] = "'('",
        [T_RPAREN] = "')'",
        [T_LBRACK] = "'['",
        [T_RBRACK] = "']'",
        [T_LBRACE] = "'{'",
        [T_RBRACE] = "'}'",
        [T_COMMA] = "','",
        [T_COLON] = "':'",
        [T_DOT] = "'.'",
        [T_PIPE] = "'|'",
        [T_PLUS] = "'+'",
        [T_MINUS] = "'-'",
        [T_STAR] = "'*'",
        [T_SLASH] = "'/'",
        [T_PERCENT] = "'%'",
        [T_EQ] = "'=='",
        [T_NE] = "'!='",
        [T_LT] = "'<'",
        [T_LE] = "'<='",
        [T_GT] = "'>'",
        [T_GE] = "'>='",
        [T_COAL] = "'?\?'",
        [T_AND] = "'and'",
        [T_OR] = "'or'",
        [T_NOT] = "'not'",
        [T_IN] = "'in'",
        [T_NULL] = "'null'",
        [T_TRUE] = "'true'",
        [T_FALSE] = "'false'",
    };
    return text[k];
}

void wf__tpl_tokens_release(token_list *l)
{
    for (size_t i = 0; i < l->len; i++)
        free(l->v[i].s);
    free(l->v);
    l->v = NULL;
    l->len = l->cap = 0;
}

static token *push(token_list *l, tok_kind kind, size_t start, size_t end)
{
    token *t;

    if (l->len == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = wf_xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    t = &l->v[l->len++];
    memset(t, 0, sizeof(*t));
    t->kind = kind;
    t->start = (uint32_t)start;
    t->end = (uint32_t)end;
    return t;
}

static int lex_error(const char *src, size_t off, wf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int wf__tpl_verror(wf_error *err, const char *src, size_t off, int code, const char *fmt,
                   va_list ap)
{
    char *msg = wf_xvasprintf(fmt, ap);
    int line, col;

    wf__tpl_linecol(src, off, &line, &col);
    wf_error_set(err, code, NULL, line, col, "%s", msg);
    free(msg);
    return code;
}

static int lex_error(const char *src, size_t off, wf_error *err, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = wf__tpl_verror(err, src, off, WF_ESYNTAX, fmt, ap);
    va_end(ap);
    return rc;
}

static bool is_name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static void add_utf8(wf_strbuf *sb, unsigned cp)
{
    if (cp < 0x80) {
        wf_strbuf_addc(sb, (char)cp);
    } else if (cp < 0x800) {
        wf_strbuf_addc(sb, (char)(0xC0 | (cp >> 6)));
        wf_strbuf_addc(sb, (char)(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        wf_strbuf_addc(sb, (char)(0xE0 | (cp >> 12)));
        wf_strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
        wf_strbuf_addc(sb, (char)(0x80 | (cp & 0x3F)));
    } else {
        wf_strbuf_addc(sb, (char)(0xF0 | (cp >> 18)));
        wf_strbuf_addc(sb, (char)(0x80 | ((cp >> 12) & 0x3F)));
        wf_strbuf_addc(sb, (char)(0x80 | ((cp >> 6) & 0x3F)));
        wf_strbuf_addc(sb, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Reads \uXXXX at s[i] (just after the 'u'); returns the code unit or -1. */
static long hex4(const char *s, size_t len, size_t i)
{
    long v = 0;

    if (i + 4 > len)
        return -1;
    for (size_t k = 0; k < 4; k++) {
        int h = hexval(s[i + k]);

        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* A string literal starting at src[*pos] (the quote). */
static int lex_string(const char *src, size_t len, size_t *pos, token_list *out, wf_error *err)
{
    char q = src[*pos];
    size_t i = *pos + 1, start = *pos;
    wf_strbuf sb = WF_STRBUF_INIT;
    int rc = WF_OK;
    token *t;

    wf_strbuf_add(&sb, "", 0);
    for (;;) {
        char c;

        if (i >= len) {
            rc = lex_error(src, start, err, "unterminated string: no closing %c", q);
            goto out;
        }
        c = src[i];
        if (c == q)
            break;
        if (c != '\\') {
            wf_strbuf_addc(&sb, c);
            i++;
            continue;
        }
        if (i + 1 >= len) {
            rc = lex_error(src, start, err, "unterminated string: no closing %c", q);
            goto out;
        }
        c = src[i + 1];
        switch (c) {
        case 'n':
            wf_strbuf_addc(&sb, '\n');
            break;
        case 't':
            wf_strbuf_addc(&sb, '\t');
            break;
        case 'r':
            wf_strbuf_addc(&sb, '\r');
            break;
        case 'b':
            wf_strbuf_addc(&sb, '\b');
            break;
        case 'f':
            wf_strbuf_addc(&sb, '\f');
            break;
        case '0':
            wf_strbuf_addc(&sb, '\0');
            break;
        case '\\':
        case '"':
        case '\'':
        case '/':
            wf_strbuf_addc(&sb, c);
            break;
        case 'u': {
            long cp = hex4(src, len, i + 2);

            if (cp < 0) {
                rc = lex_error(src, i, err, "bad \\u escape: expected 4 hex digits");
                goto out;
            }
            i += 4;
            if (cp >= 0xD800 && cp < 0xDC00) {
                long lo = -1;

                if (i + 3 < len && src[i + 2] == '\\' && src[i + 3] == 'u')
                    lo = hex4(src, len, i + 4);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    rc = lex_error(src, i - 4, err,
                                   "bad \\u escape: a high surrogate must be followed by a "
                                   "low surrogate \\uDC00-\\uDFFF");
                    goto out;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                rc = lex_error(src, i - 4, err, "bad \\u escape: a lone low surrogate");
                goto out;
            }
            add_utf8(&sb, (unsigned)cp);
            break;
        }
        default:
            rc = lex_error(src, i, err,
                           "unknown escape '\\%c' in a string (use \\\\ for a backslash)",
                           (c >= ' ' && c < 0x7f) ? c : '?');
            goto out;
        }
        i += 2;
    }
    t = push(out, T_STRING, start, i + 1);
    t->slen = sb.len;
    t->s = wf_strbuf_detach(&sb, NULL);
    *pos = i + 1;
out:
    wf_strbuf_release(&sb);
    return rc;
}

static int lex_number(const char *src, size_t len, size_t *pos, token_list *out, wf_error *err)
{
    size_t i = *pos, start = *pos;
    bool is_float = false;
    char buf[64];
    token *t;

    while (i < len && is_digit(src[i]))
        i++;
    if (i + 1 < len && src[i] == '.' && is_digit(src[i + 1])) {
        is_float = true;
        i++;
        while (i < len && is_digit(src[i]))
            i++;
    }
    if (i < len && (src[i] == 'e' || src[i] == 'E')) {
        size_t j = i + 1;

        if (j < len && (src[j] == '+' || src[j] == '-'))
            j++;
        if (j < len && is_digit(src[j])) {
            is_float = true;
            i = j;
            while (i < len && is_digit(src[i]))
                i++;
        }
    }
    if (i < len && (is_name_start(src[i]) || is_digit(src[i])))
        return lex_error(src, i, err, "unexpected '%c' in a number", src[i]);
    if (i - start >= sizeof(buf))
        return lex_error(src, start, err, "number literal too long");
    memcpy(buf, src + start, i - start);
    buf[i - start] = '\0';
    errno = 0;
    if (is_float) {
        double d = strtod(buf, NULL);

        if (errno == ERANGE || !isfinite(d))
            return lex_error(src, start, err, "number literal out of range");
        t = push(out, T_FLOAT, start, i);
        t->d = d;
    } else {
        long long v = strtoll(buf, NULL, 10);

        if (errno == ERANGE)
            return lex_error(src, start, err,
                             "integer literal too large (integers are 64-bit; write %s.0 for "
                             "a decimal)",
                             buf);
        t = push(out, T_INT, start, i);
        t->i = (int64_t)v;
    }
    *pos = i;
    return WF_OK;
}

static const struct {
    const char *word;
    tok_kind kind;
} keywords[] = {
    { "and", T_AND },   { "or", T_OR },     { "not", T_NOT },     { "in", T_IN },
    { "null", T_NULL }, { "true", T_TRUE }, { "false", T_FALSE },
};

int wf__tpl_lex(const char *src, size_t len, size_t pos, bool in_braces, size_t open,
                token_list *out, size_t *end_out, wf_error *err)
{
    size_t i = pos;

    for (;;) {
        char c, n;
        size_t start;
        tok_kind k;
        int rc;

        while (i < len && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r'))
            i++;
        if (i >= len) {
            if (in_braces)
                return lex_error(src, open, err, "'<<' is not closed: expected '>>'");
            push(out, T_EOF, i, i);
            return WF_OK;
        }
        start = i;
        c = src[i];
        n = i + 1 < len ? src[i + 1] : '\0';
        if (c == '"' || c == '\'') {
            rc = lex_string(src, len, &i, out, err);
            if (rc != WF_OK)
                return rc;
            continue;
        }
        if (is_digit(c)) {
            rc = lex_number(src, len, &i, out, err);
            if (rc != WF_OK)
                return rc;
            continue;
        }
        if (is_name_start(c)) {
            token *t;

            while (i < len && (is_name_start(src[i]) || is_digit(src[i])))
                i++;
            k = T_NAME;
            for (size_t w = 0; w < WF_ARRAY_LEN(keywords); w++) {
                if (strlen(keywords[w].word) == i - start &&
                    memcmp(keywords[w].word, src + start, i - start) == 0)
                    k = keywords[w].kind;
            }
            t = push(out, k, start, i);
            t->s = wf_xstrndup(src + start, i - start);
            t->slen = i - start;
            continue;
        }
        i++;
        switch (c) {
        case '(':
            k = T_LPAREN;
            break;
        case ')':
            k = T_RPAREN;
            break;
        case '[':
            k = T_LBRACK;
            break;
        case ']':
            k = T_RBRACK;
            break;
        case '{':
            k = T_LBRACE;
            break;
        case '}':
            k = T_RBRACE;
            break;
        case ',':
            k = T_COMMA;
            break;
        case ':':
            k = T_COLON;
            break;
        case '.':
            k = T_DOT;
            break;
        case '+':
            k = T_PLUS;
            break;
        case '-':
            k = T_MINUS;
            break;
        case '*':
            k = T_STAR;
            break;
        case '/':
            k = T_SLASH;
            break;
        case '%':
            k = T_PERCENT;
            break;
        case '|':
            if (n == '|')
                return lex_error(src, start, err, "'||' is not an operator: use 'or'");
            k = T_PIPE;
            break;
        case '&':
            return lex_error(src, start, err, "'%s' is not an operator: use 'and'",
                             n == '&' ? "&&" : "&");
        case '!':
            if (n != '=')
                return lex_error(src, start, err, "'!' is not an operator: use 'not'");
            i++;
            k = T_NE;
            break;
        case '=':
            if (n != '=')
                return lex_error(src, start, err, "'=' is not an operator: use '==' to compare");
            i++;
            k = T_EQ;
            break;
        case '<':
            if (n == '<')
                return lex_error(src, start, err,
                                 "'<<' inside an expression: the one before it is not closed "
                                 "with '>>'");
            if (n == '=')
                i++;
            k = n == '=' ? T_LE : T_LT;
            break;
        case '>':
            if (n == '>') {
                i++;
                if (!in_braces)
                    return lex_error(src, start, err, "unexpected '>>' without '<<'");
                push(out, T_END, start, i);
                *end_out = i;
                return WF_OK;
            }
            if (n == '=')
                i++;
            k = n == '=' ? T_GE : T_GT;
            break;
        case '?':
            if (n != '?')
                return lex_error(src, start, err, "'?' is not an operator: use '?\?'");
            i++;
            k = T_COAL;
            break;
        default:
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                return lex_error(src, start, err, "unexpected character '%c'", c);
            return lex_error(src, start, err, "unexpected byte 0x%02x", (unsigned char)c);
        }
        push(out, k, start, i);
    }
}
