--- nslua.cgroup: find the cgroup hierarchies, make nslua-<id> groups with
-- limits, read their counters, kill their members, remove them, and remove
-- those a dead owner's state record names.  cgroup v1, cgroup v2 and the
-- hybrid of both.
local core = require "nslua.core"
local nslimits = require "nslua.limits"
local ccg = core.cgroup

local M = {}

local KNOWN <const> = {
  blkio = true, cpu = true, cpuacct = true, cpuset = true, devices = true,
  freezer = true, hugetlb = true, memory = true, misc = true, net_cls = true,
  net_prio = true, perf_event = true, pids = true, rdma = true, io = true,
}
M.KNOWN = KNOWN
local CFS_PERIOD <const> = 100000
local REMOVE_WAIT <const> = 1.0
local KILL_WAIT <const> = 1.0
local NAME_PATTERN <const> = "^nslua%-[a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9][a-z0-9]$"

local function read_file(path)
  local f, err, code = io.open(path, "r")
  if not f then return nil, err, code end
  local s = f:read("a")
  f:close()
  return s
end

-- mountinfo escapes space, tab, newline and backslash as \ooo.
local function unescape(s)
  return (s:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))
end
--- A path as /proc/PID/mountinfo shows it (\040 for a space), unescaped.
M.unescape_mountinfo = unescape

local function join(dir, path)
  if path == "/" or path == "" then return dir end
  if dir:sub(-1) == "/" then dir = dir:sub(1, -2) end
  return dir .. path
end

-- A cgroup path as seen through a mount whose root is 'root'; nil when the
-- group is outside what the mount shows.
local function under_root(path, root)
  if root == "/" then return path end
  if path == root then return "/" end
  if path:sub(1, #root + 1) == root .. "/" then return path:sub(#root + 1) end
  return nil
end

local function words(s)
  local t = {}
  for w in (s or ""):gmatch("%S+") do t[w] = true end
  return t
end

local function sorted_keys(set)
  local t = {}
  for k in pairs(set) do t[#t + 1] = k end
  table.sort(t)
  return t
end

--- Find where each controller lives.
-- @tparam[opt] string mountinfo text of /proc/self/mountinfo (read when nil)
-- @tparam[opt] string cgroup text of /proc/self/cgroup (read when nil)
-- @treturn table layout: `controllers[name] = hierarchy`, `hierarchies` (list),
--   `v2` (the cgroup2 hierarchy or nil).  A hierarchy is `{version = 1|2,
--   mount, path, dir, controllers = set}`; path is the caller's own group,
--   dir = mount .. path.  The v2 entry also has `subtree_control` (set) and
--   `readable` (whether its cgroup.controllers could be read).
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
-- The last layout this process detected from its own files, with the texts
-- it came from: a start whose mountinfo, cgroup and cgroup2 controller files
-- read the same gets it without parsing again (~0.3 ms and ~47 KB of
-- garbage a run).
local last = {}

function M.detect(mountinfo, cgroup)
  local err, code
  local own = mountinfo == nil and cgroup == nil
  if mountinfo == nil then
    mountinfo, err, code = read_file("/proc/self/mountinfo")
    if not mountinfo then return nil, "cgroup detect: " .. err, code end
  end
  if cgroup == nil then
    cgroup, err, code = read_file("/proc/self/cgroup")
    if not cgroup then return nil, "cgroup detect: " .. err, code end
  end
  if type(mountinfo) ~= "string" or type(cgroup) ~= "string" then
    error("detect: mountinfo and cgroup must be strings", 2)
  end
  -- a cgroup2 group's controller files are part of the layout too
  local function v2_files(layout)
    local v2 = layout.v2
    if not v2 then return "" end
    return (ccg.read(v2.dir .. "/cgroup.controllers") or "-") .. "|"
      .. (ccg.read(v2.dir .. "/cgroup.subtree_control") or "-")
  end
  if own and last.mountinfo == mountinfo and last.cgroup == cgroup
     and last.v2 == v2_files(last.layout) then
    return last.layout
  end
  local layout = M._parse(mountinfo, cgroup)
  if own then
    last = { mountinfo = mountinfo, cgroup = cgroup, layout = layout, v2 = v2_files(layout) }
  end
  return layout
end

--- Start the grace period the next cgroup join would wait for, now
-- (core cgroup.kick: a short-lived child writes itself into its own group).
-- A join (a write to cgroup.procs) waits ~10 ms for it unless one ran in
-- the last few tens of ms; a sandbox joins its groups in the command's
-- exec tail, several ms after its start, so a kick at the start takes most
-- of that wait off the critical path (docs/bench.md).  The kick holds the
-- cgroup mutex while it waits: kick after making groups (mkdir, rmdir and
-- subtree_control writes wait for it), never before.  Nothing is done
-- when a kick or a join (M.joined) happened less than M.KICK_GAP seconds
-- ago, or when our own group's cgroup.procs is not writable.
-- @treturn boolean whether a kick was started
M.KICK_GAP = 0.015
local last_kick = -math.huge
function M.kick()
  local now = core.proc.now()
  if now - last_kick < M.KICK_GAP then return false end
  local layout = M.detect()
  local h = layout and layout.hierarchies[1]
  if not h then return false end
  last_kick = now
  return ccg.kick(h.dir .. "/cgroup.procs") ~= nil
end

--- Keep every cgroup join on the machine cheap while a pool is in use
-- (core cgroup.keeper: a child that writes itself into its own group every
-- M.KEEP_PERIOD seconds while keeper:busy(true), and for `idle` seconds
-- after keeper:busy(false)).  A join then never waits for the grace period
-- above; the cost, forks and exits machine-wide taking the kernel's slower
-- path meanwhile, is favordynmods' (docs/bench.md).
-- @treturn[1] userdata the keeper (busy, pid, close)
-- @return[2] nil when no group of ours can be written, or the error
M.KEEP_PERIOD = 0.005
function M.keeper(idle)
  local layout = M.detect()
  local h = layout and layout.hierarchies[1]
  if not h then return nil, "no cgroup hierarchy" end
  return ccg.keeper(h.dir .. "/cgroup.procs", M.KEEP_PERIOD, idle)
end

--- A join happened at `t` (proc.now()'s clock): the next kick waits its gap.
function M.joined(t)
  if t and t > last_kick then last_kick = t end
end

function M._parse(mountinfo, cgroup)

  -- Every mount, then which of them are hidden: a mount with a child on
  -- the same mount point is covered by that child (e.g. a tmpfs mounted
  -- over /sys/fs/cgroup/pids), and a covered mount hides every mount on it
  -- but the one covering it.  A hidden cgroup mount is no hierarchy: its
  -- controller is unavailable.
  local entries, by_id, covered = {}, {}, {}
  for line in mountinfo:gmatch("[^\n]+") do
    local pre, post = line:match("^(.-) %- (.*)$")
    if pre then
      local f = {}
      for w in pre:gmatch("%S+") do f[#f + 1] = w end
      local e = { id = f[1], parent = f[2], f = f, post = post, mnt = f[5] and unescape(f[5]) }
      entries[#entries + 1] = e
      if e.id then by_id[e.id] = e end
    end
  end
  for _, e in ipairs(entries) do
    local p = by_id[e.parent]
    if p and p ~= e and p.mnt == e.mnt then covered[p] = e end
  end
  local function hidden(e)
    if covered[e] then return true end
    local seen = { [e] = true }
    local p = by_id[e.parent]
    while p and not seen[p] do
      if covered[p] and covered[p] ~= e then return true end
      seen[p] = true
      e, p = p, by_id[p.parent]
    end
    return false
  end

  -- cgroup mounts: v1 by their controller set, v2 by type.
  local v1_mounts, v2_mounts = {}, {}
  for _, e in ipairs(entries) do
    if not hidden(e) then
      local f = e.f
      local fstype, _, super = e.post:match("^(%S+) (%S+) (%S+)")
      local root, mnt = f[4] and unescape(f[4]), e.mnt
      if fstype == "cgroup2" and root then
        v2_mounts[#v2_mounts + 1] = { root = root, mount = mnt }
      elseif fstype == "cgroup" and root then
        local set = {}
        for opt in super:gmatch("[^,]+") do
          if KNOWN[opt] then set[opt] = true end
        end
        local key = table.concat(sorted_keys(set), ",")
        if key ~= "" then
          v1_mounts[key] = v1_mounts[key] or {}
          table.insert(v1_mounts[key], { root = root, mount = mnt })
        end
      end
    end
  end

  local layout = { controllers = {}, hierarchies = {} }
  local function pick(mounts, path)
    for _, m in ipairs(mounts or {}) do
      local rel = under_root(path, m.root)
      if rel then return m.mount, rel end
    end
  end

  for line in cgroup:gmatch("[^\n]+") do
    local hid, list, path = line:match("^(%d+):([^:]*):(.*)$")
    if hid == "0" and list == "" then
      local mount, rel = pick(v2_mounts, path)
      if mount then
        local h = { version = 2, mount = mount, path = rel, dir = join(mount, rel) }
        local avail = ccg.read(h.dir .. "/cgroup.controllers")
        h.readable = avail ~= nil
        h.controllers = words(avail)
        h.subtree_control = words(ccg.read(h.dir .. "/cgroup.subtree_control"))
        layout.v2 = h
        layout.hierarchies[#layout.hierarchies + 1] = h
      end
    elseif hid then
      local set = {}
      for c in list:gmatch("[^,]+") do
        if KNOWN[c] then set[c] = true end
      end
      local key = table.concat(sorted_keys(set), ",")
      local mount, rel = pick(v1_mounts[key], path)
      if key ~= "" and mount then
        local h = { version = 1, mount = mount, path = rel, dir = join(mount, rel),
                    controllers = set }
        layout.hierarchies[#layout.hierarchies + 1] = h
        for c in pairs(set) do layout.controllers[c] = h end
      end
    end
  end
  -- A controller bound to a v1 hierarchy is never offered by cgroup2.
  if layout.v2 then
    for c in pairs(layout.v2.controllers) do
      if not layout.controllers[c] then layout.controllers[c] = layout.v2 end
    end
  end
  return layout
end

local function can_write(path)
  local fd = ccg.open(path, "w")
  if not fd then return false end
  fd:close()
  return true
end

--- Is the caller's cgroup v2 group delegated to it (rootless limits)?
-- @tparam table layout from detect()
-- @tparam[opt] {string,...} needed controllers (default memory, pids, cpu)
-- @treturn boolean
-- @treturn string reason when false
function M.v2_delegated(layout, needed)
  if type(layout) ~= "table" then error("v2_delegated: layout must be a table", 2) end
  needed = needed or { "memory", "pids", "cpu" }
  local v2 = layout.v2
  if not v2 then
    return false, "no cgroup2 hierarchy is mounted"
  end
  for _, f in ipairs { "cgroup.procs", "cgroup.subtree_control" } do
    if not can_write(v2.dir .. "/" .. f) then
      return false, ("cgroup v2 group '%s' is not delegated to uid %s (%s is not writable)")
        :format(v2.dir, M._uid(), f)
    end
  end
  for _, c in ipairs(needed) do
    if not (v2.controllers[c] or v2.subtree_control[c]) then
      return false, ("controller '%s' is not available in the delegated cgroup '%s'")
        :format(c, v2.dir)
    end
  end
  return true
end

function M._uid()
  local s = read_file("/proc/self/status") or ""
  return s:match("\nUid:%s+(%d+)") or "?"
end

local Cgroup = {}
Cgroup.__index = Cgroup

local function check_id(id)
  if type(id) ~= "string" or not id:match("^[a-z0-9]+$") or #id ~= 8 then
    error(("cgroup: bad id %q (8 characters of [a-z0-9])"):format(tostring(id)), 3)
  end
end

-- The limits a cgroup enforces (nslua.limits: those with a controller).
local LIMIT_FIELDS <const> = {}
for _, k in ipairs(nslimits.CGROUP_KEYS) do LIMIT_FIELDS[k] = nslimits.LIMITS[k] end

local function check_limits(limits)
  if type(limits) ~= "table" then error("cgroup.new: limits must be a table", 3) end
  for k, v in pairs(limits) do
    local d = LIMIT_FIELDS[k]
    if not d then
      error(("cgroup.new: unknown limit '%s'"):format(tostring(k)), 3)
    end
    local ok, msg = nslimits.parse(k, v, "limits." .. k)
    if ok == nil then error("cgroup.new: " .. msg, 3) end
    -- written as they are: sizes in bytes (as validate.lua gives them), counts
    if (d.kind == "size" or d.kind == "count") and math.type(v) ~= "integer" then
      error(("cgroup.new: limits.%s: must be an integer%s"):format(k,
        d.kind == "size" and " number of bytes" or ""), 3)
    end
  end
end

--- Where a group of hierarchy h goes: nslua-<id> under the caller's own
-- group, or opts.path (an OCI config's cgroupsPath) -- absolute: from the
-- hierarchy's mount point (runc's reading), relative: under the caller's
-- group.  The path is checked by validate (no "..", no empty components).
local function group_dir(h, name, path)
  if not path then return join(h.dir, "/" .. name) end
  if path:sub(1, 1) == "/" then return join(h.mount, path) end
  return join(h.dir, "/" .. path)
end
M.group_dir = group_dir

--- The leaf name of a group: nslua-<id>, or the last component of opts.path.
local function leaf_of(id, path)
  return path and path:match("([^/]+)/*$") or "nslua-" .. id
end
M.leaf_of = leaf_of

-- The failure triple with "cgroup " before the core message.
local function fail(msg, code)
  return nil, "cgroup " .. msg, code
end

-- Which group each hierarchy gets: a list of {h, controllers (set),
-- required} in a fixed order, or nil, msg, errno when a limit cannot be
-- served.  Pure given the layout: cgroup.new makes exactly these groups, and
-- plan_dirs names them before they exist.
local function group_plan(layout, limits, opts)
  -- Controllers each limit needs; accounting ones are best effort.
  local want, wanted_by = {}, {}
  for _, k in ipairs(nslimits.CGROUP_KEYS) do
    local d = LIMIT_FIELDS[k]
    if limits[k] then
      want[d.controller] = "required"
      wanted_by[d.controller] = wanted_by[d.controller] or k
    end
  end
  local function unavailable(c)
    return nil, ("cgroup: controller '%s' is not available (limits.%s needs it)"):format(c, wanted_by[c]),
      core.errno.ENODEV
  end

  local v2 = layout.v2
  if opts.rootless then
    -- v1 hierarchies are never delegated: rootless uses cgroup2 only
    local ok, why = M.v2_delegated(layout, sorted_keys(want))
    if not ok then
      return nil, "cgroup: rootless cgroups need a delegated cgroup v2 subtree: " .. why,
        core.errno.EPERM
    end
  end

  -- Which hierarchy serves each wanted controller.
  for c in pairs(want) do
    local h = layout.controllers[c]
    if not h then return unavailable(c) end
    if h.version == 2 and v2.readable and not v2.controllers[c] then return unavailable(c) end
  end
  if limits.swap and layout.controllers.memory.version == 1 then
    local h = layout.controllers.memory
    if not ccg.read(h.dir .. "/memory.memsw.limit_in_bytes") then
      return nil, "cgroup: a swap limit needs memory.memsw (boot with swapaccount=1)",
        core.errno.ENOTSUP
    end
  end
  -- opts.controllers: more groups to be in (an OCI container's cpu,
  -- cpuset, devices...: the front end writes their files), when present
  for _, c in ipairs(opts.controllers or {}) do
    local h = layout.controllers[c]
    if h and not want[c] and (h.version == 1 and not opts.rootless or h.version == 2 and v2.controllers[c]) then
      want[c] = "optional"
    end
  end
  if not opts.rootless then
    for _, c in ipairs { "memory", "pids", "cpuacct" } do
      local h = layout.controllers[c]
      if h and h.version == 1 and not want[c] then want[c] = "optional" end
    end
    local fz = layout.controllers.freezer
    if fz and fz.version == 1 and opts.freezer ~= false then want.freezer = "optional" end
  end
  -- v2 accounting controllers only when already enabled: enabling one in a
  -- group that has members fails (no internal processes).
  if v2 then
    for _, c in ipairs { "memory", "pids" } do
      if layout.controllers[c] == v2 and v2.subtree_control[c] and not want[c] then
        want[c] = "optional"
      end
    end
  end

  -- One group per hierarchy, in a fixed order.
  local plan, seen = {}, {}
  for _, c in ipairs(sorted_keys(want)) do
    local h = layout.controllers[c]
    if not seen[h] then
      seen[h] = { h = h, controllers = {}, required = false }
      plan[#plan + 1] = seen[h]
    end
    seen[h].controllers[c] = true
    if want[c] == "required" then seen[h].required = true end
  end
  if v2 and not seen[v2] and (opts.unified ~= false or opts.rootless) then
    seen[v2] = { h = v2, controllers = {}, required = opts.rootless or false }
    plan[#plan + 1] = seen[v2]
  end
  return plan
end

-- The group plan and the layout it is for (new and plan_dirs share it;
-- they check their arguments first): plan, layout | nil, msg, errno.
local function planned(limits, opts)
  local layout, err, code = opts.layout, nil, nil
  if not layout then layout, err, code = M.detect() end
  if not layout then return nil, err, code end
  local plan
  plan, err, code = group_plan(layout, limits, opts)
  if not plan then return nil, err, code end
  return plan, layout
end

--- Create nslua-<id> under the caller's own group in each hierarchy used.
-- Groups: memory, pids and cpuacct (accounting) and freezer whenever their
-- v1 hierarchy is writable, cpu for `cpus`, cpuset for `cpuset`; on cgroup2
-- one group with the controllers the limits need (and a controller-less
-- group on a hybrid host, for cgroup.kill, freeze and CLONE_INTO_CGROUP).
-- `memory` bounds memory plus swap unless `swap` adds to it.
-- @tparam string id 8 characters of [a-z0-9]
-- @tparam table limits `{memory = bytes, swap = bytes, pids = n, cpus = float,
--   cpuset = "0-1"}` (all optional)
-- @tparam[opt] table opts `{rootless = bool, layout = detect(), unified = bool
--   (default true: use cgroup2 too on a hybrid host), freezer = bool (default true)}`
-- @treturn[1] table cg
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.new(id, limits, opts)
  check_id(id)
  limits, opts = limits or {}, opts or {}
  check_limits(limits)
  local plan, err, code = planned(limits, opts)
  if not plan then return nil, err, code end
  local cg = setmetatable({ id = id, name = leaf_of(id, opts.path), path = opts.path, groups = {}, by = {},
                            created = {}, parents = {}, limits = limits }, Cgroup)
  for _, p in ipairs(plan) do
    local ok, merr, mcode = cg:_make(p)
    if not ok and (p.required or mcode ~= core.errno.EACCES and mcode ~= core.errno.EPERM
                   and mcode ~= core.errno.EROFS) then
      cg:remove()
      return nil, merr, mcode
    end
  end
  return cg
end

--- The directories cgroup.new(id, limits, opts) would make, without making
-- anything: what a state record names before the groups exist (DESIGN
-- "State"), so a sweep finds them whichever cgroup its own process is in.
-- Pass the same opts.layout to cgroup.new.
-- @treturn[1] {string,...} dirs
-- @treturn[1] table the layout used
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.plan_dirs(id, limits, opts)
  check_id(id)
  limits = limits or {}
  check_limits(limits)
  local plan, layout, code = planned(limits, opts or {})
  if not plan then return nil, layout, code end
  local dirs = {}
  for i, p in ipairs(plan) do dirs[i] = group_dir(p.h, "nslua-" .. id, opts and opts.path) end
  return dirs, layout
end

-- Enable the controllers in the parent's subtree_control (v2).
local function enable_v2(h, controllers)
  local missing = {}
  for c in pairs(controllers) do
    if not h.subtree_control[c] then missing[#missing + 1] = "+" .. c end
  end
  if #missing == 0 then return true end
  table.sort(missing)
  local ok, err, code = ccg.write(h.dir .. "/cgroup.subtree_control", table.concat(missing, " "))
  if not ok and code == core.errno.EBUSY then
    err = err .. " (cgroup v2 enables controllers only for groups without"
      .. " processes: nslua's own group must be a root or already enable "
      .. table.concat(sorted_keys(controllers), " ") .. ")"
  end
  if not ok then return fail(err, code) end
  for c in pairs(controllers) do h.subtree_control[c] = true end
  return true
end

function Cgroup:_write(g, file, value)
  local ok, err, code = ccg.write(g.dir .. "/" .. file, tostring(value))
  if not ok then return fail(err, code) end
  return true
end

-- Make one group and write its limits; on failure the caller removes.
function Cgroup:_make(p)
  local h, lim = p.h, self.limits
  if h.version == 2 then
    local ok, err, code = enable_v2(h, p.controllers)
    if not ok then return nil, err, code end
  end
  local g = { version = h.version, dir = group_dir(h, self.name, self.path),
              controllers = p.controllers, hierarchy = h }
  -- opts.path: its missing parents first (kept in self.parents, removed
  -- with the group when empty)
  if self.path then
    local base = self.path:sub(1, 1) == "/" and h.mount or h.dir
    local at = base
    local comps = {}
    for c in self.path:gmatch("[^/]+") do comps[#comps + 1] = c end
    for i = 1, #comps - 1 do
      local parent = at
      at = join(at, "/" .. comps[i])
      if ccg.mkdir(at, 0755) then table.insert(self.parents, 1, at) end
      -- a v1 cpuset group starts empty: each parent gets its parent's
      -- cpus and mems, or no child of it could be given any
      if h.version == 1 and p.controllers.cpuset then
        for _, f in ipairs { "cpuset.cpus", "cpuset.mems" } do
          local cur = (ccg.read(at .. "/" .. f) or ""):match("^%s*(.-)%s*$")
          local v = (ccg.read(parent .. "/" .. f) or ""):match("^%s*(.-)%s*$")
          if cur == "" and v ~= "" then ccg.write(at .. "/" .. f, v) end
        end
      end
    end
  end
  local ok, err, code = ccg.mkdir(g.dir, 0755)
  if not ok then return fail(err, code) end
  self.created[#self.created + 1] = g.dir
  self.groups[#self.groups + 1] = g
  if h.version == 2 then self.v2 = g end
  for c in pairs(p.controllers) do self.by[c] = g end

  local function w(file, value)
    local okw, e, n = self:_write(g, file, value)
    if not okw then error({ e, n }, 0) end
  end
  local okall, e = pcall(function()
    local c = p.controllers
    if h.version == 1 then
      if c.cpuset then
        -- a v1 cpuset child starts empty: copy the parent's before use
        for _, f in ipairs { "cpuset.cpus", "cpuset.mems" } do
          local v = ccg.read(h.dir .. "/" .. f)
          w(f, (v or ""):match("^%s*(.-)%s*$"))
        end
        if lim.cpuset then w("cpuset.cpus", lim.cpuset) end
      end
      if c.memory and lim.memory then
        w("memory.limit_in_bytes", lim.memory)
        if ccg.read(g.dir .. "/memory.memsw.limit_in_bytes") then
          w("memory.memsw.limit_in_bytes", lim.memory + (lim.swap or 0))
        end
      end
      if c.pids and lim.pids then w("pids.max", lim.pids) end
      if c.cpu and lim.cpus then
        w("cpu.cfs_period_us", CFS_PERIOD)
        w("cpu.cfs_quota_us", math.max(1000, math.floor(lim.cpus * CFS_PERIOD + 0.5)))
      end
    else
      if c.memory and lim.memory then
        w("memory.max", lim.memory)
        if ccg.read(g.dir .. "/memory.swap.max") then
          w("memory.swap.max", lim.swap or 0)
        end
      end
      if c.pids and lim.pids then w("pids.max", lim.pids) end
      if c.cpu and lim.cpus then
        w("cpu.max", ("%d %d"):format(math.max(1000, math.floor(lim.cpus * CFS_PERIOD + 0.5)),
          CFS_PERIOD))
      end
      if c.cpuset and lim.cpuset then w("cpuset.cpus", lim.cpuset) end
    end
  end)
  if not okall then
    if type(e) == "table" then return nil, e[1], e[2] end
    error(e, 0)
  end
  return true
end

--- The directories of the groups, one per hierarchy used.
-- @treturn {string,...}
function Cgroup:dirs()
  local t = {}
  for i, g in ipairs(self.groups) do t[i] = g.dir end
  return t
end

--- Open each group's cgroup.procs for writing, for the exec tail.
-- @treturn[1] {nslua.fd,...}
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:procs_fds()
  local fds = {}
  for _, g in ipairs(self.groups) do
    local fd, err, code = ccg.open(g.dir .. "/cgroup.procs", "w")
    if not fd then
      for _, f in ipairs(fds) do f:close() end
      return fail(err, code)
    end
    fds[#fds + 1] = fd
  end
  return fds
end

--- The cgroup v2 directory as an fd for clone3's CLONE_INTO_CGROUP.
-- @treturn[1] nslua.fd|nil nil when there is no v2 group
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:dir_fd()
  if not self.v2 then return nil end
  local fd, err, code = ccg.open(self.v2.dir, "dir")
  if not fd then return fail(err, code) end
  return fd
end

local function field(text, key)
  if not text then return nil end
  local v = ("\n" .. text):match("\n" .. key .. " (%d+)")
  return v and tonumber(v)
end

local function number(path)
  local s = ccg.read(path)
  return s and tonumber(s:match("^%s*(%d+)"))
end

--- CPU time used by the members, in seconds: v1 cpuacct.usage, else v2
-- cpu.stat usage_usec.
-- @treturn number|nil seconds (nil without an accounting group)
function Cgroup:cpu_usage()
  local g = self.by.cpuacct
  if g and g.version == 1 then
    local ns = number(g.dir .. "/cpuacct.usage")
    return ns and ns / 1e9
  end
  if self.v2 then
    local us = field(ccg.read(self.v2.dir .. "/cpu.stat"), "usage_usec")
    return us and us / 1e6
  end
  return nil
end

--- Counters for the report.
-- @treturn table `{cpu_s, memory_peak_kb, memory_failcnt, oom_kill,
--   pids_max_events}`; a field is nil when this host cannot tell.
function Cgroup:stats()
  local s = { cpu_s = self:cpu_usage() }
  local mem = self.by.memory
  if mem and mem.version == 1 then
    local peak = number(mem.dir .. "/memory.max_usage_in_bytes")
    s.memory_peak_kb = peak and peak // 1024
    -- a charge fails on memsw or on memory, never both: the sum is the hits
    local fc = number(mem.dir .. "/memory.failcnt")
    s.memory_failcnt = fc and fc + (number(mem.dir .. "/memory.memsw.failcnt") or 0)
    s.oom_kill = field(ccg.read(mem.dir .. "/memory.oom_control"), "oom_kill")
  elseif mem then
    local peak = number(mem.dir .. "/memory.peak")
    s.memory_peak_kb = peak and peak // 1024
    local ev = ccg.read(mem.dir .. "/memory.events")
    s.memory_failcnt = field(ev, "max")
    s.oom_kill = field(ev, "oom_kill")
  end
  local pids = self.by.pids
  if pids then
    s.pids_max_events = field(ccg.read(pids.dir .. "/pids.events"), "max")
  end
  return s
end

--- The charge a v1 group may keep between a warm pool's runs (bytes; at
-- most an eighth of its limit): the page cache earlier runs left, e.g.
-- their output files.  Above it, reuse() reclaims it with
-- memory.force_empty, which waits for dirty pages to be written back (on
-- the critical path of the next run); below, the next run's peak is
-- counted from it instead (reuse's base_kb).
M.REUSE_KEEP = 16 << 20

--- Make an emptied group ready for its next member (a warm pool's reuse):
-- the v1 memory peak is reset and the page cache the last run left is
-- reclaimed (v1 memory.force_empty above M.REUSE_KEEP, v2 memory.reclaim).
-- Only on a group with no member: the caller checks procs() first.
-- @treturn[1] table `{peak_reset = bool, base_kb = n}`: whether
--   memory_peak_kb now covers only what comes next (v2's memory.peak
--   cannot be reset here), and the charge it starts from (v1: KiB the
--   group kept, which the run's peak is counted above)
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:reuse()
  local mem = self.by.memory
  if not mem then return { peak_reset = true } end
  if mem.version == 1 then
    local usage = number(mem.dir .. "/memory.usage_in_bytes")
    local limit = number(mem.dir .. "/memory.limit_in_bytes")
    local keep = math.min(M.REUSE_KEEP, limit and limit // 8 or M.REUSE_KEEP)
    if not usage or usage > keep then
      -- best effort, as memory.reclaim below: what is left is reclaimable
      -- cache, charged to the group but never the cause of an OOM kill
      self:_write(mem, "memory.force_empty", 0)
      usage = number(mem.dir .. "/memory.usage_in_bytes")
    end
    local ok, err, code = self:_write(mem, "memory.max_usage_in_bytes", 0)
    if not ok then return nil, err, code end
    return { peak_reset = true, base_kb = (usage or 0) // 1024 }
  end
  -- best effort: ENOENT before kernel 5.19, EAGAIN when less than asked
  -- could be reclaimed (the usual case)
  ccg.write(mem.dir .. "/memory.reclaim", tostring(1 << 40))
  return { peak_reset = false }
end

local function read_pids(dir, into, seen)
  local text = read_file(dir .. "/cgroup.procs")
  for p in (text or ""):gmatch("%d+") do
    local pid = tonumber(p)
    if not seen[pid] then
      seen[pid] = true
      into[#into + 1] = pid
    end
  end
end

--- Pids of the members of any of the groups, sorted.
-- @treturn {integer,...}
function Cgroup:procs()
  local t, seen = {}, {}
  for _, g in ipairs(self.groups) do read_pids(g.dir, t, seen) end
  table.sort(t)
  return t
end

-- Kill every member of the group directories 'dirs' (v2 cgroup.kill, else the
-- v1 freezer, else kill loops), then wait until each lists none.
local function kill_dirs(dirs, v2dir, freezer)
  local first_err, first_code
  local function note(ok, err, code)
    if not ok and not first_err then first_err, first_code = "cgroup " .. err, code end
    return ok
  end
  -- cgroup.kill (Linux 5.14) is write-only: try it, fall back on ENOENT
  local ok, err, code = false
  if v2dir then
    ok, err, code = ccg.write(v2dir .. "/cgroup.kill", "1")
    if not ok and code ~= core.errno.ENOENT then note(ok, err, code) end
  end
  if not ok and freezer then
    -- frozen members cannot fork; SIGKILL takes them when thawed
    if note(ccg.write(freezer .. "/freezer.state", "FROZEN")) then
      note(ccg.wait(freezer .. "/freezer.state", "FROZEN", KILL_WAIT))
      note(ccg.kill_procs(freezer, 0))
      note(ccg.write(freezer .. "/freezer.state", "THAWED"))
    end
  end
  for _, dir in ipairs(dirs) do
    note(ccg.kill_procs(dir, KILL_WAIT))
  end
  if first_err then return nil, first_err, first_code end
  return true
end

--- Kill every member (SIGKILL) and wait until the groups are empty.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:kill()
  local dirs, freezer = {}, nil
  for _, g in ipairs(self.groups) do
    if ccg.read(g.dir .. "/cgroup.procs") then dirs[#dirs + 1] = g.dir end
  end
  local fz = self.by.freezer
  if fz and ccg.read(fz.dir .. "/freezer.state") then freezer = fz.dir end
  local v2dir = self.v2 and ccg.read(self.v2.dir .. "/cgroup.procs") and self.v2.dir
  return kill_dirs(dirs, v2dir, freezer)
end

--- Freeze the members (v2 cgroup.freeze, else the v1 freezer).
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:freeze()
  return self:_freeze(true)
end

--- Thaw the members.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Cgroup:thaw()
  return self:_freeze(false)
end

function Cgroup:_freeze(on)
  local ok, err, code
  if self.v2 and ccg.read(self.v2.dir .. "/cgroup.freeze") then
    ok, err, code = ccg.write(self.v2.dir .. "/cgroup.freeze", on and "1" or "0")
    if ok then
      ok, err, code = ccg.wait(self.v2.dir .. "/cgroup.events", on and "frozen 1" or "frozen 0",
        KILL_WAIT)
    end
  elseif self.by.freezer then
    local dir = self.by.freezer.dir
    local state = on and "FROZEN" or "THAWED"
    ok, err, code = ccg.write(dir .. "/freezer.state", state)
    if ok then ok, err, code = ccg.wait(dir .. "/freezer.state", state, KILL_WAIT) end
  else
    return nil, "cgroup freeze: no freezer (neither cgroup.freeze nor a v1 freezer)",
      core.errno.ENOTSUP
  end
  if not ok then return fail(err, code) end
  return true
end

--- Remove every directory this group made, retrying EBUSY for about 1 s.
-- Call after the members are gone (the init reaped).  Idempotent.
-- @treturn[1] true
-- @return[2] nil
-- @treturn[2] string message (the first failure; the rest are still tried)
-- @treturn[2] integer errno
function Cgroup:remove()
  local first_err, first_code
  local left = {}
  local wait = REMOVE_WAIT
  for i = #self.created, 1, -1 do
    local dir = self.created[i]
    local ok, err, code = ccg.rmdir(dir, wait)
    -- one group still busy after the wait: the others hold the same members
    if code == core.errno.EBUSY then wait = 0.01 end
    if not ok and code ~= core.errno.ENOENT then
      if not first_err then first_err, first_code = err, code end
      table.insert(left, 1, dir)
    end
  end
  self.created = left
  if first_err then return fail(first_err, first_code) end
  -- the parents opts.path made, deepest first, when nothing else uses them
  for _, dir in ipairs(self.parents) do ccg.rmdir(dir, 0) end
  self.parents = {}
  return true
end

--- Kill the members of a dead owner's groups and remove them, by the
-- directories its state record names (cgroup_dirs): its own cgroup, and so
-- the parent of its groups, may differ from ours.  Only a directory named
-- nslua-<id> on a cgroup hierarchy of 'layout' is touched; a missing one is
-- fine.
-- @tparam string id 8 characters of [a-z0-9]
-- @tparam[opt] {string,...} dirs nil: nslua-<id> under our own group in
--   every hierarchy (a record that names no cgroup_dirs)
-- @tparam[opt] table layout from detect()
-- @treturn {string,...} the directories removed
-- @treturn {string,...} the directories still there
-- @treturn {string,...} error messages
function M.remove_dirs(id, dirs, layout, leaf)
  check_id(id)
  if dirs ~= nil and type(dirs) ~= "table" then error("remove_dirs: dirs must be a table", 2) end
  layout = layout or M.detect()
  local removed, left, errors = {}, {}, {}
  if not layout then return removed, left, errors end
  -- leaf: the recorded name of a group placed by opts.path (else nslua-<id>)
  local tail = "/" .. (leaf or "nslua-" .. id)
  if not dirs then
    dirs = {}
    for i, h in ipairs(layout.hierarchies) do dirs[i] = join(h.dir, tail) end
  end
  local present, v2dir, freezer = {}, nil, nil
  for _, dir in ipairs(dirs) do
    local h
    if type(dir) == "string" and dir:sub(-#tail) == tail and not (dir .. "/"):find("/%.%.?/") then
      for _, x in ipairs(layout.hierarchies) do
        local m = x.mount:sub(-1) == "/" and x.mount or x.mount .. "/"
        if dir:sub(1, #m) == m then h = x break end
      end
    end
    if h and ccg.read(dir .. "/cgroup.procs") then
      present[#present + 1] = dir
      if h.version == 2 then v2dir = dir end
      if h.version == 1 and h.controllers.freezer then freezer = dir end
    end
  end
  if #present == 0 then return removed, left, errors end
  local ok, err = kill_dirs(present, v2dir, freezer)
  if not ok then errors[#errors + 1] = err end
  for _, dir in ipairs(present) do
    local okr, errr, code = ccg.rmdir(dir, REMOVE_WAIT)
    if okr or code == core.errno.ENOENT then
      removed[#removed + 1] = dir
    else
      left[#left + 1] = dir
      errors[#errors + 1] = "cgroup " .. errr
    end
  end
  return removed, left, errors
end

M.NAME_PATTERN = NAME_PATTERN

return M
