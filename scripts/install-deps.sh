#!/usr/bin/env bash
# Installs what building and testing wfengine needs, from Debian's packages. Does nothing when
# everything is there already (so the test command stays fast on a prepared machine).
set -euo pipefail
# libxml2-utils (xmllint: the JUnit report), tmux (the live terminal display), graphviz (dot:
# `wfengine graph`), python3-jsonschema and python3-yaml (the workflow JSON Schema): tests only;
# man-db: `man wfengine`.
pkgs=(build-essential cmake pkg-config libyaml-dev libjson-c-dev libsqlite3-dev libssl-dev
      check clang libclang-rt-14-dev python3 libxml2-utils tmux graphviz python3-jsonschema
      python3-yaml man-db)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
