/*
 * wf_slurm.h: the Slurm client. Units of `executor: slurm` tasks run as Slurm jobs: a
 * with-items task as ONE job array (sbatch --array=0-N%C), a plain task as a single job.
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
 * Tracking: one poller thread per wf_slurm polls every submitted job in batches (one
 * `squeue` call for all ids at once, then `scontrol show job -o` or `sacct -c` for final
 * states and exit codes); never `sbatch --wait`. For each element that ended it reads the
 * element's output files and calls the done callback with a wf_slurm_result.
 *
 * Mapping: COMPLETED with exit 0 -> SUCCEEDED; FAILED / exit N -> FAILED with exit_code N;
 * CANCELLED (not by us) -> FAILED "cancelled by Slurm"; TIMEOUT -> FAILED, timed_out;
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
} wf_slurm_opts;

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
    bool out_truncated;       /* stdout was longer than the 64 MiB kept (as wf_proc's) */
    /* What the element wrote to $WF_RESULT (NUL-terminated), or NULL when it wrote nothing
     * there; result_truncated: it was longer than the 64 MiB kept. */
    char *result;
    bool result_truncated;
} wf_slurm_result;

typedef void (*wf_slurm_done_fn)(wf_slurm_result *res, void *user);

/* Checks that Slurm can be used: sbatch, squeue and scontrol on the PATH, and the cluster
 * answering (`sinfo -h` or `squeue -h` within a few seconds). On failure returns WF_EEXEC
 * with err naming what was tried and what happened ("sbatch: not found on PATH
 * (/usr/bin:/bin)", "the Slurm cluster does not answer: squeue: ... (exit 1)"). */
int wf_slurm_check(wf_error *err);

/* A new client whose job files go under job_dir (created, with its parents, mode 0700).
 * Starts the poller thread. poll_ms: the interval between polls (0: 500 ms). keep_files:
 * keep every job file (commands, environments, outputs) after the element has ended and
 * after wf_slurm_free, for debugging; they may hold secrets in clear. Returns NULL with err
 * on failure. */
wf_slurm *wf_slurm_new(const char *job_dir, int poll_ms, bool keep_files, wf_slurm_done_fn done,
                       void *user, wf_error *err);

/* Submits elems[0..n) of task (task_name for the job name) as one job array (or, when
 * as_array is false and n == 1, a single job), with at most `concurrency` elements running
 * at once (0: no limit; the %C of --array), the options, and a time limit per element of
 * timeout_ms (0: none; rounded up to whole minutes for Slurm, which also enforces it).
 * Returns WF_OK when sbatch accepted it (the job id is in err-free log), or WF_EEXEC with
 * err quoting sbatch's stderr; WF_EINVAL for n == 0 or a job_dir Slurm cannot name;
 * WF_ECANCELLED (nothing submitted) after wf_slurm_cancel_all. Never blocks for longer than
 * sbatch takes. */
int wf_slurm_submit(wf_slurm *s, uint32_t task, const char *task_name,
                    const wf_slurm_element *elems, size_t n, bool as_array, int concurrency,
                    const wf_slurm_opts *opts, int64_t timeout_ms, wf_error *err);

/* `scancel`s every job submitted and not yet ended; their elements end as CANCELLED (the
 * callback is still called for each). Returns at once; safe to call twice. */
void wf_slurm_cancel_all(wf_slurm *s);

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

/* The unit status of an element that ended in state with exit_code; by_us: wfengine had
 * scancelled it. Sets *timed_out for TIMEOUT. */
wf_status wf__slurm_state_status(const char *state, int exit_code, bool by_us, bool *timed_out);

#endif
