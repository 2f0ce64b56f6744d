#!/usr/bin/env bash
# Local packing, measured: N tiny `run` items (/bin/true) on this machine, -j2, two ways side
# by side in one run (interleaved rounds, medians of K):
#
#   engine  `wfengine run` of one with-items task over range(N), `run: /bin/true`, -j 2,
#           --no-store: one process per item, as wfengine runs them today (its pipes, process
#           group, TMPDIR, status and result per item included).
#   packed  what a local pack would at least cost: 2 shells (one per job slot), each running
#           its N/2 items one after the other, each item still its own process with its own
#           stdout, stderr and exit-status files (as the Slurm pack script does, without its
#           env -i and TMPDIR) -- and nothing else: no engine, no reading the files back. A
#           packed engine could only be slower than this.
#
# Prints one JSON line per way: {"bench":"local_pack","what":"engine","items":1000,...}
#
# usage: bench/local_pack.sh [--wfengine PATH] [--n N] [--k K]
set -euo pipefail

wfengine=${WFENGINE:-build/wfengine}
n=1000
k=5
while [ $# -gt 0 ]; do
    case $1 in
    --wfengine) wfengine=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    *) echo "usage: $0 [--wfengine PATH] [--n N] [--k K]" >&2; exit 2 ;;
    esac
done
case $wfengine in /*) ;; *) wfengine=$(cd "$(dirname "$wfengine")" && pwd)/$(basename "$wfengine") ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
cat >flow.yaml <<Y
version: 1
tasks:
  t:
    with-items: << range($n) >>
    run: /bin/true
Y
cat >pack.sh <<'S'
# pack.sh FROM TO: items FROM..TO-1, one after the other, each its own process and files.
k=$1
while [ "$k" -lt "$2" ]; do
    /bin/true </dev/null >"out.$k" 2>"err.$k"
    echo $? >"rc.$k"
    k=$((k + 1))
done
S

now() { date +%s%N; }
engine_ms=()
packed_ms=()
for round in $(seq 0 "$k"); do
    t0=$(now)
    "$wfengine" run flow.yaml -j 2 --no-store -q >/dev/null 2>&1
    t1=$(now)
    rm -f out.* err.* rc.*
    t2=$(now)
    sh pack.sh 0 $((n / 2)) &
    sh pack.sh $((n / 2)) "$n"
    wait
    t3=$(now)
    [ "$(ls rc.* | wc -l)" -eq "$n" ] || { echo "$0: the packs did not run every item" >&2; exit 1; }
    if [ "$round" -gt 0 ]; then # round 0 is the warm-up
        engine_ms+=($(((t1 - t0) / 1000000)))
        packed_ms+=($(((t3 - t2) / 1000000)))
    fi
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }
e=$(median "${engine_ms[@]}")
p=$(median "${packed_ms[@]}")
printf '{"bench":"local_pack","what":"engine","items":%d,"ms":%d,"us_per_item":%d,"k":%d}\n' \
    "$n" "$e" $((e * 1000 / n)) "$k"
printf '{"bench":"local_pack","what":"packed","items":%d,"ms":%d,"us_per_item":%d,"vs_engine":%s,"k":%d}\n' \
    "$n" "$p" $((p * 1000 / n)) "$(echo "scale=2; $p / $e" | bc)" "$k"
