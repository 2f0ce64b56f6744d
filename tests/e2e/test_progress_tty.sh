#!/usr/bin/env bash
# --progress: the live display on a real terminal (tmux), plain lines elsewhere, none; -v
# start lines when units really start; no escape sequence from a unit reaches the terminal.
# ctest-cost: 19 (about its seconds in its slowest CI stage; see CMakeLists.txt)
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
    run: until [ -e lint-go ]; do sleep 0.05; done
  broken:
    needs: [prepare]
    run: "echo broken-stderr >&2; exit 2"
Y

# lint runs until the file lint-go exists: at once here; on the terminal below, until the
# test has seen the live display (so that a loaded machine cannot end the run first).
touch lint-go
# Plain: one line per event, no escape sequences (what CI logs get when stderr is a file).
run_wf run slow.yaml -j 4
expect_rc "plain run" 1
expect_in "plain lines: successes of a fan-out counted" err.txt "ok       build: 1/8 items done ["
expect_in "plain lines: the task's end" err.txt "ok       build (8 items) in "
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

# Escape sequences a unit writes (a title change, a screen clear, an OSC 8 link, a C1 CSI,
# a bare carriage return) are shown as text, never sent to the terminal; UTF-8 stays whole.
cat > hostile.yaml <<'Y'
version: 1
tasks:
  evil:
    run: |
      printf 'out \033]0;pwned\007\033[2J h\303\251llo \342\234\223\n'
      printf 'err \033]0;pwned\007\033[2J \033]8;;http://x.example/\033\\link\033]8;;\033\\ \302\2332J cr\rover h\303\251llo\n' >&2
      exit 3
  wide:
    run: printf 'xy'; for i in $(seq 1 35000); do printf '\303\251'; done; printf z
Y
check_clean() { # DESC FILE: no ESC, BEL, C1 CSI or bare CR in FILE; the sequences shown as text
    if LC_ALL=C grep -q $'\033\\|\007\\|\302\233\\|\r' "$2"; then
        fail "$1: control characters reached the output" "$(od -c "$2" | grep -m3 -e '033' -e '007' -e '\\r')"
    else pass "$1: no control character reached the output"; fi
}
run_wf run hostile.yaml --progress plain --no-store
expect_rc "a unit that prints escape sequences" 1
check_clean "plain" err.txt
expect_in "plain: the title change is shown as text" err.txt 'err \x1b]0;pwned\x07\x1b[2J'
expect_in "plain: the OSC 8 link too" err.txt '\x1b]8;;http://x.example/\x1b\link'
expect_in "plain: C1 CSI and a bare CR too" err.txt '\u009b2J cr\x0dover'
expect_in "plain: UTF-8 is kept" err.txt "héllo"
expect_in "plain: the stdout tail is shown as text too" err.txt '| out \x1b]0;pwned\x07\x1b[2J héllo'
run_wf run hostile.yaml -v --progress plain --no-store
check_clean "-v (whole stderr)" err.txt
run_wf run hostile.yaml --progress tty --no-store
# The live display writes its own cursor moves; nothing else may reach the terminal.
if LC_ALL=C grep -q $'\033]\\|\033\\[2J\\|\007\\|\302\233' err.txt; then
    fail "tty: the unit's sequences reached the terminal" "$(od -c err.txt | head -20)"
else pass "tty: the unit's sequences did not reach the terminal"; fi
expect_in "tty: shown as text" err.txt 'err \x1b]0;pwned'
GITHUB_ACTIONS=true run_wf run hostile.yaml --progress plain --no-store
check_clean "GitHub groups and annotations" err.txt
expect_in "GitHub: the group has stdout as text" err.txt 'out \x1b]0;pwned\x07\x1b[2J héllo ✓'
expect_in "GitHub: the annotation has stderr as text" err.txt 'title=wfengine%3A evil failed::exit code 3%0Aerr \x1b]0;pwned'
if python3 -c 'import sys; open(sys.argv[1], encoding="utf-8", errors="strict").read()' err.txt; then
    pass "GitHub: a 64 KiB tail of UTF-8 output is not cut inside a character"
else fail "GitHub: a 64 KiB tail of UTF-8 output is not cut inside a character"; fi

if ! command -v tmux >/dev/null; then
    fail "tmux is needed for the terminal test (scripts/install-deps.sh installs it)"
    done_testing
    exit 1
fi
sock="wf-e2e-$$"
session=progress
tmx() { tmux -L "$sock" "$@"; }
trap 'tmux -L "$sock" kill-server 2>/dev/null; rm -rf "$T"' EXIT
# screen_has SESSION TEXT...: the session's screen, kept in $screen, holds every TEXT.
screen_has() {
    local session=$1 text
    shift
    screen=$(tmx capture-pane -p -t "$session")
    for text in "$@"; do grep -qF -- "$text" <<<"$screen" || return 1; done
}
rm lint-go
tmx new-session -d -s "$session" -x 120 -y 30 \
    "cd '$T' && '$WFENGINE' run slow.yaml -j 4 --no-store; echo EXIT=\$? > exit.txt; sleep 60"

# Mid-run: the live display is at the bottom, counting units, with running tasks and times.
# (broken fails as build starts; lint keeps the display up until lint-go.)
wait_for 60 screen_has "$session" "units]" "build" "1 failed" "| broken-stderr" || true
printf '%s\n' "$screen" > mid.txt
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

touch lint-go
wait_for 60 test -s exit.txt || true
tmx capture-pane -p -t "$session" > final.txt
expect_in "the run ended with status 1" exit.txt "EXIT=1"
expect_in "the summary line" final.txt "failed in "
expect_in "task lines stay" final.txt "ok       build (8 items)"
if grep -q "units\] \|running, " final.txt; then fail "final screen is clean (no display left)" "$(cat final.txt)"; else
    pass "final screen is clean (no display left)"; fi
# Nothing garbled: every non-empty line is an event line, an output line, the recap, or our own.
bad=$(grep -v -e '^\[ *[0-9.]*s\] ' -e '^      | ' -e '^      --- std' -e '^[0-9]* failed' -e '^  [a-z]' \
    -e '^EXIT=' -e '^$' final.txt || true)
if [ -z "$bad" ]; then pass "no garbled lines"; else fail "no garbled lines" "$bad"; fi

# Queued is not running: with -j 1, one unit runs and the others wait for the worker.
cat > queue.yaml <<'Y'
version: 1
tasks:
  wait:
    with-items: [1, 2, 3, 4]
    run: sleep 5
Y
tmx new-session -d -s queue -x 120 -y 30 "cd '$T' && '$WFENGINE' run queue.yaml -j 1 --no-store; sleep 60"
wait_for 30 screen_has queue "units] 1 running, 3 queued, " "0/4 items, 1 running, 3 queued" || true
printf '%s\n' "$screen" > queue.txt
expect_in "live headline: 1 running, 3 queued" queue.txt "units] 1 running, 3 queued, "
expect_in "the task line: 1 running, 3 queued" queue.txt "0/4 items, 1 running, 3 queued"
tmx kill-session -t queue

# Honest numbers: with item lists known from the start, the total is the same from the first
# frame to the last line; "running" counts what runs (never more than -j), not what is queued.
# WF_E2E_SCALE divides the fan-outs (the TSan build sets it), down to a size that still
# keeps three workers busy.
S=${WF_E2E_SCALE:-1}
N=$((30 / S))
[ "$N" -ge 12 ] || N=12
cat > frames.yaml <<Y
version: 1
tasks:
  prepare:
    run: sleep 0.2
  list:
    needs: [prepare]
    with-items: [$(seq -s, 1 "$N")]
    run: sleep 0.2
  gate:
    when: << false >>
    run: "true"
  after:
    needs: [list]
    run: "true"
Y
rm -f exit.txt frames.txt
tmx new-session -d -s frames -x 120 -y 30 \
    "cd '$T' && '$WFENGINE' run frames.yaml -j 3 --no-store; echo EXIT=\$? > exit.txt; sleep 60"
for _ in $(seq 1 1200); do
    tmx capture-pane -p -t frames | grep "units\] " >> frames.txt || true
    [ -s exit.txt ] && break
    sleep 0.05
done
tmx capture-pane -p -t frames -S - > frames-final.txt
tmx kill-session -t frames
total=$((N + 3))
n=$(wc -l < frames.txt)
totals=$(sed 's/^\[[0-9]*\/\([0-9]*\) units\].*/\1/' frames.txt | sort -u | tr '\n' ' ')
most=$(sed 's/^\[[0-9/]* units\] \([0-9]*\) running.*/\1/' frames.txt | sort -n | tail -1)
if [ "$n" -ge 3 ] && [ "$totals" = "$total " ]; then pass "the total is $total in all $n frames"; else
    fail "the total in $n frames: $totals, want $total" "$(head -5 frames.txt)"; fi
if [ -n "$most" ] && [ "$most" -le 3 ] && grep -q " 3 running" frames.txt; then
    pass "running: at most 3 at -j 3 (and 3 at times)"
else fail "running: at most $most at -j 3" "$(sort -u frames.txt | head -20)"; fi
expect_in "the last line counts the same units" frames-final.txt "succeeded in "
expect_in "the last line counts the same units ($total)" frames-final.txt "($total units)"

# Ctrl-C: the message comes above the display, the display goes away (no stale headline), and
# the items that never started are one line, not one each.
N=$((60 / S))
[ "$N" -ge 20 ] || N=20
cat > stop.yaml <<Y
version: 1
tasks:
  work:
    with-items: [$(seq -s, 1 "$N")]
    run: sleep 0.3
  after:
    needs: [work]
    run: "true"
Y
rm -f exit.txt
tmx new-session -d -s stop -x 120 -y 30 \
    "cd '$T' && '$WFENGINE' run stop.yaml -j 2 --no-store; echo EXIT=\$? > exit.txt; sleep 60"
wait_for 60 eval 'tmx capture-pane -p -t stop | grep -q "^\[[2-9]/"' || true
tmx send-keys -t stop C-c
wait_for 60 test -s exit.txt || true
tmx capture-pane -p -t stop -S - > stop.txt
tmx kill-session -t stop
expect_in "Ctrl-C: exit status 130" exit.txt "EXIT=130"
expect_in "Ctrl-C: the signal's message" stop.txt "wfengine: interrupted: stopping (ending running tasks)"
n=$(grep -c "units\] \|running, " stop.txt || true)
[ "$n" = 0 ] && pass "Ctrl-C: no headline left behind" || fail "Ctrl-C: $n display lines left" "$(cat stop.txt)"
msg=$(grep -n "interrupted: stopping" stop.txt | cut -d: -f1)
folded=$(grep -n "cancelled work: [0-9]* items not started: the run was stopped" stop.txt | cut -d: -f1)
if [ -n "$msg" ] && [ -n "$folded" ] && [ "$msg" -lt "$folded" ]; then
    pass "Ctrl-C: the message, then the items not started in one line"
else fail "Ctrl-C: the message (line $msg), then one not-started line (line $folded)" "$(cat stop.txt)"; fi
unstarted=$(sed -n 's/.*cancelled work: \([0-9]*\) items not started.*/\1/p' stop.txt)
ok=$(sed -n "s/.*cancelled work ($N items: \([0-9]*\) ok, .*/\1/p" stop.txt)
# An item's label (its value, 1..N) follows its index.
running=$(grep -cE "cancelled work\[[0-9]+\]( \([0-9]+\))?: cancelled while running" stop.txt || true)
if [ -n "$unstarted" ] && [ -n "$ok" ] && [ "$running" -le 2 ] &&
    [ $((unstarted + ok + running)) = "$N" ]; then
    pass "Ctrl-C: $ok ok + $running stopped while running + $unstarted not started = $N"
else fail "Ctrl-C: ${ok:-?} ok + $running running + ${unstarted:-?} not started, want $N" "$(cat stop.txt)"; fi
expect_in "Ctrl-C: the task that never started says why" stop.txt \
    "cancelled after: not started: the run was stopped"
done_testing
