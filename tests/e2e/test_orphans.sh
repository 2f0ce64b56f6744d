#!/usr/bin/env bash
# Nothing a unit starts outlives it: a process that left the unit's process group (setsid, a
# daemon's double fork) is killed when the unit ends, is cancelled or times out, while a
# daemon the unit still uses lives as long as the unit; and kill -9 of wfengine takes its
# running units along. Every process is found with ps by a marker of this test alone.
. "$(dirname "$0")/lib.sh"

m="1000.$$"
# survivor_pids MARK: the live (non-zombie) `sleep MARK` processes.
survivor_pids() {
    ps -eo pid=,stat=,args= | awk -v m="$1" '$2 !~ /^Z/ && $3 == "sleep" && $4 == m { print $1 }'
}
survivors() { survivor_pids "$1" | wc -l; }
# expect_no_survivor DESC MARK: none, waiting up to 10 s (a SIGKILL takes effect
# asynchronously, and a loaded machine is slow to run it; a correct engine has them all dead
# by the time it exits, a wrong one never). Survivors are killed, by pid, so that they do not
# outlive the test.
expect_no_survivor() {
    local n mark=$2
    wait_for 10 eval '[ "$(survivors "$mark")" -eq 0 ]' || true
    n=$(survivors "$mark")
    if [ "$n" -eq 0 ]; then pass "$1"; else
        fail "$1: $n left" "$(ps -eo pid,ppid,pgid,sid,stat,args | grep -F "sleep $2" | grep -v grep)"
        survivor_pids "$2" | xargs -r kill -KILL 2>/dev/null || true
    fi
}

# 1. A unit that setsid's a process and ends: the process dies with the unit, before the
#    next task runs, and the run does not wait for the escapee that holds stdout.
cat > setsid.yaml <<Y
version: 1
tasks:
  start:
    run: setsid sh -c 'echo \$\$ > esc.pid; exec sleep ${m}1' & while [ ! -s esc.pid ]; do sleep 0.01; done; echo started
  next:
    needs: [start]
    run: if kill -0 \$(cat esc.pid) 2>/dev/null; then echo alive; else echo gone; fi
Y
run_wf run setsid.yaml --json
expect_rc "a unit that setsid's a process succeeds" 0
expect_json "its process is gone when the unit has ended" 'd["tasks"]["next"]["result"]' '"gone"'
expect_no_survivor "no setsid'd process outlives wfengine" "${m}1"

# 2. A daemon (double fork, own session) lives as long as the unit that started it, even
#    while other units end, and dies with it.
cat > daemon.yaml <<Y
version: 1
concurrency: 3
tasks:
  user:
    run: (setsid sh -c 'echo \$\$ > d.pid; exec sleep ${m}2' &); while [ ! -e other-done ]; do sleep 0.01; done; kill -0 \$(cat d.pid) && echo daemon-alive
  other:
    run: setsid sh -c 'echo \$\$ > o.pid; exec sleep ${m}3' & while [ ! -s o.pid ]; do sleep 0.01; done
  after_other:
    needs: [other]
    run: touch other-done
Y
run_wf run daemon.yaml --json
expect_rc "a unit with a daemon succeeds" 0
expect_json "the daemon lived while its unit ran, beside another unit's end" \
    'd["tasks"]["user"]["result"]' '"daemon-alive"'
expect_no_survivor "the daemon died with its unit" "${m}2"
expect_no_survivor "the other unit's escapee died with it" "${m}3"

# 3. Timed out: the unit's escapee dies too (the unit's own process got SIGTERM). The timeout
#    counts from the start: when it came before the escapee had written its pid (a loaded
#    machine), the run proves nothing and runs again with a longer one.
for t in 1s 5s 20s; do
    cat > timeout.yaml <<Y
version: 1
tasks:
  slow:
    timeout: $t
    run: setsid sh -c 'echo \$\$ > t.tmp; mv t.tmp t.pid; exec sleep ${m}4' & while [ ! -s t.pid ]; do sleep 0.01; done; echo > started; sleep ${m}5
Y
    rm -f t.pid started
    run_wf run timeout.yaml
    [ -e started ] && break
done
expect_rc "a unit that times out fails" 1
if [ -e started ]; then pass "the escapee had started before the timeout"; else
    fail "the escapee never started before the timeout ($t)"; fi
expect_no_survivor "a timed-out unit's escapee is gone" "${m}4"
expect_no_survivor "a timed-out unit's own process is gone" "${m}5"

# 4. Cancelled (SIGTERM to wfengine): the same.
cat > cancel.yaml <<Y
version: 1
concurrency: 2
tasks:
  s:
    with-items: [a, b]
    run: setsid sh -c 'echo \$\$ > c.<< item >>.pid; exec sleep ${m}6' & sleep ${m}7
Y
set +e
"$WFENGINE" run cancel.yaml >out.txt 2>err.txt &
pid=$!
wait_for 60 eval '[ -s c.a.pid ] && [ -s c.b.pid ] && [ "$(survivors "${m}7")" -eq 2 ]' ||
    fail "the two units never ran side by side"
kill -TERM "$pid"
wait "$pid"
rc=$?
set -e
expect_rc "SIGTERM stops the run" 130
expect_no_survivor "no escapee of a cancelled unit is left" "${m}6"
expect_no_survivor "no process of a cancelled unit is left" "${m}7"

# 5. kill -9 of wfengine: the units it had started (here `sleep`, exec'd without a shell)
#    are killed by the kernel (PR_SET_PDEATHSIG), so that --resume does not run them a second
#    time beside survivors.
cat > nine.yaml <<Y
version: 1
concurrency: 2
tasks:
  s:
    with-items: [8, 9]
    run: sleep ${m}<< item >>
Y
set +e
"$WFENGINE" run nine.yaml >out.txt 2>err.txt &
pid=$!
wait_for 60 eval '[ "$(survivors "${m}8")" -eq 1 ] && [ "$(survivors "${m}9")" -eq 1 ]' || true
started=$(( $(survivors "${m}8") + $(survivors "${m}9") ))
kill -KILL "$pid"
wait "$pid"
set -e
if [ "$started" -eq 2 ]; then pass "both units were running"; else fail "$started of 2 units running"; fi
expect_no_survivor "kill -9: the first unit died with wfengine" "${m}8"
expect_no_survivor "kill -9: the second unit died with wfengine" "${m}9"
done_testing
