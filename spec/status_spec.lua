-- spec/status_spec.lua - the one parser of the status pipe (csrc/status.h
-- writes it); the records below are the writers' formats.
local status = require "nslua.status"

describe("nslua.status", function()
  it("parses pid, exit with rusage and context switches", function()
    local r = status.parse("pid 2 1234.000000500\nexit exited 3 0.010000 0.002000 1234 0.020000 0.004000 0 17 4\n")
    assert.equal(2, r.cmd_pid)
    assert.equal(1234.0000005, r.cmd_start)
    assert.same({ how = "exited", code = 3, utime = 0.01, stime = 0.002, maxrss = 1234,
                  cutime = 0.02, cstime = 0.004, xfsz = false, nvcsw = 17, nivcsw = 4 }, r.exit)
  end)

  it("reads the time the init reaped the command, the last field of exit", function()
    local r = status.parse("pid 2 10.000000000\nexit exited 0 0.0 0.0 1 0.0 0.0 0 1 2 10.250000000\n")
    assert.equal(10.25, r.exit.end_t)
    assert.is_nil(status.parse("exit exited 0 0.0 0.0 1 0.0 0.0 0 1 2\n").exit.end_t)
  end)

  it("reads an exit record without the context switches (an older init)", function()
    local r = status.parse("exit signaled 9 0.0 0.0 10 0.0 0.0 1\n")
    assert.equal("signaled", r.exit.how)
    assert.is_true(r.exit.xfsz)
    assert.is_nil(r.exit.nvcsw)
  end)

  it("parses the failures of the executor, the exec tail and the init", function()
    local r = status.parse("setup mounts 2 /usr: mount '/newroot/usr': No such file or directory\n"
      .. "exec execve 13\nexec rlimit 1 nofile\ninit wait 10\n")
    assert.same({ step = "mounts", errno = 2, msg = "/usr: mount '/newroot/usr': No such file or directory" },
      r.setup)
    assert.same({ step = "rlimit", errno = 1, detail = "nofile" }, r.exec)
    assert.same({ step = "wait", errno = 10 }, r.init)
    r = status.parse("setup hook:before_exec 0 boom\n")
    assert.same({ step = "hook:before_exec", errno = 0, msg = "boom" }, r.setup)
  end)

  it("keeps lines of another shape as unknown instead of dropping them", function()
    local r = status.parse("pid x\nwhat is this\nexit exited\n")
    assert.same({ "pid x", "what is this", "exit exited" }, r.unknown)
    assert.is_nil(r.cmd_pid)
    assert.is_nil(r.exit)
  end)

  it("finds the command's pid once its record is complete", function()
    assert.is_nil(status.cmd_pid("pid 1 5.000000001"))
    assert.is_nil(status.cmd_pid("pid 1 5.0"))
    local p, t = status.cmd_pid("pid 12 5.250000000\nexit")
    assert.equal(12, p)
    assert.equal(5.25, t)
    -- the exec tail's records may precede the set-up child's pid record
    assert.equal(7, status.cmd_pid("landlock 2 2\npid 7 1.000000000\n"))
    assert.is_nil(status.cmd_pid("landlock 2 2\npid 7 1.000000000"))
    assert.same({ [2] = 2 }, status.parse("landlock 2 2\npid 7 1.000000000\n").landlock_skipped)
    -- a pid record without its time is another shape
    assert.same({ "pid 7" }, status.parse("pid 7\n").unknown)
  end)
end)
