#!/usr/bin/env bash
# Item labels (issue 18): `label:` on a with-items task, and a short scalar item as its own
# label, name each item in progress lines, show (and show --json), logs (by label as well as
# [N] and .N), JUnit test names (valid against the Jenkins schema), GitHub ::error titles and
# the HTML report. Bad inputs: label without with-items or with batch-size (load errors at
# file:line:col), a label that fails for an item (a warning naming task and item; the item
# keeps its index), logs with an unknown label (did-you-mean, or the list).
. "$(dirname "$0")/lib.sh"
unset GITHUB_STEP_SUMMARY GITHUB_WORKSPACE GITHUB_ACTIONS
XSD=$WF_SOURCE_DIR/tests/e2e/data/jenkins-junit-10.xsd

cat > labels.yaml <<'Y'
version: 1
tasks:
  build:
    with-items:
      matrix: {os: [linux, macos], arch: [amd64, arm64]}
    label: << item.os >>-<< item.arch >>
    run: "echo built << item.os >>/<< item.arch >>; [ << item.os >>-<< item.arch >> != macos-arm64 ] || { echo 'no toolchain' >&2; exit 3; }"
  words:
    with-items: [alpha, 7, "x\u001b[31my", {k: v}, "a string much longer than thirty-two bytes", 5]
    run: "echo word << index >>"
Y
run_wf run labels.yaml --progress plain -v --junit report.xml
expect_rc "a failing item fails the run" 1
expect_in "a progress line names the item by its label" err.txt "ok       build[0] (linux-amd64)"
expect_in "the failure too" err.txt "FAILED   build[3] (macos-arm64): exit code 3"
expect_in "a short string item is its own label" err.txt "ok       words[0] (alpha)"
expect_in "a number item too" err.txt "ok       words[1] (7)"
expect_in "control bytes in a label are shown as ?" err.txt "words[2] (x?[31my)"
expect_not_in "no raw escape reaches the terminal" err.txt $'\033[31m'
expect_in "an object item has no label" err.txt "ok       words[3] ("
expect_not_in "an object item is not shown" err.txt "words[3] ({"
expect_not_in "a long string is not a label" err.txt "words[4] (a string"
expect_not_in "an integer equal to its index is not a label" err.txt "words[5] (5)"
expect_in "the logs pointer stays a command (no label)" err.txt "wfengine logs "
if grep -F "wfengine logs" err.txt | grep -qF "(macos-arm64)"; then
    fail "the logs pointer holds the label" "$(grep -F 'wfengine logs' err.txt)"
else pass "the logs pointer holds no label"; fi

if xmllint --noout --schema "$XSD" report.xml 2>xml.err; then pass "JUnit fits the Jenkins schema"; else
    fail "JUnit fits the Jenkins schema" "$(cat xml.err)"; fi
expect_in "a JUnit test name carries the label" report.xml 'name="build[3] (macos-arm64)"'
expect_in "the label is XML-safe in JUnit" report.xml 'name="words[2] (x?[31my)"'

run_wf run labels.yaml --json
expect_json "run --json: an item's label" '[i.get("label") for i in d["tasks"]["build"]["items"]]' \
    '["linux-amd64", "linux-arm64", "macos-amd64", "macos-arm64"]'
expect_json "run --json: no label key for an item without one" \
    '[i.get("label") for i in d["tasks"]["words"]["items"]][3:]' '[null, null, null]'

run_wf show last
expect_rc "show" 0
expect_in "show names items by label" out.txt "build[2] (macos-amd64)"
run_wf show last --json
expect_json "show --json: a unit's label" \
    '[u["label"] for t in d["tasks"] if t["name"]=="build" for u in t["units"]]' \
    '["linux-amd64", "linux-arm64", "macos-amd64", "macos-arm64"]'
expect_json "show --json: scalar labels and null" \
    '[u["label"] for t in d["tasks"] if t["name"]=="words" for u in t["units"]]' \
    '["alpha", "7", "x?[31my", null, null, null]'

run_wf logs last build.macos-amd64
expect_rc "logs TASK.LABEL" 0
expect_in "logs by label prints that item's stdout" out.txt "built macos/amd64"
run_wf logs last 'build[linux-arm64]'
expect_in "logs TASK[LABEL]" out.txt "built linux/arm64"
run_wf logs last build.1
expect_in "logs TASK.N" out.txt "built linux/arm64"
run_wf logs last 'build[3] (macos-arm64)' --stderr
expect_in "logs takes the name as progress prints it" out.txt "no toolchain"
run_wf logs last build.linux-arm
expect_rc "logs with an unknown label" 2
expect_in "says the closest label" err.txt "did you mean 'build[linux-arm64]'?"
run_wf logs last build.zzzzzzzzzzzz
expect_rc "logs with a label nothing is close to" 2
expect_in "lists the labels" err.txt "its labels: linux-amd64, linux-arm64, macos-amd64, macos-arm64"
run_wf logs last 'build[x'
expect_rc "logs with a malformed item" 2

run_wf report last -o r.html
expect_rc "report" 0
expect_in "the report names the unit with its label" r.html 'build[3] <span class="label">(macos-arm64)</span>'
expect_in "the report escapes a label" r.html 'words[2] <span class="label">(x'
expect_not_in "no raw escape in the report" r.html $'\033'

GITHUB_ACTIONS=true run_wf run labels.yaml
expect_in "the GitHub ::error title names the label" err.txt "title=wfengine%3A build[3] (macos-arm64) failed::exit code 3"

# Bad inputs at load time: file:line:col.
cat > bad.yaml <<'Y'
version: 1
tasks:
  one:
    label: one
    run: "true"
  batched:
    with-items: [1, 2, 3]
    batch-size: 2
    label: << index >>
    run: "true"
Y
run_wf validate bad.yaml
expect_rc "label without with-items is a load error" 2
expect_in "at its file:line:col" err.txt "bad.yaml:4:5: 'label' in a task applies to its items and needs 'with-items'"
expect_in "label with batch-size too" err.txt "bad.yaml:9:5: 'label' names items, and with 'batch-size'"

# A label that fails for some items: a warning naming task and item; the items run and keep
# their index.
cat > fails.yaml <<'Y'
version: 1
tasks:
  deploy:
    with-items: [{env: dev, region: eu}, {env: prod}, {env: test}]
    label: << item.env >>@<< item.region >>
    run: "echo deploy << item.env >>"
Y
run_wf run fails.yaml --progress plain -v
expect_rc "a failing label does not fail the run" 0
expect_in "the warning names the task and the first item" err.txt "warning: deploy: label of deploy[1]:"
expect_in "and counts the others" err.txt "(and 1 more items); those items are named by their index"
expect_in "an item whose label rendered keeps it" err.txt "ok       deploy[0] (dev@eu)"
expect_in "an item whose label failed has its index" err.txt "ok       deploy[1] ("
expect_not_in "and no label" err.txt "deploy[1] (prod"
run_wf logs last deploy.2
expect_in "logs by index for an item without a label" out.txt "deploy test"
run_wf logs last deploy.prod
expect_rc "logs by a label that failed" 2
expect_in "lists the labels there are" err.txt "has no item labelled 'prod'; its labels: dev@eu"

# A called workflow's items keep their labels through the caller (events are forwarded).
mkdir -p sub
cat > sub/child.yaml <<'Y'
version: 1
inputs:
  os: {type: string}
tasks:
  migrate:
    with-items: [up, down]
    run: "echo migrate << inputs.os >> << item >>"
Y
cat > parent.yaml <<'Y'
version: 1
tasks:
  deploy:
    with-items: [{os: linux}, {os: macos}]
    label: on-<< item.os >>
    uses: sub/child.yaml
    with: {os: << item.os >>}
Y
run_wf run parent.yaml --progress plain -v
expect_rc "a called workflow with labels" 0
expect_in "the caller's item by its label" err.txt "ok       deploy[1] (on-macos)"
expect_in "the called workflow's item by its label" err.txt "start    deploy[1]/migrate[1] (down)"
run_wf logs last 'deploy[1]/migrate.down'
expect_in "logs CALLER[N]/TASK.LABEL" out.txt "migrate macos down"

done_testing
