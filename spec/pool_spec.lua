-- spec/pool_spec.lua - nslua.pool: a network namespace and cgroups kept
-- between runs, everything else fresh.  Each test runs hostile payloads and
-- proves nothing crosses from one run to the next: files, processes,
-- network state (links, addresses, routes, listening sockets, a checksum of
-- every /proc/sys/net value), cgroup limits and counters.  The host holds
-- nothing new once the pool is closed.
local helper = require "helper"
local nslua = require "nslua"
local core = require "nslua.core"
local netlink, ns = core.netlink, core.ns

local function need_root()
  if helper.is_root() then return true end
  pending("needs root (a pool is privileged)")
  return false
end

describe("nslua.pool #priv", function()
  local before, dir, pool
  before_each(function()
    before = helper.host_objects()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    if pool then pool:close() end
    pool = nil
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
    helper.assert_clean(before)
  end)

  -- run a shell script in the pool; returns report, stdout
  local function sh(script, extra)
    local out = dir .. "/out"
    local run = { argv = { "/bin/sh", "-c", "exec 2>&1\n" .. script }, stdio = { stdout = out } }
    for k, v in pairs(extra or {}) do run[k] = v end
    local rep, err = pool:run(run)
    assert.is_table(rep, err)
    return rep, helper.read(out) or ""
  end

  it("refuses what would make runs share or hold privilege", function()
    if not need_root() then return end
    local cases = {
      { { net = "host" }, "net must be \"none\"" },
      { { user = "host" }, "user = \"host\" is refused" },
      { { caps = { "net_admin" } }, "caps are refused" },
      { { tty = true }, "tty is refused" },
      { { mounts = { { type = "sysfs", target = "/sys" } } }, "sysfs needs the run's own network namespace" },
      { { namespaces = { pid = false } }, "needs a pid namespace" },
    }
    for _, c in ipairs(cases) do
      local p, err, code = nslua.pool(c[1])
      assert.is_nil(p)
      assert.matches(c[2], err, 1, true)
      assert.equal(core.errno.EINVAL, code)
    end
    assert.has_error(function() nslua.pool { hostnmae = "x" } end, "hostnmae: unknown field")
    local spec = { limits = { memory = "64M" } }
    pool = assert(nslua.pool(spec))
    -- the pool keeps its own copy: a later change to the caller's table is not taken
    spec.caps = { "sys_admin" }
    local rep, out = sh("grep CapEff /proc/self/status")
    assert.equal("exited", rep.status)
    assert.equal("CapEff:\t0000000000000000\n", out)
    assert.has_error(function() pool:run { argv = { "/bin/true" }, limits = { memory = "1G" } } end,
      "pool:run: limits.memory: is the pool's cgroup limit")
    assert.has_error(function() pool:run { argv = { "/bin/true" }, mounts = {} } end,
      "pool:run: mounts: is the pool's (set it in nslua.pool{...})")
  end)

  it("gives every run fresh files, IPC objects, processes and namespaces", function()
    if not need_root() then return end
    pool = assert(nslua.pool {})
    local marker = "sleep 7301"
    -- System V IPC objects: a shared memory segment, a message queue, a semaphore set
    local ipc = "echo ipc $(tail -q -n +2 /proc/sysvipc/shm /proc/sysvipc/msg /proc/sysvipc/sem | grep -c .); "
    local rep, out = sh("echo one > /tmp/f; echo one > /dev/shm/g; mkdir -p /box 2>/dev/null; "
      .. "ipcmk -M 4096 >/dev/null; ipcmk -Q >/dev/null; ipcmk -S 1 >/dev/null; " .. ipc
      .. "setsid /bin/sh -c 'exec " .. marker .. "' < /dev/null > /dev/null 2>&1 & "
      .. "readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/user /proc/self/ns/net")
    assert.equal("exited", rep.status, out)
    assert.matches("^ipc 3\n", out)
    local ns1 = out:gsub("^ipc 3\n", "")
    -- the orphan died with the pid namespace, on the host too
    local _, ps = helper.sh("ps -eo args")
    assert.not_matches(marker, ps, 1, true)
    rep, out = sh("echo files $(ls -A /tmp /dev/shm | grep -v ':$' | grep -c .); " .. ipc
      .. "echo procs $(ls /proc | grep -c '^[0-9]'); "
      .. "readlink /proc/self/ns/pid /proc/self/ns/mnt /proc/self/ns/user /proc/self/ns/net")
    assert.equal("exited", rep.status, out)
    -- empty /tmp and /dev/shm, no IPC object; only the init, the shell,
    -- $(...), ls and grep
    assert.matches("^files 0\nipc 0\n", out)
    assert.is_true(tonumber(out:match("\nprocs (%d+)\n")) <= 5, out)
    local a, b = {}, {}
    for l in ns1:gmatch("[^\n]+") do a[#a + 1] = l end
    for l in out:gmatch("[a-z]+:%[%d+%]") do b[#b + 1] = l end
    assert.equal(4, #a, ns1)
    assert.equal(4, #b, out)
    -- pid, mount and user namespaces are the run's own (an inode number may
    -- be reused once the last run's namespace is gone, so runs are not
    -- compared with each other: the empty /tmp and the process count are
    -- the proof of freshness); the network namespace is the pool's
    for i, t in ipairs { "pid", "mnt", "user" } do
      local mine = ("%s:[%d]"):format(t, ns.id(core.proc.getpid(), t))
      assert.are_not.equal(mine, a[i])
      assert.are_not.equal(mine, b[i])
    end
    assert.equal(a[4], b[4])
    assert.equal(("net:[%d]"):format(ns.id(pool.netns, "net")), b[4])
    -- the network namespace belongs to the pool's own user namespace, which
    -- no run is in (a run's capabilities are over its own user namespace)
    local owner = ("user:[%d]"):format(ns.id(pool.userns, "user"))
    assert.are_not.equal(owner, a[3])
    assert.are_not.equal(owner, b[3])
  end)

  it("keeps the network namespace untouched by a hostile run", function()
    if not need_root() then return end
    pool = assert(nslua.pool {})
    local netns0 = ns.id(pool.netns, "net")
    local function snapshot()
      -- (a socket of ours left in the pool's namespace would make it a new one)
      local sock <close> = assert(netlink.socket(pool.netns))
      local t = {}
      for _, l in ipairs(assert(netlink.links(sock))) do
        t[#t + 1] = ("link %s %s mtu %d"):format(l.name, l.up and "up" or "down", l.mtu)
      end
      for _, a in ipairs(assert(netlink.addrs(nil, sock))) do
        t[#t + 1] = ("addr %s %s/%d"):format(a.ifname, a.addr, a.prefix)
      end
      for _, fam in ipairs { "inet", "inet6" } do
        for _, r in ipairs(assert(netlink.routes(fam, sock))) do
          t[#t + 1] = ("route %s/%s %s %s"):format(r.dst, r.prefix, r.dev or "", r.table or "")
        end
      end
      table.sort(t)
      return table.concat(t, "\n")
    end
    -- every /proc/sys/net value, read from inside the pool's namespace
    local function sysctls()
      assert(ns.setns(pool.netns, "net"))
      local ok, out = helper.sh("find /proc/sys/net -type f -perm -0400 2>/dev/null | sort "
        .. "| xargs -d '\\n' cat 2>/dev/null | md5sum")
      assert(ns.setns(pool.host_netns, "net"))
      assert.is_true(ok, out)
      return out
    end
    local net0, sys0 = snapshot(), sysctls()
    assert.matches("link lo up", net0)
    local hostile = table.concat({
      "ip link add evil0 type dummy", "ip link set lo down", "ip link set lo mtu 1280",
      "ip addr add 10.66.0.1/24 dev lo", "ip route add 10.67.0.0/16 dev lo",
      "echo 1 > /proc/sys/net/ipv4/ip_forward", "echo 0 > /proc/sys/net/ipv4/tcp_syncookies",
      -- a listener left behind by an orphan
      "setsid python3 -c 'import socket,time; s=socket.socket(); s.bind((\"127.0.0.1\", 7302)); "
        .. "s.listen(); time.sleep(60)' < /dev/null > /dev/null 2>&1 &",
      "sleep 0.3", "grep -c ':1C86 ' /proc/net/tcp",
    }, "\n")
    local rep, out = sh(hostile)
    assert.equal("exited", rep.status, out)
    assert.matches("Operation not permitted", out)
    assert.matches("\n1\n$", "\n" .. out)     -- the listener ran during the run
    assert.equal(net0, snapshot())
    assert.equal(sys0, sysctls())
    -- the next run finds no listener and lo as it was
    local _
    _, out = sh("grep -c ':1C86 ' /proc/net/tcp; ip -o link show lo")
    assert.matches("^0\n", out)
    assert.matches("UP", out)
    -- the listener died with its run and left nothing: the namespace is kept
    assert.equal(netns0, ns.id(pool.netns, "net"))
    assert.equal(0, pool.netns_renewed)
  end)

  -- DESIGN "Trust rules": a socket is what can outlive every process of a
  -- run in the kept network namespace.  The pool checks the namespace before
  -- each run (netlink.sockets) and makes a new one when anything is left.
  it("hands no socket of a run to the next: one in flight, its abstract name", function()
    if not need_root() then return end
    pool = assert(nslua.pool {})
    -- run n: an abstract unix socket whose own fd is in flight in its queue;
    -- it lives until the kernel's unix garbage collector finds the cycle,
    -- which runs when any unix socket on the machine is released (ms to s)
    local leave = [[exec python3 -c '
import socket, array
name = b"\0nslua-spec-inflight"
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(name)
fds = array.array("i", [s.fileno()])
s.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds)], 0, name)
print("left")']]
    -- run n+1, at once: is the name there, can it be reached, can it be taken?
    local spy = [[echo "seen $(grep -c nslua-spec-inflight /proc/net/unix)"
exec python3 -c '
import socket
name = b"\0nslua-spec-inflight"
c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    c.sendto(b"y", name); print("reached")
except OSError as e:
    print("unreachable")
try:
    c.bind(name); print("bound")
except OSError as e:
    print("taken")']]
    -- the collector may win a round; the spy looks right after each of ten
    -- (without the check it sees the socket in most of them here)
    for _ = 1, 10 do
      local rep, out = sh(leave)
      assert.equal("exited", rep.status, out)
      assert.equal("left\n", out)
      rep, out = sh(spy)
      assert.equal("exited", rep.status, out)
      assert.equal("seen 0\nunreachable\nbound\n", out)
    end
  end)

  it("hands no TIME_WAIT port of a run to the next", function()
    if not need_root() then return end
    pool = assert(nslua.pool {})
    local netns0 = ns.id(pool.netns, "net")
    -- run n: a connection to itself on 127.0.0.1:7303 that the server side
    -- closes first, so 7303 stays in TIME_WAIT (60 s) after the run
    local rep, out = sh([[exec python3 -c '
import socket
l = socket.socket(); l.bind(("127.0.0.1", 7303)); l.listen()
c = socket.socket(); c.connect(("127.0.0.1", 7303))
s, _ = l.accept(); s.close(); c.close(); l.close()
print(open("/proc/net/tcp").read().count(" 06 "))']])
    assert.equal("exited", rep.status, out)
    assert.equal("1\n", out)      -- the TIME_WAIT entry, during the run
    -- run n+1: no entry in /proc/net/tcp, and the port can be bound
    rep, out = sh([[echo "entries $(tail -n +2 /proc/net/tcp | grep -c .)"
exec python3 -c '
import socket
s = socket.socket()
try:
    s.bind(("127.0.0.1", 7303)); print("bound")
except OSError as e:
    print(e)']])
    assert.equal("exited", rep.status, out)
    assert.equal("entries 0\nbound\n", out)
    -- a new namespace was made for it; a clean run then keeps that one
    local netns1 = ns.id(pool.netns, "net")
    assert.are_not.equal(netns0, netns1)
    sh("exit 0")
    assert.equal(netns1, ns.id(pool.netns, "net"))
  end)

  it("keeps cgroup limits and gives each run its own counters", function()
    if not need_root() then return end
    if not helper.exists("/sys/fs/cgroup/memory/cgroup.procs") and
       not helper.exists("/sys/fs/cgroup/cgroup.controllers") then
      return pending("no memory controller")
    end
    pool = assert(nslua.pool { limits = { memory = "64M", pids = 16 } })
    local dirs = pool.cg:dirs()
    local function limits()
      local t = {}
      for _, d in ipairs(dirs) do
        for _, f in ipairs { "memory.limit_in_bytes", "memory.max", "pids.max" } do
          local v = helper.read(d .. "/" .. f)
          if v then t[#t + 1] = f .. "=" .. v end
        end
      end
      table.sort(t)
      return table.concat(t, " ")
    end
    local lim0 = limits()
    assert.matches("pids.max=16", lim0, 1, true)
    -- an OOM kill, then a clean run: memory-limit does not stick
    local rep, out = sh("exec python3 -c 'x = bytearray(400 << 20)'")
    assert.equal("memory-limit", rep.status, out)
    rep = sh("exit 0")
    assert.equal("exited", rep.status)
    if rep.memory_peak_kb then assert.is_true(rep.memory_peak_kb < 32 * 1024, tostring(rep.memory_peak_kb)) end
    -- a fork bomb, then a clean run: pids-limit does not stick
    rep = sh("exec 2>/dev/null; bomb() { bomb | bomb & }; bomb; sleep 1; exit 3")
    assert.is_true(rep.status == "pids-limit" or rep.status == "exited", rep.status)
    rep = sh("exit 0")
    assert.equal("exited", rep.status)
    -- cpu: half a busy cpu-second, then a run that uses almost none
    rep = sh("exec python3 -c 'import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass'")
    assert.equal("exited", rep.status)
    assert.is_true(rep.cpu_s >= 0.5, tostring(rep.cpu_s))
    rep = sh("exit 0")
    assert.is_true(rep.cpu_s < 0.2, tostring(rep.cpu_s))
    -- the time limit counts this run's cpu only
    rep = sh("while :; do :; done", { limits = { time = 0.5 } })
    assert.equal("cpu-limit", rep.status)
    assert.is_true(rep.cpu_s >= 0.5 and rep.cpu_s < 1.0, tostring(rep.cpu_s))
    assert.equal(lim0, limits())
    -- nothing is left in the kept groups between runs
    assert.same({}, pool.cg:procs())
  end)

  it("keeps a little page cache between runs, reclaims more, counts each peak above it", function()
    if not need_root() then return end
    if not helper.exists("/sys/fs/cgroup/memory/cgroup.procs") then
      return pending("no v1 memory controller (cgroup v2 reclaims with memory.reclaim every run)")
    end
    local cgroup = require "nslua.cgroup"
    -- 64M: what the group keeps is min(REUSE_KEEP, 64M / 8) = 8 MiB
    pool = assert(nslua.pool { limits = { memory = "64M" } })
    local mem = pool.cg.by.memory.dir
    local function usage() return tonumber(helper.read(mem .. "/memory.usage_in_bytes")) end
    assert.equal(16 << 20, cgroup.REUSE_KEEP)
    -- 2 MiB of output to a file on the host: its page cache is the group's
    -- (each run its own output file: a truncation would free the cache)
    local n = 0
    local function run(script)
      n = n + 1
      return sh(script, { stdio = { stdout = ("%s/o%d"):format(dir, n) } })
    end
    local rep = run("head -c 2097152 /dev/zero")
    assert.equal("exited", rep.status)
    local after = usage()
    assert.is_true(after >= 1 << 20, "usage " .. after)
    -- the next run starts with it kept (no force_empty), and its peak is
    -- counted above it: a run that does nothing peaks near nothing
    rep = run("exit 0")
    assert.equal("exited", rep.status)
    assert.is_true(usage() >= 1 << 20, "reclaimed below the threshold: " .. usage())
    assert.is_true(rep.memory_peak_kb < 1024, "peak " .. tostring(rep.memory_peak_kb))
    -- 12 MiB is above the 8 MiB kept: reclaimed before the next run
    rep = run("head -c 12582912 /dev/zero")
    assert.equal("exited", rep.status)
    assert.is_true(usage() > 8 << 20, "usage " .. usage())
    rep = run("exit 0")
    assert.equal("exited", rep.status)
    assert.is_true(usage() < 8 << 20, "not reclaimed: " .. usage())
    assert.is_true(rep.memory_peak_kb < 1024, "peak " .. tostring(rep.memory_peak_kb))
  end)

  it("keeps joins cheap with a keeper of its own, which ends with it; warm = false has none", function()
    if not need_root() then return end
    assert.has_error(function() nslua.pool({}, { wram = 1 }) end, "pool: opts.wram: unknown option")
    for _, bad in ipairs { -1, "1", 0 / 0, 3601 } do
      assert.has_error(function() nslua.pool({}, { warm = bad }) end,
        "pool: opts.warm: must be false or 0..3600 seconds")
    end
    -- (the upvalue 'pool': after_each closes what a failed test left)
    pool = assert(nslua.pool({ limits = { pids = 8 } }, { warm = 0.2 }))
    local p = pool
    local kpid = assert(p.keeper:pid())
    assert.equal("nslua-keeper\n", helper.read("/proc/" .. kpid .. "/comm"))
    -- in our own group, not the pool's: nothing of it is charged to a run
    assert.equal(helper.read("/proc/self/cgroup"), helper.read("/proc/" .. kpid .. "/cgroup"))
    -- it writes into our group's real cgroup.procs (its write count grows)
    -- while a run is under way, though it had gone to sleep before it
    local function writes()
      return tonumber((helper.read("/proc/" .. kpid .. "/io") or ""):match("syscw:%s*(%d+)"))
    end
    helper.sleep(0.5)
    local w0 = assert(writes())
    helper.sleep(0.2)
    assert.equal(w0, writes(), "still writing after warm")
    assert.equal("exited", assert(p:run { argv = { "/bin/sh", "-c", "sleep 0.3" } }).status)
    local w1 = writes()
    assert.is_true(w1 - w0 >= 10, ("%d writes in a 0.3 s run"):format(w1 - w0))
    -- a keeper killed: the next run goes on without it (kicking), nothing raises
    core.proc.kill(kpid, 9)
    assert.is_truthy(helper.wait_until(function()
      return (helper.read("/proc/" .. kpid .. "/stat") or ""):match("^%d+ %b() Z")
    end))
    assert.equal("exited", assert(p:run { argv = { "/bin/true" } }).status)
    assert.is_nil(p.keeper)
    assert.is_nil(helper.read("/proc/" .. kpid .. "/stat"), "the killed keeper was not reaped")
    assert.is_true(p:close())
    -- closed with its pool
    pool = assert(nslua.pool({ limits = { pids = 8 } }))
    p = pool
    kpid = assert(p.keeper:pid())
    assert.is_true(p:close())
    assert.is_nil(helper.read("/proc/" .. kpid .. "/stat"), "the keeper outlived its pool")
    for _, warm in ipairs { false, 0 } do
      pool = assert(nslua.pool({ limits = { pids = 8 } }, { warm = warm }))
      p = pool
      assert.is_nil(p.keeper)
      assert.equal("exited", assert(p:run { argv = { "/bin/true" } }).status)
      assert.is_true(p:close())
    end
  end)

  it("closes completely: cgroups, state record, namespaces", function()
    if not need_root() then return end
    local p = assert(nslua.pool { limits = { pids = 8 } })
    local cgdirs, state_dir = p.cg:dirs(), p.state_dir
    local netns_id = ns.id(p.netns, "net")
    assert.equal("exited", assert(p:run { argv = { "/bin/true" } }).status)
    for _, d in ipairs(cgdirs) do assert.is_true(helper.exists(d), d) end
    assert.is_true(helper.exists(state_dir))
    assert.is_true(p:close())
    assert.is_true(p:close())   -- idempotent
    for _, d in ipairs(cgdirs) do assert.is_false(helper.exists(d), d) end
    assert.is_false(helper.exists(state_dir))
    assert.is_number(netns_id)
    assert.has_error(function() p:run { argv = { "/bin/true" } } end, "pool:run: the pool is closed")
  end)
end)
