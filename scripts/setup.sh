#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run an example workflow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
# wfengine, libwfengine, the headers and the manual page under /usr/local, so that the
# README's `wfengine ...` and `man wfengine` work from here on.
cmake --install build >/dev/null
ldconfig
wfengine run workflows/health-check.yaml
