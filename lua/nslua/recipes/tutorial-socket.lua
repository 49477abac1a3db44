-- Tutorial 5: the init + unshare pattern.  A child is created, a UNIX
-- socket pair joins it to the parent, then the child unshares its network
-- and mount namespaces; both still exchange messages over the socket.
-- Run: nslua tutorial-socket
local core = require "nslua.core"
local ns, proc = core.ns, core.proc

local a, b = assert(proc.socketpair())
io.stdout:flush()
local pid = assert(ns.clone())
if pid == 0 then
  a:close()
  local rootless = proc.getuid() ~= 0
  local before = ns.id(0, "net")
  local ok, err = ns.unshare { net = true, mnt = true, user = rootless }
  if not ok then
    proc.write(b, "unshare failed: " .. err)
    proc._exit(1)
  end
  local moved = ns.id(0, "net") ~= before
  local msg = proc.read(b, 256)
  proc.write(b, ("child (in %s netns) got '%s'"):format(moved and "a new" or "the SAME", msg))
  proc._exit(moved and 0 or 1)
end
b:close()
proc.write(a, "hello from the parent")
local reply = assert(proc.read(a, 256))
a:close()
local _, how, code = assert(proc.waitpid(pid))
print("parent got: " .. reply)
local ok = how == "exited" and code == 0 and reply:find("got 'hello from the parent'", 1, true) ~= nil
print(ok and "ok: the socket pair outlives the child's unshare" or "FAILED")
return ok and 0 or 1
