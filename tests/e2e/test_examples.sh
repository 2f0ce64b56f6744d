#!/usr/bin/env bash
# Every example workflow in workflows/ runs, and its results are what the example promises.
# ctest-cost: 14 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"
W=$WF_SOURCE_DIR/workflows

run_wf run "$W/hello.yaml" --json
expect_rc "hello runs" 0
expect_json "hello greeting" 'd["outputs"]["greeting"]' '"Hello, world!"'
expect_json "hello shout result" 'd["tasks"]["shout"]["result"]' '"HELLO, WORLD!"'
expect_in "core.echo logs its message" err.txt "HELLO, WORLD!"

run_wf run "$W/hello.yaml" -i who=Ada --json
expect_json "hello with -i" 'd["outputs"]["greeting"]' '"Hello, Ada!"'

run_wf run "$W/health-check.yaml" --json
expect_rc "health-check runs" 0
expect_json "health-check: disabled server skipped, results in item order" \
    'd["outputs"]["statuses"]' '["succeeded", "succeeded", "skipped", "succeeded"]'
expect_json "health-check: healthy servers" 'd["outputs"]["healthy"]' '["web-1", "web-2", "cache-1"]'
expect_json "health-check: null for the skipped item" 'd["tasks"]["check_health"]["result"][2]' 'null'
expect_json "health-check: vars" 'd["outputs"]["api"]' '"https://eu-west-1.example.test"'
expect_in "health-check report" err.txt "3 of 4 servers healthy in eu-west-1"

run_wf run "$W/health-check.yaml" -i region=mars
expect_rc "an input outside its enum is refused" 2
expect_in "the enum error names the input" err.txt "region"

run_wf run "$W/matrix-build.yaml" --json
expect_rc "matrix-build runs" 0
expect_json "matrix: product minus exclude plus include, in order" \
    '[i["os"] + "/" + i["artifact"] for i in d["tasks"]["build"]["result"]]' \
    '["linux/app-linux-amd64.tar.gz", "linux/app-linux-arm64.tar.gz", "darwin/app-darwin-arm64.tar.gz", "freebsd/app-freebsd-amd64.tar.gz"]'

run_wf run "$W/fanout-json.yaml" --json
expect_rc "fanout-json runs" 0
expect_json "fan-out results in item order" 'd["outputs"]["squares"]' '[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]'
expect_json "batches" 'd["outputs"]["batch_sums"]' '[14, 126, 145]'
expect_json "total" 'd["outputs"]["total"]' '285'

run_wf run "$W/fanout-json.yaml" -i count=3 --json
expect_json "integer input from -i" 'd["outputs"]["squares"]' '[0, 1, 4]'

run_wf run "$W/failure-handling.yaml" --json
expect_rc "failure-handling fails on purpose" 1
expect_json "retry recovered" 'd["tasks"]["flaky"]["status"], d["tasks"]["flaky"]["attempts"]' '["succeeded", 2]'
expect_json "continue-on-error" 'd["tasks"]["optional"]["status"], d["tasks"]["optional"]["exit_code"]' '["failed", 3]'
expect_json "failed item is null, others kept" 'd["tasks"]["items"]["result"]' '["", "", null, ""]'
expect_json "dependent of a failed task is skipped" 'd["tasks"]["after_items"]["status"]' '"skipped"'
expect_json "always() cleanup runs" 'd["tasks"]["cleanup"]["status"]' '"succeeded"'
expect_json "output of a skipped task is null" 'd["outputs"]["after"]' 'null'
expect_in "cleanup saw the statuses" err.txt "cleanup: items failed, flaky succeeded, optional exit 3"
expect_in "failed item named NAME[INDEX]" err.txt "items[2]"

run_wf validate "$W"/*.yaml
expect_rc "every example validates" 0
done_testing
