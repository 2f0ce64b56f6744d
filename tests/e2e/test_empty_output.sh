#!/usr/bin/env bash
# Units that print nothing, on the local executor: their result is "" (text), [] (lines), and
# nothing is stored as their stdout or stderr (no stdout_hash or stderr_hash, `logs`
# prints nothing). tests/slurm/e2e.sh runs the same workflow with --executor slurm, where an
# empty output file once came back as heap garbage.
. "$WF_SOURCE_DIR/tests/e2e/lib.sh"

cat >quiet.yaml <<'Y'
version: 1
tasks:
  quiet:
    with-items: << range(200) >>
    run: "true"
  quiet_lines:
    with-items: [1, 2, 3]
    output: lines
    run: ":"
  single:
    run: exit 0
Y
run_wf run quiet.yaml --json -q
expect_rc "200 silent items" 0
expect_json "every silent item's result is \"\"" \
    'd["tasks"]["quiet"]["result"] == [""] * 200' 'true'
expect_json "output: lines of nothing is []" 'd["tasks"]["quiet_lines"]["result"]' '[[], [], []]'
expect_json "a silent task without items: \"\"" 'd["tasks"]["single"]["result"]' '""'

run_wf show last --json
expect_rc "show --json" 0
expect_json "no stdout or stderr stored for any unit (no hashes)" \
    'sorted(set((bool(u["stdout_hash"]), bool(u["stderr_hash"])) for t in d["tasks"] for u in t["units"]))' \
    '[[false, false]]'
expect_json "every unit is listed" 'sum(len(t["units"]) for t in d["tasks"])' '204'

run_wf logs last 'quiet[137]'
expect_rc "logs of a silent item" 0
if [ ! -s out.txt ]; then pass "logs prints an empty stdout"; else
    fail "logs prints an empty stdout" "$(od -c out.txt | head -n 5)"; fi
run_wf logs last 'quiet[137]' --stderr
if [ ! -s out.txt ]; then pass "logs --stderr prints an empty stderr"; else
    fail "logs --stderr prints an empty stderr" "$(od -c out.txt | head -n 5)"; fi

done_testing
