#!/usr/bin/env bash
# The store can be trusted about what it shows: a run whose process is gone (kill -9) is
# "interrupted" with the way to resume it, never "running" forever; a read-only store (an
# archived CI artefact, another user's directory) can be inspected; a truncated state.db is
# refused instead of silently starting a new history.
# ctest-cost: 17 (about its seconds in its slowest CI stage; see CMakeLists.txt)
. "$(dirname "$0")/lib.sh"

# wait_for DESC CMD...: runs CMD until it succeeds (the engine needs a moment to start); no
# timed assertion: a slow machine only waits longer (up to a minute).
wait_for() {
    local desc=$1 i
    shift
    for i in $(seq 600); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    fail "$desc: still not the case after a minute"
    return 1
}

# ---- a run whose process is gone is interrupted ------------------------------------------

cat > slow.yaml <<'Y'
version: 1
tasks:
  quick:
    run: echo quick >> quick.log; echo done-quick
  slow:
    needs: [quick]
    run: test -e go || { echo $$ >> "$OLDPWD_SLEEPERS"; exec sleep 300; }
Y
# The engine's children outlive a kill -9 of the engine (a matter of the process tests):
# note them so that this test does not leave them behind.
export OLDPWD_SLEEPERS="$T/sleepers.txt"
kill_sleepers() {
    if [ -f "$T/sleepers.txt" ]; then
        while read -r p; do kill -9 "$p" 2>/dev/null || true; done < "$T/sleepers.txt"
    fi
}
"$WFENGINE" run slow.yaml -q >/dev/null 2>&1 &
victim=$!
"$WFENGINE" run slow.yaml -q --store other >/dev/null 2>&1 &
bystander=$!
# quick_done STORE: the store's newest run has recorded its quick task.
quick_done() {
    "$WFENGINE" show last --store "$1" --json |
        python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(not any(t["name"] == "quick" and t["status"] == "succeeded" for t in d["tasks"]))'
}
wait_for "the first run has recorded its first task" quick_done .wfengine
wait_for "the second run has recorded its first task" quick_done other
run_wf runs --json
id=$(json_get 'd[0]["run_id"]' | tr -d '"')
expect_json "a live run is running, its owner alive" '[d[0]["status"], d[0]["owner_alive"], d[0]["owner"]["pid"]]' "[\"running\", true, $victim]"
expect_json "a live run has no resume hint" 'd[0]["resume_hint"]' 'null'

kill -9 "$victim"
wait "$victim" 2>/dev/null || true
run_wf runs
expect_rc "runs after kill -9" 0
expect_in "runs shows the run as interrupted" out.txt "interrupted"
expect_in "runs gives the hint" out.txt "wfengine run slow.yaml --resume $id"
expect_not_in "runs no longer says running" out.txt "running"
run_wf runs --json
expect_json "runs --json: interrupted, owner gone, hint" '[d[0]["status"], d[0]["owner_alive"], d[0]["resume_hint"]]' "[\"interrupted\", false, \"wfengine run slow.yaml --resume $id\"]"
run_wf show last
expect_rc "show last after kill -9" 0
expect_in "show last is the killed run" out.txt "run $id"
expect_in "show says interrupted" out.txt "interrupted: the process that ran it (pid $victim"
expect_in "show gives the hint" out.txt "wfengine run slow.yaml --resume $id"
run_wf show "$id" --json
expect_json "show --json: interrupted, with the hint" '[d["status"], d["resume_hint"]]' "[\"interrupted\", \"wfengine run slow.yaml --resume $id\"]"
expect_json "show --json: what it recorded before" '[[t["name"], t["status"]] for t in d["tasks"]]' '[["quick", "succeeded"]]'
run_wf report last -o killed.html
expect_rc "report of the killed run" 0
expect_in "report: interrupted badge" killed.html '<span class="badge status s-interrupted" id="run-status">interrupted</span>'
expect_in "report: the hint" killed.html "<code>wfengine run slow.yaml --resume $id</code>"
# The other run, in another store, is not affected.
run_wf runs --store other --json
expect_json "a concurrent run elsewhere is still running" '[d[0]["status"], d[0]["owner_alive"]]' '["running", true]'

# --resume last still means the newest run, the interrupted one.
touch go
nquick=$(wc -l < quick.log)
run_wf run slow.yaml --resume last --json
expect_rc "resume of the interrupted run" 0
expect_json "the finished task is reused" '[d["tasks"]["quick"]["status"], d["tasks"]["quick"].get("reused")]' '["succeeded", true]'
if [ "$(wc -l < quick.log)" -eq "$nquick" ]; then pass "resume did not rerun the finished task"; else fail "quick ran again"; fi
run_wf show last --json
expect_json "the new run resumes the interrupted one" 'd["resumed_from"]' "\"$id\""
run_wf show "$id" --json
expect_json "the interrupted run stays interrupted" 'd["status"]' '"interrupted"'
run_wf show last --json
expect_json "the resumed run succeeded" 'd["status"]' '"succeeded"'
kill -9 "$bystander"
wait "$bystander" 2>/dev/null || true
run_wf runs --store other --json
expect_json "the second store's run, killed, is interrupted with a --store hint" '[d[0]["status"], d[0]["resume_hint"].endswith("--store other")]' '["interrupted", true]'
kill_sleepers

# ---- read-only stores --------------------------------------------------------------------

cat > hello.yaml <<'Y'
version: 1
tasks:
  greet:
    with-items: [a, b]
    run: echo hello-<< item >>; echo warn-<< item >> >&2
Y
run_wf run hello.yaml -q
expect_rc "a run to read back" 0

# How to make a directory read-only for wfengine: a read-only bind mount (root with
# CAP_SYS_ADMIN), else an unprivileged user (root without it), else chmod (not root).
# WF_TEST_RO_METHOD=mount|setpriv|chmod picks one (to test each where several work).
ro_method=${WF_TEST_RO_METHOD:-}
mkdir -p probe probe-ro
if [ -n "$ro_method" ]; then
    :
elif [ "$(id -u)" -eq 0 ] && mount --bind -o ro probe probe-ro 2>/dev/null; then
    umount probe-ro
    ro_method=mount
elif [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
    ro_method=setpriv
elif [ "$(id -u)" -ne 0 ]; then
    ro_method=chmod
fi
echo "# read-only stores tested with: ${ro_method:-nothing}"

# ro_wf DIR ARGS...: runs wfengine ARGS in DIR, which is read-only for it.
ro_wf() {
    local dir=$1
    shift
    set +e
    case $ro_method in
    mount)
        mkdir -p "$T/ro-mnt"
        mount --bind -o ro "$dir" "$T/ro-mnt"
        (cd "$T/ro-mnt" && "$WFENGINE" "$@") >out.txt 2>err.txt
        rc=$?
        umount "$T/ro-mnt"
        ;;
    setpriv)
        chmod -R a-w "$dir"
        (cd "$dir" && setpriv --reuid=65534 --regid=65534 --clear-groups "$WFENGINE" "$@") \
            >out.txt 2>err.txt
        rc=$?
        chmod -R u+w "$dir"
        ;;
    chmod)
        chmod -R a-w "$dir"
        (cd "$dir" && "$WFENGINE" "$@") >out.txt 2>err.txt
        rc=$?
        chmod -R u+w "$dir"
        ;;
    esac
    set -e
}

if [ -z "$ro_method" ]; then
    pass "read-only stores: skipped (no way to make a directory read-only for root here)"
else
    chmod a+rx "$T"
    # Where the reader may write: its report, and its private copy of a WAL it cannot read
    # in place (which must be gone afterwards).
    mkdir -p "$T/w" "$T/w/tmp"
    chmod 1777 "$T/w" "$T/w/tmp"
    export TMPDIR="$T/w/tmp"
    for files in "wal shm" "none" "wal"; do
        # A copy of the store in the given state: SQLite's WAL and its index, nothing
        # beside state.db (checkpointed), or a WAL without its index.
        rm -rf "ro-$files"
        mkdir "ro-$files"
        cp -a .wfengine "ro-$files/"
        case $files in
        none)
            python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()' "ro-$files/.wfengine/state.db"
            rm -f "ro-$files/.wfengine/state.db-wal" "ro-$files/.wfengine/state.db-shm"
            ;;
        wal) rm -f "ro-$files/.wfengine/state.db-shm" ;;
        esac
        if [ "$files" = wal ] && [ ! -s "ro-$files/.wfengine/state.db-wal" ]; then
            fail "ro ($files): the store has no WAL to test with"
        fi
        dir="$T/ro-$files"
        before=$(cd "$dir" && find . -printf '%p %s %T@\n' | sort)
        ro_wf "$dir" runs
        expect_rc "runs on a read-only store ($files)" 0
        expect_in "runs lists the run ($files)" out.txt "hello"
        expect_in "runs lists the interrupted run ($files)" out.txt "interrupted"
        ro_wf "$dir" runs --json
        expect_json "runs --json on a read-only store ($files): the newest runs" '[r["workflow"] for r in d][:2]' '["hello", "slow"]'
        ro_wf "$dir" show last
        expect_rc "show last on a read-only store ($files)" 0
        expect_in "show names the items ($files)" out.txt "greet[1]"
        ro_wf "$dir" logs last "greet[1]"
        expect_rc "logs on a read-only store ($files)" 0
        expect_in "logs prints the output ($files)" out.txt "hello-b"
        ro_wf "$dir" logs last "greet[0]" --stderr
        expect_in "logs --stderr ($files)" out.txt "warn-a"
        ro_wf "$dir" report last -o "$T/w/report.html"
        expect_rc "report on a read-only store ($files)" 0
        expect_in "report has the run ($files)" "$T/w/report.html" 'id="run-status">succeeded</span>'
        after=$(cd "$dir" && find . -printf '%p %s %T@\n' | sort)
        if [ "$before" = "$after" ]; then pass "nothing in the read-only store changed ($files)"; else
            fail "the read-only store changed ($files)" "$(diff <(echo "$before") <(echo "$after"))"; fi
        ro_wf "$dir" run "$T/hello.yaml" -q
        expect_rc "run on a read-only store is refused ($files)" 3
        ro_wf "$dir" gc
        expect_rc "gc on a read-only store is refused ($files)" 3
    done
    if [ -z "$(ls -A "$T/w/tmp")" ]; then pass "no private copy left behind"; else
        fail "private copies left behind" "$(ls -A "$T/w/tmp")"; fi
    unset TMPDIR
fi

# ---- a truncated state.db is refused -----------------------------------------------------

rm -rf trunc && mkdir trunc && cp -a .wfengine trunc/
: > trunc/.wfengine/state.db
rm -f trunc/.wfengine/state.db-wal trunc/.wfengine/state.db-shm
nblobs=$(find trunc/.wfengine/blobs -type f | wc -l)
for cmd in "runs" "show last" "run hello.yaml"; do
    # shellcheck disable=SC2086
    run_wf $cmd --store trunc/.wfengine
    expect_rc "$cmd on a 0-byte state.db beside blobs/" 3
    expect_in "$cmd: says what is wrong" err.txt "trunc/.wfengine/state.db: is empty (0 bytes), but trunc/.wfengine/blobs/ holds the outputs of earlier runs"
    expect_in "$cmd: says what to do" err.txt "restore state.db from a backup, or move the store aside (mv trunc/.wfengine trunc/.wfengine.old)"
done
if [ ! -s trunc/.wfengine/state.db ] && [ "$(find trunc/.wfengine/blobs -type f | wc -l)" -eq "$nblobs" ]; then
    pass "the refused store was left as it was"
else
    fail "the refused store was changed"
fi
mv trunc/.wfengine trunc/.wfengine.old
run_wf run hello.yaml -q --store trunc/.wfengine
expect_rc "the way out works: a new store" 0

done_testing
