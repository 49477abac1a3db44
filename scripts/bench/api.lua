-- api.lua - nslua's Lua API in one long-lived process: N sandboxes in a loop.
--   lua5.4 api.lua TOP SCENARIO N [ROOT [pool|poolmem]]
-- TOP is the tree holding lua/ and build/ (a 0755 copy for rootless S3);
-- bench.so (the clock) is looked up next to this script.
-- Prints "S2 api N runs T s R runs/s"; a failed run exits 1 with the
-- reason on stderr (the runner reports the cell as missing).  poolmem: a
-- pool's N runs (issue 18: a pool of 1,000 runs grows by less than 256
-- KiB), printed as "S5 poolmem N runs rss A B C heap D E": this process's
-- resident set (VmRSS, KiB) after the first run, after run WARM (100, or
-- N) and after the last, and the Lua heap (KiB) after a full collection
-- at run WARM and after the last.  Until WARM the collector's headroom
-- grows (the heap doubles before a major collection); what grows after it
-- is what the runs keep.
local top, scenario, n, root = arg[1], arg[2], math.tointeger(tonumber(arg[3] or "")), arg[4]
local use_pool = arg[5] == "pool" or arg[5] == "poolmem"
local poolmem = arg[5] == "poolmem"

local function rss_kb()
  local f = io.open("/proc/self/status")
  local s = f and f:read("a") or ""
  if f then f:close() end
  return tonumber(s:match("VmRSS:%s*(%d+) kB"))
end
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

local WARM <const> = math.min(100, n)
local t0 = bench.now()
local rss_first, rss_warm, heap_warm
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
  if poolmem and run == 1 then rss_first = rss_kb() end
  if poolmem and run == WARM then
    rss_warm = rss_kb()
    collectgarbage("collect")
    heap_warm = collectgarbage("count")
  end
end
local dt = bench.now() - t0
if poolmem then
  local rss_last = rss_kb()
  collectgarbage("collect")
  print(("%s poolmem %d runs rss %d %d %d heap %.0f %.0f"):format(scenario, n, rss_first or -1,
    rss_warm or -1, rss_last or -1, heap_warm, collectgarbage("count")))
end
if pool then pool:close() end
if poolmem then os.exit(0) end
print(("%s api %d runs %.6f s %.1f runs/s"):format(scenario, n, dt, n / dt))
