-- spec/cli/run_mounts_spec.lua - `nslua run`'s mount options apply in the
-- order of the command line (DESIGN "Mounts"): a later one on the same
-- path shadows an earlier one, as bubblewrap applies its arguments; the
-- default root comes first, the /proc and /sys masks last.
local helper = require "helper"
local run = require "nslua.cli.run"

local N = helper.nslua
local q = helper.quote

-- argv -> the spec's mounts (the pure half: both parsers).
local function mounts_of(args)
  local out = {}
  for _, parse in ipairs { "fast", "argparse" } do
    local o
    if parse == "fast" then
      o = run.parse_fast(args)
      assert(o, "the fast parser took the form")
    else
      local ok
      ok, o = run.parser():pparse(args)
      assert(ok, o)
    end
    out[parse] = run.options_to_spec(o).mounts
  end
  assert.same(out.fast, out.argparse)
  return out.fast
end

describe("nslua run mount options", function()
  it("become spec mounts in argument order, whatever their kinds", function()
    local args = { "--dev-bind", "/", "/", "--tmpfs", "/t:1M", "--ro-bind", "/dev/null", "/etc/shadow",
                   "--bind-try", "/a", "/b", "--dir", "/d", "--ro-bind-try", "/c:/e", "--file", "/f", "x",
                   "--symlink", "usr/bin", "/bin2", "--bind", "/g", "--proc", "/p", "--dev", "/dv",
                   "--mqueue", "/q", "--bind-idmap", "/h", "/i", "--tmpfs", "/t", "--", "true" }
    assert.same({
      { type = "dev-bind", source = "/", target = "/" },
      { type = "tmpfs", target = "/t", size = 1048576, mode = 493 },
      { type = "bind", ro = true, source = "/dev/null", target = "/etc/shadow" },
      { type = "bind", try = true, source = "/a", target = "/b", idmap = "auto" },
      { type = "dir", target = "/d" },
      { type = "bind", ro = true, try = true, source = "/c", target = "/e" },
      { type = "file", target = "/f", content = "x" },
      { type = "symlink", source = "usr/bin", target = "/bin2" },
      { type = "bind", source = "/g", target = "/g", idmap = "auto" },
      { type = "proc", target = "/p" },
      { type = "dev", target = "/dv" },
      { type = "mqueue", target = "/q" },
      { type = "bind-idmap", source = "/h", target = "/i" },
      { type = "tmpfs", target = "/t", mode = 493 },
    }, mounts_of(args))
  end)

  it("keep their order in the plan, after the default root and before the masks", function()
    local spec = run.spec_of({ "--dev-bind", "/", "/", "--ro-bind", "/dev/null", "/etc/shadow",
                               "--tmpfs", "/x", "--bind", "/usr", "/x", "--", "true" })
    local c = require("nslua.container").new(spec)
    local plan = assert(c:plan())
    local seen = {}
    for _, s in ipairs(plan.mounts.steps) do
      if s.op == "move" or (s.op == "mount" and s.fstype == "tmpfs") or s.op == "mask" then
        seen[#seen + 1] = ("%s %s"):format(s.op == "mask" and "mask" or s.fstype or "bind", s.what)
      end
    end
    -- the default root (its tmpfs /, /dev, /tmp), the options in order, the masks
    assert.matches("^tmpfs /,tmpfs /dev,tmpfs /dev/shm,tmpfs /tmp,bind /,bind /etc/shadow,tmpfs /x,bind /x,mask /proc/",
      table.concat(seen, ","))
  end)
end)

describe("nslua run mount order against the kernel", function()
  local before, dir
  before_each(function()
    before = helper.host_objects()
    dir = helper.tmpdir("0755")
    -- d/secret: what a mask must hide; mask: what shows instead
    local d = q(dir)
    os.execute(("mkdir -m 0755 %s/d && echo secret > %s/d/secret && echo masked > %s/mask")
      :format(d, d, d))
    os.execute(("chmod 0644 %s/d/secret %s/mask"):format(d, d))
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_clean(before)
  end)

  local function sub(s) return (s:gsub("D/", dir .. "/")) end

  -- `nslua run OPTS -- CMD` and, when bwrap is there, `bwrap --dev-bind / /
  -- OPTS CMD` (bwrap has no default root: the host's stands in for it).
  local function both(opts, cmd)
    opts, cmd = sub(opts), sub(cmd)
    local ok, out = helper.sh(("%s run %s -- %s"):format(N, opts, cmd))
    local bw
    if os.execute("command -v bwrap >/dev/null 2>&1") and helper.is_root() then
      local _, bout = helper.sh(("bwrap --dev-bind / / %s %s"):format(opts, cmd))
      bw = bout
    end
    return ok, out, bw
  end

  local cases = {
    { "a mask after --dev-bind / /", "--dev-bind / / --ro-bind D/mask D/d/secret", "cat D/d/secret", "masked\n" },
    { "a mask after --bind of its parent", "--bind D/d /d --ro-bind D/mask /d/secret", "cat /d/secret", "masked\n" },
    { "a mask after --bind-try of its parent", "--bind-try D/d /d --ro-bind D/mask /d/secret", "cat /d/secret",
      "masked\n" },
    { "a mask after --ro-bind-try of its parent", "--ro-bind-try D/d /d --ro-bind D/mask /d/secret",
      "cat /d/secret", "masked\n" },
    { "a tmpfs mask after --dev-bind of its parent", "--dev-bind D/d /d --tmpfs /d", "ls -A /d", "" },
    { "a tmpfs after a bind on the same path", "--bind D/d /d --tmpfs /d", "ls -A /d", "" },
    { "a bind after a tmpfs on the same path", "--tmpfs /d --bind D/d /d", "cat /d/secret", "secret\n" },
    { "a file bound into a directory bound before it", "--bind D/d /d --ro-bind D/mask /d/secret",
      "cat /d/secret", "masked\n" },
    { "a directory bound over a file bound before it", "--ro-bind D/mask /d/secret --ro-bind D/d /d",
      "cat /d/secret", "secret\n" },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. " (as bwrap does)", function()
      local ok, out, bw = both(c[2], c[3])
      assert.is_true(ok, out)
      assert.equal(c[4], out)
      if bw then assert.equal(c[4], bw, "bwrap") end
    end)
  end

  it("shows /etc/shadow masked after --dev-bind / / (the reported line)", function()
    if not helper.is_root() then return pending("needs root: the payload reads as inside root of the host") end
    -- --user host: the payload is the caller (root), so only the mask keeps the file out
    local ok, out = helper.sh(("%s run --user host --dev-bind / / --ro-bind %s /etc/shadow -- cat /etc/shadow")
      :format(N, q(dir .. "/mask")))
    assert.is_true(ok, out)
    assert.equal("masked\n", out)
    if os.execute("command -v bwrap >/dev/null 2>&1") then
      local _, bout = helper.sh(("bwrap --dev-bind / / --ro-bind %s /etc/shadow cat /etc/shadow")
        :format(q(dir .. "/mask")))
      assert.equal("masked\n", bout, "bwrap")
    end
  end)
end)

-- DESIGN "Mounts": Docker's /sys masks, and /sys read-only, wherever a
-- bind (of /sys or a parent of it) or a sysfs puts it.
describe("nslua run and /sys", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  local function firmware()
    local f = io.popen("ls -A /sys/firmware 2>/dev/null")
    local out = f:read("a")
    f:close()
    return out
  end

  -- the per-mount options of the top mount on 'path' (the last line for it)
  local TOP = [[awk -v p=%s '$5 == p { o = $6 } END { print o }' /proc/self/mountinfo | cut -d, -f1]]

  it("masks /sys/firmware and makes /sys read-only after --dev-bind / /", function()
    if firmware() == "" then return pending("this host's /sys/firmware is empty: nothing to mask") end
    local ok, out = helper.sh(("%s run --dev-bind / / -- sh -c %s"):format(N,
      q("ls -A /sys/firmware; echo end; " .. TOP:format("/sys"))))
    assert.is_true(ok, out)
    assert.equal("end\nro\n", out)
  end)

  it("gives a payload with the host's root uid a /sys it cannot write (--user host) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = helper.sh(("%s run --user host --dev-bind / / -- sh -c %s"):format(N,
      q("test -w /sys/kernel && echo writable || echo refused")))
    assert.is_true(ok, out)
    assert.equal("refused\n", out)
  end)

  it("masks and makes read-only a bind of /sys elsewhere, and / under another name", function()
    if firmware() == "" then return pending("this host's /sys/firmware is empty: nothing to mask") end
    local ok, out = helper.sh(("%s run --bind /sys /hostsys --bind /proc/self/root/ /r -- sh -c %s"):format(N,
      q("ls -A /hostsys/firmware /r/sys/firmware; echo end; " .. TOP:format("/hostsys") .. "; "
        .. TOP:format("/r/sys"))))
    assert.is_true(ok, out)
    assert.equal("/hostsys/firmware:\n\n/r/sys/firmware:\nend\nro\nro\n", out)
  end)

  it("masks /sys and makes it read-only for a rootless caller too #priv", function()
    if not helper.is_root() then return pending("needs root to make the test user's run") end
    if firmware() == "" then return pending("this host's /sys/firmware is empty: nothing to mask") end
    local ok, out = helper.sh(("cd /tmp && %s %s run --bind /sys /hostsys -- sh -c %s"):format(helper.ENV_I,
      helper.rootless_nslua(), q("ls -A /hostsys/firmware; echo end; " .. TOP:format("/hostsys"))))
    assert.is_true(ok, out)
    assert.equal("end\nro\n", out)
  end)

  it("honours an explicit bind of a masked path", function()
    local fw = firmware()
    if fw == "" then return pending("this host's /sys/firmware is empty") end
    local ok, out = helper.sh(("%s run --ro-bind /sys/firmware /fw -- ls -A /fw"):format(N))
    assert.is_true(ok, out)
    assert.equal(fw, out)
  end)
end)
