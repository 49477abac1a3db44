-- spec/helper.lua - shared test support: run code in a fresh lua5.4, run
-- shell commands, make temp dirs, and check that what a test made is gone
-- (helper.track / helper.assert_released: the test's own ids, dirs and
-- names only, never a listing that other runs on the machine change).
-- To see the suite hold on a busy host:
--   spec/support/noise.sh 600 & make check; kill $!
local M = {}

-- (each popen is closed: an unclosed one is a zombie child of busted until
-- the collector runs, and a spec that checks its children would see it)
do
  local f = assert(io.popen("pwd"))
  M.root = f:read("l")
  f:close()
end
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

-- Run a shell command; returns ok, combined output, exit code.  The
-- environment carries helper.env_vars, so every nslua it starts logs its ids.
function M.sh(cmd)
  -- every lua5.4 it starts logs the nslua ids it makes (helper.track)
  local f = assert(io.popen("exec 2>&1; unset LD_PRELOAD; export " .. M.env_vars .. "; " .. cmd, "r"))
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
local R = debug.getregistry()
R["nslua.spec.rootless"] = R["nslua.spec.rootless"] or {}
local RT = R["nslua.spec.rootless"]
function M.rootless_tree()
  if RT.copy then return RT.copy end
  RT.state_existed = M.exists(("/tmp/nslua-%d"):format(M.ROOTLESS_UID))
  local dir = tmpname("-d /tmp/nslua-spec.XXXXXX")
  -- unset LD_PRELOAD: under `make sanitize` LSan fails cp -a (exit 1, no message)
  assert(M.sh(("unset LD_PRELOAD; chmod 0755 %s && cp -a %s/build %s/lua %s/scripts %s/ && chmod -R a+rX %s")
    :format(q(dir), q(M.root), q(M.root), q(M.root), q(dir), q(dir))))
  RT.copy = dir
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
  if RT.copy then
    os.execute("rm -rf " .. q(RT.copy))
    RT.copy = nil
    -- the rootless state directory nslua made for the test user
    if not RT.state_existed then
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
  local ok, out, rc = M.sh(("cd /tmp && %s %s %s %s"):format(M.ENV_I, M.SETPRIV,
    M.LUA, q(file)))
  os.remove(file)
  return ok, out, rc
end

-- Make a temp dir; returns its path.  Remove with helper.rmdir.
-- The dir counts as the test's own: a mount left at or under it fails
-- helper.assert_released.
function M.tmpdir(mode)
  local dir = tmpname("-d /tmp/nslua-spec.XXXXXX")
  if mode then os.execute(("chmod %s %s"):format(mode, q(dir))) end
  local own = debug.getregistry()["nslua.spec.helper"]
  if own then own.dirs[#own.dirs + 1] = dir end
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

-- What a test made, and the check that it is gone.
--
-- The machine is shared: other people's test runs, and spec/support/noise.sh,
-- make and remove nslua-looking cgroups, state records, links, mounts and
-- network namespaces all the time.  A leak check therefore never compares a
-- global listing; it looks only at the objects the test itself made:
--
--  * every nslua id this process or any lua5.4 it starts generates
--    (state.new_id is wrapped to append the id to a per-run log; children
--    get the wrapper through LUA_INIT_5_4, set by helper.sh), and what an id
--    names: <state root>/<id>, cgroups nslua-<id>, host links nsl<id>*;
--  * mounts at or under the temp dirs made with helper.tmpdir, the state
--    dirs of those ids, and the paths a test names;
--  * links and named network namespaces a test names.
--
-- t = helper.track{paths = {...}, links = {...}, netns = {...}, roots = {...}}
-- before the test; helper.assert_released(t) after it.

-- Per-process state, kept in the registry: busted reloads this file for
-- every spec file (insulation), but the id log is one per run.
local S = debug.getregistry()["nslua.spec.helper"]
if not S then
  S = { dirs = {} }
  debug.getregistry()["nslua.spec.helper"] = S
  -- Only a busted run keeps a log (removed when the suite ends); a script
  -- that loads this file (scripts/bench/run.lua) gets none.  In a 0755 dir
  -- of ours, under /run when we may (a test may hide /tmp behind a private
  -- tmpfs): fs.protected_regular refuses the rootless user an O_CREAT open
  -- of a root-owned file directly in the sticky /tmp.
  local busted = package.loaded["busted"]
  if type(busted) == "table" and busted.subscribe then
    local dir = tmpname("-d /run/nslua-spec.XXXXXX 2>/dev/null")
    if not dir or dir == "" then dir = tmpname("-d /tmp/nslua-spec.XXXXXX") end
    S.logdir = dir
    S.idlog = S.logdir .. "/ids"
    local f = assert(io.open(S.idlog, "w"))
    f:close()
    os.execute(("chmod 0755 %s && chmod 0666 %s"):format(q(S.logdir), q(S.idlog)))
    busted.subscribe({ "suite", "end" }, function()
      -- the whole run's check of the host: every object of an id the run
      -- logged is gone, and the forwarding sysctls are as they were
      local check = S.suite_check
      local left = check and check() or {}
      if #left > 0 then
        local msg = "the suite left on the host:\n  " .. table.concat(left, "\n  ")
        io.write("\nHOST CHECK FAILED: ", msg, "\n")
        busted.publish({ "error", "suite" }, { descriptor = "suite", name = "host check", trace = {} },
          nil, msg, {})
      end
      os.execute("rm -rf " .. q(S.logdir))
      return nil, true
    end)
  end
end

-- The wrapper of nslua.state.new_id, with 'l' the log's path: a preload
-- that finds the module through the other searchers (the launcher's .luac
-- one included) and logs each id it hands out.
local HOOK = dofile(M.root .. "/spec/support/idlog.lua")
M.IDLOG = S.idlog
M.LUA_INIT = ("local l = os.getenv('NSLUA_SPEC_IDLOG') " .. HOOK):gsub("\n%s*", " ")
-- for a shell line: export both; for `env -i`: the assignments to keep
M.env_vars = "NSLUA_SPEC_IDLOG="
if S.idlog then
  assert(load("local l = ...\n" .. HOOK, "=idlog"))(S.idlog)
  M.env_vars = ("LUA_INIT_5_4=%s NSLUA_SPEC_IDLOG=%s"):format(q(M.LUA_INIT), q(S.idlog))
end
M.ENV_I = "env -i PATH=/usr/bin:/bin " .. M.env_vars

local function lines_of(cmd)
  local t = {}
  local f = io.popen(cmd .. " 2>/dev/null")
  for line in f:lines() do t[#t + 1] = line end
  f:close()
  return t
end

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

-- The state roots nslua uses for the runs of this suite.
M.STATE_ROOTS = { "/run/nslua", ("/tmp/nslua-%d"):format(M.ROOTLESS_UID) }

--- The ids logged since tracker t was made (all of this run without t),
-- and those the test added to t.ids (names it gave cgroup.new itself).
function M.ids(t)
  local list, seen = {}, {}
  local function add(id)
    if id:match("^[a-z0-9]+$") and not seen[id] then
      seen[id] = true
      list[#list + 1] = id
    end
  end
  local f = S.idlog and io.open(S.idlog, "r")
  if f then
    f:seek("set", t and t.offset or 0)
    for id in f:lines() do add(id) end
    f:close()
  end
  for _, id in ipairs(t and t.ids or {}) do add(id) end
  return list
end

local function state_dirs(t, ids)
  local dirs = {}
  local roots = {}
  for _, r in ipairs(M.STATE_ROOTS) do roots[#roots + 1] = r end
  for _, r in ipairs(t.roots or {}) do roots[#roots + 1] = r end
  for _, id in ipairs(ids) do
    for _, r in ipairs(roots) do dirs[#dirs + 1] = r .. "/" .. id end
  end
  return dirs, roots
end

-- Mount points (unescaped) at or under the paths that belong to t.
local function own_mounts(t, ids)
  local prefixes = {}
  for _, d in ipairs(S.dirs) do prefixes[#prefixes + 1] = d end
  for _, d in ipairs(t.paths or {}) do prefixes[#prefixes + 1] = d end
  for _, d in ipairs((state_dirs(t, ids or {}))) do prefixes[#prefixes + 1] = d end
  local found = {}
  for line in (M.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    mp = mp and mp:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end)
    for _, p in ipairs(prefixes) do
      if mp and under(mp, p) then found[#found + 1] = mp break end
    end
  end
  return found
end

-- How many mounts sit exactly on each of 'points'.
local function mount_counts(points)
  local n = {}
  for _, p in ipairs(points or {}) do n[p] = 0 end
  if not next(n) then return n end
  for line in (M.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    mp = mp and mp:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end)
    if mp and n[mp] then n[mp] = n[mp] + 1 end
  end
  return n
end

local function exists_link(name)
  return M.exists("/sys/class/net/" .. name .. "/ifindex")
end

--- Start tracking: what the caller makes from now on is checked by
-- helper.assert_released(t).  opts: paths (dirs of the test's own: no mount
-- may stay at or under them), points (mount points the test's code uses,
-- e.g. a doctor probe's /tmp: no mount may be added exactly there), links and netns (names the test makes in
-- the host netns), roots (extra state roots, e.g. an XDG_RUNTIME_DIR), ids
-- (ids the test names itself; t.ids may grow), gone (paths that must not
-- exist at the end; t.gone may grow).
function M.track(opts)
  opts = opts or {}
  local f = S.idlog and io.open(S.idlog, "r")
  local t = { offset = f and f:seek("end") or 0, paths = opts.paths, links = opts.links,
              netns = opts.netns, roots = opts.roots, ids = opts.ids or {}, gone = opts.gone or {} }
  if f then f:close() end
  t.mounts_before = {}
  for _, mp in ipairs(own_mounts(t)) do t.mounts_before[mp] = true end
  t.points = opts.points
  t.points_before = mount_counts(t.points)
  t.links_before = {}
  for _, name in ipairs(t.links or {}) do t.links_before[name] = exists_link(name) end
  t.netns_before = {}
  for _, name in ipairs(t.netns or {}) do t.netns_before[name] = M.exists("/run/netns/" .. name) end
  return t
end

--- Add link names the test is about to make (in a netns of its own, where
-- a slip would put them on the host) to tracker t.  'code' may be the Lua
-- or shell text the test runs: every quoted nsl* word in it counts.
function M.track_links(t, names, code)
  local list = {}
  for _, n in ipairs(names or {}) do list[#list + 1] = n end
  for n in (code or ""):gmatch("[\"'](nsl[%w_.-]*)[\"']") do
    if #n <= 15 then list[#list + 1] = n end
  end
  t.links = t.links or {}
  for _, n in ipairs(list) do
    if t.links_before[n] == nil then
      t.links_before[n] = exists_link(n)
      t.links[#t.links + 1] = n
    end
  end
end

--- What of t's objects still exists: a sorted list of "kind: name".
function M.leftovers(t)
  local ids = M.ids(t)
  local out = {}
  local dirs, roots = state_dirs(t, ids)
  for _, d in ipairs(dirs) do
    if M.exists(d) or M.exists(d .. "/info") then out[#out + 1] = "state: " .. d end
  end
  if #ids > 0 then
    local want = {}
    for _, id in ipairs(ids) do want[id] = true end
    -- records under construction (.<id>.<pid>)
    for _, r in ipairs(roots) do
      for _, name in ipairs(lines_of("ls -A " .. q(r))) do
        local id = name:match("^%.([a-z0-9]+)%.%d+$")
        if id and want[id] then out[#out + 1] = "state: " .. r .. "/" .. name end
      end
    end
    for _, d in ipairs(lines_of("find /sys/fs/cgroup -maxdepth 8 -type d -name 'nslua-*'")) do
      if want[d:match("/nslua%-([a-z0-9]+)$") or ""] then out[#out + 1] = "cgroup: " .. d end
    end
    for _, name in ipairs(lines_of("ls /sys/class/net")) do
      local id = name:match("^nsl(" .. ("[a-z0-9]"):rep(8) .. ")")
      if id and want[id] then out[#out + 1] = "link: " .. name end
    end
    -- the nftables table of a nat, publish or isolate_host plan
    for _, line in ipairs(lines_of("nft list tables")) do
      local id = line:match("^table %w+ nslua%-([a-z0-9]+)$")
      if id and want[id] then out[#out + 1] = "nft: " .. line end
    end
  end
  for _, p in ipairs(t.gone) do
    if M.exists(p) then out[#out + 1] = "path: " .. p end
  end
  for _, name in ipairs(t.links or {}) do
    if not t.links_before[name] and exists_link(name) then out[#out + 1] = "link: " .. name end
  end
  for _, name in ipairs(t.netns or {}) do
    if not t.netns_before[name] and M.exists("/run/netns/" .. name) then out[#out + 1] = "netns: " .. name end
  end
  for _, mp in ipairs(own_mounts(t, ids)) do
    if not t.mounts_before[mp] then out[#out + 1] = "mount: " .. mp end
  end
  for p, n in pairs(mount_counts(t.points)) do
    if n > t.points_before[p] then out[#out + 1] = "mount: " .. p end
  end
  table.sort(out)
  return out
end

--- Assert that every object tracker t covers is gone.  A run that is
-- ending (its owner reaping, removing) gets 'settle' seconds (default 10)
-- on a loaded host; a real leftover is there in every look.
function M.assert_released(t, settle)
  local deadline = os.time() + (settle or 10)
  local left
  repeat
    left = M.leftovers(t)
    if #left == 0 then return end
    M.sleep(0.2)
  until os.time() > deadline
  error("left behind on the host:\n  " .. table.concat(left, "\n  "), 2)
end

-- The old names: `before = helper.host_objects()` ... `helper.assert_clean(before)`.
-- host_objects() still returns the host's listing (named netns, links,
-- nslua cgroups, mounts under /tmp /run /var/tmp, state), for a note such as
-- scripts/bench/run.lua's "appeared meanwhile"; no check compares it (other
-- runs change it).  assert_clean(before) checks the tracker host_objects()
-- started, as helper.assert_released.
local legacy = setmetatable({}, { __mode = "k" })
function M.host_objects()
  local t = {}
  local function add(kind, cmd)
    for _, line in ipairs(lines_of(cmd)) do t[#t + 1] = kind .. ": " .. line end
  end
  add("netns", "ls /run/netns")
  add("link", "ls /sys/class/net")
  add("cgroup", "find /sys/fs/cgroup -maxdepth 7 -type d -name 'nslua-*'")
  add("mount", "awk '$5 ~ /^\\/(tmp|run|var\\/tmp)\\// && $5 != \"/run/netns\" {print $5}' /proc/self/mountinfo")
  add("state", "ls /run/nslua | grep -v -e '^ids$' -e '^cache$' -e '\\.lock$'")
  table.sort(t)
  legacy[t] = M.track()
  return t
end
function M.assert_clean(before)
  local t = legacy[before]
  assert(t, "assert_clean: not a helper.host_objects() result")
  return M.assert_released(t)
end
M.assert_clean_shared = M.assert_clean

--- A cgroup of the test's own, "nsluaspec-<pid>-<n>" under this process's
-- cgroup in the hierarchies of 'controllers' (default memory and pids; "unified"
-- is the cgroup2 hierarchy),
-- for commands that make cgroups with names no id log knows (the bench's
-- nslua-bench-<pid>-<n>): they make them under their caller's cgroup, so
-- what is left inside the jail is theirs, whatever other runs do meanwhile.
-- j.enter is a shell prefix that moves the shell into the jail; j.leftovers()
-- lists what is inside; j.remove() takes the jail away (killing what is in it).
function M.cgroup_jail(controllers)
  local cgroup = require "nslua.cgroup"
  local l = assert(cgroup.detect())
  local own = debug.getregistry()["nslua.spec.helper"]
  own.jails = (own.jails or 0) + 1
  local name = ("nsluaspec-%d-%d"):format(require("nslua.core").proc.getpid(), own.jails)
  local j, seen, enter = { dirs = {} }, {}, {}
  for _, c in ipairs(controllers or { "memory", "pids" }) do
    -- "unified": the cgroup2 hierarchy (controller-less on a hybrid host)
    local h = c == "unified" and l.v2 or l.controllers[c]
    if h and not seen[h] then
      seen[h] = true
      local d = h.dir .. (h.dir:sub(-1) == "/" and "" or "/") .. name
      assert(M.sh("mkdir " .. q(d)))
      if h.controllers and h.controllers.cpuset and h.version == 1 then
        for _, f in ipairs { "cpuset.cpus", "cpuset.mems" } do
          assert(M.sh(("cat %s/%s > %s/%s"):format(q(h.dir), f, q(d), f)))
        end
      end
      j.dirs[#j.dirs + 1] = d
      enter[#enter + 1] = ("echo $$ > %s/cgroup.procs"):format(q(d))
    end
  end
  j.enter = #enter > 0 and (table.concat(enter, " && ") .. " && ") or ""
  function j.leftovers()
    local out = {}
    for _, d in ipairs(j.dirs) do
      for _, sub in ipairs(lines_of("find " .. q(d) .. " -mindepth 1 -type d")) do
        out[#out + 1] = "cgroup: " .. sub
      end
    end
    table.sort(out)
    return out
  end
  function j.remove()
    for _, d in ipairs(j.dirs) do
      M.sh(("for p in $(cat $(find %s -name cgroup.procs)); do kill -9 $p; done; "
        .. "find %s -depth -type d -exec rmdir {} + || { sleep 1; find %s -depth -type d -exec rmdir {} +; }")
        :format(q(d), q(d), q(d)))
    end
  end
  return j
end

--- Give a bare cgroup id (cgroup.new without a container) a live state
-- record of this process, as a container has (an older nslua's concurrent
-- `nslua gc` removed nslua-<id> groups that no live record named).
-- Returns a function that removes the record.  Root only (/run/nslua).
function M.hold_id(id)
  local state = require "nslua.state"
  local root = assert(state.root())
  -- the record is alive while its lock is held: keep the fd until release
  local dir, lock = state.create(root, id, { name = "spec-hold", argv = "spec" })
  assert(dir, lock)
  return function()
    state.remove(dir)
    lock:close()
  end
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

-- The --die-with-parent scenarios (run in a private mount namespace): a
-- private /run/nslua; alive() prints the pid of the process whose argv[0]
-- is 'mark'; the caller `sh -c CMD` ('cmd' quoted) runs in the background
-- as $s, its child (nslua) is $l; STARTED once 'mark' runs.
function M.dwp_head(mark, cmd)
  return ([[
mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1
M=%s
alive() {
  for p in /proc/[0-9]*; do
    a=$({ tr '\0' '\n' < $p/cmdline; } 2>/dev/null | head -n1)
    [ "$a" = "$M" ] && { echo ${p#/proc/}; return 0; }
  done
  return 1
}
sh -c %s >/dev/null 2>&1 & s=$!
i=0; until alive >/dev/null || [ $i -ge 200 ]; do sleep 0.05; i=$((i+1)); done
l=$(cat /proc/$s/task/$s/children)
alive >/dev/null && echo STARTED
]]):format(mark, cmd)
end

-- Their end: `nslua gc` there, then the records left ("RECORDS: ...").
function M.dwp_tail(nslua)
  return ([[
%s gc >/dev/null 2>&1
echo "RECORDS: $(ls -A /run/nslua | grep -E '^[a-z0-9]{8}$|^\.[a-z0-9]{8}\.[0-9]+$' | tr '\n' ' ')"
]]):format(nslua or M.nslua)
end

-- A name no other run of the suite uses at the same time.
function M.unique(prefix)
  return ("%s%d%d"):format(prefix, os.time() % 100000, math.random(1 << 20))
end

-- f() polled every 50 ms until it returns a true value (returned), or nil
-- after 'timeout' seconds (default 10).
function M.wait_until(f, timeout)
  local t = 0
  while t < (timeout or 10) do
    local v = f()
    if v then return v end
    M.sleep(0.05)
    t = t + 0.05
  end
  return nil
end

-- The suite's own tracker (every id of the run) and the host's forwarding
-- sysctls when it started: checked when the suite ends (above).
if S.logdir and not S.suite_check then
  local t = M.track {}
  t.offset = 0
  local function sysctls()
    return ("ip_forward=%s ipv6.all.forwarding=%s"):format(
      (M.read("/proc/sys/net/ipv4/ip_forward") or "?"):gsub("%s+$", ""),
      (M.read("/proc/sys/net/ipv6/conf/all/forwarding") or "?"):gsub("%s+$", ""))
  end
  local before = sysctls()
  S.suite_check = function()
    local left = M.leftovers(t)
    local now = sysctls()
    if now ~= before then left[#left + 1] = ("sysctl: %s (was %s)"):format(now, before) end
    return left
  end
end

return M
