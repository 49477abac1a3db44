--- scripts/fuzz/gen.lua: the fuzzer's cases, generated from nslua's own
-- tables: `nslua run`'s options (nslua.cli.run OPTIONS: names, how many
-- values, repeatable), the limits and their kinds (nslua.limits) and the
-- spec's fields (nslua.validate FIELDS).  Values mix good ones (to get past
-- validation into set-up) with bad ones: wrong types, huge and odd numbers,
-- odd paths, missing values, repeated and unknown options.
--
-- Every case is checked safe before it runs (M.safe), through the same
-- parser and spec merge that nslua uses: nothing it writes, binds
-- read-write or loads as Lua lies outside the case's scratch directory;
-- no veth or bridge (host links); no host user with the host network; no
-- uts = false.  An unsafe case is dropped and the next one generated (the
-- sequence of a seed stays the same).
local runcli = require "nslua.cli.run"
local climain = require "nslua.cli.main"
local limits = require "nslua.limits"
local validate = require "nslua.validate"

local M = {}

local random = math.random
local function pick(t) return t[random(#t)] end
local function chance(p) return random() < p end

-- The scratch directory of the case (made afresh for each case by the
-- driver): every path nslua may write or bind read-write is under it.
local S = "/nonexistent-scratch"

--- Set the scratch directory the generated paths use.
function M.setup(dir)
  S = dir
end

--- What the driver makes in the scratch directory before each case.
M.SCRATCH = {
  dirs = { "d", "d/sub", "e" },
  files = {
    f = "hello\n",
    ["prof.lua"] = 'return { default = "allow" }\n',
    ["strict.lua"] = 'return { default = "errno", syscalls = { { names = { "exit_group" }, action = "allow" } } }\n',
    ["bad.lua"] = 'error("a profile that raises")\n',
    ["syntax.lua"] = "return {\n",
    ["table.lua"] = "return 42\n",
  },
}

-- Odd strings: empty, separators, quotes, newlines, huge, numbers that
-- are not numbers.
local ODD = {
  "", " ", "-", "--", "-x", "=", ":", "::", "a:b:c", "\n", "\t", "x\ny", "\xc3\xa9", "%s%n", "$(id)",
  "`id`", "'", '"', "\\", ("a"):rep(300), ("/a"):rep(2100), "..", ".", "./x", "../x", "/../x", "//",
  "/./", "0", "-1", "1e300", "nan", "inf", "0x10", "99999999999999999999", "18446744073709551616",
  "2147483648", "4294967296", "\x01", "\x7f", "a,b", ",",
}

local NUMBERS = {
  "0", "1", "-1", "0.5", "1e300", "1e18", "-0", "nan", "inf", "-inf", "0x1p4", "1e-300", "2147483",
  "2147484", "4194304", "4194305", "65536", "65537", "0.01", "0.009", "9223372036854775807",
  "9223372036854775808", "99999999999999999999", "1.5", "007", " 1", "1 ", "", "abc", "0x7fffffff",
}
local SIZES = {
  "64M", "1G", "1.5G", "64MiB", "64mb", "1T", "8E", "99999999999999999999G", "9999999999999G",
  "16383T", "16384T", "0K", "1k", "-1M", "1.M", ".5M", "M", "1Q", "1 M", "4096", "1",
}
local CPULISTS = { "0", "0-1", "1-0", "0,0", "99999", "0-99999", "a", "", "0-", ",", "65535", "0-1,3" }
local GOOD = { size = { "64M", "16M", "1G" }, count = { "64", "1024" }, seconds = { "5", "10", "0.5" },
               cpus = { "1", "0.5" }, cpulist = { "0" } }

local function number_text(kind)
  if chance(0.4) then return pick(GOOD[kind]) end
  if kind == "size" and chance(0.5) then return pick(SIZES) end
  if kind == "cpulist" then return pick(CPULISTS) end
  if kind == "count" and chance(0.1) then return "unlimited" end
  return chance(0.9) and pick(NUMBERS) or pick(ODD)
end

local function targets()
  return { "/x", "/tmp/x", "/usr/x", "/etc", "/", "/proc", "/dev/null", "/dev/x", "/a/b/c", "relative", "",
           "/x/../y", "//x", "/x/", "/tmp", "/sys", "/newroot", "/.oldroot", "/" .. ("a"):rep(255),
           "/" .. ("a"):rep(256), ("/a"):rep(2100), "/dev/shm/x", "/dev/pts/x", "/x y", "/x\nz", "/x:y",
           "/run", "/mnt", "/dev", "/tmp/d/e" }
end
-- Sources nslua may bind read-write: the scratch tree, device files.
local function rw_sources()
  return { S .. "/d", S .. "/f", S .. "/e", S .. "/missing", S .. "/d/sub", S .. "/f/x", "/dev/null",
           "/dev/zero", "relative", "", S .. "/d/../f", S .. "/" .. ("n"):rep(300), S }
end
-- Sources bound read-only: anything.
local function ro_sources()
  local t = rw_sources()
  for _, p in ipairs { "/", "/usr", "/etc", "/etc/passwd", "/proc/self", "/proc/1", "/sys", "/dev",
                       "/nonexistent", "/tmp", "/run", "/sys/fs/cgroup", "/bin/true" } do
    t[#t + 1] = p
  end
  return t
end
-- Paths nslua opens for writing (stdout, stderr, report): the scratch tree.
local function out_paths()
  return { S .. "/out", S .. "/d/out", S .. "/missing/out", S .. "/d", S .. "/f", "relative-out", "",
           S .. "/" .. ("x"):rep(300), "/dev/null", "/dev/full", "null", "inherit" }
end
local function in_paths()
  local t = out_paths()
  for _, p in ipairs { "/etc/hostname", "/nonexistent", "/proc/self/fd/0", "/dev/zero", "/" } do
    t[#t + 1] = p
  end
  return t
end
local function seccomp_values()
  return { "default", "strict", "none", "", "bogus", "x.lua", S .. "/prof.lua", S .. "/strict.lua",
           S .. "/bad.lua", S .. "/syntax.lua", S .. "/table.lua", S .. "/nonexistent.lua", S .. "/f",
           S .. "/d" }
end
local NAMES = { "x", "", "a b", ("a"):rep(64), ("a"):rep(65), ("n"):rep(256), "-x", "x.y", "x_y", "\t",
                "\xc3\xa9", "a/b", ".", "fuzz" }
local CAPS = { "net_bind_service", "chown", "all", "ALL", "cap_sys_admin", "bogus", "", ",",
               "chown,bogus", "sys_admin,,net_raw", ("chown,"):rep(100), "CAP_KILL", "cap_" }
local ENV = { "K=V", "K=", "=V", "K", "", "A=B=C", "PATH=/x", "LD_PRELOAD=/x", "K=" .. ("v"):rep(5000),
              "K\nX=1", "1=2", "HOME=/tmp" }
local IDS = { "0", "1000", "65534", "65535", "65536", "-1", "1e300", "x", "", "4294967295", "1.5" }
-- never veth, never a bridge whose name is valid (host links)
local NET = { "none", "host", "bogus", "", "veth:", "bridge:", "bridge:a/b", "bridge:" .. ("b"):rep(16),
              "bridge:x y", "bridge::", "none ", "HOST", "bridge:a/b:10.1.2.3/24" }
local USERS = { "host", "", "bogus", "HOST" }
local RLIMITS = { "nofile=64", "nofile=unlimited", "fsize=1M", "bogus=1", "nofile", "=1", "nofile=-1",
                  "core=99999999999999999999G", "stack=1e300", "as=1", "nproc=0", "memlock=16T",
                  "nofile=1048577", "fsize=0", "as=64M", "nproc=unlimited", "core=1.5" }
local FDS = { "1", "2", "0", "3", "9", "99", "-1", "x", "1e300", "2147483648", "", "1.0" }
local CONTENT = { "", "x", "line\n", ("c"):rep(70000), "\0", "a\0b" }

-- The value(s) of one option, by its name; n: 1, 2, 3, "1-2" or "1-3".
local function option_values(name, n)
  local key = name:sub(3):gsub("%-", "_")
  local function one()
    if limits.LIMITS[key] then return number_text(limits.LIMITS[key].kind) end
    if name == "--bind" or name == "--bind-try" or name == "--dev-bind" or name == "--bind-idmap"
      or name == "--bind-as-slot" or name == "--overlay-upper" or name == "--overlay-work" then
      return pick(rw_sources())
    elseif name == "--ro-bind" or name == "--ro-bind-try" or name == "--rootfs" then
      return pick(ro_sources())
    elseif name == "--tmpfs" then
      local t = pick(targets())
      return chance(0.5) and (t .. ":" .. number_text("size")) or t
    elseif name == "--dir" or name == "--cwd" or name == "--proc" or name == "--dev" or name == "--mqueue" then
      return pick(targets())
    elseif name == "--name" or name == "--hostname" then
      return chance(0.5) and pick { "fuzz", "x", "a.b-c_d" } or pick(NAMES)
    elseif name == "--env" then return pick(ENV)
    elseif name == "--unsetenv" or name == "--keep-env" then return (pick(ENV):match("^[^=]*"))
    elseif name == "--net" then return pick(NET)
    elseif name == "--user" then return pick(USERS)
    elseif name == "--uid" or name == "--gid" then return pick(IDS)
    elseif name == "--nofile" then return number_text("count")
    elseif name == "--rlimit" then return pick(RLIMITS)
    elseif name == "--caps" then return pick(CAPS)
    elseif name == "--seccomp" then return pick(seccomp_values())
    elseif name == "--stdin" then return pick(in_paths())
    elseif name == "--stdout" or name == "--stderr" or name == "--report" then return pick(out_paths())
    elseif name == "--report-fd" or name:match("^%-%-.*fd$") or name == "--args" or name:match("%-data$") then
      return pick(FDS)
    elseif name == "--perms" or name == "--chmod" then return pick { "0700", "0755", "1777", "9", "x", "07777" }
    elseif name == "--size" then return number_text("size")
    elseif name == "--cap-add" or name == "--cap-drop" then return pick { "ALL", "CAP_CHOWN", "net_raw", "bogus" }
    elseif name == "--remount-ro" or name == "--tmp-overlay" or name == "--ro-overlay" or name == "--lock-file" then
      return pick(targets())
    elseif name == "--overlay-src" then return pick(ro_sources())
    end
    return pick(ODD)
  end
  if n == 2 then
    if name == "--symlink" then return { chance(0.5) and pick(targets()) or pick(ODD), pick(targets()) } end
    if name == "--file" then return { pick(targets()), (pick(CONTENT):gsub("%z", "")) } end
    if name == "--setenv" then return { (pick(ENV):match("^[^=]*")), pick(ODD) } end
    return { one(), pick(ODD) }
  end
  if n == 3 or n == "1-3" and chance(0.5) then return { pick(ODD), pick(ODD), pick(targets()) } end
  if n == "1-3" then return { pick(ro_sources()) } end
  if n == "1-2" then
    local src = one()
    local r = random(3)
    if r == 1 then return { src } end
    if r == 2 then return { src .. ":" .. pick(targets()) } end
    return { src, pick(targets()) }
  end
  local v = one()
  if chance(0.05) then v = pick(ODD) end
  return { v }
end

-- The payload: a command that ends at once, with the case's tag as an
-- argument (so a process it leaves is found by its command line), and
-- the exit codes of its own that are allowed.
local function payload(tag)
  local r = random(12)
  if r <= 3 then return { "/bin/true", tag }, {} end
  if r == 4 then return { "/bin/false", tag }, { [1] = true } end
  if r <= 8 then
    local n = random(0, 255)
    return { "/bin/sh", "-c", "exit " .. n, tag }, { [n] = true }
  end
  -- a shell script may fail in the sandbox the options make: sh's 1 and 2
  local SH = { [1] = true, [2] = true }
  if r == 9 then return { "/bin/sh", "-c", "echo out; echo err >&2", tag }, SH end
  return pick { { "/nonexistent/cmd", tag }, { "/", tag }, { "/etc/passwd", tag }, { "true", tag },
                { "/bin/sh", "-c", "kill -TERM $$", tag }, { "", tag }, { "/bin/sh", "-c", "exec 3>&-", tag },
                { "/bin/sh", "-c", "cat /proc/self/status >/dev/null", tag } }, SH
end

--- A command-line case: `nslua run|explain [OPTIONS] [--] CMD`.
-- @treturn table {kind = "cli", args = {...} (after the program), own = set of the payload's codes}
function M.cli_case(tag)
  local args = {}
  local sub = chance(0.15) and "explain" or "run"
  args[1] = sub
  if sub == "explain" and chance(0.5) then args[#args + 1] = "--json" end
  for _ = 1, random(0, 5) do
    local o = pick(runcli.OPTIONS)
    local names = {}
    for w in o[1]:gmatch("%S+") do names[#names + 1] = w end
    local name, n = pick(names), o.n or 1
    if n == 0 then
      args[#args + 1] = chance(0.03) and (name .. "=x") or name
    else
      local vals = option_values(names[1], n)
      if n == 1 and chance(0.15) then
        args[#args + 1] = name .. "=" .. vals[1]
      else
        args[#args + 1] = name
        -- a missing value now and then: the next word is the next option
        local keep = chance(0.05) and #vals - 1 or #vals
        for i = 1, keep do args[#args + 1] = vals[i] end
      end
    end
  end
  if chance(0.05) then args[#args + 1] = pick { "--bogus", "-z", "---", "--=", "-", "--memory=" } end
  local argv, own = payload(tag)
  if not chance(0.05) then
    if chance(0.9) then args[#args + 1] = "--" end
    for _, a in ipairs(argv) do args[#args + 1] = a end
  end
  return { kind = "cli", args = args, own = own }
end

-- Spec values, as Lua source.
local function q(s) return ("%q"):format(s):gsub("\\\n", "\\n") end
local NUM_SRC = { "0", "1", "-1", "0.5", "1e300", "-1e300", "2^63", "2^53", "math.huge", "-math.huge",
                  "0/0", "math.maxinteger", "math.mininteger", "1e-300", "64", "65535", "65536", "4194305",
                  "2147484", "0x7fffffff", "3" }
local function num_src() return pick(NUM_SRC) end
local function str_src(pool) return q(pick(pool)) end
local function junk_src()
  return pick { "true", "false", "{}", "{1}", '"x"', "0", "-1", "1e300", "0/0", "function() end", '""' }
end
local function list_src(items)
  return "{ " .. table.concat(items, ", ") .. " }"
end

local HOOK_SRC = { "function() end", 'function() error("hook raised") end', "function() error({}) end",
                   'function() error(setmetatable({}, { __tostring = function() error("x") end })) end',
                   "function() return 1 end", "5" }

local function limit_src(kind)
  if chance(0.5) then
    local t = number_text(kind)
    -- numbers as numbers, and the rest as strings
    if tonumber(t) and t:match("^[%d.]+$") and chance(0.7) then return t end
    return q(t)
  end
  return num_src()
end

local function mount_src()
  local types = validate.MOUNT_TYPES
  local ty = chance(0.95) and pick(types) or pick { "bogus", "", "BIND" }
  local allowed = validate.FIELDS.mount_types[ty] or validate.FIELDS.mount
  local parts = { "type = " .. q(ty) }
  local ro = chance(0.5)
  for _, f in ipairs(allowed) do
    if f ~= "type" and (f == "target" and chance(0.95) or chance(0.4)) then
      local v
      if f == "source" then
        if ty == "symlink" then v = str_src(chance(0.5) and targets() or ODD)
        elseif ro then v = str_src(ro_sources())
        else v = str_src(rw_sources()) end
      elseif f == "target" then v = str_src(targets())
      elseif f == "ro" then v = chance(0.9) and tostring(ro) or junk_src()
      elseif f == "try" or f == "recursive" then v = pick { "true", "false", '"yes"', "1" }
      elseif f == "size" then v = limit_src("size")
      elseif f == "mode" then v = pick { "493", '"0755"', '"0999"', "-1", "4096", '"x"', "0.5", '"07777"' }
      elseif f == "content" then v = str_src(CONTENT)
      elseif f == "hidepid" then v = pick { "0", "1", "2", '"invisible"', '"noaccess"', '"off"', "3", '"2"' }
      elseif f == "lower" then
        v = chance(0.8) and list_src { str_src(ro_sources()), str_src(ro_sources()) } or junk_src()
      elseif f == "upper" or f == "work" then
        v = str_src { S .. "/d", S .. "/e", S .. "/missing", "tmpfs", "", "relative" }
      else v = junk_src() end
      parts[#parts + 1] = f .. " = " .. v
    end
  end
  if ro and not parts[3] then parts[#parts + 1] = "ro = true" end
  if chance(0.05) then parts[#parts + 1] = pick { "bogus = 1", "[1] = 2", "[true] = 1" } end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local NET_SRC = { '"none"', '"host"', '"bogus"', '""', "{}", "{ bogus = 1 }", "{ veth = 1 }",
                  "{ veth = { bogus = 1 } }", '{ veth = { guest = "x/y" } }', "{ bridge = 1 }",
                  '{ bridge = "a/b" }', '{ bridge = "nslfuzz0", addr = "bad" }', '{ veth = {}, bridge = "x" }',
                  "5" }

-- One spec field's value, as Lua source.
local FIELD = {}
function FIELD.name()
  if chance(0.5) then return q(pick { "fuzz", "x", "a.b-c_d" }) end
  return chance(0.8) and str_src(NAMES) or junk_src()
end
FIELD.hostname = FIELD.name
function FIELD.cwd() return chance(0.9) and str_src(targets()) or junk_src() end
function FIELD.namespaces()
  if chance(0.1) then return pick { '{ bogus = true }', "{ [1] = true }", '"pid"', "{ pid = 1 }" } end
  local parts = {}
  for _, ns in ipairs(validate.NAMESPACES) do
    -- uts = false is never generated: a hostname must never reach the host's uts namespace
    if chance(0.3) then
      parts[#parts + 1] = ns .. " = " .. ((ns == "uts" or chance(0.6)) and "true" or "false")
    end
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
function FIELD.user()
  if chance(0.2) then return '"host"' end
  if chance(0.1) then return pick { '"bogus"', "{ bogus = 1 }", "5" } end
  local parts = {}
  if chance(0.6) then parts[#parts + 1] = "uid = " .. pick { "0", "1000", "65534", "65535", "65536", "-1", "0.5" } end
  if chance(0.6) then parts[#parts + 1] = "gid = " .. pick { "0", "1000", "65534", "65536", '"x"' } end
  if chance(0.4) then parts[#parts + 1] = "map = " .. pick { '"used"', '"all"', '"bogus"', "1" } end
  -- (never an id outside nslua's slots that the fuzzer's runs would use)
  if chance(0.2) then parts[#parts + 1] = "host_uid = " .. pick { "0", "-1", "1073741824", '"x"', "4294967295" } end
  if chance(0.2) then parts[#parts + 1] = "host_gid = " .. pick { "0", "1073741824", "0.5" } end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
function FIELD.rootfs()
  if chance(0.7) then return str_src(ro_sources()) end
  if chance(0.7) then
    return ("{ lower = { %s }, upper = %s }"):format(str_src(ro_sources()),
      str_src { "tmpfs", S .. "/d", S .. "/missing", "" })
  end
  return junk_src()
end
function FIELD.mounts()
  if chance(0.05) then return junk_src() end
  local items = {}
  for _ = 1, random(0, 4) do items[#items + 1] = mount_src() end
  return list_src(items)
end
function FIELD.net() return pick(NET_SRC) end
function FIELD.limits()
  if chance(0.05) then return junk_src() end
  local parts = {}
  for _, k in ipairs(limits.KEYS) do
    if chance(0.25) then parts[#parts + 1] = k .. " = " .. limit_src(limits.LIMITS[k].kind) end
  end
  if chance(0.3) then
    local r = {}
    for _, k in ipairs(limits.RLIMIT_KEYS) do
      if chance(0.3) then
        r[#r + 1] = k .. " = " .. (chance(0.1) and '"unlimited"' or limit_src(limits.RLIMITS[k].kind))
      end
    end
    if chance(0.1) then r[#r + 1] = "bogus = 1" end
    parts[#parts + 1] = "rlimits = { " .. table.concat(r, ", ") .. " }"
  end
  if chance(0.2) then parts[#parts + 1] = "cpu_scope = " .. pick { '"command"', '"container"', '"cmd"' } end
  if chance(0.05) then parts[#parts + 1] = "bogus = 1" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
function FIELD.caps()
  if chance(0.1) then return junk_src() end
  local items = {}
  for _ = 1, random(0, 3) do
    items[#items + 1] = chance(0.9) and q(pick(validate.CAPS)) or str_src(CAPS)
  end
  return list_src(items)
end
function FIELD.seccomp()
  if chance(0.6) then return str_src(seccomp_values()) end
  return pick { '{ default = "allow" }', "{ bogus = 1 }", '{ syscalls = { { name = "bogus" } } }',
                '{ default = "errno", syscalls = { { names = { "read", "write" }, action = "allow" } } }',
                "5", "{}", '{ default = "kill" }', '{ errno = 99999 }' }
end
function FIELD.env()
  if chance(0.1) then return junk_src() end
  local parts = {}
  for _ = 1, random(0, 3) do
    parts[#parts + 1] = ("[%s] = %s"):format(chance(0.8) and q((pick(ENV):match("^[^=]*")))
      or pick { "true", "1", "0.5", "-1", '""', "{}" },
      chance(0.8) and str_src(ODD) or junk_src())
  end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
function FIELD.keep_env()
  local items = {}
  for _ = 1, random(0, 3) do
    items[#items + 1] = chance(0.7) and q(pick { "PATH", "HOME", "TERM", "LANG" })
      or chance(0.7) and q((pick(ENV):match("^[^=]*"))) or junk_src()
  end
  return list_src(items)
end
function FIELD.stdio()
  if chance(0.05) then return junk_src() end
  local parts = {}
  local function fd_or(pool)
    if chance(0.3) then return pick { "0", "1", "2", "-1", "99", "2^40", "0.5", "3" } end
    return str_src(pool)
  end
  if chance(0.5) then parts[#parts + 1] = "stdin = " .. fd_or(in_paths()) end
  if chance(0.5) then parts[#parts + 1] = "stdout = " .. fd_or(out_paths()) end
  if chance(0.5) then parts[#parts + 1] = "stderr = " .. fd_or(out_paths()) end
  if chance(0.2) then parts[#parts + 1] = "fds = " .. pick { "{ 3 }", "{ 1 }", "{ 99 }", "{ 3, 3 }", '"x"' } end
  if chance(0.05) then parts[#parts + 1] = "bogus = 1" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end
function FIELD.tty() return pick { "true", "false", "false", "false", '"yes"' } end
function FIELD.hooks()
  if chance(0.05) then return junk_src() end
  local parts = {}
  for _, h in ipairs(validate.FIELDS.hooks) do
    if chance(0.3) then parts[#parts + 1] = h .. " = " .. pick(HOOK_SRC) end
  end
  if chance(0.05) then parts[#parts + 1] = "bogus = function() end" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function argv_src(argv)
  local items = {}
  for i, a in ipairs(argv) do items[i] = q(a) end
  return list_src(items)
end

--- A spec case: a spec table's source, run through the Lua API
-- (scripts/fuzz/api.lua) or as a recipe file (`nslua FILE.lua`, or
-- `nslua explain FILE.lua`).
-- @treturn table {kind = "api"|"recipe"|"explain", spec = source, recipe = source, own = set}
function M.spec_case(tag)
  local argv, own = payload(tag)
  local parts = {}
  if chance(0.98) then parts[1] = "argv = " .. (chance(0.97) and argv_src(argv) or junk_src()) end
  for _, f in ipairs(validate.FIELDS.spec) do
    if f ~= "argv" and chance(0.25) then
      local gen = FIELD[f]
      parts[#parts + 1] = f .. " = " .. (gen and gen() or junk_src())
    end
  end
  if chance(0.05) then parts[#parts + 1] = pick { "bogus = 1", "[1] = 2", "[true] = 1" } end
  local spec = "{\n  " .. table.concat(parts, ",\n  ") .. "\n}"
  local r = random(10)
  local kind = r <= 5 and "api" or r <= 9 and "recipe" or "explain"
  local recipe = "return " .. spec .. "\n"
  if kind ~= "api" then
    local w = random(20)
    if w == 1 then
      recipe = "return function(...) return " .. spec .. " end\n"
    elseif w == 2 then
      -- a recipe that is no spec: its own exit code (0-255) passes through
      local CODES = { ["0"] = 0, ["3"] = 3, ["255"] = 255, ["true"] = 0, ["false"] = 1 }
      local v = pick { "0", "3", "255", "256", "-1", "1000", "2^40", "0.5", '"x"', "true", "false" }
      recipe = pick { 'error("a recipe that raises")\n', "error({})\n", "local x = nil; return x.y\n",
                      "return " .. v .. "\n", "os.exit(" .. v .. ")\n", "return nil\n" }
      own = {}
      if recipe:match("^return") or recipe:match("^os") then
        if CODES[v] then own[CODES[v]] = true end
      end
      if kind == "explain" and chance(0.5) then kind = "recipe" end
    end
  end
  return { kind = kind, spec = spec, recipe = recipe, own = own }
end

-- Is p a path nslua may write to, or bind read-write: under the scratch
-- directory (a relative path is: nslua runs there), a device file, or a
-- keyword?
local WRITABLE = { ["/dev/null"] = true, ["/dev/full"] = true, ["/dev/zero"] = true, null = true,
                   inherit = true, tmpfs = true, [""] = true }
local function scratch_path(p)
  if type(p) ~= "string" then return true end
  if WRITABLE[p] then return true end
  if ("/" .. p .. "/"):find("/%.%./") then return false end
  if p:sub(1, 1) ~= "/" then return true end
  return p == S or p:sub(1, #S + 1) == S .. "/"
end

-- Why a (merged, not yet validated) spec is unsafe to run, or nil.
local function unsafe_spec(spec)
  if type(spec) ~= "table" then return nil end
  if type(spec.mounts) == "table" then
    for _, m in pairs(spec.mounts) do
      if type(m) == "table" then
        -- (a symlink's source is the link's text)
        if m.type ~= "symlink" and m.ro ~= true and not scratch_path(m.source) then
          return "a read-write mount of " .. tostring(m.source)
        end
        if not scratch_path(m.upper) or not scratch_path(m.work) then return "an overlay upper outside" end
      end
    end
  end
  if type(spec.rootfs) == "table" and (not scratch_path(spec.rootfs.upper) or not scratch_path(spec.rootfs.work)) then
    return "a rootfs upper outside the scratch dir"
  end
  if type(spec.stdio) == "table" and (not scratch_path(spec.stdio.stdout) or not scratch_path(spec.stdio.stderr)) then
    return "an output file outside the scratch dir"
  end
  if type(spec.seccomp) == "string" and (spec.seccomp:find("/", 1, true) or spec.seccomp:match("%.lua$"))
    and not scratch_path(spec.seccomp) then
    return "a seccomp file outside the scratch dir"
  end
  if type(spec.net) == "table" then
    local ok, errs = validate.check(spec)
    local named = false
    for _, e in ipairs(errs or {}) do named = named or e:match("^net") ~= nil end
    if ok or not named then return "a net table that validates (host links)" end
  end
  local ns = type(spec.namespaces) == "table" and spec.namespaces or {}
  if (spec.user == "host" or ns.user == false) and (spec.net == "host" or ns.net == false) then
    return "the host user with the host network"
  end
  if ns.uts == false then return "uts = false" end
  return nil
end

--- Why a case is unsafe to run (nil when it is safe): the CLI's options
-- go through nslua's own parser and merge (what nslua would do), a spec
-- case's table is built from its source.
function M.unsafe(case)
  if case.kind == "cli" then
    local args = { table.unpack(case.args, 2) }
    if case.args[1] == "explain" then
      while args[1] == "--json" do table.remove(args, 1) end
      -- explain runs a recipe named first; the generator never names one
      local a = args[1]
      if a and a ~= "--" and not a:match("^%-") and (climain.is_recipe_path(a) or climain.builtin(a)) then
        if a ~= "/bin/true" and a ~= "/bin/false" and a ~= "/bin/sh" and a ~= "/" and a ~= "/etc/passwd"
          and a ~= "/nonexistent/cmd" then
          return "explain of a recipe " .. a
        end
      end
    end
    args.n = #args
    -- options that read (and --args closes) one of the fuzzer's own fds
    -- when parsed here
    for _, a in ipairs(args) do
      local name = tostring(a):match("^(%-%-[^=]+)") or ""
      if name == "--args" or name:match("%-data$") or name == "--add-seccomp-fd" then
        return "reads an fd of the fuzzer (" .. name .. ")"
      end
    end
    local okp, o = pcall(runcli.parse, args)
    if not okp then return nil end            -- a usage error: nslua stops there
    if not scratch_path(o.report) then return "a report outside the scratch dir" end
    local oks, over, unset = pcall(runcli.options_to_spec, o)
    if not oks then return nil end
    return unsafe_spec(climain.apply(runcli.default_spec(), over, unset))
  end
  local chunk = load("return " .. case.spec, "=spec", "t")
  if not chunk then return nil end
  local ok, spec = pcall(chunk)
  if not ok then return nil end
  return unsafe_spec(spec)
end

return M
