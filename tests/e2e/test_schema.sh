#!/usr/bin/env bash
# schema/wfengine.schema.json (JSON Schema draft 2020-12): every example workflow and
# tests/schema/valid/*.yaml validate against it, every tests/schema/invalid/*.yaml does not,
# and wfengine itself agrees on each file (python3-jsonschema and python3-yaml from Debian).
. "$(dirname "$0")/lib.sh"
S=$WF_SOURCE_DIR

# check_schema FILE...: prints "FILE: ok" or "FILE: invalid: why" per file. YAML is read the
# way wfengine reads it (YAML 1.2 core schema): only true/false are booleans, no dates, and
# numbers as JSON writes them.
cat > check.py <<'PY'
import json, re, sys
import yaml
from jsonschema import Draft202012Validator

class Loader(yaml.SafeLoader):
    pass
Loader.yaml_implicit_resolvers = {}
for tag, pattern, first in [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:-?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+|0o[0-7]+)$", list("-0123456789")),
    ("tag:yaml.org,2002:float", r"^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?$", list("-0123456789")),
    ("tag:yaml.org,2002:merge", r"^<<$", ["<"]),
]:
    Loader.add_implicit_resolver(tag, re.compile(pattern), first)
Loader.add_constructor("tag:yaml.org,2002:bool",
                       lambda l, n: l.construct_scalar(n).lower() == "true")
Loader.add_constructor("tag:yaml.org,2002:int",
                       lambda l, n: int(l.construct_scalar(n), 0))

schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
validator = Draft202012Validator(schema)
for path in sys.argv[2:]:
    doc = yaml.load(open(path), Loader=Loader)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        print(f"{path}: invalid: /{'/'.join(map(str, e.path))}: {e.message}")
    else:
        print(f"{path}: ok")
PY

valid=("$S"/workflows/*.yaml "$S"/tests/schema/valid/*.yaml)
invalid=("$S"/tests/schema/invalid/*.yaml)
if python3 check.py "$S/schema/wfengine.schema.json" "${valid[@]}" "${invalid[@]}" > result.txt 2>py.err; then
    pass "the schema is a valid draft 2020-12 schema"
else
    fail "the schema is a valid draft 2020-12 schema" "$(cat py.err)"
    done_testing
    exit 1
fi
for f in "${valid[@]}"; do
    name=${f#"$S"/}
    expect_in "$name validates against the schema" result.txt "$f: ok"
    run_wf validate "$f"
    expect_rc "wfengine accepts $name" 0
done
for f in "${invalid[@]}"; do
    name=${f#"$S"/}
    expect_in "$name does not validate against the schema" result.txt "$f: invalid: "
    run_wf validate "$f"
    expect_rc "wfengine refuses $name too" 2
done
n=${#invalid[@]}
[ "$n" -ge 10 ] && pass "$n invalid files checked" || fail "at least 10 invalid files (got $n)"
done_testing
