-- One spec per mount kind, through the Lua API in a fresh lua5.4 each.
local helper = require "helper"

-- Run a container whose payload is 'script' (sh -c) with 'mounts'; returns ok, output.
local function with_mounts(mounts, script, extra)
  return helper.run_isolated(([[
    local nslua = require "nslua"
    local spec = { argv = { "/bin/sh", "-c", %q }, mounts = %s }
    for k, v in pairs(%s) do spec[k] = v end
    local r = assert(nslua.container(spec):run())
    if r.status ~= "exited" or r.exit_code ~= 0 then
      io.write("REPORT ", r.status, " ", tostring(r.exit_code), " ",
        r.error and tostring(r.error.step) .. ": " .. tostring(r.error.message) or "", "\n")
    end
  ]]):format(script, mounts, extra or "{}"))
end

describe("mount kinds", function()
  local before, dir
  before_each(function()
    before = helper.host_objects()
    dir = helper.tmpdir("0777")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_clean(before)
  end)

  it("bind: read-write and read-only", function()
    local ok, out = with_mounts(([[{ { type = "bind", source = %q, target = "/rw" },
      { type = "bind", source = %q, target = "/ro", ro = true } }]]):format(dir, dir),
      "echo a > /rw/a && cat /ro/a && (echo b > /ro/b) 2>/dev/null || echo refused")
    assert.is_true(ok, out)
    assert.equal("a\nrefused\n", out)
    assert.equal("a\n", helper.read(dir .. "/a"))
  end)

  it("bind: a missing source is an error unless try", function()
    local ok, out = with_mounts([[{ { type = "bind", source = "/nonexistent-x", target = "/x", try = true } }]],
      "test -e /x || echo skipped")
    assert.is_true(ok, out)
    assert.equal("skipped\n", out)
    ok, out = helper.run_isolated([[
      local nslua = require "nslua"
      print(nslua.container{ argv = { "/bin/true" },
        mounts = { { type = "bind", source = "/nonexistent-x", target = "/x" } } }:run())
    ]])
    assert.is_true(ok, out)
    assert.matches("nil\tstart '.-': mounts%[1%]%.source '/nonexistent%-x'", out)
  end)

  it("bind-idmap: the caller's files show as the payload's, its writes land as the caller's #priv", function()
    if not helper.is_root() then return pending("needs root") end
    os.execute(("chmod 0755 %s && echo host > %s/h"):format(dir, dir))
    local ok, out = with_mounts(([[{ { type = "bind-idmap", source = %q, target = "/data" } }]]):format(dir),
      "stat -c '%u' /data/h && echo new > /data/n")
    assert.is_true(ok, out)
    assert.equal("65534\n", out)
    local _, owner = helper.sh("stat -c '%u' " .. dir .. "/n")
    assert.equal("0\n", owner)
  end)

  it("dev-bind keeps device nodes usable", function()
    local ok, out = with_mounts([[{ { type = "dev-bind", source = "/dev/null", target = "/mydev/null" } }]],
      "echo x > /mydev/null && echo ok")
    assert.is_true(ok, out)
    assert.equal("ok\n", out)
  end)

  it("tmpfs with a size and a mode", function()
    local ok, out = with_mounts([[{ { type = "tmpfs", target = "/scratch", size = "2M", mode = "0700" } }]],
      "stat -c '%a' /scratch; dd if=/dev/zero of=/scratch/f bs=1M count=4 2>&1 | grep -c 'No space'")
    assert.is_true(ok, out)
    assert.equal("700\n1\n", out)
  end)

  it("proc, dev and mqueue at other targets", function()
    local ok, out = with_mounts([[{ { type = "proc", target = "/p2" }, { type = "dev", target = "/d2" },
      { type = "mqueue", target = "/mq" } }]],
      "readlink /p2/self >/dev/null && test -c /d2/null && grep -q ' /mq mqueue' /proc/self/mounts && echo ok")
    assert.is_true(ok, out)
    assert.equal("ok\n", out)
  end)

  it("proc with hidepid: a payload does not see the init, but sees itself", function()
    -- the payload's uid is 65534, the init's is 0 inside: with hidepid=2
    -- (by number or name) /proc/1 is gone, /proc/self is there; without it
    -- /proc/1 shows (its files are unreadable: the init is not dumpable)
    local script = "test -d /p2/1 && echo init; test -d /p2/$$ && echo self; ls /p2 | grep -qx 1 || echo unlisted"
    for _, hp in ipairs { "2", '"invisible"' } do
      local ok, out = with_mounts(([[{ { type = "proc", target = "/p2", hidepid = %s } }]]):format(hp), script)
      assert.is_true(ok, out)
      assert.equal("self\nunlisted\n", out, hp)
    end
    local ok, out = with_mounts([[{ { type = "proc", target = "/p2", hidepid = 0 } }]], script)
    assert.is_true(ok, out)
    assert.equal("init\nself\n", out)
    ok, out = with_mounts([[{ { type = "proc", target = "/p2", hidepid = 1 } }]],
      "grep -q hidepid=noaccess /proc/self/mountinfo && test -d /p2/1 && "
      .. "(cat /p2/1/cmdline 2>/dev/null || echo hidden)")
    assert.is_true(ok, out)
    assert.equal("hidden\n", out)
  end)

  it("sysfs, read-only", function()
    local ok, out = with_mounts([[{ { type = "sysfs", target = "/sys" } }]],
      "ls /sys/class/net; grep ' /sys sysfs ro' /proc/self/mounts >/dev/null && echo ro")
    assert.is_true(ok, out)
    assert.equal("lo\nro\n", out)
  end)

  it("sysfs: Docker's masks (/sys/firmware)", function()
    local f = io.popen("ls -A /sys/firmware 2>/dev/null")
    local fw = f:read("a")
    f:close()
    if fw == "" then return pending("this host's /sys/firmware is empty: nothing to mask") end
    local ok, out = with_mounts([[{ { type = "sysfs", target = "/sys" } }]], "ls -A /sys/firmware; echo end")
    assert.is_true(ok, out)
    assert.equal("end\n", out)
  end)

  it("overlay: writes go to a private upper layer", function()
    os.execute(("echo lower > %s/l"):format(dir))
    local ok, out = with_mounts(([[{ { type = "overlay", lower = { %q }, target = "/ov" } }]]):format(dir),
      "cat /ov/l && echo new > /ov/n && cat /ov/n")
    assert.is_true(ok, out)
    assert.equal("lower\nnew\n", out)
    assert.is_false(helper.exists(dir .. "/n"))
  end)

  it("dir, symlink and file", function()
    local ok, out = with_mounts([[{ { type = "dir", target = "/work", mode = "0711" },
      { type = "symlink", source = "/work", target = "/w" },
      { type = "file", target = "/config/motd", content = "hello\n" } }]],
      "stat -c '%a' /work; readlink /w; cat /config/motd")
    assert.is_true(ok, out)
    assert.equal("711\n/work\nhello\n", out)
  end)
end)
