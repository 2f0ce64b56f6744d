/* Clocks (see wf_common.h). */
#include <time.h>

#include "wf_common.h"

int64_t wf_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t wf_now_ms(void)
{
    return wf_now_ns() / 1000000;
}

int64_t wf_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
