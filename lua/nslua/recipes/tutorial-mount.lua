-- Tutorial 3: the mount namespace.  An "init" child (new PID and mount
-- namespaces) mounts a fresh /proc and a tmpfs; both show in its own
-- mountinfo and in neither of the parent's.  Run: nslua tutorial-mount
local core = require "nslua.core"
local ns, proc, mount = core.ns, core.proc, core.mount

local function mountinfo()
  local f = assert(io.open("/proc/self/mountinfo"))
  local s = f:read("a")
  f:close()
  return s
end

local dir = ("/tmp/nslua-tutorial-%d"):format(proc.getpid())
assert(mount.mkdir(dir, 448))
local r, w = assert(proc.pipe())
io.stdout:flush()
local pid = assert(ns.clone { mnt = true, pid = true, user = proc.getuid() ~= 0 })
if pid == 0 then
  -- no mount event may propagate back to the parent's namespace
  local ok = mount.mount(nil, "/", nil, { rec = true, private = true })
    and mount.mount("proc", "/proc", "proc", { nosuid = true, nodev = true, noexec = true })
    and mount.mount("tmpfs", dir, "tmpfs", { nosuid = true, nodev = true }, "size=1m")
  local mi = mountinfo()
  -- in the fresh /proc of the new PID namespace, the child itself is PID 1
  local seen = (mi:find(" " .. dir .. " ", 1, true) and "tmpfs" or "-") .. " " ..
    (ok and mount.readlink("/proc/self") == "1" and "proc" or "-")
  proc.write(w, seen)
  proc._exit(0)
end
w:close()
local inside = assert(proc.read(r, 256))
r:close()
assert(proc.waitpid(pid))
local parent_sees = mountinfo():find(" " .. dir .. " ", 1, true) ~= nil
assert(mount.rmdir(dir))
print("child mounted: " .. inside)
print("parent sees the tmpfs: " .. tostring(parent_sees))
local ok = inside == "tmpfs proc" and not parent_sees
print(ok and "ok: the child's mounts stay in its namespace" or "FAILED")
return ok and 0 or 1
