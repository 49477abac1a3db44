#!/usr/bin/python3
"""A seccomp agent for the tests: OCI's listenerPath protocol.

seccomp_agent.py SOCKET OUT [ERRNO [COUNT]]

Listens on SOCKET (AF_UNIX, SOCK_STREAM, mode 0666), prints "ready", and
takes COUNT connections (default 1). From each it reads one message as an
agent does (runc's contrib/cmd/seccompagent: one recvmsg, the container
process state JSON and the listener by SCM_RIGHTS); at the end it checks
that the runtime closed each connection. It answers every notification with -ERRNO
(default EXDEV) until no process is left under any filter; ERRNO 0 closes
each listener at once instead. OUT gets a JSON list, one object a
connection: {"state": ..., "fds": n, "closed": bool, "syscalls": [nr, ...]}.
"""
import array
import fcntl
import json
import os
import select
import socket
import struct
import sys

NOTIF_RECV = 0xC0502100   # _IOWR('!', 0, struct seccomp_notif): 80 bytes
NOTIF_SEND = 0xC0182101   # _IOWR('!', 1, struct seccomp_notif_resp): 24 bytes
TIMEOUT = 30


def take(conn):
    """One connection's message: (its record, the listener or None).  As
    real agents, it serves at once; whether the runtime closed the
    connection is checked at the end (closed())."""
    conn.settimeout(TIMEOUT)
    fds = array.array("i")
    data, anc, _, _ = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, cdata in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(cdata[:len(cdata) - len(cdata) % fds.itemsize])
    rec = {"state": json.loads(data.decode()), "fds": len(fds), "syscalls": []}
    for fd in fds[1:]:
        os.close(fd)
    return rec, (fds[0] if len(fds) > 0 else None)


def closed(conn):
    """Did the runtime close the connection (no more bytes, end of file)?"""
    conn.settimeout(5)
    try:
        return conn.recv(1) == b""
    except socket.timeout:
        return False
    finally:
        conn.close()


def answer(listener, rec, err):
    """Answer one notification; False once no task is left."""
    buf = bytearray(80)
    try:
        fcntl.ioctl(listener, NOTIF_RECV, buf, True)
    except OSError:
        return False
    nid, _pid, _flags, nr = struct.unpack_from("=QIIi", buf)
    rec["syscalls"].append(nr)
    try:
        fcntl.ioctl(listener, NOTIF_SEND, bytearray(struct.pack("=QqiI", nid, 0, -err, 0)), True)
    except OSError:
        pass    # the task is gone
    return True


def main():
    path, out = sys.argv[1], sys.argv[2]
    err = int(sys.argv[3]) if len(sys.argv) > 3 else 18
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    os.chmod(path, 0o666)   # a rootless runtime connects too
    srv.listen(count)
    print("ready", flush=True)
    records, listeners, conns = [], {}, []
    while count > 0 or listeners:
        waiting = list(listeners) + ([srv] if count > 0 else [])
        ready, _, _ = select.select(waiting, [], [], TIMEOUT)
        if not ready:
            break
        for r in ready:
            if r is srv:
                conn, _ = srv.accept()
                count -= 1
                rec, listener = take(conn)
                records.append(rec)
                conns.append((conn, rec))
                if listener is not None and err == 0:
                    os.close(listener)   # an agent that goes away at once
                elif listener is not None:
                    listeners[listener] = rec
            elif not answer(r, listeners[r], err):
                os.close(r)
                del listeners[r]
    srv.close()
    for conn, rec in conns:
        rec["closed"] = closed(conn)
    with open(out, "w") as f:
        json.dump(records, f)


if __name__ == "__main__":
    main()
