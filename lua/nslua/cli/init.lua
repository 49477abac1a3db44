--- nslua.cli: the `nslua` command; require("nslua.cli").main(argv) is what
-- the launcher calls (nslua.cli.main dispatches to one module per subcommand).
return require "nslua.cli.main"
