-- spec/bwrap_ns_spec.lua - the spec fields behind bubblewrap's namespace
-- and filter fd options, on real kernel objects: seccomp_bpf (--seccomp,
-- --add-seccomp-fd: raw classic BPF programs loaded after the profile),
-- userns.fd (--userns), userns.after (--userns2), userns.disable
-- (--disable-userns), userns.assert_disabled (--assert-userns-disabled)
-- and pidns_fd (--pidns).  The namespaces joined are held by processes the
-- tests start and end themselves; each test checks they are gone.
local helper = require "helper"
local validate = require "nslua.validate"

local q = helper.quote

teardown(function()
  helper.cleanup_rootless_tree()
end)

-- Containers run in a fresh lua5.4 (the busted process never clones);
-- run(spec) returns the report, line(...) prints one result line.
local PRELUDE = [[
local nslua = require "nslua"
local core = require "nslua.core"
local function run(spec)
  local r, err = nslua.container(spec):run()
  assert(r, err)
  return r
end
local function line(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  io.stdout:write(table.concat(t, " "), "\n")
  io.stdout:flush()
end
]]

local function isolated(code)
  local ok, out = helper.run_isolated(PRELUDE .. code)
  assert.is_true(ok, out)
  return out
end

local function uname_m()
  local f = io.popen("uname -m")
  local m = f:read("l")
  f:close()
  return m
end

-- ------------------------------------------------------------ BPF programs

-- A hand-assembled classic BPF program (x86_64): syscalls 'nrs' fail with
-- errno 'err', everything else is allowed; another arch is allowed.
local function deny(nrs, err)
  local function insn(code, jt, jf, k) return string.pack("<I2BBI4", code, jt, jf, k) end
  local LD_ABS, JEQ, RET = 0x20, 0x15, 0x06
  local n = #nrs
  local t = { insn(LD_ABS, 0, 0, 4), insn(JEQ, 0, n + 2, 0xc000003e), insn(LD_ABS, 0, 0, 0) }
  for i, nr in ipairs(nrs) do t[#t + 1] = insn(JEQ, n - i, i == n and 1 or 0, nr) end
  t[#t + 1] = insn(RET, 0, 0, 0x00050000 | err)
  t[#t + 1] = insn(RET, 0, 0, 0x7fff0000)
  return table.concat(t)
end

local NR = { mkdir = 83, mkdirat = 258, symlink = 88, symlinkat = 266 }
local EPERM, EACCES = 1, 13

-- As the shell reports each call: 0, or 1 when it failed.
local PROBE = "mkdir /tmp/d 2>/dev/null; echo mkdir=$?; ln -s x /tmp/l 2>/dev/null; echo ln=$?; " ..
  "touch /tmp/f; echo touch=$?"

describe("seccomp_bpf", function()
  it("is validated: a list of strings of whole instructions, at most 4096", function()
    local s, errs = validate.check { argv = { "/bin/true" },
      seccomp_bpf = { "1234567", 5, "", ("\0"):rep(8 * 4097), ("\0"):rep(8) } }
    assert.is_nil(s)
    assert.same({
      "seccomp_bpf[1]: must be a classic BPF program: a positive multiple of 8 bytes, " ..
        "at most 4096 instructions (it has 7 bytes)",
      "seccomp_bpf[2]: must be a string (a BPF program)",
      "seccomp_bpf[3]: must be a classic BPF program: a positive multiple of 8 bytes, " ..
        "at most 4096 instructions (it has 0 bytes)",
      "seccomp_bpf[4]: must be a classic BPF program: a positive multiple of 8 bytes, " ..
        "at most 4096 instructions (it has 32776 bytes)",
    }, errs)
    s, errs = validate.check { seccomp_bpf = "x" }
    assert.is_nil(s)
    assert.same({ "seccomp_bpf: must be a list of BPF programs (strings)" }, errs)
    s = assert(validate.check { seccomp_bpf = { ("\0"):rep(16) } })
    assert.same({ ("\0"):rep(16) }, s.seccomp_bpf)
    assert.same(s, validate.check(s))
  end)

  it("a malformed program is exit 125 naming seccomp_bpf[i] #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dir = helper.tmpdir("0755")
    local recipe = dir .. "/bad.lua"
    local f = assert(io.open(recipe, "w"))
    f:write('return { argv = { "/bin/true" }, seccomp_bpf = { ("\\0"):rep(8), "1234567" } }\n')
    f:close()
    local _, out, rc = helper.sh(helper.nslua .. " " .. q(recipe))
    helper.rmtree(dir)
    assert.equal(125, rc, out)
    assert.matches("seccomp_bpf%[2%]: must be a classic BPF program", out)
    assert.not_matches("traceback", out)
  end)

  describe("loaded in the exec tail #priv", function()
    local dir
    setup(function()
      dir = helper.tmpdir("0755")
    end)
    teardown(function() helper.rmtree(dir) end)

    local function skip()
      if not helper.is_root() then return pending("needs root") end
      if uname_m() ~= "x86_64" then return pending("the hand-assembled programs are x86_64's") end
    end

    it("a program makes its syscalls fail inside, after the profile", function()
      if skip() then return end
      local out = isolated(([[
        local prog = %q
        for _, profile in ipairs { "none", "default" } do
          local r = run { argv = { "/bin/sh", "-c", %q }, seccomp = profile, seccomp_bpf = { prog } }
          line(profile, r.status, r.exit_code)
        end
        local r = run { argv = { "/bin/sh", "-c", %q }, seccomp = "none" }
        line("without", r.status, r.exit_code)
      ]]):format(deny({ NR.mkdir, NR.mkdirat }, EPERM), PROBE, PROBE))
      assert.equal(table.concat({
        "mkdir=1", "ln=0", "touch=0", "none exited 0",
        "mkdir=1", "ln=0", "touch=0", "default exited 0",
        "mkdir=0", "ln=0", "touch=0", "without exited 0", "" }, "\n"), out)
    end)

    it("programs stack in order, a compiled profile's BPF among them", function()
      if skip() then return end
      local out = isolated(([[
        local S = require "nslua.seccomp"
        local p1 = %q
        local p2 = assert(S.compile { default = "allow",
          syscalls = { { names = { "symlink", "symlinkat" }, action = "errno", errno = %d } } })
        local r = run { argv = { "/bin/sh", "-c", %q }, seccomp = "none", seccomp_bpf = { p1, p2 } }
        line(r.status, r.exit_code)
        local f = io.open(%q, "wb") f:write(p2) f:close()
      ]]):format(deny({ NR.mkdir, NR.mkdirat }, EPERM), EACCES, PROBE, dir .. "/p2.bpf"))
      assert.equal("mkdir=1\nln=1\ntouch=0\nexited 0\n", out)
    end)

    it("does what bwrap --seccomp and --add-seccomp-fd do with the same programs", function()
      if skip() then return end
      if not helper.exists("/usr/bin/bwrap") then return pending("no /usr/bin/bwrap") end
      local p1, p2 = dir .. "/p1.bpf", dir .. "/p2.bpf"
      local f = assert(io.open(p1, "wb"))
      f:write(deny({ NR.mkdir, NR.mkdirat }, EPERM))
      f:close()
      f = assert(io.open(p2, "wb"))
      f:write(deny({ NR.symlink, NR.symlinkat }, EACCES))
      f:close()
      local bw = "/usr/bin/bwrap --ro-bind / / --tmpfs /tmp --dev /dev "
      local ok1, one = helper.sh(("%s --seccomp 9 /bin/sh -c %s 9<%s"):format(bw, q(PROBE), q(p1)))
      local ok2, two = helper.sh(("%s --add-seccomp-fd 9 --add-seccomp-fd 8 /bin/sh -c %s 9<%s 8<%s")
        :format(bw, q(PROBE), q(p1), q(p2)))
      assert.is_true(ok1, one)
      assert.is_true(ok2, two)
      local out = isolated(([[
        local function read(p) local f = assert(io.open(p, "rb")) local s = f:read("a") f:close() return s end
        local p1, p2 = read(%q), read(%q)
        run { argv = { "/bin/sh", "-c", %q }, seccomp = "none", seccomp_bpf = { p1 } }
        run { argv = { "/bin/sh", "-c", %q }, seccomp = "none", seccomp_bpf = { p1, p2 } }
      ]]):format(p1, p2, PROBE, PROBE))
      assert.equal("mkdir=1\nln=0\ntouch=0\n", one)
      assert.equal("mkdir=1\nln=1\ntouch=0\n", two)
      assert.equal(one .. two, out)
    end)

    it("a program the kernel refuses (EINVAL) is a set-up error naming it", function()
      if skip() then return end
      local out = isolated(([[
        local bad = string.pack("<I2BBI4", 0xffff, 0, 0, 0)
        local r = run { argv = { "/bin/true" }, seccomp = "none", seccomp_bpf = { %q, bad } }
        line(r.status, r.error.step, r.error.errno == core.errno.EINVAL, r.error.detail)
        line(require("nslua.report").exit_code(r))
      ]]):format(deny({ NR.mkdir }, EPERM)))
      assert.equal("error seccomp true seccomp_bpf[2]\n125\n", out)
    end)
  end)
end)

-- ------------------------------------------------------- held namespaces

-- Start 'cmd' in the background (its output to /dev/null); its pid.
local function background(cmd)
  local ok, out = helper.sh(cmd .. " >/dev/null 2>&1 </dev/null & echo $!")
  assert(ok, out)
  return assert(tonumber(out:match("(%d+)")), out)
end

local function readlink(path)
  local f = io.popen("readlink " .. q(path))
  local s = f:read("l")
  f:close()
  return s
end

-- A user namespace (root mapped to root) held by a sleep the test ends.
local function held_userns()
  local pid = background("unshare --user --map-root-user sleep 300")
  assert.truthy(helper.wait_until(function()
    local l = readlink("/proc/" .. pid .. "/ns/user")
    return l and l ~= readlink("/proc/self/ns/user")
  end))
  return pid, readlink("/proc/" .. pid .. "/ns/user")
end

-- A pid namespace held by a sleep (its init); unshare kills it when it ends.
local function held_pidns()
  local upid = background("unshare --pid --fork --kill-child --mount-proc sleep 300")
  local pid = helper.wait_until(function()
    local c = helper.children_of(upid)
    return c[1] and readlink("/proc/" .. c[1] .. "/ns/pid") ~= readlink("/proc/self/ns/pid") and c[1]
  end)
  assert.truthy(pid)
  return upid, pid, readlink("/proc/" .. pid .. "/ns/pid")
end

local function finish(...)
  -- SIGKILL: a pid namespace's init gets only that from outside
  for _, pid in ipairs { ... } do os.execute("kill -9 " .. pid .. " 2>/dev/null") end
  for _, pid in ipairs { ... } do
    assert.truthy(helper.wait_until(function() return not helper.pid_alive(pid) end), "pid " .. pid)
  end
end

describe("userns", function()
  it("is validated: fields, and the combinations that cannot work", function()
    local function errs(spec)
      spec.argv = { "/bin/true" }
      local _, e = validate.check(spec)
      return e
    end
    assert.same({ "userns.after: must be a file descriptor (an integer >= 0)",
                  "userns.bogus: unknown field",
                  "userns.disable: must be a boolean",
                  "userns.fd: must be a file descriptor (an integer >= 0)" },
      errs { userns = { fd = -1, after = "x", disable = 1, bogus = true } })
    assert.same({ 'userns.fd: requires a user namespace (not user = "host")' },
      errs { user = "host", userns = { fd = 3 } })
    assert.same({ "userns.disable: conflicts with userns.after",
                  "userns.disable: requires a new user namespace (conflicts with userns.fd)" },
      errs { userns = { fd = 3, after = 4, disable = true } })
    assert.same({ 'userns.disable: requires a user namespace (not user = "host")' },
      errs { user = "host", userns = { disable = true } })
    assert.same({ "userns.disable: requires a mount namespace (namespaces.mnt)" },
      errs { namespaces = { mnt = false }, userns = { disable = true } })
    assert.same({ "mounts[1]: bind-idmap needs a user namespace nslua makes (not userns.fd)" },
      errs { userns = { fd = 3 }, mounts = { { type = "bind-idmap", source = "/tmp", target = "/t" } } })
    assert.same({ "pidns_fd: must be a file descriptor (an integer >= 0)" }, errs { pidns_fd = "3" })
    -- joined: the ids are the namespace's unless the spec gives them
    local s = assert(validate.check { argv = { "/bin/true" }, userns = { fd = 3 } })
    assert.is_nil(s.user.uid)
    assert.same(s, validate.check(s))
    s = assert(validate.check { argv = { "/bin/true" }, user = { uid = 0 },
                                userns = { fd = 3, assert_disabled = true } })
    assert.equal(0, s.user.uid)
    assert.is_nil(s.user.gid)
    assert.same({ fd = 3, assert_disabled = true }, s.userns)
    assert.same(s, validate.check(s))
    -- assert_disabled alone needs nothing; proc with pidns_fd needs no new pid namespace
    assert(validate.check { argv = { "/bin/true" }, user = "host", userns = { assert_disabled = true } })
    assert(validate.check { argv = { "/bin/true" }, namespaces = { pid = false }, pidns_fd = 3,
                            mounts = { { type = "proc", target = "/proc" } } })
  end)

  it("disable: the command cannot make a user namespace, nor raise the limit back #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local sh = "unshare -U true 2>/dev/null; echo unshare=$?; " ..
      "{ echo 100 > /proc/sys/user/max_user_namespaces; } 2>/dev/null; echo write=$?; " ..
      "unshare -U true 2>/dev/null; echo again=$?"
    local out = isolated(([[
      for _, spec in ipairs {
        { seccomp = "none" },
        { seccomp = "none", userns = { disable = true } },
        { seccomp = "none", userns = { disable = true }, caps = { "sys_resource", "sys_admin" } },
        { seccomp = "none", userns = { disable = true, assert_disabled = true }, user = { uid = 0 } },
      } do
        spec.argv = { "/bin/sh", "-c", %q }
        local r = run(spec)
        line(r.status, r.exit_code)
      end
    ]]):format(sh))
    assert.equal(table.concat({
      "unshare=0", "write=2", "again=0", "exited 0",
      "unshare=1", "write=2", "again=1", "exited 0",
      "unshare=1", "write=2", "again=1", "exited 0",
      "unshare=1", "write=2", "again=1", "exited 0", "" }, "\n"), out)
  end)

  it("disable and assert_disabled work rootless", function()
    local ok, out = helper.run_rootless(PRELUDE .. [[
      for _, un in ipairs { { disable = true, assert_disabled = true }, { assert_disabled = true } } do
        local r = run { seccomp = "none", userns = un,
                        argv = { "/bin/sh", "-c", "unshare -U true 2>/dev/null; echo unshare=$?" } }
        line(r.status, r.exit_code, r.error and r.error.message)
      end
    ]])
    assert.is_true(ok, out)
    assert.equal("unshare=1\nexited 0 nil\n" ..
      "error nil creation of new user namespaces was not disabled as requested\n", out)
  end)

  it("disable rests on the kernel: a limit raised in the nested namespace is not ours #priv", function()
    if not helper.is_root() then return pending("needs root") end
    -- what the executor does, by hand, in a throwaway process: the
    -- nested namespace may raise its own max_user_namespaces, in vain
    local ok, out = helper.run_isolated([[
      local core = require "nslua.core"
      local ns, E = core.ns, core.errno
      local sysctl = "/proc/sys/user/max_user_namespaces"
      local function write(v) local f = assert(io.open(sysctl, "w")) f:write(v) return f:close() end
      -- a new user namespace with our ids (root) mapped, as its creator may
      local function enter()
        assert(ns.unshare { user = true })
        assert(ns.write_id_map(0, "uid", { { 0, 0, 1 } }))
        assert(ns.setgroups(0, "deny"))
        assert(ns.write_id_map(0, "gid", { { 0, 0, 1 } }))
      end
      enter()
      assert(write("1"))
      enter()
      assert(write("100"))
      local f = io.open(sysctl) print(f:read("l")) f:close()
      local ok, _, code = ns.unshare { user = true }
      print(ok, code == E.ENOSPC)
    ]])
    assert.is_true(ok, out)
    assert.equal("100\nnil\ttrue\n", out)
  end)

  it("assert_disabled: set-up fails unless making a user namespace is refused #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local out = isolated([[
      local report = require "nslua.report"
      for _, spec in ipairs {
        { seccomp = "none", userns = { assert_disabled = true } },
        { user = "host", userns = { assert_disabled = true } },
        { seccomp = "none", userns = { assert_disabled = true, disable = true } },
      } do
        spec.argv = { "/bin/true" }
        local r = run(spec)
        line(r.status, report.exit_code(r), r.error and r.error.step, r.error and r.error.message)
      end
    ]])
    local msg = "creation of new user namespaces was not disabled as requested"
    assert.equal(("error 125 userns %s\nerror 125 userns %s\nexited 0 nil nil\n"):format(msg, msg), out)
  end)

  it("fd: the sandbox joins the caller's user namespace, no maps written #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local pid, want = held_userns()
    local ok, out = pcall(isolated, ([[
      local fd = assert(core.proc.open("/proc/%d/ns/user", { rdonly = true }))
      local sh = "readlink /proc/self/ns/user; id -u; readlink /proc/self/ns/mnt"
      for _, spec in ipairs {
        { userns = { fd = fd:fileno() } },
        { userns = { fd = fd:fileno() }, user = { uid = 0, gid = 0 }, caps = { "chown" } },
        { userns = { fd = fd:fileno(), assert_disabled = true } },
      } do
        spec.argv = { "/bin/sh", "-c", sh }
        local c = nslua.container(spec)
        local plan = assert(c:plan())
        line(plan.identity.mode, table.concat(plan.namespaces, ","), plan.nested_userns == nil)
        local r = assert(c:run())
        line(r.status, r.exit_code, r.error and r.error.message)
      end
    ]]):format(pid))
    finish(pid)
    assert.is_true(ok, out)
    local mnt = readlink("/proc/self/ns/mnt")
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.equal("join cgroup,ipc,mnt,net,pid,uts true", lines[1])
    assert.equal(want, lines[2])
    assert.equal("0", lines[3])
    assert.not_equal(mnt, lines[4])
    assert.equal("exited 0 nil", lines[5])
    assert.equal(want, lines[7])
    assert.equal("exited 0 nil", lines[10])
    -- the joined namespace maps root: making another one works there
    assert.equal("error nil creation of new user namespaces was not disabled as requested", lines[12])
  end)

  it("after: the command ends in the caller's user namespace, set-up in its own #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local pid, want = held_userns()
    local ok, out = pcall(isolated, ([[
      local fd = assert(core.proc.open("/proc/%d/ns/user", { rdonly = true }))
      local r = run { user = "host", userns = { after = fd:fileno() },
                      argv = { "/bin/sh", "-c", "readlink /proc/self/ns/user" } }
      line(r.status, r.exit_code)
    ]]):format(pid))
    finish(pid)
    assert.is_true(ok, out)
    assert.equal(want .. "\nexited 0\n", out)
  end)
end)

describe("userns.fd: the joined namespace's binds stay locked", function()
  -- host root opening bind trees would leave them unlocked, and a payload
  -- with capabilities in the joined namespace (which owns the mounts)
  -- could then unmount what covers a host path or make a read-only bind
  -- writable; bound by path in the child, the kernel locks them (as
  -- bubblewrap's are)
  it("a payload with every capability cannot unmount or remount them #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dir = helper.tmpdir("0755")
    local ok, out = helper.sh(("unshare -m --propagation private sh -c %s"):format(q(([[
      mount -t tmpfs t %s && mkdir %s/hidden %s/ro && echo secret > %s/hidden/s &&
      mount -t tmpfs t2 %s/hidden && mount --bind %s/ro %s/ro && mount -o remount,bind,ro %s/ro || exit 9
      unshare -U --map-root-user sleep 30 & P=$!
      i=0; while [ "$(readlink /proc/$P/ns/user)" = "$(readlink /proc/self/ns/user)" ] && [ $i -lt 100 ]; do
        sleep 0.02; i=$((i+1)); done
      %s bwrap --userns 5 --ro-bind / / --dev /dev --bind %s /mnt --proc /proc --unshare-pid --cap-add ALL sh -c         'umount /mnt/hidden 2>/dev/null && cat /mnt/hidden/s; mount -o remount,bind,rw /mnt/ro 2>/dev/null &&
         echo writable; echo done' 5</proc/$P/ns/user
      kill -9 $P]]):format(dir, dir, dir, dir, dir, dir, dir, dir, helper.nslua, dir))))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("done\n", out)
  end)
end)

describe("pidns_fd", function()
  it("the sandbox is born in the caller's pid namespace (its proc shows it) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local upid, pid, want = held_pidns()
    local ok, out = pcall(isolated, ([[
      local fd = assert(core.proc.open("/proc/%d/ns/pid", { rdonly = true }))
      local r = run { user = "host", namespaces = { pid = false }, pidns_fd = fd:fileno(),
                      mounts = { { type = "proc", target = "/proc" } },
                      argv = { "/bin/sh", "-c", "readlink /proc/self/ns/pid; ls /proc | grep -c '^[0-9]'" } }
      line(r.status, r.exit_code)
    ]]):format(pid))
    finish(pid, upid)
    assert.is_true(ok, out)
    local got, n, rest = out:match("^([^\n]*)\n(%d+)\n(.*)$")
    assert.equal(want, got, out)
    -- the held sleep, the init, sh, ls, grep: nothing of the host's
    assert.is_true(tonumber(n) >= 3 and tonumber(n) < 10, out)
    assert.equal("exited 0\n", rest)
  end)

  it("with userns.fd, the pid and user namespaces of another sandbox (bwrap --userns --pidns) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local upid = background("unshare --user --map-root-user --pid --fork --kill-child sleep 300")
    local pid = helper.wait_until(function()
      local c = helper.children_of(upid)
      return c[1] and readlink("/proc/" .. c[1] .. "/ns/pid") ~= readlink("/proc/self/ns/pid") and c[1]
    end)
    assert.truthy(pid)
    local want = readlink("/proc/" .. pid .. "/ns/pid") .. "\n" .. readlink("/proc/" .. pid .. "/ns/user")
    local ok, out = pcall(isolated, ([[
      local u = assert(core.proc.open("/proc/%d/ns/user", { rdonly = true }))
      local p = assert(core.proc.open("/proc/%d/ns/pid", { rdonly = true }))
      local r = run { userns = { fd = u:fileno() }, pidns_fd = p:fileno(), namespaces = { pid = false },
                      mounts = { { type = "proc", target = "/proc" } },
                      argv = { "/bin/sh", "-c", "readlink /proc/self/ns/pid /proc/self/ns/user" } }
      line(r.status, r.exit_code)
    ]]):format(pid, pid))
    finish(pid, upid)
    assert.is_true(ok, out)
    assert.equal(want .. "\nexited 0\n", out)
  end)

  it("with namespaces.pid the new pid namespace is a child of it #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local upid, pid, want = held_pidns()
    local ok, out = pcall(isolated, ([[
      local fd = assert(core.proc.open("/proc/%d/ns/pid", { rdonly = true }))
      local c = nslua.container { pidns_fd = fd:fileno(), seccomp = "none",
        mounts = { { type = "bind", source = "/proc", target = "/hostproc" } },
        argv = { "/bin/sh", "-c", "readlink /proc/self/ns/pid; grep NSpid /hostproc/self/status" } }
      local init = assert(c:start())
      line("init", init)
      local r = c:wait()
      line(r.status, r.exit_code)
    ]]):format(pid))
    finish(pid, upid)
    assert.is_true(ok, out)
    -- the payload writes to the same stdout as the parent's "init" line,
    -- so the two may come in either order
    local init = out:match("init (%d+)\n")
    local pidns = out:match("(pid:%[%d+%])\n")
    local nspid = out:match("NSpid:%s*([^\n]*)\n")
    assert.truthy(init and pidns and nspid, out)
    assert.truthy(out:match("exited 0\n$"), out)
    assert.not_equal(want, pidns)
    -- three levels: the host's, the held namespace's, the sandbox's own
    local levels = {}
    for n in nspid:gmatch("%d+") do levels[#levels + 1] = tonumber(n) end
    assert.equal(3, #levels, out)
  end)
end)
