#!/usr/bin/env bash
# --resume of a big with-items task settles what it takes by span (docs/store.md, "Resume";
# wf_event.n_units): exactly the failed items run again, the resumed run's store has every
# unit with the right status and `reused` flag (`show` pages, counts, `logs`), a second resume
# takes everything, a changed item in the middle of a span splits it and runs alone, and
# large reused results are references to their blobs, loaded only when read.
# ctest-cost: 15 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

# ---- processes: exactly the failed items run again ------------------------------------------
# ran.txt gets one line per item that really ran.
cat > procs.yaml <<'Y'
version: 1
tasks:
  fan:
    with-items: << range(60) >>
    run: echo << item >> >> ran.txt; echo out-<< item >>; test ! -e broken.<< item >>
Y
touch broken.7 broken.30 broken.59
run_wf run procs.yaml -j 2
expect_rc "procs: three items fail" 1
[ "$(wc -l < ran.txt)" -eq 60 ] && pass "procs: the first run ran 60 items" ||
    fail "procs: the first run ran $(wc -l < ran.txt) items"
rm -f broken.* ran.txt
run_wf run procs.yaml -j 2 --resume last --progress plain
expect_rc "procs: the resume succeeds" 0
got=$(sort -n ran.txt | tr '\n' ' ')
[ "$got" = "7 30 59 " ] && pass "procs: the resume ran exactly items 7, 30 and 59" ||
    fail "procs: the resume ran '$got', want '7 30 59 '"
expect_in "procs: the live lines count every unit" err.txt "(60 units)"
run_wf logs last fan.8
expect_rc "procs: logs of a reused item" 0
expect_in "procs: its stdout is the one recorded" out.txt "out-8"
run_wf logs last fan.30
expect_in "procs: logs of an item that ran again" out.txt "out-30"
run_wf show last --json --limit 0
expect_json "procs: 60 units, 57 reused" \
    '[len(d["tasks"][0]["units"]), sum(u["reused"] for u in d["tasks"][0]["units"])]' '[60, 57]'
expect_json "procs: the ones not reused are 7, 30, 59" \
    '[u["index"] for u in d["tasks"][0]["units"] if not u["reused"]]' '[7, 30, 59]'
expect_json "procs: reused units are first attempts with their exit code" \
    'sorted({(u["attempt"], u["exit_code"], u["status"]) for u in d["tasks"][0]["units"]})' \
    '[[1, 0, "succeeded"]]'
: > ran.txt
run_wf run procs.yaml -j 2 --resume last
expect_rc "procs: a second resume succeeds" 0
[ ! -s ran.txt ] && pass "procs: the second resume ran nothing" ||
    fail "procs: the second resume ran $(tr '\n' ' ' < ran.txt)"
run_wf show last --json --limit 0
expect_json "procs: the second resume reused all 60" \
    'sum(u["reused"] for u in d["tasks"][0]["units"])' '60'

# ---- many in-process items: spans across store ranges, counts, pages ----------------------
# WF_E2E_SCALE divides the size (the TSan build sets it); n stays above two store ranges.
n=$((12000 / ${WF_E2E_SCALE:-1}))
m=$((n * 3 / 4))   # items 7 and m + 7 fail
mid=$((n * 5 / 6)) # the item a later resume changes
cat > many.yaml <<Y
version: 1
inputs:
  fail:
    type: boolean
    default: true
  mid:
    type: integer
    default: $mid
tasks:
  fan:
    with-items: << range($mid) + [inputs.mid] + range($((mid + 1)), $n) >>
    action: core.noop
    input:
      x: << 1 / (item % $m - 7) if inputs.fail else 0 >>
Y
run_wf run many.yaml -j 2
expect_rc "many: the failing run fails" 1
run_wf show last --json --failed --limit 0
want_failed="[7, $((m + 7))]"
expect_json "many: the failed items" '[u["index"] for u in d["tasks"][0]["units"]]' "$want_failed"
first=$(python3 -c "import json; print(json.load(open('out.txt'))['run_id'])")
run_wf run many.yaml -j 2 --resume last -i fail=false --progress plain
expect_rc "many: the resume succeeds" 0
expect_in "many: every unit counted by the live lines" err.txt "($n units)"
run_wf show last --json --limit 1
expect_json "many: counts after the resume" 'd["tasks"][0]["counts"]' \
    "{\"cancelled\": 0, \"failed\": 0, \"skipped\": 0, \"succeeded\": $n}"
run_wf show last --json --offset $((m + 5)) --limit 4
expect_json "many: around a failed item, only it ran again" \
    '[(u["index"], u["reused"]) for u in d["tasks"][0]["units"]]' \
    "[[$((m + 5)), true], [$((m + 6)), true], [$((m + 7)), false], [$((m + 8)), true]]"
run_wf show last --json --status succeeded --offset $((n - 2)) --limit 5
expect_json "many: the last units are there" '[u["index"] for u in d["tasks"][0]["units"]]' \
    "[$((n - 2)), $((n - 1))]"
run_wf run many.yaml -j 2 --resume last
expect_rc "many: a second resume succeeds" 0
run_wf show last --json --limit 0
expect_json "many: the second resume reused every unit" \
    '[len(d["tasks"][0]["units"]), sum(u["reused"] for u in d["tasks"][0]["units"]), d["tasks"][0]["counts"]["succeeded"]]' \
    "[$n, $n, $n]"
run_wf run many.yaml -j 2 --resume last -i mid=-1
expect_rc "many: a resume with one changed item succeeds" 0
run_wf show last --json --limit 0
expect_json "many: only the changed item ran" \
    '[u["index"] for u in d["tasks"][0]["units"] if not u["reused"]]' "[$mid]"
run_wf show "$first" --json --limit 1
expect_json "many: the first run is unchanged" 'd["tasks"][0]["counts"]["failed"]' 2

# ---- large reused results are references, loaded when read ---------------------------------
cat > big.yaml <<'Y'
version: 1
tasks:
  big:
    with-items: << range(4) >>
    run: head -c $((100000 + << item >>)) /dev/zero | tr '\0' x
  plain:
    run: head -c 150000 /dev/zero | tr '\0' y
  use:
    needs: [big, plain]
    run: test -e ok && echo << task.big[2] | length >>
outputs:
  n: << task.use >>
Y
run_wf run big.yaml
expect_rc "big: use fails the first time" 1
touch ok
run_wf run big.yaml --resume last --json
expect_rc "big: the resume succeeds" 0
expect_json "big: the item read has its value" 'd["outputs"]["n"]' '"100002"'
expect_json "big: one result loaded (big[2]), not the five reused" \
    'd["results_memory"]["loads"]' '1'
run_wf logs last big.3
expect_rc "big: logs of a reused large item" 0
[ "$(wc -c < out.txt)" -eq 100003 ] && pass "big: its stdout is whole" ||
    fail "big: its stdout has $(wc -c < out.txt) bytes, want 100003"

done_testing
