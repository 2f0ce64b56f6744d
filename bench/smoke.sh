#!/usr/bin/env bash
# Smoke test of bench/ for CI: runs every benchmark once with small sizes and checks that each
# prints its JSON result lines. No timing is judged (CI machines are shared and noisy).
#
# usage: bench/smoke.sh [BUILD_DIR]   (default build-test; the benchmarks are built by default)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-test}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for b in bench_ctx bench_expand bench_render bench_dispatch bench_rss bench_proc bench_store bench_store_scale; do
    if [ ! -x "$build/$b" ]; then
        echo "bench smoke: $build/$b is missing (configure with -DWF_BUILD_BENCH=ON)" >&2
        exit 1
    fi
done

# check NAME LINES COMMAND...: runs COMMAND, prints its output (also kept in $out), and fails
# unless it exits 0 and prints at least LINES lines of the form {"bench":"B<n>",...}.
out=""
check() {
    local name=$1 want=$2 lines
    shift 2
    if ! out=$("$@"); then
        echo "bench smoke: $name failed: $*" >&2
        exit 1
    fi
    printf '%s\n' "$out"
    lines=$(printf '%s\n' "$out" | grep -c '^{"bench":"B[0-9][0-9]*","what":"[a-z_]*",.*,"k":[0-9]*}$' || true)
    if [ "$lines" -lt "$want" ]; then
        echo "bench smoke: $name printed $lines result lines, expected $want" >&2
        exit 1
    fi
}

check B1 2 "$build/bench_ctx" --results 0,1000 --ops 100000 --k 1 --warmup 0
check B2 4 "$build/bench_expand" --items 1000,2000 --k 1 --warmup 0
check B3 2 "$build/bench_render" --items 1000 --k 1 --warmup 0
check B4 2 "$build/bench_dispatch" --units 1000 --k 1 --warmup 0
check B4-store 2 "$build/bench_dispatch" --units 1000 --k 1 --warmup 0 --store "$tmp/store"
check B6 1 "$build/bench_rss" --items 20000 --base 1000
check B5-floor 4 "$build/bench_proc" --n 20 --k 1 --warmup 0
check B7 1 "$build/bench_store" --records 1000 --k 1 --warmup 0 --dir "$tmp"
# B11: the load line and one per mode (no store, store); it checks the count task's result.
check B11 3 bash bench/items.sh --smoke --wfengine "$build/wfengine" --out "$tmp/b11"
check B11 3 bash bench/items.sh --smoke --matrix --wfengine "$build/wfengine" --out "$tmp/b11m"
check B16 7 bash bench/store_scale.sh --smoke --wfengine "$build/wfengine" --out "$tmp/b16"
check B15 3 bash bench/load.sh --n 2000 --k 1 --wfengine "$build/wfengine"
check peers 4 bash bench/peers.sh --smoke --profile --wfengine "$build/wfengine" --out "$tmp/peers"
# --profile: one line per tool and work, or one saying that perf cannot record here.
profiles=$(printf '%s\n' "$out" | grep -c '^{"bench":"profile","what":"[a-z_]*","tool":"[a-z]*","samples":[1-9][0-9]*,.*}$' || true)
if [ "$profiles" -ne 4 ] && ! printf '%s\n' "$out" | grep -q '^{"bench":"profile","skipped":'; then
    echo "bench smoke: peers.sh --profile printed $profiles profile lines, expected 4" >&2
    exit 1
fi
check B10 4 bash bench/byref.sh --smoke --wfengine "$build/wfengine" --out "$tmp/b10"
check B12 3 bash bench/lines.sh --smoke --wfengine "$build/wfengine" --out "$tmp/b12"
check B12 3 bash bench/lines.sh --json --smoke --wfengine "$build/wfengine" --out "$tmp/b12j"
# B13 prints a line per form (3) and one with the ratios.
out=$(bash bench/pipeline.sh --smoke --wfengine "$build/wfengine" --out "$tmp/b13") || {
    echo "bench smoke: B13 failed: bench/pipeline.sh --smoke" >&2
    exit 1
}
printf '%s\n' "$out"
if [ "$(printf '%s\n' "$out" | grep -c '^{"bench": "B13", "form": ')" -ne 3 ] ||
    ! printf '%s\n' "$out" | grep -q '^{"bench": "B13", "what": "ratios", '; then
    echo "bench smoke: B13 printed other lines than expected" >&2
    exit 1
fi
echo "bench smoke: every benchmark ran"
