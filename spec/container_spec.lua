-- nslua.container through the Lua API, in a fresh lua5.4 per test (the busted
-- process itself never clones).  Each test checks nothing is left behind.
local helper = require "helper"

local function api(code)
  return helper.run_isolated("local nslua = require 'nslua'\n" .. code)
end

describe("nslua.container", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  it("runs a command and returns a report", function()
    local ok, out = api([[
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c", "exit 5" } }:run())
      print(r.status, r.exit_code, type(r.wall_s), type(r.cpu_s), type(r.max_rss_kb))
    ]])
    assert.is_true(ok, out)
    assert.equal("exited\t5\tnumber\tnumber\tnumber\n", out)
  end)

  it("does not pass a file Lua had open to the payload", function()
    local ok, out = api([[
      local f = assert(io.open("/etc/hostname"))
      local r = nslua.container{ argv = { "/bin/ls", "/proc/self/fd" } }:run()
      f:close()
    ]])
    assert.is_true(ok, out)
    assert.equal("0\n1\n2\n3\n", out)
  end)

  it("passes the fds listed in stdio.fds and redirects stdio to files", function()
    local dir = helper.tmpdir()
    local ok, out = api(([[
      local proc = nslua.proc
      local r, w = proc.pipe()
      proc.dup2(w:fileno(), 7)
      local f = io.open(%q, "w"); f:write("from-stdin\n"); f:close()
      local rep = nslua.container{ argv = { "/bin/sh", "-c", "echo via-fd7 >&7; cat; echo err >&2" },
        stdio = { fds = { 7 }, stdin = %q, stdout = %q, stderr = %q } }:run()
      proc.close(7)
      w:close()
      print(rep.status, (proc.read(r, 100):gsub("\n", "")))
    ]]):format(dir .. "/in", dir .. "/in", dir .. "/out", dir .. "/err"))
    local o, e = helper.read(dir .. "/out"), helper.read(dir .. "/err")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("exited\tvia-fd7\n", out)
    assert.equal("from-stdin\n", o)
    assert.equal("err\n", e)
  end)

  it("runs hooks in order and reports a failing hook as a set-up error", function()
    local ok, out = api([[
      local seen = {}
      local c = nslua.container{
        argv = { "/bin/true" },
        hooks = {
          after_clone = function(ctx) io.write("after_clone ", type(ctx.pid), "\n") end,
          before_pivot = function(ctx) io.open("/newroot/tmp/hook", "w"):write("x") end,
          before_exec = function(ctx) assert(io.open("/tmp/hook")) end,
          after_exit = function(ctx, rep) io.write("after_exit ", rep.status, "\n") end,
        },
      }
      local r = c:run()
      print(r.status, r.exit_code)
      local r2 = nslua.container{ argv = { "/bin/true" },
        hooks = { before_exec = function() error("boom") end } }:run()
      print(r2.status, r2.error.step, (r2.error.message:match("boom")))
    ]])
    assert.is_true(ok, out)
    assert.equal("after_clone number\nafter_exit exited\nexited\t0\nerror\thook:before_exec\tboom\n", out)
  end)

  it("counts wall_s and limits.wall from the command's start, the set-up in start_s", function()
    -- a before_exec hook that takes 0.4 s is set-up: not the command's wall
    -- time, and no part of a 0.5 s wall limit the command's 0.2 s keep to
    local ok, out = api([[
      local function spec(argv, wall)
        return { argv = argv, limits = { wall = wall },
          hooks = { before_exec = function() require("nslua.core").proc.poll({}, 400) end } }
      end
      local r = assert(nslua.container(spec({ "/bin/sleep", "0.2" }, 0.5)):run())
      print(r.status, r.wall_s >= 0.2 and r.wall_s < 0.35 or r.wall_s,
            r.start_s >= 0.4 and r.start_s < 1.5 or r.start_s)
      -- the limit still holds from there
      r = assert(nslua.container(spec({ "/bin/sleep", "5" }, 0.3)):run())
      print(r.status, r.wall_s >= 0.3 and r.wall_s < 0.45 or r.wall_s)
      -- a run whose command never started has no start_s, and its wall_s is all of it
      r = nslua.container{ argv = { "/bin/true" }, hooks = { before_exec = function() error("no") end } }:run()
      print(r.status, r.start_s, r.wall_s > 0)
    ]])
    assert.is_true(ok, out)
    assert.equal("exited\ttrue\ttrue\nwall-limit\ttrue\nerror\tnil\ttrue\n", out)
  end)

  it("kicks the join's grace period once its groups exist, not before their mkdir", function()
    if not helper.is_root() then return pending("needs root (cgroups)") end
    -- A kick holds the cgroup mutex for its grace period, and mkdir of a
    -- group takes it: a kick before the groups are made would hold their
    -- mkdir back for the whole wait instead of running beside the set-up.
    local ok, out = api([[
      local cgroup = require "nslua.cgroup"
      local layout = assert(cgroup.detect())
      local h = assert(layout.controllers.pids, "no pids hierarchy")
      local seen
      local kick = cgroup.kick
      cgroup.kick = function(...)
        seen = {}
        for _, name in ipairs(require("nslua.core").cgroup.subdirs(h.dir) or {}) do seen[name] = true end
        return kick(...)
      end
      local c = nslua.container{ argv = { "/bin/true" }, limits = { pids = 8 } }
      local rep = assert(c:run())
      print(rep.status, seen ~= nil, seen and seen["nslua-" .. c.id] or false)
    ]])
    assert.is_true(ok, out)
    assert.equal("exited\ttrue\ttrue\n", out)
  end)

  it("wall_s is the command's own: from its exec tail to its reaping, by the init's clock", function()
    -- a program that spins 50 ms of its own CLOCK_MONOTONIC from main() and
    -- says how long it ran: wall_s covers it (never less: a clock read late,
    -- after the init was scheduled again, made it shorter) and only a little more
    local dir = helper.tmpdir()
    local src = dir .. "/spin.c"
    local f = assert(io.open(src, "w"))
    f:write([=[
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) { double a = now(), b; while ((b = now()) - a < 0.05) ; printf("%.6f\n", now() - a); return 0; }
]=])
    f:close()
    -- (the payload's id must reach it: 65534)
    assert(helper.sh(("cc -O1 -static -o %s/spin %s && chmod 0755 %s"):format(dir, src, dir)))
    local ok, out = api(([[
      local worst_low, worst_high = math.huge, -math.huge
      for _ = 1, 5 do
        local rep = assert(nslua.container{ argv = { %q }, stdio = { stdout = %q },
          mounts = { { type = "bind", source = %q, target = %q } },
          limits = { memory = "64M", pids = 8 } }:run())
        local f = assert(io.open(%q))
        local own = tonumber(f:read("a"))
        f:close()
        assert(rep.status == "exited" and own, rep.status .. " " .. tostring(rep.error and rep.error.message))
        worst_low = math.min(worst_low, rep.wall_s - own)
        worst_high = math.max(worst_high, rep.wall_s - own)
      end
      print(worst_low >= 0 or worst_low, worst_high < 0.015 or worst_high)
    ]]):format(dir .. "/spin", dir .. "/out", dir, dir, dir .. "/out"))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("true\ttrue\n", out)
  end)

  it("a child whose parent dies before releasing it exits", function()
    local dir = helper.tmpdir()
    local ok, out, code = api(([[
      nslua.container{ argv = { "/bin/sleep", "100" },
        hooks = { after_clone = function(ctx)
          local f = io.open(%q, "w"); f:write(ctx.pid); f:close()
          nslua.proc.kill(nslua.proc.getpid(), 9)
        end } }:run()
    ]]):format(dir .. "/pid"))
    local pid = tonumber(helper.read(dir .. "/pid"))
    helper.rmtree(dir)
    assert.is_false(ok)
    assert.equal(137, code, out)
    assert.is_number(pid)
    for _ = 1, 100 do
      if not helper.pid_alive(pid) then break end
      helper.sleep(0.05)
    end
    assert.is_false(helper.pid_alive(pid), "the unreleased child is still alive")
    helper.sh(helper.nslua .. " gc")
  end)

  it("kills a running container", function()
    local ok, out = api([[
      local c = nslua.container{ argv = { "/bin/sleep", "100" } }
      assert(c:start())
      assert(c:kill(9))
      local r = c:wait()
      print(r.status, r.signal)
      c:close(); c:close()
    ]])
    assert.is_true(ok, out)
    assert.equal("signaled\t9\n", out)
  end)

  it("runs many containers from one process", function()
    local ok, out = api([[
      local n = 0
      for i = 1, 20 do
        local r = nslua.container{ argv = { "/bin/true" } }:run()
        if r.status == "exited" and r.exit_code == 0 then n = n + 1 end
      end
      print(n)
    ]])
    assert.is_true(ok, out)
    assert.equal("20\n", out)
  end)

  -- stdio = { inside = PATH }: the command opens the file itself, after
  -- its id switch, so the payload's permissions decide and a file it makes
  -- is the payload's; stderr = "stdout" is a dup of fd 1.
  it("opens stdio inside as the payload's ids, merges stderr into stdout #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dir = helper.tmpdir("0777")
    assert(helper.sh(("cd %s && echo from-stdin > in && echo keep > rootfile && chmod 0644 in rootfile")
      :format(helper.quote(dir))))
    local ok, out = api(([[
      local m = { { type = "bind", source = %q, target = "/box" } }
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c",
          "cat; echo err >&2; stat -c %%u:%%g /box/out; readlink /proc/self/fd/0 /proc/self/fd/2" },
        mounts = m, stdio = { stdin = { inside = "/box/in" }, stdout = { inside = "/box/out" },
                              stderr = "stdout" } }:run())
      print(r.status, r.exit_code)
      -- a root-owned file the payload may not write: the stdio step fails
      r = assert(nslua.container{ argv = { "/bin/true" }, mounts = m,
        stdio = { stdout = { inside = "/box/rootfile" } } }:run())
      print(r.status, r.error.step, r.error.errno == nslua.errno.EACCES, r.error.detail, r.error.message)
      r = assert(nslua.container{ argv = { "/bin/true" }, mounts = m, init = false,
        stdio = { stdin = { inside = "/box/missing" } } }:run())
      print(r.status, r.error.step, r.error.errno == nslua.errno.ENOENT, r.error.detail)
    ]]):format(dir))
    local _, owner = helper.sh("stat -c %u " .. helper.quote(dir .. "/out"))
    local o, rootfile = helper.read(dir .. "/out"), helper.read(dir .. "/rootfile")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("exited\t0\n"
      .. "error\tstdio\ttrue\t/box/rootfile\texec stdio: /box/rootfile: Permission denied\n"
      .. "error\tstdio\ttrue\t/box/missing\n", out)
    assert.equal("from-stdin\nerr\n65534:65534\n/box/in\n/box/out\n", o)
    -- on the host: the payload's slot id, neither root nor the caller
    assert.not_equal("0", owner:match("%d+"))
    assert.equal("keep\n", rootfile)
  end)

  it("opens stdio inside rootless as the payload (the caller's uid on the host)", function()
    if (os.getenv("LD_PRELOAD") or ""):match("libasan") then
      return pending("rootless runs use env -i: the sanitizer build needs LD_PRELOAD")
    end
    if not helper.is_root() then return pending("needs root to make the test user's files") end
    local dir = helper.tmpdir("0777")
    assert(helper.sh(("cd %s && echo keep > rootfile && chmod 0644 rootfile"):format(helper.quote(dir))))
    local ok, out = helper.run_rootless(([[
      local nslua = require "nslua"
      local m = { { type = "bind", source = %q, target = "/box" } }
      local r = assert(nslua.container{ argv = { "/bin/sh", "-c", "echo out; echo err >&2; nocommand" },
        mounts = m, exec_error = "stderr",
        stdio = { stdout = { inside = "/box/out" }, stderr = "stdout" } }:run())
      print(r.status, r.exit_code)
      r = assert(nslua.container{ argv = { "/nonexistent" }, mounts = m, exec_error = "stderr",
        stdio = { stdout = { inside = "/box/out2" }, stderr = "stdout" } }:run())
      print(r.status, r.exit_code)
      r = assert(nslua.container{ argv = { "/bin/true" }, mounts = m,
        stdio = { stdout = { inside = "/box/rootfile" } } }:run())
      print(r.status, r.error.step, r.error.message)
    ]]):format(dir))
    local _, owner = helper.sh("stat -c %u " .. helper.quote(dir .. "/out"))
    local o, o2, rootfile = helper.read(dir .. "/out"), helper.read(dir .. "/out2"), helper.read(dir .. "/rootfile")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("exited\t127\nexited\t127\nerror\tstdio\texec stdio: /box/rootfile: Permission denied\n", out)
    assert.matches("^out\nerr\n.*nocommand.*not found\n$", o)
    assert.equal('execve("/nonexistent"): No such file or directory\n', o2)
    assert.equal(tostring(helper.ROOTLESS_UID), owner:match("%d+"))
    assert.equal("keep\n", rootfile)
  end)

  it("exec_error = stderr: the message on the command's stderr, exit 127 #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dir = helper.tmpdir("0777")
    local ok, out = api(([[
      local m = { { type = "bind", source = %q, target = "/box" } }
      for i, c in ipairs {
        { argv = { "/nonexistent/prog" } },
        { argv = { "no-such-command-x" }, init = false },
        { argv = { "/box" } },
      } do
        c.mounts, c.exec_error = m, "stderr"
        c.stdio = { stderr = { inside = "/box/err" .. i } }
        local r = assert(nslua.container(c):run())
        print(r.status, r.exit_code, r.error)
      end
      -- without it: the exec step's error, nothing on stderr
      local r = assert(nslua.container{ argv = { "/nonexistent/prog" }, mounts = m,
        stdio = { stderr = { inside = "/box/err4" } } }:run())
      print(r.status, r.error.step, r.exit_code)
    ]]):format(dir))
    local e1, e2, e3, e4 = helper.read(dir .. "/err1"), helper.read(dir .. "/err2"),
      helper.read(dir .. "/err3"), helper.read(dir .. "/err4")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("exited\t127\tnil\nexited\t127\tnil\nexited\t127\tnil\nerror\texecve\t127\n", out)
    assert.equal('execve("/nonexistent/prog"): No such file or directory\n', e1)
    assert.equal('execve("no-such-command-x"): No such file or directory\n', e2)
    assert.equal('execve("/box"): Permission denied\n', e3)
    assert.equal("", e4)
  end)

  it("refuses a bad spec before creating anything", function()
    local ok, out = api([[
      local ok, err = pcall(nslua.container, { argv = { "/bin/true" }, mounts = { { type = "proc", target = "/p" } },
        namespaces = { pid = false } })
      print(ok, err)
    ]])
    assert.is_true(ok, out)
    assert.matches("false", out)
    assert.matches("mounts[1]", out, 1, true)
  end)

  -- DESIGN "Trust rules": a sandbox cannot exhaust the host's per-user
  -- kernel quotas.  The kernel charges inotify instances (and watches, and
  -- namespaces) at every level of the user namespace tree, to the owner of
  -- each namespace in its parent; POSIX message queue bytes the same way,
  -- against RLIMIT_MSGQUEUE.  The payload takes all it can get; host root
  -- must still get its own while the sandbox holds them.
  it("leaves host root its inotify instances and mqueue bytes #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = api([=[
      local proc = nslua.proc
      local payload = [[
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
n = 0
while libc.inotify_init1(os.O_CLOEXEC) >= 0: n += 1
e1 = ctypes.get_errno()
class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
a = Attr(0, 10, 8192, 0)
q = 0
while libc.mq_open(b"/nslua-spec-%d" % q, os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(a)) >= 0: q += 1
e2 = ctypes.get_errno()
print("sandbox", n > 0, e1, q > 0, e2, flush=True)
sys.stdin.read()
]]
      -- the host side, as root, while the sandbox holds its share: one
      -- inotify instance, one queue of the same size (in an IPC namespace
      -- of its own, so nothing is left on the host)
      local host = [[
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
ok = libc.inotify_init1(os.O_CLOEXEC) >= 0
print("inotify", "ok" if ok else os.strerror(ctypes.get_errno()))
class Attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]
a = Attr(0, 10, 8192, 0)
ok = libc.mq_open(b"/nslua-spec-host", os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(a)) >= 0
print("mqueue", "ok" if ok else os.strerror(ctypes.get_errno()))
]]
      local out_r, out_w = proc.pipe()
      local in_r, in_w = proc.pipe()
      local c = nslua.container{ argv = { "/usr/bin/python3", "-c", payload },
        stdio = { stdin = in_r:fileno(), stdout = out_w:fileno() } }
      assert(c:start())
      in_r:close()
      out_w:close()
      io.write(proc.read(out_r, 200))
      -- (no sanitizer runtime in python under `make sanitize`)
      local f = assert(io.popen("unset LD_PRELOAD; unshare --ipc /usr/bin/python3 -c '" .. host .. "' 2>&1"))
      io.write(f:read("a"))
      f:close()
      in_w:close()
      local r = c:wait()
      print(r.status, r.exit_code)
      c:close()
    ]=])
    assert.is_true(ok, out)
    -- the sandbox hit its limits (EMFILE both), and root still got its own
    assert.equal("sandbox True 24 True 24\ninotify ok\nmqueue ok\nexited\t0\n", out)
  end)

  describe("user.host_uid and user.host_gid", function()
    it("map the payload's ids to those host ids; inside 0 and the owner stay the slot's #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local dir = helper.tmpdir("0777")
      local py = dir .. ".owner.py"
      local f = assert(io.open(py, "w"))
      -- NS_GET_OWNER_UID (_IO(0xb7, 4)): the uid that created the user namespace
      f:write("import fcntl, os, struct, sys\n",
        "fd = os.open('/proc/%s/ns/user' % sys.argv[1], os.O_RDONLY)\n",
        "print('owner', struct.unpack('I', fcntl.ioctl(fd, 0xb704, bytes(4)))[0])\n")
      f:close()
      local ok, out = api(([=[
        local proc = nslua.proc
        local in_r, in_w = proc.pipe()
        local out_r, out_w = proc.pipe()
        local c = nslua.container{
          argv = { "/bin/sh", "-c", "id -u; id -g; cat /proc/self/uid_map /proc/self/gid_map; "
            .. "echo x > /w/f && echo written; cat" },
          user = { uid = 60007, gid = 60007, host_uid = 60007, host_gid = 60007 },
          mounts = { { type = "bind", source = %q, target = "/w" } },
          stdio = { stdin = in_r:fileno(), stdout = out_w:fileno() } }
        assert(c:start())
        in_r:close()
        out_w:close()
        local buf = ""
        repeat
          local d = proc.read(out_r, 4096)
          buf = buf .. (d or "")
        until not d or d == "" or buf:find("written\n") or buf:find("\n$") and #buf > 200
        io.write((buf:gsub("[ \t]+", " "):gsub("\n ", "\n"):gsub("^ ", "")))
        local p = assert(io.popen("unset LD_PRELOAD; python3 %s " .. c:pid() .. " 2>&1"))
        io.write(p:read("a"))
        p:close()
        in_w:close()
        local r = c:wait()
        print(r.status, r.exit_code)
        c:close()
      ]=]):format(dir, py))
      local st = helper.sh("stat -c %u:%g " .. helper.quote(dir .. "/f"))
      local owner = select(2, helper.sh("stat -c %u:%g " .. helper.quote(dir .. "/f")))
      os.remove(py)
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.is_true(st)
      assert.equal("60007:60007\n", owner)
      local slot = out:match("\n0 (%d+) 1\n")
      assert.is_truthy(slot, out)
      assert.equal(("60007\n60007\n0 %s 1\n60007 60007 1\n0 %s 1\n60007 60007 1\nwritten\nowner %s\nexited\t0\n")
        :format(slot, slot, slot), out)
      assert.is_true(tonumber(slot) >= require("nslua.ids").config().base)
    end)

    it("bind-idmap maps the caller's files to the payload's host ids #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local dir = helper.tmpdir("0755")
      local ok, out = api(([[
        local r = nslua.container{ argv = { "/bin/sh", "-c", "stat -c %%u /w; echo x > /w/f && echo ok" },
          user = { uid = 60007, gid = 60007, host_uid = 60007, host_gid = 60007 },
          mounts = { { type = "bind-idmap", source = %q, target = "/w" } } }:run()
        print(r.status, r.exit_code)
      ]]):format(dir))
      local _, owner = helper.sh("stat -c %u:%g " .. helper.quote(dir .. "/f"))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.equal("60007\nok\nexited\t0\n", out)
      assert.equal("0:0\n", owner)
    end)

    it("are refused with a message naming the field, before anything is made #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local sub = os.tmpname()
      local f = assert(io.open(sub, "w"))
      f:write("someone:300000:65536\n")
      f:close()
      local ok, out = api(([[
        local ids = require "nslua.ids"
        ids.SUBUID = %q
        local base = ids.config().base
        for _, u in ipairs {
          { uid = 1000, gid = 1000, host_uid = 0, host_gid = 5000 },
          { uid = 1000, gid = 1000, host_uid = base + 70000, host_gid = 5000 },
          { uid = 1000, gid = 1000, host_uid = 5000, host_gid = base },
          { uid = 1000, gid = 1000, host_uid = 300123, host_gid = 5000 },
          { uid = 1000, gid = 1000, host_uid = 5000 },
          { uid = 0, gid = 1000, host_uid = 5000, host_gid = 5000 },
          { map = "all", host_uid = 5000, host_gid = 5000 },
        } do
          local okc, c = pcall(nslua.container, { argv = { "/bin/true" }, user = u })
          if not okc then
            print("invalid " .. tostring(c):gsub("^[^\n]-:%%d+: ", ""))
          else
            local pid, err = c:start()
            print(pid and "started" or ("refused " .. err:gsub(tostring(base), "BASE")))
            if pid then c:wait() end
            c:close()
          end
        end
      ]]):format(sub))
      os.remove(sub)
      assert.is_true(ok, out)
      local lines = {}
      for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
      assert.equal("invalid user.host_uid: must not be 0 (host root)", lines[1])
      assert.matches("^refused start '%?': user.host_uid: %d+ is inside nslua's id slots BASE%.%.%d+", lines[2])
      assert.matches("^refused start '%?': user.host_gid: BASE is inside nslua's id slots", lines[3])
      assert.equal(("refused start '?': user.host_uid: 300123 is inside someone's range 300000:65536 in %s")
        :format(sub), lines[4])
      assert.equal("invalid user.host_gid: is required with user.host_uid", lines[5])
      assert.equal("invalid user.host_uid: requires a non-zero user.uid (inside uid 0 is the slot's)", lines[6])
      assert.equal('invalid user.host_uid: conflicts with map = "all"', lines[7])
      assert.equal(7, #lines, out)
    end)

    it("rootless: only the caller's own ids", function()
      local ok, out = helper.run_rootless([[
        local nslua = require "nslua"
        local uid, gid = nslua.proc.getuid(), nslua.proc.getgid()
        local r = assert(nslua.container{ argv = { "/bin/sh", "-c", "id -u; cat /proc/self/uid_map" },
          user = { uid = 7, gid = 7, host_uid = uid, host_gid = gid } }:run())
        print(r.status, r.exit_code)
        local c = nslua.container{ argv = { "/bin/true" }, user = { uid = 7, gid = 7, host_uid = 60007, host_gid = gid } }
        print((select(2, c:start())))
        c:close()
      ]])
      assert.is_true(ok, out)
      out = out:gsub("[ \t]+", " "):gsub("\n ", "\n"):gsub("^ ", "")
      assert.matches("^7\n7 " .. helper.ROOTLESS_UID .. " 1\nexited 0\n", out)
      assert.matches("\nstart '%?': user.host_uid: rootless, the payload's uid maps to the caller's own %(4242%), "
        .. "not 60007\n$", out)
    end)
  end)

  describe("limits.cpu_scope = \"command\"", function()
    -- nslua-<id> directories of container c anywhere on a cgroup hierarchy
    local CG_DIRS = [[
      local function cg_dirs(c)
        local f = io.popen("find /sys/fs/cgroup -maxdepth 8 -type d -name 'nslua-" .. c.id .. "'")
        local n = select(2, f:read("a"):gsub("\n", ""))
        f:close()
        return n
      end
    ]]

    it("ends a busy loop at its own cpu time, with no cgroup #priv", function()
      if not helper.is_root() then return pending("needs root (cgroups to compare with)") end
      local ok, out = api(CG_DIRS .. [[
        for _, scope in ipairs { "command", "container" } do
          local c = nslua.container{ argv = { "/bin/sh", "-c", "while :; do :; done" },
            limits = { time = 0.5, cpu_scope = scope } }
          assert(c:start())
          local n = cg_dirs(c)
          local f = assert(io.open("/run/nslua/" .. c.id .. "/info"))
          local recorded = f:read("a"):match("\ncgroup=([^\n]*)")
          f:close()
          local r = c:wait()
          c:close()
          print(scope, n > 0, recorded ~= "", r.status, r.signal, r.cpu_s >= 0.5 and r.cpu_s < 0.6 or r.cpu_s)
        end
      ]])
      assert.is_true(ok, out)
      -- the container scope (the control) makes its groups; the command scope none
      assert.equal("command\tfalse\tfalse\tcpu-limit\t9\ttrue\ncontainer\ttrue\ttrue\tcpu-limit\t9\ttrue\n", out)
    end)

    it("watches the command itself; children count in cpu_s once reaped", function()
      -- the child burns 0.8 s while the command sleeps: isolate's poll sees
      -- only the command, which ends by itself; the report counts the child
      local ok, out = api([=[
        local script = [[
import os, time
pid = os.fork()
if pid == 0:
    while time.process_time() < 0.8: pass
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.3)
]]
        local r = nslua.container{ argv = { "/usr/bin/python3", "-c", script },
          limits = { time = 0.5, cpu_scope = "command" } }:run()
        print(r.status, r.exit_code, r.cpu_s >= 0.8 and r.cpu_s < 1.2 or r.cpu_s)
      ]=])
      assert.is_true(ok, out)
      assert.equal("exited\t0\ttrue\n", out)
    end)

    it("finds the command without a pid namespace and without an init", function()
      local ok, out = api([[
        for _, extra in ipairs { { namespaces = { pid = false } }, { init = false },
                                 { init = false, namespaces = { pid = false } } } do
          local spec = { argv = { "/bin/sh", "-c", "while :; do :; done" },
            limits = { time = 0.3, extra_time = 0.1, wall = 5, cpu_scope = "command" } }
          spec.namespaces, spec.init = extra.namespaces, extra.init
          local r = assert(nslua.container(spec):run())
          print(r.status, r.cpu_s >= 0.4 and r.cpu_s < 0.5 or r.cpu_s)
        end
      ]])
      assert.is_true(ok, out)
      assert.equal(("cpu-limit\ttrue\n"):rep(3), out)
    end)

    it("works rootless", function()
      local ok, out = helper.run_rootless([[
        local nslua = require "nslua"
        local r = assert(nslua.container{ argv = { "/bin/sh", "-c", "while :; do :; done" },
          limits = { time = 0.3, wall = 5, cpu_scope = "command" } }:run())
        print(r.status, r.cpu_s >= 0.3 and r.cpu_s < 0.4 or r.cpu_s)
      ]])
      assert.is_true(ok, out)
      assert.equal("cpu-limit\ttrue\n", out)
    end)
  end)

  describe("SIGKILL of nslua during set-up", function()
    for _, step in ipairs { "ids", "uts", "net", "mounts", "pivot", "fork" } do
      it("at step " .. step .. " leaves no process after 1 s and nothing after gc", function()
        -- markers of this test only: other runs of this spec may be parked too
        local tag = ("%d%04d"):format(os.time() % 100000, math.random(0, 9999))
        local payload, name = "/bin/sleep 1007." .. tag, "stop-" .. step .. "-" .. tag
        -- kill once the child exists (it parks at the step until we die);
        -- a private /run/nslua: only this test sweeps the record (another
        -- nslua's sweep elsewhere on the machine may not know where this
        -- run's memory cgroup is)
        local script = ("mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1; "
          .. "NSLUA_TEST_STOP=%s %s run --memory 64M --name %s -- %s & p=$!; "
          .. "i=0; until [ -n \"$(cat /proc/$p/task/$p/children 2>/dev/null)\" ] || [ $i -ge 100 ]; do "
          .. "sleep 0.05; i=$((i+1)); done; sleep 0.3; kill -KILL $p; wait $p; sleep 1; %s gc; "
          .. "echo \"RECORDS: $(ls -A /run/nslua | grep -E '^[a-z0-9]{8}$|^\\.[a-z0-9]{8}\\.[0-9]+$' | tr '\\n' ' ')\"")
          :format(step, helper.nslua, name, payload, helper.nslua)
        local ok, out = helper.sh("unshare -m sh -c " .. helper.quote(script))
        assert.is_true(ok or out ~= nil)
        assert.equal("RECORDS: ", out:match("RECORDS: [^\n]*"), out)
        -- no process of the sandbox is left
        local _, ps = helper.sh("ps -eo args")
        assert.not_matches(payload, ps, 1, true)
        assert.not_matches(name, ps, 1, true)
      end)
    end
  end)
end)
