# Lines and large fan-outs by reference (issue 16, B12): an `output: lines` result over 64 KiB
# is read in windows, never built as a list (| length, [i] and a with-items over it load
# nothing), and a fan-out of more than 4,096 units keeps its item results in a file read item
# by item: by [i], | length, with-items, a pipeline and the result document; a use that needs
# the whole list is refused over --memory, naming the task. With and without the store, and
# across --resume. (The results cache counts its loads: results_memory.loads.)
# ctest-cost: 24 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$(dirname "$0")/lib.sh"

# Always above the 4,096 units kept in memory, whatever the scale.
N=$((10000 / ${WF_E2E_SCALE:-1}))
[ "$N" -ge 5000 ] || N=5000
mkdir -p tmp
export TMPDIR=$T/tmp

# 14 bytes a line: N lines are over 64 KiB. flaky (in batches of 500 lines: few processes)
# fails its batch 0 while fail.flag exists (for --resume below).
cat > lines.yaml <<YAML
version: 1
tasks:
  gen:
    run: seq -f 'line-%08g' 1 $N
    output: lines
  fan:
    with-items: << task.gen >>
    action: core.value
    input: {value: "<< item >>/<< index >>"}
  pipe:
    with-items: << task.fan >>
    pipeline: true
    action: core.value
    input: {value: "p:<< item >>"}
  flaky:
    with-items: << task.gen >>
    batch-size: 500
    run: if [ -e fail.flag ] && [ << index >> = 0 ]; then exit 1; fi; echo << item | length >>
    continue-on-error: true
  fanin:
    needs: [pipe, flaky]
    action: core.value
    input:
      value: "<< task.gen | length >> << task.gen[0] >> << task.gen[-1] >> << task.fan | length >> << task.fan[4096] >> << task.pipe[$((N - 1))] >>"
outputs:
  fanin: << task.fanin >>
  flaky0: << task.flaky[0] >>
YAML
first=line-00000001
last=$(printf 'line-%08d' "$N")
want="$N $first $last $N line-00004097/4096 p:$last/$((N - 1))"

run_wf run lines.yaml --no-store --json -j2 --progress none
expect_rc "lines and a large fan-out by reference" 0
expect_json "length, [0], [-1] of the lines; length, [4096] of the fan-out; a pipeline" \
    'd["outputs"]["fanin"]' "\"$want\""
expect_json "nothing was loaded whole" 'd["results_memory"]["loads"]' '0'
expect_json "the result document writes the fan-out's items" \
    "[len(d['tasks']['fan']['result']), d['tasks']['fan']['result'][$N - 1]]" \
    "[$N, \"$last/$((N - 1))\"]"
expect_json "the result document writes the lines" \
    "[len(d['tasks']['gen']['result']), d['tasks']['gen']['result'][4097]]" \
    "[$N, \"line-00004098\"]"
if [ -z "$(ls "$TMPDIR")" ]; then pass "--no-store: the spill directory is removed"; else
    fail "--no-store: left behind in TMPDIR" "$(ls -la "$TMPDIR")"; fi

# A use of the whole list, over the budget: an error naming the task and the figures.
cat > whole.yaml <<YAML
version: 1
tasks:
  gen:
    run: seq -f 'line-%08g' 1 $N
    output: lines
  fan:
    with-items: << task.gen >>
    action: core.value
    input: {value: "<< item >>"}
  joined:
    action: core.value
    input: {value: "<< task.fan | join(',') | length >>"}
YAML
run_wf run whole.yaml --no-store --memory 64K -j2 --progress plain
expect_rc "a whole-list use over --memory fails" 1
expect_in "the error names the task and the item count" err.txt \
    "task 'fan': its $N item results are needed whole here"
expect_in "and the budget" err.txt "more than the memory budget for results (64 KiB)"
run_wf run whole.yaml --no-store -j2 --json --progress none
expect_rc "within the budget it is loaded" 0
expect_json "the whole list, joined" 'd["tasks"]["joined"]["result"]' \
    "$(( N * 14 - 1 ))"

# With the store, one batch failing, then --resume: the same answers, only that batch runs
# again, and the fan-out's items are read back from the store into its file.
touch fail.flag
run_wf run lines.yaml --store st --json -j2 --progress none
expect_rc "with the store (one batch fails, ignored)" 0
expect_json "with the store: the same values" 'd["outputs"]["fanin"]' "\"$want\""
expect_json "batch 0 failed" 'd["tasks"]["flaky"]["items"][0]["status"]' '"failed"'
rm fail.flag
run_wf run lines.yaml --store st --json -j2 --progress none --resume last
expect_rc "--resume" 0
expect_json "after --resume: the same values" 'd["outputs"]["fanin"]' "\"$want\""
expect_json "after --resume: batch 0 succeeded" 'd["outputs"]["flaky0"]' '"500"'
expect_json "--resume ran only the failed batch again" \
    "sum(1 for u in d['tasks']['flaky']['items'] if not u.get('reused'))" '1'
expect_json "--resume reused the fan-out's items" \
    "sum(1 for u in d['tasks']['fan']['items'] if u.get('reused'))" "$N"
expect_json "--resume: the fan-out's items read back" \
    "d['tasks']['fan']['result'][$N - 1]" "\"$last/$((N - 1))\""

# `output: json` whose top-level value is a list over 64 KiB: scanned once as it ends, then
# read a window at a time like lines. Each item is an object (with a comma and a bracket in
# a string, which only a real parser reads right); the fan-in reads | length and fields of
# items in three windows, and nothing is loaded whole.
cat > jarr.sh <<'SH'
echo '['
seq 0 $(($1 - 1)) | sed 's/.*/{"i": &, "s": "a,]&"}/; 1!s/^/,/'
echo ']'
SH
cat > jarr.yaml <<YAML
version: 1
tasks:
  gen:
    run: sh jarr.sh $N
    output: json
  fan:
    with-items: << task.gen >>
    action: core.value
    input: {value: "<< item.s >>"}
  fanin:
    action: core.value
    input:
      value: "<< task.gen | length >> << task.gen[0].s >> << task.gen[4096].i >> << task.gen[-1].s >> << task.fan | length >> << task.fan[-1] >>"
outputs:
  fanin: << task.fanin >>
YAML
jwant="$N a,]0 4096 a,]$((N - 1)) $N a,]$((N - 1))"
for store in --no-store "--store st"; do
    # shellcheck disable=SC2086
    run_wf run jarr.yaml $store --json -j2 --progress none
    expect_rc "a JSON list by reference ($store)" 0
    expect_json "length, [0], [4096], [-1] of the list; its fan-out ($store)" \
        'd["outputs"]["fanin"]' "\"$jwant\""
    expect_json "the JSON list was not loaded whole ($store)" 'd["results_memory"]["loads"]' '0'
done
expect_json "the result document writes the list" \
    "[len(d['tasks']['gen']['result']), d['tasks']['gen']['result'][4097]]" \
    "[$N, {\"i\": 4097, \"s\": \"a,]4097\"}]"
# A use of the whole list over --memory is refused, naming the task.
sed -i 's/value: "<< task.gen | length >>.*/value: "<< task.gen | json | length >>"/' jarr.yaml
run_wf run jarr.yaml --no-store --memory 64K -j2 --progress plain
expect_rc "the whole JSON list over --memory fails" 1
expect_in "the error names the task and the budget" err.txt \
    "task 'gen': its value ("
# Bad JSON inside the list: the unit fails, naming the task and the byte.
cat > jbad.yaml <<YAML
version: 1
tasks:
  gen:
    run: (echo '['; seq -f '"item-%08g",' 1 $N; echo '"last" "extra"]')
    output: json
YAML
run_wf run jbad.yaml --no-store -j2 --progress plain
expect_rc "bad JSON in a large list fails" 1
expect_in "the error names the task and the byte" err.txt \
    "gen: output: json: stdout is not valid JSON at byte $((2 + 17 * N + 7)) (',' or ']' expected after an item): '\"extra\"] '"
# The line count is recorded when the unit ends (schema 11), and a resume takes it from the
# record: it reads no blob. gen's stdout blob is made one line of the same size (every \n a
# space); a resume that counted its lines would say 1.
cat > count.yaml <<YAML
version: 1
tasks:
  gen:
    run: seq -f 'line-%08g' 1 $N
    output: lines
  use:
    needs: [gen]
    run: test -e ok && echo << task.gen | length >>
YAML
run_wf run count.yaml --store cs --progress none
expect_rc "count: use fails the first time" 1
blob=$(python3 -c "
import sqlite3
db = sqlite3.connect('cs/state.db')
print(db.execute(\"SELECT result_lines, stdout_hash FROM units WHERE task = 'gen'\").fetchone())")
[ "$blob" = "($N, '$(seq -f 'line-%08g' 1 "$N" | sha256sum | cut -c1-64)')" ] &&
    pass "count: the record has the line count" || fail "count: the record has $blob"
python3 -c "
import os, sqlite3
h = sqlite3.connect('cs/state.db').execute(\"SELECT stdout_hash FROM units WHERE task = 'gen'\").fetchone()[0]
p = 'cs/blobs/%s/%s' % (h[:2], h)
data = open(p, 'rb').read().replace(b'\\n', b' ')
os.chmod(p, 0o644)
open(p, 'wb').write(data)"
touch ok
run_wf run count.yaml --store cs --resume last --json --progress none
expect_rc "count: the resume succeeds" 0
expect_json "count: the length is the recorded one (no blob read)" 'd["tasks"]["use"]["result"]' \
    "\"$N\""
expect_json "count: nothing loaded" 'd["results_memory"]["loads"]' '0'

done_testing
