/* wfengine validate FILE...: load and check workflows, run nothing. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: wfengine validate FILE...\n"
    "\n"
    "Checks each workflow file: YAML syntax, keys and types, templates, task names,\n"
    "dependencies and cycles. Every error is printed as FILE:LINE:COL: message with the\n"
    "line and a caret. Nothing runs. Exit status 0 when every file is valid, 2 otherwise.\n"
    "\n"
    "Example:\n"
    "  wfengine validate workflows/*.yaml\n";

int wf_cli_validate(int argc, char **argv)
{
    int status = WF_EXIT_OK, files = 0;

    for (int i = 1; i < argc; i++) {
        wf_workflow *wf;

        if (wf_cli_is_help(argv[i])) {
            fputs(help, stdout);
            return WF_EXIT_OK;
        }
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            wf_cli_errorf("validate: unknown option '%s'", argv[i]);
            return WF_EXIT_USAGE;
        }
        files++;
        wf = wf_cli_load(argv[i]);
        if (wf == NULL) {
            status = WF_EXIT_USAGE;
            continue;
        }
        printf("%s: ok\n", argv[i]);
        wf_workflow_free(wf);
    }
    if (files == 0) {
        fputs(help, stderr);
        return WF_EXIT_USAGE;
    }
    return status;
}
