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

# A cache hit whose result is in a blob is a reference to it, like any large result: a
# lines result's `| length` and `[i]` load nothing, the hit's record points at the same blob
# (no copy), and the line count comes from the entry, not from reading the blob.
cat > hit.yaml <<'Y'
version: 1
tasks:
  gen:
    run: python3 -c "print('\n'.join('line-%d' % i for i in range(30000)))"; echo ran >> gen.log
    output: lines
    cache: true
  use:
    needs: [gen]
    action: core.value
    input: {value: "<< task.gen | length >> << task.gen[5] >> << task.gen[-1] >>"}
outputs:
  use: << task.use >>
Y
# hdb SQL: one row of hs's database, as Python prints it.
hdb() { python3 -c "import sqlite3, sys; print(sqlite3.connect('hs/state.db').execute(sys.argv[1]).fetchone())" "$1"; }
run_wf run hit.yaml --store hs --json
expect_rc "hit: the first run succeeds" 0
expect_json "hit: the first run's values" 'd["outputs"]["use"]' '"30000 line-5 line-29999"'
run_wf run hit.yaml --store hs --json
expect_rc "hit: the second run succeeds" 0
if [ "$(wc -l < gen.log)" -eq 1 ]; then pass "hit: gen ran once"; else
    fail "hit: gen ran $(wc -l < gen.log) times, want 1"; fi
expect_json "hit: the same values from the cache" 'd["outputs"]["use"]' '"30000 line-5 line-29999"'
expect_json "hit: nothing loaded for | length and [i]" 'd["results_memory"]["loads"]' '0'
got=$(hdb "SELECT result_from, result_hash, result_lines FROM units WHERE task = 'gen' AND cached = 1")
[ "$got" = "('lines', None, 30000)" ] && pass "hit: its record points at the stdout blob" ||
    fail "hit: its record is $got, want ('lines', None, 30000)"
# The entry's count is used: with the blob's newlines made spaces (same size), a hit still
# says 30000 lines (a count by reading it would say 1).
python3 -c "
import os, sqlite3
h = sqlite3.connect('hs/state.db').execute('SELECT stdout_hash FROM cache').fetchone()[0]
p = 'hs/blobs/%s/%s' % (h[:2], h)
data = open(p, 'rb').read().replace(b'\\n', b' ')
os.chmod(p, 0o644)
open(p, 'wb').write(data)"
sed 's/ << task.gen\[5\] >> << task.gen\[-1\] >>//' hit.yaml > hit-len.yaml
run_wf run hit-len.yaml --store hs --json
expect_rc "hit: a run reading only the length succeeds" 0
expect_json "hit: the length is the entry's (no blob read)" 'd["outputs"]["use"]' '30000'

# A JSON array that is a unit's stdout keeps its item count in its record, so a resumed or a
# cached array is a list by reference like a fresh one: `| length` and `[i]` load nothing,
# and a --memory below the array's size does not stop them (before, the reused array was a
# whole value: loaded, or over the budget an error).
cat > arr.yaml <<'Y'
version: 1
tasks:
  gen:
    run: python3 -c "import json; print(json.dumps(['item-%d' % i for i in range(30000)]))"; echo ran >> arr.log
    output: json
    cache: true
  use:
    needs: [gen]
    run: test -e arr-pass && printf '%s %s %s' << task.gen | length >> << task.gen[5] >> << task.gen[-1] >>
outputs:
  use: << task.use >>
Y
adb() { python3 -c "import sqlite3, sys; print(sqlite3.connect('as/state.db').execute(sys.argv[1]).fetchone())" "$1"; }
run_wf run arr.yaml --store as --memory 64K
expect_rc "array: the first run fails at use" 1
got=$(adb "SELECT result_from, result_lines FROM units WHERE task = 'gen'")
[ "$got" = "('json', 30000)" ] && pass "array: its record keeps the item count" ||
    fail "array: its record is $got, want ('json', 30000)"
touch arr-pass
run_wf run arr.yaml --store as --memory 64K --resume last --json
expect_rc "array: the resume succeeds with a budget below the array" 0
expect_json "array: resumed, the values" 'd["outputs"]["use"]' '"30000 item-5 item-29999"'
expect_json "array: resumed, nothing loaded whole" 'd["results_memory"]["loads"]' '0'
run_wf run arr.yaml --store as --memory 64K --json
expect_rc "array: a run from the cache succeeds" 0
if [ "$(wc -l < arr.log)" -eq 1 ]; then pass "array: gen ran once"; else
    fail "array: gen ran $(wc -l < arr.log) times, want 1"; fi
expect_json "array: cached, the values" 'd["outputs"]["use"]' '"30000 item-5 item-29999"'
expect_json "array: cached, nothing loaded whole" 'd["results_memory"]["loads"]' '0'
# The count is checked against the blob at the first item read: a blob that no longer is
# that array (same size, one item fewer) fails the unit that reads it, saying so.
python3 -c "
import os, sqlite3
h = sqlite3.connect('as/state.db').execute('SELECT stdout_hash FROM cache').fetchone()[0]
p = 'as/blobs/%s/%s' % (h[:2], h)
data = open(p, 'rb').read().replace(b'\"item-0\", ', b'         ', 1)
os.chmod(p, 0o644)
open(p, 'wb').write(data)"
run_wf run arr.yaml --store as --memory 64K
expect_rc "array: a changed blob fails the run" 1
cat out.txt err.txt > arr-both.txt
expect_in "array: the error says the kept result changed" arr-both.txt \
    "has 29999 items, not the 30000 recorded"

# A stdout blob that is gone: the cache entry is a miss (the unit runs again), and a resume
# that needs it says the store is damaged.
find .wfengine/blobs -type f -size +190k -size -210k -exec grep -l '^c*$' {} + | xargs rm -f
run_wf run big.yaml
expect_rc "a missing stdout blob makes the cache entry a miss" 0
if [ "$(wc -l < cached.log)" -eq 2 ]; then pass "the cached unit ran again"; else
    fail "the cached unit ran $(wc -l < cached.log) times, want 2"; fi

done_testing
