-- spec/core/netlink_spec.lua - core.netlink against the real kernel.  Every
-- test runs in a helper.run_isolated child that unshares its own network
-- namespace first (nettest.isolate): the host's interfaces are never touched.
local helper = require "helper"

local PRELUDE = [[
local T = require "support.nettest"
T.use_tmpdir(TMPDIR)
local core = T.isolate()
local nl, ns, proc, errno = core.netlink, core.ns, core.proc, core.errno
local eq, raises, fails = T.eq, T.raises, T.fails
]]

-- The running test's tracker: the links its code names must not appear in
-- the host netns (they belong in the child's own).
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

describe("nslua.core.netlink #priv", function()
  before_each(function()
    if not helper.is_root() then return end
    tracker = helper.track()
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

  describe("misuse", function()
    it("rejects bad interface names before building a message", function()
      if needs_root() then return end
      run([[
        raises("bad argument #1 to 'link' (interface name must be 1..15 bytes)",
          function() nl.link("abcdefghijklmnop") end)
        raises("bad argument #1 to 'link' (interface name must be 1..15 bytes)",
          function() nl.link("") end)
        raises("bad argument #1 to 'veth' (interface name must not contain '/', ':' or whitespace)",
          function() nl.veth("a/b", "c") end)
        raises("bad argument #2 to 'veth' (interface name must not contain '/', ':' or whitespace)",
          function() nl.veth("ab", "c d") end)
        raises("bad argument #1 to 'bridge' (interface name must not be '.' or '..')",
          function() nl.bridge("..") end)
        raises("bad argument #2 to 'link_set' (interface name must be 1..15 bytes)",
          function() nl.link_set("lo", { name = "x123456789abcdef" }) end)
        raises("bad argument #2 to 'link_set' (unknown option 'upp' (valid: alias mac master mtu name netns up))",
          function() nl.link_set("lo", { upp = true }) end)
        raises("bad argument #2 to 'link_set' (option 'up' must be a boolean)",
          function() nl.link_set("lo", { up = 1 }) end)
        raises("bad argument #2 to 'link_set' (option 'mac' must look like 'aa:bb:cc:dd:ee:ff')",
          function() nl.link_set("lo", { mac = "aa:bb" }) end)
        raises("bad argument #3 to 'veth' (netns table needs a positive integer 'pid')",
          function() nl.veth("a", "b", { pid = -1 }) end)
        raises("bad argument #1 to 'links' (nslua.nlsock expected, got number)",
          function() nl.links(3) end)
      ]])
    end)

    it("rejects bad addresses, prefixes and route specs naming the argument", function()
      if needs_root() then return end
      run([[
        raises("bad argument #2 to 'addr_add' (invalid address '10.0.0.300/24')",
          function() nl.addr_add("lo", "10.0.0.300/24") end)
        raises("bad argument #2 to 'addr_add' (prefix 33 out of range 0..32 in address '10.0.0.1/33')",
          function() nl.addr_add("lo", "10.0.0.1/33") end)
        raises("bad argument #2 to 'addr_del' (prefix 129 out of range 0..128 in address 'fd00::1/129')",
          function() nl.addr_del("lo", "fd00::1/129") end)
        raises("bad argument #2 to 'addr_add' (address '10.0.0.1' needs a /prefix)",
          function() nl.addr_add("lo", "10.0.0.1") end)
        raises("bad argument #2 to 'addr_add' (invalid prefix in address '10.0.0.1/2x')",
          function() nl.addr_add("lo", "10.0.0.1/2x") end)
        raises("bad argument #1 to 'route_add' (invalid prefix in dst '10.1.0.0/16x')",
          function() nl.route_add{ dst = "10.1.0.0/16x", dev = "lo" } end)
        raises("bad argument #1 to 'route_add' (invalid gateway 'nowhere')",
          function() nl.route_add{ dst = "default", gateway = "nowhere" } end)
        raises("bad argument #1 to 'route_add' (field 'gateway' does not match the family of 'dst')",
          function() nl.route_add{ dst = "10.1.0.0/16", gateway = "fd00::1" } end)
        raises("bad argument #1 to 'route_add' (a route needs field 'gateway' or field 'dev')",
          function() nl.route_add{ dst = "default" } end)
        raises("bad argument #1 to 'route_add' (unknown field 'via' "
          .. "(valid: dev dst family gateway metric onlink table))",
          function() nl.route_add{ dst = "default", via = "10.0.0.1" } end)
        raises("bad argument #1 to 'routes' (invalid option 'ipx')",
          function() nl.routes("ipx") end)
      ]])
    end)

    it("raises on a closed socket box", function()
      if needs_root() then return end
      run([[
        local s = assert(nl.socket())
        assert(s:close())
        assert(s:closed())
        eq("nslua.nlsock (closed)", tostring(s))
        raises("bad argument #1 to 'links' (attempt to use a closed netlink socket)",
          function() nl.links(s) end)
      ]])
    end)
  end)

  describe("links", function()
    it("shows only lo, down, in a fresh netns; link_set brings it up", function()
      if needs_root() then return end
      local out = run([[
        local links = assert(nl.links())
        eq(1, #links, "link count")
        local lo = links[1]
        eq("lo", lo.name) eq(1, lo.index) eq(false, lo.up) eq(false, lo.running)
        eq(true, lo.flags.loopback) eq(nil, lo.flags.up) eq(nil, lo.kind)
        eq(65536, lo.mtu) eq("00:00:00:00:00:00", lo.mac) eq(nil, lo.master)
        eq(true, nl.link_set("lo", { up = true }))
        lo = assert(nl.link("lo"))
        eq(true, lo.up) eq(true, lo.flags.up) eq(true, lo.flags.running)
        io.write((T.sh("ip -o link show lo")))
      ]])
      assert.matches("<LOOPBACK,UP,LOWER_UP>", out, 1, true)
    end)

    it("reports a missing link as ENODEV", function()
      if needs_root() then return end
      run([[
        fails("^link 'nslx0': No such device$", errno.ENODEV, nl.link("nslx0"))
        fails("^link_set 'nslx0': No such device$", errno.ENODEV, nl.link_set("nslx0", { up = true }))
        fails("^link_del 'nslx0': No such device$", errno.ENODEV, nl.link_del("nslx0"))
        fails("^addr_add 'nslx0 10.231.0.1/24': No such device$", errno.ENODEV,
          nl.addr_add("nslx0", "10.231.0.1/24"))
        fails("^addrs 'nslx0': No such device$", errno.ENODEV, nl.addrs("nslx0"))
      ]])
    end)

    it("sets mtu, mac, alias and a new name", function()
      if needs_root() then return end
      local out = run([[
        assert(nl.veth("nsla", "nslb"))
        assert(nl.link_set("nsla", { mtu = 1400, mac = "02:00:00:aa:bb:cc", alias = "nslua test",
                                     name = "nslc" }))
        fails("^link 'nsla'", errno.ENODEV, nl.link("nsla"))
        local l = assert(nl.link("nslc"))
        eq(1400, l.mtu) eq("02:00:00:aa:bb:cc", l.mac) eq("nslua test", l.alias) eq("veth", l.kind)
        eq(nl.link("nslb").index, l.link, "peer index")
        assert(nl.link_set("nslc", { alias = "" }))
        eq(nil, nl.link("nslc").alias)
        io.write((T.sh("ip -o link show nslc")))
      ]])
      assert.matches("mtu 1400", out, 1, true)
      assert.matches("link/ether 02:00:00:aa:bb:cc", out, 1, true)
    end)
  end)

  describe("veth", function()
    it("creates a pair in the same netns; a duplicate is EEXIST", function()
      if needs_root() then return end
      local out = run([[
        eq(true, nl.veth("nslv0", "nslv1"))
        local a, b = assert(nl.link("nslv0")), assert(nl.link("nslv1"))
        eq("veth", a.kind) eq("veth", b.kind)
        eq(b.index, a.link) eq(a.index, b.link)
        fails("^veth 'nslv0': File exists", errno.EEXIST, nl.veth("nslv0", "nslv2"))
        eq(nil, nl.link("nslv2"), "no half-made peer")
        io.write(T.ip_links(), "\n")
        eq(true, nl.link_del("nslv0"))
        io.write(T.ip_links(), "\n")
      ]])
      assert.equal("lo nslv0 nslv1\nlo\n", out)
    end)

    it("creates the peer directly in another netns ({pid = n})", function()
      if needs_root() then return end
      local out = run([[
        local go = T.fifo("go")
        local child = T.spawn(function()
          T.wait(go)
          io.write("child: ", T.ip_links(), "\n")
          local l = assert(nl.link("nslp1"))
          eq("veth", l.kind)
          assert(l.link_netnsid ~= nil, "peer sits in another netns")
        end)
        local inode = T.netns_inode(child)
        eq(true, nl.veth("nslp0", "nslp1", { pid = child }))
        eq(nil, nl.link("nslp1"), "peer is not here")
        assert(nl.link("nslp0").link_netnsid ~= nil)
        io.write("parent: ", T.ip_links(), "\n")
        T.signal(go)
        T.reap(child)
        -- the netns died with the child and took the pair with it
        eq(false, T.netns_alive(inode), "child netns gone")
        for _ = 1, 100 do
          if not nl.link("nslp0") then break end
          os.execute("sleep 0.05")
        end
        fails("^link 'nslp0': No such device", errno.ENODEV, nl.link("nslp0"))
      ]])
      assert.matches("parent: lo nslp0\n", out, 1, true)
      assert.matches("child: lo nslp1\n", out, 1, true)
    end)

    it("places the peer by netns fd; a dead pid is ESRCH", function()
      if needs_root() then return end
      run([[
        local go = T.fifo("go")
        local child = T.spawn(function()
          T.wait(go)
          assert(nl.link("nslq1"), "peer arrived")
        end)
        local keep, fd = T.netns_fd(child)
        eq(true, nl.veth("nslq0", "nslq1", fd))
        keep:close()
        T.signal(go)
        T.reap(child)
        fails("^veth 'nslq2': No such process", errno.ESRCH, nl.veth("nslq2", "nslq3", { pid = child }))
      ]])
    end)
  end)

  describe("bridge", function()
    it("creates a bridge, enslaves and releases a port, deletes it", function()
      if needs_root() then return end
      local out = run([[
        eq(true, nl.bridge("nslbr0"))
        fails("^bridge 'nslbr0': File exists", errno.EEXIST, nl.bridge("nslbr0"))
        assert(nl.veth("nslv0", "nslv1"))
        local br = assert(nl.link("nslbr0"))
        eq("bridge", br.kind)
        eq(true, nl.link_set("nslv0", { master = "nslbr0", up = true }))
        eq(br.index, nl.link("nslv0").master)
        io.write(T.sh("ip -o link show master nslbr0"):match("nslv0") or "?", "\n")
        eq(true, nl.link_set("nslv0", { master = false }))
        eq(nil, nl.link("nslv0").master)
        eq(true, nl.link_set("nslv0", { master = br.index }))
        eq(br.index, nl.link("nslv0").master)
        fails("^link_set master 'nslbr9': No such device", errno.ENODEV,
          nl.link_set("nslv0", { master = "nslbr9" }))
        eq(true, nl.link_del("nslbr0"))
        eq(nil, nl.link("nslv0").master)
      ]])
      assert.equal("nslv0\n", out)
    end)
  end)

  describe("addresses", function()
    it("adds, lists and deletes v4 and v6 (v6 without DAD)", function()
      if needs_root() then return end
      local out = run([[
        assert(nl.veth("nsla0", "nsla1"))
        eq(true, nl.addr_add("nsla0", "10.231.9.1/24"))
        eq(true, nl.addr_add("nsla0", "fd31:9::1/64"))
        assert(nl.link_set("nsla0", { up = true }))
        assert(nl.link_set("nsla1", { up = true }))
        local got = {}
        for _, a in ipairs(assert(nl.addrs("nsla0"))) do
          if a.addr:match("^fe80:") then
            eq(true, a.flags.tentative, "link-local address still in DAD")
            goto continue
          end
          got[#got + 1] = ("%s %s %s %d %s %s"):format(a.ifname, a.family, a.addr, a.prefix, a.cidr,
            tostring(a.flags.tentative))
          eq(nl.link("nsla0").index, a.index)
          ::continue::
        end
        table.sort(got)
        io.write(table.concat(got, "\n"), "\n")
        assert(nl.link_set("lo", { up = true }))
        local all = assert(nl.addrs())
        local lo = 0
        for _, a in ipairs(all) do if a.ifname == "lo" then lo = lo + 1 end end
        eq(2, lo, "lo addresses in the full list")
        io.write((T.sh("ip -6 addr show dev nsla0 | grep fd31 | grep -c tentative")))
        fails("^addr_add 'nsla0 10.231.9.1/24': File exists %(.+%)$", errno.EEXIST,
          nl.addr_add("nsla0", "10.231.9.1/24"))
        eq(true, nl.addr_del("nsla0", "10.231.9.1/24"))
        eq(true, nl.addr_del("nsla0", "fd31:9::1/64"))
        fails("^addr_del 'nsla0 10.231.9.1/24': Cannot assign requested address", errno.EADDRNOTAVAIL,
          nl.addr_del("nsla0", "10.231.9.1/24"))
        for _, a in ipairs(assert(nl.addrs("nsla0"))) do
          assert(a.addr:match("^fe80:"), "left: " .. a.cidr)
        end
      ]])
      assert.equal(table.concat({
        "nsla0 inet 10.231.9.1 24 10.231.9.1/24 nil",
        "nsla0 inet6 fd31:9::1 64 fd31:9::1/64 nil",
        "0",
      }, "\n") .. "\n", out)
    end)
  end)

  describe("routes", function()
    it("adds a default route via a gateway, lists and deletes it", function()
      if needs_root() then return end
      local out = run([[
        assert(nl.veth("nslr0", "nslr1"))
        assert(nl.link_set("nslr0", { up = true }))
        assert(nl.addr_add("nslr0", "10.231.8.1/24"))
        assert(nl.addr_add("nslr0", "fd31:8::1/64"))
        eq(true, nl.route_add{ dst = "default", gateway = "10.231.8.254" })
        eq(true, nl.route_add{ dst = "default", gateway = "fd31:8::fe", dev = "nslr0" })
        eq(true, nl.route_add{ dst = "10.232.0.0/16", dev = "nslr0" })
        eq(true, nl.route_add{ dst = "10.233.0.0/16", gateway = "10.9.9.9", dev = "nslr0", onlink = true })
        fails("^route_add 'default': File exists", errno.EEXIST,
          nl.route_add{ dst = "default", gateway = "10.231.8.254" })
        fails("^route_add '10.234.0.0/16': Network is unreachable %(.+%)$", errno.ENETUNREACH,
          nl.route_add{ dst = "10.234.0.0/16", gateway = "10.9.9.9" })
        local got = {}
        for _, r in ipairs(assert(nl.routes())) do
          if r.table == 254 and r.dst ~= "fe80::/64" then
            got[#got + 1] = ("%s %s %s %s"):format(r.family, r.dst, r.gateway or "-", r.dev or "-")
          end
        end
        table.sort(got)
        io.write(table.concat(got, "\n"), "\n")
        for _, r in ipairs(assert(nl.routes("inet6"))) do eq("inet6", r.family) end
        io.write((T.sh("ip route show default"):match("^default via %S+ dev %S+")), "\n")
        eq(true, nl.route_del{ dst = "default", gateway = "10.231.8.254" })
        eq(true, nl.route_del{ dst = "default", family = "inet6" })
        fails("^route_del 'default': No such process", errno.ESRCH, nl.route_del{ dst = "default" })
      ]])
      assert.equal(table.concat({
        "inet 10.231.8.0/24 - nslr0",
        "inet 10.232.0.0/16 - nslr0",
        "inet 10.233.0.0/16 10.9.9.9 nslr0",
        "inet default 10.231.8.254 nslr0",
        "inet6 default fd31:8::fe nslr0",
        "inet6 fd31:8::/64 - nslr0",
        "default via 10.231.8.254 dev nslr0",
      }, "\n") .. "\n", out)
    end)
  end)

  describe("dumps", function()
    it("are read again when the kernel marks them interrupted (NLM_F_DUMP_INTR)", function()
      if needs_root() then return end
      if not helper.sh("command -v ip") then return pending("needs ip") end
      run([[
        -- enough links and routes that a dump takes several datagrams ...
        for i = 1, 40 do
          local a, b = ("nsldi%da"):format(i), ("nsldi%db"):format(i)
          assert(nl.veth(a, b))
          assert(nl.link_set(a, { up = true }))
          assert(nl.addr_add(a, ("10.231.%d.1/24"):format(i)))
        end
        -- ... while a shell changes links, addresses and routes under it
        -- the shell also ends when our temp dir is gone (a test that failed
        -- before writing 'stop') and after a bounded number of rounds
        local dir = T.tmpdir()
        local stop = dir .. "/stop"
        os.execute(("sh -c 'i=0; while [ -d %s ] && [ ! -e %s ] && [ $i -lt 20000 ]; do i=$((i+1)); "
          .. "ip link add nsldix type veth peer name nsldiy; "
          .. "ip link set nsldix up; ip addr add 10.232.0.1/24 dev nsldix; ip link del nsldix; done' "
          .. ">/dev/null 2>&1 &"):format(dir, stop))
        local failed, n = {}, 0
        for _ = 1, 150 do
          for _, f in ipairs { "links", "addrs", "routes" } do
            local list, err = nl[f]()
            n = n + 1
            if not list then failed[#failed + 1] = f .. ": " .. err end
          end
        end
        assert(io.open(stop, "w")):close()
        -- the shell notices 'stop' within one iteration; its links go with the netns
        T.sh("sleep 0.3")
        eq(0, #failed, ("failed dumps of %d: %s"):format(n, table.concat(failed, "; ")))
        local links = assert(nl.links())
        eq(true, #links >= 81, "links listed")
      ]])
    end)
  end)

  describe("socket boxes", function()
    it("share one socket across a batch; close and __close", function()
      if needs_root() then return end
      run([[
        do
          local s <close> = assert(nl.socket())
          assert(nl.veth("nsls0", "nsls1", nil, s))
          assert(nl.link_set("nsls0", { up = true }, s))
          assert(nl.addr_add("nsls0", "10.231.7.1/24", s))
          eq(1, #assert(nl.addrs("nsls0", s)))
          eq(3, #assert(nl.links(s)))
          assert(#assert(nl.routes(s)) > 0)
          assert(#assert(nl.addrs(s)) >= 1)
          fails("^veth 'nsls0': File exists", errno.EEXIST, nl.veth("nsls0", "nsls1", nil, s))
          eq(true, nl.link("nsls0", s).up, "the socket still works after a NACK")
          assert(nl.link_del("nsls0", s))
        end
      ]])
    end)

    it("opens a socket inside another netns (by fd and by pid) and lists its links", function()
      if needs_root() then return end
      local out = run([[
        local go = T.fifo("go")
        local child = T.spawn(function()
          assert(nl.veth("nslchild0", "nslchild1"))
          T.wait(go)
        end)
        for _ = 1, 200 do
          local s = assert(nl.socket({ pid = child }))
          local found = nl.link("nslchild0", s)
          s:close()
          if found then break end
          os.execute("sleep 0.05")
        end
        local keep, fd = T.netns_fd(child)
        local s = assert(nl.socket(fd))
        keep:close()
        local names = {}
        for _, l in ipairs(assert(nl.links(s))) do names[#names + 1] = l.name end
        table.sort(names)
        io.write(table.concat(names, " "), "\n")
        -- the socket acts in the child's netns; we are still in ours
        eq(nil, nl.link("nslchild0"))
        io.write(T.ip_links(), "\n")
        assert(nl.link_set("nslchild0", { up = true }, s))
        s:close()
        T.signal(go)
        T.reap(child)
        fails("^open '/proc/" .. child .. "/ns/net': No such file or directory", errno.ENOENT,
          nl.socket({ pid = child }))
      ]])
      assert.equal("lo nslchild0 nslchild1\nlo\n", out)
    end)
  end)

  describe("sockets", function()
    it("raises on a bad netns argument", function()
      if needs_root() then return end
      run([[
        raises("bad argument #1 to 'sockets' (netns table needs a positive integer 'pid')",
          function() nl.sockets({ pid = 0 }) end)
      ]])
    end)

    it("fails with the triple for a netns it cannot enter", function()
      if needs_root() then return end
      run([[
        local child = T.spawn(function() end)
        T.reap(child)
        fails("^open '/proc/" .. child .. "/ns/net': No such file or directory", errno.ENOENT,
          nl.sockets({ pid = child }))
        local f <close> = assert(proc.open("/dev/null", { rdonly = true }))
        fails("^setns 'netns': Invalid argument", errno.EINVAL, nl.sockets(f))
      ]])
    end)

    it("lists every socket of a netns, TIME_WAIT and abstract names included", function()
      if needs_root() then return end
      local out = run([[
        assert(core.setup.net { lo = true })
        eq(0, #assert(nl.sockets()), "sockets of a fresh netns")
        -- a process of a second netns holds sockets of every kind while we look
        -- from here by pid and by fd; one connection is already in TIME_WAIT
        local go, ready = T.fifo("go"), T.tmpdir() .. "/ready"
        local child = T.spawn(function()
          assert(core.setup.net { lo = true })
          assert(os.execute(("unset LD_PRELOAD; exec python3 -c '%s' %s %s"):format([=[
import socket, sys
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); u.bind(b"\0nslua-spec-sock")
p = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); p.bind(b"\0nslua-spec-listen"); p.listen()
l = socket.socket(); l.bind(("127.0.0.1", 7311)); l.listen()
c = socket.socket(); c.connect(("127.0.0.1", 7311)); s, _ = l.accept(); s.close(); c.close()
b = socket.socket(); b.bind(("127.0.0.1", 7312))
d = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); d.bind(("::1", 7313))
open(sys.argv[1], "w").close()
open(sys.argv[2]).read()
]=], ready, go)))
        end)
        while not io.open(ready) do os.execute("sleep 0.05") end
        local keep, fd = T.netns_fd(child)
        local by_fd = assert(nl.sockets(fd))
        keep:close()
        local by_pid = assert(nl.sockets({ pid = child }))
        eq(#by_fd, #by_pid, "the same netns by fd and by pid")
        local seen = {}
        for _, e in ipairs(by_pid) do
          seen[#seen + 1] = ("%s %s %s %s"):format(e.kind, e.state or "-", e.name or e.port or "-",
            e.type or e.protocol or "-")
          assert(math.type(e.inode) == "integer")
        end
        table.sort(seen)
        io.write(table.concat(seen, "\n"), "\n")
        T.signal(go)
        T.reap(child)
        -- ours is still empty: the listing is of the netns named
        eq(0, #assert(nl.sockets()), "sockets of our netns")
      ]])
      assert.equal(table.concat({
        "tcp close 7312 tcp",           -- bound, neither listening nor connected
        "tcp listen 7311 tcp",
        "tcp time_wait 7311 tcp",       -- the server end, closed first
        "udp6 close 7313 udp",
        "unix close @nslua-spec-sock dgram",
        "unix listen @nslua-spec-listen stream",
      }, "\n") .. "\n", out)
    end)
  end)

  describe("traffic", function()
    it("carries TCP over v4 and v6 across a veth pair between two netns", function()
      if needs_root() then return end
      local out = run([[
        local go = T.fifo("go")
        local child = T.spawn(function()
          T.wait(go)
          assert(nl.link_set("lo", { up = true }))
          assert(nl.addr_add("nslt1", "10.231.77.2/30"))
          assert(nl.addr_add("nslt1", "fd31:77::2/64"))
          assert(nl.link_set("nslt1", { up = true }))
          local out, rc = T.tcp_serve(7777, "10.231.77.2", "fd31:77::2")
          eq(0, rc, "server: " .. out)
        end)
        local inode = T.netns_inode(child)
        assert(nl.veth("nslt0", "nslt1", { pid = child }))
        assert(nl.addr_add("nslt0", "10.231.77.1/30"))
        assert(nl.addr_add("nslt0", "fd31:77::1/64"))
        assert(nl.link_set("nslt0", { up = true }))
        T.signal(go)
        local reply, rc = T.tcp_connect(7777, "10.231.77.2", "fd31:77::2")
        io.write(reply)
        eq(0, rc, "client")
        T.reap(child)
        eq(false, T.netns_alive(inode), "child netns gone")
        local _, _, e = proc.waitpid(-1, { nohang = true })
        eq(errno.ECHILD, e, "no child left")
      ]])
      assert.equal("echo:hi 10.231.77.2\necho:hi fd31:77::2\n", out)
    end)
  end)
end)
