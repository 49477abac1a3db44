-- nslua-oci's lifecycle against real kernel objects: create parks the
-- command, start releases it, state/kill/delete/exec/ps/pause/resume/update
-- act on it, and nothing is left behind (docs/oci.md).
local helper = require "helper"
local cjson = require "cjson"

local q = helper.quote
local OCI = helper.san_env .. helper.root .. "/scripts/nslua-oci"

local function write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

-- A bundle: busybox rootfs (scripts/mkrootfs.sh) and a config.json made
-- from `nslua-oci spec`'s default, with args and tweaks.
local rootfs_cache
local function bundle(dir, args, tweak)
  assert(helper.sh("mkdir -p " .. q(dir)))
  if not rootfs_cache then
    rootfs_cache = os.tmpname()
    os.remove(rootfs_cache)
    local ok, out = helper.sh(helper.root .. "/scripts/mkrootfs.sh " .. q(rootfs_cache .. "/rootfs"))
    assert(ok, out)
  end
  assert(helper.sh(("cp -a %s %s"):format(q(rootfs_cache .. "/rootfs"), q(dir .. "/rootfs"))))
  local cfg = require("nslua.oci.config").default(false)
  cfg.process.terminal = false
  cfg.process.args = args
  if tweak then tweak(cfg) end
  write(dir .. "/config.json", cjson.encode(cfg))
  return dir
end

local function oci(root, cmd)
  return helper.sh(("%s --root %s %s"):format(OCI, q(root), cmd))
end

-- A command that leaves a process behind (create, run -d, exec -d): the
-- container keeps the runtime's stdio, as an engine's pipes, so it gets a
-- file of its own (a pipe would never reach end of file).
local out_n = 0
local function oci_bg(root, cmd)
  out_n = out_n + 1
  local file = ("%s/out.%d"):format(root:match("^(.*)/[^/]+$"), out_n)
  local ok, _, code = helper.sh(("%s --root %s %s </dev/null >%s 2>&1"):format(OCI, q(root), cmd, q(file)))
  return ok, helper.read(file) or "", code
end

local function state(root, id)
  local ok, out = oci(root, "state " .. q(id))
  if not ok then return nil, out end
  local st = cjson.decode(out)
  st.pid = math.tointeger(st.pid)   -- cjson reads every number as a float
  return st
end

local function wait_for(f, secs)
  local deadline = os.time() + (secs or 5)
  repeat
    if f() then return true end
    helper.sleep(0.05)
  until os.time() > deadline
  return f()
end

describe("nslua-oci lifecycle", function()
  teardown(function()
    if rootfs_cache then helper.rmtree(rootfs_cache) end
  end)
  local T, root, t
  before_each(function()
    T = helper.tmpdir()
    root = T .. "/root"
    t = helper.track { roots = { root }, gone = {} }
  end)
  after_each(function()
    -- whatever a failed test left running: the runtime's own delete
    local ok, out = oci(root, "list --quiet")
    for id in (ok and out or ""):gmatch("[^\n]+") do oci(root, "delete --force " .. q(id)) end
    local released, err = pcall(helper.assert_released, t)
    local _, ids = oci(root, "list --quiet")
    -- Before the root goes: what any record in it still names (a leak the
    -- check above reports) is removed by the runtime's gc, so a failed
    -- test never leaves cgroups that no record names any more.
    require("nslua.cli.oci").gc(root)
    local left = require("nslua.state").list(root)
    helper.rmtree(T)
    assert(released, err)
    assert.equal("", ids)
    assert.equal(0, #left)
  end)

  it("runs a bundle in the foreground with its exit code and output", function()
    local b = bundle(T .. "/b", { "sh", "-c", "echo out:$(hostname); exit 7" })
    local ok, out, code = helper.sh(("cd %s && %s --root %s run fg1"):format(q(b), OCI, q(root)))
    assert.is_false(ok)
    assert.equal(7, code)
    assert.equal("out:nslua\n", out)
    assert.is_nil(state(root, "fg1"))
  end)

  it("runs a config with a time namespace and its timeOffsets", function()
    if not helper.exists("/proc/self/ns/time") then return pending("no time namespaces in this kernel") end
    local b = bundle(T .. "/tb", { "sh", "-c", "cat /proc/self/timens_offsets; cut -d' ' -f1 /proc/uptime" },
      function(cfg)
        cfg.linux.namespaces[#cfg.linux.namespaces + 1] = { type = "time" }
        cfg.linux.timeOffsets = { monotonic = { secs = 7, nanosecs = 5 }, boottime = { secs = 86400 } }
      end)
    local ok, out = helper.sh(("cd %s && %s --root %s run tns1"):format(q(b), OCI, q(root)))
    assert.is_true(ok, out)
    local mono, boot, up = out:match("^monotonic%s+(%S+%s+%S+)\nboottime%s+(%S+%s+%S+)\n([%d.]+)\n$")
    assert.is_truthy(mono, out)
    assert.equal("7 5", (mono:gsub("%s+", " ")))
    assert.equal("86400 0", (boot:gsub("%s+", " ")))
    local f = assert(io.open("/proc/uptime"))
    local host = f:read("n")
    f:close()
    assert.is_true(math.abs(tonumber(up) - host - 86400) < 5, out)
    assert.is_nil(state(root, "tns1"))
  end)

  it("runs a config with LSM labels the host does not enforce, with warnings", function()
    local lsm = require("nslua.oci.config").lsm()
    if lsm.selinux or lsm.apparmor then return pending("this host enforces an LSM") end
    local b = bundle(T .. "/b", { "sh", "-c", "echo ran" }, function(c)
      c.process.apparmorProfile = "acme_secure_profile"
      c.process.selinuxLabel = "system_u:system_r:container_t:s0"
      c.linux.mountLabel = "system_u:object_r:svirt_sandbox_file_t:s0:c715,c811"
    end)
    local ok, out = helper.sh(("cd %s && %s --root %s run lsm1 2>&1"):format(q(b), OCI, q(root)))
    assert.is_true(ok, out)
    assert.equal("nslua-oci: warning: config.json: process.apparmorProfile: ignored: AppArmor is not "
      .. "enabled on this host\n"
      .. "nslua-oci: warning: config.json: process.selinuxLabel: ignored: SELinux is not enabled on this host\n"
      .. "nslua-oci: warning: config.json: linux.mountLabel: ignored: SELinux is not enabled on this host\n"
      .. "ran\n", out)
  end)

  it("hands SCMP_ACT_NOTIFY's listener to listenerPath with the container's state", function()
    -- spec/support/seccomp_agent.py answers every notification with EXDEV
    local sock, seen = T .. "/agent.sock", T .. "/agent.json"
    -- two connections: the container's command, then an exec's
    local fh = assert(io.popen(("exec env -u LD_PRELOAD python3 %s/spec/support/seccomp_agent.py %s %s 18 2")
      :format(q(helper.root), q(sock), q(seen))))
    assert.equal("ready", fh:read("l"))
    local b = bundle(T .. "/b", { "sh", "-c", "mkdir /d; test -d /d && echo made || echo absent; sleep 60" },
      function(c)
        c.annotations = { ["org.example/key"] = "value" }
        c.linux.seccomp = { defaultAction = "SCMP_ACT_ALLOW", listenerPath = sock, listenerMetadata = "m=1",
                            syscalls = { { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_NOTIFY" } } }
      end)
    local ok, out = oci_bg(root, ("create --bundle %s ln1"):format(q(b)))
    assert.is_true(ok, out)
    local pid = state(root, "ln1").pid
    ok, out = oci(root, "start ln1")
    assert.is_true(ok, out)
    assert.is_true(wait_for(function() return (helper.read(T .. "/out.1") or ""):match("absent") end))
    out = helper.read(T .. "/out.1") or ""
    assert.matches("mkdir: can't create directory '/d': Invalid cross%-device link", out)
    -- an exec'd process is under the same filter, its listener sent too
    local eok, eout = oci(root, "exec ln1 sh -c 'mkdir /e 2>&1; test -d /e && echo made || echo absent'")
    assert.is_true(eok, eout)
    assert.matches("Invalid cross%-device link\nabsent", eout)
    ok, out = oci(root, "kill ln1 KILL")
    assert.is_true(ok, out)
    assert.is_true(wait_for(function() return state(root, "ln1").status == "stopped" end))
    fh:close()   -- the agent ends when no process is left under its filters
    local all = cjson.decode((assert(helper.read(seen))))
    assert.equal(2, #all)
    local got, ex = all[1], all[2]
    assert.equal(1, ex.fds)
    assert.is_true(ex.closed)
    assert.equal("running", ex.state.state.status)
    assert.equal(pid, math.tointeger(ex.state.state.pid))
    assert.not_equal(pid, math.tointeger(ex.state.pid))
    assert.equal("m=1", ex.state.metadata)
    assert.equal(1, got.fds)
    assert.is_true(got.closed)
    assert.same({ "seccompFd" }, got.state.fds)
    assert.equal("m=1", got.state.metadata)
    assert.equal(pid, math.tointeger(got.state.pid))
    assert.equal("creating", got.state.state.status)
    assert.equal("ln1", got.state.state.id)
    assert.equal(b, got.state.state.bundle)
    assert.same({ ["org.example/key"] = "value" }, got.state.state.annotations)
    ok, out = oci(root, "delete ln1")
    assert.is_true(ok, out)
  end)

  it("start returns once the command runs: a signal right after it reaches the command", function()
    -- (runtime-tools' killsig: the parked executor, its pid namespace's
    -- init, would ignore a signal it has no handler for)
    local b = bundle(T .. "/b", { "sh", "-c", "trap 'echo got USR1' USR1; sleep 10 & wait $!" })
    for i = 1, 3 do
      local id = "sig" .. i
      local ok, out = oci_bg(root, ("create --bundle %s %s"):format(q(b), id))
      assert.is_true(ok, out)
      local file = ("%s/out.%d"):format(T, out_n)
      ok, out = oci(root, "start " .. id .. " && " .. OCI .. " --root " .. q(root) .. " kill " .. id .. " USR1")
      assert.is_true(ok, out)
      assert.is_true(wait_for(function() return state(root, id).status == "stopped" end, 3))
      assert.equal("got USR1\n", helper.read(file))
      assert.is_true((oci(root, "delete " .. id)))
    end
  end)

  it("create parks the command, start releases it, delete removes it", function()
    local b = bundle(T .. "/b", { "sh", "-c", "echo ran > /tmp/ran; cat /tmp/ran; sleep 60" }, function(c)
      c.annotations = { ["org.example/key"] = "value" }
    end)
    local ok, out = oci_bg(root, ("create --bundle %s --pid-file %s c1"):format(q(b), q(T .. "/pid")))
    assert.is_true(ok, out)
    local st = assert(state(root, "c1"))
    assert.equal("created", st.status)
    assert.equal("c1", st.id)
    assert.equal(b, st.bundle)
    assert.equal("value", st.annotations["org.example/key"])
    assert.equal(tonumber(helper.read(T .. "/pid")), st.pid)
    -- parked: its command line is the executor's, not the payload's
    assert.equal("nslua-init", (helper.read("/proc/" .. st.pid .. "/cmdline") or ""):gsub("%z.*", ""))
    ok, out = oci(root, "start c1")
    assert.is_true(ok, out)
    assert.is_true(wait_for(function()
      return (helper.read("/proc/" .. st.pid .. "/cmdline") or ""):match("^sleep") ~= nil
    end))
    assert.equal("running", state(root, "c1").status)
    ok, out = oci(root, "start c1")
    assert.is_false(ok)
    assert.matches("cannot start an already running container", out)
    ok, out = oci(root, "delete c1")
    assert.is_false(ok)
    assert.matches("not stopped: running", out)
    ok, out = oci(root, "kill c1 KILL")
    assert.is_true(ok, out)
    assert.is_true(wait_for(function() return state(root, "c1").status == "stopped" end))
    ok, out = oci(root, "start c1")
    assert.is_false(ok)
    assert.matches("cannot start a container that has stopped", out)
    ok, out = oci(root, "delete c1")
    assert.is_true(ok, out)
    local _, missing = oci(root, "state c1")
    assert.matches("container does not exist", missing)
    assert.is_false(helper.exists(root .. "/ids/c1"))
  end)

  it("refuses a second container of one id and ids that are paths", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("create --bundle %s dup"):format(q(b)))))
    local ok, out, code = oci_bg(root, ("create --bundle %s dup"):format(q(b)))
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("container with id exists: dup", out)
    assert.equal("created", state(root, "dup").status)
    for _, bad in ipairs { "../x", "a/b", ".", "..", "" } do
      ok, out = oci_bg(root, ("create --bundle %s %s"):format(q(b), q(bad)))
      assert.is_false(ok)
      assert.matches(bad == "" and "container id cannot be empty" or "invalid container id format", out)
    end
    assert.is_false(helper.exists(T .. "/x"))
    assert.is_true((oci(root, "delete --force dup")))
  end)

  it("delete --force ends a running or created container; delete alone refuses both", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("run --detach --bundle %s r1"):format(q(b)))))
    local pid = state(root, "r1").pid
    assert.equal("running", state(root, "r1").status)
    local ok, out = oci(root, "delete --force r1")
    assert.is_true(ok, out)
    assert.is_false(helper.pid_alive(pid) and (helper.read("/proc/" .. pid .. "/stat") or ""):match("%) [^Z]") ~= nil)
    assert.is_true((oci_bg(root, ("create --bundle %s r2"):format(q(b)))))
    ok, out = oci(root, "delete r2")
    assert.is_false(ok)
    assert.matches("not stopped: created", out)
    assert.equal("created", state(root, "r2").status)
    ok, out = oci(root, "delete --force r2")
    assert.is_true(ok, out)
    -- runc's rule: --force on a missing container is not an error
    assert.is_true((oci(root, "delete --force r2")))
    ok, out = oci(root, "delete r2")
    assert.is_false(ok)
    assert.matches("container does not exist", out)
  end)

  it("exec runs in the container, in the foreground and detached", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("run -d --bundle %s e1"):format(q(b)))))
    local ok, out = oci(root, "exec e1 sh -c 'hostname; echo $$'")
    assert.is_true(ok, out)
    local host, inner = out:match("^(%S+)\n(%d+)\n$")
    assert.equal("nslua", host)
    assert.is_true(tonumber(inner) > 1)   -- a pid of the container's namespace
    local code
    ok, out, code = oci(root, "exec e1 sh -c 'exit 4'")
    assert.is_false(ok, out)
    assert.equal(4, code)
    -- a process file (what conmon and containerd's shim pass)
    write(T .. "/proc.json", cjson.encode { args = { "sh", "-c", "echo $FOO; pwd" }, env = { "FOO=bar" },
      cwd = "/tmp", user = { uid = 0, gid = 0 } })
    ok, out = oci(root, ("exec --process %s e1"):format(q(T .. "/proc.json")))
    assert.is_true(ok, out)
    assert.equal("bar\n/tmp\n", out)
    ok, out = oci_bg(root, ("exec --detach --pid-file %s e1 sleep 30"):format(q(T .. "/epid")))
    assert.is_true(ok, out)
    local epid = tonumber(helper.read(T .. "/epid"))
    assert.is_true(helper.pid_alive(epid))
    local ps_ok, ps = oci(root, "ps --format json e1")
    assert.is_true(ps_ok, ps)
    local pids = cjson.decode(ps)
    local seen = {}
    for _, p in ipairs(pids) do seen[p] = true end
    assert.is_true(seen[state(root, "e1").pid])
    assert.is_true(seen[epid])
    assert.is_true((oci(root, "kill --all e1 KILL")))
    assert.is_true(wait_for(function() return not helper.pid_alive(epid) end))
    assert.is_true(wait_for(function() return state(root, "e1").status == "stopped" end))
    ok, out = oci(root, "exec e1 true")
    assert.is_false(ok)
    assert.matches("stopped", out)
    assert.is_true((oci(root, "delete e1")))
  end)

  it("exec applies the process's users and capability sets, and refuses bad ones", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("run -d --bundle %s x1"):format(q(b)))))
    local function caps(out, set) return out:match("Cap" .. set .. ":%s*(%x+)") end
    -- a non-root user gets no capability it is not given (no ambient ones)
    local ok, out = oci(root, "exec --user 1000:1000 x1 cat /proc/self/status")
    assert.is_true(ok, out)
    assert.equal("0000000000000000", caps(out, "Eff"))
    assert.equal("0000000000000000", caps(out, "Amb"))
    write(T .. "/p.json", cjson.encode { args = { "sh", "-c", "id; cat /proc/self/status" },
      user = { uid = 1000, gid = 1000, additionalGids = { 7 } },
      capabilities = { bounding = { "CAP_KILL" }, permitted = { "CAP_KILL" }, effective = {}, ambient = {} } })
    ok, out = oci(root, ("exec --process %s x1"):format(q(T .. "/p.json")))
    assert.is_true(ok, out)
    assert.matches("uid=1000 gid=1000 groups=7", out, 1, true)
    assert.equal("0000000000000020", caps(out, "Bnd"))     -- CAP_KILL only
    assert.equal("0000000000000000", caps(out, "Amb"))
    -- a uid that is not an integer fails, never runs as root
    write(T .. "/p2.json", '{"args":["id"],"user":{"uid":1000.5,"gid":1}}')
    ok, out = oci(root, ("exec --process %s x1"):format(q(T .. "/p2.json")))
    assert.is_false(ok)
    assert.matches("process%.user%.uid", out)
    assert.is_true((oci(root, "delete --force x1")))
  end)

  it("exec applies the process's rlimits, umask and noNewPrivileges, the container's without --process",
    function()
    local b = bundle(T .. "/b", { "sleep", "60" }, function(c)
      c.process.rlimits = { { type = "RLIMIT_NOFILE", soft = 300, hard = 400 } }
      c.process.user.umask = 23   -- 0027
      c.process.noNewPrivileges = true
    end)
    assert.is_true((oci_bg(root, ("run -d --bundle %s x2"):format(q(b)))))
    local SHOW = "sh -c 'ulimit -Sn; ulimit -Hn; umask; grep NoNewPrivs /proc/self/status'"
    local ok, out = oci(root, "exec x2 " .. SHOW)
    assert.is_true(ok, out)
    assert.matches("^300\n400\n0027\nNoNewPrivs:%s+1\n$", out)
    write(T .. "/p.json", cjson.encode { args = { "sh", "-c", "ulimit -Sn; ulimit -Hn; umask; "
      .. "grep NoNewPrivs /proc/self/status" }, user = { uid = 0, gid = 0, umask = 63 },
      rlimits = { { type = "RLIMIT_NOFILE", soft = 100, hard = 200 } }, noNewPrivileges = false,
      capabilities = { bounding = { "CAP_SYS_ADMIN" }, permitted = { "CAP_SYS_ADMIN" },
                       effective = { "CAP_SYS_ADMIN" } } })
    ok, out = oci(root, ("exec --process %s x2"):format(q(T .. "/p.json")))
    assert.is_true(ok, out)
    assert.matches("^100\n200\n0077\nNoNewPrivs:%s+0\n$", out)
    -- a process without rlimits keeps the container's (runc's)
    write(T .. "/p2.json", cjson.encode { args = { "sh", "-c", "ulimit -Sn; ulimit -Hn" },
      user = { uid = 0, gid = 0 } })
    ok, out = oci(root, ("exec --process %s x2"):format(q(T .. "/p2.json")))
    assert.is_true(ok, out)
    assert.equal("300\n400\n", out)
    assert.is_true((oci(root, "delete --force x2")))
  end)

  it("exec --tty hands a pty of the container's devpts to the console socket", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("run -d --bundle %s tt1"):format(q(b)))))
    -- the engine's side: a listener that takes the master and reads it
    write(T .. "/cons.py", table.concat({
      "import socket, os, sys, array, time",
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.bind(sys.argv[1]); s.listen(1)",
      "open(sys.argv[1] + '.ready', 'w').close()",
      "c, _ = s.accept()",
      "msg, anc, flags, addr = c.recvmsg(1, socket.CMSG_LEN(4))",
      "fds = array.array('i'); fds.frombytes(anc[0][2][:4])",
      "out = b''",
      "end = time.time() + 5",
      "while time.time() < end and b'done' not in out:",
      "    try:",
      "        d = os.read(fds[0], 4096)",
      "    except OSError:",
      "        break",
      "    if not d: break",
      "    out += d",
      "sys.stdout.write(out.decode())",
    }, "\n") .. "\n")
    local sock = T .. "/cs.sock"
    local f = assert(io.popen(("python3 %s %s"):format(q(T .. "/cons.py"), q(sock))))
    assert.is_true(wait_for(function() return helper.exists(sock .. ".ready") end))
    local ok, out = oci(root, ("exec --tty --console-socket %s tt1 sh -c %s"):format(q(sock),
      q("tty; test -t 0 && echo is-tty; echo done")))
    local seen = f:read("a")
    f:close()
    assert.is_true(ok, out)
    assert.matches("/dev/pts/%d+\r?\n", seen)
    assert.matches("is-tty", seen, 1, true)
    -- without a socket there is no pty to hand over: refused
    ok, out = oci(root, "exec --tty tt1 true")
    assert.is_false(ok)
    assert.matches("console%-socket", out)
    assert.is_true((oci(root, "delete --force tt1")))
  end)

  it("pause and resume freeze the container; update changes its limits", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("run -d --bundle %s p1"):format(q(b)))))
    local ok, out = oci(root, "pause p1")
    assert.is_true(ok, out)
    assert.equal("paused", state(root, "p1").status)
    ok, out = oci(root, "resume p1")
    assert.is_true(ok, out)
    assert.equal("running", state(root, "p1").status)
    ok, out = oci(root, "update --pids-limit 7 p1")
    assert.is_true(ok, out)
    -- the pids group the container's init is in says 7
    local cg = helper.read("/proc/" .. state(root, "p1").pid .. "/cgroup") or ""
    local path = cg:match("%d+:pids:([^\n]+)") or cg:match("0::([^\n]+)")
    local file = cg:match("%d+:pids:") and ("/sys/fs/cgroup/pids" .. path .. "/pids.max")
      or ("/sys/fs/cgroup/unified" .. path .. "/pids.max")
    assert.equal("7", (helper.read(file) or ""):gsub("%s+$", ""))
    write(T .. "/r.json", cjson.encode { pids = { limit = 9 } })
    assert.is_true((oci(root, ("update -r %s p1"):format(q(T .. "/r.json")))))
    assert.equal("9", (helper.read(file) or ""):gsub("%s+$", ""))
    -- a paused container: kill and delete --force still end it
    assert.is_true((oci(root, "pause p1")))
    local pid = state(root, "p1").pid
    assert.is_true((oci(root, "delete --force p1")))
    assert.is_true(wait_for(function() return not helper.pid_alive(pid) end))
  end)

  -- the group of a hierarchy, as /proc/PID/cgroup names it
  local function group(pid, ctrl)
    for line in (helper.read("/proc/" .. pid .. "/cgroup") or ""):gmatch("[^\n]+") do
      local cs, path = line:match("^%d+:([^:]*):(.*)$")
      for c in (cs or ""):gmatch("[^,]+") do
        if c == ctrl then return path end
      end
    end
  end

  for _, how in ipairs { "absolute", "relative" } do
    it(("puts the container at its %s cgroupsPath with its resources, then removes it"):format(how), function()
      local tag = ("nsluaspec-oci-%d-%d"):format(os.time() % 100000, math.random(1 << 20))
      local path = how == "absolute" and ("/" .. tag .. "/inner/c") or (tag .. "/inner/c")
      local b = bundle(T .. "/b", { "sleep", "60" }, function(c)
        c.linux.cgroupsPath = path
        c.linux.resources = { pids = { limit = 21 }, cpu = { shares = 512, quota = 30000, period = 100000 },
                              devices = { { allow = false, access = "rwm" } } }
      end)
      assert.is_true((oci_bg(root, ("create --bundle %s g1"):format(q(b)))))
      local pid = state(root, "g1").pid
      -- parked, it is in its groups already (as runc's)
      local own = group(helper.read("/proc/self/stat") and "self" or pid, "pids")
      local pg = group(pid, "pids")
      if how == "absolute" then
        assert.equal(path, pg)
      else
        assert.equal((own == "/" and "" or own) .. "/" .. path, pg)
      end
      local base = "/sys/fs/cgroup/pids" .. pg
      assert.equal("21", (helper.read(base .. "/pids.max") or ""):gsub("%s+$", ""))
      local cg = group(pid, "cpu")
      if cg and helper.exists("/sys/fs/cgroup/cpu" .. cg .. "/cpu.shares") then
        assert.equal("512", (helper.read("/sys/fs/cgroup/cpu" .. cg .. "/cpu.shares") or ""):gsub("%s+$", ""))
        assert.equal("30000", (helper.read("/sys/fs/cgroup/cpu" .. cg .. "/cpu.cfs_quota_us") or ""):gsub("%s+$", ""))
      end
      local dg = group(pid, "devices")
      if dg then
        -- deny all, then runc's default list: /dev/null is allowed, sda is not
        local list = helper.read("/sys/fs/cgroup/devices" .. dg .. "/devices.list") or ""
        assert.matches("c 1:3 rwm", list, 1, true)
        assert.is_nil(list:find("a *:* rwm", 1, true))
      end
      assert.is_true((oci(root, "delete --force g1")))
      -- the group and the parents the path made are gone
      local top = how == "absolute" and ("/sys/fs/cgroup/pids/" .. tag)
        or ("/sys/fs/cgroup/pids" .. (own == "/" and "" or own) .. "/" .. tag)
      assert.is_false(helper.exists(base))
      assert.is_false(helper.exists(top))
    end)
  end

  it("never adopts, kills or removes a cgroup at cgroupsPath it did not make", function()
    if not helper.exists("/sys/fs/cgroup/pids/cgroup.procs") then
      return pending("needs a v1 pids hierarchy at /sys/fs/cgroup/pids")
    end
    local tag = ("nsluaspec-victim-%d-%d"):format(os.time() % 100000, math.random(1 << 20))
    local vdir = "/sys/fs/cgroup/pids/" .. tag
    assert(helper.sh("mkdir " .. q(vdir)))
    local ok, out = helper.sh(("sleep 300 >/dev/null 2>&1 & echo $! > %s/cgroup.procs; echo $!"):format(q(vdir)))
    assert.is_true(ok, out)
    local victim = math.tointeger(tonumber(out:match("%d+")))
    local b = bundle(T .. "/b", { "true" }, function(c) c.linux.cgroupsPath = "/" .. tag end)
    ok, out = oci_bg(root, ("create --bundle %s v1"):format(q(b)))
    assert.is_false(ok)
    assert.matches("File exists", out)
    -- whatever a later delete, gc-like sweep or run does, the victim stays
    oci(root, "delete --force v1")
    local b2 = bundle(T .. "/b2", { "true" })
    assert.is_true((oci(root, ("run --bundle %s v2"):format(q(b2)))))
    assert.is_true(helper.pid_alive(victim))
    assert.equal(tostring(victim), (helper.read(vdir .. "/cgroup.procs") or ""):match("%d+"))
    os.execute("kill -9 " .. victim)
    assert.is_true(wait_for(function() return (helper.read(vdir .. "/cgroup.procs") or "") == "" end))
    assert(helper.sh("rmdir " .. q(vdir)))
  end)

  it("names a cgroupsPath group in its record only once it made it (a crash between)", function()
    local resources = require "nslua.resources"
    local cgroup = require "nslua.cgroup"
    local st = require "nslua.state"
    local spec = assert(require("nslua.validate").check({ argv = { "true" }, cgroup = { path = "/nsluaspec-x" },
      user = "host", namespaces = { user = false } }))
    local sr = T .. "/sr"
    assert(helper.sh("mkdir -p " .. q(sr)))
    local real, seen = cgroup.new, nil
    -- the moment a SIGKILL would hit: the record exists, the group not yet
    cgroup.new = function()
      for _, rec in ipairs(st.list(sr)) do seen = rec end
      error("simulated crash", 0)
    end
    local ok, err = pcall(resources.fresh, spec, sr)
    cgroup.new = real
    assert.is_false(ok)
    assert.equal("simulated crash", err)
    assert.is_table(seen)
    -- a sweep of this record could touch no cgroup: it names none
    assert.equal("", seen.info.cgroup)
    assert.equal("", seen.info.cgroup_dirs or "")
    assert.is_nil(seen.info.cgroup_leaf)
    st.remove(seen.dir)
  end)

  it("refuses sysctls for a joined namespace that is the host's", function()
    local b = bundle(T .. "/b", { "true" }, function(c)
      c.linux.sysctl = { ["net.ipv4.tcp_keepalive_probes"] = "9" }
      local ns = {}
      for _, n in ipairs(c.linux.namespaces) do if n.type ~= "network" then ns[#ns + 1] = n end end
      ns[#ns + 1] = { type = "network", path = "/proc/self/ns/net" }   -- the runtime's own
      c.linux.namespaces = ns
    end)
    local ok, out = oci_bg(root, ("create --bundle %s sy1"):format(q(b)))
    assert.is_false(ok)
    assert.matches("linux.sysctl[net.ipv4.tcp_keepalive_probes]: the net namespace joined", out, 1, true)
    assert.is_nil(state(root, "sy1"))
  end)

  it("refuses a cgroupsPath that climbs out of the hierarchy", function()
    local b = bundle(T .. "/b", { "true" }, function(c) c.linux.cgroupsPath = "/a/../../etc" end)
    local ok, out = oci_bg(root, ("create --bundle %s bad2"):format(q(b)))
    assert.is_false(ok)
    assert.matches("cgroup%.path", out)
    assert.is_nil(state(root, "bad2"))
  end)

  it("gc leaves a created and a running container alone", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    assert.is_true((oci_bg(root, ("create --bundle %s gl1"):format(q(b)))))
    assert.is_true((oci_bg(root, ("run -d --bundle %s gl2"):format(q(b)))))
    local p1, p2 = state(root, "gl1").pid, state(root, "gl2").pid
    -- the creates are gone and the running one's record lock is free (its
    -- command has exec'd): only its process says it is alive
    require("nslua.cli.oci").gc(root)
    assert.equal("created", state(root, "gl1").status)
    assert.equal("running", state(root, "gl2").status)
    assert.is_true(helper.pid_alive(p1) and helper.pid_alive(p2))
    assert.is_true((oci(root, "delete --force gl1")))
    assert.is_true((oci(root, "delete --force gl2")))
  end)

  it("gc removes what a record of a killed create names, cgroups included", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    -- the child waits at its mount step; its creator is SIGKILLed there
    local ok = helper.sh(("(NSLUA_TEST_STOP=mounts %s --root %s create --bundle %s gc1 & p=$!; sleep 0.5; "
      .. "kill -9 $p; wait $p) >/dev/null 2>&1"):format(OCI, q(root), q(b)))
    assert.is_false(ok)
    local recs = require("nslua.state").list(root)
    assert.equal(1, #recs)
    local dirs = {}
    for d in tostring(recs[1].info.cgroup_dirs or ""):gmatch("[^\t]+") do dirs[#dirs + 1] = d end
    assert.is_true(#dirs > 0)
    -- its child is gone with its creator, so the record is stale: gc acts
    assert.is_true(wait_for(function() return not helper.pid_alive(recs[1].info.init_pid or 0) end))
    local removed = require("nslua.cli.oci").gc(root)
    assert.is_true(#removed >= 1)
    for _, d in ipairs(dirs) do assert.is_false(helper.exists(d), d) end
    assert.equal(0, #require("nslua.state").list(root))
    assert.is_false(helper.exists(root .. "/ids/gc1"))
  end)

  it("nslua ps lists the runtime's containers and nslua gc removes a stopped one", function()
    local id = ("nsluaspec-%d-%d"):format(os.time() % 100000, math.random(1 << 20))
    local b = bundle(T .. "/b", { "sleep", "60" })
    -- the runtime's default root, where ps and gc look
    local ok = helper.sh(("%s create --bundle %s %s </dev/null >%s 2>&1"):format(OCI, q(b), q(id),
      q(T .. "/gc.out")))
    assert.is_true(ok, helper.read(T .. "/gc.out"))
    local t2 = helper.track { roots = { "/run/nslua/oci" } }
    local _, ps = helper.sh(helper.nslua .. " ps --json")
    local row
    for _, r in ipairs(cjson.decode(ps)) do
      if r.name == id then row = r end
    end
    assert.is_table(row, ps)
    assert.equal("oci", row.frontend)
    assert.equal("running", row.state)
    local sok, sout = helper.sh(("%s state %s"):format(OCI, q(id)))
    assert.is_true(sok, sout)
    local pid = math.tointeger(cjson.decode(sout).pid)
    assert.is_true((helper.sh(("%s kill %s KILL"):format(OCI, q(id)))))
    assert.is_true(wait_for(function() return not helper.pid_alive(pid) end))
    local gok, gout = helper.sh(helper.nslua .. " gc")
    assert.is_true(gok, gout)
    assert.matches("removed " .. row.id, gout, 1, true)
    local _, missing = helper.sh(("%s state %s"):format(OCI, q(id)))
    assert.matches("container does not exist", missing)
    assert.is_false(helper.exists("/run/nslua/oci/ids/" .. id))
    t2.ids[#t2.ids + 1] = row.id
    helper.assert_released(t2)
  end)

  it("writes engine-readable json log lines on failure", function()
    local ok, out = helper.sh(("%s --root %s --log %s --log-format json start nope"):format(OCI, q(root),
      q(T .. "/log.json")))
    assert.is_false(ok)
    assert.matches("container does not exist", out)
    local line = helper.read(T .. "/log.json"):match("[^\n]+")
    local rec = cjson.decode(line)
    assert.equal("error", rec.level)
    assert.equal("container does not exist", rec.msg)
    assert.is_string(rec.time)
  end)

  it("names the config.json field it refuses, and creates nothing", function()
    local b = bundle(T .. "/b", { "true" }, function(c) c.process.args = cjson.empty_array or {} end)
    local ok, out = oci_bg(root, ("create --bundle %s bad1"):format(q(b)))
    assert.is_false(ok)
    assert.matches("process%.args", out)
    assert.is_false(helper.exists(root .. "/ids/bad1"))
  end)

  it("runs hooks with the state on stdin; a failing prestart hook undoes create", function()
    local log = T .. "/hooks.log"
    write(T .. "/hook.sh", "#!/bin/sh\nread -r s; echo \"$1 $s\" >> " .. log .. "\n")
    assert(helper.sh("chmod 0755 " .. q(T .. "/hook.sh")))
    local function h(kind) return { path = T .. "/hook.sh", args = { "hook.sh", kind } } end
    local b = bundle(T .. "/b", { "sleep", "60" }, function(c)
      c.hooks = { prestart = { h("prestart") }, createRuntime = { h("createRuntime") },
                  poststart = { h("poststart") }, poststop = { h("poststop") } }
    end)
    assert.is_true((oci_bg(root, ("create --bundle %s h1"):format(q(b)))))
    assert.is_true((oci(root, "start h1")))
    assert.is_true((oci(root, "delete --force h1")))
    local lines = {}
    for l in (helper.read(log) or ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal(4, #lines, helper.read(log))
    assert.matches('^prestart .*"status":"created"', lines[1])
    assert.matches('"id":"h1"', lines[1])
    assert.matches("^createRuntime ", lines[2])
    assert.matches("^poststart ", lines[3])
    assert.matches('^poststop .*"status":"stopped"', lines[4])
    -- a command that ends at once: poststart still gets start's "running"
    -- (runtime-tools' hooks_stdin), though start waits for its exec
    local b3 = bundle(T .. "/b3", { "true" }, function(c) c.hooks = { poststart = { h("poststart") } } end)
    assert.is_true((oci_bg(root, ("create --bundle %s h3"):format(q(b3)))))
    assert.is_true((oci(root, "start h3")))
    assert.is_true(wait_for(function() return state(root, "h3").status == "stopped" end))
    assert.is_true((oci(root, "delete h3")))
    lines = {}
    for l in (helper.read(log) or ""):gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches('^poststart .*"status":"running"', lines[5])
    assert.matches('"pid":%d', lines[5])
    local b2 = bundle(T .. "/b2", { "sleep", "60" }, function(c)
      c.hooks = { prestart = { { path = "/bin/false" } } }
    end)
    local ok, out = oci_bg(root, ("create --bundle %s h2"):format(q(b2)))
    assert.is_false(ok)
    assert.matches("prestart hook /bin/false", out)
    assert.is_nil(state(root, "h2"))
    assert.is_false(helper.exists(root .. "/ids/h2"))
  end)

  it("a create killed during set-up leaves nothing delete cannot remove", function()
    local b = bundle(T .. "/b", { "sleep", "60" })
    -- NSLUA_TEST_STOP: the child waits at its mount step until we die
    local ok = helper.sh(("(NSLUA_TEST_STOP=mounts %s --root %s create --bundle %s k1 & p=$!; sleep 0.5; "
      .. "kill -9 $p; wait $p) >/dev/null 2>&1"):format(OCI, q(root), q(b)))
    assert.is_false(ok)
    local st = state(root, "k1")
    if st then assert.equal("stopped", st.status) end
    local dok, dout = oci(root, "delete k1")
    assert.is_true(dok, dout)
    assert.is_nil(state(root, "k1"))
    assert.is_false(helper.exists(root .. "/ids/k1"))
  end)

  it("the payload sees neither the runtime root nor the fifo", function()
    local b = bundle(T .. "/b", { "sh", "-c", ("ls %s 2>&1; ls /proc/self/fd"):format(root) })
    local ok, out = helper.sh(("cd %s && %s --root %s run v1"):format(q(b), OCI, q(root)))
    assert.is_true(ok, out)
    assert.matches("No such file or directory", out)
    -- only stdio and ls's own directory fd
    assert.equal("0 1 2 3", (out:match("\n([%d\n]+)$") or ""):gsub("\n", " "):gsub(" $", ""))
  end)

  it("spec writes runc's default config and features describes the runtime", function()
    local ok, out = helper.sh(("cd %s && %s spec"):format(q(T), OCI))
    assert.is_true(ok, out)
    local cfg = cjson.decode(helper.read(T .. "/config.json"))
    assert.same({ "sh" }, cfg.process.args)
    assert.equal("rootfs", cfg.root.path)
    ok, out = helper.sh(("cd %s && %s spec"):format(q(T), OCI))
    assert.is_false(ok)
    assert.matches("exists", out)
    ok, out = helper.sh(OCI .. " features")
    assert.is_true(ok, out)
    local f = cjson.decode(out)
    assert.is_string(f.ociVersionMax)
    ok, out = helper.sh(OCI .. " --version")
    assert.is_true(ok)
    assert.matches("^nslua%-oci version", out)
    assert.matches("spec: 1%.", out)
  end)
end)

describe("nslua-oci as root of a user namespace (rootless podman's runtime)", function()
  local cli = require "nslua.cli.oci"
  local HOST, FOREIGN = "         0          0 4294967295\n", "         0       4242          1\n"
  local function env(t) return function(k) return t[k] end end

  it("keeps its state under $XDG_RUNTIME_DIR, not /run, as runc does", function()
    local xdg = env { XDG_RUNTIME_DIR = "/run/user/4242", USER = "4242" }
    assert.equal("/run/user/4242/nslua/oci", cli.default_root(0, xdg, FOREIGN))
    assert.equal(cli.ROOT, cli.default_root(0, xdg, HOST))
    assert.equal(cli.ROOT, cli.default_root(0, env { XDG_RUNTIME_DIR = "/run/user/0", USER = "root" }, FOREIGN))
    assert.equal(cli.ROOT, cli.default_root(0, env {}, FOREIGN))
    assert.is_nil(cli.default_root(1000, xdg, HOST))   -- a user: the user's state root
  end)

  it("makes no cgroup without cgroupsPath or limits, as runc's rootless manager", function()
    local g = { root = "/r" }
    local o = cli.cgroup_options(g, { limits = {} }, 0, FOREIGN)
    assert.equal("disabled", o["cgroup-manager"])
    assert.equal("/r", o.root)
    assert.equal(g, cli.cgroup_options(g, { limits = {} }, 0, HOST))
    assert.equal(g, cli.cgroup_options(g, { limits = {}, cgroup_path = "/x" }, 0, FOREIGN))
    assert.equal(g, cli.cgroup_options(g, { limits = { memory = 1 << 20 } }, 0, FOREIGN))
    local given = { ["cgroup-manager"] = "cgroupfs" }
    assert.equal(given, cli.cgroup_options(given, { limits = {} }, 0, FOREIGN))
  end)
end)
