-- nslua judge: verdicts, isolate's meta-file, limits, the library API.
-- Payloads are small C programs compiled at test time into a 0755 temp dir
-- (the judge binds each one read-only at its host path).
local helper = require "helper"

local q = helper.quote

local SOURCES = {
  echo = [[
#include <stdio.h>
int main(void) { int c; while ((c = getchar()) != EOF) putchar(c); return 0; }
]],
  exit3 = [[
int main(void) { return 3; }
]],
  segv = [[
#include <signal.h>
int main(void) { raise(SIGSEGV); return 0; }
]],
  abort = [[
#include <stdlib.h>
int main(void) { abort(); }
]],
  nullw = [[
int main(void) { *(volatile int *)0 = 1; return 0; }
]],
  busy = [[
int main(void) { volatile unsigned long n = 0; for (;;) n++; }
]],
  sleeper = [[
#include <unistd.h>
int main(void) { sleep(100); return 0; }
]],
  threads = [[
#include <pthread.h>
static void *spin(void *a) { volatile unsigned long n = 0; (void)a; for (;;) n++; return 0; }
int main(void) { pthread_t t; pthread_create(&t, 0, spin, 0); spin(0); return 0; }
]],
  hog = [[
#include <stdlib.h>
#include <string.h>
int main(void) {
  size_t n = 400u << 20;
  volatile char *p = malloc(n);
  if (!p) return 2;
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;
  return 0;
}
]],
  flood = [[
#include <string.h>
#include <unistd.h>
int main(void) { char b[4096]; memset(b, 'y', sizeof b); for (;;) if (write(1, b, sizeof b) < 0) return 4; }
]],
  boxfile = [[
#include <stdio.h>
#include <string.h>
int main(void) {
  char b[4096]; memset(b, 'z', sizeof b);
  FILE *f = fopen("big.txt", "w");
  if (!f) return 5;
  for (int i = 0; i < 1024; i++) fwrite(b, 1, sizeof b, f);
  fclose(f);
  return 0;
}
]],
  -- every process forks until fork fails, then waits; the first one
  -- reports how many direct children it got and exits 1
  forkbomb = [[
#include <stdio.h>
#include <unistd.h>
int main(void) {
  int ok = 0, fail = 0;
  for (int i = 0; i < 200; i++) {
    pid_t p = fork();
    if (p == 0) { for (;;) if (fork() < 0) pause(); }
    if (p > 0) ok++; else fail++;
  }
  printf("%d %d\n", ok, fail);
  fflush(stdout);
  return fail ? 1 : 0;
}
]],
  -- about 1.3 s of cpu, then a normal exit
  cpu13 = [[
#include <time.h>
int main(void) { volatile unsigned long n = 0; while (clock() < CLOCKS_PER_SEC * 13 / 10) n++; return 0; }
]],
  -- what it does depends on its input: for a pool's runs with one program
  byinput = [[
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
int main(void) {
  char s[64];
  if (!fgets(s, sizeof s, stdin)) return 6;
  if (strcmp(s, "hog\n") == 0) {
    for (int i = 0; i < 400; i++) { char *p = malloc(1 << 20); if (!p) return 7; memset(p, 1, 1 << 20); }
    return 0;
  }
  if (strcmp(s, "spin\n") == 0) { volatile unsigned long n = 0; for (;;) n++; }
  if (strcmp(s, "fork\n") == 0) {
    for (int i = 0; i < 200; i++) { pid_t p = fork(); if (p == 0) { pause(); _exit(0); } if (p < 0) return 1; }
    return 0;
  }
  fputs(s, stdout);
  return 0;
}
]],
  static = [[
#include <stdio.h>
int main(void) { char s[64]; if (!fgets(s, sizeof s, stdin)) return 6; printf("static %s", s); return 0; }
]],
}

local dir, bin = nil, {}
local compiled_ok, compile_err = true, nil

local function meta_of(path)
  local t, order = {}, {}
  for line in (helper.read(path) or ""):gmatch("[^\n]+") do
    local k, v = line:match("^([%w%-]+):(.*)$")
    assert(k, "bad meta line: " .. line)
    assert(t[k] == nil, "duplicate meta key " .. k)
    t[k] = v
    order[#order + 1] = k
  end
  return t, order
end

-- Exactly these keys (isolate's set plus nslua's verdict), and the values given.
local function assert_meta(m, keys, values)
  local want = {}
  for _, k in ipairs(keys) do want[k] = true end
  for k in pairs(m) do assert(want[k], ("unexpected meta key '%s'"):format(k)) end
  for k in pairs(want) do assert(m[k] ~= nil, ("missing meta key '%s'"):format(k)) end
  for k, v in pairs(values or {}) do assert.equal(v, m[k], "meta " .. k) end
  assert.matches("^%d+%.%d%d%d$", m.time)
  if m["time-wall"] then assert.matches("^%d+%.%d%d%d$", m["time-wall"]) end
end

-- Run `nslua judge`; returns rc, combined output, meta table.
local function judge(opts, prog, args)
  local meta = dir .. "/meta.txt"
  os.remove(meta)
  local cmd = ("%s judge --meta %s %s -- %s %s"):format(helper.nslua, q(meta), opts or "",
    q(prog), args or "")
  local _, out, rc = helper.sh(cmd)
  return rc, out, meta_of(meta)
end

-- A wall-time bound for a run's time-wall (from the container's start):
-- 'base' seconds on a quiet host; other people's test runs share these
-- cpus, and a cpu-bound run's wall time grows with its share of them, so a
-- busy host (load above 1.5) or a sanitizer build gets 4 s more (the run
-- must still end seconds, not minutes, after its limit).
local function wall_bound(base)
  local load = tonumber((helper.read("/proc/loadavg") or "0"):match("^(%S+)")) or 0
  return (load > 1.5 or helper.sanitized) and math.max(base * 2, base + 4) or base
end

local COMMON = { "time", "time-wall", "max-rss", "csw-voluntary", "csw-forced", "cg-mem", "verdict" }
local function keys(...)
  local t = { table.unpack(COMMON) }
  for _, k in ipairs { ... } do t[#t + 1] = k end
  return t
end
-- the rusage keys (max-rss, csw-*) are absent when nslua killed the container
local RUSAGE = { ["max-rss"] = true, ["csw-voluntary"] = true, ["csw-forced"] = true }
local function without(list, k)
  local t = {}
  for _, x in ipairs(list) do
    if x ~= k and not (k == "max-rss" and RUSAGE[x]) then t[#t + 1] = x end
  end
  return t
end

describe("nslua judge #priv", function()
  -- the leftover check: the ids this test's runs made (helper.track)
  local tracker

  setup(function()
    if not helper.is_root() then return end
    dir = helper.tmpdir("0755")
    for name, src in pairs(SOURCES) do
      local c = dir .. "/" .. name .. ".c"
      local f = assert(io.open(c, "w"))
      f:write(src)
      f:close()
      local extra = name == "threads" and " -pthread" or name == "static" and " -static" or ""
      local ok, out = helper.sh(("cc -O1 -o %s %s%s"):format(q(dir .. "/" .. name), q(c), extra))
      if not ok then compiled_ok, compile_err = false, name .. ": " .. out end
      bin[name] = dir .. "/" .. name
    end
    local f = assert(io.open(dir .. "/in.txt", "w"))
    f:write("hello judge\n")
    f:close()
    os.execute("chmod -R a+rX " .. q(dir))
  end)

  teardown(function()
    if dir then
      helper.rmtree(dir)
      assert.is_false(helper.exists(dir), "temp dir left behind")
    end
  end)

  before_each(function()
    if not helper.is_root() then return pending("needs root (cgroups)") end
    assert(compiled_ok, compile_err)
    tracker = helper.track()
  end)
  after_each(function()
    if tracker then helper.assert_released(tracker) end
    tracker = nil
  end)

  it("OK: echoes stdin to stdout through files", function()
    local out_file = dir .. "/echo.out"
    local rc, out, m = judge(("--stdin %s --stdout %s --time 2"):format(q(dir .. "/in.txt"), q(out_file)),
      bin.echo)
    assert.equal(0, rc, out)
    assert.equal("hello judge\n", helper.read(out_file))
    assert_meta(m, keys("exitcode"), { exitcode = "0", verdict = "OK" })
    assert.matches("^OK %(%d+%.%d+ sec real, %d+%.%d+ sec wall%)", out)
  end)

  it("RE: a non-zero exit", function()
    local rc, out, m = judge("", bin.exit3)
    assert.equal(1, rc, out)
    assert_meta(m, keys("exitcode", "status", "message"),
      { exitcode = "3", status = "RE", message = "Exited with error status 3", verdict = "RE" })
  end)

  for _, case in ipairs { { "segv", 11, "raise(SIGSEGV)" }, { "abort", 6, "abort()" },
                          { "nullw", 11, "a NULL write" } } do
    it("SG: " .. case[3], function()
      local rc, out, m = judge("", bin[case[1]])
      assert.equal(1, rc, out)
      assert_meta(m, keys("exitsig", "status", "message"),
        { exitsig = tostring(case[2]), status = "SG", verdict = "SG",
          message = ("Caught fatal signal %d"):format(case[2]) })
    end)
  end

  it("TLE: a busy loop under --time 1 ends within 1.5 s", function()
    local rc, out, m = judge("--time 1", bin.busy)
    assert.equal(1, rc, out)
    assert.is_true(tonumber(m["time-wall"]) < wall_bound(1.5), m["time-wall"])
    assert_meta(m, without(keys("killed", "status", "message"), "max-rss"),
      { killed = "1", status = "TO", message = "Time limit exceeded", verdict = "TLE" })
    assert.is_true(tonumber(m.time) >= 1.0 and tonumber(m.time) < 1.2, m.time)
  end)

  it("TLE: sleep under --wall 1 (wall clock)", function()
    local rc, out, m = judge("--wall 1", bin.sleeper)
    assert.equal(1, rc, out)
    assert.is_true(tonumber(m["time-wall"]) < wall_bound(1.5), m["time-wall"])
    assert.is_true(tonumber(m["time-wall"]) >= 1.0, m["time-wall"])
    assert_meta(m, without(keys("killed", "status", "message"), "max-rss"),
      { killed = "1", status = "TO", message = "Time limit exceeded (wall clock)", verdict = "TLE" })
    assert.is_true(tonumber(m.time) < 0.1, m.time)
  end)

  it("TLE: two busy threads are counted container-wide", function()
    local rc, out, m = judge("--time 1", bin.threads)
    assert.equal(1, rc, out)
    assert.equal("TLE", m.verdict)
    assert.equal("Time limit exceeded", m.message)
    -- killed by the container-wide poll at 1 s of cpu over both threads,
    -- not by the per-process RLIMIT_CPU backstop at 2 s
    assert.is_true(tonumber(m.time) >= 1.0 and tonumber(m.time) < 1.2, m.time)
    assert.equal("1", m.killed)
    -- on two idle cpus that takes about half a second of wall time
    assert.is_true(tonumber(m["time-wall"]) < wall_bound(1.3), m["time-wall"])
  end)

  it("MLE: 400 MB under --memory 64M", function()
    local rc, out, m = judge("--memory 64M", bin.hog)
    assert.equal(1, rc, out)
    assert_meta(m, keys("cg-oom-killed", "exitsig", "status", "message"),
      { ["cg-oom-killed"] = "1", exitsig = "9", status = "SG", message = "Memory limit exceeded",
        verdict = "MLE" })
    assert.is_true(tonumber(m["cg-mem"]) <= 65536, m["cg-mem"])
  end)

  it("OLE: a stdout flood to a file under --output 1M", function()
    local out_file = dir .. "/flood.out"
    local rc, out, m = judge(("--output 1M --stdout %s"):format(q(out_file)), bin.flood)
    assert.equal(1, rc, out)
    assert_meta(m, keys("exitsig", "status", "message"),
      { exitsig = "25", status = "SG", message = "Output limit exceeded", verdict = "OLE" })
    local f = io.open(out_file)
    assert.equal(1024 * 1024, f:seek("end"))
    f:close()
  end)

  it("OLE: writing a file in /box under --output 1M", function()
    local rc, out, m = judge("--output 1M", bin.boxfile)
    assert.equal(1, rc, out)
    assert.equal("OLE", m.verdict)
    assert.equal("25", m.exitsig)
    -- within the limit it is fine: 4 MiB in the 64M box
    rc, out, m = judge("--output 8M", bin.boxfile)
    assert.equal(0, rc, out)
    assert.equal("OK", m.verdict)
  end)

  -- DESIGN "Trust rules": judge defaults bound output, processes and memory.
  it("bounds memory, output and processes with no limit option given", function()
    local judge_mod = require "nslua.recipes.judge"
    assert.same({ "256M", "64M", 64 }, { judge_mod.DEFAULTS.memory, judge_mod.DEFAULTS.output,
      judge_mod.DEFAULTS.pids })
    -- 400 MB under the default 256M
    local rc, out, m = judge("", bin.hog)
    assert.equal(1, rc, out)
    assert.equal("MLE", m.verdict, out)
    assert.is_true(tonumber(m["cg-mem"]) <= 256 * 1024, m["cg-mem"])
    -- a flood stops at the default 64M
    local out_file = dir .. "/default-flood.out"
    rc, out, m = judge(("--stdout %s"):format(q(out_file)), bin.flood)
    local f = io.open(out_file)
    local size = f and f:seek("end")
    if f then f:close() end
    os.remove(out_file)
    assert.equal(1, rc, out)
    assert.equal("OLE", m.verdict, out)
    assert.equal(64 * 1024 * 1024, size)
    -- a fork bomb meets the default 64 tasks
    out_file = dir .. "/default-bomb.out"
    rc, out, m = judge(("--wall 5 --stdout %s"):format(q(out_file)), bin.forkbomb)
    local ok_forks = (helper.read(out_file) or ""):match("^(%d+) ")
    os.remove(out_file)
    assert.equal(1, rc, out)
    assert.equal("pids limit", m.message, out)
    assert.is_true(tonumber(ok_forks) + 1 <= 64, ok_forks)
  end)

  it("lets an explicit option replace each default", function()
    local rc, out, m = judge("--memory 512M", bin.hog)
    assert.equal(0, rc, out)
    assert.equal("OK", m.verdict)
    local _, text = helper.sh(("%s judge --explain --memory 1G --output 1K --pids 7 -- /bin/true"):format(helper.nslua))
    assert.matches("limit: memory = 1073741824 (cgroup)", text, 1, true)
    assert.matches("limit: pids = 7 (cgroup)", text, 1, true)
    assert.matches("rlimit: fsize = 1024", text, 1, true)
  end)

  it("a fork bomb under --pids 32: RE 'pids limit', never more than 32 tasks", function()
    local out_file = dir .. "/bomb.out"
    local rc, out, m = judge(("--pids 32 --wall 5 --stdout %s"):format(q(out_file)), bin.forkbomb)
    assert.equal(1, rc, out)
    assert_meta(m, keys("exitcode", "status", "message"),
      { exitcode = "1", status = "RE", message = "pids limit", verdict = "RE" })
    local ok_forks, failed = (helper.read(out_file) or ""):match("^(%d+) (%d+)")
    assert.is_truthy(ok_forks, helper.read(out_file))
    assert.is_true(tonumber(ok_forks) + 1 <= 32, ok_forks)
    assert.is_true(tonumber(failed) > 0)
  end)

  it("python3 under the strict profile (threads, stdin)", function()
    local out_file = dir .. "/py.out"
    local rc, out, m = judge(("--time 5 --memory 256M --stdin %s --stdout %s"):format(
      q(dir .. "/in.txt"), q(out_file)), "python3",
      "-c " .. q("import sys, threading; t = threading.Thread(target=lambda: None); t.start(); t.join(); "
        .. "print(sys.stdin.read().upper(), end='')"))
    assert.equal(0, rc, out)
    assert.equal("OK", m.verdict)
    assert.equal("HELLO JUDGE\n", helper.read(out_file))
  end)

  it("a static C program under the strict profile", function()
    local out_file = dir .. "/static.out"
    local rc, out, m = judge(("--stdin %s --stdout %s"):format(q(dir .. "/in.txt"), q(out_file)),
      bin.static)
    assert.equal(0, rc, out)
    assert.equal("OK", m.verdict)
    assert.equal("static hello judge\n", helper.read(out_file))
  end)

  it("the strict profile refuses sockets", function()
    local out_file = dir .. "/sock.out"
    local rc, out, m = judge(("--stdout %s --stderr-to-stdout"):format(q(out_file)), "python3",
      "-c " .. q("import socket; socket.socket(socket.AF_UNIX)"))
    assert.equal(1, rc, out)
    assert.equal("RE", m.verdict)
    assert.matches("PermissionError", helper.read(out_file))
  end)

  it("--extra-time lets a run finish but the verdict is still TLE", function()
    local rc, out, m = judge("--time 1 --extra-time 1", bin.cpu13)
    assert.equal(1, rc, out)
    -- not killed: it ran past 1 s to its own end, about 1.3 s of cpu
    assert_meta(m, keys("status", "message"),
      { status = "TO", message = "Time limit exceeded", verdict = "TLE" })
    assert.is_true(tonumber(m.time) > 1.2 and tonumber(m.time) < 2, m.time)
    assert.is_true(tonumber(m["time-wall"]) < wall_bound(2.5), m["time-wall"])
    -- without the grace it is killed at 1 s
    rc, out, m = judge("--time 1", bin.cpu13)
    assert.equal(1, rc, out)
    assert.equal("1", m.killed)
    assert.is_true(tonumber(m.time) < 1.2, m.time)
    -- within the limit it is OK
    rc, out, m = judge("--time 2", bin.cpu13)
    assert.equal(0, rc, out)
    assert.equal("OK", m.verdict)
  end)

  it("--extra-time: the kill comes at time + extra-time cpu seconds, verdict TLE", function()
    local rc, out, m = judge("--time 0.5 --extra-time 0.5", bin.busy)
    assert.equal(1, rc, out)
    assert_meta(m, without(keys("killed", "status", "message"), "max-rss"),
      { killed = "1", status = "TO", message = "Time limit exceeded", verdict = "TLE" })
    -- not at 0.5 s (time alone), not later than the poll after 1 s
    assert.is_true(tonumber(m.time) >= 1.0 and tonumber(m.time) < 1.2, m.time)
  end)

  it("--dir HOST:INSIDE:rw binds read-write; :ro and no flag read-only", function()
    local shared = helper.tmpdir("0777")
    local rc, out = judge(("--dir %s:/out:rw"):format(q(shared)), "/bin/sh", "-c " .. q("echo rw > /out/f"))
    assert.equal(0, rc, out)
    assert.equal("rw\n", helper.read(shared .. "/f"))
    for _, flag in ipairs { ":ro", "" } do
      rc, out = judge(("--dir %s:/out%s"):format(q(shared), flag), "/bin/sh", "-c " .. q("echo ro > /out/g"))
      assert.equal(1, rc, out)
      assert.matches("Read-only file system", out, 1, true)
      assert.is_false(helper.exists(shared .. "/g"), "written through --dir HOST:/out" .. flag)
    end
    helper.rmtree(shared)
  end)

  it("--isolate-exit-codes: 0 OK, 1 the program failed, 2 XX and bad usage", function()
    local function rc_of(opts, prog)
      local _, out, rc = helper.sh(("%s judge --silent %s -- %s"):format(helper.nslua, opts, prog))
      return rc, out
    end
    local iso = "--isolate-exit-codes"
    for _, case in ipairs {
      { iso, "/bin/true", 0 }, { iso, q(bin.exit3), 1 }, { iso, q(bin.segv), 1 },
      { iso .. " --time 0.3", q(bin.busy), 1 },
      { iso, q(dir .. "/no-such-program"), 2 },
      { iso .. " --memory lots", "/bin/true", 2 }, { iso .. " --bogus", "/bin/true", 2 },
      { iso .. " --dir /tmp:/tmp:rx", "/bin/true", 2 },
      -- without it, nslua's own codes
      { "", q(dir .. "/no-such-program"), 125 }, { "--memory lots", "/bin/true", 125 },
    } do
      local rc, out = rc_of(case[1], case[2])
      assert.equal(case[3], rc, case[1] .. " " .. case[2] .. ": " .. out)
    end
  end)

  it("--cpuset pins the program", function()
    local out_file = dir .. "/cpus.out"
    local rc, out = judge(("--cpuset 0 --stdout %s"):format(q(out_file)), "/bin/grep",
      "Cpus_allowed_list /proc/self/status")
    assert.equal(0, rc, out)
    assert.matches("Cpus_allowed_list:%s+0\n", helper.read(out_file))
  end)

  it("the box: a private writable /box as cwd, a clean environment, no network", function()
    local out_file = dir .. "/box.out"
    local rc, out = judge(("--box-size 1M --stdout %s --stderr-to-stdout --copy %s --dir %s:/data"):format(
      q(out_file), q(dir .. "/in.txt"), q(dir)), "/bin/sh", "-c " ..
      q("pwd; env | sort; cat in.txt; ls /data/echo.c; echo x > f && cat f; "
        .. "head -c 2000000 /dev/zero > big || echo quota; cat /proc/net/dev | grep -c :; "
        .. "echo > /data/new || echo ro"))
    assert.equal(0, rc, out)
    local text = helper.read(out_file)
    assert.matches("^/box\n", text)
    assert.matches("\nHOME=/box\n", text, 1, true)
    assert.not_matches("SUDO_", text)
    assert.matches("hello judge\n", text, 1, true)
    assert.matches("/data/echo.c\n", text, 1, true)
    assert.matches("\nx\n", text, 1, true)
    assert.matches("quota\n", text, 1, true)
    assert.matches("\n1\n", text, 1, true)           -- lo only
    assert.matches("ro\n$", text)
  end)

  it("XX: a missing program exits 125", function()
    local rc, out, m = judge("", dir .. "/no-such-program")
    assert.equal(125, rc, out)
    assert.equal("XX", m.status)
    assert.equal("XX", m.verdict)
    assert.matches("No such file or directory", m.message)
  end)

  describe("bad options exit 125 naming the option", function()
    for _, case in ipairs {
      { "--memory lots", "--memory: invalid size 'lots'" },
      { "--time=-1", "--time: must be a positive number" },
      { "--time 1e300", "--time: must be at most 2147483 seconds" },
      { "--pids 0", "--pids: must be a positive integer" },
      { "--pids 1e300", "--pids: must be at most 4194304" },
      { "--open-files 0", "--open-files: must be a positive integer" },
      { "--memory 1e300", "--memory: invalid size '1e300'" },
      { "--cpuset x", '--cpuset: must be a cpu list such as "0-1,3"' },
      { "--seccomp nope", "--seccomp: " },
      { "--extra-time 1", "--extra-time needs --time" },
      { "--bogus", "unknown option '--bogus'" },
      { "--dir /no/such/dir", "--dir: '/no/such/dir': no such file or directory" },
      { "--dir /tmp:/tmp:rx", "--dir: '/tmp:/tmp:rx': 'rx' is not ro or rw" },
      { "--dir /tmp:tmp:rw", "--dir: '/tmp:tmp:rw': INSIDE must be an absolute path" },
      { "--dir /tmp::rw", "--dir: '/tmp::rw': not HOST[:INSIDE[:ro|rw]]" },
      { "--dir /tmp:/x:", "--dir: '/tmp:/x:': not HOST[:INSIDE[:ro|rw]]" },
      { "--dir :/x", "--dir: ':/x': not HOST[:INSIDE[:ro|rw]]" },
      { "--dir /tmp:/x:rw:ro", "--dir: '/tmp:/x:rw:ro': not HOST[:INSIDE[:ro|rw]]" },
    } do
      it(case[1], function()
        local ok, out, rc = helper.sh(("%s judge %s -- /bin/true"):format(helper.nslua, case[1]))
        assert.is_false(ok)
        assert.equal(125, rc, out)
        assert.matches(case[2], out, 1, true)
      end)
    end
    it("no program", function()
      local _, out, rc = helper.sh(helper.nslua .. " judge --time 1")
      assert.equal(125, rc, out)
      assert.matches("missing program", out, 1, true)
    end)
  end)

  it("a judge pool: one submission's tests, and nothing of one test reaches the next", function()
    local ok, out = helper.run_isolated(([[
      local judge = require "nslua.recipes.judge"
      local dir = %q
      local jp = assert(judge.pool { argv = { dir .. "/byinput" }, memory = "64M", pids = 16, output = "1M" })
      local function input(s)
        local f = assert(io.open(dir .. "/pool.in", "w"))
        f:write(s, "\n")
        f:close()
        return dir .. "/pool.in"
      end
      local got = {}
      for _, t in ipairs { "one", "hog", "two", "spin", "three", "fork", "four" } do
        local v, meta, rep = jp:run { stdin = input(t), stdout = dir .. "/pool.out",
                                      time = t == "spin" and 0.5 or 2 }
        local o = io.open(dir .. "/pool.out"):read("a")
        got[#got + 1] = v .. (v == "OK" and (":" .. o:gsub("\n", "")) or "")
        if t == "spin" then assert(meta.time >= 0.5 and meta.time < 1, meta.time) end
        if t == "four" then assert(meta.time < 0.2, "cpu of an earlier test counted: " .. meta.time) end
      end
      -- per-run options only
      local okr, err = pcall(jp.run, jp, { memory = "1G" })
      assert(not okr and err:match("opts.memory: is the pool's"), err)
      jp:close()
      io.write(table.concat(got, " "))
    ]]):format(dir))
    assert.is_true(ok, out)
    assert.equal("OK:one MLE OK:two TLE OK:three RE OK:four", out)
  end)

  it("a judge pool passes warm on to its pool's keeper", function()
    local ok, out = helper.run_isolated(([[
      local judge = require "nslua.recipes.judge"
      local dir = %q
      local said = {}
      for _, warm in ipairs { false, 0.5 } do
        local jp = assert(judge.pool { argv = { dir .. "/byinput" }, memory = "64M", warm = warm })
        said[#said + 1] = tostring(jp.pool.keeper ~= nil) .. "/" .. tostring(jp.pool.warm)
        jp:close()
      end
      local okp, err = pcall(judge.pool, { argv = { dir .. "/byinput" }, warm = -1 })
      said[#said + 1] = tostring(okp) .. " " .. tostring(err):gsub("^.-pool:", "pool:")
      io.write(table.concat(said, " "))
    ]]):format(dir))
    assert.is_true(ok, out)
    assert.equal("false/0 true/0.5 false pool: opts.warm: must be false or 0..3600 seconds", out)
  end)

  it("--tests DIR: every NAME.in through one pool, NAME.out and NAME.meta beside it", function()
    local tests = dir .. "/tests"
    assert(helper.sh("mkdir -p " .. q(tests)))
    for name, input in pairs { a = "one", b = "hog", c = "two", d = "spin" } do
      local f = assert(io.open(tests .. "/" .. name .. ".in", "w"))
      f:write(input, "\n")
      f:close()
    end
    local cmd = ("%s judge --tests %s --memory 64M --time 0.5 -- %s"):format(helper.nslua, q(tests), q(bin.byinput))
    local _, out, rc = helper.sh(cmd)
    assert.equal(1, rc, out)   -- not every test is OK
    assert.matches("a: OK", out, 1, true)
    assert.matches("b: MLE", out, 1, true)
    assert.matches("c: OK", out, 1, true)
    assert.matches("d: TLE", out, 1, true)
    assert.equal("one\n", helper.read(tests .. "/a.out"))
    assert.equal("two\n", helper.read(tests .. "/c.out"))
    assert.equal("MLE", meta_of(tests .. "/b.meta").verdict)
    assert.equal("OK", meta_of(tests .. "/c.meta").verdict)
    -- usage: --tests takes the files itself
    _, out, rc = helper.sh(("%s judge --tests %s --stdin x -- %s"):format(helper.nslua, q(tests), q(bin.byinput)))
    assert.equal(125, rc, out)
    assert.matches("--tests excludes --stdin", out, 1, true)
    _, out, rc = helper.sh(("%s judge --tests %s -- %s"):format(helper.nslua, q(dir .. "/nothere"), q(bin.byinput)))
    assert.equal(125, rc, out)
    helper.rmtree(tests)
  end)

  it("the API: one Lua process runs 20 submissions", function()
    local ok, out = helper.run_isolated(([[
      local judge = require "nslua.recipes.judge"
      local dir = %q
      local cases = {
        { "echo", "OK" }, { "exit3", "RE" }, { "segv", "SG" }, { "nullw", "SG" },
        { "hog", "MLE" }, { "flood", "OLE" }, { "abort", "SG" }, { "static", "OK" },
      }
      local got = {}
      for i = 1, 20 do
        local c = cases[(i - 1) %% #cases + 1]
        local v, meta, rep = judge.run {
          argv = { dir .. "/" .. c[1] }, stdin = dir .. "/in.txt", stdout = dir .. "/api.out",
          memory = "64M", output = "1M", time = 2,
        }
        assert(v == c[2], ("run %%d %%s: %%s (%%s)"):format(i, c[1], v, tostring(meta.message)))
        assert(type(meta.time) == "number" and rep and rep.status)
        got[#got + 1] = v
      end
      -- a bad option raises, naming it
      local okr, err = pcall(judge.run, { argv = { "/bin/true" }, memory = "lots" })
      assert(not okr and err == "opts.memory: invalid size 'lots'", err)
      io.write(table.concat(got, " "))
    ]]):format(dir))
    assert.is_true(ok, out)
    assert.equal("OK RE SG SG MLE OLE SG OK OK RE SG SG MLE OLE SG OK OK RE SG SG", out)
  end)
end)

describe("nslua judge defaults", function()
  it("bound memory, output and processes in the plan", function()
    local ok, text = helper.sh(helper.nslua .. " judge --explain -- /bin/true")
    assert.is_true(ok, text)
    assert.matches("limit: memory = 268435456 (cgroup)", text, 1, true)
    assert.matches("limit: pids = 64 (cgroup)", text, 1, true)
    assert.matches("rlimit: fsize = 67108864", text, 1, true)
  end)
end)
