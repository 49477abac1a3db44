-- mount(2) of a tmpfs for a payload without privileges, emulated by nslua
-- in the payload's mount namespace (seccomp user notification, what LXC's
-- seccomp proxy is for; nslua.handlers.mount_tmpfs, docs/policy.md).
--   nslua mount-tmpfs [DIR ...] -- CMD [ARGS ...]
-- Mounts on a directory under one of the DIRs (default /tmp) succeed,
-- nosuid and nodev, at most 16M; every other mount fails with EPERM.
local handlers = require "nslua.handlers"

return function(...)
  local dirs, cmd = handlers.recipe_args({ ... }, "nslua mount-tmpfs [DIR ...] -- CMD [ARGS ...]")
  return handlers.recipe_spec(cmd, handlers.mount_tmpfs { targets = #dirs > 0 and dirs or { "/tmp" } })
end
