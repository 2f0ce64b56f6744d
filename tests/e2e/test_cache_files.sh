#!/usr/bin/env bash
# cache.generates: the files a cached task wrote come back on a hit (content and mode), a hit
# whose files cannot be restored is refused, `**` in sources and generates recurses, and the
# bad inputs: a glob that matches nothing, a file over the size cap, a path out of the workdir.
. "$(dirname "$0")/lib.sh"

builds() { if [ -f builds.log ]; then wc -l < builds.log; else echo 0; fi; }
# expect_builds DESC N: the build command has run N times so far.
expect_builds() {
    if [ "$(builds)" -eq "$2" ]; then pass "$1 (built $2 times)"; else fail "$1: built $(builds) times, want $2"; fi
}

mkdir -p src/a/b
echo one > src/a/b/f.c
cat > build.yaml <<'Y'
version: 1
tasks:
  build:
    cache:
      sources: ["src/**/*.c"]
      generates: ["out/**"]
    run: |
      echo built >> builds.log
      mkdir -p out/bin
      cat src/a/b/f.c > out/app
      printf '#!/bin/sh\necho tool says hi\n' > out/bin/tool
      chmod 750 out/bin/tool
      echo done
Y

# A hit after `rm -rf out` gives the files back.
run_wf run build.yaml
expect_rc "first run builds" 0
expect_builds "the first run ran the command" 1
rm -rf out
run_wf run build.yaml --json
expect_rc "second run" 0
expect_json "the second run is a cache hit" 'd["tasks"]["build"].get("cached"), d["tasks"]["build"]["result"]' '[true, "done"]'
expect_builds "a hit does not run the command" 1
if [ "$(cat out/app 2>/dev/null)" = one ]; then pass "out/app is restored"; else fail "out/app: '$(cat out/app 2>&1)'"; fi
if [ "$(stat -c %a out/bin/tool 2>/dev/null)" = 750 ]; then pass "the mode bits are restored (750)"; else
    fail "out/bin/tool mode $(stat -c %a out/bin/tool 2>&1), want 750"; fi
if [ "$(out/bin/tool 2>&1)" = "tool says hi" ]; then pass "the restored tool runs"; else fail "out/bin/tool: $(out/bin/tool 2>&1)"; fi
expect_in "the progress line says cached" err.txt "cached   build"
expect_in "the summary counts the cached unit" err.txt "(1 unit, 1 cached)"
if ls -a out out/bin | grep -q '\.wf-'; then fail "a temporary file is left" "$(ls -la out out/bin)"; else pass "no temporary file is left"; fi

# A hit overwrites a changed file with the stored one.
echo stale > out/app
run_wf run build.yaml
if [ "$(cat out/app)" = one ]; then pass "a hit replaces a changed generated file"; else fail "out/app: $(cat out/app)"; fi

# `**` recurses: a change two directories down is a miss.
echo two > src/a/b/f.c
run_wf run build.yaml --json
expect_json "a changed src/a/b/f.c is a miss with src/**/*.c" 'd["tasks"]["build"].get("cached", False)' 'false'
expect_builds "the miss ran the command" 2
if [ "$(cat out/app)" = two ]; then pass "the rebuilt file is there"; else fail "out/app: $(cat out/app)"; fi
rm -rf out
run_wf run build.yaml
if [ "$(cat out/app 2>/dev/null)" = two ]; then pass "the new entry restores the new file"; else fail "out/app: $(cat out/app 2>&1)"; fi

# gc keeps the blobs of cached files.
run_wf gc --keep-runs 0
expect_rc "gc" 0
rm -rf out
run_wf run build.yaml --json
expect_json "the entry still hits after gc" 'd["tasks"]["build"].get("cached", False)' 'true'
if [ "$(cat out/app 2>/dev/null)" = two ]; then pass "gc kept the file's blob"; else fail "out/app: $(cat out/app 2>&1)"; fi

# A restore that cannot write its file refuses the hit: the task runs (and here fails, as
# out/app is a directory for it too).
rm -rf out
mkdir -p out/app/blocker
run_wf run build.yaml
expect_rc "a blocked out/app" 1
expect_in "the refused hit is a warning naming the file" err.txt "warning: build: cache entry not used: cannot restore out/app"
expect_builds "the refused hit ran the command" 3
rm -rf out

# A stored file whose blob is gone refuses the hit too; the task runs and records again.
rm -rf .wfengine/blobs
run_wf run build.yaml --json
expect_rc "blobs gone" 0
expect_json "a hit without its file's blob is refused" 'd["tasks"]["build"].get("cached", False)' 'false'
expect_in "the warning says what is gone" err.txt "cache entry not used: the stored content of out/"
expect_builds "it ran the command" 4

# A stored path that leaves the workdir (a tampered store) refuses the hit; nothing is written.
if command -v sqlite3 >/dev/null; then
    run_wf run build.yaml
    sqlite3 .wfengine/state.db "UPDATE cache SET files_json = replace(files_json, '\"out/app\"', '\"../escaped\"')"
    if sqlite3 .wfengine/state.db "SELECT files_json FROM cache" | grep -qF '"../escaped"'; then
        pass "the store names ../escaped now"; else fail "could not edit files_json"; fi
    run_wf run build.yaml --json
    expect_json "a path out of the workdir is not restored" 'd["tasks"]["build"].get("cached", False)' 'false'
    expect_in "the refusal is a warning" err.txt "cache entry not used: it names a file outside the workdir"
    if [ -e ../escaped ]; then fail "../escaped was written"; else pass "nothing was written outside"; fi
else
    echo "# sqlite3 not installed: the tampered-store case is not checked"
fi

# A glob that matches nothing is a warning, for generates and sources alike.
cat > nothing.yaml <<'Y'
version: 1
tasks:
  build:
    cache:
      sources: ["nosuch/**/*.c"]
      generates: ["out/*.o"]
    run: echo built >> nothing.log
Y
run_wf run nothing.yaml
expect_rc "globs that match nothing do not fail the run" 0
expect_in "generates matching nothing warns" err.txt "warning: build: cache.generates 'out/*.o' matched no file"
expect_in "sources matching nothing warns" err.txt "warning: build: cache.sources 'nosuch/**/*.c' matched no file"

# A file over the cap (64 MiB) is not stored: the entry is not recorded, the next run runs.
cat > big.yaml <<'Y'
version: 1
tasks:
  build:
    cache: {generates: [big.bin]}
    run: echo built >> big.log; truncate -s 65M big.bin
Y
run_wf run big.yaml
expect_rc "a too-large generated file does not fail the run" 0
expect_in "a too-large file is a warning" err.txt "not cached: cannot store generated file big.bin: it is larger than the 64 MiB a cached file may have"
run_wf run big.yaml --json
expect_json "nothing was cached" 'd["tasks"]["build"].get("cached", False)' 'false'
if [ "$(wc -l < big.log)" -eq 2 ]; then pass "the command ran both times"; else fail "ran $(wc -l < big.log) times"; fi
rm -f big.bin

# workdir: generates are relative to it; `**` does not follow a symbolic link loop.
mkdir -p sub/src/loop
ln -s .. sub/src/loop/up
echo x > sub/src/x.c
cat > wd.yaml <<'Y'
version: 1
tasks:
  build:
    workdir: sub
    cache: {sources: ["src/**/*.c"], generates: ["gen/*.txt"]}
    run: echo built >> ../wd.log; mkdir -p gen; cat src/x.c > gen/x.txt
Y
run_wf run wd.yaml
expect_rc "a workdir task with a link loop under sources" 0
rm -rf sub/gen
run_wf run wd.yaml --json
expect_json "it hits" 'd["tasks"]["build"].get("cached", False)' 'true'
if [ "$(cat sub/gen/x.txt 2>/dev/null)" = x ]; then pass "the file is restored into the workdir"; else fail "sub/gen/x.txt missing"; fi

# generates that leave the workdir are refused when the file is loaded.
for g in '../x' '/tmp/x' 'out/../../x'; do
    cat > escape.yaml <<Y
version: 1
tasks:
  build:
    cache: {generates: ["$g"]}
    run: "true"
Y
    run_wf validate escape.yaml
    expect_rc "generates '$g' is refused" 2
    expect_in "the error says why ($g)" err.txt "'cache.generates' must name files inside the task's workdir: '$g' is an absolute path or goes up with '..'"
    expect_in "the error has file:line ($g)" err.txt "escape.yaml:4:25:"
done
cat > badtype.yaml <<'Y'
version: 1
tasks:
  build:
    cache: {generates: {a: 1}}
    run: "true"
Y
run_wf validate badtype.yaml
expect_rc "generates as a map" 2
expect_in "a map is a type error" err.txt "cache.generates"

done_testing
