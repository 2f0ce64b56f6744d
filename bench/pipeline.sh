#!/usr/bin/env bash
# B13: a chain of three fan-outs over N items, each unit `sleep 0.02`, -j2, three ways side by
# side in one run:
#
#   pipelined  b and c take their source's results item by item (`pipeline: true`)
#   barrier    the same chain without `pipeline`: b waits for all of a, c for all of b
#   nodeps     the same 3 x N units in three with-items tasks that depend on nothing
#
# For each: the run's wall time (the store's run start to run end), the time at which the
# first item was through all three stages (the earliest end of a unit of c, from the store's
# unit end times, since the run started), that time in unit times (the median duration of the
# run's units), and the workers' utilization: the units' summed durations / (J x wall), which
# a machine shared with other work slows down far less than the wall time. Targets (issue
# 17): pipelined wall <= 1.05 x nodeps, and the first item through after about three unit
# times (barrier: after about two thirds of the run). K rounds, each running the three forms
# one after the other; one JSON line per form and round, then one with the medians of the
# per-round ratios (wall, and utilization: nodeps / pipelined, the load-robust form of the
# wall ratio).
#
# usage: bench/pipeline.sh [--wfengine PATH] [--n N] [--jobs J] [--k K] [--out DIR] [--smoke]
#   --wfengine  the binary (default: $WFENGINE, else build-bench/wfengine, else build/wfengine)
#   --n         items per stage (default 1000)
#   --jobs      -j of every run (default 2)
#   --k         rounds (default 1)
#   --out       where the workflows and the store go (default: a temporary directory, removed)
#   --smoke     tiny and quick: --n 20, for CI (no timing is judged)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

n=1000
jobs=2
k=1
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --smoke) n=20; shift ;;
    *) bench_common_opt "$@"; shift "$bench_shift" ;;
    esac
done
bench_find_wfengine
bench_out b13
cd "$out"

# stage NAME LIST [pipeline]: one with-items task of `sleep 0.02` units.
stage() {
    printf '  %s:\n    with-items: %s\n' "$1" "$2"
    [ "${3:-}" = pipeline ] && printf '    pipeline: true\n'
    printf '    run: sleep 0.02; echo << item >>\n    output: json\n'
}
{ echo "version: 1"; echo "tasks:"
  stage a "<< range($n) >>"; stage b "<< task.a >>" pipeline; stage c "<< task.b >>" pipeline
} > pipelined.yaml
{ echo "version: 1"; echo "tasks:"
  stage a "<< range($n) >>"; stage b "<< task.a >>"; stage c "<< task.b >>"
} > barrier.yaml
{ echo "version: 1"; echo "tasks:"
  stage a "<< range($n) >>"; stage b "<< range($n) >>"; stage c "<< range($n) >>"
} > nodeps.yaml

results=()
for round in $(seq "$k"); do
for form in pipelined barrier nodeps; do
    "$wfengine" run "$form.yaml" -j "$jobs" --progress none --store store >/dev/null 2>"$form.err" ||
        { cat "$form.err" >&2; exit 1; }
    "$wfengine" show last --json --limit 0 --store store > "$form.json"
    line=$(python3 - "$form" "$n" "$jobs" "$form.json" "$round" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY'
import json, statistics, sys
form, n, jobs, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rnd, load = int(sys.argv[5]), float(sys.argv[6])
d = json.load(open(path))
start, end = d["started_ms"], d["ended_ms"]
units = [u for t in d["tasks"] for u in t["units"]]
unit_ms = statistics.median(u["ended_ms"] - u["started_ms"] for u in units)
c = next(t for t in d["tasks"] if t["name"] == "c")
first = min(u["ended_ms"] for u in c["units"] if u["status"] == "succeeded") - start
busy = sum(u["ended_ms"] - u["started_ms"] for u in units)
print(json.dumps({"bench": "B13", "form": form, "round": rnd, "items": n, "jobs": jobs,
                  "units": len(units), "wall_s": round((end - start) / 1000, 3),
                  "utilization": round(busy / (jobs * (end - start)), 3), "load1": load,
                  "first_through_s": round(first / 1000, 3),
                  "unit_ms": round(unit_ms, 1),
                  "first_through_units": round(first / unit_ms, 1),
                  "first_through_of_run": round(first / (end - start), 3)}))
PY
)
    echo "$line"
    results+=("$line")
done
done
python3 - "${results[@]}" <<'PY'
import json, statistics, sys
rounds = {}
for d in map(json.loads, sys.argv[1:]):
    rounds.setdefault(d["round"], {})[d["form"]] = d
def med(f):
    return round(statistics.median(f(r) for r in rounds.values()), 3)
print(json.dumps({"bench": "B13", "what": "ratios", "k": len(rounds),
                  "pipelined_vs_nodeps_wall": med(lambda r: r["pipelined"]["wall_s"] / r["nodeps"]["wall_s"]),
                  "barrier_vs_nodeps_wall": med(lambda r: r["barrier"]["wall_s"] / r["nodeps"]["wall_s"]),
                  "nodeps_vs_pipelined_utilization": med(lambda r: r["nodeps"]["utilization"] / r["pipelined"]["utilization"]),
                  "target_wall": 1.05,
                  "pipelined_first_through_units": med(lambda r: r["pipelined"]["first_through_units"]),
                  "barrier_first_through_of_run": med(lambda r: r["barrier"]["first_through_of_run"])}))
PY
