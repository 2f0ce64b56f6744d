/* wfengine graph FILE [--format dot|mermaid]: the task graph, for Graphviz or Mermaid. */
#include <stdio.h>
#include <string.h>

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

static const char *str_at(json_object *arr, size_t i)
{
    return json_object_get_string(json_object_array_get_idx(arr, i));
}

static json_object *get(json_object *obj, const char *key)
{
    json_object *v = NULL;

    json_object_object_get_ex(obj, key, &v);
    return v;
}

/* The graph is drawn from wf_workflow_describe(), the embedding API's view of the file. */
static void print_dot(json_object *doc)
{
    json_object *tasks = get(doc, "tasks");
    size_t n = json_object_array_length(tasks);

    printf("digraph ");
    dot_quote(json_object_get_string(get(doc, "name")));
    printf(" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    for (size_t t = 0; t < n; t++) {
        json_object *task = json_object_array_get_idx(tasks, t);
        const char *name = json_object_get_string(get(task, "name"));

        printf("  ");
        dot_quote(name);
        if (get(task, "with_items") != NULL) {
            wf_strbuf label = WF_STRBUF_INIT;

            wf_strbuf_addf(&label, "%s[*]", name);
            printf(" [peripheries=2, label=");
            dot_quote(wf_strbuf_str(&label));
            printf("]");
            wf_strbuf_release(&label);
        }
        printf(";\n");
    }
    for (size_t t = 0; t < n; t++) {
        json_object *task = json_object_array_get_idx(tasks, t);
        json_object *needs = get(task, "needs");

        for (size_t d = 0; d < json_object_array_length(needs); d++) {
            printf("  ");
            dot_quote(str_at(needs, d));
            printf(" -> ");
            dot_quote(json_object_get_string(get(task, "name")));
            printf(";\n");
        }
    }
    printf("}\n");
}

static void print_mermaid(json_object *doc)
{
    json_object *tasks = get(doc, "tasks");
    size_t n = json_object_array_length(tasks);
    json_object *ids = json_object_new_object();

    /* Mermaid ids may not contain '-': number the nodes and keep names as labels. */
    printf("flowchart LR\n");
    for (size_t t = 0; t < n; t++) {
        json_object *task = json_object_array_get_idx(tasks, t);
        const char *name = json_object_get_string(get(task, "name"));

        if (get(task, "with_items") != NULL)
            printf("  t%zu[[\"%s[*]\"]]\n", t, name);
        else
            printf("  t%zu[\"%s\"]\n", t, name);
    }
    for (size_t t = 0; t < n; t++) {
        json_object *task = json_object_array_get_idx(tasks, t);

        json_object_object_add(ids, json_object_get_string(get(task, "name")),
                               json_object_new_int64((int64_t)t));
    }
    for (size_t t = 0; t < n; t++) {
        json_object *needs = get(json_object_array_get_idx(tasks, t), "needs");

        for (size_t d = 0; d < json_object_array_length(needs); d++)
            printf("  t%lld --> t%zu\n",
                   (long long)json_object_get_int64(get(ids, str_at(needs, d))), t);
    }
    json_object_put(ids);
}

int wf_cli_graph(int argc, char **argv)
{
    const char *file = NULL, *format = "dot";
    wf_workflow *wf;
    json_object *doc;

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
    doc = wf_workflow_describe(wf);
    if (strcmp(format, "dot") == 0)
        print_dot(doc);
    else
        print_mermaid(doc);
    json_object_put(doc);
    wf_workflow_free(wf);
    return WF_EXIT_OK;
}
