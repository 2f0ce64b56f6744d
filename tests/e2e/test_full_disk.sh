# A full disk while the run writes outside the store's database (issue 16): a large stdout in
# the spill directory (--no-store), a large fan-out's results file (> 4,096 units), a spill
# file or results file that cannot even be created (no inodes left), and Slurm job files.
# Each stops the run with exit 3 and a message naming the path, the cause and what to do,
# never a silent fallback (results kept in memory, a stdout cut at 64 KiB); with the store,
# --resume continues once there is room. Needs root to mount small tmpfs file systems: where
# mount is not allowed, every case is reported as skipped.
source "$(dirname "$0")/lib.sh"

mounts=()
cleanup() {
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done
    rm -rf "$T"
}
trap cleanup EXIT

# tmpfs DIR OPTIONS: a fresh tmpfs at DIR (false when mount is not allowed).
tmpfs() {
    mkdir -p "$1"
    mount -t tmpfs -o "$2" tmpfs "$1" 2>/dev/null || return 1
    mounts+=("$1")
}

if ! tmpfs "$T/probe" size=64k; then
    echo "ok - # SKIP a full disk: cannot mount a tmpfs here (needs root)"
    done_testing
    exit 0
fi

# big: one unit printing 2,000,000 bytes (spilled past 64 KiB); fan: 5,000 units whose
# results (255 bytes each, 1.3 MB in all) go to the fan-out's results file.
cat > big.yaml <<'YAML'
version: 1
tasks:
  big:
    run: head -c 2000000 /dev/zero | tr -c b b
outputs:
  n: << task.big | length >>
YAML
V=$(printf '%0250d' 0)
fan() {
    cat <<YAML
version: 1
tasks:
$1
  fan:
    with-items: << range(5000) >>
    action: core.value
    input:
      value: "<< item >> $V"
  after:
    run: echo << task.fan | length >> << task.fan[4999] | length >>
outputs:
  after: << task.after >>
YAML
}
fan "" > fan.yaml
# With the store: pre runs (and is counted) and is committed while wait sleeps, before the
# fan-out fills the disk; the resume must not run it again.
fan "  pre:
    run: echo ran >> $T/pre.count
  wait:
    needs: [pre]
    run: sleep 0.3" | sed 's/^    with-items: << range(5000) >>/    needs: [wait]\n&/' > fan_store.yaml

# 1. --no-store: stdout spilled to a full $TMPDIR.
tmpfs "$T/d1" size=1m
TMPDIR=$T/d1 run_wf run big.yaml --no-store --progress plain
expect_rc "a stdout that fills the spill directory stops the run" 3
expect_in "the message names the spill directory and the cause" err.txt \
    "wfengine: task 'big': stdout: cannot write it to $T/d1/wfengine-spill-"
expect_in "and says what to do" err.txt \
    "No space left on device; make room there (or point TMPDIR at a file system with room) and run again"
left=$(ls -A "$T/d1" | wc -l)
if [ "$left" -eq 0 ]; then pass "the spill directory is removed"; else
    fail "the spill directory is left: $(ls -A "$T/d1")"; fi

# 2. --no-store: a fan-out's results file fills $TMPDIR; the same run fits once there is room.
tmpfs "$T/d2" size=2m
head -c 1500000 /dev/zero > "$T/d2/filler"
TMPDIR=$T/d2 run_wf run fan.yaml --no-store -j2 --progress plain
expect_rc "a fan-out's results file that fills the disk stops the run" 3
expect_in "the message names the task, the directory and what to do" err.txt \
    "wfengine: task 'fan': its item results cannot be written to $T/d2/wfengine-spill-"
expect_in "and the cause" err.txt "No space left on device; make room there"
expect_in "nothing new starts" out.txt "after: null"
rm "$T/d2/filler"
TMPDIR=$T/d2 run_wf run fan.yaml --no-store -j2 --progress plain
expect_rc "with room, the same run succeeds" 0
expect_in "with every item's result" out.txt "after: 5000 255"

# 3. No inode left for the results file, then none for a spilled stdout (the spill directory
# takes the last one): both used to fall back silently (results in memory; a stdout cut to
# its first 64 KiB, which read as 65536 bytes here).
tmpfs "$T/d3" size=1m,nr_inodes=2
TMPDIR=$T/d3 run_wf run fan.yaml --no-store -j2 --progress plain
expect_rc "a results file that cannot be created stops the run" 3
expect_in "it says so" err.txt \
    "wfengine: task 'fan': cannot create the file for its 5000 item results in $T/d3/wfengine-spill-"
tmpfs "$T/d4" size=1m,nr_inodes=3
TMPDIR=$T/d4 run_wf run big.yaml --no-store --progress plain
expect_rc "a spill file that cannot be created stops the run" 3
expect_not_in "no stdout cut at 64 KiB" out.txt "n: 65536"
expect_in "it names the directory" err.txt "stdout: cannot write it to $T/d4/wfengine-spill-"

# 4. The store on a disk that fills up during the fan-out; --resume with the command printed
# finishes once there is room.
tmpfs "$T/d5" size=4m
head -c 2900000 /dev/zero > "$T/d5/filler"
run_wf run fan_store.yaml --store "$T/d5/st" -j2 --progress plain
expect_rc "a store on a full disk stops the run" 3
expect_in "the message says the disk is full" err.txt "disk is full"
rm "$T/d5/filler"
if grep -q "continue the run: wfengine run fan_store.yaml --resume" err.txt || grep -q "make room there, then continue with --resume last" err.txt; then
    pass "it says how to continue"
else
    fail "no way to continue in the message" "$(tail -n 5 err.txt)"
fi
run_wf run fan_store.yaml --store "$T/d5/st" -j2 --progress plain --resume last
expect_rc "--resume finishes it once there is room" 0
expect_in "with every item's result" out.txt "after: 5000 255"
ran=$(wc -l < "$T/pre.count")
if [ "$ran" -eq 1 ]; then pass "what the first run recorded is reused (pre ran once)"; else
    fail "pre ran $ran times"; fi

# 5. Slurm job files (a fake sbatch) in a job directory on a full disk.
source "$(dirname "$0")/fake_slurm.sh"
tmpfs "$T/d6" size=64k
head -c 65536 /dev/zero > "$T/d6/filler" 2>/dev/null || true
cat > slurm.yaml <<'YAML'
version: 1
tasks:
  job:
    executor: slurm
    run: echo hi
outputs:
  job: << task.job >>
YAML
# The job directory is .wfengine-slurm in the current directory (--no-store); the output goes
# elsewhere.
set +e
(cd "$T/d6" && PATH=$F/bin:$PATH "$WFENGINE" run "$T/slurm.yaml" --no-store --progress plain) \
    >out.txt 2>err.txt
rc=$?
set -e
expect_rc "Slurm job files on a full disk stop the run" 3
expect_in "the message names the file and what to do" err.txt \
    "wfengine: task 'job': cannot submit 1 element to Slurm: cannot write $T/d6/.wfengine-slurm/"
expect_in "and the cause" err.txt "No space left on device; make room there and run again"

done_testing
