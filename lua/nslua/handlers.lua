--- nslua.handlers: ready-made seccomp handler profiles (docs/policy.md).
--
-- Each function returns a profile table { base = ..., notify = { ... } } for
-- spec.seccomp (or a FILE.lua for --seccomp that returns it).  Every
-- decision that must hold is enforced by emulation or by refusing the call:
-- the handler never answers true after reading a pointer argument.
--
--   readonly { writable = { DIR, ... }, devices = true, base = "default" }
--   connect_only { allow = { "192.0.2.1:80", "[2001:db8::1]:443", "203.0.113.0/24:*" },
--                  timeout = 10, base = "default" }
--   mount_tmpfs { targets = { DIR, ... } | nil, size = "16M", base = "default" }
local core = require "nslua.core"

local E = core.errno

local M = {}

-- open(2) flags (x86_64 and the generic ABI agree on these)
local O_ACCMODE <const> = 3
local O_CREAT <const> = 0x40
local O_EXCL <const> = 0x80
local O_TRUNC <const> = 0x200
local O_CLOEXEC <const> = 0x80000
local O_TMPFILE <const> = 0x410000
local O_WRONLY <const> = 1

local AF_UNIX <const>, AF_INET <const>, AF_INET6 <const> = 1, 2, 10

local function copy(t)
  local o = {}
  for k, v in pairs(t or {}) do o[k] = v end
  return o
end

local function clean_dir(d, what)
  if type(d) ~= "string" or d:sub(1, 1) ~= "/" then
    error(("%s: %s is not an absolute path"):format(what, tostring(d)), 3)
  end
  d = d:gsub("/+", "/")
  if #d > 1 then d = d:gsub("/$", "") end
  return d
end

-- The lexical clean-up of an absolute path: "." dropped, ".." applied.
local function normalize(p)
  local out = {}
  for part in p:gmatch("[^/]+") do
    if part == ".." then
      out[#out] = nil
    elseif part ~= "." then
      out[#out + 1] = part
    end
  end
  return "/" .. table.concat(out, "/")
end

local function under(path, dirs)
  for _, d in ipairs(dirs) do
    if d == "/" or path == d or path:sub(1, #d + 1) == d .. "/" then return d end
  end
end

--- (a) Read-only file access except an allow-list.
-- Opens that cannot write (flags are a register: no memory involved) run
-- as they are.  An open that could write (write access, O_CREAT, O_TRUNC,
-- O_TMPFILE) is emulated when its path is under a writable directory:
-- nslua opens its own copy of the path beneath that directory (neither
-- ".." nor a symlink leaves it) with the target's ids and umask, and hands
-- the target the fd; elsewhere it fails with EROFS.  openat2 keeps its
-- flags in memory, so it gets ENOSYS (libc falls back to openat).  The
-- calls that change the tree without an open (unlink, rename, mkdir,
-- rmdir, link, symlink, chmod, chown, truncate, utimes, xattrs, mknod, and
-- their fd forms fchmod, fchown, fsetxattr) fail with EROFS everywhere:
-- they would need an emulation of their own; so does bind of a unix
-- socket (it makes a node).
-- Existing nodes under /dev open for writing (devices = false: not even
-- those; O_CREAT is dropped there), and /dev/stdout, /dev/fd/N and
-- /proc/self/fd/N give the target a copy of its own descriptor (a path
-- through /proc/self would name nslua; O_TRUNC is not applied to it).
function M.readonly(opts)
  opts = opts or {}
  local dirs = {}
  for i, d in ipairs(opts.writable or {}) do dirs[i] = clean_dir(d, "readonly.writable") end
  local devices = opts.devices ~= false
  local function open_like(req, path_i, flags, mode)
    local acc = flags & O_ACCMODE
    local writes = acc ~= 0 or flags & (O_CREAT | O_TRUNC) ~= 0 or flags & O_TMPFILE == O_TMPFILE
    if not writes then return true end
    local p, err = req:path(path_i)
    if not p then return false, err == "unreadable" and E.EFAULT or E.ENAMETOOLONG end
    p = normalize(p)
    -- the target's own descriptors by name: a copy of the one it has
    local n = p:match("^/dev/fd/(%d+)$") or p:match("^/proc/self/fd/(%d+)$")
      or p:match("^/proc/thread%-self/fd/(%d+)$")
    n = n or ({ ["/dev/stdin"] = "0", ["/dev/stdout"] = "1", ["/dev/stderr"] = "2" })[p]
    if n then
      local fd, _, code = req:getfd(tonumber(n))
      if not fd then return false, code == E.EBADF and E.ENOENT or code end
      return "fd", fd, flags & O_CLOEXEC ~= 0
    end
    local d = under(p, dirs)
    -- devices: an existing node under /dev (/dev/null, a tty), never a new
    -- file (O_CREAT dropped: a missing node is ENOENT)
    if not d and devices and flags & O_TMPFILE ~= O_TMPFILE and p:match("^/dev/.") then
      d, flags = "/dev", flags & ~(O_CREAT | O_EXCL)
    end
    if not d then return false, E.EROFS end
    local fd, _, code = req:open(p, flags, mode, d)
    if not fd then return false, code end
    return "fd", fd, flags & O_CLOEXEC ~= 0
  end
  local function erofs() return false, E.EROFS end
  local n = {
    openat = function(req) return open_like(req, 1, req.args[2], req.args[3] & 0xfff) end,
    open = function(req) return open_like(req, 0, req.args[1], req.args[2] & 0xfff) end,
    creat = function(req)
      return open_like(req, 0, O_CREAT | O_WRONLY | O_TRUNC, req.args[1] & 0xfff)
    end,
    openat2 = function() return false, E.ENOSYS end,
  }
  -- (the 32-bit names too: a base that adds the x86 arch routes them here)
  for _, name in ipairs { "unlink", "unlinkat", "rename", "renameat", "renameat2", "mkdir",
    "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat",
    "fchmodat2", "chown", "lchown", "fchown", "fchownat", "chown32", "lchown32", "fchown32",
    "truncate", "truncate64", "utime", "utimes", "utimensat", "utimensat_time64", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "mknod",
    "mknodat" } do
    n[name] = erofs
  end
  -- bind of a unix socket makes a node in the tree: refused for unix
  -- sockets (the fd's domain is read from the socket, never from memory)
  n.bind = function(req)
    local fd = req:getfd(req.args[0] & 0xffffffff)
    if not fd then return false, E.EBADF end
    local dom = core.notify.sock_domain(fd)
    fd:close()
    if dom == AF_UNIX then return false, E.EROFS end
    return true
  end
  return { base = opts.base or "default", notify = n,
           comment = "read-only files except " .. table.concat(dirs, " ") }
end

-- "ADDR:PORT", "[ADDR6]:PORT", "NET/BITS:PORT", PORT "*" for any.
local function parse_allow(s)
  local host, port = s:match("^%[([^%]]+)%]:([%d*]+)$")
  if not host then host, port = s:match("^([^:]+):([%d*]+)$") end
  if not host then return nil end
  local addr, bits = host:match("^(.-)/(%d+)$")
  addr = addr or host
  local bytes = M._ip_bytes(addr)
  if not bytes then return nil end
  bits = tonumber(bits) or #bytes * 8
  if bits > #bytes * 8 then return nil end
  return { bytes = bytes, bits = bits, port = port ~= "*" and tonumber(port) or nil }
end

-- An IPv4 or IPv6 text address as its network-order bytes.
function M._ip_bytes(a)
  local o = { a:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$") }
  if #o == 4 then
    local b = {}
    for i = 1, 4 do
      local v = tonumber(o[i])
      if v > 255 then return nil end
      b[i] = string.char(v)
    end
    return table.concat(b)
  end
  if not a:find(":", 1, true) then return nil end
  local head, tail = a:match("^(.-)::(.*)$")
  local function words(s)
    local w = {}
    if s == "" then return w end
    for x in (s .. ":"):gmatch("([^:]*):") do
      if not x:match("^%x%x?%x?%x?$") then return nil end
      w[#w + 1] = tonumber(x, 16)
    end
    return w
  end
  local hw, tw
  if head then
    hw, tw = words(head), words(tail)
    if not hw or not tw or #hw + #tw > 7 then return nil end
    for _ = 1, 8 - #hw - #tw do hw[#hw + 1] = 0 end
    for _, x in ipairs(tw) do hw[#hw + 1] = x end
  else
    hw = words(a)
    if not hw or #hw ~= 8 then return nil end
  end
  local b = {}
  for i, x in ipairs(hw) do b[i] = string.char(x >> 8, x & 0xff) end
  return table.concat(b)
end

local function match_prefix(bytes, rule)
  if #bytes ~= #rule.bytes then return false end
  local full, rest = rule.bits // 8, rule.bits % 8
  if bytes:sub(1, full) ~= rule.bytes:sub(1, full) then return false end
  if rest == 0 then return true end
  local mask = (0xff << (8 - rest)) & 0xff
  return bytes:byte(full + 1) & mask == rule.bytes:byte(full + 1) & mask
end

local SOCK_STREAM <const> = 1
local SOCK_TYPE_MASK <const> = 0xf
local MSG_FASTOPEN <const> = 0x20000000
local IPPROTO_TCP <const>, TCP_FASTOPEN_CONNECT <const> = 6, 30

--- (b) Outbound connections only to listed addresses and ports.
-- connect is emulated: the handler reads the address once, checks it, and
-- nslua connects the target's own socket (a dup through pidfd_getfd) to
-- that address; the target's memory is never read again.  A blocking TCP
-- connect waits in nslua for the handshake (at most `timeout` seconds,
-- default 10; handlers of other calls, and the limits, wait meanwhile).
-- What could reach an address without connect is closed: sockets are TCP
-- only (no UDP, raw or packet sockets: a datagram's address travels with
-- each send, in memory), TCP Fast Open (MSG_FASTOPEN, TCP_FASTOPEN_CONNECT) is
-- refused, and so are unix sockets: a unix path's connect emulated by nslua
-- would be resolved in nslua's tree with nslua's ids (socketpair stays).
-- The protocol must be 0 or TCP's (no SCTP: it connects without connect).
function M.connect_only(opts)
  opts = opts or {}
  local rules = {}
  for i, s in ipairs(opts.allow or {}) do
    local r = type(s) == "string" and parse_allow(s)
    if not r then
      error(("connect_only.allow[%d]: %s is not ADDR:PORT, [ADDR6]:PORT or NET/BITS:PORT "
        .. "(PORT may be *)"):format(i, tostring(s)), 2)
    end
    rules[#rules + 1] = r
  end
  local timeout = math.floor((opts.timeout or 10) * 1000)
  local function allowed(bytes, port)
    for _, r in ipairs(rules) do
      if (not r.port or r.port == port) and match_prefix(bytes, r) then return true end
    end
    return false
  end
  local n = {}
  n.socket = function(req)
    local fam, typ = req.args[0] & 0xffffffff, req.args[1] & SOCK_TYPE_MASK
    local proto = req.args[2] & 0xffffffff
    if (fam == AF_INET or fam == AF_INET6) and typ == SOCK_STREAM and (proto == 0 or proto == 6) then
      return true
    end
    return false, E.EACCES
  end
  n.connect = function(req)
    local len = req.args[2] & 0xffffffff
    if len < 2 or len > 128 then return false, E.EINVAL end
    local raw = req:bytes(1, len)
    if not raw or #raw < len then return false, E.EFAULT end
    local fam = raw:byte(1) + raw:byte(2) * 256
    local ok
    if fam == AF_INET and len >= 8 then
      ok = allowed(raw:sub(5, 8), raw:byte(3) * 256 + raw:byte(4))
    elseif fam == AF_INET6 and len >= 24 then
      ok = allowed(raw:sub(9, 24), raw:byte(3) * 256 + raw:byte(4))
    elseif fam == 0 then
      ok = true   -- AF_UNSPEC: dissolves an association, reaches nobody
    end
    if not ok then return false, E.EACCES end
    local res, _, code = req:connect(req.args[0] & 0xffffffff, raw, timeout)
    if not res then return false, code end
    if res == 0 then return "value", 0 end
    return false, res
  end
  n.sendto = function(req)
    if req.args[3] & MSG_FASTOPEN ~= 0 then return false, E.EACCES end
    return true
  end
  n.sendmmsg = function(req)
    if req.args[3] & MSG_FASTOPEN ~= 0 then return false, E.EACCES end
    return true
  end
  n.setsockopt = function(req)
    if req.args[1] & 0xffffffff == IPPROTO_TCP and req.args[2] & 0xffffffff == TCP_FASTOPEN_CONNECT then
      return false, E.EACCES
    end
    return true
  end
  -- sendmsg cannot be handled (it carries the listener): its MSG_FASTOPEN
  -- is refused by a rule in the base profile instead
  local base = opts.base or "default"
  local seccomp = require "nslua.seccomp"
  local b = seccomp.expand(type(base) == "string" and seccomp.profiles[base] or base)
  local out = copy(b)
  out.syscalls = {}
  for _, e in ipairs(b.syscalls or {}) do
    local names = e.names or (e.name and { e.name })
    local keep = names and {} or nil
    for _, nm in ipairs(names or {}) do if nm ~= "sendmsg" then keep[#keep + 1] = nm end end
    if not names or #keep > 0 then
      local c = copy(e)
      if names then c.name, c.names = nil, keep end
      out.syscalls[#out.syscalls + 1] = c
    end
  end
  out.syscalls[#out.syscalls + 1] = { name = "sendmsg", action = "allow",
    args = { { index = 2, op = "masked_eq", mask = MSG_FASTOPEN, value = 0 } },
    comment = "sendmsg without MSG_FASTOPEN (a TCP Fast Open connect)" }
  return { base = out, notify = n, comment = "connect only to " .. table.concat(opts.allow or {}, " ") }
end

local MS_RDONLY <const>, MS_NOSUID <const>, MS_NODEV <const>, MS_NOEXEC <const> = 1, 2, 4, 8
local MS_NOATIME <const>, MS_NODIRATIME <const>, MS_RELATIME <const> = 1024, 2048, 0x200000
local PLAIN_FLAGS <const> = MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME
  | MS_NODIRATIME | MS_RELATIME
local MS_MGC_MSK <const> = 0xffff0000
local MS_MGC_VAL <const> = 0xc0ed0000

--- (c) mount of a tmpfs, emulated for a payload without privileges (what
-- LXC's seccomp proxy is for).  mount(2) with fstype "tmpfs" on a target
-- under one of `targets` (any directory when nil) is done by nslua in the
-- payload's mount namespace, with nosuid and nodev, size `size` (default
-- 16M: the payload's options may ask for less, never more) and the
-- payload's own ids as owner; every other mount fails with EPERM.
function M.mount_tmpfs(opts)
  opts = opts or {}
  local targets
  if opts.targets then
    targets = {}
    for i, d in ipairs(opts.targets) do targets[i] = clean_dir(d, "mount_tmpfs.targets") end
  end
  local limits = require "nslua.limits"
  local max = opts.size or "16M"
  local max_bytes = type(max) == "number" and max or limits.size_bytes(max)
  if not max_bytes then error(("mount_tmpfs.size: %s is not a size"):format(tostring(max)), 2) end
  return { base = opts.base or "default", comment = "tmpfs mounts emulated", notify = {
    mount = function(req)
      local fstype = req.args[2] ~= 0 and req:string(2, 64)
      if fstype ~= "tmpfs" then return false, E.EPERM end
      local flags = req.args[3] & 0xffffffff
      if flags & MS_MGC_MSK == MS_MGC_VAL then flags = flags & ~MS_MGC_MSK end
      if flags & ~PLAIN_FLAGS ~= 0 then return false, E.EPERM end   -- bind, move, remount...
      local target = req:path(1)
      if not target then return false, E.EFAULT end
      target = normalize(target)
      if targets and not under(target, targets) then return false, E.EPERM end
      -- the payload's options: only size and mode, size capped
      local size, mode = max_bytes, nil
      local data = req.args[4] ~= 0 and req:string(4, 256) or ""
      for opt in data:gmatch("[^,]+") do
        local k, v = opt:match("^([^=]+)=(.*)$")
        if k == "size" then
          local want = limits.size_bytes(v)
          if not want then return false, E.EINVAL end
          -- size=0 is tmpfs's "unlimited": the cap then
          size = want > 0 and math.min(want, max_bytes) or max_bytes
        elseif k == "mode" and v:match("^[0-7]+$") then
          mode = v
        else
          return false, E.EINVAL
        end
      end
      local ok, _, code = req:mount(target, "tmpfs", flags,
        ("size=%d%s"):format(size, mode and ",mode=" .. mode or ""))
      if not ok then return false, code end
      return "value", 0
    end,
  } }
end

--- The arguments of a handler recipe: the words before "--" and the
-- command after it; raises 'usage' when there is no command.
function M.recipe_args(args, usage)
  for i, a in ipairs(args) do
    if a == "--" then
      local cmd = { table.unpack(args, i + 1) }
      if #cmd == 0 then break end
      return { table.unpack(args, 1, i - 1) }, cmd
    end
  end
  error("usage: " .. usage, 0)
end

--- The default sandbox's spec (a fresh copy) running cmd under 'profile'.
function M.recipe_spec(cmd, profile)
  local spec = dofile(package.searchpath("nslua.recipes.sandbox", package.path))
  spec.argv, spec.seccomp = cmd, profile
  return spec
end

return M
