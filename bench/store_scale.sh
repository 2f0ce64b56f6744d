#!/usr/bin/env bash
# B16: a store that holds 10M-unit runs (issue 16), measured through the CLI beside another
# wfengine (--base, e.g. a Release build of main before the change) in the same run:
#   run     `wfengine run` of one with-items task of N core.noop items (-j2) with the store:
#           wall, units/s, peak RSS, store bytes per unit (state.db and WAL);
#   show    `wfengine show last` (its first page) on that run;
#   report  `wfengine report last -o FILE` on that run, and the page's size;
#   resume  `wfengine run --resume last` of that run (every unit reused): wall time.
# Then, with the same binaries, `--resume` of a run with failures (cli_resume_*): a run of
# --resume-n core.noop items (default 1,000,000; 10,000,000 for the issue's figure) of which
# 3 fail (a division by zero while an input says so), then `--resume` with the input off:
# the resume's wall time and peak RSS, checked: the first run has 3 failed units, the resume
# re-ran the 3 (not reused; their neighbours reused) and ends with N succeeded.
# Then bench_store_scale (beside the binary) for the store alone at --store-units (10M:
# write rate, bytes per unit, first page, the failed page, the resume read, logs).
#
# usage: bench/store_scale.sh [--n N] [--store-units M] [--resume-n R] [--wfengine BIN]
#                             [--base BIN] [--out DIR] [--smoke]
set -euo pipefail
n=1000000
store_units=10000000
resume_n=1000000
wfengine=build/wfengine
base=""
out=""
while [ $# -gt 0 ]; do
    case $1 in
    --n) n=$2; shift 2 ;;
    --store-units) store_units=$2; shift 2 ;;
    --resume-n) resume_n=$2; shift 2 ;;
    --wfengine) wfengine=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --smoke) n=2000; store_units=20000; resume_n=3000; shift ;;
    *) echo "store_scale.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
wfengine=$(realpath "$wfengine")
[ -z "$base" ] || base=$(realpath "$base")
if [ -z "$out" ]; then out=$(mktemp -d); trap 'rm -rf "$out"' EXIT; fi
mkdir -p "$out"
cd "$out"
cat > noop.yaml <<Y
version: 1
tasks:
  fan:
    with-items: << range($n) >>
    action: core.noop
Y

now() { date +%s.%N; }
# measure NAME BIN: one round of run, show, report and resume with BIN in its own store.
measure() {
    local name=$1 bin=$2 t0 t1 rss wall bytes show report resume size
    rm -rf "store-$name"
    t0=$(now)
    /usr/bin/time -f %M -o "rss-$name" "$bin" run noop.yaml --store "store-$name" -j 2 --progress none \
        >/dev/null 2>"err-$name"
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    rss=$(cat "rss-$name")
    bytes=$(( $(stat -c %s "store-$name/state.db") + $( [ -e "store-$name/state.db-wal" ] && stat -c %s "store-$name/state.db-wal" || echo 0) ))
    t0=$(now); "$bin" show last --store "store-$name" >"show-$name.txt"; t1=$(now)
    show=$(echo "$t1 - $t0" | bc -l)
    t0=$(now); "$bin" report last --store "store-$name" -o "report-$name.html" 2>/dev/null; t1=$(now)
    report=$(echo "$t1 - $t0" | bc -l)
    size=$(stat -c %s "report-$name.html")
    t0=$(now)
    "$bin" run noop.yaml --store "store-$name" --resume last -j 2 --progress none >/dev/null 2>&1
    t1=$(now)
    resume=$(echo "$t1 - $t0" | bc -l)
    printf '{"bench":"B16","what":"cli_%s","units":%d,"run_s":%.3f,"units_per_s":%.0f,"peak_rss_kb":%d,"bytes_per_unit":%.2f,"show_s":%.3f,"report_s":%.3f,"report_bytes":%d,"resume_s":%.3f,"k":1}\n' \
        "$name" "$n" "$wall" "$(echo "$n / $wall" | bc -l)" "$rss" "$(echo "$bytes / $n" | bc -l)" \
        "$show" "$report" "$size" "$resume"
}
# Items lo + 7 fail for three lo spread over the list (the last one near its end).
step=$(( resume_n / 3 > 8 ? resume_n / 3 - 1 : 8 ))
cat > fail3.yaml <<Y
version: 1
inputs:
  fail:
    type: boolean
    default: true
tasks:
  fan:
    with-items: << range($resume_n) >>
    action: core.noop
    input:
      x: << 1 / (item % $step - 7) if inputs.fail else 0 >>
Y
want_failed=$(( (resume_n - 1 - 7) / step + 1 ))

# counts RUN BIN STORE: the task's units by status, "succeeded failed" (a one-unit page).
counts() {
    "$2" show "$1" --store "$3" --json --limit 1 | python3 -c '
import json, sys
c = json.load(sys.stdin)["tasks"][0]["counts"]
print(c["succeeded"], c["failed"])'
}

# measure_resume NAME BIN: the failing run, then its resume, in a store of their own.
measure_resume() {
    local name=$1 bin=$2 st="store-resume-$1" t0 t1 wall rss first c reused i
    rm -rf "$st"
    "$bin" run fail3.yaml --store "$st" -j 2 --progress none >/dev/null 2>&1 && {
        echo "store_scale.sh: the failing run of $name succeeded" >&2; exit 1; }
    first=$("$bin" runs --store "$st" | awk 'NR == 2 { print $1 }')
    c=$(counts "$first" "$bin" "$st")
    [ "$c" = "$((resume_n - want_failed)) $want_failed" ] || {
        echo "store_scale.sh: $name: the failing run has $c (succeeded failed)" >&2; exit 1; }
    t0=$(now)
    /usr/bin/time -f %M -o "rss-resume-$name" "$bin" run fail3.yaml --store "$st" --resume "$first" \
        -i fail=false -j 2 --progress plain >"out-resume-$name" 2>&1
    t1=$(now)
    wall=$(echo "$t1 - $t0" | bc -l)
    rss=$(cat "rss-resume-$name")
    c=$(counts last "$bin" "$st")
    [ "$c" = "$resume_n 0" ] || {
        echo "store_scale.sh: $name: the resumed run has $c (succeeded failed)" >&2; exit 1; }
    # The failed items ran again, their neighbours were reused (a page of two at each).
    for ((i = 7; i < resume_n; i += step)); do
        reused=$("$bin" show last --store "$st" --json --offset "$i" --limit 2 | python3 -c '
import json, sys
print(" ".join(str(u["reused"]).lower() for u in json.load(sys.stdin)["tasks"][0]["units"]))')
        [ "$reused" = "false true" ] || {
            echo "store_scale.sh: $name: items $i and $((i + 1)) reused: $reused, not false true" >&2
            exit 1; }
    done
    printf '{"bench":"B16","what":"cli_resume_%s","units":%d,"failed":%d,"resume_s":%.3f,"peak_rss_kb":%d,"k":1}\n' \
        "$name" "$resume_n" "$want_failed" "$wall" "$rss"
}

echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
measure new "$wfengine"
[ -z "$base" ] || measure base "$base"
measure_resume new "$wfengine"
[ -z "$base" ] || measure_resume base "$base"
echo "# load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
scale=$(dirname "$wfengine")/bench_store_scale
if [ -x "$scale" ]; then
    "$scale" --units "$store_units" --failures 3 --k 3 --dir "$out"
else
    echo "store_scale.sh: $scale is missing (configure with -DWF_BUILD_BENCH=ON)" >&2
    exit 1
fi
