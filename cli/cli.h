/*
 * cli.h: what the command files of the wfengine CLI share. Each command is one file with one
 * entry point taking the arguments after the command's name; each returns the process exit
 * status of spec/cli.md (0 success, 1 the workflow failed, 2 usage or validation error,
 * 3 the store cannot be used, 130 stopped by a signal).
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
    WF_EXIT_SIGNAL = 130,
};

int wf_cli_run(int argc, char **argv);
int wf_cli_validate(int argc, char **argv);
int wf_cli_graph(int argc, char **argv);
int wf_cli_runs(int argc, char **argv);
int wf_cli_show(int argc, char **argv);
int wf_cli_logs(int argc, char **argv);
int wf_cli_gc(int argc, char **argv);

/* The store directory: given (--store), else $WFENGINE_STORE, else ".wfengine". */
const char *wf_cli_store_dir(const char *given);
/* Opens (creating) the store; prints the error and returns 3 when it cannot be used. */
int wf_cli_open_store(const char *given, wf_store **out);

/* Prints "wfengine: " and the message to stderr. */
void wf_cli_errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints every error of the list with its caret. */
void wf_cli_print_errors(const wf_errlist *errs);
/* Loads a workflow, printing its errors; NULL on failure. */
wf_workflow *wf_cli_load(const char *path);
/* True when arg is "-h" or "--help". */
bool wf_cli_is_help(const char *arg);

#endif
