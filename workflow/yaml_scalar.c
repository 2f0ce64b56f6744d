/*
 * yaml_scalar.c: the YAML 1.2 core schema for plain scalars as the workflow format restricts
 * it (see loader_internal.h): true/false, the nulls, JSON numbers plus 0x and 0o integers,
 * with range errors; and the JSON number grammar the CLI's -i values share. yaml_tree.c
 * calls it for each plain or core-tagged scalar.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "loader_internal.h"

static bool all_digits(const char *s, const char *digits)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (strchr(digits, *s) == NULL)
            return false;
    return true;
}

bool wf__json_number_text(const char *s, bool *is_int)
{
    const char *p = s;

    *is_int = true;
    if (*p == '-')
        p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return false;
    if (*p == '.') {
        p++;
        *is_int = false;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        *is_int = false;
        if (*p == '+' || *p == '-')
            p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return *p == '\0';
}

static bool parse_unsigned(const char *digits, int base, int64_t *out)
{
    unsigned long long v;
    char *end;

    errno = 0;
    v = strtoull(digits, &end, base);
    if (errno != 0 || *end != '\0' || v > (unsigned long long)INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

/* Whether a non-empty plain scalar of len bytes could be a null, a boolean or a number, by
 * its first byte and length: most (names, keys, commands) cannot, and then need none of the
 * comparisons below. */
static bool may_be_special(const char *s, size_t len)
{
    switch (s[0]) {
    case '~':
        return len == 1;
    case 'n':
    case 'N':
    case 't':
    case 'T':
        return len == 4;
    case 'f':
    case 'F':
        return len == 5;
    case '-':
        return true;
    default:
        return s[0] >= '0' && s[0] <= '9';
    }
}

/* Resolves a plain scalar by the core schema as the workflow format restricts it: only
 * true/false booleans, null/Null/NULL/~/empty, JSON numbers plus 0x and 0o integers. */
void wf__yaml_resolve_plain(wf__loader *L, wf__ynode *n)
{
    const char *s = n->text;
    bool is_int;

    n->type = WF__Y_STRING;
    if (n->len != strlen(s) || (n->len > 0 && !may_be_special(s, n->len)))
        return;
    if (n->len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
        strcmp(s, "NULL") == 0) {
        n->type = WF__Y_NULL;
    } else if (strcasecmp(s, "true") == 0 || strcasecmp(s, "false") == 0) {
        n->type = WF__Y_BOOL;
        n->b = strcasecmp(s, "true") == 0;
    } else if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o') &&
               all_digits(s + 2, s[1] == 'x' ? "0123456789abcdefABCDEF" : "01234567")) {
        n->type = WF__Y_INT;
        if (!parse_unsigned(s + 2, s[1] == 'x' ? 16 : 8, &n->i))
            wf__loader_error(L, n->mark, WF_ERANGE,
                             "integer %s is out of range (at most 64-bit signed)", s);
    } else if (wf__json_number_text(s, &is_int)) {
        if (is_int) {
            long long v;

            errno = 0;
            v = strtoll(s, NULL, 10);
            n->type = WF__Y_INT;
            n->i = (int64_t)v;
            if (errno != 0)
                wf__loader_error(L, n->mark, WF_ERANGE,
                                 "integer %s is out of range (at most 64-bit signed)", s);
        } else {
            n->type = WF__Y_DOUBLE;
            n->d = strtod(s, NULL);
            if (!isfinite(n->d))
                wf__loader_error(L, n->mark, WF_ERANGE, "number %s is out of range", s);
        }
    }
}
