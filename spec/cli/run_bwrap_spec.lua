-- spec/cli/run_bwrap_spec.lua - `nslua run` takes bubblewrap's spellings
-- with bubblewrap's meaning, in argument order, on top of its default
-- sandbox (issue 13, docs/bwrap.md's "nslua run" column): the conversion
-- is nslua.cli.bwrap's own (so the two front ends give one option one
-- meaning), bad input is exit 125 naming the option, and each option's
-- effect is checked inside the sandbox, next to Debian's bwrap on an
-- equivalent root where it is installed (and we are root).
local helper = require "helper"
local run = require "nslua.cli.run"
local bwrap = require "nslua.cli.bwrap"
local validate = require "nslua.validate"

local N = helper.nslua
local q = helper.quote

local function member(list, x)
  for _, v in ipairs(list) do if v == x then return true end end
  return false
end

-- The spec fields of issue 13 that other branches add: a test of an option
-- that needs one is pending until the validator knows it.
local function missing(what)
  local kind, name = what:match("^(%w+) (.+)$")
  local list = kind == "field" and validate.FIELDS.spec or kind == "type" and validate.MOUNT_TYPES
    or validate.FIELDS.mount
  if member(list, name) then return nil end
  return ("needs spec %s %s (issue 13, not merged here yet)"):format(kind, name)
end

-- bwrap 0.8 (Debian's), as root: the reference for the kernel tests.
local function have_bwrap()
  return helper.is_root() and os.execute("command -v bwrap >/dev/null 2>&1")
end

-- The options run and bwrap both take, parsed by each: run's spec and
-- bwrap's.  bwrap is given --unshare-pid (so --proc is a procfs, as in
-- run) and the caller is not root (no capabilities to start from, as in run).
local function both_specs(args)
  local argv = { table.unpack(args) }
  argv[#argv + 1] = "--"
  argv[#argv + 1] = "true"
  local o = run.parse(argv)
  local spec = run.options_to_spec(o)
  local bargs = { "--unshare-pid", table.unpack(args) }
  bargs[#bargs + 1] = "true"
  local st = bwrap.parse(bargs, { cwd = require("nslua.core").mount.readlink("/proc/self/cwd"), env = {},
                                  uid = 1000, gid = 1000, warn = function() end })
  return spec, bwrap.spec_of(st)
end

describe("nslua run's bwrap spellings (conversion)", function()
  it("make the spec mounts nslua bwrap makes, in argument order", function()
    local args = { "--perms", "0700", "--dir", "/x", "--size", "4096", "--tmpfs", "/t", "--remount-ro", "/t",
                   "--chmod", "0750", "/x", "--symlink", "../usr/bin", "/l", "--dev-bind-try", "/nope", "/n",
                   "--bind", "/usr", "/u", "--ro-bind-try", "/etc", "etc2/", "--overlay-src", "/usr",
                   "--overlay-src", "/etc", "--ro-overlay", "/o", "--overlay-src", "/usr", "--tmp-overlay", "/p",
                   "--overlay-src", "/usr", "--overlay", "/a", "/b", "/c", "--bind-fd", "0", "/fd",
                   "--ro-bind-fd", "0", "/rofd", "--proc", "/proc2", "--dev", "/dev2", "--mqueue", "/q",
                   "--perms", "0711", "--tmpfs", "/t2", "--size", "8192", "--tmpfs", "/t3" }
    local r, b = both_specs(args)
    -- the one difference: a tmpfs without --size is nslua's 64 MiB in run
    -- (the validator's default), half the RAM in bwrap
    for i, m in ipairs(r.mounts) do
      if m.type == "tmpfs" and not m.size then b.mounts[i].size = nil end
    end
    -- run's read-write --bind and its overlays are idmapped to the caller
    -- where they can be (docs/roots.md); bwrap's are plain
    for i, m in ipairs(r.mounts) do
      if m.idmap then
        assert.equal("auto", m.idmap)
        assert.is_true(m.type == "bind" or m.type == "overlay", m.type)
        assert.is_nil(b.mounts[i].idmap)
        m.idmap = nil
      end
    end
    -- and bwrap states nslua's default mount flags (its base "none" takes
    -- absent flags as not set), which run's default base implies
    local launch = require "nslua.launch"
    assert.same(b.mounts, launch.default_flags(validate.copy(r.mounts)))
    assert.equal(18, #r.mounts)
    assert.same({ type = "dir", target = "/x", mode = 448 }, r.mounts[1])
    assert.same({ type = "tmpfs", target = "/t", mode = 493, size = 4096 }, r.mounts[2])
    assert.same({ type = "bind", source = "/etc", target = "/etc2", ro = true, try = true }, r.mounts[8])
  end)

  it("make the process fields nslua bwrap makes", function()
    local r, b = both_specs { "--argv0", "name", "--die-with-parent", "--lock-file", "/l", "--lock-file", "m",
                              "--sync-fd", "1", "--block-fd", "0", "--unshare-user", "--disable-userns",
                              "--assert-userns-disabled" }
    for _, k in ipairs { "argv0", "die_with_parent", "lock_files", "sync", "userns" } do
      assert.same(b[k], r[k], k)
    end
    assert.same({ "/l", "/m" }, r.lock_files)
    assert.same({ block_fd = 0, sync_fd = 1 }, r.sync)
    r, b = both_specs { "--as-pid-1" }
    assert.equal(false, r.init)
    assert.equal(b.init, r.init)
  end)

  it("apply --cap-add and --cap-drop in order, on top of --caps or of none", function()
    local r, b = both_specs { "--cap-add", "CAP_NET_RAW", "--cap-add", "chown", "--cap-drop", "CAP_CHOWN" }
    assert.same({ "net_raw" }, r.caps)
    assert.same(b.caps, r.caps)
    r, b = both_specs { "--cap-add", "ALL", "--cap-drop", "ALL", "--cap-add", "sys_admin" }
    assert.same({ "sys_admin" }, r.caps)
    assert.same(b.caps, r.caps)
    local o = run.parse { "--caps", "chown,kill", "--cap-drop", "kill", "--cap-add", "net_raw", "--", "true" }
    assert.same({ "chown", "net_raw" }, run.options_to_spec(o).caps)
  end)

  it("keep run's own forms: SRC:DST, DST:SIZE, --file DST CONTENT (with --perms), --bind-idmap", function()
    local o = run.parse { "--bind", "/a:/b", "--tmpfs", "/t:1M", "--perms", "0600", "--file", "/f", "x",
                          "--bind-idmap", "/h", "/i", "--", "true" }
    assert.same({
      { type = "bind", source = "/a", target = "/b", idmap = "auto" },
      { type = "tmpfs", target = "/t", size = 1048576, mode = 493 },
      { type = "file", target = "/f", content = "x", mode = 384 },
      { type = "bind-idmap", source = "/h", target = "/i" },
    }, run.options_to_spec(o).mounts)
  end)

  it("splice --args FD in place, for both parsers", function()
    local dir = helper.tmpdir()
    local f = assert(io.open(dir .. "/args", "wb"))
    f:write("--perms\0" .. "0700\0--dir\0/a b\0")
    f:close()
    local ok, out = helper.sh(("%s explain --json --dir /z --args 3 --dir /c -- true 3<%s"):format(N,
      q(dir .. "/args")))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    local plan = require("cjson").decode(out)
    local made = {}
    for _, s in ipairs(plan.mounts.steps) do
      if s.op == "mkdir" and s.mode then made[#made + 1] = ("%s %o"):format(s.what, s.mode) end
    end
    assert.same({ "/z 755", "/a b 700", "/c 755" }, made)
  end)
end)

describe("nslua run's bwrap spellings (bad input)", function()
  local dir
  before_each(function() dir = helper.tmpdir("0755") end)
  after_each(function() helper.rmtree(dir) end)

  it("exit 125 naming the option, before anything runs", function()
    local marker = dir .. "/ran"
    local cmd = "/bin/sh -c " .. q("echo x > " .. marker)
    for _, c in ipairs {
      { "--perms 0700 --symlink a /b", "--perms must be followed by an option that creates a file" },
      { "--perms 0700 --name x --dir /x", "--perms must be followed by an option that creates a file" },
      { "--perms 0700", "--perms must be followed by an option that creates a file" },
      { "--perms 0700 --perms 0700 --dir /x", "--perms given twice for the same action" },
      { "--perms 9 --dir /x", "--perms takes an octal argument <= 07777" },
      { "--size 10 --dir /x", "--size must be followed by --tmpfs" },
      { "--size 0 --tmpfs /t", "--size takes a non-zero number of bytes" },
      { "--size 10 --tmpfs /t:1M", "--tmpfs /t: --size and :SIZE both give its size" },
      { "--chmod 0x1 /x", "--chmod takes an octal argument <= 07777" },
      { "--bind-fd x /x", "--bind-fd: Invalid fd: x" },
      { "--ro-bind-data 9 /tmp/x", "--ro-bind-data: Can't read data" },
      { "--overlay-src /usr --dir /x", "--overlay-src must be followed by another --overlay-src" },
      { "--overlay-src /usr", "--overlay-src must be followed by another --overlay-src" },
      { "--overlay-src /usr --ro-overlay /x", "--ro-overlay requires at least two --overlay-src" },
      { "--tmp-overlay /x", "--tmp-overlay requires at least one --overlay-src" },
      { "--cap-add bogus", "--cap-add: unknown cap: bogus" },
      { "--cap-drop", "--cap-drop" },
      { "--argv0 a --argv0 b", "--argv0 used multiple times" },
      { "--as-pid-1 --lock-file /x", "Specifying --as-pid-1 and --lock-file is not permitted" },
      { "--sync-fd x", "--sync-fd: Invalid fd: x" },
      { "--block-fd x", "--block-fd: Invalid fd: x" },
      { "--add-seccomp-fd 9", "--add-seccomp-fd: Can't read seccomp data" },
      { "--info-fd 9", "--info-fd: fd 9 is not open" },
      { "--json-status-fd 0 </dev/null", "--json-status-fd: fd 0 is not open for writing" },
      { "--args 9", "Can't read --args data" },
      { "--args x", "--args: Invalid fd: x" },
      { "--disable-userns --user host", "--disable-userns needs a user namespace" },
      { "--overlay /a /b", "--overlay" },
    } do
      local opt, redirect = c[1]:match("^(.-)( <.*)$")
      opt = opt or c[1]
      local _, out, code = helper.sh(("%s run %s -- %s%s"):format(N, opt, cmd, redirect or ""))
      assert.equal(125, code, opt .. ": " .. out)
      assert.not_matches("traceback", out, 1, true)
      assert.not_matches("internal error", out, 1, true)
      assert.matches(c[2], out, 1, true)
      assert.is_false(helper.exists(marker), opt .. ": the command ran")
    end
  end)

  it("refuses --args in an arguments file", function()
    local f = assert(io.open(dir .. "/args", "wb"))
    f:write("--args\0" .. "3\0")
    f:close()
    local _, out, code = helper.sh(("%s run --args 3 -- true 3<%s"):format(N, q(dir .. "/args")))
    assert.equal(125, code, out)
    assert.matches("--args: not supported in arguments file", out, 1, true)
  end)
end)

describe("nslua run's bwrap spellings against the kernel", function()
  local before, dir
  before_each(function()
    before = helper.host_objects()
    dir = helper.tmpdir("0755")
    local d = q(dir)
    os.execute(("mkdir -m 0777 %s/d %s/l1 %s/l2 %s/up %s/work && echo secret > %s/d/secret"):format(d, d, d, d, d, d))
    os.execute(("echo a > %s/l1/a && echo b > %s/l2/b && printf hello > %s/hello && touch %s/lockme")
      :format(d, d, d, d))
    os.execute(("chmod 0644 %s/d/secret %s/l1/a %s/l2/b %s/hello %s/lockme"):format(d, d, d, d, d))
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_clean(before)
  end)

  local function sub(s) return (s:gsub("D/", dir .. "/")) end

  -- run: `nslua run [run_opts] OPTS -- sh -c CMD REDIRECT`; bwrap (when
  -- c.bw): `bwrap --dev-bind / / --tmpfs /tmp --proc /proc --unshare-pid
  -- OPTS sh -c CMD REDIRECT`, the host's root standing in for run's.
  local function check(c)
    local opts, cmd, redirect = sub(c.opts), sub(c.cmd), sub(c.redirect or "")
    local ok, out = helper.sh(("%s run %s %s -- /bin/sh -c %s %s"):format(N, c.run_opts or "", opts, q(cmd), redirect))
    assert.is_true(ok, out)
    if type(c.want) == "string" then assert.equal(c.want, out) else assert.matches(c.want[1], out) end
    if c.bw and have_bwrap() then
      local bok, bout = helper.sh(("bwrap --dev-bind / / --tmpfs /tmp --proc /proc --unshare-pid %s %s "
        .. "/bin/sh -c %s %s"):format(c.bw_opts or "", opts, q(cmd), redirect))
      assert.is_true(bok, bout)
      if type(c.want) == "string" then assert.equal(c.want, bout, "bwrap") else assert.matches(c.want[1], bout) end
    end
  end

  local cases = {
    { "--perms OCTAL --dir gives the dir that mode (and the payload owns it)", opts = "--perms 0700 --dir /tmp/x",
      cmd = "stat -c %a /tmp/x; touch /tmp/x/f && echo mine", want = "700\nmine\n", bw = true },
    { "--perms and --size modify the next --tmpfs", opts = "--perms 0750 --size 40960 --tmpfs /tmp/t --tmpfs /tmp/u",
      cmd = "stat -c %a /tmp/t /tmp/u; stat -f -c %b /tmp/t", want = "750\n755\n10\n", bw = true },
    { "--dev-bind-try skips a missing source and binds a device node",
      opts = "--dev-bind-try /nonexistent /tmp/n --dev-bind-try /dev/null /tmp/null",
      cmd = "test -e /tmp/n || echo skipped; test -c /tmp/null && echo device", want = "skipped\ndevice\n",
      bw = true },
    { "--bind-data and --ro-bind-data make files of an fd's data (mode 0600)",
      opts = "--bind-data 3 /tmp/h --ro-bind-data 4 /tmp/g", redirect = "3<D/hello 4<D/hello",
      cmd = "cat /tmp/h; echo; stat -c %a /tmp/h /tmp/g; (echo x >> /tmp/g) 2>/dev/null || echo g-ro",
      want = "hello\n600\n600\ng-ro\n", bw = true },
    { "--perms before --bind-data", opts = "--perms 0640 --bind-data 3 /tmp/h", redirect = "3<D/hello",
      cmd = "stat -c %a /tmp/h", want = "640\n", bw = true },
    { "--symlink takes a relative link text", opts = "--symlink ../usr/bin /tmp/bin2",
      cmd = "readlink /tmp/bin2; test -x /tmp/bin2/sh && echo resolves", want = "../usr/bin\nresolves\n",
      bw = true },
    { "--ro-bind hides a file after --bind / / (argument order)", opts = "--bind / / --ro-bind D/hello D/d/secret",
      cmd = "cat D/d/secret; echo", want = "hello\n", bw = true },
    { "--cap-drop ALL --cap-add CAP keeps that one", opts = "--cap-drop ALL --cap-add CAP_NET_RAW",
      cmd = "grep CapEff /proc/self/status", want = "CapEff:\t0000000000002000\n", bw = true },
    { "--cap-add and --cap-drop on top of --caps", opts = "--caps chown,kill --cap-drop kill --cap-add net_raw",
      cmd = "grep CapEff /proc/self/status", want = "CapEff:\t0000000000002001\n" },
    { "--args FD reads NUL-separated options in place", opts = "--args 3 --dir /tmp/c", redirect = "3<D/args",
      cmd = "stat -c %a '/tmp/a b' /tmp/c", want = "700\n755\n", bw = true },
    { "--tmp-overlay writes to a tmpfs above the layers",
      opts = "--overlay-src D/l1 --tmp-overlay /tmp/o", cmd = "cat /tmp/o/a; echo new > /tmp/o/n && cat /tmp/o/n",
      want = "a\nnew\n" },
    { "--ro-overlay stacks read-only layers", opts = "--overlay-src D/l1 --overlay-src D/l2 --ro-overlay /tmp/o",
      cmd = "cat /tmp/o/a /tmp/o/b; touch /tmp/o/c 2>/dev/null || echo ro", want = "a\nb\nro\n" },
    { "--new-session and --unshare-* are accepted",
      opts = "--unshare-all --unshare-user-try --unshare-cgroup-try --unshare-pid --new-session",
      cmd = "echo ran", want = "ran\n" },
    -- these need spec fields of issue 13 that other branches add
    { "--remount-ro DEST makes a bound dir read-only", needs = "type remount-ro",
      opts = "--bind D/d /tmp/d --remount-ro /tmp/d --bind D/d /tmp/e",
      cmd = "touch /tmp/d/f 2>/dev/null || echo ro; touch /tmp/e/f && echo rw; rm -f /tmp/e/f", want = "ro\nrw\n",
      bw = true },
    { "--chmod OCTAL PATH", needs = "type chmod", opts = "--dir /tmp/c --chmod 0711 /tmp/c",
      cmd = "stat -c %a /tmp/c", want = "711\n", bw = true },
    { "--bind-fd and --ro-bind-fd bind the fd's directory", needs = "mount source_fd",
      opts = "--bind-fd 3 /tmp/fd --ro-bind-fd 4 /tmp/rofd", redirect = "3<D/d 4<D/d",
      cmd = "cat /tmp/fd/secret; touch /tmp/rofd/x 2>/dev/null || echo ro", want = "secret\nro\n", bw = true },
    { "--argv0 sets argv[0]", needs = "field argv0", opts = "--argv0 myname",
      cmd = "echo $0; tr '\\0' ' ' < /proc/$$/cmdline; echo", want = "myname\nmyname -c echo $0; tr '\\0' ' ' "
        .. "< /proc/$$/cmdline; echo \n" },
    { "--as-pid-1 makes the command pid 1", needs = "field init", opts = "--as-pid-1",
      cmd = "echo $$", want = "1\n", bw = true },
    { "--lock-file holds a read lock while the sandbox runs", needs = "field lock_files",
      opts = "--ro-bind D/lockme /tmp/l --lock-file /tmp/l",
      cmd = "python3 -c \"import fcntl, os, struct; fd = os.open('/tmp/l', os.O_RDONLY); "
        .. "r = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack('hhqqixxxx', fcntl.F_WRLCK, 0, 0, 0, 0)); "
        .. "print(struct.unpack('hhqqixxxx', r)[0] == fcntl.F_RDLCK)\"", want = "True\n", bw = true },
    { "--sync-fd is kept from the command", needs = "field sync", opts = "--sync-fd 3", redirect = "3>/dev/null",
      cmd = "test -e /proc/self/fd/3 && echo passed || echo kept", want = "kept\n", bw = true },
    { "--disable-userns: the command cannot make a user namespace", needs = "field userns",
      opts = "--seccomp none --disable-userns --assert-userns-disabled",
      cmd = "unshare -U true 2>/dev/null && echo made || echo refused", want = "refused\n" },
    { "--add-seccomp-fd loads a BPF program after the --seccomp profile", needs = "field seccomp_bpf",
      opts = "--add-seccomp-fd 3", redirect = "3<D/bpf", x86_64 = true,
      cmd = "mkdir /tmp/m 2>&1; echo rc=$?", want = { "Operation not permitted\nrc=1\n$" }, bw = true },
  }
  for _, c in ipairs(cases) do
    it(c[1] .. (c.bw and " (as bwrap does)" or ""), function()
      local why = c.needs and missing(c.needs)
      if why then return pending(why) end
      if c.x86_64 then
        local f = io.popen("uname -m")
        local arch = f:read("l")
        f:close()
        if arch ~= "x86_64" then return pending("the BPF program is x86_64's") end
      end
      -- an --args file and a BPF program refusing mkdir and mkdirat with EPERM
      local f = assert(io.open(dir .. "/args", "wb"))
      f:write("--perms\0" .. "0700\0--dir\0/tmp/a b\0")
      f:close()
      local function insn(code, jt, jf, k) return string.pack("<I2BBI4", code, jt, jf, k) end
      f = assert(io.open(dir .. "/bpf", "wb"))
      f:write(insn(0x20, 0, 0, 0), insn(0x15, 2, 0, 83), insn(0x15, 1, 0, 258), insn(0x06, 0, 0, 0x7fff0000),
        insn(0x06, 0, 0, 0x00050001))
      f:close()
      check(c)
    end)
  end

  it("--block-fd holds the command until the fd gives a byte (as bwrap does)", function()
    local why = missing("field sync")
    if why then return pending(why) end
    -- the byte comes once 'late' exists: a command that ran before it would not find it
    local late = ("(sleep 0.3; echo late > %s/d/late; printf x)"):format(q(dir))
    local ok, out = helper.sh(("bash -c %s"):format(q(("%s run --bind %s/d /tmp/d --block-fd 3 -- cat /tmp/d/late "
      .. "3< <%s </dev/null"):format(N, q(dir), late))))
    assert.is_true(ok, out)
    assert.equal("late\n", out)
    if have_bwrap() then
      os.remove(dir .. "/d/late")
      ok, out = helper.sh(("bash -c %s"):format(q(("bwrap --dev-bind / / --bind %s/d /tmp/d --block-fd 3 "
        .. "cat /tmp/d/late 3< <%s </dev/null"):format(q(dir), late))))
      assert.is_true(ok, out)
      assert.equal("late\n", out, "bwrap")
    end
  end)

  it("keeps a rw bind of / writable, and the default root read-only", function()
    local top = [[awk '$5 == "/" { o = $6 } END { print o }' /proc/self/mountinfo | cut -d, -f1]]
    for _, c in ipairs { { "--bind / /", "rw" }, { "--dev-bind / /", "rw" }, { "--ro-bind / /", "ro" },
                         { "", "ro" }, { "--bind-try /nonexistent /", "ro" } } do
      local ok, out = helper.sh(("%s run %s -- /bin/sh -c %s"):format(N, c[1], q(top)))
      assert.is_true(ok, out)
      assert.equal(c[2] .. "\n", out, c[1])
    end
    -- a tmpfs or an overlay on / keeps its own attributes too (the plan)
    for _, opts in ipairs { { "--tmpfs", "/" }, { "--overlay-src", "/usr", "--tmp-overlay", "/" } } do
      opts[#opts + 1] = "--"
      opts[#opts + 1] = "true"
      local c = require("nslua.container").new(run.spec_of(opts))
      local steps = assert(c:plan()).mounts.steps
      local last = steps[#steps]
      assert.is_false(last.op == "attr" and last.what == "/", table.concat(opts, " "))
    end
    if not helper.is_root() then return end
    -- root's payload writes through it (and the file is the host's)
    local ok, out = helper.sh(("%s run --user host --bind / / -- /bin/sh -c %s"):format(N,
      q(("touch %s/fromroot && echo wrote"):format(dir))))
    assert.is_true(ok, out)
    assert.equal("wrote\n", out)
    assert.is_true(helper.exists(dir .. "/fromroot"))
  end)

  it("--overlay writes to the host's upper directory (as root)", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = helper.sh(("%s run --user host --overlay-src %s/l1 --overlay %s/up %s/work /tmp/o -- /bin/sh -c %s")
      :format(N, q(dir), q(dir), q(dir), q("cat /tmp/o/a; echo new > /tmp/o/n")))
    assert.is_true(ok, out)
    assert.equal("a\n", out)
    assert.equal("new\n", helper.read(dir .. "/up/n"))
    assert.is_false(helper.exists(dir .. "/l1/n"))
  end)

  -- bubblewrap's documents: the child's pid and namespaces, then the exit code
  it("--info-fd and --json-status-fd write bubblewrap's JSON documents", function()
    local function docs(cmdline)
      local ok, out = helper.sh(cmdline)
      assert.is_false(ok)
      assert.equal("", out)
      return (helper.read(dir .. "/info") or ""), (helper.read(dir .. "/status") or "")
    end
    local info, status = docs(("%s run --info-fd 3 --json-status-fd 4 -- /bin/sh -c 'exit 3' 3>%s 4>%s"):format(N,
      q(dir .. "/info"), q(dir .. "/status")))
    local NS = { "cgroup", "ipc", "mnt", "net", "pid", "uts" }
    local lines = { "{", '    "child-pid": N' }
    for _, ns in ipairs(NS) do
      lines[#lines] = lines[#lines] .. ","
      lines[#lines + 1] = ('    "%s-namespace": N'):format(ns)
    end
    lines[#lines + 1] = "}"
    local want_info = table.concat(lines, "\n") .. "\n"
    local fields = { '{ "child-pid": N' }
    for _, ns in ipairs(NS) do fields[#fields + 1] = ('"%s-namespace": N'):format(ns) end
    local want_status = table.concat(fields, ", ") .. ' }\n{ "exit-code": 3 }\n'
    assert.equal(want_info, (info:gsub("%d+", "N")))
    assert.equal(want_status, (status:gsub(": %d+", ": N"):gsub('"exit%-code": N', '"exit-code": 3')))
    assert.matches('"exit%-code": 3 }\n$', status)
    -- the namespaces are the sandbox's: its mount namespace is not ours
    local mnt = tonumber(info:match('"mnt%-namespace": (%d+)'))
    local f = io.popen("stat -L -c %i /proc/self/ns/mnt")
    local own = f:read("n")
    f:close()
    assert.is_true(mnt ~= nil and mnt ~= own)
    if have_bwrap() then
      local binfo, bstatus = docs(("bwrap --unshare-all --dev-bind / / --info-fd 3 --json-status-fd 4 "
        .. "/bin/sh -c 'exit 3' 3>%s 4>%s"):format(q(dir .. "/info"), q(dir .. "/status")))
      assert.equal(want_info, (binfo:gsub("%d+", "N")), "bwrap")
      assert.equal((status:gsub("%d+", "N")), (bstatus:gsub("%d+", "N")), "bwrap")
    end
    -- a run that never started the command: the first document only
    local _, out, code = helper.sh(("%s run --json-status-fd 4 -- /nonexistent 4>%s"):format(N, q(dir .. "/status")))
    assert.equal(127, code, out)
    assert.not_matches("exit%-code", helper.read(dir .. "/status"))
  end)

  -- The process that started nslua (a shell) is SIGKILLed: with
  -- --die-with-parent the sandbox (its command, found by the unique argv[0]
  -- --argv0 gives it) and nslua go within 2 s; without, they run on (and
  -- are ended here, by pid).  In a private /run/nslua: what a killed nslua
  -- leaves (its record) goes with `nslua gc` there.
  local function scenario(opt)
    local tag = helper.unique("nsluadwp")
    local script = helper.dwp_head(tag, q(("%s run %s --argv0 %s -- /bin/sleep 600; :"):format(N, opt, tag)))
      .. [[
kill -KILL $s; wait $s 2>/dev/null
i=0; while alive >/dev/null && [ $i -lt 40 ]; do sleep 0.05; i=$((i+1)); done
if alive >/dev/null; then echo ALIVE; kill -KILL $(alive); else echo GONE; fi
i=0; while [ -n "$l" ] && [ -d /proc/$l ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
[ -n "$l" ] && [ -d /proc/$l ] && echo NSLUA-ALIVE
]] .. helper.dwp_tail(N)
    local _, out = helper.sh("unshare -m sh -c " .. q(script))
    local _, ps = helper.sh("ps -eo args")
    assert.not_matches(tag, ps, 1, true)
    return out
  end

  it("--die-with-parent ends the sandbox when the caller dies #priv", function()
    local why = missing("field die_with_parent")
    if why then return pending(why) end
    if not helper.is_root() then return pending("needs root (a private /run/nslua)") end
    assert.equal("STARTED\nGONE\nRECORDS: \n", scenario("--die-with-parent"))
  end)

  it("without --die-with-parent the sandbox outlives the caller #priv", function()
    local why = missing("field argv0")
    if why then return pending(why) end
    if not helper.is_root() then return pending("needs root (a private /run/nslua)") end
    assert.equal("STARTED\nALIVE\nRECORDS: \n", scenario(""))
  end)
end)
