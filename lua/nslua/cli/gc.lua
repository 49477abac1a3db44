--- nslua.cli.gc: `nslua gc`, remove what dead nslua processes left behind:
-- the state records whose lock it can take (their owner and init are gone)
-- and what each names: its cgroups (members killed first), links and bridge.
-- nslua oci's stopped containers (under its default root) go too, as a
-- `delete` would remove them.  Nothing that no such record names is touched: a cgroup or link without a
-- record here may be a starting run's, or a run's whose record is in another
-- mount namespace's /run (DESIGN "State").
local main = require "nslua.cli.main"

local M = {}

--- `nslua gc` takes no options (docs/cli.md, nslua.cli.doc, reads these).
M.OPTIONS = {}
M.USAGE = "nslua gc"
M.DESCRIPTION = "Remove the state, cgroups and links of nslua processes that are gone."

--- main(args) of `nslua gc` -> exit code.
function M.main(args)
  local a = args[1]
  if a == "--help" or a == "-h" then
    print("Usage: " .. M.USAGE .. "\n\n" .. M.DESCRIPTION)
    return 0
  elseif a ~= nil then
    main.usage_error(("gc: unknown argument '%s' (usage: nslua gc)"):format(a))
  end
  -- a run killed a moment ago: its child dies with it, then frees the lock
  local removed, kept = require("nslua.container").sweep(nil, { wait = 2 })
  -- nslua oci's containers: a stopped one whose engine never deleted it
  -- (its record is detached: no start's sweep touches it) goes too
  local root = require("nslua.state").root()
  local oci_root = root and require("nslua.cli.ps").oci_root(root)
  if oci_root then
    local r2, k2 = require("nslua.cli.oci").gc(oci_root)
    for _, id in ipairs(r2) do removed[#removed + 1] = id end
    for _, msg in ipairs(k2) do kept[#kept + 1] = msg end
  end
  for _, id in ipairs(removed) do print("removed " .. id) end
  for _, msg in ipairs(kept) do io.stderr:write("nslua gc: kept ", msg, "\n") end
  return #kept == 0 and 0 or 125
end

return M
