# Shared helpers for the end-to-end tests. Each test_*.sh is one ctest entry; it runs the
# real binary ($WFENGINE, set by CMake) on workflows written into a fresh temporary directory.
set -euo pipefail
: "${WFENGINE:?WFENGINE must point at the wfengine binary}"
: "${WF_SOURCE_DIR:?WF_SOURCE_DIR must point at the source tree}"
T=$(mktemp -d "${TMPDIR:-/tmp}/wf-e2e.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
passed=0
failed=0

pass() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "FAIL - $1"; [ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/    /'; return 0; }

# run_wf NAME: runs "$WFENGINE" with the remaining arguments, keeping stdout in out.txt,
# stderr in err.txt and the exit status in $rc.
run_wf() {
    set +e
    "$WFENGINE" "$@" >out.txt 2>err.txt
    rc=$?
    set -e
}

# expect_rc DESC WANT: the last run_wf exited with WANT.
expect_rc() {
    if [ "$rc" -eq "$2" ]; then pass "$1 (exit $2)"; else
        fail "$1: exit $rc, want $2" "$(cat out.txt err.txt | tail -n 30)"; fi
}

# expect_in DESC FILE TEXT: FILE contains TEXT (fixed string).
expect_in() {
    if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1: '$3' not in $2" "$(tail -n 30 "$2")"; fi
}

expect_not_in() {
    if grep -qF -- "$3" "$2"; then fail "$1: '$3' found in $2" "$(tail -n 30 "$2")"; else pass "$1"; fi
}

# json_get EXPR: evaluates a Python expression on the JSON document in out.txt (as `d`).
json_get() {
    python3 -c 'import json,sys; d=json.load(open("out.txt")); print(json.dumps(eval(sys.argv[1]), sort_keys=True))' "$1"
}

# expect_json DESC EXPR WANT: json_get EXPR prints WANT (compact JSON, sorted keys).
expect_json() {
    local got
    got=$(json_get "$2" 2>&1) || true
    if [ "$got" = "$3" ]; then pass "$1"; else fail "$1: $2 = $got, want $3"; fi
}

# alive PID: the process exists and is not a zombie (PID 1 here may be slow to reap orphans).
alive() {
    [ -r "/proc/$1/stat" ] || return 1
    local state
    state=$(sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f1)
    [ "$state" != Z ] && [ "$state" != X ]
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.05 s until it succeeds (status 0) or
# SECONDS have passed (status 1). A test waits for what it needs (a marker file, a line, a
# store row) this way rather than sleeping a fixed time that a loaded machine overruns.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 0.05
    done
}

done_testing() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
}
