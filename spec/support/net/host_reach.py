# The "host" of a reach test, inside the test's private network namespace:
# a TCP listener on [::]:PORT (v4 too) and a UDP socket on 0.0.0.0:PORT,
# both on the wildcard address as many host services are; run CMD (the
# guest, guest_reach.py) and print what the host heard: "HEARD tcp|udp WHAT".
import select, socket, subprocess, sys, time


def say(*words):
    # one write per line: the host and the guest share one pipe
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


cmd, port = sys.argv[1], int(sys.argv[2])
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("::", port))
t.listen(8)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", port))
p = subprocess.Popen(cmd, shell=True)
deadline = time.time() + 30
while time.time() < deadline:
    r, _, _ = select.select([t, u], [], [], 0.2)
    for s in r:
        if s is t:
            c, _ = t.accept()
            c.settimeout(5)
            what = c.recv(100).decode()
            c.sendall(b"host heard " + what.encode())
            c.close()
            say("HEARD tcp", what)
        else:
            what, _ = u.recvfrom(100)
            say("HEARD udp", what.decode())
    if p.poll() is not None and not r:
        break
say("RC", p.wait())
