-- spec/support/bwdiff.lua - differential runs of one bwrap command line
-- under /usr/bin/bwrap and under `nslua bwrap`, and the normalized
-- observations to compare (spec/cli/bwrap_spec.lua).
--
-- A case is a shell script in which $BW is the tool (word-split: the nslua
-- one is "lua5.4 .../scripts/nslua bwrap") and {D} a fresh directory of the
-- test's own (the same path for both tools, emptied and set up again before
-- each run; owned by the test user in rootless runs).  The script runs
-- under `env -i` (PATH, HOME=/, LANG=C, the spec id log variables) in {D},
-- as root or, rootless, entirely as the test user.  Its stdout is cut in
-- sections by lines "@@name": sections "mounts" (a mountinfo), "ns"
-- (lines "NAME nsid"), "env" (an `env` listing) and "json" (a JSON fd's
-- content) are normalized; the rest is compared as is.
local helper = require "helper"
local q = helper.quote

local M = {}

M.BWRAP = "/usr/bin/bwrap"
M.have_bwrap = helper.exists(M.BWRAP)

-- bubblewrap's version (0.8.0 -> 8): options newer than the installed one
-- are checked against their documented behaviour only
do
  M.minor = 0
  if M.have_bwrap then
    local f = io.popen(M.BWRAP .. " --version 2>/dev/null")
    local v = f:read("a") or ""
    f:close()
    M.minor = tonumber(v:match("bubblewrap 0%.(%d+)")) or 0
  end
end

-- the caller's namespaces: a sandbox's is "host" when it is the same
M.host_ns = {}
for _, n in ipairs({ "cgroup", "ipc", "mnt", "net", "pid", "user", "uts" }) do
  local f = io.popen("readlink /proc/self/ns/" .. n)
  M.host_ns[n] = f:read("l")
  f:close()
end

-- The standard probe: ids, cwd, hostname, namespaces, mounts, environment.
M.PROBE = table.concat({
  "echo @@ids; id -u; id -g; id -G",
  "echo @@pwd; pwd",
  "echo @@uname; uname -n",
  "echo @@ns; for n in cgroup ipc mnt net pid user uts; do echo $n $(readlink /proc/self/ns/$n); done",
  "echo @@mounts; cat /proc/self/mountinfo",
  "echo @@env; env",
  "echo @@end",
}, "\n")

local function unescape(s)
  return (s:gsub("\\(%d%d%d)", function(o) return string.char(tonumber(o, 8)) end))
end

local function under(path, dir)
  return path == dir or path:sub(1, #dir + 1) == dir .. "/"
end

-- The host's mount points now (for mounts a `--bind / /` mirrors: other
-- runs on the machine add and remove them under /tmp, /run, /var/tmp).
local function host_points()
  local t = {}
  for line in (helper.read("/proc/self/mountinfo") or ""):gmatch("[^\n]+") do
    local mp = line:match("^%S+ %S+ %S+ %S+ (%S+)")
    if mp then t[unescape(mp)] = true end
  end
  return t
end

-- A mountinfo reduced to what is visible: "mountpoint fstype ro|rw", sorted.
-- A mount hides the earlier ones at or under its point; host mounts under
-- /tmp /run /var/tmp that are not the test's own are dropped.
local function norm_mounts(text, ctx)
  local list, n = {}, 0
  for line in text:gmatch("[^\n]+") do
    n = n + 1
    -- ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER
    local mp, opts, fstype = line:match("^%S+ %S+ %S+ %S+ (%S+) (%S+).- %- (%S+)")
    if mp then
      mp = unescape(mp)
      local keep = {}
      for _, e in ipairs(list) do
        if not under(e.mp, mp) then keep[#keep + 1] = e end
      end
      list = keep
      list[#list + 1] = { mp = mp, fs = fstype, ro = opts:match("^ro") and "ro" or "rw" }
    else
      -- (not a mount line: the probe's own error, compared as is)
      list[#list + 1] = { mp = line, fs = "?", ro = "?" }
    end
  end
  assert(n == 0 or #list > 0, "mountinfo normalized to nothing")
  local out = {}
  for _, e in ipairs(list) do
    local volatile = (e.mp:match("^/tmp/") or e.mp:match("^/run/") or e.mp:match("^/var/tmp/"))
      and not under(e.mp, ctx.dir) and ctx.hostmp[e.mp]
    if not volatile then out[#out + 1] = e.mp .. " " .. e.fs .. " " .. e.ro end
  end
  table.sort(out)
  return out
end

local function norm_ns(text)
  local out = {}
  for n, id in text:gmatch("(%S+) ?(%S*)\n") do
    out[#out + 1] = n .. " " .. (id == "" and "none" or id == M.host_ns[n] and "host" or "new")
  end
  return out
end

-- (BW: the tool itself)
local DROP_ENV = { ["_"] = true, SHLVL = true, OLDPWD = true, BW = true }
local function norm_env(text)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    local k = line:match("^([^=]+)=")
    if k and not DROP_ENV[k] then out[#out + 1] = line end
  end
  table.sort(out)
  return out
end

-- JSON from --info-fd/--json-status-fd: per object its keys, sorted, with
-- the values of "exit-code" (numbers elsewhere are pids and ns ids).
local function norm_json(text)
  local out = {}
  for obj in text:gmatch("%b{}") do
    local keys = {}
    for k, v in obj:gmatch('"([^"]+)"%s*:%s*([^,}%s]+)') do
      keys[#keys + 1] = k == "exit-code" and (k .. "=" .. v) or k
    end
    table.sort(keys)
    out[#out + 1] = "{" .. table.concat(keys, " ") .. "}"
  end
  return out
end

local NORM = { mounts = norm_mounts, ns = norm_ns, env = norm_env, json = norm_json }

function M.normalize(stdout, ctx)
  local res, cur, buf = {}, "out", {}
  local function flush()
    local text = table.concat(buf)
    if NORM[cur] then
      res[cur] = NORM[cur](text, ctx)
    else
      res[cur] = (res[cur] or "") .. text
    end
    buf = {}
  end
  for line in stdout:gmatch("[^\n]*\n?") do
    if line == "" then break end
    local sec = line:match("^@@(%w+)\n?$")
    if sec then
      flush()
      cur = sec
    else
      buf[#buf + 1] = line
    end
  end
  flush()
  res["end"] = nil
  return res
end

-- The tool command for 'tool' ("bwrap" or "nslua") in 'mode'.
-- (BWDIFF_NSLUA=CMD puts CMD in nslua's place: with /usr/bin/bwrap, a run
-- that checks the harness itself, every case must pass)
function M.tool(tool, mode)
  if tool == "bwrap" then return M.BWRAP end
  if os.getenv("BWDIFF_NSLUA") then return os.getenv("BWDIFF_NSLUA") end
  local top = mode == "rootless" and helper.rootless_tree() or helper.root
  return helper.LUA .. " " .. top .. "/scripts/nslua bwrap"
end

local function fill(s, D)
  return (s:gsub("{D}", function() return D end))
end

-- Run case c with 'tool' in 'mode' ("root" | "rootless"); D the case's dir,
-- O a dir for the fd files.  Returns { rc, out, err, obs }.
function M.run(c, tool, mode, D, O)
  os.execute("rm -rf " .. q(D) .. " && mkdir -m 0755 " .. q(D))
  if c.setup then
    local ok, out = helper.sh("cd " .. q(D) .. " && " .. fill(c.setup, D))
    assert(ok, "case setup failed: " .. out)
  end
  if mode == "rootless" then os.execute("chown -R 4242:4242 " .. q(D)) end
  local redir = {}
  for fd, content in pairs(c.fds or {}) do
    local path = ("%s/fd%d"):format(O, fd)
    local f = assert(io.open(path, "wb"))
    f:write(type(content) == "function" and content(D) or fill(content, D))
    f:close()
    redir[#redir + 1] = ("%d<%s"):format(fd, q(path))
  end
  local script = fill(c.sh, D)
  local prefix = mode == "rootless" and (helper.SETPRIV .. " ") or ""
  local line = ("cd %s && timeout -k 2 30 %s HOME=%s LANG=C BW=%s %s%s/bin/sh -c %s >%s/out 2>%s/err %s; echo $?")
    :format(q(D), helper.ENV_I, q(c.home or "/"), q(M.tool(tool, mode)),
      c.env and (c.env .. " ") or "", prefix, q(script), q(O), q(O),
      table.concat(redir, " "))
  local _, status = helper.sh(line)
  local r = { rc = tonumber(status:match("(%d+)%s*$")), out = helper.read(O .. "/out") or "",
              err = helper.read(O .. "/err") or "" }
  return r
end

-- nslua's deliberate difference (docs/bwrap.md): Docker's /proc and /sys
-- masks (masked paths) and read-only paths wherever a proc or sysfs shows,
-- and the mask of its state directory wherever a bind shows it.
-- An nslua mount at one of these points that bubblewrap does not have is
-- dropped, and a mount at or below a read-only path that is ro where
-- bubblewrap's is rw counts as bubblewrap's; nothing else is excused.
local MASKED = {}
for _, p in ipairs({ "/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
  "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
  "/sys/firmware", "/sys/devices/virtual/powercap" }) do MASKED[p] = true end
-- and nslua's own state directory, root's and the rootless test user's
MASKED["/run/nslua"] = true
MASKED[("/tmp/nslua-%d"):format(helper.ROOTLESS_UID)] = true
local READONLY = {}
for _, p in ipairs({ "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", "/sys" }) do
  READONLY[p] = true
end
local function masked(mp)
  return MASKED[mp] or READONLY[mp] or mp:match("^/sys/devices/system/cpu/cpu%d+/thermal_throttle$")
end

-- (the read-only paths are read-only with what is mounted below them)
local function ro_point(mp)
  for p in pairs(READONLY) do
    if under(mp, p) then return true end
  end
  return false
end

function M.excuse_masks(bm, nm)
  local by_mp = {}
  for _, line in ipairs(bm) do by_mp[line:match("^(%S+)")] = line end
  local out = {}
  for _, line in ipairs(nm) do
    local mp, rest = line:match("^(%S+) (.*)$")
    if not (mp and masked(mp) and not by_mp[mp]) then
      if mp and ro_point(mp) and by_mp[mp] and rest:match(" ro$") and by_mp[mp]:match(" rw$") then
        line = by_mp[mp]
      end
      out[#out + 1] = line
    end
  end
  return out
end

--- Run c under both tools; returns the two results with .obs, the
-- normalized observations to compare.
function M.both(c, mode, D, O)
  local ctx = { dir = D, hostmp = host_points() }
  local b = M.run(c, "bwrap", mode, D, O)
  local n = M.run(c, "nslua", mode, D, O)
  for p in pairs(host_points()) do ctx.hostmp[p] = true end
  for _, r in ipairs({ b, n }) do
    r.obs = M.normalize(r.out, ctx)
    r.obs.rc = r.rc
    if c.stderr then r.obs.stderr = c.stderr(r.err) end
  end
  if b.obs.mounts and n.obs.mounts then n.obs.mounts = M.excuse_masks(b.obs.mounts, n.obs.mounts) end
  return b, n
end

--- What differs between two observations, for a failure message: per
-- key, the lines only one side has (lists) or both values.
function M.diff(b, n)
  local keys, out = {}, {}
  for k in pairs(b) do keys[#keys + 1] = k end
  for k in pairs(n) do if b[k] == nil then keys[#keys + 1] = k end end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(keys) do
    local x, y = b[k], n[k]
    if type(x) == "table" and type(y) == "table" then
      local in_x, in_y = {}, {}
      for _, v in ipairs(x) do in_x[v] = (in_x[v] or 0) + 1 end
      for _, v in ipairs(y) do in_y[v] = (in_y[v] or 0) + 1 end
      for _, v in ipairs(x) do
        if (in_y[v] or 0) < in_x[v] then out[#out + 1] = ("%s: bwrap only: %s"):format(k, v); in_y[v] = in_x[v] end
      end
      for _, v in ipairs(y) do
        if (in_x[v] or 0) < in_y[v] then out[#out + 1] = ("%s: nslua only: %s"):format(k, v); in_x[v] = in_y[v] end
      end
    elseif x ~= y then
      out[#out + 1] = ("%s: bwrap %q, nslua %q"):format(k, tostring(x), tostring(y))
    end
  end
  return table.concat(out, "\n")
end

return M
