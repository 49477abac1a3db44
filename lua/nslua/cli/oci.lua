--- nslua.cli.oci: `nslua oci ARGS` and `nslua-oci ARGS`, an OCI runtime.
-- runc's command line (global --root --log --log-format --debug
-- --systemd-cgroup --cgroup-manager --rootless; create start state kill
-- delete run exec ps pause resume update features spec --version) over the
-- one executor: config.json becomes a spec (nslua.oci.config), and the
-- container is an ordinary nslua container whose record lives under the
-- runtime's root (docs/oci.md).  Nothing here sets up a sandbox.
--
-- The root (--root, default /run/nslua/oci; rootless, <nslua state>/oci):
--   <root>/<nid>/          the container's nslua state record (name = OCI
--                          id; detached = 1 once create has parked it)
--   <root>/ids/<OCI id>/   the id's claim, made first (mkdir: two creates
--                          of one id cannot both win); holds `fifo` from
--                          create until start (the command waits on it)
local core = require "nslua.core"
local state = require "nslua.state"

local proc, mount, errno = core.proc, core.mount, core.errno

local M = {}

M.OCI_VERSION = "1.0.2"
M.ROOT = "/run/nslua/oci"
M.HOOK_TIMEOUT = 30    -- seconds, when a hook gives none
M.DELETE_WAIT = 5      -- seconds for a killed container's init to go

-- ------------------------------------------------------------ errors, log

local Fail = {}
Fail.__index = Fail

-- A failure of the command: message, exit code (1, as runc's).
local function fail(fmt, ...)
  error(setmetatable({ msg = select("#", ...) > 0 and fmt:format(...) or fmt }, Fail), 0)
end

local function json_string(s)
  return (require("cjson").encode(s))
end

local function timestamp()
  return os.date("!%Y-%m-%dT%H:%M:%SZ")
end

-- The log (--log FILE, --log-format text|json): engines read it when a
-- command fails (containerd's go-runc reads the json lines' "msg").
local Log = { path = nil, format = "text", debug = false }

function Log.write(level, msg)
  if not Log.path then return end
  local f = io.open(Log.path, "a")
  if not f then return end
  if Log.format == "json" then
    f:write(('{"level":%s,"msg":%s,"time":%s}\n'):format(json_string(level), json_string(msg),
      json_string(timestamp())))
  else
    f:write(("time=%s level=%s msg=%s\n"):format(json_string(timestamp()), level, json_string(msg)))
  end
  f:close()
end

local function warn(fmt, ...)
  local msg = fmt:format(...)
  Log.write("warning", msg)
  io.stderr:write("nslua-oci: warning: ", msg, "\n")
end

-- ------------------------------------------------------------ the grammar

-- Flags of a command: name -> "bool" | "value" | "list" (repeatable);
-- aliases map a short name to its long one.  As runc (urfave/cli v1):
-- -x and --x alike, --x=v or --x v, booleans may be --x=true|false, and
-- flags end at the first argument that is not one.
local GLOBAL = {
  flags = { root = "value", log = "value", ["log-format"] = "value", debug = "bool",
            ["systemd-cgroup"] = "bool", ["cgroup-manager"] = "value", rootless = "value",
            criu = "value", help = "bool", version = "bool" },
  aliases = { h = "help", v = "version" },
}

local COMMANDS = {
  create = { flags = { bundle = "value", ["pid-file"] = "value", ["console-socket"] = "value",
                       ["no-pivot"] = "bool", ["no-new-keyring"] = "bool", ["preserve-fds"] = "value",
                       ["pidfd-socket"] = "value" },
             aliases = { b = "bundle" }, args = "ID" },
  run = { flags = { bundle = "value", ["pid-file"] = "value", ["console-socket"] = "value",
                    ["no-pivot"] = "bool", ["no-new-keyring"] = "bool", ["preserve-fds"] = "value",
                    detach = "bool", ["keep"] = "bool", ["no-subreaper"] = "bool" },
          aliases = { b = "bundle", d = "detach" }, args = "ID" },
  start = { flags = {}, args = "ID" },
  state = { flags = {}, args = "ID" },
  kill = { flags = { all = "bool" }, aliases = { a = "all" }, args = "ID [SIGNAL]" },
  delete = { flags = { force = "bool" }, aliases = { f = "force" }, args = "ID" },
  exec = { flags = { process = "value", detach = "bool", ["pid-file"] = "value", tty = "bool",
                     ["console-socket"] = "value", cwd = "value", env = "list", user = "value",
                     ["additional-gids"] = "list", cap = "list", ["no-new-privs"] = "bool",
                     ["preserve-fds"] = "value", ["process-label"] = "value",
                     ["apparmor"] = "value", ["ignore-paused"] = "bool", cgroup = "value",
                     ["pidfd-socket"] = "value" },
           aliases = { p = "process", d = "detach", t = "tty", e = "env", u = "user", g = "additional-gids",
                       c = "cap" },
           args = "ID [COMMAND [ARG...]]" },
  ps = { flags = { format = "value" }, aliases = { f = "format" }, args = "ID [PS OPTIONS]" },
  pause = { flags = {}, args = "ID" },
  resume = { flags = {}, args = "ID" },
  update = { flags = { resources = "value", memory = "value", ["memory-swap"] = "value",
                       ["memory-reservation"] = "value", ["kernel-memory"] = "value",
                       ["kernel-memory-tcp"] = "value", ["pids-limit"] = "value",
                       ["cpu-period"] = "value", ["cpu-quota"] = "value", ["cpu-share"] = "value",
                       ["cpu-rt-period"] = "value", ["cpu-rt-runtime"] = "value",
                       ["cpuset-cpus"] = "value", ["cpuset-mems"] = "value",
                       ["blkio-weight"] = "value", ["l3-cache-schema"] = "value",
                       ["mem-bw-schema"] = "value" },
             aliases = { r = "resources" }, args = "ID" },
  features = { flags = {}, args = "" },
  spec = { flags = { bundle = "value", rootless = "bool" }, aliases = { b = "bundle" }, args = "" },
  list = { flags = { format = "value", quiet = "bool" }, aliases = { f = "format", q = "quiet" },
           args = "" },
}
M.COMMANDS = COMMANDS
M.GLOBAL = GLOBAL

--- One line on each command and flag, for docs/cli.md, the man page and
-- the shell completions (nslua.cli.doc); docs/oci.md has the details.  A
-- flag's text is FLAG_HELP["COMMAND --flag"], else FLAG_HELP["--flag"].
M.COMMAND_HELP = {
  create = "Create a container from the bundle's config.json; its process waits for start.",
  start = "Start the process of a created container.",
  state = "Print the container's state as JSON.",
  kill = "Send SIGNAL (default SIGTERM) to the container's init (--all: to every process).",
  delete = "Delete a stopped container (--force: kill it first).",
  run = "Create and start a container; without --detach, wait and exit with its code.",
  exec = "Run a process inside a running container.",
  ps = "List the processes of a container.",
  pause = "Freeze every process of the container.",
  resume = "Thaw a paused container.",
  update = "Change the cgroup limits of a running container.",
  features = "Print what this runtime supports, as JSON.",
  spec = "Write a default config.json into the bundle.",
  list = "List the containers under the root.",
}
local IGNORED = "Accepted for engines' sake and ignored."
M.FLAG_HELP = {
  ["--root"] = "The state root (default /run/nslua/oci; rootless <nslua state>/oci).",
  ["--log"] = "Append errors (and --debug lines) to FILE too.",
  ["--log-format"] = "text or json (one {\"level\",\"msg\",\"time\"} object per line).",
  ["--debug"] = "Log each command.",
  ["--systemd-cgroup"] = "Accepted; cgroupsPath is used as a cgroupfs path.",
  ["--cgroup-manager"] = "cgroupfs, systemd or disabled (no cgroup; its limits ignored with a warning).",
  ["--rootless"] = "true, false or auto: true converts config.json as for a caller without root "
    .. "(as one always is).",
  ["--criu"] = IGNORED,
  ["--help"] = "Print the usage.",
  ["--version"] = "Print the versions of nslua-oci and of the OCI spec.",
  ["--bundle"] = "The bundle directory (default: the current one).",
  ["--pid-file"] = "Write the process's pid to FILE.",
  ["--console-socket"] = "Send the pty's master fd to this unix socket (with a terminal).",
  ["--no-pivot"] = IGNORED, ["--no-new-keyring"] = IGNORED, ["--pidfd-socket"] = IGNORED,
  ["--preserve-fds"] = "Pass N fds beyond stdio (3 .. 3+N-1) to the process.",
  ["--detach"] = "Do not wait for the process.",
  ["--keep"] = IGNORED, ["--no-subreaper"] = IGNORED,
  ["--all"] = "Signal every process of the container.",
  ["--force"] = "Kill a running container before deleting it.",
  ["--process"] = "The process as a JSON file (config.json's process object).",
  ["--tty"] = "Give the process a terminal.",
  ["--cwd"] = "The process's working directory.",
  ["--env"] = "Set K=V in the process's environment (repeatable).",
  ["--user"] = "The process's UID[:GID].",
  ["--additional-gids"] = "An additional group id (repeatable).",
  ["--cap"] = "Accepted for engines' sake and ignored (use a --process file's capabilities).",
  ["exec --preserve-fds"] = IGNORED,
  ["--no-new-privs"] = IGNORED, ["--process-label"] = IGNORED, ["--apparmor"] = IGNORED,
  ["--ignore-paused"] = IGNORED, ["--cgroup"] = IGNORED,
  ["--format"] = "table or json.",
  ["--quiet"] = "Print the ids only.",
  ["--resources"] = "The new limits as a JSON file (linux.resources), - for stdin.",
  ["--memory"] = "The memory limit in bytes.",
  ["--memory-swap"] = "The memory plus swap limit in bytes.",
  ["--memory-reservation"] = "The memory soft limit in bytes.",
  ["--kernel-memory"] = IGNORED, ["--kernel-memory-tcp"] = IGNORED,
  ["--l3-cache-schema"] = IGNORED, ["--mem-bw-schema"] = IGNORED,
  ["--pids-limit"] = "The most processes the container may have.",
  ["--cpu-period"] = "The CPU bandwidth period in microseconds.",
  ["--cpu-quota"] = "The CPU time per period in microseconds.",
  ["--cpu-share"] = "The CPU weight (runc's shares).",
  ["--cpu-rt-period"] = "The realtime period in microseconds.",
  ["--cpu-rt-runtime"] = "The realtime runtime per period in microseconds.",
  ["--cpuset-cpus"] = "The CPUs the container may use (a list, e.g. 0-3).",
  ["--cpuset-mems"] = "The memory nodes the container may use.",
  ["--blkio-weight"] = "The block I/O weight.",
  ["spec --rootless"] = "Write a config.json for a rootless container.",
}

local function truthy(v, name)
  if v == "true" or v == "1" or v == "" then return true end
  if v == "false" or v == "0" then return false end
  fail("invalid boolean value %q for flag --%s", v, name)
end

--- Parse flags of `def` from argv[i...]: opts, the index of the first
-- argument that is not a flag.
function M.parse_flags(def, argv, i)
  local opts = {}
  local n = argv.n or #argv
  while i <= n do
    local a = argv[i]
    if a == "--" then return opts, i + 1 end
    local name, value = a:match("^%-%-?([%w][%w%-]*)=(.*)$")
    if not name then name = a:match("^%-%-?([%w][%w%-]*)$") end
    if not name or a == "-" then break end
    name = (def.aliases and def.aliases[name]) or name
    local kind = def.flags[name]
    if not kind then fail("flag provided but not defined: -%s", name) end
    if kind == "bool" then
      opts[name] = value == nil and true or truthy(value, name)
    else
      if value == nil then
        i = i + 1
        if i > n then fail("flag needs an argument: -%s", name) end
        value = argv[i]
      end
      if kind == "list" then
        opts[name] = opts[name] or {}
        table.insert(opts[name], value)
      else
        opts[name] = value
      end
    end
    i = i + 1
  end
  return opts, i
end

-- runc's container id rule: letters, digits, _ + - . (not . or ..).
local function check_id(id)
  if id == nil or id == "" then fail("container id cannot be empty") end
  if not id:match("^[%w_%+%-%.]+$") or id == "." or id == ".." or #id > 1024 then
    fail("invalid container id format: %s", id)
  end
  return id
end

-- --------------------------------------------------------------- the root

local Root = {}
Root.__index = Root

--- The state root without --root: M.ROOT as root; as a user, the user's
-- state directory's (state.root: $XDG_RUNTIME_DIR/nslua/oci or
-- /tmp/nslua-UID/oci).  Root of a user namespace that is not the host's
-- is a user too when $XDG_RUNTIME_DIR is set and $USER is not root:
-- rootless podman runs the runtime so, and /run is not its to write
-- (runc's shouldHonorXDGRuntimeDir).
-- @tparam integer uid our uid
-- @tparam function getenv os.getenv
-- @tparam string|nil uid_map /proc/self/uid_map's text
-- @treturn string|nil the root; nil: state.root()'s
local function host_map(uid_map)
  return uid_map == nil or uid_map:match("^%s*0%s+0%s+4294967295%s*$") ~= nil
end

function M.default_root(uid, getenv, uid_map)
  if uid ~= 0 then return nil end
  local xdg = getenv("XDG_RUNTIME_DIR")
  if host_map(uid_map) or not xdg or xdg:sub(1, 1) ~= "/" or getenv("USER") == "root" then return M.ROOT end
  return xdg .. "/nslua/oci"
end

local function open_root(g)
  local dir = g.root
  if not dir then
    dir = M.default_root(proc.getuid(), os.getenv, state.read("/proc/self/uid_map"))
    if not dir then
      local base, err = state.root()
      if not base then fail("%s", err) end
      dir = base .. "/oci"
    end
  end
  if dir:sub(1, 1) ~= "/" then
    local pwd = os.getenv("PWD")
    if not pwd then fail("--root must be an absolute path") end
    dir = pwd .. "/" .. dir
  end
  -- the parents as runc makes them (0711 for /run/nslua), the root 0700
  local parent = dir:match("^(.*)/[^/]+$")
  if parent and parent ~= "" then mount.mkdir(parent, 493, true) end
  mount.mkdir(dir, 448, true)
  mount.mkdir(dir .. "/ids", 448, false)
  local st = mount.lstat(dir .. "/ids")
  if not st or st.type ~= "dir" then fail("cannot use the state root '%s'", dir) end
  return setmetatable({ dir = dir }, Root)
end

function Root:claim_dir(id)
  return self.dir .. "/ids/" .. id
end

--- The record of OCI container `id`: {id = nid, dir, info, alive} | nil.
function Root:find(id)
  local found
  for _, rec in ipairs(state.list(self.dir)) do
    -- (every record under the root is an OCI container's, marked oci=1 or
    -- not yet: a create killed before it marked its record)
    if tostring(rec.info.name or "") == id then
      if not found or rec.alive then found = rec end
    end
  end
  return found
end

--- The record, or the runc error for a missing container.
function Root:need(id)
  local rec = self:find(check_id(id))
  if not rec then fail("container does not exist") end
  return rec
end

-- The cgroup directory of one kind in a record: "freezer" (v1) or "v2".
-- The container's group of a record on the hierarchy that serves `ctrl`:
-- "v2" (the cgroup2 group: the one with cgroup.controllers, on a hybrid or
-- a pure v2 host alike), a v1 controller ("freezer", "memory": a group
-- without cgroup.controllers under /sys/fs/cgroup/<controllers>/), or "any".
local function group_of(info, ctrl)
  for d in tostring(info.cgroup_dirs or ""):gmatch("[^\t]+") do
    if ctrl == "any" then return d end
    local v2 = mount.lstat(d .. "/cgroup.controllers") ~= nil
    if ctrl == "v2" and v2 then return d end
    local v1 = not v2 and d:match("^/sys/fs/cgroup/([%w_,]+)/")
    for c in (v1 or ""):gmatch("[^,]+") do
      if c == ctrl then return d end
    end
  end
end
local function frozen(info)
  local fz = group_of(info, "freezer")
  local s = fz and state.read(fz .. "/freezer.state")
  if s and s:match("FROZEN") then return true end
  local v2 = group_of(info, "v2")
  s = v2 and state.read(v2 .. "/cgroup.freeze")
  return s ~= nil and s:match("^1") ~= nil
end

--- The OCI status of a record: creating, created, running, paused, stopped.
function Root:status(rec)
  local info = rec.info
  if not info.init_pid or not state.alive(info.init_pid, info.init_start) then return "stopped" end
  if rec.info.detached ~= 1 and not state.alive(info.owner_pid, info.owner_start) then
    return "stopped"
  end
  if mount.lstat(self:claim_dir(info.name) .. "/fifo") then return "created" end
  if frozen(info) then return "paused" end
  return "running"
end

-- The OCI state of a record (runtime-spec "State").
function Root:state_of(rec)
  local info = rec.info
  local status = self:status(rec)
  local ann = {}
  if info.oci_annotations and info.oci_annotations ~= "" then
    local ok, t = pcall(require("cjson").decode, info.oci_annotations)
    if ok and type(t) == "table" then ann = t end
  end
  local st = {
    -- (state.decode reads "123" as a number: the JSON wants strings)
    ociVersion = M.OCI_VERSION, id = tostring(info.name), status = status,
    pid = status ~= "stopped" and info.init_pid or 0,
    bundle = tostring(info.oci_bundle or ""), rootfs = tostring(info.oci_rootfs or ""),
    created = tostring(info.oci_created or ""), owner = "",
  }
  if next(ann) then st.annotations = ann end
  return st
end

-- ------------------------------------------------------------------ hooks

-- A hook: { path, args, env, timeout }, the state JSON on its stdin; ends
-- within its timeout or is killed.  -> true | nil, message
local function run_hook(kind, h, st)
  local argv = {}
  for i, a in ipairs(h.args or { h.path }) do argv[i] = a end
  if #argv == 0 then argv[1] = h.path end
  local env = {}
  for i, e in ipairs(h.env or {}) do env[i] = e end
  local r, w = proc.pipe()
  if not r then return nil, w end
  local ok, pid, err = pcall(proc.spawn, { h.path, table.unpack(argv, 2) }, env,
    { argv0 = argv[1], host_caps = true, no_new_privs = false, session = "keep" }, { [0] = r })
  r:close()
  if not ok or not pid then
    w:close()
    return nil, ("%s hook %s: %s"):format(kind, h.path, tostring(ok and err or pid))
  end
  local text = require("cjson").encode(st)
  proc.write(w, text)
  w:close()
  local pidfd = proc.pidfd_open(pid)
  local timeout = (h.timeout or M.HOOK_TIMEOUT) * 1000
  local done = not pidfd or proc.poll({ { fd = pidfd, events = { ["in"] = true } } }, timeout) == 1
  if not done then proc.kill(pid, 9) end
  if pidfd then pidfd:close() end
  local _, how, code = proc.waitpid(pid)
  if not done then return nil, ("%s hook %s: timed out after %ds"):format(kind, h.path, timeout // 1000) end
  if how ~= "exited" or code ~= 0 then
    return nil, ("%s hook %s: %s %s"):format(kind, h.path, how == "exited" and "exit status" or "signal",
      tostring(code))
  end
  return true
end

-- Run every hook of a kind; fatal kinds stop at the first failure.
local function run_hooks(hooks, kind, st, fatal)
  for _, h in ipairs(hooks and hooks[kind] or {}) do
    local ok, err = run_hook(kind, h, st)
    if not ok then
      if fatal then return nil, err end
      warn("%s", err)
    end
  end
  return true
end

-- The config.json a container was created with (create keeps a copy in
-- its claim: a bundle changed afterwards changes nothing of it).
function Root:config(id)
  return require("nslua.oci.config").load(self:claim_dir(id))
end

-- The hooks of a record.
function Root:hooks(id)
  local cfg = self:config(id)
  return cfg and cfg.hooks
end

-- ---------------------------------------------------------------- helpers

-- Write a pid file as runc does: aside, then renamed into place.
local function write_pid_file(path, pid)
  -- (an unpredictable name: nothing can be planted there beforehand)
  local tmp = path:gsub("[^/]*$", function(b) return "." .. b end) .. "." .. state.new_id() .. ".tmp"
  local ok, err = mount.write_file(tmp, tostring(pid), 420)
  if not ok then fail("pid file '%s': %s", path, err) end
  if not os.rename(tmp, path) then
    mount.unlink(tmp)
    fail("pid file '%s': rename failed", path)
  end
end

-- Send a pty master to the engine's console socket (SCM_RIGHTS).
local function send_console(path, master)
  local sock, err = proc.connect_unix(path)
  if not sock then fail("console socket '%s': %s", path, err) end
  local ok
  ok, err = proc.sendfd(sock, master)
  sock:close()
  if not ok then fail("console socket '%s': %s", path, err) end
end

local function abs(path)
  if path:sub(1, 1) == "/" then return path end
  local pwd = os.getenv("PWD") or "."
  return (pwd .. "/" .. path):gsub("/%./", "/"):gsub("/%.$", "")
end

-- The spec of a bundle, or the failure naming config.json's field.
local function bundle_spec(bundle, id, g)
  local config = require "nslua.oci.config"
  bundle = abs(bundle or ".")
  local cfg, err = config.load(bundle)
  if not cfg then fail("%s", err) end
  local spec, errs = config.to_spec(cfg, { bundle = bundle, id = id,
    rootless = proc.getuid() ~= 0 or g.rootless == "true", need_process = true })
  if not spec then fail("config.json: %s", table.concat(errs, "; ")) end
  -- sysctls go to the container's namespaces: never to a joined one that
  -- is the host's or ours (runc: "sysctl not allowed in host namespace")
  for key in pairs(spec.sysctl or {}) do
    local t = key:match("^net%.") and "net" or "ipc"
    local path = spec.join and spec.join[t]
    if path then
      local a = mount.stat(path)
      for _, other in ipairs { "/proc/1/ns/" .. t, "/proc/self/ns/" .. t } do
        local b = mount.stat(other)
        if a and b and a.dev == b.dev and a.ino == b.ino then
          fail("config.json: linux.sysctl[%s]: the %s namespace joined (%s) is the host's", key, t, path)
        end
      end
    end
  end
  -- what the converter ignored (labels of an LSM the host lacks)
  for _, w in ipairs(errs) do warn("config.json: %s", w) end
  return spec, cfg, bundle
end

-- Every OCI container gets a cgroup of its own (as runc's): pause, ps,
-- kill --all and update need one, limits or not.  --cgroup-manager
-- disabled (podman's runtime_supports_nocgroups: rootless podman on
-- cgroup v1) makes none, and the config's limits are dropped with a warning.
local resource_controllers, resource_writes, write_resources  -- (below)

local function with_cgroup(spec, g, cfg)
  spec.limits = spec.limits or {}
  if g["cgroup-manager"] == "disabled" then
    local limits = require "nslua.limits"
    for _, k in ipairs(limits.CGROUP_KEYS) do
      if spec.limits[k] ~= nil then
        warn("linux.resources: %s ignored (--cgroup-manager disabled)", k)
        spec.limits[k] = nil
      end
    end
    return
  end
  local linux = type(cfg.linux) == "table" and cfg.linux or {}
  spec.cgroup = { path = spec.cgroup_path, controllers = resource_controllers(linux.resources) }
end

--- The global options with_cgroup reads: as given, but with
-- `--cgroup-manager disabled` for root of a user namespace that is not
-- the host's (rootless podman's runtime: the host's cgroup hierarchies
-- are not its to write) when the config names no cgroupsPath and sets no
-- cgroup limit, as runc's rootless cgroup manager and crun go on without
-- a cgroup there.  A limit still needs the cgroup (and fails without one).
-- @tparam table g the global options
-- @tparam table spec the converted spec (cgroup_path, limits)
-- @tparam integer uid our uid
-- @tparam string|nil uid_map /proc/self/uid_map's text
function M.cgroup_options(g, spec, uid, uid_map)
  if g["cgroup-manager"] or uid ~= 0 or host_map(uid_map) or spec.cgroup_path then return g end
  local limits = require "nslua.limits"
  for _, k in ipairs(limits.CGROUP_KEYS) do
    if (spec.limits or {})[k] ~= nil then return g end
  end
  return setmetatable({ ["cgroup-manager"] = "disabled" }, { __index = g })
end

-- Remove the id's claim (the fifo, the directory).
function Root:unclaim(id)
  local d = self:claim_dir(id)
  mount.unlink(d .. "/fifo")
  mount.unlink(d .. "/config.json")
  mount.rmdir(d)
end

-- Wait for a record's init to end (after SIGKILL).
local function wait_gone(info)
  local pidfd = proc.pidfd_open(info.init_pid)
  if not pidfd then return end
  proc.poll({ { fd = pidfd, events = { ["in"] = true } } }, M.DELETE_WAIT * 1000)
  pidfd:close()
  -- its zombie belongs to the engine's subreaper; state.alive ignores zombies
end

-- --------------------------------------------------------------- commands

local cmd = {}

-- create/run's common part: claim the id, build the spec, start and park.
-- -> container, spec, cfg, gate fd
local function create(g, root, o, id, detach)
  check_id(id)
  local claim = root:claim_dir(id)
  local okm, merr, mcode = mount.mkdir(claim, 448, false)
  if not okm then
    if mcode == errno.EEXIST then fail("container with id exists: %s", id) end
    fail("%s", merr)
  end
  local ok, a, b, c, d = pcall(function()
    local spec, cfg, bundle = bundle_spec(o.bundle, id, g)
    local text = state.read(bundle .. "/config.json")
    local wok, werr = mount.write_file(claim .. "/config.json", text or "", 384)
    if not wok then fail("%s", werr) end
    with_cgroup(spec, M.cgroup_options(g, spec, proc.getuid(), state.read("/proc/self/uid_map")), cfg)
    spec.name = id
    spec.init = false
    local gate, release_w
    if not detach then
      -- run in the foreground: the command waits on a pipe until the
      -- resources are written and the hooks have run
      gate, release_w = proc.pipe()
      if not gate then fail("pipe: %s", release_w) end
      spec.sync = spec.sync or {}
      spec.sync.block_fd = gate:fileno()
    else
      spec.detach = true
      local fifo = claim .. "/fifo"
      local fok, ferr = mount.mkfifo(fifo, 384)
      if not fok then fail("fifo: %s", ferr) end
      -- read-write: our read end keeps the command waiting until `start`
      -- writes a byte (it never sees end of file)
      gate = proc.open(fifo, { rdwr = true })
      if not gate then fail("cannot open the fifo %s", fifo) end
      spec.sync = spec.sync or {}
      spec.sync.block_fd = gate:fileno()
    end
    local n = math.tointeger(tonumber(o["preserve-fds"] or "0"))
    if not n or n < 0 then fail("--preserve-fds must be a non-negative integer") end
    if n > 0 then
      spec.stdio = spec.stdio or {}
      spec.stdio.fds = {}
      for fd = 3, 2 + n do spec.stdio.fds[#spec.stdio.fds + 1] = fd end
    end
    if spec.tty and not o["console-socket"] and detach then
      fail("cannot allocate tty if runc will detach without setting console socket")
    end
    -- the front end's own parts of the converted spec
    local cgroup_path = spec.cgroup_path
    spec.cgroup_path, spec.hooks_oci, spec.oci_resources = nil, nil, nil
    local okn, c = pcall(require("nslua.container").new, spec, { state_root = root.dir })
    if not okn then fail("config.json: %s", tostring(c):gsub("\n", "; ")) end
    local pid, err = c:start()
    if not pid then fail("%s", err) end
    local info = {
      oci = 1, oci_bundle = bundle, oci_created = timestamp(), oci_cgroup_path = cgroup_path,
      oci_rootfs = type(cfg.root) == "table" and type(cfg.root.path) == "string"
        and (cfg.root.path:sub(1, 1) == "/" and cfg.root.path or bundle .. "/" .. cfg.root.path) or "",
      oci_annotations = cfg.annotations and require("cjson").encode(cfg.annotations) or "",
    }
    local uok, uerr = state.update(c:state_dir(), info)
    -- linux.resources: written to the groups while the command waits
    local rok, rerr = uok, uerr
    if uok and g["cgroup-manager"] ~= "disabled" then
      local linfo = state.decode(state.read(c:state_dir() .. "/info"))
      local linux = type(cfg.linux) == "table" and cfg.linux or {}
      rok, rerr = pcall(function()
        write_resources(resource_writes(linfo, type(linux.resources) == "table" and linux.resources or {}, true))
      end)
      if not rok then rerr = type(rerr) == "table" and rerr.msg or tostring(rerr) end
    end
    if not rok then
      c:kill(9)
      if detach then
        local rec = root:find(id)
        if rec then
          wait_gone(rec.info)
          require("nslua.resources").remove_record(rec.dir, rec.id)
        end
      else
        if gate then gate:close() end
        c:wait()
      end
      fail("%s", rerr)
    end
    if release_w then gate:close() end
    return c, spec, cfg, release_w or gate
  end)
  if not ok then
    root:unclaim(id)
    error(a, 0)
  end
  return a, b, c, d
end

-- The state an engine's hooks read.
local function hook_state(root, id)
  local rec = root:find(id)
  return rec and root:state_of(rec) or { ociVersion = M.OCI_VERSION, id = id, status = "stopped" }
end

function cmd.create(g, root, o, args)
  local id = args[1]
  local c, _, cfg, gate = create(g, root, o, id, true)
  -- a failure after the park: the container goes with everything it made
  local function undo(err)
    c:kill(9)
    local rec = root:find(id)
    if rec then
      wait_gone(rec.info)
      require("nslua.resources").remove_record(rec.dir, rec.id)
    end
    root:unclaim(id)
    fail("%s", err)
  end
  local function failed(e) return type(e) == "table" and e.msg or tostring(e) end
  if c.tty_master then
    local ok, err = pcall(send_console, o["console-socket"], c.tty_master)
    if not ok then undo(failed(err)) end
    c.tty_master:close()
  end
  -- prestart (deprecated) and createRuntime, createContainer: the runtime
  -- namespace, the container parked before its command
  local st = hook_state(root, id)
  for _, kind in ipairs { "prestart", "createRuntime", "createContainer" } do
    local ok, err = run_hooks(cfg.hooks, kind, st, true)
    if not ok then undo(err) end
  end
  if o["pid-file"] then
    local ok, err = pcall(write_pid_file, abs(o["pid-file"]), c:pid())
    if not ok then undo(failed(err)) end
  end
  gate:close()
  return 0
end

-- Release a created container: one byte into its fifo.
local function release(root, id)
  local fifo = root:claim_dir(id) .. "/fifo"
  local fd = proc.open(fifo, { wronly = true, nonblock = true })
  if not fd then fail("cannot start a container that has stopped") end
  local ok, err = proc.write(fd, "x")
  fd:close()
  if not ok then fail("start: %s", err) end
  mount.unlink(fifo)
end

-- Wait (up to M.EXEC_WAIT s) for a released container's execve: its
-- parked executor is titled nslua-init.  Until then, as its pid
-- namespace's init, it ignores the signals it has no handler for, so a
-- `kill` right after `start` (runtime-tools' killsig) would be lost.
local function wait_exec(pid)
  local path = ("/proc/%d/cmdline"):format(pid)
  for _ = 1, M.EXEC_WAIT * 1000 // 5 do
    local text = state.read(path)
    if not text or text:gsub("%z.*", "") ~= "nslua-init" then return end
    proc.poll({}, 5)
  end
end
M.EXEC_WAIT = 2

function cmd.start(_, root, _, args)
  local id = args[1]
  local rec = root:need(id)
  local status = root:status(rec)
  if status == "stopped" then fail("cannot start a container that has stopped") end
  if status ~= "created" then fail("cannot start an already running container") end
  local hooks = root:hooks(id)
  local ok, err = run_hooks(hooks, "startContainer", root:state_of(rec), true)
  if not ok then fail("%s", err) end
  -- poststart's state is the one start makes ("running", its pid), even
  -- when a short command has ended by the time the hooks run (read before
  -- the release: after it, `true` may be gone at once)
  local st = root:state_of(rec)
  st.status = "running"
  release(root, id)
  if rec.info.init_pid then wait_exec(rec.info.init_pid) end
  run_hooks(hooks, "poststart", st, false)
  return 0
end

-- `run`: create, start and (without --detach) wait; the exit code is the
-- container's, and the container is deleted after it ends.
function cmd.run(g, root, o, args)
  local id = args[1]
  if o.detach then
    cmd.create(g, root, o, args)
    return cmd.start(g, root, {}, args)
  end
  local c, _, cfg, release_w = create(g, root, o, id, false)
  local function undo(err)
    c:kill(9)
    c:wait()
    root:unclaim(id)
    fail("%s", err)
  end
  local st = hook_state(root, id)
  for _, kind in ipairs { "prestart", "createRuntime", "createContainer", "startContainer" } do
    local ok, err = run_hooks(cfg.hooks, kind, st, true)
    if not ok then undo(err) end
  end
  if o["pid-file"] then
    local ok, err = pcall(write_pid_file, abs(o["pid-file"]), c:pid())
    if not ok then undo(type(err) == "table" and err.msg or tostring(err)) end
  end
  proc.write(release_w, "x")
  release_w:close()
  run_hooks(cfg.hooks, "poststart", hook_state(root, id), false)
  local rep = c:wait()
  run_hooks(cfg.hooks, "poststop", { ociVersion = M.OCI_VERSION, id = id, status = "stopped" }, false)
  root:unclaim(id)
  if rep.status == "error" then fail("%s", rep.error and rep.error.message or "set-up failed") end
  return require("nslua.report").exit_code(rep)
end

function cmd.state(_, root, _, args)
  local rec = root:need(args[1])
  local cjson = require "cjson"
  io.stdout:write(cjson.encode(root:state_of(rec)), "\n")
  return 0
end

-- A signal by name (KILL, SIGKILL) or number.
local function signum(s)
  if s == nil then return 15 end
  local n = math.tointeger(tonumber(s))
  if n then
    if n < 1 or n > 64 then fail("invalid signal: %s", s) end
    return n
  end
  local name = s:upper():gsub("^SIG", "")
  n = proc.signum(name)
  if not n then fail("invalid signal: %s", s) end
  return n
end

-- The host pids of a record's processes (its cgroup, else the init).
local function members(info)
  local dir = group_of(info, "any")
  local pids = {}
  local s = dir and state.read(dir .. "/cgroup.procs")
  for p in (s or ""):gmatch("%d+") do pids[#pids + 1] = math.tointeger(tonumber(p)) end
  if #pids == 0 and info.init_pid and state.alive(info.init_pid, info.init_start) then
    pids[1] = info.init_pid
  end
  return pids
end

function cmd.kill(_, root, o, args)
  local rec = root:need(args[1])
  local sig = signum(args[2])
  local status = root:status(rec)
  if status == "stopped" then fail("container not running") end
  if o.all then
    for _, pid in ipairs(members(rec.info)) do proc.kill(pid, sig) end
  else
    local ok, err = proc.kill(rec.info.init_pid, sig)
    if not ok then fail("kill: %s", err) end
  end
  -- a paused container's processes see the signal when thawed: SIGKILL now
  if status == "paused" and sig == 9 then cmd.resume(nil, root, nil, args) end
  return 0
end


function cmd.delete(_, root, o, args)
  local id = check_id(args[1])
  local rec = root:find(id)
  if not rec then
    -- a create that died before its record: the claim alone
    if mount.lstat(root:claim_dir(id)) then
      root:unclaim(id)
      return 0
    end
    if o.force then return 0 end
    fail("container does not exist")
  end
  local status = root:status(rec)
  -- the runtime spec: deleting a container that is not stopped is an
  -- error and changes nothing (runc and crun delete a created one)
  if status ~= "stopped" and not o.force then
    fail("cannot delete container %s that is not stopped: %s", id, status)
  end
  if status ~= "stopped" then
    -- SIGKILL first: a frozen task dies as soon as it is thawed
    proc.kill(rec.info.init_pid, 9)
    if status == "paused" then
      local fz, v2 = group_of(rec.info, "freezer"), group_of(rec.info, "v2")
      if fz then mount.write_file(fz .. "/freezer.state", "THAWED", 420) end
      if v2 and mount.lstat(v2 .. "/cgroup.freeze") then mount.write_file(v2 .. "/cgroup.freeze", "0", 420) end
    end
    for _, pid in ipairs(members(rec.info)) do proc.kill(pid, 9) end
    wait_gone(rec.info)
  end
  local hooks = root:hooks(id)
  local st = root:state_of(rec)
  st.status = "stopped"
  -- the record's lock: free once the init (which inherited it) is gone
  local lock
  for _ = 1, 100 do
    lock = state.try_lock(rec.dir, rec.info)
    if lock then break end
    proc.poll({}, 20)
  end
  if not lock then fail("delete: the container's record is still locked by a live process") end
  local ok, err = require("nslua.resources").remove_record(rec.dir, rec.id)
  if type(lock) == "userdata" then lock:close() end
  if not ok then fail("delete: %s", err) end
  root:unclaim(id)
  run_hooks(hooks, "poststop", st, false)
  return 0
end

-- `exec`: a process in a running container (nslua.exec joins its
-- namespaces).  --process FILE is an OCI process object; else the args.
function cmd.exec(_, root, o, args)
  local id = args[1]
  local rec = root:need(id)
  local status = root:status(rec)
  if status ~= "running" and status ~= "created" then
    fail("cannot exec in a %s container", status)
  end
  -- the container's config (kept by create): its seccomp profile and
  -- capabilities; --process replaces its process object, converted and
  -- checked as create converts one (errors name the JSON path)
  local config = require "nslua.oci.config"
  local cfg = root:config(id)
  if not cfg then fail("exec: the container's config.json is gone") end
  local cspec, errs = config.to_spec(cfg, { bundle = rec.info.oci_bundle, id = id })
  if not cspec then fail("config.json: %s", table.concat(errs, "; ")) end
  local argv, env, cwd, uid, gid, groups, sets
  sets = type(cspec.caps) == "table" and cspec.caps.bounding and cspec.caps or nil
  -- the process's rlimits, umask and noNewPrivileges: the container's own
  -- process's unless --process gives another (runc's)
  local pspec = cspec
  if o.process then
    local f = io.open(o.process, "r")
    if not f then fail("process file '%s' cannot be read", o.process) end
    local text = f:read("a")
    f:close()
    local okd, p = pcall(require("cjson").decode, text)
    if not okd or type(p) ~= "table" then fail("process file '%s': not a JSON object", o.process) end
    local c2 = {}
    for k, v in pairs(cfg) do c2[k] = v end
    -- (a process without cwd runs where the container's does)
    if p.cwd == nil then p.cwd = type(cfg.process) == "table" and cfg.process.cwd or "/" end
    c2.process, c2.hooks = p, nil
    local ps, perrs = config.to_spec(c2, { bundle = rec.info.oci_bundle, id = id, need_process = true })
    if not ps then fail("process: %s", table.concat(perrs, "; ")) end
    argv, env, cwd, pspec = ps.argv, ps.env or {}, ps.cwd, ps
    if type(p.user) == "table" then
      uid, gid, groups = ps.user.uid, ps.user.gid, ps.user.groups
    end
    if p.capabilities ~= nil then sets = ps.caps end
    if p.terminal == true then o.tty = true end
  else
    argv = { table.unpack(args, 2) }
    if #argv == 0 then fail("exec: no command given") end
    env = {}
  end
  for _, kv in ipairs(o.env or {}) do
    local k, v = kv:match("^([^=]+)=(.*)$")
    if not k then fail("invalid --env '%s' (want KEY=VALUE)", kv) end
    env[k] = v
  end
  if o.cwd then cwd = o.cwd end
  if o.user then
    local u, gg = o.user:match("^(%d+):?(%d*)$")
    if not u then fail("invalid --user '%s' (want UID[:GID])", o.user) end
    uid, gid = math.tointeger(tonumber(u)), math.tointeger(tonumber(gg)) or 0
    if not uid or uid > 0xfffffffe or gid > 0xfffffffe then fail("invalid --user '%s'", o.user) end
  end
  for _, g in ipairs(o["additional-gids"] or {}) do
    local n = math.tointeger(tonumber(g))
    if not n or n < 0 or n > 0xfffffffe then fail("invalid --additional-gids '%s'", g) end
    groups = groups or {}
    groups[#groups + 1] = n
  end
  -- a terminal: a pty of the container's devpts whose master goes to the
  -- engine's console socket (runc's; without a socket runc would proxy it)
  local console
  if o.tty then
    if not o["console-socket"] then fail("exec --tty needs --console-socket (nslua-oci proxies no pty)") end
    local cerr
    console, cerr = proc.connect_unix(o["console-socket"])
    if not console then fail("console socket '%s': %s", o["console-socket"], cerr) end
  end
  local caps
  if sets then
    local seen = {}
    caps = {}
    for _, k in ipairs { "bounding", "permitted", "effective", "inheritable", "ambient" } do
      for _, c in ipairs(sets[k] or {}) do
        if not seen[c] then seen[c], caps[#caps + 1] = true, c end
      end
    end
  end
  local xo = { env = env, env_only = o.process ~= nil or nil, cwd = cwd, uid = uid, gid = gid,
               groups = uid and groups or nil, detach = o.detach or nil, caps = caps,
               cap_sets = sets, seccomp = cspec.seccomp, console = console,
               seccomp_listener = cspec.seccomp_listener,
               -- (a process without rlimits keeps the container's, as runc's)
               rlimits = o.process and pspec.rlimits or nil, umask = pspec.umask,
               no_new_privs = pspec.no_new_privs }
  local r, err = require("nslua.exec").exec({ id = rec.id, dir = rec.dir, name = id }, argv, xo)
  if not r then fail("%s", err) end
  if r.status == "detached" then
    if o["pid-file"] then write_pid_file(abs(o["pid-file"]), r.pid) end
    return 0
  end
  if r.status == "error" and not r.exit_code then
    fail("exec failed: %s", r.error and r.error.message or "?")
  end
  return require("nslua.report").exit_code(r)
end

function cmd.ps(_, root, o, args)
  local rec = root:need(args[1])
  local pids = root:status(rec) == "stopped" and {} or members(rec.info)
  if o.format == "json" then
    io.stdout:write(require("cjson").encode(pids):gsub("^{}$", "[]"), "\n")
    return 0
  end
  if o.format and o.format ~= "table" then fail("invalid format option") end
  io.stdout:write("PID   CMD\n")
  for _, pid in ipairs(pids) do
    local c = (state.read("/proc/" .. pid .. "/cmdline") or ""):gsub("%z", " "):gsub(" $", "")
    io.stdout:write(("%-5d %s\n"):format(pid, c))
  end
  return 0
end

local function freeze(root, args, on)
  local rec = root:need(args[1])
  local status = root:status(rec)
  if status == "stopped" or status == "created" then fail("container not running") end
  local fz = group_of(rec.info, "freezer")
  local v2 = group_of(rec.info, "v2")
  local ok, err
  if fz then
    ok, err = mount.write_file(fz .. "/freezer.state", on and "FROZEN" or "THAWED", 420)
  elseif v2 then
    ok, err = mount.write_file(v2 .. "/cgroup.freeze", on and "1" or "0", 420)
  else
    fail("the container has no freezer cgroup")
  end
  if not ok then fail("%s: %s", on and "pause" or "resume", err) end
  -- freezing takes a moment: report the state the engine will read next
  for _ = 1, 100 do
    if frozen(rec.info) == on then return 0 end
    proc.poll({}, 10)
  end
  return 0
end

function cmd.pause(_, root, _, args) return freeze(root, args, true) end
function cmd.resume(_, root, _, args) return freeze(root, args, false) end

-- ------------------------------------------------------------ resources

local function num(v, name)
  if v == nil then return nil end
  local n = math.tointeger(tonumber(v))
  if not n then fail("invalid value for %s: %s", name, tostring(v)) end
  return n
end

-- runc's devices every container may use (its default allow list):
-- { type, major, minor, access }, -1 for any number.
local DEFAULT_ALLOW = {
  { "c", -1, -1, "m" }, { "b", -1, -1, "m" }, { "c", 1, 3, "rwm" }, { "c", 1, 8, "rwm" },
  { "c", 1, 7, "rwm" }, { "c", 5, 0, "rwm" }, { "c", 1, 5, "rwm" }, { "c", 1, 9, "rwm" },
  { "c", 5, 1, "rwm" }, { "c", 136, -1, "rwm" }, { "c", 5, 2, "rwm" },
}

-- The file writes that apply OCI linux.resources `r` to a record's
-- groups: a list of {file, value, optional}.  An optional write (a
-- feature this kernel may lack: kernel memory, blkio weights, rt
-- bandwidth) is skipped with a warning when its file is missing.
function resource_writes(info, r, with_devices)
  local w = {}
  local function put(ctrl, file, value, optional)
    if value == nil then return end
    local d = group_of(info, ctrl)
    if not d then
      if optional then warn("linux.resources: no %s cgroup for %s", ctrl, file) return end
      fail("linux.resources: the container has no %s cgroup (for %s)", ctrl, file)
    end
    w[#w + 1] = { d .. "/" .. file, tostring(value), optional }
  end
  local v2 = group_of(info, "v2")
  local function has_v2(file) return v2 and mount.lstat(v2 .. "/" .. file) end
  local mem = type(r.memory) == "table" and r.memory or {}
  local limit, swap = num(mem.limit, "memory.limit"), num(mem.swap, "memory.swap")
  if group_of(info, "memory") then
    put("memory", "memory.limit_in_bytes", limit)
    put("memory", "memory.soft_limit_in_bytes", num(mem.reservation, "memory.reservation"))
    put("memory", "memory.memsw.limit_in_bytes", swap, true)
    put("memory", "memory.swappiness", num(mem.swappiness, "memory.swappiness"), true)
    put("memory", "memory.kmem.limit_in_bytes", num(mem.kernel, "memory.kernel"), true)
    put("memory", "memory.kmem.tcp.limit_in_bytes", num(mem.kernelTCP, "memory.kernelTCP"), true)
    if mem.disableOOMKiller == true then put("memory", "memory.oom_control", 1, true) end
  elseif has_v2("memory.max") then
    put("v2", "memory.max", limit and (limit < 0 and "max" or limit))
    put("v2", "memory.low", num(mem.reservation, "memory.reservation"))
    if swap and limit then put("v2", "memory.swap.max", swap < 0 and "max" or math.max(0, swap - limit), true) end
  end
  local cpu = type(r.cpu) == "table" and r.cpu or {}
  if group_of(info, "cpu") then
    put("cpu", "cpu.shares", num(cpu.shares, "cpu.shares"))
    put("cpu", "cpu.cfs_period_us", num(cpu.period, "cpu.period"))
    put("cpu", "cpu.cfs_quota_us", num(cpu.quota, "cpu.quota"))
    put("cpu", "cpu.rt_period_us", num(cpu.realtimePeriod, "cpu.realtimePeriod"), true)
    put("cpu", "cpu.rt_runtime_us", num(cpu.realtimeRuntime, "cpu.realtimeRuntime"), true)
  elseif has_v2("cpu.max") then
    local q, per = num(cpu.quota, "cpu.quota"), num(cpu.period, "cpu.period")
    if q or per then put("v2", "cpu.max", ("%s %d"):format((q and q > 0) and q or "max", per or 100000)) end
    local sh = num(cpu.shares, "cpu.shares")
    -- runc's conversion of shares (2-262144) to a weight (1-10000)
    if sh then put("v2", "cpu.weight", math.floor(1 + ((sh - 2) * 9999) / 262142)) end
  end
  if type(cpu.cpus) == "string" then put(group_of(info, "cpuset") and "cpuset" or "v2", "cpuset.cpus", cpu.cpus) end
  if type(cpu.mems) == "string" then put(group_of(info, "cpuset") and "cpuset" or "v2", "cpuset.mems", cpu.mems) end
  local pids = type(r.pids) == "table" and num(r.pids.limit, "pids.limit")
  if pids then put(group_of(info, "pids") and "pids" or "v2", "pids.max", pids > 0 and pids or "max") end
  local blkio = type(r.blockIO) == "table" and r.blockIO or {}
  put("blkio", "blkio.weight", num(blkio.weight, "blockIO.weight"), true)
  put("blkio", "blkio.leaf_weight", num(blkio.leafWeight, "blockIO.leafWeight"), true)
  local function dev(e) return ("%d:%d"):format(num(e.major, "major") or 0, num(e.minor, "minor") or 0) end
  for _, e in ipairs(type(blkio.weightDevice) == "table" and blkio.weightDevice or {}) do
    if e.weight then put("blkio", "blkio.weight_device", dev(e) .. " " .. num(e.weight, "weight"), true) end
    if e.leafWeight then
      put("blkio", "blkio.leaf_weight_device", dev(e) .. " " .. num(e.leafWeight, "leafWeight"), true)
    end
  end
  for key, file in pairs { throttleReadBpsDevice = "blkio.throttle.read_bps_device",
                           throttleWriteBpsDevice = "blkio.throttle.write_bps_device",
                           throttleReadIOPSDevice = "blkio.throttle.read_iops_device",
                           throttleWriteIOPSDevice = "blkio.throttle.write_iops_device" } do
    for _, e in ipairs(type(blkio[key]) == "table" and blkio[key] or {}) do
      put("blkio", file, dev(e) .. " " .. num(e.rate, key .. ".rate"), true)
    end
  end
  local net = type(r.network) == "table" and r.network or {}
  put("net_cls", "net_cls.classid", num(net.classID, "network.classID"), true)
  for _, e in ipairs(type(net.priorities) == "table" and net.priorities or {}) do
    put("net_prio", "net_prio.ifpriomap", ("%s %d"):format(tostring(e.name), num(e.priority, "priority")), true)
  end
  for _, e in ipairs(type(r.hugepageLimits) == "table" and r.hugepageLimits or {}) do
    local file = ("hugetlb.%s.limit_in_bytes"):format(tostring(e.pageSize))
    local ctrl = group_of(info, "hugetlb") and "hugetlb" or "v2"
    if ctrl == "v2" then file = ("hugetlb.%s.max"):format(tostring(e.pageSize)) end
    put(ctrl, file, num(e.limit, "hugepageLimits.limit"), true)
  end
  if type(r.unified) == "table" then
    for k, v in pairs(r.unified) do
      if tostring(k):find("/") or tostring(k):find("^%.") then fail("linux.resources.unified: bad key %s", k) end
      put("v2", k, v)
    end
  end
  -- the device cgroup: deny all, then the config's rules in order, then
  -- the devices every container gets; v1's devices files, else on cgroup
  -- v2 a BPF program attached to the group (core.cgroup.device_filter)
  if with_devices then
    local rules = { { allow = false, type = "a" } }
    for _, e in ipairs(type(r.devices) == "table" and r.devices or {}) do
      rules[#rules + 1] = { allow = e.allow == true, type = e.type or "a", access = e.access or "rwm",
                            major = e.major and e.major >= 0 and e.major or -1,
                            minor = e.minor and e.minor >= 0 and e.minor or -1 }
    end
    for _, d in ipairs(DEFAULT_ALLOW) do
      rules[#rules + 1] = { allow = true, type = d[1], major = d[2], minor = d[3], access = d[4] }
    end
    local v1 = group_of(info, "devices")
    local v2dir = not v1 and group_of(info, "v2")
    if v2dir then
      w.device_filter = { dir = v2dir, rules = rules }
    elseif v1 then
      for _, e in ipairs(rules) do
        local rule = e.type == "a" and "a" or ("%s %s:%s %s"):format(e.type,
          e.major >= 0 and ("%d"):format(e.major) or "*", e.minor >= 0 and ("%d"):format(e.minor) or "*", e.access)
        put("devices", e.allow and "devices.allow" or "devices.deny", rule)
      end
    end
  end
  return w
end

-- Do the writes; an optional one whose file is missing is a warning.  The
-- device program (cgroup v2) goes on before the writes.
function write_resources(writes)
  local df = writes.device_filter
  if df then
    local ok, err = core.cgroup.device_filter(df.dir, df.rules)
    if not ok then fail("linux.resources.devices: %s: %s", df.dir, err) end
  end
  for _, w in ipairs(writes) do
    if w[3] and not mount.lstat(w[1]) then
      warn("linux.resources: %s is not supported here (skipped)", w[1]:match("[^/]+$"))
    else
      local ok, err = mount.write_file(w[1], w[2], 420)
      if not ok then fail("linux.resources: %s = %s: %s", w[1], w[2], err) end
    end
  end
end

-- The controllers an OCI container's resources need (spec.cgroup.controllers).
function resource_controllers(r)
  local c = { "devices", "freezer" }
  r = type(r) == "table" and r or {}
  local cpu = type(r.cpu) == "table" and r.cpu or {}
  if cpu.shares or cpu.quota or cpu.period or cpu.realtimeRuntime or cpu.realtimePeriod then c[#c + 1] = "cpu" end
  if cpu.cpus or cpu.mems then c[#c + 1] = "cpuset" end
  if r.blockIO then c[#c + 1] = "blkio" end
  if r.network then c[#c + 1] = "net_cls" c[#c + 1] = "net_prio" end
  if r.hugepageLimits then c[#c + 1] = "hugetlb" end
  return c
end

-- `update`: new resources for a container's groups (runc's flags, or -r
-- FILE|- with an OCI linux.resources object).
function cmd.update(_, root, o, args)
  local rec = root:need(args[1])
  local res = {}
  if o.resources then
    local text
    if o.resources == "-" then
      text = io.stdin:read("a")
    else
      local f = io.open(o.resources, "r")
      if not f then fail("cannot read '%s'", o.resources) end
      text = f:read("a")
      f:close()
    end
    local okd, r = pcall(require("cjson").decode, text)
    if not okd or type(r) ~= "table" then fail("resources: not a JSON object") end
    res = r
  end
  local function set(t, k, v) if v ~= nil then res[t] = res[t] or {} res[t][k] = v end end
  set("memory", "limit", num(o.memory, "--memory"))
  set("memory", "swap", num(o["memory-swap"], "--memory-swap"))
  set("memory", "reservation", num(o["memory-reservation"], "--memory-reservation"))
  set("pids", "limit", num(o["pids-limit"], "--pids-limit"))
  set("cpu", "quota", num(o["cpu-quota"], "--cpu-quota"))
  set("cpu", "period", num(o["cpu-period"], "--cpu-period"))
  set("cpu", "shares", num(o["cpu-share"], "--cpu-share"))
  set("cpu", "realtimeRuntime", num(o["cpu-rt-runtime"], "--cpu-rt-runtime"))
  set("cpu", "realtimePeriod", num(o["cpu-rt-period"], "--cpu-rt-period"))
  set("cpu", "cpus", o["cpuset-cpus"])
  set("cpu", "mems", o["cpuset-mems"])
  set("blockIO", "weight", num(o["blkio-weight"], "--blkio-weight"))
  write_resources(resource_writes(rec.info, res, false))
  return 0
end

function cmd.features()
  local config = require "nslua.oci.config"
  io.stdout:write(require("cjson").encode(config.features()), "\n")
  return 0
end

function cmd.spec(_, _, o)
  local config = require "nslua.oci.config"
  local dir = abs(o.bundle or ".")
  local path = dir .. "/config.json"
  if mount.lstat(path) then fail("File %s exists. Remove it first", path) end
  local ok, err = mount.write_file(path, require("cjson").encode(config.default(o.rootless)) .. "\n", 438)
  if not ok then fail("%s", err) end
  return 0
end

function cmd.list(_, root, o)
  local rows = {}
  for _, rec in ipairs(state.list(root.dir)) do
    rows[#rows + 1] = root:state_of(rec)
  end
  if o.format == "json" then
    io.stdout:write(#rows == 0 and "[]" or require("cjson").encode(rows), "\n")
  elseif o.quiet then
    for _, r in ipairs(rows) do io.stdout:write(r.id, "\n") end
  else
    io.stdout:write("ID   PID   STATUS   BUNDLE   CREATED\n")
    for _, r in ipairs(rows) do
      io.stdout:write(("%s   %d   %s   %s   %s\n"):format(r.id, r.pid, r.status, r.bundle, r.created))
    end
  end
  return 0
end

--- `nslua gc` for a runtime root: the records of stopped containers (and
-- of creates that died), then the claims no record is behind (older than
-- CLAIM_AGE seconds: a create in progress claims first).  -> removed, kept
M.CLAIM_AGE = 30
function M.gc(dir)
  local root = setmetatable({ dir = dir }, Root)
  local name_of = {}
  for _, rec in ipairs(state.list(dir)) do name_of[rec.id] = tostring(rec.info.name or "") end
  local removed, kept = require("nslua.resources").sweep(dir, { wait = 2, detached = true })
  for _, id in ipairs(removed) do
    if name_of[id] and name_of[id] ~= "" then root:unclaim(name_of[id]) end
  end
  local names = {}
  for _, rec in ipairs(state.list(dir)) do names[tostring(rec.info.name or "")] = true end
  local now = os.time()
  for _, id in ipairs(mount.readdir(dir .. "/ids") or {}) do
    local st = mount.lstat(root:claim_dir(id))
    if st and not names[id] and now - (st.mtime_ns or 0) // 1000000000 > M.CLAIM_AGE then
      root:unclaim(id)
      removed[#removed + 1] = "oci claim " .. id
    end
  end
  return removed, kept
end

local USAGE = [==[
Usage: nslua-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS
       (also `nslua oci ...`)
runc's command line over nslua's executor (docs/oci.md).

Global options: --root DIR  --log FILE  --log-format text|json  --debug
  --systemd-cgroup  --cgroup-manager cgroupfs|systemd|disabled  --rootless true|false|auto

Commands:
  create [--bundle B] [--pid-file F] [--console-socket S] [--no-pivot] [--preserve-fds N] ID
  start ID          state ID           kill [--all] ID [SIGNAL]
  delete [--force] ID                  run [--detach] [create's options] ID
  exec [--process FILE] [--detach] [--pid-file F] [--tty --console-socket S] [--cwd D]
       [--env K=V] [--user U[:G]] [--additional-gids G] ID [CMD ARGS...]
  ps [--format table|json] ID          pause ID     resume ID
  update [--memory N] [--memory-swap N] [--memory-reservation N] [--pids-limit N] [--cpu-quota N]
         [--cpu-period N] [--cpu-share N] [--cpu-rt-period N] [--cpu-rt-runtime N]
         [--cpuset-cpus L] [--cpuset-mems L] [--blkio-weight N] [-r FILE|-] ID
  list [--format table|json] [--quiet] features     spec [--rootless] [--bundle B]
  --version]==]

local function version()
  print("nslua-oci version " .. core._VERSION)
  print("spec: " .. M.OCI_VERSION)
  return 0
end

local function positional(name, def, args)
  local want = def.args:match("^ID") and 1 or 0
  if #args < want then fail("%s: \"%s\" requires a container id (usage: %s %s)", name, name, name, def.args) end
  if name ~= "exec" and name ~= "kill" and name ~= "ps" and #args > want then
    fail("%s: \"%s\" requires exactly %d argument(s)", name, name, want)
  end
end

--- main(argv) -> exit code (0 done; 1 failed, as runc; run: the container's)
function M.main(argv)
  argv = argv or {}
  local ok, code = pcall(function()
    local g, i = M.parse_flags(GLOBAL, argv, 1)
    if g.log then Log.path = g.log end
    if g["log-format"] then
      if g["log-format"] ~= "text" and g["log-format"] ~= "json" then
        fail("invalid log-format: %s", g["log-format"])
      end
      Log.format = g["log-format"]
    end
    Log.debug = g.debug
    if g["cgroup-manager"] and not ({ cgroupfs = true, systemd = true, disabled = true })[g["cgroup-manager"]] then
      fail("invalid cgroup-manager value %q", g["cgroup-manager"])
    end
    if g.rootless and not ({ ["true"] = true, ["false"] = true, auto = true })[g.rootless] then
      fail("invalid --rootless value %q", g.rootless)
    end
    if g.version then return version() end
    local name = argv[i]
    if g.help or name == nil or name == "help" then
      print(USAGE)
      return name == nil and not g.help and 1 or 0
    end
    local def = COMMANDS[name]
    if not def then fail("No help topic for '%s'", name) end
    local o, j = M.parse_flags(def, argv, i + 1)
    local args = { table.unpack(argv, j, argv.n or #argv) }
    positional(name, def, args)
    local root = (name ~= "spec" and name ~= "features") and open_root(g) or nil
    if Log.debug then Log.write("debug", "command " .. name) end
    return cmd[name](g, root, o, args)
  end)
  io.stdout:flush()
  if ok then return code end
  local msg = getmetatable(code) == Fail and code.msg or ("internal error: " .. tostring(code))
  Log.write("error", msg)
  io.stderr:write(msg, "\n")
  return 1
end

-- (for the tests)
M._resource_writes, M._write_resources = resource_writes, write_resources

return M
