#!/usr/bin/env bash
# Targets (run FILE TASK..., --only TASK), wfengine list, -i over --inputs, outputs printed
# after a run, required inputs and the dry-run plan.
. "$(dirname "$0")/lib.sh"

cat > t.yaml <<'YAML'
version: 1
inputs:
  env_name:
    type: string
    enum: [dev, prod]
    description: where to deploy
  n:
    type: integer
    default: 2
tasks:
  base:
    description: the first step
    output: json
    run: echo '{"v":<< inputs.n >>}'
  build:
    description: builds on base
    run: echo "build-<< task.base.v >>-$(date +%s%N)"
  other:
    run: touch other-ran
  matrix:
    with-items:
      matrix:
        os: [linux, mac]
        cc: [gcc]
    run: echo << item.os >>
outputs:
  v: << task.base.v >>
  built: << task.build >>
  env: << inputs.env_name >>
YAML

# list
run_wf list t.yaml
expect_rc "list" 0
expect_in "list names a task with its description" out.txt "build   builds on base"
expect_in "list gives an input's type, enum and description" out.txt \
    "env_name (string, required, one of: dev, prod)  where to deploy"
expect_in "list gives an input's default" out.txt "n (integer, default 2)"
if [ "$(grep -n '^  ' out.txt | head -4 | sed 's/^[0-9]*:  \([a-z]*\).*/\1/' | tr '\n' ' ')" = \
    "base build other matrix " ]; then pass "list keeps file order"; else
    fail "list keeps file order" "$(cat out.txt)"; fi
run_wf list t.yaml --json
expect_rc "list --json" 0
expect_json "list --json tasks" '[t["name"] for t in d["tasks"]]' '["base", "build", "other", "matrix"]'
expect_json "list --json enum" 'd["inputs"][0]["enum"]' '["dev", "prod"]'
expect_json "list --json default" 'd["inputs"][1]["default"]' '2'
printf 'version: 1\ntasks:\n  a: {run: [}\n' > bad.yaml
run_wf list bad.yaml
expect_rc "list of a bad file" 2
expect_in "list of a bad file says where" err.txt "bad.yaml:3:"

# required inputs
run_wf run t.yaml
expect_rc "a missing required input" 2
expect_in "the missing input says how to give it" err.txt \
    "input 'env_name' is required (string, one of: \"dev\", \"prod\"): where to deploy; give it with -i env_name=VALUE"
run_wf run t.yaml --dry-run
expect_rc "--dry-run with a missing required input" 2
expect_in "--dry-run names the missing input" err.txt "input 'env_name' is required"
run_wf run t.yaml --dry-run -i env_name=dev
expect_rc "--dry-run" 0
expect_in "--dry-run lists a matrix's combinations" out.txt '{ "os": "mac", "cc": "gcc" }'
expect_in "--dry-run counts them" out.txt "matrix of 2 combinations"
run_wf run t.yaml build --dry-run -i env_name=dev
expect_rc "--dry-run with a target" 0
expect_in "--dry-run with a target says what it plans" out.txt "(2 of 4 tasks: build and what it needs)"
expect_not_in "--dry-run with a target leaves out the rest" out.txt "  matrix"
# The plan is printed task by task as it is described (never the whole workflow as JSON at
# once): the whole text, pinned, in dependency order, with two targets.
cat > plan.expected <<'PLAN'
workflow t (3 of 4 tasks: build, ... and what they need)
  base
    run: echo '{"v":2}'
  matrix
    with-items: matrix of 2 combinations
      { "os": "linux", "cc": "gcc" }
      { "os": "mac", "cc": "gcc" }
    run: echo << item.os >>
  build  (after base)
    run: echo "build-<< task.base.v >>-$(date +%s%N)"
PLAN
run_wf run t.yaml build matrix --dry-run -i env_name=dev
if cmp -s out.txt plan.expected; then pass "--dry-run with two targets prints the plan, whole"; else
    fail "--dry-run with two targets prints the plan, whole" "$(diff plan.expected out.txt)"; fi

# --dry-run evaluates what reads only inputs
cat > p.yaml <<'YAML'
version: 1
inputs:
  regions: {type: array, default: [eu, us]}
  deploy: {type: boolean, default: false}
  tok: {type: string, secret: true, default: "sekrit"}
tasks:
  m:
    with-items:
      matrix:
        r: << inputs.regions >>
        k: [1, 2]
    run: echo hi
  d:
    when: << inputs.deploy >>
    run: echo deploy << inputs.regions | length >> << inputs.tok >>
  e:
    run: echo << task.d >>
YAML
run_wf run p.yaml --dry-run -i deploy=true -i 'regions=["eu","us","ap"]'
expect_rc "--dry-run of inputs-only expressions" 0
expect_in "--dry-run expands a matrix read from inputs" out.txt "with-items: matrix of 6 combinations"
expect_in "--dry-run lists its combinations" out.txt '{ "r": "ap", "k": 2 }'
expect_in "--dry-run evaluates a when from inputs" out.txt "when: << inputs.deploy >>  (true: it runs)"
expect_in "--dry-run renders a command from inputs, secrets masked" out.txt "run: echo deploy 3 ***"
expect_in "--dry-run leaves what reads a result as written" out.txt "run: echo << task.d >>"
run_wf run p.yaml --dry-run -i deploy=maybe
expect_rc "--dry-run with a bad input" 2
expect_in "--dry-run names the bad input" err.txt "input 'deploy' must be a boolean"

# --only with nothing stored
run_wf run t.yaml --only build -i env_name=dev
expect_rc "--only with an empty store" 2
expect_in "--only says the store has no run" err.txt "the store has no run yet"

# unknown target
rm -rf .wfengine
run_wf run t.yaml buld -i env_name=dev
expect_rc "an unknown target" 2
expect_in "an unknown target gets a did-you-mean" err.txt "has no task 'buld'; did you mean 'build'?"
[ ! -d .wfengine ] && pass "nothing recorded for a bad target" || fail "nothing recorded for a bad target"

# targets: build and base run, other and matrix do not
run_wf run t.yaml build -i env_name=dev --progress plain --json --junit j.xml
expect_rc "run FILE build" 0
expect_in "JUnit has the targets" j.xml 'name="build"'
expect_not_in "JUnit leaves out what the run left out" j.xml 'name="other"' 
expect_json "the targets and what they need ran" 'sorted(d["tasks"])' '["base", "build"]'
[ ! -e other-ran ] && pass "a task not needed did not run" || fail "a task not needed did not run"
first=$(json_get 'd["tasks"]["build"]["result"]')

# -i wins over --inputs; outputs are printed
printf '{"n": 5, "env_name": "prod"}\n' > in.json
run_wf run t.yaml base --inputs in.json -i n=7 --progress none
expect_rc "-i with --inputs" 0
expect_in "-i wins over --inputs" out.txt "  v: 7"
expect_in "--inputs still gives the others" out.txt "  env: prod"
expect_in "an output of a task left out is null" out.txt "  built: null"

# --only: base is taken from the last run, build runs again
run_wf run t.yaml --only build -i env_name=dev --json
expect_rc "--only build" 0
expect_json "--only takes base from the last run" 'd["tasks"]["base"].get("reused")' 'true'
expect_json "--only took base's result (n=7 there)" 'd["outputs"]["v"]' '7'
second=$(json_get 'd["tasks"]["build"]["result"]')
[ "$first" != "$second" ] && pass "--only ran build again" || fail "--only ran build again" "$first"
run_wf run t.yaml --only other -i env_name=dev --no-store
expect_rc "--only with --no-store" 2

done_testing
