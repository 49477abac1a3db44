-- Outbound connections only to listed addresses, enforced by emulating
-- connect in Lua (seccomp user notification; nslua.handlers.connect_only,
-- docs/policy.md).
--   nslua connect-only [--net none|host] ADDR:PORT ... -- CMD [ARGS ...]
-- ADDR:PORT, [ADDR6]:PORT or NET/BITS:PORT (PORT may be *).  The default
-- sandbox on the host's network (--net none: loopback only); TCP sockets
-- only (socketpair too).
local handlers = require "nslua.handlers"

return function(...)
  local args, allow, cmd, net = { ... }, {}, nil, "host"
  local i = 1
  while i <= #args do
    local a = args[i]
    if a == "--" then
      cmd = { table.unpack(args, i + 1) }
      break
    elseif a == "--net" then
      net = args[i + 1]
      if net ~= "none" and net ~= "host" then error("connect-only: --net must be none or host", 0) end
      i = i + 1
    else
      allow[#allow + 1] = a
    end
    i = i + 1
  end
  if not cmd or #cmd == 0 then
    error("usage: nslua connect-only [--net none|host] ADDR:PORT ... -- CMD [ARGS ...]", 0)
  end
  local spec = dofile(package.searchpath("nslua.recipes.sandbox", package.path))
  spec.argv, spec.net = cmd, net
  if net == "host" then spec.namespaces.net = false end
  local ok, profile = pcall(handlers.connect_only, { allow = allow })
  if not ok then error(profile, 0) end
  spec.seccomp = profile
  return spec
end
