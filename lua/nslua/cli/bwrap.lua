--- nslua.cli.bwrap: `nslua bwrap ARGS` (and the launcher invoked as
-- `bwrap`): bubblewrap 0.11's command line with bubblewrap's semantics
-- (DESIGN "Front ends"), turned into one spec for the one executor.
-- Nothing is unshared but what is asked (a mount namespace always, a user
-- namespace when the caller is not root); the root starts as an empty
-- tmpfs (spec.base = "none"); operations apply in argument order; the
-- command starts at the first non-option (`--` optional); ids, the
-- environment, the cwd, capabilities, exit codes and the --info-fd and
-- --json-status-fd documents are bubblewrap's.  docs/bwrap.md lists the
-- options and every deliberate difference.
local core = require "nslua.core"

local M = {}

M.VERSION = "0.11.1"
M.PROG = "bwrap"
M.MAX_ARGS = 9000          -- bubblewrap's bound on arguments (with --args)

-- A bwrap failure: "bwrap: MESSAGE" on stderr, exit 1 (bubblewrap's die()).
local Die = {}
local function die(fmt, ...)
  error(setmetatable({ msg = fmt:format(...) }, Die), 0)
end
M.Die = Die

--- bubblewrap's exit code for its own failures (usage, set-up, exec).
M.EXIT_FAIL = 1

-- ------------------------------------------------------------- options

-- Every option of bubblewrap 0.11, in its --help order: the arguments it
-- takes and its meaning (our wording).  `nslua run` reads the same table
-- for the bwrap spellings it accepts (docs/bwrap.md).
M.OPTIONS = {
  { "--help", {}, "Print this help" },
  { "--version", {}, "Print version" },
  { "--args", { "FD" }, "Parse NUL-separated arguments from FD" },
  { "--argv0", { "VALUE" }, "Set argv[0] to VALUE before running the program" },
  { "--level-prefix", {}, "Prepend e.g. <3> to diagnostic messages" },
  { "--unshare-all", {}, "Unshare every namespace we support by default" },
  { "--share-net", {}, "Retain the network namespace (can only combine with --unshare-all)" },
  { "--unshare-user", {}, "Create new user namespace (implied when not run as root)" },
  { "--unshare-user-try", {}, "Create new user namespace if possible, else continue without" },
  { "--unshare-ipc", {}, "Create new ipc namespace" },
  { "--unshare-pid", {}, "Create new pid namespace" },
  { "--unshare-net", {}, "Create new network namespace" },
  { "--unshare-uts", {}, "Create new uts namespace" },
  { "--unshare-cgroup", {}, "Create new cgroup namespace" },
  { "--unshare-cgroup-try", {}, "Create new cgroup namespace if possible, else continue without" },
  { "--userns", { "FD" }, "Use this user namespace (cannot combine with --unshare-user)" },
  { "--userns2", { "FD" }, "After setup switch to this user namespace, only useful with --userns" },
  { "--disable-userns", {}, "Disable further use of user namespaces inside the sandbox" },
  { "--assert-userns-disabled", {},
    "Fail unless further use of user namespaces inside the sandbox is disabled" },
  { "--pidns", { "FD" }, "Use this pid namespace (as parent namespace if using --unshare-pid)" },
  { "--uid", { "UID" }, "Custom uid in the sandbox (requires --unshare-user or --userns)" },
  { "--gid", { "GID" }, "Custom gid in the sandbox (requires --unshare-user or --userns)" },
  { "--hostname", { "NAME" }, "Custom hostname in the sandbox (requires --unshare-uts)" },
  { "--chdir", { "DIR" }, "Change directory to DIR" },
  { "--clearenv", {}, "Unset all environment variables" },
  { "--setenv", { "VAR", "VALUE" }, "Set an environment variable" },
  { "--unsetenv", { "VAR" }, "Unset an environment variable" },
  { "--lock-file", { "DEST" }, "Take a lock on DEST while the sandbox is running" },
  { "--sync-fd", { "FD" }, "Keep this fd open while the sandbox is running" },
  { "--bind", { "SRC", "DEST" }, "Bind mount the host path SRC on DEST" },
  { "--bind-try", { "SRC", "DEST" }, "Equal to --bind but ignores non-existent SRC" },
  { "--dev-bind", { "SRC", "DEST" }, "Bind mount the host path SRC on DEST, allowing device access" },
  { "--dev-bind-try", { "SRC", "DEST" }, "Equal to --dev-bind but ignores non-existent SRC" },
  { "--ro-bind", { "SRC", "DEST" }, "Bind mount the host path SRC read-only on DEST" },
  { "--ro-bind-try", { "SRC", "DEST" }, "Equal to --ro-bind but ignores non-existent SRC" },
  { "--bind-fd", { "FD", "DEST" }, "Bind the open directory or path fd FD on DEST" },
  { "--ro-bind-fd", { "FD", "DEST" }, "Bind the open directory or path fd FD read-only on DEST" },
  { "--remount-ro", { "DEST" }, "Remount DEST as read-only; does not recursively remount" },
  { "--overlay-src", { "SRC" }, "Read files from SRC in the following overlay" },
  { "--overlay", { "RWSRC", "WORKDIR", "DEST" },
    "Mount overlayfs on DEST, with RWSRC as the host path for writes and WORKDIR an empty directory "
      .. "on the same file system as RWSRC" },
  { "--tmp-overlay", { "DEST" }, "Mount overlayfs on DEST, with writes going to an invisible tmpfs" },
  { "--ro-overlay", { "DEST" }, "Mount overlayfs read-only on DEST" },
  { "--exec-label", { "LABEL" }, "Exec label for the sandbox (SELinux; an error without it)" },
  { "--file-label", { "LABEL" }, "File label for temporary sandbox content (SELinux; an error without it)" },
  { "--proc", { "DEST" }, "Mount new procfs on DEST" },
  { "--dev", { "DEST" }, "Mount new dev on DEST" },
  { "--tmpfs", { "DEST" }, "Mount new tmpfs on DEST" },
  { "--mqueue", { "DEST" }, "Mount new mqueue on DEST" },
  { "--dir", { "DEST" }, "Create dir at DEST" },
  { "--file", { "FD", "DEST" }, "Copy from FD to destination DEST" },
  { "--bind-data", { "FD", "DEST" }, "Copy from FD to a file which is bind-mounted on DEST" },
  { "--ro-bind-data", { "FD", "DEST" }, "Copy from FD to a file which is read-only bind-mounted on DEST" },
  { "--symlink", { "SRC", "DEST" }, "Create symlink at DEST with target SRC" },
  { "--seccomp", { "FD" }, "Load and use seccomp rules from FD (not repeatable)" },
  { "--add-seccomp-fd", { "FD" }, "Load and use seccomp rules from FD (repeatable)" },
  { "--block-fd", { "FD" }, "Block on FD until some data to read is available" },
  { "--userns-block-fd", { "FD" }, "Block on FD until the user namespace is ready" },
  { "--info-fd", { "FD" }, "Write information about the running container to FD" },
  { "--json-status-fd", { "FD" }, "Write container status to FD as multiple JSON documents" },
  { "--new-session", {}, "Create a new terminal session" },
  { "--die-with-parent", {}, "Kill the command with SIGKILL when bwrap or bwrap's parent dies" },
  { "--as-pid-1", {}, "Do not install a reaper process with PID=1" },
  { "--cap-add", { "CAP" }, "Add cap CAP when running as privileged user" },
  { "--cap-drop", { "CAP" }, "Drop cap CAP when running as privileged user" },
  { "--perms", { "OCTAL" }, "Set permissions of next argument (--bind-data, --file, etc.)" },
  { "--size", { "BYTES" }, "Set size of next argument (only for --tmpfs)" },
  { "--chmod", { "OCTAL", "PATH" }, "Change permissions of PATH (must already exist)" },
}
local OVERLAY_SRC_ALONE = "--overlay-src must be followed by another --overlay-src or one of "
  .. "--overlay, --tmp-overlay, or --ro-overlay"
local OPT = {}
for _, o in ipairs(M.OPTIONS) do OPT[o[1]] = o end

--- bubblewrap's usage text for program name 'prog'.
function M.usage(prog)
  local out = { ("usage: %s [OPTIONS...] [--] COMMAND [ARGS...]\n"):format(prog or M.PROG) }
  for _, o in ipairs(M.OPTIONS) do
    local head = o[1] .. (#o[2] > 0 and (" " .. table.concat(o[2], " ")) or "")
    out[#out + 1] = ("    %-28s %s"):format(head, o[3])
  end
  return table.concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------- parsing

-- A non-negative decimal integer, the whole string (bubblewrap's strtol check).
local function decimal(s)
  if not s:match("^%d+$") then return nil end
  return math.tointeger(tonumber(s))
end

local function fd_arg(s)
  local n = decimal(s)
  if not n or n > 0x7fffffff then die("Invalid fd: %s", s) end
  return n
end

-- Everything an fd gives until end of file.
local function read_all(fd, what)
  local parts = {}
  while true do
    local chunk, err = core.proc.read(fd, 65536)
    if not chunk then die("%s: %s", what, (tostring(err):gsub("^read[^:]*: ", ""))) end
    if chunk == "" then break end
    parts[#parts + 1] = chunk
  end
  return table.concat(parts)
end

-- Paths: a host source is relative to the caller's cwd (bubblewrap
-- resolves it before it leaves); a destination is inside the new root.
local function host_path(st, p)
  if p:sub(1, 1) == "/" then return p end
  return (st.cwd == "/" and "" or st.cwd) .. "/" .. p
end
local function dest_path(p)
  p = "/" .. p:gsub("^/+", "")
  if #p > 1 then p = p:gsub("/+$", "") end
  return p
end

-- The caller's environment as a table and its names in order.
local function environ()
  local env = {}
  local f = io.open("/proc/self/environ", "rb")
  if f then
    local data = f:read("a") or ""
    f:close()
    for kv in data:gmatch("([^%z]*)%z") do
      local k, v = kv:match("^([^=]+)=(.*)$")
      if k and env[k] == nil then env[k] = v end
    end
  end
  return env
end

local all_caps, caller_caps

-- The parse state: what the options said, in order where order matters.
-- (`nslua run` makes one too, and feeds its bwrap spellings to M.option.)
local function new_state(opts)
  return {
    cwd = opts.cwd, env = opts.env or environ(), uid = opts.uid, gid = opts.gid,
    ops = {}, lock_files = {}, seccomp = {}, overlay_src = {}, consumed = {},
    caps = opts.uid == 0 and (opts.caps or caller_caps()) or {}, nargs = 0, warn = opts.warn,
  }
end
M.new_state = new_state

local function warn_last(st, name)
  st.warn(("Only the last %s option will take effect"):format(name), st.level_prefix)
end

-- Options that modify the next operation rather than being one.
local MODIFIER = { ["--perms"] = true, ["--size"] = true }

local handlers = {}

local function op(st, t)
  st.ops[#st.ops + 1] = t
  return t
end

-- The mode of an operation that creates a file: --perms, else 'default'.
local function take_perms(st, default)
  local m = st.next_perms or default
  st.next_perms = nil
  return m
end
M.op, M.take_perms, M.dest_path, M.host_path = op, take_perms, dest_path, host_path

local function bind_op(kind, ro, try)
  return function(st, a)
    op(st, { type = kind, source = host_path(st, a[1]), target = dest_path(a[2]), ro = ro or nil,
             try = try or nil })
  end
end
handlers["--bind"] = bind_op("bind")
handlers["--bind-try"] = bind_op("bind", false, true)
handlers["--ro-bind"] = bind_op("bind", true)
handlers["--ro-bind-try"] = bind_op("bind", true, true)
handlers["--dev-bind"] = bind_op("dev-bind")
handlers["--dev-bind-try"] = bind_op("dev-bind", false, true)
local function bind_fd(ro)
  return function(st, a)
    local fd = fd_arg(a[1])
    op(st, { type = "bind", source_fd = fd, target = dest_path(a[2]), ro = ro or nil })
  end
end
handlers["--bind-fd"] = bind_fd(false)
handlers["--ro-bind-fd"] = bind_fd(true)
handlers["--remount-ro"] = function(st, a) op(st, { type = "remount-ro", target = dest_path(a[1]) }) end
handlers["--proc"] = function(st, a) op(st, { type = "proc", target = dest_path(a[1]) }) end
handlers["--dev"] = function(st, a) op(st, { type = "dev", target = dest_path(a[1]) }) end
handlers["--mqueue"] = function(st, a) op(st, { type = "mqueue", target = dest_path(a[1]) }) end
handlers["--tmpfs"] = function(st, a)
  op(st, { type = "tmpfs", target = dest_path(a[1]), size = st.next_size, mode = take_perms(st, 493) })
  st.next_size = nil
end
-- a --dir's mode also decides its missing parents' (spec "dir")
handlers["--dir"] = function(st, a)
  op(st, { type = "dir", target = dest_path(a[1]), mode = take_perms(st, nil) })
end
local function data_op(kind)
  return function(st, a)
    local fd = fd_arg(a[1])
    if kind == "file" then
      op(st, { type = "file", target = dest_path(a[2]), fd = fd, inplace = true, mode = take_perms(st, 438) })
    else
      op(st, { type = "file", target = dest_path(a[2]), fd = fd, ro = kind == "ro", mode = take_perms(st, 384) })
    end
  end
end
handlers["--file"] = data_op("file")
handlers["--bind-data"] = data_op("rw")
handlers["--ro-bind-data"] = data_op("ro")
handlers["--symlink"] = function(st, a) op(st, { type = "symlink", source = a[1], target = dest_path(a[2]) }) end
handlers["--chmod"] = function(st, a)
  local m = a[1]:match("^[0-7]+$") and tonumber(a[1], 8)
  if not m or m > 4095 then die("--chmod takes an octal argument <= 07777") end
  op(st, { type = "chmod", target = dest_path(a[2]), mode = m })
end
handlers["--overlay-src"] = function(st, a)
  st.overlay_src[#st.overlay_src + 1] = host_path(st, a[1])
end
local function overlay_op(st, t, min, name)
  if #st.overlay_src < min then
    die("%s requires at least %s --overlay-src", name, min == 1 and "one" or "two")
  end
  -- --overlay-src lists bottom first; overlayfs wants the uppermost first
  local lower = {}
  for i = #st.overlay_src, 1, -1 do lower[#lower + 1] = st.overlay_src[i] end
  st.overlay_src = {}
  t.type, t.lower = "overlay", lower
  op(st, t)
end
handlers["--overlay"] = function(st, a)
  overlay_op(st, { upper = host_path(st, a[1]), work = host_path(st, a[2]), target = dest_path(a[3]) },
    1, "--overlay")
end
handlers["--tmp-overlay"] = function(st, a)
  overlay_op(st, { target = dest_path(a[1]) }, 1, "--tmp-overlay")
end
handlers["--ro-overlay"] = function(st, a)
  overlay_op(st, { target = dest_path(a[1]), ro = true }, 2, "--ro-overlay")
end
handlers["--perms"] = function(st, a)
  if st.next_perms then die("--perms given twice for the same action") end
  local m = a[1]:match("^[0-7]+$") and tonumber(a[1], 8)
  if not m or m > 4095 then die("--perms takes an octal argument <= 07777") end
  st.next_perms = m
end
handlers["--size"] = function(st, a)
  if st.next_size then die("--size given twice for the same action") end
  local s = a[1]
  local n = s:match("^%d") and (s:match("^0[xX]%x+$") and tonumber(s)
    or s:match("^0[0-7]*$") and tonumber(s, 8) or s:match("^%d+$") and tonumber(s))
  n = n and math.tointeger(n)
  -- bubblewrap's limit: SIZE_MAX / 2
  if not n or n <= 0 or #s > 20 then die("--size takes a non-zero number of bytes") end
  st.next_size = n
end
local function flag(name) return function(st) st[name] = true end end
handlers["--unshare-all"] = function(st)
  st.unshare_user_try, st.unshare_ipc, st.unshare_pid, st.unshare_uts = true, true, true, true
  st.unshare_cgroup_try, st.unshare_net = true, true
end
handlers["--unshare-user"] = flag("unshare_user")
handlers["--unshare-user-try"] = flag("unshare_user_try")
handlers["--unshare-ipc"] = flag("unshare_ipc")
handlers["--unshare-pid"] = flag("unshare_pid")
handlers["--unshare-net"] = flag("unshare_net")
handlers["--unshare-uts"] = flag("unshare_uts")
handlers["--unshare-cgroup"] = flag("unshare_cgroup")
handlers["--unshare-cgroup-try"] = flag("unshare_cgroup_try")
handlers["--share-net"] = function(st) st.unshare_net = false end
handlers["--disable-userns"] = flag("disable_userns")
handlers["--assert-userns-disabled"] = flag("assert_userns_disabled")
handlers["--new-session"] = flag("new_session")
handlers["--die-with-parent"] = flag("die_with_parent")
handlers["--as-pid-1"] = flag("as_pid_1")
handlers["--level-prefix"] = flag("level_prefix")
handlers["--clearenv"] = function(st) st.env = {} end
handlers["--setenv"] = function(st, a) st.env[a[1]] = a[2] end
handlers["--unsetenv"] = function(st, a) st.env[a[1]] = nil end
handlers["--lock-file"] = function(st, a) st.lock_files[#st.lock_files + 1] = dest_path(a[1]) end
-- options that take one value, the last one counts (with a warning)
local function last(name, key, conv)
  return function(st, a)
    if st[key] ~= nil then warn_last(st, name) end
    st[key] = conv and conv(a[1]) or a[1]
  end
end
handlers["--chdir"] = last("--chdir", "chdir")
handlers["--hostname"] = last("--hostname", "hostname")
handlers["--sync-fd"] = last("--sync-fd", "sync_fd", fd_arg)
handlers["--block-fd"] = last("--block-fd", "block_fd", fd_arg)
handlers["--userns-block-fd"] = last("--userns-block-fd", "userns_block_fd", fd_arg)
handlers["--info-fd"] = last("--info-fd", "info_fd", fd_arg)
handlers["--json-status-fd"] = last("--json-status-fd", "json_status_fd", fd_arg)
handlers["--userns"] = last("--userns", "userns_fd", fd_arg)
handlers["--userns2"] = last("--userns2", "userns2_fd", fd_arg)
handlers["--pidns"] = last("--pidns", "pidns_fd", fd_arg)
local function id_arg(what)
  return function(s)
    local n = decimal(s)
    if not n or n > 0xfffffffe then die("Invalid %s: %s", what, s) end
    return n
  end
end
handlers["--uid"] = last("--uid", "sandbox_uid", id_arg("uid"))
handlers["--gid"] = last("--gid", "sandbox_gid", id_arg("gid"))
handlers["--argv0"] = function(st, a)
  if st.argv0 then die("--argv0 used multiple times") end
  st.argv0 = a[1]
end
handlers["--seccomp"] = function(st, a)
  if st.seccomp_mode == "add" then die("--seccomp cannot be combined with --add-seccomp-fd") end
  if st.seccomp_mode == "one" then warn_last(st, "--seccomp") end
  st.seccomp_mode, st.seccomp = "one", { fd_arg(a[1]) }
end
handlers["--add-seccomp-fd"] = function(st, a)
  if st.seccomp_mode == "one" then die("--add-seccomp-fd cannot be combined with --seccomp") end
  st.seccomp_mode = "add"
  st.seccomp[#st.seccomp + 1] = fd_arg(a[1])
end
local function label(name)
  return function(st)
    if st[name] then warn_last(st, "--" .. name:gsub("_", "-")) end
    st[name] = true
    -- bubblewrap without SELinux (this build: no SELinux support)
    die("labeling not supported on this system")
  end
end
handlers["--exec-label"] = label("exec_label")
handlers["--file-label"] = label("file_label")

-- caps: the set of names the command keeps.  bubblewrap starts from
-- every capability for root (with or without a user namespace) and from
-- none for anyone else; --cap-add and --cap-drop change that set.
function all_caps()
  local set = {}
  for _, c in ipairs(require("nslua.validate").CAPS) do set[c] = true end
  return set
end
-- The capabilities this process has in effect (root's start set, as
-- bubblewrap takes it with capget).
function caller_caps()
  local f = io.open("/proc/self/status")
  local hex = f and (f:read("a") or ""):match("CapEff:%s*(%x+)")
  if f then f:close() end
  local bits = hex and math.tointeger(tonumber(hex, 16))
  if not bits then return all_caps() end
  local set = {}
  for i, c in ipairs(require("nslua.validate").CAPS) do
    if bits & (1 << (i - 1)) ~= 0 then set[c] = true end
  end
  return set
end
local function cap_name(s)
  local n = s:lower():gsub("^cap_", "")
  if all_caps()[n] then return n end
  die("unknown cap: %s", s)
end
handlers["--cap-add"] = function(st, a)
  st.caps_used = true
  if a[1]:lower() == "all" then st.caps = all_caps() return end
  st.caps[cap_name(a[1])] = true
end
handlers["--cap-drop"] = function(st, a)
  st.caps_used = true
  if a[1]:lower() == "all" then st.caps = {} return end
  st.caps[cap_name(a[1])] = nil
end
M.all_caps = all_caps
M.handlers = handlers

-- bubblewrap's checks after each option: a --perms or --size the option
-- did not take, an --overlay-src not followed by an overlay.
local function check_pending(st, a)
  if not MODIFIER[a] then
    if st.next_perms then die("--perms must be followed by an option that creates a file") end
    if st.next_size then die("--size must be followed by --tmpfs") end
  end
  if a ~= "--overlay-src" and #st.overlay_src > 0 then
    die("%s", OVERLAY_SRC_ALONE)
  end
end
M.check_pending = check_pending

--- Apply one occurrence of option 'a' (its values in 'vals') to the parse
-- state st, as bubblewrap's parser does, with its checks after it.
-- 'handler' (st, vals) replaces the option's own conversion (`nslua run`'s
-- spellings of the same operation).  Raises a M.Die.
function M.option(st, a, vals, handler)
  (handler or handlers[a])(st, vals)
  check_pending(st, a)
end

--- The NUL-separated arguments that fd 'v' (an --args value) holds, read
-- to its end; the fd is closed.  Raises a M.Die.
function M.args_of_fd(v)
  local fd = fd_arg(v)
  local data = read_all(fd, "Can't read --args data")
  core.proc.close(fd)
  local sub = {}
  local pos = 1
  while pos <= #data do
    local z = data:find("\0", pos, true)
    sub[#sub + 1] = data:sub(pos, (z or #data + 1) - 1)
    pos = (z or #data) + 1
  end
  return sub
end

-- Parse args[i..n] into st; returns the index of the command's first word
-- (n + 1 when none).
local function parse_into(st, args, i, n, in_file)
  while i <= n do
    local a = args[i]
    if a == "--help" then
      st.help = true
      return n + 1
    elseif a == "--version" then
      st.version = true
      return n + 1
    elseif a == "--args" then
      if in_file then die("--args not supported in arguments file") end
      if i + 1 > n then die("--args takes an argument") end
      local sub = M.args_of_fd(args[i + 1])
      st.nargs = st.nargs + #sub
      if st.nargs > M.MAX_ARGS then die("Exceeded maximum number of arguments %d", M.MAX_ARGS) end
      -- (as in bubblewrap, words after a non-option in the file are ignored)
      parse_into(st, sub, 1, #sub, true)
      i = i + 2
    elseif a == "--" then
      return i + 1
    elseif OPT[a] then
      local o = OPT[a]
      local want = #o[2]
      if i + want > n then
        if want == 1 then die("%s takes an argument", a) end
        die("%s takes %s arguments", a, want == 2 and "two" or "three")
      end
      M.option(st, a, { table.unpack(args, i + 1, i + want) })
      i = i + want + 1
    elseif a:sub(1, 1) == "-" then
      die("Unknown option %s", a)
    else
      return i
    end
  end
  return i
end

--- Parse bwrap's arguments.
-- @tparam table args the arguments (args.n or #args of them)
-- @tparam table opts cwd (the caller's), env (table; default: this
--   process's), uid, gid (the caller's), warn(msg)
-- @treturn table the parse state (st.command: the command's words)
function M.parse(args, opts)
  local st = new_state(opts)
  local n = args.n or #args
  st.nargs = n
  if st.nargs > M.MAX_ARGS then die("Exceeded maximum number of arguments %d", M.MAX_ARGS) end
  local first = parse_into(st, args, 1, n, false)
  if st.help or st.version then return st end
  if #st.overlay_src > 0 then
    die("%s", OVERLAY_SRC_ALONE)
  end
  st.command = {}
  for k = first, n do st.command[#st.command + 1] = args[k] end
  return st
end

-- ----------------------------------------------------------------- spec

--- The fds open in this process, sorted (the directory's own fd left out:
-- it is closed again when each is checked).
function M.open_fds()
  local names = core.mount.readdir("/proc/self/fd") or {}
  local out = {}
  for _, name in ipairs(names) do
    local fd = math.tointeger(tonumber(type(name) == "table" and name.name or name))
    local f = fd and io.open("/proc/self/fdinfo/" .. fd)
    if f then
      f:close()
      out[#out + 1] = fd
    end
  end
  table.sort(out)
  return out
end

local function userns_available()
  local f = io.open("/proc/sys/user/max_user_namespaces")
  if not f then return true end
  local v = f:read("l")
  f:close()
  return v ~= "0"
end

-- A tmpfs without --size gets the kernel's default (half the RAM), not
-- nslua's 64 MiB: bubblewrap passes no size.
local function default_tmpfs_size()
  local f = io.open("/proc/meminfo")
  local kb = f and f:read("a"):match("MemTotal:%s*(%d+)")
  if f then f:close() end
  return kb and (tonumber(kb) * 1024) // 2 or nil
end

--- The spec mount of one operation of a parse state (st.ops[i]); the
-- data of --file, --bind-data and --ro-bind-data is read from its fd now.
-- @tparam table o the operation
-- @tparam table ctx pidns (true: --proc mounts a procfs; else it binds the
--   host's /proc, as bubblewrap does sharing the pid namespace),
--   tmpfs_size (nil, or a function giving the size of a tmpfs without
--   --size), used (the set of fds read, added to)
-- @treturn table the spec mount
function M.mount_of(o, ctx)
  local m = {}
  for k, v in pairs(o) do m[k] = v end
  if m.type == "file" and m.fd then
    m.content = read_all(m.fd, "Can't read data")
    ctx.used[m.fd] = true
    m.fd = nil
  elseif m.type == "proc" and not ctx.pidns then
    -- bubblewrap binds the host's /proc when it shares the pid namespace
    m.type, m.source = "bind", "/proc"
  elseif m.type == "tmpfs" and not m.size and ctx.tmpfs_size then
    ctx.tmpfs_default = ctx.tmpfs_default or ctx.tmpfs_size()
    m.size = ctx.tmpfs_default
  end
  return m
end

--- The fields of a parse state about the command's process, set in spec:
-- argv0, init (--as-pid-1), die_with_parent, userns, pidns_fd, sync,
-- lock_files and seccomp_bpf (the programs read from their fds now, each
-- fd closed once read).  Raises a M.Die.
function M.process_fields(st, spec)
  if st.as_pid_1 and #st.lock_files > 0 then die("Specifying --as-pid-1 and --lock-file is not permitted") end
  spec.argv0 = st.argv0
  if st.as_pid_1 then spec.init = false end
  spec.die_with_parent = st.die_with_parent or nil
  if st.userns_fd or st.userns2_fd or st.disable_userns or st.assert_userns_disabled then
    spec.userns = { fd = st.userns_fd, after = st.userns2_fd, disable = st.disable_userns,
                    assert_disabled = st.assert_userns_disabled }
  end
  spec.pidns_fd = st.pidns_fd
  -- --userns-block-fd: the child waits on it once its user namespace
  -- exists and nslua writes no id maps (the caller does, as with bubblewrap)
  if st.block_fd or st.sync_fd or st.userns_block_fd then
    spec.sync = { block_fd = st.block_fd, sync_fd = st.sync_fd, userns_block_fd = st.userns_block_fd }
  end
  if #st.lock_files > 0 then spec.lock_files = st.lock_files end
  if #st.seccomp > 0 then
    local progs = {}
    for i, fd in ipairs(st.seccomp) do
      -- read and closed in turn: the same fd twice reads a closed fd
      progs[i] = read_all(fd, "Can't read seccomp data")
      core.proc.close(fd)
      if #progs[i] % 8 ~= 0 then die("Invalid seccomp data, must be multiple of 8") end
    end
    spec.seccomp_bpf = progs
  end
end

--- The spec of a parse state (bubblewrap's checks first).
-- @treturn table spec (not validated yet)
-- @treturn table what the runner needs (fds, info and status fds)
function M.spec_of(st)
  if #st.command == 0 then return nil end
  local uid, gid = st.uid, st.gid
  if st.userns_block_fd and not st.unshare_user then die("--userns-block-fd requires --unshare-user") end
  if st.userns_block_fd and not st.info_fd then die("--userns-block-fd requires --info-fd") end
  if st.userns_fd and st.unshare_user then die("--userns not compatible --unshare-user") end
  if st.userns_fd and st.unshare_user_try then die("--userns not compatible --unshare-user-try") end
  if st.disable_userns and not st.unshare_user then die("--disable-userns requires --unshare-user") end
  if st.disable_userns and st.userns_block_fd then
    die("--disable-userns is not compatible with  --userns-block-fd")
  end
  local userns = st.unshare_user
  if uid ~= 0 and not st.userns_fd then userns = true end
  if st.unshare_user_try and userns_available() then userns = true end
  local suid, sgid = st.sandbox_uid or uid, st.sandbox_gid or gid
  if not userns and not st.userns_fd and suid ~= uid then
    die("Specifying --uid requires --unshare-user or --userns")
  end
  if not userns and not st.userns_fd and sgid ~= gid then
    die("Specifying --gid requires --unshare-user or --userns")
  end
  if st.hostname and not st.unshare_uts then die("Specifying --hostname requires --unshare-uts") end
  if st.as_pid_1 and not st.unshare_pid then die("Specifying --as-pid-1 requires --unshare-pid") end

  local cgroup = st.unshare_cgroup or (st.unshare_cgroup_try and core.mount.stat("/proc/self/ns/cgroup") ~= nil)
  local spec = {
    base = "none",
    namespaces = { mnt = true, user = userns or st.userns_fd ~= nil, pid = st.unshare_pid or false,
                   net = st.unshare_net or false, ipc = st.unshare_ipc or false,
                   uts = st.unshare_uts or false, cgroup = cgroup or false, time = false },
    net = st.unshare_net and "none" or "host",
    hostname = st.hostname,
    seccomp = "none",
    argv = st.command,
    env = st.env,
    set_pwd = true,
    session = st.new_session and "new" or "keep",
    die_with_parent = st.die_with_parent or nil,
  }
  -- bubblewrap's process tree: an init (its pid-1 reaper) with a pid
  -- namespace, lock files or a sync fd to hold, and not --as-pid-1; else
  -- the command is nslua's own child
  spec.init = not st.as_pid_1 and (st.unshare_pid or #st.lock_files > 0 or st.sync_fd ~= nil)
  if st.userns_fd then
    -- the caller's user namespace: its maps as they are, ids only if given
    spec.user = { uid = st.sandbox_uid, gid = st.sandbox_gid }
  elseif userns then
    spec.user = { uid = suid, gid = sgid, map = "caller" }
  else
    spec.user = "host"
  end
  local fds_used = {}
  -- the working directory: --chdir, else the caller's if it exists
  -- inside, else $HOME (of the sandbox's environment), else /
  if st.chdir then
    spec.cwd = dest_path(st.chdir)
  else
    local c = { st.cwd }
    if st.env.HOME and st.env.HOME:sub(1, 1) == "/" then c[#c + 1] = st.env.HOME end
    c[#c + 1] = "/"
    spec.cwd = c
  end
  -- root without --cap-add/--cap-drop keeps what it has ("all": the host's
  -- sets as they are, or every capability of a new user namespace)
  local caps, every = {}, true
  for c in pairs(all_caps()) do
    if st.caps[c] then caps[#caps + 1] = c else every = false end
  end
  table.sort(caps)
  spec.caps = (every or (st.uid == 0 and not st.caps_used)) and { "all" } or caps
  -- the operations, in order; fd contents read now
  local ctx = { pidns = st.unshare_pid or st.pidns_fd, tmpfs_size = default_tmpfs_size, used = fds_used }
  local mounts = {}
  for _, o in ipairs(st.ops) do mounts[#mounts + 1] = M.mount_of(o, ctx) end
  -- bubblewrap's mounts are nosuid and nodev (not a --dev-bind), its
  -- proc and mqueue noexec too: nslua's defaults, stated (base "none"
  -- takes absent flags as not set)
  if #mounts > 0 then spec.mounts = require("nslua.launch").default_flags(mounts) end
  -- then the process fields (the seccomp programs read after the data)
  M.process_fields(st, spec)
  -- bubblewrap passes every fd it did not use itself to the command
  for _, k in ipairs { "info_fd", "json_status_fd", "userns_block_fd", "block_fd", "sync_fd" } do
    if st[k] then fds_used[st[k]] = true end
  end
  -- a --bind-fd's fd stays open here (the executor binds through it) but
  -- never reaches the command: bubblewrap closes it once bound, and through
  -- it a payload would reach the whole file system it belongs to
  local bound = {}
  for _, m in ipairs(mounts) do
    if m.source_fd then bound[m.source_fd] = true end
  end
  local keep = {}
  for _, fd in ipairs(M.open_fds()) do
    if fd > 2 and not fds_used[fd] and not bound[fd] then keep[#keep + 1] = fd end
  end
  if #keep > 0 then spec.stdio = { fds = keep } end
  for fd in pairs(fds_used) do
    if fd > 2 and fd ~= st.info_fd and fd ~= st.json_status_fd and fd ~= st.userns_block_fd
      and fd ~= st.block_fd and fd ~= st.sync_fd then
      core.proc.close(fd)
    end
  end
  return spec
end

-- ------------------------------------------------------------------ run

local NS_ORDER = { "cgroup", "ipc", "mnt", "net", "pid", "uts" }

-- bubblewrap's namespace fields: those it made (mnt always), by inode.
local function ns_fields(spec, pid, json_style)
  local out = {}
  for _, name in ipairs(NS_ORDER) do
    if name == "mnt" or spec.namespaces[name] then
      local ino = core.ns.id(pid, name)
      if ino then
        out[#out + 1] = ("," .. (json_style and " " or "\n    ") .. '"%s-namespace": %d'):format(name, ino)
      end
    end
  end
  return table.concat(out)
end

local function write_fd(fd, text)
  core.proc.write(fd, text)
end

-- The message of a set-up failure in bubblewrap's words where it has them.
local function setup_message(e, spec)
  local msg = e.message or e.step or "?"
  local src = msg:match("mounts%[%d+%]%.source '(.-)': no such file or directory")
  if src then return ("Can't find source path %s: No such file or directory"):format(src) end
  local at, text = msg:match("^(.-): symlink '.-': File exists %(existing destination is (.*)%)$")
  if at then return ("Can't make symlink at %s: existing destination is %s"):format(at, text) end
  local path, err = msg:match("^.-: open '/newroot(.-)': (.*)$")
  if path then return ("Can't create file at %s: %s"):format(path, err) end
  path, err = msg:match("^.-: mkdir '/newroot(.-)': (.*)$")
  if path then return ("Can't mkdir %s: %s"):format(path, err) end
  if e.step == "execve" or (e.step and e.step:match("^exec")) then
    return ("execvp %s: %s"):format(spec.argv[1], require("nslua.report").strerror(e.errno))
  end
  -- set-up's own paths are inside the new root
  return (msg:gsub("'/newroot/", "'/"))
end

-- The host pid of the sandbox's command: the init's first child (none yet: nil).
local function command_pid(init_pid)
  local f = io.open(("/proc/%d/task/%d/children"):format(init_pid, init_pid))
  if not f then return nil end
  local pid = math.tointeger(tonumber((f:read("a") or ""):match("%d+") or ""))
  f:close()
  return pid
end

--- The writers of --info-fd and --json-status-fd that parse state st asks
-- for, bubblewrap's JSON.
-- "child-pid" is the command's pid (the sandbox's pid 1 under bubblewrap):
-- nslua's init stays non-dumpable (DESIGN "Trust rules"), so its /proc
-- files are not the caller's to open, while the command's are.  The
-- namespace inodes are read before the child runs; with --userns-block-fd
-- (the caller writes id maps before the sandbox goes on) the document is
-- written then, naming the init.  Installs an after_clone hook in spec;
-- the caller then calls w.attach(c) on the container made of it,
-- w.report(c) once the run ended, and w.ran(c, code) when the command ran
-- (the last document).
-- @treturn table w
function M.status_writers(spec, st)
  local reporting = st.info_fd or st.json_status_fd
  local ns_info, ns_json, written
  local function report_pid(pid)
    if written then return end
    written = true
    if st.info_fd then
      write_fd(st.info_fd, ('{\n    "child-pid": %d%s\n}\n'):format(pid, ns_info))
      -- (bubblewrap closes it; stdin, stdout or stderr stays: nslua's
      -- messages still need stderr)
      if st.info_fd > 2 then core.proc.close(st.info_fd) end
    end
    if st.json_status_fd then
      write_fd(st.json_status_fd, ('{ "child-pid": %d%s }\n'):format(pid, ns_json))
    end
  end
  if reporting then
    spec.hooks = spec.hooks or {}
    spec.hooks.after_clone = function(ctx)
      ns_info, ns_json = ns_fields(spec, ctx.pid, false), ns_fields(spec, ctx.pid, true)
      -- the caller needs the pid now: to write the maps the child waits
      -- for, or to release a --block-fd the command waits behind
      if st.userns_block_fd or st.block_fd then report_pid(ctx.pid) end
    end
  end
  local w = {}
  function w.attach(c)
    if reporting then
      c.on_command = function(self)
        report_pid(spec.init == false and self:pid() or command_pid(self:pid()) or self:pid())
      end
    end
  end
  -- the first document, when the command's start did not write it (the
  -- run ended: a command that never ran, or too short to be seen)
  function w.report(c)
    if reporting and not written and ns_info then report_pid(c:pid()) end
  end
  function w.ran(c, code)
    w.report(c)
    if st.json_status_fd then
      write_fd(st.json_status_fd, ('{ "exit-code": %d }\n'):format(code))
    end
  end
  return w
end

--- Run the spec the way bubblewrap would; the exit code.
function M.run(spec, st, eprint)
  local container = require "nslua.container"
  local w = M.status_writers(spec, st)
  local ok, c = pcall(container.new, spec)
  if not ok then
    local text = require("nslua.cli.main").error_text(c)
    eprint(text:gsub("^nslua: ", ""))
    return M.EXIT_FAIL
  end
  c._last_run = true
  w.attach(c)
  local rep, err = c:run()
  if not rep then
    eprint(setup_message({ message = err }, spec))
    return M.EXIT_FAIL
  end
  -- a command that never ran (an exec failure): bubblewrap's document was
  -- out before its exec all the same
  w.report(c)
  local e = rep.error
  if rep.status == "error" then
    eprint(setup_message(e or {}, spec))
    return M.EXIT_FAIL
  end
  local code = require("nslua.report").exit_code(rep)
  w.ran(c, code)
  return code
end

--- main(args [, prog]) of `nslua bwrap` -> exit code.  Never raises.
function M.main(args, prog)
  prog = prog or M.PROG
  local level_prefix = false
  local function say(level, msg)
    io.stderr:write(level_prefix and ("<%d>"):format(level) or "", "bwrap: ", msg, "\n")
  end
  -- the fds this process holds that the caller did not pass (none are
  -- open yet but those the caller gave: the launcher opened nothing)
  local ok, code = xpcall(function()
    if (args.n or #args) == 0 then
      io.stderr:write(M.usage(prog))
      return M.EXIT_FAIL
    end
    local cwd = core.mount.readlink("/proc/self/cwd") or "/"
    local st = M.parse(args, {
      cwd = cwd, uid = core.proc.getuid(), gid = core.proc.getgid(),
      warn = function(msg, prefixed)
        level_prefix = prefixed
        say(4, msg)
      end,
    })
    level_prefix = st.level_prefix
    if st.help then
      io.stdout:write(M.usage(prog))
      return 0
    end
    if st.version then
      io.stdout:write(("bubblewrap %s (nslua %s)\n"):format(M.VERSION, core._VERSION or "?"))
      return 0
    end
    local spec = M.spec_of(st)
    if not spec then
      io.stderr:write(M.usage(prog))
      return M.EXIT_FAIL
    end
    return M.run(spec, st, function(msg) say(3, msg) end)
  end, function(e)
    if getmetatable(e) == Die then return e end
    return debug.traceback(tostring(e), 2)
  end)
  io.stdout:flush()
  -- one sandbox, waited for: nothing is left for finalizers
  require("nslua.cli.main").nothing_to_finalize = true
  if ok then return code end
  if getmetatable(code) == Die then
    say(3, code.msg)
  else
    say(3, "internal error: " .. tostring(code))
  end
  return M.EXIT_FAIL
end

return M
