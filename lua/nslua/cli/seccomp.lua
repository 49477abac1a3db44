--- nslua.cli.seccomp: `nslua seccomp convert FILE.json [--caps LIST]
-- [--arch ARCH]`, a Docker or OCI seccomp profile as the nslua profile
-- table it becomes (nslua.seccomp_json), printed as a Lua chunk that
-- `seccomp = "FILE.lua"` (nslua.seccomp.load_file) loads back.
local main = require "nslua.cli.main"

local M = {}

--- The options of `nslua seccomp convert`: { name, {ARGS}, {help lines} },
-- the one table its parser, its help and docs/cli.md (nslua.cli.doc) read.
M.OPTIONS = {
  { "--caps", { "LIST" }, { "the capabilities the sandbox keeps, comma-separated",
    "(CAP_SYS_ADMIN or sys_admin; \"all\"): they decide the rules",
    "with includes.caps / excludes.caps.  Default: none, as",
    "`nslua run` keeps none unless --cap-add says so" } },
  { "--arch", { "ARCH" }, { "the architecture for archMap and includes/excludes.arches",
    "(libseccomp's name: x86_64, aarch64, ...). Default: this",
    "machine's" } },
}
M.USAGE = "nslua seccomp convert FILE.json [--caps LIST] [--arch ARCH]"
M.DESCRIPTION = [[
Print the nslua profile table a Docker or OCI seccomp profile converts to,
as a Lua chunk (`return { ... }`) that --seccomp FILE.lua loads back.]]
M.NOTE = "`nslua run --seccomp FILE.json` converts the same way, with the run's caps."

local OPT = {}
local HELP = { "Usage: " .. M.USAGE, "", M.DESCRIPTION, "" }
for _, o in ipairs(M.OPTIONS) do
  OPT[o[1]] = o
  HELP[#HELP + 1] = ("  %-13s %s"):format(o[1] .. " " .. table.concat(o[2], " "), o[3][1])
  for k = 2, #o[3] do HELP[#HELP + 1] = (" "):rep(16) .. o[3][k] end
end
HELP[#HELP + 1] = ""
HELP[#HELP + 1] = M.NOTE
HELP = table.concat(HELP, "\n")

-- Key order of the tables a profile holds (others follow, sorted).
local ORDER = { "default", "errno", "unknown_above", "badarch", "arches", "names", "name", "nr",
                "action", "index", "op", "value", "mask", "trace", "args", "comment", "syscalls" }
local RANK = {}
for i, k in ipairs(ORDER) do RANK[k] = i end

local function is_list(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n == #t
end

local function scalar(v, key)
  if math.type(v) == "integer" then
    -- masks and values above 2^63 (negative here) read best in hex;
    -- Lua reads 0xffffffffffffffff back as the same integer
    if v < 0 or (key == "mask" and v > 9) then return ("0x%x"):format(v) end
    return tostring(v)
  end
  if type(v) == "string" then return ("%q"):format(v) end
  return tostring(v)
end

-- v as Lua source at indent 'ind'; lists of scalars are wrapped.
local function serialize(v, ind, key)
  if type(v) ~= "table" then return scalar(v, key) end
  if next(v) == nil then return "{}" end
  local pad = ind .. "  "
  if is_list(v) then
    local simple = true
    for _, x in ipairs(v) do simple = simple and type(x) ~= "table" end
    if simple then
      local lines, line = {}, ""
      for i, x in ipairs(v) do
        local s = scalar(x) .. (i < #v and "," or "")
        if #line > 0 and #pad + #line + 1 + #s > 96 then
          lines[#lines + 1] = line
          line = s
        else
          line = #line > 0 and line .. " " .. s or s
        end
      end
      lines[#lines + 1] = line
      if #lines == 1 and #ind + #lines[1] < 80 then return "{ " .. lines[1] .. " }" end
      return "{\n" .. pad .. table.concat(lines, "\n" .. pad) .. "\n" .. ind .. "}"
    end
    local items = {}
    for i, x in ipairs(v) do items[i] = serialize(x, pad) end
    local flat = "{ " .. table.concat(items, ", ") .. " }"
    if not flat:find("\n", 1, true) and #ind + #flat < 80 then return flat end
    return "{\n" .. pad .. table.concat(items, ",\n" .. pad) .. ",\n" .. ind .. "}"
  end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ra, rb = RANK[a] or #ORDER + 1, RANK[b] or #ORDER + 1
    if ra ~= rb then return ra < rb end
    return tostring(a) < tostring(b)
  end)
  local parts = {}
  for _, k in ipairs(keys) do
    local name = type(k) == "string" and k:match("^[%a_][%w_]*$") and k or ("[%s]"):format(scalar(k))
    parts[#parts + 1] = ("%s = %s"):format(name, serialize(v[k], pad, k))
  end
  local flat = "{ " .. table.concat(parts, ", ") .. " }"
  if not flat:find("\n", 1, true) and #ind + #flat < 96 then return flat end
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. ",\n" .. ind .. "}"
end

--- A profile table as a Lua chunk returning it.
-- @tparam table profile
-- @tparam[opt] string header a comment for the first lines
-- @treturn string
function M.to_lua(profile, header)
  local out = {}
  for line in (header or ""):gmatch("[^\n]+") do out[#out + 1] = "-- " .. line end
  out[#out + 1] = "return " .. serialize(profile, "")
  return table.concat(out, "\n") .. "\n"
end

-- "CAP_SYS_ADMIN,sys_time" -> { "CAP_SYS_ADMIN", "CAP_SYS_TIME" }
local function parse_caps(list)
  local validate = require "nslua.validate"
  local out = {}
  for c in list:gmatch("[^,%s]+") do
    local n = validate.cap_name(c)
    if not n then main.usage_error(("seccomp convert: --caps: unknown capability '%s'"):format(c)) end
    if n == "all" then
      for _, x in ipairs(validate.CAPS) do out[#out + 1] = "CAP_" .. x:upper() end
    else
      out[#out + 1] = n:upper()
    end
  end
  return out
end

local function convert(args)
  local file, caps, arch
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--help" or a == "-h" then
      print(HELP)
      return 0
    elseif OPT[a] then
      local v = args[i + 1]
      if v == nil then main.usage_error(("seccomp convert: %s needs a value"):format(a)) end
      if a == "--caps" then caps = parse_caps(v) else arch = v end
      i = i + 1
    elseif a:match("^%-") then
      main.usage_error(("seccomp convert: unknown option '%s' (see nslua seccomp --help)"):format(a))
    elseif file then
      main.usage_error(("seccomp convert: one FILE.json only ('%s' too)"):format(a))
    else
      file = a
    end
    i = i + 1
  end
  if not file then main.usage_error("seccomp convert: needs FILE.json (see nslua seccomp --help)") end
  local sj = require "nslua.seccomp_json"
  if arch then
    local known = false
    for _, x in ipairs(sj.ARCHES) do known = known or x == arch end
    if not known then
      main.usage_error(("seccomp convert: --arch: unknown architecture '%s' (valid: %s)")
        :format(arch, table.concat(sj.ARCHES, " ")))
    end
  end
  local f, err = io.open(file, "r")
  if not f then main.usage_error("seccomp convert: " .. err) end
  local text = f:read("a")
  f:close()
  local profile, _, errors = sj.from_json(text or "", { caps = caps, arch = arch })
  if not profile then
    for _, e in ipairs(errors) do main.eprintf("seccomp convert: %s: %s", file, e) end
    return main.EXIT_FAIL
  end
  local capnames = {}
  for n in pairs(sj.cap_set(caps)) do capnames[#capnames + 1] = n end
  table.sort(capnames)
  io.stdout:write(M.to_lua(profile, ("%s as an nslua seccomp profile (`nslua seccomp convert`)\n"
    .. "for %s, keeping caps: %s"):format(file, arch or sj.native_arch(),
    #capnames > 0 and table.concat(capnames, " ") or "none")))
  return 0
end

--- main(args) of `nslua seccomp` -> exit code.
function M.main(args)
  local cmd = args[1]
  if cmd == nil or cmd == "--help" or cmd == "-h" or cmd == "help" then
    print(HELP)
    return cmd == nil and main.EXIT_FAIL or 0
  end
  if cmd == "convert" then
    return convert({ table.unpack(args, 2, args.n or #args) })
  end
  main.usage_error(("seccomp: unknown command '%s' (valid: convert)"):format(cmd))
end

return M
