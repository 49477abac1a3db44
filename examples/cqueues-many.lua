#!/usr/bin/env lua5.4
-- cqueues-many.lua - ten containers driven from one cqueues controller.
-- From a checkout, after `make`, as root:  lua5.4 examples/cqueues-many.lua
-- One coroutine per container waits for its fileno() with cqueues.poll and
-- calls step(); another kills container 3 after 200 ms, container 10 has a
-- wall limit, and a 10 ms ticker shows the loop never blocks.
local top = (arg and arg[0] or ""):match("^(.-)/?examples/[^/]+$") or "."
top = top == "" and "." or top
package.path = top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;" .. package.path
package.cpath = top .. "/build/?.so;" .. package.cpath

local cqueues = require "cqueues"
local nslua = require "nslua"

local N = 10
local cs, reports, left = {}, {}, N
for i = 1, N do
  local spec = { argv = { "/bin/sh", "-c", ("sleep 0.3; exit %d"):format(i) } }
  if i == 3 then spec.argv = { "/bin/sleep", "10" } end      -- killed below
  if i == 10 then
    spec.argv = { "/bin/sleep", "10" }
    spec.limits = { wall = 0.5 }                             -- ended by nslua
  end
  local c = nslua.container(spec)
  assert(c:start())
  cs[i] = c
end

-- cqueues.poll takes objects with pollfd and events (a bare number would
-- be a timeout)
local function readable(fd)
  return { pollfd = function() return fd end, events = function() return "r" end }
end

local cq = cqueues.new()
local ticks = 0
cq:wrap(function()
  while left > 0 do
    cqueues.sleep(0.01)
    ticks = ticks + 1
  end
end)
for i, c in ipairs(cs) do
  local fd = c:fileno()
  local watch = readable(fd)
  cq:wrap(function()
    local rep
    repeat
      cqueues.poll(watch)
      rep = c:step()
    until rep
    -- the container has ended (its fd stays open, never readable again,
    -- until close): make every controller forget the fd, then close
    cqueues.cancel(fd)
    c:close()
    reports[i], left = rep, left - 1
  end)
end
cq:wrap(function()
  cqueues.sleep(0.2)
  assert(cs[3]:kill(9))
end)

assert(cq:loop())

for i = 1, N do
  local r = reports[i]
  print(("container %2d: %-10s exit %s signal %s wall %.2f s"):format(i, r.status,
    tostring(r.exit_code), tostring(r.signal), r.wall_s))
end
print(("ticks: %d"):format(ticks))
