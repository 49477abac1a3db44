--- nslua.cli.ps: `nslua ps [--json]`, the containers the state records name
-- (DESIGN "State, names and cleanup"), whatever started them.
local main = require "nslua.cli.main"

local M = {}

--- The options of `nslua ps`: { name, {ARGS}, help }, the one table its
-- parser, its help and docs/cli.md (nslua.cli.doc) read.
M.OPTIONS = {
  { "--json", {}, "print the records as a JSON array" },
}
M.USAGE = "nslua ps [--json]"
M.DESCRIPTION = [[
List the containers of this state directory: id, name, init pid, state
(running, or stale: its owner is gone and nslua gc removes it), command.]]

local USAGE = "Usage: " .. M.USAGE .. "\n\n" .. M.DESCRIPTION
-- the parser's flags: "--json" -> "json"
local FLAG = {}
for _, o in ipairs(M.OPTIONS) do
  USAGE = USAGE .. ("\n  %-8s %s"):format(o[1], o[3])
  FLAG[o[1]] = o[1]:sub(3)
end

-- A tab-separated list of a state record as a Lua list ("" or nil: empty).
local function list_of(v)
  local t = {}
  for item in tostring(v or ""):gmatch("[^\t]+") do t[#t + 1] = item end
  return t
end

-- An integer field of a record (decode makes numbers of digits), else nil.
local function int(v)
  return math.type(v) == "integer" and v or nil
end

-- A text field of a record, nil when empty or missing.
local function str(v)
  if v == nil or v == "" then return nil end
  return tostring(v)
end

--- The rows ps prints, one per state record (what --json encodes).
-- Lists that are empty are left out (lua-cjson writes an empty table as {}).
-- @tparam table records from nslua.state.list
-- @treturn table list of {id, name, state, alive, owner_pid, init_pid,
--   command, cgroup, cgroup_dirs, namespaces, net, user_mode, uid, gid}
function M.rows(records)
  local rows = {}
  for _, rec in ipairs(records) do
    local i = rec.info
    local row = {
      id = rec.id, name = str(i.name),
      state = rec.alive and "running" or "stale", alive = rec.alive and true or false,
      owner_pid = int(i.owner_pid), init_pid = int(i.init_pid),
      command = str(i.argv), cgroup = str(i.cgroup), net = str(i.net), user_mode = str(i.user_mode),
      uid = int(i.uid), gid = int(i.gid),
    }
    for _, k in ipairs { "cgroup_dirs", "namespaces" } do
      local l = list_of(i[k])
      if #l > 0 then row[k] = l end
    end
    rows[#rows + 1] = row
  end
  return rows
end

--- The default root of `nslua oci` (oci.default_root; rootless, <root>/oci
-- beside the state root `root`) when it exists.
function M.oci_root(root)
  local core = require "nslua.core"
  local state = require "nslua.state"
  -- the runtime's own rule (root of a user namespace: $XDG_RUNTIME_DIR's)
  local dir = require("nslua.cli.oci").default_root(core.proc.getuid(), os.getenv,
    state.read("/proc/self/uid_map")) or root .. "/oci"
  local st = core.mount.lstat(dir)
  return st and st.type == "dir" and dir or nil
end

--- JSON text of rows: an array (also when empty).
function M.json(rows)
  if #rows == 0 then return "[]" end
  return require("cjson").encode(rows)
end

--- main(args) of `nslua ps` -> exit code.
function M.main(args)
  local flags = {}
  for k = 1, args.n or #args do
    local a = args[k]
    if FLAG[a] then
      flags[FLAG[a]] = true
    elseif a == "--help" or a == "-h" then
      print(USAGE)
      return 0
    else
      main.usage_error(("ps: unknown argument '%s' (usage: nslua ps [--json])"):format(a))
    end
  end
  local json = flags.json or false
  local state = require "nslua.state"
  local root, err = state.root()
  if not root then
    main.eprintf("%s", err)
    return main.EXIT_FAIL
  end
  local rows = M.rows(state.list(root))
  -- the OCI runtime's containers (nslua oci's default root; DESIGN "State")
  local oci_root = M.oci_root(root)
  if oci_root then
    for _, r in ipairs(M.rows(state.list(oci_root))) do
      r.frontend = "oci"
      rows[#rows + 1] = r
    end
  end
  if json then
    io.stdout:write(M.json(rows), "\n")
    return 0
  end
  print(("%-8s  %-16s  %7s  %-7s  %s"):format("ID", "NAME", "PID", "STATE", "COMMAND"))
  for _, r in ipairs(rows) do
    print(("%-8s  %-16s  %7s  %-7s  %s"):format(r.id, r.name or "", tostring(r.init_pid or "-"),
      r.state, r.command or ""))
  end
  return 0
end

return M
