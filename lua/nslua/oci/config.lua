--- nslua.oci.config: an OCI bundle's config.json as an nslua spec.
--
-- The OCI runtime front end (`nslua oci`, `nslua-oci`) reads config.json
-- here and nowhere else: `load` decodes it with lua-cjson, `to_spec` turns
-- it into one spec for the one executor (DESIGN "Front ends"), `default`
-- is what `runc spec [--rootless]` writes and `features` what `runc
-- features` prints.  A front end is a pure function: nothing here touches
-- the kernel (the caller's ids for `default(true)`, libseccomp's syscall
-- table, and the native arch and kernel release that Docker's seccomp
-- includes/excludes test are the only things read from the system).
--
-- Every problem names its JSON path, with array indexes counted from 0 as
-- jq and the OCI tools count them: `mounts[3].destination: must be an
-- absolute path`.  JSON null is the same as an absent member.  docs/oci.md
-- ("config.json -> spec") tables each field and every difference from runc.
local cjson = require "cjson"
local limits = require "nslua.limits"
local validate = require "nslua.validate"
local jsonpath = require "nslua.jsonpath"

local M = {}

--- The runtime-spec versions accepted: 1.0.x, 1.1.x and 1.2.x (with any
-- pre-release suffix, such as runc's "1.0.2-dev").
M.OCI_VERSION_MIN = "1.0.0"
M.OCI_VERSION_MAX = "1.2.0"
--- What `default` writes as ociVersion (runc 1.1's `runc spec`).
M.SPEC_VERSION = "1.0.2-dev"

--- The first index of a JSON array in messages (jq's).
M.INDEX_BASE = jsonpath.INDEX_BASE

local NULL <const> = cjson.null
local U32 <const> = 0xffffffff

-- ------------------------------------------------------------ helpers

-- The JSON reading helpers and the problem collector are nslua.jsonpath's
-- (shared with nslua.seccomp_json).
local get, at, field = jsonpath.get, jsonpath.at, jsonpath.field
local is_object, is_array, as_int = jsonpath.is_object, jsonpath.is_array, jsonpath.as_int
local TWO63, ALL_ONES_MAX = jsonpath.TWO63, jsonpath.ALL_ONES_MAX

local function deep_copy(v)
  if v == NULL then return nil end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return t
end

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

local function is_abs(p)
  return type(p) == "string" and p:sub(1, 1) == "/" and not p:find("%z")
end

local function join_path(dir, p)
  if p:sub(1, 1) == "/" then return p end
  if p == "." or p == "" then return dir end
  return (dir:gsub("/+$", "")) .. "/" .. p:gsub("^%./", "")
end

-- The collector: every problem as "path: message", in document order
-- (add, object, array, string, boolean, integer, strings: jsonpath.Reader's).
local Conv = setmetatable({}, { __index = jsonpath.Reader })
Conv.__index = Conv

-- A Linux security label of LSM 'lsm' ("selinux" or "apparmor"): nslua
-- applies none.  Refused where the host enforces that LSM; where it does
-- not, ignored with a warning, as crun does (runc fails: its write of the
-- label is EINVAL there).
function Conv:no_label(t, k, base, what, lsm)
  local v = get(t, k)
  if v == nil then return end
  if type(v) ~= "string" then
    self:add(field(base, k), "must be a string")
  elseif v ~= "" and self.lsm[lsm] then
    self:add(field(base, k), "nslua does not apply %s (remove it, or use runc)", what)
  elseif v ~= "" then
    self.warnings[#self.warnings + 1] = ("%s: ignored: %s is not enabled on this host")
      :format(field(base, k), lsm == "selinux" and "SELinux" or "AppArmor")
  end
end

local function exists(path)
  return require("nslua.core").mount.lstat(path) ~= nil
end

--- The Linux security modules the host enforces, as runc and crun test
-- for them: SELinux when selinuxfs is there (/sys/fs/selinux), AppArmor
-- when securityfs has it and the module says it is enabled.
-- @treturn table `{ selinux = bool, apparmor = bool }`
function M.lsm()
  local f = io.open("/sys/module/apparmor/parameters/enabled")
  local aa = f and f:read("l")
  if f then f:close() end
  return { selinux = exists("/sys/fs/selinux"),
           apparmor = exists("/sys/kernel/security/apparmor") and aa ~= nil and aa:sub(1, 1) == "Y" }
end

-- A member nslua cannot honour: refused, never silently dropped.
function Conv:unsupported(t, k, base, what)
  if get(t, k) ~= nil then
    self:add(field(base, k), "nslua does not support %s (remove it, or use runc)", what)
  end
end

-- ------------------------------------------------------------ version

function Conv:version(cfg)
  local v = get(cfg, "ociVersion")
  if v == nil then
    self:add("ociVersion", "is required")
  elseif type(v) ~= "string" then
    self:add("ociVersion", "must be a string")
  else
    local minor = v:match("^1%.(%d+)%.%d+$") or v:match("^1%.(%d+)%.%d+[-+][%w.+-]*$")
    if not minor or tonumber(minor) > 2 then
      self:add("ociVersion", "unsupported version %q (nslua-oci reads %s to %s)", v,
        M.OCI_VERSION_MIN, "1.2.x")
    end
  end
end

-- ------------------------------------------------------------ process

-- OCI capability names by nslua name: "CAP_NET_ADMIN" -> "net_admin".
local CAP_SET = set(validate.CAPS)
M.CAP_SETS = { "bounding", "effective", "permitted", "inheritable", "ambient" }

function Conv:capabilities(p, base)
  local v = self:object(p, "capabilities", base)
  if v == nil then return {} end
  local caps = {}
  for _, s in ipairs(M.CAP_SETS) do caps[s] = {} end
  base = field(base, "capabilities")
  for k in pairs(v) do
    if not caps[k] then self:add(field(base, k), "unknown capability set") end
  end
  for _, s in ipairs(M.CAP_SETS) do
    local list = self:array(v, s, base)
    local seen = {}
    for i, name in ipairs(list or {}) do
      local n = type(name) == "string" and name:lower():gsub("^cap_", "")
      if type(name) ~= "string" then
        self:add(at(field(base, s), i), "must be a string")
      elseif not CAP_SET[n] then
        self:add(at(field(base, s), i), "unknown capability %q", name)
      elseif not seen[n] then
        seen[n] = true
        caps[s][#caps[s] + 1] = n
      end
    end
  end
  return caps
end

--- The rlimits nslua sets (setrlimit), by OCI name: RLIMIT_NOFILE -> nofile.
M.RLIMITS = {
  "cpu", "fsize", "data", "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
  "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime",
}
local RLIMIT_SET = set(M.RLIMITS)

-- An rlimit value: a uint64, "unlimited" for RLIM_INFINITY and above 2^63.
local function rlim_value(v)
  local n = as_int(v)
  if n and n >= 0 then return n end
  if math.type(v) == "float" and v >= TWO63 and v <= ALL_ONES_MAX then return "unlimited" end
  return nil
end

function Conv:rlimits(p, base)
  local list = self:array(p, "rlimits", base)
  if list == nil then return nil end
  base = field(base, "rlimits")
  local out = {}
  for i, r in ipairs(list) do
    local rp = at(base, i)
    if not is_object(r) then
      self:add(rp, "must be an object")
    else
      local ty = get(r, "type")
      local name = type(ty) == "string" and ty:match("^RLIMIT_(%u+)$")
      name = name and name:lower()
      if type(ty) ~= "string" then
        self:add(rp .. ".type", "must be a string")
      elseif not name or not RLIMIT_SET[name] then
        self:add(rp .. ".type", "unknown rlimit %q", ty)
      elseif out[name] then
        self:add(rp .. ".type", "duplicate rlimit %q", ty)
      else
        local lim = {}
        for _, k in ipairs { "soft", "hard" } do
          local x = rlim_value(get(r, k))
          if x == nil then
            self:add(rp .. "." .. k, "must be an integer >= 0")
          else
            lim[k] = x
          end
        end
        local s, h = lim.soft, lim.hard
        if s and h and h ~= "unlimited" and (s == "unlimited" or s > h) then
          self:add(rp .. ".soft", "must not be above hard")
        end
        out[name] = lim
      end
    end
  end
  return out
end

function Conv:env(p, base)
  local list = self:array(p, "env", base)
  local out = {}
  for i, e in ipairs(list or {}) do
    local k, v
    if type(e) == "string" then k, v = e:match("^([^=]+)=(.*)$") end
    if type(e) ~= "string" or e:find("%z") then
      self:add(at(field(base, "env"), i), "must be a string")
    elseif not k then
      self:add(at(field(base, "env"), i), "must be NAME=value (not %s)", limits.show(e))
    else
      out[k] = v
    end
  end
  return out
end

function Conv:process(cfg, spec, need)
  local p = self:object(cfg, "process", "")
  if p == nil then
    if need and get(cfg, "process") == nil then self:add("process", "is required") end
    return
  end
  local base = "process"
  local raw = get(p, "args")
  if not is_array(raw) or #raw == 0 or raw[1] == "" then
    self:add("process.args", "must be a non-empty array of strings")
  else
    spec.argv = self:strings(p, "args", base)
  end
  spec.env = self:env(p, base)
  spec.keep_env = {}
  local cwd = get(p, "cwd")
  if cwd == nil then
    self:add("process.cwd", "is required (an absolute path)")
  elseif not is_abs(cwd) then
    self:add("process.cwd", "must be an absolute path")
  else
    spec.cwd = cwd
  end
  spec.tty = self:boolean(p, "terminal", base) or false
  local size = self:object(p, "consoleSize", base)
  if size then
    self:integer(size, "height", "process.consoleSize", 0, U32)
    self:integer(size, "width", "process.consoleSize", 0, U32)
  end
  local u = self:object(p, "user", base)
  local ub = "process.user"
  if u == nil then
    if get(p, "user") == nil then self:add(ub, "is required (an object with uid and gid)") end
  else
    for _, k in ipairs { "uid", "gid" } do
      if get(u, k) == nil then self:add(ub .. "." .. k, "is required") end
    end
  end
  u = u or {}
  local user = {}
  for _, k in ipairs { "uid", "gid" } do user[k] = self:integer(u, k, ub, 0, U32) end
  local groups = self:array(u, "additionalGids", ub)
  user.groups = {}
  if groups then
    for i, g in ipairs(groups) do
      local n = as_int(g)
      if not n or n < 0 or n > U32 then
        self:add(at(ub .. ".additionalGids", i), "must be an integer in 0..%d", U32)
      else
        user.groups[#user.groups + 1] = n
      end
    end
  end
  spec.umask = self:integer(u, "umask", ub, 0, 511)
  self:string(u, "username", ub)
  spec.user = user
  spec.caps = self:capabilities(p, base)
  spec.rlimits = self:rlimits(p, base)
  -- absent is false (OCI's default), never nslua's default of true
  spec.no_new_privs = self:boolean(p, "noNewPrivileges", base) or false
  spec.oom_score_adj = self:integer(p, "oomScoreAdj", base, -1000, 1000)
  self:no_label(p, "apparmorProfile", base, "AppArmor profiles", "apparmor")
  self:no_label(p, "selinuxLabel", base, "SELinux labels", "selinux")
  self:unsupported(p, "ioPriority", base, "I/O priorities")
  self:unsupported(p, "scheduler", base, "scheduling policies")
  self:unsupported(p, "execCPUAffinity", base, "exec CPU affinity")
end

-- ------------------------------------------------------------ namespaces

--- OCI namespace types and their nslua names.
M.NAMESPACES = {
  pid = "pid", network = "net", mount = "mnt", ipc = "ipc", uts = "uts",
  user = "user", cgroup = "cgroup", time = "time",
}

function Conv:namespaces(linux, spec)
  local ns, join = {}, {}
  for _, n in pairs(M.NAMESPACES) do ns[n] = false end
  local listed = {}
  local list = self:array(linux, "namespaces", "linux") or {}
  for i, e in ipairs(list) do
    local p = at("linux.namespaces", i)
    if not is_object(e) then
      self:add(p, "must be an object")
    else
      local ty = get(e, "type")
      local name = type(ty) == "string" and M.NAMESPACES[ty]
      if type(ty) ~= "string" then
        self:add(p .. ".type", "must be a string")
      elseif not name then
        self:add(p .. ".type", "unknown namespace %q", ty)
      elseif listed[name] then
        self:add(p .. ".type", "namespace %q given twice", ty)
      else
        listed[name] = true
        local path = get(e, "path")
        if path == nil or path == "" then
          ns[name] = true
        elseif not is_abs(path) then
          self:add(p .. ".path", "must be an absolute path")
        else
          join[name] = path
        end
      end
    end
  end
  spec.namespaces = ns
  if next(join) then spec.join = join end
  return listed
end

-- linux.uidMappings-style arrays as { inside, outside, count } lists.
function Conv:idmap(t, k, base)
  local list = self:array(t, k, base)
  if list == nil then return nil end
  local out = {}
  for i, m in ipairs(list) do
    local p = at(field(base, k), i)
    if not is_object(m) then
      self:add(p, "must be an object")
    else
      local inside = self:integer(m, "containerID", p, 0, U32)
      local outside = self:integer(m, "hostID", p, 0, U32)
      local count = self:integer(m, "size", p, 1, U32)
      for _, f in ipairs { "containerID", "hostID", "size" } do
        if get(m, f) == nil then self:add(p .. "." .. f, "is required") end
      end
      if inside and outside and count then
        out[#out + 1] = { inside = inside, outside = outside, count = count }
      end
    end
  end
  return out
end

-- The process's id must be mapped into the new user namespace: the kernel
-- refuses setuid/setgid to an id without a mapping (EINVAL).
function Conv:mapped(id, map, path, what)
  if id == nil or map == nil or #map == 0 then return end
  for _, m in ipairs(map) do
    if id >= m.inside and id < m.inside + m.count then return end
  end
  self:add(path, "%d is not mapped in %s", id, what)
end

function Conv:user_maps(linux, spec)
  local user = spec.user or {}
  spec.user = user
  local uid_map = self:idmap(linux, "uidMappings", "linux")
  local gid_map = self:idmap(linux, "gidMappings", "linux")
  if spec.namespaces.user then
    user.map = "explicit"
    for k, m in pairs { uidMappings = uid_map or false, gidMappings = gid_map or false } do
      if get(linux, k) == nil then
        self:add("linux." .. k, "is required with a new user namespace")
      elseif m and #m == 0 then
        self:add("linux." .. k, "must not be empty with a new user namespace")
      end
    end
    user.uid_map, user.gid_map = uid_map, gid_map
    self:mapped(user.uid, uid_map, "process.user.uid", "linux.uidMappings")
    self:mapped(user.gid, gid_map, "process.user.gid", "linux.gidMappings")
    for i, g in ipairs(user.groups or {}) do
      self:mapped(g, gid_map, at("process.user.additionalGids", i), "linux.gidMappings")
    end
  else
    -- no new user namespace: the ids are the host's, or those of the
    -- user namespace joined by path; nslua writes no maps
    user.map = "host"
    for _, k in ipairs { "uidMappings", "gidMappings" } do
      if get(linux, k) ~= nil then
        self:add("linux." .. k, "requires a new user namespace (linux.namespaces type \"user\" without path)")
      end
    end
  end
end

-- ------------------------------------------------------------ mounts

-- runc's mount options (libcontainer/specconv): flags nslua applies,
-- flags it accepts and leaves to the kernel's defaults (atime and the
-- like), propagation, and its own extensions.  Anything else is data for
-- the file system.  Recursive (r*) flags apply to the whole bound tree.
local FLAG_OPTS = {
  ro = { "ro", true }, rw = { "ro", false }, rro = { "ro", true }, rrw = { "ro", false },
  nosuid = { "nosuid", true }, suid = { "nosuid", false },
  rnosuid = { "nosuid", true }, rsuid = { "nosuid", false },
  nodev = { "nodev", true }, dev = { "nodev", false },
  rnodev = { "nodev", true }, rdev = { "nodev", false },
  noexec = { "noexec", true }, exec = { "noexec", false },
  rnoexec = { "noexec", true }, rexec = { "noexec", false },
}
local PROPAGATION = set {
  "private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable",
}
-- accepted, not applied: access-time and sync behaviour, symlink following
-- and verbosity keep the kernel's defaults (docs/oci.md)
local IGNORED_OPTS = set {
  "defaults", "async", "sync", "dirsync", "atime", "noatime", "relatime", "norelatime",
  "strictatime", "nostrictatime", "diratime", "nodiratime", "lazytime", "nolazytime",
  "iversion", "noiversion", "mand", "nomand", "silent", "loud", "remount",
  "symfollow", "nosymfollow", "rsymfollow", "rnosymfollow",
  "ratime", "rnoatime", "rrelatime", "rnorelatime", "rstrictatime", "rnostrictatime",
  "rdiratime", "rnodiratime", "tmpcopyup",
}

--- The mount options `features` lists: the ones nslua applies (those it
-- accepts and leaves to the kernel's defaults are not listed).
function M.mount_options()
  local out = { "bind", "rbind", "idmap", "ridmap" }
  for k in pairs(FLAG_OPTS) do out[#out + 1] = k end
  for k in pairs(PROPAGATION) do out[#out + 1] = k end
  table.sort(out)
  return out
end

--- Parse a mount's options as runc does.
-- @tparam {string,...} options
-- @treturn table `{ ro, nosuid, nodev, noexec = bool|nil, bind = bool,
--   recursive = bool, idmap = bool, propagation = string|nil,
--   data = {string,...} }`
function M.parse_options(options)
  local o = { data = {} }
  for _, opt in ipairs(options) do
    local f = FLAG_OPTS[opt]
    if f then
      o[f[1]] = f[2]
    elseif opt == "bind" then
      o.bind = true
    elseif opt == "rbind" then
      o.bind, o.recursive = true, true
    elseif opt == "idmap" or opt == "ridmap" then
      o.idmap = true
    elseif PROPAGATION[opt] then
      o.propagation = opt
    elseif not IGNORED_OPTS[opt] then
      o.data[#o.data + 1] = opt
    end
  end
  return o
end

-- The flags of parsed options onto a spec mount: nosuid, nodev and
-- noexec only when set (absent means false), ro always.
local function put_flags(m, o, flags)
  m.ro = o.ro or false
  for _, k in ipairs(flags or { "nosuid", "nodev", "noexec" }) do
    if o[k] then m[k] = true end
  end
  if o.propagation then m.propagation = o.propagation end
end

-- tmpfs size= and mode= taken out of the data.
function Conv:tmpfs(m, o, p)
  local rest = {}
  for _, d in ipairs(o.data) do
    local k, v = d:match("^(%w+)=(.*)$")
    if k == "size" then
      local n = limits.size_bytes(v)
      if not n or n < 1 then
        self:add(p .. ".options", "tmpfs size %q: nslua takes a size in bytes with k, m or g (not a percentage)", v)
      else
        m.size = n
      end
    elseif k == "mode" then
      if not v:match("^[0-7]+$") or #v > 5 or tonumber(v, 8) > 4095 then
        self:add(p .. ".options", "tmpfs mode %q: must be an octal mode", v)
      else
        m.mode = tonumber(v, 8)
      end
    else
      rest[#rest + 1] = d
    end
  end
  if #rest > 0 then m.data = table.concat(rest, ",") end
end

-- proc's hidepid= as the spec's hidepid (proc(5): 0 1 2, or the names).
local HIDEPID = { ["0"] = 0, ["1"] = 1, ["2"] = 2, off = 0, noaccess = 1, invisible = 2 }

function Conv:hidepid(m, o, p)
  local rest = {}
  for _, d in ipairs(o.data) do
    local v = d:match("^hidepid=(.*)$")
    if v and HIDEPID[v] then
      m.hidepid = HIDEPID[v]
    elseif v then
      self:add(p .. ".options", "proc hidepid %q: must be 0, 1, 2, off, noaccess or invisible", v)
    else
      rest[#rest + 1] = d
    end
  end
  o.data = rest
end

function Conv:overlay(m, o, p, bundle)
  local rest = {}
  for _, d in ipairs(o.data) do
    local k, v = d:match("^(%w+)=(.*)$")
    if k == "lowerdir" then
      m.lower = {}
      for dir in (v .. ":"):gmatch("(.-):") do
        if dir ~= "" then m.lower[#m.lower + 1] = join_path(bundle, dir) end
      end
    elseif k == "upperdir" then
      m.upper = join_path(bundle, v)
    elseif k == "workdir" then
      m.work = join_path(bundle, v)
    else
      rest[#rest + 1] = d
    end
  end
  if not m.lower or #m.lower == 0 then
    self:add(p .. ".options", "an overlay needs lowerdir=DIR[:DIR...]")
  end
  if (m.upper == nil) ~= (m.work == nil) then
    self:add(p .. ".options", "an overlay needs both upperdir= and workdir=, or neither")
  end
  if #rest > 0 then m.data = table.concat(rest, ",") end
end

local FS_SOURCE = { tmpfs = true, proc = true, mqueue = true, sysfs = true, devpts = true }
local PSEUDO_FS = set { "proc", "sysfs", "mqueue" }

-- One config mount as one spec mount.
function Conv:mount(e, p, bundle)
  if not is_object(e) then
    self:add(p, "must be an object")
    return nil
  end
  local dest = get(e, "destination")
  if dest == nil then
    self:add(p .. ".destination", "is required")
    return nil
  elseif type(dest) ~= "string" then
    self:add(p .. ".destination", "must be a string")
    return nil
  elseif not is_abs(dest) then
    self:add(p .. ".destination", "must be an absolute path (not %s)", limits.show(dest))
    return nil
  elseif ("/" .. dest .. "/"):find("/%.%./") then
    self:add(p .. ".destination", "must not contain '..'")
    return nil
  end
  local ty = self:string(e, "type", p)
  local source = self:string(e, "source", p)
  local options = self:strings(e, "options", p) or {}
  local o = M.parse_options(options)
  local m = { target = dest }
  local uid_map = self:idmap(e, "uidMappings", p)
  local gid_map = self:idmap(e, "gidMappings", p)
  if ty == "bind" or o.bind then
    if source == nil or source == "" then
      self:add(p .. ".source", "is required for a bind mount")
      return nil
    end
    m.type, m.source = "bind", join_path(bundle, source)
    m.recursive = o.recursive or false
    if o.idmap or uid_map or gid_map then
      m.type = "bind-idmap"
      if uid_map or gid_map then
        if not (uid_map and gid_map) then
          self:add(p, "an idmapped mount needs both uidMappings and gidMappings")
        end
        m.idmap = { uid_map = uid_map, gid_map = gid_map }
      end
    end
    -- a bind takes no file system data: the kernel ignores it, runc too
    put_flags(m, o)
    return m
  end
  if o.idmap or uid_map or gid_map then
    self:add(p .. ".options", "idmap applies to bind mounts only")
  end
  if ty == nil or ty == "" or ty == "none" then
    self:add(p .. ".type", "is required unless the options hold bind or rbind")
    return nil
  end
  -- the source of a file system is the name mountinfo shows ("shm")
  if FS_SOURCE[ty] and type(source) == "string" and source ~= "" and not source:find("[%z%s]")
    and #source <= 255 then
    m.source = source
  end
  if ty == "tmpfs" then
    m.type = "tmpfs"
    put_flags(m, o)
    self:tmpfs(m, o, p)
  elseif PSEUDO_FS[ty] then
    m.type = ty
    put_flags(m, o)
    if ty == "proc" then self:hidepid(m, o, p) end
  elseif ty == "devpts" then
    m.type = "devpts"
    put_flags(m, o)
    -- (a devpts instance is never read-only: its ptmx must open)
    if m.ro then self:add(p .. ".options", "a devpts mount cannot be read-only") end
    m.ro = nil
    if #o.data > 0 then m.data = table.concat(o.data, ",") end
  elseif ty == "cgroup" or ty == "cgroup2" then
    m.type, m.ro = "cgroup", o.ro or false
  elseif ty == "overlay" then
    m.type = "overlay"
    put_flags(m, o)
    self:overlay(m, o, p, bundle)
  else
    self:add(p .. ".type", "unsupported file system type %q (nslua mounts bind, tmpfs, proc, "
      .. "sysfs, mqueue, devpts, cgroup, cgroup2 and overlay)", ty)
    return nil
  end
  if ty ~= "devpts" and ty ~= "tmpfs" and ty ~= "overlay" and #o.data > 0 then
    self:add(p .. ".options", "unknown %s mount option %q", ty, o.data[1])
  end
  return m
end

-- ------------------------------------------------------------ devices

--- The devices every OCI container gets (runc's and crun's defaults),
-- as linux.devices entries.
M.DEFAULT_DEVICES = {
  { path = "/dev/null", type = "c", major = 1, minor = 3 },
  { path = "/dev/zero", type = "c", major = 1, minor = 5 },
  { path = "/dev/full", type = "c", major = 1, minor = 7 },
  { path = "/dev/random", type = "c", major = 1, minor = 8 },
  { path = "/dev/urandom", type = "c", major = 1, minor = 9 },
  { path = "/dev/tty", type = "c", major = 5, minor = 0 },
}

--- The links runc makes in /dev: { link text, path }.
M.DEV_LINKS = {
  { "/proc/self/fd", "/dev/fd" },
  { "/proc/self/fd/0", "/dev/stdin" },
  { "/proc/self/fd/1", "/dev/stdout" },
  { "/proc/self/fd/2", "/dev/stderr" },
  { "pts/ptmx", "/dev/ptmx" },
}

local DEVICE_KINDS = { c = "c", u = "c", b = "b", p = "p" }

function Conv:device(d, p)
  if not is_object(d) then
    self:add(p, "must be an object")
    return nil
  end
  local path = get(d, "path")
  if type(path) ~= "string" or not path:match("^/dev/.") or ("/" .. path .. "/"):find("/%.%./") then
    self:add(p .. ".path", "must be an absolute path under /dev")
    return nil
  end
  local ty = get(d, "type")
  local kind = type(ty) == "string" and DEVICE_KINDS[ty]
  if not kind then
    self:add(p .. ".type", "must be \"c\", \"b\", \"u\" or \"p\"")
    return nil
  end
  local dev = { type = "device", target = path, kind = kind }
  if kind ~= "p" then
    for _, k in ipairs { "major", "minor" } do
      if get(d, k) == nil then self:add(p .. "." .. k, "is required for type %q", ty) end
      dev[k] = self:integer(d, k, p, 0, U32)
    end
  end
  local mode = self:integer(d, "fileMode", p, 0, 4095)
  dev.mode = mode or 438 -- 0666
  dev.uid = self:integer(d, "uid", p, 0, U32) or 0
  dev.gid = self:integer(d, "gid", p, 0, U32) or 0
  return dev
end

-- The devices and /dev links, after the config's mounts; none of them
-- when /dev is a bind (runc makes them only in a /dev of its own).
function Conv:devices(linux, mounts, need_dev)
  local list = self:array(linux, "devices", "linux") or {}
  local given, out = {}, {}
  for i, d in ipairs(list) do
    local dev = self:device(d, at("linux.devices", i))
    if dev then
      given[dev.target] = true
      out[#out + 1] = dev
    end
  end
  if not need_dev then return end
  for _, d in ipairs(M.DEFAULT_DEVICES) do
    if not given[d.path] then
      mounts[#mounts + 1] = { type = "device", target = d.path, kind = d.type,
                              major = d.major, minor = d.minor, mode = 438, uid = 0, gid = 0 }
    end
  end
  for _, dev in ipairs(out) do mounts[#mounts + 1] = dev end
  for _, l in ipairs(M.DEV_LINKS) do
    if not given[l[2]] then
      mounts[#mounts + 1] = { type = "symlink", source = l[1], target = l[2] }
    end
  end
end

-- ------------------------------------------------------------ resources

local DEVICE_ACCESS = "^[rwm]*$"

function Conv:device_rules(res, base)
  local list = self:array(res, "devices", base)
  for i, r in ipairs(list or {}) do
    local p = at(base .. ".devices", i)
    if not is_object(r) then
      self:add(p, "must be an object")
    else
      if type(get(r, "allow")) ~= "boolean" then self:add(p .. ".allow", "must be a boolean") end
      local ty = get(r, "type")
      if ty ~= nil and ty ~= "a" and ty ~= "c" and ty ~= "b" then
        self:add(p .. ".type", "must be \"a\", \"c\" or \"b\"")
      end
      self:integer(r, "major", p, -1, U32)
      self:integer(r, "minor", p, -1, U32)
      local acc = get(r, "access")
      if acc ~= nil and (type(acc) ~= "string" or not acc:match(DEVICE_ACCESS)) then
        self:add(p .. ".access", "must be a string of r, w and m")
      end
    end
  end
end

local I64_MIN <const> = math.mininteger
local I64_MAX <const> = math.maxinteger

-- A resource limit in -1..2^63-1, where -1 is none; a number past int64
-- (lua-cjson reads 2^63-1 as the double 2^63) is none as well.
function Conv:limit(t, k, base)
  local v = get(t, k)
  if math.type(v) == "float" and v >= TWO63 and v <= ALL_ONES_MAX then return -1 end
  return self:integer(t, k, base, -1, I64_MAX)
end

function Conv:resources(linux, spec)
  local res = self:object(linux, "resources", "linux")
  if res == nil then return end
  local base = "linux.resources"
  local lim = {}
  spec.oci_resources = deep_copy(res)
  self:device_rules(res, base)
  local mem = self:object(res, "memory", base)
  if mem then
    local mb = base .. ".memory"
    local limit = self:limit(mem, "limit", mb)
    local swap = self:limit(mem, "swap", mb)
    for _, k in ipairs { "reservation", "kernel", "kernelTCP" } do self:limit(mem, k, mb) end
    self:integer(mem, "swappiness", mb, 0, 100)
    for _, k in ipairs { "disableOOMKiller", "useHierarchy", "checkBeforeUpdate" } do self:boolean(mem, k, mb) end
    if limit and limit > 0 then lim.memory = limit end
    -- OCI's swap is memory plus swap; nslua's limits.swap is the swap
    -- alone (memory.swap.max; v1 memsw = memory + swap).  -1 or absent:
    -- OCI's unlimited swap, nslua's absent swap is none (docs/oci.md)
    if swap and swap > 0 then
      if not lim.memory then
        self:add(mb .. ".swap", "needs memory.limit (swap is memory plus swap)")
      elseif swap < lim.memory then
        self:add(mb .. ".swap", "must be at least memory.limit (%d): it is memory plus swap", lim.memory)
      else
        lim.swap = swap - lim.memory
      end
    elseif swap == 0 and get(mem, "swap") ~= nil and lim.memory then
      lim.swap = 0
    end
  end
  local pids = self:object(res, "pids", base)
  if pids then
    local n = self:limit(pids, "limit", base .. ".pids")
    if n and n > 0 then
      if n > limits.MAX_PIDS then
        self:add(base .. ".pids.limit", "must be at most %d", limits.MAX_PIDS)
      else
        lim.pids = n
      end
    end
  end
  local cpu = self:object(res, "cpu", base)
  if cpu then
    local cb = base .. ".cpu"
    local quota = self:integer(cpu, "quota", cb, -1, I64_MAX)
    local period = self:integer(cpu, "period", cb, 0, I64_MAX)
    self:integer(cpu, "shares", cb, 0, I64_MAX)
    self:integer(cpu, "realtimeRuntime", cb, I64_MIN, I64_MAX)
    self:integer(cpu, "realtimePeriod", cb, 0, I64_MAX)
    self:integer(cpu, "burst", cb, 0, I64_MAX)
    self:integer(cpu, "idle", cb, I64_MIN, I64_MAX)
    self:string(cpu, "mems", cb)
    if quota and quota > 0 then
      if period == 0 then period = nil end
      local cpus = quota / (period or 100000)
      if cpus < limits.MIN_CPUS then
        self:add(cb .. ".quota", "must be at least %s of the period", limits.MIN_CPUS)
      else
        lim.cpus = cpus
      end
    end
    local cpus = self:string(cpu, "cpus", cb)
    if cpus and cpus ~= "" then
      if not limits.cpulist(cpus) then
        self:add(cb .. ".cpus", "must be a cpu list such as \"0-1,3\"")
      else
        lim.cpuset = cpus
      end
    end
  end
  self:object(res, "blockIO", base)
  self:array(res, "hugepageLimits", base)
  self:object(res, "network", base)
  self:object(res, "rdma", base)
  local unified = self:object(res, "unified", base)
  for k, v in pairs(unified or {}) do
    if type(v) ~= "string" then self:add(field(base .. ".unified", k), "must be a string") end
  end
  if next(lim) then spec.limits = lim end
end

-- ------------------------------------------------------------ seccomp

-- linux.seccomp is converted by nslua.seccomp_json, the converter of
-- Docker's and the OCI format (`--seccomp FILE.json` uses it too); its
-- tables are the ones `features` names.
local seccomp_json = require "nslua.seccomp_json"
M.SECCOMP_ACTIONS = seccomp_json.ACTIONS
M.SECCOMP_OPS = seccomp_json.OPS
M.SECCOMP_ARCHES = seccomp_json.ARCHES
M.SECCOMP_FLAGS = seccomp_json.FLAGS

-- SCMP_ACT_NOTIFY is "notify" when there is an agent to ask
local function notify_message(listener)
  if listener then return nil end
  return "SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath"
end

function Conv:seccomp(linux, spec)
  local s = self:object(linux, "seccomp", "linux")
  if s == nil then
    spec.seccomp = "none"
    return
  end
  -- as runc, unknown members are ignored; Docker's includes/excludes (not
  -- OCI fields) are read against the process's bounding set
  local caps = type(spec.caps) == "table" and (spec.caps.bounding or spec.caps) or {}
  local profile, errors = seccomp_json.convert(s, { base = "linux.seccomp", strict = false,
    caps = caps, notify = notify_message })
  for _, e in ipairs(errors) do self.errors[#self.errors + 1] = e end
  spec.seccomp = profile
  -- the agent gets the listener with the container process state (runtime
  -- spec "The container process state"): the bundle, the annotations
  if #errors == 0 and require("nslua.seccomp").has_listener(profile) then
    local meta = get(s, "listenerMetadata")
    spec.seccomp_listener = { path = s.listenerPath, metadata = type(meta) == "string" and meta or nil,
                              bundle = self.bundle, annotations = self.annotations }
  end
end

-- ------------------------------------------------------------ linux misc

-- Which namespace a sysctl lives in (runc's validator): nil when none.
local IPC_SYSCTLS = set {
  "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
  "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
}
local function sysctl_ns(k)
  if IPC_SYSCTLS[k] or k:match("^fs%.mqueue%.") then return "ipc" end
  if k:match("^net%.") then return "net" end
  if k == "kernel.hostname" or k == "kernel.domainname" then return "uts" end
  return nil
end

function Conv:sysctl(linux, spec, listed)
  local v = self:object(linux, "sysctl", "linux")
  if v == nil then return end
  local out = {}
  for k, x in pairs(v) do
    local p = ("linux.sysctl[%q]"):format(k)
    local ns = sysctl_ns(k)
    if type(x) ~= "string" then
      self:add(p, "must be a string")
    elseif not k:match("^[%w_][%w_.%-/]*$") or k:find("%.%.") then
      self:add(p, "not a sysctl name")
    elseif not ns then
      self:add(p, "is not in a namespace of the container (nslua writes only namespaced sysctls)")
    elseif not listed[ns] then
      self:add(p, "needs the container's own %s namespace", ns)
    else
      out[k] = x
    end
  end
  spec.sysctl = out
end

function Conv:paths(linux, k)
  local list = self:strings(linux, k, "linux") or {}
  for i, p in ipairs(list) do
    if not is_abs(p) then self:add(at("linux." .. k, i), "must be an absolute path") end
  end
  return list
end

local ROOTFS_PROPAGATION = set {
  "private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable",
}

function Conv:time_offsets(linux, spec)
  local t = self:object(linux, "timeOffsets", "linux")
  if t == nil then return end
  local out = {}
  for k, v in pairs(t) do
    local p = "linux.timeOffsets." .. k
    if k ~= "monotonic" and k ~= "boottime" then
      self:add(p, "unknown clock (monotonic or boottime)")
    elseif not is_object(v) then
      self:add(p, "must be an object")
    else
      -- (the kernel keeps each clock within 0..2^62 ns)
      out[k] = { secs = self:integer(v, "secs", p, -validate.TIME_OFFSET_MAX, validate.TIME_OFFSET_MAX) or 0,
                 nanosecs = self:integer(v, "nanosecs", p, 0, 999999999) or 0 }
    end
  end
  if not spec.namespaces.time then
    self:add("linux.timeOffsets", "needs a new time namespace (linux.namespaces type \"time\")")
  elseif next(out) then
    spec.time_offsets = out
  end
end

function Conv:linux(cfg, spec)
  local linux = self:object(cfg, "linux", "") or {}
  local listed = self:namespaces(linux, spec)
  self:user_maps(linux, spec)
  self:resources(linux, spec)
  self:seccomp(linux, spec)
  self:sysctl(linux, spec, listed)
  spec.masks = { masked = self:paths(linux, "maskedPaths"), readonly = self:paths(linux, "readonlyPaths") }
  local prop = get(linux, "rootfsPropagation")
  if prop ~= nil and prop ~= "" then
    if not ROOTFS_PROPAGATION[prop] then
      self:add("linux.rootfsPropagation", "must be one of private rprivate slave rslave shared "
        .. "rshared unbindable runbindable")
    else
      spec.rootfs_propagation = prop
    end
  end
  self:no_label(linux, "mountLabel", "linux", "SELinux mount labels", "selinux")
  local cg = self:string(linux, "cgroupsPath", "linux")
  if cg and cg ~= "" then spec.cgroup_path = cg end
  local pers = self:object(linux, "personality", "linux")
  if pers then
    local d = get(pers, "domain")
    if d == "LINUX" then
      spec.personality = "linux"
    elseif d == "LINUX32" then
      spec.personality = "linux32"
    else
      self:add("linux.personality.domain", "must be \"LINUX\" or \"LINUX32\"")
    end
    local flags = self:array(pers, "flags", "linux.personality")
    if flags and #flags > 0 then
      self:add("linux.personality.flags", "nslua sets no personality flags (remove them)")
    end
  end
  self:time_offsets(linux, spec)
  self:unsupported(linux, "intelRdt", "linux", "Intel RDT")
  self:unsupported(linux, "netDevices", "linux", "moving network devices")
  self:unsupported(linux, "memoryPolicy", "linux", "memory policies")
  return linux, listed
end

-- ------------------------------------------------------------ hooks

M.HOOKS = { "prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop" }
local HOOK_SET = set(M.HOOKS)

function Conv:hooks(cfg, spec)
  local h = self:object(cfg, "hooks", "")
  if h == nil then return end
  local out = {}
  for k, list in pairs(h) do
    local p = "hooks." .. k
    if not HOOK_SET[k] then
      self:add(p, "unknown hook (valid: %s)", table.concat(M.HOOKS, " "))
    elseif list ~= NULL and not is_array(list) then
      self:add(p, "must be an array")
    elseif list ~= NULL then
      out[k] = {}
      for i, hook in ipairs(list) do
        local hp = at(p, i)
        if not is_object(hook) then
          self:add(hp, "must be an object")
        else
          local path = get(hook, "path")
          if not is_abs(path) then self:add(hp .. ".path", "must be an absolute path") end
          self:strings(hook, "args", hp)
          self:strings(hook, "env", hp)
          local timeout = self:integer(hook, "timeout", hp, 1, I64_MAX)
          local copy = deep_copy(hook)
          copy.timeout = timeout
          out[k][#out[k] + 1] = copy
        end
      end
    end
  end
  spec.hooks_oci = out
end

-- ------------------------------------------------------------ to_spec

local function has_bind_dev(cfg)
  for _, e in ipairs(is_array(get(cfg, "mounts")) and cfg.mounts or {}) do
    if is_object(e) and get(e, "destination") == "/dev" then
      local o = M.parse_options(is_array(get(e, "options")) and e.options or {})
      if get(e, "type") == "bind" or o.bind then return true end
    end
  end
  return false
end

--- Turn a decoded config.json into a spec (docs/oci.md "config.json -> spec").
-- @tparam table cfg the config (from `load`, or a table of the same shape)
-- @tparam table opts `{ bundle = DIR (absolute; relative root, bind and
--   overlay paths are its), id = the container's id (spec.name),
--   need_process = bool (create and run: the process is required),
--   rootless = bool (accepted; the conversion is the same either way: as
--   with runc, a user namespace needs its mappings in the config),
--   lsm = { selinux = bool, apparmor = bool } (the LSMs the host
--   enforces; default `M.lsm()`) }`
-- @treturn[1] table spec
-- @treturn[1] {string,...} warnings: what was ignored ("json.path: ...")
-- @return[2] nil
-- @treturn[2] {string,...} every problem, "json.path: message"
function M.to_spec(cfg, opts)
  opts = opts or {}
  if not is_object(cfg) then return nil, { "config: must be a JSON object" } end
  local bundle = opts.bundle or "."
  local c = setmetatable({ errors = {}, warnings = {}, lsm = opts.lsm or M.lsm(), bundle = bundle,
    annotations = is_object(get(cfg, "annotations")) and cfg.annotations or nil }, Conv)
  local spec = { name = opts.id, base = "none", init = false, env = {}, keep_env = {} }
  c:version(cfg)
  c:process(cfg, spec, opts.need_process)
  local _, listed = c:linux(cfg, spec)
  if not listed.mnt then
    -- no mount namespace (runtime-tools' linux_ns_itype): the container
    -- runs in ours, its root a detached copy of what the set-up made in a
    -- mount namespace of its own (the mounts never reach ours)
    if listed.user then
      c:add("linux.namespaces", "a user namespace needs a mount namespace (type \"mount\") too: "
        .. "nslua's set-up could not enter the caller's mounts from it")
    end
    spec.namespaces.mnt, spec.host_mnt = true, true
  end
  local mounts, readonly_root = {}, false
  local root = c:object(cfg, "root", "")
  local rpath = root and get(root, "path")
  if root == nil and get(cfg, "root") == nil then
    c:add("root", "is required (an object with path)")
  elseif root and (type(rpath) ~= "string" or rpath == "") then
    c:add("root.path", "must be a non-empty string")
  elseif root then
    -- root.readonly: as runc, the root is remounted read-only after every
    -- mount (their mount points are made in it first)
    mounts[1] = { type = "bind", source = join_path(bundle, rpath), target = "/", recursive = true,
                  ro = false }
    readonly_root = c:boolean(root, "readonly", "root") or false
  end
  -- proc, sysfs and mqueue of a namespace the config does not list (new
  -- or joined) are the caller's, as runc mounts them
  local fs_ns = { proc = "pid", sysfs = "net", mqueue = "ipc" }
  for i, e in ipairs(c:array(cfg, "mounts", "") or {}) do
    local m = c:mount(e, at("mounts", i), bundle)
    if m and fs_ns[m.type] and not listed[fs_ns[m.type]] then m.host_ns = true end
    if m then mounts[#mounts + 1] = m end
  end
  c:devices(get(cfg, "linux") and is_object(cfg.linux) and cfg.linux or {}, mounts,
    not has_bind_dev(cfg))
  if readonly_root then mounts[#mounts + 1] = { type = "remount-ro", target = "/" } end
  spec.mounts = mounts
  for _, k in ipairs { "hostname", "domainname" } do
    local v = c:string(cfg, k, "")
    if v and v ~= "" then
      if not listed.uts then
        c:add(k, "needs the container's own uts namespace (linux.namespaces type \"uts\")")
      else
        spec[k] = v
      end
    end
  end
  c:hooks(cfg, spec)
  if get(cfg, "annotations") ~= nil and not is_object(cfg.annotations) then
    c:add("annotations", "must be an object")
  end
  if #c.errors > 0 then return nil, c.errors end
  return spec, c.warnings
end

--- Read BUNDLE/config.json.
-- @tparam string bundle the bundle directory
-- @treturn[1] table the decoded config
-- @return[2] nil
-- @treturn[2] string message naming the file
function M.load(bundle)
  local path = (bundle:gsub("/+$", "")) .. "/config.json"
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  if not text then return nil, path .. ": cannot read" end
  local ok, cfg = pcall(cjson.decode, text)
  if not ok then
    return nil, ("%s: invalid JSON: %s"):format(path, tostring(cfg):gsub("^.-:%d+: ", ""))
  end
  if not is_object(cfg) or cfg == NULL then
    return nil, path .. ": must hold a JSON object"
  end
  return cfg
end

-- ------------------------------------------------------------ default

--- The config `runc spec` writes (`runc spec --rootless` with rootless),
-- with hostname "nslua".  JSON key names as OCI spells them.
-- @tparam[opt] boolean rootless
-- @tparam[opt] table ids `{ uid = N, gid = N }` for the rootless maps
--   (default: the caller's effective ids)
-- @treturn table
function M.default(rootless, ids)
  local caps = { "CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE" }
  local function copy(t) return { table.unpack(t) } end
  local cfg = {
    ociVersion = M.SPEC_VERSION,
    process = {
      terminal = true,
      user = { uid = 0, gid = 0 },
      args = { "sh" },
      env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm" },
      cwd = "/",
      capabilities = { bounding = copy(caps), effective = copy(caps), permitted = copy(caps),
                       ambient = copy(caps) },
      rlimits = { { type = "RLIMIT_NOFILE", hard = 1024, soft = 1024 } },
      noNewPrivileges = true,
    },
    root = { path = "rootfs", readonly = true },
    hostname = "nslua",
    mounts = {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs",
        options = { "nosuid", "strictatime", "mode=755", "size=65536k" } },
      { destination = "/dev/pts", type = "devpts", source = "devpts",
        options = { "nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5" } },
      { destination = "/dev/shm", type = "tmpfs", source = "shm",
        options = { "nosuid", "noexec", "nodev", "mode=1777", "size=65536k" } },
      { destination = "/dev/mqueue", type = "mqueue", source = "mqueue",
        options = { "nosuid", "noexec", "nodev" } },
      { destination = "/sys", type = "sysfs", source = "sysfs",
        options = { "nosuid", "noexec", "nodev", "ro" } },
      { destination = "/sys/fs/cgroup", type = "cgroup", source = "cgroup",
        options = { "nosuid", "noexec", "nodev", "relatime", "ro" } },
    },
    linux = {
      resources = { devices = { { allow = false, access = "rwm" } } },
      namespaces = { { type = "pid" }, { type = "network" }, { type = "ipc" }, { type = "uts" },
                     { type = "mount" } },
      maskedPaths = {
        "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi",
      },
      readonlyPaths = { "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger" },
    },
  }
  if rootless then
    if not ids then
      local proc = require("nslua.core").proc
      ids = { uid = proc.geteuid(), gid = proc.getegid() }
    end
    local ns = cfg.linux.namespaces
    table.remove(ns, 2) -- the host's network: rootless runc has no veth to give
    ns[#ns + 1] = { type = "user" }
    cfg.linux.resources = nil
    cfg.linux.uidMappings = { { containerID = 0, hostID = ids.uid, size = 1 } }
    cfg.linux.gidMappings = { { containerID = 0, hostID = ids.gid, size = 1 } }
    -- gid 5 is not mapped; sysfs needs a network namespace: bind the host's
    local pts = cfg.mounts[3].options
    table.remove(pts, #pts)
    cfg.mounts[6] = { destination = "/sys", type = "none", source = "/sys",
                      options = { "rbind", "nosuid", "noexec", "nodev", "ro" } }
  end
  return cfg
end

-- ------------------------------------------------------------ features

--- What `nslua-oci features` prints (the OCI features.json schema),
-- naming only what nslua does.
-- @treturn table
function M.features()
  local caps = {}
  for i, n in ipairs(validate.CAPS) do caps[i] = "CAP_" .. n:upper() end
  local ns = {}
  for k in pairs(M.NAMESPACES) do ns[#ns + 1] = k end
  table.sort(ns)
  local actions, ops, archs = {}, {}, {}
  for k in pairs(M.SECCOMP_ACTIONS) do actions[#actions + 1] = k end
  for k in pairs(M.SECCOMP_OPS) do ops[#ops + 1] = k end
  for _, a in ipairs(M.SECCOMP_ARCHES) do archs[#archs + 1] = "SCMP_ARCH_" .. a:upper() end
  table.sort(actions)
  table.sort(ops)
  table.sort(archs)
  local version
  local ok, core = pcall(require, "nslua.core")
  if ok then version = core.seccomp.version and core.seccomp.version() end
  return {
    ociVersionMin = M.OCI_VERSION_MIN,
    ociVersionMax = M.OCI_VERSION_MAX,
    hooks = { table.unpack(M.HOOKS) },
    mountOptions = M.mount_options(),
    linux = {
      namespaces = ns,
      capabilities = caps,
      cgroup = { v1 = true, v2 = true, systemd = false, systemdUser = false },
      mountExtensions = { idmap = { enabled = true } },
      seccomp = { enabled = true, actions = actions, operators = ops, archs = archs },
      apparmor = { enabled = false },
      selinux = { enabled = false },
    },
    annotations = {
      ["io.github.seccomp.libseccomp.version"] = version,
    },
  }
end

return M
