-- mount(2) of a tmpfs for a payload without privileges, emulated by nslua
-- in the payload's mount namespace (seccomp user notification, what LXC's
-- seccomp proxy is for; nslua.handlers.mount_tmpfs, docs/policy.md).
--   nslua mount-tmpfs [DIR ...] -- CMD [ARGS ...]
-- Mounts on a directory under one of the DIRs (default /tmp) succeed,
-- nosuid and nodev, at most 16M; every other mount fails with EPERM.
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
  if not cmd or #cmd == 0 then error("usage: nslua mount-tmpfs [DIR ...] -- CMD [ARGS ...]", 0) end
  local spec = dofile(package.searchpath("nslua.recipes.sandbox", package.path))
  spec.argv = cmd
  spec.seccomp = handlers.mount_tmpfs { targets = #dirs > 0 and dirs or { "/tmp" } }
  return spec
end
