-- spec/report_spec.lua - nslua.report: the CLI's exit codes, defined once.
local report = require "nslua.report"
local core = require "nslua.core"

local E = core.errno

describe("nslua.report", function()
  it("names the exit codes and signals it uses", function()
    assert.equal(125, report.EXIT_FAIL)
    assert.equal(126, report.EXIT_CANNOT_EXEC)
    assert.equal(127, report.EXIT_NOT_FOUND)
    assert.equal(128, report.EXIT_SIGNAL)
    assert.equal(core.proc.signum("KILL"), report.SIGKILL)
    assert.equal(core.proc.signum("XFSZ"), report.SIGXFSZ)
  end)

  it("maps a failed execve to 127 or 126", function()
    for _, e in ipairs { E.ENOENT, E.ENOTDIR, E.ELOOP, E.ENAMETOOLONG } do
      assert.equal(127, report.exec_exit_code(e), e)
    end
    for _, e in ipairs { E.EACCES, E.ENOEXEC, E.EPERM, E.EISDIR } do
      assert.equal(126, report.exec_exit_code(e), e)
    end
    assert.is_nil(report.exec_exit_code(E.ENOMEM))
  end)

  it("gives the CLI exit code of every status", function()
    assert.equal(0, report.exit_code { status = "exited", exit_code = 0 })
    assert.equal(3, report.exit_code { status = "exited", exit_code = 3 })
    assert.equal(128 + 15, report.exit_code { status = "signaled", signal = 15 })
    for _, s in ipairs { "cpu-limit", "wall-limit", "memory-limit" } do
      assert.equal(128 + report.SIGKILL, report.exit_code { status = s, signal = report.SIGKILL }, s)
      assert.equal(128 + report.SIGKILL, report.exit_code { status = s }, s)
    end
    assert.equal(128 + report.SIGXFSZ, report.exit_code { status = "output-limit", signal = report.SIGXFSZ })
    assert.equal(1, report.exit_code { status = "pids-limit", exit_code = 1 })
    assert.equal(128 + 9, report.exit_code { status = "pids-limit", signal = 9 })
    assert.equal(125, report.exit_code { status = "pids-limit" })
    assert.equal(125, report.exit_code { status = "error", error = { step = "mount" } })
    assert.equal(127, report.exit_code { status = "error", exit_code = 127 })
  end)

  it("builds the report of a command that could not be executed", function()
    local r = report.build { status = { exec = { step = "execve", errno = E.ENOENT } }, wall_s = 0.1 }
    assert.equal("error", r.status)
    assert.equal(127, r.exit_code)
    assert.equal("exec execve: No such file or directory", r.error.message)
    r = report.build { status = { exec = { step = "execve", errno = E.EACCES } }, wall_s = 0.1 }
    assert.equal(126, report.exit_code(r))
    r = report.build { status = { exec = { step = "setrlimit", errno = E.EPERM } }, wall_s = 0.1 }
    assert.equal(125, report.exit_code(r))
  end)

  it("gives 125 for an error after the command ended (an after_exit hook)", function()
    local r = { status = "error", exit_code = 0, error = { step = "hook after_exit", message = "x" } }
    assert.equal(125, report.exit_code(r))
    r.exit_code = 127
    assert.equal(125, report.exit_code(r))
    assert.equal(127, report.exit_code { status = "error", exit_code = 127, error = { step = "execve" } })
  end)

  it("reports an init killed from outside as signaled, naming the init", function()
    local r = report.build { status = {}, init = { how = "signaled", code = report.SIGKILL }, wall_s = 1 }
    assert.equal("signaled", r.status)
    assert.equal(report.SIGKILL, r.signal)
    assert.equal("init", r.error.step)
    assert.equal("the init was killed by signal 9 (SIGKILL)", r.error.message)
    assert.equal(128 + report.SIGKILL, report.exit_code(r))
    -- an init that exited without a status is still an error
    r = report.build { status = {}, init = { how = "exited", code = 1 }, wall_s = 1 }
    assert.equal("error", r.status)
    assert.equal(125, report.exit_code(r))
  end)

  it("says which limit ended a run", function()
    local exit = { how = "signaled", code = report.SIGKILL }
    assert.equal("wall-limit", report.build { status = { exit = exit }, reason = "wall-limit" }.status)
    assert.equal("memory-limit", report.build { status = { exit = exit }, cg = { oom_kill = 1 } }.status)
    local r = report.build { status = { exit = { how = "signaled", code = report.SIGXFSZ } } }
    assert.equal("output-limit", r.status)
    assert.equal(128 + report.SIGXFSZ, report.exit_code(r))
    -- cpu_scope "command": the command's rusage, not the cgroup's; the
    -- last polled value when the init wrote no exit record
    local ex = { how = "signaled", code = report.SIGKILL, cutime = 0.5, cstime = 0.01 }
    r = report.build { status = { exit = ex }, reason = "cpu-limit", cg = { cpu_s = 0.9, memory_peak_kb = 7 },
      limits = { cpu_scope = "command" } }
    assert.same({ "cpu-limit", 0.51, 7 }, { r.status, r.cpu_s, r.memory_peak_kb })
    assert.equal(0.9, report.build { status = { exit = ex }, cg = { cpu_s = 0.9 }, limits = {} }.cpu_s)
    r = report.build { status = {}, reason = "cpu-limit", killed = 9, cmd_cpu_s = 0.52,
      limits = { cpu_scope = "command" } }
    assert.same({ "cpu-limit", 0.52 }, { r.status, r.cpu_s })
  end)
end)
