#!/usr/bin/env bash
# The README's first command: install dependencies, build, and run an example workflow.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
./build/wfengine run workflows/health-check.yaml
