#!/bin/bash
# The "host" of spec/pasta_spec.lua, run as root under `unshare -m -n`
# (a private mount and network namespace: nothing here touches the
# machine's).  Usage: pasta_host.sh TMPDIR MODE UID NSLUA...
#   MODE run:    run the guest payload, then connect to the published port
#   MODE kill:   start `sleep 60` in a sandbox, SIGKILL nslua once pasta runs
#   MODE gc:     the same, its watchdog SIGKILLed first; then NSLUA gc
#   MODE notun:  a run without the private /dev/net/tun node
# The template interface d0 (192.0.2.1/24, default route via .254) is one
# end of a veth pair; the servers listen on 198.51.100.1 (the other end),
# an address the sandbox (which gets 192.0.2.1 itself) reaches through pasta.
# /dev/net/tun is a private 0666 node (rootless pasta opens it as the
# caller) and /etc/resolv.conf names the stub resolver: bind mounts of this
# mount namespace only.
set -eu
tmp=$1 mode=$2 uid=$3
shift 3
here=$(dirname "$0")
ip link set lo up
ip link add d0 type veth peer name d0p
ip link set d0p up
ip addr add 192.0.2.1/24 dev d0
ip addr add 198.51.100.1/24 dev d0p
ip link set d0 up
ip route add default via 192.0.2.254 dev d0
if [ "$mode" != notun ]; then
  mknod -m 0666 "$tmp/tun" c 10 200
  mount --bind "$tmp/tun" /dev/net/tun
fi
echo "nameserver 198.51.100.1" > "$tmp/resolv.conf"
chmod 0644 "$tmp/resolv.conf"
mount --bind "$tmp/resolv.conf" /etc/resolv.conf
# nslua's state root (UID's): a tmpfs of this mount namespace, so no other
# run's sweep sees these records (and the check below sees only ours)
if [ "$uid" = 0 ]; then state=/run/nslua; else state=/tmp/nslua-$uid; fi
mkdir -p "$state"
if [ "$uid" = 0 ]; then
  # the id slots' locks stay the machine's: no other run gets our slot
  mkdir -p /run/nslua/ids "$tmp/ids"
  mount --bind /run/nslua/ids "$tmp/ids"
fi
mount -t tmpfs -o mode=0700,uid="$uid",gid="$uid" nslua-state "$state"
if [ "$uid" = 0 ]; then
  mkdir "$state/ids"
  mount --move "$tmp/ids" "$state/ids"
fi
state_left() {
  local left
  left=$(cd "$state" && ls -A | grep -v -e '^ids$' -e '^cache$' -e '^veth4$' -e '\.lock$' || true)
  [ -z "$left" ] || echo "state left: $left"
}
cp "$here/pasta_guest.py" "$tmp/guest.py"
chmod 0644 "$tmp/guest.py"
python3 "$here/pasta_servers.py" 198.51.100.1 > "$tmp/servers.out" 2>&1 &
servers=$!
trap 'kill $servers 2>/dev/null || true' EXIT
for _ in $(seq 100); do grep -q ready "$tmp/servers.out" && break; sleep 0.05; done

# the pasta of nslua process $1, a child of its watchdog (empty when none)
pasta_of() {
  local c
  for c in $(pgrep -P "$1"); do pgrep -P "$c" -f 'pasta --foreground' || true; done
}

if [ "$mode" = notun ]; then
  rc=0
  "$@" run --net pasta -- /bin/true || rc=$?
  echo "nslua exit: $rc"
  state_left
elif [ "$mode" = run ]; then
  "$@" run --net pasta --publish 8080:8000 --ro-bind "$tmp" /t -- \
    /usr/bin/python3 /t/guest.py 198.51.100.1 8000 > "$tmp/guest.out" 2>&1 &
  nslua=$!
  pid=""
  for _ in $(seq 200); do
    [ -n "$pid" ] || pid=$(pasta_of $nslua)
    grep -q listening "$tmp/guest.out" 2>/dev/null && break
    sleep 0.05
  done
  echo "pasta pid: ${pid:-none}"
  # a session of its own: a terminal's ^C to nslua's never reaches pasta
  if [ -n "$pid" ] && [ "$(ps -o sid= -p "$pid")" != "$(ps -o sid= -p $nslua)" ]; then
    echo "pasta session: own"
  fi
  python3 - <<'PY' || true
import socket
s = socket.create_connection(("192.0.2.1", 8080), timeout=10)
s.sendall(b"from-host")
print("host got:", s.recv(100).decode())
PY
  rc=0
  wait $nslua || rc=$?
  cat "$tmp/guest.out"
  echo "nslua exit: $rc"
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "pasta left: $pid"; fi
  state_left
else
  "$@" run --net pasta -- /bin/sleep 60 > "$tmp/guest.out" 2>&1 &
  nslua=$!
  pid=""
  for _ in $(seq 200); do
    pid=$(pasta_of $nslua)
    [ -n "$pid" ] && break
    sleep 0.05
  done
  echo "pasta pid: ${pid:-none}"
  sleep 0.3
  if [ "$mode" = gc ] && [ -n "$pid" ]; then
    # the watchdog first: only the record is left to find pasta by
    kill -9 "$(ps -o ppid= -p "$pid")"
  fi
  kill -9 $nslua
  wait $nslua || true
  if [ "$mode" = gc ]; then
    sleep 0.5
    kill -0 "$pid" 2>/dev/null && echo "pasta alive before gc"
    "$@" gc > "$tmp/gc.out" 2>&1 || true
  fi
  for _ in $(seq 100); do
    { [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; } || break
    sleep 0.05
  done
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then echo "pasta left: $pid"; else echo "pasta gone"; fi
  [ "$mode" = gc ] && state_left
fi
