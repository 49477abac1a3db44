-- What a payload cannot reach of nslua or of its caller (DESIGN "Trust
-- rules", "The spawn sequence"): each test performs the attack, rootless
-- and (as root) privileged.  Containers run through the CLI or the API in
-- processes of the test's own; every test ends what it started by pid and
-- checks that its own objects are gone (helper.track).
local helper = require "helper"

local q = helper.quote
local PY = "/usr/bin/python3"

local unique = helper.unique

local wait_until = helper.wait_until

-- The nslua command as root (false) or as the rootless test user (true).
local function nslua_cmd(rootless)
  return rootless and helper.rootless_nslua() or helper.nslua
end

-- The modes this host can test: rootless always, privileged as root.
local function modes()
  return helper.is_root() and { false, true } or { true }
end

local function mode_name(rootless)
  return rootless and "rootless" or "privileged"
end

-- A file of the test's own, readable by the rootless test user.
local function write_file(dir, name, text, mode)
  local path = dir .. "/" .. name
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
  os.execute(("chmod %s %s"):format(mode or "0644", q(path)))
  return path
end

-- Start `nslua run OPTS -- ARGV` in the background with its output in
-- dir/out; wait for READY there.  Returns {pid, name, out}.
local function start(rootless, dir, opts, argv)
  local name = unique("pl")
  local out = dir .. "/out-" .. name
  local ok, pid = helper.sh(("cd /tmp; %s run --name %s %s -- %s > %s 2>&1 & echo $!")
    :format(nslua_cmd(rootless), name, opts, argv, q(out)))
  assert(ok, pid)
  local h = { pid = math.tointeger(tonumber(pid:match("%d+"))), name = name, out = out }
  if not wait_until(function() return (helper.read(out) or ""):match("READY\n") end, 20) then
    os.execute("kill -KILL " .. h.pid .. " 2>/dev/null")
    error("the container did not start: " .. tostring(helper.read(out)))
  end
  return h
end

-- SIGTERM to the background nslua (forwarded to the payload); wait until it is gone.
local function stop(h)
  os.execute("kill -TERM " .. h.pid .. " 2>/dev/null")
  if not wait_until(function() return not helper.pid_alive(h.pid) end, 10) then
    os.execute("kill -KILL " .. h.pid .. " 2>/dev/null")
    wait_until(function() return not helper.pid_alive(h.pid) end, 5)
  end
  return helper.read(h.out) or ""
end

-- The attacker (runc CVE-2016-9962): it watches every new pid of its pid
-- namespace, and pid 1, and keeps trying to open /proc/PID/mem and to
-- PTRACE_SEIZE it until the process runs the exec'd command (argv[1], a
-- path) or is gone.  A success on a process that runs anything else (nslua's
-- Lua code: the child, the init, the exec helper's command before execve)
-- prints HIT; a success on the exec'd command itself prints SEEN (the
-- attacker was quick enough and had the rights, so the test can fail here).
local ATTACKER = [=[
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
SEIZE, INTERRUPT, DETACH, WALL = 0x4206, 0x4207, 17, 0x40000000
me, OK = os.getpid(), sys.argv[1]
def exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return None
def say(what, kind, pid, e):
    sys.stdout.write("%s %s %d %s\n" % (what, kind, pid, e))
    sys.stdout.flush()
def release(pid):
    libc.ptrace(INTERRUPT, pid, None, None)
    while True:
        try:
            _, st = os.waitpid(pid, WALL)
        except ChildProcessError:
            return
        if os.WIFSTOPPED(st):
            libc.ptrace(DETACH, pid, None, None)
            return
        if os.WIFEXITED(st) or os.WIFSIGNALED(st):
            return
seen = set()
def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read()
    except OSError:
        return b""
def attack(pid):
    argv = cmdline(pid)
    if b"scripts/nslua" in argv:
        say("ARGV", "cmdline", pid, argv.replace(b"\0", b" ").decode())
    before = exe(pid)
    try:
        fd = os.open("/proc/%d/mem" % pid, os.O_RDONLY)
    except FileNotFoundError:
        return False
    except OSError:
        fd = None
    if fd is not None:
        after = exe(pid)
        os.close(fd)
        bad = [e for e in (before, after) if e is not None and e != OK]
        if bad:
            say("HIT", "mem", pid, bad[0])
        elif OK in (before, after) and pid not in seen:
            seen.add(pid)
            say("SEEN", "mem", pid, OK)
    if libc.ptrace(SEIZE, pid, None, None) == 0:
        e = exe(pid)
        if e is not None and e != OK:
            say("HIT", "ptrace", pid, e)
        release(pid)
    return pid == 1 or (before != OK and os.path.exists("/proc/%d" % pid))
live, nxt = {1}, me + 1
sys.stdout.write("READY\n")
sys.stdout.flush()
while True:
    for pid in range(nxt, nxt + 4):
        if os.path.exists("/proc/%d" % pid):
            live.add(pid)
            nxt = pid + 1
    for pid in list(live):
        if not attack(pid):
            live.discard(pid)
]=]

-- Lua code in a fresh lua5.4: as root (false) or as the rootless test user.
local function api(rootless, code)
  code = "local nslua = require 'nslua'\n" .. code
  if rootless then return helper.run_rootless(code) end
  return helper.run_isolated(code)
end

describe("a payload", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("finds the executor's child non-dumpable from its release to the command", function()
    for _, rootless in ipairs(modes()) do
      -- the child's hooks run in the child: an error is a set-up failure
      local ok, out = api(rootless, [[
        local proc = nslua.proc
        local function check(stage)
          return function()
            if proc.prctl("get_dumpable") then error(stage .. ": dumpable", 0) end
          end
        end
        local rep = assert(nslua.container{ argv = { "/bin/true" },
          hooks = { before_pivot = check("before_pivot"), before_exec = check("before_exec") } }:run())
        print(rep.status, rep.error and rep.error.message)
      ]])
      assert.is_true(ok, out)
      assert.equal("exited\tnil\n", out, mode_name(rootless))
    end
  end)

  it("never ptraces nor opens /proc/PID/mem of nslua's processes while nslua exec runs 50 times",
    function()
    if not helper.exists(PY) then return pending("needs " .. PY) end
    local dir = helper.tmpdir("0755")
    local script = write_file(dir, "attack.py", ATTACKER)
    local results = {}
    for _, rootless in ipairs(modes()) do
      -- the exec'd command lives a moment, so the attacker sees it (SEEN)
      local h = start(rootless, dir, ("--ro-bind %s /attack.py"):format(q(script)),
        PY .. " /attack.py /usr/bin/sleep")
      local _, out = helper.sh(("cd /tmp; for i in $(seq 50); do %s exec %s -- /usr/bin/sleep 0.02 "
        .. "|| echo EXEC-FAILED $?; done"):format(nslua_cmd(rootless), h.name))
      local attack = stop(h)
      results[#results + 1] = { mode = mode_name(rootless), exec = out, attack = attack }
    end
    helper.rmtree(dir)
    for _, r in ipairs(results) do
      assert.not_matches("EXEC%-FAILED", r.exec, nil, r.mode .. ": " .. r.exec)
      if not r.attack:find("SEEN", 1, true) then
        return pending(r.mode .. ": the attacker never caught an exec'd command (too slow here)")
      end
      assert.is_nil(r.attack:find("HIT", 1, true), r.mode .. ":\n" .. r.attack)
      assert.is_nil(r.attack:find("ARGV", 1, true), r.mode .. ":\n" .. r.attack)
    end
  end)
end)

-- The caller side of the keyring test: a session keyring of its own (so
-- nothing is added to the host's) holding a key, then argv with {key} and
-- {ses} replaced by the key's and the keyring's serials.
local KEY_CALLER = [=[
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
sc = libc.syscall
sc.restype = ctypes.c_long
L = ctypes.c_long
ses = sc(250, 1, None)
if ses < 0:
    sys.exit("keyctl join: errno %d" % ctypes.get_errno())
key = sc(248, b"user", b"nslua-spec-key", b"s3cret-payload", L(14), L(-3))
buf = ctypes.create_string_buffer(64)
if key < 0 or sc(250, 11, L(key), buf, L(64)) != 14:
    sys.exit("the caller cannot add and read its own key: errno %d" % ctypes.get_errno())
argv = [a.replace("{key}", str(key)).replace("{ses}", str(ses)) for a in sys.argv[1:]]
os.execv(argv[0], argv)
]=]

-- The payload: look for the key in its session keyring, read it by its
-- serial, and compare its session keyring with the caller's.
local KEY_PAYLOAD = [=[
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
sc = libc.syscall
sc.restype = ctypes.c_long
L = ctypes.c_long
key, ses = int(sys.argv[1]), int(sys.argv[2])
buf = ctypes.create_string_buffer(256)
found = sc(250, 10, L(-3), b"user", b"nslua-spec-key", L(0))
print("search", "found" if found >= 0 else "errno %d" % ctypes.get_errno())
n = sc(250, 11, L(key), buf, L(256))
print("read", buf.raw[:n].decode() if n >= 0 else "errno %d" % ctypes.get_errno())
mine = sc(250, 0, L(-3), L(0))
print("session", "the caller's" if mine == ses else "another" if mine > 0 else "errno %d" % ctypes.get_errno())
]=]

describe("a payload", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("never sees the caller's session keyring, with --seccomp none, from run and exec", function()
    if not helper.exists(PY) then return pending("needs " .. PY) end
    local dir = helper.tmpdir("0755")
    local results = {}
    local payload = ("%s -c %s {key} {ses}"):format(PY, q(KEY_PAYLOAD))
    for _, rootless in ipairs(modes()) do
      -- the nslua command without setpriv: the caller runs as the test user
      local cmd = rootless and (helper.san_env .. helper.rootless_tree() .. "/scripts/nslua") or helper.nslua
      local prefix = rootless and (helper.SETPRIV .. " ") or ""
      local function as_caller(line)
        return helper.sh(("cd /tmp; %s%s -c %s /bin/sh -c %s"):format(prefix, PY, q(KEY_CALLER), q(line)))
      end
      local ok, out = as_caller(("%s run --seccomp none -- %s"):format(cmd, payload))
      results[#results + 1] = { mode = mode_name(rootless) .. " run", ok = ok, out = out }
      local h = start(rootless, dir, "--seccomp none", "/bin/sh -c 'echo READY; exec sleep 60'")
      ok, out = as_caller(("%s exec %s -- %s"):format(cmd, h.name, payload))
      stop(h)
      results[#results + 1] = { mode = mode_name(rootless) .. " exec", ok = ok, out = out }
    end
    helper.rmtree(dir)
    for _, r in ipairs(results) do
      if r.out:match("^the caller cannot") or r.out:match("^keyctl join") then
        return pending(r.mode .. ": " .. r.out)
      end
      assert.is_true(r.ok, r.mode .. ": " .. r.out)
      assert.equal("search errno 126\nread errno 13\nsession another\n", r.out, r.mode)
    end
  end)
end)

describe("a payload", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("reads nslua-init in /proc/1/cmdline and comm, never the caller's command line", function()
    for _, rootless in ipairs(modes()) do
      local ok, out = helper.sh(("cd /tmp; %s run -- /bin/sh -c 'cat /proc/1/cmdline; echo; cat /proc/1/comm'")
        :format(nslua_cmd(rootless)))
      local mode = mode_name(rootless)
      assert.is_true(ok, mode .. ": " .. out:gsub("%z", " "))
      local cmdline, comm = out:match("^(.-)\n(.-)\n$")
      assert.equal("nslua-init", (cmdline or ""):gsub("%z", ""), mode .. ": " .. out:gsub("%z", " "))
      assert.equal("nslua-init\0", cmdline, mode)
      assert.equal("nslua-init", comm, mode)
      assert.is_nil(out:find(helper.root, 1, true), mode)
    end
  end)
end)

describe("a payload", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("cannot rewrite its --stdin FILE through /proc/self/fd/0, and still reads it", function()
    local dir = helper.tmpdir("0755")
    local results = {}
    local script = "echo rewritten > /proc/self/fd/0; echo appended >> /proc/self/fd/0; "
      .. "exec 3<>/proc/self/fd/0 && echo over >&3; cat; wc -c < /proc/self/fd/0"
    for _, rootless in ipairs(modes()) do
      -- writable by everyone: only nslua stands between the payload and the file
      local file = write_file(dir, "input", "original\n", "0666")
      local ok, out = helper.sh(("cd /tmp; %s run --stdin %s -- /bin/sh -c %s 2>/dev/null")
        :format(nslua_cmd(rootless), q(file), q(script)))
      results[#results + 1] = { mode = mode_name(rootless), ok = ok, out = out, file = helper.read(file) }
    end
    helper.rmtree(dir)
    for _, r in ipairs(results) do
      assert.equal("original\n", r.file, r.mode)
      assert.equal("original\n9\n", r.out, r.mode)
    end
  end)
end)

-- A spec whose after_clone hook kills the child before nslua releases it
-- and waits until it is gone (a zombie: its end of the sync pipe is closed).
local KILL_CHILD = [[
local core = require "nslua.core"
local function kill_child(ctx)
  core.proc.kill(ctx.pid, 9)
  for _ = 1, 1000 do
    local f = io.open("/proc/" .. ctx.pid .. "/stat")
    local st = f and f:read("a") or ""
    if f then f:close() end
    if st:match("^%d+ %b() Z") then return end
    core.proc.poll({}, 10)
  end
  error("the child did not die")
end
]]

describe("nslua", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("reports a child that died before its release: nil, msg from start, exit 125, never SIGPIPE",
    function()
    local dir = helper.tmpdir("0755")
    local recipe = write_file(dir, "die.lua", KILL_CHILD
      .. "return { argv = { '/bin/true' }, hooks = { after_clone = kill_child } }\n")
    local results = {}
    for _, rootless in ipairs(modes()) do
      local mode = mode_name(rootless)
      local ok, out, code = api(rootless, KILL_CHILD .. [[
        local c = nslua.container{ argv = { "/bin/true" }, hooks = { after_clone = kill_child } }
        local pid, err, code = c:start()
        print(pid, code == nslua.errno.EPIPE, err)
        c:close()
      ]])
      results[#results + 1] = { mode = mode .. " API", ok = ok, out = out, code = code }
      ok, out, code = helper.sh(("cd /tmp; %s %s"):format(nslua_cmd(rootless), q(recipe)))
      results[#results + 1] = { mode = mode .. " CLI", ok = ok, out = out, code = code }
    end
    helper.rmtree(dir)
    for _, r in ipairs(results) do
      if r.mode:match("API$") then
        assert.equal(0, r.code, r.mode .. ": " .. r.out)
        assert.matches("^nil\ttrue\tstart '%w+': the child died before its release", r.out, nil, r.mode)
      else
        assert.equal(125, r.code, r.mode .. ": " .. r.out)
        assert.matches("nslua: start '%w+': the child died before its release", r.out, nil, r.mode)
      end
    end
  end)
end)
