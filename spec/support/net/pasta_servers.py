# The "host" side of spec/pasta_spec.lua: a TCP echo server, a UDP echo
# server and a stub DNS responder on ADDR (a documentation address of the
# test's private network namespace).  Answers the A query for pasta.test
# with 203.0.113.7; runs until killed.
import socket, struct, sys, threading

addr = sys.argv[1]

def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, 7000))
    s.listen(8)
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        try:
            c.sendall(b"tcp-echo:" + c.recv(100))
        except OSError:
            pass
        c.close()

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 7001))
    while True:
        data, peer = s.recvfrom(512)
        s.sendto(b"udp-echo:" + data, peer)

def dns():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 53))
    while True:
        q, peer = s.recvfrom(512)
        if len(q) < 12:
            continue
        qid, = struct.unpack("!H", q[:2])
        i, labels = 12, []
        while i < len(q) and q[i] != 0:
            n = q[i]
            labels.append(q[i + 1:i + 1 + n].decode("ascii", "replace").lower())
            i += 1 + n
        question = q[12:i + 5]
        qtype, = struct.unpack("!H", q[i + 1:i + 3])
        name = ".".join(labels)
        if name == "pasta.test" and qtype == 1:
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton("203.0.113.7")
            hdr = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0)
            s.sendto(hdr + question + answer, peer)
        else:
            rcode = 0 if name == "pasta.test" else 3   # NODATA / NXDOMAIN
            hdr = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, 0, 0, 0)
            s.sendto(hdr + question, peer)

for f in (tcp, udp, dns):
    threading.Thread(target=f, daemon=True).start()
print("ready", flush=True)
threading.Event().wait()
