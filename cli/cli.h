/*
 * cli.h: what the command files of the wfengine CLI share. main.c only dispatches; each
 * command is one file with one entry point taking the arguments after the command's name;
 * the command files call only the shared files (common.c, progress.c, run_lines.c, junit.c),
 * never each other, and use only the public API (wfengine.h, wf_store.h). Each returns the
 * process exit status of spec/cli.md (0 success, 1 the workflow failed, 2 usage or
 * validation error, 3 the store cannot be used, 4 out of memory (WF_EXIT_NOMEM, from wf_oom),
 * 130 stopped by a signal).
 */
#ifndef WF_CLI_H
#define WF_CLI_H

#include <stdbool.h>

#include "wfengine.h"

enum {
    WF_EXIT_OK = 0,
    WF_EXIT_FAILED = 1,
    WF_EXIT_USAGE = 2,
    WF_EXIT_STORE = 3,
    WF_EXIT_OOM = WF_EXIT_NOMEM, /* never returned: wf_oom() exits with it */
    WF_EXIT_SIGNAL = 130,
};

/* ---- the commands (main.c calls them) ----------------------------------------------------- */

int wf_cli_run(int argc, char **argv);        /* run.c */
int wf_cli_validate(int argc, char **argv);   /* validate.c */
int wf_cli_graph(int argc, char **argv);      /* graph.c */
int wf_cli_list(int argc, char **argv);       /* list.c */
int wf_cli_runs(int argc, char **argv);       /* store_cmds.c */
int wf_cli_show(int argc, char **argv);       /* store_cmds.c */
int wf_cli_logs(int argc, char **argv);       /* store_cmds.c */
int wf_cli_gc(int argc, char **argv);         /* store_cmds.c */
int wf_cli_report(int argc, char **argv);     /* report.c */
int wf_cli_completion(int argc, char **argv); /* completion.c: bash|zsh */

/* ---- shared by the command files (common.c) ----------------------------------------------- */

/* Prints "wfengine: " and the message to stderr. */
void wf_cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints every error of the list with its caret. */
void wf_cli_print_errors(const wf_errlist *errs);
/* Loads a workflow, printing its errors (or, when it loads, its warnings); NULL on failure.
 * A big file is loaded into huge pages (wf_cli_heap_reserve). */
wf_workflow *wf_cli_load(const char *path);
/* Before building about `bytes` of small objects (a big workflow's model): grows the heap by
 * that much once and advises the kernel to back it with transparent huge pages, so that the
 * load takes a few hundred page faults instead of one per 4 KiB (heap.c; B15 in
 * bench/README.md). Does nothing below 8 MiB or once reserved. Advice only: where huge pages
 * are off, nothing changes but the heap's growth step. Main thread, before others start. */
void wf_cli_heap_reserve(size_t bytes);
/* After the load: glibc's own growth and trim thresholds again (free room at the heap's top
 * is given back as before). */
void wf_cli_heap_release(void);
/* True when arg is "-h" or "--help". */
bool wf_cli_is_help(const char *arg);
/* Length of the valid UTF-8 sequence at s (1-4), or 0 when it is not one (nor an XML
 * character: surrogates, overlong forms, U+FFFE and U+FFFF are refused). */
size_t wf_cli_utf8_len(const unsigned char *s);
/* Appends s with every control character shown as text, so that it reaches the terminal (or
 * the CI log) as what the process wrote, never as a command to the terminal (common.c says
 * how each byte is shown). */
void wf_cli_add_safe(wf_strbuf *sb, const char *s);
/* A unit's name as the CLI shows it: "task" (no items), "task[3]", or "task[3] (label)" when
 * the item has a label (wf_event.label, a stored unit's "label"; shown safe as above). */
void wf_cli_unit_name(wf_strbuf *sb, const char *task, int64_t index, const char *label);
/* Where the tail of text worth showing starts: its last max_lines lines (0: any number; the
 * newlines that end the text do not count) within its last max_bytes bytes (0: any number),
 * at a character, never inside a UTF-8 sequence. Points into text (not NULL). O(length). */
const char *wf_cli_tail_start(const char *text, int max_lines, size_t max_bytes);

/* The store directory: given (--store), else $WFENGINE_STORE, else ".wfengine". */
const char *wf_cli_store_dir(const char *given);
/* The store must exist for a command that inspects or cleans it (such a command never
 * creates one): prints where it looked and returns 3 when there is nothing at dir, else 0. */
int wf_cli_store_exists(const char *dir);
/* Opens (creating) the store; prints the error and returns 3 when it cannot be used. */
int wf_cli_open_store(const char *given, wf_store **out);
/* The same for the commands that only read (runs, show, logs, report): opens the store
 * read-only (wf_store_open_readonly); a store that does not exist is not created (the error
 * says where it looked). */
int wf_cli_open_existing_store(const char *given, wf_store **out);
/* Closes the store (NULL is fine). Returns status, or 3 with the error printed when the
 * store failed. */
int wf_cli_close_store(wf_store *store, int status);
/* o[key] as an integer (dflt when absent or null) / a string (NULL when absent or null). */
int64_t wf_cli_json_int(json_object *o, const char *key, int64_t dflt);
const char *wf_cli_json_str(json_object *o, const char *key);
/* A recorded task's or unit's status for people: its "status", or "failed, ignored" for a
 * failure under continue-on-error ("ignored": true). */
const char *wf_cli_status_text(json_object *o);

/* ---- progress on stderr (progress.c) ------------------------------------------------------
 * tty: a live display at the bottom of the terminal (done/total units, units running and
 * queued, running tasks with their elapsed time, failures and ignored failures, elapsed and an
 * estimate), redrawn in place by a ticker thread; the event lines (run_lines.c) are printed
 * above it, never through it, except a success or a skipped item's own line (-v: all). plain:
 * the event lines. none: only warnings. With GITHUB_ACTIONS=true (and not none): what github.c
 * makes of the events too. All text comes from events, so secrets are already masked. */
typedef enum wf_cli_progress_mode {
    WF_PROGRESS_AUTO = 0, /* tty when stderr is a terminal (and TERM is not dumb), else plain */
    WF_PROGRESS_TTY,
    WF_PROGRESS_PLAIN,
    WF_PROGRESS_NONE,
} wf_cli_progress_mode;

typedef struct wf_cli_progress wf_cli_progress;

/* "auto", "tty", "plain", "none" to a mode; -1 for anything else. */
int wf_cli_progress_parse(const char *s);
/* A new display (never NULL). Call it with SIGINT/SIGTERM blocked: the tty mode starts a
 * thread that must inherit the mask. start_ms: wf_now_ms() of the run's start. wf (borrowed,
 * only during the call) and store_dir (where the run is recorded, or NULL) are for
 * wf_cli_github_new. */
wf_cli_progress *wf_cli_progress_new(wf_cli_progress_mode mode, bool quiet, bool verbose,
                                     int64_t start_ms, const wf_workflow *wf,
                                     const char *store_dir);
/* Updates the display's state from an event; call it for every event, first. */
void wf_cli_progress_event(wf_cli_progress *p, const wf_event *ev);
/* Prints the lines the run printer made for ev (each ends in a newline), above the live
 * display in tty mode; drops what the mode does not show. */
void wf_cli_progress_print(wf_cli_progress *p, const wf_event *ev, const char *lines);
/* Prints text (whole lines, shown as they are) above the live display, in every mode: what
 * the run itself has to say while it runs ("wfengine: interrupted: stopping ..."). Thread-safe
 * (the main thread calls it on a stop signal while the run goes on); not async-signal-safe. */
void wf_cli_progress_note(wf_cli_progress *p, const char *text);
/* Stops the ticker and erases the live display. NULL is fine. */
void wf_cli_progress_free(wf_cli_progress *p);

/* ---- the run's lines (run_lines.c) --------------------------------------------------------
 * The text of each event, "[   1.04s] " then a status column: `ok`, `FAILED`, `FAILED
 * (ignored)` (continue-on-error), `skipped`, `cancelled`, `retry`, `start` (-v), `cached`,
 * `reused` (-v). A failed unit's line is followed by the tail of its stdout and stderr (10
 * lines, 4 KiB of each; -v: all of it). Without -v a fan-out is folded: its successes into
 * "ok       TASK: DONE/N items done [D/T units]" at every tenth of its items or every 5 s,
 * whichever comes first; its skipped items into "skipped  TASK: N items skipped: REASON" and
 * those that never started into "cancelled TASK: N items not started: REASON", one line per
 * reason (at most 8), and items a cluster refused with the message of one printed before
 * ("not submitted: ...", a refused job array) into "FAILED   TASK: N more items not submitted
 * for the same reason", printed before the task's end line, which carries the last count ("(N
 * items: A ok, B failed)", and how many came from the cache). The run's last line is followed
 * by a recap of the failures and the ignored failures (each with the line of its output that
 * says what went wrong). -q: only failures, not-started lines, warnings, the last line and the
 * recap. Call it from one thread. */
typedef struct wf_cli_lines wf_cli_lines;

/* Where the run was recorded, for wf_cli_lines_pointers. */
typedef struct wf_cli_run_place {
    const char *run_id;
    const char *store_dir; /* the store's directory */
    const char *store_arg; /* --store as given (repeated in the commands), or NULL */
    const char *file;      /* the workflow file as given */
    bool succeeded;        /* the run's status */
} wf_cli_run_place;

/* Never NULL. start_ms: wf_now_ms() of the run's start (lines are stamped from it). */
wf_cli_lines *wf_cli_lines_new(bool quiet, bool verbose, int64_t start_ms);
/* Appends to out the lines ev calls for (whole lines, raw: what units wrote is not made safe
 * here; nothing for most events of a fan-out). */
void wf_cli_lines_event(wf_cli_lines *l, const wf_event *ev, wf_strbuf *out);
/* Appends "wfengine: recorded as run ID in DIR (wfengine show ID)", and when the run did not
 * succeed the commands that show the first failure's whole output (wfengine logs), the run as
 * a page (wfengine report) and run again what did not succeed (--resume last). */
void wf_cli_lines_pointers(const wf_cli_lines *l, wf_strbuf *out, const wf_cli_run_place *place);
/* Appends "wfengine run FILE --resume RESUME [--store DIR]" and a newline, each word quoted
 * for a POSIX shell when it needs to be. */
void wf_cli_resume_command(wf_strbuf *out, const char *file, const char *resume,
                           const char *store_arg);
/* Prints run's "unknown option" error for opt, with the option of ours that make's, ninja's
 * or another tool's user meant (-n: --dry-run), or a near spelling; returns -1. */
int wf_cli_unknown_run_option(const char *opt);
/* Appends s quoted for a POSIX shell when it holds anything but plain characters. */
void wf_cli_shell_word(wf_strbuf *sb, const char *s);
/* show_pipelines.c: for each chain of pipelined tasks in show --json's `tasks` (from a task
 * that is no pipeline to one that feeds no other), prints how far its items got: "  pipeline
 * a -> b -> c (N items): X through, Y stopped at a, Z at b". */
void wf_cli_print_pipelines(json_object *tasks);
void wf_cli_lines_free(wf_cli_lines *l); /* NULL is fine */

/* ---- GitHub Actions (github.c) -----------------------------------------------------------
 * Each task's output is folded into a ::group:: when the task ends (with workflow commands
 * stopped inside; failed units first, the tail when it is long); failures are ::error
 * annotations at the task's line in the file, ignored failures (continue-on-error) ::warning,
 * retries ::notice, at most 10 of each kind; at the end a Markdown summary is appended to
 * $GITHUB_STEP_SUMMARY when it is set. docs/cli.md says what each holds. Not thread-safe:
 * progress.c calls it under its lock. */
typedef struct wf_cli_github wf_cli_github;

/* A GitHub printer when GITHUB_ACTIONS=true, else NULL. wf: the workflow being run (its file
 * and each task's position are read now; borrowed during the call only); store_dir: where
 * the run is recorded, for the summary's pointer to `wfengine report` (NULL: not recorded);
 * quiet: groups of failed tasks only. */
wf_cli_github *wf_cli_github_new(const wf_workflow *wf, const char *store_dir, bool quiet);
/* Appends to out the lines ev calls for (whole lines; nothing for most events). At RUN_END
 * it appends the summary to $GITHUB_STEP_SUMMARY; a summary that cannot be written is a
 * "wfengine: warning:" line in out, and nothing else changes. */
void wf_cli_github_event(wf_cli_github *g, const wf_event *ev, wf_strbuf *out);
void wf_cli_github_free(wf_cli_github *g); /* NULL is fine */

/* ---- JUnit XML (junit.c) ------------------------------------------------------------------
 * One testcase per task, or per item (NAME[INDEX]) of a with-items task; a task that never
 * expanded into items is one testcase. classname is WORKFLOW.TASK; failures carry the error
 * as message and the tail of stderr as text; skipped and cancelled units are <skipped>. */
typedef struct wf_cli_junit wf_cli_junit;

/* Checks that path can be written (its directory exists and is writable) before anything
 * runs; prints the error and returns false otherwise. */
bool wf_cli_junit_check_path(const char *path);
/* A report on a run of wf (testcases in the file's task order). Never NULL. */
wf_cli_junit *wf_cli_junit_new(const wf_workflow *wf);
void wf_cli_junit_event(wf_cli_junit *j, const wf_event *ev);
/* The task is not part of the run (left out by targets): it gets no testcase. */
void wf_cli_junit_leave_out(wf_cli_junit *j, const char *task);
/* Writes the report (to a temporary file renamed over path). Returns false, with the error
 * printed, when it cannot. Items that never started are added as skipped testcases. */
bool wf_cli_junit_write(wf_cli_junit *j, const char *path);
void wf_cli_junit_free(wf_cli_junit *j);

/* ---- wfengine report (report*.c) -----------------------------------------------------------
 * report.c runs the command and writes the header; report_failures.c the list of units that
 * did not succeed with their output's tails; report_table.c the table of tasks and items;
 * report_timeline.c the timeline; report_script.c holds the page's CSS and script. All read
 * the run through report_data.c, which calls none of them. */

/* What the page shows a unit (or an attempt, or a task) as, ordered so that a higher value is
 * worse (a merged bar of the timeline takes the colour of its worst unit). IGNORED is a failure
 * under continue-on-error (status "failed", "ignored": true): not a failure of the run.
 * RETRIED is an attempt that failed and was tried again; never a unit's final state. */
enum {
    WF_CLI_ST_SUCCEEDED,
    WF_CLI_ST_RETRIED,
    WF_CLI_ST_SKIPPED,
    WF_CLI_ST_IGNORED,
    WF_CLI_ST_RUNNING,
    WF_CLI_ST_INTERRUPTED,
    WF_CLI_ST_CANCELLED,
    WF_CLI_ST_FAILED,
    WF_CLI_N_ST
};
/* Each state's key (CSS class, filter value, URL: "ignored"), label ("failed, ignored") and
 * colour, and the order states are listed in on the page. */
extern const char *const wf_cli_report_st_keys[WF_CLI_N_ST];
extern const char *const wf_cli_report_st_labels[WF_CLI_N_ST];
extern const char *const wf_cli_report_st_colors[WF_CLI_N_ST];
extern const int wf_cli_report_st_order[WF_CLI_N_ST];

/* One unit of the run: a task without items, an item, or a task that has no units at all
 * (skipped before it ran, or its item list failed). */
typedef struct wf_cli_report_unit {
    json_object *task;  /* borrowed from the document */
    json_object *units; /* the task's units (borrowed), or NULL for a task without any */
    size_t first, last; /* its attempts: units[first..last], the latest last */
    int64_t index;      /* -1: not an item */
    int state;          /* of the latest attempt (of the task when units is NULL) */
} wf_cli_report_unit;

/* The run being reported, read once (wf_cli_report_read). The page is built in out. */
typedef struct wf_cli_report_run {
    json_object *doc;
    struct wf_store *store; /* for the output's blobs */
    const char *run_id;
    json_object *tasks;        /* borrowed from doc; may be NULL */
    int64_t t0, t1;            /* the span of the timeline, wall ms */
    wf_cli_report_unit *units; /* every unit, task by task (owned) */
    size_t n_unit_rows;
    size_t *task_first; /* task i's units are units[task_first[i] .. task_first[i + 1]) */
    /* Items of task i the store has no record of (it records a unit when it ends): they never
     * started, or had not ended when the run's process died, or have not yet in a run still
     * running. Counted in unit_counts in wf_cli_report_missing_state's state. */
    int64_t *task_missing;
    /* Units of task i the store has but the page did not read (past its first units, not
     * failed), by state, from the task's counts; task_unread_from[i] the first index of them. */
    int64_t (*task_unread)[WF_CLI_N_ST];
    int64_t *task_unread_from;
    bool running; /* the run has not ended */
    int64_t unit_counts[WF_CLI_N_ST], task_counts[WF_CLI_N_ST], n_units, n_attempts;
    int64_t n_items; /* units that are items of a with-items task */
    /* Bytes of output tails the page may still hold: for units that did not succeed, and for
     * those that did (report_failures.c); units past a budget get none. */
    size_t budget_problems, budget_ok;
    int64_t ok_logs_left_out; /* succeeded units with output the budget left out */
    wf_strbuf out;
} wf_cli_report_run;

/* The state of o (a task or an attempt): its "status" and "ignored"; a missing or unknown
 * status is WF_CLI_ST_RUNNING (a unit of a run that was killed). */
int wf_cli_report_state(json_object *o);
/* The state of attempt k of u: an earlier attempt that failed is WF_CLI_ST_RETRIED. */
int wf_cli_report_attempt_state(const wf_cli_report_unit *u, size_t k);
/* The unit's latest attempt, or its task when it has none. */
json_object *wf_cli_report_unit_json(const wf_cli_report_unit *u);
/* True for a unit that never started (no start time). */
bool wf_cli_report_unit_started(const wf_cli_report_unit *u);
const char *wf_cli_report_unit_task(const wf_cli_report_unit *u);
/* o[key] is true (missing: false). */
bool wf_cli_report_get_bool(json_object *o, const char *key);
/* Appends s (at most max bytes; 0: all of it) escaped for HTML text and attributes alike;
 * bytes that are not UTF-8 and control characters become U+FFFD. */
void wf_cli_report_esc_n(wf_strbuf *sb, const char *s, size_t max);
void wf_cli_report_esc(wf_strbuf *sb, const char *s);
/* What the page calls a unit: NAME or NAME[INDEX] (index >= 0), escaped. */
void wf_cli_report_esc_unit(wf_strbuf *sb, const char *task, int64_t index);
/* The same for u, followed by its item's label when it has one: NAME[INDEX] (LABEL). */
void wf_cli_report_esc_unit_named(wf_strbuf *sb, const wf_cli_report_unit *u);
/* A unit's anchor, escaped for an attribute: "TASK/INDEX", or "TASK" (index < 0). */
void wf_cli_report_esc_anchor(wf_strbuf *sb, const char *task, int64_t index);
size_t wf_cli_report_n_tasks(const wf_cli_report_run *r);
/* Reads r->tasks into r->units, the counts and the timeline's span. */
void wf_cli_report_read(wf_cli_report_run *r);
/* What task i's items without a record are: WF_CLI_ST_RUNNING in a run still running (not
 * counted), WF_CLI_ST_INTERRUPTED when the task was (some may have been running when its
 * process died), WF_CLI_ST_SKIPPED when the task was, else WF_CLI_ST_CANCELLED (they never
 * started: fail-fast, a stop). */
int wf_cli_report_missing_state(const wf_cli_report_run *r, size_t i);
/* Appends the indexes of task i's items that have no record, as ranges ("4-39, 41"), and
 * sets *first and *last to the lowest and highest. */
void wf_cli_report_add_missing(const wf_cli_report_run *r, size_t i, wf_strbuf *sb, int64_t *first,
                               int64_t *last);
/* Frees what wf_cli_report_read made (not the document, not out). */
void wf_cli_report_release(wf_cli_report_run *r);
/* "3 succeeded, 1 failed" from counts, in the page's order (as badges when badges is true);
 * "" when all are zero. */
void wf_cli_report_add_counts(wf_strbuf *sb, const int64_t counts[WF_CLI_N_ST], bool badges);
/* Appends a duration ("" when the span is not known) / "+DURATION" since the run started. */
void wf_cli_report_add_duration(wf_strbuf *sb, int64_t start, int64_t end);
void wf_cli_report_add_offset(const wf_cli_report_run *r, wf_strbuf *sb, int64_t start);

/* The tails of output the page holds: at most TAIL_PROBLEM bytes of each stream of a unit that
 * did not succeed, TAIL_OK of one that did, and at most BUDGET_* bytes of each kind in all
 * (units past a budget get a pointer to `wfengine logs` instead), so that a run of 100,000
 * units still gives a page a browser opens. */
#define WF_CLI_REPORT_TAIL_PROBLEM    (8 * 1024)
#define WF_CLI_REPORT_TAIL_OK         (2 * 1024)
#define WF_CLI_REPORT_BUDGET_PROBLEMS (8 * 1024 * 1024)
#define WF_CLI_REPORT_BUDGET_OK       (1024 * 1024)

/* report_failures.c: the section listing every unit that failed, was cancelled or had its
 * failure ignored, with the tails of its output. Never cut short: units cancelled before they
 * started are folded into one entry per task and reason. */
void wf_cli_report_write_failures(wf_cli_report_run *r);
/* Appends the tails of u's latest attempt's stdout and stderr, each a folded <details> of at
 * most cap bytes (a visible "truncated" marker when cut), charged to *budget; nothing for an
 * empty stream. Returns false, writing nothing, when *budget is spent. open: unfold the first
 * non-empty one. */
bool wf_cli_report_write_tails(wf_cli_report_run *r, wf_strbuf *sb, const wf_cli_report_unit *u,
                               size_t cap, size_t *budget, bool open);
/* An <ol> of the earlier attempts of u (nothing when it has one): state, exit code, duration
 * and error of each. */
void wf_cli_report_write_attempts(wf_cli_report_run *r, wf_strbuf *sb, const wf_cli_report_unit *u);
/* True for a unit the failures section lists and the table never leaves out: failed,
 * interrupted, ignored, or cancelled after it started. */
bool wf_cli_report_unit_kept(const wf_cli_report_unit *u);
/* report_table.c: the table: a row per task, its items folded under it (counts per state),
 * capped at a number of rows that never drops a unit that failed or ran and was cancelled. */
void wf_cli_report_write_table(wf_cli_report_run *r);
/* report_timeline.c: appends the timeline's SVG to r->out. */
void wf_cli_report_write_timeline(wf_cli_report_run *r);
/* report_script.c: the page's style sheet and script, each as a NULL-terminated list of parts
 * (C limits the length of one string literal); wf_cli_report_add_parts appends one. */
extern const char *const wf_cli_report_css[];
extern const char *const wf_cli_report_js[];
void wf_cli_report_add_parts(wf_strbuf *sb, const char *const *parts);

#endif
