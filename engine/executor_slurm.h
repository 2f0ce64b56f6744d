/*
 * executor_slurm.h: the Slurm executor. Units of `executor: slurm` tasks (and of every
 * process task with --slurm) run as Slurm jobs through the Slurm client (wf_slurm.h): every
 * startable unit of a task at once, as one job array per distinct set of rendered `slurm:`
 * options, with the task's `concurrency` as the array's %C (WF_EXEC_ARRAYS). No limit of its
 * own: the cluster queues what it cannot run yet. A submitter thread sends the arrays; it
 * holds retries until the client's poller has done a round that brought no more of them (at
 * most WF_SLURM_COALESCE_MS), so that retries go out as one array.
 *
 * start checks that Slurm answers (sbatch, squeue, scontrol on the PATH, the cluster
 * responding) and fails with a message saying what was tried; the job directory is
 * --slurm-dir, else slurm/RUN under the store, else .wfengine-slurm/RUN (absolute, so that
 * the nodes find it). A unit is started for the scheduler when sbatch has accepted it;
 * completions come from the client's poller thread. A submission sbatch refuses fails its
 * units with one message ("not submitted: ..."); a permanent refusal (an invalid partition...)
 * with no_retry set. cancel_all ends what is held as cancelled and scancels every job;
 * cancel_task ends the task's held units as cancelled (what Slurm has goes on). stop cancels
 * what is left, waits for it to be reported and removes the job files (unless
 * --keep-job-files). The first completion carries the client's warning, if any (a
 * MaxArraySize that could not be read).
 */
#ifndef WF_EXECUTOR_SLURM_H
#define WF_EXECUTOR_SLURM_H

#include "executor.h"

/* A Slurm executor, not started. Never returns NULL (out of memory exits). */
wf_executor *wf_executor_slurm_new(void);

#endif
