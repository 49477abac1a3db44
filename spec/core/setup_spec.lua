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
      return { exec = { argv = { "/bin/true" }, env = {} } },
        { sync_r = r, sync_w = w, status_w = sw }, { r, w, sr, sw }
    end
    local function closeall(fds) for _, f in ipairs(fds) do f:close() end end

    it("reads a whole plan before any clone", function()
      local t, rt, fds = base()
      t.hostname, t.identity = "h", { switch = true }
      t.net = { lo = true, addrs = { { dev = "eth0", cidr = "192.0.2.2/24" } }, up = { "eth0" },
                routes = { { gateway = "192.0.2.1", dev = "eth0", family = "inet" } } }
      t.mounts = { scaffold_size = 1 << 20, steps = {
        { op = "mount", src = "tmpfs", fstype = "tmpfs", path = "/newroot", flags = { nosuid = true } },
        { op = "mkdir", path = "/newroot/x", mode = 448 },
        { op = "write", path = "/x", content = "abc" },
        { op = "symlink", target = "a", path = "/newroot/l" },
        { op = "attr", path = "/newroot", set = { rdonly = true }, rec = true },
        { op = "move", tree = "mounts[1]", path = "/newroot/t" },
        { op = "mkdir", path = "/newroot/o", mode = 448, parents = 488, uid = 65534, gid = 65534 },
        { op = "overlay", path = "/newroot/o", lower = { "/.oldroot/a:b", "/.oldroot/c" },
          flags = { rdonly = true } },
        { op = "attr", path = "/newroot/o", set = { rdonly = true }, mountpoint = true },
        { op = "mount", src = "/.oldroot/d", src_fd = 0, path = "/newroot/d", flags = { bind = true } },
      } }
      rt.trees = { ["mounts[1]"] = fds[1] }
      t.nested_userns = { uid_map = { { 0, 0, 1 }, { 65534, 65534, 1 } }, gid_map = { { 0, 0, 1 } } }
      t.hooks = { "before_exec" }
      rt.hooks = { before_exec = function() end }
      t.exec.rlimits, t.exec.caps = { core = 0 }, {}
      local p = setup.plan(t, rt)
      assert.equal("userdata", type(p))
      assert.matches("^nslua.setup plan", tostring(p))
      closeall(fds)
    end)

    it("raises on misuse: unknown op, flag, tree or stop, a missing argument, bad exec options", function()
      local t, rt, fds = base()
      local function steps(list) t.mounts = { steps = list } end
      steps { { op = "mount", path = "/x", flags = { bnd = true } } }
      assert.has_error(function() setup.plan(t, rt) end)
      steps { { op = "mnt", path = "/x" } }
      assert.has_error(function() setup.plan(t, rt) end)
      steps { { op = "symlink", path = "/x" } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1] (symlink) lacks its argument")
      steps { { op = "mkdir" } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1].path is missing")
      steps { { op = "move", path = "/x", tree = "rootfs" } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1]: no tree 'rootfs' in rt.trees")
      steps { { op = "overlay", path = "/x" } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1] (overlay) lacks its argument")
      steps { { op = "overlay", path = "/x", lower = { "/a" }, upper = "/u" } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1] (overlay) lacks its argument")
      steps { { op = "mount", path = "/x", src_fd = 3 } }
      assert.has_error(function() setup.plan(t, rt) end, "setup.plan: mounts.steps[1] (mount) lacks its argument")
      steps { { op = "mkdir", path = "/x", uid = -1 } }
      assert.has_error(function() setup.plan(t, rt) end,
        "bad argument #1 to 'plan' (ids must be 0..2^32-2)")
      steps { { op = "mkdir", path = "/x", parents = 4096 } }
      assert.has_error(function() setup.plan(t, rt) end, "bad argument #1 to 'plan' (a mode must be 0..07777)")
      t.mounts = nil
      t.hooks = { "before_exec" }
      assert.has_error(function() setup.plan(t, rt) end,
        "setup.plan: the plan names hooks but rt.hooks is missing")
      t.hooks = nil
      rt.stop = "nowhere"
      assert.has_error(function() setup.plan(t, rt) end)
      rt.stop = nil
      t.exec.keep_caps, t.exec.uid = true, -1
      assert.has_error(function() setup.plan(t, rt) end)
      t.exec.keep_caps, t.exec.uid = nil, nil
      t.exec.argv = {}
      assert.has_error(function() setup.plan(t, rt) end, "bad argument #1 to 'plan' (argv must not be empty)")
      t.exec.argv = { "/bin/true" }
      t.tty = true
      assert.has_error(function() setup.plan(t, rt) end,
        "bad argument #2 to 'plan' (a tty plan needs rt.tty_sock)")
      t.tty = nil
      rt.status_w = nil
      assert.has_error(function() setup.plan(t, rt) end)
      closeall(fds)
    end)
  end)

  describe("net #priv", function()
    it("runs the guest steps in the caller's network namespace, and names a failed one", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = helper.run_isolated([[
        local core = require "nslua.core"
        assert(core.ns.unshare { net = true })
        print(core.setup.net { lo = true })
        print(core.setup.net { addrs = { { dev = "nosuch0", cidr = "192.0.2.2/24" } } })
        print(core.setup.net { up = { "nosuch1" } })
        local f = io.popen("ip -o link show lo")
        print((f:read("a"):match("LOWER_UP")))
        f:close()
      ]])
      assert.is_true(ok, out)
      assert.matches("^true\nnil\t192%.0%.2%.2/24: .- 'nosuch0': No such device\t19\n"
        .. "nil\tRTM_NEWLINK 'nosuch1': No such device\t19\nLOWER_UP\n$", out)
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
      local plan = setup.plan({
        hostname = "planned", net = { lo = true },
        mounts = { steps = steps, scaffold_size = 1 << 20, strict = STRICT },
        exec = { argv = { "/bin/sh", "-c", "hostname; cat /etc/motd; ip -o link show lo | grep -c LOWER_UP; "
          .. "grep -c . /proc/timer_list; (echo x > /proc/sys/kernel/domainname) 2>&1 | grep -c Read-only; ls /proc | grep -c '^[0-9]'" },
          env = { PATH = "/bin" } },
      }, { sync_r = sync_r, sync_w = sync_w, status_w = st_w, stdio = { [1] = out_w } })
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
      assert.matches("^pid %d+ %d+%.%d+\nexit exited 0 ", status)
      assert.equal("exited 0\n", init)
    end)

    it("setup.clone runs the same plan in a child that never returns to Lua", function()
      if not helper.is_root() then return pending("needs root") end
      if not helper.exists("/proc/timer_list") then return pending("no /proc/timer_list to mask") end
      local ok, out = run(nil, false, true)
      assert.is_true(ok, out)
      assert.matches("^planned\nfrom the plan\n1\n0\n1\n%d+\n%-%-\npid %d+ %d+%.%d+\n"
        .. "exit exited 0 .*%-%-\nexited 0\n$", out)
      ok, out = run([[{ op = "mkdir", path = NEW .. "/usr/nope/x", what = "/usr/nope/x" }]], true, true)
      assert.is_true(ok, out)
      assert.matches("setup mounts 30 /usr/nope/x: missing mount point", out, 1, true)
      assert.has_error(function()
        setup.clone(setup.plan({ exec = { argv = { "x" } } }, { sync_r = 0, status_w = 1 }), { time = true })
      end)
    end)

    -- The owner of a user namespace is the euid that creates it, and the
    -- kernel charges per-user quotas to it (see setup.c, as_owner).
    it("clones a user namespace owned by plan.identity.owner, and gives our credentials back", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = helper.run_isolated([=[
        local core = require "nslua.core"
        local proc, setup = core.proc, core.setup
        local function status(pid)
          local f = assert(io.open("/proc/" .. pid .. "/status"))
          local s = f:read("a")
          f:close()
          return s:match("\nUid:%s+([^\n]*)"):gsub("%s+", " "), s:match("\nCapEff:%s+(%x+)")
        end
        local function owner(pid)
          local f = assert(io.popen(("unset LD_PRELOAD; /usr/bin/python3 -c 'import fcntl, os, struct; "
            .. "fd = os.open(\"/proc/%d/ns/user\", os.O_RDONLY); "
            .. "print(struct.unpack(\"I\", fcntl.ioctl(fd, 0xb704, bytes(4)))[0])'"):format(pid)))
          local o = f:read("a")
          f:close()
          return o
        end
        assert(proc.prctl("pdeathsig", 10))
        local uid0, cap0 = status("self")
        local dump0 = proc.prctl("get_dumpable")
        for _, flags in ipairs { { user = true, pid = true }, { pid = true } } do
          local sync_r, sync_w = assert(proc.pipe())
          local st_r, st_w = assert(proc.pipe())
          local plan = setup.plan({ identity = { owner = 1000000007 }, exec = { argv = { "/bin/true" } } },
            { sync_r = sync_r, sync_w = sync_w, status_w = st_w })
          local pid = assert(setup.clone(plan, flags))
          sync_r:close()
          st_w:close()
          -- the child's euid; ours unchanged: ids, capabilities, dumpable, pdeathsig
          io.write(flags.user and "user: " or "no user: ", (status(pid)), "\n")
          if flags.user then io.write("owner ", owner(pid)) end
          local uid, cap = status("self")
          assert(uid == uid0 and cap == cap0, uid .. " " .. cap)
          assert(proc.prctl("get_dumpable") == dump0)
          assert(proc.prctl("get_pdeathsig") == 10)
          proc.kill(pid, 9)
          proc.waitpid(pid)
          sync_w:close()
          st_r:close()
        end
        assert(proc.prctl("pdeathsig", 0))
      ]=])
      assert.is_true(ok, out)
      assert.equal("user: 0 1000000007 0 1000000007\nowner 1000000007\nno user: 0 0 0 0\n", out)
    end)

    it("reports a failed step with the child's record, before the command runs", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = run([[{ op = "mount", src = "/.oldroot/nonexistent", path = NEW .. "/usr",
        flags = { bind = true }, what = "/usr" }]])
      assert.is_true(ok, out)
      assert.matches("\n?%-%-\nsetup mounts 2 /usr: mount '/newroot/usr': No such file or directory\n"
        .. "%-%-\nexited 1\n$", out)
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
