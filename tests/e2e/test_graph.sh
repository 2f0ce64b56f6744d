#!/usr/bin/env bash
# wfengine graph: dot that Graphviz accepts, mermaid flowcharts, errors.
. "$(dirname "$0")/lib.sh"
W=$WF_SOURCE_DIR/workflows

if ! command -v dot >/dev/null; then
    fail "Graphviz's dot is needed (scripts/install-deps.sh installs graphviz)"
    done_testing
    exit 1
fi
for f in "$W"/*.yaml; do
    name=$(basename "$f" .yaml)
    run_wf graph "$f"
    expect_rc "graph $name" 0
    if dot -Tsvg out.txt > "$name.svg" 2>dot.err && grep -q "<svg" "$name.svg"; then
        pass "dot -Tsvg accepts the graph of $name"
    else
        fail "dot -Tsvg accepts the graph of $name" "$(cat dot.err out.txt)"
    fi
    run_wf graph "$f" --format mermaid
    expect_rc "mermaid graph of $name" 0
    expect_in "mermaid flowchart of $name" out.txt "flowchart LR"
done

cat > g.yaml <<'Y'
version: 1
name: 'quote"d'
tasks:
  fetch-list:
    action: core.value
    input: {value: [1, 2]}
  each:
    with-items: << task["fetch-list"] >>
    run: echo << item >>
  report:
    needs: [each]
    run: echo done
Y
run_wf graph g.yaml
expect_rc "graph with odd names" 0
expect_in "implied dependency drawn" out.txt '"fetch-list" -> "each";'
expect_in "explicit dependency drawn" out.txt '"each" -> "report";'
expect_in "with-items task marked" out.txt 'label="each[*]"'
dot -Tsvg out.txt >/dev/null 2>dot.err && pass "dot accepts quoted names" || fail "dot accepts quoted names" "$(cat dot.err)"
run_wf graph g.yaml --format mermaid
expect_in "mermaid edge by node ids" out.txt "t0 --> t1"
expect_in "mermaid with-items shape" out.txt 't1[["each[*]"]]'
run_wf graph g.yaml --format svg
expect_rc "unknown format" 2
done_testing
