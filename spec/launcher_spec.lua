-- spec/launcher_spec.lua - scripts/nslua loads `make`'s precompiled modules
-- (build/lua/*.luac) only when they are at least as new as their source.
local helper = require "helper"
local q = helper.quote

describe("the nslua launcher", function()
  local dir, tracker
  before_each(function()
    tracker = helper.track()
    dir = helper.tmpdir("0755")
    assert(helper.sh(("unset LD_PRELOAD; cp -a %s/build %s/lua %s/scripts %s/"):format(
      q(helper.root), q(helper.root), q(helper.root), q(dir))))
  end)
  after_each(function()
    helper.rmtree(dir)
    assert.is_false(helper.exists(dir))
    helper.assert_released(tracker)
  end)

  -- the command's PATH comes from nslua.launch (M.PATH)
  local function path()
    local ok, out = helper.sh(("%s%s/scripts/nslua run -- /bin/sh -c 'echo $PATH'"):format(
      helper.san_env, q(dir)))
    assert.is_true(ok, out)
    return out
  end
  local module = "/lua/nslua/launch.lua"
  local compiled = "/build/lua/nslua/launch.luac"
  local PATH = "/usr/local/bin:/usr/bin:/bin"

  it("uses a .luac as new as its source, and the source once it is newer", function()
    if not helper.exists(helper.root .. compiled) then return pending("no build/lua (make)") end
    assert.equal(PATH .. "\n", path())
    -- a bytecode file that says something else, newer than the source: used
    local src = helper.read(dir .. module)
    local other = src:gsub(PATH, "/fromluac" .. PATH, 1)
    assert.are_not.equal(src, other)
    local f = assert(io.open(dir .. compiled, "wb"))
    f:write(string.dump(assert(load(other, "=launch")), false))
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
    -- in a private mount namespace with its own (empty) /run/nslua: the
    -- shared cache of the machine is used and rewritten by other runs all the
    -- time (and a program under another key is dropped as stale), so only a
    -- state directory of our own shows what this run did
    local script = ([[
mount -t tmpfs -o mode=0755 nslua-spec-run /run/nslua || exit 99
echo "before $(ls /run/nslua/cache 2>/dev/null | grep -c '^seccomp-default-')"
cd / && %s%s/scripts/nslua run -- /bin/true || exit $?
echo "after $(ls /run/nslua/cache 2>/dev/null | grep -c '^seccomp-default-')"
echo "state $(ls -A /run/nslua | grep -v -x -e cache -e ids | tr '\n' ' ')"
]]):format(helper.san_env, q(dir))
    helper.sh("mkdir -p /run/nslua")
    local ok, out = helper.sh("unshare -m --propagation private sh -c " .. q(script))
    assert.is_true(ok, out)
    assert.matches("before 0\n", out, 1, true)
    assert.matches("after 1\n", out, 1, true)
    -- the run removed its own state record
    assert.matches("state \n", out, 1, true)
  end)
end)
