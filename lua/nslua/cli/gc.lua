--- nslua.cli.gc: `nslua gc [--json]`, remove what dead nslua processes left behind:
-- the state records whose lock it can take (their owner and init are gone)
-- and what each names: its cgroups (members killed first), links and bridge.
-- nslua oci's stopped containers (under its default root) go too, as a
-- `delete` would remove them.  Nothing that no such record names is touched: a cgroup or link without a
-- record here may be a starting run's, or a run's whose record is in another
-- mount namespace's /run (DESIGN "State").
local main = require "nslua.cli.main"

local M = {}

--- The options of `nslua gc`: { name, {ARGS}, help }, the one table its
-- parser, its help and docs/cli.md (nslua.cli.doc) read.
M.OPTIONS = {
  { "--json", {}, "print what was removed and kept as one JSON document (docs/json.md \"gc\")" },
}
M.USAGE = "nslua gc [--json]"
M.DESCRIPTION = "Remove the state, cgroups and links of nslua processes that are gone."

local USAGE = "Usage: " .. M.USAGE .. "\n\n" .. M.DESCRIPTION
for _, o in ipairs(M.OPTIONS) do USAGE = USAGE .. ("\n  %-8s %s"):format(o[1], o[3]) end

-- A text field of a record, nil when empty or missing.
local function str(v)
  if v == nil or v == "" then return nil end
  return tostring(v)
end

-- A tab-separated list of a record as a Lua list (empty: nil).
local function list_of(v)
  local t = {}
  for item in tostring(v or ""):gmatch("[^\t]+") do t[#t + 1] = item end
  return #t > 0 and t or nil
end

--- What the records of 'root' name, by id (taken before the sweep: a
-- removed record's info is gone after it).
-- @treturn table id -> info
function M.snapshot(root)
  local by_id = {}
  if not root then return by_id end
  for _, rec in ipairs(require("nslua.state").list(root)) do by_id[rec.id] = rec.info end
  return by_id
end

--- One entry of --json's "removed" list.
-- @tparam string what an id, or nslua oci's "oci claim NAME"
-- @tparam table infos id -> info (M.snapshot)
-- @tparam string frontend "nslua" or "oci"
function M.entry(what, infos, frontend)
  local claim = what:match("^oci claim (.+)$")
  if claim then return { kind = "oci-claim", name = claim, frontend = "oci" } end
  local i = infos[what] or {}
  return {
    kind = "record", id = what, frontend = frontend, name = str(i.name),
    init_pid = math.type(i.init_pid) == "integer" and i.init_pid or nil,
    command = str(i.argv), cgroup_dirs = list_of(i.cgroup_dirs), net = str(i.net),
  }
end

-- A JSON array (lua-cjson 2.1.0 writes an empty table as {}).
local function array(list)
  if #list == 0 then return "[]" end
  return require("cjson").encode(list)
end

--- The --json document: {"removed": [...], "kept": [...], "exit_code": n}.
function M.json(removed, kept, code)
  return ('{"removed":%s,"kept":%s,"exit_code":%d}'):format(array(removed), array(kept), code)
end

--- main(args) of `nslua gc` -> exit code.
function M.main(args)
  local json = false
  for k = 1, args.n or #args do
    local a = args[k]
    if a == "--help" or a == "-h" then
      print(USAGE)
      return 0
    elseif a == "--json" then
      json = true
    else
      main.usage_error(("gc: unknown argument '%s' (usage: nslua gc [--json])"):format(a))
    end
  end
  local root = require("nslua.state").root()
  local oci_root = root and require("nslua.cli.ps").oci_root(root)
  local infos, oci_infos = json and M.snapshot(root) or {}, json and M.snapshot(oci_root) or {}
  -- a run killed a moment ago: its child dies with it, then frees the lock
  local removed, kept = require("nslua.container").sweep(nil, { wait = 2 })
  local entries = {}
  for _, id in ipairs(removed) do entries[#entries + 1] = M.entry(id, infos, "nslua") end
  -- nslua oci's containers: a stopped one whose engine never deleted it
  -- (its record is detached: no start's sweep touches it) goes too
  if oci_root then
    local r2, k2 = require("nslua.cli.oci").gc(oci_root)
    for _, id in ipairs(r2) do
      removed[#removed + 1] = id
      entries[#entries + 1] = M.entry(id, oci_infos, "oci")
    end
    for _, msg in ipairs(k2) do kept[#kept + 1] = msg end
  end
  local code = #kept == 0 and 0 or 125
  if json then
    io.stdout:write(M.json(entries, kept, code), "\n")
    return code
  end
  for _, id in ipairs(removed) do print("removed " .. id) end
  for _, msg in ipairs(kept) do io.stderr:write("nslua gc: kept ", msg, "\n") end
  return code
end

return M
