-- Containers driven from real event loops (Container:fileno, :step): ten
-- at once in a luv loop and in a cqueues controller, as root and rootless,
-- plus the two scripts of examples/ that docs/api.md shows.  Each run
-- checks the loop kept turning (a 10 ms ticker), the exit codes, a kill
-- from a loop timer, a wall limit held while the caller only sat in the
-- loop, that the fd is quiet after the report and gone after close(), and
-- that the host holds nothing new.
local helper = require "helper"

local q = helper.quote

local function have(mod)
  return (helper.sh(("lua5.4 -e %s"):format(q(("require %q"):format(mod)))))
end
local HAVE = { luv = have("luv"), cqueues = have("cqueues") }

-- What both loops run: ten containers, 1..9 exit i after 0.3 s, 3 is killed
-- by the loop after 200 ms, 10 has a 0.5 s wall limit.  LOOP(cs, done)
-- drives them (done(i, report) for each) and returns the ticks of a 10 ms
-- timer.  Prints one line a container, the ticks, and the fds left open.
local COMMON = [[
local nslua = require "nslua"
local proc = require("nslua.core").proc
io.stdout:setvbuf("line")
-- our open fds, as {fd = target} (listed by a child: no pipe of ours open)
local list = os.tmpname()
local function fds()
  assert(os.execute(("ls -l /proc/%d/fd > %s"):format(proc.getpid(), list)))
  local n = {}
  for l in io.lines(list) do
    local fd, to = l:match("(%d+) %-> (.*)")
    if fd then n[fd] = to end
  end
  return n
end
local before = fds()
local N, cs, reps, quiet = 10, {}, {}, {}
for i = 1, N do
  local spec = { argv = { "/bin/sh", "-c", ("sleep 0.3; exit %d"):format(i) } }
  if i == 3 then spec.argv = { "/bin/sleep", "10" } end
  if i == 10 then spec.argv, spec.limits = { "/bin/sleep", "10" }, { wall = 0.5 } end
  cs[i] = nslua.container(spec)
  assert(cs[i]:start())
end
local t0 = proc.now()
local function done(i, rep)
  reps[i] = rep
  -- after the report the fd is open and never readable, until close()
  local fd = cs[i]:fileno()
  quiet[i] = proc.poll({ { fd = fd, events = { ["in"] = true } } }, 0) == 0
end
local ticks = LOOP(cs, done)
for i = 1, N do
  local r = reps[i]
  print("C", i, r.status, r.exit_code or "-", r.signal or "-", quiet[i],
    ("%.2f"):format(r.wall_s))
end
print("TICKS", ticks, ("%.2f"):format(proc.now() - t0))
for fd, to in pairs(fds()) do
  if before[fd] ~= to then print("NEWFD", fd, to) end
end
os.remove(list)
]]

local LUV = [[
local uv = require "luv"
uv.run("nowait")   -- libuv's own fds, before COMMON lists ours
function LOOP(cs, done)
  uv.update_time()
  local ticks, left = 0, #cs
  local ticker = uv.new_timer()
  ticker:start(10, 10, function() ticks = ticks + 1 end)
  for i, c in ipairs(cs) do
    local poll = uv.new_poll(c:fileno())
    poll:start("r", function(err)
      assert(not err, err)
      local rep = c:step()
      if rep then
        poll:stop()
        poll:close()
        done(i, rep)
        c:close()
        left = left - 1
        if left == 0 then ticker:stop() ticker:close() end
      end
    end)
  end
  local killer = uv.new_timer()
  killer:start(200, 0, function() assert(cs[3]:kill(9)) killer:close() end)
  uv.run()
  return ticks
end
]]

local CQUEUES = [[
local cqueues = require "cqueues"
local cq = cqueues.new()   -- the controller's own fds, before COMMON lists ours
assert(cq:step(0))
function LOOP(cs, done)
  local ticks, left = 0, #cs
  cq:wrap(function()
    while left > 0 do
      cqueues.sleep(0.01)
      ticks = ticks + 1
    end
  end)
  for i, c in ipairs(cs) do
    local fd = c:fileno()
    local watch = { pollfd = function() return fd end, events = function() return "r" end }
    cq:wrap(function()
      local rep
      repeat
        cqueues.poll(watch)
        rep = c:step()
      until rep
      cqueues.cancel(fd)
      done(i, rep)
      c:close()
      left = left - 1
    end)
  end
  cq:wrap(function()
    cqueues.sleep(0.2)
    assert(cs[3]:kill(9))
  end)
  assert(cq:loop())
  return ticks
end
]]

-- The checks of COMMON's output.
local function check(ok, out)
  assert.is_true(ok, out)
  for i = 1, 9 do
    if i ~= 3 then
      local st, code, quiet, wall = out:match("\nC\t" .. i .. "\t(%S+)\t(%S+)\t%S+\t(%S+)\t(%S+)")
      if not st then st, code, quiet, wall = out:match("^C\t" .. i .. "\t(%S+)\t(%S+)\t%S+\t(%S+)\t(%S+)") end
      assert.equals("exited", st, out)
      assert.equals(tostring(i), code, out)
      assert.equals("true", quiet, out)
      assert.is_true(tonumber(wall) >= 0.3 and tonumber(wall) < 2, out)
    end
  end
  -- the loop's kill, and the wall limit nslua held while the loop ran
  assert.matches("\nC\t3\tsignaled\t%-\t9\ttrue\t", out)
  local wall = out:match("\nC\t10\twall%-limit\t%-\t9\ttrue\t(%S+)")
  assert.is_truthy(wall, out)
  assert.is_true(tonumber(wall) >= 0.5 and tonumber(wall) < 1.5, out)
  -- the loop was never blocked: the ticker ran through (about 50 ticks in
  -- 0.5 s; a loop blocked in one container's wait would show almost none)
  local ticks, took = out:match("\nTICKS\t(%d+)\t(%S+)")
  assert.is_truthy(ticks, out)
  assert.is_true(tonumber(ticks) >= 20, out)
  assert.is_true(tonumber(took) < 2, out)
  -- close() closed every fd of the containers (epoll and timer included)
  assert.is_nil(out:match("NEWFD[^\n]*"), out)
end

describe("event loops (fileno, step)", function()
  local t
  before_each(function()
    t = helper.track()
  end)
  after_each(function()
    helper.assert_released(t)
  end)

  for _, loop in ipairs { { "luv", LUV }, { "cqueues", CQUEUES } } do
    local name, code = loop[1], loop[2]
    local missing = name .. " is not installed (scripts/deps.sh installs lua-" .. name .. ")"

    it("drives ten containers from a " .. name .. " loop as root", function()
      if not HAVE[name] then return pending(missing) end
      if not helper.is_root() then return pending("needs root") end
      check(helper.run_isolated(code .. COMMON))
    end)

    it("drives ten containers from a " .. name .. " loop rootless", function()
      if not HAVE[name] then return pending(missing) end
      if helper.sanitized then
        return pending("rootless runs use env -i: the sanitizer build needs LD_PRELOAD")
      end
      check(helper.run_rootless(code .. COMMON))
    end)

    it("runs examples/" .. name .. "-many.lua as docs/api.md shows it", function()
      if not HAVE[name] then return pending(missing) end
      if not helper.is_root() then return pending("needs root") end
      -- from another directory: the script finds the checkout itself
      local ok, out = helper.sh(("cd /tmp && %s %s"):format(helper.LUA,
        q(helper.root .. "/examples/" .. name .. "-many.lua")))
      assert.is_true(ok, out)
      for i = 1, 9 do
        if i ~= 3 then
          assert.matches(("container %2d: exited     exit %d signal nil"):format(i, i), out, 1, true)
        end
      end
      assert.matches("container  3: signaled   exit nil signal 9", out, 1, true)
      assert.matches("container 10: wall-limit exit nil signal 9", out, 1, true)
      local ticks = out:match("ticks: (%d+)")
      assert.is_true(tonumber(ticks) >= 20, out)
    end)
  end
end)
