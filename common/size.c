/* Sizes in bytes written by people (see wf_common.h): `memory:`, `max-output:`, --memory. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wf_common.h"

#define ACCEPTED                                                                                  \
    "use a number of bytes or a number with a unit: 512K, 64MiB, 1.5G, 2TB, 1Gi (K, M, G, T are " \
    "powers of 1024)"

int wf_size_parse(const char *s, uint64_t *out, char **msg)
{
    static const struct {
        const char *unit;
        double scale;
    } units[] = {
        { "", 1.0 },
        { "b", 1.0 },
        { "k", 1024.0 },
        { "kb", 1024.0 },
        { "kib", 1024.0 },
        { "m", 1048576.0 },
        { "mb", 1048576.0 },
        { "mib", 1048576.0 },
        { "g", 1073741824.0 },
        { "gb", 1073741824.0 },
        { "gib", 1073741824.0 },
        { "t", 1099511627776.0 },
        { "tb", 1099511627776.0 },
        { "tib", 1099511627776.0 },
        /* Kubernetes' quantities, as Argo and Helm users write memory: 512Mi, 1Gi */
        { "ki", 1024.0 },
        { "mi", 1048576.0 },
        { "gi", 1073741824.0 },
        { "ti", 1099511627776.0 },
    };
    const char *p = s, *num_start, *unit;
    char *end, word[8];
    double value;
    size_t unit_len;

    while (p != NULL && isspace((unsigned char)*p))
        p++;
    num_start = p;
    while (p != NULL && (isdigit((unsigned char)*p) || *p == '.'))
        p++;
    if (p == NULL || p == num_start || (p == num_start + 1 && *num_start == '.'))
        goto bad;
    value = strtod(num_start, &end);
    if (end != p)
        goto bad;
    while (isspace((unsigned char)*p))
        p++;
    unit = p;
    while (isalpha((unsigned char)*p))
        p++;
    unit_len = (size_t)(p - unit);
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '\0' || unit_len >= sizeof(word))
        goto bad;
    memcpy(word, unit, unit_len);
    word[unit_len] = '\0';
    for (size_t i = 0; i < WF_ARRAY_LEN(units); i++) {
        if (strcasecmp(word, units[i].unit) == 0) {
            double bytes = floor(value * units[i].scale);

            if (!(bytes < 1.8e19)) {
                if (msg != NULL)
                    *msg = wf_xasprintf("size '%s' is too large (at most 16 EiB)", s);
                return WF_EINVAL;
            }
            *out = (uint64_t)bytes;
            return WF_OK;
        }
    }
bad:
    if (msg != NULL)
        *msg = wf_xasprintf("invalid size '%s': %s", s ? s : "", ACCEPTED);
    return WF_EINVAL;
}

void wf_size_format(wf_strbuf *sb, uint64_t bytes)
{
    static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
    double v = (double)bytes;
    int u = -1;

    if (bytes < 1024) {
        wf_strbuf_addf(sb, "%llu bytes", (unsigned long long)bytes);
        return;
    }
    while (v >= 1024.0 && u < 3) {
        v /= 1024.0;
        u++;
    }
    if (v == floor(v))
        wf_strbuf_addf(sb, "%.0f %s", v, units[u]);
    else
        wf_strbuf_addf(sb, "%.1f %s", v, units[u]);
}
