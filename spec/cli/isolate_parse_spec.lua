-- nslua isolate: the command line, the rules and the verdicts, without a kernel.
local iso = require "nslua.cli.isolate"

local function parse(...)
  return iso.parse(table.pack(...))
end

-- the message of a usage error
local function usage_of(...)
  local ok, e = pcall(parse, ...)
  assert.is_false(ok)
  return e.msg
end

describe("nslua isolate parse", function()
  it("takes isolate's long, short and glued forms", function()
    local o = parse("-b5", "-p60", "-EHOME=/tmp", "-E", "LANG", "--dir=in=/out:rw:noexec", "-t", "1.5",
      "--wall-time=3", "-x0.5", "-m", "65536", "--cg", "--cg-mem=1024", "-k8192", "-f", "100", "-n16",
      "--core=4", "-i", "in.txt", "-o", "out.txt", "-r", "err.txt", "-M", "/tmp/meta", "-c", "sub",
      "-s", "-v", "-v", "--share-net", "--inherit-fds", "--special-files", "--wait", "--run", "--",
      "./prog", "-x", "arg")
    assert.equal(5, o.box_id)
    assert.equal(60, o.processes)
    assert.same({ { name = "HOME", val = "/tmp" }, { name = "LANG" } }, o.env_rules)
    assert.equal(1.5, o.time)
    assert.equal(3, o.wall)
    assert.equal(0.5, o.extra_time)
    assert.equal(65536, o.mem)
    assert.is_true(o.cg)
    assert.equal(1024, o.cg_mem)
    assert.equal(8192, o.stack)
    assert.equal(100, o.fsize)
    assert.equal(16, o.open_files)
    assert.equal(4, o.core)
    assert.equal("in.txt", o.stdin)
    assert.equal("out.txt", o.stdout)
    assert.equal("err.txt", o.stderr)
    assert.equal("/tmp/meta", o.meta)
    assert.equal("sub", o.chdir)
    assert.equal(1, o.silent)
    assert.equal(2, o.verbose)
    assert.is_true(o.share_net and o.inherit_fds and o.special_files and o.wait)
    assert.equal("run", o.mode)
    -- after "--" everything is the command, options included
    assert.same({ "./prog", "-x", "arg" }, o.argv)
    local r = o.rules.by["in"]
    assert.same({ rw = true, noexec = true }, r.flags)
    assert.equal("/out", r.out)
  end)

  it("permutes operands like GNU getopt and stops at --", function()
    local o = parse("--run", "/bin/echo", "-b", "7")
    assert.equal(7, o.box_id)
    assert.same({ "/bin/echo" }, o.argv)
  end)

  it("accepts unique abbreviations of long options and refuses ambiguous ones", function()
    assert.equal(9, parse("--box=9", "--init").box_id)
    assert.equal(3, parse("--wall=3", "--init").wall)
    assert.matches("ambiguous", usage_of("--s", "--init"))
  end)

  it("-p without a value means unlimited, and defaults to one process", function()
    assert.equal(0, parse("-p", "--init").processes)
    assert.equal(0, parse("--processes", "--init").processes)
    assert.equal(1, parse("--init").processes)
    assert.equal(4, parse("--processes=4", "--init").processes)
  end)

  it("reads times like atof and counts like strtoul", function()
    assert.equal(0.25, parse("-t", ".25", "--init").time)
    assert.equal(2, parse("-t", "2s", "--init").time)
    assert.equal(0, parse("-t", "abc", "--init").time)
    assert.matches("Invalid numeric parameter: 1k", usage_of("-m", "1k", "--init"))
    assert.matches("Numeric parameter out of range: 3000000000", usage_of("-b", "3000000000", "--init"))
    assert.matches("out of range", usage_of("-b", "-1", "--init"))
  end)

  it("refuses what isolate refuses, with its messages", function()
    assert.matches("Please specify an isolate command", usage_of("-b", "1"))
    assert.matches("Only one command is allowed", usage_of("--init", "--run", "x"))
    assert.matches("require %-%-cg", usage_of("--cg-mem=10", "--run", "x"))
    assert.matches("%-%-run mode requires a command", usage_of("--run"))
    assert.matches("%-%-init mode takes no parameters", usage_of("--init", "x"))
    assert.matches("unrecognized option '%-%-bogus'", usage_of("--bogus", "--init"))
    assert.matches("invalid option %-%- 'z'", usage_of("-z", "--init"))
    assert.matches("requires an argument", usage_of("--init", "--box-id"))
    assert.matches("doesn't allow an argument", usage_of("--init=1"))
    assert.matches("Invalid environment specified: =x", usage_of("-E", "=x", "--init"))
    assert.matches("Invalid quota specified", usage_of("-q", "10", "--init"))
  end)

  it("--stderr and --stderr-to-stdout: the last one wins", function()
    local o = parse("-r", "e", "--stderr-to-stdout", "--run", "x")
    assert.is_nil(o.stderr)
    assert.is_true(o.stderr_to_stdout)
    o = parse("--stderr-to-stdout", "-r", "e", "--run", "x")
    assert.equal("e", o.stderr)
    assert.is_nil(o.stderr_to_stdout)
  end)
end)

describe("nslua isolate directory rules", function()
  local function rules(...)
    return parse(...).rules
  end
  local function insides(r)
    local t = {}
    for _, x in ipairs(r.list) do t[#t + 1] = x.inside end
    return t
  end

  it("starts with isolate's defaults in isolate's order", function()
    local r = rules("--init")
    assert.same({ "box", "bin", "dev", "dev/shm", "lib", "lib64", "proc", "tmp", "usr" }, insides(r))
    assert.equal("./box", r.by.box.out)
    assert.is_true(r.by.box.flags.rw)
    assert.is_true(r.by.lib64.flags.maybe)
    assert.equal("proc", r.by.proc.fs)
    assert.equal("tmpfs", r.by["dev/shm"].fs)
    assert.equal("./tmp/tmp", r.by.tmp.out)
    assert.is_true(r.by.tmp.flags.rw)
    assert.is_true(r.by.box.default)
  end)

  it("replaces a rule in its place, removes one with in=, and appends new ones", function()
    local r = rules("-d", "/usr=/opt/usr:rw", "--dir=bin=", "-d", "etc:noexec", "--init")
    assert.same({ "box", "bin", "dev", "dev/shm", "lib", "lib64", "proc", "tmp", "usr", "etc" }, insides(r))
    assert.equal("/opt/usr", r.by.usr.out)
    assert.is_nil(r.by.usr.default)
    assert.is_true(r.by.bin.disabled)
    assert.equal("/etc", r.by.etc.out)
    assert.is_true(r.by.etc.flags.noexec)
  end)

  it("makes a flat tmp directory for nested tmp rules", function()
    local r = rules("-d", "var/tmp:tmp", "--init")
    assert.equal("./tmp/var:tmp", r.by["var/tmp"].out)
  end)

  it("refuses bad rules with isolate's reasons", function()
    local function bad(d) return usage_of("-d", d, "--init") end
    assert.matches("Invalid path", bad("../x"))
    assert.matches("Invalid path", bad("a/../../x"))
    assert.matches("Invalid path", bad("/"))
    -- "." would be the rule's parent: --dir=.:tmp would chown ROOT/ID/tmp itself
    assert.matches("Invalid path", bad(".:tmp"))
    assert.matches("Invalid path", bad("a/./b"))
    assert.matches("Unknown option 'bogus'", bad("a:bogus"))
    assert.matches("mutually exclusive", bad("a=proc:fs:tmp"))
    assert.matches("Missing filesystem name", bad("a:fs"))
    assert.matches("not supported", bad("a=ext4:fs"))
    assert.matches("must start with '/' or '%./'", bad("a=rel"))
    assert.matches("do not have a right%-hand side", bad("a=/x:tmp"))
  end)
end)

describe("nslua isolate environment", function()
  local parent = { HOME = "/home/u", LANG = "C.UTF-8", PATH = "/usr/bin" }

  it("starts empty but for LIBC_FATAL_STDERR_=1 and applies -E in order", function()
    local o = parse("-E", "LANG", "-E", "HOME=/box", "-E", "MISSING", "-E", "X=1", "-E", "X=", "--init")
    assert.same({ LIBC_FATAL_STDERR_ = "1", LANG = "C.UTF-8", HOME = "/box" }, iso.environment(o, parent))
  end)

  it("-e inherits everything first, then the rules apply", function()
    local o = parse("-e", "-E", "PATH=", "-E", "LIBC_FATAL_STDERR_=0", "--init")
    assert.same({ HOME = "/home/u", LANG = "C.UTF-8", LIBC_FATAL_STDERR_ = "0" }, iso.environment(o, parent))
  end)
end)

describe("nslua isolate verdicts", function()
  local function rep(t)
    t.cpu_s, t.wall_s = t.cpu_s or 0.0123, t.wall_s or 0.0456
    t.max_rss_kb, t.csw_voluntary, t.csw_forced = 1000, 3, 4
    return t
  end
  local function meta(lines)
    local m = {}
    for _, l in ipairs(lines) do
      local k, v = l:match("^([^:]+):(.*)$")
      m[k] = v
    end
    return m
  end

  it("OK: the stats and exitcode 0, exit 0", function()
    local lines, status, msg, rc = iso.verdict(rep { status = "exited", exit_code = 0 }, {})
    assert.is_nil(status)
    assert.equal("OK", msg)
    assert.equal(0, rc)
    assert.same({ "time:0.012", "time-wall:0.045", "max-rss:1000", "csw-voluntary:3", "csw-forced:4",
                  "exitcode:0" }, lines)
  end)

  it("RE, SG, TO and XX as isolate words them", function()
    local _, s, m, rc = iso.verdict(rep { status = "exited", exit_code = 3 }, {})
    assert.same({ "RE", "Exited with error status 3", 1 }, { s, m, rc })
    local lines
    lines, s, m = iso.verdict(rep { status = "signaled", signal = 11 }, {})
    assert.same({ "SG", "Caught fatal signal 11" }, { s, m })
    assert.equal("11", meta(lines).exitsig)
    lines, s, m = iso.verdict(rep { status = "cpu-limit", signal = 9 }, { time = 1 })
    assert.same({ "TO", "Time limit exceeded" }, { s, m })
    assert.equal("1", meta(lines).killed)
    assert.is_nil(meta(lines).exitsig)
    _, s, m = iso.verdict(rep { status = "wall-limit", signal = 9 }, { wall = 1 })
    assert.same({ "TO", "Time limit exceeded (wall clock)" }, { s, m })
    lines, s, m, rc = iso.verdict({ status = "error", error = { step = "mount", message = "mount '/x': EPERM" } }, {})
    assert.same({ "XX", "mount '/x': EPERM", 2 }, { s, m, rc })
    assert.equal("XX", meta(lines).status)
  end)

  it("a run that ended over its time limit within the grace is TO without an exit code", function()
    local lines, s = iso.verdict(rep { status = "exited", exit_code = 0, cpu_s = 1.2 }, { time = 1 })
    assert.equal("TO", s)
    assert.is_nil(meta(lines).exitcode)
    assert.is_nil(meta(lines).killed)
  end)

  it("cg keys only with --cg; an OOM kill of any member is cg-oom-killed", function()
    local r = rep { status = "exited", exit_code = 137, memory_peak_kb = 5000, oom_kills = 1 }
    local m = meta((iso.verdict(r, {})))
    assert.is_nil(m["cg-mem"])
    m = meta((iso.verdict(r, { cg = true })))
    assert.equal("5000", m["cg-mem"])
    assert.equal("1", m["cg-oom-killed"])
    assert.equal("RE", m.status)
    local _, s, msg = iso.verdict(rep { status = "memory-limit", signal = 9, oom_kills = 1 }, { cg = true })
    assert.same({ "SG", "Caught fatal signal 9" }, { s, msg })
    _, s, msg = iso.verdict(rep { status = "output-limit", signal = 25 }, {})
    assert.same({ "SG", "Caught fatal signal 25" }, { s, msg })
  end)

  it("a stdio file that cannot be opened is isolate's open(\"FILE\") error", function()
    local _, s, m = iso.verdict({ status = "error", error = { step = "stdio", detail = "/box/in",
      message = "exec stdio: No such file or directory" } }, {})
    assert.equal("XX", s)
    assert.equal('open("/box/in"): No such file or directory', m)
  end)
end)

describe("nslua isolate configuration", function()
  local tmp
  before_each(function()
    tmp = os.tmpname()
  end)
  after_each(function()
    os.remove(tmp)
  end)
  local function write(text)
    local f = assert(io.open(tmp, "w"))
    f:write(text)
    f:close()
  end

  it("has isolate's defaults and reads isolate_* keys", function()
    write("# test\nisolate_root = /srv/boxes\nisolate_first_uid = 70000\nisolate_num_boxes = 10\n")
    local cfg = iso.config(tmp)
    assert.equal("/srv/boxes", cfg.root)
    assert.equal(70000, cfg.first_uid)
    assert.equal(60000, cfg.first_gid)
    assert.equal(10, cfg.num_boxes)
    assert.equal("/run/nslua/isolate", cfg.lock_root)
  end)

  it("refuses box ids that are 0, in nslua's slots or not numbers", function()
    local function bad(text)
      write(text)
      local ok, e = pcall(iso.config, tmp)
      assert.is_false(ok)
      return e.msg
    end
    assert.matches("not valid ids", bad("isolate_first_uid = 0\n"))
    assert.matches("overlap nslua's id slots", bad("isolate_first_uid = 1073741824\n"))
    assert.matches("non%-negative integer", bad("isolate_first_gid = x\n"))
    assert.matches("absolute path", bad("isolate_root = rel\n"))
  end)
end)
