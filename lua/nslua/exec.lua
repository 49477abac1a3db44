--- nslua.exec: run a command inside a running container: the library
-- behind Container:exec(argv [, opts]) and `nslua exec` (nslua.cli.exec).
-- DESIGN.md "State, names and cleanup" and the exec tail: the container's
-- state record says what its command got; a helper process joins the
-- namespaces that differ with one setns(pidfd, set) (privileged through the
-- init, rootless through the command: the init is non-dumpable), forks so
-- the pid namespace applies, and the child re-applies cgroup membership,
-- ids, rlimits, capabilities, no_new_privs, Landlock and seccomp through
-- proc.exec.
-- The caller's own namespaces never change.
local core = require "nslua.core"
local state = require "nslua.state"
local report = require "nslua.report"
local status = require "nslua.status"

local ns, proc, mount = core.ns, core.proc, core.mount
local errno = core.errno

local M = {}

-- How long exec waits for a container that is still setting up.
M.READY_TIMEOUT = 5.0

local NS_TYPES <const> = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" }
local FORWARD <const> = { "INT", "TERM", "HUP" }

local read = state.read

-- A tab-separated list of a state record ("" or nil: empty).
local function tabs(v)
  local t = {}
  if v == nil then return t end
  for item in tostring(v):gmatch("[^\t]+") do t[#t + 1] = item end
  return t
end
M.tabs = tabs

-- An rlimit value as the record stores it: an integer, or infinity written
-- by tostring(math.huge) ("inf") or as a number too large for a double.
local function rlimit_value(s)
  if s == "inf" or s == "+inf" or s == "unlimited" or s == "math.huge" then return math.huge end
  local n = tonumber(s)
  if n == nil then return nil end
  if n == math.huge then return math.huge end
  return math.tointeger(n)
end

--- The exec plan's parts from a state record's info (pure; for tests too).
-- @treturn table {env = {"K=V"...}, rlimits = {name = n}, caps = {...},
--   namespaces = set, uid, gid, cwd, seccomp, user_mode, cgroup_dirs,
--   landlock (nslua.landlock.from_record), setid_guard (true: the set-id guard),
--   umask}
-- @return[2] nil
-- @treturn[2] string message
function M.parse_record(info)
  local r = { env = {}, rlimits = {}, caps = tabs(info.caps), cgroup_dirs = tabs(info.cgroup_dirs),
              namespaces = {}, user_mode = info.user_mode or "host",
              cwd = info.cwd ~= nil and info.cwd ~= "" and tostring(info.cwd) or "/",
              seccomp = info.seccomp ~= nil and tostring(info.seccomp) or "none",
              setid_guard = tostring(info.setid_guard) == "1" or nil }
  for _, kv in ipairs(tabs(info.env)) do
    if kv:find("=", 2, true) then r.env[#r.env + 1] = kv end
  end
  for _, kv in ipairs(tabs(info.rlimits)) do
    local k, v = kv:match("^([%w_]+)=(.*)$")
    -- "SOFT:HARD" (launch.rlimit_text of a pair) or one value
    local s, h = (v or ""):match("^([^:]+):([^:]+)$")
    local n = k and (s and rlimit_value(s) and rlimit_value(h) and { rlimit_value(s), rlimit_value(h) }
      or rlimit_value(v))
    if not n then return nil, ("bad rlimit '%s' in the state record"):format(kv) end
    r.rlimits[k] = n
  end
  for _, n in ipairs(tabs(info.namespaces)) do r.namespaces[n] = true end
  r.uid = math.tointeger(info.uid)
  r.gid = math.tointeger(info.gid)
  -- the command's umask (spec.umask; absent: the caller's)
  local um = math.tointeger(info.umask)
  if um and um >= 0 and um <= 511 then r.umask = um end
  -- the container's Landlock categories (docs/policy.md)
  if info.landlock ~= nil then r.landlock = require("nslua.landlock").from_record(tabs(info.landlock)) end
  return r
end

-- A record is written aside and swapped or renamed in whole (state.create,
-- state.update), but an older nslua rewrote it in place: a record without
-- owner_pid (every complete one has it) is read again.
local function read_info(dir)
  local info
  for _ = 1, 50 do
    info = state.decode(read(dir .. "/info"))
    if info.owner_pid then return info end
    proc.poll({}, 10)
  end
  return info
end

local function list_records(root)
  local recs
  for _ = 1, 50 do
    recs = state.list(root)
    local complete = true
    for _, rec in ipairs(recs) do
      if not rec.info.owner_pid then complete = false end
    end
    if complete then return recs end
    proc.poll({}, 10)
  end
  return recs
end

local function not_running(name)
  return nil, ("exec: container '%s' is not running"):format(name), errno.ESRCH
end

--- Find a container's state record by id or name.
-- @tparam string target id or name
-- @tparam[opt] string root state directory (state.root())
-- @treturn[1] table {id, dir, info, alive}
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.find(target, root)
  if type(target) ~= "string" or target == "" then
    error("exec: the target must be a container id or name", 2)
  end
  local err, code
  if not root then
    root, err, code = state.root()
    if not root then return nil, "exec: " .. err, code end
  end
  local found = {}
  for _, rec in ipairs(list_records(root)) do
    if rec.id == target or tostring(rec.info.name or "") == target then
      found[#found + 1] = rec
    end
  end
  if #found == 0 then
    return nil, ("exec: no container '%s'"):format(target), errno.ENOENT
  end
  -- a name may be reused: prefer the live ones; refuse to guess among several
  local live = {}
  for _, rec in ipairs(found) do
    if rec.id == target then return rec end
    if rec.alive and state.alive(rec.info.init_pid, rec.info.init_start) then live[#live + 1] = rec end
  end
  if #live > 1 then
    local ids = {}
    for i, rec in ipairs(live) do ids[i] = rec.id end
    return nil, ("exec: the name '%s' is ambiguous (ids %s)"):format(target, table.concat(ids, " ")),
      errno.EINVAL
  end
  return live[1] or found[1]
end

-- The fields of /proc/<pid>/stat after the comm (which may hold spaces and
-- parentheses): [1] state, [2] ppid, ...
local function stat_fields(pid)
  local st = read("/proc/" .. pid .. "/stat")
  local rest = st and st:match(".*%)%s+(.*)")
  if not rest then return nil end
  local t = {}
  for f in rest:gmatch("%S+") do t[#t + 1] = f end
  return t
end

-- The pid of a process in the innermost pid namespace it belongs to.
local function inner_pid(pid)
  local s = read("/proc/" .. pid .. "/status") or ""
  local line = s:match("\nNSpid:([^\n]*)")
  local last
  for n in (line or ""):gmatch("%d+") do last = tonumber(n) end
  return last
end

--- The container's command as the host sees it: the child of the init
-- whose pid inside is cmd_nspid (when recorded), else the one that was
-- forked first (the lowest pid inside).  nil when there is none yet.
function M.command_pid(init_pid, cmd_nspid)
  local best, best_inner
  for _, name in ipairs(mount.readdir("/proc") or {}) do
    local pid = math.tointeger(tonumber(name))
    if pid then
      local f = stat_fields(pid)
      if f and tonumber(f[2]) == init_pid and f[1] ~= "Z" then
        local inner = inner_pid(pid)
        if inner and cmd_nspid and inner == cmd_nspid then return pid end
        if inner and (not best_inner or inner < best_inner) then best, best_inner = pid, inner end
      end
    end
  end
  if cmd_nspid then return nil end
  return best
end

local function sleep(s)
  proc.poll({}, math.floor(s * 1000))
end

-- Wait until the container's set-up is over: the init has forked the
-- command (its namespaces are final from then on) and, when the command
-- runs in a nested user namespace, that namespace has its maps.
local function wait_ready(rec, nested)
  local info = rec.info
  local deadline = proc.now() + M.READY_TIMEOUT
  while true do
    if not state.alive(info.init_pid, info.init_start) then return nil end
    -- no init (spec.init = false): the child is the command
    if info.no_init == 1 and not nested then return info.init_pid end
    -- the record gains cmd_nspid once the owner has read it
    local fresh = read_info(rec.dir)
    local cmd = M.command_pid(info.init_pid, math.tointeger(fresh.cmd_nspid))
    if cmd then
      local ready = true
      if nested then
        ready = (read("/proc/" .. cmd .. "/uid_map") or "") ~= ""
          and (ns.id(cmd, "user") ~= ns.id(info.init_pid, "user"))
      end
      if ready then return cmd end
    end
    if proc.now() > deadline then return nil end
    sleep(0.01)
  end
end

-- The cgroup.procs fds the command joins: the limit cgroups of the record,
-- and (privileged) the command's own group in every other hierarchy, so
-- the exec'd process sits where the container's command does.
local function cgroup_fds(r, cmd, privileged)
  local ccg = core.cgroup
  local fds, mounts = {}, {}
  for _, dir in ipairs(r.cgroup_dirs) do
    local fd, err, code = ccg.open(dir .. "/cgroup.procs", "w")
    if not fd then
      for _, f in ipairs(fds) do f:close() end
      return nil, "cgroup: " .. err, code
    end
    fds[#fds + 1] = fd
  end
  if privileged and cmd then
    local ok, cgroup = pcall(require, "nslua.cgroup")
    local text = read("/proc/" .. cmd .. "/cgroup")
    local layout = ok and text and cgroup.detect(nil, text)
    for _, h in ipairs(layout and layout.hierarchies or {}) do
      local covered = false
      for _, dir in ipairs(r.cgroup_dirs) do
        if dir:sub(1, #h.mount + 1) == h.mount .. "/" then covered = true end
      end
      if not covered and not mounts[h.mount] then
        mounts[h.mount] = true
        local fd = ccg.open(h.dir .. "/cgroup.procs", "w")
        if fd then fds[#fds + 1] = fd end
      end
    end
  end
  return fds
end

local listener_plan  -- (below)

-- Everything the helper and the command need, prepared in the caller (whose
-- mount namespace still shows the host's cgroup files and the profile).
local function prepare(rec, argv, opts)
  local name = rec.name or rec.id
  local info = rec.info
  -- a record gains init_pid right after the owner's clone
  local deadline = proc.now() + M.READY_TIMEOUT
  while not info.init_pid and rec.alive and proc.now() < deadline do
    proc.poll({}, 10)
    info = read_info(rec.dir)
    rec.info, rec.alive = info, state.alive(info.owner_pid, info.owner_start)
      or (info.detached == 1 and state.alive(info.init_pid, info.init_start))
  end
  if not info.init_pid or not rec.alive or not state.alive(info.init_pid, info.init_start) then
    return not_running(name)
  end
  local r, perr = M.parse_record(info)
  if not r then return nil, "exec: " .. perr, errno.EINVAL end
  local privileged = proc.getuid() == 0
  -- (a "join" container keeps them in the joined namespace: no nested one)
  -- opts.caps: the process's own (an OCI exec's process.capabilities)
  if opts.caps then r.caps = opts.caps end
  -- beside the set-id guard (a read-write mount writes as host root), the
  -- capabilities that would get round it are refused
  if r.setid_guard then
    local lists = { r.caps }
    for _, list in pairs(opts.cap_sets or {}) do lists[#lists + 1] = list end
    local c = require("nslua.seccomp").setid_guard_cap(table.unpack(lists))
    if c then
      return nil, ("exec: caps: %s in container '%s', whose read-write idmapped mounts "
        .. "write as host root (docs/roots.md)"):format(c, name), errno.EPERM
    end
  end
  -- (an "explicit" container's caps are its own user namespace's: no nested one)
  local kept = #r.caps > 0 and r.user_mode ~= "host" and r.user_mode ~= "join" and r.user_mode ~= "explicit"
  -- the nested user namespace is the container's (its command's): one
  -- that keeps no capabilities has none for an exec's to belong to
  if kept and opts.caps and #tabs(info.caps) == 0 then
    return nil, ("exec: caps: container '%s' keeps no capabilities, so its command has no "
      .. "nested user namespace for them (start it with the capabilities)"):format(name), errno.EINVAL
  end
  if kept and not privileged then
    return nil, ("exec: container '%s' keeps capabilities in a nested user namespace, "
      .. "which a rootless exec cannot join (its parent, the container's, is only "
      .. "reachable through the non-dumpable init)"):format(name), errno.EPERM
  end
  -- The command's own seccomp programs, kept beside its record (the record
  -- says how many): an exec never compiles a profile file again (the
  -- payload may have rewritten it, or a relative path names another) and
  -- keeps the raw programs.  With none kept (a built-in profile alone):
  -- the built-in profile.  A record of an older nslua says nothing: its
  -- built-in profile, or opts.seccomp for "custom" (an OCI front end reads
  -- the profile from the bundle again); its raw programs are not known.
  local count = math.tointeger(info.seccomp_programs)
  local progs, rerr = state.read_programs(rec.dir, count)
  if rerr or (count and count > 0 and not progs) then
    return nil, ("exec: container '%s': its seccomp programs: %s"):format(name, rerr or "missing"),
      errno.EINVAL
  end
  if not count and opts.seccomp ~= nil and r.seccomp == "custom" then r.seccomp = opts.seccomp end
  if not progs and not (type(r.seccomp) == "table" or state.BUILTIN_PROFILES[r.seccomp]) then
    return nil, ("exec: container '%s' runs seccomp profile '%s', whose programs its record does not "
      .. "keep (it was started by an older nslua)"):format(name, tostring(r.seccomp)), errno.EINVAL
  end
  local cmd = wait_ready(rec, kept)
  if not cmd then
    if not state.alive(info.init_pid, info.init_start) then return not_running(name) end
    return nil, ("exec: container '%s' has no running command"):format(name), errno.ESRCH
  end

  -- the process whose namespaces we join
  local target = privileged and info.init_pid or cmd
  local p = { kept = kept }
  local set = {}
  for _, t in ipairs(NS_TYPES) do
    local mine = ns.id(0, t)
    local theirs, err, code = ns.id(target, t)
    if mine and not theirs then return nil, "exec: " .. err, code end
    -- a nested user namespace is joined after the container's own
    if theirs and mine ~= theirs then set[t] = true end
  end
  p.set = next(set) and set or nil
  local pidfd, err, code = proc.pidfd_open(target)
  if not pidfd then return nil, "exec: " .. err, code end
  p.pidfd = pidfd
  if kept then
    -- the payload runs in a nested user namespace (DESIGN "Mounts"): join
    -- that one after the container's, so the kept capabilities belong to a
    -- namespace that owns no mount namespace, as the payload's do
    p.nested, err, code = ns.open(cmd, "user")
    if not p.nested then
      pidfd:close()
      return nil, "exec: " .. err, code
    end
  end

  -- the command's environment, then the caller's additions
  local env, pos = {}, {}
  -- opts.env_only: the caller's env is the whole environment (an OCI process)
  for _, kv in ipairs(opts.env_only and {} or r.env) do
    local k = kv:match("^([^=]+)=")
    pos[k] = #env + 1
    env[#env + 1] = kv
  end
  for k, v in pairs(opts.env or {}) do
    local kv = k .. "=" .. tostring(v)
    if pos[k] then env[pos[k]] = kv else env[#env + 1] = kv end
  end

  local xo = {
    cwd = opts.cwd or r.cwd,
    rlimits = r.rlimits,
    caps = r.caps,
    keep_caps = #r.caps > 0 or nil,
  }
  if r.user_mode ~= "host" then
    xo.uid, xo.gid = r.uid, r.gid
    if r.user_mode == "slot" then xo.groups = {} end
  end
  -- opts.uid / opts.gid: the ids inside (an OCI exec's process.user)
  if opts.uid then xo.uid, xo.gid, xo.groups = opts.uid, opts.gid or 0, opts.groups or {} end
  -- opts.cap_sets: the five OCI sets, applied as the container's own
  -- process's are (ambient only when listed and inheritable)
  if opts.cap_sets then xo.cap_sets = opts.cap_sets end
  -- an OCI process's rlimits (instead of the container's), umask and
  -- no_new_privs = false (the filters then load before the capability drop)
  if opts.rlimits then xo.rlimits = require("nslua.launch").exec_rlimits(opts.rlimits) end
  xo.umask = opts.umask or r.umask
  if opts.no_new_privs == false then xo.no_new_privs = false end
  local prep
  if progs then
    if progs.handlers then
      pidfd:close()
      if p.nested then p.nested:close() end
      return nil, ("exec: container '%s': its syscalls go to Lua handlers, which only the "
        .. "container's own nslua serves"):format(name), errno.EINVAL
    end
    xo.seccomp = progs.main
    xo.seccomp_layers = #progs.layers > 0 and progs.layers or nil
    xo.seccomp_bpf = #progs.bpf > 0 and progs.bpf or nil
    if progs.listener then prep = { listener = true, notify = progs.notify } end
  elseif r.seccomp ~= "none" then
    -- every filter the container's command has: the profile, its layers,
    -- and its "notify" rules' filter (below); never the profile with its
    -- handled syscalls merely allowed
    local ok, serr, scode
    ok, prep, serr, scode = pcall(require("nslua.seccomp").prepare, r.seccomp, { caps = r.caps })
    if ok and prep and prep.handlers then
      prep, serr, scode = nil, "its syscalls go to Lua handlers, which only the container's own "
        .. "nslua serves", errno.EINVAL
    end
    if not ok or not prep then
      pidfd:close()
      if p.nested then p.nested:close() end
      return nil, ("exec: seccomp '%s': %s"):format(type(r.seccomp) == "table" and "custom" or r.seccomp,
        tostring(ok and serr or prep)), ok and scode or errno.EINVAL
    end
    xo.seccomp = prep.bpf
    xo.seccomp_layers = prep.layers and #prep.layers > 0 and prep.layers or nil
  end
  -- the container's set-id guard (a read-write mount writes as host root)
  if r.setid_guard then
    local guard, gerr, gcode = require("nslua.seccomp").compile("setid_guard")
    if not guard then
      pidfd:close()
      if p.nested then p.nested:close() end
      return nil, "exec: " .. gerr, gcode
    end
    xo.seccomp_guard = guard
  end
  -- the container's Landlock ruleset, for this kernel's ABI
  if r.landlock then
    local abi, lerr, lcode = core.landlock.abi()
    if not abi then
      pidfd:close()
      if p.nested then p.nested:close() end
      return nil, ("exec: landlock: this kernel cannot enforce it (%s)"):format(lerr), lcode
    end
    xo.landlock = require("nslua.landlock").plan(r.landlock, abi)
  end
  local cfds, cerr, ccode = cgroup_fds(r, cmd, privileged)
  if not cfds then
    pidfd:close()
    if p.nested then p.nested:close() end
    return nil, "exec: " .. cerr, ccode
  end
  xo.cgroup_procs = cfds
  -- "notify" rules: their filter too, its listener to the agent
  if prep and prep.listener then
    -- the caller's (an OCI front end reads it from the config), else the record's
    local l = opts.seccomp_listener
    if l == nil and type(info.seccomp_listener) == "string" then
      local okd, t = pcall(require("cjson").decode, info.seccomp_listener)
      l = okd and type(t) == "table" and t or nil
    end
    local lerr, lcode = listener_plan(p, xo, prep, l, { id = name, status = "running", pid = info.init_pid })
    if lerr then
      pidfd:close()
      if p.nested then p.nested:close() end
      for _, fd in ipairs(cfds) do fd:close() end
      return nil, "exec: " .. lerr, lcode
    end
  end
  p.argv, p.env, p.opts, p.detach, p.console = argv, env, xo, opts.detach, opts.console
  return p
end

local function close_plan(p)
  p.pidfd:close()
  if p.listener then
    p.listener.w:close()
    p.opts.notify_sock:close()
    p.opts.notify_state:close()
  end
  if p.console and not p.console:closed() then p.console:close() end
  if p.nested then p.nested:close() end
  for _, fd in ipairs(p.opts.cgroup_procs) do fd:close() end
end

-- The exec'd command's listener goes to the container's seccomp agent
-- (OCI exec of a container whose profile has "notify" rules), as runc
-- sends it: connected here, in the caller's mount namespace; the helper
-- writes the state once it knows the command's pid.  -> nil or err, code
listener_plan = function(p, xo, prep, l, st)
  if l == nil then
    return "seccomp: action \"notify\" needs seccomp_listener (opts.seccomp_listener, or the "
      .. "container's record)", errno.EINVAL
  end
  local err, code
  l, err = require("nslua.validate").check_listener(l)
  if not l then return err, errno.EINVAL end
  local sock
  sock, err, code = proc.connect_unix(l.path)
  if not sock then return ("seccomp_listener.path: %s"):format(err), code end
  -- blocking: the command waits in its exec tail until the helper wrote
  local r, w
  r, w, code = proc.pipe()
  if not r then
    sock:close()
    return w, code
  end
  xo.seccomp_notify, xo.notify_sock, xo.notify_state = prep.notify, sock, r
  p.listener = { l = l, st = st, w = w }
end

-- The helper process: joins, forks the command, then supervises it as
-- proc.init does for a container.  Never returns.  Its status records are
-- the executor's (csrc/status.h, parsed by nslua.status): "setup", "pid",
-- the command's exec tail's "exec", and the init's "exit".
local function helper_main(p, status_w)
  local function fail(step, msg, code)
    proc.status(status_w, "setup", step, code or 0, tostring(msg))
    proc._exit(1)
  end
  -- What the payload reads in /proc/PID/cmdline of the command until its
  -- execve: never the caller's command line (as the executor's nslua-init).
  proc.set_title("nslua-exec")
  do
    -- non-dumpable before it joins anything, and so is the command it forks
    -- until its execve: the payload can never ptrace or read this copy of
    -- the caller's memory (DESIGN "Trust rules"; runc CVE-2016-9962)
    local ok, err, code = proc.prctl("dumpable", false)
    if not ok then fail("dumpable", err, code) end
    -- a session keyring of its own, as the executor's child
    ok, err, code = proc.new_session_keyring()
    if not ok then fail("keyring", err, code) end
  end
  if not p.detach then proc.prctl("pdeathsig", 9) end
  if p.set then
    local ok, err, code = ns.setns(p.pidfd, p.set)
    if not ok then fail("setns", err, code) end
  end
  if p.nested then
    -- the nested namespace denies setgroups: the groups go first
    if p.opts.groups then
      local ok, err, code = proc.setgroups(p.opts.groups)
      if not ok then fail("ids", err, code) end
      p.opts.groups = nil
    end
    local ok, err, code = ns.setns(p.nested, "user")
    if not ok then fail("setns", err, code) end
  end
  -- opts.console (a socket connected to an OCI engine's console socket):
  -- a pty of the container's own devpts (its /dev/ptmx, opened in its mount
  -- namespace), the master sent to the engine, the slave the command's
  -- stdio and controlling terminal
  local slave
  if p.console then
    local master, serr, scode
    master, slave = proc.openpty("/dev/ptmx")
    if not master then fail("tty", slave, 0) end
    local sok
    sok, serr, scode = proc.sendfd(p.console, master)
    if not sok then fail("tty", serr, scode) end
    master:close()
    p.console:close()
  end
  local pid, err, code = ns.clone()
  if not pid then fail("fork", err, code) end
  if pid == 0 then
    if slave then
      for fd = 0, 2 do
        local dok, derr, dcode = proc.dup2(slave, fd)
        if not dok then fail("tty", derr, dcode) end
      end
      p.opts.tty = true
    end
    p.opts.status_fd = status_w
    local ok, why = pcall(proc.exec, p.argv, p.env, p.opts)
    fail("exec", ok and "returned" or why, 0)
  end
  if slave then slave:close() end
  -- the state that goes with the command's listener names its host pid
  -- (our pid namespace is still the caller's)
  if p.listener then
    local text, lerr, lcode = require("nslua.seccomp").listener_message(p.listener.l, pid, p.listener.st)
    if text then
      local n
      n, lerr, lcode = proc.write(p.listener.w, text)
      if n ~= #text then text = nil end
    end
    p.listener.w:close()
    if not text then
      proc.kill(pid, 9)
      fail("seccomp", "seccomp_listener: " .. tostring(lerr), lcode)
    end
  end
  proc.status(status_w, "pid", pid)
  -- opts.detach: the command is left to our parent's subreaper (an OCI
  -- engine's conmon or shim), which the pid record names it to
  if p.detach then
    proc._exit(0)
  end
  -- keep only the status pipe, reap the command (and what it leaves),
  -- forward signals, and write the "exit" record
  proc.init(pid, status_w)
end

-- The result of a run from the status records (see helper_main).
local function result_of(text, helper_how, helper_code)
  local st = status.parse(text)
  local r = {}
  local ex = st.exit
  if st.setup then
    r.status = "error"
    r.error = { step = st.setup.step, errno = st.setup.errno, message = st.setup.msg }
  elseif st.exec then
    local e = st.exec
    r.status = "error"
    r.error = { step = e.step, errno = e.errno, message = ("exec %s: %s"):format(e.step, report.strerror(e.errno)) }
    if e.step == "execve" then r.exit_code = report.exec_exit_code(e.errno) end
  elseif ex and ex.how == "signaled" then
    r.status, r.signal = "signaled", ex.code
  elseif ex then
    r.status, r.exit_code = "exited", ex.code
  else
    r.status = "error"
    r.error = { step = "helper", message = ("the exec helper ended (%s %s) without a status")
      :format(tostring(helper_how), tostring(helper_code)) }
  end
  return r
end

-- Run the plan: fork the helper, forward signals to the command, collect.
local function run(p)
  local t0 = proc.now()
  local status_r, status_w = proc.pipe()
  local old = proc.sigprocmask("block", FORWARD)
  local sfd = proc.signalfd(FORWARD)
  io.stdout:flush()
  io.stderr:flush()
  local pid, err, code = ns.clone()
  if pid == 0 then
    status_r:close()
    local ok, why = pcall(helper_main, p, status_w)
    proc.status(status_w, "setup", "helper", 0, ok and "returned" or tostring(why))
    proc._exit(1)
  end
  status_w:close()
  close_plan(p)
  if not pid then
    sfd:close()
    status_r:close()
    proc.sigprocmask("setmask", old)
    return nil, "exec: " .. err, code
  end
  local buf, cmd, pending, detached = {}, nil, {}, nil
  local fds = { { fd = status_r, events = { ["in"] = true } },
                { fd = sfd, events = { ["in"] = true } } }
  while true do
    local n = proc.poll(fds, -1)
    if n and n > 0 then
      local rv = fds[2].revents
      if rv and rv["in"] then
        local signo = proc.sigread(sfd)
        if signo then
          if cmd then proc.pidfd_send_signal(cmd, signo) else pending[#pending + 1] = signo end
        end
      end
      rv = fds[1].revents
      if rv and (rv["in"] or rv.hup) then
        local data = proc.read(status_r, 4096)
        if not data or data == "" then break end
        buf[#buf + 1] = data
        local cpid = not cmd and status.parse(table.concat(buf)).cmd_pid
        if cpid and p.detach then
          detached = cpid
        elseif cpid then
          -- a pidfd: the helper reaps the command, its pid may be reused
          cmd = proc.pidfd_open(cpid)
          for _, s in ipairs(cmd and pending or {}) do proc.pidfd_send_signal(cmd, s) end
          pending = {}
        end
      end
    end
  end
  local _, how, hcode = proc.waitpid(pid)
  if cmd then cmd:close() end
  sfd:close()
  status_r:close()
  proc.sigprocmask("setmask", old)
  local st = detached and status.parse(table.concat(buf))
  local r = (st and not st.setup and not st.exec) and { status = "detached", pid = detached }
    or result_of(table.concat(buf), how, hcode)
  r.wall_s = proc.now() - t0
  return r
end

local function check_argv(argv, level)
  if type(argv) ~= "table" or #argv == 0 then
    error("exec: argv must be a non-empty list of strings", level + 1)
  end
  for i, a in ipairs(argv) do
    if type(a) ~= "string" then
      error(("exec: argv[%d] must be a string"):format(i), level + 1)
    end
  end
end

local function check_opts(opts, level)
  if opts == nil then return {} end
  if type(opts) ~= "table" then error("exec: opts must be a table", level + 1) end
  local valid = { env = true, cwd = true, env_only = true, uid = true, gid = true, detach = true,
                  seccomp = true, caps = true, cap_sets = true, groups = true, console = true,
                  seccomp_listener = true, rlimits = true, umask = true, no_new_privs = true }
  for k in pairs(opts) do
    if not valid[k] then
      error(("exec: unknown option '%s' (valid: cap_sets caps console cwd detach env env_only gid groups "
        .. "no_new_privs rlimits seccomp seccomp_listener uid umask)")
        :format(tostring(k)),
        level + 1)
    end
  end
  if opts.env ~= nil and type(opts.env) ~= "table" then error("exec: opts.env must be a table", level + 1) end
  if opts.umask ~= nil and not (math.type(opts.umask) == "integer" and opts.umask >= 0 and opts.umask <= 511) then
    error("exec: opts.umask must be an integer in 0..0777", level + 1)
  end
  if opts.no_new_privs ~= nil and type(opts.no_new_privs) ~= "boolean" then
    error("exec: opts.no_new_privs must be a boolean", level + 1)
  end
  if opts.rlimits ~= nil then
    local bad = type(opts.rlimits) ~= "table"
    for k, v in pairs(bad and {} or opts.rlimits) do
      if type(k) ~= "string" or type(v) ~= "table" or v.soft == nil or v.hard == nil then bad = true end
    end
    if bad then error("exec: opts.rlimits must be { NAME = { soft = N, hard = N }, ... }", level + 1) end
  end
  if opts.cwd ~= nil and type(opts.cwd) ~= "string" then error("exec: opts.cwd must be a string", level + 1) end
  return opts
end

--- Run argv inside a running container and wait for it.
-- @param target the container's id or name, or a record {id, dir [, name]}
--   (its state directory: what Container:exec passes)
-- @tparam {string,...} argv
-- @tparam[opt] table opts env = {K = V} (added to the container's), cwd
-- @treturn[1] table result {status = "exited"|"signaled"|"error", exit_code,
--   signal, wall_s, error = {step, errno, message}}; report.exit_code(result)
--   is the CLI's exit code (127/126 for a command not found / not executable)
-- @return[2] nil
-- @treturn[2] string message ("exec: no container 'x'", "... is not running")
-- @treturn[2] integer errno
function M.exec(target, argv, opts)
  check_argv(argv, 2)
  opts = check_opts(opts, 2)
  local rec, err, code
  if type(target) ~= "table" and (type(target) ~= "string" or target == "") then
    error("exec: the target must be a container id or name", 2)
  end
  if type(target) == "table" then
    if type(target.dir) ~= "string" then error("exec: a target record needs its state dir", 2) end
    if not read(target.dir .. "/info") then return not_running(target.name or target.id or target.dir) end
    local info = read_info(target.dir)
    rec = { id = target.id, dir = target.dir, info = info, name = target.name,
            alive = state.alive(info.owner_pid, info.owner_start)
              or (info.detached == 1 and state.alive(info.init_pid, info.init_start)) }
  else
    rec, err, code = M.find(target)
    if not rec then return nil, err, code end
    rec.name = target
  end
  local p
  p, err, code = prepare(rec, argv, opts)
  if not p then return nil, err, code end
  return run(p)
end

return M
