#!/usr/bin/env bash
# The README's second command (and what .ci/run calls): install dependencies, build with
# warnings as errors under gcc and clang, run every test suite, then run them again under
# ASan+UBSan and under TSan, and run the fuzz targets briefly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
jobs=$(nproc)
ctest_run() { (cd "$1" && ctest --output-on-failure -j"$jobs" "${@:2}"); }
step() { echo; echo "=== $* (at ${SECONDS} s) ==="; }

step "gcc, -Werror"
cmake -S . -B build-test -DWF_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-test -j"$jobs"
ctest_run build-test

# The Check suites run in one process each here (CK_FORK=no, set by CMakeLists.txt for ASan
# builds): a fork per test, each ending with its own leak check, cost more than the tests.
step "ASan + UBSan"
cmake -S . -B build-asan -DWF_WERROR=ON -DWF_ASAN=ON -DWF_UBSAN=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j"$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 ctest_run build-asan

# The TSan build is also the clang -Werror build (everything, tests and benchmarks included):
# a separate clang build compiled the same files with the same warnings a second time.
step "clang -Werror, TSan (the concurrent suites and the end-to-end runs)"
# This stage links the CLI against the shared libraries (WF_STATIC_CLI=OFF), the other stages
# against the static archives: both ways stay built and tested.
cmake -S . -B build-tsan -DWF_WERROR=ON -DWF_TSAN=ON -DWF_STATIC_CLI=OFF -DCMAKE_C_COMPILER=clang \
    -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-tsan -j"$jobs"
# TSan of clang 14 cannot map its shadow memory with the high ASLR entropy of newer kernels;
# running without address randomisation avoids that.
# The e2e fan-outs at scale run whole in the gcc and ASan builds; here a tenth of them
# (WF_E2E_SCALE) finds the same races in a tenth of the time.
# Left out here, as other runs exercise the same threads: the template suite's single-threaded
# cases (its "threads" case runs alone below), the quoting battery (e2e_test_injection), the
# page checked in Chromium (e2e_test_report), and the store's pages, its damaged-store cases
# and the input caps (e2e_test_store_pages, _store_trust, _limits: 164 s of this stage, whose
# runs use the same threads as the e2e tests kept here), and the full-disk cases
# (e2e_test_full_disk: they count a tmpfs's inodes, and TSan's runtime takes one in $TMPDIR
# for its tsan.rodata.PID file); all of them run whole under gcc and ASan.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1"
WF_E2E_SCALE=10 setarch "$(uname -m)" -R bash -c "cd build-tsan && ctest --output-on-failure \
    -j$jobs -R 'check_(context|proc|scheduler|dispatch|api|store|slurm)|e2e_' \
    -E 'e2e_test_(injection|report|store_pages|store_trust|limits|full_disk)\$'"
CK_RUN_CASE=threads setarch "$(uname -m)" -R build-tsan/check_template

# The live Slurm suites mostly wait on the cluster (in one run: 157 s of CPU in 520 s; they run
# side by side on two clusters, tests/slurm/run.sh), while the fuzz targets run one at a time
# on one core: the two go side by side, the Slurm output kept in a file and printed at the end.
step "Slurm (a real one-node cluster, the executor's live and end-to-end tests), in the background"
slurm_log=build-test/slurm-suite.log
setsid bash tests/slurm/run.sh build-test build-test/wfengine >"$slurm_log" 2>&1 &
slurm_pid=$!
# If a later stage fails, the Slurm suite and its cluster (its own process group) go too.
trap 'kill -TERM -- -"$slurm_pid" 2>/dev/null || true' EXIT

step "fuzz targets (clang libFuzzer, 20 s each)"
cmake -S . -B build-fuzz -DWF_FUZZ=ON -DCMAKE_C_COMPILER=clang -DWF_BUILD_BENCH=OFF \
    -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link,address,undefined" >/dev/null
cmake --build build-fuzz -j"$jobs" --target $(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    mkdir -p build-fuzz/corpus-"$name"
    seeds=tests/fuzz/corpus/"$name"
    setarch "$(uname -m)" -R build-fuzz/"$name" -max_total_time=20 -timeout=10 \
        -rss_limit_mb=2048 build-fuzz/corpus-"$name" $( [ -d "$seeds" ] && echo "$seeds" ) \
        2>&1 | tail -n 3
done

step "benchmarks (bench/smoke.sh: each once, small; no timing is judged)"
bash bench/smoke.sh build-test

step "Slurm's results"
slurm_status=0
wait "$slurm_pid" || slurm_status=$?
cat "$slurm_log"
if [ "$slurm_status" -ne 0 ]; then
    echo "the Slurm suite failed (exit $slurm_status)" >&2
    exit 1
fi
trap - EXIT

echo
echo "all test suites passed (in ${SECONDS} s)"
