-- Read-only files except an allow-list, enforced by emulating open in Lua
-- (seccomp user notification; nslua.handlers.readonly, docs/policy.md).
--   nslua readonly-files [DIR ...] -- CMD [ARGS ...]
-- The default sandbox, with /tmp a writable tmpfs; the command may write
-- only under the DIRs (default /tmp), and changes nothing elsewhere.
local handlers = require "nslua.handlers"

return function(...)
  local dirs, cmd = handlers.recipe_args({ ... }, "nslua readonly-files [DIR ...] -- CMD [ARGS ...]")
  return handlers.recipe_spec(cmd, handlers.readonly { writable = #dirs > 0 and dirs or { "/tmp" } })
end
