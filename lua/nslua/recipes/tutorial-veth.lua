-- Tutorial 6: a veth pair between parent and child.  The tutorial's network
-- section ends with "now connect them"; this is that step, over rtnetlink
-- from Lua (no `ip`):
--   1. the child is cloned into a new network namespace and waits;
--   2. the parent creates a veth pair whose peer is born directly in the
--      child's namespace (one netlink request), gives its end an address
--      and brings it up;
--   3. the child gives its own end an address, brings it and lo up, then
--      execs a tiny TCP server (python3);
--   4. the parent runs a tiny TCP client (python3, fork + exec) that dials
--      the child over IPv4 and IPv6 and checks the replies.
-- When the child exits its namespace goes, and the kernel deletes both
-- ends of the pair.  Needs root (CAP_NET_ADMIN where nslua runs).
-- Run: nslua tutorial-veth [PORT]
local core = require "nslua.core"
local ns, proc, nl = core.ns, core.proc, core.netlink

local PORT = math.tointeger(tonumber((...))) or 7171
local PYTHON = { "/usr/bin/env", "-u", "LD_PRELOAD", "/usr/bin/python3", "-c" }

-- server ADDR4 ADDR6 PORT: answer one connection on each address, then exit
local SERVER = [[
import select, socket, sys, time
a4, a6, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
ls = []
for fam, a in ((socket.AF_INET, a4), (socket.AF_INET6, a6)):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, port))
    s.listen(1)
    ls.append(s)
deadline = time.monotonic() + 20
while ls and time.monotonic() < deadline:
    for s in select.select(ls, [], [], max(0, deadline - time.monotonic()))[0]:
        c, peer = s.accept()
        c.settimeout(5)
        msg = c.recv(200).decode()
        print(f"child:  got {msg!r} from {peer[0]}", flush=True)
        c.sendall(f"child at {c.getsockname()[0]} heard: {msg}".encode())
        c.close()
        ls.remove(s)
sys.exit(1 if ls else 0)
]]

-- client ADDR... PORT: dial each address (retrying while the server starts)
local CLIENT = [[
import socket, sys, time
port = int(sys.argv[-1])
ok = True
for a in sys.argv[1:-1]:
    deadline = time.monotonic() + 10
    while True:
        s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
        s.settimeout(2)
        try:
            s.connect((a, port))
            break
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(f"hello {a}".encode())
    reply = s.recv(200).decode()
    s.close()
    good = reply.endswith(f"heard: hello {a}")
    ok = ok and good
    print(f"parent: {a} replied {reply!r}", flush=True)
sys.exit(0 if ok else 1)
]]

local function argv(script, ...)
  local t = { table.unpack(PYTHON) }
  t[#t + 1] = script
  for _, a in ipairs { ... } do t[#t + 1] = a end
  return t
end

local function u32(a, b, c, d) return ((a << 24) | (b << 16) | (c << 8) | d) end

-- Does 10.231.x.y/30 overlap any IPv4 route of this namespace?
local function taken4(net30)
  for _, r in ipairs(assert(nl.routes())) do
    local a, b, c, d, n = tostring(r.dst):match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
    if a then
      n = math.min(tonumber(n), 30)
      local mask = n == 0 and 0 or (0xffffffff << (32 - n)) & 0xffffffff
      if (u32(tonumber(a), tonumber(b), tonumber(c), tonumber(d)) & mask) == (net30 & mask) then
        return true
      end
    end
  end
  return false
end

if proc.getuid() ~= 0 then
  io.stderr:write("tutorial-veth: needs root (a veth pair needs CAP_NET_ADMIN here)\n")
  return 1
end

-- addresses: a free /30 of 10.231.0.0/16 and a random fdXX::/64
math.randomseed(proc.getpid(), os.time())
local net30
for _ = 1, 64 do
  net30 = u32(10, 231, math.random(0, 255), math.random(0, 63) * 4)
  if not taken4(net30) then break end
  net30 = nil
end
if not net30 then
  io.stderr:write("tutorial-veth: no free /30 in 10.231.0.0/16\n")
  return 1
end
local pre4 = ("10.231.%d."):format((net30 >> 8) & 0xff)
local p4, c4 = pre4 .. ((net30 & 0xff) + 1), pre4 .. ((net30 & 0xff) + 2)
local pre6 = ("fd%02x:%x:%x::"):format(math.random(0, 255), math.random(0, 0xffff),
  math.random(0, 0xffff))
local p6, c6 = pre6 .. "1", pre6 .. "2"
local host_if = ("nslv%x"):format(math.random(0, 0xfffffff))
local child_if = "veth1"

local r, w = assert(proc.pipe())
io.stdout:flush()
io.stderr:flush()
local pid = assert(ns.clone { net = true })
if pid == 0 then
  w:close()
  -- wait until the parent has made the pair (or died: end of file)
  if proc.read(r, 1) ~= "x" then proc._exit(1) end
  local ok, err = nl.link_set("lo", { up = true })
  if ok then ok, err = nl.addr_add(child_if, c4 .. "/30") end
  -- IPv6 addresses get IFA_F_NODAD: usable at once, no DAD wait
  if ok then ok, err = nl.addr_add(child_if, c6 .. "/64") end
  if ok then ok, err = nl.link_set(child_if, { up = true }) end
  if not ok then
    io.stderr:write("child: ", err, "\n")
    proc._exit(1)
  end
  local names = {}
  for _, l in ipairs(nl.links() or {}) do names[#names + 1] = l.name end
  io.stdout:write(("child:  %s up with %s/30 and %s/64 (my namespace has: %s)\n")
    :format(child_if, c4, c6, table.concat(names, " ")))
  io.stdout:flush()
  proc.execv(argv(SERVER, c4, c6, tostring(PORT)))
  proc._exit(127)
end
r:close()

local function fail(msg)
  w:close()
  proc.kill(pid, 9)
  proc.waitpid(pid)
  nl.link_del(host_if)
  io.stderr:write("tutorial-veth: ", msg, "\n")
  return 1
end

-- one request: the pair, with its peer created inside the child's netns
local ok, err = nl.veth(host_if, child_if, { pid = pid })
if ok then ok, err = nl.addr_add(host_if, p4 .. "/30") end
if ok then ok, err = nl.addr_add(host_if, p6 .. "/64") end
if ok then ok, err = nl.link_set(host_if, { up = true }) end
if not ok then return fail(err) end
print(("parent: %s up with %s/30 and %s/64; its peer %s is in the child's namespace")
  :format(host_if, p4, p6, child_if))
proc.write(w, "x")
w:close()

io.stdout:flush()
local client = assert(ns.clone())
if client == 0 then
  proc.execv(argv(CLIENT, c4, c6, tostring(PORT)))
  proc._exit(127)
end
local _, chow, ccode = proc.waitpid(client)
local _, how, code = proc.waitpid(pid)
-- the child's namespace is gone, and with it both ends of the pair (the
-- kernel tears a namespace down asynchronously: allow it a moment)
local left = nl.link(host_if) ~= nil
for _ = 1, 100 do
  if not left then break end
  proc.poll({}, 20)
  left = nl.link(host_if) ~= nil
end
if left then nl.link_del(host_if) end
print(("parent: the child %s %d; %s is %s"):format(how, code, host_if,
  left and "STILL PRESENT" or "gone with the child's namespace"))
local good = chow == "exited" and ccode == 0 and how == "exited" and code == 0 and not left
print(good and "ok: parent and child talked TCP over the veth pair (IPv4 and IPv6)" or "FAILED")
return good and 0 or 1
