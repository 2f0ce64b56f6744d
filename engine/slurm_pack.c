/*
 * slurm_pack.c: the rules of packs (wf_slurm.h, "Packs"): the element script that runs
 * several items one after the other, pack: auto's sizing rule and a packed element's time
 * limit. Pure functions, no state, no I/O; slurm_submit.c writes the script and calls sbatch,
 * slurm_finish.c reports the items.
 *
 * Each item of a pack is run like an unpacked element (slurm_submit.c's array.sh): its own
 * /bin/sh -e process under `env -i` with exactly its environment (env.K), in its workdir
 * (dir.K), with its own TMPDIR and $WF_RESULT; the difference is that the wrapper, not Slurm,
 * opens out.K and err.K, and that the wrapper goes on with the next item whatever the exit
 * status. begin.K is touched when item K starts and rc.K written when it ends: their mtimes
 * give the item's duration without a `date` process per item.
 */
#include <string.h>

#include "slurm_internal.h"

/* What coreutils `timeout -k` gives an item after its timeout before SIGKILL. */
#define KILL_GRACE_S 5
/* The environment variables of the job that an item sees besides its own environment (as in
 * slurm_submit.c). */
static const char *const JOB_VARS[] = {
    "SLURM_JOB_ID",       "SLURM_ARRAY_JOB_ID",  "SLURM_ARRAY_TASK_ID", "SLURM_CPUS_PER_TASK",
    "SLURM_JOB_NODELIST", "SLURM_JOB_PARTITION", "SLURMD_NODENAME",     NULL,
};

size_t wf__slurm_pack_size(const int64_t *durations_ms, size_t n, size_t unfinished)
{
    int64_t total = (int64_t)unfinished * WF_SLURM_PACK_TARGET_MS, mean;
    size_t count = n + unfinished, pack;

    if (count == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        total += durations_ms[i] > 0 ? durations_ms[i] : 0;
    /* The mean, not the median: a pack runs for the sum of its items. */
    mean = total / (int64_t)count;
    if (mean < 1)
        mean = 1;
    pack = (size_t)(WF_SLURM_PACK_TARGET_MS / mean);
    if (pack < 1)
        return 1;
    return pack > WF_SLURM_PACK_MAX ? WF_SLURM_PACK_MAX : pack;
}

int64_t wf__slurm_pack_limit_min(size_t pack, int64_t timeout_ms, int64_t slurm_time_min)
{
    int64_t total_ms, min;

    if (timeout_ms <= 0)
        return slurm_time_min > 0 ? slurm_time_min : 0;
    total_ms = (int64_t)pack * (timeout_ms + KILL_GRACE_S * 1000);
    min = (total_ms + 59999) / 60000;
    if (slurm_time_min > 0 && slurm_time_min < min)
        return slurm_time_min;
    return min;
}

void wf__slurm_shell_quote(wf_strbuf *sb, const char *s)
{
    wf_strbuf_addc(sb, '\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            wf_strbuf_adds(sb, "'\\''");
        else
            wf_strbuf_addc(sb, *s);
    }
    wf_strbuf_addc(sb, '\'');
}

char *wf__slurm_pack_script(const char *dir, const char *task_name, const char *engine_umask,
                            size_t b, size_t p, size_t e, int64_t timeout_ms)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "#!/bin/sh\n# Written by wfengine for task ");
    wf__slurm_shell_quote(&sb, task_name);
    wf_strbuf_addf(&sb,
                   ": element $SLURM_ARRAY_TASK_ID (a) runs items\n"
                   "# %zu+a*%zu up to %zu (exclusive) one after the other: item K is cmd.K with "
                   "the\n# environment of env.K in the directory of dir.K, its output in out.K "
                   "and\n# err.K, its exit status in rc.K (begin.K marks its start).\n"
                   "umask 0077\nPATH=/usr/bin:/bin\nd=",
                   b, p, e);
    wf__slurm_shell_quote(&sb, dir);
    wf_strbuf_addf(&sb,
                   "\na=${SLURM_ARRAY_TASK_ID:-0}\n"
                   "case $a in ''|*[!0-9]*) echo \"wfengine: bad SLURM_ARRAY_TASK_ID '$a'\" >&2; "
                   "exit 125;; esac\n"
                   "k=$((%zu + a * %zu)); e=$((k + %zu)); [ \"$e\" -le %zu ] || e=%zu\n",
                   b, p, p, e, e);
    /* No subshell per item (a fork each): the function's own positional parameters take
     * env.K's `set --`, the item's files are opened on 3 and 4 under the job's umask, and
     * every path is absolute, so the `cd` of one item does not matter to the next. */
    wf_strbuf_adds(&sb, "ended() {\n"
                        "    umask 0077\n"
                        "    exec 3>&- 4>&-\n"
                        "    echo \"$1\" >\"$d/rc.$i\"\n"
                        "}\n"
                        "item() {\n"
                        "    i=$1\n"
                        "    : >\"$d/begin.$i\"\n"
                        "    exec 3>\"$d/out.$i\" 4>\"$d/err.$i\"\n"
                        "    if [ ! -r \"$d/cmd.$i\" ] || [ ! -r \"$d/env.$i\" ] || "
                        "[ ! -r \"$d/dir.$i\" ]; then\n"
                        "        echo \"wfengine: cannot read $d/cmd.$i, env.$i or dir.$i (is "
                        "the job directory visible on $(hostname)?)\" >&4\n"
                        "        ended 125\n"
                        "        return\n"
                        "    fi\n"
                        "    . \"$d/dir.$i\"\n"
                        "    cd \"$w\" 2>/dev/null || {\n"
                        "        echo \"wfengine: cannot change directory to '$w'\" >&4\n"
                        "        ended 125\n"
                        "        return\n"
                        "    }\n"
                        "    . \"$d/env.$i\"\n"
                        "    t=$(mktemp -d \"${TMPDIR:-/tmp}/wfengine-unit.XXXXXX\") || {\n"
                        "        echo \"wfengine: cannot create a temporary directory in "
                        "${TMPDIR:-/tmp} on $(hostname)\" >&4\n"
                        "        ended 125\n"
                        "        return\n"
                        "    }\n");
    wf_strbuf_addf(&sb, "    umask %s\n    ", engine_umask);
    /* The item's own timeout: exit 124 (or 137 after the grace) tells the poller, with the
     * item's duration, that it timed out. */
    if (timeout_ms > 0)
        wf_strbuf_addf(&sb, "timeout -k %d %lld.%03lld ", KILL_GRACE_S,
                       (long long)(timeout_ms / 1000), (long long)(timeout_ms % 1000));
    wf_strbuf_adds(&sb, "/usr/bin/env -i -- \"$@\"");
    for (size_t k = 0; JOB_VARS[k] != NULL; k++)
        wf_strbuf_addf(&sb, " ${%s+\"%s=$%s\"}", JOB_VARS[k], JOB_VARS[k], JOB_VARS[k]);
    wf_strbuf_addf(&sb,
                   " \"TMPDIR=$t\" \"WF_RESULT=$d/result.$i\" /bin/sh -e \"$d/cmd.$i\" "
                   "</dev/null >&3 2>&4 3>&- 4>&-\n"
                   "    s=$?\n"
                   "    rm -rf \"$t\"\n"
                   "    ended \"$s\"\n"
                   "}\n"
                   "while [ \"$k\" -lt \"$e\" ]; do\n"
                   "    item \"$k\"\n"
                   "    k=$((k + 1))\n"
                   "done\n"
                   "echo 0 >\"$d/slurm-%zu.rc.$a\"\n",
                   b);
    return wf_strbuf_detach(&sb, NULL);
}
