#!/usr/bin/env bash
# What a unit's end is recorded as, for every report to show: a failure under
# continue-on-error is "failed, ignored" (in the store, show and events); a skipped unit says
# why; a cancelled unit says what stopped it; the run's unit count is the same from the first
# event to the summary and counts tasks that ended without units.
# ctest-cost: 16 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

cat > states.yaml <<'Y'
version: 1
tasks:
  bad:
    run: "exit 3"
  dep:
    needs: [bad]
    with-items: [1, 2, 3]
    run: "echo << item >>"
  cond:
    with-items: [1, 2, 3]
    when: << item > 1 >>
    run: "echo << item >>"
  ign:
    continue-on-error: true
    run: "echo out; echo err >&2; exit 4"
  ign_items:
    continue-on-error: true
    with-items: [a, b]
    run: "test << item >> = a"
  after:
    needs: [ign, ign_items]
    run: "echo after"
Y
run_wf run states.yaml --progress plain
expect_rc "a failing task fails the run" 1
# 1 (bad) + 1 (dep, skipped before expanding) + 3 (cond) + 1 (ign) + 2 (ign_items) + 1 (after)
expect_in "the summary counts every unit, skipped tasks too" err.txt "(9 units)"
run_wf show last --json
expect_json "ignored is recorded per task" \
    '{t["name"]: t["ignored"] for t in d["tasks"]}' \
    '{"after": false, "bad": false, "cond": false, "dep": false, "ign": true, "ign_items": true}'
expect_json "ignored is recorded per unit" \
    '[(u["index"], u["status"], u["ignored"]) for t in d["tasks"] if t["name"] == "ign_items" for u in t["units"]]' \
    '[[0, "succeeded", false], [1, "failed", true]]'
expect_json "a failure without continue-on-error is not ignored" \
    '[u["ignored"] for t in d["tasks"] if t["name"] == "bad" for u in t["units"]]' '[false]'
expect_json "dependents of ignored failures run" \
    '[t["status"] for t in d["tasks"] if t["name"] == "after"]' '["succeeded"]'
expect_json "a skipped item says why" \
    '[u["error"] for t in d["tasks"] if t["name"] == "cond" for u in t["units"] if u["status"] == "skipped"]' \
    '["when was false"]'
expect_json "a skipped task says why" \
    '[t["error"] for t in d["tasks"] if t["name"] == "dep"]' '["dependency '"'"'bad'"'"' failed"]'
run_wf show last
expect_in "show says failed, ignored for the task" out.txt "ign                            failed, ignored"
expect_in "show says failed, ignored for the item" out.txt "ign_items[1] (b)             failed, ignored"
# bad failed, ign and ign_items failed under continue-on-error: runs says which.
run_wf runs --limit 1
expect_in "runs says which failures were ignored" out.txt "3 failed (2 ignored)"
run_wf runs --json --limit 1
expect_json "runs --json counts the ignored failures" \
    '[d[0]["tasks"]["failed"], d[0]["tasks"]["ignored"]]' '[3, 2]'

# Cancelled units say what stopped them: the run's fail-fast (naming the task), a task's
# fail-fast (naming the item), a stop. bad fails once a slow unit runs (its file exists), so
# that one is running when the fail-fast comes, however slow the machine.
cat > ff.yaml <<'Y'
version: 1
fail-fast: true
tasks:
  bad:
    run: "i=0; until [ -e slow.on ] || [ $i -ge 1200 ]; do sleep 0.05; i=$((i+1)); done; exit 3"
  slow:
    with-items: [1, 2, 3, 4, 5, 6]
    concurrency: 1
    run: "touch slow.on; sleep 30"
Y
run_wf run ff.yaml --progress plain -j 2
expect_rc "fail-fast run fails" 1
expect_in "a unit cancelled by the run's fail-fast names the task" err.txt \
    "cancelled while running: fail-fast (task 'bad' failed)"
expect_in "the count is the same: 1 + 6" err.txt "(7 units)"
run_wf show last --json
expect_json "the store has the reason" \
    '[u["error"] for t in d["tasks"] if t["name"] == "slow" for u in t["units"] if u["status"] == "cancelled"]' \
    '["cancelled while running: fail-fast (task '"'"'bad'"'"' failed)"]'

cat > tff.yaml <<'Y'
version: 1
tasks:
  items:
    with-items: [1, 2, 3, 4]
    fail-fast: true
    run: "if [ << item >> = 1 ]; then exit 1; fi; sleep 1"
Y
run_wf run tff.yaml --progress plain -j 1
expect_rc "task fail-fast fails" 1
expect_in "a unit cancelled by its task's fail-fast names the item" err.txt \
    "not started: fail-fast of this task (item 0 failed)"

# A stop (SIGTERM to the CLI): units say the run was stopped.
cat > stop.yaml <<'Y'
version: 1
tasks:
  long:
    with-items: [1, 2]
    run: "touch on.<< item >>; sleep 30"
Y
set +e
"$WFENGINE" run stop.yaml --progress plain -j 2 >out.txt 2>err.txt &
pid=$!
# Both units run once their files exist.
wait_for 60 test -e on.1 -a -e on.2 || fail "the two units never ran side by side"
kill -TERM "$pid"
wait "$pid"
rc=$?
set -e
expect_rc "SIGTERM stops the run" 130
run_wf show last --json
expect_json "a stopped unit says the run was stopped" \
    'sorted(set(u["error"] for t in d["tasks"] for u in t["units"]))' \
    '["cancelled while running: the run was stopped"]'

# The workflow's own timeout stops the run: cancelled units say so, and the run fails. The
# timeout counts from the start: when it came before a slow unit ran (its file on.N; a loaded
# machine), the run proves nothing and runs again with a longer one.
for t in 1s 4s 15s; do
    cat > wto.yaml <<Y
version: 1
timeout: $t
tasks:
  quick:
    run: echo hi
  slow:
    needs: [quick]
    with-items: [1, 2, 3]
    concurrency: 2
    run: touch on.<< item >>; sleep 60
Y
    rm -f on.*
    start=$(date +%s)
    run_wf run wto.yaml --progress plain
    took=$(( $(date +%s) - start ))
    ls on.* >/dev/null 2>&1 && break
done
expect_rc "a run past its timeout fails" 1
expect_in "a warning says why" err.txt "warning: the workflow's timeout of $t passed: stopping the run"
expect_in "running units say what stopped them" err.txt "cancelled while running: the workflow's timeout of $t passed"
if [ "$took" -lt 40 ]; then pass "stopped in ${took}s, not after 60s"; else fail "took ${took}s"; fi
run_wf show last --json
expect_json "quick succeeded before" '[t["status"] for t in d["tasks"]]' '["succeeded", "cancelled"]'
# Templated options: continue-on-error per item (GitHub's matrix.experimental), concurrency
# from an input, and a bad one.
cat > opts.yaml <<'Y'
version: 1
inputs:
  par: {default: 2}
tasks:
  build:
    with-items:
      matrix:
        os: [linux, mac]
      include:
        - os: mac
          experimental: true
    continue-on-error: << item.experimental ?? false >>
    concurrency: << inputs.par >>
    run: test << item.os >> = linux
  after:
    needs: [build]
    run: echo after
  hard:
    with-items: [a, b]
    continue-on-error: << item == "a" >>
    run: "false"
Y
run_wf run opts.yaml --json --progress none
expect_rc "a failure not covered fails the run" 1
expect_json "the experimental item is ignored, the task too, and its dependent runs" \
    '[d["tasks"]["build"]["status"], d["tasks"]["build"].get("continue_on_error"), d["tasks"]["after"]["status"]]' \
    '["failed", true, "succeeded"]'
expect_json "per item: a ignored, b not, so the task fails" \
    '[d["tasks"]["hard"]["status"], d["tasks"]["hard"].get("continue_on_error")]' '["failed", null]'
run_wf show last --json
expect_json "the store has it per unit" \
    '[(u["index"], u["ignored"]) for t in d["tasks"] if t["name"] == "hard" for u in t["units"]]' \
    '[[0, true], [1, false]]'
run_wf run opts.yaml --json --progress none -i par=0
expect_json "a concurrency of 0 fails the task saying so" 'd["tasks"]["build"]["error"]' \
    '"concurrency: '"'"'<< inputs.par >>'"'"' gave 0, not an integer of at least 1"'
printf 'version: 1\ntasks:\n  t:\n    with-items: [1]\n    concurrency: << item >>\n    run: echo\n' > once.yaml
run_wf validate once.yaml
expect_rc "item in concurrency is a load error" 2
expect_in "it says why" err.txt "'item' cannot be used in 'concurrency', 'cpus' or 'batch-size', which are evaluated once for the whole task"
done_testing
