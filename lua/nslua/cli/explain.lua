--- nslua.cli.explain: print the plan of a sandbox without running it.
--   nslua explain [--json] [OPTIONS] -- CMD [ARGS...]   (run's options)
--   nslua explain [--json] FILE.lua | NAME [ARGS...]    (a recipe's spec)
-- Both print exactly the plan core.setup would receive (launch.plan over
-- resources.dry: the id shows as xxxxxxxx, the slot as the first one).
local main = require "nslua.cli.main"

local M = {}

local eprintf = main.eprintf

-- The one place the plan is printed: the plan the executor would get
-- (Container:plan, launch.plan over resources.dry), as JSON or as text.
local function print_plan(c, json)
  local plan, err = c:plan()
  if not plan then
    eprintf("explain: %s", err)
    return main.EXIT_FAIL
  end
  local launch = require "nslua.launch"
  if json then
    print(launch.json(plan))
  else
    for _, line in ipairs(launch.explain(plan)) do print(line) end
  end
  return 0
end

--- Print the plan of a spec without running it.
-- @tparam table spec
-- @tparam[opt] boolean json print JSON rather than text
-- @treturn integer exit code (0, or 125 for a bad spec)
function M.explain_spec(spec, json)
  local container = require "nslua.container"
  local ok, c = pcall(container.new, spec)
  if not ok then
    eprintf("%s", tostring(c))
    return main.EXIT_FAIL
  end
  return print_plan(c, json)
end

-- The recipe file or built-in recipe an argument names, or nil (then the
-- arguments are run's options).
local function recipe_path(a)
  if a == nil then return nil end
  if main.is_recipe_path(a) then return a end
  if not a:match("^%-") then return main.builtin(a) end
  return nil
end

--- explain's argparse parser (its help, and docs/cli.md): run's options,
-- and --json.
function M.parser()
  local p = require("nslua.cli.run").parser("nslua explain")
  p:description("Print the plan of a sandbox without running it: of CMD in the default sandbox "
    .. "with run's options, or of a recipe (nslua explain [--json] FILE.lua | NAME [ARGS...]).")
  p:flag("--json", "Print the plan as JSON.")
  return p
end

local function help()
  print(M.parser():get_help())
  return 0
end

--- main(args) of `nslua explain` -> exit code.
function M.main(args)
  local n, i, json = args.n or #args, 1, false
  if args[1] == "--help" or args[1] == "-h" then return help() end
  while i <= n and args[i] == "--json" do json, i = true, i + 1 end
  local path = recipe_path(args[i])
  if path then
    local kind, v = main.recipe(path, { n = n - i, table.unpack(args, i + 1, n) }, true)
    if not kind then
      eprintf("explain: %s", v)
      return main.EXIT_FAIL
    end
    return M.explain_spec(v, json)
  end
  -- run's options: --json may stand among them, before the `--`
  local rest, in_cmd = { n = 0 }, false
  for k = i, n do
    local a = args[k]
    if a == "--" then in_cmd = true end
    if a == "--json" and not in_cmd then
      json = true
    else
      rest.n = rest.n + 1
      rest[rest.n] = a
    end
  end
  local spec = require("nslua.cli.run").spec_of(rest, "nslua explain")
  return M.explain_spec(spec, json)
end

return M
