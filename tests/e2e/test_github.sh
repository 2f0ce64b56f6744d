#!/usr/bin/env bash
# GITHUB_ACTIONS=true: each task's output folded in ::group::/::endgroup:: (workflow commands
# stopped inside), an ::error annotation per failure, secrets masked everywhere.
. "$(dirname "$0")/lib.sh"

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
expect_in "an annotation per failure" err.txt "::error title=wfengine%3A items[1] failed::exit code 5%0Aboom: ***"
n=$(grep -c '^::error' err.txt || true)
[ "$n" = 1 ] && pass "exactly one annotation" || fail "exactly one annotation (got $n)"
expect_not_in "the secret never appears" err.txt "very-secret-42"
expect_in "masked in the group too" err.txt "token=***"

run_wf run gh.yaml -i token=very-secret-42 -q
expect_in "-q keeps the group of a failed task" err.txt "::group::items"
expect_not_in "-q drops groups of tasks that succeeded" err.txt "::group::hello"

run_wf run gh.yaml -i token=very-secret-42 --progress none
expect_not_in "--progress none: no groups" err.txt "::group::"

unset GITHUB_ACTIONS
run_wf run gh.yaml -i token=very-secret-42
expect_not_in "no workflow commands outside GitHub Actions" err.txt "::group::"
expect_not_in "no annotations outside GitHub Actions" err.txt "::error"
done_testing
