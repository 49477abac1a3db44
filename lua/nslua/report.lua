--- nslua.report: the report of a run and the CLI's exit code for it.
-- Fields (docs/spec.md "Reports"): status, exit_code, signal, cpu_s, wall_s,
-- start_s, max_rss_kb, memory_peak_kb, oom_kills, error = {step, message, errno},
-- landlock = {abi, enforced, not_enforced} (nslua.landlock.report).
local core = require "nslua.core"
local errno, signum = core.errno, core.proc.signum

local M = {}

--- The signals a report names: SIGKILL ends a run at a limit, SIGXFSZ is
-- the output limit (numbers from core.proc.signum, this architecture's).
M.SIGKILL = signum("KILL")
M.SIGXFSZ = signum("XFSZ")
local SIGKILL, SIGXFSZ = M.SIGKILL, M.SIGXFSZ

--- CLI exit codes (podman's; DESIGN "Reports and exit codes"): the
-- command's own code, EXIT_SIGNAL + N when signal N ended it, and these.
M.EXIT_FAIL = 125          -- nslua failed: bad recipe, bad option, set-up error
M.EXIT_CANNOT_EXEC = 126   -- the command is not executable
M.EXIT_NOT_FOUND = 127     -- the command was not found
M.EXIT_SIGNAL = 128

-- execve's errno -> the exit code of a command that could not start.
local EXEC_EXIT <const> = {
  [errno.ENOENT] = M.EXIT_NOT_FOUND, [errno.ENOTDIR] = M.EXIT_NOT_FOUND,
  [errno.ELOOP] = M.EXIT_NOT_FOUND, [errno.ENAMETOOLONG] = M.EXIT_NOT_FOUND,
  [errno.EACCES] = M.EXIT_CANNOT_EXEC, [errno.ENOEXEC] = M.EXIT_CANNOT_EXEC,
  [errno.EPERM] = M.EXIT_CANNOT_EXEC, [errno.EISDIR] = M.EXIT_CANNOT_EXEC,
}

--- The exit code of a command whose execve failed with errno e: 127 (not
-- found), 126 (cannot execute), or nil (another set-up error: 125).
function M.exec_exit_code(e)
  return EXEC_EXIT[e]
end

M.STATUSES = { "exited", "signaled", "cpu-limit", "wall-limit", "memory-limit",
               "pids-limit", "output-limit", "error" }

-- The messages of the errnos an exec or a set-up step commonly reports.
local STRERROR <const> = {
  [errno.EPERM] = "Operation not permitted", [errno.ENOENT] = "No such file or directory",
  [errno.ENOEXEC] = "Exec format error", [errno.EACCES] = "Permission denied",
  [errno.E2BIG] = "Argument list too long", [errno.ENOMEM] = "Cannot allocate memory",
  [errno.ENOTDIR] = "Not a directory", [errno.EISDIR] = "Is a directory",
  [errno.EINVAL] = "Invalid argument", [errno.ENAMETOOLONG] = "File name too long",
  [errno.ELOOP] = "Too many levels of symbolic links",
}

--- The message of errno e ("errno N" for one not in the table).
local function strerror(e)
  return STRERROR[e] or ("errno " .. tostring(e))
end
M.strerror = strerror

--- Build a report from what the parent gathered.
-- a = {status = parsed status records, reason = "wall-limit"|"cpu-limit"|nil,
--      wall_s, start_s (nil when the command never started),
--      cg = cgroup stats or nil, init = {how, code, ru}, limits,
--      cmd_cpu_s = the command's cpu time last polled (cpu_scope "command"),
--      landlock = plan.exec.landlock}
function M.build(a)
  local st, cg = a.status, a.cg
  local r = { wall_s = a.wall_s, start_s = a.start_s }
  local ex = st.exit
  if st.exec then
    -- the exec tail failed: the command never ran (the init's record of
    -- its child's _exit(1) is not the command's status)
    local e = st.exec
    ex = nil
    r.status = "error"
    r.error = { step = e.step, errno = e.errno, message = ("exec %s: %s"):format(e.step, strerror(e.errno)) }
    -- stdio opened inside: the message names the path
    if e.step == "stdio" and e.detail then
      r.error.message = ("exec stdio: %s: %s"):format(e.detail, strerror(e.errno))
    end
    -- which call of the step (e.g. seccomp_bpf[2], the raw program the kernel refused)
    r.error.detail = e.detail
    if e.step == "execve" then r.exit_code = M.exec_exit_code(e.errno) end
  elseif st.setup then
    local e = st.setup
    r.status = "error"
    r.error = { step = e.step, errno = e.errno, message = e.msg }
  elseif ex then
    r.max_rss_kb = ex.maxrss
    r.csw_voluntary, r.csw_forced = ex.nvcsw, ex.nivcsw
    r.cpu_s = (ex.cutime or 0) + (ex.cstime or 0)
    if ex.how == "signaled" then
      r.status, r.signal = "signaled", ex.code
    else
      r.status, r.exit_code = "exited", ex.code
    end
  elseif st.init then
    -- the init could not supervise the command (it killed it)
    r.status = "error"
    local msg = ("init %s: %s"):format(st.init.step, strerror(st.init.errno))
    if st.init.step == "guard" and st.init.errno == 32 then
      -- (csrc/guard.c: the opens it answers would wait, or pass unwatched)
      msg = "the set-id guard's answerer (nslua-guard) ended before the command: the sandbox was ended"
    end
    r.error = { step = "init", errno = st.init.errno, message = msg }
  elseif a.killed then
    -- nslua itself sent SIGKILL to the init: the init wrote no record
    r.status, r.signal = "signaled", a.killed
  elseif a.init and a.init.how == "signaled" then
    -- killed from outside (kill -9 of the init): the pid namespace took
    -- the command with it, as `podman kill` does (128+N); the error says
    -- the signal went to the init, not to the command
    local sig = a.init.code
    r.status, r.signal = "signaled", sig
    r.error = { step = "init", message = ("the init was killed by signal %d (SIG%s)")
      :format(sig, core.proc.signame(sig) or "?") }
  else
    r.status = "error"
    r.error = { step = "init", message = ("the init ended (%s %s) without a status")
      :format(tostring(a.init and a.init.how), tostring(a.init and a.init.code)) }
  end
  -- limits.cpu_scope "command": the command's rusage (with the children
  -- it and the init reaped), never the cgroup's; the last value polled
  -- when there is no exit record (the init was killed)
  local by_command = a.limits and a.limits.cpu_scope == "command"
  if cg then
    if not by_command then r.cpu_s = cg.cpu_s or r.cpu_s end
    r.memory_peak_kb = cg.memory_peak_kb
    -- OOM kills the memory cgroup counted, whoever they hit (isolate's cg-oom-killed)
    r.oom_kills = cg.oom_kill
  end
  if by_command and r.cpu_s == nil and a.cmd_cpu_s then r.cpu_s = a.cmd_cpu_s end
  -- a.landlock (plan.exec.landlock): which rules the kernel enforces
  if a.landlock then
    r.landlock = require("nslua.landlock").report(a.landlock, st.landlock_skipped, strerror)
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

--- The CLI exit code of a report (podman's convention): the command's
-- own code; EXIT_SIGNAL + N when signal N (a limit's SIGKILL) ended it;
-- 127 or 126 when the command could not start; else EXIT_FAIL.  An error
-- after the command ended (an after_exit hook) is EXIT_FAIL whatever the
-- command's own code was: only a failed execve gives an error report its
-- exit_code.
-- @tparam table r a report (or nslua.exec's result)
-- @treturn integer
function M.exit_code(r)
  local s = r.status
  if s == "exited" then return r.exit_code end
  if s == "signaled" or s == "cpu-limit" or s == "wall-limit" or s == "memory-limit"
    or s == "output-limit" then
    return M.EXIT_SIGNAL + (r.signal or SIGKILL)
  end
  if s == "pids-limit" then
    if r.exit_code then return r.exit_code end
    if r.signal then return M.EXIT_SIGNAL + r.signal end
    return M.EXIT_FAIL
  end
  if r.error and r.error.step ~= "execve" then return M.EXIT_FAIL end
  return r.exit_code or M.EXIT_FAIL
end

--- JSON text of a report (lua-cjson).
function M.json(r)
  local cjson = require "cjson"
  local t = {}
  for k, v in pairs(r) do t[k] = v end
  return cjson.encode(t)
end

return M
