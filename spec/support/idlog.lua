-- spec/support/idlog.lua - the text of a LUA_INIT hook that logs every id
-- nslua.state.new_id hands out, to the file named by the variable 'l' (set
-- it in front of this text).  spec/helper.lua (the tests) and
-- scripts/fuzz/fuzz.lua (the fuzzer) use it to find the objects their
-- runs made, and only those.
return [[
if l and not package.preload["nslua.state"] then
  package.preload["nslua.state"] = function(name)
    for i = 2, #package.searchers do
      local f, x = package.searchers[i](name)
      if type(f) == "function" then
        local m = f(name, x)
        if type(m) == "table" and type(m.new_id) == "function" then
          local new_id = m.new_id
          m.new_id = function(...)
            local id = new_id(...)
            local h = io.open(l, "a")
            if h then h:write(id, "\n") h:close() end
            return id
          end
        end
        return m
      end
    end
    error("module '" .. name .. "' not found", 2)
  end
end
]]
