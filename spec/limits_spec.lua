-- spec/limits_spec.lua - nslua.limits: the limit keys, kinds and parsers
-- every front end and validate.lua share.
local limits = require "nslua.limits"

local MiB = 1024 * 1024

describe("nslua.limits", function()
  it("lists every limit once, each with a kind, and the rlimits", function()
    local seen = {}
    for _, k in ipairs(limits.KEYS) do
      assert.is_nil(seen[k], k)
      seen[k] = true
      assert.is_table(limits.LIMITS[k], k)
      assert.is_string(limits.LIMITS[k].kind, k)
      assert.is_string(limits.LIMITS[k].help, k)
    end
    for k in pairs(limits.LIMITS) do assert.is_true(seen[k], k) end
    local rl = {}
    for _, k in ipairs(limits.RLIMIT_KEYS) do rl[k] = true end
    for k in pairs(limits.RLIMITS) do assert.is_true(rl[k], k) end
    assert.same({ "memory", "swap", "pids", "cpus", "cpuset" }, limits.CGROUP_KEYS)
    assert.same({ "time", "extra_time", "wall", "output" }, limits.RUN_KEYS)
  end)

  it("says which limits need a cgroup, and which of them cgroup.new takes", function()
    assert.is_false(limits.needs_cgroup {})
    assert.is_false(limits.needs_cgroup { wall = 1, output = 10, extra_time = 1, rlimits = { nofile = 1 } })
    for _, k in ipairs { "memory", "swap", "pids", "cpus", "cpuset", "time" } do
      assert.is_true(limits.needs_cgroup { [k] = 1 }, k)
    end
    -- cpu_scope "command": time is the command's own, polled without a cgroup
    assert.is_false(limits.needs_cgroup { time = 1, extra_time = 1, cpu_scope = "command", rlimits = { nofile = 1 } })
    assert.is_true(limits.needs_cgroup { time = 1, cpu_scope = "container" })
    assert.is_true(limits.needs_cgroup { time = 1, memory = 1, cpu_scope = "command" })
    assert.same({ "container", "command" }, limits.CPU_SCOPES)
    assert.same({ memory = 1, pids = 2, cpuset = "0" },
      limits.cgroup_limits { memory = 1, pids = 2, cpuset = "0", time = 3, wall = 4 })
  end)

  it("names each limit's option", function()
    assert.equal("--memory", limits.option("memory"))
    assert.equal("--extra-time", limits.option("extra_time"))
  end)

  describe("parse", function()
    it("takes sizes as bytes or with a suffix", function()
      assert.equal(64 * MiB, limits.parse("memory", "64M"))
      assert.equal(64 * MiB, limits.parse("memory", "64MiB"))
      assert.equal(1536 * MiB, limits.parse("output", "1.5g"))
      assert.equal(4096, limits.parse("memory", 4096))
      assert.equal(0, limits.parse("swap", 0))
      assert.equal(0, limits.parse("swap", "0"))
      assert.equal("integer", math.type(limits.parse("memory", 4096.0)))
    end)

    it("rejects what is not a size, or too large a one, naming the field", function()
      for _, bad in ipairs { "lots", "1X", "1e300", "-1", "", "9999999999T" } do
        assert.same({ nil, ("limits.memory: invalid size '%s'"):format(bad) },
          { limits.parse("memory", bad, "limits.memory") }, bad)
      end
      assert.same({ nil, "--memory: invalid size 1e+300" }, { limits.parse("memory", 1e300, "--memory") })
      assert.same({ nil, "limits.memory: must be a positive size" },
        { limits.parse("memory", 0, "limits.memory") })
      -- no field: the bare message
      assert.same({ nil, "invalid size 'lots'" }, { limits.parse("memory", "lots") })
    end)

    it("takes counts as integers, from text only when asked", function()
      assert.equal(32, limits.parse("pids", 32))
      assert.equal(32, limits.parse("pids", 32.0))
      assert.equal("integer", math.type(limits.parse("pids", 32.0)))
      assert.equal(32, limits.parse("pids", "32", "--pids", true))
      assert.same({ nil, "limits.pids: must be a positive integer" }, { limits.parse("pids", "32", "limits.pids") })
      for _, bad in ipairs { 0, -1, 1.5, 0 / 0, true } do
        assert.same({ nil, "p: must be a positive integer" }, { limits.parse("pids", bad, "p") }, tostring(bad))
      end
      assert.same({ nil, "--pids: must be at most 4194304" }, { limits.parse("pids", "1e300", "--pids", true) })
      assert.same({ nil, "--pids: must be at most 4194304" }, { limits.parse("pids", 1 << 40, "--pids") })
    end)

    it("takes seconds: positive (time, wall) or not negative (extra_time), finite and bounded", function()
      assert.equal(1.5, limits.parse("time", 1.5))
      assert.equal(0.5, limits.parse("wall", "0.5", "--wall", true))
      assert.equal(0, limits.parse("extra_time", 0))
      assert.equal(limits.MAX_SECONDS, limits.parse("wall", limits.MAX_SECONDS))
      for _, k in ipairs { "time", "wall" } do
        for _, bad in ipairs { 0, -1, "1", 0 / 0, math.huge } do
          assert.same({ nil, "limits." .. k .. ": must be a positive number" },
            { limits.parse(k, bad, "limits." .. k) }, tostring(bad))
        end
      end
      assert.same({ nil, "x: must be a non-negative number" }, { limits.parse("extra_time", -0.5, "x") })
      for _, big in ipairs { 1e300, "1e300", limits.MAX_SECONDS + 1 } do
        assert.same({ nil, "--time: must be at most 2147483 seconds" },
          { limits.parse("time", big, "--time", true) }, tostring(big))
      end
      assert.same({ nil, "--wall: must be a positive number" }, { limits.parse("wall", "soon", "--wall", true) })
    end)

    it("takes cpus within what a CFS quota can express", function()
      assert.equal(0.5, limits.parse("cpus", 0.5))
      assert.equal(0.01, limits.parse("cpus", "0.01", "--cpus", true))
      assert.same({ nil, "c: must be a positive number" }, { limits.parse("cpus", 0, "c") })
      assert.same({ nil, "c: must be at least 0.01" }, { limits.parse("cpus", 0.001, "c") })
      assert.same({ nil, "c: must be at most 65536" }, { limits.parse("cpus", "1e300", "c", true) })
    end)

    it("takes cpu lists", function()
      assert.equal("0-1,3", limits.parse("cpuset", "0-1,3"))
      assert.same({ 0, 1, 3 }, limits.cpulist("3,0-1,1"))
      for _, bad in ipairs { "", "1-0", "a", 3, "0-1,", "123456" } do
        assert.same({ nil, 'limits.cpuset: must be a cpu list such as "0-1,3"' },
          { limits.parse("cpuset", bad, "limits.cpuset") }, tostring(bad))
      end
    end)

    it("takes rlimits, \"unlimited\" too", function()
      assert.equal("unlimited", limits.parse("rlimits.nofile", "unlimited"))
      assert.equal(64, limits.parse("rlimits.nofile", "64", "--nofile", true))
      assert.equal(8 * MiB, limits.parse("rlimits.stack", "8M"))
      assert.same({ nil, 'r: must be a non-negative integer or "unlimited"' },
        { limits.parse("rlimits.nproc", -1, "r") })
      assert.same({ nil, "r: invalid size 'infinity'" }, { limits.parse("rlimits.stack", "infinity", "r") })
    end)

    it("takes a description for a value that is no spec limit", function()
      assert.equal(MiB, limits.parse({ kind = "size", min = 1 }, "1M"))
      assert.same({ nil, "--box-size: must be a positive size" },
        { limits.parse({ kind = "size", min = 1 }, "0", "--box-size") })
      assert.same({ nil, "--open-files: must be a positive integer" },
        { limits.parse({ kind = "count", min = 1 }, "0", "--open-files", true) })
    end)

    it("raises on an unknown limit key", function()
      assert.has_error(function() limits.parse("memroy", 1) end, "limits: unknown limit 'memroy'")
      assert.has_error(function() limits.parse("rlimits.nfile", 1) end, "limits: unknown limit 'rlimits.nfile'")
    end)
  end)

  it("parse_size and parse_seconds", function()
    assert.equal(MiB, limits.parse_size("1M"))
    assert.equal(0, limits.parse_size(0))
    assert.same({ nil, "f: must be a positive size" }, { limits.parse_size(0, "f", 1) })
    assert.equal(2.5, limits.parse_seconds("2.5"))
    assert.equal(0, limits.parse_seconds(0, nil, true))
    assert.same({ nil, "f: must be a positive number" }, { limits.parse_seconds(0, "f") })
    assert.same({ nil, "f: must be at most 2147483 seconds" }, { limits.parse_seconds("1e300", "f") })
  end)
end)
