#!/usr/bin/env bash
# Large results by reference where they used to be read whole (issue 16): a $WF_RESULT file
# over 64 KiB, and a Slurm job's stdout and $WF_RESULT files (fake Slurm, packed or not),
# are hashed as they are read once and become the blob as they are (a link or a copy): the
# result is a reference loaded on use (results_memory counts the loads), each output is on
# disk once, and max-output is their cap, over which the unit fails naming task, item and cap.
# ctest-cost: 19 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fake_slurm.sh"

# 1 MiB + 1 byte per item, different per item: "<item>" then 1 MiB of base64.
MIB='printf %s "<< item >>"; head -c 786432 /dev/zero | base64 -w0'

# blobs_at_least DIR BYTES: how many blobs of DIR are at least BYTES long; blob_bytes: all.
blobs_at_least() { find "$1/blobs" -type f -size +$(($2 / 1024 - 1))k | wc -l; }
blob_bytes() { find "$1/blobs" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}'; }

for where in local slurm pack; do
    case $where in
        local) exec_keys='' ;;
        slurm) exec_keys='executor: slurm' ;;
        pack) exec_keys='executor: slurm
    slurm: {pack: 2}' ;;
    esac
    cat >big.yaml <<YAML
version: 1
tasks:
  out:
    with-items: [a, b, c]
    $exec_keys
    run: $MIB
  res:
    with-items: [a, b, c]
    $exec_keys
    run: |
      echo a log line
      ( printf r; $MIB ) >"\$WF_RESULT"
  read:
    needs: [out, res]
    run: echo "<< task.out[1] | length >> << task.res[2] | length >> << task.res[2] == task.res[1] >>"
outputs:
  read: << task.read >>
YAML
    rm -rf st
    run_wf run big.yaml --store st --json --progress none
    expect_rc "$where: 1 MiB stdout and \$WF_RESULT per item" 0
    expect_json "$where: the results are whole" 'd["outputs"]["read"]' '"1048577 1048578 false"'
    expect_json "$where: references, each loaded once on use" 'd["results_memory"]["loads"]' '3'
    n=$(blobs_at_least st 1048577)
    [ "$n" = 6 ] && pass "$where: six 1 MiB blobs (3 stdout, 3 \$WF_RESULT)" ||
        fail "$where: $n blobs of 1 MiB, want 6" "$(find st/blobs -type f -size +100k -ls)"
    bytes=$(blob_bytes st)
    [ "$bytes" -lt $((6 * 1048578 + 200000)) ] && pass "$where: each on disk once ($bytes bytes)" ||
        fail "$where: $bytes bytes of blobs for 6 MiB of output"
    # The store gives the $WF_RESULT back (the blob converted, schema 10) to --resume.
    run_wf run big.yaml --store st --resume last --json --progress none
    expect_rc "$where: --resume" 0
    expect_json "$where: --resume reads the stored results" 'd["outputs"]["read"]' '"1048577 1048578 false"'

    # Over max-output: the unit fails naming the task, the item and the cap.
    run_wf run big.yaml --no-store --max-output 100K --progress plain
    expect_rc "$where: over max-output" 1
    expect_in "$where: stdout over the cap" err.txt \
        "task 'out' item 0 wrote more than its max-output of 100 KiB to stdout (what came after was dropped); raise it with"
    expect_in "$where: \$WF_RESULT over the cap" err.txt \
        "task 'res' item 0 wrote more than its max-output of 100 KiB to \$WF_RESULT; raise it with"
done

# Without a store: the spill directory, removed at exit.
mkdir -p tmp
TMPDIR=$T/tmp run_wf run big.yaml --no-store --json --progress none
expect_rc "--no-store" 0
expect_json "--no-store: the results are whole" 'd["outputs"]["read"]' '"1048577 1048578 false"'
if [ -z "$(ls tmp)" ]; then pass "--no-store: the spill directory is removed"; else
    fail "--no-store: left in TMPDIR" "$(ls -la tmp)"; fi

# A json $WF_RESULT by reference: parsed when used, and bad JSON fails the unit.
cat >json.yaml <<'YAML'
version: 1
tasks:
  j:
    output: json
    run: |
      python3 -c 'import json; print(json.dumps({"n": 7, "pad": "x" * 100000}))' >"$WF_RESULT"
  bad:
    output: json
    run: head -c 100000 /dev/zero | tr '\0' '{' >"$WF_RESULT"
    continue-on-error: true
outputs:
  n: << task.j.n >>
YAML
run_wf run json.yaml --store st2 --json --progress none
expect_rc "a json \$WF_RESULT of 100 KB" 0
expect_json "its value" 'd["outputs"]["n"]' '7'
expect_json "bad JSON in a large \$WF_RESULT fails the unit" 'd["tasks"]["bad"]["status"]' '"failed"'

done_testing
