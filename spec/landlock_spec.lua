-- spec/landlock_spec.lua - `landlock = {...}` and --landlock-*: the plan
-- (nslua.landlock on canned ABIs, compose's intersection), then real runs
-- of `nslua run` and the API, privileged and rootless: a write, an exec
-- and a TCP connect or bind outside the lists are refused, those inside
-- work; the report, explain, doctor and bad input.  Network cases use the
-- sandbox's own network namespace (lo only), never the host's.
local helper = require "helper"
local cjson = require "cjson"
local core = require "nslua.core"
local landlock = require "nslua.landlock"
local policy = require "nslua.policy"

local q = helper.quote
local N = helper.nslua
local ABI = core.landlock.abi()

-- The nslua command as root (false) or as the rootless test user (true).
local function nslua_cmd(rootless)
  return rootless and helper.rootless_nslua() or N
end

local function modes()
  return helper.is_root() and { false, true } or { true }
end

local function mode_name(rootless)
  return rootless and "rootless" or "privileged"
end

-- The loader and programs of the host layout: what exec and read need.
local SYSTEM = "--landlock-%s /usr --landlock-%s /lib --landlock-%s /lib64 --landlock-%s /bin"
local function system(cat) return SYSTEM:format(cat, cat, cat, cat) end

-- A Python TCP probe: listeners (bound before the ruleset matters only
-- for connect: connect-only policies leave bind alone), then connects.
local CONNECT_PY = [[
import socket, errno
ls = []
for p in (8081, 8082):
    s = socket.socket(); s.bind(("127.0.0.1", p)); s.listen(); ls.append(s)
def con(p):
    c = socket.socket()
    try:
        c.connect(("127.0.0.1", p)); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print("connect", con(8081), con(8082))
]]

local BIND_PY = [[
import socket, errno
def bind(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return "ok"
    except OSError as e:
        return errno.errorcode[e.errno]
print("bind", bind(8081), bind(8082), bind(0))
]]

describe("landlock plan (pure)", function()
  it("masks rights the ABI lacks and lists them as not enforced", function()
    local p = landlock.plan({ write = { "/tmp" }, connect = { 80 } }, 2)
    assert.is_true(p.fs.refer)
    assert.is_nil(p.fs.truncate)
    assert.is_nil(p.net)
    local nots = {}
    for _, u in ipairs(p.unenforced) do nots[#nots + 1] = u.category .. ":" .. (u.right or u.port) end
    assert.same({ "write:truncate", "connect:80" }, nots)
    local r = landlock.report(p, {})
    assert.same({ { category = "write", path = "/tmp" } }, r.enforced)
    assert.equal(2, #r.not_enforced)
    assert.matches("needs Landlock ABI 3 %(the kernel has 2%)", r.not_enforced[1].reason)
    assert.matches("TCP port rules need Landlock ABI 4", r.not_enforced[2].reason)
  end)

  it("restricts only the categories present; refer stays allowed without write", function()
    local p = landlock.plan({ read = { "/usr" } }, 7)
    assert.same({ read_file = true, read_dir = true, refer = true }, p.fs)
    assert.is_nil(p.net)
    assert.same({ category = "rename", path = "/", access = { refer = true } }, p.rules[2])
    assert.is_nil(landlock.plan({}, 7))
    local w = landlock.plan({ write = {} }, 7)
    assert.equal(0, #w.rules)
    assert.is_true(w.fs.write_file and w.fs.truncate and not w.fs.read_file)
  end)

  it("composes per category as an intersection", function()
    local s = policy.compose(
      { landlock = { read = { "/usr", "/etc" }, write = { "/tmp" }, connect = { 80, 443 } } },
      { landlock = { read = { "/usr/lib", "/home" }, connect = { 443, 8080 }, bind = { 0 } } },
      { landlock = { exec = { "/usr/bin" } } })
    assert.same({ read = { "/usr/lib" }, write = { "/tmp" }, connect = { 443 }, bind = { 0 },
                  exec = { "/usr/bin" } }, s.landlock)
    -- disjoint lists leave nothing allowed (never the union)
    assert.same({ write = {} },
      policy.compose({ landlock = { write = { "/tmp" } } }, { landlock = { write = { "/var" } } }).landlock)
    assert.same({ read = { "/" } },
      policy.compose({ landlock = { read = { "/" } } }, { landlock = { read = { "/" } } }).landlock)
  end)

  it("the operator's category replaces the recipe's, the others stay", function()
    local s = policy.override({ landlock = { read = { "/usr" }, write = { "/tmp" } } },
      { landlock = { write = { "/data" } } })
    assert.same({ read = { "/usr" }, write = { "/data" } }, s.landlock)
  end)
end)

describe("landlock runs", function()
  local t, dir
  before_each(function()
    t = helper.track()
    dir = helper.tmpdir("0755")
  end)
  after_each(function()
    helper.rmtree(dir)
    helper.assert_released(t)
  end)

  for _, rootless in ipairs(modes()) do
    local name = mode_name(rootless)

    it(name .. ": a write outside the write list is EACCES, one inside works", function()
      if not ABI then return pending("this kernel has no Landlock") end
      local ok, out, code = helper.sh(("cd /tmp; %s run --tmpfs /data --landlock-write /tmp -- sh -c "
        .. "'echo a > /tmp/a && echo inside-ok; echo b > /data/b || echo outside-refused; cat /tmp/a'")
        :format(nslua_cmd(rootless)))
      assert.is_true(ok, out)
      assert.equal(0, code)
      assert.matches("inside%-ok\n", out)
      assert.matches("/data/b: Permission denied", out)
      assert.matches("outside%-refused\na\n$", out)
    end)

    it(name .. ": an exec outside the exec list is refused (126)", function()
      if not ABI then return pending("this kernel has no Landlock") end
      local _, out, code = helper.sh(("cd /tmp; %s run %s -- sh -c "
        .. "'cp /usr/bin/true /tmp/t && /usr/bin/true && echo usr-ok; /tmp/t; echo rc=$?'")
        :format(nslua_cmd(rootless), system("exec")))
      assert.equal(0, code, out)
      assert.matches("usr%-ok\n", out)
      assert.matches("Permission denied", out)
      assert.matches("rc=126\n$", out)
    end)

    it(name .. ": a TCP connect to a port not listed is EACCES, a listed one works", function()
      if not ABI or ABI < 4 then return pending("needs Landlock ABI 4") end
      local _, out, code = helper.sh(("cd /tmp; %s run --landlock-connect 8081 -- /usr/bin/python3 -c %s")
        :format(nslua_cmd(rootless), q(CONNECT_PY)))
      assert.equal(0, code, out)
      assert.equal("connect ok EACCES\n", out)
    end)
  end

  it("bind: only the listed ports; port 0 (ephemeral) needs its own rule", function()
    if not ABI or ABI < 4 then return pending("needs Landlock ABI 4") end
    local _, out, code = helper.sh(("cd /tmp; %s run --landlock-bind 8081 -- /usr/bin/python3 -c %s")
      :format(N, q(BIND_PY)))
    assert.equal(0, code, out)
    assert.equal("bind ok EACCES EACCES\n", out)
    _, out, code = helper.sh(("cd /tmp; %s run --landlock-bind 8081 --landlock-bind 0 -- /usr/bin/python3 -c %s")
      :format(N, q(BIND_PY)))
    assert.equal(0, code, out)
    assert.equal("bind ok EACCES ok\n", out)
  end)

  it("read: a file outside the read list is EACCES; renames across directories work", function()
    if not ABI then return pending("this kernel has no Landlock") end
    local _, out, code = helper.sh(("cd /tmp; %s run %s --landlock-read /tmp -- sh -c "
      .. "'mkdir /tmp/a /tmp/b && echo x > /tmp/a/f && mv /tmp/a/f /tmp/b/f && cat /tmp/b/f; "
      .. "cat /proc/self/status > /dev/null || echo proc-refused'"):format(N, system("read")))
    assert.equal(0, code, out)
    assert.matches("^x\n", out)
    assert.matches("Permission denied", out)
    assert.matches("proc%-refused\n$", out)
  end)

  it("the report lists enforced rules and a path missing in the sandbox as not enforced", function()
    if not ABI then return pending("this kernel has no Landlock") end
    local rep = dir .. "/report.json"
    local _, out, code = helper.sh(("cd /tmp; %s run --landlock-write /tmp --landlock-write /no/such "
      .. "--landlock-connect 8081 --report %s -- true"):format(N, q(rep)))
    assert.equal(0, code, out)
    local r = cjson.decode((assert(helper.read(rep))))
    assert.equal(ABI, r.landlock.abi)
    local want = { { category = "write", path = "/tmp" } }
    if ABI >= 4 then want[2] = { category = "connect", port = 8081 } end
    assert.same(want, r.landlock.enforced)
    assert.equal(1 + (ABI < 4 and 1 or 0) + (ABI < 3 and 1 or 0) + (ABI < 2 and 1 or 0),
      #r.landlock.not_enforced)
    assert.same({ category = "write", path = "/no/such",
                  reason = "not in the sandbox (No such file or directory)" }, r.landlock.not_enforced[1])
  end)

  it("the API: a composed policy runs with the intersection and reports it", function()
    if not ABI then return pending("this kernel has no Landlock") end
    local ok, out = helper.run_isolated(([[
local nslua = require "nslua"
local spec = nslua.policy.compose(
  { argv = { "sh", "-c", "echo a > /tmp/a && echo tmp-ok; echo b > /data/b || echo data-refused" },
    mounts = { { type = "tmpfs", target = "/data" } }, landlock = { write = { "/tmp", "/data" } } },
  { landlock = { write = { "/tmp" } } })
local c = assert(nslua.container(spec))
local r = assert(c:run())
print(r.status, r.exit_code, #r.landlock.enforced, r.landlock.enforced[1].path, #r.landlock.not_enforced)
]]))
    assert.is_true(ok, out)
    assert.matches("tmp%-ok\n", out)
    assert.matches("data%-refused\n", out)
    assert.matches("exited\t0\t1\t/tmp\t0\n$", out)
  end)

  it("no_new_privs = false: the ruleset still applies (CAP_SYS_ADMIN of the sandbox)", function()
    if not ABI then return pending("this kernel has no Landlock") end
    local ok, out = helper.run_isolated([[
local nslua = require "nslua"
local c = assert(nslua.container { no_new_privs = false, landlock = { write = { "/tmp" } },
  mounts = { { type = "tmpfs", target = "/data" } },
  argv = { "sh", "-c", "grep NoNewPrivs /proc/self/status; echo a > /tmp/a && echo tmp-ok; "
    .. "echo b > /data/b || echo data-refused" } })
local r = assert(c:run())
print(r.status, r.exit_code, r.error and r.error.message)
]])
    assert.is_true(ok, out)
    assert.matches("NoNewPrivs:%s+0\n", out)
    assert.matches("tmp%-ok\n", out)
    assert.matches("data%-refused\n", out)
    assert.matches("exited\t0\tnil\n$", out)
  end)

  it("a kernel without Landlock refuses the run, naming landlock", function()
    local ok, out = helper.run_isolated([[
local core = require "nslua.core"
core.landlock.abi = function() return nil, "landlock_create_ruleset: Function not implemented", 38 end
local nslua = require "nslua"
local c = assert(nslua.container { argv = { "true" }, landlock = { write = { "/tmp" } } })
print(c:start())
]])
    assert.is_true(ok, out)
    assert.matches("^nil\t[^\n]*landlock: this kernel cannot enforce it %(landlock_create_ruleset: "
      .. "Function not implemented;[^\n]*\t38\n$", out)
  end)

  it("explain shows the ruleset in text and JSON", function()
    if not ABI then return pending("this kernel has no Landlock") end
    local ok, out = helper.sh(("%s explain --landlock-write /tmp --landlock-bind 0 -- true"):format(N))
    assert.is_true(ok, out)
    assert.matches(("landlock: ABI %d; handles fs %%["):format(ABI), out)
    assert.matches("landlock: write /tmp %[[^\n]*write_file", out)
    if ABI >= 4 then assert.matches("landlock: bind port 0 %[bind_tcp%]", out) end
    ok, out = helper.sh(("%s explain --json --landlock-write /tmp -- true"):format(N))
    assert.is_true(ok, out)
    local plan = cjson.decode(out)
    assert.equal(ABI, plan.exec.landlock.abi)
    assert.same({ category = "write", path = "/tmp", access = plan.exec.landlock.fs },
      plan.exec.landlock.rules[1])
  end)

  it("bad input exits 125 naming the field or option", function()
    local _, out, code = helper.sh(("%s run --landlock-connect 99999 -- true"):format(N))
    assert.equal(125, code, out)
    assert.matches("--landlock-connect: '99999' is not a TCP port 0..65535", out, 1, true)
    _, out, code = helper.sh(("%s run --landlock-read relative -- true"):format(N))
    assert.equal(125, code, out)
    assert.matches("landlock.read[1]: must be an absolute path", out, 1, true)
    local file = dir .. "/bad.lua"
    local f = assert(io.open(file, "w"))
    f:write('return { argv = { "true" }, landlock = { read = { "/usr", 3 }, bind = { -1 }, foo = {} } }\n')
    f:close()
    _, out, code = helper.sh(("%s %s"):format(N, q(file)))
    assert.equal(125, code, out)
    assert.not_matches("traceback", out)
    assert.matches("landlock.read[2]: must be a string", out, 1, true)
    assert.matches("landlock.bind[1]: must be a TCP port 0..65535", out, 1, true)
    assert.matches("landlock.foo: unknown field", out, 1, true)
  end)

  it("doctor reports the ABI", function()
    local ok, out = helper.sh(("%s doctor --json"):format(N))
    assert.is_string(out)
    local d = cjson.decode(out)
    local row
    for _, c in ipairs(d.checks) do if c.check == "landlock.abi" then row = c end end
    assert.is_table(row, tostring(ok))
    assert.equal(ABI or 0, row.abi)
    if ABI then assert.equal(("Landlock ABI %d"):format(ABI), row.detail) end
    local _, text = helper.sh(("%s doctor"):format(N))
    assert.matches("landlock%.abi", text)
  end)
end)
