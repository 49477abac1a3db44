-- spec/core/cgroup_spec.lua - nslua.core.cgroup against this host's
-- controller-less cgroup2 hierarchy (and temp files for the generic cases).
local helper = require "helper"
local core = require "nslua.core"
local cgroup, ns, proc, E = core.cgroup, core.ns, core.proc, core.errno

local function rand(n)
  local t = {}
  for i = 1, n do
    local k = math.random(36)
    t[i] = ("abcdefghijklmnopqrstuvwxyz0123456789"):sub(k, k)
  end
  return table.concat(t)
end

-- The cgroup2 mount of this process, or nil.
local function v2_root()
  local path = (helper.read("/proc/self/cgroup") or ""):match("0::(%S+)")
  for line in io.lines("/proc/self/mountinfo") do
    local root, mnt, fstype = line:match("^%S+ %S+ %S+ (%S+) (%S+) .- %- (%S+)")
    if fstype == "cgroup2" and path and (root == "/" or path:sub(1, #root) == root) then
      local rel = root == "/" and path or path:sub(#root + 1)
      return mnt .. (rel == "/" and "" or rel)
    end
  end
end

local function fdinfo_flags(fd)
  local text = helper.read(("/proc/self/fdinfo/%d"):format(fd:fileno()))
  return tonumber(text:match("flags:%s*(%d+)"), 8)
end

-- Fork a child that joins 'dir' through its cgroup.procs fd, then blocks
-- on opening 'fifo' until it is killed.
local function member(dir, fifo)
  local fd = assert(cgroup.open(dir .. "/cgroup.procs", "w"))
  io.stdout:flush()
  io.stderr:flush()
  local pid = assert(ns.clone{})
  if pid == 0 then
    if not cgroup.write(fd, "0") then proc._exit(3) end
    io.open(fifo, "r")
    proc._exit(4)
  end
  fd:close()
  assert(cgroup.wait(dir .. "/cgroup.procs", tostring(pid), 5))
  return pid
end

describe("nslua.core.cgroup", function()
  local base, dir, tmp, fifo, tracker
  local O_CLOEXEC, O_DIRECTORY, O_WRONLY = 0x80000, 0x10000, 1

  before_each(function()
    base = v2_root()
    -- not nslua-<8 chars>: sweeps of concurrent runs never match it
    dir = base and (base .. "/nslua-core-" .. rand(8))
    -- the leftover check looks at this test's own group (and temp dir) only
    tracker = helper.track { gone = { dir } }
    tmp = helper.tmpdir()
    fifo = tmp .. "/fifo"
    assert(helper.sh("mkfifo " .. helper.quote(fifo)))
  end)

  after_each(function()
    -- a group the test left is a failure, even though it is removed here
    local left = dir and helper.exists(dir .. "/cgroup.procs")
    if left then
      cgroup.kill_procs(dir, 1)
      cgroup.rmdir(dir, 1)
    end
    helper.rmtree(tmp)
    assert(not left, "left behind on the host: " .. tostring(dir))
    helper.assert_released(tracker)
  end)

  local function need_v2()
    if not base then
      pending("no cgroup2 hierarchy mounted")
      return false
    end
    if not helper.is_root() then
      pending("needs root")
      return false
    end
    return true
  end

  describe("open", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.open("/x", "rw") end,
        "bad argument #2 to 'open' (invalid option 'rw')")
      assert.has_error(function() cgroup.open(nil, "r") end,
        "bad argument #1 to 'open' (string expected, got nil)")
      assert.has_error(function() cgroup.open("", "r") end,
        "bad argument #1 to 'open' (path must be a non-empty string without NUL bytes)")
    end)

    it("fails with the triple", function()
      local fd, msg, code = cgroup.open(tmp .. "/none/cgroup.procs", "w")
      assert.is_nil(fd)
      assert.equal(("open '%s/none/cgroup.procs': No such file or directory"):format(tmp), msg)
      assert.equal(E.ENOENT, code)
      fd, msg, code = cgroup.open(tmp .. "/fifo", "dir")
      assert.is_nil(fd)
      assert.matches("^open '.-/fifo': Not a directory$", msg)
      assert.equal(E.ENOTDIR, code)
    end)

    it("opens a group directory and cgroup.procs close-on-exec #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      local d = assert(cgroup.open(dir, "dir"))
      assert.equal("nslua.fd", tostring(d):match("^nslua%.fd"))
      local flags = fdinfo_flags(d)
      assert.equal(O_DIRECTORY | O_CLOEXEC, flags & (O_DIRECTORY | O_CLOEXEC))
      local _, out = helper.sh(("readlink /proc/%d/fd/%d"):format(
        tonumber(helper.read("/proc/self/stat"):match("^(%d+)")), d:fileno()))
      assert.equal(dir, out:match("^(.-)\n"))
      local w = assert(cgroup.open(dir .. "/cgroup.procs", "w"))
      assert.equal(O_WRONLY | O_CLOEXEC, fdinfo_flags(w) & (O_WRONLY | O_CLOEXEC))
      d:close()
      w:close()
      assert(cgroup.rmdir(dir))
    end)
  end)

  describe("read", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.read({}) end,
        "bad argument #1 to 'read' (string expected, got table)")
    end)

    it("fails with the triple", function()
      local s, msg, code = cgroup.read(tmp .. "/missing")
      assert.is_nil(s)
      assert.equal(("read '%s/missing': No such file or directory"):format(tmp), msg)
      assert.equal(E.ENOENT, code)
      -- bounded: a file larger than 16 KiB is refused, not truncated
      local f = assert(io.open(tmp .. "/big", "w"))
      f:write(("x"):rep(20000))
      f:close()
      s, msg, code = cgroup.read(tmp .. "/big")
      assert.is_nil(s)
      assert.matches("^read '.-/big': File too large$", msg)
      assert.equal(27, code)  -- EFBIG
    end)

    it("reads a whole small file", function()
      local f = assert(io.open(tmp .. "/small", "w"))
      f:write("usage_usec 12\nuser_usec 3\n")
      f:close()
      assert.equal("usage_usec 12\nuser_usec 3\n", cgroup.read(tmp .. "/small"))
    end)

    it("reads cgroup files #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      assert.equal("", cgroup.read(dir .. "/cgroup.procs"))
      assert.matches("^populated 0\nfrozen 0\n$", cgroup.read(dir .. "/cgroup.events"))
      assert(cgroup.rmdir(dir))
    end)
  end)

  describe("write", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.write("/x") end,
        "bad argument #2 to 'write' (string expected, got no value)")
      assert.has_error(function() cgroup.write(true, "0") end,
        "bad argument #1 to 'write' (fd box or integer expected, got boolean)")
      local d = assert(cgroup.open(tmp, "dir"))
      d:close()
      assert.has_error(function() cgroup.write(d, "0") end,
        "bad argument #1 to 'write' (attempt to use a closed fd)")
    end)

    it("fails with the write's errno #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      local ok, msg, code = cgroup.write(dir .. "/cgroup.procs", "abc")
      assert.is_nil(ok)
      assert.equal(("write '%s/cgroup.procs': Invalid argument"):format(dir), msg)
      assert.equal(E.EINVAL, code)
      -- a pid that does not exist
      ok, msg, code = cgroup.write(dir .. "/cgroup.procs", "2147483646")
      assert.is_nil(ok)
      assert.equal(("write '%s/cgroup.procs': No such process"):format(dir), msg)
      assert.equal(E.ESRCH, code)
      -- through an fd: the subject is the descriptor
      local fd = assert(cgroup.open(dir .. "/cgroup.freeze", "w"))
      ok, msg, code = cgroup.write(fd, "2")
      assert.is_nil(ok)
      assert.equal(("write 'fd %d': Numerical result out of range"):format(fd:fileno()), msg)
      assert.equal(E.ERANGE, code)
      fd:close()
      ok, msg, code = cgroup.write(dir .. "/nothing", "1")
      assert.is_nil(ok)
      assert.equal(("write '%s/nothing': No such file or directory"):format(dir), msg)
      assert.equal(E.ENOENT, code)
      assert(cgroup.rmdir(dir))
    end)

    it("moves a process through an inherited cgroup.procs fd #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      local pid = member(dir, fifo)
      local rel = dir:sub(#"/sys/fs/cgroup/unified" + 1)
      local cg = helper.read("/proc/" .. pid .. "/cgroup")
      assert.matches("\n0::" .. rel:gsub("%-", "%%-") .. "\n", "\n" .. cg)
      assert.equal(pid .. "\n", cgroup.read(dir .. "/cgroup.procs"))
      assert.equal(1, cgroup.kill_procs(dir, 1))
      local _, how, sig = proc.waitpid(pid)
      assert.equal("signaled", how)
      assert.equal(9, sig)
      assert(cgroup.rmdir(dir, 1))
    end)
  end)

  describe("mkdir and rmdir", function()
    it("reject bad arguments", function()
      assert.has_error(function() cgroup.mkdir("/x", 010000) end,
        "bad argument #2 to 'mkdir' (mode out of range)")
      assert.has_error(function() cgroup.rmdir("/x", -1) end,
        "bad argument #2 to 'rmdir' (wait must be 0..60 seconds)")
    end)

    it("fail with the triple", function()
      local ok, msg, code = cgroup.mkdir(tmp)
      assert.is_nil(ok)
      assert.equal(("mkdir '%s': File exists"):format(tmp), msg)
      assert.equal(E.EEXIST, code)
      ok, msg, code = cgroup.rmdir(tmp .. "/none")
      assert.is_nil(ok)
      assert.equal(("rmdir '%s/none': No such file or directory"):format(tmp), msg)
      assert.equal(E.ENOENT, code)
    end)

    it("rmdir reports EBUSY while a member lives, after waiting #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir, 0750))
      local pid = member(dir, fifo)
      local t0 = os.time()
      local ok, msg, code = cgroup.rmdir(dir, 0.05)
      assert.is_nil(ok)
      assert.equal(("rmdir '%s': Device or resource busy"):format(dir), msg)
      assert.equal(E.EBUSY, code)
      assert.is_true(os.time() - t0 < 3)
      assert(cgroup.kill_procs(dir, 1))
      assert(proc.waitpid(pid))
      assert.is_true(cgroup.rmdir(dir, 1))
      assert.is_false(helper.exists(dir .. "/cgroup.procs"))
    end)
  end)

  describe("subdirs", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.subdirs() end,
        "bad argument #1 to 'subdirs' (string expected, got no value)")
    end)

    it("fails with the triple", function()
      local t, msg, code = cgroup.subdirs(fifo)
      assert.is_nil(t)
      assert.equal(("subdirs '%s': Not a directory"):format(fifo), msg)
      assert.equal(E.ENOTDIR, code)
    end)

    it("lists child directories only", function()
      assert(cgroup.mkdir(tmp .. "/a"))
      assert(cgroup.mkdir(tmp .. "/b"))
      local t = assert(cgroup.subdirs(tmp))
      table.sort(t)
      assert.same({ "a", "b" }, t)
    end)
  end)

  describe("kill_procs", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.kill_procs("/x", 61) end,
        "bad argument #2 to 'kill_procs' (wait must be 0..60 seconds)")
    end)

    it("fails with the triple", function()
      local n, msg, code = cgroup.kill_procs(tmp .. "/none")
      assert.is_nil(n)
      assert.equal(("kill_procs '%s/none': No such file or directory"):format(tmp), msg)
      assert.equal(E.ENOENT, code)
    end)

    it("kills every member and waits for the group to empty #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      assert.equal(0, cgroup.kill_procs(dir))
      local a, b = member(dir, fifo), member(dir, fifo)
      assert.equal(2, cgroup.kill_procs(dir, 1))
      assert.equal("", cgroup.read(dir .. "/cgroup.procs"))
      for _, pid in ipairs { a, b } do
        local _, how, sig = proc.waitpid(pid)
        assert.same({ "signaled", 9 }, { how, sig })
      end
      assert(cgroup.rmdir(dir, 1))
    end)
  end)

  describe("wait", function()
    it("rejects bad arguments", function()
      assert.has_error(function() cgroup.wait("/x", "a\nb") end,
        "bad argument #2 to 'wait' (line must be a non-empty single line)")
    end)

    it("times out with ETIMEDOUT, fails on a missing file", function()
      local f = assert(io.open(tmp .. "/state", "w"))
      f:write("THAWED\n")
      f:close()
      local ok, msg, code = cgroup.wait(tmp .. "/state", "FROZEN", 0.02)
      assert.is_nil(ok)
      assert.equal(("wait '%s/state': Connection timed out"):format(tmp), msg)
      assert.equal(E.ETIMEDOUT, code)
      ok, msg, code = cgroup.wait(tmp .. "/none", "x")
      assert.is_nil(ok)
      assert.matches("^wait '" .. tmp:gsub("%p", "%%%0") .. "/none': No such file or directory$", msg)
      assert.equal(E.ENOENT, code)
      -- a line must match whole
      assert.is_nil(cgroup.wait(tmp .. "/state", "THAW", 0))
      assert.is_true(cgroup.wait(tmp .. "/state", "THAWED", 0))
    end)

    it("sees cgroup.events change #priv", function()
      if not need_v2() then return end
      assert(cgroup.mkdir(dir))
      assert.is_true(cgroup.wait(dir .. "/cgroup.events", "populated 0"))
      local pid = member(dir, fifo)
      assert.is_true(cgroup.wait(dir .. "/cgroup.events", "populated 1"))
      assert(cgroup.kill_procs(dir, 1))
      assert(proc.waitpid(pid))
      assert.is_true(cgroup.wait(dir .. "/cgroup.events", "populated 0"))
      assert(cgroup.rmdir(dir, 1))
    end)
  end)
end)
