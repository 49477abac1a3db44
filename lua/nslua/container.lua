--- nslua.container: the lifecycle of one sandbox, composed from core calls.
-- nslua.container(spec) -> Container; :start(), :wait() -> report, :run(),
-- :kill(sig), :pid(), :close().  DESIGN.md "The spawn sequence" is the
-- contract; the init and the exec tail are single C functions (proc.init,
-- proc.exec), everything else is ordered here.
local core = require "nslua.core"
local validate = require "nslua.validate"
local rootfs = require "nslua.rootfs"
local ids = require "nslua.ids"
local state = require "nslua.state"
local report_mod = require "nslua.report"

local ns, mount, proc = core.ns, core.mount, core.proc
local errno = core.errno

local M = {}

local Container = {}
Container.__index = Container

M.PATH = "/usr/local/bin:/usr/bin:/bin"

-- Containers that were started and not yet waited for: a running container
-- must not be collected (its fds, cgroups and state would go with it).
local running = {}

-- A test-only stop: NSLUA_TEST_STOP=<step> makes the child wait forever
-- (until killed) when it reaches that step; used to kill nslua mid-set-up.
local TEST_STOP = os.getenv("NSLUA_TEST_STOP")
local TEST_STOPS = { ids = true, uts = true, net = true, mounts = true, pivot = true, fork = true }

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

--- Does the spec need cgroups?
local function needs_cgroup(l)
  return l.memory or l.swap or l.pids or l.cpus or l.time or l.cpuset
end

--- The environment of the command: PATH, HOME, TERM with a tty, spec.env,
-- and keep_env names copied from the caller's environment.
local function command_env(spec)
  local env = { PATH = M.PATH, HOME = "/" }
  if spec.tty then env.TERM = os.getenv("TERM") or "xterm" end
  for _, name in ipairs(spec.keep_env or {}) do
    env[name] = os.getenv(name)
  end
  for k, v in pairs(spec.env or {}) do env[k] = v end
  return env
end

--- Create a container from a spec (validated now; a bad spec raises).
-- opts.pool: a warm pool (nslua.pool) whose user namespace slot, network
-- namespace and cgroups the container uses instead of making its own.
function M.new(spec, opts)
  local s, errs = validate.check(spec, { need_argv = true })
  if not s then error(table.concat(errs, "\n"), 2) end
  return setmetatable({ spec = s, _cleanup = {}, pool = opts and opts.pool }, Container)
end

-- The identity part of the plan: who the sandbox runs as and how ids map.
local function identity(spec)
  if spec.user == "host" then return nil end
  local uid = proc.getuid()
  local ident = { uid = spec.user.uid, gid = spec.user.gid, map = spec.user.map }
  if uid == 0 then
    ident.mode = "slot"
  else
    ident.mode = "rootless"
    ident.host_uid, ident.host_gid = uid, proc.getgid()
  end
  return ident
end

--- The ordered plan, without creating anything: what `nslua explain` prints.
function Container:plan()
  local spec = self.spec
  local plan = { spec = spec, ident = identity(spec) }
  local ctx = { tty_gid_mapped = plan.ident and plan.ident.map == "all" }
  if spec.namespaces.mnt then plan.steps = rootfs.plan(spec, ctx) end
  plan.rootless = proc.getuid() ~= 0
  return plan
end

--- Human-readable lines of the plan.
function Container:explain()
  local plan = self:plan()
  local spec = plan.spec
  local out = {}
  local function p(fmt, ...) out[#out + 1] = fmt:format(...) end
  local nsl = {}
  for k, v in pairs(spec.namespaces) do if v then nsl[#nsl + 1] = k end end
  table.sort(nsl)
  p("namespaces: %s", table.concat(nsl, " "))
  local ident = plan.ident
  if not ident then
    p("identity: host (no user namespace; runs with the caller's ids)")
  elseif ident.mode == "slot" then
    p("identity: user namespace; inside uid %d gid %d; host ids from a free 65536-wide slot (map %s)",
      ident.uid, ident.gid, ident.map)
  else
    local u, g = ids.maps(ident)
    p("identity: rootless user namespace; uid map %d %d %d; gid map %d %d %d; setgroups deny",
      u[1][1], u[1][2], u[1][3], g[1][1], g[1][2], g[1][3])
  end
  if spec.namespaces.uts then p("hostname: %s", spec.hostname) end
  if spec.net == "host" then
    p("network: host")
  elseif spec.net == "none" then
    p("network: own namespace, lo up")
  else
    local nplan = net.plan(spec.net, "xxxxxxxx", { rootless = plan.rootless })
    for _, line in ipairs(net.explain(nplan)) do p("network: %s", line) end
  end
  for _, line in ipairs(plan.steps and rootfs.explain(plan.steps) or {}) do p("mount: %s", line) end
  local l = spec.limits
  for _, k in ipairs { "memory", "swap", "pids", "cpus", "cpuset", "time", "extra_time", "wall", "output" } do
    if l[k] then p("limit: %s = %s", k, tostring(l[k])) end
  end
  for k, v in pairs(l.rlimits or {}) do p("rlimit: %s = %s", k, tostring(v)) end
  p("capabilities: %s", (spec.caps and #spec.caps > 0) and table.concat(spec.caps, " ") or "none")
  p("seccomp: %s", type(spec.seccomp) == "table" and "custom profile" or tostring(spec.seccomp))
  local env = command_env(spec)
  local keys = {}
  for k in pairs(env) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do p("env: %s=%s", k, env[k]) end
  p("cwd: %s", spec.cwd)
  p("exec: %s", table.concat(spec.argv, " "))
  return out
end

-- The cleanup stack: functions run in reverse order by :close().
function Container:_defer(f)
  local c = self._cleanup
  c[#c + 1] = f
end

function Container:_unwind()
  local c = self._cleanup
  for i = #c, 1, -1 do
    local f = c[i]
    c[i] = nil
    pcall(f)
  end
end

-- rlimits for the exec tail: core = 0 by default, RLIMIT_CPU as a backstop
-- of the cpu-time limit, RLIMIT_FSIZE for the output limit.
local function rlimits(spec)
  local r = {}
  for k, v in pairs(spec.limits.rlimits or {}) do
    r[k] = v == "unlimited" and math.huge or v
  end
  if r.core == nil then r.core = 0 end
  local l = spec.limits
  if l.time and r.cpu == nil then
    r.cpu = math.ceil(l.time + (l.extra_time or 0)) + 1
  end
  if l.output and r.fsize == nil then r.fsize = l.output end
  return r
end

-- The stdio fds the command gets: nslua opens paths with the caller's
-- permissions (like isolate), the command dup2s them onto 0-2.
local function open_stdio(spec)
  local fds = {}
  local st = spec.stdio or {}
  for i, name in ipairs { "stdin", "stdout", "stderr" } do
    local v = st[name]
    if v == "null" or (v and type(v) == "string" and v ~= "inherit") then
      local path = v == "null" and "/dev/null" or v
      local flags = i == 1 and { rdonly = true } or { wronly = true, creat = true, trunc = true }
      local fd, err, code = proc.open(path, flags, 420)
      if not fd then return nil, ("stdio.%s: %s"):format(name, err), code end
      fds[i - 1] = fd
    elseif math.type(v) == "integer" then
      fds[i - 1] = v
    end
  end
  return fds
end

-- The child: everything after clone, until proc.init.  Runs with the
-- collector stopped; any error is reported on the status pipe.
local function child_main(self, c)
  local spec = self.spec
  local step = "sync"
  local function check(ok, err, code)
    if not ok then error({ step = step, msg = err, errno = code or 0 }, 0) end
    return ok
  end
  -- NSLUA_TEST_STOP: park here until the parent dies (the sync pipe hangs up)
  local function stop_here(name)
    step = name
    if TEST_STOP == name then
      local pf = { { fd = c.sync_r, events = {} } }
      repeat proc.poll(pf, 1000) until pf[1].revents and pf[1].revents.hup
      proc._exit(1)
    end
  end
  c.sync_w:close()
  local b = proc.read(c.sync_r, 1)
  if b ~= "x" then proc._exit(1) end   -- the parent died before releasing us

  stop_here("ids")
  if c.ident and c.ident.mode == "slot" then
    check(proc.setgroups({}))
    check(proc.setresgid(0, 0, 0))
    check(proc.setresuid(0, 0, 0))
  end
  -- after the last credential change, which clears the parent-death signal
  check(proc.prctl("pdeathsig", 9))
  local pf = { { fd = c.sync_r, events = { ["in"] = true } } }
  proc.poll(pf, 0)
  if pf[1].revents and pf[1].revents.hup then proc._exit(1) end
  check(proc.setsid())

  local nsf = spec.namespaces
  stop_here("uts")
  if nsf.uts then check(ns.sethostname(spec.hostname)) end
  stop_here("net")
  if c.netplan then
    check(net.guest_setup(c.netplan))
  elseif nsf.net and not self.pool then
    check(core.netlink.link_set("lo", { up = true }))
  end
  stop_here("mounts")
  if c.steps then
    check(rootfs.enter(c))
    check(rootfs.run(c.steps, c))
  end
  if c.tty_sock then
    step = "tty"
    local m, sl = proc.openpty(c.steps and (rootfs.NEW .. "/dev/pts/ptmx") or "/dev/ptmx")
    check(m, sl)
    check(proc.sendfd(c.tty_sock, m))
    m:close()
    c.tty_sock:close()
    c.stdio = { [0] = sl, [1] = sl, [2] = sl }
  end
  local ctx = { id = self.id, spec = spec }
  local function hook(name)
    local h = spec.hooks and spec.hooks[name]
    if h then
      step = "hook:" .. name
      local ok, herr = pcall(h, ctx)
      if not ok then error({ step = step, msg = tostring(herr), errno = 0 }, 0) end
    end
  end
  hook("before_pivot")
  stop_here("pivot")
  if c.steps then check(rootfs.finish()) end
  hook("before_exec")
  stop_here("fork")
  -- A payload that keeps capabilities runs in a nested user namespace that
  -- does not own the mount namespace, so it cannot undo masks or read-only
  -- mounts.  We (still privileged in the container's namespace) write its
  -- maps: the same ids as the container's, mapped to themselves.
  local na, nb
  if c.nested_maps then
    na, nb = proc.socketpair()
    check(na, nb)
  end
  local cmd
  if not na then
    -- posix_spawn-like: no copy of this (Lua-sized) address space, and no
    -- copy-on-write faults for the init while the command starts
    cmd = check(proc.spawn(spec.argv, c.env, c.exec_opts, c.stdio))
  else
    cmd = check(ns.clone({ user = true }))
  end
  if cmd == 0 then
    if na then
      -- the credential switch made us non-dumpable, which leaves our /proc
      -- files owned by host root: the init could not write our maps
      na:close()
      proc.prctl("dumpable", true)
      proc.write(nb, "r")
      if proc.read(nb, 1) ~= "x" then proc._exit(1) end
    end
    for target, fd in pairs(c.stdio) do
      proc.dup2(fd, target)
    end
    proc.exec(spec.argv, c.env, c.exec_opts)
    proc._exit(127)
  end
  if na then
    step = "nested-userns"
    nb:close()
    if proc.read(na, 1) ~= "r" then check(nil, "the command ended before its maps were written", 0) end
    check(ns.write_id_map(cmd, "uid", c.nested_maps[1]))
    check(ns.write_id_map(cmd, "gid", c.nested_maps[2]))
    check(proc.write(na, "x"))
    na:close()
  end
  proc.write(c.status_w, ("pid %d\n"):format(cmd))
  proc.init(cmd, c.status_w, { keep_fds = c.keep_fds })
end

--- Start the container.
-- @treturn[1] integer pid of the init (as the host sees it)
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Container:start()
  if self._pid then error("start: the container was already started", 2) end
  local spec = self.spec
  local ok, err, code = self:_start()
  if not ok then
    self:_unwind()
    return nil, ("start '%s': %s"):format(spec.name or self.id or "?", err), code
  end
  running[self] = true
  return self._pid
end

function Container:_start()
  local spec = self.spec
  local c = { keep_fds = {} }
  local uid = proc.getuid()
  local privileged = uid == 0
  self.t0 = proc.now()

  local pool = self.pool
  if pool then
    -- a pool's run makes no host object of its own: the pool's record
    -- (its id, cgroups and owner) covers them
    self.id = pool.id
  else
    -- state: sweep dead owners, then our own record
    local root, err, code = state.root()
    if not root then return nil, err, code end
    self.state_root = root
    M.sweep(root)
    local dir
    for _ = 1, 4 do
      self.id = state.new_id()
      dir, err, code = state.create(root, self.id, { name = spec.name or "", argv = spec.argv[1] })
      if dir or code ~= errno.EEXIST then break end
    end
    if not dir then return nil, err, code end
    self.state_dir = dir
    self:_defer(function() state.remove(dir) end)
  end

  -- identity
  c.ident = identity(spec)
  if c.ident and c.ident.mode == "rootless" and c.ident.map == "all" then
    local sub, serr = ids.rootless_ranges(c.ident.host_uid, c.ident.host_gid)
    if not sub then return nil, serr, errno.EPERM end
    c.ident.sub = sub
  end
  if c.ident and pool then
    c.ident.host_uid, c.ident.host_gid = pool.host_id, pool.host_id
    c.keep_fds[#c.keep_fds + 1] = pool.lockfd
    self.slot = pool.slot
  elseif c.ident and c.ident.mode == "slot" then
    local slot, base, lockfd = ids.acquire()
    if not slot then return nil, base, lockfd end
    c.ident.host_uid, c.ident.host_gid, c.lockfd = base, base, lockfd
    c.keep_fds[#c.keep_fds + 1] = lockfd
    self:_defer(function() lockfd:close() end)
    self.slot = slot
  end
  local ns_flags = {}
  for k, v in pairs(spec.namespaces) do ns_flags[k] = v or nil end
  ns_flags.time = nil
  if pool then ns_flags.net = nil end   -- the pool's prepared one, joined around clone

  -- network plan (host side objects are made after clone)
  if type(spec.net) == "table" then
    -- a refused plan (overlap, rootless) is a set-up failure: unwind
    local okp, plan = pcall(net.plan, spec.net, self.id, { rootless = not privileged })
    if not okp then return nil, (tostring(plan):gsub("^[^\n]-:%d+: ", "", 1)), errno.EINVAL end
    c.netplan = plan
  end

  -- cgroups, limits, and the cgroup.procs fds the command joins through
  local exec_cg = {}
  if pool and pool.cg then
    -- the pool's groups, kept between runs: counters are read as deltas
    local ok, perr, pcode = pool:_before_run()
    if not ok then return nil, perr, pcode end
    self.cg, self._cg_base = pool.cg, ok
  elseif needs_cgroup(spec.limits) and not pool then
    local l = spec.limits
    local cg, cerr, ccode = cgroup.new(self.id, { memory = l.memory, swap = l.swap, pids = l.pids,
      cpus = l.cpus, cpuset = l.cpuset }, { rootless = not privileged })
    if not cg then return nil, cerr, ccode end
    self.cg = cg
    self:_defer(function() cg:remove() end)
  end
  if self.cg then
    local fds, ferr, fcode = self.cg:procs_fds()
    if not fds then return nil, ferr, fcode end
    exec_cg = fds
  end

  -- mounts: privileged bind sources and the rootfs as detached trees
  c.trees = {}
  if privileged and spec.namespaces.mnt and spec.user ~= "host" then
    for i, m in ipairs(spec.mounts or {}) do
      if m.type == "bind" or m.type == "dev-bind" or m.type == "bind-idmap" then
        local st = mount.stat(m.source)
        if not st then
          if not m.try then
            return nil, ("mounts[%d].source '%s': no such file or directory"):format(i, m.source),
              errno.ENOENT
          end
        else
          local tree, terr, tcode = mount.open_tree(m.source, { clone = true, rec = m.recursive ~= false })
          if not tree then return nil, ("mounts[%d]: %s"):format(i, terr), tcode end
          local set = m.ro and { rdonly = true, nosuid = true, nodev = m.type ~= "dev-bind" }
            or { nosuid = true, nodev = m.type ~= "dev-bind" }
          local userns
          if m.type == "bind-idmap" then
            if not c.ident then
              return nil, ("mounts[%d]: bind-idmap needs a user namespace (not user = \"host\")"):format(i),
                errno.EINVAL
            end
            if not c.idmap_userns then
              local fd, uerr, ucode = M.idmap_userns(c.ident.host_uid + c.ident.uid,
                c.ident.host_gid + c.ident.gid)
              if not fd then return nil, ("mounts[%d]: %s"):format(i, uerr), ucode end
              c.idmap_userns = fd
              self:_defer(function() fd:close() end)
            end
            userns = c.idmap_userns
            set.idmap = true
          end
          local ok2, serr, scode = mount.mount_setattr(tree, set, nil, userns, m.recursive ~= false)
          if not ok2 then return nil, ("mounts[%d]: %s"):format(i, serr), scode end
          c.trees[i] = tree
          self:_defer(function() tree:close() end)
        end
      end
    end
    if spec.rootfs then
      local tree, terr, tcode = mount.open_tree(spec.rootfs, { clone = true, rec = true })
      if not tree then return nil, "rootfs: " .. terr, tcode end
      local ok2, serr, scode = mount.mount_setattr(tree,
        spec.rootfs_rw and { nosuid = true, nodev = true } or { rdonly = true, nosuid = true, nodev = true },
        nil, nil, true)
      if not ok2 then return nil, "rootfs: " .. serr, scode end
      c.rootfs_tree = tree
      self:_defer(function() tree:close() end)
    end
  else
    -- rootless binds go by path with the caller's permissions: a missing
    -- source is caught now, not half-way through the child's set-up
    for i, m in ipairs(spec.mounts or {}) do
      if (m.type == "bind" or m.type == "dev-bind") and not m.try and not mount.stat(m.source) then
        return nil, ("mounts[%d].source '%s': no such file or directory"):format(i, m.source),
          errno.ENOENT
      end
    end
  end
  for i, m in ipairs(spec.mounts or {}) do
    if (m.type == "bind" or m.type == "dev-bind" or m.type == "bind-idmap") then
      local st = mount.stat(m.source)
      if st then
        m.kind = st.type == "dir" and "dir" or "file"
      elseif m.try then
        m.skip = true
      end
    end
    if m.type == "bind-idmap" and not privileged then
      return nil, ("mounts[%d]: bind-idmap needs a privileged caller (rootless binds already write as the caller)")
        :format(i), errno.EPERM
    end
  end
  if spec.namespaces.mnt then
    local ctx = { trees = c.trees, rootfs_tree = c.rootfs_tree,
                  tty_gid_mapped = c.ident and c.ident.map == "all" or spec.user == "host",
                  owner = c.ident and { uid = c.ident.uid, gid = c.ident.gid } }
    c.steps = rootfs.plan(spec, ctx)
    c.strict_targets = ctx.strict_targets
    c.file_bytes = ctx.file_bytes
  end

  -- what the command inherits
  local stdio, serr, scode = open_stdio(spec)
  if not stdio then return nil, serr, scode end
  for _, fd in pairs(stdio) do
    if type(fd) ~= "number" then self:_defer(function() fd:close() end) end
  end
  c.stdio = stdio
  c.env = command_env(spec)
  local caps = spec.caps or {}
  c.exec_opts = {
    cgroup_procs = exec_cg,
    cwd = spec.cwd,
    rlimits = rlimits(spec),
    caps = caps,
    keep_caps = #caps > 0 or nil,
    tty = spec.tty or nil,
    -- stdio.fds: descriptors the caller passes on (like bwrap's --fd options)
    keep_fds = spec.stdio and spec.stdio.fds and #spec.stdio.fds > 0 and spec.stdio.fds or nil,
  }
  if c.ident then
    c.exec_opts.uid, c.exec_opts.gid = c.ident.uid, c.ident.gid
    if c.ident.mode == "slot" then c.exec_opts.groups = {} end
    if #caps > 0 then
      local umap, gmap = ids.maps(c.ident)
      local function self_map(lines)
        local t = {}
        for i, l in ipairs(lines) do t[i] = { l[1], l[1], l[3] } end
        return t
      end
      c.nested_maps = { self_map(umap), self_map(gmap) }
    end
  end
  if spec.seccomp ~= "none" then
    -- a profile that does not compile must fail the start (never run
    -- unfiltered) and unwind what was already made
    local okc, bpf, berr, bcode = pcall(seccomp.compile, spec.seccomp)
    if not okc then return nil, tostring(bpf), errno.EINVAL end
    if not bpf then return nil, berr, bcode end
    c.exec_opts.seccomp = bpf
  end

  if spec.tty then
    local a, b = proc.socketpair()
    c.tty_sock, self._tty_sock = b, a
    self:_defer(function() if not a:closed() then a:close() end end)
  end
  -- pipes: sync (parent releases the child) and status (init -> parent)
  local sync_r, sync_w = proc.pipe()
  local status_r, status_w = proc.pipe()
  c.sync_r, c.sync_w, c.status_w = sync_r, sync_w, status_w
  c.exec_opts.status_fd = status_w
  c.keep_fds[#c.keep_fds + 1] = sync_r
  self._sync_w, self._status_r = sync_w, status_r
  self:_defer(function() sync_w:close() end)
  self:_defer(function() if not status_r:closed() then status_r:close() end end)

  -- The common case runs the child in C (core.setup): the child then
  -- writes almost none of the pages it shares copy-on-write with us.
  -- Child hooks, a tty, a veth plan or kept capabilities need the Lua child.
  local hooks = spec.hooks or {}
  if not (spec.tty or c.netplan or c.nested_maps or hooks.before_pivot or hooks.before_exec) then
    local okp, plan = pcall(core.setup.plan, {
      sync_fd = sync_r, sync_close = sync_w, status_fd = status_w,
      ids = c.ident and c.ident.mode == "slot" or nil,
      hostname = spec.namespaces.uts and spec.hostname or nil,
      lo = (spec.namespaces.net and not self.pool) or nil,
      steps = c.steps, strict = c.strict_targets or nil,
      scaffold_size = c.steps and ((1 << 20) + (c.file_bytes or 0)) or nil,
      argv = spec.argv, env = c.env, exec = c.exec_opts, stdio = c.stdio, keep_fds = c.keep_fds,
      stop = TEST_STOPS[TEST_STOP] and TEST_STOP or nil,
    })
    if not okp then return nil, tostring(plan), errno.EINVAL end
    c.setup = plan
  end

  -- everything the parent writes between clone and release is made first:
  -- after clone each page the Lua VM writes is copied for the child
  local umap, gmap
  if c.ident then umap, gmap = ids.maps(c.ident) end
  self._fast = c.setup ~= nil

  io.stdout:flush()
  io.stderr:flush()
  -- No collection while the child shares our pages: marking writes to
  -- every live object, so a cycle then copies every page of the heap (with
  -- a TLB shootdown each); in a fresh CLI process that cost ~13 ms a run.
  -- start() resumes the collector once the child is released; run(), which
  -- waits at once, only when the init is gone or after GC_HOLD seconds.
  local gc_running = collectgarbage("isrunning")
  collectgarbage("stop")
  local okc, ok, err2, code2 = pcall(self._clone_and_release, self, c, ns_flags, umap, gmap, stdio, exec_cg)
  if not okc then
    if gc_running then collectgarbage("restart") end
    error(ok, 0)
  end
  if gc_running then
    if ok and self._hold_gc then
      self._gc_resume = true
    else
      collectgarbage("restart")
    end
  end
  return ok, err2, code2
end

M.GC_HOLD = 1.0

-- Resume the collector that _start held for run().
function Container:_resume_gc()
  if self._gc_resume then
    self._gc_resume = nil
    collectgarbage("restart")
  end
end

-- The second half of _start: clone, the child's entry, id maps, host-side
-- network links, the after_clone hook, the release, the state record.
function Container:_clone_and_release(c, ns_flags, umap, gmap, stdio, exec_cg)
  local spec = self.spec
  local sync_r, sync_w, status_w = c.sync_r, c.sync_w, c.status_w
  local pool = self.pool
  if pool then
    -- the child is born in the pool's network namespace; we go back at once
    local ok, nerr, ncode = ns.setns(pool.netns, "net")
    if not ok then
      sync_r:close()
      status_w:close()
      return nil, "pool network namespace: " .. nerr, ncode
    end
  end
  local okc, pid, cerr, ccode
  if c.setup then
    okc, pid, cerr, ccode = pcall(core.setup.clone, c.setup, ns_flags)  -- the child never returns here
  else
    okc, pid, cerr, ccode = pcall(ns.clone, ns_flags)
  end
  if pool and pid ~= 0 then
    -- back to our own network namespace whatever clone did; this cannot fail
    -- (we left it a moment ago), and if it did we must not go on in the pool's
    local back, berr = ns.setns(pool.host_netns, "net")
    if not back then error("pool: cannot return to the host network namespace: " .. berr, 0) end
  end
  if not okc then
    sync_r:close()
    status_w:close()
    error(pid, 0)
  end
  if not pid then
    sync_r:close()
    status_w:close()
    return nil, cerr, ccode
  end
  if pid == 0 then
    local ok2, why = pcall(child_main, self, c)
    local e = type(why) == "table" and why or { step = "setup", msg = tostring(why), errno = 0 }
    if ok2 then e = { step = "init", msg = "returned", errno = 0 } end
    proc.write(status_w, ("setup %s %d %s\n"):format(e.step, e.errno or 0,
      tostring(e.msg):gsub("\n", " ")))
    proc._exit(1)
  end
  self._pid = pid
  -- from here on, a failure must also kill the child
  self:_defer(function()
    if not self._reaped then
      proc.kill(pid, 9)
      proc.waitpid(pid)
      self._reaped = true
    end
  end)
  sync_r:close()
  status_w:close()
  if c.tty_sock then c.tty_sock:close() end
  for _, fd in pairs(stdio) do
    if type(fd) ~= "number" then fd:close() end
  end
  for _, fd in ipairs(exec_cg) do fd:close() end
  for _, tree in pairs(c.trees) do tree:close() end
  if c.rootfs_tree then c.rootfs_tree:close() end

  if c.ident and c.ident.sub then
    local ok2, merr, mcode = ids.newidmap("newuidmap", pid, umap)
    if ok2 then ok2, merr, mcode = ids.newidmap("newgidmap", pid, gmap) end
    if not ok2 then return nil, "id maps: " .. merr, mcode end
  elseif c.ident then
    local ok2, merr, mcode = ns.write_id_map(pid, "uid", umap)
    if ok2 and c.ident.mode == "rootless" then
      -- CVE-2014-8989: an unprivileged gid map needs setgroups denied first
      ok2, merr, mcode = ns.setgroups(pid, "deny")
    end
    if ok2 then ok2, merr, mcode = ns.write_id_map(pid, "gid", gmap) end
    if not ok2 then return nil, "id maps: " .. merr, mcode end
  end
  if c.netplan then
    self.netplan = c.netplan
    local ok2, nerr, ncode = net.host_setup(c.netplan, pid)
    self:_defer(function() net.host_cleanup(c.netplan) end)
    if not ok2 then return nil, nerr, ncode end
  end
  if spec.hooks and spec.hooks.after_clone then
    local ok2, herr = pcall(spec.hooks.after_clone, { id = self.id, pid = pid, spec = spec })
    if not ok2 then return nil, "hook after_clone: " .. tostring(herr), 0 end
  end
  local w, werr, wcode = proc.write(sync_w, "x")
  if not w then return nil, "release: " .. werr, wcode end
  -- the record for `nslua exec` and `ps` is written while the child sets up
  if self.state_dir then state.update(self.state_dir, M.state_record(self, c, pid)) end
  return true
end

-- What `nslua exec` and `nslua ps` need to know about a running container
-- (see README "State"): lists are tab-separated, env is K=V entries.
function M.state_record(self, c, pid)
  local spec = self.spec
  local nsl, env, rl = {}, {}, {}
  for k, v in pairs(spec.namespaces) do if v then nsl[#nsl + 1] = k end end
  table.sort(nsl)
  for k, v in pairs(c.env) do env[#env + 1] = k .. "=" .. v end
  table.sort(env)
  for k, v in pairs(c.exec_opts.rlimits) do rl[#rl + 1] = k .. "=" .. tostring(v) end
  table.sort(rl)
  return {
    init_pid = pid, init_start = state.starttime(pid) or 0,
    cgroup = self.cg and self.id or "", cgroup_dirs = self.cg and self.cg:dirs() or {},
    slot = self.slot or "", namespaces = nsl,
    uid = c.ident and c.ident.uid or "", gid = c.ident and c.ident.gid or "",
    user_mode = c.ident and c.ident.mode or "host",
    caps = spec.caps or {}, seccomp = type(spec.seccomp) == "string" and spec.seccomp or "custom",
    rlimits = rl, env = env, cwd = spec.cwd, tty = spec.tty and 1 or 0,
    net = type(spec.net) == "table" and (spec.net.bridge and "bridge" or "veth") or spec.net,
  }
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

--- The pid of the init as the host sees it (nil before start).
function Container:pid()
  return self._pid
end

--- Send a signal to the init (which forwards it to the command).
function Container:kill(sig)
  if not self._pid or self._reaped then return nil, "kill: the container is not running", errno.ESRCH end
  sig = sig or 15
  if sig == 9 or sig == "KILL" or sig == "SIGKILL" then self._killed = 9 end
  return proc.kill(self._pid, sig)
end

--- Run argv inside the running container and wait for it (nslua.exec):
-- result {status, exit_code, signal, wall_s, error} | nil, msg, errno.
function Container:exec(argv, opts)
  if not self._pid or self._reaped then return nil, "exec: the container is not running", errno.ESRCH end
  return require("nslua.exec").exec({ id = self.id, dir = self.state_dir, name = self.spec.name }, argv, opts)
end

local FORWARD = { "INT", "TERM", "HUP" }
local FORWARD_TTY = { "INT", "TERM", "HUP", "WINCH" }

-- The interactive pty (spec.tty): the child opens it in the sandbox's own
-- devpts instance (so `tty` inside names a /dev/pts device that exists
-- there) and sends us the master over a socket; we put our terminal in raw
-- mode and copy bytes both ways until the command's side is gone.
local Tty = {}
Tty.__index = Tty

function Container:_tty_start()
  local master = proc.recvfd(self._tty_sock)
  self._tty_sock:close()
  if not master then return nil end
  local t = setmetatable({ master = master, open_in = true, open_out = true }, Tty)
  t.saved = proc.tcgetattr(0)
  if t.saved then proc.tcsetattr(0, t.saved, "raw") end
  t:resize()
  return t
end

function Tty:resize()
  local rows, cols = proc.get_winsize(0)
  if rows then proc.set_winsize(self.master, rows, cols) end
end

function Tty:pump(fds)
  local rv = fds[3].revents
  if self.open_out and rv and (rv["in"] or rv.hup or rv.err) then
    local data = proc.read(self.master, 65536)
    if data and data ~= "" then
      proc.write(1, data)
    else
      -- EIO: every slave fd is closed
      self.open_out = false
      fds[3].events = {}
    end
  end
  rv = fds[4].revents
  if self.open_in and rv and (rv["in"] or rv.hup) then
    local data = proc.read(0, 65536)
    if data and data ~= "" then
      proc.write(self.master, data)
    else
      self.open_in = false
      fds[4].events = {}
    end
  end
end

function Tty:finish()
  local fds = { { fd = self.master, events = { ["in"] = true } } }
  while self.open_out and proc.poll(fds, 0) == 1 do
    local data = proc.read(self.master, 65536)
    if not data or data == "" then break end
    proc.write(1, data)
  end
  if self.saved then proc.tcsetattr(0, self.saved) end
  self.master:close()
end

-- Read the status records the child, the exec tail and the init wrote.
local function parse_status(text)
  local r = {}
  for line in text:gmatch("[^\n]+") do
    local kind, rest = line:match("^(%S+)%s*(.*)$")
    if kind == "pid" then
      r.cmd_pid = tonumber(rest)
    elseif kind == "exit" then
      local how, code, ut, st, rss, cut, cst, xfsz =
        rest:match("^(%S+) (%-?%d+) (%S+) (%S+) (%d+) (%S+) (%S+) (%d)")
      r.exit = { how = how, code = tonumber(code), utime = tonumber(ut), stime = tonumber(st),
                 maxrss = tonumber(rss), cutime = tonumber(cut), cstime = tonumber(cst),
                 xfsz = xfsz == "1" }
    elseif kind == "exec" then
      local step, e = rest:match("^(%S+) (%d+)")
      r.exec = { step = step, errno = tonumber(e) }
    elseif kind == "setup" then
      local step, e, msg = rest:match("^(%S+) (%d+) ?(.*)$")
      r.setup = { step = step, errno = tonumber(e), msg = msg }
    end
  end
  return r
end

--- Wait for the container to end and return its report (see README).
function Container:wait()
  if not self._pid then error("wait: the container was not started", 2) end
  if self._report then return self._report end
  local spec = self.spec
  local l = spec.limits
  local sigs = spec.tty and FORWARD_TTY or FORWARD
  local old = proc.sigprocmask("block", sigs)
  local sfd = proc.signalfd(sigs)
  local tty = spec.tty and self:_tty_start()
  local buf = {}
  local reason
  local wall_deadline = l.wall and self.t0 + l.wall
  local cpu_limit = l.time and (l.time + (l.extra_time or 0))
  local fds = { { fd = self._status_r, events = { ["in"] = true } },
                { fd = sfd, events = { ["in"] = true } } }
  if tty then
    fds[3] = { fd = tty.master, events = { ["in"] = true } }
    fds[4] = { fd = 0, events = { ["in"] = true } }
  end
  while true do
    local timeout = -1
    local now = proc.now()
    if cpu_limit and self.cg then timeout = 10 end
    if wall_deadline then
      local left = math.max(0, math.ceil((wall_deadline - now) * 1000))
      timeout = timeout < 0 and left or math.min(timeout, left)
    end
    local n = proc.poll(fds, timeout)
    if n and n > 0 then
      local rv = fds[2].revents
      if rv and rv["in"] then
        local signo = proc.sigread(sfd)
        if signo == 28 and tty then
          tty:resize()
        elseif signo then
          proc.kill(self._pid, signo)
        end
      end
      if tty then tty:pump(fds) end
      rv = fds[1].revents
      if rv and (rv["in"] or rv.hup) then
        local data = proc.read(self._status_r, 4096)
        if not data or data == "" then break end
        buf[#buf + 1] = data
        if not self.cmd_pid then
          local cp = table.concat(buf):match("^pid (%d+)\n")
          if cp then
            self.cmd_pid = tonumber(cp)
            -- the C child forks nothing before the command: it is the
            -- init's first child, which is what `nslua exec` looks for
            if not self._fast and self.state_dir then
              state.update(self.state_dir, { cmd_nspid = self.cmd_pid })
            end
          end
        end
      end
    end
    if self._gc_resume and proc.now() - self.t0 > M.GC_HOLD then self:_resume_gc() end
    if not reason then
      now = proc.now()
      if wall_deadline and now >= wall_deadline then
        reason = "wall-limit"
      elseif cpu_limit and self.cg and (self.cg:cpu_usage() or 0) - (self._cg_base and self._cg_base.cpu_s or 0) > cpu_limit then
        reason = "cpu-limit"
      end
      if reason then self:_terminate() end
    end
  end
  if tty then tty:finish() end
  local _, how, code, ru = proc.waitpid(self._pid)
  self._reaped = true
  if not self._last_run then self:_resume_gc() end
  running[self] = nil
  sfd:close()
  proc.sigprocmask("setmask", old)
  local wall_s = proc.now() - self.t0
  local st = parse_status(table.concat(buf))
  local stats = self.cg and self.cg:stats() or nil
  if stats and self.pool then stats = self.pool:_after_run(self._cg_base, stats) end
  local rep = report_mod.build {
    status = st, reason = reason, wall_s = wall_s, cg = stats, init = { how = how, code = code, ru = ru }, killed = self._killed,
    limits = l,
  }
  self._report = rep
  if spec.hooks and spec.hooks.after_exit then
    local ok, herr = pcall(spec.hooks.after_exit, { id = self.id, pid = self._pid, spec = spec }, rep)
    if not ok then
      rep.status, rep.error = "error", { step = "hook after_exit", message = tostring(herr) }
    end
  end
  self:_unwind()
  return rep
end

-- End every process of the container: the init (its pid namespace takes
-- every member with it), plus the cgroup when there is no pid namespace.
function Container:_terminate()
  proc.kill(self._pid, 9)
  if not self.spec.namespaces.pid and self.cg then self.cg:kill() end
end

--- Start, wait, close: the report.
-- @treturn[1] table report
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Container:run()
  self._hold_gc = true
  local pid, err, code = self:start()
  self._hold_gc = nil
  if not pid then return nil, err, code end
  -- whatever wait raises, the collector _start held must not stay stopped
  local ok, rep, werr, wcode = pcall(self.wait, self)
  if not self._last_run or not ok then self:_resume_gc() end
  if not ok then error(rep, 0) end
  return rep, werr, wcode
end

--- Release everything; kills a container that is still running.  Idempotent.
function Container:close()
  if self._pid and not self._reaped then
    self:_terminate()
    self:wait()
  end
  self:_unwind()
  running[self] = nil
end
Container.__close = Container.close
Container.__gc = function(self)
  -- only containers that have ended reach here (running ones are held)
  self:_unwind()
end

--- Remove what owners that are gone left: state records, cgroups, links.
function M.sweep(root)
  root = root or state.root()
  if not root then return {} end
  local removed = {}
  for _, rec in ipairs(state.list(root)) do
    if not rec.alive then
      local info = rec.info
      if info.init_pid and state.alive(info.init_pid, info.init_start) then
        proc.kill(info.init_pid, 9)
      end
      removed[#removed + 1] = rec.id
      if info.cgroup and info.cgroup ~= "" then
        cgroup.sweep(function(id) return id == rec.id end)
      end
      if info.net == "veth" or info.net == "bridge" then
        net.gc(function(id) return id ~= rec.id end)
      end
      state.remove(rec.dir)
    end
  end
  return removed
end

M.Container = Container
M.parse_status = parse_status
M.running = running

return M
