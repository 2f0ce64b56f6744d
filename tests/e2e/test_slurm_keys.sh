#!/usr/bin/env bash
# The `slurm:` keys (a task's, the top-level map, the site configuration) as the sbatch
# arguments they become, `--executor local`, `cpus:` as --cpus-per-task and `cache:` on
# Slurm, against a fake Slurm on the PATH: sbatch runs each element at once and records its
# arguments, scontrol reports the recorded exit statuses (the live cluster is
# tests/slurm/e2e.sh; account and qos need accounting, which the test cluster has not).
# ctest-cost: 13 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/fake_slurm.sh"
export WFENGINE_CONFIG="$T/site.yaml"

# ---- precedence: task > task cpus > top level > site configuration -----------------------
cat >site.yaml <<'EOF'
slurm:
  account: site-acct
  qos: site-qos
  partition: site-part
  memory: 1G
  constraint: site-feature
EOF
cat >keys.yaml <<'EOF'
version: 1
inputs: {acct: {default: wf-acct}}
slurm:
  account: << inputs.acct >>
  qos: wf-qos
  gpus: 1
tasks:
  a:
    executor: slurm
    cpus: 3
    with-items: [x, y]
    slurm: {qos: "<< item >>-qos", memory: 2G, gpus: "a100:2"}
    run: echo << item >>
  b:
    executor: slurm
    needs: a
    slurm: {cpus: 5, constraint: "avx2&ib", extra: [--comment=hi]}
    cpus: 2
    run: echo b
EOF
run_wf run keys.yaml --no-store
expect_rc "a run with every key through the fake sbatch" 0
args 1 >a1.txt; args 2 >a2.txt; args 3 >b.txt
# Items that render different options go out as separate arrays: one sbatch per item here.
expect_in "task a, item x: its own qos" a1.txt "--qos=x-qos"
expect_in "task a, item y: its own qos" a2.txt "--qos=y-qos"
expect_in "task a: the top level's account (a template over inputs)" a1.txt "--account=wf-acct"
expect_in "task a: memory is --mem, the task's over the site's" a1.txt "--mem=2G"
expect_in "task a: the task's gpus over the top level's" a1.txt "--gpus=a100:2"
expect_in "task a: cpus: 3 is --cpus-per-task" a1.txt "--cpus-per-task=3"
expect_in "task a: the site's partition" a1.txt "--partition=site-part"
expect_in "task a: the site's constraint" a1.txt "--constraint=site-feature"
expect_in "task b: slurm.cpus wins over cpus" b.txt "--cpus-per-task=5"
expect_in "task b: the top level's qos" b.txt "--qos=wf-qos"
expect_in "task b: the top level's gpus" b.txt "--gpus=1"
expect_in "task b: the site's memory" b.txt "--mem=1G"
expect_in "task b: its own constraint" b.txt "--constraint=avx2&ib"
expect_in "task b: extra comes last" <(tail -n 2 b.txt | head -n 1) "--comment=hi"
[ "$(calls)" = 3 ] && pass "three sbatch calls" || fail "sbatch calls: $(calls), want 3"

# ---- a rendered value is checked like a constant --------------------------------------------
cat >bad.yaml <<'EOF'
version: 1
inputs: {q: {default: "-x"}}
tasks:
  t: {executor: slurm, run: echo t, slurm: {qos: << inputs.q >>}}
EOF
rm -f "$F/count"
run_wf run bad.yaml --no-store
expect_rc "a template that renders sbatch syntax fails the unit" 1
expect_in "it says which key and why" err.txt "slurm: 'slurm.qos' is '-x', which starts with '-'"
[ "$(calls)" = 0 ] && pass "nothing submitted" || fail "sbatch calls: $(calls), want 0"

# ---- the site configuration: errors at file:line:col; read only for Slurm ---------------------
printf 'slurm:\n  qos: ""\n  acount: x\n' >site.yaml
run_wf run keys.yaml --no-store
expect_rc "a bad site configuration stops a Slurm run" 2
expect_in "at file:line:col" err.txt "site.yaml:2:8: 'slurm.qos' is empty"
expect_in "unknown keys too" err.txt "site.yaml:3:3: unknown key 'acount' in slurm; did you mean 'account'?"
printf 'version: 1\ntasks:\n  l: {run: echo local}\n' >local.yaml
run_wf run local.yaml --no-store
expect_rc "a local run does not read it" 0
WFENGINE_CONFIG=$T/none.yaml run_wf run keys.yaml --no-store
expect_rc "a WFENGINE_CONFIG that does not exist is an error" 2
expect_in "naming it" err.txt "none.yaml: cannot read the configuration file"
unset WFENGINE_CONFIG
mkdir -p xdg/wfengine
printf 'slurm: {partition: from-xdg}\n' >xdg/wfengine/config.yaml
rm -f "$F/count"
XDG_CONFIG_HOME=$T/xdg run_wf run keys.yaml --no-store
expect_rc "XDG_CONFIG_HOME/wfengine/config.yaml is read" 0
expect_in "its partition is sent" "$F/args.1" "--partition=from-xdg"
export WFENGINE_CONFIG="$T/site.yaml"

# ---- --executor local ----------------------------------------------------------------------
rm -f "$F/count"
run_wf run keys.yaml --no-store --executor local --json
expect_rc "--executor local runs a slurm file here (its bad site configuration unread)" 0
[ "$(calls)" = 0 ] && pass "no sbatch call" || fail "sbatch calls: $(calls), want 0"
expect_json "the results are the same" "d['tasks']['a']['result']" '["x", "y"]'
run_wf run keys.yaml --executor local --dry-run
expect_rc "--dry-run with --executor local" 0
expect_in "the plan says the slurm options are ignored" out.txt "executor: local (--executor local: the file's executor: slurm and its slurm: options are ignored)"
run_wf run local.yaml --executor slurm --dry-run
expect_in "the plan says --executor slurm" out.txt "executor: slurm (--executor slurm)"
run_wf run local.yaml --executor lokal
expect_rc "--executor takes local or slurm" 2
expect_in "saying so" err.txt "--executor takes local or slurm (got 'lokal')"

# ---- a top-level slurm: map in a file whose tasks run locally ---------------------------------
printf 'slurm: {partition: p1}\n' >site.yaml
cat >top.yaml <<'EOF'
version: 1
slurm: {account: proj}
tasks:
  l: {run: echo here}
EOF
rm -f "$F/count"
run_wf run top.yaml --no-store
expect_rc "a top-level slurm map with local tasks runs locally" 0
[ "$(calls)" = 0 ] && pass "no sbatch call without --executor slurm" || fail "sbatch calls: $(calls)"
run_wf run top.yaml --no-store --executor slurm
expect_rc "with --executor slurm it applies" 0
expect_in "the top level's account" "$F/args.1" "--account=proj"
expect_in "the site's partition" "$F/args.1" "--partition=p1"

# ---- cache: on Slurm -------------------------------------------------------------------------
printf 'slurm: {}\n' >site.yaml
mkdir -p work
echo one >work/src.txt
cat >cache.yaml <<'EOF'
version: 1
tasks:
  c:
    executor: slurm
    with-items: [1, 2, 3]
    cache: {sources: [src.txt, none.*], generates: [out.*]}
    workdir: work
    output: json
    run: |
      echo << item >> >out.<< item >>; echo '{"n": << item >>}'
  plain:
    executor: slurm
    run: echo uncached
EOF
rm -f "$F/count"
run_wf run cache.yaml --json
expect_rc "a first run of a cached Slurm task" 0
[ "$(calls)" = 2 ] && pass "it submits (one array, one job)" || fail "sbatch calls: $(calls), want 2"
expect_json "its results" "d['tasks']['c']['result']" '[{"n": 1}, {"n": 2}, {"n": 3}]'
expect_in "the lookup's warnings reach the run" err.txt "warning: c: cache.sources 'none.*' matched no file"
rm -f work/out.* "$F/count"
run_wf run cache.yaml --json
expect_rc "a second run" 0
[ "$(calls)" = 1 ] && pass "submits only the uncached task" || fail "sbatch calls: $(calls), want 1"
expect_json "the same results, from the cache" "d['tasks']['c']['result']" '[{"n": 1}, {"n": 2}, {"n": 3}]'
[ "$(cat work/out.2 2>/dev/null)" = 2 ] && pass "generated files restored on a hit" ||
    fail "work/out.2 not restored"
run_wf show last --json
expect_json "show marks every item cached" "[u['cached'] for u in d['tasks'][0]['units']]" '[true, true, true]'
echo two >work/src.txt
rm -f "$F/count"
run_wf run cache.yaml
[ "$(calls)" = 2 ] && pass "a changed source submits again" || fail "sbatch calls: $(calls), want 2"
rm -f "$F/count"
run_wf run cache.yaml --no-cache
[ "$(calls)" = 2 ] && pass "--no-cache submits" || fail "sbatch calls: $(calls), want 2"
rm -f "$F/count"
run_wf run cache.yaml --executor local
expect_rc "the same task run locally" 0
[ "$(calls)" = 0 ] && pass "nothing submitted" || fail "sbatch calls: $(calls)"
run_wf show last --json
expect_json "the local run hits what the Slurm run recorded (the key is the unit's, not the executor's)" "[u['cached'] for u in d['tasks'][0]['units']]" '[true, true, true]'

done_testing
