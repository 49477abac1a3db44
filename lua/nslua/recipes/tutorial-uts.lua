-- Tutorial 4: the UTS namespace.  The child changes its hostname and prints
-- it; the parent's hostname is unchanged.  Run: nslua tutorial-uts
local core = require "nslua.core"
local ns, proc = core.ns, core.proc

local function hostname()
  local f = assert(io.open("/proc/sys/kernel/hostname"))
  local s = f:read("l")
  f:close()
  return s
end

local before = hostname()
local r, w = assert(proc.pipe())
io.stdout:flush()
local pid = assert(ns.clone { uts = true, user = proc.getuid() ~= 0 })
if pid == 0 then
  local ok, err = ns.sethostname("nslua-tutorial")
  proc.write(w, ok and hostname() or err)
  proc._exit(0)
end
w:close()
local inside = assert(proc.read(r, 256))
r:close()
assert(proc.waitpid(pid))
local after = hostname()
print("child's hostname:  " .. inside)
print("parent's hostname: " .. after)
local ok = inside == "nslua-tutorial" and after == before
print(ok and "ok: the hostname changed only in the child's namespace" or "FAILED")
return ok and 0 or 1
