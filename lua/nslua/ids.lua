--- nslua.ids: host id slots for privileged sandboxes, /etc/subuid ranges,
-- newuidmap/newgidmap.  The maps themselves are the plan's (launch.lua).
-- Privileged: each sandbox takes a free slot of 65536 host ids (slot n =
-- base + n * 65536), held by an flock on /run/nslua/ids/<n>.lock whose fd
-- the init inherits, so a slot is reused only after the init is gone.
-- Rootless: the caller's uid and gid map straight to the payload's ids.
local core = require "nslua.core"
local proc = core.proc

local M = {}

M.WIDTH = 65536
M.BASE = 1 << 30
M.SLOTS = 1024
M.CONF = "/etc/nslua.conf"
M.LOCKDIR = "/run/nslua/ids"

local read = require("nslua.state").read

--- /etc/nslua.conf: `id_base = N` and `id_slots = N` lines, `#` comments;
-- `isolate_NAME = VALUE` lines go to cfg.isolate[NAME] as text.
function M.config(path)
  local cfg = { base = M.BASE, slots = M.SLOTS }
  local text = read(path or M.CONF)
  if not text then return cfg end
  local n = 0
  for line in text:gmatch("[^\n]*") do
    n = n + 1
    line = line:gsub("#.*", "")
    local k, v = line:match("^%s*([%w_]+)%s*=%s*(%S+)%s*$")
    if k and k:match("^isolate_") then
      -- nslua isolate's settings (cli/isolate.lua checks them)
      cfg.isolate = cfg.isolate or {}
      cfg.isolate[k:sub(9)] = v
    elseif k == "id_base" or k == "id_slots" then
      local num = math.tointeger(tonumber(v))
      if not num or num < 1 then
        error(("%s:%d: %s must be a positive integer"):format(path or M.CONF, n, k), 0)
      end
      cfg[k == "id_base" and "base" or "slots"] = num
    elseif line:match("%S") then
      error(("%s:%d: unknown setting"):format(path or M.CONF, n), 0)
    end
  end
  if cfg.base + cfg.slots * M.WIDTH > 0xfffffffe then
    error(("%s: id_base + id_slots * 65536 exceeds the 32-bit id space"):format(path or M.CONF), 0)
  end
  return cfg
end

--- Ranges of /etc/subuid or /etc/subgid: list of {name, start, count}.
function M.subids(path)
  local list = {}
  local text = read(path)
  if not text then return list end
  for line in text:gmatch("[^\n]+") do
    local name, start, count = line:match("^%s*([^:#%s]+):(%d+):(%d+)")
    if name then
      list[#list + 1] = { name = name, start = tonumber(start), count = tonumber(count) }
    end
  end
  return list
end

--- Refuse a slot base that overlaps a range delegated in /etc/subuid or /etc/subgid.
function M.check_overlap(cfg, files)
  local lo, hi = cfg.base, cfg.base + cfg.slots * M.WIDTH
  for _, file in ipairs(files or { "/etc/subuid", "/etc/subgid" }) do
    for _, r in ipairs(M.subids(file)) do
      if r.start < hi and r.start + r.count > lo then
        return nil, ("id slots %d..%d overlap %s's range %d:%d in %s (set id_base in %s)")
          :format(lo, hi - 1, r.name, r.start, r.count, file, M.CONF)
      end
    end
  end
  return true
end

M.SUBUID, M.SUBGID = "/etc/subuid", "/etc/subgid"

--- May a privileged payload's ids map to host id 'id' (user.host_uid or
-- user.host_gid, named by 'field')?  Not host root, not an id of nslua's
-- slots (cfg: M.config()'s), not an id delegated in 'file' (M.SUBUID or
-- M.SUBGID): those belong to other sandboxes and other users' namespaces.
-- @treturn[1] true
-- @return[2] nil, message naming the field
function M.check_host_id(field, id, file, cfg)
  if id == 0 then return nil, field .. ": must not be 0 (host root)" end
  local lo, hi = cfg.base, cfg.base + cfg.slots * M.WIDTH
  if id >= lo and id < hi then
    return nil, ("%s: %d is inside nslua's id slots %d..%d (id_base and id_slots in %s)")
      :format(field, id, lo, hi - 1, M.CONF)
  end
  for _, r in ipairs(M.subids(file)) do
    if id >= r.start and id < r.start + r.count then
      return nil, ("%s: %d is inside %s's range %d:%d in %s"):format(field, id, r.name, r.start, r.count, file)
    end
  end
  return true
end

--- user.host_uid / user.host_gid of a validated user table: rootless
-- (caller = {uid, gid}) they must be the caller's own ids; privileged,
-- each passes check_host_id.  true | nil, message.
function M.check_host_ids(user, caller)
  if type(user) ~= "table" or user.host_uid == nil then return true end
  if caller then
    for _, k in ipairs { "uid", "gid" } do
      if user["host_" .. k] ~= caller[k] then
        return nil, ("user.host_%s: rootless, the payload's %s maps to the caller's own (%d), not %d")
          :format(k, k, caller[k], user["host_" .. k])
      end
    end
    return true
  end
  local okc, cfg = pcall(M.config)
  if not okc then return nil, tostring(cfg) end
  local ok, err = M.check_host_id("user.host_uid", user.host_uid, M.SUBUID, cfg)
  if ok then ok, err = M.check_host_id("user.host_gid", user.host_gid, M.SUBGID, cfg) end
  return ok, err
end

--- The caller's subordinate range in 'file' (matched by user name or uid):
-- start, count | nil.
function M.subrange(file, uid, name)
  for _, r in ipairs(M.subids(file)) do
    if r.name == name or r.name == tostring(uid) then return r.start, r.count end
  end
end

--- The name of a uid from /etc/passwd (nil when there is none).
function M.username(uid)
  local text = read("/etc/passwd") or ""
  for line in text:gmatch("[^\n]+") do
    local name, id = line:match("^([^:]*):[^:]*:(%d+):")
    if tonumber(id) == uid then return name end
  end
end

--- Rootless multi-id maps (user.map = "all"): inside 0 is the caller, 1..65535
-- come from the caller's ranges in /etc/subuid and /etc/subgid.  Returns
-- the sub-ranges {uid = start, gid = start} | nil, msg.  Both files are
-- searched for the caller's user (name or uid), as newgidmap does: the gid
-- is not a key of /etc/subgid.
function M.rootless_ranges(uid, _gid)
  local name = M.username(uid)
  local us, uc = M.subrange("/etc/subuid", uid, name)
  local gs, gc = M.subrange("/etc/subgid", uid, name)
  if not us or uc < M.WIDTH - 1 or not gs or gc < M.WIDTH - 1 then
    return nil, ("a rootless map of all ids needs ranges of 65535 ids for %s in /etc/subuid and /etc/subgid")
      :format(name or ("uid " .. uid))
  end
  for _, tool in ipairs { "newuidmap", "newgidmap" } do
    if not io.open("/usr/bin/" .. tool) then
      return nil, ("a rootless map of all ids needs /usr/bin/%s (package uidmap)"):format(tool)
    end
  end
  return { uid = us, gid = gs }
end

--- Write a map through the setuid helper newuidmap or newgidmap (fixed argv,
-- no shell).  Returns true | nil, msg, errno.
function M.newidmap(tool, pid, lines)
  local ns = core.ns
  local argv = { "/usr/bin/" .. tool, tostring(pid) }
  for _, l in ipairs(lines) do
    argv[#argv + 1] = tostring(l[1])
    argv[#argv + 1] = tostring(l[2])
    argv[#argv + 1] = tostring(l[3])
  end
  io.stdout:flush()
  io.stderr:flush()
  local child, err, code = ns.clone()
  if not child then return nil, err, code end
  if child == 0 then
    proc.execv(argv)
    proc._exit(127)
  end
  local _, how, status = proc.waitpid(child)
  if how == "exited" and status == 0 then return true end
  return nil, ("%s %s: %s %d"):format(tool, table.concat(argv, " ", 3),
    how == "exited" and "exit code" or "signal", status), core.errno.EPERM
end

local cached_cfg

--- Take a free slot: returns slot number, first host id, lock fd box.
function M.acquire()
  if not cached_cfg then
    local cfg = M.config()
    assert(M.check_overlap(cfg))
    cached_cfg = cfg
  end
  local cfg = cached_cfg
  local ok, err, code = core.mount.mkdir(M.LOCKDIR, 448, true)
  if not ok then return nil, err, code end
  for n = 0, cfg.slots - 1 do
    local path = ("%s/%d.lock"):format(M.LOCKDIR, n)
    local fd, oerr, ocode = proc.open(path, { wronly = true, creat = true }, 384)
    if not fd then return nil, oerr, ocode end
    if proc.flock(fd, "ex", true) then
      return n, cfg.base + n * M.WIDTH, fd
    end
    fd:close()
  end
  return nil, ("no free id slot among %d (see %s)"):format(cfg.slots, M.CONF), core.errno.EUSERS
end

return M
