-- spec/helper.lua - shared test support: run code in a fresh lua5.4, run
-- shell commands, make temp dirs, and check the host holds no leftovers.
local M = {}

M.root = assert(io.popen("pwd")):read("l")
M.lpath = M.root .. "/lua/?.lua;" .. M.root .. "/lua/?/init.lua;" .. M.root .. "/spec/?.lua"
M.cpath = M.root .. "/build/?.so"
M.ROOTLESS_UID = 4242

local function q(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.quote = q

-- Under `make sanitize` the ASan/UBSan runtimes are preloaded into busted.
-- Shell commands run without them (uninstrumented tools need no runtime,
-- and leak checks of tools like cp are not ours); lua5.4 and the nslua
-- command get them back explicitly, since they load the instrumented core.
local preload = os.getenv("LD_PRELOAD")
M.san_env = ""
if preload and preload:match("asan") then
  M.san_env = ("env LD_PRELOAD=%s ASAN_OPTIONS=%s UBSAN_OPTIONS=%s "):format(q(preload),
    q(os.getenv("ASAN_OPTIONS") or ""), q(os.getenv("UBSAN_OPTIONS") or ""))
end
M.sanitized = M.san_env ~= ""
-- the same, exported for a whole shell line
M.san_export = M.sanitized and ("export LD_PRELOAD=%s ASAN_OPTIONS=%s UBSAN_OPTIONS=%s; "):format(q(preload),
  q(os.getenv("ASAN_OPTIONS") or ""), q(os.getenv("UBSAN_OPTIONS") or "")) or ""
-- the sanitizer runtimes a test must keep first when it sets LD_PRELOAD itself
M.san_preload = M.sanitized and preload or nil
M.LUA = M.san_env .. "lua5.4"
M.nslua = M.san_env .. M.root .. "/scripts/nslua"

function M.is_root()
  local f = io.popen("id -u")
  local uid = f:read("n")
  f:close()
  return uid == 0
end

-- Run a shell command; returns ok, combined output, exit code.
function M.sh(cmd)
  local f = assert(io.popen("exec 2>&1; unset LD_PRELOAD; " .. cmd, "r"))
  local out = f:read("a")
  local ok, how, code = f:close()
  if how == "signal" then code = 128 + code end
  return ok == true, out, code
end

local function tmpname(suffix)
  local f = io.popen("mktemp " .. (suffix or ""))
  local name = f:read("l")
  f:close()
  return name
end

-- Run Lua code in a fresh lua5.4 with nslua on its paths.  'prefix' goes
-- before the interpreter (e.g. a setpriv command line).  Returns ok,
-- output (stdout and stderr), exit code.
function M.run_isolated(code, prefix)
  local file = tmpname("--suffix=.lua")
  local f = assert(io.open(file, "w"))
  f:write("package.path = ", ("%q"):format(M.lpath), " .. ';' .. package.path\n")
  f:write("package.cpath = ", ("%q"):format(M.cpath), " .. ';' .. package.cpath\n")
  f:write(code)
  f:close()
  os.execute("chmod 0644 " .. q(file))
  -- the sanitizer environment goes first, so a prefix may set its own LD_PRELOAD
  -- (keeping helper.san_preload in front)
  local ok, out, rc = M.sh(M.san_export .. (prefix and (prefix .. " ") or "") .. "lua5.4 " .. q(file))
  os.remove(file)
  return ok, out, rc
end

-- A private copy of build/, lua/ and scripts/ in a 0755 temp dir, for
-- rootless runs (the checkout may live under a 0700 directory).
local rootless_copy
local rootless_state_existed
function M.rootless_tree()
  if rootless_copy then return rootless_copy end
  rootless_state_existed = M.exists(("/tmp/nslua-%d"):format(M.ROOTLESS_UID))
  local dir = tmpname("-d /tmp/nslua-spec.XXXXXX")
  -- unset LD_PRELOAD: under `make sanitize` LSan fails cp -a (exit 1, no message)
  assert(M.sh(("unset LD_PRELOAD; chmod 0755 %s && cp -a %s/build %s/lua %s/scripts %s/ && chmod -R a+rX %s")
    :format(q(dir), q(M.root), q(M.root), q(M.root), q(dir), q(dir))))
  rootless_copy = dir
  -- removed when the suite ends
  local ok, busted = pcall(require, "busted")
  if ok and busted.subscribe then
    busted.subscribe({ "suite", "end" }, function()
      M.cleanup_rootless_tree()
      return nil, true
    end)
  end
  return dir
end

function M.cleanup_rootless_tree()
  if rootless_copy then
    os.execute("rm -rf " .. q(rootless_copy))
    rootless_copy = nil
    -- the rootless state directory nslua made for the test user
    if not rootless_state_existed then
      os.execute(("rm -rf /tmp/nslua-%d"):format(M.ROOTLESS_UID))
    end
  end
end

M.SETPRIV = ("setpriv --reuid=%d --regid=%d --clear-groups"):format(M.ROOTLESS_UID, M.ROOTLESS_UID)

--- The nslua command of the rootless copy, run as the test user (with the
-- sanitizer runtimes under `make sanitize`).
function M.rootless_nslua()
  return ("%s %s%s/scripts/nslua"):format(M.SETPRIV, M.san_env, M.rootless_tree())
end

-- Run Lua code as the unprivileged test user from the rootless copy.
function M.run_rootless(code)
  local dir = M.rootless_tree()
  local file = dir .. "/run-" .. tostring(math.random(1 << 30)) .. ".lua"
  local f = assert(io.open(file, "w"))
  f:write("package.path = ", ("%q"):format(dir .. "/lua/?.lua;" .. dir .. "/lua/?/init.lua"),
    " .. ';' .. package.path\n")
  f:write("package.cpath = ", ("%q"):format(dir .. "/build/?.so"), " .. ';' .. package.cpath\n")
  f:write(code)
  f:close()
  os.execute("chmod 0644 " .. q(file))
  local ok, out, rc = M.sh(("cd /tmp && env -i PATH=/usr/bin:/bin %s %s %s"):format(M.SETPRIV,
    M.LUA, q(file)))
  os.remove(file)
  return ok, out, rc
end

-- Make a temp dir; returns its path.  Remove with helper.rmdir.
function M.tmpdir(mode)
  local dir = tmpname("-d /tmp/nslua-spec.XXXXXX")
  if mode then os.execute(("chmod %s %s"):format(mode, q(dir))) end
  return dir
end

function M.rmtree(path)
  os.execute("rm -rf " .. q(path))
end

function M.exists(path)
  local f = io.open(path, "r")
  if f then f:close() return true end
  return false
end

function M.read(path)
  local f = io.open(path, "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

-- The host objects a test could leave behind: named netns, veth/bridge
-- links, nslua cgroups, mounts under /tmp /run /var/tmp, nslua state.
function M.host_objects()
  local t = {}
  local function add(kind, cmd)
    local f = io.popen(cmd .. " 2>/dev/null")
    for line in f:lines() do t[#t + 1] = kind .. ": " .. line end
    f:close()
  end
  add("netns", "ls /run/netns")
  add("link", "ls /sys/class/net")
  add("cgroup", "find /sys/fs/cgroup -maxdepth 7 -type d -name 'nslua-*'")
  add("mount", "awk '$5 ~ /^\\/(tmp|run|var\\/tmp)\\// && $5 != \"/run/netns\" {print $5}' /proc/self/mountinfo")
  add("state", "ls /run/nslua 2>/dev/null | grep -v -e '^ids$' -e '^cache$' -e '\\.lock$'")
  table.sort(t)
  return t
end

-- assert.same(before, helper.host_objects()) with a readable message.
function M.assert_clean(before)
  local after = M.host_objects()
  local seen = {}
  for _, v in ipairs(before) do seen[v] = true end
  local extra = {}
  for _, v in ipairs(after) do
    if not seen[v] then extra[#extra + 1] = v end
  end
  assert(#extra == 0, "left behind on the host:\n  " .. table.concat(extra, "\n  "))
end

-- Pids of live processes whose parent is 'ppid' (direct children).
function M.children_of(ppid)
  local pids = {}
  local f = io.popen("ls /proc")
  for name in f:lines() do
    if name:match("^%d+$") then
      local st = M.read("/proc/" .. name .. "/stat")
      if st then
        local pp = st:match("^%d+ %b() %a (%d+)")
        if tonumber(pp) == ppid then pids[#pids + 1] = tonumber(name) end
      end
    end
  end
  f:close()
  return pids
end

function M.pid_alive(pid)
  return M.exists("/proc/" .. pid .. "/stat")
    and not (M.read("/proc/" .. pid .. "/stat") or ""):match("^%d+ %b() Z")
end

function M.sleep(s)
  os.execute("sleep " .. s)
end

-- assert_clean for specs that share /run/nslua and the cgroup trees with
-- concurrent runs (other sessions' containers): objects named by the id of
-- a state record whose owner is alive belong to a running nslua, never to
-- a test that has finished, and are ignored.  A few looks, a moment apart,
-- let a concurrent run that was just starting or ending settle; a real
-- leftover stays in every look.
function M.assert_clean_shared(before)
  local state = require "nslua.state"
  local seen = {}
  for _, v in ipairs(before) do seen[v] = true end
  local extra
  for _ = 1, 5 do
    local objs = M.host_objects()
    local live = {}
    for _, rec in ipairs(state.list(state.ROOT)) do
      if rec.alive then live[rec.id] = true end
    end
    extra = {}
    for _, v in ipairs(objs) do
      local id = v:match("^state: ([a-z0-9]+)$") or v:match("^cgroup: .*/nslua%-([a-z0-9]+)$")
      if not seen[v] and not (id and live[id]) then extra[#extra + 1] = v end
    end
    if #extra == 0 then return end
    M.sleep(0.2)
  end
  assert(#extra == 0, "left behind on the host:\n  " .. table.concat(extra, "\n  "))
end

return M
