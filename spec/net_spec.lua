-- spec/net_spec.lua - nslua.net plans.  Validation runs in the busted
-- process (it reads nothing from the kernel); everything that reads routes
-- or makes links runs in a helper.run_isolated child with its own "host"
-- network namespace (nettest.isolate).
local helper = require "helper"
local net = require "nslua.net"

local PRELUDE = [[
local T = require "support.nettest"
T.use_tmpdir(TMPDIR)
local core = T.isolate()
local nl, proc, errno, nft = core.netlink, core.proc, core.errno, core.nft
local net = require "nslua.net"
local eq, raises, fails = T.eq, T.raises, T.fails
net.LOCK_DIR = T.tmpdir() .. "/locks"
local function newid()
  local s = ""
  for _ = 1, 8 do
    local n = math.random(0, 35)
    s = s .. (n < 10 and tostring(n) or string.char(87 + n))
  end
  -- logged for the busted side's check of the host links nsl<id>*
  local log = os.getenv("NSLUA_SPEC_IDLOG")
  local f = log and io.open(log, "a")
  if f then f:write(s, "\n") f:close() end
  return s
end
local function names()
  local t = {}
  for _, l in ipairs(assert(nl.links())) do t[#t + 1] = l.name end
  table.sort(t)
  return table.concat(t, " ")
end
local function noprefix(cidr) return (cidr:match("^[^/]+")) end
]]

-- The running test's tracker: the ids its plans use and the links its
-- code names must not appear in the host netns (they belong in the child's).
local tracker

-- The temp dir (fifos, scripts) belongs to the busted side, so it goes
-- even when the child fails half-way.
local function run(code)
  if tracker then helper.track_links(tracker, nil, code) end
  local dir = helper.tmpdir()
  local ok, out = helper.run_isolated(("local TMPDIR = %q\n"):format(dir) .. PRELUDE .. code)
  helper.rmtree(dir)
  assert(ok, out)
  return out
end

describe("nslua.net", function()
  describe("plan validation", function()
    it("plans none, host and the default", function()
      local p = net.plan(nil, "abcd1234")
      assert.equal("none", p.mode)
      assert.is_nil(p.share)
      assert.same({}, p.created)
      assert.equal("none", net.plan("none", "abcd1234").mode)
      local h = net.plan("host", "abcd1234")
      assert.is_true(h.share)
      assert.same({ "net: shares the host network namespace" }, net.explain(h))
      assert.same({ "net: own network namespace; lo up" }, net.explain(p))
      -- host/none need no privilege in the host netns
      assert.equal("none", net.plan(nil, "abcd1234", { rootless = true }).mode)
    end)

    it("raises on a bad spec, naming the field", function()
      local function bad(msg, spec, id, opts)
        assert.has_error(function() net.plan(spec, id or "abcd1234", opts) end, msg)
      end
      bad("net: id must be 8 characters of [a-z0-9] (got ABCD1234)", nil, "ABCD1234")
      bad("net: id must be 8 characters of [a-z0-9] (got abc)", nil, "abc")
      bad("net: field 'net' must be \"none\", \"host\", \"pasta\" or a table (got bogus)", "bogus")
      bad("net: field 'net' table needs 'veth' or 'bridge'", {})
      bad("net: unknown field 'net.vet'", { vet = {} })
      bad("net: field 'net' takes veth or bridge, not both", { veth = {}, bridge = "br0" })
      bad("net: unknown field 'net.addr'", { veth = {}, addr = "10.0.0.1/24" })
      bad("net: unknown field 'net.veth.hostaddr'", { veth = { hostaddr = "10.0.0.1/24" } })
      bad("net: field 'net.veth' must be a table", { veth = true })
      bad("net: veth.host must be an interface name of 1..15 bytes without '/', ':' or blanks"
        .. " (got nslabcd1234host0)", { veth = { host = "nslabcd1234host0" } })
      bad("net: veth.guest must be an interface name of 1..15 bytes without '/', ':' or blanks"
        .. " (got eth 0)", { veth = { guest = "eth 0" } })
      bad("net: veth.route must be \"default\" or false", { veth = { route = "yes" } })
      bad("net: veth.isolate_host must be a boolean", { veth = { isolate_host = "yes" } })
      bad('net: veth.host must be [A-Za-z0-9._-] with isolate_host (got h"x)',
        { veth = { host = 'h"x', isolate_host = true } })
      bad("net: veth.host_addr and veth.guest_addr go together",
        { veth = { host_addr = "10.231.0.1/30" } })
      bad("net: veth.host_addr must be an address with a /prefix (got 10.231.0.1)",
        { veth = { host_addr = "10.231.0.1", guest_addr = "10.231.0.2/30" } })
      bad("net: veth.host_addr must be an address with a /prefix (got 10.231.0.300/30)",
        { veth = { host_addr = "10.231.0.300/30", guest_addr = "10.231.0.2/30" } })
      bad("net: veth.host_addr must be an address with a /prefix (got 10.231.0.1/33)",
        { veth = { host_addr = "10.231.0.1/33", guest_addr = "10.231.0.2/30" } })
      bad("net: veth.guest_addr must be an IPv4 address (got fd00::2/64)",
        { veth = { host_addr = "10.231.0.1/30", guest_addr = "fd00::2/64" } })
      bad("net: veth.guest_addr 10.231.1.2/30 is not in the subnet of veth.host_addr 10.231.0.1/30",
        { veth = { host_addr = "10.231.0.1/30", guest_addr = "10.231.1.2/30" } })
      bad("net: veth.host_addr6 must be an IPv6 address (got 10.0.0.1/24)",
        { veth = { host_addr6 = "10.0.0.1/24", guest_addr6 = "10.0.0.2/24" } })
      bad("net: net.bridge must be an interface name of 1..15 bytes without '/', ':' or blanks"
        .. " (got a/b)", { bridge = "a/b" })
      bad("net: net.addr must be an address with a /prefix (got 10.0.0.2)",
        { bridge = "br0", addr = "10.0.0.2" })
      bad("net: net.gateway must be an address without /prefix (got 10.0.0.1/24)",
        { bridge = "br0", addr = "10.0.0.2/24", gateway = "10.0.0.1/24" })
      bad("net: net.gateway and net.addr must be of one family",
        { bridge = "br0", addr = "10.0.0.2/24", gateway = "fd00::1" })
      bad("net: unknown field 'net.gw'", { bridge = "br0", gw = "10.0.0.1" })
      bad("net: veth and bridge networking need CAP_NET_ADMIN in the host network namespace"
        .. " (rootless)", { veth = {} }, nil, { rootless = true })
      bad("net: veth and bridge networking need CAP_NET_ADMIN in the host network namespace"
        .. " (rootless)", { bridge = "br0" }, nil, { rootless = true })
      bad("net: net.addr takes at most one address per family",
        { bridge = "br0", addr = { "10.0.0.2/24", "10.0.1.2/24" } })
      bad("net: net.gateway takes at most one address per family",
        { bridge = "br0", gateway = { "10.0.0.1", "10.0.0.9" } })
      bad("net: net.gateway and net.addr must be of one family",
        { bridge = "br0", addr = { "10.0.0.2/24" }, gateway = { "10.0.0.1", "fd00::1" } })
    end)
  end)

  describe("#priv in a private host netns", function()
    before_each(function()
      if helper.is_root() then tracker = helper.track() end
    end)
    after_each(function()
      if tracker then helper.assert_released(tracker) end
      tracker = nil
    end)
    local function needs_root()
      if not helper.is_root() then
        pending("needs root")
        return true
      end
    end

    it("allocates a /30 of 10.231.0.0/16 and an fdXX::/64 pair from the id", function()
      if needs_root() then return end
      run([[
        local id = newid()
        local p = net.plan({ veth = {} }, id)
        eq("veth", p.mode) eq("nsl" .. id .. "h", p.host_if) eq("eth0", p.guest_if)
        eq(2, #p.host_addrs) eq(2, #p.guest_addrs)
        local a, b, c, d = p.host_addrs[1]:match("^10%.231%.(%d+)%.(%d+)/30$")
        assert(a, p.host_addrs[1])
        eq(1, tonumber(b) % 4, "host is the first address of its /30")
        eq(("10.231.%s.%d/30"):format(a, tonumber(b) + 1), p.guest_addrs[1])
        local pre = p.host_addrs[2]:match("^(fd%x%x:%x+:%x+::)1/64$")
        assert(pre, p.host_addrs[2])
        eq(pre .. "2/64", p.guest_addrs[2])
        eq("default", p.routes[1].dst) eq(noprefix(p.host_addrs[1]), p.routes[1].gateway)
        eq(noprefix(p.host_addrs[2]), p.routes[2].gateway) eq("inet6", p.routes[2].family)
        -- the same id plans the same; another id (almost surely) elsewhere
        eq(p.host_addrs[1], net.plan({ veth = {} }, id).host_addrs[1])
        local q = net.plan({ veth = { host = "nslx", guest = "wan0", route = false } }, newid())
        eq("nslx", q.host_if) eq("wan0", q.guest_if) eq(0, #q.routes) eq(false, q.route)
        local lines = table.concat(net.explain(p), "\n")
        assert(lines:find("guest: route default via " .. noprefix(p.host_addrs[1]) .. " dev eth0",
          1, true), lines)
        assert(lines:find("host: " .. p.host_if .. " address " .. p.host_addrs[2], 1, true), lines)
        local e = net.plan({ veth = { host_addr = "10.231.3.1/24", guest_addr = "10.231.3.9/24" } }, id)
        eq("10.231.3.1/24", e.host_addrs[1]) eq(1, #e.host_addrs)
      ]])
    end)

    it("two reserving plans whose ids start at one /30 never share it; the lock frees it #priv", function()
      if needs_root() then return end
      run([[
        -- ids whose default probe starts at the same /30 (a birthday search)
        local seen, a, b = {}, nil, nil
        while not a do
          local id = newid()
          local p = net.plan({ veth = {} }, id)
          local block = p.host_addrs[1]
          if seen[block] and seen[block] ~= id then a, b = seen[block], id end
          seen[block] = id
        end
        local pa, la = net.plan({ veth = {} }, a, { reserve = true })
        local pb, lb = net.plan({ veth = {} }, b, { reserve = true })
        eq(1, #la) eq(1, #lb)
        -- no link exists yet: only the lock tells b that a took the block
        assert(pa.host_addrs[1] ~= pb.host_addrs[1], "both plans took " .. pa.host_addrs[1])
        eq(pa.host_addrs[1], net.plan({ veth = {} }, a).host_addrs[1])
        -- without reserve (explain) nothing is locked
        local _, none = net.plan({ veth = {} }, b)
        eq(0, #none)
        la[1]:close()
        local pc, lc = net.plan({ veth = {} }, b, { reserve = true })
        eq(pa.host_addrs[1], pc.host_addrs[1])
        lb[1]:close()
        lc[1]:close()
        -- given addresses take no lock
        local _, lg = net.plan({ veth = { host_addr = "10.232.9.1/30", guest_addr = "10.232.9.2/30" } },
          a, { reserve = true })
        eq(0, #lg)
      ]])
    end)

    it("refuses addresses that overlap a host route; defaults probe past a taken /30", function()
      if needs_root() then return end
      run([[
        local id = newid()
        local free = net.plan({ veth = {} }, id)
        assert(nl.veth("nsloverlap0", "nsloverlap1"))
        assert(nl.link_set("nsloverlap0", { up = true }))
        -- a route to exactly the default /30: the plan moves on
        local block = free.host_addrs[1]:gsub("%.%d+/30$", function() return "." end)
        local base = tonumber(free.host_addrs[1]:match("%.(%d+)/30$")) - 1
        assert(nl.route_add{ dst = block .. base .. "/30", dev = "nsloverlap0" })
        local moved = net.plan({ veth = {} }, id)
        assert(moved.host_addrs[1] ~= free.host_addrs[1], "probed past the taken block")
        assert(moved.host_addrs[1]:match("^10%.231%."))
        -- the whole pool routed: refused
        assert(nl.addr_add("nsloverlap0", "10.231.0.1/16"))
        local ok, err = pcall(net.plan, { veth = {} }, id)
        eq(false, ok)
        assert(err:match("^net: veth%.host_addr 10%.231%.%d+%.%d+/30 %(default%) overlaps the host "
          .. "route 10%.231%.0%.0/16 dev nsloverlap0; choose another prefix$"), err)
        ok, err = pcall(net.plan, { veth = { host_addr = "10.231.9.1/30", guest_addr = "10.231.9.2/30" } }, id)
        eq("net: veth.host_addr 10.231.9.1/30 overlaps the host route 10.231.0.0/16 dev nsloverlap0;"
          .. " choose another prefix", err)
        -- elsewhere is fine, and so is a bridge address on the bridge's own subnet
        net.plan({ veth = { host_addr = "10.232.9.1/30", guest_addr = "10.232.9.2/30" } }, id)
        assert(nl.bridge("nslbrov"))
        assert(nl.link_set("nslbrov", { up = true }))
        assert(nl.addr_add("nslbrov", "10.240.0.1/24"))
        net.plan({ bridge = "nslbrov", addr = "10.240.0.7/24" }, id)
        ok, err = pcall(net.plan, { bridge = "nslbrx", addr = "10.240.0.7/24" }, id)
        eq("net: net.addr 10.240.0.7/24 overlaps the host route 10.240.0.0/24 dev nslbrov;"
          .. " choose another prefix", err)
        -- IPv6 too
        assert(nl.addr_add("nsloverlap0", "fd31:1::1/48"))
        net.plan({ veth = { host_addr6 = "fd31:2::1/64", guest_addr6 = "fd31:2::2/64" } }, id)
        ok, err = pcall(net.plan, { veth = { host_addr6 = "fd31:1:0:5::1/64", guest_addr6 = "fd31:1:0:5::2/64" } }, id)
        eq("net: veth.host_addr6 fd31:1:0:5::1/64 overlaps the host route fd31:1::/48 dev nsloverlap0;"
          .. " choose another prefix", err)
      ]])
    end)

    it("sets up lo in the child of a 'none' plan", function()
      if needs_root() then return end
      run([[
        local p = net.plan(nil, newid())
        eq(true, net.host_setup(p, 1))
        local go = T.fifo("go")
        local child = T.spawn(function()
          T.wait(go)
          eq(false, nl.link("lo").up)
          eq(true, net.guest_setup(p))
          eq(true, nl.link("lo").up)
          eq("lo", names())
        end)
        T.signal(go)
        T.reap(child)
        eq(true, net.host_cleanup(p))
      ]])
    end)

    it("isolate_host: the table inet nslua-<id> comes before the link and goes with it; release_id too",
      function()
      if needs_root() then return end
      if not helper.sh("command -v nft") then return pending("needs nft") end
      local out = run([[
        local function tables()
          local f = assert(io.popen("nft list tables"))
          local t = f:read("a"):gsub("\n", " ")
          f:close()
          return t
        end
        local id = newid()
        local p = net.plan({ veth = { isolate_host = true } }, id)
        eq("nslua-" .. id, p.nft)
        local lines = table.concat(net.explain(p), "\n")
        assert(lines:find(("host: nftables table inet nslua-%s: its input hook drops what arrives on "
          .. "nsl%sh except ICMPv6 neighbour discovery"):format(id, id), 1, true), lines)
        eq(nil, net.plan({ veth = {} }, id).nft)
        local go = T.fifo("go")
        local child = T.spawn(function() T.wait(go) end)
        eq(true, net.host_setup(p, child))
        eq("nft", p.created[1].kind) eq("veth", p.created[2].kind)
        eq("table inet nslua-" .. id .. " ", tables())
        T.signal(go)
        T.reap(child)
        eq(true, net.host_cleanup(p))
        eq("", tables())
        eq(true, net.host_cleanup(p))
        -- a dead run's record: release_id drops the table it names
        local q = net.plan({ veth = { isolate_host = true } }, id)
        local go2 = T.fifo("go2")
        child = T.spawn(function() T.wait(go2) end)
        eq(true, net.host_setup(q, child))
        T.signal(go2)
        T.reap(child)
        local _, terr = net.release_id(id, nil, "nslua-" .. id)
        eq(nil, terr)
        eq("", tables())
        -- a table already gone is fine; a name that is not this id's is never used
        eq(nil, select(2, net.release_id(id, nil, "nslua-" .. id)))
        assert(nft.run("add table inet nslua-zzzzzzzz"))
        net.release_id(id, nil, "nslua-zzzzzzzz")
        eq("table inet nslua-zzzzzzzz ", tables())
        io.write("done")
      ]])
      assert.equal("done", out)
    end)

    it("runs a veth plan end to end with TCP over v4 and v6, and cleans up", function()
      if needs_root() then return end
      local out = run([[
        local id = newid()
        local p = net.plan({ veth = {} }, id)
        local go = T.fifo("go")
        local child = T.spawn(function()
          T.wait(go)
          eq(true, net.guest_setup(p))
          eq(true, nl.link("lo").up) eq(true, nl.link("eth0").up)
          local out, rc = T.tcp_serve(7788, noprefix(p.guest_addrs[1]), noprefix(p.guest_addrs[2]))
          eq(0, rc, "server: " .. out)
        end)
        local inode = T.netns_inode(child)
        eq(true, net.host_setup(p, child))
        eq("lo " .. p.host_if, names())
        local h = assert(nl.link(p.host_if))
        eq(true, h.up) eq("nslua", h.alias) eq("veth", h.kind)
        eq(1, #p.created) eq(p.host_if, p.created[1].name)
        local mine = {}
        for _, a in ipairs(assert(nl.addrs(p.host_if))) do mine[a.cidr] = true end
        local h4, h6 = p.host_addrs[1], p.host_addrs[2]
        assert(mine[h4] and mine[h6], "host addresses")
        T.signal(go)
        local reply, rc = T.tcp_connect(7788, noprefix(p.guest_addrs[1]), noprefix(p.guest_addrs[2]))
        io.write((reply:gsub("%d+%.%d+%.%d+%.%d+", "V4"):gsub("fd[%x:]+", "V6")))
        eq(0, rc, "client")
        T.reap(child)
        eq(true, net.host_cleanup(p))
        eq(0, #p.created)
        eq("lo", names())
        eq(false, T.netns_alive(inode), "child netns gone")
        local _, _, e = proc.waitpid(-1, { nohang = true })
        eq(errno.ECHILD, e, "no child left")
        -- cleanup is idempotent
        eq(true, net.host_cleanup(p))
      ]])
      assert.equal("echo:hi V4\necho:hi V6\n", out)
    end)

    it("shares one bridge between two children; the last cleanup removes it", function()
      if needs_root() then return end
      local out = run([[
        local br = "nslbr" .. newid():sub(1, 5)
        local p1 = net.plan({ bridge = br, addr = "10.231.250.2/24", gateway = "10.231.250.1" }, newid())
        local p2 = net.plan({ bridge = br, addr = "10.231.250.3/24" }, newid())
        local go1, go2, done2 = T.fifo("go1"), T.fifo("go2"), T.fifo("done2")
        local c1 = T.spawn(function()
          T.wait(go1)
          eq(true, net.guest_setup(p1))
          eq("default via 10.231.250.1 dev eth0", (T.sh("ip route show default"):match("^%S+ %S+ %S+ %S+ %S+")))
          local out, rc = T.tcp_serve(7799, "10.231.250.2")
          eq(0, rc, "server: " .. out)
        end)
        local c2 = T.spawn(function()
          T.wait(go2)
          eq(true, net.guest_setup(p2))
          local out, rc = T.tcp_connect(7799, "10.231.250.2")
          io.write("c2: ", out)
          eq(0, rc, "client")
          T.wait(done2)
        end)
        eq(true, net.host_setup(p1, c1))
        local b = assert(nl.link(br))
        eq("bridge", b.kind) eq("nslua", b.alias) eq(true, b.up)
        eq(true, net.host_setup(p2, c2))
        eq(b.index, nl.link(p1.host_if).master) eq(b.index, nl.link(p2.host_if).master)
        local lines = table.concat(net.explain(p1), "\n")
        assert(lines:find("host: veth " .. p1.host_if .. " attached to " .. br, 1, true), lines)
        T.signal(go1)
        T.signal(go2)
        T.reap(c1)
        eq(true, net.host_cleanup(p1))
        assert(nl.link(br), "the bridge stays while c2 uses it")
        T.signal(done2)
        T.reap(c2)
        eq(true, net.host_cleanup(p2))
        eq(nil, nl.link(br), "the last cleanup removed the bridge")
        eq("lo", names())
        -- an operator's bridge (no nslua alias) is never removed
        assert(nl.bridge(br))
        local p3 = net.plan({ bridge = br }, newid())
        local c3 = T.spawn(function() T.wait(go1) end)
        eq(true, net.host_setup(p3, c3))
        T.signal(go1)
        T.reap(c3)
        eq(true, net.host_cleanup(p3))
        eq(br, (nl.link(br) or {}).name)
        assert(nl.link_del(br))
      ]])
      assert.equal("c2: echo:hi 10.231.250.2\n", out)
    end)

    it("a bridge plan takes an address per family; the gateways go on a bridge nslua owns", function()
      if needs_root() then return end
      run([[
        local br = "nslbg" .. newid():sub(1, 6)
        local p = net.plan({ bridge = br, addr = { "10.231.251.2/24", "fd31:9::2/64" },
                             gateway = { "10.231.251.1", "fd31:9::1" } }, newid())
        eq("10.231.251.2/24 fd31:9::2/64", table.concat(p.guest_addrs, " "))
        eq("10.231.251.1/24 fd31:9::1/64", table.concat(p.bridge_addrs, " "))
        eq(2, #p.routes) eq("fd31:9::1", p.routes[2].gateway) eq("inet6", p.routes[2].family)
        local lines = table.concat(net.explain(p), "\n")
        assert(lines:find("host: " .. br .. " address fd31:9::1/64 (when nslua owns the bridge)", 1, true), lines)
        local go, go2 = T.fifo("go"), T.fifo("go2")
        local function global_addrs()
          local t = {}
          for _, a in ipairs(assert(nl.addrs(br))) do
            if not a.cidr:match("^fe80:") then t[#t + 1] = a.cidr end
          end
          table.sort(t)
          return table.concat(t, " ")
        end
        local c = T.spawn(function() T.wait(go) end)
        assert(net.host_setup(p, c))
        eq("10.231.251.1/24 fd31:9::1/64", global_addrs(), "gateway addresses on the bridge")
        net.host_cleanup(p)
        eq(nil, nl.link(br), "the last cleanup removed the bridge")
        T.signal(go)
        T.reap(c)
        -- an operator's bridge keeps its own addresses: none are added
        assert(nl.bridge(br))
        local p2 = net.plan({ bridge = br, addr = "10.231.251.3/24", gateway = "10.231.251.1" }, newid())
        local c2 = T.spawn(function() T.wait(go2) end)
        assert(net.host_setup(p2, c2))
        eq("", global_addrs(), "addresses on the operator's bridge")
        net.host_cleanup(p2)
        assert(nl.link(br), "an operator's bridge stays")
        T.signal(go2)
        T.reap(c2)
        assert(nl.link_del(br))
        eq("lo", names())
      ]])
    end)

    it("release_id removes a dead id's links and its bridge once portless, nothing else", function()
      if needs_root() then return end
      run([[
        local dead, other = newid(), newid()
        raises("release_id: bad id \"x\"", function() net.release_id("x") end)
        for _, br in ipairs { "nslbrgc0", "nslbrgc1" } do
          assert(nl.bridge(br))
          assert(nl.link_set(br, { alias = "nslua" }))
        end
        assert(nl.bridge("nslbrop"))
        assert(nl.veth("nsl" .. dead .. "h", "peerdead"))
        assert(nl.link_set("nsl" .. dead .. "h", { alias = "nslua", master = "nslbrgc0" }))
        assert(nl.veth("nsl" .. other .. "h", "peerother"))
        assert(nl.link_set("nsl" .. other .. "h", { alias = "nslua" }))
        assert(nl.veth("nsl" .. dead .. "x", "peerown"))
        local removed = net.release_id(dead, "nslbrgc0")
        table.sort(removed)
        local gone = { "nsl" .. dead .. "h", "nslbrgc0" }
        table.sort(gone)
        eq(table.concat(gone, " "), table.concat(removed, " "))
        -- a portless nslua bridge no record names, an operator's bridge, a
        -- link without the alias and another id's link all stay
        local want = { "lo", "nsl" .. dead .. "x", "nsl" .. other .. "h", "nslbrgc1", "nslbrop",
                       "peerother", "peerown" }
        table.sort(want)
        eq(table.concat(want, " "), names())
        eq("nsl" .. other .. "h", table.concat(net.release_id(other, "nslbrop"), " "))
        eq(0, #net.release_id(dead, "nslbrgc0"))
      ]])
    end)
  end)
end)
