--- nslua.cli.doc: the command line's reference, built from the parsers'
-- own tables (scripts/gen-cli-doc): docs/cli.md's generated part, the
-- scdoc sources of nslua(1) and nslua-oci(1), and the bash, zsh and fish
-- completions.  Nothing here parses a command line: every option comes
-- from the table or argparse parser its subcommand reads (run, explain,
-- learn and exec: argparse; bwrap, isolate, seccomp, ps, doctor, gc:
-- M.OPTIONS; oci: M.GLOBAL and M.COMMANDS), so the reference cannot list
-- an option the parser does not take, nor miss one it does.
local M = {}

-- docs/cli.md: everything after this line is generated
M.MARKER = "<!-- Generated below by scripts/gen-cli-doc from the parsers' tables: "
  .. "edit those, not this page. -->"

-- ---------------------------------------------------------------- the model

-- An argparse parser's options: { names, arg, help, hidden }.
local function argparse_options(p)
  local out = {}
  for _, o in ipairs(p._options) do
    out[#out + 1] = { names = { table.unpack(o._aliases) }, arg = table.concat(o:_get_argument_list(), " "),
                      help = o._description or "", hidden = o._hidden or nil }
  end
  return out
end

-- A { name, {ARGS}, help (a string or lines) } table (bwrap, seccomp, ps,
-- doctor, gc), with -h/--help first unless the table has it.
local function table_options(t, help_text)
  local out, has_help = {}, false
  for _, o in ipairs(t) do has_help = has_help or o[1] == "--help" end
  if not has_help then
    out[1] = { names = { "-h", "--help" }, arg = "", help = help_text or "Show this help and exit." }
  end
  for _, o in ipairs(t) do
    local help = type(o[3]) == "table" and table.concat(o[3], " ") or o[3]
    out[#out + 1] = { names = { o[1] }, arg = table.concat(o[2], " "), help = help }
  end
  return out
end

-- isolate's { long, short, arg, key, help }.
local function isolate_options(t)
  local out = {}
  for _, o in ipairs(t) do
    local names = { "--" .. o[1] }
    if o[2] then table.insert(names, 1, "-" .. o[2]) end
    out[#out + 1] = { names = names, help = o[5],
                      arg = o[3] == "required" and "=<arg>" or o[3] == "optional" and "[=<arg>]" or "" }
  end
  return out
end

-- oci's flags of one command (def.flags, def.aliases), sorted by name.
local function oci_options(def, cmd, help)
  local short = {}
  for s, long in pairs(def.aliases or {}) do short[long] = s end
  local names = {}
  for f in pairs(def.flags) do names[#names + 1] = f end
  table.sort(names)
  local out = {}
  for _, f in ipairs(names) do
    local kind = def.flags[f]
    local t = { names = { "--" .. f }, arg = kind == "bool" and "" or "VALUE",
                help = help[(cmd and (cmd .. " ") or "") .. "--" .. f] or help["--" .. f] or "" }
    if short[f] then table.insert(t.names, 1, "-" .. short[f]) end
    if kind == "list" then t.help = t.help .. (t.help:find("repeatable") and "" or " (repeatable)") end
    out[#out + 1] = t
  end
  return out
end

--- The subcommands of `nslua`, in its --help order: a list of
-- { name, usage (list of lines), summary, description, options, own
-- (explain, learn: the options beyond run's), operand ("container" when
-- the first operand is a container) }.
function M.subcommands()
  local run = require "nslua.cli.run"
  local runp = run.parser()
  local run_opts = argparse_options(runp)
  -- the options p adds to run's (its parser is run's, then those)
  local function own(p)
    return { table.unpack(argparse_options(p), #run_opts + 1) }
  end
  local explain_p = require("nslua.cli.explain").parser()
  local learn_p = require("nslua.cli.learn").parser()
  local exec_p = require("nslua.cli.exec").parser()
  local bwrap = require "nslua.cli.bwrap"
  local isolate = require "nslua.cli.isolate"
  local seccomp = require "nslua.cli.seccomp"
  local ps, gc, doctor = require "nslua.cli.ps", require "nslua.cli.gc", require "nslua.cli.doctor"
  local version = require "nslua.cli.version"
  return {
    { name = "run", usage = { "nslua run [OPTIONS] [--] CMD [ARGS...]" },
      summary = "Run CMD in the default sandbox.", description = runp._description, options = run_opts },
    { name = "explain", usage = { "nslua explain [--json] [OPTIONS] -- CMD [ARGS...]",
                                  "nslua explain [--json] FILE.lua | NAME [ARGS...]" },
      summary = "Print the plan of a sandbox without running it.", description = explain_p._description,
      options = argparse_options(explain_p), own = own(explain_p) },
    { name = "learn", usage = { "nslua learn [-o RECIPE.lua] [OPTIONS] -- CMD [ARGS...]" },
      summary = "Trace CMD, write a recipe allowing what it did.", description = learn_p._description,
      options = argparse_options(learn_p), own = own(learn_p) },
    { name = "exec", usage = { "nslua exec [--env K=V] [--cwd DIR] TARGET -- CMD [ARGS...]" },
      summary = "Run CMD inside a running container.", description = exec_p._description,
      options = argparse_options(exec_p), operand = "container" },
    { name = "ps", usage = { ps.USAGE }, summary = "List containers.", description = ps.DESCRIPTION,
      options = table_options(ps.OPTIONS) },
    { name = "gc", usage = { gc.USAGE }, summary = "Remove what dead nslua processes left behind.",
      description = gc.DESCRIPTION, options = table_options(gc.OPTIONS) },
    { name = "version", usage = { version.USAGE }, summary = "Print the version (--verbose: libraries, kernel).",
      description = version.DESCRIPTION, options = table_options(version.OPTIONS) },
    { name = "doctor", usage = { doctor.USAGE }, summary = "Check this host.",
      description = doctor.DESCRIPTION .. "\n" .. doctor.EXIT_STATUS, options = table_options(doctor.OPTIONS) },
    { name = "seccomp", usage = { seccomp.USAGE },
      summary = "A Docker/OCI seccomp profile as nslua's Lua table.",
      description = seccomp.DESCRIPTION .. "\n" .. seccomp.NOTE, options = table_options(seccomp.OPTIONS),
      words = { "convert" } },
    { name = "bwrap", usage = { "nslua bwrap [OPTIONS...] [--] COMMAND [ARGS...]", "bwrap [OPTIONS...] "
                                .. "[--] COMMAND [ARGS...]" },
      summary = "bubblewrap's command line (also as `bwrap`; docs/bwrap.md).",
      description = ("bubblewrap %s's options with bubblewrap's meaning; docs/bwrap.md lists every "
        .. "difference."):format(bwrap.VERSION), options = table_options(bwrap.OPTIONS) },
    { name = "isolate", usage = { "nslua isolate [OPTIONS] --init | --run -- PROG [ARGS...] | --cleanup",
                                  "isolate [OPTIONS] --init | --run -- PROG [ARGS...] | --cleanup" },
      summary = "isolate's command line (also as `isolate`; docs/isolate.md).",
      description = ("isolate %s's options, units and exit codes (0 OK, 1 the program failed, 2 an "
        .. "error); the commands are options too (--init, --run, --cleanup, ...)."):format(isolate.ISOLATE_VERSION),
      options = isolate_options(isolate.OPTIONS) },
    { name = "oci", usage = { "nslua oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS",
                              "nslua-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS" },
      summary = "An OCI runtime, runc's command line (also as `nslua-oci`; docs/oci.md).",
      description = "runc's commands and their flags: nslua-oci(1), and docs/cli.md's nslua-oci section.",
      options = {} },
  }
end

--- The built-in recipes' names (lua/nslua/recipes/*.lua), sorted: the
-- completions offer them where a subcommand goes.
function M.recipes()
  local one = package.searchpath("nslua.recipes.sandbox", package.path)
  local dir = one and one:match("^(.*)/[^/]*$")
  local out = {}
  for _, f in ipairs(dir and require("nslua.core").mount.readdir(dir) or {}) do
    local name = f:match("^(.+)%.lua$")
    if name then out[#out + 1] = name end
  end
  table.sort(out)
  return out
end

--- `nslua oci`'s grammar: { global = options, commands = list of
-- { name, args, summary, options } } in name order.
function M.oci()
  local oci = require "nslua.cli.oci"
  local names = {}
  for n in pairs(oci.COMMANDS) do names[#names + 1] = n end
  table.sort(names)
  local cmds = {}
  for _, n in ipairs(names) do
    local def = oci.COMMANDS[n]
    cmds[#cmds + 1] = { name = n, args = def.args, summary = oci.COMMAND_HELP[n] or "",
                        options = oci_options(def, n, oci.FLAG_HELP) }
  end
  return { global = oci_options(oci.GLOBAL, nil, oci.FLAG_HELP), commands = cmds }
end

-- ---------------------------------------------------------------- markdown

local function label(o)
  return table.concat(o.names, ", ") .. (o.arg ~= "" and ((o.arg:sub(1, 1) == "=" and "" or " ") .. o.arg) or "")
end

local function md_options(out, opts)
  local hidden, why = {}, nil
  for _, o in ipairs(opts) do
    if o.hidden then
      hidden[#hidden + 1] = "`" .. label(o) .. "`"
      why = why or o.help:gsub("%.$", "")
    else
      out[#out + 1] = ("* `%s`: %s"):format(label(o), o.help)
    end
  end
  if #hidden > 0 then
    out[#out + 1] = ""
    out[#out + 1] = ("Accepted and not in --help (%s): %s"):format(why, table.concat(hidden, ", "))
  end
end

--- docs/cli.md's generated part (after M.MARKER), as text.
function M.markdown()
  local out = { "", "## Subcommands", "" }
  local subs = M.subcommands()
  for _, s in ipairs(subs) do
    out[#out + 1] = ("* [`nslua %s`](#nslua-%s): %s"):format(s.name, s.name, s.summary)
  end
  for _, s in ipairs(subs) do
    out[#out + 1] = ""
    out[#out + 1] = "### nslua " .. s.name
    out[#out + 1] = ""
    out[#out + 1] = "```"
    for _, u in ipairs(s.usage) do out[#out + 1] = u end
    out[#out + 1] = "```"
    out[#out + 1] = ""
    out[#out + 1] = (s.description:gsub("\n", " "))
    out[#out + 1] = ""
    if s.own then
      out[#out + 1] = "Every option of [`nslua run`](#nslua-run), and:"
      out[#out + 1] = ""
      md_options(out, s.own)
    elseif #s.options > 0 then
      md_options(out, s.options)
    end
  end
  local oci = M.oci()
  out[#out + 1] = ""
  out[#out + 1] = "## nslua-oci"
  out[#out + 1] = ""
  out[#out + 1] = "```"
  out[#out + 1] = "nslua-oci [GLOBAL OPTIONS] COMMAND [OPTIONS] ARGS"
  out[#out + 1] = "```"
  out[#out + 1] = ""
  out[#out + 1] = "Global options:"
  out[#out + 1] = ""
  md_options(out, oci.global)
  for _, c in ipairs(oci.commands) do
    out[#out + 1] = ""
    out[#out + 1] = "### nslua-oci " .. c.name
    out[#out + 1] = ""
    out[#out + 1] = "```"
    out[#out + 1] = ("nslua-oci [GLOBAL OPTIONS] %s%s%s"):format(c.name, #c.options > 0 and " [OPTIONS]" or "",
      c.args ~= "" and (" " .. c.args) or "")
    out[#out + 1] = "```"
    out[#out + 1] = ""
    out[#out + 1] = c.summary
    if #c.options > 0 then
      out[#out + 1] = ""
      md_options(out, c.options)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

--- docs/cli.md whole: its hand-written head (up to and with M.MARKER, from
-- 'current', the page as it is) and the generated part.
function M.page(current)
  local at = current and current:find(M.MARKER, 1, true)
  if not at then error("docs/cli.md: no generated-part marker (" .. M.MARKER .. ")", 0) end
  return current:sub(1, at + #M.MARKER - 1) .. "\n" .. M.markdown()
end

-- ---------------------------------------------------------------- scdoc

-- Text safe in scdoc: its markup characters escaped, and a line's
-- leading '-' or '#' (a list entry, a heading).
local function scd(s)
  s = s:gsub("[\\*_`]", "\\%0")
  return (("\n" .. s):gsub("\n([-#])", "\n\\%1"):sub(2))
end

local function scd_options(out, opts)
  for _, o in ipairs(opts) do
    local names = {}
    for i, n in ipairs(o.names) do names[i] = "*" .. scd(n) .. "*" end
    out[#out + 1] = table.concat(names, ", ") .. (o.arg ~= "" and
      ((o.arg:sub(1, 1) == "=" and "" or " ") .. scd(o.arg)) or "")
    out[#out + 1] = "\t" .. scd(o.help) .. (o.hidden and " (Not in --help.)" or "")
    out[#out + 1] = ""
  end
end

local HEAD = {
  nslua = {
    name = "nslua - run commands in Linux namespace sandboxes",
    synopsis = { "*nslua* _FILE.lua_ [_ARGS_...]", "*nslua* _NAME_ [_ARGS_...]",
                 "*nslua* _SUBCOMMAND_ [_OPTIONS_] [_ARGS_...]", "*nslua* help | --help | --version" },
    description = [[
nslua runs a command in a sandbox made of Linux namespaces, cgroups,
seccomp and Landlock, described by a Lua 5.4 table (a recipe).  The
first argument picks what runs: a recipe file (an argument with a '/' or
ending in .lua), a subcommand (below), or a built-in recipe by NAME
(sandbox, judge, netpair, ...).  *nslua help* _SUBCOMMAND_ or *nslua*
_SUBCOMMAND_ *--help* prints a subcommand's own help.]],
    exit = [[
The command's own exit code; 128+N when it was killed by signal N; 125
when nslua failed (bad recipe, bad option, set-up error); 126 when the
command cannot be executed; 127 when it is not found.  *nslua bwrap*,
*nslua isolate* and *nslua oci* use their tool's exit codes instead.]],
    files = [[
*/run/nslua*
	The state directory (one record per container; *nslua ps*, *nslua gc*).
	Other users get *$XDG\_RUNTIME\_DIR/nslua*, else */tmp/nslua-UID*.

*/etc/nslua.conf*
	Host configuration (isolate's defaults, id slots).]],
    see = "*nslua-oci*(1), *bwrap*(1), *isolate*(1); docs/cli.md, docs/policy.md, docs/bwrap.md, "
      .. "docs/isolate.md and docs/oci.md in nslua's sources.",
  },
  ["nslua-oci"] = {
    name = "nslua-oci - an OCI runtime with runc's command line, over nslua",
    synopsis = { "*nslua-oci* [_GLOBAL OPTIONS_] _COMMAND_ [_OPTIONS_] _ARGS_",
                 "*nslua oci* [_GLOBAL OPTIONS_] _COMMAND_ [_OPTIONS_] _ARGS_" },
    description = [[
nslua-oci takes runc's command line, so container engines (podman,
containerd) can use it as their runtime: config.json becomes an nslua
sandbox.  As runc, -x and --x alike, --x=v or --x v, booleans may
be --x=true|false, and options end at the first argument that is not
one.]],
    exit = [[
0 on success; 1 on failure, with the message on stderr (and in
the --log file).  *run* without --detach exits with the container's code
(128+N for signal N), *exec* with its process's; both exit 125 when nslua
fails the run itself.]],
    files = [[
*/run/nslua/oci*
	The default state root (*--root*).]],
    see = "*nslua*(1), *runc*(8); docs/oci.md in nslua's sources.",
  },
}

--- The scdoc source of man page 'page' ("nslua" or "nslua-oci").
function M.scdoc(page)
  local h = assert(HEAD[page], "no such page")
  local out = { page .. "(1)", "", "# NAME", "", h.name, "", "# SYNOPSIS", "" }
  for i, s in ipairs(h.synopsis) do out[#out + 1] = s .. (i < #h.synopsis and " ++" or "") end
  out[#out + 1] = ""
  out[#out + 1] = "# DESCRIPTION"
  out[#out + 1] = ""
  out[#out + 1] = h.description
  out[#out + 1] = ""
  if page == "nslua" then
    out[#out + 1] = "# SUBCOMMANDS"
    out[#out + 1] = ""
    for _, s in ipairs(M.subcommands()) do
      out[#out + 1] = "## " .. s.name
      out[#out + 1] = ""
      for i, u in ipairs(s.usage) do out[#out + 1] = scd(u) .. (i < #s.usage and " ++" or "") end
      out[#out + 1] = ""
      out[#out + 1] = scd(s.description)
      out[#out + 1] = ""
      if s.own then
        out[#out + 1] = "Every option of *run*, and:"
        out[#out + 1] = ""
        scd_options(out, s.own)
      else
        scd_options(out, s.options)
      end
    end
  else
    local oci = M.oci()
    out[#out + 1] = "# GLOBAL OPTIONS"
    out[#out + 1] = ""
    scd_options(out, oci.global)
    out[#out + 1] = "# COMMANDS"
    out[#out + 1] = ""
    for _, c in ipairs(oci.commands) do
      out[#out + 1] = "## " .. c.name
      out[#out + 1] = ""
      out[#out + 1] = scd(("nslua-oci %s%s%s"):format(c.name, #c.options > 0 and " [OPTIONS]" or "",
        c.args ~= "" and (" " .. c.args) or ""))
      out[#out + 1] = ""
      out[#out + 1] = scd(c.summary)
      out[#out + 1] = ""
      scd_options(out, c.options)
    end
  end
  out[#out + 1] = "# EXIT STATUS"
  out[#out + 1] = ""
  out[#out + 1] = h.exit
  out[#out + 1] = ""
  out[#out + 1] = "# FILES"
  out[#out + 1] = ""
  out[#out + 1] = h.files
  out[#out + 1] = ""
  out[#out + 1] = "# SEE ALSO"
  out[#out + 1] = ""
  out[#out + 1] = h.see
  return table.concat(out, "\n") .. "\n"
end

-- ---------------------------------------------------------------- completions

-- Every option word of a list of options (hidden ones too: they work).
local function words_of(opts)
  local w = {}
  for _, o in ipairs(opts) do
    for _, n in ipairs(o.names) do w[#w + 1] = n end
  end
  return w
end

-- Options that take a value (their next word is not an option or operand).
local function valued(opts)
  local w = {}
  for _, o in ipairs(opts) do
    if o.arg ~= "" and o.arg:sub(1, 1) ~= "=" and o.arg:sub(1, 1) ~= "[" then
      for _, n in ipairs(o.names) do w[#w + 1] = n end
    end
  end
  return w
end

-- A single-quoted shell word.
local function sq(s)
  return "'" .. s:gsub("'", "'\\''") .. "'"
end

local CONTAINERS_SH = [[
# container ids and names, from `nslua ps --json` (the program completed)
_nslua_containers() {
  command "$1" ps --json 2>/dev/null | grep -o '"\(id\|name\)":"[^"]*"' | cut -d'"' -f4
}]]

--- bash completion for nslua and nslua-oci.
function M.bash()
  local subs = M.subcommands()
  local oci = M.oci()
  local out = { "# bash completion for nslua and nslua-oci (generated by scripts/gen-cli-doc: do not edit)",
                CONTAINERS_SH, "" }
  local names = {}
  for _, s in ipairs(subs) do names[#names + 1] = s.name end
  out[#out + 1] = "_nslua_oci_words() {"
  out[#out + 1] = "  case $1 in"
  out[#out + 1] = "    '') echo " .. sq(table.concat(words_of(oci.global), " ")) .. " ;;"
  for _, c in ipairs(oci.commands) do
    out[#out + 1] = ("    %s) echo %s ;;"):format(c.name, sq(table.concat(words_of(c.options), " ")))
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "}"
  out[#out + 1] = ""
  local cmds = {}
  for _, c in ipairs(oci.commands) do cmds[#cmds + 1] = c.name end
  out[#out + 1] = ([==[
# nslua-oci's words from index $1 on: global options, a command, its options
_nslua_oci_complete() {
  local first=$1 cur=${COMP_WORDS[COMP_CWORD]} cmd= i
  for ((i = first; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      -*) ;;
      *) case " %s " in *" ${COMP_WORDS[i]} "*) cmd=${COMP_WORDS[i]}; break ;; esac ;;
    esac
  done
  if [[ $cur == -* ]]; then
    mapfile -t COMPREPLY < <(compgen -W "$(_nslua_oci_words "$cmd")" -- "$cur")
  elif [[ -z $cmd ]]; then
    mapfile -t COMPREPLY < <(compgen -W %s -- "$cur")
  fi
}
]==]):format(table.concat(cmds, " "), sq(table.concat(cmds, " ") .. " help"))
  out[#out + 1] = "_nslua() {"
  out[#out + 1] = "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub opts= valued= i"
  out[#out + 1] = "  COMPREPLY=()"
  out[#out + 1] = "  if ((COMP_CWORD == 1)); then"
  out[#out + 1] = "    mapfile -t COMPREPLY < <(compgen -W " .. sq(table.concat(names, " ")
    .. " help --help --version " .. table.concat(M.recipes(), " ")) .. " -- \"$cur\")"
  out[#out + 1] = "    return 0  # (and, by -o default, recipe files)"
  out[#out + 1] = "  fi"
  out[#out + 1] = "  sub=${COMP_WORDS[1]}"
  out[#out + 1] = "  [[ $sub == oci ]] && { _nslua_oci_complete 2; return 0; }"
  out[#out + 1] = "  [[ $sub == help ]] && { ((COMP_CWORD == 2)) && mapfile -t COMPREPLY < <(compgen -W "
    .. sq(table.concat(names, " ")) .. " -- \"$cur\"); return 0; }"
  out[#out + 1] = "  # after --: the command's own completion (bash-completion's _command_offset), else files"
  out[#out + 1] = "  for ((i = 2; i < COMP_CWORD; i++)); do"
  out[#out + 1] = "    if [[ ${COMP_WORDS[i]} == -- ]]; then"
  out[#out + 1] = "      declare -F _command_offset >/dev/null && _command_offset $((i + 1))"
  out[#out + 1] = "      return 0"
  out[#out + 1] = "    fi"
  out[#out + 1] = "  done"
  out[#out + 1] = "  case $sub in"
  for _, s in ipairs(subs) do
    if s.name ~= "oci" then
      out[#out + 1] = ("    %s) opts=%s"):format(s.name, sq(table.concat(words_of(s.options), " ")))
      out[#out + 1] = ("      valued=%s ;;"):format(sq(" " .. table.concat(valued(s.options), " ") .. " "))
    end
  end
  out[#out + 1] = "    *) return 0 ;;"
  out[#out + 1] = "  esac"
  out[#out + 1] = "  # an option's value: files (-o default)"
  out[#out + 1] = "  [[ $valued == *\" $prev \"* ]] && return 0"
  out[#out + 1] = "  if [[ $cur == -* ]]; then"
  out[#out + 1] = "    mapfile -t COMPREPLY < <(compgen -W \"$opts\" -- \"$cur\")"
  out[#out + 1] = "    return 0"
  out[#out + 1] = "  fi"
  for _, s in ipairs(subs) do
    if s.operand == "container" then
      out[#out + 1] = ("  if [[ $sub == %s ]]; then"):format(s.name)
      out[#out + 1] = "    # the first operand: a running container"
      out[#out + 1] = "    local n=0"
      out[#out + 1] = "    for ((i = 2; i < COMP_CWORD; i++)); do"
      out[#out + 1] = [=[      case ${COMP_WORDS[i]} in -*) ;; *) [[ $valued == *" ${COMP_WORDS[i-1]} "* ]] ||]=]
        .. " n=$((n + 1)) ;; esac"
      out[#out + 1] = "    done"
      out[#out + 1] = "    ((n == 0)) && mapfile -t COMPREPLY < <(compgen -W "
        .. [["$(_nslua_containers "${COMP_WORDS[0]}")" -- "$cur")]]
      out[#out + 1] = "  fi"
    end
    if s.words then
      out[#out + 1] = ("  [[ $sub == %s ]] && ((COMP_CWORD == 2)) && "
        .. "mapfile -t COMPREPLY < <(compgen -W %s -- \"$cur\")"):format(s.name, sq(table.concat(s.words, " ")))
    end
  end
  out[#out + 1] = "  return 0"
  out[#out + 1] = "}"
  out[#out + 1] = "_nslua_oci() { _nslua_oci_complete 1; }"
  out[#out + 1] = "complete -o default -F _nslua nslua"
  out[#out + 1] = "complete -o default -F _nslua_oci nslua-oci"
  return table.concat(out, "\n") .. "\n"
end

-- "name:description" for zsh's _describe (colons in the name escaped).
local function zdesc(name, help)
  return sq(name:gsub(":", "\\:") .. ":" .. help:gsub("\n", " "))
end

local function zsh_opts(out, indent, opts)
  for _, o in ipairs(opts) do
    for _, n in ipairs(o.names) do out[#out + 1] = indent .. zdesc(n, o.help) end
  end
end

--- zsh completion (#compdef nslua nslua-oci).
function M.zsh()
  local subs = M.subcommands()
  local oci = M.oci()
  local out = { "#compdef nslua nslua-oci",
                "# zsh completion for nslua and nslua-oci (generated by scripts/gen-cli-doc: do not edit)",
                "", CONTAINERS_SH, "" }
  out[#out + 1] = "# nslua-oci's words from index $1 of $words on"
  out[#out + 1] = "_nslua_oci_complete() {"
  out[#out + 1] = "  local first=$1 cmd= i"
  out[#out + 1] = "  local -a opts cmds"
  out[#out + 1] = "  cmds=("
  for _, c in ipairs(oci.commands) do out[#out + 1] = "    " .. zdesc(c.name, c.summary) end
  out[#out + 1] = "  )"
  out[#out + 1] = "  for ((i = first; i < CURRENT; i++)); do"
  out[#out + 1] = "    [[ ${words[i]} == -* ]] && continue"
  out[#out + 1] = "    (( ${cmds[(I)${words[i]}:*]} )) && { cmd=${words[i]}; break; }"
  out[#out + 1] = "  done"
  out[#out + 1] = "  case $cmd in"
  out[#out + 1] = "    '') opts=("
  zsh_opts(out, "      ", oci.global)
  out[#out + 1] = "    ) ;;"
  for _, c in ipairs(oci.commands) do
    out[#out + 1] = ("    %s) opts=("):format(c.name)
    zsh_opts(out, "      ", c.options)
    out[#out + 1] = "    ) ;;"
  end
  out[#out + 1] = "  esac"
  out[#out + 1] = "  if [[ $PREFIX == -* ]]; then _describe -t options option opts"
  out[#out + 1] = "  elif [[ -z $cmd ]]; then _describe -t commands command cmds"
  out[#out + 1] = "  else _files; fi"
  out[#out + 1] = "}"
  out[#out + 1] = ""
  out[#out + 1] = "_nslua() {"
  out[#out + 1] = "  local -a subs opts valued"
  out[#out + 1] = "  local sub i n"
  out[#out + 1] = "  if [[ $service == nslua-oci ]]; then _nslua_oci_complete 2; return; fi"
  out[#out + 1] = "  subs=("
  for _, s in ipairs(subs) do out[#out + 1] = "    " .. zdesc(s.name, s.summary) end
  out[#out + 1] = "  )"
  out[#out + 1] = "  if ((CURRENT == 2)); then"
  out[#out + 1] = "    local -a recipes; recipes=(" .. table.concat(M.recipes(), " ") .. ")"
  out[#out + 1] = "    _describe -t commands 'nslua subcommand' subs"
  out[#out + 1] = "    _describe -t recipes 'built-in recipe' recipes; _files; return"
  out[#out + 1] = "  fi"
  out[#out + 1] = "  sub=${words[2]}"
  out[#out + 1] = "  if [[ $sub == oci ]]; then _nslua_oci_complete 3; return; fi"
  out[#out + 1] = "  # after --: the command"
  out[#out + 1] = "  i=${words[(i)--]}"
  out[#out + 1] = "  if ((i < CURRENT)); then"
  out[#out + 1] = "    shift $((i)) words; ((CURRENT -= i)); _normal; return"
  out[#out + 1] = "  fi"
  out[#out + 1] = "  case $sub in"
  for _, s in ipairs(subs) do
    if s.name ~= "oci" then
      out[#out + 1] = ("    %s) opts=("):format(s.name)
      zsh_opts(out, "      ", s.options)
      out[#out + 1] = "    )"
      local v = valued(s.options)
      out[#out + 1] = "      valued=(" .. (#v > 0 and (" " .. table.concat(v, " ") .. " ") or "") .. ") ;;"
    end
  end
  out[#out + 1] = "    *) _files; return ;;"
  out[#out + 1] = "  esac"
  out[#out + 1] = "  if (( ${valued[(I)${words[CURRENT-1]}]} )); then _files; return; fi"
  out[#out + 1] = "  if [[ $PREFIX == -* ]]; then _describe -t options option opts; return; fi"
  for _, s in ipairs(subs) do
    if s.operand == "container" then
      out[#out + 1] = ("  if [[ $sub == %s ]]; then"):format(s.name)
      out[#out + 1] = "    n=0"
      out[#out + 1] = "    for ((i = 3; i < CURRENT; i++)); do"
      out[#out + 1] = "      [[ ${words[i]} == -* ]] || (( ${valued[(I)${words[i-1]}]} )) || ((n++))"
      out[#out + 1] = "    done"
      out[#out + 1] = "    if ((n == 0)); then"
      out[#out + 1] = "      local -a names; names=(${(f)\"$(_nslua_containers ${words[1]})\"})"
      out[#out + 1] = "      compadd -a names; return"
      out[#out + 1] = "    fi"
      out[#out + 1] = "  fi"
    end
    if s.words then
      out[#out + 1] = ("  if [[ $sub == %s ]] && ((CURRENT == 3)); then compadd %s; return; fi")
        :format(s.name, table.concat(s.words, " "))
    end
  end
  out[#out + 1] = "  _files"
  out[#out + 1] = "}"
  out[#out + 1] = ""
  out[#out + 1] = "_nslua \"$@\""
  return table.concat(out, "\n") .. "\n"
end

-- fish's -s/-l/-o switches for an option's names.
local function fish_names(o)
  local parts = {}
  for _, n in ipairs(o.names) do
    local long = n:match("^%-%-(.+)$")
    if long then
      parts[#parts + 1] = "-l " .. sq(long)
    elseif #n == 2 then
      parts[#parts + 1] = "-s " .. sq(n:sub(2))
    else
      parts[#parts + 1] = "-o " .. sq(n:sub(2))
    end
  end
  return table.concat(parts, " ")
end

local function fish_help(s)
  return sq((s:gsub("\n", " ")))
end

--- fish completion for nslua and nslua-oci.
function M.fish()
  local subs = M.subcommands()
  local oci = M.oci()
  local out = { "# fish completion for nslua and nslua-oci (generated by scripts/gen-cli-doc: do not edit)",
                "# container ids and names, from `nslua ps --json` (the program completed)",
                "function __nslua_containers",
                "    set -l w (commandline -opc)",
                "    command $w[1] ps --json 2>/dev/null | string match -ar " .. sq([["(?:id|name)":"[^"]*"]])
                  .. " | string replace -r " .. sq([[^"(?:id|name)":"(.*)"$]]) .. " '$1'",
                "end",
                "# true after a `--`: the words are the command's",
                "function __nslua_after_dashdash",
                "    set -l w (commandline -opc)",
                "    contains -- -- $w[3..-1]",
                "end",
                "# the command's own completion, for the words after the `--`",
                "function __nslua_command",
                "    set -l w (commandline -opc) (commandline -ct)",
                "    set -l i (contains -i -- -- $w[3..-1])",
                "    __fish_complete_subcommand --commandline $w[(math $i + 3)..-1]",
                "end",
                "# true when the subcommand (the first word after the program) is $argv[1]",
                "# and no `--` came yet",
                "function __nslua_sub",
                "    set -l w (commandline -opc)",
                "    test (count $w) -ge 2; and test \"$w[2]\" = \"$argv[1]\"; and not __nslua_after_dashdash",
                "end",
                "function __nslua_no_sub",
                "    test (count (commandline -opc)) -eq 1",
                "end",
                "# exec's first operand: no word after `exec` yet that is not an option",
                "function __nslua_exec_target",
                "    set -l w (commandline -opc)",
                "    __nslua_sub exec; or return 1",
                "    for a in $w[3..-1]",
                "        string match -q -- '-*' $a; or return 1",
                "    end",
                "end",
                "complete -c nslua -f",
              }
  for _, s in ipairs(subs) do
    out[#out + 1] = ("complete -c nslua -n __nslua_no_sub -a %s -d %s"):format(s.name, fish_help(s.summary))
  end
  for _, r in ipairs(M.recipes()) do
    out[#out + 1] = ("complete -c nslua -n __nslua_no_sub -a %s -d 'built-in recipe'"):format(sq(r))
  end
  out[#out + 1] = "complete -c nslua -n __nslua_no_sub -F"
  out[#out + 1] = "complete -c nslua -n __nslua_after_dashdash -a '(__nslua_command)'"
  for _, s in ipairs(subs) do
    if s.name ~= "oci" then
      for _, o in ipairs(s.options) do
        out[#out + 1] = ("complete -c nslua -n '__nslua_sub %s' %s%s -d %s"):format(s.name, fish_names(o),
          o.arg ~= "" and " -r -F" or "", fish_help(o.help))
      end
    end
    if s.operand == "container" then
      out[#out + 1] = "complete -c nslua -n __nslua_exec_target -a '(__nslua_containers)'"
    end
    if s.words then
      for _, w in ipairs(s.words) do
        out[#out + 1] = ("complete -c nslua -n '__nslua_sub %s' -a %s"):format(s.name, w)
      end
    end
  end
  for _, prog in ipairs { { "nslua-oci", "" }, { "nslua", "__nslua_sub oci; and " } } do
    local c, pre = prog[1], prog[2]
    local cmds = {}
    for _, k in ipairs(oci.commands) do cmds[#cmds + 1] = k.name end
    local cmdlist = table.concat(cmds, " ")
    if c == "nslua-oci" then out[#out + 1] = "complete -c nslua-oci -f" end
    for _, o in ipairs(oci.global) do
      out[#out + 1] = ("complete -c %s -n %s %s%s -d %s"):format(c, sq(pre .. "not __fish_seen_subcommand_from "
        .. cmdlist), fish_names(o), o.arg ~= "" and " -r" or "", fish_help(o.help))
    end
    for _, k in ipairs(oci.commands) do
      out[#out + 1] = ("complete -c %s -n %s -a %s -d %s"):format(c, sq(pre .. "not __fish_seen_subcommand_from "
        .. cmdlist), k.name, fish_help(k.summary))
      for _, o in ipairs(k.options) do
        out[#out + 1] = ("complete -c %s -n %s %s%s -d %s"):format(c, sq(pre .. "__fish_seen_subcommand_from "
          .. k.name), fish_names(o), o.arg ~= "" and " -r -F" or "", fish_help(o.help))
      end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
