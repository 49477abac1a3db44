-- nslua isolate against the real kernel: boxes, rules, limits, verdicts,
-- and the attacks on what it trusts (docs/isolate.md).
local helper = require "helper"
local q = helper.quote

local root = helper.is_root()
local pit = root and it or pending

-- A box root of the test's own (isolate_root), removed at the end.
local top, boxes
local ID = 700 + (tonumber(tostring({}):match("0x(%x+)") or "0", 16) % 50)
local UID = 60000 + ID

local function iso(args, env)
  return helper.sh(("cd /tmp && NSLUA_ISOLATE_ROOT=%s %s%s isolate %s")
    :format(q(boxes), env and (env .. " ") or "", helper.nslua, args))
end

local function meta_of(path)
  local m = {}
  for k, v in (helper.read(path) or ""):gmatch("([%w-]+):([^\n]*)") do m[k] = v end
  return m
end

local function stat(path, fmt)
  local ok, out = helper.sh(("stat -c %s %s"):format(fmt or "%u:%g:%a", q(path)))
  return ok and out:match("^(.-)%s*$") or nil
end

-- one --run of box ID; returns exit code, output (stdout+stderr), meta
local function run(opts, cmd)
  local meta = top .. "/meta"
  os.remove(meta)
  local _, out, rc = iso(("-b %d -M %s %s --run -- %s"):format(ID, q(meta), opts or "", cmd))
  return rc, out, meta_of(meta)
end

describe("nslua isolate", function()
  local t
  setup(function()
    if not root then return end
    top = helper.tmpdir("0755")
    boxes = top .. "/boxes"
  end)
  teardown(function()
    if top then helper.rmtree(top) end
  end)
  before_each(function()
    t = helper.track()
    if root then
      local ok, out = iso(("-b %d --init"):format(ID))
      assert(ok, out)
    end
  end)
  after_each(function()
    if root then
      local ok, out = iso(("-b %d --cleanup"):format(ID))
      assert(ok, out)
      assert.is_false(helper.exists(("%s/%d"):format(boxes, ID)))
    end
    helper.assert_released(t)
  end)

  pit("--init makes the box and prints its directory; --cleanup is idempotent", function()
    local ok, out = iso(("-b %d --init"):format(ID))
    assert.is_true(ok)
    assert.equal(("%s/%d\n"):format(boxes, ID), out)
    assert.equal("0:0:700", stat(("%s/%d/box"):format(boxes, ID)))
    assert.is_true(helper.exists(("%s/%d/tmp"):format(boxes, ID)))
    local rc, _
    ok, out = iso(("-b %d --cleanup"):format(ID))
    assert.is_true(ok, out)
    _, out, rc = iso(("-b %d --cleanup"):format(ID))
    assert.equal(0, rc, out)
    -- never initialized: nothing to do, still 0
    _, out, rc = iso(("-b %d --cleanup"):format(ID + 100))
    assert.equal(0, rc, out)
    -- --run of a box that is gone
    _, out, rc = iso(("-b %d --run -- /bin/true"):format(ID))
    assert.equal(2, rc)
    assert.matches("Box not found, did you run `isolate %-%-init'%?", out)
    assert(iso(("-b %d --init"):format(ID)))
  end)

  pit("runs as the box's own uid, in /box, which persists between runs", function()
    local rc, out, m = run("-p -o out.txt", "/bin/sh -c " .. q("id -u; id -g; pwd; stat -c %u /box; echo hi > a.out"))
    assert.equal(0, rc, out)
    assert.matches("^OK %(", out)
    assert.equal("0", m.exitcode)
    assert.is_truthy(m.time and m["time-wall"] and m["max-rss"])
    local box = ("%s/%d/box"):format(boxes, ID)
    assert.equal(("%d\n%d\n/box\n%d\n"):format(UID, UID, UID), helper.read(box .. "/out.txt"))
    -- afterwards box/ belongs to the caller again, files included
    assert.equal("0:0:700", stat(box))
    assert.equal("0:0", stat(box .. "/a.out", "%u:%g"))
    assert.equal("0:0", stat(box .. "/out.txt", "%u:%g"))
    rc, out = run("", "/bin/cat a.out")
    assert.equal(0, rc)
    assert.matches("^hi\n", out)
  end)

  pit("shows isolate's directory rules: no /etc, a private /tmp, proc with hidepid", function()
    local rc, out = run("-p -o o -r e", "/bin/sh -c " .. q(
      "ls /; test -e /etc && echo ETC; ls /proc | grep -c '^[0-9]'; cat /proc/1/cmdline && echo PROC1; "
      .. "echo x > /tmp/f && echo TMP; ls /dev"))
    assert.equal(0, rc, out)
    local o = helper.read(("%s/%d/box/o"):format(boxes, ID))
    assert.not_matches("ETC", o)
    assert.not_matches("PROC1", o)
    assert.matches("TMP", o)
    for _, d in ipairs { "box", "bin", "dev", "lib", "proc", "tmp", "usr" } do
      assert.matches("\n" .. d .. "\n", "\n" .. o)
    end
    -- only the box's own processes (sh, ls, grep) show in /proc
    local n = tonumber(o:match("\n(%d+)\n"))
    assert.is_true(n ~= nil and n <= 4, o)
    assert.matches("null", o)
    assert.not_matches("sda", o)
    -- /tmp is the box's and stays for the next run
    rc, out = run("", "/bin/cat /tmp/f")
    assert.equal(0, rc, out)
    assert.matches("^x\n", out)
  end)

  pit("--dir binds with isolate's flags, and a missing source is an error unless maybe", function()
    local src = top .. "/data"
    helper.sh(("mkdir -p %s && echo D > %s/f && chmod -R a+rwX %s"):format(q(src), q(src), q(src)))
    local rc, out = run(("-p -d /data=%s -d /etc:noexec"):format(src),
      "/bin/sh -c " .. q("cat /data/f; test -r /etc/passwd && echo ETC; touch /data/g || echo RO"))
    assert.equal(0, rc, out)
    assert.matches("D\nETC\n.*RO", out)
    rc, out = run(("-p --dir=/data=%s:rw"):format(src), "/bin/sh -c " .. q("touch /data/g && echo RW"))
    assert.equal(0, rc, out)
    assert.matches("RW", out)
    rc, out = run("--dir=/nope=/does/not/exist", "/bin/true")
    assert.equal(2, rc)
    assert.matches("Cannot mount /does/not/exist on nope", out)
    rc, out = run("--dir=/nope=/does/not/exist:maybe", "/bin/true")
    assert.equal(0, rc, out)
  end)

  pit("stdio files are the box's: relative to /box, opened as the box uid", function()
    local box = ("%s/%d/box"):format(boxes, ID)
    helper.sh(("printf 'in\\n' > %s/in.txt"):format(q(box)))
    local rc, out = run("-p -i in.txt -o out.txt -r err.txt", "/bin/sh -c " .. q("cat; echo E >&2"))
    assert.equal(0, rc, out)
    assert.equal("in\n", helper.read(box .. "/out.txt"))
    assert.equal("E\n", helper.read(box .. "/err.txt"))
    rc, out = run("-o out.txt --stderr-to-stdout", "/bin/sh -c " .. q("echo O; echo E >&2"))
    assert.equal(0, rc, out)
    assert.equal("O\nE\n", helper.read(box .. "/out.txt"))
    -- a missing input is the sandbox's error, as isolate words it
    local m
    rc, out, m = run("-i nope", "/bin/true")
    assert.equal(2, rc, out)
    assert.equal("XX", m.status)
    assert.equal('open("/box/nope"): No such file or directory', m.message)
    -- the box uid cannot write where it has no permission, whoever calls
    rc, out, m = run("-o /usr/nslua-isolate-test", "/bin/true")
    assert.equal(2, rc, out)
    assert.matches('open%("/usr/nslua%-isolate%-test"%)', m.message)
    assert.is_false(helper.exists("/usr/nslua-isolate-test"))
  end)

  pit("a program that cannot be executed is RE 127 with isolate's execve message", function()
    local rc, out, m = run("", "nosuch")
    assert.equal(1, rc, out)
    assert.equal("RE", m.status)
    assert.equal("127", m.exitcode)
    assert.equal("Exited with error status 127", m.message)
    assert.matches('execve%("nosuch"%): No such file or directory', out)
    -- a bare name is a file in the working directory, never a PATH search
    rc, out, m = run("-E PATH=/usr/bin:/bin", "true")
    assert.equal(1, rc, out)
    assert.equal("127", m.exitcode)
  end)

  pit("the environment is empty but for LIBC_FATAL_STDERR_=1 and -E", function()
    local rc, out = helper.sh(("cd /tmp && FOO=inherited NSLUA_ISOLATE_ROOT=%s %s isolate -b %d -E FOO -E BAR=set "
      .. "--run -- /usr/bin/env"):format(q(boxes), helper.nslua, ID))
    assert.is_true(rc, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do
      if not l:match("^OK ") then lines[#lines + 1] = l end
    end
    table.sort(lines)
    assert.same({ "BAR=set", "FOO=inherited", "LIBC_FATAL_STDERR_=1" }, lines)
  end)

  pit("times: -t kills with TO, -x grants isolate's extra time, -w is wall clock", function()
    local spin = "/usr/bin/python3 -c " .. q("while True: pass")
    local rc, out, m = run("-t 0.3", spin)
    assert.equal(1, rc, out)
    assert.equal("TO", m.status)
    assert.equal("Time limit exceeded", m.message)
    assert.equal("1", m.killed)
    local tm = tonumber(m.time)
    assert.is_true(tm >= 0.3 and tm < 0.6, m.time)
    rc, out, m = run("-t 0.2 -x 0.6", spin)
    assert.equal(1, rc, out)
    assert.equal("TO", m.status)
    tm = tonumber(m.time)
    assert.is_true(tm >= 0.6 and tm < 0.9, m.time)
    rc, out, m = run("-w 0.4", "/bin/sleep 5")
    assert.equal(1, rc, out)
    assert.equal("Time limit exceeded (wall clock)", m.message)
    tm = tonumber(m["time-wall"])
    assert.is_true(tm >= 0.4 and tm < 1.5, m["time-wall"])
    -- no wall limit by default: a short sleep just finishes
    rc, out, m = run("-t 0.2", "/bin/sleep 0.5")
    assert.equal(0, rc, out)
    assert.equal("0", m.exitcode)
  end)

  pit("-p1 (the default) forbids fork, -p N allows it", function()
    local fork = "/usr/bin/python3 -c "
      .. q("import os,sys\ntry:\n os.fork()\nexcept OSError as e:\n sys.exit(e.errno)")
    local rc, out, m = run("", fork)
    assert.equal(1, rc, out)
    assert.equal("11", m.exitcode) -- EAGAIN
    rc, out, m = run("-p4", fork)
    assert.equal(0, rc, out)
    assert.equal("0", m.exitcode)
  end)

  pit("-m bounds each process's address space; -f is SIGXFSZ", function()
    local rc, out, m = run("-m 100000", "/usr/bin/python3 -c " .. q("x = bytearray(300 << 20)"))
    assert.equal(1, rc, out)
    assert.equal("RE", m.status)
    assert.matches("MemoryError", out)
    rc, out, m = run("-f 10 -o big", "/usr/bin/head -c 100000 /dev/zero")
    assert.equal(1, rc, out)
    assert.equal("SG", m.status)
    assert.equal("25", m.exitsig)
    assert.equal("Caught fatal signal 25", m.message)
  end)

  pit("--cg: --cg-mem is the group's memory, an OOM kill is SG with cg-oom-killed", function()
    assert(iso(("-b %d --cleanup"):format(ID)))
    assert(iso(("-b %d --cg --init"):format(ID)))
    local rc, out, m = run("--cg --cg-mem=60000",
      "/usr/bin/python3 -c " .. q("x = bytearray(200 << 20)\nfor i in range(0, len(x), 4096): x[i] = 1"))
    assert.equal(1, rc, out)
    assert.equal("SG", m.status)
    assert.equal("9", m.exitsig)
    assert.equal("1", m["cg-oom-killed"])
    assert.is_truthy(tonumber(m["cg-mem"]))
    -- a box made with --cg refuses a run without it
    rc, out = run("", "/bin/true")
    assert.equal(2, rc)
    assert.matches("incompatible control group mode", out)
    assert(iso(("-b %d --cg --cleanup"):format(ID)))
    assert(iso(("-b %d --init"):format(ID)))
  end)

  pit("isolate's syscall filter: keyctl and flock ENOSYS, fcntl locks EPERM", function()
    local py = table.concat({
      "import ctypes, fcntl, os, errno, socket",
      "libc = ctypes.CDLL(None, use_errno=True)",
      "r = libc.syscall(250, 0, 0, 0, 0, 0); print('keyctl', ctypes.get_errno())",
      "f = open('/box/l', 'w')",
      "try: fcntl.flock(f, fcntl.LOCK_EX)\nexcept OSError as e: print('flock', e.errno)",
      "try: fcntl.lockf(f, fcntl.LOCK_EX)\nexcept OSError as e: print('lockf', e.errno)",
      "try: socket.socket(40, socket.SOCK_STREAM)\nexcept OSError as e: print('vsock', e.errno)",
      "print('ok')",
    }, "\n")
    local rc, out = run("", "/usr/bin/python3 -c " .. q(py))
    assert.equal(0, rc, out)
    assert.matches("keyctl 38\nflock 38\nlockf 1\nvsock 97\nok", out)
    -- --syscalls=0: no filter
    rc, out = run("--syscalls=0", "/usr/bin/python3 -c " .. q(py))
    assert.equal(0, rc, out)
    assert.not_matches("flock 38", out)
  end)

  pit("a second run of a busy box is refused, --wait waits", function()
    local ok, out = helper.sh(("cd /tmp && (NSLUA_ISOLATE_ROOT=%s %s isolate -b %d --run -- /bin/sleep 1.5 "
      .. ">/dev/null 2>&1 &) ; sleep 0.5; %s ps | grep -c ' isolate-%d '; "
      .. "NSLUA_ISOLATE_ROOT=%s %s isolate -b %d --run -- /bin/true; echo rc=$?; "
      .. "NSLUA_ISOLATE_ROOT=%s %s isolate -b %d --wait --run -- /bin/true; echo rc=$?")
      :format(q(boxes), helper.nslua, ID, helper.nslua, ID, q(boxes), helper.nslua, ID, q(boxes), helper.nslua, ID))
    assert.is_true(ok, out)
    -- the running box is a container like any other: nslua ps names it
    assert.matches("^1\nThis box is currently in use by another process\nrc=2\nOK .-\nrc=0", out)
  end)

  pit("chowning the box never follows a link the program planted", function()
    local before = stat("/etc/shadow")
    local rc, out = run("-p", "/bin/sh -c "
      .. q("ln -s /etc/shadow /box/l; mkdir /box/d; ln -s /etc /box/d/e; mkfifo /box/p"))
    assert.equal(0, rc, out)
    assert.equal(before, stat("/etc/shadow"))
    local box = ("%s/%d/box"):format(boxes, ID)
    -- special files go (isolate's rule) ...
    assert.is_false(helper.sh("test -L " .. q(box .. "/l")))
    assert.is_false(helper.sh("test -p " .. q(box .. "/p")))
    -- ... and stay with --special-files
    rc, out = run("-p --special-files", "/bin/sh -c " .. q("ln -s /etc/shadow /box/l2"))
    assert.equal(0, rc, out)
    assert.is_true(helper.sh("test -L " .. q(box .. "/l2")))
    assert.equal("0:0", stat(box .. "/l2", "%u:%g"))
    assert.equal(before, stat("/etc/shadow"))
  end)

  pit("closes the box to host users while the box uid owns it", function()
    -- the program leaves a setuid binary of the box uid in a world-open
    -- /box: nobody on the host may reach it during the run, and the chown
    -- back takes its setuid bit
    local dir = ("%s/%d"):format(boxes, ID)
    local ok, out = helper.sh(("cd /tmp && (NSLUA_ISOLATE_ROOT=%s %s isolate -b %d -p --run -- /bin/sh -c %s "
      .. ">/dev/null 2>&1 &); sleep 0.7; stat -c %%a %s; %s test -x %s/box/t && echo REACHED; sleep 1.5; "
      .. "stat -c %%a:%%u %s %s/box/t")
      :format(q(boxes), helper.nslua, ID, q("cp /bin/true /box/t; chmod 4755 /box/t; chmod 755 /box; sleep 1.2"),
        q(dir), helper.SETPRIV, q(dir), q(dir), q(dir)))
    assert.is_true(ok, out)
    assert.equal("700\n755:0\n755:0\n", out)
    -- the locks are root's alone
    assert.equal("700", stat(boxes .. "/.locks", "%a"))
    assert.equal("600", stat(("%s/.locks/%d"):format(boxes, ID), "%a"))
    assert.equal("0:700", stat(dir .. "/tmp", "%u:%a"))
  end)

  pit("--inherit-fds passes the caller's fds, never the front end's own", function()
    local _, out2 = helper.sh(("cd /tmp && exec 7</dev/null && ls /proc/$$/fd | tr '\\n' ' ' && echo && "
      .. "NSLUA_ISOLATE_ROOT=%s %s isolate -b %d --inherit-fds -s -M %s -d /data=/usr -o fds "
      .. "--run -- /bin/ls /proc/self/fd "
      .. "&& cat %s/%d/box/fds")
      :format(q(boxes), helper.nslua, ID, q(top .. "/meta3"), q(boxes), ID))
    local caller_line, rest = out2:match("^([^\n]*)\n(.*)$")
    local want, got = { ["3"] = true }, {}
    for fd in caller_line:gmatch("%d+") do want[fd] = true end
    for fd in rest:gmatch("%d+") do got[fd] = true end
    -- the caller's (7 among them) and ls's own directory fd; no meta, lock or source fd
    assert.is_true(got["7"], out2)
    assert.same(want, got)
  end)

  pit("a run after one that was killed finds its box again", function()
    -- what a SIGKILLed --run leaves: ROOT/ID closed, box/ the box uid's
    local dir = ("%s/%d"):format(boxes, ID)
    assert(iso(("-b %d --cleanup"):format(ID)))
    assert(iso(("-b %d --as-uid=4242 --as-gid=4242 --init"):format(ID)))
    assert(helper.sh(("chown -R %d:%d %s/box && chmod 0700 %s"):format(UID, UID, q(dir), q(dir))))
    local _, out, rc = iso(("-b %d --as-uid=4242 --as-gid=4242 --run -- /bin/true"):format(ID))
    assert.equal(0, rc, out)
    assert.equal("755", stat(dir, "%a"))
    assert.equal("4242:4242", stat(dir .. "/box", "%u:%g"))
    assert(iso(("-b %d --as-uid=4242 --as-gid=4242 --cleanup"):format(ID)))
    assert(iso(("-b %d --init"):format(ID)))
  end)

  pit("a file of someone else's linked into box/ keeps its owner", function()
    local box = ("%s/%d/box"):format(boxes, ID)
    local other = top .. "/other"
    assert(helper.sh(("echo x > %s && chown 4250:4250 %s && chmod 0666 %s && ln %s %s/h")
      :format(q(other), q(other), q(other), q(other), q(box))))
    local rc, out = run("", "/bin/true")
    assert.equal(0, rc, out)
    assert.equal("4250:4250", stat(other, "%u:%g"))
  end)

  pit("a program's deep directory tree never makes its box unusable", function()
    local rc, out = run("-p", "/bin/sh -c " .. q("for d in /box /tmp; do cd $d; i=0; "
      .. "while [ $i -lt 300 ]; do mkdir d && cd d || exit 1; i=$((i+1)); done; done"))
    assert.equal(0, rc, out)
    rc, out = run("", "/bin/true")
    assert.equal(0, rc, out)
    local ok
    ok, out = iso(("-b %d --cleanup"):format(ID))
    assert.is_true(ok, out)
    ok, out = iso(("-b %d --init"):format(ID))
    assert.is_true(ok, out)
  end)

  pit("refuses a box root that is a symlink or that others can write", function()
    local link = top .. "/link"
    helper.sh(("ln -s %s %s"):format(q(boxes), q(link)))
    local _, out, rc = helper.sh(("NSLUA_ISOLATE_ROOT=%s %s isolate -b 1 --init"):format(q(link), helper.nslua))
    assert.equal(2, rc)
    assert.matches("not a symlink", out)
    local open = top .. "/open"
    helper.sh(("mkdir -m 0777 %s"):format(q(open)))
    _, out, rc = helper.sh(("NSLUA_ISOLATE_ROOT=%s/boxes %s isolate -b 1 --init"):format(q(open), helper.nslua))
    assert.equal(2, rc)
    assert.matches("writable only by root", out)
  end)

  pit("the meta file is written with the caller's permissions (--as-uid)", function()
    local d = top .. "/private"
    helper.sh(("mkdir -m 0700 %s"):format(q(d)))
    assert(iso(("-b %d --cleanup"):format(ID)))
    local ok, out = iso(("-b %d --as-uid=4242 --as-gid=4242 --init"):format(ID))
    assert.is_true(ok, out)
    assert.equal("4242:4242:700", stat(("%s/%d/box"):format(boxes, ID)))
    local _, out2, rc = iso(("-b %d --as-uid=4242 --as-gid=4242 -M %s/m --run -- /bin/true"):format(ID, q(d)))
    assert.equal(2, rc, out2)
    assert.matches("Failed to open metafile", out2)
    assert.is_false(helper.exists(d .. "/m"))
    assert(iso(("-b %d --as-uid=4242 --as-gid=4242 --cleanup"):format(ID)))
    assert(iso(("-b %d --init"):format(ID)))
  end)

  pit("--version names nslua and the isolate it matches; bad usage exits 2", function()
    local ok, out = helper.sh(helper.nslua .. " isolate --version")
    assert.is_true(ok)
    assert.matches("The process isolator 2%.6 %(nslua ", out)
    local _, out2, rc = helper.sh(helper.nslua .. " isolate --run")
    assert.equal(2, rc)
    assert.matches("%-%-run mode requires a command", out2)
  end)
end)

describe("nslua isolate, rootless", function()
  local rit = root and it or pending
  rit("runs boxes for an unprivileged caller in its own state directory", function()
    local t = helper.track()
    local nslua = helper.rootless_nslua()
    local ok, out = helper.sh(("cd /tmp && %s %s isolate -b 3 --init"):format(helper.ENV_I, nslua))
    assert.is_true(ok, out)
    local dir = out:match("^(%S+)")
    assert.matches("/isolate/3$", dir)
    local _, out2, rc = helper.sh(("cd /tmp && %s %s isolate -b 3 -p -o o --run -- /bin/sh -c %s")
      :format(helper.ENV_I, nslua, q("id -u; touch /box/f")))
    assert.equal(0, rc, out2)
    assert.equal("60003\n", helper.read(dir .. "/box/o"))
    assert.equal("4242", stat(dir .. "/box/f", "%u"))
    ok, out = helper.sh(("cd /tmp && %s %s isolate -b 3 --cleanup"):format(helper.ENV_I, nslua))
    assert.is_true(ok, out)
    assert.is_false(helper.exists(dir))
    helper.assert_released(t)
  end)
end)
