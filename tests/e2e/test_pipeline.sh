#!/usr/bin/env bash
# Pipelines (`pipeline: true`, docs/workflow-format.md "Pipelines"): a 3-stage chain runs item
# by item with its results in item order; a source item that fails after its retries skips
# the items downstream of it while the others go on, and a `when` with a status function
# still runs its item; a chain stopped by SIGINT and resumed runs again only the items that
# had not succeeded, at each stage; the cache works per item; every load error of the key.
# ctest-cost: 43 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

N=$((6 * ${WF_E2E_SCALE:-1}))

# stage_count FILE STAGE: lines "STAGE INDEX" in FILE (one per unit that started).
stage_count() { grep -c "^$2 " "$1" || true; }

# ---- a 3-stage chain: results in order, stage 3 of the first items before stage 1 ends ------
cat > chain.yaml <<Y
version: 1
tasks:
  a:
    with-items: << range($N) >>
    run: echo "a << index >>" >> ran.txt; sleep 0.05; echo \$((<< item >> * 10))
    output: json
  b:
    with-items: << task.a >>
    pipeline: true
    run: echo "b << index >>" >> ran.txt; sleep 0.05; echo \$((<< item >> + 1))
    output: json
  c:
    with-items: << task.b >>
    pipeline: true
    run: echo "c << index >>" >> ran.txt; sleep 0.05; echo "c<< item >>"
  after:
    run: echo "<< task.c | join(',') >>"
outputs:
  c: << task.c >>
  after: << task.after >>
Y
run_wf run chain.yaml -j2 --json
expect_rc "chain: succeeds" 0
want=$(python3 -c "print(','.join('c%d' % (i * 10 + 1) for i in range($N)))")
expect_json "chain: results in item order at the last stage" '",".join(d["outputs"]["c"])' "\"$want\""
expect_json "chain: a plain dependent sees the whole list" 'd["outputs"]["after"].strip()' "\"$want\""
first_c=$(grep -n '^c ' ran.txt | head -n 1 | cut -d: -f1)
last_a=$(grep -n '^a ' ran.txt | tail -n 1 | cut -d: -f1)
if [ "$first_c" -lt "$last_a" ]; then pass "chain: c[0] starts before the last item of a"; else
    fail "chain: the first c started at line $first_c, the last a at $last_a" "$(cat ran.txt)"; fi
# Depth first with two workers: an item of a starts only when no item of b or c is ready, so
# the first item of c starts after at most three of a (two, unless one of them is much slower
# than the other's whole way through b). check_dispatch tests the exact order.
if [ "$(head -n "$((first_c - 1))" ran.txt | grep -c '^a ')" -le 3 ]; then
    pass "chain: depth first (c starts after at most 3 items of a)"
else fail "chain: not depth first" "$(cat ran.txt)"; fi
rm -f ran.txt

run_wf run chain.yaml --dry-run
expect_in "dry run: a stage says it goes item by item" out.txt \
    "with-items: << task.a >> (pipeline: item by item, as its source's items succeed)"

# ---- a source item that fails after its retries -----------------------------------------
cat > fail.yaml <<'Y'
version: 1
tasks:
  a:
    with-items: << range(5) >>
    retry: {count: 2, delay: 10ms}
    run: |
      echo "a << index >>" >> ran.txt
      if [ << item >> = 2 ]; then exit 3; fi
      echo << item >>
    output: json
  b:
    with-items: << task.a >>
    pipeline: true
    run: echo "b << index >>" >> ran.txt; echo b<< item >>
  c:
    with-items: << task.b >>
    pipeline: true
    run: echo "c << index >>" >> ran.txt; echo c-<< item >>
  rescue:
    with-items: << task.a >>
    pipeline: true
    when: << always() >>
    run: echo "rescue << index >> << item ?? 'none' >>"
outputs:
  c: << task.c >>
  rescue: << task.rescue >>
Y
run_wf run fail.yaml -j2 --json
expect_rc "failed source item: the run fails" 1
expect_in "failed source item: tried 3 times" ran.txt "a 2"
if [ "$(grep -c '^a 2$' ran.txt)" = 3 ]; then pass "failed source item: 3 attempts"; else
    fail "failed source item: $(grep -c '^a 2$' ran.txt) attempts, want 3"; fi
expect_not_in "failed source item: b[2] never ran" ran.txt "b 2"
expect_not_in "failed source item: c[2] never ran" ran.txt "c 2"
expect_json "failed source item: the others go through" 'd["outputs"]["c"]' \
    '["c-b0", "c-b1", null, "c-b3", "c-b4"]'
expect_json "failed source item: when: always() runs the item, with a null item" \
    'd["outputs"]["rescue"]' '["rescue 0 0", "rescue 1 1", "rescue 2 none", "rescue 3 3", "rescue 4 4"]'
run_wf show last
expect_in "failed source item: show says why b[2] was skipped" out.txt "source item 2 of 'a' failed"
expect_in "failed source item: and why c[2] was" out.txt "source item 2 of 'b' skipped"
expect_in "show: a stage names its source" out.txt "(5 items, pipelined from a)"
expect_in "show: how far the items of a chain got" out.txt \
    "pipeline a -> b -> c (5 items): 4 through, 1 stopped at a"
expect_in "show: a stage that runs every item" out.txt "pipeline a -> rescue (5 items): 5 through"
run_wf show last --json
expect_json "show --json: the source of each task" '[t.get("source") for t in d["tasks"]]' \
    '[null, "a", "b", "a"]'
run_wf report last -o report.html
expect_in "report: a stage names its source" report.html "5 items, pipelined from b"
rm -f ran.txt

# ---- stopped by SIGINT, then resumed: only the items not succeeded run again ------------------
M=$((12 * ${WF_E2E_SCALE:-1}))
cat > long.yaml <<Y
version: 1
tasks:
  a:
    with-items: << range($M) >>
    run: echo "a << index >>" >> ran.txt; sleep 0.1; echo << item >>
    output: json
  b:
    with-items: << task.a >>
    pipeline: true
    run: echo "b << index >>" >> ran.txt; sleep 0.1; echo \$((<< item >> * 2))
    output: json
  c:
    with-items: << task.b >>
    pipeline: true
    run: echo "c << index >>" >> ran.txt; sleep 0.1; echo c<< item >>
outputs:
  c: << task.c >>
Y
set +e
"$WFENGINE" run long.yaml -j2 --progress plain >out.txt 2>err.txt &
pid=$!
wait_for 60 eval '[ "$(stage_count ran.txt c 2>/dev/null)" -ge 3 ] 2>/dev/null' || true
kill -INT "$pid"
wait "$pid"
rc=$?
set -e
expect_rc "resume: SIGINT stops the chain" 130
expect_in "progress: a stage names its source" err.txt "c: $M items, pipelined from b"
run_wf show last --json
read -r ok_a ok_b ok_c < <(json_get '" ".join(str(sum(u["status"] == "succeeded" for u in t["units"])) for t in d["tasks"])' | tr -d '"')
if [ "$ok_c" -ge 1 ] && [ "$ok_a" -lt "$M" ]; then
    pass "resume: stopped midway ($ok_a, $ok_b, $ok_c of $M succeeded per stage)"
else fail "resume: stopped at a=$ok_a b=$ok_b c=$ok_c of $M"; fi
: > ran.txt
run_wf run long.yaml -j2 --resume last --json
expect_rc "resume: the resumed run succeeds" 0
for s in a b c; do
    ok=$(eval echo "\$ok_$s")
    got=$(stage_count ran.txt "$s")
    if [ "$got" = $((M - ok)) ]; then pass "resume: $s ran again $got items (the $((M - ok)) not succeeded)"
    else fail "resume: $s ran $got items, want $((M - ok))" "$(cat ran.txt)"; fi
done
want=$(python3 -c "print([f'c{2 * i}' for i in range($M)])" | tr "'" '"')
expect_json "resume: every result, in order" 'd["outputs"]["c"]' "$want"
run_wf show last --json
expect_json "resume: the reused items are recorded as such, per stage" \
    '[sum(bool(u["reused"]) for u in t["units"]) for t in d["tasks"]]' "[$ok_a, $ok_b, $ok_c]"
rm -f ran.txt

# ---- the cache, per item ---------------------------------------------------------------------
cat > cache.yaml <<'Y'
version: 1
inputs:
  odd: {type: integer, default: 1}
tasks:
  a:
    with-items: << range(4) >>
    run: if [ << item >> = << inputs.odd >> ]; then echo 100; else echo << item >>; fi
    output: json
  b:
    with-items: << task.a >>
    pipeline: true
    cache: true
    run: echo "b << index >>" >> ran.txt; echo b<< item >>
outputs:
  b: << task.b >>
Y
run_wf run cache.yaml --json
expect_rc "cache: first run" 0
run_wf run cache.yaml -i odd=2 --json
expect_json "cache: results of the second run" 'd["outputs"]["b"]' '["b0", "b1", "b100", "b3"]'
if [ "$(stage_count ran.txt b)" = 6 ] && [ "$(grep -c '^b 1$' ran.txt)" = 2 ] &&
    [ "$(grep -c '^b 2$' ran.txt)" = 2 ]; then
    pass "cache: the second run ran only the two items whose source result changed"
else fail "cache: ran" "$(cat ran.txt)"; fi
rm -f ran.txt

# ---- load errors ---------------------------------------------------------------------------
cat > bad.yaml <<'Y'
version: 1
tasks:
  a:
    with-items: [1, 2, 3]
    run: echo << item >>
  plain:
    run: echo hi
  nowi:
    pipeline: true
    run: echo x
  notres:
    with-items: << task.a | reverse >>
    pipeline: true
    run: echo << item >>
  notwi:
    with-items: << task.plain >>
    pipeline: true
    run: echo << item >>
  batched:
    with-items: << task.a >>
    batch-size: 2
    pipeline: true
    run: echo << item >>
  whole:
    with-items: << task.a >>
    pipeline: true
    run: echo << item >> of << task.a | length >>
Y
run_wf validate bad.yaml
expect_rc "load errors: refused" 2
expect_in "load errors: pipeline without with-items" err.txt \
    "bad.yaml:9:5: 'pipeline: true' takes another with-items task's results item by item and needs 'with-items: << task.NAME >>'; task 'nowi' has no 'with-items'"
expect_in "load errors: with-items not a task's results" err.txt \
    "bad.yaml:12:17: task 'notres' has 'pipeline: true', so its with-items must be another with-items task's results, exactly '<< task.NAME >>'"
expect_in "load errors: a source without with-items" err.txt \
    "bad.yaml:16:17: task 'notwi' has 'pipeline: true', but its source 'plain' has no 'with-items'"
expect_in "load errors: with batch-size" err.txt \
    "bad.yaml:21:5: 'pipeline' takes the source task's results one by one, and with 'batch-size' a unit is a batch of them"
expect_in "load errors: the source read as a whole, named, with the fix" err.txt \
    "bad.yaml:27:32: '<< task.a | length >>' reads task 'a' as a whole, but task 'whole' is pipelined from it and takes its results one by one; use item"
expect_in "load errors: all of them" err.txt "bad.yaml: 5 errors"

done_testing
