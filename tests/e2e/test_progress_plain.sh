#!/usr/bin/env bash
# --progress plain: a fan-out's successes folded into counts (-v: a line each), skipped items
# and items that never started folded into one line per task and reason, the tail of a failed
# unit's stdout and stderr, the recap of failures at the end and the commands that follow up.
. "$(dirname "$0")/lib.sh"

# WF_E2E_SCALE divides the fan-outs (the TSan build sets it); N stays a multiple of 4.
N=$(((100 / ${WF_E2E_SCALE:-1} + 3) / 4 * 4))
cat > fan.yaml <<Y
version: 1
tasks:
  fan:
    with-items: << range($N) >>
    run: "true"
  half:
    with-items: << range($N) >>
    when: << item % 4 == 0 >>
    run: "true"
Y

run_wf run fan.yaml -j 4 --progress plain --no-store
expect_rc "a fan-out of $N items" 0
lines=$(grep -c "fan" err.txt || true)
counts=$(grep -c "ok       fan: [0-9]*/$N items done \[" err.txt || true)
# A count every tenth of the items, or every 5 s (a slow machine may add a few).
if [ "$lines" -ge 3 ] && [ "$lines" -le 25 ] && [ "$counts" -ge 3 ]; then
    pass "plain: $N successes folded into $lines lines ($counts counts)"
else fail "plain: $N successes folded into $lines lines ($counts counts), want 3..25" "$(head -40 err.txt)"; fi
if grep "ok       fan: " err.txt | sed 's/.*fan: \([0-9]*\)\/.*/\1/' | sort -n -c 2>/dev/null; then
    pass "plain: the counts only grow"
else fail "plain: the counts only grow" "$(grep 'ok       fan: ' err.txt)"; fi
expect_in "plain: the task's end line is the last count" err.txt "ok       fan ($N items) in "
expect_not_in "plain: no line per item" err.txt "ok       fan["
skipped=$((N - N / 4))
expect_in "plain: skipped items in one line with the reason" err.txt \
    "skipped  half: $skipped items skipped: when was false"
expect_in "plain: the task's end counts them" err.txt \
    "ok       half ($N items: $((N / 4)) ok, $skipped skipped) in "
n=$(grep -c "skipped  half" err.txt || true)
[ "$n" = 1 ] && pass "plain: one skipped line for the task" || fail "plain: $n skipped lines for half, want 1"

run_wf run fan.yaml -j 4 --progress plain -v --no-store
n=$(grep -c "ok       fan\[" err.txt || true)
[ "$n" = "$N" ] && pass "-v: a line per success ($N)" || fail "-v: $n lines of successes, want $N"
n=$(grep -c "skipped  half\[[0-9]*\] (.*): when was false" err.txt || true)
[ "$n" = "$skipped" ] && pass "-v: a line per skipped item, with its reason" ||
    fail "-v: $n lines of skipped items, want $skipped" "$(grep -m3 'skipped  half' err.txt)"

run_wf run fan.yaml -j 4 --progress plain -q --no-store
expect_rc "-q run" 0
if [ "$(wc -l < err.txt)" = 1 ] && grep -q "succeeded in .* ($((2 * N)) units)" err.txt; then
    pass "-q: a run that succeeds prints only its last line"
else fail "-q: a run that succeeds prints only its last line" "$(head err.txt)"; fi

# A failed unit shows the tail of stdout (tools report there: ctest, TAP) and of stderr, capped
# in lines and bytes; the recap names each failure with the line that says what went wrong.
cat > fail.yaml <<'Y'
version: 1
tasks:
  tests:
    run: |
      for i in $(seq 1 30); do echo "stdout line $i"; done
      echo "ERROR: LeakSanitizer: detected memory leaks"
      echo "the end of stdout"
      echo "stderr says why" >&2
      exit 1
  wide:
    run: "echo first; head -c 20000 /dev/zero | tr '\\0' x; echo; echo last-wide-line >&2; exit 2"
  optional:
    needs: [tests]
    run: echo never
  fine:
    run: echo fine
  lint:
    continue-on-error: true
    run: "echo 'lint: 3 warnings, failing' >&2; exit 4"
Y
run_wf run fail.yaml --progress plain --store st
expect_rc "a run with failures" 1
expect_in "the stdout tail is headed" err.txt "      --- stdout ---"
expect_in "it ends with stdout's last line" err.txt "      | the end of stdout"
expect_in "the error on stdout is shown" err.txt "      | ERROR: LeakSanitizer: detected memory leaks"
expect_in "stderr follows, headed" err.txt "      --- stderr ---"
expect_in "stderr's tail" err.txt "      | stderr says why"
expect_not_in "the tail is capped (10 lines)" err.txt "stdout line 20"
expect_in "a cut tail says so" err.txt "      ..."
wide=$(grep -c "^      | x" err.txt || true)
width=$(grep "^      | x" err.txt | wc -c || true)
if [ "$wide" = 1 ] && [ "$width" -le 4200 ]; then pass "a 20 kB line is cut to 4 KiB"; else
    fail "a 20 kB line is cut to 4 KiB ($wide lines, $width bytes)"; fi
expect_in "the recap counts the failures" err.txt "2 failed:"
expect_in "the recap: a failure with the line that says why" err.txt \
    "  tests: exit code 1: ERROR: LeakSanitizer: detected memory leaks"
expect_in "the recap: the other failure" err.txt "  wide: exit code 2: last-wide-line"
expect_in "continue-on-error: its own state" err.txt "FAILED (ignored) lint: exit code 4"
if grep -A1 -F "1 failed, ignored (continue-on-error):" err.txt |
    grep -qxF "  lint: exit code 4: lint: 3 warnings, failing"; then
    pass "the recap lists ignored failures apart"
else fail "the recap lists ignored failures apart" "$(tail -12 err.txt)"; fi
expect_in "the run is recorded" err.txt "wfengine: recorded as run "
expect_in "the pointer to report" err.txt "wfengine report "
expect_in "the pointer to --resume" err.txt "wfengine run fail.yaml --resume last --store st"
# The commands printed work as printed.
# (The first failure is tests or wide, whichever ended first: their stdout starts differently.)
logs=$(sed -n 's/^wfengine: the whole output of [a-z]*: \(wfengine logs .*\) (--stderr.*/\1/p' err.txt)
if [ -n "$logs" ] && eval "\"\$WFENGINE\" ${logs#wfengine }" > logs.txt 2>&1 &&
    grep -q "^stdout line 1$\|^first$" logs.txt; then pass "the logs command printed shows the whole stdout"
else fail "the logs command printed shows the whole stdout ($logs)" "$(grep wfengine: err.txt; head -3 logs.txt)"; fi
report=$(sed -n 's/^wfengine: the run as a web page: \(wfengine report .*\)/\1/p' err.txt)
if [ -n "$report" ] && eval "\"\$WFENGINE\" ${report#wfengine }" 2>/dev/null && [ -s report.html ]; then
    pass "the report command printed writes the page"
else fail "the report command printed writes the page ($report)"; fi

run_wf run fan.yaml --progress plain --store st
expect_in "a run that succeeds: where it was recorded" err.txt "wfengine: recorded as run "
expect_not_in "a run that succeeds: no pointer to --resume" err.txt "--resume"
expect_not_in "a run that succeeds: no recap" err.txt " failed:"
run_wf run fail.yaml --progress plain --no-store
expect_not_in "without a store: no pointer to logs" err.txt "wfengine logs"
expect_in "without a store: the recap still" err.txt "2 failed:"
run_wf run fail.yaml --progress plain -q --store st
expect_in "-q: the recap" err.txt "2 failed:"
expect_in "-q: the pointers" err.txt "--resume last"
done_testing
