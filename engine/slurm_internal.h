/*
 * slurm_internal.h: what the files of the Slurm client (wf_slurm.h) share; only they include
 * it. The client's files, in the order a submission goes through them:
 *
 *   slurm.c         the client's life: wf_slurm_new, wf_slurm_cancel_all, wf_slurm_free
 *   slurm_submit.c  wf_slurm_submit: the submission directory, its files, sbatch
 *   slurm_track.c   the poller thread: squeue, scontrol and sacct in batches, timeouts,
 *                   scancel
 *   slurm_finish.c  reporting what ended: an element's files read, the done callback, a
 *                   pack's items one by one, pack: auto's rest sized and submitted
 *   slurm_pack.c    the rules of packs: the packed element script, pack: auto's sizing,
 *                   a packed element's time limit (pure functions)
 *   slurm_cmd.c     running Slurm's commands, describing their failures; wf_slurm_check
 *   slurm_parse.c   reading Slurm's answers (pure functions)
 *
 * Calls point one way, down this list: a file calls only files below it (slurm_finish.c
 * calls slurm_submit.c to remove an element's files and submit pack: auto's rest; slurm_cmd.c and
 * slurm_parse.c call none of the others).
 *
 * Threads: the thread that submits (the scheduler's) calls wf_slurm_submit,
 * wf_slurm_cancel_all and wf_slurm_free; the poller thread runs wf__slurm_poller and
 * everything it calls. They share only what
 * struct wf_slurm marks as guarded by mu, and the pending count (atomic).
 */
#ifndef WF_SLURM_INTERNAL_H
#define WF_SLURM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "wf_proc.h"
#include "wf_slurm.h"

/* One element of a submitted job, as the poller follows it. */
typedef struct wf_slurm_job_element {
    uint32_t unit, attempt;
    int64_t start_ms; /* first seen RUNNING, 0 until then */
    int missing;      /* polls since it left the queue with no known state */
    bool queued;      /* listed by the last squeue */
    bool done;        /* reported */
    int64_t ran_ms;   /* a packed item: how long it ran (from its files' mtimes), -1 unknown */
    bool timed_out;   /* scancelled by the poller when the task's timeout passed */
} wf_slurm_job_element;

/* What it takes to sbatch (more of) a packed submission: the probe job of pack: auto keeps it
 * for the items that wait for the sizing rule (slurm_finish.c submits them). */
typedef struct wf_slurm_packsub {
    char *dir, *task_name;
    uint32_t task;
    int concurrency;
    char **args;    /* sbatch options from wf_slurm_opts (--partition, ...), NULL-terminated */
    char *time_opt; /* slurm.time as given, NULL when none */
    int64_t timeout_ms;
    /* The waiting items: files NAME.(base + k), k < n. */
    size_t base, n;
    wf_slurm_job_element *items;
} wf_slurm_packsub;

/* One sbatch call: a job array, or a single job (n == 1). Made by wf_slurm_submit; once it is
 * in the wf_slurm's jobs list, its fields are the poller's, which frees it (wf__slurm_job_free)
 * when every element has been reported. */
typedef struct wf_slurm_job {
    char id[32]; /* as sbatch printed it: the array job id, or the job id */
    char *dir;   /* the submission directory */
    char *task_name;
    uint32_t task;
    bool is_array;
    bool scancelled;   /* we asked Slurm to cancel it */
    int64_t limit_min; /* the --time we passed in minutes, 0 when none */
    bool limit_from_timeout;
    /* The task's timeout, enforced by the poller (0: none). Always 0 for a packed job: its
     * items enforce their own (item_timeout_ms), its elements have the pack's --time. */
    int64_t timeout_ms;
    int64_t submit_ms;
    size_t n, left;
    wf_slurm_job_element *el;
    /* A packed job (wf_slurm.h, "Packs"); items is NULL for a plain one. Element a runs items
     * [a * pack, min((a + 1) * pack, n_items)); item k's files are NAME.(pack_base + k);
     * next[a] is element a's first item not yet reported. */
    size_t pack, pack_base, n_items;
    wf_slurm_job_element *items;
    size_t *next;
    int64_t item_timeout_ms;
    /* pack: auto's probe job: the items that wait for the sizing rule (counted as one more
     * element in left until they are submitted or reported). NULL otherwise. */
    wf_slurm_packsub *rest;
} wf_slurm_job;

struct wf_slurm {
    char *job_dir;        /* absolute */
    int poll_ms;          /* the first interval between polls, and the one after a change */
    int poll_max_ms;      /* polls back off to this when nothing changes */
    long max_array;       /* the cluster's MaxArraySize: elements per sbatch --array */
    char *warning;        /* what went wrong reading the cluster's configuration, or NULL */
    bool keep_files;      /* keep every job file until the caller deletes them */
    char engine_umask[8]; /* "0022": wfengine's umask, restored for each element's command */
    /* Every submission directory made (scheduler thread; read by wf_slurm_free). */
    char **subdirs;
    size_t n_subdirs, cap_subdirs;
    wf_slurm_done_fn done;
    void *user;
    unsigned next_submission; /* scheduler thread only */
    atomic_size_t pending;
    atomic_uint polls; /* poll rounds done (wf_slurm_polls) */

    pthread_mutex_t mu;
    pthread_cond_t cond;
    pthread_t thread;
    /* Guarded by mu: the list (submit appends, the poller removes). A job's fields are the
     * poller's once it is in the list. */
    wf_slurm_job **jobs;
    size_t n_jobs, cap_jobs;
    bool cancel;    /* wf_slurm_cancel_all was called */
    bool stop;      /* wf_slurm_free was called */
    bool kick;      /* poll now */
    bool submitted; /* a job was added since the last poll: polls go back to poll_ms */
};

/* ---- slurm_track.c ----------------------------------------------------------------------- */

/* The poller thread's function (arg: the wf_slurm). Polls until stop is set and every job has
 * been reported; see slurm_track.c. */
void *wf__slurm_poller(void *arg);

/* Frees a job and its strings. NULL is fine. */
void wf__slurm_job_free(wf_slurm_job *j);

/* ---- slurm_finish.c: reporting what ended (poller thread) --------------------------------- */

/* Reads at most cap bytes of path into *out (owned, NUL-terminated); *truncated tells whether
 * there was more. False when the file cannot be opened (then *out is NULL). */
bool wf__slurm_read_capped(const char *path, size_t cap, char **out, bool *truncated);
/* Reports element i of j (for a packed job: the items of element i not reported yet) as ended
 * in state (Slurm's spelling) with exit_code; run_time_ms (-1: unknown) dates a start the
 * poller did not see; note (may be NULL) says where the state came from. Its files are read,
 * the done callback is called once, and the files are removed (unless keep_files). Without
 * the lock: the job's fields are the poller's. */
void wf__slurm_finish(wf_slurm *s, wf_slurm_job *j, size_t i, const char *state, int exit_code,
                      int64_t run_time_ms, const char *note);
/* Reports pack: auto's items held back by j from `from` on as ended with status and the
 * message why, without submitting them; j no longer holds any. */
void wf__slurm_drop_rest(wf_slurm *s, wf_slurm_job *j, size_t from, wf_status status,
                         const char *why);
/* After a poll: the items that running packed elements of jobs[0..n) have finished, and pack:
 * auto's waiting items (sized and submitted once their probe has run). */
void wf__slurm_poll_packs(wf_slurm *s, wf_slurm_job *const *jobs, size_t n);

/* ---- slurm_submit.c ---------------------------------------------------------------------- */

/* Removes a submission directory and everything in it: the directory is wfengine's own (made
 * by wf_slurm_submit) and flat, so every entry is one of our files (or a file an element's
 * wrapper left, such as rc.i.tmp). Failures are ignored: what is left stays behind. */
void wf__slurm_remove_submission(const char *dir);

/* Removes the files of element i of the submission in dir once it has been reported: its
 * command and environment may hold secrets, and its output is in the result (and the store)
 * now. */
void wf__slurm_remove_element_files(const char *dir, size_t i);

/* sbatch for items[0..n) of a packed submission, `pack` per element (files NAME.(base + k)):
 * writes the element script of each job (slurm-B.sh, B the base of its first item) and
 * appends the jobs to s->jobs. More elements than the cluster's MaxArraySize go out as several
 * jobs (wf__slurm_split: whole packs, lanes chained with --dependency=afterany, the concurrency
 * shared). rest (pack: auto's waiting items) goes with the last job and is taken over when it
 * is accepted. pending: count the items (and rest's) in s->pending (false when they already
 * are). Any thread (the poller submits pack: auto's rest); sbatch is rate limited
 * (wf__slurm_run). WF_OK; else err says why, *accepted counts the items accepted before the
 * failure (items[0..*accepted) are the poller's), and the code is WF_EINVAL for a permanent
 * refusal, WF_EEXEC or WF_EIO otherwise, WF_ECANCELLED after a cancel. */
/* slurm_pack.c, for the scripts of slurm_submit.c too: appends s as one single-quoted shell
 * word (' written as '\''): every byte but NUL survives. */
void wf__slurm_shell_quote(wf_strbuf *sb, const char *s);

int wf__slurm_submit_pack(wf_slurm *s, const wf_slurm_packsub *sub, size_t base,
                          const wf_slurm_job_element *items, size_t n, size_t pack,
                          wf_slurm_packsub *rest, bool pending, size_t *accepted, wf_error *err);

/* Frees a wf_slurm_packsub. NULL is fine. */
void wf__slurm_packsub_free(wf_slurm_packsub *sub);

/* Removes what element a of the packed job whose items start at base left of its own
 * (slurm-BASE.out.a, .err.a, .rc.a) once all its items have been reported. */
void wf__slurm_remove_pack_element_files(const char *dir, size_t base, size_t a);

/* ---- slurm_cmd.c ------------------------------------------------------------------------- */

/* Runs argv (found on the engine's PATH) with envp (NULL: wfengine's environment), keeping
 * all of its output in *res (release it with wf_proc_result_release), and kills it after two
 * minutes: sbatch, squeue and scontrol retry on their own while the controller is busy, so
 * one that has not answered by then will not. Returns what wf_proc_run returns.
 * Rate limited: the process makes at most WF_SLURM_CALLS_PER_S (default 10) Slurm calls a
 * second, from all threads and clients together; a call waits for its turn. Thread-safe. */
int wf__slurm_run(const char *const *argv, const char *const *envp, wf_proc_result *res);

/* The cluster's MaxArraySize from `scontrol show config`; when it cannot be read, Slurm's
 * default (1001), with a line in *warning saying what happened. */
long wf__slurm_read_max_array(wf_strbuf *warning);

/* Appends what a command called `what` did, given wf__slurm_run's rc and *res, for a message:
 * "squeue: not found", "squeue did not answer within 120 s", or "squeue failed (exit 1):
 * <the end of its stderr>". */
void wf__slurm_describe_failure(wf_strbuf *sb, const char *what, int rc, const wf_proc_result *res);

/* Appends the last 600 bytes or so of text[0..len), newlines as spaces, trailing white space
 * dropped and "..." first when cut: the end of a command's stderr, short enough for one line. */
void wf__slurm_add_tail(wf_strbuf *sb, const char *text, size_t len);

/* ---- slurm_parse.c ----------------------------------------------------------------------- */

/* Copies the value of key in a `scontrol show job -o` line of len bytes into buf (size
 * bytes, cut to fit): the text after " key=" (or "key=" at the start) up to the next space
 * or newline. Free-form values (JobName, Command) come after the keys we read or are ours
 * (job names are sanitised), so a space inside them does no harm. Returns false (buf "")
 * when the key is absent. */
bool wf__slurm_field(const char *line, size_t len, const char *key, char *buf, size_t size);

/* The non-negative decimal number filling all of s[0..len) (at most 12 digits); -1 otherwise. */
long long wf__slurm_parse_num(const char *s, size_t len);

/* Copies the state's name without sacct's " by 0" or squeue's "+" decorations into buf (size
 * bytes, cut to fit). */
void wf__slurm_base_state(const char *state, char *buf, size_t size);

#endif
