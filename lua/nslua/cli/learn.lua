--- nslua.cli.learn: `nslua learn [-o RECIPE.lua] [OPTIONS] -- CMD [ARGS...]`:
-- run CMD in the sandbox run's OPTIONS describe, with every syscall
-- traced (nslua.learn's recorder), then write a recipe of that sandbox
-- tightened to what CMD did (stdout without -o).  docs/policy.md
-- "nslua learn".  Exit code: the command's (the recipe is written
-- whatever it was); 125 when nslua failed, 126 or 127 when CMD could
-- not start (no recipe then).
local core = require "nslua.core"
local main = require "nslua.cli.main"

local M = {}

local eprintf, usage_error = main.eprintf, main.usage_error

--- learn's argparse parser (its help, and docs/cli.md): run's options,
-- and -o/--output.
function M.parser()
  local p = require("nslua.cli.run").parser("nslua learn")
  p:description("Run CMD in the sandbox (run's options) with every syscall traced, and write a recipe: "
    .. "that sandbox allowing only the syscalls, paths and ports CMD used (stdout without -o).")
  p:option("-o --output", "Write the recipe to FILE.")
  return p
end

local function help()
  print(M.parser():get_help())
  return 0
end

-- -o FILE, --output FILE and --output=FILE before `--`; the rest is run's.
local function split_args(args)
  local rest, out = { n = 0 }, nil
  local i, n = 1, args.n or #args
  while i <= n do
    local a = args[i]
    if a == "--" then
      for k = i, n do rest[#rest + 1] = args[k] end
      break
    end
    if a == "-h" or a == "--help" then return nil, nil, true end
    if a == "-o" or a == "--output" then
      if i == n or args[i + 1] == "--" then usage_error(a .. ": takes an argument (FILE)") end
      out, i = args[i + 1], i + 2
    elseif a:match("^%-%-output=") then
      out, i = a:sub(10), i + 1
    else
      rest[#rest + 1] = a
      i = i + 1
    end
  end
  rest.n = #rest
  if out == "" then usage_error("--output: empty file name") end
  return rest, out
end

local function shell_word(s)
  if s:match("^[%w@%%+=:,./_-]+$") then return s end
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

--- main(args) of `nslua learn` -> exit code.
function M.main(args)
  local rest, out, want_help = split_args(args)
  if want_help then return help() end
  local run = require "nslua.cli.run"
  local learn = require "nslua.learn"
  local report = require "nslua.report"
  local spec = run.spec_of(rest, "nslua learn")
  local base = spec.seccomp or "default"
  if type(base) ~= "string" then usage_error("--seccomp: learn starts from a profile name or FILE.lua") end
  if (base:find("/", 1, true) or base:match("%.lua$")) and base:sub(1, 1) ~= "/" then
    -- the recipe may run from another directory
    base = (core.mount.readlink("/proc/self/cwd") or ".") .. "/" .. base
  end
  local okb, bp = pcall(learn.base_profile, base)
  if not okb then usage_error(main.error_text(bp)) end
  -- the file is opened first: one nslua cannot write is exit 125 before the run
  local f
  if out then
    local err
    f, err = io.open(out, "w")
    if not f then usage_error("--output: " .. err) end
  end
  -- without -o the recipe has stdout to itself: the command's stdout goes
  -- to stderr (fd 1 becomes a copy of fd 2), and the recipe to the file fd
  -- 1 was, reopened first (when it cannot be, e.g. a socket, both share it)
  local saved
  if not out then
    saved = io.open("/proc/self/fd/1", "a")
    if saved then
      io.stdout:flush()
      if not core.proc.dup2(2, 1) then
        saved:close()
        saved = nil
      end
    end
  end
  local rec = learn.recorder(bp, { argv0 = spec.argv[1], path = type(spec.env) == "table" and spec.env.PATH or nil,
                                  cwd = spec.cwd })
  local traced = {}
  for k, v in pairs(spec) do traced[k] = v end
  traced.seccomp = rec:profile()
  local container = require "nslua.container"
  local ok, c = pcall(container.new, traced)
  if not ok then
    if f then f:close(); os.remove(out) end
    eprintf("%s", main.error_text(c))
    return report.EXIT_FAIL
  end
  c._last_run = true
  local rep, err = c:run()
  if not rep or rep.status == "error" then
    if f then f:close(); os.remove(out) end
    if saved then saved:close() end
    local e = rep and rep.error
    eprintf("learn: %s", err or (e and (e.message or e.step)) or "the run failed")
    return rep and report.exit_code(rep) or report.EXIT_FAIL
  end
  local words = {}
  for i = 1, args.n or #args do words[#words + 1] = shell_word(args[i]) end
  local recipe_spec = {}
  for k, v in pairs(spec) do recipe_spec[k] = v end
  recipe_spec.seccomp, recipe_spec.argv = nil, nil
  local text = learn.recipe(rec, { spec = recipe_spec, argv = spec.argv, report = rep, base = base,
                                   command_line = table.concat(words, " ") })
  if f then
    local okw, werr = f:write(text)
    if okw then okw, werr = f:close() else f:close() end
    if not okw then
      eprintf("--output: %s", werr)
      return report.EXIT_FAIL
    end
    eprintf("learn: wrote %s (%d syscalls traced)", out, rec.count)
  else
    local o = saved or io.stdout
    local okw, werr = o:write(text)
    if okw then okw, werr = o:flush() end
    if saved then saved:close() end
    if not okw then
      eprintf("stdout: %s", werr)
      return report.EXIT_FAIL
    end
  end
  main.nothing_to_finalize = true
  return report.exit_code(rep)
end

return M
