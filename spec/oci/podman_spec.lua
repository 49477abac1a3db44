-- podman 4.3 driving the OCI runtime under test (NSLUA_OCI_RUNTIME, else
-- build/bin/nslua-oci) through `--runtime PATH`, as a user would: run --rm,
-- exit codes, run -d + exec + stop + rm, --tty, build with a RUN step,
-- env/workdir, --user, --read-only, a volume, and rootless podman.  Every
-- podman call has its own storage and config under the test's temp dir
-- (spec/support/oci.lua: containers.conf, storage.conf), no network, and a
-- cgroup parent of its own; nothing is pulled (the image is imported from
-- a busybox root).  At the end nothing of it may be left: containers,
-- mounts or processes under the temp dir, cgroups under its parent.
local helper = require "helper"
local oci = require "support.oci"
local core = require "nslua.core"
local q = helper.quote

describe("podman with the OCI runtime", function()
  local RUNTIME, why = oci.for_spec(helper, { "podman" },
    "needs root: rootful podman (the rootless case runs as uid 4242 from root)")
  if not RUNTIME then
    pending(why)
    return
  end

  local T, P, parent
  local function podman(args)
    return helper.sh(P .. " " .. args)
  end
  -- a container of the test: no network, nothing pulled, our cgroup parent
  local function run(args)
    return podman(("run --network none --pull=never --cgroup-parent %s %s"):format(q(parent), args))
  end

  setup(function()
    T = helper.tmpdir("0755")
    P = oci.podman_setup(T, RUNTIME)
    parent = oci.cgroup_parent("podman")
    oci.podman_image(helper.root, T, P)
  end)

  teardown(function()
    if not T then return end
    podman("rm -a -f -t 0")
    podman("rmi -a -f")
    for _, p in ipairs(oci.cgroup_procs(parent)) do os.execute("kill -9 " .. p) end
    oci.cgroup_remove(parent)
    helper.rmtree(T)
    -- (vfs layers and overlay-less snapshots are plain files: rm -rf takes all)
    assert(not helper.exists(T), "the test's dir is still there: " .. T)
  end)

  local tracker
  -- (cni-podman0: podman's default bridge on the host, which no test may
  -- make: every container and build runs with --network none)
  before_each(function() tracker = helper.track({ paths = { T }, links = { "cni-podman0" } }) end)
  after_each(function()
    -- the test's containers are gone, and with them their mounts and
    -- conmons; what a failed test left is removed (and reported) here, so
    -- that the next test starts clean
    local _, out = podman("ps -a -q")
    if out:match("%S") then podman("rm -a -f -t 0") end
    assert.equal("", out, "containers left")
    helper.assert_released(tracker)
    -- (a container's conmon outlives `run --rm` and `rm`: it waits for its
    -- exit command, `podman container cleanup`, a podman of its own that
    -- can take seconds on a loaded machine; a conmon that never ends still
    -- fails here)
    helper.wait_until(function() return #oci.procs_under(T) == 0 end, 30)
    assert.are.same({}, oci.procs_under(T))
  end)

  local IMAGE = oci.IMAGE

  it("runs a command: run --rm IMAGE echo hi", function()
    local ok, out, code = run("--rm " .. IMAGE .. " echo hi")
    assert.is_true(ok, out)
    assert.equal(0, code)
    assert.equal("hi\n", out)
  end)

  it("passes the exit code on", function()
    local ok, out, code = run("--rm " .. IMAGE .. " sh -c 'exit 3'")
    assert.is_false(ok)
    assert.equal(3, code, out)
  end)

  it("runs detached, execs into it, stops it with SIGTERM and removes it", function()
    local name = helper.unique("nsluaspec")
    local ok, out = run(("-d --name %s %s sh -c 'trap \"exit 0\" TERM; sleep 100 & wait'"):format(name, IMAGE))
    assert.is_true(ok, out)
    ok, out = podman("exec " .. name .. " sh -c 'echo in $(cat /proc/1/cmdline | tr \"\\0\" \" \")'")
    assert.is_true(ok, out)
    assert.matches("^in sh %-c trap", out)
    local code
    ok, out, code = podman("exec " .. name .. " sh -c 'exit 5'")
    assert.is_false(ok, out)
    assert.equal(5, code, out)
    ok, out = podman("inspect --format '{{.State.Status}}' " .. name)
    assert.is_true(ok, out)
    assert.equal("running\n", out)
    -- the trap answers SIGTERM at once: the stop is not the 10 s SIGKILL
    local t0 = os.time()
    ok, out = podman("stop -t 10 " .. name)
    assert.is_true(ok, out)
    assert.is_true(os.time() - t0 < 8, "stop waited for the SIGKILL")
    ok, out = podman("inspect --format '{{.State.Status}} {{.State.ExitCode}}' " .. name)
    assert.is_true(ok, out)
    assert.equal("exited 0\n", out)
    ok, out = podman("rm " .. name)
    assert.is_true(ok, out)
  end)

  it("gives an exec'd process a terminal with exec -t", function()
    if not oci.which("script") then return pending("script(1) is missing (bsdutils)") end
    local name = helper.unique("nsluaspec")
    local ok, out = run(("-d --name %s %s sleep 100"):format(name, IMAGE))
    assert.is_true(ok, out)
    local inner = P .. (" exec -t %s sh -c %s"):format(name, q("test -t 0 && test -t 1 && echo tty-yes; tty"))
    ok, out = helper.sh(("script -qec %s /dev/null < /dev/null"):format(q(inner)))
    assert.is_true(ok, out)
    assert.matches("tty-yes", out, 1, true)
    assert.matches("/dev/pts/%d+", out)
    ok, out = podman("rm -f -t 0 " .. name)
    assert.is_true(ok, out)
  end)

  it("gives the container a terminal with --tty", function()
    if not oci.which("script") then return pending("script(1) is missing (bsdutils)") end
    local inner = P .. (" run --rm -t --network none --pull=never --cgroup-parent %s %s sh -c %s")
      :format(q(parent), IMAGE, q("test -t 0 && test -t 1 && echo tty-yes; tty"))
    local ok, out = helper.sh(("script -qec %s /dev/null < /dev/null"):format(q(inner)))
    assert.is_true(ok, out)
    assert.matches("tty-yes", out, 1, true)
    assert.matches("/dev/pts/%d+", out)
  end)

  it("builds an image with a RUN step and runs it", function()
    local ctx = T .. "/ctx"
    assert(helper.sh("mkdir -p " .. q(ctx)))
    local f = assert(io.open(ctx .. "/Containerfile", "w"))
    f:write("FROM " .. IMAGE .. "\nRUN echo built > /built\n")
    f:close()
    -- (no --cgroup-parent: buildah would run the step in that very cgroup)
    local ok, out = podman(("build --network none --pull=never -t localhost/nslua-built %s"):format(q(ctx)))
    assert.is_true(ok, out)
    ok, out = run("--rm localhost/nslua-built cat /built")
    assert.is_true(ok, out)
    assert.equal("built\n", out)
    ok, out = podman("rmi localhost/nslua-built")
    assert.is_true(ok, out)
  end)

  it("sets the environment and the working directory", function()
    local ok, out = run("--rm -e A=1 -w /tmp " .. IMAGE .. " sh -c 'echo $A; pwd'")
    assert.is_true(ok, out)
    assert.equal("1\n/tmp\n", out)
  end)

  it("runs as --user 1000:1000", function()
    local ok, out = run("--rm --user 1000:1000 " .. IMAGE .. " sh -c 'id -u; id -g'")
    assert.is_true(ok, out)
    assert.equal("1000\n1000\n", out)
  end)

  it("makes the root read-only with --read-only", function()
    local ok, out = run("--rm --read-only " .. IMAGE .. " sh -c 'touch /x 2>&1; echo rc=$?'")
    assert.is_true(ok, out)
    assert.matches("Read%-only file system", out)
    assert.matches("rc=1", out, 1, true)
  end)

  it("writes through a volume to the host", function()
    local dir = T .. "/dir"
    assert(helper.sh("mkdir -p " .. q(dir)))
    local ok, out = run(("--rm -v %s:/data %s sh -c 'echo written > /data/f'"):format(q(dir), IMAGE))
    assert.is_true(ok, out)
    assert.equal("written\n", helper.read(dir .. "/f"))
  end)

  describe("rootless (uid " .. helper.ROOTLESS_UID .. ")", function()
    local uid = helper.ROOTLESS_UID
    -- live (not zombie) processes whose real uid is 'u' that this test
    -- made: podman's own (they carry its XDG_RUNTIME_DIR, 'xdg') and the
    -- containers' (in the user namespace 'userns' of its pause process).
    -- Other processes of the same uid on the machine are not ours.
    local function procs_of(u, xdg, userns)
      local out = {}
      local f = io.popen("ls /proc")
      for name in f:lines() do
        local st = name:match("^%d+$") and helper.read("/proc/" .. name .. "/status")
        local ruid = st and st:match("\nUid:%s*(%d+)")
        if ruid and tonumber(ruid) == u and not st:match("\nState:%s*Z") then
          local env = helper.read("/proc/" .. name .. "/environ") or ""
          local ns = userns and core.mount.readlink("/proc/" .. name .. "/ns/user")
          if ("\0" .. env):find("\0XDG_RUNTIME_DIR=" .. xdg .. "\0", 1, true) or (ns and ns == userns) then
            out[#out + 1] = name .. " " .. (st:match("^Name:%s*(%S+)") or "")
          end
        end
      end
      f:close()
      return out
    end
    -- Rootless podman needs subordinate ids for the user, and newuidmap
    -- a name for it.  The host's /etc files are never edited: each podman
    -- call runs in a private mount namespace of its own where copies of
    -- /etc/subuid and /etc/subgid that also grant the user 200000:65536
    -- (and of /etc/passwd and /etc/group that name it, when the host does
    -- not) are bound over the originals (newuidmap, setuid root, reads
    -- them there).
    local RANGE = "200000:65536"
    local function sub_copies(dir)
      local binds = {}
      local named = helper.sh("getent passwd " .. uid)
      local extra = {
        subuid = ("%d:%s\n"):format(uid, RANGE), subgid = ("%d:%s\n"):format(uid, RANGE),
        passwd = not named and ("nslua%d:x:%d:%d::/nonexistent:/usr/sbin/nologin\n"):format(uid, uid, uid),
        group = not named and ("nslua%d:x:%d:\n"):format(uid, uid),
      }
      for _, f in ipairs { "subuid", "subgid", "passwd", "group" } do
        if not extra[f] then goto next end
        local copy = ("%s/%s"):format(dir, f)
        local w = assert(io.open(copy, "w"))
        local text = helper.read("/etc/" .. f) or ""
        if text ~= "" and text:sub(-1) ~= "\n" then text = text .. "\n" end
        w:write(text, extra[f])
        w:close()
        assert(helper.sh("chmod 0644 " .. q(copy)))
        binds[#binds + 1] = ("mount --bind %s /etc/%s"):format(q(copy), f)
        ::next::
      end
      return table.concat(binds, " && ")
    end

    it("runs a container as an unprivileged user", function()
      if not helper.exists("/usr/bin/newuidmap") then return pending("newuidmap missing (package uidmap)") end
      -- the runtime must be reachable by the user: the rootless copy of the tree
      local rt = RUNTIME
      for _, rel in ipairs { "/scripts/nslua-oci", "/build/bin/nslua-oci" } do
        if rt == helper.root .. rel then rt = helper.rootless_tree() .. rel end
      end
      local R = T .. "/rootless"
      local xdg = R .. "/xdg"
      assert(helper.sh(("mkdir -p %s %s/home && chmod 0700 %s && chown -R %d:%d %s")
        :format(q(xdg), q(R), q(xdg), uid, uid, q(R))))
      local RP = oci.podman_setup(R, rt)
      assert(helper.sh(("chown -R %d:%d %s"):format(uid, uid, q(R))))
      local env = ("cd %s && env -i PATH=/usr/bin:/bin HOME=%s/home XDG_RUNTIME_DIR=%s USER=%d %s ")
        :format(q(R), q(R), q(xdg), uid, helper.SETPRIV)
      local binds = sub_copies(T)
      local function rl(args)
        return helper.sh(("unshare -m --propagation private sh -c %s")
          :format(q(binds .. " && " .. env .. RP .. " " .. args)))
      end
      assert(helper.sh(("tar -C %s -cf %s/rootfs.tar . && chown %d %s/rootfs.tar")
        :format(q(T .. "/rootfs"), q(R), uid, q(R))))
      local ok, out = rl(("import %s/rootfs.tar %s"):format(q(R), IMAGE))
      assert.is_true(ok, out)
      ok, out = rl("run --rm --network none --pull=never " .. IMAGE
        .. " sh -c 'id -u; cat /proc/self/uid_map'")
      rl("rm -a -f -t 0")
      rl("rmi -a -f")
      -- rootless podman keeps a pause process (catatonit -P) holding its
      -- user namespace; it writes the pid under the engine's tmp_dir
      local pause = tonumber(helper.read(R .. "/tmp/pause.pid") or helper.read(xdg .. "/libpod/tmp/pause.pid") or "")
      local userns = pause and core.mount.readlink(("/proc/%d/ns/user"):format(pause))
      if pause then os.execute("kill -9 " .. pause) end
      local left = helper.wait_until(function()
        return #procs_of(uid, xdg, userns) == 0 and {} or nil
      end, 5) or procs_of(uid, xdg, userns)
      -- storage the user's namespace made (ids of the range) needs root to go
      helper.rmtree(R)
      assert.are.same({}, left)
      assert.is_true(ok, out)
      assert.matches("^0\n%s+0%s+" .. uid .. "%s+1\n", out)
    end)
  end)

  it("leaves no container, mount, process or cgroup behind", function()
    local ok, out = podman("rmi -a -f")
    assert.is_true(ok, out)
    ok, out = podman("images -q")
    assert.is_true(ok, out)
    assert.equal("", out)
    assert.are.same({}, oci.mounts_under(T))
    assert.are.same({}, oci.procs_under(T))
    assert.are.same({}, oci.cgroup_procs(parent))
    assert.are.same({}, oci.cgroup_remove(parent))
    assert.are.same({}, oci.cgroup_dirs(parent))
  end)
end)
