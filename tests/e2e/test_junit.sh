#!/usr/bin/env bash
# --junit FILE: well-formed XML (xmllint), valid against data/junit.xsd, one testcase per task
# or item, failures with the error and the tail of stderr, skipped and cancelled as skipped.
. "$(dirname "$0")/lib.sh"
XSD=$WF_SOURCE_DIR/tests/e2e/data/junit.xsd

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
        for i in $(seq 1 80); do echo "line $i" >&2; done
        echo 'tail: <b>&"quoted"</b> << inputs.token >>' >&2
        printf 'bad bytes: \001\377\n' >&2
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
if xmllint --noout report.xml 2>xml.err; then pass "report is well-formed"; else
    fail "report is well-formed" "$(cat xml.err)"; fi
if xmllint --noout --schema "$XSD" report.xml 2>xml.err; then pass "report fits the JUnit schema"; else
    fail "report fits the JUnit schema" "$(cat xml.err)"; fi
expect_xpath "one testcase per task or item" 'count(//testcase)' 6
expect_xpath "totals: tests" 'string(/testsuites/testsuite/@tests)' 6
expect_xpath "totals: failures" 'string(/testsuites/testsuite/@failures)' 1
expect_xpath "totals: skipped" 'string(/testsuites/testsuite/@skipped)' 2
expect_xpath "suite named after the workflow" 'string(/testsuites/testsuite/@name)' ci
expect_xpath "items named NAME[INDEX], in file order" \
    'concat(//testcase[1]/@name, " ", //testcase[2]/@name, " ", //testcase[3]/@name, " ", //testcase[4]/@name)' \
    'build test[0] test[1] test[2]'
expect_xpath "classname is WORKFLOW.TASK" 'string(//testcase[@name="test[1]"]/@classname)' ci.test
expect_xpath "failure message" 'string(//testcase[@name="test[1]"]/failure/@message)' 'exit code 4'
f=$(xpath 'string(//testcase[@name="test[1]"]/failure)')
printf '%s\n' "$f" > failure.txt
expect_in "failure text has the tail of stderr" failure.txt 'line 80'
expect_not_in "only the tail" failure.txt 'line 20'
expect_in "markup in stderr is escaped, not interpreted" failure.txt 'tail: <b>&"quoted"</b>'
expect_not_in "secrets stay masked" failure.txt 's3cr3t-value'
expect_in "masked as ***" failure.txt '***'
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
xmllint --noout --schema "$XSD" report.xml 2>/dev/null && pass "fail-fast report valid" || fail "fail-fast report valid"
expect_xpath "every item is a testcase" 'count(//testcase)' 8
expect_xpath "not started items are skipped" 'count(//testcase/skipped)' 6

# A successful run; the report replaces an older file.
echo stale > report.xml
run_wf run "$WF_SOURCE_DIR/workflows/matrix-build.yaml" --junit report.xml --progress none
expect_rc "matrix-build with --junit" 0
xmllint --noout --schema "$XSD" report.xml 2>/dev/null && pass "matrix report valid" || fail "matrix report valid"
expect_xpath "no failures" 'string(/testsuites/@failures)' 0

run_wf run ci.yaml --junit /nonexistent-dir/report.xml
expect_rc "an unwritable report path is a usage error before anything runs" 2
expect_in "the path is named" err.txt "/nonexistent-dir"
expect_not_in "nothing ran" err.txt "run 2"
run_wf run ci.yaml --junit
expect_rc "--junit needs a value" 2
done_testing
