#!/usr/bin/env bash
# B14: N items of `true` on a real Slurm cluster, `slurm: {pack: auto}` beside one array
# element per item, side by side in one run: wall time of `wfengine run` and how many times it
# called sbatch, squeue, scontrol, sacct and scancel (counted by wrapper scripts put first on
# the PATH, which log their name and exec the real tool). Prints one JSON line per run:
#
#   {"bench":"B14","what":"pack_auto","items":5000,"wall_s":9.8,"sbatch":2,"squeue":14,...}
#
# The cluster is the one SLURM_CONF names (tests/slurm/cluster.sh exports it):
#   bash tests/slurm/cluster.sh bash bench/slurm_pack.sh --wfengine build/wfengine
#
# usage: bench/slurm_pack.sh [--wfengine PATH] [--n N] [--n-unpacked M] [--only auto|unpacked]
#   --n           items of the packed run (default 5000)
#   --n-unpacked  items of the unpacked run (default: N); it must fit the cluster's
#                 MaxArraySize unless wfengine splits arrays
#   --only        run one side only
# The work directory is under SLURM_CI_WORK (a directory the node sees), else the current one.
set -euo pipefail

wfengine=${WFENGINE:-build/wfengine}
n=5000
n_unpacked=
only=
while [ $# -gt 0 ]; do
    case $1 in
    --wfengine) wfengine=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --n-unpacked) n_unpacked=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "usage: $0 [--wfengine PATH] [--n N] [--n-unpacked M] [--only auto|unpacked]" >&2; exit 2 ;;
    esac
done
n_unpacked=${n_unpacked:-$n}
if [ -z "${SLURM_CONF:-}" ]; then
    echo "$0: SLURM_CONF is not set: run it through tests/slurm/cluster.sh" >&2
    exit 2
fi
case $wfengine in /*) ;; *) wfengine=$(cd "$(dirname "$wfengine")" && pwd)/$(basename "$wfengine") ;; esac

work=$(mktemp -d "${SLURM_CI_WORK:-$PWD}/b14.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/bin"
for tool in sbatch squeue scontrol sacct scancel; do
    real=$(command -v "$tool" || true)
    [ -n "$real" ] || { echo "$0: $tool is not on the PATH" >&2; exit 2; }
    printf '#!/bin/sh\necho %s >>"%s/calls"\nexec %s "$@"\n' "$tool" "$work" "$real" \
        >"$work/bin/$tool"
    chmod +x "$work/bin/$tool"
done

# run WHAT ITEMS PACK_LINE: one run, one JSON line.
run() {
    local what=$1 items=$2 pack=$3 t0 t1 rc
    mkdir "$work/$what"
    cat >"$work/$what/flow.yaml" <<Y
version: 1
tasks:
  t:
    executor: slurm
    with-items: << range($items) >>
    $pack
    run: "true"
Y
    : >"$work/calls"
    t0=$(date +%s.%N)
    set +e
    (cd "$work/$what" && PATH="$work/bin:$PATH" "$wfengine" run flow.yaml --no-store \
        >out.txt 2>err.txt)
    rc=$?
    set -e
    t1=$(date +%s.%N)
    count() { grep -c "^$1\$" "$work/calls" || true; }
    printf '{"bench":"B14","what":"%s","items":%d,"exit":%d,"wall_s":%.2f,"sbatch":%d,"squeue":%d,"scontrol":%d,"sacct":%d,"scancel":%d}\n' \
        "$what" "$items" "$rc" "$(echo "$t1 - $t0" | bc)" "$(count sbatch)" "$(count squeue)" \
        "$(count scontrol)" "$(count sacct)" "$(count scancel)"
    if [ $rc -ne 0 ]; then tail -n 3 "$work/$what/err.txt" >&2; fi
}

[ "$only" = unpacked ] || run pack_auto "$n" "slurm: {pack: auto}"
[ "$only" = auto ] || run unpacked "$n_unpacked" ""
