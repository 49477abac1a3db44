-- spec/oci/exec_fields_spec.lua - the spec fields the OCI front end needs
-- from the executor (README "The spec"): rlimits, umask, no_new_privs,
-- oom_score_adj, ...  Validation in the busted process; every run is a
-- real container in a fresh lua5.4, and each test checks that it left
-- nothing behind (helper.track / assert_released).
local helper = require "helper"
local validate = require "nslua.validate"
local launch = require "nslua.launch"
local resources = require "nslua.resources"

-- Lua code run in a fresh lua5.4: run(spec) prints the command's output
-- (stdout inherited) and returns the report.
local PRELUDE = [[
local nslua = require "nslua"
local function run(spec)
  local r, err = nslua.container(spec):run()
  assert(r, err)
  io.stdout:flush()
  return r
end
local function sh(script, extra)
  local spec = { argv = { "/bin/sh", "-c", script } }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return run(spec)
end
]]

local function lua(code)
  return helper.run_isolated(PRELUDE .. code)
end

-- The problems of a spec, one string.
local function problems(spec)
  local out, errs = validate.check(spec)
  if out then return "" end
  return table.concat(errs, "\n")
end

-- The plan of a spec (explain's resources).
local function plan_of(spec)
  spec.argv = spec.argv or { "/bin/true" }
  local s = validate.validate(spec)
  return launch.plan(s, resources.dry(s))
end

local function explain(spec)
  return table.concat(launch.explain(plan_of(spec)), "\n")
end

describe("OCI executor fields", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  describe("rlimits", function()
    it("validates names, pairs and soft <= hard", function()
      assert.equal("rlimits.nofile: soft limit 300 is above the hard limit 200",
        problems { rlimits = { nofile = { soft = 300, hard = 200 } } })
      assert.matches("^rlimits.nofil: unknown resource limit %(valid: as core cpu",
        problems { rlimits = { nofil = { soft = 1, hard = 1 } } })
      assert.equal("rlimits.nproc.hard: is required",
        problems { rlimits = { nproc = { soft = 1 } } })
      assert.equal("rlimits.core: must be a table { soft = N, hard = N }",
        problems { rlimits = { core = 5 } })
      assert.equal("rlimits.nofile.soft: must be a non-negative integer or \"unlimited\"",
        problems { rlimits = { nofile = { soft = -1, hard = 5 } } })
      assert.equal("rlimits.nofile: conflicts with limits.rlimits.nofile",
        problems { rlimits = { nofile = { soft = 1, hard = 1 } }, limits = { rlimits = { nofile = 5 } } })
      -- OCI's RLIM_INFINITY (2^64-1) as JSON decodes it
      local s = validate.validate { rlimits = { rtprio = { soft = 0, hard = 18446744073709551615.0 } } }
      assert.same({ soft = 0, hard = "unlimited" }, s.rlimits.rtprio)
    end)

    it("puts soft and hard in the plan and explain", function()
      local p = plan_of { rlimits = { nofile = { soft = 100, hard = 200 }, sigpending = { soft = 7, hard = 7 } } }
      assert.same({ 100, 200 }, p.exec.rlimits.nofile)
      assert.equal(7, p.exec.rlimits.sigpending)
      local text = explain { rlimits = { nofile = { soft = 100, hard = "unlimited" } } }
      assert.matches("rlimit: nofile = 100 soft, unlimited hard", text, 1, true)
      assert.equal("100:unlimited", launch.rlimit_text({ 100, math.huge }))
      -- a state record's pair reads back for nslua exec
      local r = require("nslua.exec").parse_record { rlimits = "nofile=100:unlimited\tcore=0" }
      assert.same({ nofile = { 100, math.huge }, core = 0 }, r.rlimits)
    end)

    it("sets every limit's soft and hard values in a container #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        -- /proc/self/limits: "Max open files  100  200  files"
        sh("grep -e 'open files' -e 'pending signals' -e 'msgqueue' -e 'locked memory' -e 'cpu time' "
          .. "/proc/self/limits | awk '{print $(NF-2), $(NF-1)}'",
          { rlimits = { nofile = { soft = 100, hard = 200 }, sigpending = { soft = 50, hard = 60 },
                        msgqueue = { soft = 4096, hard = 8192 }, memlock = { soft = 65536, hard = 65536 },
                        cpu = { soft = 30, hard = "unlimited" } } })
      ]])
      assert.is_true(ok, out)
      assert.equal("30 unlimited\n100 200\n65536 65536\n50 60\n4096 8192\n", out)
    end)
  end)

  describe("umask, no_new_privs, oom_score_adj", function()
    it("validates them", function()
      assert.equal("umask: must be an integer 0..0777", problems { umask = 512 })
      assert.equal("no_new_privs: must be a boolean", problems { no_new_privs = 1 })
      assert.equal("oom_score_adj: must be an integer -1000..1000", problems { oom_score_adj = -1001 })
      local p = plan_of { umask = 18, no_new_privs = false, oom_score_adj = 100 }
      assert.equal(18, p.exec.umask)
      assert.is_false(p.exec.no_new_privs)
      assert.equal(100, p.oom_score_adj)
      assert.is_nil(plan_of({}).exec.no_new_privs)
      local text = explain { umask = 18, no_new_privs = false, oom_score_adj = 100 }
      assert.matches("umask: 0022", text, 1, true)
      assert.matches("no_new_privs: not set", text, 1, true)
      assert.matches("oom_score_adj: 100", text, 1, true)
    end)

    it("gives the command its umask #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("umask; : > /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d", { umask = tonumber("027", 8) })
      ]])
      assert.is_true(ok, out)
      assert.equal("0027\n640\n750\n", out)
    end)

    it("sets no_new_privs unless the spec says false, seccomp or not #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local s = "grep NoNewPrivs /proc/self/status | tr -d '\\t'; grep -c '^Seccomp:.2' /proc/self/status"
        sh(s)
        sh(s, { no_new_privs = false })
        sh(s, { no_new_privs = false, seccomp = "none" })
        sh(s, { no_new_privs = false, caps = { "net_bind_service" } })
        sh(s, { no_new_privs = true, seccomp = "strict" })
      ]])
      assert.is_true(ok, out)
      assert.equal("NoNewPrivs:1\n1\nNoNewPrivs:0\n1\nNoNewPrivs:0\n0\nNoNewPrivs:0\n1\n"
        .. "NoNewPrivs:1\n1\n", out)
    end)

    it("writes oom_score_adj before the release; lowering needs CAP_SYS_RESOURCE #priv", function()
      if not helper.is_root() then return pending("needs root") end
      -- this host's root may lack CAP_SYS_RESOURCE (a container's bounding set)
      local status = helper.read("/proc/self/status")
      local capeff = tonumber(status:match("CapEff:%s*(%x+)"), 16)
      local can_lower = (capeff >> 24) & 1 == 1
      local ok, out = lua([[
        sh("cat /proc/self/oom_score_adj", { oom_score_adj = 500 })
        sh("cat /proc/1/oom_score_adj", { oom_score_adj = 7 })
        local r, err = nslua.container{ argv = { "/bin/cat", "/proc/self/oom_score_adj" },
          oom_score_adj = -300 }:run()
        io.stdout:flush()
        print(r and r.status, err)
      ]])
      assert.is_true(ok, out)
      if can_lower then
        assert.equal("500\n7\n-300\nexited\tnil\n", out)
      else
        assert.matches("^500\n7\nnil\tstart '%w+': write '/proc/%d+/oom_score_adj': Permission denied\n$", out)
      end
    end)

    it("refuses a lower oom_score_adj to a rootless caller, leaving nothing #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = helper.run_rootless(PRELUDE .. [[
        local r, err = nslua.container{ argv = { "/bin/true" }, oom_score_adj = -10 }:run()
        print(r and r.status, err)
        sh("cat /proc/self/oom_score_adj", { oom_score_adj = 900 })
      ]])
      assert.is_true(ok, out)
      assert.matches("^nil\t.*write '/proc/%d+/oom_score_adj': Permission denied\n900\n$", out)
    end)
  end)

  describe("domainname and sysctl", function()
    it("validates them, naming the key", function()
      assert.equal("domainname: requires a uts namespace (namespaces.uts)",
        problems { domainname = "example.org", namespaces = { uts = false } })
      assert.matches("^domainname: must be 1..64 characters", problems { domainname = "a b" })
      assert.equal('sysctl["../../kernel/core_pattern"]: must be a sysctl name such as '
        .. '"net.ipv4.ip_forward" (dot-separated words)', problems { sysctl = { ["../../kernel/core_pattern"] = "x" } })
      assert.matches('^sysctl%["net..ipv4"%]: must be a sysctl name', problems { sysctl = { ["net..ipv4"] = "1" } })
      assert.matches('^sysctl%["kernel.core_pattern"%]: is not a sysctl of the sandbox\'s namespaces',
        problems { sysctl = { ["kernel.core_pattern"] = "|/bin/x" } })
      assert.equal('sysctl["kernel.hostname"]: is refused: use the hostname field',
        problems { sysctl = { ["kernel.hostname"] = "x" } })
      assert.equal('sysctl["net.ipv4.ip_forward"]: requires a net namespace (namespaces.net)',
        problems { sysctl = { ["net.ipv4.ip_forward"] = "1" }, net = "host" })
      assert.equal('sysctl["kernel.msgmax"]: requires an ipc namespace (namespaces.ipc)',
        problems { sysctl = { ["kernel.msgmax"] = 100 }, namespaces = { ipc = false } })
      assert.equal('sysctl["kernel.sem"]: must be a string (or an integer)',
        problems { sysctl = { ["kernel.sem"] = {} } })
      local text = explain { domainname = "example.org", sysctl = { ["kernel.msgmax"] = 100 } }
      assert.matches("domainname: example.org", text, 1, true)
      assert.matches("sysctl kernel.msgmax = 100", text, 1, true)
    end)

    it("sets the domainname and the namespaced sysctls, not the host's #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local keys = { "kernel/msgmax", "kernel/sem", "fs/mqueue/queues_max", "net/ipv4/ip_forward",
                     "kernel/domainname" }
      local function host()
        local t = {}
        for i, k in ipairs(keys) do t[i] = helper.read("/proc/sys/" .. k) end
        return table.concat(t)
      end
      local before = host()
      local ok, out = lua([[
        sh("cd /proc/sys; cat kernel/domainname kernel/msgmax kernel/sem fs/mqueue/queues_max "
          .. "net/ipv4/ip_forward", {
          domainname = "example.org",
          sysctl = { ["kernel.msgmax"] = 12345, ["kernel.sem"] = "250 32000 32 129",
                     ["fs.mqueue.queues_max"] = "77", ["net.ipv4.ip_forward"] = "1" } })
      ]])
      assert.is_true(ok, out)
      assert.equal("example.org\n12345\n250\t32000\t32\t129\n77\n1\n", out)
      assert.equal(before, host())
    end)

    it("never follows a mount over /proc/sys (an attacker's spec) #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local r, err = nslua.container{ argv = { "/bin/true" }, base = "none",
          mounts = { { type = "proc", target = "/proc" }, { type = "tmpfs", target = "/proc/sys/net" } },
          sysctl = { ["net.ipv4.ip_forward"] = "1" } }:run()
        print(r and r.status, r and r.error and r.error.message or err)
      ]])
      assert.is_true(ok, out)
      assert.matches('sysctl%["net.ipv4.ip_forward"%]: open \'/newroot/proc/sys/net/ipv4/ip_forward\': '
        .. 'Invalid cross%-device link', out)
    end)
  end)

  describe("masks", function()
    it("validates them and replaces Docker's lists in the plan", function()
      assert.equal("masks.masked[1]: must be an absolute path", problems { masks = { masked = { "proc/kcore" } } })
      assert.equal("masks.readonly[2]: must not contain '..'",
        problems { masks = { readonly = { "/a", "/proc/../etc" } } })
      assert.equal("masks.hidden: unknown field", problems { masks = { hidden = {} } })
      local p = plan_of { masks = { masked = { "/proc/kcore", "/etc/secret" }, readonly = { "/proc/sys" } } }
      local got = {}
      for _, st in ipairs(p.mounts.steps) do
        if st.op == "mask" or st.op == "ro" then got[#got + 1] = st.op .. " " .. st.what end
      end
      assert.same({ "ro /proc/sys", "mask /proc/kcore", "mask /etc/secret" }, got)
    end)

    it("masks and makes read-only exactly the listed paths #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("wc -c < /proc/interrupts | tr -d ' '; cat /etc/hostname | wc -c; ls /proc/keys >/dev/null 2>&1 && echo keys-open; "
          .. "(echo 1 > /proc/sys/kernel/msgmax) 2>/dev/null || echo sys-ro; touch /tmp/x/f 2>/dev/null || echo tmp-ro; "
          .. "ls -A /tmp/d | wc -l",
          { mounts = { { type = "dir", target = "/tmp/x" }, { type = "dir", target = "/tmp/d" },
                       { type = "file", target = "/tmp/d/secret", content = "s" } },
            masks = { masked = { "/proc/interrupts", "/etc/hostname", "/tmp/d", "/nonexistent" },
                      readonly = { "/proc/sys", "/tmp/x" } } })
      ]])
      assert.is_true(ok, out)
      assert.equal("0\n0\nkeys-open\nsys-ro\ntmp-ro\n0\n", out)
    end)

    it("follows a link in a mask path inside the root only (an attacker's spec) #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local r = sh("cat /etc/hostname; echo; grep -c ' /etc/hostname ' /proc/self/mountinfo; echo done", {
          base = "none",
          mounts = { { type = "bind", source = "/bin", target = "/bin", ro = true },
                     { type = "bind", source = "/lib", target = "/lib", ro = true },
                     { type = "bind", source = "/usr", target = "/usr", ro = true },
                     { type = "bind", source = "/lib64", target = "/lib64", ro = true, try = true },
                     { type = "proc", target = "/proc" },
                     { type = "file", target = "/etc/hostname", content = "inside" },
                     { type = "symlink", source = "../../../../../../etc/hostname", target = "/up" },
                     { type = "symlink", source = "/.oldroot/etc/passwd", target = "/host" } },
          masks = { masked = { "/up", "/host" } } })
        print(r.status, r.exit_code)
      ]])
      assert.is_true(ok, out)
      -- /up led to the root's own /etc/hostname (masked); /host to nothing (skipped)
      -- (two mounts there: the file's bind, then the mask over it)
      assert.equal("\n2\ndone\nexited\t0\n", out)
    end)
  end)
end)
