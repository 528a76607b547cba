# Shared by start.sh and stop.sh (sourced): the state dir, messages, pid-file liveness.
export PATH=$PATH:/usr/sbin:/sbin

STATE=${SALPREP_SLURM_DIR:-/tmp/salprep-slurm}
CONF=$STATE/slurm.conf

say() { echo "salprep-slurm: $*"; }

alive() {  # alive PIDFILE: the pid in it is a running process of that name (not a reused pid)
    local pid
    [[ -s $1 ]] || return 1
    pid=$(tr -dc 0-9 <"$1")
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$(basename "$1" .pid)" ]]
}
