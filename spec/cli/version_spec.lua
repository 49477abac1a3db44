-- spec/cli/version_spec.lua - `nslua --version [--verbose]` and
-- `nslua version [--verbose]`: the version, then the libraries' versions
-- and the kernel's features from nslua doctor's probes.
local helper = require "helper"

local N = helper.nslua

-- The first word of a library's version as pkg-config has it, or nil.
local function modversion(lib)
  local ok, out = helper.sh("pkg-config --modversion " .. lib .. " 2>/dev/null")
  return ok and out:match("^(%S+)") or nil
end

describe("nslua --version", function()
  local core = require "nslua.core"

  it("prints the version on one line, as `nslua version` does", function()
    for _, cmd in ipairs { " --version", " version" } do
      local ok, out = helper.sh(N .. cmd)
      assert(ok, out)
      assert.equal("nslua " .. core._VERSION .. "\n", out)
    end
  end)

  it("--verbose adds the libraries and the kernel's features #priv", function()
    for _, cmd in ipairs { " --version --verbose", " version --verbose", " version -v" } do
      local ok, out = helper.sh(N .. cmd)
      assert(ok, out)
      local lines = {}
      for l in out:gmatch("[^\n]+") do
        local k, v = l:match("^(%S+)%s+(.*)$")
        lines[k] = v
      end
      assert.equal("nslua " .. core._VERSION, out:match("^[^\n]+"))
      assert.equal(_VERSION:match("%d[%d.]*"), lines.lua)
      assert.equal(("%s (built with %s)"):format(core.seccomp.version(), core._BUILD.libseccomp),
        lines.libseccomp)
      for _, lib in ipairs { "libmnl", "libcap" } do
        local want = modversion(lib)
        if want then assert.equal(want .. " (at build time)", lines[lib], lib) end
        assert.is_string(lines[lib], lib)
      end
      -- the kernel release as the kernel says it
      local release = helper.read("/proc/sys/kernel/osrelease"):match("%S+")
      assert.matches(release, lines.kernel, 1, true)
      -- doctor's rows, verdict and detail as doctor prints them
      for _, k in ipairs { "ns.user", "mount.idmap", "landlock.abi", "cgroup.layout" } do
        assert.matches("^%a+: .", lines[k] or "", nil, false)
      end
      local abi = core.landlock.abi()
      if abi then assert.matches("Landlock ABI " .. abi, lines["landlock.abi"], 1, true) end
      local kind = require("nslua.cli.doctor").cgroup_kind(require("nslua.cgroup").detect())
      assert.matches(kind, lines["cgroup.layout"], 1, true)
    end
  end)

  it("core._BUILD names the libraries nslua was built with", function()
    assert.matches("^%d+%.%d+%.%d+$", core._BUILD.libseccomp)
    assert.matches("^%d+%.%d+$", core._BUILD.libcap)
    local mnl = modversion("libmnl")
    if mnl then assert.equal(mnl, core._BUILD.libmnl) end
  end)

  it("rejects an unknown argument with exit 125; --help describes --verbose", function()
    local ok, out, rc = helper.sh(N .. " --version --verbos")
    assert.is_false(ok)
    assert.equal(125, rc)
    assert.equal("nslua: --version: unknown argument '--verbos' (usage: nslua --version [--verbose])\n", out)
    ok, out = helper.sh(N .. " help version")
    assert(ok, out)
    assert.matches("--verbose", out, 1, true)
  end)

  it("works rootless #priv", function()
    if not helper.is_root() then return pending("needs root (setpriv to the test user)") end
    local ok, out = helper.sh("cd /tmp && " .. helper.ENV_I .. " " .. helper.rootless_nslua() .. " --version --verbose")
    assert(ok, out)
    assert.matches("\nns.user +%a+: ", out)
    assert.matches("\nlandlock.abi +%a+: ", out)
  end)
end)

describe("make install", function()
  it("installs the nslua program, and the script for lua5.4 with its interpreter named; both run #priv", function()
    if not helper.is_root() then return pending("needs root (install -o root elsewhere in the target)") end
    local q = helper.quote
    local dir = helper.tmpdir("0755")
    finally(function() helper.rmtree(dir) end)
    local dest, prefix = dir .. "/dest", "/opt/nslua-spec"
    local ok, out = helper.sh(("%s CFLAGS='-O2 -g' LDFLAGS= install DESTDIR=%s PREFIX=%s ISOLATE_OUT=%s")
      :format(helper.MAKE, q(dest), prefix, q(dir .. "/nslua-isolate")))
    assert(ok, out)
    local bin, script = dest .. prefix .. "/bin/nslua", dest .. prefix .. "/lib/nslua/nslua"
    assert.equal("\127ELF", helper.read(bin):sub(1, 4))
    -- the script for lua5.4 (NSLUA_LIBEXEC), the interpreter named
    assert.equal("#!/usr/bin/lua5.4", helper.read(script):match("^[^\n]*"))
    -- the checkout's own launcher keeps its env line
    assert.equal("#!/usr/bin/env lua5.4", helper.read(helper.root .. "/scripts/nslua"):match("^[^\n]*"))
    local _, link = helper.sh("readlink " .. q(dest .. prefix .. "/bin/nslua-oci"))
    assert.equal("nslua\n", link)
    local share, lib = dest .. prefix .. "/share/lua/5.4", dest .. prefix .. "/lib/lua/5.4"
    -- (env: under `make sanitize` helper.san_env's assignments come first)
    for _, cmd in ipairs { q(script), helper.LUA .. " " .. q(script) } do
      ok, out = helper.sh(("cd / && %senv LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s run -- /bin/echo ran"):format(
        helper.san_env, q(share .. "/?.lua;" .. share .. "/?/init.lua;;"), q(lib .. "/?.so;;"), cmd))
      assert(ok, cmd .. ": " .. out)
      assert.equal("ran\n", out)
    end
    -- the program finds the modules of its own prefix (wherever it is: here
    -- under DESTDIR), with no LUA_PATH, and not the checkout's
    ok, out = helper.sh(("cd / && %senv -u LUA_PATH -u LUA_PATH_5_4 -u LUA_CPATH -u LUA_CPATH_5_4 %s run -- "
      .. "/bin/echo ran"):format(helper.san_env, q(bin)))
    assert(ok, out)
    assert.equal("ran\n", out)
    -- each module's chunk beside its source, loaded instead of the source
    -- by the program and by the script
    local _, srcs = helper.sh("cd " .. q(share) .. " && find nslua -name '*.lua' ! -path 'nslua/recipes/*' | sort")
    local _, chunks = helper.sh("cd " .. q(share) .. " && find nslua -name '*.luac' | sed 's/c$//' | sort")
    assert.equal(srcs, chunks)
    local hook = dir .. "/hook.lua"
    local f = assert(io.open(hook, "w"))
    f:write([[
      local l, seen = load, {}
      load = function(c, name, mode, ...)
        local fn, err = l(c, name, mode, ...)
        if fn and mode == "b" then seen[#seen + 1] = name:match("nslua/.*$") end
        return fn, err
      end
      local exit = os.exit
      os.exit = function(...)
        table.sort(seen)
        io.stderr:write("bytecode: ", table.concat(seen, " "), "\n")
        local cli = package.loaded["nslua.cli.main"]
        io.stderr:write("named: ", cli and debug.getinfo(cli.main, "S").source or "?", "\n")
        return exit(...)
      end
    ]])
    f:close()
    local paths = ("LUA_PATH_5_4=%s LUA_CPATH_5_4=%s"):format(q(share .. "/?.lua;" .. share .. "/?/init.lua;;"),
      q(lib .. "/?.so;;"))
    local function loaded(cmd, env)
      local okv, text = helper.sh(("cd / && %senv -u LUA_PATH -u LUA_CPATH %s LUA_INIT_5_4=%s %s --version 2>&1")
        :format(helper.san_env, env or "", q("@" .. hook), cmd))
      assert(okv, text)
      return text:match("bytecode: ([^\n]*)")
    end
    local all = "nslua/cli/init.lua nslua/cli/main.lua nslua/report.lua nslua/seccomp_cache.lua"
    assert.equal(all, loaded(q(bin)))
    -- tracebacks name the installed file (where it is once installed: the
    -- prefix, not DESTDIR's staging copy)
    local okn, named = helper.sh(("cd / && %s%s --version 2>&1 >/dev/null"):format(helper.san_env ..
      "LUA_INIT_5_4=" .. q("@" .. hook) .. " ", q(bin)))
    assert(okn, named)
    assert.equal("@" .. prefix .. "/share/lua/5.4/nslua/cli/main.lua", named:match("named: ([^\n]*)"))
    assert.equal(all, loaded(helper.LUA .. " " .. q(script), paths))
    -- the times do not matter (a package manager sets them as it likes)
    assert(helper.sh("touch " .. q(share .. "/nslua/report.lua")))
    assert.equal(all, loaded(q(bin)))
    -- a source edited in place is parsed, and so is one whose chunk does
    -- not load (damaged)
    local fe = assert(io.open(share .. "/nslua/report.lua", "a"))
    fe:write("-- edited\n")
    fe:close()
    local fc = assert(io.open(share .. "/nslua/cli/main.luac", "r+b"))
    fc:seek("set", 40)
    fc:write(("\0"):rep(64))
    fc:close()
    assert.equal("nslua/cli/init.lua nslua/seccomp_cache.lua", loaded(q(bin)))
    -- a copy of a module earlier on LUA_PATH is the one loaded, never the
    -- chunk of the installed source (older than it or not)
    local copy = dir .. "/copy"
    assert(helper.sh("mkdir -p " .. q(copy .. "/nslua/cli")))
    local fw = assert(io.open(copy .. "/nslua/cli/init.lua", "w"))
    fw:write('io.stderr:write("the copy\\n")\n', helper.read(share .. "/nslua/cli/init.lua"))
    fw:close()
    assert(helper.sh("touch -d 2000-01-01 " .. q(copy .. "/nslua/cli/init.lua")))
    local okv, text = helper.sh(("cd / && %senv LUA_PATH_5_4=%s LUA_CPATH_5_4=%s %s %s --version 2>&1")
      :format(helper.san_env, q(copy .. "/?/init.lua;" .. share .. "/?.lua;" .. share .. "/?/init.lua;;"),
        q(lib .. "/?.so;;"), helper.LUA, q(script)))
    assert(okv, text)
    assert.matches("^the copy\n", text)
    assert(helper.sh("mv " .. q(share .. "/nslua") .. " " .. q(share .. "/nslua.moved")))
    ok, out = helper.sh(("cd / && %senv -u LUA_PATH -u LUA_PATH_5_4 %s --version"):format(helper.san_env, q(bin)))
    assert.is_false(ok, out)
    assert.matches("cannot load nslua", out)
  end)
end)
