-- spec/bwrap_process_spec.lua - the process side of a sandbox, the spec
-- fields bubblewrap's front end needs: cwd lists and set_pwd, argv0,
-- session = "keep", init = false, die_with_parent, lock_files, sync fds,
-- and host root's capabilities.  Against real kernel objects, each run in
-- a fresh lua5.4 (or a shell that starts one), and where bubblewrap can
-- say the same thing, side by side with /usr/bin/bwrap.
local helper = require "helper"

local q = helper.quote

-- Lua code run in a fresh lua5.4: nslua and core.proc at hand.
local PRELUDE = [[
local nslua = require "nslua"
local core = require "nslua.core"
local proc = core.proc
local function run(spec)
  local r, err = nslua.container(spec):run()
  assert(r, err)
  io.stdout:flush()
  return r
end
]]

local function lua(code, prefix)
  return helper.run_isolated(PRELUDE .. code, prefix)
end

local function have_bwrap()
  return helper.exists("/usr/bin/bwrap")
end

-- A shell command under bwrap with the host's root bound (root only).
local function bwrap(args, cmd)
  return helper.sh(("/usr/bin/bwrap --bind / / --dev /dev %s /bin/sh -c %s"):format(args, q(cmd)))
end

describe("the process side of a sandbox", function()
  local dir
  setup(function()
    dir = helper.tmpdir("0755")
    -- a write-lock probe from the host (fcntl F_SETLK F_WRLCK), and a
    -- holder of one for 2 s
    local f = assert(io.open(dir .. "/probe.py", "w"))
    f:write([[
import fcntl, sys
f = open(sys.argv[1], "r+")
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("free")
except OSError:
    print("locked")
]])
    f:close()
    f = assert(io.open(dir .. "/hold.py", "w"))
    f:write([[
import fcntl, sys, time
f = open(sys.argv[1], "r+")
fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
time.sleep(2)
]])
    f:close()
  end)
  teardown(function() helper.rmtree(dir) end)

  describe("cwd, set_pwd and argv0", function()
    it("start in the first directory of the list the command can enter, with PWD and argv[0] #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local r = run { argv = { "/bin/sh", "-c", "echo $0; pwd; echo PWD=$PWD" },
                        cwd = { "/nonexistent", "/etc/hostname", "/usr", "/tmp" }, set_pwd = true,
                        argv0 = "myname", env = { PWD = "/bogus" } }
        print(r.status, r.exit_code)
      ]])
      assert.is_true(ok, out)
      assert.equal("myname\n/usr\nPWD=/usr\nexited\t0\n", out)
    end)

    -- (bwrap 0.8 has no --argv0 yet)
    it("match bwrap's --chdir #priv", function()
      if not helper.is_root() then return pending("needs root") end
      if not have_bwrap() then return pending("no /usr/bin/bwrap") end
      local cmd = "pwd; echo PWD=$PWD"
      local _, want = bwrap("--chdir /usr", cmd)
      local ok, out = lua(([[
        run { argv = { "/bin/sh", "-c", %q }, cwd = "/usr", set_pwd = true,
              user = "host", namespaces = { mnt = false, pid = false, ipc = false, uts = false,
              cgroup = false }, net = "host" }
      ]]):format(cmd))
      assert.is_true(ok, out)
      assert.equal(want, out)
    end)

    it("fail with the cwd step when no directory of the list can be entered", function()
      local ok, out = lua([[
        local r = run { argv = { "/bin/true" }, cwd = { "/nonexistent", "/nonexistent2" } }
        print(r.status, r.error.step, r.error.errno)
      ]])
      assert.is_true(ok, out)
      assert.equal("error\tcwd\t2\n", out)
    end)
  end)

  describe("init = false", function()
    it("makes the command pid 1 of its pid namespace, like bwrap --as-pid-1 #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local r = run { argv = { "/bin/sh", "-c", "echo $$; cat /proc/1/comm" }, init = false }
        print(r.status, r.exit_code)
        r = run { argv = { "/bin/sh", "-c", "echo $$; cat /proc/1/comm" } }
        print(r.status, r.exit_code)
      ]])
      assert.is_true(ok, out)
      assert.equal("1\nsh\nexited\t0\n2\nnslua-init\nexited\t0\n", out)
      if have_bwrap() then
        local _, b1 = bwrap("--proc /proc --unshare-pid --as-pid-1", "echo $$")
        local _, b2 = bwrap("--proc /proc --unshare-pid", "echo $$")
        assert.equal("1\n2\n", b1 .. b2)
      end
    end)

    it("reports the exit status, a signal, an exec failure and the wall limit", function()
      local ok, out = lua([[
        local c = nslua.container { argv = { "/bin/sh", "-c", "echo $$; exit 7" }, init = false,
                                    namespaces = { pid = false } }
        local pid = assert(c:start())
        io.stdout:flush()
        local r = c:wait()
        io.write(r.status, " ", r.exit_code, " ", tostring(c.cmd_pid == pid), "\n")
        r = run { argv = { "/bin/sh", "-c", "kill -TERM $$" }, init = false, namespaces = { pid = false } }
        io.write(r.status, " ", r.signal, "\n")
        r = run { argv = { "/nonexistent/cmd" }, init = false }
        io.write(r.status, " ", r.exit_code, " ", r.error.step, "\n")
        r = run { argv = { "/bin/sleep", "30" }, init = false, limits = { wall = 0.3 } }
        io.write(r.status, " ", r.signal, " ", tostring(r.wall_s < 5), "\n")
      ]])
      assert.is_true(ok, out)
      local pid = out:match("^(%d+)\n")
      assert.is_truthy(pid, out)
      assert.equal(pid .. "\nexited 7 true\nsignaled 15\nerror 127 execve\nwall-limit 9 true\n", out)
    end)

    it("is stopped by Container:kill and leaves nothing behind", function()
      local t = helper.track()
      local ok, out = lua([[
        local c = nslua.container { argv = { "/bin/sleep", "30" }, init = false }
        assert(c:start())
        proc.poll({}, 100)
        assert(c:kill(9))
        local r = c:wait()
        print(r.status, r.signal)
      ]])
      assert.is_true(ok, out)
      assert.equal("signaled\t9\n", out)
      helper.assert_released(t)
    end)
  end)

  describe("session", function()
    -- the command's and the caller's process group and session (fields 5, 6 of stat)
    local SHOW = [[cut -d' ' -f5,6 /proc/self/stat]]

    it("keep: the command stays in the caller's session and process group, like bwrap #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local code = ([[
        local mine = io.open("/proc/self/stat"):read("a"):match("^%%d+ %%b() %%S %%d+ (%%d+ %%d+)")
        print(mine)
        for _, s in ipairs { "keep", "new" } do
          for _, init in ipairs { true, false } do
            run { argv = { "/bin/sh", "-c", %q }, session = s, init = init, namespaces = { pid = false },
                  mounts = { { type = "bind", source = "/proc", target = "/proc" } } }
          end
        end
      ]]):format(SHOW)
      local ok, out = lua(code)
      assert.is_true(ok, out)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equal(5, #lines, out)
      assert.equal(lines[1], lines[2])
      assert.equal(lines[1], lines[3])
      assert.not_equal(lines[1], lines[4])
      assert.not_equal(lines[1], lines[5])
      -- a new session is led by the command (or by the init: then its parent)
      local pg, sid = lines[5]:match("^(%d+) (%d+)$")
      assert.equal(pg, sid)
      if have_bwrap() then
        local _, b = helper.sh(("sh -c %s; /usr/bin/bwrap --bind / / /bin/sh -c %s; "
          .. "/usr/bin/bwrap --bind / / --new-session /bin/sh -c %s")
          :format(q("cut -d' ' -f5,6 /proc/$$/stat"), q(SHOW), q(SHOW)))
        local bl = {}
        for l in b:gmatch("[^\n]+") do bl[#bl + 1] = l end
        assert.equal(bl[1], bl[2])
        assert.not_equal(bl[1], bl[3])
      end
    end)

    it("keep: a terminal's ^C reaches the command once, with or without an init #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- a pty whose foreground group is nslua's (python's pty.fork): ^C goes
      -- to the group, nslua and its init must not forward it a second time
      local runner = dir .. "/intr.lua"
      local f = assert(io.open(runner, "w"))
      f:write(("package.path = %q .. ';' .. package.path\npackage.cpath = %q .. ';' .. package.cpath\n")
        :format(helper.lpath, helper.cpath), PRELUDE, [[
        local r = run { argv = { "/bin/sh", "-c", "n=0; trap 'n=$((n+1))' INT; i=0; "
          .. "while [ $i -lt 15 ]; do sleep 0.1; i=$((i+1)); done; echo n=$n" },
          session = "keep", init = arg[1] == "init", namespaces = { pid = arg[2] == "pid" } }
        print(r.status, r.exit_code)
      ]])
      f:close()
      local py = dir .. "/intr.py"
      f = assert(io.open(py, "w"))
      f:write([==[
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/sh", ["sh", "-c", sys.argv[1] + " " + sys.argv[2] + " " + sys.argv[3]])
time.sleep(0.6)
os.write(fd, b"\x03")
out = b""
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    out += d
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
]==])
      f:close()
      for _, v in ipairs { { "init", "pid" }, { "noinit", "pid" }, { "init", "nopid" }, { "noinit", "nopid" } } do
        local ok, out = helper.sh(("python3 %s %s %s %s"):format(q(py), q(helper.LUA .. " " .. q(runner)), v[1], v[2]))
        assert.is_true(ok, out)
        assert.equal("^Cn=1\nexited\t0\n", out, v[1] .. " " .. v[2])
      end
    end)

    it("keep is refused with a tty", function()
      local ok, out = lua([[
        local okc, err = pcall(nslua.container, { argv = { "/bin/true" }, tty = true, session = "keep" })
        print(okc, err)
      ]])
      assert.is_true(ok, out)
      assert.matches("session: must be \"new\" with tty = true", out, 1, true)
    end)
  end)

  describe("lock_files", function()
    it("are read-locked inside the sandbox for its life, by the init or by the command #priv", function()
      if not helper.is_root() then return pending("needs root") end
      assert(helper.sh("echo x > " .. q(dir .. "/lock1")))
      for _, init in ipairs { true, false } do
        local ok, out = lua(([[
          local c = nslua.container { argv = { "/bin/sh", "-c", "ls -l /proc/self/fd | grep -c lock1; sleep 30" },
            init = %s, lock_files = { "/lk/lock1" },
            mounts = { { type = "bind", source = %q, target = "/lk" } } }
          -- the probe with exactly this env (no sanitizer runtime of ours)
          local function probe()
            io.stdout:flush()
            proc.waitpid(assert(proc.spawn({ "python3", %q, %q }, { PATH = "/usr/bin:/bin" })))
          end
          assert(c:start())
          proc.poll({}, 300)
          probe()
          c:kill(9)
          c:wait()
          probe()
        ]]):format(tostring(init), dir, dir .. "/probe.py", dir .. "/lock1"))
        assert.is_true(ok, out)
        -- the command holds the fd only without an init
        assert.equal(("%d\nlocked\nfree\n"):format(init and 0 or 1), out)
      end
    end)

    it("fail the start when someone holds a write lock", function()
      local f = dir .. "/lock2"
      assert(helper.sh("echo x > " .. q(f)))
      local ok, out = lua(([[
        local r = run { argv = { "/bin/true" }, lock_files = { "/lk/lock2" },
          mounts = { { type = "bind", source = %q, target = "/lk" } } }
        print(r.status, r.error and r.error.step, r.error and r.error.errno)
      ]]):format(dir), ("env -u LD_PRELOAD python3 %s/hold.py %s >/dev/null 2>&1 & sleep 0.5;"):format(dir, q(f)))
      assert.is_true(ok, out)
      assert.equal("error\tlock\t11\n", out)
    end)
  end)

  describe("die_with_parent", function()
    -- A shell starts nslua (argv0 marks the sandbox's sleep) in a private
    -- /run/nslua; the shell is SIGKILLed; is the sleep gone within 1 s, and
    -- the lock file free?  What nslua leaves (its record) goes with gc.
    local function scenario(fields)
      local tag = helper.unique("nsluadwp")
      local lockf = dir .. "/" .. tag
      assert(helper.sh("echo x > " .. q(lockf)))
      local runfile = dir .. "/" .. tag .. ".lua"
      local f = assert(io.open(runfile, "w"))
      f:write(("package.path = %q .. ';' .. package.path\npackage.cpath = %q .. ';' .. package.cpath\n")
        :format(helper.lpath, helper.cpath))
      f:write(PRELUDE, ([[
        run { argv = { "/bin/sleep", "100" }, argv0 = %q, lock_files = { "/lk/%s" },
              mounts = { { type = "bind", source = %q, target = "/lk" } }, %s }
      ]]):format(tag, tag, dir, fields))
      f:close()
      local script = helper.dwp_head(tag, q(helper.LUA .. " " .. q(runfile) .. "; :")) .. ([[
python3 %s/probe.py %s
kill -KILL $s; wait $s 2>/dev/null
i=0; while alive >/dev/null && [ $i -lt 20 ]; do sleep 0.05; i=$((i+1)); done
if alive >/dev/null; then echo ALIVE; kill -KILL $l; sleep 0.5; else echo GONE; fi
python3 %s/probe.py %s
]]):format(dir, q(lockf), dir, q(lockf)) .. helper.dwp_tail()
      local _, out = helper.sh("unshare -m sh -c " .. q(script))
      -- nothing of it is left, whatever happened
      local _, ps = helper.sh("ps -eo args")
      assert.not_matches(tag, ps, 1, true)
      return out
    end

    for _, v in ipairs {
      { "namespaces = { pid = true }", "a pid namespace" },
      { "namespaces = { pid = false }", "no pid namespace" },
      { "namespaces = { pid = true }, init = false", "a pid namespace and no init" },
      { "namespaces = { pid = false }, init = false", "no pid namespace and no init" },
    } do
      it("ends the sandbox within 1 s of its starter's SIGKILL, with " .. v[2] .. " #priv", function()
        if not helper.is_root() then return pending("needs root") end
        local out = scenario("die_with_parent = true, " .. v[1])
        assert.equal("STARTED\nlocked\nGONE\nfree\nRECORDS: \n", out)
      end)
    end

    it("without it, nslua and its sandbox outlive the shell #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local out = scenario("namespaces = { pid = true }")
      assert.equal("STARTED\nlocked\nALIVE\nfree\nRECORDS: \n", out)
    end)
  end)

  describe("sync", function()
    it("block_fd: the command starts only once the caller writes a byte", function()
      assert(helper.sh(("mkdir -p %s/out && chmod 0777 %s/out"):format(q(dir), q(dir))))
      local ok, out = lua(([[
        local r, w = assert(proc.pipe())
        local c = nslua.container { argv = { "/bin/sh", "-c", "echo ran > /out/ran" }, sync = { block_fd = r:fileno() },
          mounts = { { type = "bind", source = %q, target = "/out" } } }
        assert(c:start())
        proc.poll({}, 300)
        print(io.open(%q) and "early" or "waiting")
        assert(proc.write(w, "x"))
        local rep = c:wait()
        print(rep.status, io.open(%q):read("l"))
      ]]):format(dir .. "/out", dir .. "/out/ran", dir .. "/out/ran"))
      os.remove(dir .. "/out/ran")
      assert.is_true(ok, out)
      assert.equal("waiting\nexited\tran\n", out)
    end)

    it("userns_block_fd: the caller writes the id maps while the child waits", function()
      local ok, out = lua([[
        local r, w = assert(proc.pipe())
        local c = nslua.container { argv = { "/bin/sh", "-c", "id -u" }, sync = { userns_block_fd = r:fileno() } }
        local pid = assert(c:start())
        proc.poll({}, 200)
        print("map: [" .. io.open("/proc/" .. pid .. "/uid_map"):read("a") .. "]")
        local ident = c.plan.identity
        local ns = core.ns
        assert(ns.write_id_map(pid, "uid", ident.uid_map))
        if ident.setgroups == "deny" then assert(ns.setgroups(pid, "deny")) end
        assert(ns.write_id_map(pid, "gid", ident.gid_map))
        assert(proc.write(w, "x"))
        io.stdout:flush()
        local rep = c:wait()
        print(rep.status, rep.exit_code)
      ]])
      assert.is_true(ok, out)
      assert.equal("map: []\n65534\nexited\t0\n", out)
    end)

    it("sync_fd: held by the init, not the command, until the sandbox ends", function()
      local ok, out = lua([[
        local r, w = assert(proc.pipe())
        local n = w:fileno()
        local c = nslua.container { argv = { "/bin/sh", "-c", "test -e /proc/self/fd/" .. n .. " && echo has || echo hasnt; sleep 0.5" },
          sync = { sync_fd = n } }
        assert(c:start())
        w:close()
        proc.poll({}, 200)
        local fds = { { fd = r, events = { ["in"] = true } } }
        io.stdout:write(proc.poll(fds, 0), "\n")
        io.stdout:flush()
        c:wait()
        print(proc.poll(fds, 1000), proc.read(r, 1))
      ]])
      assert.is_true(ok, out)
      assert.equal("hasnt\n0\n1\t\n", out)
    end)

    it("an fd that is not open fails the start with EBADF", function()
      local ok, out = lua([[
        local pid, err, code = nslua.container { argv = { "/bin/true" }, sync = { block_fd = 987 } }:start()
        print(pid, err, code == core.errno.EBADF)
      ]])
      assert.is_true(ok, out)
      assert.matches("sync.block_fd: fd 987 is not open\ttrue", out, 1, true)
    end)
  end)

  describe("caps with user = \"host\"", function()
    local HOST = "user = 'host', net = 'host', seccomp = 'none', namespaces = { mnt = false, pid = false, ipc = false, "
      .. "uts = false, cgroup = false }"

    it("all: capsh --print inside is the host's but for no-new-privs, as under bwrap #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local _, host = helper.sh("/sbin/capsh --print")
      local ok, out = lua(("run { argv = { '/sbin/capsh', '--print' }, caps = { 'all' }, %s }"):format(HOST))
      assert.is_true(ok, out)
      assert.equal((host:gsub("no%-new%-privs=0", "no-new-privs=1")), out)
      if have_bwrap() then
        local _, b = helper.sh("/usr/bin/bwrap --bind / / /sbin/capsh --print")
        assert.equal(b, out)
      end
    end)

    it("a list keeps only those (cap_kill dropped from all), in every set #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua(([[
        local caps = {}
        for _, c in ipairs(require("nslua.validate").CAPS) do if c ~= "kill" then caps[#caps + 1] = c end end
        run { argv = { "/bin/sh", "-c", "grep Cap /proc/self/status" }, caps = caps, %s }
      ]]):format(HOST))
      assert.is_true(ok, out)
      local _, host = helper.sh("grep CapPrm /proc/self/status")
      local prm = tonumber(host:match("CapPrm:%s+(%x+)"), 16)
      local want = ("%016x"):format(prm & ~(1 << 5))
      for _, set in ipairs { "Inh", "Prm", "Eff", "Bnd", "Amb" } do
        assert.equal(want, out:match("Cap" .. set .. ":%s+(%x+)"), set .. "\n" .. out)
      end
    end)
  end)
end)
