-- `nslua netpair`: two containers on one bridge plus the host, TCP over
-- IPv4 and IPv6.  Every run happens inside a private network namespace the
-- test makes (`unshare -n`), which plays the host.
local helper = require "helper"
local q = helper.quote

local LIST_LINKS = [[echo "LINKS: $(ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | tr '\n' ' ')"]]

local tracker

-- the nsl* names a script uses must never show up in the real host netns
local function private(script)
  local names = {}
  for n in script:gmatch("%f[%w](nsl%w*)") do
    if #n <= 15 then names[#names + 1] = n end
  end
  if tracker then helper.track_links(tracker, names) end
  return helper.sh("unshare -n sh -c " .. q("ip link set lo up\n" .. script ..
    "\nrc=$?\n" .. LIST_LINKS .. "\nexit $rc"))
end

local function name()
  return ("nslnp%06x"):format(math.random(0, 0xffffff))
end

describe("nslua netpair", function()
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("connects container to container and the host to each, then removes the bridge #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v python3") then return pending("needs python3") end
    local br = name()
    local ok, out, code = private(("%s netpair --bridge %s --port %d"):format(helper.nslua, br,
      math.random(20000, 40000)))
    os.remove(("/run/nslua/bridge-%s.lock"):format(br))
    assert.is_true(ok, out)
    assert.equal(0, code)
    local g4, s4, c4 = out:match("gateway (10%.231%.%d+%.)1/24 .- server (10%.231%.%d+%.)2 .- client (10%.231%.%d+%.)3")
    assert.is_truthy(g4, out)
    assert.equal(g4, s4)
    assert.equal(g4, c4)
    local p6 = out:match("gateway 10%.231%.%d+%.1/24 (fd[%x:]+::)1/64")
    assert.is_truthy(p6, out)
    for _, pair in ipairs {
      { "host", g4 .. "2" }, { "host", p6 .. "2" }, { "client", g4 .. "2" }, { "client", p6 .. "2" },
      { "host", g4 .. "3" }, { "host", p6 .. "3" },
    } do
      local who, addr = pair[1], pair[2]
      assert.matches(("%s -> %s: 'reply from %s: hello from %s' ok"):format(who, addr, addr, who), out, 1, true)
    end
    assert.matches("server <- " .. g4 .. "3: 'hello from client'", out, 1, true)
    assert.matches("client <- " .. g4 .. "1: 'hello from host'", out, 1, true)
    assert.matches("netpair: bridge " .. br .. " removed after the last container", out, 1, true)
    assert.matches("netpair: ok:", out, 1, true)
    assert.equal("lo ", out:match("LINKS: ([^\n]*)"))
  end)

  it("fails clearly: exit 125 for a bad option or a bridge nslua does not own #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local br = name()
    local ok, out, code = private(([[
%s netpair --port 0; echo "port rc=$?"
ip link add %s type bridge
%s netpair --bridge %s; echo "foreign rc=$?"
ip link del %s
]]):format(helper.nslua, br, helper.nslua, br, br))
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.matches("nslua netpair: --port: 1..65535\n", out, 1, true)
    assert.matches("port rc=125", out, 1, true)
    assert.matches(("nslua netpair: bridge '%s' exists and nslua does not own it"):format(br), out, 1, true)
    assert.matches("foreign rc=125", out, 1, true)
    assert.equal("lo ", out:match("LINKS: ([^\n]*)"))
  end)
end)
