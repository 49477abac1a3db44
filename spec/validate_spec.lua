-- spec/validate_spec.lua: nslua.validate (pure Lua; no kernel objects).
local v = require "nslua.validate"

local MiB = 1024 * 1024

-- The normalised spec, failing the test with every error when there is one.
local function ok(spec, opts)
  local out, errs = v.check(spec, opts)
  assert(out, errs and table.concat(errs, "\n"))
  return out
end

-- The error list check gives for spec.
local function errs(spec, opts)
  local out, list = v.check(spec, opts)
  assert.is_nil(out)
  assert.is_table(list)
  return list
end

-- The message fn raises, without the "file:line: " position.
local function raises(fn)
  local good, e = pcall(fn)
  assert.is_false(good)
  return (tostring(e):gsub("^[^\n:]+:%d+: ", ""))
end

describe("nslua.validate", function()
  describe("size", function()
    it("takes integers and integral floats as bytes", function()
      assert.equal(0, v.size(0))
      assert.equal(100, v.size(100))
      assert.equal(4096, v.size(4096.0))
      assert.equal(math.maxinteger, v.size(math.maxinteger))
      assert.equal("integer", math.type(v.size(4096.0)))
    end)

    it("parses unit suffixes as binary multiples, in any case", function()
      local cases = {
        ["100"] = 100, ["100B"] = 100, ["100b"] = 100,
        ["512k"] = 512 * 1024, ["512K"] = 512 * 1024, ["512KB"] = 512 * 1024,
        ["512KiB"] = 512 * 1024, ["512kib"] = 512 * 1024,
        ["64M"] = 64 * MiB, ["64m"] = 64 * MiB, ["64MiB"] = 64 * MiB,
        ["64mb"] = 64 * MiB, ["1G"] = 1024 * MiB, ["1GiB"] = 1024 * MiB,
        ["2T"] = 2 * 1024 * 1024 * MiB, ["1tib"] = 1024 * 1024 * MiB,
        ["1.5G"] = 1536 * MiB, [".5K"] = 512, ["0.5k"] = 512, ["5."] = 5,
        [" 64 M "] = 64 * MiB, ["0"] = 0, ["007K"] = 7 * 1024,
      }
      for s, bytes in pairs(cases) do
        assert.equal(bytes, v.size(s), s)
        assert.equal("integer", math.type(v.size(s)), s)
      end
    end)

    it("rounds fractions down to whole bytes", function()
      assert.equal(1126, v.size("1.1K"))
      assert.equal(1, v.size("1.9"))
    end)

    it("rejects what is not a size, naming the path", function()
      for _, bad in ipairs { "lots", "", " ", ".", "-1", "1e3", "5X", "1.2.3",
          "100iB", "0x10", "1 2", "K", "64MM", "99999999999T",
          "9223372036854775808" } do
        assert.equal(("limits.memory: invalid size '%s'"):format(bad),
          raises(function() v.size(bad, "limits.memory") end), bad)
      end
      assert.equal("x: invalid size -1", raises(function() v.size(-1, "x") end))
      assert.equal("x: invalid size 1.5", raises(function() v.size(1.5, "x") end))
      assert.equal("x: invalid size true", raises(function() v.size(true, "x") end))
      assert.equal("x: invalid size (table)", raises(function() v.size({}, "x") end))
      assert.equal("x: invalid size (nil)", raises(function() v.size(nil, "x") end))
      assert.equal("x: invalid size 1e+300", raises(function() v.size(1e300, "x") end))
    end)

    it("without a path the message is just the problem", function()
      assert.equal("invalid size 'lots'", raises(function() v.size("lots") end))
    end)

    it("blames its caller (level 2)", function()
      local _, e = pcall(function() v.size("lots", "p") end)
      assert.matches("^spec/validate_spec%.lua:%d+: p: invalid size 'lots'$", e)
    end)
  end)

  describe("helpers", function()
    it("cap_name canonicalises capability names", function()
      assert.equal("cap_net_admin", v.cap_name("net_admin"))
      assert.equal("cap_net_admin", v.cap_name("CAP_NET_ADMIN"))
      assert.equal("cap_checkpoint_restore", v.cap_name("Checkpoint_Restore"))
      assert.equal("all", v.cap_name("ALL"))
      assert.is_nil(v.cap_name("net_admn"))
      assert.is_nil(v.cap_name("cap_"))
      assert.is_nil(v.cap_name(5))
      assert.equal(41, #v.CAPS)
      assert.equal("chown", v.CAPS[1])
      assert.equal("sys_admin", v.CAPS[22])
      assert.equal("checkpoint_restore", v.CAPS[41])
    end)

    it("ip and cidr check addresses lightly", function()
      for s, fam in pairs {
        ["10.0.0.1"] = 4, ["0.0.0.0"] = 4, ["255.255.255.255"] = 4,
        ["::"] = 6, ["::1"] = 6, ["fd00::1"] = 6, ["1:2:3:4:5:6:7:8"] = 6,
        ["::ffff:10.1.2.3"] = 6, ["FE80::abcd:1"] = 6, ["1::"] = 6,
        ["1:2:3:4:5:6::"] = 6, ["1:2:3:4:5:6:1.2.3.4"] = 6,
      } do
        assert.equal(fam, v.ip(s), s)
      end
      for _, s in ipairs { "10.0.0.256", "10.0.0", "10.0.0.1.2", "a.b.c.d",
          "1:2:3:4:5:6:7:8:9", "1::2::3", ":::", "12345::", "1:2:3:4:5:6:7::8",
          "fd00::g", "1:2:3:4:5:6:7", "", "::1.2.3.256", "1.2.3.4::" } do
        assert.is_nil(v.ip(s), s)
      end
      assert.is_nil(v.ip(10))
      assert.equal(4, v.cidr("10.231.0.1/16"))
      assert.equal(4, v.cidr("0.0.0.0/0"))
      assert.equal(4, v.cidr("10.0.0.1/32"))
      assert.equal(6, v.cidr("fd00::1/64"))
      assert.equal(6, v.cidr("::/128"))
      for _, s in ipairs { "10.0.0.1", "10.0.0.1/33", "10.0.0.1/", "fd00::1/129",
          "fd00::1", "/24", "10.0.0.1/1a", "x/8" } do
        assert.is_nil(v.cidr(s), s)
      end
    end)

    it("cpuset parses cpu lists", function()
      assert.same({ 0, 1, 3 }, v.cpuset("0-1,3"))
      assert.same({ 0, 1, 2 }, v.cpuset("2,0-1,1"))
      assert.same({ 7 }, v.cpuset("7"))
      for _, s in ipairs { "", "1-0", "a", "1,", ",1", "1--2", "-1", "1-", "123456" } do
        assert.is_nil(v.cpuset(s), s)
      end
      assert.is_nil(v.cpuset(3))
    end)
  end)

  describe("defaults", function()
    it("fill an empty spec", function()
      assert.same({
        cwd = "/",
        hostname = "sandbox",
        namespaces = {
          cgroup = true, ipc = true, mnt = true, net = true, pid = true,
          time = false, user = true, uts = true,
        },
        user = { uid = 65534, gid = 65534, map = "used" },
        mounts = {},
        net = "none",
        limits = { rlimits = { core = 0 } },
        caps = {},
        seccomp = "default",
        env = {},
        keep_env = {},
        stdio = { stdin = "inherit", stdout = "inherit", stderr = "inherit", fds = {} },
        tty = false,
        hooks = {},
      }, ok {})
    end)

    it("leave name, argv and rootfs absent", function()
      local out = ok {}
      assert.is_nil(out.name)
      assert.is_nil(out.argv)
      assert.is_nil(out.rootfs)
    end)
  end)

  describe("the result", function()
    local function rich()
      return {
        name = "job", hostname = "box", cwd = "/work", argv = { "/bin/sh", "-c", "true" },
        namespaces = { time = true }, user = { uid = 0, map = "all" },
        rootfs = "/srv/root",
        mounts = {
          { type = "bind", source = "/usr", target = "/usr", ro = true },
          { type = "tmpfs", target = "/tmp", size = "16M", mode = "1777" },
          { type = "overlay", target = "/o", lower = { "/a", "/b" } },
          { type = "file", target = "/etc/motd", content = "hi\n" },
          { type = "proc", target = "/proc" },
        },
        net = { veth = { host_addr = "10.231.0.1/30", guest_addr = "10.231.0.2/30" } },
        limits = { memory = "64M", time = 2, rlimits = { nofile = 64, fsize = "1M" } },
        caps = { "NET_RAW", "chown" },
        seccomp = { default = "errno", syscalls = { { names = { "read" }, action = "allow" } } },
        env = { LANG = "C" }, keep_env = { "TERM" },
        stdio = { stdout = "/tmp/out", fds = { 3 } },
        hooks = { before_exec = function() end },
      }
    end

    it("is a new table and the input is untouched", function()
      local spec = rich()
      local before = v.copy(spec)
      local out = ok(spec)
      assert.same(before, spec)
      assert.are_not.equal(spec, out)
      assert.are_not.equal(spec.argv, out.argv)
      assert.are_not.equal(spec.mounts[1], out.mounts[1])
      assert.are_not.equal(spec.seccomp, out.seccomp)
      assert.same(spec.seccomp, out.seccomp)
      assert.equal(spec.hooks.before_exec, out.hooks.before_exec)
      out.argv[1] = "changed"
      assert.equal("/bin/sh", spec.argv[1])
    end)

    it("validates again to itself", function()
      local once = ok(rich())
      assert.same(once, ok(once))
      assert.same(ok { user = "host", net = "host" }, ok(ok { user = "host", net = "host" }))
      assert.same(ok { namespaces = { uts = false } }, ok(ok { namespaces = { uts = false } }))
      local m = { mounts = { { type = "overlay", target = "/o", lower = { "/l" },
        upper = "/u", work = "/w" }, { type = "dir", target = "/d" },
        { type = "symlink", source = "usr/bin", target = "/bin" },
        { type = "sysfs", target = "/sys" }, { type = "dev", target = "/dev" },
        { type = "mqueue", target = "/dev/mqueue" },
        { type = "bind-idmap", source = "/h", target = "/h" },
        { type = "dev-bind", source = "/dev/null", target = "/dev/null" } },
        net = { bridge = "br0", addr = "10.0.0.2/24", gateway = "10.0.0.1" } }
      assert.same(ok(m), ok(ok(m)))
    end)
  end)

  describe("check and validate", function()
    it("check returns nil and a list; validate raises the lines", function()
      local spec = { hostnmae = "x", argv = {} }
      assert.same({ "argv: must be a non-empty list of strings",
        "hostnmae: unknown field" }, errs(spec))
      assert.equal("argv: must be a non-empty list of strings\nhostnmae: unknown field",
        raises(function() v.validate(spec) end))
    end)

    it("validate blames its caller (level 2)", function()
      local _, e = pcall(function() v.validate { hostnmae = 1 } end)
      assert.matches("^spec/validate_spec%.lua:%d+: hostnmae: unknown field$", e)
    end)

    it("validate returns the normalised spec", function()
      assert.same(ok { argv = { "x" } }, v.validate { argv = { "x" } })
    end)

    it("rejects a spec that is not a table", function()
      local out, list = v.check("spec")
      assert.is_nil(out)
      assert.same({ "spec: must be a table" }, list)
      assert.equal("spec: must be a table", raises(function() v.validate(nil) end))
    end)

    it("reports every problem at once, sorted by path", function()
      local mounts = {}
      for i = 1, 10 do mounts[i] = { type = "dir", target = "/d" .. i } end
      mounts[2].target = "rel"
      mounts[10].target = "rel"
      assert.same({
        "argv: must be a non-empty list of strings",
        "caps[1]: unknown capability 'net_bind'",
        "hostnmae: unknown field",
        "limits.memory: invalid size 'lots'",
        "limits.memroy: unknown field",
        "mounts[2].target: must be an absolute path",
        "mounts[10].target: must be an absolute path",
        "namespaces.nte: unknown namespace",
        "zzz: unknown field",
      }, errs {
        zzz = 1, hostnmae = "x", argv = {}, caps = { "net_bind" },
        limits = { memory = "lots", memroy = "1G" }, mounts = mounts,
        namespaces = { nte = true },
      })
    end)

    it("keeps one problem per line whatever the keys and values hold (found by make fuzz)", function()
      local spec = { argv = { "x" }, env = { ["K\nX"] = 1 }, limits = { memory = "6\n4M" },
                     caps = { "a\nb" }, ["x\ny"] = 1 }
      assert.same({
        '["x\\ny"]: unknown field',
        'caps[1]: unknown capability \'a\\nb\'',
        'env["K\\nX"]: must be a string',
        "limits.memory: invalid size '6\\n4M'",
      }, errs(spec))
      local msg = raises(function() v.validate(spec) end)
      local _, lines = msg:gsub("\n", "")
      assert.equal(3, lines, msg)
    end)

    it("names unknown top-level keys of any kind", function()
      assert.same({ "[\"a b\"]: unknown field", "[1]: unknown field" },
        errs { [1] = "x", ["a b"] = 2 })
    end)
  end)

  describe("name", function()
    it("accepts a printable string", function()
      assert.equal("judge-1", ok { name = "judge-1" }.name)
      assert.equal(("n"):rep(255), ok { name = ("n"):rep(255) }.name)
    end)

    it("rejects others", function()
      for _, bad in ipairs { 1, "", "a\nb", ("n"):rep(256), true } do
        assert.same({ "name: must be a string of 1..255 printable characters" },
          errs { name = bad })
      end
    end)
  end)

  describe("hostname", function()
    it("accepts host names up to 64 bytes", function()
      assert.equal("box-1.example_x", ok { hostname = "box-1.example_x" }.hostname)
      assert.equal(("h"):rep(64), ok { hostname = ("h"):rep(64) }.hostname)
      assert.equal("1", ok { hostname = "1" }.hostname)
    end)

    it("rejects others", function()
      for _, bad in ipairs { "", ("h"):rep(65), "a/b", "-x", ".x", "a b", 5, {} } do
        assert.same({ "hostname: must be 1..64 characters of [A-Za-z0-9._-], " ..
          "starting with a letter or digit" }, errs { hostname = bad })
      end
    end)

    it("needs a uts namespace, and has no default without one", function()
      assert.same({ "hostname: requires a uts namespace (namespaces.uts)" },
        errs { hostname = "x", namespaces = { uts = false } })
      assert.is_nil(ok { namespaces = { uts = false } }.hostname)
    end)
  end)

  describe("cwd", function()
    it("is an absolute path, / by default", function()
      assert.equal("/", ok {}.cwd)
      assert.equal("/work/dir", ok { cwd = "/work/dir" }.cwd)
    end)

    it("rejects relative paths and non-strings", function()
      for _, bad in ipairs { "work", "", 5, "/a\0b" } do
        assert.same({ "cwd: must be an absolute path" }, errs { cwd = bad })
      end
    end)

    it("may be a list: the first directory the command can enter", function()
      assert.same({ "/a", "/" }, ok { cwd = { "/a", "/" } }.cwd)
      assert.same({ "cwd[2]: must be an absolute path" }, errs { cwd = { "/a", "b" } })
      assert.same({ "cwd: must be an absolute path or a list of 1..64 of them" }, errs { cwd = {} })
      assert.same({ "cwd: must be an absolute path or a list of 1..64 of them" }, errs { cwd = { x = "/" } })
    end)
  end)

  describe("the process fields", function()
    it("are absent unless given, and checked when given", function()
      local s = ok {}
      for _, k in ipairs { "set_pwd", "argv0", "session", "init", "die_with_parent", "lock_files", "sync" } do
        assert.is_nil(s[k], k)
      end
      s = ok { set_pwd = true, argv0 = "", session = "keep", init = false, die_with_parent = true,
               lock_files = { "/run/l" }, sync = { block_fd = 0, userns_block_fd = 5, sync_fd = 7 } }
      assert.same({ true, "", "keep", false, true }, { s.set_pwd, s.argv0, s.session, s.init, s.die_with_parent })
      assert.same({ "/run/l" }, s.lock_files)
      assert.same({ block_fd = 0, userns_block_fd = 5, sync_fd = 7 }, s.sync)
    end)

    it("name each bad one", function()
      assert.same({ "argv0: must be a string without NUL bytes", "die_with_parent: must be a boolean",
                    "init: must be a boolean", "lock_files[1]: must be an absolute path",
                    'session: must be "new" or "keep"', "set_pwd: must be a boolean",
                    "sync.block_fd: must be a file descriptor >= 0", "sync.bogus: unknown field" },
        errs { argv0 = 1, die_with_parent = "yes", init = 0, lock_files = { "rel" }, session = "old",
               set_pwd = 1, sync = { block_fd = -1, bogus = 1 } })
      assert.same({ "sync: must be a table { block_fd, userns_block_fd, sync_fd }" }, errs { sync = 3 })
      assert.same({ "lock_files: must be a list of absolute paths" }, errs { lock_files = "/x" })
    end)

    it("tie session to tty and userns_block_fd to a user namespace", function()
      assert.same({ 'session: must be "new" with tty = true (the pty becomes the controlling terminal)' },
        errs { tty = true, session = "keep" })
      assert.same({ 'sync.userns_block_fd: requires a user namespace (user ~= "host")' },
        errs { user = "host", sync = { userns_block_fd = 3 } })
    end)
  end)

  describe("argv", function()
    it("is a list of strings, optional unless need_argv", function()
      assert.same({ "/bin/echo", "a b", "" }, ok { argv = { "/bin/echo", "a b", "" } }.argv)
      assert.is_nil(ok({}).argv)
      assert.same({ "argv: must be a non-empty list of strings" }, errs({}, { need_argv = true }))
      assert.same({ "x" }, ok({ argv = { "x" } }, { need_argv = true }).argv)
    end)

    it("rejects an empty list, a non-list and non-strings", function()
      for _, bad in ipairs { {}, "/bin/true", { "a", [3] = "c" }, { x = "a" }, 5 } do
        assert.same({ "argv: must be a non-empty list of strings" }, errs { argv = bad })
      end
      assert.same({ "argv[2]: must be a string", "argv[3]: must be a string" },
        errs { argv = { "a", 1, true } })
      assert.same({ "argv[1]: must not contain a NUL byte" }, errs { argv = { "a\0b" } })
    end)

    it("rejects an empty command, which the executor refuses (found by make fuzz)", function()
      assert.same({ "argv[1]: must not be empty (the command)" }, errs { argv = { "", "x" } })
    end)
  end)

  describe("namespaces", function()
    it("fills every namespace, keeping what the spec says", function()
      assert.same({ cgroup = false, ipc = true, mnt = true, net = true, pid = true,
        time = true, user = true, uts = true },
        ok { namespaces = { cgroup = false, time = true } }.namespaces)
    end)

    it("rejects unknown names, non-booleans and non-tables", function()
      assert.same({ "namespaces.nte: unknown namespace" }, errs { namespaces = { nte = true } })
      assert.same({ "namespaces.pid: must be a boolean" }, errs { namespaces = { pid = "yes" } })
      assert.same({ "namespaces[1]: unknown namespace" }, errs { namespaces = { "pid" } })
      assert.same({ "namespaces: must be a table of booleans" }, errs { namespaces = "pid" })
    end)
  end)

  describe("user", function()
    it("defaults to nobody with the ids used", function()
      assert.same({ uid = 65534, gid = 65534, map = "used" }, ok {}.user)
    end)

    it("takes uid, gid and map", function()
      assert.same({ uid = 0, gid = 65534, map = "used" }, ok { user = { uid = 0 } }.user)
      assert.same({ uid = 1000, gid = 0, map = "all" },
        ok { user = { uid = 1000, gid = 0.0, map = "all" } }.user)
      assert.same({ uid = 65535, gid = 65535, map = "used" },
        ok { user = { uid = 65535, gid = 65535 } }.user)
    end)

    it("rejects bad ids, maps, fields and kinds", function()
      for _, bad in ipairs { -1, 65536, "0", 1.5, true } do
        assert.same({ "user.gid: must be an integer 0..65535",
          "user.uid: must be an integer 0..65535" }, errs { user = { uid = bad, gid = bad } })
      end
      assert.same({ "user.map: must be \"used\", \"all\", \"caller\", \"host\" or \"explicit\"" },
        errs { user = { map = "some" } })
      assert.same({ "user.name: unknown field" }, errs { user = { name = "x" } })
      assert.same({ "user: must be \"host\" or a table { uid, gid, map }" }, errs { user = "root" })
      assert.same({ "user: must be \"host\" or a table { uid, gid, map }" }, errs { user = 0 })
    end)

    it("takes host_uid and host_gid together, never 0, with non-zero inside ids", function()
      assert.same({ uid = 60007, gid = 60008, map = "used", host_uid = 70007, host_gid = 70008 },
        ok { user = { uid = 60007, gid = 60008, host_uid = 70007, host_gid = 70008.0 } }.user)
      local u = ok { user = { host_uid = 4294967294, host_gid = 1 } }.user
      assert.same({ 65534, 65534, 4294967294, 1 }, { u.uid, u.gid, u.host_uid, u.host_gid })
      assert.same(u, ok { user = u }.user)
      assert.same({ "user.host_uid: must not be 0 (host root)" }, errs { user = { host_uid = 0, host_gid = 5 } })
      assert.same({ "user.host_gid: must be an integer 1..4294967294",
        "user.host_uid: must be an integer 1..4294967294" },
        errs { user = { host_uid = 4294967295, host_gid = "5" } })
      assert.same({ "user.host_gid: is required with user.host_uid" }, errs { user = { host_uid = 5 } })
      assert.same({ "user.host_uid: is required with user.host_gid" }, errs { user = { host_gid = 5 } })
      assert.same({ "user.host_gid: requires a non-zero user.gid (inside gid 0 is the slot's)" },
        errs { user = { gid = 0, host_uid = 5, host_gid = 5 } })
      for _, map in ipairs { "all", "caller" } do
        assert.same({ ("user.host_uid: conflicts with map = %q"):format(map) },
          errs { user = { map = map, host_uid = 5, host_gid = 5 } })
      end
      assert.same({ "user.host_uid: conflicts with userns.fd (a joined namespace's maps are its own)" },
        errs { user = { host_uid = 5, host_gid = 5 }, userns = { fd = 5 } })
    end)

    it("\"host\" means no user namespace", function()
      local out = ok { user = "host" }
      assert.equal("host", out.user)
      assert.is_false(out.namespaces.user)
      assert.same({ "namespaces.user: conflicts with user = \"host\"" },
        errs { user = "host", namespaces = { user = true } })
    end)

    it("namespaces.user = false means user = \"host\", but not with a user table", function()
      assert.equal("host", ok { namespaces = { user = false } }.user)
      assert.same({ "namespaces.user: false requires user = \"host\"" },
        errs { user = { uid = 0 }, namespaces = { user = false } })
    end)
  end)

  describe("rootfs", function()
    it("is an absolute path", function()
      assert.equal("/srv/root", ok { rootfs = "/srv/root" }.rootfs)
      assert.same({ "rootfs: must be an absolute path" }, errs { rootfs = "root" })
      assert.same({ "rootfs: must be an absolute path" }, errs { rootfs = true })
    end)

    it("needs a mount namespace", function()
      assert.same({ "rootfs: requires a mount namespace (namespaces.mnt)" },
        errs { rootfs = "/r", namespaces = { mnt = false } })
    end)
  end)

  describe("mounts", function()
    local function m1(m, extra)
      local spec = { mounts = { m } }
      for k, x in pairs(extra or {}) do spec[k] = x end
      return spec
    end

    it("normalises every type with its defaults", function()
      local out = ok { mounts = {
        { type = "bind", source = "/usr", target = "/usr" },
        { type = "bind-idmap", source = "/home/u", target = "/w", ro = true,
          recursive = false, try = true },
        { type = "dev-bind", source = "/dev/null", target = "/dev/null" },
        { type = "tmpfs", target = "/tmp" },
        { type = "proc", target = "/proc" },
        { type = "dev", target = "/dev" },
        { type = "mqueue", target = "/dev/mqueue" },
        { type = "sysfs", target = "/sys" },
        { type = "overlay", target = "/o", lower = { "/l1", "/l2" } },
        { type = "overlay", target = "/p", lower = { "/l" }, upper = "/u", work = "/w" },
        { type = "dir", target = "/d" },
        { type = "symlink", source = "usr/lib", target = "/lib" },
        { type = "file", target = "/etc/hostname", content = "" },
      } }
      assert.same({
        { type = "bind", source = "/usr", target = "/usr", ro = false, try = false,
          recursive = true },
        { type = "bind-idmap", source = "/home/u", target = "/w", ro = true,
          try = true, recursive = false },
        { type = "dev-bind", source = "/dev/null", target = "/dev/null", ro = false,
          try = false, recursive = true },
        { type = "tmpfs", target = "/tmp", ro = false, size = 64 * MiB, mode = 493 },
        { type = "proc", target = "/proc", ro = false },
        { type = "dev", target = "/dev", ro = false },
        { type = "mqueue", target = "/dev/mqueue", ro = false },
        { type = "sysfs", target = "/sys", ro = true },
        { type = "overlay", target = "/o", ro = false, lower = { "/l1", "/l2" },
          size = 64 * MiB },
        { type = "overlay", target = "/p", ro = false, lower = { "/l" }, upper = "/u",
          work = "/w" },
        { type = "dir", target = "/d", mode = 493 },
        { type = "symlink", source = "usr/lib", target = "/lib" },
        { type = "file", target = "/etc/hostname", content = "", mode = 420, ro = false,
          inplace = false },
      }, out.mounts)
      assert.equal(64 * MiB, v.DEFAULT_TMPFS_SIZE)
    end)

    it("takes proc's hidepid as 0-2 or the kernel's names", function()
      local function hp(x) return ok(m1 { type = "proc", target = "/proc", hidepid = x }).mounts[1].hidepid end
      assert.equal(0, hp(0))
      assert.equal(2, hp(2.0))
      assert.equal(0, hp("off"))
      assert.equal(1, hp("noaccess"))
      assert.equal(2, hp("invisible"))
      assert.is_nil(hp(nil))
      for _, bad in ipairs { 3, -1, "2", "ptraceable", 1.5, true } do
        assert.same({ 'mounts[1].hidepid: must be 0, 1, 2, "off", "noaccess" or "invisible"' },
          errs(m1 { type = "proc", target = "/proc", hidepid = bad }), tostring(bad))
      end
      assert.same({ "mounts[1].hidepid: not valid for type 'tmpfs'" },
        errs(m1 { type = "tmpfs", target = "/t", hidepid = 2 }))
      local out = ok(m1 { type = "proc", target = "/proc", hidepid = "invisible" })
      assert.same(out, ok(out))
    end)

    it("takes tmpfs size and mode in any accepted form", function()
      local function tm(size, mode)
        return ok(m1 { type = "tmpfs", target = "/t", size = size, mode = mode }).mounts[1]
      end
      assert.equal(1536 * MiB, tm("1.5G").size)
      assert.equal(4096, tm(4096).size)
      assert.equal(493, tm(nil, "0755").mode)
      assert.equal(493, tm(nil, "755").mode)
      assert.equal(1023, tm(nil, "1777").mode)
      assert.equal(4095, tm(nil, "07777").mode)
      assert.equal(420, tm(nil, 420).mode)
      assert.equal(0, tm(nil, 0).mode)
      assert.equal(384, ok(m1 { type = "file", target = "/f", content = "x", mode = "600" })
        .mounts[1].mode)
      assert.equal(448, ok(m1 { type = "dir", target = "/d", mode = 448 }).mounts[1].mode)
    end)

    it("rejects bad sizes and modes", function()
      assert.same({ "mounts[1].size: invalid size 'big'" },
        errs(m1 { type = "tmpfs", target = "/t", size = "big" }))
      assert.same({ "mounts[1].size: must be a positive size" },
        errs(m1 { type = "tmpfs", target = "/t", size = 0 }))
      for _, bad in ipairs { "0999", 4096, -1, "rwx", "017777", 1.5, true, "" } do
        assert.same({ "mounts[1].mode: must be a mode 0..07777 (a number or an octal string)" },
          errs(m1 { type = "tmpfs", target = "/t", mode = bad }), tostring(bad))
      end
    end)

    it("rejects a non-list, non-table entries and bad types", function()
      assert.same({ "mounts: must be a list of mount tables" }, errs { mounts = "x" })
      assert.same({ "mounts: must be a list of mount tables" },
        errs { mounts = { a = { type = "dir", target = "/d" } } })
      assert.same({ "mounts[1]: must be a table" }, errs { mounts = { "/usr" } })
      local types = "bind, bind-idmap, dev-bind, tmpfs, proc, dev, mqueue, sysfs, " ..
        "overlay, dir, symlink, file, remount-ro, chmod, devpts, cgroup, device"
      assert.same({ "mounts[1].type: must be one of " .. types },
        errs(m1 { type = "nfs", target = "/n" }))
      assert.same({ "mounts[1].type: must be one of " .. types }, errs(m1 { target = "/n" }))
    end)

    it("checks targets: required, absolute, no '..'", function()
      assert.same({ "mounts[1].target: is required" }, errs(m1 { type = "proc" }))
      assert.same({ "mounts[1].target: must be an absolute path" },
        errs(m1 { type = "dir", target = "d" }))
      assert.same({ "mounts[1].target: must be an absolute path" },
        errs(m1 { type = "dir", target = 5 }))
      for _, bad in ipairs { "/a/../b", "/..", "/a/..", "/../x" } do
        assert.same({ "mounts[1].target: must not contain '..'" },
          errs(m1 { type = "dir", target = bad }), bad)
      end
      assert.equal("/a/..b/c..", ok(m1 { type = "dir", target = "/a/..b/c.." }).mounts[1].target)
    end)

    it("rejects unknown fields and fields of another type", function()
      assert.same({ "mounts[1].sorce: unknown field", "mounts[1].source: is required" },
        errs(m1 { type = "bind", sorce = "/a", target = "/a" }))
      assert.same({ "mounts[1].content: not valid for type 'bind'" },
        errs(m1 { type = "bind", source = "/a", target = "/a", content = "x" }))
      assert.same({ "mounts[1].size: not valid for type 'bind'" },
        errs(m1 { type = "bind", source = "/a", target = "/a", size = "1M" }))
      assert.same({ "mounts[1].ro: not valid for type 'dir'" },
        errs(m1 { type = "dir", target = "/d", ro = true }))
      assert.same({ "mounts[1].mode: not valid for type 'proc'" },
        errs(m1 { type = "proc", target = "/proc", mode = "0555" }))
      assert.same({ "mounts[1].try: not valid for type 'tmpfs'" },
        errs(m1 { type = "tmpfs", target = "/t", try = true }))
      assert.same({ "mounts[1].lower: not valid for type 'symlink'" },
        errs(m1 { type = "symlink", source = "x", target = "/t", lower = {} }))
    end)

    it("checks booleans", function()
      assert.same({ "mounts[1].recursive: must be a boolean", "mounts[1].ro: must be a boolean",
        "mounts[1].try: must be a boolean" },
        errs(m1 { type = "bind", source = "/a", target = "/a", ro = 1, try = "y",
          recursive = {} }))
    end)

    it("binds need an absolute source", function()
      for _, ty in ipairs { "bind", "bind-idmap", "dev-bind" } do
        assert.same({ "mounts[1].source: is required" }, errs(m1 { type = ty, target = "/a" }))
        assert.same({ "mounts[1].source: must be an absolute path" },
          errs(m1 { type = ty, source = "a", target = "/a" }))
      end
    end)

    it("symlinks need the link text, files their content", function()
      assert.same({ "mounts[1].source: is required (the link text)" },
        errs(m1 { type = "symlink", target = "/l" }))
      assert.same({ "mounts[1].source: must be a non-empty string" },
        errs(m1 { type = "symlink", source = "", target = "/l" }))
      assert.same({ "mounts[1].content: is required" }, errs(m1 { type = "file", target = "/f" }))
      assert.same({ "mounts[1].content: must be a string" },
        errs(m1 { type = "file", target = "/f", content = 5 }))
    end)

    it("overlays need lower dirs; upper and work go together", function()
      assert.same({ "mounts[1].lower: must be a non-empty list of absolute paths" },
        errs(m1 { type = "overlay", target = "/o" }))
      assert.same({ "mounts[1].lower: must be a non-empty list of absolute paths" },
        errs(m1 { type = "overlay", target = "/o", lower = {} }))
      assert.same({ "mounts[1].lower: must be a non-empty list of absolute paths" },
        errs(m1 { type = "overlay", target = "/o", lower = "/l" }))
      assert.same({ "mounts[1].lower[2]: must be an absolute path" },
        errs(m1 { type = "overlay", target = "/o", lower = { "/a", "b" } }))
      assert.same({ "mounts[1].work: is required with upper" },
        errs(m1 { type = "overlay", target = "/o", lower = { "/l" }, upper = "/u" }))
      assert.same({ "mounts[1].upper: is required with work" },
        errs(m1 { type = "overlay", target = "/o", lower = { "/l" }, work = "/w" }))
      assert.same({ "mounts[1].size: only applies to a tmpfs-backed upper (no upper)" },
        errs(m1 { type = "overlay", target = "/o", lower = { "/l" }, upper = "/u",
          work = "/w", size = "1M" }))
      assert.same({ "mounts[1].upper: must be an absolute path",
        "mounts[1].work: must be an absolute path" },
        errs(m1 { type = "overlay", target = "/o", lower = { "/l" }, upper = "u", work = "w" }))
      assert.equal(MiB, ok(m1 { type = "overlay", target = "/o", lower = { "/l" },
        size = "1M" }).mounts[1].size)
    end)

    it("proc needs a pid namespace, mqueue ipc, sysfs net", function()
      assert.same({ "mounts[1]: proc requires a pid namespace (namespaces.pid)" },
        errs(m1({ type = "proc", target = "/proc" }, { namespaces = { pid = false } })))
      assert.same({ "mounts[1]: mqueue requires a ipc namespace (namespaces.ipc)" },
        errs(m1({ type = "mqueue", target = "/q" }, { namespaces = { ipc = false } })))
      assert.same({ "mounts[1]: sysfs requires a net namespace (namespaces.net)" },
        errs(m1({ type = "sysfs", target = "/sys" }, { net = "host" })))
      assert.same({ "mounts[1]: sysfs requires a net namespace (namespaces.net)" },
        errs(m1({ type = "sysfs", target = "/sys" }, { namespaces = { net = false } })))
      ok(m1({ type = "proc", target = "/proc" }, { namespaces = { ipc = false, net = false } }))
    end)

    it("need a mount namespace", function()
      assert.same({ "mounts: requires a mount namespace (namespaces.mnt)" },
        errs(m1({ type = "dir", target = "/d" }, { namespaces = { mnt = false } })))
      assert.same({}, ok { namespaces = { mnt = false } }.mounts)
    end)

    it("keeps mount indices when an earlier entry is bad", function()
      assert.same({ "mounts[1]: must be a table",
        "mounts[2]: proc requires a pid namespace (namespaces.pid)" },
        errs { mounts = { 5, { type = "proc", target = "/proc" } },
          namespaces = { pid = false } })
    end)
  end)

  describe("net", function()
    it("takes none and host", function()
      local n = ok { net = "none" }
      assert.equal("none", n.net)
      assert.is_true(n.namespaces.net)
      local h = ok { net = "host" }
      assert.equal("host", h.net)
      assert.is_false(h.namespaces.net)
    end)

    it("namespaces.net = false means host; it conflicts with others", function()
      assert.equal("host", ok { namespaces = { net = false } }.net)
      assert.same({ "namespaces.net: conflicts with net = \"host\"" },
        errs { net = "host", namespaces = { net = true } })
      assert.same({ "namespaces.net: false requires net = \"host\"" },
        errs { net = "none", namespaces = { net = false } })
      assert.same({ "namespaces.net: false requires net = \"host\"" },
        errs { net = { bridge = "br0" }, namespaces = { net = false } })
    end)

    it("takes a veth plan with defaults", function()
      assert.same({ veth = { guest = "eth0", route = "default" } }, ok { net = { veth = {} } }.net)
      assert.same({ veth = { host = "nslab12345678h", guest = "e0", route = false,
        host_addr = "10.231.0.1/30", guest_addr = "fd12:3456::2/64" } },
        ok { net = { veth = { host = "nslab12345678h", guest = "e0", route = false,
          host_addr = "10.231.0.1/30", guest_addr = "fd12:3456::2/64" } } }.net)
    end)

    it("rejects bad veth fields", function()
      assert.same({
        "net.veth.guest: must be an interface name of 1..15 bytes",
        "net.veth.guest_addr: must be a CIDR address (a.b.c.d/n or v6/n)",
        "net.veth.host: must be an interface name of 1..15 bytes",
        "net.veth.host_addr: must be a CIDR address (a.b.c.d/n or v6/n)",
        "net.veth.mtu: unknown field",
        'net.veth.route: must be "default" or false',
      }, errs { net = { veth = { host = ("x"):rep(16), guest = "a/b", mtu = 1500,
        host_addr = "10.0.0.1", guest_addr = "10.0.0.1/33", route = "yes" } } })
      for _, bad in ipairs { "", ".", "..", "a b", "a:b", 5 } do
        assert.same({ "net.veth.host: must be an interface name of 1..15 bytes" },
          errs { net = { veth = { host = bad } } })
      end
      assert.same({ "net.veth: must be a table" }, errs { net = { veth = true } })
      assert.same({ "net.bridge: not valid with veth" },
        errs { net = { veth = {}, bridge = "br0" } })
    end)

    it("takes net.veth.isolate_host, a boolean", function()
      assert.same({ veth = { guest = "eth0", route = "default", isolate_host = true } },
        ok { net = { veth = { isolate_host = true } } }.net)
      assert.same({ "net.veth.isolate_host: must be a boolean" },
        errs { net = { veth = { isolate_host = "yes" } } })
      assert.same({ veth = { guest = "eth0", route = "default" } },
        ok { net = { veth = { isolate_host = false } } }.net)
    end)

    it("takes a bridge plan", function()
      assert.same({ bridge = "br0" }, ok { net = { bridge = "br0" } }.net)
      assert.same({ bridge = ("b"):rep(15), addr = "fd00::5/64", gateway = "fd00::1" },
        ok { net = { bridge = ("b"):rep(15), addr = "fd00::5/64", gateway = "fd00::1" } }.net)
    end)

    it("rejects bad bridge fields", function()
      assert.same({
        "net.addr: must be a CIDR address (a.b.c.d/n or v6/n)",
        "net.bridge: must be an interface name of 1..15 bytes",
        "net.gateway: must be an IP address",
        "net.mtu: unknown field",
      }, errs { net = { bridge = ("b"):rep(16), addr = "10.0.0.300/24",
        gateway = "10.0.0.1/24", mtu = 9000 } })
    end)

    it("rejects other values", function()
      local msg = "net: must be \"none\", \"host\", \"pasta\", { veth = {...} } or " ..
        "{ bridge = NAME, addr = CIDR, gateway = IP }"
      for _, bad in ipairs { "wifi", {}, { addr = "10.0.0.1/24" }, 5, true } do
        assert.same({ msg }, errs { net = bad })
      end
    end)
  end)

  describe("limits", function()
    it("takes every limit, sizes in bytes", function()
      assert.same({
        memory = 64 * MiB, swap = 0, pids = 16, cpus = 0.5, time = 2, wall = 10.5,
        extra_time = 0, output = 1024, cpuset = "0-1,3",
        rlimits = { nofile = 64, nproc = "unlimited", fsize = MiB, stack = 8 * MiB,
          core = 0, as = "unlimited", memlock = 65536 },
      }, ok { limits = {
        memory = "64M", swap = 0, pids = 16, cpus = 0.5, time = 2, wall = 10.5,
        extra_time = 0, output = "1K", cpuset = "0-1,3",
        rlimits = { nofile = 64, nproc = "unlimited", fsize = "1M", stack = "8MiB",
          as = "unlimited", memlock = 65536 },
      } }.limits)
    end)

    it("defaults rlimits.core to 0 and keeps a given core", function()
      assert.same({ rlimits = { core = 0 } }, ok {}.limits)
      assert.same({ rlimits = { core = 0 } }, ok { limits = {} }.limits)
      assert.same({ rlimits = { core = 0, nofile = 8 } },
        ok { limits = { rlimits = { nofile = 8 } } }.limits)
      assert.equal("unlimited", ok { limits = { rlimits = { core = "unlimited" } } }
        .limits.rlimits.core)
      assert.equal(4096, ok { limits = { rlimits = { core = "4K" } } }.limits.rlimits.core)
    end)

    it("rejects bad sizes", function()
      assert.same({ "limits.memory: invalid size 'lots'", "limits.output: invalid size '1X'",
        "limits.swap: invalid size -1" },
        errs { limits = { memory = "lots", swap = -1, output = "1X" } })
      assert.same({ "limits.memory: must be a positive size",
        "limits.output: must be a positive size" },
        errs { limits = { memory = 0, output = "0K" } })
    end)

    it("rejects bad counts and seconds", function()
      for _, bad in ipairs { 0, -1, 1.5, "4", true } do
        assert.same({ "limits.pids: must be a positive integer" },
          errs { limits = { pids = bad } }, tostring(bad))
      end
      for _, k in ipairs { "cpus", "time", "wall" } do
        for _, bad in ipairs { 0, -1, "1", 0 / 0, math.huge } do
          assert.same({ ("limits.%s: must be a positive number"):format(k) },
            errs { limits = { [k] = bad } }, k .. " " .. tostring(bad))
        end
      end
      assert.same({ "limits.extra_time: must be a non-negative number" },
        errs { limits = { extra_time = -0.5 } })
    end)

    it("takes cpu_scope \"container\" or \"command\", absent by default", function()
      assert.equal("command", ok { limits = { time = 1, cpu_scope = "command" } }.limits.cpu_scope)
      assert.equal("container", ok { limits = { cpu_scope = "container" } }.limits.cpu_scope)
      assert.is_nil(ok { limits = { time = 1 } }.limits.cpu_scope)
      for _, bad in ipairs { "cmd", 1, true } do
        assert.same({ 'limits.cpu_scope: must be "container" or "command"' },
          errs { limits = { cpu_scope = bad } })
      end
      assert.is_true(#v.FIELDS.limits > 0)
      local found = false
      for _, k in ipairs(v.FIELDS.limits) do found = found or k == "cpu_scope" end
      assert.is_true(found)
    end)

    it("rejects bad cpusets", function()
      for _, bad in ipairs { "", "1-0", "a", 3, "0-1," } do
        assert.same({ "limits.cpuset: must be a cpu list such as \"0-1,3\"" },
          errs { limits = { cpuset = bad } })
      end
    end)

    it("rejects bad rlimits", function()
      assert.same({
        "limits.rlimits.fsize: invalid size 'big'",
        "limits.rlimits.nofile: must be a non-negative integer or \"unlimited\"",
        "limits.rlimits.nproc: must be a non-negative integer or \"unlimited\"",
        "limits.rlimits.stack: invalid size 'infinity'",
      }, errs { limits = { rlimits = { nofile = "1K", nproc = -1, fsize = "big",
        stack = "infinity" } } })
      assert.same({ "limits.rlimits: must be a table" }, errs { limits = { rlimits = 5 } })
    end)

    it("rejects unknown fields, nested too", function()
      assert.same({ "limits.memroy: unknown field", "limits.rlimits.nfile: unknown field" },
        errs { limits = { memroy = "1G", rlimits = { nfile = 5 } } })
      assert.same({ "limits: must be a table" }, errs { limits = "64M" })
    end)
  end)

  describe("caps", function()
    it("canonicalises, dedups and orders by number", function()
      assert.same({ "cap_chown", "cap_net_bind_service", "cap_net_raw" },
        ok { caps = { "NET_RAW", "cap_net_bind_service", "chown", "CAP_CHOWN" } }.caps)
      assert.same({}, ok { caps = {} }.caps)
    end)

    it("\"all\" is every capability", function()
      local all = ok { caps = { "all" } }.caps
      assert.equal(41, #all)
      assert.equal("cap_chown", all[1])
      assert.equal("cap_checkpoint_restore", all[41])
      assert.same(all, ok { caps = { "chown", "ALL" } }.caps)
    end)

    it("rejects unknown names, non-strings and non-lists", function()
      assert.same({ "caps[1]: unknown capability 'net_bind'", "caps[3]: must be a string",
        "caps[4]: unknown capability 'cap_'" }, errs { caps = { "net_bind", "chown", 5, "cap_" } })
      assert.same({ "caps: must be a list of capability names or a table of sets "
        .. "{ bounding, effective, permitted, inheritable, ambient }" }, errs { caps = "all" })
      assert.same({ "caps: must be a list of capability names or a table of sets "
        .. "{ bounding, effective, permitted, inheritable, ambient }" },
        errs { caps = { net_raw = true } })
    end)
  end)

  describe("seccomp", function()
    it("takes the named profiles and .lua files", function()
      for _, s in ipairs { "default", "strict", "none", "/etc/nslua/judge.lua", "p.lua" } do
        assert.equal(s, ok { seccomp = s }.seccomp)
      end
      assert.equal("default", ok {}.seccomp)
    end)

    it("checks a profile table with nslua.seccomp's schema", function()
      local p = { default = "errno", syscalls = {}, arches = { "native" } }
      assert.same(p, ok { seccomp = p }.seccomp)
      local e = errs { seccomp = { default = "bogus" } }
      assert.equal(1, #e)
      assert.matches("^seccomp%.default: ", e[1])
      e = errs { seccomp = { default = "allow", syscalls = { { names = { "read" }, action = "allow" }, "read" } } }
      assert.equal(1, #e)
      assert.matches("^seccomp%.syscalls%[2%]", e[1])
    end)

    it("rejects other values", function()
      for _, bad in ipairs { "bogus", "x.luac", 5, true } do
        assert.same({ "seccomp: must be \"default\", \"strict\", \"isolate\", \"none\", " ..
          "a .lua or .json file or a profile table" }, errs { seccomp = bad })
      end
    end)
  end)

  describe("env and keep_env", function()
    it("take strings", function()
      local out = ok { env = { LANG = "C", ["my.var"] = "" }, keep_env = { "TERM", "HOME" } }
      assert.same({ LANG = "C", ["my.var"] = "" }, out.env)
      assert.same({ "TERM", "HOME" }, out.keep_env)
    end)

    it("reject bad names and values", function()
      assert.same({
        "env.N: must be a string",
        "env.V: must be a string",
        "env[\"\"]: name must be a non-empty string without '='",
        "env[\"A=B\"]: name must be a non-empty string without '='",
        "env[1]: name must be a non-empty string without '='",
      }, errs { env = { ["A=B"] = "x", [""] = "y", [1] = "z", N = 5, V = "a\0b" } })
      assert.same({ "env: must be a table of NAME = value strings" }, errs { env = "A=B" })
      assert.same({ "keep_env[2]: must be a non-empty string without '='",
        "keep_env[3]: must be a non-empty string without '='" },
        errs { keep_env = { "A", "B=", 5 } })
      assert.same({ "keep_env: must be a list of variable names" }, errs { keep_env = "TERM" })
    end)
  end)

  describe("stdio and tty", function()
    it("take inherit, null, paths and fds", function()
      assert.same({ stdin = "null", stdout = "/tmp/out", stderr = 2, fds = { 3, 7 } },
        ok { stdio = { stdin = "null", stdout = "/tmp/out", stderr = 2, fds = { 3, 7 } } }.stdio)
      assert.same({ stdin = "inherit", stdout = "out.txt", stderr = "inherit", fds = {} },
        ok { stdio = { stdout = "out.txt" } }.stdio)
    end)

    it("reject bad values", function()
      local msg = "must be \"inherit\", \"null\", a path, { inside = PATH } or a file descriptor"
      assert.same({ "stdio.stderr: " .. msg, "stdio.stdin: " .. msg, "stdio.stdout: " .. msg },
        errs { stdio = { stdin = -1, stdout = "", stderr = true } })
      assert.same({ "stdio.fds[1]: must be a file descriptor >= 3",
        "stdio.fds[3]: duplicate file descriptor 4", "stdio.fds[4]: must be a file descriptor >= 3" },
        errs { stdio = { fds = { 2, 4, 4, "5" } } })
      assert.same({ "stdio.fds: must be a list of file descriptors >= 3" },
        errs { stdio = { fds = 3 } })
      -- no file descriptor is beyond an int (found by make fuzz: the core raised)
      assert.same({ "stdio.fds[1]: must be a file descriptor >= 3", "stdio.stdin: " .. msg },
        errs { stdio = { stdin = 2 ^ 40, fds = { 2 ^ 31 } } })
      assert.same({ "stdio.stdni: unknown field" }, errs { stdio = { stdni = "null" } })
      assert.same({ "stdio: must be a table" }, errs { stdio = "null" })
    end)

    it("take { inside = PATH } and stderr = \"stdout\"", function()
      assert.same({ stdin = { inside = "/box/in" }, stdout = { inside = "/box/out" }, stderr = "stdout",
                    fds = {} },
        ok { stdio = { stdin = { inside = "/box/in" }, stdout = { inside = "/box/out" },
                       stderr = "stdout" } }.stdio)
      assert.same({ inside = "/e" }, ok { stdio = { stderr = { inside = "/e" } } }.stdio.stderr)
      -- stdout = "stdout" stays a path (the parent opens it)
      assert.equal("stdout", ok { stdio = { stdout = "stdout" } }.stdio.stdout)
      local abs = "must be an absolute path (starting with \"/\", no NUL or newline)"
      assert.same({ "stdio.stderr.inside: " .. abs, "stdio.stdin.inside: " .. abs,
                    "stdio.stdout.inside: " .. abs },
        errs { stdio = { stdin = { inside = "box/in" }, stdout = { inside = "/a\nb" },
                         stderr = { inside = 5 } } })
      assert.same({ "stdio.stdin.inside: is required (an absolute path inside the sandbox)",
                    "stdio.stdin.path: unknown field" },
        errs { stdio = { stdin = { path = "/x" } } })
      assert.same({ "stdio.stdin: must be \"inherit\" with tty = true" },
        errs { tty = true, stdio = { stdin = { inside = "/in" } } })
    end)

    it("exec_error is \"stderr\" or absent", function()
      assert.equal("stderr", ok { exec_error = "stderr" }.exec_error)
      assert.is_nil(ok {}.exec_error)
      assert.same({ 'exec_error: must be "stderr" (or absent)' }, errs { exec_error = "stdout" })
      assert.same({ 'exec_error: must be "stderr" (or absent)' }, errs { exec_error = true })
    end)

    it("tty is a boolean and wants stdin inherited", function()
      assert.is_true(ok { tty = true }.tty)
      assert.is_false(ok {}.tty)
      assert.same({ "tty: must be a boolean" }, errs { tty = "yes" })
      assert.same({ "stdio.stdin: must be \"inherit\" with tty = true" },
        errs { tty = true, stdio = { stdin = "null" } })
      assert.is_true(ok { tty = true, stdio = { stdin = "inherit", stdout = "null" } }.tty)
      ok { tty = false, stdio = { stdin = "null" } }
    end)
  end)

  describe("hooks", function()
    it("take functions", function()
      local f, g = function() end, function() end
      assert.same({ after_clone = f, before_pivot = g, before_exec = f, after_exit = g },
        ok { hooks = { after_clone = f, before_pivot = g, before_exec = f, after_exit = g } }.hooks)
    end)

    it("reject non-functions and unknown hooks", function()
      assert.same({ "hooks.after_exit: must be a function", "hooks.before_run: unknown hook" },
        errs { hooks = { after_exit = "print", before_run = print } })
      assert.same({ "hooks: must be a table of functions" }, errs { hooks = print })
    end)
  end)
end)

describe("nslua.validate: base none and bwrap's mount fields", function()
  it("base: default (absent) or none; none needs a mount namespace and no rootfs", function()
    assert.is_nil(ok({}).base)
    assert.is_nil(ok({ base = "default" }).base)
    local s = ok { base = "none" }
    assert.equal("none", s.base)
    assert.same({}, s.limits.rlimits)                 -- no core = 0
    assert.same({ core = 0 }, ok({}).limits.rlimits)
    assert.same({ nofile = 64 }, ok({ base = "none", limits = { rlimits = { nofile = 64 } } }).limits.rlimits)
    assert.same({ 'base: must be "default" or "none"' }, errs { base = "empty" })
    assert.same({ 'base: "none" conflicts with rootfs (a rootfs is the base)' },
      errs { base = "none", rootfs = "/srv/root" })
    assert.same({ 'base: "none" requires a mount namespace (namespaces.mnt)' },
      errs { base = "none", namespaces = { mnt = false } })
  end)

  it("remount-ro takes a target; chmod a target and a mode", function()
    local s = ok { mounts = { { type = "remount-ro", target = "/" },
      { type = "chmod", target = "/x", mode = "0700" } } }
    assert.same({ { type = "remount-ro", target = "/" }, { type = "chmod", target = "/x", mode = 448 } }, s.mounts)
    assert.same({ "mounts[1].mode: is required" }, errs { mounts = { { type = "chmod", target = "/x" } } })
    assert.same({ "mounts[1].ro: not valid for type 'remount-ro'" },
      errs { mounts = { { type = "remount-ro", target = "/x", ro = true } } })
  end)

  it("binds take source_fd instead of source", function()
    local s = ok { mounts = { { type = "bind", source_fd = 7, target = "/d", ro = true } } }
    assert.same({ type = "bind", source_fd = 7, target = "/d", ro = true, try = false, recursive = true },
      s.mounts[1])
    assert.same({ "mounts[1].source_fd: conflicts with source (one of them names the source)" },
      errs { mounts = { { type = "bind", source = "/x", source_fd = 7, target = "/d" } } })
    for _, bad in ipairs { -1, "7", 1.5 } do
      assert.same({ "mounts[1].source_fd: must be a file descriptor" },
        errs { mounts = { { type = "dev-bind", source_fd = bad, target = "/d" } } }, tostring(bad))
    end
    assert.same({ "mounts[1].source_fd: not valid for type 'tmpfs'" },
      errs { mounts = { { type = "tmpfs", source_fd = 3, target = "/d" } } })
  end)

  it("file takes inplace (not with ro); symlink text may be relative", function()
    local s = ok { mounts = { { type = "file", target = "/f", content = "x", mode = "0666", inplace = true },
      { type = "symlink", source = "../a", target = "/l" } } }
    assert.same({ type = "file", target = "/f", content = "x", mode = 438, ro = false, inplace = true }, s.mounts[1])
    assert.equal("../a", s.mounts[2].source)
    assert.same({ "mounts[1].ro: not valid with inplace (the file is created, not bound)" },
      errs { mounts = { { type = "file", target = "/f", content = "x", inplace = true, ro = true } } })
    assert.same({ "mounts[1].inplace: must be a boolean" },
      errs { mounts = { { type = "file", target = "/f", content = "x", inplace = 1 } } })
  end)

  it("overlay: ro without upper has no tmpfs size", function()
    local s = ok { mounts = { { type = "overlay", target = "/o", lower = { "/a", "/b" }, ro = true } } }
    assert.is_nil(s.mounts[1].size)
    assert.same({ "mounts[1].size: only applies to a tmpfs-backed upper (ro = true has none)" },
      errs { mounts = { { type = "overlay", target = "/o", lower = { "/a", "/b" }, ro = true, size = "1M" } } })
  end)
end)
