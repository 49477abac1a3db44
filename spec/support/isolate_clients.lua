-- spec/support/isolate_clients.lua - two real isolate clients, replayed.
--
-- A CMS-like and a Judge0-like session, each invoking an isolate command
-- exactly as that client does (same option spellings, glued or separate as
-- the client writes them, the same --dir rules, --env list and limits),
-- compiling small C programs with gcc inside the box (the compile is itself
-- an isolate run, as in both clients) and running one program per verdict.
-- Standalone (plain Lua 5.4, a shell, gcc): the same driver measured real
-- isolate 2.6 for docs/isolate-reference.md and is run against
-- `nslua isolate` by spec/cli/isolate_clients_spec.lua.
--
--   local C = require "support.isolate_clients"
--   local s = C.cms({"/usr/local/bin/isolate"}, {cg = false, box = 7})
--   s.cases.re.run.meta.status --> "RE"
--
-- The client code it follows (read, not copied):
--  * CMS, cms/grading/Sandbox.py class IsolateSandbox as of commit
--    4a78f75a37f4c2a741b2b9c01dcc1fadf84039f7 (the last one with the
--    use_cgroups switch; later CMS always passes --cg), with
--    cms/grading/steps/compilation.py and evaluation.py and the C11 / gcc
--    language: one Sandbox object (an outer temp dir whose "home" is bound
--    on /tmp, --chdir=/tmp, meta file <outer>/run.log.<n>) per compilation
--    and per evaluation; "cleanup" is a chmod run plus --cleanup.
--  * Judge0, app/jobs/isolate_job.rb as of commit
--    47dfd633b85c69ea382c0a4d16cd4ec175154c78: per submission --init (the
--    printed path is the work dir), compile.sh / run.sh written into box/,
--    `/bin/bash compile.sh` and `/bin/bash run.sh` run with -s, the meta file
--    and stdin/stdout/stderr files in the work dir, --cleanup.  Judge0 adds
--    --cg-timing / --no-cg-timing for its own isolate fork; isolate 2.x has
--    neither option (with --cg the time is the cgroup's anyway), so they are
--    left out here.
--
-- Options: cg (bool), box (box id), tmp (a dir for the clients' own files,
-- default /tmp), cases (list of case names, default all), log (function
-- called with each argv before it runs).
local M = {}

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function write(path, data, mode)
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  if mode then os.execute(("chmod %o %s"):format(mode, q(path))) end
end

local function exists(path)
  local ok = os.execute("test -e " .. q(path) .. " -o -L " .. q(path))
  return ok == true
end

local function mktemp_d(dir, prefix)
  local f = assert(io.popen(("mktemp -d %s"):format(q(dir .. "/" .. prefix .. "XXXXXXXX"))))
  local d = f:read("l")
  f:close()
  assert(d and d ~= "", "mktemp failed in " .. dir)
  return d
end

local function concat(...)
  local out = {}
  for _, t in ipairs({ ... }) do
    for _, v in ipairs(t) do out[#out + 1] = v end
  end
  return out
end

--- Run argv with its stdin, stdout and stderr on the given paths; returns
-- the exit code (128 + N for a signal).
local function run_argv(argv, stdin, stdout, stderr)
  local words = {}
  for i, a in ipairs(argv) do words[i] = q(a) end
  local cmd = ("exec %s <%s >%s 2>%s"):format(table.concat(words, " "), q(stdin or "/dev/null"),
    q(stdout or "/dev/null"), q(stderr or "/dev/null"))
  local _, how, code = os.execute(cmd)
  if how == "signal" then return 128 + code end
  return code
end
M.run_argv = run_argv

--- Parse an isolate meta file: key -> value (the last one, as both clients'
-- readers keep; CMS keeps lists, Judge0 the last).
function M.parse_meta(text)
  if not text then return nil end
  local meta = {}
  for line in text:gmatch("[^\n]+") do
    local k, v = line:match("^([^:]*):(.*)$")
    if k then meta[k] = v end
  end
  return meta
end

-- The programs.  Exit codes name what the program saw: 42 malloc failed,
-- 20 fork failed with EAGAIN (21 another errno), 43 a write failed.
M.SOURCES = {
  ok = [[
#include <stdio.h>
int main(void) { int n = 0; if (scanf("%d", &n) != 1) return 9; printf("%d\n", 2 * n); return 0; }
]],
  re = [[
int main(void) { return 3; }
]],
  sg = [[
int main(void) { *(volatile int *)0 = 1; return 0; }
]],
  loop = [[
int main(void) { volatile unsigned long n = 0; for (;;) n++; }
]],
  sleep = [[
#include <unistd.h>
int main(void) { sleep(30); return 0; }
]],
  mem = [[
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  for (int i = 0; i < 512; i++) {
    char *p = malloc(1 << 20);
    if (!p) { printf("malloc failed after %d MiB\n", i); return 42; }
    memset(p, i + 1, 1 << 20);
  }
  printf("allocated 512 MiB\n");
  return 0;
}
]],
  fsize = [[
#include <string.h>
#include <unistd.h>
int main(void) {
  static char b[65536];
  memset(b, 'y', sizeof b);
  for (int i = 0; i < 64; i++) if (write(1, b, sizeof b) != (ssize_t)sizeof b) return 43;
  return 0;
}
]],
  fork = [[
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
  pid_t p = fork();
  if (p < 0) { printf("fork failed: %s\n", strerror(errno)); return errno == EAGAIN ? 20 : 21; }
  if (p == 0) _exit(7);
  int st;
  if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 7) return 22;
  printf("fork ok\n");
  return 0;
}
]],
  -- %s: a C array initializer of the paths to try (filled in by files_source)
  files = [[
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static const char *paths[] = { %s, 0 };
int main(void) {
  for (int i = 0; paths[i]; i++) {
    int fd = open(paths[i], O_RDONLY);
    if (fd < 0) { printf("%%s %%s\n", paths[i], strerrorname_np(errno)); continue; }
    char b[256];
    ssize_t n = read(fd, b, sizeof b - 1);
    if (n < 0) { printf("%%s OPEN %%s\n", paths[i], strerrorname_np(errno)); close(fd); continue; }
    b[n] = 0;
    for (ssize_t j = 0; j < n; j++) if (b[j] == '\n' || b[j] == 0) b[j] = '|';
    printf("%%s READ %%zd %%s\n", paths[i], n, b);
    close(fd);
  }
  return 0;
}
]],
  -- four children one after the other, each burning 0.2 s of cpu; the
  -- parent waits for each (its own cpu time stays near zero)
  children = [[
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
int main(void) {
  for (int i = 0; i < 4; i++) {
    pid_t p = fork();
    if (p < 0) return 20;
    if (p == 0) { while (clock() < CLOCKS_PER_SEC / 5) ; _exit(0); }
    int st;
    if (waitpid(p, &st, 0) != p) return 22;
  }
  return 0;
}
]],
  ce = [[
int main(void) { return 0 }
]],
}

--- The host paths the files case tries (the secret is the driver's own file,
-- outside every bound tree).
function M.file_paths(secret)
  return { "/etc/passwd", "/etc/shadow", "/proc/1/cmdline", "/proc/1/environ", "/root", "/root/.profile", secret }
end

local function files_source(secret)
  local lits = {}
  for i, p in ipairs(M.file_paths(secret)) do lits[i] = ("%q"):format(p) end
  return M.SOURCES.files:format(table.concat(lits, ", "))
end

--- Parse the files case's stdout: path -> {what = "ENOENT"|"EACCES"|"READ"|"OPEN", data = ...}.
function M.parse_files(out)
  local r = {}
  for line in (out or ""):gmatch("[^\n]+") do
    local path, rest = line:match("^(%S+) (.*)$")
    if path then
      local n, data = rest:match("^READ (%d+) ?(.*)$")
      if n then
        r[path] = { what = "READ", n = tonumber(n), data = data }
      else
        local e = rest:match("^OPEN (%S+)$")
        r[path] = e and { what = "OPEN", err = e } or { what = rest }
      end
    end
  end
  return r
end

-- The cases: program, stdin, and each client's own limits for it (CMS:
-- a task's time and memory limit, its max_file_size and multiprocess flag;
-- Judge0: a submission's cpu_time_limit, cpu_extra_time, wall_time_limit,
-- memory_limit, max_processes_and_or_threads, max_file_size).
M.CASES = {
  { name = "ok", src = "ok", stdin = "21\n" },
  { name = "re", src = "re" },
  { name = "sg", src = "sg" },
  { name = "to_cpu", src = "loop", cms = { time = 0.5 }, judge0 = { t = 0.5, x = 0, w = 2 } },
  -- CMS's evaluation step sets no extra_timeout; its Sandbox passes
  -- --extra-time when one is set, as here
  { name = "to_extra", src = "loop", cms = { time = 0.3, extra = 0.7 }, judge0 = { t = 0.3, x = 0.7, w = 2 } },
  -- cpu time spent in children the program has waited for
  { name = "to_children", src = "children", cms = { time = 0.5, multiprocess = true },
    judge0 = { t = 0.5, x = 0, w = 3, p = 4 } },
  { name = "to_wall", src = "sleep", cms = { time = 0.5 }, judge0 = { t = 5, x = 0, w = 0.5 } },
  { name = "mem", src = "mem", cms = { mem = 64 }, judge0 = { mem = 65536 } },
  { name = "fsize", src = "fsize", cms = { fsize = 1024 }, judge0 = { f = 1024 } },
  -- Judge0 runs `/bin/bash run.sh`: bash is one of the processes, so -p2 is
  -- the limit at which the program's own fork fails (with -p1 bash cannot
  -- start it and retries for seconds)
  { name = "fork_fail", src = "fork", cms = { multiprocess = false }, judge0 = { p = 2 } },
  { name = "fork_ok", src = "fork", cms = { multiprocess = true }, judge0 = { p = 4 } },
  { name = "files", src = "files" },
  { name = "ce", src = "ce", compile_only = true },
}

local function selected(opts, client)
  local want
  if opts.cases then
    want = {}
    for _, n in ipairs(opts.cases) do want[n] = true end
  end
  local list = {}
  for _, c in ipairs(M.CASES) do
    if (not c.only or c.only == client) and (not want or want[c.name]) then list[#list + 1] = c end
  end
  return list
end

local function source_of(c, secret)
  if c.src == "files" then return files_source(secret) end
  return M.SOURCES[c.src]
end

-- One invocation: run argv, keep its exit code, its stderr and the meta file.
local function invoke(S, argv, io_)
  io_ = io_ or {}
  S.commands[#S.commands + 1] = argv
  if S.log then S.log(argv) end
  local errf = S.work .. "/isolate.stderr"
  local rc = run_argv(argv, io_.stdin, io_.stdout, io_.stderr or errf)
  local r = { argv = argv, rc = rc }
  if not io_.stderr then
    r.stderr = read(errf) or ""
    os.remove(errf)
  end
  return r
end

local function stdout_of(S, argv)
  local out = S.work .. "/isolate.stdout"
  local r = invoke(S, argv, { stdout = out })
  r.stdout = read(out) or ""
  os.remove(out)
  return r
end

local function new_session(prefix, opts, client)
  local S = {
    client = client, cg = opts.cg and true or false, box = opts.box or 0,
    prefix = prefix, commands = {}, cases = {}, log = opts.log,
  }
  S.tmp = opts.tmp or "/tmp"
  S.work = mktemp_d(S.tmp, "isoclient-" .. client .. "-")
  os.execute("chmod 0755 " .. q(S.work))
  S.secret_path = S.work .. "/secret.txt"
  S.secret = ("nslua-isolate-secret-%d-%d"):format(os.time(), math.random(1, 1 << 30))
  write(S.secret_path, S.secret .. "\n", 0644)
  return S
end

local function end_session(S, opts)
  if not opts.keep then os.execute("rm -rf " .. q(S.work)) end
end

-- CMS ----------------------------------------------------------------------

-- A CMS Sandbox: Sandbox.__init__ (outer dir, home 0777, cleanup(), init).
local function cms_sandbox(S, name)
  local sb = { exec_num = -1, dirs = {}, set_env = {} }
  sb.outer = mktemp_d(S.work, "cms-" .. name .. "-")
  sb.home = sb.outer .. "/home"
  assert(os.execute("mkdir " .. q(sb.home)))
  os.execute("chmod 0777 " .. q(sb.home))             -- allow_writing_all
  sb.info_basename = sb.outer .. "/run.log"
  sb.dirs[#sb.dirs + 1] = { sb.home, "/tmp", "rw" }   -- add_mapped_directory(home, /tmp, rw)
  sb.set_env[#sb.set_env + 1] = { "HOME", "/tmp" }
  -- maybe_add_mapped_directory("/etc/alternatives"), ("/etc/mono", noexec)
  if exists("/etc/alternatives") then sb.dirs[#sb.dirs + 1] = { "/etc/alternatives", "/etc/alternatives" } end
  if exists("/etc/mono") then sb.dirs[#sb.dirs + 1] = { "/etc/mono", "/etc/mono", "noexec" } end
  sb.max_processes = 1
  -- self.cleanup(); self.initialize_isolate()
  local exe = concat(S.prefix, S.cg and { "--cg" } or {}, { "--box-id=" .. S.box })
  sb.pre_cleanup = invoke(S, concat(exe, { "--cleanup" }))
  sb.init = stdout_of(S, concat(S.prefix, S.cg and { "--cg" } or {}, { "--box-id=" .. S.box, "--init" }))
  sb.box_path = sb.init.stdout:match("^([^\n]*)")
  return sb
end

-- Sandbox.build_box_options + _popen: the --run command line.
local function cms_argv(S, sb, command)
  local res = { "--box-id=" .. S.box }
  if S.cg then res[#res + 1] = "--cg" end
  res[#res + 1] = "--chdir=/tmp"
  for _, d in ipairs(sb.dirs) do
    local s = d[2]
    if d[1] then s = s .. "=" .. d[1] end
    if d[3] then s = s .. ":" .. d[3] end
    res[#res + 1] = "--dir=" .. s
  end
  if sb.preserve_env then res[#res + 1] = "--full-env" end
  for _, kv in ipairs(sb.set_env) do res[#res + 1] = ("--env=%s=%s"):format(kv[1], kv[2]) end
  if sb.fsize then res[#res + 1] = ("--fsize=%d"):format(sb.fsize // 1024) end
  if sb.stdin_file then res[#res + 1] = "--stdin=/tmp/" .. sb.stdin_file end
  if sb.address_space then
    if S.cg then
      res[#res + 1] = ("--cg-mem=%d"):format(sb.address_space // 1024)
    else
      res[#res + 1] = ("--mem=%d"):format(sb.address_space // 1024)
    end
  end
  if sb.stdout_file then res[#res + 1] = "--stdout=/tmp/" .. sb.stdout_file end
  res[#res + 1] = ("--processes=%d"):format(sb.max_processes)
  if sb.stderr_file then res[#res + 1] = "--stderr=/tmp/" .. sb.stderr_file end
  if sb.timeout then res[#res + 1] = ("--time=%g"):format(sb.timeout) end
  if sb.wallclock_timeout then res[#res + 1] = ("--wall-time=%g"):format(sb.wallclock_timeout) end
  if sb.extra_timeout then res[#res + 1] = ("--extra-time=%g"):format(sb.extra_timeout) end
  res[#res + 1] = ("--meta=%s.%d"):format(sb.info_basename, sb.exec_num)
  res[#res + 1] = "--run"
  return concat(S.prefix, res, { "--" }, command)
end

-- execute_without_std(command, wait=True): stdin a closed pipe, stdout and
-- stderr read (isolate's own; the program's go to the --stdout/--stderr files).
local function cms_execute(S, sb, command)
  sb.exec_num = sb.exec_num + 1
  local argv = cms_argv(S, sb, command)
  local out = S.work .. "/isolate.stdout"
  local r = invoke(S, argv, { stdout = out })
  r.isolate_stdout = read(out) or ""
  os.remove(out)
  r.meta_text = read(("%s.%d"):format(sb.info_basename, sb.exec_num))
  r.meta = M.parse_meta(r.meta_text)
  if sb.stdout_file then r.stdout = read(sb.home .. "/" .. sb.stdout_file) end
  if sb.stderr_file then r.prog_stderr = read(sb.home .. "/" .. sb.stderr_file) end
  return r
end

-- Sandbox.cleanup(delete=True): chmod run, --cleanup, rmtree(outer).
local function cms_cleanup(S, sb)
  local exe = concat(S.prefix, S.cg and { "--cg" } or {}, { "--box-id=" .. S.box })
  sb.chmod = invoke(S, concat(exe, { ("--dir=%s=%s:rw"):format("/tmp", sb.home), "--run", "--",
    "/bin/chmod", "777", "-R", "/tmp" }))
  sb.cleanup = invoke(S, concat(exe, { "--cleanup" }))
  sb.box_gone = not (sb.box_path and sb.box_path ~= "" and exists(sb.box_path))
  os.execute("rm -rf " .. q(sb.outer))
end

local function cms_case(S, c)
  local res = { name = c.name }
  local lim = c.cms or {}
  -- compilation sandbox: compilation_step with the C11 / gcc command
  local sb = cms_sandbox(S, "compile")
  res.compile_box = sb
  write(sb.home .. "/prog.c", source_of(c, S.secret_path), 0644)   -- create_file_from_string
  sb.dirs[#sb.dirs + 1] = { "/etc", "/etc" }                       -- add_mapped_directory("/etc")
  if exists("/var/lib/ghc") then sb.dirs[#sb.dirs + 1] = { "/var/lib/ghc", "/var/lib/ghc" } end
  sb.preserve_env = true
  sb.max_processes = 1000                -- compilation_sandbox_max_processes
  sb.timeout = 10.0                      -- compilation_sandbox_max_time_s
  sb.wallclock_timeout = 2 * sb.timeout + 1
  sb.address_space = 512 * 1024 * 1024   -- compilation_sandbox_max_memory_kib
  sb.stdout_file = "compilation_stdout_0.txt"
  sb.stderr_file = "compilation_stderr_0.txt"
  res.compile = cms_execute(S, sb, { "/usr/bin/gcc", "-DEVAL", "-std=gnu11", "-O2", "-pipe", "-static",
    "-s", "-o", "prog", "prog.c", "-lm" })
  local exe = read(sb.home .. "/prog")
  cms_cleanup(S, sb)
  if c.compile_only or not exe then return res end
  -- evaluation sandbox: evaluation_step (Batch, stdin/stdout I/O)
  local eb = cms_sandbox(S, "evaluate")
  res.eval_box = eb
  write(eb.home .. "/prog", exe, 0755)                   -- create_file(executable=True)
  write(eb.home .. "/input.txt", c.stdin or "", 0644)
  local time = lim.time or 1.0
  eb.timeout = time
  eb.wallclock_timeout = 2 * time + 1
  eb.extra_timeout = lim.extra
  eb.address_space = (lim.mem or 256) * 1024 * 1024
  eb.fsize = (lim.fsize or 1024 * 1024) * 1024           -- max_file_size (KiB) * 1024
  eb.stdin_file = "input.txt"
  eb.stdout_file = "output.txt"
  eb.stderr_file = "stderr.txt"
  -- allow_writing_only([stderr.txt, output.txt]): files 0722, the rest 0755
  for _, f in ipairs({ "stderr.txt", "output.txt" }) do write(eb.home .. "/" .. f, "") end
  os.execute(("chmod 0755 %s %s/prog %s/input.txt && chmod 0722 %s/stderr.txt %s/output.txt"):format(
    q(eb.home), q(eb.home), q(eb.home), q(eb.home), q(eb.home)))
  eb.max_processes = lim.multiprocess and 1000 or 1      -- set_multiprocess
  res.run = cms_execute(S, eb, { "./prog" })
  cms_cleanup(S, eb)
  return res
end

--- The CMS-like session: every case, each with its own compilation and
-- evaluation sandbox.  Returns the session table (cases by name).
function M.cms(prefix, opts)
  opts = opts or {}
  local S = new_session(prefix, opts, "cms")
  for _, c in ipairs(selected(opts, "cms")) do S.cases[c.name] = cms_case(S, c) end
  end_session(S, opts)
  return S
end

-- Judge0 -------------------------------------------------------------------

M.JUDGE0_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
M.JUDGE0_DEFAULTS = { t = 5, x = 1, w = 10, k = 64000, p = 60, mem = 128000, f = 1024 }

-- The limits and environment part both command lines share.
local function judge0_limits(S, t, x, w, k, p, mem, f)
  local a = { "-t", ("%g"):format(t), "-x", ("%g"):format(x), "-w", ("%g"):format(w), "-k", tostring(k),
    "-p" .. p }
  -- both per-process switches follow the cg choice: "--cg" when either is
  -- off; "-m " (two words) when the memory one is on, "--cg-mem=" otherwise
  if S.cg then
    a[#a + 1] = "--cg-mem=" .. mem
  else
    a[#a + 1] = "-m"
    a[#a + 1] = tostring(mem)
  end
  return concat(a, { "-f", tostring(f),
    "-E", "HOME=/tmp", "-E", "PATH=" .. M.JUDGE0_PATH,
    "-E", "LANG", "-E", "LANGUAGE", "-E", "LC_ALL", "-E", "JUDGE0_HOMEPAGE", "-E", "JUDGE0_SOURCE_CODE",
    "-E", "JUDGE0_MAINTAINER", "-E", "JUDGE0_VERSION",
    "-d", "/etc:noexec", "--run", "--" })
end

local function judge0_case(S, c)
  local res = { name = c.name }
  local cg = S.cg and { "--cg" } or {}
  local lim = {}
  for k, v in pairs(M.JUDGE0_DEFAULTS) do lim[k] = v end
  for k, v in pairs(c.judge0 or {}) do lim[k] = v end
  -- initialize_workdir
  res.init = stdout_of(S, concat(S.prefix, cg, { "-b", tostring(S.box), "--init" }))
  local workdir = res.init.stdout:gsub("\n$", "")
  res.workdir = workdir
  if res.init.rc ~= 0 or workdir == "" then return res end
  local boxdir, tmpdir = workdir .. "/box", workdir .. "/tmp"
  local stdin_file, stdout_file = workdir .. "/stdin.txt", workdir .. "/stdout.txt"
  local stderr_file, metadata_file = workdir .. "/stderr.txt", workdir .. "/metadata.txt"
  for _, f in ipairs({ stdin_file, stdout_file, stderr_file, metadata_file }) do write(f, "") end
  write(boxdir .. "/main.c", source_of(c, S.secret_path))
  write(stdin_file, c.stdin or "")
  -- compile: "C (GCC)" compile_cmd "<gcc> %s main.c" with no compiler options
  write(boxdir .. "/compile.sh", "/usr/bin/gcc  main.c")
  local compile_output_file = workdir .. "/compile_output.txt"
  write(compile_output_file, "")
  local argv = concat(S.prefix, cg, { "-s", "-b", tostring(S.box), "-M", metadata_file, "--stderr-to-stdout",
    "-i", "/dev/null" }, judge0_limits(S, 15, 0, 20, 128000, 120, 512000, 4096), { "/bin/bash", "compile.sh" })
  res.compile = invoke(S, argv, { stdout = compile_output_file })
  res.compile.stdout = read(compile_output_file)
  res.compile.meta_text = read(metadata_file)
  res.compile.meta = M.parse_meta(res.compile.meta_text)
  os.remove(metadata_file)                               -- reset_metadata_file
  write(metadata_file, "")
  os.execute(("rm -rf %s %s"):format(q(compile_output_file), q(boxdir .. "/compile.sh")))
  if res.compile.rc == 0 and not c.compile_only then
    -- run: run_cmd "./a.out" plus " " and the (empty) command line arguments
    write(boxdir .. "/run.sh", "./a.out ")
    argv = concat(S.prefix, cg, { "-s", "-b", tostring(S.box), "-M", metadata_file },
      judge0_limits(S, lim.t, lim.x, lim.w, lim.k, lim.p, lim.mem, lim.f), { "/bin/bash", "run.sh" })
    res.run = invoke(S, argv, { stdin = stdin_file, stdout = stdout_file, stderr = stderr_file })
    os.remove(boxdir .. "/run.sh")
    -- verify
    res.run.meta_text = read(metadata_file)
    res.run.meta = M.parse_meta(res.run.meta_text)
    res.run.stdout = read(stdout_file)
    res.run.stderr = read(stderr_file)                  -- isolate's (silent) and the program's
  end
  -- cleanup: fix_permissions, rm box/* tmp/*, the files, --cleanup
  os.execute(("chown -R %s %s"):format("$(id -u):$(id -g)", q(boxdir)))
  os.execute(("rm -rf %s/* %s/*"):format(q(boxdir), q(tmpdir)))
  os.execute(("rm -rf %s %s %s %s"):format(q(stdin_file), q(stdout_file), q(stderr_file), q(metadata_file)))
  res.cleanup = invoke(S, concat(S.prefix, cg, { "-b", tostring(S.box), "--cleanup" }))
  res.box_gone = not exists(workdir)                     -- "Cleanup of sandbox failed" otherwise
  return res
end

--- The Judge0-like session: one submission per case (init, compile, run,
-- cleanup).  Returns the session table (cases by name).
function M.judge0(prefix, opts)
  opts = opts or {}
  local S = new_session(prefix, opts, "judge0")
  for _, c in ipairs(selected(opts, "judge0")) do S.cases[c.name] = judge0_case(S, c) end
  end_session(S, opts)
  return S
end

-- The reference ------------------------------------------------------------
--
-- What real isolate 2.6 gives each case (measured without --cg on Debian 12,
-- kernel 6.18, docs/isolate-reference.md) and, in `cg`, what changes with
-- --cg (from isolate's cg.c and isolate.1: the time is the cgroup's cpu.stat
-- usage, so it counts every process in the box; --cg-mem is memory.max with
-- swap 0, a page-fault OOM kill is SIGKILL; meta cg-mem always and
-- cg-oom-killed after an OOM kill).
--
-- Keys: rc (isolate's exit code); meta keys (a string: that value; ABSENT:
-- no such line; {lo, hi}: a number in the range); stderr and stdout (Lua
-- patterns: isolate's own stderr for CMS, the program's stderr file for
-- Judge0, whose isolate runs with -s; stdout the program's output);
-- stdout_len; files (path -> ENOENT/EACCES/READ); phase ("compile": the
-- case ends with the compile run).  Times are ranges wide enough for a busy
-- host: isolate checks its limits every 100 ms, a faster poll lands nearer
-- the lower end.
M.ABSENT = false
local A = M.ABSENT
local OK_LINE = "^OK %(%d+%.%d%d%d sec real, %d+%.%d%d%d sec wall%)\n$"
local FAST = { 0, 0.5 }

local function files_cms(secret)
  local t = {}
  for _, p in ipairs(M.file_paths(secret)) do t[p] = "ENOENT" end
  return t
end

local function files_judge0(secret)
  local t = files_cms(secret)
  t["/etc/passwd"] = "READ"      -- Judge0 binds /etc (noexec) on purpose
  t["/etc/shadow"] = "EACCES"
  return t
end

M.REFERENCE = {
  cms = {
    ok = { rc = 0, exitcode = "0", status = A, killed = A, time = FAST, stdout = "^42\n$", stderr = OK_LINE },
    re = { rc = 1, status = "RE", exitcode = "3", exitsig = A, killed = A, message = "Exited with error status 3",
      time = FAST, stderr = "^Exited with error status 3\n$" },
    sg = { rc = 1, status = "SG", exitsig = "11", exitcode = A, killed = A, message = "Caught fatal signal 11",
      time = FAST, stderr = "^Caught fatal signal 11\n$" },
    to_cpu = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A, message = "Time limit exceeded",
      time = { 0.5, 1.0 }, stderr = "^Time limit exceeded\n$" },
    to_extra = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A, message = "Time limit exceeded",
      time = { 0.7, 1.2 }, stderr = "^Time limit exceeded\n$" },
    -- without --cg isolate polls the program's own utime+stime only: the
    -- children's time shows in the final rusage, after the program ended
    to_children = { rc = 1, status = "TO", killed = A, exitcode = A, exitsig = A, message = "Time limit exceeded",
      time = { 0.8, 1.5 }, stderr = "^Time limit exceeded\n$",
      cg = { killed = "1", time = { 0.5, 1.0 } } },
    to_wall = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A,
      message = "Time limit exceeded (wall clock)", time = { 0, 0.2 }, ["time-wall"] = { 2.0, 2.5 },
      stderr = "^Time limit exceeded %(wall clock%)\n$" },
    mem = { rc = 1, status = "RE", exitcode = "42", exitsig = A, killed = A, message = "Exited with error status 42",
      stdout = "^malloc failed after %d+ MiB\n$", stderr = "^Exited with error status 42\n$",
      cg = { status = "SG", exitcode = A, exitsig = "9", message = "Caught fatal signal 9", ["cg-oom-killed"] = "1",
        stdout = "^$", stderr = "^Caught fatal signal 9\n$", ["cg-mem"] = { 60000, 70000 } } },
    fsize = { rc = 1, status = "SG", exitsig = "25", exitcode = A, killed = A, message = "Caught fatal signal 25",
      stdout_len = 1048576, stderr = "^Caught fatal signal 25\n$" },
    fork_fail = { rc = 1, status = "RE", exitcode = "20", killed = A, message = "Exited with error status 20",
      stdout = "^fork failed: Resource temporarily unavailable\n$", stderr = "^Exited with error status 20\n$" },
    fork_ok = { rc = 0, status = A, exitcode = "0", stdout = "^fork ok\n$", stderr = OK_LINE },
    files = { rc = 0, status = A, exitcode = "0", files = files_cms, stderr = OK_LINE },
    ce = { phase = "compile", rc = 1, status = "RE", exitcode = "1", message = "Exited with error status 1",
      stderr = "^Exited with error status 1\n$", prog_stderr = "error: expected" },
  },
  judge0 = {
    ok = { rc = 0, exitcode = "0", status = A, killed = A, time = FAST, stdout = "^42\n$", stderr = "^$" },
    re = { rc = 1, status = "RE", exitcode = "3", exitsig = A, killed = A, message = "Exited with error status 3",
      time = FAST, stderr = "^$" },
    -- `/bin/bash run.sh` runs ./a.out as its child: a signal is bash's exit 128+N
    sg = { rc = 1, status = "RE", exitcode = "139", exitsig = A, killed = A, message = "Exited with error status 139",
      stderr = "^run%.sh: line 1: +%d+ Segmentation fault +%./a%.out\n$" },
    -- without --cg the polled time is bash's own: the loop in its child
    -- never reaches -t, the wall clock ends it; the final time is what the
    -- reaped processes had used (the child's share only when the kernel
    -- reaped it into the proxy first)
    to_cpu = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A,
      message = "Time limit exceeded (wall clock)", ["time-wall"] = { 2.0, 2.5 }, time = { 0, 2.5 }, stderr = "^$",
      cg = { message = "Time limit exceeded", time = { 0.5, 1.0 }, ["time-wall"] = { 0.5, 2.0 } } },
    to_extra = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A,
      message = "Time limit exceeded (wall clock)", ["time-wall"] = { 2.0, 2.5 }, time = { 0, 2.5 }, stderr = "^$",
      cg = { message = "Time limit exceeded", time = { 0.7, 1.2 }, ["time-wall"] = { 0.7, 2.0 } } },
    to_children = { rc = 1, status = "TO", killed = A, exitcode = A, exitsig = A, message = "Time limit exceeded",
      time = { 0.8, 1.5 }, stderr = "^$",
      cg = { killed = "1", time = { 0.5, 1.0 } } },
    to_wall = { rc = 1, status = "TO", killed = "1", exitcode = A, exitsig = A,
      message = "Time limit exceeded (wall clock)", time = { 0, 0.2 }, ["time-wall"] = { 0.5, 1.0 }, stderr = "^$" },
    mem = { rc = 1, status = "RE", exitcode = "42", exitsig = A, killed = A, message = "Exited with error status 42",
      stdout = "^malloc failed after %d+ MiB\n$", stderr = "^$",
      -- the OOM killer takes ./a.out, bash reports it
      cg = { exitcode = "137", message = "Exited with error status 137", ["cg-oom-killed"] = "1", stdout = "^$",
        stderr = "^run%.sh: line 1: +%d+ Killed +%./a%.out\n$", ["cg-mem"] = { 60000, 70000 } } },
    fsize = { rc = 1, status = "RE", exitcode = "153", exitsig = A, killed = A,
      message = "Exited with error status 153",
      stdout_len = 1048576, stderr = "^run%.sh: line 1: +%d+ File size limit exceeded ?%./a%.out\n$" },
    fork_fail = { rc = 1, status = "RE", exitcode = "20", killed = A, message = "Exited with error status 20",
      stdout = "^fork failed: Resource temporarily unavailable\n$", stderr = "^$" },
    fork_ok = { rc = 0, status = A, exitcode = "0", stdout = "^fork ok\n$", stderr = "^$" },
    files = { rc = 0, status = A, exitcode = "0", files = files_judge0, stderr = "^$" },
    ce = { phase = "compile", rc = 1, status = "RE", exitcode = "1", message = "Exited with error status 1",
      stdout = "error: expected", stderr = "^$" },
  },
}

--- The expectation for one case: the reference with its cg overrides applied.
function M.expected(client, name, cg)
  local ref = M.REFERENCE[client][name]
  local e = {}
  for k, v in pairs(ref) do if k ~= "cg" then e[k] = v end end
  if cg then
    for k, v in pairs(ref.cg or {}) do e[k] = v end
  end
  return e
end

local function shown(v)
  if v == nil then return "nil" end
  return ("%q"):format(v):gsub("\\\n", "\\n")
end

--- Compare one case of session S with the reference; ctx.root (the box
-- root, when known) also checks the --init output.  Returns a list of
-- failures (empty when the case matches).
function M.check_case(S, name, ctx)
  ctx = ctx or {}
  local bad = {}
  local function fail(fmt, ...) bad[#bad + 1] = ("%s/%s: " .. fmt):format(S.client, name, ...) end
  local r = S.cases[name]
  if not r then
    fail("not run")
    return bad
  end
  local e = M.expected(S.client, name, S.cg)
  -- the client's own steps around the run
  local boxes = S.client == "cms" and { r.compile_box, r.eval_box } or { r }
  for _, b in ipairs(boxes) do
    if b then
      if S.client == "cms" then
        if b.pre_cleanup.rc ~= 0 then fail("--cleanup before --init exited %s", b.pre_cleanup.rc) end
        -- CMS's chmod run: box user may not chmod the caller's files (rc 1, ignored)
        if b.chmod and b.chmod.rc ~= 1 then fail("chmod run exited %s, not 1", b.chmod.rc) end
      end
      if b.init.rc ~= 0 then fail("--init exited %s: %s", b.init.rc, b.init.stderr or "") end
      if ctx.root and b.init.stdout ~= ("%s/%d\n"):format(ctx.root, S.box) then
        fail("--init printed %s", shown(b.init.stdout))
      end
      if b.cleanup and b.cleanup.rc ~= 0 then fail("--cleanup exited %s", b.cleanup.rc) end
      if not b.box_gone then fail("box dir still there after --cleanup") end
    end
  end
  if e.phase ~= "compile" then
    local c = r.compile
    if not c or c.rc ~= 0 then
      fail("compile exited %s: %s", c and c.rc, c and (c.stderr or "") .. (c.prog_stderr or c.stdout or ""))
      return bad
    end
  end
  local x = e.phase == "compile" and r.compile or r.run
  if not x then
    fail("no run")
    return bad
  end
  local meta = x.meta
  if not meta then
    fail("no meta file")
    meta = {}
  end
  if x.rc ~= e.rc then fail("isolate exited %s, want %s", x.rc, e.rc) end
  local keys = { "status", "exitcode", "exitsig", "killed", "message", "time", "time-wall", "cg-oom-killed",
    "cg-mem" }
  for _, k in ipairs(keys) do
    local want, got = e[k], meta[k]
    if k == "cg-oom-killed" and want == nil and not S.cg then want = A end
    if k == "cg-mem" and want == nil then
      if S.cg then want = "^%d+$" else want = A end
    end
    if want == A then
      if got ~= nil then fail("meta %s:%s, want none", k, got) end
    elseif type(want) == "table" then
      local n = tonumber(got)
      if not n or n < want[1] or n > want[2] then
        fail("meta %s:%s, want %g..%g", k, tostring(got), want[1], want[2])
      end
    elseif type(want) == "string" and want:sub(1, 1) == "^" then
      if not (got and got:match(want)) then fail("meta %s:%s, want %s", k, tostring(got), want) end
    elseif want ~= nil and got ~= want then
      fail("meta %s:%s, want %s", k, tostring(got), want)
    end
  end
  for _, k in ipairs({ "time", "time-wall" }) do
    if meta[k] and not meta[k]:match("^%d+%.%d%d%d$") then fail("meta %s:%s is not N.NNN", k, meta[k]) end
  end
  for _, k in ipairs({ "stdout", "stderr", "prog_stderr" }) do
    if e[k] and not (x[k] or ""):match(e[k]) then fail("%s %s does not match %s", k, shown(x[k]), e[k]) end
  end
  if e.stdout_len and #(x.stdout or "") ~= e.stdout_len then
    fail("stdout is %d bytes, want %d", #(x.stdout or ""), e.stdout_len)
  end
  if e.files then
    local got = M.parse_files(x.stdout)
    for path, what in pairs(e.files(S.secret_path)) do
      local g = got[path]
      if not g or g.what ~= what then fail("%s: %s, want %s", path, g and g.what or "no line", what) end
    end
    if (x.stdout or ""):find(S.secret, 1, true) then fail("the host secret was read") end
  end
  return bad
end

--- All cases of session S checked; returns the list of failures.
function M.check(S, ctx)
  local bad = {}
  for _, c in ipairs(M.CASES) do
    if S.cases[c.name] then
      for _, f in ipairs(M.check_case(S, c.name, ctx)) do bad[#bad + 1] = f end
    end
  end
  return bad
end

--- A command line as a shell would show it (for reports).
function M.show(argv)
  local w = {}
  for i, a in ipairs(argv) do
    w[i] = a:match("^[%w%-%./_=:,+]+$") and a or q(a)
  end
  return table.concat(w, " ")
end

return M
