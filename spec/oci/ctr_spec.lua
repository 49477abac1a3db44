-- containerd 1.6 driving the OCI runtime under test (NSLUA_OCI_RUNTIME,
-- else build/bin/nslua-oci) through its runc shim (io.containerd.runc.v2),
-- `ctr run --runc-binary PATH`: run --rm, exit codes, run -d + task exec
-- + task kill + task delete + container delete.  The test starts its own
-- containerd (root, state, sockets, config, runc root, fifos under the
-- test's temp dir; no CRI plugin; the native snapshotter; a private /run:
-- spec/support/oci.lua) with a namespace of its own, imports a busybox
-- image built here as an OCI layout (nothing pulled, no network: ctr
-- gives the container none), and stops containerd by its pid at the end.
local helper = require "helper"
local oci = require "support.oci"
local q = helper.quote

describe("containerd (ctr) with the OCI runtime", function()
  local RUNTIME, why = oci.for_spec(helper, { "containerd", "ctr" }, "needs root: containerd runs as root")
  if not RUNTIME then
    pending(why)
    return
  end

  local T, pid, NS, C, R
  local IMAGE = oci.IMAGE
  local function ctr(args)
    return helper.sh(C .. " " .. args)
  end
  -- a task's state: "RUNNING", "STOPPED", ... or nil when it has none
  local function status(id)
    local _, out = ctr("task ls")
    return out:match("\n" .. id .. "%s+%d+%s+(%u+)")
  end
  -- containerd itself is the one process under T that may live
  local function others_under_T()
    local out = {}
    for _, p in ipairs(oci.procs_under(T)) do
      if tonumber(p:match("^(%d+)")) ~= pid then out[#out + 1] = p end
    end
    return out
  end

  setup(function()
    T = helper.tmpdir("0755")
    oci.oci_archive(helper.root, T, T .. "/image.tar")
    local err
    pid, err = oci.containerd_start(T)
    assert(pid, err)
    NS = helper.unique("nsluaspec")
    C = ("ctr -a %s -n %s"):format(q(T .. "/c.sock"), NS)
    R = ("--runc-binary %s --runc-root %s --snapshotter native --fifo-dir %s")
      :format(q(RUNTIME), q(T .. "/runc"), q(T .. "/fifo"))
    local ok, out = ctr("images import --snapshotter native " .. q(T .. "/image.tar"))
    assert(ok, out)
  end)

  teardown(function()
    if not T then return end
    if pid then
      local _, out = ctr("task ls -q")
      for id in out:gmatch("%S+") do ctr("task kill -s KILL " .. id) ctr("task delete -f " .. id) end
      _, out = ctr("containers ls -q")
      for id in out:gmatch("%S+") do ctr("containers delete " .. id) end
      oci.containerd_stop(pid)
    end
    if NS then
      for _, p in ipairs(oci.cgroup_procs("/" .. NS)) do os.execute("kill -9 " .. p) end
      oci.cgroup_remove("/" .. NS)
    end
    helper.rmtree(T)
    -- (vfs layers and overlay-less snapshots are plain files: rm -rf takes all)
    assert(not helper.exists(T), "the test's dir is still there: " .. T)
  end)

  local tracker
  before_each(function() tracker = helper.track({ paths = { T } }) end)
  after_each(function()
    helper.assert_released(tracker)
    assert.are.same({}, others_under_T())
    if not pid then return end  -- the last test stopped containerd
    -- what a failed test left is removed (and reported) here, so that the
    -- next test starts clean
    local ok, tasks = ctr("task ls -q")
    assert.is_true(ok, tasks)
    for id in tasks:gmatch("%S+") do ctr("task kill -s KILL " .. id) ctr("task delete -f " .. id) end
    local containers
    ok, containers = ctr("containers ls -q")
    assert.is_true(ok, containers)
    for id in containers:gmatch("%S+") do ctr("containers delete " .. id) end
    assert.equal("", tasks, "tasks left")
    assert.equal("", containers, "containers left")
    -- the rootfs mounts of its tasks are in containerd's namespace
    assert.are.same({}, oci.mounts_of(pid, T))
  end)

  it("runs a command: ctr run --rm IMAGE id echo hi", function()
    local id = helper.unique("t")
    local ok, out, code = ctr(("run --rm %s %s %s echo hi"):format(R, IMAGE, id))
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.equal("hi\n", out)
  end)

  it("passes the exit code on", function()
    local id = helper.unique("t")
    local ok, out, code = ctr(("run --rm %s %s %s sh -c 'exit 3'"):format(R, IMAGE, id))
    assert.is_false(ok)
    assert.equal(3, code, out)
  end)

  it("runs detached, execs into it, kills and deletes it", function()
    local id = helper.unique("t")
    local ok, out = ctr(("run -d %s %s %s sh -c 'trap \"exit 7\" TERM; sleep 100 & wait'"):format(R, IMAGE, id))
    assert.is_true(ok, out)
    assert.equal("RUNNING", helper.wait_until(function() return status(id) == "RUNNING" and "RUNNING" end))
    ok, out = ctr(("task exec --fifo-dir %s --exec-id e1 %s sh -c 'echo in $(cat /proc/1/cmdline | tr \"\\0\" \" \")'")
      :format(q(T .. "/fifo"), id))
    assert.is_true(ok, out)
    assert.matches("^in sh %-c trap", out)
    local code
    ok, out, code = ctr(("task exec --fifo-dir %s --exec-id e2 %s sh -c 'exit 4'"):format(q(T .. "/fifo"), id))
    assert.is_false(ok, out)
    assert.equal(4, code, out)
    ok, out = ctr("task kill " .. id)
    assert.is_true(ok, out)
    assert.equal("STOPPED", helper.wait_until(function() return status(id) == "STOPPED" and "STOPPED" end))
    -- the trap's exit code, as the shim saw it
    ok, out = ctr("task delete " .. id)
    assert.is_true(ok, out)
    assert.matches("exit code 7", out, 1, true)
    ok, out = ctr("containers delete " .. id)
    assert.is_true(ok, out)
  end)

  it("leaves no task, snapshot, process, mount or cgroup behind", function()
    local ok, out = ctr("images rm --sync " .. IMAGE)
    assert.is_true(ok, out)
    ok, out = helper.sh(("ctr -a %s namespaces rm %s"):format(q(T .. "/c.sock"), NS))
    assert.is_true(ok, out)
    assert.is_true(oci.containerd_stop(pid))
    pid = nil
    assert.are.same({}, oci.procs_under(T))
    assert.are.same({}, oci.mounts_under(T))
    assert.are.same({}, oci.cgroup_procs("/" .. NS))
    assert.are.same({}, oci.cgroup_remove("/" .. NS))
    assert.are.same({}, oci.cgroup_dirs("/" .. NS))
  end)
end)
