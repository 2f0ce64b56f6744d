#!/usr/bin/env bash
# The run store: history, show, logs, resume of only what failed, resume after kill -9 and
# after SIGINT, the cache, gc, secrets never on disk, and a store that cannot be used.
# ctest-cost: 24 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

cat > flaky.yaml <<'Y'
version: 1
tasks:
  prepare:
    run: echo prepared >> prepare.log; echo ready
  items:
    with-items: [a, b, c, d]
    run: echo << item >> >> ran.txt; echo out-<< item >>; echo err-<< item >> >&2; test << item >> != c || test -e fixed
  after:
    needs: [items]
    action: core.value
    input: {value: "<< task.items >>"}
outputs:
  all: << task.after >>
Y
run_wf run flaky.yaml
expect_rc "first run fails on item c" 1
expect_in "the run is recorded" err.txt "recorded as run"
run_wf runs
expect_rc "runs" 0
expect_in "runs lists the run" out.txt "failed"
run_wf runs --json
expect_json "runs --json" 'd[0]["status"], d[0]["workflow"]' '["failed", "flaky"]'
first=$(json_get 'd[0]["run_id"]' | tr -d '"')
run_wf show last
expect_rc "show last" 0
expect_in "show names items NAME[INDEX]" out.txt "items[2]"
expect_in "show has the failed item's exit code" out.txt "exit 1"
run_wf show last --json
expect_json "show --json: task statuses" '[t["status"] for t in d["tasks"]]' '["succeeded", "failed", "skipped"]'
run_wf logs last "items[1]"
expect_rc "logs of an item" 0
expect_in "logs prints stdout" out.txt "out-b"
run_wf logs last "items[1]" --stderr
expect_in "logs --stderr" out.txt "err-b"
run_wf logs last "items[9]"
expect_rc "logs of a missing item" 2
run_wf show nosuchrun
expect_rc "show of an unknown run" 2

touch fixed
: > ran.txt
run_wf run flaky.yaml --resume last --json
expect_rc "resume succeeds" 0
if [ "$(cat ran.txt)" = "c" ]; then pass "resume ran only the failed item"; else fail "resume ran: $(tr '\n' ' ' < ran.txt)"; fi
if [ "$(wc -l < prepare.log)" -eq 1 ]; then pass "resume did not rerun a succeeded task"; else fail "prepare ran $(wc -l < prepare.log) times"; fi
expect_json "results of reused items are re-published" 'd["outputs"]["all"]' '["out-a", "out-b", "out-c", "out-d"]'
expect_json "reused items marked" '[i.get("reused", False) for i in d["tasks"]["items"]["items"]]' '[true, true, false, true]'
run_wf show last --json
expect_json "the new run says what it resumes" 'd["resumed_from"]' "\"$first\""

echo "# changed" >> flaky.yaml
run_wf run flaky.yaml --resume "$first"
expect_rc "resume of a changed file is refused" 2
expect_in "the refusal names the change" err.txt "has changed since run"
expect_in "and the way out" err.txt "--force"
run_wf run flaky.yaml --resume "$first" --force
expect_rc "resume --force" 0

# kill -9 in the middle of a fan-out, then resume: no item recorded as succeeded runs again.
# Items 0-3 end at once; the others wait for the file `go`, made only after the kill, so that
# the kill falls mid-run whatever the machine's load: it comes once the store holds a first
# item as succeeded (read through `show`, as after the kill).
cat > fan.yaml <<'Y'
version: 1
tasks:
  fan:
    with-items: << range(60) >>
    run: echo << item >> >> ran-$WF_RUN_ID.txt; [ << item >> -lt 4 ] || until [ -e go ]; do sleep 0.02; done
Y
# stored_done RUN: the indices of RUN's succeeded units, by `show --json`, in done1.json.
stored_done() {
    "$WFENGINE" show "$1" --json >out.txt 2>err.txt &&
        json_get '[u["index"] for t in d["tasks"] for u in t["units"] if u["status"] == "succeeded"]' > done1.json
}
# started_run: the run whose ran-RUN.txt exists (the one run started), in $killed.
started_run() {
    killed=$(ls ran-*.txt 2>/dev/null | head -n 1 | sed 's/ran-\(.*\)\.txt/\1/')
    [ -n "$killed" ]
}
set +e
"$WFENGINE" run fan.yaml -j 2 -q >run-out.txt 2>run-err.txt &
pid=$!
wait_for 60 started_run && wait_for 60 eval 'stored_done "$killed" && [ "$(cat done1.json)" != "[]" ]'
kill -9 "$pid"
wait "$pid" 2>/dev/null
set -e
touch go
run_wf show "$killed" --json
expect_rc "a store killed with -9 opens cleanly" 0
json_get '[u["index"] for t in d["tasks"] for u in t["units"] if u["status"] == "succeeded"]' > done1.json
ndone=$(python3 -c 'import json; print(len(json.load(open("done1.json"))))')
if [ "$ndone" -gt 0 ] && [ "$ndone" -le 4 ]; then pass "killed run recorded $ndone of items 0-3"; else fail "killed run recorded $ndone items"; fi
run_wf run fan.yaml -j 2 -q --resume "$killed" --json
expect_rc "resume after kill -9 completes" 0
expect_json "every item succeeded" 'sorted(set(i["status"] for i in d["tasks"]["fan"]["items"]))' '["succeeded"]'
second=$(json_get 'd["run_id"]' | tr -d '"')
again=$(python3 -c '
import json,sys
done=set(json.load(open("done1.json")))
ran=[int(l) for l in open("ran-'"$second"'.txt")]
print(len(done & set(ran)))')
if [ "$again" -eq 0 ]; then pass "no item recorded as succeeded ran twice"; else fail "$again succeeded items ran again"; fi

# SIGINT, then resume. Without `go`, the run holds items 4 and 5 until the signal, which comes
# once they have started (two more lines than the runs before wrote).
rm go
lines_before=$(cat ran-*.txt | wc -l)
set +e
"$WFENGINE" run fan.yaml -j 2 -q >out.txt 2>err.txt &
pid=$!
wait_for 60 eval '[ "$(cat ran-*.txt | wc -l)" -ge $((lines_before + 6)) ]'
kill -INT "$pid"
wait "$pid"
rc=$?
set -e
touch go
expect_rc "SIGINT during a recorded run" 130
run_wf show last --json
expect_json "the interrupted run is recorded as cancelled" 'd["status"]' '"cancelled"'
run_wf run fan.yaml -j 2 -q --resume last --json
expect_rc "resume after SIGINT" 0

# The cache: a hit when nothing changed, a miss when a source file changes.
echo v1 > input.txt
cat > cache.yaml <<'Y'
version: 1
tasks:
  build:
    cache: {sources: [input.txt]}
    run: echo built >> builds.log; cat input.txt
Y
run_wf run cache.yaml --json
expect_json "first run builds" 'd["tasks"]["build"]["result"]' '"v1"'
run_wf run cache.yaml --json
expect_json "second run is a cache hit" 'd["tasks"]["build"].get("cached"), d["tasks"]["build"]["result"]' '[true, "v1"]'
expect_in "the hit is said in the progress output" err.txt "cached"
echo v2 > input.txt
run_wf run cache.yaml --json
expect_json "a changed source is a miss" 'd["tasks"]["build"].get("cached", False), d["tasks"]["build"]["result"]' '[false, "v2"]'
run_wf run cache.yaml --no-cache --json
expect_json "--no-cache ignores hits" 'd["tasks"]["build"].get("cached", False)' 'false'
if [ "$(wc -l < builds.log)" -eq 3 ]; then pass "the command ran 3 times of 4"; else fail "built $(wc -l < builds.log) times"; fi

# gc: unreferenced blobs go, referenced ones stay.
blobs_before=$(find .wfengine/blobs -type f | wc -l)
run_wf gc --keep-runs 1
expect_rc "gc" 0
expect_in "gc says what it freed" out.txt "freed"
blobs_after=$(find .wfengine/blobs -type f | wc -l)
if [ "$blobs_after" -lt "$blobs_before" ]; then pass "gc deleted blobs ($blobs_before -> $blobs_after)"; else fail "gc kept all $blobs_before blobs"; fi
run_wf runs --json
expect_json "gc kept one run" 'len(d)' '1'
run_wf logs last build
expect_in "the kept run's logs are still there" out.txt "v2"
run_wf run cache.yaml --json
expect_json "cache entries survive gc" 'd["tasks"]["build"].get("cached", False)' 'true'

# Secrets never reach the disk in clear.
cat > secret.yaml <<'Y'
version: 1
inputs:
  token: {type: string, secret: true}
tasks:
  use:
    output: json
    run: "echo '{\"t\": \"'<< inputs.token >>'\"}'; echo leaked-<< inputs.token >> >&2; exit 1"
Y
run_wf run secret.yaml -i token=Sup3rS3cretValue
expect_rc "secret run fails on purpose" 1
if grep -r -a -q "Sup3rS3cretValue" .wfengine; then fail "the secret is in the store"; else pass "the secret is nowhere in the store"; fi
run_wf logs last use --stderr
expect_in "stored stderr is masked" out.txt "leaked-***"

# A store that cannot be used: exit 3 with the path and the cause.
touch not-a-dir
run_wf run cache.yaml --store not-a-dir
expect_rc "a file where the store should be" 3
expect_in "the message names the path" err.txt "not-a-dir"
mkdir -p bad/.wfengine
echo "this is not a database" > bad/.wfengine/state.db
(cd bad && "$WFENGINE" run ../cache.yaml >../out.txt 2>../err.txt) && rc=0 || rc=$?
expect_rc "a corrupt state.db" 3
expect_in "the message names the file" err.txt "state.db"
run_wf runs --store nowhere-yet
expect_rc "runs on a store that does not exist" 3
if [ -e nowhere-yet ]; then fail "runs created a store"; else pass "runs does not create a store"; fi
run_wf run cache.yaml --no-store --resume last
expect_rc "--no-store with --resume" 2
done_testing
