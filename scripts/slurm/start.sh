#!/usr/bin/env bash
# Start a real single-node SLURM on this machine (munged + slurmctld + slurmd) to try and test the
# `slurm` Snakemake profile (profiles/slurm). For local testing only: the daemons run as
# root, no accounting (use `slurm-status-command: squeue`), no cgroups, no memory enforcement.
#
#   scripts/slurm/start.sh            # installs munge/slurm from Debian (apt-get) if missing
#   export SLURM_CONF=/tmp/salprep-slurm/slurm.conf   # printed at the end; see below
#   sinfo; srun -t 1 hostname; snakemake --workflow-profile profiles/slurm ...
#   scripts/slurm/stop.sh
#
# Idempotent: daemons already running (pid file alive) are kept; running it twice is fine.
# Exits 0 once `sinfo` shows the node up, else 1 with one line on stderr:
#   salprep-slurm: cannot start: <reason>
# Settings (environment): SALPREP_SLURM_DIR (state dir, default /tmp/salprep-slurm),
# SALPREP_SLURM_PARTITION (default main: the partition the slurm profile names),
# SALPREP_SLURM_NO_INSTALL=1 (never run apt-get), SALPREP_SLURM_TIMEOUT (seconds to wait for
# each daemon, default 30).
# The clients (sinfo, sbatch, squeue, srun) need SLURM_CONF=<state dir>/slurm.conf, unless
# /etc/slurm/slurm.conf was free: then it is made a symlink to it (stop.sh removes it again).
set -uo pipefail
# shellcheck source=scripts/slurm/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PARTITION=${SALPREP_SLURM_PARTITION:-main}
WAIT=${SALPREP_SLURM_TIMEOUT:-30}
PACKAGES=(munge slurmctld slurmd slurm-client)
T0=$(date +%s)

fail() {
    echo "salprep-slurm: cannot start: $*" >&2
    exit 1
}

wait_for() {  # wait_for SECONDS COMMAND...: retry COMMAND every 0.2 s
    local deadline=$(($(date +%s) + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        (($(date +%s) >= deadline)) && return 1
        sleep 0.2
    done
}

last_log_line() {  # the last line of a daemon log, for the one-line reason
    [[ -s $1 ]] && tail -n 1 "$1" | tr -s '[:space:]' ' ' | cut -c1-200
}

mkdir -p "$STATE" 2>/dev/null || fail "cannot create state dir $STATE"

# --- packages -----------------------------------------------------------------------------------
missing=()
for bin in munged munge unmunge slurmctld slurmd sinfo sbatch squeue srun scontrol; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
done
if ((${#missing[@]})); then
    [[ ${SALPREP_SLURM_NO_INSTALL:-0} == 1 ]] && fail "missing ${missing[*]} (SALPREP_SLURM_NO_INSTALL=1)"
    [[ $(id -u) == 0 ]] || fail "missing ${missing[*]} and not root (apt-get install ${PACKAGES[*]} needs root)"
    command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get (install ${PACKAGES[*]})"
    say "installing ${PACKAGES[*]} (apt-get, log $STATE/apt.log)"
    export DEBIAN_FRONTEND=noninteractive
    apt_install() {
        timeout 600 apt-get install -y -q --no-install-recommends "${PACKAGES[@]}" >>"$STATE/apt.log" 2>&1
    }
    if ! apt_install; then  # stale or absent package lists: refresh once
        timeout 300 apt-get update -q >>"$STATE/apt.log" 2>&1 || fail "apt-get update failed (see $STATE/apt.log)"
        apt_install || fail "apt-get install ${PACKAGES[*]} failed: $(last_log_line "$STATE/apt.log")"
    fi
    hash -r
    for bin in munged slurmctld slurmd sinfo; do
        command -v "$bin" >/dev/null 2>&1 || fail "$bin still missing after apt-get install"
    done
fi

# --- munge --------------------------------------------------------------------------------------
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    say "munge is up"
else
    [[ $(id -u) == 0 ]] || fail "munged is not running and starting it needs root"
    id munge >/dev/null 2>&1 || fail "no user munge (is the munge package installed?)"
    install -d -o munge -g munge -m 0755 /run/munge /var/log/munge /var/lib/munge || fail "cannot create /run/munge"
    install -d -o munge -g munge -m 0700 /etc/munge || fail "cannot create /etc/munge"
    if [[ ! -s /etc/munge/munge.key ]]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none || fail "cannot write munge key"
    fi
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
    rm -f /run/munge/munged.pid
    runuser -u munge -- munged --pid-file=/run/munge/munged.pid >/dev/null 2>&1 ||
        fail "munged failed: $(last_log_line /var/log/munge/munged.log)"
    wait_for "$WAIT" bash -c 'munge -n | unmunge' || fail "munge -n | unmunge fails after starting munged"
    cp /run/munge/munged.pid "$STATE/munged.pid"  # ours: stop.sh stops it
    say "munged started"
fi

# --- slurm.conf ---------------------------------------------------------------------------------
HOST=$(hostname -s)
CPUS=$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)  # nproc obeys OMP_NUM_THREADS (set by torch users)
MEM=$(($(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo) - 1024))
mkdir -p "$STATE/state" "$STATE/spool"
new_conf=$(
    cat <<EOF
# Written by scripts/slurm/start.sh: one node, local testing only.
ClusterName=salprep
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MailProg=/bin/true
ReturnToService=2
# keep finished jobs visible to squeue (the profile's status command) for an hour
MinJobAge=3600
# a request above the node (cpus, memory) is refused at submission instead of pending forever
EnforcePartLimits=ALL
SchedulerType=sched/backfill
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
)
if ! alive "$STATE/slurmctld.pid" || [[ ! -f $CONF ]]; then
    # only rewritten while slurmctld is down (a running cluster keeps the file it was started with)
    printf '%s\n' "$new_conf" >"$CONF"
fi
export SLURM_CONF=$CONF
if [[ ! -e /etc/slurm/slurm.conf || $(readlink /etc/slurm/slurm.conf) == "$CONF" ]]; then
    mkdir -p /etc/slurm 2>/dev/null && ln -sfn "$CONF" /etc/slurm/slurm.conf 2>/dev/null || true
fi

# --- daemons ------------------------------------------------------------------------------------
need_root() { [[ $(id -u) == 0 ]] || fail "$1 is not running and starting it needs root"; }
if alive "$STATE/slurmctld.pid"; then
    say "slurmctld is up (pid $(cat "$STATE/slurmctld.pid"))"
else
    need_root slurmctld
    rm -f "$STATE/slurmctld.pid"
    # -c: a fresh controller (no jobs or node state left from an earlier start)
    slurmctld -c -f "$CONF" >>"$STATE/slurmctld.out" 2>&1 ||
        fail "slurmctld failed: $(last_log_line "$STATE/slurmctld.log")"
    wait_for "$WAIT" scontrol ping ||
        fail "slurmctld does not answer after ${WAIT}s: $(last_log_line "$STATE/slurmctld.log")"
    say "slurmctld started"
fi
if alive "$STATE/slurmd.pid"; then
    say "slurmd is up (pid $(cat "$STATE/slurmd.pid"))"
else
    need_root slurmd
    rm -f "$STATE/slurmd.pid"
    slurmd -f "$CONF" >>"$STATE/slurmd.out" 2>&1 || fail "slurmd failed: $(last_log_line "$STATE/slurmd.log")"
    say "slurmd started"
fi

node_up() {
    local state
    state=$(sinfo -h -n "$HOST" -o %t 2>/dev/null | head -n 1)
    [[ $state == idle || $state == mix || $state == alloc ]]
}
wait_for "$WAIT" node_up ||
    fail "node $HOST is '$(sinfo -h -o %t 2>/dev/null | head -n 1)' after ${WAIT}s, not idle: $(last_log_line "$STATE/slurmd.log")"
timeout 30 srun -t 1 -N 1 -n 1 true >/dev/null 2>&1 || fail "smoke test 'srun -t 1 true' failed"
say "ready in $(($(date +%s) - T0)) s: partition $PARTITION, node $HOST ($CPUS CPUs, ${MEM} MB)"
say "SLURM_CONF=$CONF"
