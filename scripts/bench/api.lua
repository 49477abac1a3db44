-- api.lua - nslua's Lua API in one long-lived process: N sandboxes in a loop.
--   lua5.4 api.lua TOP SCENARIO N [ROOT [pool]]
-- TOP is the tree holding lua/ and build/ (a 0755 copy for rootless S3);
-- bench.so (the clock) is looked up next to this script.
-- Prints "S2 api N runs T s R runs/s"; a failed run exits 1 with the
-- reason on stderr (the runner reports the cell as missing).
local top, scenario, n, root = arg[1], arg[2], math.tointeger(tonumber(arg[3] or "")), arg[4]
local use_pool = arg[5] == "pool"
if not (top and scenario and n) then
  io.stderr:write("usage: api.lua TOP S1..S5 N [ROOT]\n")
  os.exit(2)
end
package.path = top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;" .. package.path
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.cpath = top .. "/build/?.so;" .. dir .. "/?.so;" .. package.cpath
local bench = require "bench"  -- the clock; bench.so sits next to this script

local nslua = require "nslua"

local argv = { "/bin/true" }
local specs = {
  S1 = { argv = argv, user = "host", net = "host" },
  S2 = { argv = argv, user = "host" },
  S3 = { argv = argv },
  S4 = { argv = argv, user = "host", rootfs = root },
  S5 = { argv = argv, limits = { memory = "256M", pids = 64, time = 10 } },
}
local spec = assert(specs[scenario], "unknown scenario")

-- pool: the spec's cgroups and a network namespace made once (nslua.pool)
local pool
if use_pool then
  local base = {}
  for k, v in pairs(spec) do if k ~= "argv" then base[k] = v end end
  local err
  pool, err = nslua.pool(base)
  if not pool then
    io.stderr:write("api: pool: ", tostring(err), "\n")
    os.exit(1)
  end
end

local t0 = bench.now()
for run = 1, n do
  local report, err
  if pool then
    report, err = pool:run { argv = argv }
  else
    report, err = nslua.container(spec):run()
  end
  if not report or report.status ~= "exited" or report.exit_code ~= 0 then
    io.stderr:write(("api: run %d: %s\n"):format(run,
      report and ("status %s %s"):format(report.status, report.exit_code) or tostring(err)))
    os.exit(1)
  end
end
local dt = bench.now() - t0
if pool then pool:close() end
print(("%s api %d runs %.6f s %.1f runs/s"):format(scenario, n, dt, n / dt))
