-- spec/core/proc_spec.lua - core.proc: the exec tail, the init, signals,
-- pidfds, poll, rlimits, prctl, ids, fds, ptys.
local helper = require "helper"
local core = require "nslua.core"
local proc, ns, errno = core.proc, core.ns, core.errno

local PATH = "/usr/local/bin:/usr/bin:/bin"

-- Everything from fd until end of file (or an error such as EIO on a pty).
local function readall(fd)
  local t = {}
  while true do
    local s = proc.read(fd, 65536)
    if s == nil or s == "" then break end
    t[#t + 1] = s
  end
  return table.concat(t)
end

-- Open fds of the busted process, after the collector closed unreachable
-- Lua files (the helper's own popen handles).
-- Counted in-process: `ls` under popen could read the table before popen
-- closed its end of the pipe in the parent (a +1 on a loaded machine).
local function my_fds()
  collectgarbage()
  collectgarbage()
  return #assert(core.mount.readdir("/proc/self/fd"))
end

local function status_field(text, name)
  return ("\n" .. text):match("\n" .. name .. ":[ \t]*([^\n]*)")
end

-- Fork a child that runs prep() (optional), then proc.exec(argv, env, opts)
-- with its stdout/stderr on a pipe and opts.status_fd set.  Returns the
-- status record, the output, and how/code from waitpid.
local function run_exec(argv, env, opts, prep)
  local sr, sw = assert(proc.pipe())
  local outr, outw = assert(proc.pipe())
  io.stdout:flush()
  io.stderr:flush()
  local pid = assert(ns.clone{})
  if pid == 0 then
    sr:close()
    outr:close()
    proc.dup2(outw, 1)
    proc.dup2(outw, 2)
    opts.status_fd = opts.status_fd == nil and sw or opts.status_fd or nil
    if prep then prep() end
    proc.exec(argv, env, opts)
    proc._exit(99)  -- not reached: exec never returns
  end
  sw:close()
  outw:close()
  local out = readall(outr)
  local status = readall(sr)
  sr:close()
  outr:close()
  local _, how, code = proc.waitpid(pid)
  return status, out, how, code
end

local function tmpfile(dir, name, content, mode)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(content)
  f:close()
  os.execute(("chmod %s %s"):format(mode, helper.quote(path)))
  return path
end

describe("nslua.core.proc", function()
  -- /proc/<pid>/task/<pid>/children lists zombies too, and needs no popen
  local function children()
    local pid = proc.getpid()
    local set = {}
    for k in (helper.read(("/proc/%d/task/%d/children"):format(pid, pid)) or ""):gmatch("%d+") do
      set[k] = true
    end
    return set
  end

  -- this spec's own children only: a child an earlier spec file of the same
  -- run left is that spec's leak (a pid is not reused while it is a child)
  local fds_before, kids_before
  setup(function()
    fds_before = my_fds()
    kids_before = children()
  end)
  teardown(function()
    assert.equal(fds_before, my_fds(), "fd leak in the busted process")
    local left = {}
    for k in pairs(children()) do
      if not kids_before[k] then left[#left + 1] = k end
    end
    table.sort(left)
    assert.equal("", table.concat(left, " "), "children left behind")
  end)

  describe("signal names", function()
    it("maps names and numbers both ways", function()
      assert.equal(15, proc.signum("TERM"))
      assert.equal(15, proc.signum("SIGTERM"))
      assert.equal(17, proc.signum("CHLD"))
      assert.equal("TERM", proc.signame(15))
      assert.equal("XFSZ", proc.signame(25))
      assert.equal("RTMIN", proc.signame(proc.signum("RTMIN")))
      assert.equal("RTMIN+2", proc.signame(proc.signum("RTMIN+2")))
      assert.is_nil(proc.signame(0))
      assert.is_nil(proc.signame(1000))
    end)

    it("raises on unknown names", function()
      assert.has_error(function() proc.signum("NOPE") end,
        "bad argument #1 to 'signum' (unknown signal 'NOPE')")
      assert.has_error(function() proc.kill(1, "TREM") end,
        "bad argument #2 to 'kill' (unknown signal 'TREM')")
      assert.has_error(function() proc.kill(1, 99) end,
        "bad argument #2 to 'kill' (signal number out of range)")
    end)
  end)

  describe("kill and pidfds", function()
    local function sleeper()
      io.stdout:flush()
      local pid = assert(ns.clone{})
      if pid == 0 then
        proc.poll({}, 10000)
        proc._exit(0)
      end
      return pid
    end

    it("signals a child by name and by number", function()
      local pid = sleeper()
      assert.is_true(proc.kill(pid, 0))
      assert.is_true(proc.kill(pid, "SIGTERM"))
      local _, how, code = proc.waitpid(pid)
      assert.same({"signaled", 15}, {how, code})
      pid = sleeper()
      assert.is_true(proc.kill(pid, 9))
      _, how, code = proc.waitpid(pid)
      assert.same({"signaled", 9}, {how, code})
    end)

    it("returns the failure triple for a missing process", function()
      local ok, msg, code = proc.kill(0x7ffffff0, "TERM")
      assert.is_nil(ok)
      assert.equal("kill '2147483632': No such process", msg)
      assert.equal(errno.ESRCH, code)
      ok, msg, code = proc.pidfd_open(0x7ffffff0)
      assert.is_nil(ok)
      assert.equal("pidfd_open '2147483632': No such process", msg)
      assert.equal(errno.ESRCH, code)
    end)

    it("sends a signal through a pidfd", function()
      local pid = sleeper()
      local pfd = assert(proc.pidfd_open(pid))
      assert.equal("nslua.fd", getmetatable(pfd).__name)
      assert.is_true(proc.pidfd_send_signal(pfd, "USR1"))
      local _, how, code = proc.waitpid(pid)
      assert.same({"signaled", 10}, {how, code})
      -- the pidfd turns readable when the process is gone, then ESRCH
      local ok, msg, e = proc.pidfd_send_signal(pfd, "TERM")
      assert.is_nil(ok)
      assert.equal("pidfd_send_signal: No such process", msg)
      assert.equal(errno.ESRCH, e)
      pfd:close()
    end)
  end)

  describe("poll", function()
    it("reports readiness, timeouts and hang-ups", function()
      local r, w = assert(proc.pipe())
      local e = { fd = r, events = { ["in"] = true } }
      assert.equal(0, proc.poll({ e }, 0))
      assert.is_false(e.revents["in"])
      assert.equal(1, proc.write(w, "x"))
      assert.equal(2, proc.poll({ e, { fd = w:fileno(), events = { out = true } } }, -1))
      assert.is_true(e.revents["in"])
      assert.equal("x", proc.read(r, 10))
      w:close()
      assert.equal(1, proc.poll({ e }, 1000))
      assert.is_true(e.revents.hup)
      assert.is_false(e.revents.nval)
      r:close()
    end)

    it("waits out its timeout", function()
      local r, w = assert(proc.pipe())
      local t0 = os.time()
      local c0 = os.clock()
      assert.equal(0, proc.poll({ { fd = r, events = { ["in"] = true } } }, 150))
      assert.is_true(os.time() - t0 <= 2)
      assert.is_true(os.clock() - c0 < 0.1)  -- slept, did not spin
      r:close()
      w:close()
    end)

    it("raises on misuse", function()
      assert.has_error(function() proc.poll({ 3 }, 0) end,
        "bad argument #1 to 'poll' (entry 1 must be a table)")
      assert.has_error(function() proc.poll({ { fd = "x" } }, 0) end,
        "bad argument #1 to 'poll' (entry 1 fd must be an fd box or integer)")
      local r, w = assert(proc.pipe())
      r:close()
      w:close()
      assert.has_error(function() proc.poll({ { fd = r } }, 0) end,
        "bad argument #1 to 'poll' (entry 1 fd: attempt to use a closed fd)")
      assert.has_error(function() proc.poll({ { fd = 0, events = { inn = true } } }, 0) end,
        "bad argument #1 to 'poll' (entry 1: unknown event 'inn' (valid: in out pri rdhup))")
      assert.has_error(function() proc.poll({}, -2) end,
        "bad argument #2 to 'poll' (timeout out of range)")
    end)
  end)

  describe("signals", function()
    it("reads blocked signals from a signalfd", function()
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        local old = assert(proc.sigprocmask("block", {"USR1", "SIGUSR2"}))
        assert(#old == 0)
        local prev = assert(proc.sigprocmask("block", {}))
        assert(#prev == 2 and prev[1] == 10 and prev[2] == 12, "previous mask returned")
        local sfd = assert(proc.signalfd({"USR1", "USR2"}, {nonblock = true}))
        local r, msg, e = proc.sigread(sfd)
        print(r, msg, e)
        assert(proc.kill(proc.getpid(), "USR2"))
        print(proc.sigread(sfd) == 12, select(2, proc.sigread(sfd)))
        assert(proc.kill(proc.getpid(), "USR1"))
        local sig, pid, name = proc.sigread(sfd)
        print(sig, pid == proc.getpid(), name)
        print(io.open("/proc/self/status"):read("a"):match("SigBlk:%s*(%x+)"))
        assert(proc.reset_signals())
        print(io.open("/proc/self/status"):read("a"):match("SigBlk:%s*(%x+)"))
      ]])
      assert.is_true(ok, out)
      assert.equal(table.concat({
        "nil\tread: Resource temporarily unavailable\t11",
        "true\tread: Resource temporarily unavailable\t11",
        "10\ttrue\tUSR1",
        "0000000000000a00",
        "0000000000000000", ""}, "\n"), out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() proc.sigprocmask("blok", {}) end,
        "bad argument #1 to 'sigprocmask' (invalid option 'blok')")
      assert.has_error(function() proc.sigprocmask("block", {"TERM", "NOPE"}) end,
        "bad argument #2 to 'sigprocmask' (unknown signal 'NOPE' at index 2)")
      assert.has_error(function() proc.signalfd({"TERM"}, {cloexec = true}) end,
        "bad argument #2 to 'signalfd' (unknown flag 'cloexec' (valid: nonblock))")
    end)
  end)

  describe("rlimits", function()
    it("reads limits, infinity as math.huge", function()
      local soft, hard = assert(proc.getrlimit("nofile"))
      assert.is_true(math.type(soft) == "integer" and soft <= hard)
      local _, ashard = proc.getrlimit("as")
      assert.equal(math.huge, ashard)
    end)

    it("sets limits in a child", function()
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        assert(proc.setrlimit("nofile", 50, 60))
        print(proc.getrlimit("nofile"))
        assert(proc.setrlimit("nofile", 40))
        print(proc.getrlimit("nofile"))
        assert(proc.setrlimit("core", 0, math.huge))
        print(proc.getrlimit("core"))
        print(io.open("/proc/self/limits"):read("a"):match("Max open files%s+(%d+%s+%d+)"))
      ]])
      assert.is_true(ok, out)
      assert.equal("50\t60\n40\t60\n0\tinf\n40                   60\n", out)
    end)

    it("fails and raises like the rest", function()
      local ok, msg, e = proc.setrlimit("nofile", 100, 50)
      assert.is_nil(ok)
      assert.equal("setrlimit 'nofile': Invalid argument", msg)
      assert.equal(errno.EINVAL, e)
      assert.has_error(function() proc.getrlimit("nofiles") end,
        "bad argument #1 to 'getrlimit' (invalid option 'nofiles')")
      assert.has_error(function() proc.setrlimit("nofile", -1) end,
        "bad argument #2 to 'setrlimit' (limit must be a non-negative integer or math.huge)")
      assert.has_error(function() proc.setrlimit("nofile", 1, 2.5) end,
        "bad argument #3 to 'setrlimit' (limit must be a non-negative integer or math.huge)")
    end)
  end)

  describe("set_title", function()
    it("makes comm and /proc/self/cmdline read the title, nothing of argv", function()
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        local function show()
          local f = io.open("/proc/self/cmdline", "rb")
          local c = f:read("a")
          f:close()
          print((c:gsub("%z", "|")), proc.prctl("get_name"))
        end
        assert(proc.set_title("a-title-longer-than-comm"))
        show()
        assert(proc.set_title("short"))
        show()
      ]])
      assert.is_true(ok, out)
      assert.equal("a-title-longer-than-comm|\ta-title-longer-\nshort|\tshort\n", out)
      assert.has_error(function() proc.set_title("") end,
        "bad argument #1 to 'set_title' (title must be 1 byte or more without NUL)")
    end)
  end)

  describe("new_session_keyring", function()
    it("leaves the inherited session keyring for a new one", function()
      if not helper.exists("/usr/bin/python3") then return pending("needs /usr/bin/python3") end
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        -- keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0) in a child
        local function session()
          local f = io.popen("env -u LD_PRELOAD /usr/bin/python3 -c 'import ctypes; l = ctypes.CDLL(None); "
            .. "l.syscall.restype = ctypes.c_long; print(l.syscall(250, 0, ctypes.c_long(-3), 0))'")
          local id = f:read("l")
          f:close()
          return id
        end
        local before = session()
        print(proc.new_session_keyring())
        local after = session()
        print(before ~= after, after == session(), tonumber(after) > 0)
      ]])
      assert.is_true(ok, out)
      assert.equal("true\ntrue\ttrue\ttrue\n", out)
    end)
  end)

  describe("prctl", function()
    it("sets and gets in a child", function()
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        assert(proc.prctl("name", "nslua-test"))
        print(io.open("/proc/self/comm"):read("l"), proc.prctl("get_name"))
        assert(proc.prctl("pdeathsig", "HUP"))
        print(proc.prctl("get_pdeathsig"))
        assert(proc.prctl("child_subreaper", true))
        print(proc.prctl("get_child_subreaper"))
        assert(proc.prctl("dumpable", false))
        print(proc.prctl("get_dumpable"))
        assert(proc.prctl("keepcaps", true))
        print(proc.prctl("get_keepcaps"))
        print(proc.prctl("get_no_new_privs"))
        assert(proc.prctl("no_new_privs", true))
        print(proc.prctl("get_no_new_privs"))
        print(io.open("/proc/self/status"):read("a"):match("NoNewPrivs:%s*(%d)"))
      ]])
      assert.is_true(ok, out)
      assert.equal("nslua-test\tnslua-test\n1\ntrue\nfalse\ntrue\nfalse\ntrue\n1\n", out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() proc.prctl("nosuch", 1) end,
        "bad argument #1 to 'prctl' (invalid option 'nosuch')")
      assert.has_error(function() proc.prctl("name", "sixteen-bytes-xx") end,
        "bad argument #2 to 'prctl' (name must be 1..15 bytes without NUL)")
      assert.has_error(function() proc.prctl("no_new_privs", false) end,
        "bad argument #2 to 'prctl' (no_new_privs cannot be unset)")
      assert.has_error(function() proc.prctl("dumpable", 1) end,
        "bad argument #2 to 'prctl' (boolean expected, got number)")
    end)

    it("pdeathsig kills a child whose parent died", function()
      local ok, out = helper.run_isolated([[
        local core = require "nslua.core"
        local proc, ns = core.proc, core.ns
        assert(proc.prctl("child_subreaper", true))
        -- hold: the grandchild blocks on it; ready: it says pdeathsig is set
        local function grandchild(deathsig)
          local hold_r, hold_w = assert(proc.pipe())
          local ready_r, ready_w = assert(proc.pipe())
          io.stdout:flush()
          local mid = assert(ns.clone{})
          if mid == 0 then
            local gc = assert(ns.clone{})
            if gc == 0 then
              if deathsig then assert(proc.prctl("pdeathsig", "KILL")) end
              hold_w:close()
              proc.write(ready_w, "r")
              local s = proc.read(hold_r, 1)  -- "" once every write end is gone
              proc._exit(s == "" and 7 or 8)
            end
            assert(proc.read(ready_r, 1) == "r")
            proc._exit(0)
          end
          ready_w:close()
          if not deathsig then hold_w:close() end
          print((select(2, proc.waitpid(mid))))
          local _, how, code = proc.waitpid(-1)
          print(how, code)
          hold_r:close(); ready_r:close()
          if deathsig then hold_w:close() end
        end
        grandchild(true)
        grandchild(false)
      ]])
      assert.is_true(ok, out)
      assert.equal("exited\nsignaled\t9\nexited\nexited\t7\n", out)
    end)
  end)

  describe("ids and sessions", function()
    it("returns ids", function()
      assert.equal(tonumber(select(2, helper.sh("id -u")):match("%d+")), proc.getuid())
      assert.is_true(proc.getpid() > 1)
      assert.is_true(proc.getppid() >= 1)
      assert.equal(proc.getgid(), proc.getegid())
      assert.equal(proc.getuid(), proc.geteuid())
    end)

    it("switches ids and sessions in a child #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = helper.run_isolated([[
        local proc = require("nslua.core").proc
        local sid = assert(proc.setsid())
        print(sid == proc.getpid(), select(3, proc.setsid()))
        assert(proc.setgroups({4244, 4245}))
        assert(proc.setresgid(4243, 4243, 4243))
        assert(proc.setresuid(4242, 4242, -1))
        local st = io.open("/proc/self/status"):read("a")
        print(st:match("Uid:%s*([^\n]*)"))
        print(st:match("Gid:%s*([^\n]*)"))
        print(st:match("Groups:%s*([^\n]-)%s*\n"))
        print(proc.getuid(), proc.getgid())
        assert(proc.setresuid(-1, -1, 4242))
        print(proc.setresuid(0, 0, 0))
        print(proc.setgroups({}))
      ]])
      assert.is_true(ok, out)
      assert.equal("true\t1\n4242\t4242\t0\t4242\n4243\t4243\t4243\t4243\n4244 4245\n"
        .. "4242\t4243\nnil\tsetresuid: Operation not permitted\t1\n"
        .. "nil\tsetgroups: Operation not permitted\t1\n", out)
    end)

    it("setfsuid, setfsgid: files made with the fs ids, EPERM when refused #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local dir = helper.tmpdir("0777")
      local ok, out = helper.run_isolated(([[
        local proc = require("nslua.core").proc
        print(proc.setfsgid(4243), proc.setfsuid(4242))
        assert(io.open(%q, "w")):close()
        -- the fs ids only: the real and effective ones stay
        print(proc.getuid(), proc.geteuid(), proc.getgid())
        print(proc.setfsuid(0), proc.setfsgid(0))
        assert(io.open(%q, "w")):close()
        -- an unprivileged process may switch only to one of its own ids
        assert(proc.setresgid(4243, 4243, 4243))
        assert(proc.setresuid(4242, 4242, 4242))
        print(proc.setfsuid(4242), proc.setfsgid(4243))
        print(proc.setfsuid(0))
        print(proc.setfsgid(0))
        print(proc.setfsuid(4242), proc.setfsgid(4243))
      ]]):format(dir .. "/as-fs", dir .. "/as-root"))
      local _, owners = helper.sh("stat -c '%n %u:%g' " .. helper.quote(dir) .. "/as-*")
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.equal("0\t0\n0\t0\t0\n4242\t4243\n4242\t4243\n"
        .. "nil\tsetfsuid: Operation not permitted\t1\n"
        .. "nil\tsetfsgid: Operation not permitted\t1\n4242\t4243\n", out)
      assert.equal(("%s/as-fs 4242:4243\n%s/as-root 0:0\n"):format(dir, dir), owners)
    end)

    it("setfsuid, setfsgid: misuse raises", function()
      assert.has_error(function() proc.setfsuid(-1) end,
        "bad argument #1 to 'setfsuid' (id out of range (0..4294967294))")
      assert.has_error(function() proc.setfsgid("x") end,
        "bad argument #1 to 'setfsgid' (number expected, got string)")
    end)

    it("raises on misuse", function()
      assert.has_error(function() proc.setresuid(-2, 0, 0) end,
        "bad argument #1 to 'setresuid' (id out of range)")
      assert.has_error(function() proc.setgroups({1, "x"}) end,
        "bad argument #1 to 'setgroups' (groups: element 2 is not a valid gid)")
    end)
  end)

  describe("fds", function()
    it("sealed_copy: a read-only copy that no fd, reopened or not, can change", function()
      local dir = helper.tmpdir()
      local f = assert(io.open(dir .. "/in", "w"))
      f:write("head\ncontent\n")
      f:close()
      local src = assert(proc.open(dir .. "/in", { rdonly = true }))
      assert.equal("head\n", proc.read(src, 5))
      local copy = assert(proc.sealed_copy(src, "spec-copy"))
      src:close()
      -- from the source's offset to its end, read at offset 0
      assert.equal("content\n", proc.read(copy, 100))
      local link = helper.read("/proc/self/fdinfo/" .. copy:fileno())
      assert.matches("flags:%s*0?2%d*0\n", link)
      local _, msg, e = proc.write(copy, "x")
      assert.equal(errno.EBADF, e, msg)
      -- reopened for writing: the seals belong to the file
      local path = "/proc/self/fd/" .. copy:fileno()
      local rw, oerr = proc.open(path, { wronly = true, append = true })
      assert.truthy(rw, oerr)
      _, msg, e = proc.write(rw, "x")
      assert.equal(errno.EPERM, e, msg)
      rw:close()
      _, msg, e = proc.open(path, { wronly = true, trunc = true })
      assert.equal(errno.EPERM, e, msg)
      assert.equal("content\n", helper.read(path))
      assert.equal("head\ncontent\n", helper.read(dir .. "/in"))
      copy:close()
      helper.rmtree(dir)
      -- a pipe has no end to copy to
      local r, w = assert(proc.pipe())
      local none
      none, msg, e = proc.sealed_copy(r)
      assert.is_nil(none)
      assert.equal(errno.ESPIPE, e, msg)
      r:close()
      w:close()
    end)

    it("write: a pipe without a reader is EPIPE, never SIGPIPE", function()
      local ok, out, code = helper.run_isolated([[
        local proc = require("nslua.core").proc
        local r, w = assert(proc.pipe())
        r:close()
        print(proc.write(w, "x"))
        -- and none is left pending for later
        proc.sigprocmask("block", { "PIPE" })
        local sfd = proc.signalfd({ "PIPE" })
        print(proc.poll({ { fd = sfd, events = { ["in"] = true } } }, 0))
      ]])
      assert.is_true(ok, out)
      assert.equal(0, code)
      assert.equal("nil\twrite: Broken pipe\t32\n0\n", out)
    end)

    it("pipes, reads and writes", function()
      local r, w = assert(proc.pipe({ nonblock = true }))
      local ok, msg, e = proc.read(r, 10)
      assert.is_nil(ok)
      assert.equal("read: Resource temporarily unavailable", msg)
      assert.equal(errno.EAGAIN, e)
      assert.equal(5, proc.write(w, "hello"))
      assert.equal("hel", proc.read(r:fileno(), 3))
      assert.equal("lo", proc.read(r, 100))
      -- close-on-exec from the start
      assert.matches("flags:%s*0?2%d%d%d%d%d%d", helper.read("/proc/self/fdinfo/" .. r:fileno()))
      w:close()
      assert.equal("", proc.read(r, 10))
      r:close()
      assert.has_error(function() proc.read(r, 1) end,
        "bad argument #1 to 'read' (attempt to use a closed fd)")
      assert.has_error(function() proc.pipe({ cloexec = true }) end,
        "bad argument #1 to 'pipe' (unknown flag 'cloexec' (valid: nonblock))")
      assert.has_error(function() proc.read(0, 0) end,
        "bad argument #2 to 'read' (size must be 1..64 MiB)")
    end)

    it("writes everything across short writes", function()
      local r, w = assert(proc.pipe())
      local big = ("x"):rep(1 << 20)  -- 16 pipe buffers
      io.stdout:flush()
      local pid = assert(ns.clone{})
      if pid == 0 then
        w:close()
        local n = #readall(r)
        proc._exit(n == #big and 0 or 1)
      end
      r:close()
      assert.equal(#big, proc.write(w, big))
      w:close()
      local _, how, code = proc.waitpid(pid)
      assert.same({"exited", 0}, {how, code})
    end)

    it("fails with the triple", function()
      local r, w = assert(proc.pipe())
      local ok, msg, e = proc.write(r, "x")
      assert.same({nil, "write: Bad file descriptor", errno.EBADF}, {ok, msg, e})
      ok, msg, e = proc.close(1 << 20)
      assert.same({nil, "close: Bad file descriptor", errno.EBADF}, {ok, msg, e})
      ok, msg, e = proc.dup2(1 << 20, 1 << 20 + 1)
      assert.is_nil(ok)
      assert.matches("^dup2", msg)
      assert.equal(errno.EBADF, e)
      r:close()
      w:close()
    end)

    it("socketpair is a two-way stream", function()
      local a, b = assert(proc.socketpair())
      assert.equal(4, proc.write(a, "ping"))
      assert.equal("ping", proc.read(b, 10))
      assert.equal(4, proc.write(b, "pong"))
      assert.equal("pong", proc.read(a, 10))
      a:close()
      assert.equal("", proc.read(b, 10))
      b:close()
    end)

    it("dup2 makes an inheritable copy; close and close_range", function()
      local r, w = assert(proc.pipe())
      local n = proc.dup2(r, 200)
      assert.equal(200, n)
      local flags = helper.read("/proc/self/fdinfo/200"):match("flags:%s*(%d+)")
      assert.equal(0, tonumber(flags, 8) & tonumber("2000000", 8))
      assert.is_true(proc.close(200))
      assert.is_nil(helper.read("/proc/self/fdinfo/200"))
      -- dup2 onto itself clears close-on-exec
      assert.equal(r:fileno(), proc.dup2(r, r:fileno()))
      flags = helper.read("/proc/self/fdinfo/" .. r:fileno()):match("flags:%s*(%d+)")
      assert.equal(0, tonumber(flags, 8) & tonumber("2000000", 8))
      proc.dup2(r, 201)
      proc.dup2(r, 202)
      assert.is_true(proc.close_range(201, 202, { cloexec = true }))
      flags = helper.read("/proc/self/fdinfo/202"):match("flags:%s*(%d+)")
      assert.is_true(tonumber(flags, 8) & tonumber("2000000", 8) ~= 0)
      assert.is_true(proc.close_range(201, 202))
      assert.is_nil(helper.read("/proc/self/fdinfo/201"))
      assert.is_nil(helper.read("/proc/self/fdinfo/202"))
      assert.has_error(function() proc.close(r) end,
        "bad argument #1 to 'close' (number expected, got nslua.fd)")
      assert.has_error(function() proc.close_range(5, 4) end,
        "bad argument #2 to 'close_range' (fd out of range)")
      r:close()
      w:close()
    end)

    it("opens files and takes locks", function()
      local dir = helper.tmpdir()
      finally(function()
        helper.rmtree(dir)
        assert.is_false(helper.exists(dir))
      end)
      local path = dir .. "/lock"
      local ok, msg, e = proc.open(path, { rdonly = true })
      assert.same({nil, "open '" .. path .. "': No such file or directory", errno.ENOENT},
        {ok, msg, e})
      local a = assert(proc.open(path, { creat = true, rdwr = true, excl = true }, 384))
      ok, msg, e = proc.open(path, { creat = true, wronly = true, excl = true })
      assert.same({nil, "open '" .. path .. "': File exists", errno.EEXIST}, {ok, msg, e})
      assert.equal("600", select(2, helper.sh("stat -c %a " .. path)):match("%d+"))
      assert.equal(3, proc.write(a, "abc"))
      local b = assert(proc.open(path, { rdonly = true }))
      assert.equal("abc", proc.read(b, 10))
      assert.is_true(proc.flock(a, "ex"))
      ok, msg, e = proc.flock(b, "sh", true)
      assert.same({nil, "flock: Resource temporarily unavailable", errno.EAGAIN}, {ok, msg, e})
      assert.is_true(proc.flock(a, "un"))
      assert.is_true(proc.flock(b, "sh", true))
      local d = assert(proc.open(dir, { directory = true, path = true }))
      d:close()
      ok, msg, e = proc.open(path, { directory = true })
      assert.is_nil(ok)
      assert.matches("Not a directory$", msg)
      assert.equal(errno.ENOTDIR, e)
      a:close()
      b:close()
      assert.has_error(function() proc.open(path, { rdonyl = true }) end,
        "bad argument #2 to 'open' (unknown flag 'rdonyl' (valid: append creat directory "
        .. "excl nofollow nonblock path rdonly rdwr tmpfile trunc wronly))")
      assert.has_error(function() proc.open(path, { wronly = true, rdwr = true }) end,
        "bad argument #2 to 'open' (at most one of rdonly, wronly, rdwr)")
      assert.has_error(function() proc.flock(0, "exx") end,
        "bad argument #2 to 'flock' (invalid option 'exx')")
    end)

    it("opens a pty pair with a window size", function()
      local m, s, path = assert(proc.openpty())
      assert.matches("^/dev/pts/%d+$", path)
      assert.is_true(proc.set_winsize(m, 24, 80))
      assert.same({24, 80}, {proc.get_winsize(s)})
      assert.equal(3, proc.write(s, "hi\n"))
      assert.equal("hi\r\n", proc.read(m, 10))
      local r, w = assert(proc.pipe())
      local ok, msg, e = proc.get_winsize(r)
      assert.same({nil, "ioctl 'TIOCGWINSZ': Inappropriate ioctl for device", 25}, {ok, msg, e})
      assert.has_error(function() proc.set_winsize(m, -1, 80) end,
        "bad argument #2 to 'set_winsize' (rows out of range)")
      r:close(); w:close(); m:close(); s:close()
    end)
  end)

  describe("exec", function()
    it("raises on misuse before any step", function()
      assert.has_error(function() proc.exec({}, {}, {}) end,
        "bad argument #1 to 'exec' (argv must not be empty)")
      assert.has_error(function() proc.exec({ "" }, {}, {}) end,
        "bad argument #1 to 'exec' (argv[1] must not be empty)")
      assert.has_error(function() proc.exec({ "ls", 3 }, {}, {}) end,
        "bad argument #1 to 'exec' (argv[2] must be a string)")
      assert.has_error(function() proc.exec({ "ls" }, { "NOEQ" }, {}) end,
        "bad argument #2 to 'exec' (env[1] must look like 'NAME=value')")
      assert.has_error(function() proc.exec({ "ls" }, { ["A=B"] = "x" }, {}) end,
        "bad argument #2 to 'exec' (invalid variable name 'A=B')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { bogus = 1 }) end,
        "bad argument #3 to 'exec' (unknown option 'bogus')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { status_fd = 1 }) end,
        "bad argument #3 to 'exec' (field 'status_fd' must be >= 3)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { uid = -1 }) end,
        "bad argument #3 to 'exec' (field 'uid' must be an id (0..2^32-2))")
      assert.has_error(function() proc.exec({ "ls" }, {}, { tty = 1 }) end,
        "bad argument #3 to 'exec' (field 'tty' must be a boolean)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { caps = { "net_bind_servic" } }) end,
        "bad argument #3 to 'exec' (unknown capability 'net_bind_servic')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { rlimits = { nofiles = 1 } }) end,
        "bad argument #3 to 'exec' (unknown rlimit 'nofiles')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { rlimits = { nofile = { 1 } } }) end,
        "bad argument #3 to 'exec' (rlimit 'nofile' must be {soft, hard})")
      assert.has_error(function() proc.exec({ "ls" }, {}, { seccomp = "1234567" }) end,
        "bad argument #3 to 'exec' (field 'seccomp' length must be a positive multiple of 8)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { seccomp_notify = string.rep("x", 8) }) end,
        "bad argument #3 to 'exec' (fields 'seccomp_notify' and 'notify_sock' go together)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { cgroup_procs = { "x" } }) end,
        "bad argument #3 to 'exec' (cgroup_procs[1] must be an fd box or integer)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { groups = { -3 } }) end,
        "bad argument #3 to 'exec' (field 'groups': element 1 is not a valid gid)")
    end)

    it("raises on misuse of the process options", function()
      assert.has_error(function() proc.exec({ "ls" }, {}, { cwd = {} }) end,
        "bad argument #3 to 'exec' (field 'cwd' must list 1..64 directories)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { cwd = { "/", 3 } }) end,
        "bad argument #3 to 'exec' (field 'cwd' must be a string)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { cwd = 3 }) end,
        "bad argument #3 to 'exec' (field 'cwd' must be a string or a list of strings)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { argv0 = 1 }) end,
        "bad argument #3 to 'exec' (field 'argv0' must be a string)")
      assert.has_error(function() proc.exec({ "ls" }, {}, { session = "old" }) end,
        "bad argument #3 to 'exec' (field 'session' must be 'new' or 'keep')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { session = "keep", tty = true }) end,
        "bad argument #3 to 'exec' (field 'tty' needs session 'new')")
      assert.has_error(function() proc.exec({ "ls" }, {}, { die_with_parent = 1 }) end,
        "bad argument #3 to 'exec' (field 'die_with_parent' must be a boolean)")
    end)

    it("enters the first directory it can, sets PWD, argv0, keeps the session", function()
      local status, out, how, code = run_exec({ "sh", "-c", "echo $0; pwd; echo $PWD; cut -d' ' -f6 /proc/self/stat" },
        { PATH = PATH, PWD = "/bogus" },
        { cwd = { "/nonexistent", "/usr", "/" }, set_pwd = true, argv0 = "zero", session = "keep",
          die_with_parent = true })
      assert.equal("", status)
      assert.same({ "exited", 0 }, { how, code })
      local sid = helper.read("/proc/self/stat"):match("^%d+ %b() %S %d+ %d+ (%d+)")
      assert.equal("zero\n/usr\n/usr\n" .. sid .. "\n", out)
      status = run_exec({ "true" }, {}, { cwd = { "/nonexistent", "/etc/hostname" } })
      assert.equal("exec cwd 20\n", status)
    end)

    it("runs the program with exactly the given environment", function()
      local status, out, how, code = run_exec({ "env" }, { "A=1", "B=two words", PATH = PATH }, {})
      assert.equal("", status)
      assert.same({"exited", 0}, {how, code})
      assert.equal("A=1\nB=two words\nPATH=" .. PATH .. "\n", out)
      status, out = run_exec({ "/usr/bin/env" }, { X = "y" }, {})
      assert.equal("", status)
      assert.equal("X=y\n", out)
    end)

    it("searches the default PATH and remembers EACCES", function()
      local dir = helper.tmpdir("0755")
      finally(function()
        helper.rmtree(dir)
        assert.is_false(helper.exists(dir))
      end)
      os.execute("mkdir " .. dir .. "/a " .. dir .. "/b")
      tmpfile(dir .. "/a", "prog", "#!/bin/sh\necho a\n", "0644")
      local status, out, how, code = run_exec({ "prog" }, { PATH = dir .. "/a:" .. dir .. "/b" }, {})
      assert.equal("exec execve 13\n", status)
      assert.same({"", "exited", 1}, {out, how, code})
      tmpfile(dir .. "/b", "prog", "#!/bin/sh\necho b\n", "0755")
      status, out = run_exec({ "prog" }, { PATH = dir .. "/a:" .. dir .. "/b" }, {})
      assert.same({"", "b\n"}, {status, out})
      status, out = run_exec({ "true" }, {}, {})  -- no PATH: /usr/local/bin:/usr/bin:/bin
      assert.same({"", ""}, {status, out})
    end)

    it("reports execve failures: missing, not executable, no #!", function()
      local dir = helper.tmpdir("0755")
      finally(function()
        helper.rmtree(dir)
        assert.is_false(helper.exists(dir))
      end)
      assert.equal("exec execve 2\n", (run_exec({ "nslua-no-such-program" }, { PATH = PATH }, {})))
      assert.equal("exec execve 2\n", (run_exec({ dir .. "/missing" }, {}, {})))
      local plain = tmpfile(dir, "plain", "#!/bin/sh\necho ran\n", "0644")
      assert.equal("exec execve 13\n", (run_exec({ plain }, {}, {})))
      local script = tmpfile(dir, "script", "echo ran\n", "0755")
      local status, out, how, code = run_exec({ script }, { PATH = PATH }, {})
      assert.equal("exec execve 8\n", status)  -- ENOEXEC: never handed to a shell
      assert.same({"", "exited", 1}, {out, how, code})
    end)

    it("exits 1 without a status fd", function()
      local status, out, how, code = run_exec({ "nslua-no-such-program" }, {}, { status_fd = false })
      assert.same({"", "", "exited", 1}, {status, out, how, code})
    end)

    it("changes directory, / by default", function()
      local status, out = run_exec({ "/bin/pwd" }, {}, {})
      assert.same({"", "/\n"}, {status, out})
      status, out = run_exec({ "/bin/pwd" }, {}, { cwd = "/tmp" })
      assert.same({"", "/tmp\n"}, {status, out})
      assert.equal("exec cwd 2\n", (run_exec({ "/bin/pwd" }, {}, { cwd = "/nonexistent-nslua" })))
      assert.equal("exec cwd 20\n", (run_exec({ "/bin/pwd" }, {}, { cwd = "/etc/passwd" })))
    end)

    it("sets rlimits and names the one that failed", function()
      local status, out = run_exec({ "/bin/grep", "Max open files", "/proc/self/limits" }, {},
        { rlimits = { nofile = 64, core = { 0, math.huge } } })
      assert.equal("", status)
      assert.matches("Max open files%s+64%s+64", out)
      assert.equal("exec rlimit 22 nofile\n",
        (run_exec({ "/bin/true" }, {}, { rlimits = { nofile = { 100, 50 } } })))
    end)

    it("cannot raise a hard rlimit after the id switch #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local _, hard = proc.getrlimit("nofile")
      assert.equal("exec rlimit 1 nofile\n", (run_exec({ "/bin/true" }, {},
        { uid = 4242, gid = 4242, groups = {}, rlimits = { nofile = hard + 1 } })))
    end)

    it("leaves only fds 0-2 (and keep_fds) open", function()
      local prep = function()
        local r = assert(proc.open("/dev/null", { rdonly = true }))
        proc.dup2(r, 10)  -- inheritable: exec must still close it
        proc.dup2(r, 11)
        proc.dup2(r, 1000)
      end
      local status, out = run_exec({ "/bin/ls", "/proc/self/fd" }, {}, {}, prep)
      assert.equal("", status)
      assert.equal("0\n1\n2\n3\n", out)  -- 3 is ls's own directory fd
      status, out = run_exec({ "/bin/ls", "/proc/self/fd" }, {}, { keep_fds = { 11 } }, prep)
      assert.equal("", status)
      assert.equal("0\n1\n11\n2\n3\n", out)
    end)

    it("starts a new session, with a controlling tty when asked", function()
      local sh = "read _ _ _ _ _ sid tty _ < /proc/self/stat; echo $sid $tty $$"
      local _, out = run_exec({ "/bin/sh", "-c", sh }, {}, {})
      local sid, tty, pid = out:match("(%d+) (%d+) (%d+)")
      assert.equal(pid, sid)
      assert.equal("0", tty)
      local m, s = assert(proc.openpty())
      local sr, sw = assert(proc.pipe())
      io.stdout:flush()
      local child = assert(ns.clone{})
      if child == 0 then
        m:close()
        proc.dup2(s, 0); proc.dup2(s, 1); proc.dup2(s, 2)
        proc.exec({ "/bin/sh", "-c", sh }, {}, { status_fd = sw, tty = true })
      end
      s:close()
      sw:close()
      out = readall(m)  -- ends in EIO once the slave is closed
      assert.equal("", readall(sr))
      proc.waitpid(child)
      m:close()
      sr:close()
      sid, tty, pid = out:match("(%d+) (%d+) (%d+)")
      assert.equal(pid, sid)
      assert.are_not.equal("0", tty)
      assert.equal("exec tty 25\n", (run_exec({ "/bin/true" }, {}, { tty = true })))
    end)

    it("resets the signal mask", function()
      local status, out = run_exec({ "/bin/grep", "SigBlk", "/proc/self/status" }, {}, {},
        function() assert(proc.sigprocmask("block", { "TERM", "USR1" })) end)
      assert.equal("", status)
      assert.equal("SigBlk:\t0000000000000000\n", out)
    end)

    local STATUS = { "/bin/grep", "-E", "^(Uid|Gid|Groups|Cap...|NoNewPrivs|Seccomp):",
                     "/proc/self/status" }

    it("empties every capability set and sets no_new_privs #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local status, out = run_exec(STATUS, {}, {})
      assert.equal("", status)
      for _, set in ipairs { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" } do
        assert.equal("0000000000000000", status_field(out, set), set)
      end
      assert.equal("1", status_field(out, "NoNewPrivs"))
      assert.equal("0", status_field(out, "Seccomp"))
      out = select(2, run_exec(STATUS, {}, { no_new_privs = false }))
      assert.equal("0", status_field(out, "NoNewPrivs"))
    end)

    it("switches ids and keeps the listed capabilities #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local status, out = run_exec(STATUS, {},
        { uid = 4242, gid = 4243, groups = { 4244, 4245 }, caps = { "net_bind_service", "CAP_KILL" } })
      assert.equal("", status)
      assert.equal("4242\t4242\t4242\t4242", status_field(out, "Uid"))
      assert.equal("4243\t4243\t4243\t4243", status_field(out, "Gid"))
      assert.equal("4244 4245", status_field(out, "Groups"):match("^(.-)%s*$"))
      for _, set in ipairs { "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb" } do
        assert.equal("0000000000000420", status_field(out, set), set)  -- bits 5, 10
      end
      -- groups = {} drops them all
      out = select(2, run_exec(STATUS, {}, { uid = 4242, gid = 4242, groups = {} }))
      assert.equal("", status_field(out, "Groups"):match("^(.-)%s*$"))
      assert.equal("0000000000000000", status_field(out, "CapBnd"))
      -- without the privilege to switch, the step is named
      status = run_exec({ "/bin/true" }, {}, { uid = 0 }, function()
        assert(proc.setgroups({}))
        assert(proc.setresgid(4242, 4242, 4242))
        assert(proc.setresuid(4242, 4242, 4242))
      end)
      assert.equal("exec ids 1 setresuid\n", status)
    end)

    it("puts kept capabilities in a nested user namespace #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local sh = "cat /proc/self/uid_map /proc/self/gid_map /proc/self/setgroups; "
        .. "grep -E '^Cap(Eff|Bnd|Amb)' /proc/self/status; readlink /proc/self/ns/user"
      -- a user namespace mapping 4242 and 4243 to themselves, as the executor makes
      local r, w = assert(proc.pipe())
      local child = assert(ns.clone { user = true })
      if child == 0 then
        w:close()
        proc.read(r, 1)
        proc._exit(0)
      end
      r:close()
      assert(ns.write_id_map(child, "uid", { { 4242, 4242, 1 } }))
      assert(ns.setgroups(child, "deny"))
      assert(ns.write_id_map(child, "gid", { { 4243, 4243, 1 } }))
      local userns = assert(ns.open(child, "user"))
      w:close()
      proc.waitpid(child)
      local status, out = run_exec({ "/bin/sh", "-c", sh }, {},
        { uid = 4242, gid = 4243, groups = {}, caps = { "sys_admin" }, userns = userns })
      userns:close()
      assert.equal("", status)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l:gsub("%s+", " "):gsub("^ ", "") end
      assert.equal("4242 4242 1", lines[1])
      assert.equal("4243 4243 1", lines[2])
      assert.equal("deny", lines[3])
      assert.equal("CapEff: 0000000000200000", lines[4])
      assert.equal("CapBnd: 0000000000200000", lines[5])
      assert.equal("CapAmb: 0000000000200000", lines[6])
      local mine = select(2, helper.sh("readlink /proc/self/ns/user"))
      assert.matches("^user:%[%d+%]$", lines[7])
      assert.are_not.equal(mine:match("[^\n]+"), lines[7])
    end)

    it("loads a seccomp BPF program", function()
      local RET, ALLOW = 0x06, 0x7fff0000
      local allow = string.pack("=I2BBI4", RET, 0, 0, ALLOW)
      local status, out = run_exec({ "/bin/grep", "^Seccomp:", "/proc/self/status" }, {},
        { seccomp = allow })
      assert.equal("", status)
      assert.equal("Seccomp:\t2\n", out)
      if not select(2, helper.sh("uname -m")):match("x86_64") then return pending("x86_64 filter") end
      -- uname(2) (63 on x86_64) -> EPERM; everything else allowed
      local function ins(code, jt, jf, k) return string.pack("=I2BBI4", code, jt, jf, k) end
      local LD, JEQ = 0x20, 0x15
      local deny_uname = ins(LD, 0, 0, 4) .. ins(JEQ, 1, 0, 0xc000003e) .. ins(RET, 0, 0, ALLOW)
        .. ins(LD, 0, 0, 0) .. ins(JEQ, 0, 1, 63) .. ins(RET, 0, 0, 0x00050000 | 1)
        .. ins(RET, 0, 0, ALLOW)
      status, out = run_exec({ "/bin/uname" }, {}, { seccomp = deny_uname })
      assert.equal("", status)
      assert.matches("Operation not permitted", out)
      -- without no_new_privs the filter needs CAP_SYS_ADMIN: it loads
      -- before the capability drop (runc's order), and the command runs
      -- with the filter, without the flag and without capabilities
      if helper.is_root() then
        status, out = run_exec({ "/bin/grep", "-e", "^NoNewPrivs:", "-e", "^Seccomp:", "-e", "^CapEff:",
          "/proc/self/status" }, {}, { seccomp = allow, no_new_privs = false, uid = 4242 })
        assert.equal("", status)
        assert.equal("CapEff:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t2\n", out)
      end
    end)

    it("joins cgroups through inherited cgroup.procs fds #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- a read-only fd cannot be written: the step is named
      local ro = assert(proc.open("/dev/null", { rdonly = true }))
      assert.equal("exec cgroup 9\n", (run_exec({ "/bin/true" }, {}, { cgroup_procs = { ro } })))
      ro:close()
      local base = "/sys/fs/cgroup/unified"
      local mine = (helper.read("/proc/self/cgroup") or ""):match("\n?0::([^\n]*)")
      if not mine or not helper.exists(base .. "/cgroup.procs") then
        return pending("no cgroup2 hierarchy")
      end
      local name = ("nslua-%08x"):format(math.random(0, 0x7fffffff))
      local dir = base .. mine:gsub("/$", "") .. "/" .. name
      assert(os.execute("mkdir " .. dir))
      local fd = assert(proc.open(dir .. "/cgroup.procs", { wronly = true }))
      local status, out = run_exec({ "/bin/cat", "/proc/self/cgroup" }, {}, { cgroup_procs = { fd } })
      fd:close()
      os.execute("rmdir " .. dir)
      assert.equal("", status)
      local want = "0::" .. mine:gsub("/$", "") .. "/" .. name .. "\n"
      assert.is_truthy(out:find(want, 1, true), out)
      assert.is_false(helper.exists(dir))
    end)
  end)

  describe("spawn", function()
    local function reap3(pid)
      local p, how, code = proc.waitpid(pid)
      return { p, how, code }
    end
    local function drain(fd)
      local t = {}
      while true do
        local d = proc.read(fd, 4096)
        if not d or d == "" then break end
        t[#t + 1] = d
      end
      return table.concat(t)
    end

    it("runs the exec tail in a vfork-style child, with stdio dup2'd onto 0-2", function()
      local out_r, out_w = assert(proc.pipe())
      local st_r, st_w = assert(proc.pipe())
      local pid = assert(proc.spawn({ "/bin/sh", "-c", "echo out:$A; echo err >&2; ls /proc/self/fd" },
        { A = "1" }, { status_fd = st_w }, { [1] = out_w, [2] = out_w }))
      -- it returns once the child has called execve: the status pipe (close-on-exec)
      -- then has no writer but ours
      out_w:close()
      st_w:close()
      assert.equal("", drain(st_r))
      local out = drain(out_r)
      assert.same({ pid, "exited", 0 }, reap3(pid))
      assert.matches("^out:1\nerr\n", out)
      -- only 0-2 and the listing's own directory fd
      local fds = {}
      for n in out:gmatch("\n(%d+)") do fds[#fds + 1] = tonumber(n) end
      assert.same({ 0, 1, 2, 3 }, fds)
      out_r:close()
      st_r:close()
    end)

    it("reports a failed step on the status fd, and the caller goes on", function()
      local st_r, st_w = assert(proc.pipe())
      local pid = assert(proc.spawn({ "/nonexistent/prog" }, {}, { status_fd = st_w }))
      st_w:close()
      assert.equal("exec execve 2\n", drain(st_r))
      assert.same({ pid, "exited", 1 }, reap3(pid))
      st_r:close()
    end)

    it("opens stdio_inside itself, then stderr_to_stdout; a failed open is the stdio step", function()
      local dir = helper.tmpdir()
      local f = assert(io.open(dir .. "/in", "w"))
      f:write("from-in\n")
      f:close()
      local st_r, st_w = assert(proc.pipe())
      local pid = assert(proc.spawn({ "/bin/sh", "-c", "cat; echo err >&2; ls /proc/self/fd" }, {},
        { status_fd = st_w, stdio_inside = { stdin = dir .. "/in", stdout = dir .. "/out" },
          stderr_to_stdout = true }))
      st_w:close()
      assert.equal("", drain(st_r))
      st_r:close()
      assert.same({ pid, "exited", 0 }, reap3(pid))
      -- no fd of the opens is left over: 0-2 and the listing's own
      assert.equal("from-in\nerr\n0\n1\n2\n3\n", helper.read(dir .. "/out"))
      st_r, st_w = assert(proc.pipe())
      pid = assert(proc.spawn({ "/bin/true" }, {},
        { status_fd = st_w, stdio_inside = { stderr = dir .. "/no/such dir/err" } }))
      st_w:close()
      assert.equal(("exec stdio %d %s/no/such dir/err\n"):format(errno.ENOENT, dir), drain(st_r))
      st_r:close()
      assert.same({ pid, "exited", 1 }, reap3(pid))
      helper.rmtree(dir)
    end)

    it("exec_error = stderr: a failed execve says so on fd 2 and exits 127, no record", function()
      local st_r, st_w = assert(proc.pipe())
      local err_r, err_w = assert(proc.pipe())
      local pid = assert(proc.spawn({ "/nonexistent/prog" }, {},
        { status_fd = st_w, exec_error = "stderr" }, { [2] = err_w }))
      st_w:close()
      err_w:close()
      assert.equal("", drain(st_r))
      assert.equal('execve("/nonexistent/prog"): No such file or directory\n', drain(err_r))
      assert.same({ pid, "exited", 127 }, reap3(pid))
      st_r:close()
      err_r:close()
    end)

    it("exec_error = stderr under a filter: an errno outside the table is 'Unknown error N'", function()
      local _, arch = helper.sh("uname -m")
      if not arch:match("^x86_64") then return pending("the filter below is x86_64's") end
      -- execve (59) fails with errno 99, everything else is allowed
      local bpf = table.concat {
        string.pack("<I2BBI4", 0x20, 0, 0, 0),                -- ld [nr]
        string.pack("<I2BBI4", 0x15, 0, 1, 59),               -- jeq #execve
        string.pack("<I2BBI4", 0x06, 0, 0, 0x00050000 | 99),  -- ret ERRNO(99)
        string.pack("<I2BBI4", 0x06, 0, 0, 0x7fff0000),       -- ret ALLOW
      }
      local st_r, st_w = assert(proc.pipe())
      local err_r, err_w = assert(proc.pipe())
      local pid = assert(proc.spawn({ "/bin/true" }, {},
        { status_fd = st_w, exec_error = "stderr", seccomp = bpf }, { [2] = err_w }))
      st_w:close()
      err_w:close()
      assert.equal("", drain(st_r))
      assert.equal('execve("/bin/true"): Unknown error 99\n', drain(err_r))
      assert.same({ pid, "exited", 127 }, reap3(pid))
      st_r:close()
      err_r:close()
    end)

    it("stdio_inside, stderr_to_stdout, exec_error: misuse raises", function()
      assert.has_error(function() proc.spawn({ "ls" }, {}, { stdio_inside = { stdout = "rel" } }) end,
        "bad argument #3 to 'spawn' (field 'stdio_inside.stdout' must be an absolute path)")
      assert.has_error(function() proc.spawn({ "ls" }, {}, { stdio_inside = { out = "/x" } }) end,
        "bad argument #3 to 'spawn' (field 'stdio_inside' may hold only stdin, stdout, stderr)")
      assert.has_error(function() proc.spawn({ "ls" }, {}, { stdio_inside = "/x" }) end,
        "bad argument #3 to 'spawn' (field 'stdio_inside' must be a table)")
      assert.has_error(function() proc.spawn({ "ls" }, {}, { stdio_inside = { stdin = 3 } }) end,
        "bad argument #3 to 'spawn' (field 'stdio_inside.stdin' must be a string)")
      assert.has_error(function()
        proc.spawn({ "ls" }, {}, { stdio_inside = { stderr = "/e" }, stderr_to_stdout = true })
      end, "bad argument #3 to 'spawn' (field 'stderr_to_stdout' and 'stdio_inside.stderr' exclude each other)")
      assert.has_error(function() proc.spawn({ "ls" }, {}, { exec_error = "stdout" }) end,
        "bad argument #3 to 'spawn' (field 'exec_error' must be 'stderr')")
    end)

    it("does not touch the caller's state (signal mask, cwd)", function()
      local old = assert(proc.sigprocmask("block", { "USR1" }))
      local pid = assert(proc.spawn({ "/bin/true" }, {}, { cwd = "/proc" }))
      assert.same({ pid, "exited", 0 }, reap3(pid))
      -- the child emptied its own mask, not ours
      local now = assert(proc.sigprocmask("setmask", old))
      assert.same({ 10 }, now)
      local f = assert(io.open("/proc/self/cwd/.", "r"))  -- cwd is still a directory we can open
      f:close()
      assert.is_nil(io.open("/proc/self/cwd/self", "r"))  -- and not /proc
    end)

    it("raises on misuse like exec", function()
      assert.has_error(function() proc.spawn({}, {}) end,
        "bad argument #1 to 'spawn' (argv must not be empty)")
      assert.has_error(function() proc.spawn({ "ls" }, {}, { bogus = 1 }) end,
        "bad argument #3 to 'spawn' (unknown option 'bogus')")
      assert.has_error(function() proc.spawn({ "ls" }, {}, {}, { [1] = "x" }) end)
    end)
  end)

  describe("status", function()
    it("writes the executor's pid and setup records, which nslua.status reads", function()
      local r, w = assert(proc.pipe())
      assert.is_true(proc.status(w, "pid", 42))
      assert.is_true(proc.status(w, "setup", "hook:x", 2, "a\nb"))
      w:close()
      local text = proc.read(r, 4096)
      r:close()
      local t = text:match("^pid 42 (%d+%.%d%d%d%d%d%d%d%d%d)\nsetup hook:x 2 a b\n$")
      assert.truthy(t, text)
      local st = require("nslua.status").parse(text)
      assert.equal(42, st.cmd_pid)
      -- the time is proc.now()'s clock, just before the write
      assert.is_true(st.cmd_start <= proc.now() and st.cmd_start > proc.now() - 5, text)
      assert.same({ step = "hook:x", errno = 2, msg = "a b" }, st.setup)
    end)

    it("raises on misuse and fails on an fd it cannot write", function()
      assert.has_error(function() proc.status(1, "exit", 1) end,
        "bad argument #2 to 'status' (invalid option 'exit')")
      assert.has_error(function() proc.status(1, "setup", "two words", 0, "m") end,
        "bad argument #3 to 'status' (a step is one word)")
      -- the read end of a pipe cannot be written
      local r, w = assert(proc.pipe())
      local ok, msg, code = proc.status(r, "pid", 1)
      r:close()
      w:close()
      assert.is_nil(ok)
      assert.matches("^write 'status': ", msg)
      assert.equal(core.errno.EBADF, code)
    end)
  end)

  describe("init", function()
    -- The harness: a pid namespace whose init runs proc.init over a command
    -- that proc.exec started.  'body' runs in the parent with init, r
    -- (status read end), and the fds it opened; it prints what it checks.
    local HARNESS = [[
      local core = require "nslua.core"
      local proc, ns = core.proc, core.ns
      local function readall(fd)
        local t = {}
        while true do
          local s = proc.read(fd, 4096)
          if s == nil or s == "" then break end
          t[#t + 1] = s
        end
        return table.concat(t)
      end
      local function fds_of(pid)
        local t = {}
        local f = io.popen("ls -l /proc/" .. pid .. "/fd 2>/dev/null")
        for line in f:lines() do
          local n, target = line:match("(%d+) %-> (.*)$")
          if n then t[tonumber(n)] = target end
        end
        f:close()
        return t
      end
      local function children_of(pid)
        local f = io.open(("/proc/%d/task/%d/children"):format(pid, pid))
        local s = f and f:read("a") or ""
        if f then f:close() end
        local t = {}
        for p in s:gmatch("%d+") do t[#t + 1] = tonumber(p) end
        return t
      end
      local function state_of(pid)
        local s = io.open("/proc/" .. pid .. "/stat")
        if not s then return "gone" end
        local st = s:read("a"):match("^%d+ %b() (%a)")
        s:close()
        return st
      end
      local r, w = assert(proc.pipe())
      local keep = assert(proc.open("/dev/null", {rdonly = true}))
      local extra = assert(proc.open("/dev/null", {rdonly = true}))
      local wfd = w:fileno()
      io.stdout:flush()
      local init = assert(ns.clone{pid = true})
      if init == 0 then
        local cmd = assert(ns.clone{})
        if cmd == 0 then
          proc.exec(ARGV, {PATH = "/usr/bin:/bin"}, {status_fd = w, rlimits = {core = 0}})
        end
        proc.init(cmd, w, {keep_fds = {keep}})
      end
      w:close()
      -- ready once the signalfd exists and the other fds are gone
      local fds
      for _ = 1, 300 do
        fds = fds_of(init)
        local sfd = false
        for _, v in pairs(fds) do if v:match("signalfd") then sfd = true end end
        if sfd and not fds[extra:fileno()] and not fds[r:fileno()] then break end
        proc.poll({}, 10)
      end
      local function status()
        if proc.poll({{fd = r, events = {["in"] = true}}}, 10000) == 0 then
          proc.kill(init, "KILL")
          return "timeout"
        end
        return readall(r)
      end
      BODY
      local _, how, code = proc.waitpid(init)
      print("init", how, code)
    ]]

    local function harness(argv, body)
      local argv_src = {}
      for _, a in ipairs(argv) do argv_src[#argv_src + 1] = ("%q"):format(a) end
      local code = HARNESS:gsub("ARGV", function() return "{" .. table.concat(argv_src, ", ") .. "}" end)
        :gsub("BODY", function() return body end)
      return helper.run_isolated(code)
    end

    local EXIT = "^exit (%a+) (%d+) (%d+%.%d%d%d%d%d%d) (%d+%.%d%d%d%d%d%d) (%d+) "
      .. "(%d+%.%d%d%d%d%d%d) (%d+%.%d%d%d%d%d%d) ([01]) (%d+) (%d+) %d+%.%d%d%d%d%d%d%d%d%d\n$"

    it("keeps only its fds and forwards SIGTERM #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = harness({ "sleep", "100" }, [[
        local kinds = {}
        for n, target in pairs(fds) do
          local kind = n <= 2 and "stdio" or n == wfd and "status" or n == keep:fileno() and "keep"
            or target:match("signalfd") and "signalfd" or ("other:" .. target)
          kinds[#kinds + 1] = kind
        end
        table.sort(kinds)
        print("fds", table.concat(kinds, " "))
        local st = io.open("/proc/" .. init .. "/status"):read("a")
        print("blocked", st:match("SigBlk:%s*(%x+)"))
        assert(proc.kill(init, "TERM"))
        io.write("status ", status())
      ]])
      assert.is_true(ok, out)
      assert.matches("\nfds\tkeep signalfd status stdio stdio stdio\n", "\n" .. out)
      -- all but KILL, STOP and glibc's two: those are never blocked
      assert.matches("\nblocked\tfffffffe7ffbfeff\n", out)
      local line = ("\n" .. out):match("\nstatus ([^\n]*\n)")
      assert.is_not_nil(line, out)
      local how, code, _, _, _, _, _, xfsz = line:match(EXIT)
      assert.same({"signaled", "15", "0"}, {how, code, xfsz}, line)
      assert.matches("\ninit\texited\t0\n$", out)
    end)

    it("reaps orphans and notes one that died of SIGXFSZ #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- no race with the clock: the orphan and the command live until the
      -- test ends them, however slow the machine is
      local ok, out = harness({ "sh", "-c",
        "(sleep 30 &); (sh -c 'kill -XFSZ $$' &); exec sleep 60" }, [[
        local function child(want)
          for _, p in ipairs(children_of(init)) do
            local f = io.open("/proc/" .. p .. "/cmdline")
            local cmdline = f and f:read("a") or ""
            if f then f:close() end
            if cmdline == want then return p end
          end
        end
        -- the init adopted the orphan and reaped the one that died of SIGXFSZ
        local pid, cmd
        for _ = 1, 1000 do
          pid, cmd = child("sleep\0" .. "30\0"), child("sleep\0" .. "60\0")
          if pid and cmd and #children_of(init) == 2 then break end
          proc.poll({}, 10)
        end
        print("orphan", pid ~= nil, #children_of(init))
        -- once it has ended, it must be reaped, not left a zombie
        proc.kill(pid, "TERM")
        for _ = 1, 1000 do
          proc.poll({}, 10)
          if state_of(pid) == "gone" then break end
        end
        print("state", state_of(pid), #children_of(init))
        proc.kill(cmd, "TERM")
        io.write("status ", status())
      ]])
      assert.is_true(ok, out)
      assert.matches("^orphan\ttrue\t2\n", out)      -- the init adopted it
      assert.matches("\nstate\tgone\t1\n", out)      -- and reaped it: no zombie
      local line = ("\n" .. out):match("\nstatus ([^\n]*\n)")
      local how, code, _, _, _, _, _, xfsz = assert(line, out):match(EXIT)
      -- the command's own end, with the orphan's SIGXFSZ death noted
      assert.same({"signaled", "15", "1"}, {how, code, xfsz}, line)
    end)

    it("kills what is left when the command ends and counts its cpu #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = harness({ "sh", "-c", "(sh -c 'while :; do :; done' &); sleep 0.8; exit 3" }, [[
        io.write("status ", status())
      ]])
      assert.is_true(ok, out)
      local line = ("\n" .. out):match("\nstatus ([^\n]*\n)")
      local how, code, ut, st, rss, cut, cst, xfsz, nvcsw = assert(line, out):match(EXIT)
      assert.same({"exited", "3", "0"}, {how, code, xfsz}, line)
      -- the shell waited for its sleep: at least one voluntary context switch
      assert.is_true(tonumber(nvcsw) >= 1, line)
      -- the busy orphan, killed and reaped by the init, is in the children's time
      assert.is_true(tonumber(cut) + tonumber(cst) - tonumber(ut) - tonumber(st) >= 0.1, line)
      assert.is_true(tonumber(rss) > 0, line)
    end)

    it("works as a subreaper outside a pid namespace", function()
      local ok, out = helper.run_isolated([[
        local core = require "nslua.core"
        local proc, ns = core.proc, core.ns
        assert(proc.prctl("child_subreaper", true))
        io.stdout:flush()
        local cmd = assert(ns.clone{})
        if cmd == 0 then
          local r, w = assert(proc.pipe())
          proc.exec({"/bin/sh", "-c", "(sh -c 'kill -XFSZ $$' &); sleep 0.2; exit 4"},
            {}, {status_fd = w, rlimits = {core = 0}})
        end
        proc.init(cmd, 1)
      ]])
      assert.equal(0, select(3, helper.sh("true")))
      assert.is_true(ok, out)
      local how, code, _, _, _, _, _, xfsz = out:match(EXIT)
      assert.same({"exited", "4", "1"}, {how, code, xfsz}, out)
    end)

    it("reports a command that is not its child", function()
      local ok, out, rc = helper.run_isolated([[
        require("nslua.core").proc.init(1, 1)
      ]])
      assert.is_false(ok)
      assert.equal(1, rc)
      assert.equal("init wait 10\n", out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() proc.init(0, 3) end,
        "bad argument #1 to 'init' (pid must be > 0)")
      assert.has_error(function() proc.init(5, 3, { keep = {} }) end,
        "bad argument #3 to 'init' (unknown option 'keep')")
      assert.has_error(function() proc.init(5, 3, { keep_fds = { "x" } }) end,
        "bad argument #3 to 'init' (keep_fds[1] must be an fd box or integer)")
    end)
  end)
end)
