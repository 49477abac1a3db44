--- nslua.policy: layering specs.
--
-- Two ways to combine specs, for two different jobs:
--
-- * `compose(a, b, ...)` layers *policies*. Each layer may only tighten what
--   the layers before it allow: namespaces OR (true wins), caps intersect,
--   limits take the minimum, mounts append, env merges, keep_env unions,
--   landlock intersects per category, hooks all run. A layer cannot give back a namespace, a capability or a
--   larger limit that an earlier layer took away.
-- * `override(spec, overrides)` applies *the operator's own choices*: CLI
--   options and a recipe's own fields. They replace what the starting spec
--   says, so they can relax it too (`--caps` grants a capability, `judge
--   --time 5` raises the recipe's default time limit).
--
-- Both work on specs as written (sizes may still be strings such as "64M")
-- and return new tables; inputs are never changed. Neither validates: pass
-- the result to `nslua.validate`. Values compose compares but cannot parse
-- are kept, so validation still reports them.
local validate = require "nslua.validate"
local limits = require "nslua.limits"

local M = {}

local copy = validate.copy

-- What limit key k (of limits, or of limits.rlimits) is (nslua.limits):
-- its kind says how two values compare.
local function describe(k, rlimit)
  if rlimit then return limits.RLIMITS[k] end
  return limits.LIMITS[k]
end

-- The value that limit key k stands for (math.huge for "unlimited"), nil
-- when it cannot be read.
local function limit_value(k, v, rlimit)
  if rlimit and v == "unlimited" then return math.huge end
  local d = describe(k, rlimit)
  if d and d.kind == "size" then return limits.size_bytes(v) end
  if type(v) == "number" and v == v then return v end
  return nil
end

-- The tighter of a and b, as written; an unreadable value wins, so that
-- validation reports it rather than compose hiding it.
local function min_limit(k, a, b, rlimit)
  local va, vb = limit_value(k, a, rlimit), limit_value(k, b, rlimit)
  if vb == nil then return copy(b) end
  if va == nil then return copy(a) end
  return va < vb and a or b
end

-- "0-2,4" from a sorted list of cpus.
local function format_cpus(list)
  local parts, i = {}, 1
  while i <= #list do
    local j = i
    while list[j + 1] == list[j] + 1 do j = j + 1 end
    parts[#parts + 1] = i == j and tostring(list[i]) or
      ("%d-%d"):format(list[i], list[j])
    i = j + 1
  end
  return table.concat(parts, ",")
end

local function intersect_cpusets(a, b)
  local la, lb = limits.cpulist(a), limits.cpulist(b)
  if not lb then return b end
  if not la then return a end
  local inb, out = {}, {}
  for _, c in ipairs(lb) do inb[c] = true end
  for _, c in ipairs(la) do
    if inb[c] then out[#out + 1] = c end
  end
  -- An empty intersection is no valid cpu list: validation says so.
  return format_cpus(out)
end

local function min_table(a, b, rlimit)
  local out = copy(a)
  for k, v in pairs(b) do
    if out[k] == nil then
      out[k] = copy(v)
    elseif k == "rlimits" and not rlimit and type(v) == "table" and
        type(out[k]) == "table" then
      out[k] = min_table(out[k], v, true)
    elseif k == "cpuset" and not rlimit then
      out[k] = intersect_cpusets(out[k], v)
    elseif k == "cpu_scope" and not rlimit then
      -- the whole container's cpu time is the tighter measure
      out[k] = (out[k] == "container" or v == "container") and "container" or copy(v)
    elseif describe(k, rlimit) then
      out[k] = min_limit(k, out[k], v, rlimit)
    else
      out[k] = copy(v) -- unknown key: later replaces, validation reports it
    end
  end
  return out
end

local function canon_cap(c)
  if type(c) ~= "string" then return c end
  return (c:lower():gsub("^cap_", ""))
end

local function has_all(list)
  for _, c in ipairs(list) do
    if canon_cap(c) == "all" then return true end
  end
  return false
end

local CAP_SETS <const> = { "bounding", "permitted", "effective", "inheritable", "ambient" }

-- Capabilities both lists allow, spelt and ordered as in a.  The set form
-- ({ bounding = {...}, ... }) intersects set by set, a list counting as
-- that list in every set (an absent set is empty).
local function is_sets(t)
  if type(t) ~= "table" then return false end
  for _, s in ipairs(CAP_SETS) do
    if t[s] ~= nil then return true end
  end
  return false
end

local function intersect_caps(a, b)
  if is_sets(a) or is_sets(b) then
    local out = {}
    for _, s in ipairs(CAP_SETS) do
      local function set_of(t)
        if is_sets(t) then return t[s] or {} end
        return t
      end
      out[s] = intersect_caps(set_of(a), set_of(b))
    end
    return out
  end
  if has_all(a) then return copy(b) end
  if has_all(b) then return copy(a) end
  local inb, seen, out = {}, {}, {}
  for _, c in ipairs(b) do inb[canon_cap(c)] = true end
  for _, c in ipairs(a) do
    local k = canon_cap(c)
    if inb[k] and not seen[k] then
      seen[k] = true
      out[#out + 1] = c
    end
  end
  return out
end

local function union_list(a, b)
  local out, seen = {}, {}
  for _, list in ipairs { a, b } do
    for _, v in ipairs(list) do
      if not seen[v] then
        seen[v] = true
        out[#out + 1] = v
      end
    end
  end
  return out
end

-- One function running f then g with the same arguments. An error raised
-- by f propagates and g does not run; so does a failure return (nil, msg),
-- which is returned as is. Otherwise the result is g's.
local function chain(f, g)
  return function(...)
    local r = table.pack(f(...))
    if r.n >= 2 and r[1] == nil and r[2] ~= nil then
      return table.unpack(r, 1, r.n)
    end
    return g(...)
  end
end

local function compose_hooks(a, b)
  local out = copy(a)
  for k, g in pairs(b) do
    local f = out[k]
    if type(f) == "function" and type(g) == "function" then
      out[k] = chain(f, g)
    else
      out[k] = g
    end
  end
  return out
end

local function or_namespaces(a, b)
  local out = copy(a)
  for k, v in pairs(b) do
    out[k] = out[k] == true or v
  end
  return out
end

-- Field -> how to layer b over a when both are tables.
local LAYER = {
  namespaces = or_namespaces,
  caps = intersect_caps,
  limits = min_table,
  mounts = function(a, b) return table.move(copy(b), 1, #b, #a + 1, copy(a)) end,
  env = function(a, b)
    local out = copy(a)
    for k, v in pairs(b) do out[k] = copy(v) end
    return out
  end,
  keep_env = union_list,
  hooks = compose_hooks,
  -- per category, the intersection (nslua.landlock.compose)
  landlock = function(a, b) return require("nslua.landlock").compose(a, b) end,
}

--- Layer policies that only tighten.
-- `namespaces` OR (true wins); `caps` intersect where two layers set them
-- (nil = unconstrained, "all" = every capability); `limits` (and
-- `limits.rlimits`) take the minimum per key, sizes compared in bytes and
-- "unlimited" the largest, keeping the winning value as written;
-- `limits.cpuset` intersects; `limits.cpu_scope`: "container" wins over
-- "command" (the whole container's time is the tighter measure); `mounts`
-- append; `env` merges, later wins; `keep_env` unions; `landlock` intersects
-- per category (a category one layer sets is that layer's; a path only where
-- it lies beneath a path of each layer, a port in every list); `hooks` run in layer order, earliest first, stopping
-- at the first that raises or returns nil, msg; any other field: the later
-- layer replaces it. A field a layer leaves nil is inherited.
-- @tparam table ... specs, earliest first
-- @treturn table a new spec
-- @raise when an argument is not a table
function M.compose(...)
  local out = {}
  for i = 1, select("#", ...) do
    local layer = select(i, ...)
    if type(layer) ~= "table" then
      error(("compose: argument #%d must be a table, got %s"):format(i, type(layer)), 2)
    end
    for k, v in pairs(layer) do
      local a, how = out[k], LAYER[k]
      if how and type(a) == "table" and type(v) == "table" then
        out[k] = how(a, v)
      else
        out[k] = copy(v)
      end
    end
  end
  return out
end

-- Maps merged key by key by override; false deletes a key in those that
-- cannot hold false as a value.
-- (landlock: the operator's category replaces the spec's, the others stay)
local DEEP = { limits = true, namespaces = true, env = true, landlock = true }
local FALSE_DELETES = { limits = true, env = true }

local function merge(a, b, delete)
  local out = copy(a)
  for k, v in pairs(b) do
    if v == false and delete then
      out[k] = nil
    elseif type(v) == "table" and type(out[k]) == "table" and
        not validate.is_list(v) then
      out[k] = merge(out[k], v, delete)
    else
      out[k] = copy(v)
    end
  end
  return out
end

--- Apply the operator's own choices (CLI options, a recipe's own fields).
-- Unlike `compose`, which only tightens, override replaces: `limits`
-- (with `limits.rlimits`), `namespaces` and `env` are merged key by key,
-- the override winning; every other field it sets replaces the spec's.
-- In `limits` and `env` a value of false removes the key (`--unsetenv`,
-- dropping a recipe's time limit).
-- @tparam table spec the starting spec
-- @tparam[opt] table overrides
-- @treturn table a new spec
-- @raise when an argument is not a table
function M.override(spec, overrides)
  if type(spec) ~= "table" then
    error(("override: argument #1 must be a table, got %s"):format(type(spec)), 2)
  end
  if overrides ~= nil and type(overrides) ~= "table" then
    error(("override: argument #2 must be a table, got %s"):format(type(overrides)), 2)
  end
  local out = copy(spec)
  for k, v in pairs(overrides or {}) do
    if DEEP[k] and type(v) == "table" and type(out[k]) == "table" then
      out[k] = merge(out[k], v, FALSE_DELETES[k])
    else
      out[k] = copy(v)
    end
  end
  return out
end

return M
