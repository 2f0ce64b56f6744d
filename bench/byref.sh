#!/usr/bin/env bash
# B10: results by reference. N units each print BYTES random bytes as base64 (768 KiB -> 1 MiB
# per unit), then one task reads `task.gen | length` and one `task.gen[7]` (hashed, and compared
# with the stored stdout of gen[7]), -j2, side by side in one run with the same commands
# writing the same bytes to files with no engine (xargs -P2). Peak RSS of the engine (GNU time
# %M), wall times and their ratio, bytes on disk per unit (the store's blobs / N), with and
# without the store. Targets (issue 16): peak RSS <= 128 MiB, wall <= 1.2x the plain commands.
# One JSON line per form, then one with the ratios.
#
# usage: bench/byref.sh [--wfengine PATH] [--n N] [--bytes B] [--out DIR] [--smoke]
#   --wfengine  the binary (default: $WFENGINE, else build-bench/wfengine, else build/wfengine)
#   --n         units (default 2000)
#   --bytes     random bytes per unit before base64 (default 786432: 1 MiB of base64)
#   --out       where the workflow, the files and the store go (default: a temporary
#               directory, removed)
#   --smoke     tiny and quick: --n 20 --bytes 98304, for CI (no timing is judged)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

n=2000
bytes=786432
while [ $# -gt 0 ]; do
    case "$1" in
    --n) n=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --smoke) n=20; bytes=98304; shift ;;
    *) bench_common_opt "$@"; shift "$bench_shift" ;;
    esac
done
bench_find_wfengine
[ -x /usr/bin/time ] || apt-get install -y -qq time >/dev/null
[ -x /usr/bin/time ] || { echo "byref.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }
bench_out b10
mkdir -p "$out/tmp"
cd "$out"
# The runs' spill directories go here, so that the check below sees only this script's.
export TMPDIR=$out/tmp
cmd="head -c $bytes /dev/urandom | base64 -w0"
cat > b10.yaml <<YAML
version: 1
tasks:
  gen:
    with-items: << range($n) >>
    run: $cmd
  count:
    run: echo << task.gen | length >>
  seven:
    run: printf %s << task.gen[7] >> | sha256sum | cut -c1-64
outputs:
  count: << task.count >>
  seven: << task.seven >>
YAML
load=$(cut -d' ' -f1-3 /proc/loadavg)

# plain: the same commands, the bytes to files, two at a time.
rm -rf files && mkdir files
t0=$(date +%s.%N)
seq 0 $((n - 1)) | xargs -P 2 -I{} sh -c "$cmd > files/{}"
t1=$(date +%s.%N)
plain=$(awk "BEGIN{printf \"%.3f\", $t1 - $t0}")
plain_disk=$(du -sb files | cut -f1)
echo "{\"bench\":\"B10\",\"what\":\"plain\",\"n\":$n,\"wall_s\":$plain,\"disk_per_unit\":$((plain_disk / n)),\"load\":\"$load\",\"k\":1}"

# engine FORM ARGS...: one run; peak RSS and wall from GNU time; checks the two readers.
engine() {
    local form=$1 rss wall count seven want disk=0
    shift
    /usr/bin/time -f '%M %e' -o time.txt "$wfengine" run b10.yaml -j2 --progress none "$@" \
        > outputs.txt 2> err.txt || { cat err.txt >&2; echo "byref.sh: $form failed" >&2; exit 1; }
    read -r rss wall < time.txt
    count=$(sed -n 's/^  count: //p' outputs.txt)
    seven=$(sed -n 's/^  seven: //p' outputs.txt)
    [ "$count" = "$n" ] || { echo "byref.sh: task.gen | length read '$count', not $n" >&2; exit 1; }
    if [ "$form" = store ]; then
        want=$("$wfengine" logs last 'gen[7]' --store st | sha256sum | cut -c1-64)
        disk=$(du -sb st/blobs | cut -f1)
        [ "$seven" = "$want" ] || { echo "byref.sh: task.gen[7] read $seven, the stored blob hashes to $want" >&2; exit 1; }
    fi
    echo "{\"bench\":\"B10\",\"what\":\"engine_$form\",\"n\":$n,\"wall_s\":$wall,\"peak_rss_kb\":$rss,\"disk_per_unit\":$((disk / n)),\"k\":1}"
    echo "$wall" > "wall_$form.txt"
}
rm -rf st
engine store --store st
engine nostore --no-store
ls -d "$TMPDIR"/wfengine-spill-* 2>/dev/null && { echo "byref.sh: a spill directory was left behind" >&2; exit 1; }
echo "{\"bench\":\"B10\",\"what\":\"ratios\",\"store_vs_plain\":$(awk "BEGIN{printf \"%.3f\", $(cat wall_store.txt) / $plain}"),\"nostore_vs_plain\":$(awk "BEGIN{printf \"%.3f\", $(cat wall_nostore.txt) / $plain}"),\"k\":1}"
