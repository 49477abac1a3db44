-- `nslua tutorial-veth`: parent and child joined by a veth pair, TCP over
-- IPv4 and IPv6.  It runs inside a private network namespace the test
-- makes (`unshare -n`), which plays the parent's "host".
local helper = require "helper"
local q = helper.quote

local LIST_LINKS = [[echo "LINKS: $(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | tr '\n' ' ')"]]

describe("nslua tutorial-veth", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("gives each end an address and exchanges TCP over v4 and v6; the pair goes with the child #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v python3") then return pending("needs python3") end
    local port = math.random(20000, 40000)
    local script = ("ip link set lo up\n%s tutorial-veth %d\nrc=$?\n%s\nexit $rc")
      :format(helper.nslua, port, LIST_LINKS)
    local ok, out, code = helper.sh("unshare -n sh -c " .. q(script))
    assert.is_true(ok, out)
    assert.equal(0, code)
    local host_if, p4, p6 = out:match("parent: (nslv%x+) up with (10%.231%.%d+%.%d+)/30 and "
      .. "(fd[%x:]+::1)/64; its peer veth1 is in the child's namespace")
    assert.is_truthy(host_if, out)
    local c4, c6 = out:match("child:  veth1 up with (10%.231%.%d+%.%d+)/30 and (fd[%x:]+::2)/64 "
      .. "%(my namespace has: lo veth1%)")
    assert.is_truthy(c4, out)
    assert.equal(p6:sub(1, -2), c6:sub(1, -2))
    assert.equal(tonumber(p4:match("%d+$")) + 1, tonumber(c4:match("%d+$")))
    for _, pair in ipairs { { c4, p4 }, { c6, p6 } } do
      local child, parent = pair[1], pair[2]
      assert.matches(("child:  got 'hello %s' from %s"):format(child, parent), out, 1, true)
      assert.matches(("parent: %s replied 'child at %s heard: hello %s'"):format(child, child, child), out, 1, true)
    end
    assert.matches(("parent: the child exited 0; %s is gone with the child's namespace"):format(host_if), out, 1, true)
    assert.matches("ok: parent and child talked TCP over the veth pair (IPv4 and IPv6)", out, 1, true)
    assert.equal("lo ", out:match("LINKS: ([^\n]*)"))
  end)
end)
