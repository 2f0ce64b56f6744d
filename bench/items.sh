#!/usr/bin/env bash
# B11 (issue 16): a 10,000,000-item fan-out of core.noop through the CLI, `-j2`, then a task
# reading `task.x | length` (the fan-out's result, a list of N nulls), without and with the
# store. Per mode one JSON line: wall time, units per second (the N items over the wall
# time of the whole `wfengine run`), peak RSS (GNU time's %M; the item list, the per-item
# state and the result included) and, with the store, its size per unit. Targets: peak RSS
# <= 256 MiB, >= 1M units/s without the store, >= 500k units/s with it. With --base OLD, the
# same runs with the binary OLD right after each (side by side in one run).
#
# With --matrix the items are a matrix's combinations instead of a range (`a: range(1000)`
# times `b: range(N / 1000)`, computed one at a time since issue 16): its lines say
# "what":"matrix_no_store" / "matrix_store".
#
# usage: bench/items.sh [--wfengine PATH] [--base PATH] [--n N] [--smoke] [--matrix] [--out DIR]
#   --smoke: N = 20,000 (CI: checks the lines and the result, judges no figure)
set -euo pipefail
cd "$(dirname "$0")/.."
wfengine=${WFENGINE:-}
base=""
n=10000000
out=""
matrix=""
while [ $# -gt 0 ]; do
    case $1 in
    --wfengine) wfengine=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --smoke) n=20000; shift ;;
    --matrix) matrix=matrix_; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--wfengine PATH] [--base PATH] [--n N] [--smoke] [--matrix] [--out DIR]" >&2; exit 2 ;;
    esac
done
if [ -z "$wfengine" ]; then
    for c in build-bench/wfengine build/wfengine; do
        [ -x "$c" ] && wfengine=$c && break
    done
fi
case $wfengine in /*) ;; *) wfengine=$PWD/$wfengine ;; esac
[ -x "$wfengine" ] || { echo "$0: no wfengine binary (--wfengine PATH)" >&2; exit 2; }
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
cat >"$out/items.yaml" <<'YAML'
version: 1
name: b11
inputs:
  n: {type: integer}
tasks:
  x:
    action: core.noop
    with-items: << range(inputs.n) >>
  count:
    needs: [x]
    action: core.echo
    input:
      message: << task.x | length >>
outputs:
  count: << task.count >>
YAML
if [ -n "$matrix" ]; then
    # The same N items as a matrix of 1000 x N/1000 combinations (N a multiple of 1000).
    python3 - "$out/items.yaml" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read().replace("    with-items: << range(inputs.n) >>\n",
    "    with-items:\n      matrix:\n        a: << range(1000) >>\n        b: << range(inputs.n / 1000) >>\n")
open(p, "w").write(s)
PY
fi

# one LABEL BINARY MODE: runs the workflow once and prints its JSON line.
one() {
    local label=$1 bin=$2 mode=$3 store_args=(--no-store) secs kib bytes=0
    rm -rf "$out/store"
    [ "$mode" = store ] && store_args=(--store "$out/store")
    /usr/bin/time -f "%e %M" -o "$out/time.txt" "$bin" run "$out/items.yaml" -i n="$n" -j2 -q \
        "${store_args[@]}" >"$out/stdout.txt" 2>"$out/stderr.txt" || {
        echo "$0: $label $mode failed:" >&2
        cat "$out/stderr.txt" >&2
        exit 1
    }
    if ! grep -qx "  count: $n" "$out/stdout.txt"; then
        echo "$0: $label $mode: the count task did not read $n results:" >&2
        cat "$out/stdout.txt" >&2
        exit 1
    fi
    read -r secs kib <"$out/time.txt"
    [ "$mode" = store ] && bytes=$(du -sb "$out/store" | cut -f1)
    python3 - "$label" "$matrix$mode" "$n" "$secs" "$kib" "$bytes" <<'PY'
import json, sys
label, mode, n, secs, kib, nbytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
line = {"bench": "B11", "what": mode, "binary": label, "items": n, "s": secs,
        "units_per_s": round(n / secs) if secs > 0 else None, "peak_mib": round(kib / 1024, 1)}
if mode.endswith("store") and not mode.endswith("no_store"):
    line["store_bytes_per_unit"] = round(nbytes / n, 1)
line["k"] = 1
print(json.dumps(line, separators=(",", ":")))
PY
}

echo "{\"bench\":\"B11\",\"what\":\"load\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"k\":1}"
for mode in no_store store; do
    one new "$wfengine" "$mode"
    if [ -n "$base" ]; then one base "$base" "$mode"; fi
done
