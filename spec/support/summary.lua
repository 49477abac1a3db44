-- busted output handler: the usual terminal output, then one plain line per
-- failure or error (file, line of the failing assertion, test name, first
-- line of the message) and one plain "N passed, N failed, N skipped" line,
-- so that the tail of any CI log names what broke.
return function(options)
  local busted = require("busted")
  local handler = require("busted.outputHandlers.utfTerminal")(options)

  local function where(f)
    local t = (f.trace and f.trace.short_src) and f.trace or f.element.trace or {}
    return ("%s:%s"):format(t.short_src or "?", t.currentline or "?")
  end

  local function first_line(msg)
    if type(msg) ~= "string" then msg = tostring(msg) end
    return (msg:match("^[^\n]*"))
  end

  busted.subscribe({ "suite", "end" }, function()
    for _, list in ipairs { handler.failures, handler.errors } do
      for _, f in ipairs(list) do
        io.write(("FAILED %s %s: %s\n"):format(where(f), f.name, first_line(f.message)))
      end
    end
    io.write(("%d passed, %d failed, %d skipped\n"):format(
      handler.successesCount, handler.failuresCount + handler.errorsCount,
      handler.pendingsCount))
    io.flush()
    return nil, true
  end)
  return handler
end
