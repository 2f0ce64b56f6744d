#!/usr/bin/env bash
# What authors coming from GitHub Actions, go-task, Argo and Ansible write, and what they are
# told: every template error of a string at once, tabs and ': ' in YAML said plainly, other
# tools' keys and template syntax pointed at ours, a with-items value that is not a list with
# its place and the fix; and the habits that now work: GitHub's matrix include, conditional
# expressions and select by value.
. "$(dirname "$0")/lib.sh"

# ---- every error of a template string in one round --------------------------------------
cat > typos.yaml <<'Y'
version: 1
tasks:
  x:
    run: echo hi
  y:
    run: "echo << task.x | lenght >> and << task.x | uper >> and << itme >>"
  z:
    with-items: [1]
    run: "echo << itme >>"
Y
run_wf validate typos.yaml
expect_rc "typos are errors" 2
expect_in "the first filter typo" err.txt "typos.yaml:6:28: unknown filter 'lenght'; did you mean 'length'?"
expect_in "the second, in the same string" err.txt "typos.yaml:6:54: unknown filter 'uper'; did you mean 'upper'?"
expect_in "the unknown name, in the same string, without 'item' where there is none" err.txt \
    "typos.yaml:6:69: unknown name 'itme': names start with inputs, vars, env, task or workflow"
expect_in "a task with items is offered 'item'" err.txt "typos.yaml:9:19: unknown name 'itme'; did you mean 'item'?"
expect_in "all four in one round" err.txt "typos.yaml: 4 errors"

# ---- YAML mistakes said plainly ----------------------------------------------------------
printf 'version: 1\ntasks:\n  a:\n\trun: echo\n' > tab.yaml
run_wf validate tab.yaml
expect_rc "a tab in indentation" 2
expect_in "tabs are named as such, at the tab" err.txt "tab.yaml:4:1: YAML does not allow tabs for indentation: indent with spaces"
printf 'version: 1\ntasks:\n  a:\n    run: echo key: value\n' > colon.yaml
run_wf validate colon.yaml
expect_rc "': ' in a plain run value" 2
expect_in "the hint to quote or use a block scalar" err.txt \
    "colon.yaml:4:18: invalid YAML: mapping values are not allowed in this context: a ': ' inside a plain value starts a mapping; quote the whole value"
expect_in "the block scalar forms are named" err.txt "run: | or run: >-"

# ---- other tools' keys -------------------------------------------------------------------
cat > keys.yaml <<'Y'
version: 1
jobs: {}
tasks:
  a:
    name: build
    cmds: [make]
    timeout-minutes: 5
  b:
    depends_on: [a]
    deps: [a]
    dependencies: [a]
    if: true
    run: echo
  c:
    with_items: [1]
    run: echo
Y
run_wf validate keys.yaml
expect_rc "foreign keys are errors" 2
for want in "unknown key 'jobs' in the workflow; wfengine's key is 'tasks'" \
            "unknown key 'name' in task 'a'; wfengine's key is 'description'" \
            "unknown key 'cmds' in task 'a'; wfengine's key is 'run'" \
            "unknown key 'timeout-minutes' in task 'a'; wfengine's key is 'timeout' (timeout: 10m)" \
            "unknown key 'depends_on' in task 'b'; wfengine's key is 'needs' (needs: [a, b])" \
            "unknown key 'deps' in task 'b'; wfengine's key is 'needs'" \
            "unknown key 'dependencies' in task 'b'; wfengine's key is 'needs'" \
            "unknown key 'if' in task 'b'; wfengine's key is 'when'"; do
    expect_in "${want%%;*} is pointed at ours" err.txt "$want"
done
expect_in "a near spelling is still 'did you mean'" err.txt "unknown key 'with_items' in task 'c'; did you mean 'with-items'?"

# Fan-outs, limits and the memory budget as Argo, GitHub Actions, Nextflow and Airflow write them.
cat > fan_keys.yaml <<'Y'
version: 1
parallelism: 4
tasks:
  a:
    withParam: "<< task.b >>"
    max-parallel: 2
    run: echo
  b:
    withSequence: {count: 5}
    maxForks: 2
    execution_timeout: 60
    memory: 1Gi
    run: echo
Y
run_wf validate fan_keys.yaml
expect_rc "other engines' fan-out keys are errors" 2
for want in "unknown key 'parallelism' in the workflow; wfengine's key is 'concurrency'" \
            "unknown key 'withParam' in task 'a'; wfengine's key is 'with-items' (with-items: << task.NAME >>)" \
            "unknown key 'max-parallel' in task 'a'; wfengine's key is 'concurrency'" \
            "unknown key 'withSequence' in task 'b'; wfengine's key is 'with-items' (with-items: << range(10) >>)" \
            "unknown key 'maxForks' in task 'b'; wfengine's key is 'concurrency'" \
            "unknown key 'execution_timeout' in task 'b'; wfengine's key is 'timeout'" \
            "unknown key 'memory' in task 'b'; 'memory' is a top-level key, the memory budget for the results of the whole run"; do
    expect_in "${want%%;*} is pointed at ours" err.txt "$want"
done

# ---- other tools' template syntax: a warning with our form -------------------------------
cat > syntax.yaml <<'Y'
version: 1
inputs:
  env_name: {default: dev}
tasks:
  gh:
    run: echo deploying ${{ inputs.env_name }}
  gotask:
    run: echo {{ .env_name }} > out.txt
Y
run_wf validate syntax.yaml
expect_rc "it still loads" 0
expect_in "GitHub's \${{ }} gets a warning at its place, with our form" err.txt \
    "syntax.yaml:6:25: warning: '\${{ inputs.env_name }}' is GitHub Actions syntax, which wfengine leaves as text (in a \`run\` the shell fails with \"Bad substitution\"); templates here are written << inputs.env_name >>"
expect_in "go-task's {{ .x }} too" err.txt \
    "syntax.yaml:8:15: warning: '{{ .env_name }}' is go-task syntax"
run_wf run syntax.yaml --no-store --progress none
expect_in "run prints the warnings before running" err.txt "warning: '\${{ inputs.env_name }}'"

# ---- with-items that is not a list -------------------------------------------------------
cat > notlist.yaml <<'Y'
version: 1
tasks:
  src:
    action: core.value
    input: {value: {a: 1, b: 2}}
  fan:
    with-items: << task.src >>
    run: echo << item >>
Y
run_wf run notlist.yaml --no-store --progress plain
expect_rc "an object as items fails the task" 1
expect_in "the error has the file, line and column, and the fix" err.txt \
    "with-items (notlist.yaml:7:17): '<< task.src >>' gave object, not a list; make a list of it with | items (key and value pairs), | values or | keys"

# ---- GitHub's matrix include -------------------------------------------------------------
cat > include.yaml <<'Y'
version: 1
tasks:
  m:
    with-items:
      matrix:
        fruit: [apple, pear]
        animal: [cat, dog]
      include:
        - color: green
        - color: pink
          animal: cat
        - fruit: apple
          shape: circle
        - fruit: banana
        - fruit: banana
          animal: cat
    action: core.value
    input: {value: << item >>}
Y
run_wf run include.yaml --no-store --json --progress none
expect_rc "GitHub's include example runs" 0
expect_json "six combinations, as GitHub gives" 'd["tasks"]["m"]["result"]' \
    '[{"animal": "cat", "color": "pink", "fruit": "apple", "shape": "circle"}, {"animal": "dog", "color": "green", "fruit": "apple", "shape": "circle"}, {"animal": "cat", "color": "pink", "fruit": "pear"}, {"animal": "dog", "color": "green", "fruit": "pear"}, {"fruit": "banana"}, {"animal": "cat", "fruit": "banana"}]'

# ---- a summary with a conditional and select ---------------------------------------------
cat > summary.yaml <<'Y'
version: 1
tasks:
  test:
    with-items: [linux, mac]
    output: json
    run: |
      echo '{"os": "<< item >>", "failed": << 1 if item == "mac" else 0 >>}'
  summary:
    needs: [test]
    run: >-
      echo "<< 'all green' if (task.test | select('failed', 0) | length) == 2 else 'red' >>:
      << task.test | reject('failed', 0) | map('os') | join(', ') >> failed"
Y
run_wf run summary.yaml --no-store --json --progress none
expect_rc "the summary runs" 0
expect_json "conditional and select/reject" 'd["tasks"]["summary"]["result"]' '"red: mac failed"'
# ---- an input's default from the environment, secret or not ------------------------------
cat > envdef.yaml <<'Y'
version: 1
inputs:
  target: {type: string, default: << env.DEPLOY_ENV ?? "dev" >>}
  port: {type: integer, default: << env.APP_PORT >>}
  token: {type: string, secret: true, default: << env.API_TOKEN >>}
tasks:
  show:
    run: echo "<< inputs.target >> << inputs.port >> << inputs.token >>"
Y
APP_PORT=8080 API_TOKEN=s3cr3t-v4lue run_wf run envdef.yaml --no-store --json --progress none
expect_rc "defaults from the environment" 0
expect_json "evaluated, converted to the type, the secret masked" 'd["tasks"]["show"]["result"]' '"dev 8080 ***"'
expect_not_in "the secret never printed" out.txt "s3cr3t-v4lue"
DEPLOY_ENV=prod API_TOKEN=x run_wf run envdef.yaml --no-store --progress none
expect_rc "an unset variable without ?? is an error" 2
expect_in "naming it and the fix" err.txt "input 'port': its default << env.APP_PORT >>: env.APP_PORT"
expect_in "and the -i way" err.txt "give -i port=VALUE"
APP_PORT=8080 API_TOKEN=another-token run_wf run envdef.yaml --no-store --json --progress none -i port=9
expect_json "-i wins over the environment" 'd["tasks"]["show"]["result"]' '"dev 9 ***"'
APP_PORT=abc API_TOKEN=x run_wf run envdef.yaml --no-store --progress none
expect_in "a value of the wrong type says so" err.txt "input 'port': its default << env.APP_PORT >> gave 'abc', not an integer"
printf 'version: 1\ninputs:\n  a: {default: << inputs.b >>}\n  b: {default: 1}\ntasks:\n  t: {run: echo}\n' > selfref.yaml
run_wf validate selfref.yaml
expect_rc "a default that reads inputs" 2
expect_in "is refused at its place" err.txt "selfref.yaml:3:19: the default of input 'a' may read only env"
done_testing
