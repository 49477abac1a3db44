-- Outbound connections only to listed addresses, enforced by emulating
-- connect in Lua (seccomp user notification; nslua.handlers.connect_only,
-- docs/policy.md).
--   nslua connect-only [--net none|host] ADDR:PORT ... -- CMD [ARGS ...]
-- ADDR:PORT, [ADDR6]:PORT or NET/BITS:PORT (PORT may be *).  The default
-- sandbox on the host's network (--net none: loopback only); TCP sockets
-- only (socketpair too).
local handlers = require "nslua.handlers"

return function(...)
  local words, cmd = handlers.recipe_args({ ... },
    "nslua connect-only [--net none|host] ADDR:PORT ... -- CMD [ARGS ...]")
  local allow, net = {}, "host"
  local i = 1
  while i <= #words do
    if words[i] == "--net" then
      net = words[i + 1]
      if net ~= "none" and net ~= "host" then error("connect-only: --net must be none or host", 0) end
      i = i + 1
    else
      allow[#allow + 1] = words[i]
    end
    i = i + 1
  end
  local ok, profile = pcall(handlers.connect_only, { allow = allow })
  if not ok then error(profile, 0) end
  local spec = handlers.recipe_spec(cmd, profile)
  spec.net = net
  if net == "host" then spec.namespaces.net = false end
  return spec
end
