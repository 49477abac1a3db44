-- spec/core/seccomp_spec.lua - core.seccomp: resolving names, compiling
-- profiles to BPF (the program's shape, libseccomp failures) and loading
-- filters in children, observed through the syscalls they refuse.
local helper = require "helper"
local core = require "nslua.core"
local sc, E = core.seccomp, core.errno

local EXDEV <const> = 18

-- The instructions of a program as {code, jt, jf, k} tables.
local function insns(bpf)
  local t = {}
  for i = 1, #bpf, 8 do
    local code, jt, jf, k = string.unpack("<I2I1I1I4", bpf, i)
    t[#t + 1] = { code = code, jt = jt, jf = jf, k = k }
  end
  return t
end

local function has_k(bpf, code, k)
  for _, ins in ipairs(insns(bpf)) do
    if ins.code == code and ins.k == k then return true end
  end
  return false
end

local BPF_RET_K <const> = 0x06
local BPF_JEQ_K <const> = 0x15
local x86_64
do
  local f = assert(io.popen("uname -m"))
  x86_64 = f:read("l") == "x86_64"
  f:close()
end

local PRE = [[
local core = require "nslua.core"
local sc, proc = core.seccomp, core.proc
local function T(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  print(table.concat(t, "|"))
end
local function field(name)
  local f = assert(io.open("/proc/self/status"))
  local s = f:read("a")
  f:close()
  return s:match(name .. ":%s*(%d+)")
end
local function done()
  io.stdout:flush()
  proc._exit(0)
end
]]

teardown(function()
  helper.cleanup_rootless_tree()
end)

describe("nslua.core.seccomp", function()
  describe("version and resolve", function()
    it("reports the libseccomp in use", function()
      local ok, v = helper.sh("pkg-config --modversion libseccomp")
      assert.is_true(ok)
      assert.equal(v:gsub("\n$", ""), sc.version())
    end)

    it("resolves native and other arches' numbers", function()
      assert.equal(0, sc.resolve("read"))
      assert.equal(sc.resolve("read", "native"), sc.resolve("read"))
      assert.equal(435, sc.resolve("clone3"))
      assert.equal(212, sc.resolve("chown32", "x86"))
      assert.is_nil(sc.resolve("no_such_syscall"))
      if x86_64 then assert.is_nil(sc.resolve("chown32")) end
    end)

    it("raises on an unknown architecture", function()
      assert.has_error(function() sc.resolve("read", "vax") end,
        "bad argument #2 to 'resolve' (unknown architecture 'vax')")
    end)
  end)

  describe("compile", function()
    it("returns whole struct sock_filter programs ending in a return", function()
      local bpf = assert(sc.compile { default = "allow",
        syscalls = { { name = "mkdir", action = { errno = EXDEV } } } })
      assert.equal("string", type(bpf))
      assert.equal(0, #bpf % 8)
      local t = insns(bpf)
      assert.same({ code = 0x20, jt = 0, jf = 0, k = 4 }, t[1])  -- ld [arch]
      assert.equal(BPF_RET_K, t[#t].code)
      assert.is_true(has_k(bpf, BPF_RET_K, 0x00050000 | EXDEV))
      assert.is_true(has_k(bpf, BPF_RET_K, 0x7fff0000))            -- the default
      assert.is_true(has_k(bpf, BPF_RET_K, 0x80000000))            -- badarch: kill_process
      assert.is_false(has_k(bpf, BPF_RET_K, 0x00050000 | E.ENOSYS))
    end)

    it("prepends the unknown_above check with the highest number named", function()
      local bpf = assert(sc.compile { default = "errno", unknown_above = "enosys",
        syscalls = { { names = { "read", "write" }, action = "allow" },
                     { nr = 462, action = "allow" }, { name = "mount" } } })
      local t = insns(bpf)
      assert.same({ code = 0x25, jt = 0, jf = 1, k = 462 }, t[5])  -- jgt 462
      assert.same({ code = BPF_RET_K, jt = 0, jf = 0, k = 0x00050000 | E.ENOSYS }, t[6])
      assert.same({ code = 0x20, jt = 0, jf = 0, k = 4 }, t[7])    -- libseccomp's start
      if x86_64 then assert.equal(0xc000003e, t[2].k) end
    end)

    it("adds other arches when asked", function()
      local native = assert(sc.compile { syscalls = { { name = "read", action = "allow" } } })
      local multi = assert(sc.compile { arches = { "native", "x86" },
        syscalls = { { names = { "read", "chown32" }, action = "allow" },
                     { nr = 462, action = "allow" } } })
      assert.is_true(#multi > #native)
      assert.is_true(has_k(multi, BPF_JEQ_K, 0x40000003))  -- AUDIT_ARCH_I386
      assert.is_false(has_k(native, BPF_JEQ_K, 0x40000003))
    end)

    it("fails with EINVAL when libseccomp refuses a rule", function()
      local bpf, msg, code = sc.compile { syscalls = { { name = "socket", action = "allow",
        args = { { index = 0, op = "ne", value = 1 }, { index = 0, op = "ne", value = 2 } } } } }
      assert.is_nil(bpf)
      assert.equal("seccomp_rule_add 'socket': Invalid argument", msg)
      assert.equal(E.EINVAL, code)
    end)

    it("fails with E2BIG when the program exceeds the kernel's 4096 instructions", function()
      local s = {}
      for i = 1, 5000 do
        s[i] = { name = "ioctl", action = "allow", args = { { index = 1, op = "eq", value = i } } }
      end
      local bpf, msg, code = sc.compile { syscalls = s }
      assert.is_nil(bpf)
      assert.equal("seccomp_export_bpf: Argument list too long", msg)
      assert.equal(E.E2BIG, code)
    end)

    it("raises on misuse, naming the place", function()
      local function c(p) return function() sc.compile(p) end end
      assert.has_error(c("default"),
        "bad argument #1 to 'compile' (table expected, got string)")
      assert.has_error(c { syscalls = { { name = "read", action = "allow" }, { name = "nosuch" } } },
        "bad argument #1 to 'compile' (syscalls[2]: unknown syscall 'nosuch')")
      assert.has_error(c { syscalls = { { name = "read", action = "alow" } } },
        "bad argument #1 to 'compile' (syscalls[1]: unknown action 'alow' (valid: allow "
        .. "enosys errno kill kill_process kill_thread log trace trap))")
      assert.has_error(c { syscalls = { { name = "read", nr = 0 } } },
        "bad argument #1 to 'compile' (syscalls[1]: give exactly one of 'names', 'name' or 'nr')")
      assert.has_error(c { syscalls = { { name = "read", args = { { index = 0, op = "masked_eq",
        value = 1 } } } } },
        "bad argument #1 to 'compile' (syscalls[1].args[1]: op 'masked_eq' needs an "
        .. "integer field 'mask')")
      assert.has_error(c { syscalls = { { name = "read", args = { { index = 6, op = "eq",
        value = 1 } } } } },
        "bad argument #1 to 'compile' (syscalls[1].args[1]: field 'index' out of range)")
      assert.has_error(c { default = { errno = 5000 } },
        "bad argument #1 to 'compile' (default: field 'errno' out of range)")
      assert.has_error(c { arches = { "vax" } },
        "bad argument #1 to 'compile' (arches: unknown architecture 'vax')")
      assert.has_error(c { syscalls = { { nr = -1 } } },
        "bad argument #1 to 'compile' (syscalls[1]: a syscall is a name or a number in "
        .. "0..0x3fffffff)")
    end)
  end)

  describe("load", function()
    it("raises on what is not a program, and on unknown options", function()
      assert.has_error(function() sc.load("1234567") end,
        "bad argument #1 to 'load' (not a BPF program (a non-empty multiple of 8 bytes, "
        .. "at most 4096 instructions))")
      assert.has_error(function() sc.load(("\0"):rep(8), { nnp = true }) end,
        "bad argument #2 to 'load' (unknown flag 'nnp' (valid: no_new_privs))")
    end)

    it("filters the caller: errno, without no_new_privs as root #priv", function()
      if not helper.is_root() then return pending("needs root") end
      local ok, out = helper.run_isolated(PRE .. ([[
        local bpf = assert(sc.compile { default = "allow",
          syscalls = { { names = { "open", "openat" }, action = "errno", errno = %d } } })
        local status = assert(io.open("/proc/self/status"))  -- opened before the filter
        T(sc.load(bpf))
        local st = status:read("a")
        T(st:match("Seccomp:%%s*(%%d+)"), st:match("NoNewPrivs:%%s*(%%d+)"))
        T(io.open("/etc/hostname"))
        done()
      ]]):format(EXDEV))
      assert.is_true(ok, out)
      assert.equal("true\n2|0\nnil|/etc/hostname: Invalid cross-device link|18\n", out)
    end)

    it("answers ENOSYS above the highest number named (unknown_above)", function()
      local ok, out = helper.run_isolated(PRE .. [[
        -- exit_group (231) has the default action: it only documents, and
        -- raises the bar to 231; openat (257) is above it
        local bpf = assert(sc.compile { default = "allow", unknown_above = "enosys",
          syscalls = { { name = "exit_group", action = "allow" },
                       { name = "mkdir", action = "kill" } } })
        T(sc.load(bpf, { no_new_privs = true }))
        T(io.open("/etc/hostname"))
        done()
      ]])
      assert.is_true(ok, out)
      assert.equal("true\nnil|/etc/hostname: Function not implemented|" .. E.ENOSYS .. "\n", out)
    end)

    it("kills the process with SIGSYS for a kill action", function()
      local ok, out, rc = helper.run_isolated(PRE .. [[
        assert(sc.load(assert(sc.compile { default = "allow",
          syscalls = { { names = { "open", "openat" }, action = "kill" } } }),
          { no_new_privs = true }))
        io.open("/etc/hostname")
        print("survived")
        done()
      ]])
      assert.is_false(ok)
      assert.equal(128 + 31, rc, out)
      assert.not_matches("survived", out)
    end)

    it("fails with EACCES unprivileged without no_new_privs", function()
      local ok, out = helper.run_rootless(PRE .. [[
        local bpf = assert(sc.compile { default = "allow" })
        T(sc.load(bpf))
        T(field("Seccomp"), field("NoNewPrivs"))
        T(sc.load(bpf, { no_new_privs = true }))
        T(field("Seccomp"), field("NoNewPrivs"))
        done()
      ]])
      assert.is_true(ok, out)
      assert.equal("nil|prctl 'PR_SET_SECCOMP': Permission denied|" .. E.EACCES
        .. "\n0|0\ntrue\n2|1\n", out)
    end)
  end)
end)
