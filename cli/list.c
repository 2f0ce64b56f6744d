/* wfengine list FILE [--json]: the tasks (with their description) in file order and the
 * inputs (type, default, enum, description), as `task --list` and `act -l` do. Drawn from
 * wf_workflow_describe(), like graph. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: wfengine list FILE [--json]\n"
    "\n"
    "Prints the workflow's tasks in file order with their `description:`, then its inputs\n"
    "with type, default (or required), enum and description. A task can be run alone with\n"
    "what it needs: wfengine run FILE TASK.\n"
    "With --json: {\"name\", \"description\", \"tasks\": [{\"name\", \"description\", \"needs\"}],\n"
    "\"inputs\": [{\"name\", \"type\", \"required\", \"secret\", \"default\", \"enum\",\n"
    "\"description\"}]}.\n"
    "\n"
    "Exit status: 0, or 2 when FILE has errors (each printed as FILE:LINE:COL).\n"
    "\n"
    "Example:\n"
    "  wfengine list workflows/matrix-build.yaml\n";

static const char *plain(json_object *v)
{
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string(v);
    return json_object_to_json_string_ext(v,
                                          JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static json_object *pick(json_object *from, const char *const *keys)
{
    json_object *o = json_object_new_object();

    for (size_t k = 0; keys[k] != NULL; k++) {
        json_object *v = NULL;

        json_object_object_get_ex(from, keys[k], &v);
        json_object_object_add(o, keys[k], json_object_get(v));
    }
    return o;
}

static void print_json(json_object *doc)
{
    static const char *const task_keys[] = { "name", "description", "needs", NULL };
    static const char *const input_keys[] = { "name",    "type", "required",    "secret",
                                              "default", "enum", "description", NULL };
    static const char *const top_keys[] = { "name", "description", NULL };
    json_object *out = pick(doc, top_keys), *tasks = NULL, *inputs = NULL;
    json_object *t_out = json_object_new_array(), *i_out = json_object_new_array();

    json_object_object_get_ex(doc, "tasks", &tasks);
    json_object_object_get_ex(doc, "inputs", &inputs);
    for (size_t t = 0; t < json_object_array_length(tasks); t++)
        json_object_array_add(t_out, pick(json_object_array_get_idx(tasks, t), task_keys));
    for (size_t i = 0; i < json_object_array_length(inputs); i++)
        json_object_array_add(i_out, pick(json_object_array_get_idx(inputs, i), input_keys));
    json_object_object_add(out, "tasks", t_out);
    json_object_object_add(out, "inputs", i_out);
    puts(json_object_to_json_string_ext(out,
                                        JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(out);
}

static void print_text(json_object *doc)
{
    json_object *tasks = NULL, *inputs = NULL;
    size_t width = 4;

    json_object_object_get_ex(doc, "tasks", &tasks);
    json_object_object_get_ex(doc, "inputs", &inputs);
    for (size_t t = 0; t < json_object_array_length(tasks); t++) {
        size_t len = strlen(wf_cli_json_str(json_object_array_get_idx(tasks, t), "name"));

        width = len > width ? len : width;
    }
    printf("tasks of %s:\n", wf_cli_json_str(doc, "name"));
    for (size_t t = 0; t < json_object_array_length(tasks); t++) {
        json_object *task = json_object_array_get_idx(tasks, t);
        const char *desc = wf_cli_json_str(task, "description");

        if (desc != NULL)
            printf("  %-*s  %s\n", (int)width, wf_cli_json_str(task, "name"), desc);
        else
            printf("  %s\n", wf_cli_json_str(task, "name"));
    }
    if (json_object_array_length(inputs) == 0)
        return;
    printf("inputs:\n");
    for (size_t i = 0; i < json_object_array_length(inputs); i++) {
        json_object *in = json_object_array_get_idx(inputs, i), *v = NULL;
        const char *desc = wf_cli_json_str(in, "description");

        printf("  %s (%s", wf_cli_json_str(in, "name"), wf_cli_json_str(in, "type"));
        json_object_object_get_ex(in, "required", &v);
        if (json_object_get_boolean(v))
            printf(", required");
        else if (json_object_object_get_ex(in, "default", &v))
            printf(", default %s", v != NULL ? plain(v) : "null");
        json_object_object_get_ex(in, "secret", &v);
        if (json_object_get_boolean(v))
            printf(", secret");
        if (json_object_object_get_ex(in, "enum", &v) && v != NULL) {
            printf(", one of:");
            for (size_t k = 0; k < json_object_array_length(v); k++)
                printf("%s %s", k ? "," : "", plain(json_object_array_get_idx(v, k)));
        }
        printf(")%s%s\n", desc ? "  " : "", desc ? desc : "");
    }
}

int wf_cli_list(int argc, char **argv)
{
    const char *file = NULL;
    bool json = false;
    wf_workflow *wf;
    json_object *doc;

    for (int i = 1; i < argc; i++) {
        if (wf_cli_is_help(argv[i])) {
            fputs(help, stdout);
            return WF_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            wf_cli_errorf("list: unknown option '%s' (see wfengine list --help)", argv[i]);
            return WF_EXIT_USAGE;
        } else if (file == NULL) {
            file = argv[i];
        } else {
            wf_cli_errorf("list: one workflow file at a time ('%s' is extra)", argv[i]);
            return WF_EXIT_USAGE;
        }
    }
    if (file == NULL) {
        fputs(help, stderr);
        return WF_EXIT_USAGE;
    }
    wf = wf_cli_load(file);
    if (wf == NULL)
        return WF_EXIT_USAGE;
    doc = wf_workflow_describe(wf);
    if (json)
        print_json(doc);
    else
        print_text(doc);
    json_object_put(doc);
    wf_workflow_free(wf);
    return WF_EXIT_OK;
}
