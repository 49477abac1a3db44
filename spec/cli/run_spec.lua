-- `nslua run`: what the payload sees, what it can do, and exit codes.
-- Every test checks the host holds nothing new afterwards.
local helper = require "helper"

local N = helper.nslua
local q = helper.quote

local function run(opts, cmd)
  return helper.sh(("%s run %s -- %s"):format(N, opts or "", cmd))
end

local function sh(opts, script)
  return run(opts, "/bin/sh -c " .. q(script))
end

describe("nslua run", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  it("shows only the sandbox's processes in /proc", function()
    local ok, out = sh("", "ls /proc | grep -E '^[0-9]+$' | sort -n | tr '\\n' ' '")
    assert.is_true(ok, out)
    for pid in out:gmatch("%d+") do
      assert.is_true(tonumber(pid) < 20, "unexpected pid " .. pid .. " in " .. out)
    end
    assert.matches("^1 ", out)
  end)

  it("has only lo, up", function()
    local ok, out = sh("", "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '")
    assert.is_true(ok, out)
    assert.equal("lo\n", out)
  end)

  it("sets the hostname", function()
    local ok, out = run("--hostname box1", "/bin/cat /proc/sys/kernel/hostname")
    assert.is_true(ok, out)
    assert.equal("box1\n", out)
    assert.are_not.equal("box1\n", helper.read("/proc/sys/kernel/hostname"))
  end)

  it("hides the host's /tmp and keeps /usr read-only", function()
    local dir = helper.tmpdir()
    local ok, out = sh("", "ls /tmp; touch /usr/nslua-x 2>&1; echo rc=$?")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.not_matches(dir:match("[^/]+$"), out, 1, true)
    assert.matches("Read%-only file system", out)
    assert.matches("rc=1", out)
    assert.is_false(helper.exists("/usr/nslua-x"))
  end)

  it("runs as 65534 inside, not root", function()
    local ok, out = run("", "/usr/bin/id -u")
    assert.is_true(ok, out)
    assert.equal("65534\n", out)
  end)

  it("gives the command a clean environment", function()
    local ok, out = helper.sh(("FOO=bar %s run --env A=1 -- /usr/bin/env"):format(N))
    assert.is_true(ok, out)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    table.sort(lines)
    assert.same({ "A=1", "HOME=/", "PATH=/usr/local/bin:/usr/bin:/bin" }, lines)
  end)

  it("keeps a variable with --keep-env", function()
    local ok, out = helper.sh(("FOO=bar %s run --keep-env FOO -- /usr/bin/env"):format(N))
    assert.is_true(ok, out)
    assert.matches("FOO=bar", out, 1, true)
  end)

  it("passes the command's exit code", function()
    local ok, out, code = sh("", "exit 3")
    assert.is_false(ok)
    assert.equal(3, code, out)
  end)

  it("exits 127 for a missing command and 126 for a non-executable one", function()
    local _, out, code = run("", "/nonexistent/cmd")
    assert.equal(127, code, out)
    assert.matches("/nonexistent/cmd", out, 1, true)
    _, out, code = run("", "/etc/passwd")
    assert.equal(126, code, out)
  end)

  it("exits 125 naming a bad option", function()
    local _, out, code = helper.sh(N .. " run --bogus -- /bin/true")
    assert.equal(125, code, out)
    assert.matches("bogus", out, 1, true)
    _, out, code = helper.sh(N .. " run --memory lots -- /bin/true")
    assert.equal(125, code, out)
    assert.matches("--memory: invalid size 'lots'", out, 1, true)
    _, out, code = helper.sh(N .. " run --wall 1e300 -- /bin/true")
    assert.equal(125, code, out)
    assert.matches("--wall: must be at most 2147483 seconds", out, 1, true)
    -- an option's part is named by the option
    _, out, code = helper.sh(N .. " run --tmpfs /t:lots -- /bin/true")
    assert.equal(125, code, out)
    assert.matches("--tmpfs /t: invalid size 'lots'", out, 1, true)
  end)

  it("does not let the payload read the init's fds", function()
    local ok, out = sh("", "ls /proc/1/fd 2>&1; echo rc=$?")
    assert.is_true(ok, out)
    assert.matches("rc=[12]", out)
    assert.matches("ermission denied", out)
  end)

  it("writes through --bind and refuses writes through --ro-bind", function()
    local dir = helper.tmpdir("0777")
    local ok, out = sh(("--bind %s:/data"):format(dir), "echo hi > /data/f && cat /data/f")
    assert.is_true(ok, out)
    assert.equal("hi\n", helper.read(dir .. "/f"))
    local _
    _, out = sh(("--ro-bind %s /data"):format(dir), "echo x > /data/g 2>&1; echo rc=$?")
    assert.matches("Read%-only", out)
    assert.is_false(helper.exists(dir .. "/g"))
    helper.rmtree(dir)
  end)

  it("binds a directory inside a 0700 directory (privileged) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local outer = helper.tmpdir("0700")
    os.execute(("mkdir -m 0755 %s/in && echo secret > %s/in/f && chmod 0644 %s/in/f")
      :format(q(outer), q(outer), q(outer)))
    local ok, out = run(("--ro-bind %s/in:/in"):format(outer), "/bin/cat /in/f")
    helper.rmtree(outer)
    assert.is_true(ok, out)
    assert.equal("secret\n", out)
  end)

  it("never runs as host root: a root-only file stays unreadable #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local dir = helper.tmpdir("0755")
    os.execute(("echo secret > %s/f && chmod 0640 %s/f"):format(q(dir), q(dir)))
    local ok, out = sh(("--ro-bind %s:/d"):format(dir), "cat /d/f 2>&1; echo rc=$?")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.not_matches("secret", out, 1, true)
    assert.matches("rc=1", out)
  end)

  it("runs rootless as an unprivileged user", function()
    local ok, out = helper.sh(("cd /tmp && %s run -- /bin/sh -c 'id -u; cat /proc/self/uid_map'")
      :format(helper.rootless_nslua()))
    assert.is_true(ok, out)
    assert.matches("^65534\n%s+65534%s+4242%s+1", out)
  end)

  it("runs a busybox root with --rootfs", function()
    local dir = helper.tmpdir("0755")
    assert(helper.sh(helper.root .. "/scripts/mkrootfs.sh " .. dir))
    local ok, out = run("--rootfs " .. dir, "/bin/ls /")
    helper.rmtree(dir)
    assert.is_true(ok, out)
    local names = {}
    for n in out:gmatch("%S+") do names[#names + 1] = n end
    table.sort(names)
    assert.same({ "bin", "dev", "etc", "proc", "root", "sbin", "sys", "tmp", "usr" }, names)
  end)

  it("forwards SIGTERM to the command: signaled 15, exit 143", function()
    local dir = helper.tmpdir()
    local ok, out, code = helper.sh(
      ("%s run --report %s/r.json -- /bin/sleep 100 & p=$!; sleep 0.5; kill -TERM $p; wait $p"):format(N, dir))
    local rep = helper.read(dir .. "/r.json") or ""
    helper.rmtree(dir)
    assert.is_false(ok)
    assert.equal(143, code, out)
    assert.matches('"status":"signaled"', rep, 1, true)
    assert.matches('"signal":15', rep, 1, true)
  end)

  it("writes a JSON report with --report and --report-fd", function()
    local dir = helper.tmpdir()
    local ok, out = helper.sh(("%s run --report %s/r.json --report-fd 3 -- /bin/sh -c 'exit 4' 3>%s/fd.json")
      :format(N, dir, dir))
    local rep, rep2 = helper.read(dir .. "/r.json"), helper.read(dir .. "/fd.json")
    helper.rmtree(dir)
    assert.is_false(ok, out)
    local cjson = require "cjson"
    local r = cjson.decode(rep)
    assert.equal("exited", r.status)
    assert.equal(4, r.exit_code)
    assert.is_number(r.wall_s)
    assert.is_number(r.cpu_s)
    assert.is_number(r.max_rss_kb)
    assert.same(r.status, cjson.decode(rep2).status)
  end)

  it("runs 16 containers at once with distinct host uids #priv", function()
    if not helper.is_root() then return pending("needs root") end
    -- every container prints its map, then waits for /go/flag: all 16 are
    -- alive at the same time however slowly they start
    local dir, go = helper.tmpdir(), helper.tmpdir("0755")
    local cmd = {}
    for i = 1, 16 do
      cmd[#cmd + 1] = ("%s run --ro-bind %s:/go -- /bin/sh -c 'cat /proc/self/uid_map; " ..
        "i=0; while [ ! -e /go/flag ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done' > %s/%d 2>&1 &")
        :format(N, go, dir, i)
    end
    cmd[#cmd + 1] = ("i=0; while [ $(cat %s/* 2>/dev/null | grep -c ' 0 ') -lt 16 ] && [ $i -lt 600 ]; " ..
      "do sleep 0.05; i=$((i+1)); done; touch %s/flag; wait"):format(dir, go)
    helper.sh(table.concat(cmd, "\n"))
    local seen = {}
    for i = 1, 16 do
      local t = helper.read(dir .. "/" .. i) or ""
      local host = t:match("%s+0%s+(%d+)%s+1")
      assert.is_truthy(host, "run " .. i .. ": " .. t)
      assert.is_nil(seen[host], "host uid " .. tostring(host) .. " used twice")
      seen[host] = true
    end
    helper.rmtree(dir)
    helper.rmtree(go)
  end)

  it("lets tar restore ownership with --map-all #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = sh("--map-all --uid 0 --gid 0 --caps chown,fowner,dac_override",
      "cd /tmp && mkdir d && echo x > d/f && chown 1234:4321 d/f && tar cf t.tar d && rm -rf d && "
        .. "tar xpf t.tar && stat -c '%u:%g' d/f")
    assert.is_true(ok, out)
    assert.equal("1234:4321\n", out)
  end)

  it("ps lists a running container; after nslua is SIGKILLed, gc removes its state and cgroups", function()
    local dir = helper.tmpdir()
    -- a private /run/nslua: no other nslua on the machine sweeps the record
    -- (and its cgroups) before this test's ps and gc see it
    local ok, out = helper.sh("unshare -m sh -c " .. helper.quote(([[
      mount -t tmpfs -o mode=0755 nslua-spec /run/nslua || exit 1
      %s run --name ps-test --memory 32M -- /bin/sleep 30 & p=$!
      for i in $(seq 50); do %s ps | grep -q 'ps-test  *[0-9]' && break; sleep 0.1; done
      %s ps
      kill -KILL $p; wait $p 2>/dev/null; sleep 0.3
      %s ps
      %s gc
      %s ps]]):format(N, N, N, N, N, N)))
    helper.rmtree(dir)
    assert.is_true(ok, out)
    local running = out:match("(%w+)%s+ps%-test%s+%d+%s+running")
    assert.is_truthy(running, out)
    assert.matches(running .. "%s+ps%-test%s+%d+%s+stale", out)
    assert.matches("removed " .. running, out, 1, true)
    local last = out:match(".*ID[^\n]*\n(.*)$")
    assert.not_matches("ps-test", last, 1, true)
    local _, cgs = helper.sh("find /sys/fs/cgroup -maxdepth 6 -name 'nslua-" .. running .. "' 2>/dev/null")
    assert.equal("", cgs, "its cgroups are left")
  end)

  it("explain prints the plan without running anything", function()
    local ok, out = helper.sh(N .. " explain --hostname h --memory 64M -- /bin/true")
    assert.is_true(ok, out)
    assert.matches("namespaces: cgroup ipc mnt net pid user uts", out, 1, true)
    assert.matches("hostname: h", out, 1, true)
    assert.matches("mount: ", out, 1, true)
    assert.matches("exec: /bin/true", out, 1, true)
  end)
end)

describe("nslua recipes from the CLI", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  local function recipe(text)
    local dir = helper.tmpdir()
    local f = assert(io.open(dir .. "/r.lua", "w"))
    f:write(text)
    f:close()
    return dir, dir .. "/r.lua"
  end

  it("exits 125 naming file:line for a syntax error", function()
    local dir, path = recipe("return {\n  argv = { '/bin/true' \n")
    local _, out, code = helper.sh(N .. " " .. path)
    helper.rmtree(dir)
    assert.equal(125, code)
    assert.matches("r.lua:3", out, 1, true)
  end)

  it("exits 125 naming an unknown field", function()
    local dir, path = recipe("return { argv = { '/bin/true' }, hostnmae = 'x' }\n")
    local _, out, code = helper.sh(N .. " " .. path)
    helper.rmtree(dir)
    assert.equal(125, code)
    assert.matches("hostnmae: unknown field", out, 1, true)
  end)

  it("exits 125 naming a field of the wrong type", function()
    local dir, path = recipe("return { argv = { '/bin/true' }, mounts = { { type = 'tmpfs', target = 'rel' } } }\n")
    local _, out, code = helper.sh(N .. " " .. path)
    helper.rmtree(dir)
    assert.equal(125, code)
    assert.matches("mounts[1].target", out, 1, true)
  end)

  it("runs a spec recipe", function()
    local dir, path = recipe("return { hostname = 'rcp', argv = { '/bin/cat', '/proc/sys/kernel/hostname' } }\n")
    local ok, out = helper.sh(N .. " " .. path)
    helper.rmtree(dir)
    assert.is_true(ok, out)
    assert.equal("rcp\n", out)
  end)
end)
