# An unprivileged process in a network namespace whose route to the host's
# address is "prohibit" (spec/cli/net_spec.lua): a plain connect is refused,
# one on a socket bound to the device (SO_BINDTODEVICE, no privilege needed
# since Linux 5.7) reaches the host all the same: the kernel takes a route
# lookup that fails with an output device as "on link".
import socket, sys


def say(*words):
    # one write per line: the host and the guest share one pipe
    sys.stdout.write(" ".join(str(w) for w in words) + "\n")
    sys.stdout.flush()


host, port, dev = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for what in ("tcp-plain", "tcp-bindtodevice"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    try:
        if what == "tcp-bindtodevice":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, dev.encode())
        s.connect((host, port))
        s.sendall(what.encode())
        s.shutdown(socket.SHUT_WR)
        say("try", what, "ok", s.recv(100).decode())
    except OSError as e:
        say("try", what, "ERR", e)
    s.close()
