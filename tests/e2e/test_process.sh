#!/usr/bin/env bash
# Processes: shell quoting of template values (no injection), direct exec, env, workdir,
# output modes, timeouts that leave no process behind.
# ctest-cost: 17 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

cat > inject.yaml <<'Y'
version: 1
tasks:
  evil:
    with-items: ["; touch pwned1", "$(touch pwned2)", "`touch pwned3`", "a'b\"c", "x && touch pwned4", "line1\nline2"]
    run: printf '%s|' << item >>
  list:
    action: core.value
    input: {value: ["two words", "*", "$HOME"]}
  words:
    run: printf '[%s]' << task.list >>
  rawed:
    run: echo << "hi there; echo raw-ran" | raw >>
Y
run_wf run inject.yaml --json
expect_rc "hostile items run as data" 0
for i in 1 2 3 4; do
    if [ -e pwned$i ]; then fail "injection $i executed"; else pass "injection $i stayed data"; fi
done
expect_json "items arrive verbatim" 'd["tasks"]["evil"]["result"]' \
    '["; touch pwned1|", "$(touch pwned2)|", "`touch pwned3`|", "a'"'"'b\"c|", "x && touch pwned4|", "line1\nline2|"]'
expect_json "a list becomes several words" 'd["tasks"]["words"]["result"]' '"[two words][*][$HOME]"'
expect_json "raw opts out of quoting" 'd["tasks"]["rawed"]["result"]' '"hi there\nraw-ran"'

mkdir -p sub
cat > env.yaml <<'Y'
version: 1
env:
  GREETING: hello-<< inputs.name >>
inputs:
  name: {type: string, default: x}
tasks:
  show:
    with-items: [{"a": 1}]
    env: {EXTRA: "<< item.a >>"}
    workdir: sub
    run: echo "$GREETING $EXTRA $WF_TASK $WF_INDEX $WF_ITEM $(basename "$PWD")"
  runid:
    run: ["sh", "-c", "test -n \"$WF_RUN_ID\" && echo ok"]
  json:
    output: json
    run: "echo '{\"a\": [1, 2.5, \"x\"]}'"
  lines:
    output: lines
    run: printf 'a\nb\n\nc\n'
  direct:
    run: printf %s-%s << inputs.name >> direct
Y
run_wf run env.yaml --json
expect_rc "env/workdir/output workflow" 0
expect_json "env, WF_* and workdir" 'd["tasks"]["show"]["result"]' '["hello-x 1 show 0 {\"a\":1} sub"]'
expect_json "WF_RUN_ID set, list form" 'd["tasks"]["runid"]["result"]' '"ok"'
expect_json "output json" 'd["tasks"]["json"]["result"]' '{"a": [1, 2.5, "x"]}'
expect_json "output lines" 'd["tasks"]["lines"]["result"]' '["a", "b", "", "c"]'
expect_json "simple command exec'd directly" 'd["tasks"]["direct"]["result"]' '"x-direct"'

# Precedence: inherited < workflow env < task env < the engine's WF_ variables; inherited WF_
# variables never leak into a unit (wfengine run from inside a unit of another run).
cat > envprec.yaml <<'Y'
version: 1
env:
  LAYER: workflow
  ONLY_WF: w
tasks:
  plain:
    run: echo "$INHERITED $LAYER $ONLY_WF ${WF_ITEM-none} ${WF_INDEX-none} $WF_TASK"
  overridden:
    env: {LAYER: task, WF_TASK: mine}
    run: echo "$INHERITED $LAYER $ONLY_WF $WF_TASK"
Y
INHERITED=from-parent LAYER=parent WF_ITEM=outer WF_INDEX=7 WF_TASK=outer run_wf run envprec.yaml --json
expect_rc "env precedence workflow" 0
expect_json "inherited, workflow env, no outer WF_ITEM/WF_INDEX" 'd["tasks"]["plain"]["result"]' \
    '"from-parent workflow w none none plain"'
expect_json "task env wins over workflow env, WF_TASK over task env" \
    'd["tasks"]["overridden"]["result"]' '"from-parent task w overridden"'

cat > badjson.yaml <<'Y'
version: 1
tasks:
  bad:
    output: json
    run: echo 'not json {'
Y
run_wf run badjson.yaml
expect_rc "bad JSON output fails the run" 1
expect_in "the error quotes stdout" err.txt "not valid JSON"
expect_in "the error quotes stdout (text)" err.txt "'not json {"

# The timeout counts from the unit's start: on a loaded machine it may come before the shell
# has started the grandchild and written its pid. Such a run proves nothing, so it is run again
# with a longer timeout until the pid was written first.
for t in 300ms 2s 10s; do
    cat > timeout.yaml <<Y
version: 1
tasks:
  slow:
    timeout: $t
    run: sleep 30 & echo \$! > grandchild.tmp; mv grandchild.tmp grandchild.pid; sleep 30
Y
    rm -f grandchild.pid
    start=$(date +%s)
    run_wf run timeout.yaml --json
    end=$(date +%s)
    [ -s grandchild.pid ] && break
done
expect_rc "a timeout fails the run" 1
expect_json "the task failed" 'd["tasks"]["slow"]["status"]' '"failed"'
expect_in "timeout reported" err.txt "timed out"
# Well before the unit's own end (its sleep 30).
if [ $((end - start)) -lt 25 ]; then pass "timeout is prompt"; else fail "timeout took $((end - start))s"; fi
gc=$(cat grandchild.pid)
if alive "$gc"; then fail "grandchild $gc survived the timeout"; kill -9 "$gc"; else pass "no grandchild survives a timeout"; fi

cat > notfound.yaml <<'Y'
version: 1
tasks:
  missing:
    run: no-such-command-wf --flag
Y
run_wf run notfound.yaml --json
expect_rc "a missing command fails" 1
expect_json "exit code 127" 'd["tasks"]["missing"]["exit_code"]' '127'
# errexit: the default shell stops at the first failing command, in a one-line script, in a
# block scalar, and in a script long enough to be spilled to a file; `shell:` opts out.
big=$(python3 -c 'print("x" * 100000)')
cat > errexit.yaml <<Y
version: 1
tasks:
  oneline:
    run: "echo a >> trace1; ls /nope-wf; echo b >> trace1"
  block:
    run: |
      echo a >> trace2
      ls /nope-wf
      echo b >> trace2
  long:
    run: "echo $big > /dev/null; ls /nope-wf; echo b"
  exempt:
    run: "ls /nope-wf || true; if ls /nope-wf 2>/dev/null; then :; fi; echo fine"
  optout:
    shell: sh
    run: "ls /nope-wf; echo b"
Y
run_wf run errexit.yaml --json --no-store
expect_rc "a failing line fails the run" 1
expect_json "the one-liner stops at ls (exit 2)" \
    '[d["tasks"]["oneline"][k] for k in ("status", "exit_code")]' '["failed", 2]'
expect_json "a block scalar stops at its failing line" \
    '[d["tasks"]["block"][k] for k in ("status", "exit_code")]' '["failed", 2]'
expect_json "a spilled long script stops too" \
    '[d["tasks"]["long"][k] for k in ("status", "exit_code")]' '["failed", 2]'
expect_json "|| and if conditions do not stop the script" \
    '[d["tasks"]["exempt"][k] for k in ("status", "result")]' '["succeeded", "fine"]'
expect_json "shell: sh runs without errexit" \
    '[d["tasks"]["optout"][k] for k in ("status", "result")]' '["succeeded", "b"]'
expect_in "the failing line's stderr is in the error output" err.txt "/nope-wf"
if [ "$(cat trace1 trace2)" = "$(printf 'a\na')" ]; then pass "nothing after the failing line ran"; else
    fail "lines after the failing one ran" "$(cat trace1 trace2)"; fi
# $WF_RESULT and a TMPDIR of the unit's own, removed when it ends.
mkdir -p scratch-parent
cat > result.yaml <<Y
version: 1
tasks:
  build:
    output: json
    run: |
      echo "compiling, with noise on stdout"
      echo '{"artifact": "app", "size": 3}' > "\$WF_RESULT"
  items:
    with-items: [1, 2, 3]
    run: |
      echo "<< item >>" > "\$TMPDIR/test.out"
      sleep 0.2
      echo "\$TMPDIR" >> $T/dirs.txt
      cat "\$TMPDIR/test.out"
  parent:
    env: {TMPDIR: $T/scratch-parent}
    run: 'case "\$TMPDIR" in $T/scratch-parent/wfengine-unit.*) echo inside;; *) echo "\$TMPDIR";; esac'
  stdout_still:
    run: echo from stdout
  bad_json:
    output: json
    run: echo nope > "\$WF_RESULT"
  not_a_file:
    run: mkdir "\$WF_RESULT"
Y
run_wf run result.yaml --json --no-store -j 3
expect_rc "a bad \$WF_RESULT fails the run" 1
expect_json "\$WF_RESULT is the result, stdout only the log" 'd["tasks"]["build"]["result"]' '{"artifact": "app", "size": 3}'
expect_json "each item has its own TMPDIR" 'd["tasks"]["items"]["result"]' '["1", "2", "3"]'
expect_json "under the TMPDIR the task sets" 'd["tasks"]["parent"]["result"]' '"inside"'
expect_json "without \$WF_RESULT stdout is the result" 'd["tasks"]["stdout_still"]["result"]' '"from stdout"'
expect_json "bad JSON in \$WF_RESULT says so" 'd["tasks"]["bad_json"]["error"].startswith("output: json: $WF_RESULT is not valid JSON")' 'true'
expect_json "a directory at \$WF_RESULT is refused" '"is not a regular file" in d["tasks"]["not_a_file"]["error"]' 'true'
left=0
while read -r d; do [ -e "$d" ] && left=$((left + 1)); done < dirs.txt
if [ "$(wc -l < dirs.txt)" -eq 3 ] && [ "$left" -eq 0 ]; then pass "the units' directories are gone"; else
    fail "units' directories left: $left of $(wc -l < dirs.txt)"; fi
if [ -z "$(ls -A scratch-parent)" ]; then pass "nothing left in the parent"; else fail "left in parent: $(ls -A scratch-parent)"; fi
done_testing
