--- nslua.seccomp_json: Docker's and the OCI runtime spec's seccomp JSON
-- as an nslua profile table (nslua.seccomp's schema).
--
-- One converter for every front end: `seccomp = "profile.json"`, `nslua
-- run --seccomp FILE.json`, `nslua seccomp convert` and the OCI front
-- end's linux.seccomp.  Docker's format is the OCI one plus archMap,
-- per-rule includes/excludes (caps, arches, minKernel), comment and the
-- single "name"; a file may use either.
--
--   defaultAction, defaultErrnoRet  -> default ({errno = N} for ERRNO);
--   (defaultErrno, errno)              containers/common's errno names beside
--                                      the numbers: checked, used when alone
--   architectures (SCMP_ARCH_*)     -> arches = {"native", ...}
--   archMap                         -> the entry of the native arch and its
--                                      subArchitectures (Docker's choice)
--   syscalls[i].names / name, action, errnoRet, args, comment
--   includes / excludes             -> the rule is kept or dropped here, for
--                                      ctx.caps, ctx.arch and the kernel
--   flags, listenerPath, listenerMetadata: accepted (flags not applied)
--
-- As runc and Docker do, a name libseccomp does not know on any arch is
-- skipped, unless skipping it would turn a deny rule under an allowing
-- default into an allow (then it is an error).  Two comparisons of one
-- argument become two rules (runc's reading).  A default that denies gets
-- unknown_above = "enosys" (newer syscalls look absent, libc falls back).
--
-- Problems name their JSON path (arrays from 0): `syscalls[3].action:
-- unknown action "SCMP_ACT_FOO"`.
local core = require "nslua.core"
local jsonpath = require "nslua.jsonpath"
local limits = require "nslua.limits"
local seccomp = require "nslua.seccomp"

local M = {}

local get, at, field = jsonpath.get, jsonpath.at, jsonpath.field
local is_object, as_u64 = jsonpath.is_object, jsonpath.as_u64

local function set(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

--- Seccomp actions and nslua's.  SCMP_ACT_KILL is libseccomp's
-- KILL_THREAD, as runc reads it.  SCMP_ACT_NOTIFY is "notify" where the
-- caller says so (ctx.notify): the spec must then name the agent
-- (seccomp_listener), as OCI's listenerPath does.
M.ACTIONS = {
  SCMP_ACT_ALLOW = "allow", SCMP_ACT_ERRNO = "errno", SCMP_ACT_KILL = "kill_thread",
  SCMP_ACT_KILL_THREAD = "kill_thread", SCMP_ACT_KILL_PROCESS = "kill_process",
  SCMP_ACT_TRAP = "trap", SCMP_ACT_TRACE = "trace", SCMP_ACT_LOG = "log",
  SCMP_ACT_NOTIFY = "notify",
}
M.OPS = {
  SCMP_CMP_NE = "ne", SCMP_CMP_LT = "lt", SCMP_CMP_LE = "le", SCMP_CMP_EQ = "eq",
  SCMP_CMP_GE = "ge", SCMP_CMP_GT = "gt", SCMP_CMP_MASKED_EQ = "masked_eq",
}
--- libseccomp's architecture names (SCMP_ARCH_<upper case>): nslua.seccomp's.
M.ARCHES = seccomp.ARCHES
local ARCH_SET = set(M.ARCHES)
--- Filter flags: accepted, not applied (none of them makes the filter
-- deny less; SPEC_ALLOW would weaken the mitigation nslua keeps).
M.FLAGS = {
  "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
  "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
}
local FLAG_SET = set(M.FLAGS)
--- Go's GOARCH for a libseccomp arch: Docker's includes/excludes.arches
-- name the runtime's GOARCH ("amd64"); either name matches here.
M.GOARCH = {
  x86_64 = "amd64", x86 = "386", aarch64 = "arm64", arm = "arm", ppc64le = "ppc64le",
  ppc64 = "ppc64", s390x = "s390x", s390 = "s390", riscv64 = "riscv64", mips64 = "mips64",
  mipsel64 = "mips64le", mips = "mips", mipsel = "mipsle",
}

-- The fields each object may have (a file's unknown field is an error).
local TOP_FIELDS = set { "defaultAction", "defaultErrnoRet", "defaultErrno", "architectures", "archMap",
  "syscalls", "flags", "listenerPath", "listenerMetadata" }
local RULE_FIELDS = set { "names", "name", "action", "errnoRet", "errno", "args", "comment",
  "includes", "excludes" }
local ARG_FIELDS = set { "index", "value", "valueTwo", "op" }
local FILTER_FIELDS = set { "caps", "arches", "minKernel" }
local ARCHMAP_FIELDS = set { "architecture", "subArchitectures" }

--- Does libseccomp know the name, on any arch (nslua.seccomp's test)?
M.known_syscall = seccomp.known_syscall

local function read_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local v = f:read("l")
  f:close()
  return v
end

local native
--- The native architecture's libseccomp name ("x86_64"), from
-- /proc/sys/kernel/arch (Linux 6.1+), else the arch whose syscall
-- numbers libseccomp gives as the native ones.
function M.native_arch()
  if native then return native end
  local m = read_line("/proc/sys/kernel/arch")
  local aliases = { amd64 = "x86_64", i386 = "x86", i686 = "x86", arm64 = "aarch64", armv7l = "arm" }
  m = m and (aliases[m] or m)
  if not (m and ARCH_SET[m]) then
    m = nil
    -- the arch whose numbers for these match the native ones
    local s = core.seccomp
    local probe = { "read", "openat", "exit_group", "socket", "clone" }
    for _, a in ipairs(M.ARCHES) do
      local same = true
      for _, n in ipairs(probe) do
        local ok, nr = pcall(s.resolve, n, a)
        if not ok or nr ~= s.resolve(n) then same = false break end
      end
      if same then m = a break end
    end
  end
  native = m or "x86_64"
  return native
end

--- The running kernel's "major.minor" as two integers.
function M.kernel_version()
  local r = read_line("/proc/sys/kernel/osrelease") or ""
  local a, b = r:match("^(%d+)%.(%d+)")
  return tonumber(a) or 0, tonumber(b) or 0
end

--- Capability names ("CAP_SYS_ADMIN", "sys_admin", "cap_sys_admin"; a
-- list or a set) as a set of "CAP_SYS_ADMIN".
function M.cap_set(caps)
  local out = {}
  for k, v in pairs(caps or {}) do
    local n = math.type(k) == "integer" and v or (v and k)
    if type(n) == "string" then
      n = n:upper()
      if n:sub(1, 4) ~= "CAP_" then n = "CAP_" .. n end
      out[n] = true
    end
  end
  return out
end

-- The converter: a jsonpath.Reader with the context.
local Conv = setmetatable({}, { __index = jsonpath.Reader })
Conv.__index = Conv

local function allows(a)
  return a == "allow" or a == "log"
end

-- containers/common's profiles name the errno beside the number
-- ("errno": "EPERM", "defaultErrno": "ENOSYS"): the number, or nil.
function Conv:errno_name(t, k, base, ret)
  local name = self:string(t, k, base)
  if name == nil then return ret end
  local n = core.errno[name]
  if math.type(n) ~= "integer" then
    self:add(field(base, k), "unknown errno name %s", limits.show(name))
  elseif n and ret and n ~= ret then
    self:add(field(base, k), "%s is %d, not the number given beside it (%d)", name, n, ret)
  end
  return ret or n
end

-- An action (with its errnoRet, and the errno name of 'name_key') as an
-- nslua action, or nil.
function Conv:action(t, k, base, errno_key, name_key)
  local p = field(base, k)
  local a = get(t, k)
  local ret = self:errno_name(t, name_key, base, self:integer(t, errno_key, base, 0, 4095))
  if type(a) ~= "string" then
    self:add(p, "must be a string (SCMP_ACT_...)")
    return nil
  end
  if a == "SCMP_ACT_NOTIFY" then
    local why
    if k == "defaultAction" then
      why = "SCMP_ACT_NOTIFY cannot be the default action: a listener is asked about named syscalls"
    elseif self.ctx.notify then
      why = self.ctx.notify(self.listener)
    else
      why = "SCMP_ACT_NOTIFY: a JSON profile here cannot name the agent; write the profile in Lua "
        .. "with action \"notify\" and give the spec a seccomp_listener (or use Lua handlers)"
    end
    if why then
      self:add(p, "%s", why)
      return nil
    end
    return "notify"
  end
  local act = M.ACTIONS[a]
  if not act then
    self:add(p, "unknown action %q", a)
    return nil
  end
  if act == "errno" then return { errno = ret or 1 } end
  if act == "trace" then return { trace = ret or 1 } end
  if get(t, errno_key) ~= nil or get(t, name_key) ~= nil then
    local key = get(t, errno_key) ~= nil and errno_key or name_key
    self:add(field(base, key), "applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE only")
  end
  return act
end

function Conv:args(list, p)
  local out = {}
  for j, c in ipairs(list) do
    local cp = at(p, j)
    if not is_object(c) then
      self:add(cp, "must be an object")
    else
      if self.strict then self:unknown(c, ARG_FIELDS, cp) end
      local index = self:integer(c, "index", cp, 0, 5)
      if get(c, "index") == nil then self:add(cp .. ".index", "is required") end
      local op = get(c, "op")
      local nop = type(op) == "string" and M.OPS[op]
      if not nop then self:add(cp .. ".op", "unknown operator %s", limits.show(op)) end
      local value, two = as_u64(get(c, "value")), as_u64(get(c, "valueTwo") or 0)
      if value == nil then self:add(cp .. ".value", "must be an integer in 0..2^64-1") end
      if two == nil then self:add(cp .. ".valueTwo", "must be an integer in 0..2^64-1") end
      if index and nop and value and two then
        if nop == "masked_eq" then
          -- libseccomp's MakeCondition: value is the mask, valueTwo the datum
          out[#out + 1] = { index = index, op = nop, mask = value, value = two }
        else
          out[#out + 1] = { index = index, op = nop, value = value }
        end
      end
    end
  end
  return out
end

-- "SCMP_ARCH_X86_64" -> "x86_64", or nil with the problem added.  With
-- 'any', a name this libseccomp may not know passes (archMap entries of
-- other arches: Docker reads only the native one's).
function Conv:arch(v, p, any)
  local n = type(v) == "string" and v:match("^SCMP_ARCH_([%u%d_]+)$")
  n = n and n:lower()
  if any and n then return n end
  if not n or not ARCH_SET[n] then
    self:add(p, "unknown architecture %s", limits.show(v))
    return nil
  end
  return n
end

function Conv:arches(s, base, profile)
  local list = self:array(s, "architectures", base)
  local map = self:array(s, "archMap", base)
  if list and map then
    self:add(field(base, "archMap"), "give either architectures or archMap, not both")
    return
  end
  if list then
    profile.arches = { "native" }
    for i, a in ipairs(list) do
      local n = self:arch(a, at(field(base, "architectures"), i))
      if n then profile.arches[#profile.arches + 1] = n end
    end
  end
  if map then
    -- Docker: the native arch's entry (there may be none) and its sub-arches
    local here = self.arch_name
    profile.arches = { "native" }
    for i, e in ipairs(map) do
      local p = at(field(base, "archMap"), i)
      if not is_object(e) then
        self:add(p, "must be an object")
      else
        if self.strict then self:unknown(e, ARCHMAP_FIELDS, p) end
        local main = self:arch(get(e, "architecture"), p .. ".architecture", true)
        local subs = {}
        for j, a in ipairs(self:array(e, "subArchitectures", p) or {}) do
          subs[#subs + 1] = self:arch(a, at(p .. ".subArchitectures", j), main ~= here)
        end
        if main and main == here then
          profile.arches[#profile.arches + 1] = main
          for _, a in ipairs(subs) do profile.arches[#profile.arches + 1] = a end
        end
      end
    end
  end
end

-- includes/excludes: {caps, arches, minKernel}; the parsed filter or nil.
function Conv:filter(e, k, p)
  local f = self:object(e, k, p)
  if f == nil then return nil end
  p = field(p, k)
  if self.strict then self:unknown(f, FILTER_FIELDS, p) end
  local out = { caps = self:strings(f, "caps", p) or {}, arches = self:strings(f, "arches", p) or {} }
  local mk = get(f, "minKernel")
  if mk ~= nil then
    local a, b
    if type(mk) == "string" then a, b = mk:match("^(%d+)%.(%d+)$") end
    if not a then
      self:add(p .. ".minKernel", "must be a kernel version such as \"4.8\"")
    else
      out.min_kernel = { tonumber(a), tonumber(b) }
    end
  end
  return out
end

-- Docker's test, in its order: excluded by arch, by any cap kept, by a
-- kernel at least minKernel; included only on a listed arch, with every
-- listed cap, on a kernel at least minKernel.
function Conv:applies(inc, exc)
  local function on_arch(list)
    for _, a in ipairs(list) do
      if a == self.arch_name or a == M.GOARCH[self.arch_name] then return true end
    end
    return false
  end
  local function kernel_at_least(v)
    local ka, kb = self.kernel[1], self.kernel[2]
    return ka > v[1] or (ka == v[1] and kb >= v[2])
  end
  if exc then
    if on_arch(exc.arches) then return false end
    for _, c in ipairs(exc.caps) do
      if self.caps[c] then return false end
    end
    if exc.min_kernel and kernel_at_least(exc.min_kernel) then return false end
  end
  if inc then
    if #inc.arches > 0 and not on_arch(inc.arches) then return false end
    for _, c in ipairs(inc.caps) do
      if not self.caps[c] then return false end
    end
    if inc.min_kernel and not kernel_at_least(inc.min_kernel) then return false end
  end
  return true
end

function Conv:rule(e, p, profile, default)
  if self.strict then self:unknown(e, RULE_FIELDS, p) end
  local names = self:strings(e, "names", p)
  local one = self:string(e, "name", p)
  if names and one then
    self:add(p .. ".name", "give either name or names, not both")
  elseif one then
    names = { one }
  end
  if names == nil or #names == 0 then
    self:add(p .. ".names", "must be a non-empty array of strings")
    names = {}
  end
  local act = self:action(e, "action", p, "errnoRet", "errno")
  local args = self:args(self:array(e, "args", p) or {}, p .. ".args")
  local comment = self:string(e, "comment", p)
  local inc, exc = self:filter(e, "includes", p), self:filter(e, "excludes", p)
  if not (act and default) or not self:applies(inc, exc) then return end
  local keep = {}
  for j, n in ipairs(names) do
    if act == "notify" and seccomp.UNNOTIFIED[n] then
      self:add(at(p .. ".names", j), "%s", seccomp.UNNOTIFIED[n])
    elseif M.known_syscall(n) then
      keep[#keep + 1] = n
    elseif allows(default) and not allows(act) then
      -- runc skips a name libseccomp cannot resolve; under an allowing
      -- default that would turn this deny rule into an allow
      self:add(at(p .. ".names", j), "unknown syscall %q (a deny rule nslua cannot apply)", n)
    end
  end
  if #keep == 0 then return end
  local by_index, split = {}, false
  for _, c in ipairs(args) do
    if by_index[c.index] then split = true end
    by_index[c.index] = true
  end
  local list = profile.syscalls
  if split then
    -- runc: conditions on the same argument become separate rules
    for _, c in ipairs(args) do
      list[#list + 1] = { names = keep, action = act, args = { c }, comment = comment }
    end
  else
    list[#list + 1] = { names = keep, action = act, args = #args > 0 and args or nil,
                        comment = comment }
  end
end

--- Convert a decoded profile, collecting every problem.
-- @tparam table t the JSON object (lua-cjson's decoding)
-- @tparam[opt] table ctx { caps = names the sandbox keeps (list or set;
--   default none), arch = libseccomp name of the native arch, kernel =
--   {major, minor} (default the running one), base = JSON path of t
--   (default ""), strict = unknown fields are problems (default true),
--   notify = function(listenerPath) -> nil: SCMP_ACT_NOTIFY is "notify",
--   or the message that refuses it }
-- @treturn table the profile (partial when there are problems)
-- @treturn {string,...} the problems, "json.path: message"
function M.convert(t, ctx)
  ctx = ctx or {}
  local c = setmetatable({ errors = {}, ctx = ctx, caps = M.cap_set(ctx.caps),
    arch_name = ctx.arch or M.native_arch(), strict = ctx.strict ~= false }, Conv)
  if ctx.kernel then
    c.kernel = ctx.kernel
  else
    c.kernel = { M.kernel_version() }
  end
  local base = ctx.base or ""
  local profile = { syscalls = {} }
  if not is_object(t) then
    c:add(base ~= "" and base or "profile", "must be a JSON object")
    return profile, c.errors
  end
  if c.strict then c:unknown(t, TOP_FIELDS, base) end
  local listener = c:string(t, "listenerPath", base)
  if listener and listener ~= "" then
    if listener:sub(1, 1) ~= "/" then c:add(field(base, "listenerPath"), "must be an absolute path") end
    c.listener = listener
  end
  c:string(t, "listenerMetadata", base)
  local default = c:action(t, "defaultAction", base, "defaultErrnoRet", "defaultErrno")
  profile.default = default
  if default and not allows(default) then profile.unknown_above = "enosys" end
  c:arches(t, base, profile)
  for i, f in ipairs(c:array(t, "flags", base) or {}) do
    if not FLAG_SET[f] then c:add(at(field(base, "flags"), i), "unknown flag %s", limits.show(f)) end
  end
  for i, e in ipairs(c:array(t, "syscalls", base) or {}) do
    local p = at(field(base, "syscalls"), i)
    if not is_object(e) then
      c:add(p, "must be an object")
    else
      c:rule(e, p, profile, default)
    end
  end
  if #c.errors == 0 then
    -- rules with the default action only document (nslua.seccomp): kept
    local ok, err = seccomp.validate(profile)
    if not ok then
      c:add(base ~= "" and base or "profile", "%s", (err:gsub("^seccomp", "converted profile")))
    end
  end
  return profile, c.errors
end

local function failed(errors, ctx)
  local msg = errors[1]
  if #errors > 1 then msg = ("%s (and %d more)"):format(msg, #errors - 1) end
  if ctx and ctx.what then msg = ctx.what .. ": " .. msg end
  return nil, msg, errors
end

--- A decoded profile as an nslua profile table.
-- @tparam table t
-- @tparam[opt] table ctx as for convert, plus what = a label for messages
--   (the file name)
-- @treturn[1] table the profile
-- @return[2] nil
-- @treturn[2] string the first problem ("[what: ]json.path: message")
-- @treturn[2] {string,...} every problem
function M.from_table(t, ctx)
  local profile, errors = M.convert(t, ctx)
  if #errors > 0 then return failed(errors, ctx) end
  return profile
end

--- A JSON text as an nslua profile table (from_table's results).
function M.from_json(text, ctx)
  local ok, cjson = pcall(require, "cjson")
  if not ok then return failed({ "reading JSON needs lua-cjson" }, ctx) end
  local dok, t = pcall(cjson.decode, text)
  if not dok then
    return failed({ "not valid JSON: " .. tostring(t):gsub("^.-: ", "") }, ctx)
  end
  return M.from_table(t, ctx)
end

return M
