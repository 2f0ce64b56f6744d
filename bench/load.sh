#!/usr/bin/env bash
# B15 (issue 16): loading a big generated workflow, beside `ninja -n` on the same graph, side
# by side in one run. The graph: N tasks, each after the first two needing two earlier tasks
# chosen at random among the 1,000 before it (fixed seed; 2N edges), each `run: echo i`;
# ninja gets the same edges as `build oI: r oA oB`. Per round, each tool once:
#   validate   `wfengine validate big.yaml`
#   dry_run    `wfengine run --dry-run big.yaml` (the plan printed, nothing run)
#   ninja_n    `ninja -n` (parses build.ninja, plans, runs nothing)
# One JSON line per tool: median wall time and median peak RSS (GNU time's %M) over K rounds,
# KiB per task, and the ratio to ninja -n. Targets (issue 16): validate <= 0.3 s and
# <= 1 KiB per task at N = 100,000. --before PATH adds another binary (say main's, built the
# same way) to every round, as validate_before and dry_run_before.
#
# usage: bench/load.sh [--wfengine PATH] [--before PATH] [--n N] [--k K] [--out DIR]
set -euo pipefail
here=$PWD
cd "$(dirname "$0")/.."
wfengine=${WFENGINE:-}
before=""
n=100000
k=5
out=""
while [ $# -gt 0 ]; do
    case $1 in
    --wfengine) wfengine=$2; shift 2 ;;
    --before) before=$2; shift 2 ;;
    --n) n=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: $0 [--wfengine PATH] [--before PATH] [--n N] [--k K] [--out DIR]" >&2; exit 2 ;;
    esac
done
if [ -z "$wfengine" ]; then
    for c in build-bench/wfengine build/wfengine; do
        [ -x "$c" ] && wfengine=$c && break
    done
fi
case $wfengine in /*) ;; *) wfengine=$PWD/$wfengine ;; esac
[ -x "$wfengine" ] || { echo "$0: no wfengine binary (--wfengine PATH)" >&2; exit 2; }
if [ -n "$before" ]; then
    case $before in /*) ;; *) before=$PWD/$before ;; esac
    [ -x "$before" ] || { echo "$0: --before $before is not an executable" >&2; exit 2; }
fi
command -v ninja >/dev/null || apt-get install -y -qq ninja-build >/dev/null
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
if [ -z "$out" ]; then
    out=$(mktemp -d)
    trap 'rm -rf "$out"' EXIT
else
    mkdir -p "$out"
    case $out in /*) ;; *) out=$here/$out ;; esac
fi

python3 - "$n" "$out" <<'PY'
import random, sys
n, out = int(sys.argv[1]), sys.argv[2]
random.seed(15)
with open(f"{out}/big.yaml", "w") as y, open(f"{out}/build.ninja", "w") as b:
    y.write("version: 1\ntasks:\n")
    b.write("rule r\n  command = echo $out\n")
    for i in range(n):
        y.write(f"  t{i}:\n")
        if i >= 2:
            a, c = random.sample(range(max(0, i - 1000), i), 2)
            y.write(f"    needs: [t{a}, t{c}]\n")
            b.write(f"build o{i}: r o{a} o{c}\n")
        else:
            b.write(f"build o{i}: r\n")
        y.write(f"    run: echo {i}\n")
PY

cd "$out"
# one TOOL CMD...: a line "TOOL seconds KiB" for one run (the output discarded).
one() {
    local tool=$1
    shift
    /usr/bin/time -f "$tool %e %M" -o time.txt "$@" >/dev/null 2>&1 || {
        echo "$0: $tool failed: $*" >&2
        exit 1
    }
    cat time.txt >>rounds.txt
    rm -f .ninja_log
}
: >rounds.txt
one warmup "$wfengine" validate big.yaml
for _ in $(seq 1 "$k"); do
    one validate "$wfengine" validate big.yaml
    one dry_run "$wfengine" run --dry-run big.yaml
    one ninja_n ninja -n
    if [ -n "$before" ]; then
        one validate_before "$before" validate big.yaml
        one dry_run_before "$before" run --dry-run big.yaml
    fi
done
python3 - "$n" "$k" <<'PY'
import json, statistics, sys
n, k = int(sys.argv[1]), int(sys.argv[2])
rows = {}
for line in open("rounds.txt"):
    tool, s, kib = line.split()
    rows.setdefault(tool, []).append((float(s), int(kib)))
ninja_s = statistics.median(s for s, _ in rows["ninja_n"])
for tool in ("validate", "dry_run", "ninja_n", "validate_before", "dry_run_before"):
    if tool not in rows:
        continue
    s = statistics.median(x for x, _ in rows[tool])
    kib = statistics.median(x for _, x in rows[tool])
    print(json.dumps({"bench": "B15", "what": tool, "tasks": n, "s": round(s, 3),
                      "peak_kib": kib, "kib_per_task": round(kib / n, 2),
                      "ratio_ninja": round(s / ninja_s, 2), "k": k}, separators=(",", ":")))
PY
