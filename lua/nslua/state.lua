--- nslua.state: ids, /run/nslua/<id>, owners and the sweep of dead owners.
-- Host-visible objects are cgroups nslua-<id>, links nsl<id><suffix> and
-- the state directory <statedir>/<id>; each records its owner's pid and
-- start time, so a start (and `nslua gc`) can remove what dead owners left.
local core = require "nslua.core"
local mount, proc = core.mount, core.proc
local errno = core.errno

local M = {}

M.ROOT = "/run/nslua"
M.ID_PATTERN = "^[a-z0-9]+$"
M.ID_LEN = 8

local function read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end
M.read = read

--- Start time (clock ticks since boot) of a process, field 22 of /proc/<pid>/stat.
function M.starttime(pid)
  local st = read("/proc/" .. pid .. "/stat")
  if not st then return nil end
  -- the comm field may hold spaces and parentheses: skip to the last ')'
  local rest = st:match(".*%)%s+(.*)")
  local i = 0
  for field in rest:gmatch("%S+") do
    i = i + 1
    if i == 20 then return tonumber(field) end  -- field 22 overall
  end
end

local self_owner
--- "pid starttime" of this process (cached).
function M.owner()
  if not self_owner then
    local pid = proc.getpid()
    self_owner = { pid = pid, start = M.starttime(pid) }
  end
  return self_owner
end

--- Is the process that recorded (pid, start) still alive?  A zombie is
-- not (it has closed its fds, the record lock among them; a shell that
-- killed it may not have reaped it yet).
function M.alive(pid, start)
  if not pid then return false end
  local st = read("/proc/" .. pid .. "/stat")
  local rest = st and st:match(".*%)%s+(.*)")
  if not rest or rest:match("^[ZX]") then return false end
  local i = 0
  for field in rest:gmatch("%S+") do
    i = i + 1
    if i == 20 then return tonumber(field) == start end  -- field 22 overall
  end
  return false
end

local alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
--- A fresh 8-character id of [a-z0-9].
function M.new_id()
  local f = io.open("/dev/urandom", "rb")
  -- unbuffered: the 8 bytes, not a buffer's 4 KiB (and its fstat)
  if f then f:setvbuf("no") end
  local bytes = f and f:read(M.ID_LEN)
  if f then f:close() end
  local t = {}
  for i = 1, M.ID_LEN do
    local b = bytes and bytes:byte(i) or math.random(0, 255)
    local k = b % #alphabet + 1
    t[i] = alphabet:sub(k, k)
  end
  return table.concat(t)
end

--- The state directory: /run/nslua as root; rootless, $XDG_RUNTIME_DIR/nslua
-- when that directory is the caller's with mode 0700, else /tmp/nslua-<uid>
-- (which must be a directory of the caller's with mode 0700, checked with
-- lstat).  Returns path | nil, msg.
--- The state directory M.root() would use, made or not (nil: none).
function M.root_path()
  local uid = proc.getuid()
  if uid == 0 then return M.ROOT end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg:sub(1, 1) == "/" then
    local st = mount.lstat(xdg)
    if st and st.type == "dir" and st.uid == uid and st.mode & 511 == 448 then return xdg .. "/nslua" end
  end
  return ("/tmp/nslua-%d"):format(uid)
end

function M.root()
  local uid = proc.getuid()
  if uid == 0 then
    local ok, err = mount.mkdir(M.ROOT, 493, true)
    if not ok then return nil, err end
    return M.ROOT
  end
  local xdg = os.getenv("XDG_RUNTIME_DIR")
  if xdg and xdg:sub(1, 1) == "/" then
    local st = mount.lstat(xdg)
    if st and st.type == "dir" and st.uid == uid and st.mode & 511 == 448 then
      local dir = xdg .. "/nslua"
      if mount.mkdir(dir, 448, false) or (mount.lstat(dir) or {}).type == "dir" then
        return dir
      end
    end
  end
  local dir = ("/tmp/nslua-%d"):format(uid)
  mount.mkdir(dir, 448, false)
  local st, err = mount.lstat(dir)
  if not st then return nil, err end
  if st.type ~= "dir" or st.uid ~= uid or st.mode & 511 ~= 448 then
    return nil, ("state directory '%s' must be a directory owned by uid %d with mode 0700")
      :format(dir, uid)
  end
  return dir
end

local function encode(info)
  local keys = {}
  for k in pairs(info) do keys[#keys + 1] = k end
  table.sort(keys)
  local out = {}
  for _, k in ipairs(keys) do
    local v = info[k]
    if type(v) == "table" then v = table.concat(v, "\t") end
    out[#out + 1] = k .. "=" .. tostring(v):gsub("\n", " ")
  end
  return table.concat(out, "\n") .. "\n"
end

local function decode(text)
  local info = {}
  for k, v in (text or ""):gmatch("([%w_]+)=([^\n]*)") do
    info[k] = math.tointeger(tonumber(v)) or v
  end
  return info
end

--- Create <root>/<id>/ with the owner record and take its lock.
-- The record is built in .<id>.<pid> and renamed into place, so a sweep
-- by another process never sees a record without its owner; its `lock`
-- file is flocked before the rename, so from the moment the record exists
-- until the owner (and every process that inherited the fd: the init) is
-- gone, a sweep that tries the lock without blocking leaves it alone.
-- Returns the directory and the lock fd box.
function M.create(root, id, info)
  local o = M.owner()
  local dir, tmp = root .. "/" .. id, ("%s/.%s.%d"):format(root, id, o.pid)
  local ok, err, code = mount.mkdir(tmp, 448, false)
  if not ok then return nil, err, code end
  info.owner_pid, info.owner_start = o.pid, o.start
  local lock
  lock, err, code = proc.open(tmp .. "/lock", { rdonly = true, creat = true }, 384)
  if lock then
    ok, err, code = proc.flock(lock, "ex", true)
    if ok then ok, err, code = mount.write_file(tmp .. "/info", encode(info), 384) end
    if ok then ok, err, code = mount.rename(tmp, dir) end
  else
    ok = false
  end
  if not ok then
    if lock then lock:close() end
    mount.unlink(tmp .. "/info")
    mount.unlink(tmp .. "/lock")
    mount.rmdir(tmp)
    return nil, err, code
  end
  return dir, lock
end

--- Try the lock of a record without blocking: the lock fd box when its
-- owner is gone (the caller holds it while it removes what the record
-- names), nil while any holder lives.  A record without a lock file (an
-- older nslua's) falls back to the owner's pid and start time.
function M.try_lock(dir, info)
  local fd = proc.open(dir .. "/lock", { rdonly = true })
  if not fd then
    if M.alive(info.owner_pid, info.owner_start) then return nil end
    return true
  end
  if proc.flock(fd, "ex", true) then return fd end
  fd:close()
  return nil
end

--- Add or change fields of a state record (written aside and swapped in,
-- so a reader never sees a half-written record).  The swap is an exchange
-- of names, then the old one is unlinked: ext4 flushes a file renamed
-- over another first (auto_da_alloc), ~0.2 ms a run; a file system
-- without exchange (overlayfs) gets the plain rename.
function M.update(dir, info)
  local path = dir .. "/info"
  local cur = decode(read(path))
  for k, v in pairs(info) do cur[k] = v end
  local tmp = dir .. "/info.new"
  local ok, err, code = mount.write_file(tmp, encode(cur), 384)
  if not ok then return ok, err, code end
  if mount.exchange(tmp, path) then
    mount.unlink(tmp)
  elseif not os.rename(tmp, path) then
    mount.unlink(tmp)
    return nil, "rename '" .. path .. "'", 0
  end
  return true
end

--- The seccomp programs a container's command loaded, kept beside its
-- record for `nslua exec` (DESIGN "Trust rules": an exec never compiles a
-- profile file again, which the payload may have rewritten, and never
-- runs without a raw program the command has).  'p' = { main = BPF,
-- layers = { BPF, ... }, bpf = { BPF, ... }, notify = BPF, handlers =
-- bool, listener = bool }.  Format: "nslua-seccomp 1\n", then per program
-- "KIND LEN\n" and its LEN bytes and "\n", then the flags' names, a line
-- each, then "end\n".  The record says how many programs there are
-- (`seccomp_programs`), so a file that is missing or cut short is seen.
M.PROGRAMS = "seccomp"
-- The profiles an exec compiles again itself (nslua's own code, not a
-- file): alone, they need no programs file.
M.BUILTIN_PROFILES = { default = true, strict = true, isolate = true, none = true }
function M.write_programs(dir, p)
  local out = { "nslua-seccomp 1\n" }
  local function prog(kind, bpf) out[#out + 1] = ("%s %d\n%s\n"):format(kind, #bpf, bpf) end
  if p.main then prog("main", p.main) end
  for _, b in ipairs(p.layers or {}) do prog("layer", b) end
  for _, b in ipairs(p.bpf or {}) do prog("bpf", b) end
  if p.notify then prog("notify", p.notify) end
  if p.handlers then out[#out + 1] = "handlers\n" end
  if p.listener then out[#out + 1] = "listener\n" end
  out[#out + 1] = "end\n"
  return mount.write_file(dir .. "/" .. M.PROGRAMS, table.concat(out), 384)
end

--- How many programs write_programs writes for 'p'.
function M.count_programs(p)
  return (p.main and 1 or 0) + #(p.layers or {}) + #(p.bpf or {}) + (p.notify and 1 or 0)
end

--- The programs write_programs kept: nil when there is no file; nil, msg
-- for one that is not whole, or that does not hold 'count' programs.
function M.read_programs(dir, count)
  local text = read(dir .. "/" .. M.PROGRAMS)
  if not text then return nil end
  if text:sub(1, 16) ~= "nslua-seccomp 1\n" then return nil, "not a programs file" end
  local p, i, n, ended = { layers = {}, bpf = {} }, 17, 0, false
  while i <= #text and not ended do
    local kind, len, at = text:match("^(%l+) (%d+)\n()", i)
    if kind then
      len = #len <= 9 and math.tointeger(tonumber(len)) or nil
      local bpf = len and text:sub(at, at + len - 1)
      if not len or len == 0 or #bpf ~= len or len % 8 ~= 0 or text:sub(at + len, at + len) ~= "\n" then
        return nil, "a program is cut short"
      end
      if (kind == "main" or kind == "notify") and not p[kind] then p[kind] = bpf
      elseif kind == "layer" then p.layers[#p.layers + 1] = bpf
      elseif kind == "bpf" then p.bpf[#p.bpf + 1] = bpf
      else return nil, "unknown program " .. kind end
      n = n + 1
      i = at + len + 1
    else
      local word, nxt = text:match("^(%l+)\n()", i)
      if word == "end" then
        ended = true
      elseif word == "handlers" or word == "listener" then
        p[word] = true
      else
        return nil, "unknown line"
      end
      i = nxt
    end
  end
  if not ended or i <= #text then return nil, "the file is cut short or has more" end
  if n == 0 or (count and n ~= count) then return nil, "it holds other programs than the record says" end
  -- a notify filter goes to Lua handlers or to an agent: one of them
  if (p.notify ~= nil) ~= (p.handlers or p.listener or false) or (p.handlers and p.listener) then
    return nil, "its notify filter has no destination"
  end
  return p
end

function M.remove(dir)
  mount.unlink(dir .. "/" .. M.PROGRAMS)
  mount.unlink(dir .. "/info.new")
  mount.unlink(dir .. "/info")
  mount.unlink(dir .. "/lock")
  return mount.rmdir(dir)
end

--- Every state record: list of {id, dir, info, alive}.
function M.list(root)
  local out = {}
  local names = mount.readdir(root) or {}
  table.sort(names)
  for _, id in ipairs(names) do
    -- a record under construction whose owner died: .<id>.<pid>
    local tid, tpid = id:match("^%.([a-z0-9]+)%.(%d+)$")
    if tid and not M.starttime(tonumber(tpid)) then
      local tmp = root .. "/" .. id
      mount.unlink(tmp .. "/info")
      mount.unlink(tmp .. "/lock")
      mount.rmdir(tmp)
    end
    if #id == M.ID_LEN and id:match(M.ID_PATTERN) then
      local dir = root .. "/" .. id
      local info = decode(read(dir .. "/info"))
      local lock = M.try_lock(dir, info)
      if type(lock) == "userdata" then lock:close() end
      -- detached (an OCI container after create): alive while its command is
      local alive = lock == nil or (info.detached == 1 and M.alive(info.init_pid, info.init_start))
      out[#out + 1] = { id = id, dir = dir, info = info, alive = alive }
    end
  end
  return out
end

--- The directory of the caller's netns forwarding state under 'dir'
-- (net.lua's LOCK_DIR): dir/forward-<netns inode> | nil, msg, errno.
function M.forward_dir(dir)
  local l, err, code = mount.readlink("/proc/thread-self/ns/net")
  if not l then return nil, err, code end
  local ino = l:match("^net:%[(%d+)%]$")
  if not ino then return nil, "unexpected netns link " .. l, errno.EINVAL end
  return ("%s/forward-%s"):format(dir, ino)
end

M.encode, M.decode = encode, decode

return M
