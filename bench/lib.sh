# bench/lib.sh: what the shell benchmarks share (lines.sh, byref.sh, pipeline.sh, peers.sh):
# the paths, the options every one has, and the binary they measure. Sourced after
# `set -euo pipefail`; it moves to the repository's root (relative paths given on the command
# line stay relative to where the script was started, through abs).
#
#   bench_common_opt "$@"  in the option loop, for an option the script does not handle:
#                          --wfengine PATH, --out DIR, -h/--help (the script's header), or an
#                          unknown option (exit 2); shifts by $bench_shift afterwards
#   bench_find_wfengine    $wfengine, else the first of build-bench/, build/ (and any more
#                          build directories given) that has one; exit 2 if none
#   bench_out TAG          $out, else a new temporary directory (removed at exit); made
bench_name=$(basename "$0")
here=$PWD
cd "$(dirname "$0")/.."
root=$PWD

# An absolute path for a path given relative to where the script was started.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$here/$1" ;; esac; }

wfengine=${WFENGINE:+$(abs "$WFENGINE")}
out=""

bench_common_opt() {
    case "$1" in
    --wfengine) wfengine=$(abs "$2"); bench_shift=2 ;;
    --out) out=$(abs "$2"); bench_shift=2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "$bench_name: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
}

bench_find_wfengine() {
    local c
    if [ -z "$wfengine" ]; then
        for c in build-bench build "$@"; do
            if [ -x "$root/$c/wfengine" ]; then wfengine=$root/$c/wfengine; break; fi
        done
    fi
    if [ -z "$wfengine" ] || [ ! -x "$wfengine" ]; then
        echo "$bench_name: no wfengine binary; build it (cmake --build build-bench) or pass --wfengine" >&2
        exit 2
    fi
}

bench_out() {
    if [ -z "$out" ]; then
        out=$(mktemp -d "${TMPDIR:-/tmp}/wf-$1.XXXXXX")
        trap 'rm -rf "$out"' EXIT
    fi
    mkdir -p "$out"
}
