# Shared by scripts/zookeeper.sh and scripts/ceph.sh (sourced, not run): progress and
# errors, Debian package installs, free ports and process checks for throwaway services.
# The sourcing script sets SERVICE (its name in messages) before sourcing.

T0=$EPOCHREALTIME

say() { printf '[%s %5.1fs] %s\n' "$SERVICE" "$(awk "BEGIN{print $EPOCHREALTIME - $T0}")" "$*" >&2; }
die() { printf '%s.sh: %s\n' "$SERVICE" "$*" >&2; exit 1; }

# apt_install WHAT PACKAGE...: installs Debian packages as root, waiting for apt's lock and
# updating the package lists when the first try finds them missing or stale. WHAT is the
# human name in the message given to non-root users.
apt_install() {
  local what=$1; shift
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "$what is not installed. On Debian 12 run as root:
  apt-get update && apt-get install -y --no-install-recommends $*
or run this script as root, which installs it."
  fi
  say "installing $*"
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -qq)
  if ! apt-cache show "$1" >/dev/null 2>&1; then "${apt[@]}" update >&2; fi
  "${apt[@]}" install -y --no-install-recommends "$@" >&2 ||
    { "${apt[@]}" update >&2 && "${apt[@]}" install -y --no-install-recommends "$@" >&2; } ||
    die "installing $* failed; see the apt-get output above"
}

# TCP ports some process listens on (IPv4 and IPv6), from /proc: no ss or netstat needed.
listening_ports() {
  local _ local_addr _r state _rest
  cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | while read -r _ local_addr _r state _rest; do
    [ "$state" = 0A ] && printf '%d\n' "0x${local_addr##*:}"
  done
}

# A random port in [FROM, FROM+SPAN).
random_port() { echo $(($1 + (RANDOM * 32768 + RANDOM) % $2)); }

# Alive = exists and is not a zombie.
alive() { local st; st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ "$st" != Z ]; }
