--- nslua.cli.gc: `nslua gc`, remove what dead nslua processes left behind:
-- state records whose owner is gone (and their cgroups and links, members
-- killed first), then nslua-<id> cgroups no record names that are already
-- empty (never their members) and nsl<id> links no live record names.
local main = require "nslua.cli.main"

local M = {}

--- main(args) of `nslua gc` -> exit code.
function M.main(args)
  local a = args[1]
  if a == "--help" or a == "-h" then
    print("Usage: nslua gc\n\nRemove the state, cgroups and links of nslua processes that are gone.")
    return 0
  elseif a ~= nil then
    main.usage_error(("gc: unknown argument '%s' (usage: nslua gc)"):format(a))
  end
  local container = require "nslua.container"
  local state = require "nslua.state"
  for _, id in ipairs(container.sweep()) do print("removed " .. id) end
  -- what remains without a live owner: cgroups and links of ids with no record
  local root = state.root()
  local live = {}
  for _, rec in ipairs(root and state.list(root) or {}) do
    if rec.alive then live[rec.id] = true end
  end
  -- no record names them: never kill, only remove groups already empty
  -- (a live container's record may be in another mount namespace's /run)
  for _, dir in ipairs(require("nslua.cgroup").sweep(function(id) return not live[id] end, nil,
                                                     { empty_only = true }) or {}) do
    print("removed cgroup " .. dir)
  end
  for _, name in ipairs(require("nslua.net").gc(function(id) return live[id] end) or {}) do
    print("removed link " .. name)
  end
  return 0
end

return M
