/* wfengine: the command line (spec/cli.md, docs/cli.md). Dispatches to the command files. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wf_store.h"

#include "cli.h"

static const char usage[] =
    "usage: wfengine COMMAND [ARGS]\n"
    "\n"
    "Commands:\n"
    "  run FILE [TASK]... [--only TASK] [-i NAME=VALUE]... [--inputs FILE] [-j N] [--fail-fast]\n"
    "           [--dry-run] [--json]\n"
    "           [--store DIR|--no-store] [--resume RUN|last [--force]] [--no-cache] [-q|-v]\n"
    "           [--memory SIZE] [--max-output SIZE]\n"
    "           [--junit FILE] [--progress auto|tty|plain|none]\n"
    "                               run a workflow (recorded in .wfengine/)\n"
    "  validate FILE...             check workflow files; every error as FILE:LINE:COL\n"
    "  list FILE [--json]           the tasks (with descriptions) and the inputs\n"
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

/* The commands with a file of their own; "version" and "help" are answered here. */
static const struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
} commands[] = {
    { "run", wf_cli_run },     { "validate", wf_cli_validate },
    { "graph", wf_cli_graph }, { "list", wf_cli_list },
    { "runs", wf_cli_runs },   { "show", wf_cli_show },
    { "logs", wf_cli_logs },   { "report", wf_cli_report },
    { "gc", wf_cli_gc },       { "completion", wf_cli_completion },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    return NULL;
}

static int unknown_command(const char *cmd)
{
    const char *names[N_COMMANDS + 3];
    const char *near;
    size_t n = 0;

    for (size_t i = 0; i < N_COMMANDS; i++)
        names[n++] = commands[i].name;
    names[n++] = "version";
    names[n++] = "help";
    names[n] = NULL;
    near = wf_closest(cmd, names);
    if (near != NULL)
        wf_cli_errorf("unknown command '%s'; did you mean '%s'? (see wfengine help)", cmd, near);
    else
        wf_cli_errorf("unknown command '%s' (see wfengine help)", cmd);
    return WF_EXIT_USAGE;
}

/* The options that take a value, in their long form. */
static bool takes_value(const char *opt, size_t len)
{
    static const char *const names[] = {
        "--input",  "--inputs",     "--env-file",  "--jobs",   "--only",     "--store",  "--resume",
        "--memory", "--max-output", "--executor",  "--junit",  "--progress", "--status", "--limit",
        "--offset", "--attempt",    "--keep-runs", "--format", "--output",
    };

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && memcmp(names[i], opt, len) == 0)
            return true;
    return false;
}

/* GNU's `--name=value` (what go-task, argo, airflow and most tools accept), as `--name value`
 * for the options that take a value: the commands then parse one form. An option's value is
 * never split (`-i x=--a=b`, `--store --memory=1`: the second word is the value). *names
 * gets the option names (owned; NULL when nothing was split); returns the new argv (owned)
 * or argv itself. */
static char **split_long_values(int *argc, char **argv, char ***names)
{
    char **out = NULL;
    int n = 0, k = 0;

    *names = NULL;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');

        if (i > 0 && strncmp(a, "--", 2) == 0 && eq != NULL && takes_value(a, (size_t)(eq - a)))
            n++;
    }
    if (n == 0)
        return argv;
    out = wf_xcalloc((size_t)(*argc + n + 1), sizeof(*out));
    *names = wf_xcalloc((size_t)n + 1, sizeof(**names));
    n = 0;
    for (int i = 0; i < *argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        bool opt = strncmp(a, "--", 2) == 0 || strcmp(a, "-i") == 0 || strcmp(a, "-j") == 0 ||
                   strcmp(a, "-o") == 0;

        if (i > 0 && strncmp(a, "--", 2) == 0 && eq != NULL && takes_value(a, (size_t)(eq - a))) {
            (*names)[n] = wf_xasprintf("%.*s", (int)(eq - a), a);
            out[k++] = (*names)[n++];
            out[k++] = (char *)(uintptr_t)(eq + 1);
            continue;
        }
        out[k++] = argv[i];
        if (i > 0 && opt && eq == NULL && (a[1] != '-' || takes_value(a, strlen(a))) &&
            i + 1 < *argc)
            out[k++] = argv[++i]; /* its value, as it is */
    }
    *argc = k;
    return out;
}

/* wf_heap_prefault's fence for the main thread: kept for the process's life, and reachable
 * from here (LeakSanitizer reports a block that nothing points to). */
static void *heap_fence;

int main(int argc, char **argv)
{
    const char *cmd = argc > 1 ? argv[1] : NULL;
    const struct command *c;

    /* wfengine uses OpenSSL for SHA-256 alone: its configuration file has nothing to say. */
    heap_fence = wf_heap_prefault(3);
    wf_sha256_skip_openssl_config();
    wf_store_skip_sqlite_bulk_cache();
    if (cmd == NULL) {
        fputs(usage, stderr);
        return WF_EXIT_USAGE;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("wfengine %s\n", WF_VERSION);
        return WF_EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0 && argc > 2) {
        char *sub[] = { argv[2], (char *)"--help", NULL };

        c = find_command(argv[2]);
        if (c == NULL) {
            wf_cli_errorf("no help for unknown command '%s'", argv[2]);
            return WF_EXIT_USAGE;
        }
        return c->fn(2, sub);
    }
    if (strcmp(cmd, "help") == 0 || wf_cli_is_help(cmd)) {
        fputs(usage, stdout);
        return WF_EXIT_OK;
    }
    c = find_command(cmd);
    if (c == NULL)
        return unknown_command(cmd);
    {
        char **names, **args = split_long_values(&argc, argv, &names);
        int rc = c->fn(argc - 1, args + 1);

        for (size_t i = 0; names != NULL && names[i] != NULL; i++)
            free(names[i]);
        free(names);
        if (args != argv)
            free(args);
        return rc;
    }
}
