/*
 * wf_slurm.h: the Slurm client. Units of `executor: slurm` tasks run as Slurm jobs: a
 * with-items task as ONE job array (sbatch --array=0-N%C; several when it is larger than the
 * cluster's MaxArraySize, see wf_slurm_submit), a plain task as a single job.
 * (Internal to the engine: the Slurm executor, executor_slurm.c, drives it. Its files are
 * listed in slurm_internal.h.)
 *
 * How a submission works: the executor renders each element's command (a /bin/sh script
 * text) and environment; wf_slurm_submit writes, under the client's job directory (which
 * must be visible to the compute nodes, like the working directory), one script file per
 * element and one array batch script that runs the element chosen by SLURM_ARRAY_TASK_ID
 * with its environment and workdir, and calls `sbatch --parsable --export=ALL` once, with
 * an environment reduced to what configures sbatch. Its stdout and stderr go to one file per
 * element.
 *
 * Secrets: a command or an environment may hold secrets, so nothing of them goes through
 * Slurm's job record: sbatch (which copies the environment it exports into the record that
 * slurmctld saves) runs with only wfengine's SLURM_*, SBATCH_*, PATH and HOME variables, and
 * the element's environment travels in a file.
 * Every job file is created 0600 in 0700 directories (the job runs with SLURM_UMASK=0077; the
 * element's command gets wfengine's umask back). An element's files are deleted as soon as it
 * has been reported, and the submission directories and the job directory (when empty) by
 * wf_slurm_free, unless keep_files was set.
 *
 * Packs (wf_slurm_opts.pack > 1, or WF_SLURM_PACK_AUTO): each array element runs several
 * elements ("items") one after the other, each still its own /bin/sh process with its own
 * environment, workdir, stdout/stderr files, exit status file and (with a timeout) its own
 * coreutils `timeout`; the poller reports each item as soon as its exit status file appears,
 * and the items an element did not finish when it ended (cancelled, timed out, node failure)
 * with the element's state. See slurm_pack.c for the element script and the auto rule.
 *
 * Tracking: one poller thread per wf_slurm polls every submitted job in batches (one
 * `squeue` call for all ids at once, then `scontrol show job -o` or `sacct -c` for final
 * states and exit codes); never `sbatch --wait`. For each element that ended it reads the
 * element's output files and calls the done callback with a wf_slurm_result. Polls back off
 * while nothing changes, and every Slurm command of the process is rate limited (see
 * wf_slurm_new and docs/slurm.md for the figures); the poller also enforces each task's
 * timeout by scancelling the element (not a packed element, whose items have their own).
 *
 * Mapping: COMPLETED with exit 0 -> SUCCEEDED; FAILED / exit N -> FAILED with exit_code N;
 * CANCELLED (not by us) -> FAILED "cancelled by Slurm"; TIMEOUT, or scancelled by the poller
 * at the task's timeout -> FAILED, timed_out;
 * NODE_FAIL, OUT_OF_MEMORY, BOOT_FAIL, DEADLINE, PREEMPTED -> FAILED with the state named in
 * the error; cancelled by wf_slurm_cancel_all -> CANCELLED. The message always names the job
 * id (JOBID_INDEX for array elements) and the Slurm state.
 *
 * Thread safety: wf_slurm_submit and wf_slurm_cancel_all may be called from any one thread
 * (the scheduler); the done callback is called on the poller thread, one result at a time,
 * and must only queue the result (it must not call back into wf_slurm).
 */
#ifndef WF_SLURM_H
#define WF_SLURM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wf_common.h"
#include "wf_context.h"

typedef struct wf_slurm wf_slurm;

/* Per-task Slurm options (rendered `slurm:` map). NULL/0 fields are not passed. */
typedef struct wf_slurm_opts {
    const char *partition;    /* --partition */
    const char *time;         /* --time (e.g. "01:30:00", or minutes as text) */
    int cpus;                 /* --cpus-per-task */
    const char *mem;          /* --mem (e.g. "4G", or megabytes as text) */
    const char *account;      /* --account */
    const char *qos;          /* --qos */
    const char *gpus;         /* --gpus (e.g. "2" or "a100:2") */
    const char *constraint;   /* --constraint */
    const char *const *extra; /* further sbatch arguments, NULL-terminated, or NULL */
    /* Elements per array element: 0 or 1 one each; N > 1 up to N each, run one after the
     * other; WF_SLURM_PACK_AUTO sized from measured durations (wf__slurm_pack_size). */
    size_t pack;
} wf_slurm_opts;

/* wf_slurm_opts.pack: size the packs from the durations of a first probe. */
#define WF_SLURM_PACK_AUTO ((size_t)-1)
/* pack: auto aims at elements that run this long... */
#define WF_SLURM_PACK_TARGET_MS 120000
/* ...with at most this many items in one element... */
#define WF_SLURM_PACK_MAX 1000
/* ...after a probe of this many items, one per element. */
#define WF_SLURM_PACK_PROBE 8

/* One element of a submission. All borrowed for the duration of wf_slurm_submit. */
typedef struct wf_slurm_element {
    uint32_t unit;           /* the unit's index in its task (returned in the result) */
    uint32_t attempt;        /* the attempt (returned in the result) */
    const char *script;      /* the command, run with /bin/sh */
    const char *const *envp; /* the element's full environment, NULL-terminated */
    const char *workdir;     /* directory to run in (NULL: the current directory) */
} wf_slurm_element;

/* What became of one element. Strings owned by the result; the callback takes them over
 * (it must free out, err and error). */
typedef struct wf_slurm_result {
    uint32_t task, unit, attempt;
    wf_status status; /* SUCCEEDED, FAILED or CANCELLED */
    int exit_code;    /* the element's exit code, 128+N for signal N, -1 if unknown */
    bool timed_out;
    char *out, *err;          /* the element's stdout and stderr (NUL-terminated, may be NULL) */
    char *error;              /* NULL on success; else "job 123_4 FAILED: exit code 3", ... */
    char job_id[64];          /* "123_4" for an array element, "123" for a single job */
    int64_t start_ms, end_ms; /* wf_now_ms() clock, as seen by the poller */
    /* stdout larger than WF_SLURM_INLINE_MAX is never read whole: out_path names its file
     * (freed by the client after the callback unless the callback took it and set it NULL;
     * the file stays until the callback returns, which may link it elsewhere, and must not
     * be changed), and out holds only its last WF_SLURM_INLINE_MAX bytes (for the log). NULL
     * for a smaller stdout, read whole. */
    char *out_path;
    /* What the element wrote to $WF_RESULT (NUL-terminated), or NULL when it wrote nothing
     * there or more than WF_SLURM_INLINE_MAX bytes: then result_path names the file as
     * out_path does. */
    char *result;
    char *result_path;
} wf_slurm_result;

/* Output read whole into a wf_slurm_result: 64 KiB (WF_PROC_SPILL_THRESHOLD, as a local
 * unit's stdout held in memory). */
#define WF_SLURM_INLINE_MAX ((size_t)64 << 10)

typedef void (*wf_slurm_done_fn)(wf_slurm_result *res, void *user);

/* Checks that Slurm can be used: sbatch, squeue and scontrol on the PATH, and the cluster
 * answering (`sinfo -h` or `squeue -h` within a few seconds). On failure returns WF_EEXEC
 * with err naming what was tried and what happened ("sbatch: not found on PATH
 * (/usr/bin:/bin)", "the Slurm cluster does not answer: squeue: ... (exit 1)"). */
int wf_slurm_check(wf_error *err);

/* A new client whose job files go under job_dir (created, with its parents, mode 0700).
 * Reads the cluster's MaxArraySize (`scontrol show config`; Slurm's default 1001, and a
 * warning for wf_slurm_warning, when it cannot) and starts the poller thread. poll_ms: the
 * first interval between polls (0: WF_SLURM_POLL_MS, else 500 ms); while a poll sees nothing
 * change the next waits twice as long, up to WF_SLURM_POLL_MAX_MS (default 10 s), and back to
 * poll_ms after a change (an element started or ended, a new submission). keep_files:
 * keep every job file (commands, environments, outputs) after the element has ended and
 * after wf_slurm_free, for debugging; they may hold secrets in clear. Returns NULL with err
 * on failure. */
wf_slurm *wf_slurm_new(const char *job_dir, int poll_ms, bool keep_files, wf_slurm_done_fn done,
                       void *user, wf_error *err);

/* Submits elems[0..n) of task (task_name for the job name) as one job array (or, when
 * as_array is false and n == 1, a single job), with at most `concurrency` elements running
 * at once (0: no limit; the %C of --array), the options, and a time limit per element of
 * timeout_ms (0: none). The timeout is enforced by the poller, which scancels an element
 * once it has run that long (FAILED, timed_out); Slurm gets it rounded up to whole minutes
 * as --time, the outer bound. An array larger than the cluster's MaxArraySize goes out as
 * several sbatch calls (wf__slurm_split: pieces in lanes chained with
 * --dependency=afterany, so that `concurrency` holds for the whole).
 * Returns WF_OK when sbatch accepted every piece. Otherwise err says why (quoting sbatch's
 * stderr) and *accepted (when not NULL) counts the elements accepted before the failure:
 * elems[0..*accepted) are Slurm's (reported through the callback), the others are not:
 * WF_EINVAL when sbatch refused for good (wf__slurm_sbatch_permanent: retrying the same
 * request cannot help), or n == 0; WF_EEXEC for any other refusal or failure of sbatch,
 * WF_EIO for the job files; WF_ECANCELLED after wf_slurm_cancel_all. Blocks for the sbatch
 * calls (rate limited, see wf__slurm_run).
 * Packed (as_array and opts->pack > 1, see "Packs" above): ceil(n / pack) elements of up to
 * `pack` elements each, split at MaxArraySize like any array, timeout_ms applying to each
 * item (coreutils `timeout` in the element; the poller does not cut a packed element) and
 * --time covering the pack (wf__slurm_pack_limit_min); with WF_SLURM_PACK_AUTO, the first
 * WF_SLURM_PACK_PROBE go out one per element and the poller thread submits the others later
 * (through the same rate limit and split; an sbatch failure then fails each of them through
 * the callback). Those are counted in *accepted. The callback is called once per element
 * (item) either way. */
int wf_slurm_submit(wf_slurm *s, uint32_t task, const char *task_name,
                    const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                    const wf_slurm_opts *opts, int64_t timeout_ms, size_t *accepted, wf_error *err);

/* A setting of the Slurm client and executor from the environment (WF_SLURM_POLL_MS, ...):
 * the value of variable name as a whole number in [min, max], or def when it is unset, empty
 * or not such a number. (slurm_cmd.c) */
long wf__slurm_env_num(const char *name, long def, long min, long max);

/* What went wrong when wf_slurm_new read the cluster's configuration (one line, for a
 * warning), or NULL. Owned by s. */
const char *wf_slurm_warning(const wf_slurm *s);

/* The cluster's MaxArraySize as read by wf_slurm_new (1001 when it could not be read). */
long wf_slurm_max_array(const wf_slurm *s);

/* `scancel`s every job submitted and not yet ended; their elements end as CANCELLED (the
 * callback is still called for each). Returns at once; safe to call twice. */
void wf_slurm_cancel_all(wf_slurm *s);

/* How many poll rounds the poller has finished: an element that ended before a round
 * started has been reported once the count has grown by two. Any thread. */
unsigned wf_slurm_polls(wf_slurm *s);

/* How many elements have been submitted and not yet reported. */
size_t wf_slurm_pending(const wf_slurm *s);

/* Stops the poller and frees. Elements still pending are cancelled first (scancel) and
 * reported. Then, unless keep_files, removes every submission directory this client made
 * and job_dir if that leaves it empty. Call it from the thread that submits. NULL is fine. */
void wf_slurm_free(wf_slurm *s);

/* ---- internal: exposed for tests/check_slurm.c only ------------------------------------ */

/* One record (line) of `scontrol show job -o`. */
typedef struct wf__slurm_record {
    char job_id[32];       /* JobId: the element's own id */
    char array_job_id[32]; /* ArrayJobId, "" for a plain job */
    long array_task_id;    /* ArrayTaskId when it is one number, else -1 (a pending range) */
    char state[32];        /* JobState, e.g. "COMPLETED" */
    char reason[64];       /* Reason, "" when absent */
    int exit_code;         /* ExitCode as by wf__slurm_parse_exit, -1 when absent */
    int64_t run_time_ms;   /* RunTime, -1 when absent */
} wf__slurm_record;

/* Parses one `scontrol show job -o` line (len bytes, no newline needed). Returns false when
 * it has no JobId or no JobState. Values are the text up to the next space. */
bool wf__slurm_parse_record(const char *line, size_t len, wf__slurm_record *rec);

/* "N:S" (exit code N, signal S) -> N, or 128+S when S > 0; plain "N" -> N; -1 if malformed. */
int wf__slurm_parse_exit(const char *text);

/* A Slurm time ("M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S") in seconds; -1 if it is
 * malformed or UNLIMITED/INFINITE. */
int64_t wf__slurm_parse_time(const char *text);

/* Whether a job state is final (COMPLETED, FAILED, CANCELLED, TIMEOUT, ...). A trailing
 * " by UID" or "+" (sacct's spelling) is ignored. */
bool wf__slurm_state_ended(const char *state);

/* pack: auto's rule. The items of the probe that ended took durations_ms[0..n) in all;
 * `unfinished` of them had not ended when the rule was applied (each counts as
 * WF_SLURM_PACK_TARGET_MS). Returns the pack size: floor(target / mean duration), at least 1,
 * at most WF_SLURM_PACK_MAX (a mean below 1 ms counts as 1 ms); 1 when n + unfinished is 0. */
size_t wf__slurm_pack_size(const int64_t *durations_ms, size_t n, size_t unfinished);

/* The time limit of one packed element in minutes (0: none): `pack` items of timeout_ms each
 * (0: none), plus the grace that coreutils `timeout -k` gives each, rounded up; the shorter
 * of that and slurm_time_min (0: none). */
int64_t wf__slurm_pack_limit_min(size_t pack, int64_t timeout_ms, int64_t slurm_time_min);

/* The element script of a pack (slurm_pack.c): runs items [b + a*p, min(b + (a+1)*p, e)) of
 * the submission in dir, a = $SLURM_ARRAY_TASK_ID; timeout_ms > 0 runs each under
 * `timeout`. Owned string. */
char *wf__slurm_pack_script(const char *dir, const char *task_name, const char *engine_umask,
                            size_t b, size_t p, size_t e, int64_t timeout_ms);

/* The unit status of an element that ended in state with exit_code; by_us: wfengine had
 * scancelled it. Sets *timed_out for TIMEOUT. */
wf_status wf__slurm_state_status(const char *state, int exit_code, bool by_us, bool *timed_out);

/* The number that `key` has in `scontrol show config` output (text[0..len)), as in the line
 * "MaxArraySize            = 1001"; -1 when the key is absent or its value is not a plain
 * non-negative number. */
long long wf__slurm_config_num(const char *text, size_t len, const char *key);

/* Whether sbatch's message (its stderr) says the request can never be accepted as it is (an
 * invalid partition, account, array, option...): such a refusal fails its units without
 * retries. Everything else (the controller busy or unreachable, a job limit) counts as
 * transient. The list is in slurm_parse.c and docs/slurm.md. */
bool wf__slurm_sbatch_permanent(const char *message);

/* squeue's %S time ("2026-12-06T22:01:02", local time) in seconds since the epoch; -1 for
 * anything else ("N/A", "Unknown", garbage). */
int64_t wf__slurm_parse_datetime(const char *text);

/* One sbatch call of a split array: elements [first, first + n) of the submission, with
 * `concurrency` as its %C (0: none), submitted after piece `after` has ended
 * (--dependency=afterany, -1: at once). */
typedef struct wf__slurm_piece {
    size_t first, n;
    int concurrency;
    long after;
} wf__slurm_piece;

/* Splits an array of n elements (n > 0) for a cluster whose arrays hold at most max_array
 * elements (indexes 0..max_array-1; max_array < 1 is taken as 1) with at most concurrency
 * (0: no limit) running at once, into *pieces (allocated; free it). The pieces go in
 * L = min(concurrency, pieces) lanes: piece k waits for piece k-L, and the lanes share the
 * concurrency (each gets concurrency/L, the first concurrency%L one more), so that the
 * whole never runs more than `concurrency` elements at once. Returns the number of pieces. */
size_t wf__slurm_split(size_t n, long max_array, int concurrency, wf__slurm_piece **pieces);

#endif
