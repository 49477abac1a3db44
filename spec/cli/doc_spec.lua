-- docs/cli.md and the man pages from the parsers' own tables
-- (nslua.cli.doc, scripts/gen-cli-doc): the committed page is what the
-- generator makes now, and every option any parser takes is in it.
local helper = require "helper"
local doc = require "nslua.cli.doc"

local q = helper.quote
local PAGE = helper.root .. "/docs/cli.md"

local function read(path) return assert(helper.read(path), path) end

-- `make TARGET` in the checkout, without the caller's make flags
local function make(target)
  return helper.sh(helper.MAKE .. " " .. target)
end

-- Does 'text' name option 'name' (not as part of a longer one)?
local function names(text, name)
  local pat = "%f[%w%-]" .. name:gsub("%p", "%%%0") .. "%f[^%w%-]"
  return text:find(pat) ~= nil
end

-- Every option word each parser accepts, read from the parser itself:
-- { section heading, "--option", alternative heading } triples (explain
-- and learn: in their section or in run's, which they say they take).
local function accepted()
  local out = {}
  local function add(where, n, alt) out[#out + 1] = { where, n, alt } end
  for _, m in ipairs { "run", "explain", "learn", "exec" } do
    for _, o in ipairs(require("nslua.cli." .. m).parser()._options) do
      for _, n in ipairs(o._aliases) do add("### nslua " .. m, n, "### nslua run") end
    end
  end
  for _, m in ipairs { "bwrap", "seccomp", "ps", "doctor", "gc", "version" } do
    for _, o in ipairs(require("nslua.cli." .. m).OPTIONS) do add("### nslua " .. m, o[1]) end
  end
  for _, o in ipairs(require("nslua.cli.isolate").OPTIONS) do
    add("### nslua isolate", "--" .. o[1])
    if o[2] then add("### nslua isolate", "-" .. o[2]) end
  end
  local oci = require "nslua.cli.oci"
  local defs = { ["## nslua-oci"] = oci.GLOBAL }
  for k, d in pairs(oci.COMMANDS) do defs["### nslua-oci " .. k] = d end
  for k, d in pairs(defs) do
    for f in pairs(d.flags) do add(k, "--" .. f) end
    for a in pairs(d.aliases or {}) do add(k, "-" .. a) end
  end
  return out
end

-- The part of the page under a heading (to the next heading).
local function section(text, heading)
  local at = text:find("\n" .. heading .. "\n", 1, true)
  if not at then return "" end
  local stop = text:find("\n#", at + #heading + 2, true)
  return text:sub(at, stop)
end

-- The option labels of a section: the `code` of its "* `--opt ARG`: help"
-- lines and of its "Accepted and not in --help" line (not the usage).
local function labels(sec)
  local out = {}
  for line in sec:gmatch("[^\n]+") do
    local label = line:match("^%* `([^`]*)`")
    if label then out[#out + 1] = label end
    if line:match("^Accepted and not in %-%-help") then
      for l in line:gmatch("`([^`]*)`") do out[#out + 1] = l end
    end
  end
  return table.concat(out, "\n")
end

describe("docs/cli.md", function()
  it("is what scripts/gen-cli-doc makes now (regenerate: make cli-doc)", function()
    local current = read(PAGE)
    local page = doc.page(current)
    if page ~= current then
      local tmp = os.tmpname()
      local f = assert(io.open(tmp, "w"))
      f:write(page)
      f:close()
      local _, diff = helper.sh(("diff -u %s %s | head -40"):format(q(PAGE), q(tmp)))
      os.remove(tmp)
      error("docs/cli.md is stale (run `make cli-doc`):\n" .. diff, 0)
    end
  end)

  it("keeps its hand-written head and the marker", function()
    local current = read(PAGE)
    assert.truthy(current:find(doc.MARKER, 1, true))
    assert.truthy(current:find("make man", 1, true))
    assert.has_error(function() doc.page("# no marker\n") end)
  end)

  it("names every option each parser accepts", function()
    local text = read(PAGE)
    local list = accepted()
    assert.is_true(#list > 250, "options found: " .. #list)
    local missing = {}
    for _, p in ipairs(list) do
      if not names(labels(section(text, p[1])), p[2])
        and not (p[3] and names(labels(section(text, p[3])), p[2])) then
        missing[#missing + 1] = p[1] .. ": " .. p[2]
      end
    end
    assert.same({}, missing)
    -- an option under another heading does not count
    assert.is_false(names(labels(section(text, "### nslua gc")), "--bind"))
    assert.is_false(names(labels(section(text, "### nslua ps")), "nslua"))
    assert.equal("", section(text, "### nslua no-such"))
  end)

  it("has a section for every subcommand and every nslua-oci command", function()
    local text = read(PAGE)
    for name in pairs(require("nslua.cli.main").SUBCOMMANDS) do
      if name ~= "help" then
        assert.truthy(text:find("\n### nslua " .. name .. "\n", 1, true), name)
      end
    end
    for name in pairs(require("nslua.cli.oci").COMMANDS) do
      assert.truthy(text:find("\n### nslua-oci " .. name .. "\n", 1, true), name)
    end
  end)

  it("the name check can fail: a longer option does not count", function()
    assert.is_false(names("* `--bind-try SRC`", "--bind"))
    assert.is_true(names("* `--bind SRC`", "--bind"))
    assert.is_false(names("* `--no-such-option`", "--no-such"))
  end)

  it("ps and doctor parse the options their tables list", function()
    local d = require "nslua.cli.doctor"
    for _, o in ipairs(d.OPTIONS) do
      local r = assert(d.parse_args({ o[1] }))
      assert.is_true(r[o[1]:sub(3)])
    end
    assert.is_nil(d.parse_args({ "--no-such" }))
    local ok, out = helper.sh(helper.nslua .. " ps --help")
    assert.is_true(ok, out)
    for _, o in ipairs(require("nslua.cli.ps").OPTIONS) do assert.truthy(names(out, o[1]), o[1]) end
  end)
end)

describe("make man", function()
  local function have(cmd) return (helper.sh("command -v " .. cmd)) end

  it("builds nslua.1 and nslua-oci.1, which man renders", function()
    if not have("scdoc") then return pending("no scdoc (scripts/deps.sh installs it)") end
    if not have("man") then return pending("no man (man-db)") end
    local ok, out = make("man")
    assert.is_true(ok, out)
    local subs = doc.subcommands()
    ok, out = helper.sh(("MANWIDTH=80 man -l %s/build/nslua.1"):format(q(helper.root)))
    assert.is_true(ok, out)
    for _, s in ipairs({ "NAME", "SYNOPSIS", "DESCRIPTION", "SUBCOMMANDS", "EXIT STATUS", "FILES", "SEE ALSO" }) do
      assert.truthy(out:find("\n" .. s .. "\n", 1, true), s)
    end
    for _, s in ipairs(subs) do
      assert.truthy(out:find("\n   " .. s.name .. "\n", 1, true), s.name)
      assert.truthy(out:find(s.usage[1], 1, true), s.usage[1])
    end
    assert.truthy(out:find("--bind", 1, true))
    ok, out = helper.sh(("MANWIDTH=80 man -l %s/build/nslua-oci.1"):format(q(helper.root)))
    assert.is_true(ok, out)
    for name in pairs(require("nslua.cli.oci").COMMANDS) do
      assert.truthy(out:find("\n   " .. name .. "\n", 1, true), name)
    end
    -- scdoc's markup characters in help texts came through as text
    assert.falsy(out:find("\\_", 1, true))
  end)
end)
