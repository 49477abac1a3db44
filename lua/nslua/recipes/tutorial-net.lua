-- Tutorial 2: the network namespace.  A child in a new network namespace
-- sees only lo, and it is DOWN; the parent sees its own interfaces.  Links
-- are read through rtnetlink, not by running `ip`.  Run: nslua tutorial-net
local core = require "nslua.core"
local ns, proc, netlink = core.ns, core.proc, core.netlink

local function describe(links)
  local t = {}
  for _, l in ipairs(links) do t[#t + 1] = ("%s(%s)"):format(l.name, l.up and "UP" or "DOWN") end
  return table.concat(t, " ")
end

local r, w = assert(proc.pipe())
io.stdout:flush()
local pid = assert(ns.clone { net = true, user = proc.getuid() ~= 0 })
if pid == 0 then
  local links = netlink.links()
  proc.write(w, links and describe(links) or "error")
  proc._exit(0)
end
w:close()
local inside = assert(proc.read(r, 4096))
r:close()
assert(proc.waitpid(pid))
local outside = describe(assert(netlink.links()))
print("child sees:  " .. inside)
print("parent sees: " .. outside)
local ok = inside == "lo(DOWN)" and outside ~= inside
print(ok and "ok: the child's namespace has only lo, down" or "FAILED")
return ok and 0 or 1
