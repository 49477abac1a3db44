-- `nslua run --tty`: an interactive pty proxied by nslua, tested under script(1).
local helper = require "helper"

local function under_script(inner)
  return helper.sh(("script -qec %s /dev/null < /dev/null"):format(helper.quote(inner)))
end

describe("nslua run --tty", function()
  local before
  before_each(function()
    before = helper.host_objects()
    if not helper.sh("command -v script") then pending("script(1) is missing (bsdutils)") end
  end)
  after_each(function() helper.assert_clean(before) end)

  it("gives the command a pty of the sandbox's own devpts", function()
    local ok, out = under_script(helper.nslua
      .. " run --tty -- /bin/sh -c 'tty; ls /dev/pts; test -t 0 && echo interactive'")
    assert.is_true(ok, out)
    local dev = out:match("(/dev/pts/%d+)")
    assert.is_truthy(dev, out)
    assert.matches("interactive", out, 1, true)
  end)

  it("copies the window size and forwards a resize as SIGWINCH", function()
    local inner = "stty rows 30 cols 100; " ..
      "(trap '' TTOU; sleep 1; stty rows 40 cols 120 < /dev/tty) & " ..
      helper.nslua .. " run --tty -- /bin/sh -c " ..
      helper.quote("stty size; trap 'echo winch; stty size' WINCH; sleep 3; sleep 0.5") .. "; wait"
    local ok, out = under_script(inner)
    assert.is_true(ok, out)
    assert.matches("30 100", out, 1, true)
    assert.matches("winch", out, 1, true)
    assert.matches("40 120", out, 1, true)
  end)

  it("refuses TIOCSTI under the pty (default seccomp profile)", function()
    local prog = [[
import fcntl, termios, sys
try:
    fcntl.ioctl(0, termios.TIOCSTI, b"x")
    print("tiocsti: allowed")
except OSError as e:
    print("tiocsti: errno", e.errno)
]]
    local ok, out = under_script(helper.nslua .. " run --tty -- /usr/bin/python3 -c " .. helper.quote(prog))
    assert.is_true(ok, out)
    assert.matches("tiocsti: errno 1", out, 1, true)
  end)
end)
