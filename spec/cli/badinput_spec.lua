-- spec/cli/badinput_spec.lua - bad input ends in 125 with a message naming
-- the field, never an internal error or a traceback (DESIGN "Reports and
-- exit codes"): numbers out of range, a full fd table, unknown spec keys in
-- nested tables, recipes and hooks that fail, exit codes outside 0-255,
-- --report-fd checked before anything starts, a cgroup controller hidden
-- by a tmpfs, and an init killed from outside.
local helper = require "helper"
local cjson = require "cjson"

local N = helper.nslua
local q = helper.quote

-- The output of a bad input: exit 125, no traceback, the field named.
local function assert_bad(code, out, field)
  assert.equal(125, code, out)
  assert.not_matches("stack traceback", out, 1, true)
  assert.not_matches("internal error", out, 1, true)
  if field then assert.matches(field, out, 1, true) end
end

-- Write a recipe file in 'dir'; returns its path.
local function recipe(dir, name, text)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  return path
end

describe("bad input", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("numbers out of range exit 125 naming the option", function()
    for _, c in ipairs {
      { "--wall 1e300", "--wall: must be at most 2147483 seconds" },
      { "--time 1e18", "--time: must be at most 2147483 seconds" },
      { "--extra-time 1e300", "--extra-time: must be at most 2147483 seconds" },
      { "--wall nan", "--wall: must be a positive number" },
      { "--memory 99999999999999999999G", "--memory: invalid size" },
      { "--memory 9999999999999G", "--memory: invalid size" },
      { "--swap 1e400", "--swap: invalid size" },
      { "--pids 1e300", "--pids: must be at most 4194304" },
      { "--cpus 1e300", "--cpus: must be at most 65536" },
      { "--nofile 1e300", "--nofile:" },
      { "--rlimit fsize=99999999999999999999G", "--rlimit fsize: invalid size" },
      { "--uid 99999999999999999999", "--uid:" },
      { "--gid 1e300", "--gid:" },
      { "--tmpfs /x:99999999999999999999G", "--tmpfs /x: invalid size" },
    } do
      local _, out, code = helper.sh(("%s run %s -- /bin/true"):format(N, c[1]))
      assert_bad(code, out, c[2])
    end
  end)

  it("a spec's numbers out of range name the field", function()
    local r = recipe(dir, "big.lua", [[
      return { argv = { "/bin/true" }, limits = { wall = 1e300, time = 1e18,
        memory = "99999999999999999999G", rlimits = { nofile = 2^70 } } }]])
    local _, out, code = helper.sh(N .. " " .. q(r))
    assert_bad(code, out, "limits.wall: must be at most 2147483 seconds")
    assert.matches("limits.time: must be at most 2147483 seconds", out, 1, true)
    assert.matches("limits.memory: invalid size", out, 1, true)
    assert.matches("limits.rlimits.nofile:", out, 1, true)
  end)

  -- LeakSanitizer cannot scan a process whose fd table is full (it reads
  -- /proc): under make sanitize these runs check no leaks
  local N_FDS = helper.sanitized and (helper.san_env .. "ASAN_OPTIONS=detect_leaks=0 " .. helper.root
    .. "/scripts/nslua") or N

  it("a full fd table exits 0 or 125 with a message, never an internal error", function()
    -- from one free descriptor up: every place nslua opens one fails in turn
    for n = 4, 16 do
      local _, out, code = helper.sh(("ulimit -n %d; %s run -- /bin/true"):format(n, N_FDS))
      assert.not_matches("stack traceback", out, 1, true)
      assert.not_matches("internal error", out, 1, true)
      assert.is_true(code == 0 or code == 125, ("ulimit -n %d: exit %s: %s"):format(n, code, out))
      if code == 125 then assert.matches("[Tt]oo many open files", out, nil, false) end
    end
  end)

  it("a caller holding many fds gets 125 and a message, never a traceback", function()
    for free = 1, 8 do
      local _, out, code = helper.sh("bash -c " .. q(("ulimit -n 64; for ((i = 3; i < %d; i++)); do "
        .. "eval \"exec $i</dev/null\"; done; %s run -- /bin/true"):format(64 - free, N_FDS)))
      assert.not_matches("stack traceback", out, 1, true)
      assert.not_matches("internal error", out, 1, true)
      assert.is_true(code == 0 or code == 125, ("%d free: exit %s: %s"):format(free, code, out))
      if code == 125 then assert.matches("[Tt]oo many open files", out, nil, false) end
    end
  end)

  it("unknown keys in nested spec tables are named with their path", function()
    local r = recipe(dir, "keys.lua", [[
      return function() return {
        argv = { "/bin/true" }, bogus = 1,
        limits = { bogus = 1, rlimits = { bogus = 1 } },
        mounts = { { type = "tmpfs", target = "/x", bogus = 1 } },
        user = { bogus = 1 }, stdio = { bogus = 1 }, namespaces = { bogus = true },
        hooks = { bogus = function() end }, net = { veth = { bogus = 1 } },
      } end]])
    local _, out, code = helper.sh(N .. " " .. q(r))
    assert_bad(code, out)
    for _, field in ipairs { "bogus: unknown field", "limits.bogus: unknown field",
                             "limits.rlimits.bogus: unknown field", "mounts[1].bogus: unknown field",
                             "user.bogus: unknown field", "stdio.bogus: unknown field",
                             "namespaces.bogus: unknown namespace", "hooks.bogus: unknown hook",
                             "net.veth.bogus: unknown field" } do
      assert.matches(field, out, 1, true)
    end
    r = recipe(dir, "seccomp.lua", [[return { argv = { "/bin/true" }, seccomp = { bogus = 1 } }]])
    _, out, code = helper.sh(N .. " " .. q(r))
    assert_bad(code, out, "seccomp")
    assert.matches("bogus", out, 1, true)
  end)

  it("a recipe that errors exits 125 naming the file", function()
    for _, body in ipairs {
      'error("boom")',
      'error({})',
      'error(setmetatable({}, { __tostring = function() error("worse") end }))',
      'return function() error("boom") end',
      'return function() error(setmetatable({}, { __tostring = function() error("x") end })) end',
      'local x = nil; return x.y',
      'return "a string"',
    } do
      local r = recipe(dir, "err.lua", body)
      local _, out, code = helper.sh(N .. " " .. q(r))
      assert_bad(code, out, r)
    end
  end)

  it("a hook that raises anything is 125 with a message (found by make fuzz)", function()
    for _, hook in ipairs { "after_clone", "after_exit" } do
      for _, body in ipairs { 'error("boom")', "error({})",
                              'error(setmetatable({}, { __tostring = function() error("x") end }))' } do
        local r = recipe(dir, "raise.lua", ("return { argv = { '/bin/true' }, hooks = { %s = function() %s end } }")
          :format(hook, body))
        local _, out, code = helper.sh(N .. " " .. q(r))
        assert_bad(code, out, hook)
      end
    end
  end)

  it("an after_exit hook that errors exits 125 even when the command exited 0", function()
    local r = recipe(dir, "hook.lua", [[
      return { argv = { "/bin/true" }, hooks = { after_exit = function() error("hook boom") end } }]])
    local _, out, code = helper.sh(N .. " " .. q(r))
    assert_bad(code, out, "hook boom")
    assert.matches("after_exit", out, 1, true)
    assert.not_matches("set-up failed", out, 1, true)
  end)

  it("a recipe's exit code passes through when 0-255, else 125", function()
    for _, c in ipairs {
      { "os.exit(1000)", 125, "1000" }, { "os.exit(-1)", 125, "-1" }, { "os.exit(256)", 125, "256" },
      { "return 1000", 125, "1000" }, { "return -1", 125, "-1" }, { "return 2^40", 125 },
      { "os.exit(3)", 3 }, { "os.exit(255)", 255 }, { "os.exit(true)", 0 }, { "os.exit(false)", 1 },
      { "return 7", 7 }, { "return 255", 255 }, { "return 0", 0 },
      { "return function() return 300 end", 125, "300" },
      { "return function() os.exit(4000) end", 125, "4000" },
    } do
      local r = recipe(dir, "code.lua", c[1])
      local _, out, code = helper.sh(N .. " " .. q(r))
      if c[2] == 125 then
        assert_bad(code, out, c[3])
        assert.matches("0-255", out, 1, true)
      else
        assert.equal(c[2], code, c[1] .. ": " .. out)
      end
    end
  end)

  it("--report-fd is checked before anything starts", function()
    local marker = dir .. "/ran"
    local cmd = "/bin/sh -c " .. q("echo x > " .. marker)
    for _, c in ipairs {
      { "--report-fd 9", "--report-fd" },            -- closed
      { "--report-fd 0 < /dev/null", "--report-fd" }, -- open, read-only
      { "--json-status-fd 9", "--json-status-fd" },
      { "--report-fd -1", nil },
      { "--report-fd 1e300", "--report-fd" },
      { "--report-fd x", "--report-fd" },
    } do
      local opt, redirect = c[1]:match("^(.-)( <.*)$")
      opt = opt or c[1]
      local t = helper.track()
      local _, out, code = helper.sh(("%s run --bind %s %s -- %s%s"):format(N, dir, opt, cmd, redirect or ""))
      assert_bad(code, out, c[2])
      assert.is_false(helper.exists(marker), opt .. ": the command ran")
      -- no container object: not even an id was taken
      assert.same({}, helper.ids(t), opt)
    end
    -- a writable fd works
    local _, out, code = helper.sh(("%s run --report-fd 3 -- /bin/true 3> %s/r.json"):format(N, dir))
    assert.equal(0, code, out)
    assert.equal("exited", cjson.decode(helper.read(dir .. "/r.json")).status)
    -- --report -: stdout, after the command's own output, and no file named "-"
    _, out, code = helper.sh(("cd %s && %s run --report - -- /bin/echo hi"):format(q(dir), N))
    assert.equal(0, code, out)
    local said, json = out:match("^(hi\n)(%b{})\n$")
    assert.equal("hi\n", said, out)
    assert.equal("exited", cjson.decode(json).status)
    assert.is_false(helper.exists(dir .. "/-"))
  end)

  it("a tmpfs over a cgroup controller fails only the limits that need it #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local cgroup = require "nslua.cgroup"
    local layout = assert(cgroup.detect())
    local h = layout.controllers.pids
    if not h then return pending("no pids controller") end
    local script = table.concat({
      "mount -t tmpfs nslua-spec " .. q(h.mount),
      N .. " run -- /bin/true; echo rc-none=$?",
      N .. " run --pids 10 -- /bin/true; echo rc-pids=$?",
      N .. " run --memory 64M -- /bin/true; echo rc-memory=$?",
    }, "\n")
    local _, out = helper.sh("unshare -m --propagation private sh -c " .. q(script))
    assert.matches("rc-none=0", out, 1, true)
    assert.matches("rc-pids=125", out, 1, true)
    assert.matches("controller 'pids' is not available (limits.pids needs it)", out, 1, true)
    if layout.controllers.memory and layout.controllers.memory ~= h then
      assert.matches("rc-memory=0", out, 1, true)
    end
    assert.not_matches("stack traceback", out, 1, true)
    assert.not_matches("internal error", out, 1, true)
  end)

  it("an init killed by SIGKILL is a signaled report, exit 137 #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local name = ("badinput-kill-%d"):format(math.random(1 << 30))
    local script = table.concat({
      ("%s run --name %s --report %s/r.json -- /bin/sleep 30 > %s/out 2>&1 &"):format(N, name, dir, dir),
      "nslua=$!",
      -- the init of our own container: the record with our name
      ("for i in $(seq 100); do pid=$(%s ps --json | %s -e %s); [ -n \"$pid\" ] && break; sleep 0.1; done")
        :format(N, helper.LUA, q(([[
          local t = require("cjson").decode(io.read("a"))
          for _, c in ipairs(t) do
            if c.name == %q and c.alive then io.write(c.init_pid) end
          end]]):format(name))),
      "kill -9 $pid",
      "wait $nslua; echo rc=$?",
    }, "\n")
    local _, out = helper.sh(script)
    local log = helper.read(dir .. "/out") or ""
    assert.matches("rc=137", out, 1, true)
    assert.not_matches("set-up failed", log, 1, true)
    assert.not_matches("stack traceback", log, 1, true)
    local rep = cjson.decode(helper.read(dir .. "/r.json"))
    assert.equal("signaled", rep.status)
    assert.equal(9, rep.signal)
    assert.equal("init", rep.error.step)
  end)
end)
