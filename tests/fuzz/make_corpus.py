#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (tests/fuzz/corpus/<target>/) from the repository:
every example workflow, schema test file and ```yaml block of docs/ for fuzz_loader; every
template string in them for fuzz_template; every `run` string, and each shell context of
tests/check_template.c with `item`, for fuzz_shell (a value follows a 0xFF byte).

Run it after adding workflows or contexts: python3 tests/fuzz/make_corpus.py
CI runs each target on its corpus (scripts/test.sh)."""
import glob
import hashlib
import os
import re
import shutil
import sys

import yaml

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def files():
    for pattern in ("workflows/*.yaml", "tests/schema/*/*.yaml"):
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path, "rb") as f:
                yield f.read()
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "*.md"))):
        text = open(path, encoding="utf-8").read()
        for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
            yield block.encode()


def strings(node, key=None):
    """(key, string) for every string in a YAML document."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield from strings(v, k)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v, key)
    elif isinstance(node, str):
        yield key, node


def shell_contexts():
    """The templates of shell_contexts[] in tests/check_template.c, with item for vars.v."""
    src = open(os.path.join(ROOT, "tests", "check_template.c"), encoding="utf-8").read()
    table = re.search(r"shell_contexts\[\] = \{(.*?)\n\};", src, re.S).group(1)
    for lit in re.findall(r'\{\s*"((?:[^"\\]|\\.)*)",', table):
        text = bytes(lit, "utf-8").decode("unicode_escape")
        yield text.replace("vars.v", "item").encode()


def write(target, blobs):
    d = os.path.join(OUT, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for b in blobs:
        name = hashlib.sha1(b).hexdigest()
        with open(os.path.join(d, name), "wb") as f:
            f.write(b)
    return len(os.listdir(d))


def main():
    docs = list(files())
    templates, runs = set(), set()
    for doc in docs:
        try:
            tree = yaml.safe_load(doc)
        except yaml.YAMLError:
            continue
        for key, s in strings(tree):
            if "<<" in s:
                templates.add(s.encode())
            if key == "run":
                runs.add(s.encode())
    values = [b"", b"'", b"a b", b"$(touch x)\n`y`\\\"", b"\nEOF\n#"]
    shell = set()
    for i, t in enumerate(sorted(runs | set(shell_contexts()))):
        shell.add(t + b"\xff" + values[i % len(values)])
    n = (write("fuzz_loader", docs), write("fuzz_template", templates), write("fuzz_shell", shell))
    print("corpus: %d workflows, %d templates, %d run strings" % n)


if __name__ == "__main__":
    sys.exit(main())
