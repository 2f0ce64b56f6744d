/* libFuzzer target: load arbitrary bytes as a workflow. Any input must end in either a
 * workflow or a list of errors, with no crash, leak or sanitizer report; a loaded workflow
 * must also bind its inputs without trouble. Build with -DWF_FUZZ=ON (clang). */
#include <stddef.h>
#include <stdint.h>

#include "wf_workflow.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wf_errlist errs;
    wf_workflow *wf = NULL;
    json_object *inputs = NULL;

    wf_errlist_init(&errs);
    if (wf_workflow_load_string("fuzz.yaml", (const char *)data, size, &wf, &errs) == WF_OK) {
        wf_workflow_bind_inputs(wf, NULL, true, &inputs, &errs);
        json_object_put(inputs);
        wf_workflow_free(wf);
    }
    wf_errlist_release(&errs);
    return 0;
}
