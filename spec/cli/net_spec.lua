-- `nslua run --net veth | bridge:NAME`, `nslua explain --net`, `nslua gc`.
-- Every command runs inside a private network namespace the test makes
-- (`unshare -n`), which plays the host: nothing here touches the machine's
-- real interfaces, routes or forwarding.  Each script ends by listing the
-- links of that namespace, so a leftover nsl* link fails the test.
local helper = require "helper"
local q = helper.quote

local SUPPORT = helper.root .. "/spec/support/net"
local LIST_LINKS = [[echo "LINKS: $(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | tr '\n' ' ')"]]

math.randomseed(os.time(), tonumber(tostring({}):match("0x(%x+)"), 16) or 0)
local function suffix()
  return ("%06x"):format(math.random(0, 0xffffff))
end
local function port()
  return math.random(20000, 40000)
end

-- Run 'script' (sh) in a fresh network namespace with lo up; the links
-- left in it are listed at the end.  Returns ok, output, code of the script
-- (the listing does not change the code).
local tracker

-- With 'own_run', the script also gets a mount namespace with a tmpfs on
-- /run/nslua: only its own runs and gc see its records (an nslua elsewhere
-- on the machine may sweep a dead run's record before the script's gc).
local function private(script, own_run)
  -- the nsl* names it uses must never show up in the real host netns
  local names = {}
  for n in script:gmatch("%f[%w](nsl%w*)") do
    if #n <= 15 then names[#names + 1] = n end
  end
  if tracker then helper.track_links(tracker, names) end
  local pre = own_run and "mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1\n" or ""
  local ok, out, code = helper.sh((own_run and "unshare -n -m" or "unshare -n") .. " sh -c "
    .. q(pre .. "ip link set lo up\n" .. script .. "\nrc=$?\n" .. LIST_LINKS .. "\nexit $rc"))
  return ok, out, code
end

-- nslua keeps a lock file per bridge name; the names here are unique
local function drop_lock(br)
  os.remove(("/run/nslua/bridge-%s.lock"):format(br))
end

local function links_left(out)
  return out:match("LINKS: ([^\n]*)")
end

local function has_python()
  return helper.sh("command -v python3 && command -v ip")
end

-- A 0755 temp dir holding the payload scripts (the sandbox user reads them).
local function scripts_dir()
  local dir = helper.tmpdir("0755")
  assert(helper.sh(("cp %s/*.py %s/ && chmod 0644 %s/*.py"):format(q(SUPPORT), q(dir), q(dir))))
  return dir
end

describe("nslua run --net", function()
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("veth: eth0 has addresses and default routes via the host end; TCP both ways over v4 and v6 #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not has_python() then return pending("needs python3 and ip") end
    local dir = scripts_dir()
    local p = port()
    local cmd = ("%s run --net veth --ro-bind %s:/t -- python3 /t/guest_veth.py %d"):format(helper.nslua, dir, p)
    local ok, out = private(("python3 %s/host_veth.py %s %d"):format(q(dir), q(cmd), p))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    local cjson = require "cjson"
    local guest = cjson.decode((assert(out:match("GUEST (%b{})"), out)))
    assert.same({ "eth0", "lo" }, guest.links)
    local a4, a6
    for _, a in ipairs(guest.addrs) do
      if a:match("^10%.231%.%d+%.%d+/30$") then a4 = a end
      if a:match("^fd%x%x:[%x:]+/64$") then a6 = a end
    end
    assert.is_truthy(a4, out)
    assert.is_truthy(a6, out)
    local host = cjson.decode((assert(out:match("HOSTLINK (%b[])"), out)))
    assert.equal(1, #host, out)
    assert.matches("^nsl[a-z0-9]+h$", host[1].ifname)
    -- the default routes go through the host end's own addresses
    local mine = {}
    for _, a in ipairs(host[1].addrs) do mine[a:match("^[^/]+")] = true end
    assert.equal(2, #guest.gateways, out)
    for _, gw in ipairs(guest.gateways) do
      assert.is_true(mine[gw] == true, gw .. " is not the host end's: " .. out)
      assert.matches("guest->host " .. gw .. " host heard from guest", out, 1, true)
    end
    for _, a in ipairs { a4, a6 } do
      local ip = a:match("^[^/]+")
      assert.matches(("host->guest %s guest heard from host %s"):format(ip, ip), out, 1, true)
    end
    -- the host heard the guest on both families (v4 as a mapped address)
    assert.matches("HEARD ::ffff:" .. a4:match("^[^/]+") .. " " .. a6:match("^[^/]+") .. "\n", out, 1, true)
    assert.matches("guest done", out, 1, true)
    assert.matches("RC 0", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("bridge: two containers talk over v4 and v6; the last one removes the bridge #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not has_python() then return pending("needs python3 and ip") end
    local dir = scripts_dir()
    local br, p = "nslbr" .. suffix(), port()
    local s4, s6, c4, c6 = "10.231.250.2", "fd31:7:7::2", "10.231.250.3", "fd31:7:7::3"
    local script = ([[
%s run --net bridge:%s:%s/24,%s/64 --ro-bind %s:/t -- python3 /t/bridge_peer.py serve %d %s %s /t/quit &
srv=$!
%s run --net bridge:%s:%s/24,%s/64 --ro-bind %s:/t -- python3 /t/bridge_peer.py dial %d %s %s
echo "client rc=$?"
ip -o link show %s >/dev/null 2>&1 && echo "bridge while the server runs: present"
ip -o link show master %s | grep -c nsl | sed 's/^/ports: /'
touch %s/quit
wait $srv
echo "server rc=$?"
ip -o link show %s >/dev/null 2>&1 || echo "bridge after the last container: gone"
]]):format(helper.nslua, br, s4, s6, q(dir), p, s4, s6, helper.nslua, br, c4, c6, q(dir), p, s4, s6, br, br,
      q(dir), br)
    local ok, out = private(script)
    helper.rmtree(dir)
    drop_lock(br)
    assert.is_true(ok, out)
    assert.matches("client -> 10.231.250.2 server at 10.231.250.2 heard hello 10.231.250.2", out, 1, true)
    assert.matches("client -> fd31:7:7::2 server at fd31:7:7::2 heard hello fd31:7:7::2", out, 1, true)
    assert.matches("server <- 10.231.250.3 hello 10.231.250.2", out, 1, true)
    assert.matches("server <- fd31:7:7::3 hello fd31:7:7::2", out, 1, true)
    assert.matches("client rc=0", out, 1, true)
    assert.matches("bridge while the server runs: present", out, 1, true)
    assert.matches("ports: 1\n", out, 1, true)
    assert.matches("server rc=0", out, 1, true)
    assert.matches("bridge after the last container: gone", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  -- docs/networking.md "The plans": what a veth sandbox reaches on the host unless
  -- --veth-no-host drops it in the host's input hook.
  it("veth: an unprivileged payload reaches the host's own addresses and its UDP sockets #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not has_python() then return pending("needs python3 and ip") end
    local dir = scripts_dir()
    local p = port()
    local cmd = ("%s run --net veth --ro-bind %s:/t -- python3 /t/guest_reach.py %d 192.0.2.77")
      :format(helper.nslua, dir, p)
    local ok, out = private(([[
ip addr add 192.0.2.77/32 dev lo || exit 99
python3 %s/host_reach.py %s %d
]]):format(q(dir), q(cmd), p))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    for _, what in ipairs { "tcp-gateway4", "tcp-gateway6", "tcp-other", "tcp-bindtodevice4" } do
      assert.matches("try " .. what .. " ok host heard " .. what, out, 1, true)
      assert.matches("HEARD tcp " .. what .. "\n", out, 1, true)
    end
    for _, what in ipairs { "udp-gateway4", "udp-multicast", "udp-broadcast" } do
      assert.matches("HEARD udp " .. what .. "\n", out, 1, true)
    end
    assert.matches("guest done", out, 1, true)
    assert.matches("RC 0", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("a prohibit route to the host does not stop an unprivileged process (why --veth-no-host filters the host) #priv",
    function()
    if not helper.is_root() then return pending("needs root") end
    if not has_python() or not helper.exists("/usr/bin/python3") then return pending("needs /usr/bin/python3") end
    local dir = scripts_dir()
    local p, sfx = port(), suffix()
    local h, g = "nslph" .. sfx, "nslpg" .. sfx
    -- the guest: its own netns, a default route via the host end and
    -- "prohibit" for the host end's address, then the unprivileged process
    local guest = ([[
echo $$ > %s/pid
while [ ! -e %s/go ]; do sleep 0.05; done
ip link set lo up && ip addr add 10.231.254.2/30 dev %s && ip link set %s up &&
ip route add default via 10.231.254.1 && ip route add prohibit 10.231.254.1/32 || exit 98
exec setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 %s/bypass_guest.py 10.231.254.1 %d %s
]]):format(dir, dir, g, g, dir, p, g)
    local f = assert(io.open(dir .. "/guest.sh", "w"))
    f:write(guest)
    f:close()
    local ok, out = private(([[
( while [ ! -s %s/pid ]; do sleep 0.05; done
  ip link add %s type veth peer name %s netns "$(cat %s/pid)" && ip addr add 10.231.254.1/30 dev %s &&
  ip link set %s up && touch %s/go ) &
python3 %s/host_reach.py "unshare -n sh %s/guest.sh" %d
wait
]]):format(q(dir), h, g, q(dir), h, h, q(dir), q(dir), q(dir), p))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches("try tcp-plain ERR [Errno 13] Permission denied", out, 1, true)
    assert.matches("try tcp-bindtodevice ok host heard tcp-bindtodevice", out, 1, true)
    assert.matches("HEARD tcp tcp-bindtodevice\n", out, 1, true)
    assert.matches("RC 0", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("--veth-no-host: the payload reaches nothing of the host, not even with SO_BINDTODEVICE #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not has_python() then return pending("needs python3 and ip") end
    local dir = scripts_dir()
    local p = port()
    local cmd = ("%s run --net veth --veth-no-host --ro-bind %s:/t -- python3 /t/guest_reach.py %d 192.0.2.77 2")
      :format(helper.nslua, dir, p)
    local ok, out = private(([[
ip addr add 192.0.2.77/32 dev lo || exit 99
python3 %s/host_reach.py %s %d
]]):format(q(dir), q(cmd), p))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    for _, what in ipairs { "tcp-gateway4", "tcp-gateway6", "tcp-other", "tcp-bindtodevice4" } do
      assert.matches("try " .. what .. " ERR timed out", out, 1, true)
    end
    -- the datagrams leave the sandbox; the host's wildcard socket hears none
    for _, what in ipairs { "udp-gateway4", "udp-multicast", "udp-broadcast" } do
      assert.matches("try " .. what .. " ok", out, 1, true)
    end
    assert.not_matches("HEARD", out, 1, true)
    assert.matches("guest done", out, 1, true)
    assert.matches("RC 0", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("--veth-no-host: table inet nslua-<id> lives as long as the run; gc removes a killed run's #priv",
    function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v nft && command -v ip") then return pending("needs nft and ip") end
    local dir = helper.tmpdir("0777")
    local ok, out = private(([[
D=%s
wait_file() {
  i=0
  while [ $i -lt 200 ]; do [ -e "$1" ] && return 0; sleep 0.05; i=$((i+1)); done
  return 1
}
%s run --net veth --veth-no-host --bind $D:/r -- sh -c 'touch /r/up; while [ ! -e /r/go ]; do sleep 0.05; done' &
pid=$!
wait_file $D/up && echo "run up"
echo "DURING: $(nft list tables | tr '\n' ' ')"
nft list ruleset | grep -E 'hook input|iifname' | sed 's/^ *\t*/RULE: /'
touch $D/go; wait $pid; echo "run rc=$?"
echo "AFTER: $(nft list tables | tr '\n' ' ')"
rm -f $D/up $D/go
%s run --net veth --veth-no-host --bind $D:/r -- sleep 30 &
pid=$!
i=0; while [ $i -lt 200 ] && ! nft list tables | grep -q nslua-; do sleep 0.05; i=$((i+1)); done
sleep 0.3
kill -9 $pid; wait $pid
echo "KILLED: $(nft list tables | tr '\n' ' ')"
%s gc
echo "GC: $(nft list tables | tr '\n' ' ')"
]]):format(q(dir), helper.nslua, helper.nslua, helper.nslua), true)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.matches("run up", out, 1, true)
    local id = out:match("DURING: table inet nslua%-([a-z0-9]+) \n")
    assert.is_truthy(id, out)
    assert.matches("RULE: type filter hook input priority filter; policy accept;", out, 1, true)
    assert.matches(('RULE: iifname "nsl%sh" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept')
      :format(id), out, 1, true)
    assert.matches(('RULE: iifname "nsl%sh" drop'):format(id), out, 1, true)
    assert.matches("run rc=0", out, 1, true)
    assert.matches("AFTER: \n", out, 1, true)
    assert.matches("KILLED: table inet nslua%-[a-z0-9]+ \n", out)
    assert.matches("GC: \n", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("--veth-no-host needs --net veth; a bridge has no isolate_host (exit 125) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = private(([[
%s run --veth-no-host -- /bin/true
echo "alone rc=$?"
%s run --net bridge:nslbr%s --veth-no-host -- /bin/true
echo "bridge rc=$?"
]]):format(helper.nslua, helper.nslua, suffix()))
    assert.is_true(ok, out)
    assert.matches("nslua: --veth-no-host needs --net veth\n", out, 1, true)
    assert.matches("alone rc=125", out, 1, true)
    assert.matches("bridge rc=125", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("40 concurrent --net veth runs all start, each on its own /30 (twice) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v ip") then return pending("needs ip") end
    -- every run writes its guest address into a shared dir, then waits until
    -- all 40 have: the 40 are alive at once, so two on one /30 would show.
    -- The link and route dumps of 40 concurrent set-ups are interrupted
    -- (NLM_F_DUMP_INTR) often; each round must still start all 40.
    local N, ROUNDS = 40, 2
    local dir = helper.tmpdir("0777")
    local script = ([[
N=%d; D=%s
r=1
while [ $r -le %d ]; do
  rm -rf $D/r; mkdir -m 0777 $D/r
  i=0
  while [ $i -lt $N ]; do
    ( %s run --net veth --bind $D/r:/r -- sh -c \
        "ip -4 -o addr show eth0 | awk '{print \$4}' > /r/a.$i; while [ ! -e /r/go ]; do sleep 0.05; done" \
        > $D/r/out.$i 2>&1; echo $? > $D/r/rc.$i ) &
    i=$((i+1))
  done
  k=0
  while [ $k -lt 600 ] && [ $(ls $D/r | grep -c '^a\.') -lt $N ] && [ $(ls $D/r | grep -c '^rc\.') -eq 0 ]; do
    sleep 0.05; k=$((k+1))
  done
  echo "ROUND $r: $(cat $D/r/a.* 2>/dev/null | sort | uniq -d | tr '\n' ' ')DUPLICATES"
  echo "ROUND $r: $(cat $D/r/a.* 2>/dev/null | grep -c .) ADDRESSES"
  touch $D/r/go
  wait
  for f in $D/r/rc.*; do
    [ "$(cat $f)" = 0 ] || { echo "FAILED $f: $(cat $f)"; cat $D/r/out.${f##*.}; }
  done
  r=$((r+1))
done
]]):format(N, q(dir), ROUNDS, helper.nslua)
    local t0 = os.time()
    -- its own /run/nslua: the /30 locks (veth4/) go with the namespace
    local ok, out = private(script, true)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.not_matches("FAILED", out, 1, true)
    for r = 1, ROUNDS do
      assert.matches(("ROUND %d: DUPLICATES"):format(r), out, 1, true)
      assert.matches(("ROUND %d: %d ADDRESSES"):format(r, N), out, 1, true)
    end
    assert.equal("lo ", links_left(out))
    assert.is_true(os.time() - t0 < 60, "took over a minute")
  end)

  it("explain --net veth shows every link, address and route", function()
    if not helper.is_root() then return pending("needs root (a veth plan needs CAP_NET_ADMIN)") end
    local ok, out = private(helper.nslua .. " explain --net veth -- /bin/true")
    assert.is_true(ok, out)
    local h4 = out:match("network: host: nslxxxxxxxxh address (10%.231%.%d+%.%d+)/30\n")
    local h6 = out:match("network: host: nslxxxxxxxxh address (fd[%x:]+)/64\n")
    assert.is_truthy(h4, out)
    assert.is_truthy(h6, out)
    for _, line in ipairs {
      "network: host: veth nslxxxxxxxxh <-> guest eth0 (peer created in the container's netns)",
      "network: host: nslxxxxxxxxh up",
      "network: guest: eth0 up",
      "network: guest: route default via " .. h4 .. " dev eth0",
      "network: guest: route default via " .. h6 .. " dev eth0",
    } do
      assert.matches(line, out, 1, true)
    end
    assert.matches("network: guest: eth0 address 10%.231%.%d+%.%d+/30\n", out)
    assert.matches("network: guest: eth0 address fd[%x:]+/64\n", out)
    -- explain creates nothing
    assert.equal("lo ", links_left(out))
  end)

  it("explain --net veth --veth-no-host shows the host's table", function()
    if not helper.is_root() then return pending("needs root (a veth plan needs CAP_NET_ADMIN)") end
    local ok, out = private(helper.nslua .. " explain --net veth --veth-no-host -- /bin/true\nnft list tables")
    assert.is_true(ok, out)
    assert.matches("network: host: nftables table inet nslua-xxxxxxxx: its input hook drops what arrives on "
      .. "nslxxxxxxxxh except ICMPv6 neighbour discovery\n", out, 1, true)
    -- explain creates nothing
    assert.not_matches("table inet", out:gsub("network: host: nftables table inet", ""), 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("refuses an address overlapping a host route with exit 125, naming the field #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dummy, br = "nslov" .. suffix(), "nslbr" .. suffix()
    local ok, out, code = private(([[
ip link add %s type bridge && ip addr add 10.231.0.1/16 dev %s && ip link set %s up || exit 99
%s run --net veth -- /bin/true
echo "veth rc=$?"
%s run --net bridge:%s:10.231.77.2/24 -- /bin/true
echo "bridge rc=$?"
ip link del %s
]]):format(dummy, dummy, dummy, helper.nslua, helper.nslua, br, dummy))
    drop_lock(br)
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.matches("nslua: start '[a-z0-9]+': net: veth.host_addr 10%.231%.%d+%.%d+/30 %(default%) "
      .. "overlaps the host route 10%.231%.0%.0/16 dev " .. dummy, out)
    assert.matches("veth rc=125", out, 1, true)
    assert.matches("': net: net.addr 10.231.77.2/24 overlaps the host route 10.231.0.0/16 dev "
      .. dummy .. "; choose another prefix\n", out, 1, true)
    assert.not_matches("internal error", out, 1, true)
    assert.matches("bridge rc=125", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)

  it("rootless: --net veth and --net bridge exit 125 with a message #priv", function()
    if not helper.is_root() then return pending("needs root to make the test user's run") end
    local tree = helper.rootless_tree()
    local ok, out = private(([[
cd /tmp
%s %s %s%s/scripts/nslua run --net veth -- /bin/true
echo "veth rc=$?"
%s %s %s%s/scripts/nslua run --net bridge:nslbr%s -- /bin/true
echo "bridge rc=$?"
]]):format(helper.ENV_I, helper.SETPRIV, helper.san_env, tree, helper.ENV_I, helper.SETPRIV, helper.san_env,
      tree, suffix()))
    assert.is_true(ok, out)
    assert.matches("veth rc=125", out, 1, true)
    assert.matches("bridge rc=125", out, 1, true)
    local _, n = out:gsub("veth and bridge networking need CAP_NET_ADMIN in the host network "
      .. "namespace %(rootless%)", "")
    assert.equal(2, n, out)
    assert.equal("lo ", links_left(out))
  end)

  it("make bench's S2V cell: a veth-connected run against a loopback-only one #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if helper.sanitized then return pending("the bench runner loads nslua.core without the sanitizer runtime") end
    local made = helper.sh("make -s -C " .. q(helper.root .. "/scripts/bench"))
    if not made then return pending("scripts/bench does not build here") end
    -- the runner unshares its own network namespace for this scenario
    local ok, out = helper.sh(("%s %s/scripts/bench/run.lua --pairs 1 --warmup 0 --scenarios S2v"
      .. " --no-api --json ''"):format(helper.LUA, helper.root))
    assert.is_true(ok, out)
    -- (ratio, min-max, median ms, cpu ms, peak RSS KiB)
    assert.matches("\nS2V%s+nslua run %(lo%)%s+1%.00%s+[%d.]+%s+[%d.]+\n", out)
    assert.matches("\nS2V%s+nslua run %-%-net veth%s+[%d.]+%s+[%d.]+%-[%d.]+%s+[%d.]+%s+[%d.]+%s+%d+\n", out)
    assert.not_matches("missing", out, 1, true)
  end)

  it("after SIGKILL of nslua mid-set-up and mid-run, nslua gc leaves no link #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local br = "nslbr" .. suffix()
    local ok, out = private(([[
wait_link() {
  i=0
  while [ $i -lt 200 ]; do
    ip -o link show | grep -q "$1" && return 0
    sleep 0.05; i=$((i+1))
  done
  return 1
}
NSLUA_TEST_STOP=mounts %s run --net veth -- /bin/true &
pid=$!
wait_link 'nsl[a-z0-9]*h' && echo "veth made"
kill -9 $pid; wait $pid
%s run --net bridge:%s -- sleep 30 &
pid=$!
wait_link 'nsl[a-z0-9]*b.*master %s' && echo "bridge port made"
kill -9 $pid; wait $pid
ip -o link show %s >/dev/null 2>&1 && echo "bridge left before gc"
%s gc
]]):format(helper.nslua, helper.nslua, br, br, br, helper.nslua), true)
    drop_lock(br)
    assert.is_true(ok, out)
    assert.matches("veth made", out, 1, true)
    assert.matches("bridge port made", out, 1, true)
    -- the kernel takes a veth with its peer's namespace; the bridge stays
    -- until gc removes it (no port, owned by nslua, its user is dead)
    assert.matches("bridge left before gc", out, 1, true)
    assert.equal("lo ", links_left(out))
  end)
end)
