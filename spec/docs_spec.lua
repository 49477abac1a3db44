-- spec/docs_spec.lua - the pages cannot drift: every relative link in
-- README.md and docs/*.md reaches a file (and a heading, for #anchor), and
-- every ```sh block runs (as root, `bash -e`, in a fresh temp dir, nslua on
-- PATH, 20 s) unless the line before it is `<!-- norun: REASON -->`.
local helper = require "helper"

local q = helper.quote
local ROOT = helper.root
local TIMEOUT = 20

local function read(path) return assert(helper.read(path), path) end

-- README.md and docs/*.md, as paths relative to the checkout
local function pages()
  local list = { "README.md" }
  local f = assert(io.popen("cd " .. q(ROOT) .. " && ls docs/*.md"))
  for line in f:lines() do list[#list + 1] = line end
  f:close()
  return list
end

local function lines_of(text)
  local t = {}
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do t[#t + 1] = line end
  if t[#t] == "" then t[#t] = nil end
  return t
end

-- GitHub's heading anchors: lowercase, inline markup and punctuation
-- dropped (letters, digits, '_', '-' and spaces kept), spaces to '-';
-- a repeated slug gets -1, -2, ...
local function slug(heading)
  local s = heading:gsub("%[([^%]]*)%]%([^)]*%)", "%1")   -- [text](link) -> text
  s = s:lower():gsub("[^%w_%- ]", ""):gsub(" ", "-")
  return s
end

-- The headings (outside code fences) of a page, as a set of anchors,
-- and the page's lines with their fence state.
local function parse(text)
  local anchors, seen = {}, {}
  local out = {}
  local fence
  for i, line in ipairs(lines_of(text)) do
    local tick = line:match("^(```+)")
    if fence then
      if tick and #tick >= #fence and line:match("^`+%s*$") then fence = nil end
      out[i] = { line = line, code = true }
    elseif tick then
      fence = tick
      out[i] = { line = line, code = true, open = line:sub(#tick + 1) }
    else
      out[i] = { line = line }
      local h = line:match("^#+%s+(.-)%s*#*%s*$")
      if h then
        local s = slug(h)
        local n = seen[s]
        seen[s] = (n or -1) + 1
        anchors[n and (s .. "-" .. (n + 1)) or s] = true
      end
    end
  end
  return out, anchors
end

local function dirname(path)
  return path:match("^(.*)/[^/]*$") or "."
end

-- Normalize a/b/../c to a/c (relative to the checkout).
local function normalize(path)
  local parts = {}
  for p in path:gmatch("[^/]+") do
    if p == ".." then
      if #parts == 0 or parts[#parts] == ".." then parts[#parts + 1] = ".." else parts[#parts] = nil end
    elseif p ~= "." then
      parts[#parts + 1] = p
    end
  end
  return table.concat(parts, "/")
end

local function exists(path)
  return os.execute("test -e " .. q(path)) == true
end

describe("docs", function()
  local cache = {}
  local function page(path)
    if not cache[path] then
      local lines, anchors = parse(read(ROOT .. "/" .. path))
      cache[path] = { lines = lines, anchors = anchors }
    end
    return cache[path]
  end

  it("the slug rule is GitHub's", function()
    assert.equal("the-nslua-command", slug("The nslua command"))
    assert.equal("nslua-run-options", slug("`nslua run` options"))
    assert.equal("outbound-nat-nat--true---nat", slug("Outbound NAT: `nat = true`, `--nat`"))
    assert.equal("the-bridge-plans-gateway", slug("The bridge plan's gateway"))
    assert.equal("warm-pools-nsluapool", slug("Warm pools (`nslua.pool`)"))
  end)

  it("every relative link reaches a file and its anchor", function()
    local bad, checked = {}, 0
    for _, path in ipairs(pages()) do
      for i, l in ipairs(page(path).lines) do
        if not l.code then
          -- drop inline code spans first: `[x](y)` in code is not a link
          local text = l.line:gsub("``.-``", ""):gsub("`[^`]*`", "")
          for target in text:gmatch("%]%(([^)%s]+)%)") do
            if not target:match("^%a[%w+.-]*:") then
              checked = checked + 1
              local file, anchor = target:match("^([^#]*)#?(.*)$")
              local rel = file == "" and path or normalize(dirname(path) .. "/" .. file)
              local where = ("%s:%d: %s"):format(path, i, target)
              if not exists(ROOT .. "/" .. rel) then
                bad[#bad + 1] = where .. " (no file " .. rel .. ")"
              elseif anchor ~= "" then
                if not rel:match("%.md$") then
                  bad[#bad + 1] = where .. " (an anchor into a non-Markdown file)"
                elseif not page(rel).anchors[anchor] then
                  bad[#bad + 1] = where .. " (no heading #" .. anchor .. " in " .. rel .. ")"
                end
              end
            end
          end
        end
      end
    end
    assert.is_true(checked > 50, "found only " .. checked .. " links")
    assert.same({}, bad)
  end)

  it("README's Documentation list links every docs/ page", function()
    local list = read(ROOT .. "/README.md"):match("\n## Documentation\n(.-)\n## ") or
      read(ROOT .. "/README.md"):match("\n## Documentation\n(.*)$") or ""
    local missing = {}
    for _, path in ipairs(pages()) do
      if path ~= "README.md" and not list:find("](" .. path .. ")", 1, true) then
        missing[#missing + 1] = path
      end
    end
    assert.same({}, missing)
  end)

  -- The sh blocks, each with the norun reason when the line before it has one.
  local blocks = {}
  for _, path in ipairs(pages()) do
    local lines = page(path).lines
    local i = 1
    while i <= #lines do
      local l = lines[i]
      if l.open then
        local j, body = i + 1, {}
        while j <= #lines and not (lines[j].code and lines[j].line:match("^```+%s*$")) do
          body[#body + 1] = lines[j].line
          j = j + 1
        end
        if l.open == "sh" then
          local prev = i > 1 and lines[i - 1].line or ""
          local reason = prev:match("^<!%-%-%s*norun:%s*(.-)%s*%-%->%s*$")
          blocks[#blocks + 1] = { path = path, line = i, body = table.concat(body, "\n") .. "\n",
                                  norun = prev:match("^<!%-%-%s*norun") and (reason or "") or nil }
        end
        i = j + 1
      else
        i = i + 1
      end
    end
  end

  it("every norun mark gives a reason and sits right before an sh block", function()
    local bad = {}
    for _, b in ipairs(blocks) do
      if b.norun == "" then bad[#bad + 1] = ("%s:%d: norun without a reason"):format(b.path, b.line) end
    end
    for _, path in ipairs(pages()) do
      local lines = page(path).lines
      for i, l in ipairs(lines) do
        if not l.code and l.line:match("^<!%-%-%s*norun") then
          local nxt = lines[i + 1]
          if not (nxt and nxt.open == "sh") then
            bad[#bad + 1] = ("%s:%d: a norun mark not followed by a ```sh block"):format(path, i)
          end
        end
      end
    end
    assert.is_true(#blocks > 10, "found only " .. #blocks .. " sh blocks")
    assert.same({}, bad)
  end)

  -- nslua on PATH: a wrapper for the checkout's launcher (helper.nslua
  -- carries the sanitizer runtimes under `make sanitize`)
  local bindir
  setup(function()
    bindir = helper.tmpdir()
    local f = assert(io.open(bindir .. "/nslua", "w"))
    f:write("#!/bin/sh\nexec ", helper.nslua, ' "$@"\n')
    f:close()
    os.execute("chmod 0755 " .. q(bindir) .. " " .. q(bindir .. "/nslua"))
  end)
  teardown(function()
    if bindir then helper.rmtree(bindir) end
  end)

  for _, b in ipairs(blocks) do
    local name = ("%s:%d runs"):format(b.path, b.line)
    if b.norun then
      pending(("%s:%d: norun: %s"):format(b.path, b.line, b.norun))
    else
      it(name, function()
        if not helper.is_root() then return pending("the examples are written for root") end
        local dir = helper.tmpdir("0755")
        local t = helper.track { paths = { dir } }
        local script = dir .. "/.block.sh"
        local f = assert(io.open(script, "w"))
        f:write(b.body)
        f:close()
        -- timeout signals its own process group: every process of the block
        local ok, out, rc = helper.sh(("cd %s && PATH=%s:$PATH timeout -k 5 %d bash -e %s </dev/null")
          :format(q(dir), q(bindir), TIMEOUT, q(script)))
        -- nothing may stay (a mount under dir is a leftover: checked before
        -- the removal, which stays on dir's own file system anyway)
        local released, err = pcall(helper.assert_released, t)
        os.execute("rm -rf --one-file-system " .. q(dir))
        assert(released, err)
        local how = rc == 124 and ("timed out after %d s"):format(TIMEOUT) or ("exited " .. tostring(rc))
        assert(ok, ("%s:%d %s:\n%s\n--- output:\n%s"):format(b.path, b.line, how, b.body, out))
      end)
    end
  end
end)
