#!/usr/bin/env bash
# Runs a command against a throw-away one-node Slurm cluster on this machine, then tears the
# cluster down by PID. Adapted from shared/notes/slurm-ci-example.sh (Debian 12: Slurm 22.05,
# munge 0.5; no systemd: munged, slurmctld and slurmd run as background processes).
#
# Usage: bash tests/slurm/cluster.sh COMMAND [ARG...]
# The command runs in the caller's directory with SLURM_CONF (the cluster), WF_SLURM_LIVE=1
# and SLURM_CI_WORK (a scratch directory the node can see) exported. Its exit status is ours.
#
# Exits 0 after printing "SKIP: ..." only when the Slurm packages are missing and cannot be
# installed (no root, no apt-get, or the install failed); any other problem is a failure.
#
#   SLURM_CI_DIR     where state, logs and config go (default: a new mktemp -d, removed after)
#   SLURM_CI_CPUS    job slots to advertise (default 32; more than the cores is fine thanks to
#                    SlurmdParameters=config_overrides, and trivial jobs start faster)
#   SLURM_CI_CTLD_PORT, SLURM_CI_SLURMD_PORT   ports (default: the first free pair from 6817)
#   SLURM_CI_MAX_ARRAY_SIZE   the cluster's MaxArraySize (default: unset, Slurm's default of
#                    1001, as on most clusters)
#   SLURM_CI_KEEP=1  keep the directory (logs) after the run
set -euo pipefail

if [ $# -eq 0 ]; then
    echo "usage: $0 COMMAND [ARG...]" >&2
    exit 2
fi

PACKAGES="slurmctld slurmd slurm-client munge"
have_slurm() {
    command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
        command -v sbatch >/dev/null && command -v munged >/dev/null
}

# --- install (~6-9 s when missing) ----------------------------------------------------------
# slurmctld and munged live in /usr/sbin, which a non-login PATH may lack.
export PATH="$PATH:/usr/sbin:/sbin"
if ! have_slurm; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "SKIP: Slurm is not installed ($PACKAGES) and cannot be installed here" \
            "(needs root and apt-get; uid $(id -u))"
        exit 0
    fi
    log=$(mktemp)
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $PACKAGES; } \
        >"$log" 2>&1; then
        echo "SKIP: apt-get install $PACKAGES failed: $(tail -n 3 "$log" | tr '\n' ' ')"
        rm -f "$log"
        exit 0
    fi
    rm -f "$log"
    if ! have_slurm; then
        echo "SKIP: $PACKAGES installed, but slurmctld/slurmd/sbatch/munged are not on PATH"
        exit 0
    fi
fi

# --- configuration --------------------------------------------------------------------------
D=${SLURM_CI_DIR:-$(mktemp -d /tmp/slurm-ci.XXXXXX)}
CPUS=${SLURM_CI_CPUS:-32}
HOST=$(hostname -s)

port_free() { ! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }
CTLD_PORT=${SLURM_CI_CTLD_PORT:-}
SLURMD_PORT=${SLURM_CI_SLURMD_PORT:-}
if [ -z "$CTLD_PORT" ] || [ -z "$SLURMD_PORT" ]; then
    # Another cluster (a second test run) may hold the default ports: take the next pair.
    for p in $(seq 6817 2 6899); do
        if port_free "$p" && port_free $((p + 1)); then
            CTLD_PORT=${CTLD_PORT:-$p}
            SLURMD_PORT=${SLURMD_PORT:-$((p + 1))}
            break
        fi
    done
fi

mkdir -p "$D"/{munge,run,state,spool,log,work}
chmod 700 "$D/munge"
chmod 755 "$D" "$D/run"
chmod 1777 "$D/work"
export SLURM_CONF=$D/slurm.conf

cat >"$SLURM_CONF" <<EOF
ClusterName=ci
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/run/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool/slurmd-%n
SlurmctldPidFile=$D/run/slurmctld.pid
SlurmdPidFile=$D/run/slurmd-%n.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd-%n.log
SlurmctldDebug=info
SlurmdDebug=info
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SlurmdParameters=config_overrides
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
${SLURM_CI_MAX_ARRAY_SIZE:+MaxArraySize=$SLURM_CI_MAX_ARRAY_SIZE}
KillWait=5
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=2000 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF

# --- start, and always stop ------------------------------------------------------------------
PIDS=()
teardown() {
    local rc=$? i p
    set +e
    # Only our own cluster's jobs: SLURM_CONF points at it.
    scancel --user="$(id -un)" 2>/dev/null
    for _ in $(seq 1 50); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.2
    done
    # Reverse start order: slurmd, slurmctld, munged.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        p=${PIDS[i]}
        kill -TERM "$p" 2>/dev/null
        for _ in $(seq 1 50); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$p" 2>/dev/null && kill -KILL "$p"
        wait "$p" 2>/dev/null
    done
    if [ "$rc" != 0 ]; then
        echo "--- slurm logs ($D/log) ---"
        tail -n 20 "$D"/log/*.log 2>/dev/null
    fi
    if [ "${SLURM_CI_KEEP:-0}" != 1 ] && [ -z "${SLURM_CI_DIR:-}" ]; then
        rm -rf "$D"
    fi
    exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t0=$(date +%s.%N)
[ -f "$D/munge/munge.key" ] || mungekey --create --keyfile="$D/munge/munge.key"
munged -F --force --socket="$D/run/munge.socket.2" --key-file="$D/munge/munge.key" \
    --pid-file="$D/run/munged.pid" --seed-file="$D/munge/munged.seed" \
    --log-file="$D/log/munged.log" </dev/null >"$D/log/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    [ -S "$D/run/munge.socket.2" ] && break
    sleep 0.05
done
slurmctld -D -i </dev/null >"$D/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -N "$HOST" </dev/null >"$D/log/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 1 300); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then
        up=1
        break
    fi
    sleep 0.1
done
if [ $up != 1 ]; then
    echo "slurm did not come up within 30 s"
    tail -n 40 "$D"/log/*.log "$D"/log/*.out
    exit 1
fi
echo "slurm up in $(echo "$(date +%s.%N) - $t0" | bc) s (dir $D, ports $CTLD_PORT/$SLURMD_PORT," \
    "$CPUS slots)"

export WF_SLURM_LIVE=1
export SLURM_CI_WORK=$D/work
set +e
"$@"
rc=$?
set -e
exit $rc
