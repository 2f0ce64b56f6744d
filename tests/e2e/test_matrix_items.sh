# A matrix is an item source computed per index (issue 16): a 1,000,000-combination matrix
# runs in bounded memory (before, the whole list of combinations was built: 1.1 GB of RSS at
# 1M), with exclude, include, labels, results and --dry-run as for a small one.
# ctest-cost: 20 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$(dirname "$0")/lib.sh"

B=$((1000 / ${WF_E2E_SCALE:-1}))
N=$((1000 * B))

cat > big.yaml <<YAML
version: 1
tasks:
  m:
    with-items:
      matrix:
        a: << range(1000) >>
        b: << range($B) >>
    action: core.noop
    label: "a<< item.a >>-b<< item.b >>"
YAML

set +e
/usr/bin/time -f '%M' -o rss.txt "$WFENGINE" run big.yaml --no-store -j2 --progress plain \
    >out.txt 2>err.txt
rc=$?
set -e
expect_rc "a matrix of $N combinations runs" 0
expect_in "every combination is a unit" err.txt "($N units)"
rss=$(tail -n 1 rss.txt)
# Generous: 58 MB here, 546 MB under ASan (its quarantine and shadow); the list of 1M
# combinations alone took 957 MiB (980,000 KB) before, without a sanitizer.
if [ "$rss" -lt 800000 ]; then pass "peak RSS ${rss} KB < 800 MB for $N combinations"; else
    fail "peak RSS ${rss} KB for $N combinations (want < 800 MB)"; fi

# --dry-run: the first combinations and how many, without the list.
run_wf run big.yaml --dry-run
expect_rc "--dry-run of the big matrix" 0
expect_in "--dry-run: how many" out.txt "with-items: matrix of $N combinations"
expect_in "--dry-run: the first combinations" out.txt '{ "a": 0, "b": 1 }'
expect_in "--dry-run: and how many more" out.txt "... ($((N - 20)) more)"

# Item i is combination i of what exclude leaves (found through the bitmap of kept ones),
# then the include entries that fit none.
cat > mid.yaml <<'YAML'
version: 1
tasks:
  m:
    with-items:
      matrix:
        a: << range(300) >>
        b: << range(70) >>
      exclude: [{b: 3}, {a: 5}, {a: 200, b: 69}]
      include: [{a: 7, tag: seven}, {a: -1, b: -1}]
    action: core.value
    input:
      value: "<< item.a >>/<< item.b >>/<< item.tag | default('') >>"
  pick:
    action: core.value
    input:
      value: ["<< task.m | length >>", "<< task.m[0] >>", "<< task.m[3] >>",
              "<< task.m[500] >>", "<< task.m[13000] >>", "<< task.m[20140] >>", "<< task.m[20630] >>"]
outputs:
  pick: << task.pick >>
YAML
run_wf run mid.yaml --no-store --json -j2 --progress none
expect_rc "a matrix with exclude over many words of the bitmap" 0
# 300 x 70 = 21000, minus 300 (b: 3), 69 more (a: 5), 1 (200/69): 20630, plus the one of its own.
python3 - >want.txt <<'PY'
kept = [(a, b) for a in range(300) for b in range(70) if b != 3 and a != 5 and (a, b) != (200, 69)]
items = ["%d/%d/%s" % (a, b, "seven" if a == 7 else "") for a, b in kept] + ["-1/-1/"]
import json
print(json.dumps([len(items)] + [items[i] for i in (0, 3, 500, 13000, 20140, 20630)], sort_keys=True))
PY
expect_json "count and values of items picked across the bitmap" 'd["outputs"]["pick"]' \
    "$(cat want.txt)"

# exclude and include computed per item: labels, values and `show` as before.
cat > small.yaml <<'YAML'
version: 1
tasks:
  m:
    with-items:
      matrix:
        os: [linux, mac, bsd]
        n: << range(4) >>
      exclude: [{os: mac, n: 1}, {os: bsd}]
      include: [{os: mac, extra: "yes"}, {os: win, n: 9}]
    run: echo "<< item.os >> << item.n >> << item.extra | default('-') >>"
    label: "<< item.os >>/<< item.n >>"
outputs:
  all: << task.m >>
YAML
run_wf run small.yaml --store st --json -j2 --progress none
expect_rc "a matrix with exclude and include" 0
expect_json "exclude and include per item" 'd["outputs"]["all"]' \
    '["linux 0 -", "linux 1 -", "linux 2 -", "linux 3 -", "mac 0 yes", "mac 2 yes", "mac 3 yes", "win 9 -"]'
run_wf show last --store st
expect_rc "show" 0
expect_in "show labels the combinations" out.txt "mac/2"
expect_in "show labels the include entry of its own" out.txt "win/9"
expect_not_in "an excluded combination is no unit" out.txt "bsd/"

# The cap stays: over WF_MAX_ITEMS combinations, the error of before.
cat > cap.yaml <<'YAML'
version: 1
tasks:
  m:
    with-items:
      matrix:
        a: << range(10000) >>
        b: << range(1001) >>
    action: core.noop
YAML
run_wf run cap.yaml --no-store
expect_rc "a matrix over the cap" 1
expect_in "the cap's message" err.txt "the matrix has 10010000 combinations, more than the 10000000 items a task may expand to; split it into several tasks"

done_testing
