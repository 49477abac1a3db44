-- spec/state_spec.lua - state records: create, update, remove.
local helper = require "spec.helper"
local state = require "nslua.state"
local mount = require("nslua.core").mount

describe("nslua.state", function()
  local root

  before_each(function()
    root = helper.tmpdir("0700")
  end)

  after_each(function()
    helper.rmtree(root)
    assert.is_false(helper.exists(root))
  end)

  local function names(dir)
    local t = mount.readdir(dir) or {}
    table.sort(t)
    return table.concat(t, " ")
  end

  it("keeps seccomp programs whole, and reads back only a whole file of as many", function()
    local a, b, c = ("A"):rep(16), ("B"):rep(8), ("C"):rep(24)
    local p = { main = a, layers = { b }, bpf = { c, a }, notify = b, listener = true }
    assert.equal(5, state.count_programs(p))
    assert.is_true(state.write_programs(root, p))
    local got = assert(state.read_programs(root, 5))
    assert.same({ main = a, layers = { b }, bpf = { c, a }, notify = b, listener = true }, got)
    assert.is_nil(state.read_programs(root .. "/none"))
    local whole = helper.read(root .. "/" .. state.PROGRAMS)
    local function bad(text, count)
      local f = assert(io.open(root .. "/" .. state.PROGRAMS, "w"))
      f:write(text)
      f:close()
      local r, err = state.read_programs(root, count)
      assert.is_nil(r, text)
      assert.is_string(err, text)
    end
    bad(whole, 4)                                          -- the record says another count
    bad((whole:gsub("end\n$", "")), 5)                      -- cut at a program's end
    bad(whole:sub(1, 40))                                  -- cut inside one
    bad("nslua-seccomp 1\nend\n")                          -- no program at all
    bad("nslua-seccomp 1\nmain 99999999999999999999\nend\n")  -- a length past any file
    bad("nslua-seccomp 1\nmain 0\n\nend\n")                -- an empty program
    bad("nslua-seccomp 1\nmain 8\nAAAAAAAA\nnotify 8\nBBBBBBBB\nend\n")  -- notify for nobody
    bad(whole .. "main 8\nAAAAAAAA\n")                      -- more after the end
    bad("nslua-seccomp 2\n")
    state.remove(root)
    assert.is_false(helper.exists(root))
  end)

  it("update merges fields into the whole record and leaves nothing aside", function()
    local dir, lock = assert(state.create(root, "abcd1234", { name = "n", argv = "/bin/true", links = "" }))
    assert.equal(root .. "/abcd1234", dir)
    assert.equal("info lock", names(dir))
    assert.is_true(state.update(dir, { init_pid = 12, env = { "A=1", "B=2" } }))
    assert.is_true(state.update(dir, { detached = 1, name = "m" }))
    assert.equal("info lock", names(dir))
    local info = state.decode(helper.read(dir .. "/info"))
    assert.equal("m", info.name)
    assert.equal("/bin/true", info.argv)
    assert.equal(12, info.init_pid)
    assert.equal(1, info.detached)
    assert.equal("A=1\tB=2", info.env)
    assert.equal(state.owner().pid, info.owner_pid)
    -- a record the owner holds is alive; removed, it is gone
    local recs = state.list(root)
    assert.equal(1, #recs)
    assert.is_true(recs[1].alive)
    assert.is_true(state.remove(dir))
    lock:close()
    assert.equal("", names(root))
  end)

  it("forward_dir names the caller's network namespace under a directory", function()
    local ino = assert(mount.readlink("/proc/thread-self/ns/net")):match("^net:%[(%d+)%]$")
    assert.equal(root .. "/forward-" .. ino, state.forward_dir(root))
    assert.equal(state.forward_dir(state.ROOT), require("nslua.net").forward_dir())
  end)

  it("update writes a record whose info file is missing", function()
    local dir, lock = assert(state.create(root, "abcd5678", { argv = "x" }))
    assert.is_true(mount.unlink(dir .. "/info"))
    assert.is_true(state.update(dir, { init_pid = 7 }))
    assert.equal("info lock", names(dir))
    assert.equal(7, state.decode(helper.read(dir .. "/info")).init_pid)
    assert.is_true(state.remove(dir))
    lock:close()
  end)
end)
