--- nslua.cli.main: main(argv) of the `nslua` command (testable: returns the exit code).
--   nslua FILE.lua [ARGS...]      run a recipe file (an ARG with '/' or ending in .lua)
--   nslua SUBCOMMAND [ARGS...]    run | exec | explain | learn | ps | gc | doctor | seccomp | help
--   nslua NAME [ARGS...]          run a built-in recipe (lua/nslua/recipes/NAME.lua)
-- Each subcommand is a module nslua.cli.<name> with main(args); this one
-- dispatches, and holds what several of them share: messages, usage
-- errors, and loading and running recipes.
-- Exit codes (DESIGN "Reports and exit codes", nslua.report): the command's
-- own; 128+N for signal N; 125 when nslua failed (bad recipe, bad option,
-- set-up error); 126 cannot execute; 127 not found.
local report = require "nslua.report"

local M = {}

M.EXIT_FAIL = report.EXIT_FAIL

--- The subcommands: each but help (answered here) is the module
-- nslua.cli.<name> with main(args).  No recipe may share one of these names.
M.SUBCOMMANDS = { run = true, exec = true, explain = true, ps = true, gc = true,
                  doctor = true, help = true, bwrap = true, isolate = true, oci = true,
                  seccomp = true, learn = true, version = true }

--- Write "nslua: <message>" to stderr.
function M.eprintf(fmt, ...)
  io.stderr:write("nslua: ", fmt:format(...), "\n")
end
local eprintf = M.eprintf

-- A usage error: raised inside main, turned into exit 125.
local UsageError = {}

--- Raise a usage error (a bad option or argument): main prints the
-- message and returns 125.  Never returns.
function M.usage_error(msg)
  error(setmetatable({ msg = msg }, UsageError), 0)
end
local usage_error = M.usage_error

--- Is this argument a recipe file rather than a name (it holds a '/' or
-- ends in .lua)?
function M.is_recipe_path(a)
  return a:find("/", 1, true) ~= nil or a:match("%.lua$") ~= nil
end

--- The path of built-in recipe 'name', or nil.
function M.builtin(name)
  return package.searchpath("nslua.recipes." .. name, package.path)
end

--- The text of an error value, whatever it is: a recipe may raise a
-- table, or a value whose __tostring itself raises.
function M.error_text(e)
  local ok, s = pcall(tostring, e)
  if ok and type(s) == "string" then return s end
  return ("(an error value of type %s)"):format(type(e))
end
local error_text = M.error_text

-- A recipe's error as "path: message": Lua puts "path:line:" before a
-- string raised at a level; anything else gets the file name here.
local function recipe_error(path, e)
  local s = error_text(e)
  if s:sub(1, #path + 1) == path .. ":" then return s end
  return ("%s: %s"):format(path, s)
end

--- Is v an exit code a recipe may end with (an integer 0-255)?
function M.valid_exit_code(v)
  local n = math.tointeger(v)
  return n ~= nil and n >= 0 and n <= 255
end

--- Load a recipe as text only (never bytecode) and run its chunk with
-- args (also in the global `arg`, as a script gets them).
-- @treturn[1] true
-- @return[1] the value the recipe returned
-- @return[2] nil
-- @treturn[2] string message (file:line for a syntax error)
function M.load_recipe(path, args)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local a = { [0] = path, table.unpack(args, 1, args.n or #args) }
  _G.arg = a
  local ok, v = pcall(chunk, table.unpack(args, 1, args.n or #args))
  if not ok then return nil, recipe_error(path, v) end
  return true, v
end

--- Merge CLI overrides into a spec (overrides replace; mounts append);
-- 'unset' names environment variables to remove.
function M.apply(base, over, unset)
  local policy = require "nslua.policy"
  local spec = policy.override(base, over)
  if unset and spec.env then
    for k in pairs(unset) do spec.env[k] = nil end
  end
  return spec
end

--- What a recipe gives: a spec table (with the CLI's remaining arguments
-- as its argv when it has none), or, when the recipe drove the API itself,
-- an exit code.  A recipe's value: a spec table, a function (called with
-- the arguments; its result is taken the same way), an integer (exit
-- code), or nothing (exit 0).
-- @tparam string path the recipe file
-- @tparam table args its arguments (args.n may count them)
-- @tparam[opt] boolean need_spec true when only a spec will do (explain)
-- @treturn[1] string "spec"
-- @treturn[1] table the spec
-- @treturn[2] string "code"
-- @treturn[2] integer the exit code
-- @return[3] nil
-- @treturn[3] string message
function M.recipe(path, args, need_spec)
  local ok, v = M.load_recipe(path, args)
  if not ok then return nil, v end
  if type(v) == "function" then
    -- explain runs nothing: a function that starts a container or a pool
    -- fails instead, and then there is no plan to print
    local resources = require "nslua.resources"
    resources.forbid = need_spec and "explain runs nothing (the recipe drives the API itself)" or nil
    local ok2, r = pcall(v, table.unpack(args, 1, args.n or #args))
    resources.forbid = nil
    if not ok2 then return nil, recipe_error(path, r) end
    v = r
  end
  if type(v) == "table" then
    local spec = v
    local cmd = { table.unpack(args, 1, args.n or #args) }
    if cmd[1] == "--" then table.remove(cmd, 1) end
    if #cmd > 0 and not spec.argv then
      spec = M.apply(spec, { argv = cmd })
    end
    return "spec", spec
  end
  if need_spec then
    return nil, ("%s drives the API itself; there is no plan to print"):format(path)
  end
  if type(v) == "number" then
    -- DESIGN "Reports and exit codes": passed through when 0-255, else an
    -- error (the shell would see 1000 as 232)
    if not M.valid_exit_code(v) then
      return nil, ("%s: exit code %s is not in 0-255"):format(path, error_text(v))
    end
    return "code", math.tointeger(v)
  end
  if v == nil or v == true then return "code", 0 end
  if v == false then return "code", 1 end
  return nil, ("%s: a recipe returns a spec table, a function, an exit code or nothing (got %s)")
    :format(path, type(v))
end

-- Run a recipe: its spec in a container, or the exit code it chose.
local function run_recipe(path, args)
  local kind, v = M.recipe(path, args)
  if not kind then
    eprintf("%s", v)
    return M.EXIT_FAIL
  end
  if kind == "code" then return v end
  return require("nslua.cli.run").run_spec(v)
end

local HELP = [[
Usage: nslua FILE.lua [ARGS...]       run a recipe file
       nslua NAME [ARGS...]           run a built-in recipe (sandbox, judge, netpair, ...)
       nslua run [OPTIONS] -- CMD     run CMD in the default sandbox
       nslua explain [--json] [OPTIONS] -- CMD | FILE.lua | NAME
                                      print the plan without running it
       nslua learn [-o RECIPE.lua] [OPTIONS] -- CMD
                                      trace CMD, write a recipe allowing what it did
       nslua bwrap [OPTIONS] CMD      bubblewrap's command line (also as `bwrap`)
       nslua isolate OPTIONS --init | --run -- CMD | --cleanup
                                      isolate's command line (also as `isolate`)
       nslua oci [GLOBAL] COMMAND ... an OCI runtime, runc's command line (also as `nslua-oci`)
       nslua exec TARGET -- CMD       run CMD inside a running container
       nslua ps [--json]              list containers
       nslua gc [--json]              remove what dead nslua processes left behind
       nslua doctor [--json]          check this host
       nslua seccomp convert FILE.json [--caps LIST]
                                      a Docker/OCI seccomp profile as nslua's Lua table
       nslua --version [--verbose]    the version; --verbose: libraries, kernel features
       nslua help | --help

`nslua run --help` lists the sandbox options.
Exit codes: the command's own; 128+N for signal N; 125 nslua failed;
126 cannot execute; 127 not found.]]

-- Start the grace period a cgroup join waits for (cgroup.kick) at once when
-- the command line will make cgroups: `nslua run` with a limit a cgroup
-- enforces, `nslua judge`, `isolate --run --cg`, an OCI `create` or `run`.
-- The groups are made several ms later (modules, options, the state
-- record), and the wait then runs beside all of that instead of after the
-- groups' mkdir (a kick holds the cgroup mutex, which mkdir waits for:
-- docs/bench.md, "Where a judge's test goes").  A look at the options
-- before "--", nothing parsed; a kick for a run that makes no group costs
-- a short child and nothing else.
-- (runc's global options that take a value: nslua.cli.oci's GLOBAL)
local OCI_VALUE = { root = true, log = true, ["log-format"] = true, ["cgroup-manager"] = true,
                    rootless = true, criu = true }
function M.early_kick(cmd, args)
  local want, run, cg = cmd == "judge", false, false
  local skip = false
  for i = 1, args.n or #args do
    local a = args[i]
    if a == "--" or want then break end
    if cmd == "oci" then
      -- runc's grammar: global options, then the command, the first word
      -- that is neither an option nor an option's value; an OCI container
      -- gets its cgroup at create (docs/oci.md "cgroups")
      local name = a:match("^%-%-?([%w][%w%-]*)$")
      if skip then
        skip = false
      elseif name then
        skip = OCI_VALUE[name] == true
      elseif not a:match("^%-") then
        want = a == "create" or a == "run"
        break
      end
    elseif cmd == "isolate" then
      run = run or a == "--run"
      cg = cg or a:sub(1, 4) == "--cg"
    elseif cmd == "run" then
      local name = a:match("^%-%-([%w-]+)")
      local k = name and name:gsub("%-", "_")
      local lim = k and require("nslua.limits").LIMITS[k]
      want = lim ~= nil and lim.cgroup == true
    end
  end
  if not (want or (run and cg)) then return false end
  local ok, kicked = pcall(function() return require("nslua.cgroup").kick() end)
  return ok and kicked
end

local function dispatch(argv)
  local first = argv[1]
  if first == nil or first == "help" or first == "--help" or first == "-h" then
    if argv[2] and M.SUBCOMMANDS[argv[2]] and argv[2] ~= "help" then
      return dispatch { argv[2], "--help" }
    end
    print(HELP)
    return first == nil and M.EXIT_FAIL or 0
  end
  if first == "--version" and (argv.n or #argv) == 1 then
    print("nslua " .. require("nslua.core")._VERSION)
    return 0
  end
  -- --version --verbose, and the rest: nslua.cli.version
  if first == "--version" then
    return require("nslua.cli.version").main(
      { n = (argv.n or #argv) - 1, table.unpack(argv, 2, argv.n or #argv) }, "--version")
  end
  local rest = { n = (argv.n or #argv) - 1, table.unpack(argv, 2, argv.n or #argv) }
  M.early_kick(first, rest)
  if M.is_recipe_path(first) then return run_recipe(first, rest) end
  if M.SUBCOMMANDS[first] then
    return require("nslua.cli." .. first).main(rest)
  end
  if first:match("^%-") then usage_error(("unknown option '%s' (see nslua --help)"):format(first)) end
  local path = M.builtin(first)
  if not path then
    usage_error(("'%s' is neither a subcommand, a recipe file nor a built-in recipe"):format(first))
  end
  return run_recipe(path, rest)
end

-- os.exit for recipes and hooks: an exit code outside 0-255 is an error
-- (raised where the recipe called it), never a code the shell truncates.
local function checked_exit(real_exit)
  return function(code, close)
    if code ~= nil and type(code) ~= "boolean" and not M.valid_exit_code(code) then
      error(("os.exit(%s): an exit code must be 0-255"):format(error_text(code)), 2)
    end
    return real_exit(code, close)
  end
end

-- errno values of a full fd table (the same on every Linux architecture):
-- EMFILE (the process's RLIMIT_NOFILE) and ENFILE (the system's).
local EMFILE <const>, ENFILE <const> = 24, 23

--- When the fd table is full, the message that says so; else nil.  Any
-- step that opens a file then fails (a require, a pipe), so main names the
-- cause instead of the step.
function M.fd_table_full()
  local f, _, code = io.open("/dev/null", "r")
  if f then
    f:close()
    return nil
  end
  if code ~= EMFILE and code ~= ENFILE then return nil end
  local okc, core = pcall(require, "nslua.core")
  local soft = okc and core.proc.getrlimit and core.proc.getrlimit("nofile")
  return ("too many open files (the fd table is full%s)")
    :format(soft and (", ulimit -n is " .. tostring(soft)) or "")
end

--- main(argv) -> exit code.  Never raises: a usage error or an internal
-- error is a message and exit 125.
function M.main(argv)
  -- the launcher invoked as `bwrap` or `isolate` (a link; nslua-isolate
  -- runs `nslua isolate`): that tool's command line and exit codes
  local prog = argv and argv[0]
  local base = prog and prog:match("[^/]*$")
  if base == "nslua-oci" then
    M.early_kick("oci", argv)
    local code = require("nslua.cli.oci").main(argv)
    M.nothing_to_finalize = true
    return code
  end
  if base == "bwrap" or base == "isolate" then
    M.early_kick(base, argv)
    local code = require("nslua.cli." .. base).main(argv, prog)
    M.nothing_to_finalize = true
    return code
  end
  -- recipes and hooks run with the checked os.exit while main runs
  local real_exit = os.exit
  os.exit = checked_exit(real_exit) -- luacheck: ignore 122
  local ok, code = xpcall(dispatch, function(e)
    if getmetatable(e) == UsageError then return e end
    local full = M.fd_table_full()
    if full then return setmetatable({ msg = full }, UsageError) end
    return debug.traceback(error_text(e), 2)
  end, argv or {})
  os.exit = real_exit -- luacheck: ignore 122
  if ok then
    io.stdout:flush()
    return code
  end
  if getmetatable(code) == UsageError then
    eprintf("%s", code.msg)
  else
    eprintf("internal error: %s", error_text(code))
  end
  return M.EXIT_FAIL
end

return M
