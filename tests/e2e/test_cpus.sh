#!/usr/bin/env bash
# cpus: N: each unit of the task counts N against -j. Units detect overlap themselves: a
# heavy unit holds a directory as a lock (mkdir fails if another heavy one runs) and looks
# for running light units' files, which look for the lock in turn; an overlap is written to
# the file `overlaps`. The same workflow with cpus: 1 must overlap (the detector works).
source "$(dirname "$0")/lib.sh"

flow() { # flow CPUS: three heavy units and two light ones, no dependencies between them
cat <<EOF
version: 1
tasks:
  heavy:
    with-items: [1, 2, 3]
    cpus: $1
    run: |
      mkdir heavy.lock 2>/dev/null || echo "heavy << item >> beside another heavy" >>overlaps
      ls light.* >/dev/null 2>&1 && echo "heavy << item >> beside a light one" >>overlaps
      sleep 0.3
      rmdir heavy.lock 2>/dev/null || true
  light:
    with-items: [1, 2]
    run: |
      touch light.<< item >>
      [ -d heavy.lock ] && echo "light << item >> beside a heavy one" >>overlaps
      sleep 0.3
      rm light.<< item >>
EOF
}

flow 2 >w2.yaml
run_wf run w2.yaml -j2 --no-store
expect_rc "cpus: 2 under -j2" 0
if [ -e overlaps ]; then fail "a cpus: 2 unit ran beside another unit" "$(cat overlaps)"; else
    pass "at most one cpus: 2 unit at a time, and none beside a cpus: 1 unit"; fi
rm -rf overlaps heavy.lock

flow 1 >w1.yaml
run_wf run w1.yaml -j2 --no-store
expect_rc "cpus: 1 under -j2" 0
if [ -s overlaps ]; then pass "with cpus: 1 they overlap (the detector sees it)"; else
    fail "cpus: 1 units did not run side by side under -j2"; fi
rm -rf overlaps heavy.lock light.*

# -j3: a cpus: 2 unit and a cpus: 1 unit fit together, two cpus: 2 units do not.
flow 2 >w3.yaml
run_wf run w3.yaml -j3 --no-store
expect_rc "cpus: 2 under -j3" 0
if grep -q "beside another heavy" overlaps 2>/dev/null; then
    fail "two cpus: 2 units ran at once under -j3" "$(cat overlaps)"; else
    pass "never two cpus: 2 units at once under -j3"; fi
rm -rf overlaps heavy.lock light.*

# Two tasks with cpus: 1 still run in parallel: each waits (up to 5 s) to see the other.
cat >pair.yaml <<'EOF'
version: 1
tasks:
  a:
    cpus: 1
    run: touch a.on; i=0; while [ ! -e b.on ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; [ -e b.on ]
  b:
    cpus: 1
    run: touch b.on; i=0; while [ ! -e a.on ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; [ -e a.on ]
EOF
run_wf run pair.yaml -j2 --no-store
expect_rc "two cpus: 1 tasks under -j2 saw each other running" 0

# More cpus than -j: the unit runs alone, with a warning when the task starts.
cat >big.yaml <<'EOF'
version: 1
inputs: {n: {type: integer, default: 4}}
tasks:
  big: {cpus: << inputs.n >>, run: echo big}
  bad: {cpus: << inputs.n - 4 >>, run: echo never}
EOF
run_wf run big.yaml -j2 --no-store --json
expect_rc "a template cpus of 0 fails its task" 1
expect_in "a unit with cpus above -j is warned about" err.txt "task 'big' has cpus: 4, more than the 2 units that run at once (-j): each of its units runs alone"
expect_json "and still runs" "d['tasks']['big']['status']" '"succeeded"'
expect_in "cpus from a template is checked when the task starts" err.txt "cpus: '<< inputs.n - 4 >>' gave 0, not an integer of at least 1"
run_wf run big.yaml -j2 --no-store -i n=1
expect_not_in "no warning when it fits" err.txt "more than the 2 units"

done_testing
