#!/usr/bin/env bash
# A throwaway ZooKeeper on loopback, for tests and development: one standalone server or
# an N-node ensemble (3 by default for the tests), each node a JVM started directly (no
# systemd, no zkServer.sh), everything in one state directory, stopped by PID.
#
#   scripts/zookeeper.sh start [--nodes N] [--base-port P] [--tick-ms T] [--dir DIR]
#       Prints, on stdout, lines a shell (`eval "$(scripts/zookeeper.sh start)"`) or a
#       test can read:
#         ZK_CONNECT=127.0.0.1:P,127.0.0.1:P+1,...   (client ports; add /chroot for distci)
#         ZK_STATE=DIR                               (pass it to the other commands)
#       Progress goes to stderr. --nodes 1 (default) is a standalone server. Client ports
#       are P..P+N-1, peer ports P+100.., election ports P+200..; without --base-port a
#       free range is picked. --tick-ms (default 500) sets tickTime: sessions may be as
#       short as 2 ticks, so tests see expiry in about a second.
#   scripts/zookeeper.sh stop DIR          stop every node started in DIR, remove DIR
#   scripts/zookeeper.sh kill DIR N [SIG]  send SIG (default KILL) to node N (1-based)
#   scripts/zookeeper.sh restart DIR N     start node N again (after kill) and wait for it
#   scripts/zookeeper.sh status DIR        one line per node: N PORT PID MODE
#   scripts/zookeeper.sh leader DIR        the number of the node that leads now
#   scripts/zookeeper.sh install           install Debian's zookeeper package (as root)
#   DISTCI_ZK_HEAP (default 1g): each node's -Xmx.
#   DISTCI_ZK_JAVA_OPTS: more JVM options for each node, split on spaces; `{node}` becomes
#     the node's number (e.g. "-Xlog:gc:file=/tmp/zk{node}-gc.log" to see its pauses).
#
# Needs Debian's `zookeeper` package (3.8 on Debian 12; Java comes with it); as root,
# `start` installs it when missing. Measured facts behind the settings:
# shared/notes/zookeeper.md.
set -euo pipefail

IP=127.0.0.1
ZK_JAR=/usr/share/java/zookeeper.jar
SLF4J_JAR=/usr/share/java/slf4j-simple.jar
SERVICE=zookeeper
# shellcheck source=lib/service.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/service.sh"

installed() { [ -f "$ZK_JAR" ] && [ -f "$SLF4J_JAR" ] && command -v java >/dev/null 2>&1; }

install_packages() {
  installed && return 0
  apt_install "ZooKeeper ($ZK_JAR or java)" zookeeper libslf4j-java
  installed || die "still missing after install: $ZK_JAR, $SLF4J_JAR or java"
}

# A base port P in 20000-39999 such that P..P+N-1, P+100.. and P+200.. are all free now.
free_base() {
  local n=$1 used p i ok tries
  used=" $(listening_ports | tr '\n' ' ') "
  for tries in $(seq 1 200); do
    p=$(random_port 20000 20000)
    ok=1
    for i in $(seq 0 $((n - 1))); do
      [[ $used == *" $((p + i)) "* || $used == *" $((p + 100 + i)) "* || $used == *" $((p + 200 + i)) "* ]] && ok=0
    done
    [ $ok = 1 ] && { echo "$p"; return 0; }
  done
  die "found no free port range after 200 tries; pass --base-port"
}

# The four-letter word `srvr` over bash's /dev/tcp (there is no nc); prints the answer.
four_letters() {
  timeout 2 bash -c "exec 3<>/dev/tcp/$IP/$1 && printf '$2' >&3 && cat <&3" 2>/dev/null || true
}

mode_of() { four_letters "$1" srvr | sed -n 's/^Mode: //p'; }

# The PID of node N if it is running and is ours: its command line names our zoo.cfg.
our_pid() {
  local dir=$1 n=$2 pid
  [ -f "$dir/node$n/pid" ] || return 1
  pid=$(cat "$dir/node$n/pid")
  [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF "$dir/node$n/zoo.cfg" || return 1
  echo "$pid"
}

check_state_dir() {
  [ -n "${1:-}" ] || die "name the state directory printed by 'start' (ZK_STATE)"
  [ -f "$1/distci-zookeeper" ] || die "$1 is not an ensemble started by scripts/zookeeper.sh"
}

node_count() { ls -d "$1"/node* 2>/dev/null | wc -l; }
client_port() { sed -n 's/^clientPort=//p' "$1/node$2/zoo.cfg"; }

write_conf() {
  local dir=$1 n=$2 count=$3 base=$4 tick=$5 i
  mkdir -p "$dir/node$n/data"
  {
    echo "tickTime=$tick"
    echo "dataDir=$dir/node$n/data"
    echo "clientPort=$((base + n - 1))"
    echo "clientPortAddress=$IP"
    echo "maxClientCnxns=0"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    echo "autopurge.purgeInterval=0"
    if [ "$count" -gt 1 ]; then
      echo "initLimit=10"
      echo "syncLimit=5"
      for i in $(seq 1 "$count"); do
        echo "server.$i=$IP:$((base + 100 + i - 1)):$((base + 200 + i - 1))"
      done
    fi
  } >"$dir/node$n/zoo.cfg"
  [ "$count" -gt 1 ] && echo "$n" >"$dir/node$n/data/myid"
  return 0
}

launch() {
  local dir=$1 n=$2
  our_pid "$dir" "$n" >/dev/null && die "node $n of $dir is already running"
  # Heap: ZooKeeper keeps its whole tree in memory. At -Xmx256m the dispatch benchmark's
  # ~70,000 tickets filled the old generation to 80-86% and each node ran 10-19 full
  # collections of ~200 ms in one run: the ensemble stalled, claims' p99 went to ~220 ms.
  # A fixed 1 GiB: no full collection in a run. -Xmn64m: with the default young generation
  # of a 1 GiB heap (~270 MB eden) each young collection took 26-48 ms (the scale
  # benchmark's dispatch p99 rose from 0.74 s to 1-2 s); a small one keeps them short.
  # DISTCI_ZK_HEAP overrides the size.
  local extra=()
  [ -n "${DISTCI_ZK_JAVA_OPTS:-}" ] && read -r -a extra <<<"${DISTCI_ZK_JAVA_OPTS//\{node\}/$n}"
  setsid java "-Xms${DISTCI_ZK_HEAP:-1g}" "-Xmx${DISTCI_ZK_HEAP:-1g}" -Xmn64m -XX:+UseSerialGC -Dzookeeper.jmx.log4j.disable=true "${extra[@]}" \
    -cp "$ZK_JAR:$SLF4J_JAR" org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/node$n/zoo.cfg" \
    </dev/null >>"$dir/node$n/out.log" 2>&1 &
  echo $! >"$dir/node$n/pid"
}

# Waits until every named node answers `srvr` with a Mode: line (it serves clients).
wait_serving() {
  local dir=$1 n port i
  shift
  for n in "$@"; do
    port=$(client_port "$dir" "$n")
    for i in $(seq 1 300); do
      [ -n "$(mode_of "$port")" ] && break
      our_pid "$dir" "$n" >/dev/null || die "node $n exited; see $dir/node$n/out.log"
      sleep 0.1
    done
    [ -n "$(mode_of "$port")" ] || die "node $n does not serve on $IP:$port after 30 s; see $dir/node$n/out.log"
  done
}

cmd_start() {
  local nodes=1 base='' tick=500 dir=''
  while [ $# -gt 0 ]; do
    case $1 in
      --nodes) nodes=${2:?--nodes needs a number}; shift 2 ;;
      --base-port) base=${2:?--base-port needs a number}; shift 2 ;;
      --tick-ms) tick=${2:?--tick-ms needs milliseconds}; shift 2 ;;
      --dir) dir=${2:?--dir needs a path}; shift 2 ;;
      *) die "unknown option '$1' (start [--nodes N] [--base-port P] [--tick-ms T] [--dir DIR])" ;;
    esac
  done
  [[ $nodes =~ ^[1-9]$ ]] || die "--nodes must be 1-9"
  install_packages
  base=${base:-$(free_base "$nodes")}
  if [ -n "$dir" ]; then
    [ -e "$dir" ] && die "$dir exists; stop that ensemble first or choose another --dir"
    mkdir -p "$dir"
  else
    dir=$(mktemp -d "${TMPDIR:-/tmp}/distci-zk.XXXXXX")
  fi
  dir=$(cd "$dir" && pwd)
  touch "$dir/distci-zookeeper"
  # From here on a failure stops whatever already started (the logs stay for a look).
  # Runs after this function's locals are gone: $dir is expanded now.
  trap "say 'start failed; logs in $dir/node*/out.log'; cmd_stop '$dir' keep-logs" EXIT
  local n connect=''
  for n in $(seq 1 "$nodes"); do
    write_conf "$dir" "$n" "$nodes" "$base" "$tick"
    launch "$dir" "$n"
    connect+="${connect:+,}$IP:$((base + n - 1))"
  done
  wait_serving "$dir" $(seq 1 "$nodes")
  say "$nodes node(s) serving on $connect (tickTime $tick ms)"
  trap - EXIT
  printf 'ZK_CONNECT=%s\nZK_STATE=%s\n' "$connect" "$dir" | tee "$dir/env"
}

cmd_stop() {
  local dir=$1 n pid pids=() i any
  for n in $(seq 1 "$(node_count "$dir")"); do
    pid=$(our_pid "$dir" "$n") || continue
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for i in $(seq 1 100); do
    any=0
    for pid in "${pids[@]}"; do alive "$pid" && any=1; done
    [ $any = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do alive "$pid" && kill -KILL "$pid" 2>/dev/null; done
  if [ "${2:-}" = keep-logs ]; then
    rm -f "$dir/distci-zookeeper"
  else
    rm -rf "$dir"
  fi
}

cmd_kill() {
  local dir=$1 n=${2:-} sig=${3:-KILL} pid i
  [[ $n =~ ^[0-9]+$ ]] && [ -d "$dir/node$n" ] || die "no node '$n' in $dir"
  pid=$(our_pid "$dir" "$n") || die "node $n of $dir is not running"
  kill "-$sig" "$pid"
  if [ "$sig" = KILL ] || [ "$sig" = 9 ]; then
    for i in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
  fi
  say "sent SIG$sig to node $n (pid $pid)"
}

cmd_status() {
  local dir=$1 n port pid mode
  for n in $(seq 1 "$(node_count "$dir")"); do
    port=$(client_port "$dir" "$n")
    pid=$(our_pid "$dir" "$n") || pid=-
    mode=$(mode_of "$port")
    echo "$n $port $pid ${mode:-down}"
  done
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) check_state_dir "${2:-}"; cmd_stop "$2"; say "stopped and removed $2" ;;
  kill) check_state_dir "${2:-}"; cmd_kill "$2" "${3:-}" "${4:-KILL}" ;;
  restart)
    check_state_dir "${2:-}"
    [[ ${3:-} =~ ^[0-9]+$ ]] && [ -d "$2/node$3" ] || die "no node '${3:-}' in $2"
    launch "$2" "$3"; wait_serving "$2" "$3"; say "node $3 serving again" ;;
  status) check_state_dir "${2:-}"; cmd_status "$2" ;;
  leader) check_state_dir "${2:-}"; cmd_status "$2" | awk '$4 == "leader" || $4 == "standalone" {print $1; found=1} END {exit !found}' ;;
  install) install_packages ;;
  *) die "usage: scripts/zookeeper.sh start [--nodes N] [--base-port P] [--tick-ms T] [--dir DIR] | stop DIR | kill DIR N [SIG] | restart DIR N | status DIR | leader DIR | install" ;;
esac
