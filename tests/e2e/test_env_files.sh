#!/usr/bin/env bash
# env-file (top level and per task) and --env-file: the dotenv format docker and go-task read,
# the order in which the environment is built, and malformed files reported with file:line.
. "$(dirname "$0")/lib.sh"

mkdir -p wf
cat > wf/.env <<'E'
# a comment, then the forms people write
export A=from-file
B="two words\tand a tab"
C=bare # a trailing comment
D='$HOME stays literal'
OVER=workflow-file

E=
E
printf 'T=task-file\r\nOVER=task-file\r\n' > wf/task.env
printf 'X=cli\nOVER=cli-file\n' > cli.env
cat > wf/env.yaml <<'Y'
version: 1
env-file: .env
env:
  FROM_TEMPLATE: << env.A >>-seen
tasks:
  show:
    run: printf '%s|%s|%s|%s|%s|%s|%s|%s|%s' "$A" "$B" "$C" "$D" "$OVER" "$X" "$FROM_TEMPLATE" "${T:-none}" "${E-unset}"
  taskfile:
    env-file: [task.env]
    env: {X: task-env}
    run: printf '%s|%s|%s' "$T" "$OVER" "$X"
Y
run_wf run wf/env.yaml --no-store --json --progress none --env-file cli.env
expect_rc "a run with env files" 0
expect_json "every form read, in order, --env-file after the workflow's" 'd["tasks"]["show"]["result"]' \
    '"from-file|two words\tand a tab|bare|$HOME stays literal|cli-file|cli|from-file-seen|none|"'
expect_json "a task's env-file (CRLF lines too), under its env" 'd["tasks"]["taskfile"]["result"]' \
    '"task-file|task-file|task-env"'

# Malformed files: every bad line, with file:line:col and the line.
printf 'GOOD=1\nbad line here\n1X=2\nQ="unterminated\nR='"'"'x'"'"' extra\n' > bad.env
run_wf run wf/env.yaml --no-store --env-file bad.env
expect_rc "a malformed env file stops the run before it starts" 2
expect_in "a line without =" err.txt "bad.env:2:5: expected '=' after the name (NAME=VALUE, no spaces in the name)"
expect_in "a name starting with a digit" err.txt "bad.env:3:1: expected NAME=VALUE (a name is letters, digits and _, not starting with a digit)"
expect_in "an unclosed quote" err.txt "bad.env:4:16: the double quote is not closed on this line"
expect_in "text after a quote" err.txt "bad.env:5:7: unexpected text after the closing quote"
expect_in "with the line for the caret" err.txt "    bad line here"
run_wf run wf/env.yaml --no-store --env-file missing.env
expect_rc "a missing env file" 2
expect_in "says which and why" err.txt "missing.env: cannot read the env file: No such file or directory"
printf 'version: 1\nenv-file: [1]\ntasks:\n  t: {run: echo}\n' > badkey.yaml
run_wf validate badkey.yaml
expect_rc "env-file must be paths" 2
expect_in "at its place" err.txt "badkey.yaml:2:12:"
done_testing
