#!/usr/bin/env bash
# B12: a task printing N lines (`seq 1 N`, output: lines), a fan-out of core.value over them
# (`with-items: << task.gen >>`), and a fan-in reading `task.fan | length`, `task.fan[N-1]` and
# `task.gen[N-1]`, -j2, --no-store; at SMALL lines then N lines, one after the other. Peak RSS
# (GNU time %M) and wall time of each, and the ratio of the peaks (target, issue 16: the peak
# at 1M lines <= 1.5x the peak at 100k). The fan-in's values are checked. With --base OLD, the
# same runs with OLD first (side by side: same minutes, same load). One JSON line per run, then
# one with the ratios per binary. With --json, the task prints the same numbers as one JSON
# array (`output: json`: issue 16's JSON lists by reference) and the lines are named "json_".
#
# usage: bench/lines.sh [--wfengine PATH] [--base PATH] [--n N] [--small N] [--json] [--smoke]
#                       [--out DIR]
#   --wfengine  the binary (default: $WFENGINE, else build-bench/wfengine, else build/wfengine)
#   --base      an older binary measured beside it
#   --n         lines of the big run (default 1000000); --small: of the small one (100000)
#   --out       where the workflow goes (default: a temporary directory, removed)
#   --json      the list as a JSON array (output: json) instead of lines
#   --smoke     tiny and quick: --n 20000 --small 5000, for CI (no figure is judged)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

base=""
n=1000000
small=100000
gen="run: seq 1 << inputs.n >>"
output=lines
kind=""
while [ $# -gt 0 ]; do
    case "$1" in
    --base) base=$(abs "$2"); shift 2 ;;
    --n) n=$2; shift 2 ;;
    --small) small=$2; shift 2 ;;
    --json)
        gen="run: seq 1 << inputs.n >> | sed '1s/^/[/; \$!s/\$/,/; \$s/\$/]/'"
        output=json kind=json_
        shift ;;
    --smoke) n=20000; small=5000; shift ;;
    *) bench_common_opt "$@"; shift "$bench_shift" ;;
    esac
done
bench_find_wfengine
[ -z "$base" ] || [ -x "$base" ] || { echo "lines.sh: --base $base is not executable" >&2; exit 2; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -x /usr/bin/time ] || { echo "lines.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }
bench_out b12
cd "$out"
cat > b12.yaml <<YAML
version: 1
inputs:
  n: {type: integer}
tasks:
  gen:
    $gen
    output: $output
  fan:
    with-items: << task.gen >>
    action: core.value
    input: {value: << item >>}
  fanin:
    action: core.value
    input: {value: "<< task.fan | length >> << task.fan[-1] >> << task.gen[-1] >>"}
outputs:
  fanin: << task.fanin >>
YAML
load=$(cut -d' ' -f1-3 /proc/loadavg)

# one WHAT BINARY LINES: one run; prints its line and leaves the peak in peak.txt.
one() {
    local what=$1 bin=$2 lines=$3 rss wall got
    /usr/bin/time -f '%M %e' -o time.txt "$bin" run b12.yaml -i n="$lines" --no-store -j2 \
        --progress none > outputs.txt 2> err.txt ||
        { cat err.txt >&2; echo "lines.sh: $what at $lines lines failed" >&2; exit 1; }
    read -r rss wall < time.txt
    got=$(sed -n 's/^  fanin: //p' outputs.txt)
    [ "$got" = "$lines $lines $lines" ] ||
        { echo "lines.sh: $what: the fan-in read '$got', not '$lines $lines $lines'" >&2; exit 1; }
    echo "{\"bench\":\"B12\",\"what\":\"${kind}${what}_run\",\"lines\":$lines,\"peak_rss_kb\":$rss,\"wall_s\":$wall,\"load\":\"$load\",\"k\":1}"
    echo "$rss" > "peak_$lines.txt"
}

# both WHAT BINARY: the small run, the big run, their ratio.
both() {
    one "$1" "$2" "$small"
    one "$1" "$2" "$n"
    echo "{\"bench\":\"B12\",\"what\":\"${kind}$1_ratio\",\"peak_big_kb\":$(cat "peak_$n.txt"),\"peak_small_kb\":$(cat "peak_$small.txt"),\"ratio\":$(awk "BEGIN{printf \"%.2f\", $(cat "peak_$n.txt") / $(cat "peak_$small.txt")}"),\"k\":1}"
}

if [ -n "$base" ]; then
    both base "$base"
fi
both engine "$wfengine"
