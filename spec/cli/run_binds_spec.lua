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

-- `nslua run` of the payload script dir/<script>.py (bound read-only)
-- with python3, under case { name, options } (%s in the options: dir),
-- from dir/s for --keep-cwd: ok, output, code
local function run_guarded(case, dir, script, args)
  local opts = case[2]:gsub("%%s", (dir:gsub("%%", "%%%%")))
  local cd = case[1] == "--keep-cwd" and dir .. "/s" or "/"
  return helper.sh(("cd %s && %s run %s --ro-bind %s/%s.py /%s.py -- /usr/bin/python3 /%s.py%s")
    :format(q(cd), N, opts, q(dir), script, script, script, args or ""))
end

-- An attacker's payload, as the caller's root: every way it could leave
-- a set-id file (or one with file capabilities) in a read-write mount
-- that lands on the host as root's.  Prints one line per attempt.
local ATTACK = [[
import os, stat, struct, ctypes
libc = ctypes.CDLL(None, use_errno=True)
d = "/x"
def tryit(name, f):
    try:
        r = f()
        print(name, "ok" if r is None or r >= 0 else "err")
    except OSError as e:
        print(name, "denied" if e.errno in (1, 13, 38, 95) else "errno%d" % e.errno)
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
# an ACL that lets others write, which would keep a set-id bit
acl = struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, 0xffffffff) for t, p in ((1, 7), (4, 5), (0x20, 7)))
tryit("acl", lambda: os.setxattr(d + "/plain", "system.posix_acl_access", acl))
tryit("removexattr", lambda: os.removexattr(d + "/plain", "system.posix_acl_access"))
tryit("chmod-plain", lambda: os.chmod(d + "/plain", 0o755))
]]
local ATTACK_DENIED = "chmod denied\nchmod-g denied\nfchmod denied\nopenat-creat denied\nmknod denied\n"
  .. "creat denied\nfchmodat2 denied\nunshare-user denied\nio_uring denied\nacl denied\nremovexattr denied\n"
  .. "chmod-plain ok\n"

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
    { "--keep-cwd", "--keep-cwd --symlink %s/s /x" },
    { "an overlay's directory upper", "--overlay-src %s/lower --overlay %s/s %s/work /x" },
  } do
    it(("refuses set-id modes, io_uring and user namespaces with %s"):format(case[1]), function()
      if not helper.is_root() then return pending("needs root") end
      assert(os.execute(("mkdir %s/s %s/lower %s/work"):format(q(dir), q(dir), q(dir))))
      local ok, out = run_guarded(case, dir, "attack")
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

-- The guard's watch (csrc/guard.c): a set-id or file-capability program
-- already in a read-write mount that writes as host root.  The payload
-- opens each for writing every way it can (a shared writable mapping of
-- it would keep the bits), from a second thread too; reading and running
-- it still work, and so does writing a plain file (twice: the second
-- open is no longer asked about).
local REWRITE = [[
import os, sys, mmap, threading
d = sys.argv[1]
def tryit(name, f):
    try:
        f()
        print(name, "ok")
    except OSError as e:
        print(name, "denied" if e.errno in (1, 13) else "errno%d" % e.errno)
def opener(path, flags):
    def go():
        fd = os.open(path, flags)
        try:
            if flags & os.O_ACCMODE == os.O_RDWR:
                m = mmap.mmap(fd, 8, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
                m[0:4] = b"PWND"
                m.close()
        finally:
            os.close(fd)
    return go
for f in ("suid", "sgid", "fcap"):
    p = d + "/" + f
    tryit(f + "-rdwr", opener(p, os.O_RDWR))
    tryit(f + "-append", opener(p, os.O_WRONLY | os.O_APPEND))
    tryit(f + "-trunc", opener(p, os.O_RDONLY | os.O_TRUNC))
    tryit(f + "-read", opener(p, os.O_RDONLY))
fd = os.open(d + "/suid", os.O_RDONLY)
tryit("reopen", opener("/proc/self/fd/%d" % fd, os.O_RDWR))
os.close(fd)
os.link(d + "/suid", d + "/hard")
tryit("hardlink", opener(d + "/hard", os.O_RDWR))
os.unlink(d + "/hard")
# (the thread's own call is what counts, not the main thread's)
for name, flags in (("thread", os.O_RDWR), ("thread-read", os.O_RDONLY)):
    t = threading.Thread(target=lambda: tryit(name, opener(d + "/suid", flags)))
    t.start()
    t.join()
# many readers at once: each answer wakes every waiting opener a moment
def readers():
    errs = []
    def loop():
        for _ in range(100):
            try:
                os.close(os.open(d + "/suid", os.O_RDONLY))
            except OSError as e:
                errs.append(e)
    ts = [threading.Thread(target=loop) for _ in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
tryit("readers", readers)
def run():
    if os.spawnv(os.P_WAIT, d + "/suid", ["suid"]) != 0:
        raise OSError(5, "exit")
tryit("exec", run)
tryit("plain", opener(d + "/plain", os.O_RDWR))
tryit("plain-again", opener(d + "/plain", os.O_RDWR))
]]
local REWRITE_WANT = "suid-rdwr denied\nsuid-append denied\nsuid-trunc denied\nsuid-read ok\n"
  .. "sgid-rdwr denied\nsgid-append denied\nsgid-trunc denied\nsgid-read ok\n"
  .. "fcap-rdwr denied\nfcap-append denied\nfcap-trunc denied\nfcap-read ok\n"
  .. "reopen denied\nhardlink denied\nthread denied\nthread-read ok\nreaders ok\nexec ok\nplain ok\n"
  .. "plain-again ok\n"

-- d/suid, d/sgid (copies of /bin/true, 4755 and 2755), d/fcap (with
-- cap_net_raw as a file capability) and d/plain, made by host root.
local PROGRAMS = [[
import os, shutil, struct, sys
d = sys.argv[1]
for name, mode in (("suid", 0o4755), ("sgid", 0o2755), ("fcap", 0o755)):
    shutil.copyfile("/bin/true", d + "/" + name)
    os.chmod(d + "/" + name, mode)
os.setxattr(d + "/fcap", "security.capability", struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0))
with open(d + "/plain", "w") as f:
    f.write("12345678")
]]

describe("the set-id guard's watch of mounts that write as host root (privileged)", function()
  local tracker, dir
  before_each(function()
    if not helper.is_root() then return end
    tracker = helper.track()
    dir = helper.tmpdir("0755")
    assert(os.execute(("printf %%s %s > %s/rewrite.py && printf %%s %s > %s/programs.py"):format(q(REWRITE),
      q(dir), q(PROGRAMS), q(dir))))
  end)
  after_each(function()
    if not dir then return end
    helper.rmtree(dir)
    dir = nil
    helper.assert_released(tracker)
  end)

  -- the three programs under d as they were made, bit for bit: "" when so
  local function changed(d)
    local _, out = helper.sh(("cd %s && for f in suid sgid fcap; do cmp -s $f /bin/true || echo $f; done; "
      .. "stat -c '%%n %%a' suid sgid fcap | grep -v -e '^suid 4755$' -e '^sgid 2755$' -e '^fcap 755$'; "
      .. "getfattr -n security.capability fcap >/dev/null 2>&1 || "
      .. "python3 -c 'import os; os.getxattr(\"fcap\", \"security.capability\")' || echo fcap-xattr"):format(q(d)))
    return out
  end

  for _, case in ipairs {
    { "--bind", "--bind %s/s /x" },
    { "--bind-idmap", "--bind-idmap %s/s /x" },
    { "--keep-cwd", "--keep-cwd --symlink %s/s /x" },
    { "an overlay's directory upper", "--overlay-src %s/s --overlay %s/up %s/work /x" },
  } do
    it(("refuses to open such a program for writing, with %s"):format(case[1]), function()
      if not helper.is_root() then return pending("needs root") end
      -- (helper.sh: no sanitizer preloaded into python3)
      local made, mout = helper.sh(("mkdir %s/s %s/up %s/work && python3 %s/programs.py %s/s"):format(q(dir),
        q(dir), q(dir), q(dir), q(dir)))
      assert.is_true(made, mout)
      local ok, out = run_guarded(case, dir, "rewrite", " /x")
      assert.is_true(ok, out)
      assert.equal(REWRITE_WANT, out)
      assert.equal("", changed(dir .. "/s"))
      if case[1]:find("overlay", 1, true) then
        -- what the overlay copied up (the hard link did) is the same program
        local _, up = helper.sh(("ls %s/up"):format(q(dir)))
        assert.equal("plain\nsuid\n", up)
        assert.is_true((helper.sh(("cmp -s %s/up/suid /bin/true"):format(q(dir)))))
        assert.equal("12345678", helper.read(dir .. "/s/plain"))
        assert.equal("PWND5678", helper.read(dir .. "/up/plain"))
      else
        assert.equal("PWND5678", helper.read(dir .. "/s/plain"))
      end
    end)
  end

  it("is in explain beside the seccomp half", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir %s/s"):format(q(dir))))
    local ok, out = helper.sh(("%s explain --bind %s/s /x -- /bin/true"):format(N, q(dir)))
    assert.is_true(ok, out)
    assert.matches("set-id guard: a watch of the read-write idmapped mounts and overlays", out, 1, true)
  end)

  it("refuses CAP_SYS_ADMIN, CAP_SYS_PTRACE, and a sandbox without a pid namespace or init", function()
    if not helper.is_root() then return pending("needs root") end
    assert(os.execute(("mkdir %s/s"):format(q(dir))))
    local out, code
    for _, cap in ipairs { "CAP_SYS_ADMIN", "CAP_SYS_PTRACE" } do
      _, out, code = helper.sh(("%s run --cap-add %s --bind %s/s /x -- /bin/true"):format(N, cap, q(dir)))
      assert.equal(125, code, out)
      assert.matches(("caps: %s with the read-write idmapped mounts[1]"):format(cap), out, 1, true)
    end
    local ok
    ok, out = helper.run_isolated(([[
      local nslua = require "nslua"
      for _, extra in ipairs { { namespaces = { pid = false } }, { init = false } } do
        local spec = { argv = { "/bin/true" }, mounts = { { type = "bind-idmap", source = %q, target = "/w" } } }
        for k, v in pairs(extra) do spec[k] = v end
        local c, err, ecode = nslua.container(spec)
        local r
        if c then r, err, ecode = c:run() end
        print(r and r.status, ecode, err)
      end
    ]]):format(dir .. "/s"))
    assert.is_true(ok, out)
    local want = "the set-id guard that watches it needs a pid namespace and nslua's init"
    local n = 0
    for line in out:gmatch("[^\n]+") do
      n = n + 1
      assert.matches("^nil\t22\tstart '%w+': mounts%[1%]: a read%-write idmapped mount writes as host root", line)
      assert.matches(want, line, 1, true)
    end
    assert.equal(2, n, out)
  end)

  it("ends the sandbox when its answerer dies, and the answerer ends with the sandbox", function()
    if not helper.is_root() then return pending("needs root") end
    local made, mout = helper.sh(("mkdir %s/s && python3 %s/programs.py %s/s"):format(q(dir), q(dir), q(dir)))
    assert.is_true(made, mout)
    local ok, out = helper.run_isolated(([[
      local nslua = require "nslua"
      local core = require "nslua.core"
      local dir, helper_sh = %q, %q
      -- /w's mount id in the sandbox, and the host pids of the processes
      -- but the init whose fanotify group marks it (fdinfo: "fanotify
      -- mnt_id:<hex> ..."): the answerer
      local function watchers(c)
        local id
        for line in io.lines(("/proc/%%d/mountinfo"):format(c._pid)) do
          local i, mp = line:match("^(%%d+) %%d+ %%S+ %%S+ (%%S+)")
          if mp == "/w" then id = tonumber(i) end
        end
        local f = io.popen((helper_sh):format(id, c._pid))
        local pids = f:read("a")
        f:close()
        return pids, id
      end
      -- (1) the answerer killed: the sandbox ends, and the payload's loop
      -- of write opens never got through
      local c = assert(nslua.container { argv = { "/bin/sh", "-c",
          "while :; do (exec 3<>/w/suid) 2>/dev/null && echo OPENED; done" },
        mounts = { { type = "bind-idmap", source = dir, target = "/w" } } })
      assert(c:start())
      local pids, id = watchers(c)
      local guard = math.tointeger(tonumber(pids:match("^(%%d+)\n$")))
      print("one answerer", guard ~= nil)
      core.proc.kill(guard, 9)
      local r, err = c:wait()
      print("ended", r and r.status or err, r and r.error and r.error.message)
      print("init gone", not io.open(("/proc/%%d/stat"):format(c._pid)))
      -- (2) the sandbox ends: so does its answerer
      c = assert(nslua.container { argv = { "/bin/sleep", "0.3" },
        mounts = { { type = "bind-idmap", source = dir, target = "/w" } } })
      assert(c:start())
      pids, id = watchers(c)
      guard = math.tointeger(tonumber(pids:match("^(%%d+)\n$")))
      r = assert(c:wait())
      print("exited", r.status, r.exit_code)
      local gone = false
      for _ = 1, 100 do
        local f = io.open(("/proc/%%d/stat"):format(guard))
        local st = f and f:read("a")
        if f then f:close() end
        if not st or st:match("^%%d+ %%b() Z") then gone = true break end
        core.proc.poll({}, 20)
      end
      print("answerer gone", gone)
    ]]):format(dir .. "/s", "grep -l 'fanotify mnt_id:%x ' /proc/[0-9]*/fdinfo/* 2>/dev/null "
      .. "| cut -d/ -f3 | sort -u | grep -vx %d"))
    assert.is_true(ok, out)
    assert.is_nil(out:find("OPENED", 1, true), out)
    assert.matches("^one answerer\ttrue\nended\terror\tthe set%-id guard's answerer %(nslua%-guard%) ended "
      .. "before the command: the sandbox was ended\n", out)
    assert.matches("\ninit gone\ttrue\nexited\texited\t0\nanswerer gone\ttrue\n$", out)
    assert.equal("", changed(dir .. "/s"))
  end)
end)

describe("the set-id guard's choice of mounts (container.guard_mounts)", function()
  it("takes the read-write idmapped mounts and the overlays, their points unescaped", function()
    local text = table.concat({
      "46 71 254:0 /tmp/b /mnt rw,nosuid,nodev,relatime,idmapped - ext4 /dev/vda rw,discard",
      "47 71 254:0 /tmp/b /ro ro,nosuid,nodev,relatime,idmapped - ext4 /dev/vda rw",
      "48 71 0:50 / /a\\040b rw,relatime shared:3 master:1 - overlay overlay rw,lowerdir=/x",
      "49 71 254:0 /usr /usr rw,nosuid - ext4 /dev/vda rw",
      "50 71 254:0 /x /y rw,noidmapped,idmappedx - ext4 /dev/vda rw",
      "51 71 0:51 / /o ro,relatime - overlay overlay rw,lowerdir=/x",
      "52 71 0:52 / /t rw,relatime - tmpfs overlay rw",
    }, "\n")
    assert.same({ { id = 46, mountpoint = "/mnt" }, { id = 48, mountpoint = "/a b" } },
      require("nslua.container").guard_mounts(text))
  end)
end)
