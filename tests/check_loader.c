/* Tests for the workflow loader (workflow/: loader.c, yaml_tree.c, yaml_value.c, validate.c,
 * inputs.c, vnode.c).
 *
 * Error messages are tested artefacts: the tables below hold the exact text users see,
 * "file:line:col: message", one line per error, in the order they are printed. Messages that
 * come from the template compiler are owned by tests/check_template.c; here only their
 * position in the file is checked (an expected line ending in '*' matches as a prefix). */
/* ctest-cost: 20 (about its seconds in its slowest CI stage; see CMakeLists.txt) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <json-c/json.h>

#include "wf_workflow.h"

#include "../workflow/loader_internal.h"
#include "sanitized.h"
#include "wfengine.h"

/* Loads text as "wf.yaml"; returns the errors, one formatted line each, joined by '\n'. */
static char *load_errors(const char *text, wf_workflow **out)
{
    wf_errlist errs;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_workflow *wf = NULL;
    int rc;

    wf_errlist_init(&errs);
    rc = wf_workflow_load_string("wf.yaml", text, strlen(text), &wf, &errs);
    ck_assert_int_eq(rc == WF_OK, errs.len == 0);
    ck_assert_int_eq(rc == WF_OK, wf != NULL);
    for (size_t k = 0; k < errs.len; k++) {
        if (k > 0)
            wf_strbuf_addc(&sb, '\n');
        wf_error_format(&sb, &errs.items[k]);
        /* Every positioned error carries its source line for the caret. */
        if (errs.items[k].line > 0)
            ck_assert_ptr_nonnull(errs.items[k].source_line);
    }
    wf_errlist_release(&errs);
    if (out != NULL)
        *out = wf;
    else
        wf_workflow_free(wf);
    return wf_strbuf_detach(&sb, NULL);
}

/* Compares line by line; an expected line ending in '*' is a prefix. */
static void assert_errors(const char *got, const char *want)
{
    const char *g = got, *w = want;

    for (;;) {
        size_t gl = strcspn(g, "\n"), wl = strcspn(w, "\n");
        bool prefix = wl > 0 && w[wl - 1] == '*';
        bool same = prefix ? gl >= wl - 1 && strncmp(g, w, wl - 1) == 0
                           : gl == wl && strncmp(g, w, wl) == 0;

        ck_assert_msg(same, "errors differ\n--- got:\n%s\n--- want:\n%s", got, want);
        if (g[gl] == '\0' || w[wl] == '\0') {
            ck_assert_msg(g[gl] == w[wl], "errors differ\n--- got:\n%s\n--- want:\n%s", got, want);
            return;
        }
        g += gl + 1;
        w += wl + 1;
    }
}

static wf_workflow *load_ok(const char *text)
{
    wf_workflow *wf = NULL;
    char *errs = load_errors(text, &wf);

    ck_assert_msg(wf != NULL, "expected to load, got:\n%s", errs);
    free(errs);
    return wf;
}

static const wf_task *task(const wf_workflow *wf, const char *name)
{
    long i = wf_workflow_task_index(wf, name);

    ck_assert_msg(i >= 0, "no task %s", name);
    return &wf->tasks[i];
}

static char *deps_of(const wf_workflow *wf, const wf_task *t)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    for (size_t k = 0; k < t->n_deps; k++)
        wf_strbuf_addf(&sb, "%s%s", k ? "," : "", wf->tasks[t->deps[k]].name);
    return wf_strbuf_detach(&sb, NULL);
}

static char *json_text(const json_object *v)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_json_write(&sb, v);
    return wf_strbuf_detach(&sb, NULL);
}

/* ---- golden errors ------------------------------------------------------------------ */

static const struct {
    const char *name, *yaml, *errors;
} error_cases[] = {
    { "unknown top-level key", "version: 1\ntaks: {}\n",
      "wf.yaml:1:1: missing 'tasks': a workflow needs at least one task\n"
      "wf.yaml:2:1: unknown key 'taks' in the workflow; did you mean 'tasks'?" },
    { "unknown task key with suggestion",
      "version: 1\ntasks:\n  a:\n    with_items: [1, 2]\n    run: echo\n",
      "wf.yaml:4:5: unknown key 'with_items' in task 'a'; did you mean 'with-items'?" },
    { "unknown task key without suggestion",
      "version: 1\ntasks:\n  a:\n    run: echo\n    colour: red\n",
      "wf.yaml:5:5: unknown key 'colour' in task 'a' (valid keys: run, action, input, needs, "
      "with-items, concurrency, batch-size, fail-fast, when, retry, timeout, continue-on-error, "
      "output, env, workdir, shell, publish, cache, executor, slurm, description, env-file, uses, with, "
      "label, cpus, pipeline, max-output)" },
    { "missing version", "tasks:\n  a: {run: echo}\n",
      "wf.yaml:1:1: missing 'version': add 'version: 1' at the top" },
    { "bad version", "version: 2\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:1:10: 'version' must be 1 (the only version of the format), got the integer 2" },
    { "quoted version", "version: \"1\"\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:1:10: 'version' must be 1 (the only version of the format), got the string '1'" },
    { "not a map", "- a\n- b\n",
      "wf.yaml:1:1: a workflow is a map with at least 'version: 1' and 'tasks'" },
    { "empty file", "", "wf.yaml:1:1: a workflow is a map with at least 'version: 1' and 'tasks'" },
    { "run and action", "version: 1\ntasks:\n  a:\n    run: echo\n    action: core.noop\n",
      "wf.yaml:5:5: task 'a' has both 'run' and 'action'; a task does exactly one" },
    { "neither run nor action", "version: 1\ntasks:\n  a:\n    timeout: 5s\n",
      "wf.yaml:3:3: task 'a' needs 'run' (a command), 'action' (like core.echo) or "
      "'uses' (a workflow file)" },
    { "with without uses", "version: 1\ntasks:\n  a:\n    run: echo\n    with: {x: 1}\n",
      "wf.yaml:5:5: 'with' gives the inputs of the workflow a task calls with 'uses'; task 'a' "
      "has no 'uses'" },
    { "uses with a template", "version: 1\ntasks:\n  a:\n    uses: << inputs.f >>\n",
      "wf.yaml:4:11: 'uses' is loaded before anything runs, so it cannot hold a template: write "
      "the path, and pass values with 'with:'" },
    { "empty task", "version: 1\ntasks:\n  a:\n",
      "wf.yaml:3:3: task 'a' must be a map with 'run' or 'action', got null" },
    { "input with run", "version: 1\ntasks:\n  a:\n    run: echo\n    input: {x: 1}\n",
      "wf.yaml:5:5: 'input' is for action tasks; a run task takes values through templates in "
      "'run' or 'env'" },
    { "bad duration", "version: 1\ntasks:\n  a:\n    run: echo\n    timeout: 10 minutes\n",
      "wf.yaml:5:14: timeout: invalid duration '10 minutes': use a number of seconds or a number "
      "with a unit: 500ms, 30s, 5m, 1h" },
    { "duration of the wrong type", "version: 1\ntasks:\n  a:\n    run: echo\n    timeout: [1]\n",
      "wf.yaml:5:14: 'timeout' must be a duration (500ms, 30s, 5m, 1h or a number of seconds), "
      "got a list" },
    { "bad concurrency", "version: 1\nconcurrency: 0\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:2:14: 'concurrency' must be an integer >= 1, got the integer 0" },
    { "bad task concurrency and batch-size",
      "version: 1\ntasks:\n  a:\n    with-items: [1]\n    concurrency: two\n    batch-size: 1.5\n"
      "    run: echo\n",
      "wf.yaml:5:18: 'concurrency' must be an integer >= 1, got the string 'two'\n"
      "wf.yaml:6:17: 'batch-size' must be an integer >= 1, got the number 1.5" },
    /* include and exclude nested in the matrix, as GitHub writes them */
    { "include inside and beside the matrix",
      "version: 1\ntasks:\n  a:\n    with-items:\n      matrix: {os: [a], include: [{x: 1}]}\n"
      "      include: [{y: 2}]\n    run: echo\n",
      "wf.yaml:5:25: 'include' is given twice, inside 'matrix' (as GitHub writes it) and beside "
      "it; keep one" },
    { "a matrix of include entries alone",
      "version: 1\ntasks:\n  a:\n    with-items:\n      matrix: {include: [{x: 1}]}\n"
      "    run: echo\n",
      "wf.yaml:5:15: 'matrix' needs at least one key besides include; a matrix of include "
      "entries alone is a list: with-items: [{os: linux}, ...]" },
    { "item options without with-items",
      "version: 1\ntasks:\n  a:\n    run: echo\n    batch-size: 2\n",
      "wf.yaml:5:5: 'batch-size' in a task applies to its items and needs 'with-items'" },
    { "bad task name", "version: 1\ntasks:\n  9lives: {run: echo}\n  a.b: {run: echo}\n",
      "wf.yaml:3:3: invalid task name '9lives': use letters, digits, '_' and '-', starting with "
      "a letter or '_'\n"
      "wf.yaml:4:3: invalid task name 'a.b': use letters, digits, '_' and '-', starting with a "
      "letter or '_'" },
    { "duplicate key", "version: 1\ntasks:\n  a:\n    run: echo\n    run: echo again\n",
      "wf.yaml:5:5: duplicate key 'run' (first at line 4)" },
    { "duplicate task", "version: 1\ntasks:\n  a: {run: echo}\n  b: {run: echo}\n  a: {run: x}\n",
      "wf.yaml:5:3: duplicate key 'a' (first at line 3)" },
    /* More than 16 keys: no two alike is checked by hashing, and a map with a duplicate is
     * sorted as before (keys that differ after a NUL, or by a NUL at the end, are different). */
    { "duplicate tasks in a big map",
      "version: 1\ntasks: {a: {run: x}, b: {run: x}, c: {run: x}, d: {run: x}, e: {run: x},\n"
      "  f: {run: x}, g: {run: x}, h: {run: x}, i: {run: x}, j: {run: x}, k: {run: x},\n"
      "  l: {run: x}, m: {run: x}, \"n\\0x\": {run: x}, \"n\\0y\": {run: x}, n: {run: x},\n"
      "  \"n\\0\": {run: x}, c: {run: y}, a: {run: y}, c: {run: z}}\n",
      "wf.yaml:5:20: duplicate key 'c' (first at line 2)\n"
      "wf.yaml:5:33: duplicate key 'a' (first at line 2)\n"
      "wf.yaml:5:46: duplicate key 'c' (first at line 2)" },
    { "unknown needs",
      "version: 1\ntasks:\n  build: {run: make}\n  test:\n    needs: [biuld]\n"
      "    run: make test\n",
      "wf.yaml:5:13: unknown task 'biuld'; did you mean 'build'?" },
    { "unknown task in a template",
      "version: 1\ntasks:\n  fetch: {run: curl, output: json}\n"
      "  use:\n    run: echo << task.fecth.x >>\n",
      "wf.yaml:5:18: unknown task 'fecth'; did you mean 'fetch'?" },
    { "unknown task in a status function",
      "version: 1\ntasks:\n  fetch: {run: curl}\n"
      "  report:\n    when: \"<< failed('fetc') >>\"\n    action: core.noop\n",
      "wf.yaml:5:15: unknown task 'fetc'; did you mean 'fetch'?" },
    { "cycle",
      "version: 1\ntasks:\n  a:\n    needs: c\n    run: echo\n  b:\n    needs: a\n"
      "    run: echo\n  c:\n    run: echo << task.b >>\n",
      "wf.yaml:3:3: dependency cycle: a -> c -> b -> a (each task depends on the next)" },
    { "self dependency",
      "version: 1\ntasks:\n  a: {run: echo}\n  b:\n    needs: [a, b]\n"
      "    run: echo\n",
      "wf.yaml:4:3: dependency cycle: b -> b (each task depends on the next)" },
    { "two cycles",
      "version: 1\ntasks:\n  a: {needs: b, run: x}\n  b: {needs: a, run: x}\n"
      "  c: {needs: d, run: x}\n  d: {needs: c, run: x}\n",
      "wf.yaml:3:3: dependency cycle: a -> b -> a (each task depends on the next)\n"
      "wf.yaml:5:3: dependency cycle: c -> d -> c (each task depends on the next)" },
    { "template syntax error, plain scalar", "version: 1\ntasks:\n  a:\n    run: echo << 1 + >>\n",
      "wf.yaml:4:22: *" },
    { "template syntax error, double-quoted with escape",
      "version: 1\ntasks:\n  a:\n    run: \"a\\tb << 1 + >>\"\n", "wf.yaml:4:23: *" },
    { "template syntax error, single-quoted",
      "version: 1\ntasks:\n  a:\n    run: 'it''s << ) >>'\n", "wf.yaml:4:20: *" },
    { "template syntax error, literal block",
      "version: 1\ntasks:\n  a:\n    run: |\n      echo one\n      echo << ( >> two\n",
      "wf.yaml:6:17: *" },
    { "template syntax error, when", "version: 1\ntasks:\n  a:\n    when: not\n    run: echo\n",
      "wf.yaml:4:*" },
    { "item outside with-items", "version: 1\ntasks:\n  a:\n    run: echo << item.x >>\n",
      "wf.yaml:4:18: 'item' is only defined in a task with 'with-items', and task 'a' has none" },
    { "index in outputs", "version: 1\ntasks:\n  a: {run: echo}\noutputs:\n  o: << index >>\n",
      "wf.yaml:5:9: 'index' is only defined inside a task with 'with-items'" },
    { "item in with-items itself",
      "version: 1\ntasks:\n  a:\n    with-items: << item >>\n"
      "    run: echo\n",
      "wf.yaml:4:20: 'item' cannot be used in 'with-items' itself: the list is computed before "
      "any item exists" },
    { "bad output mode", "version: 1\ntasks:\n  a:\n    run: echo\n    output: jsno\n",
      "wf.yaml:5:13: invalid output 'jsno'; did you mean 'json'?" },
    { "output on an action", "version: 1\ntasks:\n  a:\n    action: core.noop\n    output: json\n",
      "wf.yaml:5:5: 'output' is for run tasks; an action returns its result as is" },
    { "bad input spec",
      "version: 1\ninputs:\n  n: {type: integr}\n  m: {type: integer, default: abc}\n"
      "  e: {type: string, enum: [a, b], default: c}\n  x: 5\n  y: {requird: true}\n"
      "tasks:\n  a: {run: echo}\n",
      "wf.yaml:3:13: invalid input type 'integr'; did you mean 'integer'?\n"
      "wf.yaml:4:31: default of input 'm' must be an integer, got the string 'abc'\n"
      "wf.yaml:5:44: default of input 'e' must be one of \"a\", \"b\"; got the string 'c'\n"
      "wf.yaml:6:6: input 'x' must be a map like {type: string, default: x}, got the integer 5\n"
      "wf.yaml:7:7: unknown key 'requird' in input 'y' (valid keys: type, default, description, "
      "secret, enum)" },
    { "enum value of the wrong type",
      "version: 1\ninputs:\n  n: {type: integer, enum: [1, two]}\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:3:32: enum value of input 'n' must be an integer, got the string 'two'" },
    { "yes is not a boolean", "version: 1\nfail-fast: yes\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:2:12: 'fail-fast' must be a boolean (true or false), got the string 'yes' (only "
      "true and false are booleans)" },
    { "retry",
      "version: 1\ntasks:\n  a:\n    run: echo\n    retry: {count: -1, backoff: expo, "
      "delay: soon}\n  b:\n    run: echo\n    retry: {delay: 1s}\n",
      "wf.yaml:5:20: 'retry.count' must be an integer >= 0, got the integer -1\n"
      "wf.yaml:5:33: invalid backoff 'expo' (one of: constant, linear, exponential)\n"
      "wf.yaml:5:46: retry.delay: invalid duration 'soon': use a number of seconds or a number "
      "with a unit: 500ms, 30s, 5m, 1h\n"
      "wf.yaml:8:12: 'retry' needs 'count' (how many attempts after the first)" },
    { "unknown built-in action", "version: 1\ntasks:\n  a: {action: core.ecko}\n",
      "wf.yaml:3:15: unknown built-in action 'core.ecko'; did you mean 'core.echo'?" },
    { "bad action name", "version: 1\ntasks:\n  a: {action: echo}\n",
      "wf.yaml:3:15: invalid action name 'echo': use namespace.name, like core.echo" },
    { "bad executor and slurm without it",
      "version: 1\ntasks:\n  a:\n    run: echo\n    executor: slurn\n  b:\n    run: echo\n"
      "    slurm: {partition: debug}\n",
      "wf.yaml:5:15: invalid executor 'slurn'; did you mean 'slurm'?\n"
      "wf.yaml:8:5: 'slurm' options need 'executor: slurm' (in the task or in defaults)" },
    { "bad slurm.pack values",
      "version: 1\ndefaults: {executor: slurm}\ntasks:\n  a:\n    with-items: [1]\n    run: x\n"
      "    slurm: {pack: 0}\n  b:\n    with-items: [1]\n    run: x\n    slurm: {pack: often}\n"
      "  c:\n    with-items: [1]\n    run: x\n    slurm: {pack: '<< 2 >>'}\n"
      "  d:\n    with-items: [1]\n    run: x\n    slurm: {pack: auto}\n",
      "wf.yaml:7:19: 'slurm.pack' must be a number of items per array element (1 or more) or "
      "\"auto\", got the integer 0\n"
      "wf.yaml:11:19: 'slurm.pack' must be a number of items per array element (1 or more) or "
      "\"auto\", got the string \"often\"\n"
      "wf.yaml:15:19: 'slurm.pack' holds a template; a submission is packed as a whole: write a "
      "number or auto" },
    { "slurm keys: types, empty values, sbatch syntax, both spellings of mem",
      "version: 1\ndefaults: {executor: slurm}\ntasks:\n  a:\n    run: echo\n    slurm:\n"
      "      account: \"\"\n      qos: -q\n      gpus: 0\n      constraint: \"a\\nb\"\n"
      "      mem: 4G\n      memory: 8G\n      partition: [p]\n      time: \"\\t1\"\n"
      "      cpus: \"<< inputs.n >>\"\n      qoss: x\n"
      "  b:\n    run: echo\n    slurm: {gpus: \"-1\", memory: 0, extra: [1], account: 3}\n",
      "wf.yaml:7:16: 'slurm.account' is empty: give a value or leave the key out\n"
      "wf.yaml:8:12: 'slurm.qos' is '-q', which starts with '-' and would be read as an sbatch "
      "option; pass options through 'slurm.extra'\n"
      "wf.yaml:9:13: 'slurm.gpus' must be a GPU count of at least 1 or a string like \"a100:2\" "
      "(--gpus), got the integer 0\n"
      "wf.yaml:10:19: 'slurm.constraint' holds a control character (a newline or a tab, byte 10): "
      "sbatch takes it as one word\n"
      "wf.yaml:12:7: 'slurm' has both 'mem' and 'memory', two spellings of --mem: keep one\n"
      "wf.yaml:13:18: 'slurm.partition' must be a string, got a list\n"
      "wf.yaml:14:13: 'slurm.time' holds a control character (a newline or a tab, byte 9): sbatch "
      "takes it as one word\n"
      "wf.yaml:15:17: unknown input 'n'\n"
      "wf.yaml:16:7: unknown key 'qoss' in slurm; did you mean 'qos'?\n"
      "wf.yaml:19:19: 'slurm.gpus' is '-1', which starts with '-' and would be read as an sbatch "
      "option; pass options through 'slurm.extra'\n"
      "wf.yaml:19:33: 'slurm.memory' must be a memory size like \"4G\" or megabytes of at least 1 "
      "(--mem), got the integer 0\n"
      "wf.yaml:19:43: 'slurm.extra' must be a list of strings, got the integer 1\n"
      "wf.yaml:19:57: 'slurm.account' must be a string, got the integer 3" },
    { "top-level slurm: checked, templates read inputs, env and vars only",
      "version: 1\nslurm:\n  account: << task.a >>\n  qos: \" \"\n  gpus: << item >>\n"
      "  partition: -p\ntasks:\n  a: {run: echo}\n",
      "wf.yaml:3:15: task results cannot be used in the top-level 'slurm', which applies to every "
      "Slurm task alike\n"
      "wf.yaml:5:12: 'item' is only defined inside a task with 'with-items'\n"
      "wf.yaml:6:14: 'slurm.partition' is '-p', which starts with '-' and would be read as an "
      "sbatch option; pass options through 'slurm.extra'" },
    { "cpus: an integer >= 1 or a template without item; not for uses; checked in defaults",
      "version: 1\ndefaults: {cpus: 0}\ntasks:\n  a: {run: echo, cpus: two}\n"
      "  b: {run: echo, with-items: [1], cpus: << item >>}\n  c: {uses: x.yaml, cpus: 2}\n",
      "wf.yaml:2:18: 'cpus' must be an integer >= 1, got the integer 0\n"
      "wf.yaml:4:24: 'cpus' must be an integer >= 1, got the string 'two'\n"
      "wf.yaml:5:44: 'item' cannot be used in 'concurrency', 'cpus' or 'batch-size', which are "
      "evaluated once for the whole task, before its items\n"
      "wf.yaml:6:13: uses: cannot read x.yaml: No such file or directory\n"
      "wf.yaml:6:21: 'cpus' does not apply to a 'uses' task: the called workflow's tasks say how "
      "they run" },
    { "with-items of the wrong kind", "version: 1\ntasks:\n  a:\n    with-items: abc\n    run: x\n",
      "wf.yaml:4:17: 'with-items' must be a list, one template that yields a list (like << "
      "task.x >>), or {matrix: {key: [..]}}, got the string 'abc'" },
    { "matrix mistakes",
      "version: 1\ntasks:\n  a:\n    with-items:\n      matrix: {os: linux}\n      exclud: []\n"
      "    run: x\n",
      "wf.yaml:5:20: 'os' must be a list or one template that yields a list, got the string "
      "'linux'\n"
      "wf.yaml:6:7: unknown key 'exclud' in with-items; did you mean 'exclude'?" },
    { "vars order and task results in vars",
      "version: 1\nvars:\n  a: << vars.b >>\n  b: 1\n  c: << task.t.x >>\ntasks:\n"
      "  t: {run: echo}\n",
      "wf.yaml:3:9: var 'b' is not defined before 'a' (vars can use inputs, env and earlier "
      "vars)\n"
      "wf.yaml:5:9: task results cannot be used in 'vars', which are computed before any task "
      "runs" },
    { "published var read by a task that does not depend on the publisher",
      "version: 1\ntasks:\n  p:\n    run: echo\n    publish: {ver: << task.p >>}\n"
      "  r:\n    run: echo << vars.ver >>\n",
      "wf.yaml:7:18: var 'ver' is published by task 'p', which task 'r' does not depend on; add "
      "needs: [p]" },
    { "unknown input and var",
      "version: 1\ninputs:\n  region: {default: x}\ntasks:\n"
      "  a: {run: echo << inputs.regoin >> << vars.nope >>}\n",
      "wf.yaml:5:20: unknown input 'regoin'; did you mean 'region'?\n"
      "wf.yaml:5:40: unknown var 'nope'" },
    { "env names and values",
      "version: 1\nenv:\n  GOOD: x\n  BAD-NAME: y\ntasks:\n  a:\n    run: echo\n"
      "    env: {E: [1]}\n",
      "wf.yaml:4:3: invalid environment variable name 'BAD-NAME': use letters, digits and '_', "
      "starting with a letter or '_'\n"
      "wf.yaml:8:14: 'E' must be a string, got a list" },
    { "unknown anchor", "version: 1\ntasks:\n  a:\n    <<: *nothing\n    run: echo\n",
      "wf.yaml:4:9: unknown anchor '*nothing' (define it with &nothing first)\n"
      "wf.yaml:4:9: a merge key '<<' takes a map or a list of maps (usually an alias like "
      "*defaults)" },
    { "YAML syntax error", "version: 1\ntasks:\n  a: {run: echo\n",
      "wf.yaml:4:1: invalid YAML: did not find expected ',' or '}' (while parsing a flow mapping "
      "at line 3)" },
    { "two documents", "version: 1\ntasks: {a: {run: x}}\n---\nversion: 1\n",
      "wf.yaml:3:1: a workflow file holds one YAML document; remove this '---' and what "
      "follows, or use another file" },
    { "an error in defaults is reported once, not per task",
      "version: 1\ndefaults:\n  workdir: << inputs.nope >>\ntasks:\n  a: {run: x}\n"
      "  b: {run: y}\n",
      "wf.yaml:3:15: unknown input 'nope'" },
    { "duplicate keys and merges in one map",
      "version: 1\nvars:\n  m: &m {a: 1, b: 2}\n  n: {<<: *m, a: 3, c: 4, c: 5}\n"
      "tasks:\n  t: {run: x}\n",
      "wf.yaml:4:27: duplicate key 'c' (first at line 4)" },
    { "several errors in one file, in file order",
      "version: 1\nconcurrency: -2\ntasks:\n  a:\n    run: echo << task.zzz >>\n"
      "    timeout: forever\n  b:\n    action: core.echo\n    input: {message: hi}\n"
      "    needs: [a, c]\n    when: \"<< item >>\"\n",
      "wf.yaml:2:14: 'concurrency' must be an integer >= 1, got the integer -2\n"
      "wf.yaml:5:18: unknown task 'zzz'\n"
      "wf.yaml:6:14: timeout: invalid duration 'forever': use a number of seconds or a number "
      "with a unit: 500ms, 30s, 5m, 1h\n"
      "wf.yaml:10:16: unknown task 'c'; did you mean 'a'?\n"
      "wf.yaml:11:15: 'item' is only defined in a task with 'with-items', and task 'b' has none" },
    { "pipeline without with-items",
      "version: 1\ntasks:\n  a:\n    pipeline: true\n    run: echo\n",
      "wf.yaml:4:5: 'pipeline: true' takes another with-items task's results item by item and "
      "needs 'with-items: << task.NAME >>'; task 'a' has no 'with-items'" },
    { "pipeline over something else than a task's results",
      "version: 1\ntasks:\n  a: {with-items: [1, 2], run: echo}\n"
      "  b:\n    with-items: << task.a | reverse >>\n    pipeline: true\n    run: echo\n"
      "  c:\n    with-items: [1, 2]\n    pipeline: true\n    run: echo\n",
      "wf.yaml:5:17: task 'b' has 'pipeline: true', so its with-items must be another with-items "
      "task's results, exactly '<< task.NAME >>' (filter or reshape them in that task, or drop "
      "'pipeline')\n"
      "wf.yaml:9:17: task 'c' has 'pipeline: true', so its with-items must be another with-items "
      "task's results, exactly '<< task.NAME >>' (filter or reshape them in that task, or drop "
      "'pipeline')" },
    { "pipeline from a task without items, or an unknown one",
      "version: 1\ntasks:\n  a: {run: echo}\n"
      "  b:\n    with-items: << task.a >>\n    pipeline: true\n    run: echo\n"
      "  c:\n    with-items: << task.zz >>\n    pipeline: true\n    run: echo\n",
      "wf.yaml:5:17: task 'b' has 'pipeline: true', but its source 'a' has no 'with-items': a "
      "pipeline takes a with-items task's results one by one (drop 'pipeline' to read the whole "
      "result)\n"
      "wf.yaml:9:20: unknown task 'zz'; did you mean 'a'?" },
    { "pipeline with batch-size",
      "version: 1\ntasks:\n  a: {with-items: [1, 2], run: echo}\n"
      "  b:\n    with-items: << task.a >>\n    batch-size: 2\n    pipeline: true\n"
      "    run: echo\n",
      "wf.yaml:6:5: 'pipeline' takes the source task's results one by one, and with "
      "'batch-size' a unit is a batch of them; drop one of the two" },
    { "a pipelined task reads its source as a whole",
      "version: 1\ntasks:\n  a: {with-items: [1, 2], run: echo}\n"
      "  b:\n    with-items: << task.a >>\n    pipeline: true\n"
      "    run: echo << item >> << task.a | length >> << task.a[3] >>\n"
      "    when: << status(\"a\") == \"ok\" >>\n",
      "wf.yaml:7:29: '<< task.a | length >>' reads task 'a' as a whole, but task 'b' is "
      "pipelined from it and takes its results one by one; use item (the result of the same "
      "item of 'a')\n"
      "wf.yaml:7:51: '<< task.a[3] >>' reads task 'a' as a whole, but task 'b' is pipelined "
      "from it and takes its results one by one; use item (the result of the same item of "
      "'a')\n"
      "wf.yaml:8:14: '<< status(\"a\") == \"ok\" >>' reads task 'a' as a whole, but task 'b' "
      "is pipelined from it and takes its results one by one; use item (the result of the same "
      "item of 'a')" },
};

START_TEST(test_error_messages)
{
    char *got = load_errors(error_cases[_i].yaml, NULL);

    ck_assert_msg(got[0] != '\0', "%s: expected errors", error_cases[_i].name);
    assert_errors(got, error_cases[_i].errors);
    free(got);
}
END_TEST

START_TEST(test_source_line_and_caret)
{
    wf_errlist errs;
    wf_workflow *wf = NULL;
    const char *text = "version: 1\ntasks:\n  a:\n    run: echo\n    tiemout: 5s\n";
    char *buf = NULL;
    size_t len = 0;
    FILE *f;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_string("wf.yaml", text, strlen(text), &wf, &errs), WF_EINVAL);
    ck_assert_ptr_null(wf);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_int_eq(errs.items[0].code, WF_EINVAL);
    ck_assert_str_eq(errs.items[0].source_line, "    tiemout: 5s");
    f = open_memstream(&buf, &len);
    wf_error_print(f, &errs.items[0]);
    fclose(f);
    ck_assert_str_eq(buf, "wf.yaml:5:5: unknown key 'tiemout' in task 'a'; did you mean "
                          "'timeout'?\n        tiemout: 5s\n        ^\n");
    free(buf);
    wf_errlist_release(&errs);
}
END_TEST

START_TEST(test_missing_file)
{
    wf_errlist errs;
    wf_workflow *wf = NULL;
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_file("/nonexistent/wf.yaml", &wf, &errs), WF_EIO);
    ck_assert_ptr_null(wf);
    ck_assert_uint_eq(errs.len, 1);
    wf_error_format(&sb, &errs.items[0]);
    ck_assert_str_eq(wf_strbuf_str(&sb), "/nonexistent/wf.yaml: cannot read the workflow file: "
                                         "No such file or directory");
    wf_strbuf_release(&sb);
    wf_errlist_release(&errs);
}
END_TEST

/* ---- good files --------------------------------------------------------------------- */

static const char SPEC_EXAMPLE[] =
    "version: 1\n"
    "name: health-check\n"
    "description: Check every server and report.\n"
    "inputs:\n"
    "  region:  {type: string, default: eu-west-1}\n"
    "  token:   {type: string, secret: true}          # required (no default), masked\n"
    "vars:\n"
    "  api: \"https://<< inputs.region >>.example.test\"\n"
    "env:\n"
    "  LOG_LEVEL: info\n"
    "defaults:\n"
    "  timeout: 60s\n"
    "  retry: {count: 2, delay: 1s, backoff: exponential}\n"
    "concurrency: 8\n"
    "tasks:\n"
    "  list_servers:\n"
    "    run: ./list-servers --region << inputs.region >>\n"
    "    output: json\n"
    "  check_health:\n"
    "    with-items: << task.list_servers.servers >>  # implicit dependency on list_servers\n"
    "    concurrency: 4\n"
    "    when: << item.enabled >>\n"
    "    run: curl -fsS << item.health_url >>\n"
    "    timeout: 10s\n"
    "  report:\n"
    "    needs: [check_health]\n"
    "    when: << always() >>\n"
    "    action: core.echo\n"
    "    input:\n"
    "      message: \"<< task.check_health | length >> checked, << failed('check_health') >>\"\n"
    "outputs:\n"
    "  statuses: << task.check_health >>\n";

START_TEST(test_spec_example)
{
    wf_workflow *wf = load_ok(SPEC_EXAMPLE);

    ck_assert_str_eq(wf->name, "health-check");
    ck_assert_str_eq(wf->description, "Check every server and report.");
    ck_assert_int_eq(wf->concurrency, 8);
    ck_assert_uint_eq(wf->n_inputs, 2);
    ck_assert_int_eq(wf->inputs[0].type, WF_INPUT_STRING);
    ck_assert(wf->inputs[0].has_default);
    ck_assert_str_eq(json_object_get_string(wf->inputs[0].default_value), "eu-west-1");
    ck_assert(!wf->inputs[1].has_default);
    ck_assert(wf->inputs[1].secret);
    ck_assert_uint_eq(wf->n_vars, 1);
    ck_assert_int_eq(wf->vars[0].value->kind, WF_VNODE_TEMPLATE);
    ck_assert_uint_eq(wf->n_env, 1);
    ck_assert_str_eq(wf->env[0].name, "LOG_LEVEL");
    ck_assert_uint_eq(wf->n_tasks, 3);
    ck_assert_str_eq(wf->tasks[0].name, "list_servers");
    ck_assert_str_eq(wf->tasks[2].name, "report");
    ck_assert_uint_eq(wf->n_outputs, 1);
    ck_assert_str_eq(wf->outputs[0].name, "statuses");
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_spec_example_graph)
{
    wf_workflow *wf = load_ok(SPEC_EXAMPLE);
    const wf_task *ls = task(wf, "list_servers"), *ch = task(wf, "check_health"),
                  *rep = task(wf, "report");
    char *d;

    ck_assert_uint_eq(ls->n_deps, 0);
    d = deps_of(wf, ch);
    ck_assert_str_eq(d, "list_servers");
    free(d);
    d = deps_of(wf, rep);
    ck_assert_str_eq(d, "check_health");
    free(d);
    ck_assert_uint_eq(ls->n_dependents, 1);
    ck_assert_uint_eq(ls->dependents[0], 1);
    ck_assert_uint_eq(wf->topo_order[0], 0);
    ck_assert_uint_eq(wf->topo_order[1], 1);
    ck_assert_uint_eq(wf->topo_order[2], 2);
    ck_assert(!ch->when_uses_status);
    ck_assert(rep->when_uses_status);
    ck_assert_int_eq(ls->output, WF_OUTPUT_JSON);
    ck_assert_ptr_nonnull(ls->run);
    ck_assert_int_eq(ch->items_kind, WF_ITEMS_LIST);
    ck_assert_int_eq(ch->items->kind, WF_VNODE_TEMPLATE);
    ck_assert_int_eq(ch->concurrency, 4);
    ck_assert_str_eq(rep->action, "core.echo");
    ck_assert_int_eq(rep->input->kind, WF_VNODE_MAP);
    /* Defaults folded; the task's own timeout wins. */
    ck_assert_int_eq(ls->timeout_ms, 60000);
    ck_assert_int_eq(ch->timeout_ms, 10000);
    ck_assert_int_eq(rep->retry.count, 2);
    ck_assert_int_eq(rep->retry.delay_ms, 1000);
    ck_assert_int_eq(rep->retry.backoff, WF_BACKOFF_EXPONENTIAL);
    ck_assert_int_eq(wf_workflow_task_index(wf, "report"), 2);
    ck_assert_int_eq(wf_workflow_task_index(wf, "nope"), -1);
    /* Positions: the task's key, and its run value. */
    ck_assert_int_eq(ch->mark.line, 19);
    ck_assert_int_eq(ch->mark.column, 3);
    ck_assert_int_eq(ch->run_mark.line, 23);
    ck_assert_int_eq(ch->run_mark.column, 10);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_default_name_and_sha)
{
    const char *text = "version: 1\ntasks:\n  a: {run: echo}\n";
    wf_errlist errs;
    wf_workflow *wf = NULL;
    char hex[WF_SHA256_HEX_LEN + 1], got[WF_SHA256_HEX_LEN + 1];

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_load_string("dir/my.flow.yaml", text, strlen(text), &wf, &errs),
                     WF_OK);
    ck_assert_str_eq(wf->name, "my.flow");
    ck_assert_str_eq(wf->path, "dir/my.flow.yaml");
    wf_sha256_hex(text, strlen(text), hex);
    wf_workflow_sha256_hex(wf, got);
    ck_assert_str_eq(got, hex);
    ck_assert_str_eq(wf->source, text);
    wf_workflow_free(wf);
    wf_errlist_release(&errs);
}
END_TEST

START_TEST(test_implicit_deps_and_publish)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "tasks:\n"
                              "  a:\n"
                              "    run: echo\n"
                              "    publish: {ver: << task.a >>}\n"
                              "  b:\n"
                              "    needs: a\n"
                              "    run: echo << vars.ver >>\n"
                              "  c:\n"
                              "    needs: [b, b]\n"
                              "    run: echo << task[\"d-x\"] >> << stdout('a') >>\n"
                              "    cache: {key: << vars.ver >>, sources: [\"src/*.c\"]}\n"
                              "  d-x:\n"
                              "    action: core.value\n"
                              "    input: {value: [1, 2]}\n");
    char *d = deps_of(wf, task(wf, "c"));

    /* c reads vars.ver published by a, an ancestor through b: no error. */
    ck_assert_str_eq(d, "a,b,d-x");
    free(d);
    ck_assert_uint_eq(task(wf, "a")->n_deps, 0); /* its own name inside publish */
    ck_assert_uint_eq(task(wf, "a")->n_publish, 1);
    ck_assert_uint_eq(task(wf, "a")->n_dependents, 2);
    ck_assert(task(wf, "c")->cache);
    ck_assert_uint_eq(wf_task_extra_of(task(wf, "c"))->n_cache_sources, 1);
    ck_assert_ptr_nonnull(wf_task_extra_of(task(wf, "c"))->cache_key);
    ck_assert_int_eq(task(wf, "d-x")->input->kind, WF_VNODE_CONST);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_defaults_folded)
{
    wf_workflow *wf =
        load_ok("version: 1\n"
                "defaults:\n"
                "  timeout: 1.5\n"
                "  retry: 3\n"
                "  env: {A: \"1\", B: \"2\"}\n"
                "  workdir: /tmp\n"
                "  shell: bash -c\n"
                "  continue-on-error: true\n"
                "  executor: slurm\n"
                "tasks:\n"
                "  a:\n"
                "    run: echo\n"
                "    env: {B: three, C: \"4\"}\n"
                "    slurm: {partition: debug, cpus: 2}\n"
                "  b:\n"
                "    run: [ls, -l, 1]\n"
                "    timeout: 0\n"
                "    retry: {count: 1, delay: 250ms, backoff: linear, max-delay: 1m}\n"
                "    continue-on-error: false\n"
                "    executor: local\n"
                "    workdir: /srv\n");
    const wf_task *a = task(wf, "a"), *b = task(wf, "b");

    ck_assert_int_eq(a->timeout_ms, 1500);
    ck_assert_int_eq(a->retry.count, 3);
    ck_assert(a->continue_on_error);
    ck_assert_int_eq(a->executor, WF_EXECUTOR_SLURM);
    ck_assert_ptr_nonnull(a->slurm);
    ck_assert_uint_eq(a->n_env, 3);
    ck_assert_str_eq(a->env[0].name, "A");
    ck_assert_str_eq(a->env[1].name, "B");
    ck_assert_str_eq(wf_tpl_source(a->env[1].tpl), "three");
    ck_assert_str_eq(a->env[2].name, "C");
    ck_assert_str_eq(wf_tpl_source(a->workdir), "/tmp");
    ck_assert_str_eq(wf_tpl_source(a->shell), "bash -c");

    ck_assert_int_eq(b->timeout_ms, 0);
    ck_assert_int_eq(b->retry.count, 1);
    ck_assert_int_eq(b->retry.delay_ms, 250);
    ck_assert_int_eq(b->retry.backoff, WF_BACKOFF_LINEAR);
    ck_assert_int_eq(b->retry.max_delay_ms, 60000);
    ck_assert(!b->continue_on_error);
    ck_assert_int_eq(b->executor, WF_EXECUTOR_LOCAL);
    ck_assert_uint_eq(b->n_env, 2);
    ck_assert_str_eq(wf_tpl_source(b->workdir), "/srv");
    ck_assert_ptr_null(b->run);
    ck_assert_uint_eq(b->run_argc, 3);
    ck_assert_str_eq(wf_tpl_source(b->run_argv[2]), "1");
    wf_workflow_free(wf);
}
END_TEST

/* A chain of pipelined tasks: each names its source, its depth counts the links. */
START_TEST(test_pipeline_chain)
{
    wf_workflow *wf = load_ok("version: 1\ntasks:\n"
                              "  c:\n    with-items: << task.b >>\n    pipeline: true\n"
                              "    run: echo << item >>\n"
                              "  a: {with-items: [1, 2], run: echo}\n"
                              "  b: {with-items: '<<task.a>>', pipeline: true, run: echo}\n"
                              "  d: {with-items: << task.a >>, run: echo}\n");

    ck_assert(!task(wf, "a")->pipeline);
    ck_assert_uint_eq(task(wf, "a")->pipe_depth, 0);
    ck_assert(task(wf, "b")->pipeline);
    ck_assert_str_eq(wf->tasks[task(wf, "b")->pipe_source].name, "a");
    ck_assert_uint_eq(task(wf, "b")->pipe_depth, 1);
    ck_assert_str_eq(wf->tasks[task(wf, "c")->pipe_source].name, "b");
    ck_assert_uint_eq(task(wf, "c")->pipe_depth, 2);
    ck_assert(!task(wf, "d")->pipeline);
    ck_assert_uint_eq(task(wf, "d")->pipe_depth, 0);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_matrix)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "tasks:\n"
                              "  build:\n"
                              "    with-items:\n"
                              "      matrix: {os: [linux, mac], arch: [x86, arm]}\n"
                              "      exclude: [{os: mac, arch: x86}]\n"
                              "      include: [{os: bsd, arch: riscv}]\n"
                              "    batch-size: 2\n"
                              "    fail-fast: true\n"
                              "    run: make OS=<< item[0].os >>\n");
    const wf_task *t = task(wf, "build");
    char *s;

    ck_assert_int_eq(t->items_kind, WF_ITEMS_MATRIX);
    ck_assert_uint_eq(wf_task_extra_of(t)->n_matrix, 2);
    ck_assert_str_eq(wf_task_extra_of(t)->matrix[0].name, "os");
    ck_assert_str_eq(wf_task_extra_of(t)->matrix[1].name, "arch");
    s = json_text(wf_task_extra_of(t)->matrix[1].value->constant);
    ck_assert_str_eq(s, "[\"x86\",\"arm\"]");
    free(s);
    s = json_text(wf_task_extra_of(t)->matrix_exclude->constant);
    ck_assert_str_eq(s, "[{\"os\":\"mac\",\"arch\":\"x86\"}]");
    free(s);
    ck_assert_ptr_nonnull(wf_task_extra_of(t)->matrix_include);
    ck_assert_int_eq(t->batch_size, 2);
    ck_assert(t->fail_fast);
    wf_workflow_free(wf);
}
END_TEST

/* include follows GitHub Actions: the example of its documentation ("Expanding or adding
 * matrix configurations", fruit x animal with five entries) gives these six combinations. */
START_TEST(test_matrix_include_as_github)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "tasks:\n"
                              "  m:\n"
                              "    with-items:\n"
                              "      matrix: {fruit: [apple, pear], animal: [cat, dog]}\n"
                              "      include:\n"
                              "        - color: green\n"
                              "        - {color: pink, animal: cat}\n"
                              "        - {fruit: apple, shape: circle}\n"
                              "        - fruit: banana\n"
                              "        - {fruit: banana, animal: cat}\n"
                              "    run: echo\n"
                              "  g:\n"
                              "    with-items:\n"
                              "      matrix:\n"
                              "        fruit: [apple, pear]\n"
                              "        animal: [cat, dog]\n"
                              "        include:\n"
                              "          - color: green\n"
                              "          - {color: pink, animal: cat}\n"
                              "          - {fruit: apple, shape: circle}\n"
                              "          - fruit: banana\n"
                              "          - {fruit: banana, animal: cat}\n"
                              "    run: echo\n"
                              "  x:\n"
                              "    with-items:\n"
                              "      matrix: {os: [linux, mac], arch: [x86, arm]}\n"
                              "      exclude: [{os: mac, arch: x86}]\n"
                              "      include: [{os: mac, arch: x86, late: true}, {arch: arm, "
                              "os: linux, n: 1}, {arch: arm, n: 2}]\n"
                              "    run: echo\n");
    wf_ctx_init init = { 0 };
    wf_ctx *ctx = wf_ctx_new(&init);
    json_object *out = NULL;
    wf_error err;
    char *s;

    wf_error_init(&err);
    ck_assert_int_eq(wf__matrix_expand(task(wf, "m"), ctx, &out, &err), WF_OK);
    s = json_text(out);
    ck_assert_str_eq(s, "[{\"fruit\":\"apple\",\"animal\":\"cat\",\"color\":\"pink\","
                        "\"shape\":\"circle\"},"
                        "{\"fruit\":\"apple\",\"animal\":\"dog\",\"color\":\"green\","
                        "\"shape\":\"circle\"},"
                        "{\"fruit\":\"pear\",\"animal\":\"cat\",\"color\":\"pink\"},"
                        "{\"fruit\":\"pear\",\"animal\":\"dog\",\"color\":\"green\"},"
                        "{\"fruit\":\"banana\"},"
                        "{\"fruit\":\"banana\",\"animal\":\"cat\"}]");
    json_object_put(out);
    /* The same with include inside the matrix, as GitHub writes it (not an axis). */
    ck_assert_int_eq(wf__matrix_expand(task(wf, "g"), ctx, &out, &err), WF_OK);
    {
        char *g = json_text(out);

        ck_assert_str_eq(g, s);
        free(g);
    }
    free(s);
    json_object_put(out);
    /* An excluded combination comes back only as an entry of its own; a later entry may
     * overwrite what an earlier one added, never a matrix value. */
    ck_assert_int_eq(wf__matrix_expand(task(wf, "x"), ctx, &out, &err), WF_OK);
    s = json_text(out);
    ck_assert_str_eq(s, "[{\"os\":\"linux\",\"arch\":\"x86\"},"
                        "{\"os\":\"linux\",\"arch\":\"arm\",\"n\":2},"
                        "{\"os\":\"mac\",\"arch\":\"arm\",\"n\":2},"
                        "{\"os\":\"mac\",\"arch\":\"x86\",\"late\":true}]");
    free(s);
    json_object_put(out);
    wf_ctx_unref(ctx);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_anchors_and_merge_keys)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "vars:\n"
                              "  base: &base {timeout: 5s, env: {A: x}}\n"
                              "  list: &l [1, 2]\n"
                              "  again: *l\n"
                              "tasks:\n"
                              "  a:\n"
                              "    <<: *base\n"
                              "    run: echo\n"
                              "  b:\n"
                              "    <<: [{timeout: 7s}, *base]\n"
                              "    timeout: 9s\n"
                              "    run: echo\n"
                              "    with-items: *l\n");
    char *s = json_text(wf->vars[2].value->constant);

    ck_assert_str_eq(s, "[1,2]");
    free(s);
    ck_assert_int_eq(task(wf, "a")->timeout_ms, 5000);
    ck_assert_uint_eq(task(wf, "a")->n_env, 1);
    ck_assert_int_eq(task(wf, "b")->timeout_ms, 9000); /* explicit keys win */
    ck_assert_uint_eq(task(wf, "b")->n_env, 1);        /* from the second merged map */
    ck_assert_int_eq(task(wf, "b")->items_kind, WF_ITEMS_LIST);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_merge_key_precedence)
{
    /* In a list of merged maps, the earlier map wins. */
    wf_workflow *wf = load_ok("version: 1\n"
                              "tasks:\n"
                              "  a:\n"
                              "    <<: [{timeout: 7s}, {timeout: 8s, retry: 1}]\n"
                              "    run: echo\n");

    ck_assert_int_eq(task(wf, "a")->timeout_ms, 7000);
    ck_assert_int_eq(task(wf, "a")->retry.count, 1);
    wf_workflow_free(wf);
}
END_TEST

/* YAML 1.2 core schema, as the format restricts it. */
static const struct {
    const char *yaml, *json;
} scalar_cases[] = {
    { "yes", "\"yes\"" },
    { "no", "\"no\"" },
    { "on", "\"on\"" },
    { "off", "\"off\"" },
    { "true", "true" },
    { "False", "false" },
    { "TRUE", "true" },
    { "null", "null" },
    { "~", "null" },
    { "", "null" },
    { "NULL", "null" },
    { "0x10", "16" },
    { "0o17", "15" },
    { "0x", "\"0x\"" },
    { "42", "42" },
    { "-7", "-7" },
    { "007", "\"007\"" },
    { "+1", "\"+1\"" },
    { "1.5", "1.5" },
    { "1e3", "1000.0" },
    { "-0.25", "-0.25" },
    { ".5", "\".5\"" },
    { ".inf", "\".inf\"" },
    { "1.10", "1.1" },
    { "\"1\"", "\"1\"" },
    { "'true'", "\"true\"" },
    { "\"null\"", "\"null\"" },
    { "!!str 12", "\"12\"" },
    { "!!float 2", "2.0" },
    { "9223372036854775807", "9223372036854775807" },
    { "2001-12-14", "\"2001-12-14\"" },
    { "[yes, 0x1F, ~]", "[\"yes\",31,null]" },
    /* the first byte and the length pass a null, a boolean or a number, and nothing else */
    { "tRuE", "true" },
    { "fAlSe", "false" },
    { "Null", "null" },
    { "nul", "\"nul\"" },
    { "nulls", "\"nulls\"" },
    { "truer", "\"truer\"" },
    { "fals", "\"fals\"" },
    { "~~", "\"~~\"" },
    { "-x", "\"-x\"" },
    { "0", "0" },
    { "9.5e-1", "0.95" },
    { "x1", "\"x1\"" },
    { "{a: 1, \"b\": no}", "{\"a\":1,\"b\":\"no\"}" },
};

START_TEST(test_yaml12_scalars)
{
    char *text = wf_xasprintf("version: 1\nvars:\n  v: %s\ntasks:\n  a: {run: echo}\n",
                              scalar_cases[_i].yaml);
    wf_workflow *wf = load_ok(text);
    char *got;

    ck_assert_int_eq(wf->vars[0].value->kind, WF_VNODE_CONST);
    got = json_text(wf->vars[0].value->constant);
    ck_assert_msg(strcmp(got, scalar_cases[_i].json) == 0, "%s: got %s, want %s",
                  scalar_cases[_i].yaml, got, scalar_cases[_i].json);
    free(got);
    free(text);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_unquoted_templates)
{
    /* A plain scalar starting with << is a template, not a merge key, in every position. */
    wf_workflow *wf = load_ok("version: 1\n"
                              "vars:\n"
                              "  l: [<< inputs.a >>, b]\n"
                              "  m: {k: << inputs.a >>}\n"
                              "inputs:\n"
                              "  a: {default: 1}\n"
                              "tasks:\n"
                              "  t:\n"
                              "    when: << always() >>\n"
                              "    with-items: << vars.l >>\n"
                              "    run: echo << item >>\n"
                              "    env:\n"
                              "      X: << item >>\n");
    const wf_task *t = task(wf, "t");

    ck_assert_int_eq(wf->vars[0].value->kind, WF_VNODE_LIST);
    ck_assert_int_eq(wf->vars[0].value->children[0]->kind, WF_VNODE_TEMPLATE);
    ck_assert_int_eq(wf->vars[0].value->children[1]->kind, WF_VNODE_CONST);
    ck_assert_int_eq(wf->vars[1].value->kind, WF_VNODE_MAP);
    ck_assert_str_eq(wf->vars[1].value->keys[0], "k");
    ck_assert_str_eq(wf_tpl_source(t->when), "<< always() >>");
    ck_assert_str_eq(wf_tpl_source(t->run), "echo << item >>");
    ck_assert(t->when_uses_status);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_many_tasks)
{
    /* A layered graph of 2,000 tasks: names resolve through the sorted index. */
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_workflow *wf;

    wf_strbuf_adds(&sb, "version: 1\ntasks:\n");
    for (int k = 0; k < 2000; k++) {
        wf_strbuf_addf(&sb, "  t%d:\n    run: echo %d\n", k, k);
        if (k >= 10)
            wf_strbuf_addf(&sb, "    needs: [t%d, t%d]\n", k - 10, k - 7);
    }
    wf = load_ok(wf_strbuf_str(&sb));
    ck_assert_uint_eq(wf->n_tasks, 2000);
    ck_assert_uint_eq(task(wf, "t1999")->n_deps, 2);
    /* The name index (a hash table): every name is found at its own index, and no other. */
    for (int k = 0; k < 2000; k++) {
        char name[16];

        snprintf(name, sizeof(name), "t%d", k);
        ck_assert_int_eq(wf_workflow_task_index(wf, name), k);
    }
    ck_assert_int_eq(wf_workflow_task_index(wf, "t2000"), -1);
    ck_assert_int_eq(wf_workflow_task_index(wf, "t01"), -1);
    ck_assert_int_eq(wf_workflow_task_index(wf, "t"), -1);
    ck_assert_int_eq(wf_workflow_task_index(wf, ""), -1);
    for (size_t k = 0; k < wf->n_tasks; k++) {
        const wf_task *t = &wf->tasks[wf->topo_order[k]];

        /* Every dependency comes earlier in topo_order. */
        for (size_t d = 0; d < t->n_deps; d++)
            for (size_t j = k; j < wf->n_tasks; j++)
                ck_assert_uint_ne(wf->topo_order[j], t->deps[d]);
        if (k > 100)
            break;
    }
    wf_workflow_free(wf);
    wf_strbuf_release(&sb);
}
END_TEST

/* Two task keys that differ only after an escaped NUL are two tasks of the same name: `needs`
 * finds the one the sorted index found (the second: no cycle with a), as it always did. */
START_TEST(test_names_cut_by_nul)
{
    const char *text = "version: 1\ntasks:\n"
                       "  \"a\\0x\": {run: echo 1, needs: [b]}\n"
                       "  \"a\\0y\": {run: echo 2}\n"
                       "  b: {run: echo 3, needs: [a]}\n"
                       "  c: {run: echo 4, needs: [a, zz]}\n";
    wf_workflow *wf = NULL;
    char *errs = load_errors(text, &wf);

    assert_errors(errs, "wf.yaml:6:31: unknown task 'zz'; did you mean 'a'?");
    free(errs);
    errs = load_errors("version: 1\ntasks:\n"
                       "  \"a\\0x\": {run: echo 1, needs: [b]}\n"
                       "  \"a\\0y\": {run: echo 2}\n"
                       "  b: {run: echo 3, needs: [a]}\n",
                       &wf);
    ck_assert_str_eq(errs, "");
    ck_assert_int_eq(wf_workflow_task_index(wf, "a"), 1);
    wf_workflow_free(wf);
    free(errs);
}
END_TEST

START_TEST(test_alias_bomb_is_bounded)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_workflow *wf = NULL;
    char *errs;

    wf_strbuf_adds(&sb, "version: 1\nvars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for (int k = 1; k < 9; k++)
        wf_strbuf_addf(&sb,
                       "  a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, "
                       "*a%d]\n",
                       k, k, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1, k - 1);
    wf_strbuf_adds(&sb, "tasks:\n  a: {run: echo}\n");
    errs = load_errors(wf_strbuf_str(&sb), &wf);
    ck_assert_ptr_null(wf);
    ck_assert_str_eq(errs, "wf.yaml:1:1: aliases expand this document to more than 1000000 "
                           "extra values");
    free(errs);
    wf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_recursive_alias)
{
    char *errs = load_errors("version: 1\nvars:\n  a: &a [1, *a]\ntasks:\n  t: {run: x}\n", NULL);

    ck_assert_str_eq(errs, "wf.yaml:3:13: alias '*a' refers to a node that contains it "
                           "(recursive data is not supported)");
    free(errs);
}
END_TEST

/* ---- vnode evaluation --------------------------------------------------------------- */

START_TEST(test_vnode_eval)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "inputs:\n"
                              "  n: {type: integer, default: 3}\n"
                              "vars:\n"
                              "  v: {count: << inputs.n >>, list: [a, \"<< inputs.n >>!\"], k: 1}\n"
                              "tasks:\n"
                              "  a: {run: echo}\n");
    json_object *inputs = json_tokener_parse("{\"n\": 3}"), *out = NULL;
    wf_ctx_init init = { 0 };
    wf_ctx *ctx;
    wf_error err;
    char *s;

    init.inputs = inputs;
    ctx = wf_ctx_new(&init);
    wf_error_init(&err);
    ck_assert_int_eq(wf_vnode_eval(wf->vars[0].value, ctx, &out, &err), WF_OK);
    s = json_text(out);
    ck_assert_str_eq(s, "{\"count\":3,\"list\":[\"a\",\"3!\"],\"k\":1}");
    free(s);
    json_object_put(out);
    wf_ctx_unref(ctx);
    wf_error_release(&err);
    wf_workflow_free(wf);
}
END_TEST

/* ---- input binding ------------------------------------------------------------------ */

static const char INPUTS_WF[] = "version: 1\n"
                                "inputs:\n"
                                "  s: {type: string, default: x}\n"
                                "  i: {type: integer, default: 1}\n"
                                "  f: {type: number, default: 0.5}\n"
                                "  b: {type: boolean, default: false}\n"
                                "  l: {type: array, default: []}\n"
                                "  o: {type: object, default: {}}\n"
                                "  a: {default: null}\n"
                                "  e: {type: string, enum: [red, green], default: red}\n"
                                "  req: {type: integer}\n"
                                "  pw: {type: integer, secret: true, default: 0}\n"
                                "tasks:\n"
                                "  t: {run: echo}\n";

static const struct {
    const char *given; /* JSON object */
    bool from_strings;
    const char *want; /* bound JSON, or the errors joined by '\n' */
} bind_cases[] = {
    { "{\"req\": \"5\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":null,\"e\":\"red\","
      "\"req\":5,\"pw\":0}" },
    { "{\"req\": \"-12\", \"s\": \"007\", \"i\": \"42\", \"f\": \"2\", \"b\": \"TRUE\", "
      "\"l\": \"[1, \\\"a\\\"]\", \"o\": \"{\\\"k\\\": [true]}\", \"a\": \"1.10\", "
      "\"e\": \"green\", \"pw\": \"7\"}",
      true,
      "{\"s\":\"007\",\"i\":42,\"f\":2,\"b\":true,\"l\":[1,\"a\"],\"o\":{\"k\":[true]},"
      "\"a\":1.1,\"e\":\"green\",\"req\":-12,\"pw\":7}" },
    /* any: JSON when the whole text is JSON, else the text */
    { "{\"req\": \"1\", \"a\": \"3\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":3,\"e\":\"red\","
      "\"req\":1,\"pw\":0}" },
    { "{\"req\": \"1\", \"a\": \"true\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":true,\"e\":\"red\","
      "\"req\":1,\"pw\":0}" },
    { "{\"req\": \"1\", \"a\": \"[1, {\\\"k\\\": null}]\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":[1,{\"k\":null}],"
      "\"e\":\"red\",\"req\":1,\"pw\":0}" },
    { "{\"req\": \"1\", \"a\": \"007\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":\"007\",\"e\":\"red\","
      "\"req\":1,\"pw\":0}" },
    { "{\"req\": \"1\", \"a\": \"TRUE\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":\"TRUE\",\"e\":\"red\","
      "\"req\":1,\"pw\":0}" },
    { "{\"req\": \"1\", \"f\": \"1.5e2\"}", true,
      "{\"s\":\"x\",\"i\":1,\"f\":150.0,\"b\":false,\"l\":[],\"o\":{},\"a\":null,\"e\":\"red\","
      "\"req\":1,\"pw\":0}" },
    { "{\"req\": 2, \"a\": [1], \"l\": [2], \"f\": 3}", false,
      "{\"s\":\"x\",\"i\":1,\"f\":3,\"b\":false,\"l\":[2],\"o\":{},\"a\":[1],\"e\":\"red\","
      "\"req\":2,\"pw\":0}" },
    { "{}", true, "required input 'req' (integer) was not given" },
    { "{\"req\": \"1\", \"rq\": \"2\", \"zzzzzz\": 1}", true,
      "unknown input 'rq'; did you mean 'req'?\nunknown input 'zzzzzz'" },
    { "{\"req\": \"1.5\", \"i\": \"x\", \"b\": \"yes\", \"l\": \"{}\", \"o\": \"[\"}", true,
      "input 'i' must be an integer, got 'x'\n"
      "input 'b' must be a boolean (true or false), got 'yes'\n"
      "input 'l' must be a JSON list, got '{}'\n"
      "input 'o' must be a JSON object, got '['\n"
      "input 'req' must be an integer, got '1.5'" },
    { "{\"req\": 1, \"e\": \"blue\"}", true,
      "input 'e' must be one of \"red\", \"green\"; got the string 'blue'" },
    { "{\"req\": 1, \"s\": 5, \"i\": 1.5}", false,
      "input 's' must be a string, got the integer 5\n"
      "input 'i' must be an integer, got the number 1.5" },
    { "{\"req\": 1, \"pw\": \"hunter2\"}", true,
      "input 'pw' must be an integer (value hidden: the input is secret)" },
    { "{\"req\": 1, \"pw\": \"hunter2\"}", false,
      "input 'pw' must be an integer, got string (value hidden: the input is secret)" },
    { "{\"req\": null}", false,
      "{\"s\":\"x\",\"i\":1,\"f\":0.5,\"b\":false,\"l\":[],\"o\":{},\"a\":null,\"e\":\"red\","
      "\"req\":null,\"pw\":0}" },
};

START_TEST(test_bind_inputs)
{
    wf_workflow *wf = load_ok(INPUTS_WF);
    json_object *given = json_tokener_parse(bind_cases[_i].given), *out = NULL;
    wf_errlist errs;
    wf_strbuf sb = WF_STRBUF_INIT;
    int rc;

    ck_assert_ptr_nonnull(given);
    wf_errlist_init(&errs);
    rc = wf_workflow_bind_inputs(wf, given, bind_cases[_i].from_strings, &out, &errs);
    if (rc == WF_OK) {
        ck_assert_uint_eq(errs.len, 0);
        wf_json_write(&sb, out);
    } else {
        ck_assert_int_eq(rc, WF_EINVAL);
        ck_assert_ptr_null(out);
        for (size_t k = 0; k < errs.len; k++) {
            if (k > 0)
                wf_strbuf_addc(&sb, '\n');
            wf_error_format(&sb, &errs.items[k]);
        }
    }
    ck_assert_str_eq(wf_strbuf_str(&sb), bind_cases[_i].want);
    wf_strbuf_release(&sb);
    wf_errlist_release(&errs);
    json_object_put(given);
    json_object_put(out);
    wf_workflow_free(wf);
}
END_TEST

START_TEST(test_bind_no_inputs)
{
    wf_workflow *wf = load_ok("version: 1\ntasks:\n  t: {run: echo}\n");
    json_object *out = NULL;
    wf_errlist errs;

    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_workflow_bind_inputs(wf, NULL, true, &out, &errs), WF_OK);
    ck_assert_int_eq(json_object_object_length(out), 0);
    json_object_put(out);
    wf_errlist_release(&errs);
    wf_workflow_free(wf);
}
END_TEST

/* ---- limits: sizes from input are checked before they are allocated ----------------- */

/* Loads len bytes of text (which may hold a NUL) and returns its errors like load_errors. */
static char *load_errors_len(const char *text, size_t len)
{
    wf_errlist errs;
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_workflow *wf = NULL;

    wf_errlist_init(&errs);
    ck_assert_int_ne(wf_workflow_load_string("wf.yaml", text, len, &wf, &errs), WF_OK);
    ck_assert_ptr_null(wf);
    for (size_t k = 0; k < errs.len; k++) {
        if (k > 0)
            wf_strbuf_addc(&sb, '\n');
        wf_error_format(&sb, &errs.items[k]);
    }
    wf_errlist_release(&errs);
    return wf_strbuf_detach(&sb, NULL);
}

/* Encoding errors come from libyaml's reader, which gives a byte offset and no mark: they
 * were all reported at 1:1. */
static const struct {
    const char *name, *yaml;
    size_t len;
    const char *error;
} encoding_cases[] = {
    { "invalid leading octet", "version: 1\ntasks:\n  t:\n    run: echo \xff hi\n", 0,
      "wf.yaml:4:15: invalid YAML: invalid leading UTF-8 octet (byte 0xff)" },
    { "invalid trailing octet", "version: 1\ntasks:\n  t:\n    run: \"echo \xc3(\"\n", 0,
      "wf.yaml:4:17: invalid YAML: invalid trailing UTF-8 octet (byte 0x28)" },
    { "control character", "version: 1\ntasks:\n  t:\n    run: echo a\x01z\n", 0,
      "wf.yaml:4:16: invalid YAML: control characters are not allowed (byte 0x01)" },
    { "NUL", "version: 1\ntasks:\n  t:\n    run: echo a\0z\n", 41,
      "wf.yaml:4:16: invalid YAML: control characters are not allowed (byte 0x00)" },
    { "escape in a comment", "version: 1\n# a \x1b[2J comment\ntasks:\n  t: {run: x}\n", 0,
      "wf.yaml:2:5: invalid YAML: control characters are not allowed (byte 0x1b)" },
};

START_TEST(test_encoding_errors)
{
    const char *yaml = encoding_cases[_i].yaml;
    size_t len = encoding_cases[_i].len ? encoding_cases[_i].len : strlen(yaml);
    char *got = load_errors_len(yaml, len);

    ck_assert_msg(strcmp(got, encoding_cases[_i].error) == 0, "%s:\n got  %s\n want %s",
                  encoding_cases[_i].name, got, encoding_cases[_i].error);
    free(got);
}
END_TEST

/* A block list of n items under "        KEY:" (matrix axes are at that depth). */
static void add_axis(wf_strbuf *sb, const char *key, int n)
{
    wf_strbuf_addf(sb, "        %s:\n", key);
    for (int k = 0; k < n; k++)
        wf_strbuf_addf(sb, "          - %d\n", k);
}

START_TEST(test_matrix_cap)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    wf_workflow *wf;
    char *errs;

    /* 10,000 x 1,001 written out: the product is known at load time. */
    wf_strbuf_adds(&sb, "version: 1\ntasks:\n  t:\n    with-items:\n      matrix:\n");
    add_axis(&sb, "a", 10000);
    add_axis(&sb, "b", 1001);
    wf_strbuf_adds(&sb, "    run: echo << item.a >>\n");
    errs = load_errors(wf_strbuf_str(&sb), NULL);
    ck_assert_str_eq(errs, "wf.yaml:6:9: the matrix has 10010000 combinations, more than the "
                           "10000000 items a task may expand to; split it into several tasks");
    free(errs);

    /* Exactly the cap loads; one 'include' entry more does not. */
    wf_strbuf_reset(&sb);
    wf_strbuf_adds(&sb, "version: 1\ntasks:\n  t:\n    with-items:\n      matrix:\n");
    add_axis(&sb, "a", 10000);
    add_axis(&sb, "b", 1000);
    wf_strbuf_adds(&sb, "    run: echo << item.a >>\n");
    wf = load_ok(wf_strbuf_str(&sb));
    wf_workflow_free(wf);
    wf_strbuf_reset(&sb);
    wf_strbuf_adds(&sb, "version: 1\ntasks:\n  t:\n    with-items:\n      include: [{a: x}]\n"
                        "      matrix:\n");
    add_axis(&sb, "a", 10000);
    add_axis(&sb, "b", 1000);
    wf_strbuf_adds(&sb, "    run: echo << item.a >>\n");
    errs = load_errors(wf_strbuf_str(&sb), NULL);
    ck_assert_str_eq(errs, "wf.yaml:7:9: the matrix has 10000000 combinations and 1 'include' "
                           "entries, more than the 10000000 items a task may expand to; split it "
                           "into several tasks");
    free(errs);

    /* Axes given by templates are only known at run time (the run checks them). */
    wf = load_ok("version: 1\ntasks:\n  t:\n    with-items:\n      matrix:\n"
                 "        a: << range(10000) >>\n        b: << range(1000) >>\n"
                 "    run: echo << item.a >>\n");
    wf_workflow_free(wf);
    wf_strbuf_release(&sb);
}
END_TEST

START_TEST(test_items_cap)
{
    wf_strbuf sb = WF_STRBUF_INIT;
    char *errs;

    if (WF_TEST_SANITIZED) {
        printf("skipped under a sanitizer: a literal list of 10,000,001 items\n");
        return;
    }
    wf_strbuf_adds(&sb, "version: 1\ntasks:\n  t:\n    with-items: [0");
    for (int k = 0; k < 10000000; k++)
        wf_strbuf_adds(&sb, ",0");
    wf_strbuf_adds(&sb, "]\n    run: echo << item >>\n");
    errs = load_errors(wf_strbuf_str(&sb), NULL);
    ck_assert_str_eq(errs, "wf.yaml:4:17: with-items has 10000001 items, more than the 10000000 a "
                           "task may expand to; split it into several tasks");
    free(errs);
    wf_strbuf_release(&sb);
}
END_TEST

/* The file's one error, formatted. */
static char *file_error(int (*load)(const char *, wf_errlist *), const char *path, int want)
{
    wf_errlist errs;
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_errlist_init(&errs);
    ck_assert_int_eq(load(path, &errs), want);
    ck_assert_uint_ge(errs.len, 1);
    wf_error_format(&sb, &errs.items[0]);
    wf_errlist_release(&errs);
    return wf_strbuf_detach(&sb, NULL);
}

static int load_workflow(const char *path, wf_errlist *errs)
{
    wf_workflow *wf = NULL;
    int rc = wf_workflow_load_file(path, &wf, errs);

    ck_assert_ptr_null(wf);
    return rc;
}

static int load_inputs(const char *path, wf_errlist *errs)
{
    json_object *v = NULL;
    int rc = wf_yaml_load_value_file(path, &v, errs);

    ck_assert_ptr_null(v);
    return rc;
}

START_TEST(test_slurm_keys_and_cpus)
{
    wf_workflow *wf = load_ok("version: 1\n"
                              "inputs: {acct: {default: p42}}\n"
                              "slurm: {account: << inputs.acct >>, qos: normal, memory: 2G}\n"
                              "defaults: {cpus: 2}\n"
                              "tasks:\n"
                              "  a:\n"
                              "    executor: slurm\n"
                              "    run: echo\n"
                              "    slurm: {gpus: \"a100:2\", constraint: \"<< inputs.acct >>\", "
                              "mem: 4096, time: 0, extra: [--x, << inputs.acct >>]}\n"
                              "  b: {run: echo, cpus: << inputs.acct >>}\n"
                              "  c: {run: echo, cpus: 3}\n"
                              "  e: {action: core.noop, cpus: 1}\n");
    json_object *cfg = NULL;
    wf_errlist errs;
    char path[] = "/tmp/wf-check-config-XXXXXX";
    int fd = mkstemp(path);
    char *err;
    static const char bad[] = "slurm:\n  account: << x >>\n  mem: [1]\nslurn: {}\n";
    ck_assert_ptr_nonnull(wf->slurm);
    ck_assert_int_eq(task(wf, "a")->cpus, 2);
    ck_assert_ptr_nonnull(task(wf, "a")->slurm);
    ck_assert_ptr_nonnull(wf_task_extra_of(task(wf, "b"))->cpus_tpl);
    ck_assert_int_eq(task(wf, "c")->cpus, 3);
    ck_assert_int_eq(task(wf, "e")->cpus, 1); /* its own wins over defaults */
    ck_assert_int_eq(task(wf, "b")->cpus, 0);
    wf_workflow_free(wf);

    /* The site configuration: constants only, errors at file:line:col. */
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, bad, sizeof(bad) - 1), (ssize_t)sizeof(bad) - 1);
    close(fd);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_site_config_load(path, &cfg, &errs), WF_EINVAL);
    ck_assert_ptr_null(cfg);
    ck_assert_uint_eq(errs.len, 3);
    ck_assert_int_eq(errs.items[0].line, 2);
    ck_assert_int_eq(errs.items[0].column, 12);
    ck_assert_str_eq(errs.items[0].message,
                     "'slurm.account' holds a template, and the site configuration has no "
                     "workflow to evaluate it against: write the value");
    ck_assert_str_eq(errs.items[1].message, "'slurm.mem' must be a memory size like \"4G\" or "
                                            "megabytes of at least 1 (--mem), got a list");
    ck_assert_str_eq(errs.items[2].message,
                     "unknown key 'slurn' in the configuration; did you mean 'slurm'?");
    wf_errlist_release(&errs);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "slurm: {account: proj, qos: -q}\n", 32), 32);
    close(fd);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_site_config_load(path, &cfg, &errs), WF_EINVAL);
    ck_assert_uint_eq(errs.len, 1);
    ck_assert_int_eq(errs.items[0].column, 29);
    wf_errlist_release(&errs);
    fd = open(path, O_WRONLY | O_TRUNC);
    ck_assert_int_eq(write(fd, "slurm: {account: proj, memory: 2G}\n", 35), 35);
    close(fd);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_site_config_load(path, &cfg, &errs), WF_OK);
    err = json_text(cfg);
    ck_assert_str_eq(err, "{\"account\":\"proj\",\"memory\":\"2G\"}");
    free(err);
    json_object_put(cfg);
    wf_errlist_release(&errs);
    unlink(path);
    wf_errlist_init(&errs);
    ck_assert_int_eq(wf_site_config_load(path, &cfg, &errs), WF_EIO);
    wf_errlist_release(&errs);
}
END_TEST

START_TEST(test_file_cap)
{
    char path[] = "/tmp/wf-check-loader-XXXXXX";
    int fd = mkstemp(path);
    char *err;

    ck_assert_int_ge(fd, 0);
    /* A device is read up to the cap and one byte more, then refused. */
    err = file_error(load_workflow, "/dev/zero", WF_ERANGE);
    ck_assert_str_eq(err, "/dev/zero: file too large (more than 64 MiB, the workflow file limit)");
    free(err);
    err = file_error(load_inputs, "/dev/zero", WF_ERANGE);
    ck_assert_str_eq(err, "/dev/zero: file too large (more than 64 MiB, the inputs file limit)");
    free(err);
    /* A regular file of exactly 64 MiB is read (and its NULs are a YAML error at 1:1); one byte
     * more is refused from its size. The file is sparse: nothing is written to disk. */
    ck_assert_int_eq(ftruncate(fd, (off_t)64 << 20), 0);
    err = file_error(load_workflow, path, WF_EINVAL);
    ck_assert_msg(strstr(err, ":1:1: invalid YAML: control characters are not allowed") != NULL,
                  "%s", err);
    free(err);
    ck_assert_int_eq(ftruncate(fd, ((off_t)64 << 20) + 1), 0);
    err = file_error(load_workflow, path, WF_ERANGE);
    ck_assert_msg(strstr(err, ": file too large (more than 64 MiB, the workflow file limit)") !=
                      NULL,
                  "%s", err);
    free(err);
    close(fd);
    unlink(path);
}
END_TEST

/* ---- task groups: a big file's task nodes freed as its tasks are built ------------ */

/* N tasks t0.. (about 100 bytes of nodes each), with extra text after task `at` (NULL:
 * none) and top-level text after the tasks. */
static char *many_tasks(int n, int at, const char *extra, const char *after)
{
    wf_strbuf sb = WF_STRBUF_INIT;

    wf_strbuf_adds(&sb, "version: 1\ntasks:\n");
    for (int k = 0; k < n; k++) {
        if (k == 0)
            wf_strbuf_adds(&sb, "  t0:\n    run: echo start\n");
        else
            wf_strbuf_addf(&sb, "  t%d:\n    run: echo << task.t%d >>\n    needs: [t%d]\n", k,
                           k - 1, k - 1);
        if (k == at && extra != NULL)
            wf_strbuf_adds(&sb, extra);
    }
    if (after != NULL)
        wf_strbuf_adds(&sb, after);
    return wf_strbuf_detach(&sb, NULL);
}

/* The builder's record of the task groups for text (released before returning). */
typedef struct groups_seen {
    size_t n_groups, n_pinned, first_pinned, last_end;
    bool whole; /* L.tasks.map is the root's tasks map */
} groups_seen;

static groups_seen task_groups_of(const char *text)
{
    wf_errlist errs;
    wf__loader L = { 0 };
    wf__ynode *root = NULL;
    groups_seen g = { .first_pinned = SIZE_MAX };

    wf_errlist_init(&errs);
    L.path = "wf.yaml";
    L.src = text;
    L.src_len = strlen(text);
    L.errs = &errs;
    wf__yaml_load(&L, &root);
    ck_assert_ptr_nonnull(root);
    g.n_groups = L.tasks.n_groups;
    for (size_t k = 0; k < L.tasks.n_groups; k++)
        if (L.tasks.groups[k].pinned && g.n_pinned++ == 0)
            g.first_pinned = k;
    g.last_end = L.tasks.n_groups > 0 ? L.tasks.groups[L.tasks.n_groups - 1].end : 0;
    g.whole = L.tasks.map != NULL && L.tasks.map == wf__ld_get(root, "tasks", NULL);
    wf__loader_release(&L);
    wf_errlist_release(&errs);
    return g;
}

START_TEST(test_task_groups)
{
    char *plain = many_tasks(6000, -1, NULL, "outputs:\n  o: << task.t5 >>\n");
    char *anchored = many_tasks(6000, 3, "    env: &e {A: x}\n", NULL);
    char *merged = many_tasks(6000, -1, NULL, NULL);
    char *dup = many_tasks(6000, 4000, "  t7:\n    run: echo again\n", NULL);
    char *merged_tail = wf_xasprintf("base: &b {extra: {run: x}}\n%s  <<: *b\n", merged);
    char *anchored_map;
    groups_seen g = task_groups_of(plain);

    /* About 600 KB of task nodes: several groups, each freeable, ending at the last task. */
    ck_assert_uint_ge(g.n_groups, 3);
    ck_assert_uint_eq(g.n_pinned, 0);
    ck_assert_uint_eq(g.last_end, 6000);
    ck_assert(g.whole);
    /* An anchor in task 3 pins its group (an alias elsewhere may point into it). */
    g = task_groups_of(anchored);
    ck_assert_uint_eq(g.n_pinned, 1);
    ck_assert_uint_eq(g.first_pinned, 0);
    ck_assert(g.whole);
    /* A merge key or a duplicate task: the map's entries are not its values as written, and
     * nothing is freed before the end. */
    ck_assert(!task_groups_of(merged_tail).whole);
    ck_assert(!task_groups_of(dup).whole);
    /* An anchored tasks map: an alias (outputs: *t) reads its values after they are built. */
    anchored_map =
        wf_xasprintf("version: 1\ntasks: &t\n%s", plain + strlen("version: 1\ntasks:\n"));
    ck_assert(!task_groups_of(anchored_map).whole);
    free(anchored_map);
    free(plain);
    free(anchored);
    free(merged);
    free(dup);
    free(merged_tail);
}
END_TEST

START_TEST(test_task_groups_loaded)
{
    /* Task 3's env is anchored and task 5,990's reads it through an alias, long after task
     * 3's group would have been freed; an outputs template reads an early task. */
    char *text = many_tasks(6000, 3, "    env: &e {A: x}\n", "outputs:\n  o: << task.t5 >>\n");
    char *aliased, *bad, *errs;
    wf_workflow *wf;
    size_t at;

    aliased = wf_xasprintf("%s", text);
    at = (size_t)(strstr(aliased, "  t5990:\n") - aliased);
    free(aliased);
    aliased = wf_xasprintf("%.*s  t5990:\n    env: *e\n%s", (int)at, text,
                           text + at + strlen("  t5990:\n"));
    wf = load_ok(aliased);
    ck_assert_uint_eq(wf->n_tasks, 6000);
    ck_assert_uint_eq(task(wf, "t5990")->n_env, 1);
    ck_assert_str_eq(task(wf, "t5990")->env[0].name, "A");
    ck_assert_uint_eq(task(wf, "t5999")->n_deps, 1);
    wf_workflow_free(wf);

    /* Errors in the first task, found by validation once its nodes are gone, keep their
     * positions: an unknown needs name and an unknown task in a template. */
    bad = many_tasks(6000, 0, "    needs: [nope]\n    when: << task.nothere >>\n", NULL);
    errs = load_errors(bad, NULL);
    assert_errors(errs, "wf.yaml:5:13: unknown task 'nope'*\n"
                        "wf.yaml:6:14: unknown task 'nothere'*");
    free(errs);
    free(bad);

    /* The whole tasks map read again through an alias after the tasks are built. */
    free(aliased);
    free(text);
    text = many_tasks(6000, -1, NULL, "outputs:\n  all: *t\n");
    aliased = wf_xasprintf("version: 1\ntasks: &t\n%s", text + strlen("version: 1\ntasks:\n"));
    wf = load_ok(aliased);
    ck_assert_uint_eq(wf->n_outputs, 1);
    wf_workflow_free(wf);
    free(aliased);
    free(text);
}
END_TEST

static Suite *loader_suite(void)
{
    Suite *s = suite_create("loader");
    TCase *tc;

    tc = tcase_create("errors");
    tcase_add_loop_test(tc, test_error_messages, 0, (int)WF_ARRAY_LEN(error_cases));
    tcase_add_test(tc, test_source_line_and_caret);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_alias_bomb_is_bounded);
    tcase_add_test(tc, test_recursive_alias);
    suite_add_tcase(s, tc);

    tc = tcase_create("model");
    tcase_add_test(tc, test_spec_example);
    tcase_add_test(tc, test_spec_example_graph);
    tcase_add_test(tc, test_default_name_and_sha);
    tcase_add_test(tc, test_implicit_deps_and_publish);
    tcase_add_test(tc, test_defaults_folded);
    tcase_add_test(tc, test_matrix);
    tcase_add_test(tc, test_pipeline_chain);
    tcase_add_test(tc, test_matrix_include_as_github);
    tcase_add_test(tc, test_many_tasks);
    tcase_add_test(tc, test_names_cut_by_nul);
    tcase_add_test(tc, test_task_groups);
    tcase_add_test(tc, test_task_groups_loaded);
    suite_add_tcase(s, tc);

    tc = tcase_create("yaml");
    tcase_add_test(tc, test_anchors_and_merge_keys);
    tcase_add_test(tc, test_merge_key_precedence);
    tcase_add_loop_test(tc, test_yaml12_scalars, 0, (int)WF_ARRAY_LEN(scalar_cases));
    tcase_add_test(tc, test_unquoted_templates);
    suite_add_tcase(s, tc);

    tc = tcase_create("values");
    tcase_add_test(tc, test_vnode_eval);
    suite_add_tcase(s, tc);

    tc = tcase_create("limits");
    tcase_add_loop_test(tc, test_encoding_errors, 0, (int)WF_ARRAY_LEN(encoding_cases));
    tcase_add_test(tc, test_matrix_cap);
    tcase_add_test(tc, test_items_cap);
    tcase_add_test(tc, test_file_cap);
    tcase_add_test(tc, test_slurm_keys_and_cpus);
    /* test_items_cap loads a literal list of 10,000,001 items: about 20 s alone, past 60 s on
     * a machine busy with other builds. */
    tcase_set_timeout(tc, 240);
    suite_add_tcase(s, tc);

    tc = tcase_create("inputs");
    tcase_add_loop_test(tc, test_bind_inputs, 0, (int)WF_ARRAY_LEN(bind_cases));
    tcase_add_test(tc, test_bind_no_inputs);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(loader_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
