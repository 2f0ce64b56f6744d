/* wfengine: the command line (spec/cli.md, docs/cli.md). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wf_workflow.h"

#include "cli.h"

static const char usage[] =
    "usage: wfengine COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  run FILE [-i NAME=VALUE]... [--inputs FILE] [-j N] [--fail-fast] [--dry-run] [--json]\n"
    "           [--store DIR|--no-store] [--resume RUN|last [--force]] [--no-cache] [-q|-v]\n"
    "           [--junit FILE] [--progress auto|tty|plain|none]\n"
    "                               run a workflow (recorded in .wfengine/)\n"
    "  validate FILE...             check workflow files; every error as FILE:LINE:COL\n"
    "  graph FILE [--format dot|mermaid]\n"
    "                               print the task graph\n"
    "  runs [--limit N] [--json]    the recorded runs, newest first\n"
    "  show RUN|last [--json]       every task and item of a run\n"
    "  logs RUN|last TASK[INDEX] [--attempt K] [--stderr]\n"
    "                               what a task or item wrote\n"
    "  report RUN|last -o FILE.html a run as one self-contained HTML page\n"
    "  gc [--keep-runs N]           delete old runs and unreferenced outputs\n"
    "  completion bash|zsh          print a shell completion script\n"
    "  version                      print the version\n"
    "  help [COMMAND]               this text, or a command's help\n"
    "\n"
    "Exit status: 0 success, 1 the workflow failed, 2 usage or validation error,\n"
    "3 the store cannot be used, 4 out of memory, 130 stopped by SIGINT/SIGTERM.\n"
    "\n"
    "Examples:\n"
    "  wfengine run workflows/hello.yaml\n"
    "  wfengine run workflows/health-check.yaml -i region=eu-west-1 -j 4\n"
    "  wfengine validate workflows/*.yaml\n"
    "  wfengine graph workflows/matrix-build.yaml --format mermaid\n";

void wf_cli_errorf(const char *fmt, ...)
{
    va_list ap;

    fputs("wfengine: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void wf_cli_print_errors(const wf_errlist *errs)
{
    for (size_t i = 0; i < errs->len; i++)
        wf_error_print(stderr, &errs->items[i]);
}

wf_workflow *wf_cli_load(const char *path)
{
    wf_workflow *wf = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    if (wf_workflow_load_file(path, &wf, &errs) != WF_OK) {
        wf_cli_print_errors(&errs);
        if (errs.len > 1)
            fprintf(stderr, "%s: %zu errors\n", path, errs.len);
        wf = NULL;
    }
    wf_errlist_release(&errs);
    return wf;
}

size_t wf_cli_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        return (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xE0 && s[0] <= 0xEF) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
            return 0; /* overlong, or a UTF-16 surrogate */
        if (s[0] == 0xEF && s[1] == 0xBF && (s[2] == 0xBE || s[2] == 0xBF))
            return 0; /* U+FFFE and U+FFFF are not XML characters */
        return 3;
    }
    if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

bool wf_cli_is_help(const char *arg)
{
    return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;

    /* wfengine uses OpenSSL for SHA-256 alone: its configuration file has nothing to say. */
    wf_sha256_skip_openssl_config();
    if (cmd == NULL) {
        fputs(usage, stderr);
        return WF_EXIT_USAGE;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("wfengine %s\n", WF_VERSION);
        return WF_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 || wf_cli_is_help(cmd)) {
        if (argc > 2 && strcmp(cmd, "help") == 0) {
            char *sub[] = { argv[2], (char *)"--help", NULL };

            if (strcmp(argv[2], "run") == 0)
                return wf_cli_run(2, sub);
            if (strcmp(argv[2], "validate") == 0)
                return wf_cli_validate(2, sub);
            if (strcmp(argv[2], "graph") == 0)
                return wf_cli_graph(2, sub);
            if (strcmp(argv[2], "runs") == 0)
                return wf_cli_runs(2, sub);
            if (strcmp(argv[2], "show") == 0)
                return wf_cli_show(2, sub);
            if (strcmp(argv[2], "logs") == 0)
                return wf_cli_logs(2, sub);
            if (strcmp(argv[2], "report") == 0)
                return wf_cli_report(2, sub);
            if (strcmp(argv[2], "gc") == 0)
                return wf_cli_gc(2, sub);
            if (strcmp(argv[2], "completion") == 0)
                return wf_cli_completion(2, sub);
            wf_cli_errorf("no help for unknown command '%s'", argv[2]);
            return WF_EXIT_USAGE;
        }
        fputs(usage, stdout);
        return WF_EXIT_OK;
    }
    if (strcmp(cmd, "run") == 0)
        return wf_cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "validate") == 0)
        return wf_cli_validate(argc - 1, argv + 1);
    if (strcmp(cmd, "graph") == 0)
        return wf_cli_graph(argc - 1, argv + 1);
    if (strcmp(cmd, "runs") == 0)
        return wf_cli_runs(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0)
        return wf_cli_show(argc - 1, argv + 1);
    if (strcmp(cmd, "logs") == 0)
        return wf_cli_logs(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0)
        return wf_cli_report(argc - 1, argv + 1);
    if (strcmp(cmd, "gc") == 0)
        return wf_cli_gc(argc - 1, argv + 1);
    if (strcmp(cmd, "completion") == 0)
        return wf_cli_completion(argc - 1, argv + 1);
    {
        static const char *const commands[] = { "run",        "validate", "graph",  "runs",
                                                "show",       "logs",     "report", "gc",
                                                "completion", "version",  "help",   NULL };
        const char *near = wf_closest(cmd, commands);

        if (near != NULL)
            wf_cli_errorf("unknown command '%s'; did you mean '%s'? (see wfengine help)", cmd,
                          near);
        else
            wf_cli_errorf("unknown command '%s' (see wfengine help)", cmd);
    }
    return WF_EXIT_USAGE;
}
