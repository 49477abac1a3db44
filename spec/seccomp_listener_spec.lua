-- seccomp_listener: a profile's "notify" syscalls go to an agent outside
-- nslua, as OCI's listenerPath (docs/spec.md "Seccomp").  The agent is
-- spec/support/seccomp_agent.py: it reads the message as agents do (one
-- recvmsg, the state and the listener) and answers every notification
-- with EXDEV, so the command's own output shows who answered.
local helper = require "helper"
local cjson = require "cjson"

local q = helper.quote
local AGENT = helper.root .. "/spec/support/seccomp_agent.py"
local EXDEV_TEXT = "Invalid cross%-device link"

-- Start the agent on DIR/agent.sock; returns { sock, out, pid, fh }.
local function agent(dir, errno_num, count)
  local a = { sock = dir .. "/agent.sock", out = dir .. "/agent.json" }
  a.fh = assert(io.popen(("exec sh -c 'echo $$; exec env -u LD_PRELOAD python3 %s %s %s %s %d'")
    :format(q(AGENT), q(a.sock), q(a.out), tostring(errno_num or 18), count or 1)))
  a.pid = math.tointeger(tonumber(a.fh:read("l")))
  assert.equal("ready", a.fh:read("l"))
  return a
end

-- Wait for the agent to end (its listener hung up); what its one
-- connection brought.
local function agent_result(a)
  a.fh:close()
  local text = helper.read(a.out)
  return text and cjson.decode(text)[1]
end

local PRELUDE = [[
local nslua = require "nslua"
io.stdout:setvbuf("line")
local function run(spec)
  local c, err = nslua.container(spec)
  if not c then print("ERROR", err) return end
  local rep
  rep, err = c:run()
  if not rep then print("ERROR", err) return end
  print("STATUS", rep.status, rep.exit_code, rep.error and rep.error.message or "")
  return rep
end
]]

local function spec_text(sock, argv, extra)
  return ([[
run {
  name = "lst1",
  argv = %s,
  mounts = { { type = "tmpfs", target = "/tmp" } },
  seccomp = { default = "allow", syscalls = {
    { names = { "mkdir", "mkdirat" }, action = "notify" } } },
  seccomp_listener = { path = %q, metadata = "policy=42", bundle = "/srv/b",
                       annotations = { ["org.example/k"] = "v" } },
  %s
}
]]):format(argv, sock, extra or "")
end

local MKDIR = [[{ "/bin/sh", "-c", "mkdir /tmp/d; echo rc=$?; test -d /tmp/d || echo absent; uname -s" }]]

describe("seccomp_listener", function()
  local t, dir
  before_each(function()
    dir = helper.tmpdir("0755")
    t = helper.track { paths = { dir } }
  end)
  after_each(function()
    helper.assert_released(t)
    helper.rmtree(dir)
  end)

  it("hands the listener and the container process state to the agent, which answers", function()
    local a = agent(dir)
    local ok, out = helper.run_isolated(PRELUDE .. spec_text(a.sock, MKDIR))
    local seen = agent_result(a)
    assert.is_true(ok, out)
    assert.matches("STATUS\texited\t0", out)
    -- the agent's answer, not the kernel's: nothing was made
    assert.matches("mkdir: [^\n]*'/tmp/d': " .. EXDEV_TEXT, out)
    assert.matches("rc=1\nabsent\nLinux", out)
    assert(seen, "the agent saw nothing")
    assert.equal(1, seen.fds)
    assert.is_true(seen.closed, "the runtime closes the connection after its message")
    local st = seen.state
    assert.same({ "seccompFd" }, st.fds)
    assert.equal("policy=42", st.metadata)
    assert.equal("1.0.2", st.ociVersion)
    assert.equal("creating", st.state.status)
    assert.equal("lst1", st.state.id)
    assert.equal("/srv/b", st.state.bundle)
    assert.same({ ["org.example/k"] = "v" }, st.state.annotations)
    assert.equal(st.pid, st.state.pid)
    assert.is_true(st.pid > 1)
    -- only the routed syscall reached it (x86_64 mkdir 83, mkdirat 258)
    assert.is_true(#seen.syscalls >= 1)
    for _, nr in ipairs(seen.syscalls) do
      assert.is_true(nr == 83 or nr == 258, "unexpected syscall " .. tostring(nr))
    end
  end)

  it("sends an exec'd command's listener to the same agent, from the record", function()
    local a = agent(dir, 18, 2)
    local ok, out = helper.run_isolated(([[
local nslua = require "nslua"
local c = assert(nslua.container { name = "lst2", argv = { "/bin/sleep", "60" },
  seccomp = { default = "allow", syscalls = { { names = { "mkdir", "mkdirat" }, action = "notify" } } },
  seccomp_listener = { path = %q, metadata = "m" } })
assert(c:start())
local r = assert(c:exec({ "/bin/sh", "-c", "mkdir /tmp/e 2>&1; test -d /tmp/e && echo made || echo absent" }))
print("EXEC", r.status, r.exit_code, c:pid())
assert(c:kill(9))
print("END", c:wait().status)
]]):format(a.sock))
    local all = (function()
      a.fh:close()
      return cjson.decode((assert(helper.read(a.out))))
    end)()
    assert.is_true(ok, out)
    assert.matches("Invalid cross%-device link\nabsent\nEXEC\texited\t0\t%d+\nEND\tsignaled", out)
    local cpid = math.tointeger(tonumber(out:match("EXEC\texited\t0\t(%d+)")))
    assert.equal(2, #all)
    local ex = all[2]
    assert.equal(1, ex.fds)
    assert.equal("running", ex.state.state.status)
    assert.equal("lst2", ex.state.state.id)
    assert.equal("m", ex.state.metadata)
    assert.equal(cpid, math.tointeger(ex.state.state.pid))
    assert.not_equal(cpid, math.tointeger(ex.state.pid))
  end)

  it("works without an init and rootless", function()
    local a = agent(dir)
    local ok, out = helper.run_rootless(PRELUDE .. spec_text(a.sock, MKDIR, "init = false,"))
    local seen = agent_result(a)
    assert.is_true(ok, out)
    assert.matches("STATUS\texited\t0", out)
    assert.matches(EXDEV_TEXT, out)
    assert(seen, "the agent saw nothing")
    assert.equal("creating", seen.state.state.status)
    assert.equal(1, seen.fds)
  end)

  it("explain names the agent and the syscalls it is asked about", function()
    local code = PRELUDE:gsub("\nlocal function run.*", "\n") .. [[
local c = assert(nslua.container(]] .. spec_text("/run/agent.sock", MKDIR):match("^run (%b{})") .. [[))
print(table.concat(assert(c:explain()), "\n"))
print(require("cjson").encode(assert(c:plan()).exec.seccomp_listener))
]]
    local ok, out = helper.run_isolated(code)
    assert.is_true(ok, out)
    assert.matches("seccomp: notifications for mkdir mkdirat go to the agent at /run/agent.sock", out, 1, true)
    assert.not_matches("Lua handlers", out)
    local plan = cjson.decode(out:match("\n(%b{})\n$"))
    assert.same({ path = "/run/agent.sock", syscalls = { "mkdir", "mkdirat" } }, plan)
  end)

  it("fails the start naming seccomp_listener.path when no agent listens, leaving nothing", function()
    local ok, out = helper.run_isolated(PRELUDE .. spec_text(dir .. "/nobody.sock", MKDIR))
    assert.is_true(ok, out)
    assert.matches("ERROR\t[^\n]*seccomp_listener%.path: [^\n]*No such file", out)
    assert.not_matches("STATUS", out)
  end)

  -- A socket server in python3 that does 'what' with its connections;
  -- prints "ready" once listening.  Returns the handle and its pid.
  local function server(sock, what)
    local code = ([[
import os, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(%q)
s.listen(0)
held = []
if %q == "full":
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(%q)   # the backlog is full now: nobody accepts
    held.append(c)
print("ready", flush=True)
s.settimeout(20)
if %q == "hangup":
    conn, _ = s.accept()
    conn.close()
time.sleep(30)   # until the test kills it
]]):format(sock, what, sock, what)
    local f = assert(io.open(dir .. "/srv.py", "w"))
    f:write(code)
    f:close()
    local fh = assert(io.popen(("exec sh -c 'echo $$; exec env -u LD_PRELOAD python3 %s'")
      :format(q(dir .. "/srv.py")), "r"))
    local pid = math.tointeger(tonumber(fh:read("l")))
    assert.equal("ready", fh:read("l"))
    return fh, pid
  end

  -- Run MKDIR's spec against a server doing 'what'; it must end within 10 s.
  local function against(what)
    local sock = dir .. "/" .. what .. ".sock"
    local fh, pid = server(sock, what)
    local t0 = os.time()
    local ok, out = helper.run_isolated(PRELUDE .. spec_text(sock, MKDIR))
    os.execute("kill " .. pid .. " 2>/dev/null")
    fh:close()
    assert.is_true(ok, out)
    assert.is_true(os.time() - t0 < 10, out)
    return out
  end

  it("a wedged agent (its backlog full) fails the start at once, leaving nothing", function()
    local out = against("full")
    assert.matches("ERROR\t[^\n]*seccomp_listener%.path: [^\n]*Resource temporarily unavailable", out)
  end)

  it("an agent that hangs up before the listener fails the run, never hangs it", function()
    local out = against("hangup")
    assert.matches("STATUS\terror\t", out)
    assert.matches("seccomp", out)
    assert.not_matches("absent", out)
  end)

  it("an agent that dies leaves the routed syscalls failing, never allowed", function()
    -- errno 0 is "exit after the message": the agent closes the listener
    local a = agent(dir, 0)
    local ok, out = helper.run_isolated(PRELUDE .. spec_text(a.sock,
      [[{ "/bin/sh", "-c", "sleep 0.3; mkdir /tmp/d; test -d /tmp/d && echo made || echo absent" }]]))
    agent_result(a)
    assert.is_true(ok, out)
    assert.matches("STATUS\texited\t0", out)
    assert.matches("absent", out)
    assert.not_matches("made", out)
  end)

  it("drops its own copy of the listener: an agent that lets go of it ends the wait", function()
    -- execve itself goes to the agent, which closes the listener at once:
    -- the command's execve must fail with ENOSYS, not wait for an answer
    local a = agent(dir, 0)
    local t0 = os.time()
    local ok, out = helper.run_isolated(PRELUDE .. ([[
run { argv = { "/bin/true" }, limits = { wall = 20 },
      seccomp = { default = "allow", syscalls = { { name = "execve", action = "notify" } } },
      seccomp_listener = { path = %q } }
]]):format(a.sock))
    agent_result(a)
    assert.is_true(ok, out)
    assert.is_true(os.time() - t0 < 10, out)
    assert.matches("STATUS\terror\t", out)
    assert.not_matches("wall%-limit", out)
  end)

  it("refuses the spec errors with the field named", function()
    local cases = {
      { [[{ default = "allow", syscalls = { { name = "mkdir", action = "notify" } } }]], nil,
        "seccomp: action \"notify\" needs seccomp_listener" },
      { [[{ default = "notify" }]], [[{ path = "/run/a.sock" }]],
        "seccomp.default: \"notify\" names syscalls" },
      { [[{ default = "allow", syscalls = { { name = "sendmsg", action = "notify" } } }]],
        [[{ path = "/run/a.sock" }]], "sendmsg cannot notify" },
      { [[{ default = "allow", syscalls = { { names = { "mkdir", "write" }, action = "notify" } } }]],
        [[{ path = "/run/a.sock" }]], "write cannot notify: nslua's exec tail needs it" },
      { [[{ default = "allow", syscalls = { { name = "exit_group", action = "notify" } } }]],
        [[{ path = "/run/a.sock" }]], "exit_group cannot notify" },
      { [[{ default = "allow", syscalls = { { name = "close", action = "notify" } } }]],
        [[{ path = "/run/a.sock" }]], "close cannot notify" },
      { [[{ default = "allow", syscalls = { { name = "mkdir", action = "notify" },
           { name = "getpid", action = function() return true end } } }]],
        [[{ path = "/run/a.sock" }]], "cannot also use" },
      { [[{ default = "allow", syscalls = { { name = "mkdir", action = "notify" } } }]],
        [[{ path = "run/a.sock" }]], "seccomp_listener.path: must be an absolute path" },
      { [[{ default = "allow", syscalls = { { name = "mkdir", action = "notify" } } }]],
        [[{ path = "/run/a.sock", agent = 1 }]], "seccomp_listener.agent: unknown field" },
      { [[{ default = "allow", syscalls = { { name = "mkdir", action = "notify" } } }]],
        [[{ metadata = "x" }]], "seccomp_listener.path: is required" },
      { [[{ layers = { "default", { default = "allow", syscalls = { { name = "mkdir", action = "notify" } } } } }]],
        [[{ path = "/run/a.sock" }]], "seccomp.layers[2]: a layer cannot \"notify\"" },
    }
    for _, c in ipairs(cases) do
      local code = ("local ok, err = pcall(require('nslua.validate').validate, { argv = { 'true' }, seccomp = %s, "
        .. "seccomp_listener = %s }) print(ok, err)"):format(c[1], c[2] or "nil")
      local ok, out = helper.run_isolated(code)
      assert.is_true(ok, out)
      assert.matches(c[3], out, 1, true)
    end
  end)
end)
