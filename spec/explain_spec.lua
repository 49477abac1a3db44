-- spec/explain_spec.lua - explain tells the truth: what `nslua explain
-- --json` prints, and what resources.dry + launch.plan give, is the plan
-- core.setup received, for every built-in recipe and for `run` option
-- combinations (privileged binds, rootless, --rootfs, --net veth, --caps,
-- hooks).  Each case runs for real in a fresh lua5.4; the resource-made
-- values (the id, the slot's first host id) are handed to explain, which
-- cannot know them in advance.
local helper = require "helper"

-- The child: run `nslua ARGS` with core.setup.plan watched, then `nslua
-- explain --json ARGS` with the ids of that run; print what differs.
local CHILD = [[
local ARGS = ARGS_HERE
local core = require "nslua.core"
local launch = require "nslua.launch"
local resources = require "nslua.resources"
local cli = require "nslua.cli"
local last, got, n, bad = nil, {}, 0, {}
local plan_fn = launch.plan
launch.plan = function(spec, res)
  last = { spec = spec, res = res }
  return plan_fn(spec, res)
end
local setup_plan = core.setup.plan
core.setup.plan = function(plan, rt)
  n = n + 1
  local json = launch.json(plan)
  got[#got + 1] = json
  -- the dry resources explain uses, with the ids this run was given
  local r = last.res
  local dry = assert(resources.dry(last.spec, { id = r.id, host_uid = r.host_uid, host_gid = r.host_gid,
                                                pool = r.pool }))
  local want = launch.json(plan_fn(last.spec, dry))
  if want ~= json then bad[#bad + 1] = "dry: " .. want .. "\nran: " .. json end
  return setup_plan(plan, rt)
end
local rc = cli.main(ARGS)
launch.plan = plan_fn
core.setup.plan = setup_plan
if EXPLAIN and n == 1 then
  local r = last.res
  local dry = resources.dry
  resources.dry = function(spec) return dry(spec, { id = r.id, host_uid = r.host_uid, host_gid = r.host_gid }) end
  local out = {}
  local print0 = print
  print = function(s) out[#out + 1] = s end
  local eargs = { "explain", "--json", table.unpack(ARGS, ARGS[1] == "run" and 2 or 1) }
  local erc = cli.main(eargs)
  print = print0
  resources.dry = dry
  if erc ~= 0 then bad[#bad + 1] = "explain exit " .. tostring(erc) end
  if table.concat(out, "\n") ~= got[1] then
    bad[#bad + 1] = "explain --json: " .. table.concat(out, "\n") .. "\nran: " .. got[1]
  end
end
io.write("rc=", tostring(rc), " plans=", n, "\n")
for _, b in ipairs(bad) do io.write("DIFF ", b, "\n") end
]]

local function case(args, explain)
  local list = {}
  for i, a in ipairs(args) do list[i] = ("%q"):format(a) end
  local code = CHILD:gsub("ARGS_HERE", function() return "{ " .. table.concat(list, ", ") .. " }" end)
    :gsub("EXPLAIN", explain and "true" or "false")
  return code
end

local function check(ok, out, plans)
  assert.is_true(ok, out)
  assert.not_matches("DIFF", out)
  local n = tonumber(out:match("plans=(%d+)"))
  assert.is_true(n ~= nil and n >= (plans or 1), out)
end

describe("explain", function()
  local dir
  setup(function()
    dir = helper.tmpdir("0755")
    assert(helper.sh(("mkdir -p %s/src && echo x > %s/src/f"):format(dir, dir)))
  end)
  teardown(function() helper.rmtree(dir) end)

  local RUN_CASES = {
    { "--hostname", "h", "--memory", "64M", "--pids", "32" },
    { "--bind", "SRC", "/mnt", "--ro-bind", "SRC/f", "/etc/motd", "--tmpfs", "/mnt/t",
      "--bind-try", "/nonexistent", "/n" },
    { "--caps", "chown,net_bind_service", "--uid", "0" },
    { "--map-all", "--cwd", "/tmp", "--env", "A=1", "--rlimit", "nofile=64", "--time", "2", "--wall", "5" },
    { "--user", "host", "--net", "host" },
    { "--seccomp", "none", "--file", "/etc/x", "content", "--symlink", "/etc/x", "/etc/y" },
  }

  for i, opts in ipairs(RUN_CASES) do
    it(("matches the executor's plan for run options #%d: %s #priv"):format(i, table.concat(opts, " ")), function()
      if not helper.is_root() then return pending("needs root") end
      local args = { "run" }
      for _, o in ipairs(opts) do args[#args + 1] = (o:gsub("^SRC", dir .. "/src")) end
      args[#args + 1] = "--"
      args[#args + 1] = "/bin/true"
      check(helper.run_isolated(case(args, true)))
    end)
  end

  it("matches the executor's plan for --rootfs #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local root = dir .. "/rootfs"
    assert(helper.sh(helper.root .. "/scripts/mkrootfs.sh " .. root))
    check(helper.run_isolated(case({ "run", "--rootfs", root, "--", "/bin/true" }, true)))
  end)

  it("matches the executor's plan for --net veth (in a private network namespace) #priv", function()
    if not helper.is_root() then return pending("needs root (a veth plan needs CAP_NET_ADMIN)") end
    check(helper.run_isolated(case({ "run", "--net", "veth", "--", "/bin/true" }, true), "unshare -n"))
  end)

  it("matches the executor's plan rootless, with binds", function()
    local file = helper.rootless_tree() .. "/explain-case.lua"
    local f = assert(io.open(file, "w"))
    f:write(case({ "run", "--bind", "/tmp", "/mnt", "--caps", "chown", "--", "/bin/true" }, true))
    f:close()
    local ok, out = helper.run_rootless(("package.path = %q .. package.path\ndofile(%q)")
      :format(helper.rootless_tree() .. "/lua/?.lua;" .. helper.rootless_tree() .. "/lua/?/init.lua;", file))
    os.remove(file)
    check(ok, out)
  end)

  it("matches the executor's plan for a recipe with child hooks #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local recipe = dir .. "/hooks.lua"
    local f = assert(io.open(recipe, "w"))
    f:write([[return { argv = { "/bin/true" },
      hooks = { before_pivot = function() end, before_exec = function() end, after_exit = function() end } }]])
    f:close()
    check(helper.run_isolated(case({ recipe }, true)))
  end)

  -- The process fields (bwrap's front end): a cwd list, argv0, session,
  -- no init, lock files, sync fds (a fixed fd, the same in both runs, at
  -- end of file), and host root keeping every capability.
  for i, fields in ipairs {
    [[cwd = { "/nonexistent", "/tmp" }, set_pwd = true, argv0 = "a0", session = "keep", init = false,
      die_with_parent = true, lock_files = { "/etc/hostname" }, sync = { block_fd = 50, sync_fd = 2 }]],
    [[user = "host", caps = { "all" }, net = "host", lock_files = { "/etc/hostname" }, sync = { sync_fd = 2 }]],
    [[stdio = { stdin = { inside = "/etc/hostname" }, stdout = { inside = "/dev/null" }, stderr = "stdout" },
      exec_error = "stderr"]],
  } do
    it(("matches the executor's plan for the process fields #%d #priv"):format(i), function()
      if not helper.is_root() then return pending("needs root") end
      local recipe = ("%s/process%d.lua"):format(dir, i)
      local f = assert(io.open(recipe, "w"))
      f:write(([[
local proc = require("nslua.core").proc
local r, w = assert(proc.pipe())
assert(proc.dup2(r, 50))
r:close()
w:close()
return { argv = { "/bin/true" }, %s }
]]):format(fields))
      f:close()
      check(helper.run_isolated(case({ recipe }, true)))
    end)
  end
  it("matches the executor's plan for bwrap's namespace fds and raw filters #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local recipe = dir .. "/bwrap-ns.lua"
    local f = assert(io.open(recipe, "w"))
    -- the pid namespace fd is opened once: explain loads the recipe again
    f:write([[
      local core = require "nslua.core"
      NSLUA_SPEC_PIDNS = NSLUA_SPEC_PIDNS or assert(core.ns.open(0, "pid"))
      local allow = string.pack("<I2BBI4", 0x06, 0, 0, 0x7fff0000)
      return { argv = { "/bin/true" }, seccomp = "none", seccomp_bpf = { allow, allow .. allow },
               pidns_fd = NSLUA_SPEC_PIDNS:fileno(), userns = { disable = true, assert_disabled = true } }
    ]])
    f:close()
    local ok, out = helper.run_isolated(case({ recipe }, true))
    check(ok, out)
    assert.matches("rc=0", out)
  end)

  -- Built-in recipes that are a spec: their plan; those that drive the API
  -- (a pool, several containers): every plan they hand the executor.
  for _, r in ipairs {
    { "sandbox", "/bin/true" }, { "tutorial-uts" }, { "tutorial-pid" }, { "tutorial-mount" },
    { "tutorial-net" }, { "tutorial-socket" }, { "judge", "--", "/bin/true" },
    { "readonly-files", "/tmp", "--", "/bin/true" }, { "mount-tmpfs", "--", "/bin/true" },
    { "connect-only", "--net", "none", "127.0.0.1:1", "--", "/bin/true" },
  } do
    it(("matches the executor's plan for the built-in recipe %s #priv"):format(r[1]), function()
      if not helper.is_root() then return pending("needs root") end
      check(helper.run_isolated(case(r, r[1] == "sandbox")))
    end)
  end

  it("matches the executor's plan for every run of judge --tests (a pool lease) #priv", function()
    if not helper.is_root() then return pending("needs root") end
    local tests = dir .. "/tests"
    assert(helper.sh(("mkdir -p %s && echo a > %s/1.in && echo a > %s/1.out && echo b > %s/2.in && echo b > %s/2.out")
      :format(tests, tests, tests, tests, tests)))
    local ok, out = helper.run_isolated(case({ "judge", "--tests", tests, "--", "/bin/cat" }))
    check(ok, out, 2)
  end)

  it("matches the executor's plan for the veth recipes (in a private network namespace) #priv", function()
    if not helper.is_root() then return pending("needs root (veth plans need CAP_NET_ADMIN)") end
    for _, r in ipairs { "tutorial-veth", "netpair" } do
      check(helper.run_isolated(case({ r }), "unshare -n sh -c 'ip link set lo up; exec \"$0\" \"$@\"'"))
    end
  end)
end)
