#!/usr/bin/env bash
# A single-node Slurm cluster on 127.0.0.1 for tests and benchmarks: munged, slurmctld, slurmd and
# slurmrestd (JWT auth) from Debian packages, all state under one directory, no systemd.
#
#   scripts/slurm-dev-cluster.sh up     # installs missing packages, starts the daemons, prints env
#   scripts/slurm-dev-cluster.sh env    # prints the env of a running cluster (eval-able)
#   scripts/slurm-dev-cluster.sh down   # stops the daemons by PID (restd, slurmd, then slurmctld)
#   scripts/slurm-dev-cluster.sh status # exit 0 when the cluster answers
#
# Settings (environment): MLC_SLURM_DIR (default /tmp/mlc-slurm-dev), MLC_SLURM_REST_PORT (6820),
# MLC_SLURM_CTLD_PORT (16817), MLC_SLURM_SLURMD_PORT (16818), MLC_SLURM_REST_USER (mlcslurm: the
# unprivileged user slurmrestd runs as; created when missing).
#
# `up` prints, one per line: SLURM_CONF, SLURM_JWT (a token for the current user, 1 day),
# MLC_SLURM_URI (slurm+http://127.0.0.1:PORT?user=USER), MLC_SLURM_UNIX_URI (slurm+unix://, the
# same slurmrestd on a Unix socket), MLC_SLURM_DIR. Exit codes: 0 up, 1
# failure (the daemons' logs are named), 3 Slurm cannot be installed here (tests skip on 3).
#
# Facts behind the settings (Debian 12, Slurm 22.05, REST API v0.0.38): slurmrestd refuses to run
# as root and needs SLURM_JWT=daemon; 200 trivial jobs take ~265 s without batch_sched_delay=0 and
# more CPU slots, ~10 s with them; MinJobAge=3600 keeps finished jobs queryable; munge's socket
# directory must be world-executable for slurmrestd's user; proctrack/linuxproc and task/none
# avoid cgroups; slurmd can hang on a COMPLETING job if slurmctld stops first.
set -euo pipefail

DIR="${MLC_SLURM_DIR:-/tmp/mlc-slurm-dev}"
REST_PORT="${MLC_SLURM_REST_PORT:-6820}"
CTLD_PORT="${MLC_SLURM_CTLD_PORT:-16817}"
SLURMD_PORT="${MLC_SLURM_SLURMD_PORT:-16818}"
REST_USER="${MLC_SLURM_REST_USER:-mlcslurm}"
PACKAGES=(slurmctld slurmd slurmrestd munge slurm-client slurm-wlm-jwt-plugin)
ME="$(id -un)"

log() { echo "slurm-dev-cluster: $*" >&2; }

ensure_packages() {
  local missing=()
  for pkg in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  ((${#missing[@]})) || return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "Slurm packages missing (${missing[*]}) and not root: install them with" \
      "sudo apt-get install ${PACKAGES[*]}"
    exit 3
  fi
  log "installing ${missing[*]}"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >"${TMPDIR:-/tmp}/mlc-slurm-apt.log" 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >"${TMPDIR:-/tmp}/mlc-slurm-apt.log" 2>&1 ||
      {
        log "cannot install ${missing[*]}; see ${TMPDIR:-/tmp}/mlc-slurm-apt.log"
        exit 3
      }
  fi
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

print_env() {
  [ -f "$DIR/env" ] || {
    log "no cluster under $DIR; start one with: $0 up"
    exit 1
  }
  cat "$DIR/env"
}

stop_one() { # name pidfile
  local pidfile="$DIR/run/$1.pid" pid
  [ -f "$pidfile" ] || return 0
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "$1 (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

down() {
  [ -d "$DIR/run" ] || return 0
  # Order matters: slurmd can hang on a COMPLETING job when slurmctld goes first.
  stop_one slurmrestd
  stop_one slurmd
  stop_one slurmctld
  stop_one munged
  rm -f "$DIR/env"
}

status() {
  [ -f "$DIR/env" ] && pid_alive "$DIR/run/slurmctld.pid" && pid_alive "$DIR/run/slurmrestd.pid" &&
    SLURM_CONF="$DIR/etc/slurm.conf" scontrol ping >/dev/null 2>&1
}

write_config() {
  local host
  host="$(hostname -s)"
  mkdir -p "$DIR"/{etc,run,log,state,spool,munge,jobs}
  chmod 0755 "$DIR" "$DIR/munge" # slurmrestd's user must reach munge's socket
  chmod 1777 "$DIR/jobs"
  if [ ! -f "$DIR/etc/munge.key" ]; then
    head -c 1024 /dev/urandom >"$DIR/etc/munge.key"
    chmod 0400 "$DIR/etc/munge.key"
  fi
  if [ ! -f "$DIR/etc/jwt.key" ]; then
    head -c 32 /dev/urandom >"$DIR/etc/jwt.key" # 32 bytes: what auth/jwt expects (HS256)
    chmod 0600 "$DIR/etc/jwt.key"
  fi
  cat >"$DIR/etc/slurm.conf" <<EOF
# Written by scripts/slurm-dev-cluster.sh: a one-node cluster for tests.
ClusterName=mlcdev
SlurmctldHost=${host}(127.0.0.1)
SlurmctldPort=${CTLD_PORT}
SlurmdPort=${SLURMD_PORT}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${DIR}/munge/munge.socket.2
CredType=cred/munge
AuthAltTypes=auth/jwt
AuthAltParameters=jwt_key=${DIR}/etc/jwt.key
StateSaveLocation=${DIR}/state
SlurmdSpoolDir=${DIR}/spool/slurmd-%n
SlurmctldPidFile=${DIR}/run/slurmctld.daemon.pid
SlurmdPidFile=${DIR}/run/slurmd.daemon.pid
SlurmctldLogFile=${DIR}/log/slurmctld.log
SlurmdLogFile=${DIR}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SlurmdParameters=config_overrides
MinJobAge=3600
ReturnToService=2
KillWait=5
InactiveLimit=0
Waittime=0
NodeName=${host} NodeAddr=127.0.0.1 CPUs=16 RealMemory=16384 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
# The conformance suite's fixed capacity (cpu=4), whatever the node has.
PartitionName=conformance Nodes=ALL MaxTime=INFINITE State=UP MaxCPUsPerNode=4
EOF
}

start_bg() { # name cmd... ; runs the command in the foreground mode of the daemon, detached
  local name="$1"
  shift
  setsid "$@" >>"$DIR/log/$name.out" 2>&1 </dev/null &
  echo $! >"$DIR/run/$name.pid"
}

wait_for() { # seconds daemon description command... ; fails fast when the daemon exits
  local deadline=$((SECONDS + $1)) daemon="$2" what="$3"
  shift 3
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)) || ! pid_alive "$DIR/run/$daemon.pid"; then
      log "$daemon: gave up waiting for $what; its log ($DIR/log/$daemon.out) ends with:"
      tail -n 15 "$DIR/log/$daemon.out" >&2 || true
      down
      return 1
    fi
    sleep 0.1
  done
}

up() {
  ensure_packages
  if status; then
    print_env
    return 0
  fi
  down
  [ "$(id -u)" -eq 0 ] || {
    log "the dev cluster runs slurmd as root; run as root"
    exit 3
  }
  if ! id "$REST_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$REST_USER"
  fi
  write_config
  export SLURM_CONF="$DIR/etc/slurm.conf"
  start_bg munged munged --foreground --force --socket="$DIR/munge/munge.socket.2" \
    --key-file="$DIR/etc/munge.key" --pid-file="$DIR/run/munged.daemon.pid" \
    --log-file="$DIR/log/munged.log" --seed-file="$DIR/run/munged.seed"
  wait_for 10 munged munged test -S "$DIR/munge/munge.socket.2"
  chmod 0777 "$DIR/munge/munge.socket.2"
  start_bg slurmctld slurmctld -D -i -f "$SLURM_CONF"
  wait_for 30 slurmctld slurmctld scontrol ping
  start_bg slurmd slurmd -D -f "$SLURM_CONF"
  wait_for 30 slurmd "the node to be idle" bash -c "sinfo -h -N -o %t | grep -Eq '^(idle|mix|alloc)'"
  local rest_uid rest_gid
  rest_uid="$(id -u "$REST_USER")"
  rest_gid="$(id -g "$REST_USER")"
  # Also on a Unix socket (slurm+unix://), in a directory slurmrestd's user may write.
  mkdir -p "$DIR/rest" && chown "$REST_USER" "$DIR/rest" && chmod 0755 "$DIR/rest"
  SLURM_JWT=daemon start_bg slurmrestd slurmrestd -a rest_auth/jwt -s openapi/v0.0.38 \
    -u "$rest_uid" -g "$rest_gid" "127.0.0.1:${REST_PORT}" "unix:$DIR/rest/slurmrestd.sock"
  local token
  token="$(scontrol token username="$ME" lifespan=86400 | sed -n 's/^SLURM_JWT=//p')"
  [ -n "$token" ] || {
    log "scontrol token printed no token"
    return 1
  }
  wait_for 15 slurmrestd slurmrestd curl -sf -H "X-SLURM-USER-NAME: $ME" -H "X-SLURM-USER-TOKEN: $token" \
    "http://127.0.0.1:${REST_PORT}/slurm/v0.0.38/ping"
  cat >"$DIR/env" <<EOF
SLURM_CONF=$SLURM_CONF
SLURM_JWT=$token
MLC_SLURM_URI=slurm+http://127.0.0.1:${REST_PORT}?user=$ME
MLC_SLURM_UNIX_URI=slurm+unix://$DIR/rest/slurmrestd.sock?user=$ME
MLC_SLURM_DIR=$DIR
EOF
  print_env
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  status) status ;;
  *)
    echo "usage: $0 up|down|env|status" >&2
    exit 2
    ;;
esac
