#!/usr/bin/env bash
# SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh connection): nothing new starts,
# running children are ended, units and the run are recorded as cancelled (not "running"),
# exit status 130, and no process of the run is left (found with ps by a marker of this
# test alone: the `sleep` each unit's shell runs).
# ctest-cost: 17 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

m="1000.$$"
cat > long.yaml <<Y
version: 1
concurrency: 2
tasks:
  sleepers:
    with-items: [1, 2, 3, 4, 5, 6]
    run: echo \$\$ >> pids.txt; sleep $m
  after:
    needs: [sleepers]
    run: touch after-ran
Y
# sleepers: the live (non-zombie) `sleep $m` processes.
sleepers() { ps -eo pid=,stat=,args= | awk -v m="$m" '$2 !~ /^Z/ && $3 == "sleep" && $4 == m { print $1 }'; }
for sig in INT TERM HUP; do
    rm -f pids.txt after-ran
    set +e
    "$WFENGINE" run long.yaml --json >out.txt 2>err.txt &
    pid=$!
    wait_for 60 eval '[ -s pids.txt ] && [ "$(wc -l < pids.txt)" -ge 2 ]' || fail "SIG$sig: two units never ran"
    kill -"$sig" "$pid"
    wait "$pid"
    rc=$?
    set -e
    expect_rc "SIG$sig stops the run" 130
    expect_json "SIG$sig: status cancelled" 'd["status"]' '"cancelled"'
    expect_json "SIG$sig: items cancelled, none started after" \
        'sorted(set(i["status"] for i in d["tasks"]["sleepers"]["items"]))' '["cancelled"]'
    if [ -e after-ran ]; then fail "SIG$sig: a dependent ran"; else pass "SIG$sig: nothing new started"; fi
    case $sig in INT) said=interrupted ;; TERM) said=terminated ;; HUP) said=hangup ;; esac
    expect_in "SIG$sig: says so" err.txt "wfengine: $said: stopping (ending running tasks)"
    expect_in "SIG$sig: the items not started in one line" err.txt \
        "cancelled sleepers: 4 items not started: the run was stopped"
    expect_in "SIG$sig: the pointer to --resume" err.txt "wfengine run long.yaml --resume last"
    started=$(wc -l < pids.txt)
    if [ "$started" -eq 2 ]; then pass "SIG$sig: only the running units had started"; else fail "SIG$sig: $started units started"; fi
    alive=0
    while read -r p; do alive "$p" && alive=$((alive + 1)); done < pids.txt
    if [ "$alive" -eq 0 ]; then pass "SIG$sig: no child left"; else fail "SIG$sig: $alive children left"; fi
    left=$(sleepers)
    if [ -z "$left" ]; then pass "SIG$sig: no sleep left"; else
        fail "SIG$sig: $(echo "$left" | wc -l) sleep processes left"
        echo "$left" | xargs -r kill -KILL 2>/dev/null || true
    fi
    run_wf runs --json --limit 1
    expect_json "SIG$sig: the run is recorded as cancelled" '[r["status"] for r in d]' '["cancelled"]'
    expect_json "SIG$sig: no task is recorded as running" 'd[0]["tasks"]["running"]' '0'
done

cat > sleepaction.yaml <<'Y'
version: 1
tasks:
  nap:
    action: core.sleep
    input: {seconds: 30}
Y
set +e
"$WFENGINE" run sleepaction.yaml >out.txt 2>err.txt &
pid=$!
# Once the run has started, the stop signals are blocked and waited for (before that, a
# background job's SIGINT is ignored, as bash sets it, and would be lost).
wait_for 60 grep -q '] run ' err.txt || fail "core.sleep never started"
kill -INT "$pid"
wait "$pid"
rc=$?
set -e
expect_rc "SIGINT ends an in-process core.sleep" 130

# SIGUSR1 is how the run's end reaches the thread that waits for the stop signals: one from
# outside changes nothing, and a SIGINT after it still stops the run.
set +e
"$WFENGINE" run sleepaction.yaml >out.txt 2>err.txt &
pid=$!
wait_for 30 grep -q '] run ' err.txt
kill -USR1 "$pid"
sleep 0.2
alive "$pid" && pass "SIGUSR1 from outside: the run goes on" || fail "SIGUSR1 from outside ended wfengine"
kill -INT "$pid"
wait "$pid"
rc=$?
set -e
expect_rc "SIGINT after a SIGUSR1 still stops the run" 130
expect_in "SIGINT after a SIGUSR1: says so" err.txt "wfengine: interrupted: stopping"
done_testing
