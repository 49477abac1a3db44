-- best.lua - the Lua best case: lua5.4 plus the bench module running the
-- limit's own code, the cheapest possible Lua CLI (or API loop, with -n).
--   lua5.4 best.lua S2 [-p] [-r ROOT] [-n N]
-- bench.so is looked up next to this script first.
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
package.cpath = dir .. "/?.so;" .. package.cpath
local bench = require "bench"

local scenario, opts, n = arg[1], {}, nil
local i = 2
while arg[i] do
  local a = arg[i]
  if a == "-p" then opts.structure = true
  elseif a == "-r" then i = i + 1; opts.root = arg[i]
  elseif a == "-n" then i = i + 1; n = math.tointeger(tonumber(arg[i]))
  else io.stderr:write("usage: best.lua S1..S5 [-p] [-r ROOT] [-n N]\n"); os.exit(2) end
  i = i + 1
end

if not n then
  local how, code = bench.run(scenario, opts)
  if not how then io.stderr:write("best: ", code, "\n"); os.exit(125) end
  os.exit(how == "exited" and code or 128 + code)
end

local t0 = bench.now()
for run = 1, n do
  local how, code = bench.run(scenario, opts)
  if how ~= "exited" or code ~= 0 then
    io.stderr:write(("best: run %d: %s %s\n"):format(run, how or "error", code))
    os.exit(1)
  end
end
local dt = bench.now() - t0
print(("%s %s %d runs %.6f s %.1f runs/s"):format(scenario,
  opts.structure and "structure" or "direct", n, dt, n / dt))
