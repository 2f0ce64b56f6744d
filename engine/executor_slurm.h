/*
 * executor_slurm.h: the Slurm executor. Units of `executor: slurm` tasks (and of every
 * process task with --slurm) run as Slurm jobs through the Slurm client (wf_slurm.h): every
 * startable unit of a task at once, as one job array per distinct set of rendered `slurm:`
 * options, with the task's `concurrency` as the array's %C (WF_EXEC_ARRAYS). No limit of its
 * own: the cluster queues what it cannot run yet.
 *
 * start checks that Slurm answers (sbatch, squeue, scontrol on the PATH, the cluster
 * responding) and fails with a message saying what was tried; the job directory is
 * --slurm-dir, else slurm/RUN under the store, else .wfengine-slurm/RUN (absolute, so that
 * the nodes find it). A unit is started for the scheduler when sbatch has accepted it;
 * completions come from the client's poller thread. cancel_all scancels every job; cancel_task
 * does nothing (nothing of a task is held back here). stop cancels what is left, waits for it
 * to be reported and removes the job files (unless --keep-job-files).
 */
#ifndef WF_EXECUTOR_SLURM_H
#define WF_EXECUTOR_SLURM_H

#include "executor.h"

/* A Slurm executor, not started. Never returns NULL (out of memory exits). */
wf_executor *wf_executor_slurm_new(void);

#endif
