/* Durations (see wf_common.h). */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wf_common.h"

#define ACCEPTED "use a number of seconds or a number with a unit: 500ms, 30s, 5m, 1h"

int wf_duration_parse(const char *s, int64_t *out_ms, char **msg)
{
    const char *p = s, *num_start, *unit;
    double value, scale, ms;
    size_t unit_len;
    char *end;

    while (isspace((unsigned char)*p))
        p++;
    num_start = p;
    /* strtod alone would accept "inf", "nan", hex and exponents: only digits and one dot. */
    while (isdigit((unsigned char)*p) || *p == '.')
        p++;
    if (p == num_start || (p == num_start + 1 && *num_start == '.'))
        goto bad;
    value = strtod(num_start, &end);
    if (end != p)
        goto bad;
    unit = p;
    while (isalpha((unsigned char)*p))
        p++;
    unit_len = (size_t)(p - unit);
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0')
        goto bad;
    if (unit_len == 0 || (unit_len == 1 && unit[0] == 's'))
        scale = 1000;
    else if (unit_len == 2 && strncmp(unit, "ms", 2) == 0)
        scale = 1;
    else if (unit_len == 1 && unit[0] == 'm')
        scale = 60 * 1000.0;
    else if (unit_len == 1 && unit[0] == 'h')
        scale = 3600 * 1000.0;
    else
        goto bad;
    ms = value * scale;
    if (!(ms < 9.0e15))
        goto bad;
    *out_ms = (int64_t)llround(ms);
    return WF_OK;
bad:
    if (msg != NULL)
        *msg = wf_xasprintf("invalid duration '%s': %s", s, ACCEPTED);
    return WF_EINVAL;
}

void wf_duration_format(wf_strbuf *sb, int64_t ms)
{
    if (ms < 1000) {
        wf_strbuf_addf(sb, "%lldms", (long long)ms);
    } else if (ms < 60 * 1000) {
        if (ms % 1000 == 0) {
            wf_strbuf_addf(sb, "%llds", (long long)(ms / 1000));
        } else {
            /* Exact milliseconds without trailing zeros: "%.1f" printed 59999 as "60.0s"
             * and 1250 as "1.2s". */
            long long frac = ms % 1000;
            int digits = 3;

            while (frac % 10 == 0) {
                frac /= 10;
                digits--;
            }
            wf_strbuf_addf(sb, "%lld.%0*llds", (long long)(ms / 1000), digits, frac);
        }
    } else if (ms < 3600 * 1000) {
        wf_strbuf_addf(sb, "%lldm%llds", (long long)(ms / 60000), (long long)(ms % 60000 / 1000));
    } else {
        wf_strbuf_addf(sb, "%lldh%lldm", (long long)(ms / 3600000),
                       (long long)(ms % 3600000 / 60000));
    }
}
