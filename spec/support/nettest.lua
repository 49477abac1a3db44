-- spec/support/nettest.lua - support for network specs, loaded inside a
-- helper.run_isolated child (require "support.nettest").  M.isolate() moves
-- that child into a private network namespace first: nothing here may ever
-- touch the machine's real interfaces.
local core = require "nslua.core"
local ns, proc = core.ns, core.proc

local M = {}

-- Unshare the network namespace of this (isolated) process.
function M.isolate()
  assert(ns.unshare{ net = true })
  return core
end

function M.sh(cmd)
  local f = assert(io.popen("exec 2>&1; " .. cmd, "r"))
  local out = f:read("a")
  local ok, _, code = f:close()
  return out, ok and 0 or code
end

function M.self_pid()
  local f = assert(io.open("/proc/self/stat"))
  local pid = tonumber(f:read("a"):match("^(%d+)"))
  f:close()
  return pid
end

-- Exact equality with a readable failure.
function M.eq(want, got, what)
  if want ~= got then
    error(("%s: expected %s, got %s"):format(what or "value", tostring(want), tostring(got)), 2)
  end
end

-- f() must raise exactly 'msg'.
function M.raises(msg, f)
  local ok, err = pcall(f)
  if ok then error("expected an error: " .. msg, 2) end
  -- as luassert's has_error: compare without the "file:line: " prefix
  err = tostring(err):gsub("^.-:%d+: ", "", 1)
  if err ~= msg then
    error(("wrong error:\n  want %s\n  got  %s"):format(msg, tostring(err)), 2)
  end
end

-- A failure triple nil, msg, errno with msg matching 'pattern'.
function M.fails(pattern, code, v, msg, err)
  if v ~= nil then error("expected a failure, got " .. tostring(v), 2) end
  if not tostring(msg):match(pattern) then
    error(("message %q does not match %q"):format(tostring(msg), pattern), 2)
  end
  if err ~= code then
    error(("errno: expected %d, got %s (%s)"):format(code, tostring(err), msg), 2)
  end
end

-- The spec's temp dir (it removes the dir when the child is done).
local tmp
function M.use_tmpdir(dir)
  tmp = dir
end

function M.tmpdir()
  return assert(tmp, "nettest: no temp dir (T.use_tmpdir)")
end

-- Named pipes: M.wait(name) blocks until M.signal(name).
function M.fifo(name)
  local path = M.tmpdir() .. "/" .. name
  assert(os.execute("mkfifo '" .. path .. "'"))
  return path
end

function M.signal(path, msg)
  local f = assert(io.open(path, "w"))
  f:write((msg or "go") .. "\n")
  f:close()
end

function M.wait(path)
  local f = assert(io.open(path, "r"))
  local line = f:read("l")
  f:close()
  return line
end

-- Fork a child in a new network namespace running fn(); it leaves
-- through proc._exit (0 when fn returned, 1 when it raised).
function M.spawn(fn)
  io.stdout:flush()
  io.stderr:flush()
  local parent = proc.getpid()
  local pid = assert(ns.clone{ net = true })
  if pid == 0 then
    -- die with the test process: a failed test must not leave us blocked on a fifo
    proc.prctl("pdeathsig", 9)
    if proc.getppid() ~= parent then proc._exit(1) end
    local ok, err = pcall(fn)
    if not ok then io.stderr:write("child: ", tostring(err), "\n") end
    io.stdout:flush()
    io.stderr:flush()
    proc._exit(ok and 0 or 1)
  end
  return pid
end

function M.reap(pid)
  local p, how, code = proc.waitpid(pid)
  assert(p == pid, "waitpid failed")
  M.eq("exited 0", how .. " " .. code, "child " .. pid)
end

-- The inode of a process's network namespace.
function M.netns_inode(pid)
  return (M.sh("stat -L -c %i /proc/" .. pid .. "/ns/net"):match("%d+"))
end

-- Does any process still hold the netns with this inode?
function M.netns_alive(inode)
  local out = M.sh("ls -l /proc/[0-9]*/ns/net 2>/dev/null")
  return out:find("net:[" .. inode .. "]", 1, true) ~= nil
end

-- An open descriptor of pid's netns: (handle that keeps it open, fd number).
-- Uses ns.open when the core has it; else io.open plus /proc/self/fd.
function M.netns_fd(pid)
  if ns.open then
    local box = assert(ns.open(pid, "net"))
    return box, box:fileno()
  end
  local want = "net:[" .. M.netns_inode(pid) .. "]"
  local f = assert(io.open("/proc/" .. pid .. "/ns/net", "r"))
  local out = M.sh("ls -l /proc/" .. M.self_pid() .. "/fd")
  for n, target in out:gmatch("(%d+) %-> (%S+)") do
    if target == want then return f, tonumber(n) end
  end
  error("netns fd not found")
end

-- Names of the links in the caller's netns, as `ip` sees them.
function M.ip_links()
  local out = M.sh("ip -o link show")
  local names = {}
  for line in out:gmatch("[^\n]+") do
    names[#names + 1] = line:match("^%d+: ([^:@]+)")
  end
  table.sort(names)
  return table.concat(names, " ")
end

local SERVER = [[
import socket, sys
port = int(sys.argv[1])
socks = []
for fam, addr in ((socket.AF_INET, sys.argv[2]), (socket.AF_INET6, sys.argv[3])):
    if addr == "-":
        continue
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1)
    s.settimeout(15)
    socks.append(s)
for s in socks:
    c, peer = s.accept()
    c.settimeout(10)
    data = c.recv(100)
    c.sendall(b"echo:" + data)
    c.close()
    s.close()
]]

local CLIENT = [[
import socket, sys, time
port = int(sys.argv[1])
for fam, addr in ((socket.AF_INET, sys.argv[2]), (socket.AF_INET6, sys.argv[3])):
    if addr == "-":
        continue
    deadline = time.time() + 10
    while True:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((addr, port))
            break
        except OSError:
            s.close()
            if time.time() > deadline:
                raise
            time.sleep(0.05)
    s.sendall(b"hi " + addr.encode())
    print(s.recv(100).decode())
    s.close()
]]

-- (named by pid: a forked child shares the parent's math.random state)
local function py(script, port, a4, a6)
  local file = ("%s/py-%d-%d.py"):format(M.tmpdir(), M.self_pid(), #script)
  local f = assert(io.open(file, "w"))
  f:write(script)
  f:close()
  -- payloads run without the sanitizer runtime `make sanitize` preloads
  return ("env -u LD_PRELOAD timeout 25 python3 %s %d %s %s"):format(file, port, a4, a6 or "-")
end

-- Serve one v4 and one v6 TCP connection (blocks; a6 nil: v4 only);
-- returns output, rc.
function M.tcp_serve(port, a4, a6)
  return M.sh(py(SERVER, port, a4, a6))
end

-- Connect to both; returns the two echoes (one per line) and rc.
function M.tcp_connect(port, a4, a6)
  return M.sh(py(CLIENT, port, a4, a6))
end

return M
