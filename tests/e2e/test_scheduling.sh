#!/usr/bin/env bash
# Scheduling rules seen from outside: concurrency limits are never exceeded, fail-fast stops
# new work, the results keep item order whatever the finishing order, and large fan-outs
# complete (nothing quadratic).
# ctest-cost: 30 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

cat > limits.yaml <<'Y'
version: 1
concurrency: 4
tasks:
  limited:
    with-items: << range(12) >>
    concurrency: 2
    run: mkdir lock-$WF_INDEX; n=$(ls -d lock-* | wc -l); echo $n >> seen.txt; sleep 0.05; rmdir lock-$WF_INDEX
Y
run_wf run limits.yaml
expect_rc "per-task limit workflow" 0
max=$(sort -n seen.txt | tail -n 1)
if [ "$max" -le 2 ]; then pass "per-task concurrency 2 never exceeded (max $max)"; else fail "per-task limit exceeded: $max"; fi

cat > order.yaml <<'Y'
version: 1
tasks:
  slow_first:
    with-items: [5, 4, 3, 2, 1, 0]
    output: json
    run: sleep 0.0<< item >>; echo << item >>
Y
run_wf run order.yaml -j 6 --json
expect_json "results in item order, not finishing order" 'd["tasks"]["slow_first"]["result"]' '[5, 4, 3, 2, 1, 0]'

cat > failfast.yaml <<'Y'
version: 1
tasks:
  items:
    with-items: << range(20) >>
    fail-fast: true
    concurrency: 1
    run: echo << item >> >> ran.txt; test << item >> -ne 2
  other:
    run: sleep 0.2; echo other
Y
run_wf run failfast.yaml --json
expect_rc "task fail-fast run fails" 1
if [ "$(wc -l < ran.txt)" -eq 3 ]; then pass "task fail-fast: no new items after the failure"; else fail "task fail-fast ran $(wc -l < ran.txt) items"; fi
expect_json "other tasks still run without workflow fail-fast" 'd["tasks"]["other"]["status"]' '"succeeded"'
rm -f ran.txt
# A failed item does not start a retry after its task's fail-fast tripped (nothing new of the
# task starts); the run used to hang here, its retry timer firing into a task that could not
# start it. Item 0 ends 0.5 s after item 1 has failed (its file), not 0.5 s after both
# started, which a slow start of item 1 could overrun.
cat > ffretry.yaml <<'Y'
version: 1
tasks:
  t:
    with-items: [0, 1]
    fail-fast: true
    retry: {count: 1, delay: 200ms}
    run: if [ << item >> -eq 0 ]; then i=0; until [ -e one.failed ] || [ $i -ge 1000 ]; do sleep 0.05; i=$((i+1)); done; sleep 0.5; else touch one.failed; fi; exit 1
Y
set +e
timeout 90 "$WFENGINE" run ffretry.yaml -j 2 --json >out.txt 2>err.txt
rc=$?
set -e
expect_rc "task fail-fast with retries ends" 1
expect_json "the item running at the trip fails without a retry" 'd["tasks"]["t"]["items"][0]["attempts"]' '1'
cat > wff.yaml <<'Y'
version: 1
fail-fast: true
tasks:
  bad:
    run: exit 1
  slow:
    run: sleep 20
  later:
    needs: [slow]
    run: touch later-ran
Y
start=$(date +%s)
run_wf run wff.yaml --json
end=$(date +%s)
expect_rc "workflow fail-fast fails" 1
expect_json "the running task is stopped" 'd["tasks"]["slow"]["status"]' '"cancelled"'
if [ $((end - start)) -lt 10 ]; then pass "fail-fast stops running tasks promptly"; else fail "fail-fast took $((end - start))s"; fi
if [ -e later-ran ]; then fail "fail-fast: a new task started"; else pass "fail-fast: nothing new started"; fi

# The two fan-outs at scale. WF_E2E_SCALE divides their sizes (scripts/test.sh sets it for
# the TSan build, where every unit costs ten times as much; the other builds run them whole).
# 5,000 shell units are more than WF__VALUES_INLINE (4,096), so their results go through the
# values file (engine/unit_values.h); each costs a fork and an exec, so 10,000 of them cost
# 40-60 s of each CI build for nothing that 5,000 do not show.
scale=${WF_E2E_SCALE:-1}
n_noop=$((100000 / scale))
n_shell=$((5000 / scale))
cat > big.yaml <<Y
version: 1
tasks:
  noop:
    with-items: << range($n_noop) >>
    action: core.noop
  count:
    action: core.value
    input: {value: "<< task.noop | length >>"}
Y
run_wf run big.yaml -q --json
expect_rc "$n_noop-item with-items of core.noop" 0
expect_json "all $n_noop results" 'd["tasks"]["count"]["result"]' "$n_noop"

cat > shell.yaml <<Y
version: 1
tasks:
  cmds:
    with-items: << range($n_shell) >>
    output: json
    run: echo << item >> > /dev/null; echo << item >>
Y
run_wf run shell.yaml -q -j 2 --json
expect_rc "$n_shell shell commands" 0
expect_json "$n_shell results in order" "d[\"tasks\"][\"cmds\"][\"result\"] == list(range($n_shell))" 'true'
done_testing
