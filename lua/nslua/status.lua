--- nslua.status: the one parser of the status pipe (csrc/status.h writes it).
-- Records, one per line, as the child, the exec tail and the init write them:
--   setup <step> <errno> <message>   the executor failed at <step>
--   marks                            the mounts are in place: the parent marks those the
--                                    set-id guard watches, then writes "m" on the sync pipe
--   pid <n> <t>                      the command's pid (in the sandbox's pid namespace)
--                                    and its clock's start (CLOCK_MONOTONIC, proc.now()'s
--                                    clock: its exec tail, before the filters and execve)
--   exec <step> <errno>[ <detail>]   the exec tail failed (the command never ran)
--   init <step> <errno>              the init could not supervise the command
--   landlock <rule> <errno>          the exec tail skipped Landlock rule <rule>
--   exit <exited|signaled> <code> <utime> <stime> <maxrss_kb> <cutime> <cstime> <xfsz>
--        [<nvcsw> <nivcsw> [<t>]]    the command ended: its wait status and rusage,
--                                    <t> when the init reaped it (as pid's <t>)
-- A line of another shape is kept as `unknown` (never silently dropped).
local M = {}

local function num(s) return s and tonumber(s) end

local parsers = {}

function parsers.pid(rest, r)
  local p, t = rest:match("^(%d+) (%d+%.%d+)$")
  local n = math.tointeger(tonumber(p))
  if not n then return false end
  r.cmd_pid, r.cmd_start = n, tonumber(t)
end

function parsers.exit(rest, r)
  local w = {}
  for f in rest:gmatch("%S+") do w[#w + 1] = f end
  if #w < 8 then return false end
  r.exit = {
    how = w[1], code = math.tointeger(tonumber(w[2])), utime = num(w[3]), stime = num(w[4]),
    maxrss = math.tointeger(tonumber(w[5])), cutime = num(w[6]), cstime = num(w[7]),
    xfsz = w[8] == "1", nvcsw = math.tointeger(num(w[9])), nivcsw = math.tointeger(num(w[10])),
    end_t = num(w[11]),
  }
end

function parsers.exec(rest, r)
  local step, e, detail = rest:match("^(%S+) (%d+) ?(.*)$")
  if not step then return false end
  r.exec = { step = step, errno = tonumber(e), detail = detail ~= "" and detail or nil }
end

function parsers.setup(rest, r)
  local step, e, msg = rest:match("^(%S+) (%d+) ?(.*)$")
  if not step then return false end
  r.setup = { step = step, errno = tonumber(e), msg = msg }
end

function parsers.marks(rest, r)
  if rest ~= "" then return false end
  r.marks = true
end

function parsers.landlock(rest, r)
  local i, e = rest:match("^(%d+) (%d+)$")
  if not i then return false end
  r.landlock_skipped = r.landlock_skipped or {}
  r.landlock_skipped[math.tointeger(tonumber(i))] = math.tointeger(tonumber(e))
end

function parsers.init(rest, r)
  local step, e = rest:match("^(%S+) (%d+)")
  if not step then return false end
  r.init = { step = step, errno = tonumber(e) }
end

--- Parse everything read from the status pipe.
-- @string text the concatenated records
-- @treturn table {cmd_pid, cmd_start, exit = {...}, exec = {...}, setup = {...}, init = {...},
--   marks = true, landlock_skipped = {[rule] = errno}, unknown = {...}}
function M.parse(text)
  local r = {}
  for line in text:gmatch("[^\n]+") do
    local kind, rest = line:match("^(%S+)%s*(.*)$")
    local f = parsers[kind]
    if not f or f(rest, r) == false then
      r.unknown = r.unknown or {}
      r.unknown[#r.unknown + 1] = line
    end
  end
  return r
end

--- The command's pid and start (proc.now()'s clock) once its record has
-- arrived in 'text' (nil before).  (The exec tail's "landlock" records may
-- come first: the set-up child writes "pid" once its CLONE_VFORK child,
-- the command, has exec'd.)
function M.cmd_pid(text)
  local p, t = ("\n" .. text):match("\npid (%d+) (%d+%.%d+)\n")
  return p and math.tointeger(tonumber(p)), tonumber(t)
end

return M
