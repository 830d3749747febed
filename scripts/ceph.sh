#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with an S3 gateway, for tests and development:
# one monitor, one OSD on memstore (data in RAM), one RADOS Gateway (beast) on 127.0.0.1,
# an S3 user, and the gateway's pools created up front. No systemd, no block device:
# everything lives in one state directory and every daemon is stopped by its PID.
#
#   scripts/ceph.sh start [--port P] [--dir DIR] [--memory BYTES] [--mgr]
#       Prints, on stdout, lines a shell or a test can read:
#         DISTCI_S3_ENDPOINT=http://127.0.0.1:P
#         DISTCI_S3_REGION=us-east-1
#         AWS_ACCESS_KEY_ID=...
#         AWS_SECRET_ACCESS_KEY=...
#         DISTCI_CEPH_STATE=DIR        (pass it to the other commands)
#       Progress goes to stderr. Without --port, free ports are picked. --memory caps the
#       memstore OSD (default 1 GiB); --mgr also starts a manager (not needed for S3).
#       To point distci at it from a shell:
#         set -a; eval "$(scripts/ceph.sh start)"; set +a
#         export DISTCI_STORE="s3://distci/dev?endpoint=$DISTCI_S3_ENDPOINT&region=$DISTCI_S3_REGION&forcePathStyle=true"
#   scripts/ceph.sh stop DIR            stop the cluster started in DIR and remove DIR
#   scripts/ceph.sh stop-gateway DIR    stop only the gateway (to test store faults)
#   scripts/ceph.sh start-gateway DIR   start it again on the same port
#   scripts/ceph.sh install             install the Debian packages (as root)
#
# Needs Debian's Ceph packages (Pacific on Debian 12); as root, `start` installs them when
# missing. Facts and pitfalls behind the settings: shared/notes/ceph.md.
set -euo pipefail

PACKAGES=(ceph-mon ceph-osd ceph-mgr radosgw ceph-common)
TOOLS=(ceph ceph-mon ceph-osd radosgw radosgw-admin ceph-authtool monmaptool)
IP=127.0.0.1
SERVICE=ceph
# shellcheck source=lib/service.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

missing_tools() {
  local t out=()
  for t in "${TOOLS[@]}"; do command -v "$t" >/dev/null 2>&1 || out+=("$t"); done
  echo "${out[*]:-}"
}

install_packages() {
  local missing; missing=$(missing_tools)
  [ -z "$missing" ] && return 0
  apt_install "Ceph (missing: $missing)" "${PACKAGES[@]}"
  missing=$(missing_tools)
  [ -z "$missing" ] || die "still missing after install: $missing"
}

# N distinct ports in 20000-59999 that nothing listens on now.
free_ports() {
  local n=$1 used picked=() p
  used=" $(listening_ports | tr '\n' ' ') "
  while [ ${#picked[@]} -lt "$n" ]; do
    p=$(random_port 20000 40000)
    [[ $used == *" $p "* || " ${picked[*]} " == *" $p "* ]] || picked+=("$p")
  done
  echo "${picked[*]}"
}

random_text() {   # length, character set
  local out=''
  while [ ${#out} -lt "$1" ]; do out+=$(head -c 256 /dev/urandom | LC_ALL=C tr -dc "$2"); done
  echo "${out:0:$1}"
}

# The gateway answers HTTP on its port.
gateway_answers() {
  ( exec 3<>"/dev/tcp/$IP/$1" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && IFS= read -r -t 5 line <&3 && [[ $line == HTTP/* ]] ) 2>/dev/null
}

# The PID of daemon NAME if it is running and is ours: its command line names our ceph.conf.
our_pid() {
  local dir=$1 name=$2 pf pid
  pf=$dir/run/$name.pid
  [ -f "$pf" ] || return 1
  pid=$(cat "$pf")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/ceph.conf" || return 1
  echo "$pid"
}

# Stops daemons by name (TERM, then KILL after 10 s) and waits until they are gone.
stop_daemons() {
  local dir=$1 name pid pids=() i any
  shift
  for name in "$@"; do
    pid=$(our_pid "$dir" "$name") || continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  [ ${#pids[@]} = 0 ] && return 0
  for i in $(seq 1 100); do
    any=0
    for pid in "${pids[@]}"; do alive "$pid" && any=1; done
    [ $any = 0 ] && return 0
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  return 0
}

check_state_dir() {
  [ -n "${1:-}" ] || die "name the state directory printed by 'start' (DISTCI_CEPH_STATE)"
  [ -f "$1/ceph.conf" ] && [ -f "$1/distci-ceph" ] || die "$1 is not a cluster started by scripts/ceph.sh"
}

start_gateway() {
  local dir=$1 port i
  port=$(sed -n 's/^DISTCI_S3_ENDPOINT=.*:\([0-9]*\)$/\1/p' "$dir/env")
  our_pid "$dir" client.rgw.gw >/dev/null && die "the gateway of $dir is already running"
  radosgw -c "$dir/ceph.conf" -n client.rgw.gw </dev/null >>"$dir/log/rgw.out" 2>&1 ||
    die "radosgw failed to start; see $dir/log/rgw.gw.log"
  for i in $(seq 1 240); do
    gateway_answers "$port" && return 0
    our_pid "$dir" client.rgw.gw >/dev/null || [ "$i" -lt 20 ] || die "radosgw exited; see $dir/log/rgw.gw.log"
    sleep 0.25
  done
  die "the gateway does not answer on $IP:$port after 60 s; see $dir/log/rgw.gw.log"
}

write_conf() {
  local dir=$1 fsid=$2 mon2=$3 mon1=$4 port=$5 memory=$6
  cat >"$dir/ceph.conf" <<EOF
[global]
fsid = $fsid
mon host = [v2:$IP:$mon2,v1:$IP:$mon1]
public network = 127.0.0.0/8
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/crash
log to stderr = false
err to stderr = true
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool delete = true
paxos propose interval = 0.1
mgr stats period = 1
auth allow insecure global id reclaim = false
mon warn on insecure global id reclaim allowed = false

[client]
keyring = $dir/keyring

[mon]
mon data = $dir/mon.\$id
mon cluster log file = $dir/log/cluster.log
mon data avail warn = 2
mon data avail crit = 1

[mgr]
mgr data = $dir/mgr.\$id
mgr module path = /usr/share/ceph/mgr

[osd]
osd data = $dir/osd.\$id
osd objectstore = memstore
memstore device bytes = $memory
osd memory target = 536870912
osd op num shards = 2
osd op num threads per shard = 2

[client.rgw.gw]
keyring = $dir/rgw.gw/keyring
rgw data = $dir/rgw.gw
rgw frontends = beast endpoint=$IP:$port tcp_nodelay=1
rgw dns name = localhost
rgw thread pool size = 64
rgw enable usage log = false
# memstore keeps deleted data in RAM until garbage collection (2 h by default)
rgw gc obj min wait = 60
rgw gc processor period = 60
log file = $dir/log/rgw.gw.log
EOF
}

cmd_start() {
  local port='' dir='' memory=$((1024 * 1024 * 1024)) with_mgr=0
  while [ $# -gt 0 ]; do
    case $1 in
      --port) port=${2:?--port needs a number}; shift 2 ;;
      --dir) dir=${2:?--dir needs a path}; shift 2 ;;
      --memory) memory=${2:?--memory needs bytes}; shift 2 ;;
      --mgr) with_mgr=1; shift ;;
      *) die "unknown option '$1' (start [--port P] [--dir DIR] [--memory BYTES] [--mgr])" ;;
    esac
  done
  install_packages
  local ports mon2 mon1 p3
  ports=$(free_ports 3)
  read -r mon2 mon1 p3 <<<"$ports"
  port=${port:-$p3}
  if [ -n "$dir" ]; then
    [ -e "$dir" ] && die "$dir exists; stop that cluster first or choose another --dir"
    mkdir -p "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/distci-ceph.XXXXXX")
  fi
  dir=$(cd "$dir" && pwd)
  touch "$dir/distci-ceph"
  mkdir -p "$dir"/{run,log,crash,mon.a,mgr.x,osd.0,rgw.gw}
  # From here on a failure stops whatever already started (the logs stay for a look). The
  # trap runs after this function's locals are gone: $dir is expanded now.
  trap "start_failed '$dir'" EXIT

  local fsid conf=$dir/ceph.conf
  fsid=$(cat /proc/sys/kernel/random/uuid)
  write_conf "$dir" "$fsid" "$mon2" "$mon1" "$port" "$memory"
  export CEPH_CONF=$conf

  ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool --create-keyring "$dir/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/keyring" >/dev/null
  monmaptool --create --fsid "$fsid" --addv a "[v2:$IP:$mon2,v1:$IP:$mon1]" "$dir/monmap" >/dev/null
  ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$dir/mon.keyring" >>"$dir/log/mon.out" 2>&1
  ceph-mon -c "$conf" -i a </dev/null >>"$dir/log/mon.out" 2>&1
  timeout 40 ceph --connect-timeout 30 mon stat >/dev/null
  say "monitor up on $IP:$mon2"

  if [ $with_mgr = 1 ]; then
    ceph auth get-or-create mgr.x mon 'allow profile mgr' osd 'allow *' mds 'allow *' -o "$dir/mgr.x/keyring"
    ceph-mgr -c "$conf" -i x </dev/null >>"$dir/log/mgr.out" 2>&1
    say "manager started"
  fi

  local uuid secret id
  uuid=$(cat /proc/sys/kernel/random/uuid)
  secret=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}\n' "$secret" >"$dir/osd.0/new.json"
  id=$(ceph osd new "$uuid" -i "$dir/osd.0/new.json")
  rm -f "$dir/osd.0/new.json"
  [ "$id" = 0 ] || die "unexpected OSD id $id"
  ceph-osd -c "$conf" -i 0 --mkfs --key "$secret" --osd-uuid "$uuid" >>"$dir/log/osd.out" 2>&1
  # --mkfs --key does not write the OSD's keyring
  printf '[osd.0]\n\tkey = %s\n' "$secret" >"$dir/osd.0/keyring"
  ceph-osd -c "$conf" -i 0 </dev/null >>"$dir/log/osd.out" 2>&1
  local i stat=''
  for i in $(seq 1 120); do
    stat=$(ceph osd stat -f json 2>/dev/null || true)
    [[ $stat == *'"num_up_osds":1'* ]] && break
    sleep 0.5
  done
  [[ $stat == *'"num_up_osds":1'* ]] || die "the OSD never came up; see $dir/log/osd.0.log"
  say "OSD up (memstore, $((memory / 1024 / 1024)) MiB)"

  # RGW creates its pools lazily, stalling the first bucket or multipart upload while the
  # new placement groups peer; one `ceph` process creates them all (each CLI start costs ~0.3 s).
  local pool
  for pool in .rgw.root default.rgw.log default.rgw.control default.rgw.meta \
    default.rgw.buckets.index default.rgw.buckets.data default.rgw.buckets.non-ec; do
    echo "osd pool create $pool 8 8"
    echo "osd pool application enable $pool rgw"
  done | ceph >/dev/null 2>&1
  say "gateway pools created"

  ceph auth get-or-create client.rgw.gw mon 'allow rw' osd 'allow rwx' mgr 'allow rw' -o "$dir/rgw.gw/keyring"
  local access secret_key
  access=$(random_text 20 'A-Z0-9')
  secret_key=$(random_text 40 'A-Za-z0-9')
  {
    echo "DISTCI_S3_ENDPOINT=http://$IP:$port"
    echo "DISTCI_S3_REGION=us-east-1"
    echo "AWS_ACCESS_KEY_ID=$access"
    echo "AWS_SECRET_ACCESS_KEY=$secret_key"
    echo "DISTCI_CEPH_STATE=$dir"
  } >"$dir/env"
  chmod 600 "$dir/env"
  start_gateway "$dir"
  say "gateway answering on http://$IP:$port"
  radosgw-admin user create --uid=distci --display-name="distci tests" \
    --access-key="$access" --secret-key="$secret_key" >/dev/null 2>>"$dir/log/admin.out"
  say "S3 user created"
  trap - EXIT
  cat "$dir/env"
}

# start_failed DIR: says which command failed and shows the end of each log, then stops
# what started (the logs stay).
start_failed() {
  local rc=$? dir=$1 log
  say "start failed (exit $rc); logs in $dir/log"
  for log in "$dir"/log/*; do
    [ -s "$log" ] || continue
    echo "--- $log (last lines)" >&2
    tail -n 5 "$log" >&2
  done
  cmd_stop "$dir" keep-logs
}

cmd_stop() {
  local dir=${1:-}
  check_state_dir "$dir"
  # The gateway first: with the OSD gone its shutdown hangs ~2 minutes on RADOS calls.
  # The OSD before the monitor, so that it can report going down.
  stop_daemons "$dir" client.rgw.gw
  stop_daemons "$dir" osd.0
  stop_daemons "$dir" mgr.x mon.a
  if [ "${2:-}" = keep-logs ]; then
    rm -f "$dir/distci-ceph"
  else
    rm -rf "$dir"
  fi
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) check_state_dir "${2:-}"; cmd_stop "$2"; say "stopped and removed $2" ;;
  stop-gateway) check_state_dir "${2:-}"; stop_daemons "$2" client.rgw.gw; say "gateway stopped" ;;
  start-gateway) check_state_dir "${2:-}"; CEPH_CONF=$2/ceph.conf start_gateway "$2"; say "gateway started" ;;
  install) install_packages ;;
  *) die "usage: scripts/ceph.sh start [--port P] [--dir DIR] [--memory BYTES] [--mgr] | stop DIR | stop-gateway DIR | start-gateway DIR | install" ;;
esac
