#!/usr/bin/env bash
# --resume takes a task from the store only when nothing it depends on ran again
# (docs/store.md, "Resume"): a plain chain, a dependent of a failure under continue-on-error
# (through a task.X reference, status() in a command, and `when: failed(...)`), the
# dependents of those in turn, and a with-items task whose list comes from a task that ran
# again. Tasks that read nothing that ran again are still taken from the store, and so are
# the dependents of a task whose only unit that ran was an item skipped again by its `when`.
. "$(dirname "$0")/lib.sh"

# ran.txt gets one line per unit that really ran.
ran_is() {
    local got
    got=$(sort ran.txt | tr '\n' ' ')
    if [ "$got" = "$2" ]; then pass "$1"; else fail "$1: ran '$got', want '$2'"; fi
}

# ---- a plain chain: a -> b -> c, b fails; the resume runs b and so c, never a -------------
cat > chain.yaml <<'Y'
version: 1
tasks:
  a:
    run: echo a >> ran.txt; echo A
  b:
    needs: [a]
    run: echo b >> ran.txt; test -e fixed
  c:
    needs: [b]
    run: echo c >> ran.txt
Y
run_wf run chain.yaml
expect_rc "chain: b fails" 1
ran_is "chain: a and b ran, c was skipped" "a b "
: > ran.txt
touch fixed
run_wf run chain.yaml --resume last --json
expect_rc "chain: the resume succeeds" 0
ran_is "chain: the resume ran b and c, not a" "b c "
expect_json "chain: a is reused" 'd["tasks"]["a"].get("reused", False)' 'true'
rm -f fixed ran.txt

# ---- what read a task that ran again runs again -------------------------------------------
cat > deps.yaml <<'Y'
version: 1
tasks:
  a:
    run: echo a >> ran.txt; echo A
  side:
    needs: [a]
    run: echo side >> ran.txt; echo "side of << task.a >>"
  b:
    needs: [a]
    continue-on-error: true
    run: echo b >> ran.txt; if test -e fixed; then echo B-fixed; else echo B-broken; exit 1; fi
  reads_result:
    run: echo reads_result >> ran.txt; echo "b gave [<< task.b >>]"
  reads_status:
    when: always()
    run: echo reads_status >> ran.txt; echo "b << status('b') >>"
  on_failure:
    when: failed('b')
    run: echo on_failure >> ran.txt; echo "cleaning up after b"
  downstream:
    needs: [reads_status]
    run: echo downstream >> ran.txt; echo "after << task.reads_status >>"
  src:
    needs: [a]
    with-items: [1, 2]
    continue-on-error: true
    run: echo src<< item >> >> ran.txt; if test << item >> = 1 || test -e fixed; then echo s<< item >>; else exit 1; fi
  fan:
    with-items: << task.src >>
    run: echo fan<< index >> >> ran.txt; echo f<< index >>
  pick:
    with-items: [1, 2, 3]
    when: << item != 2 >>
    run: echo pick<< item >> >> ran.txt
  after_pick:
    needs: [pick]
    run: echo after_pick >> ran.txt
outputs:
  result: << task.reads_result >>
  status: << task.reads_status >>
  fan: << task.fan >>
Y
run_wf run deps.yaml --json
expect_rc "deps: the first run succeeds (b's failure is allowed)" 0
ran_is "deps: everything ran once" \
    "a after_pick b downstream fan0 fan1 on_failure pick1 pick3 reads_result reads_status side src1 src2 "
expect_json "deps: they saw b fail" '[d["outputs"]["result"], d["outputs"]["status"]]' \
    '["b gave []", "b failed"]'
expect_json "deps: on_failure ran" 'd["tasks"]["on_failure"]["status"]' '"succeeded"'
expect_json "deps: fan had src's null" 'd["tasks"]["src"]["result"]' '["s1", null]'

: > ran.txt
touch fixed
run_wf run deps.yaml --resume last --json
expect_rc "deps: the resume succeeds" 0
ran_is "deps: the resume ran b, src's failed item and everything that read them" \
    "b downstream fan0 fan1 reads_result reads_status src2 "
expect_json "deps: a task.X reference sees the new result" 'd["outputs"]["result"]' \
    '"b gave [B-fixed]"'
expect_json "deps: status() sees the new status" 'd["outputs"]["status"]' '"b succeeded"'
expect_json "deps: when: failed(b) is evaluated again (b succeeded now)" \
    '[d["tasks"]["on_failure"]["status"], d["tasks"]["on_failure"].get("reused", False)]' \
    '["skipped", false]'
expect_json "deps: a dependent of a task that ran again ran again" \
    'd["tasks"]["downstream"].get("reused", False)' 'false'
expect_json "deps: fan's unchanged item ran again too (its list came from src)" \
    '[i.get("reused", False) for i in d["tasks"]["fan"]["items"]]' '[false, false]'
expect_json "deps: a and side, which read nothing that ran again, are reused" \
    '[d["tasks"]["a"].get("reused", False), d["tasks"]["side"].get("reused", False)]' \
    '[true, true]'
expect_json "deps: src's succeeded item is reused" \
    '[i.get("reused", False) for i in d["tasks"]["src"]["items"]]' '[true, false]'
expect_json "deps: an item skipped again by its when does not make the task's dependents run" \
    '[[i["status"] for i in d["tasks"]["pick"]["items"]], d["tasks"]["after_pick"].get("reused", False)]' \
    '[["succeeded", "skipped", "succeeded"], true]'

# Resuming the resume, in which everything succeeded: nothing runs again.
: > ran.txt
run_wf run deps.yaml --resume last --json
expect_rc "deps: resuming a run that succeeded" 0
if [ -s ran.txt ]; then fail "deps: nothing ran" "$(cat ran.txt)"; else pass "deps: nothing ran"; fi
expect_json "deps: the results are the same" '[d["outputs"]["result"], d["outputs"]["status"]]' \
    '["b gave [B-fixed]", "b succeeded"]'

done_testing
