-- spec/fuzz_spec.lua - scripts/fuzz/fuzz.lua (`make fuzz`): a short run in
-- CI (under `make sanitize` with the sanitizer runtimes, as make fuzz),
-- and the fuzzer's own checks, against commands that fail on purpose.
local helper = require "helper"

local q = helper.quote
local FUZZ = helper.root .. "/scripts/fuzz/fuzz.lua"

-- Run the fuzzer with 'env' (a shell prefix); ok, output, exit code.
local function fuzz(env)
  return helper.sh(("cd %s && %s %s%s"):format(q(helper.root), env, helper.LUA, " " .. q(FUZZ)))
end

describe("make fuzz #priv", function()
  local tracker
  before_each(function() tracker = helper.track() end)
  after_each(function() helper.assert_released(tracker) end)

  it("runs 10 s of random command lines and specs without a failure", function()
    if not helper.is_root() then return pending("needs root") end
    local ok, out = fuzz("FUZZ_SECONDS=10 ")
    assert.is_true(ok, out)
    local n = tonumber(out:match("fuzz: (%d+) cases"))
    assert.is_true(n ~= nil and n > 0, out)
    assert.matches("no failure", out, 1, true)
    -- its working directory is gone
    local wd = out:match("in (/tmp/nslua%-fuzz%.%w+)")
    assert.is_string(wd, out)
    assert.is_false(helper.exists(wd))
  end)

  -- A command that fails in one way: the fuzzer stops at the first case,
  -- names the failure and prints how to run it again.
  local function catches(script, want, env)
    local dir = helper.tmpdir("0755")
    local fake = dir .. "/fake-nslua"
    local f = assert(io.open(fake, "w"))
    f:write("#!/bin/sh\n", script, "\n")
    f:close()
    os.execute("chmod 0755 " .. q(fake))
    local ok, out, code = fuzz(("FUZZ_SEED=42 FUZZ_SECONDS=5 FUZZ_NSLUA=%s %s"):format(q(fake), env or ""))
    helper.rmtree(dir)
    assert.is_false(ok, out)
    assert.equal(1, code, out)
    assert.matches("fuzz: FAILED case 1 ", out, 1, true)
    assert.matches(want, out, 1, true)
    assert.matches("again: make fuzz FUZZ_SEED=42 FUZZ_CASE=1", out, 1, true)
    assert.matches("command: ", out, 1, true)
    return out
  end

  it("fails on a traceback, an internal error, a sanitizer report", function()
    if not helper.is_root() then return pending("needs root") end
    catches('echo "lua5.4: x"; echo "stack traceback:"; exit 125', "a Lua traceback")
    catches('echo "nslua: internal error: x"; exit 125', "an internal error")
    catches('echo "==1==ERROR: AddressSanitizer: heap-buffer-overflow"; exit 1', "AddressSanitizer report")
    catches('echo "x.c:1:2: runtime error: signed integer overflow"; exit 0', "UndefinedBehaviorSanitizer")
    catches('echo "nslua: start: lua/nslua/x.lua:12: oops"; exit 125', "a position in nslua's own sources")
    catches("exit 125", "exit 125 without a message")
  end)

  it("fails on a crash, a hang and an exit code outside the allowed ones", function()
    if not helper.is_root() then return pending("needs root") end
    -- (SIGTERM: under make sanitize the ASan runtime would catch a SIGSEGV)
    catches("kill -TERM $$", "died of signal 15")
    catches("sleep 30", "no end within 3 s", "FUZZ_TIMEOUT=3 ")
    catches("exit 124", "exit code 124 is not allowed")
  end)

  it("fails on a process or a state record left behind, and removes them", function()
    if not helper.is_root() then return pending("needs root") end
    local out = catches("sleep 301 & exit 0", "processes left behind")
    assert.matches("left behind:\n    process %d+: ", out)
    local _, ps = helper.sh("pgrep -x -f 'sleep 301' || true")
    assert.equal("", ps)
    local id = "zzfuzz" .. ("%02d"):format(math.random(0, 99))
    tracker.ids[#tracker.ids + 1] = id
    -- a live owner's record (pid 1's), which no other nslua's sweep on this
    -- machine removes between the fuzzer's two looks. Shell builtins only:
    -- under make sanitize a tool such as sed runs with the ASan runtime
    -- preloaded, and its own leak report would be the failure caught first.
    finally(function() helper.rmtree("/run/nslua/" .. id) end)
    out = catches(('echo %s >> "$NSLUA_FUZZ_IDLOG"; mkdir -p /run/nslua/%s; '
      .. [[read -r st < /proc/1/stat; set -- ${st##*) }; shift 19; ]]
      .. [[printf 'owner_pid=1\nowner_start=%%s\n' "$1" ]]
      .. '> /run/nslua/%s/info; exit 0'):format(id, id, id), "objects left behind")
    assert.matches("state: /run/nslua/" .. id, out, 1, true)
  end)
end)
