-- spec/doctor_spec.lua - nslua.doctor: the verdict functions on canned
-- inputs, then `nslua doctor` and `nslua doctor --json` on this host.
local helper = require "helper"
local doctor = require "nslua.cli.doctor"
local cgroup = require "nslua.cgroup"
local ids = require "nslua.ids"
local core = require "nslua.core"
local cjson = require "cjson"

local VERDICT = { ok = true, info = true, warn = true, fail = true }

local MI_V1 = table.concat({
  "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
  "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
  "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids",
}, "\n")
local CG_V1 = "8:pids:/\n4:memory:/a\n2:cpuacct:/\n1:cpu:/\n"
local MI_V2_LINE = "40 30 0:37 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw"

local function layout_of(mi, cg)
  return assert(cgroup.detect(mi, cg))
end

-- The doctor makes no named host object; its probe child mounts a tmpfs on
-- its own /tmp and under it (lua/nslua/doctor.lua).  The leftover check
-- looks at those mount points (a probe that slipped into the host's mount
-- namespace would leave them) and at any nslua id it made; mounts, groups
-- and state of other runs on the machine are never looked at.
local PROBE_POINTS = { "/tmp", "/tmp/u", "/tmp/w", "/tmp/m", "/tmp/t", "/tmp/x" }

local function track_doctor()
  return helper.track { points = PROBE_POINTS }
end

local function by_name(checks)
  local t = {}
  for _, c in ipairs(checks) do t[c.check] = c end
  return t
end

describe("nslua.doctor", function()
  describe("pure checks", function()
    it("parses kernel releases and compares them", function()
      assert.same({ 6, 18, 44 }, { doctor.parse_release("6.18.44-fc-v782") })
      assert.same({ 5, 4, 0 }, { doctor.parse_release("5.4") })
      assert.is_nil(doctor.parse_release("linux"))
      assert.is_true(doctor.release_ge("6.18.44-fc", "6.6"))
      assert.is_true(doctor.release_ge("6.6.0", "6.6"))
      assert.is_false(doctor.release_ge("6.5.9", "6.6"))
      assert.is_false(doctor.release_ge("5.19", "6.1"))
    end)

    it("judges the kernel release", function()
      assert.equal("ok", doctor.check_kernel("6.18.44-fc\n").verdict)
      local w = doctor.check_kernel("5.10.0-28-amd64")
      assert.equal("warn", w.verdict)
      assert.matches("no idmapped mounts", w.detail)
      assert.matches("no overlay in a user namespace", w.detail)
      assert.equal("fail", doctor.check_kernel("4.19.0").verdict)
      assert.equal("fail", doctor.check_kernel("garbage").verdict)
    end)

    it("judges namespaces: missing or refused required ones fail, optional ones warn", function()
      assert.equal("ok", doctor.check_namespace("pid", true, nil, true).verdict)
      local f = doctor.check_namespace("user", false, nil, false)
      assert.equal("fail", f.verdict)
      assert.matches("CONFIG_USER_NS", f.hint)
      assert.equal("warn", doctor.check_namespace("time", false, nil, true).verdict)
      local e = doctor.check_namespace("net", true, "unshare 'net': Operation not permitted", false)
      assert.equal("fail", e.verdict)
      assert.matches("inside a new user namespace", e.detail)
      assert.equal("warn", doctor.check_namespace("cgroup", true, "x", true).verdict)
    end)

    it("judges user namespace limits and switches", function()
      assert.equal("fail", doctor.check_max_userns("0\n").verdict)
      assert.equal("fail", doctor.check_max_userns(nil).verdict)
      assert.equal("warn", doctor.check_max_userns("10\n").verdict)
      assert.equal("ok", doctor.check_max_userns("96364\n").verdict)
      assert.equal("ok", doctor.check_unpriv_clone(nil).verdict)
      assert.equal("ok", doctor.check_unpriv_clone("1\n").verdict)
      local u = doctor.check_unpriv_clone("0\n")
      assert.equal("warn", u.verdict)
      assert.matches("unprivileged_userns_clone=1", u.hint, 1, true)
    end)

    it("warns about Ubuntu's apparmor_restrict_unprivileged_userns = 1 with the fix", function()
      local a = doctor.check_apparmor("1\n")
      assert.equal("warn", a.verdict)
      assert.matches("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0", a.hint, 1, true)
      assert.equal("ok", doctor.check_apparmor("0\n").verdict)
      assert.equal("ok", doctor.check_apparmor(nil).verdict)
    end)

    it("warns about dev.tty.legacy_tiocsti = 1", function()
      local t = doctor.check_tiocsti("1\n")
      assert.equal("warn", t.verdict)
      assert.matches("sysctl -w dev.tty.legacy_tiocsti=0", t.hint, 1, true)
      assert.equal(1, t.data.value)
      assert.equal("ok", doctor.check_tiocsti("0\n").verdict)
      assert.equal("info", doctor.check_tiocsti(nil).verdict)
    end)

    it("names the cgroup layout from canned mountinfo", function()
      local v1 = layout_of(MI_V1, CG_V1)
      assert.equal("v1", doctor.cgroup_kind(v1))
      local hybrid = layout_of(MI_V1 .. "\n" .. MI_V2_LINE, CG_V1 .. "0::/\n")
      assert.equal("hybrid", doctor.cgroup_kind(hybrid))
      local r = doctor.check_cgroup_layout(hybrid)
      assert.equal("info", r.verdict)
      assert.equal("hybrid", r.data.layout)
      assert.matches("^hybrid: v1 controllers cpu,cpuacct,memory,pids; "
        .. "cgroup2 at /nonexistent/unified with no controllers$", r.detail)
      local v2 = layout_of(MI_V2_LINE, "0::/\n")
      assert.equal("v2", doctor.cgroup_kind(v2))
      assert.equal("ok", doctor.check_cgroup_layout(v2).verdict)
      local none = layout_of("", "")
      assert.equal("none", doctor.cgroup_kind(none))
      assert.equal("fail", doctor.check_cgroup_layout(none).verdict)
    end)

    it("reports where the controllers are and which are missing", function()
      local v1 = layout_of(MI_V1, CG_V1)
      local r = doctor.check_cgroup_controllers(v1)
      -- no freezer in this canned v1 host
      assert.equal("warn", r.verdict)
      assert.matches("^missing freezer; memory: v1 /sys/fs/cgroup/memory/a;", r.detail)
      local v2 = layout_of(MI_V2_LINE, "0::/\n")
      local r2 = doctor.check_cgroup_controllers(v2)
      assert.equal("warn", r2.verdict)
      assert.matches("^missing memory,pids,cpu$", r2.detail)
    end)

    it("notes that --memory does not bound swap on v1 without memsw", function()
      local v1 = layout_of(MI_V1, CG_V1)
      local swaps = "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 1048572 0 -2\n"
      local noswap = "Filename\tType\tSize\tUsed\tPriority\n"
      local w = doctor.check_memsw(v1, swaps, false)
      assert.equal("warn", w.verdict)
      assert.matches("does not bound swap", w.detail)
      assert.matches("swapaccount=1", w.hint)
      assert.equal("ok", doctor.check_memsw(v1, swaps, true).verdict)
      assert.equal("info", doctor.check_memsw(v1, noswap, false).verdict)
      local v2 = layout_of(MI_V2_LINE, "0::/\n")
      assert.equal("info", doctor.check_memsw(v2, swaps, false).verdict)
    end)

    it("explains favordynmods from the cgroup mounts' options", function()
      local plain = "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
        .. "40 31 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate\n"
      local r = doctor.check_favordynmods(plain)
      assert.equal("info", r.verdict)
      assert.matches("RCU grace period", r.detail)
      assert.matches("favordynmods", r.hint)
      local fav = plain:gsub("nsdelegate", "nsdelegate,favordynmods")
      r = doctor.check_favordynmods(fav)
      assert.equal("ok", r.verdict)
      assert.matches("^/sys/fs/cgroup/unified is mounted with favordynmods", r.detail)
      -- an option of another file system with the same name counts for nothing
      r = doctor.check_favordynmods("50 1 0:1 / /mnt rw - tmpfs favordynmods rw,favordynmods\n")
      assert.equal("no cgroup hierarchy is mounted", r.detail)
    end)

    it("warns when the state records are not on a tmpfs", function()
      local mi = "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n2 1 0:5 / /run rw - tmpfs tmpfs rw\n"
        .. "3 1 0:6 / /run2 rw - ext4 /dev/sdb rw\n"
      assert.equal("ok", doctor.check_state_fs("/run/nslua", mi).verdict)
      local w = doctor.check_state_fs("/run2/nslua", mi)
      assert.equal("warn", w.verdict)
      assert.matches("on /run2 (ext4)", w.detail, 1, true)
      w = doctor.check_state_fs("/runx/nslua", mi)
      assert.matches("on / (ext4)", w.detail, 1, true)
      -- the host's own row: whatever /run is, the check names it
      local ok, out = helper.sh(helper.nslua .. " doctor")
      assert.is_true(ok, out)
      assert.matches("state.fs", out, 1, true)
      assert.matches("cgroup.favordynmods", out, 1, true)
    end)

    it("judges rootless delegation", function()
      local v1 = layout_of(MI_V1, CG_V1)
      assert.equal("ok", doctor.check_delegation(v1, true).verdict)
      local ok, why = cgroup.v2_delegated(v1)
      assert.is_false(ok)
      local r = doctor.check_delegation(v1, false, ok, why)
      assert.equal("warn", r.verdict)
      assert.matches("no cgroup2 hierarchy is mounted", r.detail)
    end)

    it("judges newuidmap by its setuid bit", function()
      assert.equal("ok", doctor.check_idmap_helper("newuidmap", "/x", { uid = 0, mode = 2541 }).verdict)
      assert.equal("warn", doctor.check_idmap_helper("newuidmap", "/x", { uid = 0, mode = 493 }, false).verdict)
      assert.equal("warn", doctor.check_idmap_helper("newuidmap", nil, nil, false).verdict)
      assert.equal("info", doctor.check_idmap_helper("newgidmap", nil, nil, true).verdict)
    end)

    it("finds the caller's subordinate ranges by name or uid", function()
      local list = { { name = "alice", start = 100000, count = 65536 },
                     { name = "1001", start = 165536, count = 65536 } }
      local a = doctor.check_subids("/etc/subuid", list, "alice", 1000, false)
      assert.equal("ok", a.verdict)
      assert.equal("/etc/subuid grants alice: 100000:65536", a.detail)
      assert.equal("ok", doctor.check_subids("/etc/subgid", list, "bob", 1001, false).verdict)
      local none = doctor.check_subids("/etc/subuid", list, "carol", 1002, false)
      assert.equal("warn", none.verdict)
      assert.equal("/etc/subuid has no range for carol: rootless multi-id maps (--map-all) are unavailable",
        none.detail)
      assert.equal("usermod --add-subuids 100000-165535 carol", none.hint)
      local empty = doctor.check_subids("/etc/subuid", {}, "root", 0, true)
      assert.equal("info", empty.verdict)
      assert.matches("^/etc/subuid is empty", empty.detail)
      assert.equal("subgid", doctor.check_subids("/etc/subgid", {}, "x", 1, false).check)
    end)

    it("fails when nslua's id slots overlap a subordinate range", function()
      local dir = helper.tmpdir()
      local file = dir .. "/subuid"
      local f = assert(io.open(file, "w"))
      f:write("alice:1073800000:65536\n")
      f:close()
      local cfg = { base = 1 << 30, slots = 1024 }
      local r = doctor.check_id_slots(cfg, nil, ids.check_overlap(cfg, { file }))
      helper.rmtree(dir)
      assert.is_false(helper.exists(dir))
      assert.equal("fail", r.verdict)
      assert.matches("overlap alice's range 1073800000:65536", r.detail, 1, true)
      assert.equal("ok", doctor.check_id_slots(cfg, nil, true).verdict)
      assert.equal("fail", doctor.check_id_slots(nil, "/etc/nslua.conf:1: unknown setting").verdict)
    end)

    it("lists the syscalls a release has and a resolver cannot name", function()
      local known = { mseal = 462 }
      local function resolve(n) return known[n] end
      local function names(list)
        local t = {}
        for _, s in ipairs(list) do t[#t + 1] = s.nr .. " " .. s.name end
        return table.concat(t, ",")
      end
      assert.equal("457 statmount,458 listmount,459 lsm_get_self_attr,460 lsm_set_self_attr,461 lsm_list_modules",
        names(doctor.unnamed_syscalls("6.8.0", function(n)
          if n == "statmount" or n == "listmount" or n:match("^lsm_") then return nil end
          return 1
        end, "x86_64")))
      -- uretprobe exists on x86_64 only
      local x86 = names(doctor.unnamed_syscalls("6.11.2", resolve, "x86_64"))
      local arm = names(doctor.unnamed_syscalls("6.11.2", resolve, "aarch64"))
      assert.matches("335 uretprobe", x86)
      assert.is_nil(arm:find("uretprobe"))
      assert.is_nil(x86:find("mseal"))
      assert.equal("", names(doctor.unnamed_syscalls("6.8", function() return 1 end, "x86_64")))
      assert.equal("", names(doctor.unnamed_syscalls("4.4", function() return nil end, "x86_64")))
    end)

    it("warns when libseccomp cannot name some of the kernel's syscalls", function()
      local r = doctor.check_unnamed("2.5.4", "6.10.3", { { name = "mseal", nr = 462, since = "6.10" } })
      assert.equal("warn", r.verdict)
      assert.equal("Linux 6.10.3 has 1 syscalls libseccomp 2.5.4 cannot name: 462 mseal", r.detail)
      local ok = doctor.check_unnamed("2.6.0", "6.6.1", {})
      assert.equal("ok", ok.verdict)
      assert.matches("doctor's table ends", doctor.check_unnamed("2.6.0", "7.1.0", {}).detail)
      assert.equal("ok", doctor.check_libseccomp("2.5.4").verdict)
      assert.equal("warn", doctor.check_libseccomp("2.4.1").verdict)
    end)

    it("turns mount probe results into rows", function()
      local rows = doctor.check_mount_probes({ overlay = "mount 'overlay': Invalid argument",
                                               idmap_host = "mount_setattr 'fd 5': Invalid argument",
                                               host_fs = "xfs" }, true)
      assert.equal("warn", rows[1].verdict)
      assert.equal("warn", rows[2].verdict)
      assert.matches("(xfs) failed", rows[2].detail, 1, true)
      rows = doctor.check_mount_probes({ clone = "clone: Operation not permitted" }, false)
      assert.equal("warn", rows[1].verdict)
      assert.matches("no user namespace", rows[2].detail)
      rows = doctor.check_mount_probes({ host_fs = "ext4" }, true)
      assert.equal("ok", rows[1].verdict)
      assert.equal("ok", rows[2].verdict)
      rows = doctor.check_mount_probes({ idmap_host = false }, true)
      assert.equal("info", rows[2].verdict)
      rows = doctor.check_mount_probes({}, false)
      assert.equal("info", rows[2].verdict)
    end)

    it("parses the mount probe's report", function()
      assert.same({}, doctor.parse_probe("overlay=ok\nidmap_tmpfs=ok"))
      assert.same({ idmap_tmpfs = "mount_setattr 'fd 7': Invalid argument" },
        doctor.parse_probe("overlay=ok\nidmap_tmpfs=mount_setattr 'fd 7': Invalid argument"))
      assert.same({ overlay = "mount 'overlay': No such device" },
        doctor.parse_probe("overlay=mount 'overlay': No such device\nidmap_tmpfs=ok"))
      local r = doctor.parse_probe("setup failed: mkdir '/tmp/u': Permission denied")
      assert.equal("setup failed: mkdir '/tmp/u': Permission denied", r.overlay)
      assert.equal(r.overlay, r.idmap_tmpfs)
    end)

    it("reads the file system type from mountinfo", function()
      local mi = "26 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n27 26 0:24 / /tmp rw - tmpfs tmpfs rw\n"
      assert.equal("ext4", doctor.fstype("/", mi))
      assert.equal("tmpfs", doctor.fstype("/tmp", mi))
      assert.is_nil(doctor.fstype("/x", mi))
    end)

    it("says which limits nslua run leaves unbounded, and what the judge bounds", function()
      local judge_defaults = { memory = "256M", output = "64M", pids = 64 }
      local r = doctor.check_run_limits({ rlimits = { core = 0 } }, judge_defaults)
      assert.equal("limits.run", r.check)
      assert.equal("info", r.verdict)
      assert.same({ "memory", "swap", "pids", "cpus", "time", "wall", "output", "nofile" }, r.data.unbounded)
      assert.matches("nslua run leaves memory, swap, processes, cpu bandwidth, cpu time, wall time, output "
        .. "and open files (the caller's RLIMIT_NOFILE stays) unbounded by default", r.detail, 1, true)
      assert.matches("nslua judge bounds memory (256M), output (64M) and processes (64)", r.detail, 1, true)
      assert.matches("--memory", r.hint)
      r = doctor.check_run_limits({ memory = 1, swap = 0, pids = 1, cpus = 1, time = 1, wall = 1, output = 1,
        rlimits = { nofile = 64 } }, judge_defaults)
      assert.equal("ok", r.verdict)
      r = doctor.check_run_limits({ pids = 10 }, judge_defaults)
      assert.same({ "memory", "swap", "cpus", "time", "wall", "output", "nofile" }, r.data.unbounded)
    end)

    it("exits 1 on any fail, 0 on warnings", function()
      assert.equal(0, doctor.exit_code { { verdict = "ok" }, { verdict = "warn" }, { verdict = "info" } })
      assert.equal(1, doctor.exit_code { { verdict = "ok" }, { verdict = "fail" } })
      assert.same({ ok = 1, info = 0, warn = 2, fail = 1 },
        doctor.summary { { verdict = "ok" }, { verdict = "warn" }, { verdict = "warn" }, { verdict = "fail" } })
    end)

    it("formats a table and JSON", function()
      local rows = { { check = "a", verdict = "ok", detail = "fine", hint = "" },
                     { check = "longer.name", verdict = "warn", detail = "hm", hint = "do x",
                       data = { unnamed = {} } } }
      assert.equal(table.concat({
        "CHECK        VERDICT  DETAIL / HINT",
        "a            ok       fine",
        "longer.name  warn     hm",
        "                      hint: do x",
        "",
        "1 ok, 0 info, 1 warn, 0 fail",
        "" }, "\n"), doctor.format_table(rows))
      local j = cjson.decode(doctor.format_json(rows))
      assert.equal(0, j.exit_code)
      assert.equal("longer.name", j.checks[2].check)
      assert.equal(0, j.checks[2].unnamed_count)
      assert.is_nil(j.checks[2].unnamed)
      assert.same({ ok = 1, info = 0, warn = 1, fail = 0 }, j.summary)
    end)

    it("parses its options", function()
      assert.same({ json = true, help = false }, doctor.parse_args { "--json" })
      assert.same({ json = false, help = false }, doctor.parse_args { n = 0 })
      local o, err = doctor.parse_args { "--jsn" }
      assert.is_nil(o)
      assert.equal("doctor: unknown option '--jsn' (usage: nslua doctor [--json])", err)
    end)
  end)

  describe("on this host", function()
    local json_out, json_rc, text_out, text_rc, report, checks, clean_err

    -- The leftover check brackets the doctor runs alone and is asserted by
    -- its own test.
    setup(function()
      local tracker = track_doctor()
      local _
      _, json_out, json_rc = helper.sh(helper.nslua .. " doctor --json")
      _, text_out, text_rc = helper.sh(helper.nslua .. " doctor")
      local okc, err = pcall(helper.assert_released, tracker)
      clean_err = not okc and tostring(err) or nil
      local okj, r = pcall(cjson.decode, json_out)
      if okj then
        report = r
        checks = by_name(r.checks)
      end
    end)

    it("leaves nothing behind: no mount, cgroup, link, netns or state", function()
      assert.is_nil(clean_err)
    end)

    it("prints JSON where every check has a verdict, a detail and a hint field", function()
      assert.is_table(report, json_out)
      assert.is_true(#report.checks >= 25)
      for _, c in ipairs(report.checks) do
        assert.is_true(VERDICT[c.verdict], c.check .. ": " .. tostring(c.verdict))
        assert.is_true(#c.detail > 0, c.check)
        assert.is_string(c.hint, c.check)
        if c.verdict == "warn" or c.verdict == "fail" then
          assert.is_true(#c.hint > 0, c.check .. " has no hint")
        end
      end
      for _, t in ipairs(doctor.NAMESPACES) do assert.is_table(checks["ns." .. t], t) end
      for _, n in ipairs { "kernel", "userns.max", "userns.apparmor", "cgroup.layout",
                           "cgroup.delegation", "cgroup.memsw", "newuidmap", "newgidmap",
                           "subuid", "subgid", "ids.slots", "tty.legacy_tiocsti",
                           "seccomp.libseccomp", "seccomp.syscalls", "mount.overlay_userns",
                           "mount.idmap" } do
        assert.is_table(checks[n], n)
      end
    end)

    it("exits with the documented code: 1 when a check fails, else 0", function()
      local failed = false
      for _, c in ipairs(report.checks) do failed = failed or c.verdict == "fail" end
      assert.equal(failed and 1 or 0, json_rc, json_out)
      assert.equal(json_rc, report.exit_code)
      assert.equal(json_rc, text_rc)
    end)

    it("prints the same checks as a table", function()
      assert.matches("^CHECK%s+VERDICT%s+DETAIL / HINT\n", text_out)
      for _, c in ipairs(report.checks) do
        local esc = c.check:gsub("%p", "%%%0")
        assert.matches("\n" .. esc .. "%s+" .. c.verdict .. "%s", text_out)
      end
      local s = report.summary
      assert.matches(("\n%d ok, %d info, %d warn, %d fail\n$"):format(s.ok, s.info, s.warn, s.fail),
        text_out)
    end)

    it("says nslua run's defaults leave memory, processes and output unbounded", function()
      local c = checks["limits.run"]
      assert.is_table(c, json_out)
      assert.equal("info", c.verdict)
      for _, k in ipairs { "memory", "pids", "output", "time", "wall" } do
        assert.is_true(("," .. table.concat(c.unbounded, ",") .. ","):find("," .. k .. ",", 1, true) ~= nil, k)
      end
      local judge = require "nslua.recipes.judge"
      assert.matches(("memory (%s), output (%s) and processes (%d)"):format(judge.DEFAULTS.memory,
        judge.DEFAULTS.output, judge.DEFAULTS.pids), c.detail, 1, true)
      assert.matches("\nlimits%.run%s+info%s", text_out)
    end)

    it("reports hybrid cgroups", function()
      local mi = helper.read("/proc/self/mountinfo")
      if not (mi:match(" %- cgroup ") and mi:match(" %- cgroup2 ")) then
        return pending("this host is not a v1 + v2 hybrid")
      end
      local c = checks["cgroup.layout"]
      assert.equal("hybrid", c.layout)
      assert.equal("info", c.verdict)
      assert.matches("^hybrid: v1 controllers .*memory.*; cgroup2 at ", c.detail)
    end)

    it("reports legacy_tiocsti = 1 as warn", function()
      local v = helper.read("/proc/sys/dev/tty/legacy_tiocsti")
      if not v or v:match("^%s*(.-)%s*$") ~= "1" then
        return pending("dev.tty.legacy_tiocsti is not 1 here")
      end
      local c = checks["tty.legacy_tiocsti"]
      assert.equal("warn", c.verdict)
      assert.equal(1, c.value)
      assert.matches("legacy_tiocsti = 1", c.detail, 1, true)
    end)

    it("reports an empty /etc/subuid", function()
      local text = helper.read("/etc/subuid")
      if text == nil then return pending("/etc/subuid does not exist") end
      if text:match("%S") then return pending("/etc/subuid is not empty on this machine") end
      local c = checks.subuid
      assert.equal("/etc/subuid is empty (privileged nslua uses its own id slots)", c.detail)
      assert.equal(helper.is_root() and "info" or "warn", c.verdict)
      assert.matches("usermod --add-subuids", c.hint, 1, true)
    end)

    it("reports the syscalls libseccomp 2.5.4 cannot name", function()
      local release = helper.read("/proc/sys/kernel/osrelease")
      if core.seccomp.version() ~= "2.5.4" then return pending("libseccomp is not 2.5.4") end
      if not doctor.release_ge(release, "6.6") then return pending("kernel older than 6.6") end
      local c = checks["seccomp.syscalls"]
      assert.equal("warn", c.verdict)
      assert.is_true(c.unnamed_count >= 1)
      assert.equal(c.unnamed_count, #c.unnamed)
      for _, s in ipairs(c.unnamed) do
        -- independently: this libseccomp really cannot name it, the kernel is new enough
        assert.is_nil(core.seccomp.resolve(s.name), s.name)
        assert.is_true(doctor.release_ge(release, s.since), s.name)
        assert.matches(("%d %s"):format(s.nr, s.name), c.detail, 1, true)
      end
      -- one every 6.8+ kernel has and 2.5.4 never knew
      if doctor.release_ge(release, "6.8") then
        local found = false
        for _, s in ipairs(c.unnamed) do found = found or (s.name == "statmount" and s.nr == 457) end
        assert.is_true(found)
      end
    end)

    it("probes every namespace type and the mounts in a user namespace", function()
      for _, t in ipairs(doctor.NAMESPACES) do
        if helper.exists("/proc/self/ns/" .. t) then
          assert.equal("ok", checks["ns." .. t].verdict, checks["ns." .. t].detail)
        end
      end
      local release = helper.read("/proc/sys/kernel/osrelease")
      if not doctor.release_ge(release, "6.3") then return pending("kernel older than 6.3") end
      assert.equal("ok", checks["mount.overlay_userns"].verdict, checks["mount.overlay_userns"].detail)
      local idmap = checks["mount.idmap"]
      if helper.is_root() then
        assert.equal("ok", idmap.verdict, idmap.detail)
        assert.matches("idmapped tmpfs in a user namespace: works", idmap.detail, 1, true)
      else
        assert.equal("info", idmap.verdict)
        assert.matches("^idmapped tmpfs in a user namespace works", idmap.detail)
      end
    end)

    it("exits 125 on a bad option", function()
      local ok, out, rc = helper.sh(helper.nslua .. " doctor --bogus")
      assert.is_false(ok)
      assert.equal(125, rc)
      assert.equal("nslua: doctor: unknown option '--bogus' (usage: nslua doctor [--json])\n", out)
      local _, hout, hrc = helper.sh(helper.nslua .. " doctor --help")
      assert.equal(0, hrc)
      assert.matches("Exit codes: 0 no check failed", hout, 1, true)
    end)

    it("runs rootless: no delegation on v1, subuid empty as warn #priv", function()
      if not helper.is_root() then return pending("needs root to switch to the test user") end
      local dir = helper.rootless_tree()
      local tracker = track_doctor()
      -- helper.san_env after setpriv: env -i would drop the sanitizer runtime
      local _, out, rc = helper.sh(("cd /tmp && %s %s %s%s/scripts/nslua doctor --json")
        :format(helper.ENV_I, helper.SETPRIV, helper.san_env, dir))
      helper.assert_released(tracker)
      local okj, r = pcall(cjson.decode, out)
      assert.is_true(okj, out)
      local c = by_name(r.checks)
      assert.equal(r.exit_code, rc)
      assert.matches("inside a new user namespace", c["ns.net"].detail)
      local mi = helper.read("/proc/self/mountinfo")
      local v2 = mi:match(" %- cgroup2 ")
      if not mi:match(" %- cgroup ") and v2 then
        return pending("a pure v2 host: delegation depends on the test user's group")
      end
      assert.equal("warn", c["cgroup.delegation"].verdict)
      assert.matches("exit 125", c["cgroup.delegation"].detail, 1, true)
      local text = helper.read("/etc/subuid")
      if text and not text:match("%S") then
        assert.equal("warn", c.subuid.verdict)
        assert.equal("usermod --add-subuids 100000-165535 " .. tostring(helper.ROOTLESS_UID),
          c.subuid.hint)
      end
      if doctor.release_ge(helper.read("/proc/sys/kernel/osrelease"), "6.3") then
        assert.equal("info", c["mount.idmap"].verdict)
        assert.matches("^idmapped tmpfs in a user namespace works", c["mount.idmap"].detail)
        assert.equal("ok", c["mount.overlay_userns"].verdict, c["mount.overlay_userns"].detail)
      end
    end)
  end)
end)
