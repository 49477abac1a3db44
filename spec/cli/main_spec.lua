-- spec/cli/main_spec.lua - the `nslua` command's layout: one module per
-- subcommand under nslua.cli, the dispatch rules, ps --json, explain --json.
local helper = require "helper"
local cjson = require "cjson"

local N = helper.nslua
local q = helper.quote

describe("nslua.cli", function()
  it("require 'nslua.cli' is the main module", function()
    local cli = require "nslua.cli"
    assert.equal(require "nslua.cli.main", cli)
    assert.is_function(cli.main)
  end)

  it("has a loadable module with main(args) for every subcommand", function()
    local main = require "nslua.cli.main"
    for name in pairs(main.SUBCOMMANDS) do
      if name ~= "help" then
        local ok, mod = pcall(require, "nslua.cli." .. name)
        assert.is_true(ok, mod)
        assert.is_function(mod.main, name)
      end
    end
    -- the library behind Container:exec keeps its path
    assert.is_function(require("nslua.exec").exec)
  end)

  it("tells recipe files from names", function()
    local main = require "nslua.cli.main"
    assert.is_true(main.is_recipe_path("./x"))
    assert.is_true(main.is_recipe_path("x.lua"))
    assert.is_true(main.is_recipe_path("/srv/recipes/judge"))
    assert.is_false(main.is_recipe_path("judge"))
    assert.is_false(main.is_recipe_path("run"))
    assert.is_string(main.builtin("sandbox"))
    assert.is_nil(main.builtin("no-such-recipe"))
  end)

  describe("dispatch", function()
    it("exits 125 naming an unknown option, subcommand or recipe, 0 for help", function()
      local _, out, code = helper.sh(N .. " --bogus")
      assert.equal(125, code, out)
      assert.matches("unknown option '--bogus'", out, 1, true)
      _, out, code = helper.sh(N .. " no-such-thing")
      assert.equal(125, code, out)
      assert.matches("'no-such-thing' is neither a subcommand, a recipe file nor a built-in recipe", out, 1, true)
      _, out, code = helper.sh(N)
      assert.equal(125, code, out)
      local ok
      ok, out = helper.sh(N .. " help")
      assert.is_true(ok, out)
      assert.matches("nslua ps [--json]", out, 1, true)
      ok, out = helper.sh(N .. " help run")
      assert.is_true(ok, out)
      assert.matches("--memory", out, 1, true)
    end)

    it("runs a recipe file, a path and a built-in name", function()
      local dir = helper.tmpdir("0755")
      local f = assert(io.open(dir .. "/r", "w"))
      f:write("return 7\n")
      f:close()
      local _, out, code = helper.sh(("%s %s/r"):format(N, q(dir)))
      helper.rmtree(dir)
      assert.equal(7, code, out)
      local ok
      ok, out = helper.sh(N .. " sandbox -- /bin/echo built-in")
      assert.is_true(ok, out)
      assert.equal("built-in\n", out)
    end)

    it("kicks a cgroup join's grace period first when the line will make cgroups", function()
      local main = require "nslua.cli.main"
      local real_cg, real_err = package.loaded["nslua.cgroup"], io.stderr
      local kicks = 0
      package.loaded["nslua.cgroup"] = { kick = function() kicks = kicks + 1 return true end }
      local function kicked(cmd, ...)
        kicks = 0
        main.early_kick(cmd, table.pack(...))
        return kicks == 1
      end
      local ok, err = pcall(function()
        assert.is_true(kicked("run", "--memory", "64M", "--", "/bin/true"))
        assert.is_true(kicked("run", "--ro-bind", "/", "/", "--pids=8", "/bin/true"))
        assert.is_true(kicked("run", "--time", "1", "--", "/bin/true"))
        assert.is_false(kicked("run", "--hostname", "x", "--output", "1M", "--", "/bin/true"))
        assert.is_false(kicked("run", "--", "/bin/sh", "--memory", "1M"))
        assert.is_true(kicked("judge", "--", "/bin/true"))
        assert.is_true(kicked("isolate", "--cg", "-b", "3", "--run", "--", "/bin/true"))
        assert.is_false(kicked("isolate", "-b", "3", "--run", "--", "/bin/true"))
        assert.is_false(kicked("isolate", "--cg", "-b", "3", "--init"))
        assert.is_false(kicked("ps", "--memory"))
        assert.is_true(kicked("oci", "--root", "/r", "run", "--bundle", "b", "id"))
        assert.is_true(kicked("oci", "create", "--bundle", "b", "id"))
        assert.is_false(kicked("oci", "--root", "/r", "start", "id"))
        assert.is_false(kicked("oci", "state", "id"))
        -- the command word only, never an id or a value that reads "run"
        assert.is_false(kicked("oci", "state", "run"))
        assert.is_false(kicked("oci", "--root", "run", "list"))
        assert.is_false(kicked("oci", "delete", "--force", "create"))
        assert.is_true(kicked("oci", "--root=/r", "--debug", "create", "x"))
        -- through main, before the options are parsed: a line that then
        -- fails has kicked (the messages go to a muted stderr)
        io.stderr = { write = function() return true end } -- luacheck: ignore 122
        kicks = 0
        assert.equal(125, main.main({ "run", "--memory", "64M", "--no-such-option" }))
        assert.equal(1, kicks)
        kicks = 0
        assert.equal(2, main.main({ [0] = "isolate", "--cg", "--run", "--no-such-option" }))
        assert.equal(1, kicks)
        kicks = 0
        assert.equal(1, main.main({ [0] = "/x/nslua-oci", "run", "--no-such-option" }))
        assert.equal(1, kicks)
      end)
      io.stderr = real_err -- luacheck: ignore 122
      package.loaded["nslua.cgroup"] = real_cg
      assert(ok, err)
    end)

    it("exits 125 for an unknown argument of ps and gc", function()
      local _, out, code = helper.sh(N .. " ps --bogus")
      assert.equal(125, code, out)
      assert.matches("ps: unknown argument '--bogus'", out, 1, true)
      _, out, code = helper.sh(N .. " gc --bogus")
      assert.equal(125, code, out)
    end)
  end)

  describe("ps --json", function()
    it("encodes state records, an empty list as []", function()
      local ps = require "nslua.cli.ps"
      assert.equal("[]", ps.json(ps.rows {}))
      local rows = ps.rows { { id = "abcd1234", alive = true, info = {
        name = "web", argv = "/bin/sleep", owner_pid = 10, init_pid = 11, cgroup = "abcd1234",
        cgroup_dirs = "/sys/fs/cgroup/a\t/sys/fs/cgroup/b", namespaces = "mnt\tpid",
        net = "none", user_mode = "slot", uid = 65534, gid = 65534, env = "SECRET=x" } },
        { id = "efgh5678", alive = false, info = { name = "", argv = "pool", cgroup_dirs = "" } } }
      local list = cjson.decode(ps.json(rows))
      assert.equal(2, #list)
      assert.same({ id = "abcd1234", name = "web", state = "running", alive = true, owner_pid = 10,
        init_pid = 11, command = "/bin/sleep", cgroup = "abcd1234", net = "none", user_mode = "slot",
        uid = 65534, gid = 65534, cgroup_dirs = { "/sys/fs/cgroup/a", "/sys/fs/cgroup/b" },
        namespaces = { "mnt", "pid" } }, list[1])
      assert.same({ id = "efgh5678", state = "stale", alive = false, command = "pool" }, list[2])
    end)

    it("lists a running container as a JSON array", function()
      local name = "ps-json-" .. tostring(os.time() % 100000)
      local ok, out = helper.sh(([[
        %s run --name %s -- /bin/sleep 30 >/dev/null 2>&1 & p=$!
        for i in $(seq 50); do %s ps | grep -q %s && break; sleep 0.1; done
        %s ps --json 2>/dev/null; echo
        kill -TERM $p; wait $p 2>/dev/null
        true]]):format(N, name, N, name, N))
      assert.is_true(ok, out)
      local json = out:match("^%s*(%[.-%])%s*$")
      assert.is_string(json, out)
      local list = cjson.decode(json)
      local mine
      for _, r in ipairs(list) do
        if r.name == name then mine = r end
      end
      assert.is_table(mine, out)
      assert.equal("running", mine.state)
      assert.is_true(mine.alive)
      assert.equal("/bin/sleep", mine.command)
      assert.matches("^[a-z0-9]+$", mine.id)
      assert.is_number(mine.init_pid)
      -- its owner ended: so did its record
      if helper.is_root() then assert.is_false(helper.exists("/run/nslua/" .. mine.id)) end
    end)
  end)

  describe("explain --json", function()
    it("prints the plan as JSON, with the options anywhere before --", function()
      local ok, out = helper.sh(N .. " explain --hostname h --json -- /bin/true --json")
      assert.is_true(ok, out)
      local plan = cjson.decode(out)
      assert.equal("h", plan.hostname)
      assert.same({ "/bin/true", "--json" }, plan.exec.argv)
      ok, out = helper.sh(N .. " explain --json sandbox -- /bin/true")
      assert.is_true(ok, out)
      assert.equal("sandbox", cjson.decode(out).hostname)
    end)

    it("runs nothing for a recipe that drives the API itself (exit 125)", function()
      local dir = helper.tmpdir("0777")
      local _, out, code = helper.sh(N .. " explain judge --stdout " .. dir .. "/out -- /bin/echo ran")
      local ran = (helper.read(dir .. "/out") or "") ~= ""
      helper.rmtree(dir)
      assert.equal(125, code, out)
      assert.matches("drives the API itself; there is no plan to print", out, 1, true)
      assert.is_false(ran, "explain ran the recipe's program")
    end)

    it("prints the text plan otherwise", function()
      local ok, out = helper.sh(N .. " explain --hostname h -- /bin/true --json")
      assert.is_true(ok, out)
      assert.matches("exec: /bin/true --json", out, 1, true)
    end)
  end)
end)
