--- nslua.launch: the only plan builder.  launch.plan(spec, res) turns a
-- validated spec and its resources into the plan that core.setup.run
-- executes in the child (DESIGN "The plan and the executor"): plain data,
-- no side effects, no file descriptors (runtime handles are named by key:
-- a detached tree is `tree = "mounts[3]"`, the executor gets the fd from
-- the runtime table).  `nslua explain` prints exactly this table.
--
-- res (resources.lua; explain uses resources.dry) supplies what the plan
-- depends on but a pure function cannot find out itself:
--   id, privileged, pool (joins a prepared network namespace),
--   host_uid, host_gid (first host id of the slot, or the caller's ids),
--   sub (rootless multi-id ranges), trees (set of keys opened as trees),
--   sources[i] ("dir" | "file" | nil when missing), fd_paths[i] (the host
--   path a bind's source_fd refers to), landlock_abi (the kernel's
--   Landlock ABI, when the spec has landlock), source_is[i] and
--   source_is.rootfs ("/", "/proc" or "/sys": a source that is one of
--   them), sys_masks (extra /sys masks), layout (/bin ... of
--   the host), net (net.plan's table), getenv (keep_env and TERM values).
local validate = require "nslua.validate"
local ALL_CAPS = validate.CAPS
local JOIN_NS = validate.JOIN_NS

local M = {}

local OLD, NEW = "/.oldroot", "/newroot"
M.OLD, M.NEW = OLD, NEW

M.PATH = "/usr/local/bin:/usr/bin:/bin"
M.TMPFS_SIZE = 64 * 1024 * 1024
M.WIDTH = 65536

-- Docker's masked and read-only paths (moby/oci/defaults.go; its daemon
-- adds each CPU's thermal_throttle, which resources list as res.sys_masks):
-- applied wherever a proc or sysfs appears (see exposures below); a
-- missing target is skipped.
M.MASKED = {
  "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap",
}
M.READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys" }

M.DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }

-- The stages at which the executor calls a Lua hook in the child.
M.CHILD_HOOKS = { "before_pivot", "before_exec" }

local BIND_KINDS = { bind = true, ["dev-bind"] = true, ["bind-idmap"] = true }
M.BIND_KINDS = BIND_KINDS

local NOSUIDDEV = { nosuid = true, nodev = true }
local RO = { rdonly = true, nosuid = true, nodev = true }

local function dirname(p)
  local d = p:match("^(.*)/[^/]*$")
  return (d == nil or d == "") and "/" or d
end
M.dirname = dirname

--- The deepest directory that holds both a and b (absolute paths; each
-- strictly below it).
function M.common_dir(a, b)
  local pa, pb = {}, {}
  for c in dirname(a):gmatch("[^/]+") do pa[#pa + 1] = c end
  for c in dirname(b):gmatch("[^/]+") do pb[#pb + 1] = c end
  local out = {}
  for i = 1, math.min(#pa, #pb) do
    if pa[i] ~= pb[i] then break end
    out[i] = pa[i]
  end
  return "/" .. table.concat(out, "/")
end

local function add(steps, s) steps[#steps + 1] = s end
local overlay_root

--- The flags each mount type has when the spec does not say (every mount
-- nosuid and nodev but the device binds; proc, mqueue and sysfs noexec
-- too): what a mount's absent nosuid/nodev/noexec mean, except with
-- base = "none", where absent means not set (the OCI front end's mounts
-- say exactly what they want).
M.DEFAULT_FLAGS = {
  bind = NOSUIDDEV, ["bind-idmap"] = NOSUIDDEV, ["dev-bind"] = { nosuid = true },
  tmpfs = NOSUIDDEV, overlay = NOSUIDDEV,
  proc = { nosuid = true, nodev = true, noexec = true }, mqueue = { nosuid = true, nodev = true, noexec = true },
  sysfs = { nosuid = true, nodev = true, noexec = true },
  devpts = { nosuid = true, noexec = true },
  cgroup = { nosuid = true, nodev = true, noexec = true },
}
M.FLAG_NAMES = { "nosuid", "nodev", "noexec" }

--- Fill in each mount's absent nosuid/nodev/noexec with DEFAULT_FLAGS
-- (in place): a front end with base = "none" that wants nslua's default
-- flags (bwrap, isolate) says so with this.
function M.default_flags(mounts)
  for _, m in ipairs(mounts or {}) do
    local d = M.DEFAULT_FLAGS[m.type]
    if d then
      for _, k in ipairs(M.FLAG_NAMES) do
        if m[k] == nil then m[k] = d[k] or false end
      end
    end
  end
  return mounts
end

-- The nosuid/nodev/noexec set of mount m: what it says; absent, false
-- with base = "none" (ctx.exact), else DEFAULT_FLAGS; extra (rdonly ...)
-- added.
local function mount_flags(m, ctx, extra)
  local d = M.DEFAULT_FLAGS[m.type or "bind"] or {}
  local out = {}
  for _, k in ipairs(M.FLAG_NAMES) do
    local v = m[k]
    if v == nil then v = not ctx.exact and d[k] or false end
    out[k] = v or nil
  end
  for k, v in pairs(extra or {}) do out[k] = v end
  return out
end

-- m.propagation ("rprivate", "shared" ...) as mount(2) flags, or nil.
local function propagation(p)
  if not p then return nil end
  local rec = p:sub(1, 1) == "r" and p ~= "r"
  local kind = rec and p:sub(2) or p
  return { [kind] = true, rec = rec or nil }
end
M.propagation = propagation

-- A step that changes the propagation of the mount at 'target', when asked.
local function propagate(steps, m, target)
  local fl = propagation(m.propagation)
  if fl then add(steps, { op = "mount", path = NEW .. target, flags = fl, what = target }) end
end

--- The mode of the missing parent directories of a target whose own mode
-- is 'mode' (bubblewrap's least astonishment): 0700, plus r-x for the
-- group and for others when the mode grants them anything.  nil (the
-- executor's 0755) when that is 0755.
function M.parent_mode(mode)
  if mode == nil then return nil end
  local pm = 448 | ((mode & 56) ~= 0 and 40 or 0) | ((mode & 7) ~= 0 and 5 or 0)
  return pm ~= 493 and pm or nil
end
local parent_mode = M.parent_mode

-- ------------------------------------------------------------ mount steps

-- Bind 'm.source' (a host path) on 'm.target'.  'key' names the detached
-- tree the parent opened for it (privileged), else it goes by path; a
-- source named by a caller's fd (m.source_fd) goes by 'fd_path', the path
-- the parent read from it, and the executor checks that it is still the
-- fd's file and mounts that.  A mount point the bind makes is a directory
-- 0755 or an empty file 0444 (the executor's defaults).
local function bind(steps, m, kind, key, fd_path, ctx)
  local isdir = kind ~= "file"
  local fl = mount_flags(m, ctx or {}, { rdonly = m.ro or nil })
  add(steps, { op = isdir and "mkdir" or "mkfile", path = NEW .. m.target, what = m.target })
  if key then
    -- idmap: what the tree asks for (resources.lua; "auto" falls back to
    -- a plain bind where the file system has no idmapped mounts), for explain
    add(steps, { op = "move", tree = key, path = NEW .. m.target, what = m.target,
                 idmap = m.type == "bind-idmap" and "yes"
                   or (m.idmap == "auto" and not m.ro and not (ctx or {}).map_all) and "auto" or nil })
    -- the parent's tree has nosuid, nodev (not a dev-bind) and noexec as
    -- asked (resources.lua): a flag the mount must not have is cleared
    local clear = {}
    if not fl.nosuid then clear.nosuid = true end
    if not fl.nodev and not m.dev then clear.nodev = true end
    if next(clear) then
      add(steps, { op = "attr", path = NEW .. m.target, set = {}, clear = clear,
                   rec = m.recursive ~= false, what = m.target })
    end
    propagate(steps, m, m.target)
    return
  end
  add(steps, { op = "mount", src = OLD .. (m.source or fd_path), src_fd = m.source_fd,
               path = NEW .. m.target, flags = { bind = true, rec = m.recursive ~= false }, what = m.target })
  if next(fl) then
    add(steps, { op = "attr", path = NEW .. m.target, set = fl,
                 rec = m.recursive ~= false, what = m.target })
  end
  propagate(steps, m, m.target)
end

-- A fresh proc; 'hidepid' (0-2, proc(5)) hides other users' processes.
local function proc_mount(steps, target, hidepid, fl, src)
  add(steps, { op = "mkdir", path = NEW .. target, what = target })
  add(steps, { op = "mount", src = src or "proc", fstype = "proc", path = NEW .. target,
               flags = fl or { nosuid = true, nodev = true, noexec = true },
               data = hidepid and ("hidepid=%d"):format(hidepid) or nil, what = target })
end

-- A minimal /dev: binds of the host's device nodes on a tmpfs, devpts,
-- /dev/shm, the fd links.  Device binds are the one place without nodev.
-- 'shm_dir': /dev/shm is a plain directory (bubblewrap's --dev, for base
-- "none": the command line mounts something there if it wants one).
local function dev_mount(steps, target, tty_gid, shm_dir)
  local d = NEW .. target
  add(steps, { op = "mkdir", path = d, what = target })
  add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = d,
               flags = { nosuid = true, noexec = true }, data = "mode=0755,size=65536",
               what = target })
  for _, name in ipairs(M.DEVICES) do
    add(steps, { op = "mkfile", path = d .. "/" .. name, what = target .. "/" .. name })
    add(steps, { op = "mount", src = OLD .. "/dev/" .. name, path = d .. "/" .. name,
                 flags = { bind = true }, what = target .. "/" .. name })
  end
  add(steps, { op = "mkdir", path = d .. "/pts", what = target .. "/pts" })
  local ptsopts = "newinstance,ptmxmode=0666,mode=620"
  if tty_gid then ptsopts = ptsopts .. ",gid=5" end
  add(steps, { op = "mount", src = "devpts", fstype = "devpts", path = d .. "/pts",
               flags = { nosuid = true, noexec = true }, data = ptsopts, what = target .. "/pts" })
  add(steps, { op = "symlink", target = "pts/ptmx", path = d .. "/ptmx", what = target .. "/ptmx" })
  add(steps, { op = "mkdir", path = d .. "/shm", what = target .. "/shm" })
  if not shm_dir then
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = d .. "/shm",
                 flags = { nosuid = true, nodev = true },
                 data = ("mode=1777,size=%d"):format(M.TMPFS_SIZE), what = target .. "/shm" })
  end
  add(steps, { op = "symlink", target = "/proc/self/fd", path = d .. "/fd", what = target .. "/fd" })
  -- bubblewrap's /dev has it too (masked wherever a proc shows)
  add(steps, { op = "symlink", target = "/proc/kcore", path = d .. "/core", what = target .. "/core" })
  for i, n in ipairs { "stdin", "stdout", "stderr" } do
    add(steps, { op = "symlink", target = "/proc/self/fd/" .. (i - 1), path = d .. "/" .. n,
                 what = target .. "/" .. n })
  end
end

-- 'mk' (a spec's tmpfs): the mkdir step's parents mode and owner
-- 'fl': the mount flags (default nosuid, nodev); 'extra': more options
-- (a spec's `data`), after nslua's own
local function tmpfs_mount(steps, target, size, mode, owner, mk, fl, extra, src)
  local data = ("mode=%04o,size=%d"):format(mode or 493, size or M.TMPFS_SIZE)
  if owner then data = data .. (",uid=%d,gid=%d"):format(owner.uid, owner.gid) end
  if extra then data = data .. "," .. extra end
  mk = mk or {}
  add(steps, { op = "mkdir", path = NEW .. target, parents = mk.parents, uid = mk.uid, gid = mk.gid,
               what = target })
  add(steps, { op = "mount", src = src or "tmpfs", fstype = "tmpfs", path = NEW .. target,
               flags = fl or { nosuid = true, nodev = true }, data = data, what = target })
end

-- One builder per mount type of the spec; ctx carries the plan-wide
-- counters (file and overlay scratch directories) and the inputs.
local kinds = {}

local function bind_kind(steps, m, ctx)
  bind(steps, m, ctx.res.sources[m.index], ctx.res.trees[m.key] and m.key or nil,
    m.source_fd and (ctx.res.fd_paths or {})[m.index], ctx)
end
kinds.bind = bind_kind
kinds["bind-idmap"] = bind_kind
kinds["dev-bind"] = function(steps, m, ctx)
  m.dev = true
  bind_kind(steps, m, ctx)
end
-- A tmpfs, dir or file of the spec belongs to the payload, and so do the
-- directories made for it (bubblewrap makes everything as the sandbox's user).
local function owned(step, ctx)
  if ctx.owner then step.uid, step.gid = ctx.owner.uid, ctx.owner.gid end
  return step
end
kinds.tmpfs = function(steps, m, ctx)
  tmpfs_mount(steps, m.target, m.size, m.mode or 493, ctx.owner, owned({ parents = parent_mode(m.mode) }, ctx),
    mount_flags(m, ctx), m.data, m.source)
  propagate(steps, m, m.target)
end
kinds.proc = function(steps, m, ctx)
  proc_mount(steps, m.target, m.hidepid, mount_flags(m, ctx), m.source)
end
kinds.dev = function(steps, m, ctx) dev_mount(steps, m.target, ctx.tty_gid, ctx.base_none) end
-- A new devpts instance: the spec's options (OCI's "newinstance,
-- ptmxmode=0666,mode=0620,gid=5"), else /dev/pts's of the default /dev.
kinds.devpts = function(steps, m, ctx)
  local data = m.data or ("newinstance,ptmxmode=0666,mode=620" .. (ctx.tty_gid and ",gid=5" or ""))
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = m.source or "devpts", fstype = "devpts", path = NEW .. m.target,
               flags = mount_flags(m, ctx), data = data, what = m.target })
end

-- The container's cgroup view (OCI's "cgroup" mount): a tmpfs at the
-- target with, for each hierarchy the host has (cgroup.detect: cgroup v1
-- controllers and cgroup2), a bind of the group nslua's caller is in (the
-- sandbox's own nslua-<id> groups show below it) at target/<the
-- hierarchy's mount name>, all read-only with ro.  A fresh cgroup mount
-- is no choice: the kernel refuses cgroup v1 mounts in a user namespace
-- (and cgroup2 on this kind of hybrid host), so this is runc's v1 layout
-- by binds.  res.cgroup_layout is the layout the resources detected when
-- they made groups (resources.fresh), or a test's; else it is detected here.
kinds.cgroup = function(steps, m, ctx)
  local layout = ctx.res.cgroup_layout
  if layout == nil then layout = require("nslua.cgroup").detect() or { hierarchies = {} } end
  local fl = mount_flags(m, ctx)
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW .. m.target, flags = fl,
               data = "mode=0755,size=65536", what = m.target })
  local names, seen = {}, {}
  for _, h in ipairs(layout.hierarchies or {}) do
    local name = h.mount:match("([^/]+)$")
    if name and not seen[name] then
      seen[name] = true
      names[#names + 1] = { name = name, dir = h.dir }
    end
  end
  table.sort(names, function(a, b) return a.name < b.name end)
  -- always read-only: these are the groups of nslua's caller (the
  -- sandbox's own are below them); a writable one would let the payload
  -- move itself out of its limits (review)
  local set = mount_flags(m, ctx, { rdonly = true })
  for _, h in ipairs(names) do
    local at = (m.target == "/" and "" or m.target) .. "/" .. h.name
    add(steps, { op = "mkdir", path = NEW .. at, what = at })
    add(steps, { op = "mount", src = OLD .. h.dir, path = NEW .. at, flags = { bind = true }, what = at })
    if next(set) then add(steps, { op = "attr", path = NEW .. at, set = set, what = at }) end
  end
  if m.ro then add(steps, { op = "attr", path = NEW .. m.target, set = { rdonly = true }, what = m.target }) end
end

-- A device node (OCI's linux.devices): made by mknod when the sandbox
-- has no user namespace (a user namespace's root may not make device
-- nodes), owned by uid/gid; else a bind of a host node of the same kind
-- and numbers, which the executor finds under the host's /dev.  A FIFO
-- (kind "p") is made by mknod either way: it needs no capability.
kinds.device = function(steps, m, ctx)
  if ctx.host_ids or m.kind == "p" then
    local dir = dirname(m.target)
    add(steps, { op = "mkdir", path = NEW .. dir, what = m.target })
    add(steps, { op = "mknod", path = NEW .. m.target, kind = m.kind, major = m.major, minor = m.minor,
                 mode = m.mode or 438, uid = m.uid, gid = m.gid, what = m.target })
  else
    add(steps, { op = "mkfile", path = NEW .. m.target, what = m.target })
    add(steps, { op = "devbind", path = NEW .. m.target, kind = m.kind, major = m.major, minor = m.minor,
                 what = m.target })
  end
end

kinds.mqueue = function(steps, m, ctx)
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = m.source or "mqueue", fstype = "mqueue", path = NEW .. m.target,
               flags = mount_flags(m, ctx or {}), what = m.target })
end
kinds.sysfs = function(steps, m, ctx)
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = m.source or "sysfs", fstype = "sysfs", path = NEW .. m.target,
               flags = mount_flags(m, ctx, { rdonly = m.ro ~= false or nil }), what = m.target })
end
-- the mode applies when the directory is made; an existing one keeps its own
kinds.dir = function(steps, m, ctx)
  add(steps, owned({ op = "mkdir", path = NEW .. m.target, mode = m.mode or 493, parents = parent_mode(m.mode),
               what = m.target }, ctx))
end
-- the mount at target (not the ones below it) becomes read-only
kinds["remount-ro"] = function(steps, m)
  -- bubblewrap's remount adds nosuid and nodev to read-only
  add(steps, { op = "attr", path = NEW .. m.target, set = RO, mountpoint = true,
               what = m.target })
end
kinds.chmod = function(steps, m)
  add(steps, { op = "chmod", path = NEW .. m.target, mode = m.mode, what = m.target })
end
kinds.symlink = function(steps, m)
  add(steps, { op = "mkdir", path = NEW .. dirname(m.target), what = dirname(m.target) })
  add(steps, { op = "symlink", target = m.source, path = NEW .. m.target, what = m.target })
end
-- A file with given content: written in the scaffolding tmpfs, then bound
-- read-only (unless ro == false) on the target; inplace, created (or
-- truncated) at the target in whatever file system is there.
kinds.file = function(steps, m, ctx)
  local pm = parent_mode(m.mode)
  if m.inplace then
    local dir = dirname(m.target)
    add(steps, owned({ op = "mkdir", path = NEW .. (dir == "/" and "" or dir), mode = pm, parents = pm,
                       what = m.target }, ctx))
    add(steps, owned({ op = "write", path = NEW .. m.target, content = m.content, mode = m.mode or 420,
                       what = m.target }, ctx))
    return
  end
  ctx.nfiles = ctx.nfiles + 1
  -- whole pages per file, plus the inode
  ctx.file_bytes = ctx.file_bytes + ((#m.content + 8191) // 4096) * 4096
  local tmp = "/.files/" .. ctx.nfiles
  add(steps, { op = "mkdir", path = "/.files", what = m.target })
  add(steps, owned({ op = "write", path = tmp, content = m.content, mode = m.mode or 420, what = m.target }, ctx))
  add(steps, owned({ op = "mkfile", path = NEW .. m.target, parents = pm, what = m.target }, ctx))
  add(steps, { op = "mount", src = tmp, path = NEW .. m.target, flags = { bind = true }, what = m.target })
  add(steps, { op = "attr", path = NEW .. m.target,
               set = m.ro == false and NOSUIDDEV or RO, what = m.target })
end
-- overlay: lower = list of host paths; upper and work on a private tmpfs
-- (writable, discarded at the end) unless given; with ro and no upper,
-- the lower layers alone.  Each layer is its own fsconfig string in the
-- executor, so no character of a path is special.
-- With idmapped layers (run's spellings, idmap = "auto", when
-- resources made the trees: docs/roots.md), each layer is a detached tree
-- moved under /.overlay/N, an upper directory's holder included, and the
-- overlay is made with the payload's fsuid, as an overlay root.
kinds.overlay = function(steps, m, ctx)
  ctx.noverlays = ctx.noverlays + 1
  local base = "/.overlay/" .. ctx.noverlays
  local lower = {}
  local trees = ctx.res.trees[("%s.lower[1]"):format(m.key)]
  if trees then add(steps, { op = "mkdir", path = base, what = m.target }) end
  for i, l in ipairs(m.lower or { m.source }) do
    if trees then
      lower[i] = ("%s/l%d"):format(base, i)
      add(steps, { op = "mkdir", path = lower[i], what = m.target })
      add(steps, { op = "move", tree = ("%s.lower[%d]"):format(m.key, i), path = lower[i],
                   what = ("%s (lower %s, idmapped)"):format(m.target, l) })
    else
      lower[i] = OLD .. l
    end
  end
  local upper, work = m.upper and OLD .. m.upper, m.work and OLD .. m.work
  local fs
  if trees and m.upper then
    local holder = M.common_dir(m.upper, m.work)
    add(steps, { op = "mkdir", path = base .. "/u", what = m.target })
    add(steps, { op = "move", tree = m.key .. ".upper", path = base .. "/u",
                 what = ("%s (upper %s and work %s, idmapped)"):format(m.target, m.upper, m.work) })
    local n = holder == "/" and 1 or #holder + 1
    upper, work = base .. "/u" .. m.upper:sub(n), base .. "/u" .. m.work:sub(n)
    fs = ctx.owner
  end
  if not upper and not m.ro then
    local tb = trees and base .. "/t" or base
    add(steps, { op = "mkdir", path = tb, what = m.target })
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = tb,
                 flags = NOSUIDDEV, data = ("mode=0755,size=%d"):format(m.size or M.TMPFS_SIZE),
                 what = m.target })
    -- (with idmapped lower layers, the merged directory is the payload's)
    local up = { op = "mkdir", path = tb .. "/upper", what = m.target }
    if trees and ctx.owner then up.uid, up.gid = ctx.owner.uid, ctx.owner.gid end
    add(steps, up)
    add(steps, { op = "mkdir", path = tb .. "/work", what = m.target })
    upper, work = tb .. "/upper", tb .. "/work"
    -- the merged root takes the upper directory's attributes: give it the
    -- top lower directory's mode (its owner may be unmapped here)
    local mode = ctx.res.lower_modes and ctx.res.lower_modes[m.index]
    if mode then add(steps, { op = "chmod", path = upper, mode = mode, what = m.target }) end
  end
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "overlay", lower = lower, upper = upper, work = work, path = NEW .. m.target,
               flags = mount_flags(m, ctx, { rdonly = m.ro or nil }), what = m.target,
               uid = fs and fs.uid, gid = fs and fs.gid })
end

-- ------------------------------------------------------- /proc and /sys

--- A path with its "//", "/./" and "x/.." spelled out, and no trailing "/".
function M.normpath(p)
  local parts = {}
  for c in p:gmatch("[^/]+") do
    if c == ".." then parts[#parts] = nil
    elseif c ~= "." then parts[#parts + 1] = c end
  end
  return "/" .. table.concat(parts, "/")
end
local normpath = M.normpath

-- The rest of 'p' below 'dir' ("" for dir itself, "/a/b" below it), or nil.
local function below(p, dir)
  if p == dir then return "" end
  if dir == "/" then return p end
  if p:sub(1, #dir + 1) == dir .. "/" then return p:sub(#dir + 1) end
  return nil
end

local function join(t, rest)
  if t == "/" then return rest == "" and "/" or rest end
  return t .. rest
end

-- Mount types that put something on their target (dir and symlink steps
-- only make one if it is missing).
local COVERS = { bind = true, ["dev-bind"] = true, ["bind-idmap"] = true, tmpfs = true, proc = true,
                 dev = true, mqueue = true, sysfs = true, overlay = true, file = true, devpts = true,
                 cgroup = true, device = true }

--- Where host file systems show inside, in mount order: a list of
-- { host = PATH, at = INSIDE PATH } for the rootfs, the base /proc and each
-- mount of the spec (a fresh proc counts as the host's /proc, a fresh sysfs
-- as /sys; a bind as its source, or as "/", "/proc" or "/sys" when the
-- resources found it is that directory under another name), and
-- 'covers': the inside paths a later step puts something on, each with
-- the index of the first layer it comes after.
local function layers(spec, res)
  local out, covers = {}, {}
  local function layer(host, at, fresh) out[#out + 1] = { host = host, at = normpath(at), fresh = fresh } end
  local function cover(at) covers[#covers + 1] = { at = normpath(at), after = #out } end
  local is = res.source_is or {}
  if spec.rootfs then
    layer(is.rootfs or normpath(type(spec.rootfs) == "table" and spec.rootfs.lower[1] or spec.rootfs), "/")
  end
  if spec.base ~= "none" then
    if spec.namespaces.pid then cover("/proc"); layer("/proc", "/proc") end
    cover("/dev"); cover("/tmp")
  end
  for i, m in ipairs(spec.mounts or {}) do
    local skip = BIND_KINDS[m.type] and m.try and not res.sources[i]
    if not skip and COVERS[m.type] and not m.inplace then
      cover(m.target)
      if BIND_KINDS[m.type] then
        layer(is[i] or normpath(m.source or (res.fd_paths or {})[i]), m.target)
      elseif m.type == "proc" then
        layer("/proc", m.target)
      elseif m.type == "sysfs" then
        layer("/sys", m.target, true)   -- mounted read-only already
      end
    end
  end
  return out, covers
end

-- The masks and read-only paths (DESIGN "Mounts": Docker's lists, and /sys
-- read-only) wherever a proc or a sysfs shows, after every mount of the
-- spec: a path P of the lists shows at AT..rest for each layer whose host
-- path is a parent of P (a mask) or a parent of P or P itself (read-only;
-- a layer inside a read-only path is read-only at AT).  A layer that names
-- a masked path (or one inside it) itself, e.g. `--ro-bind /sys/firmware
-- /fw`, is the caller's explicit choice and is not masked.  A step is left
-- out when a later mount covers its path.
local function protect(steps, spec, res)
  local ls, covers = layers(spec, res)
  local masked = {}
  for _, p in ipairs(M.MASKED) do masked[#masked + 1] = p end
  for _, p in ipairs(res.sys_masks or {}) do masked[#masked + 1] = p end
  if res.state_mask then masked[#masked + 1] = res.state_mask end
  local done = {}
  local function emit(op, at, li)
    if done[op .. at] then return end
    for _, c in ipairs(covers) do
      if c.after >= li and below(at, c.at) then return end
    end
    done[op .. at] = true
    add(steps, { op = op, path = NEW .. (at == "/" and "" or at), what = at })
  end
  local ro = {}
  for li, l in ipairs(ls) do
    for _, p in ipairs(masked) do
      local rest = below(p, l.host)
      if rest and rest ~= "" then emit("mask", join(l.at, rest), li) end
    end
    for _, p in ipairs(M.READONLY) do
      local rest = below(p, l.host)
      if l.fresh and p == "/sys" then rest = nil end
      if rest then ro[#ro + 1] = { join(l.at, rest), li }
      elseif below(l.host, p) and not l.fresh then ro[#ro + 1] = { l.at, li } end
    end
  end
  for _, r in ipairs(ro) do emit("ro", r[1], r[2]) end
end

-- An overlay root (rootfs = { lower, upper, work }, docs/roots.md) on
-- /newroot: privileged, each layer is a detached idmapped tree (moved to
-- /.overlay/root/...: the lower ones, and the upper's parent directory,
-- which holds upper and work); rootless, host paths.  A tmpfs upper lives
-- in a private tmpfs owned by the payload, with the top lower
-- directory's mode; a directory upper is set up with the payload's fsuid
-- (the overlay keeps its creator's credentials for the work directory and
-- whiteouts), so everything it writes there maps to the caller.
function overlay_root(steps, spec, res, ident)
  local r, base = spec.rootfs, "/.overlay/root"
  local owner = ident and ident.uid and { uid = ident.uid, gid = ident.gid }
  local lower = {}
  add(steps, { op = "mkdir", path = base, what = "/" })
  for i, l in ipairs(r.lower) do
    local key = ("rootfs.lower[%d]"):format(i)
    if res.trees[key] then
      lower[i] = ("%s/l%d"):format(base, i)
      add(steps, { op = "mkdir", path = lower[i], what = "/" })
      add(steps, { op = "move", tree = key, path = lower[i], what = ("/ (lower %s, idmapped)"):format(l) })
    else
      lower[i] = OLD .. l
    end
  end
  local upper, work, fs
  if r.upper == "tmpfs" then
    add(steps, { op = "mkdir", path = base .. "/t", what = "/" })
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = base .. "/t", flags = NOSUIDDEV,
                 data = ("mode=0755,size=%d"):format(r.size or M.TMPFS_SIZE), what = "/" })
    upper, work = base .. "/t/upper", base .. "/t/work"
    local up = { op = "mkdir", path = upper, what = "/" }
    if owner then up.uid, up.gid = owner.uid, owner.gid end
    add(steps, up)
    add(steps, { op = "mkdir", path = work, what = "/" })
    local mode = res.lower_modes and res.lower_modes.rootfs
    if mode then add(steps, { op = "chmod", path = upper, mode = mode & 4095, what = "/" }) end
  elseif res.trees["rootfs.upper"] then
    add(steps, { op = "mkdir", path = base .. "/u", what = "/" })
    add(steps, { op = "move", tree = "rootfs.upper", path = base .. "/u",
                 what = ("/ (upper %s and work %s, idmapped)"):format(r.upper, r.work) })
    upper = base .. "/u/" .. r.upper:match("[^/]+$")
    work = base .. "/u/" .. r.work:match("[^/]+$")
    fs = owner
  else
    upper, work = OLD .. r.upper, OLD .. r.work
  end
  add(steps, { op = "overlay", lower = lower, upper = upper, work = work, path = NEW, what = "/",
               flags = NOSUIDDEV, uid = fs and fs.uid, gid = fs and fs.gid })
end

--- The key of mount i's detached tree (privileged binds), or of the rootfs.
function M.tree_key(i)
  return i and ("mounts[%d]"):format(i) or "rootfs"
end

-- The ordered mount steps: the base (rootfs or the default root, /proc,
-- /dev, /tmp; with base = "none" an empty tmpfs root and nothing else),
-- then the spec's mounts in the order given (a later step on the same path
-- shadows an earlier one), then the masks, then the read-only root
-- (the default base only).
local function mount_plan(spec, res, ident)
  local steps = {}
  local ns = spec.namespaces
  local ctx = {
    res = res, nfiles = 0, file_bytes = 0, noverlays = 0, base_none = spec.base == "none",
    exact = spec.base == "none", host_ids = validate.host_user(spec.user),
    tty_gid = (ident and ident.map == "all") or validate.host_user(spec.user),
    owner = ident and { uid = ident.uid, gid = ident.gid },
    map_all = ident and ident.map == "all" or nil,
  }
  local strict = false
  if type(spec.rootfs) == "table" then
    overlay_root(steps, spec, res, ident)
    strict = true
  elseif spec.rootfs then
    if res.trees.rootfs then
      add(steps, { op = "move", tree = "rootfs", path = NEW, what = "/" })
    else
      add(steps, { op = "mount", src = OLD .. spec.rootfs, path = NEW, flags = { bind = true, rec = true },
                   what = "/" })
      add(steps, { op = "attr", path = NEW, set = spec.rootfs_rw and NOSUIDDEV or RO, rec = true,
                   what = "/" })
    end
    strict = true
  elseif spec.base == "none" then
    -- bubblewrap's root: empty, 0755, writable, the payload's (like a tmpfs of the spec)
    local data = ("mode=0755,size=%d"):format(M.TMPFS_SIZE)
    if ctx.owner then data = data .. (",uid=%d,gid=%d"):format(ctx.owner.uid, ctx.owner.gid) end
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW, flags = NOSUIDDEV,
                 data = data, what = "/" })
  else
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW, flags = NOSUIDDEV,
                 data = ("mode=0755,size=%d"):format(M.TMPFS_SIZE), what = "/" })
    for _, p in ipairs { "/usr", "/etc" } do
      bind(steps, { source = p, target = p, ro = true }, "dir", nil)
    end
    for _, d in ipairs(res.layout) do
      if d.link then
        add(steps, { op = "symlink", target = d.link, path = NEW .. "/" .. d.name, what = "/" .. d.name })
      else
        bind(steps, { source = "/" .. d.name, target = "/" .. d.name, ro = true }, "dir", nil)
      end
    end
  end
  if spec.base ~= "none" then
    if ns.pid then proc_mount(steps, "/proc") end
    dev_mount(steps, "/dev", ctx.tty_gid)
    if ns.ipc then kinds.mqueue(steps, { type = "mqueue", target = "/dev/mqueue" }) end
    tmpfs_mount(steps, "/tmp", M.TMPFS_SIZE, 1023)
  end
  for i, m in ipairs(spec.mounts or {}) do
    local skip = BIND_KINDS[m.type] and m.try and not res.sources[i]
    if not skip then
      kinds[m.type](steps, setmetatable({ index = i, key = M.tree_key(i) }, { __index = m }), ctx)
    end
  end
  -- spec.sysctl: through the new root's /proc (before the read-only
  -- /proc/sys below; the host's proc when there is no proc there)
  local keys = {}
  for k in pairs(spec.sysctl or {}) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    add(steps, { op = "sysctl", path = NEW .. "/proc", target = "sys/" .. k:gsub("%.", "/"),
                 content = spec.sysctl[k], what = ("sysctl[%q]"):format(k) })
  end
  if spec.masks then
    -- the spec's own lists (OCI's readonlyPaths, then maskedPaths, as
    -- runc applies them): inside paths, after every mount, instead of
    -- Docker's lists
    for _, op in ipairs { "ro", "mask" } do
      for _, p in ipairs(spec.masks[op == "ro" and "readonly" or "masked"]) do
        local at = normpath(p)
        add(steps, { op = op, path = NEW .. (at == "/" and "" or at), what = at })
      end
    end
  else
    protect(steps, spec, res)
  end
  -- the default root ends read-only; a mount of the spec on "/" (a bind,
  -- a tmpfs, an overlay) keeps its own: a rw `--bind / /` stays rw
  local own_root = false
  for i, m in ipairs(spec.mounts or {}) do
    local skip = BIND_KINDS[m.type] and m.try and not res.sources[i]
    if not skip and (BIND_KINDS[m.type] or m.type == "tmpfs" or m.type == "overlay")
      and normpath(m.target) == "/" then
      own_root = true
    end
  end
  if not spec.rootfs and spec.base ~= "none" and not own_root then
    add(steps, { op = "attr", path = NEW, set = RO, what = "/" })
  end
  -- the scaffolding tmpfs holds the contents of "file" mounts: size it for them
  return { steps = steps, strict = strict or nil, scaffold_size = (1 << 20) + ctx.file_bytes }
end

-- ------------------------------------------------------------- identity

-- Who the sandbox runs as and how ids map (DESIGN "Identity").
local function identity(spec, res)
  if spec.user == "host" then return { mode = "host" } end
  local u = spec.user
  -- map = "host": no user namespace; the ids (if given) are host ids
  if u.map == "host" then return { mode = "host", uid = u.uid, gid = u.gid, groups = u.groups } end
  -- map = "explicit": the spec's own maps (an OCI config's uidMappings),
  -- written by us (privileged, or the caller's one id) or by
  -- newuidmap/newgidmap; the namespace is owned by the caller, as runc's
  if u.map == "explicit" then
    local ident = { mode = "explicit", uid = u.uid, gid = u.gid, groups = u.groups or {},
                    uid_map = u.uid_map, gid_map = u.gid_map, setgroups = "allow" }
    local function zero(map)
      for _, l in ipairs(map) do if l[1] == 0 then return true end end
      return false
    end
    -- set-up runs as inside root when it is mapped (the mounts' owner)
    ident.switch = zero(u.uid_map) and zero(u.gid_map) or nil
    if not res.privileged then
      local own = #u.uid_map == 1 and #u.gid_map == 1 and u.uid_map[1][2] == res.host_uid
        and u.gid_map[1][2] == res.host_gid and u.uid_map[1][3] == 1 and u.gid_map[1][3] == 1
      if own then
        ident.setgroups = "deny"
      else
        ident.helper = true
      end
    end
    return ident
  end
  -- userns.fd: the caller's user namespace, joined by the clone: its maps
  -- are what they are (nothing to write); ids switch only when given
  if spec.userns and spec.userns.fd then return { mode = "join", uid = u.uid, gid = u.gid } end
  local ident = { uid = u.uid, gid = u.gid, map = u.map }
  local hu, hg = res.host_uid, res.host_gid
  if u.map == "caller" then
    -- bubblewrap's map: the inside ids are the caller's own host ids (root's
    -- too), the only ids mapped; setgroups denied, as bubblewrap does
    ident.mode, ident.setgroups = "caller", "deny"
    ident.uid_map, ident.gid_map = { { u.uid, hu, 1 } }, { { u.gid, hg, 1 } }
  elseif res.privileged then
    -- the slot's host uid creates (owns) the user namespace: the kernel
    -- charges the sandbox's per-user quotas (inotify, mqueue bytes,
    -- namespaces...) to the owner, which must not be host root
    ident.mode, ident.setgroups, ident.switch, ident.owner = "slot", "allow", true, hu
    if u.map == "all" then
      ident.uid_map, ident.gid_map = { { 0, hu, M.WIDTH } }, { { 0, hg, M.WIDTH } }
    else
      -- user.host_uid/host_gid: the payload's ids map to those host ids
      -- (validated: inside ids not 0; resources: outside slots and subuid)
      local function used(id, base, host)
        local t = { { 0, base, 1 } }
        if id ~= 0 then t[2] = { id, host or base + id, 1 } end
        return t
      end
      ident.uid_map, ident.gid_map = used(u.uid, hu, u.host_uid), used(u.gid, hg, u.host_gid)
      ident.host_uid, ident.host_gid = u.host_uid, u.host_gid
    end
  else
    ident.mode = "rootless"
    if res.sub then
      -- newuidmap/newgidmap write maps the caller could not (setgroups stays allow)
      ident.helper, ident.setgroups = true, "allow"
      ident.uid_map = { { 0, hu, 1 }, { 1, res.sub.uid, M.WIDTH - 1 } }
      ident.gid_map = { { 0, hg, 1 }, { 1, res.sub.gid, M.WIDTH - 1 } }
    else
      -- CVE-2014-8989: an unprivileged gid map needs setgroups denied first
      ident.setgroups = "deny"
      ident.uid_map, ident.gid_map = { { u.uid, hu, 1 } }, { { u.gid, hg, 1 } }
    end
  end
  return ident
end

-- Inside ids mapped to themselves: the nested user namespace of a payload
-- that keeps capabilities.
local function self_map(lines)
  local t = {}
  for i, l in ipairs(lines) do t[i] = { l[1], l[1], l[3] } end
  return t
end

-- ------------------------------------------------------------ the command

--- The environment of the command: PATH, HOME, TERM with a tty (not with
-- base = "none": bubblewrap adds nothing), keep_env names (their values as
-- res.getenv saw them), then spec.env.
local function command_env(spec, res)
  local env = {}
  if spec.base ~= "none" then
    env.PATH, env.HOME = M.PATH, "/"
    if spec.tty then env.TERM = res.getenv.TERM or "xterm" end
  end
  for _, name in ipairs(spec.keep_env or {}) do env[name] = res.getenv[name] end
  for k, v in pairs(spec.env or {}) do env[k] = v end
  return env
end

-- rlimits for the exec tail: core = 0 by default (not with base = "none"),
-- RLIMIT_CPU as a backstop of the cpu-time limit, RLIMIT_FSIZE for the
-- output limit.  A value is one number (soft = hard) or { soft, hard }
-- (spec.rlimits, when they differ); math.huge is no limit.
local function num(v) return v == "unlimited" and math.huge or v end

--- A spec's `rlimits` ({ NAME = { soft = N, hard = N } }) as the exec
-- plan has them: { NAME = N | { SOFT, HARD } }, "unlimited" as math.huge.
-- Into 'r' when given.
function M.exec_rlimits(t, r)
  r = r or {}
  for k, v in pairs(t or {}) do
    local soft, hard = num(v.soft), num(v.hard)
    r[k] = soft == hard and soft or { soft, hard }
  end
  return r
end

local function rlimits(spec)
  local r = {}
  for k, v in pairs(spec.limits.rlimits or {}) do r[k] = num(v) end
  M.exec_rlimits(spec.rlimits, r)
  if r.core == nil and spec.base ~= "none" then r.core = 0 end
  local l = spec.limits
  if l.time and r.cpu == nil then
    r.cpu = math.ceil(l.time + (l.extra_time or 0)) + 1
    -- cpu_scope "command": nslua polls the command's own time, while a
    -- child of it counts its own against RLIMIT_CPU; with a wall limit the
    -- wall clock ends such a child (isolate's way), the backstop only
    -- beyond it (a child that spins all along reaches both at once)
    if l.cpu_scope == "command" and l.wall then r.cpu = math.max(r.cpu, math.ceil(l.wall) + 1) end
  end
  if l.output and r.fsize == nil then r.fsize = l.output end
  return r
end

-- What the command's stdio is: "inherit", "null", a path (opened by the
-- parent with the caller's permissions), a caller's fd, { inside = PATH }
-- (opened by the command itself, inside, as its own ids, like isolate) or,
-- for stderr, "stdout" (a dup of the command's fd 1).  The second result
-- is what the exec tail does itself: stdio_inside {name = PATH} and
-- stderr_to_stdout (nil when there is nothing).
local function stdio_plan(spec)
  local out, inside, to_stdout = {}, {}, nil
  local st = spec.stdio or {}
  for _, name in ipairs { "stdin", "stdout", "stderr" } do
    local v = st[name]
    if v == nil or v == "inherit" then
      out[name] = "inherit"
    elseif v == "null" or math.type(v) == "integer" then
      out[name] = v
    elseif type(v) == "table" then
      out[name] = { inside = v.inside }
      inside[name] = v.inside
    elseif name == "stderr" and v == "stdout" then
      out[name] = "stdout"
      to_stdout = true
    else
      out[name] = { path = v }
    end
  end
  return out, next(inside) and inside or nil, to_stdout
end

--- The executor's network guest steps for a net plan (net.plan's table):
-- lo up (unless lo is false), then the guest end's addresses, link and routes.
function M.guest_steps(n, lo)
  local g = { lo = lo ~= false or nil }
  if n and (n.mode == "veth" or n.mode == "bridge") then
    g.addrs, g.up, g.routes = {}, { n.guest_if }, {}
    for _, a in ipairs(n.guest_addrs) do g.addrs[#g.addrs + 1] = { dev = n.guest_if, cidr = a } end
    for _, r in ipairs(n.routes) do
      g.routes[#g.routes + 1] = { dst = r.dst, gateway = r.gateway, dev = r.dev, family = r.family }
    end
  end
  if not g.lo and not g.addrs then return nil end
  return g
end

-- The network steps inside the child's namespace (a pool's is prepared).
local function net_plan(spec, res)
  if spec.net == "host" or not spec.namespaces.net then return nil end
  return M.guest_steps(res.net, not res.pool)
end

-- The user namespace steps of spec.userns (fds are the caller's numbers):
-- fd (joined by the clone), after (joined before the command), disable,
-- assert_disabled; nil when there are none.
local function userns_plan(un)
  local u = { fd = un.fd, after = un.after, disable = un.disable or nil,
              assert_disabled = un.assert_disabled or nil }
  if next(u) == nil then return nil end
  return u
end

-- spec.seccomp_bpf as instruction counts (the programs themselves are
-- runtime data, rt.seccomp_bpf, as the compiled profile is rt.seccomp).
local function bpf_sizes(list)
  if not list or #list == 0 then return nil end
  local t = {}
  for i, prog in ipairs(list) do t[i] = #prog // 8 end
  return t
end

--- Build the plan.
-- @tparam table spec a validated spec (validate.check)
-- @tparam table res resources (resources.fresh, a pool lease or resources.dry)
-- @treturn table the plan (plain data)
function M.plan(spec, res)
  local plan = { id = res.id }
  local nsl = {}
  local joins_user = spec.userns and spec.userns.fd ~= nil
  for k, v in pairs(spec.namespaces) do
    if v and k ~= "time" and not (k == "net" and res.pool) and not (k == "user" and joins_user) then
      nsl[#nsl + 1] = k
    end
  end
  table.sort(nsl)
  plan.namespaces = nsl
  if res.pool then plan.join = { "net" } end
  -- spec.join: setup.plan opens the paths (checked to be namespace files
  -- of that type) and the clone's helper joins them, in this order
  local jp = {}
  for _, k in ipairs(JOIN_NS) do
    if spec.join and spec.join[k] then jp[#jp + 1] = { ns = k, path = spec.join[k] } end
  end
  if #jp > 0 then plan.join_paths = jp end
  local ident = identity(spec, res)
  plan.identity = ident
  -- (a joined uts or mount namespace is set up as a new one: runc's way)
  if validate.has_ns(spec, "uts") then plan.hostname, plan.domainname = spec.hostname, spec.domainname end
  -- a new time namespace (a joined one is setns'd as the others): the
  -- set-up child unshares it before its release and enters it after, the
  -- parent writing the offsets between (container.write_time_offsets);
  -- mono_s, the monotonic offset, is for the parent, which takes it off
  -- the clock readings the sandbox reports
  if spec.namespaces.time and not (spec.join and spec.join.time) then
    local lines, offs = {}, spec.time_offsets or {}
    for _, clock in ipairs { "monotonic", "boottime" } do
      local o = offs[clock]
      if o then lines[#lines + 1] = ("%s %d %d\n"):format(clock, o.sec, o.nsec) end
    end
    local m = offs.monotonic
    plan.time = { offsets = #lines > 0 and table.concat(lines) or nil,
                  mono_s = m and (m.sec + m.nsec / 1e9) or nil }
  end
  plan.net = net_plan(spec, res)
  -- what the parent makes on the host side (resources wanted; see net.plan)
  if res.net and (res.net.mode == "veth" or res.net.mode == "bridge" or res.net.mode == "pasta") then
    local h = {}
    for k, v in pairs(res.net) do if k ~= "created" then h[k] = v end end
    plan.host_net = h
  end
  if res.cgroup_limits then plan.cgroup = res.cgroup_limits end
  -- sync.userns_block_fd with map = "caller" (bubblewrap's): the caller
  -- writes maps of its own while the child waits, so the inside ids are
  -- whatever they make of ours: nothing is owned by, or switched to, a
  -- planned id
  local caller_maps = spec.sync and spec.sync.userns_block_fd ~= nil and ident.mode == "caller"
  -- the root's propagation after the pivot (runc's rootfsPropagation)
  local own_mnt = validate.has_ns(spec, "mnt")
  plan.rootfs_propagation = own_mnt and spec.rootfs_propagation or nil
  if own_mnt then
    plan.mounts = mount_plan(spec, res, ident.mode ~= "host" and ident.uid ~= nil and not caller_maps
      and ident or nil)
  end
  plan.tty = spec.tty or nil
  -- the list form (the union of the set form's sets)
  local caps = {}
  for i, c in ipairs(spec.caps or {}) do caps[i] = c end
  local un = spec.userns or {}
  -- kept capabilities, and userns.disable (the command's namespace must
  -- not be the one whose max_user_namespaces is 1), need the nested one;
  -- userns.after names the namespace the command ends in instead.  The
  -- spec's own maps (map = "explicit": an OCI config's) keep runc's model:
  -- the capabilities belong to the user namespace the config made, which
  -- owns the mount namespace (docs/oci.md)
  if (#caps > 0 and ident.mode ~= "explicit" or un.disable) and ident.uid_map and not un.after then
    plan.nested_userns = { uid_map = self_map(ident.uid_map), gid_map = self_map(ident.gid_map) }
  end
  plan.userns = userns_plan(un)
  plan.pidns_fd = spec.pidns_fd
  -- host_mnt: setup.plan opens our mount namespace; the child returns to
  -- it after the pivot with the new root as a detached tree
  plan.host_mnt = spec.host_mnt or nil
  -- join.pid: setup.plan opens it; the clone is born in it as with pidns_fd
  plan.pidns_path = spec.join and spec.join.pid
  local hooks = {}
  for _, name in ipairs(M.CHILD_HOOKS) do
    if spec.hooks and spec.hooks[name] then hooks[#hooks + 1] = name end
  end
  if #hooks > 0 then plan.hooks = hooks end
  local stdio_inside, stderr_to_stdout
  plan.stdio, stdio_inside, stderr_to_stdout = stdio_plan(spec)
  local handled, to_listener
  -- (a built-in profile by name has no handlers: its program may come from
  -- the cache, and nslua.seccomp is then not loaded at all)
  if spec.seccomp ~= "none"
    and not (type(spec.seccomp) == "string" and require("nslua.seccomp_cache").BUILTIN[spec.seccomp]) then
    handled, to_listener = require("nslua.seccomp").handled_names(spec.seccomp)
  end
  local exec = {
    argv = spec.argv, env = command_env(spec, res), cwd = spec.cwd, rlimits = rlimits(spec),
    caps = caps, keep_caps = #caps > 0 or nil, tty = spec.tty or nil,
    -- stdio.fds: descriptors the caller passes on (like bwrap's --fd options)
    keep_fds = spec.stdio and spec.stdio.fds and #spec.stdio.fds > 0 and spec.stdio.fds or nil,
    seccomp = type(spec.seccomp) == "table" and "custom" or spec.seccomp,
    -- policy.compose's stack: each layer its own filter
    seccomp_layers = type(spec.seccomp) == "table" and spec.seccomp.layers and #spec.seccomp.layers or nil,
    -- the syscalls a profile routes to Lua handlers ("*": every other one)
    -- or to the seccomp_listener (seccomp_listener.syscalls, below)
    seccomp_handlers = handled,
    argv0 = spec.argv0, set_pwd = spec.set_pwd or nil,
    session = spec.session == "keep" and "keep" or nil,
    -- the command's parent-death signal: asked for, or without an init
    -- (its parent is then nslua itself: a sandbox never outlives nslua)
    -- (spec.detach: it outlives nslua, which only parks it)
    die_with_parent = (spec.die_with_parent or (spec.init == false and not spec.detach)) or nil,
    -- host root with every capability: its sets as they are (bwrap's way)
    host_caps = ident.mode == "host" and #caps == #ALL_CAPS or nil,
    seccomp_bpf = bpf_sizes(spec.seccomp_bpf),
    -- a read-write mount idmapped to host root: the set-id guard's own
    -- filter beside the profile (resources.lua, docs/roots.md)
    setid_guard = res.setid_guard or nil,
    stdio_inside = stdio_inside, stderr_to_stdout = stderr_to_stdout,
    exec_error = spec.exec_error,
    -- the OCI process fields: the command's umask; no_new_privs = false
    -- (absent: true) loads the seccomp filters before the capability drop
    umask = spec.umask, personality = spec.personality,
    -- the Landlock ruleset for the kernel's ABI (res.landlock_abi)
    landlock = spec.landlock and require("nslua.landlock").plan(spec.landlock, res.landlock_abi or 0),
  }
  if to_listener then
    -- the agent the kernel's listener goes to (OCI's listenerPath)
    exec.seccomp_handlers = nil
    exec.seccomp_listener = { path = spec.seccomp_listener and spec.seccomp_listener.path,
                              syscalls = handled }
  end
  if spec.no_new_privs == false then exec.no_new_privs = false end
  if ident.mode ~= "host" and not caller_maps then
    exec.uid, exec.gid = ident.uid, ident.gid
    if ident.mode == "slot" then exec.groups = {} end
    if ident.mode == "explicit" and ident.setgroups ~= "deny" then exec.groups = ident.groups end
  elseif ident.mode == "host" and ident.uid then
    -- map = "host": host ids (as root; the groups given, or none)
    exec.uid, exec.gid, exec.groups = ident.uid, ident.gid, ident.groups or {}
  end
  -- caps in the set form: each set as it is (exec.caps stays their union)
  if spec.caps and spec.caps.bounding then
    local sets = {}
    for _, s in ipairs(require("nslua.validate").CAP_SETS) do sets[s] = spec.caps[s] end
    exec.cap_sets = sets
    exec.host_caps = nil
  end
  plan.exec = exec
  if spec.init == false then plan.init = false end
  plan.detach = spec.detach or nil
  -- written by setup.clone into /proc/<child>/oom_score_adj before the release
  plan.oom_score_adj = spec.oom_score_adj
  plan.die_with_parent = spec.die_with_parent or nil
  if spec.lock_files and #spec.lock_files > 0 then plan.lock_files = spec.lock_files end
  if spec.sync and next(spec.sync) then plan.sync = spec.sync end
  local l = spec.limits
  plan.wait = { wall = l.wall, cpu = l.time and (l.time + (l.extra_time or 0)),
                -- "command": the cpu time of the command (and the children
                -- it reaped), polled in /proc/<pid>/stat, no cgroup's
                cpu_scope = l.time and l.cpu_scope == "command" and "command" or nil }
  return plan
end

-- ------------------------------------------------------------- explain

-- Plain data as JSON with sorted keys (stable output, comparable as
-- strings): math.huge is "unlimited"; a table with only 1..n keys is an
-- array (an empty table is {}).
local function json(v, out)
  local t = type(v)
  if t == "table" then
    local n = #v
    local keys = {}
    for k in pairs(v) do keys[#keys + 1] = k end
    if n > 0 and #keys == n then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        json(v[i], out)
      end
      out[#out + 1] = "]"
      return
    end
    for i, k in ipairs(keys) do keys[i] = tostring(k) end
    table.sort(keys)
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      json(k, out)
      out[#out + 1] = ":"
      local val = v[k]
      if val == nil then val = v[math.tointeger(tonumber(k))] end
      json(val, out)
    end
    out[#out + 1] = "}"
  elseif t == "string" then
    out[#out + 1] = '"' .. v:gsub('[%c"\\]', function(c)
      local esc = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" }
      return esc[c] or ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "number" then
    if v == math.huge then
      out[#out + 1] = '"unlimited"'
    elseif math.type(v) == "integer" then
      out[#out + 1] = ("%d"):format(v)
    else
      out[#out + 1] = ("%.17g"):format(v)
    end
  elseif t == "boolean" then
    out[#out + 1] = tostring(v)
  else
    error(("launch.json: a plan holds no %s"):format(t), 2)
  end
end

--- The plan as JSON (sorted keys): what `nslua explain --json` prints.
function M.json(plan)
  local out = {}
  json(plan, out)
  return table.concat(out)
end

local function flags(set)
  local fl = {}
  for k, v in pairs(set or {}) do if v then fl[#fl + 1] = k end end
  table.sort(fl)
  return fl
end

local function map_text(lines)
  local t = {}
  for i, l in ipairs(lines) do t[i] = ("%d %d %d"):format(l[1], l[2], l[3]) end
  return table.concat(t, ", ")
end

-- One line per mount step (mkdir and mkfile steps are implied).
local function explain_step(s)
  local function p(x) return (x:gsub("^" .. NEW, ""):gsub("^" .. OLD, "host:")) end
  if s.op == "mount" and not s.src then
    return ("propagation %s on %s"):format(table.concat(flags(s.flags), ","), s.what)
  elseif s.op == "mount" then
    local fl = flags(s.flags)
    return ("mount %s on %s%s%s"):format(s.fstype or p(s.src), p(s.path) == "" and "/" or p(s.path),
      #fl > 0 and (" [" .. table.concat(fl, ",") .. "]") or "", s.data and (" " .. s.data) or "")
  elseif s.op == "attr" then
    local cl = flags(s.clear)
    return ("set %s%s on %s%s"):format(table.concat(flags(s.set), ","),
      #cl > 0 and ((#flags(s.set) > 0 and ", " or "") .. "clear " .. table.concat(cl, ",")) or "", s.what,
      s.rec and " (recursive)" or s.mountpoint and " (the mount there, not those below it)" or "")
  elseif s.op == "move" then
    return ("attach the detached tree %s on %s%s"):format(s.tree, s.what,
      s.idmap == "yes" and " (idmapped to the caller)" or s.idmap == "auto"
        and " (idmapped to the caller where its file system allows)" or "")
  elseif s.op == "overlay" then
    local lower = {}
    for i, l in ipairs(s.lower) do lower[i] = p(l) end
    local fl = flags(s.flags)
    return ("overlay on %s [%s] lower %s%s"):format(s.what, table.concat(fl, ","), table.concat(lower, " : "),
      s.upper and (" upper " .. p(s.upper) .. " work " .. p(s.work)) or " (read-only, no upper)")
  elseif s.op == "symlink" then
    return ("symlink %s -> %s"):format(s.what, s.target)
  elseif s.op == "write" then
    return ("file %s (%d bytes%s)"):format(s.what, #s.content,
      s.path:sub(1, #NEW + 1) == NEW .. "/" and ", in place" or "")
  elseif s.op == "mask" then
    return ("mask %s"):format(s.what)
  elseif s.op == "ro" then
    return ("read-only %s"):format(s.what)
  elseif s.op == "chmod" then
    return ("chmod %04o %s"):format(s.mode, s.what)
  elseif s.op == "mknod" then
    return ("mknod %s %s %s %04o%s"):format(s.what, s.kind,
      s.kind == "p" and "(FIFO)" or ("%d:%d"):format(s.major, s.minor), s.mode,
      s.uid and (" owner %s:%s"):format(tostring(s.uid), tostring(s.gid)) or "")
  elseif s.op == "devbind" then
    return ("device %s: a bind of the host's %s %d:%d node"):format(s.what, s.kind, s.major, s.minor)
  elseif s.op == "sysctl" then
    return ("sysctl %s = %s (the new root's /proc, else the host's)"):format(
      s.target:sub(5):gsub("/", "."), s.content)
  end
end

--- An rlimit of plan.exec.rlimits as text: "unlimited", "N", or for a
-- { soft, hard } pair "SOFT:HARD" (what a state record stores; nslua.exec
-- reads both forms back).
function M.rlimit_text(v)
  if type(v) == "table" then return M.rlimit_text(v[1]) .. ":" .. M.rlimit_text(v[2]) end
  return v == math.huge and "unlimited" or tostring(v)
end

--- The plan as lines of text: what `nslua explain` prints.
function M.explain(plan)
  local out = {}
  local function p(fmt, ...) out[#out + 1] = fmt:format(...) end
  p("namespaces: %s%s", table.concat(plan.namespaces, " "),
    plan.join and (" (joins the pool's " .. table.concat(plan.join, " ") .. ")") or "")
  local ident = plan.identity
  if ident.mode == "host" and ident.uid then
    p("identity: host (no user namespace); host uid %d gid %d, groups %s", ident.uid, ident.gid,
      #(ident.groups or {}) > 0 and table.concat(ident.groups, ",") or "none")
  elseif ident.mode == "host" then
    p("identity: host (no user namespace; runs with the caller's ids)")
  elseif ident.mode == "join" then
    p("identity: joins the caller's user namespace (fd %d; no id maps written)%s", plan.userns.fd,
      ident.uid and ("; inside uid %s gid %s"):format(tostring(ident.uid), tostring(ident.gid)) or "")
  else
    p("identity: %s user namespace; inside uid %d gid %d; uid map %s; gid map %s; setgroups %s%s%s",
      ident.mode == "slot" and "privileged (a free 65536-wide slot of host ids)"
        or ident.mode == "caller" and "the caller's ids"
        or ident.mode == "explicit" and "the spec's maps" or "rootless",
      ident.uid, ident.gid, map_text(ident.uid_map), map_text(ident.gid_map), ident.setgroups,
      ident.helper and " (through newuidmap/newgidmap)" or "",
      ident.owner and ("; owned by host uid %d (its per-user quotas)"):format(ident.owner) or "")
    if ident.host_uid then
      p("identity: the payload's uid %d gid %d are host uid %d gid %d (user.host_uid, user.host_gid);"
        .. " inside 0 stays the slot's", ident.uid, ident.gid, ident.host_uid, ident.host_gid)
    end
  end
  for _, j in ipairs(plan.join_paths or {}) do
    p("join: %s namespace %s (setns before the clone)", j.ns, j.path)
  end
  if plan.host_mnt then
    p("mount namespace: the caller's after the pivot (the new root as a detached copy)")
  end
  if plan.pidns_path then p("join: pid namespace %s (the clone is born in it)", plan.pidns_path) end
  if plan.pidns_fd then
    p("pid namespace: the clone is born in the caller's (fd %d)%s", plan.pidns_fd,
      table.concat(plan.namespaces, " "):match("pid") and ", its new one a child of it" or "")
  end
  local un = plan.userns or {}
  if un.disable then
    p("user namespaces: disabled inside (max_user_namespaces = 1, then the nested one)")
  end
  if un.after then p("user namespace: joins the caller's (fd %d) after set-up, before exec", un.after) end
  if un.assert_disabled then p("user namespaces: set-up fails unless creating one is refused") end
  if plan.hostname then p("hostname: %s", plan.hostname) end
  if plan.time then
    p("time namespace: %s", plan.time.offsets and plan.time.offsets:gsub("\n$", ""):gsub("\n", ", ")
      or "no offsets")
  end
  if plan.domainname then p("domainname: %s", plan.domainname) end
  local n = plan.net
  if not n then
    p("network: %s", plan.join and "the pool's namespace (lo up)" or "host")
  else
    if n.lo then p("network: lo up") end
    if plan.host_net then
      for _, line in ipairs(require("nslua.net").explain(plan.host_net)) do
        if line:match("^host: ") or plan.host_net.mode == "pasta" then p("network: %s", line) end
      end
    end
    for _, a in ipairs(n.addrs or {}) do p("network: guest: %s address %s", a.dev, a.cidr) end
    for _, d in ipairs(n.up or {}) do p("network: guest: %s up", d) end
    for _, r in ipairs(n.routes or {}) do
      p("network: guest: route %s%s%s", r.dst or "default", r.gateway and (" via " .. r.gateway) or "",
        r.dev and (" dev " .. r.dev) or "")
    end
  end
  for _, s in ipairs(plan.mounts and plan.mounts.steps or {}) do
    local line = explain_step(s)
    if line then p("mount: %s", line) end
  end
  if plan.rootfs_propagation then p("mount: / becomes %s after the pivot", plan.rootfs_propagation) end
  if plan.tty then p("tty: a pty of the sandbox's devpts, proxied by nslua") end
  for _, h in ipairs(plan.hooks or {}) do p("hook: %s (Lua, in the child)", h) end
  if plan.nested_userns then
    p("nested user namespace: uid map %s; gid map %s", map_text(plan.nested_userns.uid_map),
      map_text(plan.nested_userns.gid_map))
  end
  local e = plan.exec
  for _, k in ipairs { "memory", "swap", "pids", "cpus", "cpuset" } do
    if plan.cgroup and plan.cgroup[k] then p("limit: %s = %s (cgroup)", k, tostring(plan.cgroup[k])) end
  end
  for _, k in ipairs { "wall", "cpu" } do
    if plan.wait[k] then
      p("limit: %s = %s s%s", k, tostring(plan.wait[k]), k == "cpu" and (plan.wait.cpu_scope == "command"
        and " (the command and the children it waited for; /proc/<pid>/stat)"
        or " (every process of the container; its cgroup)") or "")
    end
  end
  local rl = {}
  for k in pairs(e.rlimits) do rl[#rl + 1] = k end
  table.sort(rl)
  for _, k in ipairs(rl) do
    local v = e.rlimits[k]
    if type(v) == "table" then
      p("rlimit: %s = %s soft, %s hard", k, M.rlimit_text(v[1]), M.rlimit_text(v[2]))
    else
      p("rlimit: %s = %s", k, M.rlimit_text(v))
    end
  end
  if e.cap_sets then
    for _, s in ipairs(require("nslua.validate").CAP_SETS) do
      p("capabilities: %s: %s", s, #e.cap_sets[s] > 0 and table.concat(e.cap_sets[s], " ") or "none")
    end
  else
    p("capabilities: %s", e.host_caps and "all (the caller's sets as they are)"
      or #e.caps > 0 and table.concat(e.caps, " ") or "none")
  end
  p("seccomp: %s", e.seccomp_layers and ("%d layered profiles (each its own filter: the strictest "
    .. "verdict wins)"):format(e.seccomp_layers) or tostring(e.seccomp))
  if e.seccomp_handlers then
    local hs = e.seccomp_handlers
    p("seccomp: Lua handlers (user notification, answered by nslua) for %s",
      hs[1] == "*" and "every syscall the profile does not name" ..
        (#hs > 1 and ", and " .. table.concat(hs, " ", 2) or "") or table.concat(hs, " "))
  end
  if e.seccomp_listener then
    p("seccomp: notifications for %s go to the agent at %s", table.concat(e.seccomp_listener.syscalls, " "),
      tostring(e.seccomp_listener.path))
  end
  if e.no_new_privs == false then
    p("no_new_privs: not set (the seccomp filters load before the capability drop)")
  end
  for _, line in ipairs(require("nslua.landlock").explain(e.landlock)) do out[#out + 1] = line end
  if e.umask then p("umask: %04o", e.umask) end
  if e.personality then p("personality: %s (personality(2) before the exec)", e.personality) end
  if plan.oom_score_adj then
    p("oom_score_adj: %d (written by the parent before the release)", plan.oom_score_adj)
  end
  if e.setid_guard then
    p("seccomp: plus the set-id guard (a read-write mount writes as host root: no set-id modes, "
      .. "no io_uring, openat2 or new user namespaces)")
    p("set-id guard: a watch of the read-write idmapped mounts and overlays (no write open of a set-id "
      .. "or file-capability program there; answered by nslua-guard, a host process)")
  end
  for i, insns in ipairs(e.seccomp_bpf or {}) do
    p("seccomp: then BPF program %d (%d instruction%s)", i, insns, insns == 1 and "" or "s")
  end
  for _, name in ipairs { "stdin", "stdout", "stderr" } do
    local v = plan.stdio[name]
    if type(v) == "table" and v.inside then
      p("%s: %s (opened inside by the command, as its ids, before its cwd)", name, v.inside)
    elseif v == "stdout" and name == "stderr" then
      p("stderr: stdout (a dup of the command's fd 1)")
    elseif v ~= "inherit" then
      p("%s: %s", name, type(v) == "table" and v.path or tostring(v))
    end
  end
  local keys = {}
  for k in pairs(e.env) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do p("env: %s=%s", k, e.env[k]) end
  p("cwd: %s%s", type(e.cwd) == "table" and table.concat(e.cwd, " | ") .. " (the first it can enter)"
    or e.cwd, e.set_pwd and " (PWD set to it)" or "")
  if e.session == "keep" then p("session: the caller's session and process group (no setsid)") end
  if plan.die_with_parent then p("die with parent: nslua and the command get PR_SET_PDEATHSIG SIGKILL") end
  for _, f in ipairs(plan.lock_files or {}) do p("lock: %s (read lock, held for the sandbox's life)", f) end
  local sy = plan.sync or {}
  if sy.userns_block_fd then p("sync: waits for fd %d once its user namespace exists "
    .. "(the caller writes the id maps)", sy.userns_block_fd) end
  if sy.block_fd then p("sync: waits for fd %d before the command", sy.block_fd) end
  if plan.detach then
    p("detach: parked after set-up in its cgroups, outlives nslua (no parent-death signal)")
  end
  if sy.sync_fd then p("sync: fd %d stays open until the sandbox ends", sy.sync_fd) end
  if plan.init == false then p("init: none (the child execs the command itself)") end
  if e.exec_error == "stderr" then
    p("exec error: a failed execve writes 'execve(\"%s\"): <error>' to the command's stderr, exit 127",
      e.argv[1])
  end
  p("exec: %s%s", table.concat(e.argv, " "), e.argv0 and (" (argv[0] = %q)"):format(e.argv0) or "")
  return out
end

return M
