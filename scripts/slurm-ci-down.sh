#!/usr/bin/env bash
# slurm-ci-down.sh: cancel every job, then stop slurmd, slurmctld and munged through their pid
# files (only what slurm-ci-up.sh started). Safe to run when nothing is up.
set -uo pipefail

is_running() {  # is_running PIDFILE NAME (see slurm-ci-up.sh for why not kill -0)
  local pid stat comm
  pid=$(cat "$1" 2>/dev/null) || return 1
  read -r stat comm < <(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 1
  [[ $stat != Z* && $comm == "$2" ]]
}

stop_daemon() {  # SIGTERM, wait up to 15 s, then SIGKILL
  is_running "$1" "$2" || return 0
  kill "$(cat "$1")"
  for _ in $(seq 150); do is_running "$1" "$2" || return 0; sleep 0.1; done
  kill -9 "$(cat "$1")" 2>/dev/null || true
}

if is_running /run/slurmctld.pid slurmctld; then
  scancel --user=root 2>/dev/null || true
  for _ in $(seq 100); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.1; done
fi
stop_daemon /run/slurmd.pid slurmd
stop_daemon /run/slurmctld.pid slurmctld
stop_daemon /run/munge/munged.pid munged
