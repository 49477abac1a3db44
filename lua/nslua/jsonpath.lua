--- nslua.jsonpath: reading decoded JSON (lua-cjson) with every problem
-- named by its JSON path, as the OCI tools and jq name them: array
-- indexes from 0 (`mounts[3].destination: must be an absolute path`),
-- JSON null the same as an absent member.
--
-- The front ends that read JSON (nslua.oci.config, nslua.seccomp_json)
-- share these helpers and the Reader, a collector of "path: message"
-- problems in document order whose methods read one member each.
local validate = require "nslua.validate"

local M = {}

--- The first index of a JSON array in messages (jq's).
M.INDEX_BASE = 0

-- lua-cjson's null, or a sentinel when lua-cjson is absent (then no
-- decoded value is null).
local NULL
do
  local ok, cjson = pcall(require, "cjson")
  NULL = ok and cjson.null or {}
end
M.NULL = NULL

--- t[k] with JSON null read as absent.
function M.get(t, k)
  local v = t[k]
  if v == NULL then return nil end
  return v
end
local get = M.get

--- "base[i]" for the Lua index i of an array.
function M.at(base, i)
  return ("%s[%d]"):format(base, i - 1 + M.INDEX_BASE)
end
local at = M.at

--- "base.k" ("k" at the top).
function M.field(base, k)
  return base == "" and k or base .. "." .. k
end
local field = M.field

--- Is v a JSON object (a table with only string keys; {} counts)?
function M.is_object(v)
  if type(v) ~= "table" then return false end
  for k in pairs(v) do
    if type(k) ~= "string" then return false end
  end
  return true
end
local is_object = M.is_object

--- Is v a JSON array?
function M.is_array(v)
  return type(v) == "table" and validate.is_list(v)
end
local is_array = M.is_array

--- An integer from a JSON number (lua-cjson decodes every number as a
-- float), or nil.
function M.as_int(v)
  if math.type(v) == "integer" then return v end
  if math.type(v) == "float" then return math.tointeger(v) end
  return nil
end
local as_int = M.as_int

-- A uint64 from a JSON number as the kernel would read its bits: values
-- from 2^63 wrap to negative Lua integers.  lua-cjson reads numbers as
-- doubles, so above 2^53 they lose precision; 18446744073709551615 reads
-- as 2^64 and stands for the all-ones value it was.
-- (cjson.encode keeps 14 digits: 2^64-1 comes back as 1.844674407371e+19,
-- which is read as all ones too.)
local TWO63 <const> = 2.0 ^ 63
local TWO64 <const> = 2.0 ^ 64
local ALL_ONES_MAX <const> = 1.844674407371e19
M.TWO63, M.ALL_ONES_MAX = TWO63, ALL_ONES_MAX
--- A uint64 from a JSON number (wrapping from 2^63), or nil.
function M.as_u64(v)
  local n = as_int(v)
  if n then return n >= 0 and n or nil end
  if math.type(v) == "float" and v >= TWO63 and v <= ALL_ONES_MAX and v == math.floor(v) then
    if v >= TWO64 then return -1 end
    return math.tointeger(v - TWO64)
  end
  return nil
end

--- The Reader: `Reader.new()` has errors = {}; each method reads t[k]
-- at JSON path base.k, returns the value (nil when absent or wrong) and
-- adds the problem otherwise.
local Reader = {}
Reader.__index = Reader
M.Reader = Reader

function Reader.new()
  return setmetatable({ errors = {} }, Reader)
end

function Reader:add(path, fmt, ...)
  self.errors[#self.errors + 1] = path .. ": " .. fmt:format(...)
end

-- t[k] as a JSON object (or absent), with the problem added otherwise.
function Reader:object(t, k, base)
  local v = get(t, k)
  if v == nil then return nil end
  if not is_object(v) then
    self:add(field(base, k), "must be an object")
    return nil
  end
  return v
end

function Reader:array(t, k, base)
  local v = get(t, k)
  if v == nil then return nil end
  if not is_array(v) then
    self:add(field(base, k), "must be an array")
    return nil
  end
  return v
end

function Reader:string(t, k, base, nonempty)
  local v = get(t, k)
  if v == nil then return nil end
  if type(v) ~= "string" or v:find("%z") or (nonempty and v == "") then
    self:add(field(base, k), nonempty and "must be a non-empty string" or "must be a string")
    return nil
  end
  return v
end

function Reader:boolean(t, k, base)
  local v = get(t, k)
  if v == nil then return nil end
  if type(v) ~= "boolean" then
    self:add(field(base, k), "must be a boolean")
    return nil
  end
  return v
end

-- An integer in [min, max] at t[k] (or absent).
function Reader:integer(t, k, base, min, max)
  local v = get(t, k)
  if v == nil then return nil end
  local n = as_int(v)
  if not n or n < min or n > max then
    self:add(field(base, k), "must be an integer in %d..%d", min, max)
    return nil
  end
  return n
end

-- An array of strings at t[k] (or absent) as a new list.
function Reader:strings(t, k, base)
  local v = self:array(t, k, base)
  if v == nil then return nil end
  local out = {}
  for i, s in ipairs(v) do
    if type(s) ~= "string" or s:find("%z") then
      self:add(at(field(base, k), i), "must be a string")
    else
      out[#out + 1] = s
    end
  end
  return out
end

--- Every member of object t not in the set 'known', as a problem
-- ("base.k: unknown field"), in sorted order.
function Reader:unknown(t, known, base)
  local extra = {}
  for k in pairs(t) do
    if not known[k] then extra[#extra + 1] = k end
  end
  table.sort(extra)
  for _, k in ipairs(extra) do
    local names = {}
    for n in pairs(known) do names[#names + 1] = n end
    table.sort(names)
    self:add(field(base, k), "unknown field (valid here: %s)", table.concat(names, " "))
  end
end

return M
