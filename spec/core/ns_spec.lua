-- spec/core/ns_spec.lua - core.ns: misuse raises, failures return the triple,
-- and namespaces made by children are observed from outside (ids, hostname,
-- id maps, cgroups, clocks).  The busted process itself never unshares or
-- joins a namespace: that happens in ns.clone children or run_isolated.
local helper = require "helper"
local core = require "nslua.core"
local ns, proc, E = core.ns, core.proc, core.errno

local ENOTTY <const> = 25
local VALID <const> = "(valid: cgroup ipc mnt net pid time user uts)"

local function priv()
  if not helper.is_root() then
    pending("needs root")
    return false
  end
  return true
end

local function mypid()
  return tonumber(helper.read("/proc/self/stat"):match("^(%d+)"))
end

local function hostname()
  return (helper.read("/proc/sys/kernel/hostname"):gsub("\n$", ""))
end

local function rand_name(prefix)
  return ("%s%08x"):format(prefix, math.random(0, 0x7fffffff))
end

-- Children started with spawn and gates made by gate(), released after each test.
local children, gates = {}, {}

-- A one-way gate: a FIFO opened read-write before the clone, so the parent
-- never blocks on it and a child blocks in wait() until the parent opens it.
local function gate()
  local dir = helper.tmpdir()
  local path = dir .. "/gate"
  assert(helper.sh("mkfifo " .. helper.quote(path)))
  local f = assert(io.open(path, "r+"))
  f:setvbuf("no")
  local g = { dir = dir, f = f }
  function g.wait() return f:read("l") end
  function g.open(line) f:write((line or "go"), "\n") end
  gates[#gates + 1] = g
  return g
end

-- Run fn in a child made by clone(...) (ns.clone by default); the child
-- exits with fn's integer result (0 for none) or 99 when fn raises.
local function spawn(fn, clone, ...)
  io.stdout:flush()
  io.stderr:flush()
  local pid, pidfd = assert((clone or ns.clone)(...))
  if pid == 0 then
    local ok, rc = pcall(fn)
    if not ok then io.stderr:write("child: ", tostring(rc), "\n") end
    proc._exit(ok and (rc or 0) or 99)
  end
  children[pid] = true
  return pid, pidfd
end

-- Reap a spawned child; returns how, code.
local function reap(pid)
  local r, how, code = proc.waitpid(pid)
  assert(r == pid, how)
  children[pid] = nil
  return how, code
end

local function assert_exit(pid, want)
  local how, code = reap(pid)
  assert.same({ "exited", want or 0 }, { how, code })
end

after_each(function()
  for _, g in ipairs(gates) do
    g.open("stop")
  end
  for pid in pairs(children) do
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    proc.waitpid(pid)
  end
  children = {}
  for _, g in ipairs(gates) do
    g.f:close()
    helper.rmtree(g.dir)
  end
  gates = {}
end)

teardown(function()
  helper.cleanup_rootless_tree()
end)

-- Prepended to run_isolated code: core, and T(...) printing a tuple as a|b|c.
local PRE = [[
local core = require "nslua.core"
local ns, proc, E = core.ns, core.proc, core.errno
local function T(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local s = f:read("a")
  f:close()
  return (s:gsub("\n$", ""))
end
]]

-- Run code with PRE in a fresh lua5.4; V1.. are the extra arguments.  Returns output.
local function isolated(code, ...)
  local vars = {}
  for i, v in ipairs { ... } do
    vars[#vars + 1] = ("local V%d = %q\n"):format(i, v)
  end
  local ok, out = helper.run_isolated(table.concat(vars) .. PRE .. code)
  assert(ok, out)
  return out
end

-- Run PRE .. code as the unprivileged test user (helper.run_rootless also
-- works under `make sanitize`).
local function rootless(code)
  local ok, out = helper.run_rootless(PRE .. code)
  assert(ok, out)
  return out
end

-- The outputs' lines as a list.
local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- Whether fd of the busted process has O_CLOEXEC, from /proc/self/fdinfo.
local function cloexec(fd)
  local flags = helper.read(("/proc/self/fdinfo/%d"):format(fd)):match("flags:%s+(%d+)")
  return (tonumber(flags, 8) & 0x80000) ~= 0
end

-- assert.same for a failure triple with a formatted message.
local function triple(code, msg, ...)
  assert.same({ nil, msg, code }, { ... })
end

local function pid_max()
  return tonumber(helper.read("/proc/sys/kernel/pid_max"))
end

describe("nslua.core.ns", function()
  describe("clone", function()
    it("rejects unknown namespace names", function()
      assert.has_error(function() ns.clone { nte = true } end,
        "bad argument #1 to 'clone' (unknown flag 'nte' " .. VALID .. ")")
      assert.has_error(function() ns.clone { net = 1 } end,
        "bad argument #1 to 'clone' (flag 'net' must be a boolean)")
    end)

    it("refuses 'time'", function()
      assert.has_error(function() ns.clone { time = true } end,
        "bad argument #1 to 'clone' ('time' is not a clone flag: "
        .. "unshare{time = true}, offsets, then clone)")
    end)

    it("returns 0 in the child and the pid in the parent", function()
      local g = gate()
      local pid = spawn(function()
        g.wait()
        return 7
      end)
      assert.is_true(pid > 0)
      local ppid = helper.read("/proc/" .. pid .. "/stat"):match("^%d+ %b() %a (%d+)")
      assert.equal(mypid(), tonumber(ppid))
      g.open()
      assert_exit(pid, 7)
    end)

    it("puts the child in new namespaces the parent does not share #priv", function()
      if not priv() then return end
      local g = gate()
      local pid = spawn(function() g.wait() end, ns.clone, { uts = true, ipc = true, net = true })
      for _, t in ipairs { "uts", "ipc", "net" } do
        assert.are_not.equal(ns.id(0, t), ns.id(pid, t), t)
      end
      for _, t in ipairs { "mnt", "pid", "user", "cgroup" } do
        assert.equal(ns.id(0, t), ns.id(pid, t), t)
      end
      g.open()
      assert_exit(pid)
    end)

    it("fails with EPERM for a rootless caller without a user namespace", function()
      local out = rootless([[
        io.stdout:flush()
        T(ns.clone{net = true})
      ]])
      assert.equal("nil|clone: Operation not permitted|" .. E.EPERM .. "\n", out)
    end)

    it("stops the child's collector: no parent finalizer runs in the child", function()
      local dir = helper.tmpdir()
      local log = dir .. "/gc.log"
      local out = isolated([[
        local function self_pid()
          local f = io.open("/proc/self/stat")
          local n = f:read("n")
          f:close()
          return n
        end
        local mt = {__gc = function()
          local f = io.open(V1, "a")
          f:write(self_pid(), "\n")
          f:close()
        end}
        local flags = {}
        collectgarbage("collect")
        setmetatable({}, mt)     -- garbage from here on, not yet finalized
        io.stdout:flush()
        -- No allocation (so no collector step) between here and both clones.
        local a = ns.clone(flags)
        if a == 0 then
          local running = collectgarbage("isrunning")
          for i = 1, 300000 do local t = {i} end   -- many automatic cycles, if any ran
          proc._exit(running and 1 or 0)
        end
        local b = ns.clone(flags)
        if b == 0 then           -- control: the same child with the collector restarted
          collectgarbage("restart")
          for i = 1, 300000 do local t = {i} end
          proc._exit(0)
        end
        T(proc.waitpid(a))
        T(proc.waitpid(b))
        collectgarbage("collect")
        T(a, b, self_pid(), collectgarbage("isrunning"))
      ]], log)
      local l = lines(out)
      local a, b, me, running = l[3]:match("^(%d+)|(%d+)|(%d+)|(%a+)$")
      assert.equal("true", running)
      assert.matches("^" .. a .. "|exited|0|table: ", l[1])
      assert.matches("^" .. b .. "|exited|0|table: ", l[2])
      local written = {}
      for _, p in ipairs(lines(helper.read(log) or "")) do written[p] = true end
      helper.rmtree(dir)
      assert.is_true(written[b] == true, "control child did not run the finalizer: " .. out)
      assert.is_true(written[me] == true, "parent did not run the finalizer: " .. out)
      assert.is_nil(written[a], "finalizer ran in the clone child")
    end)

    it("raises in a multi-threaded process", function()
      local dir = helper.tmpdir()
      local src, so = dir .. "/thr.c", dir .. "/thr.so"
      local f = assert(io.open(src, "w"))
      f:write([[
#include <pthread.h>
#include <unistd.h>
static void *idle (void *p) { for (;;) pause(); return p; }
__attribute__((constructor)) static void start (void) {
  pthread_t t;
  pthread_create(&t, NULL, idle, NULL);
}
]])
      f:close()
      local built = helper.sh(("env -u LD_PRELOAD cc -shared -fPIC -o %s %s -lpthread")
        :format(helper.quote(so), helper.quote(src)))
      if not built then
        helper.rmtree(dir)
        return pending("no C compiler to build a thread-starting preload")
      end
      local ok, out = helper.run_isolated(PRE .. [[
        T(sh("ls /proc/" .. io.open("/proc/self/stat"):read("n") .. "/task | wc -l"))
        T(pcall(ns.clone, {}))
        T(pcall(ns.clone3, {}))
      ]], ("env LD_PRELOAD=%s"):format(helper.quote((helper.san_preload and helper.san_preload .. " " or "") .. so)))
      helper.rmtree(dir)
      assert(ok, out)
      assert.same({ "2",
        "false|clone: the process has 2 threads; nslua needs a single-threaded process",
        "false|clone3: the process has 2 threads; nslua needs a single-threaded process",
      }, lines(out))
    end)
  end)

  describe("clone3", function()
    it("rejects bad flags and options", function()
      assert.has_error(function() ns.clone3 { nte = true } end,
        "bad argument #1 to 'clone3' (unknown flag 'nte' " .. VALID .. ")")
      assert.has_error(function() ns.clone3 { time = true } end,
        "bad argument #1 to 'clone3' ('time' is not a clone flag: "
        .. "unshare{time = true}, offsets, then clone)")
      assert.has_error(function() ns.clone3({}, { cgrp = 3 }) end,
        "bad argument #2 to 'clone3' (unknown option 'cgrp' (valid: cgroup))")
      assert.has_error(function() ns.clone3({}, { [1] = 3 }) end,
        "bad argument #2 to 'clone3' (option names must be strings)")
      assert.has_error(function() ns.clone3({}, { cgroup = "/sys/fs/cgroup" }) end,
        "bad argument #2 to 'clone3' (option 'cgroup' must be an fd box or integer)")
      assert.has_error(function() ns.clone3({}, { cgroup = -1 }) end,
        "bad argument #2 to 'clone3' (option 'cgroup': fd out of range)")
      local box = assert(ns.open(0, "net"))
      box:close()
      assert.has_error(function() ns.clone3({}, { cgroup = box }) end,
        "bad argument #2 to 'clone3' (option 'cgroup': attempt to use a closed fd)")
      assert.has_error(function() ns.clone3({}, 3) end,
        "bad argument #2 to 'clone3' (table expected, got number)")
    end)

    it("fails with EBADF when the cgroup fd is not a cgroup", function()
      local box = assert(ns.open(0, "net"))
      io.stdout:flush()
      local pid, msg, code = ns.clone3({}, { cgroup = box })
      if pid == 0 then proc._exit(0) end
      box:close()
      if pid then reap(pid) end
      assert.same({ nil, "clone3: Bad file descriptor", E.EBADF }, { pid, msg, code })
    end)

    it("returns the pid and a pidfd box; the child gets 0 and no pidfd", function()
      local g = gate()
      io.stdout:flush()
      local r = table.pack(ns.clone3 {})
      if r[1] == 0 then
        g.wait()
        proc._exit(r.n == 1 and 0 or 1)
      end
      local pid, pidfd = r[1], r[2]
      children[pid] = true
      assert.equal(2, r.n)
      assert.equal("userdata", type(pidfd))
      assert.matches("^nslua.fd %(%d+%)$", tostring(pidfd))
      local n = pidfd:fileno()
      local _, link = helper.sh(("readlink /proc/%d/fd/%d"):format(mypid(), n))
      assert.equal("anon_inode:[pidfd]\n", link)
      assert.is_true(cloexec(n))
      local _, theirs = helper.sh(("readlink /proc/%d/fd/*"):format(pid))
      assert.is_nil(theirs:find("pidfd", 1, true), "the child holds a pidfd")
      g.open()
      assert_exit(pid)
      assert.is_true(pidfd:close())
    end)

    it("gives a pidfd that joins the child's uts namespace #priv", function()
      if not priv() then return end
      local name = rand_name("nslua-")
      local host = hostname()
      local g = gate()
      local a, pidfd = spawn(function()
        g.wait()
        return hostname() == name and 0 or 1
      end, ns.clone3, { uts = true })
      assert.are_not.equal(ns.id(0, "uts"), ns.id(a, "uts"))
      local b = spawn(function()
        assert(ns.setns(pidfd, { uts = true }))
        assert(ns.id(0, "uts") == ns.id(a, "uts"), "not in a's uts namespace")
        assert(ns.sethostname(name))
      end)
      assert_exit(b)
      assert.equal(host, hostname())
      g.open()
      assert_exit(a)
      pidfd:close()
    end)

    it("starts the child in a cgroup (CLONE_INTO_CGROUP) #priv", function()
      if not priv() then return end
      local root = "/sys/fs/cgroup/unified"
      if not helper.exists(root .. "/cgroup.procs") then
        return pending("no cgroup2 hierarchy at " .. root)
      end
      local name = rand_name("nslua-ns-spec-")
      local dir = root .. "/" .. name
      local tracker = helper.track { gone = { dir } }
      assert(helper.sh("mkdir " .. helper.quote(dir)))
      finally(function() os.execute("rmdir " .. helper.quote(dir) .. " 2>/dev/null") end)
      -- fd 3 is the cgroup directory, opened by the shell (Lua cannot open one).
      local g = gate()
      local ok, out = helper.run_isolated(("local V1, V2 = %q, %q\n"):format(dir, g.dir .. "/gate")
        .. PRE .. [[
        local g = assert(io.open(V2, "r+"))
        io.stdout:flush()
        local pid, pidfd = ns.clone3({}, {cgroup = 3})
        if pid == 0 then
          g:read("l")
          proc._exit(0)
        end
        local cg = io.open("/proc/" .. pid .. "/cgroup"):read("a")
        T(pid, cg:match("%f[^\n]0::(%S*)"))
        T((io.open(V1 .. "/cgroup.procs"):read("a"):gsub("\n", " ")))
        g:write("go\n")
        g:flush()
        T(proc.waitpid(pid))
      ]], ("3<%s"):format(helper.quote(dir)))
      assert(ok, out)
      local l = lines(out)
      local pid = l[1]:match("^(%d+)|")
      assert.is_truthy(pid, out)
      assert.equal(pid .. "|/" .. name, l[1])
      assert.equal(pid .. " ", l[2])
      assert.matches("^" .. pid .. "|exited|0|table: ", l[3])
      assert.equal("", helper.read(dir .. "/cgroup.procs"))
      assert(helper.sh("rmdir " .. helper.quote(dir)))
      assert.is_false(helper.exists(dir))
      helper.assert_released(tracker)
    end)
  end)

  describe("setns", function()
    it("rejects bad types, sets and fds", function()
      local box = assert(ns.open(0, "net"))
      assert.has_error(function() ns.setns(box, "nett") end,
        "bad argument #2 to 'setns' (invalid option 'nett')")
      assert.has_error(function() ns.setns(box, { nte = true }) end,
        "bad argument #2 to 'setns' (unknown flag 'nte' " .. VALID .. ")")
      assert.has_error(function() ns.setns(box, {}) end,
        "bad argument #2 to 'setns' (empty namespace set)")
      assert.has_error(function() ns.setns(-1) end,
        "bad argument #1 to 'setns' (fd out of range)")
      assert.has_error(function() ns.setns("3") end,
        "bad argument #1 to 'setns' (fd box or integer expected, got string)")
      box:close()
      assert.has_error(function() ns.setns(box) end,
        "bad argument #1 to 'setns' (attempt to use a closed fd)")
    end)

    it("fails with EINVAL on a non-namespace fd or the wrong type", function()
      local out = isolated([[
        local box = assert(ns.open(0, "net"))
        T(ns.setns(1))
        T(ns.setns(box, "uts"))
        T(ns.setns(box:fileno(), "uts"))
      ]])
      assert.same({
        "nil|setns 'any': Invalid argument|" .. E.EINVAL,
        "nil|setns 'uts': Invalid argument|" .. E.EINVAL,
        "nil|setns 'uts': Invalid argument|" .. E.EINVAL,
      }, lines(out))
    end)

    it("fails with ESRCH on the pidfd of a reaped process", function()
      local a, pidfd = spawn(function() end, ns.clone3, {})
      assert_exit(a)
      local b = spawn(function()
        local ok, msg, code = ns.setns(pidfd, { uts = true, net = true })
        assert(ok == nil and msg == "setns 'net uts': No such process" and code == E.ESRCH,
          tostring(msg))
      end)
      assert_exit(b)
      pidfd:close()
    end)

    it("joins one namespace through an ns fd #priv", function()
      if not priv() then return end
      local g = gate()
      local a = spawn(function() g.wait() end, ns.clone, { net = true })
      local box = assert(ns.open(a, "net"))
      local b = spawn(function()
        assert(ns.setns(box, "net"))
        assert(ns.id(0, "net") == ns.id(a, "net"), "not in a's net namespace")
      end)
      assert_exit(b)
      local c = spawn(function()
        assert(ns.setns(box:fileno()))
        assert(ns.id(0, "net") == ns.id(a, "net"), "not in a's net namespace")
      end)
      assert_exit(c)
      box:close()
      g.open()
      assert_exit(a)
    end)

    it("joins several namespaces of a process through its pidfd #priv", function()
      if not priv() then return end
      local g = gate()
      local a, pidfd = spawn(function() g.wait() end, ns.clone3,
        { uts = true, net = true, ipc = true })
      local b = spawn(function()
        assert(ns.setns(pidfd, { uts = true, net = true }))
        assert(ns.id(0, "uts") == ns.id(a, "uts"), "uts")
        assert(ns.id(0, "net") == ns.id(a, "net"), "net")
        assert(ns.id(0, "ipc") ~= ns.id(a, "ipc"), "ipc joined too")
      end)
      assert_exit(b)
      g.open()
      assert_exit(a)
      pidfd:close()
    end)
  end)

  describe("open", function()
    it("rejects bad pids and types", function()
      assert.has_error(function() ns.open(-1, "net") end,
        "bad argument #1 to 'open' (pid must be >= 0)")
      assert.has_error(function() ns.open(1 << 40, "net") end,
        "bad argument #1 to 'open' (pid out of range)")
      assert.has_error(function() ns.open(0, "any") end,
        "bad argument #2 to 'open' (invalid option 'any')")
      assert.has_error(function() ns.open(0) end,
        "bad argument #2 to 'open' (string expected, got no value)")
    end)

    it("fails with ENOENT for a pid that does not exist", function()
      local p = pid_max()
      triple(E.ENOENT, ("open '/proc/%d/ns/net': No such file or directory"):format(p),
        ns.open(p, "net"))
    end)

    it("opens namespace files close-on-exec", function()
      for _, t in ipairs { "cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
                           "time", "time_for_children", "user", "uts" } do
        local box = assert(ns.open(0, t))
        assert.matches("^nslua.fd %(%d+%)$", tostring(box))
        local _, link = helper.sh(("readlink /proc/%d/fd/%d"):format(mypid(), box:fileno()))
        assert.matches("^" .. t:match("^[a-z]+") .. ":%[" .. ns.id(0, t) .. "%]\n$", link)
        assert.is_true(cloexec(box:fileno()))
        assert.equal(ns.id(0, t), ns.id(box))
        assert.is_true(box:close())
      end
      local box = assert(ns.open(mypid(), "net"))
      assert.equal(ns.id(0, "net"), ns.id(box, "net"))
      box:close()
    end)
  end)

  describe("id", function()
    it("rejects bad arguments", function()
      assert.has_error(function() ns.id(-5, "net") end,
        "bad argument #1 to 'id' (pid must be >= 0)")
      assert.has_error(function() ns.id(0, "nett") end,
        "bad argument #2 to 'id' (invalid option 'nett')")
      assert.has_error(function() ns.id(0) end,
        "bad argument #2 to 'id' (string expected, got no value)")
      assert.has_error(function() ns.id("net") end,
        "bad argument #1 to 'id' (fd box or integer expected, got string)")
      local box = assert(ns.open(0, "net"))
      assert.has_error(function() ns.id(box, "nett") end,
        "bad argument #2 to 'id' (invalid option 'nett')")
      box:close()
      assert.has_error(function() ns.id(box) end,
        "bad argument #1 to 'id' (attempt to use a closed fd)")
    end)

    it("fails for a dead pid, a box of another type, a box that is no namespace", function()
      local p = pid_max()
      assert.same({ nil, ("id '/proc/%d/ns/uts': No such file or directory"):format(p), E.ENOENT },
        { ns.id(p, "uts") })
      local box = assert(ns.open(0, "net"))
      assert.same({ nil, "id 'uts': Invalid argument", E.EINVAL }, { ns.id(box, "uts") })
      box:close()
      local pid, pidfd = spawn(function() end, ns.clone3, {})
      assert_exit(pid)
      assert.same({ nil, "id: Inappropriate ioctl for device", ENOTTY }, { ns.id(pidfd) })
      pidfd:close()
    end)

    it("is the inode of /proc/<pid>/ns/<type>", function()
      local _, out = helper.sh("stat -L -c %i /proc/self/ns/net /proc/self/ns/uts")
      local l = lines(out)
      -- the shell shares the busted process's namespaces
      assert.equal(tonumber(l[1]), ns.id(0, "net"))
      assert.equal(tonumber(l[2]), ns.id(mypid(), "uts"))
      assert.are_not.equal(ns.id(0, "net"), ns.id(0, "uts"))
    end)
  end)

  describe("unshare", function()
    it("rejects unknown namespace names", function()
      assert.has_error(function() ns.unshare { nte = true } end,
        "bad argument #1 to 'unshare' (unknown flag 'nte' " .. VALID .. ")")
      assert.has_error(function() ns.unshare() end,
        "bad argument #1 to 'unshare' (table expected, got no value)")
    end)

    it("fails with EPERM for a rootless caller without a user namespace", function()
      assert.equal("nil|unshare: Operation not permitted|" .. E.EPERM .. "\n",
        rootless("T(ns.unshare{uts = true})"))
    end)

    it("moves a child into new namespaces #priv", function()
      if not priv() then return end
      local out = isolated([[
        local before = {net = ns.id(0, "net"), uts = ns.id(0, "uts"), mnt = ns.id(0, "mnt")}
        T(ns.unshare{net = true, uts = true})
        T(ns.id(0, "net") ~= before.net, ns.id(0, "uts") ~= before.uts,
          ns.id(0, "mnt") == before.mnt)
      ]])
      assert.equal("true\ntrue|true|true\n", out)
    end)
  end)

  describe("sethostname and setdomainname", function()
    it("reject names longer than 64 bytes", function()
      assert.has_error(function() ns.sethostname(("x"):rep(65)) end,
        "bad argument #1 to 'sethostname' (hostname must be 1..64 bytes)")
      assert.has_error(function() ns.sethostname("") end,
        "bad argument #1 to 'sethostname' (hostname must be 1..64 bytes)")
      assert.has_error(function() ns.setdomainname(("x"):rep(65)) end,
        "bad argument #1 to 'setdomainname' (domainname must be at most 64 bytes)")
      assert.has_error(function() ns.setdomainname() end,
        "bad argument #1 to 'setdomainname' (string expected, got no value)")
    end)

    it("fail with EPERM for a rootless caller", function()
      local out = rootless([[
        T(ns.sethostname("nslua-x"))
        T(ns.setdomainname("nslua-x"))
      ]])
      assert.same({
        "nil|sethostname 'nslua-x': Operation not permitted|" .. E.EPERM,
        "nil|setdomainname 'nslua-x': Operation not permitted|" .. E.EPERM,
      }, lines(out))
    end)

    it("change the names inside a uts namespace only #priv", function()
      if not priv() then return end
      local host, domain = hostname(), helper.read("/proc/sys/kernel/domainname")
      local name = rand_name("nslua-")
      local out = isolated([[
        assert(ns.unshare{uts = true})
        T(ns.sethostname(V1), ns.setdomainname(V1 .. ".test"))
        T(io.open("/proc/sys/kernel/hostname"):read("l"),
          io.open("/proc/sys/kernel/domainname"):read("l"))
        T(ns.setdomainname(""), io.open("/proc/sys/kernel/domainname"):read("l"))
      ]], name)
      assert.same({ "true|true", name .. "|" .. name .. ".test", "true|" }, lines(out))
      assert.equal(host, hostname())
      assert.equal(domain, helper.read("/proc/sys/kernel/domainname"))
    end)
  end)

  describe("set_time_offsets", function()
    it("rejects bad clocks and offsets", function()
      assert.has_error(function() ns.set_time_offsets { realtime = 1 } end,
        "bad argument #1 to 'set_time_offsets' "
        .. "(unknown clock 'realtime' (valid: boottime monotonic))")
      assert.has_error(function() ns.set_time_offsets { monotonic = "1" } end,
        "bad argument #1 to 'set_time_offsets' (offset 'monotonic' must be a number)")
      assert.has_error(function() ns.set_time_offsets { boottime = 0 / 0 } end,
        "bad argument #1 to 'set_time_offsets' (offset 'boottime' out of range)")
      assert.has_error(function() ns.set_time_offsets { boottime = math.huge } end,
        "bad argument #1 to 'set_time_offsets' (offset 'boottime' out of range)")
      assert.has_error(function() ns.set_time_offsets { [1] = 5 } end,
        "bad argument #1 to 'set_time_offsets' (clock names must be strings)")
      assert.has_error(function() ns.set_time_offsets(5) end,
        "bad argument #1 to 'set_time_offsets' (table expected, got number)")
    end)

    it("fails with EACCES outside a fresh time namespace, ERANGE out of range #priv", function()
      if not priv() then return end
      local out = isolated([[
        T(ns.set_time_offsets{boottime = 1})          -- the initial time namespace
        assert(ns.unshare{time = true})
        T(ns.set_time_offsets{monotonic = -1e12})
        io.stdout:flush()
        local pid = ns.clone{}
        if pid == 0 then proc._exit(0) end
        proc.waitpid(pid)
        T(ns.set_time_offsets{boottime = 1})          -- a process has entered it
      ]])
      local f = "nil|set_time_offsets '/proc/self/timens_offsets': %s|%d"
      assert.same({
        f:format("Permission denied", E.EACCES),
        f:format("Numerical result out of range", E.ERANGE),
        f:format("Permission denied", E.EACCES),
      }, lines(out))
    end)

    it("shifts the clocks of the namespace's processes #priv", function()
      if not priv() then return end
      -- After unshare{time}, glibc's popen and system fail (clone with
      -- CLONE_VM into another time namespace is EINVAL): measure in a child.
      local out = isolated([[
        -- /proc/uptime shows the reader's boottime: read it from Lua itself.
        local function uptime() return io.open("/proc/uptime"):read("n") end
        local function mono()
          return tonumber(sh("env -u LD_PRELOAD perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC "
                             .. "-e 'print clock_gettime(CLOCK_MONOTONIC)'"))
        end
        local m0 = mono()
        assert(ns.unshare{time = true})
        T(ns.id(0, "time") ~= ns.id(0, "time_for_children"))
        T(ns.set_time_offsets{boottime = 1000.25, monotonic = 3600})
        T(ns.set_time_offsets{})
        io.stdout:flush()
        local u0 = uptime()
        local pid = ns.clone{}
        if pid == 0 then
          local u1, m1 = uptime(), mono()
          T(u1 - u0, m1 and m0 and m1 - m0)
          T(ns.id(0, "time"))
          io.write(io.open("/proc/self/timens_offsets"):read("a"))
          io.stdout:flush()
          proc._exit(0)
        end
        proc.waitpid(pid)
        T(ns.id(0, "time_for_children"), ns.id(0, "time"))
      ]])
      local l = lines(out)
      assert.equal("true", l[1])
      assert.equal("true", l[2])
      assert.equal("true", l[3])
      local du, dm = l[4]:match("^(%S+)|(%S+)$")
      du = tonumber(du)
      assert.is_true(du > 1000.2 and du < 1010, "uptime moved by " .. du)
      -- CLOCK_MONOTONIC is read by perl (Time::HiRes); without it, only boottime is measured.
      if dm ~= "nil" or helper.sh("env -u LD_PRELOAD perl -MTime::HiRes -e 1") then
        dm = assert(tonumber(dm), "perl could not read CLOCK_MONOTONIC")
        assert.is_true(dm > 3600 and dm < 3630, "monotonic moved by " .. dm)
      end
      assert.equal(l[8], l[5] .. "|" .. ns.id(0, "time"))
      assert.matches("^monotonic%s+3600%s+0$", l[6])
      assert.matches("^boottime%s+1000%s+250000000$", l[7])
    end)
  end)

  describe("write_id_map", function()
    it("rejects bad arguments and maps the kernel would refuse", function()
      local function err(msg) return "bad argument #3 to 'write_id_map' (" .. msg .. ")" end
      assert.has_error(function() ns.write_id_map(-1, "uid", "0 0 1") end,
        "bad argument #1 to 'write_id_map' (pid must be >= 0)")
      assert.has_error(function() ns.write_id_map(0, "pid", "0 0 1") end,
        "bad argument #2 to 'write_id_map' (invalid option 'pid')")
      assert.has_error(function() ns.write_id_map(0, "uid", 5) end,
        "bad argument #3 to 'write_id_map' (string or table expected, got number)")
      assert.has_error(function() ns.write_id_map(0, "uid", "") end, err("empty id map"))
      assert.has_error(function() ns.write_id_map(0, "uid", {}) end, err("empty id map"))
      assert.has_error(function() ns.write_id_map(0, "uid", ("0 0 1\n"):rep(341)) end,
        err("id map has more than 340 lines"))
      local many = {}
      for i = 1, 341 do many[i] = { i, i, 1 } end
      assert.has_error(function() ns.write_id_map(0, "uid", many) end,
        err("id map has more than 340 lines"))
      local long = ("0 0 1 " .. (" "):rep(100) .. "\n"):rep(40)
      assert.has_error(function() ns.write_id_map(0, "uid", long) end,
        err("id map longer than 4095 bytes"))
      local wide = {}
      for i = 1, 340 do wide[i] = { 4000000000 + i, 4000000000 + i, 1 } end
      assert.has_error(function() ns.write_id_map(0, "uid", wide) end,
        err("id map longer than 4095 bytes"))
      assert.has_error(function() ns.write_id_map(0, "uid", { 0, 0, 1 }) end,
        err("entry 1 must be {inside, outside, count}"))
      assert.has_error(function() ns.write_id_map(0, "uid", { { 0, 0, 1 }, { 1, 1 } }) end,
        err("entry 2: count must be an integer in 1..4294967295"))
      assert.has_error(function() ns.write_id_map(0, "uid", { { 0, 0, 0 } }) end,
        err("entry 1: count must be an integer in 1..4294967295"))
      assert.has_error(function() ns.write_id_map(0, "gid", { { -1, 0, 1 } }) end,
        err("entry 1: inside must be an integer in 0..4294967294"))
      assert.has_error(function() ns.write_id_map(0, "gid", { { 0, 4294967295, 1 } }) end,
        err("entry 1: outside must be an integer in 0..4294967294"))
    end)

    it("fails with ENOENT for a pid that does not exist", function()
      local p = pid_max()
      triple(E.ENOENT, ("write_id_map '/proc/%d/uid_map': No such file or directory"):format(p),
        ns.write_id_map(p, "uid", "0 0 1"))
    end)

    it("fails with EPERM outside a new user namespace #priv", function()
      if not priv() then return end
      local g = gate()
      local a = spawn(function() g.wait() end)
      triple(E.EPERM, ("write_id_map '/proc/%d/uid_map': Operation not permitted"):format(a),
        ns.write_id_map(a, "uid", "0 0 1\n"))
      g.open()
      assert_exit(a)
    end)

    it("maps a user-namespace child once; a second write fails with EPERM #priv", function()
      if not priv() then return end
      local uid = tonumber((select(2, helper.sh("id -u"))))
      local gid = tonumber((select(2, helper.sh("id -g"))))
      local g = gate()
      local a = spawn(function()
        g.wait()
        local f = io.open("/proc/self/uid_map")
        local inside, outside, count = f:read("n", "n", "n")
        f:close()
        local gm = helper.read("/proc/self/gid_map")
        local sg = helper.read("/proc/self/setgroups")
        if inside ~= 0 or outside ~= uid or count ~= 1 then return 1 end
        if not gm:match("^%s*0%s+" .. gid .. "%s+1\n$") then return 2 end
        if sg ~= "deny\n" then return 3 end
        return 0
      end, ns.clone, { user = true })
      assert.equal("", helper.read("/proc/" .. a .. "/uid_map"))
      assert.is_true(ns.write_id_map(a, "uid", ("0 %d 1\n"):format(uid)))
      triple(E.EPERM, ("write_id_map '/proc/%d/uid_map': Operation not permitted"):format(a),
        ns.write_id_map(a, "uid", ("0 %d 1\n"):format(uid)))
      assert.is_true(ns.setgroups(a, "deny"))
      assert.is_true(ns.write_id_map(a, "gid", { { 0, gid, 1 } }))
      assert.matches("^%s*0%s+" .. uid .. "%s+1\n$", helper.read("/proc/" .. a .. "/uid_map"))
      g.open()
      assert_exit(a)
    end)

    it("lets a rootless process map itself in its own user namespace", function()
      local out = rootless([[
        T(ns.unshare{user = true})
        T(ns.setgroups(0, "deny"))
        T(ns.write_id_map(0, "uid", "0 4242 1"))
        T(ns.write_id_map(0, "gid", {{0, 4242, 1}}))
        T(sh("id -u"), sh("id -g"))
        T((io.open("/proc/self/uid_map"):read("a"):gsub("%s+", " ")))
      ]])
      assert.same({ "true", "true", "true", "true", "0|0", " 0 4242 1 " }, lines(out))
    end)
  end)

  describe("setgroups", function()
    it("rejects bad modes and pids", function()
      assert.has_error(function() ns.setgroups(0, "maybe") end,
        "bad argument #2 to 'setgroups' (invalid option 'maybe')")
      assert.has_error(function() ns.setgroups(-2, "deny") end,
        "bad argument #1 to 'setgroups' (pid must be >= 0)")
    end)

    it("fails with EPERM in the initial user namespace and once denied #priv", function()
      if not priv() then return end
      local g = gate()
      local a = spawn(function() g.wait() end)
      local f = "setgroups '/proc/%d/setgroups': Operation not permitted"
      assert.same({ nil, f:format(a), E.EPERM }, { ns.setgroups(a, "deny") })
      local b = spawn(function() g.wait() end, ns.clone, { user = true })
      assert.is_true(ns.setgroups(b, "deny"))
      assert.equal("deny\n", helper.read("/proc/" .. b .. "/setgroups"))
      assert.same({ nil, f:format(b), E.EPERM }, { ns.setgroups(b, "allow") })
      g.open()
      g.open()
      assert_exit(a)
      assert_exit(b)
    end)

    it("fails with ENOENT for a pid that does not exist", function()
      local p = pid_max()
      triple(E.ENOENT, ("setgroups '/proc/%d/setgroups': No such file or directory"):format(p),
        ns.setgroups(p, "deny"))
    end)
  end)
end)
