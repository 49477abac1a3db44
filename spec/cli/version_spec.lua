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
    -- the script nslua-isolate runs (ISOLATE_SCRIPT), the interpreter named
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
    assert(helper.sh("mv " .. q(share .. "/nslua") .. " " .. q(share .. "/nslua.moved")))
    ok, out = helper.sh(("cd / && %senv -u LUA_PATH -u LUA_PATH_5_4 %s --version"):format(helper.san_env, q(bin)))
    assert.is_false(ok, out)
    assert.matches("cannot load nslua", out)
  end)
end)
