--- nslua.resources: what a sandbox needs besides its plan, behind one
-- interface (DESIGN "Layers").  Two providers hand the lifecycle the same
-- fields and methods:
--   fresh(spec)        a state record (written and locked before any object
--                      it names exists), an id slot, cgroups, host links
--                      (and with isolate_host the nftables table nslua-<id>)
--   lease(pool, spec)  the same objects, kept by a warm pool, checked and reset
-- and dry(spec) gives explain the same inputs without making anything.
--
-- Fields launch.plan reads: id, privileged, pool, host_uid, host_gid, sub,
-- trees (set of keys), sources, fd_paths (the path a bind's source_fd
-- refers to), source_is (a bind source that is the host's /, /proc or
-- /sys), sys_masks, lower_modes, layout, net, getenv.
-- Runtime handles the executor gets (res.rt): trees {key = fd}, cgroup_procs
-- {fd...}, seccomp (BPF), stdio {[0..2] = fd}, keep {fd...} (held by the
-- init: the record lock, the slot lock).
-- Methods: res:around_clone(f, ...), res:attach(pid, plan), res:cpu_usage([cmd]),
-- res:stats(), res:kill(), res:record(info), res:release().
local core = require "nslua.core"
local state = require "nslua.state"
local ids = require "nslua.ids"
local limits = require "nslua.limits"
local validate = require "nslua.validate"

local ns, mount, proc = core.ns, core.mount, core.proc
local errno = core.errno

local M = {}

-- Set (to a reason) while nothing may be made: `nslua explain` calls a
-- recipe's function under it, so a recipe that drives the API runs nothing.
M.forbid = nil

local function lazy(name)
  return setmetatable({}, { __index = function(t, k)
    local mod = require(name)
    setmetatable(t, { __index = mod })
    return mod[k]
  end })
end
local cgroup = lazy "nslua.cgroup"
local net = lazy "nslua.net"
local seccomp = lazy "nslua.seccomp"
local pasta = lazy "nslua.pasta"
local launch = lazy "nslua.launch"

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

local host_roots
-- The host's /, /proc and /sys by device and inode (cached): a bind source
-- that is one of them under another name (/proc/self/root, a symlink) shows
-- it all the same, and gets its masks (launch.lua "/proc and /sys").
local function root_of(st)
  if not host_roots then
    host_roots = {}
    for _, p in ipairs { "/", "/proc", "/sys" } do
      local r = mount.stat(p)
      if r then host_roots[#host_roots + 1] = { path = p, dev = r.dev, ino = r.ino } end
    end
  end
  for _, r in ipairs(host_roots) do
    if st.dev == r.dev and st.ino == r.ino then return r.path end
  end
  return nil
end

local sys_masks
--- The per-CPU paths Docker's daemon masks besides its list (cached):
-- /sys/devices/system/cpu/cpuN/thermal_throttle where the host has them.
function M.sys_masks()
  if sys_masks then return sys_masks end
  local t = {}
  local dir = "/sys/devices/system/cpu"
  local names = mount.readdir(dir) or {}
  table.sort(names)
  for _, n in ipairs(names) do
    local p = ("%s/%s/thermal_throttle"):format(dir, n)
    if n:match("^cpu%d+$") and mount.lstat(p) then t[#t + 1] = p end
  end
  sys_masks = t
  return t
end

local Res = {}
Res.__index = Res

-- userns.fd: the sandbox joins the caller's user namespace, whose ids are
-- not nslua's to choose: no slot of host ids.
local function joins_userns(spec)
  return spec.userns ~= nil and spec.userns.fd ~= nil
end

-- The cleanup stack: run in reverse order by release().
function Res:defer(f)
  self._cleanup[#self._cleanup + 1] = f
end

--- Run a cleanup stack (a list of functions) newest first, emptying it;
-- an error in one does not stop the others.  Idempotent.
function M.unwind(c)
  for i = #c, 1, -1 do
    local f = c[i]
    c[i] = nil
    pcall(f)
  end
  return true
end

--- Release every object and fd, newest first.  Idempotent.
function Res:release()
  return M.unwind(self._cleanup)
end

-- The fd that must be closed once the child holds its copy (the parent
-- has no use for it after clone).
function Res:after_clone()
  for _, fd in pairs(self.rt.trees) do fd:close() end
  for _, fd in ipairs(self.rt.cgroup_procs) do fd:close() end
  for _, fd in pairs(self.rt.stdio) do
    if type(fd) ~= "number" and not fd:closed() then fd:close() end
  end
end

function Res:around_clone(f, ...)
  return f(...)
end

--- The clock ticks of /proc/<pid>/stat's times: USER_HZ, which the kernel
-- ABI fixes at 100 on every architecture Linux still has (alpha's 1024
-- aside): jiffies_to_clock_t, whatever CONFIG_HZ is.
M.USER_HZ = 100

--- The cpu time of a process itself, in seconds (utime + stime of
-- /proc/<pid>/stat: isolate's poll, which children never enter), and its
-- start time (field 22): nil when there is no such process, or when
-- 'start' is given and the pid is now another process's.
-- @tparam integer pid a pid of our pid namespace
-- @tparam[opt] integer start the start time the process must have
function M.proc_cpu(pid, start)
  local f = io.open(("/proc/%d/stat"):format(pid))
  if not f then return nil end
  local text = f:read("a")
  f:close()
  -- after the comm, which may hold spaces and parentheses: field 3 on
  local rest = text and text:match(".*%)%s+(.*)")
  if not rest then return nil end
  local t, n = {}, 2
  for x in rest:gmatch("%S+") do
    n = n + 1
    t[n] = x
    if n == 22 then break end
  end
  local st = math.tointeger(tonumber(t[22]))
  if not st or (start and st ~= start) then return nil end
  local ticks = 0
  for i = 14, 15 do ticks = ticks + (tonumber(t[i]) or 0) end
  return ticks / M.USER_HZ, st
end

--- The cpu time the run's `time` limit counts, in seconds: the cgroup's
-- (cpu_scope "container"), or with cpu_scope "command" that of the
-- command 'cmd' ({pid = host pid, start = its start time}; 0 before it is
-- known, its last value once it is gone: self.cmd_cpu_s).
function Res:cpu_usage(cmd)
  if self.spec.limits.cpu_scope == "command" then
    local v = cmd and M.proc_cpu(cmd.pid, cmd.start)
    if v then self.cmd_cpu_s = v end
    return self.cmd_cpu_s or 0
  end
  local cg = self.cg
  return cg and (cg:cpu_usage() or 0) - (self._cg_base and self._cg_base.cpu_s or 0)
end

function Res:stats()
  return self.cg and self.cg:stats() or nil
end

-- End every member: cgroup.kill on v2, the freezer on v1 (used without a
-- pid namespace, where killing the init does not take the members along).
function Res:kill()
  if self.cg then self.cg:kill() end
end

function Res:record() return true end

-- ------------------------------------------------------------ common part

-- What both providers (and dry) find out the same way: who calls, the
-- host's layout, the bind sources, the environment keep_env names.
-- A privileged sandbox with a user namespace of nslua's maps takes a slot
-- of host ids (not map = "caller", "host" or "explicit", nor a joined one).
local function needs_slot(spec, res)
  return res.privileged and not validate.host_user(spec.user) and spec.user.map ~= "caller"
    and spec.user.map ~= "explicit" and not joins_userns(spec)
end

local function probe(spec, res)
  local uid = proc.getuid()
  res.privileged = uid == 0
  -- user.host_uid/host_gid: privileged, outside the slots and /etc/subuid;
  -- rootless, the caller's own
  local hok, herr = ids.check_host_ids(spec.user,
    not res.privileged and { uid = uid, gid = proc.getgid() } or nil)
  if not hok then return nil, herr, errno.EINVAL end
  res.layout = spec.namespaces.mnt and not spec.rootfs and M.host_layout() or {}
  -- nslua's own state directory (records, their seccomp programs, the
  -- seccomp cache): masked wherever a bind shows it inside (launch's
  -- protect); rootless, the payload's host uid owns it
  res.state_mask = spec.namespaces.mnt and state.root_path() or nil
  res.sources, res.lower_modes, res.trees, res.source_is, res.fd_paths = {}, {}, {}, {}, {}
  local shows_sys = false
  if spec.namespaces.mnt and spec.rootfs then
    if type(spec.rootfs) == "table" then
      local ok, err, code = M.overlay_root_check(spec.rootfs, res)
      if not ok then return nil, err, code end
    end
    local st = mount.stat(type(spec.rootfs) == "table" and spec.rootfs.lower[1] or spec.rootfs)
    res.source_is.rootfs = st and root_of(st)
    shows_sys = true
  end
  for i, m in ipairs(spec.mounts or {}) do
    if m.type == "sysfs" then shows_sys = true end
    if launch.BIND_KINDS[m.type] then
      -- a source_fd is the caller's: what it refers to, and the path it
      -- has now (the rootless executor checks it is still that file)
      local st, serr, scode = mount.stat(m.source_fd or m.source)
      local path = m.source
      if st and m.source_fd then
        path, serr, scode = mount.readlink(("/proc/self/fd/%d"):format(m.source_fd))
        if not path then st = nil end
      end
      if st then
        res.sources[i] = st.type == "dir" and "dir" or "file"
        res.source_is[i] = root_of(st)
        res.fd_paths[i] = m.source_fd and path or nil
        shows_sys = true
      elseif m.source_fd and not m.try then
        return nil, ("mounts[%d].source_fd %d: %s"):format(i, m.source_fd, serr), scode
      elseif not m.try then
        return nil, ("mounts[%d].source '%s': no such file or directory"):format(i, m.source),
          errno.ENOENT
      end
      if m.type == "bind-idmap" and not res.privileged then
        return nil, ("mounts[%d]: bind-idmap needs a privileged caller (rootless binds already write as the caller)")
          :format(i), errno.EPERM
      end
      if m.type == "bind-idmap" and validate.host_user(spec.user) then
        return nil, ("mounts[%d]: bind-idmap needs a user namespace (not user = \"host\")"):format(i),
          errno.EINVAL
      end
    elseif m.type == "overlay" and not m.upper then
      local st = mount.stat((m.lower or { m.source })[1])
      res.lower_modes[i] = st and st.mode or nil
    end
  end
  if shows_sys and spec.namespaces.mnt then res.sys_masks = M.sys_masks() end
  -- landlock: the kernel's ABI (launch masks the rules to it); none refuses
  if spec.landlock then
    local abi, lerr, lcode = core.landlock.abi()
    if not abi then
      return nil, ("landlock: this kernel cannot enforce it (%s; Landlock needs Linux 5.13 "
        .. "and 'landlock' in the lsm= boot list)"):format(lerr), lcode
    end
    res.landlock_abi = abi
  end
  if limits.needs_cgroup(spec.limits) then res.cgroup_limits = limits.cgroup_limits(spec.limits) end
  res.getenv = {}
  if spec.tty then res.getenv.TERM = os.getenv("TERM") end
  for _, name in ipairs(spec.keep_env or {}) do res.getenv[name] = os.getenv(name) end
  -- rootless, or map = "caller" (bubblewrap's: inside ids are the caller's own)
  if not validate.host_user(spec.user) and (not res.privileged or spec.user.map == "caller") then
    res.host_uid, res.host_gid = uid, proc.getgid()
    if spec.user.map == "all" then
      local sub, serr = ids.rootless_ranges(res.host_uid, res.host_gid)
      if not sub then return nil, serr, errno.EPERM end
      res.sub = sub
    end
  end
  return true
end

--- An overlay root's directories (docs/roots.md): every lower one and
-- a directory upper must exist (overlay_work makes the work directory
-- when the sandbox starts).  The top lower directory's mode is what the
-- merged root gets with a tmpfs upper (res.lower_modes.rootfs).
function M.overlay_root_check(r, res)
  for i, dir in ipairs(r.lower) do
    local st = mount.stat(dir)
    if not st or st.type ~= "dir" then
      return nil, ("rootfs.lower[%d] '%s': not a directory"):format(i, dir), errno.ENOTDIR
    end
    if i == 1 then res.lower_modes.rootfs = st.mode end
  end
  if r.upper ~= "tmpfs" then
    -- (not a symlink either: set-up finds upper and work by name in
    -- their parent directory)
    local st = mount.lstat(r.upper)
    if not st or st.type ~= "dir" then
      return nil, ("rootfs.upper '%s': not a directory"):format(r.upper), errno.ENOTDIR
    end
  end
  return true
end

-- A directory upper's work directory, made when the sandbox starts (not
-- by explain's dry resources).
local function overlay_work(spec)
  local r = spec.rootfs
  if type(r) ~= "table" or r.upper == "tmpfs" or not spec.namespaces.mnt then return true end
  local ok, err, code = mount.mkdir(r.work, 448)
  if not ok and code ~= errno.EEXIST then return nil, "rootfs.work: " .. err, code end
  local st = mount.lstat(r.work)
  if not st or st.type ~= "dir" then
    return nil, ("rootfs.work '%s': not a directory"):format(r.work), errno.ENOTDIR
  end
  return true
end

--- A user namespace mapping inside 0 to the payload's host ids, for
-- bind-idmap: through it, files the caller (host root) owns show as the
-- payload's, and what the payload writes lands on disk as the caller's.
-- Made by a short-lived child whose maps we write, then kept as an fd.
function M.idmap_userns(host_uid, host_gid)
  local r, w = proc.pipe()
  io.stdout:flush()
  local pid, err, code = ns.clone { user = true }
  if not pid then
    r:close()
    w:close()
    return nil, err, code
  end
  if pid == 0 then
    w:close()
    proc.read(r, 1)
    proc._exit(0)
  end
  r:close()
  local ok
  ok, err, code = ns.write_id_map(pid, "uid", { { 0, host_uid, 1 } })
  if ok then ok, err, code = ns.write_id_map(pid, "gid", { { 0, host_gid, 1 } }) end
  local fd
  if ok then fd, err, code = ns.open(pid, "user") end
  w:close()
  proc.waitpid(pid)
  if not fd then return nil, "idmap user namespace: " .. err, code end
  return fd
end

--- The detached trees an overlay mount m (key "mounts[i]") takes when
-- its layers are idmapped: { { key, path, ro }, ... }: each lower
-- directory, and the directory that holds both upper and work.
function M.overlay_tree_paths(m, key)
  local out = {}
  for j, l in ipairs(m.lower or {}) do
    out[#out + 1] = { key = ("%s.lower[%d]"):format(key, j), path = l, ro = true }
  end
  if m.upper then
    out[#out + 1] = { key = key .. ".upper", path = launch.common_dir(m.upper, m.work) }
  end
  return out
end

-- Whether bind mount m of a privileged spec is idmapped: "yes"
-- (bind-idmap), "auto" (`nslua run --bind`'s idmap = "auto": a read-write
-- bind, with the payload's one id, not map = "all", whose other ids the
-- idmap could not hold; a plain bind where the file system takes no
-- idmap) or nil.
local function idmapped_bind(spec, res, m)
  if m.type == "bind-idmap" then return "yes" end
  if m.idmap == "auto" and not m.ro and spec.user.map ~= "all" and needs_slot(spec, res) then
    return "auto"
  end
end

-- What the set-id guard needs of a spec with a mount that writes as host
-- root ('what'): no capability that gets round it, and its watch's
-- holders (csrc/guard.c): the init, PID 1 of a pid namespace of its own.
-- true | nil, msg, errno
local function guard_fits(spec, what)
  local c = seccomp.setid_guard_cap(spec.caps or {})
  if c then
    return nil, ("caps: %s with the read-write idmapped %s would let the payload leave "
      .. "privileged files on the host (docs/roots.md; use --bind-as-slot or drop it)")
      :format(c, what), errno.EPERM
  end
  if not spec.namespaces.pid or spec.init == false or spec.pidns_fd or (spec.join and spec.join.pid) then
    return nil, ("%s: a read-write idmapped mount writes as host root, and the set-id guard "
      .. "that watches it needs a pid namespace and nslua's init (docs/roots.md; use "
      .. "--bind-as-slot)"):format(what), errno.EINVAL
  end
  return true
end

-- Privileged: each bind source and the rootfs as a detached tree, with
-- ro/nosuid/nodev (and idmaps) set on the tree before the child exists.
local function open_trees(spec, res)
  -- a joined user namespace (userns.fd) binds by path in the child: trees
  -- host root opened would carry no lock, and its payload may hold
  -- capabilities in the namespace that owns the mounts
  if not (res.privileged and spec.namespaces.mnt and not validate.host_user(spec.user))
    or joins_userns(spec) then
    return true
  end
  -- a read-write idmapped tree: what the payload writes there is host
  -- root's (the caller's), so the set-id guard goes beside its seccomp
  -- (seccomp.lua "setid_guard"; the plan shows it) and the capabilities
  -- that would set file capabilities or keep a set-id bit on a write
  -- are refused: true | nil, msg, errno
  local function writes_as_root(what)
    local ok, err, code = guard_fits(spec, what)
    if not ok then return nil, err, code end
    res.setid_guard = true
    return true
  end
  -- the user namespace of the idmapped mounts (root <-> the payload's
  -- host id), made on first use: fd | nil, msg, errno
  local idmap_fd
  local function idmap()
    if not idmap_fd then
      local fd, uerr, ucode = M.idmap_userns(spec.user.host_uid or res.host_uid + spec.user.uid,
        spec.user.host_gid or res.host_gid + spec.user.gid)
      if not fd then return nil, uerr, ucode end
      idmap_fd = fd
      res:defer(function() fd:close() end)
    end
    return idmap_fd
  end
  for i, m in ipairs(spec.mounts or {}) do
    if launch.BIND_KINDS[m.type] and res.sources[i] then
      local tree, terr, tcode = mount.open_tree(m.source_fd or m.source,
        { clone = true, rec = m.recursive ~= false })
      if not tree then return nil, ("mounts[%d]: %s"):format(i, terr), tcode end
      res:defer(function() if not tree:closed() then tree:close() end end)
      local set = { rdonly = m.ro or nil, nosuid = true, nodev = m.type ~= "dev-bind", noexec = m.noexec }
      local userns
      local auto = idmapped_bind(spec, res, m) == "auto"
      if m.type == "bind-idmap" or auto then
        local uerr, ucode
        if not m.ro then
          local okw, werr, wcode = writes_as_root(("mounts[%d]"):format(i))
          if not okw then return nil, werr, wcode end
        end
        userns, uerr, ucode = idmap()
        if not userns then return nil, ("mounts[%d]: %s"):format(i, uerr), ucode end
        set.idmap = true
      end
      local ok, serr, scode = mount.mount_setattr(tree, set, nil, userns, m.recursive ~= false)
      if not ok and auto then
        -- the source's file system (or a mount below it) takes no idmap:
        -- a plain bind, whose files the payload writes as its slot ids
        set.idmap = nil
        ok, serr, scode = mount.mount_setattr(tree, set, nil, nil, m.recursive ~= false)
      elseif ok and auto then
        res.idmapped = res.idmapped or {}
        res.idmapped[i] = true
      end
      if not ok then return nil, ("mounts[%d]: %s"):format(i, serr), scode end
      local key = launch.tree_key(i)
      res.trees[key], res.rt.trees[key] = true, tree
    end
  end
  -- an idmapped detached tree of path (not its submounts: an overlay
  -- layer is one file system) as res.trees[key]; nil, msg, errno
  local function tree_of(path, key, ro, what)
    if not ro then
      local okw, werr, wcode = writes_as_root(what)
      if not okw then return nil, werr, wcode end
    end
    local ufd, uerr, ucode = idmap()
    if not ufd then return nil, ("%s: %s"):format(what, uerr), ucode end
    local tree, terr, tcode = mount.open_tree(path, { clone = true })
    if not tree then return nil, ("%s: %s"):format(what, terr), tcode end
    res:defer(function() if not tree:closed() then tree:close() end end)
    local ok, serr, scode = mount.mount_setattr(tree, { rdonly = ro or nil, nosuid = true, nodev = true,
      idmap = true }, nil, ufd, false)
    if not ok then
      tree:close()
      return nil, ("%s: %s (idmapped mount)"):format(what, serr), scode
    end
    res.trees[key], res.rt.trees[key] = true, tree
    return true
  end
  -- run's overlay spellings (idmap = "auto", docs/roots.md): the layers
  -- as for an overlay root, all or none (then by path, as before)
  if needs_slot(spec, res) then
    for i, m in ipairs(spec.mounts or {}) do
      if m.type == "overlay" and m.idmap == "auto" then
        local keys, ok = M.overlay_tree_paths(m, launch.tree_key(i)), true
        for _, k in ipairs(keys) do
          ok = ok and tree_of(k.path, k.key, k.ro, k.key)
        end
        if not ok then
          for _, k in ipairs(keys) do
            local t = res.rt.trees[k.key]
            if t and not t:closed() then t:close() end
            res.trees[k.key], res.rt.trees[k.key] = nil, nil
          end
        end
      end
    end
  end
  if type(spec.rootfs) == "table" then
    -- an overlay root: each lower directory, and the upper's parent (upper
    -- and work must share a mount), idmapped so that the caller's files
    -- show as the payload's and what it writes is the caller's
    if not needs_slot(spec, res) then return true end
    for i, dir in ipairs(spec.rootfs.lower) do
      local ok, err, code = tree_of(dir, ("rootfs.lower[%d]"):format(i), true, ("rootfs.lower[%d]"):format(i))
      if not ok then return nil, err, code end
    end
    if spec.rootfs.upper ~= "tmpfs" then
      local ok, err, code = tree_of(launch.dirname(spec.rootfs.upper), "rootfs.upper", false, "rootfs.upper")
      if not ok then return nil, err, code end
    end
  elseif spec.rootfs then
    local tree, terr, tcode = mount.open_tree(spec.rootfs, { clone = true, rec = true })
    if not tree then return nil, "rootfs: " .. terr, tcode end
    res:defer(function() if not tree:closed() then tree:close() end end)
    local ok, serr, scode = mount.mount_setattr(tree,
      { rdonly = not spec.rootfs_rw or nil, nosuid = true, nodev = true }, nil, nil, true)
    if not ok then return nil, "rootfs: " .. serr, scode end
    res.trees.rootfs, res.rt.trees.rootfs = true, tree
  end
  return true
end

-- The stdio fds the command gets: nslua opens paths with the caller's
-- permissions (like isolate), the command dup2s them onto 0-2.  A stdin
-- file with content (a regular file, a block device) is handed over as a
-- sealed read-only copy (proc.sealed_copy): the payload could otherwise
-- reopen /proc/self/fd/0 for writing with its own ids (rootless: the
-- caller's) and rewrite the file (DESIGN "Trust rules").  A FIFO, socket
-- or character device holds nothing to rewrite and is passed as opened.
local function open_stdio(spec, res)
  local st = spec.stdio or {}
  for i, name in ipairs { "stdin", "stdout", "stderr" } do
    local v = st[name]
    -- { inside = PATH } and stderr = "stdout" are the exec tail's own
    if v == "null" or (type(v) == "string" and v ~= "inherit"
                       and not (name == "stderr" and v == "stdout")) then
      local path = v == "null" and "/dev/null" or v
      local flags = i == 1 and { rdonly = true } or { wronly = true, creat = true, trunc = true }
      local fd, err, code = proc.open(path, flags, 420)
      if not fd then return nil, ("stdio.%s: %s"):format(name, err), code end
      if i == 1 then
        local copy, cerr, ccode = proc.sealed_copy(fd, "nslua-stdin")
        if copy then
          fd:close()
          fd = copy
        elseif ccode ~= errno.ESPIPE then
          fd:close()
          return nil, ("stdio.stdin: %s"):format(cerr), ccode
        end
      end
      res:defer(function() if not fd:closed() then fd:close() end end)
      res.rt.stdio[i - 1] = fd
    elseif math.type(v) == "integer" then
      res.rt.stdio[i - 1] = v
    end
  end
  return true
end

-- A profile that does not compile must fail the start (never run unfiltered).
local function compile_seccomp(spec, res)
  -- raw programs (spec.seccomp_bpf) are loaded after the profile, as given
  if spec.seccomp_bpf and #spec.seccomp_bpf > 0 then res.rt.seccomp_bpf = spec.seccomp_bpf end
  local cache = require "nslua.seccomp_cache"
  local guard
  if res.setid_guard then
    -- beside any profile, "none" included, loaded before it (open_trees)
    local gerr, gcode
    guard = cache.lookup("setid_guard")
    if not guard then guard, gerr, gcode = seccomp.compile("setid_guard") end
    if not guard then return nil, gerr, gcode end
  end
  res.rt.seccomp_guard = guard
  if spec.seccomp == "none" then return true end
  -- a built-in profile's program from the cache, without nslua.seccomp
  -- (no handlers, no layers: what seccomp.prepare gives for a name)
  local cached = type(spec.seccomp) == "string" and cache.lookup(spec.seccomp)
  if cached then
    res.rt.seccomp = cached
    return true
  end
  -- a JSON profile's includes/excludes.caps read the caps kept (the
  -- bounding set of the set form, as Docker reads it)
  local caps = type(spec.caps) == "table" and (spec.caps.bounding or spec.caps) or nil
  local okc, prep, berr, bcode = pcall(seccomp.prepare, spec.seccomp, { caps = caps })
  if not okc then return nil, tostring(prep), errno.EINVAL end
  if not prep then return nil, berr, bcode end
  res.rt.seccomp = prep.bpf
  -- a composed profile's other layers: each its own filter
  res.rt.seccomp_layers = prep.layers and #prep.layers > 0 and prep.layers or nil
  -- Lua handlers: their filter goes to the exec tail, the handlers to the
  -- container's supervisor (nslua.notify); "notify": its listener goes to
  -- the seccomp_listener's agent (nslua.container)
  res.rt.seccomp_notify = prep.notify
  if prep.listener then
    if not spec.seccomp_listener then
      return nil, "seccomp: action \"notify\" needs seccomp_listener (the agent the kernel's "
        .. "listener goes to)", errno.EINVAL
    end
    res.listener = spec.seccomp_listener
  else
    res.notify = prep.notify and prep or nil
  end
  return true
end

local function new_res(spec)
  return setmetatable({ spec = spec, _cleanup = {},
    rt = { trees = {}, cgroup_procs = {}, stdio = {}, keep = {} } }, Res)
end

-- The steps both providers share once the id and the host ids are known.
local function finish(spec, res)
  local ok, err, code = overlay_work(spec)
  if ok then ok, err, code = open_trees(spec, res) end
  if ok then ok, err, code = open_stdio(spec, res) end
  if ok then ok, err, code = compile_seccomp(spec, res) end
  if ok and res.cg then
    local fds, ferr, fcode = res.cg:procs_fds()
    if not fds then return nil, ferr, fcode end
    res.rt.cgroup_procs = fds
    for _, fd in ipairs(fds) do res:defer(function() if not fd:closed() then fd:close() end end) end
  end
  return ok, err, code
end

-- ------------------------------------------------------------ fresh

-- A record's list field (state.encode joins a table with tabs).
local function list_field(v)
  local t = {}
  for x in tostring(v or ""):gmatch("[^\t]+") do t[#t + 1] = x end
  return t
end

--- Remove what owners that are gone left: state records, cgroups, links,
-- nftables tables.
-- A record is acted on only once its lock is ours (its owner and the init
-- that inherited the lock are gone), and only on the objects it names: the
-- cgroup directories it lists wherever they are (the dead owner's cgroup
-- may not be ours), its nsl<id> links, its bridge and its nftables table
-- (isolate_host, nat, publish), and the forwarding dead nat/publish runs
-- enabled in the sweeper's netns.  A record whose cgroups or table cannot all be removed
-- stays, so a later sweep tries again: no cgroup or table ever exists that
-- no record names.
-- With opts.wait (seconds; `nslua gc`), a record whose owner is dead but
-- whose lock is still held, by a child that is dying with its owner
-- (PR_SET_PDEATHSIG), gets up to that long for its lock to come free.
-- @tparam[opt] string root the state directory
-- @tparam[opt] table opts { wait = seconds }
-- @treturn table ids removed
-- @treturn table messages about records kept
function M.sweep(root, opts)
  root = root or state.root()
  if not root then return {}, {} end
  local wait = opts and opts.wait or 0
  local deadline = proc.now() + wait
  local removed, kept = {}, {}
  for _, rec in ipairs(state.list(root)) do
    local lock
    -- a detached container's record is its deleter's (opts.detached: gc),
    -- and a live one is nobody's to sweep: its lock is free once its
    -- command has exec'd, its owner (create) is long gone
    if rec.info.detached == 1 and (rec.alive or not (opts and opts.detached)) then
      lock = nil
    elseif not rec.alive then
      lock = state.try_lock(rec.dir, rec.info)
    elseif wait > 0 and not state.alive(rec.info.owner_pid, rec.info.owner_start) then
      repeat
        proc.poll({}, 20)
        lock = state.try_lock(rec.dir, rec.info)
      until lock or proc.now() >= deadline
    end
    if lock then
      local ok, err = M.remove_record(rec.dir, rec.id)
      if ok then
        removed[#removed + 1] = rec.id
      else
        kept[#kept + 1] = ("%s: %s"):format(rec.id, err)
      end
      if type(lock) == "userdata" then lock:close() end
    end
  end
  -- forwarding a dead nat/publish run enabled in this netns (net.lua).
  -- A process that has not loaded net.lua (whose LOCK_DIR is then still
  -- state.ROOT) loads it (~0.2 ms) only when such a run left its state here
  local fdir = not package.loaded["nslua.net"] and state.forward_dir(state.ROOT)
  if not fdir or mount.stat(fdir .. "/orig") then
    local fok, ferr = net.forward_sweep()
    if not fok then kept[#kept + 1] = "forwarding: " .. tostring(ferr) end
  end
  return removed, kept
end

--- Remove what one record names, then the record; the caller holds its
-- lock (state.try_lock).  The init, if still alive, is killed first.
-- @treturn[1] true
-- @return[2] nil, the reasons the record was kept (a later sweep retries)
function M.remove_record(dir, id)
  -- what the record names now (it may have changed since the listing)
  local info = state.decode(state.read(dir .. "/info"))
  if info.init_pid and state.alive(info.init_pid, info.init_start) then
    proc.kill(info.init_pid, 9)
  end
  local left, errors = {}, {}
  if info.cgroup and info.cgroup ~= "" then
    local dirs = list_field(info.cgroup_dirs)
    local leaf = info.cgroup_leaf ~= "" and info.cgroup_leaf or nil
    local _
    -- a placed group (cgroup_leaf) is only ever removed where the record says
    if not (leaf and #dirs == 0) then
      _, left, errors = cgroup.remove_dirs(id, #dirs > 0 and dirs or nil, nil, leaf)
    end
    if #left == 0 then
      for _, d in ipairs(list_field(info.cgroup_parents)) do core.cgroup.rmdir(d, 0) end
    end
  end
  if info.pasta_pid then
    -- its pasta (net = "pasta"), when still running: pid and start time
    pasta.kill_recorded(info.pasta_pid, info.pasta_start)
  end
  if info.net == "veth" or info.net == "bridge" then
    local _, terr = net.release_id(id, info.bridge, info.nft)
    if terr then left[#left + 1], errors[#errors + 1] = info.nft, terr end
  end
  if #left > 0 then return nil, table.concat(errors, "; ") end
  state.remove(dir)
  return true
end

local Fresh = setmetatable({}, { __index = Res })
Fresh.__index = Fresh

function Fresh:record(info)
  if self.state_dir then return state.update(self.state_dir, info) end
  return true
end

-- The command's seccomp programs beside the record (state.write_programs).
function Res:record_programs() return true end
function Fresh:record_programs(progs)
  if self.state_dir then return state.write_programs(self.state_dir, progs) end
  return true
end

--- After clone: the host ends of the network plan (the child's netns exists).
function Fresh:attach(pid)
  if self.net and (self.net.mode == "veth" or self.net.mode == "bridge") then
    local plan = self.net
    self:defer(function() net.host_cleanup(plan) end)
    local ok, err, code = net.host_setup(plan, pid)
    if not ok then return nil, err, code end
  elseif self.net and self.net.mode == "pasta" then
    return self:attach_pasta(pid)
  end
  return true
end

--- net = "pasta": start pasta against the child's namespaces, stopped by
-- the cleanup stack, named (pid, start time) in the record for gc.
function Fresh:attach_pasta(pid)
  local h, err, code = pasta.start(self.net, pid, { dir = self.state_dir, root = self.privileged })
  if not h then return nil, err, code end
  self:defer(function() pasta.stop(h) end)
  if self.state_dir then
    local ok, uerr, ucode = state.update(self.state_dir, { pasta_pid = h.pid, pasta_start = h.start })
    if not ok then return nil, uerr, ucode end
  end
  return true
end

--- Fresh resources: sweep, then the record (locked) naming every object,
-- then the objects.
-- @return[1] resources
-- @return[2] nil, message, errno, the id when one was chosen (everything
-- made is released)
function M.fresh(spec, root)
  if M.forbid then return nil, M.forbid, errno.EPERM end
  local res = setmetatable(new_res(spec), Fresh)
  local ok, err, code = probe(spec, res)
  if not ok then return nil, err, code end
  if not root then
    root, err, code = state.root()
    if not root then return nil, err, code end
  end
  M.sweep(root)
  -- spec.cgroup: a group even without limits, where it says, in the
  -- controllers it names (an OCI container's cgroupsPath and resources)
  local scg = spec.cgroup
  local needs_cg = res.cgroup_limits ~= nil or scg ~= nil
  if scg and not res.cgroup_limits then res.cgroup_limits = {} end
  local cg_opts = { rootless = not res.privileged, path = scg and scg.path, controllers = scg and scg.controllers }
  for _ = 1, 4 do
    res.id = state.new_id()
    local net_locks = {}
    if type(spec.net) == "table" or spec.net == "pasta" then
      -- a refused plan (overlap, rootless) is a set-up failure
      local okp, plan, locks = pcall(net.plan, spec.net, res.id,
        { rootless = not res.privileged, reserve = true })
      if not okp then return nil, (tostring(plan):gsub("^[^\n]-:%d+: ", "", 1)), errno.EINVAL, res.id end
      res.net, net_locks = plan, locks
      -- as root, pasta opens the sandbox's netns through its user namespace
      if plan.mode == "pasta" and res.privileged and validate.host_user(spec.user) then
        return nil, 'net = "pasta" needs a user namespace (not user = "host")', errno.EINVAL, res.id
      end
    end
    -- the groups cgroup.new will make (same layout), named in the record
    -- before they exist: a sweep finds them whatever its own cgroup is
    -- A spec's cgroup.path is another matter: such a directory may exist
    -- and be someone else's, so it is named only once our mkdir made it
    -- (below); a crash in between leaks an empty group, never a record
    -- that would kill and remove a foreign one.
    local cg_dirs = {}
    if needs_cg and cg_opts.path then
      local layout, lerr, lcode = cgroup.detect()
      if not layout then
        for _, l in ipairs(net_locks) do l:close() end
        return nil, lerr, lcode, res.id
      end
      cg_opts.layout = layout
    elseif needs_cg then
      local dirs, layout, lcode = cgroup.plan_dirs(res.id, res.cgroup_limits, cg_opts)
      if not dirs then
        for _, l in ipairs(net_locks) do l:close() end
        return nil, layout, lcode, res.id
      end
      cg_dirs, cg_opts.layout = dirs, layout
    end
    local dir, lock
    dir, lock, code = state.create(root, res.id, {
      name = spec.name or "", argv = spec.argv[1],
      cgroup = needs_cg and not cg_opts.path and res.id or "", cgroup_dirs = cg_dirs,
      net = res.net and res.net.mode or (type(spec.net) == "string" and spec.net or "none"),
      links = res.net and res.net.host_if or "", bridge = res.net and res.net.bridge or nil,
      nft = res.net and res.net.nft or nil,
    })
    if dir then
      res.state_dir = dir
      -- last: a group or table that could not be removed keeps its
      -- record, so a later sweep (once the lock is free) removes it
      res:defer(function()
        if not (res.cg and #res.cg.created > 0) and not (res.net and res.net.nft_kept) then
          state.remove(dir)
        end
        lock:close()
      end)
      res.rt.keep[#res.rt.keep + 1] = lock
      -- the default /30's lock: held (and by the init) until the links are gone
      for _, l in ipairs(net_locks) do
        res.rt.keep[#res.rt.keep + 1] = l
        res:defer(function() l:close() end)
      end
      break
    end
    for _, l in ipairs(net_locks) do l:close() end
    err = lock
    -- a read-only state directory (nslua inside a sandbox whose / is a
    -- read-only bind, as `bwrap --ro-bind / / nslua ...`): a run that
    -- makes no host object (no cgroup, no links) needs no record to be
    -- cleaned up after, and goes on without one (nslua ps does not list it)
    if code == errno.EROFS and not needs_cg and not res.net then
      res.stateless = true
      break
    end
    if code ~= errno.EEXIST then return nil, err, code, res.id end
  end
  if not res.state_dir and not res.stateless then return nil, err, code, res.id end

  if needs_slot(spec, res) then
    local slot, base, lockfd = ids.acquire()
    if not slot then
      res:release()
      return nil, base, lockfd, res.id
    end
    res.slot, res.host_uid, res.host_gid = slot, base, base
    res.rt.keep[#res.rt.keep + 1] = lockfd
    res:defer(function() lockfd:close() end)
  end
  if needs_cg then
    local cg, cerr, ccode = cgroup.new(res.id, res.cgroup_limits, cg_opts)
    if not cg then
      res:release()
      return nil, cerr, ccode, res.id
    end
    res.cg = cg
    res:defer(function() cg:remove() end)
    -- the command joins its groups several ms from now: start that wait
    -- now, once they are made (a kick holds the cgroup mutex, which mkdir
    -- needs, while it waits; so does a read of /proc/self/cgroup on older
    -- kernels, hence the layout kept for the plan's cgroup mounts)
    res.cgroup_layout = res.cgroup_layout or cg_opts.layout
    cgroup.kick()
    -- a cgroup path's groups (ours now: mkdir made them, EEXIST fails
    -- cgroup.new) and the parents it made, which a sweep removes when empty
    if cg_opts.path and res.state_dir then
      local uok, uerr, ucode = state.update(res.state_dir, { cgroup = res.id, cgroup_dirs = cg:dirs(),
        cgroup_leaf = cgroup.leaf_of(res.id, cg_opts.path), cgroup_parents = cg.parents })
      if not uok then
        res:release()
        return nil, uerr, ucode, res.id
      end
    end
  end
  ok, err, code = finish(spec, res)
  if not ok then
    res:release()
    return nil, err, code, res.id
  end
  return res
end

-- ------------------------------------------------------------ pool lease

local Lease = setmetatable({}, { __index = Res })
Lease.__index = Lease

-- The child is born in the pool's network namespace: we go there for the
-- clone and back at once, whatever the clone does.
function Lease:around_clone(f, ...)
  local pool = self.pool_obj
  local ok, nerr, ncode = ns.setns(pool.netns, "net")
  if not ok then return nil, "pool network namespace: " .. nerr, ncode end
  pool._netns_fresh = false   -- checked before the next run (Pool:_check_netns)
  local r = table.pack(pcall(f, ...))
  -- this cannot fail (we left it a moment ago), and if it did we must not
  -- go on in the pool's namespace
  local back, berr = ns.setns(pool.host_netns, "net")
  if not back then error("pool: cannot return to the host network namespace: " .. berr, 0) end
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

function Lease:attach() return true end

function Lease:stats()
  local s = self.cg:stats()
  return s and self.pool_obj:_after_run(self._cg_base, s)
end

--- A pool lease: the pool's id slot, network namespace and cgroups (checked
-- empty and reset), fresh trees, stdio and seccomp for this run.
function M.lease(pool, spec)
  if M.forbid then return nil, M.forbid, errno.EPERM end
  local res = setmetatable(new_res(spec), Lease)
  local ok, err, code = probe(spec, res)
  if not ok then return nil, err, code end
  res.pool_obj, res.pool = pool, true
  res.id, res.slot = pool.id, pool.slot
  res.host_uid, res.host_gid = pool.host_id, pool.host_id
  res.rt.keep[#res.rt.keep + 1] = pool.lockfd
  -- (a warm pool's keeper wrote at Pool:run's start: no kick needed)
  if pool.cg and not pool.keeper then require("nslua.cgroup").kick() end
  local base, berr, bcode = pool:_before_run()
  if not base then return nil, berr, bcode end
  res.cg, res._cg_base = pool.cg, base
  ok, err, code = finish(spec, res)
  if not ok then
    res:release()
    return nil, err, code
  end
  return res
end

-- ------------------------------------------------------------ dry

--- The inputs of a plan without making anything, for `nslua explain`:
-- the id (opts.id or xxxxxxxx), the slot base (opts.host_uid or the first
-- slot's), every privileged bind as a tree.
function M.dry(spec, opts)
  opts = opts or {}
  local res = new_res(spec)
  local ok, err, code = probe(spec, res)
  if not ok then return nil, err, code end
  res.id = opts.id or "xxxxxxxx"
  res.pool = opts.pool or nil
  if needs_slot(spec, res) then
    local base = opts.host_uid or ids.config().base
    res.host_uid, res.host_gid = base, opts.host_gid or base
  end
  if type(spec.net) == "table" or spec.net == "pasta" then
    local okp, plan = pcall(net.plan, spec.net, res.id, { rootless = not res.privileged })
    if not okp then return nil, (tostring(plan):gsub("^[^\n]-:%d+: ", "", 1)), errno.EINVAL end
    res.net = plan
  end
  if res.privileged and spec.namespaces.mnt and not validate.host_user(spec.user) and not joins_userns(spec) then
    -- (res.setid_guard: a read-write tree would be idmapped, as open_trees sets it)
    for i, m in ipairs(spec.mounts or {}) do
      if launch.BIND_KINDS[m.type] and res.sources[i] then
        res.trees[launch.tree_key(i)] = true
        if not m.ro and idmapped_bind(spec, res, m) then res.setid_guard = true end
      end
    end
    if needs_slot(spec, res) then
      for i, m in ipairs(spec.mounts or {}) do
        if m.type == "overlay" and m.idmap == "auto" then
          for _, k in ipairs(M.overlay_tree_paths(m, launch.tree_key(i))) do
            res.trees[k.key] = true
            if not k.ro then res.setid_guard = true end
          end
        end
      end
    end
    if type(spec.rootfs) == "table" then
      if needs_slot(spec, res) then
        for i in ipairs(spec.rootfs.lower) do res.trees[("rootfs.lower[%d]"):format(i)] = true end
        if spec.rootfs.upper ~= "tmpfs" then
          res.trees["rootfs.upper"] = true
          res.setid_guard = true
        end
      end
    elseif spec.rootfs then
      res.trees.rootfs = true
    end
    if res.setid_guard then
      local okg, gerr, gcode = guard_fits(spec, "mount")
      if not okg then return nil, gerr, gcode end
    end
  end
  return res
end

return M
