# Inside an `nslua run --net veth` container, as an unprivileged payload:
# try to reach the host (spec/cli/net_spec.lua, docs/networking.md "The plans").  TCP
# to each gateway (the host end's addresses) and to another host address
# given as argv[2], and once more to the v4 gateway on a socket bound to
# eth0 (SO_BINDTODEVICE); UDP to the v4 gateway, to the host's all-hosts
# multicast group and to the limited broadcast address.  argv[3], when
# given, is the TCP timeout in seconds (5).  One line per attempt:
# "try WHAT ok|ERR".
import json, socket, subprocess, sys


def say(*words):
    # one write per line: the host and the guest share one pipe
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


port, other = int(sys.argv[1]), sys.argv[2]
timeout = float(sys.argv[3]) if len(sys.argv) > 3 else 5


def ipj(*args):
    return json.loads(subprocess.check_output(["ip", "-j"] + list(args)))


mine = [i["local"] for l in ipj("-4", "addr", "show", "dev", "eth0") for i in l["addr_info"]][0]
gws = [r["gateway"] for fam in ("-4", "-6") for r in ipj(fam, "route", "show", "default")
       if r.get("dev") == "eth0" and "gateway" in r]


def tcp(what, addr, dev=None):
    try:
        c = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(timeout)
        if dev:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        c.connect((addr, port))
        c.sendall(what.encode())
        c.shutdown(socket.SHUT_WR)
        say("try", what, "ok", c.recv(100).decode())
        c.close()
    except OSError as e:
        say("try", what, "ERR", e)


def udp(what, addr, setup):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        setup(s)
        s.sendto(what.encode(), (addr, port))
        say("try", what, "ok")
    except OSError as e:
        say("try", what, "ERR", e)
    s.close()


for gw in gws:
    tcp("tcp-gateway%d" % (4 if ":" not in gw else 6), gw)
tcp("tcp-other", other)
for gw in gws:
    if ":" not in gw:
        tcp("tcp-bindtodevice4", gw, "eth0")
        udp("udp-gateway4", gw, lambda s: None)
udp("udp-multicast", "224.0.0.1",
    lambda s: s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(mine)))


def bcast(s):
    s.bind((mine, 0))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)


udp("udp-broadcast", "255.255.255.255", bcast)
say("guest done")
