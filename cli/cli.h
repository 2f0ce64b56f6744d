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
/* Loads a workflow, printing its errors (or, when it loads, its warnings); NULL on failure. */
wf_workflow *wf_cli_load(const char *path);
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
 * (the signal watcher calls it); not async-signal-safe. */
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
 * reason (at most 8), printed before the task's end line, which carries the last count ("(N
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
/* Writes the report (to a temporary file renamed over path). Returns false, with the error
 * printed, when it cannot. Items that never started are added as skipped testcases. */
bool wf_cli_junit_write(wf_cli_junit *j, const char *path);
void wf_cli_junit_free(wf_cli_junit *j);

/* ---- wfengine report (report.c, report_data.c, report_timeline.c) -------------------------
 * report.c writes the page (header, table) and runs the command; report_timeline.c draws the
 * timeline; both read the run through report_data.c, which calls neither. */

/* A unit's status, ordered so that a higher value is worse (a merged bar of the timeline
 * takes the colour of its worst unit). */
enum {
    WF_CLI_ST_SUCCEEDED,
    WF_CLI_ST_SKIPPED,
    WF_CLI_ST_RUNNING,
    WF_CLI_ST_INTERRUPTED,
    WF_CLI_ST_CANCELLED,
    WF_CLI_ST_FAILED,
    WF_CLI_N_ST
};
/* Each status's name and colour, and the order statuses are listed in on the page. */
extern const char *const wf_cli_report_st_names[WF_CLI_N_ST];
extern const char *const wf_cli_report_st_colors[WF_CLI_N_ST];
extern const int wf_cli_report_st_order[WF_CLI_N_ST];

/* The run being reported, read once. The page is built in out. */
typedef struct wf_cli_report_run {
    json_object *doc;
    const char *run_id;
    json_object *tasks; /* borrowed from doc; may be NULL */
    int64_t t0, t1;     /* the span of the timeline, wall ms */
    /* Units: one per task without items or per item (its latest attempt), or the task itself
     * when it has no units (skipped before it ran). */
    int64_t unit_counts[WF_CLI_N_ST], task_counts[WF_CLI_N_ST], n_units, n_attempts;
    int64_t n_items; /* units that are items of a with-items task */
    wf_strbuf out;
} wf_cli_report_run;

/* The status named s; a missing or unknown one is WF_CLI_ST_RUNNING (a unit of a run that was
 * killed). */
int wf_cli_report_st_parse(const char *s);
/* o[key] is true (missing: false). */
bool wf_cli_report_get_bool(json_object *o, const char *key);
/* Appends s (at most max bytes; 0: all of it) escaped for HTML text and attributes alike;
 * bytes that are not UTF-8 and control characters become U+FFFD. */
void wf_cli_report_esc_n(wf_strbuf *sb, const char *s, size_t max);
void wf_cli_report_esc(wf_strbuf *sb, const char *s);
/* NAME or NAME[INDEX] (index >= 0), escaped. */
void wf_cli_report_esc_unit(wf_strbuf *sb, const char *task, int64_t index);
size_t wf_cli_report_n_tasks(const wf_cli_report_run *r);
/* A task's list of units (borrowed from the document), or NULL; and its length. */
json_object *wf_cli_report_task_units(json_object *task);
size_t wf_cli_report_n_task_units(json_object *task);
/* Units come by index then attempt: the attempts of the unit at k are units[k..returned]. */
size_t wf_cli_report_unit_last(json_object *units, size_t k);
/* Fills r's counts and the timeline's span from r->tasks. */
void wf_cli_report_count(wf_cli_report_run *r);
/* "3 succeeded, 1 failed" from counts, in the page's order (as badges when badges is true);
 * "" when all are zero. */
void wf_cli_report_add_counts(wf_strbuf *sb, const int64_t counts[WF_CLI_N_ST], bool badges);
/* report_timeline.c: appends the timeline's SVG to r->out. */
void wf_cli_report_write_timeline(wf_cli_report_run *r);

#endif
