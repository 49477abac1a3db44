--- nslua.cli.run: `nslua run [OPTIONS] [--] CMD [ARGS...]`: CMD in the
-- default sandbox (recipes/sandbox.lua), with nslua's own options and
-- bubblewrap's spellings applied in argument order on top of it.
-- One option table feeds both parsers: argparse (help, errors, every form)
-- and a fast path for the common forms.  `nslua explain` takes the same
-- options (nslua.cli.explain).
local main = require "nslua.cli.main"
local limits = require "nslua.limits"

local M = {}

local eprintf, usage_error = main.eprintf, main.usage_error

local function split_pair(s, sep)
  local a, b = s:match("^(.-)" .. sep .. "(.*)$")
  if a then return a, b end
  return s, nil
end

local function parse_int(opt, v, min)
  local n = math.tointeger(tonumber(v))
  if not n or (min and n < min) then usage_error(("%s: '%s' is not a valid number"):format(opt, v)) end
  return n
end

-- A limit's value from its option (nslua.limits); a bad one is a usage error.
local function parse_limit(what, v, opt)
  local n, err = limits.parse(what, v, opt, true)
  if n == nil then usage_error(err) end
  return n
end

-- The options of `nslua run` (and explain): one table for both parsers.
-- n: how many values (1 by default, "1-2", 2, or 0 for a flag); many: may
-- be repeated (a list); hidden: accepted, not in --help; mount: a mount
-- option (the fields of its spec mount), whose occurrences both parsers
-- also list in argument order as `mount_order` (DESIGN "Mounts": steps run
-- in the order given, never regrouped by type).  LIMITS stands for one
-- option per limit of nslua.limits (--memory ... --output).
local LIMITS = {}
local BWRAP_NOOPS = { "--unshare-all", "--unshare-pid", "--unshare-net", "--unshare-ipc",
                      "--unshare-uts", "--unshare-user", "--unshare-cgroup", "--die-with-parent",
                      "--new-session" }
local OPTIONS = {
  { "--name", "A name for the container (shown by nslua ps)." },
  { "--rootfs", "Use DIR (read-only) as the root file system." },
  { "--bind", "Bind SRC on DST (read-write); SRC[:DST] or SRC DST.", n = "1-2", many = true,
    mount = { type = "bind" } },
  { "--ro-bind", "Bind SRC on DST read-only; SRC[:DST] or SRC DST.", n = "1-2", many = true,
    mount = { type = "bind", ro = true } },
  { "--bind-try", "Like --bind, skipped when SRC is missing.", n = "1-2", many = true,
    mount = { type = "bind", try = true } },
  { "--ro-bind-try", "Like --ro-bind, skipped when SRC is missing.", n = "1-2", many = true,
    mount = { type = "bind", ro = true, try = true } },
  { "--dev-bind", "Bind SRC on DST allowing device nodes.", n = "1-2", many = true,
    mount = { type = "dev-bind" } },
  { "--bind-idmap", "Bind SRC on DST idmapped to the caller.", n = "1-2", many = true,
    mount = { type = "bind-idmap" } },
  { "--tmpfs", "A tmpfs on DST[:SIZE].", many = true, mount = { type = "tmpfs" } },
  { "--symlink", "Make DST a symlink to SRC (SRC DST).", n = 2, many = true, mount = { type = "symlink" } },
  { "--file", "A file DST with CONTENT (DST CONTENT).", n = 2, many = true, mount = { type = "file" } },
  { "--dir", "Make directory DST.", many = true, mount = { type = "dir" } },
  { "--hostname", "The sandbox's hostname." },
  { "--cwd --chdir", "Working directory of the command." },
  { "--env", "Set K=V in the command's environment.", many = true },
  { "--setenv", "Set VAR to VALUE (bwrap dialect).", n = 2, many = true },
  { "--unsetenv", "Remove VAR from the environment.", many = true },
  { "--clearenv", "Start from an empty environment (the default; accepted for bwrap).", n = 0 },
  { "--keep-env", "Copy NAME from nslua's environment.", many = true },
  { "--net", "none | host | veth | bridge:NAME[:CIDR[,CIDR6]]" },
  { "--veth-no-host", "With --net veth: drop, in the host's input hook, what the sandbox sends the host.",
    n = 0 },
  { "--user", "host: no user namespace (root only)" },
  { "--uid", "The uid inside (default 65534)." },
  { "--gid", "The gid inside (default 65534)." },
  { "--map-all", "Map inside ids 0-65535 (for chown, tar, apt).", n = 0 },
  { "--tty", "Give the command an interactive pty.", n = 0 },
  LIMITS,
  { "--nofile", "RLIMIT_NOFILE." },
  { "--rlimit", ("NAME=VALUE (%s)."):format(table.concat(limits.RLIMIT_KEYS, " ")), many = true },
  { "--caps", "Capabilities to keep: a comma list, or all." },
  { "--seccomp", "default | strict | none | FILE.lua" },
  { "--stdin", "Read stdin from FILE (null for /dev/null)." },
  { "--stdout", "Write stdout to FILE." },
  { "--stderr", "Write stderr to FILE." },
  { "--report", "Write the report as JSON to FILE." },
  { "--report-fd", "Write the report as JSON to fd N." },
  { "--json-status-fd", "Alias of --report-fd (bwrap).", hidden = true },
  { "--share-net", "Share the host network (bwrap).", n = 0 },
  { "--proc", "Mount proc on DST (bwrap).", many = true, mount = { type = "proc" } },
  { "--dev", "Mount a minimal /dev on DST (bwrap).", many = true, mount = { type = "dev" } },
  { "--mqueue", "Mount mqueue on DST (bwrap).", many = true, mount = { type = "mqueue" } },
}
M.OPTIONS = {}
for _, o in ipairs(OPTIONS) do
  if o == LIMITS then
    for _, k in ipairs(limits.KEYS) do
      M.OPTIONS[#M.OPTIONS + 1] = { limits.option(k), limits.LIMITS[k].help }
    end
  else
    M.OPTIONS[#M.OPTIONS + 1] = o
  end
end
for _, f in ipairs(BWRAP_NOOPS) do
  M.OPTIONS[#M.OPTIONS + 1] = { f, "Accepted for bwrap; nslua always does this.", n = 0, hidden = true }
end

-- The result key of an option ("--ro-bind" -> "ro_bind"), as argparse makes it.
local function result_key(o)
  return (o[1]:match("^%-%-(%S+)"):gsub("%-", "_"))
end

-- Record one occurrence of a mount option: its value in its own list, its
-- key in mount_order (the order of the command line).
local function add_mount(result, key, value)
  local list = result[key] or {}
  result[key] = list
  list[#list + 1] = value
  local order = result.mount_order or {}
  result.mount_order = order
  order[#order + 1] = key
end

--- The argparse parser of `nslua run` (and explain, which takes the same options).
function M.parser(name)
  local argparse = require "argparse"
  local p = argparse(name or "nslua run", "Run a command in the default sandbox.")
  p:argument("command", "The command and its arguments (after --)."):args("*")
  for _, o in ipairs(M.OPTIONS) do
    local opt = o.n == 0 and p:flag(o[1], o[2]) or p:option(o[1], o[2])
    if o.n and o.n ~= 0 then opt:args(o.n) end
    if o.many then opt:count("*") end
    if o.hidden then opt:hidden(true) end
    if o.mount then opt:action(add_mount) end
  end
  return p
end

-- The fast path of `nslua run`'s arguments: the common forms only (options
-- before `--`, then the command), giving exactly what argparse gives; nil
-- for anything else (help, errors, a value that starts with "-", a command
-- before `--`), which argparse then parses and explains.  Loading and
-- building argparse costs ~1.8 ms and ~250 KiB of every CLI run.
local run_index, run_lists
function M.parse_fast(args)
  if not run_index then
    run_index, run_lists = {}, {}
    for _, o in ipairs(M.OPTIONS) do
      local key = result_key(o)
      for name in o[1]:gmatch("%S+") do
        run_index[name] = { key = key, n = o.n or 1, many = o.many, mount = o.mount }
      end
      if o.many then run_lists[#run_lists + 1] = key end
    end
  end
  local r = { command = {} }
  for _, key in ipairs(run_lists) do r[key] = {} end
  local i, n = 1, args.n or #args
  while i <= n do
    local a = args[i]
    if a == "--" then
      for k = i + 1, n do r.command[#r.command + 1] = args[k] end
      return r
    end
    local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
    local o = run_index[name or a]
    if not o or (inline and o.n ~= 1) then return nil end
    if o.n == 0 then
      r[o.key] = true
      i = i + 1
    else
      local vals = {}
      if inline then vals[1] = inline; i = i + 1
      else
        local want = o.n == "1-2" and 2 or o.n
        local min = o.n == "1-2" and 1 or o.n
        i = i + 1
        while #vals < want and i <= n and args[i]:sub(1, 1) ~= "-" do
          vals[#vals + 1] = args[i]
          i = i + 1
        end
        if #vals < min then return nil end
      end
      for _, v in ipairs(vals) do if v:sub(1, 1) == "-" then return nil end end
      if o.mount then
        add_mount(r, o.key, o.n == 1 and vals[1] or vals)
      elseif o.many then
        local list = r[o.key]
        list[#list + 1] = o.n == 1 and vals[1] or vals
      else
        r[o.key] = vals[1]   -- argparse's overwrite: the last one counts
      end
    end
  end
  return nil   -- no `--`: let argparse decide what the words are
end

--- Parse `run`'s arguments (the fast path, else argparse): the options
-- table; a usage error raises (exit 125).
function M.parse(args, name)
  local o = M.parse_fast(args)
  if not o then
    local okp
    okp, o = M.parser(name):pparse(args)
    if not okp then usage_error(o) end
  end
  return o
end

local function bind_args(v)
  if #v == 2 then return v[1], v[2] end
  local src, dst = split_pair(v[1], ":")
  return src, dst or src
end

-- The spec mount of one occurrence of a mount option (M.OPTIONS' mount field).
local function mount_of(kind, v)
  local m = {}
  for k, x in pairs(kind) do m[k] = x end
  local t = kind.type
  if t == "bind" or t == "dev-bind" or t == "bind-idmap" then
    m.source, m.target = bind_args(v)
  elseif t == "tmpfs" then
    m.target, m.size = split_pair(v, ":")
    if m.size then m.size = parse_limit({ kind = "size", min = 1 }, m.size, "--tmpfs " .. m.target) end
  elseif t == "symlink" then
    m.source, m.target = v[1], v[2]
  elseif t == "file" then
    m.target, m.content = v[1], v[2]
  else
    m.target = v
  end
  return m
end

local mount_kinds
--- The spec's mounts of parsed `run` options, in the order of the command
-- line (o.mount_order, which both parsers record).  Options made without
-- a parser have no order: their kinds are taken in M.OPTIONS' order.
function M.mounts_of(o)
  if not mount_kinds then
    mount_kinds = {}
    for _, opt in ipairs(M.OPTIONS) do
      if opt.mount then mount_kinds[#mount_kinds + 1] = { key = result_key(opt), kind = opt.mount } end
    end
  end
  local order = o.mount_order
  if not order then
    order = {}
    for _, mk in ipairs(mount_kinds) do
      for _ = 1, #(o[mk.key] or {}) do order[#order + 1] = mk.key end
    end
  end
  local kind_of = {}
  for _, mk in ipairs(mount_kinds) do kind_of[mk.key] = mk.kind end
  local mounts, seen = {}, {}
  for _, key in ipairs(order) do
    seen[key] = (seen[key] or 0) + 1
    mounts[#mounts + 1] = mount_of(kind_of[key], o[key][seen[key]])
  end
  return mounts
end

--- Turn parsed `run` options into overrides of the default spec, and the
-- set of environment variables to remove.
function M.options_to_spec(o)
  local s = {}
  local mounts = M.mounts_of(o)
  if #mounts > 0 then s.mounts = mounts end
  s.name = o.name
  s.rootfs = o.rootfs
  s.hostname = o.hostname
  s.cwd = o.cwd
  if o.net then
    if o.net == "none" or o.net == "host" then
      s.net = o.net
    elseif o.net == "veth" then
      s.net = { veth = {} }
    elseif o.net:match("^bridge:") then
      -- bridge:NAME or bridge:NAME:CIDR[,CIDR] (names hold no ':')
      local name, addrs = split_pair(o.net:sub(8), ":")
      s.net = { bridge = name }
      if addrs then
        local list = {}
        for a in addrs:gmatch("[^,]+") do list[#list + 1] = a end
        s.net.addr = #list == 1 and list[1] or list
      end
    else
      usage_error(("--net: '%s' is not none, host, veth or bridge:NAME[:CIDR[,CIDR6]]"):format(o.net))
    end
  end
  if o.veth_no_host then
    -- the table inet nslua-<id> on the host (net.lua, README "Networking")
    if type(s.net) ~= "table" or not s.net.veth then usage_error("--veth-no-host needs --net veth") end
    s.net.veth.isolate_host = true
  end
  if o.share_net then s.net = "host" end
  if s.net == "host" then s.namespaces = { net = false } end
  if o.user then
    if o.user ~= "host" then usage_error("--user: only 'host' is accepted") end
    s.user = "host"
    s.namespaces = s.namespaces or {}
    s.namespaces.user = false
  end
  if o.uid or o.gid or o.map_all then
    if s.user == "host" then usage_error("--uid, --gid and --map-all need a user namespace (not --user host)") end
    s.user = { uid = o.uid and parse_int("--uid", o.uid, 0), gid = o.gid and parse_int("--gid", o.gid, 0),
               map = o.map_all and "all" or nil }
  end
  if o.tty then s.tty = true end
  local env, unset = {}, {}
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then usage_error(("--env: '%s' is not K=V"):format(kv)) end
    env[k] = v
  end
  for _, kv in ipairs(o.setenv or {}) do env[kv[1]] = kv[2] end
  for _, k in ipairs(o.unsetenv or {}) do env[k] = nil; unset[k] = true end
  if next(env) then s.env = env end
  if #(o.keep_env or {}) > 0 then s.keep_env = o.keep_env end
  local l = {}
  for _, k in ipairs(limits.KEYS) do
    if o[k] then l[k] = parse_limit(k, o[k], limits.option(k)) end
  end
  local r = {}
  if o.nofile then r.nofile = parse_limit("rlimits.nofile", o.nofile, "--nofile") end
  for _, kv in ipairs(o.rlimit or {}) do
    local k, v = kv:match("^([%w_]+)=(.+)$")
    if not k then usage_error(("--rlimit: '%s' is not NAME=VALUE"):format(kv)) end
    if not limits.RLIMITS[k] then
      usage_error(("--rlimit: unknown limit '%s' (valid: %s)"):format(k, table.concat(limits.RLIMIT_KEYS, " ")))
    end
    r[k] = parse_limit("rlimits." .. k, v, "--rlimit " .. k)
  end
  if next(r) then l.rlimits = r end
  if next(l) then s.limits = l end
  if o.caps then
    local caps = {}
    for c in o.caps:gmatch("[^,%s]+") do caps[#caps + 1] = c:lower() end
    s.caps = caps
  end
  s.seccomp = o.seccomp
  if o.stdin or o.stdout or o.stderr then
    s.stdio = { stdin = o.stdin, stdout = o.stdout, stderr = o.stderr }
  end
  if #(o.command or {}) > 0 then s.argv = o.command end
  return s, unset
end

--- The default spec of `run`: the built-in sandbox recipe.
function M.default_spec()
  local ok, spec = main.load_recipe(main.builtin("sandbox"), { n = 0 })
  assert(ok, spec)
  return spec
end

--- The spec `run` (or explain) makes of its arguments, and the options.
-- @tparam table args the arguments after the subcommand
-- @tparam[opt] string name the program name for argparse's messages
-- @treturn table the spec (not validated yet)
-- @treturn table the parsed options
function M.spec_of(args, name)
  local o = M.parse(args, name)
  local over, unset = M.options_to_spec(o)
  if not over.argv then usage_error("missing command (nslua run [OPTIONS] -- CMD [ARGS...])") end
  return main.apply(M.default_spec(), over, unset), o
end

local ENOENT <const> = require("nslua.core").errno.ENOENT
local O_ACCMODE <const>, O_WRONLY <const>, O_RDWR <const> = 3, 1, 2

--- The fd of --report-fd (or bwrap's --json-status-fd), checked before
-- anything starts: open, and open for writing (its fdinfo flags), so a
-- bad one is exit 125 before a container exists, not after the run.
-- @tparam table o parsed `run` options
-- @treturn integer|nil the fd (nil without the option)
-- @raise a usage error naming the option
function M.report_fd(o)
  local opt = o.report_fd and "--report-fd" or o.json_status_fd and "--json-status-fd"
  if not opt then return nil end
  local v = o.report_fd or o.json_status_fd
  local n = math.tointeger(tonumber(v))
  if not n or n < 0 or n > 0x7fffffff then
    usage_error(("%s: '%s' is not a file descriptor"):format(opt, v))
  end
  local f, err, code = io.open("/proc/self/fdinfo/" .. n, "r")
  if not f then
    if code == ENOENT then usage_error(("%s: fd %d is not open"):format(opt, n)) end
    usage_error(("%s: fd %d: %s"):format(opt, n, err))
  end
  local flags = tonumber((f:read("a") or ""):match("flags:%s*(%d+)") or "", 8)
  f:close()
  local mode = flags and flags & O_ACCMODE
  if mode ~= O_WRONLY and mode ~= O_RDWR then
    usage_error(("%s: fd %d is not open for writing"):format(opt, n))
  end
  return n
end

-- Where the report goes, opened before the run: a --report file nslua
-- cannot create is exit 125 before anything starts.
-- @return[1] table {file = handle|nil, fd = integer|nil}
-- @return[2] nil, message
local function open_report(opts)
  local out = { fd = M.report_fd(opts) }
  if opts.report then
    local f, err = io.open(opts.report, "w")
    if not f then return nil, "--report: " .. err end
    out.file = f
  end
  return out
end

local function write_report(out, rep)
  local report = require "nslua.report"
  local text = report.json(rep) .. "\n"
  if out.file then
    local ok, err = out.file:write(text)
    if ok then ok, err = out.file:close() else out.file:close() end
    if not ok then
      eprintf("--report: %s", err)
      return false
    end
  end
  if out.fd then
    local core = require "nslua.core"
    local ok, err = core.proc.write(out.fd, text)
    if not ok then
      eprintf("--report-fd: %s", err)
      return false
    end
  end
  return true
end

--- Run a spec in a container; print set-up errors; the exit code.
-- @tparam table spec
-- @tparam[opt] table opts parsed `run` options (report, report_fd)
-- @treturn integer exit code (the command's, 128+N, 125, 126, 127)
function M.run_spec(spec, opts)
  local container = require "nslua.container"
  local report = require "nslua.report"
  local ok, c = pcall(container.new, spec)
  if not ok then
    eprintf("%s", main.error_text(c))
    return report.EXIT_FAIL
  end
  local out, oerr
  if opts then
    out, oerr = open_report(opts)
    if not out then
      eprintf("%s", oerr)
      return report.EXIT_FAIL
    end
  end
  -- the command exits after this run: the collection run() would do once
  -- the init is gone (the garbage of loading every module) is of no use
  c._last_run = true
  local rep, err = c:run()
  if not rep then
    if out and out.file then out.file:close() end
    eprintf("%s", err)
    return report.EXIT_FAIL
  end
  local e = rep.error
  if e and rep.status == "error" then
    if rep.exit_code == report.EXIT_NOT_FOUND or rep.exit_code == report.EXIT_CANNOT_EXEC then
      eprintf("%s: %s", spec.argv[1], report.strerror(e.errno))
    elseif e.step == "hook after_exit" then
      eprintf("%s: %s", e.step, e.message or "?")
    else
      eprintf("set-up failed at %s: %s", e.step or "?", e.message or "?")
    end
  elseif e then
    eprintf("%s", e.message or e.step or "?")
  end
  if out and not write_report(out, rep) then return report.EXIT_FAIL end
  return report.exit_code(rep)
end

--- main(args) of `nslua run` -> exit code.
function M.main(args)
  local spec, o = M.spec_of(args, "nslua run")
  M.report_fd(o)
  local code = M.run_spec(spec, o)
  -- one container, waited for: nothing is left for finalizers to clean up,
  -- so the launcher may exit without freeing the whole heap first
  main.nothing_to_finalize = true
  return code
end

return M
