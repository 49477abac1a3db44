-- Tutorial 1: the PID namespace.  A child in a new PID namespace sees itself
-- as PID 1 and its parent as PID 0; without the flag it sees its real
-- parent's pid.  Run: nslua tutorial-pid (exit 0 when both hold).
local core = require "nslua.core"
local ns, proc = core.ns, core.proc

-- Fork a child with 'flags'; it reports getpid() and getppid() over a pipe.
local function child_sees(flags)
  local r, w = assert(proc.pipe())
  io.stdout:flush()
  local pid = assert(ns.clone(flags))
  if pid == 0 then
    proc.write(w, ("%d %d"):format(proc.getpid(), proc.getppid()))
    proc._exit(0)
  end
  w:close()
  local out = assert(proc.read(r, 64))
  r:close()
  assert(proc.waitpid(pid))
  local cpid, cppid = out:match("^(%d+) (%d+)$")
  return tonumber(cpid), tonumber(cppid), pid
end

-- A user namespace lets an unprivileged caller create the PID namespace.
local rootless = proc.getuid() ~= 0
local me = proc.getpid()
local a, b = child_sees { pid = true, user = rootless }
print(("with CLONE_NEWPID:    child pid %d, parent pid %d"):format(a, b))
local c, d, host = child_sees {}
print(("without CLONE_NEWPID: child pid %d, parent pid %d (this process is %d, the child %d)")
  :format(c, d, me, host))
local ok = a == 1 and b == 0 and c == host and d == me
print(ok and "ok: the new namespace starts at PID 1 and hides its parent" or "FAILED")
return ok and 0 or 1
