-- nslua.cli.bwrap's grammar and spec builder, without a kernel object:
-- bubblewrap's rules for the command's first word, --args, the modifiers,
-- the overlay sources, ids, capabilities, the environment and the cwd.
-- (spec/cli/bwrap_spec.lua runs command lines under bwrap and nslua.)
local bwrap = require "nslua.cli.bwrap"
local core = require "nslua.core"

local function opts(t)
  t = t or {}
  return { cwd = t.cwd or "/work", uid = t.uid or 0, gid = t.gid or 0,
           env = t.env or { HOME = "/root", A = "1" }, warn = t.warn or function() end }
end

-- The spec of a command line, or the error message bubblewrap would die with.
local function spec_of(args, o)
  local ok, r = pcall(function()
    local st = bwrap.parse(args, opts(o))
    return bwrap.spec_of(st), st
  end)
  if ok then return r end
  assert.are.equal(bwrap.Die, getmetatable(r), tostring(r))
  return nil, r.msg
end

local function fails(args, pattern, o)
  local spec, msg = spec_of(args, o)
  assert.is_nil(spec)
  assert.truthy(msg:find(pattern, 1, true), msg)
end

describe("nslua bwrap grammar", function()
  it("starts the command at the first non-option, with or without --", function()
    assert.same({ "sh", "-c", "x" }, spec_of({ "--bind", "/", "/", "sh", "-c", "x" }).argv)
    assert.same({ "--dev-bind", "/", "/" }, spec_of({ "--", "--dev-bind", "/", "/" }).argv)
    assert.same({ "true", "--bind", "/a", "/b" }, spec_of({ "true", "--bind", "/a", "/b" }).argv)
  end)

  it("refuses unknown options and missing arguments in bubblewrap's words", function()
    fails({ "--frobnicate", "true" }, "Unknown option --frobnicate")
    fails({ "--bind", "/a" }, "--bind takes two arguments")
    fails({ "--tmpfs" }, "--tmpfs takes an argument")
    fails({ "--overlay", "a", "b" }, "--overlay takes three arguments")
    fails({ "--info-fd", "x", "true" }, "Invalid fd: x")
    fails({ "--uid", "-1", "--unshare-user", "true" }, "Invalid uid: -1")
  end)

  it("gives no spec without a command (usage)", function()
    assert.is_nil(spec_of { "--bind", "/", "/" })
  end)

  it("reads NUL-separated options from --args and closes that fd", function()
    local r, w = core.proc.pipe()
    core.proc.write(w, "--dir\0/a\0--setenv\0K\0v w\0")
    w:close()
    local fd = r:release()
    local spec = spec_of { "--args", tostring(fd), "--dir", "/b", "true" }
    assert.same({ "/a", "/b" }, { spec.mounts[1].target, spec.mounts[2].target })
    assert.are.equal("v w", spec.env.K)
    assert.is_nil(core.proc.read(fd, 1))   -- closed
  end)

  it("does not nest --args", function()
    local r, w = core.proc.pipe()
    core.proc.write(w, "--args\0" .. "0\0")
    w:close()
    local fd = r:release()
    fails({ "--args", tostring(fd), "true" }, "--args not supported in arguments file")
  end)

  it("applies --perms and --size to the next operation only", function()
    local spec = spec_of { "--perms", "01777", "--tmpfs", "/a", "--tmpfs", "/b", "--size", "1048576",
                           "--tmpfs", "/c", "--perms", "0700", "--dir", "/d", "--dir", "/e", "true" }
    local m = spec.mounts
    assert.are.equal(1023, m[1].mode)
    assert.are.equal(493, m[2].mode)
    assert.are.equal(1048576, m[3].size)
    assert.are.equal(448, m[4].mode)
    assert.is_nil(m[5].mode)
    fails({ "--perms", "0640", "--perms", "0640", "--tmpfs", "/a", "true" }, "--perms given twice")
    fails({ "--size", "1", "--size", "1", "--tmpfs", "/a", "true" }, "--size given twice")
    fails({ "--perms", "0640", "--chdir", "/", "true" }, "--perms must be followed by an option that creates")
    fails({ "--size", "4096", "--dir", "/a", "true" }, "--size must be followed by --tmpfs")
    fails({ "--perms", "8", "--dir", "/a", "true" }, "octal argument <= 07777")
    for _, bad in ipairs { "0", "123bogus", "", "-12345678", " -12345678", "18446744073709551616" } do
      fails({ "--size", bad, "--tmpfs", "/a", "true" }, "--size takes a non-zero number of bytes")
    end
  end)

  it("gives files bubblewrap's default modes", function()
    local r, w = core.proc.pipe()
    w:close()
    local fd = r:release()
    local spec = spec_of { "--file", tostring(fd), "/f", "true" }
    assert.are.equal(438, spec.mounts[1].mode)
    assert.is_true(spec.mounts[1].inplace)
    assert.are.equal("", spec.mounts[1].content)
  end)

  it("never passes a --bind-fd's fd to the command (bubblewrap closes it once bound)", function()
    local fd = assert(core.proc.open("/tmp", { path = true, directory = true }))
    local n = fd:fileno()
    local spec = spec_of { "--ro-bind-fd", tostring(n), "/mnt", "true" }
    assert.are.equal(n, spec.mounts[1].source_fd)
    for _, k in ipairs(spec.stdio and spec.stdio.fds or {}) do assert.are_not.equal(n, k) end
    fd:close()
  end)

  it("keeps --overlay-src next to its overlay, uppermost first", function()
    local spec = spec_of { "--overlay-src", "a", "--overlay-src", "/b", "--tmp-overlay", "/x", "true" }
    assert.same({ "/b", "/work/a" }, spec.mounts[1].lower)
    fails({ "--overlay-src", "/a", "--chdir", "/", "true" }, "--overlay-src must be followed")
    fails({ "--overlay-src", "/a", "true" }, "--overlay-src must be followed")
    fails({ "--overlay", "/u", "/w", "/x", "true" }, "--overlay requires at least one --overlay-src")
    fails({ "--overlay-src", "/a", "--ro-overlay", "/x", "true" }, "--ro-overlay requires at least two")
  end)

  it("makes host sources absolute from the caller's directory and targets absolute inside", function()
    local spec = spec_of({ "--bind", "rel", "dst/", "true" }, { cwd = "/srv/x" })
    assert.are.equal("/srv/x/rel", spec.mounts[1].source)
    assert.are.equal("/dst", spec.mounts[1].target)
  end)

  it("warns when a single-value option is given twice", function()
    local warned = {}
    spec_of({ "--chdir", "/", "--chdir", "/", "true" }, { warn = function(m) warned[#warned + 1] = m end })
    assert.same({ "Only the last --chdir option will take effect" }, warned)
  end)
end)

describe("nslua bwrap specs", function()
  it("unshares nothing but the mount namespace for root", function()
    local spec = spec_of { "true" }
    assert.same({ mnt = true, user = false, pid = false, net = false, ipc = false, uts = false,
                  cgroup = false, time = false }, spec.namespaces)
    assert.are.equal("host", spec.user)
    assert.are.equal("host", spec.net)
    assert.are.equal("none", spec.base)
    assert.same({ "all" }, spec.caps)
  end)

  it("always makes a user namespace for a caller that is not root", function()
    local spec = spec_of({ "true" }, { uid = 4242, gid = 4243 })
    assert.is_true(spec.namespaces.user)
    assert.same({ uid = 4242, gid = 4243, map = "caller" }, spec.user)
    assert.same({}, spec.caps)
  end)

  it("--unshare-all is user-try, ipc, pid, net, uts and cgroup-try; --share-net keeps the network", function()
    local spec = spec_of { "--unshare-all", "--share-net", "true" }
    assert.is_true(spec.namespaces.pid and spec.namespaces.ipc and spec.namespaces.uts and true)
    assert.is_false(spec.namespaces.net)
    assert.are.equal("host", spec.net)
  end)

  it("checks bubblewrap's combinations", function()
    fails({ "--uid", "5", "true" }, "Specifying --uid requires --unshare-user or --userns")
    fails({ "--hostname", "x", "true" }, "Specifying --hostname requires --unshare-uts")
    fails({ "--as-pid-1", "true" }, "Specifying --as-pid-1 requires --unshare-pid")
    fails({ "--unshare-pid", "--as-pid-1", "--lock-file", "/l", "true" }, "--as-pid-1 and --lock-file")
    fails({ "--disable-userns", "true" }, "--disable-userns requires --unshare-user")
    fails({ "--exec-label", "x", "true" }, "labeling not supported on this system")
    fails({ "--seccomp", "5", "--add-seccomp-fd", "6", "true" }, "--add-seccomp-fd cannot be combined")
  end)

  it("changes root's capabilities with --cap-add and --cap-drop", function()
    local spec = spec_of { "--cap-drop", "CAP_KILL", "--cap-drop", "fowner", "true" }
    local set = {}
    for _, c in ipairs(spec.caps) do set[c] = true end
    assert.is_nil(set.kill)
    assert.is_nil(set.fowner)
    assert.is_true(set.net_bind_service)
    assert.same({}, spec_of({ "--cap-drop", "ALL", "true" }).caps)
    assert.same({ "net_raw" }, spec_of({ "--cap-add", "CAP_NET_RAW", "true" }, { uid = 4242 }).caps)
    fails({ "--cap-add", "cap_frob", "true" }, "unknown cap: cap_frob")
  end)

  it("takes the caller's environment and changes it in order", function()
    local spec = spec_of({ "--setenv", "B", "2", "--unsetenv", "A", "true" })
    assert.same({ HOME = "/root", B = "2" }, spec.env)
    assert.same({ C = "3" }, spec_of({ "--setenv", "X", "1", "--clearenv", "--setenv", "C", "3", "true" }).env)
    assert.is_true(spec.set_pwd)
  end)

  it("starts in --chdir, else the caller's directory, $HOME or /", function()
    assert.are.equal("/tmp", spec_of({ "--chdir", "/tmp", "true" }).cwd)
    assert.same({ "/work", "/root", "/" }, spec_of({ "true" }).cwd)
    assert.same({ "/work", "/" }, spec_of({ "--clearenv", "true" }).cwd)
  end)

  it("binds the host's /proc for --proc without a pid namespace", function()
    local m = spec_of({ "--proc", "/proc", "true" }).mounts[1]
    assert.same({ "bind", "/proc", "/proc" }, { m.type, m.source, m.target })
    assert.are.equal("proc", spec_of({ "--unshare-pid", "--proc", "/proc", "true" }).mounts[1].type)
  end)

  it("keeps the caller's stdio session unless --new-session", function()
    assert.are.equal("keep", spec_of({ "true" }).session)
    assert.are.equal("new", spec_of({ "--new-session", "true" }).session)
    assert.is_false(spec_of({ "--unshare-pid", "--as-pid-1", "true" }).init)
    -- an init only where bubblewrap forks its reaper
    assert.is_false(spec_of({ "true" }).init)
    assert.is_true(spec_of({ "--unshare-pid", "true" }).init)
    assert.is_true(spec_of({ "--lock-file", "/l", "true" }).init)
    assert.is_true(spec_of({ "--sync-fd", "1", "true" }).init)
  end)

  it("prints bubblewrap's usage with every option", function()
    local u = bwrap.usage("/x/bwrap")
    assert.truthy(u:find("usage: /x/bwrap [OPTIONS...] [--] COMMAND [ARGS...]", 1, true))
    for _, o in ipairs(bwrap.OPTIONS) do assert.truthy(u:find(o[1] .. " ", 1, true), o[1]) end
    assert.are.equal(67, #bwrap.OPTIONS)
  end)
end)
