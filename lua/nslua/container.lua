--- nslua.container: the lifecycle of one sandbox.
-- nslua.container(spec) -> Container; :start(), :wait() -> report, :run(),
-- :kill(sig), :pid(), :exec(argv), :close().  DESIGN "The spawn sequence":
-- resources (fresh, or a pool lease: the same interface), the plan
-- (launch.plan, what explain prints), the clone of the executor
-- (core.setup: the only child code path), id maps, the release, the wait,
-- the report, the cleanup.
local core = require "nslua.core"
local validate = require "nslua.validate"
local launch = require "nslua.launch"
local resources = require "nslua.resources"
local status = require "nslua.status"
local report_mod = require "nslua.report"
local ids = require "nslua.ids"
local state = require "nslua.state"

local ns, proc = core.ns, core.proc
local errno = core.errno

local M = {}

-- The text of an error a hook raised, whatever it raised (a table, a
-- value whose __tostring itself raises).
local function error_text(e)
  local ok, s = pcall(tostring, e)
  if ok and type(s) == "string" then return s end
  return ("(an error value of type %s)"):format(type(e))
end

local Container = {}
Container.__index = Container

M.PATH = launch.PATH

-- Containers that were started and not yet waited for: a running container
-- must not be collected (its fds, cgroups and state would go with it).
local running = {}

-- A test-only stop: NSLUA_TEST_STOP=<step> makes the child wait (until the
-- parent dies) when it reaches that step; used to kill nslua mid-set-up.
local TEST_STOP = os.getenv("NSLUA_TEST_STOP")
local TEST_STOPS = { ids = true, uts = true, net = true, mounts = true, pivot = true, fork = true }

--- Create a container from a spec (validated now; a bad spec raises).
-- opts.pool: a warm pool (nslua.pool) that leases its id slot, network
-- namespace and cgroups to the container instead of fresh ones.
function M.new(spec, opts)
  local s, errs = validate.check(spec, { need_argv = true })
  if not s then error(table.concat(errs, "\n"), 2) end
  local pool = opts and opts.pool
  -- opts.state_root: where the record goes (a front end's own root: OCI)
  local root = opts and opts.state_root
  local acquire = pool and function(sp) return resources.lease(pool, sp) end
    or function(sp) return resources.fresh(sp, root) end
  return setmetatable({ spec = s, _acquire = acquire, _cleanup = {} }, Container)
end

--- The plan of this container without creating anything (resources.dry):
-- what `nslua explain` prints.  opts: resources.dry's (id, host_uid, pool).
-- @return[1] table plan
-- @return[2] nil, message, errno
function Container:plan(opts)
  local res, err, code = resources.dry(self.spec, opts)
  if not res then return nil, err, code end
  return launch.plan(self.spec, res)
end

--- Human-readable lines of the plan (nil, msg, errno when it cannot be made).
function Container:explain(opts)
  local plan, err, code = self:plan(opts)
  if not plan then return nil, err, code end
  return launch.explain(plan)
end

-- The cleanup stack: functions run in reverse order by _unwind().
function Container:_defer(f)
  local c = self._cleanup
  c[#c + 1] = f
end

function Container:_unwind()
  resources.unwind(self._cleanup)
end

--- Start the container.
-- @treturn[1] integer pid of the init (as the host sees it)
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function Container:start()
  if self._pid then error("start: the container was already started", 2) end
  local spec = self.spec
  self.t0 = proc.now()
  -- die_with_parent: when whoever started us dies, we die, and the child
  -- with us (its own PR_SET_PDEATHSIG); the command gets one in the exec tail
  if spec.die_with_parent then
    local ok, perr, pcode = proc.prctl("pdeathsig", 9)
    if not ok then return nil, ("start '%s': %s"):format(spec.name or "?", perr), pcode end
  end
  local res, err, code, id = self._acquire(spec)
  self.id = id
  local ok = res
  if res then
    self.res, self.id = res, res.id
    self:_defer(function() res:release() end)
    self.plan = launch.plan(spec, res)
    ok, err, code = self:_launch()
  end
  if ok and spec.detach then ok, err, code = self:_park() end
  if not ok then
    self:_unwind()
    return nil, ("start '%s': %s"):format(spec.name or self.id or "?", err), code
  end
  if spec.detach then return self._pid end
  running[self] = true
  return self._pid
end

M.PARK_TIMEOUT = 60

-- The message of a set-up failure record (status.parse's st.setup).
local function setup_failure(setup)
  return ("set-up failed at %s: %s"):format(setup.step, setup.msg or ""), setup.errno
end

-- A set-up failure the child reported already (read without blocking
-- longer than 50 ms): message, errno; nil when there is none.
function Container:_setup_said()
  local fds = { { fd = self._status_r, events = { ["in"] = true } } }
  local buf = { self._status_pre }
  while (proc.poll(fds, 50) or 0) > 0 do
    local data = proc.read(self._status_r, 4096)
    if not data or data == "" then break end
    buf[#buf + 1] = data
  end
  local st = status.parse(table.concat(buf))
  if not st.setup then return nil end
  return setup_failure(st.setup)
end

-- spec.detach: wait until the child is parked before its command (its
-- pid record), or has failed; then let it go.  Parked, it no longer dies
-- with us: its record says detached=1, so it is alive while its command
-- is (state.list), the cleanup stack is dropped (its objects now belong to
-- whoever deletes the container: resources.remove_record), and with a tty
-- the pty's master is self.tty_master for the caller to hand on.
function Container:_park()
  local buf, deadline = { self._status_pre }, proc.now() + M.PARK_TIMEOUT
  local fds = { { fd = self._status_r, events = { ["in"] = true } } }
  local st = {}
  while not st.cmd_pid do
    local left = math.max(0, math.ceil((deadline - proc.now()) * 1000))
    if left == 0 then return nil, "set-up did not finish in time", errno.ETIMEDOUT end
    local n = proc.poll(fds, left)
    if n and n > 0 then
      local data = proc.read(self._status_r, 4096)
      if not data or data == "" then break end
      buf[#buf + 1] = data
      st = status.parse(table.concat(buf))
      if st.setup then return nil, setup_failure(st.setup) end
    end
  end
  if not st.cmd_pid then
    local _, how, hcode = proc.waitpid(self._pid)
    self._reaped = true
    return nil, ("the child ended during set-up (%s %s)"):format(tostring(how), tostring(hcode)),
      errno.ECHILD
  end
  if self.spec.tty then
    self.tty_master = proc.recvfd(self._tty_sock)
    self._tty_sock:close()
    if not self.tty_master then return nil, "the pty's master did not arrive", errno.EIO end
  end
  local ok, err, code = self.res:record({ detached = 1 })
  if not ok then return nil, "record: " .. tostring(err), code end
  self._detached = true
  self._cleanup = {}
  self._sync_w:close()
  self._status_r:close()
  self:_resume_gc()
  return true
end

--- The state directory of the container's record (nil when stateless).
function Container:state_dir()
  return self.res and self.res.state_dir
end

-- Close fd boxes on the cleanup stack unless already closed (the child's
-- ends are closed right after the clone).
function Container:_defer_close(...)
  local fds = { ... }
  self:_defer(function()
    for _, fd in ipairs(fds) do
      if not fd:closed() then fd:close() end
    end
  end)
end

-- The runtime handles the executor gets beside the plan (setup.plan's rt).
-- @return[1] table rt
-- @return[2] nil, message, errno (a pipe: e.g. a full fd table)
function Container:_runtime()
  local spec, res = self.spec, self.res
  local rt = { trees = res.rt.trees, cgroup_procs = res.rt.cgroup_procs, seccomp = res.rt.seccomp,
               stdio = res.rt.stdio, keep = {}, stop = TEST_STOPS[TEST_STOP] and TEST_STOP or nil }
  -- spec.sync names the caller's fds: each must be open (the child waits on them)
  for _, k in ipairs { "block_fd", "userns_block_fd", "sync_fd" } do
    local fd = spec.sync and spec.sync[k]
    if fd then
      local pf = { { fd = fd, events = {} } }
      if proc.poll(pf, 0) == 1 and pf[1].revents.nval then
        return nil, ("sync.%s: fd %d is not open"):format(k, fd), errno.EBADF
      end
    end
  end
  for i, fd in ipairs(res.rt.keep) do rt.keep[i] = fd end
  rt.seccomp_bpf = res.rt.seccomp_bpf   -- spec.seccomp_bpf's raw programs
  rt.seccomp_layers = res.rt.seccomp_layers
  rt.seccomp_guard = res.rt.seccomp_guard
  -- the set-id guard's watch (csrc/guard.c): its group and its answerer,
  -- whose pidfd the init keeps with the group; ours go once the mounts are
  -- marked, and the answerer gets the init's pidfd once it is cloned
  if self.plan.exec.setid_guard then
    local fan, ferr, fcode = core.mount.guard_group()
    if not fan then
      return nil, ("the set-id guard: %s (a read-write idmapped mount needs fanotify's "
        .. "permission events; use --bind-as-slot)"):format(ferr), fcode
    end
    self:_defer_close(fan)
    local sock, pidfd
    sock, pidfd, fcode = core.mount.guard_answerer(fan)
    if not sock then return nil, "the set-id guard: " .. pidfd, fcode end
    self:_defer_close(sock, pidfd)
    rt.guard_fan, rt.guard_pidfd = fan, pidfd
    self._guard_fan, self._guard_sock = fan, sock
  end
  local sync_r, sync_w, code = proc.pipe()
  if not sync_r then return nil, sync_w, code end
  self:_defer_close(sync_r, sync_w)
  local status_r, status_w
  status_r, status_w, code = proc.pipe()
  if not status_r then return nil, status_w, code end
  self:_defer_close(status_r, status_w)
  rt.sync_r, rt.sync_w, rt.status_w = sync_r, sync_w, status_w
  self._sync_w, self._status_r = sync_w, status_r
  -- the init keeps the sync pipe's read end: a parked child (a test stop)
  -- sees it hang up when nslua dies
  rt.keep[#rt.keep + 1] = rt.sync_r
  if spec.tty then
    local a, b
    a, b, code = proc.socketpair()
    if not a then return nil, b, code end
    self:_defer_close(a, b)
    rt.tty_sock, self._tty_sock = b, a
  end
  if res.notify then
    -- the exec tail sends the handlers' listener over it (nslua.notify)
    local a, b
    a, b, code = proc.socketpair()
    if not a then return nil, b, code end
    self:_defer_close(a, b)
    rt.notify_sock, self._notify_sock = b, a
    rt.seccomp_notify = res.rt.seccomp_notify
  elseif res.listener then
    -- seccomp_listener: the agent's connection, made here in the caller's
    -- mount namespace; the exec tail sends the listener over it with the
    -- text of notify_state, which _clone_and_release writes (the state
    -- names the pid)
    local sock, serr, scode = proc.connect_unix(res.listener.path)
    if not sock then return nil, ("seccomp_listener.path: %s"):format(serr), scode end
    self:_defer_close(sock)
    -- (non-blocking: a pipe shrunk to a page by pipe-user-pages-soft says
    -- EAGAIN rather than hang us)
    local r, w
    r, w, code = proc.pipe { nonblock = true }
    if not r then return nil, w, code end
    self:_defer_close(r, w)
    rt.notify_sock, rt.notify_state, self._listener_w = sock, r, w
    rt.seccomp_notify = res.rt.seccomp_notify
  end
  if self.plan.hooks then
    rt.hooks, rt.hook_ctx = spec.hooks, { id = self.id, spec = spec }
  end
  return rt
end

-- Everything from the runtime handles to the release of the child.
function Container:_launch()
  local rt, rerr, rcode = self:_runtime()
  if not rt then return nil, rerr, rcode end
  local okp, splan = pcall(core.setup.plan, self.plan, rt)
  if not okp then
    rt.sync_r:close()
    rt.status_w:close()
    if rt.tty_sock then rt.tty_sock:close() end
    if rt.notify_sock then rt.notify_sock:close() end
    if rt.notify_state then rt.notify_state:close() end
    return nil, tostring(splan), errno.EINVAL
  end
  -- everything the parent writes between clone and release is made first:
  -- after clone each page the Lua VM writes is copied for the child
  local flags = {}
  for _, name in ipairs(self.plan.namespaces) do flags[name] = true end
  io.stdout:flush()
  io.stderr:flush()
  -- No collection while the child shares our pages: marking writes to
  -- every live object, so a cycle then copies every page of the heap (with
  -- a TLB shootdown each); in a fresh CLI process that cost ~13 ms a run.
  -- start() resumes the collector once the child is released; run(), which
  -- waits at once, only when the init is gone or after GC_HOLD seconds.
  local gc_running = collectgarbage("isrunning")
  collectgarbage("stop")
  local okc, ok, err, code = pcall(self._clone_and_release, self, splan, flags, rt)
  if gc_running then
    if okc and ok and self._hold_gc then
      self._gc_resume = true
    else
      collectgarbage("restart")
    end
  end
  if not okc then error(ok, 0) end
  return ok, err, code
end

M.GC_HOLD = 1.0

-- Resume the collector that _launch held for run().
function Container:_resume_gc()
  if self._gc_resume then
    self._gc_resume = nil
    collectgarbage("restart")
  end
end

-- The parent's side of the identity: the child's id maps.
local function write_maps(ident, pid)
  -- "join": a user namespace the caller made, maps and all
  if ident.mode == "host" or ident.mode == "join" then return true end
  local ok, err, code
  if ident.helper then
    ok, err, code = ids.newidmap("newuidmap", pid, ident.uid_map)
    if ok then ok, err, code = ids.newidmap("newgidmap", pid, ident.gid_map) end
  else
    ok, err, code = ns.write_id_map(pid, "uid", ident.uid_map)
    if ok and ident.setgroups == "deny" then ok, err, code = ns.setgroups(pid, "deny") end
    if ok then ok, err, code = ns.write_id_map(pid, "gid", ident.gid_map) end
  end
  if not ok then return nil, "id maps: " .. err, code end
  return true
end

-- Clone the executor, then the parent's steps: id maps, host-side network
-- links, the after_clone hook, the release, the state record.
function Container:_clone_and_release(splan, flags, rt)
  local spec, res = self.spec, self.res
  local okc, pid, cerr, ccode = pcall(res.around_clone, res, core.setup.clone, splan, flags)
  -- the child's ends: it has its copies (or there is no child)
  rt.sync_r:close()
  rt.status_w:close()
  if rt.tty_sock then rt.tty_sock:close() end
  if rt.notify_sock then rt.notify_sock:close() end
  if rt.notify_state then rt.notify_state:close() end
  if rt.guard_pidfd then rt.guard_pidfd:close() end
  if not okc then error(pid, 0) end
  if not pid then return nil, cerr, ccode end
  self._pid = pid
  -- from here on, a failure must also kill the child
  self:_defer(function()
    if not self._reaped then
      proc.kill(pid, 9)
      proc.waitpid(pid)
      self._reaped = true
    end
  end)
  res:after_clone()
  if self._guard_sock then
    -- the set-id guard's answerer watches the init from now on
    local ok, err, code = self:_guard_watch(pid)
    if not ok then return nil, err, code end
  end
  -- sync.userns_block_fd: the caller writes the id maps while the child waits
  local ok, err, code = true, nil, nil
  if not (self.plan.sync and self.plan.sync.userns_block_fd) then
    ok, err, code = write_maps(self.plan.identity, pid)
  end
  if ok then ok, err, code = res:attach(pid, self.plan) end
  if ok and self.plan.time and self.plan.time.offsets then
    ok, err, code = M.write_time_offsets(pid, self.plan.time.offsets)
    -- (a child that failed first says why on the status pipe)
    if not ok and code == errno.ESRCH then
      local said, scode = self:_setup_said()
      if said then err, code = said, scode end
    end
  end
  if ok and self._listener_w then ok, err, code = self:_listener_state(pid) end
  if not ok then return nil, err, code end
  if spec.hooks and spec.hooks.after_clone then
    local ok2, herr = pcall(spec.hooks.after_clone, { id = self.id, pid = pid, spec = spec })
    if not ok2 then return nil, "hook after_clone: " .. error_text(herr), 0 end
  end
  -- a child that died before its release (killed, out of memory) is EPIPE
  -- here, never a SIGPIPE for us: a start failure naming how it ended
  local w, werr, wcode = proc.write(self._sync_w, "x")
  if not w and wcode == errno.EPIPE then
    local _, how, hcode = proc.waitpid(pid)
    self._reaped = true
    return nil, ("the child died before its release (%s %s)"):format(tostring(how), tostring(hcode)),
      wcode
  end
  if not w then return nil, "release: " .. werr, wcode end
  if self._guard_fan then
    ok, err, code = self:_guard_marks(pid)
    if not ok then return nil, err, code end
  end
  -- the record for `nslua exec` and `ps` is written while the child sets
  -- up; the programs an exec loads first (an exec waits for the record)
  local progs = self:_programs()
  local info = M.state_record(self, pid)
  info.seccomp_programs = progs and state.count_programs(progs) or 0
  -- the agent an exec's listener goes to too (one line of JSON)
  if res.listener then info.seccomp_listener = require("cjson").encode(res.listener) end
  if progs then
    -- (an exec without them would lose the raw ones: no start without)
    local pok, perr, pcode = res:record_programs(progs)
    if not pok then return nil, "state record: seccomp programs: " .. tostring(perr), pcode end
  end
  res:record(info)
  return true
end

--- The mounts the set-id guard watches in a mountinfo text: { {id, mountpoint}, ... },
-- each read-write and idmapped, or an overlay (csrc/guard.c).
function M.guard_mounts(text)
  local out, unescape = {}, require("nslua.cgroup").unescape_mountinfo
  for line in text:gmatch("[^\n]+") do
    local id, mp, opts, fstype = line:match("^(%d+) %d+ %S+ %S+ (%S+) (%S+).- %- (%S+) ")
    if id and opts:match("^rw") and (fstype == "overlay" or (opts .. ","):find(",idmapped,", 1, true)) then
      out[#out + 1] = { id = math.tointeger(tonumber(id)), mountpoint = unescape(mp) }
    end
  end
  return out
end

-- The set-id guard's answerer gets the init's pidfd: it ends once the
-- init has (csrc/guard.c).
function Container:_guard_watch(pid)
  local sock = self._guard_sock
  self._guard_sock = nil
  local pidfd, err, code = proc.pidfd_open(pid)
  if pidfd then
    local ok
    ok, err, code = proc.sendfd(sock, pidfd)
    pidfd:close()
    if not ok then pidfd = nil end
  end
  sock:close()
  if not pidfd then return nil, "the set-id guard: " .. tostring(err), code end
  return true
end

-- The set-id guard's watch (csrc/guard.c): once the child says its mounts
-- are in place (its "marks" record), mark those that write as host root,
-- let go of the group and let the child go on ("m").  What the pipe said
-- meanwhile stays for the waits that follow (self._status_pre).
function Container:_guard_marks(pid)
  local fan, buf, st = self._guard_fan, {}, {}
  local fds = { { fd = self._status_r, events = { ["in"] = true } } }
  local deadline = proc.now() + M.PARK_TIMEOUT
  while not (st.marks or st.setup) do
    local left = math.max(0, math.ceil((deadline - proc.now()) * 1000))
    if left == 0 then return nil, "set-up did not reach its mounts in time", errno.ETIMEDOUT end
    if (proc.poll(fds, left) or 0) > 0 then
      local data = proc.read(self._status_r, 4096)
      if not data or data == "" then break end
      buf[#buf + 1] = data
      st = status.parse(table.concat(buf))
    end
  end
  self._status_pre = table.concat(buf)
  if st.setup then return nil, setup_failure(st.setup) end
  if not st.marks then
    return nil, "the child ended during set-up (before the set-id guard's marks)", errno.ECHILD
  end
  local f, oerr, ocode = io.open(("/proc/%d/mountinfo"):format(pid))
  if not f then return nil, "the set-id guard: " .. oerr, ocode end
  local text, rerr, rcode = f:read("a")
  f:close()
  if not text then return nil, "the set-id guard: " .. tostring(rerr), rcode or errno.EIO end
  for _, m in ipairs(M.guard_mounts(text)) do
    -- (false: a mount stacked over it hides it from the sandbox)
    local ok, merr, mcode = core.mount.guard_mark(fan, pid, m.mountpoint, m.id)
    if ok == nil then return nil, "the set-id guard: " .. merr, mcode end
  end
  fan:close()
  self._guard_fan = nil
  local w, werr, wcode = proc.write(self._sync_w, "m")
  if not w then return nil, "the set-id guard: release: " .. tostring(werr), wcode end
  return true
end

-- The seccomp programs an exec into this container loads (state.
-- write_programs): the command's own, never compiled again from a file
-- the payload may have rewritten.  None for a built-in profile alone,
-- which an exec compiles the same from nslua's own code.
function Container:_programs()
  local rt, res = self.res.rt, self.res
  if state.BUILTIN_PROFILES[self.plan.exec.seccomp] and not (rt.seccomp_layers or rt.seccomp_bpf
      or rt.seccomp_notify) then
    return nil
  end
  return { main = rt.seccomp, layers = rt.seccomp_layers, bpf = rt.seccomp_bpf, notify = rt.seccomp_notify,
           handlers = res.notify ~= nil, listener = res.listener ~= nil }
end

-- The container process state that goes with the listener to the
-- seccomp_listener's agent, into the pipe the exec tail reads before its
-- release (nslua.seccomp.listener_message).
function Container:_listener_state(pid)
  local w = self._listener_w
  self._listener_w = nil
  local text, err, code = require("nslua.seccomp").listener_message(self.res.listener, pid,
    { id = self.spec.name or self.id, status = "creating", pid = pid })
  if text then
    -- whole, into the non-blocking pipe
    local n, werr, wcode = proc.write(w, text)
    if n ~= #text then
      text, err, code = nil, "seccomp_listener: the state did not fit the pipe: " .. tostring(werr or n),
        wcode or errno.EAGAIN
    end
  end
  w:close()
  if not text then return nil, err, code end
  return true
end

-- The offsets of the child's own time namespace (plan.time.offsets), which
-- it unshares before its release and enters after it (setup.c
-- enter_time_ns): written here, while no process is in it, once the child
-- has made it (its time_for_children is then not its time).  The child
-- never turns dumpable for it; we hold CAP_SYS_TIME over its user
-- namespace (root, or a rootless caller as the owner).
M.TIME_NS_WAIT = 5   -- seconds for the child to make its time namespace
function M.write_time_offsets(pid, text)
  local base = ("/proc/%d/"):format(pid)
  local deadline = proc.now() + M.TIME_NS_WAIT
  while true do
    local now_ns, _, rcode = core.mount.readlink(base .. "ns/time")
    local children, _, ccode = core.mount.readlink(base .. "ns/time_for_children")
    if (rcode or ccode) == errno.EACCES then
      -- a non-dumpable child (a joined user namespace) of a caller that is
      -- not root: neither of us may write its offsets
      return nil, "time_offsets: only root can set them for a sandbox that joins a user namespace "
        .. "(userns.fd)", errno.EACCES
    end
    if not (now_ns and children) then
      return nil, "time_offsets: the child ended before its time namespace was made", errno.ESRCH
    end
    if now_ns ~= children then break end
    if proc.now() > deadline then
      return nil, "time_offsets: the child made no time namespace in time", errno.ETIMEDOUT
    end
    proc.poll({}, 1)
  end
  local f, oerr, ocode = io.open(base .. "timens_offsets", "w")
  if not f then return nil, "time_offsets: " .. oerr, ocode end
  local ok, werr, wcode = f:write(text)
  local cok, cerr, ccode = f:close()
  if not ok or not cok then
    -- ERANGE: a clock would end up below 0 or past 2^62 ns
    return nil, ("time_offsets: the kernel refused them (%s)"):format(tostring(werr or cerr)), wcode or ccode
  end
  return true
end

-- What `nslua exec` and `nslua ps` need to know about a running container
-- (see docs/spec.md "State"): lists are tab-separated, env is K=V entries.
function M.state_record(self, pid)
  local spec, plan, res = self.spec, self.plan, self.res
  local env, rl = {}, {}
  for k, v in pairs(plan.exec.env) do env[#env + 1] = k .. "=" .. v end
  table.sort(env)
  for k, v in pairs(plan.exec.rlimits) do rl[#rl + 1] = k .. "=" .. launch.rlimit_text(v) end
  table.sort(rl)
  local nsl = {}
  for k, v in pairs(spec.namespaces) do if v then nsl[#nsl + 1] = k end end
  table.sort(nsl)
  local ident = plan.identity
  return {
    init_pid = pid, init_start = state.starttime(pid) or 0,
    cgroup = res.cg and self.id or "", cgroup_dirs = res.cg and res.cg:dirs() or {},
    slot = res.slot or "", namespaces = nsl,
    uid = ident.uid or "", gid = ident.gid or "", user_mode = ident.mode,
    caps = spec.caps or {}, seccomp = plan.exec.seccomp,
    setid_guard = plan.exec.setid_guard and 1 or nil,
    rlimits = rl, env = env, cwd = type(spec.cwd) == "table" and spec.cwd[1] or spec.cwd,
    tty = spec.tty and 1 or 0, no_init = plan.init == false and 1 or nil, umask = spec.umask,
    net = type(spec.net) == "table" and (spec.net.pasta and "pasta" or spec.net.bridge and "bridge" or "veth")
      or spec.net,
    -- (nslua exec applies the same ruleset)
    landlock = spec.landlock and require("nslua.landlock").record(spec.landlock) or nil,
  }
end

-- Kept for callers of the old name (doctor): see resources.idmap_userns.
M.idmap_userns = resources.idmap_userns

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
  return require("nslua.exec").exec({ id = self.id, dir = self.res.state_dir, name = self.spec.name },
    argv, opts)
end

-- The monotonic offset of the sandbox's own time namespace (plan.time;
-- 0 without one): the init and the command read CLOCK_MONOTONIC there.
function Container:_mono_offset()
  local t = self.plan and self.plan.time
  return t and t.mono_s or 0
end

local FORWARD = { "INT", "TERM", "HUP" }
local FORWARD_TTY = { "INT", "TERM", "HUP", "WINCH" }

-- The interactive pty (spec.tty): the executor opens it in the sandbox's
-- own devpts instance and sends us the master; we put our terminal in raw
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

local IN <const> = { ["in"] = true }

-- The waiting state wait() and step() share: the status buffer, the fds
-- polled ([1] status pipe or pidfd; blocking: [2] the signalfd, [3] [4] the
-- tty; then the handlers' socket or listener), the limits' deadlines.
-- 'blocking' (wait): signals are forwarded and a tty is proxied.
function Container:_wait_begin(blocking)
  local spec, res = self.spec, self.res
  local limits = self.plan.wait
  local w = { buf = { self._status_pre }, blocking = blocking }
  w.wall_deadline = limits.wall and self.t0 + limits.wall
  -- cpu_scope "command": the command's own time (polled in /proc/<pid>/stat
  -- once the status pipe names it), no cgroup needed
  w.by_command = limits.cpu_scope == "command"
  w.cpu_limit = (res.cg or w.by_command) and limits.cpu
  w.fds = { { fd = self._status_r, events = IN } }
  -- plan.init == false: the status pipe ends at the command's execve (its
  -- end is close-on-exec); from then on its pidfd tells when it ended
  w.pidfd = self.plan.init == false and proc.pidfd_open(self._pid) or nil
  -- session "keep": a signal the kernel sent our process group (a
  -- terminal's ^C, sender pid 0) reached the command too
  w.same_session = self.plan.exec.session == "keep"
  if blocking then
    w.sigs = spec.tty and FORWARD_TTY or FORWARD
    w.old = proc.sigprocmask("block", w.sigs)
    w.sfd = proc.signalfd(w.sigs)
    w.fds[2] = { fd = w.sfd, events = IN }
    w.tty = spec.tty and self:_tty_start()
    if w.tty then
      w.fds[3] = { fd = w.tty.master, events = IN }
      w.fds[4] = { fd = 0, events = IN }
    end
  end
  -- the handlers' socket, then their listener: always the last entry
  if self._notify_sock then
    w.nidx = #w.fds + 1
    w.fds[w.nidx] = { fd = self._notify_sock, events = IN }
  end
  return w
end

-- Milliseconds until the next limit check (-1: none is due).
function Container:_wait_timeout(w)
  local timeout = w.cpu_limit and 10 or -1
  if w.wall_deadline then
    local left = math.max(0, math.ceil((w.wall_deadline - proc.now()) * 1000))
    timeout = timeout < 0 and left or math.min(timeout, left)
  end
  return timeout
end

-- One round: poll (up to 'timeout' ms), read what is ready, answer a
-- notification, enforce the limits.  true once the container has ended.
function Container:_wait_round(w, timeout)
  local fds, res = w.fds, self.res
  local n = proc.poll(fds, timeout)
  if n and n > 0 then
    local rv = w.sfd and fds[2].revents
    if rv and rv["in"] then
      local signo, sender = proc.sigread(w.sfd)
      if signo == 28 and w.tty then
        w.tty:resize()
      elseif signo and not (w.same_session and sender == 0) then
        proc.kill(self._pid, signo)
      end
    end
    if w.tty then w.tty:pump(fds) end
    if w.nidx and fds[w.nidx] and fds[w.nidx].revents then self:_notify_event(fds, w.nidx) end
    rv = fds[1].revents
    if rv and (rv["in"] or rv.hup) then
      if fds[1].fd == w.pidfd then return true end   -- the command (no init) ended
      local data = proc.read(self._status_r, 4096)
      if data and data ~= "" then
        local buf = w.buf
        buf[#buf + 1] = data
        -- the executor forks nothing before the command: it is the init's
        -- first child, which is what `nslua exec` looks for (no record update)
        if not self.cmd_pid then
          self.cmd_pid, self.cmd_t0 = status.cmd_pid(table.concat(buf))
          -- (read in the sandbox's time namespace: its offset taken off)
          if self.cmd_t0 then self.cmd_t0 = self.cmd_t0 - self:_mono_offset() end
          -- (its cgroup join came just before: cgroup.kick's gap counts from it)
          if self.cmd_t0 and res.cg then require("nslua.cgroup").joined(self.cmd_t0) end
          -- the wall clock (and its limit) of the command runs from its
          -- start, after the set-up and the cgroup join (isolate's way)
          if self.cmd_t0 and self.plan.wait.wall then
            w.wall_deadline = self.cmd_t0 + self.plan.wait.wall
          end
          if self.cmd_pid and w.by_command and w.cpu_limit then
            self._cmd = self:_command_process()
            if self._cmd then self:_defer_close(self._cmd.pidfd) end
          end
          -- on_command(self): once, when the command runs (a front end's
          -- report of it, e.g. bwrap's --info-fd)
          local f = self.cmd_pid and self.on_command
          if f then
            self.on_command = nil
            f(self)
          end
        end
      elseif w.pidfd then
        fds[1] = { fd = w.pidfd, events = IN }
      else
        return true
      end
    end
  end
  if self._gc_resume and proc.now() - self.t0 > M.GC_HOLD then self:_resume_gc() end
  if not w.reason then
    if w.wall_deadline and proc.now() >= w.wall_deadline then
      w.reason = "wall-limit"
    elseif w.cpu_limit and res:cpu_usage(self._cmd) > w.cpu_limit then
      w.reason = "cpu-limit"
    end
    if w.reason then self:_terminate(w.reason) end
  elseif self._kill_init_at and proc.now() >= self._kill_init_at then
    self._kill_init_at = nil
    proc.kill(self._pid, 9)
  end
  return false
end

-- The end of waiting: reap, the report, the after_exit hook, the cleanup.
function Container:_wait_end(w)
  local spec, res = self.spec, self.res
  if w.tty then w.tty:finish() end
  local _, how, code, ru = proc.waitpid(self._pid)
  self._reaped = true
  if w.pidfd then w.pidfd:close() end
  local st = status.parse(table.concat(w.buf))
  if self.plan.init == false and not st.exit and not st.exec and not st.setup and how then
    -- no init wrote the exit record: the child was the command
    st.exit = { how = how, code = code, utime = ru.utime, stime = ru.stime, maxrss = ru.maxrss_kb,
                cutime = ru.utime, cstime = ru.stime, xfsz = how == "signaled" and code == report_mod.SIGXFSZ }
  end
  if not self._last_run then self:_resume_gc() end
  running[self] = nil
  if w.sfd then
    w.sfd:close()
    proc.sigprocmask("setmask", w.old)
  end
  self:_loop_done()
  -- the command's wall time: from its exec tail to its reaping, both the
  -- init's clock readings, so neither waits for us to be scheduled
  local t_end = st.exit and st.exit.end_t and st.exit.end_t - self:_mono_offset()
  if not (t_end and self.cmd_t0 and t_end >= self.cmd_t0) then t_end = proc.now() end
  local rep = report_mod.build {
    status = st, reason = w.reason, wall_s = t_end - (self.cmd_t0 or self.t0),
    start_s = self.cmd_t0 and self.cmd_t0 - self.t0,
    cg = res:stats(), init = { how = how, code = code, ru = ru }, killed = self._killed,
    limits = spec.limits, cmd_cpu_s = res.cmd_cpu_s, landlock = self.plan.exec.landlock,
  }
  self._report = rep
  if spec.hooks and spec.hooks.after_exit then
    local ok, herr = pcall(spec.hooks.after_exit, { id = self.id, pid = self._pid, spec = spec }, rep)
    if not ok then
      rep.status, rep.error = "error", { step = "hook after_exit", message = error_text(herr) }
    end
  end
  self:_unwind()
  return rep
end

--- Wait for the container to end and return its report (see docs/spec.md "Reports").
-- Forwards SIGINT, SIGTERM and SIGHUP to it meanwhile (and proxies a tty).
function Container:wait()
  if not self._pid then error("wait: the container was not started", 2) end
  if self._report then return self._report end
  -- after step(): go on from its state (no signal forwarding then)
  local w = self._w or self:_wait_begin(true)
  self._w = nil
  while not self:_wait_round(w, self:_wait_timeout(w)) do end
  return self:_wait_end(w)
end

--- For an event loop: a descriptor that is readable whenever step() has
-- work (the container's status, a seccomp handler's call, a limit's
-- deadline).  Watch it for input and call step() when it is.  Once step()
-- has returned the report it stays open, and never readable, until close()
-- (so a loop can stop watching it first).
-- @treturn integer the fd (an epoll instance; close() closes it)
function Container:fileno()
  if not self._pid then error("fileno: the container was not started", 2) end
  if self.spec.tty then error("fileno: a container with a tty is waited for with wait()", 2) end
  if not self._ep then
    local ep, err = proc.epoll()
    if not ep then error("fileno: " .. err, 2) end
    local tfd, terr = proc.timerfd()
    if not tfd then
      ep:close()
      error("fileno: " .. terr, 2)
    end
    assert(proc.epoll_ctl(ep, "add", tfd))
    self._ep, self._tfd, self._ep_set = ep, tfd, {}
  end
  if not self._report then
    self._w = self._w or self:_wait_begin(false)
    self:_loop_sync(self._w)
  end
  return self._ep:fileno()
end

-- Watch exactly the fds the waiting state polls, and arm the timer for
-- the next limit check.
function Container:_loop_sync(w)
  if not self._ep then return end
  local want = {}
  for _, e in pairs(w.fds) do
    local n = type(e.fd) == "number" and e.fd or e.fd:fileno()
    want[n] = true
    if not self._ep_set[n] then
      proc.epoll_ctl(self._ep, "add", n)
      self._ep_set[n] = true
    end
  end
  for n in pairs(self._ep_set) do
    if not want[n] then
      proc.epoll_ctl(self._ep, "del", n)   -- fails harmlessly when n was closed
      self._ep_set[n] = nil
    end
  end
  local t = self:_wait_timeout(w)
  proc.timerfd_set(self._tfd, t < 0 and 0 or math.max(t, 1) / 1000)
end

-- The container has ended: empty the set (the timer and every fd leave
-- it), so the fd the caller still watches is never readable again.
function Container:_loop_done()
  if not self._ep then return end
  for n in pairs(self._ep_set) do proc.epoll_ctl(self._ep, "del", n) end
  self._ep_set = {}
  self._tfd:close()
end

function Container:_loop_close()
  if self._ep then
    -- (the timer may be closed already: _loop_done; both boxes may have
    -- been collected first, from __gc)
    if not self._ep:closed() then self._ep:close() end
    if not self._tfd:closed() then self._tfd:close() end
    self._ep, self._tfd, self._ep_set = nil, nil, nil
  end
end

--- For an event loop: do the work that is ready without blocking (read
-- the status, answer seccomp handlers' calls, enforce the cpu and wall
-- limits, reap) and return the report once the container has ended.
-- @treturn table|nil the report, or nil while it runs
function Container:step()
  if not self._pid then error("step: the container was not started", 2) end
  if self._report then return self._report end
  if self.spec.tty then error("step: a container with a tty is waited for with wait()", 2) end
  local w = self._w or self:_wait_begin(false)
  self._w = w
  if self._tfd then proc.read(self._tfd, 8) end   -- the deadline, if it fired
  if self:_wait_round(w, 0) then
    self._w = nil
    return self:_wait_end(w)
  end
  self:_loop_sync(w)
  return nil
end

-- The handlers' side of wait(): the listener arrives on the socket, then
-- each readable listener is one notification answered.  A hang-up of the
-- listener (no task left under the filter) ends the entry.
function Container:_notify_event(fds, i)
  local rv = fds[i].revents
  if not self.supervisor then
    if rv["in"] then
      local listener = proc.recvfd(self._notify_sock)
      if listener then
        self:_defer_close(listener)
        self.supervisor = require("nslua.notify").new(listener, self.res.notify, self.notify_log)
        fds[i] = { fd = listener, events = { ["in"] = true } }
        return
      end
    end
    -- the command never loaded its filter (a set-up failure): stop polling
    if rv.hup or rv.err or rv.nval or rv["in"] then fds[i] = nil end
    return
  end
  if rv["in"] then
    self.supervisor:serve_one()
  elseif rv.hup or rv.err or rv.nval then
    fds[i] = nil
  end
end

-- End every process of the container: the init (its pid namespace takes
-- every member with it), plus the cgroup when there is no pid namespace.
-- The cpu limit of cpu_scope "command" ends the command itself: its init
-- (in no limit cgroup) then writes its exit record with the command's
-- rusage (the report's cpu_s) and takes the rest with it, or is killed a
-- second later.
function Container:_terminate(reason)
  if reason == "cpu-limit" and self._cmd then
    proc.pidfd_send_signal(self._cmd.pidfd, 9)
    if not self.spec.namespaces.pid then self.res:kill() end
    self._kill_init_at = proc.now() + 1
    return
  end
  proc.kill(self._pid, 9)
  if not self.spec.namespaces.pid then self.res:kill() end
end

-- The pid in a process's own (innermost) pid namespace: NSpid's last field.
local function inner_pid(pid)
  local f = io.open(("/proc/%d/status"):format(pid))
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local last
  for n in (s:match("\nNSpid:([^\n]*)") or ""):gmatch("%d+") do last = math.tointeger(tonumber(n)) end
  return last
end

--- The command as our pid namespace sees it, for cpu_scope "command":
-- {pid, start (its start time), pidfd} | nil once it has ended.  The pid
-- record (self.cmd_pid) is the pid in the init's pid namespace (2 in a
-- pid namespace of the sandbox's, another one under pidns_fd): the host
-- pid is the init's child that has that pid there (the init has no other
-- child yet: the executor forks nothing before the command).  Without an
-- init it is the child itself.
function Container:_command_process()
  local cands = {}
  if self.plan.init == false then
    cands[1] = self._pid
  else
    local f = io.open(("/proc/%d/task/%d/children"):format(self._pid, self._pid))
    if not f then return nil end
    for n in f:read("a"):gmatch("%d+") do cands[#cands + 1] = math.tointeger(tonumber(n)) end
    f:close()
  end
  for _, pid in ipairs(cands) do
    local pidfd = proc.pidfd_open(pid)
    if pidfd then
      local _, start = resources.proc_cpu(pid)
      local match = start and (self.plan.init == false or inner_pid(pid) == self.cmd_pid)
      -- still running: what /proc showed was the pidfd's process, not a
      -- later one with its pid
      if match and proc.poll({ { fd = pidfd, events = { ["in"] = true } } }, 0) == 0 then
        return { pid = pid, start = start, pidfd = pidfd }
      end
      pidfd:close()
    end
  end
  return nil
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
  -- whatever wait raises, the collector _launch held must not stay stopped
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
  self:_loop_close()
  running[self] = nil
end
Container.__close = Container.close
Container.__gc = function(self)
  -- only containers that have ended reach here (running ones are held)
  self:_unwind()
  self:_loop_close()
end

--- Remove what owners that are gone left (resources.sweep).
M.sweep = resources.sweep

M.Container = Container
M.running = running

return M
