--- nslua judge: one contest-judge run, like isolate's `--run`.
--
--   nslua judge [OPTIONS] -- PROGRAM [ARGS...]
--
-- The default sandbox (recipes/sandbox.lua), tightened for untrusted
-- submissions: the `strict` seccomp profile, no network, a clean
-- environment, a private writable tmpfs /box (the working directory) with a
-- size quota, stdin/stdout/stderr from and to files opened with the
-- caller's permissions, cpu time over the whole container (with an optional
-- grace `--extra-time`), wall time, memory, pids, output and open-file
-- limits, optional CPU pinning.  The run ends in a verdict:
--
--   OK  exited 0                  RE  non-zero exit; also the pids limit
--   SG  killed by a signal        TLE cpu or wall time limit
--   MLE memory limit (OOM kill)   OLE output limit (SIGXFSZ)
--   XX  nslua could not run it (set-up error, program not found, ...)
--   WA  `--tests` only: the checker, interactor or answer said so
--
-- `--meta FILE` writes isolate's meta-file keys (see doc/judge.md); the exit
-- code is 0 for OK, 1 for any other verdict, 125 for XX (and usage errors),
-- or 2 for those with `--isolate-exit-codes` (isolate's codes).
--
-- As a library (`require "nslua.recipes.judge"`) it runs many submissions
-- in one Lua process:
--
--   local judge = require "nslua.recipes.judge"
--   local verdict, meta, report = judge.run { argv = { "/path/prog" },
--     stdin = "in.txt", stdout = "out.txt", time = 1, memory = "64M" }
--
-- The CLI loads this file with loadfile and its arguments as `...`; require
-- passes the module name and the file path.  Which one happened decides
-- whether the chunk returns the module or the command.
local limits = require "nslua.limits"
local report = require "nslua.report"

local M = {}

local EXIT_OK, EXIT_VERDICT, EXIT_FAIL <const> = 0, 1, report.EXIT_FAIL

--- Defaults (docs/judge.md): a submission is
-- bounded in memory, output and processes even when the caller names no
-- limit (DESIGN "Trust rules"); an explicit option replaces each.
M.DEFAULTS = {
  memory = "256M",       -- a common contest memory limit (Codeforces, many CMS tasks)
  output = "64M",        -- RLIMIT_FSIZE: stdout/stderr files and files in /box
  pids = 64,             -- isolate's default is 1 process; 64 lets threads and small pools run
  open_files = 64,       -- isolate's RLIMIT_NOFILE
  box_size = "64M",      -- the /box tmpfs quota
  seccomp = "strict",
  cwd = "/box",
  wall_factor = 3,       -- without --wall: wall = 3 * (time + extra-time) + 1
  wall_extra = 1,
}

M.BOX = "/box"

-- Paths the default sandbox already shows read-only (a PROGRAM there needs no bind).
local VISIBLE = { "/usr/", "/etc/", "/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/" }

-- isolate's exit codes (`--isolate-exit-codes`): 2 for an internal error
-- (XX) or bad usage, where nslua's own is 125.
M.ISOLATE_EXIT_FAIL = 2

--- Verdict -> exit code of `nslua judge` (isolate's when 'isolate' is true:
-- 0 OK, 1 the program failed, 2 XX).
function M.exit_code(verdict, isolate)
  if verdict == "OK" then return EXIT_OK end
  if verdict == "XX" then return isolate and M.ISOLATE_EXIT_FAIL or EXIT_FAIL end
  return EXIT_VERDICT
end

-- A usage problem in opts: raised as a plain message (no position).
local function bad(msg)
  error({ judge_usage = msg }, 0)
end

-- opts[k] checked as a limit (nslua.limits: a key, or a description of
-- a value that is no spec limit); numbers may be given as text.
local function limit(opts, k, name, what)
  local v = opts[k]
  if v == nil then return nil end
  local n, err = limits.parse(what or k, v, name(k), true)
  if n == nil then bad(err) end
  return n
end

local function list(v)
  if v == nil then return {} end
  if type(v) == "string" then return { v } end
  return v
end

local function split_colon(s)
  local a, b = s:match("^([^:]*):(.*)$")
  if a then return a, b end
  return s, nil
end

local function is_abs(p) return p:sub(1, 1) == "/" end

-- The caller's working directory (no shell: /proc/self/cwd).
local function host_cwd()
  local mount = require("nslua.core").mount
  return mount.readlink("/proc/self/cwd") or "/"
end

local function host_abs(p)
  if is_abs(p) then return p end
  local cwd = host_cwd()
  return (cwd == "/" and "" or cwd) .. "/" .. p:gsub("^%./", "")
end

--- One --dir value: HOST, HOST:INSIDE, HOST:INSIDE:ro or HOST:INSIDE:rw
-- (or the table { HOST, INSIDE, "ro"|"rw" }); anything else is refused, so
-- a typo never becomes a read-only bind at a path such as "/tmp:rx".
-- Returns host, inside (nil: the same path), mode ("ro" or "rw").
local function parse_dir(d, name)
  local parts
  if type(d) == "table" then
    parts = { d[1], d[2], d[3] }
    if d[4] ~= nil then parts = {} end
  elseif type(d) == "string" then
    parts = {}
    for p in (d .. ":"):gmatch("([^:]*):") do parts[#parts + 1] = p end
  end
  local function refuse(why)
    local shown = type(d) == "table" and table.concat(d, ":") or tostring(d)
    bad(("%s: '%s': %s"):format(name("dirs"), shown, why))
  end
  local host, inside, mode = parts and parts[1], parts and parts[2], parts and parts[3]
  if not parts or #parts == 0 or #parts > 3 or type(host) ~= "string" or host == ""
      or (inside ~= nil and (type(inside) ~= "string" or inside == ""))
      or (mode ~= nil and (type(mode) ~= "string" or mode == "")) then
    refuse("not HOST[:INSIDE[:ro|rw]]")
  end
  if inside and not is_abs(inside) then refuse("INSIDE must be an absolute path") end
  if mode ~= nil and mode ~= "ro" and mode ~= "rw" then
    refuse(("'%s' is not ro or rw (HOST[:INSIDE[:ro|rw]])"):format(mode))
  end
  return host, inside, mode or "ro"
end

local function basename(p) return p:match("([^/]+)/*$") or p end

--- Check and normalize run options (the API's table; the CLI builds the
-- same).  Raises {judge_usage = message} on a bad value.
-- 'name' turns a key into what the user typed ("--extra-time" or
-- "opts.extra_time").
local function normalize(opts, name)
  local o = {}
  if type(opts.argv) ~= "table" or type(opts.argv[1]) ~= "string" or opts.argv[1] == "" then
    bad("missing program (nslua judge [OPTIONS] -- PROGRAM [ARGS...])")
  end
  o.argv = {}
  for i, a in ipairs(opts.argv) do
    if type(a) ~= "string" then bad(("%s[%d]: must be a string"):format(name("argv"), i)) end
    o.argv[i] = a
  end
  o.time = limit(opts, "time", name)
  o.extra_time = limit(opts, "extra_time", name)
  o.wall = limit(opts, "wall", name)
  if o.extra_time and not o.time then bad(("%s needs %s"):format(name("extra_time"), name("time"))) end
  o.memory = limit(opts, "memory", name) or limits.parse("memory", M.DEFAULTS.memory)
  o.output = limit(opts, "output", name) or limits.parse("output", M.DEFAULTS.output)
  o.stack = limit(opts, "stack", name, { kind = "size", min = 1, unlimited = true })
  o.box_size = limit(opts, "box_size", name, { kind = "size", min = 1 }) or M.DEFAULTS.box_size
  o.pids = limit(opts, "pids", name) or M.DEFAULTS.pids
  o.open_files = limit(opts, "open_files", name, { kind = "count", min = 1 }) or M.DEFAULTS.open_files
  o.cpuset = limit(opts, "cpuset", name)
  o.seccomp = opts.seccomp or M.DEFAULTS.seccomp
  if type(o.seccomp) == "string" or type(o.seccomp) == "table" then
    -- compile now: a broken profile is the operator's mistake, not an XX
    local seccomp = require "nslua.seccomp"
    local ok, bpf, err = pcall(seccomp.compile, o.seccomp)
    if not ok or (o.seccomp ~= "none" and not bpf) then
      bad(("%s: %s"):format(name("seccomp"), tostring(ok and err or bpf)))
    end
  else
    bad(("%s: must be default, strict, none, FILE.lua or a profile table"):format(name("seccomp")))
  end
  for _, k in ipairs { "stdin", "stdout", "stderr", "meta" } do
    local v = opts[k]
    -- stdin, stdout, stderr may also be a file descriptor of the caller's
    -- (a pipe: --tests --interactor)
    local fd = k ~= "meta" and math.type(v) == "integer" and v >= 0
    if v ~= nil and not fd and (type(v) ~= "string" or v == "") then
      bad(("%s: must be a file name"):format(name(k)))
    end
    o[k] = v
  end
  o.stderr_to_stdout = opts.stderr_to_stdout and true or nil
  if o.stderr_to_stdout and o.stderr then
    bad(("%s and %s exclude each other"):format(name("stderr"), name("stderr_to_stdout")))
  end
  o.cwd = opts.cwd or M.DEFAULTS.cwd
  if type(o.cwd) ~= "string" or not is_abs(o.cwd) then bad(("%s: must be an absolute path"):format(name("cwd"))) end
  o.env = {}
  if type(opts.env) == "table" then
    for k, v in pairs(opts.env) do
      if math.type(k) == "integer" then
        local kk, vv = tostring(v):match("^([^=]+)=(.*)$")
        if not kk then bad(("%s: '%s' is not K=V"):format(name("env"), tostring(v))) end
        o.env[kk] = vv
      else
        o.env[k] = tostring(v)
      end
    end
  elseif opts.env ~= nil then
    bad(("%s: must be a table"):format(name("env")))
  end
  o.dirs = {}
  for _, d in ipairs(list(opts.dirs)) do
    local host, inside, mode = parse_dir(d, name)
    host = host_abs(host)
    inside = inside or host
    local mount = require("nslua.core").mount
    if not mount.stat(host) then bad(("%s: '%s': no such file or directory"):format(name("dirs"), host)) end
    o.dirs[#o.dirs + 1] = { host = host, inside = inside, rw = mode == "rw" }
  end
  o.copy = {}
  for _, f in ipairs(list(opts.copy)) do
    local host, inside
    if type(f) == "table" then host, inside = f[1], f[2] else host, inside = split_colon(f) end
    if type(host) ~= "string" or host == "" then
      bad(("%s: '%s' is not FILE[:NAME]"):format(name("copy"), tostring(f)))
    end
    inside = inside and inside ~= "" and inside or basename(host)
    if not is_abs(inside) then inside = M.BOX .. "/" .. inside end
    o.copy[#o.copy + 1] = { host = host, inside = inside }
  end
  o.name = opts.name
  return o
end

-- The mounts: /box, --dir binds, --copy files, and PROGRAM's own bind.
local function mounts(o)
  local core = require "nslua.core"
  local m = { { type = "tmpfs", target = M.BOX, size = o.box_size, mode = 511 } }
  local shown = {}
  for _, d in ipairs(o.dirs) do
    m[#m + 1] = { type = "bind", source = d.host, target = d.inside, ro = not d.rw }
    shown[#shown + 1] = d.inside
  end
  for _, f in ipairs(o.copy) do
    local st = core.mount.stat(f.host)
    if not st or st.type ~= "file" then
      bad(("copy '%s': not a regular file"):format(f.host))
    end
    local fh, err = io.open(f.host, "rb")
    if not fh then bad(("copy: %s"):format(err)) end
    local content = fh:read("a")
    fh:close()
    m[#m + 1] = { type = "file", target = f.inside, content = content,
                  mode = (st.mode & 73) ~= 0 and 493 or 420, ro = true }
    shown[#shown + 1] = f.inside
  end
  -- PROGRAM given as a host path: bind it read-only at the same path,
  -- unless it is one of the copies or already visible inside.
  local prog = o.argv[1]
  if prog:find("/", 1, true) then
    local inside = is_abs(prog) and prog or (o.cwd .. "/" .. prog:gsub("^%./", ""))
    local visible = false
    for _, p in ipairs(shown) do
      if inside == p or inside:sub(1, #p + 1) == p .. "/" then visible = true end
    end
    for _, p in ipairs(VISIBLE) do
      if prog:sub(1, #p) == p then visible = true end
    end
    if not visible then
      local host = host_abs(prog)
      if core.mount.stat(host) then
        m[#m + 1] = { type = "bind", source = host, target = host, ro = true }
        o.argv[1] = host
      end
    end
  end
  return m
end

--- The container spec of a judge run (normalized options in).
function M.spec(o)
  local policy = require "nslua.policy"
  local base = require "nslua.recipes.sandbox"
  local env = { HOME = M.BOX, LIBC_FATAL_STDERR_ = "1" }
  for k, v in pairs(o.env) do env[k] = v end
  local wall = o.wall
  if not wall and o.time then
    wall = math.min(limits.MAX_SECONDS,
      M.DEFAULTS.wall_factor * (o.time + (o.extra_time or 0)) + M.DEFAULTS.wall_extra)
  end
  local rl = { nofile = o.open_files, core = 0 }
  if o.stack then rl.stack = o.stack end
  return policy.override(base, {
    name = o.name,
    hostname = "judge",
    net = "none",
    mounts = mounts(o),
    cwd = o.cwd,
    env = env,
    seccomp = o.seccomp,
    limits = { time = o.time, extra_time = o.extra_time, wall = wall, memory = o.memory,
               pids = o.pids, output = o.output, cpuset = o.cpuset, rlimits = rl },
    stdio = { stdin = o.stdin or "null", stdout = o.stdout, stderr = o.stderr },
    argv = o.argv,
  })
end

-- Milliseconds, truncated like isolate's "%d.%03d".
local function ms(s) return math.floor((s or 0) * 1000 + 1e-9) end
local function secs(s)
  local n = ms(s)
  return ("%d.%03d"):format(n // 1000, n % 1000)
end

--- The order meta keys are written in.
M.META_KEYS = { "time", "time-wall", "max-rss", "csw-voluntary", "csw-forced", "cg-mem", "cg-oom-killed",
                "exitcode", "exitsig",
                "killed", "status", "message", "verdict" }

--- Verdict and isolate meta keys for a report.
-- @tparam table|nil rep the report (nil when the run could not start)
-- @tparam table o normalized options (time and wall limits)
-- @tparam[opt] string err why there is no report
-- @treturn string verdict: OK RE SG TLE MLE OLE XX
-- @treturn table meta: key -> value (numbers for counts and seconds)
function M.verdict(rep, o, err)
  local meta = {}
  local function set(verdict, status, message)
    meta.verdict, meta.status, meta.message = verdict, status, message
    return verdict, meta
  end
  if not rep then return set("XX", "XX", err or "the run did not start") end
  meta.time = ms(rep.cpu_s) / 1000
  meta["time-wall"] = ms(rep.wall_s) / 1000
  meta["max-rss"] = rep.max_rss_kb
  meta["csw-voluntary"], meta["csw-forced"] = rep.csw_voluntary, rep.csw_forced
  meta["cg-mem"] = rep.memory_peak_kb
  local s = rep.status
  if s == "error" then
    local e = rep.error or {}
    return set("XX", "XX", e.message or "set-up error")
  elseif s == "cpu-limit" then
    meta.killed = 1
    return set("TLE", "TO", "Time limit exceeded")
  elseif s == "wall-limit" then
    meta.killed = 1
    return set("TLE", "TO", "Time limit exceeded (wall clock)")
  elseif s == "memory-limit" then
    meta["cg-oom-killed"] = 1
    meta.exitsig = rep.signal or report.SIGKILL
    return set("MLE", "SG", "Memory limit exceeded")
  elseif s == "output-limit" then
    meta.exitsig = rep.signal or report.SIGXFSZ
    return set("OLE", "SG", "Output limit exceeded")
  end
  -- isolate: a run that ended by itself over the limit (the grace of
  -- --extra-time) is still a time-out, reported without its exit status
  if o.time and (rep.cpu_s or 0) > o.time then
    return set("TLE", "TO", "Time limit exceeded")
  end
  if o.wall and (rep.wall_s or 0) > o.wall then
    return set("TLE", "TO", "Time limit exceeded (wall clock)")
  end
  if s == "pids-limit" then
    if rep.exit_code then meta.exitcode = rep.exit_code
    elseif rep.signal then meta.exitsig = rep.signal end
    return set("RE", "RE", "pids limit")
  elseif s == "signaled" then
    meta.exitsig = rep.signal
    return set("SG", "SG", ("Caught fatal signal %d"):format(rep.signal))
  elseif s == "exited" then
    meta.exitcode = rep.exit_code
    if rep.exit_code ~= 0 then
      return set("RE", "RE", ("Exited with error status %d"):format(rep.exit_code))
    end
    meta.verdict = "OK"
    return "OK", meta
  end
  return set("XX", "XX", ("unknown report status '%s'"):format(tostring(s)))
end

--- The text of a meta-file: `key:value` lines in META_KEYS order.
function M.format_meta(meta)
  local out = {}
  for _, k in ipairs(M.META_KEYS) do
    local v = meta[k]
    if v ~= nil then
      if k == "time" or k == "time-wall" then v = secs(v) end
      if type(v) == "string" then v = v:gsub("\n", " ") end
      out[#out + 1] = ("%s:%s\n"):format(k, tostring(v))
    end
  end
  return table.concat(out)
end

-- 'text' to the file at 'path', or to stdout for "-": true | nil, err
local function write_text(path, text)
  if path == "-" then
    io.stdout:write(text)
    io.stdout:flush()
    return true
  end
  local f, err = io.open(path, "w")
  if not f then return nil, err end
  f:write(text)
  return f:close()
end

local function write_meta(path, meta)
  return write_text(path, M.format_meta(meta))
end

--- The one-line summary (isolate prints the same on stderr).
function M.summary(verdict, meta)
  local t = ("(%s sec real, %s sec wall)"):format(secs(meta.time), secs(meta["time-wall"]))
  if verdict == "OK" then return "OK " .. t end
  if verdict == "XX" and not meta.time then return "XX " .. (meta.message or "") end
  return ("%s %s %s"):format(verdict, meta.message or "", t)
end

-- Run normalized options: verdict, meta, report.
local function run_normalized(o, explain, runner)
  local container = require "nslua.container"
  local core = require "nslua.core"
  local spec = M.spec(o)
  -- --stderr-to-stdout: one open file description for both streams
  local out_fd
  if o.stderr_to_stdout then
    if o.stdout then
      local fd, err = core.proc.open(o.stdout, { wronly = true, creat = true, trunc = true }, 420)
      if not fd then
        local v, meta = M.verdict(nil, o, "stdout: " .. err)
        return v, meta
      end
      out_fd = fd
      spec.stdio.stdout, spec.stdio.stderr = fd:fileno(), fd:fileno()
    else
      spec.stdio.stderr = 1
    end
  end
  local rep, err
  if runner then
    local okr, r1, r2 = pcall(runner, spec)
    if not okr then
      if out_fd then out_fd:close() end
      local v, meta = M.verdict(nil, o, tostring(r1))
      return v, meta
    end
    rep, err = r1, r2
  else
    local ok, c = pcall(container.new, spec)
    if not ok then
      if out_fd then out_fd:close() end
      local v, meta = M.verdict(nil, o, tostring(c))
      return v, meta
    end
    if explain then
      if out_fd then out_fd:close() end
      return c:explain()
    end
    rep, err = c:run()
  end
  if out_fd then out_fd:close() end
  local v, meta = M.verdict(rep, o, err)
  if o.meta then
    local okw, werr = write_meta(o.meta, meta)
    if not okw then
      meta.status, meta.message, meta.verdict = "XX", "meta: " .. tostring(werr), "XX"
      return "XX", meta, rep
    end
  end
  return v, meta, rep
end

local function api_name(k) return "opts." .. k end

--- Run one submission.
-- @tparam table opts `argv` (list, required) and any of: `time`,
--   `extra_time`, `wall` (seconds), `memory`, `output`, `stack`,
--   `box_size` (SIZE), `pids`, `open_files` (counts), `cpuset`,
--   `seccomp`, `stdin`, `stdout`, `stderr` (paths, or the caller's file
--   descriptors as integers, e.g. pipes), `stderr_to_stdout`,
--   `meta` (path), `dirs` (list of "HOST[:INSIDE[:ro|rw]]"), `copy` (list of
--   "FILE[:NAME]"), `env` (table), `cwd`, `name`
-- @treturn string verdict: OK RE SG TLE MLE OLE XX
-- @treturn table meta (isolate's keys, see format_meta)
-- @treturn table|nil report (nil when the run did not start)
-- @raise on a bad option: "opts.memory: invalid size 'lots'"
-- API options normalized; a usage problem is raised at the caller's caller.
local function api_normalize(opts)
  local ok, o = pcall(normalize, opts, api_name)
  if not ok then error(type(o) == "table" and o.judge_usage or o, 3) end
  return o
end

-- run_normalized for the API: a usage problem raised at the caller's caller.
local function api_run(o, runner)
  local ok, v, meta, rep = pcall(run_normalized, o, false, runner)
  if not ok then
    if type(v) == "table" and v.judge_usage then error(v.judge_usage, 3) end
    error(v, 0)
  end
  return v, meta, rep
end

function M.run(opts)
  if type(opts) ~= "table" then error("judge.run: opts must be a table", 2) end
  local v, meta, rep = api_run(api_normalize(opts))   -- not a tail call: error levels
  return v, meta, rep
end

-- Options of one run of a judge pool; the rest are the pool's.
local RUN_OPTS = { stdin = true, stdout = true, stderr = true, stderr_to_stdout = true, meta = true,
                   time = true, extra_time = true, wall = true }

local JudgePool = {}
JudgePool.__index = JudgePool

--- A warm pool (nslua.pool) for many runs of one submission, such as its
-- test cases: the options of judge.run but the per-run ones (stdin, stdout,
-- stderr, stderr_to_stdout, meta, time, extra_time, wall) are fixed once;
-- the cgroups (memory, pids) and the network namespace are made once;
-- opts.warm is the pool's keeper (nslua.pool's opts.warm: false, or
-- seconds).
--   local jp = assert(judge.pool { argv = { "/path/prog" }, memory = "64M" })
--   for i, t in ipairs(tests) do
--     local verdict, meta = jp:run { stdin = t.input, stdout = t.output, time = 1 }
--   end
--   jp:close()
-- @treturn[1] table the pool
-- @return[2] nil, message, errno (a pool needs root)
-- @raise on a bad option, like judge.run
function M.pool(opts)
  if type(opts) ~= "table" then error("judge.pool: opts must be a table", 2) end
  for k in pairs(opts) do
    if RUN_OPTS[k] then error(("judge.pool: opts.%s: is set per run (jp:run{%s = ...})"):format(k, k), 2) end
  end
  -- warm: the pool's own option (nslua.pool's opts.warm), not judge.run's
  local warm = opts.warm
  if warm ~= nil then
    local o = {}
    for k, v in pairs(opts) do if k ~= "warm" then o[k] = v end end
    opts = o
  end
  local spec = M.spec(api_normalize(opts))
  spec.stdio = nil
  for _, k in ipairs(limits.RUN_KEYS) do spec.limits[k] = nil end   -- set per run
  local okp, p, err, code = pcall(require("nslua.pool").new, spec, { warm = warm })
  if not okp then error(p, 2) end
  if not p then return nil, err, code end
  return setmetatable({ opts = opts, pool = p }, JudgePool)
end

--- One run in the pool: verdict, meta, report (as judge.run).
function JudgePool:run(run)
  if type(run) ~= "table" then error("judge pool:run: expects a table", 2) end
  local opts = {}
  for k, v in pairs(self.opts) do opts[k] = v end
  for k, v in pairs(run) do
    if not RUN_OPTS[k] then error(("judge pool:run: opts.%s: is the pool's"):format(k), 2) end
    opts[k] = v
  end
  local pool = self.pool
  local v, meta, rep = api_run(api_normalize(opts), function(spec)
    local l = { rlimits = spec.limits.rlimits }
    for _, k in ipairs(limits.RUN_KEYS) do l[k] = spec.limits[k] end
    return pool:run { argv = spec.argv, stdio = spec.stdio, limits = l }
  end)
  return v, meta, rep
end

--- Release the pool (idempotent).
function JudgePool:close()
  return self.pool:close()
end
JudgePool.__close = JudgePool.close

--- The argparse parser of `nslua judge`.
function M.parser()
  local argparse = require "argparse"
  local p = argparse("nslua judge", "Run a program like a contest judge (isolate's --run) and give a verdict.")
  p:argument("command", "PROGRAM and its arguments (after --)."):args("*")
  p:option("--time", "CPU time limit in seconds, over the whole container.")
  p:option("--extra-time", "Grace CPU seconds before the kill (the verdict is still TLE).")
  p:option("--wall --wall-time", "Wall-clock limit in seconds (default 3*(time+extra)+1 with --time).")
  p:option("--memory", ("Memory limit (SIZE), as a cgroup (default %s)."):format(M.DEFAULTS.memory))
  p:option("--pids --processes", ("Maximum number of tasks (default %d)."):format(M.DEFAULTS.pids))
  p:option("--output", ("Largest file the program may write (SIZE; RLIMIT_FSIZE; default %s).")
    :format(M.DEFAULTS.output))
  p:option("--open-files", ("RLIMIT_NOFILE (default %d)."):format(M.DEFAULTS.open_files))
  p:option("--stack", "RLIMIT_STACK (SIZE or unlimited).")
  p:option("--box-size", ("Size of the writable /box tmpfs (default %s)."):format(M.DEFAULTS.box_size))
  p:option("--stdin", "Read stdin from FILE (default /dev/null).")
  p:option("--stdout", "Write stdout to FILE.")
  p:option("--stderr", "Write stderr to FILE.")
  p:flag("--stderr-to-stdout", "Send stderr where stdout goes.")
  p:option("--meta", "Write isolate's meta-file to FILE (- for stdout).")
  p:option("--dir", "Bind HOST inside (HOST[:INSIDE[:ro|rw]]; read-only unless :rw)."):count("*")
  p:option("--copy", "Copy host FILE into /box (FILE[:NAME], read-only)."):count("*")
  p:option("--env", "Set K=V in the environment."):count("*")
  p:option("--cpuset", "Pin to CPUs (e.g. 0) for repeatable timing.")
  p:option("--seccomp", "strict (default) | default | none | FILE.lua")
  p:option("--cwd --chdir", "Working directory inside (default /box).")
  p:option("--name", "A name for the container (shown by nslua ps).")
  p:option("--tests", "Run PROGRAM on every DIR/NAME.in through one warm pool, writing DIR/NAME.out, "
    .. "NAME.err and NAME.meta, checking NAME.ans (root; excludes --stdin, --stdout, --meta).")
  p:option("--checker", "With --tests: check each OK test that has DIR/NAME.ans with PROG INPUT OUTPUT ANSWER "
    .. "in its own sandbox (exit 0 OK, 1 or 2 WA, else XX).")
  p:option("--checker-time", ("With --tests: cpu seconds of a checker or interactor run (default %d).")
    :format(M.TESTS_DEFAULTS.checker_time))
  p:option("--interactor", "With --tests: run PROG INPUT OUTPUT beside PROGRAM, joined by pipes, "
    .. "in its own sandbox; it writes DIR/NAME.out.")
  p:option("--json", "With --tests: write the results as JSON to FILE (- for stdout).")
  p:flag("--isolate-exit-codes", "Exit like isolate: 0 OK, 1 the program failed, 2 XX or bad usage.")
  p:flag("--silent", "Do not print the verdict line on stderr.")
  p:flag("--explain", "Print the plan and exit.")
  return p
end

--- Options of `--tests`: the checker's and the interactor's cpu limit.
M.TESTS_DEFAULTS = {
  checker_time = 10,     -- --checker-time: cpu seconds of a checker or an interactor run
  helper_seccomp = "default",   -- checkers and interactors: the problem setter's code
}

-- The order of verdicts in the summary line and the JSON totals.
M.VERDICTS = { "OK", "WA", "RE", "SG", "TLE", "MLE", "OLE", "XX" }

-- Inside a checker's or an interactor's sandbox: where the test's files are.
M.HELPER_FILES = { input = M.BOX .. "/input", output = M.BOX .. "/output", answer = M.BOX .. "/answer" }

local function exists(path)
  local st = require("nslua.core").mount.stat(path)
  return st ~= nil and st.type == "file"
end

local function first_line(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local line = f:read("l")
  f:close()
  if line then line = line:gsub("%s+$", "") end
  return line ~= "" and line or nil
end

--- The built-in comparison (no --checker): the output's and the answer's
-- whitespace-separated tokens must be equal (cheap: no number tolerance).
-- @tparam string output path
-- @tparam string answer path
-- @treturn[1] boolean true when equal, false when not
-- @treturn[1] string|nil the first difference: "token 2: expected '10', found '21'"
-- @return[2] nil
-- @treturn[2] string message (a file could not be read)
function M.compare_tokens(output, answer)
  local fo, err = io.open(output, "rb")
  if not fo then return nil, err end
  local fa, err2 = io.open(answer, "rb")
  if not fa then fo:close() return nil, err2 end
  local o, a = fo:read("a"), fa:read("a")
  fo:close()
  fa:close()
  local next_o, next_a = o:gmatch("%S+"), a:gmatch("%S+")
  local n = 0
  while true do
    local x, y = next_o(), next_a()
    n = n + 1
    if x == nil and y == nil then return true end
    if x ~= y then
      local function show(t) return t and ("'%s'"):format(#t > 32 and t:sub(1, 32) .. "..." or t) or "end of file" end
      return false, ("token %d: expected %s, found %s"):format(n, show(y), show(x))
    end
  end
end

-- A helper run's (checker or interactor) verdict: 0 OK, 1 WA (testlib's
-- _wa), 2 WA (testlib's _pe), anything else the helper's own failure, XX.
local function helper_verdict(what, v, meta)
  if v == "OK" then return "OK" end
  if v == "RE" and (meta.exitcode == 1 or meta.exitcode == 2) then return "WA" end
  local why
  if meta.exitcode and meta.exitcode ~= 0 and meta.message ~= "pids limit" then
    why = ("exit %d"):format(meta.exitcode)
  elseif meta.exitsig and v == "SG" then
    why = ("signal %d"):format(meta.exitsig)
  else
    why = meta.message or v
  end
  return "XX", ("%s failed: %s"):format(what, why)
end

-- The normalized options of a checker or an interactor: its own sandbox,
-- the judge's defaults but the `default` seccomp profile, and a cpu limit.
local function helper_opts(prog, args, t)
  local argv = { prog }
  for _, x in ipairs(args) do argv[#argv + 1] = x end
  return normalize({ argv = argv, time = t.checker_time, wall = t.helper_wall,
                     seccomp = M.TESTS_DEFAULTS.helper_seccomp }, api_name)
end

-- Read-only idmapped binds of a test's files in a helper's /box: the
-- helper reads them as their owner whatever their mode (files the caller,
-- root, owns).
local function file_mounts(files)
  local m = {}
  for _, f in ipairs(files) do
    m[#m + 1] = { type = "bind-idmap", source = f[1], target = f[2], ro = f[3] ~= "rw" }
  end
  return m
end

-- Run normalized options o in a fresh container with extra mounts.
local function run_fresh(o, extra)
  local container = require "nslua.container"
  return run_normalized(o, false, function(spec)
    for _, m in ipairs(extra) do spec.mounts[#spec.mounts + 1] = m end
    local c = container.new(spec)
    local rep, err = c:run()
    c:close()
    return rep, err
  end)
end

-- The checker on one test: verdict (OK WA XX) and message.
local function check(t, file, output)
  local H = M.HELPER_FILES
  local o = helper_opts(t.checker, { H.input, H.output, H.answer }, t)
  o.stdout, o.stderr_to_stdout = file .. ".check", true
  local v, meta = run_fresh(o, file_mounts { { file .. ".in", H.input }, { output, H.output },
                                             { t.answer, H.answer } })
  local verdict, why = helper_verdict("checker", v, meta)
  return verdict, why or first_line(file .. ".check")
end

-- One test with an interactor: the interactor (a fresh container) and
-- the program (the pool) joined by two pipes.  Returns the program's
-- verdict and meta, and the interactor's verdict and message.
local function interact(jp, t, file, run)
  local core = require "nslua.core"
  local SIGPIPE = core.proc.signum("PIPE")
  local container = require "nslua.container"
  local H = M.HELPER_FILES
  -- the interactor writes NAME.out: made here, as the caller, and bound
  -- read-write (idmapped) at /box/output
  local out = io.open(file .. ".out", "w")
  if not out then return "XX", { verdict = "XX", status = "XX", message = "cannot create " .. file .. ".out" } end
  out:close()
  local o = helper_opts(t.interactor, { H.input, H.output }, t)
  local spec = M.spec(o)
  for _, m in ipairs(file_mounts { { file .. ".in", H.input }, { file .. ".out", H.output, "rw" } }) do
    spec.mounts[#spec.mounts + 1] = m
  end
  local to_prog_r, to_prog_w = core.proc.pipe()
  local to_int_r, to_int_w = core.proc.pipe()
  if not to_prog_r or not to_int_r then
    for _, fd in ipairs { to_prog_r, to_prog_w, to_int_r, to_int_w } do
      if type(fd) == "userdata" then fd:close() end
    end
    return "XX", { verdict = "XX", status = "XX", message = "pipe: " .. tostring(to_prog_w or to_int_w) }
  end
  spec.stdio = { stdin = to_int_r:fileno(), stdout = to_prog_w:fileno(), stderr = file .. ".interactor" }
  local okc, c = pcall(container.new, spec)
  local started, serr
  if okc then started, serr = c:start() end
  -- the child holds its ends now: ours go, so each side sees EOF when the other ends
  to_int_r:close()
  to_prog_w:close()
  if not started then
    to_prog_r:close()
    to_int_w:close()
    if okc then c:close() end
    local why = "interactor failed: " .. tostring(okc and serr or c)
    return "XX", { verdict = "XX", status = "XX", message = why }, "XX", why
  end
  run.stdin, run.stdout = to_prog_r:fileno(), to_int_w:fileno()
  local okr, v, meta = pcall(jp.run, jp, run)
  to_prog_r:close()
  to_int_w:close()
  -- A program that failed keeps its verdict and the interactor goes, but
  -- for SIGPIPE: the interactor had closed its end first, it is ending,
  -- and its WA or XX explains the program's end.  (Which one ended first
  -- is not known otherwise: both end at once when one does.)
  local sigpipe = okr and v == "SG" and meta.exitsig == SIGPIPE
  if not okr or (v ~= "OK" and not sigpipe) then c:kill(9) end
  local irep, ierr = c:wait()
  c:close()
  if not okr then error(v, 0) end
  local iv, imeta = M.verdict(irep, o, ierr)
  local verdict, why = helper_verdict("interactor", iv, imeta)
  local wins = verdict ~= "OK" and (v == "OK" or sigpipe)
  return v, meta, verdict, why or first_line(file .. ".interactor"), wins
end

local function count_line(counts, n, max_time, max_mem)
  local parts = { ("tests: %d"):format(n) }
  for _, v in ipairs(M.VERDICTS) do
    if counts[v] then parts[#parts + 1] = ("%s %d"):format(v, counts[v]) end
  end
  return ("%s (max time %s s, max memory %d KiB)"):format(table.concat(parts, ", "), secs(max_time), max_mem)
end

local function write_json(path, doc)
  return write_text(path, require("cjson").encode(doc) .. "\n")
end

--- `nslua judge --tests DIR`: PROGRAM on every DIR/NAME.in (sorted), each
-- run in one warm pool (judge.pool), its stdout in DIR/NAME.out, its
-- stderr in DIR/NAME.err and its meta-file in DIR/NAME.meta; then, when
-- DIR/NAME.ans exists and the run is OK, the checker (t.checker, in its
-- own sandbox) or the built-in token comparison.  With t.interactor each
-- test runs the interactor beside the program.  A verdict line per test
-- and a summary line on stderr; t.json gets the JSON document.  Exit 0
-- when every test is OK, 1 when one is not, 125 when a run could not be
-- made (XX) or the pool cannot be (it needs root).
-- t: checker, interactor (host paths), checker_time (seconds), json (path or "-").
function M.run_tests(opts, dir, silent, fail, isolate, t)
  t = t or {}
  local mount = require("nslua.core").mount
  dir = host_abs(dir):gsub("/+$", "")
  if dir == "" then dir = "/" end
  local names, err = mount.readdir(dir)
  if not names then return fail("--tests: " .. err) end
  local tests = {}
  for _, n in ipairs(names) do
    local name = n:match("^(.+)%.in$")
    if name then tests[#tests + 1] = name end
  end
  table.sort(tests)
  if #tests == 0 then return fail(("--tests: no NAME.in in '%s'"):format(dir)) end
  local ht = { checker_time = t.checker_time or M.TESTS_DEFAULTS.checker_time }
  for _, k in ipairs { "checker", "interactor" } do
    if t[k] then
      local p = host_abs(t[k])
      if not exists(p) then return fail(("--%s: '%s': no such file"):format(k, t[k])) end
      ht[k] = p
    end
  end
  -- every process has a wall limit when two wait on each other: the
  -- program's own (default 3*(time+extra)+1, or 2*checker-time+1 without
  -- --time), and the interactor's, that plus its own 2*checker-time+1
  local helper_wall = 2 * ht.checker_time + 1
  local function seconds(k) return opts[k] and limits.parse(k, opts[k], nil, true) end
  local prog_wall = seconds("wall")
  if not prog_wall and opts.time then
    prog_wall = M.DEFAULTS.wall_factor * (seconds("time") + (seconds("extra_time") or 0)) + M.DEFAULTS.wall_extra
  end
  if ht.interactor and not prog_wall then prog_wall = helper_wall end
  local base = {}
  for k, v in pairs(opts) do if not RUN_OPTS[k] then base[k] = v end end
  local okp, jp, perr = pcall(M.pool, base)
  if not okp then return fail(tostring(jp)) end
  if not jp then return fail("--tests: " .. tostring(perr)) end
  local code = EXIT_OK
  local results, counts, max_time, max_mem = {}, {}, 0, 0
  -- on a terminal, the test under way (the verdict lines replace it)
  local progress = require("nslua.progress").new(#tests, "nslua judge: test")
  if silent then progress.on = false end
  for i, name in ipairs(tests) do
    progress:show(i, name)
    local file = dir .. "/" .. name
    local run = { meta = file .. ".meta", time = opts.time, extra_time = opts.extra_time,
      wall = ht.interactor and prog_wall or opts.wall,
      stderr = opts.stderr or (not opts.stderr_to_stdout and file .. ".err" or nil),
      stderr_to_stdout = opts.stderr_to_stdout }
    local v, meta, hv, hmsg, hwins
    if ht.interactor then
      ht.helper_wall = prog_wall + helper_wall
      v, meta, hv, hmsg, hwins = interact(jp, ht, file, run)
    else
      run.stdin, run.stdout = file .. ".in", file .. ".out"
      v, meta = jp:run(run)
    end
    local verdict, message, checker_msg = v, meta.message, nil
    if hwins then
      verdict, message = hv, hv == "XX" and hmsg or ("interactor: " .. (hmsg or "wrong answer"))
    end
    local answer = file .. ".ans"
    if verdict == "OK" and exists(answer) then
      if ht.checker then
        ht.helper_wall = helper_wall
        ht.answer = answer
        local cv, cmsg = check(ht, file, file .. ".out")
        verdict, checker_msg = cv, cmsg
        if cv ~= "OK" then message = cv == "XX" and cmsg or ("checker: " .. (cmsg or "wrong answer")) end
      else
        local same, why = M.compare_tokens(file .. ".out", answer)
        if same == nil then verdict, message = "XX", "compare: " .. tostring(why)
        elseif not same then verdict, message = "WA", why end
      end
    end
    progress:clear()
    if not silent then
      local shown = setmetatable({ message = message }, { __index = meta })
      io.stderr:write(name, ": ", M.summary(verdict, shown), "\n")
    end
    counts[verdict] = (counts[verdict] or 0) + 1
    max_time = math.max(max_time, meta.time or 0)
    max_mem = math.max(max_mem, meta["cg-mem"] or 0)
    results[#results + 1] = { name = name, verdict = verdict, time = meta.time, wall = meta["time-wall"],
      memory = meta["cg-mem"], exitcode = meta.exitcode, exitsig = meta.exitsig, message = message,
      run_verdict = v, checker_message = checker_msg, interactor_message = hmsg }
    local c = M.exit_code(verdict, isolate)
    if c > code then code = c end
  end
  jp:close()
  if not silent then io.stderr:write(count_line(counts, #tests, max_time, max_mem), "\n") end
  if t.json then
    local totals = { tests = #tests, max_time = max_time, max_memory = max_mem }
    for _, v in ipairs(M.VERDICTS) do totals[v] = counts[v] or 0 end
    local okw, werr = write_json(t.json, { tests = results, totals = totals })
    if not okw then
      io.stderr:write("nslua judge: --json: ", tostring(werr), "\n")
      code = math.max(code, isolate and M.ISOLATE_EXIT_FAIL or EXIT_FAIL)
    end
  end
  return code
end

local CLI_NAMES = { argv = "PROGRAM", extra_time = "--extra-time", box_size = "--box-size",
                    open_files = "--open-files", stderr_to_stdout = "--stderr-to-stdout",
                    dirs = "--dir", copy = "--copy", cwd = "--cwd" }
local function cli_name(k) return CLI_NAMES[k] or ("--" .. k) end

--- `nslua judge ARGS...` -> exit code.
function M.main(args)
  -- looked for before parsing: a usage error exits 2 with it too
  local isolate = false
  for i = 1, args.n or #args do
    if args[i] == "--" then break end
    if args[i] == "--isolate-exit-codes" then isolate = true end
  end
  local function fail(msg)
    io.stderr:write("nslua judge: ", msg, "\n")
    return isolate and M.ISOLATE_EXIT_FAIL or EXIT_FAIL
  end
  local okp, a = M.parser():pparse(args)
  if not okp then return fail(a) end
  local opts = {
    argv = a.command, time = a.time, extra_time = a.extra_time, wall = a.wall,
    memory = a.memory, pids = a.pids, output = a.output, open_files = a.open_files,
    stack = a.stack, box_size = a.box_size, stdin = a.stdin, stdout = a.stdout,
    stderr = a.stderr, stderr_to_stdout = a.stderr_to_stdout, meta = a.meta,
    dirs = a.dir, copy = a.copy, env = a.env, cpuset = a.cpuset, seccomp = a.seccomp,
    cwd = a.cwd, name = a.name,
  }
  local ok, o = pcall(normalize, opts, cli_name)
  if not ok then return fail(type(o) == "table" and o.judge_usage or tostring(o)) end
  if a.tests then
    if a.stdin or a.stdout or a.meta or a.explain then
      return fail("--tests excludes --stdin, --stdout, --meta and --explain")
    end
    if a.interactor and a.stderr_to_stdout then
      return fail("--interactor excludes --stderr-to-stdout (stdout is the interactor's pipe)")
    end
    local ct
    if a.checker_time then
      local err
      ct, err = limits.parse("time", a.checker_time, "--checker-time", true)
      if not ct then return fail(err) end
    end
    return M.run_tests(opts, a.tests, a.silent, fail, isolate,
      { checker = a.checker, interactor = a.interactor, checker_time = ct, json = a.json })
  end
  for _, k in ipairs { "checker", "checker_time", "interactor", "json" } do
    if a[k] then return fail(("--%s needs --tests"):format(k:gsub("_", "-"))) end
  end
  local ok2, v, meta = pcall(run_normalized, o, a.explain)
  if not ok2 then
    return fail(type(v) == "table" and v.judge_usage or tostring(v))
  end
  if a.explain then
    for _, line in ipairs(v) do print(line) end
    return EXIT_OK
  end
  if not a.silent then
    io.stderr:write(M.summary(v, meta), "\n")
  end
  return M.exit_code(v, isolate)
end

-- require passes (module name, file path); the CLI passes its arguments.
local first, second = ...
if first == "nslua.recipes.judge" and type(second) == "string" and second:match("judge%.lua$") then
  return M
end
return function(...)
  return M.main(table.pack(...))
end
