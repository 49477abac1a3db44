#!/bin/bash
# spec/support/noise.sh - background noise for `make check`: a busy, shared
# host in a loop.  Until it is killed, and at most SECONDS seconds (default
# 600), it keeps making and removing objects that have nothing to do with
# the tests but look like theirs:
#
#   * cgroup directories nslua-zzzz<4 random [a-z0-9]> (an 8-character id,
#     as nslua names its own) in the memory, pids and cgroup2 (unified)
#     hierarchies: at the hierarchy root and under this script's own cgroup,
#     where the tests' nslua runs make theirs.  They stay empty; a
#     concurrent `nslua gc` may remove one first, which is fine;
#   * tmpfs mounts under a mktemp dir of its own in /tmp;
#   * named network namespaces nsnoise<pid>_<n> (`ip netns add`/`del`), and
#     veth pairs inside one netns of its own, never in the host netns;
#   * short-lived processes (sleep 100, /bin/sleep 1007, sleep 60), which it
#     kills by pid;
#   * directories under /run/nslua (when it exists) named
#     zznoise-<pid>-<n>, with an info file naming a dead owner.  nslua
#     ignores them: a state record is named by 8 characters of [a-z0-9]
#     (lua/nslua/state.lua), and a record under construction is .<id>.<pid>;
#     so neither `nslua ps` nor the sweep or `nslua gc` ever reads them, but
#     a test that counts /run/nslua entries sees them come and go.
#
# It never makes a link in the host netns, never touches a route, nftables
# or a sysctl, and removes only what it made: everything on exit (normal
# end, SIGTERM, SIGINT).  Needs root.
#
# Usage, from the top of the tree:
#
#   spec/support/noise.sh 600 & make check; kill $!
#
# or `spec/support/noise.sh [SECONDS] [PERIOD]`: PERIOD is the pause between
# rounds in seconds (default 0.2).  NOISE_BUSY=N adds N busy loops (cpu
# load, as other people's test runs make; default 0: the machine is shared).
set -u

LIMIT=${1:-600}
PERIOD=${2:-0.2}
case "$LIMIT" in ''|*[!0-9]*) echo "usage: $0 [SECONDS] [PERIOD]" >&2; exit 2 ;; esac
if [ "$(id -u)" != 0 ]; then
  echo "noise.sh: needs root (cgroups, mounts, network namespaces)" >&2
  exit 1
fi

ME=$$
TMPD=""                     # our mktemp dir for the mounts (made below)
HOMENS=""                   # the netns that holds the veth pairs (made below)
CGS=()                      # cgroup dirs made (removed in order)
MNTS=()                     # mount points made
NETNS=()                    # named netns made (besides HOMENS)
VETHS=()                    # veth names made inside HOMENS
PIDS=()                     # sleeps started
BUSYPIDS=()                 # NOISE_BUSY loops
STATES=()                   # dirs made under /run/nslua
N=0

# Where the cgroup dirs go: the root and this script's own group of the
# memory, pids and cgroup2 hierarchies that are mounted here.
CG_PARENTS=()
own_cgroup() {  # $1: controller name, or "" for cgroup2
  local line
  while IFS= read -r line; do
    case "$1" in
      "") [[ "$line" == 0::* ]] && { echo "${line#0::}"; return; } ;;
      *) [[ "$line" =~ ^[0-9]+:([^:]*,)?$1(,[^:]*)?:(.*)$ ]] && { echo "${BASH_REMATCH[3]}"; return; } ;;
    esac
  done < /proc/self/cgroup
}
for h in memory pids unified; do
  mnt=/sys/fs/cgroup/$h
  [ -e "$mnt/cgroup.procs" ] || continue
  CG_PARENTS+=("$mnt")
  if [ "$h" = unified ]; then rel=$(own_cgroup ""); else rel=$(own_cgroup "$h"); fi
  if [ -n "$rel" ] && [ "$rel" != / ] && [ -e "$mnt$rel/cgroup.procs" ]; then
    CG_PARENTS+=("$mnt$rel")
  fi
done

rand4() {
  local a=abcdefghijklmnopqrstuvwxyz0123456789 s="" i
  for i in 1 2 3 4; do s+=${a:RANDOM%36:1}; done
  echo "$s"
}

cleanup() {
  trap - EXIT TERM INT
  local p m n d
  # timeout(1) passes a TERM on to its loop
  for p in "${BUSYPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  for p in "${PIDS[@]}" "${BUSYPIDS[@]}"; do wait "$p" 2>/dev/null; done
  for m in "${MNTS[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null; rmdir "$m" 2>/dev/null; done
  for n in "${NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
  [ -n "$HOMENS" ] && ip netns del "$HOMENS" 2>/dev/null   # takes the veth pairs in it along
  for d in "${CGS[@]}"; do [ -d "$d" ] && rmdir "$d" 2>/dev/null; done
  for d in "${STATES[@]}"; do rm -f "$d/info"; rmdir "$d" 2>/dev/null; done
  if [ -n "$TMPD" ]; then
    rmdir "$TMPD" 2>/dev/null || echo "noise.sh: $TMPD not empty, left in place" >&2
  fi
}
# A signal only asks the loop to stop: it lands between two commands, and
# an object made by the command before it must still be recorded (then
# removed) by the command after it.
STOP=""
trap cleanup EXIT
trap 'STOP=143' TERM
trap 'STOP=130' INT

TMPD=$(mktemp -d /tmp/nslua-noise.XXXXXX) || exit 1
HOMENS="nsnoise${ME}"
ip netns add "$HOMENS" 2>/dev/null || HOMENS=""

BUSY=${NOISE_BUSY:-0}
case "$BUSY" in ''|*[!0-9]*) BUSY=0 ;; esac
for ((i = 0; i < BUSY; i++)); do
  # bounded like the script: it ends by itself at the limit
  timeout "$LIMIT" sh -c 'while :; do :; done' &
  BUSYPIDS+=("$!")
done

# Drop the oldest entries of an array (by name) beyond $2, running $3 on each.
trim() {
  local -n arr=$1
  local keep=$2 fn=$3
  while [ "${#arr[@]}" -gt "$keep" ]; do
    "$fn" "${arr[0]}"
    arr=("${arr[@]:1}")
  done
}
rm_cg() { [ -d "$1" ] && rmdir "$1" 2>/dev/null; return 0; }
rm_mnt() { umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null; rmdir "$1" 2>/dev/null; return 0; }
rm_netns() { ip netns del "$1" 2>/dev/null; return 0; }
rm_veth() { [ -n "$HOMENS" ] && ip -n "$HOMENS" link del "$1" 2>/dev/null; return 0; }
rm_pid() { kill -KILL "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 0; }
rm_state() { rm -f "$1/info"; rmdir "$1" 2>/dev/null; return 0; }

while [ -z "$STOP" ] && [ "$SECONDS" -lt "$LIMIT" ]; do
  N=$((N + 1))
  # cgroups: one per parent per round, a few rounds old at most
  for parent in "${CG_PARENTS[@]}"; do
    d="$parent/nslua-zzzz$(rand4)"
    mkdir "$d" 2>/dev/null && CGS+=("$d")
  done
  trim CGS $((3 * ${#CG_PARENTS[@]})) rm_cg

  # a tmpfs under our own dir
  m="$TMPD/m$N"
  if mkdir "$m" && mount -t tmpfs -o size=1m,mode=0700 nslua-noise "$m"; then
    MNTS+=("$m")
  else
    rmdir "$m" 2>/dev/null
  fi
  trim MNTS 3 rm_mnt

  # a named netns, and a veth pair inside our own
  n="nsnoise${ME}_$N"
  ip netns add "$n" 2>/dev/null && NETNS+=("$n")
  trim NETNS 2 rm_netns
  if [ -n "$HOMENS" ]; then
    v="nsnz$((N % 100000))"
    ip -n "$HOMENS" link add "$v" type veth peer name "${v}p" 2>/dev/null && VETHS+=("$v")
    trim VETHS 3 rm_veth
  fi

  # processes that look like payloads
  case $((N % 3)) in
    0) sleep 100 & ;;
    1) /bin/sleep 1007 & ;;
    2) sleep 60 & ;;
  esac
  PIDS+=("$!")
  trim PIDS 4 rm_pid

  # unrelated dirs in nslua's state directory (never a record's name)
  if [ -d /run/nslua ]; then
    s="/run/nslua/zznoise-$ME-$N"
    if mkdir "$s" 2>/dev/null; then
      printf 'owner_pid=2147483646\nowner_start=1\nname=noise\n' > "$s/info"
      STATES+=("$s")
    fi
    trim STATES 3 rm_state
  fi

  [ -n "$STOP" ] || sleep "$PERIOD"
done
exit "${STOP:-0}"
