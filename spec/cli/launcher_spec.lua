-- build/bin/nslua (csrc/launcher.c): the nslua command as a program, Lua
-- and the core in one binary with scripts/nslua built in.  It must behave
-- as `lua5.4 scripts/nslua` does (the suite drives that one everywhere
-- else): the same output and exit codes, its names (nslua-oci, bwrap,
-- isolate), LUA_INIT, ^C, and the checkout found from its own path.
local helper = require "helper"
local q = helper.quote

local BIN = helper.root .. "/build/bin/nslua"
local SCRIPT = helper.LUA .. " " .. q(helper.root .. "/scripts/nslua")
local PROG = helper.san_env .. q(BIN)

-- both ways, the same line: returns {ok, out, code} for each
local function both(args, prefix)
  prefix = prefix or ""
  local a = table.pack(helper.sh(prefix .. SCRIPT .. " " .. args))
  local b = table.pack(helper.sh(prefix .. PROG .. " " .. args))
  return a, b
end

describe("build/bin/nslua", function()
  it("is built by make, with the core in it and no interpreter libraries it does not use", function()
    assert.is_true(helper.exists(BIN))
    local ok, out = helper.sh("ldd " .. q(BIN))
    assert.is_true(ok, out)
    assert.not_matches("libreadline", out)
    assert.not_matches("liblua", out)   -- (Debian has liblua5.4.a: linked in)
    -- the core is preloaded: no core.so is opened
    ok, out = helper.sh(("strace -f -e trace=openat %s --version 2>&1 >/dev/null"):format(PROG))
    if ok and not out:match("strace: ") then
      assert.not_matches("core%.so", out)
    end
  end)

  it("prints and exits as lua5.4 scripts/nslua does", function()
    for _, args in ipairs {
      "--version",
      "run -- /bin/sh -c 'echo out; echo err >&2; exit 7'",
      "run --no-such-option -- /bin/true",
      "run -- /no/such/program",
      "explain -- /bin/true",
      "bwrap --dev-bind / / --unshare-pid /bin/sh -c 'echo $$'",
      "isolate --version",
      "oci --version",
      "nosuchcommand",
    } do
      local a, b = both(args)
      assert.equal(a[3], b[3], args .. ": exit code\n" .. a[2] .. "\n--\n" .. b[2])
      assert.equal(a[2], b[2], args)
    end
  end)

  it("is the front end its name says: nslua-oci, bwrap, isolate", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    -- make's own link, as scripts/nslua-oci is the script's
    local ok, out = helper.sh(helper.san_env .. q(helper.root .. "/build/bin/nslua-oci") .. " --version")
    assert.is_true(ok, out)
    assert.matches("^nslua%-oci version ", out)
    for _, name in ipairs { "bwrap", "isolate" } do
      assert(helper.sh(("ln -s %s %s"):format(q(BIN), q(dir .. "/" .. name))))
    end
    ok, out = helper.sh(helper.san_env .. q(dir .. "/bwrap") .. " --version")
    assert.is_true(ok, out)
    assert.matches("^bubblewrap ", out)
    local code
    ok, out, code = helper.sh(helper.san_env .. q(dir .. "/isolate") .. " --no-such-option")
    assert.is_false(ok)
    assert.equal(2, code, out)   -- isolate's usage error, not nslua's 125
  end)

  it("finds its checkout from its own path, whatever the name and directory it is called by", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    -- called by the name alone, through PATH, from another directory: the
    -- modules still come from this checkout (none is installed here to find)
    local ok, out = helper.sh(("cd %s && PATH=%s:$PATH %s nslua run -- /bin/echo found")
      :format(q(dir), q(helper.root .. "/build/bin"), helper.san_env))
    assert.is_true(ok, out)
    assert.equal("found\n", out)
  end)

  it("runs LUA_INIT_5_4, else LUA_INIT, first, as lua5.4 does", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local f = assert(io.open(dir .. "/init.lua", "w"))
    f:write("io.stderr:write('from file\\n')\n")
    f:close()
    for _, env in ipairs {
      "LUA_INIT_5_4=" .. q("io.stderr:write('init54\\n')") .. " LUA_INIT=" .. q("io.stderr:write('init\\n')"),
      "LUA_INIT=" .. q("io.stderr:write('init\\n')"),
      "LUA_INIT_5_4=" .. q("@" .. dir .. "/init.lua"),
    } do
      -- (env -u: helper.sh exports the suite's own LUA_INIT_5_4)
      local a, b = both("--version", "env -u LUA_INIT_5_4 " .. env .. " ")
      assert.equal(a[2], b[2], env)
      assert.equal(a[3], b[3], env)
    end
    local _, out = helper.sh("env -u LUA_INIT_5_4 LUA_INIT=" .. q("@" .. dir .. "/init.lua") .. " " .. PROG
      .. " --version")
    assert.matches("^from file\nnslua ", out)
    -- an init that fails: a message, lua5.4's exit code (1), nothing run
    local a, b = both("run -- /bin/echo ran", "env -u LUA_INIT_5_4 LUA_INIT=" .. q("error('bad init')") .. " ")
    assert.equal(1, b[3], b[2])
    assert.equal(a[3], b[3])
    assert.matches("^nslua: LUA_INIT:1: bad init", b[2])
    assert.not_matches("ran", b[2])
  end)

  -- arg[0] is whatever the caller says (sudo passes the name of a symlink
  -- to the allowed program on): the program never takes its modules from
  -- a tree that name points into, only from its own path's
  it("never loads modules from where the name it was called by points", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local marker = dir .. "/pwned"
    assert(helper.sh(("mkdir -p %s/evil/lua/nslua/cli %s/evil/scripts"):format(q(dir), q(dir))))
    for _, m in ipairs { "init", "cli/init" } do
      local f = assert(io.open(("%s/evil/lua/nslua/%s.lua"):format(dir, m), "w"))
      f:write(("io.open(%q, 'w'):close() return { main = function() return 0 end }\n"):format(marker))
      f:close()
    end
    assert(helper.sh(("ln -s %s %s/evil/scripts/nslua"):format(q(BIN), q(dir))))
    for _, how in ipairs {
      ("cd %s/evil && bash -c 'exec -a scripts/nslua %s --version'"):format(q(dir), BIN),
      ("cd %s/evil && %s scripts/nslua --version"):format(q(dir), helper.san_env),
      ("%s %s/evil/scripts/nslua --version"):format(helper.san_env, q(dir)),
    } do
      local ok, out = helper.sh(how)
      assert.is_true(ok, how .. ": " .. out)
      assert.matches("^nslua ", out)
      assert.is_false(helper.exists(marker), how)
    end
  end)

  -- installed under a prefix whose path happens to end in build/bin (or
  -- called through a scripts/ link), the program still reads its prefix
  it("reads its own prefix's modules wherever the prefix is", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local pre = dir .. "/opt/build"
    assert(helper.sh(("mkdir -p %s/bin %s/share/lua/5.4 && cp %s %s/bin/nslua && ln -s %s %s/share/lua/5.4/nslua")
      :format(q(pre), q(pre), q(BIN), q(pre), q(helper.root .. "/lua/nslua"), q(pre))))
    local ok, out = helper.sh(("cd / && %senv -u LUA_PATH -u LUA_PATH_5_4 %s run -- /bin/echo prefix")
      :format(helper.san_env, q(pre .. "/bin/nslua")))
    assert.is_true(ok, out)
    assert.equal("prefix\n", out)
  end)

  -- run by a relative path from a deleted directory, the script keeps the
  -- relative tree (its absolute name is "... (deleted)")
  it("runs by a relative path from a deleted working directory", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local up = ("../"):rep(select(2, (dir .. "/gone"):gsub("/", "")))
    local ok, out = helper.sh(("mkdir %s/gone && cd %s/gone && rmdir ../gone && %s %sscripts/nslua run -- /bin/echo hi")
      :format(q(dir), q(dir), helper.LUA, q(up .. helper.root:sub(2) .. "/")))
    assert.is_true(ok, out)
    assert.equal("hi\n", out)
  end)

  it("raises 'interrupted!' in Lua code on ^C, as lua5.4 does", function()
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local recipe = dir .. "/spin.lua"
    local f = assert(io.open(recipe, "w"))
    f:write(("io.open(%q, 'w'):close()\nwhile true do end\n"):format(dir .. "/spinning"))
    f:close()
    local function interrupt(cmd)
      os.remove(dir .. "/spinning")
      -- the shell waits for the recipe to spin, then sends SIGINT
      local ok, out, code = helper.sh(("%s %s & pid=$!; i=0; while [ ! -e %s ] && [ $i -lt 100 ]; do "
        .. "sleep 0.05; i=$((i+1)); done; kill -INT $pid; wait $pid"):format(cmd, q(recipe),
        q(dir .. "/spinning")))
      return ok, out, code
    end
    local _, a_out, a_code = interrupt(SCRIPT)
    local _, b_out, b_code = interrupt(PROG)
    assert.matches("interrupted!", a_out)
    assert.matches("interrupted!", b_out)
    assert.equal(a_code, b_code, a_out .. "\n--\n" .. b_out)
  end)
end)
