#!/usr/bin/env bash
# slurm-ci-up.sh: bring up a single-node Slurm cluster (Debian bookworm: slurm-wlm 22.05 + munge)
# for blu-pipe's Slurm executor tests, without systemd. Jobs run as root on this machine.
# Idempotent: a cluster already up with the same config is left alone (only the probe job runs);
# a changed config restarts slurmctld and slurmd. Needs root. Exits non-zero with a message when the cluster cannot come up.
#   SLURM_CI_CPUS=N   CPUs the node advertises (default: nproc, at least 4). CPUs are only a
#                     scheduling count here (no cgroups), so a 2-core CI box can still run a
#                     fanned-out test pipeline and the executor tests side by side.
set -euo pipefail

fail() { echo "slurm-ci-up: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "must run as root (it installs packages and starts daemons)"

NODE=$(hostname -s)
CORES=$(nproc)
CPUS=${SLURM_CI_CPUS:-$(( CORES > 4 ? CORES : 4 ))}
MEM_MB=$(( $(free -m | awk '/^Mem:/{print $2}') - 1024 ))  # leave 1 GiB to the OS
[ "$MEM_MB" -gt 256 ] || fail "not enough memory to advertise (${MEM_MB} MB)"

install_packages() {
  local bin
  for bin in slurmctld slurmd sbatch munged; do
    command -v "$bin" >/dev/null && continue
    echo "slurm-ci-up: installing slurm-wlm munge (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    # No Recommends: they pull ~40 plugin/-dev packages that a single test node never uses.
    apt-get update -qq || fail "apt-get update failed"
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null || fail "apt-get install failed"
    return 0
  done
}

# is_running PIDFILE NAME: the pid in PIDFILE is alive, not a zombie, and called NAME.
# (kill -0 is not enough here: PID 1 in these sandboxes does not always reap, and zombies pass kill -0.)
is_running() {
  local pid stat comm
  pid=$(cat "$1" 2>/dev/null) || return 1
  read -r stat comm < <(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 1
  [[ $stat != Z* && $comm == "$2" ]]
}

stop_daemon() {  # stop_daemon PIDFILE NAME: SIGTERM, wait up to 15 s
  is_running "$1" "$2" || return 0
  kill "$(cat "$1")"
  for _ in $(seq 150); do is_running "$1" "$2" || return 0; sleep 0.1; done
  fail "$2 did not stop"
}

retry() {  # retry SECONDS CMD...: run CMD every 0.1 s until it succeeds, last try shows its error
  local tries=$(( $1 * 10 )); shift
  for _ in $(seq "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  "$@"
}

munge_works() { munge -n | unmunge; }

start_munge() {
  install -d -o munge -g munge -m 0700 /etc/munge /var/log/munge
  install -d -o munge -g munge -m 0711 /var/lib/munge
  install -d -o munge -g munge -m 0755 /run/munge
  if [ ! -s /etc/munge/munge.key ]; then  # normally created by the package's postinst
    mungekey --create --keyfile=/etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
  fi
  munge_works >/dev/null 2>&1 || runuser -u munge -- /usr/sbin/munged
  retry 5 munge_works >/dev/null || fail "munged does not answer"
}

CONFIG_CHANGED=0
write_config() {  # sets CONFIG_CHANGED=1 when slurm.conf was new or different
  install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  # Why the non-defaults: batch_sched_delay=0 starts jobs within ~1 s instead of on a 3 s tick;
  # EnforcePartLimits rejects impossible requests at sbatch instead of pending forever;
  # MinJobAge keeps finished jobs visible to scontrol for an hour; KillWait shortens cancel grace.
  cat > /etc/slurm/slurm.conf.new <<CONF
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerParameters=batch_sched_delay=0
DependencyParameters=kill_invalid_depend
EnforcePartLimits=ALL
SlurmdParameters=config_overrides
ReturnToService=2
MinJobAge=3600
KillWait=5
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  if cmp -s /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf; then
    rm /etc/slurm/slurm.conf.new
  else
    mv /etc/slurm/slurm.conf.new /etc/slurm/slurm.conf
    CONFIG_CHANGED=1
  fi
}

start_slurm() {
  if ! is_running /run/slurmctld.pid slurmctld; then
    # -c: forget jobs of an earlier run; without it an uncleanly stopped job is requeued and re-run.
    /usr/sbin/slurmctld -c || fail "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
  fi
  retry 10 scontrol ping >/dev/null || fail "slurmctld does not answer scontrol ping"
  if ! is_running /run/slurmd.pid slurmd; then
    /usr/sbin/slurmd || fail "slurmd did not start (see /var/log/slurm/slurmd.log)"
  fi
}

wait_for_node() {  # waits up to 30 s for the node to accept jobs, resuming it if it came up down
  local state=""
  for _ in $(seq 60); do
    state=$(sinfo -h -n "$NODE" -o %T 2>/dev/null || true)
    case $state in
      idle|mixed|allocated|completing) echo "$state"; return 0 ;;
      down*|drain*|fail*) scontrol update nodename="$NODE" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
  done
  tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
  fail "node $NODE is '${state:-unknown}' after 30 s"
}

run_probe_job() {  # proves munge credentials, slurmd and slurmstepd work; absorbs the ~3 s first-pass delay
  local id state=""
  id=$(sbatch --parsable -J slurm-ci-probe -o /dev/null -e /dev/null --wrap true) || fail "probe sbatch failed"
  for _ in $(seq 300); do
    state=$(scontrol show job "$id" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)
    case $state in
      COMPLETED) return 0 ;;
      PENDING|CONFIGURING|RUNNING|COMPLETING|"") sleep 0.2 ;;
      *) break ;;
    esac
  done
  fail "probe job $id ended as '${state:-no state}'"
}

install_packages
start_munge
write_config
if [ "$CONFIG_CHANGED" = 1 ]; then  # a new config needs both daemons restarted
  stop_daemon /run/slurmd.pid slurmd
  stop_daemon /run/slurmctld.pid slurmctld
fi
start_slurm
node_state=$(wait_for_node)
run_probe_job  # also when the cluster was already up: a broken slurmd would otherwise go unnoticed
echo "slurm-ci-up: node $NODE $node_state (CPUs=$CPUS RealMemory=${MEM_MB}M)"
