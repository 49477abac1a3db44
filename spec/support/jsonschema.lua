-- spec/support/jsonschema.lua - a small JSON decoder and JSON Schema
-- validator for the specs (Debian packages no Lua validator).
--
-- decode(text) keeps what lua-cjson loses: a JSON object is a table with
-- the metatable OBJECT, an array one with ARRAY (so {} and [] differ), and
-- null is jsonschema.null.  Integers stay Lua integers.
--
-- validate(schema, value) -> true | false, {"$.path: message", ...}.  The
-- keywords (draft 2020-12 meaning): $schema $id $comment title description
-- (ignored), $defs, $ref (only "#/$defs/NAME"), type (a name or a list;
-- "integer" is a number with no fraction), enum, const, properties,
-- required, additionalProperties (boolean or schema), items (one schema
-- for every element), minItems, minimum, maximum, minLength, anyOf, oneOf,
-- and pattern.  Restriction: pattern is matched as a LUA pattern
-- (string.find), not an ECMA regex, so the schema files use only patterns
-- that mean the same in both: ^ $, bracket sets such as [a-z0-9] and [.],
-- and + * ? after one character or set (no \d, no {n}, no alternation).
-- Any other keyword is an error: a schema cannot lean on a check this
-- validator does not make.
local M = {}

M.OBJECT = { __name = "json.object" }
M.ARRAY = { __name = "json.array" }
M.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })

---------------------------------------------------------------- decoding

local ESC = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function decode_error(s, i, what)
  error(("json: %s at byte %d near %q"):format(what, i, s:sub(i, i + 10)), 0)
end

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local value

local function utf8_of(cp)
  return utf8.char(cp)
end

local function string_at(s, i)
  local out, j = {}, i + 1
  while true do
    local c = s:sub(j, j)
    if c == "" then decode_error(s, i, "unterminated string") end
    if c == '"' then return table.concat(out), j + 1 end
    if c == "\\" then
      local e = s:sub(j + 1, j + 1)
      if e == "u" then
        local hex = s:sub(j + 2, j + 5)
        if not hex:match("^%x%x%x%x$") then decode_error(s, j, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and s:sub(j, j + 1) == "\\u" then
          local lo = tonumber(s:sub(j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
            j = j + 6
          end
        end
        out[#out + 1] = utf8_of(cp)
      elseif ESC[e] then
        out[#out + 1] = ESC[e]
        j = j + 2
      else
        decode_error(s, j, "bad escape")
      end
    elseif c:byte() < 32 then
      decode_error(s, j, "control character in a string")
    else
      local k = s:find('["\\%c]', j) or #s + 1
      out[#out + 1] = s:sub(j, k - 1)
      j = k
    end
  end
end

value = function(s, i)
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj = setmetatable({}, M.OBJECT)
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return obj, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, "expected a key") end
      local k
      k, i = string_at(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then decode_error(s, i, "expected ':'") end
      local v
      v, i = value(s, i + 1)
      if obj[k] ~= nil then decode_error(s, i, ("duplicate key %q"):format(k)) end
      obj[k] = v
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "}" then return obj, i + 1 end
      if c ~= "," then decode_error(s, i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = setmetatable({ n = 0 }, M.ARRAY)
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return arr, i + 1 end
    while true do
      local v
      v, i = value(s, i)
      arr.n = arr.n + 1
      arr[arr.n] = v
      i = skip(s, i)
      c = s:sub(i, i)
      if c == "]" then return arr, i + 1 end
      if c ~= "," then decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return string_at(s, i)
  elseif s:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif s:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif s:sub(i, i + 3) == "null" then
    return M.null, i + 4
  end
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not num or num == "" or num == "-" then decode_error(s, i, "unexpected character") end
  local v = math.tointeger(tonumber(num)) or tonumber(num)
  if num:find("[.eE]") then v = tonumber(num) end
  if v == nil then decode_error(s, i, "bad number") end
  return v, i + #num
end

--- Decode one JSON document (trailing white space allowed, nothing else).
function M.decode(s)
  local v, i = value(s, 1)
  i = skip(s, i)
  if i <= #s then decode_error(s, i, "trailing text") end
  return v
end

--- Read and decode a JSON file.
function M.load(path)
  local f = assert(io.open(path))
  local s = f:read("a")
  f:close()
  return M.decode(s)
end

---------------------------------------------------------------- validating

local function json_type(v)
  local t = type(v)
  if v == M.null then return "null" end
  if t == "table" then
    local mt = getmetatable(v)
    if mt == M.ARRAY then return "array" end
    if mt == M.OBJECT then return "object" end
    -- a plain Lua table (not from decode): a sequence is an array
    return (next(v) == nil or #v > 0) and "array" or "object"
  end
  if t == "number" then return "number" end
  if t == "string" then return "string" end
  if t == "boolean" then return "boolean" end
  return t
end

local function is_type(v, want)
  local t = json_type(v)
  if want == "integer" then
    return t == "number" and (math.type(v) == "integer" or v == math.floor(v))
  end
  return t == want
end

local function elements(v)
  local n = v.n or #v
  local i = 0
  return function()
    i = i + 1
    if i <= n then return i, v[i] end
  end
end

local function equal(a, b)
  if json_type(a) ~= json_type(b) then return false end
  if type(a) ~= "table" or a == M.null then return a == b end
  for k, x in pairs(a) do if not equal(x, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local IGNORED = { ["$schema"] = true, ["$id"] = true, ["$comment"] = true, title = true,
                  description = true, ["$defs"] = true, examples = true }

local check

local KEYWORDS = {}

function KEYWORDS.type(s, v, path, errs)
  local list = json_type(s.type) == "array" and s.type or { s.type }
  for _, t in elements(list) do
    if is_type(v, t) then return end
  end
  local names = {}
  for i, t in elements(list) do names[i] = t end
  errs[#errs + 1] = ("%s: %s is not of type %s"):format(path, json_type(v), table.concat(names, "|"))
end

function KEYWORDS.enum(s, v, path, errs)
  for _, e in elements(s.enum) do
    if equal(e, v) then return end
  end
  errs[#errs + 1] = ("%s: %s is not one of the enum"):format(path, tostring(v))
end

function KEYWORDS.const(s, v, path, errs)
  if not equal(s.const, v) then
    errs[#errs + 1] = ("%s: %s is not the const %s"):format(path, tostring(v), tostring(s.const))
  end
end

function KEYWORDS.properties(s, v, path, errs, root)
  if json_type(v) ~= "object" then return end
  for k, sub in pairs(s.properties) do
    if v[k] ~= nil then check(sub, v[k], path .. "." .. k, errs, root) end
  end
end

function KEYWORDS.required(s, v, path, errs)
  if json_type(v) ~= "object" then return end
  for _, k in elements(s.required) do
    if v[k] == nil then errs[#errs + 1] = ("%s: required property %q is missing"):format(path, k) end
  end
end

function KEYWORDS.additionalProperties(s, v, path, errs, root)
  if json_type(v) ~= "object" then return end
  local props = s.properties or {}
  for k, x in pairs(v) do
    if props[k] == nil then
      if s.additionalProperties == false then
        errs[#errs + 1] = ("%s: property %q is not allowed"):format(path, tostring(k))
      elseif s.additionalProperties ~= true then
        check(s.additionalProperties, x, path .. "." .. tostring(k), errs, root)
      end
    end
  end
end

function KEYWORDS.items(s, v, path, errs, root)
  if json_type(v) ~= "array" then return end
  for i, x in elements(v) do check(s.items, x, ("%s[%d]"):format(path, i - 1), errs, root) end
end

function KEYWORDS.minItems(s, v, path, errs)
  if json_type(v) == "array" and (v.n or #v) < s.minItems then
    errs[#errs + 1] = ("%s: fewer than %d items"):format(path, s.minItems)
  end
end

function KEYWORDS.minimum(s, v, path, errs)
  if type(v) == "number" and v < s.minimum then
    errs[#errs + 1] = ("%s: %s is less than %s"):format(path, tostring(v), tostring(s.minimum))
  end
end

function KEYWORDS.maximum(s, v, path, errs)
  if type(v) == "number" and v > s.maximum then
    errs[#errs + 1] = ("%s: %s is more than %s"):format(path, tostring(v), tostring(s.maximum))
  end
end

function KEYWORDS.minLength(s, v, path, errs)
  if type(v) == "string" and utf8.len(v) < s.minLength then
    errs[#errs + 1] = ("%s: shorter than %d"):format(path, s.minLength)
  end
end

function KEYWORDS.pattern(s, v, path, errs)
  if type(v) == "string" and not v:find(s.pattern) then
    errs[#errs + 1] = ("%s: %q does not match %s"):format(path, v, s.pattern)
  end
end

local function count_valid(list, v, path, root)
  local n, all = 0, {}
  for i, sub in elements(list) do
    local e = {}
    check(sub, v, path, e, root)
    if #e == 0 then n = n + 1 end
    all[#all + 1] = ("(%d) %s"):format(i, table.concat(e, "; "))
  end
  return n, all
end

function KEYWORDS.anyOf(s, v, path, errs, root)
  local n, all = count_valid(s.anyOf, v, path, root)
  if n == 0 then errs[#errs + 1] = ("%s: matches none of anyOf: %s"):format(path, table.concat(all, " ")) end
end

function KEYWORDS.oneOf(s, v, path, errs, root)
  local n, all = count_valid(s.oneOf, v, path, root)
  if n ~= 1 then
    errs[#errs + 1] = ("%s: matches %d of oneOf (1 wanted): %s"):format(path, n, table.concat(all, " "))
  end
end

KEYWORDS["$ref"] = function(s, v, path, errs, root)
  local name = s["$ref"]:match("^#/%$defs/([%w_%-]+)$")
  local target = name and root["$defs"] and root["$defs"][name]
  if not target then error(("jsonschema: unresolvable $ref %q"):format(s["$ref"]), 0) end
  check(target, v, path, errs, root)
end

check = function(s, v, path, errs, root)
  if s == true then return end
  if s == false then
    errs[#errs + 1] = path .. ": no value is allowed here"
    return
  end
  for k in pairs(s) do
    if not KEYWORDS[k] and not IGNORED[k] then
      error(("jsonschema: unsupported keyword %q at %s"):format(k, path), 0)
    end
  end
  for k, f in pairs(KEYWORDS) do
    if s[k] ~= nil then f(s, v, path, errs, root) end
  end
end

--- Validate a value (decoded by M.decode, or JSON text) against a schema
-- (a decoded schema or the path of a schema file).
-- @treturn[1] true
-- @treturn[2] false
-- @treturn[2] table the errors, "$.path: message" each (sorted)
function M.validate(schema, v)
  if type(schema) == "string" then schema = M.load(schema) end
  if type(v) == "string" then v = M.decode(v) end
  local errs = {}
  check(schema, v, "$", errs, schema)
  table.sort(errs)
  if #errs == 0 then return true end
  return false, errs
end

return M
