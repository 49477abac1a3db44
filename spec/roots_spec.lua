-- spec/roots_spec.lua - overlay roots (docs/roots.md): `nslua run --overlay
-- LOWER[:LOWER...] [--overlay-upper DIR|tmpfs]` and rootfs = { lower, upper }
-- give a writable root over read-only directories, privileged and rootless;
-- the lower directories stay byte-for-byte the same, a directory upper keeps
-- the writes as the caller's files.  And nslua bwrap's overlay spellings,
-- against bubblewrap 0.10's documented semantics (Debian's bwrap 0.8 has none).
local helper = require "helper"
local q = helper.quote
local N = helper.nslua

-- Everything about a tree that a write could change: each entry's path,
-- type, mode, owner, size, link target and content hash.
local function tree_sum(dir)
  local ok, out = helper.sh(("cd %s && find . -printf '%%p %%y %%m %%U:%%G %%s %%l\\n' | LC_ALL=C sort && "
    .. "find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum"):format(q(dir)))
  assert(ok, out)
  return out
end

-- A busybox image in dir/img (owned by uid:gid when given) with a file, a
-- directory and a file to rename; the script the payload runs on it.
local function image(dir, owner)
  local img = dir .. "/img"
  assert(helper.sh(("sh %s/scripts/mkrootfs.sh %s && echo data > %s/etc/data && mkdir %s/etc/dd && "
    .. "echo z > %s/etc/dd/z && echo keep > %s/etc/keep%s"):format(q(helper.root), q(img), q(img), q(img),
    q(img), q(img), owner and (" && chown -R %s %s"):format(owner, q(dir)) or "")))
  return img
end
local WRITES = "echo new > /new && rm /etc/data && mv /etc/dd /etc/dd2 && echo more >> /etc/keep && "
  .. "mkdir /etc/m && echo f > /etc/m/f && rm -r /root && cat /etc/keep /etc/dd2/z && "
  .. "test ! -e /etc/data && test ! -e /etc/dd && echo done"
local EXPECT = "keep\nmore\nz\ndone\n"

local busybox = helper.exists("/bin/busybox")

describe("overlay roots (privileged)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("with a tmpfs upper: writes, deletes and renames over a lower left unchanged", function()
    if not busybox then return pending("busybox-static missing") end
    local img = image(dir)
    local sum = tree_sum(img)
    local ok, out = helper.sh(("%s run --overlay %s -- /bin/sh -c %s"):format(N, q(img), q(WRITES)))
    assert.is_true(ok, out)
    assert.equal(EXPECT, out)
    assert.equal(sum, tree_sum(img))
    -- the writes are gone with the sandbox
    ok, out = helper.sh(("%s run --overlay %s -- /bin/sh -c 'cat /etc/data; test -e /new || echo none'")
      :format(N, q(img)))
    assert.is_true(ok, out)
    assert.equal("data\nnone\n", out)
  end)

  it("with a directory upper: the writes persist there as the caller's files", function()
    if not busybox then return pending("busybox-static missing") end
    local img = image(dir)
    local sum = tree_sum(img)
    assert(os.execute(("mkdir %s/up"):format(q(dir))))
    local ok, out = helper.sh(("%s run --overlay %s --overlay-upper %s/up -- /bin/sh -c %s")
      :format(N, q(img), q(dir), q(WRITES)))
    assert.is_true(ok, out)
    assert.equal(EXPECT, out)
    assert.equal(sum, tree_sum(img))
    assert.equal("new\n", helper.read(dir .. "/up/new"))
    assert.equal("keep\nmore\n", helper.read(dir .. "/up/etc/keep"))
    -- every entry of the upper and its work directory is the caller's (root's)
    local _, owners = helper.sh(("find %s/up %s/up.work -printf '%%U:%%G\\n' | sort -u"):format(q(dir), q(dir)))
    assert.equal("0:0\n", owners)
    -- whiteouts for what was removed
    local _, kinds = helper.sh(("stat -c '%%F %%t,%%T' %s/up/etc/data %s/up/etc/dd"):format(q(dir), q(dir)))
    assert.equal("character special file 0,0\ncharacter special file 0,0\n", kinds)
    -- a second run sees the first one's writes
    ok, out = helper.sh(("%s run --overlay %s --overlay-upper %s/up -- /bin/sh -c 'cat /new; ls /etc/dd2'")
      :format(N, q(img), q(dir)))
    assert.is_true(ok, out)
    assert.equal("new\nz\n", out)
    assert.equal(sum, tree_sum(img))
  end)

  it("explain makes nothing; run makes the work directory (--overlay-work)", function()
    assert(os.execute(("mkdir %s/low %s/up"):format(q(dir), q(dir))))
    local ok, out = helper.sh(("%s explain --overlay %s/low --overlay-upper %s/up --overlay-work %s/w -- /bin/true")
      :format(N, q(dir), q(dir), q(dir)))
    assert.is_true(ok, out)
    assert.matches("overlay on /", out, 1, true)
    assert.is_false(helper.exists(dir .. "/w"))
    assert.is_false(helper.exists(dir .. "/up.work"))
  end)

  it("stacks lower directories, the first uppermost, relative to the cwd", function()
    if not busybox then return pending("busybox-static missing") end
    image(dir)
    assert(os.execute(("mkdir -p %s/top/etc && echo top > %s/top/etc/keep"):format(q(dir), q(dir))))
    local sum = tree_sum(dir .. "/top")
    local ok, out = helper.sh(("cd %s && %s run --overlay top:img -- /bin/sh -c 'cat /etc/keep && "
      .. "echo x > /etc/keep && cat /etc/keep'"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("top\nx\n", out)
    assert.equal(sum, tree_sum(dir .. "/top"))
  end)

  it("takes rootfs = { lower, upper } in a spec", function()
    if not busybox then return pending("busybox-static missing") end
    local img = image(dir)
    local sum = tree_sum(img)
    assert(os.execute(("mkdir %s/up"):format(q(dir))))
    local ok, out = helper.run_isolated(([[
      local nslua = require "nslua"
      local r = assert(nslua.container({ argv = { "/bin/sh", "-c", "echo spec > /etc/keep" },
        rootfs = { lower = { %q }, upper = %q } }):run())
      print(r.status, r.exit_code)
    ]]):format(img, dir .. "/up"))
    assert.is_true(ok, out)
    assert.equal("exited\t0\n", out)
    assert.equal("spec\n", helper.read(dir .. "/up/etc/keep"))
    assert.equal(sum, tree_sum(img))
  end)

  it("exits 125 naming the field for bad overlay roots", function()
    assert(os.execute(("mkdir %s/d && ln -s d %s/lnk"):format(q(dir), q(dir))))
    local cases = {
      { "--overlay /nonexistent-nslua", "rootfs.lower[1] '/nonexistent-nslua': not a directory" },
      { ("--overlay %s --overlay-upper %s/missing"):format(q(dir), q(dir)), "rootfs.upper" },
      { "--overlay-upper tmpfs", "--overlay-upper and --overlay-work need --overlay" },
      { ("--overlay %s --rootfs /"):format(q(dir)), "--overlay LOWER and --rootfs both give the root" },
      { ("--overlay %s --overlay-upper %s/a --overlay-work /w"):format(q(dir), q(dir)), "rootfs.work" },
      { ("--overlay %s --overlay-upper %s/lnk"):format(q(dir), q(dir)), "rootfs.upper" },
      { ("--overlay %s --overlay-upper %s/d --overlay-work %s/lnk"):format(q(dir), q(dir), q(dir)),
        "rootfs.work '" .. dir .. "/lnk': not a directory" },
    }
    for _, c in ipairs(cases) do
      local _, out, code = helper.sh(("%s run %s -- /bin/true"):format(N, c[1]))
      assert.equal(125, code, out)
      assert.matches(c[2], out, 1, true)
      assert.not_matches("traceback", out)
    end
    local _, out, code = helper.run_isolated([[
      local nslua = require "nslua"
      local ok, err = pcall(nslua.container, { argv = { "/bin/true" }, rootfs = { lower = {}, upper = 3 } })
      print(ok, err)
    ]])
    assert.equal(0, code, out)
    assert.matches("rootfs.lower: must be a list", out, 1, true)
    assert.matches("rootfs.upper: must be an absolute path", out, 1, true)
  end)
end)

describe("overlay roots (rootless)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("write over the caller's image; a directory upper gets the caller's files", function()
    if not busybox then return pending("busybox-static missing") end
    local owner = ("%d:%d"):format(helper.ROOTLESS_UID, helper.ROOTLESS_UID)
    local img = image(dir, owner)
    assert(os.execute(("mkdir %s/up && chown %s %s/up"):format(q(dir), owner, q(dir))))
    local sum = tree_sum(img)
    local ok, out = helper.sh(("cd /tmp && %s run --overlay %s -- /bin/sh -c %s")
      :format(helper.rootless_nslua(), q(img), q(WRITES)))
    assert.is_true(ok, out)
    assert.equal(EXPECT, out)
    ok, out = helper.sh(("cd /tmp && %s run --overlay %s --overlay-upper %s/up -- /bin/sh -c %s")
      :format(helper.rootless_nslua(), q(img), q(dir), q(WRITES)))
    assert.is_true(ok, out)
    assert.equal(EXPECT, out)
    assert.equal(sum, tree_sum(img))
    assert.equal("new\n", helper.read(dir .. "/up/new"))
    local _, owners = helper.sh(("find %s/up %s/up.work -printf '%%U:%%G\\n' | sort -u"):format(q(dir), q(dir)))
    assert.equal(owner .. "\n", owners)
  end)
end)

describe("nslua run's bwrap overlay spellings (privileged)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
    assert(helper.sh(("cd %s && mkdir -p a/s b rw work && echo a > a/fa && echo a > a/s/f && echo b > b/fb")
      :format(q(dir))))
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("write over root's files; RWSRC gets the caller's files; the sources stay unchanged", function()
    local sa, sb = tree_sum(dir .. "/a"), tree_sum(dir .. "/b")
    local ok, out = helper.sh(("cd %s && %s run --overlay-src a --overlay-src b --overlay rw work /mnt/o -- "
      .. "/bin/sh -c 'echo w > /mnt/o/new && rm /mnt/o/fb && mv /mnt/o/s /mnt/o/s2 && echo x >> /mnt/o/fa && "
      .. "ls /mnt/o'"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("fa\nnew\ns2\n", out)
    assert.equal(sa, tree_sum(dir .. "/a"))
    assert.equal(sb, tree_sum(dir .. "/b"))
    local _, owners = helper.sh(("find %s/rw %s/work -printf '%%U:%%G\\n' | sort -u"):format(q(dir), q(dir)))
    assert.equal("0:0\n", owners)
    ok, out = helper.sh(("cd %s && %s run --overlay-src a --tmp-overlay /mnt/o -- /bin/sh -c "
      .. "'echo w > /mnt/o/new && rm /mnt/o/fa && ls /mnt/o'"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("new\ns\n", out)
    assert.equal(sa, tree_sum(dir .. "/a"))
    ok, out = helper.sh(("cd %s && %s run --overlay-src a --overlay-src b --ro-overlay /mnt/o -- /bin/sh -c "
      .. "'cat /mnt/o/fb; touch /mnt/o/x 2>/dev/null || echo ro'"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("b\nro\n", out)
  end)
end)

describe("nslua bwrap overlay spellings (bubblewrap 0.10's semantics)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
    assert(helper.sh(("cd %s && mkdir -p a/s b rw work && echo a > a/fa && echo a > a/s/f && echo b > b/fb && "
      .. "echo b2 > b/fa"):format(q(dir))))
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  local function bw(args, cmd, prefix)
    return helper.sh(("cd %s && %s%s bwrap --ro-bind / / --dev /dev --tmpfs /mnt %s /bin/sh -c %s")
      :format(q(dir), prefix or "", prefix and helper.rootless_tree() .. "/scripts/nslua" or N, args, q(cmd)))
  end

  it("--overlay-src ... --overlay RWSRC WORKDIR DEST: writes go to RWSRC, later sources on top", function()
    local sa, sb = tree_sum(dir .. "/a"), tree_sum(dir .. "/b")
    local ok, out = bw("--overlay-src a --overlay-src b --overlay rw work /mnt/o",
      "cat /mnt/o/fa /mnt/o/fb /mnt/o/s/f && echo w > /mnt/o/new && rm /mnt/o/fb && mv /mnt/o/s /mnt/o/s2 && "
      .. "ls /mnt/o")
    assert.is_true(ok, out)
    -- b, given after a, is above it
    assert.equal("b2\nb\na\nfa\nnew\ns2\n", out)
    assert.equal(sa, tree_sum(dir .. "/a"))
    assert.equal(sb, tree_sum(dir .. "/b"))
    assert.equal("w\n", helper.read(dir .. "/rw/new"))
  end)

  it("--tmp-overlay DEST: writes vanish; --ro-overlay DEST (two sources): read-only", function()
    local sa = tree_sum(dir .. "/a")
    local ok, out = bw("--overlay-src a --tmp-overlay /mnt/o", "echo w > /mnt/o/new && rm /mnt/o/fa && ls /mnt/o")
    assert.is_true(ok, out)
    assert.equal("new\ns\n", out)
    assert.equal(sa, tree_sum(dir .. "/a"))
    ok, out = bw("--overlay-src a --overlay-src b --ro-overlay /mnt/o",
      "cat /mnt/o/fa; touch /mnt/o/x 2>/dev/null || echo ro")
    assert.is_true(ok, out)
    assert.equal("b2\nro\n", out)
  end)

  it("refuse what bubblewrap refuses", function()
    local _, out, code = bw("--overlay-src a --ro-overlay /mnt/o", "true")
    assert.equal(1, code, out)
    assert.matches("--ro-overlay requires at least two --overlay-src", out, 1, true)
    _, out, code = bw("--overlay-src a --dir /x", "true")
    assert.equal(1, code, out)
    assert.matches("--overlay-src must be followed by another --overlay-src", out, 1, true)
  end)

  it("rootless, as the caller: --tmp-overlay and --overlay", function()
    local owner = ("%d:%d"):format(helper.ROOTLESS_UID, helper.ROOTLESS_UID)
    assert(os.execute(("chown -R %s %s"):format(owner, q(dir))))
    local sa = tree_sum(dir .. "/a")
    local ok, out = bw("--unshare-user --overlay-src a --overlay rw work /mnt/o",
      "echo w > /mnt/o/new && rm /mnt/o/fa && ls /mnt/o",
      helper.SETPRIV .. " " .. helper.san_env)
    assert.is_true(ok, out)
    assert.equal("new\ns\n", out)
    assert.equal(sa, tree_sum(dir .. "/a"))
    local _, owners = helper.sh(("find %s/rw -printf '%%U:%%G\\n' | sort -u"):format(q(dir)))
    assert.equal(owner .. "\n", owners)
  end)
end)
