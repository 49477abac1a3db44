-- run.lua - nslua's bench: every tool side by side with the kernel's limit.
--   lua5.4 scripts/bench/run.lua [--pairs N] [--warmup N] [--scenarios S1,S2,...]
--     [--api-pairs N] [--loop N] [--no-api] [--iso-pause MS] [--iso-box ID]
--     [--oci-pause MS] [--markdown] [--json FILE]
-- Needs `make -C scripts/bench` (build/bench/: limit, bench.so, best.lua,
-- api.lua, judgeprog) and root.  Per command: pairs against the limit as a command
-- (A B, B A, ...: the per-pair ratio B/A); in one process: loops against
-- the limit's loop with nslua's process structure; ISO: isolate's
-- --init/--run/--cleanup cycle, step by step, per tool (real isolate when
-- ISOLATE names it); OCI: nslua-oci against runc under podman and against
-- crun on a bundle, paired; JUDGE: `nslua judge --tests` over 20 tests of
-- a 50 ms program and single `nslua judge` runs, the judge's cost on top
-- of the program's own time; S5I: S5 with a pause before each command.
-- Prints a table, writes JSON (build/bench/latest.json).
local USAGE = [[
usage: run.lua [--pairs N] [--warmup N] [--scenarios S1,S2,...] [--api-pairs N]
               [--loop N] [--no-api] [--iso-pause MS] [--iso-box ID]
               [--oci-pause MS] [--script] [--markdown] [--json FILE]
               | --render FILE
  --pairs N       A B pairs per command cell, cycles per ISO tool (default 20)
  --warmup N      unmeasured runs (ISO: cycles) of each side first (default 3)
  --scenarios L   comma list of S1..S5, ISO, OCI, NOTIFY, JUDGE, S5I, MEM, S2v
                  (default all)
  --api-pairs N   pairs of in-process loops (default 20; 0 = --no-api)
  --loop N        sandboxes per in-process loop (default 10)
  --iso-pause MS  pause before each ISO cycle, S5I command and JUDGE command,
                  as a judge between tests (default 100)
  --iso-box ID    ISO: the box id (default a random one of 0-999)
  --oci-pause MS  OCI: pause before each run (default 100)
  --script        run nslua as `lua5.4 scripts/nslua` (default: the nslua
                  program, build/bin/nslua, as `make install` installs it)
  --markdown      print the tables as Markdown
  --json FILE     where the JSON goes (default build/bench/latest.json)
  --render FILE   print FILE's results (a run's JSON) as Markdown, with the
                  targets of issue 18 and whether each is met; runs nothing
                  (`make bench-doc` writes docs/bench.md with it)
Environment: ISOLATE=/path/to/isolate adds real isolate to ISO;
NSLUA_OCI_RUNTIME=/path/to/runtime replaces build/bin/nslua-oci in OCI.
]]

local function dirname(p) return p:match("^(.*)/[^/]*$") or "." end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = f:read("a")
  local ok = f:close()
  return ok == true, out
end

local function readfile(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function writefile(path, s)
  local f = assert(io.open(path, "w"))
  f:write(s)
  f:close()
end

local function which(name)
  local ok, out = sh("command -v " .. q(name))
  local p = ok and out:match("^(/%S+)")
  return p
end

local TOP = select(2, sh("cd " .. q(dirname(arg[0]) .. "/../..") .. " && pwd")):match("^(.-)%s*$")
local OUT = TOP .. "/build/bench"
package.cpath = OUT .. "/?.so;" .. package.cpath
-- --render FILE needs none of the bench's own code (spec/bench_spec.lua
-- renders docs/bench.json in `make check`)
local RENDER = false
for _, a in ipairs(arg) do if a == "--render" then RENDER = true end end
local bench_ok, bench = pcall(require, "bench")
if not bench_ok and not RENDER then
  io.stderr:write("run.lua: ", tostring(bench), "\n(run `make -C scripts/bench` first)\n")
  os.exit(1)
end

-- S2v (last: it moves the runner into a private network namespace) is
-- the cost of a veth: `nslua run --user host --net veth` against S2's
-- loopback-only `nslua run --user host`, both in that namespace.  ISO is
-- isolate's cycle (issue 14): no limit to compare with, times per step.
-- OCI (issue 15): nslua-oci paired with the runtime it replaces, no limit.
-- NOTIFY (issue 16): a Lua seccomp handler's round trip, calls per second
-- of getppid handled by a trivial `true` handler and unhandled.
-- JUDGE: a judge's per-test cost (`nslua judge --tests`, and single runs)
-- over a program's own run time.  S5I: S5's `nslua run` and limit, each
-- command after a pause, as a judge runs a test.  MEM: the resident set
-- of a process running a pool's 1,000 runs (api.lua poolmem).
local SCENARIOS = { "S1", "S2", "S3", "S4", "S5", "ISO", "OCI", "NOTIFY", "JUDGE", "S5I", "MEM", "S2V" }
local IS_SCENARIO = {}
for _, n in ipairs(SCENARIOS) do IS_SCENARIO[n] = true end
local ROOTLESS_ID <const> = 4242
local TIMEOUT <const> = 60  -- seconds: a hung command dies of SIGALRM

-- ---------------------------------------------------------------- options

local function parse_args(args)
  local o = { pairs = 20, warmup = 3, api_pairs = 20, loop = 10, scenarios = SCENARIOS,
              iso_pause = 100, oci_pause = 100, json = OUT .. "/latest.json" }
  local i = 1
  local function num(name)
    i = i + 1
    local v = math.tointeger(tonumber(args[i] or ""))
    if not v or v < 0 then error(("%s needs a number"):format(name), 0) end
    return v
  end
  while args[i] do
    local a = args[i]
    if a == "--pairs" then o.pairs = num(a)
    elseif a == "--warmup" then o.warmup = num(a)
    elseif a == "--api-pairs" then o.api_pairs = num(a)
    elseif a == "--loop" then o.loop = num(a)
    elseif a == "--no-api" then o.api_pairs = 0
    elseif a == "--iso-pause" then o.iso_pause = num(a)
    elseif a == "--iso-box" then o.iso_box = num(a)
    elseif a == "--oci-pause" then o.oci_pause = num(a)
    elseif a == "--markdown" then o.markdown = true
    elseif a == "--script" then o.script = true
    elseif a == "--render" then i = i + 1; o.render = args[i]
      if not o.render then error("--render needs a JSON file", 0) end
    elseif a == "--json" then i = i + 1; o.json = args[i]
    elseif a == "--scenarios" then
      i = i + 1
      o.scenarios = {}
      for s in (args[i] or ""):gmatch("[^,%s]+") do
        local n = s:upper()
        if not IS_SCENARIO[n] then error("unknown scenario " .. s, 0) end
        o.scenarios[#o.scenarios + 1] = n
      end
    elseif a == "-h" or a == "--help" then io.write(USAGE); os.exit(0)
    else error("unknown option " .. a, 0) end
    i = i + 1
  end
  if o.pairs < 1 then error("--pairs must be at least 1", 0) end
  if o.loop < 1 then error("--loop must be at least 1", 0) end
  if #o.scenarios == 0 then error("no scenario", 0) end
  -- S2V last: the scenarios after it would run in its network namespace
  for k, n in ipairs(o.scenarios) do
    if n == "S2V" and k < #o.scenarios then
      table.remove(o.scenarios, k)
      o.scenarios[#o.scenarios + 1] = "S2V"
      break
    end
  end
  return o
end

-- ---------------------------------------------------------------- stats

local function median(t)
  local s = {}
  for i, v in ipairs(t) do s[i] = v end
  table.sort(s)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

local function summary(t)
  local lo, hi = math.huge, -math.huge
  for _, v in ipairs(t) do lo = math.min(lo, v); hi = math.max(hi, v) end
  return { median = median(t), min = lo, max = hi, n = #t }
end

-- ---------------------------------------------------------------- machine

local function machine()
  local cpu = (readfile("/proc/cpuinfo") or ""):match("model name%s*:%s*([^\n]+)") or "?"
  local _, nproc = sh("nproc")
  return {
    kernel = ((readfile("/proc/sys/kernel/osrelease") or "?"):gsub("%s+$", "")),
    cpu = cpu,
    nproc = tonumber(nproc:match("%d+")),
    date = os.date("!%Y-%m-%dT%H:%M:%SZ"),
    lua = _VERSION,
    cgroup = readfile("/sys/fs/cgroup/cgroup.controllers") and "v2" or "v1/hybrid",
  }
end

-- ---------------------------------------------------------------- set-up

-- Everything a run needs lives in one 0755 temp dir (readable by the
-- rootless uid): copies of the bench tools, a busybox root, a 0755 copy of
-- nslua's tree for rootless runs, the rootless XDG_RUNTIME_DIR, crun's
-- bundle, `nslua isolate`'s box root (isolate/, made by its --init).
local function setup(opts, ctx)
  local ok, out = sh("mktemp -d \"${TMPDIR:-/tmp}/nslua-bench.XXXXXX\"")
  assert(ok, "mktemp: " .. out)
  local T = out:match("^(%S+)")
  ctx.tmp = T
  local busybox = "/bin/busybox"
  local steps = {
    ("chmod 0755 %s"):format(q(T)),
    ("cp %s/limit %s/bench.so %s/best.lua %s/api.lua %s/judgeprog %s/")
      :format(q(OUT), q(OUT), q(OUT), q(OUT), q(OUT), q(T)),
    ("mkdir -p %s/root/bin %s/root/proc %s/root/dev %s/root/tmp %s/bundle"):format(q(T), q(T), q(T), q(T), q(T)),
    ("mkdir %s/tree && cp -a %s/build %s/lua %s/scripts %s/tree/"):format(q(T), q(TOP), q(TOP), q(TOP), q(T)),
    ("chmod -R a+rX %s"):format(q(T)),
    ("mkdir -m 0700 %s/xdg && chown %d:%d %s/xdg"):format(q(T), ROOTLESS_ID, ROOTLESS_ID, q(T)),
  }
  for _, cmd in ipairs(steps) do
    ok, out = sh(cmd)
    assert(ok, cmd .. ": " .. out)
  end
  if readfile(busybox) then
    ok, out = sh(("cp %s %s/root/bin/busybox && ln -s busybox %s/root/bin/true && chmod -R a+rX %s/root")
      :format(busybox, q(T), q(T), q(T)))
    assert(ok, out)
  else
    ctx.no_root = busybox .. " missing (busybox-static)"
  end
  ctx.root = T .. "/root"
  ctx.lua = which("lua5.4") or "/usr/bin/lua5.4"
  -- nslua as users run it: the program `make install` installs
  -- (csrc/launcher.c), else, or with --script, lua5.4 and the script
  ctx.nslua = function(top, ...)
    local prog = top .. "/build/bin/nslua"
    local t = (not opts.script and sh("test -x " .. q(prog))) and { prog } or { ctx.lua, top .. "/scripts/nslua" }
    for _, a in ipairs { ... } do t[#t + 1] = a end
    return t
  end
  -- nslua's default seccomp program, for bwrap's --seccomp in the
  -- like-for-like rows (bwrap_like)
  do
    local cpath, path = package.cpath, package.path
    package.cpath = TOP .. "/build/?.so;" .. cpath
    package.path = TOP .. "/lua/?.lua;" .. TOP .. "/lua/?/init.lua;" .. path
    local sok, seccomp = pcall(require, "nslua.seccomp")
    local bpf, berr
    if sok then bpf, berr = seccomp.compile("default") else berr = seccomp end
    package.cpath, package.path = cpath, path
    if bpf then
      writefile(T .. "/default.bpf", bpf)
      sh("chmod 0644 " .. q(T .. "/default.bpf"))
      ctx.default_bpf = T .. "/default.bpf"
    else
      ctx.bpf_err = tostring(berr)
    end
  end
  ctx.id = ("%08x"):format(math.random(0, 0x7fffffff))
  ctx.iso_root = T .. "/isolate"
  ctx.iso_box = opts.iso_box or math.random(0, 999)
  -- crun: a bundle whose root is the busybox root, with the S5 limits
  ctx.crun_id = "nslua-bench-" .. ctx.id
  local cjson_ok, cjson = pcall(require, "cjson")
  local config = {
    ociVersion = "1.0.0",
    process = {
      terminal = false, user = { uid = 0, gid = 0 }, args = { "/bin/true" },
      env = { "PATH=/bin" }, cwd = "/", noNewPrivileges = true,
      rlimits = { { type = "RLIMIT_CPU", soft = 10, hard = 11 } },
    },
    root = { path = ctx.root, readonly = true },
    hostname = "bench",
    mounts = {
      { destination = "/proc", type = "proc", source = "proc" },
      { destination = "/dev", type = "tmpfs", source = "tmpfs",
        options = { "nosuid", "mode=755", "size=65536k" } },
    },
    linux = {
      namespaces = { { type = "pid" }, { type = "network" }, { type = "ipc" },
                     { type = "uts" }, { type = "mount" }, { type = "user" } },
      uidMappings = { { containerID = 0, hostID = 1100000000, size = 1 } },
      gidMappings = { { containerID = 0, hostID = 1100000000, size = 1 } },
      cgroupsPath = "/" .. ctx.crun_id,
      resources = { memory = { limit = 268435456 }, pids = { limit = 64 } },
    },
  }
  if cjson_ok then
    writefile(T .. "/bundle/config.json", cjson.encode(config))
  else
    ctx.no_crun = "lua-cjson missing (the crun bundle's config.json)"
  end
  ctx.env3 = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "XDG_RUNTIME_DIR=" .. T .. "/xdg" }
end

local function teardown(ctx)
  if ctx.tmp then
    os.execute("rm -rf " .. q(ctx.tmp))
  end
end

-- ---------------------------------------------------------------- tools

-- nslua.core from build/, for the runner's own checks (nil when not built)
local function nslua_core()
  local cpath = package.cpath
  package.cpath = TOP .. "/build/?.so;" .. cpath
  local ok, core = pcall(require, "nslua.core")
  package.cpath = cpath
  return ok and core or nil
end

-- the cells of one scenario: the baseline (the limit as a command) and the
-- tools paired against it.  A tool that cannot run here has 'missing'.
-- S2v: in a private network namespace of the runner's own (made once, on
-- first use; nothing touches the machine's interfaces), nslua with a veth
-- against nslua with lo only.  nslua.core comes from build/.
local function veth_tools(ctx)
  local nsl = ctx.nslua(TOP, "run", "--user", "host")
  local function cmd(extra)
    local t = { table.unpack(nsl) }
    for _, a in ipairs(extra) do t[#t + 1] = a end
    t[#t + 1] = "--"
    t[#t + 1] = "/bin/true"
    return t
  end
  if ctx.veth_missing == nil then
    local core = nslua_core()
    if not core then
      ctx.veth_missing = "nslua.core not built (make)"
    else
      local uok, uerr = core.ns.unshare { net = true }
      if uok then uok, uerr = core.netlink.link_set("lo", { up = true }) end
      ctx.veth_missing = not uok and ("private netns: " .. tostring(uerr)) or false
    end
  end
  local missing = ctx.veth_missing or nil
  local base = { name = "nslua run (lo)", argv = cmd {}, opts = {}, missing = missing }
  return base, { { name = "nslua run --net veth", argv = cmd { "--net", "veth" }, opts = {},
                   missing = missing } }
end

-- a copy of o with extra's fields
local function with(o, extra)
  local t = {}
  for k, v in pairs(o) do t[k] = v end
  for k, v in pairs(extra) do t[k] = v end
  return t
end

-- The /proc paths bubblewrap's --proc makes read-only itself with a
-- scenario's namespace options (bwrap 0.8 binds sys, sysrq-trigger, irq
-- and bus over themselves, each only where it can write to it: none in a
-- user namespace), as a set, from a bwrap run printing its mount points.
local function bwrap_proc_ro(bwrap, nsopts, opts, out)
  local argv = { bwrap }
  for _, a in ipairs(nsopts) do argv[#argv + 1] = a end
  for _, a in ipairs { "--ro-bind", "/usr", "/usr", "--ro-bind", "/etc", "/etc", "--symlink", "usr/lib", "/lib",
                       "--symlink", "usr/lib64",
                       "/lib64", "--symlink", "usr/bin", "/bin", "--proc", "/proc",
                       "/usr/bin/awk", "$5 ~ /^\\/proc\\// { print $5 }", "/proc/self/mountinfo" } do
    argv[#argv + 1] = a
  end
  local dt, how, code = bench.spawn(argv, with(opts, { stdout = out, timeout = TIMEOUT }))
  local text = readfile(out)
  os.remove(out)
  if not (dt and how == "exited" and code == 0 and text) then return nil end
  local set = {}
  for p in text:gmatch("[^\n]+") do set[p] = true end
  return set
end

-- bwrap running the sandbox nslua's `explain` prints for the same options
-- (issue 18's like-for-like row): each line of the plan in bwrap's
-- options, in order, with nslua's default seccomp program on fd 3.  Masks
-- and read-only paths are what nslua applies: those that exist here.  A
-- line it cannot say in bwrap's options makes the row missing (never a
-- cheaper sandbox than nslua's called the same).  'opts': the scenario
-- user's spawn options.  -> argv, or nil and the reason
local DEV_NODES <const> = { null = true, zero = true, full = true, random = true, urandom = true, tty = true }
local DEV_LINKS <const> = { ["/dev/ptmx"] = "pts/ptmx", ["/dev/fd"] = "/proc/self/fd", ["/dev/core"] = "/proc/kcore",
                            ["/dev/stdin"] = "/proc/self/fd/0", ["/dev/stdout"] = "/proc/self/fd/1",
                            ["/dev/stderr"] = "/proc/self/fd/2" }
local function bwrap_like(ctx, explain, bwrap, opts)
  local core = nslua_core()
  if not core then return nil, "nslua.core not built (make)" end
  local function exists(p) return core.mount.stat(p) ~= nil end
  local function isdir(p)
    local st = core.mount.stat(p)
    return st and st.type == "dir"
  end
  local argv, nsopts = { bwrap, "--new-session", "--die-with-parent" }, {}
  local function add(...) for _, a in ipairs { ... } do argv[#argv + 1] = a end end
  local pending_bind, env, cmd, proc_ro, dev = nil, {}, nil, nil, false
  local function flush()
    if pending_bind then add(pending_bind[3] and "--ro-bind" or "--bind", pending_bind[1], pending_bind[2]) end
    pending_bind = nil
  end
  -- a mount line but a bind's -> whether it says something bwrap can
  local function other_mount(rest)
    local lnk, target = rest:match("^symlink (%S+) %-> (%S+)$")
    if lnk then
      -- (/dev's symlinks come with --dev, those it makes)
      if not lnk:match("^/dev/") then add("--symlink", target, lnk); return true end
      return dev and DEV_LINKS[lnk] == target
    end
    -- bwrap's root is a tmpfs already (0755, as nslua's), and --dev mounts devpts
    if rest:match("^mount tmpfs on / %[") then return true end
    if rest:match("^mount devpts on /dev/pts ") then return dev end
    if rest:match("^mount tmpfs on /dev ") then
      add("--dev", "/dev")
      dev = true
      return true
    end
    if rest:match("^mount proc on /proc ") then add("--proc", "/proc"); return true end
    local m, data = rest:match("^mount tmpfs on (%S+) %[[%w,]*%] (%S+)$")
    if m then
      local mode, size = data:match("^mode=(%d+),size=(%d+)$")
      if not mode then return false end
      add("--perms", mode, "--size", size, "--tmpfs", m)
      return true
    end
    m = rest:match("^mount mqueue on (%S+) ")
    if m then add("--mqueue", m); return true end
    m = rest:match("^mask (%S+)$")
    if m then
      -- (nslua: a read-only tmpfs over a directory, a read-write bind of
      -- /dev/null over a file)
      if isdir(m) then add("--tmpfs", m, "--remount-ro", m)
      elseif exists(m) then add("--bind", "/dev/null", m) end
      return true
    end
    m = rest:match("^read%-only (%S+)$")
    if not m then return false end
    -- a path bwrap's --proc leaves writable is bound over itself
    -- read-only, as nslua does (bwrap's source is a host path: the host's
    -- /proc/X, the same files for these system-wide ones)
    if not proc_ro then
      proc_ro = bwrap_proc_ro(bwrap, nsopts, opts, ctx.tmp .. "/bwrap-proc.out")
      if not proc_ro then return false end
    end
    if not proc_ro[m] and exists(m) then add("--ro-bind", m, m) end
    return true
  end
  for line in explain:gmatch("[^\n]+") do
    local what, rest = line:match("^(%w+): (.*)$")
    if what == "namespaces" then
      for n in rest:gmatch("%S+") do
        if n == "cgroup" or n == "ipc" or n == "net" or n == "pid" or n == "user" or n == "uts" then
          add("--unshare-" .. n)
          nsopts[#nsopts + 1] = "--unshare-" .. n
        elseif n ~= "mnt" then return nil, "namespace " .. n end
      end
    elseif what == "identity" then
      -- the caller's ids, or a user namespace mapping one or two ids
      -- without helpers (bwrap maps one: the caller's)
      -- (a privileged slot is not said: bwrap as root would map host root)
      local u, g = rest:match("; inside uid (%d+) gid (%d+);")
      local one = rest:match("^rootless user namespace;") and rest:match("; uid map %d+ %d+ 1; gid map %d+ %d+ 1;")
      if u and one and not rest:find("newuidmap", 1, true) then
        add("--uid", u, "--gid", g)
      elseif rest ~= "host (no user namespace; runs with the caller's ids)" then
        return nil, line
      end
    elseif what == "hostname" then add("--hostname", rest)
    elseif what == "network" then
      if rest ~= "host" and rest ~= "lo up" then return nil, line end
    elseif what == "mount" then
      local src, dst, how = rest:match("^mount host:(%S+) on (%S+) %[(bind[%w,]*)%]$")
      if src then
        flush()
        -- (a node --dev makes is left to it; another bind under /dev is
        -- not said here; bwrap's other binds are recursive)
        local node = dst:match("^/dev/(%w+)$")
        local made = dev and node and src == dst and how == "bind" and DEV_NODES[node]
        if not made and (dst:match("^/dev/") or how ~= "bind,rec") then return nil, line end
        if not made then pending_bind = { src, dst } end
      elseif rest == "set nodev,nosuid,rdonly on /" then
        flush(); add("--remount-ro", "/")
      elseif pending_bind and (rest == ("set nodev,nosuid,rdonly on %s (recursive)"):format(pending_bind[2])) then
        pending_bind[3] = true
      else
        flush()
        if not other_mount(rest) then return nil, line end
      end
    elseif what == "capabilities" then
      if rest ~= "none" then return nil, line end
      add("--cap-drop", "ALL")
    elseif what == "seccomp" then
      if rest ~= "default" then return nil, line end
      if not ctx.default_bpf then return nil, "nslua's default seccomp program: " .. tostring(ctx.bpf_err) end
      add("--seccomp", "3")
    elseif what == "env" then env[#env + 1] = rest
    elseif what == "cwd" then add("--chdir", rest)
    elseif what == "exec" then cmd = rest
    -- (core dumps off: bwrap has no option for it; one prlimit call)
    elseif not (what == "rlimit" and rest == "core = 0") then return nil, line end
  end
  flush()
  if not cmd or cmd:find("%s") then return nil, "exec: " .. tostring(cmd) end
  add("--clearenv")
  for _, kv in ipairs(env) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    add("--setenv", k, v)
  end
  add(cmd)
  return argv
end

local function cli_tools(ctx, s)
  if s == "S2V" then return veth_tools(ctx) end
  local T, root, lua = ctx.tmp, ctx.root, ctx.lua
  local rootless = s == "S3"
  local opts = rootless and { uid = ROOTLESS_ID, gid = ROOTLESS_ID, cwd = "/tmp", env = ctx.env3 } or {}
  local needs_root = (s == "S4" or s == "S5") and ctx.no_root
  local function r(t) if s == "S4" or s == "S5" then t[#t + 1] = "-r"; t[#t + 1] = root end return t end

  local base = { name = "limit", argv = r{ T .. "/limit", "-s", s }, opts = opts, missing = needs_root }
  local tools = {}
  local function add(name, argv, missing, o)
    tools[#tools + 1] = { name = name, argv = argv, opts = o or opts, missing = missing or needs_root }
  end
  add("limit -p", r{ T .. "/limit", "-s", s, "-p" })
  add("lua best", r{ lua, T .. "/best.lua", s, "-p" })

  local nsl = rootless and (T .. "/tree") or TOP
  local nargs = ({
    S1 = { "--user", "host", "--net", "host" },
    S2 = { "--user", "host" },
    S3 = {},
    S4 = { "--user", "host", "--rootfs", root },
    S5 = { "--memory", "256M", "--pids", "64", "--time", "10" },
  })[s]
  local argv = ctx.nslua(nsl, "run")
  for _, a in ipairs(nargs) do argv[#argv + 1] = a end
  argv[#argv + 1] = "--"
  argv[#argv + 1] = "/bin/true"
  add("nslua run", argv)

  local bwrap, unshare, crun = which("bwrap"), which("unshare"), which("crun")
  -- the same sandbox in bwrap (S1-S3: S4's root and S5's cgroups have no
  -- bwrap option), from what `nslua explain` says of nslua run's
  if s == "S1" or s == "S2" or s == "S3" then
    local missing = needs_root or (not bwrap and "bwrap not found (scripts/deps.sh --bench)")
    local like
    if not missing then
      local ex = ctx.nslua(nsl, "explain")
      for _, a in ipairs(nargs) do ex[#ex + 1] = a end
      ex[#ex + 1] = "--"
      ex[#ex + 1] = "/bin/true"
      local out = T .. "/explain.out"
      local dt, how, code = bench.spawn(ex, with(opts, { stdout = out, timeout = TIMEOUT }))
      local text = readfile(out)
      os.remove(out)
      if not (dt and how == "exited" and code == 0 and text) then
        missing = "nslua explain failed"
      else
        like, missing = bwrap_like(ctx, text, bwrap, opts)
        if not like then missing = "cannot say in bwrap's options: " .. tostring(missing) end
      end
    end
    add("bwrap like", like or { "bwrap" }, missing, with(opts, { fd3 = ctx.default_bpf }))
  end

  local nolimits = s == "S5" and "no cgroup limits (n/a)" or nil
  local b = { bwrap or "bwrap", "--unshare-pid", "--unshare-ipc", "--unshare-uts" }
  if s ~= "S1" then b[#b + 1] = "--unshare-net" end
  if s == "S3" then b[#b + 1] = "--unshare-user" end
  for _, a in ipairs(s == "S4" and { "--bind", root, "/" } or { "--dev-bind", "/", "/" }) do b[#b + 1] = a end
  for _, a in ipairs{ "--proc", "/proc", "--hostname", "x", "/bin/true" } do b[#b + 1] = a end
  add("bwrap", b, nolimits or (not bwrap and "bwrap not found (scripts/deps.sh --bench)"))
  -- the same command line through nslua's bubblewrap front end (docs/bwrap.md)
  local nb = ctx.nslua(nsl, "bwrap")
  for i = 2, #b do nb[#nb + 1] = b[i] end
  add("nslua bwrap", nb, nolimits)

  local u = { unshare or "unshare" }
  if s == "S3" then u[#u + 1] = "--user"; u[#u + 1] = "--map-root-user" end
  for _, a in ipairs{ "--pid", "--fork", "--mount-proc", "--uts", "--ipc" } do u[#u + 1] = a end
  if s ~= "S1" then u[#u + 1] = "--net" end
  if s == "S4" then u[#u + 1] = "--root=" .. root end
  u[#u + 1] = "/bin/true"
  add("unshare", u, nolimits or (not unshare and "unshare not found (util-linux)"))

  if s == "S5" then
    local copts = {}
    -- crun 1.8 refuses a cgroup2 mount with controllers next to v1: hide it
    local mi = readfile("/proc/self/mountinfo") or ""
    if mi:match(" /sys/fs/cgroup/unified [^\n]* %- cgroup2 ") then
      copts.tmpfs_over = "/sys/fs/cgroup/unified"
    end
    add("crun", { crun or "crun", "--root", T .. "/bundle/state", "run", "--bundle",
                  T .. "/bundle", ctx.crun_id },
        (not crun and "crun not found (scripts/deps.sh --bench)") or ctx.no_crun, copts)
  end
  return base, tools
end

-- ISO: isolate's cycle on one box, --init, --run -- /bin/true, --cleanup,
-- a step a command as judges run it.  `nslua judge` has one step, the run
-- (the baseline before `nslua isolate`).  Every tool gets one environment:
-- nslua's box root is the temp dir's (NSLUA_ISOLATE_ROOT, which the front
-- end honours); real isolate keeps the root of the config it was built with.
local ISOLATE_HINT <const> = "set ISOLATE=/path/to/isolate (not packaged by Debian)"
local ISO_MEM_KB <const> = 262144  -- --cg-mem: a memory cgroup really used

local function iso_tools(ctx)
  local opts = { env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                         "NSLUA_ISOLATE_ROOT=" .. ctx.iso_root } }
  local box = tostring(ctx.iso_box)
  local function cycle(name, prefix, cg, missing)
    local function step(kind, ...)
      local argv = { table.unpack(prefix) }
      for _, a in ipairs(cg and { "--cg", "-b", box } or { "-b", box }) do argv[#argv + 1] = a end
      for _, a in ipairs{ ... } do argv[#argv + 1] = a end
      return { step = kind, argv = argv }
    end
    local run = cg and step("run", ("--cg-mem=%d"):format(ISO_MEM_KB), "--run", "--", "/bin/true")
      or step("run", "--run", "--", "/bin/true")
    return { name = name, opts = opts, missing = missing,
             steps = { step("init", "--init"), run, step("cleanup", "--cleanup") } }
  end
  local tools = {}
  local env = os.getenv("ISOLATE")
  local isolate = env and env ~= "" and (env:find("/", 1, true) and env or which(env))
  local missing = (not env or env == "") and ISOLATE_HINT
    or (not (isolate and sh("test -f " .. q(isolate) .. " -a -x " .. q(isolate)))
        and ("ISOLATE=%s is not an executable file"):format(env))
    or nil
  tools[#tools + 1] = cycle("isolate", { isolate or env or "isolate" }, false, missing)
  if env and env ~= "" then
    tools[#tools + 1] = cycle("isolate --cg", { isolate or env }, true, missing)
  end
  tools[#tools + 1] = cycle("nslua isolate", ctx.nslua(TOP, "isolate"), false)
  tools[#tools + 1] = cycle("nslua isolate --cg", ctx.nslua(TOP, "isolate"), true)
  tools[#tools + 1] = { name = "nslua judge", opts = opts,
                        steps = { { step = "run", argv = ctx.nslua(TOP, "judge", "--", "/bin/true") } } }
  return tools
end

local function api_tools(ctx, s)
  local T, root, lua = ctx.tmp, ctx.root, ctx.lua
  local rootless = s == "S3"
  local opts = rootless and { uid = ROOTLESS_ID, gid = ROOTLESS_ID, cwd = "/tmp", env = ctx.env3 } or {}
  local needs_root = (s == "S4" or s == "S5") and ctx.no_root
  local function r(t) if s == "S4" or s == "S5" then t[#t + 1] = "-r"; t[#t + 1] = root end return t end
  local base = { name = "limit loop -p", argv = r{ T .. "/limit", "-s", s, "-p", "-n", "N" },
                 opts = opts, missing = needs_root }
  local tools = {
    { name = "limit loop", argv = r{ T .. "/limit", "-s", s, "-n", "N" }, opts = opts, missing = needs_root },
    { name = "lua best loop -p", argv = r{ lua, T .. "/best.lua", s, "-p", "-n", "N" }, opts = opts,
      missing = needs_root },
    { name = "nslua API", argv = { lua, T .. "/api.lua", rootless and (T .. "/tree") or TOP, s, "N",
                                   root }, opts = opts, missing = needs_root },
  }
  -- the warm pool (nslua.pool): S5's sandbox with its cgroups and network
  -- namespace kept between runs (a pool needs root and a user namespace)
  if s == "S5" then
    tools[#tools + 1] = { name = "nslua pool", argv = { lua, T .. "/api.lua", TOP, s, "N", root, "pool" },
                          opts = opts, missing = needs_root }
  end
  return base, tools
end

-- ---------------------------------------------------------------- running

local function first_line(path)
  local s = readfile(path) or ""
  return s:match("[^\n]+")
end

-- run once, capturing stderr: nil when it worked, else the reason
local function probe(ctx, tool, argv)
  local err = ctx.tmp .. "/probe.err"
  local dt, how, code = bench.spawn(argv or tool.argv, with(tool.opts, { stderr = err, timeout = TIMEOUT }))
  if not dt then return how end
  if how == "exited" and code == 0 then return nil end
  local line = first_line(err)
  os.remove(err)
  return ("%s %d%s"):format(how == "exited" and "exit" or "signal", code,
                           line and (": " .. line) or "")
end

local function run_cmd(tool)
  local dt, how, code, rss, cpu, cpu_how = bench.spawn(tool.argv, with(tool.opts, { timeout = TIMEOUT }))
  if not dt then return nil, how end
  if how ~= "exited" or code ~= 0 then return nil, ("%s %d"):format(how, code) end
  if cpu_how ~= "task-clock" then tool.cpu_rusage = true end
  return dt, rss, cpu
end

-- A B A B: the per-pair ratio B/A, B's time and peak RSS
local function measure_cli(opts, base, tool)
  for _ = 1, opts.warmup do
    local ok, err = run_cmd(base)
    if not ok then return nil, "limit: " .. err end
    ok, err = run_cmd(tool)
    if not ok then return nil, err end
  end
  local ratios, times, rss, bases, cpus, base_cpus = {}, {}, {}, {}, {}, {}
  for i = 1, opts.pairs do
    -- A B, then B A: whichever runs second in a pair gets no systematic edge
    local ta, err, tb, rb, ca, cb
    if i % 2 == 0 then tb, rb, cb = run_cmd(tool) end
    ta, err, ca = run_cmd(base)
    if not ta then return nil, ("limit failed at pair %d: %s"):format(i, err) end
    if i % 2 == 1 then tb, rb, cb = run_cmd(tool) end
    if not tb then return nil, ("failed at pair %d: %s"):format(i, rb) end
    ratios[i], times[i], rss[i], bases[i] = tb / ta, tb * 1000, rb, ta * 1000
    cpus[i], base_cpus[i] = cb * 1000, ca * 1000
  end
  return { ratio = summary(ratios), ms = summary(times), rss_kb = median(rss), base_ms = bases,
           cpu_ms = summary(cpus), base_cpu_ms = base_cpus, cpu_rusage = tool.cpu_rusage }
end

local function loop_argv(tool, n)
  local argv = {}
  for i, a in ipairs(tool.argv) do argv[i] = a == "N" and tostring(n) or a end
  return argv
end

-- a loop's runs/s from its stdout ("... R runs/s")
local function run_loop(ctx, tool, n)
  local argv = loop_argv(tool, n)
  local out = ctx.tmp .. "/loop.out"
  local dt, how, code = bench.spawn(argv, with(tool.opts, { stdout = out, timeout = 10 * TIMEOUT }))
  if not dt then return nil, how end
  local rps = tonumber((readfile(out) or ""):match("([%d.]+) runs/s"))
  os.remove(out)
  if how ~= "exited" or code ~= 0 or not rps then
    return nil, ("%s %d"):format(how, code)
  end
  return rps
end

local function measure_api(ctx, opts, base, tool)
  local ratios, rates, bases = {}, {}, {}
  -- the first pair is the warm-up
  for i = 0, opts.api_pairs do
    local ra, err, rb, errb
    if i % 2 == 0 then rb, errb = run_loop(ctx, tool, opts.loop) end
    ra, err = run_loop(ctx, base, opts.loop)
    if not ra then return nil, "limit loop: " .. err end
    if i % 2 == 1 then rb, errb = run_loop(ctx, tool, opts.loop) end
    if not rb then return nil, ("failed at pair %d: %s"):format(i, errb) end
    if i > 0 then ratios[i], rates[i], bases[i] = rb / ra, rb, ra end
  end
  return { ratio = summary(ratios), rps = summary(rates), base_rps = bases }
end

local function progress(fmt, ...)
  io.stderr:write(fmt:format(...))
  io.stderr:flush()
end

-- ISO: one cycle, every step timed -> {step = ms}, the cycle's ms (the sum)
local function run_cycle(tool)
  local t, total = {}, 0
  for _, st in ipairs(tool.steps) do
    local dt, err = run_cmd({ argv = st.argv, opts = tool.opts })
    if not dt then return nil, ("%s: %s"):format(st.step, err) end
    t[st.step] = dt * 1000
    total = total + dt * 1000
  end
  return t, total
end

-- a failed cycle may have left the box initialised: its cleanup, unchecked
local function iso_cleanup(tool)
  local last = tool.steps[#tool.steps]
  if last.step == "cleanup" then bench.spawn(last.argv, with(tool.opts, { timeout = TIMEOUT })) end
end

-- true when a box directory is still there after its --cleanup (recorded
-- once, for the leftovers check)
local function box_left(ctx, dir)
  if not (dir and sh("test -e " .. q(dir))) then return false end
  if not ctx.left_boxes[dir] then
    ctx.left_boxes[dir] = true
    ctx.left_boxes[#ctx.left_boxes + 1] = dir
  end
  return true
end

-- The first cycle, each step with its stderr: nil when it worked, else the
-- reason.  --init prints the box's directory, which --cleanup must remove.
local function probe_cycle(ctx, tool)
  local out = ctx.tmp .. "/probe.out"
  for _, st in ipairs(tool.steps) do
    local why = probe(ctx, { opts = with(tool.opts, { stdout = st.step == "init" and out or nil }) }, st.argv)
    if why then
      iso_cleanup(tool)
      return ("%s: %s"):format(st.step, why)
    end
    if st.step == "init" then
      tool.box_dir = (readfile(out) or ""):match("^(/[^\n]*)")
      os.remove(out)
    end
  end
  if box_left(ctx, tool.box_dir) then return "--cleanup left " .. tool.box_dir end
  return nil
end

-- N cycles of every tool, the tools in turn (A B, then B A: each takes each
-- place as often), a pause before each cycle: judges pause between tests,
-- and what a back-to-back loop keeps warm (a cgroup joined a moment ago, the
-- page cache of the box, a CPU's caches) is then paid as a judge pays it.
local function measure_iso(opts, tools)
  local live = {}
  for _, tool in ipairs(tools) do
    if not tool.missing then
      live[#live + 1] = tool
      tool.ms = { cycle = {} }
      for _, st in ipairs(tool.steps) do tool.ms[st.step] = {} end
    end
  end
  for i = 1 - opts.warmup, opts.pairs do
    local order = {}
    for k = 1, #live do order[k] = live[i % 2 == 1 and k or #live + 1 - k] end
    for _, tool in ipairs(order) do
      if not tool.missing then
        bench.sleep(opts.iso_pause / 1000)
        local t, total = run_cycle(tool)
        if not t then
          tool.missing = i > 0 and ("failed at cycle %d: %s"):format(i, total)
            or ("failed in the warm-up: %s"):format(total)
          iso_cleanup(tool)
        elseif i > 0 then
          for k, v in pairs(t) do tool.ms[k][i] = v end
          tool.ms.cycle[i] = total
        end
      end
    end
  end
end

local function run_iso(ctx, opts, results)
  local tools = iso_tools(ctx)
  for _, tool in ipairs(tools) do
    tool.missing = tool.missing or probe_cycle(ctx, tool)
  end
  progress("ISO %d tools x %d cycles ...\n", #tools, opts.warmup + opts.pairs)
  measure_iso(opts, tools)
  for _, tool in ipairs(tools) do
    local argv = {}
    for _, st in ipairs(tool.steps) do argv[st.step] = st.argv end
    local row = { scenario = "ISO", tool = tool.name, argv = argv, box = tool.box_dir, missing = tool.missing }
    if box_left(ctx, tool.box_dir) and not row.missing then
      row.missing = "--cleanup left " .. tool.box_dir
    end
    if not row.missing then
      row.ms = {}
      for k, v in pairs(tool.ms) do row.ms[k] = summary(v) end
      progress("ISO %-18s cycle %.2f ms\n", tool.name, row.ms.cycle.median)
    else
      progress("ISO %-18s %s\n", tool.name, row.missing)
    end
    results.iso[#results.iso + 1] = row
  end
end

-- OCI (issue 15): three pairs, each the runtime nslua-oci stands in for (A)
-- against nslua-oci (B), in turn (A B, then B A) with a pause before each
-- run, as ISO pauses: podman `run --rm IMAGE /bin/true` with `--runtime
-- runc` and with `--runtime nslua-oci` (podman dominates; issue 15 asks
-- for no slower than runc), and `RUNTIME run --bundle B ID` of a busybox
-- bundle (`runc spec`'s config.json), crun and runc each against nslua-oci.  podman gets
-- its own storage and config under the temp dir (spec/support/oci.lua, as
-- spec/oci/ does), the image is a busybox root imported there: nothing is
-- pulled, no network.  A missing podman or nslua-oci is a missing row.
local function oci_support()
  local path = package.path
  package.path = TOP .. "/spec/?.lua;" .. path
  local ok, oci = pcall(require, "support.oci")
  package.path = path
  if not ok then return nil, "spec/support/oci.lua: " .. tostring(oci) end
  return oci
end

local function oci_tools(ctx)
  local T = ctx.tmp .. "/oci"
  local oci, err = oci_support()
  local rt, rt_missing
  if oci then rt, rt_missing = oci.runtime(TOP) else rt_missing = err end
  local runtime = rt or (TOP .. "/scripts/nslua-oci")
  -- the bundle's container (and so its cgroup, where the runtime puts it)
  -- and podman's cgroup parent: nslua-bench-* names, as leftovers() looks
  local id = "nslua-bench-" .. ctx.id .. "-run"
  ctx.oci = { T = T, oci = oci, parent = "/nslua-bench-" .. ctx.id .. "-podman" }
  local env = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root" }
  local tools = {}

  local podman = which("podman")
  local pm_missing = (not oci and err) or (not podman and "podman not found (scripts/deps.sh --oci)") or nil
  if not pm_missing then
    local ok, why = pcall(function()
      assert(sh("mkdir -p " .. q(T)))
      -- (podman checks --runtime even to import: runc's when nslua-oci is missing)
      local prefix = oci.podman_setup(T, rt or which("runc") or runtime)
      oci.podman_image(TOP, T, prefix)
      ctx.oci.podman = prefix
    end)
    if not ok then pm_missing = "podman set-up: " .. tostring(why):gsub("%s+$", ""):gsub("\n", " ") end
  end
  local function podman_run(runtime_path, missing)
    local penv, args = {}, {}
    if oci then penv, args = oci.podman_argv(T, runtime_path) end
    local e = { table.unpack(env) }
    for _, v in ipairs(penv) do e[#e + 1] = v end
    for _, a in ipairs { "run", "--rm", "--network", "none", "--pull=never", "--cgroup-parent", ctx.oci.parent,
                         oci and oci.IMAGE or "?", "/bin/true" } do
      args[#args + 1] = a
    end
    return { argv = args, opts = { env = e }, missing = missing }
  end
  local runc = which("runc")
  local a = podman_run(runc or "runc", pm_missing or (not runc and "runc not found (scripts/deps.sh --oci)"))
  a.name = "podman --runtime runc"
  local b = podman_run(runtime, pm_missing or rt_missing)
  b.name = "podman --runtime nslua-oci"
  tools[#tools + 1] = { name = "podman run --rm", a = a, b = b }

  local crun = which("crun")
  local bundle = T .. "/bundle"
  local bd_missing = not oci and err or nil
  if not bd_missing then
    local ok, why = pcall(oci.bundle, TOP, bundle, { "/bin/true" })
    if not ok then bd_missing = "bundle: " .. tostring(why) end
  end
  -- crun 1.8 refuses a cgroup2 mount with controllers next to v1: hide it
  -- (as S5 does)
  local copts = { env = env }
  if (readfile("/proc/self/mountinfo") or ""):match(" /sys/fs/cgroup/unified [^\n]* %- cgroup2 ") then
    copts.tmpfs_over = "/sys/fs/cgroup/unified"
  end
  tools[#tools + 1] = { name = "run --bundle",
    a = { name = "crun run", argv = { crun or "crun", "--root", T .. "/state-crun", "run", "--bundle", bundle, id },
          opts = copts, missing = bd_missing or (not crun and "crun not found (scripts/deps.sh --bench)") },
    b = { name = "nslua-oci run", argv = { runtime, "--root", T .. "/state-nslua", "run", "--bundle", bundle, id },
          opts = { env = env }, missing = bd_missing or rt_missing } }
  tools[#tools + 1] = { name = "run --bundle (runc)",
    a = { name = "runc run", argv = { runc or "runc", "--root", T .. "/state-runc", "run", "--bundle", bundle, id },
          opts = { env = env }, missing = bd_missing or (not runc and "runc not found (scripts/deps.sh --oci)") },
    b = { name = "nslua-oci run", argv = { runtime, "--root", T .. "/state-nslua", "run", "--bundle", bundle, id },
          opts = { env = env }, missing = bd_missing or rt_missing } }
  return tools
end

-- A paced pair (OCI, S5I): A and B in turn (A B, then B A), 'pause' ms
-- before each run -> A's and B's ms and the per-pair ratios B/A
local function measure_paced(opts, a, b, pause)
  local ta, tb, ratios = {}, {}, {}
  for i = 1 - opts.warmup, opts.pairs do
    local got = {}
    for _, tool in ipairs(i % 2 == 1 and { a, b } or { b, a }) do
      if not tool.missing then
        bench.sleep(pause / 1000)
        local dt, err = (tool.run or run_cmd)(tool, i > 0)
        if dt then
          got[tool] = dt * 1000
        else
          tool.missing = i > 0 and ("failed at pair %d: %s"):format(i, err)
            or ("failed in the warm-up: %s"):format(err)
        end
      end
    end
    if i > 0 then
      ta[#ta + 1], tb[#tb + 1] = got[a], got[b]
      if got[a] and got[b] then ratios[#ratios + 1] = got[b] / got[a] end
    end
  end
  return ta, tb, ratios
end

-- a paced pair's rows: A the baseline, B with its ratios (a tool's own
-- 'run' replaces run_cmd: it gets the tool and whether this run counts)
local function paced_rows(ctx, opts, scenario, a, b, pause)
  for _, tool in ipairs { a, b } do
    tool.missing = tool.missing or probe(ctx, tool)
  end
  progress("%s %-16s %d pairs ...\n", scenario, a.name .. " / " .. b.name, opts.warmup + opts.pairs)
  local ta, tb, ratios = measure_paced(opts, a, b, pause)
  local ra = { scenario = scenario, tool = a.name, argv = a.argv, baseline = true,
               missing = a.missing, ms = not a.missing and summary(ta) or nil }
  local rb = { scenario = scenario, tool = b.name, argv = b.argv,
               missing = b.missing, ms = not b.missing and summary(tb) or nil,
               ratio = #ratios > 0 and summary(ratios) or nil }
  for _, r in ipairs { ra, rb } do
    if r.missing then progress("%s %-28s %s\n", scenario, r.tool, r.missing)
    else progress("%s %-28s %.2f ms\n", scenario, r.tool, r.ms.median) end
  end
  return ra, rb
end

-- what OCI's podman left: containers, mounts under its dir, its cgroups
local function oci_cleanup(ctx)
  local o = ctx.oci
  if not (o and o.oci) then return end
  if o.podman then
    local ok, out = sh(o.podman .. " ps -a -q")
    if ok and out:match("%S") then ctx.left_oci[#ctx.left_oci + 1] = "podman containers: " .. out:gsub("%s+", " ") end
    sh(o.podman .. " rm -a -f -t 0")
    sh(o.podman .. " rmi -a -f")
  end
  for _, m in ipairs(o.oci.mounts_under(o.T)) do ctx.left_oci[#ctx.left_oci + 1] = "mount: " .. m end
  for _, p in ipairs(o.oci.procs_under(o.T)) do ctx.left_oci[#ctx.left_oci + 1] = "process: " .. p end
  o.oci.cgroup_remove(o.parent)
end

local function run_oci(ctx, opts, results)
  local ok, tools = pcall(oci_tools, ctx)
  if not ok then
    results.oci[#results.oci + 1] = { scenario = "OCI", tool = "set-up", missing = tostring(tools) }
    return
  end
  for _, pair in ipairs(tools) do
    local ra, rb = paced_rows(ctx, opts, "OCI", pair.a, pair.b, opts.oci_pause)
    ra.pair, rb.pair = pair.name, pair.name
    results.oci[#results.oci + 1] = ra
    results.oci[#results.oci + 1] = rb
  end
  oci_cleanup(ctx)
end

-- MEM: a pool's 1,000 runs in one process (api.lua poolmem)
local MEM_RUNS <const> = 1000
local function run_mem(ctx, _, results)
  if ctx.no_root then
    results.mem = { missing = ctx.no_root }
    return
  end
  local out = ctx.tmp .. "/poolmem.out"
  progress("MEM a pool's %d runs ...\n", MEM_RUNS)
  local dt, how, code = bench.spawn({ ctx.lua, ctx.tmp .. "/api.lua", TOP, "S5", tostring(MEM_RUNS), ctx.root,
                                      "poolmem" }, { stdout = out, stderr = "inherit", timeout = 10 * TIMEOUT })
  local text = readfile(out) or ""
  os.remove(out)
  local r1, rw, rn, hw, hn = text:match("poolmem %d+ runs rss (%-?%d+) (%-?%d+) (%-?%d+) heap (%d+) (%d+)")
  if not (dt and how == "exited" and code == 0 and r1) then
    results.mem = { missing = ("api.lua poolmem: %s %s"):format(tostring(how), tostring(code)) }
    return
  end
  if tonumber(r1) < 0 or tonumber(rw) < 0 or tonumber(rn) < 0 then
    results.mem = { missing = "api.lua poolmem: no VmRSS in /proc/self/status" }
    return
  end
  results.mem = { runs = MEM_RUNS, warm = math.min(100, MEM_RUNS),
                  rss_kb = { first = tonumber(r1), warm = tonumber(rw), last = tonumber(rn) },
                  heap_kb = { warm = tonumber(hw), last = tonumber(hn) } }
end

-- S5I: S5's limit and `nslua run` (the S5 cells' own command lines), a
-- pause (--iso-pause) before each command, in turn: the cost of one
-- sandbox as a judge meets it between tests, the cgroups joined cold.
local function run_s5i(ctx, opts, results)
  local base, tools = cli_tools(ctx, "S5")
  local nsl
  for _, t in ipairs(tools) do
    if t.name == "nslua run" then nsl = t end
  end
  local ra, rb = paced_rows(ctx, opts, "S5I", base, nsl, opts.iso_pause)
  results.cli[#results.cli + 1] = ra
  results.cli[#results.cli + 1] = rb
end

-- JUDGE: what the judge adds to a test.  The program (judgeprog.c) busy-
-- loops 50 ms, writes 1 MiB on stdout and its own CLOCK_MONOTONIC start,
-- end and run time on stderr, which the judge puts in NAME.err.  `nslua
-- judge --tests` runs JUDGE_TESTS tests back to back (each lasts 50 ms,
-- longer than the ~25 ms in which joining a cgroup again is cheap, so no
-- pause between tests is needed); a single `nslua judge` run has one.  The
-- two commands take turns, a pause (--iso-pause) before each.  Per test:
-- the wall (the command's / tests), the overhead (that minus the program's
-- own time), the meta-file's time-wall minus the program's own time; for
-- --tests also the gap from one program's end to the next one's start.
local JUDGE_TESTS <const> = 20
local JUDGE_PROGRAM <const> = { ms = 50, bytes = 1 << 20 }

-- one test's figures from its files: nil, why when one is missing
local function judge_test(dir, name)
  local path = dir .. "/" .. name
  local a, b, own = (readfile(path .. ".err") or ""):match("^(%S+) (%S+) (%S+)")
  local tw = ("\n" .. (readfile(path .. ".meta") or "")):match("\ntime%-wall:(%S+)")
  if not (a and tw) then return nil, name .. ": no program times in .err or no time-wall in .meta" end
  return { start = tonumber(a), stop = tonumber(b), own = tonumber(own), tw = tonumber(tw) }
end

-- one judge command (its tests' files removed first), its samples kept
-- when 'keep' -> its wall seconds | nil, why
local function judge_run(tool, keep)
  for _, n in ipairs(tool.names) do
    os.remove(tool.dir .. "/" .. n .. ".err")
    os.remove(tool.dir .. "/" .. n .. ".meta")
  end
  local t0 = bench.now()
  local dt, err = run_cmd(tool)
  if not dt then return nil, err end
  local tests, own = {}, 0
  for i, n in ipairs(tool.names) do
    local t, why = judge_test(tool.dir, n)
    if not t then return nil, why end
    tests[i], own = t, own + t.own
  end
  if not keep then return dt end
  local s, n = tool.samples, #tests
  local function add(k, v) s[k][#s[k] + 1] = v * 1000 end
  add("wall", dt / n)
  add("overhead", (dt - own) / n)
  add("startup", tests[1].start - t0)
  add("tail", t0 + dt - tests[n].stop)
  for i, t in ipairs(tests) do
    add("own", t.own)
    add("timewall", t.tw - t.own)
    add("timewall_abs", math.abs(t.tw - t.own))
    if t.tw < t.own then s.below = s.below + 1 end
    if i > 1 then add("gap", t.start - tests[i - 1].stop) end
  end
  return dt
end

local function judge_tools(ctx)
  local dir = ctx.tmp .. "/judge"
  local tests, one = dir .. "/tests", dir .. "/one"
  local ok, out = sh(("mkdir -p %s %s"):format(q(tests), q(one)))
  assert(ok, out)
  local names = {}
  for i = 1, JUDGE_TESTS do
    names[i] = ("t%02d"):format(i)
    writefile(("%s/%s.in"):format(tests, names[i]), "")
  end
  writefile(one .. "/t.in", "")
  local function cmd(...)
    local t = ctx.nslua(TOP, "judge", ...)
    t[#t + 1] = "--"
    t[#t + 1] = ctx.tmp .. "/judgeprog"
    t[#t + 1] = tostring(JUDGE_PROGRAM.ms)
    t[#t + 1] = tostring(JUDGE_PROGRAM.bytes)
    return t
  end
  local function tool(name, d, n, argv)
    local s = { below = 0 }
    for _, k in ipairs { "wall", "overhead", "startup", "tail", "own", "timewall", "timewall_abs", "gap" } do
      s[k] = {}
    end
    return { name = name, argv = argv, opts = {}, dir = d, names = n, samples = s, run = judge_run }
  end
  local f = one .. "/t"
  return tool("nslua judge --tests", tests, names, cmd("--tests", tests)),
    tool("nslua judge", one, { "t" },
      cmd("--stdin", f .. ".in", "--stdout", f .. ".out", "--stderr", f .. ".err", "--meta", f .. ".meta"))
end

local function run_judge(ctx, opts, results)
  local multi, single = judge_tools(ctx)
  local rows = { paced_rows(ctx, opts, "JUDGE", multi, single, opts.iso_pause) }
  for k, tool in ipairs { multi, single } do
    local row = rows[k]
    row.ratio, row.baseline, row.ms = nil, nil, nil
    if not row.missing then
      for key, v in pairs(tool.samples) do
        if type(v) == "table" and #v > 0 then row[key .. "_ms"] = summary(v) end
      end
      row.below, row.n = tool.samples.below, #tool.samples.own
    end
  end
  results.judge = { tests = JUDGE_TESTS, program = JUDGE_PROGRAM, rows = rows }
end

-- NOTIFY: one sandbox per measurement (the API in this process), the
-- payload counting its own calls per second; pairs alternate the order.
local NOTIFY_CALLS <const> = 200000
local function run_notify(_, opts, results)
  package.path = TOP .. "/lua/?.lua;" .. TOP .. "/lua/?/init.lua;" .. package.path
  package.cpath = TOP .. "/build/?.so;" .. package.cpath
  local nslua = require "nslua"
  local prog = OUT .. "/syscalls"
  -- "handled": getppid goes to a `true` handler; "other": a handler for
  -- uname only (what an unhandled call pays for the second filter);
  -- "none": the default profile alone
  local profiles = {
    handled = { base = "default", notify = { getppid = function() return true end } },
    other = { base = "default", notify = { uname = function() return true end } },
    none = "default",
  }
  local function once(kind)
    local out = os.tmpname()
    local c = nslua.container { argv = { "/syscalls", tostring(NOTIFY_CALLS) },
      mounts = { { type = "bind", source = prog, target = "/syscalls" } },
      stdio = { stdout = out },
      seccomp = profiles[kind] }
    local rep, err = c:run()
    local text = readfile(out) or ""
    os.remove(out)
    if not rep or rep.status ~= "exited" or rep.exit_code ~= 0 then
      return nil, tostring(err or rep.status)
    end
    return tonumber(text:match("^%d+ (%d+)"))
  end
  local rates = { handled = {}, other = {}, none = {} }
  progress("NOTIFY %d rounds of %d getppid calls ...\n", opts.warmup + opts.pairs, NOTIFY_CALLS)
  for i = 1, opts.warmup + opts.pairs do
    local order = i % 2 == 0 and { "handled", "other", "none" } or { "none", "other", "handled" }
    for _, kind in ipairs(order) do
      local r, err = once(kind)
      if not r then
        results.notify = { missing = err }
        return
      end
      if i > opts.warmup then table.insert(rates[kind], r) end
    end
  end
  local ratio, other = {}, {}
  for k = 1, #rates.handled do
    ratio[k] = rates.handled[k] / rates.none[k]
    other[k] = rates.other[k] / rates.none[k]
  end
  results.notify = { handled = summary(rates.handled), unhandled = summary(rates.none),
                     other = summary(rates.other), ratio = summary(ratio),
                     other_ratio = summary(other), calls = NOTIFY_CALLS }
end

local function run_scenario(ctx, opts, s, results)
  if s == "ISO" then return run_iso(ctx, opts, results) end
  if s == "NOTIFY" then return run_notify(ctx, opts, results) end
  if s == "OCI" then return run_oci(ctx, opts, results) end
  if s == "S5I" then return run_s5i(ctx, opts, results) end
  if s == "MEM" then return run_mem(ctx, opts, results) end
  if s == "JUDGE" then return run_judge(ctx, opts, results) end
  local base, tools = cli_tools(ctx, s)
  local base_missing = base.missing or probe(ctx, base)
  local limit_row = { scenario = s, tool = base.name, argv = base.argv, baseline = true }
  results.cli[#results.cli + 1] = limit_row
  local all_base, all_base_cpu = {}, {}
  if base_missing then
    limit_row.missing = base_missing
  end
  for _, tool in ipairs(tools) do
    local row = { scenario = s, tool = tool.name, argv = tool.argv }
    results.cli[#results.cli + 1] = row
    row.missing = tool.missing or (base_missing and "the limit failed") or probe(ctx, tool)
    if not row.missing then
      progress("%s %-10s ", s, tool.name)
      local m, err = measure_cli(opts, base, tool)
      if m then
        row.ratio, row.ms, row.rss_kb, row.cpu_ms, row.cpu_rusage = m.ratio, m.ms, m.rss_kb, m.cpu_ms, m.cpu_rusage
        for _, v in ipairs(m.base_ms) do all_base[#all_base + 1] = v end
        for _, v in ipairs(m.base_cpu_ms) do all_base_cpu[#all_base_cpu + 1] = v end
        progress("%.2fx\n", m.ratio.median)
      else
        row.missing = err
        progress("%s\n", err)
      end
    end
  end
  if #all_base > 0 then limit_row.ms, limit_row.cpu_ms = summary(all_base), summary(all_base_cpu) end
  limit_row.cpu_rusage = base.cpu_rusage

  if opts.api_pairs == 0 or s == "S2V" then return end
  local abase, atools = api_tools(ctx, s)
  local abase_missing = abase.missing or probe(ctx, abase, loop_argv(abase, 1))
  local arow = { scenario = s, tool = abase.name, argv = loop_argv(abase, opts.loop), baseline = true,
                 missing = abase_missing }
  results.api[#results.api + 1] = arow
  local all_rps = {}
  for _, tool in ipairs(atools) do
    local row = { scenario = s, tool = tool.name, argv = loop_argv(tool, opts.loop) }
    results.api[#results.api + 1] = row
    row.missing = tool.missing or (abase_missing and "the limit failed")
      or probe(ctx, tool, loop_argv(tool, 1))
    if not row.missing then
      progress("%s %-16s ", s, tool.name)
      local m, err = measure_api(ctx, opts, abase, tool)
      if m then
        row.ratio, row.rps = m.ratio, m.rps
        for _, v in ipairs(m.base_rps) do all_rps[#all_rps + 1] = v end
        progress("%.2fx\n", m.ratio.median)
      else
        row.missing = err
        progress("%s\n", err)
      end
    end
  end
  if #all_rps > 0 then arow.rps = summary(all_rps) end
end

-- ---------------------------------------------------------------- output

local function fmt_ratio(r) return r and ("%.2f"):format(r.median) or "" end
local function fmt_range(r) return r and ("%.2f-%.2f"):format(r.min, r.max) or "" end
local function fmt_ms(r) return r and ("%.2f (%.2f-%.2f)"):format(r.median, r.min, r.max) or "" end
local function fmt_signed(r) return r and ("%+.2f (%+.2f to %+.2f)"):format(r.median, r.min, r.max) or "" end

local function tables(results)
  local cli = { head = { "scenario", "tool", "ratio", "min-max", "median ms", "cpu ms", "peak RSS KiB" },
                rows = {} }
  -- (rusage: perf events were refused, and the figure misses what the
  -- command left unreaped)
  local function cpu(r)
    return r.cpu_ms and ("%.2f%s"):format(r.cpu_ms.median, r.cpu_rusage and " (rusage)" or "") or ""
  end
  for _, r in ipairs(results.cli) do
    local row
    if r.missing then
      row = { r.scenario, r.tool, "missing: " .. r.missing, "", "", "", "" }
    elseif r.baseline then
      row = { r.scenario, r.tool, "1.00", "", r.ms and ("%.2f"):format(r.ms.median) or "", cpu(r), "" }
    else
      row = { r.scenario, r.tool, fmt_ratio(r.ratio), fmt_range(r.ratio),
              ("%.2f"):format(r.ms.median), cpu(r), r.rss_kb and ("%d"):format(r.rss_kb // 1) or "" }
    end
    cli.rows[#cli.rows + 1] = row
  end
  local api = { head = { "scenario", "in one process", "ratio", "min-max", "runs/s" }, rows = {} }
  for _, r in ipairs(results.api) do
    local row
    if r.missing then
      row = { r.scenario, r.tool, "missing: " .. r.missing, "", "" }
    elseif r.baseline then
      row = { r.scenario, r.tool, "1.00", "", r.rps and ("%.0f"):format(r.rps.median) or "" }
    else
      row = { r.scenario, r.tool, fmt_ratio(r.ratio), fmt_range(r.ratio), ("%.0f"):format(r.rps.median) }
    end
    api.rows[#api.rows + 1] = row
  end
  local iso = { head = { "scenario", "isolate's cycle", "init ms", "run ms", "cleanup ms", "cycle ms" },
                rows = {} }
  for _, r in ipairs(results.iso or {}) do
    local row
    if r.missing then
      row = { r.scenario, r.tool, "missing: " .. r.missing, "", "", "" }
    else
      row = { r.scenario, r.tool, fmt_ms(r.ms.init), fmt_ms(r.ms.run), fmt_ms(r.ms.cleanup), fmt_ms(r.ms.cycle) }
    end
    iso.rows[#iso.rows + 1] = row
  end
  local oci = { head = { "scenario", "engine / runtime", "ratio", "min-max", "median ms (min-max)" }, rows = {} }
  for _, r in ipairs(results.oci or {}) do
    local row
    if r.missing then
      row = { r.scenario, r.tool, "missing: " .. r.missing, "", "" }
    else
      row = { r.scenario, r.tool, r.baseline and "1.00" or fmt_ratio(r.ratio), fmt_range(r.ratio), fmt_ms(r.ms) }
    end
    oci.rows[#oci.rows + 1] = row
  end
  local judge = { head = { "scenario", "judge run", "wall ms", "overhead ms", "program ms",
                           "time-wall - program ms" }, rows = {} }
  for _, r in ipairs(results.judge and results.judge.rows or {}) do
    local row
    if r.missing then
      row = { "JUDGE", r.tool, "missing: " .. r.missing, "", "", "" }
    else
      row = { "JUDGE", r.tool, fmt_ms(r.wall_ms), fmt_ms(r.overhead_ms), fmt_ms(r.own_ms),
              fmt_signed(r.timewall_ms) }
    end
    judge.rows[#judge.rows + 1] = row
  end
  return cli, api, iso, oci, judge
end

local function print_text(t)
  local w = {}
  for i, h in ipairs(t.head) do w[i] = #h end
  for _, row in ipairs(t.rows) do
    for i, c in ipairs(row) do
      -- a long 'missing' reason does not widen its column
      if not c:match("^missing: ") then w[i] = math.max(w[i], #c) end
    end
  end
  local function line(row)
    local parts = {}
    for i, c in ipairs(row) do
      parts[i] = c .. (" "):rep(math.max(0, w[i] - #c))
    end
    print((table.concat(parts, "  "):gsub("%s+$", "")))
  end
  line(t.head)
  for _, row in ipairs(t.rows) do line(row) end
end

local function print_markdown(t)
  local function esc(c) return (c:gsub("|", "\\|")) end
  local head, sep = {}, {}
  for i, h in ipairs(t.head) do head[i] = esc(h); sep[i] = i <= 2 and "---" or "---:" end
  print("| " .. table.concat(head, " | ") .. " |")
  print("|" .. table.concat(sep, "|") .. "|")
  for _, row in ipairs(t.rows) do
    local r = {}
    for i, c in ipairs(row) do r[i] = esc(c) end
    print("| " .. table.concat(r, " | ") .. " |")
  end
end

local function report(results, opts)
  local m = results.machine
  local cli, api, iso, oci, judge = tables(results)
  local title = ("nslua bench, %s: Linux %s, %s x %d, %s; %d pairs after %d warm-up runs")
    :format(m.date, m.kernel, m.cpu, m.nproc or 0, m.lua, opts.pairs, opts.warmup)
  local p = opts.markdown and print_markdown or print_text
  print(opts.markdown and ("_" .. title .. "_") or title)
  if #cli.rows > 0 then
    print("")
    print("Per command: time relative to the limit as a command (median and range of the per-pair ratio),")
    print("median wall time, median CPU time (task-clock of the command and every process it started),")
    print("median peak RSS (wait4 ru_maxrss).  \"bwrap like\": bwrap building the sandbox `nslua explain` prints")
    print("for the same `nslua run` options (nslua's default seccomp program on --seccomp).")
    for _, s in ipairs(opts.scenarios) do
      if s == "S2V" then
        print("S2V: relative to `nslua run --user host` (lo only) instead: the extra cost of a veth,")
        print("both in a private network namespace of the runner's own.")
      elseif s == "S5I" then
        print(("S5I: S5's limit and `nslua run` in turn, %d pairs after %d warm-up pairs, a %d ms pause before")
          :format(opts.pairs, opts.warmup, opts.iso_pause))
        print("each command (as a judge runs tests); no peak RSS.")
      end
    end
    print("")
    p(cli)
  end
  if #iso.rows > 0 then
    print("")
    print(("ISO: isolate's cycle on box %s, `--init`, `--run -- /bin/true`, `--cleanup`, each step a command;")
      :format(math.tointeger(results.params.iso_box) or "?"))
    print(("%d cycles per tool after %d warm-up cycles, the tools in turn, %d ms pause before each cycle.")
      :format(opts.pairs, opts.warmup, opts.iso_pause))
    print("Wall time in ms, median (min-max); the cycle is the sum of its steps. `--cg` runs with")
    print(("`--cg-mem=%d`. `nslua judge -- /bin/true` has one step, its run (the baseline before isolate).")
      :format(ISO_MEM_KB))
    print("")
    p(iso)
  end
  if #oci.rows > 0 then
    print("")
    print(("OCI: each runtime paired with nslua-oci (A B, then B A), %d pairs after %d warm-up pairs, %d ms")
      :format(opts.pairs, opts.warmup, opts.oci_pause))
    print("pause before each run: `podman run --rm IMAGE /bin/true` (own storage, --network none) with runc")
    print("and with nslua-oci; `RUNTIME run --bundle B ID` of a busybox bundle, crun and runc each with nslua-oci.")
    print("Ratio: nslua-oci's time over its peer's (median and range of the per-pair ratio).")
    print("")
    p(oci)
  end
  if #judge.rows > 0 then
    local j = results.judge
    print("")
    print(("JUDGE: `nslua judge --tests DIR -- PROG` over %d tests and single runs, `nslua judge --stdin")
      :format(j.tests or 0))
    print(("--stdout --stderr --meta -- PROG`, in turn, %d times after %d warm-up runs, a %d ms pause before")
      :format(opts.pairs, opts.warmup, opts.iso_pause))
    print(("each command. PROG busy-loops %d ms from its main(), writes %d bytes to stdout and its own run")
      :format(j.program and j.program.ms or 0, j.program and j.program.bytes or 0))
    print("time to stderr. Per test, ms, median (min-max): the command's wall (over the tests), the overhead")
    print("(that minus the program's own time), the program's own time, the meta-file's time-wall minus it.")
    print("")
    p(judge)
    print("")
    for _, r in ipairs(j.rows) do
      if not r.missing then
        local t = r.gap_ms and ("between tests %s ms, "):format(fmt_ms(r.gap_ms)) or ""
        print(("  %s: %sbefore the %s %s ms, after %s %s ms;"):format(r.tool, t,
          r.gap_ms and "first test" or "program", fmt_ms(r.startup_ms), r.gap_ms and "the last" or "it",
          fmt_ms(r.tail_ms)))
        print(("    time-wall below the program's own time in %d of %d tests"):format(r.below or 0, r.n or 0))
      end
    end
  end
  local mem = results.mem
  if mem then
    print("")
    if mem.missing then
      print("MEM: not measured: " .. mem.missing)
    else
      local f = math.floor
      print(("MEM: one process running a pool's %d runs of S5 (api.lua poolmem). VmRSS after the first run,"):format(
        f(mem.runs)))
      print(("after run %d (until then the collector's headroom grows) and after the last; the Lua heap"):format(
        f(mem.warm)))
      print(("after a full collection at run %d and at the end."):format(f(mem.warm)))
      print("")
      print(("  VmRSS %d KiB, %d KiB, %d KiB: %+d KiB from the first run, %+d KiB from run %d"):format(
        f(mem.rss_kb.first), f(mem.rss_kb.warm), f(mem.rss_kb.last), f(mem.rss_kb.last - mem.rss_kb.first),
        f(mem.rss_kb.last - mem.rss_kb.warm), f(mem.warm)))
      print(("  Lua heap %d KiB, %d KiB"):format(f(mem.heap_kb.warm), f(mem.heap_kb.last)))
    end
  end
  local nt = results.notify
  if nt then
    print("")
    print(("NOTIFY: getppid calls per second in a sandbox, %d calls a run, %d rounds (handled, a handler")
      :format(nt.calls or 0, opts.pairs))
    print("for uname only, none; the order alternates). Handled: a Lua handler answering `true`.")
    print("")
    if nt.missing then
      print("  not measured: " .. nt.missing)
    else
      print(("  handled    %.0f calls/s (%.0f-%.0f)"):format(nt.handled.median, nt.handled.min, nt.handled.max))
      print(("  unhandled  %.0f calls/s (%.0f-%.0f)"):format(nt.unhandled.median, nt.unhandled.min,
        nt.unhandled.max))
      print(("  ratio      %.4f (%.4f-%.4f)"):format(nt.ratio.median, nt.ratio.min, nt.ratio.max))
      print(("  unhandled, with a handler for uname: %.0f calls/s, ratio %.3f (%.3f-%.3f)"):format(
        nt.other.median, nt.other_ratio.median, nt.other_ratio.min, nt.other_ratio.max))
    end
  end
  if #api.rows > 0 then
    print("")
    print(("In one process: runs/s of %d-sandbox loops relative to the limit's loop with nslua's process")
      :format(opts.loop))
    print(("structure (median and range over %d pairs; higher is better)."):format(opts.api_pairs))
    print("")
    p(api)
  end
  if #results.leftovers > 0 then
    print("")
    print("WARNING: this run left on the host:\n  " .. table.concat(results.leftovers, "\n  "))
  end
  if #results.appeared > 0 then
    io.stderr:write("run.lua: note: host objects appeared during the run (a concurrent run may own them):\n  ",
      table.concat(results.appeared, "\n  "), "\n")
  end
end

-- a minimal JSON encoder, for machines without lua-cjson
local function to_json(v)
  local t = type(v)
  if t == "table" then
    if #v > 0 or next(v) == nil then
      local parts = {}
      for i, x in ipairs(v) do parts[i] = to_json(x) end
      return "[" .. table.concat(parts, ",") .. "]"
    end
    local keys, parts = {}, {}
    for k in pairs(v) do keys[#keys + 1] = tostring(k) end
    table.sort(keys)
    for _, k in ipairs(keys) do parts[#parts + 1] = ("%q:%s"):format(k, to_json(v[k])) end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return '"' .. v:gsub('[%c"\\]', function(c)
      return ({ ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\t"] = "\\t" })[c]
        or ("\\u%04x"):format(c:byte())
    end) .. '"'
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then return "null" end
    return math.type(v) == "integer" and tostring(v) or ("%.6g"):format(v)
  elseif t == "boolean" then
    return tostring(v)
  end
  return "null"
end

-- ---------------------------------------------------------------- main

-- what this run left behind: its temp dir, its cgroups (nslua-bench-*),
-- ISO's box directories still there after the last --cleanup
local function leftovers(ctx)
  local found = {}
  if ctx.tmp and sh("test -e " .. q(ctx.tmp)) then found[#found + 1] = "dir: " .. ctx.tmp end
  for _, d in ipairs(ctx.left_boxes or {}) do found[#found + 1] = "box after its --cleanup: " .. d end
  for _, l in ipairs(ctx.left_oci or {}) do found[#found + 1] = "OCI: " .. l end
  local ok, out = sh("find /sys/fs/cgroup -maxdepth 8 -type d -name 'nslua-bench-*'")
  if ok then
    for l in out:gmatch("[^\n]+") do found[#found + 1] = "cgroup: " .. l end
  end
  return found
end

-- host objects (the spec helper's check) that appeared during the run: a
-- concurrent test run or sandbox may own them, so this is only a note
local function appeared(ctx, before)
  local found = {}
  if before and ctx.helper then
    local seen = {}
    for _, v in ipairs(before) do seen[v] = true end
    for _, v in ipairs(ctx.helper.host_objects()) do
      if not seen[v] then found[#found + 1] = v end
    end
  end
  return found
end

-- The targets of issue 18 that these results measure: { what, target,
-- measured, met } (met nil: not measured by this run).
local function targets(results)
  local function cli(s, tool)
    for _, r in ipairs(results.cli or {}) do
      if r.scenario == s and r.tool == tool and not r.missing then return r end
    end
  end
  local function api(s, tool)
    for _, r in ipairs(results.api or {}) do
      if r.scenario == s and r.tool == tool and not r.missing then return r end
    end
  end
  local out = {}
  local function add(what, target, measured, met)
    out[#out + 1] = { what, target, measured or "not measured", met }
  end
  -- (the medians' ratio: the two rows are paired with the limit, not
  -- with each other)
  local function over(what, n, b, field, bound)
    local a, c = n and n[field], b and b[field]
    local r = a and c and a.median / c.median
    add(what, ("<= %.2f"):format(bound), r and ("%.2f (%.2f / %.2f ms)"):format(r, a.median, c.median),
      r and r <= bound)
  end
  for _, s in ipairs { "S1", "S2", "S3" } do
    local n, b = cli(s, "nslua run"), cli(s, "bwrap like")
    over(("CLI %s: `nslua run` wall time over bwrap's, the same sandbox (bwrap like)"):format(s), n, b, "ms", 1.10)
    over(("CLI %s: `nslua run` CPU time over bwrap's, the same sandbox (bwrap like)"):format(s), n, b, "cpu_ms", 2.0)
  end
  for _, s in ipairs { "S1", "S2", "S3" } do
    over(("bwrap front end %s: `nslua bwrap` wall time over bwrap's, the same command line (issue 13)"):format(s),
      cli(s, "nslua bwrap"), cli(s, "bwrap"), "ms", 1.0)
  end
  local si, sl = cli("S5I", "nslua run"), cli("S5I", "limit")
  local sr = si and sl and si.ratio and si.ratio.median
  add("CLI S5 isolated (S5I, a pause before each run): `nslua run` over the limit's run", "<= 1.20",
    sr and ("%.2f (%.2f / %.2f ms)"):format(sr, si.ms.median, sl.ms.median), sr and sr <= 1.20)
  local n = cli("S1", "nslua run")
  add("CLI peak RSS of `nslua run` (S1)", "< 4096 KiB", n and n.rss_kb and ("%d KiB"):format(n.rss_kb // 1),
    n and n.rss_kb and n.rss_kb < 4096)
  local a = api("S5", "nslua API")
  add("API S5: runs/s over the limit loop's (nslua's process structure)", ">= 0.85",
    a and ("%.2f"):format(a.ratio.median), a and a.ratio.median >= 0.85)
  local p = api("S5", "nslua pool")
  add("Pool S5: runs/s over the limit loop's", ">= 1.00 (stretch 1.50)",
    p and ("%.2f"):format(p.ratio.median), p and p.ratio.median >= 1.0)
  local jt
  for _, r in ipairs(results.judge and results.judge.rows or {}) do
    if r.tool == "nslua judge --tests" and not r.missing then jt = r end
  end
  local o, g, tw = jt and jt.overhead_ms, jt and jt.gap_ms, jt and jt.timewall_abs_ms
  add("Judge `--tests`: per-test overhead (the command's wall / tests - the program's own time)", "<= 3 ms",
    o and ("%.2f ms (between tests %s ms)"):format(o.median, g and ("%.2f"):format(g.median) or "?"),
    o and o.median <= 3)
  add("Judge `--tests`: meta time-wall - the program's own time, median of the absolute value", "<= 2 ms",
    tw and ("%.2f ms (max %.2f ms)"):format(tw.median, tw.max), tw and tw.median <= 2)
  local iso, niso
  for _, r in ipairs(results.iso or {}) do
    if r.tool == "isolate" and not r.missing then iso = r end
    if r.tool == "nslua isolate" and not r.missing then niso = r end
  end
  local ic, nc = iso and iso.ms and iso.ms.cycle, niso and niso.ms and niso.ms.cycle
  local ir = ic and nc and nc.median / ic.median
  add("isolate's cycle (`--init`, `--run`, `--cleanup`): `nslua isolate` over real isolate (issue 14)", "<= 1.00",
    ir and ("%.2f (%.2f / %.2f ms)"):format(ir, nc.median, ic.median), ir and ir <= 1.0)
  local mem = results.mem
  local rss = mem and mem.rss_kb
  local ok_rss = rss and rss.first >= 0 and rss.warm >= 0 and rss.last >= 0
  local grow = ok_rss and rss.last - rss.first
  add(("Pool memory: VmRSS growth over a pool's %d runs (MEM: the first run to the last)"):format(
      math.floor(mem and mem.runs or 1000)), "< 256 KiB",
    grow and ("%+d KiB (%+d KiB after run %d; Lua heap %d -> %d KiB)"):format(math.floor(grow),
      math.floor(rss.last - rss.warm), math.floor(mem.warm), math.floor(mem.heap_kb.warm),
      math.floor(mem.heap_kb.last)),
    grow and grow < 256)
  return out
end

-- --render FILE: the Markdown of a run's JSON (its parameters from it).
local function render(path)
  local text = readfile(path)
  if not text then
    io.stderr:write("run.lua: --render: cannot read ", path, "\n")
    return 2
  end
  local results = require("cjson").decode(text)
  local p = results.params or {}
  local opts = { markdown = true, pairs = p.pairs or 0, warmup = p.warmup or 0, api_pairs = p.api_pairs or 0,
                 loop = p.loop or 0, scenarios = p.scenarios or {}, iso_pause = p.iso_pause_ms or 0,
                 oci_pause = p.oci_pause_ms or 0 }
  for _, k in ipairs { "cli", "api", "iso", "oci", "leftovers", "appeared" } do
    if type(results[k]) ~= "table" or next(results[k]) == nil then results[k] = {} end
  end
  print("### Targets (issue 18)")
  print("")
  print("| target | wanted | measured | status |")
  print("|---|---|---|---|")
  for _, t in ipairs(targets(results)) do
    local status = t[4] == nil and "not measured" or t[4] and "met" or "missed"
    print(("| %s | %s | %s | %s |"):format(t[1], t[2], t[3], status))
  end
  print("")
  print("### Results")
  print("")
  report(results, opts)
  return 0
end

local function main(args)
  local ok, opts = pcall(parse_args, args)
  if not ok then
    io.stderr:write("run.lua: ", opts, "\n", USAGE)
    return 2
  end
  if opts.render then return render(opts.render) end
  local f = io.open("/proc/self/status")
  local uid = f and f:read("a"):match("\nUid:%s*(%d+)")
  if f then f:close() end
  if uid ~= "0" then
    io.stderr:write("run.lua: the bench needs root (namespaces, cgroups, setuid to the rootless user)\n")
    return 1
  end
  math.randomseed(os.time(), tonumber(tostring({}):match("0x(%x+)"), 16) or 0)
  local ctx = { left_boxes = {}, left_oci = {} }
  local hok, helper = pcall(dofile, TOP .. "/spec/helper.lua")
  ctx.helper = hok and helper or nil
  local before = ctx.helper and ctx.helper.host_objects()
  local results = { machine = machine(), cli = {}, api = {}, iso = {}, oci = {},
                    params = { pairs = opts.pairs, warmup = opts.warmup, api_pairs = opts.api_pairs,
                               loop = opts.loop, scenarios = opts.scenarios, iso_pause_ms = opts.iso_pause,
                               oci_pause_ms = opts.oci_pause } }
  local t0 = bench.now()
  local rok, err = xpcall(function()
    setup(opts, ctx)
    results.params.iso_box = ctx.iso_box
    for _, s in ipairs(opts.scenarios) do run_scenario(ctx, opts, s, results) end
  end, debug.traceback)
  teardown(ctx)
  results.seconds = bench.now() - t0
  results.leftovers = leftovers(ctx)
  results.appeared = appeared(ctx, before)
  if not rok then
    io.stderr:write("run.lua: ", tostring(err), "\n")
    for _, l in ipairs(results.leftovers) do io.stderr:write("left behind: ", l, "\n") end
    return 1
  end
  report(results, opts)
  if opts.json and opts.json ~= "" then
    os.execute("mkdir -p " .. q(dirname(opts.json)))
    writefile(opts.json, to_json(results) .. "\n")
    io.stderr:write(("run.lua: %.0f s; JSON in %s\n"):format(results.seconds, opts.json))
  end
  return 0
end

os.exit(main(arg), true)
