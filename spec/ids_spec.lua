-- spec/ids_spec.lua: nslua.ids's checks of user.host_uid/host_gid (pure
-- Lua: a temporary subuid file, a config table).
local helper = require "helper"
local ids = require "nslua.ids"

describe("nslua.ids.check_host_id", function()
  local cfg = { base = 1 << 30, slots = 4 }
  local dir, file
  before_each(function()
    dir = helper.tmpdir()
    file = dir .. "/subuid"
    local f = assert(io.open(file, "w"))
    f:write("# comment\nalice:100000:65536\n1001:300000:10\n")
    f:close()
  end)
  after_each(function() helper.rmtree(dir) end)

  it("takes an id outside the slots and every subordinate range", function()
    for _, id in ipairs { 1, 60007, 99999, 165536, 299999, 300010, (1 << 30) - 1, (1 << 30) + 4 * 65536 } do
      assert.is_true(ids.check_host_id("user.host_uid", id, file, cfg), tostring(id))
    end
  end)

  it("refuses host root, a slot's id and a delegated id, naming the field", function()
    assert.same({ nil, "user.host_uid: must not be 0 (host root)" },
      { ids.check_host_id("user.host_uid", 0, file, cfg) })
    for _, id in ipairs { 1 << 30, (1 << 30) + 4 * 65536 - 1 } do
      assert.same({ nil, ("user.host_gid: %d is inside nslua's id slots 1073741824..1074003967 "
        .. "(id_base and id_slots in /etc/nslua.conf)"):format(id) },
        { ids.check_host_id("user.host_gid", id, file, cfg) })
    end
    assert.same({ nil, ("user.host_uid: 100000 is inside alice's range 100000:65536 in %s"):format(file) },
      { ids.check_host_id("user.host_uid", 100000, file, cfg) })
    assert.same({ nil, ("user.host_uid: 300009 is inside 1001's range 300000:10 in %s"):format(file) },
      { ids.check_host_id("user.host_uid", 300009, file, cfg) })
    -- a missing file delegates nothing
    assert.is_true(ids.check_host_id("user.host_uid", 100000, dir .. "/none", cfg))
  end)

  it("check_host_ids: rootless, only the caller's own ids", function()
    assert.is_true(ids.check_host_ids({ uid = 1, gid = 1 }, { uid = 4242, gid = 4243 }))
    assert.is_true(ids.check_host_ids("host", { uid = 4242, gid = 4243 }))
    assert.is_true(ids.check_host_ids({ host_uid = 4242, host_gid = 4243 }, { uid = 4242, gid = 4243 }))
    assert.same({ nil, "user.host_gid: rootless, the payload's gid maps to the caller's own (4243), not 4242" },
      { ids.check_host_ids({ host_uid = 4242, host_gid = 4242 }, { uid = 4242, gid = 4243 }) })
  end)
end)
