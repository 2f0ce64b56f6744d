#!/usr/bin/env bash
# The command line: usage errors, validation, inputs, dry run, graph, version, exit statuses.
. "$(dirname "$0")/lib.sh"

run_wf version
expect_rc "version" 0
expect_in "version prints the version" out.txt "wfengine "
run_wf --help
expect_rc "--help" 0
expect_in "help lists run" out.txt "run FILE"
for c in run validate graph; do
    run_wf "$c" --help
    expect_rc "$c --help" 0
    expect_in "$c --help has examples" out.txt "Example"
done
run_wf rnu x.yaml
expect_rc "unknown command" 2
expect_in "unknown command suggests" err.txt "did you mean 'run'?"
run_wf run
expect_rc "run without a file" 2
run_wf run x.yaml --bogus
expect_rc "unknown option" 2
expect_in "unknown option named" err.txt "'--bogus'"
# GNU's --name=value, as go-task, argo and airflow accept it, for every option with a value.
cat > eq.yaml <<'Y'
version: 1
tasks:
  big:
    with-items: [1, 2, 3]
    run: head -c 70000 /dev/zero | tr -c z z
  n:
    run: echo << task.big[0] | length >>
Y
run_wf run eq.yaml --store=eqstore --memory=10 --max-output=1M --jobs=2 --progress=plain
expect_rc "run takes --name=value" 1
expect_in "--memory=10 is the budget" err.txt "the memory budget for results is 10 bytes"
test -d eqstore && pass "--store=DIR is the store" || fail "--store=DIR is the store"
run_wf show last --store=eqstore --status=succeeded --limit=1 --offset=1
expect_rc "show takes --name=value" 0
expect_in "--offset=1 --limit=1: one unit from index 1" out.txt "big[1]"
expect_not_in "and not index 0" out.txt "big[0]"
run_wf runs --store=eqstore --limit=1
expect_rc "runs takes --limit=N" 0
run_wf run eq.yaml --json=1
expect_rc "a flag without a value does not take one" 2
expect_in "and is named as written" err.txt "unknown option '--json=1'"
printf 'version: 1\ntasks:\n  a:\n    run: echo hi\n' > onetask.yaml
# make's and ninja's options are pointed at ours; a near spelling is a guess.
run_wf run onetask.yaml -n
expect_rc "-n is not an option" 2
expect_in "-n points at --dry-run" err.txt "unknown option '-n': --dry-run prints the plan"
run_wf run onetask.yaml -k 0
expect_in "-k says wfengine keeps going" err.txt "unknown option '-k': wfengine keeps going by default"
run_wf run onetask.yaml --dryrun
expect_in "--dryrun: did you mean --dry-run" err.txt "unknown option '--dryrun'; did you mean '--dry-run'?"
run_wf run onetask.yaml --memroy=1G
expect_in "--memroy=1G: did you mean --memory" err.txt "did you mean '--memory'?"
run_wf run onetask.yaml --dry-run
expect_in "a dry run of one task says '(1 task)'" out.txt "workflow onetask (1 task)"
run_wf run missing-file.yaml
expect_rc "missing file" 2
expect_in "missing file named" err.txt "missing-file.yaml"

cat > bad.yaml <<'Y'
version: 1
tasks:
  a:
    run: echo hi
    with_items: [1, 2]
  b:
    needs: [nope]
    run: echo << task.a.x
Y
run_wf validate bad.yaml
expect_rc "validate finds errors" 2
expect_in "unknown key with position and suggestion" err.txt "bad.yaml:5:5:"
expect_in "did you mean" err.txt "did you mean 'with-items'?"
expect_in "unknown needs named" err.txt "nope"
expect_in "caret under the column" err.txt "^"
run_wf run bad.yaml
expect_rc "run refuses an invalid file" 2

cat > inputs.yaml <<'Y'
version: 1
inputs:
  n: {type: integer}
  flag: {type: boolean, default: false}
  list: {type: array, default: []}
  token: {type: string, secret: true, default: s3cret}
tasks:
  show:
    action: core.value
    input:
      value: {n: "<< inputs.n >>", flag: "<< inputs.flag >>", list: "<< inputs.list >>", sum: "<< inputs.n + 1 >>"}
outputs:
  v: << task.show >>
Y
run_wf run inputs.yaml
expect_rc "a required input missing" 2
expect_in "the missing input is named" err.txt "'n'"
run_wf run inputs.yaml -i n=abc
expect_rc "an input of the wrong type" 2
expect_in "the bad input is named" err.txt "'n'"
run_wf run inputs.yaml -i n=41 -i flag=true -i 'list=[1,"a"]' --json
expect_rc "typed inputs from -i" 0
expect_json "inputs converted" 'd["outputs"]["v"]' '{"flag": true, "list": [1, "a"], "n": 41, "sum": 42}'
echo '{"n": 5, "list": [3]}' > in.json
run_wf run inputs.yaml --inputs in.json --json
expect_rc "--inputs json" 0
expect_json "--inputs json values" 'd["outputs"]["v"]["n"], d["outputs"]["v"]["list"]' '[5, [3]]'
printf 'n: 7\nflag: true\n' > in.yaml
run_wf run inputs.yaml --inputs in.yaml --json
expect_rc "--inputs yaml" 0
expect_json "--inputs yaml values" 'd["outputs"]["v"]["n"], d["outputs"]["v"]["flag"]' '[7, true]'
run_wf run inputs.yaml -i nope=1 -i n=1
expect_rc "an unknown input" 2

run_wf run inputs.yaml -i n=1 --dry-run
expect_rc "dry run" 0
expect_in "dry run prints the plan" out.txt "show"
run_wf run "$WF_SOURCE_DIR/workflows/fanout-json.yaml" --dry-run
expect_in "dry run shows dependencies" out.txt "(after numbers)"
printf 'version: 1\ntasks:\n  each:\n    with-items: [a, b, c]\n    run: echo << item >>\n' > literal.yaml
run_wf run literal.yaml --dry-run
expect_in "dry run: a literal item list's length" out.txt "with-items: 3 items"

run_wf graph "$WF_SOURCE_DIR/workflows/fanout-json.yaml"
expect_rc "graph dot" 0
expect_in "dot edge" out.txt '"numbers" -> "square"'
if command -v dot >/dev/null; then
    if dot -Tsvg out.txt >/dev/null 2>&1; then pass "Graphviz accepts the dot"; else fail "dot -Tsvg rejected the graph"; fi
fi
run_wf graph "$WF_SOURCE_DIR/workflows/fanout-json.yaml" --format mermaid
expect_in "mermaid" out.txt "flowchart LR"
run_wf graph "$WF_SOURCE_DIR/workflows/fanout-json.yaml" --format png
expect_rc "unknown graph format" 2

cat > secret.yaml <<'Y'
version: 1
inputs:
  token: {type: string, secret: true}
tasks:
  say:
    action: core.echo
    input: {message: "the token is << inputs.token >>"}
  leak:
    run: echo "stderr has << inputs.token >>" >&2; exit 1
outputs:
  said: << task.say >>
Y
run_wf run secret.yaml -i token=hunter2-s3cret --json
expect_rc "secret workflow fails on purpose" 1
expect_not_in "secret masked in progress and logs" err.txt "hunter2-s3cret"
expect_not_in "secret masked in the result document" out.txt "hunter2-s3cret"
expect_in "masked as ***" err.txt "the token is ***"
expect_json "masked in outputs" 'd["outputs"]["said"]' '"the token is ***"'

run_wf run inputs.yaml -i n=1 -j 0
expect_rc "-j 0 refused" 2
done_testing
