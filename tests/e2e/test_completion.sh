#!/usr/bin/env bash
# wfengine completion bash|zsh: the scripts parse, and bash completes the right words.
# Also: --help of every command has examples, and the manual page renders without warnings.
. "$(dirname "$0")/lib.sh"

for c in run validate graph runs show logs gc completion; do
    run_wf "$c" --help
    expect_rc "$c --help" 0
    expect_in "$c --help has examples" out.txt "Example"
    run_wf help "$c"
    expect_rc "help $c" 0
done
if command -v groff >/dev/null; then
    if groff -man -Tutf8 -ww -z "$WF_SOURCE_DIR/docs/wfengine.1" 2>groff.err && [ ! -s groff.err ]; then
        pass "docs/wfengine.1 renders without warnings"
    else
        fail "docs/wfengine.1 renders without warnings" "$(cat groff.err)"
    fi
fi

run_wf completion bash
expect_rc "completion bash" 0
cp out.txt wf.bash
bash -n wf.bash 2>syn.err && pass "bash script parses" || fail "bash script parses" "$(cat syn.err)"
run_wf completion zsh
expect_rc "completion zsh" 0
expect_in "zsh script is a compdef" out.txt "#compdef wfengine"
if command -v zsh >/dev/null; then
    cp out.txt _wfengine
    zsh -n _wfengine 2>syn.err && pass "zsh script parses" || fail "zsh script parses" "$(cat syn.err)"
fi
run_wf completion fish
expect_rc "unknown shell" 2
run_wf completion --help
expect_rc "completion --help" 0
expect_in "completion help has examples" out.txt "Examples"

touch a.yaml b.yml notes.txt
mkdir -p sub
# complete WORDS...: what bash's completion offers for the command line (the last word is
# the one being completed), sorted, on one line.
complete_words() {
    bash -c '
        source ./wf.bash
        COMP_WORDS=("$@")
        COMP_CWORD=$(($# - 1))
        _wfengine
        printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "
    ' _ "$@"
}
check() {
    local desc=$1 want=$2 got
    shift 2
    got=$(complete_words "$@")
    got=${got% }
    if [ "$got" = "$want" ]; then pass "$desc"; else fail "$desc: got '$got', want '$want'"; fi
}
check "commands" "gc graph" wfengine g
check "run options" "--jobs --json --junit" wfengine run --j
check "--progress values" "auto none plain tty" wfengine run x.yaml --progress ""
check "--format values" "dot mermaid" wfengine graph x.yaml --format ""
check "workflow files and directories" "a.yaml b.yml sub" wfengine run ""
check "shells" "bash zsh" wfengine completion ""
check "a run" "last" wfengine show l
check "help topics" "run runs" wfengine help ru
cat > lab.yaml <<'Y'
version: 1
tasks:
  build:
    with-items: [linux, macos]
    label: os-<< item >>
    run: "true"
  objs:
    with-items: [{a: 1}]
    run: "true"
Y
"$WFENGINE" run lab.yaml >/dev/null 2>&1 || fail "the run for completion"
check "logs RUN: the run's items, by label or index" "build.os-linux build.os-macos objs.0" \
    "$WFENGINE" logs last ""
check "logs RUN: completes a prefix" "build.os-macos" "$WFENGINE" logs last build.os-m
check "logs RUN ITEM: nothing more" "" "$WFENGINE" logs last build.os-linux ""
done_testing
