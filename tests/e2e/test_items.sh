#!/usr/bin/env bash
# Items read one at a time (issue 16): range() and file_lines() as with-items sources up to
# the 10,000,000-item cap (cap + 1 is an error naming it), file_lines' rules and errors, and
# the dense per-item state of a task of more than 65,536 items (WF__DETAIL_ALL: only items
# that failed keep their exit code, times and error) through retries, continue-on-error and
# fail-fast. Sizes are divided by WF_E2E_SCALE where they only make the run longer.
# ctest-cost: 20 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"
scale=${WF_E2E_SCALE:-1}

# ---- range(): the cap -----------------------------------------------------------------------

cat >cap.yaml <<'Y'
version: 1
inputs:
  n: {type: integer}
tasks:
  x:
    action: core.noop
    with-items: << range(inputs.n) >>
  count:
    action: core.value
    input: {value: "<< task.x | length >>"}
outputs:
  count: << task.count >>
Y
run_wf run cap.yaml -i n=10000001 --no-store
expect_rc "range(10,000,001) fails its task" 1
expect_in "the failure names the task, the figure and the cap" err.txt \
    "x: with-items: range: 10000001 numbers is more than the 10000000 allowed"
run_wf run cap.yaml -i n=-5 --no-store --json
expect_rc "range of a negative count is an empty list" 0
expect_json "no items" 'd["tasks"]["count"]["result"]' '0'
run_wf run cap.yaml -i n=10000000 --dry-run
expect_rc "a dry run of range(10,000,000)" 0
expect_in "it counts the items without building them" out.txt "with-items: 10000000 items"
expect_in "and shows the first 20" out.txt "... (9999980 more)"
n=$((1000000 / scale))
run_wf run cap.yaml -i n=$n --no-store -q -j2
expect_rc "range($n) of core.noop" 0
expect_in "its result has $n items" out.txt "count: $n"

# ---- file_lines(): its rules -----------------------------------------------------------------

mkdir -p wf data
printf 'a\r\nb\n\nlast' >wf/items.txt
cat >wf/lines.yaml <<'Y'
version: 1
tasks:
  x:
    with-items: << file_lines('items.txt') >>
    action: core.value
    input: {value: "[<< item >>]"}
  batched:
    with-items: << file_lines('items.txt') >>
    batch-size: 3
    action: core.value
    input: {value: << item >>}
  absolute:
    with-items: << file_lines(inputs.path) >>
    action: core.value
    input: {value: << item >>}
inputs:
  path: {type: string}
Y
printf 'one\ntwo\n' >data/abs.txt
(cd data && run_wf run ../wf/lines.yaml -i path="$T/data/abs.txt" --no-store --json)
mv data/out.txt data/err.txt .
expect_rc "file_lines runs from another directory (relative to the workflow file)" 0
expect_json "CRLF, an empty line and a last line without newline" 'd["tasks"]["x"]["result"]' \
    '["[a]", "[b]", "[]", "[last]"]'
expect_json "batches of lines" 'd["tasks"]["batched"]["result"]' '[["a", "b", ""], ["last"]]'
expect_json "an absolute path from an input" 'd["tasks"]["absolute"]["result"]' '["one", "two"]'

# More lines than one window (4,096): every line lands on its own item, in order.
seq 0 9999 >wf/many.txt
cat >wf/many.yaml <<'Y'
version: 1
tasks:
  x:
    with-items: << file_lines('many.txt') >>
    action: core.value
    input: {value: "<< item | int >>"}
  check:
    action: core.value
    input: {value: "<< task.x | sum >>"}
Y
run_wf run wf/many.yaml --no-store --json -j2
expect_rc "10,000 lines in windows" 0
expect_json "each line read once, in order (their sum)" 'd["tasks"]["check"]["result"]' '49995000'
expect_json "line 4096 (the first of the second window)" 'd["tasks"]["x"]["result"][4096]' '4096'

: >wf/empty.txt
mkdir -p wf/dir.txt
cat >wf/bad.yaml <<'Y'
version: 1
tasks:
  missing:
    with-items: << file_lines('nope.txt') >>
    action: core.noop
  directory:
    with-items: << file_lines('dir.txt') >>
    action: core.noop
  empty:
    with-items: << file_lines('empty.txt') >>
    action: core.noop
  not_a_string:
    with-items: << file_lines(inputs.n) >>
    action: core.noop
inputs:
  n: {type: integer, default: 3}
Y
run_wf run wf/bad.yaml --no-store --json
expect_rc "bad files fail their tasks" 1
expect_in "a missing file: the task, the path and the reason" err.txt \
    "missing: with-items: file_lines('nope.txt'): cannot open 'wf/nope.txt': No such file or directory"
expect_in "a directory is not a file of lines" err.txt \
    "directory: with-items: file_lines('dir.txt'): 'wf/dir.txt' is not a regular file"
expect_in "an argument that is not a string" err.txt "not_a_string: with-items: "
expect_json "an empty file is an empty list" 'd["tasks"]["empty"]["result"]' '[]'
if [ "$(id -u)" -ne 0 ]; then
    printf 'x\n' >wf/secret.txt
    chmod 000 wf/secret.txt
    sed 's/nope.txt/secret.txt/' wf/bad.yaml >wf/unreadable.yaml
    run_wf run wf/unreadable.yaml --no-store
    expect_in "an unreadable file says why" err.txt \
        "file_lines('secret.txt'): cannot open 'wf/secret.txt': Permission denied"
else
    echo "ok - # skip the unreadable file as root"
fi

run_wf run wf/lines.yaml -i path=/nonexistent --dry-run
expect_in "a dry run shows a file's lines" out.txt "with-items: 4 items"
expect_in "and leaves a missing file to the run" out.txt "with-items: << file_lines(inputs.path) >> (known when it runs)"

cat >wf/misuse.yaml <<'Y'
version: 1
tasks:
  t:
    run: echo << file_lines('items.txt') | length >>
Y
run_wf validate wf/misuse.yaml
expect_rc "file_lines inside an expression is a load-time error" 2
expect_in "at its position" err.txt \
    "wf/misuse.yaml:4:18: file_lines can only be a whole with-items value"

run_wf validate wf/bad.yaml
expect_rc "a missing file is not a load error (a task may create it)" 0
expect_in "but validate warns, with the path it will read" err.txt \
    "wf/bad.yaml:4:17: warning: file_lines('nope.txt'): cannot read 'wf/nope.txt' (No such file or directory): task 'missing' will fail when it starts"
expect_in "and a directory" err.txt "file_lines('dir.txt'): 'wf/dir.txt' is not a regular file"
expect_not_in "an existing file is not warned about" err.txt "empty.txt"

# A user who read "<< lines('items.txt') >>" writes the `lines` filter on the text
# 'items.txt' (the one item "items.txt"): a load error that points at file_lines. So are
# file_lines of a constant that is not a path, and other tools' names for reading a file.
cat >wf/habits.yaml <<'Y'
version: 1
tasks:
  a:
    with-items: << lines('items.txt') >>
    action: core.noop
  b:
    with-items: << 'items.txt' | lines >>
    action: core.noop
  c:
    with-items: << file_lines(3) >>
    action: core.noop
  d:
    with-items: << readlines('items.txt') >>
    action: core.noop
  e:
    with-items: << "a\nb" | lines >>
    action: core.noop
Y
run_wf validate wf/habits.yaml
expect_rc "lines('items.txt') and the like are load errors" 2
expect_in "lines('items.txt') points at file_lines" err.txt \
    "wf/habits.yaml:4:20: lines of the text 'items.txt' is always the one item [\"items.txt\"] (lines splits a string; it does not read a file); to read the lines of a file write file_lines('items.txt') as the whole with-items value"
expect_in "so does 'items.txt' | lines" err.txt "wf/habits.yaml:7:34: lines of the text 'items.txt'"
expect_in "file_lines(3) at load time" err.txt \
    "wf/habits.yaml:10:31: file_lines: expects a path (a non-empty string), got an integer"
expect_in "readlines points at file_lines" err.txt \
    "wf/habits.yaml:13:20: unknown function 'readlines'; to take a file's lines as the items of a task write with-items: << file_lines('items.txt') >>"
expect_not_in "lines of a text with line breaks is fine" err.txt "habits.yaml:16"

# ---- dense state: a task of more than 65,536 items ------------------------------------------

# Item 7 fails (a template error) on every attempt; the others succeed.
cat >big.yaml <<'Y'
version: 1
inputs:
  n: {type: integer, default: 70000}
tasks:
  x:
    with-items: << range(inputs.n) >>
    retry: {count: 2}
    continue-on-error: true
    action: core.value
    input: {value: "<< 1 / (item - 7) >>"}
  count:
    action: core.value
    input: {value: "<< task.x | length >>"}
  statuses:
    action: core.value
    input: {value: "<< [item_status('x') | sort | first, item_status('x') | length] >>"}
Y
run_wf run big.yaml --no-store --json -j2
expect_rc "a failure under continue-on-error" 0
expect_json "the failed item keeps its attempts and error" \
    '[d["tasks"]["x"]["items"][7][k] for k in ("attempts", "status")] + ["division" in d["tasks"]["x"]["items"][7]["error"]]' \
    '[3, "failed", true]'
expect_json "its neighbours ran once" '[d["tasks"]["x"]["items"][i]["attempts"] for i in (6, 8, 69999)]' '[1, 1, 1]'
expect_json "a succeeded item of a big task: status and attempts, no duration kept" \
    'd["tasks"]["x"]["items"][12345]' \
    '{"attempts": 1, "duration_ms": null, "exit_code": null, "index": 12345, "status": "succeeded"}'
expect_json "the result: every item, null where it failed" \
    '[d["tasks"]["count"]["result"], d["tasks"]["x"]["result"][7], d["tasks"]["x"]["result"][8]]' '[70000, null, 1]'
expect_json "item_status sees the failure and every item" 'd["tasks"]["statuses"]["result"]' '["failed", 70000]'

cat >ff.yaml <<'Y'
version: 1
tasks:
  x:
    with-items: << range(70000) >>
    fail-fast: true
    concurrency: 1
    action: core.value
    input: {value: "<< 1 / (item - 7) >>"}
Y
run_wf run ff.yaml --no-store --json
expect_rc "task fail-fast in a big task" 1
expect_json "item 7 failed, none after it succeeded" \
    '[d["tasks"]["x"]["items"][7]["status"], d["tasks"]["x"]["items"][6]["status"], len([i for i in d["tasks"]["x"]["items"][8:] if i["status"] == "succeeded"])]' \
    '["failed", "succeeded", 0]'

done_testing
