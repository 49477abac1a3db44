-- spec/launcher_spec.lua - scripts/nslua loads `make`'s precompiled modules
-- (build/lua/*.luac, written by scripts/luac) only while the source is the
-- text they were compiled from, whatever the files' times say.
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

  -- a chunk file as scripts/luac writes it, for the source text `text`
  -- (its digest) holding the bytecode of `code`
  local function chunk_of(text, code, name)
    local core = require "nslua.core"
    local tmp = dir .. "/digest.tmp"
    helper.write(tmp, text)
    local d = assert(core.seccomp.digest(tmp))
    os.remove(tmp)
    return "nslua-chunk " .. d .. "\n" .. string.dump(assert(load(code, "=" .. name)), false)
  end

  it("uses a chunk of its very source, whatever the times, and never one of another text", function()
    if not helper.exists(helper.root .. compiled) then return pending("no build/lua (make)") end
    assert.equal(PATH .. "\n", path())
    -- bytecode that says something else under the source's digest: used,
    -- though older than the source
    local src = helper.read(dir .. module)
    local other = src:gsub(PATH, "/fromluac" .. PATH, 1)
    assert.are_not.equal(src, other)
    helper.write(dir .. compiled, chunk_of(src, other, "launch"))
    assert(helper.sh(("touch -d '1 hour ago' %s && touch %s"):format(q(dir .. compiled), q(dir .. module))))
    assert.equal("/fromluac" .. PATH .. "\n", path())
    -- the source edited, and made older than the chunk (a copy that kept
    -- its time, an older release unpacked over it): the source is parsed
    helper.write(dir .. module, (src:gsub(PATH, "/edited" .. PATH, 1)))
    assert(helper.sh(("touch -d '1 hour ago' %s && touch %s"):format(q(dir .. module), q(dir .. compiled))))
    assert.equal("/edited" .. PATH .. "\n", path())
    -- a chunk whose bytecode does not load (damaged): the source
    helper.write(dir .. module, src)
    helper.write(dir .. compiled, chunk_of(src, other, "launch"):sub(1, 60))
    assert.equal(PATH .. "\n", path())
    -- and one without the header (luac5.4's own output): the source
    helper.write(dir .. compiled, string.dump(assert(load(other, "=launch")), false))
    assert.equal(PATH .. "\n", path())
  end)

  it("uses the chunk of a module in a subdirectory (nslua.cli.main) and of a package's init.lua", function()
    if not helper.exists(helper.root .. "/build/lua/nslua/cli/main.luac") then return pending("no build/lua (make)") end
    local function version()
      local ok, out = helper.sh(("%s%s/scripts/nslua --version"):format(helper.san_env, q(dir)))
      assert.is_true(ok, out)
      return out
    end
    -- bytecode that says something else, under its source's digest
    local function plant(source, luac, from, to)
      local src = helper.read(dir .. source)
      local other = src:gsub(from, to, 1)
      assert.are_not.equal(src, other)
      helper.write(dir .. luac, chunk_of(src, other, source))
    end
    assert.matches("^nslua %d", version())
    plant("/lua/nslua/cli/main.lua", "/build/lua/nslua/cli/main.luac", 'print%("nslua "', 'print("fromluac "')
    assert.matches("^fromluac %d", version())
    -- require "nslua.cli" finds lua/nslua/cli/init.lua: its bytecode is cli/init.luac
    plant("/lua/nslua/cli/init.lua", "/build/lua/nslua/cli/init.luac", 'return require "nslua.cli.main"',
      'io.write("init.luac ") return require "nslua.cli.main"')
    assert.matches("^init.luac fromluac %d", version())
  end)

  -- scripts/luac takes the digest in Lua (make runs it before the core can
  -- be loaded); it must be the core's, at every block boundary and for any
  -- bytes (the top bit of each set too)
  it("writes the core's digest of the source, at any size and for any bytes", function()
    local core = require "nslua.core"
    local src, out = dir .. "/m.lua", dir .. "/m.luac"
    local function luac_digest()
      local ok, err = helper.sh(("unset LD_PRELOAD; %s %s/scripts/luac %s %s"):format(helper.LUA,
        q(helper.root), q(src), q(out)))
      assert.is_true(ok, err)
      return helper.read(out):match("^nslua%-chunk (%x+)\n")
    end
    for _, n in ipairs { 0, 1, 7, 8, 9, 16383, 16384, 16385, 16391, 32768, 40000 } do
      -- a Lua comment of n bytes: a long string's bytes are any but "]]"
      local body = {}
      for k = 1, n do body[k] = string.char((k * 131 + n) % 256 | 0x80) end
      local text = n < 6 and (" "):rep(n) or ("--[[" .. table.concat(body):sub(1, n - 6) .. "]]")
      helper.write(src, text)
      assert.equal(n, #helper.read(src))
      assert.equal(assert(core.seccomp.digest(src)), luac_digest(), "size " .. n)
    end
  end)

  -- Changes confined to words' top bits must not cancel: plain FNV over
  -- 8-byte words let two such flips give the digest back, and a module
  -- edited so ran its old chunk (`n >= 0` -> `n >= 6` and `[0]` -> `[6]`)
  it("tells apart sources that differ only in the top bits of their words", function()
    local core = require "nslua.core"
    local src = dir .. "/m.lua"
    local base = ("a"):rep(64)
    helper.write(src, base)
    local seen = { [assert(core.seccomp.digest(src))] = "base" }
    local function flip(s, at) return s:sub(1, at - 1) .. string.char(s:byte(at) ~ 0x80) .. s:sub(at + 1) end
    for _, pair in ipairs { { 8, 16 }, { 16, 24 }, { 8, 64 }, { 24, 32 }, { 7, 15 } } do
      helper.write(src, flip(flip(base, pair[1]), pair[2]))
      local d = assert(core.seccomp.digest(src))
      assert.is_nil(seen[d], ("%d,%d collides with %s"):format(pair[1], pair[2], tostring(seen[d])))
      seen[d] = pair[1] .. "," .. pair[2]
    end
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
