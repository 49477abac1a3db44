-- spec/core/caps_spec.lua - core.caps: names, parsing, reading the sets,
-- and changing them in children (run_isolated as root, run_rootless as an
-- unprivileged user), observed through /proc/<pid>/status.
local helper = require "helper"
local core = require "nslua.core"
local caps, E = core.caps, core.errno

local ESRCH <const> = 3

local function priv()
  if not helper.is_root() then
    pending("needs root")
    return false
  end
  return true
end

-- The Cap* lines of a status file as {CapEff = 0x..., ...}.
local function status_caps(text)
  local t = {}
  for k, v in text:gmatch("(Cap%a+):%s*(%x+)") do t[k] = tonumber(v, 16) end
  return t
end

-- A list of names as the bit mask /proc shows.
local function mask(list)
  local bit = {}
  for i, n in ipairs(caps.names()) do bit[n] = i - 1 end
  local m = 0
  for _, n in ipairs(list) do m = m | (1 << assert(bit[n], n)) end
  return m
end

-- Prepended to child code: core and a status reader.
local PRE = [[
local core = require "nslua.core"
local caps, proc = core.caps, core.proc
local function status()
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  local t = {}
  for k, v in s:gmatch("(Cap%a+):%s*(%x+)") do t[#t + 1] = k .. "=" .. v end
  return table.concat(t, " ")
end
local function T(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
local function done()
  io.stdout:flush()
  proc._exit(0)
end
]]

local function isolated(code)
  local ok, out = helper.run_isolated(PRE .. code)
  assert(ok, out)
  return out
end

local function rootless(code)
  local ok, out = helper.run_rootless(PRE .. code)
  assert(ok, out)
  return out
end

teardown(function()
  helper.cleanup_rootless_tree()
end)

describe("nslua.core.caps", function()
  describe("names and parse", function()
    it("lists every capability the kernel supports, in bit order", function()
      local last = tonumber(helper.read("/proc/sys/kernel/cap_last_cap"))
      local names = caps.names()
      assert.equal(last + 1, #names)
      assert.equal("cap_chown", names[1])
      assert.equal("cap_net_bind_service", names[11])
      assert.equal("cap_sys_admin", names[22])
    end)

    it("canonicalises names: prefix optional, any case, duplicates once", function()
      assert.same({ "cap_net_bind_service", "cap_sys_admin", "cap_chown" },
        caps.parse { "net_bind_service", "CAP_SYS_ADMIN", "Chown", "cap_net_bind_service" })
      assert.same({}, caps.parse {})
    end)

    it("raises on unknown names and non-strings", function()
      assert.has_error(function() caps.parse { "chown", "cap_foo" } end,
        "bad argument #1 to 'parse' (unknown capability 'cap_foo')")
      assert.has_error(function() caps.parse { "foo" } end,
        "bad argument #1 to 'parse' (unknown capability 'cap_foo')")
      assert.has_error(function() caps.parse { "10" } end,
        "bad argument #1 to 'parse' (unknown capability 'cap_10')")
      assert.has_error(function() caps.parse { 10 } end,
        "bad argument #1 to 'parse' (capability names must be strings)")
      assert.has_error(function() caps.parse("chown") end,
        "bad argument #1 to 'parse' (table expected, got string)")
    end)
  end)

  describe("get", function()
    it("reads the caller's five sets as /proc/self/status shows them", function()
      local st = status_caps(helper.read("/proc/self/status"))
      local t = assert(caps.get())
      assert.equal(st.CapEff, mask(t.effective))
      assert.equal(st.CapPrm, mask(t.permitted))
      assert.equal(st.CapInh, mask(t.inheritable))
      assert.equal(st.CapBnd, mask(t.bounding))
      assert.equal(st.CapAmb, mask(t.ambient))
    end)

    it("reads another process's three sets", function()
      local f = assert(io.popen("sleep 5 & echo $!"))
      local pid = tonumber(f:read("l"))
      f:close()
      local st = status_caps(assert(helper.read("/proc/" .. pid .. "/status")))
      local t = assert(caps.get(pid))
      os.execute("kill " .. pid)
      assert.equal(st.CapEff, mask(t.effective))
      assert.equal(st.CapPrm, mask(t.permitted))
      assert.equal(st.CapInh, mask(t.inheritable))
      assert.is_nil(t.bounding)
      assert.is_nil(t.ambient)
    end)

    it("fails with ESRCH for a process that does not exist", function()
      local r, msg, code = caps.get(999999999)
      assert.is_nil(r)
      assert.equal("cap_get_pid '999999999': No such process", msg)
      assert.equal(ESRCH, code)
    end)

    it("raises on a bad pid", function()
      assert.has_error(function() caps.get("x") end,
        "bad argument #1 to 'get' (number expected, got string)")
      assert.has_error(function() caps.get(-1) end,
        "bad argument #1 to 'get' (pid out of range)")
    end)
  end)

  describe("keep", function()
    it("keeps exactly one capability in all five sets #priv", function()
      if not priv() then return end
      local out = isolated([[
        T(caps.keep { "net_bind_service" })
        print(status())
        local t = caps.get()
        T(table.concat(t.effective, ","), table.concat(t.permitted, ","),
          table.concat(t.inheritable, ","), table.concat(t.bounding, ","),
          table.concat(t.ambient, ","))
        io.stdout:flush()
        -- what an exec'd root program gets: P' is bounded, so only 0x400 again
        os.execute("grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status | tr -d '\t' | tr '\n' ' '; echo")
        done()
      ]])
      local want = "0000000000000400"
      assert.equal("true\n"
        .. ("CapInh=%s CapPrm=%s CapEff=%s CapBnd=%s CapAmb=%s\n"):format(want, want, want,
          want, want)
        .. ("cap_net_bind_service|"):rep(4) .. "cap_net_bind_service\n"
        .. ("CapPrm:%s CapEff:%s CapBnd:%s \n"):format(want, want, want), out)
    end)

    it("keeps nothing with an empty list #priv", function()
      if not priv() then return end
      local out = isolated([[
        T(caps.keep {})
        print(status())
        done()
      ]])
      local z = "0000000000000000"
      assert.equal(("true\nCapInh=%s CapPrm=%s CapEff=%s CapBnd=%s CapAmb=%s\n")
        :format(z, z, z, z, z), out)
    end)

    it("fails naming the bounding-set step without CAP_SETPCAP", function()
      local out = rootless([[
        T(caps.keep { "net_bind_service" })
        done()
      ]])
      assert.equal("nil|cap_drop_bound 'cap_chown': Operation not permitted|"
        .. E.EPERM .. "\n", out)
    end)

    it("raises on unknown names", function()
      assert.has_error(function() caps.keep { "cap_foo" } end,
        "bad argument #1 to 'keep' (unknown capability 'cap_foo')")
      assert.has_error(function() caps.keep "all" end,
        "bad argument #1 to 'keep' (table expected, got string)")
    end)
  end)

  describe("set", function()
    it("replaces the three sets #priv", function()
      if not priv() then return end
      local out = isolated([[
        T(caps.set { permitted = { "chown", "net_bind_service" }, effective = { "chown" } })
        print(status())
        done()
      ]])
      assert.matches("^true\nCapInh=0000000000000000 CapPrm=0000000000000401 "
        .. "CapEff=0000000000000001 CapBnd=%x+ CapAmb=0000000000000000\n$", out)
    end)

    it("fails with EPERM raising a capability an unprivileged process lacks", function()
      local out = rootless([[
        T(caps.set { permitted = { "net_bind_service" } })
        print(status():match("CapPrm=%x+"))
        done()
      ]])
      assert.equal("nil|cap_set_proc: Operation not permitted|" .. E.EPERM
        .. "\nCapPrm=0000000000000000\n", out)
    end)

    it("raises on unknown fields and names", function()
      assert.has_error(function() caps.set { effectiv = {} } end,
        "bad argument #1 to 'set' (valid fields: effective permitted inheritable)")
      assert.has_error(function() caps.set { effective = { "sys_admn" } } end,
        "bad argument #1 to 'set' (unknown capability 'cap_sys_admn')")
      assert.has_error(function() caps.set { effective = "chown" } end,
        "bad argument #1 to 'set' (field 'effective' must be a list of names)")
    end)
  end)

  describe("drop_bound", function()
    it("drops named capabilities, then all, from the bounding set #priv", function()
      if not priv() then return end
      local out = isolated([[
        local before = tonumber(status():match("CapBnd=(%x+)"), 16)
        T(caps.drop_bound { "sys_admin", "cap_net_raw" })
        local after = tonumber(status():match("CapBnd=(%x+)"), 16)
        T(("%x"):format(before ~ after))
        T(caps.drop_bound { "sys_admin" })   -- already gone: still true
        T(caps.drop_bound "all")
        print(status():match("CapBnd=%x+"))
        done()
      ]])
      assert.equal("true\n" .. ("%x"):format((1 << 21) | (1 << 13))
        .. "\ntrue\ntrue\nCapBnd=0000000000000000\n", out)
    end)

    it("fails with EPERM without CAP_SETPCAP", function()
      local out = rootless([[
        T(caps.drop_bound { "sys_admin" })
        done()
      ]])
      assert.equal("nil|cap_drop_bound 'cap_sys_admin': Operation not permitted|"
        .. E.EPERM .. "\n", out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() caps.drop_bound "everything" end,
        "bad argument #1 to 'drop_bound' (expected a list of capability names or \"all\")")
      assert.has_error(function() caps.drop_bound { "cap_foo" } end,
        "bad argument #1 to 'drop_bound' (unknown capability 'cap_foo')")
    end)
  end)

  describe("ambient", function()
    it("raises, clears and resets the ambient set #priv", function()
      if not priv() then return end
      local out = isolated([[
        assert(caps.set { permitted = { "net_bind_service", "chown" },
                          inheritable = { "net_bind_service", "chown" } })
        T(caps.ambient("net_bind_service", true))
        T(caps.ambient("CAP_CHOWN", true))
        print(status():match("CapAmb=%x+"))
        T(caps.ambient("chown", false))
        print(status():match("CapAmb=%x+"))
        T(caps.ambient_reset())
        print(status():match("CapAmb=%x+"))
        T(caps.ambient("sys_admin", true))
        done()
      ]])
      assert.equal("true\ntrue\nCapAmb=0000000000000401\ntrue\nCapAmb=0000000000000400\n"
        .. "true\nCapAmb=0000000000000000\n"
        .. "nil|cap_set_ambient 'cap_sys_admin': Operation not permitted|" .. E.EPERM .. "\n",
        out)
    end)

    it("raises on misuse", function()
      assert.has_error(function() caps.ambient("nope", true) end,
        "bad argument #1 to 'ambient' (unknown capability 'cap_nope')")
      assert.has_error(function() caps.ambient("chown") end,
        "bad argument #2 to 'ambient' (boolean expected, got no value)")
    end)
  end)
end)
