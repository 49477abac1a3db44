-- Rootless nslua: single-id maps by default, multi-id maps through
-- newuidmap/newgidmap when /etc/subuid grants a range.
local helper = require "helper"
local q = helper.quote

describe("rootless nslua run", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  it("maps the caller to the payload's ids and keeps its state in /tmp/nslua-<uid>", function()
    local ok, out = helper.sh(
      ("cd /tmp && env -i PATH=/usr/bin:/bin %s run -- /bin/sh -c 'id -u; id -g; cat /proc/self/uid_map'")
        :format(helper.rootless_nslua()))
    assert.is_true(ok, out)
    assert.matches("^65534\n65534\n%s+65534%s+4242%s+1\n$", out)
  end)

  it("refuses a state directory that is not the caller's with mode 0700", function()
    local xdg = helper.tmpdir("0755")
    os.execute("chown 4242:4242 " .. q(xdg))
    -- a 0755 XDG_RUNTIME_DIR is not used: the fallback /tmp/nslua-4242 is
    local ok, out = helper.sh(("cd /tmp && env -i PATH=/usr/bin:/bin XDG_RUNTIME_DIR=%s %s run -- /bin/true")
      :format(xdg, helper.rootless_nslua()))
    assert.is_true(ok, out)
    assert.is_false(helper.exists(xdg .. "/nslua"))
    helper.rmtree(xdg)
  end)

  it("exits 125 for veth networking and for bind-idmap", function()
    local _, out, code = helper.sh(("cd /tmp && %s run --net veth -- /bin/true")
      :format(helper.rootless_nslua()))
    assert.equal(125, code, out)
    assert.matches("CAP_NET_ADMIN", out, 1, true)
    _, out, code = helper.sh(("cd /tmp && %s run --bind-idmap /tmp:/x -- /bin/true")
      :format(helper.rootless_nslua()))
    assert.equal(125, code, out)
    assert.matches("bind-idmap", out, 1, true)
  end)

  it("maps all ids through newuidmap/newgidmap with a private /etc/subuid", function()
    if not helper.exists("/usr/bin/newuidmap") then return pending("newuidmap missing (package uidmap)") end
    local etc = helper.tmpdir("0755")
    local f = io.open(etc .. "/subuid", "w"); f:write("nsltest:200000:65536\n"); f:close()
    f = io.open(etc .. "/subgid", "w"); f:write("nsltest:300000:65536\n"); f:close()
    os.execute(("cp /etc/passwd %s/passwd && echo 'nsltest:x:4242:4242::/:/bin/sh' >> %s/passwd && chmod 0644 %s/*")
      :format(etc, etc, etc))
    local inner = ("mount --bind %s/subuid /etc/subuid && mount --bind %s/subgid /etc/subgid && " ..
      "mount --bind %s/passwd /etc/passwd && cd /tmp && %s run --map-all -- " ..
      "/bin/sh -c 'cat /proc/self/uid_map /proc/self/gid_map; id -u'"):format(etc, etc, etc, helper.rootless_nslua())
    local ok, out = helper.sh("unshare -m --propagation private sh -c " .. q(inner))
    helper.rmtree(etc)
    assert.is_true(ok, out)
    assert.matches("^%s+0%s+4242%s+1\n%s+1%s+200000%s+65535\n%s+0%s+4242%s+1\n%s+1%s+300000%s+65535\n65534\n$", out)
  end)

  it("exits 125 naming /etc/subuid when --map-all has no range", function()
    local _, out, code = helper.sh(("cd /tmp && %s run --map-all -- /bin/true")
      :format(helper.rootless_nslua()))
    if helper.read("/etc/subuid") and helper.read("/etc/subuid"):match("4242") then
      return pending("this host grants uid 4242 a subuid range")
    end
    assert.equal(125, code, out)
    assert.matches("/etc/subuid", out, 1, true)
  end)
end)
