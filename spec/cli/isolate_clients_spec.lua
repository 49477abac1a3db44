-- `nslua isolate` driven the way two real isolate clients drive isolate: a
-- CMS-like and a Judge0-like session (spec/support/isolate_clients.lua),
-- with and without --cg, each case checked against what real isolate 2.6
-- gives (the reference in that file, measured as docs/isolate-reference.md
-- tells), and nothing left behind: box dirs, processes of the box user,
-- cgroups, mounts.
local helper = require "helper"
local C = require "support.isolate_clients"

local FRONT = helper.root .. "/lua/nslua/cli/isolate.lua"

local function sh_ok(cmd)
  return os.execute(cmd .. " >/dev/null 2>&1") == true
end

-- isolate_first_uid from /etc/nslua.conf (default 60000)
local function first_uid()
  local uid = 60000
  for line in (helper.read("/etc/nslua.conf") or ""):gmatch("[^\n]+") do
    local v = line:match("^%s*isolate_first_uid%s*=%s*(%d+)%s*$")
    if v then uid = tonumber(v) end
  end
  return uid
end

-- pids whose real, effective, saved or fs uid is 'uid'
local function procs_of(uid)
  local out = {}
  local f = io.popen("ls /proc")
  for name in f:lines() do
    if name:match("^%d+$") then
      local st = helper.read("/proc/" .. name .. "/status") or ""
      local ids = st:match("\nUid:%s*([^\n]*)")
      for id in (ids or ""):gmatch("%d+") do
        if tonumber(id) == uid then out[#out + 1] = name break end
      end
    end
  end
  f:close()
  return out
end

-- cgroup dirs named after box 'box' (isolate's own name is box-<id>)
local function box_cgroups(box)
  local out = {}
  local f = io.popen("find /sys/fs/cgroup -maxdepth 6 -type d 2>/dev/null")
  for d in f:lines() do
    local base = d:match("[^/]+$") or ""
    if base == "box-" .. box or base == tostring(box) or base:match("^isolate.*%-" .. box .. "$") then
      out[#out + 1] = d
    end
  end
  f:close()
  table.sort(out)
  return out
end

describe("nslua isolate under a CMS-like and a Judge0-like client", function()
  if not helper.exists(FRONT) then
    pending("lua/nslua/cli/isolate.lua is missing: the `nslua isolate` front end has not landed")
    return
  end
  if not helper.is_root() then
    pending("needs root: both clients run isolate as root (setuid)")
    return
  end
  if not sh_ok("command -v gcc") then
    pending("needs gcc: the clients compile their programs inside the box")
    return
  end

  math.randomseed(os.time())
  local base = 900 + 4 * math.random(0, 24)
  local n = 0
  for _, cg in ipairs({ false, true }) do
    for _, client in ipairs({ "cms", "judge0" }) do
      local box = base + n
      n = n + 1
      local title = client .. (cg and " --cg" or "")
      -- CMS compiles with --full-env: under `make sanitize` that hands the
      -- ASan preload (detect_leaks=1) to gcc, which then fails on its leaks
      if client == "cms" and helper.sanitized then
        pending(title .. ": its --full-env compile would run gcc under the sanitizer preload")
      else
        describe(title, function()
          local S, root, t, cgroups_before, uid
          setup(function()
            root = helper.tmpdir("0755")
            t = helper.track({ paths = { root } })
            cgroups_before = box_cgroups(box)
            uid = first_uid() + box
            local prefix = { "env", "NSLUA_ISOLATE_ROOT=" .. root }
            if helper.IDLOG then
              prefix[#prefix + 1] = "LUA_INIT_5_4=" .. helper.LUA_INIT
              prefix[#prefix + 1] = "NSLUA_SPEC_IDLOG=" .. helper.IDLOG
            end
            if helper.san_preload then
              prefix[#prefix + 1] = "LD_PRELOAD=" .. helper.san_preload
              prefix[#prefix + 1] = "ASAN_OPTIONS=" .. (os.getenv("ASAN_OPTIONS") or "")
              prefix[#prefix + 1] = "UBSAN_OPTIONS=" .. (os.getenv("UBSAN_OPTIONS") or "")
            end
            prefix[#prefix + 1] = helper.root .. "/scripts/nslua"
            prefix[#prefix + 1] = "isolate"
            S = C[client](prefix, { cg = cg, box = box })
          end)

          teardown(function()
            if not root then return end
            -- a box a failed run left (never the default root: the env names ours)
            if helper.exists(("%s/%d"):format(root, box)) then
              local cmd = "env NSLUA_ISOLATE_ROOT=%s %s/scripts/nslua isolate %s-b %d --cleanup >/dev/null 2>&1"
              os.execute(cmd:format(helper.quote(root), helper.quote(helper.root), cg and "--cg " or "", box))
            end
            helper.rmtree(root)
          end)

          for _, c in ipairs(C.CASES) do
            if not c.only or c.only == client then
              it(c.name .. " as real isolate", function()
                assert.are.same({}, C.check_case(S, c.name, { root = root }))
              end)
            end
          end

          it("leaves no box dir, process, cgroup or mount behind", function()
            local left = {}
            for _, name in ipairs(helper.leftovers(t)) do left[#left + 1] = name end
            if helper.exists(("%s/%d"):format(root, box)) then left[#left + 1] = "box dir " .. root .. "/" .. box end
            for _, p in ipairs(procs_of(uid)) do left[#left + 1] = ("process %s of uid %d"):format(p, uid) end
            local before = {}
            for _, d in ipairs(cgroups_before) do before[d] = true end
            for _, d in ipairs(box_cgroups(box)) do
              if not before[d] then left[#left + 1] = "cgroup " .. d end
            end
            assert.are.same({}, left)
          end)
        end)
      end
    end
  end
end)
