# The payload of spec/pasta_spec.lua, inside `nslua run --net pasta`:
# TCP and UDP to the "host"'s servers at ADDR, a name through the sandbox's
# resolv.conf (pasta's DNS forwarder), then one connection on the published
# guest port PORT.  Prints one line per check.
import socket, sys

addr, port = sys.argv[1], int(sys.argv[2])
print("resolv:", open("/etc/resolv.conf").read().strip())
s = socket.create_connection((addr, 7000), timeout=10)
s.sendall(b"hi")
print("tcp:", s.recv(100).decode())
s.close()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(10)
u.sendto(b"hu", (addr, 7001))
print("udp:", u.recvfrom(100)[0].decode())
print("dns:", socket.getaddrinfo("pasta.test", 80, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])
ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("0.0.0.0", port))
ls.listen(1)
ls.settimeout(20)
print("listening", flush=True)
c, peer = ls.accept()
c.sendall(b"published:" + c.recv(100))
c.close()
print("served", flush=True)
