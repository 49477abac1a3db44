# Two containers on one bridge (spec/cli/net_spec.lua):
#   serve PORT A4 A6 QUIT  answer 2 connections, then wait (bounded) for QUIT
#   dial PORT A4 A6        connect to each address and check the reply
import os, select, socket, sys, time

mode, port, addrs = sys.argv[1], int(sys.argv[2]), sys.argv[3:5]
deadline = time.monotonic() + 20
if mode == "serve":
    ls = []
    for a in addrs:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((a, port))
        s.listen(2)
        ls.append(s)
    served = 0
    while served < 2 and time.monotonic() < deadline:
        for s in select.select(ls, [], [], 1)[0]:
            c, p = s.accept()
            m = c.recv(200)
            c.sendall(b"server at " + c.getsockname()[0].encode() + b" heard " + m)
            c.close()
            served += 1
            print("server <-", p[0], m.decode(), flush=True)
    while not os.path.exists(sys.argv[5]) and time.monotonic() < deadline:
        time.sleep(0.05)
    sys.exit(0 if served == 2 else 1)
ok = True
for a in addrs:
    while True:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((a, port))
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(b"hello " + a.encode())
    reply = s.recv(200).decode()
    s.close()
    ok = ok and reply == f"server at {a} heard hello {a}"
    print("client ->", a, reply, flush=True)
sys.exit(0 if ok else 1)
