#!/usr/bin/env lua5.4
-- luv-many.lua - ten containers driven from one libuv loop (luv).
-- From a checkout, after `make`, as root:  lua5.4 examples/luv-many.lua
-- Each container's fileno() is watched with a uv poll handle whose callback
-- calls step(); a uv timer kills container 3 after 200 ms, container 10 has
-- a wall limit, and a 10 ms ticker shows the loop never blocks.
local top = (arg and arg[0] or ""):match("^(.-)/?examples/[^/]+$") or "."
top = top == "" and "." or top
package.path = top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;" .. package.path
package.cpath = top .. "/build/?.so;" .. package.cpath

local uv = require "luv"
local nslua = require "nslua"

local N = 10
local cs, reports, left = {}, {}, N
for i = 1, N do
  local spec = { argv = { "/bin/sh", "-c", ("sleep 0.3; exit %d"):format(i) } }
  if i == 3 then spec.argv = { "/bin/sleep", "10" } end      -- killed by the timer
  if i == 10 then
    spec.argv = { "/bin/sleep", "10" }
    spec.limits = { wall = 0.5 }                             -- ended by nslua
  end
  local c = nslua.container(spec)
  assert(c:start())
  cs[i] = c
end

-- libuv's clock is the loop's cached time: bring it to now, or the timers
-- below would count from when luv was loaded
uv.update_time()
local ticks = 0
local ticker = uv.new_timer()
ticker:start(10, 10, function() ticks = ticks + 1 end)

for i, c in ipairs(cs) do
  local poll = uv.new_poll(c:fileno())
  poll:start("r", function(err)
    assert(not err, err)
    local rep = c:step()
    if rep then
      -- the container has ended (its fd stays open, never readable again,
      -- until close): stop watching the fd, then close the container
      poll:stop()
      poll:close()
      c:close()
      reports[i], left = rep, left - 1
      if left == 0 then
        ticker:stop()
        ticker:close()
      end
    end
  end)
end

local killer = uv.new_timer()
killer:start(200, 0, function()
  assert(cs[3]:kill(9))
  killer:close()
end)

uv.run()

for i = 1, N do
  local r = reports[i]
  print(("container %2d: %-10s exit %s signal %s wall %.2f s"):format(i, r.status,
    tostring(r.exit_code), tostring(r.signal), r.wall_s))
end
print(("ticks: %d"):format(ticks))
