#!/usr/bin/env bash
# --progress: the live display on a real terminal (tmux), plain lines elsewhere, none; -v
# start lines when units really start.
. "$(dirname "$0")/lib.sh"

cat > slow.yaml <<'Y'
version: 1
tasks:
  prepare:
    run: sleep 0.3
  build:
    needs: [prepare]
    with-items: [1, 2, 3, 4, 5, 6, 7, 8]
    concurrency: 2
    run: sleep 0.5
  lint:
    run: sleep 2
  broken:
    needs: [prepare]
    run: "echo broken-stderr >&2; exit 2"
Y

# Plain: one line per event, no escape sequences (what CI logs get when stderr is a file).
run_wf run slow.yaml -j 4
expect_rc "plain run" 1
expect_in "plain lines" err.txt "ok       build[0]"
if grep -q $'\033' err.txt; then fail "plain output has no escape sequences"; else
    pass "plain output has no escape sequences"; fi
run_wf run slow.yaml -j 4 --progress none --no-store
expect_rc "--progress none keeps the exit status" 1
if [ -s err.txt ]; then fail "--progress none prints nothing" "$(cat err.txt)"; else
    pass "--progress none prints nothing"; fi
run_wf run slow.yaml --progress fancy
expect_rc "unknown --progress mode" 2

# -v prints `start` when a worker really starts a unit, not when it is queued: with -j 2,
# read in the order printed, at most 2 units are started and not ended at any line.
cat > ten.yaml <<'Y'
version: 1
tasks:
  nap:
    with-items: << range(10) >>
    run: sleep 0.3
Y
run_wf run ten.yaml -j 2 -v --progress plain --no-store
expect_rc "-v run of 10 sleeps" 0
most=$(awk '/ start    nap\[/ { n++; if (n > max) max = n } / ok       nap\[/ { n-- }
            END { print max + 0 }' err.txt)
starts=$(grep -c " start    nap\[" err.txt || true)
if [ "$most" = 2 ] && [ "$starts" = 10 ]; then pass "-v: at most 2 started and not ended (-j 2)"; else
    fail "-v: $most units started and not ended at once ($starts starts), want 2 of 10" "$(cat err.txt)"; fi

if ! command -v tmux >/dev/null; then
    fail "tmux is needed for the terminal test (scripts/install-deps.sh installs it)"
    done_testing
    exit 1
fi
sock="wf-e2e-$$"
session=progress
tmx() { tmux -L "$sock" "$@"; }
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$T"' EXIT
tmx new-session -d -s "$session" -x 120 -y 30 \
    "cd '$T' && '$WFENGINE' run slow.yaml -j 4 --no-store; echo EXIT=\$? > exit.txt; sleep 60"

# Mid-run: the live display is at the bottom, counting units, with running tasks and times.
mid=""
for _ in $(seq 1 40); do
    sleep 0.1
    mid=$(tmx capture-pane -p -t "$session")
    grep -q "units\]" <<<"$mid" && grep -q "build" <<<"$mid" && break
done
printf '%s\n' "$mid" > mid.txt
expect_in "live headline with done/total units" mid.txt "units] "
expect_in "failures so far" mid.txt "1 failed"
expect_in "elapsed time" mid.txt " elapsed"
expect_in "a running task with its item count" mid.txt "items, "
expect_in "lint is shown running" mid.txt "  lint"
expect_in "failure printed above the display" mid.txt "FAILED   broken: exit code 2"
expect_in "its stderr too" mid.txt "| broken-stderr"
if grep -q "ok       build\[" mid.txt; then fail "items that succeed are counted, not listed"; else
    pass "items that succeed are counted, not listed"; fi
# Redrawn in place: one headline on the screen, however many redraws happened.
n=$(grep -c "units\] " mid.txt || true)
[ "$n" = 1 ] && pass "one live display on screen" || fail "one live display on screen (got $n)" "$(cat mid.txt)"
sleep 0.5
tmx capture-pane -p -t "$session" > mid2.txt
n=$(grep -c "units\] " mid2.txt || true)
[ "$n" = 1 ] && pass "still one after more redraws" || fail "still one after more redraws (got $n)" "$(cat mid2.txt)"

for _ in $(seq 1 100); do
    [ -s exit.txt ] && break
    sleep 0.1
done
tmx capture-pane -p -t "$session" > final.txt
expect_in "the run ended with status 1" exit.txt "EXIT=1"
expect_in "the summary line" final.txt "failed in "
expect_in "task lines stay" final.txt "ok       build (8 items)"
if grep -q "units\] \|running, " final.txt; then fail "final screen is clean (no display left)" "$(cat final.txt)"; else
    pass "final screen is clean (no display left)"; fi
# Nothing garbled: every non-empty line is an event line, a stderr line, or our own.
bad=$(grep -v -e '^\[ *[0-9.]*s\] ' -e '^      | ' -e '^EXIT=' -e '^$' final.txt || true)
if [ -z "$bad" ]; then pass "no garbled lines"; else fail "no garbled lines" "$bad"; fi
done_testing
