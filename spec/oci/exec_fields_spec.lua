-- spec/oci/exec_fields_spec.lua - the spec fields the OCI front end needs
-- from the executor (docs/spec.md "The spec"): rlimits, umask, no_new_privs,
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
-- An OCI-like spec: base "none", the host's /usr (and links), /etc read-only,
-- a proc, then 'mounts'; the flags as given (absent: not set).
local function oci_spec(script, mounts, extra)
  local ms = { { type = "bind", source = "/usr", target = "/usr", ro = true, nosuid = true, nodev = true },
               { type = "bind", source = "/etc", target = "/etc", ro = true, nosuid = true, nodev = true } }
  for _, d in ipairs { "bin", "lib", "lib64", "sbin" } do
    ms[#ms + 1] = { type = "symlink", source = "usr/" .. d, target = "/" .. d }
  end
  ms[#ms + 1] = { type = "proc", target = "/proc", nosuid = true, nodev = true, noexec = true }
  for _, m in ipairs(mounts or {}) do ms[#ms + 1] = m end
  local spec = { base = "none", argv = { "/bin/sh", "-c", script }, mounts = ms,
                 env = { PATH = "/usr/bin:/bin" } }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return spec
end
local function oci(script, mounts, extra)
  return run(oci_spec(script, mounts, extra))
end
local function sh(script, extra)
  local spec = { argv = { "/bin/sh", "-c", script } }
  for k, v in pairs(extra or {}) do spec[k] = v end
  return run(spec)
end
]]

local function lua(code, prefix)
  return helper.run_isolated(PRELUDE .. code, prefix)
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
      -- the pair wins over limits.rlimits; a normalised spec validates to itself
      local both = validate.validate { argv = { "/bin/true" }, rlimits = { core = { soft = 1, hard = 2 } },
        limits = { rlimits = { nofile = 5 } } }
      assert.same(both, validate.validate(both))
      assert.same({ 1, 2 }, launch.plan(both, resources.dry(both)).exec.rlimits.core)
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

  describe("mount flags, propagation and data", function()
    it("validates them", function()
      assert.equal("mounts[1].nosuid: must be a boolean",
        problems { mounts = { { type = "tmpfs", target = "/a", nosuid = "yes" } } })
      assert.equal("mounts[1].propagation: must be one of private, rprivate, slave, rslave, shared, "
        .. "rshared, unbindable, runbindable",
        problems { mounts = { { type = "bind", source = "/a", target = "/a", propagation = "rpriv" } } })
      assert.equal("mounts[1].data: not valid for type 'proc'",
        problems { mounts = { { type = "proc", target = "/proc", data = "x" } } })
      assert.equal("rootfs_propagation: must be one of private, rprivate, slave, rslave, shared, "
        .. "rshared, unbindable, runbindable", problems { rootfs_propagation = "up" })
    end)

    it("means exactly what a base none mount says; other bases keep nosuid,nodev", function()
      local function flags_on(spec, what)
        local p = plan_of(spec)
        for _, st in ipairs(p.mounts.steps) do
          if st.op == "mount" and st.what == what and st.fstype then
            local t = {}
            for k in pairs(st.flags) do t[#t + 1] = k end
            table.sort(t)
            return table.concat(t, ","), st.data
          end
        end
      end
      local ms = { { type = "tmpfs", target = "/a" },
                   { type = "tmpfs", target = "/b", noexec = true, data = "nr_inodes=9" } }
      assert.equal("", flags_on({ base = "none", mounts = ms }, "/a"))
      local f, d = flags_on({ base = "none", mounts = ms }, "/b")
      assert.equal("noexec", f)
      assert.matches(",nr_inodes=9$", d)
      assert.equal("nodev,nosuid", flags_on({ mounts = ms }, "/a"))
      assert.equal("nodev,noexec,nosuid", flags_on({ mounts = ms }, "/b"))
      assert.equal("nodev", flags_on({ mounts = { { type = "tmpfs", target = "/a", nosuid = false } } }, "/a"))
      -- bwrap and isolate state nslua's defaults
      local filled = launch.default_flags { { type = "bind", source = "/x", target = "/x" },
                                            { type = "dev-bind", source = "/x", target = "/y" } }
      assert.same({ true, true, false }, { filled[1].nosuid, filled[1].nodev, filled[1].noexec })
      assert.same({ true, false, false }, { filled[2].nosuid, filled[2].nodev, filled[2].noexec })
    end)

    it("sets flags, data, propagation and the root's propagation in a container #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local dir = helper.tmpdir("0755")
      local ok, out = lua(([[
        oci("awk '$5 ~ /^\\/(a|b|c|d|e)$/ {split($6, o, \",\"); s = \"\"; "
          .. "for (i = 2; i <= length(o); i++) if (o[i] ~ /^no(suid|dev|exec)$/) s = s \",\" o[i]; "
          .. "print $5, o[1] s, ($7 ~ /^shared/ ? \"shared\" : $7 ~ /^master/ ? \"slave\" : \"private\")}' "
          .. "/proc/self/mountinfo | sort; grep -c nr_inodes=77 /proc/self/mountinfo; "
          .. "awk '$5 == \"/\" {print ($7 ~ /^shared/ ? \"root shared\" : \"root \" $7)}' /proc/self/mountinfo", {
          { type = "tmpfs", target = "/a" },
          { type = "tmpfs", target = "/b", nosuid = true, nodev = true, noexec = true, data = "nr_inodes=77" },
          { type = "bind", source = %q, target = "/c" },
          { type = "bind", source = %q, target = "/d", ro = true, noexec = true, propagation = "shared" },
          { type = "tmpfs", target = "/e", propagation = "rshared" },
        }, { rootfs_propagation = "shared" })
      ]]):format(dir, dir))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.equal("/a rw private\n/b rw,nosuid,nodev,noexec private\n/c rw private\n"
        .. "/d ro,noexec shared\n/e rw shared\n1\nroot shared\n", out)
    end)
  end)

  describe("devpts and cgroup mounts", function()
    it("plans a devpts with the spec's options and a cgroup view of the given layout", function()
      local s = validate.validate { argv = { "/bin/true" }, base = "none", mounts = {
        { type = "devpts", target = "/dev/pts", data = "newinstance,ptmxmode=0666,mode=0620", nosuid = true },
        { type = "cgroup", target = "/sys/fs/cgroup", ro = true } } }
      local res = resources.dry(s)
      res.cgroup_layout = { hierarchies = {
        { version = 1, mount = "/sys/fs/cgroup/memory", dir = "/sys/fs/cgroup/memory/a" },
        { version = 2, mount = "/sys/fs/cgroup/unified", dir = "/sys/fs/cgroup/unified/" } } }
      local text = table.concat(launch.explain(launch.plan(s, res)), "\n")
      assert.matches("mount: mount devpts on /dev/pts [nosuid] newinstance,ptmxmode=0666,mode=0620", text, 1, true)
      -- base "none": no flag the mount does not name
      assert.matches("mount: mount tmpfs on /sys/fs/cgroup mode=0755,size=65536\n", text, 1, true)
      assert.matches("mount: mount host:/sys/fs/cgroup/memory/a on /sys/fs/cgroup/memory [bind]\n"
        .. "mount: set rdonly on /sys/fs/cgroup/memory\n", text, 1, true)
      assert.matches("mount: set rdonly on /sys/fs/cgroup\n", text, 1, true)
      assert.matches("^mounts%[1%]%.ro: not valid for type 'devpts'",
        problems { mounts = { { type = "devpts", target = "/dev/pts", ro = true } } })
    end)

    it("mounts a devpts instance and the cgroup view, read-only #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        oci("ls /dev/pts; grep ' /dev/pts ' /proc/self/mountinfo | grep -o 'mode=[0-9]*,ptmxmode=[0-9]*'; "
          .. "ls /sys/fs/cgroup | tr '\\n' ' '; echo; test -r /sys/fs/cgroup/memory/memory.limit_in_bytes && echo mem; "
          .. "mkdir /sys/fs/cgroup/memory/x 2>&- || echo ro; mkdir /sys/fs/cgroup/y 2>&- || echo ro",
          { { type = "devpts", target = "/dev/pts", data = "newinstance,ptmxmode=0666,mode=0620", nosuid = true,
              noexec = true },
            { type = "cgroup", target = "/sys/fs/cgroup", ro = true } })
      ]])
      assert.is_true(ok, out)
      local want = {}
      for _, h in ipairs(require("nslua.cgroup").detect().hierarchies) do want[#want + 1] = h.mount:match("[^/]+$") end
      table.sort(want)
      assert.equal("ptmx\nmode=620,ptmxmode=666\n" .. table.concat(want, " ") .. " \nmem\nro\nro\n", out)
    end)
  end)

  describe("device mounts", function()
    it("validates them: only under /dev (an attacker's target is refused)", function()
      local function dev(t)
        local m = { type = "device", target = "/dev/x", kind = "c", major = 1, minor = 3 }
        for k, v in pairs(t) do m[k] = v end
        return problems { mounts = { m } }
      end
      assert.equal("mounts[1].target: a device must be under /dev", dev { target = "/etc/x" })
      assert.equal("mounts[1].target: a device must be under /dev", dev { target = "/dev" })
      assert.equal("mounts[1].target: must not contain '..'", dev { target = "/dev/../etc/shadow" })
      assert.equal("mounts[1].target: a device must be under /dev", dev { target = "//dev2/x" })
      assert.equal('mounts[1].kind: must be "c" (character), "b" (block) or "p" (FIFO)', dev { kind = "u" })
      assert.equal('mounts[1].major: must be absent with kind "p" (a FIFO has no numbers)',
        problems { mounts = { { type = "device", target = "/dev/f", kind = "p", major = 1 } } })
      assert.equal("", problems { mounts = { { type = "device", target = "/dev/f", kind = "p" } } })
      assert.equal("mounts[1].minor: must be an integer 0..1048575", dev { minor = -1 })
      assert.equal("", dev {})
      local p = plan_of { mounts = { { type = "device", target = "/dev/x", kind = "c", major = 1, minor = 3 } } }
      local ops = {}
      for _, st in ipairs(p.mounts.steps) do if st.what == "/dev/x" then ops[#ops + 1] = st.op end end
      assert.same({ "mkfile", "devbind" }, ops)
      p = plan_of { user = "host", net = "host",
        mounts = { { type = "device", target = "/dev/x", kind = "b", major = 7, minor = 0, uid = 5 } } }
      local text = table.concat(launch.explain(p), "\n")
      assert.matches("mknod /dev/x b 7:0 0666 owner 5:nil", text, 1, true)
    end)

    it("binds the host's node of the same numbers inside a user namespace #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("echo hi > /dev/mynull && head -c 3 /dev/myzero | od -An -tx1 | tr -d ' '; stat -c '%F %t:%T' /dev/mynull",
          { mounts = { { type = "device", target = "/dev/mynull", kind = "c", major = 1, minor = 3 },
                       { type = "device", target = "/dev/myzero", kind = "c", major = 1, minor = 5 } } })
        local r = nslua.container{ argv = { "/bin/true" },
          mounts = { { type = "device", target = "/dev/nothing", kind = "c", major = 4000, minor = 77 } } }:run()
        print(r.status, r.error and r.error.message)
      ]])
      assert.is_true(ok, out)
      assert.equal("000000\ncharacter special file 1:3\nerror\t/dev/nothing: mount '/newroot/dev/nothing': "
        .. "No such device (no character device 4000:77 on the host to bind)\n", out)
    end)

    it("makes a FIFO (OCI type \"p\") with or without a user namespace #priv", function()
      local p = plan_of { mounts = { { type = "device", target = "/dev/f", kind = "p", mode = 432 } } }
      local text = table.concat(launch.explain(p), "\n")
      assert.matches("mknod /dev/f p (FIFO) 0660", text, 1, true)
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        local f = { { type = "device", target = "/dev/f", kind = "p", mode = 432 } }
        sh("stat -c '%F %a' /dev/f", { user = "host", net = "host", mounts = f })
        f[1].mode = 438
        sh("stat -c '%F %a' /dev/f; (echo hi > /dev/f &); cat /dev/f", { mounts = f })
      ]])
      assert.is_true(ok, out)
      assert.equal("fifo 660\nfifo 666\nhi\n", out)
    end)

    it("binds the host's node where mknod is EPERM: root of a caller's user namespace #priv", function()
      -- (rootless podman runs the runtime as root of its user namespace:
      -- no user namespace in the spec, yet no mknod; runc binds then too)
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        oci("stat -c '%F %t:%T' /dev/zz; head -c 2 /dev/zz | od -An -tx1 | tr -d ' '",
          { { type = "device", target = "/dev/zz", kind = "c", major = 1, minor = 5 } },
          { user = "host", net = "host", namespaces = { net = false } })
      ]], "unshare -Ur")
      assert.is_true(ok, out)
      assert.equal("character special file 1:5\n0000\n", out)
    end)

    it("makes the node with mknod without a user namespace #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("stat -c '%F %t:%T %a %u:%g' /dev/zz; head -c 2 /dev/zz | od -An -tx1 | tr -d ' '",
          { user = "host", net = "host",
            mounts = { { type = "device", target = "/dev/zz", kind = "c", major = 1, minor = 5, mode = 416,
                         uid = 0, gid = 2 } } })
      ]])
      assert.is_true(ok, out)
      assert.equal("character special file 1:5 640 0:2\n0000\n", out)
    end)
  end)

  describe("personality", function()
    it("validates it and runs the command in that execution domain #priv", function()
      assert.equal('personality: must be "linux" or "linux32"', problems { personality = "bsd" })
      assert.matches("personality: linux32", explain { personality = "linux32" }, 1, true)
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("uname -m", { personality = "linux32" })
        sh("uname -m", { personality = "linux" })
      ]])
      assert.is_true(ok, out)
      local host = select(2, helper.sh("uname -m"))
      if host == "x86_64\n" then assert.equal("i686\nx86_64\n", out) end
    end)
  end)

  describe("join", function()
    it("validates it: paths, no user, not also made", function()
      assert.equal("join.pid: conflicts with pidns_fd (one pid namespace to be born in)",
        problems { join = { pid = "/proc/1/ns/pid" }, namespaces = { pid = false }, pidns_fd = 0 })
      local pp = plan_of { join = { pid = "/proc/1/ns/pid" }, namespaces = { pid = false } }
      assert.equal("/proc/1/ns/pid", pp.pidns_path)
      assert.is_nil(pp.join_paths)
      assert.matches("join: pid namespace /proc/1/ns/pid (the clone is born in it)",
        table.concat(launch.explain(pp), "\n"), 1, true)
      assert.matches("^join.user: joining a user namespace by path is not supported",
        problems { join = { user = "/x" } })
      assert.equal("join.net: conflicts with namespaces.net (a joined namespace is not also made)",
        problems { join = { net = "/run/netns/a" } })
      assert.equal("join.uts: must be an absolute path",
        problems { join = { uts = "x" }, namespaces = { uts = false } })
      assert.equal("join.foo: unknown namespace (valid: ipc uts net cgroup time mnt)",
        problems { join = { foo = "/x" } })
      local p = plan_of { join = { net = "/run/netns/a", ipc = "/proc/1/ns/ipc" },
                          namespaces = { net = false, ipc = false } }
      assert.same({ { ns = "ipc", path = "/proc/1/ns/ipc" }, { ns = "net", path = "/run/netns/a" } }, p.join_paths)
      assert.matches("join: net namespace /run/netns/a (setns before the clone)", table.concat(launch.explain(p), "\n"),
        1, true)
    end)

    it("refuses a path that is no namespace file of that type (an attacker's path) #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        for _, path in ipairs { "/etc/passwd", "/proc/self/ns/ipc", "/nonexistent" } do
          local r, err = nslua.container{ argv = { "/bin/true" }, namespaces = { net = false },
            join = { net = path } }:run()
          print(r and r.status, err)
        end
      ]])
      assert.is_true(ok, out)
      assert.matches("^nil\t[^\n]*join.net '/etc/passwd': not a net namespace file\n"
        .. "nil\t[^\n]*join.net '/proc/self/ns/ipc': not a net namespace file\n"
        .. "nil\t[^\n]*join.net '/nonexistent': No such file or directory\n$", out)
    end)

    it("counts a joined namespace as the sandbox's for what needs one", function()
      -- OCI's linux_ns_path: a namespace given by path is the container's
      -- as much as a new one (runc and crun set it up the same way)
      local base = { base = "none", namespaces = { ipc = false, net = false, pid = false, uts = false,
                                                   mnt = false } }
      local function with(t)
        local s = {}
        for k, v in pairs(base) do s[k] = v end
        for k, v in pairs(t) do s[k] = v end
        return s
      end
      assert.equal("mounts[1]: mqueue requires a ipc namespace (namespaces.ipc)",
        problems(with { namespaces = { mnt = true, ipc = false },
                        mounts = { { type = "mqueue", target = "/dev/mqueue" } } }))
      local all = { ipc = "/proc/1/ns/ipc", net = "/proc/1/ns/net", pid = "/proc/1/ns/pid",
                    uts = "/proc/1/ns/uts", mnt = "/proc/1/ns/mnt" }
      assert.equal("", problems(with { join = all, hostname = "h", domainname = "d",
        rootfs_propagation = "rslave", masks = { masked = { "/x" } },
        sysctl = { ["kernel.shmmax"] = "1", ["net.ipv4.ip_forward"] = "0" },
        mounts = { { type = "mqueue", target = "/dev/mqueue" }, { type = "sysfs", target = "/sys" },
                   { type = "proc", target = "/proc" } } }))
      local p = plan_of(with { join = all, hostname = "h", rootfs_propagation = "rslave",
                               mounts = { { type = "proc", target = "/proc" } } })
      assert.equal("h", p.hostname)
      assert.equal("rslave", p.rootfs_propagation)
      assert.is_table(p.mounts)
    end)

    it("joins the ipc, mount and pid namespaces a path names #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local _, pid = helper.sh("unshare -im --pid --fork --kill-child sleep 30 >/dev/null 2>&1 & echo $!")
      pid = assert(tonumber(pid))
      helper.sleep(0.3)
      local _, want = helper.sh(("cd /proc/%d/ns && readlink ipc mnt pid_for_children"):format(pid))
      local ok, out = lua(([[
        oci("readlink /proc/self/ns/ipc /proc/self/ns/mnt /proc/self/ns/pid; "
          .. "test $$ != 1 && grep -c ' /dev/mqueue mqueue ' /proc/self/mounts",
          { { type = "mqueue", target = "/dev/mqueue" } },
          { user = "host", namespaces = { ipc = false, mnt = false, pid = false },
            join = { ipc = "/proc/%d/ns/ipc", mnt = "/proc/%d/ns/mnt", pid = "/proc/%d/ns/pid_for_children" } })
      ]]):format(pid, pid, pid))
      helper.sh("kill " .. pid)
      assert.is_true(ok, out)
      assert.equal(want .. "1\n", out)
    end)

    it("host_mnt: the command ends in our mount namespace, the mounts do not #priv", function()
      assert.equal('host_mnt: requires user = "host" (a new user namespace may not enter the caller\'s mounts)',
        problems { host_mnt = true })
      assert.equal("host_mnt: requires namespaces.mnt (the set-up's own mount namespace)\n"
        .. "mounts: requires a mount namespace (namespaces.mnt)",
        problems { host_mnt = true, user = "host", net = "host", namespaces = { mnt = false },
                   mounts = { { type = "tmpfs", target = "/t" } } })
      assert.equal("mounts[1]: proc requires a pid namespace (namespaces.pid)",
        problems { namespaces = { pid = false }, mounts = { { type = "proc", target = "/proc" } } })
      assert.equal("mounts[1].host_ns: conflicts with the sandbox's own pid namespace",
        problems { mounts = { { type = "proc", target = "/proc", host_ns = true } } })
      assert.equal("", problems { namespaces = { pid = false },
                                  mounts = { { type = "proc", target = "/proc", host_ns = true } } })
      assert.matches("mount namespace: the caller's after the pivot",
        explain { host_mnt = true, user = "host", net = "host" }, 1, true)
      if not helper.is_root() then return pending("needs root") end
      local _, want = helper.sh("readlink /proc/self/ns/mnt /proc/self/ns/pid")
      local _, before = helper.sh("wc -l < /proc/self/mountinfo")
      local ok, out = lua([[
        local spec = oci_spec("readlink /proc/self/ns/mnt /proc/self/ns/pid; "
          .. "test -d /proc/1 && test -e /usr/bin/env && echo root-ok; echo hi > /t/f && cat /t/f",
          { { type = "tmpfs", target = "/t" } },
          { user = "host", net = "host", host_mnt = true, namespaces = { pid = false } })
        for _, m in ipairs(spec.mounts) do if m.type == "proc" then m.host_ns = true end end
        run(spec)
      ]])
      assert.is_true(ok, out)
      assert.equal(want .. "root-ok\nhi\n", out)
      assert.equal(before, select(2, helper.sh("wc -l < /proc/self/mountinfo")))
    end)

    it("joins the uts and net namespaces a path names #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local _, pid = helper.sh("unshare -un sh -c 'hostname joined-uts; exec sleep 30' >/dev/null 2>&1 & echo $!")
      pid = assert(tonumber(pid))
      helper.sleep(0.3)
      local _, want = helper.sh(("readlink /proc/%d/ns/net"):format(pid))
      local ok, out = lua(([[
        sh("hostname; readlink /proc/self/ns/net", { namespaces = { uts = false, net = false },
          join = { uts = "/proc/%d/ns/uts", net = "/proc/%d/ns/net" } })
      ]]):format(pid, pid))
      helper.sh("kill " .. pid)
      assert.is_true(ok, out)
      assert.equal("joined-uts\n" .. want, out)
    end)
  end)

  describe("caps as five sets", function()
    it("validates and normalises the sets, the union as the list", function()
      local s = validate.validate { caps = { bounding = { "CHOWN", "kill" }, permitted = { "chown" },
        effective = { "cap_chown" } } }
      assert.same({ "cap_chown", "cap_kill" }, { s.caps[1], s.caps[2] })
      assert.equal(2, #s.caps)
      assert.same({ "cap_chown", "cap_kill" }, s.caps.bounding)
      assert.same({}, s.caps.ambient)
      assert.same(s, validate.validate(s))
      assert.equal("caps.permitted[1]: unknown capability 'nope'",
        problems { caps = { bounding = {}, permitted = { "nope" } } })
      assert.equal("caps.bonding: unknown capability set (valid: bounding permitted effective inheritable ambient)",
        problems { caps = { bounding = {}, bonding = {} } })
      -- composition intersects set by set; a list counts in every set
      local c = require("nslua.policy").compose({ caps = { bounding = { "kill", "chown" }, ambient = { "kill" } } },
        { caps = { "kill" } })
      assert.same({ "kill" }, c.caps.bounding)
      assert.same({ "kill" }, c.caps.ambient)
      assert.same({}, c.caps.permitted)
      local text = explain { caps = { bounding = { "kill" }, ambient = {} } }
      assert.matches("capabilities: bounding: cap_kill\ncapabilities: permitted: none\n", text, 1, true)
    end)

    it("gives the command exactly those sets #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = lua([[
        sh("grep ^Cap /proc/self/status", { caps = {
          bounding = { "chown", "kill", "net_bind_service" }, permitted = { "chown", "net_bind_service" },
          effective = { "chown", "net_bind_service" }, inheritable = { "net_bind_service" },
          ambient = { "net_bind_service" } } })
        sh("grep ^CapBnd /proc/self/status", { caps = { "kill" } })
        -- runc's default: ambient without inheritable is left out
        sh("grep -e ^CapAmb -e ^CapPrm /proc/self/status", { caps = { bounding = { "kill" }, permitted = { "kill" },
          effective = { "kill" }, ambient = { "kill" } } })
      ]])
      assert.is_true(ok, out)
      assert.equal("CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\n"
        .. "CapBnd:\t0000000000000421\nCapAmb:\t0000000000000400\nCapBnd:\t0000000000000020\n"
        .. "CapPrm:\t0000000000000000\nCapAmb:\t0000000000000000\n", out)
    end)
  end)

  it("a spec with every field validates again to itself", function()
    local s = validate.validate {
      argv = { "/bin/true" }, base = "none", umask = 18, no_new_privs = false, oom_score_adj = 10,
      domainname = "d.example", personality = "linux", rootfs_propagation = "rslave",
      rlimits = { nofile = { soft = 10, hard = 20 }, core = { soft = 0, hard = "unlimited" } },
      sysctl = { ["kernel.msgmax"] = 100 }, masks = { masked = { "/proc/kcore" }, readonly = {} },
      namespaces = { net = false }, join = { net = "/run/netns/x" },
      caps = { bounding = { "kill" }, ambient = {} },
      mounts = { { type = "tmpfs", target = "/t", nosuid = false, data = "nr_inodes=5", propagation = "shared" },
                 { type = "devpts", target = "/dev/pts", data = "newinstance" },
                 { type = "cgroup", target = "/sys/fs/cgroup", ro = true },
                 { type = "device", target = "/dev/null", kind = "c", major = 1, minor = 3 } },
    }
    assert.same(s, validate.validate(s))
  end)
end)
