-- Seccomp handlers in Lua (nslua.notify, nslua.handlers): each answer, the
-- memory readers, errors, the attacks a payload would try (its own
-- listener, racing a path, dying mid-call), the CLI, the pool, rootless,
-- and the three shipped policies.  Every test runs real containers in a
-- fresh lua5.4 and checks the host holds nothing new afterwards.
local helper = require "helper"

local q = helper.quote

-- Run 'code' (Lua, with nslua and nslua.handlers loaded as `nslua`, `H`)
-- as root or rootless; returns ok, output.
local PRELUDE = [[
local nslua = require "nslua"
local H = require "nslua.handlers"
local function run(spec)
  local c = assert(nslua.container(spec))
  local rep, err = c:run()
  assert(rep, err)
  print("STATUS", rep.status, rep.exit_code)
  return rep, c
end
io.stdout:setvbuf("line")
]]

local function lua(code, rootless)
  if rootless then return helper.run_rootless(PRELUDE .. code) end
  return helper.run_isolated(PRELUDE .. code)
end

-- A C program compiled into a 0755 temp dir (bound into the sandbox).
local function cprog(dir, name, src)
  local f = assert(io.open(dir .. "/" .. name .. ".c", "w"))
  f:write(src)
  f:close()
  local ok, out = helper.sh(("gcc -O1 -pthread -o %s/%s %s/%s.c"):format(q(dir), name, q(dir), name))
  assert(ok, out)
  return dir .. "/" .. name
end

describe("seccomp handlers", function()
  local t, dir
  before_each(function()
    dir = helper.tmpdir("0755")
    t = helper.track { paths = { dir } }
  end)
  after_each(function()
    helper.assert_released(t)
    helper.rmtree(dir)
  end)

  it("answers continue, errno, value and fd", function()
    local ok, out = lua([[
      run { argv = { "/bin/sh", "-c", 'echo ppid=$PPID; cat /etc/hostname; echo x > /tmp/f; echo rc=$?; ' ..
              'cat /proc/self/status >/dev/null && echo read-ok' },
            seccomp = { base = "default", notify = {
              getppid = function() return "value", 4242 end,
              openat = function(req)
                local p = req:path(1)
                if p == "/etc/hostname" then
                  -- emulate: the target reads a file of our choice
                  return "fd", assert(req:open("/etc/os-release", 0))
                elseif p == "/tmp/f" then
                  return false, 13
                end
                return true
              end } } }
    ]])
    assert.is_true(ok, out)
    assert.matches("ppid=4242", out)
    assert.matches("PRETTY_NAME=", out)          -- os-release through the fd answer
    assert.matches("Permission denied", out)
    assert.matches("rc=2", out)
    assert.matches("read%-ok", out)
    assert.matches("STATUS\texited\t0", out)
  end)

  it("opens for a handler with O_PATH too (an existence check)", function()
    local ok, out = lua([[
      run { argv = { "/bin/sh", "-c", "cat /etc/hostname /nonexistent >/dev/null 2>&1; true" },
            seccomp = { base = "default", notify = {
              openat = function(req)
                local p = req:path(1)
                if p == "/etc/hostname" or p == "/nonexistent" then
                  local fd, _, code = req:open(p, 0x200000 | 0x80000)   -- O_PATH | O_CLOEXEC
                  print("PATHFD", p, fd and "yes" or code)
                  if fd then fd:close() end
                end
                return true
              end } } }
    ]])
    assert.is_true(ok, out)
    assert.matches("PATHFD\t/etc/hostname\tyes", out)
    assert.matches("PATHFD\t/nonexistent\t2", out)
  end)

  it("fails a call with EPERM when a handler errors or answers nonsense, and keeps serving", function()
    local ok, out = lua([[
      local logged = {}
      local c = assert(nslua.container {
        argv = { "/bin/sh", "-c", 'uname >/dev/null; echo u=$?; echo ppid=$PPID; uname -s' },
        seccomp = { base = "default", notify = {
          uname = function(req) error("boom") end,
          getppid = function() return "maybe" end } } })
      c.notify_log = function(m) logged[#logged + 1] = m end
      local rep = assert(c:run())
      print("STATUS", rep.status, rep.exit_code)
      for _, m in ipairs(logged) do print("LOG", m) end
    ]])
    assert.is_true(ok, out)
    assert.matches("u=1", out)                                    -- uname failed
    assert.matches("LOG\tseccomp handler for uname %(pid %d+%) failed: .*boom", out)
    assert.matches("LOG\tseccomp handler for getppid returned maybe", out)
    assert.matches("STATUS\texited\t1", out)                      -- the last uname failed too
  end)

  it("reads the target's strings, bytes, paths and socket addresses", function()
    local ok, out = lua([[
      run { argv = { "/usr/bin/python3", "-c", [=[
import os, socket
os.chdir("/tmp"); os.mkdir("d")
try: open("d/../rel", "w").close()
except OSError: pass
fd = os.open("/tmp/d", os.O_RDONLY)
try: os.open("x", os.O_RDONLY, dir_fd=fd)
except OSError: pass
for fam, addr in ((socket.AF_INET, ("127.0.0.1", 9)), (socket.AF_INET6, ("2001:db8::1", 80)),
                  (socket.AF_UNIX, "/tmp/sock"), (socket.AF_UNIX, "\0abstract")):
    s = socket.socket(fam, socket.SOCK_STREAM)
    try: s.connect(addr)
    except OSError: pass
]=] },
        seccomp = { base = "default", notify = {
          openat = function(req)
            local p = req:path(1)
            if p:match("^/tmp/") then print("PATH", p, req:string(1)) end
            return true
          end,
          connect = function(req)
            local a = req:sockaddr(1)
            print("ADDR", a.family, a.addr or a.path, a.port or "-", #req:bytes(1, 2))
            return false, 111
          end } } }
    ]])
    assert.is_true(ok, out)
    assert.matches("PATH\t/tmp/d/../rel\td/../rel", out)    -- relative to the cwd
    assert.matches("PATH\t/tmp/d/x\tx", out)                -- relative to the dirfd
    assert.matches("ADDR\tinet\t127.0.0.1\t9\t2", out)
    assert.matches("ADDR\tinet6\t2001:db8::1\t80\t2", out)
    assert.matches("ADDR\tunix\t/tmp/sock\t%-\t2", out)
    assert.matches("ADDR\tunix\t@abstract\t%-\t2", out)
  end)

  it("refuses the payload's own notify listener, which would take nslua's notifications", function()
    local prog = cprog(dir, "listener", [[
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  struct sock_filter f[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
  struct sock_fprog p = { 1, f };
  int rc;
  prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &p);
  printf("listener %s\n", rc >= 0 ? "made" : strerror(errno));
  rc = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
  printf("plain %s\n", rc == 0 ? "loaded" : strerror(errno));
  return 0;
}
]])
    local code = ([[
      local handled = ...
      run { argv = { "/p" }, mounts = { { type = "bind", source = %q, target = "/p" } },
            seccomp = handled and { base = "default", notify = { getppid = function() return true end } }
              or "default" }
    ]]):format(prog)
    local ok, out = lua("local function f(...) " .. code .. " end f(true)")
    assert.is_true(ok, out)
    assert.matches("listener Operation not permitted", out)
    assert.matches("plain loaded", out)
    -- without handlers the same call works: the refusal is the handled profile's
    ok, out = lua("local function f(...) " .. code .. " end f(false)")
    assert.is_true(ok, out)
    assert.matches("listener made", out)
  end)

  it("drops a request whose target died mid-call and goes on", function()
    local ok, out = lua([[
      local rep = run { argv = { "/bin/sh", "-c", "(cat /etc/hostname; echo child-done) ; echo parent-done" },
        namespaces = { pid = true },
        seccomp = { base = "default", notify = {
          openat = function(req)
            if req:path(1) == "/etc/hostname" then
              require("nslua.core").proc.kill(req.pid, 9)
              require("nslua.core").proc.poll({}, 50)
              print("VALID", req:valid())
              print("READ", pcall(req.bytes, req, 1, 4))
            end
            return true
          end } } }
    ]])
    assert.is_true(ok, out)
    assert.matches("VALID\tfalse", out)
    assert.matches("READ\tfalse\tthe target is gone", out)
    -- cat died; its shell, and the supervisor, went on
    assert.matches("child%-done", out)
    assert.matches("parent%-done", out)
    assert.matches("STATUS\texited\t0", out)
  end)

  it("composes: every layer's handler must allow, the strictest static verdict wins", function()
    local ok, out = lua([[
      local policy = require "nslua.policy"
      local made = {}
      local a = { seccomp = { base = "default", notify = {
        openat = function(req) if req:path(1) == "/etc/hostname" then return false, 13 end return true end } } }
      local b = { seccomp = { base = "default", notify = {
        openat = function(req)
          if req:path(1) == "/etc/os-release" then return false, 2 end
          if req:path(1) == "/etc/passwd" then
            local fd = assert(req:open("/etc/group", 0)); made[#made + 1] = fd; return "fd", fd
          end
          return true
        end,
        getppid = function() return "value", 9 end } } }
      local c = { seccomp = { default = "allow", syscalls = { { name = "uname", action = "errno", errno = 1 } } } }
      local spec = policy.compose({ argv = { "/bin/sh", "-c",
        "cat /etc/hostname; cat /etc/os-release; echo ppid=$PPID; uname; echo u=$?; head -c5 /etc/passwd; echo" } },
        a, b, c)
      print("LAYERS", #spec.seccomp.layers)
      local text = assert(nslua.container(spec):explain())
      if type(text) == "table" then text = table.concat(text, "\n") end
      print((text:match("seccomp: [^\n]*layered[^\n]*")))
      print((text:match("seccomp: Lua handlers[^\n]*")))
      run(spec)
      print("MADE", #made)
    ]])
    assert.is_true(ok, out)
    assert.matches("LAYERS\t3", out)
    assert.matches("seccomp: 3 layered profiles", out)
    assert.matches("Lua handlers %(user notification, answered by nslua%) for getppid openat", out)
    assert.matches("cat: /etc/hostname: Permission denied", out)           -- layer a
    assert.matches("cat: /etc/os%-release: No such file or directory", out) -- layer b
    assert.matches("ppid=9", out)
    assert.matches("u=1", out)                                             -- layer c, static
    assert.matches("\nroot:", out)                                        -- b's emulation: /etc/group
    assert.matches("STATUS\texited\t0", out)
    assert.matches("MADE\t2", out)    -- b asked dry, then for real: one real open
  end)

  it("composes without side effects before a later layer refuses", function()
    local host = dir .. "/a"
    assert(helper.sh(("mkdir %s && echo keep > %s/data && chmod -R a+rwX %s"):format(q(host), q(host), q(host))))
    local ok, out = lua(([[
      local policy = require "nslua.policy"
      local spec = policy.compose({ argv = { "/bin/sh", "-c", "(: > /tmp/a/data); echo t=$?; (: > /tmp/a/new); true" },
          mounts = { { type = "tmpfs", target = "/tmp" }, { type = "bind", source = %q, target = "/tmp/a" } } },
        { seccomp = H.readonly { writable = { "/tmp/a" } } },
        { seccomp = H.readonly { writable = { "/tmp/b" } } })
      run(spec)
    ]]):format(host))
    assert.is_true(ok, out)
    assert.matches("t=2", out)                           -- the second layer refused the truncation
    assert.equals("keep\n", helper.read(host .. "/data"))  -- and the first never truncated it
    assert.is_false(helper.exists(host .. "/new"))
  end)

  it("runs handlers and limits from an event loop (fileno, step) without blocking", function()
    local ok, out = lua([[
      local proc = require("nslua.core").proc
      local cs = {}
      for i = 1, 4 do
        local spec = { argv = { "/bin/sh", "-c", i == 4 and "sleep 5" or ("echo ppid=$PPID; sleep 0." .. i) },
          seccomp = { base = "default", notify = { getppid = function() return "value", 1000 + i end } } }
        if i == 4 then spec.limits = { wall = 0.5 } end
        cs[i] = assert(nslua.container(spec))
        assert(cs[i]:start())
      end
      local t0, left, rounds = proc.now(), #cs, 0
      while left > 0 and proc.now() - t0 < 10 do
        local fds = {}
        for i, c in ipairs(cs) do
          if not c.done then fds[#fds + 1] = { fd = c:fileno(), events = { ["in"] = true }, i = i } end
        end
        proc.poll(fds, 1000)
        rounds = rounds + 1
        for _, f in ipairs(fds) do
          if f.revents["in"] then
            local rep = cs[f.i]:step()
            if rep then
              cs[f.i].done, left = true, left - 1
              print("DONE", f.i, rep.status, ("%.1f"):format(proc.now() - t0))
            end
          end
        end
      end
      print("LEFT", left)
    ]])
    assert.is_true(ok, out)
    for i = 1, 3 do
      assert.matches("ppid=100" .. i, out)
      assert.matches("DONE\t" .. i .. "\texited", out)
    end
    -- the wall limit held while the loop only polled
    local took = out:match("DONE\t4\twall%-limit\t([%d.]+)")
    assert.is_truthy(took, out)
    assert.is_true(tonumber(took) < 2, out)
    assert.matches("LEFT\t0", out)
  end)

  it("validates handled profiles: sendmsg, seccomp, unknown names, non-functions", function()
    local seccomp = require "nslua.seccomp"
    local f = function() return true end
    local cases = {
      { { base = "default", notify = { sendmsg = f } }, "seccomp.notify.sendmsg: sendmsg cannot be handled" },
      { { base = "default", notify = { seccomp = f } }, "seccomp.notify.seccomp: seccomp cannot be handled" },
      { { base = "default", notify = { nosuchcall = f } }, "unknown syscall 'nosuchcall'" },
      { { base = "default", notify = { openat = true } }, "seccomp.notify.openat: must be a function" },
      { { base = "nope", notify = {} }, "seccomp.base: unknown profile 'nope'" },
      { { base = "default", notify = {}, syscalls = {} }, "seccomp: unknown field 'syscalls'" },
      { { default = "errno", syscalls = { { name = "sendmsg", action = f } } }, "sendmsg cannot be handled" },
      { { default = "errno", badarch = f }, "seccomp.badarch: cannot be a Lua handler" },
    }
    for _, c in ipairs(cases) do
      local okv, err = seccomp.validate(c[1])
      assert.is_nil(okv)
      assert.matches(c[2], err, 1, true)
    end
    assert.is_true(seccomp.validate { base = "strict", notify = { openat = f } })
  end)

  it("works from the CLI (--seccomp FILE.lua), and explain names the handled calls", function()
    local prof = dir .. "/prof.lua"
    local fh = assert(io.open(prof, "w"))
    fh:write([[return { base = "default", notify = { getppid = function() return "value", 77 end } }]])
    fh:close()
    local ok, out = helper.sh(("%s run --seccomp %s -- sh -c 'echo ppid=$PPID'"):format(helper.nslua, q(prof)))
    assert.is_true(ok, out)
    assert.matches("ppid=77", out)
    ok, out = helper.sh(("%s explain --seccomp %s -- true"):format(helper.nslua, q(prof)))
    assert.is_true(ok, out)
    assert.matches("Lua handlers %(user notification, answered by nslua%) for getppid", out)
    -- a bad handled profile is exit 125 naming the field, no traceback
    fh = assert(io.open(prof, "w"))
    fh:write([[return { base = "default", notify = { sendmsg = function() return true end } }]])
    fh:close()
    local _, out2, code = helper.sh(("%s run --seccomp %s -- true"):format(helper.nslua, q(prof)))
    assert.equals(125, code)
    assert.matches("sendmsg cannot be handled", out2)
    assert.not_matches("traceback", out2)
  end)

  it("works in a pool and rootless", function()
    local code = [[
      local pool = require "nslua.pool"
      local n = 100
      local p = assert(pool.new { seccomp = { base = "default", notify = {
        getppid = function() n = n + 1; return "value", n end } } })
      for _ = 1, 2 do
        local rep = assert(p:run { argv = { "/bin/sh", "-c", "echo ppid=$PPID" } })
        print("STATUS", rep.status, rep.exit_code)
      end
      p:close()
    ]]
    local ok, out = lua(code)
    assert.is_true(ok, out)
    assert.matches("ppid=101", out)
    assert.matches("ppid=102", out)
    ok, out = lua([[
      run { argv = { "/bin/sh", "-c", "echo ppid=$PPID; id -u" },
            seccomp = { base = "default", notify = { getppid = function() return "value", 55 end } } }
    ]], true)
    assert.is_true(ok, out)
    assert.matches("ppid=55", out)
    assert.matches("STATUS\texited\t0", out)
  end)
end)

describe("shipped handler policies", function()
  local t, dir
  before_each(function()
    dir = helper.tmpdir("0755")
    t = helper.track { paths = { dir } }
  end)
  after_each(function()
    helper.assert_released(t)
    helper.rmtree(dir)
  end)

  local RO = [[
    local rep = run { argv = { "/bin/sh", "-c", %q },
      mounts = { { type = "tmpfs", target = "/tmp" }, { type = "dir", target = "/tmp/ok" } },
      seccomp = H.readonly { writable = { "/tmp/ok" } } }
  ]]

  it("(a) readonly: writes only under the allow-list, as the payload, never through .. or a symlink", function()
    local ok, out = lua(RO:format(table.concat({
      "umask 027; echo a > /tmp/ok/f && cat /tmp/ok/f",
      "ls -ln /tmp/ok/f",
      "echo b > /tmp/no || echo no-denied",
      "echo c > /tmp/ok/../esc || echo dotdot-denied",
      "ln -s /tmp /tmp/ok/l || echo symlink-denied",
      "cat /etc/hostname >/dev/null && echo read-ok",
      "echo to-stdout > /dev/stdout",
      "rm /tmp/ok/f || echo rm-denied",
      "test -e /tmp/no -o -e /tmp/esc && echo LEAK; true" }, "; ")), false)
    assert.is_true(ok, out)
    assert.matches("^a\n", out)
    assert.matches("%-rw%-r%-%-%-%-%- 1 65534 65534 2 ", out)   -- payload ids, payload umask
    for _, w in ipairs { "no-denied", "dotdot-denied", "symlink-denied", "read-ok", "rm-denied", "to-stdout" } do
      assert.matches(w, out, 1, true)
    end
    assert.not_matches("LEAK", out)
  end)

  it("(a) readonly: a symlink planted under the allow-list cannot redirect a write", function()
    -- the sandbox's /tmp/ok is a bind of a host dir holding a symlink out of it
    local host = dir .. "/ok"
    assert(helper.sh(("mkdir %s && ln -s /tmp %s/out && chmod 0777 %s"):format(q(host), q(host), q(host))))
    local ok, out = lua(([[
      run { argv = { "/bin/sh", "-c", "echo x > /tmp/ok/out/evil || echo link-denied; test -e /tmp/evil && echo LEAK" },
        mounts = { { type = "tmpfs", target = "/tmp" }, { type = "bind", source = %q, target = "/tmp/ok" } },
        seccomp = H.readonly { writable = { "/tmp/ok" } } }
    ]]):format(host))
    assert.is_true(ok, out)
    assert.matches("link%-denied", out)
    assert.not_matches("LEAK", out)
  end)

  it("(a) readonly: a thread racing the path buffer never writes outside the list", function()
    local prog = cprog(dir, "race", [[
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static char path[64] = "/tmp/ok/good";
static volatile int stop;
static void *flip(void *a) {
  (void)a;
  while (!stop) { memcpy(path, "/tmp/ev/evil", 13); memcpy(path, "/tmp/ok/good", 13); }
  return NULL;
}
int main(void) {
  pthread_t t;
  int i, opened = 0;
  pthread_create(&t, NULL, flip, NULL);
  for (i = 0; i < 3000; i++) {
    int fd = open(path, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0) { opened++; close(fd); }
  }
  stop = 1;
  pthread_join(t, NULL);
  printf("opened %d evil %s\n", opened, access("/tmp/ev/evil", F_OK) == 0 ? "EXISTS" : "absent");
  return 0;
}
]])
    local ok, out = lua(([[
      run { argv = { "/race" },
        mounts = { { type = "tmpfs", target = "/tmp" }, { type = "dir", target = "/tmp/ok" },
                   { type = "dir", target = "/tmp/ev" }, { type = "bind", source = %q, target = "/race" } },
        seccomp = H.readonly { writable = { "/tmp/ok" } } }
    ]]):format(prog))
    assert.is_true(ok, out)
    assert.matches("opened %d+ evil absent", out)
    assert.is_true(tonumber(out:match("opened (%d+)")) > 0, out)
  end)

  it("(a) readonly: no fd-based change, no unix bind, no capability nslua has, never blocking", function()
    local host = dir .. "/w"
    assert(helper.sh(("mkdir %s && echo secret > %s/other && chown 1234:1234 %s/other && chmod 0600 %s/other"
      .. " && mkfifo %s/fifo && chmod 0666 %s/fifo && echo x > %s/mine && chmod 0666 %s/mine && chmod 0777 %s")
      :format(q(host), q(host), q(host), q(host), q(host), q(host), q(host), q(host), q(host))))
    local ok, out = lua(([[
      run { argv = { "/usr/bin/python3", "-c", [=[
import os, socket, threading, time
def t(what, f):
    try: f(); print(what, "ok")
    except OSError as e: print(what, "errno", e.errno)
fd = os.open("/w/mine", os.O_RDONLY)
t("fchmod", lambda: os.fchmod(fd, 0o777))
t("fchown", lambda: os.fchown(fd, 0, 0))
t("fsetxattr", lambda: os.setxattr(fd, "user.x", b"1"))
s = socket.socket(socket.AF_UNIX)
t("bind-unix", lambda: s.bind("/w/sock"))
t("append-other", lambda: os.close(os.open("/w/other", os.O_WRONLY | os.O_APPEND)))
t0 = time.time()
t("fifo", lambda: os.close(os.open("/w/fifo", os.O_WRONLY)))
print("fifo-took", round(time.time() - t0))
def thr():
    with open("/dev/stdout", "w") as f: f.write("from-thread\n")
th = threading.Thread(target=thr); th.start(); th.join()
]=] }, user = "host",
        mounts = { { type = "bind", source = %q, target = "/w" } },
        seccomp = H.readonly { writable = { "/w" } } }
    ]]):format(host))
    assert.is_true(ok, out)
    for _, w in ipairs { "fchmod errno 30", "fchown errno 30", "fsetxattr errno 30", "bind%-unix errno 30",
                         "append%-other errno 13", "fifo errno 6", "fifo%-took 0", "from%-thread" } do
      assert.matches(w, out)
    end
    assert.equals("secret\n", helper.read(host .. "/other"))
    assert.is_false(helper.exists(host .. "/sock"))
  end)

  local CONNECT = [[
    run { argv = { "/usr/bin/python3", "-c", [=[
import socket, threading, time
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(5)
    while True:
        c, _ = s.accept(); c.sendall(b"hi %%d" %% port); c.close()
for p in (8001, 8002):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
time.sleep(0.3)
for p in (8001, 8002):
    s = socket.socket()
    try:
        s.connect(("127.0.0.1", p)); print("blocking", p, s.recv(10).decode())
    except OSError as e: print("blocking", p, "denied", e.errno)
    s.close()
s = socket.create_connection(("127.0.0.1", 8001), timeout=2); print("timeout-mode", s.recv(10).decode())
for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
    try: socket.socket(socket.AF_INET, kind); print("socket", kind, "made")
    except OSError as e: print("socket", kind, "denied", e.errno)
s = socket.socket()
try: s.sendto(b"x", socket.MSG_FASTOPEN, ("127.0.0.1", 8002)); print("fastopen sent")
except OSError as e: print("fastopen denied", e.errno)
for name, args in (("unix", (socket.AF_UNIX, socket.SOCK_STREAM)), ("sctp", (socket.AF_INET, socket.SOCK_STREAM, 132))):
    try: socket.socket(*args); print(name, "made")
    except OSError as e: print(name, "denied", e.errno)
]=] }, seccomp = H.connect_only { allow = { "127.0.0.1:8001" } } }
  ]]

  it("(b) connect_only: only listed addresses, TCP only, no Fast Open", function()
    local ok, out = lua(CONNECT:format())
    assert.is_true(ok, out)
    assert.matches("blocking 8001 hi 8001", out)
    assert.matches("blocking 8002 denied 13", out)
    assert.matches("timeout%-mode hi 8001", out)
    assert.matches("socket 2 denied 13", out)       -- UDP
    assert.matches("socket 3 denied", out)          -- raw
    assert.matches("fastopen denied 13", out)
    assert.matches("unix denied 13", out)
    assert.matches("sctp denied 13", out)
    assert.has_error(function() require("nslua.handlers").connect_only { allow = { "bad" } } end,
      "connect_only.allow[1]: bad is not ADDR:PORT, [ADDR6]:PORT or NET/BITS:PORT (PORT may be *)")
  end)

  it("(c) mount_tmpfs: a symlink under a target cannot point the mount elsewhere", function()
    local prog = cprog(dir, "mnt", [[
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>
int main(void) {
  symlink("/etc", "/tmp/l");
  int rc = mount("none", "/tmp/l", "tmpfs", 0, "");
  printf("mount %s\n", rc == 0 ? "done" : strerror(errno));
  printf("etc %s\n", access("/etc/hostname", F_OK) == 0 ? "intact" : "HIDDEN");
  rc = mount("none", "/tmp", "tmpfs", 0, "size=0");
  FILE *f = fopen("/proc/self/mounts", "r");
  char line[512];
  while (f && fgets(line, sizeof line, f)) if (strstr(line, " /tmp tmpfs") && strstr(line, "size=4096k")) printf("capped\n");
  return 0;
}
]])
    local ok, out = lua(([[
      run { argv = { "/m" }, mounts = { { type = "bind", source = %q, target = "/m" } },
            seccomp = H.mount_tmpfs { targets = { "/tmp" }, size = "4M" } }
    ]]):format(prog))
    assert.is_true(ok, out)
    assert.matches("mount Too many levels of symbolic links", out)
    assert.matches("etc intact", out)
    assert.matches("capped", out)                -- size=0 (unlimited) gets the cap
  end)

  it("(c) mount_tmpfs: a payload without privileges mounts a tmpfs, and nothing else", function()
    local code = [[
      run { argv = { "/bin/sh", "-c", table.concat({
              "mkdir -p /tmp/m /tmp/n",
              "mount -t tmpfs -o size=1m none /tmp/m && echo mounted",
              "grep ' /tmp/m ' /proc/mounts",
              "echo x > /tmp/m/f && ls -ln /tmp/m/f",
              "mount -t tmpfs -o size=1g none /tmp/n && grep ' /tmp/n ' /proc/mounts",
              "mount -t proc none /tmp/m 2>/dev/null || echo proc-denied",
              "mount -t tmpfs none /etc 2>/dev/null || echo target-denied",
              "mount --bind /tmp /tmp/m 2>/dev/null || echo bind-denied" }, "; ") },
            seccomp = H.mount_tmpfs { targets = { "/tmp" }, size = "2M" } }
    ]]
    for _, rootless in ipairs { false, true } do
      local ok, out = lua(code, rootless)
      assert.is_true(ok, out)
      assert.matches("mounted", out)
      assert.matches("tmpfs /tmp/m tmpfs rw,nosuid,nodev[^\n]*size=1024k", out)
      assert.matches("tmpfs /tmp/n tmpfs rw,nosuid,nodev[^\n]*size=2048k", out)   -- capped
      assert.matches("%-rw%-r%-%-r%-%- 1 65534 65534 2 ", out)
      for _, w in ipairs { "proc-denied", "target-denied", "bind-denied" } do
        assert.matches(w, out, 1, true)
      end
    end
  end)

  it("ship as recipes: nslua readonly-files, connect-only, mount-tmpfs", function()
    local N = helper.nslua
    local ok, out = helper.sh(N .. [[ readonly-files /tmp/w -- sh -c 'mkdir /tmp/w; echo x > /tmp/w2 || echo denied' ]])
    assert.is_true(ok, out)
    assert.matches("mkdir: cannot create directory '/tmp/w': Read%-only file system", out)
    assert.matches("denied", out)
    ok, out = helper.sh(N .. [[ mount-tmpfs -- sh -c 'mkdir /tmp/m && mount -t tmpfs none /tmp/m &&
      grep -c " /tmp/m " /proc/mounts' ]])
    assert.is_true(ok, out)
    assert.matches("^1\n", out)
    ok, out = helper.sh(N .. [[ connect-only --net none 127.0.0.1:9 -- python3 -c 'import socket
try: socket.create_connection(("127.0.0.1", 10))
except PermissionError: print("refused")' ]])
    assert.is_true(ok, out)
    assert.matches("refused", out)
    local _, usage, code = helper.sh(N .. " connect-only nonsense -- true")
    assert.equals(125, code)
    assert.matches("connect_only.allow%[1%]: nonsense is not ADDR:PORT", usage)
  end)
end)
