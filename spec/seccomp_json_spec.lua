-- spec/seccomp_json_spec.lua - nslua.seccomp_json: Docker's and the OCI
-- seccomp JSON as nslua profiles, `nslua seccomp convert`, and a run
-- under a Docker-format default profile.
local helper = require "helper"
local cjson = require "cjson"
local sj = require "nslua.seccomp_json"
local seccomp = require "nslua.seccomp"
local core = require "nslua.core"

local N = helper.nslua
local q = helper.quote
local DOCKER = helper.root .. "/spec/data/docker-default.json"
local X86 = { arch = "x86_64", kernel = { 6, 1 } }

local function ctx(extra)
  local c = { arch = X86.arch, kernel = X86.kernel }
  for k, v in pairs(extra or {}) do c[k] = v end
  return c
end

-- The profile of a one-rule document.
local function one(rule, default, extra)
  return sj.from_table({ defaultAction = default or "SCMP_ACT_ERRNO", syscalls = { rule } }, ctx(extra))
end

local function err_of(doc, extra)
  local p, msg, all = sj.from_table(doc, ctx(extra))
  assert.is_nil(p)
  return msg, all
end

local function names_of(profile)
  local set = {}
  for _, e in ipairs(profile.syscalls) do
    for _, n in ipairs(e.names) do set[n] = (set[n] or 0) + 1 end
  end
  return set
end

local function read_docker()
  local f = assert(io.open(DOCKER))
  local text = f:read("a")
  f:close()
  return text
end

describe("nslua.seccomp_json", function()
  describe("actions", function()
    local cases = {
      { "SCMP_ACT_ALLOW", "allow" }, { "SCMP_ACT_KILL", "kill_thread" },
      { "SCMP_ACT_KILL_THREAD", "kill_thread" }, { "SCMP_ACT_KILL_PROCESS", "kill_process" },
      { "SCMP_ACT_TRAP", "trap" }, { "SCMP_ACT_LOG", "log" },
      { "SCMP_ACT_ERRNO", { errno = 1 } }, { "SCMP_ACT_TRACE", { trace = 1 } },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local p = assert(one({ names = { "uname" }, action = c[1] }, "SCMP_ACT_KILL_PROCESS"))
        assert.same(c[2], p.syscalls[1].action)
        assert.is_true(seccomp.validate(p))
      end)
    end

    it("errnoRet and defaultErrnoRet give the errno", function()
      local p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO", defaultErrnoRet = 38,
        syscalls = { { names = { "uname" }, action = "SCMP_ACT_ERRNO", errnoRet = 13 },
                     { names = { "getpid" }, action = "SCMP_ACT_TRACE", errnoRet = 7 } } }, ctx()))
      assert.same({ errno = 38 }, p.default)
      assert.equal("enosys", p.unknown_above)
      assert.same({ errno = 13 }, p.syscalls[1].action)
      assert.same({ trace = 7 }, p.syscalls[2].action)
    end)

    it("an allowing default has no ENOSYS tail", function()
      local p = assert(sj.from_table({ defaultAction = "SCMP_ACT_LOG" }, ctx()))
      assert.equal("log", p.default)
      assert.is_nil(p.unknown_above)
    end)

    it("containers/common's errno names: used alone, checked beside the number", function()
      local p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO", defaultErrno = "ENOSYS",
        syscalls = { { names = { "uname" }, action = "SCMP_ACT_ERRNO", errnoRet = 1, errno = "EPERM" } } }, ctx()))
      assert.same({ errno = core.errno.ENOSYS }, p.default)
      assert.same({ errno = 1 }, p.syscalls[1].action)
      assert.equal("syscalls[0].errno: EACCES is 13, not the number given beside it (1)",
        (err_of({ defaultAction = "SCMP_ACT_ERRNO",
          syscalls = { { names = { "uname" }, action = "SCMP_ACT_ERRNO", errnoRet = 1, errno = "EACCES" } } })))
    end)

    it("SCMP_ACT_NOTIFY says how to name the agent, and is never the default", function()
      local msg = err_of({ defaultAction = "SCMP_ACT_ALLOW", syscalls = {
        { names = { "mkdir" }, action = "SCMP_ACT_NOTIFY" } } })
      assert.equal("syscalls[0].action: SCMP_ACT_NOTIFY: a JSON profile here cannot name the agent; "
        .. "write the profile in Lua with action \"notify\" and give the spec a seccomp_listener "
        .. "(or use Lua handlers)", msg)
      assert.equal("defaultAction: SCMP_ACT_NOTIFY cannot be the default action: a listener is asked "
        .. "about named syscalls", err_of({ defaultAction = "SCMP_ACT_NOTIFY" }))
    end)

    it("SCMP_ACT_NOTIFY is \"notify\" where the caller allows it, never for sendmsg", function()
      local with = ctx { notify = function() return nil end }
      local p, errs = sj.convert({ defaultAction = "SCMP_ACT_ALLOW", syscalls = {
        { names = { "mkdir", "mkdirat" }, action = "SCMP_ACT_NOTIFY" } } }, with)
      assert.same({}, errs)
      assert.same({ names = { "mkdir", "mkdirat" }, action = "notify" }, p.syscalls[1])
      local _, errs2 = sj.convert({ defaultAction = "SCMP_ACT_ALLOW", syscalls = {
        { names = { "mkdir", "sendmsg" }, action = "SCMP_ACT_NOTIFY" } } }, with)
      assert.same({ "syscalls[0].names[1]: sendmsg cannot notify: it hands the listener to seccomp_listener" }, errs2)
    end)
  end)

  describe("args", function()
    it("maps every operator; MASKED_EQ's value is the mask, valueTwo the datum", function()
      local ops = { SCMP_CMP_EQ = "eq", SCMP_CMP_NE = "ne", SCMP_CMP_LT = "lt", SCMP_CMP_LE = "le",
                    SCMP_CMP_GT = "gt", SCMP_CMP_GE = "ge" }
      for op, want in pairs(ops) do
        local p = assert(one({ names = { "personality" }, action = "SCMP_ACT_ALLOW",
          args = { { index = 0, value = 8, valueTwo = 99, op = op } } }))
        assert.same({ { index = 0, op = want, value = 8 } }, p.syscalls[1].args)
      end
      local p = assert(one({ names = { "clone" }, action = "SCMP_ACT_ALLOW",
        args = { { index = 0, value = 2114060288, op = "SCMP_CMP_MASKED_EQ" } } }))
      assert.same({ { index = 0, op = "masked_eq", mask = 0x7e020000, value = 0 } }, p.syscalls[1].args)
      -- 2^64-1 (a double after lua-cjson) is all ones
      local d = cjson.decode('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],'
        .. '"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":18446744073709551615,'
        .. '"valueTwo":21522,"op":"SCMP_CMP_MASKED_EQ"}]}]}')
      p = assert(sj.from_table(d, ctx()))
      assert.same({ { index = 1, op = "masked_eq", mask = -1, value = 21522 } }, p.syscalls[1].args)
    end)

    it("two comparisons of one argument become two rules (runc)", function()
      local p = assert(one({ names = { "socket" }, action = "SCMP_ACT_ERRNO", errnoRet = 22,
        args = { { index = 0, value = 16, op = "SCMP_CMP_EQ" }, { index = 0, value = 40, op = "SCMP_CMP_EQ" } } },
        "SCMP_ACT_ALLOW"))
      assert.equal(2, #p.syscalls)
      assert.same({ { index = 0, op = "eq", value = 40 } }, p.syscalls[2].args)
    end)
  end)

  describe("includes and excludes", function()
    local rule = { names = { "unshare" }, action = "SCMP_ACT_ALLOW", includes = { caps = { "CAP_SYS_ADMIN" } } }
    local clone = { names = { "clone" }, action = "SCMP_ACT_ALLOW",
      args = { { index = 0, value = 2114060288, op = "SCMP_CMP_MASKED_EQ" } },
      excludes = { caps = { "CAP_SYS_ADMIN" } } }

    it("by caps: includes need every cap, excludes drop on any (any spelling)", function()
      assert.equal(0, #assert(one(rule)).syscalls)
      assert.equal(1, #assert(one(rule, nil, { caps = { "CAP_SYS_ADMIN" } })).syscalls)
      assert.equal(1, #assert(one(rule, nil, { caps = { "sys_admin" } })).syscalls)
      assert.equal(1, #assert(one(rule, nil, { caps = { cap_sys_admin = true } })).syscalls)
      assert.equal(1, #assert(one(clone)).syscalls)
      assert.equal(0, #assert(one(clone, nil, { caps = { "sys_admin" } })).syscalls)
      local both = { names = { "x" }, action = "SCMP_ACT_ALLOW", includes = { caps = { "CAP_BPF", "CAP_PERFMON" } } }
      both.names = { "bpf" }
      assert.equal(0, #assert(one(both, nil, { caps = { "bpf" } })).syscalls)
      assert.equal(1, #assert(one(both, nil, { caps = { "bpf", "perfmon" } })).syscalls)
    end)

    it("by arch: Go's names and libseccomp's", function()
      local r = { names = { "arch_prctl" }, action = "SCMP_ACT_ALLOW", includes = { arches = { "amd64", "x32" } } }
      assert.equal(1, #assert(one(r)).syscalls)
      assert.equal(0, #assert(one(r, nil, { arch = "aarch64" })).syscalls)
      r.includes.arches = { "x86_64" }
      assert.equal(1, #assert(one(r)).syscalls)
      local s390 = { names = { "clone" }, action = "SCMP_ACT_ALLOW", excludes = { arches = { "s390", "s390x" } } }
      assert.equal(1, #assert(one(s390)).syscalls)
      assert.equal(0, #assert(one(s390, nil, { arch = "s390x" })).syscalls)
      local arm = { names = { "getpid" }, action = "SCMP_ACT_ALLOW", includes = { arches = { "arm64" } } }
      assert.equal(1, #assert(one(arm, nil, { arch = "aarch64" })).syscalls)
    end)

    it("by minKernel", function()
      local r = { names = { "ptrace" }, action = "SCMP_ACT_ALLOW", includes = { minKernel = "4.8" } }
      assert.equal(1, #assert(one(r, nil, { kernel = { 4, 8 } })).syscalls)
      assert.equal(1, #assert(one(r, nil, { kernel = { 5, 0 } })).syscalls)
      assert.equal(0, #assert(one(r, nil, { kernel = { 4, 7 } })).syscalls)
      local x = { names = { "ptrace" }, action = "SCMP_ACT_ALLOW", excludes = { minKernel = "5.10" } }
      assert.equal(0, #assert(one(x, nil, { kernel = { 6, 1 } })).syscalls)
      assert.equal(1, #assert(one(x, nil, { kernel = { 5, 4 } })).syscalls)
    end)
  end)

  describe("arches", function()
    local map = {
      { architecture = "SCMP_ARCH_X86_64", subArchitectures = { "SCMP_ARCH_X86", "SCMP_ARCH_X32" } },
      { architecture = "SCMP_ARCH_AARCH64", subArchitectures = { "SCMP_ARCH_ARM" } },
      { architecture = "SCMP_ARCH_RISCV64", subArchitectures = cjson.null },
      -- another machine's entry may name an arch this libseccomp lacks
      { architecture = "SCMP_ARCH_LOONGARCH64", subArchitectures = { "SCMP_ARCH_NEWER" } },
    }

    it("archMap: the native entry and its sub-architectures", function()
      local p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO", archMap = map }, ctx()))
      assert.same({ "native", "x86_64", "x86", "x32" }, p.arches)
      p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO", archMap = map }, ctx { arch = "aarch64" }))
      assert.same({ "native", "aarch64", "arm" }, p.arches)
      p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO", archMap = map }, ctx { arch = "riscv64" }))
      assert.same({ "native", "riscv64" }, p.arches)
    end)

    it("architectures (OCI)", function()
      local p = assert(sj.from_table({ defaultAction = "SCMP_ACT_ERRNO",
        architectures = { "SCMP_ARCH_X86_64", "SCMP_ARCH_X86" } }, ctx()))
      assert.same({ "native", "x86_64", "x86" }, p.arches)
    end)

    it("finds the native arch", function()
      local a = sj.native_arch()
      assert.is_string(a)
      assert.equal(core.seccomp.resolve("read"), core.seccomp.resolve("read", a))
    end)
  end)

  describe("syscall names", function()
    it("skips names libseccomp does not know; a deny rule under allow is an error", function()
      local p = assert(one({ names = { "read", "not_a_syscall_at_all" }, action = "SCMP_ACT_ALLOW" }))
      assert.same({ "read" }, p.syscalls[1].names)
      assert.equal('syscalls[0].names[1]: unknown syscall "frobnicate" (a deny rule nslua cannot apply)',
        (err_of({ defaultAction = "SCMP_ACT_ALLOW",
          syscalls = { { names = { "mount", "frobnicate" }, action = "SCMP_ACT_ERRNO" } } })))
    end)

    it("Docker's single name; comments are kept", function()
      local p = assert(one({ name = "uname", action = "SCMP_ACT_ALLOW", comment = "why" }))
      assert.same({ names = { "uname" }, action = "allow", comment = "why" }, p.syscalls[1])
    end)
  end)

  describe("errors name the JSON path", function()
    local cases = {
      { 'syscalls[1].action: unknown action "SCMP_ACT_FOO"',
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW" },
          { names = { "write" }, action = "SCMP_ACT_FOO" } } } },
      { "defaultAction: must be a string (SCMP_ACT_...)", { syscalls = {} } },
      { "defaultActon: unknown field (valid here: archMap architectures defaultAction defaultErrno "
        .. "defaultErrnoRet flags listenerMetadata listenerPath syscalls)",
        { defaultAction = "SCMP_ACT_ERRNO", defaultActon = "SCMP_ACT_ALLOW" } },
      { "syscalls[0].nmes: unknown field (valid here: action args comment errno errnoRet excludes "
        .. "includes name names)",
        { defaultAction = "SCMP_ACT_ERRNO",
          syscalls = { { names = { "read" }, nmes = {}, action = "SCMP_ACT_ALLOW" } } } },
      { "syscalls[0].args[0].vale: unknown field (valid here: index op value valueTwo)",
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW",
          args = { { index = 0, value = 1, vale = 1, op = "SCMP_CMP_EQ" } } } } } },
      { "syscalls[0].includes.cap: unknown field (valid here: arches caps minKernel)",
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW",
          includes = { cap = { "CAP_SYS_ADMIN" } } } } } },
      { 'syscalls[0].excludes.minKernel: must be a kernel version such as "4.8"',
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW",
          excludes = { minKernel = "four" } } } } },
      { "syscalls[0].args[0].op: unknown operator 'SCMP_CMP_SOMETIMES'",
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW",
          args = { { index = 0, value = 1, op = "SCMP_CMP_SOMETIMES" } } } } } },
      { "syscalls[0].args[0].index: must be an integer in 0..5",
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW",
          args = { { index = 6, value = 1, op = "SCMP_CMP_EQ" } } } } } },
      { "syscalls[0].errnoRet: applies to SCMP_ACT_ERRNO and SCMP_ACT_TRACE only",
        { defaultAction = "SCMP_ACT_ERRNO",
          syscalls = { { names = { "read" }, action = "SCMP_ACT_ALLOW", errnoRet = 1 } } } },
      { "syscalls[0].name: give either name or names, not both",
        { defaultAction = "SCMP_ACT_ERRNO",
          syscalls = { { name = "read", names = { "read" }, action = "SCMP_ACT_ALLOW" } } } },
      { "syscalls[0].names: must be a non-empty array of strings",
        { defaultAction = "SCMP_ACT_ERRNO", syscalls = { { action = "SCMP_ACT_ALLOW" } } } },
      { "archMap: give either architectures or archMap, not both",
        { defaultAction = "SCMP_ACT_ERRNO", architectures = { "SCMP_ARCH_X86" },
          archMap = { { architecture = "SCMP_ARCH_X86_64" } } } },
      { "archMap[0].subArchitectures[1]: unknown architecture 'SCMP_ARCH_VAX'",
        { defaultAction = "SCMP_ACT_ERRNO",
          archMap = { { architecture = "SCMP_ARCH_X86_64",
                        subArchitectures = { "SCMP_ARCH_X86", "SCMP_ARCH_VAX" } } } } },
      { "flags[0]: unknown flag 'SECCOMP_FILTER_FLAG_NEW'",
        { defaultAction = "SCMP_ACT_ALLOW", flags = { "SECCOMP_FILTER_FLAG_NEW" } } },
      { "profile: must be a JSON object", "SCMP_ACT_ALLOW" },
    }
    for _, c in ipairs(cases) do
      it(c[1], function()
        local msg = err_of(c[2])
        assert.equal(c[1], (msg:gsub(" %(and %d+ more%)$", "")))
      end)
    end

    it("counts the other problems; 'what' labels the message; bad JSON", function()
      local msg, all = err_of({ defaultAction = "SCMP_ACT_FOO", syscalls = { { action = "SCMP_ACT_ALLOW" } } },
        { what = "p.json" })
      assert.equal('p.json: defaultAction: unknown action "SCMP_ACT_FOO" (and 1 more)', msg)
      assert.equal(2, #all)
      local p, jmsg = sj.from_json("{ nope", { what = "p.json" })
      assert.is_nil(p)
      assert.matches("^p%.json: not valid JSON: ", jmsg)
    end)
  end)

  describe("Docker's default profile (spec/data/docker-default.json)", function()
    it("converts without caps: no namespaces, clone without CLONE_NEW*, clone3 ENOSYS", function()
      local p = assert(sj.from_json(read_docker(), ctx()))
      assert.is_true(seccomp.validate(p))
      assert.same({ errno = 1 }, p.default)
      assert.same({ "native", "x86_64", "x86", "x32" }, p.arches)
      local n = names_of(p)
      for _, name in ipairs { "unshare", "setns", "mount", "keyctl", "bpf", "chroot", "reboot" } do
        assert.is_nil(n[name], name)
      end
      assert.equal(5, n.personality)
      assert.truthy(n.read and n.arch_prctl and n.ptrace)
      assert.is_nil(n.cacheflush, "an arm-only rule")
      local clone, clone3
      for _, e in ipairs(p.syscalls) do
        if e.names[1] == "clone" then clone = e end
        if e.names[1] == "clone3" then clone3 = e end
      end
      assert.same({ { index = 0, op = "masked_eq", mask = 0x7e020000, value = 0 } }, clone.args)
      assert.same({ errno = 38 }, clone3.action)
      assert.is_string(seccomp.compile(p))
    end)

    it("CAP_SYS_ADMIN brings the namespace and mount calls, drops the clone rules", function()
      local p = assert(sj.from_json(read_docker(), ctx { caps = { "CAP_SYS_ADMIN" } }))
      local n = names_of(p)
      assert.truthy(n.unshare and n.setns and n.mount and n.clone3)
      for _, e in ipairs(p.syscalls) do
        assert.is_falsy(e.names[1] == "clone" and e.args, "the masked clone rule is excluded")
      end
      p = assert(sj.from_json(read_docker(), ctx { caps = { "CAP_SYS_PTRACE" } }))
      assert.truthy(names_of(p).kcmp)
    end)

    it("podman's (containers/common's variant) converts and compiles as it is", function()
      local path = "/usr/share/containers/seccomp.json"
      if not helper.exists(path) then return pending("podman's seccomp.json is not installed") end
      local p = seccomp.load_file(path, { caps = { "CAP_CHOWN", "CAP_KILL" } })
      assert.same({ errno = core.errno.ENOSYS }, p.default)
      assert.is_true(#p.syscalls > 10)
      assert.is_string(seccomp.compile(p))
    end)

    it("loads through seccomp.load_file and compile, per caps", function()
      local a = seccomp.load_file(DOCKER)
      local b = seccomp.load_file(DOCKER, { caps = { "cap_sys_admin" } })
      assert.is_nil(names_of(a).unshare)
      assert.truthy(names_of(b).unshare)
      local pa = assert(seccomp.compile(DOCKER))
      local pb = assert(seccomp.compile(DOCKER, { caps = { "sys_admin" } }))
      assert.are_not.equal(pa, pb)
      assert.equal(pb, seccomp.compile(DOCKER, { caps = { "CAP_SYS_ADMIN" } }))
      local dir = helper.tmpdir()
      local f = io.open(dir .. "/bad.json", "w")
      f:write('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOPE"}]}')
      f:close()
      local ok, err = pcall(seccomp.load_file, dir .. "/bad.json")
      helper.rmtree(dir)
      assert.is_false(ok)
      assert.matches('bad%.json: syscalls%[0%]%.action: unknown action "SCMP_ACT_NOPE"', err)
    end)
  end)
end)

describe("nslua seccomp convert", function()
  local dir
  before_each(function() dir = helper.tmpdir() end)
  after_each(function() helper.rmtree(dir) end)

  it("prints a Lua chunk that load_file reads back to the same table", function()
    for _, caps in ipairs { "", "sys_admin,CAP_SYS_PTRACE", "all" } do
      local opt = caps ~= "" and ("--caps " .. caps) or ""
      local ok, out = helper.sh(("%s seccomp convert %s %s > %s/p.lua"):format(N, q(DOCKER), opt, dir))
      assert.is_true(ok, out)
      local text = helper.read(dir .. "/p.lua")
      assert.matches("^%-%- ", text)
      assert.matches("\nreturn {\n", text)
      local want = assert(sj.from_json(read_docker(), { caps = caps ~= "" and (caps == "all" and
        (function()
          local l = {}
          for _, c in ipairs(require("nslua.validate").CAPS) do l[#l + 1] = c end
          return l
        end)() or { "sys_admin", "sys_ptrace" }) or nil }))
      assert.same(want, seccomp.load_file(dir .. "/p.lua"))
      assert.is_string(seccomp.compile(dir .. "/p.lua"))
      seccomp.flush()
    end
  end)

  it("keeps all-ones masks and comments exact", function()
    local f = io.open(dir .. "/m.json", "w")
    f:write('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["ioctl"],"action":"SCMP_ACT_ERRNO",'
      .. '"comment":"TIOCSTI \\"quoted\\"\\nline","args":[{"index":1,"value":18446744073709551615,'
      .. '"valueTwo":21522,"op":"SCMP_CMP_MASKED_EQ"}]}]}')
    f:close()
    local ok, out = helper.sh(("%s seccomp convert %s/m.json > %s/m.lua"):format(N, dir, dir))
    assert.is_true(ok, out)
    local p = seccomp.load_file(dir .. "/m.lua")
    assert.same({ { index = 1, op = "masked_eq", mask = -1, value = 21522 } }, p.syscalls[1].args)
    assert.equal('TIOCSTI "quoted"\nline', p.syscalls[1].comment)
  end)

  it("reports every problem with its JSON path, exit 125", function()
    local f = io.open(dir .. "/b.json", "w")
    f:write('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_FOO"},'
      .. '{"names":["write"],"action":"SCMP_ACT_ALLOW","flavour":1}]}')
    f:close()
    local ok, out, code = helper.sh(("%s seccomp convert %s/b.json"):format(N, dir))
    assert.is_false(ok)
    assert.equal(125, code)
    assert.matches('b%.json: syscalls%[0%]%.action: unknown action "SCMP_ACT_FOO"', out)
    assert.matches("b%.json: syscalls%[1%]%.flavour: unknown field", out)
    assert.not_matches("traceback", out)
  end)

  it("--help, and usage errors exit 125", function()
    local ok, out = helper.sh(N .. " seccomp --help")
    assert.is_true(ok, out)
    assert.matches("Usage: nslua seccomp convert FILE.json", out)
    assert.matches("seccomp convert", select(2, helper.sh(N .. " --help")))
    for _, args in ipairs { "frob", "convert", "convert --caps", "convert --caps bogus " .. DOCKER,
                            "convert --arch vax " .. DOCKER, "convert /nonexistent.json" } do
      local ok2, out2, code = helper.sh(N .. " seccomp " .. args)
      assert.is_false(ok2, args)
      assert.equal(125, code, args .. ": " .. out2)
      assert.matches("^nslua: seccomp", out2)
    end
  end)
end)

describe("nslua run --seccomp FILE.json", function()
  local before
  before_each(function() before = helper.host_objects() end)
  after_each(function() helper.assert_clean(before) end)

  local function run(opts, script)
    return helper.sh(("%s run --seccomp %s %s -- /bin/sh -c %s"):format(N, q(DOCKER), opts, q(script)))
  end

  it("runs a shell, coreutils and python3 under Docker's default profile", function()
    local script = [[
      grep '^Seccomp:' /proc/self/status
      echo hello | tr a-z A-Z
      ls / >/dev/null && sort -r </etc/hostname >/dev/null && date +%Y >/dev/null && echo coreutils-ok
      if command -v python3 >/dev/null; then
        python3 -c 'import threading, subprocess; t = threading.Thread(target=print, args=("thread-ok",)); t.start(); t.join(); print(subprocess.run(["true"]).returncode)'
      else
        echo thread-ok; echo 0
      fi]]
    local ok, out = run("", script)
    assert.is_true(ok, out)
    assert.matches("Seccomp:%s+2", out)
    assert.matches("HELLO\ncoreutils%-ok\nthread%-ok\n0\n", out)
  end)

  it("denies what the profile leaves out with EPERM: unshare -U, keyctl", function()
    local ok, out = run("", "unshare -U true 2>&1; echo unshare=$?")
    assert.is_true(ok, out)
    assert.matches("Operation not permitted", out)
    assert.matches("unshare=1", out)
    if sj.native_arch() ~= "x86_64" or not helper.exists("/usr/bin/python3") then
      return pending("keyctl is checked through python3 on x86_64 (syscall 250)")
    end
    ok, out = run("", [[python3 -c 'import ctypes, os
l = ctypes.CDLL(None, use_errno=True)
print(l.syscall(250, 0, 0, 0, 0, 0), os.strerror(ctypes.get_errno()))']])
    assert.is_true(ok, out)
    assert.equal("-1 Operation not permitted\n", out)
  end)

  it("reads includes.caps against the run's caps", function()
    local ok, out = run("--caps sys_admin", "unshare -U true; echo unshare=$?")
    assert.is_true(ok, out)
    assert.equal("unshare=0\n", out)
  end)

  it("a spec's seccomp = FILE.json reads the spec's caps", function()
    local dir = helper.tmpdir()
    for i, caps in ipairs { "nil", '{ "sys_admin" }' } do
      local f = io.open(("%s/r%d.lua"):format(dir, i), "w")
      f:write(("return { argv = { '/bin/sh', '-c', 'unshare -U true 2>/dev/null; echo u=$?' }, "
        .. "seccomp = %q, caps = %s }"):format(DOCKER, caps))
      f:close()
    end
    local ok1, out1 = helper.sh(("%s %s/r1.lua"):format(N, dir))
    local ok2, out2 = helper.sh(("%s %s/r2.lua"):format(N, dir))
    helper.rmtree(dir)
    assert.is_true(ok1, out1)
    assert.equal("u=1\n", out1)
    assert.is_true(ok2, out2)
    assert.equal("u=0\n", out2)
  end)

  it("a bad profile fails the start with its JSON path, exit 125", function()
    local dir = helper.tmpdir()
    local f = io.open(dir .. "/bad.json", "w")
    f:write('{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read"],"action":"SCMP_ACT_NOTIFY"}]}')
    f:close()
    local ok, out, code = helper.sh(("%s run --seccomp %s/bad.json -- /bin/true"):format(N, dir))
    helper.rmtree(dir)
    assert.is_false(ok)
    assert.equal(125, code)
    assert.matches("bad%.json: syscalls%[0%]%.action: SCMP_ACT_NOTIFY: a JSON profile here cannot name", out)
    assert.not_matches("traceback", out)
  end)
end)
