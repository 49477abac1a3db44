-- spec/cli/isolate_launcher_spec.lua - build/nslua-isolate, the setuid
-- launcher of `nslua isolate` (csrc/isolate-launcher.c), attacked by an
-- unprivileged caller; `make install ISOLATE_SETUID=1 ISOLATE_LINK=1`; and
-- main's dispatch of `isolate` while nslua.cli.isolate is missing.
--
-- A test copy of the launcher is built by the Makefile's own rule with
-- ISOLATE_PROGRAM pointing at a stand-in (a lua5.4 script, by its #! line)
-- that writes down what it sees (ids, arg, environment, package paths, the
-- env memfd) as a Lua table; it is installed root:GROUP 4750 in a 0755 temp dir and run as
-- uid 4242 through a small python3 runner that execs it with exactly the
-- argv (argv[0] included), environment, cwd, rlimits and closed fds a
-- test asks for.
local helper = require "helper"
local cjson = require "cjson"

local q = helper.quote
local UID = helper.ROOTLESS_UID
-- the launcher's group: a number no group file names (setpriv --groups
-- takes numbers), so nothing in /etc changes
local GID = 4243
local PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

local STANDIN = [=[
local REPORT = %q
local out = {}
local function put(k, v) out[#out + 1] = ("%%s = %%q,"):format(k, v) end
local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
local function cmd(c)
  local f = io.popen(c)
  local s = f:read("a")
  f:close()
  return (s:gsub("\n$", ""))
end
local status = read("/proc/self/status")
for _, k in ipairs { "Uid", "Gid", "Groups", "Umask", "SigBlk", "SigIgn" } do
  put(k, status:match("\n" .. k .. ":%%s*([^\n]-)%%s*\n") or "")
end
local args = {}
for i = -10, #arg do
  if arg[i] ~= nil then args[#args + 1] = ("[%%d] = %%q,"):format(i, arg[i]) end
end
out[#out + 1] = "arg = {" .. table.concat(args, " ") .. "},"
-- "soft hard" of the limits the front end inherits
local limits = read("/proc/self/limits")
for k, row in pairs { FSIZE = "Max file size", CPU = "Max cpu time",
                      NOFILE = "Max open files", CORE = "Max core file size" } do
  local soft, hard = limits:match("\n" .. row .. "%%s+(%%S+)%%s+(%%S+)")
  put("limit_" .. k, soft .. " " .. hard)
end
put("environ", read("/proc/self/environ"))
put("path", package.path)
put("cpath", package.cpath)
put("probe_lua", tostring((pcall(require, "nslua_standin_probe"))))
put("probe_c", tostring((pcall(require, "nslua_standin_cprobe"))))
local fd = tonumber(os.getenv("NSLUA_ISOLATE_ENV_FD") or "")
local pid = read("/proc/self/stat"):match("^%%d+")
put("fd0", cmd("readlink /proc/" .. pid .. "/fd/0"))
put("fd1", cmd("readlink /proc/" .. pid .. "/fd/1"))
put("fd2", cmd("readlink /proc/" .. pid .. "/fd/2"))
if fd then
  put("envfd", fd)
  put("memfd_link", cmd("readlink /proc/" .. pid .. "/fd/" .. fd))
  put("memfd", read("/proc/self/fd/" .. fd))
  put("seals", cmd(("python3 -c 'import fcntl; print(fcntl.fcntl(%%d, fcntl.F_GET_SEALS))'"):format(fd)))
  local f = io.open("/proc/self/fd/" .. fd, "a")
  if f then
    f:write("x")
    local _, err = f:flush()
    f:close()
    put("write", tostring(err))
  end
end
local f = assert(io.open(REPORT, "w"))
f:write("return {\n", table.concat(out, "\n"), "\n}\n")
f:close()
]=]

-- execs spec.path with spec.argv and exactly spec.env (a list of pairs)
local RUNNER = [[
import json, os, resource, signal, sys
spec = json.load(open(sys.argv[1]))
if spec.get("signals"):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGTERM, signal.SIGINT, signal.SIGCHLD])
if spec.get("xfsz_dfl"):
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # python ignores it
os.chdir(spec.get("cwd") or "/")
os.umask(0o077)
for name, v in (spec.get("rlimits") or {}).items():
    resource.setrlimit(getattr(resource, name), (v, v))
for name, v in (spec.get("soft_rlimits") or {}).items():
    r = getattr(resource, name)
    resource.setrlimit(r, (v, resource.getrlimit(r)[1]))
env = dict(spec.get("env") or [])
for fd in spec.get("close") or []:
    os.close(fd)
try:
    os.execve(spec["path"], spec["argv"], env)
except OSError as e:
    print("EXEC-ERRNO %d" % e.errno)
    sys.exit(99)
]]

-- attacker code: each, if it ever runs, makes its marker file
local EVIL_LUA = [[io.open(%q, "w"):close()]]
local EVIL_C = [[
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void evil(void) {
  int fd = open("%s", O_WRONLY | O_CREAT, 0666);
  if (fd >= 0) close(fd);
}
int luaopen_nslua_standin_cprobe(void *L);
int luaopen_nslua_standin_cprobe(void *L) { (void)L; evil(); return 0; }
]]

local function write(path, text, mode)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  assert(helper.sh(("chmod %s %s"):format(mode or "0644", q(path))))
end

-- the Makefile's launcher rule, with the test's paths; never the caller's
-- make flags (a `make check CFLAGS=-fsanitize=...` would make a setuid
-- binary load ASan) and without the sanitizer preload
local function make_cmd(args)
  return helper.MAKE .. " CFLAGS='-O2 -g' LDFLAGS= " .. args
end

describe("nslua-isolate (the setuid launcher)", function()
  local dir, skip, launcher, plain, report, markers, evil, tracker

  lazy_setup(function()
    if not helper.is_root() then skip = "needs root (chown, setuid)" return end
    if not helper.sh("test -x /usr/bin/python3 && command -v setpriv && command -v cc") then
      skip = "needs /usr/bin/python3, setpriv and cc"
      return
    end
    dir = helper.tmpdir("0755")
    local _, opts = helper.sh("findmnt -n -o OPTIONS -T " .. q(dir))
    if opts:match("nosuid") then skip = dir .. " is on a nosuid mount" return end
    launcher = dir .. "/bin/nslua-isolate"
    plain = dir .. "/bin/nslua-isolate-plain"
    report = dir .. "/out/report.lua"
    markers = dir .. "/markers"
    evil = dir .. "/evil"
    assert(helper.sh(("mkdir -m 0755 %s/bin %s/out %s && mkdir -m 0777 %s"):format(
      q(dir), q(dir), q(evil), q(markers))))
    write(dir .. "/standin.lua", "#!/usr/bin/lua5.4\n" .. STANDIN:format(report), "0755")
    write(dir .. "/run.py", RUNNER)
    write(evil .. "/init.lua", EVIL_LUA:format(markers .. "/lua-init"))
    write(evil .. "/nslua_standin_probe.lua", EVIL_LUA:format(markers .. "/lua-path"))
    write(evil .. "/x.lua", EVIL_LUA:format(markers .. "/script"))
    write(evil .. "/preload.c", EVIL_C:format(markers .. "/preload"))
    assert(helper.sh(("cc -shared -fPIC -o %s/preload.so %s/preload.c && "
      .. "cp %s/preload.so %s/nslua_standin_cprobe.so && chmod 0755 %s/*.so"):format(
      q(evil), q(evil), q(evil), q(evil), q(evil))))
    local ok, out = helper.sh(make_cmd(("ISOLATE_OUT=%s ISOLATE_PROGRAM=%s %s"):format(
      q(launcher), q(dir .. "/standin.lua"), q(launcher))))
    assert(ok, out)
    assert(helper.sh(("cp %s %s && chmod 0755 %s && chown root:%d %s && chmod 4750 %s"):format(
      q(launcher), q(plain), q(plain), GID, q(launcher), q(launcher))))
  end)

  lazy_teardown(function()
    if dir then helper.rmtree(dir) end
  end)

  before_each(function()
    if skip then return end
    tracker = helper.track()
    os.remove(report)
  end)

  after_each(function()
    if skip then return end
    -- no attacker code ran anywhere
    local _, left = helper.sh("ls -A " .. q(markers))
    assert.equal("", left)
    helper.assert_released(tracker)
  end)

  -- Exec the launcher as uid 4242 (in the launcher's group unless
  -- opts.groups says otherwise).  Returns the stand-in's report (or nil),
  -- the output, the exit code.
  local function run(opts)
    local spec = {
      path = opts.path or launcher,
      argv = opts.argv or { "nslua-isolate" },
      env = opts.env or { { "HOME", "/home/caller" } },
      cwd = opts.cwd,
      rlimits = opts.rlimits,
      soft_rlimits = opts.soft_rlimits,
      xfsz_dfl = opts.xfsz_dfl,
      close = opts.close,
      signals = opts.signals,
    }
    local file = dir .. "/spec.json"
    write(file, cjson.encode(spec))
    local _, out, code = helper.sh(("setpriv --reuid=%d --regid=%d %s /usr/bin/python3 %s %s"):format(
      UID, UID, opts.groups or ("--groups=" .. GID), q(dir .. "/run.py"), q(file)))
    os.remove(file)
    local text = helper.read(report)
    local r = text and assert(load(text, "=report", "t", {}))()
    return r, out, code
  end

  local function env_text(env)
    local t = {}
    for _, kv in ipairs(env) do t[#t + 1] = kv[1] .. "=" .. kv[2] .. "\0" end
    return table.concat(t)
  end

  -- every entry of a package path is absolute
  local function absolute(p)
    for e in p:gmatch("[^;]+") do
      if e:sub(1, 1) ~= "/" then return false, e end
    end
    return true
  end

  it("runs the fixed command line as root, the environment replaced", function()
    if skip then return pending(skip) end
    local attack = {
      { "LUA_INIT", "@" .. evil .. "/init.lua" },
      { "LUA_INIT_5_4", "@" .. evil .. "/init.lua" },
      { "LUA_PATH", evil .. "/?.lua;;" },
      { "LUA_PATH_5_4", evil .. "/?.lua;;" },
      { "LUA_CPATH", evil .. "/?.so;;" },
      { "LUA_CPATH_5_4", evil .. "/?.so;;" },
      { "LD_PRELOAD", evil .. "/preload.so" },
      { "LD_LIBRARY_PATH", evil },
      { "NSLUA_ISOLATE_CALLER", "0:0" },
      { "NSLUA_ISOLATE_ENV_FD", "0" },
      { "PATH", evil .. ":/usr/bin:/bin" },
      { "SPACES", "a b\tc" },
      { "EMPTY", "" },
    }
    -- from the attacker's directory: "./?.lua" would find its modules
    local r, out, code = run { argv = { "nslua-isolate", "--box-id=3", "--init" }, env = attack, cwd = evil }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.equal("0\t0\t0\t0", r.Uid)
    assert.equal("0\t0\t0\t0", r.Gid)
    -- supplementary groups kept (the front end opens files with them)
    assert.equal(tostring(GID), r.Groups)
    assert.equal("0022", r.Umask)
    -- the program (here the stand-in, which the kernel runs with lua5.4),
    -- the fixed word, then the caller's arguments
    local fd = math.tointeger(r.envfd)
    assert.is_true(fd and fd > 2, tostring(r.envfd))
    assert.equal("/usr/bin/lua5.4", r.arg[-1])
    assert.equal(dir .. "/standin.lua", r.arg[0])
    assert.same({ "isolate", "--box-id=3", "--init" }, { r.arg[1], r.arg[2], r.arg[3] })
    assert.is_nil(r.arg[4])
    assert.is_nil(r.arg[-2])
    -- the whole environment: the package paths are Lua's, from it
    assert.equal(("PATH=%s\0NSLUA_ISOLATE_CALLER=%d:%d\0NSLUA_ISOLATE_ENV_FD=%d\0LUA_PATH_5_4=%s\0"
      .. "LUA_CPATH_5_4=%s\0"):format(PATH, UID, UID, fd, r.path, r.cpath), r.environ)
    -- package paths: install paths, never relative ("./?.lua", the cwd)
    assert.is_true(absolute(r.path))
    assert.is_true(absolute(r.cpath))
    assert.matches("^/usr/local/share/lua/5.4/%?%.lua;", r.path)
    assert.matches("^/usr/local/lib/lua/5.4/%?%.so", r.cpath)
    assert.equal("false", r.probe_lua)
    assert.equal("false", r.probe_c)
    -- the caller's environment, sealed, in an fd that stays open: intact
    -- but for what glibc removes from a setuid program's (its
    -- UNSECURE_ENVVARS: LD_PRELOAD, LD_LIBRARY_PATH, ...), as for isolate
    local kept = {}
    for _, kv in ipairs(attack) do
      if not kv[1]:match("^LD_") then kept[#kept + 1] = kv end
    end
    assert.equal(#attack - 2, #kept)
    assert.equal(env_text(kept), r.memfd)
    assert.matches("^/memfd:nslua%-isolate%-env", r.memfd_link)
    -- F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE
    assert.equal("15", r.seals)
    assert.matches("Operation not permitted", r.write)
  end)

  it("ignores argv[0] and never lets lua read an argument as an option", function()
    if skip then return pending(skip) end
    -- (python refuses an empty argv[0]; since Linux 5.18 so does the kernel)
    local argv0s = { "lua5.4", "-e", "-", evil .. "/x.lua", "nslua", "isolate" }
    local argss = {
      { "-e", ("io.open(%q, 'w'):close()"):format(markers .. "/dash-e") },
      { "--", evil .. "/x.lua" },
      { evil .. "/x.lua", "--run" },
      { "-l", "nslua_standin_probe" },
      { "-i" }, { "-" }, { "-E" }, { "-v" }, {},
    }
    for i, argv0 in ipairs(argv0s) do
      local args = argss[(i - 1) % #argss + 1]
      -- and each argument list once more behind the first argv[0]
      for _, a in ipairs(i == 1 and argss or { args }) do
        local argv = { argv0, table.unpack(a) }
        local r, out, code = run { argv = argv, cwd = evil,
          env = { { "LUA_PATH", evil .. "/?.lua" } } }
        assert.equal(0, code, out)
        assert.is_table(r, out)
        assert.equal("/usr/bin/lua5.4", r.arg[-1])
        assert.equal(dir .. "/standin.lua", r.arg[0])
        assert.equal("isolate", r.arg[1])
        for k = 1, #a do assert.equal(a[k], r.arg[k + 1]) end
        assert.is_nil(r.arg[#a + 2])
        assert.equal("false", r.probe_lua)
      end
    end
  end)

  -- (glibc already fills them in a setuid program, with /dev/full for 0
  -- and /dev/null for 1 and 2, both opened the wrong way round; the
  -- launcher's own /dev/null covers a libc that does not)
  local DEVS = { ["/dev/null"] = true, ["/dev/full"] = true }
  it("fills fds 0-2 the caller closed, so the memfd is never one of them", function()
    if skip then return pending(skip) end
    local env = { { "A", "1" } }
    local r, out, code = run { close = { 0, 1, 2 }, env = env }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.is_true(DEVS[r.fd0], r.fd0)
    assert.is_true(DEVS[r.fd1], r.fd1)
    assert.is_true(DEVS[r.fd2], r.fd2)
    assert.equal(3, math.tointeger(r.envfd))
    assert.equal("A=1\0", r.memfd)
    -- only fd 1 closed
    r, out, code = run { close = { 1 }, env = {} }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.is_true(DEVS[r.fd1], r.fd1)
    assert.is_nil(DEVS[r.fd2])
    assert.equal(3, math.tointeger(r.envfd))
    assert.equal("", r.memfd)
  end)

  it("unblocks every signal and gives SIGCHLD its default; other ignored ones stay", function()
    if skip then return pending(skip) end
    local r, out, code = run { signals = true }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.equal(("0"):rep(16), r.SigBlk)
    -- SIGHUP (1) still ignored, SIGCHLD (17) not
    local ign = tonumber(r.SigIgn, 16)
    assert.equal(1 << 0, ign & (1 << 0), r.SigIgn)
    assert.equal(0, ign & (1 << 16), r.SigIgn)
  end)

  it("refuses a caller outside its group (EACCES) and runs without setuid (exit 2)", function()
    if skip then return pending(skip) end
    local r, out, code = run { groups = "--clear-groups" }
    assert.equal(99, code, out)
    assert.matches("EXEC-ERRNO 13", out, 1, true)
    assert.is_nil(r)
    r, out, code = run { path = plain }
    assert.equal(2, code, out)
    assert.equal("nslua-isolate: not installed setuid root\n", out)
    assert.is_nil(r)
    -- no_new_privs: the kernel ignores the setuid bit, and the message says so
    r, out, code = run { groups = "--groups=" .. GID .. " --no-new-privs" }
    assert.equal(2, code, out)
    assert.equal("nslua-isolate: no_new_privs is set, so setuid root is ignored\n", out)
    assert.is_nil(r)
  end)

  -- Package paths that would let Lua add its defaults (";;": "./?.lua",
  -- the caller's cwd) or hold a relative entry: the launcher refuses to
  -- run at all, built so
  it("refuses to run when built with a relative or defaulting package path", function()
    if skip then return pending(skip) end
    for i, paths in ipairs {
      { "/usr/share/lua/5.4/?.lua;;", "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so" },
      { "/usr/share/lua/5.4/?.lua;./?.lua", "/usr/lib/x86_64-linux-gnu/lua/5.4/?.so" },
      { "/usr/share/lua/5.4/?.lua", "?.so;/usr/lib/x86_64-linux-gnu/lua/5.4/?.so" },
    } do
      local bad = ("%s/bin/nslua-isolate-bad%d"):format(dir, i)
      local ok, out = helper.sh(make_cmd(("ISOLATE_OUT=%s ISOLATE_PROGRAM=%s ISOLATE_LUA_PATH=%s "
        .. "ISOLATE_LUA_CPATH=%s %s"):format(q(bad), q(dir .. "/standin.lua"), q(paths[1]), q(paths[2]), q(bad))))
      assert(ok, out)
      assert(helper.sh(("chown root:%d %s && chmod 4750 %s"):format(GID, q(bad), q(bad))))
      local r, text, code = run { path = bad }
      os.remove(bad)
      os.remove(bad .. ".defs")
      assert.equal(2, code, text)
      assert.equal("nslua-isolate: built with a bad ISOLATE_PROGRAM or ISOLATE_LUA_(C)PATH\n", text)
      assert.is_nil(r)
    end
  end)

  it("lifts the caller's rlimits off the root front end", function()
    if skip then return pending(skip) end
    local function hard(name)
      local _, out = helper.sh("python3 -c " .. q("import resource; l = resource.getrlimit(resource."
        .. name .. ")[1]; print('unlimited' if l == resource.RLIM_INFINITY else l)"))
      return (out:gsub("\n$", ""))
    end
    -- `ulimit -S -f 0 -t 1 -n 4 -c unlimited`: the memfd and the
    -- stand-in's report are written (no SIGXFSZ), fds to spare, no core
    local env = { { "A", "1" } }
    local r, out, code = run {
      soft_rlimits = { RLIMIT_FSIZE = 0, RLIMIT_CPU = 1, RLIMIT_NOFILE = 4, RLIMIT_CORE = -1 },
      env = env, xfsz_dfl = true }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.equal(env_text(env), r.memfd)
    assert.equal("unlimited unlimited", r.limit_FSIZE)
    assert.equal("unlimited unlimited", r.limit_CPU)
    assert.equal("0 0", r.limit_CORE)
    assert.equal("1024 " .. hard("RLIMIT_NOFILE"), r.limit_NOFILE)
    -- SIGXFSZ (25), default for the caller, is not left ignored
    assert.equal(0, tonumber(r.SigIgn, 16) & (1 << 24))
    -- a higher soft fd limit is kept
    r, out, code = run { soft_rlimits = { RLIMIT_NOFILE = 2048 } }
    assert.equal(0, code, out)
    assert.equal("2048 " .. hard("RLIMIT_NOFILE"), r.limit_NOFILE)
    -- hard limits too (`ulimit -f 0 -n 4`): lifted with CAP_SYS_RESOURCE;
    -- without it in the bounding set (some containers), refused up front
    local capbnd = helper.read("/proc/self/status"):match("\nCapBnd:%s*(%x+)")
    os.remove(report)
    r, out, code = run { rlimits = { RLIMIT_FSIZE = 0, RLIMIT_NOFILE = 4 }, env = env }
    if tonumber(capbnd, 16) & (1 << 24) ~= 0 then
      assert.equal(0, code, out)
      assert.equal(env_text(env), r.memfd)
      assert.equal("unlimited unlimited", r.limit_FSIZE)
      assert.equal("1024 1024", r.limit_NOFILE)
    else
      assert.equal(2, code, out)
      assert.equal("nslua-isolate: setrlimit RLIMIT_FSIZE: the caller's hard limit is in the way"
        .. " and raising it needs CAP_SYS_RESOURCE\n", out)
      assert.is_nil(r)
    end
  end)

  it("turns rlimits and oversized argument lists into messages, exit 2", function()
    if skip then return pending(skip) end
    -- RLIMIT_NOFILE 3: no fd for ld.so, which fails with 127 before the
    -- launcher runs: an exit, never a signal
    local r, out, code = run { rlimits = { RLIMIT_NOFILE = 3 } }
    assert.is_true(code == 2 or code == 127, out)
    assert.matches("Error 24\n$", out)
    assert.is_nil(r)
    -- more than 65536 arguments; more than 1 MiB of them
    local argv = { "x" }
    for i = 1, 65537 do argv[i + 1] = "a" end
    r, out, code = run { argv = argv }
    assert.equal(2, code, out)
    assert.equal("nslua-isolate: too many arguments\n", out)
    assert.is_nil(r)
    argv = { "x" }
    for i = 1, 10 do argv[i + 1] = ("b"):rep(110000) end
    r, out, code = run { argv = argv }
    assert.equal(2, code, out)
    assert.equal("nslua-isolate: the arguments are too long\n", out)
    assert.is_nil(r)
    -- just under both bounds: runs
    argv = { "x" }
    for i = 1, 9 do argv[i + 1] = ("c"):rep(110000) end
    r, out, code = run { argv = argv }
    assert.equal(0, code, out)
    assert.is_table(r, out)
    assert.equal(("c"):rep(110000), r.arg[10])
  end)
end)

describe("make install ISOLATE_SETUID=1 ISOLATE_LINK=1", function()
  it("installs nslua-isolate root:GROUP 4750 and the isolate link", function()
    if not helper.is_root() then return pending("needs root (install -o root)") end
    local _, grp = helper.sh("getent group users")
    if not grp:match("^users:") then return pending("no group 'users'") end
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local dest, out = dir .. "/dest", dir .. "/nslua-isolate"
    local prefix = "/opt/nslua-spec"
    local bin = dest .. prefix .. "/bin"
    local function install(vars)
      return helper.sh(make_cmd(("install DESTDIR=%s PREFIX=%s ISOLATE_OUT=%s %s"):format(
        q(dest), prefix, q(out), vars)))
    end
    local function stat(path)
      local _, s = helper.sh("stat -c '%a %U %G %F' " .. q(path))
      return (s:gsub("\n$", ""))
    end
    local function link(path)
      local _, s = helper.sh("readlink " .. q(path))
      return (s:gsub("\n$", ""))
    end
    -- a group that does not exist: refused before anything is installed
    local ok, text = install("ISOLATE_SETUID=1 ISOLATE_GROUP=nslua-spec-no-such-group")
    assert.is_false(ok, text)
    assert.matches("ISOLATE_GROUP 'nslua-spec-no-such-group' does not exist", text, 1, true)
    assert.is_false(helper.exists(dest))

    ok, text = install("ISOLATE_SETUID=1 ISOLATE_LINK=1 ISOLATE_GROUP=users")
    assert.is_true(ok, text)
    assert.equal("4750 root users regular file", stat(bin .. "/nslua-isolate"))
    assert.equal("symbolic link", stat(bin .. "/isolate"):match("symbolic link"))
    assert.equal("nslua-isolate", link(bin .. "/isolate"))
    assert.equal("755 root root regular file", stat(bin .. "/nslua"))
    assert.equal("755 root root regular file", stat(dest .. prefix .. "/lib/lua/5.4/nslua/core.so"))
    assert.equal("644 root root regular file", stat(dest .. prefix .. "/share/lua/5.4/nslua/cli/main.lua"))
    -- built for PREFIX (never DESTDIR): the script and module paths it execs
    local function has(s)
      return (helper.sh(("grep -q -a -F %s %s"):format(q(s), q(bin .. "/nslua-isolate"))))
    end
    assert.is_true(has(prefix .. "/bin/nslua"))
    assert.is_true(has(prefix .. "/share/lua/5.4/?.lua;"))
    assert.is_true(has(prefix .. "/lib/lua/5.4/?.so;"))
    assert.is_false(has(dest))

    -- without ISOLATE_SETUID: the link is to nslua (root callers), no launcher
    helper.rmtree(dest)
    ok, text = install("ISOLATE_LINK=1")
    assert.is_true(ok, text)
    assert.equal("nslua", link(bin .. "/isolate"))
    assert.is_false(helper.exists(bin .. "/nslua-isolate"))
    -- neither: no link
    helper.rmtree(dest)
    ok, text = install("")
    assert.is_true(ok, text)
    assert.is_false(helper.exists(bin .. "/isolate"))
    assert.is_true(helper.exists(bin .. "/nslua"))
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
  end)
end)

describe("nslua isolate dispatch", function()
  it("runs the front end as a subcommand and as a launcher named isolate", function()
    local ok, out = helper.run_isolated([[
      local main = require "nslua.cli.main"
      local a = main.main { [0] = "/usr/bin/nslua", "isolate", "--version" }
      local b = main.main { [0] = "/usr/local/bin/isolate", "--version" }
      local c = main.main { [0] = "/usr/local/bin/isolate", "--bogus" }
      print(a, b, c)
    ]])
    assert.is_true(ok, out)
    assert.matches("^The process isolator 2%.6 %(nslua [^\n]*\n", out)
    assert.matches("unrecognized option '%-%-bogus'", out)
    assert.matches("0\t0\t2\n", out)
  end)
end)

-- The launcher in front of the real front end (a root-owned copy of the
-- tree), called by uid 4242 and 4244 of its group: what a caller can make
-- nslua-isolate do as root.  Boxes live in the configured root
-- (/var/local/lib/isolate by default: the scrubbed environment cannot
-- choose another), so the box ids are high and everything is removed.
describe("nslua-isolate in front of nslua isolate", function()
  local dir, skip, launcher, tree, ID, root, root_existed, lock_existed, locks_existed, secret
  local OTHER = 4244

  lazy_setup(function()
    if not helper.is_root() then skip = "needs root (chown, setuid)" return end
    if helper.sanitized then skip = "a setuid launcher does not run under the sanitizer preload" return end
    if not helper.sh("command -v setpriv && command -v cc") then skip = "needs setpriv and cc" return end
    dir = helper.tmpdir("0755")
    local _, opts = helper.sh("findmnt -n -o OPTIONS -T " .. q(dir))
    if opts:match("nosuid") then skip = dir .. " is on a nosuid mount" return end
    tree = helper.rootless_tree()
    launcher = dir .. "/nslua-isolate"
    local ok, out = helper.sh(make_cmd(("ISOLATE_OUT=%s ISOLATE_PROGRAM=%s ISOLATE_LUA_PATH=%s ISOLATE_LUA_CPATH=%s %s")
      :format(q(launcher), q(tree .. "/build/bin/nslua"), q(tree .. "/lua/?.lua;" .. tree .. "/lua/?/init.lua"),
        q(tree .. "/build/?.so"), q(launcher))))
    assert(ok, out)
    assert(helper.sh(("chown root:%d %s && chmod 4750 %s"):format(GID, q(launcher), q(launcher))))
    root = "/var/local/lib/isolate"
    root_existed = helper.exists(root)
    lock_existed = helper.exists("/run/nslua/isolate")
    ID = 990 + math.random(0, 8)
    -- (the box locks stay after --cleanup, empty, as isolate's do: ours go)
    locks_existed = { helper.exists(("/run/nslua/isolate/%d"):format(ID)),
                      helper.exists(("/run/nslua/isolate/%d"):format(ID + 1)) }
    secret = dir .. "/secret"
    assert(helper.sh(("mkdir -m 0700 %s && mkdir -m 0755 %s/sub && echo s3cret > %s/sub/f")
      :format(q(secret), q(secret), q(secret))))
  end)

  lazy_teardown(function()
    if not dir then return end
    helper.sh(("%s -b %d --cleanup; %s -b %d --cleanup"):format(q(launcher), ID, q(launcher), ID + 1))
    if not root_existed then helper.sh("rmdir " .. q(root)) end
    if not lock_existed then
      helper.sh("rm -rf /run/nslua/isolate")
    else
      for i, existed in ipairs(locks_existed) do
        if not existed then os.remove(("/run/nslua/isolate/%d"):format(ID + i - 1)) end
      end
    end
    helper.rmtree(dir)
    for i in ipairs(locks_existed) do
      assert.equal(locks_existed[i], helper.exists(("/run/nslua/isolate/%d"):format(ID + i - 1)))
    end
  end)

  -- the launcher as 'uid' (4242 by default) of its group; ok, output, code
  local function iso(args, uid, env)
    local _, out, code = helper.sh(("cd /tmp && env -i PATH=/usr/bin:/bin %s setpriv --reuid=%d --regid=%d "
      .. "--groups=%d %s %s"):format(env or "", uid or UID, uid or UID, GID, q(launcher), args))
    return code == 0, out, code
  end

  it("runs boxes for the caller, as the box's uid, never as root", function()
    if skip then return pending(skip) end
    local t = helper.track()
    local ok, out = iso(("-b %d --init"):format(ID))
    assert.is_true(ok, out)
    assert.equal(("%s/%d\n"):format(root, ID), out)
    local _, st = helper.sh(("stat -c %%u:%%a %s/%d/box"):format(root, ID))
    assert.equal(("%d:700\n"):format(UID), st)
    -- the program: the box's uid, no capabilities
    local code
    ok, out = iso(("-b %d -p -o o --run -- /bin/sh -c %s"):format(ID,
      q("id -u; grep CapEff /proc/self/status; touch /box/f")))
    assert.is_true(ok, out)
    assert.equal(("%d\nCapEff:\t0000000000000000\n"):format(60000 + ID), helper.read(("%s/%d/box/o"):format(root, ID)))
    _, st = helper.sh(("stat -c %%u %s/%d/box/f"):format(root, ID))
    assert.equal(UID .. "\n", st)
    -- what the caller names is opened with the caller's permissions
    _, out, code = iso(("-b %d -M %s/m --run -- /bin/true"):format(ID, q(secret)))
    assert.equal(2, code, out)
    assert.matches("Failed to open metafile", out)
    assert.is_false(helper.exists(secret .. "/m"))
    -- (a directory behind one the caller cannot search: isolate binds as the caller too)
    _, out, code = iso(("-b %d --dir=/s=%s/sub --run -- /bin/true"):format(ID, q(secret)))
    assert.equal(2, code, out)
    assert.matches("Cannot mount .* Permission denied", out)
    -- and what the program opens, with the box uid's
    _, out, code = iso(("-b %d -o /usr/nslua-isolate-e2e --run -- /bin/true"):format(ID))
    assert.equal(2, code, out)
    assert.is_false(helper.exists("/usr/nslua-isolate-e2e"))
    -- root-only options stay root's
    _, out, code = iso(("-b %d --as-uid=0 --as-gid=0 --run -- /bin/true"):format(ID))
    assert.equal(2, code, out)
    assert.matches("You must be root to use %-%-as%-uid", out)
    ok, out = iso(("-b %d --cleanup"):format(ID))
    assert.is_true(ok, out)
    assert.is_false(helper.exists(("%s/%d"):format(root, ID)))
    helper.assert_released(t)
  end)

  -- BINDIR outside PREFIX: the program's own directory names a "prefix"
  -- (its parent) that no compiled-in path does, here one the caller owns.
  -- Under the launcher nothing is loaded from there, nor from a checkout
  -- the program's path suggests: only the compiled-in package paths count.
  it("takes modules only from the compiled-in paths, never from beside the program", function()
    if skip then return pending(skip) end
    local pfx = dir .. "/pfx"
    local marker = dir .. "/pfx-marker"
    local planted = pfx .. "/share/lua/5.4/nslua/cli"
    assert(helper.sh(("mkdir -p %s/bin %s && cp %s/build/bin/nslua %s/bin/nslua && chown -R %d %s/share")
      :format(q(pfx), q(planted), q(tree), q(pfx), UID, q(pfx))))
    helper.write(planted .. "/init.lua", ("io.open(%q, 'w'):close() return require 'nslua.cli.main'\n")
      :format(marker))
    -- and a checkout's layout beside it: pfx/bin is not build/bin, so only
    -- the prefix could be guessed; a program at X/build/bin/nslua is
    -- covered by the same rule (neither is looked at)
    local moved = dir .. "/nslua-isolate-pfx"
    local ok, out = helper.sh(make_cmd(("ISOLATE_OUT=%s ISOLATE_PROGRAM=%s ISOLATE_LUA_PATH=%s ISOLATE_LUA_CPATH=%s %s")
      :format(q(moved), q(pfx .. "/bin/nslua"), q(tree .. "/lua/?.lua;" .. tree .. "/lua/?/init.lua"),
        q(tree .. "/build/?.so"), q(moved))))
    assert(ok, out)
    assert(helper.sh(("chown root:%d %s && chmod 4750 %s"):format(GID, q(moved), q(moved))))
    local _, text, code = helper.sh(("cd /tmp && env -i PATH=/usr/bin:/bin setpriv --reuid=%d --regid=%d "
      .. "--groups=%d %s --version"):format(UID, UID, GID, q(moved)))
    os.remove(moved)
    os.remove(moved .. ".defs")
    local ran = helper.exists(marker)
    os.remove(marker)
    helper.rmtree(pfx)
    assert.equal(0, code, text)
    assert.matches("^The process isolator 2%.6", text)
    assert.is_false(ran)
  end)

  it("ignores the caller's Lua and box-root variables and keeps planted links", function()
    if skip then return pending(skip) end
    local marker = dir .. "/marker"
    local evil = dir .. "/evil.lua"
    local f = assert(io.open(evil, "w"))
    f:write(("io.open(%q, 'w'):close()"):format(marker))
    f:close()
    helper.sh("chmod 0644 " .. q(evil))
    local env = ("LUA_INIT=@%s LUA_INIT_5_4=@%s LUA_PATH=%s NSLUA_ISOLATE_ROOT=%s NSLUA_CONF=%s")
      :format(q(evil), q(evil), q(dir .. "/?.lua"), q(dir), q(evil))
    local ok, out = iso(("-b %d --init"):format(ID), nil, env)
    assert.is_true(ok, out)
    assert.equal(("%s/%d\n"):format(root, ID), out)
    -- a link the caller plants in its box before a run: chowning never follows it
    local box = ("%s/%d/box"):format(root, ID)
    assert(helper.sh(("setpriv --reuid=%d --regid=%d --clear-groups ln -s /etc/shadow %s/l"):format(UID, UID, q(box))))
    local _, before = helper.sh("stat -c %u:%g /etc/shadow")
    ok, out = iso(("-b %d --run -- /bin/true"):format(ID), nil, env)
    assert.is_true(ok, out)
    local _, after = helper.sh("stat -c %u:%g /etc/shadow")
    assert.equal(before, after)
    assert.is_false(helper.exists(marker))
    ok, out = iso(("-b %d --cleanup"):format(ID), nil, env)
    assert.is_true(ok, out)
  end)

  it("never reaches through another user's /proc/PID/cwd (no capability while opening)", function()
    if skip then return pending(skip) end
    -- uid 4250's process sits in a directory behind its own 0700 one
    local home = dir .. "/alice"
    assert(helper.sh(("mkdir -p %s/sub && echo alice-secret > %s/sub/f && chown -R 4250:4250 %s && "
      .. "chmod 700 %s && chmod 755 %s/sub"):format(q(home), q(home), q(home), q(home), q(home))))
    local f = assert(io.popen(("cd %s/sub && exec setpriv --reuid=4250 --regid=4250 --clear-groups "
      .. "sh -c 'echo $$; exec sleep 30' "):format(q(home))))
    local pid = math.tointeger(tonumber(f:read("l")))
    local ok, out = iso(("-b %d --init"):format(ID))
    assert.is_true(ok, out)
    local _, out2, code = iso(("-b %d --dir=/x=/proc/%d/cwd --run -- /bin/cat /x/f"):format(ID, pid))
    local _, out3, code3 = iso(("-b %d -M /proc/%d/cwd/m --run -- /bin/true"):format(ID, pid))
    helper.sh("kill " .. pid)
    f:close()
    assert.equal(2, code, out2)
    assert.not_matches("alice%-secret", out2)
    assert.matches("Cannot mount", out2)
    assert.equal(2, code3, out3)
    assert.matches("Failed to open metafile", out3)
    assert.is_false(helper.exists(home .. "/sub/m"))
    ok, out = iso(("-b %d --cleanup"):format(ID))
    assert.is_true(ok, out)
  end)

  it("refuses another user's box", function()
    if skip then return pending(skip) end
    local ok, out = iso(("-b %d --init"):format(ID + 1))
    assert.is_true(ok, out)
    local _, out2, code = iso(("-b %d --run -- /bin/true"):format(ID + 1), OTHER)
    assert.equal(2, code, out2)
    assert.matches(("This box belongs to a different user %%(uid %d%%)"):format(UID), out2)
    _, out2, code = iso(("-b %d --cleanup"):format(ID + 1), OTHER)
    assert.equal(2, code, out2)
    assert.is_true(helper.exists(("%s/%d/box"):format(root, ID + 1)))
    _, out2, code = iso(("-b %d --init"):format(ID + 1), OTHER)
    assert.equal(2, code, out2)
    ok, out = iso(("-b %d --cleanup"):format(ID + 1))
    assert.is_true(ok, out)
  end)
end)
