-- spec/core/mount_spec.lua - core.mount: misuse raises, failures return the
-- triple, and mounts made in a child's private namespace are seen there only.
local helper = require "helper"
local core = require "nslua.core"
local mount, E = core.mount, core.errno

local MS_FLAGS = "rdonly nosuid nodev noexec synchronous remount mandlock dirsync "
  .. "noatime nodiratime bind move rec silent unbindable private slave shared "
  .. "relatime strictatime lazytime nosymfollow"
local ATTR_FLAGS = "rdonly nosuid nodev noexec nosymfollow noatime strictatime nodiratime idmap"

-- The busted process's own pid, for /proc/<pid>/mountinfo read by a child.
local function mypid()
  return tonumber(helper.read("/proc/self/stat"):match("^(%d+)"))
end

-- Mount points listed in a mountinfo text.
local function mountpoints(text)
  local set = {}
  for line in text:gmatch("[^\n]+") do
    local mp, fstype = line:match("^%S+ %S+ %S+ %S+ (%S+) %S+.- %- (%S+)")
    if mp then set[mp] = fstype end
  end
  return set
end

-- Code run first by every privileged child: a private mount namespace, so
-- nothing it mounts reaches the host.  T(...) prints a result tuple.
local PRE = [[
local core = require "nslua.core"
local mount, ns, E = core.mount, core.ns, core.errno
assert(ns.unshare{mnt = true})
assert(mount.mount(nil, "/", nil, {rec = true, private = true}))
local function T(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
local function mountinfo(pid)
  local f = assert(io.open("/proc/" .. (pid or "self") .. "/mountinfo"))
  local s = f:read("a")
  f:close()
  return s
end
-- Options and type of the topmost mount at 'path', from a mountinfo text.
local function entry(path, text)
  local opts, fstype
  for line in (text or mountinfo()):gmatch("[^\n]+") do
    local mp, o, t = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+).- %- (%S+)")
    if mp == path then opts, fstype = o, t end
  end
  return opts, fstype
end
local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1"))
  local s = f:read("a")
  f:close()
  return (s:gsub("\n$", ""))
end
]]

-- Run PRE .. code as root in a fresh lua5.4 with V1, V2, ... = vars;
-- 'prefix' goes before the interpreter on the shell line.
local function child(code, vars, prefix)
  local decl = {}
  for i, v in ipairs(vars or {}) do
    decl[#decl + 1] = ("local V%d = %q\n"):format(i, v)
  end
  local ok, out = helper.run_isolated(table.concat(decl) .. PRE .. code, prefix)
  assert(ok, out)
  return out
end

describe("nslua.core.mount", function()
  local tracker, dirs

  -- The leftover check looks at mounts at or under the test's own temp dirs
  -- (helper.tmpdir): other runs on the machine mount and unmount elsewhere.
  before_each(function()
    tracker = helper.track()
    dirs = {}
  end)

  after_each(function()
    local left = helper.leftovers(tracker)
    for _, v in ipairs(left) do
      -- a mount that reached the host is ours: take it away before the dirs
      local mp = v:match("^mount: (.*)$")
      if mp then os.execute("umount -l " .. helper.quote(mp) .. " 2>/dev/null") end
    end
    for _, d in ipairs(dirs) do helper.rmtree(d) end
    for _, d in ipairs(dirs) do assert.is_false(helper.exists(d), d) end
    assert(#left == 0, "left behind on the host:\n  " .. table.concat(left, "\n  "))
  end)

  local function tmp(mode)
    local d = helper.tmpdir(mode or "0755")
    dirs[#dirs + 1] = d
    return d
  end

  local function needs_root()
    if not helper.is_root() then
      pending("needs root")
      return true
    end
  end

  teardown(function()
    helper.cleanup_rootless_tree()
  end)

  describe("misuse raises", function()
    it("mount: unknown flag, bad types", function()
      assert.has_error(function() mount.mount("a", "/b", nil, {bnd = true}) end,
        "bad argument #4 to 'mount' (unknown flag 'bnd' (valid: " .. MS_FLAGS .. "))")
      assert.has_error(function() mount.mount("a", "/b", nil, {bind = 1}) end,
        "bad argument #4 to 'mount' (flag 'bind' must be a boolean)")
      assert.has_error(function() mount.mount("a") end,
        "bad argument #2 to 'mount' (string expected, got no value)")
      assert.has_error(function() mount.mount({}, "/b") end,
        "bad argument #1 to 'mount' (string expected, got table)")
      assert.has_error(function() mount.mount("a", "/b", nil, nil, {}) end,
        "bad argument #5 to 'mount' (string expected, got table)")
    end)

    it("umount: unknown flag", function()
      assert.has_error(function() mount.umount("/x", {lazy = true}) end,
        "bad argument #2 to 'umount' (unknown flag 'lazy' (valid: force detach expire nofollow))")
      assert.has_error(function() mount.umount() end,
        "bad argument #1 to 'umount' (string expected, got no value)")
    end)

    it("pivot_root, pivot, chroot, chdir: missing paths", function()
      assert.has_error(function() mount.pivot_root("/x") end,
        "bad argument #2 to 'pivot_root' (string expected, got no value)")
      assert.has_error(function() mount.pivot() end,
        "bad argument #1 to 'pivot' (string expected, got no value)")
      assert.has_error(function() mount.chroot(false) end,
        "bad argument #1 to 'chroot' (string expected, got boolean)")
      assert.has_error(function() mount.chdir() end,
        "bad argument #1 to 'chdir' (string expected, got no value)")
    end)

    it("mkdir, mkfile, chmod, write_file: mode range and types", function()
      assert.has_error(function() mount.mkdir("/x", "010000") end,
        "bad argument #2 to 'mkdir' (mode out of range (0..07777))")
      assert.has_error(function() mount.mkdir("/x", 4096) end,
        "bad argument #2 to 'mkdir' (mode out of range (0..07777))")
      assert.has_error(function() mount.mkdir("/x", "0789") end,
        "bad argument #2 to 'mkdir' (mode must be an integer or an octal string)")
      assert.has_error(function() mount.chmod("/x", "") end,
        "bad argument #2 to 'chmod' (mode must be an integer or an octal string)")
      assert.has_error(function() mount.mkdir("/x", "0755", "yes") end,
        "bad argument #3 to 'mkdir' (boolean expected, got string)")
      assert.has_error(function() mount.mkdir("", "0755", true) end,
        "bad argument #1 to 'mkdir' (empty path)")
      assert.has_error(function() mount.mkfile("/x", -1) end,
        "bad argument #2 to 'mkfile' (mode out of range (0..07777))")
      assert.has_error(function() mount.chmod("/x") end,
        "bad argument #2 to 'chmod' (number expected, got no value)")
      assert.has_error(function() mount.chmod("/x", 1.5) end,
        "bad argument #2 to 'chmod' (number has no integer representation)")
      assert.has_error(function() mount.write_file("/x", {}) end,
        "bad argument #2 to 'write_file' (string expected, got table)")
      assert.has_error(function() mount.write_file("/x", "", 0x10000) end,
        "bad argument #3 to 'write_file' (mode out of range (0..07777))")
    end)

    it("chown: negative or huge ids, bad nofollow", function()
      assert.has_error(function() mount.chown("/x", -1, 0) end,
        "bad argument #2 to 'chown' (id out of range (0..4294967294))")
      assert.has_error(function() mount.chown("/x", 0, 0xffffffff) end,
        "bad argument #3 to 'chown' (id out of range (0..4294967294))")
      assert.has_error(function() mount.chown("/x", 0, 0, 1) end,
        "bad argument #4 to 'chown' (boolean expected, got number)")
    end)

    it("mknod: unknown type, device numbers", function()
      assert.has_error(function() mount.mknod("/x", "pipe", "0600") end,
        "bad argument #2 to 'mknod' (invalid option 'pipe')")
      assert.has_error(function() mount.mknod("/x", "char", "0600", 4096, 0) end,
        "bad argument #4 to 'mknod' (major out of range (0..4095))")
      assert.has_error(function() mount.mknod("/x", "char", "0600", 1, -3) end,
        "bad argument #5 to 'mknod' (minor out of range (0..1048575))")
      assert.has_error(function() mount.mknod("/x", "fifo") end,
        "bad argument #3 to 'mknod' (number expected, got no value)")
    end)

    it("symlink, unlink, rmdir: types", function()
      assert.has_error(function() mount.symlink("t") end,
        "bad argument #2 to 'symlink' (string expected, got no value)")
      assert.has_error(function() mount.unlink() end,
        "bad argument #1 to 'unlink' (string expected, got no value)")
      assert.has_error(function() mount.rmdir({}) end,
        "bad argument #1 to 'rmdir' (string expected, got table)")
    end)

    it("open_tree, move_mount, mount_setattr: flags and fds", function()
      assert.has_error(function() mount.open_tree("/", {recursive = true}) end,
        "bad argument #2 to 'open_tree' (unknown flag 'recursive' (valid: clone rec nofollow))")
      assert.has_error(function() mount.move_mount("x", "/y") end,
        "bad argument #1 to 'move_mount' (fd box or integer expected, got string)")
      assert.has_error(function() mount.move_mount(-1, "/y") end,
        "bad argument #1 to 'move_mount' (fd out of range)")
      -- without clone, open_tree is an O_PATH open: no privilege, no mount
      local fd = assert(mount.open_tree("/"))
      assert.is_true(fd:close())
      assert.has_error(function() mount.move_mount(fd, "/y") end,
        "bad argument #1 to 'move_mount' (attempt to use a closed fd)")
      assert.has_error(function() mount.mount_setattr("/", {ro = true}) end,
        "bad argument #2 to 'mount_setattr' (unknown flag 'ro' (valid: " .. ATTR_FLAGS .. "))")
      assert.has_error(function() mount.mount_setattr("/", nil, {bind = true}) end,
        "bad argument #3 to 'mount_setattr' (unknown flag 'bind' (valid: " .. ATTR_FLAGS .. "))")
      assert.has_error(function() mount.mount_setattr("/", {noatime = true, strictatime = true}) end,
        "bad argument #2 to 'mount_setattr' ('noatime' and 'strictatime' exclude each other)")
      assert.has_error(function() mount.mount_setattr("/", {idmap = true}) end,
        "bad argument #2 to 'mount_setattr' ('idmap' needs a userns fd (argument #4))")
      assert.has_error(function() mount.mount_setattr({}, {}) end,
        "bad argument #1 to 'mount_setattr' (fd box or integer expected, got table)")
      assert.has_error(function() mount.mount_setattr("/", {}, nil, nil, "yes") end,
        "bad argument #5 to 'mount_setattr' (boolean expected, got string)")
    end)
  end)

  describe("failures return the triple", function()
    it("file operations on missing paths: ENOENT", function()
      local d = tmp()
      local missing = d .. "/no/such"
      assert.is_true(mount.symlink("nowhere", d .. "/dangling"))
      local cases = {
        {"mkdir", function() return mount.mkdir(missing) end},
        {"mkdir", function() return mount.mkdir(d .. "/dangling/x", "0755", true) end,
          d .. "/dangling"},
        {"open", function() return mount.mkfile(missing) end},
        {"symlink", function() return mount.symlink("x", missing) end},
        {"chmod", function() return mount.chmod(missing, "0600") end},
        {"chown", function() return mount.chown(missing, 0, 0) end},
        {"lchown", function() return mount.chown(missing, 0, 0, true) end},
        {"mknod", function() return mount.mknod(missing, "fifo", "0600") end},
        {"unlink", function() return mount.unlink(missing) end},
        {"rmdir", function() return mount.rmdir(missing) end},
        {"open", function() return mount.write_file(missing, "x") end},
        {"chdir", function() return mount.chdir(missing) end},
        {"chroot", function() return mount.chroot(missing) end},
        {"open_tree", function() return mount.open_tree(missing) end},
      }
      for _, c in ipairs(cases) do
        local r, msg, code = c[2]()
        assert.is_nil(r, c[1])
        assert.equal(("%s '%s': No such file or directory"):format(c[1], c[3] or missing), msg)
        assert.equal(E.ENOENT, code)
      end
    end)

    it("file operations on existing or wrong-type paths", function()
      local d = tmp()
      assert.is_true(mount.write_file(d .. "/f", "x"))
      assert.is_true(mount.symlink(d .. "/f", d .. "/l"))
      assert.is_true(mount.mkdir(d .. "/sub"))
      assert.is_true(mount.write_file(d .. "/sub/g", "y"))
      local function triple(code, msg, r, m, c)
        assert.is_nil(r)
        assert.equal(msg, m)
        assert.equal(code, c)
      end
      triple(E.EEXIST, ("mkdir '%s/f': File exists"):format(d), mount.mkdir(d .. "/f"))
      triple(E.EEXIST, ("mkdir '%s/f': File exists"):format(d), mount.mkdir(d .. "/f", "0755", true))
      triple(E.ENOTDIR, ("mkdir '%s/f': Not a directory"):format(d),
        mount.mkdir(d .. "/f/x/y", "0755", true))
      triple(E.EISDIR, ("open '%s/sub': Is a directory"):format(d), mount.mkfile(d .. "/sub"))
      triple(E.ELOOP, ("open '%s/l': Too many levels of symbolic links"):format(d),
        mount.write_file(d .. "/l", "z"))
      triple(E.EEXIST, ("mknod '%s/f': File exists"):format(d), mount.mknod(d .. "/f", "fifo", "0600"))
      triple(E.EEXIST, ("symlink '%s/l': File exists"):format(d), mount.symlink("x", d .. "/l"))
      triple(E.ENOTEMPTY, ("rmdir '%s/sub': Directory not empty"):format(d), mount.rmdir(d .. "/sub"))
      triple(E.EISDIR, ("unlink '%s/sub': Is a directory"):format(d), mount.unlink(d .. "/sub"))
      -- the symlink was not followed: its target is unchanged
      assert.equal("x", helper.read(d .. "/f"))
    end)

    it("mount calls as an unprivileged user: EPERM #priv", function()
      if needs_root() then return end
      local d = tmp("0777")
      local ok, out = helper.run_rootless(([[
        local mount = require("nslua.core").mount
        local d = %q
        local function T(...) print((select(2, ...)), (select(3, ...))) end
        T(mount.mount("none", d, "tmpfs"))
        T(mount.umount("/proc"))
        T(mount.pivot_root(d, d))
        T(mount.chroot(d))
        T(mount.open_tree(d, {clone = true}))
        T(mount.mount_setattr(d, {rdonly = true}))
        T(mount.mknod(d .. "/null", "char", "0666", 1, 3))
        T(mount.chown(d, 0, 0))
      ]]):format(d))
      assert.is_true(ok, out)
      local eperm = "Operation not permitted\t" .. E.EPERM .. "\n"
      assert.equal(
        ("mount '%s': "):format(d) .. eperm ..
        "umount '/proc': " .. eperm ..
        ("pivot_root '%s': "):format(d) .. eperm ..
        ("chroot '%s': "):format(d) .. eperm ..
        ("open_tree '%s': "):format(d) .. eperm ..
        ("mount_setattr '%s': "):format(d) .. eperm ..
        ("mknod '%s/null': "):format(d) .. eperm ..
        ("chown '%s': "):format(d) .. eperm, out)
    end)

    it("mount failures in a private namespace #priv", function()
      if needs_root() then return end
      local d, missing = tmp(), tmp() .. "/missing"
      local out = child([[
        local d, missing = V1, V2
        T(mount.umount(d))                          -- not a mount point
        T(mount.mount(nil, missing, nil, {bind = true}))
        T(mount.mount("none", d, "nslua-nofs"))
        T(mount.pivot_root(d, d))                   -- on the current root mount
        T(mount.pivot(d))
        assert(mount.mount("tmpfs", d, "tmpfs", nil, "size=1m"))
        assert(mount.mkdir(d .. "/sub"))
        T(mount.pivot(d .. "/sub"))                 -- not a mount point
        T(mount.pivot(missing))
        local o = assert(mount.open_tree(d .. "/sub"))  -- O_PATH: not a mount
        T(mount.move_mount(o, d))
        local t = assert(mount.open_tree(d, {clone = true}))
        T(mount.mount_setattr(d, nil, nil, t))      -- O_PATH fds are not taken
        T(mount.mount_setattr(d, nil, nil, 1))      -- not a userns fd
        T(mount.mount_setattr(t, {}, nil, 5))       -- the initial userns: refused
      ]], {d, missing}, "5</proc/self/ns/user")
      local function L(op, subj, text, code)
        return ("nil|%s '%s': %s|%d\n"):format(op, subj, text, code)
      end
      assert.equal(
        L("umount", d, "Invalid argument", E.EINVAL) ..
        L("mount", missing, "No such file or directory", E.ENOENT) ..
        L("mount", d, "No such device", E.ENODEV) ..
        L("pivot_root", d, "Device or resource busy", E.EBUSY) ..
        L("pivot_root", ".", "Device or resource busy", E.EBUSY) ..
        L("pivot_root", ".", "Invalid argument", E.EINVAL) ..
        L("chdir", missing, "No such file or directory", E.ENOENT) ..
        L("move_mount", d, "Invalid argument", E.EINVAL) ..
        L("mount_setattr", d, "Bad file descriptor", E.EBADF) ..
        L("mount_setattr", d, "Invalid argument", E.EINVAL) ..
        L("mount_setattr", "fd 3", "Operation not permitted", E.EPERM),
        (out:gsub("fd %d+'", "fd 3'")))
    end)
  end)

  describe("success", function()
    it("mkdir (-p), mkfile, symlink, write_file, unlink, rmdir", function()
      local d = tmp()
      assert.is_true(mount.mkdir(d .. "/a", tonumber("700", 8)))
      assert.is_true(mount.mkdir(d .. "//b/c/d/", "0755", true))
      assert.is_true(mount.mkdir(d .. "/b/c/d", "0755", true))  -- existing: success
      assert.is_true(mount.mkfile(d .. "/b/c/d/f", "0600"))
      assert.is_true(mount.write_file(d .. "/b/c/d/f", "not empty"))
      assert.is_true(mount.mkfile(d .. "/b/c/d/f"))           -- existing: kept
      assert.equal("not empty", helper.read(d .. "/b/c/d/f"))
      assert.is_true(mount.symlink("b/c", d .. "/s"))
      local big = ("0123456789abcdef"):rep(1 << 16)
      assert.is_true(mount.write_file(d .. "/big", big, "0640"))
      assert.is_true(mount.write_file(d .. "/big", big .. "!"))  -- truncates, keeps mode
      local ok, out = helper.sh(("cd %s && stat -c '%%n %%F %%a' a b/c/d b/c/d/f s big && readlink s")
        :format(helper.quote(d)))
      assert.is_true(ok, out)
      assert.equal("a directory 700\nb/c/d directory 755\nb/c/d/f regular file 600\n"
        .. "s symbolic link 777\nbig regular file 640\nb/c\n", out)
      assert.equal(big .. "!", helper.read(d .. "/big"))
      assert.is_true(mount.unlink(d .. "/s"))
      assert.is_true(mount.unlink(d .. "/b/c/d/f"))
      assert.is_true(mount.rmdir(d .. "/b/c/d"))
      assert.is_false(helper.exists(d .. "/s"))
      assert.is_false(helper.exists(d .. "/b/c/d"))
    end)

    it("exchange swaps two names; a missing one is ENOENT", function()
      local d = tmp()
      assert.is_true(mount.write_file(d .. "/a", "A"))
      assert.is_true(mount.write_file(d .. "/b", "B"))
      assert.is_true(mount.exchange(d .. "/a", d .. "/b"))
      assert.equal("B", helper.read(d .. "/a"))
      assert.equal("A", helper.read(d .. "/b"))
      local r, msg, code = mount.exchange(d .. "/a", d .. "/c")
      assert.is_nil(r)
      assert.equal(("rename (exchange) '%s/c': No such file or directory"):format(d), msg)
      assert.equal(E.ENOENT, code)
      assert.equal("B", helper.read(d .. "/a"))
      assert.has_error(function() mount.exchange(d .. "/a") end,
        "bad argument #2 to 'exchange' (string expected, got no value)")
      assert.is_true(mount.unlink(d .. "/a"))
      assert.is_true(mount.unlink(d .. "/b"))
    end)

    it("tmpfs and proc are seen in the child only; umount removes them #priv", function()
      if needs_root() then return end
      local t, p = tmp(), tmp()
      local out = child(([[
        local t, p, parent = V1, V2, %d
        assert(mount.mount("tmpfs", t, "tmpfs", {nosuid = true, nodev = true}, "size=1m,mode=0750"))
        assert(mount.mount("proc", p, "proc", {nosuid = true, nodev = true, noexec = true}))
        print(entry(t))
        print(entry(p))
        local host = mountinfo(parent)
        print(entry(t, host), entry(p, host))
        print(sh("stat -c %%a " .. t), io.open(p .. "/self/status") ~= nil)
        T(mount.umount(t))
        T(mount.umount(p, {detach = true}))
        print(entry(t), entry(p))
        T(mount.umount(t))
      ]]):format(mypid()), {t, p})
      assert.equal("rw,nosuid,nodev,relatime\ttmpfs\n"
        .. "rw,nosuid,nodev,noexec,relatime\tproc\n"
        .. "nil\tnil\tnil\n"
        .. "750\ttrue\n"
        .. "true\ntrue\nnil\tnil\tnil\n"
        .. ("nil|umount '%s': Invalid argument|%d\n"):format(t, E.EINVAL), out)
      local mine = mountpoints(helper.read("/proc/self/mountinfo"))
      assert.is_nil(mine[t])
      assert.is_nil(mine[p])
    end)

    it("a bind remounted read-only refuses writes (EROFS) #priv", function()
      if needs_root() then return end
      local src, dst = tmp(), tmp()
      local out = child([[
        local src, dst = V1, V2
        assert(mount.mount(src, dst, nil, {bind = true}))
        T(mount.write_file(dst .. "/rw", "1"))
        assert(mount.mount(nil, dst, nil, {remount = true, bind = true, rdonly = true}))
        T(mount.write_file(dst .. "/ro", "2"))
        T(mount.mkdir(dst .. "/d"))
        T(mount.write_file(src .. "/still", "3"))
      ]], {src, dst})
      assert.equal(("true\nnil|open '%s/ro': Read-only file system|%d\n"):format(dst, E.EROFS)
        .. ("nil|mkdir '%s/d': Read-only file system|%d\n"):format(dst, E.EROFS)
        .. "true\n", out)
      assert.equal("1", helper.read(src .. "/rw"))
      assert.equal("3", helper.read(src .. "/still"))
      assert.is_false(helper.exists(src .. "/ro"))
    end)

    it("open_tree(clone) + mount_setattr + move_mount #priv", function()
      if needs_root() then return end
      local src, dst = tmp(), tmp()
      assert.is_true(mount.write_file(src .. "/f", "tree"))
      local out = child([[
        local src, dst = V1, V2
        local t = assert(mount.open_tree(src, {clone = true, rec = true}))
        print(tostring(t):match("^nslua.fd %(%d+%)$") ~= nil)
        print((entry(dst)))                         -- detached: not yet visible
        assert(mount.mount_setattr(t, {rdonly = true, nosuid = true, noatime = true}))
        assert(mount.move_mount(t, dst))
        assert(t:close())
        print((entry(dst)))
        print(io.open(dst .. "/f"):read("a"))
        T(mount.write_file(dst .. "/g", "x"))
        -- by path, recursively: clearing rdonly makes it writable again
        assert(mount.mount_setattr(dst, nil, {rdonly = true, noatime = true}, nil, true))
        print((entry(dst)))
        T(mount.write_file(dst .. "/g", "x"))
      ]], {src, dst})
      assert.equal("true\nnil\nro,nosuid,noatime\ntree\n"
        .. ("nil|open '%s/g': Read-only file system|%d\n"):format(dst, E.EROFS)
        .. "rw,nosuid,relatime\ntrue\n", out)
      assert.equal("x", helper.read(src .. "/g"))
    end)

    it("open_tree of a dir under a 0700 dir serves an unprivileged reader #priv", function()
      if needs_root() then return end
      local hidden, dst = tmp("0700"), tmp("0755")
      assert.is_true(mount.mkdir(hidden .. "/inner", "0755"))
      assert.is_true(mount.write_file(hidden .. "/inner/f", "secret-ok", "0644"))
      local out = child(([[
        local src, dst = V1, V2
        local t = assert(mount.open_tree(src, {clone = true}))
        assert(mount.move_mount(t, dst))
        t:close()
        print(sh(%q .. " cat " .. src .. "/f >/dev/null 2>&1 && echo readable || echo denied"))
        print(sh(%q .. " cat " .. dst .. "/f"))
      ]]):format(helper.SETPRIV, helper.SETPRIV), {hidden .. "/inner", dst})
      assert.equal("denied\nsecret-ok\n", out)
    end)

    it("mount_setattr with a userns fd makes an idmapped mount #priv", function()
      if needs_root() then return end
      local src, dst = tmp(), tmp()
      -- A user namespace mapping 0 -> 4242, held open as fd 5 after its
      -- only process is gone (the fd keeps the namespace alive).
      local prefix = [[unshare -U sleep 60 & P=$!; i=0;
        while [ $i -lt 500 ] && [ "$(readlink /proc/$P/ns/user)" = "$(readlink /proc/self/ns/user)" ];
        do sleep 0.01; i=$((i+1)); done;
        echo '0 4242 1' > /proc/$P/uid_map && echo '0 4242 1' > /proc/$P/gid_map;
        exec 5</proc/$P/ns/user; { kill $P; wait $P; } 2>/dev/null;]]
      local out = child([[
        local src, dst = V1, V2
        assert(mount.mount("tmpfs", src, "tmpfs", nil, "size=1m"))
        assert(mount.write_file(src .. "/f", "mapped"))
        local t = assert(mount.open_tree(src, {clone = true}))
        local r, msg, code = mount.mount_setattr(t, {}, nil, 5)
        if not r and code == E.EINVAL then print("unsupported: " .. msg) os.exit(0) end
        assert(r, msg)
        assert(mount.move_mount(t, dst))
        print(sh("stat -c %u:%g " .. src .. "/f " .. dst .. "/f"))
        print((entry(dst)))
      ]], {src, dst}, prefix)
      if out:match("^unsupported") then return pending(out) end
      assert.equal("0:0\n4242:4242\nrw,relatime,idmapped\n", out)
    end)

    it("pivot: a tmpfs root built from scratch with /usr read-only #priv", function()
      if needs_root() then return end
      local root = tmp()
      local out = child(([[
        local root, parent = V1, %d
        assert(mount.mount("tmpfs", root, "tmpfs", {nosuid = true, nodev = true}, "mode=0755,size=8m"))
        assert(mount.mkdir(root .. "/usr"))
        assert(mount.mkdir(root .. "/etc/nslua", "0755", true))
        assert(mount.mkdir(root .. "/proc"))
        for _, l in ipairs{"bin", "lib", "lib64"} do
          assert(mount.symlink("usr/" .. l, root .. "/" .. l))
        end
        assert(mount.write_file(root .. "/etc/hostname", "built\n"))
        assert(mount.mount("/usr", root .. "/usr", nil, {bind = true, rec = true}))
        assert(mount.mount(nil, root .. "/usr", nil, {remount = true, bind = true, rdonly = true}))
        assert(mount.pivot(root))
        -- a fresh proc first: sanitizer runtimes (make sanitize) read /proc
        assert(mount.mount("proc", "/proc", "proc"))
        print(sh("ls -A / | tr '\\n' ' '"))
        print(sh("pwd -P"), io.open("/usr/bin/env") ~= nil, io.open("/etc/hostname"):read("l"))
        T(mount.write_file("/usr/nslua-test", "x"))
        local extra = {}
        for line in mountinfo():gmatch("[^\n]+") do
          local mp = line:match("^%%S+ %%S+ %%S+ %%S+ (%%S+)")
          if mp ~= "/" and mp ~= "/proc" and mp ~= "/usr" and not mp:find("^/usr/") then
            extra[#extra + 1] = mp
          end
        end
        print("extra: " .. table.concat(extra, " "))
        print(entry("/"))
        print(entry(root, mountinfo(parent)))
      ]]):format(mypid()), {root})
      assert.equal("bin etc lib lib64 proc usr \n"
        .. "/\ttrue\tbuilt\n"
        .. ("nil|open '/usr/nslua-test': Read-only file system|%d\n"):format(E.EROFS)
        .. "extra: \n"
        .. "rw,nosuid,nodev,relatime\ttmpfs\n"
        .. "nil\tnil\n", out)
      assert.is_false(helper.exists("/usr/nslua-test"))
      assert.is_nil(select(2, helper.sh("ls -A " .. helper.quote(root))):match("%S"))
    end)

    it("pivot_root with a put_old, then a detached umount #priv", function()
      if needs_root() then return end
      local root = tmp()
      local out = child([[
        local root = V1
        assert(mount.mount("tmpfs", root, "tmpfs", nil, "size=1m"))
        assert(mount.mkdir(root .. "/old"))
        assert(mount.pivot_root(root, root .. "/old"))
        assert(mount.chdir("/"))
        print(io.open("/old/etc/hostname") ~= nil, io.open("/etc/hostname") ~= nil)
        T(mount.umount("/old", {detach = true}))
        print(io.open("/old/etc/hostname") ~= nil)
        -- for LeakSanitizer at exit under make sanitize
        assert(mount.mkdir("/proc"))
        assert(mount.mount("proc", "/proc", "proc"))
      ]], {root})
      assert.equal("true\tfalse\ntrue\nfalse\n", out)
    end)

    it("chroot and chdir #priv", function()
      if needs_root() then return end
      local root = tmp()
      assert.is_true(mount.write_file(root .. "/marker", "inside"))
      assert.is_true(mount.mkdir(root .. "/sub"))
      local out = child([[
        local root = V1
        -- for LeakSanitizer at exit under make sanitize
        assert(mount.mkdir(root .. "/proc"))
        assert(mount.mount("proc", root .. "/proc", "proc"))
        assert(mount.chroot(root))
        assert(mount.chdir("/sub"))
        print(io.open("../marker"):read("a"), io.open("/etc/hostname") ~= nil)
      ]], {root})
      assert.equal("inside\tfalse\n", out)
    end)

    it("mknod, chmod and chown on a tmpfs #priv", function()
      if needs_root() then return end
      local d = tmp()
      local out = child([[
        local d = V1
        assert(mount.mount("tmpfs", d, "tmpfs", nil, "size=1m"))
        assert(mount.mknod(d .. "/fifo", "fifo", "0640"))
        assert(mount.mknod(d .. "/null", "char", "0644", 1, 3))
        assert(mount.mknod(d .. "/blk", "block", "0600", 7, 200))
        assert(mount.mknod(d .. "/file", "file", "0640"))
        assert(mount.mknod(d .. "/sock", "socket", "0600"))
        -- chown clears set-uid, so chmod comes second
        assert(mount.chown(d .. "/file", 4242, 4243))
        assert(mount.chmod(d .. "/file", "04751"))
        assert(mount.chown(d .. "/fifo", nil, 77))           -- uid kept
        assert(mount.symlink("file", d .. "/link"))
        assert(mount.chown(d .. "/link", 99, 98, true))     -- the link itself
        print(sh("cd " .. d .. " && stat -c '%n %F %a %u:%g %t:%T' blk fifo file link null sock"))
        T(mount.write_file(d .. "/null", "discarded"))
      ]], {d})
      assert.equal("blk block special file 600 0:0 7:c8\n"
        .. "fifo fifo 640 0:77 0:0\n"
        .. "file regular empty file 4751 4242:4243 0:0\n"
        .. "link symbolic link 777 99:98 0:0\n"
        .. "null character special file 644 0:0 1:3\n"
        .. "sock socket 600 0:0 0:0\n"
        .. "true\n", out)
      assert.is_nil(select(2, helper.sh("ls -A " .. helper.quote(d))):match("%S"))
    end)
  end)

  describe("tree_chown and tree_remove", function()
    local q = helper.quote

    -- "name type uid:gid" of every entry under dir, sorted (find -printf).
    local function listing(dir)
      local _, out = helper.sh(("cd %s && find . -mindepth 1 -printf '%%P %%y %%U:%%G\\n' | sort")
        :format(q(dir)))
      return out
    end

    local function owner(path)
      local _, out = helper.sh("stat -c %u:%g " .. q(path))
      return (out:gsub("\n$", ""))
    end

    -- The busted process's fds open on something under dir (the walk's
    -- directories): none once a call returned.
    local function fds_under(dir)
      local _, out = helper.sh("ls -l /proc/" .. tostring(mypid()) .. "/fd")
      local n = 0
      for line in out:gmatch("[^\n]+") do
        if line:find(" -> " .. dir, 1, true) then n = n + 1 end
      end
      return n
    end

    -- d/box: dirs, files, a fifo, a socket, a char device, a symlink to a
    -- root-owned file outside (d/secret) and one to the directory d.
    local function tree(d)
      assert(helper.sh(table.concat({
        "set -e; cd " .. q(d),
        "mkdir -p box/a/b/c box/empty",
        "echo s > secret; chown 0:0 secret; chmod 0600 secret",
        "echo x > box/f; echo y > box/a/b/c/g",
        "mkfifo box/a/fifo; mknod box/a/null c 1 3",
        "python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"box/a/b/sock\")'",
        "ln -s ../secret box/link; ln -s .. box/a/up",
      }, "\n")))
    end

    it("misuse raises", function()
      assert.has_error(function() mount.tree_chown("/x", -1, 0) end,
        "bad argument #2 to 'tree_chown' (id out of range (0..4294967294))")
      assert.has_error(function() mount.tree_chown("/x", 0) end,
        "bad argument #3 to 'tree_chown' (number expected, got no value)")
      assert.has_error(function() mount.tree_chown("/x", 0, 0, 1) end,
        "bad argument #4 to 'tree_chown' (boolean expected, got number)")
      assert.has_error(function() mount.tree_remove() end,
        "bad argument #1 to 'tree_remove' (string expected, got no value)")
    end)

    it("chown every dir and file, unlink the rest, follow no symlink", function()
      if needs_root() then return end
      local d = tmp()
      tree(d)
      assert.same({ true }, { mount.tree_chown(d .. "/box", 4242, 4243) })
      assert.equal(0, fds_under(d))
      assert.equal("a d 4242:4243\na/b d 4242:4243\na/b/c d 4242:4243\n"
        .. "a/b/c/g f 4242:4243\nempty d 4242:4243\nf f 4242:4243\n", listing(d .. "/box"))
      assert.equal("4242:4243", owner(d .. "/box"))
      assert.equal("0:0", owner(d .. "/secret"))
      assert.equal("0:0", owner(d))
    end)

    it("keep_special chowns the other entries themselves", function()
      if needs_root() then return end
      local d = tmp()
      tree(d)
      assert.same({ true }, { mount.tree_chown(d .. "/box", 4242, 4243, true) })
      assert.equal("a d 4242:4243\na/b d 4242:4243\na/b/c d 4242:4243\n"
        .. "a/b/c/g f 4242:4243\na/b/sock s 4242:4243\na/fifo p 4242:4243\n"
        .. "a/null c 4242:4243\na/up l 4242:4243\nempty d 4242:4243\n"
        .. "f f 4242:4243\nlink l 4242:4243\n", listing(d .. "/box"))
      assert.equal("0:0", owner(d .. "/secret"))
      assert.equal("0:0", owner(d))
    end)

    it("a symlink at the top is refused (O_NOFOLLOW|O_DIRECTORY: ENOTDIR)", function()
      if needs_root() then return end
      local d = tmp()
      tree(d)
      assert(helper.sh("ln -s box " .. q(d .. "/top")))
      assert.same({ nil, ("open '%s/top': Not a directory"):format(d), E.ENOTDIR },
        { mount.tree_chown(d .. "/top", 4242, 4243) })
      assert.same({ nil, ("open '%s/top': Not a directory"):format(d), E.ENOTDIR },
        { mount.tree_remove(d .. "/top") })
      assert.truthy(helper.exists(d .. "/top"))
      assert.equal(0, fds_under(d))
      assert.equal("0:0", owner(d .. "/box"))
      assert.equal("0:0", owner(d .. "/box/f"))
      assert.truthy(helper.exists(d .. "/box/a/b/c/g"))
    end)

    it("missing paths and files", function()
      if needs_root() then return end
      local d = tmp()
      assert.same({ true }, { mount.tree_remove(d .. "/nothing") })
      assert.same({ nil, ("open '%s/nothing': No such file or directory"):format(d), E.ENOENT },
        { mount.tree_chown(d .. "/nothing", 1, 1) })
      assert(helper.sh("touch " .. q(d .. "/file")))
      assert.same({ nil, ("open '%s/file': Not a directory"):format(d), E.ENOTDIR },
        { mount.tree_remove(d .. "/file") })
      assert.truthy(helper.exists(d .. "/file"))
    end)

    it("tree_remove removes everything, the top too, no symlink target", function()
      if needs_root() then return end
      local d = tmp()
      tree(d)
      assert.same({ true }, { mount.tree_remove(d .. "/box/") })
      assert.equal(0, fds_under(d))
      assert.is_false(helper.exists(d .. "/box"))
      assert.equal("s\n", helper.read(d .. "/secret"))
      assert.equal("secret f 0:0\n", listing(d))
    end)

    -- a chain of n directories x below dir, built relative (deeper than
    -- PATH_MAX), then 'tail' (sh) run in the deepest one
    local function chain(dir, n, tail)
      assert(helper.sh(("python3 -c %s %s %d %s"):format(q(
        "import os, sys, subprocess\n"
        .. "os.chdir(sys.argv[1])\n"
        .. "for _ in range(int(sys.argv[2])):\n"
        .. "    os.mkdir('x'); os.chdir('x')\n"
        .. "subprocess.run(['sh', '-ec', sys.argv[3]], check=True)\n"),
        q(dir), n, q(tail or ":"))))
    end

    -- "uid:gid" of the file f at the bottom of a chain, and the chain's depth
    local function bottom(dir)
      local _, out = helper.sh(("python3 -c %s %s"):format(q(
        "import os, sys\n"
        .. "os.chdir(sys.argv[1]); n = 0\n"
        .. "while os.path.isdir('x'):\n"
        .. "    os.chdir('x'); n += 1\n"
        .. "st = os.lstat('f')\n"
        .. "print('%d:%d %d' % (st.st_uid, st.st_gid, n))\n"), q(dir)))
      return (out:gsub("\n$", ""))
    end

    it("any depth: 300 and 3000 levels chowned and removed, fds bounded", function()
      if needs_root() then return end
      local d = tmp()
      for _, n in ipairs { 300, 3000 } do
        local top = ("%s/t%d"):format(d, n)
        assert(helper.sh("mkdir " .. q(top)))
        chain(top, n, "echo f > f; ln -s " .. q(d .. "/secret") .. " l; mkdir -p y/z; touch y/z/g")
        assert(helper.sh("echo s > " .. q(d .. "/secret")))
        assert.same({ true }, { mount.tree_chown(top, 7, 8) })
        assert.equal("7:8 " .. n, bottom(top))
        assert.equal("0:0", owner(d .. "/secret"))
        assert.equal(0, fds_under(d))
        assert.same({ true }, { mount.tree_remove(top) })
        assert.is_false(helper.exists(top))
        assert.equal("s\n", helper.read(d .. "/secret"))
        assert.equal(0, fds_under(d))
      end
    end)

    it("1000 levels deep, a bind mount at the bottom: EXDEV, not crossed", function()
      if needs_root() then return end
      local d = tmp()
      assert(helper.sh("mkdir " .. q(d .. "/box") .. " " .. q(d .. "/other")
        .. " && echo o > " .. q(d .. "/other/o")))
      chain(d .. "/box", 1000, "mkdir m")
      local out = child([[
        local d = V1
        assert(mount.chdir(d .. "/box"))
        for _ = 1, 10 do assert(mount.chdir(("x/"):rep(100))) end
        assert(mount.mount(d .. "/other", "m", nil, {bind = true}))
        local a, b, c = mount.tree_chown(d .. "/box", 4242, 4242)
        print(a, c, b:find(("/x"):rep(1000) .. "/m': ", 1, true) ~= nil, b:match(": (.*)$"))
        a, b, c = mount.tree_remove(d .. "/box")
        print(a, c, b:match(": (.*)$"))
        print(sh("stat -c %u " .. d .. "/other/o"))
        assert(mount.umount("m"))
        assert(mount.chdir("/"))
        print(mount.tree_remove(d .. "/box"))
      ]], {d})
      assert.equal(("nil\t%d\ttrue\tInvalid cross-device link\n"):format(E.EXDEV)
        .. ("nil\t%d\tInvalid cross-device link\n0\ntrue\n"):format(E.EXDEV), out)
      assert.is_false(helper.exists(d .. "/box"))
      assert.equal("o\n", helper.read(d .. "/other/o"))
    end)

    it("from_uid: only what that uid owns is chowned, a hard link keeps its owner", function()
      if needs_root() then return end
      local d = tmp()
      assert(helper.sh(table.concat({
        "set -e; cd " .. q(d),
        "mkdir -p box/a/o box/a/p",
        "echo v > victim; chown 4001:4001 victim; ln victim box/a/link",
        "chown -R 4242:4242 box; chown 4001:4001 box/a/o box/a/link",
        "touch box/a/o/mine; chown 4242:4242 box/a/o/mine",
        "mkfifo box/a/fifo; chown 4001:4001 box/a/fifo",
      }, "\n")))
      assert.has_error(function() mount.tree_chown(d, 0, 0, false, -1) end,
        "bad argument #5 to 'tree_chown' (id out of range (0..4294967294))")
      assert.same({ true }, { mount.tree_chown(d .. "/box", 1000, 1001, false, 4242) })
      assert.equal("a d 1000:1001\na/link f 4001:4001\na/o d 4001:4001\n"
        .. "a/o/mine f 1000:1001\na/p d 1000:1001\n", listing(d .. "/box"))
      assert.equal("1000:1001", owner(d .. "/box"))
      assert.equal("4001:4001", owner(d .. "/victim"))
      -- the top is left when another uid owns it; without from_uid all goes
      assert.same({ true }, { mount.tree_chown(d .. "/box", 5, 5, false, 4242) })
      assert.equal("1000:1001", owner(d .. "/box"))
      assert.same({ true }, { mount.tree_chown(d .. "/box", 5, 6) })
      assert.equal("5:6", owner(d .. "/victim"))
      assert.equal("5:6", owner(d .. "/box/a/o"))
    end)

    it("a directory moved out while the walk is below it: ESTALE, nothing outside", function()
      if needs_root() then return end
      local d = tmp()
      -- box/x/.../x (2000 deep) and box/x/y; a mover swaps box/x/x with
      -- out/x/x until the walk ends.  A walk climbing out of box/x/x while
      -- it sits in out/x would then take out/x for box/x and chown its y.
      assert(helper.sh("mkdir -p " .. q(d .. "/box") .. " " .. q(d .. "/out/x/x")
        .. " " .. q(d .. "/out/x/y") .. " && touch " .. q(d .. "/out/x/y/keep")))
      chain(d .. "/box", 2000, "touch f")
      assert(helper.sh("mkdir " .. q(d .. "/box/x/y")))
      local mover = d .. "/mover.sh"
      local f = assert(io.open(mover, "w"))
      f:write(("cd %s; while [ ! -e stop ]; do mv box/x/x tmp && mv out/x/x box/x/x && "
        .. "mv tmp out/x/x; mv box/x/x tmp && mv out/x/x box/x/x && mv tmp out/x/x; done\n")
        :format(q(d)))
      f:close()
      local results = {}
      for _ = 1, 8 do
        local h = assert(io.popen("sh " .. q(mover) .. " & echo $!"))
        local pid = h:read("l")
        h:close()
        local ok, msg, code = mount.tree_chown(d .. "/box", 7, 8)
        results[#results + 1] = tostring(ok or code)
        assert(helper.sh("touch " .. q(d .. "/stop") .. "; while kill -0 " .. pid
          .. " 2>/dev/null; do sleep 0.01; done; rm -f " .. q(d .. "/stop")))
        if not ok then
          assert.is_true(code == E.ESTALE or code == E.ENOENT, msg)
        end
        assert.equal("0:0", owner(d .. "/out/x/y"))
        assert.equal("0:0", owner(d .. "/out/x/y/keep"))
        assert.equal("0:0", owner(d .. "/out/x"))
      end
      assert.equal(0, fds_under(d))
      if os.getenv("NSLUA_SPEC_VERBOSE") then print(table.concat(results, " ")) end
    end)

    it("never crosses a mount: tmpfs, a bind of the same fs, a file bind (EXDEV)", function()
      if needs_root() then return end
      local d = tmp()
      local out = child([[
        local d = V1
        local function fds()
          local n = 0
          local f = assert(io.popen("ls /proc/" .. core.proc.getpid() .. "/fd"))
          for _ in f:lines() do n = n + 1 end
          f:close()
          return n
        end
        local before = fds()
        sh("mkdir -p " .. d .. "/box/m " .. d .. "/other && echo o > " .. d .. "/other/o"
          .. " && echo s > " .. d .. "/secret && echo f > " .. d .. "/box/f")
        -- a tmpfs (another st_dev)
        assert(mount.mount("tmpfs", d .. "/box/m", "tmpfs", nil, "size=1m"))
        sh("echo t > " .. d .. "/box/m/t")
        T(mount.tree_chown(d .. "/box", 4242, 4242))
        T(mount.tree_remove(d .. "/box"))
        print(sh("stat -c '%u %n' " .. d .. "/box/m/t"))
        assert(mount.umount(d .. "/box/m"))
        -- a bind mount of the same file system (same st_dev, another mount)
        assert(mount.mount(d .. "/other", d .. "/box/m", nil, {bind = true}))
        T(mount.tree_chown(d .. "/box", 4242, 4242))
        T(mount.tree_remove(d .. "/box"))
        print(sh("stat -c '%u %n' " .. d .. "/other/o"))
        assert(mount.umount(d .. "/box/m"))
        -- a file bind mount
        assert(mount.mkfile(d .. "/box/m/s", "0644"))
        assert(mount.mount(d .. "/secret", d .. "/box/m/s", nil, {bind = true}))
        T(mount.tree_chown(d .. "/box", 4242, 4242))
        T(mount.tree_remove(d .. "/box"))
        print(sh("stat -c '%u %n' " .. d .. "/secret"))
        assert(mount.umount(d .. "/box/m/s"))
        T(fds() == before)
        T(mount.tree_remove(d .. "/box"))
      ]], {d})
      local x = "Invalid cross-device link|" .. E.EXDEV
      assert.equal(
        ("nil|tree_chown '%s/box/m': %s\nnil|tree_remove '%s/box/m': %s\n0 %s/box/m/t\n"):format(d, x, d, x, d)
        .. ("nil|tree_chown '%s/box/m': %s\nnil|tree_remove '%s/box/m': %s\n0 %s/other/o\n"):format(d, x, d, x, d)
        .. ("nil|tree_chown '%s/box/m/s': %s\nnil|tree_remove '%s/box/m/s': %s\n0 %s/secret\n")
          :format(d, x, d, x, d)
        .. "true\ntrue\n", out)
      assert.is_false(helper.exists(d .. "/box"))
      assert.equal("o\n", helper.read(d .. "/other/o"))
    end)
  end)
end)
