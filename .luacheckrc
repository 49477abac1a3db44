-- luacheck configuration for `make lint` (Debian's lua-check).
-- Everything is Lua 5.4; the specs run under busted and use its globals
-- (describe, it, assert, pending, ...).  No file sets a global: recipes
-- get their arguments as `...` and the CLI sets `arg` through _G.
-- Lines of code and comments stay within 120 columns; a line inside a long
-- string is data (a mountinfo sample, a script) and may be longer.  An
-- unused implicit `self` is a method that does not need its object yet.
std = "lua54"
max_line_length = 120
max_string_line_length = false
self = false
include_files = {
  "lua/**/*.lua", "spec/**/*.lua", "scripts/nslua", "scripts/bench/*.lua", "scripts/fuzz/*.lua",
  "examples/*.lua", "scripts/gen-cli-doc", "scripts/luac",
  ".luacheckrc", ".busted",
}
files["spec/**/*.lua"] = { std = "+busted" }
files[".luacheckrc"] = {
  globals = { "std", "max_line_length", "max_string_line_length", "self", "include_files", "files" },
}
