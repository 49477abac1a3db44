-- spec/cli/gc_spec.lua - `nslua gc` acts on what records name: a cgroup no
-- record names (its record may live in another mount namespace's /run) is
-- never killed, only removed once it is empty (DESIGN "State").
local helper = require "helper"
local state = require "nslua.state"

describe("nslua gc", function()
  it("never kills the members of an nslua-<id> cgroup no record names #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local layout = require("nslua.cgroup").detect()
    local pids
    for _, h in ipairs(layout and layout.hierarchies or {}) do
      if h.controllers.pids and h.version == 1 then pids = h.dir end
    end
    if not pids then return pending("no v1 pids hierarchy here") end
    local id = state.new_id()
    local dir = pids .. "/nslua-" .. id
    assert(helper.sh("mkdir " .. dir))
    -- a member: a sleep of ours
    local ok, pid = helper.sh(("sh -c 'echo $$ > %s/cgroup.procs; exec sleep 30' >/dev/null 2>&1 & echo $!")
      :format(dir))
    assert.is_true(ok, pid)
    pid = tonumber(pid:match("%d+"))
    local joined
    for _ = 1, 100 do
      joined = (helper.read(dir .. "/cgroup.procs") or ""):match("%d")
      if joined then break end
      helper.sleep(0.02)
    end
    local out
    ok, out = helper.sh(helper.nslua .. " gc")
    local alive, exists = helper.pid_alive(pid), helper.exists(dir)
    os.execute("kill -KILL " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not helper.pid_alive(pid) then break end
      helper.sleep(0.02)
    end
    assert.is_true(ok, out)
    assert.is_truthy(joined, "the member never joined")
    assert.is_true(alive, "gc killed a member of a cgroup no record names")
    assert.is_true(exists, "gc removed a non-empty cgroup no record names")
    -- once empty, gc removes it
    ok, out = helper.sh(helper.nslua .. " gc")
    assert.is_true(ok, out)
    if helper.exists(dir) then os.execute("rmdir " .. dir) end
    assert.matches("removed cgroup " .. dir, out, 1, true)
  end)
end)
