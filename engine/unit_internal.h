/*
 * unit_internal.h: what the files of one unit's execution share (unit.c runs a unit,
 * unit_command.c renders its command and environment, unit_store.c writes its data and
 * handles the cache). Every function may run on any executor thread: they read only what is
 * immutable while units run and write only the completion c, which the caller owns.
 */
#ifndef WF_UNIT_INTERNAL_H
#define WF_UNIT_INTERNAL_H

#include "wf_proc.h"

#include "run_internal.h"

/* ---- unit_command.c ---------------------------------------------------------------------- */

/* Marks c FAILED with "what: <err's message>". */
void wf__unit_fail(wf_completion *c, const char *what, const wf_error *err);
/* The argv of a run task: a direct exec when the rendered `run` has no shell syntax, else
 * the shell with the script as its last argument (*via_shell set). NULL-terminated, owned
 * (wf__strv_free). NULL (c failed) on a template error. */
char **wf__unit_argv(wf_run *r, const wf_task *task, const wf_ctx *ctx, wf_completion *c,
                     bool *via_shell);
/* Says which argument is over the kernel's limit (c failed, false) instead of E2BIG's
 * "Argument list too long" for the whole command. */
bool wf__unit_args_fit(char *const *argv, wf_completion *c);
/* Moves a shell script too long for one argument into a private temporary file that the
 * shell sources; *path is the file to remove after the unit (NULL when none). False (c
 * failed) when the file cannot be written. */
bool wf__unit_spill_script(char **argv, char **path, wf_completion *c);
/* The unit's environment: the run's (or its task's) prepared base plus the task's env and
 * the engine's variables, in one allocation (free()). NULL (c failed) on a template error or
 * a value over the kernel's limit. */
char **wf__unit_envp(wf_run *r, const wf_task *task, const wf_ctx *ctx, const wf_job *job,
                     wf_completion *c);
/* Frees a NULL-terminated array of owned strings (NULL is fine). */
void wf__strv_free(char **v);

/* ---- unit_scratch.c: a process unit's own TMPDIR and $WF_RESULT ----------------------------- */

typedef struct wf_unit_scratch {
    char *dir;         /* the unit's directory (mode 0700), removed by close */
    char *result_path; /* dir/result: $WF_RESULT */
    char **envp;       /* the unit's environment with TMPDIR and WF_RESULT set (borrows) */
    char *tmpdir_var, *result_var;
} wf_unit_scratch;

/* The unit's directory (the calling worker thread's, under envp's TMPDIR or /tmp: made once,
 * found empty by each unit) and the environment that names it (s->envp borrows envp's
 * strings: keep envp until close). False (c failed, s empty) when it cannot be made. */
bool wf__unit_scratch_open(char *const *envp, wf_unit_scratch *s, wf_completion *c);
/* What the unit wrote to $WF_RESULT: WF_OK with *text (owned), or, for a file larger than
 * WF_PROC_SPILL_THRESHOLD, WF_OK with *large set and nothing read (the caller takes
 * s->result_path by reference); WF_ENOENT when it wrote nothing there (the result comes from
 * stdout); WF_ERANGE when it is larger than cap bytes (the caller says so); WF_EIO with
 * *error (owned) when it is not a regular file. */
int wf__unit_scratch_result(const wf_unit_scratch *s, size_t cap, char **text, bool *large,
                            char **error);
/* Empties the directory for the worker's next unit (never following a symbolic link; the
 * directory itself goes when the thread ends) and frees s. */
void wf__unit_scratch_close(wf_unit_scratch *s);

/* ---- unit_store.c ------------------------------------------------------------------------ */

/* Writes what the unit's record points at (output blobs, a large result, the item's hash)
 * before the record is queued. */
void wf__unit_store_data(wf_run *r, const json_object *item, bool has_item, wf_completion *c);
/* The cache key of a unit (argv, or the action and its rendered input; the environment;
 * the output mode; cache.key; the declared sources' content). False (c failed) on a template
 * error. */
bool wf__unit_cache_key(wf_run *r, const wf_task *task, const wf_ctx *ctx, char *const *argv,
                        const json_object *input, const char *workdir, wf_completion *c,
                        char key[WF_SHA256_HEX_LEN + 1]);
/* A cache hit fills c as a success, after restoring the entry's generated files into
 * workdir (NULL: the current directory); false on a miss, or when a file cannot be restored
 * (the hit is refused: c gets a warning and the unit runs). */
bool wf__unit_cache_lookup(wf_run *r, const wf_task *task, const char *key, const char *workdir,
                           wf_completion *c);
/* Records a successful, not cached, unit's result under key, with its generated files (a
 * file that cannot be stored leaves the entry unrecorded, with a warning in c). */
void wf__unit_cache_record(wf_run *r, const wf_task *task, const char *key, const char *workdir,
                           wf_completion *c);

/* ---- unit_spill.c: large stdout by reference ---------------------------------------------- */

/* Where a unit's stdout spills (wf_proc_spec.spill_dir): the store's blobs, or the run's
 * spill directory. */
const char *wf__spill_dir_for(const wf_run *r);
/* Stdout that spilled (out->spill_fd >= 0, or out->spill_errno when the file could not even
 * be created) becomes the stdout blob (c->stdout_hash: linked into the store), or a file of
 * the spill directory named by its hash; *ref_path (owned) is the file a result made from it
 * reads. Sets c->out_spilled. False, with c failed, when the file could not be written (a
 * full disk) or kept: then the store failed (to the blobs) or the run did (to the spill
 * directory: wf__run_disk_failed); either way the run stops with exit 3. Any thread. */
bool wf__unit_take_stdout(wf_run *r, wf_proc_output *out, wf_completion *c, char **ref_path);
/* As wf__unit_take_stdout for a large $WF_RESULT: the file becomes a blob (c->result_hash,
 * with c->result_from the task's output mode: the record's result is that blob converted) or
 * a file of the spill directory. */
bool wf__unit_take_result(wf_run *r, wf_proc_output *out, wf_completion *c, char **ref_path);
/* A file written outside wf_proc_run (a cluster job's stdout or $WF_RESULT, a local unit's
 * $WF_RESULT) as a spilled stream in out (which starts as wf_proc_result_init leaves it):
 * its first cap bytes (out->truncated when it has more) hashed as they are read once, in a
 * file of wf__spill_dir_for(r): a hard link to path when it is kept whole and on the same
 * file system (nothing copied; the file must not change afterwards), else a copy. Memory: a
 * 64 KiB buffer whatever the size. A file that cannot be written there (a full disk) is
 * out->spill_errno, for wf__unit_take_stdout/_result to fail the unit. Returns false with
 * *error (owned) when path cannot be read or is not a regular file (a symbolic link is
 * refused). Any thread. */
bool wf__spill_adopt_file(wf_run *r, const char *path, uint64_t cap, wf_proc_output *out,
                          char **error);
/* The unit's result as a reference to path (the spilled stdout `out` describes: its size,
 * SHA256 and lines) converted by the task's output mode: a marker (owned). json is
 * parsed once to check it; lines are counted, not read (more than WF_MAX_LIST_LEN fail the
 * unit). NULL with c failed when the output does not convert. */
json_object *wf__unit_ref_result(wf_run *r, const wf_task *task, const wf_job *job,
                                 const char *path, const wf_proc_output *out, wf_completion *c);

/* ---- cache_files.c: the files of `cache.generates` ---------------------------------------- */

/* The largest generated file a cache entry stores, in bytes (64 MiB). */
#define WF_CACHE_FILE_MAX ((uint64_t)64 << 20)

/* Appends a warning to c->warning (lines; the scheduler emits them as WF_EVENT_WARNING). */
void wf__unit_warn(wf_completion *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stores the regular files task's generates globs match below workdir as blobs; returns
 * their list as JSON (owned; "[]" when none), or NULL (with a warning in c) when one cannot
 * be stored: too large, unreadable, or a store error. A glob that matches no file is a
 * warning. */
char *wf__cache_files_collect(wf_run *r, const wf_task *task, const char *workdir,
                              wf_completion *c);
/* Writes the files of an entry's files_json back below workdir, each atomically with its
 * mode bits. False (with a warning in c) when one cannot be: a path outside the workdir, a
 * missing blob, or a failed write. */
bool wf__cache_files_restore(wf_run *r, const char *workdir, const char *files_json,
                             wf_completion *c);

#endif
