-- spec/seccomp_spec.lua - nslua.seccomp: validation, compilation and its
-- cache, FILE.lua profiles, and what the built-in profiles let real
-- payloads (python3, C, C++, lua5.4, busybox sh, util-linux) do.  Payloads
-- run from a filtered lua5.4 child through os.execute, with a clean
-- environment (no sanitizer preload).
local helper = require "helper"
local core = require "nslua.core"
local S = require "nslua.seccomp"
local E = core.errno

local PYTHON <const> = "/usr/bin/python3"
local ENV <const> = "env -i PATH=/usr/bin:/bin "

teardown(function()
  helper.cleanup_rootless_tree()
end)

-- Run 'cmd' (a shell command) under profile 'name' in a fresh lua5.4;
-- returns its output.
local function under(name, cmd)
  local ok, out = helper.run_isolated(([[
    local core = require "nslua.core"
    local S = require "nslua.seccomp"
    assert(core.seccomp.load(assert(S.compile(%q)), { no_new_privs = true }))
    io.stdout:flush()
    os.execute(%q)
    io.stdout:flush()
    core.proc._exit(0)
  ]]):format(name, cmd))
  assert(ok, out)
  return out
end

local function lines(s)
  local t = {}
  for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
  return t
end

-- Payload programs, built once in a temp dir.
local payload_dir
local function payloads()
  if payload_dir then return payload_dir end
  local dir = helper.tmpdir("0755")
  local function write(name, text)
    local f = assert(io.open(dir .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
  write("t.c", [[
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void *run (void *arg) { *(int *)arg = 42; return NULL; }
int main (void) {
  char line[256] = "";
  pthread_t t;
  int v = 0;
  size_t n = 64u << 20;
  char *p = malloc(n);
  if (p == NULL) return 2;
  memset(p, 1, n);
  if (fgets(line, sizeof line, stdin) == NULL) return 3;
  line[strcspn(line, "\n")] = '\0';
  if (pthread_create(&t, NULL, run, &v) != 0 || pthread_join(t, NULL) != 0) return 4;
  printf("c %s %d %d\n", line, v, p[n - 1]);
  free(p);
  return 0;
}
]])
  write("t.cc", [[
#include <iostream>
#include <string>
#include <thread>
#include <vector>
int main () {
  std::string line;
  std::vector<char> big(64u << 20, 1);
  int v = 0;
  if (!std::getline(std::cin, line)) return 3;
  std::thread t([&v] { v = 42; });
  t.join();
  std::cout << "cxx " << line << " " << v << " " << int(big.back()) << std::endl;
  return 0;
}
]])
  write("t.py", [[
import sys, threading
line = sys.stdin.readline().strip()
big = bytearray(64 << 20)
big[-1] = 1
r = []
t = threading.Thread(target=lambda: r.append(42)); t.start(); t.join()
print("py", line, r[0], big[-1])
]])
  write("t.lua", [[
local line = io.read("l")
local big = string.rep("x", 64 << 20)
print("lua", line, #big)
]])
  local q = helper.quote(dir)
  -- no sanitizer runtime in the compilers (make sanitize preloads it into busted)
  local ok, out = helper.sh(("unset LD_PRELOAD; cd %s && cc -O2 -pthread t.c -o c_dyn && "
    .. "cc -O2 -static -pthread t.c -o c_static && g++ -O2 -pthread t.cc -o cxx"):format(q))
  if not ok then
    helper.rmtree(dir)
    return nil, out
  end
  payload_dir = dir
  return dir
end

teardown(function()
  if payload_dir then helper.rmtree(payload_dir) end
end)

-- Probes of the default profile's rules, one line each: name, result, errno.
local PROBE = [[
import ctypes, os, pty, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
def sysc(name, *a):
    ctypes.set_errno(0)
    r = libc.syscall(*a)
    print(name, r if r < 0 else "ok", ctypes.get_errno() if r < 0 else 0)
U = ctypes.c_ulong
sysc("clone3", 435, None, ctypes.c_size_t(0))
sysc("nr470", 470)
sysc("nr463", 463)
t = threading.Thread(target=lambda: print("thread ok")); t.start(); t.join()
m, s = pty.openpty()
sysc("tiocsti", 16, s, U(0x5412), ctypes.c_char_p(b"x"))
sysc("tiocsti_hi", 16, s, U(0x100005412), ctypes.c_char_p(b"x"))
sysc("tioclinux", 16, s, U(0x541c), ctypes.c_char_p(b"\x02"))
print("isatty", os.isatty(s))
for name, fam, typ, proto in (("vsock", 40, 1, 0), ("netlink_route", 16, 3, 0),
                              ("netlink_audit", 16, 3, 9), ("unix", 1, 1, 0), ("inet", 2, 1, 0)):
    try:
        socket.socket(fam, typ, proto).close(); print("socket", name, "ok")
    except OSError as e:
        print("socket", name, e.errno)
sysc("vsock_hi", 41, U(40 | (1 << 32)), 1, 0)
sysc("personality_0x40000", 135, U(0x40000))
sysc("personality_query", 135, U(0xffffffff))
sysc("unshare_user", 272, U(0x10000000))
sysc("unshare_files", 272, U(0x400))
sysc("clone_newpid", 56, U(0x20000000 | 17), None, None, None, None)
sysc("setns", 308, -1, 0)
sysc("mount", 165, b"none", b"/tmp", b"tmpfs", 0, None)
sysc("io_uring_setup", 425, 1, None)
sysc("bpf", 321, 0, None, 0)
sysc("keyctl", 250, 0, 0)
sysc("ptrace_traceme", 101, 0, 0, 0, 0)
]]

describe("nslua.seccomp", function()
  describe("validate", function()
    it("accepts the built-in profiles", function()
      assert.is_true(S.validate(S.profiles.default))
      assert.is_true(S.validate(S.profiles.strict))
      assert.is_nil(S.profiles.none)
    end)

    it("names the path of what is wrong", function()
      local cases = {
        { 42, "seccomp: a profile must be a table, not number" },
        { { defualt = "allow" }, "seccomp: unknown field 'defualt' (valid: arches badarch "
          .. "comment default errno syscalls unknown_above)" },
        { { default = "deny" }, "seccomp.default: unknown action 'deny' (valid: allow enosys "
          .. "errno kill kill_process kill_thread log notify trace trap)" },
        { { syscalls = { { name = "read" }, { name = "read", action = { errno = 1, trace = 2 } } } },
          "seccomp.syscalls[2].action: a table action is {errno = N} or {trace = N}" },
        { { syscalls = { { name = "read" }, { name = "read" }, { name = "nosuch" } } },
          "seccomp.syscalls[3]: unknown syscall 'nosuch'" },
        { { syscalls = { { names = { "read", 3 } } } }, "seccomp.syscalls[1].names[2]: must be a string" },
        { { syscalls = { { name = "read", nr = 0 } } },
          "seccomp.syscalls[1]: give exactly one of 'names', 'name' or 'nr'" },
        { { syscalls = { { nr = 0x40000000 } } }, "seccomp.syscalls[1].nr: must be an integer in 0..0x3fffffff" },
        { { syscalls = { { name = "read", errno = 5000 } } },
          "seccomp.syscalls[1].errno: must be an integer in 0..4095" },
        { { syscalls = { { name = "read", args = { { index = 0, op = "eq", value = 1 },
          { index = 0, op = "ne", value = 2 } } } } },
          "seccomp.syscalls[1].args[2].index: argument 0 is already compared in this entry "
          .. "(libseccomp allows one comparison per argument; use two entries)" },
        { { syscalls = { { name = "read", args = { { index = 1, op = "like", value = 1 } } } } },
          "seccomp.syscalls[1].args[1].op: unknown op 'like' (valid: eq ne lt le gt ge masked_eq)" },
        { { syscalls = { { name = "read", args = { { index = 1, op = "eq", value = 1, mask = 3 } } } } },
          "seccomp.syscalls[1].args[1].mask: only for op 'masked_eq'" },
        { { arches = { "native", "vax" } }, "seccomp.arches[2]: unknown architecture 'vax'" },
      }
      for _, c in ipairs(cases) do
        local ok, err = S.validate(c[1])
        assert.is_nil(ok)
        assert.equal(c[2], err)
      end
      assert.is_true(S.validate { syscalls = { { name = "chown32", action = "allow" } } })
    end)
  end)

  describe("compile", function()
    it("gives nil for none and a cached program for the others", function()
      assert.equal(0, select("#", S.compile("none")) - 1)
      assert.is_nil(S.compile("none"))
      local t0 = os.clock()
      local a = assert(S.compile("default"))
      local first = os.clock() - t0
      t0 = os.clock()
      local b = S.compile("default")
      local again = os.clock() - t0
      assert.equal(a, b)
      assert.is_true(first < 0.5, "compiling default took " .. first .. " s")
      assert.is_true(again < first, ("cached %g s, first %g s"):format(again, first))
      assert.equal(0, #assert(S.compile("strict")) % 8)
    end)

    it("caches tables by identity until flush", function()
      local t = { default = "allow", syscalls = { { name = "mkdir", action = "errno" } } }
      local a = assert(S.compile(t))
      t.syscalls[1].errno = E.EXDEV
      assert.equal(a, S.compile(t))          -- the same table: the cached program
      S.flush()
      assert.not_equal(a, S.compile(t))
    end)

    it("loads FILE.lua profiles as text", function()
      local dir = helper.tmpdir()
      local path = dir .. "/p.lua"
      local f = assert(io.open(path, "w"))
      f:write('return { default = "allow", syscalls = { { name = "mkdir", action = "errno" } } }\n')
      f:close()
      local want = assert(core.seccomp.compile { default = "allow",
        syscalls = { { name = "mkdir", action = "errno" } } })
      assert.equal(want, S.compile(path))
      f = assert(io.open(dir .. "/bin.lua", "wb"))
      f:write(string.dump(function() return {} end))
      f:close()
      f = assert(io.open(dir .. "/num.lua", "w"))
      f:write("return 42\n")
      f:close()
      local ok1, e1 = pcall(S.compile, dir .. "/bin.lua")
      local ok2, e2 = pcall(S.compile, dir .. "/num.lua")
      local ok3, e3 = pcall(S.compile, dir .. "/missing.lua")
      helper.rmtree(dir)
      assert.is_false(ok1)
      assert.matches("attempt to load a binary chunk", e1)
      assert.is_false(ok2)
      -- the messages name the file, never a position in nslua's sources
      assert.equal(("seccomp profile %s/num.lua: must return a table, not number"):format(dir), e2)
      assert.is_false(ok3)
      assert.equal(("seccomp profile: cannot open %s/missing.lua: No such file or directory"):format(dir), e3)
    end)

    it("raises on unknown names and invalid profiles", function()
      assert.has_error(function() S.compile("defualt") end,
        "seccomp: unknown profile 'defualt' (valid: default strict isolate none, FILE.lua or FILE.json)")
      assert.has_error(function() S.compile(42) end,
        "seccomp: a profile is a name, a file or a table, not number")
      assert.has_error(function() S.compile { syscalls = { { name = "nosuch" } } } end,
        "seccomp.syscalls[1]: unknown syscall 'nosuch'")
    end)

    it("returns the failure triple from libseccomp with context", function()
      local s = {}
      for i = 1, 5000 do
        s[i] = { name = "ioctl", action = "allow", args = { { index = 1, op = "eq", value = i } } }
      end
      local bpf, msg, code = S.compile { syscalls = s }
      assert.is_nil(bpf)
      assert.equal("seccomp 'table': seccomp_export_bpf: Argument list too long", msg)
      assert.equal(E.E2BIG, code)
    end)
  end)

  describe("the default profile", function()
    it("refuses namespaces, the tty ioctls, vsock, non-route netlink and odd personalities",
      function()
        if not helper.exists(PYTHON) then return pending("needs " .. PYTHON) end
        local dir = helper.tmpdir("0755")
        local f = assert(io.open(dir .. "/probe.py", "w"))
        f:write(PROBE)
        f:close()
        local out = under("default", ENV .. PYTHON .. " " .. dir .. "/probe.py")
        helper.rmtree(dir)
        local EPERM, ENOSYS = E.EPERM, E.ENOSYS
        assert.same({
          "clone3 -1 " .. ENOSYS,
          "nr470 -1 " .. ENOSYS,
          "nr463 -1 " .. ENOSYS,
          "thread ok",
          "tiocsti -1 " .. EPERM,
          "tiocsti_hi -1 " .. EPERM,
          "tioclinux -1 " .. EPERM,
          "isatty True",
          "socket vsock " .. EPERM,
          "socket netlink_route ok",
          "socket netlink_audit " .. EPERM,
          "socket unix ok",
          "socket inet ok",
          "vsock_hi -1 " .. EPERM,
          "personality_0x40000 -1 " .. EPERM,
          "personality_query ok 0",
          "unshare_user -1 " .. EPERM,
          "unshare_files ok 0",
          "clone_newpid -1 " .. EPERM,
          "setns -1 " .. EPERM,
          "mount -1 " .. EPERM,
          "io_uring_setup -1 " .. EPERM,
          "bpf -1 " .. EPERM,
          "keyctl -1 " .. EPERM,
          "ptrace_traceme ok 0",
        }, lines(out))
      end)

    it("makes unshare(1) fail with EPERM", function()
      if not helper.exists("/usr/bin/unshare") then return pending("needs unshare(1)") end
      local out = under("default", ENV .. "unshare -U true; echo rc=$?")
      assert.equal("unshare: unshare failed: Operation not permitted\nrc=1\n", out)
    end)

    it("runs threaded C programs (pthread_create falls back to clone)", function()
      local dir, err = payloads()
      if not dir then return pending("cannot build payloads: " .. err) end
      local out = under("default", ENV .. ("echo hi | %s/c_dyn"):format(dir))
      assert.equal("c hi 42 1\n", out)
    end)
  end)

  describe("the strict profile", function()
    it("runs C (dynamic, static), C++, python3, lua5.4 and busybox sh", function()
      local dir, err = payloads()
      if not dir then return pending("cannot build payloads: " .. err) end
      for _, p in ipairs { PYTHON, "/usr/bin/lua5.4", "/usr/bin/busybox" } do
        if not helper.exists(p) then return pending("needs " .. p) end
      end
      local cmd = ENV .. "sh -c " .. helper.quote(([[
        cd %s
        echo hi | ./c_dyn; echo "rc=$?"
        echo hi | ./c_static; echo "rc=$?"
        echo hi | ./cxx; echo "rc=$?"
        echo hi | python3 t.py; echo "rc=$?"
        echo hi | lua5.4 t.lua; echo "rc=$?"
        echo hi | busybox sh -c 'read x; y=$(echo sub); echo "bb $x $y"'; echo "rc=$?"
      ]]):format(helper.quote(dir)))
      assert.same({ "c hi 42 1", "rc=0", "c hi 42 1", "rc=0", "cxx hi 42 1", "rc=0",
        "py hi 42 1", "rc=0", "lua\thi\t67108864", "rc=0", "bb hi sub", "rc=0" },
        lines(under("strict", cmd)))
    end)

    it("refuses sockets, ptrace and namespaces", function()
      if not helper.exists(PYTHON) then return pending("needs " .. PYTHON) end
      local out = under("strict", ENV .. PYTHON .. " -c " .. helper.quote([[
import ctypes, socket
libc = ctypes.CDLL(None, use_errno=True)
for fam in (socket.AF_UNIX, socket.AF_INET):
    try:
        socket.socket(fam); print("socket ok")
    except OSError as e:
        print("socket", e.errno)
try:
    socket.socketpair(); print("socketpair ok")
except OSError as e:
    print("socketpair", e.errno)
for name, nr, arg in (("ptrace", 101, 0), ("unshare", 272, 0x400), ("clone3", 435, None)):
    r = libc.syscall(nr, arg, 0, 0, 0)
    print(name, r, ctypes.get_errno())
]]))
      local EPERM = E.EPERM
      assert.same({ "socket " .. EPERM, "socket " .. EPERM, "socketpair " .. EPERM,
        "ptrace -1 " .. EPERM, "unshare -1 " .. EPERM, "clone3 -1 " .. E.ENOSYS },
        lines(out))
    end)
  end)
end)

describe("a profile that forbids write(2)", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  -- the exec tail installs the filter before execve: a failed execve
  -- cannot write its record, so the init reports it (found by make fuzz)
  -- (under make sanitize the tail is a forked child with the ASan runtime,
  -- which must not run under the filter: it hung or exited 1 there)
  it("still reports a command it forbids to start: 126, not the tail's exit 1", function()
    local dir = helper.tmpdir("0755")
    -- the second forbids exit_group too: the tail cannot even exit
    for _, allowed in ipairs { '"exit_group"', '"read", "write"' } do
      local f = assert(io.open(dir .. "/p.lua", "w"))
      f:write(('return { default = "errno", syscalls = { { names = { %s }, action = "allow" } } }\n')
        :format(allowed))
      f:close()
      local _, out, code = helper.sh(("timeout -s KILL 60 %s run --seccomp %s/p.lua -- /bin/true")
        :format(helper.nslua, dir))
      assert.equal(126, code, allowed .. ": " .. out)
      assert.matches("/bin/true: Operation not permitted", out, 1, true)
    end
    helper.rmtree(dir)
  end)
end)

describe("nslua.seccomp on-disk cache #priv", function()
  it("serves the same program as a fresh compile and ignores a damaged file", function()
    local ok, out = helper.run_isolated([[
      local sc = require "nslua.seccomp"
      local core = require "nslua.core"
      sc.CACHE = false
      local fresh = assert(sc.compile("strict"))
      sc.flush()
      sc.CACHE = true
      local first = assert(sc.compile("strict"))     -- compiles and writes the cache
      sc.flush()
      local cached = assert(sc.compile("strict"))    -- read back from the file
      print(first == fresh, cached == fresh)
      -- a damaged file (not a whole number of instructions) is not used
      local root = require("nslua.state").root()
      local names = core.mount.readdir(root .. "/cache")
      local path
      for _, n in ipairs(names) do if n:match("^seccomp%-strict%-") then path = root .. "/cache/" .. n end end
      local f = assert(io.open(path, "wb")); f:write("abc"); f:close()
      sc.flush()
      print(sc.compile("strict") == fresh)
    ]])
    assert.is_true(ok, out)
    assert.equal("true\ttrue\ntrue\n", out)
  end)

  -- nslua.seccomp_cache.lookup: a built-in profile's program without
  -- nslua.seccomp, the very bytes nslua.seccomp compiles, and only while
  -- nothing could make require load another file than the one named
  it("is read without nslua.seccomp only as the launcher names it, the same bytes", function()
    local prep = ([[
      package.path = %q .. ';' .. package.path
      package.cpath = %q .. ';' .. package.cpath
      local sc = require "nslua.seccomp"
      for _, n in ipairs { "default", "strict", "isolate", "setid_guard" } do assert(sc.compile(n)) end]])
      :format(helper.lpath, helper.cpath)
    local ok, out = helper.run_isolated([[
      local cache = require "nslua.seccomp_cache"
      local said = { tostring(cache.lookup("strict")) }                  -- no SOURCE
      cache.SOURCE = package.searchpath("nslua.seccomp", package.path)   -- as scripts/nslua does
      cache.SEARCHERS = #package.searchers
      local got = {}
      for _, n in ipairs { "default", "strict", "isolate", "setid_guard" } do got[n] = cache.lookup(n) end
      said[#said + 1] = tostring(cache.lookup("nosuch"))
      package.preload["nslua.seccomp"] = function() return {} end
      said[#said + 1] = tostring(cache.lookup("strict"))
      package.preload["nslua.seccomp"] = nil
      table.insert(package.searchers, 1, function() return nil end)
      said[#said + 1] = tostring(cache.lookup("strict"))
      table.remove(package.searchers, 1)
      local sc = require "nslua.seccomp"
      -- loaded: its own cache and profiles decide
      said[#said + 1] = tostring(cache.lookup("strict"))
      sc.CACHE = false
      for _, n in ipairs { "default", "strict", "isolate", "setid_guard" } do
        said[#said + 1] = n .. "=" .. tostring(got[n] ~= nil and got[n] == assert(sc.compile(n)))
      end
      io.write(table.concat(said, " "), "\n")
    ]], "true && " .. helper.LUA .. " -e " .. helper.quote(prep) .. " &&")
    assert.is_true(ok, out)
    assert.equal("nil nil nil nil nil default=true strict=true isolate=true setid_guard=true\n", out)
  end)

  -- Run the CLI on a recipe with a LUA_INIT hook (written in dir) that
  -- says at exit whether nslua.seccomp was loaded ("loaded:false").
  local function run_saying_loaded(dir, recipe)
    local hook = dir .. "/hook.lua"
    helper.write(hook, [[
      local exit = os.exit
      os.exit = function(...)
        io.stderr:write("loaded:", tostring(package.loaded["nslua.seccomp"] ~= nil), "\n")
        return exit(...)
      end
    ]])
    return helper.sh(("LUA_INIT_5_4=%s %s %s"):format(helper.quote(("dofile%q"):format(hook)), helper.nslua,
      helper.quote(recipe)))
  end

  -- A recipe puts a decoy nslua.seccomp first on package.path, whose own
  -- key has an allow-all program cached: the launcher named its own file
  -- before the recipe ran, so the decoy's program is never read.
  it("gives the CLI its program without loading nslua.seccomp, from the launcher's own file", function()
    local dir = helper.tmpdir("0755")
    assert(helper.sh("mkdir -p " .. helper.quote(dir .. "/nslua")))
    local f = assert(io.open(dir .. "/nslua/seccomp.lua", "w"))
    f:write("return {}\n")
    f:close()
    local ok, planted = helper.run_isolated(([[
      local cache = require "nslua.seccomp_cache"
      local sc = require "nslua.seccomp"
      local path = cache.path("default", assert(cache.key(%q)))
      cache.write(path, assert(sc.compile { default = "allow", syscalls = {} }))
      -- and ours, under the key of the file the launcher loads (this one)
      assert(sc.compile("default"))
      io.write(path)
    ]]):format(dir .. "/nslua/seccomp.lua"))
    assert.is_true(ok, planted)
    local recipe = dir .. "/recipe.lua"
    helper.write(recipe, ("package.path = %q .. ';' .. package.path\n"):format(dir .. "/?.lua")
      .. "return { argv = { '/bin/sh', '-c', 'unshare -U true 2>/dev/null; echo rc=$?' }, seccomp = 'default' }\n")
    local out
    ok, out = run_saying_loaded(dir, recipe)
    os.remove(planted)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("rc=1\nloaded:false\n", out)
  end)

  -- Every profile the cache serves by name has no Lua handlers and no
  -- listener: launch.plan then asks nslua.seccomp nothing, so a run of any
  -- of them (isolate's runs take "isolate") loads no nslua.seccomp.
  it("serves only built-in profiles without handlers, and runs them unloaded", function()
    local sc = require "nslua.seccomp"
    local cache = require "nslua.seccomp_cache"
    for name in pairs(cache.BUILTIN) do
      assert.is_nil(sc.handled_names(name), name)
      assert.is_truthy(sc.compile(name), name)
    end
    local dir = helper.tmpdir("0755")
    local recipe = dir .. "/recipe.lua"
    local outs = {}
    for _, name in ipairs { "isolate", "strict" } do
      helper.write(recipe, ("return { argv = { '/bin/true' }, seccomp = %q }\n"):format(name))
      local ok, out = run_saying_loaded(dir, recipe)
      assert.is_true(ok, out)
      outs[#outs + 1] = name .. " " .. out
    end
    helper.rmtree(dir)
    assert.same({ "isolate loaded:false\n", "strict loaded:false\n" }, outs)
  end)

  -- Run by a relative path (`scripts/nslua` in the tree, as the README
  -- does), the launcher still names its tree absolutely: the cache key
  -- hashes the source file's path, so two checkouts run that way keep
  -- their own entries instead of evicting each other's, and a recipe's
  -- chdir does not break a later require.
  it("names its tree absolutely when run by a relative path", function()
    local dir = helper.tmpdir("0755")
    local recipe = dir .. "/recipe.lua"
    local f = assert(io.open(recipe, "w"))
    f:write([[
      local core = require "nslua.core"
      assert(core.mount.chdir("/"))
      local cache = require "nslua.seccomp_cache"
      io.write(tostring(cache.SOURCE), "\n", package.path:match("^[^;]*"), "\n")
      return { argv = { "/bin/true" } }
    ]])
    f:close()
    local parent, base = helper.root:match("^(.*)/([^/]+)$")
    local ok, out = helper.sh(("cd %s && %s%s/scripts/nslua %s"):format(helper.quote(parent), helper.san_env,
      helper.quote(base), helper.quote(recipe)))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal(("%s/lua/nslua/seccomp.lua\n%s/lua/?.lua\n"):format(helper.root, helper.root), out)
  end)

  it("replaces only its own source's older programs, never another checkout's", function()
    local ok, out = helper.run_isolated([[
      local sc = require "nslua.seccomp"
      local core = require "nslua.core"
      local dir = require("nslua.state").root() .. "/cache"
      sc.CACHE = true
      sc.flush()
      assert(sc.compile("strict"))
      local mine = sc._cache_path("strict"):match("[^/]+$")
      assert(core.mount.stat(dir .. "/" .. mine))
      local hash = mine:match("^seccomp%-strict%-(%x+)%-")
      -- another checkout's program (another path hash), and an older one of ours
      local other = dir .. "/seccomp-strict-00000000-0.0.0-2.5.0-1-1.bpf"
      local stale = ("%s/seccomp-strict-%s-0.0.0-2.5.0-1-1.bpf"):format(dir, hash)
      for _, p in ipairs { other, stale } do
        local f = assert(io.open(p, "wb")); f:write(("\0"):rep(8)); f:close()
      end
      os.remove(dir .. "/" .. mine)
      sc.flush()
      assert(sc.compile("strict"))                -- a miss: compiles and writes
      print(core.mount.stat(other) ~= nil, core.mount.stat(stale) ~= nil,
            core.mount.stat(dir .. "/" .. mine) ~= nil)
      os.remove(other)
    ]])
    assert.is_true(ok, out)
    assert.equal("true\tfalse\ttrue\n", out)
  end)

  it("caches under the key of the source it loaded, not of a later edit", function()
    local dir = helper.tmpdir()
    assert(helper.sh(("mkdir -p %s/nslua && cp %s/lua/nslua/seccomp.lua %s/nslua/"):format(
      helper.quote(dir), helper.quote(helper.root), helper.quote(dir))))
    local ok, out = helper.run_isolated(([[
      local dir = %q
      require("nslua.state").ROOT = dir .. "/state"
      package.path = dir .. "/?.lua;" .. package.path
      local cache = require "nslua.seccomp_cache"
      local src = dir .. "/nslua/seccomp.lua"
      local loaded = assert(cache.key(src))
      local sc = require "nslua.seccomp"
      local f = assert(io.open(src, "a")); f:write("\n-- edited after the load\n"); f:close()
      assert(sc.compile("strict"))
      local path = sc._cache_path("strict")
      print(path:find(loaded, 1, true) ~= nil, cache.key(src) ~= loaded,
            require("nslua.core").mount.stat(path) ~= nil)
    ]]):format(dir))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("true\ttrue\ttrue\n", out)
  end)

  it("keys a program by its source's content, not its size and mtime", function()
    local dir = helper.tmpdir()
    local ok, out = helper.run_isolated(([[
      local cache = require "nslua.seccomp_cache"
      local core = require "nslua.core"
      local a, b = %q .. "/a/seccomp.lua", %q .. "/b/seccomp.lua"
      os.execute("mkdir -p " .. a:match("^(.*)/") .. " " .. b:match("^(.*)/"))
      local function put(p, s) local f = assert(io.open(p, "w")); f:write(s); f:close() end
      put(a, "return 1\n")
      local k1 = assert(cache.key(a))
      -- other bytes, the same size, the mtime put back
      os.execute("touch -r " .. a .. " " .. a .. ".t")
      put(a, "return 2\n")
      os.execute("touch -r " .. a .. ".t " .. a)
      local k2 = assert(cache.key(a))
      put(b, "return 2\n")
      local k3 = assert(cache.key(b))
      local d = k2:match("^%%x+%%-(%%x+)%%-")
      print(k1 ~= k2, #d, k3:match("^%%x+%%-(%%x+)%%-") == d, k3 ~= k2, cache.key(%q .. "/none") == nil)
      print(core.seccomp.digest(a) == d, select(3, core.seccomp.digest(%q .. "/none")))
    ]]):format(dir, dir, dir, dir))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("true\t16\ttrue\ttrue\ttrue\ntrue\t2\n", out)
  end)

  -- A core rebuilt from another csrc/seccomp.c at the same version (it turns
  -- the rules into the program) must not read the old core's programs.
  it("keys a program by the csrc/seccomp.c that compiles it too", function()
    local out = {}
    local _, sum = helper.sh("cksum < " .. helper.quote(helper.root .. "/csrc/seccomp.c"))
    out[1] = core.seccomp.build == sum:match("^(%d+) ")
    local ok, text = helper.run_isolated([[
      local cache = require "nslua.seccomp_cache"
      local core = require "nslua.core"
      local src = package.searchpath("nslua.seccomp", package.path)
      local k1 = assert(cache.key(src))
      core.seccomp.build = core.seccomp.build .. "0"
      local k2 = assert(cache.key(src))
      print(k1 ~= k2, k2 == k1 .. "0")
    ]])
    assert.is_true(ok, text)
    out[2] = text
    assert.same({ true, "true\ttrue\n" }, out)
  end)

  it("drops the programs of a recorded source that is gone, and only those", function()
    local dir = helper.tmpdir()
    local ok, out = helper.run_isolated(([[
      local state = require "nslua.state"
      state.ROOT = %q                        -- a state root of this test's own
      local cache = require "nslua.seccomp_cache"
      local core = require "nslua.core"
      local stat = core.mount.stat
      local cdir = state.root() .. "/cache"
      core.mount.mkdir(cdir, 448, true)
      local function src(name)
        local p = state.ROOT .. "/" .. name
        local f = assert(io.open(p, "w")); f:write(name); f:close()
        return p
      end
      local gone_src, other_src, mine_src = src("gone.lua"), src("other.lua"), src("mine.lua")
      local function cached(s, profile)
        local path = cache.path(profile, assert(cache.key(s)))
        cache.write(path, ("\0"):rep(8), s)
        return path
      end
      local function record(path) return cdir .. "/source-" .. path:match("seccomp%%-%%l+%%-(%%x+)%%-") end
      local gone, other, mine = cached(gone_src, "strict"), cached(other_src, "strict"), cached(mine_src, "strict")
      local f = assert(io.open(record(other), "rb")); local said = f:read("a"); f:close()
      -- an older nslua's program: no source record, left alone
      local legacy = cdir .. "/seccomp-strict-0000abcd-0.0.0-2.5.0-1-1.bpf"
      f = assert(io.open(legacy, "wb")); f:write(("\0"):rep(8)); f:close()
      -- a recorded source that cannot be stat'ed for another reason than
      -- ENOENT (ENOTDIR here): not judged gone
      local function fnv(p)
        local h = 0x811c9dc5
        for i = 1, #p do h = ((h ~ p:byte(i)) * 0x01000193) & 0xffffffff end
        return ("%%08x"):format(h)
      end
      local odd_src = mine_src .. "/x"
      local odd = ("%%s/seccomp-strict-%%s-0-0-1-1.bpf"):format(cdir, fnv(odd_src))
      f = assert(io.open(odd, "wb")); f:write(("\0"):rep(8)); f:close()
      f = assert(io.open(cdir .. "/source-" .. fnv(odd_src), "wb")); f:write(odd_src); f:close()
      os.remove(gone_src)
      local mine2 = cached(mine_src, "default")     -- a miss: writes, and prunes
      print(said == other_src, stat(gone) ~= nil, stat(record(gone)) ~= nil, stat(other) ~= nil,
            stat(record(other)) ~= nil, stat(mine) ~= nil, stat(mine2) ~= nil, stat(legacy) ~= nil,
            stat(odd) ~= nil)
      -- a relative source is not recorded (its hash is the key's: only
      -- the path being relative stops it)
      local rel = "lua/nslua/seccomp.lua"
      local hex = fnv(rel)
      cache.write(cache.path("strict", hex .. "-0-0-1-1"), ("\0"):rep(8), rel)
      print(stat(cdir .. "/source-" .. hex) ~= nil)
    ]]):format(dir))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("true\tfalse\tfalse\ttrue\ttrue\ttrue\ttrue\ttrue\ttrue\nfalse\n", out)
  end)
end)
