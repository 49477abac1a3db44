--- nslua.cli.run: `nslua run [OPTIONS] [--] CMD [ARGS...]`: CMD in the
-- default sandbox (recipes/sandbox.lua), with nslua's own options and
-- bubblewrap's spellings applied in argument order on top of it.
-- One option table feeds both parsers: argparse (help, errors, every form)
-- and a fast path for the common forms.  `nslua explain` takes the same
-- options (nslua.cli.explain).
local core = require "nslua.core"
local main = require "nslua.cli.main"
local limits = require "nslua.limits"
local bwrap = require "nslua.cli.bwrap"

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
-- n: how many values (1 by default, "1-2", "1-3", 2, 3, or 0 for a flag); many:
-- may be repeated (a list); hidden: accepted, not in --help; order: the
-- list in which both parsers also record the option's occurrences, in
-- argument order ("mount_order" for the mount options and their
-- modifiers, DESIGN "Mounts": steps run in the order given, never
-- regrouped by type; "cap_order" for --cap-add and --cap-drop).  Every
-- mount option and every bubblewrap spelling is applied through
-- nslua.cli.bwrap's conversion (M.bwrap_state), so that `run` and `nslua
-- bwrap` give an option one meaning; run's own forms (SRC:DST, DST:SIZE,
-- --file DST CONTENT, --bind-idmap) are converted here.  LIMITS stands for
-- one option per limit of nslua.limits (--memory ... --output); BWRAP for
-- bubblewrap's spellings that only run's bwrap dialect has (their help and
-- argument counts are nslua.cli.bwrap's).
local LIMITS, BWRAP = {}, {}
local M_ORDER, C_ORDER = "mount_order", "cap_order"
local OPTIONS = {
  { "--name", "A name for the container (shown by nslua ps)." },
  { "--rootfs", "Use DIR (read-only) as the root file system." },
  { "--overlay-upper", "With --overlay LOWER[:LOWER...]: where the root's writes go, DIR or tmpfs (default)." },
  { "--overlay-work", "With --overlay-upper DIR: its work directory (default DIR.work, beside it)." },
  { "--bind", "Bind SRC on DST (read-write); SRC[:DST] or SRC DST.", n = "1-2", many = true, order = M_ORDER },
  { "--ro-bind", "Bind SRC on DST read-only; SRC[:DST] or SRC DST.", n = "1-2", many = true, order = M_ORDER },
  { "--bind-try", "Like --bind, skipped when SRC is missing.", n = "1-2", many = true, order = M_ORDER },
  { "--ro-bind-try", "Like --ro-bind, skipped when SRC is missing.", n = "1-2", many = true, order = M_ORDER },
  { "--dev-bind", "Bind SRC on DST allowing device nodes.", n = "1-2", many = true, order = M_ORDER },
  { "--dev-bind-try", "Like --dev-bind, skipped when SRC is missing.", n = "1-2", many = true, order = M_ORDER },
  { "--bind-idmap", "Bind SRC on DST idmapped to the caller.", n = "1-2", many = true, order = M_ORDER },
  { "--bind-as-slot", "Bind SRC on DST read-write without an idmap (files get the payload's host ids).",
    n = "1-2", many = true, order = M_ORDER },
  { "--tmpfs", "A tmpfs on DST[:SIZE].", many = true, order = M_ORDER },
  { "--symlink", "Make DST a symlink to SRC (SRC DST).", n = 2, many = true, order = M_ORDER },
  { "--file", "A file DST with CONTENT (DST CONTENT).", n = 2, many = true, order = M_ORDER },
  { "--dir", "Make directory DST.", many = true, order = M_ORDER },
  { "--hostname", "The sandbox's hostname." },
  { "--cwd --chdir", "Working directory of the command (default /)." },
  { "--keep-cwd", "Bind the current directory read-write at the same path and start there.", n = 0 },
  { "--env", "Set K=V in the command's environment.", many = true },
  { "--setenv", "Set VAR to VALUE (bwrap dialect).", n = 2, many = true },
  { "--unsetenv", "Remove VAR from the environment.", many = true },
  { "--clearenv", "Start from an empty environment (the default; accepted for bwrap).", n = 0 },
  { "--keep-env", "Copy NAME from nslua's environment.", many = true },
  { "--net", "none | host | veth | bridge:NAME[:CIDR[,CIDR6]] | pasta" },
  { "--veth-no-host", "With --net veth: drop, in the host's input hook, what the sandbox sends the host.",
    n = 0 },
  { "--nat", "With --net veth or bridge: masquerade the sandbox's traffic out of the host (nftables).",
    n = 0 },
  { "--publish", "With --net pasta, veth or bridge: forward host port [IP:]HOSTPORT:GUESTPORT[/tcp|/udp] "
    .. "to the sandbox (repeatable).", many = true },
  { "--user", "host: no user namespace (root only)" },
  { "--uid", "The uid inside (default 65534)." },
  { "--gid", "The gid inside (default 65534)." },
  { "--map-all", "Map inside ids 0-65535 (for chown, tar, apt).", n = 0 },
  { "--tty", "Give the command an interactive pty.", n = 0 },
  LIMITS,
  { "--nofile", "RLIMIT_NOFILE." },
  { "--rlimit", ("NAME=VALUE (%s)."):format(table.concat(limits.RLIMIT_KEYS, " ")), many = true },
  { "--caps", "Capabilities to keep: a comma list, or all." },
  { "--seccomp", "default | strict | isolate | none | FILE.lua | FILE.json" },
  { "--landlock-read", "Landlock: allow reading beneath PATH only (repeatable).",
    many = true, argname = { "PATH" } },
  { "--landlock-write", "Landlock: allow writing beneath PATH only (repeatable).", many = true,
    argname = { "PATH" } },
  { "--landlock-exec", "Landlock: allow executing beneath PATH only (repeatable).", many = true,
    argname = { "PATH" } },
  { "--landlock-connect", "Landlock: allow TCP connect to PORT only (repeatable).", many = true, argname = { "PORT" } },
  { "--landlock-bind", "Landlock: allow TCP bind to PORT only (repeatable; 0: ephemeral).", many = true,
    argname = { "PORT" } },
  { "--stdin", "Read stdin from FILE (null for /dev/null)." },
  { "--stdout", "Write stdout to FILE." },
  { "--stderr", "Write stderr to FILE (stdout: a dup of the command's stdout)." },
  { "--report", "Write the report as JSON to FILE (- for stdout, after the command's output)." },
  { "--report-fd", "Write the report as JSON to fd N." },
  { "--share-net", "Share the host network (bwrap).", n = 0 },
  { "--proc", "Mount proc on DST (bwrap).", many = true, order = M_ORDER },
  { "--dev", "Mount a minimal /dev on DST (bwrap).", many = true, order = M_ORDER },
  { "--mqueue", "Mount mqueue on DST (bwrap).", many = true, order = M_ORDER },
  BWRAP,
}
-- bubblewrap's spellings with bubblewrap's meaning (docs/bwrap.md), in
-- its order; order: as above; every other one may be repeated (each
-- occurrence goes to nslua.cli.bwrap, which refuses or warns as bwrap does).
local BWRAP_OPTIONS = {
  ["--args"] = {}, ["--argv0"] = {}, ["--disable-userns"] = {}, ["--assert-userns-disabled"] = {},
  ["--lock-file"] = {}, ["--sync-fd"] = {}, ["--ro-bind-fd"] = { order = M_ORDER },
  ["--bind-fd"] = { order = M_ORDER }, ["--remount-ro"] = { order = M_ORDER },
  ["--overlay-src"] = { order = M_ORDER }, ["--overlay"] = { order = M_ORDER },
  ["--tmp-overlay"] = { order = M_ORDER }, ["--ro-overlay"] = { order = M_ORDER },
  ["--bind-data"] = { order = M_ORDER }, ["--ro-bind-data"] = { order = M_ORDER },
  ["--add-seccomp-fd"] = {}, ["--block-fd"] = {}, ["--info-fd"] = {}, ["--json-status-fd"] = {},
  ["--die-with-parent"] = { help = "Kill the sandbox with SIGKILL when the process that started nslua dies" },
  ["--as-pid-1"] = {},
  ["--cap-add"] = { order = C_ORDER, help = "Add capability CAP, on top of --caps (ALL: every one)" },
  ["--cap-drop"] = { order = C_ORDER, help = "Drop capability CAP (ALL: every one)" },
  ["--perms"] = { order = M_ORDER, help = "Set the mode of the next option's dir, tmpfs or file (--dir, --tmpfs, "
                  .. "--file, --bind-data, --ro-bind-data)" },
  ["--size"] = { order = M_ORDER },
  ["--chmod"] = { order = M_ORDER },
}
BWRAP_OPTIONS["--add-seccomp-fd"].help = "Load a classic-BPF seccomp program from FD after the --seccomp profile "
  .. "(repeatable)"
-- accepted, and what they ask nslua always does
local BWRAP_NOOPS = { "--unshare-all", "--unshare-user", "--unshare-user-try", "--unshare-ipc", "--unshare-pid",
                      "--unshare-net", "--unshare-uts", "--unshare-cgroup", "--unshare-cgroup-try",
                      "--new-session" }
M.OPTIONS = {}
for _, o in ipairs(OPTIONS) do
  if o == LIMITS then
    for _, k in ipairs(limits.KEYS) do
      M.OPTIONS[#M.OPTIONS + 1] = { limits.option(k), limits.LIMITS[k].help }
    end
  elseif o == BWRAP then
    for _, b in ipairs(bwrap.OPTIONS) do
      local t = BWRAP_OPTIONS[b[1]]
      if t then
        local names = {}
        for i, a in ipairs(b[2]) do names[i] = "<" .. a .. ">" end
        M.OPTIONS[#M.OPTIONS + 1] = { b[1], (t.help or b[3]) .. " (bwrap).", n = #b[2], many = #b[2] > 0 or nil,
                                      order = t.order, argname = #names > 0 and names or nil }
      end
    end
  else
    M.OPTIONS[#M.OPTIONS + 1] = o
  end
end
-- --overlay: run's root overlay, LOWER[:LOWER...] (uppermost first), or
-- bubblewrap's RWSRC WORKDIR DEST after --overlay-src
for _, o in ipairs(M.OPTIONS) do
  if o[1] == "--overlay" then
    o.n, o.argname = "1-3", nil
    o[2] = "LOWER[:LOWER...]: a writable root over read-only directories (see --overlay-upper); "
      .. "after --overlay-src, RWSRC WORKDIR DEST as bwrap."
  end
end
for _, f in ipairs(BWRAP_NOOPS) do
  M.OPTIONS[#M.OPTIONS + 1] = { f, "Accepted for bwrap; nslua always does this.", n = 0, hidden = true }
end

-- The result key of an option ("--ro-bind" -> "ro_bind"), as argparse makes it.
local function result_key(o)
  return (o[1]:match("^%-%-(%S+)"):gsub("%-", "_"))
end

-- Record one occurrence of an ordered option: its value in its own list,
-- its key in the list 'order' (the order of the command line).
local function add_ordered(result, key, value, order)
  local list = result[key] or {}
  result[key] = list
  list[#list + 1] = value
  local keys = result[order] or {}
  result[order] = keys
  keys[#keys + 1] = key
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
    if o.argname then opt:argname(#o.argname == 1 and o.argname[1] or o.argname) end
    if o.order then
      local order = o.order
      opt:action(function(r, key, v) add_ordered(r, key, v, order) end)
    end
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
        run_index[name] = { key = key, n = o.n or 1, many = o.many, order = o.order }
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
        local want = o.n == "1-2" and 2 or o.n == "1-3" and 3 or o.n
        local min = (o.n == "1-2" or o.n == "1-3") and 1 or o.n
        i = i + 1
        while #vals < want and i <= n and args[i]:sub(1, 1) ~= "-" do
          vals[#vals + 1] = args[i]
          i = i + 1
        end
        if #vals < min then return nil end
      end
      for _, v in ipairs(vals) do if v:sub(1, 1) == "-" then return nil end end
      if o.order then
        add_ordered(r, o.key, o.n == 1 and vals[1] or vals, o.order)
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

-- Run a function of nslua.cli.bwrap for option 'name': bubblewrap's
-- failure (a bwrap.Die) becomes a usage error naming the option (its own
-- words when they name one).
local function as_run(name, f, ...)
  local ok, e = pcall(f, ...)
  if ok then return e end
  if getmetatable(e) ~= bwrap.Die then error(e, 0) end
  local msg = e.msg
  if not msg:match("%-%-%a") then msg = ("%s: %s"):format(name, msg) end
  usage_error(msg)
end

-- The option name a word of the command line is ("--perms=0700" ->
-- "--perms"), or nil.
local function option_name(a)
  if a:sub(1, 2) ~= "--" or a == "--" then return nil end
  return a:match("^(%-%-[^=]+)=") or a
end

-- bubblewrap's --args FD, spliced in place: the NUL-separated words fd FD
-- holds replace `--args FD` (before `--`; not nested).  A copy of args
-- when there is one, else args itself.
local function splice_args(args)
  local n = args.n or #args
  local i = 1
  while i <= n do
    local a = args[i]
    if a == "--" then break end
    local v, skip
    if a == "--args" then
      if i == n then usage_error("--args: takes an argument (FD)") end
      v, skip = args[i + 1], 2
    elseif a:sub(1, 7) == "--args=" then
      v, skip = a:sub(8), 1
    end
    if v then
      local words = as_run("--args", bwrap.args_of_fd, v)
      for _, w in ipairs(words) do
        if option_name(w) == "--args" then usage_error("--args: not supported in arguments file") end
      end
      local out = { n = 0 }
      for k = 1, i - 1 do out[k] = args[k] end
      for k, w in ipairs(words) do out[i - 1 + k] = w end
      local at = i - 1 + #words
      for k = i + skip, n do out[at + k - i - skip + 1] = args[k] end
      out.n = n - skip + #words
      args, n = out, out.n
      i = i + #words
    else
      i = i + 1
    end
  end
  return args
end

-- Options that modify the next option: bubblewrap refuses them unless the
-- very next option takes them (nslua.cli.bwrap checks that for the mount
-- options; here: the next option must be one).
local MODIFIERS = { ["--perms"] = true, ["--size"] = true, ["--overlay-src"] = true }
local ordered
local function check_modifiers(args)
  if not ordered then
    ordered = {}
    for _, o in ipairs(M.OPTIONS) do
      if o.order == M_ORDER then ordered[o[1]] = true end
    end
  end
  local n = args.n or #args
  for i = 1, n do
    local a = args[i]
    if a == "--" then return end
    local name = option_name(a)
    if MODIFIERS[name] then
      local nxt = args[i + (name == a and 2 or 1)]
      local nname = nxt and option_name(nxt)
      if not ordered[nname] then
        local st = { overlay_src = {} }
        if name == "--perms" then st.next_perms = 0 elseif name == "--size" then st.next_size = 1
        else st.overlay_src[1] = "" end
        as_run(name, bwrap.check_pending, st, nname or "--")
      end
    end
  end
end

--- Parse `run`'s arguments (the fast path, else argparse): the options
-- table; a usage error raises (exit 125).  bubblewrap's `--args FD` is
-- spliced in first (both parsers see its words).
function M.parse(args, name)
  args = splice_args(args)
  local o = M.parse_fast(args)
  if not o then
    local okp
    okp, o = M.parser(name):pparse(args)
    if not okp then usage_error(o) end
  end
  check_modifiers(args)
  return o
end

local function bind_args(v)
  if #v == 2 then return v[1], v[2] end
  local src, dst = split_pair(v[1], ":")
  return src, dst or src
end

local OVERLAYS = { ["--overlay"] = true, ["--tmp-overlay"] = true, ["--ro-overlay"] = true }
local IDMAP_AUTO = { ["--bind"] = true, ["--bind-try"] = true }
local BINDS = { ["--bind"] = true, ["--ro-bind"] = true, ["--bind-try"] = true, ["--ro-bind-try"] = true,
                ["--dev-bind"] = true, ["--dev-bind-try"] = true }

-- One occurrence of a mount option, applied to the bwrap parse state st:
-- run's own forms converted here, bubblewrap's by nslua.cli.bwrap.
local function mount_option(st, name, v)
  if BINDS[name] then
    as_run(name, bwrap.option, st, name, { bind_args(v) })
    -- a read-write --bind of run: idmapped to the caller where it can be
    -- (docs/roots.md "Binds and ownership"); --bind-as-slot: never
    if IDMAP_AUTO[name] then st.ops[#st.ops].idmap = "auto" end
    return
  elseif name == "--bind-as-slot" then
    return as_run(name, bwrap.option, st, name, { bind_args(v) }, function(s, a)
      bwrap.handlers["--bind"](s, a)
    end)
  elseif name == "--bind-idmap" then
    return as_run(name, bwrap.option, st, name, { bind_args(v) }, function(s, a)
      bwrap.handlers["--bind"](s, a)
      s.ops[#s.ops].type = "bind-idmap"
    end)
  elseif name == "--overlay" and #v ~= 3 then
    -- run's root overlay: LOWER[:LOWER...] (relative to the cwd)
    if #v ~= 1 then usage_error("--overlay: takes LOWER[:LOWER...], or RWSRC WORKDIR DEST after --overlay-src") end
    if #st.overlay_src > 0 then usage_error("--overlay after --overlay-src takes RWSRC WORKDIR DEST") end
    if st.root_lower then usage_error("--overlay LOWER[:LOWER...]: given twice") end
    st.root_lower = {}
    for l in v[1]:gmatch("[^:]+") do st.root_lower[#st.root_lower + 1] = bwrap.host_path(st, l) end
    if #st.root_lower == 0 then usage_error("--overlay: no lower directory") end
    return
  elseif OVERLAYS[name] then
    -- bubblewrap's overlays, with idmapped layers where they can be (the
    -- payload can then write over root's files, and RWSRC gets the caller's)
    as_run(name, bwrap.option, st, name, type(v) == "table" and v or { v })
    st.ops[#st.ops].idmap = "auto"
    return
  elseif name == "--tmpfs" then
    -- DST[:SIZE]
    local dst, size = split_pair(v, ":")
    if size then
      size = parse_limit({ kind = "size", min = 1 }, size, "--tmpfs " .. dst)
      if st.next_size then usage_error(("--tmpfs %s: --size and :SIZE both give its size"):format(dst)) end
    end
    return as_run(name, bwrap.option, st, name, { dst }, function(s, a)
      bwrap.handlers["--tmpfs"](s, a)
      if size then s.ops[#s.ops].size = size end
    end)
  elseif name == "--file" then
    -- run's own: DST CONTENT (bubblewrap's is FD DEST)
    return as_run(name, bwrap.option, st, name, v, function(s, a)
      bwrap.op(s, { type = "file", target = bwrap.dest_path(a[1]), content = a[2],
                    mode = bwrap.take_perms(s, nil) })
    end)
  end
  as_run(name, bwrap.option, st, name, type(v) == "table" and v or { v })
end

local order_keys
-- The keys of an order list: o[order] as both parsers record it; options
-- made without a parser have none, and their occurrences are taken in
-- M.OPTIONS' order.
local function order_of(o, order)
  if o[order] then return o[order] end
  if not order_keys then
    order_keys = {}
    for _, opt in ipairs(M.OPTIONS) do
      if opt.order then
        order_keys[opt.order] = order_keys[opt.order] or {}
        table.insert(order_keys[opt.order], result_key(opt))
      end
    end
  end
  local keys = {}
  for _, key in ipairs(order_keys[order]) do
    for _ = 1, #(o[key] or {}) do keys[#keys + 1] = key end
  end
  return keys
end

-- The option name of a result key ("ro_bind" -> "--ro-bind").
local function option_of(key)
  return "--" .. key:gsub("_", "-")
end

-- bubblewrap's options that are not mount options, each occurrence
-- applied in turn (their relative order does not matter).
local BWRAP_OTHER = { "lock_file", "sync_fd", "block_fd", "argv0", "add_seccomp_fd", "info_fd",
                      "json_status_fd", "as_pid_1", "die_with_parent", "disable_userns",
                      "assert_userns_disabled" }

--- The bwrap parse state (nslua.cli.bwrap) of parsed `run` options: the
-- mount options in argument order (st.ops, the mounts), --cap-add and
-- --cap-drop in theirs on top of --caps (st.caps; nil without either),
-- and bubblewrap's other options.
-- @raise a usage error naming the option (exit 125)
function M.bwrap_state(o)
  local st = bwrap.new_state { cwd = core.mount.readlink("/proc/self/cwd") or "/", env = {},
                               warn = function(msg) eprintf("%s", msg) end }
  local seen = {}
  st.op_names = {}   -- the option of each operation, for messages
  for _, key in ipairs(order_of(o, M_ORDER)) do
    seen[key] = (seen[key] or 0) + 1
    mount_option(st, option_of(key), o[key][seen[key]])
    for k = #st.op_names + 1, #st.ops do st.op_names[k] = option_of(key) end
  end
  -- a modifier at the end (when the parsers' check did not run)
  as_run("--perms", bwrap.check_pending, st, "--")
  local caps = order_of(o, C_ORDER)
  if #caps > 0 then
    st.caps = {}
    for c in (o.caps or ""):gmatch("[^,%s]+") do
      c = c:lower():gsub("^cap_", "")
      if c == "all" then st.caps = bwrap.all_caps() else st.caps[c] = true end
    end
    seen = {}
    for _, key in ipairs(caps) do
      seen[key] = (seen[key] or 0) + 1
      as_run(option_of(key), bwrap.option, st, option_of(key), { o[key][seen[key]] })
    end
  else
    st.caps = nil
  end
  for _, key in ipairs(BWRAP_OTHER) do
    local v = o[key]
    if v == true then
      as_run(option_of(key), bwrap.option, st, option_of(key), {})
    elseif type(v) == "table" then
      for _, x in ipairs(v) do as_run(option_of(key), bwrap.option, st, option_of(key), { x }) end
    end
  end
  return st
end

--- The spec's mounts of parsed `run` options, in the order of the command
-- line (o.mount_order, which both parsers record).
function M.mounts_of(o)
  local st = M.bwrap_state(o)
  local mounts, ctx = {}, { pidns = true, used = {} }
  for i, op in ipairs(st.ops) do mounts[i] = as_run(st.op_names[i], bwrap.mount_of, op, ctx) end
  return mounts, st
end

--- Turn parsed `run` options into overrides of the default spec, and the
-- set of environment variables to remove.
function M.options_to_spec(o)
  local s = {}
  local mounts, st = M.mounts_of(o)
  s.cwd = o.cwd
  if o.keep_cwd then
    -- the caller's cwd, bound read-write first (the options after it may
    -- shadow it) and the command's cwd unless --cwd says otherwise
    local here = core.mount.readlink("/proc/self/cwd")
    if not here or here:sub(1, 1) ~= "/" then usage_error("--keep-cwd: the current directory is not reachable") end
    if here == "/" then usage_error("--keep-cwd: the current directory is /; bind what you need instead") end
    table.insert(mounts, 1, { type = "bind", source = here, target = here, idmap = "auto" })
    s.cwd = s.cwd or here
  end
  if #mounts > 0 then s.mounts = mounts end
  s.name = o.name
  s.rootfs = o.rootfs
  if st.root_lower then
    if o.rootfs then usage_error("--overlay LOWER and --rootfs both give the root") end
    local up = o.overlay_upper
    s.rootfs = { lower = st.root_lower,
                 upper = up and up ~= "tmpfs" and bwrap.host_path(st, up) or "tmpfs",
                 work = o.overlay_work and bwrap.host_path(st, o.overlay_work) }
  elseif o.overlay_upper or o.overlay_work then
    usage_error("--overlay-upper and --overlay-work need --overlay LOWER[:LOWER...]")
  end
  s.hostname = o.hostname
  if o.net then
    if o.net == "none" or o.net == "host" then
      s.net = o.net
    elseif o.net == "veth" then
      s.net = { veth = {} }
    elseif o.net == "pasta" then
      s.net = "pasta"
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
      usage_error(("--net: '%s' is not none, host, veth, bridge:NAME[:CIDR[,CIDR6]] or pasta"):format(o.net))
    end
  end
  if o.publish and #o.publish > 0 and s.net == "pasta" then
    for _, x in ipairs(o.publish) do
      local ok, err = require("nslua.net").parse_publish(x)
      if not ok then usage_error(("--publish %s: %s"):format(x, err)) end
    end
    s.net = { pasta = true, publish = o.publish }
  end
  if o.veth_no_host then
    -- the table inet nslua-<id> on the host (net.lua, docs/networking.md "The plans")
    if type(s.net) ~= "table" or not s.net.veth then usage_error("--veth-no-host needs --net veth") end
    s.net.veth.isolate_host = true
  end
  local pasta = type(s.net) == "table" and s.net.pasta
  if o.nat or (o.publish and #o.publish > 0 and not pasta) then
    -- the table inet nslua-<id> and forwarding (net.lua, docs/networking.md)
    local t = type(s.net) == "table" and not pasta and (s.net.veth or s.net) or nil
    if not t then
      usage_error(o.nat and "--nat needs --net veth or --net bridge:..."
        or "--publish needs --net veth, --net bridge:... or --net pasta")
    end
    if o.nat then t.nat = true end
    if o.publish and #o.publish > 0 then t.publish = o.publish end
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
  if st.caps then
    -- --cap-add and --cap-drop on top of --caps (or of none)
    local caps = {}
    for c in pairs(st.caps) do caps[#caps + 1] = c end
    table.sort(caps)
    s.caps = caps
  elseif o.caps then
    local caps = {}
    for c in o.caps:gmatch("[^,%s]+") do caps[#caps + 1] = c:lower() end
    s.caps = caps
  end
  s.seccomp = o.seccomp
  -- --landlock-*: each category given replaces the recipe's (docs/policy.md)
  local ll = {}
  for _, cat in ipairs { "read", "write", "exec" } do
    local list = o["landlock_" .. cat]
    if list and #list > 0 then ll[cat] = table.move(list, 1, #list, 1, {}) end
  end
  for _, cat in ipairs { "connect", "bind" } do
    local list = o["landlock_" .. cat]
    if list and #list > 0 then
      ll[cat] = {}
      for i, v in ipairs(list) do
        local n = math.tointeger(tonumber(v))
        if not n or n < 0 or n > 65535 or not v:match("^%d+$") then
          usage_error(("--landlock-%s: '%s' is not a TCP port 0..65535"):format(cat, v))
        end
        ll[cat][i] = n
      end
    end
  end
  if next(ll) then s.landlock = ll end
  -- bubblewrap's: argv0, init, die_with_parent, userns, sync, lock_files,
  -- seccomp_bpf (on top of the profile)
  as_run("--add-seccomp-fd", bwrap.process_fields, st, s)
  if st.disable_userns and s.user == "host" then
    usage_error("--disable-userns needs a user namespace (not --user host)")
  end
  if o.stdin or o.stdout or o.stderr then
    s.stdio = { stdin = o.stdin, stdout = o.stdout, stderr = o.stderr }
  end
  if #(o.command or {}) > 0 then s.argv = o.command end
  return s, unset, st
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
-- @treturn table the bwrap parse state of the options (M.bwrap_state)
function M.spec_of(args, name)
  local o = M.parse(args, name)
  local over, unset, st = M.options_to_spec(o)
  if not over.argv then usage_error("missing command (nslua run [OPTIONS] -- CMD [ARGS...])") end
  return main.apply(M.default_spec(), over, unset), o, st
end

local ENOENT <const> = require("nslua.core").errno.ENOENT
local O_ACCMODE <const>, O_WRONLY <const>, O_RDWR <const> = 3, 1, 2

--- An fd the run writes to (--report-fd, bwrap's --info-fd and
-- --json-status-fd), checked before anything starts: open, and open for
-- writing (its fdinfo flags), so a bad one is exit 125 before a container
-- exists, not after the run.
-- @tparam string opt the option
-- @param v its value (nil: no check)
-- @treturn integer|nil the fd
-- @raise a usage error naming the option
function M.write_fd(opt, v)
  if v == nil then return nil end
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

--- The fd of --report-fd, checked before anything starts (M.write_fd).
-- @tparam table o parsed `run` options
-- @treturn integer|nil the fd (nil without the option)
function M.report_fd(o)
  return M.write_fd("--report-fd", o.report_fd)
end

-- Where the report goes, opened before the run: a --report file nslua
-- cannot create is exit 125 before anything starts.
-- @return[1] table {file = handle|nil, fd = integer|nil}
-- @return[2] nil, message
local function open_report(opts)
  local out = { fd = M.report_fd(opts) }
  if opts.report == "-" then
    out.stdout = true
  elseif opts.report then
    local f, err = io.open(opts.report, "w")
    if not f then return nil, "--report: " .. err end
    out.file = f
  end
  return out
end

local function write_report(out, rep)
  -- no --report nor --report-fd: no JSON to make (nor cjson to load)
  if not out.file and not out.fd and not out.stdout then return true end
  local report = require "nslua.report"
  local text = report.json(rep) .. "\n"
  if out.stdout then
    local ok, err = io.stdout:write(text)
    if ok then ok, err = io.stdout:flush() end
    if not ok then
      eprintf("--report: %s", err)
      return false
    end
  end
  if out.file then
    local ok, err = out.file:write(text)
    if ok then ok, err = out.file:close() else out.file:close() end
    if not ok then
      eprintf("--report: %s", err)
      return false
    end
  end
  if out.fd then
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
-- @tparam[opt] table w the writers of bwrap's --info-fd and --json-status-fd
--   (nslua.cli.bwrap.status_writers)
-- @treturn integer exit code (the command's, 128+N, 125, 126, 127)
function M.run_spec(spec, opts, w)
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
  if w then w.attach(c) end
  local rep, err = c:run()
  if not rep then
    if out and out.file then out.file:close() end
    eprintf("%s", err)
    return report.EXIT_FAIL
  end
  -- bubblewrap's first document: out even when the command never ran
  if w then w.report(c) end
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
  local code = report.exit_code(rep)
  -- bubblewrap's last document: only when the command ran
  if w and rep.status ~= "error" then w.ran(c, code) end
  return code
end

--- main(args) of `nslua run` -> exit code.
function M.main(args)
  local spec, o, st = M.spec_of(args, "nslua run")
  M.report_fd(o)
  M.write_fd("--info-fd", st.info_fd)
  M.write_fd("--json-status-fd", st.json_status_fd)
  local w = (st.info_fd or st.json_status_fd) and bwrap.status_writers(spec, st)
  local code = M.run_spec(spec, o, w)
  -- one container, waited for: nothing is left for finalizers to clean up,
  -- so the launcher may exit without freeing the whole heap first
  main.nothing_to_finalize = true
  return code
end

return M
