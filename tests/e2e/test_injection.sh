#!/usr/bin/env bash
# No value reaches the shell as syntax: a battery of hostile values goes through every place a
# template meets a process (unquoted, '...', "...", a mix, $( ), the list form of run, env,
# when, workdir, `shell: bash -c`), and each must arrive byte for byte with nothing executed.
# A NUL is an error naming the unit; a value with no safe rendering is a load error.
# ctest-cost: 39 (about its seconds in its slowest CI stage; see CMakeLists.txt)
source "$WF_SOURCE_DIR/tests/e2e/lib.sh"

PWNED="$T/pwned"
mkdir -p out "$T/tmp"
export TMPDIR="$T/tmp" # where long scripts are written, so that their removal can be checked

# The values, as JSON (so that a NUL and 1 MiB fit), written by Python.
python3 - "$PWNED" <<'EOF'
import json, sys
p = sys.argv[1]
values = [
    "; touch " + p, "| touch " + p, "&& touch " + p, "\ntouch " + p, "> " + p,
    "$(touch " + p + ")", "`touch " + p + "`", "'", '"', "\\", "$HOME ${IFS}", "*", "~",
    "!!", "-n", "it's \"quoted\" \\ $x `y`", "'; touch " + p + "; '",
    '"; touch ' + p + '; "', "EOF\ntouch " + p, "# comment", "a  b\tc", "",
    "é ✓", "$((1+1))", "${HOME:+$(touch " + p + ")}", "\\'", "\\\"",
]
json.dump({"values": values}, open("inputs.json", "w"))
json.dump({"values": ["'" * (1 << 20), '"$`\\' * (1 << 18)]}, open("big.json", "w"))
json.dump({"values": ["ok", "a\u0000b"]}, open("nul.json", "w"))
EOF

cat > battery.yaml <<'EOF'
version: 1
inputs:
  values: {type: array}
tasks:
  unquoted:
    with-items: << inputs.values >>
    run: printf %s << item >> > out/unquoted.<< index >>
  single:
    with-items: << inputs.values >>
    run: printf %s '<< item >>' > out/single.<< index >>
  double:
    with-items: << inputs.values >>
    run: printf %s "<< item >>" > out/double.<< index >>
  mixed:
    with-items: << inputs.values >>
    run: printf %s pre"<< item >>"'<< item >>'post > out/mixed.<< index >>
  subst:
    with-items: << inputs.values >>
    run: x="$(printf %s "<< item >>"; printf .)"; printf %s "${x%.}" > out/subst.<< index >>
  comment:
    with-items: << inputs.values >>
    run: |
      # the value << item >> is ignored here
      printf %s '<< item >>' > out/comment.<< index >>
  argv:
    with-items: << inputs.values >>
    run: [sh, -c, 'printf %s "$1" > "$2"', sh, << item >>, out/argv.<< index >>]
  env:
    with-items: << inputs.values >>
    env: {V: << item >>}
    run: printf %s "$V" > out/env.<< index >>
  when:
    with-items: << inputs.values >>
    when: << item == item and item | length >= 0 >>
    run: printf %s '<< item >>' > out/when.<< index >>
  bash:
    with-items: << inputs.values >>
    shell: bash -c
    run: printf %s "<< item >>"'<< item >>' > out/bash.<< index >>
EOF

run_wf run battery.yaml --inputs inputs.json --progress plain
expect_rc "the battery runs" 0
[ -e "$PWNED" ] && fail "a value was executed as shell code" || pass "no value was executed"

# Each file holds exactly the value (twice where the context writes it twice).
check_outputs() {
    python3 - "$@" <<'EOF'
import json, os, sys
values = json.load(open(sys.argv[1]))["values"]
bad = []
for ctx in sys.argv[2:]:
    for i, v in enumerate(values):
        want = {"mixed": "pre" + v + v + "post", "bash": v + v}.get(ctx, v)
        path = "out/%s.%d" % (ctx, i)
        if not os.path.exists(path):
            bad.append("%s: missing" % path)
            continue
        got = open(path, encoding="utf-8", errors="surrogateescape").read()
        if got != want:
            bad.append("%s: got %r, want %r" % (path, got[:80], want[:80]))
print("\n".join(bad[:20]))
sys.exit(1 if bad else 0)
EOF
}
if msg=$(check_outputs inputs.json unquoted single double mixed subst comment argv env when bash); then
    pass "every value arrives byte for byte in every context"
else
    fail "values changed on the way" "$msg"
fi

# workdir: a directory named after each value (those that can name a directory).
cat > workdir.yaml <<'EOF'
version: 1
inputs:
  values: {type: array}
tasks:
  dirs:
    with-items: << inputs.values >>
    env: {D: << item >>}
    run: mkdir -p -- "dirs/$D"
  pwd:
    needs: [dirs]
    with-items: << inputs.values >>
    workdir: dirs/<< item >>
    run: pwd > ../../out/workdir.<< index >>
EOF
python3 - <<'EOF'
import json
v = json.load(open("inputs.json"))["values"]
json.dump({"values": [x for x in v if "/" not in x and x not in ("", ".", "..")]},
          open("wd.json", "w"))
EOF
run_wf run workdir.yaml --inputs wd.json --progress plain
expect_rc "workdir named by hostile values" 0
if python3 - <<'EOF'
import json, os
v = json.load(open("wd.json"))["values"]
for i, x in enumerate(v):
    got = open("out/workdir.%d" % i, encoding="utf-8", errors="surrogateescape").read()
    assert os.path.basename(got.rstrip("\n")) == x, (i, got, x)
EOF
then pass "each unit ran in the directory its value names"; else fail "workdir differs"; fi
[ -e "$PWNED" ] && fail "a workdir value was executed" || pass "no workdir value was executed"

# 1 MiB of quotes: too long for one argument, so the script reaches the shell in a file.
rm -rf out && mkdir out
run_wf run battery.yaml --inputs big.json --progress plain
if [ -e out/single.0 ] && python3 - <<'EOF'
import json
v = json.load(open("big.json"))["values"]
for ctx in ("unquoted", "single", "double", "subst", "comment", "when"):
    for i, x in enumerate(v):
        assert open("out/%s.%d" % (ctx, i)).read() == x, (ctx, i)
EOF
then pass "1 MiB of quotes arrives whole through the shell contexts"; else
    fail "big values" "$(tail -n 20 err.txt)"; fi
expect_rc "values over the kernel's limits fail their units" 1
expect_in "an argument over the kernel's limit is a clear error" err.txt \
    "argv[0]: argument 4 of the command is 1048576 bytes, and Linux passes at most 131071 bytes in one argument"
expect_in "so is a variable" err.txt \
    "env[0]: env V: the value is 1048576 bytes, and Linux passes at most 131071 bytes in one variable"
expect_not_in "nothing is left to E2BIG" err.txt "Argument list too long"
[ -z "$(ls -A "$T/tmp")" ] && pass "the script files are removed" ||
    fail "script files were left behind" "$(ls "$T/tmp")"

# A NUL cannot reach a process: the unit fails and says which value, never a shorter string.
rm -rf out && mkdir out
run_wf run battery.yaml --inputs nul.json --progress plain
expect_rc "a NUL in a value fails the run" 1
expect_in "the error names the expression and the NUL" err.txt "item holds a NUL byte"
expect_in "the error names the unit" err.txt "single[1]"
[ -e out/single.1 ] && fail "a unit ran with a NUL cut" || pass "no unit ran with a cut value"
[ -e out/single.0 ] && pass "the other item ran" || fail "the other item did not run"

# Where no quoting is safe, loading fails at the value with the fix.
printf 'version: 1\ntasks:\n  t:\n    run: echo `<< inputs.x >>`\ninputs:\n  x: {default: a}\n' >bq.yaml
run_wf validate bq.yaml
expect_rc "a value in backticks is refused" 2
expect_in "at its position, with the fix" err.txt "bq.yaml:4:16: a value inside \`...\` backticks cannot be quoted safely; write \$( )"
printf 'version: 1\ntasks:\n  t:\n    run: |\n      cat \\<<EOF\n      << inputs.x >>\n      EOF\ninputs:\n  x: {default: a}\n' >hd.yaml
run_wf validate hd.yaml
expect_rc "a value in a heredoc body is refused" 2
expect_in "with the position and the fix" err.txt "hd.yaml:6:7: a value inside a heredoc body cannot be quoted safely"
printf "version: 1\ntasks:\n  t:\n    run: echo '<< inputs.x >>\ninputs:\n  x: {default: a}\n" >uq.yaml
run_wf validate uq.yaml
expect_rc "an unclosed quote around a value is refused" 2
expect_in "at the quote" err.txt "uq.yaml:4:15: this ' is never closed"

done_testing
