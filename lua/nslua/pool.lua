--- nslua.pool: a warm pool for many short sandboxes of one policy.
-- nslua.pool(spec) -> Pool; pool:run{argv = ..., ...} -> report; pool:close().
--
-- What is made once and kept between runs:
--   * a network namespace with lo up, owned by a user namespace of its own
--     that maps no id at all, so no payload ever holds a capability over it
--     (runs join it through setns around clone instead of making and tearing
--     down a network namespace each time);
--   * cgroups (with the spec's memory, pids, cpus limits), reused: their
--     counters are read as deltas, the v1 memory peak is reset, the page
--     cache runs left is reclaimed once it is above cgroup.REUSE_KEEP (and
--     a run's peak counted above what is kept), and `cgroup.procs` must be
--     empty before the next run starts;
--   * one id slot (the payload's host ids), held by the pool;
--   * unless opts.warm is false or 0, a keeper (cgroup.keeper) that keeps
--     the runs' cgroup joins from waiting for an RCU grace period, ~10-20
--     ms each, while a run is under way and for opts.warm seconds (default
--     1) after it ended (docs/api.md, "Warm pools").
-- What every run gets fresh: its pid, mount, UTS, IPC and cgroup namespaces,
-- its user namespace, the root tmpfs and every mount on it.
-- A kept object goes to the next run only once checked (DESIGN "Trust
-- rules"): the cgroups empty, and no socket in the network namespace.
-- Sockets are what can outlive every process of a run there (one whose fd
-- is in flight in an SCM_RIGHTS message, with its abstract unix name; a
-- TCP port in TIME_WAIT); when netlink.sockets finds any, the namespace is
-- replaced by a new one before the run.  IPC objects, processes and files
-- die with the run's own namespaces.
-- Privileged only (root); the pool's spec has `net = "none"`, no kept
-- capabilities and a user namespace.
local core = require "nslua.core"
local validate = require "nslua.validate"
local container = require "nslua.container"
local resources = require "nslua.resources"
local state = require "nslua.state"
local ids = require "nslua.ids"

local ns, proc, netlink = core.ns, core.proc, core.netlink
local errno = core.errno

local M = {}

local Pool = {}
Pool.__index = Pool

-- Fields a run may set; everything else is the pool's.
local RUN_FIELDS = { argv = true, stdio = true, env = true, keep_env = true, cwd = true,
                     name = true, limits = true, hooks = true }
-- Limits that live in the pool's cgroups: fixed for the pool's life.
local CG_LIMITS = {}
for _, k in ipairs(require("nslua.limits").CGROUP_KEYS) do CG_LIMITS[k] = true end

local function copy(t)
  if type(t) ~= "table" then return t end
  local o = {}
  for k, v in pairs(t) do o[k] = copy(v) end
  return o
end

-- The pool's network namespace: a child cloned into a new user and network
-- namespace brings lo up (it holds every capability there from clone; no id
-- is ever mapped into that user namespace), we open both namespaces, and
-- the child exits.
local function prepared_netns()
  local r, w = proc.pipe()
  local r2, w2 = proc.pipe()
  io.stdout:flush()
  local pid, err, code = ns.clone { user = true, net = true }
  if not pid then
    r:close() w:close() r2:close() w2:close()
    return nil, err, code
  end
  if pid == 0 then
    r:close()
    w2:close()
    local ok, lerr = core.setup.net { lo = true }   -- the executor's own step
    proc.write(w, ok and "ok" or ("lo: " .. tostring(lerr)))
    w:close()
    proc.read(r2, 1)   -- until the parent has opened our namespaces
    proc._exit(0)
  end
  w:close()
  r2:close()
  local said = proc.read(r, 256) or ""
  r:close()
  local netns, userns, oerr, ocode
  if said == "ok" then
    netns, oerr, ocode = ns.open(pid, "net")
    if netns then userns, oerr, ocode = ns.open(pid, "user") end
  else
    oerr, ocode = "preparing the network namespace: " .. said, errno.EPERM
  end
  w2:close()
  proc.waitpid(pid)
  if not userns then
    if netns then netns:close() end
    return nil, oerr, ocode
  end
  return netns, userns
end

--- Make a pool for `spec` (a container spec without argv).
-- @tparam[opt] table opts warm: seconds after a run the keeper keeps joins
--   cheap (default 1; false or 0: no keeper)
-- @return[1] Pool
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
M.WARM = 1

function M.new(spec, opts)
  if type(spec) ~= "table" then error("pool: spec must be a table", 2) end
  if opts ~= nil and type(opts) ~= "table" then error("pool: opts must be a table", 2) end
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "warm" then error(("pool: opts.%s: unknown option"):format(tostring(k)), 2) end
  end
  local warm = opts.warm
  if warm == nil then warm = M.WARM elseif warm == false then warm = 0 end
  if math.type(warm) == nil or not (warm >= 0 and warm <= 3600) then
    error("pool: opts.warm: must be false or 0..3600 seconds", 2)
  end
  local probe = copy(spec)
  probe.argv = probe.argv or { "/bin/true" }
  local s, errs = validate.check(probe, { need_argv = true })
  if not s then error(table.concat(errs, "\n"), 2) end
  local why
  if proc.getuid() ~= 0 then
    why = "pool: needs root (its cgroups and network namespace are made once, by the pool)"
  elseif s.user == "host" then
    why = "pool: user = \"host\" is refused: every run needs its own user namespace"
  elseif s.net ~= "none" then
    why = "pool: net must be \"none\" (the pool's network namespace, lo only)"
  elseif s.caps and #s.caps > 0 then
    why = "pool: caps are refused: no payload may hold capabilities"
  elseif s.tty then
    why = "pool: tty is refused"
  elseif not s.namespaces.pid then
    why = "pool: needs a pid namespace (a run's processes must end with it)"
  else
    for i, m in ipairs(s.mounts or {}) do
      if m.type == "sysfs" then
        why = ("pool: mounts[%d]: sysfs needs the run's own network namespace"):format(i)
      end
    end
  end
  if why then return nil, why, errno.EINVAL end

  -- a copy: the caller's table may change, the checks above may not be skipped
  local self = setmetatable({ spec = copy(spec), base = s, warm = warm }, Pool)
  local ok, err, code = self:_open()
  if not ok then
    self:close()
    return nil, err, code
  end
  return self
end

function Pool:_open()
  if resources.forbid then return nil, resources.forbid, errno.EPERM end
  local root, err, code = state.root()
  if not root then return nil, err, code end
  resources.sweep(root)
  -- the record names the pool's cgroups before they exist (DESIGN "State")
  local cgroup = require "nslua.cgroup"
  local limits = require("nslua.limits").cgroup_limits(self.base.limits)
  local dir, lock, dirs, layout
  for _ = 1, 4 do
    self.id = state.new_id()
    dirs, layout, code = cgroup.plan_dirs(self.id, limits)
    if not dirs then return nil, layout, code end
    dir, lock, code = state.create(root, self.id, { name = "pool", argv = "pool", cgroup = self.id,
                                                    cgroup_dirs = dirs })
    if dir or code ~= errno.EEXIST then break end
  end
  if not dir then return nil, lock, code end
  self.state_dir, self.state_lock = dir, lock

  local slot, base, lockfd = ids.acquire()
  if not slot then return nil, base, lockfd end
  self.slot, self.host_id, self.lockfd = slot, base, lockfd

  -- always a group, limits or not: the runs' cpu time (time limits, the
  -- report) is counted container-wide, and cgroup.procs proves each run over
  local cg, cerr, ccode = cgroup.new(self.id, limits, { layout = layout })
  if not cg then return nil, cerr, ccode end
  self.cg = cg
  state.update(dir, { cgroup = self.id, cgroup_dirs = cg:dirs() })
  -- (after the mkdirs: a write holds the cgroup mutex they take; none
  -- means only that joins stay as slow as without it)
  if self.warm > 0 then self.keeper = cgroup.keeper(self.warm) end

  local hostns, herr, hcode = ns.open(proc.getpid(), "net")
  if not hostns then return nil, herr, hcode end
  self.host_netns = hostns
  local netns, userns, nerr = prepared_netns()
  if not netns then return nil, userns, nerr end
  self.netns, self.userns = netns, userns
  self.runs, self.netns_renewed, self._netns_fresh = 0, 0, true
  return true
end

-- Before a run: the network namespace must hold no socket of an earlier
-- run (in any state, in flight or TIME_WAIT included), else a new one
-- replaces it.  A failed check counts as dirty.
function Pool:_check_netns()
  if self._netns_fresh then return true end
  local socks = netlink.sockets(self.netns)
  if socks and #socks == 0 then return true end
  local netns, userns, code = prepared_netns()
  if not netns then
    return nil, "pool: a new network namespace (the last run left sockets): " .. userns, code
  end
  self.netns:close()
  self.userns:close()
  self.netns, self.userns, self._netns_fresh = netns, userns, true
  self.netns_renewed = self.netns_renewed + 1
  return true
end

--- The spec of one run: the pool's, with the run's own fields.
function Pool:_spec(run)
  if type(run) ~= "table" then error("pool:run: expects a table", 3) end
  local spec = copy(self.spec)
  for k, v in pairs(run) do
    if not RUN_FIELDS[k] then
      error(("pool:run: %s: is the pool's (set it in nslua.pool{...})"):format(k), 3)
    end
    if k == "limits" then
      spec.limits = spec.limits or {}
      for lk, lv in pairs(v) do
        if CG_LIMITS[lk] then
          error(("pool:run: limits.%s: is the pool's cgroup limit"):format(lk), 3)
        end
        spec.limits[lk] = lv
      end
    else
      spec[k] = copy(v)
    end
  end
  return spec
end

-- The keeper told a run is under way, and that it ended when the value
-- this returns is closed (a run that raises included); nil without one.
local Busy = { __close = function(b) b.keeper:busy(false) end }
function Pool:_busy()
  if not self.keeper then return nil end
  if not self.keeper:busy(true) then
    -- gone (killed): the pool goes on without it, kicking as it would
    self.keeper:close()
    self.keeper = nil
    return nil
  end
  return setmetatable({ keeper = self.keeper }, Busy)
end

--- Run one sandbox in the pool.
-- @tparam table run argv (required), and optionally stdio, env, keep_env,
--   cwd, name, hooks, limits (time, wall, extra_time, output, rlimits)
-- @treturn[1] table the report (counters cover this run only)
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Pool:run(run)
  if not self.netns then error("pool:run: the pool is closed", 2) end
  local c = container.new(self:_spec(run), { pool = self })
  local _ <close> = self:_busy()
  local rep, err, code = c:run()
  c:close()
  self.runs = self.runs + 1
  return rep, err, code
end

-- Before a run: the network namespace checked (Pool:_check_netns), the
-- groups empty (nothing of an earlier run left), their peak reset and cache
-- reclaimed; returns the counters to subtract.
function Pool:_before_run()
  local ok, nerr, ncode = self:_check_netns()
  if not ok then return nil, nerr, ncode end
  local cg = self.cg
  local left = cg:procs()
  if #left > 0 then
    -- cannot happen when the last init was reaped (its pid namespace takes
    -- every member with it); refuse rather than share a group
    cg:kill()
    left = cg:procs()
    if #left > 0 then
      return nil, ("pool: cgroup nslua-%s still has %d member(s)"):format(self.id, #left), errno.EBUSY
    end
  end
  local r, err, code = cg:reuse()
  if not r then return nil, "pool: " .. err, code end
  local base = cg:stats()
  base.peak_reset, base.base_kb = r.peak_reset, r.base_kb
  return base
end

-- After a run: this run's counters (deltas of the kept groups).
function Pool:_after_run(base, now)
  local d = {}
  for _, k in ipairs { "cpu_s", "memory_failcnt", "oom_kill", "pids_max_events" } do
    if now[k] then d[k] = now[k] - (base[k] or 0) end
  end
  -- (above the charge the group kept from earlier runs: cgroup.REUSE_KEEP)
  d.memory_peak_kb = base.peak_reset and now.memory_peak_kb
    and math.max(0, now.memory_peak_kb - (base.base_kb or 0)) or nil
  return d
end

--- Release the pool: its cgroups, namespaces, id slot and state record.
-- Idempotent.
function Pool:close()
  local cg_left = false
  if self.keeper then
    self.keeper:close()
    self.keeper = nil
  end
  if self.cg then
    self.cg:kill()
    self.cg:remove()
    -- a group that could not be removed keeps the record for a later sweep
    cg_left = #self.cg.created > 0
    self.cg = nil
  end
  for _, k in ipairs { "netns", "userns", "host_netns", "lockfd" } do
    if self[k] then
      self[k]:close()
      self[k] = nil
    end
  end
  if self.state_dir then
    if not cg_left then state.remove(self.state_dir) end
    self.state_dir = nil
    self.state_lock:close()
  end
  return true
end

Pool.__close = Pool.close
Pool.__gc = Pool.close

M.Pool = Pool
return M
