/* wfengine graph FILE [--format dot|mermaid]: the task graph, for Graphviz or Mermaid. */
#include <stdio.h>
#include <string.h>

#include "wf_workflow.h"

#include "cli.h"

static const char help[] =
    "usage: wfengine graph FILE [--format dot|mermaid]\n"
    "\n"
    "Prints the workflow's tasks and dependencies (explicit `needs` and those its templates\n"
    "imply). with-items tasks are drawn as boxes with a double border (dot) or as\n"
    "subroutine shapes (mermaid). The default format is dot.\n"
    "\n"
    "Examples:\n"
    "  wfengine graph workflows/matrix-build.yaml | dot -Tsvg > graph.svg\n"
    "  wfengine graph workflows/matrix-build.yaml --format mermaid\n";

/* Writes s as a double-quoted DOT string. */
static void dot_quote(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '"' || *s == '\\')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

static void print_dot(const wf_workflow *wf)
{
    printf("digraph ");
    dot_quote(wf->name);
    printf(" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        printf("  ");
        dot_quote(task->name);
        if (task->items_kind != WF_ITEMS_NONE)
            printf(" [peripheries=2, label=\"%s[*]\"]", task->name);
        printf(";\n");
    }
    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        for (size_t d = 0; d < task->n_deps; d++) {
            printf("  ");
            dot_quote(wf->tasks[task->deps[d]].name);
            printf(" -> ");
            dot_quote(task->name);
            printf(";\n");
        }
    }
    printf("}\n");
}

static void print_mermaid(const wf_workflow *wf)
{
    /* Mermaid ids may not contain '-': number the nodes and keep names as labels. */
    printf("flowchart LR\n");
    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        if (task->items_kind != WF_ITEMS_NONE)
            printf("  t%zu[[\"%s[*]\"]]\n", t, task->name);
        else
            printf("  t%zu[\"%s\"]\n", t, task->name);
    }
    for (size_t t = 0; t < wf->n_tasks; t++) {
        const wf_task *task = &wf->tasks[t];

        for (size_t d = 0; d < task->n_deps; d++)
            printf("  t%zu --> t%zu\n", task->deps[d], t);
    }
}

int wf_cli_graph(int argc, char **argv)
{
    const char *file = NULL, *format = "dot";
    wf_workflow *wf;

    for (int i = 1; i < argc; i++) {
        if (wf_cli_is_help(argv[i])) {
            fputs(help, stdout);
            return WF_EXIT_OK;
        } else if (strcmp(argv[i], "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strncmp(argv[i], "--format=", 9) == 0) {
            format = argv[i] + 9;
        } else if (argv[i][0] == '-') {
            wf_cli_errorf("graph: unknown option '%s'", argv[i]);
            return WF_EXIT_USAGE;
        } else if (file == NULL) {
            file = argv[i];
        } else {
            wf_cli_errorf("graph: one file at a time ('%s' is extra)", argv[i]);
            return WF_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fputs(help, stderr);
        return WF_EXIT_USAGE;
    }
    if (strcmp(format, "dot") != 0 && strcmp(format, "mermaid") != 0) {
        wf_cli_errorf("graph: unknown format '%s' (use dot or mermaid)", format);
        return WF_EXIT_USAGE;
    }
    wf = wf_cli_load(file);
    if (wf == NULL)
        return WF_EXIT_USAGE;
    if (strcmp(format, "dot") == 0)
        print_dot(wf);
    else
        print_mermaid(wf);
    wf_workflow_free(wf);
    return WF_EXIT_OK;
}
