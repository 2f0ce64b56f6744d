#!/usr/bin/env bash
# One copy of each result on disk (issue 16): a large result that is the unit's stdout,
# converted by its output mode (text, json, lines), is not written again as a result blob;
# the store reads it back from the stdout blob for --resume and for the cache, and the results
# are the same as when they were in memory.
# ctest-cost: 15 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

# 200 KB per unit: well above what the store keeps inline.
cat > big.yaml <<'Y'
version: 1
tasks:
  text:
    run: python3 -c "print('t' * 200000)"
  json:
    run: >-
      python3 -c "import json; print(json.dumps({'k': list(range(30000))}))"
    output: json
  lines:
    run: python3 -c "print('\n'.join(str(i) for i in range(30000)))"
    output: lines
  cached:
    run: python3 -c "print('c' * 200000)"; echo ran >> cached.log
    cache: true
  check:
    needs: [text, json, lines, cached]
    run: test << task.text | length >> = 200000 && test << task.json.k | length >> = 30000 && test << task.lines[29999] >> = 29999 && test << task.cached | length >> = 200000 && test -e pass
outputs:
  sizes: << [task.text | length, task.json.k | length, task.lines | length, task.cached | length] >>
Y

# blob_bytes: the bytes of every blob in the store.
blob_bytes() { find .wfengine/blobs -type f ! -name '.tmp-*' -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

run_wf run big.yaml
expect_rc "the first run fails only at check" 1
bytes=$(blob_bytes)
# stdout of the four big units: 200,001 + 168,895 + 168,890 + 200,001 bytes; a second copy
# of each would double that.
if [ "$bytes" -gt 700000 ] && [ "$bytes" -lt 900000 ]; then
    pass "each large result is on disk once ($bytes bytes of blobs)"
else
    fail "each large result is on disk once: $bytes bytes of blobs, want 700,000-900,000"
fi
touch pass
run_wf run big.yaml --resume last --json
expect_rc "--resume runs check against the results read back from the stdout blobs" 0
expect_json "the results read back are the results" 'd["outputs"]["sizes"]' '[200000, 30000, 30000, 200000]'
run_wf show last --json
expect_json "the four were reused, check ran" '[[t["name"], t["units"][0].get("reused", False)] for t in d["tasks"]]' '[["text", true], ["json", true], ["lines", true], ["cached", true], ["check", false]]'

# The cache: a new run (not a resume) takes `cached` from its entry, read from the blob.
run_wf run big.yaml --json
expect_rc "a new run succeeds" 0
expect_json "with the same results" 'd["outputs"]["sizes"]' '[200000, 30000, 30000, 200000]'
if [ "$(wc -l < cached.log)" -eq 1 ]; then pass "the cached unit ran once"; else
    fail "the cached unit ran $(wc -l < cached.log) times, want 1"; fi
run_wf show last --json
expect_json "the cache hit is recorded" '[t["units"][0].get("cached", False) for t in d["tasks"] if t["name"] == "cached"]' '[true]'

# A stdout blob that is gone: the cache entry is a miss (the unit runs again), and a resume
# that needs it says the store is damaged.
find .wfengine/blobs -type f -size +190k -size -210k -exec grep -l '^c*$' {} + | xargs rm -f
run_wf run big.yaml
expect_rc "a missing stdout blob makes the cache entry a miss" 0
if [ "$(wc -l < cached.log)" -eq 2 ]; then pass "the cached unit ran again"; else
    fail "the cached unit ran $(wc -l < cached.log) times, want 2"; fi

done_testing
