--- nslua.net: network plans.
-- A plan is built (and validated) before anything is created; then
-- host_setup runs in the caller's netns (the "host"), guest_setup inside the
-- child's netns, and host_cleanup removes exactly what host_setup made.
--
--   net = nil | "none"   own netns, lo up
--   net = "host"         share the caller's netns
--   net = { veth = { host = NAME, guest = "eth0", host_addr = CIDR,
--                    guest_addr = CIDR, host_addr6 = CIDR, guest_addr6 = CIDR,
--                    route = "default" | false, isolate_host = false,
--                    nat = false, publish = { "[IP:]HOSTPORT:GUESTPORT[/tcp|/udp]", ... } } }
--   (a veth sandbox reaches the host's own addresses and its broadcast and
--   multicast listeners, unless isolate_host = true: then host_setup first
--   makes the nftables table inet nslua-<id> whose input hook drops what
--   arrives on the host end, ICMPv6 neighbour discovery excepted)
--   net = { bridge = NAME, addr = CIDR | { CIDR, CIDR6 }, gateway = IP | { IP, IP6 },
--           host = NAME, guest = "eth0", nat = false, publish = {...} }
--   (a gateway is also the address of a bridge nslua owns, with the prefix
--   of the container's address of that family; without one, the first
--   address of that prefix is the gateway)
--   (nat and publish: masquerade and DNAT rules in the table inet
--   nslua-<id>, and forwarding enabled in the host netns while a plan
--   that needs it lives: see M.nat_rules and M.forward_acquire)
--   net = "pasta" | { pasta = true, publish = { "[IP:]HOSTPORT:GUESTPORT[/tcp|/udp]", ... } }
--   (rootless: passt's pasta, started by the parent: nslua.pasta)
--
-- Host links are named nsl<id><suffix> and carry the alias "nslua"; a
-- bridge nslua creates carries it too, and the last container using it
-- removes it.  nslua enables forwarding only for a plan with nat or
-- publish (and restores it after the last one), and changes no nftables
-- table but its own nslua-<id>.
local core = require "nslua.core"
local state = require "nslua.state"

local nl, mount, proc, nft = core.netlink, core.mount, core.proc, core.nft
local errno = core.errno

local M = {}

--- Alias that marks links nslua owns (IFLA_IFALIAS).
M.OWNER = "nslua"
--- Directory of the bridge lock files.
M.LOCK_DIR = state.ROOT

local POOL4 <const> = { 10, 231 }           -- 10.231.0.0/16
local BLOCKS4 <const> = 16384               -- /30 blocks in the pool
local PROBES <const> = 64
local LOCK_FILES <const> = 1024             -- veth4/<n % 1024>.lock
local RT_TABLE_LOCAL <const> = 255

local ROOTLESS <const> =
  "veth and bridge networking need CAP_NET_ADMIN in the host network namespace (rootless)"

-- A bad spec: raised as a table deep inside the planner, re-raised by
-- M.plan as error("net: ...", 2) so the message blames plan's caller.
local BadSpec = {}
local function bad(fmt, ...)
  error(setmetatable({ msg = "net: " .. fmt:format(...) }, BadSpec), 0)
end

-- Addresses ----------------------------------------------------------------

-- "a.b.c.d" -> { a, b, c, d } | nil
local function parse4(s)
  local a, b, c, d = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)$")
  if not a then return nil end
  local t = { tonumber(a), tonumber(b), tonumber(c), tonumber(d) }
  for _, v in ipairs(t) do
    if v > 255 then return nil end
  end
  return t
end

-- "fd00::1" -> 16 bytes | nil  (no embedded IPv4 form)
local function parse6(s)
  if not s:match("^[%x:]+$") or s:find(":::", 1, true) then return nil end
  local head, tail = s:match("^(.-)::(.*)$")
  local function groups(part)
    local g = {}
    if part == "" then return g end
    for x in (part .. ":"):gmatch("([^:]*):") do
      if not x:match("^%x%x?%x?%x?$") then return nil end
      g[#g + 1] = tonumber(x, 16)
    end
    return g
  end
  local words
  if head then
    local h, t = groups(head), groups(tail)
    if not h or not t or #h + #t > 7 then return nil end
    words = h
    for _ = 1, 8 - #h - #t do words[#words + 1] = 0 end
    for _, w in ipairs(t) do words[#words + 1] = w end
  else
    words = groups(s)
    if not words or #words ~= 8 then return nil end
  end
  local bytes = {}
  for _, w in ipairs(words) do
    bytes[#bytes + 1] = w >> 8
    bytes[#bytes + 1] = w & 0xff
  end
  return bytes
end

-- "10.0.0.1/24" -> { family, bytes, prefix, addr, cidr } | nil
local function parse_cidr(s, need_prefix)
  if type(s) ~= "string" then return nil end
  local host, prefix = s:match("^([^/]+)/(%d+)$")
  if not host then
    if need_prefix or s:find("/", 1, true) then return nil end
    host = s
  end
  local family, bytes = "inet", parse4(host)
  if not bytes then family, bytes = "inet6", parse6(host) end
  if not bytes then return nil end
  local max = family == "inet" and 32 or 128
  prefix = tonumber(prefix)
  if prefix and prefix > max then return nil end
  return { family = family, bytes = bytes, prefix = prefix or max, addr = host, cidr = s }
end

-- Do two prefixes share any address?
local function overlaps(a, alen, b, blen)
  local n = math.min(alen, blen)
  for i = 1, #a do
    local bits = n - (i - 1) * 8
    if bits <= 0 then return true end
    local mask = bits >= 8 and 0xff or (0xff << (8 - bits)) & 0xff
    if (a[i] & mask) ~= (b[i] & mask) then return false end
  end
  return true
end

-- The bytes of 'c' with the bits past its prefix cleared.
local function network_bytes(c)
  local b = {}
  for i = 1, #c.bytes do
    local bits = c.prefix - (i - 1) * 8
    local mask = bits >= 8 and 0xff or bits <= 0 and 0 or (0xff << (8 - bits)) & 0xff
    b[i] = c.bytes[i] & mask
  end
  return b
end

-- Bytes as an address, IPv6 the way the kernel prints it (RFC 5952).
local function format_addr(b)
  if #b == 4 then return ("%d.%d.%d.%d"):format(b[1], b[2], b[3], b[4]) end
  local w = {}
  for i = 1, 16, 2 do w[#w + 1] = (b[i] << 8) | b[i + 1] end
  -- the longest run of two or more zero groups becomes "::"
  local best, blen, i = nil, 1, 1
  while i <= 8 do
    if w[i] == 0 then
      local j = i
      while j < 8 and w[j + 1] == 0 do j = j + 1 end
      if j - i + 1 > blen then best, blen = i, j - i + 1 end
      i = j + 1
    else
      i = i + 1
    end
  end
  local function hex(from, to)
    local t = {}
    for k = from, to do t[#t + 1] = ("%x"):format(w[k]) end
    return table.concat(t, ":")
  end
  if not best then return hex(1, 8) end
  return hex(1, best - 1) .. "::" .. hex(best + blen, 8)
end

-- "10.231.0.0/30" for the prefix of 'c'.
local function prefix_of(c)
  return ("%s/%d"):format(format_addr(network_bytes(c)), c.prefix)
end

-- The first address of the prefix of 'c' (the network address plus one),
-- or nil when the prefix has no room for a gateway besides 'c'.
local function first_addr(c)
  local max = #c.bytes * 8
  if c.prefix > max - 2 then return nil end
  local b = network_bytes(c)
  b[#b] = b[#b] + 1   -- the last byte of a prefix of /30 or shorter is even
  return format_addr(b)
end

-- 32-bit FNV-1a of a string with a salt.
local function hash(s, salt)
  local h = 2166136261
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  h = ((h ~ (salt or 0)) * 16777619) & 0xffffffff
  return h
end

local function block4(n)
  local base = n * 4
  local c, d = base >> 8, base & 0xff
  local pre = ("%d.%d.%d."):format(POOL4[1], POOL4[2], c)
  return pre .. (d + 1) .. "/30", pre .. (d + 2) .. "/30"
end

-- fdXX:XXXX:XXXX::/48 from the id; ::1 and ::2 of its first /64.
local function block6(id, salt)
  local a, b = hash(id, 1000 + salt), hash(id, 2000 + salt)
  -- written the way the kernel prints addresses (RFC 5952: no leading
  -- zeros, no zero group), so plans compare equal to what netlink lists
  local g1, g2 = (a >> 8) & 0xffff, b & 0xffff
  local pre = ("fd%02x:%x:%x::"):format(a & 0xff, g1 == 0 and 1 or g1, g2 == 0 and 1 or g2)
  return pre .. "1/64", pre .. "2/64"
end

-- Host routes ---------------------------------------------------------------

-- Routes that claim address space in the host netns: everything with a
-- destination prefix except multicast/broadcast bookkeeping and link-local.
local function host_routes()
  local routes, err = nl.routes()
  if not routes then bad("reading host routes: %s", err) end
  local out = {}
  for _, r in ipairs(routes) do
    if r.dst ~= "default" and r.type ~= "multicast" and r.type ~= "broadcast"
        and not r.dst:match("^fe80:") and not r.dst:match("^ff") then
      local p = parse_cidr(r.dst, true)
      if p then
        p.dev, p.table = r.dev, r.table
        out[#out + 1] = p
      end
    end
  end
  return out
end

-- The first host route overlapping 'c', or nil.  'except_dev' is ignored
-- (a bridge's own subnet is where a bridge plan's address belongs).
local function conflict(c, routes, except_dev)
  for _, r in ipairs(routes) do
    if r.family == c.family and (except_dev == nil or r.dev ~= except_dev)
        and overlaps(c.bytes, c.prefix, r.bytes, r.prefix) then
      return r
    end
  end
end

local function describe_route(r)
  return r.cidr .. (r.dev and (" dev " .. r.dev) or "")
    .. (r.table == RT_TABLE_LOCAL and " (local)" or "")
end

-- Published ports and NAT -------------------------------------------------

local function port(s)
  local n = tonumber(s)
  if not n or n < 1 or n > 65535 or s:match("^0") then return nil end
  return math.tointeger(n)
end

--- Parse a published port: "HOSTPORT:GUESTPORT", "IP:HOSTPORT:GUESTPORT"
-- or "[IP6]:HOSTPORT:GUESTPORT", each with an optional "/tcp" (the
-- default) or "/udp".
-- @string s the text
-- @treturn[1] table { host_ip = string|nil, host_port = int, guest_port = int, proto = "tcp"|"udp" }
-- @return[2] nil, message (what is wrong, without the field's name)
function M.parse_publish(s)
  if type(s) ~= "string" then return nil, "must be a string" end
  local body, proto = s:match("^(.-)/([^/]*)$")
  if not body then body, proto = s, "tcp" end
  if proto ~= "tcp" and proto ~= "udp" then
    return nil, ("the protocol must be tcp or udp (got %s)"):format(s)
  end
  local ip, hp, gp
  local v6, rest = body:match("^%[([^%]]*)%]:(.*)$")
  if v6 then
    ip, hp, gp = v6, rest:match("^(%d+):(%d+)$")
  else
    hp, gp = body:match("^(%d+):(%d+)$")
    if not hp then ip, hp, gp = body:match("^([^:%[%]]+):(%d+):(%d+)$") end
  end
  if not hp then
    return nil, ("must be [IP:]HOSTPORT:GUESTPORT[/tcp|/udp], an IPv6 address in brackets (got %s)")
      :format(s)
  end
  if ip then
    local c = parse_cidr(ip, false)
    if not c or ip:find("/", 1, true) or (c.family == "inet6") ~= (v6 ~= nil) then
      return nil, ("%s is not an IP address (got %s)"):format(ip, s)
    end
  end
  local h, g = port(hp), port(gp)
  if not h or not g then return nil, ("ports must be 1..65535 (got %s)"):format(s) end
  return { host_ip = ip, host_port = h, guest_port = g, proto = proto }
end

-- nat and publish of a veth ('field' "veth") or bridge ("net") plan whose
-- guest addresses and routes are planned: the table, the prefixes to
-- masquerade, the DNAT targets and the forwarding it needs.  'dev' is the
-- sandbox's own interface on the host (the veth's host end, or the bridge).
local function plan_nat(src, plan, field, dev, id)
  if src.nat ~= nil and type(src.nat) ~= "boolean" then bad("%s.nat must be a boolean", field) end
  local list, seen = {}, {}
  if src.publish ~= nil then
    local t = src.publish
    if type(t) == "string" then t = { t } end
    if type(t) ~= "table" then bad("%s.publish must be a list of strings", field) end
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    if n ~= #t then bad("%s.publish must be a list of strings", field) end
    for i, x in ipairs(t) do
      local p, msg = M.parse_publish(x)
      if not p then bad("%s.publish[%d]: %s", field, i, msg) end
      local key = ("%s %s %d"):format(p.proto, p.host_ip or "*", p.host_port)
      if seen[key] then bad("%s.publish[%d]: %s port %d is published twice", field, i, p.proto, p.host_port) end
      seen[key] = true
      list[#list + 1] = p
    end
  end
  if not src.nat and #list == 0 then return end
  local what = src.nat and field .. ".nat" or field .. ".publish"
  -- names go into nft commands between double quotes
  if not dev:match("^[%w%.%-_]+$") then
    bad("%s needs an interface name of [A-Za-z0-9._-] (got %s)", what, dev)
  end
  if #plan.guest_addrs == 0 then bad("%s needs an address (%s.addr)", what, field) end
  local routed = {}
  for _, r in ipairs(plan.routes) do routed[r.family] = true end
  plan.nat_prefixes, plan.guest_ips, plan.forward = {}, {}, {}
  for _, g in ipairs(plan.guest_addrs) do
    local c = parse_cidr(g, true)
    if not routed[c.family] then
      if field == "veth" then bad("%s needs veth.route = \"default\"", what) end
      bad("%s needs a gateway for %s (net.gateway)", what, g)
    end
    plan.nat_prefixes[#plan.nat_prefixes + 1] = { family = c.family, prefix = prefix_of(c) }
    plan.guest_ips[c.family] = c.addr
    plan.forward[c.family] = true
  end
  for i, p in ipairs(list) do
    if p.host_ip then
      local c = parse_cidr(p.host_ip, false)
      if not plan.guest_ips[c.family] then
        bad("%s.publish[%d]: the sandbox has no %s address", field, i, c.family == "inet" and "IPv4" or "IPv6")
      end
      if p.host_ip:match("^127%.") or format_addr(c.bytes) == "::1" then
        bad("%s.publish[%d]: %s is a loopback address (publish on another address of the host)",
          field, i, p.host_ip)
      end
    end
  end
  plan.nat = src.nat or nil
  plan.publish = #list > 0 and list or nil
  plan.nat_dev = dev
  plan.nft = M.table_name(id)
end

-- Validation ----------------------------------------------------------------

local function check_ifname(name, field)
  if type(name) ~= "string" or #name < 1 or #name > 15 or name == "." or name == ".."
      or name:find("[/:%s%z]") then
    bad("%s must be an interface name of 1..15 bytes without '/', ':' or blanks (got %s)",
      field, tostring(name))
  end
  return name
end

local function check_cidr(s, field, family)
  local c = parse_cidr(s, true)
  if not c then
    bad("%s must be an address with a /prefix (got %s)", field, tostring(s))
  end
  if family and c.family ~= family then
    bad("%s must be an %s address (got %s)", field,
      family == "inet" and "IPv4" or "IPv6", s)
  end
  return c
end

local function check_fields(t, path, allowed)
  for k in pairs(t) do
    if not allowed[k] then
      bad("unknown field '%s.%s'", path, tostring(k))
    end
  end
end

local function same_subnet(a, b)
  return a.family == b.family and a.prefix == b.prefix
    and overlaps(a.bytes, a.prefix, b.bytes, b.prefix)
end

local function refuse(field, c, r, default)
  bad("%s %s%s overlaps the host route %s; choose another prefix",
    field, c.cidr, default and " (default)" or "", describe_route(r))
end

-- The lock of default /30 block n, taken without blocking: an fd box, or
-- nil while another run holds it.  A run holds the lock of its block from
-- its plan until its host link is gone (the init inherits it), so two
-- concurrent plans never pick one block: the host route that tells a
-- later plan the block is taken appears only at host_setup.  Blocks share
-- LOCK_FILES files (n modulo LOCK_FILES): a block whose file another run
-- holds is probed past like a taken one.
local function lock_block(n)
  local dir = M.LOCK_DIR .. "/veth4"
  local ok, err, code = mount.mkdir(dir, 493, true)
  if not ok and code ~= errno.EEXIST then error("net: " .. err, 0) end
  local path = ("%s/%d.lock"):format(dir, n % LOCK_FILES)
  local fd
  fd, err = proc.open(path, { wronly = true, creat = true }, 384)
  if not fd then error("net: " .. err, 0) end
  if proc.flock(fd, "ex", true) then return fd end
  fd:close()
end

-- Pick default veth addresses: a /30 of 10.231.0.0/16 and a ::/64 of an
-- fdXX::/48, both from the id, probing onward past host routes.  With
-- 'locks' (a list), a /30 is taken only with its lock (lock_block), which
-- is appended to the list; blocks other runs hold are probed past too.
local function default_pairs(id, routes, locks)
  local start = hash(id, 0) % BLOCKS4
  local h4, g4, first4, hit4, held
  for i = 0, PROBES - 1 do
    local n = (start + i) % BLOCKS4
    h4, g4 = block4(n)
    local c = parse_cidr(h4, true)
    c.prefix = 30
    hit4 = conflict(c, routes)
    if not hit4 and locks then
      local lock = lock_block(n)
      if lock then
        locks[#locks + 1] = lock
      else
        hit4, held = true, (held or 0) + 1
      end
    end
    if not hit4 then break end
    if hit4 ~= true then first4 = first4 or { c = c, r = hit4 } end
  end
  if hit4 and not first4 then
    bad("veth.host_addr: the %d default /30 blocks probed from %s are all in use by other runs",
      PROBES, h4)
  end
  if hit4 then refuse("veth.host_addr", first4.c, first4.r, true) end
  local h6, g6, first6, hit6
  for salt = 0, PROBES - 1 do
    h6, g6 = block6(id, salt)
    local c = parse_cidr(h6, true)
    hit6 = conflict(c, routes)
    if not hit6 then break end
    first6 = first6 or { c = c, r = hit6 }
  end
  if hit6 then refuse("veth.host_addr6", first6.c, first6.r, true) end
  return h4, g4, h6, g6
end

local VETH_FIELDS <const> = {
  host = true, guest = true, host_addr = true, guest_addr = true,
  host_addr6 = true, guest_addr6 = true, route = true, isolate_host = true,
  nat = true, publish = true,
}
local BRIDGE_FIELDS <const> = {
  bridge = true, addr = true, gateway = true, host = true, guest = true,
  nat = true, publish = true,
}

local function plan_veth(v, id, plan, locks)
  if type(v) ~= "table" then bad("field 'net.veth' must be a table") end
  check_fields(v, "net.veth", VETH_FIELDS)
  plan.mode = "veth"
  plan.host_if = check_ifname(v.host or ("nsl" .. id .. "h"), "veth.host")
  plan.guest_if = check_ifname(v.guest or "eth0", "veth.guest")
  if v.route ~= nil and v.route ~= "default" and v.route ~= false then
    bad("veth.route must be \"default\" or false")
  end
  plan.route = v.route == nil and "default" or v.route
  if v.isolate_host ~= nil and type(v.isolate_host) ~= "boolean" then
    bad("veth.isolate_host must be a boolean")
  end
  if v.isolate_host then
    -- the name goes into an nft command between double quotes
    if not plan.host_if:match("^[%w%.%-_]+$") then
      bad("veth.host must be [A-Za-z0-9._-] with isolate_host (got %s)", plan.host_if)
    end
    plan.nft, plan.isolate = M.table_name(id), true
  end
  for _, pair in ipairs { { "host_addr", "guest_addr" }, { "host_addr6", "guest_addr6" } } do
    if (v[pair[1]] == nil) ~= (v[pair[2]] == nil) then
      bad("veth.%s and veth.%s go together", pair[1], pair[2])
    end
  end
  local given = {}
  if v.host_addr then
    local h = check_cidr(v.host_addr, "veth.host_addr")
    local g = check_cidr(v.guest_addr, "veth.guest_addr", h.family)
    if not same_subnet(h, g) then
      bad("veth.guest_addr %s is not in the subnet of veth.host_addr %s", g.cidr, h.cidr)
    end
    given[#given + 1] = { "veth.host_addr", h, g }
  end
  if v.host_addr6 then
    local h = check_cidr(v.host_addr6, "veth.host_addr6", "inet6")
    local g = check_cidr(v.guest_addr6, "veth.guest_addr6", "inet6")
    if not same_subnet(h, g) then
      bad("veth.guest_addr6 %s is not in the subnet of veth.host_addr6 %s", g.cidr, h.cidr)
    end
    given[#given + 1] = { "veth.host_addr6", h, g }
  end
  local routes = host_routes()
  if #given == 0 then
    local h4, g4, h6, g6 = default_pairs(id, routes, locks)
    plan.host_addrs, plan.guest_addrs = { h4, h6 }, { g4, g6 }
  else
    plan.host_addrs, plan.guest_addrs = {}, {}
    for _, p in ipairs(given) do
      local r = conflict(p[2], routes)
      if r then refuse(p[1], p[2], r) end
      plan.host_addrs[#plan.host_addrs + 1] = p[2].cidr
      plan.guest_addrs[#plan.guest_addrs + 1] = p[3].cidr
    end
  end
  plan.routes = {}
  if plan.route == "default" then
    for _, h in ipairs(plan.host_addrs) do
      local c = parse_cidr(h, true)
      plan.routes[#plan.routes + 1] = { dst = "default", gateway = c.addr, dev = plan.guest_if,
                                        family = c.family }
    end
  end
  plan_nat(v, plan, "veth", plan.host_if, id)
end

-- A field that takes one value or a list of them (at most one per family).
local function one_or_list(v)
  if type(v) == "table" then return v end
  return { v }
end

local function plan_bridge(b, id, plan)
  check_fields(b, "net", BRIDGE_FIELDS)
  plan.mode = "bridge"
  plan.bridge = check_ifname(b.bridge, "net.bridge")
  plan.host_if = check_ifname(b.host or ("nsl" .. id .. "b"), "net.host")
  plan.guest_if = check_ifname(b.guest or "eth0", "net.guest")
  plan.host_addrs, plan.guest_addrs, plan.routes, plan.bridge_addrs = {}, {}, {}, {}
  local addrs = {}
  if b.addr ~= nil then
    for _, a in ipairs(one_or_list(b.addr)) do
      local c = check_cidr(a, "net.addr")
      if addrs[c.family] then bad("net.addr takes at most one address per family") end
      addrs[c.family] = c
      plan.guest_addrs[#plan.guest_addrs + 1] = c.cidr
    end
  end
  if b.gateway ~= nil then
    local seen = {}
    for _, g in ipairs(one_or_list(b.gateway)) do
      local gw = parse_cidr(g, false)
      if not gw or g:find("/", 1, true) then
        bad("net.gateway must be an address without /prefix (got %s)", tostring(g))
      end
      if seen[gw.family] then bad("net.gateway takes at most one address per family") end
      seen[gw.family] = true
      local a = addrs[gw.family]
      if next(addrs) and not a then
        bad("net.gateway and net.addr must be of one family")
      end
      plan.routes[#plan.routes + 1] = { dst = "default", gateway = gw.addr, dev = plan.guest_if,
                                        family = gw.family }
      -- the gateway is the bridge's own address: nslua puts it on a bridge
      -- it owns, with the prefix of the container's address
      if a then
        plan.bridge_addrs[#plan.bridge_addrs + 1] = ("%s/%d"):format(gw.addr, a.prefix)
      end
    end
  end
  -- no gateway for a family: the first address of the container's prefix
  -- (unless that is the container's own address, or the prefix is a /31)
  local gw_of = {}
  for _, r in ipairs(plan.routes) do gw_of[r.family] = true end
  for _, a in ipairs(plan.guest_addrs) do
    local c = parse_cidr(a, true)
    local first = not gw_of[c.family] and first_addr(c)
    if first and first ~= format_addr(c.bytes) then
      plan.routes[#plan.routes + 1] = { dst = "default", gateway = first, dev = plan.guest_if,
                                        family = c.family }
      plan.bridge_addrs[#plan.bridge_addrs + 1] = ("%s/%d"):format(first, c.prefix)
    end
  end
  local routes
  for _, a in pairs(addrs) do
    routes = routes or host_routes()
    local r = conflict(a, routes, plan.bridge)
    if r then refuse("net.addr", a, r) end
  end
  plan_nat(b, plan, "net", plan.bridge, id)
end

-- net = "pasta" | { pasta = true, publish = {...} }
local function plan_pasta(t, plan, opts)
  plan.mode, plan.publish = "pasta", {}
  if type(t) == "table" then
    check_fields(t, "net", { pasta = true, publish = true })
    if t.pasta ~= true then bad("net.pasta must be true") end
    if t.publish ~= nil and type(t.publish) ~= "table" then bad("net.publish must be a list") end
    for i, s in ipairs(t.publish or {}) do
      local p, err = M.parse_publish(s)
      if not p then bad("net.publish[%d]: %s", i, err) end
      plan.publish[#plan.publish + 1] = p
    end
  end
  if opts.reserve then
    local why = require("nslua.pasta").missing()
    if why then bad("%s", why) end
  end
  return plan
end

local function build(spec_net, id, opts, locks)
  if type(id) ~= "string" or not id:match("^[a-z0-9]+$") or #id ~= 8 then
    bad("id must be 8 characters of [a-z0-9] (got %s)", tostring(id))
  end
  local plan = { id = id, created = {} }
  if spec_net == nil or spec_net == "none" then
    plan.mode = "none"
    return plan
  elseif spec_net == "host" then
    plan.mode, plan.share = "host", true
    return plan
  elseif spec_net == "pasta" or (type(spec_net) == "table" and spec_net.pasta ~= nil) then
    return plan_pasta(spec_net, plan, opts)
  elseif type(spec_net) ~= "table" then
    bad("field 'net' must be \"none\", \"host\", \"pasta\" or a table (got %s)", tostring(spec_net))
  end
  if spec_net.veth ~= nil and spec_net.bridge ~= nil then
    bad("field 'net' takes veth or bridge, not both")
  end
  if spec_net.veth == nil and spec_net.bridge == nil then
    check_fields(spec_net, "net", {})
    bad("field 'net' table needs 'veth' or 'bridge'")
  end
  if opts.rootless then bad("%s", ROOTLESS) end
  if spec_net.veth ~= nil then
    check_fields(spec_net, "net", { veth = true })
    plan_veth(spec_net.veth, id, plan, opts.reserve and locks or nil)
  else
    plan_bridge(spec_net, id, plan)
  end
  return plan
end

--- Build a network plan.  Raises "net: ..." on a bad spec (exit 125).
-- @param spec_net nil | "none" | "host" | { veth = {...} } | { bridge = NAME, ... }
-- @string id the container id: 8 characters of [a-z0-9]
-- @tparam[opt] table opts { rootless = bool, reserve = bool }: with
--   reserve, a default veth /30 is taken with its lock under
--   LOCK_DIR/veth4 (for a run that will make the links, not for explain)
-- @treturn table plan
-- @treturn table the locks taken (fd boxes): hold them until the host
--   links are gone (a run's init inherits them), then close them
function M.plan(spec_net, id, opts)
  local locks = {}
  local ok, plan = pcall(build, spec_net, id, opts or {}, locks)
  if not ok then
    for _, l in ipairs(locks) do l:close() end
    if getmetatable(plan) == BadSpec then error(plan.msg, 2) end
    error(plan, 0)
  end
  return plan, locks
end

-- The host's filter (isolate_host) --------------------------------------------

--- The nftables table (family inet) of container 'id'.
function M.table_name(id)
  return "nslua-" .. id
end

-- A record's table name, checked before it goes into a command.
local function is_table_name(name)
  return type(name) == "string" and name:match("^nslua%-[a-z0-9]+$") ~= nil and #name <= 32
end

--- The nft batch that keeps the sandbox behind 'host_if' from the host
-- itself: the input hook (locally delivered packets only: forwarded ones
-- never pass it) drops whatever arrives on the host end.  Neighbour
-- solicitations and advertisements pass, so v6 next-hop resolution over
-- the link works (ARP is not in the inet family's hooks).  A name matches
-- before its link exists, so the table can come first.
function M.isolate_rules(table_name, host_if)
  return table.concat({
    ("add table inet %s"):format(table_name),
    ("add chain inet %s input { type filter hook input priority filter; policy accept; }")
      :format(table_name),
    ("add rule inet %s input iifname \"%s\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept")
      :format(table_name, host_if),
    ("add rule inet %s input iifname \"%s\" drop"):format(table_name, host_if),
  }, "\n") .. "\n"
end

--- The nft batch of a plan with nat or publish (plan.nft, plan.nat_dev,
-- plan.nat_prefixes, plan.guest_ips, plan.nat, plan.publish), all in the
-- table inet nslua-<id>:
-- * forward (filter, policy accept): accept what enters or leaves through
--   the sandbox's interface.  An accept ends the packet's walk through this
--   chain only: a drop in another table's base chain still drops it.
-- * postrouting (nat, srcnat), with nat: masquerade the sandbox's prefixes
--   leaving through any interface but the sandbox's own.
-- * prerouting (nat, dstnat) and output (nat, -100), with publish: DNAT a
--   host port to the guest's address, for the host's own addresses (or the
--   one given), from other hosts (prerouting) and from the host itself
--   (output; never 127.0.0.0/8 or ::1: that would need route_localnet).
function M.nat_rules(plan)
  local t, dev = plan.nft, plan.nat_dev
  local out = {}
  local function add(fmt, ...) out[#out + 1] = fmt:format(...) end
  add("add table inet %s", t)
  add("add chain inet %s forward { type filter hook forward priority filter; policy accept; }", t)
  add("add rule inet %s forward iifname \"%s\" accept", t, dev)
  add("add rule inet %s forward oifname \"%s\" accept", t, dev)
  if plan.nat then
    add("add chain inet %s postrouting { type nat hook postrouting priority srcnat; policy accept; }", t)
    for _, p in ipairs(plan.nat_prefixes) do
      add("add rule inet %s postrouting %s saddr %s oifname != \"%s\" masquerade",
        t, p.family == "inet" and "ip" or "ip6", p.prefix, dev)
    end
  end
  if plan.publish then
    add("add chain inet %s prerouting { type nat hook prerouting priority dstnat; policy accept; }", t)
    add("add chain inet %s output { type nat hook output priority -100; policy accept; }", t)
    for _, p in ipairs(plan.publish) do
      local pfam = p.host_ip and parse_cidr(p.host_ip, false).family
      for _, fam in ipairs { "inet", "inet6" } do
        local g = plan.guest_ips[fam]
        if g and (pfam == nil or pfam == fam) then
          local ipk = fam == "inet" and "ip" or "ip6"
          local dst = p.host_ip and ("%s daddr %s"):format(ipk, p.host_ip)
            or ("meta nfproto %s fib daddr type local"):format(fam == "inet" and "ipv4" or "ipv6")
          local to = ("dnat %s to %s:%d"):format(ipk, fam == "inet" and g or "[" .. g .. "]", p.guest_port)
          add("add rule inet %s prerouting %s %s dport %d %s", t, dst, p.proto, p.host_port, to)
          local lo = p.host_ip and "" or fam == "inet" and " ip daddr != 127.0.0.0/8" or " ip6 daddr != ::1"
          add("add rule inet %s output %s%s %s dport %d %s", t, dst, lo, p.proto, p.host_port, to)
        end
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

-- Forwarding ----------------------------------------------------------------
--
-- A plan with nat or publish needs the host netns to forward.  Per netns
-- (LOCK_DIR/forward-<netns inode>, under its lock file): 'orig' holds the
-- values nslua changed ("inet 0"), written before the change; users/<id>
-- is a file each such plan holds an flock on for its life.  A user whose
-- lock is free is dead (a SIGKILLed nslua); when no live user is left, the
-- values in 'orig' are put back (only where the value is still the 1 that
-- nslua wrote) and 'orig' goes.  So the last plan to end, or the next
-- start or `nslua gc` in that netns after a SIGKILL, restores forwarding.

--- The sysctls of forwarding, per family, in the caller's netns.
M.FORWARD_SYSCTL = {
  inet = "/proc/sys/net/ipv4/ip_forward",
  inet6 = "/proc/sys/net/ipv6/conf/all/forwarding",
}

local function read_sysctl(path)
  local f, err, code = io.open(path, "r")
  if not f then return nil, err, code end
  local v = f:read("l")
  f:close()
  if not v then return nil, path .. ": empty", errno.EINVAL end
  return v
end

local function write_sysctl(path, v)
  local f, err, code = io.open(path, "w")
  if not f then return nil, err, code end
  local ok, werr, wcode = f:write(v, "\n")
  if ok then ok, werr, wcode = f:close() else f:close() end
  if not ok then return nil, ("%s: %s"):format(path, werr), wcode end
  return true
end

--- The directory of the caller's netns forwarding state.
function M.forward_dir()
  return state.forward_dir(M.LOCK_DIR)
end

local function read_orig(dir)
  local t = {}
  local f = io.open(dir .. "/orig", "r")
  if not f then return t end
  for fam, v in f:read("a"):gmatch("(%S+) (%S+)") do
    if M.FORWARD_SYSCTL[fam] then t[fam] = v end
  end
  f:close()
  return t
end

local function write_orig(dir, orig)
  local lines = {}
  for _, fam in ipairs { "inet", "inet6" } do
    if orig[fam] then lines[#lines + 1] = ("%s %s\n"):format(fam, orig[fam]) end
  end
  local tmp = dir .. "/orig.tmp"
  mount.unlink(tmp)
  local ok, err, code = mount.write_file(tmp, table.concat(lines), 420)
  if not ok then return nil, err, code end
  -- (os.rename replaces; mount.rename never does)
  ok, err = os.rename(tmp, dir .. "/orig")
  if not ok then return nil, err, errno.EIO end
  return true
end

-- Under the directory lock: remove the files of dead users; count the rest.
local function live_users(dir)
  local n = 0
  for _, name in ipairs(mount.readdir(dir .. "/users") or {}) do
    local path = dir .. "/users/" .. name
    local fd = proc.open(path, { rdonly = true, nofollow = true })
    if fd then
      if proc.flock(fd, "ex", true) then
        mount.unlink(path)
      else
        n = n + 1
      end
      fd:close()
    end
  end
  return n
end

-- Under the directory lock, with no live user: put 'orig' back.
local function restore_forwarding(dir)
  local orig = read_orig(dir)
  local err
  for fam, v in pairs(orig) do
    local path = M.FORWARD_SYSCTL[fam]
    if read_sysctl(path) == "1" and v ~= "1" then
      local ok, werr = write_sysctl(path, v)
      if not ok then err = werr end
    end
  end
  if err then return nil, err end
  mount.unlink(dir .. "/orig")
  return true
end

--- Enable forwarding for 'families' ({ inet = true, inet6 = true }) in
-- the caller's netns, for the plan of 'id'.
-- @treturn[1] table a handle for M.forward_release (holds the user's lock)
-- @return[2] nil, message, errno
function M.forward_acquire(id, families)
  local dir, err, code = M.forward_dir()
  if not dir then return nil, err, code end
  local ok
  ok, err, code = mount.mkdir(dir .. "/users", 493, true)
  if not ok then return nil, err, code end
  local lock <close>, lerr, lcode = nl.lockfile(dir .. "/lock")
  if not lock then return nil, lerr, lcode end
  live_users(dir)
  local orig = read_orig(dir)
  local function undo(...)
    if live_users(dir) == 0 then restore_forwarding(dir) end
    return nil, ...
  end
  for _, fam in ipairs { "inet", "inet6" } do
    if families[fam] then
      local path = M.FORWARD_SYSCTL[fam]
      local cur
      cur, err, code = read_sysctl(path)
      if not cur then return undo(err, code) end
      if cur ~= "1" then
        -- the original first: a crash after the change still restores it
        if orig[fam] == nil then
          orig[fam] = cur
          ok, err, code = write_orig(dir, orig)
          if not ok then return undo(err, code) end
        end
        ok, err, code = write_sysctl(path, "1")
        if not ok then return undo(err, code) end
      end
    end
  end
  local path = dir .. "/users/" .. id
  local fd
  fd, err, code = proc.open(path, { wronly = true, creat = true, nofollow = true }, 384)
  if fd then
    ok, err, code = proc.flock(fd, "ex", true)
    if ok then return { fd = fd, dir = dir, id = id } end
    fd:close()
  end
  return undo(err, code)
end

--- End a plan's use of forwarding; the last live user restores it.
-- @treturn[1] boolean true
-- @return[2] nil, message
function M.forward_release(h)
  local lock <close>, err = nl.lockfile(h.dir .. "/lock")
  if not lock then return nil, err end
  mount.unlink(h.dir .. "/users/" .. h.id)
  h.fd:close()
  if live_users(h.dir) == 0 then return restore_forwarding(h.dir) end
  return true
end

--- In the caller's netns: drop dead users of forwarding and, when no live
-- one is left, restore it (a start's sweep and `nslua gc`).
-- @treturn[1] boolean true (nothing to do, or done)
-- @return[2] nil, message
function M.forward_sweep()
  local dir = M.forward_dir()
  if not dir or not mount.stat(dir .. "/orig") then return true end
  local lock <close>, err = nl.lockfile(dir .. "/lock")
  if not lock then return nil, err end
  if live_users(dir) == 0 then return restore_forwarding(dir) end
  return true
end

--- Delete an nslua table in the caller's netns; one already gone is fine.
-- @treturn[1] boolean true
-- @return[2] nil, message, errno
function M.drop_table(name)
  if not is_table_name(name) then error(("drop_table: bad name %q"):format(tostring(name)), 2) end
  local ok, err, code = nft.run(("delete table inet %s\n"):format(name))
  if ok or code == errno.ENOENT then return true end
  return nil, err, code
end

-- Set-up --------------------------------------------------------------------

local function lock_bridge(name)
  return nl.lockfile(("%s/bridge-%s.lock"):format(M.LOCK_DIR, name))
end

-- Run steps in order; the first failure returns nil, "net: step: msg", errno.
local function fail(msg, code)
  return nil, "net: " .. tostring(msg), code
end

--- In the host netns: make the host end of the plan (veth with its peer
-- born in the child's netns, addresses, bridge attachment).  Everything
-- made is recorded in plan.created for host_cleanup.
-- @tparam table plan from M.plan
-- @int child_pid a process in the target netns
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.host_setup(plan, child_pid)
  if plan.mode ~= "veth" and plan.mode ~= "bridge" then return true end
  if plan.nft then
    -- before the link: the payload never sees the host end unfiltered
    local rules = (plan.isolate and M.isolate_rules(plan.nft, plan.host_if) or "")
      .. (plan.nat_dev and M.nat_rules(plan) or "")
    local field = plan.isolate and "net.veth.isolate_host"
      or ("net.%s%s"):format(plan.mode == "veth" and "veth." or "", plan.nat and "nat" or "publish")
    local nok, nerr, ncode = nft.run(rules)
    if not nok then
      return nil, ("%s: table inet %s: %s (does the kernel have nf_tables?)")
        :format(field, plan.nft, nerr), ncode
    end
    plan.created[#plan.created + 1] = { kind = "nft", name = plan.nft }
  end
  if plan.forward then
    local h, ferr, fcode = M.forward_acquire(plan.id, plan.forward)
    if not h then return fail("forwarding: " .. tostring(ferr), fcode) end
    plan.created[#plan.created + 1] = { kind = "forward", handle = h }
  end
  local sock <close>, err, code = nl.socket()
  if not sock then return fail(err, code) end
  local ok
  ok, err, code = nl.veth(plan.host_if, plan.guest_if, { pid = child_pid }, sock)
  if not ok then return fail(err, code) end
  plan.created[#plan.created + 1] = { kind = "veth", name = plan.host_if }
  ok, err, code = nl.link_set(plan.host_if, { alias = M.OWNER }, sock)
  if not ok then return fail(err, code) end
  for _, a in ipairs(plan.host_addrs) do
    ok, err, code = nl.addr_add(plan.host_if, a, sock)
    if not ok then return fail(err, code) end
  end
  if plan.mode == "bridge" then
    local lock <close>, lerr, lcode = lock_bridge(plan.bridge)
    if not lock then return fail(lerr, lcode) end
    if not nl.link(plan.bridge, sock) then
      ok, err, code = nl.bridge(plan.bridge, sock)
      if not ok then return fail(err, code) end
      plan.created[#plan.created + 1] = { kind = "bridge", name = plan.bridge }
      ok, err, code = nl.link_set(plan.bridge, { alias = M.OWNER, up = true }, sock)
      if not ok then return fail(err, code) end
    end
    -- the gateway address goes on a bridge nslua owns (never an operator's)
    local br = nl.link(plan.bridge, sock)
    if br and br.alias == M.OWNER then
      for _, a in ipairs(plan.bridge_addrs or {}) do
        ok, err, code = nl.addr_add(plan.bridge, a, sock)
        if not ok and code ~= errno.EEXIST then return fail(err, code) end
      end
    end
    ok, err, code = nl.link_set(plan.host_if, { master = plan.bridge }, sock)
    if not ok then return fail(err, code) end
  end
  ok, err, code = nl.link_set(plan.host_if, { up = true }, sock)
  if not ok then return fail(err, code) end
  return true
end

--- Inside the child's netns: lo up; the guest end's addresses, link and
-- routes: the executor's own steps (launch.guest_steps, core.setup.net).
-- @treturn[1] boolean true
-- @return[2] nil
-- @treturn[2] string message
-- @treturn[2] integer errno
function M.guest_setup(plan)
  if plan.mode == "host" then return true end
  local ok, err, code = require("nslua.core").setup.net(require("nslua.launch").guest_steps(plan))
  if not ok then return fail(err, code) end
  return true
end

-- Delete a bridge nslua owns once nothing is attached to it.  The caller
-- holds the bridge lock.
local function release_bridge(name, sock)
  local br = nl.link(name, sock)
  if not br or br.alias ~= M.OWNER then return false end
  -- a failed dump must not make a bridge with ports look unused
  local links = nl.links(sock)
  if not links then return false end
  for _, l in ipairs(links) do
    if l.master == br.index then return false end
  end
  local ok, _, code = nl.link_del(name, sock)
  return ok or code == errno.ENODEV
end

--- Remove what host_setup made: the host links, and the bridge when this
-- was the last nslua link attached to an nslua-made bridge.  A link that
-- is already gone (its peer's netns died) is fine.
-- @treturn boolean true
function M.host_cleanup(plan)
  if plan.mode ~= "veth" and plan.mode ~= "bridge" then return true end
  local sock <close> = nl.socket()
  for i = #plan.created, 1, -1 do
    local c = plan.created[i]
    if c.kind == "veth" and sock then
      nl.link_del(c.name, sock)
    elseif c.kind == "forward" then
      M.forward_release(c.handle)
    elseif c.kind == "nft" then
      -- a table left behind keeps the record (resources.fresh): gc retries
      local ok, err = M.drop_table(c.name)
      if not ok then plan.nft_kept = err end
    end
  end
  if not sock then
    plan.created = {}
    return true
  end
  if plan.mode == "bridge" then
    local lock <close> = lock_bridge(plan.bridge) -- luacheck: ignore 211 (held to the block's end)
    release_bridge(plan.bridge, sock)
  end
  plan.created = {}
  return true
end

--- Remove what a dead run's state record names in this netns: its host
-- links nsl<id>* marked nslua (a veth whose peer netns died is gone
-- already: the kernel deletes both ends), and the bridge it used when nslua
-- owns it and no port is left (under the bridge lock).  Nothing else: a
-- link or bridge no record names may be a starting run's, or belong to a
-- run whose record is in another mount namespace's /run.
-- Its nftables table (isolate_host) goes too, when the record names one.
-- @string id the dead run's id
-- @tparam[opt] string bridge the bridge its record names
-- @tparam[opt] string table_name the nftables table its record names
-- @treturn table names of the removed links
-- @treturn[opt] string why the table could not be removed (then the
--   record must stay: no nslua table exists that no record names)
function M.release_id(id, bridge, table_name)
  if type(id) ~= "string" or not id:match("^[a-z0-9]+$") or #id ~= 8 then
    error(("release_id: bad id %q"):format(tostring(id)), 2)
  end
  local removed, table_err = {}, nil
  if table_name ~= nil then
    if is_table_name(table_name) and table_name == M.table_name(id) then
      local ok, err = M.drop_table(table_name)
      if not ok then table_err = ("table inet %s: %s"):format(table_name, err) end
    end
  end
  local sock <close> = nl.socket()
  if not sock then return removed end
  local prefix = "nsl" .. id
  for _, l in ipairs(nl.links(sock) or {}) do
    if l.name:sub(1, #prefix) == prefix and l.alias == M.OWNER and l.kind ~= "bridge" then
      if nl.link_del(l.name, sock) then removed[#removed + 1] = l.name end
    end
  end
  if type(bridge) == "string" and #bridge >= 1 and #bridge <= 15 and not bridge:find("[/:%s%z]")
      and bridge ~= "." and bridge ~= ".." then
    local lock <close> = lock_bridge(bridge)
    if lock and release_bridge(bridge, sock) then removed[#removed + 1] = bridge end
  end
  return removed, table_err
end

--- Human-readable lines: every link, address and route of the plan.
-- @treturn table list of strings
function M.explain(plan)
  local lines = {}
  local function add(fmt, ...) lines[#lines + 1] = fmt:format(...) end
  if plan.mode == "host" then
    add("net: shares the host network namespace")
    return lines
  elseif plan.mode == "pasta" then
    require("nslua.pasta").explain(plan, add)
    return lines
  end
  add("net: own network namespace; lo up")
  if plan.mode == "veth" then
    add("host: veth %s <-> guest %s (peer created in the container's netns)",
      plan.host_if, plan.guest_if)
  elseif plan.mode == "bridge" then
    add("host: bridge %s (created with alias %q if missing, removed by the last user)",
      plan.bridge, M.OWNER)
    for _, a in ipairs(plan.bridge_addrs or {}) do
      add("host: %s address %s (when nslua owns the bridge)", plan.bridge, a)
    end
    add("host: veth %s attached to %s <-> guest %s", plan.host_if, plan.bridge, plan.guest_if)
  end
  if plan.isolate then
    add("host: nftables table inet %s: its input hook drops what arrives on %s except ICMPv6 "
      .. "neighbour discovery", plan.nft, plan.host_if)
  end
  if plan.nat_dev then
    add("host: nftables table inet %s: its forward hook accepts what enters or leaves through %s "
      .. "(a drop in another table still drops)", plan.nft, plan.nat_dev)
    for _, p in ipairs(plan.nat and plan.nat_prefixes or {}) do
      add("host: nftables table inet %s: masquerade %s leaving through any interface but %s",
        plan.nft, p.prefix, plan.nat_dev)
    end
    for _, p in ipairs(plan.publish or {}) do
      for _, fam in ipairs { "inet", "inet6" } do
        local g = plan.guest_ips[fam]
        if g and (not p.host_ip or parse_cidr(p.host_ip, false).family == fam) then
          add("host: nftables table inet %s: %s port %d of %s -> %s port %d", plan.nft, p.proto,
            p.host_port, p.host_ip or ("the host's " .. (fam == "inet" and "IPv4" or "IPv6") .. " addresses"),
            g, p.guest_port)
        end
      end
    end
    for _, fam in ipairs { "inet", "inet6" } do
      if plan.forward[fam] then
        add("host: %s = 1 while the run lives, when it is 0 (restored after the last such run)",
          fam == "inet" and "net.ipv4.ip_forward" or "net.ipv6.conf.all.forwarding")
      end
    end
  end
  for _, a in ipairs(plan.host_addrs or {}) do add("host: %s address %s", plan.host_if, a) end
  if plan.host_if then add("host: %s up", plan.host_if) end
  for _, a in ipairs(plan.guest_addrs or {}) do add("guest: %s address %s", plan.guest_if, a) end
  if plan.guest_if then add("guest: %s up", plan.guest_if) end
  for _, r in ipairs(plan.routes or {}) do
    add("guest: route %s via %s dev %s", r.dst, r.gateway, r.dev)
  end
  return lines
end

return M
