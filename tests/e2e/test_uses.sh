#!/usr/bin/env bash
# Sub-workflows (docs/workflow-format.md, "Sub-workflows"): `uses: FILE` with `with:` runs
# another workflow file as a task, once per item; its result is the called workflow's
# outputs. Its tasks are shown and recorded as CALLER/TASK and CALLER[I]/TASK, a failure
# inside it fails the calling unit and names the task, --resume re-runs only what failed
# inside it, cache: works inside it, Ctrl-C reaches its processes. Bad inputs: a missing
# file, a call cycle across files, unknown and missing `with:` inputs, an error inside the
# called file (at its own file:line:col), a value of the wrong type known only at run time.
. "$(dirname "$0")/lib.sh"

mkdir -p lib
cat > lib/sum.yaml <<'Y'
version: 1
inputs:
  n: {type: integer, description: how far to count}
  tag: {type: string, default: x}
tasks:
  double:
    run: echo $(( << inputs.n >> * 2 ))
    output: json
  plus_one:
    run: echo $(( << task.double >> + 1 ))
    output: json
outputs:
  total: << task.plus_one >>
  tag: << inputs.tag >>
Y
cat > main.yaml <<'Y'
version: 1
tasks:
  prep:
    run: echo 5
    output: json
  child:
    uses: lib/sum.yaml
    with:
      n: << task.prep >>
      tag: one
  each:
    uses: lib/sum.yaml
    with-items: [1, 2, 3]
    with:
      n: << item >>
  report:
    run: echo "<< task.child.total >> << task.child.tag >> << task.each | map('total') | join(',') >>"
outputs:
  report: << task.report >>
Y

# ---- results, names in progress lines, show and logs -------------------------------------
run_wf run main.yaml --json --progress plain
expect_rc "a workflow with uses: runs" 0
expect_json "the task's result is the called workflow's outputs" 'd["tasks"]["child"]["result"]' '{"tag": "one", "total": 11}'
expect_json "a with-items uses: task has one outputs object per item" 'd["tasks"]["each"]["result"]' '[{"tag": "x", "total": 3}, {"tag": "x", "total": 5}, {"tag": "x", "total": 7}]'
expect_json "task.child.total reads it" 'd["outputs"]["report"]' '"11 one 3,5,7"'
expect_in "progress names a called task caller/task" err.txt "ok       child/plus_one"
expect_in "progress names an item's called task caller[i]/task" err.txt "ok       each[2]/double"
run_wf show last
expect_in "show lists the called tasks under the caller's name" out.txt "child/double"
expect_in "show lists an item's called tasks" out.txt "each[1]/plus_one"
order=$(grep -nE '^  (child|child/double) ' out.txt | cut -d: -f1 | tr '\n' ' ')
first=${order%% *}
if [ "$(sed -n "${first}p" out.txt | awk '{print $1}')" = child ]; then
    pass "show lists the caller before its called tasks"
else
    fail "show lists the caller before its called tasks" "$(cat out.txt)"
fi
run_wf logs last 'each[1]/plus_one'
expect_rc "logs takes CALLER[I]/TASK" 0
expect_in "logs prints that unit's stdout" out.txt "5"
run_wf logs last child/double
expect_in "logs takes CALLER/TASK" out.txt "10"
run_wf run main.yaml --junit junit.xml
expect_in "JUnit names an item's called task" junit.xml 'name="each[1]/plus_one"'
run_wf run main.yaml --dry-run
expect_in "--dry-run names the called file and its tasks" out.txt "uses: lib/sum.yaml (workflow sum: double plus_one)"

# ---- a called workflow that calls another, per item: names get a part per level -----------
cat > lib/mid.yaml <<'Y'
version: 1
inputs:
  k: {type: integer}
tasks:
  inner:
    uses: sum.yaml
    with-items: << range(inputs.k) >>
    with:
      n: << item >>
outputs:
  totals: << task.inner | map("total") >>
Y
printf 'version: 1\ntasks:\n  outer:\n    uses: lib/mid.yaml\n    with: {k: 2}\n' > nested.yaml
run_wf run nested.yaml --json --progress plain
expect_rc "a two-level call runs" 0
expect_json "outputs come back through both levels" 'd["tasks"]["outer"]["result"]' '{"totals": [1, 3]}'
expect_in "events name the task with one part per level" err.txt "ok       outer/inner[1]/plus_one"
expect_not_in "and no part twice" err.txt "outer/outer/"
run_wf logs last 'outer/inner[1]/plus_one'
expect_in "logs finds a task two levels down" out.txt "3"

# ---- a failure inside the called workflow; --resume re-runs only what failed --------------
cat > lib/flaky.yaml <<'Y'
version: 1
inputs:
  name: {type: string}
tasks:
  fetch:
    run: echo fetch-<< inputs.name >> >> ran.txt
  install:
    needs: [fetch]
    run: echo install-<< inputs.name >> >> ran.txt; test -e ok-<< inputs.name >>
outputs:
  name: << inputs.name >>
Y
cat > deploy.yaml <<'Y'
version: 1
tasks:
  deploy:
    uses: lib/flaky.yaml
    with-items: [a, b]
    with:
      name: << item >>
  after:
    needs: [deploy]
    run: echo after >> ran.txt
Y
touch ok-a
run_wf run deploy.yaml --progress plain
expect_rc "a failure inside the called workflow fails the run" 1
expect_in "the calling unit's error names the called task that failed" err.txt "deploy[1] (b): task 'deploy[1]/install' failed: exit code 1"
expect_in "the called task's own failure is shown" err.txt "FAILED   deploy[1]/install"
got=$(sort ran.txt | tr '\n' ' ')
[ "$got" = "fetch-a fetch-b install-a install-b " ] && pass "every called task ran once" || fail "ran: $got"
: > ran.txt
touch ok-b
run_wf run deploy.yaml --resume last --progress plain
expect_rc "the resume succeeds" 0
got=$(sort ran.txt | tr '\n' ' ')
[ "$got" = "after install-b " ] && pass "the resume re-ran only the failed called task and what follows" \
    || fail "resume ran: $got"
run_wf show last
if grep -F "deploy[1]/fetch" out.txt | grep -qF "(reused)"; then
    pass "the resumed called task is recorded as reused"
else
    fail "the resumed called task is recorded as reused" "$(cat out.txt)"
fi
rm -f ran.txt

# A resume in which something the calling task reads ran again calls the workflow afresh:
# what succeeded inside it before was computed from other inputs.
cat > lib/reads.yaml <<'Y'
version: 1
inputs:
  n: {default: none}
tasks:
  one:
    run: echo "one << inputs.n >>" >> ran.txt; echo "<< inputs.n >>"
  two:
    needs: [one]
    run: test -e fixed
outputs:
  n: << task.one >>
Y
cat > reads.yaml <<'Y'
version: 1
tasks:
  v:
    run: cat v.txt; test -e fixed
    continue-on-error: true
  call:
    uses: lib/reads.yaml
    with:
      n: << task.v >>
Y
rm -f fixed ran.txt
echo 1 > v.txt
run_wf run reads.yaml
expect_rc "reads: the called workflow fails" 1
echo 2 > v.txt
touch fixed
run_wf run reads.yaml --resume last --json
expect_rc "reads: the resume succeeds" 0
expect_json "reads: the called workflow ran afresh with the new value" 'd["tasks"]["call"]["result"]' '{"n": "2"}'
expect_in "reads: its first task ran again" ran.txt "one 2"
rm -f fixed ran.txt

# ---- cache: inside the called workflow -----------------------------------------------------
cat > lib/cached.yaml <<'Y'
version: 1
tasks:
  slow:
    run: echo built >> built.txt; echo 42
    output: json
    cache: true
outputs:
  v: << task.slow >>
Y
printf 'version: 1\ntasks:\n  c:\n    uses: lib/cached.yaml\n' > cache.yaml
run_wf run cache.yaml --json
run_wf run cache.yaml --json --progress plain
expect_rc "a cached called task succeeds" 0
expect_json "its value comes back through the outputs" 'd["tasks"]["c"]["result"]' '{"v": 42}'
[ "$(wc -l < built.txt)" -eq 1 ] && pass "the second run took the called task from the cache" \
    || fail "built $(wc -l < built.txt) times"
expect_in "the progress line says cached" err.txt "cached   c/slow"

# ---- bad inputs, at load time (exit 2) --------------------------------------------------
printf 'version: 1\ntasks:\n  a:\n    uses: lib/nope.yaml\n' > missing.yaml
run_wf validate missing.yaml
expect_rc "a missing called file is refused" 2
expect_in "at the uses: value, naming the path" err.txt "missing.yaml:4:11: uses: cannot read lib/nope.yaml: No such file or directory"

printf 'version: 1\ntasks:\n  x:\n    uses: cyc-b.yaml\n' > cyc-a.yaml
printf 'version: 1\ntasks:\n  y:\n    run: echo y\n  z:\n    uses: cyc-a.yaml\n' > cyc-b.yaml
run_wf validate cyc-a.yaml
expect_rc "a call cycle across files is refused" 2
expect_in "naming the chain, at the uses: that closes it" err.txt "cyc-b.yaml:6:11: uses: a call cycle across files: cyc-a.yaml -> cyc-b.yaml -> cyc-a.yaml"
expect_in "saying which uses: loaded the file" err.txt "(via uses: at cyc-a.yaml:4:11)"

cat > badwith.yaml <<'Y'
version: 1
tasks:
  a:
    uses: lib/sum.yaml
    with:
      m: 3
      tag: 4
Y
run_wf validate badwith.yaml
expect_rc "wrong with: inputs are refused" 2
expect_in "an unknown input, with a did-you-mean" err.txt "badwith.yaml:6:7: lib/sum.yaml has no input 'm'; did you mean 'n'?"
expect_in "a required input missing, at with:" err.txt "badwith.yaml:5:5: lib/sum.yaml needs input 'n' (how far to count): add it under 'with:'"
expect_in "a constant of the wrong type" err.txt "badwith.yaml:7:12: input 'tag' of lib/sum.yaml must be a string, got the integer 4"

mkdir -p lib2
printf 'version: 1\ntasks:\n  t:\n    run: echo << inputs.zz >>\n' > lib2/broken.yaml
printf 'version: 1\ntasks:\n  b:\n    uses: lib2/broken.yaml\n' > callsbroken.yaml
run_wf validate callsbroken.yaml
expect_rc "an error inside the called file is refused" 2
expect_in "at the called file's own line and column, with the uses: that loaded it" err.txt \
    "lib2/broken.yaml:4:18: unknown input 'zz' (via uses: at callsbroken.yaml:4:11)"

printf 'version: 1\ntasks:\n  a:\n    uses: lib/sum.yaml\n    run: echo\n    with: {n: 1}\n' > both.yaml
run_wf validate both.yaml
expect_rc "uses: with run: is refused" 2
expect_in "saying a task does one thing" err.txt "task 'a' has both 'uses' and 'run'"

printf 'version: 1\ntasks:\n  t:\n    run: echo ${{ inputs.x }}\n' > lib2/warn.yaml
printf 'version: 1\ntasks:\n  w:\n    uses: lib2/warn.yaml\n' > callswarn.yaml
run_wf validate callswarn.yaml
expect_rc "a warning inside the called file does not refuse it" 0
expect_in "it is shown at the called file's line, with the uses: that loaded it" err.txt \
    "lib2/warn.yaml:4:15: warning: "
expect_in "... ending with the uses:" err.txt "(via uses: at callswarn.yaml:4:11)"

# ---- a with: value of the wrong type, known only when it runs ------------------------------
printf 'version: 1\ntasks:\n  a:\n    uses: lib/sum.yaml\n    with:\n      n: << "five" >>\n' > rtype.yaml
run_wf run rtype.yaml --progress plain
expect_rc "a with: value of the wrong type fails the unit" 1
expect_in "saying which input" err.txt "lib/sum.yaml cannot start: input 'n'"

# ---- Ctrl-C and timeouts reach the called workflow's processes ---------------------------
cat > lib/slow.yaml <<'Y'
version: 1
tasks:
  nap:
    run: echo $$ > nap.tmp; mv nap.tmp nap.pid; exec sleep 30
Y
printf 'version: 1\ntasks:\n  call:\n    uses: lib/slow.yaml\n' > slow.yaml
"$WFENGINE" run slow.yaml --progress plain >out.txt 2>err.txt &
pid=$!
wait_for 60 test -s nap.pid || fail "the called task never started"
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
expect_rc "Ctrl-C stops a run inside a called workflow" 130
if alive "$(cat nap.pid)"; then fail "the called task's process was killed"; else pass "the called task's process was killed"; fi
expect_in "the called task ends cancelled" err.txt "cancelled call/nap"
# The timeout counts from the start: a loaded machine may reach it before the called task has
# written its pid, which proves nothing; then again with a longer one.
for t in 300ms 2s 10s; do
    rm -f nap.pid
    printf 'version: 1\ntasks:\n  call:\n    uses: lib/slow.yaml\n    timeout: %s\n' "$t" > tslow.yaml
    start=$(date +%s)
    run_wf run tslow.yaml --progress plain
    took=$(($(date +%s) - start))
    [ -s nap.pid ] && break
done
expect_rc "a timeout on a uses: task fails it" 1
expect_in "saying it timed out" err.txt "call: timed out after $t"
[ "$took" -lt 25 ] && pass "the timeout stopped the called process" || fail "took ${took}s"
if alive "$(cat nap.pid)"; then fail "the timed-out process was killed"; else pass "the timed-out process was killed"; fi

rm -f nap.pid
cat > ffslow.yaml <<'Y'
version: 1
fail-fast: true
tasks:
  call:
    uses: lib/slow.yaml
  boom:
    run: while [ ! -s nap.pid ]; do sleep 0.05; done; exit 3
Y
start=$(date +%s)
run_wf run ffslow.yaml --progress plain
expect_rc "fail-fast elsewhere stops a called workflow" 1
[ $(($(date +%s) - start)) -lt 20 ] && pass "without waiting for it" || fail "took $(($(date +%s) - start))s"
expect_in "its task ends cancelled" err.txt "cancelled call/nap"
if alive "$(cat nap.pid)"; then fail "its process was killed"; else pass "its process was killed"; fi

done_testing
