--- nslua.progress: one line of progress on a terminal, nothing when piped.
-- local p = progress.new(20, "tests"); p:show(3, "t03") -> "\r tests 3/20 t03"
-- (the line is cleared and rewritten in place); p:clear() before any other
-- output on the same stream.  When the stream is not a terminal (a pipe, a
-- file) or TERM is "dumb", every call does nothing: logs stay clean.
local proc = require("nslua.core").proc

local M = {}

local Progress = {}
Progress.__index = Progress

--- @tparam integer total the number of steps
-- @tparam string label what is counted
-- @tparam[opt] file f the stream (io.stderr)
function M.new(total, label, f)
  f = f or io.stderr
  local fd = f == io.stdout and 1 or 2
  local on = proc.tcgetattr(fd) ~= nil and os.getenv("TERM") ~= "dumb"
  return setmetatable({ on = on, total = total, label = label, f = f, shown = false }, Progress)
end

--- Step i of total is under way ('what' names it).
function Progress:show(i, what)
  if not self.on then return end
  self.f:write(("\r\27[K%s %d/%d%s"):format(self.label, i, self.total, what and (" " .. what) or ""))
  self.f:flush()
  self.shown = true
end

--- Take the line away (before other output, and at the end).
function Progress:clear()
  if self.on and self.shown then
    self.f:write("\r\27[K")
    self.f:flush()
    self.shown = false
  end
end

return M
