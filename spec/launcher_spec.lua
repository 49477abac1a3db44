-- spec/launcher_spec.lua - scripts/nslua loads `make`'s precompiled modules
-- (build/lua/*.luac) only when they are at least as new as their source.
local helper = require "helper"
local q = helper.quote

describe("the nslua launcher", function()
  local dir
  before_each(function()
    dir = helper.tmpdir("0755")
    assert(helper.sh(("unset LD_PRELOAD; cp -a %s/build %s/lua %s/scripts %s/"):format(
      q(helper.root), q(helper.root), q(helper.root), q(dir))))
  end)
  after_each(function()
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
  end)

  -- the command's PATH comes from nslua.container (M.PATH)
  local function path()
    local ok, out = helper.sh(("%s%s/scripts/nslua run -- /bin/sh -c 'echo $PATH'"):format(
      helper.san_env, q(dir)))
    assert.is_true(ok, out)
    return out
  end
  local module = "/lua/nslua/container.lua"
  local compiled = "/build/lua/nslua/container.luac"
  local PATH = "/usr/local/bin:/usr/bin:/bin"

  it("uses a .luac as new as its source, and the source once it is newer", function()
    if not helper.exists(helper.root .. compiled) then return pending("no build/lua (make)") end
    assert.equal(PATH .. "\n", path())
    -- a bytecode file that says something else, newer than the source: used
    local src = helper.read(dir .. module)
    local other = src:gsub(PATH, "/fromluac" .. PATH, 1)
    assert.are_not.equal(src, other)
    local f = assert(io.open(dir .. compiled, "wb"))
    f:write(string.dump(assert(load(other, "=container")), false))
    f:close()
    assert(helper.sh(("touch -d '1 hour ago' %s && touch %s"):format(q(dir .. module), q(dir .. compiled))))
    assert.equal("/fromluac" .. PATH .. "\n", path())
    -- the source edited after the build: the stale bytecode is ignored
    f = assert(io.open(dir .. module, "w"))
    f:write((src:gsub(PATH, "/edited" .. PATH, 1)))
    f:close()
    assert(helper.sh(("touch -d '1 hour ago' %s && touch %s"):format(q(dir .. compiled), q(dir .. module))))
    assert.equal("/edited" .. PATH .. "\n", path())
  end)

  it("uses the .luac of a module in a subdirectory (nslua.cli.main) and of a package's init.lua", function()
    if not helper.exists(helper.root .. "/build/lua/nslua/cli/main.luac") then return pending("no build/lua (make)") end
    local function version()
      local ok, out = helper.sh(("%s%s/scripts/nslua --version"):format(helper.san_env, q(dir)))
      assert.is_true(ok, out)
      return out
    end
    -- bytecode that says something else, newer than its source
    local function plant(source, luac, from, to)
      local src = helper.read(dir .. source)
      local other = src:gsub(from, to, 1)
      assert.are_not.equal(src, other)
      local f = assert(io.open(dir .. luac, "wb"))
      f:write(string.dump(assert(load(other, "=" .. source)), false))
      f:close()
      assert(helper.sh(("touch -d '1 hour ago' %s && touch %s"):format(q(dir .. source), q(dir .. luac))))
    end
    assert.matches("^nslua %d", version())
    plant("/lua/nslua/cli/main.lua", "/build/lua/nslua/cli/main.luac", 'print%("nslua "', 'print("fromluac "')
    assert.matches("^fromluac %d", version())
    -- require "nslua.cli" finds lua/nslua/cli/init.lua: its bytecode is cli/init.luac
    plant("/lua/nslua/cli/init.lua", "/build/lua/nslua/cli/init.luac", 'return require "nslua.cli.main"',
      'io.write("init.luac ") return require "nslua.cli.main"')
    assert.matches("^init.luac fromluac %d", version())
  end)

  it("keeps the seccomp cache working when the modules come from bytecode, from any cwd", function()
    if not helper.is_root() then return pending("the root state directory") end
    if not helper.exists(helper.root .. "/build/lua/nslua/seccomp.luac") then return pending("no build/lua (make)") end
    local cache = "/run/nslua/cache"
    local function cached()
      local _, out = helper.sh("ls " .. cache .. " 2>/dev/null | grep -c '^seccomp-default-'")
      return tonumber(out) or 0
    end
    -- the cache is regenerated on demand: start from none
    helper.sh("rm -f " .. cache .. "/seccomp-default-*")
    assert.equal(0, cached())
    local ok, out = helper.sh(("cd / && %s%s/scripts/nslua run -- /bin/true"):format(helper.san_env, q(dir)))
    assert.is_true(ok, out)
    assert.equal(1, cached())
  end)
end)
