-- spec/policy_spec.lua: nslua.policy (pure Lua; no kernel objects).
local policy = require "nslua.policy"
local validate = require "nslua.validate"

local compose, override = policy.compose, policy.override

-- The message fn raises, without the "file:line: " position.
local function raises(fn)
  local good, e = pcall(fn)
  assert.is_false(good)
  return (tostring(e):gsub("^[^\n:]+:%d+: ", ""))
end

describe("nslua.policy", function()
  describe("compose", function()
    it("of nothing is an empty spec, of one a copy", function()
      assert.same({}, compose())
      local a = { hostname = "a", limits = { memory = "1M" } }
      local c = compose(a)
      assert.same(a, c)
      assert.are_not.equal(a, c)
      assert.are_not.equal(a.limits, c.limits)
    end)

    it("raises on a non-table layer, blaming the caller", function()
      assert.equal("compose: argument #2 must be a table, got string",
        raises(function() compose({}, "x") end))
      assert.equal("compose: argument #1 must be a table, got nil",
        raises(function() compose(nil, {}) end))
      local _, e = pcall(function() compose(5) end)
      assert.matches("^spec/policy_spec%.lua:%d+: compose: argument #1", e)
    end)

    it("ORs namespaces: true wins", function()
      assert.same({ pid = true, net = true, uts = false, ipc = true, time = false },
        compose({ namespaces = { pid = true, net = false, uts = false } },
          { namespaces = { pid = false, net = true, ipc = true, time = false } }).namespaces)
      assert.same({ user = true }, compose({ namespaces = { user = true } },
        { namespaces = { user = false } }, { namespaces = { user = false } }).namespaces)
      assert.same({ cgroup = false }, compose({}, { namespaces = { cgroup = false } }).namespaces)
    end)

    describe("caps", function()
      it("nil is unconstrained", function()
        assert.same({ "net_raw" }, compose({}, { caps = { "net_raw" } }).caps)
        assert.same({ "net_raw" }, compose({ caps = { "net_raw" } }, {}).caps)
        assert.is_nil(compose({}, {}).caps)
      end)

      it("intersect where both layers set them, keeping the first spelling", function()
        assert.same({ "NET_RAW", "cap_chown" },
          compose({ caps = { "NET_RAW", "cap_chown", "kill" } },
            { caps = { "chown", "cap_net_raw", "mknod" } }).caps)
        assert.same({}, compose({ caps = { "kill" } }, { caps = { "chown" } }).caps)
        assert.same({}, compose({ caps = {} }, { caps = { "chown" } }).caps)
        assert.same({}, compose({ caps = { "chown" } }, { caps = {} }).caps)
        assert.same({ "kill" }, compose({ caps = { "kill", "chown" } },
          { caps = { "kill", "chown" } }, { caps = { "KILL" } }).caps)
      end)

      it("\"all\" is the universe", function()
        assert.same({ "chown" }, compose({ caps = { "all" } }, { caps = { "chown" } }).caps)
        assert.same({ "chown" }, compose({ caps = { "chown" } }, { caps = { "ALL" } }).caps)
        assert.same({ "all" }, compose({ caps = { "all" } }, { caps = { "all" } }).caps)
        assert.same({ "all" }, compose({}, { caps = { "all" } }).caps)
      end)

      it("drops duplicates", function()
        assert.same({ "chown" }, compose({ caps = { "chown", "CAP_CHOWN" } },
          { caps = { "chown" } }).caps)
      end)
    end)

    describe("limits", function()
      it("take the minimum per key, keys of either layer kept", function()
        assert.same({ pids = 8, cpus = 0.5, time = 1, wall = 10, extra_time = 0,
          memory = "1M" },
          compose({ limits = { pids = 8, cpus = 1, time = 1, wall = 30, memory = "1M" } },
            { limits = { pids = 16, cpus = 0.5, time = 2, wall = 10, extra_time = 0 } }).limits)
      end)

      it("cpu_scope: \"container\" wins over \"command\"", function()
        assert.equal("container", compose({ limits = { cpu_scope = "command" } },
          { limits = { cpu_scope = "container" } }).limits.cpu_scope)
        assert.equal("container", compose({ limits = { cpu_scope = "container" } },
          { limits = { cpu_scope = "command" } }).limits.cpu_scope)
        assert.equal("command", compose({ limits = { cpu_scope = "command" } },
          { limits = { cpu_scope = "command", time = 1 } }).limits.cpu_scope)
        assert.equal("command",
          compose({ limits = { time = 2 } }, { limits = { cpu_scope = "command" } }).limits.cpu_scope)
      end)

      it("compare sizes in bytes, keeping the winning value as written", function()
        assert.equal("64M", compose({ limits = { memory = "64M" } },
          { limits = { memory = 100000000 } }).limits.memory)
        assert.equal(100000000, compose({ limits = { memory = "128M" } },
          { limits = { memory = 100000000 } }).limits.memory)
        assert.equal("1K", compose({ limits = { output = 2048 } },
          { limits = { output = "1K" } }).limits.output)
        assert.equal(0, compose({ limits = { swap = 0 } }, { limits = { swap = "1G" } }).limits.swap)
        assert.equal("1GiB", compose({ limits = { swap = "1GiB" } },
          { limits = { swap = "2G" } }, { limits = { swap = "1.5G" } }).limits.swap)
      end)

      it("take the minimum of rlimits; \"unlimited\" is the largest", function()
        assert.same({ nofile = 64, fsize = "1M", core = 0, stack = "8M", nproc = "unlimited" },
          compose({ limits = { rlimits = { nofile = "unlimited", fsize = "1M", core = "unlimited",
            nproc = "unlimited" } } },
            { limits = { rlimits = { nofile = 64, fsize = "unlimited", core = 0, stack = "8M",
              nproc = "unlimited" } } }).limits.rlimits)
        assert.equal("512K", compose({ limits = { rlimits = { as = "1M" } } },
          { limits = { rlimits = { as = "512K" } } }).limits.rlimits.as)
        assert.same({ rlimits = { nofile = 4 } },
          compose({ limits = {} }, { limits = { rlimits = { nofile = 4 } } }).limits)
      end)

      it("keep a value that cannot be read, so validation reports it", function()
        assert.equal("lots", compose({ limits = { memory = "lots" } },
          { limits = { memory = "64M" } }).limits.memory)
        assert.equal("lots", compose({ limits = { memory = "64M" } },
          { limits = { memory = "lots" } }).limits.memory)
        assert.equal("x", compose({ limits = { pids = 4 } }, { limits = { pids = "x" } }).limits.pids)
        assert.equal("lots", compose({ limits = { rlimits = { fsize = "1M" } } },
          { limits = { rlimits = { fsize = "lots" } } }).limits.rlimits.fsize)
        local _, list = validate.check(compose({ limits = { memory = "64M" } },
          { limits = { memory = "lots" } }))
        assert.same({ "limits.memory: invalid size 'lots'" }, list)
      end)

      it("intersect cpusets", function()
        assert.equal("2-3", compose({ limits = { cpuset = "0-3" } },
          { limits = { cpuset = "2-5" } }).limits.cpuset)
        assert.equal("0,2-3,7", compose({ limits = { cpuset = "0-3,7" } },
          { limits = { cpuset = "0,2-9" } }).limits.cpuset)
        assert.equal("1", compose({ limits = { cpuset = "1" } }, {}).limits.cpuset)
        local out = compose({ limits = { cpuset = "0" } }, { limits = { cpuset = "1" } })
        assert.equal("", out.limits.cpuset)
        local _, list = validate.check(out)
        assert.same({ "limits.cpuset: must be a cpu list such as \"0-1,3\"" }, list)
      end)
    end)

    it("appends mounts in layer order", function()
      local m1 = { type = "tmpfs", target = "/tmp" }
      local m2 = { type = "dir", target = "/d" }
      local m3 = { type = "proc", target = "/proc" }
      local out = compose({ mounts = { m1 } }, {}, { mounts = { m2, m3 } }, { mounts = {} })
      assert.same({ m1, m2, m3 }, out.mounts)
      assert.are_not.equal(m1, out.mounts[1])
    end)

    it("merges env, later wins", function()
      assert.same({ A = "1", B = "2b", C = "3" },
        compose({ env = { A = "1", B = "2" } }, { env = { B = "2b", C = "3" } }).env)
    end)

    it("unions keep_env in order", function()
      assert.same({ "TERM", "HOME", "LANG" },
        compose({ keep_env = { "TERM", "HOME" } }, { keep_env = { "LANG", "TERM" } }).keep_env)
    end)

    describe("hooks", function()
      it("run every layer's hook, earlier first, with the same arguments", function()
        local log = {}
        local function h(tag)
          return function(...) log[#log + 1] = tag .. ":" .. table.concat({ ... }, ",") end
        end
        local out = compose({ hooks = { before_exec = h("a"), after_exit = h("x") } },
          { hooks = { before_exec = h("b") } }, {},
          { hooks = { before_exec = h("c"), after_clone = h("k") } })
        out.hooks.before_exec(1, 2)
        out.hooks.after_exit(3)
        out.hooks.after_clone(4)
        assert.same({ "a:1,2", "b:1,2", "c:1,2", "x:3", "k:4" }, log)
        assert.is_nil(out.hooks.before_pivot)
      end)

      it("return the last hook's results", function()
        local out = compose({ hooks = { after_exit = function() return 1 end } },
          { hooks = { after_exit = function() return 2, 3 end } })
        assert.same({ 2, 3 }, { out.hooks.after_exit() })
      end)

      it("propagate an error and stop the rest", function()
        local ran = {}
        local out = compose({ hooks = { before_pivot = function() ran[#ran + 1] = "a" end } },
          { hooks = { before_pivot = function() ran[#ran + 1] = "b"; error("boom", 0) end } },
          { hooks = { before_pivot = function() ran[#ran + 1] = "c" end } })
        local good, e = pcall(out.hooks.before_pivot)
        assert.is_false(good)
        assert.equal("boom", e)
        assert.same({ "a", "b" }, ran)
      end)

      it("stop at a failure return (nil, msg) and return it", function()
        local ran = false
        local out = compose({ hooks = { after_clone = function() return nil, "no", 2 end } },
          { hooks = { after_clone = function() ran = true end } })
        assert.same({ n = 3, nil, "no", 2 }, table.pack(out.hooks.after_clone()))
        assert.is_false(ran)
      end)

      it("keep a single hook as it is", function()
        local f = function() end
        assert.equal(f, compose({ hooks = { before_exec = f } }, { hooks = {} }).hooks.before_exec)
        assert.equal(f, compose({}, { hooks = { before_exec = f } }).hooks.before_exec)
      end)
    end)

    it("lets the later layer replace every other field", function()
      local a = { name = "a", hostname = "a", cwd = "/a", argv = { "/a", "x" },
        user = { uid = 0 }, rootfs = "/ra", net = { bridge = "br0" },
        stdio = { stdout = "null" }, tty = true }
      local b = { name = "b", hostname = "b", cwd = "/b", argv = { "/b" },
        user = "host", rootfs = "/rb", net = "none",
        stdio = { stderr = "null" }, tty = false }
      assert.same(b, compose(a, b))
      assert.same(a, compose(a, {}))
      assert.same({ stderr = "null" }, compose(a, b).stdio)
    end)

    it("stacks seccomp profiles: a later layer never loosens an earlier one", function()
      assert.equal("strict", compose({ seccomp = "strict" }, { seccomp = "none" }).seccomp)
      assert.equal("strict", compose({ seccomp = "none" }, { seccomp = "strict" }).seccomp)
      assert.equal("strict", compose({ seccomp = "strict" }, { seccomp = "strict" }).seccomp)
      assert.equal("default", compose({}, { seccomp = "default" }).seccomp)
      local t = { default = "allow" }
      local s = compose({ seccomp = "strict" }, { seccomp = "default" }, { seccomp = t }).seccomp
      assert.same({ layers = { "strict", "default", t } }, s)
      assert.is_true(require("nslua.seccomp").validate(s))
    end)

    it("does not change its inputs or share their tables", function()
      local a = { caps = { "kill", "chown" }, limits = { memory = "1G", rlimits = { nofile = 9 } },
        mounts = { { type = "dir", target = "/a" } }, env = { A = "1" },
        namespaces = { pid = true }, keep_env = { "A" }, argv = { "x" } }
      local b = { caps = { "kill" }, limits = { memory = "1M", rlimits = { nofile = 1 } },
        mounts = { { type = "dir", target = "/b" } }, env = { A = "2" },
        namespaces = { net = true }, keep_env = { "B" }, argv = { "y" } }
      local a0, b0 = validate.copy(a), validate.copy(b)
      local out = compose(a, b)
      assert.same(a0, a)
      assert.same(b0, b)
      out.mounts[1].target = "/changed"
      out.argv[1] = "z"
      out.limits.rlimits.nofile = 100
      assert.same(a0, a)
      assert.same(b0, b)
    end)

    it("composes a base and a job into a valid spec", function()
      local base = { namespaces = { pid = true }, caps = { "all" },
        limits = { memory = "256M", time = 10, rlimits = { nofile = 64 } },
        mounts = { { type = "proc", target = "/proc" } }, env = { LANG = "C" } }
      local job = { argv = { "/usr/bin/python3", "x.py" }, caps = { "net_bind_service" },
        limits = { memory = "64M", time = 30 }, env = { X = "1" },
        mounts = { { type = "tmpfs", target = "/tmp", size = "8M" } } }
      local out = validate.validate(compose(base, job), { need_argv = true })
      assert.equal(64 * 1024 * 1024, out.limits.memory)
      assert.equal(10, out.limits.time)
      assert.same({ core = 0, nofile = 64 }, out.limits.rlimits)
      assert.same({ "cap_net_bind_service" }, out.caps)
      assert.equal(2, #out.mounts)
      assert.same({ LANG = "C", X = "1" }, out.env)
    end)
  end)

  describe("override", function()
    it("relaxes limits key by key, where compose would keep the tighter", function()
      local recipe = { limits = { time = 1, memory = "64M", rlimits = { nofile = 16, fsize = "1M" } } }
      local out = override(recipe, { limits = { time = 5, rlimits = { nofile = 1024 } } })
      assert.same({ time = 5, memory = "64M", rlimits = { nofile = 1024, fsize = "1M" } }, out.limits)
      assert.equal(1, compose(recipe, { limits = { time = 5 } }).limits.time)
    end)

    it("grants caps by replacing them, where compose would intersect", function()
      local recipe = { caps = { "chown" } }
      assert.same({ "net_raw" }, override(recipe, { caps = { "net_raw" } }).caps)
      assert.same({}, compose(recipe, { caps = { "net_raw" } }).caps)
    end)

    it("merges namespaces key by key, false included", function()
      assert.same({ pid = true, net = false, uts = true },
        override({ namespaces = { pid = true, net = true } },
          { namespaces = { net = false, uts = true } }).namespaces)
    end)

    it("merges env; false removes a variable", function()
      assert.same({ A = "1", B = "x", C = "3" },
        override({ env = { A = "1", B = "2", D = "4" } },
          { env = { B = "x", C = "3", D = false } }).env)
    end)

    it("false removes a limit", function()
      assert.same({ memory = "64M", rlimits = { core = 0 } },
        override({ limits = { memory = "64M", time = 1, rlimits = { core = 0, nofile = 4 } } },
          { limits = { time = false, rlimits = { nofile = false } } }).limits)
    end)

    it("replaces every other field whole", function()
      local spec = { mounts = { { type = "dir", target = "/a" } }, argv = { "a", "b" },
        stdio = { stdin = "null", stdout = "/o" }, user = { uid = 0, gid = 0 },
        hostname = "a", keep_env = { "A" }, hooks = { before_exec = print } }
      local f = function() end
      local out = override(spec, { mounts = { { type = "dir", target = "/b" } }, argv = { "c" },
        stdio = { stdout = "null" }, user = { uid = 5 }, hostname = "b", keep_env = { "B" },
        hooks = { after_exit = f } })
      assert.same({ { type = "dir", target = "/b" } }, out.mounts)
      assert.same({ "c" }, out.argv)
      assert.same({ stdout = "null" }, out.stdio)
      assert.same({ uid = 5 }, out.user)
      assert.equal("b", out.hostname)
      assert.same({ "B" }, out.keep_env)
      assert.same({ after_exit = f }, out.hooks)
    end)

    it("sets fields the spec lacks and replaces a non-table with a table", function()
      assert.same({ limits = { time = 2 }, net = { bridge = "br0" } },
        override({ net = "none" }, { limits = { time = 2 }, net = { bridge = "br0" } }))
    end)

    it("without overrides is a copy", function()
      local spec = { limits = { memory = "1M" } }
      local out = override(spec)
      assert.same(spec, out)
      assert.are_not.equal(spec.limits, out.limits)
    end)

    it("does not change its inputs or share their tables", function()
      local spec = { limits = { time = 1, rlimits = { nofile = 1 } }, env = { A = "1" } }
      local o = { limits = { rlimits = { nproc = 2 } }, env = { A = false }, argv = { "x" } }
      local s0, o0 = validate.copy(spec), validate.copy(o)
      local out = override(spec, o)
      out.limits.rlimits.nofile = 9
      out.argv[1] = "y"
      assert.same(s0, spec)
      assert.same(o0, o)
    end)

    it("raises on non-table arguments, blaming the caller", function()
      assert.equal("override: argument #1 must be a table, got nil",
        raises(function() override(nil, {}) end))
      assert.equal("override: argument #2 must be a table, got string",
        raises(function() override({}, "x") end))
      local _, e = pcall(function() override(1) end)
      assert.matches("^spec/policy_spec%.lua:%d+: override: argument #1", e)
    end)
  end)
end)
