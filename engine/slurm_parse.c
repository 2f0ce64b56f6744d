/*
 * slurm_parse.c: reading Slurm's answers. Pure functions, no state, no I/O: the numbers,
 * times, exit codes and job states that squeue, scontrol and sacct print, one record of
 * `scontrol show job -o`, a number of `scontrol show config`, and whether an sbatch refusal
 * is permanent. Those declared in wf_slurm.h are there for tests/check_slurm.c;
 * wf__slurm_field, wf__slurm_parse_num and wf__slurm_base_state (slurm_internal.h) serve the
 * other files of the client.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "slurm_internal.h"

bool wf__slurm_field(const char *line, size_t len, const char *key, char *buf, size_t size)
{
    size_t klen = strlen(key);

    for (size_t i = 0; i + klen < len; i++) {
        size_t j;

        if ((i > 0 && line[i - 1] != ' ') || memcmp(line + i, key, klen) != 0 ||
            line[i + klen] != '=')
            continue;
        i += klen + 1;
        for (j = 0; i + j < len && line[i + j] != ' ' && line[i + j] != '\n'; j++)
            continue;
        if (j >= size)
            j = size - 1;
        memcpy(buf, line + i, j);
        buf[j] = '\0';
        return true;
    }
    buf[0] = '\0';
    return false;
}

long long wf__slurm_parse_num(const char *s, size_t len)
{
    long long v = 0;

    if (len == 0 || len > 12)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int wf__slurm_parse_exit(const char *text)
{
    const char *colon = strchr(text, ':');
    long long code, sig = 0;

    code = wf__slurm_parse_num(text, colon ? (size_t)(colon - text) : strlen(text));
    if (colon != NULL)
        sig = wf__slurm_parse_num(colon + 1, strlen(colon + 1));
    if (code < 0 || sig < 0 || code > 255 || sig > 127)
        return -1;
    return sig > 0 ? 128 + (int)sig : (int)code;
}

int64_t wf__slurm_parse_time(const char *text)
{
    long long parts[3] = { 0, 0, 0 }, days = 0;
    const char *dash = strchr(text, '-'), *p = text;
    size_t n = 0;
    int64_t secs;

    if (dash != NULL) {
        days = wf__slurm_parse_num(text, (size_t)(dash - text));
        if (days < 0)
            return -1;
        p = dash + 1;
    }
    for (;;) {
        const char *colon = strchr(p, ':');
        size_t len = colon ? (size_t)(colon - p) : strlen(p);

        if (n == 3)
            return -1;
        parts[n] = wf__slurm_parse_num(p, len);
        if (parts[n] < 0)
            return -1;
        n++;
        if (colon == NULL)
            break;
        p = colon + 1;
    }
    if (dash != NULL) {
        /* D-H, D-H:M, D-H:M:S */
        secs = days * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2];
    } else if (n == 1) {
        secs = parts[0] * 60; /* M */
    } else if (n == 2) {
        secs = parts[0] * 60 + parts[1]; /* M:S */
    } else {
        secs = parts[0] * 3600 + parts[1] * 60 + parts[2]; /* H:M:S */
    }
    return secs;
}

bool wf__slurm_parse_record(const char *line, size_t len, wf__slurm_record *rec)
{
    char buf[64];

    memset(rec, 0, sizeof(*rec));
    rec->array_task_id = -1;
    rec->exit_code = -1;
    rec->run_time_ms = -1;
    if (!wf__slurm_field(line, len, "JobId", rec->job_id, sizeof(rec->job_id)) ||
        !wf__slurm_field(line, len, "JobState", rec->state, sizeof(rec->state)))
        return false;
    wf__slurm_field(line, len, "ArrayJobId", rec->array_job_id, sizeof(rec->array_job_id));
    if (wf__slurm_field(line, len, "ArrayTaskId", buf, sizeof(buf)))
        rec->array_task_id = (long)wf__slurm_parse_num(buf, strlen(buf));
    wf__slurm_field(line, len, "Reason", rec->reason, sizeof(rec->reason));
    if (wf__slurm_field(line, len, "ExitCode", buf, sizeof(buf)))
        rec->exit_code = wf__slurm_parse_exit(buf);
    if (wf__slurm_field(line, len, "RunTime", buf, sizeof(buf))) {
        /* RunTime is always [D-]H:M:S, which wf__slurm_parse_time reads as such only with three
         * parts; two parts would be M:S there, which RunTime never uses. */
        int64_t s = wf__slurm_parse_time(buf);

        rec->run_time_ms = s < 0 ? -1 : s * 1000;
    }
    return true;
}

void wf__slurm_base_state(const char *state, char *buf, size_t size)
{
    size_t n = strcspn(state, " +");

    if (n >= size)
        n = size - 1;
    memcpy(buf, state, n);
    buf[n] = '\0';
}

bool wf__slurm_state_ended(const char *state)
{
    static const char *const ended[] = {
        "COMPLETED", "FAILED",   "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
        "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED", NULL,
    };
    char s[32];

    wf__slurm_base_state(state, s, sizeof(s));
    for (size_t i = 0; ended[i] != NULL; i++) {
        if (strcmp(s, ended[i]) == 0)
            return true;
    }
    return false;
}

wf_status wf__slurm_state_status(const char *state, int exit_code, bool by_us, bool *timed_out)
{
    char s[32];

    wf__slurm_base_state(state, s, sizeof(s));
    *timed_out = strcmp(s, "TIMEOUT") == 0;
    if (strcmp(s, "COMPLETED") == 0 && exit_code == 0)
        return WF_STATUS_SUCCEEDED;
    if (strcmp(s, "CANCELLED") == 0 && by_us)
        return WF_STATUS_CANCELLED;
    return WF_STATUS_FAILED;
}

long long wf__slurm_config_num(const char *text, size_t len, const char *key)
{
    size_t klen = strlen(key);
    size_t pos = 0;

    while (pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos, i = klen, start;

        pos += llen + 1;
        /* "MaxArraySize            = 1001": the key, blanks, '=', blanks, the value. */
        if (llen <= klen || memcmp(line, key, klen) != 0 || (line[i] != ' ' && line[i] != '='))
            continue;
        while (i < llen && line[i] == ' ')
            i++;
        if (i == llen || line[i] != '=')
            continue;
        i++;
        while (i < llen && line[i] == ' ')
            i++;
        start = i;
        while (i < llen && line[i] != ' ' && line[i] != '\r')
            i++;
        return wf__slurm_parse_num(line + start, i - start);
    }
    return -1;
}

bool wf__slurm_sbatch_permanent(const char *message)
{
    /* sbatch's own words for a request that no later attempt can fix (Slurm 22.05-24.x):
     * the request names something the cluster does not have or allow. Anything else (the
     * controller busy or unreachable, a limit on queued jobs, a timeout) may pass later. */
    static const char *const permanent[] = {
        "Invalid partition name",
        "Invalid account",
        "Invalid qos specification",
        "Invalid job array specification",
        "Invalid generic resource",
        "Invalid feature specification",
        "Invalid node name specified",
        "Invalid --array",
        "Requested node configuration is not available",
        "Requested partition configuration not available",
        "Requested time limit is invalid",
        "Requested reservation is invalid",
        "Memory required by task is not available",
        "More processors requested than permitted",
        "Node count specification invalid",
        "CPU count per node can not be satisfied",
        "unrecognized option",
        "invalid option",
        "Job dependency problem",
        NULL,
    };

    for (size_t i = 0; message != NULL && permanent[i] != NULL; i++) {
        if (strstr(message, permanent[i]) != NULL)
            return true;
    }
    return false;
}

int64_t wf__slurm_parse_datetime(const char *text)
{
    struct tm tm;
    int y, mo, d, h, mi, s, used = 0;

    /* squeue's %S: "2026-12-06T22:01:02" in the controller's local time; "N/A" or "Unknown"
     * for a job that has no start time yet. */
    if (sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s, &used) != 6 ||
        text[used] != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60 ||
        y < 1970)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm);
}
