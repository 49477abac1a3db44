--- nslua: Linux isolation for Lua 5.4.
-- `require "nslua"` gives the core subsystems (nslua.ns, nslua.mount, ...),
-- the Lua helpers and the container API.  Modules load lazily.
local core = require "nslua.core"

local M = { core = core, errno = core.errno, _VERSION = core._VERSION }

for name, sub in pairs(core) do
  if type(sub) == "table" and name ~= "errno" then M[name] = sub end
end

--- Turn a list {"net", "pid"} into a set {net = true, pid = true}.
function M.flagset(list)
  local set = {}
  for i, name in ipairs(list) do
    if type(name) ~= "string" then
      error(("flagset: element %d is not a string"):format(i), 2)
    end
    set[name] = true
  end
  return set
end

--- Create a container from a spec (see nslua.container).
function M.container(spec, opts)
  return require("nslua.container").new(spec, opts)
end

--- A warm pool of sandboxes of one policy (see nslua.pool; opts.warm).
-- @return[1] Pool
-- @return[2] nil, message, errno
function M.pool(spec, opts)
  return require("nslua.pool").new(spec, opts)
end

-- Lua modules are loaded on first use: a CLI run pays only for what it uses.
local lazy = {
  validate = "nslua.validate", policy = "nslua.policy", report = "nslua.report",
  state = "nslua.state", container_mod = "nslua.container",
}
setmetatable(M, {
  __index = function(t, k)
    local mod = lazy[k]
    if mod then
      local v = require(mod)
      rawset(t, k, v)
      return v
    end
  end,
})

return M
