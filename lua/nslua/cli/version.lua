--- nslua.cli.version: `nslua --version [--verbose]` and `nslua version
-- [--verbose]`: the version; verbose, the libraries' versions and the
-- kernel's release and features as nslua doctor probes them
-- (nslua.cli.doctor.feature_checks: no probe of its own).
local main = require "nslua.cli.main"

local M = {}

--- The options of `nslua version`: { name, {ARGS}, help }, the one table
-- its parser, its help and docs/cli.md (nslua.cli.doc) read.
M.OPTIONS = {
  { "--verbose", {}, "also the libraries' versions and the kernel's features" },
  { "-v", {}, "the same as --verbose" },
}
M.USAGE = "nslua --version [--verbose] | nslua version [--verbose]"
M.DESCRIPTION = [[
Print nslua's version; --verbose (-v) adds the versions of Lua, libseccomp
(run time and build time), libmnl and libcap (build time), and the
kernel's release, user namespaces, idmapped mounts, Landlock ABI and
cgroup layout as nslua doctor probes them.]]

local USAGE = "Usage: " .. M.USAGE .. "\n\n" .. M.DESCRIPTION

--- The text: "nslua VERSION", and with 'verbose' one "name  value" line
-- per library and per kernel feature (doctor's rows as "verdict: detail").
function M.text(verbose)
  local core = require "nslua.core"
  local lines = { "nslua " .. core._VERSION }
  if not verbose then return lines[1] end
  local built = core._BUILD or {}
  local function known(v) return (v and v ~= "") and v or "unknown" end
  local fmt = "%-16s %s"
  lines[#lines + 1] = fmt:format("lua", _VERSION:match("%d[%d.]*") or _VERSION)
  lines[#lines + 1] = fmt:format("libseccomp", ("%s (built with %s)")
    :format(core.seccomp.version(), known(built.libseccomp)))
  lines[#lines + 1] = fmt:format("libmnl", known(built.libmnl) .. " (at build time)")
  lines[#lines + 1] = fmt:format("libcap", known(built.libcap) .. " (at build time)")
  for _, r in ipairs(require("nslua.cli.doctor").feature_checks()) do
    lines[#lines + 1] = fmt:format(r.check, ("%s: %s"):format(r.verdict, r.detail))
  end
  return table.concat(lines, "\n")
end

--- main(args [, how]) -> exit code; 'how' names the command in messages
-- ("version", or "--version" when main answers that option).
function M.main(args, how)
  how = how or "version"
  local verbose = false
  for k = 1, args.n or #args do
    local a = args[k]
    if a == "--verbose" or a == "-v" then
      verbose = true
    elseif a == "--help" or a == "-h" then
      print(USAGE)
      return 0
    else
      main.usage_error(("%s: unknown argument '%s' (usage: nslua --version [--verbose])"):format(how, a))
    end
  end
  print(M.text(verbose))
  return 0
end

return M
