# A fake Slurm on the PATH for the end-to-end tests (sourced after lib.sh): sbatch runs each
# element at once and records its arguments (args N, calls), scontrol reports the recorded
# exit statuses, squeue sees nothing queued. The live cluster is tests/slurm/e2e.sh.
F=$T/fake
mkdir -p "$F/bin"
tool() { printf '#!/bin/sh\nF=%s\n%s\n' "$F" "$2" >"$F/bin/$1"; chmod +x "$F/bin/$1"; }
tool sbatch '
n=$(cat "$F/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n >"$F/count"
printf "%s\n" "$@" >"$F/args.$n"
id=$((500 + n)); arr=; out=; err=
for a; do case $a in --array=*) arr=${a#--array=};; --output=*) out=${a#--output=};;
  --error=*) err=${a#--error=};; esac; script=$a; done
last=0; if [ -n "$arr" ]; then last=${arr#0-}; last=${last%%%*}; echo >"$F/array.$id"; fi
: >"$F/state.$id"; i=0
while [ $i -le $last ]; do
  o=$(printf %s "$out" | sed "s/%a/$i/"); e=$(printf %s "$err" | sed "s/%a/$i/")
  ( if [ -n "$arr" ]; then export SLURM_ARRAY_JOB_ID=$id SLURM_ARRAY_TASK_ID=$i; fi
    exec /bin/sh "$script" ) >"$o" 2>"$e"
  echo "$i $?" >>"$F/state.$id"; i=$((i + 1))
done
echo "$id"'
tool squeue 'exit 0'
tool scontrol '
for a; do id=$a; done
while read -r i rc; do
  if [ "$rc" = 0 ]; then st=COMPLETED; else st=FAILED; fi
  if [ -f "$F/array.$id" ]; then
    echo "JobId=$((id * 100 + i)) ArrayJobId=$id ArrayTaskId=$i JobState=$st ExitCode=$rc:0 RunTime=00:00:01"
  else echo "JobId=$id JobState=$st ExitCode=$rc:0 RunTime=00:00:01"; fi
done <"$F/state.$id"'
tool scancel 'exit 0'
tool sacct 'exit 1'
tool sinfo 'echo debug up'
export PATH="$F/bin:$PATH"
# The fake Slurm answers at once: poll it often and without the rate limit a real cluster gets.
export WF_SLURM_POLL_MS=20 WF_SLURM_CALLS_PER_S=1000
# args N: the arguments of the Nth sbatch call, one a line; calls: how many there were.
args() { cat "$F/args.$1"; }
calls() { cat "$F/count" 2>/dev/null || echo 0; }
