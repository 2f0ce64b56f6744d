#!/usr/bin/env bash
# Runs wfengine beside ninja and make on the same generated work, side by side in one run, with
# hyperfine, and prints one JSON line per result with the ratios the targets are about:
#
#   B5  N shell commands `echo i > /dev/null`, -j2 (wfengine: one with-items task over
#       range(N); it goes through /bin/sh -c because of the redirection, like ninja and
#       make). Also the variant without shell syntax, `/bin/true i`, which wfengine and make
#       exec directly while ninja still pays `sh -c`.            target: wfengine <= 0.95 x ninja
#   B9  a layered DAG of N nodes (100 layers of N/100), each node after the first layer
#       needing 2 or 3 nodes of the layer before (fixed seed), each node `echo i > /dev/null`;
#       wfengine: one task per node with `needs:`.                target: wfengine <= 1.0 x ninja
#   B8  `wfengine run one.yaml` of a one-task workflow (`run: /bin/true`), process start to
#       exit, beside ninja's one-edge build (`build o: t` with `command = /bin/true`, which
#       runs every time since o never appears) and `/bin/true` alone, K rounds of 10 runs
#       each; medians of the rounds' medians, ratio the median of the rounds' ratios (of
#       wall time, and of CPU time, user + system, which a loaded machine moves less).
#                                            target: <= 5 ms, and (issue 16) <= 1.0 x ninja
#
# wfengine runs as a user runs it (recording into .wfengine/ in the work directory, as ninja
# keeps .ninja_log), and again with --no-store when the binary has that option.
#
# --profile adds where the CPU goes, for wfengine and ninja on the shell commands and the DAG:
# one `perf record` of each, its samples split into the runner itself (every thread of the
# wfengine or ninja process), the spawned child before its exec (the child of vfork or
# posix_spawn, and the first part of the exec, still under the runner's name) and the commands (the shells and what they run), and,
# within the commands, the dynamic loader's CPU feature and cache detection (CPUID, which a
# virtual machine traps). One JSON line per tool and work; skipped when perf cannot record.
#
# usage: bench/peers.sh [--wfengine PATH] [--n N] [--k K] [--jobs J] [--out DIR] [--smoke]
#                       [--profile] [--b8] [--before PATH]
#   --wfengine  the binary (default: $WFENGINE, else build-bench/wfengine, else build/wfengine)
#   --n         commands / DAG nodes (default 10000; a multiple of 100 for the DAG)
#   --k         rounds (each runs every tool once); medians are reported (default 5)
#   --jobs      parallelism of every tool (default 2)
#   --out       where the generated work goes (default: a temporary directory, removed)
#   --smoke     tiny and quick: --n 200 --k 2, for CI (no timing is judged)
#   --profile   also the CPU profile described above (needs perf: Debian's linux-perf)
#   --b8        B8 alone (no B5, B9 or profile)
#   --before    another binary (main's, say) measured in B8's rounds beside the rest
# Missing tools (hyperfine, ninja, make) are installed with apt-get.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

n=10000
k=5
jobs=2
profile=false
b8_only=false
before=""
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --smoke) n=200; k=2; shift ;;
    --profile) profile=true; shift ;;
    --b8) b8_only=true; shift ;;
    --before) before=$(abs "$2"); shift 2 ;;
    *) bench_common_opt "$@"; shift "$bench_shift" ;;
    esac
done
bench_find_wfengine build-test
if [ $((n % 100)) -ne 0 ] || [ "$n" -lt 100 ]; then
    echo "peers.sh: --n must be a multiple of 100 (the DAG has 100 layers)" >&2
    exit 2
fi

# ---- tools ------------------------------------------------------------------------------
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v ninja >/dev/null || need+=(ninja-build)
command -v make >/dev/null || need+=(make)
if [ ${#need[@]} -gt 0 ]; then
    echo "peers.sh: installing ${need[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends \
        "${need[@]}" >&2
fi

bench_out peers

# ---- the work ---------------------------------------------------------------------------
# gen_flat DIR CMD: N independent commands "CMD i" for every tool.
gen_flat() {
    local dir=$1 cmd=$2
    mkdir -p "$dir"
    {
        echo "version: 1"
        echo "name: flat"
        echo "tasks:"
        echo "  cmds:"
        echo "    with-items: << range($n) >>"
        echo "    run: ${cmd/@/<< item >>}"
    } >"$dir/flat.yaml"
    awk -v n="$n" -v cmd="$cmd" 'BEGIN {
        print "rule c\n  command = $cmd\n"
        for (i = 0; i < n; i++) { c = cmd; sub(/@/, i, c); printf "build o%d: c\n  cmd = %s\n", i, c }
    }' >"$dir/build.ninja"
    awk -v n="$n" -v cmd="$cmd" 'BEGIN {
        printf "all:"; for (i = 0; i < n; i++) printf " o%d", i; print ""
        printf ".PHONY: all"; for (i = 0; i < n; i++) printf " o%d", i; print ""
        for (i = 0; i < n; i++) { c = cmd; sub(/@/, i, c); printf "o%d:\n\t@%s\n", i, c }
    }' >"$dir/Makefile"
}

# The DAG's edges, generated once (fixed seed) and written in each tool's syntax.
gen_dag() {
    local dir=$1
    mkdir -p "$dir"
    awk -v n="$n" 'BEGIN {
        srand(42); width = n / 100
        for (i = 0; i < n; i++) {
            layer = int(i / width); line = i
            if (layer > 0) {
                deps = 2 + int(rand() * 2); first = int(rand() * width); prev = (layer - 1) * width
                if (deps > width) deps = width
                for (d = 0; d < deps; d++) line = line " " prev + (first + d) % width
            }
            print line
        }
    }' >"$dir/edges.txt"
    awk 'BEGIN { print "version: 1\nname: dag\ntasks:" }
        { printf "  n%d:\n    run: echo %d > /dev/null\n", $1, $1
          if (NF > 1) { printf "    needs: ["; for (f = 2; f <= NF; f++) printf "%sn%d", (f > 2 ? ", " : ""), $f; print "]" } }' \
        "$dir/edges.txt" >"$dir/dag.yaml"
    awk 'BEGIN { print "rule c\n  command = $cmd\n" }
        { printf "build n%d: c", $1; if (NF > 1) { printf " |"; for (f = 2; f <= NF; f++) printf " n%d", $f }
          printf "\n  cmd = echo %d > /dev/null\n", $1 }' "$dir/edges.txt" >"$dir/build.ninja"
    awk '{ all = all " n" $1; deps = ""; for (f = 2; f <= NF; f++) deps = deps " n" $f
           rules = rules sprintf("n%d:%s\n\t@echo %d > /dev/null\n", $1, deps, $1) }
        END { print "all:" all; print ".PHONY: all" all; printf "%s", rules }' \
        "$dir/edges.txt" >"$dir/Makefile"
}

gen_flat "$out/shell" "echo @ > /dev/null"
gen_flat "$out/direct" "/bin/true @"
gen_dag "$out/dag"
mkdir -p "$out/one"
printf 'version: 1\nname: one\ntasks:\n  one:\n    run: /bin/true\n' >"$out/one/one.yaml"
printf 'rule t\n  command = /bin/true\nbuild o: t\n' >"$out/one/one.ninja"

# ---- measuring ---------------------------------------------------------------------------
# These machines are shared and noisy, so the tools are interleaved: each round runs every
# tool once (one hyperfine call, --runs 1, after one warm-up round), and the medians over the
# rounds are reported, with the median of the per-round ratios as the ratio.

# rounds NAME DIR CMD...: K rounds of CMDs (each "label=command") in DIR; appends
# "label seconds round" lines to $out/NAME.times.
rounds() {
    local name=$1 dir=$2
    shift 2
    local args=()
    for c in "$@"; do args+=(-n "${c%%=*}" "${c#*=}"); done
    : >"$out/$name.times"
    for r in $(seq 0 "$k"); do
        (cd "$dir" && hyperfine -N --style none --runs 1 --export-csv "$out/$name.csv" "${args[@]}" \
            >"$out/$name.log" 2>&1) || { cat "$out/$name.log" >&2; exit 1; }
        # Round 0 is the warm-up (page cache, ninja's log, the allocator of the kernel).
        [ "$r" -eq 0 ] || awk -F, -v r="$r" 'NR > 1 { print $1, $4, r }' "$out/$name.csv" \
            >>"$out/$name.times"
    done
}

# report BENCH WHAT NAME TARGET: one JSON line for a wfengine/ninja/make comparison.
report() {
    awk -v b="$1" -v w="$2" -v t="$4" -v n="$n" -v j="$jobs" -v k="$k" '
        function median(a, m,   i, j, x) {
            for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
            return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
        }
        { s[$1, $3] = $2 }
        END {
            ns = (("wfengine_nostore", 1) in s)
            for (r = 1; r <= k; r++) { wf[r] = s["wfengine", r]; nj[r] = s["ninja", r]; mk[r] = s["make", r]
                                       rn[r] = wf[r] / nj[r]; rm[r] = wf[r] / mk[r]
                                       if (ns) { wn[r] = s["wfengine_nostore", r]; rs[r] = wn[r] / nj[r] } }
            W = median(wf, k); N = median(nj, k); M = median(mk, k); RN = median(rn, k); RM = median(rm, k)
            printf "{\"bench\":\"%s\",\"what\":\"%s\",\"n\":%d,\"jobs\":%d,\"wfengine_ms\":%.1f,", b, w, n, j, W * 1000
            printf "\"ninja_ms\":%.1f,\"make_ms\":%.1f,\"wfengine_ms_per_cmd\":%.3f,", N * 1000, M * 1000, W * 1000 / n
            printf "\"ninja_ms_per_cmd\":%.3f,\"ratio_ninja\":%.3f,\"ratio_make\":%.3f,", N * 1000 / n, RN, RM
            if (ns) printf "\"wfengine_nostore_ms\":%.1f,\"ratio_ninja_nostore\":%.3f,", median(wn, k) * 1000, median(rs, k)
            if (("floor", 1) in s) {
                for (r = 1; r <= k; r++) { fl[r] = s["floor", r]; rf[r] = wf[r] / fl[r]; nf[r] = nj[r] / fl[r] }
                NF = median(nf, k)
                printf "\"floor_ms\":%.1f,\"ratio_floor\":%.3f,\"ninja_vs_floor\":%.3f,", median(fl, k) * 1000, median(rf, k), NF
                printf "\"target_vs_floor\":%.3f,", t * NF
            }
            printf "\"target\":%.2f,\"met\":%s,\"k\":%d}\n", t, (RN <= t ? "true" : "false"), k
        }' "$out/$3.times"
}

# A wfengine with a run store records every run (.wfengine/ in the work directory, as ninja
# keeps .ninja_log): that is what a user gets and what the ratios are about. The same runs
# with --no-store are measured too when the binary knows the option.
nostore=()
if "$wfengine" run --help 2>&1 | grep -q -- --no-store; then
    nostore=("wfengine_nostore=$wfengine run WORK -q -j$jobs --no-store")
fi
# The floor, when bench_proc sits beside the binary (a bench build): the same N commands
# `echo i > /dev/null` through posix_spawn of /bin/sh -c and waitpid, -j at a time, capturing
# nothing (bench_proc --floor-once). The DAG's floor is the same: its order costs nothing.
floor=()
if [ -x "$(dirname "$wfengine")/bench_proc" ]; then
    floor=("floor=$(dirname "$wfengine")/bench_proc --floor-once --n $n -j $jobs --cmd 'echo %d > /dev/null'")
fi
if ! $b8_only; then
    for name in shell direct dag; do
        work=flat.yaml
        [ "$name" = dag ] && work=dag.yaml
        extra=()
        [ "$name" = direct ] || extra=("${floor[@]}")
        rounds "$name" "$out/$name" "wfengine=$wfengine run $work -q -j$jobs" \
            "${nostore[@]/WORK/$work}" "ninja=ninja -j$jobs -f build.ninja" \
            "make=make -j$jobs -s -f Makefile" "${extra[@]}"
    done
fi
# B8: K rounds (after a warm-up), each one hyperfine call of 10 runs of every command.
one_cmds=(-n wfengine "$wfengine run one.yaml -q" -n ninja "ninja -f one.ninja" -n true /bin/true)
[ -z "$before" ] || one_cmds+=(-n before "$before run one.yaml -q --store .wfengine-before")
: >"$out/one.times"
for r in $(seq 0 "$k"); do
    (cd "$out/one" && hyperfine -N --style none --warmup 2 --runs 10 --export-csv "$out/one.csv" \
        "${one_cmds[@]}" >"$out/one.log" 2>&1) || { cat "$out/one.log" >&2; exit 1; }
    [ "$r" -eq 0 ] || awk -F, -v r="$r" 'NR > 1 { print $1, $4, r, $5 + $6 }' "$out/one.csv" \
        >>"$out/one.times"
done

if ! $b8_only; then
    report B5 shell_commands shell 0.95
    report B5 direct_commands direct 0.95
    report B9 layered_dag dag 1.0
fi
awk -v k="$k" '
    function median(a, m,   i, j, x) {
        for (i = 2; i <= m; i++) { x = a[i]; for (j = i - 1; j > 0 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
        return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
    }
    { s[$1, $3] = $2; c[$1, $3] = $4 }
    END {
        bf = (("before", 1) in s)
        for (r = 1; r <= k; r++) { wf[r] = s["wfengine", r]; nj[r] = s["ninja", r]; tr[r] = s["true", r]
                                   rn[r] = wf[r] / nj[r]; cn[r] = c["wfengine", r] / c["ninja", r]
                                   if (bf) { be[r] = s["before", r]; rb[r] = be[r] / nj[r]
                                             cb[r] = c["before", r] / c["ninja", r] } }
        W = median(wf, k); RN = median(rn, k)
        printf "{\"bench\":\"B8\",\"what\":\"startup_one_task\",\"ms\":%.2f,\"ninja_ms\":%.2f,", W * 1000, median(nj, k) * 1000
        printf "\"true_ms\":%.2f,\"ratio_ninja\":%.3f,\"cpu_ratio_ninja\":%.3f,", median(tr, k) * 1000, RN, median(cn, k)
        if (bf) printf "\"before_ms\":%.2f,\"before_ratio_ninja\":%.3f,\"before_cpu_ratio_ninja\":%.3f,", median(be, k) * 1000, median(rb, k), median(cb, k)
        printf "\"target_ms\":5,\"target_ratio_ninja\":1.0,\"met\":%s,\"k\":%d}\n", (W * 1000 <= 5 && RN <= 1.0 ? "true" : "false"), k
    }' "$out/one.times"

# ---- where the CPU goes (--profile) ------------------------------------------------------
# profile WHAT DIR TOOL CMD: records CMD in DIR with perf and prints the split of its samples
# (as shares of all samples, and as CPU time per command: a sample is 1/profile_hz seconds).
# The runner's pid is written by the shell that then execs CMD, so it is exactly the runner's.
profile() {
    local what=$1 dir=$2 tool=$3 cmd=$4 data="$out/$1.$3.perf"
    (cd "$dir" && perf record -q -F "$profile_hz" -o "$data" -- \
        sh -c 'echo $$ >"$0"; exec "$@"' "$data.pid" $cmd >/dev/null 2>"$data.log") ||
        { cat "$data.log" >&2; exit 1; }
    perf script -i "$data" -F comm,pid,ip,sym 2>/dev/null | awk -v p="$(cat "$data.pid")" \
        -v comm="$(basename "${cmd%% *}" | cut -c1-15)" -v what="$what" -v tool="$tool" \
        -v us=$((1000000 / profile_hz)) -v n="$n" '
        { total++
          if ($2 == p) runner++
          else if ($1 == comm) spawn++
          else { cmds++; if ($4 ~ /^(init_cpu_features|update_active|handle_intel|intel_check_word|get_common_cache_info|init_cacheinfo|dl_init_cacheinfo)/) cpuid++ } }
        function part(name, x) { printf "\"%s\":%.3f,\"%s_us_per_cmd\":%.1f,", name, x / total, name, x * us / n }
        END { if (total == 0) { print "peers.sh: perf recorded no samples" > "/dev/stderr"; exit 1 }
              printf "{\"bench\":\"profile\",\"what\":\"%s\",\"tool\":\"%s\",\"samples\":%d,", what, tool, total
              part("runner", runner); part("spawn_child", spawn); part("commands", cmds)
              printf "\"commands_cpu_feature_detection\":%.3f}\n", cpuid / total }'
}

profile_hz=10000
if $profile && ! $b8_only; then
    if ! command -v perf >/dev/null || ! perf record -q -o /dev/null -- true >/dev/null 2>&1; then
        echo '{"bench":"profile","skipped":"perf is missing or may not record here"}'
    else
        profile shell_commands "$out/shell" wfengine "$wfengine run flat.yaml -q -j$jobs"
        profile shell_commands "$out/shell" ninja "ninja -j$jobs -f build.ninja"
        profile layered_dag "$out/dag" wfengine "$wfengine run dag.yaml -q -j$jobs"
        profile layered_dag "$out/dag" ninja "ninja -j$jobs -f build.ninja"
    fi
fi
