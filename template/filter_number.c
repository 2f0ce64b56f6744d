/*
 * filter_number.c: the filters over numbers: sum, abs and round. The contract of a filter is
 * in tpl_internal.h (WF__TPL_FN); filters.c holds the table that names them.
 */
#include <math.h>
#include <stdlib.h>

#include "tpl_internal.h"

#define FN WF__TPL_FN

/* ---- numbers ------------------------------------------------------------------------ */

FN(f_sum)
{
    int64_t isum = 0, i;
    double dsum = 0, d;
    bool is_int = true;
    size_t n;

    (void)nargs;
    if (!wf__tpl_is_type(&a[0], json_type_array))
        return wf__tpl_type_error(e, call, a, 1);
    n = wf__tpl_alen(&a[0]);
    for (size_t k = 0; k < n; k++) {
        const json_object *el = wf__tpl_aget(&a[0], k);
        int kind = wf__tpl_num(el, &i, &d);

        if (kind == 0)
            return wf__tpl_elem_error(e, call, el, k);
        if (is_int && kind == 1) {
            int64_t t;

            if (!__builtin_add_overflow(isum, i, &t)) {
                isum = t;
                continue;
            }
        }
        if (is_int) {
            /* Past int64, or a decimal: carry on in decimals. */
            dsum = (double)isum;
            is_int = false;
        }
        dsum += kind == 1 ? (double)i : d;
    }
    if (is_int) {
        tval_take(out, json_object_new_int64(isum));
        return WF_OK;
    }
    return wf__tpl_new_double(e, call, dsum, out);
}

FN(f_abs)
{
    int64_t i;
    double d;

    (void)nargs;
    switch (wf__tpl_num(a[0].j, &i, &d)) {
    case 1:
        if (i >= 0) {
            wf__tpl_pass_on(&a[0], a[0].j, out);
            return WF_OK;
        }
        if (i == INT64_MIN)
            return wf__tpl_new_double(e, call, -(double)i, out);
        tval_take(out, json_object_new_int64(-i));
        return WF_OK;
    case 2:
        return wf__tpl_new_double(e, call, fabs(d), out);
    default:
        return wf__tpl_type_error(e, call, a, 1);
    }
}

FN(f_round)
{
    int64_t i, digits = 0;
    double d, dd;
    int kind = wf__tpl_num(a[0].j, &i, &d);

    if (kind == 0 || (nargs == 2 && wf__tpl_num(a[1].j, &digits, &dd) != 1))
        return wf__tpl_type_error(e, call, a, nargs);
    if (digits < 0 || digits > 15)
        return wf__tpl_fail(e, call, WF_EINVAL, "round: digits must be 0 to 15, got %lld",
                            (long long)digits);
    if (kind == 1) {
        wf__tpl_pass_on(&a[0], a[0].j, out);
        return WF_OK;
    }
    if (nargs == 2) {
        double scale = pow(10.0, (double)digits), r = round(d * scale) / scale;

        /* Rounding that overflows the scaled value leaves the number as it was. */
        return wf__tpl_new_double(e, call, isfinite(r) ? r : d, out);
    }
    d = round(d);
    if (d > -9223372036854775808.0 - 1 && d < 9223372036854775808.0) {
        tval_take(out, json_object_new_int64((int64_t)d));
        return WF_OK;
    }
    return wf__tpl_new_double(e, call, d, out);
}
