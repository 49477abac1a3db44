--- nslua.notify: the supervisor of a profile's Lua handlers (seccomp user
-- notification), run in the nslua process while the container is waited for.
--
-- A handler is called with a request and answers its syscall:
--
--   true                  the kernel runs the call (SECCOMP_USER_NOTIF_FLAG_CONTINUE)
--   false [, errno]       the call fails (EPERM by default)
--   "value", N            the call returns N without running
--   "fd", FD [, cloexec]  the call returns a copy of FD installed in the
--                         target (SECCOMP_IOCTL_NOTIF_ADDFD); the supervisor
--                         closes FD afterwards
--
-- The request: req.pid, req.id, req.nr, req.syscall (its name), req.arch
-- (the AUDIT_ARCH_* value), req.args[0..5] (0-based, as the profile's
-- args.index and seccomp(2)), req.ip, and readers of the target's memory:
-- req:bytes(i, n), req:string(i [, max]), req:sockaddr(i) (length in
-- args[i+1]), req:path(i) (a path argument made absolute against the
-- target's cwd or the dirfd in args[i-1] for the *at calls), and
-- req:open(path, flags [, mode [, beneath]]) to emulate an open in the
-- target's root with the target's fs ids, req:getfd(n), req:connect(fd,
-- addr, timeout_ms) and req:mount(target, fstype, flags, data).  Every read
-- re-checks that the notification is still pending (the pid still names
-- the same blocked task); the emulations open their handles on the target
-- first and check then, so a reused pid is never acted on.
--
-- Answering true after checking a pointer argument is never a security
-- decision: the kernel reads the memory again when the call runs, and
-- another thread of the target can change it in between.  A handler that
-- enforces a path or an address emulates the call (req:open and an "fd"
-- answer) or refuses it; docs/policy.md shows both.
local core = require "nslua.core"

local notify, proc, mount = core.notify, core.proc, core.mount
local errno = core.errno

local M = {}

local EPERM <const> = errno.EPERM
local PATH_MAX <const> = 4096
local AT_FDCWD <const> = -100

-- Raised by a reader when the target is gone: the request is dropped quietly.
local GONE = setmetatable({}, { __tostring = function() return "the target is gone" end })
M.GONE = GONE

-- syscall names per arch, filled on first use
local names = {}

local Req = {}
Req.__index = Req

local function check_index(i, what)
  if math.type(i) ~= "integer" or i < 0 or i > 5 then
    error(("%s: argument index must be 0..5 (0-based, as in seccomp(2))"):format(what), 3)
  end
end

--- Is the notification still pending?
function Req:valid()
  return notify.valid(self._fd, self.id)
end

-- /proc/PID/mem, opened for this request only and checked against pid
-- reuse: a cache across requests could read another task's memory after a
-- thread's id was reused.
function Req:_mem()
  if self._parent then return self._parent:_mem() end
  local m = self._memfd
  if m then return m end
  local fd = proc.open(("/proc/%d/mem"):format(self.pid), { rdonly = true })
  if not fd or not self:valid() then
    if fd then fd:close() end
    error(GONE, 0)
  end
  self._memfd = fd
  return fd
end

-- Reads are cached per request: every layer of a composed profile, and
-- the second run of an emulating layer, see the very same bytes.
local function read(self, addr, n, cstring)
  local key = ("%d:%d:%s"):format(addr, n, cstring and "s" or "b")
  local cache = self._cache
  local hit = cache[key]
  if hit ~= nil then return hit or nil end
  local data = notify.read(self:_mem(), addr, n, cstring)
  if not self:valid() then error(GONE, 0) end
  cache[key] = data or false
  return data
end

--- n bytes at the pointer in argument i (fewer when memory ends).
function Req:bytes(i, n)
  check_index(i, "req:bytes")
  return read(self, self.args[i], n, false)
end

--- The NUL-terminated string at the pointer in argument i.
-- @return string, or nil and a message when it is longer than max
--   (default PATH_MAX) or unreadable
function Req:string(i, max)
  check_index(i, "req:string")
  max = max or PATH_MAX
  local s = read(self, self.args[i], max + 1, true)
  if not s then return nil, "unreadable" end
  if #s > max then return nil, "longer than " .. max end
  return s
end

local AF <const> = { [1] = "unix", [2] = "inet", [10] = "inet6" }

local function ntoh16(s, at)
  return s:byte(at) * 256 + s:byte(at + 1)
end

--- The socket address at the pointer in argument i, its length in i + 1:
-- { family = "inet" | "inet6" | "unix" | number, addr = "192.0.2.1" |
-- "2001:db8::1", port = N, path = "/x" | "@abstract" }.
function Req:sockaddr(i)
  check_index(i, "req:sockaddr")
  local len = i < 5 and self.args[i + 1] or 0
  if len < 2 then return nil, "too short" end
  local raw = read(self, self.args[i], math.min(len, 128), false)
  if #raw < 2 then return nil, "unreadable" end
  local fam = raw:byte(1) + raw:byte(2) * 256
  local out = { family = AF[fam] or fam }
  if fam == 2 and #raw >= 8 then
    out.port = ntoh16(raw, 3)
    out.addr = ("%d.%d.%d.%d"):format(raw:byte(5, 8))
  elseif fam == 10 and #raw >= 24 then
    out.port = ntoh16(raw, 3)
    local w = {}
    for k = 0, 7 do w[k + 1] = ("%x"):format(ntoh16(raw, 9 + 2 * k)) end
    -- the longest run of zero words becomes "::"
    local best, bestlen, run, runlen = nil, 1, nil, 0
    for k = 1, 8 do
      if w[k] == "0" then
        run, runlen = run or k, runlen + 1
        if runlen > bestlen then best, bestlen = run, runlen end
      else
        run, runlen = nil, 0
      end
    end
    local text = table.concat(w, ":")
    if best then
      text = table.concat(w, ":", 1, best - 1) .. "::" .. table.concat(w, ":", best + bestlen, 8)
    end
    out.addr = text
  elseif fam == 1 then
    local p = raw:sub(3)
    if p:byte(1) == 0 then
      out.path = "@" .. p:sub(2)
    else
      out.path = p:match("^[^%z]*")
    end
  end
  return out
end

-- the *at calls: their dirfd is the argument before the path
local DIRFD_BEFORE <const> = {
  openat = true, openat2 = true, mkdirat = true, mknodat = true, unlinkat = true,
  fchownat = true, fchmodat = true, fchmodat2 = true, faccessat = true, faccessat2 = true,
  newfstatat = true, readlinkat = true, utimensat = true, execveat = true, statx = true,
  name_to_handle_at = true, symlinkat = false,
}

local function join(dir, rel)
  if rel == "" then return dir end
  if dir:sub(-1) == "/" then return dir .. rel end
  return dir .. "/" .. rel
end

--- The path argument i made absolute as the target sees it: relative
-- paths against its cwd, or the directory fd before it in the *at calls.
-- The result names the target's tree (its root is "/"); resolve it only
-- through req:open, which stays inside that root.
function Req:path(i)
  local p, err = self:string(i)
  if not p then return nil, err end
  if p:sub(1, 1) == "/" then return p end
  local link = ("/proc/%d/cwd"):format(self.pid)
  if DIRFD_BEFORE[self.syscall] and i > 0 then
    local dfd = self.args[i - 1] & 0xffffffff
    if dfd >= 0x80000000 then dfd = dfd - 0x100000000 end
    if dfd ~= AT_FDCWD then link = ("/proc/%d/fd/%d"):format(self.pid, dfd) end
  end
  local base = self._cache[link]
  if base == nil then
    base = mount.readlink(link) or false
    if not self:valid() then error(GONE, 0) end
    self._cache[link] = base
  end
  if not base or base:sub(1, 1) ~= "/" then return nil, "cannot resolve the directory" end
  return join(base, p)
end

--- Open 'path' (absolute, as the target sees it) in the target's root with
-- its fs uid, gid and umask, for an "fd" answer: flags as openat's integer
-- flags.  With 'beneath' (a directory the path is under), neither ".."
-- nor a symlink may leave that directory (EXDEV).
-- A dry run's stand-in for an fd an emulation would give.
local DRY_FD = setmetatable({}, { __index = { close = function() end, closed = function() return true end } })

--- The request for a dry run (the layers of a composed profile are all
-- asked before any emulation happens): reads are real and shared, the
-- emulations (open, getfd, connect, mount) do nothing and succeed.
function Req:_dry()
  local d = setmetatable({}, Req)
  for k, v in pairs(self) do d[k] = v end
  d._parent, d._dry_run, d._memfd = self, true, nil
  return d
end

function Req:open(path, flags, mode, beneath)
  if self._dry_run then return DRY_FD end
  local fd, err, code = notify.open(self._fd, self.id, self.pid, path, flags, mode or 0, beneath)
  if not fd and code == errno.ESRCH and not self:valid() then error(GONE, 0) end
  return fd, err, code
end

--- A copy of the target's descriptor n (pidfd_getfd), for an "fd" answer.
function Req:getfd(n)
  if self._dry_run then return DRY_FD end
  local fd, err, code = notify.getfd(self._fd, self.id, self.pid, n)
  if not fd and code == errno.ESRCH and not self:valid() then error(GONE, 0) end
  return fd, err, code
end

--- Emulate connect(fd, addr) on the target's own socket with the address
-- bytes the handler checked: returns 0 or the errno the target's call
-- returns (a blocking TCP connect waits up to timeout_ms here).
function Req:connect(fd, addr, timeout_ms)
  if self._dry_run then return 0 end
  local r, err, code = notify.connect(self._fd, self.id, self.pid, fd, addr, timeout_ms)
  if not r and code == errno.ESRCH and not self:valid() then error(GONE, 0) end
  return r, err, code
end

--- Mount a new 'fstype' on 'target' (absolute, as the target sees it) in
-- the target's mount namespace, owned by its fs ids, nosuid and nodev.
function Req:mount(target, fstype, flags, data)
  if self._dry_run then return true end
  local ok, err, code = notify.mount(self._fd, self.id, self.pid, target, fstype, flags, data)
  if not ok and code == errno.ESRCH and not self:valid() then error(GONE, 0) end
  return ok, err, code
end

function Req:_done()
  if self._memfd then
    self._memfd:close()
    self._memfd = nil
  end
end

----------------------------------------------------------------------------
-- The supervisor
----------------------------------------------------------------------------

local Sup = {}
Sup.__index = Sup

--- A supervisor for one listener.
-- @param listener fd box (the exec tail's SECCOMP_FILTER_FLAG_NEW_LISTENER fd)
-- @param prep seccomp.prepare's table: handlers, default
-- @param log function(message) for handler errors (default: stderr)
function M.new(listener, prep, log)
  -- Linux 6.6+: wake the target on our CPU; older kernels lack it (harmless)
  notify.sync_wakeup(listener)
  return setmetatable({ fd = listener, handlers = prep.handlers, default = prep.default,
                        log = log or M.log, count = 0, errors = 0 }, Sup)
end

function M.log(msg)
  io.stderr:write("nslua: ", msg, "\n")
end

local function name_of(arch, nr)
  local t = names[arch]
  if not t then
    t = {}
    names[arch] = t
  end
  local n = t[nr]
  if n == nil then
    n = notify.syscall_name(arch, nr) or ("syscall_" .. nr)
    t[nr] = n
  end
  return n
end

-- At most LOG_MAX messages per supervisor: a payload repeating a bad call
-- must not flood the caller's stderr.
local LOG_MAX <const> = 50

local function log(self, msg)
  self.errors = self.errors + 1
  if self.errors <= LOG_MAX then
    self.log(msg)
  elseif self.errors == LOG_MAX + 1 then
    self.log(("more than %d handler errors: the rest are not logged"):format(LOG_MAX))
  end
end

local function answer(self, req, ok, a, b, c)
  local fd = self.fd
  if not ok then
    if a ~= GONE then
      log(self, ("seccomp handler for %s (pid %d) failed: %s; the call fails with EPERM")
        :format(req.syscall, req.pid, tostring(a)))
    end
    return notify.send(fd, req.id, "errno", EPERM)
  end
  if a == true then return notify.send(fd, req.id, "continue") end
  if a == false or a == nil then
    local e = b or EPERM
    if math.type(e) ~= "integer" or e < 1 or e > 4095 then
      log(self, ("seccomp handler for %s: errno %s is not 1..4095; EPERM instead"):format(req.syscall,
        tostring(e)))
      e = EPERM
    end
    return notify.send(fd, req.id, "errno", e)
  end
  if a == "value" and math.type(b) == "integer" then return notify.send(fd, req.id, "value", b) end
  if a == "fd" and b ~= nil then
    local r, err, code = notify.addfd(fd, req.id, b, c)
    if type(b) == "userdata" then b:close() end
    if not r and code ~= errno.ENOENT then
      -- the fd could not be installed (e.g. the target's fd limit)
      return notify.send(fd, req.id, "errno", code or EPERM)
    end
    return r, err, code
  end
  log(self, ("seccomp handler for %s returned %s, %s: not an answer (true, false [, errno], "
    .. "\"value\", N or \"fd\", FD); the call fails with EPERM"):format(req.syscall, tostring(a),
    tostring(b)))
  return notify.send(fd, req.id, "errno", EPERM)
end

--- Answer one pending notification (call when the listener is readable).
-- @return true, or nil when nothing was pending (the target was killed)
function Sup:serve_one()
  local n = notify.recv(self.fd)
  if not n then return nil end
  self.count = self.count + 1
  n._fd, n._cache = self.fd, {}
  n.syscall = name_of(n.arch, n.nr)
  local req = setmetatable(n, Req)
  local h = self.handlers[req.syscall] or self.default
  if not h then
    -- a number the profile's names did not resolve to (another arch's alias)
    notify.send(self.fd, req.id, "errno", EPERM)
    return true
  end
  answer(self, req, pcall(h, req))
  req:_done()
  return true
end

--- Answer every pending notification without blocking.
-- @return the number answered
function Sup:serve()
  local pf = { { fd = self.fd, events = { ["in"] = true } } }
  local n = 0
  while proc.poll(pf, 0) == 1 do
    local rv = pf[1].revents
    if not rv["in"] then
      if rv.hup then self.done = true end
      break
    end
    if self:serve_one() then n = n + 1 end
  end
  return n
end

return M
