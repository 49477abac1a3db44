--- nslua.report: the report of a run and the CLI's exit code for it.
-- Fields (README "Reports"): status, exit_code, signal, cpu_s, wall_s,
-- max_rss_kb, memory_peak_kb, error = {step, message, errno}.
local M = {}

local SIGKILL, SIGXFSZ = 9, 25
local ENOENT, EACCES, ENOEXEC, EPERM, EISDIR, ENOTDIR, ELOOP, ENAMETOOLONG =
  2, 13, 8, 1, 21, 20, 40, 36

--- CLI exit codes (podman's; DESIGN "Reports and exit codes"): the
-- command's own code, EXIT_SIGNAL + N when signal N ended it, and these.
M.EXIT_FAIL = 125          -- nslua failed: bad recipe, bad option, set-up error
M.EXIT_CANNOT_EXEC = 126   -- the command is not executable
M.EXIT_NOT_FOUND = 127     -- the command was not found
M.EXIT_SIGNAL = 128

M.STATUSES = { "exited", "signaled", "cpu-limit", "wall-limit", "memory-limit",
               "pids-limit", "output-limit", "error" }

local function strerror(e)
  local names = {
    [1] = "Operation not permitted", [2] = "No such file or directory",
    [8] = "Exec format error", [13] = "Permission denied", [7] = "Argument list too long",
    [12] = "Cannot allocate memory", [20] = "Not a directory", [21] = "Is a directory",
    [22] = "Invalid argument", [36] = "File name too long", [40] = "Too many levels of symbolic links",
  }
  return names[e] or ("errno " .. tostring(e))
end
M.strerror = strerror

--- Build a report from what the parent gathered.
-- a = {status = parsed status records, reason = "wall-limit"|"cpu-limit"|nil,
--      wall_s, cg = cgroup stats or nil, init = {how, code, ru}, limits}
function M.build(a)
  local st, cg = a.status, a.cg
  local r = { wall_s = a.wall_s }
  local ex = st.exit
  if st.exec then
    -- the exec tail failed: the command never ran (the init's record of
    -- its child's _exit(1) is not the command's status)
    local e = st.exec
    ex = nil
    r.status = "error"
    r.error = { step = e.step, errno = e.errno, message = ("exec %s: %s"):format(e.step, strerror(e.errno)) }
    if e.step == "execve" then
      if e.errno == ENOENT or e.errno == ENOTDIR or e.errno == ELOOP or e.errno == ENAMETOOLONG then
        r.exit_code = 127
      elseif e.errno == EACCES or e.errno == ENOEXEC or e.errno == EPERM or e.errno == EISDIR then
        r.exit_code = 126
      end
    end
  elseif st.setup then
    local e = st.setup
    r.status = "error"
    r.error = { step = e.step, errno = e.errno, message = e.msg }
  elseif ex then
    r.max_rss_kb = ex.maxrss
    r.cpu_s = (ex.cutime or 0) + (ex.cstime or 0)
    if ex.how == "signaled" then
      r.status, r.signal = "signaled", ex.code
    else
      r.status, r.exit_code = "exited", ex.code
    end
  elseif a.killed then
    -- nslua itself sent SIGKILL to the init: the init wrote no record
    r.status, r.signal = "signaled", a.killed
  else
    r.status = "error"
    r.error = { step = "init", message = ("the init ended (%s %s) without a status")
      :format(tostring(a.init and a.init.how), tostring(a.init and a.init.code)) }
  end
  if cg then
    r.cpu_s = cg.cpu_s or r.cpu_s
    r.memory_peak_kb = cg.memory_peak_kb
  end
  -- which limit ended the run
  if a.reason then
    r.status, r.signal, r.exit_code, r.error = a.reason, SIGKILL, nil, nil
  elseif cg and (cg.oom_kill or 0) > 0 and (not ex or (ex.how == "signaled" and ex.code == SIGKILL)) then
    r.status, r.signal, r.exit_code, r.error = "memory-limit", SIGKILL, nil, nil
  elseif ex and ((ex.how == "signaled" and ex.code == SIGXFSZ) or ex.xfsz) then
    r.status, r.signal, r.exit_code = "output-limit", SIGXFSZ, nil
  elseif cg and (cg.pids_max_events or 0) > 0 and not (ex and ex.how == "exited" and ex.code == 0) then
    r.status = "pids-limit"
  end
  return r
end

--- The CLI exit code (podman's convention).
function M.exit_code(r)
  local s = r.status
  if s == "exited" then return r.exit_code end
  if s == "signaled" or s == "cpu-limit" or s == "wall-limit" or s == "memory-limit"
    or s == "output-limit" then
    return 128 + (r.signal or SIGKILL)
  end
  if s == "pids-limit" then
    if r.exit_code then return r.exit_code end
    if r.signal then return 128 + r.signal end
    return 125
  end
  return r.exit_code or 125
end

--- JSON text of a report (lua-cjson).
function M.json(r)
  local cjson = require "cjson"
  local t = {}
  for k, v in pairs(r) do t[k] = v end
  return cjson.encode(t)
end

return M
