-- A time namespace of the sandbox's own (namespaces.time, time_offsets):
-- the command is in a new one, sees the offsets on its clocks, and the
-- limits and reports nslua keeps in its own clock are not moved by them.
local helper = require "helper"

local function api(code, prefix)
  return helper.run_isolated("local nslua = require 'nslua'\n" .. code, prefix)
end

-- the precondition: this kernel has time namespaces (5.6+)
local function has_timens()
  return helper.exists("/proc/self/ns/time")
end

local PROBE = [[readlink /proc/self/ns/time; cat /proc/self/timens_offsets; cut -d' ' -f1 /proc/uptime]]

describe("a time namespace", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  it("is the command's own, with no offsets unless asked", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    local ok, out = api(([[
      local host = require("nslua.core").mount.readlink("/proc/self/ns/time")
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c", %q }, namespaces = { time = true },
                                        stdio = { stdout = "inherit" } }:run())
      print(host, r.status)
    ]]):format(PROBE))
    assert.is_true(ok, out)
    local mine, mono, boot, host = out:match("^(time:%[%d+%])\nmonotonic%s+(%S+%s+%S+)\nboottime%s+(%S+%s+%S+)\n"
      .. "[%d.]+\n(time:%[%d+%])\texited\n$")
    assert.is_truthy(mine, out)
    assert.not_equal(host, mine)
    assert.equal("0 0", (mono:gsub("%s+", " ")))
    assert.equal("0 0", (boot:gsub("%s+", " ")))
  end)

  it("carries time_offsets: the command's clocks move, not the host's", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    local ok, out = api(([[
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c", %q }, namespaces = { time = true },
        time_offsets = { monotonic = 1000000.5, boottime = { secs = 86400, nanosecs = 7 } },
        stdio = { stdout = "inherit" } }:run())
      local f = io.open("/proc/uptime")
      print(r.status, f:read("n"))
      f:close()
    ]]):format(PROBE))
    assert.is_true(ok, out)
    local mono, boot, up, status, host = out:match("monotonic%s+(%S+%s+%S+)\nboottime%s+(%S+%s+%S+)\n"
      .. "([%d.]+)\n(%S+)\t([%d.]+)\n$")
    assert.is_truthy(mono, out)
    assert.equal("1000000 500000000", (mono:gsub("%s+", " ")))
    assert.equal("86400 7", (boot:gsub("%s+", " ")))
    assert.equal("exited", status)
    -- (uptime reads CLOCK_BOOTTIME: a day ahead inside)
    assert.is_true(math.abs(tonumber(up) - tonumber(host) - 86400) < 5, out)
  end)

  -- The wall limit and wall_s are kept in nslua's own clock, from the
  -- command's start as the sandbox reads it: an offset in either direction
  -- must neither let the command run on nor kill it early.
  it("keeps the wall limit and wall_s whatever the monotonic offset", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    local ok, out = api([[
      for _, off in ipairs { 1000000, -5, 0 } do
        local r = assert(nslua.container{ argv = { "/bin/sleep", "3" }, namespaces = { time = true },
          time_offsets = { monotonic = off }, limits = { wall = 0.4 } }:run())
        print(off, r.status, r.wall_s >= 0.4 and r.wall_s < 0.8 or r.wall_s)
        r = assert(nslua.container{ argv = { "/bin/sleep", "0.2" }, namespaces = { time = true },
          time_offsets = { monotonic = off } }:run())
        print(off, r.status, r.wall_s >= 0.2 and r.wall_s < 0.6 or r.wall_s)
      end
    ]])
    assert.is_true(ok, out)
    assert.equal("1000000\twall-limit\ttrue\n1000000\texited\ttrue\n-5\twall-limit\ttrue\n-5\texited\ttrue\n"
      .. "0\twall-limit\ttrue\n0\texited\ttrue\n", out)
  end)

  it("is the one nslua exec joins", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    local ok, out = api([[
      local c = nslua.container{ argv = { "/bin/sleep", "5" }, namespaces = { time = true },
        time_offsets = { boottime = 1234 } }
      assert(c:start())
      local r = assert(c:exec({ "/bin/sh", "-c", "grep boottime /proc/self/timens_offsets" }, {}))
      c:kill(9)
      c:wait()
      print(r.status)
    ]])
    assert.is_true(ok, out)
    assert.matches("^boottime%s+1234%s+0\nexited\n$", out)
  end)

  it("works rootless, as the caller's own user namespace", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local ok, out = helper.run_rootless(([[
      local nslua = require "nslua"
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c", %q }, namespaces = { time = true },
        time_offsets = { boottime = 3600 }, stdio = { stdout = "inherit" } }:run())
      print(r.status)
    ]]):format(PROBE))
    assert.is_true(ok, out)
    assert.matches("\nboottime%s+3600%s+0\n[%d.]+\nexited\n$", out)
  end)

  -- the child's own failure is what the caller reads, not that it ended:
  -- a rootless caller without a user namespace may not make a time one
  it("reports the child's own failure to make its time namespace", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local ok, out = helper.run_rootless([[
      local nslua = require "nslua"
      print(nslua.container{ argv = { "/bin/true" }, user = "host", net = "host",
        namespaces = { time = true, mnt = false, pid = false, ipc = false, uts = false, cgroup = false },
        time_offsets = { boottime = 5 } }:run())
    ]])
    assert.is_true(ok, out)
    assert.matches("^nil\t[^\n]*set%-up failed at time: unshare 'time': Operation not permitted", out)
  end)

  it("refuses offsets that name no clock, no time namespace, or an offset out of range", function()
    local ok, out = api([[
      local validate = require "nslua.validate"
      local function err(spec)
        spec.argv = { "/bin/true" }
        local out, errs = validate.check(spec)
        print(out and "ok" or table.concat(errs, "; "))
      end
      err { time_offsets = { monotonic = 1 } }
      err { namespaces = { time = true }, time_offsets = { realtime = 1 } }
      err { namespaces = { time = true }, time_offsets = { monotonic = { secs = 1, nanosecs = 1e9 } } }
      err { namespaces = { time = true }, time_offsets = { monotonic = { secs = 1, bogus = 2 } } }
      err { namespaces = { time = true }, time_offsets = { boottime = 1e12 } }
      err { namespaces = { time = true }, time_offsets = "1" }
      err { namespaces = { time = true }, time_offsets = { monotonic = -2.25 } }
      err { namespaces = { time = true }, time_offsets = { monotonic = 4611686019 } }
      err { namespaces = { time = true }, time_offsets = { monotonic = { secs = 2.0, nanosecs = 0 } } }
      err { namespaces = { time = true }, time_offsets = { monotonic = { secs = "2" } } }
      err { namespaces = { time = true }, time_offsets = { monotonic = 0 / 0 } }
    ]])
    assert.is_true(ok, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("time_offsets: requires a new time namespace %(namespaces.time%)", lines[1])
    assert.matches("time_offsets.realtime: unknown clock", lines[2])
    assert.matches("time_offsets.monotonic: must be { secs = integer, nanosecs = 0..999999999 }", lines[3], 1, true)
    assert.matches("time_offsets.monotonic: unknown field 'bogus'", lines[4], 1, true)
    assert.matches("time_offsets.boottime: must be within +-4611686018 seconds", lines[5], 1, true)
    assert.matches("time_offsets: must be a table", lines[6], 1, true)
    assert.equal("ok", lines[7])
    assert.matches("time_offsets.monotonic: must be within +-4611686018 seconds", lines[8], 1, true)
    assert.equal("ok", lines[9])
    assert.matches("time_offsets.monotonic: must be { secs = integer", lines[10], 1, true)
    assert.matches("time_offsets.monotonic: must be within", lines[11], 1, true)
  end)

  -- an offset the kernel refuses (a clock below 0: more negative than the
  -- host's uptime) is an error naming the field, and leaves nothing
  it("says when the kernel refuses the offsets", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    local ok, out = api([[
      local f = io.open("/proc/uptime")
      local up = math.floor(f:read("n"))
      f:close()
      print(nslua.container{ argv = { "/bin/true" }, namespaces = { time = true },
        time_offsets = { boottime = -(up + 100000) } }:run())
    ]])
    assert.is_true(ok, out)
    assert.matches("^nil\t[^\n]*time_offsets: the kernel refused them %(Numerical result out of range%)", out)
  end)

  -- The set-up child never turns dumpable for its time namespace (its
  -- parent writes the offsets): turned dumpable, a clone made as the slot's
  -- owner, or into a joined user namespace, is a host-uid-0 process that
  -- namespace's owner may ptrace.
  it("writes the offsets from the parent; the child never turns dumpable", function()
    if not has_timens() then return pending("no time namespaces in this kernel") end
    if not helper.is_root() then return pending("needs root (strace of a slot-owned clone)") end
    if not helper.sh("command -v strace >/dev/null") then return pending("strace missing") end
    local dir = helper.tmpdir("0755")
    local recipe = dir .. "/t.lua"
    local f = assert(io.open(recipe, "w"))
    f:write('return { argv = { "/bin/sh", "-c", "grep boottime /proc/self/timens_offsets" }, '
      .. 'namespaces = { time = true }, time_offsets = { boottime = 77 } }\n')
    f:close()
    -- (under `make sanitize`: LeakSanitizer cannot run under ptrace)
    local nslua = helper.nslua:gsub("ASAN_OPTIONS='[^']*'", "ASAN_OPTIONS='detect_leaks=0'")
    local ok, out = helper.sh(("strace -f -qq -e trace=prctl,openat -o %s %s %s"):format(helper.quote(dir .. "/trace"),
      nslua, helper.quote(recipe)))
    local trace = helper.read(dir .. "/trace") or ""
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches("^boottime%s+77%s+0\n$", out)
    assert.not_matches("PR_SET_DUMPABLE, 1", trace)
    -- (the parent, not the child, opened the namespace's offsets)
    assert.matches('"/proc/%d+/timens_offsets", O_WRONLY', trace)
    assert.not_matches('"/proc/self/timens_offsets", O_WRONLY', trace)
  end)

  it("is shown by explain", function()
    local ok, out = api([[
      local c = nslua.container{ argv = { "/bin/true" }, namespaces = { time = true },
        time_offsets = { monotonic = -2.25 } }
      print(table.concat(assert(c:explain()), "\n"))
    ]])
    assert.is_true(ok, out)
    assert.matches("time namespace: monotonic %-3 750000000\n", out)
  end)
end)
