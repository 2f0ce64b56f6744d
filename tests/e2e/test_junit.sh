#!/usr/bin/env bash
# --junit FILE: well-formed XML valid against the Jenkins xunit plugin's schema
# (data/jenkins-junit-10.xsd; every report a test writes is checked), one testcase per task or
# item, failures with the error, the tail of stderr and <system-out>/<system-err>, earlier
# attempts as <rerunFailure>/<flakyFailure>, continue-on-error failures as skipped (not
# failures), skipped and cancelled units with their reason.
. "$(dirname "$0")/lib.sh"
XSD=$WF_SOURCE_DIR/tests/e2e/data/jenkins-junit-10.xsd

# valid DESC: report.xml is well-formed and fits the schema.
valid() {
    if xmllint --noout --schema "$XSD" report.xml 2>xml.err; then pass "$1: report fits the Jenkins schema"; else
        fail "$1: report fits the Jenkins schema" "$(cat xml.err)"; fi
}

# xpath EXPR: the value of an XPath expression on report.xml.
xpath() { xmllint --xpath "$1" report.xml 2>/dev/null; }
expect_xpath() {
    local got
    got=$(xpath "$2") || true
    if [ "$got" = "$3" ]; then pass "$1"; else fail "$1: $2 = '$got', want '$3'"; fi
}

cat > ci.yaml <<'Y'
version: 1
name: ci
inputs:
  token: {type: string, default: s3cr3t-value, secret: true}
tasks:
  build:
    run: echo built
  test:
    needs: [build]
    with-items: [unit, integration, e2e]
    run: |
      if [ << item >> = integration ]; then
        echo "stdout of integration"
        for i in $(seq 1 80); do echo "line $i" >&2; done
        echo 'tail: <b>&"quoted"</b> << inputs.token >>' >&2
        printf 'bad bytes: \001\377 \033[31mred\n' >&2
        exit 4
      fi
      echo ok
  lint:
    when: "false"
    run: echo lint
  deploy:
    needs: [test]
    run: echo deploy
Y
run_wf run ci.yaml --junit report.xml --progress plain
expect_rc "a failing run" 1
valid "a failing run"
expect_xpath "one testcase per task or item" 'count(//testcase)' 6
expect_xpath "totals: tests" 'string(/testsuites/testsuite/@tests)' 6
expect_xpath "totals: failures" 'string(/testsuites/testsuite/@failures)' 1
expect_xpath "totals: skipped" 'string(/testsuites/testsuite/@skipped)' 2
expect_xpath "no skipped count on <testsuites> (the schema has none)" 'count(/testsuites/@skipped)' 0
expect_xpath "suite named after the workflow" 'string(/testsuites/testsuite/@name)' ci
expect_xpath "items named NAME[INDEX] (LABEL), in file order (a short scalar item is its label)" \
    'concat(//testcase[1]/@name, " ", //testcase[2]/@name, " ", //testcase[3]/@name, " ", //testcase[4]/@name)' \
    'build test[0] (unit) test[1] (integration) test[2] (e2e)'
expect_xpath "classname is WORKFLOW.TASK" 'string(//testcase[@name="test[1] (integration)"]/@classname)' ci.test
expect_xpath "failure message" 'string(//testcase[@name="test[1] (integration)"]/failure/@message)' 'exit code 4'
f=$(xpath 'string(//testcase[@name="test[1] (integration)"]/failure)')
printf '%s\n' "$f" > failure.txt
expect_in "failure text has the tail of stderr" failure.txt 'line 80'
expect_not_in "only the tail" failure.txt 'line 20'
expect_in "markup in stderr is escaped, not interpreted" failure.txt 'tail: <b>&"quoted"</b>'
expect_not_in "secrets stay masked" failure.txt 's3cr3t-value'
expect_in "masked as ***" failure.txt '***'
expect_in "control bytes shown as text, as on the terminal" failure.txt 'bad bytes: \x01\xff \x1b[31mred'
expect_xpath "stdout of a failed unit in <system-out>" \
    'string(//testcase[@name="test[1] (integration)"]/system-out)' 'stdout of integration'
expect_xpath "stderr of a failed unit in <system-err>, more of it than the failure's 50 lines" \
    'contains(//testcase[@name="test[1] (integration)"]/system-err, "line 20")' true
expect_xpath "a passing unit has neither" 'count(//testcase[@name="test[0] (unit)"]/*)' 0
expect_xpath "skipped by when" 'string(//testcase[@name="lint"]/skipped/@message)' 'when was false'
expect_xpath "skipped by a failed dependency" 'string(//testcase[@name="deploy"]/skipped/@message)' \
    "dependency 'test' failed"
expect_xpath "time in seconds" 'boolean(number(//testcase[@name="build"]/@time) >= 0)' true
expect_xpath "run id recorded" 'boolean(//property[@name="run_id"]/@value != "")' true

# A run stopped by fail-fast: items that never started are testcases too, skipped.
cat > ff.yaml <<'Y'
version: 1
tasks:
  many:
    with-items: [0, 1, 2, 3, 4, 5, 6, 7]
    concurrency: 1
    run: "[ << item >> != 1 ]"
Y
run_wf run ff.yaml --fail-fast --junit report.xml --progress none
expect_rc "fail-fast run" 1
valid "fail-fast"
expect_xpath "every item is a testcase" 'count(//testcase)' 8
expect_xpath "not started items are skipped" 'count(//testcase/skipped)' 6
expect_xpath "they say what stopped them" \
    'count(//testcase/skipped[@message="not started: fail-fast (many[1] failed)"])' 6

# Retries, continue-on-error, skipped items, huge and hostile output.
cat > attempts.yaml <<'Y'
version: 1
name: attempts
tasks:
  flaky:
    retry: {count: 2, delay: 0s}
    run: 'n=$(cat n.txt 2>/dev/null || echo 0); echo $((n + 1)) > n.txt; [ "$n" -ge 2 ] || { echo "try $n" >&2; exit 7; }'
  broken:
    retry: {count: 2, delay: 0s}
    run: 'echo "broken out"; echo "broken err" >&2; exit 3'
  soft:
    continue-on-error: true
    run: 'echo "soft out"; echo "soft err" >&2; exit 2'
  some:
    with-items: [1, 2, 3]
    when: << item > 1 >>
    run: "true"
  huge:
    run: |
      echo "FIRST-LINE" >&2
      head -c 300000 /dev/zero | tr '\0' 'x' >&2
      printf '\nLAST-LINE\n' >&2
      exit 1
Y
run_wf run attempts.yaml --junit report.xml --progress none --no-store
expect_rc "a run with retries and failures" 1
valid "retries"
expect_xpath "earlier failed attempts of a unit that passed: flakyFailure" \
    'count(//testcase[@name="flaky"]/flakyFailure)' 2
expect_xpath "each with its error and attempt" \
    'concat(//testcase[@name="flaky"]/flakyFailure[1]/@type, " ", normalize-space(//testcase[@name="flaky"]/flakyFailure[1]/text()[1]), "; ", normalize-space(//testcase[@name="flaky"]/flakyFailure[2]/text()[1]))' \
    'exit code 7 attempt 1; attempt 2'
expect_xpath "and that attempt's stderr" \
    'concat(normalize-space(//testcase[@name="flaky"]/flakyFailure[1]/system-err), ";", normalize-space(//testcase[@name="flaky"]/flakyFailure[2]/system-err))' \
    'try 0;try 1'
expect_xpath "a flaky unit is no failure" 'count(//testcase[@name="flaky"]/failure)' 0
expect_xpath "earlier attempts of a unit that failed: rerunFailure" \
    'count(//testcase[@name="broken"]/rerunFailure)' 2
expect_xpath "after its failure" 'string(//testcase[@name="broken"]/failure/@message)' 'exit code 3'
expect_xpath "the failure counts its attempts" \
    'starts-with(//testcase[@name="broken"]/failure, "after 3 attempts")' true
expect_xpath "continue-on-error: skipped, not a failure" \
    'string(//testcase[@name="soft"]/skipped/@message)' 'failed, ignored (continue-on-error): exit code 2'
expect_xpath "typed ignored" 'string(//testcase[@name="soft"]/skipped/@type)' ignored
expect_xpath "with its output" 'concat(//testcase[@name="soft"]/system-out, //testcase[@name="soft"]/system-err)' 'soft out
soft err'
expect_xpath "failures: broken and huge, not soft" 'string(/testsuites/testsuite/@failures)' 2
expect_xpath "the same on <testsuites>" 'string(/testsuites/@failures)' 2
expect_xpath "ignored failures counted in a property" \
    'string(//property[@name="ignored_failures"]/@value)' 1
expect_xpath "a skipped item says why" 'string(//testcase[@name="some[0] (1)"]/skipped/@message)' 'when was false'
expect_xpath "no skip reason is empty" 'count(//skipped[not(@message) or @message=""])' 0
expect_xpath "huge stderr: <system-err> has the tail" \
    'contains(//testcase[@name="huge"]/system-err, "LAST-LINE")' true
expect_xpath "not the head" 'contains(//testcase[@name="huge"]/system-err, "FIRST-LINE")' false
expect_xpath "and says what it left out" \
    'starts-with(//testcase[@name="huge"]/system-err, "[... 2")' true
expect_xpath "capped at 64 KiB" 'string-length(//testcase[@name="huge"]/system-err) < 70000' true
expect_xpath "the failure text is capped too" 'string-length(//testcase[@name="huge"]/failure) < 9000' true

# A run that only has an ignored failure succeeds, and its report has no failure.
cat > soft.yaml <<'Y'
version: 1
tasks:
  soft:
    continue-on-error: true
    run: exit 5
  after:
    needs: [soft]
    run: "true"
Y
run_wf run soft.yaml --junit report.xml --progress none --no-store
expect_rc "only an ignored failure" 0
valid "ignored only"
expect_xpath "no failures" 'string(/testsuites/@failures)' 0

# Stopped by SIGINT: the running unit was cancelled, the rest never started; each says so.
cat > stop.yaml <<'Y'
version: 1
tasks:
  slow:
    with-items: [0, 1, 2]
    concurrency: 1
    run: "sleep 10"
  later:
    needs: [slow]
    run: "true"
Y
"$WFENGINE" run stop.yaml --junit report.xml --progress none --no-store 2>err.txt &
pid=$!
# Once the engine's child runs `sleep 10`, the engine holds that unit as running.
wait_for 60 eval 'pgrep -f "sleep 10" -P "$pid" >/dev/null 2>&1' || fail "slow[0] never started"
kill -INT "$pid"
set +e; wait "$pid"; rc=$?; set -e
expect_rc "stopped by SIGINT" 130
valid "stopped"
expect_xpath "the running unit: cancelled while running" \
    'string(//testcase[@name="slow[0]"]/skipped/@message)' 'cancelled while running: the run was stopped'
# An item that never started has no event, so JUnit does not know its label.
expect_xpath "items that never started" 'string(//testcase[@name="slow[2]"]/skipped/@message)' \
    'not started: the run was stopped'
expect_xpath "a task that never started" 'string(//testcase[@name="later"]/skipped/@message)' \
    'not started: the run was stopped'
expect_xpath "never 'cancelled: cancelled'" 'count(//skipped[contains(@message, "cancelled: cancelled")])' 0

# A successful run; the report replaces an older file.
echo stale > report.xml
run_wf run "$WF_SOURCE_DIR/workflows/matrix-build.yaml" --junit report.xml --progress none
expect_rc "matrix-build with --junit" 0
valid "matrix-build"
expect_xpath "no failures" 'string(/testsuites/@failures)' 0

run_wf run ci.yaml --junit /nonexistent-dir/report.xml
expect_rc "an unwritable report path is a usage error before anything runs" 2
expect_in "the path is named" err.txt "/nonexistent-dir"
expect_not_in "nothing ran" err.txt "run 2"
run_wf run ci.yaml --junit
expect_rc "--junit needs a value" 2
done_testing
