-- scripts/fuzz/api.lua FILE: run the spec table FILE returns through the
-- Lua API (nslua.container(spec):run()), with the CLI's exit codes: the
-- report's (nslua.report.exit_code), 125 for a spec the API refuses or a
-- run that fails.  The API's contract is what the fuzzer checks: a bad
-- spec raises one "path: message" line per problem; a failed run returns
-- nil, message; nothing else raises (lua5.4 prints the traceback).
local top = (arg[0]:match("^(.*)/scripts/fuzz/[^/]+$")) or "."
package.path = top .. "/lua/?.lua;" .. top .. "/lua/?/init.lua;" .. package.path
package.cpath = top .. "/build/?.so;" .. package.cpath

local nslua = require "nslua"

local chunk = assert(loadfile(arg[1], "t"))
local spec = chunk()

-- A problem line of validate: "path: message", the path a field name
-- ("limits.rlimits.nofile", "bogus") or an index ("[1]", '["a b"]').
local function names_a_field(line)
  return line:match("^[%a_][%w_]*[^:]*: .") ~= nil or line:match("^%[[^:]*: .") ~= nil
end

local ok, c = pcall(nslua.container, spec)
if not ok then
  local msg = type(c) == "string" and c or ("(a %s)"):format(type(c))
  io.stderr:write("nslua: ", msg, "\n")
  for line in msg:gmatch("[^\n]+") do
    if not names_a_field(line) then
      io.stderr:write("internal error: a spec error that names no field: ", line, "\n")
      os.exit(70, true)
    end
  end
  os.exit(125, true)
end
local rep, err = c:run()
if not rep then
  io.stderr:write("nslua: ", tostring(err), "\n")
  os.exit(125, true)
end
if rep.error then
  io.stderr:write(("nslua: %s: %s\n"):format(tostring(rep.error.step), tostring(rep.error.message)))
end
os.exit(nslua.report.exit_code(rep), true)
