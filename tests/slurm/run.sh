#!/usr/bin/env bash
# The Slurm tests for CI: runs, side by side, each on its own throw-away one-node cluster
# (cluster.sh),
#   (a) BUILD_DIR/check_slurm with WF_SLURM_LIVE=1 (the C API against the real cluster), and
#   (b) tests/slurm/e2e.sh with WFENGINE (the CLI end to end, with the 1,000-item fan-out),
# then prints their output, (a) first, and tears the clusters down. Two clusters, because
# both suites mostly wait on Slurm (about 120 s and 180 s one after the other) and e2e.sh
# asserts on the whole queue (nothing left in squeue). Prints "SKIP: ..." and exits 0 only
# when the Slurm packages cannot be installed.
#
# Usage: bash tests/slurm/run.sh BUILD_DIR [WFENGINE]   (WFENGINE: default BUILD_DIR/wfengine)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --inside ]; then
    # Running inside cluster.sh: one suite, and how long it took.
    t0=$(date +%s)
    status=0
    case $2 in
    check_slurm) "$3/check_slurm" || status=1 ;;
    e2e.sh) WFENGINE=$4 bash "$here/e2e.sh" || status=1 ;;
    esac
    echo "$2: $(($(date +%s) - t0)) s"
    exit $status
fi

if [ $# -lt 1 ]; then
    echo "usage: $0 BUILD_DIR [WFENGINE]" >&2
    exit 2
fi
build=$(cd "$1" && pwd)
wfengine=${2:-$build/wfengine}
case $wfengine in /*) ;; *) wfengine=$(cd "$(dirname "$wfengine")" && pwd)/$(basename "$wfengine") ;; esac
for f in "$build/check_slurm" "$wfengine"; do
    if [ ! -x "$f" ]; then
        echo "$0: $f is missing: build it first" >&2
        exit 2
    fi
done

logs=$(mktemp -d /tmp/slurm-run.XXXXXX)
pids=()
# Each suite's cluster is its own process group, taken down if we are stopped.
trap 'for p in "${pids[@]}"; do kill -TERM -- -"$p" 2>/dev/null; done; rm -rf "$logs"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for suite in check_slurm e2e.sh; do
    setsid bash "$here/cluster.sh" bash "$here/run.sh" --inside "$suite" "$build" "$wfengine" \
        >"$logs/$suite" 2>&1 &
    pids+=($!)
    # The next cluster takes the first free port pair: wait until this one holds its own
    # (cluster.sh prints "slurm up" or "SKIP", or ends).
    for _ in $(seq 1 600); do
        grep -qE '^(slurm up|SKIP)' "$logs/$suite" && break
        kill -0 "${pids[-1]}" 2>/dev/null || break
        sleep 0.1
    done
done
status=0
for i in 0 1; do
    wait "${pids[i]}" || status=1
done
for suite in check_slurm e2e.sh; do
    echo "=== $suite ==="
    cat "$logs/$suite"
done
pids=()
exit $status
