--- nslua isolate: isolate 2.x's command line (docs/isolate.md).
--
--   nslua isolate [OPTIONS] --init | --run -- PROG [ARGS] | --cleanup
--
-- The judges people run (CMS, Judge0) call `isolate`.  This front end
-- speaks its contract: the options and their glued forms, persistent boxes
-- under a configurable root with one stable uid per box, isolate's
-- directory and environment rules, its units (KiB, seconds), its meta-file
-- keys and texts, and its exit codes (0 OK, 1 the program failed, 2 an
-- error of the sandbox or of the command line).  Like every front end it
-- ends at a spec: the run is nslua's one executor (DESIGN "Front ends").
--
-- Run as root, a box's program runs as host uid first_uid + ID (60000 + ID
-- by default, the same number inside); run by another user, nslua's
-- rootless mode runs it as that user.  Through the setuid launcher
-- (nslua-isolate) the caller is the launcher's NSLUA_ISOLATE_CALLER.
local core = require "nslua.core"
local mount, proc = core.mount, core.proc

local M = {}

M.PROG = "isolate"
M.ISOLATE_VERSION = "2.6"
M.EXIT_OK, M.EXIT_FAILED, M.EXIT_ERROR = 0, 1, 2

--- Configuration defaults (/etc/nslua.conf `isolate_*` keys; isolate's).
M.DEFAULTS = {
  root = "/var/local/lib/isolate",
  lock_root = "/run/nslua/isolate",
  first_uid = 60000,
  first_gid = 60000,
  num_boxes = 1000,
  restricted_init = 0,
  syscall_flags = 31,
}

-- --------------------------------------------------------------- failures

-- die(): an error of the sandbox (status XX, exit 2); err(): the program's
-- verdict (exit 1); usage(): a command-line error (exit 2, no meta).
local Die, Usage = {}, {}
local function die(fmt, ...)
  error(setmetatable({ msg = fmt:format(...) }, Die), 0)
end
local function usage(fmt, ...)
  error(setmetatable({ msg = fmt:format(...) }, Usage), 0)
end

-- ---------------------------------------------------------------- options

-- { long, short, arg ("required" | "optional" | nil), key, help }: the one
-- table the parser, the help text and the docs come from.
M.OPTIONS = {
  { "as-uid", nil, "required", "as_uid", "Perform action on behalf of a given user (requires root)" },
  { "as-gid", nil, "required", "as_gid", "Perform action on behalf of a given group (requires root)" },
  { "box-id", "b", "required", "box_id", "When multiple sandboxes are used in parallel, each must get a unique ID" },
  { "cg", nil, nil, "cg", "Enable use of control groups" },
  { "cg-mem", nil, "required", "cg_mem", "Limit memory usage of the control group to <size> KB" },
  { "cg-timing", nil, nil, "cg_timing", "isolate 1.x: accepted, --cg always times the whole group" },
  { "no-cg-timing", nil, nil, "no_cg_timing", "isolate 1.x: accepted, no effect" },
  { "chdir", "c", "required", "chdir", "Change directory to <dir> before executing the program" },
  { "check-config", nil, nil, "mode", "Check configuration file and exit" },
  { "cleanup", nil, nil, "mode", "Clean up sandbox" },
  { "core", nil, "required", "core", "Limit core files to <size> KB (default: 0)" },
  { "dir", "d", "required", "dir", "Make a directory visible inside the sandbox: <in>[=<out>][:<opts>]" },
  { "no-default-dirs", "D", nil, "no_default_dirs", "Do not add default directory rules" },
  { "env", "E", "required", "env", "Inherit <var> from the parent, or set <var>=<val> (unset if empty)" },
  { "extra-time", "x", "required", "extra_time", "Set extra timeout before a timing-out program is killed" },
  { "full-env", "e", nil, "full_env", "Inherit full environment of the parent process" },
  { "fsize", "f", "required", "fsize", "Max size (in KB) of files that can be created" },
  { "help", nil, nil, "mode", "Show this help" },
  { "inherit-fds", nil, nil, "inherit_fds", "Inherit all file descriptors of the parent process" },
  { "init", nil, nil, "mode", "Initialize sandbox (and its control group when --cg is used)" },
  { "mem", "m", "required", "mem", "Limit address space to <size> KB" },
  { "meta", "M", "required", "meta", "Output process information to <file> (name:value)" },
  { "open-files", "n", "required", "open_files", "Limit number of open files to <max> (default: 1024, 0=unlimited)" },
  { "print-cg-root", nil, nil, "mode", "Print the root of cgroup hierarchy" },
  { "processes", "p", "optional", "processes", "Enable multiple processes (at most <max> of them)" },
  { "quota", "q", "required", "quota", "Set disk quota to <blk>,<ino> (not supported by nslua)" },
  { "run", nil, nil, "mode", "Run given command within sandbox" },
  { "share-net", nil, nil, "share_net", "Share network namespace with the parent process" },
  { "silent", "s", nil, "silent", "Do not print status messages except for fatal errors" },
  { "special-files", nil, nil, "special_files", "Keep non-regular files (symlinks etc.) produced inside sandbox" },
  { "stack", "k", "required", "stack", "Limit stack size to <size> KB (default: 0=unlimited)" },
  { "stderr", "r", "required", "stderr", "Redirect stderr to <file>" },
  { "stderr-to-stdout", nil, nil, "stderr_to_stdout", "Redirect stderr to stdout" },
  { "stdin", "i", "required", "stdin", "Redirect stdin from <file>" },
  { "stdout", "o", "required", "stdout", "Redirect stdout to <file>" },
  { "syscalls", nil, "required", "syscalls", "Set syscall_flags (see docs/isolate.md)" },
  { "time", "t", "required", "time", "Set run time limit (seconds, fractions allowed)" },
  { "tty-hack", nil, nil, "tty_hack", "Allow interactive programs in the sandbox (accepted, no effect)" },
  { "verbose", "v", nil, "verbose", "Be verbose (use multiple times for even more verbosity)" },
  { "version", nil, nil, "mode", "Display program version and configuration" },
  { "wait", nil, nil, "wait", "If the sandbox is currently busy, wait instead of refusing to run" },
  { "wall-time", "w", "required", "wall", "Set wall clock time limit (seconds, fractions allowed)" },
}

local LONG, SHORT = {}, {}
for _, o in ipairs(M.OPTIONS) do
  LONG[o[1]] = o
  if o[2] then SHORT[o[2]] = o end
end

--- The help text (printed on stdout, as isolate does).
function M.usage_text(prog)
  local lines = { ("Usage: %s [<options>] <command>"):format(prog or M.PROG), "", "Options:" }
  for _, o in ipairs(M.OPTIONS) do
    if o[4] ~= "mode" then
      local arg = o[3] == "required" and "=<arg>" or o[3] == "optional" and "[=<arg>]" or ""
      lines[#lines + 1] = ("%-4s--%-22s %s"):format(o[2] and ("-" .. o[2] .. ",") or "", o[1] .. arg, o[5])
    end
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Commands:"
  for _, o in ipairs(M.OPTIONS) do
    if o[4] == "mode" then
      lines[#lines + 1] = ("    --%-22s %s"):format(o[1] == "run" and "run -- <cmd> ..." or o[1], o[5])
    end
  end
  return table.concat(lines, "\n") .. "\n"
end

-- isolate's opt_uint: a decimal that fits a signed int.
local function uint(v)
  local s = v:match("^%s*%+?(%d+)$")
  local n = s and math.tointeger(tonumber(s))
  if not n then
    if v:match("^%s*%-%d+$") then usage("Numeric parameter out of range: %s", v) end
    usage("Invalid numeric parameter: %s", v)
  end
  if n > 0x7fffffff then usage("Numeric parameter out of range: %s", v) end
  return n
end

-- C's atof: the longest leading number, 0 when there is none.
local function atof(v)
  local s = v:match("^%s*([+-]?%d*%.?%d*[eE][+-]?%d+)") or v:match("^%s*([+-]?%d*%.?%d*)")
  return tonumber(s) or 0
end

-- ------------------------------------------------------------ dir rules

-- isolate's rule flags, in its order (bit i = 1 << (i - 1)).
local DIR_FLAGS = { "rw", "noexec", "fs", "maybe", "dev", "tmp", "norec" }
local FS_TYPES = { proc = true, sysfs = true, tmpfs = true, devpts = true }

-- The inside path of a rule: leading slashes gone, no "..", not empty.
local function sanitize_in(path)
  local parts = {}
  for c in path:gmatch("[^/]+") do
    -- ".." would leave the box; "." would name the rule's parent (isolate
    -- takes "."; nslua refuses it: "--dir=.:tmp" would be box/tmp itself)
    if c == ".." or c == "." then return nil end
    parts[#parts + 1] = c
  end
  if #parts == 0 then return nil end
  return table.concat(parts, "/")
end

--- Add (or replace, keeping its place) a directory rule; nil or an error text.
-- @tparam table rules { list = {...}, by = {inside = rule} }
-- @tparam string arg the --dir value
-- @tparam[opt] boolean default a built-in rule
function M.dir_rule(rules, arg, default)
  local main, opts = arg:match("^([^:]*):?(.*)$")
  local flags = {}
  if arg:find(":", 1, true) then
    for opt in (opts .. ":"):gmatch("([^:]*):") do
      local known = false
      for _, f in ipairs(DIR_FLAGS) do
        if f == opt then flags[f], known = true, true end
      end
      if not known then return ("Unknown option '%s'"):format(opt) end
    end
  end
  local inside, out = main:match("^([^=]*)=(.*)$")
  inside = inside or main
  if flags.fs and flags.tmp then return "Flags 'fs' and 'tmp' are mutually exclusive" end
  local r = { flags = flags, default = default or nil }
  if flags.fs then
    if not out then return "Missing filesystem name" end
    if not FS_TYPES[out] then return "This filesystem is not supported" end
    r.fs = out
  elseif flags.tmp then
    if out then return "Temporary directory mounts do not have a right-hand side" end
    flags.rw = true
  elseif out then
    if out == "" then
      r.disabled = true
    elseif out:sub(1, 1) ~= "/" and out:sub(1, 2) ~= "./" then
      return "Right-hand side must start with '/' or './'"
    else
      r.out = out
    end
  else
    r.out = "/" .. inside
  end
  local clean = sanitize_in(inside)
  if not clean then return "Invalid path" end
  r.inside = clean
  if r.out == "/" .. inside then r.out = "/" .. clean end
  if flags.tmp then
    -- a flat directory under the box's tmp/: "a/b" -> tmp/a:b
    r.out = "./tmp/" .. clean:gsub("/", ":")
  end
  local old = rules.by[clean]
  if old then
    for k in pairs(old) do old[k] = nil end
    for k, v in pairs(r) do old[k] = v end
  else
    rules.list[#rules.list + 1] = r
    rules.by[clean] = r
  end
  return nil
end

--- isolate's default rules (isolate.1 "Directory rules").
M.DEFAULT_DIRS = {
  "box=./box:rw", "bin", "dev:dev:norec", "dev/shm=tmpfs:fs:rw", "lib", "lib64:maybe",
  "proc=proc:fs", "tmp:tmp", "usr",
}

local function new_rules()
  local rules = { list = {}, by = {} }
  for _, d in ipairs(M.DEFAULT_DIRS) do
    local e = M.dir_rule(rules, d, true)
    if e then error("built-in directory rule " .. d .. ": " .. e) end
  end
  return rules
end

-- ---------------------------------------------------------------- parsing

-- GNU getopt_long, as isolate calls it: options and operands permute
-- until "--", long names may be abbreviated, a short option's argument may
-- be glued (-b5) and an optional one must be (-p4).
local function getopt(args)
  local opts, operands, i, n = {}, {}, 1, args.n or #args
  local function take(o, val, label)
    opts[#opts + 1] = { o = o, val = val, label = label }
  end
  while i <= n do
    local a = args[i]
    if a == "--" then
      for j = i + 1, n do operands[#operands + 1] = args[j] end
      break
    elseif a:sub(1, 2) == "--" then
      local name, val = a:match("^%-%-([^=]*)=(.*)$")
      name = name or a:sub(3)
      local o = LONG[name]
      if not o then
        local hits = {}
        for _, c in ipairs(M.OPTIONS) do
          if c[1]:sub(1, #name) == name then hits[#hits + 1] = c end
        end
        if #hits == 1 then
          o = hits[1]
        elseif #hits > 1 then
          local names = {}
          for _, h in ipairs(hits) do names[#names + 1] = "'--" .. h[1] .. "'" end
          usage("%s: option '%s' is ambiguous; possibilities: %s", M.PROG, a:match("^[^=]*"),
            table.concat(names, " "))
        else
          usage("%s: unrecognized option '%s'", M.PROG, a)
        end
      end
      if not o[3] and val then
        usage("%s: option '--%s' doesn't allow an argument", M.PROG, o[1])
      end
      if o[3] == "required" and not val then
        i = i + 1
        if i > n then usage("%s: option '--%s' requires an argument", M.PROG, o[1]) end
        val = args[i]
      end
      take(o, val, "--" .. o[1])
    elseif a:sub(1, 1) == "-" and #a > 1 then
      local k = 2
      while k <= #a do
        local c = a:sub(k, k)
        local o = SHORT[c]
        if not o then usage("%s: invalid option -- '%s'", M.PROG, c) end
        if o[3] then
          local val = a:sub(k + 1)
          if val == "" then
            val = nil
            if o[3] == "required" then
              i = i + 1
              if i > n then usage("%s: option requires an argument -- '%s'", M.PROG, c) end
              val = args[i]
            end
          end
          take(o, val, "-" .. c)
          break
        end
        take(o, nil, "-" .. c)
        k = k + 1
      end
    else
      operands[#operands + 1] = a
    end
    i = i + 1
  end
  return opts, operands
end

--- Parse isolate's command line into a table of settings.
-- @tparam table args the arguments (a list; args.n allowed)
-- @treturn table o
function M.parse(args)
  local o = {
    box_id = 0, rules = new_rules(), default_dirs = true, env_rules = {}, open_files = 1024,
    processes = 1, core = 0, verbose = 0, silent = 0,
  }
  local opts, operands = getopt(args)
  for _, it in ipairs(opts) do
    local key, v = it.o[4], it.val
    if key == "mode" then
      local m = it.o[1]
      if o.mode and o.mode ~= m then usage("Only one command is allowed.") end
      o.mode = m
    elseif key == "box_id" or key == "as_uid" or key == "as_gid" or key == "fsize" or key == "stack"
      or key == "open_files" or key == "mem" or key == "core" or key == "cg_mem" or key == "syscalls" then
      o[key] = uint(v)
    elseif key == "time" or key == "wall" or key == "extra_time" then
      o[key] = atof(v)
    elseif key == "processes" then
      o.processes = v and uint(v) or 0
    elseif key == "quota" then
      local b, ino = v:match("^([^,]*),(.*)$")
      if not b then usage("Invalid quota specified: %s", v) end
      o.quota = { uint(b), uint(ino) }
    elseif key == "dir" then
      local e = M.dir_rule(o.rules, v)
      if e then usage("Invalid directory rule '%s': %s", v, e) end
    elseif key == "no_default_dirs" then
      o.default_dirs = false
    elseif key == "env" then
      local name, val = v:match("^([^=]*)=(.*)$")
      if (name or v) == "" then usage("Invalid environment specified: %s", v) end
      o.env_rules[#o.env_rules + 1] = { name = name or v, val = val }
    elseif key == "stderr" then
      o.stderr, o.stderr_to_stdout = v, nil
    elseif key == "stderr_to_stdout" then
      o.stderr, o.stderr_to_stdout = nil, true
    elseif key == "verbose" or key == "silent" then
      o[key] = o[key] + 1
    elseif key == "meta" or key == "chdir" or key == "stdin" or key == "stdout" then
      o[key] = v
    else
      o[key] = true
    end
    if key == "cg_mem" then o.require_cg = true end
  end
  o.argv = operands
  if o.mode == "help" then return o end
  if not o.mode then usage("Please specify an isolate command (e.g. --init, --run).") end
  if o.mode == "print-cg-root" then o.cg = true end
  if o.require_cg and not o.cg then usage("Options related to control groups require --cg to be set.") end
  if o.mode == "run" and #operands == 0 then usage("--run mode requires a command to run") end
  if (o.mode == "init" or o.mode == "cleanup") and #operands > 0 then
    usage("--%s mode takes no parameters", o.mode)
  end
  return o
end

-- ----------------------------------------------------------- configuration

--- The isolate_* settings of /etc/nslua.conf (or 'path'), with defaults.
-- @treturn table cfg root, lock_root, first_uid, first_gid, num_boxes,
--   restricted_init, syscall_flags
function M.config(path)
  local ids = require "nslua.ids"
  local base = ids.config(path)
  local cfg = {}
  for k, v in pairs(M.DEFAULTS) do cfg[k] = v end
  for k, v in pairs(base.isolate or {}) do
    local def = M.DEFAULTS[k]
    if type(def) == "number" then
      local n = math.tointeger(tonumber(v))
      if not n or n < 0 then die("%s: isolate_%s must be a non-negative integer", path or ids.CONF, k) end
      cfg[k] = n
    elseif v:sub(1, 1) ~= "/" then
      die("%s: isolate_%s must be an absolute path", path or ids.CONF, k)
    else
      cfg[k] = v
    end
  end
  if cfg.num_boxes < 1 then die("%s: isolate_num_boxes must be at least 1", path or ids.CONF) end
  -- the box ids: never 0, never nslua's slots, never a delegated range
  for _, which in ipairs { { "uid", "first_uid", "/etc/subuid" }, { "gid", "first_gid", "/etc/subgid" } } do
    local first = cfg[which[2]]
    local last = first + cfg.num_boxes - 1
    if first < 1 or last > 0xfffffffe then
      die("isolate_%s: box %ss %d-%d are not valid ids", which[2], which[1], first, last)
    end
    if last >= base.base and first < base.base + base.slots * ids.WIDTH then
      die("isolate_%s: box %ss %d-%d overlap nslua's id slots", which[2], which[1], first, last)
    end
    for _, r in ipairs(ids.subids(which[3])) do
      if last >= r.start and first < r.start + r.count then
        die("isolate_%s: box %ss %d-%d overlap %s's range in %s", which[2], which[1], first, last,
          r.name, which[3])
      end
    end
  end
  return cfg
end

-- ---------------------------------------------------------------- helpers

local readfile = require("nslua.state").read

-- The caller's environment: NUL-separated "NAME=value" entries.
local function parse_environ(text)
  local env = {}
  for entry in (text or ""):gmatch("([^%z]+)") do
    local k, v = entry:match("^([^=]*)=(.*)$")
    if k and env[k] == nil then env[k] = v end
  end
  return env
end

-- Whether the rules read the parent environment at all (-e, -E VAR).
local function needs_parent(o)
  if o.full_env then return true end
  for _, r in ipairs(o.env_rules) do
    if r.val == nil then return true end
  end
  return false
end

--- The program's environment from isolate's rules: empty (or the whole
-- parent environment with -e), then LIBC_FATAL_STDERR_=1, then each -E in
-- order (VAR inherits, VAR=VAL sets, VAR= removes).
function M.environment(o, parent)
  local env = {}
  if o.full_env then
    for k, v in pairs(parent) do env[k] = v end
  end
  local rules = { { name = "LIBC_FATAL_STDERR_", val = "1" } }
  for _, r in ipairs(o.env_rules) do rules[#rules + 1] = r end
  for _, r in ipairs(rules) do
    env[r.name] = nil
    if r.val == nil then
      env[r.name] = parent[r.name]
    elseif r.val ~= "" then
      env[r.name] = r.val
    end
  end
  return env
end

-- Who acts: the caller's ids, whether the front end runs privileged, and
-- the parent environment (the launcher's memfd in setuid mode).
local function credentials(o)
  local c = { privileged = proc.geteuid() == 0 }
  local launched = c.privileged and os.getenv("NSLUA_ISOLATE_CALLER")
  if launched then
    local u, g = launched:match("^(%d+):(%d+)$")
    if not u then die("NSLUA_ISOLATE_CALLER: not UID:GID") end
    c.uid, c.gid, c.setuid = math.tointeger(tonumber(u)), math.tointeger(tonumber(g)), true
    local fd = math.tointeger(tonumber(os.getenv("NSLUA_ISOLATE_ENV_FD") or ""))
    local text = fd and needs_parent(o) and readfile(("/proc/self/fd/%d"):format(fd))
    if fd then proc.close(fd) end
    c.environ = parse_environ(text)
  else
    c.uid, c.gid = proc.getuid(), proc.getgid()
    c.environ = parse_environ(needs_parent(o) and readfile("/proc/self/environ"))
  end
  c.by_root = c.uid == 0
  if o.inherit_fds then
    c.fds = {}
    for _, fd in ipairs(require("nslua.cli.bwrap").open_fds()) do
      if fd > 2 then c.fds[#c.fds + 1] = fd end
    end
  end
  if c.setuid then
    -- box/ is the caller's and chowned as root: a hard link the caller put
    -- there to a file of someone else's would change hands too (isolate
    -- needs the same setting; the kernel refuses such links with it)
    local v = readfile("/proc/sys/fs/protected_hardlinks")
    if not v or not v:match("^1") then
      die("fs.protected_hardlinks must be 1 for nslua-isolate (sysctl fs.protected_hardlinks=1)")
    end
  end
  if o.as_uid or o.as_gid then
    if not c.by_root then die("You must be root to use --as-uid or --as-gid") end
    if not (o.as_uid and o.as_gid) then die("--as-uid and --as-gid must be used either both or none") end
    c.uid, c.gid = o.as_uid, o.as_gid
  end
  return c
end

-- fn() with the caller's rights alone (privileged on behalf of another
-- user: what the caller names is opened as the caller would open it):
-- the caller's fs ids and no effective capability, so neither
-- CAP_DAC_OVERRIDE nor CAP_SYS_PTRACE (a /proc/PID/cwd of someone else's)
-- lets a path through.  Any step that does not take fails closed.
local function as_caller(cred, fn, ...)
  if not (cred.privileged and cred.uid ~= 0) then return fn(...) end
  local caps = core.caps
  -- the fs ids first (setfsuid needs CAP_SETUID), then no capability
  local og = proc.setfsgid(cred.gid)
  local ou = og and proc.setfsuid(cred.uid)
  local dropped = ou and caps.effective(false)
  local r = dropped and table.pack(pcall(fn, ...))
  local back = caps.effective(true) and (not ou or proc.setfsuid(0)) and (not og or proc.setfsgid(0))
  if not back then die("Cannot switch back to root's ids") end
  if not r then die("Cannot switch to the caller's fs ids and drop capabilities") end
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

-- A directory a privileged front end keeps boxes or locks in: made 0755
-- when missing.  It must be a real directory of root's that only root can
-- write, and every ancestor a directory (or a symlink) of root's that
-- others cannot write unless it is sticky (/tmp); a group may (Debian's
-- /var/local is root:staff 2775: its group is the administrators').  A
-- symlink or a directory another user can change would let that user
-- point box operations elsewhere.
-- 'private': the directory itself 0700 (the locks: a user who could open
-- a lock file could hold a box's lock).
local function trusted_dir(path, privileged, private)
  local ok, err = mount.mkdir(path, private and 448 or 493, true)
  if not ok then die("Cannot create %s: %s", path, err) end
  if not privileged then return end
  if private then
    local st = mount.lstat(path)
    if st and st.type == "dir" and st.uid == 0 and st.mode & 511 ~= 448 then
      ok, err = mount.chmod(path, 448)
      if not ok then die("Cannot chmod %s: %s", path, err) end
    end
  end
  local prefix = ""
  for comp in path:gmatch("[^/]+") do
    prefix = prefix .. "/" .. comp
    local st = mount.lstat(prefix)
    local last = prefix == path
    if not st or st.uid ~= 0 or (st.type ~= "dir" and (last or st.type ~= "link")) then
      die("%s: must be a directory of root's, not a symlink (isolate_root and its ancestors)", prefix)
    end
    if st.type == "dir" and ((st.mode & 2 ~= 0 and st.mode & 512 == 0) or (last and st.mode & 18 ~= 0)) then
      die("%s: must be owned by root and writable only by root", prefix)
    end
  end
end

-- ------------------------------------------------------------------ boxes

local Box = {}
Box.__index = Box

local function open_box(o, cfg, cred)
  if o.box_id < 0 or o.box_id >= cfg.num_boxes then
    die("Sandbox ID out of range (allowed: 0-%d)", cfg.num_boxes - 1)
  end
  local b = setmetatable({ o = o, cfg = cfg, cred = cred, id = o.box_id }, Box)
  b.uid, b.gid = cfg.first_uid + b.id, cfg.first_gid + b.id
  b.dir = ("%s/%d"):format(cfg.root, b.id)
  b.lock_path = ("%s/%d"):format(cfg.lock_root, b.id)
  return b
end

function Box:msg(fmt, ...)
  if self.o.verbose > 0 then io.stderr:write(fmt:format(...)) end
end

-- The lock record: "owner=UID cg=0|1 init=0|1".
local function decode_lock(text)
  local t = {}
  for k, v in text:gmatch("(%w+)=(%d+)") do t[k] = math.tointeger(tonumber(v)) end
  if not (t.owner and t.cg and t.init) then return nil end
  return t
end

function Box:write_lock(rec)
  local fd, err = proc.open(self.lock_path, { wronly = true, trunc = true, nofollow = true }, 384)
  if not fd then die("Cannot write lock file: %s", err) end
  local text = rec and ("owner=%d cg=%d init=%d\n"):format(rec.owner, rec.cg, rec.init) or ""
  local ok, werr = true, nil
  if text ~= "" then ok, werr = proc.write(fd, text) end
  fd:close()
  if not ok then die("Cannot write lock file: %s", werr) end
end

--- Lock the box (isolate's lock_box): false when there is no box.
function Box:lock(is_init, is_cleanup)
  trusted_dir(self.cfg.lock_root, self.cred.privileged, true)
  local flags = { rdwr = true, nofollow = true, creat = is_init or nil }
  local fd, err, code = proc.open(self.lock_path, flags, 384)
  if not fd then
    if code == core.errno.ENOENT then return false end
    die("Cannot open %s: %s", self.lock_path, err)
  end
  self.lock_fd = fd
  local ok, lerr, lcode = proc.flock(fd, "ex", not self.o.wait)
  if not ok then
    if lcode == core.errno.EAGAIN then die("This box is currently in use by another process") end
    die("Cannot lock %s: %s", self.lock_path, lerr)
  end
  local text = proc.read(fd, 4096) or ""
  local rec
  if text ~= "" then
    rec = decode_lock(text)
    if not rec then die("Lock file %s has incompatible format", self.lock_path) end
    if rec.init == 1 and rec.owner ~= self.cred.uid and not self.cred.by_root then
      die("This box belongs to a different user (uid %d)", rec.owner)
    end
    if rec.cg ~= (self.o.cg and 1 or 0) then
      die("This box was initialized with an incompatible control group mode")
    end
  end
  if is_init then
    self:write_lock({ owner = self.cred.uid, cg = self.o.cg and 1 or 0, init = 0 })
    return true
  end
  if not rec then return false end
  if rec.init ~= 1 and not is_cleanup then die("This box was not initialized properly") end
  return true
end

local function check(ok, err, fmt, ...)
  if not ok then die(fmt, ...) end
  return ok, err
end

function Box:remove()
  local st = mount.lstat(self.dir)
  if not st then return end
  self:msg("Removing box directory\n")
  local ok, err = mount.tree_remove(self.dir)
  if not ok then die("Cannot remove %s: %s", self.dir, err) end
end

function Box:init()
  if self.cfg.restricted_init ~= 0 and not self.cred.by_root then
    die("New sandboxes can be created only by root")
  end
  trusted_dir(self.cfg.root, self.cred.privileged)
  self:lock(true, false)
  self:remove()
  self:msg("Preparing sandbox\n")
  local ok, err = mount.mkdir(self.dir, 493)
  check(ok, err, "Cannot create %s: %s", self.dir, err)
  local box = self.dir .. "/box"
  ok, err = mount.mkdir(box, 448)
  check(ok, err, "Cannot create box: %s", err)
  ok, err = mount.chmod(box, 448)
  check(ok, err, "Cannot chmod box: %s", err)
  if self.cred.privileged then
    ok, err = mount.chown(box, self.cred.uid, self.cred.gid, true)
    check(ok, err, "Cannot chown box: %s", err)
  end
  ok, err = mount.mkdir(self.dir .. "/tmp", 448)
  check(ok, err, "Cannot create %s/tmp: %s", self.dir, err)
  if self.o.quota then die("Cannot set disk quota: quotas are not supported by nslua isolate") end
  self:write_lock({ owner = self.cred.uid, cg = self.o.cg and 1 or 0, init = 1 })
  io.stdout:write(self.dir, "\n")
end

function Box:cleanup()
  if not self:lock(false, true) then
    self:msg("Nothing to do -- box did not exist\n")
    return
  end
  self:msg("Deleting sandbox\n")
  self:remove()
  self:write_lock(nil)
end

-- chown box/ to 'uid', removing special files unless --special-files;
-- only what 'from' owns changes hands (privileged: a file of someone
-- else's the caller hard-linked into box/ keeps its owner both ways).
function Box:chown_tree(path, uid, gid, from)
  local ok, err = mount.tree_chown(path, uid, gid, self.o.special_files or false,
    self.cred.privileged and from or nil)
  if not ok then die("Cannot chown %s: %s", path, err) end
end

-- ------------------------------------------------------------------- run

-- ROOT/ID/tmp: root's, 0700 (the tmp rules' directories live in it).
function Box:tmp_base()
  local base = self.dir .. "/tmp"
  local st = mount.lstat(base)
  if not st then
    local ok, err = mount.mkdir(base, 448)
    if not ok then die("Cannot create %s: %s", base, err) end
    st = mount.lstat(base)
  end
  if not st or st.type ~= "dir" or (self.cred.privileged and st.uid ~= 0) then
    die("%s: must be a directory of root's", base)
  end
  if st.mode & 511 ~= 448 then
    local ok, err = mount.chmod(base, 448)
    if not ok then die("Cannot chmod %s: %s", base, err) end
  end
end

-- ROOT/ID closed (0700) while the box uid owns box/, open (0755) again
-- after: no host user can reach what the program leaves there while it is
-- the box uid's (a setuid binary of the box uid run on the host, a file
-- swapped under a later run).  Privileged runs only.
function Box:close_dir(closed)
  if not self.cred.privileged then return end
  local ok, err = mount.chmod(self.dir, closed and 448 or 493)
  if not ok then die("Cannot chmod %s: %s", self.dir, err) end
  self.closed = closed or nil
end

-- The mounts of the directory rules, in order; tmp rules' directories made.
function Box:mounts()
  local o, cred = self.o, self.cred
  local out = {}
  for _, r in ipairs(o.rules.list) do
    if r.disabled or (r.default and not o.default_dirs) then
      self:msg("Not binding anything on %s\n", r.inside)
    else
      local target = "/" .. r.inside
      local f = r.flags
      if r.fs then
        local m = { type = r.fs, target = target }
        if r.fs == "tmpfs" then m.mode = 1023 end
        if r.fs == "proc" and r.inside == "proc" then m.hidepid = 2 end
        if r.fs == "devpts" then die("Cannot mount devpts on %s: not supported by nslua isolate", r.inside) end
        out[#out + 1] = m
      elseif r.default and r.inside == "dev" then
        -- isolate binds the host's /dev; nslua's minimal /dev (null, zero,
        -- full, random, urandom, tty, a private devpts) is safer
        out[#out + 1] = { type = "dev", target = target }
      else
        local src = r.out
        if src:sub(1, 2) == "./" then src = self.dir .. "/" .. src:sub(3) end
        local fd, err
        if f.tmp then
          -- root's own: ROOT/ID/tmp is root's and 0700, so nobody else can
          -- put anything in the way; the directory is opened without
          -- following a link and changed through that fd
          self:tmp_base()
          local st = mount.lstat(src)
          if not st then
            local ok, merr = mount.mkdir(src, 448)
            if not ok then die("Cannot create %s: %s", src, merr) end
          end
          fd, err = proc.open(src, { path = true, nofollow = true, directory = true })
          if not fd then die("Cannot open %s: %s", src, err) end
          local at = ("/proc/self/fd/%d"):format(fd:fileno())
          local ok, cerr = true, nil
          if cred.privileged then ok, cerr = mount.chown(at, self.uid, self.gid) end
          if ok then ok, cerr = mount.chmod(at, 448) end
          if not ok then
            fd:close()
            die("Cannot chown %s: %s", src, cerr)
          end
        else
          -- opened as the caller: a rule cannot show what the caller cannot reach
          fd, err = as_caller(cred, proc.open, src, { path = true })
        end
        if not fd then
          if f.maybe then
            self:msg("Not binding %s on %s (does not exist)\n", src, r.inside)
          else
            die("Cannot mount %s on %s: %s", src, r.inside, (err:gsub("^open '[^']*': ", "")))
          end
        else
          self.fds[#self.fds + 1] = fd
          out[#out + 1] = { type = f.dev and "dev-bind" or "bind", source_fd = fd:fileno(), target = target,
                            ro = not f.rw, noexec = f.noexec or nil, recursive = not f.norec }
        end
      end
    end
  end
  return out
end

-- An inside path of a stdio option: relative ones are relative to /box
-- (isolate opens them in the box's working directory).
local function inside(p)
  if p:sub(1, 1) == "/" then return p end
  return "/box/" .. p
end

function Box:spec()
  local o, cred = self.o, self.cred
  self.fds = {}
  local spec = {
    -- `nslua ps` and `nslua exec isolate-ID` find a running box by it
    name = ("isolate-%d"):format(self.id),
    base = "none",
    namespaces = { mnt = true, pid = true, ipc = true, net = not o.share_net, user = true,
                   uts = false, cgroup = false, time = false },
    -- isolate's binds are nosuid and nodev (not with "dev"): nslua's
    -- defaults, stated (base "none" takes absent flags as not set)
    mounts = require("nslua.launch").default_flags(self:mounts()),
    env = M.environment(o, cred.environ),
    exec_error = "stderr",
    stdio = {},
    die_with_parent = true,
  }
  if cred.privileged then
    spec.user = { uid = self.uid, gid = self.gid, host_uid = self.uid, host_gid = self.gid }
  else
    spec.user = { uid = self.uid, gid = self.gid }
  end
  -- isolate execs argv[0] as given: a bare name is a file in the cwd, never a PATH search
  local argv = {}
  for i, a in ipairs(o.argv) do argv[i] = a end
  if not argv[1]:find("/", 1, true) then
    spec.argv0 = argv[1]
    argv[1] = "./" .. argv[1]
  end
  spec.argv = argv
  local c = o.chdir
  spec.cwd = c and (c:sub(1, 1) == "/" and c or "/box/" .. c) or "/box"
  if o.stdin then spec.stdio.stdin = { inside = inside(o.stdin) } end
  if o.stdout then spec.stdio.stdout = { inside = inside(o.stdout) } end
  if o.stderr then spec.stdio.stderr = { inside = inside(o.stderr) } end
  if o.stderr_to_stdout then spec.stdio.stderr = "stdout" end
  -- the caller's fds as they were before the front end opened any of its
  -- own (the lock, the meta file, the rules' sources: never the program's)
  if o.inherit_fds then spec.stdio.fds = cred.fds end
  -- limits: isolate's units are KiB and seconds
  local rl = { memlock = 0, core = o.core * 1024, stack = o.stack and o.stack > 0 and o.stack * 1024 or "unlimited" }
  if o.mem and o.mem > 0 then rl.as = o.mem * 1024 end
  if o.fsize and o.fsize > 0 then rl.fsize = o.fsize * 1024 end
  if o.open_files > 0 then rl.nofile = o.open_files end
  if o.processes > 0 then rl.nproc = o.processes end
  local lim = { rlimits = rl }
  if o.time and o.time > 0 then
    lim.time = o.time
    -- isolate kills at max(time, extra-time) seconds of cpu
    if o.extra_time and o.extra_time > o.time then lim.extra_time = o.extra_time - o.time end
  end
  if o.wall and o.wall > 0 then lim.wall = o.wall end
  if o.cg then
    if o.cg_mem then lim.memory = o.cg_mem * 1024 end
  else
    lim.cpu_scope = "command"
  end
  spec.limits = lim
  local flags = o.syscalls or self.cfg.syscall_flags
  if flags ~= 0 then
    spec.seccomp = flags == M.DEFAULTS.syscall_flags and "isolate"
      or require("nslua.seccomp").isolate_profile(flags)
  else
    spec.seccomp = "none"
  end
  return spec
end

-- Milliseconds, truncated (isolate's "%d.%03d").
local function ms(s) return math.floor((s or 0) * 1000 + 1e-9) end
local function secs(n) return ("%d.%03d"):format(n // 1000, n % 1000) end

--- The meta lines and verdict of a report, in isolate's order.
-- @treturn table lines {"key:value", ...}
-- @treturn string|nil status RE SG TO XX (nil: OK)
-- @treturn string message
-- @treturn integer exit code (0, 1, 2)
function M.verdict(rep, o)
  local lines = {}
  local function put(k, v) lines[#lines + 1] = ("%s:%s"):format(k, v) end
  local function stats()
    local t, w = ms(rep.cpu_s), ms(rep.wall_s)
    put("time", secs(t))
    put("time-wall", secs(w))
    if rep.max_rss_kb then put("max-rss", rep.max_rss_kb) end
    if rep.csw_voluntary then put("csw-voluntary", rep.csw_voluntary) end
    if rep.csw_forced then put("csw-forced", rep.csw_forced) end
    if o.cg and rep.memory_peak_kb then put("cg-mem", rep.memory_peak_kb) end
    if o.cg and (rep.oom_kills or 0) > 0 then put("cg-oom-killed", 1) end
    return t, w
  end
  local function fail(status, message)
    put("status", status)
    put("message", message)
    return lines, status, message, M.EXIT_FAILED
  end
  local s = rep.status
  if s == "error" then
    local e = rep.error or {}
    local msg = e.message or "set-up error"
    if e.step == "stdio" and e.detail then
      msg = ('open("%s"): %s'):format(e.detail, msg:match(".*: (.-)$") or msg)
    end
    put("status", "XX")
    put("message", msg)
    return lines, "XX", msg, M.EXIT_ERROR
  end
  if s == "cpu-limit" or s == "wall-limit" then
    local message = s == "cpu-limit" and "Time limit exceeded" or "Time limit exceeded (wall clock)"
    put("status", "TO")
    put("message", message)
    put("killed", 1)
    stats()
    return lines, "TO", message, M.EXIT_FAILED
  end
  local t, w = stats()
  if o.time and o.time > 0 and t > ms(o.time) then return fail("TO", "Time limit exceeded") end
  if o.wall and o.wall > 0 and w > ms(o.wall) then return fail("TO", "Time limit exceeded (wall clock)") end
  if s == "exited" or (s == "pids-limit" and rep.exit_code) then
    put("exitcode", rep.exit_code)
    if rep.exit_code ~= 0 then return fail("RE", ("Exited with error status %d"):format(rep.exit_code)) end
    return lines, nil, "OK", M.EXIT_OK
  end
  -- signaled, memory-limit (the OOM kill's SIGKILL), output-limit (SIGXFSZ)
  local sig = rep.signal or 9
  put("exitsig", sig)
  return fail("SG", ("Caught fatal signal %d"):format(sig))
end

function Box:run()
  local o = self.o
  if not self:lock(false, false) then
    die("Box not found, did you run `%s --init'?", o.cg and "isolate --cg" or "isolate")
  end
  local st = mount.lstat(self.dir .. "/box")
  if not st or st.type ~= "dir" then
    die("chdir(%s): %s", self.dir, "No such file or directory")
  end
  local cred = self.cred
  local box = self.dir .. "/box"
  -- a run that was killed left ROOT/ID closed: nobody else runs now (the lock)
  self:close_dir(false)
  -- the sources first, as the caller, while the caller can reach box/
  local spec = self:spec()
  self:close_dir(true)
  self:chown_tree(box, cred.privileged and self.uid or cred.uid, cred.privileged and self.gid or cred.gid, cred.uid)
  self.chown_back = true
  local container = require "nslua.container"
  local okc, c = pcall(container.new, spec)
  if not okc then
    die("%s", (require("nslua.cli.main").error_text(c):gsub("^nslua: ", "")))
  end
  c._last_run = true
  local rep, err = c:run()
  for _, fd in ipairs(self.fds) do if not fd:closed() then fd:close() end end
  if not rep then die("%s", tostring(err)) end
  return rep
end

function Box:restore()
  if self.chown_back then
    self.chown_back = false
    self:chown_tree(self.dir .. "/box", self.cred.uid, self.cred.gid, self.uid)
  end
  if self.closed then self:close_dir(false) end
end

-- ------------------------------------------------------------------ main

local function version()
  return ("The process isolator %s (nslua %s)\n"
    .. "nslua's isolate front end: isolate %s's command line on nslua's executor\n")
    :format(M.ISOLATE_VERSION, core._VERSION or "?", M.ISOLATE_VERSION)
end

local function print_cg_root()
  local layout = require("nslua.cgroup").detect()
  local c = layout and (layout.controllers.memory or layout.controllers.cpuacct or layout.v2)
  if not c then die("No control group hierarchy found") end
  io.stdout:write(c.dir, "\n")
end

-- The meta file, opened as the caller at once (isolate opens it while
-- parsing, so even a later failure is recorded there).
local Meta = {}
Meta.__index = Meta

local function open_meta(path, cred)
  local m = setmetatable({ lines = {} }, Meta)
  if not path then return m end
  if path == "-" then
    m.stdout = true
    return m
  end
  local fd = as_caller(cred, proc.open, path, { wronly = true, creat = true, trunc = true }, 438)
  if not fd then die("Failed to open metafile '%s'", path) end
  m.fd = fd
  return m
end

function Meta:put(lines)
  for _, l in ipairs(lines) do self.lines[#self.lines + 1] = (l:gsub("\n", " ")) end
end

function Meta:close()
  local text = #self.lines > 0 and table.concat(self.lines, "\n") .. "\n" or ""
  if self.stdout then
    io.stdout:write(text)
  elseif self.fd then
    if text ~= "" then proc.write(self.fd, text) end
    self.fd:close()
    self.fd = nil
  end
end

--- main(args [, prog]) of `nslua isolate` -> exit code.  Never raises.
function M.main(args, prog)
  M.PROG = prog and prog:match("[^/]*$") or M.PROG
  local meta, box, o
  local ok, code = xpcall(function()
    o = M.parse(args)
    if o.mode == "help" then
      io.stdout:write(M.usage_text(M.PROG))
      return M.EXIT_ERROR
    end
    if o.mode == "version" then
      io.stdout:write(version())
      return M.EXIT_OK
    end
    local cred = credentials(o)
    meta = open_meta(o.meta, cred)
    local cfg = M.config(cred.privileged and not cred.setuid and os.getenv("NSLUA_CONF") or nil)
    if o.mode == "check-config" then return M.EXIT_OK end
    if o.mode == "print-cg-root" then
      print_cg_root()
      return M.EXIT_OK
    end
    -- the box root: the environment's (not through the setuid launcher),
    -- else the configuration's; rootless, below nslua's state directory
    local env_root = not cred.setuid and os.getenv("NSLUA_ISOLATE_ROOT")
    if env_root and env_root ~= "" then
      if env_root:sub(1, 1) ~= "/" then die("NSLUA_ISOLATE_ROOT must be an absolute path") end
      cfg.root, cfg.lock_root = env_root, env_root .. "/.locks"
    elseif not cred.privileged then
      local dir, serr = require("nslua.state").root()
      if not dir then die("%s", serr) end
      cfg.root, cfg.lock_root = dir .. "/isolate", dir .. "/isolate/.locks"
    end
    box = open_box(o, cfg, cred)
    if o.mode == "init" then
      box:init()
      return M.EXIT_OK
    elseif o.mode == "cleanup" then
      box:cleanup()
      return M.EXIT_OK
    end
    local rep = box:run()
    local lines, status, message, rc = M.verdict(rep, o)
    meta:put(lines)
    if rc == M.EXIT_ERROR then die("%s", message) end
    box:restore()
    if o.silent == 0 or rc == M.EXIT_ERROR then
      if status then
        io.stderr:write(message, "\n")
      else
        io.stderr:write(("OK (%s sec real, %s sec wall)\n"):format(secs(ms(rep.cpu_s)), secs(ms(rep.wall_s))))
      end
    end
    return rc
  end, function(e)
    if getmetatable(e) == Die or getmetatable(e) == Usage then return e end
    return setmetatable({ msg = "internal error: " .. debug.traceback(tostring(e), 2) }, Die)
  end)
  if not ok then
    if getmetatable(code) == Usage then
      io.stderr:write(code.msg, "\n")
      if not code.msg:match("^" .. M.PROG .. ": ") then
        io.stderr:write(("Try '%s --help' for more information.\n"):format(M.PROG))
      end
      code = M.EXIT_ERROR
    else
      if meta then meta:put { "status:XX", "message:" .. code.msg } end
      io.stderr:write(code.msg, "\n")
      code = M.EXIT_ERROR
      if box then pcall(box.restore, box) end
    end
  end
  if meta then pcall(meta.close, meta) end
  if box and box.lock_fd and not box.lock_fd:closed() then box.lock_fd:close() end
  io.stdout:flush()
  require("nslua.cli.main").nothing_to_finalize = true
  return code
end

return M
