-- `nslua exec TARGET -- CMD` and Container:exec: the exec'd command sees what
-- the container's own command sees (uid, CapBnd, hostname, cgroups,
-- namespaces), as root and rootless.  Containers run in the background
-- through the CLI (or the API in a fresh lua5.4); every test kills what it
-- started, by pid, and checks the host holds nothing new afterwards.
local helper = require "helper"
local state = require "nslua.state"

local N = helper.nslua
local q = helper.quote

-- What both the payload and the exec'd command print.
local SHOW = "id -u; grep CapBnd /proc/self/status; hostname; cat /proc/self/cgroup"

local unique = helper.unique

local wait_until = helper.wait_until

local function rootless_state()
  return ("/tmp/nslua-%d"):format(helper.ROOTLESS_UID)
end

-- The nslua command, as root or as the rootless test user.
local function nslua_cmd(rootless)
  if not rootless then return N end
  local dir = helper.rootless_tree()
  return ("%s %s%s/scripts/nslua"):format(helper.SETPRIV, helper.san_env, dir)
end

-- The container's state record (nil when gone).
local function record(h)
  local root = h.rootless and rootless_state() or "/run/nslua"
  for _, rec in ipairs(state.list(root)) do
    if tostring(rec.info.name) == h.name then return rec end
  end
end

local stop_quietly

-- Start `nslua run` in the background: the payload prints SHOW (and
-- 'extra'), then READY, then sleeps.  Returns a handle {pid, name, out, dir,
-- rootless}; the caller stops it with stop().
local function start(opts, rootless, extra)
  local dir = helper.tmpdir("0755")
  local name = unique("ex")
  local out = dir .. "/payload"
  local script = SHOW .. (extra and ("; " .. extra) or "") .. "; echo READY; exec sleep 60"
  local ok, pid = helper.sh(("cd /tmp; %s run --name %s %s -- /bin/sh -c %s > %s 2>&1 & echo $!")
    :format(nslua_cmd(rootless), name, opts or "", q(script), q(out)))
  assert(ok, pid)
  local h = { pid = math.tointeger(tonumber(pid:match("%d+"))), name = name, out = out, dir = dir,
              rootless = rootless }
  local ready = wait_until(function() return (helper.read(out) or ""):match("READY\n") end, 15)
  -- the owner rewrites the record (cmd_nspid) while it starts: read it again
  local rec = ready and wait_until(function() return record(h) end, 5)
  if not rec then
    local text = helper.read(out)
    stop_quietly(h)
    assert(ready, "the container did not start: " .. tostring(text))
    error("no state record for " .. name)
  end
  h.rec = rec
  return h
end

-- Stop a background container: SIGTERM to nslua (forwarded to the command),
-- wait until nslua is gone, remove the temp dir.  Returns whether it ended
-- on SIGTERM.
function stop_quietly(h)
  os.execute("kill -TERM " .. h.pid .. " 2>/dev/null")
  local gone = wait_until(function() return not helper.pid_alive(h.pid) end, 10)
  if not gone then os.execute("kill -KILL " .. h.pid .. " 2>/dev/null") end
  wait_until(function() return not helper.pid_alive(h.pid) end, 5)
  helper.rmtree(h.dir)
  return gone
end

local function stop(h)
  local gone = stop_quietly(h)
  assert(gone, "nslua run " .. h.pid .. " did not end on SIGTERM")
  assert.is_nil(record(h), "the state record was left behind")
end

local function payload_output(h)
  return (helper.read(h.out) or ""):gsub("READY\n$", "")
end

local function exec(h, cmd, opts)
  return helper.sh(("cd /tmp; %s exec %s %s -- %s"):format(nslua_cmd(h.rootless), opts or "", h.name, cmd))
end

-- The host check (helper.track) looks only at what this test made: the
-- nslua ids its runs logged; other suites may run containers meanwhile.
describe("nslua exec", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("shows the same uid, CapBnd, hostname and cgroups as the container's command #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local h = start("--hostname exbox")
    local ok, out, code = exec(h, "/bin/sh -c " .. q(SHOW))
    local want = payload_output(h)
    stop(h)
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.matches("^65534\nCapBnd:%s+0+\nexbox\n", out)
    assert.equal(want, out)
  end)

  it("joins the container's namespaces, root and environment #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local h = start("--env FOO=bar --cwd /tmp", false,
      "for n in cgroup ipc mnt net pid user uts; do readlink /proc/self/ns/$n; done; pwd; echo $FOO; ulimit -c")
    local ok, out = exec(h, "/bin/sh -c " .. q(SHOW .. "; for n in cgroup ipc mnt net pid user uts; do "
      .. "readlink /proc/self/ns/$n; done; pwd; echo $FOO; ulimit -c"))
    local ok2, procs = exec(h, "/bin/sh -c 'ls /proc | grep -E \"^[0-9]+$\" | sort -n | head -1; ls /tmp'")
    local want = payload_output(h)
    stop(h)
    assert.is_true(ok, out)
    assert.equal(want, out)
    assert.matches("\n/tmp\nbar\n0\n$", out)
    -- pid 1 is the container's init: the exec'd command is in its pid namespace
    assert.is_true(ok2, procs)
    assert.matches("^1\n", procs)
    -- and in its mount namespace: the host's /tmp (with our temp dir) is not there
    assert.not_matches(h.dir:match("[^/]+$"), procs, 1, true)
  end)

  it("keeps the container's set-id guard (a read-write idmapped bind) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local src = helper.tmpdir("0755")
    -- a set-id program already there: the guard's watch covers the exec too
    assert.is_true((helper.sh(("cp /bin/true %s/suid && chmod 4755 %s/suid"):format(q(src), q(src)))))
    local h = start(("--bind %s /x"):format(q(src)), false, "touch /x/f")
    local ok, out = exec(h, "/bin/sh -c 'chmod 4755 /x/f; echo $?; chmod 755 /x/f; echo $?'")
    local ok2, mode = exec(h, "/usr/bin/stat -c %a /x/f")
    local ok3, opened = exec(h, "/bin/sh -c '(exec 3<>/x/suid) 2>/dev/null && echo OPENED || echo refused; "
      .. "(exec 3</x/suid) && echo read'")
    stop(h)
    local _, host = helper.sh(("stat -c '%%a %%u' %s/f %s/suid; cmp %s/suid /bin/true && echo same")
      :format(q(src), q(src), q(src)))
    helper.rmtree(src)
    assert.equal("755 0\n4755 0\nsame\n", host)
    assert.is_true(ok, out)
    assert.equal("1\n0\n", out:gsub("chmod: [^\n]*\n", ""))
    assert.is_true(ok2, mode)
    assert.equal("755\n", mode)
    assert.is_true(ok3, opened)
    assert.equal("refused\nread\n", opened)
  end)

  it("joins the container's cgroups with --memory and --pids #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local h = start("--memory 64M --pids 16")
    local rec = h.rec
    local ok, out = exec(h, "/bin/sh -c " .. q(SHOW))
    -- seen from the host: the exec'd process is counted in the pids cgroup
    local ok2, cur = exec(h, "/bin/sh -c 'cat /proc/self/cgroup | grep pids'")
    local want = payload_output(h)
    stop(h)
    assert.is_true(ok, out)
    assert.equal(want, out)
    assert.matches("memory:/nslua%-" .. rec.id .. "\n", out)
    assert.matches("pids:/nslua%-" .. rec.id .. "\n", out)
    assert.is_true(ok2, cur)
  end)

  it("keeps the payload's capabilities and its nested user namespace #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local extra = "grep -E 'Cap(Eff|Amb)' /proc/self/status; readlink /proc/self/ns/user /proc/self/ns/mnt; "
      .. "cat /proc/self/uid_map"
    local h = start("--caps net_bind_service", false, extra)
    local ok, out = exec(h, "/bin/sh -c " .. q(SHOW .. "; " .. extra))
    local want = payload_output(h)
    stop(h)
    assert.is_true(ok, out)
    assert.matches("CapBnd:%s+0+400\n", out)
    assert.matches("CapEff:%s+0+400\n", out)
    assert.equal(want, out)
  end)

  it("works rootless and shows the same uid, CapBnd, hostname and cgroups", function()
    local h = start("--hostname rlbox", true, "readlink /proc/self/ns/user /proc/self/ns/mnt")
    local rec = h.rec
    local ok, out, code = exec(h, "/bin/sh -c " .. q(SHOW .. "; readlink /proc/self/ns/user /proc/self/ns/mnt"))
    local want = payload_output(h)
    stop(h)
    assert.is_truthy(rec, "no rootless state record in " .. rootless_state())
    assert.equal("rootless", rec.info.user_mode)
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.matches("^65534\nCapBnd:%s+0+\nrlbox\n", out)
    assert.equal(want, out)
  end)

  it("refuses a rootless container that keeps capabilities, with exit 125", function()
    local h = start("--caps net_bind_service", true)
    local ok, out, code = exec(h, "/bin/true")
    stop(h)
    assert.is_false(ok)
    assert.equal(125, code, out)
    assert.matches("keeps capabilities in a nested user namespace", out, 1, true)
  end)

  it("passes exit codes: the command's own, 128+N, 127, 126", function()
    local h = start("", not helper.is_root())
    local _, o1, c1 = exec(h, "/bin/sh -c 'exit 3'")
    local _, o2, c2 = exec(h, "/bin/sh -c 'kill -KILL $$'")
    local _, o3, c3 = exec(h, "/nonexistent/cmd")
    local _, o4, c4 = exec(h, "no-such-command-here")
    local _, o5, c5 = exec(h, "/etc/passwd")
    local rec = h.rec
    local _, o6, c6 = helper.sh(("cd /tmp; %s exec %s -- /bin/true"):format(nslua_cmd(h.rootless), rec.id))
    stop(h)
    assert.equal(3, c1, o1)
    assert.equal(137, c2, o2)
    assert.equal(127, c3, o3)
    assert.matches("exec: /nonexistent/cmd: No such file or directory", o3, 1, true)
    assert.equal(127, c4, o4)
    assert.equal(126, c5, o5)
    assert.matches("Permission denied", o5, 1, true)
    assert.equal(0, c6, o6)   -- by id as well as by name
  end)

  it("forwards SIGTERM to the exec'd command: exit 143, as root and rootless", function()
    for _, rootless in ipairs(helper.is_root() and { false, true } or { true }) do
      local h = start("", rootless)
      -- SIGTERM once the exec'd command runs (it says so), however slow the host
      local up = h.dir .. "/exec-up"
      local _, out, code = helper.sh(("cd /tmp; %s exec %s -- /bin/sh -c 'echo up; exec /bin/sleep 100' > %s & p=$!; "
        .. "i=0; until grep -q up %s || [ $i -ge 300 ]; do sleep 0.05; i=$((i+1)); done; kill -TERM $p; wait $p")
        :format(nslua_cmd(h.rootless), h.name, q(up), q(up)))
      stop(h)
      assert.equal(143, code, out)
    end
  end)

  it("exits 125 for an unknown target and bad usage", function()
    local ok, out, code = helper.sh(N .. " exec no-such-container-" .. unique("x") .. " -- /bin/true")
    assert.is_false(ok)
    assert.equal(125, code)
    assert.matches("nslua: exec: no container 'no%-such%-container%-", out)
    local _
    _, out, code = helper.sh(N .. " exec somename")
    assert.equal(125, code)
    assert.matches("missing command", out, 1, true)
    _, out, code = helper.sh(N .. " exec")
    assert.equal(125, code, out)
    _, out, code = helper.sh(N .. " exec --env NOEQUALS x -- /bin/true")
    assert.equal(125, code)
    assert.matches("is not K=V", out, 1, true)
  end)

  it("exits 125 for a container that is no longer running #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local h = start("")
    local rec = h.rec
    -- SIGKILL: nslua cannot clean up; the init dies with it (pdeathsig)
    os.execute("kill -KILL " .. h.pid)
    wait_until(function() return not state.alive(rec.info.init_pid, rec.info.init_start) end, 15)
    local ok, out, code = exec(h, "/bin/true")
    helper.sh(N .. " gc")
    helper.rmtree(h.dir)
    assert.is_false(ok)
    assert.equal(125, code, out)
    -- a concurrent start may have swept the stale record already
    assert.is_truthy(out:find("is not running", 1, true) or out:find("no container", 1, true), out)
    assert.is_nil(record(h))
  end)
end)

describe("Container:exec", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  local function api(code)
    local run = helper.is_root() and helper.run_isolated or helper.run_rootless
    local ok, out, rc = run("local nslua = require 'nslua'\n" .. code)
    -- the scripts print "id <id>" first; the id log has it too
    local id = out:match("^id (%w+)\n")
    if id then tracker.ids[#tracker.ids + 1] = id end
    return ok, out:gsub("^id %w+\n", ""), rc
  end

  it("refuses a container whose syscalls go to Lua handlers, never lifting them", function()
    -- the handled getppid would be merely allowed in a filter compiled
    -- without its handlers: the exec'd command would escape them
    local pdir = helper.tmpdir("0755")
    local prof = pdir .. "/h.lua"
    local f = assert(io.open(prof, "w"))
    f:write('return { base = "default", notify = { getppid = function() return "value", 4242 end } }\n')
    f:close()
    os.execute("chmod 0644 " .. q(prof))
    local h = start("--seccomp " .. q(prof), false, "echo ppid=$PPID")
    local ok, out, code = exec(h, "/bin/sh -c 'echo ppid=$PPID'")
    local shown = payload_output(h)
    stop(h)
    helper.rmtree(pdir)
    assert.matches("ppid=4242", shown)
    assert.is_false(ok)
    assert.equal(125, code)
    assert.matches("exec: container '[^']*': its syscalls go to Lua handlers", out)
    assert.not_matches("ppid=", out)
  end)

  it("loads the command's own programs, never a profile file the payload rewrote #priv", function()
    if not helper.is_root() then return pending("needs root") end
    -- the profile sits in a directory the payload writes (a rw bind): it
    -- turns it into one that would run code as root in the exec's caller
    local pdir = helper.tmpdir("0755")
    local prof = pdir .. "/p.lua"
    local f = assert(io.open(prof, "w"))
    f:write('return { default = "allow", syscalls = { { names = { "mkdir", "mkdirat" }, action = "errno", '
      .. 'errno = 1 } } }\n')
    f:close()
    os.execute("chmod 0666 " .. q(prof))
    local pwned = pdir .. "/pwned"
    local evil = ('os.execute("touch %s") return { default = "allow" }'):format(pwned)
    local h = start(("--bind %s /w --seccomp %s"):format(q(pdir), q(prof)), false,
      ("printf '%%s' %s > /w/p.lua"):format(q(evil)))
    local ok, out = exec(h, "/bin/sh -c 'mkdir /tmp/zz && echo made || echo refused'")
    local shown = payload_output(h)
    stop(h)
    local rewritten = helper.read(prof)
    local pwn = helper.exists(pwned)
    helper.rmtree(pdir)
    assert.equal(evil, rewritten, shown)
    assert.is_true(ok, out)
    assert.matches("refused", out)
    assert.not_matches("made", out)
    assert.is_false(pwn, "the rewritten profile ran in the exec's caller")
  end)

  it("keeps the command's raw programs (--add-seccomp-fd) and umask", function()
    local pdir = helper.tmpdir("0755")
    local ok, out = api(([[
      local bpf = assert(require("nslua.seccomp").compile { default = "allow",
        syscalls = { { names = { "mkdir", "mkdirat" }, action = "errno", errno = 1 } } })
      local c = nslua.container{ argv = { "/bin/sleep", "60" }, seccomp = "none", seccomp_bpf = { bpf },
                                 umask = 63 }
      assert(c:start())
      print("id " .. c.id)
      local r = assert(c:exec({ "/bin/sh", "-c", "umask; grep Seccomp: /proc/self/status; " ..
        "mkdir /tmp/zz && echo made || echo refused" }))
      print(r.status, r.exit_code)
      assert(c:kill(9))
      print(c:wait().status)
    ]]))
    helper.rmtree(pdir)
    assert.is_true(ok, out)
    assert.matches("0077\nSeccomp:%s+2\n", out)
    assert.matches("refused", out)
    assert.not_matches("made", out)
  end)

  it("refuses a container whose kept programs are gone, never running without them", function()
    local ok, out = api([[
      local bpf = assert(require("nslua.seccomp").compile { default = "allow",
        syscalls = { { names = { "mkdir", "mkdirat" }, action = "errno", errno = 1 } } })
      local c = nslua.container{ argv = { "/bin/sleep", "60" }, seccomp = "none", seccomp_bpf = { bpf } }
      assert(c:start())
      print("id " .. c.id)
      local dir = c:state_dir()
      os.remove(dir .. "/seccomp")
      print(c:exec({ "/bin/sh", "-c", "mkdir /tmp/zz && echo made" }))
      -- a file written over with fewer programs than the record says
      local f = assert(io.open(dir .. "/seccomp", "w"))
      f:write("nslua-seccomp 1\nend\n")
      f:close()
      print(c:exec({ "/bin/sh", "-c", "mkdir /tmp/zz && echo made" }))
      assert(c:kill(9))
      print(c:wait().status)
    ]])
    assert.is_true(ok, out)
    assert.matches("nil\texec: container '[%w-]+': its seccomp programs: missing", out)
    assert.matches("nil\texec: container '[%w-]+': its seccomp programs: it holds other programs", out)
    assert.not_matches("made", out)
  end)

  it("refuses CAP_SETFCAP and CAP_FSETID to an exec beside a set-id guard #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local src = helper.tmpdir("0755")
    local ok, out = api(([[
      local c = nslua.container{ argv = { "/bin/sleep", "60" }, caps = { "cap_chown" },
        mounts = { { type = "bind", source = %q, target = "/x", idmap = "auto" } } }
      assert(c:start())
      print("id " .. c.id)
      for _, caps in ipairs { { "cap_setfcap" }, { "CAP_FSETID" } } do
        local r, err = c:exec({ "/bin/true" }, { caps = caps })
        print(r, err)
      end
      local r = assert(c:exec({ "/bin/true" }, { caps = { "cap_chown" } }))
      print(r.status)
      assert(c:kill(9))
      print(c:wait().status)
    ]]):format(src))
    helper.rmtree(src)
    assert.is_true(ok, out)
    assert.matches("^nil\texec: caps: CAP_SETFCAP in container '[%w-]+', whose read%-write idmapped", out)
    assert.matches("\nnil\texec: caps: CAP_FSETID in container", out)
    assert.matches("\nexited\nsignaled\n$", out)
  end)

  it("refuses at once caps for a container that keeps none #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = api([[
      local proc = require("nslua.core").proc
      local c = nslua.container{ argv = { "/bin/sleep", "60" } }
      assert(c:start())
      print("id " .. c.id)
      local t0 = proc.now()
      local r, err, code = c:exec({ "/bin/true" }, { caps = { "cap_chown" } })
      print(r, err, code, proc.now() - t0 < 1)
      print(assert(c:exec({ "/bin/true" })).status)
      assert(c:kill(9))
      print(c:wait().status)
    ]])
    assert.is_true(ok, out)
    assert.matches("^nil\texec: caps: container '[%w-]+' keeps no capabilities, so its command has no nested "
      .. "user namespace for them %(start it with the capabilities%)\t22\ttrue\nexited\nsignaled\n$", out)
  end)

  it("runs a command in the container and leaves the caller's namespaces alone", function()
    local ok, out = api([[
      local ns = require("nslua.core").ns
      local c = nslua.container{ hostname = "apibox", argv = { "/bin/sleep", "60" } }
      assert(c:start())
      print("id " .. c.id)
      local mine = {}
      for _, t in ipairs { "mnt", "pid", "user", "uts", "net" } do mine[t] = ns.id(0, t) end
      local r = assert(c:exec({ "/bin/sh", "-c", "hostname; id -u; exit 3" }))
      print(r.status, r.exit_code, type(r.wall_s))
      local r2 = assert(c:exec({ "no-such-command" }, { env = { A = "1" } }))
      print(r2.status, r2.exit_code, r2.error.step)
      local r3 = assert(c:exec({ "/bin/sh", "-c", "echo $A $HOME; pwd" }, { env = { A = "b" }, cwd = "/tmp" }))
      print(r3.status, r3.exit_code)
      for _, t in ipairs { "mnt", "pid", "user", "uts", "net" } do
        assert(ns.id(0, t) == mine[t], "the caller moved to another " .. t .. " namespace")
      end
      print(pcall(c.exec, c, "not a list"))
      assert(c:kill(9))
      local rep = c:wait()
      print(rep.status, rep.signal)
      print(c:exec({ "/bin/true" }))
    ]])
    assert.is_true(ok, out)
    assert.equal("apibox\n65534\nexited\t3\tnumber\nerror\t127\texecve\nb /\n/tmp\nexited\t0\n"
      .. "false\texec: argv must be a non-empty list of strings\n"
      .. "signaled\t9\nnil\texec: the container is not running\t3\n", out:gsub("%S*%.lua:%d+: ", ""))
  end)

  it("joins the limit cgroups of a container started from the API #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = api([[
      local c = nslua.container{ argv = { "/bin/sh", "-c", "cat /proc/self/cgroup > /tmp/cg; exec sleep 60" },
                                 limits = { pids = 8 } }
      assert(c:start())
      print("id " .. c.id)
      local r
      for _ = 1, 200 do
        r = assert(c:exec({ "/bin/sh", "-c",
          "test -s /tmp/cg && cat /proc/self/cgroup | cmp -s - /tmp/cg && grep -c nslua- /tmp/cg" }))
        if r.exit_code == 0 then break end
        os.execute("sleep 0.02")
      end
      print(r.status, r.exit_code)
      c:kill(9)
      c:wait()
    ]])
    assert.is_true(ok, out)
    assert.matches("^%d+\nexited\t0\n$", out)
  end)
end)

describe("nslua.exec.parse_record", function()
  local ex = require "nslua.exec"

  it("reads the lists of a state record and normalises infinite rlimits", function()
    local info = state.decode(state.encode {
      env = { "HOME=/", "PATH=/bin", "X=a=b" }, rlimits = { "core=0", "nofile=inf", "fsize=1e+309", "stack=8388608" },
      caps = { "net_raw", "chown" }, namespaces = { "mnt", "pid" }, uid = 1000, gid = 1001,
      cwd = "/srv", seccomp = "default", user_mode = "slot", cgroup_dirs = {},
    })
    local r = assert(ex.parse_record(info))
    assert.same({ "HOME=/", "PATH=/bin", "X=a=b" }, r.env)
    assert.same({ core = 0, nofile = math.huge, fsize = math.huge, stack = 8388608 }, r.rlimits)
    assert.equal(math.type(r.rlimits.stack), "integer")
    assert.same({ "net_raw", "chown" }, r.caps)
    assert.same({ mnt = true, pid = true }, r.namespaces)
    assert.same({}, r.cgroup_dirs)
    assert.equal(1000, r.uid)
    assert.equal(1001, r.gid)
    assert.equal("/srv", r.cwd)
    assert.equal("slot", r.user_mode)
    local bad, err = ex.parse_record { rlimits = "core=lots" }
    assert.is_nil(bad)
    assert.equal("bad rlimit 'core=lots' in the state record", err)
  end)

  it("raises on misuse of exec", function()
    assert.has_error(function() ex.exec("x", {}) end, "exec: argv must be a non-empty list of strings")
    assert.has_error(function() ex.exec("x", { "/bin/true" }, { nope = 1 }) end,
      "exec: unknown option 'nope' (valid: cap_sets caps console cwd detach env env_only gid groups "
        .. "no_new_privs rlimits seccomp seccomp_listener uid umask)")
    assert.has_error(function() ex.exec(42, { "/bin/true" }) end,
      "exec: the target must be a container id or name")
  end)
end)
