--- nslua.cli.exec: `nslua exec [--env K=V] [--cwd DIR] TARGET -- CMD [ARGS...]`,
-- CMD inside a running container (the library is nslua.exec).
local main = require "nslua.cli.main"
local report = require "nslua.report"

local M = {}

local eprintf = main.eprintf

--- The argparse parser of `nslua exec`.
function M.parser()
  local argparse = require "argparse"
  local p = argparse("nslua exec", "Run a command inside a running container.")
  p:argument("target", "The container's id or name (nslua ps).")
  p:argument("command", "The command and its arguments (after --)."):args("*")
  p:option("--env", "Set K=V in the command's environment (added to the container's)."):count("*")
  p:option("--cwd", "Working directory (default: the container's).")
  return p
end

--- main(args) of `nslua exec` -> exit code: the command's, 128+N, 125
-- (no such container, bad option, set-up error), 126, 127.
function M.main(args)
  local okp, o = M.parser():pparse(args or {})
  if not okp then
    eprintf("exec: %s", o)
    return report.EXIT_FAIL
  end
  if #(o.command or {}) == 0 then
    eprintf("exec: missing command (nslua exec TARGET -- CMD [ARGS...])")
    return report.EXIT_FAIL
  end
  local env = {}
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then
      eprintf("exec: --env: '%s' is not K=V", kv)
      return report.EXIT_FAIL
    end
    env[k] = v
  end
  if o.cwd and o.cwd:sub(1, 1) ~= "/" then
    eprintf("exec: --cwd: '%s' is not an absolute path", o.cwd)
    return report.EXIT_FAIL
  end
  local r, err = require("nslua.exec").exec(o.target, o.command,
    { env = next(env) and env or nil, cwd = o.cwd })
  if not r then
    eprintf("%s", err)
    return report.EXIT_FAIL
  end
  if r.status == "error" then
    if r.exit_code == report.EXIT_NOT_FOUND or r.exit_code == report.EXIT_CANNOT_EXEC then
      eprintf("exec: %s: %s", o.command[1], report.strerror(r.error.errno))
    else
      eprintf("exec: set-up failed at %s: %s", tostring(r.error.step), tostring(r.error.message))
    end
  end
  return report.exit_code(r)
end

return M
