/*
 * Resuming a recorded run (wfengine.h, wf_resume_prepare): finding the run in the store,
 * checking that it is a run of the loaded workflow, and merging its inputs with the given
 * ones. What a resumed run then takes from the store is the scheduler's business (run.c).
 */
#include <stdlib.h>
#include <string.h>

#include "wf_store.h"
#include "wf_workflow.h"

#include "wfengine.h"

static const wf_input_spec *find_input(const wf_workflow *wf, const char *name)
{
    for (size_t i = 0; i < wf->n_inputs; i++) {
        if (strcmp(wf->inputs[i].name, name) == 0)
            return &wf->inputs[i];
    }
    return NULL;
}

/* The recorded inputs the workflow still declares, minus secrets (recorded as ***), under
 * the given ones. The recorded values keep their types; only strings are converted to the
 * declared types when the run starts, so the result is "from strings". */
static json_object *merge_inputs(const wf_workflow *wf, json_object *recorded,
                                 const json_object *given)
{
    json_object *merged = json_object_new_object();

    json_object_object_foreach(recorded, name, value)
    {
        const wf_input_spec *spec = find_input(wf, name);

        if (spec != NULL && !spec->secret)
            json_object_object_add(merged, name, wf_json_copy(value));
    }
    if (given != NULL) {
        json_object_object_foreach((json_object *)given, gname, gvalue)
        {
            json_object_object_add(merged, gname, wf_json_copy(gvalue));
        }
    }
    return merged;
}

int wf_resume_prepare(wf_store *store, const char *run, const wf_workflow *wf,
                      const json_object *inputs, bool inputs_from_strings, bool force,
                      wf_resume *out, wf_error *err)
{
    json_object *doc = NULL, *v = NULL, *recorded = NULL;
    const char *then_name = NULL, *then_sha = NULL;
    char now_sha[WF_SHA256_HEX_LEN + 1];
    int rc;

    memset(out, 0, sizeof(*out));
    rc = wf_store_resolve_run(store, run, out->run_id, err);
    if (rc == WF_OK)
        rc = wf_store_run_page_json(store, out->run_id, &(wf_store_page){ .limit = -1 }, &doc, err);
    if (rc != WF_OK)
        goto out;
    if (json_object_object_get_ex(doc, "workflow", &v) && json_object_is_type(v, json_type_string))
        then_name = json_object_get_string(v);
    if (json_object_object_get_ex(doc, "file_sha256", &v) &&
        json_object_is_type(v, json_type_string))
        then_sha = json_object_get_string(v);
    out->other_workflow = then_name != NULL && strcmp(then_name, wf->name) != 0;
    wf_workflow_sha256_hex(wf, now_sha);
    out->file_changed = then_sha != NULL && strcmp(then_sha, now_sha) != 0;
    if (out->other_workflow && !force) {
        wf_error_set(err, WF_EINVAL, NULL, 0, 0, "run %s is of workflow '%s', not '%s' (%s)",
                     out->run_id, then_name, wf->name, wf->path);
        rc = WF_EINVAL;
        goto out;
    }
    if (out->file_changed) {
        char *what = wf_xasprintf("%s has changed since run %s (sha256 %.12s... then, %.12s... "
                                  "now)",
                                  wf->path, out->run_id, then_sha, now_sha);

        if (!force) {
            wf_error_set(err, WF_EINVAL, NULL, 0, 0, "%s", what);
            free(what);
            rc = WF_EINVAL;
            goto out;
        }
        out->warning = what;
    }
    if (json_object_object_get_ex(doc, "inputs", &recorded) &&
        json_object_is_type(recorded, json_type_object)) {
        out->inputs = merge_inputs(wf, recorded, inputs);
        out->inputs_from_strings = true;
    } else {
        out->inputs = inputs != NULL ? wf_json_copy(inputs) : json_object_new_object();
        out->inputs_from_strings = inputs_from_strings;
    }
out:
    if (rc != WF_OK) {
        /* On failure out holds no resources, but still says what did not fit. */
        out->run_id[0] = '\0';
        free(out->warning);
        out->warning = NULL;
    }
    json_object_put(doc);
    return rc;
}

void wf_resume_release(wf_resume *r)
{
    if (r == NULL)
        return;
    json_object_put(r->inputs);
    free(r->warning);
    memset(r, 0, sizeof(*r));
}
