-- Read-only files except an allow-list, enforced by emulating open in Lua
-- (seccomp user notification; nslua.handlers.readonly, docs/policy.md).
--   nslua readonly-files [DIR ...] -- CMD [ARGS ...]
-- The default sandbox, with /tmp a writable tmpfs; the command may write
-- only under the DIRs (default /tmp), and changes nothing elsewhere.
local handlers = require "nslua.handlers"

return function(...)
  local args, dirs, cmd = { ... }, {}, nil
  for i, a in ipairs(args) do
    if a == "--" then
      cmd = { table.unpack(args, i + 1) }
      break
    end
    dirs[#dirs + 1] = a
  end
  if not cmd or #cmd == 0 then error("usage: nslua readonly-files [DIR ...] -- CMD [ARGS ...]", 0) end
  local spec = dofile(package.searchpath("nslua.recipes.sandbox", package.path))
  spec.argv = cmd
  spec.seccomp = handlers.readonly { writable = #dirs > 0 and dirs or { "/tmp" } }
  return spec
end
