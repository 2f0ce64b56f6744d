#!/usr/bin/env bash
# A store that holds big runs (issue 16): plain successes kept as ranges, show in pages with
# --limit/--offset/--failed/--status and counts from the summary, logs of a unit inside a
# range, and --resume of a run with failures in ranges running exactly those.
. "$(dirname "$0")/lib.sh"

n=$((300 * ${WF_E2E_SCALE:-1}))
n_fail=$((n / 10))
cat > pages.yaml <<Y
version: 1
tasks:
  fan:
    with-items: << range($n) >>
    run: echo << item >> >> ran.txt; case << item >> in *7) test -e fixed;; esac
Y
run_wf run pages.yaml -j 2
expect_rc "items ending in 7 fail" 1
id=$("$WFENGINE" show last --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["run_id"])')

# Successes that say nothing of their own are ranges: only the failures are unit rows.
if command -v sqlite3 >/dev/null; then
    rows=$(sqlite3 .wfengine/state.db "SELECT count(*) FROM units")
    covered=$(sqlite3 .wfengine/state.db "SELECT sum(last_idx - first_idx + 1) FROM unit_ranges")
    if [ "$rows" -eq "$n_fail" ] && [ "$covered" -eq $((n - n_fail)) ]; then
        pass "$n_fail unit rows, $covered units in ranges"
    else fail "unit rows $rows (want $n_fail), units in ranges $covered (want $((n - n_fail)))"; fi
fi

run_wf show last
expect_rc "show last" 0
expect_in "counts per status" out.txt "units: $((n - n_fail)) succeeded, $n_fail failed"
expect_in "a unit of a range" out.txt "fan[3]                       succeeded"
expect_in "a failed unit" out.txt "fan[7]                       failed"

run_wf show last --limit 10
expect_rc "show --limit 10" 0
lines=$(grep -c '^    fan\[' out.txt || true)
if [ "$lines" -eq 10 ]; then pass "--limit 10 lists 10 units"; else fail "--limit 10 listed $lines units"; fi
expect_in "and says how to see the next page" out.txt "... more from index 10: wfengine show $id --offset 10"
expect_in "with the --limit of this page" out.txt "wfengine show $id --offset 10 --limit 10"

# From another directory, with --store and --failed: the printed command, run as it is,
# shows the next page of failures (it used to drop --limit and --store).
mkdir -p elsewhere
(cd elsewhere && run_wf show last --store ../.wfengine --failed --limit 2 && mv out.txt err.txt ..)
expect_rc "show --store from another directory" 0
expect_in "the next page's command keeps --status and --store" out.txt \
    "... more from index 27: wfengine show $id --offset 27 --limit 2 --status failed --store ../.wfengine"
next=$(sed -n 's/^    \.\.\. more from index [0-9]*: wfengine //p' out.txt)
set +e
(cd elsewhere && eval "run_wf $next" && mv out.txt err.txt .. && exit "$rc")
rc=$?
set -e
expect_rc "the printed command runs from there" 0
expect_in "and lists the next failures" out.txt "fan[27]"
expect_not_in "not the first ones" out.txt "fan[17]"

run_wf show last --offset $((n - 5)) --limit 10
expect_rc "show --offset" 0
expect_in "--offset starts at that index" out.txt "fan[$((n - 5))]"
expect_not_in "... and not before" out.txt "fan[$((n - 6))] "
expect_not_in "the last page has no next one" out.txt "more from index"

run_wf show last --offset $((n + 5))
expect_rc "show --offset past the end" 0
expect_in "says there is nothing there" out.txt "(no items from index $((n + 5)): its items are 0 to $((n - 1)))"
run_wf show last --failed --status succeeded
expect_rc "--failed with another --status" 2
expect_in "is an error, not the last one winning" err.txt "give one status (--failed is --status failed)"

run_wf show last --failed
expect_rc "show --failed" 0
lines=$(grep -c '^    fan\[.*failed' out.txt || true)
all=$(grep -c '^    fan\[' out.txt || true)
if [ "$lines" -eq "$n_fail" ] && [ "$all" -eq "$n_fail" ]; then pass "--failed lists the $n_fail failures and nothing else"
else fail "--failed listed $all units, $lines failed (want $n_fail)"; fi

run_wf show last --status skipped --json
expect_rc "show --status skipped --json" 0
expect_json "no unit is skipped; the counts are all there" \
    '[len(d["tasks"][0]["units"]), d["tasks"][0]["counts"]]' \
    "[0, {\"cancelled\": 0, \"failed\": $n_fail, \"skipped\": 0, \"succeeded\": $((n - n_fail))}]"

run_wf show last --json --limit 5 --offset 2
expect_json "--json pages too, with the next page's offset" \
    '[u["index"] for u in d["tasks"][0]["units"]] + [d["tasks"][0]["next_index"]]' '[2, 3, 4, 5, 6, 7]'

# Bad input: an error that says what is valid, exit 2.
run_wf show last --status bogus
expect_rc "--status bogus" 2
expect_in "lists the valid statuses" err.txt "show: --status takes one of succeeded, failed, skipped, cancelled (got 'bogus')"
run_wf show last --status
expect_rc "--status without a value" 2
run_wf show last --limit -1
expect_rc "--limit -1" 2
expect_in "says what --limit takes" err.txt "show: --limit takes a whole number ≥ 0 (got '-1')"
run_wf show last --offset ten
expect_rc "--offset ten" 2
expect_in "says what --offset takes" err.txt "show: --offset takes a whole number ≥ 0 (got 'ten')"

run_wf logs last 'fan[3]'
expect_rc "logs of a unit inside a range" 0
run_wf logs last 'fan[3]' --attempt 2
expect_rc "logs of an attempt a range unit does not have" 2
expect_in "... says which it has" err.txt "item 3 of task 'fan' of run $id has no attempt 2 (attempts 1 to 1)"

# show --json --limit 0 streams the units (a task's units read and written one at a time):
# the same text, byte for byte, as the document built whole (a --limit above every count).
for filter in "" "--failed" "--offset 5"; do
    # shellcheck disable=SC2086
    "$WFENGINE" show last --json --limit 0 $filter > streamed.json
    # shellcheck disable=SC2086
    "$WFENGINE" show last --json --limit $((n + 1)) $filter > whole.json
    if [ -s streamed.json ] && cmp -s streamed.json whole.json; then
        pass "show --json --limit 0 $filter: the same text as the whole document"
    else fail "show --json --limit 0 $filter differs" "$(diff streamed.json whole.json | head)"; fi
done
expect_json_file() { python3 -c "import json,sys; d=json.load(open('streamed.json')); print($1)"; }
got=$("$WFENGINE" show last --json --limit 0 > streamed.json && expect_json_file \
    "len(d['tasks'][0]['units']), d['tasks'][0]['units'][-1]['index'], d['tasks'][0]['next_index']")
if [ "$got" = "$n $((n - 1)) None" ]; then pass "streamed: every unit, in order"
else fail "streamed: $got, want $n $((n - 1)) None"; fi
# Memory: one unit at a time. 40,000 units took 120 MB built whole (3 KB a unit); streamed,
# the peak is the process's own (about 7 MB). Not under a sanitizer (its own allocations).
if [ -z "${ASAN_OPTIONS:-}" ] && [ "${WF_E2E_SCALE:-1}" = 1 ] && [ -x /usr/bin/time ]; then
    mkdir -p big && cd big || exit 1
    printf 'version: 1\ntasks:\n  fan:\n    with-items: << range(40000) >>\n    action: core.noop\n' > big.yaml
    "$WFENGINE" run big.yaml -j2 --progress none > /dev/null
    /usr/bin/time -f '%M' -o rss.txt "$WFENGINE" show last --json --limit 0 > big.json
    rss=$(tail -n 1 rss.txt)
    units=$(python3 -c "import json; print(len(json.load(open('big.json'))['tasks'][0]['units']))")
    if [ "$units" = 40000 ] && [ "$rss" -lt 40000 ]; then
        pass "show --json --limit 0 of 40,000 units: peak ${rss} KB < 40 MB"
    else fail "show --json --limit 0 of 40,000 units: $units units, peak ${rss} KB (want < 40 MB)"; fi
    # --resume of 40,000 units that each have a value of their own (no ranges), then a task
    # that fails: the resume reads them as the task expands, and keeps nothing a unit before.
    # It used to keep a JSON record a unit from the start (about 1.2 KB: 50 MB here).
    printf 'version: 1\ntasks:\n  fan:\n    with-items: << range(40000) >>\n    action: core.value\n    input: {value: << item >>}\n  last:\n    needs: [fan]\n    run: exit 1\n' > own.yaml
    "$WFENGINE" run own.yaml -j2 --progress none > /dev/null 2>&1 || true
    /usr/bin/time -f '%M' -o rss.txt "$WFENGINE" run own.yaml --resume last -j2 --progress none \
        > /dev/null 2>&1 || true
    rss=$(tail -n 1 rss.txt)
    "$WFENGINE" show last > own.txt
    if grep -q 'units: 40000 succeeded' own.txt && [ "$rss" -lt 30000 ]; then
        pass "--resume of 40,000 units with their own values: peak ${rss} KB < 30 MB"
    else fail "--resume of 40,000 units with their own values: peak ${rss} KB (want < 30 MB)" \
        "$(head -8 own.txt)"; fi
    # The same through a pipeline: a pipelined task reads what the resumed run has of its
    # units a window at a time as its items come (it kept a record a unit: 100 MB here), and
    # takes them with their values (the sum of the taken values is the sum of the first run's).
    printf 'version: 1\ntasks:\n  fan:\n    with-items: << range(40000) >>\n    action: core.value\n    input: {value: << item >>}\n  pipe:\n    with-items: << task.fan >>\n    pipeline: true\n    action: core.value\n    input: {value: << item * 2 >>}\n  total:\n    action: core.value\n    input: {value: << task.pipe | sum >>}\n  last:\n    needs: [total]\n    run: exit 1\noutputs:\n  total: << task.total >>\n' > pipe.yaml
    "$WFENGINE" run pipe.yaml -j2 --progress none > /dev/null 2>&1 || true
    /usr/bin/time -f '%M' -o rss.txt "$WFENGINE" run pipe.yaml --resume last -j2 --progress none \
        > pipe.out 2>/dev/null || true
    rss=$(tail -n 1 rss.txt)
    "$WFENGINE" show last > pipe.txt
    reused=$("$WFENGINE" show last --json --limit 0 | python3 -c "import json,sys
d = json.load(sys.stdin)
print(sum(1 for t in d['tasks'] if t['name'] == 'pipe' for u in t['units'] if u.get('reused')))")
    if grep -q 'units: 40000 succeeded' pipe.txt && [ "$reused" = 40000 ] &&
        grep -Eq '^ *total: 1599960000$' pipe.out && [ "$rss" -lt 40000 ]; then
        pass "--resume through a pipeline of 40,000 units: all taken, values intact, peak ${rss} KB < 40 MB"
    else fail "--resume through a pipeline of 40,000 units: $reused reused, peak ${rss} KB (want < 40 MB)" \
        "$(head -12 pipe.txt; head -c 300 pipe.out)"; fi
    cd .. || exit 1
fi

# --resume runs exactly the failures, and the counts of the new run say so.
touch fixed
: > ran.txt
run_wf run pages.yaml --resume last -j 2
expect_rc "resume succeeds" 0
ran=$(wc -l < ran.txt)
if [ "$ran" -eq "$n_fail" ] && ! grep -qv '7$' ran.txt; then pass "resume ran exactly the $n_fail failures"
else fail "resume ran $ran units" "$(sort -n ran.txt | head)"; fi
run_wf show last
expect_in "the resumed run counts every unit as succeeded" out.txt "units: $n succeeded"

# One item is "1 item", in progress, show and the report.
mkdir -p one && cd one
cat > one.yaml <<'Y'
version: 1
tasks:
  t:
    with-items: [a]
    run: echo << item >>
  p:
    with-items: << task.t >>
    pipeline: true
    run: echo << item >>
Y
run_wf run one.yaml --progress plain
expect_in "progress: (1 item)" err.txt "ok       t (1 item) in "
run_wf show last
expect_in "show: (1 item)" out.txt "succeeded  (1 item)"
expect_in "show's pipeline: (1 item)" out.txt "pipeline t -> p (1 item): 1 through"
run_wf report last -o one.html
expect_not_in "the report: no '1 items'" one.html "1 items"
cd ..

done_testing
