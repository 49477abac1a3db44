-- The tutorial's five experiments, run as recipes through scripts/nslua.
local helper = require "helper"

local function run(name)
  return helper.sh(helper.nslua .. " " .. name)
end

describe("tutorial recipes", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("tutorial-pid: PID 1 and parent 0 inside, the real parent outside #priv", function()
    local ok, out = run("tutorial-pid")
    assert.is_true(ok, out)
    assert.matches("with CLONE_NEWPID:    child pid 1, parent pid 0", out, 1, true)
    local c, d, me, host = out:match(
      "without CLONE_NEWPID: child pid (%d+), parent pid (%d+) %(this process is (%d+), the child (%d+)%)")
    assert.equal(c, host)
    assert.equal(d, me)
  end)

  it("tutorial-net: the child sees only lo, DOWN; the parent sees its own", function()
    local ok, out = run("tutorial-net")
    assert.is_true(ok, out)
    assert.matches("child sees:  lo(DOWN)\n", out, 1, true)
    local parent = out:match("parent sees: ([^\n]*)")
    assert.is_truthy(parent)
    assert.matches("lo%(UP%)", parent)
  end)

  it("tutorial-mount: /proc and a tmpfs only in the child's namespace", function()
    -- its own objects: the dir /tmp/nslua-tutorial-<pid> (named by the
    -- recipe's pid, printed first here) and the child's /proc mount, which
    -- must stay in the child's namespace
    tracker = helper.track { points = { "/proc" } }
    local ok, out = helper.sh("sh -c " .. helper.quote("echo pid $$; exec " .. helper.nslua .. " tutorial-mount"))
    local pid = out:match("^pid (%d+)\n")
    assert.is_truthy(pid, out)
    local dir = "/tmp/nslua-tutorial-" .. pid
    tracker.paths, tracker.gone = { dir }, { dir }
    assert.is_true(ok, out)
    assert.matches("child mounted: tmpfs proc", out, 1, true)
    assert.matches("parent sees the tmpfs: false", out, 1, true)
  end)

  it("tutorial-uts: the hostname changes only inside", function()
    local host = helper.read("/proc/sys/kernel/hostname")
    local ok, out = run("tutorial-uts")
    assert.is_true(ok, out)
    assert.matches("child's hostname:  nslua-tutorial", out, 1, true)
    assert.equal(host, helper.read("/proc/sys/kernel/hostname"))
  end)

  it("tutorial-socket: the socket pair outlives the child's unshare", function()
    local ok, out = run("tutorial-socket")
    assert.is_true(ok, out)
    assert.matches("child (in a new netns) got 'hello from the parent'", out, 1, true)
  end)

  it("runs a recipe file by path with arg set like lua5.4's", function()
    local dir = helper.tmpdir()
    local f = assert(io.open(dir .. "/args.lua", "w"))
    f:write("print(arg[0], arg[1], arg[2], select('#', ...)) return 7\n")
    f:close()
    local ok, out, code = helper.sh(helper.nslua .. " " .. dir .. "/args.lua a b")
    helper.rmtree(dir)
    assert.is_false(ok)
    assert.equal(7, code)
    assert.equal(dir .. "/args.lua\ta\tb\t2\n", out)
  end)
end)
