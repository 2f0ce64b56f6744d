/* `wfengine show`'s pipeline summary: how far the items of each chain of pipelined tasks got
 * (docs/cli.md). Split from store_cmds.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static json_object *task_named(json_object *tasks, const char *name)
{
    for (size_t i = 0; name != NULL && i < json_object_array_length(tasks); i++) {
        json_object *t = json_object_array_get_idx(tasks, i);

        if (wf_cli_json_str(t, "name") != NULL && strcmp(wf_cli_json_str(t, "name"), name) == 0)
            return t;
    }
    return NULL;
}

/* Whether the last attempt of item i of task t succeeded. */
static bool item_succeeded(json_object *t, int64_t i)
{
    json_object *units = NULL;
    const char *status = NULL;

    if (!json_object_object_get_ex(t, "units", &units) || units == NULL)
        return false;
    for (size_t k = 0; k < json_object_array_length(units); k++) {
        json_object *u = json_object_array_get_idx(units, k);

        if (wf_cli_json_int(u, "index", -1) == i)
            status = wf_cli_json_str(u, "status"); /* by attempt: the last one wins */
    }
    return status != NULL && strcmp(status, "succeeded") == 0;
}

/* For each chain of pipelined tasks (from a task that is no pipeline to one that feeds no
 * other), how far its items got: "pipeline a -> b -> c (N items): X through, Y stopped at a,
 * Z at b": an item is through when it succeeded at the last stage, else it stopped at the
 * first stage where it did not succeed (it failed, was skipped or cancelled, or never ran). */
void wf_cli_print_pipelines(json_object *tasks)
{
    size_t n_tasks = json_object_array_length(tasks);

    for (size_t i = 0; i < n_tasks; i++) {
        json_object *leaf = json_object_array_get_idx(tasks, i), *path[64];
        size_t len = 0, n_items, *stopped, through = 0;
        bool feeds = false;
        wf_strbuf sb = WF_STRBUF_INIT;

        if (wf_cli_json_str(leaf, "source") == NULL)
            continue;
        for (size_t j = 0; j < n_tasks && !feeds; j++) {
            const char *src = wf_cli_json_str(json_object_array_get_idx(tasks, j), "source");

            feeds = src != NULL && strcmp(src, wf_cli_json_str(leaf, "name")) == 0;
        }
        if (feeds)
            continue;
        for (json_object *t = leaf; t != NULL && len < WF_ARRAY_LEN(path);
             t = task_named(tasks, wf_cli_json_str(t, "source")))
            path[len++] = t;
        n_items = (size_t)wf_cli_json_int(path[len - 1], "n_items", 0);
        stopped = wf_xcalloc(len, sizeof(*stopped));
        for (size_t item = 0; item < n_items; item++) {
            size_t stage = len;

            /* Through: it succeeded at the last stage (a `when: always()` stage may run an
             * item whose source item failed). */
            while (stage > 0 && item_succeeded(path[stage - 1], (int64_t)item))
                stage--;
            if (stage == 0 || item_succeeded(leaf, (int64_t)item))
                through++;
            else
                stopped[len - stage]++; /* the first stage (from the head) it did not pass */
        }
        for (size_t k = len; k > 0; k--)
            wf_strbuf_addf(&sb, "%s%s", k < len ? " -> " : "",
                           wf_cli_json_str(path[k - 1], "name"));
        printf("  pipeline %s (%zu item%s): %zu through", wf_strbuf_str(&sb), n_items,
               n_items == 1 ? "" : "s", through);
        for (size_t k = 0, shown = 0; k < len; k++) {
            if (stopped[k] == 0)
                continue;
            printf(", %zu %s%s", stopped[k], shown++ == 0 ? "stopped at " : "at ",
                   wf_cli_json_str(path[len - 1 - k], "name"));
        }
        printf("\n");
        free(stopped);
        wf_strbuf_release(&sb);
    }
}
