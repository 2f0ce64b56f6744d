/*
 * filters.c: the table of the template language's filters and functions (name, arity,
 * flags, what they take, the C function) and its lookup by name, which the parser uses to
 * bind a call and to suggest a near name. The functions themselves live by what they work
 * on: filter_list.c, filter_string.c, filter_number.c and filter_status.c.
 */
#include <stdlib.h>
#include <string.h>

#include "tpl_internal.h"

/* ---- the table ----------------------------------------------------------------------- */

static const builtin table[] = {
    { "abs", 1, 1, 0, "x", "a number", wf__tpl_f_abs },
    { "always", 0, 0, B_STATUS, "", "nothing", wf__tpl_f_always },
    { "bool", 1, 1, 0, "x", "any value", wf__tpl_f_bool },
    { "chunks", 2, 2, 0, "x, n", "a list and an integer", wf__tpl_f_chunks },
    { "contains", 2, 2, 0, "x, v", "a list, a string and a string, or an object and a string",
      wf__tpl_f_contains },
    { "default", 2, 2, B_LAZY, "x, v", "any value", wf__tpl_f_default },
    { "endswith", 2, 2, 0, "x, s", "two strings", wf__tpl_f_endswith },
    { "exit_code", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_exit_code },
    { "failed", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_failed },
    { "file_lines", 1, 1, B_ENGINE, "path", "a path (a non-empty string)", wf__tpl_f_file_lines },
    { "first", 1, 1, 0, "x", "a list", wf__tpl_f_first },
    { "flatten", 1, 1, 0, "x", "a list", wf__tpl_f_flatten },
    { "float", 1, 1, 0, "x", "a number, a numeric string or a boolean", wf__tpl_f_float },
    { "fromjson", 1, 1, 0, "x", "a string", wf__tpl_f_fromjson },
    { "int", 1, 1, 0, "x", "a number, a string of digits or a boolean", wf__tpl_f_int },
    { "item_status", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_item_status },
    { "items", 1, 1, 0, "x", "an object", wf__tpl_f_items },
    { "join", 1, 2, 0, "x, sep", "a list and a string", wf__tpl_f_join },
    { "json", 1, 1, 0, "x", "any value", wf__tpl_f_json },
    { "keys", 1, 1, 0, "x", "an object", wf__tpl_f_keys },
    { "last", 1, 1, 0, "x", "a list", wf__tpl_f_last },
    { "length", 1, 1, 0, "x", "a string, a list or an object", wf__tpl_f_length },
    { "lines", 1, 1, 0, "x", "a string", wf__tpl_f_lines },
    { "lower", 1, 1, 0, "x", "a string", wf__tpl_f_lower },
    { "map", 2, 2, 0, "x, path", "a list and a path string", wf__tpl_f_map },
    { "max", 1, 1, 0, "x", "a list of numbers or of strings", wf__tpl_f_max },
    { "min", 1, 1, 0, "x", "a list of numbers or of strings", wf__tpl_f_min },
    { "quote", 1, 1, B_NOFOLD, "x", "any value", wf__tpl_f_quote },
    { "range", 1, 2, 0, "a, b", "integers", wf__tpl_f_range },
    { "raw", 1, 1, B_NOFOLD, "x", "any value", wf__tpl_f_raw },
    { "reject", 2, 3, 0, "x, path, value", "a list, a path string and any value",
      wf__tpl_f_reject },
    { "replace", 3, 3, 0, "x, a, b", "three strings", wf__tpl_f_replace },
    { "reverse", 1, 1, 0, "x", "a list or a string", wf__tpl_f_reverse },
    { "round", 1, 2, 0, "x, digits", "a number and an integer", wf__tpl_f_round },
    { "select", 2, 3, 0, "x, path, value", "a list, a path string and any value",
      wf__tpl_f_select },
    { "sort", 1, 1, 0, "x", "a list of numbers or of strings", wf__tpl_f_sort },
    { "split", 2, 2, 0, "x, sep", "two strings", wf__tpl_f_split },
    { "startswith", 2, 2, 0, "x, s", "two strings", wf__tpl_f_startswith },
    { "status", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_status },
    { "stderr", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_stderr },
    { "stdout", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_stdout },
    { "string", 1, 1, 0, "x", "any value", wf__tpl_f_string },
    { "succeeded", 1, 1, B_STATUS, "name", "a task name (a string)", wf__tpl_f_succeeded },
    { "sum", 1, 1, 0, "x", "a list of numbers", wf__tpl_f_sum },
    { "trim", 1, 1, 0, "x", "a string", wf__tpl_f_trim },
    { "unique", 1, 1, 0, "x", "a list", wf__tpl_f_unique },
    { "upper", 1, 1, 0, "x", "a string", wf__tpl_f_upper },
    { "values", 1, 1, 0, "x", "an object", wf__tpl_f_values },
    { "zip", 2, 2, 0, "a, b", "two lists", wf__tpl_f_zip },
};

static int cmp_name(const void *key, const void *el)
{
    return strcmp(key, ((const builtin *)el)->name);
}

const builtin *wf__tpl_builtin(const char *name)
{
    return bsearch(name, table, WF_ARRAY_LEN(table), sizeof(table[0]), cmp_name);
}

const char *wf__tpl_closest_builtin(const char *word)
{
    size_t len = strlen(word), max = len / 3 > 2 ? len / 3 : 2, best_d = max + 1;
    const char *best = NULL;

    for (size_t i = 0; i < WF_ARRAY_LEN(table); i++) {
        size_t d = wf_edit_distance(word, table[i].name, max);

        if (d < best_d) {
            best_d = d;
            best = table[i].name;
        }
    }
    return best;
}

const char *wf__tpl_foreign_root(const char *name, bool no_item)
{
    static const struct {
        const char *theirs, *hint, *hint_no_item;
    } roots[] = {
        { "matrix",
          "GitHub's matrix.os is item.os here: each combination of a with-items "
          "matrix is the item",
          "GitHub's matrix.os is item.os here, in a task whose with-items is the matrix" },
        { "steps", "GitHub's steps.ID.outputs.X is task.ID (the task's result) here", NULL },
        { "needs", "GitHub's needs.ID.outputs.X is task.ID (the task's result) here", NULL },
        { "jobs", "GitHub's jobs.ID.outputs.X is task.ID (the task's result) here", NULL },
        { "tasks", "Argo's tasks.ID.outputs.result is task.ID (the task's result) here", NULL },
        { "params", "Nextflow's params.x is inputs.x here (-i x=VALUE)", NULL },
        { "loop",
          "Jinja's and Ansible's loop.index is index here (0-based), and the element "
          "is item",
          "loop.index is index here, in a task with with-items" },
        { "ansible_loop", "Ansible's ansible_loop.index0 is index here, and the element is item",
          "ansible_loop.index0 is index here, in a task with with-items" },
    };

    for (size_t i = 0; i < WF_ARRAY_LEN(roots); i++)
        if (strcmp(name, roots[i].theirs) == 0)
            return no_item && roots[i].hint_no_item != NULL ? roots[i].hint_no_item : roots[i].hint;
    return NULL;
}
