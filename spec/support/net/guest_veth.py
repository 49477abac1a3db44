# Inside an `nslua run --net veth` container: report eth0's addresses, the
# default routes and the links; dial the host through each gateway; then
# answer one host connection on each address.  (spec/cli/net_spec.lua)
import json, socket, subprocess, sys

port = int(sys.argv[1])


def ipj(*args):
    return json.loads(subprocess.check_output(["ip", "-j"] + list(args)))


addrs = [f"{i['local']}/{i['prefixlen']}" for l in ipj("addr", "show", "dev", "eth0")
         for i in l["addr_info"] if i.get("scope") == "global"]
gws = [r["gateway"] for fam in ("-4", "-6") for r in ipj(fam, "route", "show", "default")
       if r.get("dev") == "eth0" and "gateway" in r]
listeners = []
for a in addrs:
    ip = a.split("/")[0]
    s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port + 1))
    s.listen(2)
    s.settimeout(15)
    listeners.append(s)
links = sorted(l["ifname"] for l in ipj("link"))
print(json.dumps({"addrs": addrs, "gateways": gws, "links": links}), flush=True)
for gw in gws:
    c = socket.create_connection((gw, port), timeout=10)
    c.sendall(b"from guest")
    c.shutdown(socket.SHUT_WR)
    print("guest->host", gw, c.recv(200).decode(), flush=True)
    c.close()
for s in listeners:
    c, _ = s.accept()
    c.settimeout(5)
    m = c.recv(200)
    c.sendall(b"guest heard " + m)
    c.close()
print("guest done", flush=True)
