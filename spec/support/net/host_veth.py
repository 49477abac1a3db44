# The "host" side of a veth test, run inside the test's private network
# namespace: listen for the guest, start `CMD` (nslua run --net veth ...
# guest_veth.py), read the guest's report, dial the guest on each address.
import json, socket, subprocess, sys, threading

cmd, port = sys.argv[1], int(sys.argv[2])
lsock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
lsock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind(("::", port))
lsock.listen(4)
lsock.settimeout(20)
heard = []


def serve():
    for _ in range(2):
        c, p = lsock.accept()
        m = c.recv(200)
        heard.append(p[0])
        c.sendall(b"host heard " + m)
        c.close()


t = threading.Thread(target=serve, daemon=True)
t.start()
p = subprocess.Popen(cmd, shell=True, stdout=subprocess.PIPE, text=True)
info = json.loads(p.stdout.readline() or "{}")
print("GUEST", json.dumps(info), flush=True)
host = []
for l in json.loads(subprocess.check_output(["ip", "-j", "addr"])):
    if l["ifname"].startswith("nsl"):
        host.append({"ifname": l["ifname"], "addrs": [f"{i['local']}/{i['prefixlen']}"
                     for i in l["addr_info"] if i.get("scope") == "global"]})
print("HOSTLINK", json.dumps(host), flush=True)
for a in info.get("addrs", []):
    ip = a.split("/")[0]
    c = socket.create_connection((ip, port + 1), timeout=10)
    c.sendall(b"from host " + ip.encode())
    c.shutdown(socket.SHUT_WR)
    print("host->guest", ip, c.recv(200).decode(), flush=True)
    c.close()
t.join(20)
print("HEARD", " ".join(heard), flush=True)
print(p.stdout.read(), end="")
print("RC", p.wait(), flush=True)
