-- spec/cli/run_binds_spec.lua - `nslua run`'s read-write binds write as the
-- caller (docs/roots.md "Binds and ownership"): privileged, an idmapped
-- mount by default (--bind-as-slot: the payload's slot ids, the old way);
-- rootless, the caller's ids anyway.  Relative bind sources, --cwd's
-- default and --keep-cwd.
local helper = require "helper"
local q = helper.quote
local N = helper.nslua

-- "uid:gid" of each entry under dir (itself too), sorted, unique.
local function owners(dir)
  local _, out = helper.sh(("find %s -printf '%%U:%%G\\n' | sort -u"):format(q(dir)))
  return out
end

local WRITE = "echo a > /x/f && mkdir /x/d && echo b > /x/d/g && echo c >> /x/old && mv /x/f /x/f2 && cat /x/old"

describe("nslua run --bind (privileged)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("lets the payload create and modify files, which stay the caller's", function()
    assert(os.execute(("mkdir %s/s && echo old > %s/s/old"):format(q(dir), q(dir))))
    local ok, out = helper.sh(("%s run --bind %s/s /x -- /bin/sh -c %s"):format(N, q(dir), q(WRITE)))
    assert.is_true(ok, out)
    assert.equal("old\nc\n", out)
    assert.equal("a\n", helper.read(dir .. "/s/f2"))
    assert.equal("b\n", helper.read(dir .. "/s/d/g"))
    assert.equal("0:0\n", owners(dir .. "/s"))
  end)

  it("masks nslua's own state directory wherever a bind shows it, rootless too", function()
    -- a mount on it (an empty read-only tmpfs), whatever the payload's ids
    local PROBE = "grep -c ' %s ' /proc/self/mountinfo; ls -A %s | wc -l; "
      .. "touch %s/x 2>/dev/null && echo wrote || echo refused"
    local ok, out = helper.sh(("%s run --bind /run /run -- /bin/sh -c %s"):format(N,
      q(PROBE:format("/run/nslua", "/run/nslua", "/run/nslua"))))
    assert.is_true(ok, out)
    assert.equal("1\n0\nrefused\n", out)
    -- rootless: the state directory is the caller's (the payload's host
    -- uid); through a bind of /tmp it could rewrite records and the cache
    local st = ("/tmp/nslua-%d"):format(helper.ROOTLESS_UID)
    ok, out = helper.sh(("cd /tmp && %s %s run --bind /tmp /tmp -- /bin/sh -c %s"):format(helper.ENV_I,
      helper.rootless_nslua(), q(("grep -c ' %s ' /proc/self/mountinfo"):format(st))))
    assert.is_true(ok, out)
    assert.equal("1\n", out)
  end)

  it("works on a root-owned 0700 source, with --bind-try and SRC:DST", function()
    assert(os.execute(("mkdir -m 0700 %s/s && echo old > %s/s/old && chmod 0600 %s/s/old"):format(q(dir), q(dir),
      q(dir))))
    local ok, out = helper.sh(("%s run --bind-try %s/s:/x -- /bin/sh -c %s"):format(N, q(dir), q(WRITE)))
    assert.is_true(ok, out)
    assert.equal("old\nc\n", out)
    assert.equal("0:0\n", owners(dir .. "/s"))
    local _, mode = helper.sh(("stat -c %%a %s/s"):format(q(dir)))
    assert.equal("700\n", mode)
  end)

  it("--bind-as-slot keeps the old way: the payload's slot ids, no access to root's 0700", function()
    assert(os.execute(("mkdir -m 0777 %s/s"):format(q(dir))))
    local ok, out = helper.sh(("%s run --bind-as-slot %s/s /x -- /bin/sh -c 'echo a > /x/f; id -u'")
      :format(N, q(dir)))
    assert.is_true(ok, out)
    assert.equal("65534\n", out)
    local _, o = helper.sh(("stat -c %%u %s/s/f"):format(q(dir)))
    -- a host id of the payload's slot: neither root nor the inside id
    local uid = assert(tonumber(o))
    assert.is_true(uid >= 65536 and uid % 65536 == 65534, o)
    helper.sh(("rm -f %s/s/f && chmod 0700 %s/s"):format(q(dir), q(dir)))
    local _, out2, code = helper.sh(("%s run --bind-as-slot %s/s /x -- /bin/sh -c 'echo a > /x/f'")
      :format(N, q(dir)))
    assert.is_not.equal(0, code, out2)
    assert.matches("Permission denied", out2, 1, true)
    assert.is_false(helper.exists(dir .. "/s/f"))
  end)

  it("is a plain bind with --map-all, and explain says which binds are idmapped", function()
    assert(os.execute(("mkdir -m 0777 %s/s"):format(q(dir))))
    local ok, out = helper.sh(("%s run --map-all --bind %s/s /x -- /bin/sh -c 'echo a > /x/f'"):format(N, q(dir)))
    assert.is_true(ok, out)
    local _, o = helper.sh(("stat -c %%u %s/s/f"):format(q(dir)))
    assert.is_true(assert(tonumber(o)) >= 65536, o)
    ok, out = helper.sh(("%s explain --bind %s/s /x --bind-as-slot %s/s /y --bind-idmap %s/s /z -- /bin/true")
      :format(N, q(dir), q(dir), q(dir)))
    assert.is_true(ok, out)
    assert.matches("on /x (idmapped to the caller where its file system allows)\n", out, 1, true)
    assert.matches("on /y\n", out, 1, true)
    assert.matches("on /z (idmapped to the caller)\n", out, 1, true)
    ok, out = helper.sh(("%s explain --map-all --bind %s/s /x -- /bin/true"):format(N, q(dir)))
    assert.is_true(ok, out)
    assert.matches("on /x\n", out, 1, true)
  end)

  it("leaves --ro-bind read-only and read-only binds un-idmapped", function()
    assert(os.execute(("mkdir %s/s && echo r > %s/s/r"):format(q(dir), q(dir))))
    local ok, out = helper.sh(("%s run --ro-bind %s/s /x -- /bin/sh -c 'cat /x/r; echo w > /x/w || echo ro'")
      :format(N, q(dir)))
    assert.is_true(ok, out)
    assert.matches("^r\n.*ro\n$", out)
  end)

  it("takes a bind source relative to the caller's cwd", function()
    assert(os.execute(("mkdir -p %s/rel/s && echo here > %s/rel/s/h"):format(q(dir), q(dir))))
    local ok, out = helper.sh(("cd %s/rel && %s run --bind s /x --ro-bind ./s:/y -- /bin/sh -c "
      .. "'cat /x/h /y/h && echo w > /x/w'"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("here\nhere\n", out)
    assert.equal("w\n", helper.read(dir .. "/rel/s/w"))
  end)

  it("starts in / by default; --keep-cwd binds the cwd read-write and starts there", function()
    local ok, out = helper.sh(("cd %s && %s run -- /bin/pwd"):format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal("/\n", out)
    assert(os.execute(("mkdir -m 0700 %s/w && echo t > %s/w/Makefile"):format(q(dir), q(dir))))
    ok, out = helper.sh(("cd %s/w && %s run --keep-cwd -- /bin/sh -c 'pwd; cat Makefile; echo o > out'")
      :format(q(dir), N))
    assert.is_true(ok, out)
    assert.equal(dir .. "/w\nt\n", out)
    assert.equal("o\n", helper.read(dir .. "/w/out"))
    assert.equal("0:0\n", owners(dir .. "/w"))
    -- --cwd still chooses where the command starts
    ok, out = helper.sh(("cd %s/w && %s run --keep-cwd --cwd /tmp -- /bin/sh -c 'pwd; ls %s/w'")
      :format(q(dir), N, q(dir)))
    assert.is_true(ok, out)
    assert.equal("/tmp\nMakefile\nout\n", out)
    local _, out2, code = helper.sh(("cd / && %s run --keep-cwd -- /bin/true"):format(N))
    assert.equal(125, code, out2)
    assert.matches("--keep-cwd: the current directory is /", out2, 1, true)
  end)

  it("ask for the idmap in the spec; bwrap's --bind stays plain", function()
    local run = require "nslua.cli.run"
    local o = run.parse { "--bind", "/a", "/b", "--bind-as-slot", "/c", "/d", "--bind-idmap", "/e", "/f",
                          "--ro-bind", "/g", "/h", "--", "true" }
    assert.same({
      { type = "bind", source = "/a", target = "/b", idmap = "auto" },
      { type = "bind", source = "/c", target = "/d" },
      { type = "bind-idmap", source = "/e", target = "/f" },
      { type = "bind", source = "/g", target = "/h", ro = true },
    }, run.options_to_spec(o).mounts)
    local bwrap = require "nslua.cli.bwrap"
    local st = bwrap.new_state { cwd = "/", env = {} }
    bwrap.option(st, "--bind", { "/a", "/b" })
    assert.is_nil(st.ops[1].idmap)
  end)
end)

-- An attacker's payload, as the caller's root: every way it could leave
-- a set-id file (or one with file capabilities) in a read-write mount
-- that lands on the host as root's.  Prints one line per attempt.
local ATTACK = [[
import os, stat, ctypes
libc = ctypes.CDLL(None, use_errno=True)
d = "/x"
def tryit(name, f):
    try:
        r = f()
        print(name, "ok" if r is None or r >= 0 else "err")
    except OSError as e:
        print(name, "denied" if e.errno in (1, 13, 38) else "errno%d" % e.errno)
def cfn(fn, *a):
    def go():
        r = fn(*a)
        if r < 0:
            raise OSError(ctypes.get_errno(), "")
        return r
    return go
open(d + "/plain", "w").close()
tryit("chmod", lambda: os.chmod(d + "/plain", 0o4755))
tryit("chmod-g", lambda: os.chmod(d + "/plain", 0o2755))
fd = os.open(d + "/plain", os.O_RDONLY)
tryit("fchmod", lambda: os.fchmod(fd, 0o4755))
tryit("openat-creat", lambda: os.close(os.open(d + "/created", os.O_CREAT | os.O_WRONLY, 0o4755)))
tryit("mknod", lambda: os.mknod(d + "/node", stat.S_IFREG | 0o6755))
tryit("creat", cfn(libc.syscall, 85, (d + "/creat").encode(), 0o4755))
tryit("fchmodat2", cfn(libc.syscall, 452, -100, (d + "/plain").encode(), 0o4755, 0))
tryit("unshare-user", cfn(libc.unshare, 0x10000000))
tryit("io_uring", cfn(libc.syscall, 425, 8, ctypes.create_string_buffer(120)))
tryit("chmod-plain", lambda: os.chmod(d + "/plain", 0o755))
]]
local ATTACK_DENIED = "chmod denied\nchmod-g denied\nfchmod denied\nopenat-creat denied\nmknod denied\n"
  .. "creat denied\nfchmodat2 denied\nunshare-user denied\nio_uring denied\nchmod-plain ok\n"

describe("the set-id guard of read-write idmapped mounts (privileged)", function()
  local tracker, dir
  before_each(function()
    if not helper.is_root() then return end
    tracker = helper.track()
    dir = helper.tmpdir("0755")
    assert(os.execute(("printf %%s %s > %s/attack.py"):format(q(ATTACK), q(dir))))
  end)
  after_each(function()
    if not dir then return end
    helper.rmtree(dir)
    dir = nil
    helper.assert_released(tracker)
  end)
  -- no file under d has a set-id bit; the listing otherwise
  local function setid_files(d)
    local _, out = helper.sh(("find %s -perm /6000"):format(q(d)))
    return out
  end

  for _, case in ipairs {
    { "--bind", "--bind %s/s /x" },
    { "--bind with --seccomp none", "--seccomp none --bind %s/s /x" },
    { "--bind-idmap", "--bind-idmap %s/s /x" },
    { "--keep-cwd", "--keep-cwd --ro-bind %s/attack.py /attack.py --symlink %s/s /x" },
    { "an overlay's directory upper", "--overlay-src %s/lower --overlay %s/s %s/work /x" },
  } do
    it(("refuses set-id modes, io_uring and user namespaces with %s"):format(case[1]), function()
      if not helper.is_root() then return pending("needs root") end
      assert(os.execute(("mkdir %s/s %s/lower %s/work"):format(q(dir), q(dir), q(dir))))
      local opts = case[2]:gsub("%%s", (dir:gsub("%%", "%%%%")))
      local cd = case[1] == "--keep-cwd" and dir .. "/s" or "/"
      local ok, out = helper.sh(("cd %s && %s run %s --ro-bind %s/attack.py /attack.py -- /usr/bin/python3 "
        .. "/attack.py"):format(q(cd), N, opts:gsub("%-%-ro%-bind %S+ /attack.py ", ""), q(dir)))
      assert.is_true(ok, out)
      assert.equal(ATTACK_DENIED, out)
      assert.equal("", setid_files(dir))
      assert.equal("0:0\n", owners(dir .. "/s/plain"))
    end)
  end

  it("loads before a profile that refuses seccomp(2) itself (--seccomp strict)", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir %s/s"):format(q(dir))))
    local ok, out = helper.sh(("%s run --seccomp strict --bind %s/s /x -- /bin/sh -c "
      .. "'echo a > /x/f; chmod 4755 /x/f 2>/dev/null || echo refused'"):format(N, q(dir)))
    assert.is_true(ok, out)
    assert.equal("refused\n", out)
    assert.equal("", setid_files(dir))
  end)

  it("is in explain, and not there for --bind-as-slot, --ro-bind or --map-all", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir %s/s"):format(q(dir))))
    local guard = "seccomp: plus the set-id guard"
    for opts, want in pairs { ["--bind %s/s /x"] = true, ["--bind-as-slot %s/s /x"] = false,
                              ["--ro-bind %s/s /x"] = false, ["--map-all --bind %s/s /x"] = false } do
      local ok, out = helper.sh(("%s explain %s -- /bin/true"):format(N, opts:format(q(dir))))
      assert.is_true(ok, out)
      assert.equal(want, out:find(guard, 1, true) ~= nil, opts .. "\n" .. out)
    end
  end)

  it("leaves --bind-as-slot alone: its files are the slot's, set-id or not", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir -m 0777 %s/s"):format(q(dir))))
    local ok, out = helper.sh(("%s run --bind-as-slot %s/s /x -- /bin/sh -c 'echo > /x/f && chmod 4755 /x/f'")
      :format(N, q(dir)))
    assert.is_true(ok, out)
    local _, o = helper.sh(("stat -c '%%a %%u' %s/s/f"):format(q(dir)))
    local mode, uid = o:match("^(%d+) (%d+)")
    assert.equal("4755", mode, o)
    assert.is_true(tonumber(uid) >= 65536, o)
  end)

  it("refuses CAP_SETFCAP and CAP_FSETID beside such a mount, leaving nothing", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir %s/s"):format(q(dir))))
    for _, cap in ipairs { "CAP_SETFCAP", "CAP_FSETID" } do
      local _, out, code = helper.sh(("%s run --cap-add %s --bind %s/s /x -- /bin/true"):format(N, cap, q(dir)))
      assert.equal(125, code, out)
      assert.matches(("caps: %s with the read-write idmapped mounts[1]"):format(cap), out, 1, true)
      assert.is_nil(out:find("traceback", 1, true), out)
    end
    local ok, out = helper.sh(("%s run --cap-add CAP_SETFCAP --bind-as-slot %s/s /x -- /bin/true"):format(N, q(dir)))
    assert.is_true(ok, out)
  end)
end)

describe("nslua run --bind (rootless)", function()
  local tracker, dir
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(tracker)
  end)

  it("writes as the caller, with --bind, --bind-as-slot and --keep-cwd", function()
    local owner = ("%d:%d"):format(helper.ROOTLESS_UID, helper.ROOTLESS_UID)
    assert(os.execute(("mkdir -m 0700 %s/s && echo old > %s/s/old && chown -R %s %s/s")
      :format(q(dir), q(dir), owner, q(dir))))
    local ok, out = helper.sh(("cd /tmp && %s run --bind %s/s /x -- /bin/sh -c %s")
      :format(helper.rootless_nslua(), q(dir), q(WRITE)))
    assert.is_true(ok, out)
    assert.equal("old\nc\n", out)
    ok, out = helper.sh(("cd /tmp && %s run --bind-as-slot %s/s /x -- /bin/sh -c 'echo s > /x/s'")
      :format(helper.rootless_nslua(), q(dir)))
    assert.is_true(ok, out)
    ok, out = helper.sh(("cd %s/s && %s run --keep-cwd -- /bin/sh -c 'pwd; echo k > k'")
      :format(q(dir), helper.rootless_nslua()))
    assert.is_true(ok, out)
    assert.equal(dir .. "/s\n", out)
    assert.equal("k\n", helper.read(dir .. "/s/k"))
    assert.equal(owner .. "\n", owners(dir .. "/s"))
  end)
end)
