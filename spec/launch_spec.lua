-- spec/launch_spec.lua - launch.plan is pure: a spec and resources in, plain
-- data out.  No kernel object is made here: resources are tables.
local launch = require "nslua.launch"
local validate = require "nslua.validate"

local function spec_of(t)
  t.argv = t.argv or { "/bin/true" }
  local s, errs = validate.check(t, { need_argv = true })
  assert(s, errs and table.concat(errs, "\n"))
  return s
end

-- Resources as a provider would hand them over (see resources.lua).
local function res_of(t)
  local r = { id = "abcd1234", privileged = true, host_uid = 1 << 30, host_gid = 1 << 30,
              trees = {}, sources = {}, lower_modes = {}, getenv = {},
              layout = { { name = "bin", link = "usr/bin" }, { name = "lib64", dir = true } } }
  for k, v in pairs(t or {}) do r[k] = v end
  return r
end

-- The steps of a plan touching 'path' (inside path), as "op" strings.
local function ops_on(plan, path)
  local out = {}
  for _, s in ipairs(plan.mounts.steps) do
    if s.path == launch.NEW .. path and s.op ~= "mkdir" and s.op ~= "mkfile" then
      out[#out + 1] = s.op .. (s.fstype and (":" .. s.fstype) or "") .. (s.tree and (":" .. s.tree) or "")
    end
  end
  return out
end

local function index_of(plan, pred)
  for i, s in ipairs(plan.mounts.steps) do
    if pred(s) then return i end
  end
end

describe("nslua.launch", function()
  describe("mount steps", function()
    it("keep the spec's order: a later step on the same path shadows an earlier one", function()
      local spec = spec_of { mounts = {
        { type = "tmpfs", target = "/x" },
        { type = "bind", source = "/etc", target = "/x" },
        { type = "bind", source = "/usr", target = "/y", ro = true },
        { type = "tmpfs", target = "/y" },
      } }
      local plan = launch.plan(spec, res_of { sources = { [2] = "dir", [3] = "dir" },
        trees = { ["mounts[2]"] = true } })
      assert.same({ "mount:tmpfs", "move:mounts[2]" }, ops_on(plan, "/x"))
      -- rootless (no tree): a bind by path, then its attributes, then the tmpfs
      assert.same({ "mount", "attr", "mount:tmpfs" }, ops_on(plan, "/y"))
    end)

    it("put the masks after every mount of the spec, and the read-only root last", function()
      local spec = spec_of { mounts = { { type = "dev-bind", source = "/usr", target = "/u" },
        { type = "bind", source = "/proc", target = "/proc" } } }
      local plan = launch.plan(spec, res_of { sources = { "dir", "dir" } })
      local last_bind = index_of(plan, function(s) return s.what == "/proc" and s.op == "attr" end)
      local first_mask = index_of(plan, function(s) return s.op == "mask" end)
      assert.is_truthy(last_bind)
      assert.is_truthy(first_mask)
      assert.is_true(first_mask > last_bind)
      local steps = plan.mounts.steps
      assert.same({ op = "attr", path = launch.NEW, set = { rdonly = true, nosuid = true, nodev = true }, what = "/" },
        steps[#steps])
    end)

    it("leave a mount of the spec on / its own attributes (a rw bind of / stays rw)", function()
      for _, m in ipairs {
        { type = "dev-bind", source = "/", target = "/" }, { type = "bind", source = "/", target = "/" },
        { type = "tmpfs", target = "/" }, { type = "overlay", lower = { "/usr" }, target = "/" },
      } do
        local spec = spec_of { mounts = { m, { type = "bind", source = "/proc", target = "/proc" } } }
        local plan = launch.plan(spec, res_of { sources = { "dir", "dir" } })
        local steps = plan.mounts.steps
        assert.is_truthy(index_of(plan, function(s) return s.op == "mask" end), m.type)
        assert.is_false(steps[#steps].op == "attr" and steps[#steps].what == "/", m.type)
      end
      -- a --bind-try of a missing source puts nothing there: the root ends read-only
      local spec = spec_of { mounts = { { type = "bind", source = "/nonexistent", target = "/", try = true } } }
      local steps = launch.plan(spec, res_of { sources = { false } }).mounts.steps
      assert.same({ op = "attr", path = launch.NEW, set = { rdonly = true, nosuid = true, nodev = true }, what = "/" },
        steps[#steps])
    end)

    -- The mask and read-only steps of a plan, as "op path" strings in order.
    local function protected(plan)
      local out = {}
      for _, st in ipairs(plan.mounts.steps) do
        if st.op == "mask" or st.op == "ro" then out[#out + 1] = st.op .. " " .. st.what end
      end
      return out
    end
    local function has(list, want)
      for _, v in ipairs(list) do if v == want then return true end end
      return false
    end

    it("mask /sys and make it read-only under a bind of / (or of any parent of /sys)", function()
      local spec = spec_of { mounts = { { type = "dev-bind", source = "/", target = "/" } } }
      local p = protected(launch.plan(spec, res_of { sources = { "dir" } }))
      for _, want in ipairs { "mask /sys/firmware", "mask /sys/devices/virtual/powercap", "ro /sys",
                              "mask /proc/kcore", "mask /proc/interrupts", "ro /proc/sys" } do
        assert.is_true(has(p, want), want .. " in " .. table.concat(p, ", "))
      end
      -- the read-only /sys comes after its masks (its recursive bind keeps them)
      local mask_at, ro_at
      for i, v in ipairs(p) do
        if v == "mask /sys/firmware" then mask_at = i elseif v == "ro /sys" then ro_at = i end
      end
      assert.is_true(mask_at < ro_at)
    end)

    it("mask /sys wherever a bind of /sys, a sysfs or a spelling of / puts it", function()
      local spec = spec_of { mounts = {
        { type = "bind", source = "/sys/", target = "/hostsys" },
        { type = "bind", source = "/sys/devices", target = "/devs", ro = true },
        { type = "bind", source = "//.", target = "/r" },
        { type = "bind", source = "/proc/self/root", target = "/r2" },
        { type = "sysfs", target = "/sys" },
      } }
      local p = protected(launch.plan(spec, res_of { sources = { "dir", "dir", "dir", "dir" },
        source_is = { [4] = "/" }, sys_masks = { "/sys/devices/system/cpu/cpu0/thermal_throttle" } }))
      for _, want in ipairs { "mask /hostsys/firmware", "mask /hostsys/devices/virtual/powercap",
                              "mask /hostsys/devices/system/cpu/cpu0/thermal_throttle", "ro /hostsys",
                              "mask /devs/virtual/powercap", "ro /devs",
                              "mask /r/sys/firmware", "ro /r/sys", "mask /r/proc/kcore", "ro /r/proc/sys",
                              "mask /r2/sys/firmware", "ro /r2/sys",
                              "mask /sys/firmware", "mask /sys/devices/system/cpu/cpu0/thermal_throttle" } do
        assert.is_true(has(p, want), want .. " in " .. table.concat(p, ", "))
      end
      -- a fresh sysfs is mounted read-only already
      assert.is_false(has(p, "ro /sys"))
    end)

    it("leave /sys alone where nothing shows it, or a later mount covers it", function()
      local p = protected(launch.plan(spec_of {}, res_of {}))
      for _, v in ipairs(p) do assert.matches("^%a+ /proc/", v) end
      local spec = spec_of { mounts = { { type = "bind", source = "/", target = "/" },
        { type = "tmpfs", target = "/sys" }, { type = "bind", source = "/usr", target = "/sys/x" } } }
      p = protected(launch.plan(spec, res_of { sources = { "dir", nil, "dir" } }))
      assert.is_true(has(p, "mask /proc/kcore"))
      for _, v in ipairs(p) do assert.not_matches("^%a+ /sys", v) end
    end)

    it("honour a bind that names a masked path itself", function()
      local spec = spec_of { mounts = { { type = "bind", source = "/sys/firmware", target = "/fw" } } }
      local p = protected(launch.plan(spec, res_of { sources = { "dir" } }))
      assert.is_false(has(p, "mask /fw"))
      assert.is_true(has(p, "ro /fw"))   -- still sysfs: read-only
    end)

    it("skips a missing try bind and sizes the scaffolding for file contents", function()
      local spec = spec_of { mounts = {
        { type = "bind", source = "/nonexistent", target = "/n", try = true },
        { type = "file", target = "/etc/motd", content = ("x"):rep(10000) },
      } }
      local plan = launch.plan(spec, res_of {})
      assert.same({}, ops_on(plan, "/n"))
      assert.equal((1 << 20) + 16384, plan.mounts.scaffold_size)
    end)

    it("a rootfs is moved in as a tree (privileged) or bound by path, and marks the plan strict", function()
      local spec = spec_of { rootfs = "/srv/root" }
      local plan = launch.plan(spec, res_of { trees = { rootfs = true } })
      assert.same({ op = "move", tree = "rootfs", path = launch.NEW, what = "/" }, plan.mounts.steps[1])
      assert.is_true(plan.mounts.strict)
      plan = launch.plan(spec, res_of { privileged = false, host_uid = 1000, host_gid = 1000 })
      assert.equal("/.oldroot/srv/root", plan.mounts.steps[1].src)
    end)

    it("has no mount steps without a mount namespace", function()
      local plan = launch.plan(spec_of { namespaces = { mnt = false, pid = false } }, res_of {})
      assert.is_nil(plan.mounts)
    end)
  end)

  describe("proc", function()
    it("mounts proc with hidepid=N when the spec gives it", function()
      local plan = launch.plan(spec_of { mounts = { { type = "proc", target = "/p", hidepid = "invisible" } } },
        res_of {})
      local i = index_of(plan, function(s) return s.op == "mount" and s.what == "/p" end)
      assert.equal("hidepid=2", plan.mounts.steps[i].data)
      assert.matches("mount proc on /p %[nodev,noexec,nosuid%] hidepid=2", table.concat(launch.explain(plan), "\n"))
      -- the base /proc has none
      i = index_of(plan, function(s) return s.op == "mount" and s.what == "/proc" end)
      assert.is_nil(plan.mounts.steps[i].data)
    end)
  end)

  describe("identity", function()
    it("maps 0 and the payload's ids into the slot, or all 65536 ids", function()
      local plan = launch.plan(spec_of {}, res_of {})
      local base = 1 << 30
      assert.same({ { 0, base, 1 }, { 65534, base + 65534, 1 } }, plan.identity.uid_map)
      assert.is_true(plan.identity.switch)
      assert.equal("allow", plan.identity.setgroups)
      -- the slot creates (owns) the user namespace: its quotas, not root's
      assert.equal(base, plan.identity.owner)
      assert.same({}, plan.exec.groups)
      plan = launch.plan(spec_of { user = { map = "all" } }, res_of {})
      assert.same({ { 0, base, 65536 } }, plan.identity.gid_map)
    end)

    it("maps the payload's ids to user.host_uid/host_gid, inside 0 to the slot", function()
      local base = 1 << 30
      local plan = launch.plan(spec_of { user = { uid = 60007, gid = 60008, host_uid = 70007, host_gid = 70008 } },
        res_of {})
      assert.same({ { 0, base, 1 }, { 60007, 70007, 1 } }, plan.identity.uid_map)
      assert.same({ { 0, base, 1 }, { 60008, 70008, 1 } }, plan.identity.gid_map)
      assert.equal(base, plan.identity.owner)
      assert.is_true(plan.identity.switch)
      assert.equal(60007, plan.exec.uid)
      local text = table.concat(launch.explain(plan), "\n")
      assert.matches("uid map 0 1073741824 1, 60007 70007 1; gid map 0 1073741824 1, 60008 70008 1", text, 1, true)
      assert.matches("the payload's uid 60007 gid 60008 are host uid 70007 gid 70008", text, 1, true)
    end)

    it("rootless: the caller's ids straight to the payload's, setgroups denied", function()
      local plan = launch.plan(spec_of { user = { uid = 0, gid = 0 } },
        res_of { privileged = false, host_uid = 4242, host_gid = 4243 })
      assert.same({ { 0, 4242, 1 } }, plan.identity.uid_map)
      assert.same({ { 0, 4243, 1 } }, plan.identity.gid_map)
      assert.equal("deny", plan.identity.setgroups)
      assert.is_nil(plan.identity.switch)
      assert.is_nil(plan.identity.owner)
      assert.is_nil(plan.exec.groups)
      plan = launch.plan(spec_of { user = { map = "all" } },
        res_of { privileged = false, host_uid = 4242, host_gid = 4243, sub = { uid = 100000, gid = 200000 } })
      assert.is_true(plan.identity.helper)
      assert.same({ { 0, 4243, 1 }, { 1, 200000, 65535 } }, plan.identity.gid_map)
    end)

    it("kept capabilities get a nested user namespace of the same ids mapped to themselves", function()
      local plan = launch.plan(spec_of { caps = { "chown" } }, res_of {})
      assert.same({ uid_map = { { 0, 0, 1 }, { 65534, 65534, 1 } }, gid_map = { { 0, 0, 1 }, { 65534, 65534, 1 } } },
        plan.nested_userns)
      assert.is_true(plan.exec.keep_caps)
      assert.is_nil(launch.plan(spec_of {}, res_of {}).nested_userns)
    end)
  end)

  describe("the rest of the plan", function()
    it("names child hooks, and only those, for the executor", function()
      local f = function() end
      local plan = launch.plan(spec_of { hooks = { before_exec = f, after_exit = f, before_pivot = f } }, res_of {})
      assert.same({ "before_pivot", "before_exec" }, plan.hooks)
      assert.is_nil(launch.plan(spec_of { hooks = { after_exit = f } }, res_of {}).hooks)
    end)

    it("turns a veth plan into guest steps, and a pool lease joins the pool's namespace", function()
      local net = { mode = "veth", host_if = "nslabcd1234h", guest_if = "eth0", created = {},
        host_addrs = { "192.0.2.1/30" }, guest_addrs = { "192.0.2.2/30" },
        routes = { { dst = "default", gateway = "192.0.2.1", dev = "eth0", family = "inet" } } }
      local plan = launch.plan(spec_of { net = { veth = {} } }, res_of { net = net })
      assert.same({ lo = true, addrs = { { dev = "eth0", cidr = "192.0.2.2/30" } }, up = { "eth0" },
        routes = { { dst = "default", gateway = "192.0.2.1", dev = "eth0", family = "inet" } } }, plan.net)
      assert.is_nil(plan.host_net.created)
      plan = launch.plan(spec_of {}, res_of { pool = true })
      assert.same({ "net" }, plan.join)
      assert.is_nil(plan.net)
      for _, n in ipairs(plan.namespaces) do assert.are_not.equal("net", n) end
    end)

    it("builds the command's environment, rlimits and limits", function()
      local plan = launch.plan(spec_of { env = { A = "1" }, keep_env = { "K" }, tty = true,
        limits = { time = 1.5, extra_time = 0.5, wall = 3, output = "1M", memory = "64M",
                   rlimits = { nofile = 64, stack = "unlimited" } } },
        res_of { getenv = { K = "kept", TERM = "vt100" } })
      assert.same({ PATH = launch.PATH, HOME = "/", TERM = "vt100", K = "kept", A = "1" }, plan.exec.env)
      assert.same({ core = 0, cpu = 3, fsize = 1 << 20, nofile = 64, stack = math.huge }, plan.exec.rlimits)
      assert.same({ wall = 3, cpu = 2.0 }, plan.wait)
      assert.is_true(plan.tty)
      assert.matches("limit: cpu = 2.0 s (every process of the container; its cgroup)",
        table.concat(launch.explain(plan), "\n"), 1, true)
      plan = launch.plan(spec_of { limits = { time = 1, cpu_scope = "command" } }, res_of {})
      assert.same({ cpu = 1, cpu_scope = "command" }, plan.wait)
      assert.same(2, plan.exec.rlimits.cpu)   -- the RLIMIT_CPU backstop stays
      assert.matches("limit: cpu = 1 s (the command and the children it waited for; /proc/<pid>/stat)",
        table.concat(launch.explain(plan), "\n"), 1, true)
      -- with a wall limit, beyond it: a child the scope does not poll ends
      -- on the wall clock, not on its own RLIMIT_CPU (isolate without --cg)
      plan = launch.plan(spec_of { limits = { time = 0.5, wall = 2, cpu_scope = "command" } }, res_of {})
      assert.same(3, plan.exec.rlimits.cpu)
      plan = launch.plan(spec_of { limits = { time = 0.5, wall = 2 } }, res_of {})
      assert.same(2, plan.exec.rlimits.cpu)
      -- without a time limit the scope measures nothing
      assert.same({}, launch.plan(spec_of { limits = { cpu_scope = "command" } }, res_of {}).wait)
    end)

    it("carries the process fields: exec tail, init, lock files, sync fds", function()
      local plan = launch.plan(spec_of {}, res_of {})
      for _, k in ipairs { "init", "die_with_parent", "lock_files", "sync" } do assert.is_nil(plan[k], k) end
      for _, k in ipairs { "argv0", "set_pwd", "session", "die_with_parent", "host_caps" } do
        assert.is_nil(plan.exec[k], k)
      end
      plan = launch.plan(spec_of { cwd = { "/x", "/" }, set_pwd = true, argv0 = "a0", session = "keep",
        init = false, lock_files = { "/l" }, sync = { block_fd = 4 } }, res_of {})
      assert.same({ "/x", "/" }, plan.exec.cwd)
      assert.same({ true, "a0", "keep" }, { plan.exec.set_pwd, plan.exec.argv0, plan.exec.session })
      assert.is_false(plan.init)
      -- without an init the command's parent is nslua: it dies with nslua
      assert.is_true(plan.exec.die_with_parent)
      assert.is_nil(plan.die_with_parent)
      assert.same({ "/l" }, plan.lock_files)
      assert.same({ block_fd = 4 }, plan.sync)
      plan = launch.plan(spec_of { die_with_parent = true, session = "new", init = true }, res_of {})
      assert.is_true(plan.die_with_parent)
      assert.is_true(plan.exec.die_with_parent)
      assert.is_nil(plan.exec.session)
      assert.is_nil(plan.init)
      local text = table.concat(launch.explain(launch.plan(spec_of { cwd = { "/x", "/" }, set_pwd = true,
        argv0 = "a0", session = "keep", init = false, die_with_parent = true, lock_files = { "/l" },
        sync = { block_fd = 4, userns_block_fd = 5, sync_fd = 6 } }, res_of {})), "\n")
      for _, want in ipairs { "cwd: /x | / (the first it can enter) (PWD set to it)",
          "session: the caller's session and process group (no setsid)",
          "die with parent: nslua and the command get PR_SET_PDEATHSIG SIGKILL",
          "lock: /l (read lock, held for the sandbox's life)",
          "sync: waits for fd 5 once its user namespace exists (the caller writes the id maps)",
          "sync: waits for fd 4 before the command", "sync: fd 6 stays open until the sandbox ends",
          "init: none (the child execs the command itself)", 'exec: /bin/true (argv[0] = "a0")' } do
        assert.matches(want, text, 1, true)
      end
    end)

    it("stdio inside, stderr = stdout and exec_error go to the exec tail", function()
      local plan = launch.plan(spec_of { stdio = { stdin = { inside = "/b/in" }, stdout = { inside = "/b/out" },
        stderr = "stdout" }, exec_error = "stderr" }, res_of {})
      assert.same({ stdin = { inside = "/b/in" }, stdout = { inside = "/b/out" }, stderr = "stdout" }, plan.stdio)
      assert.same({ stdin = "/b/in", stdout = "/b/out" }, plan.exec.stdio_inside)
      assert.is_true(plan.exec.stderr_to_stdout)
      assert.equal("stderr", plan.exec.exec_error)
      local text = table.concat(launch.explain(plan), "\n")
      for _, want in ipairs { "stdin: /b/in (opened inside by the command, as its ids, before its cwd)",
          "stdout: /b/out (opened inside by the command, as its ids, before its cwd)",
          "stderr: stdout (a dup of the command's fd 1)",
          [[exec error: a failed execve writes 'execve("/bin/true"): <error>' to the command's stderr, exit 127]] } do
        assert.matches(want, text, 1, true)
      end
      plan = launch.plan(spec_of { stdio = { stdout = "/host/out", stderr = { inside = "/e" } } }, res_of {})
      assert.same({ stderr = "/e" }, plan.exec.stdio_inside)
      assert.same({ path = "/host/out" }, plan.stdio.stdout)
      assert.is_nil(plan.exec.stderr_to_stdout)
      assert.is_nil(plan.exec.exec_error)
      plan = launch.plan(spec_of {}, res_of {})
      assert.is_nil(plan.exec.stdio_inside)
      assert.not_matches("exec error", table.concat(launch.explain(plan), "\n"), 1, true)
    end)

    it("leaves host root's capability sets alone for caps = all, not for a list", function()
      local all = launch.plan(spec_of { user = "host", caps = { "all" } }, res_of {})
      assert.is_true(all.exec.host_caps)
      assert.matches("capabilities: all (the caller's sets as they are)",
        table.concat(launch.explain(all), "\n"), 1, true)
      assert.is_nil(launch.plan(spec_of { user = "host", caps = { "kill" } }, res_of {}).exec.host_caps)
      assert.is_nil(launch.plan(spec_of { caps = { "all" } }, res_of {}).exec.host_caps)
    end)

    it("is pure: the same inputs give the same plan, and the spec is not changed", function()
      local spec = spec_of { mounts = { { type = "bind", source = "/etc", target = "/e" } } }
      local before = launch.json(spec.mounts)
      local res = res_of { sources = { "dir" } }
      assert.equal(launch.json(launch.plan(spec, res)), launch.json(launch.plan(spec, res)))
      assert.equal(before, launch.json(spec.mounts))
    end)
  end)

  describe("json and explain", function()
    it("prints sorted keys, arrays, escapes and unlimited", function()
      assert.equal('{"a":[1,2.5,"x\\"y\\n"],"b":{},"c":"unlimited","d":true}',
        launch.json { d = true, c = math.huge, a = { 1, 2.5, 'x"y\n' }, b = {} })
      assert.has_error(function() launch.json { f = print } end, "launch.json: a plan holds no function")
    end)

    it("explains every part of a plan in lines", function()
      local lines = table.concat(launch.explain(launch.plan(spec_of { caps = { "chown" }, hostname = "h",
        hooks = { before_exec = function() end } }, res_of {})), "\n")
      for _, want in ipairs { "namespaces: cgroup ipc mnt net pid user uts", "hostname: h", "network: lo up",
                              "mount: mount tmpfs on / ", "mount: mask /proc/kcore", "hook: before_exec",
                              "nested user namespace: uid map 0 0 1, 65534 65534 1", "capabilities: cap_chown",
                              "exec: /bin/true" } do
        assert.matches(want, lines, 1, true)
      end
    end)
  end)

  describe("bwrap's namespace fds and raw filters", function()
    it("userns.fd: no user namespace of its own, no maps, ids only when given", function()
      local plan = launch.plan(spec_of { userns = { fd = 7 } }, res_of {})
      assert.same({ "cgroup", "ipc", "mnt", "net", "pid", "uts" }, plan.namespaces)
      assert.same({ mode = "join" }, plan.identity)
      assert.same({ fd = 7 }, plan.userns)
      assert.is_nil(plan.exec.uid)
      assert.is_nil(plan.exec.groups)
      -- a tmpfs has no owner to give
      local tmp
      for _, st in ipairs(plan.mounts.steps) do
        if st.path == launch.NEW .. "/tmp" and st.op == "mount" then tmp = st end
      end
      assert.not_matches("uid=", tmp.data)
      plan = launch.plan(spec_of { userns = { fd = 7 }, user = { uid = 0, gid = 5 }, caps = { "chown" } },
        res_of {})
      assert.same({ mode = "join", uid = 0, gid = 5 }, plan.identity)
      assert.equal(0, plan.exec.uid)
      assert.equal(5, plan.exec.gid)
      -- kept capabilities stay in the joined namespace (as bwrap's)
      assert.is_nil(plan.nested_userns)
      assert.matches("identity: joins the caller's user namespace (fd 7; no id maps written); inside uid 0 gid 5",
        table.concat(launch.explain(plan), "\n"), 1, true)
    end)

    it("userns.disable makes the nested user namespace, userns.after replaces it", function()
      local plan = launch.plan(spec_of { userns = { disable = true, assert_disabled = true } }, res_of {})
      assert.same({ disable = true, assert_disabled = true }, plan.userns)
      assert.same({ uid_map = { { 0, 0, 1 }, { 65534, 65534, 1 } },
                    gid_map = { { 0, 0, 1 }, { 65534, 65534, 1 } } }, plan.nested_userns)
      assert.truthy(launch.json(plan):find('"userns":{"assert_disabled":true,"disable":true}', 1, true))
      local text = table.concat(launch.explain(plan), "\n")
      assert.matches("user namespaces: disabled inside", text, 1, true)
      assert.matches("user namespaces: set-up fails unless creating one is refused", text, 1, true)
      plan = launch.plan(spec_of { userns = { after = 9 }, caps = { "chown" } }, res_of {})
      assert.is_nil(plan.nested_userns)
      assert.same({ after = 9 }, plan.userns)
      assert.is_nil(launch.plan(spec_of { userns = {} }, res_of {}).userns)
    end)

    it("pidns_fd and seccomp_bpf: fd numbers and instruction counts, no programs", function()
      local plan = launch.plan(spec_of { pidns_fd = 5, seccomp = "none",
        seccomp_bpf = { ("\0"):rep(16), ("\0"):rep(8) } }, res_of {})
      assert.equal(5, plan.pidns_fd)
      assert.same({ 2, 1 }, plan.exec.seccomp_bpf)
      assert.equal("none", plan.exec.seccomp)
      local text = table.concat(launch.explain(plan), "\n")
      assert.matches("pid namespace: the clone is born in the caller's (fd 5), its new one a child of it",
        text, 1, true)
      assert.matches("seccomp: none\nseccomp: then BPF program 1 (2 instructions)\n" ..
        "seccomp: then BPF program 2 (1 instruction)", text, 1, true)
      plan = launch.plan(spec_of {}, res_of {})
      assert.is_nil(plan.pidns_fd)
      assert.is_nil(plan.exec.seccomp_bpf)
    end)
  end)
end)

-- The mount side of `nslua bwrap` (base = "none" and the types and fields
-- it needs): the plan's shape, no kernel.
describe("nslua.launch: base none and bwrap's mount kinds", function()
  local NS = { mnt = true, user = true, pid = true, net = false, ipc = false, uts = false, cgroup = false }
  -- bwrap's and isolate's specs: base "none" with nslua's default mount
  -- flags stated (launch.default_flags), as those front ends make them
  local function none(mounts, extra)
    local t = { base = "none", namespaces = NS, net = "host", mounts = launch.default_flags(mounts) }
    for k, v in pairs(extra or {}) do t[k] = v end
    return spec_of(t)
  end
  local function step_list(plan)
    local out = {}
    for _, s in ipairs(plan.mounts.steps) do
      out[#out + 1] = s.op .. " " .. (s.what or s.path)
    end
    return out
  end

  it("base none: an empty tmpfs root, the spec's mounts, masks, no read-only root", function()
    local spec = none { { type = "bind", source = "/", target = "/" }, { type = "tmpfs", target = "/tmp" } }
    local plan = launch.plan(spec, res_of { sources = { "dir" }, source_is = { "/" },
      trees = { ["mounts[1]"] = true } })
    local steps = plan.mounts.steps
    assert.same({ op = "mount", src = "tmpfs", fstype = "tmpfs", path = launch.NEW,
      flags = { nosuid = true, nodev = true }, data = "mode=0755,size=67108864,uid=65534,gid=65534",
      what = "/" }, steps[1])
    local list = step_list(plan)
    assert.same({ "mount /", "mkdir /", "move /", "mkdir /tmp", "mount /tmp" }, { table.unpack(list, 1, 5) })
    for i = 6, #steps do assert.is_truthy(steps[i].op == "mask" or steps[i].op == "ro", list[i]) end
    assert.is_nil(index_of(plan, function(s) return s.what == "/usr" or s.what == "/dev" end))
    assert.is_nil(index_of(plan, function(s) return s.op == "attr" and s.path == launch.NEW end))
    -- the host's /proc and /sys under the bind of / are masked all the same
    assert.is_truthy(index_of(plan, function(s) return s.op == "mask" and s.what == "/proc/kcore" end))
    assert.is_truthy(index_of(plan, function(s) return s.op == "ro" and s.what == "/sys" end))
    assert.is_nil(plan.mounts.strict)
  end)

  it("base none: the env is the spec's, no core rlimit", function()
    local plan = launch.plan(none({}, { env = { A = "1" }, keep_env = { "K" } }), res_of { getenv = { K = "k" } })
    assert.same({ A = "1", K = "k" }, plan.exec.env)
    assert.same({}, plan.exec.rlimits)
    local dflt = launch.plan(spec_of {}, res_of {})
    assert.equal(0, dflt.exec.rlimits.core)
    assert.equal(launch.PATH, dflt.exec.env.PATH)
  end)

  it("parent_mode: bubblewrap's least-astonishment parents", function()
    local cases = { [1023] = 493, [420] = 493, [488] = 488, [456] = 488, [416] = 488, [448] = 448,
                    [384] = 448, [453] = 453, [388] = 453, [0] = 448 }
    for mode, want in pairs(cases) do
      assert.equal(want, launch.parent_mode(mode) or 493, ("%04o"):format(mode))
    end
    assert.is_nil(launch.parent_mode(493))
    assert.is_nil(launch.parent_mode(nil))
  end)

  it("dir, tmpfs and file carry their parents' mode; binds make 0755/0444 points", function()
    local plan = launch.plan(none {
      { type = "dir", target = "/a/b", mode = "0750" },
      { type = "tmpfs", target = "/t/u", mode = "01777", size = 1048576 },
      { type = "file", target = "/f/g", content = "x", mode = "0600" },
      { type = "file", target = "/i/j", content = "y", mode = "0666", inplace = true },
    }, res_of {})
    local s = plan.mounts.steps
    local function find(op, what) return s[index_of(plan, function(x) return x.op == op and x.what == what end)] end
    -- what they make belongs to the payload
    assert.same({ op = "mkdir", path = launch.NEW .. "/a/b", mode = 488, parents = 488, uid = 65534, gid = 65534,
      what = "/a/b" }, find("mkdir", "/a/b"))
    assert.is_nil(find("mkdir", "/t/u").parents)
    assert.equal(65534, find("mkdir", "/t/u").uid)
    assert.equal("mode=1777,size=1048576,uid=65534,gid=65534", find("mount", "/t/u").data)
    assert.equal(448, find("mkfile", "/f/g").parents)
    assert.equal(384, find("write", "/f/g").mode)
    -- inplace: the parent made (0755 from 0666), then the file written there
    local mk, wr = find("mkdir", "/i/j"), find("write", "/i/j")
    assert.same({ op = "mkdir", path = launch.NEW .. "/i", uid = 65534, gid = 65534, what = "/i/j" }, mk)
    assert.same({ op = "write", path = launch.NEW .. "/i/j", content = "y", mode = 438, uid = 65534, gid = 65534,
      what = "/i/j" }, wr)
    -- user = "host": nothing to give them to
    local host = launch.plan(none({ { type = "dir", target = "/h" } }, { user = "host", namespaces = {
      mnt = true, user = false, pid = true, net = false, ipc = false, uts = false, cgroup = false } }), res_of {})
    assert.is_nil(host.mounts.steps[index_of(host, function(x) return x.what == "/h" end)].uid)
    assert.is_nil(index_of(plan, function(x) return x.op == "mount" and x.what == "/i/j" end))
    local text = table.concat(launch.explain(plan), "\n")
    assert.matches("mount: file /i/j (1 bytes, in place)", text, 1, true)
    assert.matches("mount: file /f/g (1 bytes)\n", text, 1, true)
    -- the scaffolding holds the non-inplace file only (two pages for its byte)
    assert.equal((1 << 20) + 8192, plan.mounts.scaffold_size)
  end)

  it("remount-ro and chmod", function()
    local plan = launch.plan(none {
      { type = "tmpfs", target = "/x" },
      { type = "remount-ro", target = "/x" },
      { type = "chmod", target = "/x", mode = "0700" },
    }, res_of {})
    local n = #plan.mounts.steps
    assert.same({ op = "attr", path = launch.NEW .. "/x", set = { rdonly = true, nosuid = true, nodev = true },
                  mountpoint = true, what = "/x" }, plan.mounts.steps[n - 1])
    assert.same({ op = "chmod", path = launch.NEW .. "/x", mode = 448, what = "/x" }, plan.mounts.steps[n])
    local text = table.concat(launch.explain(plan), "\n")
    assert.matches("mount: set nodev,nosuid,rdonly on /x (the mount there, not those below it)\nmount: chmod 0700 /x",
      text, 1, true)
  end)

  it("source_fd: a tree when privileged, else the fd's path checked against the fd", function()
    local spec = none { { type = "bind", source_fd = 7, target = "/d", ro = true } }
    local priv = launch.plan(spec, res_of { sources = { "dir" }, fd_paths = { "/srv/d" },
      trees = { ["mounts[1]"] = true } })
    assert.same({ "move:mounts[1]" }, ops_on(priv, "/d"))
    local rl = launch.plan(spec, res_of { privileged = false, host_uid = 1000, host_gid = 1000,
      sources = { "dir" }, fd_paths = { "/srv/d" } })
    local m = rl.mounts.steps[index_of(rl, function(x) return x.op == "mount" and x.what == "/d" end)]
    assert.same({ op = "mount", src = launch.OLD .. "/srv/d", src_fd = 7, path = launch.NEW .. "/d",
      flags = { bind = true, rec = true }, what = "/d" }, m)
    -- a source_fd of /sys gets the masks of /sys where it lands
    local sys = launch.plan(none { { type = "bind", source_fd = 7, target = "/s" } },
      res_of { sources = { "dir" }, fd_paths = { "/sys" }, source_is = { "/sys" } })
    assert.is_truthy(index_of(sys, function(x) return x.op == "ro" and x.what == "/s" end))
  end)

  it("overlay: one list of layers; ro without upper has no tmpfs upper", function()
    local plan = launch.plan(none {
      { type = "overlay", target = "/o", lower = { "/a:b", "/c,d" }, ro = true },
      { type = "overlay", target = "/p", lower = { "/l" }, upper = "/u", work = "/w" },
      { type = "overlay", target = "/q", lower = { "/l" } },
    }, res_of {})
    local function ov(what)
      return plan.mounts.steps[index_of(plan, function(x) return x.op == "overlay" and x.what == what end)]
    end
    assert.same({ op = "overlay", lower = { launch.OLD .. "/a:b", launch.OLD .. "/c,d" },
      path = launch.NEW .. "/o", flags = { nosuid = true, nodev = true, rdonly = true }, what = "/o" }, ov("/o"))
    assert.equal(launch.OLD .. "/u", ov("/p").upper)
    assert.equal(launch.OLD .. "/w", ov("/p").work)
    assert.equal("/.overlay/3/upper", ov("/q").upper)
    assert.is_nil(index_of(plan, function(x) return x.path == "/.overlay/1" end))
    local text = table.concat(launch.explain(plan), "\n")
    assert.matches("overlay on /o [nodev,nosuid,rdonly] lower host:/a:b : host:/c,d (read-only, no upper)",
      text, 1, true)
  end)
end)
