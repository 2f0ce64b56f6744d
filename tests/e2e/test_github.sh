#!/usr/bin/env bash
# GITHUB_ACTIONS=true: each task's output folded in ::group::/::endgroup:: (workflow commands
# stopped inside; failed units first, the tail when long), ::error annotations at the task's
# line in the file, ::warning for ignored failures, ::notice for retries, at most 10 of each,
# a Markdown summary in $GITHUB_STEP_SUMMARY, secrets masked everywhere.
. "$(dirname "$0")/lib.sh"
# The tests decide what GitHub's environment holds (CI may run them under GitHub Actions).
unset GITHUB_STEP_SUMMARY GITHUB_WORKSPACE

cat > gh.yaml <<'Y'
version: 1
inputs:
  token: {type: string, secret: true}
tasks:
  hello:
    run: "echo hello from hello; echo token=<< inputs.token >>; echo '::warning::forged'"
  items:
    with-items: [a, b]
    run: "echo item << item >>; [ << item >> = a ] || { echo 'boom: << inputs.token >>' >&2; exit 5; }"
  quiet:
    run: "true"
Y
export GITHUB_ACTIONS=true
run_wf run gh.yaml -i token=very-secret-42
expect_rc "the run fails" 1
expect_in "a group per task with output" err.txt "::group::hello (succeeded): output"
expect_in "the task's stdout inside" err.txt "hello from hello"
expect_in "groups are closed" err.txt "::endgroup::"
groups=$(grep -c '^::group::' err.txt || true)
ends=$(grep -c '^::endgroup::' err.txt || true)
if [ "$groups" = 2 ] && [ "$ends" = 2 ]; then pass "two groups (a task without output has none)"; else
    fail "two groups: $groups groups, $ends ends" "$(cat err.txt)"; fi
expect_in "with-items group" err.txt "::group::items (failed, 2 items): output"
expect_in "workflow commands are stopped inside a group" err.txt "::stop-commands::"
token=$(sed -n 's/^::stop-commands::\(.*\)$/\1/p' err.txt | head -n 1)
expect_in "and resumed after it" err.txt "::$token::"
expect_in "an annotation per failure, at the task's line" err.txt \
    "::error file=gh.yaml,line=7,col=3,title=wfengine%3A items[1] (b) failed::exit code 5%0Aboom: ***"
n=$(grep -c '^::error' err.txt || true)
[ "$n" = 1 ] && pass "exactly one annotation" || fail "exactly one annotation (got $n)"
expect_not_in "the secret never appears" err.txt "very-secret-42"
expect_in "masked in the group too" err.txt "token=***"

run_wf run gh.yaml -i token=very-secret-42 -q
expect_in "-q keeps the group of a failed task" err.txt "::group::items"
expect_not_in "-q drops groups of tasks that succeeded" err.txt "::group::hello"

run_wf run gh.yaml -i token=very-secret-42 --progress none
expect_not_in "--progress none: no groups" err.txt "::group::"

# continue-on-error is a warning, a retry a notice; more than 10 failures, one line for the rest.
cat > kinds.yaml <<'Y'
version: 1
name: kinds
tasks:
  soft:
    continue-on-error: true
    run: "echo soft-err >&2; exit 2"
  flaky:
    retry: {count: 1, delay: 0s}
    run: 'if [ -e tried ]; then exit 0; fi; touch tried; exit 9'
  many:
    with-items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    run: "echo fail << item >> >&2; exit 1"
Y
run_wf run kinds.yaml --no-store --progress plain
expect_rc "failures" 1
expect_in "an ignored failure is a warning" err.txt \
    "::warning file=kinds.yaml,line=4,col=3,title=wfengine%3A soft failed (ignored%3A continue-on-error)::exit code 2%0Asoft-err"
expect_not_in "not an error" err.txt "::error file=kinds.yaml,line=4"
expect_in "a retry is a notice" err.txt \
    "::notice file=kinds.yaml,line=7,col=3,title=wfengine%3A flaky retried::attempt 1 of 2 failed: exit code 9; retrying in 0ms"
n=$(grep -c '^::error' err.txt || true)
[ "$n" = 10 ] && pass "at most 10 error annotations" || fail "at most 10 error annotations (got $n)"
expect_in "then one line for the rest" err.txt "wfengine: 4 more failures not annotated (GitHub shows 10 error annotations per step"

rm -f tried
GITHUB_STEP_SUMMARY=$PWD/kinds.md run_wf run kinds.yaml --no-store --progress plain
expect_in "the summary counts ignored failures apart" kinds.md "; 1 succeeded, 14 failed, 1 failed (ignored); 1 retry."
first=$(grep -m1 '^- \*\*' kinds.md || true)
case "$first" in '- **`many['*) pass "failures of the run come before ignored ones" ;;
    *) fail "failures of the run come before ignored ones: $first" ;; esac
expect_in "ignored ones are listed too" kinds.md '- **`soft`** (ignored: continue\-on\-error): exit code 2'
expect_in "the run is not recorded: said so" kinds.md "The run was not recorded"
cat > lots.yaml <<'Y'
version: 1
tasks:
  lots:
    with-items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24]
    run: "exit 1"
Y
GITHUB_STEP_SUMMARY=$PWD/lots.md run_wf run lots.yaml --no-store --progress plain
n=$(grep -c '^- \*\*`lots\[' lots.md || true)
[ "$n" = 20 ] && pass "the summary details 20 failures" || fail "the summary details 20 failures (got $n)"
expect_in "and counts the rest" lots.md "- and 5 more failures"

# Control bytes and huge stderr: shown as text in ::error, and only the tail.
cat > hostile.yaml <<'Y'
version: 1
tasks:
  evil:
    run: |
      echo FIRST-LINE >&2
      head -c 200000 /dev/zero | tr '\0' 'y' >&2
      printf '\n\033]0;pwned\007 \001 cr\rover \033[2J\n' >&2
      exit 3
Y
run_wf run hostile.yaml --no-store --progress plain
grep '^::error' err.txt > error.txt || true
expect_in "ESC shown as text" error.txt '\x1b]0;pwned\x07 \x01 cr\x0dover \x1b[2J'
if LC_ALL=C grep -q $'[\001-\010\013-\037\177]' error.txt; then
    fail "no control byte in the ::error line" "$(od -c error.txt | head -5)"
else pass "no control byte in the ::error line"; fi
expect_not_in "huge stderr: the annotation has the tail only" error.txt FIRST-LINE
size=$(wc -c < error.txt)
[ "$size" -lt 10000 ] && pass "the annotation is capped ($size bytes)" || fail "the annotation is capped ($size bytes)"

# Groups keep the tail of a task's output, failed units first: 20 items of 64 KiB are more
# than the 1 MiB a group keeps, and the failure (item 3) comes first.
cat > big.yaml <<'Y'
version: 1
tasks:
  big:
    with-items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]
    concurrency: 1
    run: |
      head -c 70000 /dev/zero | tr '\0' 'z'
      echo
      echo "end-of-item-<< item >>"
      [ << item >> != 3 ] || { echo "item 3 failed" >&2; exit 1; }
Y
run_wf run big.yaml --no-store --progress plain
expect_rc "a big task with a failure" 1
sed -n '/^::group::big/,/^::endgroup::/p' err.txt > group.txt
expect_in "the failed unit's output is kept" group.txt "end-of-item-3"
expect_in "the last unit's output is kept" group.txt "end-of-item-19"
expect_not_in "the first units' output is not" group.txt "end-of-item-0"
expect_in "the group says what it left out" group.txt "the output of 5 earlier units is not shown here"
first=$(grep -m1 '^--- big\[' group.txt || true)
[ "$first" = "--- big[3] stdout (last 64 KiB of 70015 bytes) ---" ] && pass "failed units first" ||
    fail "failed units first: '$first'"
order=$(grep -o '^end-of-item-[0-9]*' group.txt | tr '\n' ' ')
[ "$order" = "end-of-item-3 end-of-item-6 end-of-item-7 end-of-item-8 end-of-item-9 end-of-item-10 end-of-item-11 end-of-item-12 end-of-item-13 end-of-item-14 end-of-item-15 end-of-item-16 end-of-item-17 end-of-item-18 end-of-item-19 " ] &&
    pass "then the others in index order" || fail "then the others in index order: $order"

# The step summary: appended to $GITHUB_STEP_SUMMARY, with status, counts, failures and
# their stderr, tasks and durations, and where the full report is.
echo "# earlier step content" > summary.md
GITHUB_STEP_SUMMARY=$PWD/summary.md run_wf run gh.yaml -i token=very-secret-42 --store st
expect_rc "a failing run with a summary" 1
run_id=$(sed -n 's/^wfengine: recorded as run \([^ ]*\) .*/\1/p' err.txt)
expect_in "the summary is appended" summary.md "# earlier step content"
expect_in "it has the status" summary.md "### wfengine: gh failed"
expect_in "the counts" summary.md "3 succeeded, 1 failed."
expect_in "each failure with its error" summary.md '- **`items[1]`** \(b\): exit code 5'
expect_in "and its stderr" summary.md "boom: ***"
expect_in "the tasks with their durations" summary.md '| `hello` | succeeded | 1 | '
expect_in "where the full report is" summary.md "wfengine report $run_id -o report.html --store st"
expect_not_in "the secret is masked" summary.md "very-secret-42"

# A step summary that cannot be written is a warning, not a failed run.
cat > ok.yaml <<'Y'
version: 1
tasks:
  fine:
    run: "true"
Y
GITHUB_STEP_SUMMARY=/nonexistent-dir/summary.md run_wf run ok.yaml --no-store
expect_rc "an unwritable summary does not fail the run" 0
expect_in "it is a warning" err.txt "wfengine: warning: cannot write the step summary to /nonexistent-dir/summary.md"

# file= is relative to the repository ($GITHUB_WORKSPACE), wherever wfengine runs from.
mkdir -p repo/ci
cp gh.yaml repo/ci/gh.yaml
(cd repo/ci && GITHUB_WORKSPACE="$T/repo" "$WFENGINE" run gh.yaml -i token=x --no-store) 2>err.txt || true
expect_in "the path from the repository's root" err.txt "::error file=ci/gh.yaml,line=7,col=3,"

unset GITHUB_ACTIONS
run_wf run gh.yaml -i token=very-secret-42
expect_not_in "no workflow commands outside GitHub Actions" err.txt "::group::"
expect_not_in "no annotations outside GitHub Actions" err.txt "::error"
done_testing
