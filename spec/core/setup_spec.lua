-- spec/core/setup_spec.lua - core.setup: the container child's set-up as one
-- C sequence.  The plan is read (and misuse raised) in the parent; run()
-- in a cloned child performs it and becomes the init.
local helper = require "helper"
local core = require "nslua.core"
local setup, proc = core.setup, core.proc

describe("nslua.core.setup", function()
  describe("plan", function()
    local function base()
      local r, w = assert(proc.pipe())
      local sr, sw = assert(proc.pipe())
      return { sync_fd = r, sync_close = w, status_fd = sw, argv = { "/bin/true" }, env = {} },
        { r, w, sr, sw }
    end
    local function closeall(fds) for _, f in ipairs(fds) do f:close() end end

    it("reads a whole plan before any clone", function()
      local t, fds = base()
      t.hostname, t.lo, t.ids = "h", true, true
      t.steps = {
        { op = "mount", src = "tmpfs", fstype = "tmpfs", path = "/newroot", flags = { nosuid = true } },
        { op = "mkdir", path = "/newroot/x", mode = 448 },
        { op = "write", path = "/x", content = "abc" },
        { op = "symlink", target = "a", path = "/newroot/l" },
        { op = "attr", path = "/newroot", set = { rdonly = true }, rec = true },
      }
      t.exec = { rlimits = { core = 0 }, caps = {} }
      local p = setup.plan(t)
      assert.equal("userdata", type(p))
      assert.matches("^nslua.setup plan", tostring(p))
      closeall(fds)
    end)

    it("raises on misuse: unknown op, flag or stop, a missing argument, bad exec options", function()
      local t, fds = base()
      t.steps = { { op = "mount", path = "/x", flags = { bnd = true } } }
      assert.has_error(function() setup.plan(t) end)
      t.steps = { { op = "mnt", path = "/x" } }
      assert.has_error(function() setup.plan(t) end)
      t.steps = { { op = "symlink", path = "/x" } }
      assert.has_error(function() setup.plan(t) end, "setup.plan: steps[1] (symlink) lacks its argument")
      t.steps = { { op = "mkdir" } }
      assert.has_error(function() setup.plan(t) end, "setup.plan: steps[1].path is missing")
      t.steps = nil
      t.stop = "nowhere"
      assert.has_error(function() setup.plan(t) end)
      t.stop = nil
      t.exec = { bogus = true }
      assert.has_error(function() setup.plan(t) end, "bad argument #3 to 'plan' (unknown option 'bogus')")
      t.exec = nil
      t.argv = {}
      assert.has_error(function() setup.plan(t) end, "bad argument #1 to 'plan' (argv must not be empty)")
      t.argv = { "/bin/true" }
      t.status_fd = nil
      assert.has_error(function() setup.plan(t) end)
      closeall(fds)
    end)
  end)

  describe("run #priv", function()
    -- A child in fresh pid, mnt, uts and net namespaces runs the plan; the
    -- test reads the status pipe and the command's output.
    local CHILD = [[
      local core = require "nslua.core"
      local proc, ns, setup = core.proc, core.ns, core.setup
      local sync_r, sync_w = assert(proc.pipe())
      local st_r, st_w = assert(proc.pipe())
      local out_r, out_w = assert(proc.pipe())
      local NEW = "/newroot"
      local steps = {
        { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW, flags = { nosuid = true, nodev = true },
          data = "mode=0755,size=1048576" },
        { op = "mkdir", path = NEW .. "/usr" },
        { op = "mount", src = "/.oldroot/usr", path = NEW .. "/usr", flags = { bind = true, rec = true } },
        { op = "attr", path = NEW .. "/usr", set = { rdonly = true, nosuid = true, nodev = true }, rec = true },
        { op = "symlink", target = "usr/bin", path = NEW .. "/bin" },
        { op = "symlink", target = "usr/lib", path = NEW .. "/lib" },
        { op = "symlink", target = "usr/lib64", path = NEW .. "/lib64" },
        { op = "mkdir", path = NEW .. "/proc" },
        { op = "mount", src = "proc", fstype = "proc", path = NEW .. "/proc", flags = { nosuid = true, nodev = true, noexec = true } },
        { op = "mask", path = NEW .. "/proc/timer_list" },
        { op = "ro", path = NEW .. "/proc/sys" },
        { op = "write", path = "/f", content = "from the plan\n" },
        { op = "mkfile", path = NEW .. "/etc/motd" },
        { op = "mount", src = "/f", path = NEW .. "/etc/motd", flags = { bind = true } },
        STEP
      }
      local plan = setup.plan {
        sync_fd = sync_r, sync_close = sync_w, status_fd = st_w, hostname = "planned", lo = true,
        steps = steps, scaffold_size = 1 << 20, strict = STRICT,
        argv = { "/bin/sh", "-c", "hostname; cat /etc/motd; ip -o link show lo | grep -c LOWER_UP; "
          .. "grep -c . /proc/timer_list; (echo x > /proc/sys/kernel/domainname) 2>&1 | grep -c Read-only; ls /proc | grep -c '^[0-9]'" },
        env = { PATH = "/bin" }, exec = { status_fd = st_w }, stdio = { [1] = out_w },
      }
      io.stdout:flush()
      local flags = { pid = true, mnt = true, uts = true, net = true, ipc = true }
      local pid
      if VIA_CLONE then
        pid = assert(setup.clone(plan, flags))     -- the child never comes back to Lua
      else
        pid = assert(ns.clone(flags))
        if pid == 0 then setup.run(plan) end
      end
      sync_r:close(); st_w:close(); out_w:close()
      assert(proc.write(sync_w, "x"))
      local function drain(fd)
        local t = {}
        repeat local d = proc.read(fd, 4096); t[#t + 1] = d until not d or d == ""
        return table.concat(t)
      end
      local status = drain(st_r)
      local out = drain(out_r)
      local _, how, code = proc.waitpid(pid)
      io.write(out, "--\n", status, "--\n", how, " ", code, "\n")
    ]]
    local function run(extra_step, strict, via_clone)
      return helper.run_isolated("VIA_CLONE = " .. tostring(via_clone or false) .. "\n"
        .. (CHILD:gsub("STEP", extra_step or "nil"):gsub("STRICT", tostring(strict or false))))
    end

    it("sets up hostname, lo, the mount plan and the pivot, then runs the command under its init", function()
      if not helper.is_root() then return pending("needs root") end
      if not helper.exists("/proc/timer_list") then return pending("no /proc/timer_list to mask") end
      local ok, out = run()
      assert.is_true(ok, out)
      local cmd, status, init = out:match("^(.-)%-%-\n(.-)%-%-\n(.*)$")
      assert.is_not_nil(cmd, out)
      -- hostname, the written file, lo up, a masked timer_list (0 lines), a
      -- read-only /proc/sys, and a pid namespace (the init, the shell, ls, grep)
      assert.equal("planned\nfrom the plan\n1\n0\n1\n", cmd:match("^(.-)%d+\n$"), out)
      assert.is_true(tonumber(cmd:match("(%d+)\n$")) <= 5, cmd)
      assert.matches("^pid %d+\nexit exited 0 ", status)
      assert.equal("exited 0\n", init)
    end)

    it("setup.clone runs the same plan in a child that never returns to Lua", function()
      if not helper.is_root() then return pending("needs root") end
      if not helper.exists("/proc/timer_list") then return pending("no /proc/timer_list to mask") end
      local ok, out = run(nil, false, true)
      assert.is_true(ok, out)
      assert.matches("^planned\nfrom the plan\n1\n0\n1\n%d+\n%-%-\npid %d+\nexit exited 0 .*%-%-\nexited 0\n$", out)
      ok, out = run([[{ op = "mkdir", path = NEW .. "/usr/nope/x", what = "/usr/nope/x" }]], true, true)
      assert.is_true(ok, out)
      assert.matches("setup mounts 30 /usr/nope/x: missing mount point", out, 1, true)
      assert.has_error(function() setup.clone(setup.plan { sync_fd = 0, status_fd = 1, argv = { "x" } }, { time = true }) end)
    end)

    it("reports a failed step with the child's record, before the command runs", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = run([[{ op = "mount", src = "/.oldroot/nonexistent", path = NEW .. "/usr", flags = { bind = true }, what = "/usr" }]])
      assert.is_true(ok, out)
      assert.matches("\n?%-%-\nsetup mounts 2 /usr: mount '/newroot/usr': No such file or directory\n%-%-\nexited 1\n$", out)
    end)

    it("names a missing mount point on a read-only root", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = run([[{ op = "mkdir", path = NEW .. "/usr/nope/x", what = "/usr/nope/x" }]], true)
      assert.is_true(ok, out)
      assert.matches("setup mounts 30 /usr/nope/x: missing mount point %(the root file system is read%-only%): "
        .. "mkdir '/newroot/usr/nope': Read%-only file system\n", out)
    end)
  end)
end)
