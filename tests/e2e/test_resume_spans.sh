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

# ---- a range: the same list compares no item; taken ranges refer to their digests -----------
# rng.yaml's list is range(lo, lo + n); rng-list.yaml's the same items as a JSON list.
cat > rng.yaml <<Y
version: 1
name: rng
inputs:
  lo: {type: integer, default: 0}
  fail: {type: boolean, default: true}
tasks:
  fan:
    with-items: << range(inputs.lo, inputs.lo + $n) >>
    action: core.noop
    input:
      x: << 1 / (item % $m - 7) if inputs.fail else 0 >>
Y
sed 's/range(inputs.lo, inputs.lo + [0-9]*)/& + []/' rng.yaml > rng-list.yaml
# db SQL: one value from the store's database.
db() { python3 -c "import sqlite3, sys; print(sqlite3.connect('.wfengine/state.db').execute(sys.argv[1]).fetchone()[0])" "$1"; }
rm -rf .wfengine
run_wf run rng.yaml -j 2
expect_rc "rng: the failing run fails" 1
[ "$(db "SELECT items_key FROM tasks WHERE name = 'fan'")" = "range 0" ] &&
    pass "rng: the task records its list's key" || fail "rng: items_key is $(db "SELECT items_key FROM tasks")"
run_wf run rng.yaml -j 2 --resume last -i fail=false
expect_rc "rng: the resume succeeds" 0
run_wf show last --json --limit 0
expect_json "rng: only the failed items ran again" \
    '[u["index"] for u in d["tasks"][0]["units"] if not u["reused"]]' "[7, $((m + 7))]"
# The resume's ranges hold the digests of the two units that ran, and refer to the rest.
got=$(db "SELECT sum(length(item_digests)) || ' ' || count(digests_run) FROM unit_ranges WHERE run_seq = (SELECT max(seq) FROM runs)")
want_refs=$(db "SELECT count(*) FROM unit_ranges WHERE run_seq = (SELECT min(seq) FROM runs)")
[ "$got" = "16 $want_refs" ] && pass "rng: reused ranges copy no digest ($got)" ||
    fail "rng: the resume's ranges: $got (digest bytes, references), want 16 $want_refs"
# gc of the first run copies the digests into the ranges that refer to them; a resume over
# the same items as a JSON list (no key: every item compared) then reuses all of them.
run_wf gc --keep-runs 1
expect_rc "rng: gc keeps the resume only" 0
[ "$(db "SELECT sum(length(item_digests)) || ' ' || count(digests_run) FROM unit_ranges")" = "$((n * 8)) 0" ] &&
    pass "rng: gc gave the kept ranges their digests" ||
    fail "rng: after gc: $(db "SELECT sum(length(item_digests)) || ' ' || count(digests_run) FROM unit_ranges")"
run_wf run rng-list.yaml -j 2 --resume last --force
expect_rc "rng: a resume over the same items as a list succeeds" 0
run_wf show last --json --limit 1
expect_json "rng: every item compared and reused" 'd["tasks"][0]["counts"]["succeeded"]' "$n"
expect_json "rng: none ran" \
    'sum(1 for u in d["tasks"][0]["units"] if not u["reused"])' '0'
run_wf run rng.yaml -j 2 --resume last --force -i lo=1
expect_rc "rng: a resume over another range succeeds" 0
run_wf show last --json --limit 0
expect_json "rng: another range's items all ran" \
    'sum(1 for u in d["tasks"][0]["units"] if u["reused"])' '0'

# ---- a reused unit keeps its label (docs/store.md, "Resume") -------------------------------
# The label template reads an input that the resume changes: the unit that runs again gets the
# new label, a reused one is the unit recorded before, under the label it had.
cat > lab.yaml <<'Y'
version: 1
inputs:
  tag: {type: string, default: a}
tasks:
  fan:
    with-items: [x, y, z]
    label: << inputs.tag >>-<< item >>
    run: echo << item >>; test ! -e broken.<< item >>
Y
rm -rf .wfengine
touch broken.y
run_wf run lab.yaml
expect_rc "lab: y fails" 1
rm broken.y
run_wf run lab.yaml --resume last -i tag=b
expect_rc "lab: the resume succeeds" 0
run_wf show last --json --limit 0
expect_json "lab: reused units keep their labels, the one that ran has the new one" \
    '[(u["label"], u["reused"]) for u in d["tasks"][0]["units"]]' \
    '[["a-x", true], ["b-y", false], ["a-z", true]]'
run_wf logs last fan.a-z
expect_rc "lab: logs finds a reused unit by its label" 0
expect_in "lab: its stdout" out.txt "z"

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

# ---- memory: units with results of their own (rows, not ranges) ------------------------------
# Each item has its own value, so the store keeps a row per unit. --resume kept a JSON record
# and a span per reused unit (about 1.3 KB a unit: 1.26 GB at 1,000,000); a task that is not
# pipelined reads them again when it expands, so it now keeps spans of indexes only. Not
# under a sanitizer (its own allocations).
if [ -z "${ASAN_OPTIONS:-}" ] && [ "${WF_E2E_SCALE:-1}" = 1 ] && [ -x /usr/bin/time ]; then
    mkdir -p rows && cd rows || exit 1
    cat > rows.yaml <<'Y'
version: 1
inputs:
  bad: {type: integer, default: 7}
tasks:
  fan:
    with-items: << range(60000) >>
    action: core.value
    input: {value: "<< 1 / (item - inputs.bad) >>"}
  after:
    action: core.value
    input: {value: "<< task.fan | length >> << task.fan[1] >> << task.fan[7] >>"}
outputs:
  got: << task.after >>
Y
    run_wf run rows.yaml -j 2 --progress none
    expect_rc "rows: item 7 fails" 1
    set +e
    /usr/bin/time -f '%M' -o rss.txt "$WFENGINE" run rows.yaml -j 2 --resume last -i bad=-1 \
        --progress none > out.txt 2> err.txt
    rc=$?
    set -e
    expect_rc "rows: the resume succeeds" 0
    expect_in "rows: reused and new values" out.txt "got: 60000 -0.16666666666666666 0.125"
    # (without --json: the result document is built whole, about 1.5 KB a unit)
    rss=$(tail -n 1 rss.txt)
    if [ "$rss" -lt 40000 ]; then pass "rows: --resume of 60,000 units peaks at ${rss} KB < 40 MB"
    else fail "rows: --resume of 60,000 units peaks at ${rss} KB (want < 40 MB)"; fi
    cd .. || exit 1
fi

done_testing
