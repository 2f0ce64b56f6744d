#!/usr/bin/env bash
# End-to-end tests of the Slurm executor through the wfengine CLI, against a real cluster:
# run it through tests/slurm/cluster.sh (which sets SLURM_CONF and WF_SLURM_LIVE=1).
#   WFENGINE=build/wfengine bash tests/slurm/cluster.sh bash tests/slurm/e2e.sh
# What is checked: a with-items task is ONE job array (one submission directory, one sbatch)
# with results in item order; a failing element; a retry resubmits only the failed element;
# SIGINT leaves nothing in squeue; --resume does not resubmit succeeded elements; a missing
# sbatch and a cluster that does not answer are clear errors before anything runs; a
# 1,000-item fan-out goes through one sbatch with every result right and in order; 200
# elements that print nothing give "" (not heap bytes); packs (several items per element,
# each with its own status, output, exit code, retry and timeout, a pack that outlives one
# item's timeout not cut, pack: auto, a cached packed task); a secret (in the command, the
# environment, the output) and wfengine's own environment are neither left in the job
# directory nor in slurmctld's saved state, and job files are 0600 in 0700 directories; the
# limits: 20 retries go out as one array, a 3 s timeout kills an element after about 3 s (not
# Slurm's minute), a refused submission is reported once and not retried. A cached task's
# second run submits nothing, and the first-class keys the one-node cluster takes (cpus,
# memory, partition, time; from the task, the top-level slurm: and the site configuration)
# reach sbatch and the elements. Last, as it lowers the cluster's MaxArraySize to 10 with
# scontrol reconfigure: 40 items are split into four arrays, 50 items in packs of 2 into three.
# Runs that count submissions pass --keep-job-files: by default the job directory goes;
# runs that count sbatch calls put a wrapper that logs them first on the PATH.
WF_SOURCE_DIR=${WF_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
export WF_SOURCE_DIR
# lib.sh moves to a temporary directory: a relative WFENGINE must be made absolute first.
if [ -n "${WFENGINE:-}" ] && [ "${WFENGINE#/}" = "$WFENGINE" ]; then
    WFENGINE=$(cd "$(dirname "$WFENGINE")" && pwd)/$(basename "$WFENGINE")
fi
. "$WF_SOURCE_DIR/tests/e2e/lib.sh"

if [ "${WF_SLURM_LIVE:-}" != 1 ] || [ -z "${SLURM_CONF:-}" ]; then
    echo "e2e.sh needs a cluster: run it through tests/slurm/cluster.sh" >&2
    exit 2
fi

# submissions TASK: how many submission directories (one per sbatch) the last run made for TASK.
submissions() {
    local run
    run=$(ls -t .wfengine/slurm 2>/dev/null | head -n 1)
    [ -n "$run" ] || { echo 0; return; }
    find ".wfengine/slurm/$run" -mindepth 1 -maxdepth 1 -type d -name "$1-*" | wc -l
}

# elements TASK K: how many elements submission K of TASK in the last run had.
elements() {
    local run
    run=$(ls -t .wfengine/slurm | head -n 1)
    find ".wfengine/slurm/$run/$1-$2" -maxdepth 1 -name 'cmd.*' | wc -l
}

expect_eq() {
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# A wrapper for sbatch that logs each call to sbatch.log, for runs under PATH="$wrap:$PATH".
wrap=$PWD/wrap
mkdir -p "$wrap"
printf '#!/bin/sh\necho "$*" >>%s/sbatch.log\nexec %s "$@"\n' "$PWD" "$(command -v sbatch)" \
    >"$wrap/sbatch"
chmod +x "$wrap/sbatch"
sbatch_calls() {
    if [ -f sbatch.log ]; then wc -l <sbatch.log | tr -d ' '; else echo 0; fi
}

queue_empty() {
    local q
    q=$(squeue -h -o '%i %T %j' 2>&1)
    if [ -z "$q" ]; then pass "$1"; else fail "$1: still in squeue" "$q"; fi
}

# --- with-items as one job array, results in item order ------------------------------------
cat >fan.yaml <<'Y'
version: 1
name: slurm-fan
defaults:
  executor: slurm
tasks:
  square:
    with-items: [1, 2, 3, 4, 5, 6, 7, 8]
    concurrency: 3
    output: json
    slurm: {partition: debug, cpus: 1, time: "5"}
    # Later items finish first: the order of the results must not depend on it.
    run: sleep 0.$((9 - << item >>)); echo $((<< item >> * << item >>))
  total:
    needs: square
    action: core.value
    input: {value: << task.square | sum >>}
outputs:
  squares: << task.square >>
Y
run_wf run fan.yaml --json --keep-job-files
expect_rc "with-items on Slurm" 0
expect_json "results in item order" 'd["tasks"]["square"]["result"]' '[1, 4, 9, 16, 25, 36, 49, 64]'
expect_json "the action ran in wfengine on the results" 'd["tasks"]["total"]["result"]' '204'
expect_json "items succeeded with exit code 0" \
    'sorted(set((i["status"], i["exit_code"]) for i in d["tasks"]["square"]["items"]))' \
    '[["succeeded", 0]]'
expect_eq "one sbatch for 8 items" "$(submissions square)" 1
expect_eq "the array has 8 elements" "$(elements square 1)" 8
queue_empty "nothing left in squeue"

# --executor slurm sends a workflow that says nothing about Slurm to the cluster.
cat >plain.yaml <<'Y'
version: 1
tasks:
  host:
    run: echo "job=${SLURM_JOB_ID:-none}"
Y
run_wf run plain.yaml --executor slurm --json --keep-job-files
expect_rc "--executor slurm" 0
expect_json "a plain task runs as a Slurm job" \
    'd["tasks"]["host"]["result"].startswith("job=") and d["tasks"]["host"]["result"] != "job=none\n"' \
    'true'
expect_eq "a plain task is one sbatch" "$(submissions host)" 1

# --- a failing element -----------------------------------------------------------------------
cat >fail.yaml <<'Y'
version: 1
tasks:
  check:
    executor: slurm
    with-items: [0, 1, 2]
    run: |
      if [ << item >> = 1 ]; then echo "item 1 is bad" >&2; exit 3; fi
      echo ok << item >>
Y
run_wf run fail.yaml --json
expect_rc "a failing element fails the run" 1
expect_json "item statuses" '[i["status"] for i in d["tasks"]["check"]["items"]]' \
    '["succeeded", "failed", "succeeded"]'
expect_json "the failed item's exit code" 'd["tasks"]["check"]["items"][1]["exit_code"]' '3'
expect_json "the error names the job and the state" \
    '"FAILED: exit code 3" in d["tasks"]["check"]["items"][1]["error"] and "_1 " in d["tasks"]["check"]["items"][1]["error"]' \
    'true'
expect_json "results of the others in place" 'd["tasks"]["check"]["result"]' \
    '["ok 0", null, "ok 2"]'
run_wf logs last 'check[1]' --stderr
expect_in "the element's stderr is stored" out.txt "item 1 is bad"

# --- errexit: an element's script stops at its first failing command, as locally ---------
cat >errexit.yaml <<'Y'
version: 1
tasks:
  strict:
    executor: slurm
    with-items: [0, 1]
    run: |
      echo before << item >>
      test << item >> = 0
      echo after << item >>
  loose:
    executor: slurm
    shell: sh
    run: "false; echo after"
Y
run_wf run errexit.yaml --json
expect_rc "a failing line fails the element" 1
expect_json "item 1 stopped at its failing line" \
    '[i["status"] for i in d["tasks"]["strict"]["items"]]' '["succeeded", "failed"]'
expect_json "item 0 ran every line" 'd["tasks"]["strict"]["result"][0]' '"before 0\nafter 0"'
expect_json "shell: sh has no errexit on Slurm either" 'd["tasks"]["loose"]["result"]' '"after"'

# --- $WF_RESULT and the element's own TMPDIR on the node --------------------------------
cat >result.yaml <<'Y'
version: 1
tasks:
  res:
    executor: slurm
    with-items: [a, b]
    output: json
    run: |
      echo noise
      case "$TMPDIR" in */wfengine-unit.*) ;; *) exit 7;; esac
      echo '{"item": "<< item >>"}' > "$WF_RESULT"
Y
run_wf run result.yaml --json
expect_rc "\$WF_RESULT on Slurm" 0
expect_json "the elements' results come from \$WF_RESULT" 'd["tasks"]["res"]["result"]' \
    '[{"item": "a"}, {"item": "b"}]'

# --- 1 MiB of stdout and of $WF_RESULT per element: by reference, on disk once ----------------
cat >bigout.yaml <<'Y'
version: 1
tasks:
  big:
    executor: slurm
    with-items: [a, b]
    run: |
      printf %s "<< item >>"; head -c 786432 /dev/zero | base64 -w0
      ( printf r; head -c 786432 /dev/zero | base64 -w0 ) >"$WF_RESULT"
  read:
    needs: [big]
    run: echo "<< task.big[1] | length >>"
Y
run_wf run bigout.yaml --json
expect_rc "1 MiB outputs on Slurm" 0
expect_json "the \$WF_RESULT file is the result, whole" 'd["tasks"]["read"]["result"]' '"1048577"'
expect_json "a reference, loaded once" 'd["results_memory"]["loads"]' '1'
expect_eq "two 1 MiB stdout blobs and one \$WF_RESULT blob (the same in both)" \
    "$(find .wfengine/blobs -type f -size +1023k | wc -l | tr -d ' ')" 3
run_wf run bigout.yaml --max-output 100K --progress plain
expect_rc "over max-output on Slurm" 1
# (The $WF_RESULT file is the result: its size fails the unit; stdout is then only the log.)
expect_in "the unit fails naming task, item and cap" err.txt \
    "task 'big' item 0 wrote more than its max-output of 100 KiB to \$WF_RESULT; raise it with"

# --- a retry resubmits only the failed element ---------------------------------------------
rm -f marker
cat >retry.yaml <<'Y'
version: 1
tasks:
  flaky:
    executor: slurm
    with-items: [a, b, c, d]
    retry: 1
    run: |
      if [ << item >> = c ] && [ ! -e marker ]; then touch marker; exit 1; fi
      echo << item >>
Y
run_wf run retry.yaml --json --keep-job-files
expect_rc "a retried element succeeds" 0
expect_json "attempts per item" '[i["attempts"] for i in d["tasks"]["flaky"]["items"]]' '[1, 1, 2, 1]'
expect_json "results after the retry" 'd["tasks"]["flaky"]["result"]' '["a", "b", "c", "d"]'
expect_eq "two submissions: the array, then the retry" "$(submissions flaky)" 2
expect_eq "the retry has only the failed element" "$(elements flaky 2)" 1

# --- SIGINT cancels everything it submitted ------------------------------------------------
cat >sleepy.yaml <<'Y'
version: 1
tasks:
  sleepers:
    executor: slurm
    with-items: [1, 2, 3, 4, 5, 6]
    concurrency: 2
    run: sleep 300
  single:
    executor: slurm
    run: sleep 300
Y
set +e
"$WFENGINE" run sleepy.yaml --json >out.txt 2>err.txt &
pid=$!
for _ in $(seq 150); do
    [ "$(squeue -h -t RUNNING -o %i | wc -l)" -ge 3 ] && break
    sleep 0.2
done
running=$(squeue -h -t RUNNING -o %i | wc -l)
kill -INT "$pid"
wait "$pid"
rc=$?
set -e
expect_eq "jobs were running before SIGINT" "$running" 3
expect_rc "SIGINT stops the run" 130
expect_json "SIGINT: the run is cancelled" 'd["status"]' '"cancelled"'
expect_json "SIGINT: items cancelled" \
    'sorted(set(i["status"] for i in d["tasks"]["sleepers"]["items"]))' '["cancelled"]'
queue_empty "SIGINT: no job left in squeue"
run_id=$(json_get 'd["run_id"]' | tr -d '"')
if [ -n "$run_id" ] && [ ! -e ".wfengine/slurm/$run_id" ]; then
    pass "SIGINT: the job directory is removed"
else
    fail "SIGINT: the job directory is removed (run '$run_id')" "$(ls -lR .wfengine/slurm 2>&1 | tail -n 20)"
fi

# --- --resume does not resubmit succeeded elements -----------------------------------------
rm -f fixed
cat >resume.yaml <<'Y'
version: 1
tasks:
  part:
    executor: slurm
    with-items: [1, 2, 3, 4]
    output: json
    run: |
      if [ << item >> = 3 ] && [ ! -e fixed ]; then exit 1; fi
      echo << item >>0
Y
run_wf run resume.yaml --json --keep-job-files
expect_rc "resume: the first run fails" 1
touch fixed
sleep 1 # a new run id (they are per second)
run_wf run resume.yaml --resume last --json --keep-job-files
expect_rc "resume: the resumed run succeeds" 0
expect_json "resume: all results in order" 'd["tasks"]["part"]["result"]' '[10, 20, 30, 40]'
expect_eq "resume: one submission" "$(submissions part)" 1
expect_eq "resume: with only the element that had failed" "$(elements part 1)" 1

# --- errors before anything runs -----------------------------------------------------------
run_wf_env() {
    set +e
    env "$@" >out.txt 2>err.txt
    rc=$?
    set -e
}
run_wf_env PATH=/nonexistent "$WFENGINE" run fan.yaml --json
if [ "$rc" -ne 0 ]; then pass "no sbatch: refused (exit $rc)"; else fail "no sbatch: exit 0"; fi
expect_in "no sbatch: the message names sbatch and the PATH" err.txt \
    "sbatch: not found on PATH (/nonexistent)"
expect_not_in "no sbatch: no unit ran" out.txt '"succeeded"'

sed -e 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" >dead.conf
run_wf_env SLURM_CONF="$PWD/dead.conf" "$WFENGINE" run fan.yaml --json
if [ "$rc" -ne 0 ]; then pass "dead cluster: refused (exit $rc)"; else fail "dead cluster: exit 0"; fi
expect_in "dead cluster: the message says so" err.txt "the Slurm cluster does not answer"
expect_not_in "dead cluster: no unit ran" out.txt '"succeeded"'

# --- 1,000 items through one sbatch ----------------------------------------------------------
cat >thousand.yaml <<'Y'
version: 1
tasks:
  square:
    executor: slurm
    with-items: << range(1000) >>
    output: json
    run: echo $((<< item >> * << item >>))
outputs:
  n: << task.square | length >>
Y
t0=$(date +%s.%N)
run_wf run thousand.yaml --json -q --keep-job-files
t1=$(date +%s.%N)
echo "1000-item fan-out on Slurm: $(echo "$t1 - $t0" | bc) s"
expect_rc "1,000 items on Slurm" 0
expect_json "1,000 results, right and in item order" \
    'd["tasks"]["square"]["result"] == [i * i for i in range(1000)]' 'true'
expect_eq "1,000 items: one sbatch" "$(submissions square)" 1
expect_eq "1,000 items: one array of 1,000 elements" "$(elements square 1)" 1000
queue_empty "1,000 items: nothing left in squeue"

# --- elements that print nothing --------------------------------------------------------------
# The same workflow as tests/e2e/test_empty_output.sh (local): an empty out.i or err.i once
# came back as heap bytes for most elements.
cat >quiet.yaml <<'Y'
version: 1
tasks:
  quiet:
    with-items: << range(200) >>
    run: "true"
  quiet_lines:
    with-items: [1, 2, 3]
    output: lines
    run: ":"
  single:
    run: exit 0
Y
run_wf run quiet.yaml --executor slurm --json -q
expect_rc "200 silent elements on Slurm" 0
expect_json "every silent element's result is \"\"" \
    'd["tasks"]["quiet"]["result"] == [""] * 200' 'true'
expect_json "output: lines of nothing is []" 'd["tasks"]["quiet_lines"]["result"]' '[[], [], []]'
expect_json "a silent single job: \"\"" 'd["tasks"]["single"]["result"]' '""'
run_wf show last --json
expect_json "no stdout or stderr stored for any element" \
    'sorted(set((bool(u["stdout_hash"]), bool(u["stderr_hash"])) for t in d["tasks"] for u in t["units"]))' \
    '[[false, false]]'
run_wf logs last 'quiet[123]'
if [ "$rc" = 0 ] && [ ! -s out.txt ]; then pass "logs of a silent element is empty"; else
    fail "logs of a silent element is empty (exit $rc)" "$(od -c out.txt | head -n 5)"; fi
run_wf logs last 'quiet[123]' --stderr
if [ "$rc" = 0 ] && [ ! -s out.txt ]; then pass "logs --stderr of a silent element is empty"; else
    fail "logs --stderr of a silent element is empty (exit $rc)" "$(od -c out.txt | head -n 5)"; fi

# --- packs: several items per element, each its own process, status, output and retry --------
cat >pack.yaml <<'Y'
version: 1
defaults:
  executor: slurm
tasks:
  pk:
    with-items: << range(10) >>
    retry: 1
    output: json
    slurm: {pack: 4}
    # Item 3 fails once, item 6 always: only they are submitted again.
    run: |
      echo "err << item >>" >&2
      if [ << item >> = 3 ] && [ ! -f once3 ]; then touch once3; exit 3; fi
      if [ << item >> = 6 ]; then exit 6; fi
      echo $((<< item >> * 10))
  slow:
    with-items: [0, 1, 2]
    timeout: 2s
    slurm: {pack: 3}
    # The middle item outlives its own timeout; the next one in the pack still runs.
    run: if [ << item >> = 1 ]; then sleep 30; fi; echo done << item >>
  steady:
    with-items: [0, 1, 2, 3]
    timeout: 2s
    slurm: {pack: 4}
    # Each item keeps to its timeout, the element runs twice as long: it is not cut.
    run: sleep 1; echo ok << item >>
Y
rm -f once3
run_wf run pack.yaml --json --keep-job-files
expect_rc "a pack with a failing item fails the run" 1
expect_json "each item its own status" '[i["status"] for i in d["tasks"]["pk"]["items"]]' \
    '["succeeded", "succeeded", "succeeded", "succeeded", "succeeded", "succeeded", "failed", "succeeded", "succeeded", "succeeded"]'
expect_json "results in item order" 'd["tasks"]["pk"]["result"]' \
    '[0, 10, 20, 30, 40, 50, null, 70, 80, 90]'
expect_json "attempts per item: only the failed ones again" \
    '[i["attempts"] for i in d["tasks"]["pk"]["items"]]' '[1, 1, 1, 2, 1, 1, 2, 1, 1, 1]'
expect_json "each item its own exit code" \
    '[i["exit_code"] for i in d["tasks"]["pk"]["items"]][5:7]' '[0, 6]'
expect_json "the error names the job and the item" \
    '"in its pack) FAILED: exit code 6" in d["tasks"]["pk"]["items"][6]["error"]' 'true'
run_id=$(ls -t .wfengine/slurm | head -n 1)
expect_eq "the first submission: 3 elements for 10 items" \
    "$(grep -c . <<<"$(ls ".wfengine/slurm/$run_id/pk-1" | grep -E '^slurm-0\.(out)\.' )")" 3
expect_eq "the retries: only items 3 and 6" \
    "$(find ".wfengine/slurm/$run_id" -path '*/pk-*' ! -path '*/pk-1/*' -name 'cmd.*' | wc -l)" 2
expect_json "a timeout inside a pack applies to its item" \
    '[(i["status"], "timed out after 2000ms" in (i.get("error") or "")) for i in d["tasks"]["slow"]["items"]]' \
    '[["succeeded", false], ["failed", true], ["succeeded", false]]'
expect_json "the item after it ran" 'd["tasks"]["slow"]["result"][2]' '"done 2"'
expect_json "it was stopped at its own timeout, not the pack's" \
    'd["tasks"]["slow"]["items"][1]["duration_ms"] < 15000' 'true'
expect_json "a pack that outlives one item's timeout is not cut: each item succeeds" \
    'd["tasks"]["steady"]["result"]' '["ok 0", "ok 1", "ok 2", "ok 3"]'
run_wf logs last 'pk[5]' --stderr
expect_in "an item's own stderr is stored" out.txt "err 5"

# pack: auto: a probe of 8 items one per element, then the rest in packs sized from it (tiny
# items: all 32 others in one element), two sbatch calls in one submission directory.
cat >auto.yaml <<'Y'
version: 1
tasks:
  au:
    executor: slurm
    with-items: << range(40) >>
    output: json
    slurm: {pack: auto}
    run: echo << item >>
Y
run_wf run auto.yaml --json --keep-job-files
expect_rc "pack: auto" 0
expect_json "pack: auto: every result in order" 'd["tasks"]["au"]["result"] == list(range(40))' 'true'
run_id=$(ls -t .wfengine/slurm | head -n 1)
expect_eq "pack: auto: two sbatch calls (probe, rest)" \
    "$(ls ".wfengine/slurm/$run_id/au-1" | grep -c '^slurm-[0-9]*\.sh$')" 2
expect_eq "pack: auto: the rest in one element" \
    "$(ls ".wfengine/slurm/$run_id/au-1" | grep -c '^slurm-8\.rc\.')" 1
queue_empty "packs: nothing left in squeue"

# --- 20 retries go out as one array ----------------------------------------------------------
# Every element fails once; Slurm reports their ends over a few polls, and the retries are
# held until the poller has finished a round, then go out together.
rm -f m.* sbatch.log
cat >retries.yaml <<'Y'
version: 1
tasks:
  flaky:
    executor: slurm
    with-items: << range(20) >>
    retry: 1
    run: |
      if [ ! -e m.<< item >> ]; then touch m.<< item >>; exit 1; fi
      echo << item >>
Y
PATH="$wrap:$PATH" run_wf run retries.yaml --json -q --keep-job-files
expect_rc "20 retries on Slurm" 0
expect_json "every item took two attempts" \
    'sorted(set(i["attempts"] for i in d["tasks"]["flaky"]["items"]))' '[2]'
expect_eq "20 items and 20 retries: two sbatch calls" "$(sbatch_calls)" 2
expect_eq "the retries are one array of 20" "$(elements flaky 2)" 20

# --- a timeout below a minute is the engine's ------------------------------------------------
cat >timeout.yaml <<'Y'
version: 1
tasks:
  slow:
    executor: slurm
    with-items: [1, 60]
    timeout: 3s
    run: sleep << item >>; echo done
Y
t0=$(date +%s)
run_wf run timeout.yaml --json -q
took=$(($(date +%s) - t0))
expect_rc "a 3 s timeout on Slurm fails the run" 1
expect_json "the short item succeeds, the long one fails" \
    '[i["status"] for i in d["tasks"]["slow"]["items"]]' '["succeeded", "failed"]'
expect_json "the error says the engine's timeout" \
    '"CANCELLED: timed out after 3s (the task'"'"'s timeout: wfengine scancelled it)" in d["tasks"]["slow"]["items"][1]["error"]' \
    'true'
expect_json "the element ran about 3 s" \
    '2500 <= d["tasks"]["slow"]["items"][1]["duration_ms"] <= 9000' 'true'
if [ "$took" -lt 20 ]; then pass "the timed-out run ended in $took s (not Slurm's minute)"; else
    fail "the timed-out run ended in $took s (not Slurm's minute)"; fi
queue_empty "timeout: nothing left in squeue"

# --- a refused submission is reported once and not retried ----------------------------------
rm -f sbatch.log
cat >refused.yaml <<'Y'
version: 1
tasks:
  nowhere:
    executor: slurm
    with-items: << range(30) >>
    retry: 2
    slurm: {partition: no-such-partition}
    run: "true"
Y
PATH="$wrap:$PATH" run_wf run refused.yaml --json
expect_rc "an invalid partition fails the run" 1
expect_eq "one sbatch call, not retried" "$(sbatch_calls)" 1
expect_json "every item failed after one attempt" \
    'sorted(set((i["status"], i["attempts"]) for i in d["tasks"]["nowhere"]["items"]))' \
    '[["failed", 1]]'
expect_json "each item's error quotes Slurm" \
    'all("Invalid partition name specified" in i["error"] and "not retried" in i["error"] for i in d["tasks"]["nowhere"]["items"])' \
    'true'
expect_eq "Slurm's message is printed once" "$(grep -c 'Invalid partition name' err.txt)" 2
expect_in "the other items are counted" err.txt \
    "FAILED   nowhere: 29 more items not submitted for the same reason"

# --- secrets: nothing left on disk, nothing in slurmctld's state ------------------------------
state_dir=$(sed -n 's/^StateSaveLocation=//p' "$SLURM_CONF")
secret="tok-$RANDOM$RANDOM-secret"
engine_secret="eng-$RANDOM$RANDOM-secret"
cat >leak.yaml <<'Y'
version: 1
inputs:
  token: {type: string, secret: true}
env:
  TOKEN_ENV: << inputs.token >>
tasks:
  leak:
    executor: slurm
    with-items: [0, 1]
    output: lines
    run: |
      echo cmd << inputs.token >>
      echo "env $TOKEN_ENV" >&2
      echo "engine $WF_E2E_ENGINE_SECRET" >&2
      [ "$TOKEN_ENV" = << inputs.token >> ] && echo env-ok
      [ -n "$WF_E2E_ENGINE_SECRET" ] && echo engine-env-ok
      umask
      stat -c 'mode %a' .wfengine/slurm/*/leak-1/out.<< item >> .wfengine/slurm/*/leak-1/err.<< item >>
Y
# leaked RUN_ID: every file under the run's job directory and the state directory that holds
# the secret or wfengine's own environment variable.
leaked() {
    { grep -rlF -e "$secret" -e "$engine_secret" ".wfengine/slurm/$1" "$state_dir" 2>/dev/null ||
        true; } | sort
}
umask 022
set +e
WF_E2E_ENGINE_SECRET=$engine_secret "$WFENGINE" run leak.yaml -i "token=$secret" --json \
    >out.txt 2>err.txt
rc=$?
set -e
expect_rc "a run with a secret on Slurm" 0
run_id=$(json_get 'd["run_id"]' | tr -d '"')
expect_json "the element got the workflow's env and wfengine's environment" \
    '[("env-ok" in r, "engine-env-ok" in r) for r in d["tasks"]["leak"]["result"]]' \
    '[[true, true], [true, true]]'
expect_json "the command runs with wfengine's umask" \
    '[r[r.index("engine-env-ok") + 1] for r in d["tasks"]["leak"]["result"]]' '["0022", "0022"]'
expect_json "out.i and err.i are 0600 while the element runs" \
    '[r[-2:] for r in d["tasks"]["leak"]["result"]]' \
    '[["mode 600", "mode 600"], ["mode 600", "mode 600"]]'
if [ -e ".wfengine/slurm/$run_id" ]; then
    fail "the job directory is removed when the run ends" "$(ls -lR ".wfengine/slurm/$run_id")"
else
    pass "the job directory is removed when the run ends"
fi
n_env=$(find "$state_dir" -name environment -newer leak.yaml | wc -l)
if [ "$n_env" -ge 1 ]; then pass "slurmctld saved the job's environment ($n_env files)"; else
    fail "slurmctld saved the job's environment: no file under $state_dir"; fi
got=$(leaked "$run_id")
if [ -z "$got" ]; then pass "no secret in the job directory or slurmctld's state"; else
    fail "no secret in the job directory or slurmctld's state" "$got"; fi

# --keep-job-files keeps everything for debugging, readable by the user only; slurmctld's
# state stays clean.
set +e
WF_E2E_ENGINE_SECRET=$engine_secret "$WFENGINE" run leak.yaml -i "token=$secret" --json \
    --keep-job-files >out.txt 2>err.txt
rc=$?
set -e
expect_rc "--keep-job-files" 0
run_id=$(json_get 'd["run_id"]' | tr -d '"')
expect_eq "--keep-job-files keeps every element's files" \
    "$(find ".wfengine/slurm/$run_id/leak-1" -name '*.[01]' | wc -l)" 12
open=$(find ".wfengine/slurm/$run_id" \( -type f -perm /077 \) -o \( -type d -perm /077 \))
if [ -z "$open" ]; then pass "kept job files are 0600 and directories 0700"; else
    fail "kept job files are 0600 and directories 0700" "$(ls -ld $open)"; fi
got=$(leaked "$run_id" | grep -v "^\.wfengine/" || true)
if [ -z "$got" ]; then pass "--keep-job-files: still no secret in slurmctld's state"; else
    fail "--keep-job-files: still no secret in slurmctld's state" "$got"; fi
rm -rf ".wfengine/slurm/$run_id"

# --- cache: a second run submits nothing; first-class keys the one-node cluster takes ---------
# The sbatch wrapper ($wrap, above) counts the calls and keeps their arguments.
printf 'slurm: {partition: debug, time: 5}\n' >site.yaml
cat >cached.yaml <<'Y'
version: 1
slurm:
  memory: 100M
tasks:
  c:
    executor: slurm
    with-items: [1, 2, 3]
    cpus: 2
    cache: true
    run: echo "<< item >> ${SLURM_CPUS_PER_TASK:-none} ${SLURM_JOB_PARTITION:-none}"
Y
rm -f sbatch.log
PATH="$wrap:$PATH" WFENGINE_CONFIG="$PWD/site.yaml" run_wf run cached.yaml --json
expect_rc "a cached Slurm task, first run" 0
expect_json "cpus: 2 reached the elements as --cpus-per-task, the site's partition too" \
    'd["tasks"]["c"]["result"]' '["1 2 debug", "2 2 debug", "3 2 debug"]'
expect_eq "one sbatch" "$(sbatch_calls)" 1
expect_in "with the task's cpus, the top level's memory and the site's partition and time" \
    sbatch.log "--partition=debug --time=5 --cpus-per-task=2 --mem=100M"
rm -f sbatch.log
PATH="$wrap:$PATH" WFENGINE_CONFIG="$PWD/site.yaml" run_wf run cached.yaml --json
expect_rc "the second run" 0
expect_eq "submits nothing" "$(sbatch_calls)" 0
expect_json "same results, all from the cache" \
    '[d["tasks"]["c"]["result"], [i["cached"] for i in d["tasks"]["c"]["items"]]]' \
    '[["1 2 debug", "2 2 debug", "3 2 debug"], [true, true, true]]'
rm -f sbatch.log
PATH="$wrap:$PATH" WFENGINE_CONFIG="$PWD/site.yaml" run_wf run cached.yaml --no-cache
expect_rc "--no-cache" 0
expect_eq "submits again" "$(sbatch_calls)" 1
queue_empty "nothing left in squeue after the cached runs"

# cache: on packed items: one entry per item; a second run submits nothing.
cat >cachedpack.yaml <<'Y'
version: 1
tasks:
  cp:
    executor: slurm
    with-items: [1, 2, 3, 4, 5]
    cache: true
    slurm: {pack: 2}
    run: echo "packed << item >>"
Y
rm -f sbatch.log
PATH="$wrap:$PATH" run_wf run cachedpack.yaml --json
expect_rc "a cached packed task, first run" 0
expect_eq "one sbatch for 3 packs" "$(sbatch_calls)" 1
rm -f sbatch.log
PATH="$wrap:$PATH" run_wf run cachedpack.yaml --json
expect_rc "the cached packed task again" 0
expect_eq "submits nothing" "$(sbatch_calls)" 0
expect_json "every packed item from the cache" \
    '[d["tasks"]["cp"]["result"], [i["cached"] for i in d["tasks"]["cp"]["items"]]]' \
    '[["packed 1", "packed 2", "packed 3", "packed 4", "packed 5"], [true, true, true, true, true]]'

# --- an array larger than MaxArraySize is split ------------------------------------------------
# Last: it lowers the cluster's MaxArraySize to 10 (scontrol reconfigure does not raise it
# back on Slurm 22.05). 40 items: four sbatch calls (--array=0-9 each), the results in order.
sed -i -e '/^MaxArraySize=/d' "$SLURM_CONF"
echo "MaxArraySize=10" >>"$SLURM_CONF"
scontrol reconfigure
for _ in $(seq 50); do
    scontrol show config | grep -q '^MaxArraySize *= 10$' && break
    sleep 0.1
done
rm -f sbatch.log
cat >split.yaml <<'Y'
version: 1
tasks:
  double:
    executor: slurm
    with-items: << range(40) >>
    output: json
    run: echo $((<< item >> * 2))
Y
PATH="$wrap:$PATH" run_wf run split.yaml --json -q
expect_rc "40 items at MaxArraySize 10" 0
expect_json "40 results, right and in item order" \
    'd["tasks"]["double"]["result"] == [i * 2 for i in range(40)]' 'true'
expect_eq "four sbatch calls" "$(sbatch_calls)" 4
expect_eq "each an array of 10 (indexes 0-9)" "$(grep -c -- '--array=0-9 ' sbatch.log)" 4
queue_empty "split: nothing left in squeue"

# A packed task is split by whole packs: 50 items at pack: 2 are 25 elements, 10 + 10 + 5.
rm -f sbatch.log
cat >splitpack.yaml <<'Y'
version: 1
tasks:
  triple:
    executor: slurm
    with-items: << range(50) >>
    output: json
    slurm: {pack: 2}
    run: echo $((<< item >> * 3))
Y
PATH="$wrap:$PATH" run_wf run splitpack.yaml --json -q
expect_rc "50 packed items at MaxArraySize 10" 0
expect_json "50 results, right and in item order" \
    'd["tasks"]["triple"]["result"] == [i * 3 for i in range(50)]' 'true'
expect_eq "three sbatch calls" "$(sbatch_calls)" 3
expect_eq "two arrays of 10 packs and one of 5" \
    "$(grep -o -- '--array=0-[0-9]* ' sbatch.log | sort | tr -d ' ' | tr '\n' ' ')" \
    "--array=0-4 --array=0-9 --array=0-9 "
queue_empty "packed split: nothing left in squeue"

done_testing
