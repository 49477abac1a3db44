-- A --rootfs whose symlinks point at host directories (DESIGN "Mounts":
-- every path set-up creates or opens under the new root is resolved with
-- openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)).  Each hostile link
-- sits at a path set-up touches and points at a canary directory of the
-- test (itself, not a path under it), through the scaffolding's /.oldroot (where set-up sees the host's
-- root) in an absolute and a ../ form.  A run must leave the canary as it
-- was (no new file, no mount on it) and either work inside the root (a
-- link is followed as the sandbox would: into the rootfs's own
-- /.oldroot/<canary>, the "mirror") or exit 125 naming the spec's path.
local helper = require "helper"

local q = helper.quote

-- The cases: 'link' is the rootfs path made a hostile symlink (its parent
-- a real directory), 'args' the options that make set-up touch it, 'probe'
-- a shell test inside the sandbox that passes when set-up did its work
-- inside the root (with the mirror present), 'names' the path a refusal
-- names.  SRC is a bind source of the test's, ROOT the case's rootfs.
local CASES = {
  { name = "/tmp", link = "tmp", probe = "touch /tmp/p", names = "/tmp" },
  { name = "/dev", link = "dev", probe = "echo x > /dev/null && test -c /dev/pts/ptmx", names = "/dev" },
  { name = "/proc (and its masks)", link = "proc", probe = "test -r /proc/self/status", names = "/proc" },
  -- the pty of --tty is opened in the sandbox's devpts, looked up in the root
  { name = "/dev with --tty", link = "dev", args = "--tty", tty = true,
    probe = "test -t 0 && test -c /dev/pts/0", names = "/dev" },
  { name = "/dev/pts", link = "dev/pts", probe = "test -c /dev/pts/ptmx", names = "/dev/pts" },
  { name = "/dev/shm", link = "dev/shm", probe = "touch /dev/shm/p", names = "/dev/shm" },
  { name = "/etc of a --file /etc/x", link = "etc", args = "--file /etc/x hello",
    probe = "test \"$(cat /etc/x)\" = hello", names = "/etc/x" },
  { name = "a bind target's parent", link = "mnt", args = "--bind SRC /mnt/sub",
    probe = "test -f /mnt/sub/marker", names = "/mnt/sub" },
  { name = "a --symlink's parent", link = "lnk", args = "--symlink /target /lnk/s",
    probe = "test -L /lnk/s", names = "/lnk" },
  { name = "a --tmpfs target", link = "data", args = "--tmpfs /data", probe = "touch /data/p", names = "/data" },
  { name = "a --tmpfs target's parent", link = "data", args = "--tmpfs /data/sub",
    probe = "touch /data/sub/p", names = "/data/sub" },
  -- /proc from a directory of the rootfs: the masks and read-only paths
  -- meet the links (kcore and timer_list are masked, sys made read-only)
  { name = "mask and read-only paths of a /proc from the rootfs", link = "fakeproc/kcore",
    also = { "fakeproc/sys", "fakeproc/timer_list" }, args = "--ro-bind ROOT/fakeproc /proc",
    probe = "true", names = "/proc/" },
}

-- The three forms of a link: absolute or ../ into the scaffolding's view
-- of the host, with or without the mirror inside the rootfs.
local FORMS = {
  { name = "absolute", mirror = true },
  { name = "../", rel = true, mirror = true },
  { name = "absolute, no mirror", mirror = false },
}

-- A listing of dir (names, types, modes, sizes, link targets), to compare.
local function listing(dir)
  local _, out = helper.sh(("find %s -printf '%%P %%y %%m %%s %%l\\n' | sort"):format(q(dir)))
  return out
end

local function host_mounts_under(dir)
  local n = 0
  for line in (helper.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if mp and (mp == dir or mp:sub(1, #dir + 1) == dir .. "/") then n = n + 1 end
  end
  return n
end

describe("a rootfs with symlinks to host paths #priv", function()
  local base, src, canary, t
  local cases_dir

  setup(function()
    if not helper.is_root() then return end
    base = helper.tmpdir("0755")
    assert(helper.sh(helper.root .. "/scripts/mkrootfs.sh " .. q(base)))
    assert(helper.sh(("mkdir -p %s/mnt %s/lnk %s/data %s/fakeproc && chmod -R a+rX %s")
      :format(q(base), q(base), q(base), q(base), q(base))))
    src = helper.tmpdir("0755")
    assert(helper.sh(("echo m > %s/marker && chmod 0644 %s/marker"):format(q(src), q(src))))
    cases_dir = helper.tmpdir("0755")
  end)

  teardown(function()
    for _, d in ipairs { base, src, cases_dir } do if d then helper.rmtree(d) end end
  end)

  before_each(function()
    -- the host directory the links point at: writable by anyone, so a
    -- set-up that follows a link out of the root could write there
    canary = helper.tmpdir("0777")
    assert(helper.sh(("echo c > %s/canary && chmod 0666 %s/canary"):format(q(canary), q(canary))))
    t = helper.track { paths = { canary } }
  end)

  after_each(function()
    helper.rmtree(canary)
    helper.assert_released(t)
  end)

  -- A copy of the base rootfs with the case's links in the given form.
  local ncase = 0
  local function make_root(case, form)
    ncase = ncase + 1
    local root = ("%s/r%d"):format(cases_dir, ncase)
    -- hard links: the cases change directories only, never a file of the base
    local cmd = { ("cp -al %s %s"):format(q(base), q(root)) }
    for _, l in ipairs { case.link, table.unpack(case.also or {}) } do
      local target
      if form.rel then
        -- from the link's directory up past /newroot to the scaffolding's root
        target = ("../"):rep(8) .. ".oldroot" .. canary
      else
        target = "/.oldroot" .. canary
      end
      cmd[#cmd + 1] = ("rm -rf %s/%s && mkdir -p %s/%s && ln -s %s %s/%s")
        :format(q(root), l, q(root), l:match("^(.*)/") or ".", q(target), q(root), l)
    end
    if form.mirror then
      -- the same path inside the rootfs: where the links lead in the sandbox
      local m = root .. "/.oldroot" .. canary
      cmd[#cmd + 1] = ("mkdir -p %s/sub %s/sys && ln -s /target %s/s && touch %s/x %s/kcore")
        :format(q(m), q(m), q(m), q(m), q(m))
    end
    cmd[#cmd + 1] = ("chmod -R a+rX %s"):format(q(root))
    assert(helper.sh(table.concat(cmd, " && ")))
    return root
  end

  local function check(nslua, case, form)
    local root = make_root(case, form)
    local before = listing(canary)
    local args = (case.args or ""):gsub("SRC", src):gsub("ROOT", root)
    local cmd = ("%s run --rootfs %s %s -- /bin/sh -c %s")
      :format(nslua, q(root), args, q(case.probe .. " && echo probe-ok"))
    if case.tty then
      if not helper.sh("command -v script") then return pending("script(1) is missing (bsdutils)") end
      -- script(1) gives nslua a terminal; its own status is the command's
      cmd = ("script -qec %s /dev/null < /dev/null"):format(q(cmd))
    end
    local ok, out, code = helper.sh("cd /tmp && " .. cmd)
    local where = ("%s (%s): rc %s: %s"):format(case.name, form.name, tostring(code), out)
    assert.equal(before, listing(canary), "the host canary changed: " .. where)
    assert.equal(0, host_mounts_under(canary), "a mount on the host canary: " .. where)
    if form.mirror then
      -- the links lead to directories of the rootfs: set-up works there
      assert.is_true(ok, where)
      assert.matches("probe-ok", out, 1, true)
    elseif not ok then
      assert.equal(125, code, where)
      assert.matches("set-up failed at mounts: " .. case.names, out, 1, true)
    end
    helper.rmtree(root)
  end

  for _, mode in ipairs { "privileged", "rootless" } do
    describe(mode, function()
      for _, case in ipairs(CASES) do
        for _, form in ipairs(FORMS) do
          it(("%s: %s link"):format(case.name, form.name), function()
            if not helper.is_root() then return pending("needs root") end
            check(mode == "privileged" and helper.nslua or helper.rootless_nslua(), case, form)
          end)
        end
      end
    end)
  end
end)
