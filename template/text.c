/* Text forms of values: plain interpolation, and the shell-quoted form of `run` strings. */
#include <string.h>

#include "tpl_internal.h"

/* The characters a word may hold without quotes: letters, digits and - _ . / : , + @ % ^ =,
 * as two 64-bit masks over ASCII (bit c of safe_lo for c < 64, bit c - 64 of safe_hi),
 * because every character of every value rendered into a `run` string is looked up here (B3
 * in bench/: this replaced a strchr per character). */
#define BIT(c)     ((uint64_t)1 << ((unsigned)(c)&63u))
#define SPAN(a, b) ((BIT(b) | (BIT(b) - 1)) & ~(BIT(a) - 1))
static const uint64_t safe_lo = SPAN('0', '9') | BIT('-') | BIT('.') | BIT('/') | BIT(':') |
                                BIT(',') | BIT('+') | BIT('%') | BIT('=');
static const uint64_t safe_hi = SPAN('A', 'Z') | SPAN('a', 'z') | BIT('_') | BIT('@') | BIT('^');
#undef SPAN
#undef BIT

static bool safe_char(unsigned char c)
{
    if (c < 64)
        return (safe_lo >> c) & 1;
    if (c < 128)
        return (safe_hi >> (c - 64)) & 1;
    return false;
}

/* NAME=... is a variable assignment to sh when it is the first word of a command, so a value
 * of that shape could turn the command it starts into an assignment: such words are quoted
 * even though all their characters are safe. */
static bool looks_like_assignment(const char *s, size_t len)
{
    size_t i = 0;

    if (len == 0 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    while (i < len && s[i] != '=') {
        char c = s[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
        i++;
    }
    return i < len;
}

void wf_shell_quote(wf_strbuf *out, const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len && safe_char((unsigned char)s[i]); i++)
        ;
    if (len > 0 && i == len && !looks_like_assignment(s, len)) {
        wf_strbuf_add(out, s, len);
        return;
    }
    wf_strbuf_grow(out, len + 2);
    wf_strbuf_addc(out, '\'');
    for (i = 0; i < len; i++) {
        if (s[i] == '\'')
            wf_strbuf_add(out, "'\\''", 4);
        else
            wf_strbuf_addc(out, s[i]);
    }
    wf_strbuf_addc(out, '\'');
}

void wf__tpl_append_int(wf_strbuf *out, int64_t v)
{
    char buf[24];
    size_t n = sizeof(buf);
    /* Negating in unsigned arithmetic keeps INT64_MIN well defined. */
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        buf[--n] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        buf[--n] = '-';
    wf_strbuf_add(out, buf + n, sizeof(buf) - n);
}

static void append_number(wf_strbuf *out, const json_object *v)
{
    int64_t i;
    double d;

    if (wf__tpl_num(v, &i, &d) == 1)
        wf__tpl_append_int(out, i);
    else if (json_object_get_type(v) == json_type_int)
        wf_strbuf_addf(out, "%llu", (unsigned long long)json_object_get_uint64(v));
    else
        wf_json_write_double(out, d);
}

void wf_tpl_text_form(wf_strbuf *out, const json_object *v)
{
    size_t len;
    const char *s;

    switch (v == NULL ? json_type_null : json_object_get_type(v)) {
    case json_type_null:
        return;
    case json_type_boolean:
        wf_strbuf_adds(out, json_object_get_boolean(v) ? "true" : "false");
        return;
    case json_type_int:
    case json_type_double:
        append_number(out, v);
        return;
    case json_type_string:
        s = tpl_str(v, &len);
        wf_strbuf_add(out, s, len);
        return;
    case json_type_array:
    case json_type_object:
        wf_json_write(out, v);
        return;
    }
}

/* One value as one shell word (null: nothing). */
static void shell_word(wf_strbuf *out, const json_object *v)
{
    wf_strbuf tmp = WF_STRBUF_INIT;
    size_t len;
    const char *s;

    switch (v == NULL ? json_type_null : json_object_get_type(v)) {
    case json_type_null:
        return;
    case json_type_boolean:
    case json_type_int:
    case json_type_double:
        /* Digits, '-', '.', '+' and letters only: never needs quotes. */
        wf_tpl_text_form(out, v);
        return;
    case json_type_string:
        s = tpl_str(v, &len);
        wf_shell_quote(out, s, len);
        return;
    default:
        wf_json_write(&tmp, v);
        wf_shell_quote(out, wf_strbuf_str(&tmp), tmp.len);
        wf_strbuf_release(&tmp);
        return;
    }
}

/* s escaped for the inside of '...' (a ' closes the quote, is written escaped, and reopens
 * it) or of "..." (where only $ ` " \ are special: each gets a backslash; newlines stay). */
static void add_quoted(wf_strbuf *out, const char *s, size_t len, shell_ctx ctx)
{
    size_t from = 0;

    wf_strbuf_grow(out, len);
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (ctx == SH_SQUOTE ? c != '\'' : (c != '$' && c != '`' && c != '"' && c != '\\'))
            continue;
        wf_strbuf_add(out, s + from, i - from);
        if (ctx == SH_SQUOTE) {
            wf_strbuf_add(out, "'\\''", 4);
        } else {
            wf_strbuf_addc(out, '\\');
            wf_strbuf_addc(out, c);
        }
        from = i + 1;
    }
    wf_strbuf_add(out, s + from, len - from);
}

static void add_quoted_value(wf_strbuf *out, const json_object *v, shell_ctx ctx)
{
    wf_strbuf tmp = WF_STRBUF_INIT;
    size_t len;
    const char *s;

    if (tpl_is(v, json_type_string)) {
        s = tpl_str(v, &len);
        add_quoted(out, s, len, ctx);
        return;
    }
    wf_tpl_text_form(&tmp, v);
    add_quoted(out, wf_strbuf_str(&tmp), tmp.len, ctx);
    wf_strbuf_release(&tmp);
}

/* One value in ctx (a list element as a whole: a nested list is JSON). */
static void shell_leaf(wf_strbuf *out, const json_object *v, shell_ctx ctx)
{
    if (ctx == SH_WORD)
        shell_word(out, v);
    else
        add_quoted_value(out, v, ctx);
}

/* v in ctx: a list gives one part per element, separated by spaces (several words unquoted,
 * "$*" inside quotes); null elements give nothing, like a null value. */
static void shell_write(wf_strbuf *out, const json_object *v, shell_ctx ctx)
{
    size_t len;
    bool first = true;

    if (!tpl_is(v, json_type_array)) {
        shell_leaf(out, v, ctx);
        return;
    }
    len = json_object_array_length(v);
    for (size_t i = 0; i < len; i++) {
        const json_object *el = json_object_array_get_idx(v, i);

        if (el == NULL)
            continue;
        if (!first)
            wf_strbuf_addc(out, ' ');
        first = false;
        shell_leaf(out, el, ctx);
    }
}

void wf__tpl_shell_form(wf_strbuf *out, const json_object *v)
{
    shell_write(out, v, SH_WORD);
}

void wf__tpl_shell_quoted(wf_strbuf *out, const json_object *v, shell_ctx ctx)
{
    shell_write(out, v, ctx);
}
