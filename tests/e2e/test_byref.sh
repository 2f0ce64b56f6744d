# Results by reference and the memory budget (issue 16): stdout over 64 KiB stays on disk (a
# store blob, or a spill directory removed with the run), is loaded through a cache bounded by
# --memory / memory:, and `| length` and `[i]` of a with-items result load no other item
# (the result document's results_memory counts the loads). max-output is a disk cap per unit.
# ctest-cost: 17 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$(dirname "$0")/lib.sh"

N=$((40 / ${WF_E2E_SCALE:-1} + 10))
mkdir -p tmp
export TMPDIR=$T/tmp

# gen: N items of 96 KiB of base64 each (over the 64 KiB kept in memory).
cat > refs.yaml <<YAML
version: 1
tasks:
  gen:
    with-items: << range($N) >>
    run: head -c 73728 /dev/zero | tr -c x x | sed "s/^/<< item >>-/"
  count:
    run: echo << task.gen | length >>
  seven:
    run: printf %s << task.gen[7] >> | head -c 4
  seven_len:
    needs: [seven]
    run: echo << task.gen[7] | length >>
outputs:
  count: << task.count >>
  seven: << task.seven >>
  seven_len: << task.seven_len >>
YAML

run_wf run refs.yaml --no-store --json -j2 --progress none
expect_rc "a fan-out of large results runs" 0
expect_json "| length counts the items" 'd["outputs"]["count"]' "\"$N\""
expect_json "[7] reads item 7" 'd["outputs"]["seven"]' '"7-xx"'
expect_json "[7] is the whole stdout" 'd["outputs"]["seven_len"]' '"73730"'
# Two readers of item 7 (seven, then seven_len: one after the other, since two units that
# miss the cache at once may both load): item 7 is loaded once, no other item.
expect_json "| length and [7] load only item 7" 'd["results_memory"]["loads"]' '1'
expect_json "the result document prints values, not references" \
    'len(d["tasks"]["gen"]["result"][3])' '73730'
if [ -z "$(ls "$TMPDIR")" ]; then pass "--no-store: the spill directory is removed"; else
    fail "--no-store: left behind in TMPDIR" "$(ls -la "$TMPDIR")"; fi

# A run that fails removes it too.
cat > fails.yaml <<'YAML'
version: 1
tasks:
  big:
    run: head -c 200000 /dev/zero | tr -c y y
  boom:
    needs: [big]
    run: exit 3
YAML
run_wf run fails.yaml --no-store --progress none
expect_rc "a failed run" 1
if [ -z "$(ls "$TMPDIR")" ]; then pass "a failed run removes its spill directory"; else
    fail "a failed run left its spill directory" "$(ls -la "$TMPDIR")"; fi

# With the store: one blob per unit (the stdout is the result: 96 KiB each, not twice), and
# the same answers.
run_wf run refs.yaml --store st --json -j2 --progress none
expect_rc "the same with the store" 0
expect_json "[7] with the store" 'd["outputs"]["seven"]' '"7-xx"'
expect_json "loads with the store" 'd["results_memory"]["loads"]' '1'
blobs=$(du -sb st/blobs | cut -f1)
if [ "$blobs" -lt $((N * 73730 + N * 73730 / 4)) ]; then
    pass "one copy of each result on disk ($blobs bytes for $N x 73730)"
else fail "the store holds $blobs bytes for $N x 73730 of output"; fi
run_wf logs last 'gen[7]' --store st
if [ "$(head -c 6 out.txt)" = "7-xxxx" ] && [ "$(wc -c < out.txt)" -ge 73730 ]; then
    pass "logs prints the stored stdout of gen[7]"
else fail "logs gen[7]" "$(head -c 100 out.txt)"; fi

# A with-items list from the large results: lent as references, each item loaded by its unit
# (with a budget smaller than all of them together), and pipelined items the same way.
cat > over.yaml <<YAML
version: 1
tasks:
  gen:
    with-items: << range($N) >>
    run: head -c 73728 /dev/zero | tr -c x x | sed "s/^/<< item >>-/"
  each:
    with-items: << task.gen >>
    run: printf %s << item >> | cut -c1-3
  piped:
    with-items: << task.gen >>
    pipeline: true
    run: echo << item | length >>
outputs:
  each: << task.each[9] >>
  piped: << task.piped[9] >>
YAML
run_wf run over.yaml --no-store --memory 1MiB --json -j2 --progress none
expect_rc "a fan-out over large results, with less memory than they take" 0
expect_json "each item read its own result" 'd["outputs"]["each"]' '"9-x"'
expect_json "pipelined items too" 'd["outputs"]["piped"]' '"73730"'
expect_not_in "no reference's placeholder anywhere (labels, results)" out.txt "(a result not loaded)"

# ---- the memory budget --------------------------------------------------------------------

# The whole list needed (join) is more than --memory: an error naming the task and figures.
# 512 KiB is below N x 72 KiB at every WF_E2E_SCALE (N >= 10), and above one item.
cat > whole.yaml <<YAML
version: 1
tasks:
  gen:
    with-items: << range($N) >>
    run: head -c 73728 /dev/zero | tr -c z z
  all:
    run: echo << task.gen | join(",") | length >>
YAML
run_wf run whole.yaml --no-store --memory 512KiB --progress plain
expect_rc "a list larger than --memory, needed whole" 1
expect_in "the error names the task and the budget" err.txt "task 'gen': its $N item results are needed whole here"
expect_in "the error says how to raise it" err.txt "more than the memory budget for results (512 KiB); raise it with --memory"
run_wf run whole.yaml --no-store --memory 64MiB --progress none --json
expect_rc "the same with room" 0

# One value larger than the budget, needed whole: memory: at the top level, --memory wins.
cat > one.yaml <<'YAML'
version: 1
memory: 100KiB
tasks:
  big:
    run: head -c 300000 /dev/zero | tr -c w w
  read:
    run: echo << task.big | length >>
YAML
run_wf run one.yaml --no-store --progress plain
expect_rc "one value over memory: 100KiB" 1
expect_in "it names the task and the sizes" err.txt "task 'big': its value (300000 bytes of output"
expect_in "the budget as sizes are written elsewhere" err.txt \
    "about 293.0 KiB in memory) is needed whole, but the memory budget for results is 100 KiB;"
run_wf run one.yaml --no-store --memory 10 --progress plain
expect_in "a budget under 1 KiB in bytes, not '0.0 KiB'" err.txt "the memory budget for results is 10 bytes;"
run_wf run one.yaml --no-store --memory 2MiB --progress none
expect_rc "--memory wins over memory:" 0

# ---- max-output: a disk cap per unit --------------------------------------------------------

cat > cap.yaml <<'YAML'
version: 1
max-output: 1MiB
tasks:
  loud:
    with-items: [1, 2]
    max-output: 100K
    run: head -c 300000 /dev/zero
  quiet:
    run: head -c 300000 /dev/zero | tr -c q q
YAML
run_wf run cap.yaml --no-store --progress plain
expect_rc "a unit over its max-output fails" 1
expect_in "the error names the item, the cap and the way out" err.txt \
    "task 'loud' item 0 wrote more than its max-output of 100 KiB to stdout (what came after was dropped); raise it with \`max-output:\`"
expect_not_in "the top-level max-output lets quiet through" err.txt "task 'quiet'"
run_wf run cap.yaml --no-store --max-output 200KiB quiet --progress plain
expect_rc "--max-output caps the tasks without their own" 1
expect_in "--max-output named" err.txt "task 'quiet' wrote more than its max-output of 200 KiB"

# Bad sizes: file:line:col at load, usage errors on the command line.
cat > bad.yaml <<'YAML'
version: 1
memory: lots
tasks:
  a:
    max-output: 0
    run: echo hi
YAML
run_wf validate bad.yaml
expect_rc "bad sizes are load errors" 2
expect_in "memory: is checked" err.txt "bad.yaml:2:9: memory: invalid size 'lots'"
expect_in "max-output: is checked" err.txt "bad.yaml:5:17: max-output: must be at least 1 byte"
run_wf run refs.yaml --no-store --memory 12parsecs
expect_rc "a bad --memory" 2
expect_in "--memory says what it takes" err.txt "run: --memory: invalid size '12parsecs'"

# ---- a full disk while stdout is written ---------------------------------------------------

# A 6 MB file system (root only: skipped elsewhere), 3 MB of it taken: three 1.5 MB outputs
# do not fit. The run stops with exit 3 and the store consistent; once there is room,
# --resume finishes it.
mkdir -p full
if mount -t tmpfs -o size=6m tmpfs "$T/full" 2>/dev/null; then
    trap 'umount "$T/full" 2>/dev/null || true; rm -rf "$T"' EXIT
    cat > full/disk.yaml <<'YAML'
version: 1
tasks:
  big:
    with-items: << range(3) >>
    run: echo << item >>; head -c 1500000 /dev/zero | tr -c b b
  after:
    run: echo << task.big | length >>
outputs:
  after: << task.after >>
YAML
    head -c 3000000 /dev/zero > full/filler
    run_wf run full/disk.yaml --store full/st -j1 --progress plain
    expect_rc "a full disk stops the run" 3
    expect_in "it says the disk is full" err.txt "No space left on device"
    rm full/filler
    run_wf run full/disk.yaml --store full/st -j1 --progress plain --resume last
    expect_rc "--resume finishes it once there is room" 0
    expect_in "with the right answer" out.txt "after: 3"
    blobs=$(du -sb full/st/blobs | cut -f1)
    if [ "$blobs" -lt 5000000 ]; then pass "one blob per output after the resume ($blobs bytes)"
    else fail "the store holds $blobs bytes for 3 x 1.5 MB"; fi
    umount "$T/full"
else
    echo "ok - # SKIP a full disk: cannot mount a tmpfs here (needs root)"
fi

done_testing
