-- spec/nat_spec.lua - nat, publish and forwarding of veth and bridge plans
-- (net.lua, docs/networking.md).  Plan checks run in the busted
-- process; everything else runs inside a private "host" network namespace
-- (`unshare -n -m`, with its own /run/nslua) that the script sets up with an
-- "internet" namespace behind a veth (198.51.100.0/24, 2001:db8:5::/64).
-- Nothing here touches the machine's interfaces, tables or sysctls.
local helper = require "helper"
local net = require "nslua.net"
local q = helper.quote

local SUPPORT = helper.root .. "/spec/support/net"
local LIST_LINKS = [[echo "LINKS: $(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | tr '\n' ' ')"]]

math.randomseed(os.time(), tonumber(tostring({}):match("0x(%x+)"), 16) or 0)
local function port()
  return math.random(20000, 40000)
end
local function suffix()
  return ("%06x"):format(math.random(0, 0xffffff))
end

-- The private host: forwarding off to start with (what nslua must restore),
-- an "internet" netns ($INET, a sleeping process) on veth nslnati, and
-- the helpers fwd (the two forwarding sysctls) and tables (nft tables).
local HOST = [[
D=%s
# a function: under make sanitize the command carries env assignments
# (and NX for a background run whose pid must be nslua's: $! of "$NX ... &")
nslua_cmd() { %s "$@"; }
nslua_exec() { exec %s "$@"; }
N=nslua_cmd NX=nslua_exec
ip link set lo up
sysctl -qw net.ipv4.ip_forward=0 net.ipv6.conf.all.forwarding=0 || exit 97
fwd() { echo "$(cat /proc/sys/net/ipv4/ip_forward) $(cat /proc/sys/net/ipv6/conf/all/forwarding)"; }
tables() { nft list tables | tr '\n' ' '; }
unshare -n sleep 120 &
INET=$!
me=$(readlink /proc/self/ns/net)
i=0
while [ "$(readlink /proc/$INET/ns/net)" = "$me" ] && [ $i -lt 200 ]; do sleep 0.02; i=$((i+1)); done
ip link add nslnati type veth peer name eth0 netns $INET || exit 98
ip addr add 198.51.100.1/24 dev nslnati && ip addr add 2001:db8:5::1/64 dev nslnati nodad &&
  ip link set nslnati up || exit 98
nsenter -t $INET -n sh -c 'ip link set lo up && ip addr add 198.51.100.2/24 dev eth0 &&
  ip addr add 2001:db8:5::2/64 dev eth0 nodad && ip link set eth0 up' || exit 98
inet() { nsenter -t $INET -n "$@"; }
wait_table() {
  i=0
  while [ $i -lt 200 ] && ! nft list tables | grep -q nslua-; do sleep 0.05; i=$((i+1)); done
}
echo "BEFORE fwd=$(fwd) tables=$(tables)"
]]

local tracker

-- Run 'script' after HOST in a private net and mount namespace (a tmpfs on
-- /run/nslua: its own records, bridge locks and forwarding state); the
-- internet netns is killed and the links left are listed at the end.
local function private(dir, script)
  local names = {}
  for n in script:gmatch("%f[%w](nsl%w*)") do
    if #n <= 15 then names[#names + 1] = n end
  end
  if tracker then helper.track_links(tracker, names) end
  local body = "mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1\n"
    .. HOST:format(q(dir), helper.nslua, helper.nslua) .. script
    .. "\nrc=$?\nkill $INET; wait $INET 2>/dev/null; ip link del nslnati 2>/dev/null\n" .. LIST_LINKS .. "\nexit $rc"
  return helper.sh("unshare -n -m sh -c " .. q(body))
end

local function links_left(out)
  return out:match("LINKS: ([^\n]*)")
end

local function needs()
  if not helper.is_root() then return "needs root" end
  if not helper.sh("command -v python3 && command -v ip && command -v nft && command -v nsenter") then
    return "needs python3, ip, nft and nsenter"
  end
end

-- A 0755 temp dir holding the payload script (the sandbox user reads it).
local function scripts_dir()
  local dir = helper.tmpdir("0755")
  assert(helper.sh(("cp %s/nat_peer.py %s/ && chmod 0644 %s/nat_peer.py"):format(q(SUPPORT), q(dir), q(dir))))
  return dir
end

describe("nat and publish", function()
  describe("plans", function()
    it("parse_publish takes [IP:]HOSTPORT:GUESTPORT[/tcp|/udp]", function()
      assert.same({ host_port = 8080, guest_port = 80, proto = "tcp" }, net.parse_publish("8080:80"))
      assert.same({ host_port = 53, guest_port = 5353, proto = "udp" }, net.parse_publish("53:5353/udp"))
      assert.same({ host_ip = "198.51.100.1", host_port = 8080, guest_port = 80, proto = "tcp" },
        net.parse_publish("198.51.100.1:8080:80/tcp"))
      assert.same({ host_ip = "2001:db8::1", host_port = 1, guest_port = 65535, proto = "udp" },
        net.parse_publish("[2001:db8::1]:1:65535/udp"))
      local function bad(s, msg)
        local p, m = net.parse_publish(s)
        assert.is_nil(p)
        assert.equal(msg, m)
      end
      bad(8080, "must be a string")
      bad("8080:80/sctp", "the protocol must be tcp or udp (got 8080:80/sctp)")
      bad("8080", "must be [IP:]HOSTPORT:GUESTPORT[/tcp|/udp], an IPv6 address in brackets (got 8080)")
      bad("2001:db8::1:1:2", "must be [IP:]HOSTPORT:GUESTPORT[/tcp|/udp], an IPv6 address in brackets"
        .. " (got 2001:db8::1:1:2)")
      bad("0:80", "ports must be 1..65535 (got 0:80)")
      bad("80:65536", "ports must be 1..65535 (got 80:65536)")
      bad("host:80:80", "host is not an IP address (got host:80:80)")
      bad("[198.51.100.1]:80:80", "198.51.100.1 is not an IP address (got [198.51.100.1]:80:80)")
    end)

    it("refuses bad nat and publish fields, naming them", function()
      local function bad(msg, spec)
        assert.has_error(function() net.plan(spec, "abcd1234") end, msg)
      end
      local v4 = { host_addr = "10.231.3.1/30", guest_addr = "10.231.3.2/30" }
      local function veth(extra)
        local t = {}
        for k, x in pairs(v4) do t[k] = x end
        for k, x in pairs(extra) do t[k] = x end
        return { veth = t }
      end
      bad("net: veth.nat must be a boolean", veth { nat = "yes" })
      bad("net: veth.publish must be a list of strings", veth { publish = 8080 })
      bad("net: veth.publish must be a list of strings", veth { publish = { a = "1:2" } })
      bad("net: veth.publish[2]: ports must be 1..65535 (got 1:0)", veth { publish = { "1:2", "1:0" } })
      bad("net: veth.publish[2]: tcp port 1 is published twice", veth { publish = { "1:2", "1:3/tcp" } })
      bad('net: veth.nat needs veth.route = "default"', veth { nat = true, route = false })
      bad("net: veth.publish[1]: the sandbox has no IPv6 address", veth { publish = { "[2001:db8::1]:1:2" } })
      bad("net: veth.publish[1]: 127.0.0.1 is a loopback address (publish on another address of the host)",
        veth { publish = { "127.0.0.1:1:2" } })
      bad('net: veth.nat needs an interface name of [A-Za-z0-9._-] (got h"x)',
        { veth = { host = 'h"x', nat = true, host_addr = "10.231.3.1/30", guest_addr = "10.231.3.2/30" } })
      bad("net: net.nat needs an address (net.addr)", { bridge = "nslbr0", nat = true })
      bad("net: net.publish needs a gateway for 10.231.9.1/24 (net.gateway)",
        { bridge = "nslbr0", addr = "10.231.9.1/24", publish = { "1:2" } })
      bad("net: net.nat must be a boolean", { bridge = "nslbr0", addr = "10.231.9.2/24", nat = 1 })
    end)

    it("a bridge plan's gateway defaults to the first address of its prefix", function()
      local function gws(p)
        local t = {}
        for _, r in ipairs(p.routes) do t[#t + 1] = r.gateway end
        return table.concat(t, " "), table.concat(p.bridge_addrs, " ")
      end
      local r, b = gws(net.plan({ bridge = "nslbr0", addr = { "10.231.9.7/24", "fd31:9::5/64" } }, "abcd1234"))
      assert.equal("10.231.9.1 fd31:9::1", r)
      assert.equal("10.231.9.1/24 fd31:9::1/64", b)
      -- a given gateway wins; the other family still gets its default
      r, b = gws(net.plan({ bridge = "nslbr0", addr = { "10.231.9.7/24", "fd31:9::5/64" },
                           gateway = "10.231.9.254" }, "abcd1234"))
      assert.equal("10.231.9.254 fd31:9::1", r)
      assert.equal("10.231.9.254/24 fd31:9::1/64", b)
      -- the container's own address, or no room: no gateway
      assert.equal("", (gws(net.plan({ bridge = "nslbr0", addr = "10.231.9.1/24" }, "abcd1234"))))
      assert.equal("", (gws(net.plan({ bridge = "nslbr0", addr = "10.231.9.3/31" }, "abcd1234"))))
      assert.equal("10.231.9.9", (gws(net.plan({ bridge = "nslbr0", addr = "10.231.9.10/30" }, "abcd1234"))))
      local lines = table.concat(net.explain(net.plan({ bridge = "nslbr0", addr = "10.231.9.7/24", nat = true,
        publish = { "8080:8000" } }, "abcd1234")), "\n")
      assert.is_nil(lines:find("fd31", 1, true), "no v6 rule without a v6 address: " .. lines)
      for _, want in ipairs {
        "host: nslbr0 address 10.231.9.1/24 (when nslua owns the bridge)",
        "guest: route default via 10.231.9.1 dev eth0",
        "host: nftables table inet nslua-abcd1234: masquerade 10.231.9.0/24 leaving through any interface"
          .. " but nslbr0",
        "host: nftables table inet nslua-abcd1234: tcp port 8080 of the host's IPv4 addresses -> 10.231.9.7"
          .. " port 8000",
        "host: net.ipv4.ip_forward = 1 while the run lives, when it is 0 (restored after the last such run)",
      } do
        assert.is_truthy(lines:find(want, 1, true), want .. " in:\n" .. lines)
      end
    end)

    it("the validator checks nat and publish too", function()
      local validate = require "nslua.validate"
      local spec, errs = validate.check { argv = { "/bin/true" },
        net = { veth = { nat = "x", publish = { "1:2", "nope" } } } }
      assert.is_nil(spec)
      local text = table.concat(errs, "\n")
      assert.matches("net.veth.nat: must be a boolean", text, 1, true)
      assert.matches("net.veth.publish[2]: must be [IP:]HOSTPORT:GUESTPORT", text, 1, true)
      local ok = validate.check { argv = { "/bin/true" },
        net = { bridge = "nslbr0", addr = "10.231.9.2/24", nat = true, publish = { "8080:80" } } }
      assert.is_truthy(ok)
      assert.is_true(ok.net.nat)
      assert.same({ "8080:80" }, ok.net.publish)
    end)
  end)

  describe("#priv in a private host netns", function()
    before_each(function() tracker = helper.track() end)
    after_each(function() helper.assert_released(tracker) end)

    it("veth --nat: the sandbox reaches the internet as the host, v4 and v6; all restored", function()
      local why = needs()
      if why then return pending(why) end
      local dir, p = scripts_dir(), port()
      local ok, out = private(dir, ([[
inet python3 $D/nat_peer.py serve 198.51.100.2 %d 2 2001:db8:5::2 > $D/inet.out 2>&1 &
srv=$!
$N run --net veth --nat --ro-bind $D:/t -- sh -c 'echo "IN fwd=$(cat /proc/sys/net/ipv4/ip_forward)"
  python3 /t/nat_peer.py dial %d out 198.51.100.2 2001:db8:5::2'
echo "run rc=$?"
wait $srv
echo "server rc=$?"
cat $D/inet.out
echo "AFTER fwd=$(fwd) tables=$(tables)"
]]):format(p, p))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("BEFORE fwd=0 0 tables=\n", out, 1, true)
      -- the internet has no route to the sandbox: only masquerading answers
      assert.matches("DIAL 198.51.100.2 heard out from 198.51.100.1", out, 1, true)
      assert.matches("DIAL 2001:db8:5::2 heard out from 2001:db8:5::1", out, 1, true)
      assert.matches("SERVED out from 198.51.100.1", out, 1, true)
      assert.matches("SERVED out from 2001:db8:5::1", out, 1, true)
      assert.matches("run rc=0", out, 1, true)
      assert.matches("server rc=0", out, 1, true)
      assert.matches("AFTER fwd=0 0 tables=\n", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("veth --publish: reached from the host's own address and from the internet", function()
      local why = needs()
      if why then return pending(why) end
      local dir, hp, hp2, gp = scripts_dir(), port(), port() + 1, port() + 2
      local ok, out = private(dir, ([[
$N run --net veth --publish %d:%d --publish 198.51.100.1:%d:%d/tcp --ro-bind $D:/t -- \
  python3 /t/nat_peer.py serve 0.0.0.0 %d 4 :: &
run=$!
wait_table
echo "DURING fwd=$(fwd)"
nft list table inet "$(nft list tables | awk '/nslua-/ {print $3}')" | grep -E 'dnat|hook' | sed 's/^[ \t]*/RULE: /'
python3 $D/nat_peer.py dial %d from-host 198.51.100.1 2001:db8:5::1
python3 $D/nat_peer.py dial %d from-host-ip 198.51.100.1
inet python3 $D/nat_peer.py dial %d from-internet 198.51.100.1
wait $run
echo "run rc=$?"
echo "AFTER fwd=$(fwd) tables=$(tables)"
]]):format(hp, gp, hp2, gp, gp, hp, hp2, hp))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("DURING fwd=1 1\n", out, 1, true)
      assert.matches("RULE: type nat hook prerouting priority dstnat; policy accept;", out, 1, true)
      assert.matches("RULE: type nat hook output priority %-100; policy accept;", out)
      assert.matches(("RULE: ip daddr 198.51.100.1 tcp dport %d dnat ip to 10.231.%%d+%%.%%d+:%d"):format(hp2, gp), out)
      -- from the host itself (the output hook), its own non-loopback address
      -- (no line ends asserted: the background server's lines interleave)
      assert.matches("DIAL 198.51.100.1 heard from-host from 198.51.100.1", out, 1, true)
      assert.matches("DIAL 2001:db8:5::1 heard from-host from 2001:db8:5::1", out, 1, true)
      assert.matches("DIAL 198.51.100.1 heard from-host-ip from 198.51.100.1", out, 1, true)
      -- from another host (prerouting, forwarded): the sandbox sees the client
      assert.matches("DIAL 198.51.100.1 heard from-internet from 198.51.100.2", out, 1, true)
      assert.matches("run rc=0", out, 1, true)
      assert.matches("AFTER fwd=0 0 tables=\n", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("bridge --nat --publish: a gateway on the bridge, NAT out, a port in; all restored", function()
      local why = needs()
      if why then return pending(why) end
      local dir, p, hp, gp = scripts_dir(), port(), port(), port() + 1
      local br = "nslbr" .. suffix()
      local ok, out = private(dir, ([[
inet python3 $D/nat_peer.py serve 198.51.100.2 %d 1 > $D/inet.out 2>&1 &
srv=$!
$N run --net bridge:%s:10.231.252.2/24 --nat --publish %d:%d --ro-bind $D:/t -- sh -c '
  echo "ROUTE $(ip -4 route show default)"
  python3 /t/nat_peer.py dial %d out 198.51.100.2 && exec python3 /t/nat_peer.py serve 0.0.0.0 %d 1' &
run=$!
wait $srv
echo "server rc=$?"
cat $D/inet.out
echo "BRIDGE $(ip -4 -o addr show dev %s | awk '{print $4}')"
inet python3 $D/nat_peer.py dial %d from-internet 198.51.100.1
wait $run
echo "run rc=$?"
echo "AFTER fwd=$(fwd) tables=$(tables)"
ip -o link show %s >/dev/null 2>&1 || echo "bridge gone"
]]):format(p, br, hp, gp, p, gp, br, hp, br))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("ROUTE default via 10.231.252.1 dev eth0", out, 1, true)
      assert.matches("BRIDGE 10.231.252.1/24\n", out, 1, true)
      assert.matches("SERVED out from 198.51.100.1", out, 1, true)
      assert.matches("DIAL 198.51.100.1 heard from-internet from 198.51.100.2", out, 1, true)
      assert.matches("run rc=0", out, 1, true)
      assert.matches("AFTER fwd=0 0 tables=\n", out, 1, true)
      assert.matches("bridge gone", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("a forward drop in the host's own table wins; nslua leaves that table as it was", function()
      local why = needs()
      if why then return pending(why) end
      local dir, p = scripts_dir(), port()
      local ok, out = private(dir, ([[
nft add table inet hostfw && nft add chain inet hostfw forward '{ type filter hook forward priority 0; policy drop; }' &&
  nft add rule inet hostfw forward tcp dport 1 accept || exit 96
nft list table inet hostfw > $D/before
inet python3 $D/nat_peer.py serve 198.51.100.2 %d 1 > $D/inet.out 2>&1 &
srv=$!
$N run --net veth --nat --env NAT_PEER_DEADLINE=2 --ro-bind $D:/t -- sh -c '
  python3 /t/nat_peer.py dial %d out 198.51.100.2 | sed "s/\[Errno [0-9]*\] //"'
nft list table inet hostfw > $D/after
cmp $D/before $D/after && echo "HOST TABLE UNCHANGED"
kill $srv; wait $srv
echo "AFTER fwd=$(fwd) tables=$(tables)"
]]):format(p, p))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("DIAL 198.51.100.2 ERR timed out", out, 1, true)
      assert.matches("HOST TABLE UNCHANGED", out, 1, true)
      assert.matches("AFTER fwd=0 0 tables=table inet hostfw \n", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("forwarding is restored only when the last nat run ends; a value already 1 stays", function()
      local why = needs()
      if why then return pending(why) end
      local dir = scripts_dir()
      local ok, out = private(dir, [[
$N run --net veth --nat --bind $D:/d -- sh -c 'while [ ! -e /d/go ]; do sleep 0.05; done' &
a=$!
wait_table
$N run --net veth --nat -- /bin/true
echo "ONE ENDED fwd=$(fwd)"
touch $D/go; wait $a
echo "BOTH ENDED fwd=$(fwd) tables=$(tables)"
sysctl -qw net.ipv4.ip_forward=1
$N run --net veth --nat -- /bin/true
echo "WAS ON fwd=$(fwd)"
]])
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("ONE ENDED fwd=1 1\n", out, 1, true)
      assert.matches("BOTH ENDED fwd=0 0 tables=\n", out, 1, true)
      assert.matches("WAS ON fwd=1 0\n", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("after SIGKILL of nslua, nslua gc removes the table and restores forwarding", function()
      local why = needs()
      if why then return pending(why) end
      local dir, br = scripts_dir(), "nslbr" .. suffix()
      local ok, out = private(dir, ([[
$NX run --net veth --nat --publish 8080:8000 -- sleep 30 &
pid=$!
wait_table
sleep 0.3
echo "RUNNING fwd=$(fwd)"
kill -9 $pid; wait $pid
echo "KILLED fwd=$(fwd) tables=$(tables)"
$N gc
echo "GC fwd=$(fwd) tables=$(tables)"
$NX run --net bridge:%s:10.231.253.2/24 --publish 8080:8000 -- sleep 30 &
pid=$!
wait_table
sleep 0.3
echo "BRIDGE RUNNING fwd=$(fwd)"
kill -9 $pid; wait $pid
echo "BRIDGE KILLED fwd=$(fwd) tables=$(tables)"
$N gc
echo "BRIDGE GC fwd=$(fwd) tables=$(tables)"
ip -o link show %s >/dev/null 2>&1 || echo "bridge gone"
]]):format(br, br))
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("RUNNING fwd=1 1\n", out, 1, true)
      assert.matches("KILLED fwd=1 1 tables=table inet nslua%-[a-z0-9]+ \n", out)
      assert.matches("GC fwd=0 0 tables=\n", out, 1, true)
      -- a v4-only bridge plan needs (and restores) v4 forwarding only
      assert.matches("BRIDGE RUNNING fwd=1 0\n", out, 1, true)
      assert.matches("BRIDGE KILLED fwd=1 0 tables=table inet nslua%-[a-z0-9]+ \n", out)
      assert.matches("BRIDGE GC fwd=0 0 tables=\n", out, 1, true)
      assert.matches("bridge gone", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)

    it("--nat and --publish need --net veth or bridge; a bad --publish exits 125", function()
      if not helper.is_root() then return pending("needs root") end
      local dir = helper.tmpdir()
      local ok, out = private(dir, [[
$N run --nat -- /bin/true
echo "nat rc=$?"
$N run --net veth --publish 80 -- /bin/true
echo "publish rc=$?"
echo "AFTER fwd=$(fwd) tables=$(tables)"
]])
      helper.rmtree(dir)
      assert.is_true(ok, out)
      assert.matches("--nat needs --net veth or --net bridge:...", out, 1, true)
      assert.matches("nat rc=125", out, 1, true)
      assert.matches("net.veth.publish[1]: must be [IP:]HOSTPORT:GUESTPORT", out, 1, true)
      assert.matches("publish rc=125", out, 1, true)
      assert.not_matches("traceback", out)
      assert.matches("AFTER fwd=0 0 tables=\n", out, 1, true)
      assert.equal("lo ", links_left(out))
    end)
  end)
end)
