-- spec/core/landlock_spec.lua - core.landlock: the kernel's ABI, misuse of
-- a ruleset, and rulesets applied to fresh processes (each test restricts
-- a lua5.4 of its own), observed through the calls they refuse.
local helper = require "helper"
local core = require "nslua.core"
local ll = core.landlock

local q = helper.quote

local PRE = [[
local core = require "nslua.core"
local ll = core.landlock
local function T(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
local function try_write(path)
  local f, _, code = io.open(path, "w")
  if not f then return code end
  f:close()
  return 0
end
]]

local WRITE = "{ write_file = true, make_reg = true, truncate = true }"

local abi = ll.abi()

describe("nslua.core.landlock", function()
  local dir, t
  before_each(function()
    t = helper.track()
    dir = helper.tmpdir("0755")
    os.execute(("mkdir %s/in %s/out && chmod 0777 %s/in %s/out"):format(q(dir), q(dir), q(dir), q(dir)))
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(t)
  end)

  it("reports the kernel's ABI", function()
    if not abi then return pending("this kernel has no Landlock") end
    assert.is_true(math.type(abi) == "integer" and abi >= 1)
    -- the ABI the kernel's release promises (this kernel: 7)
    local f = assert(io.open("/proc/sys/kernel/osrelease"))
    local maj, min = f:read("l"):match("^(%d+)%.(%d+)")
    f:close()
    if tonumber(maj) > 6 or (tonumber(maj) == 6 and tonumber(min) >= 15) then assert.equal(7, abi) end
  end)

  it("raises on a misused ruleset", function()
    local function err(rs)
      local ok, e = pcall(ll.restrict, rs)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.matches("at least one right", err {})
    assert.matches("unknown right 'wirte_file'", err { fs = { wirte_file = true } })
    assert.matches("unknown right 'ioctl_dev'", err { fs = { ioctl_dev = true } })
    assert.matches("rules%[1%]%.path must be an absolute path",
      err { fs = { read_file = true }, rules = { { path = "tmp", access = { read_file = true } } } })
    assert.matches("rules%[1%]%.port must be an integer 0%.%.65535",
      err { net = { bind_tcp = true }, rules = { { port = 65536, access = { bind_tcp = true } } } })
    assert.matches("rules%[2%] needs a path or a port",
      err { fs = { read_file = true }, rules = { { path = "/", access = {} }, {} } })
    assert.matches("rules%[1%] grants a right the ruleset does not handle",
      err { fs = { read_file = true }, rules = { { path = "/", access = { write_file = true } } } })
  end)

  it("refuses a write outside the write rules and allows one beneath them", function()
    if not abi then return pending("this kernel has no Landlock") end
    local ok, out = helper.run_isolated(PRE .. ([[
T(ll.restrict { fs = %s, rules = { { path = %q, access = %s } } })
T(try_write(%q), try_write(%q))
]]):format(WRITE, dir .. "/in", WRITE, dir .. "/in/a", dir .. "/out/b"))
    assert.is_true(ok, out)
    assert.matches("^true|table: [^\n]*\n0|13\n$", out)
    assert.is_true(helper.exists(dir .. "/in/a"))
    assert.is_false(helper.exists(dir .. "/out/b"))
  end)

  it("skips a rule whose path is missing and lists it", function()
    if not abi then return pending("this kernel has no Landlock") end
    local ok, out = helper.run_isolated(PRE .. ([[
local okr, skipped = ll.restrict { fs = %s, rules = {
  { path = %q, access = %s }, { path = %q, access = %s } } }
T(okr, table.concat(skipped, ","), try_write(%q))
]]):format(WRITE, dir .. "/missing", WRITE, dir .. "/in", WRITE, dir .. "/in/a"))
    assert.is_true(ok, out)
    assert.equal("true|1|0\n", out)
  end)

  it("gives a rule on a file only the rights files have", function()
    if not abi then return pending("this kernel has no Landlock") end
    os.execute(("touch %s/in/f && chmod 0666 %s/in/f"):format(q(dir), q(dir)))
    -- make_reg on a file would be EINVAL from the kernel: it is masked away
    local ok, out = helper.run_isolated(PRE .. ([[
T(ll.restrict { fs = %s, rules = { { path = %q, access = %s } } })
T(try_write(%q), try_write(%q))
]]):format(WRITE, dir .. "/in/f", WRITE, dir .. "/in/f", dir .. "/in/g"))
    assert.is_true(ok, out)
    assert.matches("\n0|13\n$", out)
  end)

  it("refuses to execute outside the exec rules", function()
    if not abi then return pending("this kernel has no Landlock") end
    os.execute(("cp /usr/bin/true %s/in/mytrue && chmod 0755 %s/in/mytrue"):format(q(dir), q(dir)))
    local ok, out = helper.run_isolated(PRE .. ([[
T(ll.restrict { fs = { execute = true }, rules = {
  { path = "/usr", access = { execute = true } }, { path = "/lib", access = { execute = true } },
  { path = "/lib64", access = { execute = true } } } })
T(os.execute("/usr/bin/true"))
T(os.execute(%q .. " 2>/dev/null"))
]]):format(dir .. "/in/mytrue"))
    assert.is_true(ok, out)
    -- /bin/sh runs (it is beneath /usr); the copy cannot: sh says 126
    assert.matches("\ntrue|exit|0\nnil|exit|126\n$", out)
  end)

  it("refuses a TCP connect to a port without a rule (its own netns)", function()
    if not abi or abi < 4 then return pending("needs Landlock ABI 4") end
    if not helper.is_root() then return pending("needs root (a network namespace)") end
    local ok, out = helper.run_isolated(PRE .. [[
assert(core.ns.unshare { net = true })
assert(os.execute("ip link set lo up"))
T(ll.restrict { net = { connect_tcp = true }, rules = { { port = 8081, access = { connect_tcp = true } } } })
local py = [=[
import socket, errno
ls = []
for p in (8081, 8082):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.listen(); ls.append(s)
def con(p):
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", p)); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print(con(8081), con(8082))
]=]
local f = assert(io.popen("/usr/bin/python3 -c '" .. py .. "'"))
io.write(f:read("a"))
f:close()
]])
    assert.is_true(ok, out)
    assert.matches("\nok EACCES\n$", out)
  end)
end)
