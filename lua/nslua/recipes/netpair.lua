-- netpair: two containers on one bridge, talking TCP over IPv4 and IPv6.
--
--   nslua netpair [--bridge NAME] [--port N] [--subnet A.B.C.0/N] [--subnet6 PREFIX::/N]
--
-- The "server" container listens on its v4 and v6 addresses; the host
-- (the network namespace nslua runs in) connects to it; the "client"
-- container connects to the server and then takes the host's connections
-- itself.  Each side checks that every reply names the address it dialled
-- and echoes its own message.  nslua creates the bridge (it carries the
-- gateway addresses, .1 and ::1) and the last container removes it.
-- Addresses default to a free /24 of 10.231.0.0/16 and a /64 of an fdXX::/48
-- (DESIGN "Networking"); the server is .2 / ::2, the client .3 / ::3.
-- The peers are a few lines of python3 (bound read-only with /usr); the
-- host's side runs the same program through fork + exec, never a shell.
-- Exit 0 when every exchange worked, 1 when one failed, 125 when nslua
-- could not set up.
local core = require "nslua.core"
local net = require "nslua.net"
local policy = require "nslua.policy"
local container = require "nslua.container"
local report = require "nslua.report"

local ns, proc, nl = core.ns, core.proc, core.netlink

local PYTHON = "/usr/bin/python3"
local WALL = 60          -- seconds: each container's wall-clock limit
local DEADLINE = 30      -- seconds: each peer program's own deadline

-- peer NAME ADDR4 ADDR6 PORT SERVE [PEER...]: listen on ADDR4/ADDR6 (unless
-- "-"), dial every PEER (retrying until it listens), then serve SERVE
-- connections.  A connection sends "hello from NAME"; the reply is
-- "reply from LOCALADDR: MESSAGE".
local PEER = [[
import ipaddress, select, socket, sys, time
name, a4, a6, port, serve = sys.argv[1:6]
port, serve, peers = int(port), int(serve), sys.argv[6:]
deadline = time.monotonic() + DEADLINE
ok = True
listeners = []
for fam, a in ((socket.AF_INET, a4), (socket.AF_INET6, a6)):
    if a == "-":
        continue
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, port))
    s.listen(8)
    listeners.append(s)
if listeners:
    print(f"{name}: listening on {a4} and [{a6}] port {port}", flush=True)
for p in peers:
    while True:
        fam = socket.AF_INET6 if ":" in p else socket.AF_INET
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        try:
            s.connect((p, port))
            break
        except OSError as e:
            s.close()
            if time.monotonic() > deadline:
                print(f"{name}: cannot connect to {p}: {e}", flush=True)
                sys.exit(1)
            time.sleep(0.05)
    msg = f"hello from {name}"
    s.settimeout(5)
    s.sendall(msg.encode())
    s.shutdown(socket.SHUT_WR)
    data = b""
    while True:
        chunk = s.recv(200)
        if not chunk:
            break
        data += chunk
    s.close()
    reply = data.decode(errors="replace")
    head, _, body = reply.partition(": ")
    good = (head.startswith("reply from ") and body == msg and
            ipaddress.ip_address(head[11:]) == ipaddress.ip_address(p))
    ok = ok and good
    print(f"{name} -> {p}: {reply!r} {'ok' if good else 'UNEXPECTED'}", flush=True)
served = 0
while served < serve:
    left = deadline - time.monotonic()
    if left <= 0:
        print(f"{name}: served {served} of {serve} connections before the deadline", flush=True)
        sys.exit(1)
    ready, _, _ = select.select(listeners, [], [], left)
    for s in ready:
        c, peer = s.accept()
        c.settimeout(5)
        data = b""
        while True:
            chunk = c.recv(200)
            if not chunk:
                break
            data += chunk
        local = c.getsockname()[0]
        c.sendall(f"reply from {local}: {data.decode(errors='replace')}".encode())
        c.close()
        served += 1
        print(f"{name} <- {peer[0]}: {data.decode(errors='replace')!r}", flush=True)
sys.exit(0 if ok else 1)
]]
PEER = PEER:gsub("DEADLINE", tostring(DEADLINE))

local function usage(msg)
  io.stderr:write("nslua netpair: ", msg, "\n",
    "usage: nslua netpair [--bridge NAME] [--port N] [--subnet A.B.C.0/N] [--subnet6 PREFIX::/N]\n")
  return report.EXIT_FAIL
end

-- "10.1.2.0/24" -> base "10.1.2.", prefix 24 (the host part is the last octet)
local function subnet4(s)
  local a, b, c, d, n = s:match("^(%d+)%.(%d+)%.(%d+)%.(%d+)/(%d+)$")
  n = tonumber(n)
  if not a or tonumber(d) ~= 0 or n < 24 or n > 29 then return nil end
  for _, v in ipairs { a, b, c } do
    if tonumber(v) > 255 then return nil end
  end
  return ("%s.%s.%s."):format(a, b, c), n
end

-- "fd12:3456::/64" -> base "fd12:3456::", prefix 64
local function subnet6(s)
  local base, n = s:match("^([%x:]+::)/(%d+)$")
  n = tonumber(n)
  if not base or n < 64 or n > 124 then return nil end
  return base:lower(), n
end

local function fnv(s, salt)
  local h = 2166136261
  for i = 1, #s do h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff end
  return ((h ~ salt) * 16777619) & 0xffffffff
end

-- The bridge plan of one container ('host' is .2 or .3).
local function bridge_net(o, host)
  return {
    bridge = o.bridge,
    addr = { ("%s%d/%d"):format(o.b4, host, o.p4), ("%s%d/%d"):format(o.b6, host, o.p6) },
    gateway = { o.b4 .. "1", o.b6 .. "1" },
  }
end

-- Default subnets: probe /24s of 10.231.0.0/16 and /64s of an fdXX::/48
-- from the bridge name until nslua.net accepts the plan (it refuses one
-- that overlaps a host route, naming it).
local function pick_subnets(o)
  local h = fnv(o.bridge, 7)
  local last
  for i = 0, 63 do
    o.b4, o.p4 = ("10.231.%d."):format((h + i) % 256), 24
    local g = fnv(o.bridge, 100 + i)
    o.b6, o.p6 = ("fd%02x:%x:%x:%x::"):format(h >> 24, g & 0xffff, g >> 16, i + 1), 64
    local ok, err = pcall(net.plan, bridge_net(o, 2), "netpair0")
    if ok then return true end
    last = err
  end
  return nil, last
end

local function parse(args)
  local o = { bridge = "nslpair0", port = 7070 }
  local i = 1
  while i <= #args do
    local k, v = args[i], args[i + 1]
    if k == "--bridge" and v then
      o.bridge = v
    elseif k == "--port" and v and math.tointeger(tonumber(v)) then
      o.port = math.tointeger(tonumber(v))
      if o.port < 1 or o.port > 65535 then return nil, "--port: 1..65535" end
    elseif k == "--subnet" and v then
      o.b4, o.p4 = subnet4(v)
      if not o.b4 then return nil, "--subnet: an IPv4 network A.B.C.0/N with N 24..29" end
    elseif k == "--subnet6" and v then
      o.b6, o.p6 = subnet6(v)
      if not o.b6 then return nil, "--subnet6: an IPv6 network ending in ::/N with N 64..124" end
    else
      return nil, ("unknown or incomplete option '%s'"):format(tostring(k))
    end
    i = i + 2
  end
  if (o.b4 == nil) ~= (o.b6 == nil) then return nil, "--subnet and --subnet6 go together" end
  return o
end

-- The host's side: the peer program through fork + exec (no shell; the
-- sanitizer runtime `make sanitize` preloads stays out of python).
local function host_peer(port, peers)
  local argv = { "/usr/bin/env", "-u", "LD_PRELOAD", PYTHON, "-c", PEER, "host", "-", "-",
                 tostring(port), "0" }
  for _, p in ipairs(peers) do argv[#argv + 1] = p end
  io.stdout:flush()
  io.stderr:flush()
  local pid, err = ns.clone()
  if not pid then return nil, err end
  if pid == 0 then
    proc.execv(argv)
    proc._exit(127)
  end
  local _, how, code = proc.waitpid(pid)
  if how == "exited" and code == 0 then return true end
  return nil, ("the host's client ended with %s %d"):format(how, code)
end

local function peer_spec(base, o, name, host, serve, peers)
  local argv = { PYTHON, "-c", PEER, name, o.b4 .. host, o.b6 .. host, tostring(o.port),
                 tostring(serve) }
  for _, p in ipairs(peers or {}) do argv[#argv + 1] = p end
  return policy.override(base, {
    name = "netpair-" .. name,
    hostname = name,
    net = bridge_net(o, host),
    limits = { wall = WALL },
    argv = argv,
  })
end

local function main(...)
  local o, perr = parse { ... }
  if not o then return usage(perr) end
  if proc.getuid() ~= 0 then
    return usage("needs root: a bridge needs CAP_NET_ADMIN in the host network namespace")
  end
  local existing = nl.link(o.bridge)
  if existing and existing.alias ~= net.OWNER then
    return usage(("bridge '%s' exists and nslua does not own it; choose another --bridge")
      :format(o.bridge))
  end
  if not o.b4 then
    local ok, err = pick_subnets(o)
    if not ok then return usage(tostring(err)) end
  end
  local s4, s6, c4, c6 = o.b4 .. "2", o.b6 .. "2", o.b4 .. "3", o.b6 .. "3"
  print(("netpair: bridge %s, gateway %s1/%d %s1/%d; server %s [%s]; client %s [%s]; port %d")
    :format(o.bridge, o.b4, o.p4, o.b6, o.p6, s4, s6, c4, c6, o.port))

  local base = require "nslua.recipes.sandbox"
  local okn, server = pcall(container.new, peer_spec(base, o, "server", 2, 4))
  if not okn then return usage(tostring(server)) end
  local client
  okn, client = pcall(container.new, peer_spec(base, o, "client", 3, 2, { s4, s6 }))
  if not okn then return usage(tostring(client)) end

  local failures = {}
  local function failed(msg) failures[#failures + 1] = msg end
  local srv <close> = server
  local cli <close> = client
  local pid, err = srv:start()
  if not pid then return usage(err) end
  -- the host dials the server, retrying until it listens (bounded)
  local ok, herr = host_peer(o.port, { s4, s6 })
  if not ok then failed("host -> server: " .. herr) end
  pid, err = cli:start()
  if not pid then
    failed(err)
  else
    ok, herr = host_peer(o.port, { c4, c6 })
    if not ok then failed("host -> client: " .. herr) end
  end
  for _, c in ipairs { cli, srv } do
    if c:pid() then
      if #failures > 0 then c:kill(9) end
      local r = c:wait()
      if r.status ~= "exited" or r.exit_code ~= 0 then
        failed(("%s: %s (exit %d)%s"):format(c.spec.name, r.status, report.exit_code(r),
          r.error and (": " .. tostring(r.error.message)) or ""))
      end
    end
  end
  srv:close()
  cli:close()
  local gone = nl.link(o.bridge) == nil
  if existing == nil then
    print(("netpair: bridge %s %s"):format(o.bridge, gone and "removed after the last container"
      or "STILL PRESENT"))
    if not gone then failed("the bridge outlived its last container") end
  end
  if #failures > 0 then
    io.stderr:write("nslua netpair: FAILED\n")
    for _, f in ipairs(failures) do io.stderr:write("  ", f, "\n") end
    return 1
  end
  print("netpair: ok: container <-> container and host <-> each container over IPv4 and IPv6")
  return 0
end

return main(...)
