--- nslua.validate: strict checking and normalisation of container specs.
--
-- A spec is a plain table (DESIGN.md "The spec and composition").
-- `check` finds every problem at once and returns them sorted by path;
-- `validate` raises them as one message, one problem per line.  Both return
-- a NEW table with defaults filled in, sizes in bytes, modes as integers and
-- capabilities in their canonical "cap_x" form; the input is never changed.
-- Validating a normalised spec again gives the same spec.
local limits = require "nslua.limits"

local M = {}

local KIB <const> = 1024

-- The largest file descriptor (an int).
local MAX_FD <const> = 0x7fffffff

--- Default size of every tmpfs (DESIGN "Mounts"): 64 MiB.
M.DEFAULT_TMPFS_SIZE = 64 * KIB * KIB

--- Namespace names, sorted.
M.NAMESPACES = { "cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts" }

--- Linux capability names by number (index = number + 1), without "cap_".
M.CAPS = {
  "chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill",
  "setgid", "setuid", "setpcap", "linux_immutable", "net_bind_service",
  "net_broadcast", "net_admin", "net_raw", "ipc_lock", "ipc_owner",
  "sys_module", "sys_rawio", "sys_chroot", "sys_ptrace", "sys_pacct",
  "sys_admin", "sys_boot", "sys_nice", "sys_resource", "sys_time",
  "sys_tty_config", "mknod", "lease", "audit_write", "audit_control",
  "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
  "block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
}

--- Mount types, in DESIGN order.
M.MOUNT_TYPES = {
  "bind", "bind-idmap", "dev-bind", "tmpfs", "proc", "dev", "mqueue",
  "sysfs", "overlay", "dir", "symlink", "file", "remount-ro", "chmod", "devpts", "cgroup",
  "device",
}

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local CAP_NUM = {}
for i, name in ipairs(M.CAPS) do CAP_NUM[name] = i - 1 end
local NS_SET = set(M.NAMESPACES)
local MOUNT_TYPE_SET = set(M.MOUNT_TYPES)
local MOUNT_TYPE_LIST = table.concat(M.MOUNT_TYPES, ", ")

local FIELDS = set {
  "name", "hostname", "cwd", "argv", "namespaces", "user", "rootfs", "mounts",
  "net", "limits", "caps", "seccomp", "env", "keep_env", "stdio", "tty",
  "hooks", "base", "set_pwd", "argv0", "session", "init", "die_with_parent",
  "lock_files", "sync", "userns", "pidns_fd", "seccomp_bpf", "exec_error", "detach",
  -- the process fields of OCI front ends (docs/spec.md "The spec")
  "rlimits", "umask", "no_new_privs", "oom_score_adj", "domainname", "sysctl", "masks",
  "rootfs_propagation", "personality", "join", "cgroup", "host_mnt",
  "landlock", "time_offsets", "seccomp_listener",
}
local USER_FIELDS = set { "uid", "gid", "map", "host_uid", "host_gid", "groups", "uid_map", "gid_map" }
local HOOKS = set { "after_clone", "before_pivot", "before_exec", "after_exit" }
local STDIO_FIELDS = set { "stdin", "stdout", "stderr", "fds" }
local STDIO_INSIDE_FIELDS = set { "inside" }
local SYNC_FIELDS = set { "block_fd", "userns_block_fd", "sync_fd" }
local NET_FIELDS = set { "veth", "bridge", "addr", "gateway", "nat", "publish" }
local VETH_FIELDS = set { "host", "guest", "host_addr", "guest_addr", "route", "isolate_host", "nat", "publish" }
local USERNS_FIELDS = set { "fd", "after", "disable", "assert_disabled" }
local RLIMIT_PAIR = set { "soft", "hard" }
local MASKS_FIELDS = set { "masked", "readonly" }

-- Every field a mount may carry, and which of them each type accepts.
-- Overlay: `lower` is the list of lower directories (uppermost first),
-- `upper` and `work` the host directories of a persistent upper layer; both
-- absent means a tmpfs-backed upper of `size` bytes (64 MiB by default),
-- or with `ro = true` no upper at all (the lower layers, read-only).
-- A bind names its source by path (`source`) or by a caller's file
-- descriptor (`source_fd`); a `file` with `inplace` is created in the
-- file system at its target instead of bound there.
local MOUNT_FIELDS = set {
  "type", "source", "source_fd", "target", "ro", "try", "recursive", "size", "mode",
  "content", "lower", "upper", "work", "inplace", "idmap", "noexec", "hidepid",
  "nosuid", "nodev", "propagation", "data", "kind", "major", "minor", "uid", "gid", "host_ns",
}
local BIND = set { "type", "source", "source_fd", "target", "ro", "try", "recursive", "noexec",
                   "nosuid", "nodev", "propagation", "idmap" }
local PSEUDO = set { "type", "target", "ro" }
local FLAGGED = set { "type", "target", "ro", "nosuid", "nodev", "noexec", "source", "host_ns" }
-- The types whose `source` is only the name of the file system mounted.
local FS_SOURCE = set { "tmpfs", "proc", "mqueue", "sysfs", "devpts" }
local MOUNT_ALLOWED = {
  bind = BIND, ["bind-idmap"] = BIND, ["dev-bind"] = BIND,
  tmpfs = set { "type", "target", "ro", "size", "mode", "nosuid", "nodev", "noexec", "data", "propagation",
                "source" },
  proc = set { "type", "target", "ro", "hidepid", "nosuid", "nodev", "noexec", "source", "host_ns" },
  dev = PSEUDO, mqueue = FLAGGED, sysfs = FLAGGED,
  cgroup = set { "type", "target", "ro", "nosuid", "nodev", "noexec" },
  devpts = set { "type", "target", "nosuid", "nodev", "noexec", "data", "source" },
  device = set { "type", "target", "kind", "major", "minor", "mode", "uid", "gid" },
  overlay = set { "type", "target", "ro", "lower", "upper", "work", "size", "nosuid", "nodev", "noexec", "idmap" },
  dir = set { "type", "target", "mode" },
  symlink = set { "type", "source", "target" },
  file = set { "type", "target", "content", "mode", "ro", "inplace" },
  ["remount-ro"] = set { "type", "target" },
  chmod = set { "type", "target", "mode" },
}
--- The field names of each table of a spec, sorted (for tools that
-- generate or document specs, e.g. scripts/fuzz): spec (the top level),
-- user, mount (every mount field) and mount_types[type] (those a type
-- takes), net, veth, stdio, hooks, limits, rlimits, namespaces.
local function sorted(s)
  local t = {}
  for k in pairs(s) do t[#t + 1] = k end
  table.sort(t)
  return t
end
M.FIELDS = {
  spec = sorted(FIELDS), user = sorted(USER_FIELDS), mount = sorted(MOUNT_FIELDS),
  net = sorted(NET_FIELDS), veth = sorted(VETH_FIELDS), stdio = sorted(STDIO_FIELDS),
  sync = sorted(SYNC_FIELDS),
  hooks = sorted(HOOKS), namespaces = M.NAMESPACES, mount_types = {},
  userns = sorted(USERNS_FIELDS),
}
for ty, allowed in pairs(MOUNT_ALLOWED) do M.FIELDS.mount_types[ty] = sorted(allowed) end

--- Mount propagation types (mount(2); r...: the mounts below too).
M.PROPAGATION = { "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable" }
local PROPAGATION = set(M.PROPAGATION)
local PROPAGATION_LIST = table.concat(M.PROPAGATION, ", ")

-- proc's hidepid= (proc(5)): who sees other users' /proc/<pid>; the names
-- are the kernel's own spellings of 0, 1 and 2.
local HIDEPID = { [0] = 0, [1] = 1, [2] = 2, off = 0, noaccess = 1, invisible = 2 }

-- Cross-field rules: these mount types need a namespace of their own.
local MOUNT_NEEDS_NS = { proc = "pid", mqueue = "ipc", sysfs = "net" }

-- The limits and their kinds live in nslua.limits.
local LIMIT_FIELDS = set(limits.KEYS)
LIMIT_FIELDS.rlimits = true
LIMIT_FIELDS.cpu_scope = true
M.FIELDS.limits = sorted(LIMIT_FIELDS)
M.FIELDS.rlimits = limits.RLIMIT_KEYS

-- A path element for key k under base: base.k for identifiers, base[...]
-- otherwise, so every error names exactly where it is.
local function keypath(base, k)
  local part
  if type(k) == "string" and k:match("^[%a_][%w_]*$") then
    return base == "" and k or base .. "." .. k
  elseif math.type(k) == "integer" then
    part = ("[%d]"):format(k)
  elseif type(k) == "string" then
    -- %q writes a newline as "\" and a newline: one problem, one line
    part = ("[%q]"):format(k):gsub("\\\n", "\\n")
  else
    part = ("[%s]"):format(type(k))
  end
  return base .. part
end
M.keypath = keypath

-- How a bad value reads in a message (nslua.limits.show): strings
-- quoted with control characters escaped, numbers as written.
local show = limits.show

-- An integer from an integer or an integral float, else nil.
local function as_int(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" then return math.tointeger(v) end
  return nil
end

-- True when t is a table whose keys are exactly 1..#t.
local function is_list(t)
  if type(t) ~= "table" then return false end
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  for i = 1, n do
    if t[i] == nil then return false end
  end
  return true
end
M.is_list = is_list

local function copy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local t = {}
  seen[v] = t
  for k, x in pairs(v) do t[copy(k, seen)] = copy(x, seen) end
  return t
end
M.copy = copy

--- Parse a size: an integer number of bytes or a string such as "64M",
-- "1G", "512k", "100", "1.5G", "64MiB" (K/M/G/T, optional "B"/"iB", any case,
-- binary multiples; fractions round down to a whole byte).
-- @param v the size
-- @tparam[opt] string path where v came from, for the message
-- @treturn integer bytes
-- @raise "path: invalid size 'lots'"
function M.size(v, path)
  local n = limits.size_bytes(v)
  if n then return n end
  local msg = "invalid size " .. show(v)
  error(path and (path .. ": " .. msg) or msg, 2)
end

--- Parse a cpu list such as "0-1,3" (nslua.limits.cpulist).
-- @treturn[1] table sorted list of cpu numbers, no duplicates
-- @return[2] nil when s is not a cpu list
M.cpuset = limits.cpulist

--- Canonical capability name ("NET_ADMIN", "cap_net_admin" -> "cap_net_admin"),
-- "all" for "all", nil for an unknown name.
function M.cap_name(s)
  if type(s) ~= "string" then return nil end
  local name = s:lower()
  if name == "all" then return "all" end
  name = name:gsub("^cap_", "")
  if CAP_NUM[name] then return "cap_" .. name end
  return nil
end

local function is_ipv4(s)
  local o = { s:match("^(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)%.(%d%d?%d?)$") }
  if #o ~= 4 then return false end
  for _, x in ipairs(o) do
    if tonumber(x) > 255 then return false end
  end
  return true
end

-- Number of 16-bit groups in a ':'-separated part, nil when malformed.
local function v6_groups(part, v4_tail)
  if part == "" then return 0 end
  local items = {}
  for g in (part .. ":"):gmatch("(.-):") do items[#items + 1] = g end
  local n = 0
  for i, g in ipairs(items) do
    if i == #items and v4_tail and g:find(".", 1, true) then
      if not is_ipv4(g) then return nil end
      n = n + 2
    elseif g:match("^%x%x?%x?%x?$") then
      n = n + 1
    else
      return nil
    end
  end
  return n
end

local function is_ipv6(s)
  if s:find("[^%x:%.]") then return false end
  local _, dc = s:gsub("::", "")
  if dc > 1 then return false end
  if dc == 0 then return v6_groups(s, true) == 8 end
  local left, right = s:match("^(.-)::(.*)$")
  local nl, nr = v6_groups(left, false), v6_groups(right, true)
  return nl ~= nil and nr ~= nil and nl + nr <= 7
end

--- Light syntax check of an IP address: 4 (IPv4), 6 (IPv6) or nil.
function M.ip(s)
  if type(s) ~= "string" then return nil end
  if is_ipv4(s) then return 4 end
  if is_ipv6(s) then return 6 end
  return nil
end

--- Light syntax check of a CIDR "a.b.c.d/n" (n <= 32) or "v6/n" (n <= 128):
-- 4, 6 or nil.
function M.cidr(s)
  if type(s) ~= "string" then return nil end
  local addr, len = s:match("^(.+)/(%d%d?%d?)$")
  if not addr then return nil end
  local fam = M.ip(addr)
  if fam == 4 and tonumber(len) <= 32 then return 4 end
  if fam == 6 and tonumber(len) <= 128 then return 6 end
  return nil
end

-- A network interface name as the kernel takes it (dev_valid_name).
local function is_ifname(s)
  return type(s) == "string" and #s >= 1 and #s <= 15 and s ~= "." and
    s ~= ".." and not s:find("[/:%s%z]")
end

local function is_abs(p)
  return type(p) == "string" and p:sub(1, 1) == "/" and not p:find("%z")
end

-- "/a//b/./c" as "/a/b/c" (no ".." reaches here)
local function launch_normpath(p)
  local parts = {}
  for c in p:gmatch("[^/]+") do
    if c ~= "." then parts[#parts + 1] = c end
  end
  return "/" .. table.concat(parts, "/")
end

local function has_dotdot(p)
  return ("/" .. p .. "/"):find("/%.%./") ~= nil
end

local function env_name_ok(k)
  return type(k) == "string" and k ~= "" and not k:find("[=%z]")
end

-- The checker: each check_* reads one part of the spec, reports problems
-- through add(path, message) and returns the normalised value.
local Checker = {}
Checker.__index = Checker

function Checker:add(path, msg)
  self.errors[#self.errors + 1] = { path = path, msg = msg }
end

function Checker:unknown(t, allowed, path, what)
  for k in pairs(t) do
    if not allowed[k] then self:add(keypath(path, k), what or "unknown field") end
  end
end

function Checker:string(v, path, what)
  if type(v) ~= "string" or v == "" or v:find("%z") then
    self:add(path, "must be " .. (what or "a non-empty string"))
    return nil
  end
  return v
end

function Checker:abspath(v, path)
  if not is_abs(v) then
    self:add(path, "must be an absolute path")
    return nil
  end
  return v
end

function Checker:boolean(v, path, default)
  if v == nil then return default end
  if type(v) ~= "boolean" then
    self:add(path, "must be a boolean")
    return default
  end
  return v
end

-- A size in bytes; min is the smallest accepted value (0 or 1).
function Checker:size(v, path, min)
  return self:limit({ kind = "size", min = min }, v, path)
end

-- A limit's value (nslua.limits.parse): the normalised value, or nil
-- with the problem added.
function Checker:limit(what, v, path)
  local out, msg = limits.parse(what, v)
  if out == nil then self:add(path, msg) end
  return out
end

-- A file mode 0..07777: a number or an octal string such as "0755".
function Checker:mode(v, path)
  local n = as_int(v)
  if type(v) == "string" and v:match("^0?[0-7]+$") and #v <= 5 then
    n = tonumber(v, 8)
  end
  if not n or n < 0 or n > 4095 then
    self:add(path, "must be a mode 0..07777 (a number or an octal string)")
    return nil
  end
  return n
end

function Checker:name(spec)
  if spec.name == nil then return nil end
  local v = spec.name
  if type(v) ~= "string" or v == "" or #v > 255 or v:find("%c") then
    self:add("name", "must be a string of 1..255 printable characters")
    return nil
  end
  return v
end

function Checker:argv(spec, need)
  local v = spec.argv
  if v == nil then
    if need then self:add("argv", "must be a non-empty list of strings") end
    return nil
  end
  if not is_list(v) or #v == 0 then
    self:add("argv", "must be a non-empty list of strings")
    return nil
  end
  local out = {}
  for i, a in ipairs(v) do
    if type(a) ~= "string" then
      self:add(keypath("argv", i), "must be a string")
    elseif a:find("%z") then
      self:add(keypath("argv", i), "must not contain a NUL byte")
    elseif i == 1 and a == "" then
      self:add("argv[1]", "must not be empty (the command)")
    else
      out[i] = a
    end
  end
  return out
end

function Checker:namespaces(spec)
  local v, ns = spec.namespaces, {}
  if v == nil then return ns end
  if type(v) ~= "table" then
    self:add("namespaces", "must be a table of booleans")
    return ns
  end
  for k, on in pairs(v) do
    local p = keypath("namespaces", k)
    if not NS_SET[k] then
      self:add(p, "unknown namespace")
    elseif type(on) ~= "boolean" then
      self:add(p, "must be a boolean")
    else
      ns[k] = on
    end
  end
  return ns
end

--- Does the spec's user run on the host's ids (no user namespace)?
-- user = "host", or user = { map = "host", uid, gid, groups } (the ids
-- are then host ids: an OCI config without a user namespace).
function M.host_user(u)
  return u == "host" or (type(u) == "table" and u.map == "host")
end

local USER_MAPS = { used = true, all = true, caller = true, host = true, explicit = true }
M.MAX_MAP_LINES = 340   -- the kernel's limit of lines in uid_map

-- user.uid_map / user.gid_map (map = "explicit"): lines { inside,
-- outside, count } (or { inside = , outside = , count = }), as an OCI
-- config's uidMappings; inside ranges must not overlap.
function Checker:id_map(v, p)
  if type(v) ~= "table" or #v == 0 then
    self:add(p, "must be a non-empty list of { inside, outside, count }")
    return nil
  end
  if #v > M.MAX_MAP_LINES then
    self:add(p, ("has %d lines (at most %d)"):format(#v, M.MAX_MAP_LINES))
    return nil
  end
  local out = {}
  for i, l in ipairs(v) do
    local lp = ("%s[%d]"):format(p, i)
    if type(l) ~= "table" then
      self:add(lp, "must be a table { inside, outside, count }")
      return nil
    end
    local a, b, c = as_int(l.inside or l[1]), as_int(l.outside or l[2]), as_int(l.count or l[3])
    if not (a and b and c) or a < 0 or b < 0 or c < 1 or a + c > 0x100000000 or b + c > 0x100000000 then
      self:add(lp, "must hold integers inside >= 0, outside >= 0, count >= 1 within 32 bits")
      return nil
    end
    for j, o in ipairs(out) do
      if a < o[1] + o[3] and o[1] < a + c then
        self:add(lp, ("overlaps line %d inside the namespace"):format(j))
        return nil
      end
    end
    out[i] = { a, b, c }
  end
  return out
end

local function mapped(map, id)
  for _, l in ipairs(map or {}) do
    if id >= l[1] and id < l[1] + l[3] then return true end
  end
  return false
end

function Checker:user(v)
  if v == "host" then return "host" end
  local out = { uid = 65534, gid = 65534, map = "used" }
  if type(v) ~= "table" then
    self:add("user", "must be \"host\" or a table { uid, gid, map }")
    return out
  end
  self:unknown(v, USER_FIELDS, "user")
  if v.map ~= nil then
    if not USER_MAPS[v.map] then
      self:add("user.map", "must be \"used\", \"all\", \"caller\", \"host\" or \"explicit\"")
    else
      out.map = v.map
    end
  end
  -- map = "caller" maps one id each, any id (bubblewrap's --uid/--gid);
  -- "host" and "explicit" ids are any 32-bit id but the overflow one
  local wide = out.map == "caller" or out.map == "host" or out.map == "explicit"
  local max = wide and 0xfffffffe or 65535
  if out.map == "host" then out.uid, out.gid = nil, nil end
  for _, k in ipairs { "uid", "gid" } do
    if v[k] ~= nil then
      local n = as_int(v[k])
      if not n or n < 0 or n > max then
        self:add("user." .. k, ("must be an integer 0..%d"):format(max))
      else
        out[k] = n
      end
    end
  end
  if v.groups ~= nil then
    if type(v.groups) ~= "table" or #v.groups > 64 then
      self:add("user.groups", "must be a list of at most 64 group ids")
    else
      out.groups = {}
      for i, g in ipairs(v.groups) do
        local n = as_int(g)
        if not n or n < 0 or n > 0xfffffffe then
          self:add(("user.groups[%d]"):format(i), "must be an integer 0..4294967294")
        else
          out.groups[i] = n
        end
      end
    end
    if out.map ~= "host" and out.map ~= "explicit" then
      self:add("user.groups", "requires map = \"host\" or \"explicit\"")
    end
  end
  if out.map == "explicit" then
    if v.uid == nil then out.uid = 0 end
    if v.gid == nil then out.gid = 0 end
    out.uid_map = self:id_map(v.uid_map, "user.uid_map")
    out.gid_map = self:id_map(v.gid_map, "user.gid_map")
    if out.uid_map and not mapped(out.uid_map, out.uid) then
      self:add("user.uid", ("%d is not mapped by user.uid_map"):format(out.uid))
    end
    if out.gid_map and not mapped(out.gid_map, out.gid) then
      self:add("user.gid", ("%d is not mapped by user.gid_map"):format(out.gid))
    end
    for i, g in ipairs(out.groups or {}) do
      if out.gid_map and not mapped(out.gid_map, g) then
        self:add(("user.groups[%d]"):format(i), ("%d is not mapped by user.gid_map"):format(g))
      end
    end
  else
    for _, k in ipairs { "uid_map", "gid_map" } do
      if v[k] ~= nil then self:add("user." .. k, "requires map = \"explicit\"") end
    end
  end
  self:host_ids(v, out)
  return out
end

-- user.host_uid / user.host_gid: the host ids the payload's ids map to
-- instead of the slot's (privileged; rootless they must be the caller's,
-- which resources check, like the slot ranges and /etc/subuid).  Both or
-- neither; never host root; only with map = "used", whose inside 0 stays
-- the slot's first id, so the payload's own ids must not be 0.
function Checker:host_ids(v, out)
  if v.host_uid == nil and v.host_gid == nil then return end
  local ok = true
  for _, k in ipairs { "uid", "gid" } do
    local hk, p = "host_" .. k, "user.host_" .. k
    local n = as_int(v[hk])
    if v[hk] == nil then
      local other = k == "uid" and "host_gid" or "host_uid"
      self:add(p, ("is required with user.%s"):format(other))
      ok = false
    elseif n == 0 then
      self:add(p, "must not be 0 (host root)")
      ok = false
    elseif not n or n < 1 or n > 0xfffffffe then
      self:add(p, "must be an integer 1..4294967294")
      ok = false
    elseif out[k] == 0 then
      self:add(p, ("requires a non-zero user.%s (inside %s 0 is the slot's)"):format(k, k))
      ok = false
    else
      out[hk] = n
    end
  end
  if out.map ~= "used" then
    self:add("user.host_uid", ("conflicts with map = %q"):format(out.map))
    ok = false
  end
  if not ok then out.host_uid, out.host_gid = nil, nil end
end

function Checker:mount(m, p)
  if type(m) ~= "table" then
    self:add(p, "must be a table")
    return nil
  end
  self:unknown(m, MOUNT_FIELDS, p)
  local ty = m.type
  if not MOUNT_TYPE_SET[ty] then
    self:add(p .. ".type", "must be one of " .. MOUNT_TYPE_LIST)
    return nil
  end
  local allowed = MOUNT_ALLOWED[ty]
  for k in pairs(m) do
    if MOUNT_FIELDS[k] and not allowed[k] then
      self:add(keypath(p, k), ("not valid for type '%s'"):format(ty))
    end
  end
  local out = { type = ty }
  if m.target == nil then
    self:add(p .. ".target", "is required")
  elseif not is_abs(m.target) then
    self:add(p .. ".target", "must be an absolute path")
  elseif has_dotdot(m.target) then
    self:add(p .. ".target", "must not contain '..'")
  else
    out.target = m.target
  end
  if allowed.ro then
    out.ro = self:boolean(m.ro, p .. ".ro", ty == "sysfs")
  end
  if allowed.try then
    out.try = self:boolean(m.try, p .. ".try", false)
    out.recursive = self:boolean(m.recursive, p .. ".recursive", true)
  end
  -- nosuid, nodev, noexec: as given (absent: launch.DEFAULT_FLAGS, or
  -- not set with base = "none")
  for _, k in ipairs { "nosuid", "nodev", "noexec" } do
    if allowed[k] and m[k] ~= nil then out[k] = self:boolean(m[k], keypath(p, k)) end
  end
  -- host_ns (proc, sysfs, mqueue): the file system of the caller's pid,
  -- net or ipc namespace, which the sandbox then shares (OCI: a config
  -- that lists no such namespace, runc mounts the host's)
  if allowed.host_ns and m.host_ns ~= nil then out.host_ns = self:boolean(m.host_ns, p .. ".host_ns") end
  if allowed.propagation and m.propagation ~= nil then
    if PROPAGATION[m.propagation] then
      out.propagation = m.propagation
    else
      self:add(p .. ".propagation", "must be one of " .. PROPAGATION_LIST)
    end
  end
  if allowed.data and m.data ~= nil then
    if type(m.data) ~= "string" or m.data:find("%z") or m.data == "" then
      self:add(p .. ".data", 'must be a string of file system options ("a=1,b")')
    else
      out.data = m.data
    end
  end
  if ty == "bind" or ty == "bind-idmap" or ty == "dev-bind" then
    -- idmap = "auto": idmapped to the caller where the kernel and the
    -- source's file system allow it, else a plain bind (`nslua run --bind`)
    if m.idmap ~= nil then
      if m.idmap ~= "auto" or ty ~= "bind" then
        self:add(p .. ".idmap", 'must be "auto" (and only on a bind; type "bind-idmap" always idmaps)')
      else
        out.idmap = "auto"
      end
    end
    if m.source_fd ~= nil then
      local fd = as_int(m.source_fd)
      if m.source ~= nil then
        self:add(p .. ".source_fd", "conflicts with source (one of them names the source)")
      elseif not fd or fd < 0 or fd > MAX_FD then
        self:add(p .. ".source_fd", "must be a file descriptor")
      else
        out.source_fd = fd
      end
    elseif m.source == nil then
      self:add(p .. ".source", "is required")
    else
      out.source = self:abspath(m.source, p .. ".source")
    end
  elseif m.source ~= nil and FS_SOURCE[ty] then
    -- a file system's source: the name mountinfo shows (an OCI mount's
    -- "source", e.g. "shm" for a tmpfs)
    if type(m.source) ~= "string" or m.source == "" or #m.source > 255 or m.source:find("[%z%s]") then
      self:add(p .. ".source", "must be a name of 1-255 bytes without spaces")
    else
      out.source = m.source
    end
  elseif ty == "symlink" then
    if m.source == nil then
      self:add(p .. ".source", "is required (the link text)")
    else
      out.source = self:string(m.source, p .. ".source")
    end
  elseif ty == "file" then
    if m.content == nil then
      self:add(p .. ".content", "is required")
    elseif type(m.content) ~= "string" then
      self:add(p .. ".content", "must be a string")
    else
      out.content = m.content
    end
    out.inplace = self:boolean(m.inplace, p .. ".inplace", false)
    if out.inplace and m.ro ~= nil then
      self:add(p .. ".ro", "not valid with inplace (the file is created, not bound)")
    end
  elseif ty == "overlay" then
    self:overlay(m, p, out)
  elseif ty == "proc" and m.hidepid ~= nil then
    local n = HIDEPID[m.hidepid]
    if n == nil then
      self:add(p .. ".hidepid", 'must be 0, 1, 2, "off", "noaccess" or "invisible"')
    else
      out.hidepid = n
    end
  end
  if ty == "device" then self:device(m, p, out) end
  if ty == "chmod" and m.mode == nil then
    self:add(p .. ".mode", "is required")
  elseif allowed.mode then
    local default = ty == "file" and 420 or ty == "device" and 438 or 493 -- 0644, 0666, 0755
    out.mode = m.mode == nil and default or self:mode(m.mode, p .. ".mode")
  end
  if ty == "tmpfs" or (ty == "overlay" and m.upper == nil and not m.ro) then
    out.size = m.size == nil and M.DEFAULT_TMPFS_SIZE or
      self:size(m.size, p .. ".size", 1)
  end
  return out
end

-- A device node: kind "c" or "b", major, minor, mode (default 0666),
-- uid, gid; only under /dev (a node anywhere else is refused).  Kind "p"
-- is a FIFO (OCI's type "p"): no major or minor.
function Checker:device(m, p, out)
  if out.target and not launch_normpath(out.target):match("^/dev/.") then
    self:add(p .. ".target", "a device must be under /dev")
    out.target = nil
  end
  if m.kind ~= "c" and m.kind ~= "b" and m.kind ~= "p" then
    self:add(p .. ".kind", 'must be "c" (character), "b" (block) or "p" (FIFO)')
  else
    out.kind = m.kind
  end
  for k, max in pairs { major = 4095, minor = 1048575 } do
    local n = as_int(m[k])
    if m.kind == "p" then
      if m[k] ~= nil then self:add(keypath(p, k), 'must be absent with kind "p" (a FIFO has no numbers)') end
    elseif not n or n < 0 or n > max then
      self:add(keypath(p, k), ("must be an integer 0..%d"):format(max))
    else
      out[k] = n
    end
  end
  for _, k in ipairs { "uid", "gid" } do
    if m[k] ~= nil then
      local n = as_int(m[k])
      if not n or n < 0 or n > 0xfffffffe then
        self:add(keypath(p, k), "must be an integer 0..4294967294")
      else
        out[k] = n
      end
    end
  end
end

function Checker:overlay(m, p, out)
  if m.idmap ~= nil then
    if m.idmap ~= "auto" then self:add(p .. ".idmap", 'must be "auto"') else out.idmap = "auto" end
  end
  if not is_list(m.lower) or #m.lower == 0 then
    self:add(p .. ".lower", "must be a non-empty list of absolute paths")
  else
    out.lower = {}
    for i, dir in ipairs(m.lower) do
      out.lower[i] = self:abspath(dir, ("%s.lower[%d]"):format(p, i))
    end
  end
  if m.upper ~= nil then
    out.upper = self:abspath(m.upper, p .. ".upper")
    if m.work == nil then
      self:add(p .. ".work", "is required with upper")
    else
      out.work = self:abspath(m.work, p .. ".work")
    end
    if m.size ~= nil then
      self:add(p .. ".size", "only applies to a tmpfs-backed upper (no upper)")
    end
  elseif m.work ~= nil then
    self:add(p .. ".upper", "is required with work")
  elseif m.ro == true and m.size ~= nil then
    self:add(p .. ".size", "only applies to a tmpfs-backed upper (ro = true has none)")
  end
end

-- rootfs: a directory (read-only), or an overlay root { lower = { DIR,
-- ... } (uppermost first), upper = DIR | "tmpfs" (default "tmpfs"), work
-- = DIR (with a DIR upper; default UPPER.work beside it), size = SIZE (a
-- tmpfs upper) } (docs/roots.md).
local ROOTFS_FIELDS = set { "lower", "upper", "work", "size" }
function Checker:rootfs(v)
  if type(v) ~= "table" then return self:abspath(v, "rootfs") end
  self:unknown(v, ROOTFS_FIELDS, "rootfs")
  local out = { lower = {} }
  if not is_list(v.lower) or #v.lower == 0 or #v.lower > 500 then
    self:add("rootfs.lower", "must be a list of 1..500 absolute paths")
  else
    for i, dir in ipairs(v.lower) do out.lower[i] = self:abspath(dir, ("rootfs.lower[%d]"):format(i)) end
  end
  if v.upper == nil or v.upper == "tmpfs" then
    out.upper = "tmpfs"
    if v.work ~= nil then self:add("rootfs.work", 'only applies to a directory upper (not "tmpfs")') end
    out.size = v.size == nil and M.DEFAULT_TMPFS_SIZE or self:size(v.size, "rootfs.size", 1)
  else
    out.upper = self:abspath(v.upper, "rootfs.upper")
    if v.size ~= nil then self:add("rootfs.size", 'only applies to a "tmpfs" upper') end
    if type(out.upper) == "string" then
      local up = out.upper:gsub("/+$", "")
      if up == "" then self:add("rootfs.upper", "must not be /") end
      out.upper = up
      out.work = v.work == nil and up .. ".work" or self:abspath(v.work, "rootfs.work")
      -- upper and work share one mount, the parent directory's (the
      -- kernel wants them on one mount; privileged, it is idmapped)
      local dir = up:match("^(.*)/[^/]+$")
      if type(out.work) == "string" and (out.work:match("^(.*)/[^/]+$") ~= dir or out.work == up) then
        self:add("rootfs.work", "must be another directory beside upper (in the same parent)")
      end
    end
  end
  return out
end

function Checker:mounts(spec)
  local v = spec.mounts
  if v == nil then return {} end
  if not is_list(v) then
    self:add("mounts", "must be a list of mount tables")
    return {}
  end
  local out = {}
  for i, m in ipairs(v) do
    out[i] = self:mount(m, keypath("mounts", i)) or false
  end
  return out
end

function Checker:veth(v)
  if type(v) ~= "table" then
    self:add("net.veth", "must be a table")
    return {}
  end
  self:unknown(v, VETH_FIELDS, "net.veth")
  local out = {}
  for _, k in ipairs { "host", "guest" } do
    if v[k] ~= nil then
      if is_ifname(v[k]) then
        out[k] = v[k]
      else
        self:add("net.veth." .. k, "must be an interface name of 1..15 bytes")
      end
    end
  end
  out.guest = out.guest or "eth0"
  for _, k in ipairs { "host_addr", "guest_addr" } do
    if v[k] ~= nil then
      if M.cidr(v[k]) then
        out[k] = v[k]
      else
        self:add("net.veth." .. k, "must be a CIDR address (a.b.c.d/n or v6/n)")
      end
    end
  end
  -- isolate_host: the host's input hook drops what arrives on the host end
  -- (net.lua, docs/networking.md "The plans")
  if v.isolate_host ~= nil then
    if type(v.isolate_host) ~= "boolean" then
      self:add("net.veth.isolate_host", "must be a boolean")
    elseif v.isolate_host then
      out.isolate_host = true
    end
  end
  self:nat_fields(v, out, "net.veth")
  -- route: "default" (a default route via the host end; true means the
  -- same) or false (no route)
  if v.route == nil or v.route == true or v.route == "default" then
    out.route = "default"
  elseif v.route == false then
    out.route = false
  else
    self:add("net.veth.route", 'must be "default" or false')
  end
  return out
end

-- nat = true and publish = { "[IP:]HOSTPORT:GUESTPORT[/tcp|/udp]", ... }
-- of a veth or bridge plan (net.lua, docs/networking.md), into 'out'.
function Checker:nat_fields(v, out, path)
  if v.nat ~= nil then
    if type(v.nat) ~= "boolean" then
      self:add(path .. ".nat", "must be a boolean")
    elseif v.nat then
      out.nat = true
    end
  end
  if v.publish ~= nil then
    if not is_list(v.publish) then
      self:add(path .. ".publish", 'must be a list of strings such as "8080:80/tcp"')
      return
    end
    local parse = require("nslua.net").parse_publish
    local list = {}
    for i, x in ipairs(v.publish) do
      local ok, msg = parse(x)
      if ok then list[i] = x else self:add(keypath(path .. ".publish", i), msg) end
    end
    if #list == #v.publish and #list > 0 then out.publish = list end
  end
end

-- net = "pasta" | { pasta = true, publish = { "[IP:]HOSTPORT:GUESTPORT[/tcp|/udp]", ... } }
function Checker:net_pasta(v)
  if v == "pasta" then return v end
  self:unknown(v, { pasta = true, publish = true }, "net")
  if v.pasta ~= true then self:add("net.pasta", "must be true") end
  local out = { pasta = true }
  self:nat_fields(v, out, "net")   -- publish only: nat is an unknown field here
  return out
end

--- With net = "pasta" and a mount namespace: /etc/resolv.conf naming
-- pasta's DNS forwarder, unless the spec mounts its own there.
function Checker:cross_pasta(out)
  local n = out.net
  if not (n == "pasta" or (type(n) == "table" and n.pasta)) or not out.namespaces.mnt then return end
  for _, m in ipairs(out.mounts) do
    if m.target == "/etc/resolv.conf" then return end
  end
  out.mounts[#out.mounts + 1] = { type = "file", target = "/etc/resolv.conf",
    content = require("nslua.pasta").resolv_conf(), mode = 420, ro = true, inplace = false }
end

function Checker:net(v)
  if v == "none" or v == "host" then return v end
  if v == "pasta" or (type(v) == "table" and v.pasta ~= nil) then return self:net_pasta(v) end
  if type(v) ~= "table" or (v.veth == nil and v.bridge == nil) then
    self:add("net", "must be \"none\", \"host\", \"pasta\", { veth = {...} } or " ..
      "{ bridge = NAME, addr = CIDR, gateway = IP }")
    return "none"
  end
  self:unknown(v, NET_FIELDS, "net")
  if v.veth ~= nil then
    for _, k in ipairs { "bridge", "addr", "gateway", "nat", "publish" } do
      if v[k] ~= nil then self:add("net." .. k, "not valid with veth") end
    end
    return { veth = self:veth(v.veth) }
  end
  local out = {}
  if is_ifname(v.bridge) then
    out.bridge = v.bridge
  else
    self:add("net.bridge", "must be an interface name of 1..15 bytes")
  end
  -- addr and gateway: one value, or a list of them (one per family)
  local function one_or_list(k, check, what)
    local x = v[k]
    if x == nil then return end
    local list = type(x) == "table" and is_list(x) and #x > 0 and #x <= 2 and x or { x }
    for _, e in ipairs(list) do
      if not check(e) then
        self:add("net." .. k, what)
        return
      end
    end
    out[k] = x
  end
  one_or_list("addr", M.cidr, "must be a CIDR address (a.b.c.d/n or v6/n)")
  one_or_list("gateway", M.ip, "must be an IP address")
  self:nat_fields(v, out, "net")
  return out
end

-- base = "none" (bubblewrap's base) has no core = 0 default.
function Checker:rlimits(v, base)
  local out = { core = base ~= "none" and 0 or nil }
  if v == nil then return out end
  if type(v) ~= "table" then
    self:add("limits.rlimits", "must be a table")
    return out
  end
  self:unknown(v, limits.RLIMITS, "limits.rlimits")
  for _, k in ipairs(limits.RLIMIT_KEYS) do
    if v[k] ~= nil then out[k] = self:limit("rlimits." .. k, v[k], "limits.rlimits." .. k) end
  end
  return out
end

-- A value of rlimits.NAME.soft/hard: "unlimited", math.huge or a number
-- of 2^63 or more (OCI's 2^64-1, RLIM_INFINITY, as JSON decodes it) mean
-- no limit.
local function rlimit_in(v)
  if math.type(v) == "float" and v >= 2.0 ^ 63 then return "unlimited" end
  return v
end

local function rlimit_num(v)
  return v == "unlimited" and math.huge or v
end

-- rlimits = { NAME = { soft = N, hard = N } }: every RLIMIT_* (nslua.limits
-- RLIMIT_KEYS), both values required, soft at most hard.  A name here
-- wins over limits.rlimits' (whose core = 0 default a normalised spec
-- carries).
function Checker:soft_hard(spec)
  local v = spec.rlimits
  if v == nil then return nil end
  if type(v) ~= "table" then
    self:add("rlimits", "must be a table { NAME = { soft = N, hard = N }, ... }")
    return nil
  end
  self:unknown(v, limits.RLIMITS, "rlimits",
    "unknown resource limit (valid: " .. table.concat(limits.RLIMIT_KEYS, " ") .. ")")
  local out = {}
  for _, k in ipairs(limits.RLIMIT_KEYS) do
    local x, p = v[k], "rlimits." .. k
    if x ~= nil then
      if type(x) ~= "table" then
        self:add(p, "must be a table { soft = N, hard = N }")
      else
        self:unknown(x, RLIMIT_PAIR, p)
        local pair = {}
        for _, which in ipairs { "soft", "hard" } do
          if x[which] == nil then
            self:add(p .. "." .. which, "is required")
          else
            pair[which] = self:limit("rlimits." .. k, rlimit_in(x[which]), p .. "." .. which)
          end
        end
        if pair.soft ~= nil and pair.hard ~= nil then
          if rlimit_num(pair.soft) > rlimit_num(pair.hard) then
            self:add(p, ("soft limit %s is above the hard limit %s"):format(
              tostring(pair.soft), tostring(pair.hard)))
          else
            out[k] = pair
          end
        end
      end
    end
  end
  return out
end

function Checker:limits(spec, base)
  local v = spec.limits
  if v == nil then return { rlimits = self:rlimits(nil, base) } end
  if type(v) ~= "table" then
    self:add("limits", "must be a table")
    return { rlimits = self:rlimits(nil, base) }
  end
  self:unknown(v, LIMIT_FIELDS, "limits")
  local out = {}
  for _, k in ipairs(limits.KEYS) do
    if v[k] ~= nil then out[k] = self:limit(k, v[k], "limits." .. k) end
  end
  out.rlimits = self:rlimits(v.rlimits, base)
  -- what time and extra_time measure (nslua.limits.CPU_SCOPES); absent
  -- means "container"
  if v.cpu_scope ~= nil then
    if v.cpu_scope == "container" or v.cpu_scope == "command" then
      out.cpu_scope = v.cpu_scope
    else
      self:add("limits.cpu_scope", 'must be "container" or "command"')
    end
  end
  return out
end

--- The capability sets of the set form of `caps` (OCI's
-- process.capabilities), in the order the exec tail applies them.
M.CAP_SETS = { "bounding", "permitted", "effective", "inheritable", "ambient" }
local CAP_SET_NAMES = set(M.CAP_SETS)

-- caps = { bounding = {...}, effective = {...}, permitted = {...},
-- inheritable = {...}, ambient = {...} }: each set a list of names (an
-- absent set is empty).  Normalised: each set canonical and sorted, and
-- the array part the union of them (what needs the list form: the
-- nested user namespace, the state record, composition's fallback), so
-- the normalised table validates again to itself.
function Checker:cap_sets(v)
  local out, union = {}, {}
  for k in pairs(v) do
    if math.type(k) ~= "integer" and not CAP_SET_NAMES[k] then
      self:add(keypath("caps", k), "unknown capability set (valid: " .. table.concat(M.CAP_SETS, " ") .. ")")
    end
  end
  for _, s in ipairs(M.CAP_SETS) do
    out[s] = self:cap_list(v[s] or {}, "caps." .. s)
    for _, c in ipairs(out[s]) do union[c] = true end
  end
  for _, n in ipairs(M.CAPS) do
    if union["cap_" .. n] then out[#out + 1] = "cap_" .. n end
  end
  return out
end

function Checker:caps(spec)
  local v = spec.caps
  if v == nil then return {} end
  if type(v) == "table" then
    for _, s in ipairs(M.CAP_SETS) do
      if v[s] ~= nil then return self:cap_sets(v) end
    end
  end
  return self:cap_list(v, "caps")
end

-- A list of capability names at 'path', canonical ("cap_x") and sorted
-- by number; "all" is every one.
function Checker:cap_list(v, path)
  if not is_list(v) then
    self:add(path, "must be a list of capability names" .. (path == "caps"
      and " or a table of sets { bounding, effective, permitted, inheritable, ambient }" or ""))
    return {}
  end
  local have = {}
  for i, c in ipairs(v) do
    local p = keypath(path, i)
    local name = M.cap_name(c)
    if type(c) ~= "string" then
      self:add(p, "must be a string")
    elseif not name then
      self:add(p, ("unknown capability %s"):format(show(c)))
    elseif name == "all" then
      for _, n in ipairs(M.CAPS) do have[n] = true end
    else
      have[name:sub(5)] = true
    end
  end
  local out = {}
  for _, n in ipairs(M.CAPS) do
    if have[n] then out[#out + 1] = "cap_" .. n end
  end
  return out
end

function Checker:seccomp(spec)
  local v = spec.seccomp
  if v == nil then return "default" end
  if v == "default" or v == "strict" or v == "isolate" or v == "none" then return v end
  if type(v) == "string" and (v:match("%.lua$") or v:match("%.json$")) and not v:find("%z") then
    return v
  end
  if type(v) ~= "table" then
    self:add("seccomp", "must be \"default\", \"strict\", \"isolate\", \"none\", " ..
      "a .lua or .json file or a profile table")
    return "default"
  end
  -- The profile's schema belongs to nslua.seccomp: one checker, one place.
  local ok, err = require("nslua.seccomp").validate(v)
  if not ok then
    local path, msg = err:match("^(%S+): (.*)$")
    self:add(path or "seccomp", msg or err)
  end
  return copy(v)
end

function Checker:env(spec)
  local v, out = spec.env, {}
  if v == nil then return out end
  if type(v) ~= "table" then
    self:add("env", "must be a table of NAME = value strings")
    return out
  end
  for k, x in pairs(v) do
    local p = keypath("env", k)
    if not env_name_ok(k) then
      self:add(p, "name must be a non-empty string without '='")
    elseif type(x) ~= "string" or x:find("%z") then
      self:add(p, "must be a string")
    else
      out[k] = x
    end
  end
  return out
end

-- landlock = { read, write, exec = { PATH, ... }, connect, bind = { PORT, ... } }
-- (nslua.landlock): paths absolute, without "..", normalised; ports 0..65535.
local LANDLOCK_FIELDS = set { "read", "write", "exec", "connect", "bind" }
function Checker:landlock(spec)
  local v = spec.landlock
  if v == nil then return nil end
  if type(v) ~= "table" then
    self:add("landlock", "must be a table of read, write, exec, connect, bind lists")
    return nil
  end
  self:unknown(v, LANDLOCK_FIELDS, "landlock")
  local out = {}
  for _, cat in ipairs { "read", "write", "exec" } do
    local list = v[cat]
    local path = keypath("landlock", cat)
    if list ~= nil and not is_list(list) then
      self:add(path, "must be a list of absolute paths")
    elseif list ~= nil then
      out[cat] = {}
      for i, p in ipairs(list) do
        if type(p) ~= "string" then
          self:add(keypath(path, i), "must be a string")
        elseif not is_abs(p) or has_dotdot(p) or p:find("%c") then
          self:add(keypath(path, i), "must be an absolute path without '..' or control characters")
        else
          out[cat][#out[cat] + 1] = launch_normpath(p)
        end
      end
    end
  end
  for _, cat in ipairs { "connect", "bind" } do
    local list = v[cat]
    local path = keypath("landlock", cat)
    if list ~= nil and not is_list(list) then
      self:add(path, "must be a list of TCP ports")
    elseif list ~= nil then
      out[cat] = {}
      for i, x in ipairs(list) do
        local n = as_int(x)
        if not n or n < 0 or n > 65535 then
          self:add(keypath(path, i), "must be a TCP port 0..65535")
        else
          out[cat][#out[cat] + 1] = n
        end
      end
    end
  end
  return out
end

function Checker:keep_env(spec)
  local v, out = spec.keep_env, {}
  if v == nil then return out end
  if not is_list(v) then
    self:add("keep_env", "must be a list of variable names")
    return out
  end
  for i, k in ipairs(v) do
    if env_name_ok(k) then
      out[#out + 1] = k
    else
      self:add(keypath("keep_env", i),
        "must be a non-empty string without '='")
    end
  end
  return out
end

function Checker:stdio(spec)
  local v = spec.stdio
  local out = { stdin = "inherit", stdout = "inherit", stderr = "inherit", fds = {} }
  if v == nil then return out end
  if type(v) ~= "table" then
    self:add("stdio", "must be a table")
    return out
  end
  self:unknown(v, STDIO_FIELDS, "stdio")
  for _, k in ipairs { "stdin", "stdout", "stderr" } do
    local x = v[k]
    if x ~= nil then
      local fd = as_int(x)
      if type(x) == "table" then
        -- { inside = PATH }: the command opens it, inside, as its own ids
        self:unknown(x, STDIO_INSIDE_FIELDS, "stdio." .. k)
        local p = "stdio." .. k .. ".inside"
        if x.inside == nil then
          self:add(p, "is required (an absolute path inside the sandbox)")
        elseif not is_abs(x.inside) or x.inside:find("\n") then
          self:add(p, "must be an absolute path (starting with \"/\", no NUL or newline)")
        else
          out[k] = { inside = x.inside }
        end
      elseif type(x) == "string" and x ~= "" and not x:find("%z") then
        out[k] = x
      elseif fd and fd >= 0 and fd <= MAX_FD then
        out[k] = fd
      else
        self:add("stdio." .. k, "must be \"inherit\", \"null\", a path, "
          .. "{ inside = PATH } or a file descriptor")
      end
    end
  end
  if v.fds ~= nil then
    if not is_list(v.fds) then
      self:add("stdio.fds", "must be a list of file descriptors >= 3")
    else
      local seen = {}
      for i, x in ipairs(v.fds) do
        local fd, p = as_int(x), ("stdio.fds[%d]"):format(i)
        if not fd or fd < 3 or fd > MAX_FD then
          self:add(p, "must be a file descriptor >= 3")
        elseif seen[fd] then
          self:add(p, ("duplicate file descriptor %d"):format(fd))
        else
          seen[fd] = true
          out.fds[#out.fds + 1] = fd
        end
      end
    end
  end
  return out
end

-- cwd: a directory, or a list of them (the command starts in the first
-- one it can enter, like bubblewrap's caller's cwd, else $HOME, else /).
function Checker:cwd(spec)
  local v = spec.cwd
  if v == nil then return "/" end
  if type(v) ~= "table" then return self:abspath(v, "cwd") end
  if not is_list(v) or #v == 0 or #v > 64 then
    self:add("cwd", "must be an absolute path or a list of 1..64 of them")
    return nil
  end
  local out = {}
  for i, p in ipairs(v) do out[i] = self:abspath(p, keypath("cwd", i)) end
  return out
end

-- The process side of a sandbox (docs/spec.md "The spec"): argv0, session, init,
-- die_with_parent, lock_files, sync.  Absent fields stay absent.
-- cgroup = { path = P, controllers = { NAME, ... } }: where the sandbox's
-- cgroup goes (absolute: from each hierarchy's mount point; relative:
-- under nslua's own group; default nslua-<id> there) and the controllers
-- it joins besides those its limits need (an OCI cgroupsPath and the
-- groups whose files the OCI front end writes).
local CGROUP_FIELDS = set { "path", "controllers" }
function Checker:cgroup(v, out)
  if v == nil then return end
  if type(v) ~= "table" then
    self:add("cgroup", "must be a table { path, controllers }")
    return
  end
  self:unknown(v, CGROUP_FIELDS, "cgroup")
  local o = {}
  if v.path ~= nil then
    local p = v.path
    if type(p) ~= "string" or p == "" or p == "/" or #p > 4096 or p:find("%z")
      or ("/" .. p .. "/"):find("/%.%.?/") or p:find("//") then
      self:add("cgroup.path", "must be a path of named components (no '.', '..' or empty ones)")
    else
      o.path = p:gsub("/+$", "")
    end
  end
  if v.controllers ~= nil then
    if not is_list(v.controllers) then
      self:add("cgroup.controllers", "must be a list of controller names")
    else
      o.controllers = {}
      local known = require("nslua.cgroup").KNOWN
      for i, c in ipairs(v.controllers) do
        if not known[c] then
          self:add(keypath("cgroup.controllers", i), ("unknown controller %s"):format(limits.show(c)))
        else
          o.controllers[#o.controllers + 1] = c
        end
      end
    end
  end
  out.cgroup = o
end

function Checker:process(spec, out)
  if spec.set_pwd ~= nil then out.set_pwd = self:boolean(spec.set_pwd, "set_pwd", false) end
  if spec.argv0 ~= nil then
    if type(spec.argv0) ~= "string" or spec.argv0:find("%z") then
      self:add("argv0", "must be a string without NUL bytes")
    else
      out.argv0 = spec.argv0
    end
  end
  if spec.session ~= nil then
    if spec.session ~= "new" and spec.session ~= "keep" then
      self:add("session", 'must be "new" or "keep"')
    else
      out.session = spec.session
    end
  end
  if spec.init ~= nil then out.init = self:boolean(spec.init, "init", true) end
  if spec.die_with_parent ~= nil then
    out.die_with_parent = self:boolean(spec.die_with_parent, "die_with_parent", false)
  end
  -- detach: the command outlives nslua (an OCI container between create
  -- and delete): no init, nothing that dies with nslua
  if spec.detach ~= nil then
    out.detach = self:boolean(spec.detach, "detach", false)
    if out.detach and spec.init ~= false then self:add("detach", "requires init = false") end
    if out.detach and spec.die_with_parent then self:add("detach", "conflicts with die_with_parent") end
  end
  if spec.lock_files ~= nil then
    local v = spec.lock_files
    if not is_list(v) then
      self:add("lock_files", "must be a list of absolute paths")
    else
      out.lock_files = {}
      for i, p in ipairs(v) do out.lock_files[i] = self:abspath(p, keypath("lock_files", i)) end
    end
  end
  if spec.sync ~= nil then
    local v = spec.sync
    if type(v) ~= "table" then
      self:add("sync", "must be a table { block_fd, userns_block_fd, sync_fd }")
      return
    end
    self:unknown(v, SYNC_FIELDS, "sync")
    out.sync = {}
    for k in pairs(SYNC_FIELDS) do
      if v[k] ~= nil then
        local fd = as_int(v[k])
        if not fd or fd < 0 or fd > MAX_FD then
          self:add("sync." .. k, "must be a file descriptor >= 0")
        else
          out.sync[k] = fd
        end
      end
    end
  end
end

-- umask (0..0777), no_new_privs (absent: true), oom_score_adj
-- (-1000..1000): the OCI process fields.  Absent fields stay absent.
function Checker:process_oci(spec, out)
  if spec.umask ~= nil then
    local n = as_int(spec.umask)
    if not n or n < 0 or n > 511 then
      self:add("umask", "must be an integer 0..0777")
    else
      out.umask = n
    end
  end
  if spec.no_new_privs ~= nil then
    out.no_new_privs = self:boolean(spec.no_new_privs, "no_new_privs", true)
  end
  if spec.personality ~= nil then
    if spec.personality == "linux" or spec.personality == "linux32" then
      out.personality = spec.personality
    else
      self:add("personality", 'must be "linux" or "linux32"')
    end
  end
  if spec.oom_score_adj ~= nil then
    local n = as_int(spec.oom_score_adj)
    if not n or n < -1000 or n > 1000 then
      self:add("oom_score_adj", "must be an integer -1000..1000")
    else
      out.oom_score_adj = n
    end
  end
end

-- The sysctls a sandbox may set: those of its own namespaces (runc's
-- list): the IPC ones and fs.mqueue.* need an ipc namespace, net.* a
-- network namespace.  kernel.hostname and kernel.domainname are the
-- hostname and domainname fields.
M.SYSCTL_IPC = {
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
  "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}
local SYSCTL_IPC = set(M.SYSCTL_IPC)

-- The namespace sysctl key k needs ("ipc", "net"), or nil and why not.
local function sysctl_ns(k)
  if k == "kernel.hostname" or k == "kernel.domainname" then
    return nil, ("is refused: use the %s field"):format(k:sub(8))
  end
  if SYSCTL_IPC[k] or k:match("^fs%.mqueue%.") then return "ipc" end
  if k:match("^net%.") then return "net" end
  return nil, "is not a sysctl of the sandbox's namespaces (" .. table.concat(M.SYSCTL_IPC, " ")
    .. " fs.mqueue.* net.*)"
end

-- sysctl = { ["net.ipv4.ip_forward"] = "1", ... }: keys are dot-separated
-- names (no "/", no empty or "." part: nothing can leave /proc/sys);
-- values strings (or integers) without NUL.  Returns the normalised
-- table and the namespaces the keys need ({ key = "ipc"|"net" }).
function Checker:sysctl(spec)
  local v = spec.sysctl
  if v == nil then return nil end
  if type(v) ~= "table" then
    self:add("sysctl", 'must be a table { ["key"] = "value", ... }')
    return nil
  end
  local out, needs = {}, {}
  for k, x in pairs(v) do
    local p = keypath("sysctl", k)
    if type(k) ~= "string" or not k:match("^[%w_%-:+@]+%.[%w_%-:+@.]*[%w_%-:+@]$")
      or k:find("..", 1, true) then
      self:add(p, 'must be a sysctl name such as "net.ipv4.ip_forward" (dot-separated words)')
    else
      local need, why = sysctl_ns(k)
      if not need then
        self:add(p, why)
      elseif math.type(x) == "integer" then
        out[k], needs[k] = tostring(x), need
      elseif type(x) ~= "string" or x:find("%z") then
        self:add(p, "must be a string (or an integer)")
      else
        out[k], needs[k] = x, need
      end
    end
  end
  return out, needs
end

-- masks = { masked = { PATH, ... }, readonly = { PATH, ... } }: inside
-- paths (absolute, no ".."); either list may be absent (empty).
function Checker:masks(spec)
  local v = spec.masks
  if v == nil then return nil end
  if type(v) ~= "table" then
    self:add("masks", "must be a table { masked = { PATH, ... }, readonly = { PATH, ... } }")
    return nil
  end
  self:unknown(v, MASKS_FIELDS, "masks")
  local out = { masked = {}, readonly = {} }
  for _, k in ipairs { "masked", "readonly" } do
    local list, base = v[k], "masks." .. k
    if list ~= nil and not is_list(list) then
      self:add(base, "must be a list of absolute paths")
    else
      for i, p in ipairs(list or {}) do
        local path = keypath(base, i)
        if not is_abs(p) then
          self:add(path, "must be an absolute path")
        elseif has_dotdot(p) then
          self:add(path, "must not contain '..'")
        else
          out[k][#out[k] + 1] = p
        end
      end
    end
  end
  return out
end

function Checker:hooks(spec)
  local v, out = spec.hooks, {}
  if v == nil then return out end
  if type(v) ~= "table" then
    self:add("hooks", "must be a table of functions")
    return out
  end
  self:unknown(v, HOOKS, "hooks", "unknown hook")
  for k in pairs(HOOKS) do
    if v[k] ~= nil then
      if type(v[k]) ~= "function" then
        self:add("hooks." .. k, "must be a function")
      else
        out[k] = v[k]
      end
    end
  end
  return out
end

-- A caller's file descriptor (an integer 0..MAX_FD), or nil with the
-- problem added.
function Checker:fd(v, path)
  local fd = as_int(v)
  if not fd or fd < 0 or fd > MAX_FD then
    self:add(path, "must be a file descriptor (an integer >= 0)")
    return nil
  end
  return fd
end

-- userns = { fd = N, after = N, disable = bool, assert_disabled = bool }:
-- join the user namespace of fd N instead of making one; setns into the
-- one of fd 'after' once set-up is done; make user namespaces impossible
-- to create inside; fail set-up unless creating one is refused.
function Checker:userns(spec)
  local v = spec.userns
  if v == nil then return nil end
  if type(v) ~= "table" then
    self:add("userns", "must be a table { fd, after, disable, assert_disabled }")
    return nil
  end
  self:unknown(v, USERNS_FIELDS, "userns")
  local out = {}
  for _, k in ipairs { "fd", "after" } do
    if v[k] ~= nil then out[k] = self:fd(v[k], "userns." .. k) end
  end
  for _, k in ipairs { "disable", "assert_disabled" } do
    if self:boolean(v[k], "userns." .. k, false) then out[k] = true end
  end
  return out
end

-- seccomp_bpf = { STRING, ... }: raw classic BPF programs (struct
-- sock_filter arrays, 8 bytes an instruction, at most BPF_MAXINSNS).
M.BPF_MAXINSNS = 4096

function Checker:seccomp_bpf(spec)
  local v = spec.seccomp_bpf
  if v == nil then return nil end
  if not is_list(v) then
    self:add("seccomp_bpf", "must be a list of BPF programs (strings)")
    return nil
  end
  local out = {}
  for i, prog in ipairs(v) do
    local p = keypath("seccomp_bpf", i)
    if type(prog) ~= "string" then
      self:add(p, "must be a string (a BPF program)")
    elseif #prog == 0 or #prog % 8 ~= 0 or #prog > M.BPF_MAXINSNS * 8 then
      self:add(p, ("must be a classic BPF program: a positive multiple of 8 bytes, " ..
        "at most %d instructions (it has %d bytes)"):format(M.BPF_MAXINSNS, #prog))
    else
      out[#out + 1] = prog
    end
  end
  return out
end

-- seccomp_listener = { path = ABS, metadata = STRING, bundle = STRING,
-- annotations = { K = V } }: the unix socket that the listener of a
-- profile's "notify" syscalls goes to, with OCI's container process state
-- (docs/spec.md "Seccomp").  sun_path holds 107 bytes.
M.LISTENER_PATH_MAX = 107

function Checker:seccomp_listener(t)
  if type(t) ~= "table" then
    self:add("seccomp_listener", "must be a table { path = \"/run/agent.sock\", metadata = ... }")
    return nil
  end
  local out = {}
  for k, v in pairs(t) do
    local p = keypath("seccomp_listener", k)
    if k == "path" then
      if type(v) ~= "string" or v:sub(1, 1) ~= "/" or v:find("%z") or #v > M.LISTENER_PATH_MAX then
        self:add(p, ("must be an absolute path of at most %d bytes"):format(M.LISTENER_PATH_MAX))
      else
        out.path = v
      end
    elseif k == "metadata" or k == "bundle" then
      if type(v) ~= "string" then self:add(p, "must be a string") else out[k] = v end
    elseif k == "annotations" then
      if type(v) ~= "table" then
        self:add(p, "must be a table { KEY = VALUE }")
      else
        out.annotations = {}
        for ak, av in pairs(v) do
          if type(ak) ~= "string" or type(av) ~= "string" then
            self:add(keypath(p, ak), "keys and values must be strings")
          else
            out.annotations[ak] = av
          end
        end
      end
    else
      self:add(p, ("unknown field '%s' (valid: annotations bundle metadata path)"):format(tostring(k)))
    end
  end
  if out.path == nil and t.path == nil then self:add("seccomp_listener.path", "is required") end
  return out
end

-- The cross-field rules of userns (after the namespaces are final).
-- With userns.fd the sandbox's ids are the joined namespace's: user.uid
-- and user.gid stay unset (no switch) unless the spec gives them.
function Checker:cross_userns(spec, out)
  local ns, u = out.namespaces, out.userns
  if not u then return end
  if u.fd then
    if M.host_user(out.user) then
      self:add("userns.fd", "requires a user namespace (not user = \"host\")")
    else
      local su = type(spec.user) == "table" and spec.user or {}
      if out.user.host_uid then
        self:add("user.host_uid", "conflicts with userns.fd (a joined namespace's maps are its own)")
      end
      if su.uid == nil then out.user.uid = nil end
      if su.gid == nil then out.user.gid = nil end
      for i, m in ipairs(out.mounts) do
        if m and m.type == "bind-idmap" then
          self:add(keypath("mounts", i), "bind-idmap needs a user namespace nslua makes (not userns.fd)")
        end
      end
    end
  end
  if u.disable then
    if M.host_user(out.user) then
      self:add("userns.disable", "requires a user namespace (not user = \"host\")")
    elseif u.fd then
      self:add("userns.disable", "requires a new user namespace (conflicts with userns.fd)")
    end
    if u.after then self:add("userns.disable", "conflicts with userns.after") end
    if not ns.mnt then self:add("userns.disable", "requires a mount namespace (namespaces.mnt)") end
  end
end

local DEFAULT_NS = {
  cgroup = true, ipc = true, mnt = true, net = true, pid = true, time = false,
  user = true, uts = true,
}

-- Defaults and cross-field rules that tie namespaces to user, net, mounts,
-- hostname and tty.  namespaces.user = false without `user` means
-- user = "host"; namespaces.net = false without `net` means net = "host".
function Checker:cross(spec, out)
  local ns = out.namespaces -- so far only the valid entries the spec gave
  if spec.user == nil then
    out.user = ns.user == false and "host" or self:user({})
  elseif M.host_user(out.user) then
    if ns.user then self:add("namespaces.user", "conflicts with user = \"host\"") end
  elseif ns.user == false then
    self:add("namespaces.user", "false requires user = \"host\"")
  end
  if spec.net == nil then
    out.net = ns.net == false and "host" or "none"
  elseif out.net == "host" then
    if ns.net then self:add("namespaces.net", "conflicts with net = \"host\"") end
  elseif ns.net == false then
    self:add("namespaces.net", "false requires net = \"host\"")
  end
  for k, default in pairs(DEFAULT_NS) do
    if ns[k] == nil then ns[k] = default end
  end
  ns.user = not M.host_user(out.user)
  ns.net = out.net ~= "host"
  for i, m in ipairs(out.mounts) do
    local need = m and MOUNT_NEEDS_NS[m.type]
    -- a proc of the pid namespace pidns_fd joins needs no new one
    if need == "pid" and out.pidns_fd then need = nil end
    if m and m.host_ns then
      if need and M.has_ns(out, need) then
        self:add(keypath("mounts", i) .. ".host_ns", ("conflicts with the sandbox's own %s namespace"):format(need))
      end
      need = nil
    end
    if need and not M.has_ns(out, need) then
      self:add(keypath("mounts", i), ("%s requires a %s namespace (namespaces.%s)")
        :format(m.type, need, need))
    end
  end
  if out.base == "none" and out.rootfs then
    self:add("base", "\"none\" conflicts with rootfs (a rootfs is the base)")
  end
  if not M.has_ns(out, "mnt") then
    if out.base == "none" then
      self:add("base", "\"none\" requires a mount namespace (namespaces.mnt)")
    end
    if #out.mounts > 0 then
      self:add("mounts", "requires a mount namespace (namespaces.mnt)")
    end
    if out.rootfs then
      self:add("rootfs", "requires a mount namespace (namespaces.mnt)")
    end
  end
  if out.hostname and not M.has_ns(out, "uts") then
    self:add("hostname", "requires a uts namespace (namespaces.uts)")
  elseif spec.hostname == nil and ns.uts and out.base ~= "none" then
    -- base "none" (bubblewrap's) keeps the caller's hostname in the new namespace
    out.hostname = "sandbox"
  end
  if out.tty and out.stdio.stdin ~= "inherit" then
    self:add("stdio.stdin", "must be \"inherit\" with tty = true")
  end
  if out.tty and out.session == "keep" then
    self:add("session", 'must be "new" with tty = true (the pty becomes the controlling terminal)')
  end
  if out.sync and out.sync.userns_block_fd and not ns.user then
    self:add("sync.userns_block_fd", "requires a user namespace (user ~= \"host\")")
  end
end

-- time_offsets = { monotonic = OFFSET, boottime = OFFSET }: an OFFSET is
-- seconds (a number, fractional too) or { secs = INT, nanosecs = 0..999999999 }
-- (OCI's linux.timeOffsets); each becomes { sec, nsec } with 0 <= nsec <
-- 1e9.  The kernel keeps each clock within 0..2^62 ns (KTIME_SEC_MAX / 2
-- seconds): a larger offset never works, and one that takes a clock below
-- 0 (more negative than the host's uptime) is refused when the sandbox
-- starts.
local TIME_OFFSET_MAX <const> = 4611686018
M.TIME_OFFSET_MAX = TIME_OFFSET_MAX
function Checker:time_offsets(t)
  if type(t) ~= "table" then
    self:add("time_offsets", "must be a table { monotonic = SECONDS, boottime = SECONDS }")
    return nil
  end
  local out = {}
  for k, v in pairs(t) do
    local p = keypath("time_offsets", k)
    local sec, nsec
    if k ~= "monotonic" and k ~= "boottime" then
      self:add(p, "unknown clock (valid: boottime monotonic)")
    elseif type(v) == "number" then
      if v ~= v or v > TIME_OFFSET_MAX or v < -TIME_OFFSET_MAX then
        self:add(p, ("must be within +-%d seconds"):format(TIME_OFFSET_MAX))
      elseif math.type(v) == "integer" then
        sec, nsec = v, 0
      else
        sec = math.floor(v)
        nsec = math.floor((v - sec) * 1e9 + 0.5)
        if nsec >= 1000000000 then sec, nsec = sec + 1, nsec - 1000000000 end
        sec = math.tointeger(sec)
      end
    elseif type(v) == "table" then
      local extra
      for f in pairs(v) do
        if f ~= "secs" and f ~= "nanosecs" then extra = f break end
      end
      local s = type(v.secs or 0) == "number" and math.tointeger(v.secs or 0)
      local ns = type(v.nanosecs or 0) == "number" and math.tointeger(v.nanosecs or 0)
      if extra then
        self:add(p, ("unknown field '%s' (valid: secs nanosecs)"):format(tostring(extra)))
      elseif not s or not ns or ns < 0 or ns > 999999999 then
        self:add(p, "must be { secs = integer, nanosecs = 0..999999999 }")
      elseif s > TIME_OFFSET_MAX or s < -TIME_OFFSET_MAX then
        self:add(p, ("must be within +-%d seconds"):format(TIME_OFFSET_MAX))
      else
        sec, nsec = s, ns
      end
    else
      self:add(p, "must be seconds (a number) or { secs = integer, nanosecs = integer }")
    end
    if sec then out[k] = { sec = sec, nsec = nsec } end
  end
  return out
end

-- The namespaces the OCI fields need: domainname a uts namespace; each
-- sysctl its ipc or network namespace, and a mount namespace (it is
-- written after the mount steps, through the new root's /proc).
function Checker:cross_oci(out, sysctl_needs)
  local has = function(k) return M.has_ns(out, k) end
  if out.masks and not has("mnt") then
    self:add("masks", "requires a mount namespace (namespaces.mnt)")
  end
  if out.rootfs_propagation and not has("mnt") then
    self:add("rootfs_propagation", "requires a mount namespace (namespaces.mnt)")
  end
  if out.domainname and not has("uts") then
    self:add("domainname", "requires a uts namespace (namespaces.uts)")
  end
  if out.time_offsets and next(out.time_offsets) and not out.namespaces.time then
    self:add("time_offsets", "requires a new time namespace (namespaces.time)")
  end
  for k, need in pairs(sysctl_needs or {}) do
    local p = keypath("sysctl", k)
    if not has(need) then
      self:add(p, ("requires a%s %s namespace (namespaces.%s)"):format(need == "ipc" and "n" or "",
        need, need))
    elseif not has("mnt") then
      self:add(p, "requires a mount namespace (namespaces.mnt)")
    end
  end
end

--- The namespaces `join` may name (a path each), in the order they are
-- joined (after the user namespace).
M.JOIN_NS = { "ipc", "uts", "net", "cgroup", "time", "mnt" }
local JOIN_SET = set(M.JOIN_NS)

-- join = { net = PATH, ... }: namespaces the sandbox enters instead of
-- making (namespaces.<ns> must then be false: with net, net = "host"
-- follows from it).  pid is joined as pidns_fd is (the clone is born in
-- it); user is refused: userns.fd joins one by a file descriptor.
function Checker:join(spec, out)
  local v = spec.join
  if v == nil then return end
  if type(v) ~= "table" then
    self:add("join", "must be a table { net = PATH, ipc = PATH, ... }")
    return
  end
  out.join = {}
  for k, path in pairs(v) do
    local p = keypath("join", k)
    if k == "pid" then
      if self:abspath(path, p) then out.join.pid = path end
    elseif k == "user" then
      self:add(p, "joining a user namespace by path is not supported (userns.fd joins one by fd)")
    elseif not JOIN_SET[k] then
      self:add(p, "unknown namespace (valid: " .. table.concat(M.JOIN_NS, " ") .. ")")
    elseif self:abspath(path, p) then
      out.join[k] = path
    end
  end
end

-- host_mnt = true (OCI: a config without a mount namespace): the set-up
-- is done in a mount namespace of the sandbox's own as always, and its
-- root then becomes the command's in the caller's mount namespace (a
-- detached copy: the caller's namespace gets none of the mounts).
function Checker:cross_host_mnt(out)
  if not out.host_mnt then return end
  if not out.namespaces.mnt then
    self:add("host_mnt", "requires namespaces.mnt (the set-up's own mount namespace)")
  end
  if not M.host_user(out.user) then
    self:add("host_mnt", "requires user = \"host\" (a new user namespace may not enter the caller's mounts)")
  end
  if out.join and out.join.mnt then self:add("host_mnt", "conflicts with join.mnt") end
end

function Checker:cross_join(out)
  if out.join and out.join.pid and out.pidns_fd then
    self:add("join.pid", "conflicts with pidns_fd (one pid namespace to be born in)")
  end
  for k in pairs(out.join or {}) do
    if out.namespaces[k] then
      self:add(keypath("join", k), ("conflicts with namespaces.%s (a joined namespace is not also made)")
        :format(k))
    end
  end
end

--- Whether a validated spec's sandbox has namespace `k` of its own, made
-- (namespaces[k]) or joined by path (join[k]): what the mounts, hostname,
-- sysctls and masks that need one are done in.  A joined mount namespace
-- is set up as runc does it: the root and mounts are made in it.
function M.has_ns(spec, k)
  return spec.namespaces[k] or (spec.join ~= nil and spec.join[k] ~= nil)
end

-- Sort key: the path with numbers zero-padded, so mounts[2] < mounts[10].
local function sort_key(e)
  local pad = function(d) return ("%012d"):format(tonumber(d)) end
  return (e.path:gsub("%d+", pad)) .. "\0" .. e.msg
end

--- Check a spec without raising.
-- @tparam table spec
-- @tparam[opt] table opts `need_argv = true` requires argv
-- @treturn[1] table the normalised spec (a new table)
-- @return[2] nil
-- @treturn[2] table every problem as "path: message", sorted by path
function M.check(spec, opts)
  if type(spec) ~= "table" then return nil, { "spec: must be a table" } end
  opts = opts or {}
  local c = setmetatable({ errors = {} }, Checker)
  c:unknown(spec, FIELDS, "")
  local out = {}
  out.name = c:name(spec)
  if spec.hostname ~= nil then
    local h = spec.hostname
    if type(h) ~= "string" or #h < 1 or #h > 64 or not h:match("^[%w][%w._-]*$") then
      c:add("hostname", "must be 1..64 characters of [A-Za-z0-9._-], " ..
        "starting with a letter or digit")
    else
      out.hostname = h
    end
  end
  out.cwd = c:cwd(spec)
  out.argv = c:argv(spec, opts.need_argv)
  out.namespaces = c:namespaces(spec)
  if spec.user ~= nil then out.user = c:user(spec.user) end
  if spec.rootfs ~= nil then out.rootfs = c:rootfs(spec.rootfs) end
  out.mounts = c:mounts(spec)
  -- base: "default" (nslua's root; left absent) or "none" (an empty root)
  if spec.base == "none" then
    out.base = "none"
  elseif spec.base ~= nil and spec.base ~= "default" then
    c:add("base", 'must be "default" or "none"')
  end
  if spec.net ~= nil then out.net = c:net(spec.net) end
  out.limits = c:limits(spec, out.base)
  out.rlimits = c:soft_hard(spec)
  out.masks = c:masks(spec)
  c:join(spec, out)
  if spec.host_mnt ~= nil then out.host_mnt = c:boolean(spec.host_mnt, "host_mnt", false) or nil end
  if spec.rootfs_propagation ~= nil then
    if PROPAGATION[spec.rootfs_propagation] then
      out.rootfs_propagation = spec.rootfs_propagation
    else
      c:add("rootfs_propagation", "must be one of " .. PROPAGATION_LIST)
    end
  end
  local sysctl_needs
  out.sysctl, sysctl_needs = c:sysctl(spec)
  if spec.domainname ~= nil then
    local h = spec.domainname
    if type(h) ~= "string" or #h < 1 or #h > 64 or not h:match("^[%w][%w._-]*$") then
      c:add("domainname", "must be 1..64 characters of [A-Za-z0-9._-], " ..
        "starting with a letter or digit")
    else
      out.domainname = h
    end
  end
  if spec.time_offsets ~= nil then out.time_offsets = c:time_offsets(spec.time_offsets) end
  c:process_oci(spec, out)
  out.caps = c:caps(spec)
  out.seccomp = c:seccomp(spec)
  out.env = c:env(spec)
  out.keep_env = c:keep_env(spec)
  out.landlock = c:landlock(spec)
  out.stdio = c:stdio(spec)
  out.tty = c:boolean(spec.tty, "tty", false)
  out.hooks = c:hooks(spec)
  c:process(spec, out)
  c:cgroup(spec.cgroup, out)
  out.userns = c:userns(spec)
  if spec.pidns_fd ~= nil then out.pidns_fd = c:fd(spec.pidns_fd, "pidns_fd") end
  out.seccomp_bpf = c:seccomp_bpf(spec)
  if spec.seccomp_listener ~= nil then out.seccomp_listener = c:seccomp_listener(spec.seccomp_listener) end
  if type(out.seccomp) == "table" and not out.seccomp_listener
      and require("nslua.seccomp").has_listener(out.seccomp) then
    c:add("seccomp", "action \"notify\" needs seccomp_listener (the agent the kernel's listener goes to)")
  end
  -- exec_error = "stderr": a failed execve is a message on the command's
  -- stderr and exit 127 (a shell's way, isolate's), not an exec error
  if spec.exec_error ~= nil then
    if spec.exec_error == "stderr" then
      out.exec_error = "stderr"
    else
      c:add("exec_error", 'must be "stderr" (or absent)')
    end
  end
  c:cross(spec, out)
  c:cross_userns(spec, out)
  c:cross_oci(out, sysctl_needs)
  c:cross_join(out)
  c:cross_host_mnt(out)
  c:cross_pasta(out)
  if #c.errors == 0 then return out end
  local errs = c.errors
  for _, e in ipairs(errs) do e.key = sort_key(e) end
  table.sort(errs, function(a, b) return a.key < b.key end)
  local lines = {}
  for i, e in ipairs(errs) do lines[i] = e.path .. ": " .. e.msg end
  return nil, lines
end

--- Check a seccomp_listener table alone (nslua.exec's opts).
-- @treturn[1] table the normalised table
-- @return[2] nil
-- @treturn[2] string the first problem, "seccomp_listener.KEY: message"
function M.check_listener(t)
  local c = setmetatable({ errors = {} }, Checker)
  local out = c:seccomp_listener(t)
  local e = c.errors[1]
  if e then return nil, e.path .. ": " .. e.msg end
  return out
end

--- Validate a spec, raising on any problem.
-- @tparam table spec
-- @tparam[opt] table opts `need_argv = true` requires argv
-- @treturn table the normalised spec (a new table)
-- @raise every problem, one "path: message" per line, sorted by path
function M.validate(spec, opts)
  local out, errs = M.check(spec, opts)
  if not out then error(table.concat(errs, "\n"), 2) end
  return out
end

return M
