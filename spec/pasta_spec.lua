-- spec/pasta_spec.lua - net = "pasta" (nslua.pasta): plans, validation and
-- the CLI in the busted process; real runs, root and rootless, in a private
-- "host" (spec/support/net/pasta_host.sh under `unshare -m -n`: a template
-- interface 192.0.2.1/24 with a default route, servers on 198.51.100.1, a
-- private 0666 /dev/net/tun and resolv.conf, a private nslua state root).
local helper = require "helper"
local net = require "nslua.net"
local pasta = require "nslua.pasta"
local validate = require "nslua.validate"

local q = helper.quote
local HOST = helper.root .. "/spec/support/net/pasta_host.sh"

describe("net = \"pasta\"", function()
  describe("net.parse_publish", function()
    it("parses HOSTPORT:GUESTPORT[/proto] with an optional address", function()
      assert.same({ host_port = 8080, guest_port = 80, proto = "tcp" }, net.parse_publish("8080:80"))
      assert.same({ host_port = 53, guest_port = 5353, proto = "udp" }, net.parse_publish("53:5353/udp"))
      assert.same({ host_ip = "192.0.2.1", host_port = 1, guest_port = 65535, proto = "tcp" },
        net.parse_publish("192.0.2.1:1:65535/tcp"))
      assert.same({ host_ip = "2001:db8::1", host_port = 80, guest_port = 80, proto = "tcp" },
        net.parse_publish("[2001:db8::1]:80:80"))
    end)

    it("refuses what it cannot parse, naming the problem", function()
      for _, bad in ipairs { "80", "0:80", "80:65536", "80:80/sctp", "a:80:80", "1.2.3:80:80",
                             "2001:db8::1:80:80", "80:80/", "" } do
        local p, err = net.parse_publish(bad)
        assert.is_nil(p, bad)
        assert.is_string(err, bad)
      end
      assert.is_nil((net.parse_publish(42)))
      assert.matches("tcp or udp", select(2, net.parse_publish("80:80/sctp")))
    end)
  end)

  describe("plans and validation", function()
    it("plans pasta with its published ports", function()
      local p = net.plan("pasta", "abcd1234")
      assert.equal("pasta", p.mode)
      assert.same({}, p.publish)
      p = net.plan({ pasta = true, publish = { "8080:80", "127.0.0.1:5353:53/udp" } }, "abcd1234")
      assert.same({ { host_port = 8080, guest_port = 80, proto = "tcp" },
                    { host_ip = "127.0.0.1", host_port = 5353, guest_port = 53, proto = "udp" } },
        p.publish)
      assert.has_error(function() net.plan({ pasta = true, publish = { "x" } }, "abcd1234") end,
        "net: net.publish[1]: must be [IP:]HOSTPORT:GUESTPORT[/tcp|/udp], an IPv6 address in brackets (got x)")
      assert.has_error(function() net.plan({ pasta = true, veth = {} }, "abcd1234") end,
        "net: unknown field 'net.veth'")
    end)

    it("names the package when pasta is missing (a run's plan only)", function()
      local bin = pasta.BIN
      pasta.BIN = "/nonexistent/pasta"
      local ok, err = pcall(net.plan, "pasta", "abcd1234", { reserve = true })
      local explain_ok = pcall(net.plan, "pasta", "abcd1234")
      pasta.BIN = bin
      assert.is_false(ok)
      assert.matches("package passt", err)
      assert.is_true(explain_ok)
    end)

    it("the fixed argv forwards only the published ports", function()
      local argv = pasta.argv({ publish = {} }, 5, 6, 7, false)
      assert.equal(pasta.BIN, argv[1])
      local text = table.concat(argv, " ")
      assert.matches("%-%-netns /proc/self/fd/5 %-%-userns /proc/self/fd/6", text)
      assert.matches("%-%-pid /proc/self/fd/7", text)
      assert.matches("%-T none %-U none", text)
      assert.matches("%-t none %-u none", text)
      assert.matches("%-%-no%-map%-gw", text)
      assert.not_matches("runas", text)
      text = table.concat(pasta.argv(net.plan({ pasta = true, publish = { "8080:80", "192.0.2.1:53:53/udp" } },
        "abcd1234"), 5, 6, 7, true), " ")
      assert.matches("%-t 8080:80 %-u 192.0.2.1/53:53 %-%-runas 0:0$", text)
    end)

    it("validates the spec's net.publish and adds the resolv.conf mount", function()
      local s = validate.validate { argv = { "true" }, net = "pasta" }
      local m = s.mounts[#s.mounts]
      assert.equal("/etc/resolv.conf", m.target)
      assert.equal(pasta.resolv_conf(), m.content)
      -- the spec's own resolv.conf stays the only one
      s = validate.validate { argv = { "true" }, net = { pasta = true },
        mounts = { { type = "file", target = "/etc/resolv.conf", content = "nameserver 192.0.2.53\n" } } }
      assert.equal(1, #s.mounts)
      local out, errs = validate.check { argv = { "true" }, net = { pasta = true, publish = { "8080:80", 7 } } }
      assert.is_nil(out)
      assert.same({ "net.publish[2]: must be a string" }, errs)
      out, errs = validate.check { argv = { "true" }, net = { pasta = "yes" } }
      assert.is_nil(out)
      assert.same({ "net.pasta: must be true" }, errs)
    end)

    it("proc.open tmpfile: the unnamed file pasta's messages go to", function()
      local proc = require("nslua.core").proc
      local dir = helper.tmpdir()
      local fd = assert(proc.open(dir, { rdwr = true, tmpfile = true }, 384))
      assert(proc.write(fd, "pasta says\n"))
      local f = assert(io.open(("/proc/self/fd/%d"):format(fd:fileno())))
      assert.equal("pasta says\n", f:read("a"))
      f:close()
      fd:close()
      local _, out = helper.sh("ls -A " .. q(dir))
      helper.rmtree(dir)
      assert.equal("", out)
    end)

    it("the CLI: --net pasta --publish, bad input is exit 125", function()
      local ok, out = helper.sh(helper.nslua .. " explain --net pasta --publish 8080:80 -- true")
      assert.is_true(ok, out)
      assert.matches("publish tcp 8080:80", out)
      assert.matches("file /etc/resolv.conf", out)
      local code
      ok, out, code = helper.sh(helper.nslua .. " run --publish 8080:80 -- true")
      assert.is_false(ok)
      assert.equal(125, code)
      assert.matches("%-%-publish needs %-%-net veth, %-%-net bridge:%.%.%. or %-%-net pasta", out)
      ok, out, code = helper.sh(helper.nslua .. " run --net pasta --publish 80 -- true")
      assert.is_false(ok)
      assert.equal(125, code)
      assert.matches("%-%-publish 80: must be", out)
      assert.not_matches("traceback", out)
    end)
  end)

  describe("runs", function()
    local skip
    setup(function()
      if not helper.is_root() then
        skip = "needs root (the test's private network and mount namespaces)"
      elseif pasta.missing() then
        skip = "needs passt (apt install passt)"
      elseif not helper.sh("test -x /usr/bin/python3 && command -v unshare && command -v pgrep && command -v ip") then
        skip = "needs /usr/bin/python3, unshare, pgrep and ip"
      end
    end)

    -- pasta_host.sh MODE as root or as the rootless test user; output.
    local function host(mode, rootless)
      local t = helper.track()
      local dir = helper.tmpdir("0755")
      local nslua = rootless and helper.rootless_nslua() or helper.nslua
      local _, out = helper.sh(("cd /tmp && timeout 120 unshare -m -n %s %s %s %d %s"):format(
        q(HOST), q(dir), mode, rootless and helper.ROOTLESS_UID or 0, nslua))
      helper.rmtree(dir)
      helper.assert_released(t)
      return out
    end

    for _, who in ipairs { "root", "rootless" } do
      local rootless = who == "rootless"

      it(who .. ": outbound TCP and UDP, DNS through the stub, a published port", function()
        if skip then return pending(skip) end
        local out = host("run", rootless)
        assert.matches("resolv: nameserver " .. pasta.DNS:gsub("%.", "%%."), out)
        assert.matches("tcp: tcp%-echo:hi", out)
        assert.matches("udp: udp%-echo:hu", out)
        assert.matches("dns: 203%.0%.113%.7", out)
        assert.matches("host got: published:from%-host", out)
        assert.matches("served", out)
        assert.matches("nslua exit: 0", out)
        assert.matches("pasta pid: %d+", out)
        assert.matches("pasta session: own", out)
        assert.not_matches("pasta left", out)
        assert.not_matches("state left", out)
      end)

      it(who .. ": pasta ends when nslua is SIGKILLed", function()
        if skip then return pending(skip) end
        local out = host("kill", rootless)
        assert.matches("pasta pid: %d+", out)
        assert.matches("pasta gone", out)
      end)

      it(who .. ": gc kills a pasta its record names", function()
        if skip then return pending(skip) end
        local out = host("gc", rootless)
        assert.matches("pasta pid: %d+", out)
        assert.matches("pasta alive before gc", out)
        assert.matches("pasta gone", out)
        assert.not_matches("state left", out)
      end)
    end

    it("rootless without access to /dev/net/tun: exit 125 pointing to doctor", function()
      if skip then return pending(skip) end
      if helper.sh(helper.SETPRIV .. " sh -c 'test -r /dev/net/tun && test -w /dev/net/tun'") then
        return pending("the machine's /dev/net/tun is open to the test user")
      end
      local out = host("notun", true)
      assert.matches("nslua exit: 125", out)
      assert.matches("cannot open /dev/net/tun: see nslua doctor", out)
      assert.not_matches("state left", out)
    end)

    it("a missing passt is exit 125 naming the package", function()
      if skip then return pending(skip) end
      -- passt hidden in a private mount namespace only
      local _, out, code = helper.sh(("unshare -m sh -c %s"):format(q(
        "mount --bind /dev/null /usr/bin/passt && exec " .. helper.nslua .. " run --net pasta -- true")))
      assert.equal(125, code, out)
      assert.matches("package passt", out)
    end)
  end)
end)
