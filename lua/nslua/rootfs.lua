--- nslua.rootfs: the mount plan of a sandbox and its execution in the child.
-- plan(spec, ctx) (parent) turns the spec into an ordered list of steps;
-- explain() prints them; run(steps, ctx) (child, in its new mount
-- namespace) performs them.  During set-up the scaffolding tmpfs is the
-- root, the host's root is at /.oldroot and the new root at /newroot.
local core = require "nslua.core"
local mount = core.mount

local M = {}

local OLD, NEW = "/.oldroot", "/newroot"
M.OLD, M.NEW = OLD, NEW

M.TMPFS_SIZE = 64 * 1024 * 1024

-- Docker's masked and read-only paths (moby/oci/defaults.go): a missing
-- target is skipped.
M.MASKED = {
  "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
  "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap",
}
M.READONLY = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" }

M.DEVICES = { "null", "zero", "full", "random", "urandom", "tty" }

local host_layout
--- How the host lays out /bin /sbin /lib /lib64 ...: symlinks into usr or dirs (cached).
function M.host_layout()
  if host_layout then return host_layout end
  local t = {}
  for _, d in ipairs { "bin", "sbin", "lib", "lib32", "lib64", "libx32" } do
    local st = mount.lstat("/" .. d)
    if st and st.type == "link" then
      t[#t + 1] = { name = d, link = mount.readlink("/" .. d) }
    elseif st and st.type == "dir" then
      t[#t + 1] = { name = d, dir = true }
    end
  end
  host_layout = t
  return t
end

local function dirname(p)
  return p:match("^(.*)/[^/]*$") or "/"
end

local function add(steps, s) steps[#steps + 1] = s end

local NOSUIDDEV = { nosuid = true, nodev = true }
local RO = { rdonly = true, nosuid = true, nodev = true }

-- Bind 'src' (a host path) on 'dst' (inside path).  'tree' is set when the
-- parent opened the source as a detached tree (privileged).
local function bind(steps, m, ctx)
  local attrs = m.ro and { rdonly = true, nosuid = true, nodev = not m.dev }
    or { nosuid = true, nodev = not m.dev }
  local isdir = m.kind ~= "file"
  add(steps, { op = isdir and "mkdir" or "mkfile", path = NEW .. m.target, what = m.target })
  if m.tree then
    add(steps, { op = "move", tree = m.tree, path = NEW .. m.target, what = m.target })
  else
    add(steps, { op = "mount", src = OLD .. m.source, path = NEW .. m.target,
                 flags = { bind = true, rec = m.recursive ~= false }, what = m.target })
    add(steps, { op = "attr", path = NEW .. m.target, set = attrs,
                 rec = m.recursive ~= false, what = m.target })
  end
end

local function proc_mount(steps, target)
  add(steps, { op = "mkdir", path = NEW .. target, what = target })
  add(steps, { op = "mount", src = "proc", fstype = "proc", path = NEW .. target,
               flags = { nosuid = true, nodev = true, noexec = true }, what = target })
end

-- A minimal /dev: binds of the host's device nodes on a tmpfs, devpts,
-- /dev/shm, the fd links.  Device binds are the one place without nodev.
local function dev_mount(steps, target, ctx)
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
  if ctx.tty_gid_mapped then ptsopts = ptsopts .. ",gid=5" end
  add(steps, { op = "mount", src = "devpts", fstype = "devpts", path = d .. "/pts",
               flags = { nosuid = true, noexec = true }, data = ptsopts, what = target .. "/pts" })
  add(steps, { op = "symlink", target = "pts/ptmx", path = d .. "/ptmx", what = target .. "/ptmx" })
  add(steps, { op = "mkdir", path = d .. "/shm", what = target .. "/shm" })
  add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = d .. "/shm",
               flags = { nosuid = true, nodev = true }, data = ("mode=1777,size=%d"):format(M.TMPFS_SIZE),
               what = target .. "/shm" })
  add(steps, { op = "symlink", target = "/proc/self/fd", path = d .. "/fd", what = target .. "/fd" })
  for i, n in ipairs { "stdin", "stdout", "stderr" } do
    add(steps, { op = "symlink", target = "/proc/self/fd/" .. (i - 1), path = d .. "/" .. n,
                 what = target .. "/" .. n })
  end
end

local function tmpfs_mount(steps, target, size, mode, owner)
  local data = ("mode=%04o,size=%d"):format(mode or 493, size or M.TMPFS_SIZE)
  if owner then data = data .. (",uid=%d,gid=%d"):format(owner.uid, owner.gid) end
  add(steps, { op = "mkdir", path = NEW .. target, what = target })
  add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW .. target,
               flags = { nosuid = true, nodev = true }, data = data, what = target })
end

local kinds = {}

kinds.bind = function(steps, m, ctx) bind(steps, m, ctx) end
kinds["bind-idmap"] = kinds.bind
kinds["dev-bind"] = function(steps, m, ctx)
  m.dev = true
  bind(steps, m, ctx)
end
-- a tmpfs of the spec belongs to the payload (like bubblewrap's --tmpfs)
kinds.tmpfs = function(steps, m, ctx) tmpfs_mount(steps, m.target, m.size, m.mode or 493, ctx.owner) end
kinds.proc = function(steps, m) proc_mount(steps, m.target) end
kinds.dev = function(steps, m, ctx) dev_mount(steps, m.target, ctx) end
kinds.mqueue = function(steps, m)
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = "mqueue", fstype = "mqueue", path = NEW .. m.target,
               flags = { nosuid = true, nodev = true, noexec = true }, what = m.target })
end
kinds.sysfs = function(steps, m)
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = "sysfs", fstype = "sysfs", path = NEW .. m.target,
               flags = { nosuid = true, nodev = true, noexec = true, rdonly = true }, what = m.target })
end
kinds.dir = function(steps, m)
  add(steps, { op = "mkdir", path = NEW .. m.target, mode = m.mode or 493, what = m.target })
end
kinds.symlink = function(steps, m)
  add(steps, { op = "mkdir", path = NEW .. dirname(m.target), what = dirname(m.target) })
  add(steps, { op = "symlink", target = m.source, path = NEW .. m.target, what = m.target })
end
-- A file with given content: written in the scaffolding tmpfs, then bound
-- read-only (unless ro == false) on the target.
kinds.file = function(steps, m, ctx)
  ctx.nfiles = (ctx.nfiles or 0) + 1
  -- whole pages per file, plus the inode
  ctx.file_bytes = (ctx.file_bytes or 0) + ((#m.content + 8191) // 4096) * 4096
  local tmp = "/.files/" .. ctx.nfiles
  add(steps, { op = "mkdir", path = "/.files", what = m.target })
  add(steps, { op = "write", path = tmp, content = m.content, mode = m.mode or 420, what = m.target })
  add(steps, { op = "mkfile", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = tmp, path = NEW .. m.target, flags = { bind = true }, what = m.target })
  add(steps, { op = "attr", path = NEW .. m.target,
               set = m.ro == false and NOSUIDDEV or RO, what = m.target })
end
-- overlay: lower = list of host paths; upper and work on a private tmpfs
-- (writable, discarded at the end) unless given.
kinds.overlay = function(steps, m, ctx)
  ctx.noverlays = (ctx.noverlays or 0) + 1
  local base = "/.overlay/" .. ctx.noverlays
  local lower = {}
  for i, l in ipairs(m.lower or { m.source }) do lower[i] = OLD .. l end
  local upper, work = m.upper and OLD .. m.upper, m.work and OLD .. m.work
  if not upper then
    add(steps, { op = "mkdir", path = base, what = m.target })
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = base,
                 flags = NOSUIDDEV, data = ("mode=0755,size=%d"):format(m.size or M.TMPFS_SIZE),
                 what = m.target })
    add(steps, { op = "mkdir", path = base .. "/upper", what = m.target })
    add(steps, { op = "mkdir", path = base .. "/work", what = m.target })
    upper, work = base .. "/upper", base .. "/work"
    -- the merged root takes the upper directory's attributes: give it the
    -- top lower directory's mode (its owner may be unmapped here)
    local st = mount.stat((m.lower or { m.source })[1])
    if st then add(steps, { op = "chmod", path = upper, mode = st.mode, what = m.target }) end
  end
  add(steps, { op = "mkdir", path = NEW .. m.target, what = m.target })
  add(steps, { op = "mount", src = "overlay", fstype = "overlay", path = NEW .. m.target,
               flags = { nosuid = true, nodev = true, rdonly = m.ro or nil },
               data = ("lowerdir=%s,upperdir=%s,workdir=%s,userxattr")
                 :format(table.concat(lower, ":"), upper, work), what = m.target })
end

--- Build the ordered mount steps for a validated spec.
-- ctx: {trees = {...} (filled for privileged binds), tty_gid_mapped, ns}
function M.plan(spec, ctx)
  local steps = {}
  local ns = spec.namespaces
  if spec.rootfs then
    local m = { source = spec.rootfs, target = "", ro = not spec.rootfs_rw, tree = ctx.rootfs_tree }
    if m.tree then
      add(steps, { op = "move", tree = m.tree, path = NEW, what = "/" })
    else
      add(steps, { op = "mount", src = OLD .. spec.rootfs, path = NEW, flags = { bind = true, rec = true },
                   what = "/" })
      add(steps, { op = "attr", path = NEW, set = m.ro and RO or NOSUIDDEV, rec = true, what = "/" })
    end
    ctx.strict_targets = true
  else
    add(steps, { op = "mount", src = "tmpfs", fstype = "tmpfs", path = NEW, flags = NOSUIDDEV,
                 data = ("mode=0755,size=%d"):format(M.TMPFS_SIZE), what = "/" })
    for _, p in ipairs { "/usr", "/etc" } do
      bind(steps, { source = p, target = p, ro = true }, ctx)
    end
    for _, d in ipairs(M.host_layout()) do
      if d.link then
        add(steps, { op = "symlink", target = d.link, path = NEW .. "/" .. d.name, what = "/" .. d.name })
      else
        bind(steps, { source = "/" .. d.name, target = "/" .. d.name, ro = true }, ctx)
      end
    end
  end
  if ns.pid then proc_mount(steps, "/proc") end
  dev_mount(steps, "/dev", ctx)
  if ns.ipc then kinds.mqueue(steps, { target = "/dev/mqueue" }) end
  tmpfs_mount(steps, "/tmp", M.TMPFS_SIZE, 1023)
  for i, m in ipairs(spec.mounts or {}) do
    if not m.skip then
      m = setmetatable({ tree = ctx.trees and ctx.trees[i] }, { __index = m })
      kinds[m.type](steps, m, ctx)
    end
  end
  if ns.pid then
    for _, p in ipairs(M.MASKED) do
      if p:sub(1, 6) == "/proc/" then add(steps, { op = "mask", path = NEW .. p, what = p }) end
    end
    for _, p in ipairs(M.READONLY) do
      add(steps, { op = "ro", path = NEW .. p, what = p })
    end
  end
  if not spec.rootfs then
    add(steps, { op = "attr", path = NEW, set = RO, what = "/" })
  end
  return steps
end

--- One line per step, for `nslua explain`.
function M.explain(steps)
  local out = {}
  local function p(s) return (s:gsub("^" .. NEW, ""):gsub("^" .. OLD, "host:")) end
  for _, s in ipairs(steps) do
    local line
    if s.op == "mount" then
      local fl = {}
      for k in pairs(s.flags or {}) do fl[#fl + 1] = k end
      table.sort(fl)
      line = ("mount %s on %s%s%s"):format(s.fstype or p(s.src), p(s.path) == "" and "/" or p(s.path),
        #fl > 0 and (" [" .. table.concat(fl, ",") .. "]") or "", s.data and (" " .. s.data) or "")
    elseif s.op == "attr" then
      local fl = {}
      for k, v in pairs(s.set) do if v then fl[#fl + 1] = k end end
      table.sort(fl)
      line = ("set %s on %s%s"):format(table.concat(fl, ","), s.what, s.rec and " (recursive)" or "")
    elseif s.op == "move" then
      line = ("attach detached tree of %s on %s"):format(s.source or "a bind source", s.what)
    elseif s.op == "symlink" then
      line = ("symlink %s -> %s"):format(s.what, s.target)
    elseif s.op == "write" then
      line = ("file %s (%d bytes)"):format(s.what, #s.content)
    elseif s.op == "mask" then
      line = ("mask %s"):format(s.what)
    elseif s.op == "ro" then
      line = ("read-only %s"):format(s.what)
    elseif s.op == "mkdir" or s.op == "mkfile" then
      line = nil
    end
    if line then out[#out + 1] = line end
  end
  return out
end

local function fail(s, err, code)
  return nil, ("%s: %s"):format(s.what or s.path, err), code
end

local EEXIST = core.errno.EEXIST

local ops = {}
function ops.mount(s)
  return mount.mount(s.src, s.path, s.fstype, s.flags, s.data)
end
function ops.attr(s)
  return mount.mount_setattr(s.path, s.set, nil, nil, s.rec)
end
function ops.move(s)
  return mount.move_mount(s.tree, s.path)
end
function ops.mkdir(s, ctx)
  local ok, err, code = mount.mkdir(s.path, s.mode or 493, true)
  if not ok and ctx.strict_targets and s.path:sub(1, #NEW) == NEW then
    return nil, "missing mount point (the root file system is read-only): " .. err, code
  end
  return ok, err, code
end
function ops.mkfile(s)
  local ok, err, code = mount.mkdir(dirname(s.path), 493, true)
  if not ok then return ok, err, code end
  return mount.mkfile(s.path, 420)
end
function ops.symlink(s)
  local ok, err, code = mount.symlink(s.target, s.path)
  if not ok and code == EEXIST then return true end
  return ok, err, code
end
function ops.chmod(s)
  return mount.chmod(s.path, s.mode)
end
function ops.write(s)
  return mount.write_file(s.path, s.content, s.mode)
end
-- Masks: a directory gets an empty read-only tmpfs, anything else /dev/null.
function ops.mask(s)
  local st = mount.lstat(s.path)
  if not st then return true end
  if st.type == "dir" then
    return mount.mount("tmpfs", s.path, "tmpfs", { rdonly = true, nosuid = true, nodev = true, noexec = true },
      "size=4096,mode=0555")
  end
  return mount.mount(OLD .. "/dev/null", s.path, nil, { bind = true })
end
function ops.ro(s)
  if not mount.lstat(s.path) then return true end
  local ok, err, code = mount.mount(s.path, s.path, nil, { bind = true, rec = true })
  if not ok then return ok, err, code end
  return mount.mount_setattr(s.path, RO, nil, nil, true)
end

--- Prepare the scaffolding: private propagation, a tmpfs root with the
-- host's root at /.oldroot.  Runs in the child's new mount namespace.
function M.enter(ctx)
  local ok, err, code = mount.mount(nil, "/", nil, { rec = true, private = true })
  if not ok then return nil, err, code end
  -- the scaffolding holds the contents of "file" mounts: size it for them
  ok, err, code = mount.mount("tmpfs", "/tmp", "tmpfs", NOSUIDDEV,
    ("mode=0700,size=%d"):format((1 << 20) + (ctx.file_bytes or 0)))
  if not ok then return nil, err, code end
  for _, d in ipairs { "/tmp/.oldroot", "/tmp/newroot" } do
    ok, err, code = mount.mkdir(d, 448)
    if not ok then return nil, err, code end
  end
  ok, err, code = mount.pivot_root("/tmp", "/tmp/.oldroot")
  if not ok then return nil, err, code end
  return mount.chdir("/")
end

--- Perform the steps.  Returns true | nil, "target: message", errno.
function M.run(steps, ctx)
  for _, s in ipairs(steps) do
    local ok, err, code = ops[s.op](s, ctx)
    if not ok then return fail(s, err, code) end
  end
  return true
end

--- Drop the host's root and make /newroot the root.
function M.finish()
  local ok, err, code = mount.umount(OLD, { detach = true })
  if not ok then return nil, err, code end
  return mount.pivot(NEW)
end

return M
