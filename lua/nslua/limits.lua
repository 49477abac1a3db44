--- nslua.limits: the limits a spec may set, defined once (DESIGN "The spec
-- and composition"): their keys and kinds, their bounds, which of them need
-- a cgroup, and the parsers of sizes, counts, seconds and cpu lists.
-- validate.lua, policy.lua, cgroup.lua, the CLI and the judge recipe use
-- these; nothing else spells a limit key or a size suffix.
--
-- A parser returns the value (normalised: sizes in bytes) or nil and a
-- message naming the field: `nil, "limits.time: must be at most 2147483
-- seconds"`.  Spec values are typed (numbers for counts and seconds);
-- values from a command line or an API option (`text`) may be strings.
local M = {}

local KIB <const> = 1024
local MAXINT <const> = math.maxinteger

--- The longest time limit, in seconds: the wall-time wait polls with an
-- int of milliseconds (INT_MAX ms, about 24.8 days).
M.MAX_SECONDS = 2147483
--- The largest pids limit: the kernel's PID_MAX_LIMIT (pids.max refuses more).
M.MAX_PIDS = 4194304
--- cpus: the CFS quota is at least 1 ms a 100 ms period; at most more cpus
-- than any kernel has (NR_CPUS <= 8192).
M.MIN_CPUS = 0.01
M.MAX_CPUS = 65536

--- The limits, in the order explain lists them.  kind: size (bytes, or a
-- string such as "64M"), count (integer), seconds, cpus (a number),
-- cpulist ("0-1,3"); min, max: bounds; controller: the cgroup controller
-- that enforces it (cgroup.new writes it); cgroup: needs a cgroup to be
-- enforced (time: the cpu time of every process of the container).
M.KEYS = { "memory", "swap", "pids", "cpus", "cpuset", "time", "extra_time", "wall", "output" }
M.LIMITS = {
  memory = { kind = "size", min = 1, controller = "memory", help = "Memory limit (SIZE, e.g. 256M)." },
  swap = { kind = "size", min = 0, controller = "memory", help = "Swap limit (SIZE)." },
  pids = { kind = "count", min = 1, max = M.MAX_PIDS, controller = "pids", help = "Maximum number of tasks." },
  cpus = { kind = "cpus", min = M.MIN_CPUS, max = M.MAX_CPUS, controller = "cpu",
           help = "CPU bandwidth (e.g. 0.5)." },
  cpuset = { kind = "cpulist", controller = "cpuset", help = "Pin to CPUs (e.g. 0-1)." },
  time = { kind = "seconds", positive = true, cgroup = true,
           help = "CPU time limit in seconds (whole container)." },
  extra_time = { kind = "seconds", help = "Grace CPU seconds before the kill." },
  wall = { kind = "seconds", positive = true, help = "Wall-clock limit in seconds." },
  output = { kind = "size", min = 1, help = "Output limit (SIZE)." },
}

--- The resource limits (setrlimit(2): every RLIMIT_* in lower case
-- without the prefix) of `limits.rlimits` (one value, soft = hard) and of
-- the spec's `rlimits` ({ soft, hard }), each a count or a size, or
-- "unlimited".  cpu counts seconds, rttime microseconds, nice and rtprio
-- the kernel's ceilings (nice: 20 - the lowest nice value).
M.RLIMIT_KEYS = {
  "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
  "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
}
M.RLIMITS = {
  nofile = { kind = "count", min = 0, unlimited = true },
  nproc = { kind = "count", min = 0, unlimited = true },
  fsize = { kind = "size", min = 0, unlimited = true },
  stack = { kind = "size", min = 0, unlimited = true },
  core = { kind = "size", min = 0, unlimited = true },
  as = { kind = "size", min = 0, unlimited = true },
  memlock = { kind = "size", min = 0, unlimited = true },
  cpu = { kind = "count", min = 0, unlimited = true },
  data = { kind = "size", min = 0, unlimited = true },
  rss = { kind = "size", min = 0, unlimited = true },
  msgqueue = { kind = "size", min = 0, unlimited = true },
  locks = { kind = "count", min = 0, unlimited = true },
  sigpending = { kind = "count", min = 0, unlimited = true },
  nice = { kind = "count", min = 0, max = 40, unlimited = true },
  rtprio = { kind = "count", min = 0, max = 99, unlimited = true },
  rttime = { kind = "count", min = 0, unlimited = true },
}

--- The limits cgroup.new writes (those with a controller), in KEYS order.
M.CGROUP_KEYS = {}
for _, k in ipairs(M.KEYS) do
  if M.LIMITS[k].controller then
    M.CGROUP_KEYS[#M.CGROUP_KEYS + 1] = k
    M.LIMITS[k].cgroup = true
  end
end

--- The limits no cgroup controller enforces, in KEYS order: a pool (whose
-- cgroups are made once) takes these per run.
M.RUN_KEYS = {}
for _, k in ipairs(M.KEYS) do
  if not M.LIMITS[k].controller then M.RUN_KEYS[#M.RUN_KEYS + 1] = k end
end

--- What `time` and `extra_time` measure (`limits.cpu_scope`, not a limit
-- itself): "container" (the default), the cpu time of every process of
-- the container (its cgroup's); "command", the command's own plus that of
-- the children it has waited for (isolate's time without --cg: polled in
-- /proc/<pid>/stat, no cgroup needed).
M.CPU_SCOPES = { "container", "command" }

--- Does a limits table need a cgroup?  (`time` does not with
-- cpu_scope = "command".)
-- @tparam table l limits (as in a spec)
-- @treturn boolean
function M.needs_cgroup(l)
  for _, k in ipairs(M.KEYS) do
    if l[k] ~= nil and M.LIMITS[k].cgroup and not (k == "time" and l.cpu_scope == "command") then
      return true
    end
  end
  return false
end

--- The part of a limits table cgroup.new takes (CGROUP_KEYS).
-- @tparam table l limits (validated: sizes in bytes)
-- @treturn table
function M.cgroup_limits(l)
  local out = {}
  for _, k in ipairs(M.CGROUP_KEYS) do out[k] = l[k] end
  return out
end

--- The command-line option of a limit key: "extra_time" -> "--extra-time".
function M.option(key)
  return "--" .. key:gsub("_", "-")
end

-- Control characters as Lua escapes ("\n", "\1"): a message is one line
-- per problem, whatever a value holds.
local ESCAPES <const> = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
local function escape(s)
  return (s:gsub("%c", function(c) return ESCAPES[c] or ("\\%d"):format(c:byte()) end))
end
M.escape = escape

--- How a bad value reads in a message: strings quoted (control
-- characters escaped), numbers as written, other values by type.
local function show(v)
  if type(v) == "string" then return ("'%s'"):format(escape(v)) end
  if type(v) == "number" or type(v) == "boolean" then return tostring(v) end
  return ("(%s)"):format(type(v))
end
M.show = show

local SIZE_UNITS = {}
for i, letter in ipairs { "k", "m", "g", "t" } do
  local mult = KIB ^ i // 1 | 0
  SIZE_UNITS[letter], SIZE_UNITS[letter .. "b"] = mult, mult
  SIZE_UNITS[letter .. "ib"] = mult
end
SIZE_UNITS[""], SIZE_UNITS.b = 1, 1

--- Bytes of a size: an integer (or integral float) >= 0, or a string such
-- as "64M", "1G", "512k", "100", "1.5G", "64MiB" (K/M/G/T, optional "B" or
-- "iB", any case, binary multiples; a fraction rounds down to a whole byte).
-- @param v the size
-- @treturn[1] integer bytes
-- @return[2] nil when v is not a size (or more than math.maxinteger bytes)
function M.size_bytes(v)
  if type(v) == "number" then
    local n = math.tointeger(v)
    if n and n >= 0 then return n end
    return nil
  end
  if type(v) ~= "string" then return nil end
  local num, unit = v:match("^%s*(%d*%.?%d*)%s*(%a*)%s*$")
  if not num or not num:find("%d") then return nil end
  local mult = SIZE_UNITS[unit:lower()]
  if not mult then return nil end
  local n = tonumber(num)
  if math.type(n) == "integer" then
    if n > MAXINT // mult then return nil end
    return n * mult
  end
  local bytes = math.floor(n * mult)
  if bytes >= 2.0 ^ 63 then return nil end
  return math.tointeger(bytes)
end

--- A cpu list such as "0-1,3".
-- @treturn[1] table sorted list of cpu numbers, no duplicates
-- @return[2] nil when s is not a cpu list
function M.cpulist(s)
  if type(s) ~= "string" or s == "" then return nil end
  local seen, list = {}, {}
  for item in (s .. ","):gmatch("(.-),") do
    local a, b = item:match("^%s*(%d+)%s*%-%s*(%d+)%s*$")
    if not a then a = item:match("^%s*(%d+)%s*$"); b = a end
    if not a or #a > 5 or #b > 5 then return nil end
    a, b = tonumber(a), tonumber(b)
    if a > b then return nil end
    for c = a, b do
      if not seen[c] then seen[c] = true; list[#list + 1] = c end
    end
  end
  table.sort(list)
  return list
end

local function finite(v)
  return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge
end

-- The checks of each kind: value | nil, message (without the field).
local KIND = {}

function KIND.size(d, v)
  local n = M.size_bytes(v)
  if not n then return nil, "invalid size " .. show(v) end
  if n < (d.min or 0) then return nil, "must be a positive size" end
  return n
end

function KIND.count(d, v)
  local min = d.min or 0
  local what = (min > 0 and "must be a positive integer" or "must be a non-negative integer")
    .. (d.unlimited and ' or "unlimited"' or "")
  if finite(v) and d.max and v > d.max then return nil, ("must be at most %d"):format(d.max) end
  local n = math.type(v) == "float" and math.tointeger(v) or v
  if math.type(n) ~= "integer" or n < min then return nil, what end
  return n
end

function KIND.seconds(d, v)
  local what = d.positive and "must be a positive number" or "must be a non-negative number"
  if not finite(v) or v < 0 or (d.positive and v == 0) then return nil, what end
  local max = d.max or M.MAX_SECONDS
  if v > max then return nil, ("must be at most %d seconds"):format(max) end
  return v
end

function KIND.cpus(d, v)
  if not finite(v) or v <= 0 then return nil, "must be a positive number" end
  if v < d.min then return nil, ("must be at least %s"):format(d.min) end
  if v > d.max then return nil, ("must be at most %d"):format(d.max) end
  return v
end

function KIND.cpulist(_, v)
  if not M.cpulist(v) then return nil, 'must be a cpu list such as "0-1,3"' end
  return v
end

local NUMERIC <const> = { count = true, seconds = true, cpus = true }

-- What 'what' names: a limit key, "rlimits.NAME", or a description table.
local function describe(what)
  if type(what) == "table" then return what end
  local d = M.LIMITS[what]
  if not d and type(what) == "string" then
    local r = what:match("^rlimits%.(.+)$")
    d = r and M.RLIMITS[r]
  end
  if not d then error(("limits: unknown limit '%s'"):format(tostring(what)), 3) end
  return d
end

--- Check and normalise one limit's value.
-- @param what a limit key ("memory"), "rlimits.NAME", or a description
--   `{kind = "size"|"count"|"seconds"|"cpus"|"cpulist", min, max,
--   positive, unlimited}` for a value of that kind that is no spec limit
--   (the judge's box size)
-- @param v the value
-- @tparam[opt] string field what the message names ("limits.memory", "--memory")
-- @tparam[opt] boolean text v may be text, as on a command line: numeric
--   kinds take a string that reads as a number
-- @return[1] the value: sizes in bytes, counts as integers, "unlimited" kept
-- @return[2] nil
-- @treturn[2] string "field: message"
-- @raise for an unknown limit key
function M.parse(what, v, field, text)
  local d = describe(what)
  if text and type(v) == "string" and NUMERIC[d.kind] then v = tonumber(v) or v end
  if d.unlimited and v == "unlimited" then return v end
  local out, msg = KIND[d.kind](d, v)
  if out == nil then return nil, field and (field .. ": " .. msg) or msg end
  return out
end

--- A size in bytes (parse of the kind size); min 0 unless given.
-- @treturn[1] integer bytes
-- @return[2] nil
-- @treturn[2] string "field: invalid size 'lots'"
function M.parse_size(v, field, min)
  return M.parse({ kind = "size", min = min or 0 }, v, field)
end

--- Seconds from a number or a numeric string: positive, or >= 0 with
-- zero_ok; at most MAX_SECONDS.
-- @treturn[1] number seconds
-- @return[2] nil
-- @treturn[2] string "field: must be at most 2147483 seconds"
function M.parse_seconds(v, field, zero_ok)
  return M.parse({ kind = "seconds", positive = not zero_ok }, v, field, true)
end

return M
