-- scripts/fuzz/fuzz.lua - fuzz nslua's front ends (`make fuzz`).
--
-- Random `nslua run` and `nslua explain` command lines, generated from the
-- CLI's own option tables, and random spec tables (from validate.lua's
-- field list) run through the Lua API, as recipe files and through
-- explain (scripts/fuzz/gen.lua).  Each case runs in a fresh scratch
-- directory; the only outcomes allowed are exit 0, 125, 126, 127, 128+N
-- (or the payload's own exit code), with
--   * no "stack traceback", "internal error" or position in nslua's own
--     sources in the output, and a message with every 125;
--   * no sanitizer report (under `make fuzz` the core is built with ASan
--     and UBSan, and their runtimes are preloaded into lua5.4);
--   * no crash (nslua killed by a signal) and no hang (FUZZ_TIMEOUT);
--   * nothing left behind: state records, cgroups and host links of the
--     ids the case made (logged as the specs log them), mounts under the
--     scratch directory or at a path the case names, processes (the
--     fuzzer is a child subreaper: every orphan comes to it).
-- The first failure stops the run with the case printed and how to run it
-- again.
--
-- Environment: FUZZ_SECONDS (default 60), FUZZ_SEED (default: random,
-- printed), FUZZ_CASE=K (run case K of the seed's sequence alone),
-- FUZZ_TIMEOUT (seconds a case may take, default 60), FUZZ_VERBOSE=1 (each
-- case and its exit code), FUZZ_NSLUA (the command to fuzz, default
-- scripts/nslua; the fuzzer's own spec points it at commands that fail).
-- Run as root from the top of the tree: lua5.4 scripts/fuzz/fuzz.lua
local top = (arg[0]:match("^(.*)/scripts/fuzz/[^/]+$")) or "."
package.path = top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;" .. top .. "/scripts/fuzz/?.lua;" .. package.path
package.cpath = top .. "/build/?.so;" .. package.cpath

local core = require "nslua.core"
local cgroup = require "nslua.cgroup"
local gen = require "gen"

local proc = core.proc

local function env_number(name, default)
  local v = os.getenv(name)
  return v and v ~= "" and assert(tonumber(v), name .. " must be a number") or default
end

local SECONDS = env_number("FUZZ_SECONDS", 60)
local ONLY = env_number("FUZZ_CASE", nil)
local TIMEOUT = env_number("FUZZ_TIMEOUT", 60)
local VERBOSE = (os.getenv("FUZZ_VERBOSE") or "") ~= ""
local SEED = env_number("FUZZ_SEED", nil) or ((os.time() ~ (proc.getpid() << 16)) % 0x7fffffff)
local FAKE = (os.getenv("FUZZ_NSLUA") or "") ~= ""
local NSLUA = FAKE and os.getenv("FUZZ_NSLUA") or (top .. "/scripts/nslua")
if NSLUA:sub(1, 1) ~= "/" then NSLUA = os.getenv("PWD") .. "/" .. NSLUA end
local API = top .. "/scripts/fuzz/api.lua"
if API:sub(1, 1) ~= "/" then API = os.getenv("PWD") .. "/" .. API end

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function sh_lines(cmd)
  local f = assert(io.popen(cmd .. " 2>/dev/null"))
  local t = {}
  for line in f:lines() do t[#t + 1] = line end
  f:close()
  return t
end

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function exists(path)
  local f = io.open(path, "r")
  if f then f:close() end
  return f ~= nil
end

-- The sanitizer runtimes (make fuzz preloads them into this lua5.4): the
-- shell that starts a case runs without them, lua5.4 gets them back.
local preload = os.getenv("LD_PRELOAD") or ""
local SAN_ENV = ""
if preload:match("asan") then
  SAN_ENV = ("LD_PRELOAD=%s ASAN_OPTIONS=%s UBSAN_OPTIONS=%s "):format(q(preload),
    q(os.getenv("ASAN_OPTIONS") or ""), q(os.getenv("UBSAN_OPTIONS") or ""))
end

-- Our working directory: the id log, the case's file, the scratch dir.
local ROOT = sh_lines("mktemp -d /tmp/nslua-fuzz.XXXXXX")[1]
assert(ROOT and ROOT ~= "", "mktemp failed")
local SCRATCH = ROOT .. "/c"
local IDLOG = ROOT .. "/ids"
local CASE_FILE = ROOT .. "/case.lua"
local OUT_FILE = ROOT .. "/out"
assert(io.open(IDLOG, "w")):close()
gen.setup(SCRATCH)

-- Every nslua.state.new_id of a case's lua5.4 appends the id to the log
-- (as spec/helper.lua does for the tests).
local HOOK = ("local l = os.getenv('NSLUA_FUZZ_IDLOG') " .. dofile(top .. "/spec/support/idlog.lua"))
  :gsub("\n%s*", " ")
local CASE_ENV = ("%sLUA_INIT_5_4=%s NSLUA_FUZZ_IDLOG=%s "):format(SAN_ENV, q(HOOK), q(IDLOG))

-- Orphans of a case come to us.
assert(proc.prctl("child_subreaper", true))
local SELF = proc.getpid()

local STATE_ROOTS = { "/run/nslua", ("/tmp/nslua-%d"):format(proc.getuid()) }
local layout = assert(cgroup.detect())

local function mountpoints()
  local set = {}
  for line in (read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if mp then set[(mp:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))] = true end
  end
  return set
end

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

-- The scratch tree, afresh: whatever a case left in it (a symlink made
-- through a read-write bind) never reaches the next case.
local function fresh_scratch()
  for mp in pairs(mountpoints()) do
    if under(mp, SCRATCH) then os.execute("umount -l " .. q(mp) .. " 2>/dev/null") end
  end
  assert(os.execute(("rm -rf --one-file-system %s && mkdir %s"):format(q(SCRATCH), q(SCRATCH))))
  for _, d in ipairs(gen.SCRATCH.dirs) do assert(os.execute("mkdir -p " .. q(SCRATCH .. "/" .. d))) end
  for name, text in pairs(gen.SCRATCH.files) do
    local f = assert(io.open(SCRATCH .. "/" .. name, "w"))
    f:write(text)
    f:close()
  end
end

local function children()
  local t = {}
  for pid in (read(("/proc/%d/task/%d/children"):format(SELF, SELF)) or ""):gmatch("%d+") do
    t[#t + 1] = tonumber(pid)
  end
  return t
end

-- Live orphans (zombies are reaped quietly): their command lines; all of
-- them are killed and reaped.
local function orphans()
  local live = {}
  for _, pid in ipairs(children()) do
    local st = read("/proc/" .. pid .. "/stat") or ""
    if not st:match("^%d+ %b() Z") then
      local cmd = (read("/proc/" .. pid .. "/cmdline") or ""):gsub("%z", " ")
      live[#live + 1] = ("process %d: %s"):format(pid, cmd)
      proc.kill(pid, 9)
    end
    proc.waitpid(pid)
  end
  return live
end

-- The ids a case made: the log's lines after 'offset'.
local function ids_since(offset)
  local f = assert(io.open(IDLOG, "r"))
  f:seek("set", offset)
  local t = {}
  for id in f:lines() do
    if id:match("^[a-z0-9]+$") then t[#t + 1] = id end
  end
  local off = f:seek("end")
  f:close()
  return t, off
end

-- What the case's ids and paths still name.
local function leftovers(ids, paths, before)
  local out = {}
  for _, id in ipairs(ids) do
    for _, r in ipairs(STATE_ROOTS) do
      if exists(r .. "/" .. id) then out[#out + 1] = "state: " .. r .. "/" .. id end
    end
    for _, h in ipairs(layout.hierarchies) do
      local d = h.dir .. (h.dir:sub(-1) == "/" and "" or "/") .. "nslua-" .. id
      if exists(d) then out[#out + 1] = "cgroup: " .. d end
    end
  end
  if #ids > 0 then
    local want = {}
    for _, id in ipairs(ids) do want[id] = true end
    for _, r in ipairs(STATE_ROOTS) do
      for _, name in ipairs(sh_lines("ls -A " .. q(r))) do
        local id = name:match("^%.([a-z0-9]+)%.%d+$")
        if id and want[id] then out[#out + 1] = "state: " .. r .. "/" .. name end
      end
    end
    for _, name in ipairs(sh_lines("ls /sys/class/net")) do
      local id = name:match("^nsl(" .. ("[a-z0-9]"):rep(8) .. ")")
      if id and want[id] then out[#out + 1] = "link: " .. name end
    end
  end
  for mp in pairs(mountpoints()) do
    if not before[mp] then
      local ours = under(mp, SCRATCH) or under(mp, ROOT) or paths[mp]
      for _, id in ipairs(ids) do
        for _, r in ipairs(STATE_ROOTS) do ours = ours or under(mp, r .. "/" .. id) end
      end
      if ours then out[#out + 1] = "mount: " .. mp end
    end
  end
  table.sort(out)
  return out
end

-- Output that is never allowed.
local BAD_OUTPUT = {
  { "stack traceback", "a Lua traceback" },
  { "internal error", "an internal error" },
  { "AddressSanitizer", "an AddressSanitizer report" },
  { "LeakSanitizer", "a LeakSanitizer report" },
  { "UndefinedBehaviorSanitizer", "an UndefinedBehaviorSanitizer report" },
  { "runtime error:", "an UndefinedBehaviorSanitizer report" },
  { "nslua/[%w_/%-]+%.lua:%d+:", "a position in nslua's own sources (an error raised at the wrong level)",
    pattern = true },
  { "scripts/nslua:%d+:", "a position in the launcher", pattern = true },
  { "bad argument #", "a C argument error (a value validation let through)" },
  { "setup.plan:", "a plan the executor refuses (a value validation let through)" },
}

local function allowed(code, own)
  return code == 0 or code == 125 or code == 126 or code == 127 or (code > 128 and code <= 128 + 64)
    or own[code] == true
end

-- The words a case names (targets, sources): a mount that appears at one
-- of them is the case's.
local function case_paths(case)
  local t = {}
  local text = case.spec or table.concat(case.args or {}, "\n")
  for p in text:gmatch('"(/[^"]*)"') do t[p] = true end
  for _, a in ipairs(case.args or {}) do
    for p in (a .. ":"):gmatch("(/[^:]*):") do t[p] = true end
  end
  return t
end

local function command_of(case)
  local words = {}
  if case.kind == "cli" then
    words[1] = q(NSLUA)
    for _, a in ipairs(case.args) do words[#words + 1] = q(a) end
  elseif case.kind == "api" then
    -- (FUZZ_NSLUA: the command under test runs every case)
    words = FAKE and { q(NSLUA), q(CASE_FILE) } or { "lua5.4", q(API), q(CASE_FILE) }
  elseif case.kind == "recipe" then
    words = { q(NSLUA), q(CASE_FILE) }
  else
    words = { q(NSLUA), "explain", q(CASE_FILE) }
  end
  return table.concat(words, " ")
end

-- How to show a case: the command line, and the file it runs.
local function describe(case)
  local s = "  command: " .. command_of(case) .. "\n"
  if case.kind ~= "cli" then
    s = s .. "  " .. CASE_FILE .. ":\n" .. (case.kind == "api" and ("return " .. case.spec) or case.recipe) .. "\n"
  end
  return s .. "  (scratch dir " .. SCRATCH .. ", cwd of the command)\n"
end

local function cleanup()
  for mp in pairs(mountpoints()) do
    if under(mp, ROOT) then os.execute("umount -l " .. q(mp) .. " 2>/dev/null") end
  end
  os.execute("rm -rf --one-file-system " .. q(ROOT))
end

local MAX_COMMAND <const> = 100000

-- Generate case k of the sequence (the next one from the generator):
-- unsafe cases are dropped, deterministically.
local function next_case(k)
  local tag = ("nslua-fuzz-%d-%d"):format(SEED, k)
  while true do
    local case = math.random() < 0.6 and gen.cli_case(tag) or gen.spec_case(tag)
    -- the shell gets the command as one argument: at most MAX_ARG_STRLEN
    -- (128 KiB), or it never runs
    local why = gen.unsafe(case) or (#command_of(case) > MAX_COMMAND and "too long")
    if not why then return case end
  end
end

-- Run one case: nil when it passed, else the reason.  counts[code] += 1.
local idlog_off = 0
local function run_case(case, counts)
  fresh_scratch()
  if case.kind ~= "cli" then
    local f = assert(io.open(CASE_FILE, "w"))
    f:write(case.kind == "api" and ("return " .. case.spec .. "\n") or case.recipe)
    f:close()
  end
  local before = mountpoints()
  -- the output goes to a file: a process the case leaves behind would
  -- hold a pipe open
  local cmd = ("unset LD_PRELOAD; cd %s && exec timeout -s KILL %d env %s%s </dev/null >%s 2>&1"):format(
    q(SCRATCH), TIMEOUT, CASE_ENV, command_of(case), q(OUT_FILE))
  os.remove(OUT_FILE)
  local t0 = proc.now()
  local _, how, code = os.execute(cmd)
  local elapsed = proc.now() - t0
  local out = read(OUT_FILE) or ""
  local ids
  ids, idlog_off = ids_since(idlog_off)
  local why
  if elapsed >= TIMEOUT - 0.5 then
    why = ("no end within %d s (FUZZ_TIMEOUT)"):format(TIMEOUT)
  elseif how == "signal" then
    why = ("nslua died of signal %d"):format(code)
  else
    for _, b in ipairs(BAD_OUTPUT) do
      if out:find(b[1], 1, not b.pattern) then why = b[2] break end
    end
    if not why and not allowed(code, case.own) then
      why = ("exit code %d is not allowed"):format(code)
    elseif not why and code == 125 and not case.own[125] and not out:find("nslua", 1, true) then
      why = "exit 125 without a message"
    end
  end
  local key = (code == 0 or code == 125 or code == 126 or code == 127) and tostring(code)
    or case.own[code] and "own" or code > 128 and code <= 128 + 64 and "128+N" or tostring(code)
  counts[key] = (counts[key] or 0) + 1
  local left = orphans()
  if #left > 0 then
    why = why or "processes left behind"
  end
  local objs = leftovers(ids, case_paths(case), before)
  if #objs > 0 then
    -- a cleanup that is still ending (a cgroup busy for a moment)
    proc.poll({}, 1000)
    objs = leftovers(ids, case_paths(case), before)
    if #objs > 0 then why = why or "objects left behind" end
  end
  for _, o in ipairs(objs) do left[#left + 1] = o end
  if VERBOSE then
    io.stderr:write(("case %s: exit %s %.2fs %s\n  %s\n"):format(case.k, tostring(code), elapsed,
      command_of(case), out:match("[^\n]*")))
  end
  return why, out, code, left
end

math.randomseed(SEED)
local counts, kinds, n = {}, {}, 0
local t_start = proc.now()
local status = 0
io.stdout:write(("fuzz: seed %d, %s, command %s, in %s\n"):format(SEED,
  ONLY and ("case " .. ONLY) or (SECONDS .. " s"), NSLUA, ROOT))
io.stdout:flush()
local k = 0
while true do
  k = k + 1
  local case = next_case(k)
  case.k = k
  if ONLY and k < ONLY then goto continue end
  do
    n = n + 1
    kinds[case.kind] = (kinds[case.kind] or 0) + 1
    local why, out, code, left = run_case(case, counts)
    if why then
      io.stdout:write(("fuzz: FAILED case %d (%s): %s (exit %s)\n"):format(k, case.kind, why, tostring(code)))
      io.stdout:write(describe(case))
      if #left > 0 then io.stdout:write("  left behind:\n    ", table.concat(left, "\n    "), "\n") end
      io.stdout:write("  output:\n", (out:gsub("^", "    "):gsub("\n(.)", "\n    %1")), "\n")
      io.stdout:write(("  again: make fuzz FUZZ_SEED=%d FUZZ_CASE=%d\n"):format(SEED, k))
      -- what a killed nslua left (its owner is dead): gc removes it
      if not FAKE then os.execute(("unset LD_PRELOAD; %s gc >/dev/null 2>&1"):format(q(NSLUA))) end
      status = 1
      break
    end
    if ONLY or proc.now() - t_start >= SECONDS then break end
  end
  ::continue::
end

-- outcomes: 0, 125, 126, 127, 128+N (a signal: a limit, the payload's
-- own kill), own (the payload's own exit code), then anything else seen
local parts, shown = {}, {}
for _, c in ipairs { "0", "125", "126", "127", "128+N", "own" } do
  parts[#parts + 1] = ("%s: %d"):format(c, counts[c] or 0)
  shown[c] = true
end
for c, v in pairs(counts) do
  if not shown[c] then parts[#parts + 1] = ("%s: %d"):format(c, v) end
end
local kparts = {}
for _, kd in ipairs { "cli", "api", "recipe", "explain" } do
  if kinds[kd] then kparts[#kparts + 1] = ("%s %d"):format(kd, kinds[kd]) end
end
io.stdout:write(("fuzz: %d cases (%s) in %.0f s, seed %d; outcomes: %s; %s\n"):format(n,
  table.concat(kparts, ", "), proc.now() - t_start, SEED, table.concat(parts, ", "),
  status == 0 and "no failure" or "FAILED"))
cleanup()
os.exit(status, true)
