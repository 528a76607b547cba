#!/usr/bin/env bash
# Stop what scripts/slurm/start.sh started, by its pid files in the state dir (slurmd, slurmctld,
# munged; a munged that was already running before start.sh is left alone). Cancels the
# jobs still queued first. Idempotent: nothing running is fine.
#   scripts/slurm/stop.sh            # keeps the state dir (logs) under SALPREP_SLURM_DIR
#   scripts/slurm/stop.sh --purge    # and removes it
set -uo pipefail
# shellcheck source=scripts/slurm/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

stop() {  # stop NAME PIDFILE: SIGTERM, up to 10 s, then SIGKILL
    local name=$1 pidfile=$2 pid i
    if ! alive "$pidfile"; then
        rm -f "$pidfile"
        return 0
    fi
    pid=$(cat "$pidfile")
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null
        say "$name (pid $pid) killed"
    else
        say "$name (pid $pid) stopped"
    fi
    rm -f "$pidfile"
}

if alive "$STATE/slurmctld.pid" && [[ -f $CONF ]]; then
    SLURM_CONF=$CONF timeout 10 scancel --full --quiet --state=PENDING,RUNNING,SUSPENDED \
        --partition="$(SLURM_CONF=$CONF sinfo -h -o %P 2>/dev/null | tr -d '*' | paste -sd,)" 2>/dev/null || true
fi
# all three at once (each takes 1-2 s to exit)
stop slurmd "$STATE/slurmd.pid" &
stop slurmctld "$STATE/slurmctld.pid" &
stop munged "$STATE/munged.pid" &
wait
if [[ $(readlink /etc/slurm/slurm.conf 2>/dev/null) == "$CONF" ]]; then
    rm -f /etc/slurm/slurm.conf
fi
if [[ ${1:-} == --purge ]]; then
    rm -rf "$STATE"
    say "removed $STATE"
fi
exit 0
