#!/usr/bin/env bash
# The Slurm tests for CI: starts one throw-away one-node cluster (cluster.sh) and runs
#   (a) BUILD_DIR/check_slurm with WF_SLURM_LIVE=1 (the C API against the real cluster), and
#   (b) tests/slurm/e2e.sh with WFENGINE (the CLI end to end, with the 1,000-item fan-out),
# then tears the cluster down. Prints "SKIP: ..." and exits 0 only when the Slurm packages
# cannot be installed.
#
# Usage: bash tests/slurm/run.sh BUILD_DIR [WFENGINE]   (WFENGINE: default BUILD_DIR/wfengine)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = --inside ]; then
    # Running inside cluster.sh: both suites, and the status of the two together.
    build=$2
    wfengine=$3
    status=0
    echo "=== check_slurm (live) ==="
    t0=$(date +%s)
    "$build/check_slurm" || status=1
    echo "check_slurm: $(($(date +%s) - t0)) s"
    echo "=== e2e.sh ==="
    t0=$(date +%s)
    WFENGINE=$wfengine bash "$here/e2e.sh" || status=1
    echo "e2e.sh: $(($(date +%s) - t0)) s"
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
exec bash "$here/cluster.sh" bash "$here/run.sh" --inside "$build" "$wfengine"
