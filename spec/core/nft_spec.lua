-- spec/core/nft_spec.lua - core.nft against the real kernel.  Every test
-- that changes rules runs in a helper.run_isolated child that unshares its
-- own network namespace first: nftables tables belong to a network
-- namespace, so the host's ruleset is never touched.
local helper = require "helper"
local nft = require("nslua.core").nft

local PRELUDE = [[
local core = require "nslua.core"
assert(core.ns.unshare{net = true})
local nft, errno = core.nft, core.errno
local function eq(want, got, what)
  if want ~= got then error(("%s: want %s, got %s"):format(what, tostring(want), tostring(got)), 2) end
end
local function list()
  local p = assert(io.popen("nft list tables 2>&1"))
  local out = p:read("a")
  p:close()
  return out
end
]]

local function run(code)
  local ok, out = helper.run_isolated(PRELUDE .. code)
  assert(ok, out)
  return out
end

describe("nslua.core.nft", function()
  it("raises on a missing or non-string batch", function()
    assert.has_error(function() nft.run() end,
      "bad argument #1 to 'run' (string expected, got no value)")
    assert.has_error(function() nft.run({}) end,
      "bad argument #1 to 'run' (string expected, got table)")
  end)

  it("runs a batch in the caller's netns, and reports failures #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v nft") then return pending("needs nft") end
    local out = run([[
eq(true, nft.run("add table inet nslua-spec0001\n"
  .. "add chain inet nslua-spec0001 input { type filter hook input priority filter; policy accept; }\n"
  .. "add rule inet nslua-spec0001 input iifname \"nslspec0001h\" drop"), "add")
io.write("LIST1 ", list())
-- a missing table: the kernel's ENOENT, the message's first line only
local ok, msg, code = nft.run("delete table inet nslua-nothere")
eq(nil, ok, "missing")
eq("nft: Error: Could not process rule: No such file or directory", msg, "missing msg")
eq(errno.ENOENT, code, "missing errno")
-- a batch the parser refuses: EINVAL, whatever errno was left behind
ok, msg, code = nft.run("add tabel inet x")
eq(nil, ok, "syntax")
assert(msg:match("^nft: Error: syntax error"), msg)
eq(errno.EINVAL, code, "syntax errno")
-- one transaction: a failing batch leaves nothing of itself
ok = nft.run("add table inet nslua-spec0002\ndelete table inet nslua-nothere")
eq(nil, ok, "batch")
eq(true, nft.run("delete table inet nslua-spec0001"), "delete")
io.write("LIST2 [", list(), "]")
]])
    assert.matches("LIST1 table inet nslua-spec0001\n", out, 1, true)
    assert.matches("LIST2 []", out, 1, true)
  end)

  it("fails with EPERM without CAP_NET_ADMIN #priv", function()
    if not helper.is_root() then return pending("needs root") end
    if not helper.sh("command -v setpriv") then return pending("needs setpriv") end
    local ok, out = helper.run_isolated([[
local core = require "nslua.core"
local ok, msg, code = core.nft.run("add table inet nslua-spec0003")
io.write(tostring(ok), " ", msg, " ", tostring(code == core.errno.EPERM))
]], "unshare -n setpriv --reuid=65534 --regid=65534 --clear-groups")
    assert.is_true(ok, out)
    assert.matches("nil nft: Error: Could not process rule: Operation not permitted true", out, 1, true)
  end)
end)
