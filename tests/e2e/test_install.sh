#!/usr/bin/env bash
# `cmake --install` into a fresh prefix puts the CLI, the man page, the libraries, the headers
# and wfengine.pc in place; examples/embed builds against that with pkg-config alone (shared,
# then static) and runs a with-items workflow through its own action, prints its plan, and
# resumes a run it recorded, without LD_LIBRARY_PATH (its Makefile sets the RPATH).
. "$(dirname "$0")/lib.sh"
: "${WF_BUILD_DIR:?WF_BUILD_DIR must point at the build directory}"
P=$T/prefix
if cmake --install "$WF_BUILD_DIR" --prefix "$P" >install.log 2>&1; then pass "cmake --install"; else
    fail "cmake --install" "$(tail -n 20 install.log)"; done_testing; exit 1; fi
for f in bin/wfengine include/wfengine/wfengine.h include/wfengine/wf_common.h \
         include/wfengine/wf_context.h include/wfengine/wf_store.h lib/libwfengine.so \
         lib/libwfengine.a lib/pkgconfig/wfengine.pc share/man/man1/wfengine.1; do
    [ -e "$P/$f" ] && pass "installed $f" || fail "installed $f" "$(find "$P" | sort)"
done
"$P/bin/wfengine" version > v.txt 2>&1 && pass "installed CLI runs" || fail "installed CLI runs"
expect_in "installed CLI version" v.txt "wfengine "

export PKG_CONFIG_PATH=$P/lib/pkgconfig
pkg-config --exists wfengine && pass "pkg-config finds wfengine" || fail "pkg-config finds wfengine"
pkg-config --cflags wfengine > cflags.txt
expect_in "cflags point into the prefix" cflags.txt "$P/lib/pkgconfig/../../include/wfengine"

cp -r "$WF_SOURCE_DIR/examples/embed" embed
CC=${WF_C_COMPILER:-cc}
# The header alone must compile (nothing from the source tree is on the include path).
printf '#include <wfengine.h>\nint main(void) { return wf_engine_new(NULL) == NULL; }\n' > alone.c
if "$CC" -std=c11 -Wall -Wextra -Werror -c alone.c $(pkg-config --cflags wfengine) 2>cc.err; then
    pass "wfengine.h compiles on its own (C11, -Wall -Wextra)"
else
    fail "wfengine.h compiles on its own" "$(cat cc.err)"
fi
if make -C embed CC="$CC" >make.log 2>&1; then pass "examples/embed builds with pkg-config"; else
    fail "examples/embed builds with pkg-config" "$(cat make.log)"; done_testing; exit 1; fi
set +e
./embed/embed 4 >out.txt 2>err.txt
rc=$?
set -e
expect_rc "the embedding program's run succeeds" 0
expect_in "its action ran once per item" out.txt "demo.square called 4 times"
expect_in "outputs read back as JSON" out.txt '"squares":[1,4,9,16]'
expect_in "total" out.txt '"total":30'
expect_in "events reached its callback" err.txt "squares[3] succeeded"
expect_in "a task without items is named alone" err.txt "] total succeeded"
expect_not_in "no [-1] for a task without items" err.txt "[-1]"
# The plan and resume through the API, as wfengine run --dry-run and --resume use them.
./embed/embed --plan >out.txt 2>err.txt
expect_in "the plan in dependency order" out.txt 'plan: total after ["squares"]'
set +e
./embed/embed 3 --store st >out.txt 2>err.txt
./embed/embed --store st --resume last >out.txt 2>err.txt
rc=$?
set -e
expect_rc "the resumed run succeeds" 0
expect_in "it takes every unit from the recorded run" out.txt "demo.square called 0 times"
expect_in "with the recorded run's input" out.txt '"squares":[1,4,9]'
expect_in "events say so, one for the span of reused items" err.txt "squares[0..2] succeeded (reused from the resumed run)"
set +e
./embed/embed --store st --resume nope >out.txt 2>err.txt
rc=$?
set -e
expect_rc "an unknown run is refused" 1
expect_in "with the store's error" err.txt "no run matches 'nope'"
ldd ./embed/embed > ldd.txt
expect_in "linked against the installed shared library (RPATH, no LD_LIBRARY_PATH)" ldd.txt "$P/lib/libwfengine.so"
# The installed CLI needs no library path either: it links libwfengine statically.
env -u LD_LIBRARY_PATH ldd "$P/bin/wfengine" > ldd-cli.txt
expect_not_in "the installed CLI does not load libwfengine.so" ldd-cli.txt "libwfengine"

# Static: the same program with pkg-config --static (no libwfengine.so needed at run time).
if "$CC" -o embed-static embed/embed.c -Wl,-Bstatic $(pkg-config --cflags wfengine) -lwfengine \
       -Wl,-Bdynamic $(pkg-config --libs-only-other --libs --static wfengine | sed 's/-lwfengine//') \
       2>static.err; then
    pass "examples/embed links statically"
    set +e
    ./embed-static 3 >out.txt 2>err.txt
    rc=$?
    set -e
    expect_rc "the static program runs" 0
    expect_in "static outputs" out.txt '"squares":[1,4,9]'
else
    fail "examples/embed links statically" "$(cat static.err)"
fi
done_testing
