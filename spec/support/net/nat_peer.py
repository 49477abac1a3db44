# nat_peer.py - one side of the NAT and published-port tests (spec/nat_spec.lua).
#   serve ADDR PORT COUNT [ADDR6]  answer COUNT TCP connections on ADDR (and ADDR6)
#                                  with "heard DATA from PEER"; print each peer
#   dial PORT TAG ADDR...          connect to each ADDR (retrying for 10 s, or
#                                  $NAT_PEER_DEADLINE), send
#                                  TAG, print the reply
import os, select, socket, sys, time

def serve(addr, port, count, addr6=None):
    socks = []
    for fam, a in ((socket.AF_INET, addr), (socket.AF_INET6, addr6)):
        if a is None:
            continue
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((a, port))
        s.listen(8)
        socks.append(s)
    print("listening", flush=True)
    deadline = time.time() + 20
    while count > 0 and time.time() < deadline:
        ready, _, _ = select.select(socks, [], [], 1)
        for s in ready:
            c, peer = s.accept()
            c.settimeout(10)
            data = c.recv(100).decode()
            c.sendall(("heard %s from %s" % (data, peer[0])).encode())
            c.close()
            print("SERVED %s from %s" % (data, peer[0]), flush=True)
            count -= 1
    return 0 if count == 0 else 1

def dial(port, tag, addrs):
    rc = 0
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        deadline = time.time() + float(os.environ.get("NAT_PEER_DEADLINE", "10"))
        while True:
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.settimeout(2)
            try:
                s.connect((a, port))
                s.sendall(tag.encode())
                print("DIAL %s %s" % (a, s.recv(100).decode()), flush=True)
                s.close()
                break
            except OSError as e:
                s.close()
                if time.time() > deadline:
                    print("DIAL %s ERR %s" % (a, e), flush=True)
                    rc = 1
                    break
                time.sleep(0.1)
    return rc

if sys.argv[1] == "serve":
    sys.exit(serve(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None))
sys.exit(dial(int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
