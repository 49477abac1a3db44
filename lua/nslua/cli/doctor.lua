--- nslua.cli.doctor: `nslua doctor [--json]`, host checks with a verdict and a
-- fix hint each.  It reads /proc and /sys and probes the kernel through
-- nslua.core in forked children; it never runs a shell command.
--
-- Verdicts: ok (nothing to do), info (worth knowing, nothing is broken),
-- warn (some nslua feature is unavailable or the host has a weakness
-- outside nslua), fail (nslua cannot work as designed here).
--
-- Exit codes of `nslua doctor`:
--   0    no check failed (warnings and info allowed)
--   1    at least one check failed
--   125  doctor itself could not run (bad option)
local core = require "nslua.core"
local ns, proc, mount, seccomp = core.ns, core.proc, core.mount, core.seccomp

local M = {}

M.EXIT_OK = 0
M.EXIT_FAILED = 1
M.EXIT_USAGE = require("nslua.report").EXIT_FAIL

M.VERDICTS = { "ok", "info", "warn", "fail" }

M.NAMESPACES = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" }
-- What nslua's default sandbox unshares: without one of these it cannot run.
local REQUIRED_NS <const> = { ipc = true, mnt = true, net = true, pid = true, user = true,
                              uts = true }
local NS_SINCE <const> = { cgroup = "4.6", ipc = "2.6.19", mnt = "2.4.19", net = "2.6.24",
                           pid = "2.6.24", time = "5.6", user = "3.8", uts = "2.6.19" }

--- Syscalls newer than the oldest libseccomp nslua supports: name, number
-- (x86_64; from 424 on the same number on every architecture, the unified
-- table of 5.1), the kernel release that added it, and an arch when the
-- syscall exists on one architecture only.  Which of them the running
-- kernel has is decided by its release: /proc offers no syscall list, and
-- a number stays allocated (ENOSYS) when its option is configured out.
M.SYSCALLS = {
  { name = "rseq", nr = 334, since = "4.18" },
  { name = "uretprobe", nr = 335, since = "6.11", arch = "x86_64" },
  { name = "pidfd_send_signal", nr = 424, since = "5.1" },
  { name = "io_uring_setup", nr = 425, since = "5.1" },
  { name = "io_uring_enter", nr = 426, since = "5.1" },
  { name = "io_uring_register", nr = 427, since = "5.1" },
  { name = "open_tree", nr = 428, since = "5.2" },
  { name = "move_mount", nr = 429, since = "5.2" },
  { name = "fsopen", nr = 430, since = "5.2" },
  { name = "fsconfig", nr = 431, since = "5.2" },
  { name = "fsmount", nr = 432, since = "5.2" },
  { name = "fspick", nr = 433, since = "5.2" },
  { name = "pidfd_open", nr = 434, since = "5.3" },
  { name = "clone3", nr = 435, since = "5.3" },
  { name = "close_range", nr = 436, since = "5.9" },
  { name = "openat2", nr = 437, since = "5.6" },
  { name = "pidfd_getfd", nr = 438, since = "5.6" },
  { name = "faccessat2", nr = 439, since = "5.8" },
  { name = "process_madvise", nr = 440, since = "5.10" },
  { name = "epoll_pwait2", nr = 441, since = "5.11" },
  { name = "mount_setattr", nr = 442, since = "5.12" },
  { name = "quotactl_fd", nr = 443, since = "5.14" },
  { name = "landlock_create_ruleset", nr = 444, since = "5.13" },
  { name = "landlock_add_rule", nr = 445, since = "5.13" },
  { name = "landlock_restrict_self", nr = 446, since = "5.13" },
  { name = "memfd_secret", nr = 447, since = "5.14" },
  { name = "process_mrelease", nr = 448, since = "5.15" },
  { name = "futex_waitv", nr = 449, since = "5.16" },
  { name = "set_mempolicy_home_node", nr = 450, since = "5.17" },
  { name = "cachestat", nr = 451, since = "6.5" },
  { name = "fchmodat2", nr = 452, since = "6.6" },
  { name = "map_shadow_stack", nr = 453, since = "6.6" },
  { name = "futex_wake", nr = 454, since = "6.7" },
  { name = "futex_wait", nr = 455, since = "6.7" },
  { name = "futex_requeue", nr = 456, since = "6.7" },
  { name = "statmount", nr = 457, since = "6.8" },
  { name = "listmount", nr = 458, since = "6.8" },
  { name = "lsm_get_self_attr", nr = 459, since = "6.8" },
  { name = "lsm_set_self_attr", nr = 460, since = "6.8" },
  { name = "lsm_list_modules", nr = 461, since = "6.8" },
  { name = "mseal", nr = 462, since = "6.10" },
  { name = "setxattrat", nr = 463, since = "6.13" },
  { name = "getxattrat", nr = 464, since = "6.13" },
  { name = "listxattrat", nr = 465, since = "6.13" },
  { name = "removexattrat", nr = 466, since = "6.13" },
  { name = "open_tree_attr", nr = 467, since = "6.15" },
  { name = "file_getattr", nr = 468, since = "6.17" },
  { name = "file_setattr", nr = 469, since = "6.17" },
}
M.SYSCALLS_UNTIL = "6.17"

local read_file = require("nslua.state").read

local function trim(s)
  return s and (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function check(name, verdict, detail, hint, data)
  return { check = name, verdict = verdict, detail = detail, hint = hint or "", data = data }
end

---------------------------------------------------------------- pure parts

--- "6.18.44-fc-v782" -> 6, 18, 44 (nil when it is not a release string).
function M.parse_release(s)
  local a, b, c = tostring(s or ""):match("^%s*(%d+)%.(%d+)%.?(%d*)")
  if not a then return nil end
  return tonumber(a), tonumber(b), tonumber(c) or 0
end

--- Is release 'rel' at least "major.minor"?
function M.release_ge(rel, want)
  local a, b = M.parse_release(rel)
  local wa, wb = M.parse_release(want)
  if not a or not wa then return false end
  return a > wa or (a == wa and b >= wb)
end

--- The kernel version row.
function M.check_kernel(release)
  local rel = trim(release)
  if not M.parse_release(rel) then
    return check("kernel", "fail", ("cannot parse the kernel release %q"):format(tostring(rel)),
      "nslua needs Linux 5.12 or newer")
  end
  if not M.release_ge(rel, "5.3") then
    return check("kernel", "fail", ("Linux %s: no clone3 or pidfds (5.3)"):format(rel),
      "upgrade to Linux 5.12 or newer")
  end
  if not M.release_ge(rel, "5.12") then
    return check("kernel", "warn",
      ("Linux %s: no idmapped mounts (5.12)%s"):format(rel,
        M.release_ge(rel, "5.11") and "" or ", no overlay in a user namespace (5.11)"),
      "bind-idmap needs Linux 5.12 or newer")
  end
  return check("kernel", "ok", ("Linux %s"):format(rel))
end

--- One namespace row: 'present' is whether /proc/self/ns/<t> exists;
-- 'err' is nil when a forked child could unshare it, else its message.
function M.check_namespace(t, present, err, is_root)
  local name = "ns." .. t
  local need = REQUIRED_NS[t]
  if not present then
    return check(name, need and "fail" or "warn",
      ("the kernel has no %s namespace (/proc/self/ns/%s is missing)"):format(t, t),
      ("Linux %s+ with CONFIG_%s_NS"):format(NS_SINCE[t],
        ({ mnt = "NAMESPACES", cgroup = "CGROUP", ipc = "IPC", net = "NET", pid = "PID",
           time = "TIME", user = "USER", uts = "UTS" })[t]))
  end
  if err then
    local hint = is_root and "check seccomp or LSM policy confining this process" or
      "rootless nslua needs unprivileged user namespaces (see the userns checks)"
    return check(name, need and "fail" or "warn",
      ("unshare(%s) failed%s: %s"):format(t, is_root and "" or " (inside a new user namespace)",
        err), hint)
  end
  return check(name, "ok", ("unshare(%s) works%s"):format(t,
    is_root and "" or " (inside a new user namespace)"))
end

--- /proc/sys/user/max_user_namespaces (nil text: the file is missing).
function M.check_max_userns(text)
  local n = tonumber(trim(text))
  if not n then
    return check("userns.max", "fail", "/proc/sys/user/max_user_namespaces is missing",
      "a kernel with CONFIG_USER_NS")
  end
  if n == 0 then
    return check("userns.max", "fail", "user.max_user_namespaces = 0: user namespaces are off",
      "sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d)")
  end
  if n < 100 then
    return check("userns.max", "warn",
      ("user.max_user_namespaces = %d: few sandboxes can run at once"):format(n),
      "sysctl -w user.max_user_namespaces=15000")
  end
  return check("userns.max", "ok", ("user.max_user_namespaces = %d"):format(n))
end

--- kernel.unprivileged_userns_clone (Debian's and older Ubuntu's patch).
function M.check_unpriv_clone(text)
  local v = trim(text)
  if v == nil then
    return check("userns.unprivileged_clone", "ok",
      "kernel.unprivileged_userns_clone is not present (no distribution switch)")
  end
  if v == "0" then
    return check("userns.unprivileged_clone", "warn",
      "kernel.unprivileged_userns_clone = 0: rootless nslua cannot make user namespaces",
      "sysctl -w kernel.unprivileged_userns_clone=1")
  end
  return check("userns.unprivileged_clone", "ok", "kernel.unprivileged_userns_clone = " .. v)
end

--- kernel.apparmor_restrict_unprivileged_userns (Ubuntu 23.10 and later).
function M.check_apparmor(text)
  local v = trim(text)
  if v == nil then
    return check("userns.apparmor", "ok",
      "kernel.apparmor_restrict_unprivileged_userns is not present")
  end
  if v == "1" then
    return check("userns.apparmor", "warn",
      "kernel.apparmor_restrict_unprivileged_userns = 1: unprivileged user namespaces get "
        .. "no capabilities, so rootless nslua cannot set up its sandbox",
      "sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile "
        .. "with 'userns,' for the lua5.4 that runs nslua")
  end
  return check("userns.apparmor", "ok", "kernel.apparmor_restrict_unprivileged_userns = " .. v)
end

--- dev.tty.legacy_tiocsti (6.2 and later; nil text: the file is missing).
function M.check_tiocsti(text)
  local v = trim(text)
  if v == nil then
    return check("tty.legacy_tiocsti", "info",
      "dev.tty.legacy_tiocsti is missing (before Linux 6.2): TIOCSTI always works outside "
        .. "nslua's seccomp; nslua's default profile blocks it",
      "Linux 6.2+ with dev.tty.legacy_tiocsti = 0")
  end
  if v == "1" then
    return check("tty.legacy_tiocsti", "warn",
      "dev.tty.legacy_tiocsti = 1: TIOCSTI can inject input into a terminal from programs "
        .. "outside nslua's seccomp; nslua's default profile blocks it",
      "sysctl -w dev.tty.legacy_tiocsti=0 (and in /etc/sysctl.d)", { value = 1 })
  end
  return check("tty.legacy_tiocsti", "ok", "dev.tty.legacy_tiocsti = " .. v, nil,
    { value = tonumber(v) })
end

-- The limits `nslua run` may leave unset, in nslua.limits order, as the
-- check names them (cpuset and extra_time bound nothing by themselves).
local RUN_LIMITS = { memory = "memory", swap = "swap", pids = "processes", cpus = "cpu bandwidth",
                     time = "cpu time", wall = "wall time", output = "output" }

--- What `nslua run` leaves unbounded (DESIGN "Trust rules"): each limit of
-- the default sandbox's spec that is unset, and what `nslua judge` bounds
-- by default instead.
-- @tparam table run_limits the default sandbox's `limits` (recipes/sandbox.lua)
-- @tparam table judge_defaults the judge recipe's DEFAULTS (memory, output, pids)
function M.check_run_limits(run_limits, judge_defaults)
  local limits = require "nslua.limits"
  local names, keys = {}, {}
  for _, k in ipairs(limits.KEYS) do
    if RUN_LIMITS[k] and run_limits[k] == nil then
      names[#names + 1] = RUN_LIMITS[k]
      keys[#keys + 1] = k
    end
  end
  local rl = run_limits.rlimits or {}
  if rl.nofile == nil then
    names[#names + 1] = "open files (the caller's RLIMIT_NOFILE stays)"
    keys[#keys + 1] = "nofile"
  end
  local jd = judge_defaults
  local judge = ("nslua judge bounds memory (%s), output (%s) and processes (%s) by default")
    :format(tostring(jd.memory), tostring(jd.output), tostring(jd.pids))
  if #keys == 0 then
    return check("limits.run", "ok", "nslua run bounds every limit by default; " .. judge, nil,
      { unbounded = keys })
  end
  return check("limits.run", "info",
    ("nslua run leaves %s unbounded by default (each tmpfs is 64 MiB); %s")
      :format(#names > 1 and table.concat(names, ", ", 1, #names - 1) .. " and " .. names[#names]
        or names[1], judge),
    "for untrusted code give nslua run --memory, --pids, --time or --wall, and --output "
      .. "(or use nslua judge)", { unbounded = keys })
end

--- "v1" | "v2" | "hybrid" | "none" for a layout from nslua.cgroup.detect().
function M.cgroup_kind(layout)
  local v1, v2 = false, layout.v2 ~= nil
  for _, h in ipairs(layout.hierarchies) do
    if h.version == 1 then v1 = true end
  end
  if v1 and v2 then return "hybrid" end
  if v1 then return "v1" end
  if v2 then return "v2" end
  return "none"
end

local function set_list(set)
  local t = {}
  for k in pairs(set or {}) do t[#t + 1] = k end
  table.sort(t)
  return t
end

--- The cgroup layout row.
function M.check_cgroup_layout(layout)
  local kind = M.cgroup_kind(layout)
  local v1 = {}
  for c, h in pairs(layout.controllers) do
    if h.version == 1 then v1[#v1 + 1] = c end
  end
  table.sort(v1)
  local v2 = layout.v2 and ("cgroup2 at %s with %s"):format(layout.v2.mount,
    next(layout.v2.controllers) and table.concat(set_list(layout.v2.controllers), ",")
      or "no controllers")
  if kind == "none" then
    return check("cgroup.layout", "fail", "no cgroup hierarchy is mounted",
      "mount cgroup2 on /sys/fs/cgroup (limits and cleanup need cgroups)")
  end
  local detail
  if kind == "hybrid" then
    detail = ("hybrid: v1 controllers %s; %s"):format(table.concat(v1, ","), v2)
  elseif kind == "v1" then
    detail = "v1: controllers " .. table.concat(v1, ",")
  else
    detail = "v2: " .. v2
  end
  if kind == "v2" then return check("cgroup.layout", "ok", detail, nil, { layout = kind }) end
  return check("cgroup.layout", "info", detail,
    "cgroup v2 (systemd.unified_cgroup_hierarchy=1) gives rootless delegation and memory.peak",
    { layout = kind })
end

-- The options of the limits that need a cgroup (nslua.limits), or only of
-- those a controller of the set 'controllers' enforces.
local function cgroup_options(controllers)
  local limits = require "nslua.limits"
  local t = {}
  for _, k in ipairs(limits.KEYS) do
    local d = limits.LIMITS[k]
    if d.cgroup and (not controllers or controllers[d.controller]) then t[#t + 1] = limits.option(k) end
  end
  return t
end

--- Where each controller nslua uses lives.  memory, pids and cpu carry the
-- limits; on v1, cpu time comes from cpuacct and the kill without a pid
-- namespace from freezer (cgroup2 has cpu.stat and cgroup.kill built in).
function M.check_cgroup_controllers(layout)
  local parts, missing = {}, {}
  local want = { "memory", "pids", "cpu" }
  local cpu = layout.controllers.cpu
  if cpu and cpu.version == 1 then want[#want + 1] = "cpuacct" end
  if not layout.v2 then want[#want + 1] = "freezer" end
  for _, c in ipairs(want) do
    local h = layout.controllers[c]
    if h then
      parts[#parts + 1] = ("%s: v%d %s"):format(c, h.version, h.dir)
    else
      missing[#missing + 1] = c
    end
  end
  local detail = table.concat(parts, "; ")
  if #missing > 0 then
    local set = {}
    for _, c in ipairs(missing) do set[c] = true end
    local opts = cgroup_options(set)
    return check("cgroup.controllers", "warn",
      ("missing %s%s"):format(table.concat(missing, ","), detail ~= "" and ("; " .. detail) or ""),
      ("limits that need them%s exit 125; enable the "):format(
        #opts > 0 and (" (" .. table.concat(opts, ", ") .. ")") or "")
        .. "controllers (cgroup_enable= on the kernel command line, or cgroup v2)")
  end
  return check("cgroup.controllers", "ok", detail)
end

-- Each "fstype superoptions" of /proc/self/mountinfo's text, with the
-- mount point: { {point, fstype, opts}, ... }.
local function mounts_of(mountinfo)
  local t = {}
  for line in (mountinfo or ""):gmatch("[^\n]+") do
    local point = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    local fstype, opts = line:match(" %- (%S+) %S+ (%S+)$")
    if point and fstype then t[#t + 1] = { point = point, fstype = fstype, opts = opts } end
  end
  return t
end

--- The cost of joining a cgroup (issue: judges pay it per test): a write
-- to cgroup.procs waits for an RCU grace period unless a migration
-- happened in the last ~25 ms or a hierarchy is mounted with favordynmods.
-- nslua never changes the host's mounts; this explains the trade.
function M.check_favordynmods(mountinfo)
  local seen = false
  for _, m in ipairs(mounts_of(mountinfo)) do
    if m.fstype == "cgroup" or m.fstype == "cgroup2" then
      seen = true
      for o in m.opts:gmatch("[^,]+") do
        if o == "favordynmods" then
          return check("cgroup.favordynmods", "ok",
            ("%s is mounted with favordynmods: joining a cgroup does not wait for an RCU grace period")
              :format(m.point))
        end
      end
    end
  end
  if not seen then return check("cgroup.favordynmods", "info", "no cgroup hierarchy is mounted") end
  return check("cgroup.favordynmods", "info",
    "joining a cgroup (the sandbox's write to cgroup.procs) waits for an RCU grace period (~10 ms) "
      .. "unless another migration happened in the last ~25 ms: a judge that pauses between tests "
      .. "pays it on every run",
    "mount -o remount,favordynmods on the cgroup2 hierarchy (Linux 6.0+) makes joins cheap, "
      .. "at some cost to every fork and exit on the host; nslua never changes it")
end

--- Where the state records live (state.root()): each start writes its
-- record and each end removes it, which a disk file system makes slower.
function M.check_state_fs(root, mountinfo)
  local best
  for _, m in ipairs(mounts_of(mountinfo)) do
    local p = m.point
    if root == p or p == "/" or root:sub(1, #p + 1) == p .. "/" then
      if not best or #p >= #best.point then best = m end
    end
  end
  if not best then return check("state.fs", "info", ("no mount found for %s"):format(root)) end
  if best.fstype == "tmpfs" or best.fstype == "ramfs" then
    return check("state.fs", "ok", ("%s is on %s"):format(root, best.fstype))
  end
  return check("state.fs", "warn",
    ("%s is on %s (%s), not a tmpfs: every start and end writes its state record there "
      .. "(about 1 ms per run on a disk)"):format(root, best.point, best.fstype),
    "mount a tmpfs on /run (the usual layout), or on " .. root)
end

--- Rootless delegation (root needs none).
function M.check_delegation(layout, is_root, delegated, why)
  if is_root then
    return check("cgroup.delegation", "ok",
      "running as root: nslua creates nslua-<id> groups itself")
  end
  if delegated then
    return check("cgroup.delegation", "ok",
      ("cgroup v2 group %s is delegated"):format(layout.v2.dir))
  end
  return check("cgroup.delegation", "warn",
    ("rootless: %s; %s exit 125"):format(why or "no delegation", table.concat(cgroup_options(), ", ")),
    "run nslua under systemd-run --user --scope -p Delegate=yes on a cgroup v2 host")
end

--- The v1 memsw note: on a v1 memory hierarchy with swap but no
-- memory.memsw.* files, --memory does not bound swap.
-- swaps: text of /proc/swaps; has_memsw: whether memory.memsw.limit_in_bytes exists.
function M.check_memsw(layout, swaps, has_memsw)
  local mem = layout.controllers.memory
  local swap = false
  for line in (swaps or ""):gmatch("[^\n]+") do
    if not line:match("^Filename") and line:match("%S") then swap = true end
  end
  if not mem then
    return check("cgroup.memsw", "info", "no memory controller: --memory is unavailable")
  end
  if mem.version == 2 then
    return check("cgroup.memsw", "ok", "cgroup v2: memory.swap.max bounds swap")
  end
  if has_memsw then
    return check("cgroup.memsw", "ok",
      ("memory.memsw.* present: --memory bounds memory plus swap%s"):format(
        swap and "" or " (no swap is active)"))
  end
  if swap then
    return check("cgroup.memsw", "warn",
      "cgroup v1 without memory.memsw.* and swap is active: --memory does not bound swap",
      "boot with swapaccount=1 (cgroup v1) or use cgroup v2")
  end
  return check("cgroup.memsw", "info",
    "cgroup v1 without memory.memsw.*; no swap is active, so --memory is a hard bound",
    "if swap is added, boot with swapaccount=1 so --memory keeps bounding it")
end

--- newuidmap / newgidmap: st is mount.stat's table or nil when not found.
function M.check_idmap_helper(name, path, st, is_root)
  if not st then
    return check(name, is_root and "info" or "warn",
      name .. " not found: rootless multi-id maps (--map-all) are unavailable",
      "apt install uidmap")
  end
  if st.uid == 0 and st.mode & 2048 ~= 0 then
    return check(name, "ok", ("%s is setuid root"):format(path))
  end
  return check(name, is_root and "info" or "warn",
    ("%s is not setuid root (it may carry file capabilities instead)"):format(path),
    "chmod u+s " .. path)
end

--- net = "pasta": passt's pasta (missing: pasta.missing()'s message) and
-- the caller's access to /dev/net/tun (tun_ok, tun_err: pasta.tun_access()).
function M.check_pasta(missing, tun_ok, tun_err)
  if missing then
    return check("pasta", "warn", "net = \"pasta\" (--net pasta) is unavailable: " .. missing,
      "apt install passt")
  end
  if not tun_ok then
    return check("pasta", "warn",
      ("pasta is installed, but the caller cannot open /dev/net/tun (%s): --net pasta fails")
        :format(tostring(tun_err)),
      "make /dev/net/tun mode 0666 (Debian's default)")
  end
  return check("pasta", "ok", "pasta (package passt) is installed and /dev/net/tun is accessible")
end

--- The caller's ranges in /etc/subuid or /etc/subgid.
-- ranges: nslua.ids.subids() of the file; user, id: the caller's name and id.
function M.check_subids(file, ranges, user, id, is_root)
  local name = "sub" .. file:match("sub(%a+)$")
  local mine = {}
  for _, r in ipairs(ranges) do
    if r.name == user or tonumber(r.name) == id then
      mine[#mine + 1] = ("%d:%d"):format(r.start, r.count)
    end
  end
  if #mine > 0 then
    return check(name, "ok", ("%s grants %s: %s"):format(file, user, table.concat(mine, ", ")))
  end
  local detail = #ranges == 0 and (file .. " is empty") or
    ("%s has no range for %s"):format(file, user)
  if is_root then
    return check(name, "info", detail .. " (privileged nslua uses its own id slots)",
      ("rootless users need a range: usermod --add-sub%ss 100000-165535 USER"):format(name:sub(4)))
  end
  return check(name, "warn", detail .. ": rootless multi-id maps (--map-all) are unavailable",
    ("usermod --add-sub%ss 100000-165535 %s"):format(name:sub(4), user))
end

--- nslua's id slots against /etc/subuid and /etc/subgid.
-- cfg: nslua.ids.config() (nil with cerr when /etc/nslua.conf is broken).
function M.check_id_slots(cfg, cerr, overlap_ok, overlap_why)
  if not cfg then
    return check("ids.slots", "fail", tostring(cerr), "fix /etc/nslua.conf")
  end
  local range = ("%d..%d"):format(cfg.base, cfg.base + cfg.slots * 65536 - 1)
  if not overlap_ok then
    return check("ids.slots", "fail", overlap_why,
      "set id_base in /etc/nslua.conf outside every /etc/subuid and /etc/subgid range")
  end
  return check("ids.slots", "ok", ("id slots %s (%d x 65536) overlap no subordinate range")
    :format(range, cfg.slots))
end

--- The syscalls of M.SYSCALLS the kernel 'release' has and libseccomp
-- cannot name.  resolve(name) -> number | nil (core.seccomp.resolve).
function M.unnamed_syscalls(release, resolve, arch)
  local out = {}
  for _, s in ipairs(M.SYSCALLS) do
    if M.release_ge(release, s.since) and (s.arch == nil or s.arch == arch) and
       resolve(s.name) == nil then
      out[#out + 1] = { name = s.name, nr = s.nr, since = s.since }
    end
  end
  return out
end

--- The libseccomp version row.
function M.check_libseccomp(version)
  local a, b = M.parse_release(version)
  if not a or a < 2 or (a == 2 and b < 5) then
    return check("seccomp.libseccomp", "warn",
      ("libseccomp %s: older than 2.5"):format(tostring(version)), "upgrade libseccomp to 2.5.4+")
  end
  return check("seccomp.libseccomp", "ok", "libseccomp " .. version)
end

--- The Landlock row: the ABI (core.landlock.abi()) or why there is none.
-- ABI 4 has TCP port rules, 3 truncate, 2 refer (docs/policy.md "Landlock").
function M.check_landlock(abi, err)
  if not abi then
    return check("landlock.abi", "warn", ("no Landlock: %s"):format(tostring(err)),
      "a spec with landlock exits 125: boot Linux 5.13+ with 'landlock' in lsm=", { abi = 0 })
  end
  if abi < 4 then
    return check("landlock.abi", "warn",
      ("Landlock ABI %d: no TCP port rules%s"):format(abi, abi < 3 and ", no truncate" or ""),
      "landlock connect/bind (and older rights) are reported as not enforced; a newer kernel has them",
      { abi = abi })
  end
  return check("landlock.abi", "ok", ("Landlock ABI %d"):format(abi), nil, { abi = abi })
end

--- The syscalls the kernel has that libseccomp cannot name.
function M.check_unnamed(version, release, unnamed)
  local rel = trim(release)
  local newer = not M.release_ge(M.SYSCALLS_UNTIL, rel) and
    (" (doctor's table ends at %s)"):format(M.SYSCALLS_UNTIL) or ""
  if #unnamed == 0 then
    return check("seccomp.syscalls", "ok",
      ("libseccomp %s names every syscall of Linux %s%s"):format(version, rel, newer),
      nil, { unnamed = {} })
  end
  local names = {}
  for _, s in ipairs(unnamed) do names[#names + 1] = ("%d %s"):format(s.nr, s.name) end
  return check("seccomp.syscalls", "warn",
    ("Linux %s has %d syscalls libseccomp %s cannot name: %s%s"):format(rel, #unnamed, version,
      table.concat(names, ", "), newer),
    "profiles must name these by number ({nr = N}; nslua's built-in profiles do); "
      .. "a newer libseccomp names them",
    { unnamed = unnamed })
end

--- Overlay and idmapped-mount rows from the probe's results.
-- r = {clone = err|nil, overlay = err|nil, idmap_tmpfs = err|nil,
--      idmap_host = err|nil|false (false: not probed), host_fs = "ext4"}
function M.check_mount_probes(r, is_root)
  local rows = {}
  local where = is_root and "in a user namespace" or "in a rootless user namespace"
  if r.clone then
    local hint = "see the ns.user and userns checks"
    rows[1] = check("mount.overlay_userns", "warn",
      "no user namespace to probe in: " .. r.clone, hint)
    rows[2] = check("mount.idmap", "warn", "no user namespace to probe in: " .. r.clone, hint)
    return rows
  end
  if r.overlay then
    rows[1] = check("mount.overlay_userns", "warn",
      ("overlay %s failed: %s"):format(where, r.overlay),
      "overlay mounts need Linux 5.11+ and the overlay module (modprobe overlay)")
  else
    rows[1] = check("mount.overlay_userns", "ok",
      ("overlay %s works (host lower dir, tmpfs upper)"):format(where))
  end
  if is_root then
    if r.idmap_host == false then
      rows[2] = check("mount.idmap", "info", "the idmapped bind was not probed")
    elseif r.idmap_host then
      rows[2] = check("mount.idmap", "warn",
        ("idmapped bind of / (%s) failed: %s"):format(r.host_fs or "?", r.idmap_host),
        "bind-idmap needs Linux 5.12+ and a file system that supports idmapped mounts")
    else
      rows[2] = check("mount.idmap", "ok",
        ("idmapped bind of / (%s) works; idmapped tmpfs in a user namespace: %s"):format(
          r.host_fs or "?", r.idmap_tmpfs and ("failed: " .. r.idmap_tmpfs) or "works"))
    end
  elseif r.idmap_tmpfs then
    rows[2] = check("mount.idmap", "info",
      "idmapped tmpfs in a user namespace failed: " .. r.idmap_tmpfs ..
        " (rootless bind-idmap exits 125 anyway)", "tmpfs supports idmapped mounts from Linux 6.3")
  else
    rows[2] = check("mount.idmap", "info",
      "idmapped tmpfs in a user namespace works; rootless bind-idmap exits 125 (run as root)")
  end
  return rows
end

--- Exit code for a list of checks.
function M.exit_code(checks)
  for _, c in ipairs(checks) do
    if c.verdict == "fail" then return M.EXIT_FAILED end
  end
  return M.EXIT_OK
end

--- Counts per verdict.
function M.summary(checks)
  local s = { ok = 0, info = 0, warn = 0, fail = 0 }
  for _, c in ipairs(checks) do s[c.verdict] = s[c.verdict] + 1 end
  return s
end

--- The text table: check, verdict, detail; the hint on the next line.
function M.format_table(checks)
  local w = #"CHECK"
  for _, c in ipairs(checks) do w = math.max(w, #c.check) end
  local fmt = "%-" .. w .. "s  %-7s  %s\n"
  local out = { fmt:format("CHECK", "VERDICT", "DETAIL / HINT") }
  for _, c in ipairs(checks) do
    out[#out + 1] = fmt:format(c.check, c.verdict, c.detail)
    if c.hint ~= "" then
      out[#out + 1] = fmt:format("", "", "hint: " .. c.hint)
    end
  end
  local s = M.summary(checks)
  out[#out + 1] = ("\n%d ok, %d info, %d warn, %d fail\n"):format(s.ok, s.info, s.warn, s.fail)
  return table.concat(out)
end

--- The JSON document: {checks = [...], summary = {...}, exit_code = n}.
function M.format_json(checks)
  local cjson = require "cjson"
  local list = {}
  for i, c in ipairs(checks) do
    list[i] = { check = c.check, verdict = c.verdict, detail = c.detail, hint = c.hint }
    -- lua-cjson 2.1.0 writes an empty table as {}: an empty list is left
    -- out and its count says so
    for k, v in pairs(c.data or {}) do
      if type(v) == "table" then list[i][k .. "_count"] = #v end
      if type(v) ~= "table" or #v > 0 then list[i][k] = v end
    end
  end
  return cjson.encode { checks = list, summary = M.summary(checks),
                        exit_code = M.exit_code(checks) }
end

-- parse_args's flags ("--json" -> "json"), from M.OPTIONS (below)
local FLAG = {}

--- Parse doctor's arguments: {json = bool, help = bool} | nil, message.
function M.parse_args(args)
  local o = { json = false, help = false }
  for i = 1, (args and (args.n or #args) or 0) do
    local a = args[i]
    if FLAG[a] then
      o[FLAG[a]] = true
    elseif a == "--help" or a == "-h" then
      o.help = true
    else
      return nil, ("doctor: unknown option '%s' (usage: nslua doctor [--json])"):format(tostring(a))
    end
  end
  return o
end

---------------------------------------------------------------- probes

-- Read a pipe to its end.
local function drain(fd)
  local parts = {}
  while true do
    local s = proc.read(fd, 4096)
    if not s or s == "" then break end
    parts[#parts + 1] = s
  end
  return table.concat(parts)
end

-- Run fn() in a forked child (ns.clone(flags)); fn returns a string that
-- comes back through a pipe.  'before(pid)' runs in the parent before the
-- child is released (id maps); it returns true or nil, message.
-- Returns the string, or nil, message when the clone or 'before' failed.
local function in_child(flags, fn, before)
  local rd, wr = proc.pipe()
  if not rd then return nil, wr end
  local grd, gwr = proc.pipe()
  if not grd then
    rd:close(); wr:close()
    return nil, gwr
  end
  io.stdout:flush()
  io.stderr:flush()
  local pid, err = ns.clone(flags)
  if not pid then
    rd:close(); wr:close(); grd:close(); gwr:close()
    return nil, err
  end
  if pid == 0 then
    rd:close()
    gwr:close()
    local go = proc.read(grd, 1)
    local out = "released without go"
    if go == "g" then
      local ok, res = pcall(fn)
      out = ok and tostring(res) or ("error: " .. tostring(res))
    end
    proc.write(wr, out)
    proc._exit(0)
  end
  wr:close()
  grd:close()
  local ok, berr = true, nil
  if before then ok, berr = before(pid) end
  if ok then proc.write(gwr, "g") end
  gwr:close()
  -- a child never released reads end of file and leaves at once
  local out = drain(rd)
  rd:close()
  proc.waitpid(pid)
  if not ok then return nil, berr end
  return out
end

local function is_root()
  return proc.geteuid() == 0
end

--- The ns.<type> rows: for each namespace type a forked child unshares it
-- (non-root: together with a user namespace, as rootless nslua does).
-- @tparam boolean root whether the caller is root
-- @treturn table list of rows
function M.probe_namespaces(root)
  local rows = {}
  for _, t in ipairs(M.NAMESPACES) do
    local present = mount.lstat("/proc/self/ns/" .. t) ~= nil
    local err
    if present then
      local want = { [t] = true }
      if not root then want.user = true end
      local out, cerr = in_child({}, function()
        local ok, uerr = ns.unshare(want)
        return ok and "ok" or tostring(uerr)
      end)
      if not out then err = cerr elseif out ~= "ok" then err = out end
    end
    rows[#rows + 1] = M.check_namespace(t, present, err, root)
  end
  return rows
end

--- The mount probe child's report ("overlay=ok\nidmap_tmpfs=<message>", or
-- one message for both when its set-up failed) into r: a key holds the
-- failure message, nil when the step worked.
function M.parse_probe(out, r)
  r = r or {}
  if not out:match("^overlay=") then
    r.overlay, r.idmap_tmpfs = out, out
    return r
  end
  for k, v in out:gmatch("([%w_]+)=([^\n]*)") do
    if k == "overlay" or k == "idmap_tmpfs" then
      r[k] = v ~= "ok" and v or nil
    end
  end
  return r
end

--- The overlay and idmapped-mount probe (see check_mount_probes for the
-- result table).  A child in a new user and mount
-- namespace (maps written by this process, as nslua does) mounts a private
-- tmpfs on its own /tmp, so every directory it makes lives only in that
-- namespace and vanishes with it: nothing is created on the host.
function M.probe_mounts(root)
  -- loaded now: the probe's child mounts a tmpfs over /tmp, where a copy
  -- of nslua may live
  local idmap_userns = require("nslua.container").idmap_userns
  local r = { idmap_host = false }
  local base = 1 << 30
  if root then
    local ok, ids = pcall(require, "nslua.ids")
    if ok then
      local ok2, cfg = pcall(ids.config)
      if ok2 then base = cfg.base end
    end
  end
  local userns
  local out, err = in_child({ user = true, mnt = true }, function()
    local res = {}
    local function step(ok, e)
      if not ok then error(e, 0) end
    end
    local ok, serr = pcall(function()
      -- root's ids are unmapped in a slot-mapped namespace: become its root
      -- (kuid = the slot's first id) as nslua's init does
      if proc.getuid() ~= 0 then
        step(proc.setgroups({}))
        step(proc.setresgid(0, 0, 0))
        step(proc.setresuid(0, 0, 0))
        -- the id change cleared dumpable: /proc/<pid> of our own children
        -- would belong to the host's root, and their maps be unwritable
        step(proc.prctl("dumpable", true))
      end
      step(mount.mount("none", "/", nil, { rec = true, private = true }))
      step(mount.mount("tmpfs", "/tmp", "tmpfs", { nosuid = true, nodev = true },
        "size=1m,mode=0755"))
      for _, d in ipairs { "/tmp/u", "/tmp/w", "/tmp/m", "/tmp/t", "/tmp/x" } do
        step(mount.mkdir(d, 493))
      end
    end)
    if not ok then return "setup failed: " .. tostring(serr) end
    local oerr
    local ok1, e1 = pcall(function()
      step(mount.mount("overlay", "/tmp/m", "overlay", nil,
        "lowerdir=/etc,upperdir=/tmp/u,workdir=/tmp/w"))
      step(mount.write_file("/tmp/m/nslua-doctor", "x"))
      step(mount.stat("/tmp/u/nslua-doctor"))
      if not mount.stat("/tmp/m/passwd") then error("lower dir not visible", 0) end
    end)
    if not ok1 then oerr = e1 end
    res[#res + 1] = "overlay=" .. (oerr or "ok")
    local ok2, e2 = pcall(function()
      step(mount.mount("tmpfs", "/tmp/t", "tmpfs", { nosuid = true, nodev = true }, "size=64k"))
      step(mount.write_file("/tmp/t/f", "x"))
      local tree, terr = mount.open_tree("/tmp/t", { clone = true })
      step(tree, terr)
      -- the idmapping must not be the tmpfs's own user namespace (EINVAL:
      -- "filesystem wide idmapping"), so a nested one held by a grandchild
      local fd, ferr = idmap_userns(0, 0)
      if not fd then tree:close() error(ferr, 0) end
      local sok, aerr = mount.mount_setattr(tree, nil, nil, fd)
      fd:close()
      if not sok then tree:close() error(aerr, 0) end
      local mok, merr = mount.move_mount(tree, "/tmp/x")
      tree:close()
      step(mok, merr)
      step(mount.stat("/tmp/x/f"))
    end)
    res[#res + 1] = "idmap_tmpfs=" .. (ok2 and "ok" or tostring(e2))
    return table.concat(res, "\n")
  end, function(pid)
    local uid, gid = proc.getuid(), proc.getgid()
    local umap = root and { { 0, base, 65536 } } or { { 0, uid, 1 } }
    local gmap = root and { { 0, base, 65536 } } or { { 0, gid, 1 } }
    local ok, e = ns.write_id_map(pid, "uid", umap)
    if ok and not root then ok, e = ns.setgroups(pid, "deny") end
    if ok then ok, e = ns.write_id_map(pid, "gid", gmap) end
    if ok and root then
      userns, e = ns.open(pid, "user")
      ok = userns ~= nil
    end
    return ok, e
  end)
  if not out then
    r.clone = tostring(err)
    if userns then userns:close() end
    return r
  end
  M.parse_probe(out, r)
  if root and userns then
    -- An idmapped detached clone of the root file system, as bind-idmap
    -- makes: in a plain child, so the detached mount dies with its fd.
    r.host_fs = M.fstype("/")
    local hout, herr = in_child({}, function()
      local tree, terr = mount.open_tree("/", { clone = true })
      if not tree then return terr end
      local ok, serr = mount.mount_setattr(tree, nil, nil, userns)
      tree:close()
      return ok and "ok" or serr
    end)
    if hout == "ok" then r.idmap_host = nil else r.idmap_host = hout or tostring(herr) end
    userns:close()
  end
  return r
end

--- The type of the file system mounted at 'path' (from mountinfo).
function M.fstype(path, mountinfo)
  mountinfo = mountinfo or read_file("/proc/self/mountinfo") or ""
  local found
  for line in mountinfo:gmatch("[^\n]+") do
    local mnt, fstype = line:match("^%S+ %S+ %S+ %S+ (%S+) .- %- (%S+)")
    if mnt == path then found = fstype end
  end
  return found
end

-- The caller's user name from /etc/passwd (the uid as text when missing).
local function user_name(uid)
  for line in (read_file("/etc/passwd") or ""):gmatch("[^\n]+") do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if tonumber(id) == uid then return name end
  end
  return tostring(uid)
end

local function find_in_path(name)
  local dirs = {}
  for d in (os.getenv("PATH") or ""):gmatch("[^:]+") do dirs[#dirs + 1] = d end
  for _, d in ipairs { "/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin" } do
    dirs[#dirs + 1] = d
  end
  for _, d in ipairs(dirs) do
    local p = d .. "/" .. name
    local st = mount.stat(p)
    if st and st.type == "file" then return p, st end
  end
end

--- The kernel's release and features `nslua --version --verbose` shows,
-- by the probes run_checks uses: the rows kernel, ns.user, mount.idmap,
-- landlock.abi and cgroup.layout.
-- @treturn table list of rows {check, verdict, detail, hint [, data]}
function M.feature_checks()
  local root = is_root()
  local rows = { M.check_kernel(trim(read_file("/proc/sys/kernel/osrelease")) or "?") }
  for _, r in ipairs(M.probe_namespaces(root)) do
    if r.check == "ns.user" then rows[#rows + 1] = r end
  end
  for _, r in ipairs(M.check_mount_probes(M.probe_mounts(root), root)) do
    if r.check == "mount.idmap" then rows[#rows + 1] = r end
  end
  rows[#rows + 1] = M.check_landlock(core.landlock.abi())
  local layout, lerr = require("nslua.cgroup").detect()
  rows[#rows + 1] = layout and M.check_cgroup_layout(layout) or check("cgroup.layout", "fail", tostring(lerr))
  return rows
end

--- Run every check on this host.
-- @treturn table list of rows {check, verdict, detail, hint [, data]}
function M.run_checks()
  local root = is_root()
  local rows = {}
  local function add(r) rows[#rows + 1] = r end
  local release = trim(read_file("/proc/sys/kernel/osrelease")) or "?"
  add(M.check_kernel(release))
  for _, r in ipairs(M.probe_namespaces(root)) do add(r) end

  add(M.check_max_userns(read_file("/proc/sys/user/max_user_namespaces")))
  add(M.check_unpriv_clone(read_file("/proc/sys/kernel/unprivileged_userns_clone")))
  add(M.check_apparmor(read_file("/proc/sys/kernel/apparmor_restrict_unprivileged_userns")))

  local cgroup = require "nslua.cgroup"
  local layout, lerr = cgroup.detect()
  if not layout then
    add(check("cgroup.layout", "fail", tostring(lerr), "mount cgroup2 on /sys/fs/cgroup"))
  else
    add(M.check_cgroup_layout(layout))
    add(M.check_cgroup_controllers(layout))
    local deleg, dwhy = false, nil
    if not root then deleg, dwhy = cgroup.v2_delegated(layout) end
    add(M.check_delegation(layout, root, deleg, dwhy))
    local mem = layout.controllers.memory
    local has_memsw = mem and mem.version == 1 and
      mount.stat(mem.dir .. "/memory.memsw.limit_in_bytes") ~= nil
    add(M.check_memsw(layout, read_file("/proc/swaps"), has_memsw))
    add(M.check_favordynmods(read_file("/proc/self/mountinfo")))
  end
  local sroot = require("nslua.state").root()
  if sroot then add(M.check_state_fs(sroot, read_file("/proc/self/mountinfo"))) end

  for _, name in ipairs { "newuidmap", "newgidmap" } do
    local path, st = find_in_path(name)
    add(M.check_idmap_helper(name, path, st, root))
  end
  local pasta = require "nslua.pasta"
  add(M.check_pasta(pasta.missing(), pasta.tun_access()))
  local ids = require "nslua.ids"
  local uid = proc.getuid()
  local user = user_name(uid)
  add(M.check_subids("/etc/subuid", ids.subids("/etc/subuid"), user, uid, root))
  add(M.check_subids("/etc/subgid", ids.subids("/etc/subgid"), user, proc.getgid(), root))
  local okc, cfg = pcall(ids.config)
  if okc then
    add(M.check_id_slots(cfg, nil, ids.check_overlap(cfg)))
  else
    add(M.check_id_slots(nil, cfg))
  end

  add(M.check_tiocsti(read_file("/proc/sys/dev/tty/legacy_tiocsti")))
  add(M.check_run_limits(require("nslua.recipes.sandbox").limits or {},
    require("nslua.recipes.judge").DEFAULTS))

  local version = seccomp.version()
  add(M.check_libseccomp(version))
  local arch = trim(read_file("/proc/sys/kernel/arch")) or "x86_64"
  add(M.check_unnamed(version, release,
    M.unnamed_syscalls(release, function(n) return seccomp.resolve(n) end, arch)))

  add(M.check_landlock(require("nslua.core").landlock.abi()))

  for _, r in ipairs(M.check_mount_probes(M.probe_mounts(root), root)) do add(r) end
  return rows
end

--- The options of `nslua doctor`: { name, {ARGS}, help }, the one table
-- parse_args, the help and docs/cli.md (nslua.cli.doc) read.
M.OPTIONS = {
  { "--json", {}, "print the checks as JSON" },
}
M.USAGE = "nslua doctor [--json]"
M.DESCRIPTION = [[
Check this host for what nslua needs; each check has a verdict
(ok | info | warn | fail) and a fix hint.]]
M.EXIT_STATUS = [[
Exit codes: 0 no check failed (warnings allowed); 1 at least one check
failed; 125 doctor could not run (bad option).]]

local USAGE = "Usage: " .. M.USAGE .. "\n\n" .. M.DESCRIPTION
for _, o in ipairs(M.OPTIONS) do
  USAGE = USAGE .. ("\n  %-8s %s"):format(o[1], o[3])
  FLAG[o[1]] = o[1]:sub(3)
end
USAGE = USAGE .. "\n" .. M.EXIT_STATUS

--- `nslua doctor [--json]` -> exit code (see the top of this file).
function M.main(args)
  local o, err = M.parse_args(args)
  if not o then
    io.stderr:write("nslua: ", err, "\n")
    return M.EXIT_USAGE
  end
  if o.help then
    print(USAGE)
    return M.EXIT_OK
  end
  local rows = M.run_checks()
  if o.json then
    io.stdout:write(M.format_json(rows), "\n")
  else
    io.stdout:write(M.format_table(rows))
  end
  io.stdout:flush()
  return M.exit_code(rows)
end

return M
